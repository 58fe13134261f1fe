/* SPDX-License-Identifier: MIT */
/* The control socket's listener and clients on the loop; see ctl_server.h. */
#include "ctl_server.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "container_of.h"
#include "list.h"
#include "log.h"

struct ctl_client {
	struct ctl_server *server;
	struct list_node link;
	int fd;
	ev_io io;
	ev_timer stall; /* armed while output waits */
	char in[CTL_PROTO_REQUEST_MAX];
	size_t in_len;
	struct ctl_buf out;
	bool closing; /* answered an error: close once the output is sent */
};

struct ctl_server {
	struct ev_loop *loop;
	struct ctl_server_params p;
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	int fd;
	ev_io io;
	struct list_node clients;
	unsigned n_clients;
	unsigned long cut_off;
};

static void
client_free(struct ctl_client *c)
{
	struct ctl_server *s = c->server;

	ev_io_stop(s->loop, &c->io);
	ev_timer_stop(s->loop, &c->stall);
	close(c->fd);
	ctl_buf_free(&c->out);
	list_remove(&c->link);
	s->n_clients--;
	free(c);
}

static void
cut_off(struct ctl_client *c, const char *why)
{
	c->server->cut_off++;
	log_debug("control: a client was cut off: %s", why);
	client_free(c);
}

/* Sends what the socket takes; returns -1 when the client was freed. */
static int
flush(struct ctl_client *c)
{
	struct ctl_server *s = c->server;
	int events = EV_READ;

	while (c->out.len > 0) {
		ssize_t n = send(c->fd, c->out.data, c->out.len, MSG_NOSIGNAL | MSG_DONTWAIT);

		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			break;
		if (n <= 0) {
			client_free(c);
			return -1;
		}
		ctl_buf_consume(&c->out, (size_t)n);
		ev_timer_again(s->loop, &c->stall); /* progress: the reader is alive */
	}
	if (c->out.len == 0) {
		ev_timer_stop(s->loop, &c->stall);
		if (c->closing) {
			client_free(c);
			return -1;
		}
	} else {
		events |= EV_WRITE;
		if (!ev_is_active(&c->stall))
			ev_timer_again(s->loop, &c->stall);
	}
	/* While output waits, requests wait too: a client cannot pile up responses. */
	if (c->out.len > 0)
		events &= ~EV_READ;
	if (c->io.events != events) {
		ev_io_stop(s->loop, &c->io);
		ev_io_set(&c->io, c->fd, events);
		ev_io_start(s->loop, &c->io);
	}
	return 0;
}

/* Answers every complete line in c->in; returns -1 when the client was freed. */
static int
handle_lines(struct ctl_client *c)
{
	struct ctl_server *s = c->server;
	size_t off = 0;
	long n;

	while (!c->closing && c->out.len == 0 &&
	       (n = ctl_proto_line(c->in + off, c->in_len - off, sizeof(c->in))) != 0) {
		if (n < 0) {
			ctl_proto_error(&c->out, "request too long");
			ctl_proto_end(&c->out);
			c->closing = true;
			break;
		}
		c->in[off + (size_t)n - 1] = '\0';
		if (n >= 2 && c->in[off + (size_t)n - 2] == '\r')
			c->in[off + (size_t)n - 2] = '\0';
		s->p.handle(s->p.arg, c->in + off, &c->out);
		off += (size_t)n;
		if (c->out.failed) {
			cut_off(c, "its response passed the output limit");
			return -1;
		}
	}
	memmove(c->in, c->in + off, c->in_len - off);
	c->in_len -= off;
	return 0;
}

static void
ctl_client_io_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct ctl_client *c = container_of(w, struct ctl_client, io);

	(void)loop;
	if ((revents & EV_WRITE) && flush(c) < 0)
		return;
	if ((revents & EV_READ) && c->out.len == 0) {
		ssize_t n = recv(c->fd, c->in + c->in_len, sizeof(c->in) - c->in_len, MSG_DONTWAIT);

		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return;
		if (n <= 0) {
			client_free(c);
			return;
		}
		c->in_len += (size_t)n;
	}
	/* One response at a time: the next request is answered once the last one went. */
	for (;;) {
		size_t before = c->in_len;

		if (flush(c) < 0)
			return;
		if (c->out.len > 0 || c->in_len == 0 || c->closing)
			return;
		if (handle_lines(c) < 0)
			return;
		if (c->in_len == before && c->out.len == 0)
			return; /* no complete line yet */
	}
}

