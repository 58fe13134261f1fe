/* SPDX-License-Identifier: MIT */
/*
 * An HTTP CONNECT on one ev_io: wait for the connect, send the request, then read the
 * response head with MSG_PEEK and consume exactly its bytes, so that a server-first
 * protocol's banner (SSH, SMTP) sent right behind the 200 stays for the relay. The
 * codec is http_proto's.
 */
#include "http_connect.h"

#include <assert.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "container_of.h"
#include "http_proto.h"
#include "io_watch.h"
#include "sock.h"

enum step {
	STEP_CONNECTING,
	STEP_CONNECT_FAILED, /* the first write found connect() failed: reported from the loop */
	STEP_SENDING,
	STEP_RECEIVING,
	STEP_DONE,
};

struct http_connect {
	struct ev_loop *loop;
	ev_io io;
	int fd;
	enum step step;
	proxy_tcp_done_fn done;
	void *arg;
	int connect_err; /* STEP_CONNECT_FAILED: -errno */
	size_t out_off, out_len, in_len;
	uint8_t out[HTTP_PROTO_MAX_REQUEST];
	uint8_t in[HTTP_PROTO_MAX_RESPONSE];
};

static void
finish(struct http_connect *s, struct proxy_tcp_result *res)
{
	s->step = STEP_DONE;
	ev_io_stop(s->loop, &s->io);
	s->done(s->arg, res);
}

static void
fail(struct http_connect *s, enum proxy_tcp_failure failure, int err)
{
	struct proxy_tcp_result res = {.failure = failure, .err = err};

	finish(s, &res);
}

/* n more bytes of the request went out: watch for the rest, or for the response. */
static void
sent(struct http_connect *s, size_t n)
{
	s->out_off += n;
	if (s->out_off < s->out_len) {
		io_watch_set(s->loop, &s->io, EV_WRITE);
		return;
	}
	explicit_bzero(s->out, s->out_len); /* the credentials are not kept longer than needed */
	s->step = STEP_RECEIVING;
	io_watch_set(s->loop, &s->io, EV_READ);
}

static void
on_writable(struct http_connect *s)
{
	ssize_t n;
	int err;

	if (s->step == STEP_CONNECTING) {
		err = sock_error(s->fd);
		if (err < 0) {
			fail(s, PROXY_TCP_UNREACHABLE, err);
			return;
		}
		s->step = STEP_SENDING;
	}
	n = send(s->fd, s->out + s->out_off, s->out_len - s->out_off, MSG_NOSIGNAL);
	if (n < 0) {
		if (errno != EAGAIN && errno != EINTR)
			fail(s, PROXY_TCP_PROTOCOL, -errno);
		return;
	}
	sent(s, (size_t)n);
}

/* Consumes n bytes already peeked: they are in the socket, so recv returns them all. */
static int
drain(struct http_connect *s, size_t n)
{
	uint8_t *dst = s->in + s->in_len;
	ssize_t got = recv(s->fd, dst, n, 0);

	if (got < 0)
		return -errno;
	return (size_t)got == n ? 0 : -EIO;
}

static void
on_readable(struct http_connect *s)
{
	struct http_proto_response resp;
	struct proxy_tcp_result res;
	ssize_t n;
	int used, err;

	n = recv(s->fd, s->in + s->in_len, sizeof(s->in) - s->in_len, MSG_PEEK);
	if (n < 0) {
		if (errno != EAGAIN && errno != EINTR)
			fail(s, PROXY_TCP_PROTOCOL, -errno);
		return;
	}
	if (n == 0) {
		fail(s, PROXY_TCP_PROTOCOL, -ECONNRESET);
		return;
	}
	used = http_proto_decode_response(s->in, s->in_len + (size_t)n, &resp);
	if (used < 0) {
		fail(s, PROXY_TCP_PROTOCOL, used);
		return;
	}
	if (used == HTTP_PROTO_NEED_MORE) {
		err = drain(s, (size_t)n);
		if (err < 0) {
			fail(s, PROXY_TCP_PROTOCOL, err);
			return;
		}
		s->in_len += (size_t)n;
		return;
	}
	err = drain(s, (size_t)used - s->in_len);
	if (err < 0) {
		fail(s, PROXY_TCP_PROTOCOL, err);
		return;
	}
	s->in_len = 0;
	if (resp.status < 200)
		return; /* an interim response (RFC 9110 15.2): the final one follows */
	memset(&res, 0, sizeof(res));
	http_proto_classify(resp.status, &res);
	memcpy(res.reason, resp.reason, sizeof(res.reason));
	finish(s, &res);
}

