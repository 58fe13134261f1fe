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
#include "socks5_pipeline.h"
#include "io_watch.h"

struct socks5_tcp {
	struct ev_loop *loop;
	ev_io io;
	int fd;
	struct socks5_handshake hs;
	const struct socks5_server *server;
	struct t2s_endpoint target;
	bool probe;     /* this pipelined handshake is the proxy's probe (probe_timer runs) */
	bool retried;   /* fell back to step by step once already */
	ev_timer probe_timer;
	socks5_tcp_done_fn done;
	void *arg;
};

static void socks5_tcp_io_cb(struct ev_loop *loop, ev_io *w, int revents);

/* Starts a handshake on fd, or on a proxy connection of its own (fd < 0); -errno on
 * failure. */
static int
start(struct socks5_tcp *s, bool may_pipeline, int fd)
{
	struct socks5_pipeline *p = s->server->pipeline;
	enum socks5_handshake_status st = SOCKS5_HANDSHAKE_NEED_WRITE;
	bool made_here = fd < 0;
	uint8_t method;

	if (made_here)
		fd = sock_connect_nb((const struct sockaddr *)&s->server->addr, s->server->addrlen,
				     s->server->fwmark, &s->server->hook);
	if (fd < 0)
		return fd;
	s->fd = fd;
	socks5_handshake_init(&s->hs, s->server, SOCKS5_CMD_CONNECT, &s->target);
	s->probe = false;
	if (may_pipeline && p != NULL && socks5_pipeline_begin(p, &method, &s->probe)) {
		socks5_handshake_pipeline(&s->hs, method);
		if (!s->hs.pipelined) {
			socks5_pipeline_abandoned(p, s->probe);
			s->probe = false;
		}
	}
	if (s->probe) {
		ev_timer_set(&s->probe_timer, p->probe_timeout > 0 ? p->probe_timeout : 2.0, 0);
		ev_timer_start(s->loop, &s->probe_timer);
	}
	if (made_here)
		st = socks5_handshake_on_connect_started(&s->hs, fd);
	/* FAILED too watches for EV_WRITE: reported from the loop (socks5_handshake.h). */
	ev_io_init(&s->io, socks5_tcp_io_cb, fd, st == SOCKS5_HANDSHAKE_NEED_READ ? EV_READ : EV_WRITE);
	ev_io_start(s->loop, &s->io);
	return 0;
}

/* Drops the pipelined attempt and starts again step by step; false if that failed. */
static bool
fall_back(struct socks5_tcp *s, bool mismatch)
{
	int err;

	socks5_pipeline_failed(s->server->pipeline, mismatch);
	ev_timer_stop(s->loop, &s->probe_timer);
	ev_io_stop(s->loop, &s->io);
	close(s->fd);
	s->fd = -1;
	s->retried = true;
	err = start(s, false, -1);
	if (err < 0) {
		s->hs.failure = SOCKS5_HANDSHAKE_PROXY_UNREACHABLE;
		s->hs.err = err;
		return false;
	}
	return true;
}

/* Learns from the outcome; true if the session goes on (a fallback started). */
static bool
learn(struct socks5_tcp *s)
{
	struct socks5_pipeline *p = s->server->pipeline;
	bool answered = s->hs.failure == SOCKS5_HANDSHAKE_OK || s->hs.failure == SOCKS5_HANDSHAKE_REJECTED ||
			(s->hs.failure == SOCKS5_HANDSHAKE_PROXY_AUTH && s->hs.failed_step == SOCKS5_HANDSHAKE_STEP_AUTH);

	if (p == NULL)
		return false;
	if (!s->hs.pipelined) {
		if (answered)
			socks5_pipeline_stepwise_answered(p, s->hs.method);
		return false;
	}
	if (answered) {
		socks5_pipeline_answered(p);
		return false;
	}
	/* out_len 0: our own requests did not encode (step by step would not either). */
	if (s->hs.failure == SOCKS5_HANDSHAKE_PROXY_PROTOCOL && s->hs.out_len > 0 && !s->retried)
		return fall_back(s, s->hs.mismatch);
	socks5_pipeline_abandoned(p, s->probe);
	return false;
}

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
	struct socks5_tcp_result res;

	if (learn(s))
		return;
	res = (struct socks5_tcp_result){
		.failure = failures[s->hs.failure], .err = s->hs.err, .rep = s->hs.rep, .method = s->hs.method};
	s->probe = false;
	ev_timer_stop(s->loop, &s->probe_timer);
	ev_io_stop(s->loop, &s->io);
	s->done(s->arg, &res);
}

