/* SPDX-License-Identifier: MIT */
/*
 * Header validation for packets read from the TUN, and the few packets we build
 * ourselves. Everything lwIP will parse later is checked here first, so a malformed
 * packet is dropped (and counted) instead of exercising lwIP's parsers.
 */
#include "packet.h"

#include <errno.h>
#include <string.h>

#include "wire.h"

#define IPV4_HLEN 20
#define IPV6_HLEN 40
#define TCP_HLEN 20
#define UDP_HLEN 8
#define ICMP_HLEN 8
#define MAX_EXT_HEADERS 8

uint32_t
packet_sum(uint32_t acc, const void *data, size_t len)
{
	const uint8_t *p = data;

	for (; len >= 2; p += 2, len -= 2)
		acc += wire_rd16(p);
	if (len)
		acc += (uint32_t)p[0] << 8;
	return acc;
}

uint16_t
packet_fold(uint32_t acc)
{
	while (acc >> 16)
		acc = (acc & 0xffff) + (acc >> 16);
	return (uint16_t)~acc;
}

void
packet_trim_payload(uint8_t *hdr, const struct packet_info *info)
{
	uint16_t len = (uint16_t)(info->ip_len - info->tcp_payload_len), sum;

	if (info->tcp_payload_len == 0)
		return;
	if (info->family == 4) {
		size_t ihl = (size_t)(hdr[0] & 0x0f) * 4;

		wire_wr16(hdr + 2, len);
		wire_wr16(hdr + 10, 0);
		sum = packet_fold(packet_sum(0, hdr, ihl));
		wire_wr16(hdr + 10, sum);
	} else {
		wire_wr16(hdr + 4, (uint16_t)(len - 40));
	}
}

/* Every option must fit in the option area with a sane length for its kind; lwIP's
 * option parser trusts length bytes more than we do. */
static int
tcp_options_valid(const uint8_t *opt, size_t len)
{
	size_t i = 0;

	while (i < len) {
		uint8_t kind = opt[i], olen;

		if (kind == 0)
			return 1; /* end of option list: the rest is padding */
		if (kind == 1) {
			i++;
			continue;
		}
		if (i + 1 >= len)
			return 0;
		olen = opt[i + 1];
		if (olen < 2 || i + olen > len)
			return 0;
		switch (kind) {
		case 2: /* MSS */
			if (olen != 4)
				return 0;
			break;
		case 3: /* window scale */
			if (olen != 3)
				return 0;
			break;
		case 4: /* SACK permitted */
			if (olen != 2)
				return 0;
			break;
		case 5: /* SACK blocks */
			if ((olen - 2) % 8 != 0 || olen == 2)
				return 0;
			break;
		case 8: /* timestamps */
			if (olen != 10)
				return 0;
			break;
		default:
			break;
		}
		i += olen;
	}
	return 1;
}

static int
parse_transport(const uint8_t *buf, struct packet_info *info)
{
	const uint8_t *l4 = buf + info->l4_off;
	size_t l4_len = (size_t)info->ip_len - info->l4_off;

	if (info->fragment) {
		if (info->proto == PACKET_PROTO_TCP)
			return PACKET_ERR_TCP_FRAGMENT;
		return 0; /* ip_reass reassembles; the whole datagram is parsed again */
	}
	switch (info->proto) {
	case PACKET_PROTO_TCP: {
		size_t doff;

		if (l4_len < TCP_HLEN)
			return PACKET_ERR_TRUNCATED;
		doff = (size_t)(l4[12] >> 4) * 4;
		if (doff < TCP_HLEN || doff > l4_len)
			return PACKET_ERR_TCP_HEADER;
		if (!tcp_options_valid(l4 + TCP_HLEN, doff - TCP_HLEN))
			return PACKET_ERR_TCP_HEADER;
		info->sport = wire_rd16(l4);
		info->dport = wire_rd16(l4 + 2);
		info->tcp_seq = wire_rd32(l4 + 4);
		info->tcp_ack = wire_rd32(l4 + 8);
		info->tcp_flags = l4[13] & 0x3f;
		info->tcp_payload_len = (uint16_t)(l4_len - doff);
		return 0;
	}
	case PACKET_PROTO_UDP: {
		size_t ulen;

		if (l4_len < UDP_HLEN)
			return PACKET_ERR_TRUNCATED;
		ulen = wire_rd16(l4 + 4);
		if (ulen < UDP_HLEN || ulen > l4_len)
			return PACKET_ERR_UDP_HEADER;
		info->sport = wire_rd16(l4);
		info->dport = wire_rd16(l4 + 2);
		info->udp_payload_len = (uint16_t)(ulen - UDP_HLEN);
		return 0;
	}
	default:
		return 0;
	}
}

