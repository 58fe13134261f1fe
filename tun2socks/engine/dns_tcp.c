/* SPDX-License-Identifier: MIT */
/*
 * DNS queries in flight over TCP: each one owns a SOCKS5 CONNECT, then the connected
 * socket on which it writes the framed query and reads the framed response, and a
 * timer; one teardown frees all of it. Answers are built as IP packets and written to
 * the TUN.
 *
 * One TCP connection per query keeps this simple and obviously correct (no matching of
 * out-of-order responses, no idle connections to expire). Reusing connections and
 * pipelining queries on them (RFC 7766 6.2) would save a handshake with the proxy and
 * the target per query, and the TIME_WAIT socket every closed connection leaves behind.
 */
#include "dns_tcp.h"

#include <assert.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "container_of.h"
#include "dns_msg.h"
#include "endpoint.h"
#include "list.h"
#include "log.h"
#include "proxy_hint.h"
#include "proxy_tcp.h"

/* Bytes of the original packet kept for the ICMP quote: the most an ICMPv6 error may
 * quote (1280 - IPv6 header - ICMPv6 header); ICMP for IPv4 quotes less. */
#define QUOTE_MAX (1280 - 40 - 8)
/* Seconds between warnings about failed queries. */
#define WARN_INTERVAL 5.0


struct dns_tcp {
	struct flow_env env;
	struct list_node queries; /* every query in flight */
	unsigned count;
	struct log_rate warn;
	struct dns_tcp_stats stats;
};

struct query {
	struct dns_tcp *owner;
	struct list_node link; /* in owner->queries */
	struct packet_info info; /* of the query datagram; ip_len cut to the bytes in quote */
	struct proxy_tcp *socks; /* during the handshake */
	int fd;			  /* after it, -1 before */
	ev_io io;
	ev_timer timer;
	ev_tstamp arrived;
	size_t out_off, out_len; /* framed query: out[0..out_len), sent up to out_off */
	uint8_t len_buf[2];	 /* the response's length prefix */
	size_t len_got;
	uint8_t *resp; /* allocated once the prefix has announced resp_len bytes */
	size_t resp_len, resp_got;
	uint8_t quote[QUOTE_MAX];
	uint8_t out[]; /* 2-byte big-endian length, then the query as the application sent it */
};

static void
send_unreachable(struct dns_tcp *d, const uint8_t *orig, const struct packet_info *info)
{
	(void)tun_out_unreachable(&d->env.tun, orig, info->ip_len, info, PACKET_UNREACH_PORT);
}

/* The only place a query is freed. */
static void
query_free(struct query *q)
{
	struct dns_tcp *d = q->owner;

	list_remove(&q->link);
	d->count--;
	ev_timer_stop(d->env.loop, &q->timer);
	proxy_tcp_free(q->socks);
	if (q->fd >= 0) {
		ev_io_stop(d->env.loop, &q->io);
		close(q->fd);
	}
	free(q->resp);
	free(q);
}

/* Failures come in bursts (every query while the proxy is down): warn about one in so many. */
static bool
warn_ok(struct dns_tcp *d)
{
	return log_rate_ok(&d->warn, ev_now(d->env.loop), WARN_INTERVAL, NULL);
}

/* Ends q with ICMP port unreachable to the application; err is a negative errno. */
static void
query_fail(struct query *q, int err, const char *what)
{
	struct dns_tcp *d = q->owner;
	struct t2s_endpoint dst;
	char name[T2S_ENDPOINT_STRLEN];

	d->stats.failed++;
	if (warn_ok(d)) {
		flow_env_dst_endpoint(&q->info, &dst);
		log_warn("dns over tcp to %s: %s (%s)", endpoint_format(&dst, name, sizeof(name)), what,
			 strerror(-err));
	}
	send_unreachable(d, q->quote, &q->info);
	query_free(q);
}

/*
 * Answers with the query's header and question, QR and TC set: for a response that
 * cannot be one UDP datagram (over 65507 bytes for IPv4), so the application asks
 * again over TCP (through the TUN, where it is relayed like any connection).
 */
static int
send_truncated(struct query *q)
{
	const struct tun_out *out = &q->owner->env.tun;
	const uint8_t *msg = q->out + 2;
	struct dns_query dq;
	uint8_t buf[DNS_MSG_HEADER_LEN + 255 + 4], hdr[48];
	struct iovec iov[2];
	size_t len;
	int hl;

	if (dns_msg_parse_query(msg, q->out_len - 2, &dq) < 0 || dq.question_len > sizeof(buf) - DNS_MSG_HEADER_LEN)
		return -EMSGSIZE;
	len = DNS_MSG_HEADER_LEN + dq.question_len;
	memcpy(buf, msg, len);
	/* QR, the query's opcode and RD, the response's AA, TC; the response's RA and rcode. */
	buf[2] = (uint8_t)(0x80 | (msg[2] & 0x79) | (q->resp[2] & 0x04) | 0x02);
	buf[3] = q->resp[3] & 0x8f;
	memset(buf + 4, 0, 8);
	buf[5] = 1;
	hl = packet_build_udp_header(q->info.family, q->info.dst, q->info.dport, q->info.src, q->info.sport, buf, len,
				     hdr, sizeof(hdr));
	if (hl < 0)
		return hl;
	iov[0] = (struct iovec){hdr, (size_t)hl};
	iov[1] = (struct iovec){buf, len};
	out->sendv(out->ctx, iov, 2);
	return 0;
}

