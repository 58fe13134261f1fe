/* SPDX-License-Identifier: MIT */
/* A bounded set of accepted clients on the loop; see ctl_client.h. */
#include "ctl_client.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include "container_of.h"

/* Connections taken per wake-up of the listener: others wait for the next iteration. */
#define ACCEPT_BURST 16

struct ctl_client_set {
	struct ev_loop *loop;
	struct ctl_client_params p;
	int fd;
	ev_io io;
	struct list_node clients;
	unsigned n_clients;
	unsigned long refused;
};

void
ctl_client_free(struct ctl_client *c)
{
	struct ctl_client_set *set = c->set;

	ev_io_stop(set->loop, &c->io);
	ev_timer_stop(set->loop, &c->stall);
	close(c->fd);
	ctl_buf_free(&c->out);
	list_remove(&c->link);
	set->n_clients--;
	free(c);
}

int
ctl_client_recv(struct ctl_client *c)
{
	ssize_t n = recv(c->fd, c->in + c->in_len, c->set->p.in_size - c->in_len, MSG_DONTWAIT);

	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return 0;
	if (n <= 0)
		return -1;
	c->in_len += (size_t)n;
	return 1;
}

long
ctl_client_send(struct ctl_client *c)
{
	long sent = 0;

	while (c->out.len > 0) {
		ssize_t n = send(c->fd, c->out.data, c->out.len, MSG_NOSIGNAL | MSG_DONTWAIT);

		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			break;
		if (n <= 0)
			return -1;
		ctl_buf_consume(&c->out, (size_t)n);
		sent += n;
	}
	return sent;
}

void
ctl_client_watch(struct ctl_client *c, int events)
{
	struct ev_loop *loop = c->set->loop;

	if (c->io.events == events)
		return;
	ev_io_stop(loop, &c->io);
	ev_io_set(&c->io, c->fd, events);
	ev_io_start(loop, &c->io);
}

void
ctl_client_stall_again(struct ctl_client *c)
{
	ev_timer_again(c->set->loop, &c->stall);
}

void
ctl_client_stall_stop(struct ctl_client *c)
{
	ev_timer_stop(c->set->loop, &c->stall);
}

bool
ctl_client_stall_armed(const struct ctl_client *c)
{
	return ev_is_active(&c->stall);
}

static void
ctl_client_io_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct ctl_client *c = container_of(w, struct ctl_client, io);

	(void)loop;
	c->set->p.io(c, revents);
}

static void
ctl_client_stall_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct ctl_client *c = container_of(w, struct ctl_client, stall);

	(void)loop;
	(void)revents;
	if (c->set->p.stalled != NULL)
		c->set->p.stalled(c);
	ctl_client_free(c);
}

static void
ctl_client_set_accept_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct ctl_client_set *set = container_of(w, struct ctl_client_set, io);

	(void)revents;
	for (int i = 0; i < ACCEPT_BURST; i++) {
		int fd = accept4(set->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		struct ctl_client *c;

		if (fd < 0)
			return;
		if (set->n_clients >= set->p.max_clients || (c = calloc(1, sizeof(*c) + set->p.in_size)) == NULL) {
			set->refused++;
			close(fd);
			continue;
		}
		c->arg = set->p.arg;
		c->fd = fd;
		ctl_buf_init(&c->out, set->p.out_limit);
		c->set = set;
		list_push_front(&set->clients, &c->link);
		set->n_clients++;
		ev_io_init(&c->io, ctl_client_io_cb, fd, EV_READ);
		ev_io_start(loop, &c->io);
		ev_init(&c->stall, ctl_client_stall_cb);
		c->stall.repeat = set->p.stall_timeout;
		if (set->p.stall_at_accept)
			ev_timer_again(loop, &c->stall);
	}
}

struct ctl_client_set *
ctl_client_set_new(struct ev_loop *loop, int fd, const struct ctl_client_params *p)
{
	struct ctl_client_set *set = calloc(1, sizeof(*set));

	if (set == NULL)
		return NULL;
	set->loop = loop;
	set->p = *p;
	set->fd = fd;
	list_init(&set->clients);
	ev_io_init(&set->io, ctl_client_set_accept_cb, fd, EV_READ);
	ev_io_start(loop, &set->io);
	ev_unref(loop); /* a listener that only serves lookers-on is no reason to keep running */
	return set;
}

void
ctl_client_set_free(struct ctl_client_set *set)
{
	if (set == NULL)
		return;
	while (!list_empty(&set->clients))
		ctl_client_free(list_entry(list_first(&set->clients), struct ctl_client, link));
	ev_ref(set->loop);
	ev_io_stop(set->loop, &set->io);
	close(set->fd);
	free(set);
}

unsigned
ctl_client_set_count(const struct ctl_client_set *set)
{
	return set->n_clients;
}

unsigned long
ctl_client_set_refused(const struct ctl_client_set *set)
{
	return set->refused;
}