static void
ctl_client_stall_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct ctl_client *c = container_of(w, struct ctl_client, stall);

	(void)loop;
	(void)revents;
	cut_off(c, "it read nothing of its response in time");
}

static void
ctl_server_accept_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct ctl_server *s = container_of(w, struct ctl_server, io);

	(void)revents;
	for (int i = 0; i < 16; i++) {
		int fd = accept4(s->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		struct ctl_client *c;

		if (fd < 0)
			return;
		if (s->n_clients >= s->p.max_clients || (c = calloc(1, sizeof(*c))) == NULL) {
			s->cut_off++;
			close(fd);
			continue;
		}
		c->server = s;
		c->fd = fd;
		ctl_buf_init(&c->out, s->p.out_limit);
		list_push_front(&s->clients, &c->link);
		s->n_clients++;
		ev_io_init(&c->io, ctl_client_io_cb, fd, EV_READ);
		ev_io_start(loop, &c->io);
		ev_init(&c->stall, ctl_client_stall_cb);
		c->stall.repeat = s->p.stall_timeout;
	}
}

/* A socket at the path that nobody answers is a dead run's: it may go. */
static int
claim_path(const struct sockaddr_un *sun)
{
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0), err = 0;
	struct stat st;

	if (lstat(sun->sun_path, &st) < 0)
		return errno == ENOENT ? 0 : -errno;
	if (!S_ISSOCK(st.st_mode))
		return -EEXIST;
	if (fd < 0)
		return -errno;
	if (connect(fd, (const struct sockaddr *)sun, sizeof(*sun)) == 0)
		err = -EADDRINUSE;
	else if (errno == ECONNREFUSED && unlink(sun->sun_path) < 0)
		err = -errno;
	close(fd);
	return err;
}

int
ctl_server_new(struct ev_loop *loop, const struct ctl_server_params *p, struct ctl_server **out)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	struct ctl_server *s;
	int err;

	*out = NULL;
	if (strlen(p->path) >= sizeof(sun.sun_path))
		return -ENAMETOOLONG;
	strcpy(sun.sun_path, p->path);
	s = calloc(1, sizeof(*s));
	if (s == NULL)
		return -ENOMEM;
	s->loop = loop;
	s->p = *p;
	strcpy(s->path, p->path);
	s->p.path = s->path;
	list_init(&s->clients);
	if ((err = claim_path(&sun)) < 0)
		goto err_free;
	s->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (s->fd < 0) {
		err = -errno;
		goto err_free;
	}
	/* Created with no permission at all, then opened to mode: never wider meanwhile. */
	mode_t old = umask(0777);

	err = bind(s->fd, (struct sockaddr *)&sun, sizeof(sun)) < 0 ? -errno : 0;
	umask(old);
	if (err < 0)
		goto err_close;
	if ((p->gid != (gid_t)-1 && chown(s->path, (uid_t)-1, p->gid) < 0) || chmod(s->path, p->mode) < 0 ||
	    listen(s->fd, 16) < 0) {
		err = -errno;
		unlink(s->path);
		goto err_close;
	}
	ev_io_init(&s->io, ctl_server_accept_cb, s->fd, EV_READ);
	ev_io_start(loop, &s->io);
	ev_unref(loop); /* a control socket is no reason to keep running */
	*out = s;
	return 0;

err_close:
	close(s->fd);
err_free:
	free(s);
	return err;
}

void
ctl_server_free(struct ctl_server *s)
{
	if (s == NULL)
		return;
	while (!list_empty(&s->clients))
		client_free(list_entry(list_first(&s->clients), struct ctl_client, link));
	ev_ref(s->loop);
	ev_io_stop(s->loop, &s->io);
	close(s->fd);
	/* After a privilege drop the directory may not let us: the next run replaces it. */
	(void)unlink(s->path);
	free(s);
}

unsigned
ctl_server_clients(const struct ctl_server *s)
{
	return s->n_clients;
}

unsigned long
ctl_server_cut_off(const struct ctl_server *s)
{
	return s->cut_off;
}
