/* SPDX-License-Identifier: MIT */
/*
 * The fake server is a fixed table of connections, each with its control socket, its
 * relay socket and the bytes of the handshake read so far. Non-blocking sockets; the
 * handshake is parsed from accumulated bytes, so split or coalesced reads are fine.
 */
#include "fake_socks5.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "container_of.h"
#include "loop.h"
#include "socks5_proto.h"

enum stage {
	STAGE_FREE,
	STAGE_GREETING,
	STAGE_REQUEST,
	STAGE_HELD,
	STAGE_ASSOCIATED,
	STAGE_CONNECTED, /* CONNECT answered with REP 0: the socket waits for the test */
};

struct conn {
	struct fake_socks5 *f;
	enum stage stage;
	int fd;
	ev_io io;
	int udp_fd;
	ev_io udp_io;
	struct sockaddr_in relay;
	bool is_connect;
	unsigned long seq; /* accept order */
	struct t2s_endpoint dst;
	uint8_t buf[600];
	size_t len;
};

struct fake_socks5 {
	struct ev_loop *loop;
	int listen_fd;
	int filler_fd; /* fake_socks5_fill_backlog's connection, or -1 */
	ev_io listen_io;
	struct socks5_server server;
	enum fake_socks5_reply reply;
	enum fake_socks5_relay relay;
	int connect_rep;
	unsigned long next_seq;
	struct fake_socks5_stats stats;
	struct conn conns[FAKE_SOCKS5_MAX_CONNS];
	struct script *script; /* fake_socks5_set_script; NULL: not scripted */
};

static void script_input(struct conn *c);
static void script_free(struct fake_socks5 *f);
static void script_conn_reset(struct conn *c);

static struct sockaddr_in
loopback4(uint16_t port)
{
	struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons(port)};

	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	return sin;
}

static void
conn_close(struct conn *c)
{
	struct fake_socks5 *f = c->f;

	if (c->stage == STAGE_FREE)
		return;
	if (c->stage == STAGE_HELD)
		f->stats.held--;
	ev_io_stop(f->loop, &c->io);
	ev_io_stop(f->loop, &c->udp_io);
	close(c->fd);
	if (c->udp_fd >= 0)
		close(c->udp_fd);
	c->stage = STAGE_FREE;
	f->stats.live--;
}

static void
send_all(int fd, const uint8_t *buf, size_t len)
{
	/* Replies are a few bytes on a fresh loopback connection: they always fit. */
	assert_int_equal(send(fd, buf, len, MSG_NOSIGNAL), (ssize_t)len);
}

static void
answer_ok(struct conn *c)
{
	uint8_t rep[10] = {5, 0, 0, SOCKS5_ATYP_IPV4, 127, 0, 0, 1};

	memcpy(rep + 8, &c->relay.sin_port, 2);
	send_all(c->fd, rep, sizeof(rep));
	c->stage = STAGE_ASSOCIATED;
	c->f->stats.associated++;
}

/* Answers a CONNECT; returns false if c was closed (a failure). */
static bool
answer_connect(struct conn *c, int rep)
{
	uint8_t out[10] = {5, (uint8_t)rep, 0, SOCKS5_ATYP_IPV4, 127, 0, 0, 1, 0, 1};

	send_all(c->fd, out, sizeof(out));
	if (rep != 0) {
		conn_close(c);
		return false;
	}
	ev_io_stop(c->f->loop, &c->io);
	ev_io_stop(c->f->loop, &c->udp_io);
	close(c->udp_fd);
	c->udp_fd = -1;
	c->stage = STAGE_CONNECTED;
	c->f->stats.connected++;
	return true;
}

/* The destination of a request whose need bytes are in c->buf. */
static void
decode_dst(struct conn *c)
{
	const uint8_t *b = c->buf;
	struct t2s_endpoint *d = &c->dst;

	memset(d, 0, sizeof(*d));
	switch (b[3]) {
	case SOCKS5_ATYP_IPV4:
		d->type = T2S_ENDPOINT_IPV4;
		memcpy(d->u.ipv4, b + 4, 4);
		d->port = (uint16_t)(b[8] << 8 | b[9]);
		break;
	case SOCKS5_ATYP_IPV6:
		d->type = T2S_ENDPOINT_IPV6;
		memcpy(d->u.ipv6, b + 4, 16);
		d->port = (uint16_t)(b[20] << 8 | b[21]);
		break;
	default:
		d->type = T2S_ENDPOINT_DOMAIN;
		d->u.domain.len = b[4];
		memcpy(d->u.domain.name, b + 5, b[4]);
		d->u.domain.name[b[4]] = '\0';
		d->port = (uint16_t)(b[5 + b[4]] << 8 | b[6 + b[4]]);
		break;
	}
}

