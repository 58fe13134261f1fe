/* SPDX-License-Identifier: MIT */
/* Hand-made IPv4/IPv6 + TCP/UDP packets for tests; see pktbuild.h. */
#include "pktbuild.h"

#include <arpa/inet.h>
#include <setjmp.h>
#include <stdarg.h>
#include <string.h>

#include <cmocka.h>

#define IPV4_HLEN 20
#define IPV6_HLEN 40
#define TCP_HLEN 20
#define UDP_HLEN 8

uint16_t
pktbuild_rd16(const uint8_t *p)
{
	return (uint16_t)((unsigned)p[0] * 256u + p[1]);
}

uint32_t
pktbuild_rd32(const uint8_t *p)
{
	return (uint32_t)pktbuild_rd16(p) * 65536u + pktbuild_rd16(p + 2);
}

void
pktbuild_wr16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v / 256u);
	p[1] = (uint8_t)(v % 256u);
}

static void
wr32(uint8_t *p, uint32_t v)
{
	pktbuild_wr16(p, (uint16_t)(v >> 16));
	pktbuild_wr16(p + 2, (uint16_t)v);
}

/* Deliberately not the loop in packet.c: 64-bit accumulator, odd byte handled up front. */
uint16_t
pktbuild_csum(uint32_t acc, const void *data, size_t len)
{
	const uint8_t *p = data;
	uint64_t sum = acc;

	if (len % 2 == 1)
		sum += (uint64_t)p[len - 1] << 8;
	for (size_t i = 0; i + 1 < len; i += 2)
		sum += pktbuild_rd16(p + i);
	while (sum > 0xffff)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)(0xffff - sum);
}

uint32_t
pktbuild_pseudo(int family, const uint8_t *src, const uint8_t *dst, uint8_t proto, size_t l4_len)
{
	size_t alen = family == 4 ? 4 : 16;
	uint32_t acc = 0;

	for (size_t i = 0; i < alen; i += 2)
		acc += pktbuild_rd16(src + i) + pktbuild_rd16(dst + i);
	return acc + proto + (uint32_t)(l4_len >> 16) + (uint32_t)(l4_len & 0xffff);
}

void
pktbuild_ipv4_fix_csum(uint8_t *pkt)
{
	size_t ihl = (size_t)(pkt[0] & 0x0f) * 4;

	pkt[10] = pkt[11] = 0;
	pktbuild_wr16(pkt + 10, pktbuild_csum(0, pkt, ihl));
}

void
pktbuild_ip_init(struct pktbuild_ip *ip, int family, const char *src, const char *dst)
{
	memset(ip, 0, sizeof(*ip));
	ip->family = family;
	assert_int_equal(inet_pton(family == 4 ? AF_INET : AF_INET6, src, ip->src), 1);
	assert_int_equal(inet_pton(family == 4 ? AF_INET : AF_INET6, dst, ip->dst), 1);
}

static size_t
ext_len(const struct pktbuild_ext *e)
{
	return e->type == PKTBUILD_EXT_FRAGMENT ? 8 : ((size_t)e->len8 + 1) * 8;
}

size_t
pktbuild_l4_off(const struct pktbuild_ip *ip)
{
	size_t off;

	if (ip->family == 4)
		return IPV4_HLEN + ip->ipv4_opt_len;
	off = IPV6_HLEN;
	for (size_t i = 0; i < ip->n_ext; i++)
		off += ext_len(&ip->ext[i]);
	return off;
}

/* Writes the IP header and any extension headers for l4_len transport bytes. */
static void
put_headers(uint8_t *out, const struct pktbuild_ip *ip, uint8_t proto, size_t l4_len)
{
	size_t off = pktbuild_l4_off(ip);
	size_t tot = off + l4_len;

	if (ip->family == 4) {
		assert_true(ip->ipv4_opt_len % 4 == 0 && ip->ipv4_opt_len <= 40);
		assert_true(tot <= 65535);
		memset(out, 0, off);
		out[0] = (uint8_t)(0x40 | (off / 4));
		pktbuild_wr16(out + 2, (uint16_t)tot);
		pktbuild_wr16(out + 4, 0x1234);
		pktbuild_wr16(out + 6, ip->ipv4_frag);
		out[8] = 64;
		out[9] = proto;
		memcpy(out + 12, ip->src, 4);
		memcpy(out + 16, ip->dst, 4);
		memset(out + IPV4_HLEN, 1, ip->ipv4_opt_len); /* NOPs */
		if (ip->ipv4_opt_len)
			out[off - 1] = 0; /* EOL */
		pktbuild_ipv4_fix_csum(out);
		return;
	}
	assert_true(ip->n_ext <= PKTBUILD_MAX_EXT);
	assert_true(tot - IPV6_HLEN <= 65535);
	memset(out, 0, IPV6_HLEN);
	out[0] = 0x60;
	out[1] = 0x0a; /* a traffic class and flow label that must not matter */
	out[3] = 0xbc;
	pktbuild_wr16(out + 4, (uint16_t)(tot - IPV6_HLEN));
	out[6] = ip->n_ext ? ip->ext[0].type : proto;
	out[7] = 64;
	memcpy(out + 8, ip->src, 16);
	memcpy(out + 24, ip->dst, 16);
	off = IPV6_HLEN;
	for (size_t i = 0; i < ip->n_ext; i++) {
		const struct pktbuild_ext *e = &ip->ext[i];
		size_t len = ext_len(e);
		uint8_t *h = out + off;

		memset(h, 0, len);
		h[0] = i + 1 < ip->n_ext ? ip->ext[i + 1].type : proto;
		switch (e->type) {
		case PKTBUILD_EXT_FRAGMENT:
			pktbuild_wr16(h + 2, (uint16_t)(e->frag_offset << 3 | (e->frag_more ? 1 : 0)));
			wr32(h + 4, 0xcafe0000u + (uint32_t)i);
			break;
		case PKTBUILD_EXT_ROUTING:
			h[1] = e->len8;
			h[2] = 4; /* routing type; segments left stays 0 */
			break;
		default:
			h[1] = e->len8;
			h[2] = 1; /* one PadN option filling the header (exact for len8 <= 31) */
			h[3] = (uint8_t)(len - 4);
			break;
		}
		off += len;
	}
}

