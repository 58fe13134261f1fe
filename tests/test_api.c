/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for libtun2socks' API (tun2socks.h) without a TUN: options by name and their
 * errors, one engine per process, a run on a descriptor that is no TUN, the versioned
 * stats, the log hook, and the socket hook of redirect/sock.c.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "log.h"
#include "lwip_port.h"
#include "sock.h"
#include "tun2socks.h"

static struct t2s_conf *
conf_with_proxy(void)
{
	struct t2s_conf *c = t2s_config_new();

	assert_non_null(c);
	/* Loopback: in the run test's own empty namespace, nothing is reachable. */
	assert_int_equal(t2s_config_set(c, "proxy", "socks5://127.0.0.1:9"), 0);
	return c;
}

static void
options_by_name(void **state)
{
	struct t2s_conf *c = t2s_config_new();

	(void)state;
	assert_int_equal(t2s_config_set(c, "mtu", "1500"), 0);
	assert_int_equal(t2s_config_set(c, "udp", "dns-over-tcp"), 0);
	assert_int_equal(t2s_config_set(c, "dns", "fake-ip"), 0);
	assert_int_equal(t2s_config_set(c, "log-level", "warn"), 0);
	assert_int_equal(t2s_config_set(c, "udp-relay", "198.51.100.2:5000"), 0);
	assert_int_equal(t2s_config_set(c, "proxy-auth", "u:p"), 0);
	/* The command's own checks, with its messages. */
	assert_int_equal(t2s_config_set(c, "mtu", "99"), -EINVAL);
	assert_non_null(strstr(t2s_config_error(c), "--mtu: '99' is not in 1280..65535"));
	assert_int_equal(t2s_config_set(c, "udp", "sometimes"), -EINVAL);
	assert_non_null(strstr(t2s_config_error(c), "--udp"));
	assert_int_equal(t2s_config_set(c, "no-such-option", "1"), -EINVAL);
	assert_non_null(strstr(t2s_config_error(c), "unknown option 'no-such-option'"));
	assert_int_equal(t2s_config_set(c, "mtu", NULL), -EINVAL);
	assert_int_equal(t2s_config_set(c, "help", NULL), -EINVAL);
	assert_int_equal(t2s_config_set(c, "proxy", "ftp://x"), -EINVAL);
	assert_int_equal(t2s_config_set(c, "proxy-auth", "nocolon"), -EINVAL);
	/* The host integration belongs to the embedder. */
	assert_int_equal(t2s_config_set(c, "tun", "tun0"), -ENOTSUP);
	assert_int_equal(t2s_config_set(c, "auto-route", NULL), -ENOTSUP);
	assert_int_equal(t2s_config_set(c, "netns", "x"), -ENOTSUP);
	assert_int_equal(t2s_config_set(c, "resolved", "off"), -ENOTSUP);
	assert_int_equal(t2s_config_set(c, "user", "nobody"), -ENOTSUP);
	t2s_config_free(c);
}

/* What an HTTP or TLS proxy cannot do is refused when the engine is made, with a reason. */
static void
engine_refuses_what_the_proxy_cannot(void **state)
{
	static const struct {
		const char *proxy, *name, *value, *why;
	} cases[] = {
		{"http://127.0.0.1:3128", "udp", "associate", "relays no UDP"},
		{"http://127.0.0.1:3128", "udp-relay", "127.0.0.1:1081", "relays no UDP"},
		{"socks5+tls://127.0.0.1", "udp", "associate", "never inside TLS"},
		{"socks5://127.0.0.1", "proxy-pin", "sha256:ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0=", "need a TLS proxy"},
		{"http://127.0.0.1", "proxy-ca", "/etc/hostname", "need a TLS proxy"},
		{"https://127.0.0.1", "proxy-ca", "/nonexistent/ca.pem", "cannot load CA certificates from /nonexistent/ca.pem"},
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct t2s_conf *c = t2s_config_new();
		struct t2s_engine *e = (struct t2s_engine *)1;

		assert_int_equal(t2s_config_set(c, "proxy", cases[i].proxy), 0);
		assert_int_equal(t2s_config_set(c, cases[i].name, cases[i].value), 0);
		assert_int_equal(t2s_engine_new(c, &e), -EINVAL);
		assert_null(e);
		if (strstr(t2s_config_error(c), cases[i].why) == NULL)
			fail_msg("%s + %s %s: \"%s\" lacks \"%s\"", cases[i].proxy, cases[i].name, cases[i].value,
				 t2s_config_error(c), cases[i].why);
		t2s_config_free(c);
	}
}