/* Consumes what the handshake needs from c->buf; returns false if c was closed. */
static bool
advance(struct conn *c)
{
	static const uint8_t rep7[10] = {5, SOCKS5_REP_CMD_UNSUPPORTED, 0, SOCKS5_ATYP_IPV4};
	size_t need;

	if (c->stage == STAGE_GREETING) {
		if (c->len < 2 || c->len < 2u + c->buf[1])
			return true;
		if (c->f->reply == FAKE_SOCKS5_REPLY_NO_GREETING) {
			conn_close(c);
			return false;
		}
		need = 2u + c->buf[1];
		send_all(c->fd, (const uint8_t[]){5, 0}, 2);
		memmove(c->buf, c->buf + need, c->len - need);
		c->len -= need;
		c->stage = STAGE_REQUEST;
	}
	if (c->stage != STAGE_REQUEST || c->len < 5)
		return true;
	assert_true(c->buf[1] == SOCKS5_CMD_UDP_ASSOCIATE || c->buf[1] == SOCKS5_CMD_CONNECT);
	switch (c->buf[3]) {
	case SOCKS5_ATYP_IPV4:
		need = 10;
		break;
	case SOCKS5_ATYP_IPV6:
		need = 22;
		break;
	default:
		need = 7u + c->buf[4];
		break;
	}
	if (c->len < need)
		return true;
	if (c->buf[1] == SOCKS5_CMD_CONNECT) {
		c->is_connect = true;
		decode_dst(c);
		c->f->stats.connects++;
		/* Bytes the client sent after the request stay for the target: none are
		 * expected before the reply, so the buffer is simply dropped. */
		assert_int_equal(c->len, need);
		c->len = 0;
		if (c->f->connect_rep == FAKE_SOCKS5_CONNECT_HOLD) {
			c->stage = STAGE_HELD;
			c->f->stats.held++;
			ev_io_stop(c->f->loop, &c->io);
			return true;
		}
		return answer_connect(c, c->f->connect_rep);
	}
	c->len = 0;
	switch (c->f->reply) {
	case FAKE_SOCKS5_REPLY_OK:
		answer_ok(c);
		break;
	case FAKE_SOCKS5_REPLY_UNSUPPORTED:
		send_all(c->fd, rep7, sizeof(rep7));
		conn_close(c);
		return false;
	case FAKE_SOCKS5_REPLY_HOLD:
		c->stage = STAGE_HELD;
		c->f->stats.held++;
		break;
	case FAKE_SOCKS5_REPLY_CLOSE:
	case FAKE_SOCKS5_REPLY_NO_GREETING:
		conn_close(c);
		return false;
	case FAKE_SOCKS5_REPLY_RESET:
		/* Closing with a zero linger time sends RST instead of FIN. */
		(void)setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &(struct linger){.l_onoff = 1, .l_linger = 0},
				 sizeof(struct linger));
		conn_close(c);
		return false;
	}
	return true;
}

static void
conn_io_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct conn *c = container_of(w, struct conn, io);
	ssize_t n;

	(void)loop;
	(void)revents;
	assert_true(c->stage != STAGE_FREE);
	if (c->len == sizeof(c->buf))
		c->len = 0; /* after the handshake, control bytes are ignored */
	n = recv(c->fd, c->buf + c->len, sizeof(c->buf) - c->len, 0);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		conn_close(c);
		return;
	}
	c->len += (size_t)n;
	if (c->f->script != NULL)
		script_input(c);
	else if (c->stage == STAGE_GREETING || c->stage == STAGE_REQUEST)
		(void)advance(c);
	else
		c->len = 0;
}

static void
conn_udp_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct conn *c = container_of(w, struct conn, udp_io);
	struct fake_socks5 *f = c->f;
	struct sockaddr_storage peer;
	socklen_t peer_len = sizeof(peer);
	uint8_t buf[2048], out[2048];
	struct t2s_endpoint dst;
	uint8_t frag;
	ssize_t n;
	int hlen, ohlen;

	(void)loop;
	(void)revents;
	n = recvfrom(c->udp_fd, buf, sizeof(buf), 0, (struct sockaddr *)&peer, &peer_len);
	if (n <= 0)
		return;
	hlen = socks5_proto_decode_udp_header(buf, (size_t)n, &frag, &dst);
	assert_true(hlen > 0);
	f->stats.datagrams++;
	f->stats.last_dst = dst;
	f->stats.last_len = (size_t)n - (size_t)hlen;
	assert_true(f->stats.last_len <= sizeof(f->stats.last_payload));
	memcpy(f->stats.last_payload, buf + hlen, f->stats.last_len);
	if (f->relay == FAKE_SOCKS5_RELAY_SILENT)
		return;
	ohlen = socks5_proto_encode_udp_header(out, sizeof(out), &dst);
	assert_true(ohlen > 0);
	memcpy(out + ohlen, buf + hlen, f->stats.last_len);
	(void)sendto(c->udp_fd, out, (size_t)ohlen + f->stats.last_len, 0, (struct sockaddr *)&peer, peer_len);
}