/* The whole response is in q->resp: writes it to the TUN (or fails) and frees q. */
static void
deliver(struct query *q)
{
	struct dns_tcp *d = q->owner;
	int hl;

	if (memcmp(q->resp, q->out + 2, 2) != 0) {
		query_fail(q, -EBADMSG, "response with another ID");
		return;
	}
	/*
	 * Sent whatever its size. It may exceed the UDP size the application's EDNS record
	 * announced (over TCP the server does not truncate): resolvers that size their read
	 * buffer to the datagram (glibc, systemd-resolved) take it. It may exceed the TUN MTU
	 * (then it goes as IP fragments). Only a response that cannot be one datagram at all
	 * is truncated.
	 */
	hl = tun_out_send_udp(&d->env.tun, q->info.family, q->info.dst, q->info.dport, q->info.src, q->info.sport, q->resp,
			      q->resp_len);
	if (hl == -EMSGSIZE) {
		hl = send_truncated(q);
		if (hl < 0) {
			query_fail(q, hl, "response too large for a datagram");
			return;
		}
		d->stats.truncated++;
	} else if (hl < 0) {
		/* The TUN write failed (counted there): the application will ask again. */
		d->stats.failed++;
		query_free(q);
		return;
	}
	d->stats.answered++;
	histogram_observe(&d->stats.answer_time, ev_now(d->env.loop) - q->arrived);
	query_free(q);
}

static void
on_writable(struct query *q)
{
	struct ev_loop *loop = q->owner->env.loop;
	ssize_t n = send(q->fd, q->out + q->out_off, q->out_len - q->out_off, MSG_NOSIGNAL);

	if (n < 0) {
		if (errno == EAGAIN || errno == EINTR)
			return;
		query_fail(q, -errno, "sending the query");
		return;
	}
	q->out_off += (size_t)n;
	if (q->out_off < q->out_len)
		return;
	/* No shutdown(SHUT_WR): some servers take a half-close for the end of the
	 * connection and drop the answer (RFC 7766 6.2.1 asks clients not to). */
	ev_io_stop(loop, &q->io);
	ev_io_set(&q->io, q->fd, EV_READ);
	ev_io_start(loop, &q->io);
}

static void
on_readable(struct query *q)
{
	for (;;) {
		bool in_prefix = q->len_got < 2;
		uint8_t *dst = in_prefix ? q->len_buf + q->len_got : q->resp + q->resp_got;
		size_t want = in_prefix ? 2 - q->len_got : q->resp_len - q->resp_got;
		/* Exactly up to the end of the response: anything behind it is not ours. */
		ssize_t n = recv(q->fd, dst, want, 0);

		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR)
				return;
			query_fail(q, -errno, "reading the response");
			return;
		}
		if (n == 0) {
			query_fail(q, -ECONNRESET, "closed before the whole response");
			return;
		}
		if (!in_prefix) {
			q->resp_got += (size_t)n;
			if (q->resp_got == q->resp_len) {
				deliver(q);
				return;
			}
			continue;
		}
		q->len_got += (size_t)n;
		if (q->len_got < 2)
			continue;
		q->resp_len = (size_t)q->len_buf[0] << 8 | q->len_buf[1];
		if (q->resp_len < DNS_MSG_HEADER_LEN) {
			query_fail(q, -EBADMSG, "response shorter than a DNS header");
			return;
		}
		q->resp = malloc(q->resp_len);
		if (q->resp == NULL) {
			query_fail(q, -ENOMEM, "no memory for the response");
			return;
		}
	}
}

static void
dns_tcp_sock_io_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct query *q = container_of(w, struct query, io);

	(void)loop;
	assert(q->fd >= 0 && q->socks == NULL && "socket watcher fired before the handshake ended");
	assert(q->len_got <= 2 && q->resp_got <= q->resp_len && "response bookkeeping out of bounds");
	if (revents & EV_WRITE)
		on_writable(q);
	else if (revents & EV_READ)
		on_readable(q);
}

static const char *
socks_failure_str(enum proxy_tcp_failure failure)
{
	switch (failure) {
	case PROXY_TCP_UNREACHABLE:
		return "proxy unreachable";
	case PROXY_TCP_PROTOCOL:
		return "proxy protocol error";
	case PROXY_TCP_AUTH:
		return "proxy authentication failed";
	case PROXY_TCP_TARGET:
		return "the proxy could not connect";
	default:
		return "proxy failed";
	}
}

