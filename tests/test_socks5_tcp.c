/* SPDX-License-Identifier: MIT */
/*
 * socks5_tcp against tests/support/fake_socks5's scripted CONNECT server on 127.0.0.1,
 * on the test's own loop: replies split byte by byte or coalesced with stream data,
 * every failure class, and that bytes following the reply stay on the handed-over socket.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>
#include <ev.h>

#include "socks5_proto.h"
#include "socks5_tcp.h"
#include "support/fake_socks5.h"
#include "support/loop.h"
#include "support/socks5_outcome.h"

/*
 * Runs one handshake against server (the fake's, or a refused one) on loop; fails the
 * test if it never finishes.
 */
static void
run_handshake(struct ev_loop *loop, const struct socks5_server *server, const char *user, const char *pass,
	      struct socks5_outcome *o)
{
	struct socks5_server s = *server;

	s.user = user;
	s.pass = pass;
	socks5_outcome_connect(o, loop, &s);
}

/* A loop and the fake server on it, answering with script. */
struct server {
	struct ev_loop *loop;
	struct fake_socks5 *fake;
};

static void
server_start(struct server *s, enum fake_socks5_script script)
{
	s->loop = ev_loop_new(EVFLAG_AUTO);
	assert_non_null(s->loop);
	s->fake = fake_socks5_new(s->loop);
	fake_socks5_set_script(s->fake, script);
}

static void
handshake(struct server *s, const char *user, const char *pass, struct socks5_outcome *o)
{
	run_handshake(s->loop, fake_socks5_server(s->fake), user, pass, o);
}

/* Reads want bytes the server sent after its reply, at most 5 s of loop time. */
static void
read_after_reply(struct server *s, int fd, const char *want)
{
	char data[16] = {0};
	size_t n = 0, len = strlen(want);

	for (int i = 0; i < 500 && n < len; i++) {
		ssize_t r = recv(fd, data + n, sizeof(data) - 1 - n, MSG_DONTWAIT);

		if (r > 0)
			n += (size_t)r;
		else
			loop_run_for(s->loop, 0.01);
	}
	assert_string_equal(data, want);
}

/* The client's side is closed: the server sees the end of every connection. */
static void
finish_server(struct server *s)
{
	assert_true(fake_socks5_wait_closed(s->fake, 5.0));
	fake_socks5_free(s->fake);
	ev_loop_destroy(s->loop);
}

/* After FAKE_SOCKS5_SCRIPT_OK_SPLIT: the CONNECT succeeded, the proxy saw the request
 * for 198.19.0.10:80, and the banner behind the reply stayed on the socket. */
static void
assert_ok_split(struct server *s, struct socks5_outcome *o)
{
	static const uint8_t expect_req[] = {5, 1, 0, 1, 198, 19, 0, 10, 0, 80};
	const uint8_t *req;
	size_t req_len;

	assert_int_equal(o->res.failure, SOCKS5_TCP_OK);
	assert_int_equal(o->res.err, 0);
	assert_true(o->fd >= 0);
	/* The server-first bytes after the reply were not swallowed by the handshake. */
	read_after_reply(s, o->fd, "BANNER");
	close(o->fd);
	req = fake_socks5_script_request(s->fake, &req_len);
	assert_int_equal(req_len, sizeof(expect_req));
	assert_memory_equal(req, expect_req, sizeof(expect_req));
	finish_server(s);
}

static void
test_success_split_reply_keeps_banner(void **state)
{
	struct server s;
	struct socks5_outcome o;

	(void)state;
	server_start(&s, FAKE_SOCKS5_SCRIPT_OK_SPLIT);
	handshake(&s, NULL, NULL, &o);
	assert_ok_split(&s, &o);
}

static void
test_success_with_auth(void **state)
{
	struct server s;
	struct socks5_outcome o;

	(void)state;
	server_start(&s, FAKE_SOCKS5_SCRIPT_OK_AUTH);
	handshake(&s, "user", "secret", &o);
	assert_int_equal(o.res.failure, SOCKS5_TCP_OK);
	close(o.fd);
	assert_true(fake_socks5_script_auth_seen(s.fake));
	finish_server(&s);
}

static void
test_auth_rejected(void **state)
{
	struct server s;
	struct socks5_outcome o;

	(void)state;
	server_start(&s, FAKE_SOCKS5_SCRIPT_AUTH_REJECT);
	handshake(&s, "user", "secret", &o);
	assert_int_equal(o.res.failure, SOCKS5_TCP_PROXY_AUTH);
	assert_int_equal(o.res.err, -EACCES);
	assert_int_equal(o.res.method, SOCKS5_METHOD_USERPASS);
	assert_int_equal(o.fd, -1);
	finish_server(&s);
}

static void
test_no_acceptable_method(void **state)
{
	struct server s;
	struct socks5_outcome o;

	(void)state;
	server_start(&s, FAKE_SOCKS5_SCRIPT_NO_METHOD);
	handshake(&s, NULL, NULL, &o);
	assert_int_equal(o.res.failure, SOCKS5_TCP_PROXY_AUTH);
	finish_server(&s);
}

