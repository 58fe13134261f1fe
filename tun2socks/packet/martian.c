/* SPDX-License-Identifier: MIT */
/*
 * The address classes behind martian_classify. A SOCKS server that is asked to reach
 * 0.0.0.0, 127.0.0.1 or ::ffff:127.0.0.1 reaches its own host's services, and one asked
 * for 169.254.169.254 reaches its own cloud's metadata service: nothing the application
 * meant. Multicast and broadcast have no single remote peer to connect to.
 */
#include "martian.h"

#include <string.h>

static bool
v4_source_bad(const uint8_t *a)
{
	return a[0] == 0 || a[0] == 127 || (a[0] & 0xf0) == 0xe0 ||
	       (a[0] == 255 && a[1] == 255 && a[2] == 255 && a[3] == 255);
}

/* Host bits of a under prefix: all zero (-1), all ones (1), or mixed (0). */
static int
v4_host_bits(const uint8_t *a, unsigned prefix)
{
	uint32_t v = (uint32_t)a[0] << 24 | (uint32_t)a[1] << 16 | (uint32_t)a[2] << 8 | a[3];
	uint32_t host = prefix >= 32 ? 0 : 0xffffffffu >> prefix;

	if ((v & host) == 0)
		return -1;
	return (v & host) == host ? 1 : 0;
}

static bool
v4_same_net(const uint8_t *a, const uint8_t *b, unsigned prefix)
{
	uint32_t va = (uint32_t)a[0] << 24 | (uint32_t)a[1] << 16 | (uint32_t)a[2] << 8 | a[3];
	uint32_t vb = (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
	uint32_t mask = prefix == 0 ? 0 : 0xffffffffu << (32 - prefix);

	return ((va ^ vb) & mask) == 0;
}

static enum martian
v4_classify(const uint8_t *src, const uint8_t *dst, const struct martian_tun_net *tun)
{
	if (v4_source_bad(src))
		return MARTIAN_SOURCE;
	if (dst[0] == 0)
		return MARTIAN_THIS_NET;
	if (dst[0] == 127)
		return MARTIAN_LOOPBACK;
	if ((dst[0] & 0xf0) == 0xe0)
		return MARTIAN_MULTICAST;
	if (dst[0] == 255 && dst[1] == 255 && dst[2] == 255 && dst[3] == 255)
		return MARTIAN_BROADCAST;
	if (dst[0] == 169 && dst[1] == 254)
		return MARTIAN_LINK_LOCAL;
	if (tun != NULL && tun->has_net4 && tun->prefix4 <= 30 && v4_same_net(dst, tun->addr4, tun->prefix4) &&
	    v4_host_bits(dst, tun->prefix4) != 0)
		return MARTIAN_BROADCAST;
	return MARTIAN_NONE;
}

/* ::/96 holds ::, ::1 and the deprecated IPv4-compatible addresses. */
static bool
v6_in_zero96(const uint8_t *a)
{
	static const uint8_t zero[12];

	return memcmp(a, zero, 12) == 0;
}

static bool
v6_mapped(const uint8_t *a)
{
	static const uint8_t prefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

	return memcmp(a, prefix, 12) == 0;
}

/* Within ::/96: 0 for ::, 1 for ::1, 2 for anything else. */
static int
v6_low(const uint8_t *a)
{
	if (a[12] == 0 && a[13] == 0 && a[14] == 0 && a[15] <= 1)
		return a[15];
	return 2;
}

static enum martian
v6_classify(const uint8_t *src, const uint8_t *dst)
{
	if (src[0] == 0xff || v6_mapped(src) || (v6_in_zero96(src) && v6_low(src) < 2))
		return MARTIAN_SOURCE;
	if (dst[0] == 0xff)
		return MARTIAN_MULTICAST;
	if (v6_in_zero96(dst)) {
		switch (v6_low(dst)) {
		case 0:
			return MARTIAN_THIS_NET;
		case 1:
			return MARTIAN_LOOPBACK;
		default:
			return MARTIAN_V4_IN_V6;
		}
	}
	if (v6_mapped(dst))
		return MARTIAN_V4_IN_V6;
	if (dst[0] == 0xfe && (dst[1] & 0xc0) == 0x80)
		return MARTIAN_LINK_LOCAL;
	return MARTIAN_NONE;
}

enum martian
martian_classify(const struct packet_info *info, const struct martian_tun_net *tun)
{
	if (info->family == 4)
		return v4_classify(info->src, info->dst, tun);
	return v6_classify(info->src, info->dst);
}

bool
martian_answer(enum martian m)
{
	switch (m) {
	case MARTIAN_THIS_NET:
	case MARTIAN_LOOPBACK:
	case MARTIAN_LINK_LOCAL:
	case MARTIAN_V4_IN_V6:
		return true;
	default:
		return false;
	}
}

const char *
martian_str(enum martian m)
{
	switch (m) {
	case MARTIAN_NONE:
		return "ok";
	case MARTIAN_SOURCE:
		return "source cannot be a host";
	case MARTIAN_MULTICAST:
		return "multicast destination";
	case MARTIAN_BROADCAST:
		return "broadcast destination";
	case MARTIAN_THIS_NET:
		return "destination in 0.0.0.0/8 or ::";
	case MARTIAN_LOOPBACK:
		return "loopback destination";
	case MARTIAN_LINK_LOCAL:
		return "link-local destination";
	case MARTIAN_V4_IN_V6:
		return "IPv4-mapped or -compatible IPv6 destination";
	default:
		return "unknown";
	}
}
