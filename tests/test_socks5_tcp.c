/* SPDX-License-Identifier: MIT */
/*
 * socks5_tcp against a scripted SOCKS5 server on 127.0.0.1 (a thread with blocking
 * sockets): replies split byte by byte or coalesced with stream data, every failure
 * class, and that bytes following the reply stay on the handed-over socket.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>
#include <ev.h>

#include "socks5_proto.h"
#include "socks5_tcp.h"

enum script {
	SCRIPT_OK_SPLIT,    /* no auth; every reply byte in its own send; banner after reply */
	SCRIPT_OK_AUTH,     /* user/pass accepted */
	SCRIPT_AUTH_REJECT, /* user/pass rejected */
	SCRIPT_NO_METHOD,   /* method 0xff */
	SCRIPT_REP_REFUSED, /* REP 5 */
	SCRIPT_CLOSE_AFTER_GREETING,
	SCRIPT_GARBAGE,
	SCRIPT_DOMAIN_REPLY, /* BND.ADDR as a 200-byte domain, coalesced with stream data */
};

struct server {
	int listen_fd;
	uint16_t port;
	enum script script;
	pthread_t thread;
	uint8_t request[600]; /* what the client sent after the greeting (and auth) */
	size_t request_len;
	int auth_seen;
};

static void
recv_n(int fd, uint8_t *buf, size_t n)
{
	size_t got = 0;

	while (got < n) {
		ssize_t r = recv(fd, buf + got, n - got, 0);

		if (r <= 0)
			return;
		got += (size_t)r;
	}
}

static void
send_split(int fd, const uint8_t *buf, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		(void)send(fd, buf + i, 1, MSG_NOSIGNAL);
		usleep(2000);
	}
}

/* Reads VER NMETHODS METHODS; returns NMETHODS. */
static int
read_greeting(int fd)
{
	uint8_t hdr[2], methods[255];

	recv_n(fd, hdr, 2);
	recv_n(fd, methods, hdr[1]);
	return hdr[1];
}

/* Reads a CONNECT request for an IPv4 target into s->request. */
static void
read_connect_v4(struct server *s, int fd)
{
	recv_n(fd, s->request, 10);
	s->request_len = 10;
}

static void *
server_main(void *arg)
{
	struct server *s = arg;
	static const uint8_t ok_v4[] = {5, 0, 0, 1, 198, 18, 0, 2, 0x12, 0x34};
	uint8_t buf[600];
	int fd = accept(s->listen_fd, NULL, NULL);

	if (fd < 0)
		return NULL;
	switch (s->script) {
	case SCRIPT_OK_SPLIT:
		read_greeting(fd);
		send_split(fd, (const uint8_t[]){5, 0}, 2);
		read_connect_v4(s, fd);
		send_split(fd, ok_v4, sizeof(ok_v4));
		(void)send(fd, "BANNER", 6, MSG_NOSIGNAL);
		break;
	case SCRIPT_OK_AUTH:
	case SCRIPT_AUTH_REJECT: {
		uint8_t ulen, plen;

		read_greeting(fd);
		(void)send(fd, (const uint8_t[]){5, 2}, 2, MSG_NOSIGNAL);
		recv_n(fd, buf, 2);
		ulen = buf[1];
		recv_n(fd, buf, ulen + 1u);
		plen = buf[ulen];
		recv_n(fd, buf + ulen + 1, plen);
		s->auth_seen = ulen == 4 && memcmp(buf, "user", 4) == 0 && plen == 6 &&
			       memcmp(buf + ulen + 1, "secret", 6) == 0;
		if (s->script == SCRIPT_AUTH_REJECT) {
			(void)send(fd, (const uint8_t[]){1, 1}, 2, MSG_NOSIGNAL);
			break;
		}
		(void)send(fd, (const uint8_t[]){1, 0}, 2, MSG_NOSIGNAL);
		read_connect_v4(s, fd);
		(void)send(fd, ok_v4, sizeof(ok_v4), MSG_NOSIGNAL);
		break;
	}
	case SCRIPT_NO_METHOD:
		read_greeting(fd);
		(void)send(fd, (const uint8_t[]){5, 0xff}, 2, MSG_NOSIGNAL);
		break;
	case SCRIPT_REP_REFUSED:
		read_greeting(fd);
		(void)send(fd, (const uint8_t[]){5, 0}, 2, MSG_NOSIGNAL);
		read_connect_v4(s, fd);
		(void)send(fd, (const uint8_t[]){5, 5, 0, 1, 0, 0, 0, 0, 0, 0}, 10, MSG_NOSIGNAL);
		break;
	case SCRIPT_CLOSE_AFTER_GREETING:
		read_greeting(fd);
		break;
	case SCRIPT_GARBAGE:
		read_greeting(fd);
		(void)send(fd, "HTTP/1.0 400", 12, MSG_NOSIGNAL);
		break;
	case SCRIPT_DOMAIN_REPLY: {
		size_t n = 0;

		read_greeting(fd);
		(void)send(fd, (const uint8_t[]){5, 0}, 2, MSG_NOSIGNAL);
		read_connect_v4(s, fd);
		buf[n++] = 5;
		buf[n++] = 0;
		buf[n++] = 0;
		buf[n++] = 3;
		buf[n++] = 200;
		memset(buf + n, 'a', 200);
		n += 200;
		buf[n++] = 0;
		buf[n++] = 80;
		memcpy(buf + n, "STREAM", 6);
		n += 6;
		(void)send(fd, buf, n, MSG_NOSIGNAL);
		break;
	}
	}
	/* Let the client read everything before the connection goes away. */
	shutdown(fd, SHUT_WR);
	while (recv(fd, buf, sizeof(buf), 0) > 0)
		;
	close(fd);
	return NULL;
}

