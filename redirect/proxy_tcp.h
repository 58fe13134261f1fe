/* SPDX-License-Identifier: MIT */
/*
 * One TCP CONNECT through the proxy, whatever it speaks: the session of
 * server->kind (socks5_tcp.h or http_connect.h) behind one interface and one result
 * (proxy_result.h), so that flows know no proxy protocol. Timeouts are the caller's:
 * it frees the session when its own timer fires.
 */
#ifndef T2S_REDIRECT_PROXY_TCP_H
#define T2S_REDIRECT_PROXY_TCP_H

#include <stdbool.h>

#include <ev.h>

#include "endpoint.h"
#include "proxy_result.h"
#include "socks5_server.h"

struct proxy_tcp;

/*
 * Starts CONNECT to target via server. done is called exactly once, from the loop
 * (never from proxy_tcp_new); it may call proxy_tcp_take_fd (on success) and
 * proxy_tcp_free. Returns NULL with errno set on failure. server is borrowed.
 */
struct proxy_tcp *proxy_tcp_new(struct ev_loop *loop, const struct socks5_server *server,
				const struct t2s_endpoint *target, proxy_tcp_done_fn done, void *arg);

/* After success: the connected, non-blocking socket; the caller now owns it. */
int proxy_tcp_take_fd(struct proxy_tcp *p);

/*
 * Whether the proxy itself has answered: SOCKS5, its greeting (and credentials)
 * replied to; HTTP, the TCP connection is up. A session that times out before that
 * is the proxy's failure, after it perhaps the target's.
 */
bool proxy_tcp_proxy_answered(const struct proxy_tcp *p);

/* Stops and frees; closes the socket unless it was taken. NULL is fine. */
void proxy_tcp_free(struct proxy_tcp *p);

#endif
