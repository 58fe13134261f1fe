/* SPDX-License-Identifier: MIT */
/*
 * The notification protocol by hand (sd_notify.c) and what the service tells systemd
 * when (service.c): the address forms, the watchdog variables, the state machine's
 * messages, and the service on a loop against a datagram listener of the test's own and
 * the in-loop fake SOCKS5 server: READY=1 only after the proxy answered, or after the
 * ready timeout with a STATUS saying it did not.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "log.h"
#include "sd_notify.h"
#include "service.h"
#include "support/fake_socks5.h"
#include "support/loop.h"

static void
addr_forms(void **state)
{
	struct sockaddr_un sa;
	socklen_t len;
	char longname[200];

	(void)state;
	assert_int_equal(sd_notify_addr("/run/systemd/notify", &sa, &len), 0);
	assert_string_equal(sa.sun_path, "/run/systemd/notify");
	assert_int_equal(len, offsetof(struct sockaddr_un, sun_path) + strlen("/run/systemd/notify") + 1);
	/* Abstract: '@' is the leading NUL, and the length counts the name exactly. */
	assert_int_equal(sd_notify_addr("@t2s-notify", &sa, &len), 0);
	assert_int_equal(sa.sun_path[0], '\0');
	assert_memory_equal(sa.sun_path + 1, "t2s-notify", 10);
	assert_int_equal(len, offsetof(struct sockaddr_un, sun_path) + 11);
	assert_int_equal(sd_notify_addr("", &sa, &len), -EINVAL);
	assert_int_equal(sd_notify_addr("@", &sa, &len), -EINVAL);
	assert_int_equal(sd_notify_addr("relative/path", &sa, &len), -EINVAL);
	assert_int_equal(sd_notify_addr(NULL, &sa, &len), -EINVAL);
	memset(longname, 'a', sizeof(longname));
	longname[0] = '/';
	longname[sizeof(longname) - 1] = '\0';
	assert_int_equal(sd_notify_addr(longname, &sa, &len), -ENAMETOOLONG);
	/* sun_path is 108 bytes: a path of 107 and its NUL fit, one of 108 does not; an
	 * abstract name has no NUL, so '@' and 107 more fit. */
	longname[107] = '\0';
	assert_int_equal(sd_notify_addr(longname, &sa, &len), 0);
	longname[107] = 'a';
	longname[108] = '\0';
	assert_int_equal(sd_notify_addr(longname, &sa, &len), -ENAMETOOLONG);
	longname[0] = '@';
	assert_int_equal(sd_notify_addr(longname, &sa, &len), 0);
	assert_int_equal(len, sizeof(struct sockaddr_un));
	longname[108] = 'a';
	longname[109] = '\0';
	assert_int_equal(sd_notify_addr(longname, &sa, &len), -ENAMETOOLONG);
}

static void
watchdog_vars(void **state)
{
	uint64_t usec = 0;

	(void)state;
	assert_int_equal(sd_notify_watchdog(NULL, NULL, 42, &usec), 0);
	assert_int_equal(sd_notify_watchdog("", NULL, 42, &usec), 0);
	assert_int_equal(sd_notify_watchdog("30000000", NULL, 42, &usec), 1);
	assert_int_equal(usec, 30000000);
	assert_int_equal(sd_notify_watchdog("20000000", "42", 42, &usec), 1);
	assert_int_equal(usec, 20000000);
	assert_int_equal(sd_notify_watchdog("20000000", "43", 42, &usec), 0); /* another process's */
	assert_int_equal(sd_notify_watchdog("0", NULL, 42, &usec), -EINVAL);
	assert_int_equal(sd_notify_watchdog("-5", NULL, 42, &usec), -EINVAL);
	assert_int_equal(sd_notify_watchdog("12x", NULL, 42, &usec), -EINVAL);
	assert_int_equal(sd_notify_watchdog("100", "pid", 42, &usec), -EINVAL);
}

static void
journal_stream(void **state)
{
	(void)state;
	assert_true(log_journal_stream_matches("8:12345", 8, 12345));
	assert_false(log_journal_stream_matches("8:12345", 8, 12346));
	assert_false(log_journal_stream_matches("9:12345", 8, 12345));
	assert_false(log_journal_stream_matches("8:12345x", 8, 12345));
	assert_false(log_journal_stream_matches("8", 8, 12345));
	assert_false(log_journal_stream_matches("", 8, 12345));
	assert_false(log_journal_stream_matches(NULL, 8, 12345));
	assert_int_equal(log_syslog_priority(LOG_LEVEL_ERROR), 3);
	assert_int_equal(log_syslog_priority(LOG_LEVEL_WARN), 4);
	assert_int_equal(log_syslog_priority(LOG_LEVEL_INFO), 6);
	assert_int_equal(log_syslog_priority(LOG_LEVEL_DEBUG), 7);
}

