/* SPDX-License-Identifier: MIT */
/*
 * http_connect through proxy_tcp against a scripted HTTP proxy on 127.0.0.1, on the
 * test's own loop: a response split byte by byte with a banner behind it (which must
 * stay on the handed-over socket), an interim 100, Basic auth on the wire, 407, 403,
 * 502, garbage, an early close, an oversized head and a refused connect.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>
#include <ev.h>

#include "proxy_tcp.h"
#include "socks5_proto.h"
#include "support/loop.h"

/* Larger than HTTP_PROTO_MAX_RESPONSE (8 KiB), within one socket buffer. */
#define HTTP_HEAD_BIG 9000

/* The scripted proxy: reads the request head, then sends its chunks one per loop turn. */
struct fake_http {
	struct ev_loop *loop;
	int lfd, cfd;
	ev_io accept_io, conn_io;
	ev_timer tick;
	char req[4096];
	size_t req_len;
	const char *const *chunks; /* NULL-terminated */
	size_t next;
	bool close_after;
};

static void
fake_tick_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct fake_http *f = (struct fake_http *)((char *)w - offsetof(struct fake_http, tick));

	(void)revents;
	if (f->chunks[f->next] != NULL) {
		const char *c = f->chunks[f->next++];

		assert_int_equal(send(f->cfd, c, strlen(c), MSG_NOSIGNAL), (ssize_t)strlen(c));
		ev_timer_set(&f->tick, 0.001, 0);
		ev_timer_start(loop, &f->tick);
	} else if (f->close_after) {
		close(f->cfd);
		f->cfd = -1;
	}
}

static void
fake_conn_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct fake_http *f = (struct fake_http *)((char *)w - offsetof(struct fake_http, conn_io));
	ssize_t n;

	(void)revents;
	n = recv(f->cfd, f->req + f->req_len, sizeof(f->req) - 1 - f->req_len, 0);
	if (n <= 0) {
		ev_io_stop(loop, w);
		return;
	}
	f->req_len += (size_t)n;
	f->req[f->req_len] = '\0';
	if (strstr(f->req, "\r\n\r\n") != NULL) {
		ev_io_stop(loop, w);
		ev_timer_set(&f->tick, 0, 0);
		ev_timer_start(loop, &f->tick);
	}
}

static void
fake_accept_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct fake_http *f = (struct fake_http *)((char *)w - offsetof(struct fake_http, accept_io));

	(void)revents;
	f->cfd = accept(f->lfd, NULL, NULL);
	assert_true(f->cfd >= 0);
	ev_io_stop(loop, w);
	ev_io_init(&f->conn_io, fake_conn_cb, f->cfd, EV_READ);
	ev_io_start(loop, &f->conn_io);
}

