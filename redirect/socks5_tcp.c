/* SPDX-License-Identifier: MIT */
/*
 * A SOCKS5 CONNECT handshake as a small state machine on one ev_io. Each step writes
 * one request and waits for its whole reply; replies are decoded by socks5_proto from
 * the bytes accumulated so far, so any split or coalescing by TCP is fine.
 */
#include "socks5_tcp.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sock.h"
#include "socks5_proto.h"

enum step {
	STEP_CONNECTING,
	STEP_METHOD,
	STEP_AUTH,
	STEP_REQUEST,
	STEP_DONE,
};

struct socks5_tcp {
	struct ev_loop *loop;
	ev_io io;
	int fd;
	enum step step;
	const struct socks5_server *server;
	struct t2s_endpoint target;
	socks5_tcp_done_fn done;
	void *arg;
	uint8_t method;
	/* Outgoing request [out_off, out_len), then incoming reply [0, in_len). */
	size_t out_off, out_len, in_len;
	uint8_t out[SOCKS5_MAX_REQUEST];
	uint8_t in[SOCKS5_MAX_REPLY];
};

static void
finish(struct socks5_tcp *s, enum socks5_tcp_failure failure, int err, uint8_t rep)
{
	struct socks5_tcp_result res = {.failure = failure, .err = err, .rep = rep, .method = s->method};

	ev_io_stop(s->loop, &s->io);
	s->step = STEP_DONE;
	s->done(s->arg, &res);
}

/* Queues the request for the current step; the caller then waits for writability. */
static int
prepare_request(struct socks5_tcp *s)
{
	int n;

	switch (s->step) {
	case STEP_METHOD:
		n = socks5_proto_encode_greeting(s->out, sizeof(s->out), s->server->user != NULL);
		break;
	case STEP_AUTH:
		n = socks5_proto_encode_userpass(s->out, sizeof(s->out), s->server->user, s->server->pass);
		break;
	case STEP_REQUEST:
		n = socks5_proto_encode_request(s->out, sizeof(s->out), SOCKS5_CMD_CONNECT, &s->target);
		break;
	default:
		return -EINVAL;
	}
	if (n < 0)
		return n;
	s->out_off = 0;
	s->out_len = (size_t)n;
	s->in_len = 0;
	return 0;
}

static void
watch(struct socks5_tcp *s, int events)
{
	if ((s->io.events & (EV_READ | EV_WRITE)) == events)
		return;
	ev_io_stop(s->loop, &s->io);
	ev_io_modify(&s->io, events);
	ev_io_start(s->loop, &s->io);
}

/* Moves to the next step; returns 0, or finishes the session and returns -1. */
static int
advance(struct socks5_tcp *s, enum step next)
{
	int err;

	s->step = next;
	err = prepare_request(s);
	if (err < 0) {
		finish(s, SOCKS5_TCP_PROXY_PROTOCOL, err, 0);
		return -1;
	}
	watch(s, EV_WRITE);
	return 0;
}

/* Consumes one whole reply for the current step. */
static void
handle_reply(struct socks5_tcp *s)
{
	uint8_t status;
	int n;

	switch (s->step) {
	case STEP_METHOD:
		n = socks5_proto_decode_method(s->in, s->in_len, &s->method);
		if (n == SOCKS5_NEED_MORE)
			return;
		if (n < 0) {
			finish(s, SOCKS5_TCP_PROXY_PROTOCOL, n, 0);
			return;
		}
		if (s->method == SOCKS5_METHOD_USERPASS && s->server->user != NULL)
			advance(s, STEP_AUTH);
		else if (s->method == SOCKS5_METHOD_NONE)
			advance(s, STEP_REQUEST);
		else
			finish(s, SOCKS5_TCP_PROXY_AUTH, -EACCES, 0);
		return;
	case STEP_AUTH:
		n = socks5_proto_decode_userpass_reply(s->in, s->in_len, &status);
		if (n == SOCKS5_NEED_MORE)
			return;
		if (n < 0)
			finish(s, SOCKS5_TCP_PROXY_PROTOCOL, n, 0);
		else if (status != 0)
			finish(s, SOCKS5_TCP_PROXY_AUTH, -EACCES, 0);
		else
			advance(s, STEP_REQUEST);
		return;
	case STEP_REQUEST:
		n = socks5_proto_decode_reply(s->in, s->in_len, &status, NULL);
		if (n == SOCKS5_NEED_MORE)
			return;
		if (n < 0)
			finish(s, SOCKS5_TCP_PROXY_PROTOCOL, n, 0);
		else if (status != SOCKS5_REP_SUCCEEDED)
			finish(s, SOCKS5_TCP_TARGET, -socks5_proto_rep_errno(status), status);
		else
			finish(s, SOCKS5_TCP_OK, 0, 0);
		return;
	default:
		return;
	}
}

