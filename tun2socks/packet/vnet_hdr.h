/* SPDX-License-Identifier: MIT */
/*
 * The virtio-net header (struct virtio_net_hdr, linux/virtio_net.h) that a TUN opened
 * with IFF_VNET_HDR puts before every packet, in both directions: checksum offload
 * (NEEDS_CSUM: the receiver completes the transport checksum; DATA_VALID: it was
 * verified) and segmentation offload (a TCP segment larger than the MTU, gso_size bytes
 * of payload per wire segment). Pure codec: no I/O. The fields are in the host's byte
 * order, as on a TUN that was not switched to a fixed one (TUNSETVNETLE/BE).
 */
#ifndef T2S_PACKET_VNET_HDR_H
#define T2S_PACKET_VNET_HDR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define VNET_HDR_LEN 10 /* sizeof(struct virtio_net_hdr) */

enum vnet_gso {
	VNET_GSO_NONE,
	VNET_GSO_TCPV4,
	VNET_GSO_TCPV6,
	VNET_GSO_UDP,    /* UFO / USO: offered by the kernel only when asked for */
};

struct vnet_hdr {
	bool needs_csum;      /* csum_start/csum_offset say where the checksum goes */
	bool data_valid;      /* the transport checksum was verified */
	enum vnet_gso gso;
	bool gso_ecn;         /* the segment had CWR set (TCP ECN) */
	uint16_t hdr_len;     /* IP + transport header bytes (a hint) */
	uint16_t gso_size;    /* payload bytes per segment when gso != NONE */
	uint16_t csum_start;  /* offset of the transport header from the IP header */
	uint16_t csum_offset; /* of the checksum field within it */
};

/*
 * Reads a header of len bytes (at least VNET_HDR_LEN; the rest, if the device's header
 * is longer, is ignored). Returns 0, or -EINVAL: too short, an unknown flag or GSO type,
 * GSO without a segment size.
 */
int vnet_hdr_parse(const uint8_t *b, size_t len, struct vnet_hdr *h);

/* Writes h as VNET_HDR_LEN bytes at b. */
void vnet_hdr_build(uint8_t *b, const struct vnet_hdr *h);

/*
 * The header for a TCP packet (IPv4, or IPv6 with TCP as the first next header) whose
 * checksum field holds the pseudo-header sum: NEEDS_CSUM over the TCP header and
 * payload, and, when the payload is longer than mss minus the segment's TCP options, a
 * TCPV4/TCPV6 segmentation into pieces of that many bytes. pkt holds at least the IP and
 * TCP headers (avail bytes); the packet's length is taken from its IP header. mss 0
 * asks for no segmentation. Returns 0, or -EINVAL (not such a packet, or cut short).
 */
int vnet_hdr_for_tcp(const uint8_t *pkt, size_t avail, unsigned mss, struct vnet_hdr *h);

/*
 * Completes the checksum of a NEEDS_CSUM packet of len bytes in place (what the
 * receiver of the header would do), for code that needs whole checksums.
 * Returns 0, or -EINVAL when the checksum field lies outside the packet.
 */
int vnet_hdr_complete_csum(uint8_t *pkt, size_t len, const struct vnet_hdr *h);

#endif
