/* SPDX-License-Identifier: MIT */
/*
 * dns_tcp against a scripted SOCKS5 server on 127.0.0.1 (a thread with blocking sockets)
 * that accepts CONNECT and then acts as a DNS-over-TCP server, well or badly. A hand-made
 * struct t2s whose TUN is one end of a SOCK_SEQPACKET socketpair: the test reads what
 * dns_tcp writes to the "TUN" from the other end and parses it.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cmocka.h>
#include <ev.h>

#include "config.h"
#include "dns_tcp.h"
#include "packet.h"
#include "socks5_proto.h"
#include "flow_env.h"
#include "ip_frag.h"
#include "support/pktbuild.h"

enum script {
	SCRIPT_ANSWER,	     /* the query with QR/RA set and one A record */
	SCRIPT_ANSWER_SIZED, /* the query with QR set, padded to server.resp_size bytes */
	SCRIPT_WRONG_ID,
	SCRIPT_CLOSE_EARLY,  /* prefix and half the response, then FIN */
	SCRIPT_SILENT,	     /* reads the query, never answers */
	SCRIPT_SPLIT_PREFIX, /* one byte of the prefix, then (once released) the rest */
	SCRIPT_SHORT,	     /* a 4-byte "response" */
	SCRIPT_REFUSE,	     /* REP 5 to CONNECT */
};

#define RX_SLOTS 16
#define RX_CAP 8192

struct server {
	int listen_fd;
	uint16_t port;
	enum script script;
	int conns; /* connections to serve, one after the other */
	size_t resp_size;
	pthread_t thread;
	bool started, joined;
	int release[2]; /* SCRIPT_SPLIT_PREFIX: the test writes a byte to let the rest go */
	struct ev_loop *loop;
	ev_async *first_sent; /* SCRIPT_SPLIT_PREFIX: signalled once the first byte is sent */
	uint8_t connect_req[32]; /* the last CONNECT request */
	size_t connect_len;
	uint8_t framed[600]; /* the last query, with its prefix */
	size_t framed_len;
	int served;
	uint8_t resp[2 + 65535];
};

struct rx {
	size_t len;
	uint8_t buf[RX_CAP];
};

struct fixture {
	struct ev_loop *loop;
	struct t2s_config cfg;
	struct socks5_server proxy;
	struct fd_pressure fd_pressure;
	struct log_rate rate[T2S_RATE_SLOTS];
	uint64_t next_flow_id;
	bool stopping;
	uint32_t frag_id;
	struct dns_tcp *d;
	int tun_fd;   /* what dns_tcp writes to, through the hooks below */
	int tun_peer;
	ev_io tun_io;
	ev_async split_async;
	ev_check split_check;
	bool split_armed, released;
	struct server srv;
	size_t n_rx;
	struct rx rx[RX_SLOTS];
};

/* A query datagram from the application. */
struct qpkt {
	struct pktbuild_ip ip;
	uint16_t sport, dport;
	uint8_t msg[64];
	size_t msg_len;
	uint8_t pkt[256];
	size_t len;
	struct packet_info info;
};

/* ---- the server thread ---- */

static int
recv_n(int fd, uint8_t *buf, size_t n)
{
	size_t got = 0;

	while (got < n) {
		ssize_t r = recv(fd, buf + got, n - got, 0);

		if (r <= 0)
			return -1;
		got += (size_t)r;
	}
	return 0;
}

static void
send_all(int fd, const uint8_t *buf, size_t n)
{
	(void)send(fd, buf, n, MSG_NOSIGNAL);
}

/* Builds the framed response to the query in s->framed into s->resp; returns its length. */
static size_t
make_response(struct server *s)
{
	const uint8_t *q = s->framed + 2;
	size_t qlen = s->framed_len - 2, len;
	uint8_t *r = s->resp + 2;
	static const uint8_t a_record[] = {0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 192, 0, 2, 1};

	memcpy(r, q, qlen);
	r[2] |= 0x80;
	r[3] |= 0x80;
	switch (s->script) {
	case SCRIPT_ANSWER_SIZED:
		len = s->resp_size;
		for (size_t i = qlen; i < len; i++)
			r[i] = (uint8_t)i;
		break;
	case SCRIPT_SHORT:
		len = 4;
		break;
	default:
		r[7] = 1; /* ANCOUNT */
		memcpy(r + qlen, a_record, sizeof(a_record));
		len = qlen + sizeof(a_record);
		break;
	}
	if (s->script == SCRIPT_WRONG_ID)
		r[1] ^= 0x5a;
	s->resp[0] = (uint8_t)(len >> 8);
	s->resp[1] = (uint8_t)len;
	return 2 + len;
}