static void
listen_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct fake_socks5 *f = container_of(w, struct fake_socks5, listen_io);
	struct sockaddr_in sin = loopback4(0);
	socklen_t len = sizeof(sin);
	struct conn *c = NULL;
	int fd;

	(void)revents;
	fd = accept4(f->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (fd < 0)
		return;
	for (size_t i = 0; i < FAKE_SOCKS5_MAX_CONNS && c == NULL; i++)
		if (f->conns[i].stage == STAGE_FREE)
			c = &f->conns[i];
	assert_non_null(c);
	script_conn_reset(c);
	memset(c, 0, sizeof(*c));
	c->f = f;
	c->fd = fd;
	c->seq = f->next_seq++;
	c->stage = STAGE_GREETING;
	c->udp_fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	assert_true(c->udp_fd >= 0);
	assert_int_equal(bind(c->udp_fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	assert_int_equal(getsockname(c->udp_fd, (struct sockaddr *)&c->relay, &len), 0);
	ev_io_init(&c->io, conn_io_cb, fd, EV_READ);
	ev_io_start(loop, &c->io);
	ev_io_init(&c->udp_io, conn_udp_cb, c->udp_fd, EV_READ);
	ev_io_start(loop, &c->udp_io);
	f->stats.accepted++;
	f->stats.live++;
}

/* The loopback address of family, port 0. */
static socklen_t
loopback_any(int family, struct sockaddr_storage *ss)
{
	memset(ss, 0, sizeof(*ss));
	if (family == AF_INET6) {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;

		sin6->sin6_family = AF_INET6;
		sin6->sin6_addr = in6addr_loopback;
		return sizeof(*sin6);
	}
	*(struct sockaddr_in *)ss = loopback4(0);
	return sizeof(struct sockaddr_in);
}

static struct fake_socks5 *
fake_new(struct ev_loop *loop, int family)
{
	struct fake_socks5 *f = calloc(1, sizeof(*f));
	struct sockaddr_storage ss;
	socklen_t len = loopback_any(family, &ss);

	assert_non_null(f);
	f->loop = loop;
	f->filler_fd = -1;
	f->listen_fd = socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	assert_true(f->listen_fd >= 0);
	if (bind(f->listen_fd, (struct sockaddr *)&ss, len) < 0) {
		assert_int_equal(family, AF_INET6); /* 127.0.0.1 is always there */
		close(f->listen_fd);
		free(f);
		return NULL;
	}
	assert_int_equal(listen(f->listen_fd, FAKE_SOCKS5_MAX_CONNS), 0);
	assert_int_equal(getsockname(f->listen_fd, (struct sockaddr *)&ss, &len), 0);
	memcpy(&f->server.addr, &ss, len);
	f->server.addrlen = len;
	ev_io_init(&f->listen_io, listen_cb, f->listen_fd, EV_READ);
	ev_io_start(loop, &f->listen_io);
	return f;
}

struct fake_socks5 *
fake_socks5_new(struct ev_loop *loop)
{
	return fake_new(loop, AF_INET);
}

void
fake_socks5_free(struct fake_socks5 *f)
{
	if (f == NULL)
		return;
	for (size_t i = 0; i < FAKE_SOCKS5_MAX_CONNS; i++) {
		script_conn_reset(&f->conns[i]);
		conn_close(&f->conns[i]);
	}
	script_free(f);
	ev_io_stop(f->loop, &f->listen_io);
	if (f->filler_fd >= 0)
		close(f->filler_fd);
	close(f->listen_fd);
	free(f);
}

void
fake_socks5_fill_backlog(struct fake_socks5 *f)
{
	assert_true(f->filler_fd < 0);
	ev_io_stop(f->loop, &f->listen_io);
	assert_int_equal(listen(f->listen_fd, 0), 0); /* room for one connection not accepted */
	f->filler_fd = socket(f->server.addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(f->filler_fd >= 0);
	/* Completes on loopback within connect(): the handshake needs no accept. */
	assert_int_equal(connect(f->filler_fd, (const struct sockaddr *)&f->server.addr, f->server.addrlen), 0);
}

void
fake_socks5_free_backlog(struct fake_socks5 *f)
{
	int fd;

	assert_true(f->filler_fd >= 0);
	/* The filler is first in the queue (it was there before anything else could be). */
	fd = accept4(f->listen_fd, NULL, NULL, SOCK_CLOEXEC);
	assert_true(fd >= 0);
	close(fd);
	close(f->filler_fd);
	f->filler_fd = -1;
	assert_int_equal(listen(f->listen_fd, FAKE_SOCKS5_MAX_CONNS), 0);
	ev_io_start(f->loop, &f->listen_io);
}

const struct socks5_server *
fake_socks5_server(const struct fake_socks5 *f)
{
	return &f->server;
}

void
fake_socks5_set_reply(struct fake_socks5 *f, enum fake_socks5_reply reply)
{
	f->reply = reply;
}

void
fake_socks5_set_relay(struct fake_socks5 *f, enum fake_socks5_relay relay)
{
	f->relay = relay;
}

void
fake_socks5_set_connect_rep(struct fake_socks5 *f, int rep)
{
	f->connect_rep = rep;
}

void
fake_socks5_set_rcvbuf(struct fake_socks5 *f, int bytes)
{
	assert_int_equal(setsockopt(f->listen_fd, SOL_SOCKET, SO_RCVBUF, &bytes, sizeof(bytes)), 0);
}

int
fake_socks5_take_target(struct fake_socks5 *f, struct t2s_endpoint *dst)
{
	struct conn *best = NULL;
	int fd;

	for (size_t i = 0; i < FAKE_SOCKS5_MAX_CONNS; i++)
		if (f->conns[i].stage == STAGE_CONNECTED && (best == NULL || f->conns[i].seq < best->seq))
			best = &f->conns[i];
	if (best == NULL)
		return -1;
	if (dst != NULL)
		*dst = best->dst;
	fd = best->fd;
	best->stage = STAGE_FREE;
	f->stats.live--;
	return fd;
}

void
fake_socks5_release(struct fake_socks5 *f)
{
	for (size_t i = 0; i < FAKE_SOCKS5_MAX_CONNS; i++)
		if (f->conns[i].stage == STAGE_HELD) {
			f->stats.held--;
			if (f->conns[i].is_connect)
				(void)answer_connect(&f->conns[i], 0);
			else
				answer_ok(&f->conns[i]);
		}
}

void
fake_socks5_close_all(struct fake_socks5 *f)
{
	for (size_t i = 0; i < FAKE_SOCKS5_MAX_CONNS; i++)
		if (f->conns[i].stage == STAGE_ASSOCIATED)
			conn_close(&f->conns[i]);
}

/* The address of our own UDP socket connected to relay, or false if there is none. */
static bool
client_of(const struct sockaddr_in *relay, struct sockaddr_in *client)
{
	for (int fd = 3; fd < 1024; fd++) {
		struct sockaddr_in peer;
		socklen_t plen = sizeof(peer), clen = sizeof(*client);
		int type;
		socklen_t tlen = sizeof(type);

		if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &tlen) == 0 && type == SOCK_DGRAM &&
		    getpeername(fd, (struct sockaddr *)&peer, &plen) == 0 && peer.sin_family == AF_INET &&
		    peer.sin_port == relay->sin_port && peer.sin_addr.s_addr == relay->sin_addr.s_addr)
			return getsockname(fd, (struct sockaddr *)client, &clen) == 0;
	}
	return false;
}

unsigned
fake_socks5_send_to_clients(struct fake_socks5 *f, const struct t2s_endpoint *src, const uint8_t *payload,
			    size_t len)
{
	unsigned sent = 0;
	uint8_t out[2048];
	int hlen = socks5_proto_encode_udp_header(out, sizeof(out), src);

	assert_true(hlen > 0 && (size_t)hlen + len <= sizeof(out));
	memcpy(out + hlen, payload, len);
	for (size_t i = 0; i < FAKE_SOCKS5_MAX_CONNS; i++) {
		struct conn *c = &f->conns[i];
		struct sockaddr_in client;

		if (c->stage != STAGE_ASSOCIATED || !client_of(&c->relay, &client))
			continue;
		if (sendto(c->udp_fd, out, (size_t)hlen + len, 0, (struct sockaddr *)&client, sizeof(client)) ==
		    (ssize_t)hlen + (ssize_t)len)
			sent++;
	}
	return sent;
}

const struct fake_socks5_stats *
fake_socks5_get_stats(const struct fake_socks5 *f)
{
	return &f->stats;
}

struct live_want {
	const struct fake_socks5 *f;
	unsigned n;
};

static bool
live_is(void *arg)
{
	const struct live_want *w = arg;

	return w->f->stats.live == w->n;
}

bool
fake_socks5_wait_live(struct fake_socks5 *f, unsigned n, double timeout)
{
	struct live_want w = {f, n};

	return loop_run_until(f->loop, live_is, &w, timeout);
}

void
fake_socks5_refused_server(struct socks5_server *out)
{
	struct sockaddr_in sin = loopback4(0);
	socklen_t len = sizeof(sin);
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sin, &len), 0);
	close(fd);
	memset(out, 0, sizeof(*out));
	memcpy(&out->addr, &sin, sizeof(sin));
	out->addrlen = sizeof(sin);
}