static int
parse_ipv4(const uint8_t *buf, size_t len, struct packet_info *info)
{
	size_t ihl, tot;
	uint16_t frag;

	if (len < IPV4_HLEN)
		return PACKET_ERR_TRUNCATED;
	ihl = (size_t)(buf[0] & 0x0f) * 4;
	tot = wire_rd16(buf + 2);
	if (ihl < IPV4_HLEN || ihl > tot)
		return PACKET_ERR_IP_HEADER;
	if (tot > len)
		return PACKET_ERR_TRUNCATED;
	if (packet_fold(packet_sum(0, buf, ihl)) != 0)
		return PACKET_ERR_IP_HEADER;
	frag = wire_rd16(buf + 6);
	info->family = 4;
	info->proto = buf[9];
	info->fragment = (frag & 0x3fff) != 0; /* MF or a non-zero offset */
	memcpy(info->src, buf + 12, 4);
	memcpy(info->dst, buf + 16, 4);
	info->ip_len = (uint16_t)tot;
	info->l4_off = (uint16_t)ihl;
	return parse_transport(buf, info);
}

static int
parse_ipv6(const uint8_t *buf, size_t len, struct packet_info *info)
{
	size_t tot, off = IPV6_HLEN;
	uint8_t next;

	if (len < IPV6_HLEN)
		return PACKET_ERR_TRUNCATED;
	tot = IPV6_HLEN + (size_t)wire_rd16(buf + 4);
	if (tot > UINT16_MAX)
		return PACKET_ERR_IP_HEADER; /* info->ip_len is 16 bits; no TUN MTU allows more */
	if (tot > len)
		return PACKET_ERR_TRUNCATED;
	if (tot == IPV6_HLEN && buf[6] == 0)
		return PACKET_ERR_IP_HEADER; /* a jumbogram's hop-by-hop header would be next */
	info->family = 6;
	info->fragment = false;
	memcpy(info->src, buf + 8, 16);
	memcpy(info->dst, buf + 24, 16);
	info->ip_len = (uint16_t)tot;
	next = buf[6];
	for (int n = 0;; n++) {
		size_t hlen;

		if (next != 0 && next != 43 && next != 60 && next != 44)
			break;
		if (n == MAX_EXT_HEADERS || off + 8 > tot)
			return PACKET_ERR_EXT_HEADER;
		if (next == 0 && off != IPV6_HLEN)
			return PACKET_ERR_EXT_HEADER; /* hop-by-hop must come first */
		if (next == 44) {
			uint16_t fo = wire_rd16(buf + off + 2);

			if (info->fragment)
				return PACKET_ERR_EXT_HEADER; /* a second Fragment header */
			info->fragment = true;
			info->frag_hdr_off = (uint16_t)off;
			next = buf[off];
			off += 8;
			if ((fo & 0xfff8) != 0) {
				/* a later fragment: no transport header here */
				info->proto = next;
				info->l4_off = (uint16_t)off;
				return parse_transport(buf, info);
			}
			continue;
		}
		hlen = ((size_t)buf[off + 1] + 1) * 8;
		if (off + hlen > tot)
			return PACKET_ERR_EXT_HEADER;
		next = buf[off];
		off += hlen;
	}
	info->proto = next;
	info->l4_off = (uint16_t)off;
	return parse_transport(buf, info);
}

