/* SPDX-License-Identifier: MIT */
/*
 * --metrics: a minimal HTTP/1.x server on the one loop for GET /metrics (one request
 * per connection, then close). Never blocks the loop: a client that has not sent its
 * request, or not taken its response, within METRICS_SERVER_TIMEOUT seconds is cut off,
 * and at most METRICS_SERVER_CLIENTS are served at once.
 */
#ifndef T2S_CTL_METRICS_SERVER_H
#define T2S_CTL_METRICS_SERVER_H

#include <sys/socket.h>

#include <ev.h>

#include "ctl_proto.h"

#define METRICS_SERVER_TIMEOUT 5.0
#define METRICS_SERVER_CLIENTS 8
#define METRICS_SERVER_BODY_MAX (16u << 20)

struct metrics_server;

/* Writes the exposition text into body (on the loop's thread). */
typedef void (*metrics_render_fn)(void *arg, struct ctl_buf *body);

/* Listens on addr (SO_REUSEADDR); returns 0 with *out set, or -errno. */
int metrics_server_new(struct ev_loop *loop, const struct sockaddr_storage *addr, metrics_render_fn render,
		       void *arg, struct metrics_server **out);
void metrics_server_free(struct metrics_server *s);

/*
 * The request head in buf (len bytes, not NUL-terminated): 0 need more, -EMSGSIZE too
 * long, else the HTTP status to answer (200 for GET or HEAD /metrics[?...], 404 another
 * path, 405 another method, 400 not HTTP); *head_only for HEAD. Pure.
 */
int metrics_server_parse(const char *buf, size_t len, size_t max, int *head_only);

#endif