/* ------------------------------------------------------------------ CONNECT scripts */

enum script_stage {
	SCRIPT_GREETING,
	SCRIPT_AUTH,
	SCRIPT_REQUEST,
	SCRIPT_DONE,
	SCRIPT_ASSOCIATED, /* UDP ASSOCIATE answered: control bytes are ignored, no half-close */
};

/* A scripted connection's state, beside its struct conn (same index). */
struct script_conn {
	struct conn *c;
	enum script_stage stage;
	uint8_t out[700];
	size_t out_len, out_off;
	bool split, shut, reset;
	ev_timer split_timer;
};

struct script {
	struct fake_socks5 *f;
	enum fake_socks5_script kind;
	uint8_t request[600];
	size_t request_len;
	bool auth_seen;
	struct script_conn conns[FAKE_SOCKS5_MAX_CONNS];
	int family;   /* the listener's, and the relay's */
	int relay_fd; /* the UDP scripts' relay */
	ev_io relay_io;
	uint16_t relay_port;
	unsigned relay_events;
	unsigned reads; /* fake_socks5_script_reads */
};

static void script_queue(struct script_conn *sc, const void *buf, size_t len);

static bool
script_needs_auth(enum fake_socks5_script k)
{
	return k == FAKE_SOCKS5_SCRIPT_OK_AUTH || k == FAKE_SOCKS5_SCRIPT_AUTH_REJECT ||
	       k == FAKE_SOCKS5_SCRIPT_UDP_ECHO_AUTH || k == FAKE_SOCKS5_SCRIPT_CLOSE_ON_REQUEST_AUTH;
}

