/* SPDX-License-Identifier: MIT */
/*
 * The outcome of one TCP CONNECT through a proxy, whatever the proxy speaks (SOCKS5
 * or HTTP CONNECT), so that flows answer the application the same way for both.
 * Value types only; proxy_tcp.h is the session that produces them.
 */
#ifndef T2S_REDIRECT_PROXY_RESULT_H
#define T2S_REDIRECT_PROXY_RESULT_H

#include <stdint.h>

/* Failure classes, so the caller can answer the application in kind. */
enum proxy_tcp_failure {
	PROXY_TCP_OK = 0,
	PROXY_TCP_UNREACHABLE, /* connect() to the proxy failed; err says why */
	PROXY_TCP_PROTOCOL,    /* the proxy closed early, spoke garbage or refuses CONNECT itself */
	PROXY_TCP_AUTH,        /* no acceptable method, or credentials rejected (SOCKS5, HTTP 407) */
	PROXY_TCP_TARGET,      /* the proxy could not or would not reach the target; see rep */
	PROXY_TCP_TLS,         /* TLS to the proxy failed (certificate, name, pin, protocol); see reason */
};

#define PROXY_TCP_REASON_MAX 159

struct proxy_tcp_result {
	enum proxy_tcp_failure failure;
	int err; /* 0 on success, else -errno describing the failure */
	/* For PROXY_TCP_TARGET: the SOCKS5 REP code, or for an HTTP proxy the REP code its
	 * status means (http_proto_classify), so that one table turns both into RST or ICMP. */
	uint8_t rep;
	uint8_t method;       /* SOCKS5: the method the proxy chose, for diagnostics */
	uint16_t http_status; /* HTTP: the final status code, 0 for SOCKS5 or before a reply */
	/* HTTP: the reason phrase (printable, cut); PROXY_TCP_TLS: what failed */
	char reason[PROXY_TCP_REASON_MAX + 1];
};

/*
 * Called exactly once per session, from the loop (never from the constructor). The
 * callee may take the fd (on success) and free the session from inside.
 */
typedef void (*proxy_tcp_done_fn)(void *arg, const struct proxy_tcp_result *res);

#endif
