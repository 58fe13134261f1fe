/* SPDX-License-Identifier: MIT */
/*
 * The SOCKS5 control-connection handshake shared by CONNECT (socks5_tcp) and UDP
 * ASSOCIATE (socks5_udp): wait for the non-blocking connect, method negotiation,
 * optional RFC 1929 authentication, one request and its reply. A value embedded in
 * the session; the session owns the fd and the ev_io, and only maps results to
 * watcher events and its own callbacks.
 */
#ifndef T2S_REDIRECT_SOCKS5_HANDSHAKE_H
#define T2S_REDIRECT_SOCKS5_HANDSHAKE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "endpoint.h"
#include "socks5_proto.h"
#include "socks5_server.h"

enum socks5_handshake_step {
	SOCKS5_HANDSHAKE_STEP_CONNECTING,
	SOCKS5_HANDSHAKE_STEP_METHOD,
	SOCKS5_HANDSHAKE_STEP_AUTH,
	SOCKS5_HANDSHAKE_STEP_REQUEST,
	SOCKS5_HANDSHAKE_STEP_DONE, /* succeeded or failed: nothing more to do */
};

/* What the owner does next. */
enum socks5_handshake_status {
	SOCKS5_HANDSHAKE_NEED_WRITE, /* watch the fd for EV_WRITE (only) */
	SOCKS5_HANDSHAKE_NEED_READ,  /* watch the fd for EV_READ (only) */
	SOCKS5_HANDSHAKE_DONE,       /* the reply was REP 0; bnd holds BND */
	SOCKS5_HANDSHAKE_FAILED,     /* see failure, err and rep */
};

enum socks5_handshake_failure {
	SOCKS5_HANDSHAKE_OK = 0,
	SOCKS5_HANDSHAKE_PROXY_UNREACHABLE, /* connect() to the proxy failed; err says why */
	SOCKS5_HANDSHAKE_PROXY_PROTOCOL,    /* the proxy closed early or spoke garbage */
	SOCKS5_HANDSHAKE_PROXY_AUTH,        /* no acceptable method, or credentials rejected */
	SOCKS5_HANDSHAKE_REJECTED,          /* the reply had REP != 0; see rep */
};

struct socks5_handshake {
	enum socks5_handshake_step step;
	const struct socks5_server *server; /* borrowed; must outlive the handshake */
	/* server's credentials as of init: a reload may point the server at new ones
	 * while this handshake goes on with the proxy it connected to (the old strings
	 * must stay valid as long: lib/api.c keeps them). */
	const char *user, *pass;
	uint8_t cmd;
	struct t2s_endpoint target; /* DST of the request */
	uint8_t method;             /* the method the proxy chose, for diagnostics */
	/* Valid once on_writable/on_readable returned DONE or FAILED. */
	enum socks5_handshake_failure failure;
	int err;                 /* 0, or -errno describing the failure */
	/* The step that failed (CONNECTING..REQUEST): a proxy that closes the connection
	 * at REQUEST completed the greeting and refuses the command itself. */
	enum socks5_handshake_step failed_step;
	/* Pipelined (socks5_handshake_pipeline): every request in one write, then the
	 * replies in order; mismatch: the proxy chose another method than expect_method. */
	bool pipelined, mismatch;
	uint8_t expect_method;
	uint8_t rep;             /* the REP code for SOCKS5_HANDSHAKE_REJECTED */
	struct t2s_endpoint bnd; /* BND.ADDR:BND.PORT as replied (type NONE before the reply) */
	/* Outgoing request [out_off, out_len), then incoming reply [0, in_len). */
	size_t out_off, out_len, in_len;
	uint8_t out[4 + 2 * SOCKS5_MAX_REQUEST]; /* greeting, user/pass, request */
	uint8_t in[SOCKS5_MAX_REPLY];
};

/*
 * Prepares a handshake that sends cmd for target via server, starting in the
 * CONNECTING step: the owner first waits for EV_WRITE on its connecting fd.
 */
void socks5_handshake_init(struct socks5_handshake *hs, const struct socks5_server *server, uint8_t cmd,
			   const struct t2s_endpoint *target);

/*
 * Right after init: send the greeting, the credentials (if method is USERPASS) and the
 * request in one write, assuming the proxy chooses method. If it chooses another, the
 * handshake fails as SOCKS5_HANDSHAKE_PROXY_PROTOCOL with mismatch set (0xff, no
 * acceptable method, is still SOCKS5_HANDSHAKE_PROXY_AUTH).
 */
void socks5_handshake_pipeline(struct socks5_handshake *hs, uint8_t method);

/*
 * Right after the non-blocking connect() of fd (and socks5_handshake_pipeline, if
 * any): sends the first request at once if the connection is already up, as one to a
 * proxy on this host or in its namespaces is by the time connect() returns (the
 * handshake then skips a wait for writability, an SO_ERROR query and a change of the
 * watched events). NEED_WRITE, still CONNECTING, when it is not up yet: the owner waits
 * for EV_WRITE as after init. A failure here is the connect's:
 * SOCKS5_HANDSHAKE_PROXY_UNREACHABLE, err from the socket (ECONNREFUSED, ...); the owner
 * reports it from the loop all the same, by watching fd for EV_WRITE: a socket whose
 * connect failed is closed, so ready at once (EPOLLHUP). That is a real event, which
 * ends an EVRUN_ONCE iteration (tun2socks check); an ev_feed_event would run on entry to
 * ev_run and leave the loop blocked after it.
 */
enum socks5_handshake_status socks5_handshake_on_connect_started(struct socks5_handshake *hs, int fd);

/* Drive the handshake when fd is writable / readable. Never closes fd. The writable call that
 * finds the connection made also sends the first request at once. */
enum socks5_handshake_status socks5_handshake_on_writable(struct socks5_handshake *hs, int fd);
enum socks5_handshake_status socks5_handshake_on_readable(struct socks5_handshake *hs, int fd);

#endif
