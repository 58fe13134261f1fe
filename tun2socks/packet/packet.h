/* SPDX-License-Identifier: MIT */
/*
 * Pure IP packet inspection and construction for the TUN input path: validates
 * IPv4/IPv6/TCP/UDP headers (lengths, TCP data offset and a full option walk) before
 * anything reaches lwIP, and builds the answers we send ourselves (TCP RST, ICMP and
 * ICMPv6 destination unreachable). No I/O, no allocation.
 */
#ifndef T2S_TUN2SOCKS_PACKET_H
#define T2S_TUN2SOCKS_PACKET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum packet_proto {
	PACKET_PROTO_TCP = 6,
	PACKET_PROTO_UDP = 17,
	PACKET_PROTO_ICMP = 1,
	PACKET_PROTO_ICMPV6 = 58,
};

enum packet_tcp_flag {
	PACKET_TCP_FIN = 0x01,
	PACKET_TCP_SYN = 0x02,
	PACKET_TCP_RST = 0x04,
	PACKET_TCP_PSH = 0x08,
	PACKET_TCP_ACK = 0x10,
};

/* Why a packet was refused; negative so 0 can mean "valid". */
enum packet_error {
	PACKET_ERR_TRUNCATED = -1,    /* shorter than its headers claim */
	PACKET_ERR_VERSION = -2,      /* not IPv4 or IPv6 */
	PACKET_ERR_IP_HEADER = -3,    /* bad IHL, total length or IPv4 header checksum */
	PACKET_ERR_EXT_HEADER = -4,   /* IPv6 extension chain malformed or too long */
	PACKET_ERR_TCP_HEADER = -5,   /* data offset or option walk failed */
	PACKET_ERR_UDP_HEADER = -6,   /* UDP length field inconsistent */
	PACKET_ERR_TCP_FRAGMENT = -7, /* fragmented TCP: never produced by a sane stack */
};

struct packet_info {
	uint8_t family; /* 4 or 6 */
	uint8_t proto;  /* transport protocol after IPv6 extension headers */
	bool fragment;  /* part of a fragmented datagram: ports are not parsed (ip_reass reassembles) */
	uint8_t src[16], dst[16]; /* IPv4 uses the first 4 bytes */
	uint16_t ip_len;   /* bytes of the packet proper (trailing padding excluded) */
	uint16_t l4_off;   /* offset of the transport header (IPv4 fragments: of the fragment's data) */
	uint16_t frag_hdr_off; /* IPv6 fragments: offset of the Fragment header; 0 otherwise */
	uint16_t sport, dport; /* TCP/UDP, host order; 0 otherwise */
	uint8_t tcp_flags;
	uint32_t tcp_seq, tcp_ack;
	uint16_t tcp_payload_len;
	uint16_t udp_payload_len; /* from the UDP length field (IP padding excluded) */
};

/* Validates buf[0..len) and fills info. Returns 0 or a packet_error. */
int packet_parse(const uint8_t *buf, size_t len, struct packet_info *info);

/* Static text for a packet_error. */
const char *packet_error_str(int err);

/*
 * Builds the RST|ACK that refuses the connection whose segment is described by seg
 * (typically its SYN): addresses and ports swapped, ACK = seg.seq + seg length.
 * Returns the packet length or -ENOSPC.
 */
int packet_build_tcp_rst(const struct packet_info *seg, uint8_t *out, size_t cap);

enum packet_unreach {
	PACKET_UNREACH_NET,
	PACKET_UNREACH_HOST,
	PACKET_UNREACH_PORT,
	PACKET_UNREACH_ADMIN,
};

/*
 * Builds an ICMP (IPv4) or ICMPv6 destination-unreachable about the packet orig
 * (described by info), sent from its destination to its source, quoting as much of
 * it as the RFCs allow (576 / 1280 bytes in total). Returns the length or -ENOSPC.
 */
int packet_build_unreachable(const uint8_t *orig, const struct packet_info *info, enum packet_unreach why,
			     uint8_t *out, size_t cap);

/*
 * Writes the IPv4/IPv6 and UDP headers of a datagram from src:sport to dst:dport whose
 * payload is given separately (so it is never copied), checksum included. family is 4
 * or 6; addresses are 4 or 16 bytes. Returns the header length (28 or 48), -ENOSPC, or
 * -EMSGSIZE when the datagram cannot be expressed in one IP packet.
 */
int packet_build_udp_header(int family, const uint8_t *src, uint16_t sport, const uint8_t *dst, uint16_t dport,
			    const uint8_t *payload, size_t len, uint8_t *out, size_t cap);

/*
 * Turns the first ip_len - tcp_payload_len bytes of the TCP segment described by info
 * (copied to hdr) into a segment without payload: IP length fields and the IPv4 header
 * checksum fixed; the TCP checksum is left as it was (lwIP does not check it).
 */
void packet_trim_payload(uint8_t *hdr, const struct packet_info *info);

/* Internet checksum helpers (RFC 1071), exposed for tests. */
uint32_t packet_sum(uint32_t acc, const void *data, size_t len);
uint16_t packet_fold(uint32_t acc);

#endif