static void
http_connect_io_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct http_connect *s = container_of(w, struct http_connect, io);

	(void)loop;
	assert(s->step != STEP_DONE && "watcher fired after the response");
	if (s->step == STEP_CONNECT_FAILED) {
		fail(s, PROXY_TCP_UNREACHABLE, s->connect_err);
		return;
	}
	if (s->step == STEP_RECEIVING) {
		if (revents & EV_READ)
			on_readable(s);
	} else if (revents & EV_WRITE) {
		on_writable(s);
	}
}

/*
 * Right after the non-blocking connect() of the session's own socket: the request goes
 * out at once if the connection is already up (a proxy on this host or in its
 * namespaces), skipping the wait for writability and the SO_ERROR query. A socket still
 * in SYN_SENT refuses the send with EAGAIN and the session waits for EV_WRITE as usual.
 */
static void
first_write(struct http_connect *s)
{
	ssize_t n = send(s->fd, s->out, s->out_len, MSG_NOSIGNAL);

	if (n >= 0) {
		s->step = STEP_SENDING;
		sent(s, (size_t)n);
		return;
	}
	if (errno != EAGAIN && errno != EINTR) {
		/* Reported from the loop: the failed socket is ready at once (EV_WRITE). */
		s->step = STEP_CONNECT_FAILED;
		s->connect_err = -errno;
	}
	ev_io_start(s->loop, &s->io);
}

static struct http_connect *
session_new(struct ev_loop *loop, const struct socks5_server *server, int fd, bool just_connected,
	    const struct t2s_endpoint *target, proxy_tcp_done_fn done, void *arg)
{
	struct http_connect *s;
	int n;

	s = malloc(sizeof(*s));
	if (s == NULL) {
		close(fd);
		errno = ENOMEM;
		return NULL;
	}
	n = http_proto_encode_connect(s->out, sizeof(s->out), target, server->user, server->pass);
	if (n < 0) {
		close(fd);
		free(s);
		errno = -n;
		return NULL;
	}
	s->loop = loop;
	s->fd = fd;
	s->step = STEP_CONNECTING;
	s->done = done;
	s->arg = arg;
	s->out_off = 0;
	s->out_len = (size_t)n;
	s->in_len = 0;
	s->connect_err = 0;
	ev_io_init(&s->io, http_connect_io_cb, fd, EV_WRITE);
	if (just_connected)
		first_write(s);
	else
		ev_io_start(loop, &s->io);
	return s;
}

struct http_connect *
http_connect_new_on_fd(struct ev_loop *loop, const struct socks5_server *server, int fd,
		       const struct t2s_endpoint *target, proxy_tcp_done_fn done, void *arg)
{
	return session_new(loop, server, fd, false, target, done, arg);
}

struct http_connect *
http_connect_new(struct ev_loop *loop, const struct socks5_server *server, const struct t2s_endpoint *target,
		 proxy_tcp_done_fn done, void *arg)
{
	int fd;

	fd = sock_connect_nb((const struct sockaddr *)&server->addr, server->addrlen, server->fwmark, &server->hook);
	if (fd < 0) {
		errno = -fd;
		return NULL;
	}
	return session_new(loop, server, fd, true, target, done, arg);
}

int
http_connect_take_fd(struct http_connect *s)
{
	int fd = s->fd;

	ev_io_stop(s->loop, &s->io);
	s->fd = -1;
	return fd;
}

bool
http_connect_proxy_answered(const struct http_connect *s)
{
	return s->step != STEP_CONNECTING && s->step != STEP_CONNECT_FAILED;
}

void
http_connect_free(struct http_connect *s)
{
	if (s == NULL)
		return;
	ev_io_stop(s->loop, &s->io);
	if (s->fd >= 0)
		close(s->fd);
	explicit_bzero(s->out, sizeof(s->out));
	free(s);
}
