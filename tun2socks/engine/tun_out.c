/* SPDX-License-Identifier: MIT */
/* The refusals every flow kind sends through the TUN: one buffer size for all. */
#include "tun_out.h"

/* The most an ICMPv6 error may be (RFC 4443); an ICMP one is at most 576 bytes. */
#define TUN_OUT_ICMP_MAX 1280
/* IPv6 + TCP headers, no options. */
#define TUN_OUT_RST_MAX 128

bool
tun_out_unreachable(const struct tun_out *o, const uint8_t *orig, size_t len, const struct packet_info *info,
		    enum packet_unreach why)
{
	struct packet_info parsed;
	uint8_t out[TUN_OUT_ICMP_MAX];
	int n;

	if (info == NULL) {
		if (packet_parse(orig, len, &parsed) < 0)
			return false;
		info = &parsed;
	}
	n = packet_build_unreachable(orig, info, why, out, sizeof(out));
	return n > 0 && tun_out_send(o, out, (size_t)n) == 0;
}

bool
tun_out_rst(const struct tun_out *o, const struct packet_info *seg)
{
	uint8_t out[TUN_OUT_RST_MAX];
	int n = packet_build_tcp_rst(seg, out, sizeof(out));

	return n > 0 && tun_out_send(o, out, (size_t)n) == 0;
}
