/* SPDX-License-Identifier: MIT */
/*
 * A SOCKS5 CONNECT on one ev_io: the handshake itself is socks5_handshake's; this
 * module owns the socket and the watcher, and maps the outcome to the done callback.
 */
#include "socks5_tcp.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "container_of.h"
#include "sock.h"
#include "socks5_handshake.h"
#include "io_watch.h"

struct socks5_tcp {
	struct ev_loop *loop;
	ev_io io;
	int fd;
	struct socks5_handshake hs;
	socks5_tcp_done_fn done;
	void *arg;
};

static void
finish(struct socks5_tcp *s)
{
	static const enum socks5_tcp_failure failures[] = {
		[SOCKS5_HANDSHAKE_OK] = SOCKS5_TCP_OK,
		[SOCKS5_HANDSHAKE_PROXY_UNREACHABLE] = SOCKS5_TCP_PROXY_UNREACHABLE,
		[SOCKS5_HANDSHAKE_PROXY_PROTOCOL] = SOCKS5_TCP_PROXY_PROTOCOL,
		[SOCKS5_HANDSHAKE_PROXY_AUTH] = SOCKS5_TCP_PROXY_AUTH,
		[SOCKS5_HANDSHAKE_REJECTED] = SOCKS5_TCP_TARGET,
	};
	struct socks5_tcp_result res = {
		.failure = failures[s->hs.failure], .err = s->hs.err, .rep = s->hs.rep, .method = s->hs.method};

	ev_io_stop(s->loop, &s->io);
	s->done(s->arg, &res);
}

static void
socks5_tcp_io_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct socks5_tcp *s = container_of(w, struct socks5_tcp, io);
	enum socks5_handshake_status st;

	(void)loop;
	if (s->hs.step == SOCKS5_HANDSHAKE_STEP_DONE)
		return;
	if (revents & EV_WRITE)
		st = socks5_handshake_on_writable(&s->hs, s->fd);
	else if (revents & EV_READ)
		st = socks5_handshake_on_readable(&s->hs, s->fd);
	else
		return;
	switch (st) {
	case SOCKS5_HANDSHAKE_NEED_WRITE:
		io_watch_set(s->loop, &s->io, EV_WRITE);
		break;
	case SOCKS5_HANDSHAKE_NEED_READ:
		io_watch_set(s->loop, &s->io, EV_READ);
		break;
	case SOCKS5_HANDSHAKE_DONE:
	case SOCKS5_HANDSHAKE_FAILED:
		finish(s);
		break;
	}
}

struct socks5_tcp *
socks5_tcp_new_on_fd(struct ev_loop *loop, const struct socks5_server *server, int fd,
		     const struct t2s_endpoint *target, socks5_tcp_done_fn done, void *arg)
{
	struct socks5_tcp *s = malloc(sizeof(*s));

	if (s == NULL) {
		close(fd);
		errno = ENOMEM;
		return NULL;
	}
	s->loop = loop;
	s->fd = fd;
	socks5_handshake_init(&s->hs, server, SOCKS5_CMD_CONNECT, target);
	s->done = done;
	s->arg = arg;
	ev_io_init(&s->io, socks5_tcp_io_cb, fd, EV_WRITE);
	ev_io_start(loop, &s->io);
	return s;
}

struct socks5_tcp *
socks5_tcp_new(struct ev_loop *loop, const struct socks5_server *server, const struct t2s_endpoint *target,
	       socks5_tcp_done_fn done, void *arg)
{
	int fd;

	fd = sock_connect_nb((const struct sockaddr *)&server->addr, server->addrlen, server->fwmark, &server->hook);
	if (fd < 0) {
		errno = -fd;
		return NULL;
	}
	return socks5_tcp_new_on_fd(loop, server, fd, target, done, arg);
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