static void
engine_needs_a_proxy(void **state)
{
	struct t2s_conf *c = t2s_config_new();
	struct t2s_engine *e = (struct t2s_engine *)1;

	(void)state;
	assert_int_equal(t2s_engine_new(c, &e), -EINVAL);
	assert_null(e);
	assert_non_null(strstr(t2s_config_error(c), "proxy is required"));
	assert_int_equal(t2s_config_set(c, "proxy", "socks5://user@127.0.0.1"), 0);
	assert_int_equal(t2s_engine_new(c, &e), -EINVAL);
	assert_non_null(strstr(t2s_config_error(c), "needs a password"));
	t2s_config_free(c);
}

/* A proxy given by name is looked up by the engine itself, of these servers. */
static void
proxy_by_name(void **state)
{
	struct t2s_conf *c = t2s_config_new();
	struct t2s_engine *e = NULL;

	(void)state;
	assert_int_equal(t2s_config_set(c, "proxy-resolver", NULL), -EINVAL);
	assert_int_equal(t2s_config_set(c, "proxy-resolver", ""), -EINVAL);
	assert_int_equal(t2s_config_set(c, "proxy-resolver", "ns.example"), -EINVAL);
	assert_non_null(strstr(t2s_config_error(c), "not an IP address"));
	assert_int_equal(t2s_config_set(c, "proxy-resolver", "192.0.2.53:99999"), -EINVAL);
	assert_int_equal(t2s_config_set(c, "proxy-resolver", "192.0.2.53,"), -EINVAL);
	assert_int_equal(t2s_config_set(c, "proxy-resolver", "192.0.2.53,[2001:db8::53]:5353"), 0);
	assert_int_equal(t2s_config_set(c, "proxy-resolver", "127.0.0.1"), 0);
	assert_int_equal(t2s_config_set(c, "proxy-resolver", "127.0.0.2"), -EINVAL); /* a 4th */
	assert_non_null(strstr(t2s_config_error(c), "at most 3"));
	assert_int_equal(t2s_config_set(c, "proxy", "socks5://proxy.example:1080"), 0);
	assert_int_equal(t2s_engine_new(c, &e), 0);
	t2s_engine_free(e);
	t2s_config_free(c);
}

static void
one_engine_per_process(void **state)
{
	struct t2s_conf *c = conf_with_proxy();
	struct t2s_engine *a, *b;

	(void)state;
	assert_int_equal(t2s_engine_new(c, &a), 0);
	assert_int_equal(t2s_engine_new(c, &b), -EBUSY);
	assert_non_null(strstr(t2s_config_error(c), "one engine per process"));
	t2s_engine_free(a);
	assert_int_equal(t2s_engine_new(c, &b), 0); /* the slot is free again */
	t2s_engine_free(b);
	t2s_config_free(c);
}

static void
run_needs_a_tun(void **state)
{
	struct t2s_conf *c = conf_with_proxy();
	struct t2s_engine *e;
	int p[2];

	(void)state;
	assert_int_equal(pipe(p), 0);
	assert_int_equal(t2s_engine_new(c, &e), 0);
	t2s_engine_stop(e); /* before the run: harmless */
	assert_true(t2s_engine_run(e, p[0]) < 0);
	assert_non_null(strstr(t2s_engine_error(e), "not a usable TUN"));
	assert_int_equal(t2s_engine_run(e, p[0]), -EALREADY);
	/* The embedder's descriptor is still its own and open. */
	assert_int_equal(write(p[1], "x", 1), 1);
	t2s_engine_free(e);
	close(p[0]);
	close(p[1]);
	t2s_config_free(c);
}

static void
stats_versioned_by_size(void **state)
{
	struct t2s_conf *c = conf_with_proxy();
	struct t2s_engine *e;
	struct t2s_stats_snapshot st;

	(void)state;
	assert_int_equal(t2s_engine_new(c, &e), 0);
	memset(&st, 0xee, sizeof(st));
	st.size = 8;
	assert_int_equal(t2s_engine_stats(e, &st), -EINVAL);
	st.size = 16; /* a caller that knows the first counter only */
	assert_int_equal(t2s_engine_stats(e, &st), 0);
	assert_int_equal(st.size, 16);
	assert_true(st.tun_packets_in == 0);
	assert_true(st.tun_bytes_in == 0xeeeeeeeeeeeeeeeeull); /* untouched */
	st.size = sizeof(st);
	assert_int_equal(t2s_engine_stats(e, &st), 0);
	assert_true(st.sockets_hooked == 0 && st.tcp_flows_opened == 0);
	t2s_engine_free(e);
	t2s_config_free(c);
}

static char last_line[256];
static int last_level = -1;

static void
log_hook(void *arg, enum t2s_log_level level, const char *text)
{
	(void)arg;
	last_level = (int)level;
	snprintf(last_line, sizeof(last_line), "%s", text);
}

static int
no_flow(void *arg, const struct t2s_flow_info *f)
{
	(void)f;
	++*(int *)arg;
	return 0;
}