static void
serve(struct server *s, int fd)
{
	static const uint8_t ok[] = {5, 0, 0, 1, 127, 0, 0, 1, 0x12, 0x34};
	static const uint8_t refused[] = {5, 5, 0, 1, 0, 0, 0, 0, 0, 0};
	uint8_t hdr[2], methods[255];
	size_t qlen, n;
	char c;

	if (recv_n(fd, hdr, 2) < 0 || recv_n(fd, methods, hdr[1]) < 0)
		return;
	send_all(fd, (const uint8_t[]){5, 0}, 2);
	if (recv_n(fd, s->connect_req, 4) < 0)
		return;
	n = s->connect_req[3] == SOCKS5_ATYP_IPV6 ? 16 + 2 : 4 + 2;
	if (recv_n(fd, s->connect_req + 4, n) < 0)
		return;
	s->connect_len = 4 + n;
	if (s->script == SCRIPT_REFUSE) {
		send_all(fd, refused, sizeof(refused));
		return;
	}
	send_all(fd, ok, sizeof(ok));
	if (recv_n(fd, s->framed, 2) < 0)
		return;
	qlen = (size_t)s->framed[0] << 8 | s->framed[1];
	if (qlen > sizeof(s->framed) - 2 || recv_n(fd, s->framed + 2, qlen) < 0)
		return;
	s->framed_len = 2 + qlen;
	if (s->script == SCRIPT_SILENT)
		return;
	n = make_response(s);
	switch (s->script) {
	case SCRIPT_CLOSE_EARLY:
		send_all(fd, s->resp, 2 + (n - 2) / 2);
		shutdown(fd, SHUT_WR);
		break;
	case SCRIPT_SPLIT_PREFIX:
		send_all(fd, s->resp, 1);
		ev_async_send(s->loop, s->first_sent);
		if (read(s->release[0], &c, 1) == 1)
			send_all(fd, s->resp + 1, n - 1);
		break;
	default:
		send_all(fd, s->resp, n);
		break;
	}
}

static void *
server_main(void *arg)
{
	struct server *s = arg;
	uint8_t buf[512];

	for (int i = 0; i < s->conns; i++) {
		int fd = accept(s->listen_fd, NULL, NULL);

		if (fd < 0)
			break;
		serve(s, fd);
		s->served++;
		/* The client closes once it has its answer (or gave up). */
		while (recv(fd, buf, sizeof(buf), 0) > 0)
			;
		close(fd);
	}
	return NULL;
}

static void
set_proxy_port(struct fixture *f, uint16_t port)
{
	struct sockaddr_in *sin = (struct sockaddr_in *)&f->proxy.addr;

	memset(&f->proxy, 0, sizeof(f->proxy));
	sin->sin_family = AF_INET;
	sin->sin_port = htons(port);
	sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	f->proxy.addrlen = sizeof(*sin);
}

