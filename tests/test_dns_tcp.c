/* SPDX-License-Identifier: MIT */
/*
 * dns_tcp against the in-loop fake SOCKS5 server (tests/support/fake_socks5.c), all on
 * the test's own libev loop, no threads. The fake answers CONNECT; the test takes the
 * CONNECT's socket (fake_socks5_take_target) and plays the DNS-over-TCP server on it,
 * well or badly. A hand-made flow_env whose TUN is one end of a SOCK_SEQPACKET
 * socketpair: the test reads what dns_tcp writes to the "TUN" from the other end and
 * parses it.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
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
#include "container_of.h"
#include "dns_tcp.h"
#include "packet.h"
#include "flow_env.h"
#include "ip_frag.h"
#include "support/fake_socks5.h"
#include "support/loop.h"
#include "support/pktbuild.h"

enum script {
	SCRIPT_ANSWER,	     /* the query with QR/RA set and one A record */
	SCRIPT_ANSWER_SIZED, /* the query with QR set, padded to resp_size bytes */
	SCRIPT_WRONG_ID,
	SCRIPT_CLOSE_EARLY,  /* prefix and half the response, then FIN */
	SCRIPT_SILENT,	     /* reads the query, never answers */
	SCRIPT_SPLIT_PREFIX, /* one byte of the prefix, then (once dns_tcp read it) the rest */
	SCRIPT_SHORT,	     /* a 4-byte "response" */
	SCRIPT_REFUSE,	     /* REP 5 to CONNECT (the fake answers it) */
};

#define RX_SLOTS 16
#define RX_CAP 8192
#define TARGETS 4

struct fixture;

/* One CONNECT's socket, taken from the fake: the DNS server's side of one query. */
struct target {
	struct fixture *f;
	int fd; /* -1: free or closed */
	ev_io io;
	uint8_t in[600]; /* the query, with its prefix */
	size_t in_len;
	bool queried;		 /* the whole query is in */
	const uint8_t *out;	 /* what is left to send */
	size_t out_len;
	bool shut_after;	 /* SHUT_WR once out is sent */
	unsigned split_ticks;	 /* SCRIPT_SPLIT_PREFIX: prepare watchers since the first byte */
	bool split_pending;
	uint8_t resp[2 + 65535];
};