static void
server_start(struct server *s, enum script script)
{
	struct sockaddr_in sin = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof(sin);

	memset(s, 0, sizeof(*s));
	s->script = script;
	s->listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(s->listen_fd >= 0);
	assert_int_equal(bind(s->listen_fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	assert_int_equal(listen(s->listen_fd, 4), 0);
	assert_int_equal(getsockname(s->listen_fd, (struct sockaddr *)&sin, &len), 0);
	s->port = ntohs(sin.sin_port);
	assert_int_equal(pthread_create(&s->thread, NULL, server_main, s), 0);
}

struct outcome {
	int done;
	struct socks5_tcp_result res;
	struct socks5_tcp *session;
	int fd;
};

static void
done_cb(void *arg, const struct socks5_tcp_result *res)
{
	struct outcome *o = arg;

	o->done++;
	o->res = *res;
	if (res->failure == SOCKS5_TCP_OK)
		o->fd = socks5_tcp_take_fd(o->session);
	socks5_tcp_free(o->session);
	o->session = NULL;
}

static void
timeout_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)w;
	(void)revents;
	ev_break(loop, EVBREAK_ALL);
}

/* Runs one handshake against 127.0.0.1:port; fails the test if it never finishes. */
static void
run_handshake(uint16_t port, const char *user, const char *pass, struct outcome *o)
{
	struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
	struct socks5_server server;
	struct sockaddr_in *sin = (struct sockaddr_in *)&server.addr;
	struct t2s_endpoint target = {.type = T2S_ENDPOINT_IPV4, .port = 80, .u.ipv4 = {198, 19, 0, 10}};
	ev_timer guard;

	memset(&server, 0, sizeof(server));
	sin->sin_family = AF_INET;
	sin->sin_port = htons(port);
	sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	server.addrlen = sizeof(*sin);
	server.user = user;
	server.pass = pass;
	memset(o, 0, sizeof(*o));
	o->fd = -1;
	o->session = socks5_tcp_new(loop, &server, &target, done_cb, o);
	assert_non_null(o->session);
	ev_timer_init(&guard, timeout_cb, 5.0, 0);
	ev_timer_start(loop, &guard);
	while (o->done == 0 && ev_is_active(&guard))
		ev_run(loop, EVRUN_ONCE);
	ev_timer_stop(loop, &guard);
	socks5_tcp_free(o->session);
	ev_loop_destroy(loop);
	assert_int_equal(o->done, 1);
}

static void
finish_server(struct server *s)
{
	pthread_join(s->thread, NULL);
	close(s->listen_fd);
}