/* VER REP RSV + the relay's own address (or, with any, the unspecified one) as BND. */
static void
queue_own_relay(struct script_conn *sc, const struct script *s, bool any)
{
	uint8_t out[22] = {5, 0, 0};
	size_t n = 3, alen = s->family == AF_INET ? 4 : 16;

	out[n++] = s->family == AF_INET ? SOCKS5_ATYP_IPV4 : SOCKS5_ATYP_IPV6;
	memset(out + n, 0, alen);
	if (!any) {
		if (s->family == AF_INET)
			out[n] = 127;
		out[n + alen - 1] = 1;
	}
	n += alen;
	out[n++] = (uint8_t)(s->relay_port >> 8);
	out[n++] = (uint8_t)s->relay_port;
	script_queue(sc, out, n);
}

static struct script_conn *
script_conn_of(struct conn *c)
{
	return &c->f->script->conns[c - c->f->conns];
}

static void
script_conn_reset(struct conn *c)
{
	struct script_conn *sc;

	if (c->f == NULL || c->f->script == NULL)
		return;
	sc = script_conn_of(c);
	ev_timer_stop(c->f->loop, &sc->split_timer);
	sc->stage = SCRIPT_GREETING;
	sc->out_len = sc->out_off = 0;
	sc->shut = sc->reset = false;
}

/* Sends what is queued: all of it, or one byte a tick when split; then the FIN if asked. */
static void
script_flush(struct script_conn *sc)
{
	struct conn *c = sc->c;

	if (sc->split && sc->out_off < sc->out_len) {
		send_all(c->fd, sc->out + sc->out_off++, 1);
		if (sc->out_off < sc->out_len) {
			ev_timer_again(c->f->loop, &sc->split_timer);
			return;
		}
	} else if (sc->out_off < sc->out_len) {
		send_all(c->fd, sc->out + sc->out_off, sc->out_len - sc->out_off);
		sc->out_off = sc->out_len;
	}
	ev_timer_stop(c->f->loop, &sc->split_timer);
	sc->out_len = sc->out_off = 0;
	if (sc->shut)
		shutdown(c->fd, SHUT_WR);
}

static void
script_split_timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct script_conn *sc = container_of(w, struct script_conn, split_timer);

	(void)revents;
	if (sc->c->stage == STAGE_FREE) {
		ev_timer_stop(loop, w);
		return;
	}
	script_flush(sc);
}

static void
script_queue(struct script_conn *sc, const void *buf, size_t len)
{
	assert_true(sc->out_len + len <= sizeof(sc->out));
	memcpy(sc->out + sc->out_len, buf, len);
	sc->out_len += len;
}

static void
consume(struct conn *c, size_t n)
{
	memmove(c->buf, c->buf + n, c->len - n);
	c->len -= n;
}

/*
 * The reply of the UDP scripts (and of the failures they share with CONNECT's) to the
 * request just read; false for the CONNECT scripts' replies. sc->stage is DONE; it goes
 * back to ASSOCIATED when the connection stays.
 */