/* Listens on 127.0.0.1 and points the proxy there; with conns > 0 a thread serves. */
static void
server_start(struct fixture *f, enum script script, int conns)
{
	struct server *s = &f->srv;
	struct sockaddr_in sin = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof(sin);

	s->script = script;
	s->conns = conns;
	s->listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(s->listen_fd >= 0);
	assert_int_equal(bind(s->listen_fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	assert_int_equal(listen(s->listen_fd, 1024), 0);
	assert_int_equal(getsockname(s->listen_fd, (struct sockaddr *)&sin, &len), 0);
	s->port = ntohs(sin.sin_port);
	set_proxy_port(f, s->port);
	if (conns > 0) {
		assert_int_equal(pthread_create(&s->thread, NULL, server_main, s), 0);
		s->started = true;
	}
}

/* Waits for the thread; it ends once every connection was served and closed. */
static void
server_join(struct server *s)
{
	if (s->started && !s->joined) {
		pthread_join(s->thread, NULL);
		s->joined = true;
	}
}

/* ---- the fixture ---- */

static void
drain_tun(struct fixture *f)
{
	for (;;) {
		struct rx *slot = &f->rx[f->n_rx < RX_SLOTS ? f->n_rx : RX_SLOTS - 1];
		ssize_t n = recv(f->tun_peer, slot->buf, sizeof(slot->buf), MSG_DONTWAIT | MSG_TRUNC);

		if (n < 0)
			return;
		slot->len = (size_t)n;
		f->n_rx++;
	}
}

static void
tun_peer_io_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	(void)loop;
	(void)revents;
	drain_tun((struct fixture *)((char *)w - offsetof(struct fixture, tun_io)));
}

/*
 * SCRIPT_SPLIT_PREFIX: the server sends one byte, then wakes the loop through split_async.
 * The byte was queued on dns_tcp's socket before that wakeup (loopback delivers within
 * send), so the poll that reports the wakeup also reports the byte, unless dns_tcp read
 * it already, and dns_tcp reads it in that iteration. Only after that iteration (the
 * check watcher) is the rest let go, so it cannot coalesce with that byte.
 */
static void
split_async_cb(struct ev_loop *loop, ev_async *w, int revents)
{
	struct fixture *f = (struct fixture *)((char *)w - offsetof(struct fixture, split_async));

	(void)loop;
	(void)revents;
	f->split_armed = true;
}

static void
split_check_cb(struct ev_loop *loop, ev_check *w, int revents)
{
	struct fixture *f = (struct fixture *)((char *)w - offsetof(struct fixture, split_check));

	(void)loop;
	(void)revents;
	if (f->split_armed && !f->released) {
		f->released = true;
		assert_int_equal(write(f->srv.release[1], "x", 1), 1);
	}
}

/* The TUN side of struct tun_out, as t2s.c does it (no virtio-net header). */
static int
tun_sendv(void *ctx, const struct iovec *iov, int iovcnt)
{
	struct fixture *f = ctx;

	return writev(f->tun_fd, iov, iovcnt) < 0 ? -errno : 0;
}

static int
tun_send_udp(void *ctx, int family, const uint8_t *src, uint16_t sport, const uint8_t *dst, uint16_t dport,
	     const uint8_t *payload, size_t len)
{
	struct fixture *f = ctx;
	int n = ip_frag_udp(family, src, sport, dst, dport, payload, len, f->cfg.mtu, &f->frag_id, tun_sendv, f);

	return n < 0 ? n : 0;
}

static int
setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	int sp[2];

	assert_non_null(f);
	f->loop = ev_loop_new(EVFLAG_AUTO);
	assert_non_null(f->loop);
	config_defaults(&f->cfg);
	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp), 0);
	f->tun_fd = sp[0];
	f->tun_peer = sp[1];
	f->srv.listen_fd = -1;
	assert_int_equal(pipe(f->srv.release), 0);
	set_proxy_port(f, 9); /* replaced by server_start */
	ev_io_init(&f->tun_io, tun_peer_io_cb, f->tun_peer, EV_READ);
	ev_io_start(f->loop, &f->tun_io);
	ev_async_init(&f->split_async, split_async_cb);
	ev_async_start(f->loop, &f->split_async);
	ev_check_init(&f->split_check, split_check_cb);
	ev_check_start(f->loop, &f->split_check);
	f->srv.loop = f->loop;
	f->srv.first_sent = &f->split_async;
	f->d = dns_tcp_new(&(struct flow_env){
		.loop = f->loop,
		.cfg = &f->cfg,
		.proxy = &f->proxy,
		.tun = {.sendv = tun_sendv, .send_udp = tun_send_udp, .ctx = f},
		.fd_pressure = &f->fd_pressure,
		.rate = f->rate,
		.next_flow_id = &f->next_flow_id,
		.stopping = &f->stopping,
	});
	assert_non_null(f->d);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;
	ssize_t w;

	/* Closing the client sockets ends the server's connections; shutting the listener
	 * down wakes an accept() still waiting, and the pipe a held-back answer. */
	dns_tcp_free(f->d);
	if (f->srv.listen_fd >= 0)
		shutdown(f->srv.listen_fd, SHUT_RDWR);
	w = write(f->srv.release[1], "x", 1);
	(void)w;
	server_join(&f->srv);
	if (f->srv.listen_fd >= 0)
		close(f->srv.listen_fd);
	close(f->srv.release[0]);
	close(f->srv.release[1]);
	ev_io_stop(f->loop, &f->tun_io);
	ev_async_stop(f->loop, &f->split_async);
	ev_check_stop(f->loop, &f->split_check);
	close(f->tun_peer);
	close(f->tun_fd);
	ev_loop_destroy(f->loop);
	free(f);
	return 0;
}

