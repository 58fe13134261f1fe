/* SPDX-License-Identifier: MIT */
/*
 * TLS to the proxy (https://, socks5+tls://) with OpenSSL, non-blocking on the one libev
 * loop. struct tls_client is the per-proxy context: trust (the system store or a CA
 * file), the name checked and sent as SNI, an optional SPKI pin, the cached session
 * that new connections resume, and counters. struct tls_conn is one connection: it
 * connects to the proxy, does the handshake and then relays between the TLS stream
 * and a plain local socket (a socketpair) whose other end is the caller's; the
 * SOCKS5 or HTTP CONNECT session then runs on that plain end, and after it the flow
 * relays there as on any proxy socket. That costs one local copy each way and two
 * descriptors per connection; it keeps every flow's relay code free of TLS.
 * Lower layers do not log: failures come back as -errno and a static or copied reason.
 */
#ifndef T2S_REDIRECT_TLS_CLIENT_H
#define T2S_REDIRECT_TLS_CLIENT_H

#include <stddef.h>
#include <stdint.h>

#include <ev.h>

#include "proxy_result.h"
#include "socks5_server.h"

struct tls_client_params {
	const char *ca_file;  /* PEM CA certificates to trust; NULL: the system store */
	const char *host;     /* the proxy's host as in the URL: a name (SNI + name check) or an IP literal */
	const uint8_t *pin;   /* NULL, or 32 bytes: SHA-256 of the certificate's SubjectPublicKeyInfo */
	/* A relay that moved no byte either way for this long is closed (> 0): a flow ends
	 * its own side after its idle timeout, but an EOF cannot tell a half-close from a
	 * flow that is gone, and a proxy may never close. */
	double idle_timeout;
};

struct tls_client_stats {
	uint64_t handshakes; /* completed handshakes, resumed ones included */
	uint64_t resumed;    /* of which resumed a cached session (no certificate exchange) */
	uint64_t failed;     /* handshakes that failed (verification, pin, protocol) */
	uint64_t relays;     /* connections relaying now */
};

struct tls_client;
struct tls_conn;

/*
 * Builds the context; loop is where every connection runs. Returns NULL with a reason
 * in err (CA file unreadable, no system store, bad host).
 */
struct tls_client *tls_client_new(struct ev_loop *loop, const struct tls_client_params *p, char *err,
				  size_t errlen);

/* Closes every connection still open (their relays included), then frees. NULL is fine. */
void tls_client_free(struct tls_client *c);

/* Closes every connection still open; the context stays usable. */
void tls_client_close_all(struct tls_client *c);

const struct tls_client_stats *tls_client_get_stats(const struct tls_client *c);

/*
 * Until the handshake is done and verified, failed is called at most once, from the
 * loop, with the failure class (PROXY_TCP_UNREACHABLE for the TCP connect, else
 * PROXY_TCP_TLS), -errno and a reason (valid during the call). The callee must free
 * the connection (from inside is fine). After tls_conn_detach, no callback is made.
 */
typedef void (*tls_conn_failed_fn)(void *arg, enum proxy_tcp_failure failure, int err, const char *reason);

/*
 * Starts a connection to server (server->addr, fwmark, hook) and returns it, with the
 * caller's plain end of the local socketpair in *plain_fd (non-blocking, close-on-exec;
 * the caller owns it). Bytes written there before the handshake ends are sent once it
 * has. Returns NULL with errno set (EMFILE and the like from socket or socketpair).
 */
struct tls_conn *tls_conn_new(struct tls_client *c, const struct socks5_server *server,
			      tls_conn_failed_fn failed, void *arg, int *plain_fd);

/*
 * The caller's session succeeded: the connection now relays on its own and frees itself
 * once both directions have ended (or at tls_client_free). EOF on the plain end becomes
 * close_notify; the proxy's close_notify or EOF becomes EOF on the plain end; an error
 * on either side closes both.
 */
void tls_conn_detach(struct tls_conn *t);

/* Aborts and frees a connection not detached. NULL is fine. */
void tls_conn_free(struct tls_conn *t);

#endif