/* Not running: no flow table, and bad arguments refused. */
static void
flows_need_a_running_engine(void **state)
{
	struct t2s_conf *c = conf_with_proxy();
	struct t2s_engine *e;
	int n = 0;

	(void)state;
	assert_int_equal(t2s_engine_new(c, &e), 0);
	assert_int_equal(t2s_engine_flows(e, NULL, NULL), -EINVAL);
	assert_int_equal(t2s_engine_flows(NULL, no_flow, &n), -EINVAL);
	assert_int_equal(t2s_engine_flows(e, no_flow, &n), -ESRCH);
	assert_int_equal(n, 0);
	t2s_engine_free(e);
	t2s_config_free(c);
}

static void
log_goes_to_the_hook(void **state)
{
	struct t2s_conf *c = conf_with_proxy();
	struct t2s_engine *e;

	(void)state;
	t2s_config_set_log_hook(c, log_hook, NULL);
	assert_int_equal(t2s_config_set(c, "log-level", "debug"), 0);
	assert_int_equal(t2s_engine_new(c, &e), 0);
	log_warn("hello %d", 42);
	assert_string_equal(last_line, "hello 42");
	assert_int_equal(last_level, T2S_LOG_WARN);
	t2s_engine_free(e);
	last_level = -1;
	log_error("to stderr again");
	assert_int_equal(last_level, -1);
	log_set_level(LOG_LEVEL_INFO);
	t2s_config_free(c);
}

struct hook_seen {
	int calls, fd, family, type, ret;
	int connected; /* getpeername succeeded inside the hook */
};

static int
count_hook(void *arg, int fd, int family, int type)
{
	struct hook_seen *h = arg;
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	h->calls++;
	h->fd = fd;
	h->family = family;
	h->type = type;
	h->connected = getpeername(fd, (struct sockaddr *)&ss, &len) == 0;
	return h->ret;
}

static void
socket_hook_before_connect(void **state)
{
	struct sockaddr_in sin = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof(sin);
	struct hook_seen h = {0};
	struct sock_hook hook = {.fn = count_hook, .arg = &h};
	int l, fd;

	(void)state;
	l = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(l >= 0);
	assert_int_equal(bind(l, (struct sockaddr *)&sin, sizeof(sin)), 0);
	assert_int_equal(listen(l, 4), 0);
	assert_int_equal(getsockname(l, (struct sockaddr *)&sin, &len), 0);
	fd = sock_connect_nb((struct sockaddr *)&sin, sizeof(sin), 0, &hook);
	assert_true(fd >= 0);
	assert_int_equal(h.calls, 1);
	assert_int_equal(h.fd, fd);
	assert_int_equal(h.family, AF_INET);
	assert_int_equal(h.type, SOCK_STREAM);
	assert_false(h.connected);
	close(fd);
	fd = sock_udp_connected((struct sockaddr *)&sin, sizeof(sin), 0, &hook);
	assert_true(fd >= 0);
	assert_int_equal(h.calls, 2);
	assert_int_equal(h.type, SOCK_DGRAM);
	assert_false(h.connected);
	close(fd);
	/* A refusal closes the socket and fails the connect with the hook's error. */
	h.ret = -EACCES;
	assert_int_equal(sock_connect_nb((struct sockaddr *)&sin, sizeof(sin), 0, &hook), -EACCES);
	assert_int_equal(sock_udp_connected((struct sockaddr *)&sin, sizeof(sin), 0, &hook), -EACCES);
	assert_int_equal(h.calls, 4);
	close(l);
}

/* Root only, in a network namespace of its own (so no interface of the host changes). */
static int
private_tun(void)
{
	struct ifreq ifr = {.ifr_flags = IFF_TUN | IFF_NO_PI};
	int fd;

	if (geteuid() != 0 || unshare(CLONE_NEWNET) < 0)
		return -1;
	fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return -1;
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "t2sapi0");
	if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

struct runner {
	struct t2s_engine *engine;
	int fd, rc;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	int ready;
	int flows_seen;
};

static int
count_flow(void *arg, const struct t2s_flow_info *f)
{
	struct runner *r = arg;

	(void)f;
	r->flows_seen++;
	return 0;
}

static void
runner_log(void *arg, enum t2s_log_level level, const char *text)
{
	struct runner *r = arg;

	(void)level;
	if (strncmp(text, "ready: ", 7) == 0) {
		pthread_mutex_lock(&r->lock);
		r->ready = 1;
		pthread_cond_signal(&r->cond);
		pthread_mutex_unlock(&r->lock);
	}
}

static void *
runner_main(void *arg)
{
	struct runner *r = arg;

	r->rc = t2s_engine_run(r->engine, r->fd);
	return NULL;
}

