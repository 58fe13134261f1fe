/* SPDX-License-Identifier: MIT */
/*
 * One HTTP CONNECT on libev: non-blocking connect to the proxy, the request (with Basic
 * authentication when the server has a user), and the response head. On a 2xx the
 * connected socket is handed to the caller, which relays on it from then on; bytes the
 * proxy sent behind the head stay in the socket for the relay. The same contract as
 * socks5_tcp.h; proxy_tcp.h chooses between them. Timeouts are the caller's.
 */
#ifndef T2S_REDIRECT_HTTP_CONNECT_H
#define T2S_REDIRECT_HTTP_CONNECT_H

#include <stdbool.h>

#include <ev.h>

#include "endpoint.h"
#include "proxy_result.h"
#include "socks5_server.h"

struct http_connect;

/*
 * Starts CONNECT to target via server (server->user and pass, if set, go in a
 * Proxy-Authorization header). done is called once, from the loop. Returns NULL with
 * errno set on failure. server is borrowed and must outlive the session.
 */
struct http_connect *http_connect_new(struct ev_loop *loop, const struct socks5_server *server,
				      const struct t2s_endpoint *target, proxy_tcp_done_fn done, void *arg);

/* The same on fd, already connected or connecting to the proxy; owned by the session
 * from now on, also when NULL is returned (then it is closed). */
struct http_connect *http_connect_new_on_fd(struct ev_loop *loop, const struct socks5_server *server, int fd,
					    const struct t2s_endpoint *target, proxy_tcp_done_fn done, void *arg);

/* After success: the connected, non-blocking socket; the caller now owns it. */
int http_connect_take_fd(struct http_connect *s);

/* Whether the TCP connection to the proxy is up (its answer is the target's). */
bool http_connect_proxy_answered(const struct http_connect *s);

/* Stops and frees; closes the socket unless it was taken. NULL is fine. */
void http_connect_free(struct http_connect *s);

#endif