static bool
script_udp_reply(struct conn *c, struct script_conn *sc)
{
	static const uint8_t elsewhere[] = {5, 0, 0, SOCKS5_ATYP_IPV4, 192, 0, 2, 1, 0, 9};
	struct script *s = c->f->script;
	uint8_t rep = 0;

	switch (s->kind) {
	case FAKE_SOCKS5_SCRIPT_UDP_ECHO:
	case FAKE_SOCKS5_SCRIPT_UDP_ECHO_AUTH:
	case FAKE_SOCKS5_SCRIPT_UDP_CLOSE_AFTER_ECHO:
		queue_own_relay(sc, s, false);
		break;
	case FAKE_SOCKS5_SCRIPT_UDP_BND_ANY:
		queue_own_relay(sc, s, true);
		break;
	case FAKE_SOCKS5_SCRIPT_UDP_BND_DOMAIN:
		sc->split = true;
		script_queue(sc, (const uint8_t[]){5, 0, 0, SOCKS5_ATYP_DOMAIN, 13}, 5);
		script_queue(sc, "relay.invalid", 13);
		script_queue(sc, (const uint8_t[]){(uint8_t)(s->relay_port >> 8), (uint8_t)s->relay_port}, 2);
		break;
	case FAKE_SOCKS5_SCRIPT_UDP_BND_ELSEWHERE:
		script_queue(sc, elsewhere, sizeof(elsewhere));
		break;
	case FAKE_SOCKS5_SCRIPT_REP_UNSUPPORTED:
		rep = SOCKS5_REP_CMD_UNSUPPORTED;
		break;
	case FAKE_SOCKS5_SCRIPT_REP_NOT_ALLOWED:
		rep = SOCKS5_REP_NOT_ALLOWED;
		break;
	case FAKE_SOCKS5_SCRIPT_CLOSE_ON_REQUEST:
	case FAKE_SOCKS5_SCRIPT_CLOSE_ON_REQUEST_AUTH:
		return true; /* no reply, the half-close only */
	case FAKE_SOCKS5_SCRIPT_RESET_ON_REQUEST:
		sc->reset = true;
		return true;
	default:
		return false;
	}
	if (rep != 0)
		script_queue(sc, (const uint8_t[]){5, rep, 0, SOCKS5_ATYP_IPV4, 0, 0, 0, 0, 0, 0}, 10);
	else
		sc->stage = SCRIPT_ASSOCIATED;
	return true;
}

/* One step of the script on the bytes in c->buf; returns false once it waits for more. */
static bool
script_step(struct conn *c, struct script_conn *sc)
{
	static const uint8_t ok_v4[] = {5, 0, 0, SOCKS5_ATYP_IPV4, 198, 18, 0, 2, 0x12, 0x34};
	static const uint8_t refused[] = {5, SOCKS5_REP_CONN_REFUSED, 0, SOCKS5_ATYP_IPV4, 0, 0, 0, 0, 0, 0};
	struct script *s = c->f->script;
	size_t ulen, plen, need;

	switch (sc->stage) {
	case SCRIPT_GREETING:
		if (c->len < 2 || c->len < 2u + c->buf[1])
			return false;
		consume(c, 2u + c->buf[1]);
		sc->stage = SCRIPT_REQUEST;
		if (s->kind == FAKE_SOCKS5_SCRIPT_GREETING_ONLY) {
			c->len = 0;
		} else if (s->kind == FAKE_SOCKS5_SCRIPT_CLOSE_ON_PIPELINE && c->len > 0) {
			sc->reset = true;
			sc->stage = SCRIPT_DONE;
			return false;
		}
		switch (s->kind) {
		case FAKE_SOCKS5_SCRIPT_CLOSE_AFTER_GREETING:
			sc->stage = SCRIPT_DONE;
			break;
		case FAKE_SOCKS5_SCRIPT_NO_METHOD:
			script_queue(sc, (const uint8_t[]){5, 0xff}, 2);
			sc->stage = SCRIPT_DONE;
			break;
		case FAKE_SOCKS5_SCRIPT_GARBAGE:
			script_queue(sc, "HTTP/1.0 400", 12);
			sc->stage = SCRIPT_DONE;
			break;
		default:
			if (script_needs_auth(s->kind)) {
				script_queue(sc, (const uint8_t[]){5, SOCKS5_METHOD_USERPASS}, 2);
				sc->stage = SCRIPT_AUTH;
			} else {
				script_queue(sc, (const uint8_t[]){5, 0}, 2);
			}
			break;
		}
		return true;
	case SCRIPT_AUTH:
		if (c->len < 2 || c->len < 3u + c->buf[1])
			return false;
		ulen = c->buf[1];
		plen = c->buf[2 + ulen];
		if (c->len < 3 + ulen + plen)
			return false;
		s->auth_seen = ulen == 4 && memcmp(c->buf + 2, "user", 4) == 0 && plen == 6 &&
			       memcmp(c->buf + 3 + ulen, "secret", 6) == 0;
		consume(c, 3 + ulen + plen);
		if (s->kind == FAKE_SOCKS5_SCRIPT_AUTH_REJECT) {
			script_queue(sc, (const uint8_t[]){1, 1}, 2);
			sc->stage = SCRIPT_DONE;
		} else {
			script_queue(sc, (const uint8_t[]){1, 0}, 2);
			sc->stage = SCRIPT_REQUEST;
		}
		return true;
	case SCRIPT_REQUEST:
		if (c->len < 5)
			return false;
		need = c->buf[3] == SOCKS5_ATYP_IPV4 ? 10 : c->buf[3] == SOCKS5_ATYP_IPV6 ? 22 : 7u + c->buf[4];
		if (c->len < need)
			return false;
		memcpy(s->request, c->buf, need);
		s->request_len = need;
		consume(c, need);
		sc->stage = SCRIPT_DONE;
		if (script_udp_reply(c, sc))
			return true;
		if (s->kind == FAKE_SOCKS5_SCRIPT_REP_REFUSED) {
			script_queue(sc, refused, sizeof(refused));
		} else if (s->kind == FAKE_SOCKS5_SCRIPT_DOMAIN_REPLY) {
			uint8_t name[200];

			memset(name, 'a', sizeof(name));
			script_queue(sc, (const uint8_t[]){5, 0, 0, SOCKS5_ATYP_DOMAIN, sizeof(name)}, 5);
			script_queue(sc, name, sizeof(name));
			script_queue(sc, (const uint8_t[]){0, 80}, 2);
			script_queue(sc, "STREAM", 6);
		} else {
			script_queue(sc, ok_v4, sizeof(ok_v4));
			if (s->kind == FAKE_SOCKS5_SCRIPT_OK_SPLIT)
				script_queue(sc, "BANNER", 6);
		}
		return true;
	case SCRIPT_DONE:
	case SCRIPT_ASSOCIATED:
		c->len = 0; /* whatever the client sends now is ignored */
		return false;
	}
	return false;
}