int
packet_parse(const uint8_t *buf, size_t len, struct packet_info *info)
{
	memset(info, 0, sizeof(*info));
	if (len == 0)
		return PACKET_ERR_TRUNCATED;
	if (len > 65535 + IPV6_HLEN)
		return PACKET_ERR_IP_HEADER;
	switch (buf[0] >> 4) {
	case 4:
		return parse_ipv4(buf, len, info);
	case 6:
		return parse_ipv6(buf, len, info);
	default:
		return PACKET_ERR_VERSION;
	}
}

const char *
packet_error_str(int err)
{
	switch (err) {
	case 0:
		return "ok";
	case PACKET_ERR_TRUNCATED:
		return "truncated packet";
	case PACKET_ERR_VERSION:
		return "not IPv4 or IPv6";
	case PACKET_ERR_IP_HEADER:
		return "bad IP header";
	case PACKET_ERR_EXT_HEADER:
		return "bad IPv6 extension header chain";
	case PACKET_ERR_TCP_HEADER:
		return "bad TCP header or options";
	case PACKET_ERR_UDP_HEADER:
		return "bad UDP length";
	case PACKET_ERR_TCP_FRAGMENT:
		return "fragmented TCP segment";
	default:
		return "unknown packet error";
	}
}

/* Writes an IP header from src to dst; returns its length. */
static size_t
put_ip_header(uint8_t *out, int family, const uint8_t *src, const uint8_t *dst, uint8_t proto, size_t l4_len)
{
	if (family == 4) {
		memset(out, 0, IPV4_HLEN);
		out[0] = 0x45;
		wire_wr16(out + 2, (uint16_t)(IPV4_HLEN + l4_len));
		out[6] = 0x40; /* DF */
		out[8] = 64;
		out[9] = proto;
		memcpy(out + 12, src, 4);
		memcpy(out + 16, dst, 4);
		wire_wr16(out + 10, packet_fold(packet_sum(0, out, IPV4_HLEN)));
		return IPV4_HLEN;
	}
	memset(out, 0, IPV6_HLEN);
	out[0] = 0x60;
	wire_wr16(out + 4, (uint16_t)l4_len);
	out[6] = proto;
	out[7] = 64;
	memcpy(out + 8, src, 16);
	memcpy(out + 24, dst, 16);
	return IPV6_HLEN;
}

static uint32_t
pseudo_header_sum(int family, const uint8_t *src, const uint8_t *dst, uint8_t proto, size_t l4_len)
{
	size_t alen = family == 4 ? 4 : 16;
	uint32_t acc = packet_sum(0, src, alen);

	acc = packet_sum(acc, dst, alen);
	return acc + proto + (uint32_t)l4_len;
}

int
packet_build_tcp_rst(const struct packet_info *seg, uint8_t *out, size_t cap)
{
	size_t hl = seg->family == 4 ? IPV4_HLEN : IPV6_HLEN;
	uint8_t *tcp = out + hl;
	uint32_t seglen = seg->tcp_payload_len;

	if (cap < hl + TCP_HLEN)
		return -ENOSPC;
	put_ip_header(out, seg->family, seg->dst, seg->src, PACKET_PROTO_TCP, TCP_HLEN);
	if (seg->tcp_flags & PACKET_TCP_SYN)
		seglen++;
	if (seg->tcp_flags & PACKET_TCP_FIN)
		seglen++;
	memset(tcp, 0, TCP_HLEN);
	wire_wr16(tcp, seg->dport);
	wire_wr16(tcp + 2, seg->sport);
	if (seg->tcp_flags & PACKET_TCP_ACK) {
		/* RFC 9293 3.10.7.1: a RST answering an ACK takes its sequence from it. */
		wire_wr32(tcp + 4, seg->tcp_ack);
		tcp[13] = PACKET_TCP_RST;
	} else {
		wire_wr32(tcp + 8, seg->tcp_seq + seglen);
		tcp[13] = PACKET_TCP_RST | PACKET_TCP_ACK;
	}
	tcp[12] = 5 << 4;
	wire_wr16(tcp + 16, packet_fold(packet_sum(pseudo_header_sum(seg->family, seg->dst, seg->src, PACKET_PROTO_TCP,
								 TCP_HLEN),
					      tcp, TCP_HLEN)));
	return (int)(hl + TCP_HLEN);
}

