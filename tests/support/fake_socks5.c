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

#include "loop.h"
#include "socks5_proto.h"

#define container_of(ptr, type, member) ((type *)((char *)(ptr) - offsetof(type, member)))

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
	ev_io listen_io;
	struct socks5_server server;
	enum fake_socks5_reply reply;
	enum fake_socks5_relay relay;
	int connect_rep;
	unsigned long next_seq;
	struct fake_socks5_stats stats;
	struct conn conns[FAKE_SOCKS5_MAX_CONNS];
};

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
	if (c->stage == STAGE_GREETING || c->stage == STAGE_REQUEST)
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

struct fake_socks5 *
fake_socks5_new(struct ev_loop *loop)
{
	struct fake_socks5 *f = calloc(1, sizeof(*f));
	struct sockaddr_in sin = loopback4(0);
	socklen_t len = sizeof(sin);

	assert_non_null(f);
	f->loop = loop;
	f->listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	assert_true(f->listen_fd >= 0);
	assert_int_equal(bind(f->listen_fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	assert_int_equal(listen(f->listen_fd, FAKE_SOCKS5_MAX_CONNS), 0);
	assert_int_equal(getsockname(f->listen_fd, (struct sockaddr *)&sin, &len), 0);
	memcpy(&f->server.addr, &sin, sizeof(sin));
	f->server.addrlen = sizeof(sin);
	ev_io_init(&f->listen_io, listen_cb, f->listen_fd, EV_READ);
	ev_io_start(loop, &f->listen_io);
	return f;
}

void
fake_socks5_free(struct fake_socks5 *f)
{
	if (f == NULL)
		return;
	for (size_t i = 0; i < FAKE_SOCKS5_MAX_CONNS; i++)
		conn_close(&f->conns[i]);
	ev_io_stop(f->loop, &f->listen_io);
	close(f->listen_fd);
	free(f);
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
