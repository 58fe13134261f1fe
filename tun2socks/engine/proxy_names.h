/* SPDX-License-Identifier: MIT */
/*
 * The names of several proxies (--proxy host given by name), looked up on the loop
 * (proxy_lookup.h) without holding anything else up: each name has its own lookup,
 * asked again when its answer's TTL runs out (at least PROXY_NAMES_MIN_TTL, at most
 * PROXY_NAMES_MAX_TTL seconds), when its proxy fails (proxy_names_refresh), and
 * PROXY_NAMES_RETRY seconds after a failed lookup. A libev driver.
 */
#ifndef T2S_TUN2SOCKS_PROXY_NAMES_H
#define T2S_TUN2SOCKS_PROXY_NAMES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include <ev.h>

#include "proxy_lookup.h"
#include "sock.h"

#define PROXY_NAMES_MIN_TTL 10.0
#define PROXY_NAMES_MAX_TTL 3600.0
#define PROXY_NAMES_RETRY 5.0
/* A refresh within this long of the last lookup's start waits for it. */
#define PROXY_NAMES_REFRESH_MIN 2.0
#define PROXY_NAMES_SLOTS 8

struct proxy_names;

struct proxy_names_env {
	struct ev_loop *loop;
	struct sockaddr_storage servers[PROXY_LOOKUP_SERVERS_MAX]; /* the nameservers */
	size_t n_servers;
	double timeout;           /* of one lookup */
	unsigned fwmark;
	struct sock_hook hook;
	/* The name of slot idx is addr now (port set), valid for ttl seconds. */
	void (*resolved)(void *arg, unsigned idx, const struct sockaddr_storage *addr, socklen_t len, uint32_t ttl);
	/* The lookup failed (err as proxy_lookup_result.err, why says more). */
	void (*failed)(void *arg, unsigned idx, int err, const char *why);
	void *arg;
};

/* env is copied. Returns NULL with errno set. */
struct proxy_names *proxy_names_new(const struct proxy_names_env *env);

/*
 * Slot idx (< PROXY_NAMES_SLOTS) looks name up (copied), port is set in the answers:
 * at once if now, else first after PROXY_NAMES_MAX_TTL or a refresh. Returns 0 or
 * -errno.
 */
int proxy_names_add(struct proxy_names *pn, unsigned idx, const char *name, uint16_t port, bool now);

/* Asks slot idx's name again soon (its proxy failed); a no-op for a slot without one. */
void proxy_names_refresh(struct proxy_names *pn, unsigned idx);

/* Cancels every lookup and frees; NULL is fine. */
void proxy_names_free(struct proxy_names *pn);

#endif