int
packet_build_unreachable(const uint8_t *orig, const struct packet_info *info, enum packet_unreach why, uint8_t *out,
			 size_t cap)
{
	static const uint8_t code4[] = {[PACKET_UNREACH_NET] = 0, [PACKET_UNREACH_HOST] = 1,
					[PACKET_UNREACH_PORT] = 3, [PACKET_UNREACH_ADMIN] = 13};
	static const uint8_t code6[] = {[PACKET_UNREACH_NET] = 0, [PACKET_UNREACH_HOST] = 3,
					[PACKET_UNREACH_PORT] = 4, [PACKET_UNREACH_ADMIN] = 1};
	size_t hl = info->family == 4 ? IPV4_HLEN : IPV6_HLEN;
	size_t limit = info->family == 4 ? 576 : 1280;
	size_t quote = info->ip_len;
	uint8_t *icmp = out + hl;
	uint32_t acc;

	if (quote > limit - hl - ICMP_HLEN)
		quote = limit - hl - ICMP_HLEN;
	if (cap < hl + ICMP_HLEN + quote)
		return -ENOSPC;
	put_ip_header(out, info->family, info->dst, info->src,
		      info->family == 4 ? PACKET_PROTO_ICMP : PACKET_PROTO_ICMPV6, ICMP_HLEN + quote);
	memset(icmp, 0, ICMP_HLEN);
	icmp[0] = info->family == 4 ? 3 : 1;
	icmp[1] = info->family == 4 ? code4[why] : code6[why];
	memcpy(icmp + ICMP_HLEN, orig, quote);
	acc = info->family == 4 ? 0
				: pseudo_header_sum(6, info->dst, info->src, PACKET_PROTO_ICMPV6, ICMP_HLEN + quote);
	wire_wr16(icmp + 2, packet_fold(packet_sum(acc, icmp, ICMP_HLEN + quote)));
	return (int)(hl + ICMP_HLEN + quote);
}

int
packet_build_udp_header(int family, const uint8_t *src, uint16_t sport, const uint8_t *dst, uint16_t dport,
			const uint8_t *payload, size_t len, uint8_t *out, size_t cap)
{
	size_t hl = family == 4 ? IPV4_HLEN : IPV6_HLEN;
	uint8_t *udp = out + hl;
	uint16_t sum;

	if (cap < hl + UDP_HLEN)
		return -ENOSPC;
	if (UDP_HLEN + len > 0xffff || (family == 4 && IPV4_HLEN + UDP_HLEN + len > 0xffff))
		return -EMSGSIZE;
	put_ip_header(out, family, src, dst, PACKET_PROTO_UDP, UDP_HLEN + len);
	wire_wr16(udp, sport);
	wire_wr16(udp + 2, dport);
	wire_wr16(udp + 4, (uint16_t)(UDP_HLEN + len));
	wire_wr16(udp + 6, 0);
	sum = packet_fold(packet_sum(packet_sum(pseudo_header_sum(family, src, dst, PACKET_PROTO_UDP, UDP_HLEN + len),
						udp, UDP_HLEN),
				     payload, len));
	/* RFC 768: a computed zero is sent as all ones (zero means "no checksum"). */
	wire_wr16(udp + 6, sum == 0 ? 0xffff : sum);
	return (int)(hl + UDP_HLEN);
}
