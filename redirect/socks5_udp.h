/* SPDX-License-Identifier: MIT */
/*
 * One SOCKS5 UDP ASSOCIATE (RFC 1928 section 7) on libev: the control TCP connection
 * to the proxy, its handshake, and a UDP socket connected to the relay that carries
 * datagrams wrapped in SOCKS UDP headers. The association lives as long as the control
 * connection. Timeouts and idle expiry are the caller's: it frees the session.
 */
#ifndef T2S_REDIRECT_SOCKS5_UDP_H
#define T2S_REDIRECT_SOCKS5_UDP_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include <ev.h>

#include "endpoint.h"
#include "socks5_proto.h"
#include "socks5_server.h"

/* Datagrams received per wakeup of the UDP socket, so one busy association cannot
 * starve the rest of the loop. */
#define SOCKS5_UDP_RECV_BATCH 64
/* Receive buffer size: any UDP payload (at most 65535 - 8 bytes) plus a SOCKS header. */
#define SOCKS5_UDP_RECV_BUF (65536 + SOCKS5_MAX_UDP_HEADER)

/*
 * Options. A zero-initialised struct (or NULL) gives the defaults, which is why the
 * flag below is phrased as the exception.
 */
struct socks5_udp_config {
	/* ss_family != AF_UNSPEC: send to this address and ignore BND.ADDR; its port too,
	 * unless it is 0 (then BND.PORT is used with this address). */
	struct sockaddr_storage relay_override;
	/*
	 * Default 0: a private, loopback or link-local BND.ADDR from a proxy whose own
	 * address is none of those is taken to be the proxy's inside address (a proxy
	 * behind NAT), and the proxy's address is used with BND.PORT instead.
	 * Non-zero: use such a BND.ADDR as given.
	 */
	int keep_private_bnd;
	/*
	 * A receive buffer of at least SOCKS5_UDP_RECV_BUF bytes shared by many sessions of
	 * one loop (datagrams are handled one at a time, and on_datagram's pointers are
	 * only valid during the call anyway), so that a session costs ~1 KiB instead of
	 * 64 KiB. Owned by the caller; must outlive the sessions. NULL: a private buffer.
	 */
	uint8_t *recv_buf;
	size_t recv_buf_len;
};

/* Failure classes of the setup, so the caller can log and react in kind. */
enum socks5_udp_failure {
	SOCKS5_UDP_OK = 0,
	SOCKS5_UDP_PROXY_UNREACHABLE, /* connect() to the proxy failed; err says why */
	SOCKS5_UDP_PROXY_PROTOCOL,    /* the proxy closed early or spoke garbage */
	SOCKS5_UDP_PROXY_AUTH,        /* no acceptable method, or credentials rejected */
	SOCKS5_UDP_UNSUPPORTED,       /* REP 7: the proxy does not do UDP ASSOCIATE */
	/* The greeting (and authentication) succeeded, then the proxy closed or reset the
	 * connection instead of replying to UDP ASSOCIATE (OpenSSH's ssh -D does): it does
	 * not do UDP ASSOCIATE either. err is -ECONNRESET (closed or reset) or -EPIPE. */
	SOCKS5_UDP_CLOSED_ON_ASSOCIATE,
	SOCKS5_UDP_REJECTED,          /* any other REP != 0; see rep */
	SOCKS5_UDP_RELAY,             /* the UDP socket to the relay could not be set up */
};

struct socks5_udp_result {
	enum socks5_udp_failure failure;
	int err;        /* 0 on success, else -errno describing the failure */
	uint8_t rep;    /* the REP code, for SOCKS5_UDP_UNSUPPORTED / SOCKS5_UDP_REJECTED */
	uint8_t method; /* the method the proxy chose, for diagnostics */
	struct t2s_endpoint bnd; /* BND.ADDR:BND.PORT as replied (type NONE before the reply) */
	struct sockaddr_storage relay; /* where datagrams go; valid on success */
	socklen_t relay_len;
};

/* Statistics, updated as datagrams pass; read them with socks5_udp_get_counters. */
struct socks5_udp_counters {
	uint64_t sent;              /* datagrams handed to the kernel */
	uint64_t sent_bytes;        /* their payload bytes, headers excluded */
	uint64_t received;          /* datagrams passed to on_datagram */
	uint64_t received_bytes;    /* their payload bytes */
	uint64_t dropped_frag;      /* received with FRAG != 0 (fragmentation is not supported) */
	uint64_t dropped_malformed; /* received with a bad or truncated header */
	uint64_t send_errors;       /* socks5_udp_send failures after setup, -EAGAIN included */
	/* Errors the socket reported about earlier datagrams: ICMP from the relay host, or
	 * from the proxy, which may pass on its targets' ICMP errors (dante does). */
	uint64_t icmp_errors;
};