static size_t
finish(uint8_t *out, const struct pktbuild_ip *ip, size_t tot)
{
	memset(out + tot, 0xee, ip->pad);
	return tot + ip->pad;
}

size_t
pktbuild_raw(uint8_t *out, size_t cap, const struct pktbuild_ip *ip, uint8_t proto, const uint8_t *l4, size_t l4_len)
{
	size_t off = pktbuild_l4_off(ip);

	assert_true(off + l4_len + ip->pad <= cap);
	put_headers(out, ip, proto, l4_len);
	if (l4 != NULL)
		memcpy(out + off, l4, l4_len);
	else
		memset(out + off, 0, l4_len);
	return finish(out, ip, off + l4_len);
}

size_t
pktbuild_tcp(uint8_t *out, size_t cap, const struct pktbuild_ip *ip, const struct pktbuild_tcp *tcp)
{
	size_t off = pktbuild_l4_off(ip);
	size_t olen = (tcp->opts_len + 3) / 4 * 4;
	size_t l4_len = TCP_HLEN + olen + tcp->payload_len;
	uint8_t *t = out + off;

	assert_true(olen <= 40);
	assert_true(off + l4_len + ip->pad <= cap);
	put_headers(out, ip, 6, l4_len);
	memset(t, 0, TCP_HLEN + olen);
	pktbuild_wr16(t, tcp->sport);
	pktbuild_wr16(t + 2, tcp->dport);
	wr32(t + 4, tcp->seq);
	wr32(t + 8, tcp->ack);
	t[12] = (uint8_t)((tcp->doff ? tcp->doff : (TCP_HLEN + olen) / 4) << 4);
	t[13] = tcp->flags;
	pktbuild_wr16(t + 14, tcp->zero_window ? 0 : tcp->window ? tcp->window : 65535);
	if (tcp->opts_len)
		memcpy(t + TCP_HLEN, tcp->opts, tcp->opts_len);
	if (tcp->payload_len)
		memcpy(t + TCP_HLEN + olen, tcp->payload, tcp->payload_len);
	pktbuild_wr16(t + 16, pktbuild_csum(pktbuild_pseudo(ip->family, ip->src, ip->dst, 6, l4_len), t, l4_len));
	return finish(out, ip, off + l4_len);
}

size_t
pktbuild_udp(uint8_t *out, size_t cap, const struct pktbuild_ip *ip, const struct pktbuild_udp *udp)
{
	size_t off = pktbuild_l4_off(ip);
	size_t l4_len = UDP_HLEN + udp->payload_len;
	uint8_t *u = out + off;
	uint16_t sum;

	assert_true(off + l4_len + ip->pad <= cap);
	put_headers(out, ip, 17, l4_len);
	memset(u, 0, UDP_HLEN);
	pktbuild_wr16(u, udp->sport);
	pktbuild_wr16(u + 2, udp->dport);
	pktbuild_wr16(u + 4, udp->len_field >= 0 ? (uint16_t)udp->len_field : (uint16_t)l4_len);
	if (udp->payload_len)
		memcpy(u + UDP_HLEN, udp->payload, udp->payload_len);
	sum = pktbuild_csum(pktbuild_pseudo(ip->family, ip->src, ip->dst, 17, l4_len), u, l4_len);
	pktbuild_wr16(u + 6, sum ? sum : 0xffff); /* RFC 768: 0 means "no checksum" */
	return finish(out, ip, off + l4_len);
}

size_t
pktbuild_opt_mss(uint8_t *p, uint16_t mss)
{
	p[0] = 2;
	p[1] = 4;
	pktbuild_wr16(p + 2, mss);
	return 4;
}

size_t
pktbuild_opt_ws(uint8_t *p, uint8_t shift)
{
	p[0] = 3;
	p[1] = 3;
	p[2] = shift;
	return 3;
}

size_t
pktbuild_opt_sack_perm(uint8_t *p)
{
	p[0] = 4;
	p[1] = 2;
	return 2;
}

size_t
pktbuild_opt_ts(uint8_t *p, uint32_t val, uint32_t ecr)
{
	p[0] = 8;
	p[1] = 10;
	wr32(p + 2, val);
	wr32(p + 6, ecr);
	return 10;
}

size_t
pktbuild_opt_nop(uint8_t *p)
{
	p[0] = 1;
	return 1;
}