static void
fake_start(struct fake_http *f, struct ev_loop *loop, const char *const *chunks, bool close_after,
	   struct socks5_server *server)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof(a);

	memset(f, 0, sizeof(*f));
	f->loop = loop;
	f->cfd = -1;
	f->chunks = chunks;
	f->close_after = close_after;
	f->lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	assert_true(f->lfd >= 0);
	assert_int_equal(bind(f->lfd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(listen(f->lfd, 4), 0);
	assert_int_equal(getsockname(f->lfd, (struct sockaddr *)&a, &len), 0);
	ev_io_init(&f->accept_io, fake_accept_cb, f->lfd, EV_READ);
	ev_io_start(loop, &f->accept_io);
	ev_init(&f->tick, fake_tick_cb);
	memset(server, 0, sizeof(*server));
	server->kind = PROXY_KIND_HTTP;
	memcpy(&server->addr, &a, sizeof(a));
	server->addrlen = sizeof(a);
}

static void
fake_stop(struct fake_http *f)
{
	ev_io_stop(f->loop, &f->accept_io);
	ev_io_stop(f->loop, &f->conn_io);
	ev_timer_stop(f->loop, &f->tick);
	if (f->cfd >= 0)
		close(f->cfd);
	close(f->lfd);
}

struct outcome {
	int done;
	struct proxy_tcp_result res;
	struct proxy_tcp *session;
	int fd;
};

static void
done_cb(void *arg, const struct proxy_tcp_result *res)
{
	struct outcome *o = arg;

	o->done++;
	o->res = *res;
	if (res->failure == PROXY_TCP_OK)
		o->fd = proxy_tcp_take_fd(o->session);
	proxy_tcp_free(o->session);
	o->session = NULL;
}

static bool
outcome_done(void *arg)
{
	return ((const struct outcome *)arg)->done > 0;
}

static void
run(struct ev_loop *loop, const struct socks5_server *server, struct outcome *o)
{
	struct t2s_endpoint target = {.type = T2S_ENDPOINT_IPV4, .port = 22, .u.ipv4 = {198, 19, 0, 10}};

	memset(o, 0, sizeof(*o));
	o->fd = -1;
	o->session = proxy_tcp_new(loop, server, &target, done_cb, o);
	assert_non_null(o->session);
	(void)loop_run_until(loop, outcome_done, o, 5.0);
	proxy_tcp_free(o->session);
	assert_int_equal(o->done, 1);
}

/* One scripted exchange: the outcome, and the request the proxy saw. */
static void
exchange(const char *const *chunks, bool close_after, const char *user, const char *pass, struct outcome *o,
	 char *req, size_t req_cap)
{
	struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
	struct socks5_server server;
	struct fake_http f;

	fake_start(&f, loop, chunks, close_after, &server);
	server.user = user;
	server.pass = pass;
	run(loop, &server, o);
	if (req != NULL)
		snprintf(req, req_cap, "%s", f.req);
	fake_stop(&f);
	ev_loop_destroy(loop);
}

static void
test_split_with_banner(void **state)
{
	/* Byte by byte, but the head's last byte comes with the banner in one segment. */
	static const char head[] = "HTTP/1.1 200 Connection established\r\nProxy-Agent: fake\r\n\r";
	const char *chunks[sizeof(head) + 1];
	char one[sizeof(head)][2];
	char req[4096], got[64];
	struct outcome o;
	size_t i;
	ssize_t n;

	(void)state;
	for (i = 0; i + 1 < sizeof(head); i++) {
		one[i][0] = head[i];
		one[i][1] = '\0';
		chunks[i] = one[i];
	}
	chunks[i++] = "\nSSH-2.0-banner\r\n";
	chunks[i] = NULL;
	exchange(chunks, false, NULL, NULL, &o, req, sizeof(req));
	assert_int_equal(o.res.failure, PROXY_TCP_OK);
	assert_int_equal(o.res.http_status, 200);
	assert_string_equal(req, "CONNECT 198.19.0.10:22 HTTP/1.1\r\nHost: 198.19.0.10:22\r\n\r\n");
	/* The banner behind the head is the stream's, on the handed-over socket. */
	assert_true(o.fd >= 0);
	n = recv(o.fd, got, sizeof(got) - 1, 0);
	assert_int_equal(n, 16);
	got[n] = '\0';
	assert_string_equal(got, "SSH-2.0-banner\r\n");
	close(o.fd);
}

static void
test_interim_and_auth(void **state)
{
	static const char *const chunks[] = {"HTTP/1.1 100 Continue\r\n\r\n", "HTTP/1.1 200 OK\r\n\r\n", NULL};
	char req[4096];
	struct outcome o;

	(void)state;
	exchange(chunks, false, "u", "p", &o, req, sizeof(req));
	assert_int_equal(o.res.failure, PROXY_TCP_OK);
	assert_non_null(strstr(req, "\r\nProxy-Authorization: Basic dTpw\r\n"));
	close(o.fd);
}

static void
test_refusals(void **state)
{
	static const struct {
		const char *head;
		enum proxy_tcp_failure failure;
		uint8_t rep;
		int err;
	} cases[] = {
		{"HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic realm=\"x\"\r\n\r\n",
		 PROXY_TCP_AUTH, 0, -EACCES},
		{"HTTP/1.1 403 Forbidden\r\n\r\n<html>", PROXY_TCP_TARGET, SOCKS5_REP_NOT_ALLOWED, -EACCES},
		{"HTTP/1.1 502 Bad Gateway\r\n\r\n", PROXY_TCP_TARGET, SOCKS5_REP_CONN_REFUSED, -ECONNREFUSED},
		{"HTTP/1.0 405 Method Not Allowed\r\n\r\n", PROXY_TCP_PROTOCOL, 0, -EOPNOTSUPP},
		{"SSH-2.0-OpenSSH\r\n", PROXY_TCP_PROTOCOL, 0, -EPROTO},
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *chunks[] = {cases[i].head, NULL};
		struct outcome o;

		exchange(chunks, false, NULL, NULL, &o, NULL, 0);
		if (o.res.failure != cases[i].failure || o.res.err != cases[i].err ||
		    (cases[i].failure == PROXY_TCP_TARGET && o.res.rep != cases[i].rep))
			fail_msg("\"%.20s\": failure %d err %d rep %u", cases[i].head, o.res.failure, o.res.err,
				 o.res.rep);
		assert_int_equal(o.fd, -1);
	}
}

static void
test_early_close_and_oversized(void **state)
{
	static const char *const partial[] = {"HTTP/1.1 200 Conn", NULL};
	char *big = malloc(HTTP_HEAD_BIG);
	const char *chunks[] = {big, NULL};
	struct outcome o;
	size_t off;

	(void)state;
	exchange(partial, true, NULL, NULL, &o, NULL, 0);
	assert_int_equal(o.res.failure, PROXY_TCP_PROTOCOL);
	assert_int_equal(o.res.err, -ECONNRESET);

	assert_non_null(big);
	off = (size_t)snprintf(big, HTTP_HEAD_BIG, "HTTP/1.1 200 OK\r\n");
	while (off + 16 < HTTP_HEAD_BIG)
		off += (size_t)snprintf(big + off, HTTP_HEAD_BIG - off, "X-Pad: abcdefg\r\n");
	exchange(chunks, false, NULL, NULL, &o, NULL, 0);
	assert_int_equal(o.res.failure, PROXY_TCP_PROTOCOL);
	assert_int_equal(o.res.err, -EMSGSIZE);
	free(big);
}

static void
test_refused_connect(void **state)
{
	struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof(a);
	struct socks5_server server;
	struct outcome o;
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	(void)state;
	/* A port that was just free: bound, never listened on. */
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
	memset(&server, 0, sizeof(server));
	server.kind = PROXY_KIND_HTTP;
	memcpy(&server.addr, &a, sizeof(a));
	server.addrlen = sizeof(a);
	run(loop, &server, &o);
	close(fd);
	assert_int_equal(o.res.failure, PROXY_TCP_UNREACHABLE);
	assert_int_equal(o.res.err, -ECONNREFUSED);
	ev_loop_destroy(loop);
}

/*
 * A proxy whose accept queue is full drops the SYN, so the connection is still in
 * SYN_SENT when the session tries its first write right after connect(): that write must
 * take nothing and fail nothing; the request goes out once the SYN's retransmission
 * (about 1 s later) gets through.
 */
static void
test_connect_still_in_progress(void **state)
{
	static const char *const chunks[] = {"HTTP/1.1 200 Connection established\r\n\r\n", NULL};
	struct t2s_endpoint target = {.type = T2S_ENDPOINT_IPV4, .port = 22, .u.ipv4 = {198, 19, 0, 10}};
	struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
	struct socks5_server server;
	struct fake_http f;
	struct outcome o = {.fd = -1};
	int filler;

	(void)state;
	fake_start(&f, loop, chunks, false, &server);
	ev_io_stop(loop, &f.accept_io);
	assert_int_equal(listen(f.lfd, 0), 0); /* room for one connection not yet accepted */
	filler = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(filler >= 0);
	assert_int_equal(connect(filler, (struct sockaddr *)&server.addr, server.addrlen), 0);
	o.session = proxy_tcp_new(loop, &server, &target, done_cb, &o);
	assert_non_null(o.session);
	loop_run_for(loop, 0.05);
	assert_int_equal(o.done, 0);
	assert_false(proxy_tcp_proxy_answered(o.session));
	/* Make room: the filler leaves the queue, the session's next SYN is taken. */
	for (int i = 0; i < 100; i++) {
		int c = accept(f.lfd, NULL, NULL);

		if (c >= 0) {
			close(c);
			break;
		}
		loop_run_for(loop, 0.01);
	}
	close(filler);
	ev_io_start(loop, &f.accept_io);
	(void)loop_run_until(loop, outcome_done, &o, 5.0);
	assert_int_equal(o.done, 1);
	assert_int_equal(o.res.failure, PROXY_TCP_OK);
	assert_true(o.fd >= 0);
	assert_true(strncmp(f.req, "CONNECT 198.19.0.10:22 HTTP/1.1\r\n", 33) == 0);
	close(o.fd);
	fake_stop(&f);
	ev_loop_destroy(loop);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_split_with_banner),
		cmocka_unit_test(test_interim_and_auth),
		cmocka_unit_test(test_refusals),
		cmocka_unit_test(test_early_close_and_oversized),
		cmocka_unit_test(test_refused_connect),
		cmocka_unit_test(test_connect_still_in_progress),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