static void
state_proxy_first(void **state)
{
	struct service_state st = {0};
	char msg[256];

	(void)state;
	/* The proxy answered before the TUN was up: nothing yet; READY with the TUN. */
	assert_int_equal(service_state_proxy(&st, true, "p:1080", NULL, 3, msg, sizeof(msg)), 0);
	assert_true(service_state_tun_up(&st, msg, sizeof(msg)) > 0);
	assert_non_null(strstr(msg, "READY=1\n"));
	assert_true(st.ready);
	assert_int_equal(service_state_timeout(&st, "p:1080", 30, msg, sizeof(msg)), 0);
}

static void
state_tun_first(void **state)
{
	struct service_state st = {0};
	char msg[256];

	(void)state;
	assert_true(service_state_tun_up(&st, msg, sizeof(msg)) > 0);
	assert_null(strstr(msg, "READY=1"));
	assert_non_null(strstr(msg, "STATUS="));
	/* A failing probe before the timeout says nothing: READY waits. */
	assert_int_equal(service_state_proxy(&st, false, "p:1080", "connection refused", 0, msg, sizeof(msg)), 0);
	assert_false(st.ready);
	assert_true(service_state_proxy(&st, true, "p:1080", NULL, 12, msg, sizeof(msg)) > 0);
	assert_string_equal(msg, "READY=1\nSTATUS=ready: proxy p:1080 answered (12 ms)");
	/* Once ready: STATUS on each change, and only on a change. */
	assert_int_equal(service_state_proxy(&st, true, "p:1080", NULL, 12, msg, sizeof(msg)), 0);
	assert_true(service_state_proxy(&st, false, "p:1080", "connection refused", 0, msg, sizeof(msg)) > 0);
	assert_string_equal(msg, "STATUS=proxy p:1080 does not answer: connection refused; new connections fail "
				 "until it does");
	assert_int_equal(service_state_proxy(&st, false, "p:1080", "connection refused", 0, msg, sizeof(msg)), 0);
	assert_true(service_state_proxy(&st, true, "p:1080", NULL, 4, msg, sizeof(msg)) > 0);
	assert_string_equal(msg, "STATUS=ready: proxy p:1080 answers again (4 ms)");
}

static void
state_timeout(void **state)
{
	struct service_state st = {0};
	char msg[256];

	(void)state;
	(void)service_state_tun_up(&st, msg, sizeof(msg));
	(void)service_state_proxy(&st, false, "p:1080", "connection refused", 0, msg, sizeof(msg));
	assert_true(service_state_timeout(&st, "p:1080", 30, msg, sizeof(msg)) > 0);
	assert_string_equal(msg, "READY=1\nSTATUS=proxy p:1080 did not answer within 30 s; running, connections go "
				 "through once it does");
	assert_int_equal(service_state_timeout(&st, "p:1080", 30, msg, sizeof(msg)), 0); /* once */
	/* The proxy coming back is a change of state. */
	assert_true(service_state_proxy(&st, true, "p:1080", NULL, 4, msg, sizeof(msg)) > 0);
	assert_non_null(strstr(msg, "answers again"));
	assert_null(strstr(msg, "READY=1"));
	/* A message never overruns its buffer. */
	assert_int_equal(service_state_proxy(&st, false, "p:1080", "x", 0, msg, 10), 9);
	assert_int_equal(strlen(msg), 9);
}

/* ---- The service on a loop. */

struct listener {
	int fd;
	char path[108];
	char got[16][256];
	unsigned n;
	ev_io io;
};

static void
listener_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct listener *l = w->data;
	ssize_t r;

	(void)loop;
	(void)revents;
	while (l->n < 16 && (r = recv(l->fd, l->got[l->n], sizeof(l->got[0]) - 1, MSG_DONTWAIT)) > 0)
		l->got[l->n++][r] = '\0';
}

static void
listener_open(struct listener *l, struct ev_loop *loop, bool abstract)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	socklen_t len;

	memset(l, 0, sizeof(*l));
	snprintf(l->path, sizeof(l->path), "%s/tmp/t2s-notify-%d", abstract ? "@" : "", (int)getpid());
	assert_int_equal(sd_notify_addr(l->path, &sa, &len), 0);
	if (!abstract)
		unlink(l->path);
	l->fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	assert_true(l->fd >= 0);
	assert_int_equal(bind(l->fd, (struct sockaddr *)&sa, len), 0);
	ev_io_init(&l->io, listener_cb, l->fd, EV_READ);
	l->io.data = l;
	ev_io_start(loop, &l->io);
}

static void
listener_close(struct listener *l, struct ev_loop *loop)
{
	ev_io_stop(loop, &l->io);
	close(l->fd);
	if (l->path[0] == '/')
		unlink(l->path);
}

/* Index of the first message containing s, or -1. */
static int
listener_find(const struct listener *l, const char *s)
{
	for (unsigned i = 0; i < l->n; i++)
		if (strstr(l->got[i], s) != NULL)
			return (int)i;
	return -1;
}

struct wait_for {
	struct listener *l;
	const char *s;
};

static bool
has_msg(void *arg)
{
	struct wait_for *w = arg;

	return listener_find(w->l, w->s) >= 0;
}