static void
on_writable(struct socks5_tcp *s)
{
	ssize_t n;
	int err;

	if (s->step == STEP_CONNECTING) {
		err = sock_error(s->fd);
		if (err < 0) {
			finish(s, SOCKS5_TCP_PROXY_UNREACHABLE, err, 0);
			return;
		}
		advance(s, STEP_METHOD);
		return;
	}
	n = send(s->fd, s->out + s->out_off, s->out_len - s->out_off, MSG_NOSIGNAL);
	if (n < 0) {
		if (errno == EAGAIN || errno == EINTR)
			return;
		finish(s, SOCKS5_TCP_PROXY_PROTOCOL, -errno, 0);
		return;
	}
	s->out_off += (size_t)n;
	if (s->out_off == s->out_len)
		watch(s, EV_READ);
}

/* How many more bytes the current reply needs, judged from what has arrived. */
static size_t
reply_bytes_missing(const struct socks5_tcp *s)
{
	size_t total;

	if (s->step != STEP_REQUEST)
		return 2 - s->in_len; /* VER METHOD, or VER STATUS */
	if (s->in_len < 5)
		return 5 - s->in_len; /* VER REP RSV ATYP and the first address byte */
	switch (s->in[3]) {
	case SOCKS5_ATYP_IPV4:
		total = 4 + 4 + 2;
		break;
	case SOCKS5_ATYP_IPV6:
		total = 4 + 16 + 2;
		break;
	case SOCKS5_ATYP_DOMAIN:
		total = 4 + 1 + (size_t)s->in[4] + 2;
		break;
	default:
		total = s->in_len + 1; /* the decoder rejects it on the next byte */
		break;
	}
	return total > s->in_len ? total - s->in_len : 1;
}

static void
on_readable(struct socks5_tcp *s)
{
	ssize_t n;

	/* Read exactly up to the end of the current reply: a server-first protocol
	 * (SSH, SMTP) may send its banner right behind the CONNECT reply, and those bytes
	 * belong to the relayed stream. */
	n = recv(s->fd, s->in + s->in_len, reply_bytes_missing(s), 0);
	if (n < 0) {
		if (errno == EAGAIN || errno == EINTR)
			return;
		finish(s, SOCKS5_TCP_PROXY_PROTOCOL, -errno, 0);
		return;
	}
	if (n == 0) {
		finish(s, SOCKS5_TCP_PROXY_PROTOCOL, -ECONNRESET, 0);
		return;
	}
	s->in_len += (size_t)n;
	handle_reply(s);
}

static void
socks5_tcp_io_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct socks5_tcp *s = (struct socks5_tcp *)((char *)w - offsetof(struct socks5_tcp, io));

	(void)loop;
	if (s->step == STEP_DONE)
		return;
	if (revents & EV_WRITE)
		on_writable(s);
	else if (revents & EV_READ)
		on_readable(s);
}

struct socks5_tcp *
socks5_tcp_new(struct ev_loop *loop, const struct socks5_server *server, const struct t2s_endpoint *target,
	       socks5_tcp_done_fn done, void *arg)
{
	struct socks5_tcp *s;
	int fd;

	fd = sock_connect_nb((const struct sockaddr *)&server->addr, server->addrlen, server->fwmark);
	if (fd < 0) {
		errno = -fd;
		return NULL;
	}
	s = malloc(sizeof(*s));
	if (s == NULL) {
		close(fd);
		errno = ENOMEM;
		return NULL;
	}
	s->loop = loop;
	s->fd = fd;
	s->step = STEP_CONNECTING;
	s->server = server;
	s->target = *target;
	s->done = done;
	s->arg = arg;
	s->method = SOCKS5_METHOD_UNACCEPTABLE;
	s->out_off = s->out_len = s->in_len = 0;
	ev_io_init(&s->io, socks5_tcp_io_cb, fd, EV_WRITE);
	ev_io_start(loop, &s->io);
	return s;
}

int
socks5_tcp_take_fd(struct socks5_tcp *s)
{
	int fd = s->fd;

	ev_io_stop(s->loop, &s->io);
	s->fd = -1;
	return fd;
}

void
socks5_tcp_free(struct socks5_tcp *s)
{
	if (s == NULL)
		return;
	ev_io_stop(s->loop, &s->io);
	if (s->fd >= 0)
		close(s->fd);
	free(s);
}