static void
guard_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)loop;
	(void)w;
	(void)revents;
}

/* Runs the loop until n packets came out of the TUN; fails after limit seconds. */
static void
run_until_rx(struct fixture *f, size_t n, double limit)
{
	ev_timer guard;

	ev_timer_init(&guard, guard_cb, limit, 0);
	ev_timer_start(f->loop, &guard);
	while (f->n_rx < n && ev_is_active(&guard))
		ev_run(f->loop, EVRUN_ONCE);
	ev_timer_stop(f->loop, &guard);
	assert_int_equal(f->n_rx, n);
}

/* Builds a query for example.com/A with id, from the application's port sport to 53. */
static void
qpkt_make(struct qpkt *q, int family, uint16_t sport, uint16_t id)
{
	static const uint8_t question[] = {7, 'e', 'x', 'a', 'm', 'p', 'l', 'e', 3, 'c', 'o', 'm', 0, 0, 1, 0, 1};
	struct pktbuild_udp udp;

	memset(q, 0, sizeof(*q));
	if (family == 4)
		pktbuild_ip_init(&q->ip, 4, "198.18.0.2", "198.18.0.53");
	else
		pktbuild_ip_init(&q->ip, 6, "fd00::2", "fd00::53");
	q->sport = sport;
	q->dport = 53;
	q->msg[0] = (uint8_t)(id >> 8);
	q->msg[1] = (uint8_t)id;
	q->msg[2] = 0x01; /* RD */
	q->msg[5] = 1;	  /* QDCOUNT */
	memcpy(q->msg + 12, question, sizeof(question));
	q->msg_len = 12 + sizeof(question);
	udp = (struct pktbuild_udp){.sport = sport, .dport = 53, .len_field = -1, .payload = q->msg,
				    .payload_len = q->msg_len};
	q->len = pktbuild_udp(q->pkt, sizeof(q->pkt), &q->ip, &udp);
	assert_int_equal(packet_parse(q->pkt, q->len, &q->info), 0);
}

/* p is a valid UDP datagram from q's destination to q's source, carrying payload. */
static void
assert_udp_reply(const struct rx *p, const struct qpkt *q, const uint8_t *payload, size_t len)
{
	struct packet_info info;
	size_t alen = q->ip.family == 4 ? 4 : 16;
	const uint8_t *udp;

	assert_int_equal(packet_parse(p->buf, p->len, &info), 0);
	assert_int_equal(info.family, q->ip.family);
	assert_int_equal(info.proto, PACKET_PROTO_UDP);
	assert_memory_equal(info.src, q->ip.dst, alen);
	assert_memory_equal(info.dst, q->ip.src, alen);
	assert_int_equal(info.sport, q->dport);
	assert_int_equal(info.dport, q->sport);
	assert_int_equal(info.udp_payload_len, len);
	udp = p->buf + info.l4_off;
	assert_memory_equal(udp + 8, payload, len);
	assert_int_equal(pktbuild_csum(pktbuild_pseudo(info.family, info.src, info.dst, 17, 8 + len), udp, 8 + len),
			 0);
}

/* p is ICMP / ICMPv6 port unreachable to q's source, quoting q. */
static void
assert_unreachable(const struct rx *p, const struct qpkt *q)
{
	struct packet_info info;
	size_t alen = q->ip.family == 4 ? 4 : 16;
	const uint8_t *icmp;

	assert_int_equal(packet_parse(p->buf, p->len, &info), 0);
	assert_int_equal(info.family, q->ip.family);
	assert_memory_equal(info.src, q->ip.dst, alen);
	assert_memory_equal(info.dst, q->ip.src, alen);
	icmp = p->buf + info.l4_off;
	if (q->ip.family == 4) {
		assert_int_equal(info.proto, PACKET_PROTO_ICMP);
		assert_int_equal(icmp[0], 3);
		assert_int_equal(icmp[1], 3);
	} else {
		assert_int_equal(info.proto, PACKET_PROTO_ICMPV6);
		assert_int_equal(icmp[0], 1);
		assert_int_equal(icmp[1], 4);
	}
	assert_int_equal(p->len - info.l4_off - 8, q->len);
	assert_memory_equal(icmp + 8, q->pkt, q->len);
}

