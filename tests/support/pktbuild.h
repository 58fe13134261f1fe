/* SPDX-License-Identifier: MIT */
/*
 * Test-only builder of IPv4/IPv6 packets carrying TCP, UDP or raw transport bytes, with
 * IPv6 extension headers, TCP options, trailing padding and correct checksums. Its
 * checksum code is written independently of packet.c so tests can cross-check the two.
 * Every builder asserts (cmocka) that the output fits in cap.
 */
#ifndef T2S_TESTS_PKTBUILD_H
#define T2S_TESTS_PKTBUILD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PKTBUILD_MAX_EXT 12

enum pktbuild_ext_type {
	PKTBUILD_EXT_HOP = 0,
	PKTBUILD_EXT_ROUTING = 43,
	PKTBUILD_EXT_FRAGMENT = 44,
	PKTBUILD_EXT_DSTOPTS = 60,
};

struct pktbuild_ext {
	uint8_t type;         /* enum pktbuild_ext_type */
	uint8_t len8;         /* Hdr Ext Len: (len8 + 1) * 8 bytes; ignored for fragment headers */
	uint16_t frag_offset; /* fragment headers: offset in 8-byte units */
	bool frag_more;       /* fragment headers: M flag */
};

struct pktbuild_ip {
	int family; /* 4 or 6 */
	uint8_t src[16], dst[16];
	uint16_t ipv4_frag;   /* IPv4 flags + fragment offset field, host order (0x4000 is DF) */
	uint8_t ipv4_opt_len; /* bytes of IPv4 options (NOPs ending in EOL), a multiple of 4 */
	size_t n_ext;         /* IPv6 extension headers, in order */
	struct pktbuild_ext ext[PKTBUILD_MAX_EXT];
	size_t pad; /* bytes of 0xee appended after the packet proper (not counted in its length) */
};

struct pktbuild_tcp {
	uint16_t sport, dport;
	uint32_t seq, ack;
	uint8_t flags;
	uint16_t window;      /* 0 means 65535, unless zero_window */
	bool zero_window;     /* announce a window of 0 */
	const uint8_t *opts; /* raw option bytes, padded with zeros (EOL) to a multiple of 4 */
	size_t opts_len;
	uint8_t doff; /* data offset override in 32-bit words (1..15); 0 computes it */
	const uint8_t *payload;
	size_t payload_len;
};

struct pktbuild_udp {
	uint16_t sport, dport;
	int32_t len_field; /* UDP length override; -1 computes it */
	const uint8_t *payload;
	size_t payload_len;
};

/* Fills ip for family 4 or 6 from two textual addresses; everything else zero. */
void pktbuild_ip_init(struct pktbuild_ip *ip, int family, const char *src, const char *dst);

/* Each returns the total bytes written to out (packet plus ip->pad). */
size_t pktbuild_tcp(uint8_t *out, size_t cap, const struct pktbuild_ip *ip, const struct pktbuild_tcp *tcp);
size_t pktbuild_udp(uint8_t *out, size_t cap, const struct pktbuild_ip *ip, const struct pktbuild_udp *udp);
/* Transport bytes copied verbatim after the headers (zeros if l4 is NULL); no checksum
 * is touched. */
size_t pktbuild_raw(uint8_t *out, size_t cap, const struct pktbuild_ip *ip, uint8_t proto, const uint8_t *l4,
		    size_t l4_len);

/* Offset of the transport header that the builders above place for ip. */
size_t pktbuild_l4_off(const struct pktbuild_ip *ip);

/* TCP option writers: each writes one option at p and returns its length. */
size_t pktbuild_opt_mss(uint8_t *p, uint16_t mss);
size_t pktbuild_opt_ws(uint8_t *p, uint8_t shift);
size_t pktbuild_opt_sack_perm(uint8_t *p);
size_t pktbuild_opt_ts(uint8_t *p, uint32_t val, uint32_t ecr);
size_t pktbuild_opt_nop(uint8_t *p);

/* Independent RFC 1071 checksum over data, continuing from the unfolded sum acc. */
uint16_t pktbuild_csum(uint32_t acc, const void *data, size_t len);
/* Unfolded pseudo-header sum for the transport checksum of an upper-layer length. */
uint32_t pktbuild_pseudo(int family, const uint8_t *src, const uint8_t *dst, uint8_t proto, size_t l4_len);
/* Recomputes the IPv4 header checksum in place, over the IHL the header claims. */
void pktbuild_ipv4_fix_csum(uint8_t *pkt);

/* Big-endian accessors. */
uint16_t pktbuild_rd16(const uint8_t *p);
uint32_t pktbuild_rd32(const uint8_t *p);
void pktbuild_wr16(uint8_t *p, uint16_t v);

#endif
