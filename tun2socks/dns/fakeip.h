/* SPDX-License-Identifier: MIT */
/*
 * The fake-IP pool: hands out addresses from reserved IPv4/IPv6 ranges for host names,
 * remembers name <-> address both ways, and recycles the least recently used mapping
 * when full. Pure: no I/O, no clock (callers pass `now`), no global state.
 *
 * How addresses are chosen. Each family is an independent pool with its own capacity.
 * IPv4 skips the network and broadcast addresses (a /30 has 2 usable addresses, a /24
 * 254); IPv6 skips the all-zero host (Subnet-Router anycast), so a /126 has 3. Only the
 * first FAKEIP_SPAN_MAX usable addresses of a range are used, which bounds memory. A
 * name keeps its address while it is mapped. New names get never-used addresses, in
 * ascending order, until none are left; only then are released addresses reused, the
 * longest released first.
 *
 * Trade-offs the caller must know:
 *  - Applications (browsers, JVMs, nscd) cache answers beyond their TTL. If a mapping
 *    has been evicted by then, a connection to its address finds no name (-ENOENT; the
 *    caller refuses it), or, once the address has been given to another name, reaches
 *    the wrong host. Hence capacity should be generous and the range much larger than
 *    capacity, so released addresses rest as long as possible before reuse. A capacity
 *    equal to the range size reuses an evicted address immediately.
 *  - Pool exhaustion never fails a lookup: the least recently used mapping (by name
 *    lookup or by connection) is evicted. Answers use a short TTL so that clients come
 *    back and refresh the mapping they still use.
 *  - Mappings idle for more than idle_expiry seconds are released first: a few at each
 *    new allocation and all of them on fakeip_expire. A connection refreshes a mapping.
 */
#ifndef T2S_TUN2SOCKS_FAKEIP_H
#define T2S_TUN2SOCKS_FAKEIP_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define FAKEIP_NAME_MAX 253		/* longest name, as in DNS_MSG_NAME_MAX */
#define FAKEIP_SPAN_MAX (1u << 20)	/* usable addresses per family, at most */
#define FAKEIP_TTL_MAX 0x7fffffffu	/* RFC 2181 8 */
#define FAKEIP_EXCLUDE_MAX 8		/* addresses per family kept out of the pool */

struct fakeip_config {
	struct in_addr net4; /* host bits must be zero */
	unsigned prefix4;    /* 1..30 */
	bool has_net6;	     /* otherwise AAAA lookups fail with -EAFNOSUPPORT */
	struct in6_addr net6;
	unsigned prefix6;     /* 1..126 */
	uint32_t capacity;    /* mappings per family, >= 1; lowered to the usable addresses */
	uint32_t ttl;	      /* seconds, for the caller's answers (fakeip_ttl) */
	uint32_t idle_expiry; /* seconds; 0: mappings are only recycled when the pool is full */
	uint64_t seed;	      /* random, keys the name hash against chosen collisions */
};

struct fakeip;

/* Returns 0, or -EINVAL with a static reason in *why. */
int fakeip_config_check(const struct fakeip_config *cfg, const char **why);

/* Returns NULL if fakeip_config_check fails or memory is short. cfg is copied. */
struct fakeip *fakeip_new(const struct fakeip_config *cfg);
void fakeip_free(struct fakeip *pool);

/*
 * The address for name (compared case-insensitively; 1..FAKEIP_NAME_MAX bytes) in
 * family 4 or 6, written to addr_out (4 or 16 bytes, network order). Maps the name if
 * it is not mapped yet, evicting the least recently used mapping when full; either way
 * the mapping becomes the most recently used. Returns 0, -EINVAL (bad name),
 * -EAFNOSUPPORT (family unknown or without a pool) or -ENOMEM (the pool is unchanged
 * then, except that idle mappings may have been released).
 */
int fakeip_lookup_name(struct fakeip *pool, const char *name, int family, uint64_t now, void *addr_out);

/*
 * The name mapped to addr (family 4 or 6, network order), copied NUL-terminated and in
 * lower case into name_out, which must hold FAKEIP_NAME_MAX + 1 bytes. Marks the
 * mapping as the most recently used. Returns 0, or -ENOENT if addr is not mapped (never
 * handed out, evicted, or outside the pool) or -EAFNOSUPPORT.
 */
int fakeip_lookup_addr(struct fakeip *pool, int family, const void *addr, uint64_t now, char *name_out);

/*
 * Whether addr lies in the pool's range for family (network and broadcast included),
 * and is not excluded.
 */
bool fakeip_contains(const struct fakeip *pool, int family, const void *addr);

/*
 * Keeps addr (family 4 or 6, network order) out of the pool: an address that belongs
 * to a real host the application may want, such as the TUN's own or the proxy's. It is
 * never handed out from now on, a name mapped to it loses its mapping (and gets
 * another address at its next lookup), and fakeip_contains no longer claims it, so
 * connections to it go to that address. Addresses outside the range are accepted and
 * change nothing. Returns 0 (also if already excluded), -EAFNOSUPPORT, -ENOSPC
 * (FAKEIP_EXCLUDE_MAX reached), -EADDRNOTAVAIL (it would leave no usable address) or
 * -ENOMEM (nothing changed).
 */
int fakeip_exclude(struct fakeip *pool, int family, const void *addr);

/*
 * Releases every mapping idle for more than idle_expiry seconds (none if it is 0), e.g.
 * from a periodic timer. Returns how many, or -ENOMEM if it had to stop early.
 */
int fakeip_expire(struct fakeip *pool, uint64_t now);

/* Current mappings, and the effective capacity (0 for a family without a pool). */
uint32_t fakeip_count(const struct fakeip *pool, int family);
uint32_t fakeip_capacity(const struct fakeip *pool, int family);
/* The TTL for answers carrying pool addresses. */
uint32_t fakeip_ttl(const struct fakeip *pool);

#endif