/*
 * Callbacks, all called from the loop, never from socks5_udp_new, socks5_udp_send or
 * socks5_udp_free. Each may call socks5_udp_send, socks5_udp_get_counters and
 * socks5_udp_free on its own session; after free returns, the module does not touch
 * the session again (its memory is released when the callback returns).
 */
struct socks5_udp_callbacks {
	/*
	 * Exactly once, when the setup ends: res->failure == SOCKS5_UDP_OK means datagrams
	 * may be sent from now on. After a failure the session is inert (sockets closed,
	 * no more callbacks) and the caller must still free it.
	 */
	void (*on_ready)(void *arg, const struct socks5_udp_result *res);
	/*
	 * One datagram from the relay. src is the address in its SOCKS header (it may be a
	 * domain). src and payload point into the session and are valid only until the
	 * callback returns.
	 */
	void (*on_datagram)(void *arg, const struct t2s_endpoint *src, const uint8_t *payload, size_t len);
	/*
	 * At most once, after a successful on_ready: the control connection ended, so the
	 * association is dead. err is 0 when the proxy closed it in an orderly way, else
	 * -errno. Datagrams already queued from the relay are passed to on_datagram first.
	 * The sockets are already closed; sends fail with -ENOTCONN.
	 */
	void (*on_closed)(void *arg, int err);
};

struct socks5_udp;

/*
 * Starts an association via server. server must outlive the session; cfg (may be NULL)
 * and cb are copied. cb->on_ready is required (else EINVAL); on_datagram and on_closed
 * may be NULL. Returns NULL with errno set if the control connection could not even be
 * started.
 */
struct socks5_udp *socks5_udp_new(struct ev_loop *loop, const struct socks5_server *server,
				  const struct socks5_udp_config *cfg, const struct socks5_udp_callbacks *cb,
				  void *arg);

/*
 * Sends payload to dst through the relay: the SOCKS header and the payload go out in
 * one sendmsg, the payload is not copied. Never blocks. Returns 0; -ENOTCONN before a
 * successful on_ready or once the association is dead; -EAGAIN when the socket buffer
 * is full (the datagram is dropped); -EMSGSIZE when it is too big; -EINVAL for a bad
 * dst; or another -errno from the kernel. A pending ICMP error about an earlier
 * datagram does not fail this one: it is counted in icmp_errors and the send repeated.
 */
int socks5_udp_send(struct socks5_udp *s, const struct t2s_endpoint *dst, const uint8_t *payload, size_t len);

/* The session's counters; valid until socks5_udp_free. */
const struct socks5_udp_counters *socks5_udp_get_counters(const struct socks5_udp *s);

/*
 * Hands the session to a new owner: later callbacks go to cb (copied; on_ready is not
 * called again) with arg. For pools of ready associations, which keep a spare session
 * and give it to whoever needs one. May be called from one of the session's own
 * callbacks: the rest of that callback's work (e.g. a receive batch) goes to the new owner.
 */
void socks5_udp_rebind(struct socks5_udp *s, const struct socks5_udp_callbacks *cb, void *arg);

/* True between a successful on_ready and the end of the association. */
int socks5_udp_is_ready(const struct socks5_udp *s);

/* Closes both sockets and frees; never calls a callback. NULL is fine. */
void socks5_udp_free(struct socks5_udp *s);

/*
 * The relay decision, pure (exposed for tests): where datagrams go, given the proxy's
 * address, the reply's BND and cfg (may be NULL). In order: cfg->relay_override if set;
 * the proxy's address with BND.PORT when BND.ADDR is unspecified (0.0.0.0, ::), a
 * domain (not resolved: that would block), or private while the proxy is not (see
 * keep_private_bnd); else BND itself. Returns 0, or -EPROTO for BND.PORT 0 and
 * -EAFNOSUPPORT for a proxy address that is neither IPv4 nor IPv6.
 */
int socks5_udp_relay_addr(const struct sockaddr_storage *proxy, const struct t2s_endpoint *bnd,
			  const struct socks5_udp_config *cfg, struct sockaddr_storage *relay,
			  socklen_t *relay_len);

#endif
