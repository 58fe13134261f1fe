/* SPDX-License-Identifier: MIT */
/*
 * Addresses that can never be a remote host (martians, as Linux calls them): which
 * packets from the TUN must be dropped before any flow is made, and which of those
 * deserve an answer. Pure: no I/O, no state.
 */
#ifndef T2S_TUN2SOCKS_MARTIAN_H
#define T2S_TUN2SOCKS_MARTIAN_H

#include <stdbool.h>
#include <stdint.h>

#include "packet.h"

/* Why a packet is never relayed; MARTIAN_NONE (0) means it may be. */
enum martian {
	MARTIAN_NONE = 0,
	MARTIAN_SOURCE,     /* the source cannot be a host (0/8, 127/8, 224/4, 255.255.255.255,
			       ::, ::1, ff00::/8, ::ffff:0:0/96): no answer could reach it */
	MARTIAN_MULTICAST,  /* 224.0.0.0/4, ff00::/8 */
	MARTIAN_BROADCAST,  /* 255.255.255.255, or the TUN subnet's broadcast or network address */
	MARTIAN_THIS_NET,   /* 0.0.0.0/8 ("this network"), :: (unspecified) */
	MARTIAN_LOOPBACK,   /* 127.0.0.0/8, ::1: the proxy host's own services */
	MARTIAN_LINK_LOCAL, /* 169.254.0.0/16, fe80::/10: another link at the proxy (cloud metadata) */
	MARTIAN_V4_IN_V6,   /* ::ffff:0:0/96 (IPv4-mapped), ::/96 (IPv4-compatible, deprecated) */
};

/* The TUN's IPv4 subnet, for its directed broadcast (prefix 31 and 32 have none). */
struct martian_tun_net {
	bool has_net4;
	uint8_t addr4[4];
	unsigned prefix4;
};

/* Classifies a valid packet by its source, then its destination. tun may be NULL. */
enum martian martian_classify(const struct packet_info *info, const struct martian_tun_net *tun);

/*
 * Whether the sender of a packet so classified gets an ICMP administratively
 * prohibited: never for a martian source (it could not arrive) nor for a multicast or
 * broadcast destination (RFC 1122 3.2.2); the caller also skips fragments, RSTs and
 * anything but TCP and UDP.
 */
bool martian_answer(enum martian m);

/* Static text for logs. */
const char *martian_str(enum martian m);

#endif
