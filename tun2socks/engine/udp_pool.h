/* SPDX-License-Identifier: MIT */
/*
 * Spare UDP associations, ready before anyone needs them. A new UDP mapping that takes
 * one sends its first datagram at once instead of waiting for a SOCKS handshake (two
 * round trips to the proxy), which matters for the burst of DNS queries from fresh
 * random ports that starts most connections. Spares come from two places: the pool
 * opens them itself after each take, up to its size ("fresh": never used), and mappings
 * that expire idle give theirs back instead of closing it ("recycled"). A recycled
 * association serves only a new mapping of the same source endpoint (application
 * address and port): given to another source, the first owner's peers, who still know
 * its public endpoint at the proxy, could reach the second, who would leave through the
 * first's. Fresh spares serve any source. A recycled spare is kept `idle` seconds;
 * with nobody taking for `idle` seconds the pool closes all its spares, so an idle
 * tun2socks holds nothing open at the proxy.
 */
#ifndef T2S_TUN2SOCKS_UDP_POOL_H
#define T2S_TUN2SOCKS_UDP_POOL_H

#include <stdint.h>

#include <ev.h>

#include "socks5_udp.h"

/* After an association the pool opened failed, it opens no more for this long: a proxy
 * that is down must not get a burst of connection attempts per new mapping. */
#define UDP_POOL_FILL_BACKOFF 1.0

struct udp_pool_stats {
	uint64_t hits;         /* takes that got a ready association */
	uint64_t misses;       /* takes that found none ready */
	uint64_t opened;       /* associations the pool opened */
	uint64_t recycled;     /* associations of expired mappings kept as spares */
	uint64_t reused;       /* of the hits: a recycled spare back to its own source */
	uint64_t failed;       /* associations the pool opened that did not come up */
	uint64_t closed;       /* spares closed: idle, dead, or no room */
	uint64_t stray_datagrams; /* datagrams that reached a spare (late replies to an old mapping) */
};

/*
 * The pool reports the outcome of every association it opens, so that the caller can
 * learn what the proxy can do (e.g. REP 7) from them as from any other.
 */
typedef void (*udp_pool_result_fn)(void *arg, const struct socks5_udp_result *res);

struct udp_pool;

/*
 * size fresh spares at most, and as many recycled ones (0: the pool keeps nothing and
 * take always misses). server and
 * cfg are used for every association the pool opens; server must outlive the pool,
 * cfg is copied. Returns NULL with errno set.
 */
struct udp_pool *udp_pool_new(struct ev_loop *loop, const struct socks5_server *server,
			      const struct socks5_udp_config *cfg, unsigned size, double idle,
			      udp_pool_result_fn on_result, void *arg);

/* Closes every spare and frees. NULL is fine. */
void udp_pool_free(struct udp_pool *p);

/*
 * A ready association for a new mapping of src (the application's address and port),
 * now the caller's, with its callbacks rebound to cb and arg: one src gave back if
 * there is one, else a fresh one; or NULL if none is ready. Either way, the pool starts
 * opening fresh spares up to its size.
 */
struct socks5_udp *udp_pool_take(struct udp_pool *p, const struct t2s_endpoint *src,
				 const struct socks5_udp_callbacks *cb, void *arg);

/*
 * Gives the pool an association its owner no longer needs (the owner must not touch it
 * again): kept as a spare if it is alive and there is room, else closed. src is the
 * source endpoint of the mapping that used it (only a mapping of that source will get
 * it), or NULL for one no application used (it is fresh). Call it only for an
 * association that has been idle a while, since replies still in flight to the old
 * owner would reach the next one.
 */
void udp_pool_give(struct udp_pool *p, struct socks5_udp *s, const struct t2s_endpoint *src);

/* Opens spares up to the pool's size (no effect at size 0). */
void udp_pool_fill(struct udp_pool *p);

/* Closes every spare, ready or not (e.g. the proxy lost UDP support). */
void udp_pool_drain(struct udp_pool *p);

/* Fresh spares ready now (what a new source can get at once). */
unsigned udp_pool_ready(const struct udp_pool *p);

const struct udp_pool_stats *udp_pool_get_stats(const struct udp_pool *p);

#endif