/* The response a SCRIPT_ANSWER server sends to q. */
static size_t
expected_answer(const struct qpkt *q, uint8_t *out)
{
	static const uint8_t a_record[] = {0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 192, 0, 2, 1};

	memcpy(out, q->msg, q->msg_len);
	out[2] |= 0x80;
	out[3] |= 0x80;
	out[7] = 1;
	memcpy(out + q->msg_len, a_record, sizeof(a_record));
	return q->msg_len + sizeof(a_record);
}

/* ---- tests ---- */

static void
test_answer_ipv4(void **state)
{
	static const uint8_t connect_req[] = {5, 1, 0, 1, 198, 18, 0, 53, 0, 53};
	struct fixture *f = *state;
	struct qpkt q;
	uint8_t want[128];
	size_t want_len;

	server_start(f, SCRIPT_ANSWER, 1);
	qpkt_make(&q, 4, 40000, 0x1234);
	dns_tcp_query(f->d, q.pkt, &q.info);
	run_until_rx(f, 1, 5.0);
	want_len = expected_answer(&q, want);
	assert_udp_reply(&f->rx[0], &q, want, want_len);
	server_join(&f->srv);
	assert_int_equal(f->srv.connect_len, sizeof(connect_req));
	assert_memory_equal(f->srv.connect_req, connect_req, sizeof(connect_req));
	assert_int_equal(f->srv.framed_len, 2 + q.msg_len);
	assert_int_equal(f->srv.framed[0], 0);
	assert_int_equal(f->srv.framed[1], q.msg_len);
	assert_memory_equal(f->srv.framed + 2, q.msg, q.msg_len);
	assert_int_equal(dns_tcp_get_stats(f->d)->queries, 1);
	assert_int_equal(dns_tcp_get_stats(f->d)->answered, 1);
	assert_int_equal(dns_tcp_get_stats(f->d)->failed, 0);
}

static void
test_answer_ipv6(void **state)
{
	static const uint8_t connect_req[] = {5, 1, 0, 4, 0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x53, 0, 53};
	struct fixture *f = *state;
	struct qpkt q;
	uint8_t want[128];
	size_t want_len;

	server_start(f, SCRIPT_ANSWER, 1);
	qpkt_make(&q, 6, 5353, 0xbeef);
	dns_tcp_query(f->d, q.pkt, &q.info);
	run_until_rx(f, 1, 5.0);
	want_len = expected_answer(&q, want);
	assert_udp_reply(&f->rx[0], &q, want, want_len);
	server_join(&f->srv);
	assert_int_equal(f->srv.connect_len, sizeof(connect_req));
	assert_memory_equal(f->srv.connect_req, connect_req, sizeof(connect_req));
}

/* A response longer than the query and than any single read buffer is passed on whole. */
static void
test_large_response(void **state)
{
	struct fixture *f = *state;
	struct qpkt q;
	uint8_t *want = f->srv.resp + 2;

	f->srv.resp_size = 4000;
	server_start(f, SCRIPT_ANSWER_SIZED, 1);
	qpkt_make(&q, 4, 40001, 0x0102);
	dns_tcp_query(f->d, q.pkt, &q.info);
	run_until_rx(f, 1, 5.0);
	server_join(&f->srv);
	assert_udp_reply(&f->rx[0], &q, want, 4000);
}

/* 65535 bytes cannot be one IPv4 datagram: header and question with TC, to retry over TCP. */
static void
test_oversize_response_truncated(void **state)
{
	struct fixture *f = *state;
	struct qpkt q;
	uint8_t want[64];

	f->srv.resp_size = 65535;
	server_start(f, SCRIPT_ANSWER_SIZED, 1);
	qpkt_make(&q, 4, 40002, 0xabcd);
	dns_tcp_query(f->d, q.pkt, &q.info);
	run_until_rx(f, 1, 5.0);
	server_join(&f->srv);
	memcpy(want, q.msg, q.msg_len);
	want[2] = 0x80 | 0x02 | 0x01; /* QR, TC, RD */
	want[3] = 0x80;		      /* RA, NOERROR */
	assert_udp_reply(&f->rx[0], &q, want, q.msg_len);
	assert_int_equal(dns_tcp_get_stats(f->d)->truncated, 1);
	assert_int_equal(dns_tcp_get_stats(f->d)->answered, 1);
}