/* The probe's reply is late: a proxy that read the greeting and dropped the rest. */
static void
socks5_tcp_probe_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct socks5_tcp *s = container_of(w, struct socks5_tcp, probe_timer);

	(void)loop;
	(void)revents;
	if (s->hs.step == SOCKS5_HANDSHAKE_STEP_DONE || !s->hs.pipelined)
		return;
	s->probe = false;
	if (!fall_back(s, false)) {
		s->hs.step = SOCKS5_HANDSHAKE_STEP_DONE;
		finish(s);
	}
}

static void
socks5_tcp_io_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct socks5_tcp *s = container_of(w, struct socks5_tcp, io);
	enum socks5_handshake_status st;

	(void)loop;
	if (s->hs.step == SOCKS5_HANDSHAKE_STEP_DONE) {
		finish(s); /* failed in start(), reported from here */
		return;
	}
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

static struct socks5_tcp *
session_new(struct ev_loop *loop, const struct socks5_server *server, int fd, const struct t2s_endpoint *target,
	    socks5_tcp_done_fn done, void *arg)
{
	struct socks5_tcp *s;
	int err;

	s = calloc(1, sizeof(*s));
	if (s == NULL) {
		err = -ENOMEM;
		goto err_close;
	}
	s->loop = loop;
	s->server = server;
	s->target = *target;
	s->done = done;
	s->arg = arg;
	ev_init(&s->probe_timer, socks5_tcp_probe_cb);
	/* On a connection the caller made (TLS), step by step: falling back would need a
	 * new connection, which only the caller can make. */
	err = start(s, fd < 0, fd);
	if (err < 0) {
		free(s);
		errno = -err;
		return NULL;
	}
	return s;

err_close:
	if (fd >= 0)
		close(fd);
	errno = -err;
	return NULL;
}

struct socks5_tcp *
socks5_tcp_new_on_fd(struct ev_loop *loop, const struct socks5_server *server, int fd,
		     const struct t2s_endpoint *target, socks5_tcp_done_fn done, void *arg)
{
	return session_new(loop, server, fd, target, done, arg);
}

struct socks5_tcp *
socks5_tcp_new(struct ev_loop *loop, const struct socks5_server *server, const struct t2s_endpoint *target,
	       socks5_tcp_done_fn done, void *arg)
{
	return session_new(loop, server, -1, target, done, arg);
}

int
socks5_tcp_take_fd(struct socks5_tcp *s)
{
	int fd = s->fd;

	ev_io_stop(s->loop, &s->io);
	s->fd = -1;
	return fd;
}

bool
socks5_tcp_proxy_answered(const struct socks5_tcp *s)
{
	return s->hs.step == SOCKS5_HANDSHAKE_STEP_REQUEST || s->hs.step == SOCKS5_HANDSHAKE_STEP_DONE;
}

void
socks5_tcp_free(struct socks5_tcp *s)
{
	if (s == NULL)
		return;
	if (s->probe && s->server->pipeline != NULL)
		socks5_pipeline_abandoned(s->server->pipeline, true);
	ev_timer_stop(s->loop, &s->probe_timer);
	ev_io_stop(s->loop, &s->io);
	if (s->fd >= 0)
		close(s->fd);
	free(s);
}