static void
test_target_refused(void **state)
{
	struct server s;
	struct socks5_outcome o;

	(void)state;
	server_start(&s, FAKE_SOCKS5_SCRIPT_REP_REFUSED);
	handshake(&s, NULL, NULL, &o);
	assert_int_equal(o.res.failure, SOCKS5_TCP_TARGET);
	assert_int_equal(o.res.rep, SOCKS5_REP_CONN_REFUSED);
	assert_int_equal(o.res.err, -ECONNREFUSED);
	finish_server(&s);
}

static void
test_close_after_greeting(void **state)
{
	struct server s;
	struct socks5_outcome o;

	(void)state;
	server_start(&s, FAKE_SOCKS5_SCRIPT_CLOSE_AFTER_GREETING);
	handshake(&s, NULL, NULL, &o);
	assert_int_equal(o.res.failure, SOCKS5_TCP_PROXY_PROTOCOL);
	assert_true(o.res.err < 0);
	finish_server(&s);
}

static void
test_garbage(void **state)
{
	struct server s;
	struct socks5_outcome o;

	(void)state;
	server_start(&s, FAKE_SOCKS5_SCRIPT_GARBAGE);
	handshake(&s, NULL, NULL, &o);
	assert_int_equal(o.res.failure, SOCKS5_TCP_PROXY_PROTOCOL);
	assert_int_equal(o.res.err, -EPROTO);
	finish_server(&s);
}

static void
test_domain_reply_coalesced_with_stream(void **state)
{
	struct server s;
	struct socks5_outcome o;

	(void)state;
	server_start(&s, FAKE_SOCKS5_SCRIPT_DOMAIN_REPLY);
	handshake(&s, NULL, NULL, &o);
	assert_int_equal(o.res.failure, SOCKS5_TCP_OK);
	read_after_reply(&s, o.fd, "STREAM");
	close(o.fd);
	finish_server(&s);
}

static void
test_proxy_unreachable(void **state)
{
	struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
	struct socks5_server refused;
	struct socks5_outcome o;

	(void)state;
	fake_socks5_refused_server(&refused);
	run_handshake(loop, &refused, NULL, NULL, &o);
	assert_int_equal(o.res.failure, SOCKS5_TCP_PROXY_UNREACHABLE);
	assert_int_equal(o.res.err, -ECONNREFUSED);
	ev_loop_destroy(loop);
}

static void
guard_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)loop;
	(void)w;
	(void)revents;
}

/*
 * The refusal (found by the first write, inside socks5_tcp_new) is reported by a real
 * event: one EVRUN_ONCE iteration, as `tun2socks check` runs its loop, reports it and
 * returns, instead of blocking until some other event (the 5 s guard here).
 */
static void
test_proxy_unreachable_one_iteration(void **state)
{
	struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
	struct socks5_server refused;
	struct socks5_outcome o;
	ev_timer guard;

	(void)state;
	fake_socks5_refused_server(&refused);
	socks5_outcome_start(&o, loop, &refused);
	ev_timer_init(&guard, guard_cb, 5.0, 0);
	ev_timer_start(loop, &guard);
	ev_run(loop, EVRUN_ONCE);
	assert_int_equal(o.done, 1);
	assert_true(ev_is_active(&guard)); /* returned before the guard expired */
	ev_timer_stop(loop, &guard);
	assert_int_equal(o.res.failure, SOCKS5_TCP_PROXY_UNREACHABLE);
	assert_int_equal(o.res.err, -ECONNREFUSED);
	ev_loop_destroy(loop);
}

/*
 * A proxy whose accept queue is full drops the SYN, so the connection is still in
 * SYN_SENT when the session tries its first write right after connect(): that write
 * must take nothing and fail nothing; the greeting goes out once the SYN's retransmission
 * (about 1 s later) gets through, and the handshake completes as usual.
 */
static void
test_connect_still_in_progress(void **state)
{
	struct server s;
	struct socks5_outcome o;

	(void)state;
	server_start(&s, FAKE_SOCKS5_SCRIPT_OK_SPLIT);
	fake_socks5_fill_backlog(s.fake);
	socks5_outcome_start(&o, s.loop, fake_socks5_server(s.fake));
	loop_run_for(s.loop, 0.05);
	assert_int_equal(o.done, 0);
	fake_socks5_free_backlog(s.fake);
	for (int i = 0; i < 500 && o.done == 0; i++)
		loop_run_for(s.loop, 0.01);
	assert_int_equal(o.done, 1);
	assert_ok_split(&s, &o);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_success_split_reply_keeps_banner),
		cmocka_unit_test(test_success_with_auth),
		cmocka_unit_test(test_auth_rejected),
		cmocka_unit_test(test_no_acceptable_method),
		cmocka_unit_test(test_target_refused),
		cmocka_unit_test(test_close_after_greeting),
		cmocka_unit_test(test_garbage),
		cmocka_unit_test(test_domain_reply_coalesced_with_stream),
		cmocka_unit_test(test_proxy_unreachable),
		cmocka_unit_test(test_proxy_unreachable_one_iteration),
		cmocka_unit_test(test_connect_still_in_progress),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
