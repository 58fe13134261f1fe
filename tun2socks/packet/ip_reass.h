/* SPDX-License-Identifier: MIT */
/*
 * Reassembly of fragmented IPv4 (RFC 791) and IPv6 (RFC 8200) datagrams read from the
 * TUN into one contiguous packet with a synthetic unfragmented header, so the rest of
 * the program handles it like any other. Pure: no I/O, no clock (the caller passes the
 * time), bounded in datagrams and bytes. lwIP's own reassembly is not used (see
 * lwip-port/UPSTREAM.md).
 */
#ifndef T2S_TUN2SOCKS_IP_REASS_H
#define T2S_TUN2SOCKS_IP_REASS_H

#include <stddef.h>
#include <stdint.h>

#include "packet.h"

/* Largest reassembled packet, header included (its length must fit IPv4's 16-bit total
 * length, and packet_parse's): a UDP payload of at most 65507 (IPv4) / 65487 (IPv6). */
#define IP_REASS_MAX_PACKET 65535

struct ip_reass_config {
	unsigned max_datagrams; /* reassemblies in progress at once (>= 1) */
	size_t max_bytes;       /* their buffers together (>= one maximal datagram) */
	double timeout4, timeout6; /* seconds from a datagram's first fragment to giving up */
};

/*
 * Counters, each counting events. A "datagram" counter counts reassemblies given up
 * (with everything received for them); a "fragment" counter counts single fragments.
 */
struct ip_reass_stats {
	uint64_t fragments;     /* fragments accepted into a reassembly */
	uint64_t reassembled;   /* datagrams completed (atomic fragments included) */
	uint64_t duplicates;    /* fragments identical to data already held: ignored */
	uint64_t timed_out;     /* datagrams incomplete at their deadline */
	uint64_t overlaps;      /* datagrams with overlapping, differing fragments (RFC 5722) */
	uint64_t too_big;       /* datagrams that would exceed IP_REASS_MAX_PACKET */
	uint64_t no_room;       /* datagrams evicted (oldest first) or refused for want of room */
	uint64_t malformed;     /* fragments with bad lengths; datagrams with inconsistent ends */
};

struct ip_reass;

/* Returns NULL if cfg is unusable or memory is short. */
struct ip_reass *ip_reass_new(const struct ip_reass_config *cfg);

/* Frees everything held, including the last completed packet. NULL is fine. */
void ip_reass_free(struct ip_reass *r);

enum ip_reass_result {
	IP_REASS_HELD = 0, /* kept (or a harmless duplicate): the datagram is incomplete */
	IP_REASS_DONE = 1, /* *out is the whole datagram */
};

/*
 * Adds one fragment: pkt has passed packet_parse, which described it in info (with
 * info->fragment set). The caller keeps pkt. Returns IP_REASS_HELD; IP_REASS_DONE with
 * *out / *out_len set to the complete packet (an IPv4 header without options, or a bare
 * IPv6 header, then the reassembled payload), which stays valid until the next call on
 * r; or a negative errno when the fragment was refused (counted in the stats):
 * -EINVAL malformed or inconsistent, -EMSGSIZE too big, -EBADMSG overlap, -ENOMEM no
 * room. Refusing a fragment of a datagram in progress abandons that datagram.
 * IPv6 atomic fragments (offset 0, no M flag; RFC 6946) complete at once, alone.
 * Reassemblies past their deadline are expired on the way.
 */
int ip_reass_add(struct ip_reass *r, const uint8_t *pkt, const struct packet_info *info, double now,
		 const uint8_t **out, size_t *out_len);

/* Gives up every reassembly whose deadline is <= now. */
void ip_reass_expire(struct ip_reass *r, double now);

/* The earliest deadline of a reassembly in progress, or 0 if there is none. */
double ip_reass_next_deadline(const struct ip_reass *r);

/* Reassemblies in progress, and the bytes their buffers take. */
unsigned ip_reass_pending(const struct ip_reass *r);
size_t ip_reass_bytes(const struct ip_reass *r);

const struct ip_reass_stats *ip_reass_stats(const struct ip_reass *r);

#endif
