/* SPDX-License-Identifier: MIT */
/*
 * The one way the flows reach the TUN: a small table of hooks that t2s.c fills in
 * (virtio-net header, fragmentation and the TUN counters stay behind it). The flow
 * modules know nothing else of the device. Per packet this costs one indirect call.
 */
#ifndef T2S_TUN2SOCKS_TUN_OUT_H
#define T2S_TUN2SOCKS_TUN_OUT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "packet.h"

struct tun_out {
	/* Writes one packet we built ourselves, given in pieces (iovcnt <= 4). Returns 0
	 * or -errno. */
	int (*sendv)(void *ctx, const struct iovec *iov, int iovcnt);
	/*
	 * Writes a UDP datagram from src:sport to dst:dport (family 4 or 6), as IP
	 * fragments if it exceeds the MTU; payload is not copied. Returns 0; -EMSGSIZE if
	 * it cannot be one datagram (nothing sent); or the TUN write error (lost).
	 */
	int (*send_udp)(void *ctx, int family, const uint8_t *src, uint16_t sport, const uint8_t *dst,
			uint16_t dport, const uint8_t *payload, size_t len);
	void *ctx;
};

static inline int
tun_out_send(const struct tun_out *o, const uint8_t *pkt, size_t len)
{
	struct iovec iov = {.iov_base = (void *)pkt, .iov_len = len};

	return o->sendv(o->ctx, &iov, 1);
}

static inline int
tun_out_send_udp(const struct tun_out *o, int family, const uint8_t *src, uint16_t sport, const uint8_t *dst,
		 uint16_t dport, const uint8_t *payload, size_t len)
{
	return o->send_udp(o->ctx, family, src, sport, dst, dport, payload, len);
}

/*
 * Answers the packet orig (len bytes; info describes it, or NULL to have it parsed)
 * with an ICMP or ICMPv6 destination-unreachable (why). Returns true if one was sent.
 */
bool tun_out_unreachable(const struct tun_out *o, const uint8_t *orig, size_t len, const struct packet_info *info,
			 enum packet_unreach why);

/* Refuses the TCP segment described by seg (a SYN) with RST|ACK. True if sent. */
bool tun_out_rst(const struct tun_out *o, const struct packet_info *seg);

#endif
