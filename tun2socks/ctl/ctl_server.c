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

#include "ctl_client.h"
#include "log.h"

struct ctl_server {
	struct ctl_server_params p;
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	int fd; /* the listener (the set's, once it has one) */
	struct ctl_client_set *clients;
	unsigned long cut_off; /* beyond the set's refusals */
};

static void
note_cut_off(struct ctl_server *s, const char *why)
{
	s->cut_off++;
	log_debug("control: a client was cut off: %s", why);
}

static void
cut_off(struct ctl_client *c, const char *why)
{
	note_cut_off(c->arg, why);
	ctl_client_free(c);
}

/* Sends what the socket takes; returns -1 when the client was freed. */
static int
flush(struct ctl_client *c)
{
	int events = EV_READ;
	long n = ctl_client_send(c);

	if (n < 0) {
		ctl_client_free(c);
		return -1;
	}
	if (n > 0)
		ctl_client_stall_again(c); /* progress: the reader is alive */
	if (c->out.len == 0) {
		ctl_client_stall_stop(c);
		if (c->closing) {
			ctl_client_free(c);
			return -1;
		}
	} else {
		events |= EV_WRITE;
		if (!ctl_client_stall_armed(c))
			ctl_client_stall_again(c);
	}
	/* While output waits, requests wait too: a client cannot pile up responses. */
	if (c->out.len > 0)
		events &= ~EV_READ;
	ctl_client_watch(c, events);
	return 0;
}

/* Answers every complete line in c->in; returns -1 when the client was freed. */
static int
handle_lines(struct ctl_client *c)
{
	struct ctl_server *s = c->arg;
	size_t off = 0;
	long n;

	while (!c->closing && c->out.len == 0 &&
	       (n = ctl_proto_line(c->in + off, c->in_len - off, CTL_PROTO_REQUEST_MAX)) != 0) {
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
ctl_server_client_io_cb(struct ctl_client *c, int revents)
{
	if ((revents & EV_WRITE) && flush(c) < 0)
		return;
	if ((revents & EV_READ) && c->out.len == 0) {
		int rc = ctl_client_recv(c);

		if (rc == 0)
			return;
		if (rc < 0) {
			ctl_client_free(c);
			return;
		}
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
ctl_server_client_stalled(struct ctl_client *c)
{
	note_cut_off(c->arg, "it read nothing of its response in time");
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
	s->p = *p;
	strcpy(s->path, p->path);
	s->p.path = s->path;
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
	/* A control socket is no reason to keep running: the set's listener does not. */
	s->clients = ctl_client_set_new(loop, s->fd, &(struct ctl_client_params){
		.max_clients = p->max_clients,
		.in_size = CTL_PROTO_REQUEST_MAX,
		.out_limit = p->out_limit,
		.stall_timeout = p->stall_timeout,
		.io = ctl_server_client_io_cb,
		.stalled = ctl_server_client_stalled,
		.arg = s,
	});
	if (s->clients == NULL) {
		err = -ENOMEM;
		unlink(s->path);
		goto err_close;
	}
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
	ctl_client_set_free(s->clients); /* and the listener */
	/* After a privilege drop the directory may not let us: the next run replaces it. */
	(void)unlink(s->path);
	free(s);
}

unsigned
ctl_server_clients(const struct ctl_server *s)
{
	return ctl_client_set_count(s->clients);
}

unsigned long
ctl_server_cut_off(const struct ctl_server *s)
{
	return s->cut_off + ctl_client_set_refused(s->clients);
}