static void
test_split_length_prefix(void **state)
{
	struct fixture *f = *state;
	struct qpkt q;
	uint8_t want[128];
	size_t want_len;

	server_start(f, SCRIPT_SPLIT_PREFIX, 1);
	qpkt_make(&q, 4, 40003, 0x7777);
	dns_tcp_query(f->d, q.pkt, &q.info);
	run_until_rx(f, 1, 5.0);
	assert_true(f->released);
	want_len = expected_answer(&q, want);
	assert_udp_reply(&f->rx[0], &q, want, want_len);
}

/* Several queries in flight at once each get their own answer. */
static void
test_concurrent_queries(void **state)
{
	struct fixture *f = *state;
	struct qpkt q[3];
	uint8_t want[128];
	size_t want_len;
	bool seen[3] = {false, false, false};

	server_start(f, SCRIPT_ANSWER, 3);
	for (int i = 0; i < 3; i++) {
		qpkt_make(&q[i], 4, (uint16_t)(41000 + i), (uint16_t)(0x100 + i));
		dns_tcp_query(f->d, q[i].pkt, &q[i].info);
	}
	run_until_rx(f, 3, 5.0);
	for (size_t k = 0; k < 3; k++) {
		struct packet_info info;
		int i;

		assert_int_equal(packet_parse(f->rx[k].buf, f->rx[k].len, &info), 0);
		i = info.dport - 41000;
		assert_true(i >= 0 && i < 3 && !seen[i]);
		seen[i] = true;
		want_len = expected_answer(&q[i], want);
		assert_udp_reply(&f->rx[k], &q[i], want, want_len);
	}
	server_join(&f->srv);
	assert_int_equal(f->srv.served, 3);
}

static void
expect_unreachable(void **state, enum script script, int family)
{
	struct fixture *f = *state;
	struct qpkt q;

	server_start(f, script, 1);
	qpkt_make(&q, family, 40004, 0x4242);
	dns_tcp_query(f->d, q.pkt, &q.info);
	run_until_rx(f, 1, 5.0);
	assert_unreachable(&f->rx[0], &q);
	assert_int_equal(dns_tcp_get_stats(f->d)->failed, 1);
	assert_int_equal(dns_tcp_get_stats(f->d)->answered, 0);
	server_join(&f->srv);
}

static void
test_wrong_id(void **state)
{
	expect_unreachable(state, SCRIPT_WRONG_ID, 4);
}

static void
test_closed_early(void **state)
{
	expect_unreachable(state, SCRIPT_CLOSE_EARLY, 4);
}

static void
test_response_shorter_than_header(void **state)
{
	expect_unreachable(state, SCRIPT_SHORT, 4);
}

static void
test_connect_refused_ipv6(void **state)
{
	expect_unreachable(state, SCRIPT_REFUSE, 6);
}

static void
test_proxy_down(void **state)
{
	struct fixture *f = *state;
	struct sockaddr_in sin = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof(sin);
	struct qpkt q;
	int fd;

	/* A port that was just free: bind, read the number, close. */
	fd = socket(AF_INET, SOCK_STREAM, 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sin, &len), 0);
	close(fd);
	set_proxy_port(f, ntohs(sin.sin_port));
	qpkt_make(&q, 4, 40005, 0x5555);
	dns_tcp_query(f->d, q.pkt, &q.info);
	run_until_rx(f, 1, 5.0);
	assert_unreachable(&f->rx[0], &q);
	assert_int_equal(dns_tcp_get_stats(f->d)->failed + dns_tcp_get_stats(f->d)->refused, 1);
}

static void
test_never_answers_times_out(void **state)
{
	struct fixture *f = *state;
	struct qpkt q;
	ev_tstamp start;

	server_start(f, SCRIPT_SILENT, 1);
	qpkt_make(&q, 4, 40006, 0x6666);
	ev_now_update(f->loop);
	start = ev_now(f->loop);
	dns_tcp_query(f->d, q.pkt, &q.info);
	run_until_rx(f, 1, DNS_TCP_TIMEOUT + 5.0);
	assert_true(ev_now(f->loop) - start >= DNS_TCP_TIMEOUT - 0.1);
	assert_unreachable(&f->rx[0], &q);
	server_join(&f->srv);
	assert_int_equal(f->srv.framed_len, 2 + q.msg_len);
}

