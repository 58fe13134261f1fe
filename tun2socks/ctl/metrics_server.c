/* SPDX-License-Identifier: MIT */
/* GET /metrics over HTTP/1.x, one request per connection; see metrics_server.h. */
#include "metrics_server.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "container_of.h"
#include "list.h"

#define HEAD_MAX 8192

struct metrics_client {
	struct metrics_server *server;
	struct list_node link;
	int fd;
	ev_io io;
	ev_timer timer;
	char in[HEAD_MAX];
	size_t in_len;
	struct ctl_buf out; /* empty until the request is complete */
	bool answered;
};

struct metrics_server {
	struct ev_loop *loop;
	int fd;
	ev_io io;
	metrics_render_fn render;
	void *arg;
	struct list_node clients;
	unsigned n_clients;
};

int
metrics_server_parse(const char *buf, size_t len, size_t max, int *head_only)
{
	const char *end = NULL, *sp1, *sp2, *line_end;
	size_t path_len;

	for (size_t i = 0; i + 1 < len; i++) {
		if (buf[i] == '\n' && buf[i + 1] == '\n') {
			end = buf + i;
			break;
		}
		if (i + 3 < len && memcmp(buf + i, "\r\n\r\n", 4) == 0) {
			end = buf + i;
			break;
		}
	}
	if (end == NULL)
		return len >= max ? -EMSGSIZE : 0;
	line_end = memchr(buf, '\n', (size_t)(end - buf) + 1);
	sp1 = memchr(buf, ' ', (size_t)(line_end - buf));
	if (sp1 == NULL)
		return 400;
	sp2 = memchr(sp1 + 1, ' ', (size_t)(line_end - sp1 - 1));
	if (sp2 == NULL || (size_t)(line_end - sp2) < 9 || memcmp(sp2 + 1, "HTTP/1.", 7) != 0)
		return 400;
	*head_only = sp1 - buf == 4 && memcmp(buf, "HEAD", 4) == 0;
	if (!*head_only && !(sp1 - buf == 3 && memcmp(buf, "GET", 3) == 0))
		return 405;
	path_len = (size_t)(sp2 - sp1 - 1);
	if ((path_len == 8 || (path_len > 8 && sp1[9] == '?')) && memcmp(sp1 + 1, "/metrics", 8) == 0)
		return 200;
	return 404;
}

static void
client_free(struct metrics_client *c)
{
	struct metrics_server *s = c->server;

	ev_io_stop(s->loop, &c->io);
	ev_timer_stop(s->loop, &c->timer);
	close(c->fd);
	ctl_buf_free(&c->out);
	list_remove(&c->link);
	s->n_clients--;
	free(c);
}

static void
answer(struct metrics_client *c, int status, bool head_only)
{
	struct ctl_buf body;
	char head[256];
	const char *reason = status == 200 ? "OK" : status == 404 ? "Not Found" : status == 405 ? "Method Not Allowed"
							: status == 431 ? "Request Header Fields Too Large" : "Bad Request";
	int n;

	ctl_buf_init(&body, METRICS_SERVER_BODY_MAX);
	if (status == 200)
		c->server->render(c->server->arg, &body);
	else if (ctl_buf_put(&body, reason, strlen(reason)))
		ctl_buf_put(&body, "\n", 1);
	if (body.failed) {
		status = 500;
		reason = "Internal Server Error";
		ctl_buf_free(&body);
		ctl_buf_init(&body, 64);
	}
	n = snprintf(head, sizeof(head),
		     "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\nConnection: close\r\n%s\r\n",
		     status, reason, status == 200 ? "text/plain; version=0.0.4; charset=utf-8" : "text/plain", body.len,
		     status == 405 ? "Allow: GET, HEAD\r\n" : "");
	ctl_buf_init(&c->out, (size_t)n + body.len);
	ctl_buf_put(&c->out, head, (size_t)n);
	if (!head_only && body.len > 0)
		ctl_buf_put(&c->out, body.data, body.len);
	ctl_buf_free(&body);
	c->answered = true;
}

static void
metrics_client_io_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct metrics_client *c = container_of(w, struct metrics_client, io);
	int status, head_only = 0;
	ssize_t n;

	if (!c->answered && (revents & EV_READ)) {
		n = recv(c->fd, c->in + c->in_len, sizeof(c->in) - c->in_len, MSG_DONTWAIT);
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return;
		if (n <= 0) {
			client_free(c);
			return;
		}
		c->in_len += (size_t)n;
		status = metrics_server_parse(c->in, c->in_len, sizeof(c->in), &head_only);
		if (status == 0)
			return;
		answer(c, status < 0 ? 431 : status, head_only);
		ev_io_stop(loop, &c->io);
		ev_io_set(&c->io, c->fd, EV_WRITE);
		ev_io_start(loop, &c->io);
	}
	while (c->answered && c->out.len > 0) {
		n = send(c->fd, c->out.data, c->out.len, MSG_DONTWAIT | MSG_NOSIGNAL);
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return;
		if (n <= 0)
			break;
		ctl_buf_consume(&c->out, (size_t)n);
	}
	if (c->answered) {
		shutdown(c->fd, SHUT_WR);
		client_free(c);
	}
}

static void
metrics_client_timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)loop;
	(void)revents;
	client_free(container_of(w, struct metrics_client, timer)); /* too slow: cut off */
}

static void
metrics_server_accept_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct metrics_server *s = container_of(w, struct metrics_server, io);

	(void)revents;
	for (int i = 0; i < 16; i++) {
		int fd = accept4(s->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		struct metrics_client *c;

		if (fd < 0)
			return;
		if (s->n_clients >= METRICS_SERVER_CLIENTS || (c = calloc(1, sizeof(*c))) == NULL) {
			close(fd);
			continue;
		}
		c->server = s;
		c->fd = fd;
		list_push_front(&s->clients, &c->link);
		s->n_clients++;
		ev_io_init(&c->io, metrics_client_io_cb, fd, EV_READ);
		ev_io_start(loop, &c->io);
		/* The whole exchange, request and response, within the bound. */
		ev_timer_init(&c->timer, metrics_client_timer_cb, METRICS_SERVER_TIMEOUT, 0);
		ev_timer_start(loop, &c->timer);
	}
}

int
metrics_server_new(struct ev_loop *loop, const struct sockaddr_storage *addr, metrics_render_fn render, void *arg,
		   struct metrics_server **out)
{
	struct metrics_server *s = calloc(1, sizeof(*s));
	socklen_t len = addr->ss_family == AF_INET ? sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6);
	int one = 1, err;

	*out = NULL;
	if (s == NULL)
		return -ENOMEM;
	s->loop = loop;
	s->render = render;
	s->arg = arg;
	list_init(&s->clients);
	s->fd = socket(addr->ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (s->fd < 0) {
		err = -errno;
		free(s);
		return err;
	}
	(void)setsockopt(s->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(s->fd, (const struct sockaddr *)addr, len) < 0 || listen(s->fd, 16) < 0) {
		err = -errno;
		close(s->fd);
		free(s);
		return err;
	}
	ev_io_init(&s->io, metrics_server_accept_cb, s->fd, EV_READ);
	ev_io_start(loop, &s->io);
	ev_unref(loop); /* a scrape endpoint is no reason to keep running */
	*out = s;
	return 0;
}

void
metrics_server_free(struct metrics_server *s)
{
	if (s == NULL)
		return;
	while (!list_empty(&s->clients))
		client_free(list_entry(list_first(&s->clients), struct metrics_client, link));
	ev_ref(s->loop);
	ev_io_stop(s->loop, &s->io);
	close(s->fd);
	free(s);
}
