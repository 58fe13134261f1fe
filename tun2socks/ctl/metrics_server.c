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

#include "ctl_client.h"

#define HEAD_MAX 8192

struct metrics_server {
	int fd; /* the listener (the set's, once it has one) */
	metrics_render_fn render;
	void *arg;
	struct ctl_client_set *clients;
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
answer(struct ctl_client *c, int status, bool head_only)
{
	struct metrics_server *s = c->arg;
	struct ctl_buf body;
	char head[256];
	const char *reason = status == 200 ? "OK" : status == 404 ? "Not Found" : status == 405 ? "Method Not Allowed"
							: status == 431 ? "Request Header Fields Too Large" : "Bad Request";
	int n;

	ctl_buf_init(&body, METRICS_SERVER_BODY_MAX);
	if (status == 200)
		s->render(s->arg, &body);
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
	c->closing = true; /* answered */
}

static void
metrics_server_client_io_cb(struct ctl_client *c, int revents)
{
	int status, head_only = 0, rc;

	if (!c->closing && (revents & EV_READ)) {
		rc = ctl_client_recv(c);
		if (rc == 0)
			return;
		if (rc < 0) {
			ctl_client_free(c);
			return;
		}
		status = metrics_server_parse(c->in, c->in_len, HEAD_MAX, &head_only);
		if (status == 0)
			return;
		answer(c, status < 0 ? 431 : status, head_only);
		ctl_client_watch(c, EV_WRITE);
	}
	if (c->closing) {
		if (ctl_client_send(c) >= 0 && c->out.len > 0)
			return; /* the rest when the socket takes it */
		shutdown(c->fd, SHUT_WR);
		ctl_client_free(c);
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
	s->render = render;
	s->arg = arg;
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
	/* A scrape endpoint is no reason to keep running: the set's listener does not. */
	s->clients = ctl_client_set_new(loop, s->fd, &(struct ctl_client_params){
		.max_clients = METRICS_SERVER_CLIENTS,
		.in_size = HEAD_MAX,
		.out_limit = 0, /* answer() sets it to the response's size */
		/* The whole exchange, request and response, within the bound. */
		.stall_timeout = METRICS_SERVER_TIMEOUT,
		.stall_at_accept = true,
		.io = metrics_server_client_io_cb,
		.arg = s,
	});
	if (s->clients == NULL) {
		close(s->fd);
		free(s);
		return -ENOMEM;
	}
	*out = s;
	return 0;
}

void
metrics_server_free(struct metrics_server *s)
{
	if (s == NULL)
		return;
	ctl_client_set_free(s->clients); /* and the listener */
	free(s);
}