/* Not a DNS message (shorter than a header): refused at once, no connection. */
static void
test_short_query_refused(void **state)
{
	struct fixture *f = *state;
	struct pktbuild_udp udp = {.sport = 40007, .dport = 53, .len_field = -1, .payload = (const uint8_t *)"abcd",
				   .payload_len = 4};
	struct qpkt q;
	struct pollfd pfd;

	server_start(f, SCRIPT_SILENT, 0);
	memset(&q, 0, sizeof(q));
	pktbuild_ip_init(&q.ip, 4, "198.18.0.2", "198.18.0.53");
	q.len = pktbuild_udp(q.pkt, sizeof(q.pkt), &q.ip, &udp);
	assert_int_equal(packet_parse(q.pkt, q.len, &q.info), 0);
	dns_tcp_query(f->d, q.pkt, &q.info);
	drain_tun(f);
	assert_int_equal(f->n_rx, 1);
	assert_unreachable(&f->rx[0], &q);
	assert_int_equal(dns_tcp_get_stats(f->d)->refused, 1);
	pfd = (struct pollfd){.fd = f->srv.listen_fd, .events = POLLIN};
	assert_int_equal(poll(&pfd, 1, 0), 0); /* nobody connected */
}

/* Beyond the cap: ICMP at once. close_all cancels silently; then there is room again. */
static void
test_cap_and_close_all(void **state)
{
	struct fixture *f = *state;
	const struct dns_tcp_stats *st = dns_tcp_get_stats(f->d);
	struct qpkt q;

	server_start(f, SCRIPT_SILENT, 0); /* never accepts: handshakes hang */
	for (int i = 0; i < DNS_TCP_MAX_INFLIGHT; i++) {
		qpkt_make(&q, 4, (uint16_t)(20000 + i), (uint16_t)i);
		dns_tcp_query(f->d, q.pkt, &q.info);
	}
	drain_tun(f);
	assert_int_equal(f->n_rx, 0);
	assert_int_equal(st->queries, DNS_TCP_MAX_INFLIGHT);
	qpkt_make(&q, 4, 30000, 0xffff);
	dns_tcp_query(f->d, q.pkt, &q.info);
	drain_tun(f);
	assert_int_equal(f->n_rx, 1);
	assert_unreachable(&f->rx[0], &q);
	assert_int_equal(st->refused, 1);

	dns_tcp_close_all(f->d);
	drain_tun(f);
	assert_int_equal(f->n_rx, 1);
	assert_int_equal(st->cancelled, DNS_TCP_MAX_INFLIGHT);

	qpkt_make(&q, 4, 30001, 0xfffe);
	dns_tcp_query(f->d, q.pkt, &q.info);
	drain_tun(f);
	assert_int_equal(f->n_rx, 1);
	assert_int_equal(st->queries, DNS_TCP_MAX_INFLIGHT + 1);
	/* teardown frees d with this query still in flight */
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_answer_ipv4, setup, teardown),
		cmocka_unit_test_setup_teardown(test_answer_ipv6, setup, teardown),
		cmocka_unit_test_setup_teardown(test_large_response, setup, teardown),
		cmocka_unit_test_setup_teardown(test_oversize_response_truncated, setup, teardown),
		cmocka_unit_test_setup_teardown(test_split_length_prefix, setup, teardown),
		cmocka_unit_test_setup_teardown(test_concurrent_queries, setup, teardown),
		cmocka_unit_test_setup_teardown(test_wrong_id, setup, teardown),
		cmocka_unit_test_setup_teardown(test_closed_early, setup, teardown),
		cmocka_unit_test_setup_teardown(test_response_shorter_than_header, setup, teardown),
		cmocka_unit_test_setup_teardown(test_connect_refused_ipv6, setup, teardown),
		cmocka_unit_test_setup_teardown(test_proxy_down, setup, teardown),
		cmocka_unit_test_setup_teardown(test_never_answers_times_out, setup, teardown),
		cmocka_unit_test_setup_teardown(test_short_query_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cap_and_close_all, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