static void
script_input(struct conn *c)
{
	struct script_conn *sc = script_conn_of(c);

	if (sc->c != c) {
		sc->c = c;
		ev_init(&sc->split_timer, script_split_timer_cb);
		sc->split_timer.repeat = 0.002;
	}
	sc->split = c->f->script->kind == FAKE_SOCKS5_SCRIPT_OK_SPLIT;
	c->f->script->reads++;
	while (script_step(c, sc))
		;
	if (sc->reset) {
		/* Closing with a zero linger time sends RST instead of FIN. */
		(void)setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &(struct linger){.l_onoff = 1, .l_linger = 0},
				 sizeof(struct linger));
		conn_close(c);
		return;
	}
	sc->shut = sc->stage == SCRIPT_DONE;
	if (!ev_is_active(&sc->split_timer))
		script_flush(sc);
}

/*
 * The echo's header for the request header in req: the same kind of address with the
 * last byte flipped and the port plus one; a domain comes back as 198.51.100.<length>.
 * Returns its length (0 if req is unusable) and the request header's in *req_hlen.
 */
static size_t
echo_header(const uint8_t *req, size_t len, uint8_t *out, size_t *req_hlen)
{
	size_t alen, n;
	uint16_t port;

	if (len < 5)
		return 0;
	memcpy(out, req, 3);
	n = 3;
	switch (req[3]) {
	case SOCKS5_ATYP_IPV4:
	case SOCKS5_ATYP_IPV6:
		alen = req[3] == SOCKS5_ATYP_IPV4 ? 4 : 16;
		if (len < 4 + alen + 2)
			return 0;
		memcpy(out + n, req + 3, 1 + alen);
		n += 1 + alen;
		out[n - 1] ^= 1;
		*req_hlen = 4 + alen + 2;
		break;
	case SOCKS5_ATYP_DOMAIN:
		alen = 1 + (size_t)req[4];
		if (len < 4 + alen + 2)
			return 0;
		memcpy(out + n, (const uint8_t[]){SOCKS5_ATYP_IPV4, 198, 51, 100, req[4]}, 5);
		n += 5;
		*req_hlen = 4 + alen + 2;
		break;
	default:
		return 0;
	}
	port = (uint16_t)((req[*req_hlen - 2] << 8 | req[*req_hlen - 1]) + 1);
	out[n++] = (uint8_t)(port >> 8);
	out[n++] = (uint8_t)port;
	return n;
}

