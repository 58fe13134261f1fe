/* SPDX-License-Identifier: MIT */
/*
 * One SOCKS5 CONNECT on libev: non-blocking connect to the proxy, method negotiation,
 * optional RFC 1929 authentication, the CONNECT request and its reply. On success the
 * connected socket is handed to the caller, which relays on it from then on.
 * Timeouts are the caller's: it frees the session when its own timer fires.
 */
#ifndef T2S_REDIRECT_SOCKS5_TCP_H
#define T2S_REDIRECT_SOCKS5_TCP_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include <ev.h>

#include "endpoint.h"
#include "socks5_server.h"

/* Failure classes, so the caller can answer the application in kind. */
enum socks5_tcp_failure {
	SOCKS5_TCP_OK = 0,
	SOCKS5_TCP_PROXY_UNREACHABLE, /* connect() to the proxy failed; err says why */
	SOCKS5_TCP_PROXY_PROTOCOL,    /* the proxy closed early or spoke garbage */
	SOCKS5_TCP_PROXY_AUTH,        /* no acceptable method, or credentials rejected */
	SOCKS5_TCP_TARGET,            /* the proxy answered CONNECT with REP != 0 */
};

struct socks5_tcp_result {
	enum socks5_tcp_failure failure;
	int err;     /* 0 on success, else -errno describing the failure */
	uint8_t rep; /* the REP code for SOCKS5_TCP_TARGET */
	uint8_t method; /* the method the proxy chose, for diagnostics */
};

struct socks5_tcp;

/*
 * Called exactly once, from the loop (never from socks5_tcp_new). The callee may call
 * socks5_tcp_take_fd (on success) and socks5_tcp_free from inside.
 */
typedef void (*socks5_tcp_done_fn)(void *arg, const struct socks5_tcp_result *res);

/* Starts CONNECT to target via server. Returns NULL with errno set on failure. */
struct socks5_tcp *socks5_tcp_new(struct ev_loop *loop, const struct socks5_server *server,
				  const struct t2s_endpoint *target, socks5_tcp_done_fn done, void *arg);

/*
 * The same on fd, a non-blocking stream socket already connected or connecting to the
 * proxy (tls_client.h's plain end). The session owns fd from now on, also when NULL is
 * returned (then it is closed). Such a session never pipelines (socks5_pipeline.h):
 * its fallback would need a new connection, which only the caller can make.
 */
struct socks5_tcp *socks5_tcp_new_on_fd(struct ev_loop *loop, const struct socks5_server *server, int fd,
					const struct t2s_endpoint *target, socks5_tcp_done_fn done, void *arg);

/* After success: the connected, non-blocking socket; the caller now owns it. */
int socks5_tcp_take_fd(struct socks5_tcp *s);

/* Whether the proxy has answered the greeting (and the credentials): past that, a
 * wait is the target's. */
bool socks5_tcp_proxy_answered(const struct socks5_tcp *s);

/* Stops and frees; closes the socket unless it was taken. NULL is fine. */
void socks5_tcp_free(struct socks5_tcp *s);

#endif