static void
dns_tcp_socks_done_cb(void *arg, const struct proxy_tcp_result *res)
{
	struct query *q = arg;
	struct ev_loop *loop = q->owner->env.loop;

	assert(q->socks != NULL && q->fd < 0 && "handshake finished twice");
	if (res->failure != PROXY_TCP_OK) {
		proxy_hint_refused(&q->owner->env, q->info.dport, res);
		query_fail(q, res->err < 0 ? res->err : -EPROTO,
			   res->failure == PROXY_TCP_TLS ? res->reason : socks_failure_str(res->failure));
		return;
	}
	q->fd = proxy_tcp_take_fd(q->socks);
	proxy_tcp_free(q->socks);
	q->socks = NULL;
	ev_io_init(&q->io, dns_tcp_sock_io_cb, q->fd, EV_WRITE);
	ev_io_start(loop, &q->io);
}

static void
dns_tcp_timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct query *q = container_of(w, struct query, timer);

	(void)loop;
	(void)revents;
	assert((q->socks != NULL) != (q->fd >= 0) && "query neither in its handshake nor connected");
	query_fail(q, -ETIMEDOUT, "no response in time");
}

struct dns_tcp *
dns_tcp_new(const struct flow_env *env)
{
	struct dns_tcp *d = calloc(1, sizeof(*d));

	if (d == NULL)
		return NULL;
	d->env = *env;
	list_init(&d->queries);
	histogram_init(&d->stats.answer_time, histogram_latency, HISTOGRAM_LATENCY_N);
	return d;
}

void
dns_tcp_free(struct dns_tcp *d)
{
	if (d == NULL)
		return;
	dns_tcp_close_all(d);
	free(d);
}

void
dns_tcp_query(struct dns_tcp *d, const uint8_t *pkt, const struct packet_info *info)
{
	dns_tcp_query_to(d, pkt, info, NULL);
}

void
dns_tcp_query_to(struct dns_tcp *d, const uint8_t *pkt, const struct packet_info *info,
		 const struct t2s_endpoint *server)
{
	const uint8_t *msg = pkt + info->l4_off + 8;
	size_t len = info->udp_payload_len;
	struct t2s_endpoint dst;
	struct query *q;
	int err;

	if (*d->env.stopping || info->proto != PACKET_PROTO_UDP || info->fragment || info->dport == 0) {
		d->stats.ignored++;
		return;
	}
	if (len < DNS_MSG_HEADER_LEN || d->count >= DNS_TCP_MAX_INFLIGHT) {
		d->stats.refused++;
		send_unreachable(d, pkt, info);
		return;
	}
	q = malloc(sizeof(*q) + 2 + len);
	if (q == NULL) {
		d->stats.refused++;
		send_unreachable(d, pkt, info);
		return;
	}
	memset(q, 0, sizeof(*q));
	q->owner = d;
	q->fd = -1;
	q->arrived = ev_now(d->env.loop);
	q->info = *info;
	if (q->info.ip_len > QUOTE_MAX)
		q->info.ip_len = QUOTE_MAX;
	memcpy(q->quote, pkt, q->info.ip_len);
	q->out[0] = (uint8_t)(len >> 8);
	q->out[1] = (uint8_t)len;
	memcpy(q->out + 2, msg, len);
	q->out_len = 2 + len;
	if (server != NULL)
		dst = *server;
	else
		flow_env_dst_endpoint(info, &dst);
	q->socks = proxy_tcp_new(d->env.loop, d->env.proxy, &dst, dns_tcp_socks_done_cb, q);
	if (q->socks == NULL) {
		err = -errno;
		d->stats.refused++;
		if (fd_pressure_is_exhaustion(err))
			fd_pressure_refused(d->env.fd_pressure, ev_now(d->env.loop), "DNS over TCP", err);
		else if (warn_ok(d))
			log_warn("dns over tcp: cannot reach the proxy: %s", strerror(-err));
		send_unreachable(d, q->quote, &q->info);
		free(q);
		return;
	}
	fd_pressure_ok(d->env.fd_pressure, ev_now(d->env.loop));
	ev_timer_init(&q->timer, dns_tcp_timer_cb, DNS_TCP_TIMEOUT, 0);
	ev_timer_start(d->env.loop, &q->timer);
	list_push_front(&d->queries, &q->link);
	d->count++;
	d->stats.queries++;
}

void
dns_tcp_close_all(struct dns_tcp *d)
{
	while (!list_empty(&d->queries)) {
		d->stats.cancelled++;
		query_free(list_entry(list_first(&d->queries), struct query, link));
	}
}

const struct dns_tcp_stats *
dns_tcp_get_stats(const struct dns_tcp *d)
{
	return &d->stats;
}
