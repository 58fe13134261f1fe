/* SPDX-License-Identifier: MIT */
/*
 * Fragmentation of the IP packets we build ourselves (UDP replies, DNS answers) when
 * they exceed the TUN MTU: IPv4 fragments (RFC 791) or IPv6 Fragment headers
 * (RFC 8200). Pure: the payload is never copied, each fragment is handed to a callback
 * as iovecs.
 */
#ifndef T2S_TUN2SOCKS_IP_FRAG_H
#define T2S_TUN2SOCKS_IP_FRAG_H

#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

/* Iovecs per fragment: its IP header, then at most two slices of the packet. */
#define IP_FRAG_IOV_MAX 3

/*
 * Splits the packet hdr[0..hdr_len) + payload[0..len) into packets of at most mtu
 * bytes and passes each to emit, in order (iov is valid only during the call). hdr
 * starts with the IP header, which must be an IPv4 header without options or a bare
 * IPv6 header (no extension headers), as packet_build_udp_header writes them; hdr_len
 * may cover more (the UDP header). A packet that fits is passed on unchanged. id
 * identifies the datagram (IPv4 uses its low 16 bits) and must differ between
 * datagrams in flight to the same destination.
 * Returns the number of packets emitted; -EINVAL for a header it cannot handle;
 * -EMSGSIZE if mtu leaves no room for data; or the first negative value emit returned
 * (the rest is not sent: the datagram is lost anyway).
 */
int ip_frag_split(const uint8_t *hdr, size_t hdr_len, const uint8_t *payload, size_t len, unsigned mtu, uint32_t id,
		  int (*emit)(void *ctx, const struct iovec *iov, int iovcnt), void *ctx);

/*
 * A UDP datagram from src:sport to dst:dport (family 4 or 6): its headers built by
 * packet_build_udp_header, then ip_frag_split at mtu. *id is advanced first when the
 * datagram must be fragmented. Returns the number of packets emitted, or what
 * packet_build_udp_header or ip_frag_split returned (-EMSGSIZE: too large for one
 * datagram, nothing sent).
 */
int ip_frag_udp(int family, const uint8_t *src, uint16_t sport, const uint8_t *dst, uint16_t dport,
		const uint8_t *payload, size_t len, unsigned mtu, uint32_t *id,
		int (*emit)(void *ctx, const struct iovec *iov, int iovcnt), void *ctx);

#endif