struct server {
	struct fake_socks5 *fake;
	enum script script;
	size_t resp_size;
	ev_prepare adopt; /* takes the fake's connected sockets before each poll */
	struct t2s_endpoint dst; /* the last CONNECT's destination */
	uint8_t framed[600];	 /* the last query, with its prefix */
	size_t framed_len;
	unsigned taken;	 /* sockets taken from the fake */
	unsigned served; /* whole queries read */
	unsigned closed; /* connections the client closed (EOF or reset seen) */
	bool released;	 /* SCRIPT_SPLIT_PREFIX: the rest was sent */
	struct target t[TARGETS];
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

/* ---- the DNS server, on the test's loop ---- */

/* Builds the framed response to the query in t->in into t->resp; returns its length. */
static size_t
make_response(struct target *t, enum script script, size_t resp_size)
{
	const uint8_t *q = t->in + 2;
	size_t qlen = t->in_len - 2, len;
	uint8_t *r = t->resp + 2;
	static const uint8_t a_record[] = {0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 192, 0, 2, 1};

	memcpy(r, q, qlen);
	r[2] |= 0x80;
	r[3] |= 0x80;
	switch (script) {
	case SCRIPT_ANSWER_SIZED:
		len = resp_size;
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
	if (script == SCRIPT_WRONG_ID)
		r[1] ^= 0x5a;
	t->resp[0] = (uint8_t)(len >> 8);
	t->resp[1] = (uint8_t)len;
	return 2 + len;
}

static void
target_close(struct target *t)
{
	if (t->fd < 0)
		return;
	ev_io_stop(t->f->loop, &t->io);
	close(t->fd);
	t->fd = -1;
}

/* Sends what is queued, as far as the socket takes it; then the FIN if asked. */
static void
target_flush(struct target *t)
{
	while (t->out_len > 0) {
		ssize_t n = send(t->fd, t->out, t->out_len, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			break;
		if (n < 0) {
			t->out_len = 0; /* the client is gone: EOF or reset comes on read */
			break;
		}
		t->out += n;
		t->out_len -= (size_t)n;
	}
	if (t->out_len == 0 && t->shut_after) {
		t->shut_after = false;
		shutdown(t->fd, SHUT_WR);
	}
	ev_io_stop(t->f->loop, &t->io);
	ev_io_set(&t->io, t->fd, EV_READ | (t->out_len > 0 ? EV_WRITE : 0));
	ev_io_start(t->f->loop, &t->io);
}

/* The whole query is in: answers it as the script says. */
static void
target_answer(struct target *t)
{
	struct server *s = &t->f->srv;
	size_t n;

	t->queried = true;
	memcpy(s->framed, t->in, t->in_len);
	s->framed_len = t->in_len;
	s->served++;
	if (s->script == SCRIPT_SILENT)
		return;
	n = make_response(t, s->script, s->resp_size);
	t->out = t->resp;
	switch (s->script) {
	case SCRIPT_CLOSE_EARLY:
		t->out_len = 2 + (n - 2) / 2;
		t->shut_after = true;
		break;
	case SCRIPT_SPLIT_PREFIX:
		t->out_len = 1;
		t->split_pending = true;
		t->split_ticks = 0;
		break;
	default:
		t->out_len = n;
		break;
	}
	target_flush(t);
}

static void
target_io_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct target *t = container_of(w, struct target, io);
	uint8_t sink[512];
	ssize_t n;

	(void)loop;
	if (revents & EV_WRITE) {
		target_flush(t);
	}
	if (!(revents & EV_READ))
		return;
	if (t->queried) {
		n = recv(t->fd, sink, sizeof(sink), 0); /* nothing more is expected: wait for the close */
	} else {
		size_t want = t->in_len < 2 ? 2 - t->in_len : 2 + ((size_t)t->in[0] << 8 | t->in[1]) - t->in_len;

		assert_true(t->in_len + want <= sizeof(t->in));
		n = recv(t->fd, t->in + t->in_len, want, 0);
		if (n > 0) {
			t->in_len += (size_t)n;
			if (t->in_len >= 2 && t->in_len == 2 + ((size_t)t->in[0] << 8 | t->in[1]))
				target_answer(t);
		}
	}
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		/* The client closes once it has its answer (or gave up). */
		target_close(t);
		t->f->srv.closed++;
	}
}

/*
 * Before each poll: takes the sockets of CONNECTs the fake answered (their query may be
 * queued already), and lets a split response's rest go. SCRIPT_SPLIT_PREFIX: the first
 * byte is sent in the callbacks of iteration N; loopback queues it on dns_tcp's socket
 * within send, so the poll of N+1 reports it and dns_tcp reads it in N+1. The prepare
 * watcher of N+2 (the second one after the send) lets the rest go, so it cannot
 * coalesce with that byte.
 */
static void
adopt_cb(struct ev_loop *loop, ev_prepare *w, int revents)
{
	struct server *s = container_of(w, struct server, adopt);
	struct fixture *f = container_of(s, struct fixture, srv);
	struct t2s_endpoint dst;
	int fd;

	(void)revents;
	while ((fd = fake_socks5_take_target(s->fake, &dst)) >= 0) {
		struct target *t = NULL;

		for (size_t i = 0; i < TARGETS && t == NULL; i++)
			if (s->t[i].f == NULL)
				t = &s->t[i];
		assert_non_null(t);
		t->f = f;
		t->fd = fd;
		s->dst = dst;
		s->taken++;
		ev_io_init(&t->io, target_io_cb, fd, EV_READ);
		ev_io_start(loop, &t->io);
	}
	for (size_t i = 0; i < TARGETS; i++) {
		struct target *t = &s->t[i];

		if (t->fd >= 0 && t->split_pending && ++t->split_ticks == 2) {
			t->split_pending = false;
			s->released = true;
			t->out = t->resp + 1;
			t->out_len = 2 + ((size_t)t->resp[0] << 8 | t->resp[1]) - 1;
			target_flush(t);
		}
	}
}

static void
server_start(struct fixture *f, enum script script)
{
	f->srv.script = script;
	if (script == SCRIPT_REFUSE)
		fake_socks5_set_connect_rep(f->srv.fake, 5);
}

struct closed_want {
	const struct server *s;
	unsigned n;
};

static bool
closed_reached(void *arg)
{
	const struct closed_want *w = arg;

	return w->s->closed >= w->n;
}

/* Runs the loop until the client closed n connections (it does once it has its answer). */
static void
server_wait_closed(struct fixture *f, unsigned n)
{
	struct closed_want w = {&f->srv, n};

	assert_true(loop_run_until(f->loop, closed_reached, &w, 5.0));
	assert_int_equal(f->srv.closed, n);
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
	drain_tun(container_of(w, struct fixture, tun_io));
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
	for (size_t i = 0; i < TARGETS; i++)
		f->srv.t[i].fd = -1;
	f->srv.fake = fake_socks5_new(f->loop);
	f->proxy = *fake_socks5_server(f->srv.fake);
	ev_prepare_init(&f->srv.adopt, adopt_cb);
	ev_prepare_start(f->loop, &f->srv.adopt);
	ev_io_init(&f->tun_io, tun_peer_io_cb, f->tun_peer, EV_READ);
	ev_io_start(f->loop, &f->tun_io);
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

	dns_tcp_free(f->d);
	for (size_t i = 0; i < TARGETS; i++)
		target_close(&f->srv.t[i]);
	fake_socks5_free(f->srv.fake);
	ev_prepare_stop(f->loop, &f->srv.adopt);
	ev_io_stop(f->loop, &f->tun_io);
	close(f->tun_peer);
	close(f->tun_fd);
	ev_loop_destroy(f->loop);
	free(f);
	return 0;
}

struct rx_want {
	const struct fixture *f;
	size_t n;
};

static bool
rx_reached(void *arg)
{
	const struct rx_want *w = arg;

	return w->f->n_rx >= w->n;
}

/* Runs the loop until n packets came out of the TUN; fails after limit seconds. */
static void
run_until_rx(struct fixture *f, size_t n, double limit)
{
	struct rx_want w = {f, n};

	(void)loop_run_until(f->loop, rx_reached, &w, limit);
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
	static const uint8_t dst_addr[] = {198, 18, 0, 53};
	struct fixture *f = *state;
	struct qpkt q;
	uint8_t want[128];
	size_t want_len;

	server_start(f, SCRIPT_ANSWER);
	qpkt_make(&q, 4, 40000, 0x1234);
	dns_tcp_query(f->d, q.pkt, &q.info);
	run_until_rx(f, 1, 5.0);
	want_len = expected_answer(&q, want);
	assert_udp_reply(&f->rx[0], &q, want, want_len);
	server_wait_closed(f, 1);
	assert_int_equal(fake_socks5_get_stats(f->srv.fake)->connects, 1);
	assert_int_equal(f->srv.dst.type, T2S_ENDPOINT_IPV4);
	assert_memory_equal(f->srv.dst.u.ipv4, dst_addr, sizeof(dst_addr));
	assert_int_equal(f->srv.dst.port, 53);
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
	static const uint8_t dst_addr[] = {0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x53};
	struct fixture *f = *state;
	struct qpkt q;
	uint8_t want[128];
	size_t want_len;

	server_start(f, SCRIPT_ANSWER);
	qpkt_make(&q, 6, 5353, 0xbeef);
	dns_tcp_query(f->d, q.pkt, &q.info);
	run_until_rx(f, 1, 5.0);
	want_len = expected_answer(&q, want);
	assert_udp_reply(&f->rx[0], &q, want, want_len);
	server_wait_closed(f, 1);
	assert_int_equal(fake_socks5_get_stats(f->srv.fake)->connects, 1);
	assert_int_equal(f->srv.dst.type, T2S_ENDPOINT_IPV6);
	assert_memory_equal(f->srv.dst.u.ipv6, dst_addr, sizeof(dst_addr));
	assert_int_equal(f->srv.dst.port, 53);
}

/* A response longer than the query and than any single read buffer is passed on whole. */
static void
test_large_response(void **state)
{
	struct fixture *f = *state;
	struct qpkt q;
	const uint8_t *want = f->srv.t[0].resp + 2;

	f->srv.resp_size = 4000;
	server_start(f, SCRIPT_ANSWER_SIZED);
	qpkt_make(&q, 4, 40001, 0x0102);
	dns_tcp_query(f->d, q.pkt, &q.info);
	run_until_rx(f, 1, 5.0);
	server_wait_closed(f, 1);
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
	server_start(f, SCRIPT_ANSWER_SIZED);
	qpkt_make(&q, 4, 40002, 0xabcd);
	dns_tcp_query(f->d, q.pkt, &q.info);
	run_until_rx(f, 1, 5.0);
	server_wait_closed(f, 1);
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

	server_start(f, SCRIPT_SPLIT_PREFIX);
	qpkt_make(&q, 4, 40003, 0x7777);
	dns_tcp_query(f->d, q.pkt, &q.info);
	run_until_rx(f, 1, 5.0);
	assert_true(f->srv.released);
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

	server_start(f, SCRIPT_ANSWER);
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
	server_wait_closed(f, 3);
	assert_int_equal(f->srv.served, 3);
}

static void
expect_unreachable(void **state, enum script script, int family)
{
	struct fixture *f = *state;
	struct qpkt q;

	server_start(f, script);
	qpkt_make(&q, family, 40004, 0x4242);
	dns_tcp_query(f->d, q.pkt, &q.info);
	run_until_rx(f, 1, 5.0);
	assert_unreachable(&f->rx[0], &q);
	assert_int_equal(dns_tcp_get_stats(f->d)->failed, 1);
	assert_int_equal(dns_tcp_get_stats(f->d)->answered, 0);
	assert_int_equal(fake_socks5_get_stats(f->srv.fake)->connects, 1);
	if (script == SCRIPT_REFUSE) {
		assert_int_equal(fake_socks5_get_stats(f->srv.fake)->connected, 0);
		assert_int_equal(f->srv.taken, 0);
	} else {
		server_wait_closed(f, 1);
	}
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
	struct qpkt q;

	fake_socks5_refused_server(&f->proxy); /* a port that was just free */
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

	server_start(f, SCRIPT_SILENT);
	qpkt_make(&q, 4, 40006, 0x6666);
	ev_now_update(f->loop);
	start = ev_now(f->loop);
	dns_tcp_query(f->d, q.pkt, &q.info);
	run_until_rx(f, 1, DNS_TCP_TIMEOUT + 5.0);
	assert_true(ev_now(f->loop) - start >= DNS_TCP_TIMEOUT - 0.1);
	assert_unreachable(&f->rx[0], &q);
	server_wait_closed(f, 1);
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

	server_start(f, SCRIPT_SILENT);
	memset(&q, 0, sizeof(q));
	pktbuild_ip_init(&q.ip, 4, "198.18.0.2", "198.18.0.53");
	q.len = pktbuild_udp(q.pkt, sizeof(q.pkt), &q.ip, &udp);
	assert_int_equal(packet_parse(q.pkt, q.len, &q.info), 0);
	dns_tcp_query(f->d, q.pkt, &q.info);
	drain_tun(f);
	assert_int_equal(f->n_rx, 1);
	assert_unreachable(&f->rx[0], &q);
	assert_int_equal(dns_tcp_get_stats(f->d)->refused, 1);
	/* Nobody connected: a loopback connect would be in the listener's queue by now,
	 * and one iteration that does not wait would accept it. */
	ev_run(f->loop, EVRUN_NOWAIT);
	assert_int_equal(fake_socks5_get_stats(f->srv.fake)->accepted, 0);
}

/* Beyond the cap: ICMP at once. close_all cancels silently; then there is room again. */
static void
test_cap_and_close_all(void **state)
{
	struct fixture *f = *state;
	const struct dns_tcp_stats *st = dns_tcp_get_stats(f->d);
	struct qpkt q;

	/* The loop never runs, so the fake never accepts: handshakes hang. */
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