static void
test_success_split_reply_keeps_banner(void **state)
{
	static const uint8_t expect_req[] = {5, 1, 0, 1, 198, 19, 0, 10, 0, 80};
	struct server s;
	struct outcome o;
	char banner[16] = {0};
	ssize_t n = 0;

	(void)state;
	server_start(&s, SCRIPT_OK_SPLIT);
	run_handshake(s.port, NULL, NULL, &o);
	assert_int_equal(o.res.failure, SOCKS5_TCP_OK);
	assert_int_equal(o.res.err, 0);
	assert_true(o.fd >= 0);
	/* The server-first bytes after the reply were not swallowed by the handshake. */
	for (int i = 0; i < 200 && n < 6; i++) {
		ssize_t r = recv(o.fd, banner + n, sizeof(banner) - 1 - (size_t)n, MSG_DONTWAIT);

		if (r > 0)
			n += r;
		else
			usleep(5000);
	}
	assert_string_equal(banner, "BANNER");
	close(o.fd);
	finish_server(&s);
	assert_memory_equal(s.request, expect_req, sizeof(expect_req));
}

static void
test_success_with_auth(void **state)
{
	struct server s;
	struct outcome o;

	(void)state;
	server_start(&s, SCRIPT_OK_AUTH);
	run_handshake(s.port, "user", "secret", &o);
	assert_int_equal(o.res.failure, SOCKS5_TCP_OK);
	close(o.fd);
	finish_server(&s);
	assert_true(s.auth_seen);
}

static void
test_auth_rejected(void **state)
{
	struct server s;
	struct outcome o;

	(void)state;
	server_start(&s, SCRIPT_AUTH_REJECT);
	run_handshake(s.port, "user", "secret", &o);
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
	struct outcome o;

	(void)state;
	server_start(&s, SCRIPT_NO_METHOD);
	run_handshake(s.port, NULL, NULL, &o);
	assert_int_equal(o.res.failure, SOCKS5_TCP_PROXY_AUTH);
	finish_server(&s);
}

static void
test_target_refused(void **state)
{
	struct server s;
	struct outcome o;

	(void)state;
	server_start(&s, SCRIPT_REP_REFUSED);
	run_handshake(s.port, NULL, NULL, &o);
	assert_int_equal(o.res.failure, SOCKS5_TCP_TARGET);
	assert_int_equal(o.res.rep, SOCKS5_REP_CONN_REFUSED);
	assert_int_equal(o.res.err, -ECONNREFUSED);
	finish_server(&s);
}

static void
test_close_after_greeting(void **state)
{
	struct server s;
	struct outcome o;

	(void)state;
	server_start(&s, SCRIPT_CLOSE_AFTER_GREETING);
	run_handshake(s.port, NULL, NULL, &o);
	assert_int_equal(o.res.failure, SOCKS5_TCP_PROXY_PROTOCOL);
	assert_true(o.res.err < 0);
	finish_server(&s);
}

static void
test_garbage(void **state)
{
	struct server s;
	struct outcome o;

	(void)state;
	server_start(&s, SCRIPT_GARBAGE);
	run_handshake(s.port, NULL, NULL, &o);
	assert_int_equal(o.res.failure, SOCKS5_TCP_PROXY_PROTOCOL);
	assert_int_equal(o.res.err, -EPROTO);
	finish_server(&s);
}

static void
test_domain_reply_coalesced_with_stream(void **state)
{
	struct server s;
	struct outcome o;
	char data[16] = {0};
	ssize_t n = 0;

	(void)state;
	server_start(&s, SCRIPT_DOMAIN_REPLY);
	run_handshake(s.port, NULL, NULL, &o);
	assert_int_equal(o.res.failure, SOCKS5_TCP_OK);
	for (int i = 0; i < 200 && n < 6; i++) {
		ssize_t r = recv(o.fd, data + n, sizeof(data) - 1 - (size_t)n, MSG_DONTWAIT);

		if (r > 0)
			n += r;
		else
			usleep(5000);
	}
	assert_string_equal(data, "STREAM");
	close(o.fd);
	finish_server(&s);
}

static void
test_proxy_unreachable(void **state)
{
	struct sockaddr_in sin = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof(sin);
	struct outcome o;
	int fd;

	(void)state;
	/* A port that was just free: bind, read the number, close. */
	fd = socket(AF_INET, SOCK_STREAM, 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sin, &len), 0);
	close(fd);
	run_handshake(ntohs(sin.sin_port), NULL, NULL, &o);
	assert_int_equal(o.res.failure, SOCKS5_TCP_PROXY_UNREACHABLE);
	assert_int_equal(o.res.err, -ECONNREFUSED);
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
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
