/* SPDX-License-Identifier: MIT */
/*
 * The proxy's name, looked up by libtun2socks itself: A and AAAA queries over UDP
 * sockets that come from redirect/sock.c, so the embedder's socket hook sees (and, on
 * Android, protects) each one, unlike getaddrinfo's. Asynchronous on the loop, bounded
 * in time; the answer's TTL is reported. No cache, no search domains, no /etc/hosts:
 * the name is asked as given (docs/EMBEDDING.md).
 */
#ifndef T2S_TUN2SOCKS_PROXY_LOOKUP_H
#define T2S_TUN2SOCKS_PROXY_LOOKUP_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include <ev.h>

#include "sock.h"

#define PROXY_LOOKUP_SERVERS_MAX 3
/* Sends per server, the first answer awaited this long, doubled per resend. */
#define PROXY_LOOKUP_TRIES 2
#define PROXY_LOOKUP_FIRST_WAIT 1.0

struct proxy_lookup;

struct proxy_lookup_params {
	const char *name;                       /* copied */
	const struct sockaddr_storage *servers; /* copied; asked in order; at most SERVERS_MAX */
	size_t n_servers;
	double timeout;                         /* the whole lookup, seconds (> 0) */
	unsigned fwmark;                        /* SO_MARK of the sockets, 0 for none */
	const struct sock_hook *hook;           /* copied; may be NULL */
};

struct proxy_lookup_result {
	/* 0; -ENOENT: the name does not exist or has no address; -ETIMEDOUT: no server
	 * answered in time; -EHOSTUNREACH: every server failed (refused, SERVFAIL, ...) */
	int err;
	struct sockaddr_storage addr; /* the first A record's address, else the first AAAA's; port 0 */
	socklen_t addrlen;
	uint32_t ttl;                 /* of that record, seconds */
	char why[160];                /* on failure: what the last server did; on success: who answered */
};

/* Called once, on the loop, unless the lookup is freed first; it may free the lookup. */
typedef void (*proxy_lookup_done_fn)(void *arg, const struct proxy_lookup_result *res);

/*
 * Starts a lookup. Returns 0 with *out set, -EINVAL (a name DNS cannot carry, no
 * server, timeout <= 0) or -ENOMEM. A server that cannot be reached (a socket error,
 * ICMP unreachable) is skipped for the next at once.
 */
int proxy_lookup_start(struct ev_loop *loop, const struct proxy_lookup_params *p, proxy_lookup_done_fn done,
		       void *arg, struct proxy_lookup **out);

/* Cancels (done is not called after this) and frees; NULL is a no-op. */
void proxy_lookup_free(struct proxy_lookup *l);

#endif