/* Runs an engine on its own thread, stops it from this one once it is ready. */
static void
run_and_stop(struct runner *r)
{
	struct t2s_conf *c = conf_with_proxy();
	pthread_t th;

	r->ready = 0;
	r->rc = 1;
	t2s_config_set_log_hook(c, runner_log, r);
	assert_int_equal(t2s_engine_new(c, &r->engine), 0);
	t2s_config_free(c);
	assert_int_equal(pthread_create(&th, NULL, runner_main, r), 0);
	pthread_mutex_lock(&r->lock);
	while (!r->ready)
		pthread_cond_wait(&r->cond, &r->lock);
	pthread_mutex_unlock(&r->lock);
	/* The flow table from another thread: taken by the loop, empty, then gone. */
	r->flows_seen = 0;
	assert_int_equal(t2s_engine_flows(r->engine, count_flow, r), 0);
	assert_int_equal(r->flows_seen, 0);
	t2s_engine_stop(r->engine);
	assert_int_equal(pthread_join(th, NULL), 0);
	assert_int_equal(t2s_engine_flows(r->engine, count_flow, r), -ESRCH);
	assert_int_equal(r->rc, 0);
	t2s_engine_free(r->engine);
}

static void
stop_from_another_thread_and_run_again(void **state)
{
	struct runner r = {.lock = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER};
	sigset_t mask;
	pid_t pid;
	int status;

	(void)state;
	if (geteuid() != 0)
		skip();
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		r.fd = private_tun();
		if (r.fd < 0)
			_exit(77);
		run_and_stop(&r);
		run_and_stop(&r); /* a second engine after the first, in the same process */
		/* The embedder's descriptor is open, its signal mask as it was. */
		if (fcntl(r.fd, F_GETFD) < 0)
			_exit(3);
		pthread_sigmask(SIG_BLOCK, NULL, &mask);
		_exit(sigismember(&mask, SIGPIPE) ? 4 : 0);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	if (WEXITSTATUS(status) == 77)
		skip();
	assert_int_equal(WEXITSTATUS(status), 0);
}

static int assert_pipe = -1;

static void
assert_log(void *arg, enum t2s_log_level level, const char *text)
{
	runner_log(arg, level, text);
	if (level == T2S_LOG_ERROR)
		(void)!write(assert_pipe, text, strlen(text));
}

/* An lwIP assertion reaches the log hook, then the process aborts (docs/EMBEDDING.md). */
static void
lwip_assertion_reported_then_abort(void **state)
{
	struct runner r = {.lock = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER};
	char buf[512];
	size_t len = 0;
	int p[2], status;
	ssize_t n;
	pid_t pid;

	(void)state;
	if (geteuid() != 0)
		skip();
	assert_int_equal(pipe(p), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct t2s_conf *c = conf_with_proxy();
		pthread_t th;

		close(p[0]);
		assert_pipe = p[1];
		r.fd = private_tun();
		if (r.fd < 0)
			_exit(77);
		t2s_config_set_log_hook(c, assert_log, &r);
		if (t2s_engine_new(c, &r.engine) < 0 || pthread_create(&th, NULL, runner_main, &r) != 0)
			_exit(3);
		pthread_mutex_lock(&r.lock);
		while (!r.ready)
			pthread_cond_wait(&r.cond, &r.lock);
		pthread_mutex_unlock(&r.lock);
		/* What LWIP_ASSERT calls (arch/cc.h); the engine is running. */
		lwip_port_assert("pcb->state != CLOSED", "tcp.c", 123);
		_exit(5);
	}
	close(p[1]);
	while (len < sizeof(buf) - 1 && (n = read(p[0], buf + len, sizeof(buf) - 1 - len)) > 0)
		len += (size_t)n;
	buf[len] = '\0';
	close(p[0]);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	if (WIFEXITED(status) && WEXITSTATUS(status) == 77)
		skip();
	assert_true(WIFSIGNALED(status));
	assert_int_equal(WTERMSIG(status), SIGABRT);
	assert_non_null(strstr(buf, "lwip: lwIP assertion \"pcb->state != CLOSED\" failed at tcp.c:123; the process "
				    "aborts now"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(options_by_name),
		cmocka_unit_test(engine_needs_a_proxy),
		cmocka_unit_test(engine_refuses_what_the_proxy_cannot),
		cmocka_unit_test(proxy_by_name),
		cmocka_unit_test(one_engine_per_process),
		cmocka_unit_test(run_needs_a_tun),
		cmocka_unit_test(stats_versioned_by_size),
		cmocka_unit_test(log_goes_to_the_hook),
		cmocka_unit_test(flows_need_a_running_engine),
		cmocka_unit_test(socket_hook_before_connect),
		cmocka_unit_test(stop_from_another_thread_and_run_again),
		cmocka_unit_test(lwip_assertion_reported_then_abort),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