static void
ready_after_proxy_answered(void **state)
{
	struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
	struct fake_socks5 *f = fake_socks5_new(loop), *f2 = fake_socks5_new(loop);
	struct listener l;
	struct service_params p = {.loop = loop, .proxy = fake_socks5_server(f), .proxy_name = "127.0.0.1:x",
				   .ready_timeout = 30, .watchdog_usec = "200000"};
	struct wait_for ready = {&l, "READY=1"}, wd = {&l, "WATCHDOG=1"};
	struct service *s;

	(void)state;
	listener_open(&l, loop, true);
	p.notify_socket = l.path;
	s = service_new(&p);
	assert_non_null(s);
	assert_true(service_active(s));
	/* Nothing before the TUN is up, whatever the proxy says. */
	loop_run_for(loop, 0.05);
	assert_int_equal(listener_find(&l, "READY=1"), -1);
	service_tun_up(s);
	assert_true(loop_run_until(loop, has_msg, &ready, 5));
	assert_non_null(strstr(l.got[listener_find(&l, "READY=1")], "STATUS=ready: proxy 127.0.0.1:x answered"));
	assert_int_equal(fake_socks5_get_stats(f)->accepted, 1);
	/* The watchdog at half of WATCHDOG_USEC. */
	assert_true(loop_run_until(loop, has_msg, &wd, 2));
	/* A reload that switches the proxy: the new one is probed at once. */
	service_reloading(s);
	service_set_proxy(s, fake_socks5_server(f2), "127.0.0.1:y");
	service_reloaded(s, "reloaded: proxy changed");
	assert_true(loop_wait_uint(loop, &fake_socks5_get_stats(f2)->accepted, 1, 2));
	ready.s = "READY=1\nSTATUS=reloaded: proxy changed";
	assert_true(loop_run_until(loop, has_msg, &ready, 2));
	assert_true(listener_find(&l, "RELOADING=1") >= 0);
	assert_true(listener_find(&l, "RELOADING=1") < listener_find(&l, ready.s));
	service_stopping(s);
	ready.s = "STOPPING=1";
	assert_true(loop_run_until(loop, has_msg, &ready, 2));
	service_stopping(s); /* idempotent */
	service_free(s);
	listener_close(&l, loop);
	fake_socks5_free(f2);
	fake_socks5_free(f);
	ev_loop_destroy(loop);
}

static void
ready_after_timeout_when_proxy_down(void **state)
{
	struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
	struct fake_socks5 *f = fake_socks5_new(loop);
	struct listener l;
	struct service_params p = {.loop = loop, .proxy = fake_socks5_server(f), .proxy_name = "127.0.0.1:x",
				   .ready_timeout = 0.3};
	struct wait_for ready = {&l, "READY=1"};
	struct service *s;
	double t0;

	(void)state;
	/* A proxy that closes on the greeting: reachable, but not working. */
	fake_socks5_set_reply(f, FAKE_SOCKS5_REPLY_NO_GREETING);
	listener_open(&l, loop, false);
	p.notify_socket = l.path;
	s = service_new(&p);
	assert_non_null(s);
	service_tun_up(s);
	t0 = ev_time();
	assert_true(loop_run_until(loop, has_msg, &ready, 5));
	assert_true(ev_time() - t0 >= 0.25);
	assert_non_null(strstr(l.got[listener_find(&l, "READY=1")], "did not answer within 0.3 s"));
	/* It comes back: the next probe (every 2 s while failing) says so. */
	fake_socks5_set_reply(f, FAKE_SOCKS5_REPLY_OK);
	ready.s = "answers again";
	assert_true(loop_run_until(loop, has_msg, &ready, 5));
	service_free(s);
	listener_close(&l, loop);
	fake_socks5_free(f);
	ev_loop_destroy(loop);
}

static void
not_under_systemd(void **state)
{
	struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
	struct fake_socks5 *f = fake_socks5_new(loop);
	struct service_params p = {.loop = loop, .proxy = fake_socks5_server(f), .proxy_name = "x", .ready_timeout = 1};
	struct service *s = service_new(&p);

	(void)state;
	assert_non_null(s);
	assert_false(service_active(s));
	service_tun_up(s);
	loop_run_for(loop, 0.1);
	assert_int_equal(fake_socks5_get_stats(f)->accepted, 0); /* no probe at all */
	service_reloading(s);
	service_reloaded(s, NULL);
	service_stopping(s);
	service_free(s);
	/* A malformed NOTIFY_SOCKET is an error, with errno. */
	p.notify_socket = "not-a-path";
	assert_null(service_new(&p));
	assert_int_equal(errno, EINVAL);
	fake_socks5_free(f);
	ev_loop_destroy(loop);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(addr_forms),
		cmocka_unit_test(watchdog_vars),
		cmocka_unit_test(journal_stream),
		cmocka_unit_test(state_proxy_first),
		cmocka_unit_test(state_tun_first),
		cmocka_unit_test(state_timeout),
		cmocka_unit_test(ready_after_proxy_answered),
		cmocka_unit_test(ready_after_timeout_when_proxy_down),
		cmocka_unit_test(not_under_systemd),
	};

	log_set_level(LOG_LEVEL_ERROR);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