static void
script_relay_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	static uint8_t in[70000], out[70000];
	struct script *s = container_of(w, struct script, relay_io);
	struct sockaddr_storage peer;
	socklen_t peer_len = sizeof(peer);
	const struct sockaddr *to = (const struct sockaddr *)&peer;
	size_t hlen, req_hlen = 0, plen;
	ssize_t n;

	(void)loop;
	(void)revents;
	n = recvfrom(s->relay_fd, in, sizeof(in), 0, (struct sockaddr *)&peer, &peer_len);
	if (n <= 0 || (hlen = echo_header(in, (size_t)n, out, &req_hlen)) == 0)
		return;
	plen = (size_t)n - req_hlen;
	memcpy(out + hlen, in + req_hlen, plen);
	if (plen == 3 && memcmp(in + req_hlen, "bad", 3) == 0) {
		int stranger = socket(s->family, SOCK_DGRAM, 0);
		uint8_t frag[64], rsv[64];

		/* Not from the relay: the connected client socket must never see it. */
		(void)sendto(stranger, out, hlen + plen, 0, to, peer_len);
		close(stranger);
		memcpy(frag, out, hlen);
		frag[2] = 1;
		memcpy(frag + hlen, "frag", 4);
		(void)sendto(s->relay_fd, frag, hlen + 4, 0, to, peer_len);
		(void)sendto(s->relay_fd, out, 6, 0, to, peer_len); /* truncated */
		memcpy(rsv, out, hlen);
		rsv[1] = 1;
		memcpy(rsv + hlen, "rsv", 3);
		(void)sendto(s->relay_fd, rsv, hlen + 3, 0, to, peer_len);
		memcpy(out + hlen, "good", 4);
		plen = 4;
	}
	if (plen == 3 && memcmp(in + req_hlen, "two", 3) == 0) {
		(void)sendto(s->relay_fd, out, hlen + plen, 0, to, peer_len);
		(void)sendto(s->relay_fd, out, hlen + plen, 0, to, peer_len);
		s->relay_events++;
		return;
	}
	(void)sendto(s->relay_fd, out, hlen + plen, 0, to, peer_len);
	if (s->kind == FAKE_SOCKS5_SCRIPT_UDP_CLOSE_AFTER_ECHO) {
		for (size_t i = 0; i < FAKE_SOCKS5_MAX_CONNS; i++)
			conn_close(&s->f->conns[i]);
		s->relay_events++;
	}
}

void
fake_socks5_set_script(struct fake_socks5 *f, enum fake_socks5_script script)
{
	if (f->script == NULL) {
		struct sockaddr_storage ss;
		socklen_t len;
		struct script *s = calloc(1, sizeof(*s));

		assert_non_null(s);
		s->f = f;
		s->family = f->server.addr.ss_family;
		len = loopback_any(s->family, &ss);
		s->relay_fd = socket(s->family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		assert_true(s->relay_fd >= 0);
		assert_int_equal(bind(s->relay_fd, (struct sockaddr *)&ss, len), 0);
		assert_int_equal(getsockname(s->relay_fd, (struct sockaddr *)&ss, &len), 0);
		s->relay_port = ntohs(s->family == AF_INET ? ((struct sockaddr_in *)&ss)->sin_port
							   : ((struct sockaddr_in6 *)&ss)->sin6_port);
		ev_io_init(&s->relay_io, script_relay_cb, s->relay_fd, EV_READ);
		ev_io_start(f->loop, &s->relay_io);
		f->script = s;
	}
	f->script->kind = script;
}

static void
script_free(struct fake_socks5 *f)
{
	if (f->script == NULL)
		return;
	ev_io_stop(f->loop, &f->script->relay_io);
	close(f->script->relay_fd);
	free(f->script);
	f->script = NULL;
}

struct fake_socks5 *
fake_socks5_new6(struct ev_loop *loop)
{
	return fake_new(loop, AF_INET6);
}

uint16_t
fake_socks5_script_relay_port(const struct fake_socks5 *f)
{
	return f->script->relay_port;
}

unsigned
fake_socks5_script_reads(const struct fake_socks5 *f)
{
	return f->script != NULL ? f->script->reads : 0;
}

const unsigned *
fake_socks5_script_relay_events(const struct fake_socks5 *f)
{
	return &f->script->relay_events;
}

const uint8_t *
fake_socks5_script_request(const struct fake_socks5 *f, size_t *len)
{
	*len = f->script->request_len;
	return f->script->request;
}

bool
fake_socks5_script_auth_seen(const struct fake_socks5 *f)
{
	return f->script->auth_seen;
}

static bool
none_live(void *arg)
{
	const struct fake_socks5 *f = arg;

	return f->stats.live == 0;
}

bool
fake_socks5_wait_closed(struct fake_socks5 *f, double timeout)
{
	return loop_run_until(f->loop, none_live, f, timeout);
}
