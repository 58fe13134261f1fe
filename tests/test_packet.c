/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for packet.c: parsing of hand-built IPv4/IPv6 + TCP/UDP packets (every
 * packet_error, TCP option walk, fragments, IPv6 extension chains), and the RST and
 * ICMP/ICMPv6 unreachable packets we build, checked by parsing them back and verifying
 * their checksums.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "packet.h"
#include "support/pktbuild.h"

#define BUF 4096

static const uint16_t APP_PORT = 40000, DST_PORT = 443;

static void
ip_default(struct pktbuild_ip *ip, int family)
{
	if (family == 4)
		pktbuild_ip_init(ip, 4, "198.18.0.1", "203.0.113.9");
	else
		pktbuild_ip_init(ip, 6, "fd00::1", "2001:db8::9");
}

static size_t
alen(int family)
{
	return family == 4 ? 4 : 16;
}

/* Parses and fails with both error texts when the result is not want. */
static void
expect_parse(const uint8_t *buf, size_t len, int want, const char *what)
{
	struct packet_info info;
	int r = packet_parse(buf, len, &info);

	if (r != want)
		fail_msg("%s: got %d (%s), want %d (%s)", what, r, packet_error_str(r), want, packet_error_str(want));
}

static void
parse_ok(const uint8_t *buf, size_t len, struct packet_info *info)
{
	int r = packet_parse(buf, len, info);

	if (r != 0)
		fail_msg("valid packet refused: %d (%s)", r, packet_error_str(r));
}

/* MSS, NOP, WS, SACK-permitted, timestamps: 20 bytes, as Linux sends them (reordered). */
static size_t
syn_options(uint8_t *o)
{
	size_t n = 0;

	n += pktbuild_opt_mss(o + n, 1460);
	n += pktbuild_opt_nop(o + n);
	n += pktbuild_opt_ws(o + n, 7);
	n += pktbuild_opt_sack_perm(o + n);
	n += pktbuild_opt_ts(o + n, 0x01020304, 0);
	return n;
}

static size_t
build_syn(uint8_t *out, size_t cap, int family, uint32_t seq, size_t pad)
{
	struct pktbuild_ip ip;
	uint8_t opts[40];
	struct pktbuild_tcp tcp = {
		.sport = APP_PORT, .dport = DST_PORT, .seq = seq, .flags = PACKET_TCP_SYN, .opts = opts};

	ip_default(&ip, family);
	ip.pad = pad;
	tcp.opts_len = syn_options(opts);
	return pktbuild_tcp(out, cap, &ip, &tcp);
}

/* A TCP segment whose option area is exactly opts[0..len) (len a multiple of 4). */
static size_t
build_tcp_opts(uint8_t *out, size_t cap, int family, const uint8_t *opts, size_t len)
{
	struct pktbuild_ip ip;
	struct pktbuild_tcp tcp = {.sport = APP_PORT,
				   .dport = DST_PORT,
				   .seq = 1,
				   .flags = PACKET_TCP_SYN,
				   .opts = opts,
				   .opts_len = len};

	assert_int_equal(len % 4, 0);
	ip_default(&ip, family);
	return pktbuild_tcp(out, cap, &ip, &tcp);
}

static size_t
build_udp(uint8_t *out, size_t cap, const struct pktbuild_ip *ip, int32_t len_field, size_t payload_len)
{
	static const uint8_t payload[64] = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcde";
	struct pktbuild_udp udp = {
		.sport = 5353, .dport = 53, .len_field = len_field, .payload = payload, .payload_len = payload_len};

	assert_true(payload_len <= sizeof(payload));
	return pktbuild_udp(out, cap, ip, &udp);
}

static void
assert_ipv4_header_sum_ok(const uint8_t *pkt)
{
	assert_int_equal(packet_fold(packet_sum(0, pkt, (size_t)(pkt[0] & 0x0f) * 4)), 0);
}

/* Transport checksum over the pseudo-header, using only packet_sum/packet_fold. */
static void
assert_l4_sum_ok(const uint8_t *pkt, const struct packet_info *info)
{
	size_t l4_len = (size_t)info->ip_len - info->l4_off;
	uint32_t acc = packet_sum(0, info->src, alen(info->family));

	acc = packet_sum(acc, info->dst, alen(info->family));
	acc += info->proto + (uint32_t)l4_len;
	acc = packet_sum(acc, pkt + info->l4_off, l4_len);
	assert_int_equal(packet_fold(acc), 0);
}

/* ---- checksum helpers ---- */

static void
test_checksum_rfc1071(void **state)
{
	/* RFC 1071 section 3 example: the sum is ddf2, so the checksum is its complement. */
	static const uint8_t v[] = {0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7};
	static const uint8_t odd[] = {0xab};
	uint8_t data[301];

	(void)state;
	assert_int_equal(packet_sum(0, v, sizeof(v)), 0x2ddf0);
	assert_int_equal(packet_fold(packet_sum(0, v, sizeof(v))), 0x220d);
	assert_int_equal(packet_sum(0, odd, 1), 0xab00);
	assert_int_equal(packet_sum(7, NULL, 0), 7);
	assert_int_equal(packet_fold(0), 0xffff);
	assert_int_equal(packet_fold(0xffff), 0);
	assert_int_equal(packet_fold(0x1fffe), 0);
	/* chaining even-length pieces equals one pass */
	assert_int_equal(packet_sum(packet_sum(0, v, 4), v + 4, 4), packet_sum(0, v, 8));

	srand(1);
	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = (uint8_t)rand();
	for (size_t len = 0; len <= sizeof(data); len++)
		assert_int_equal(packet_fold(packet_sum(0, data, len)), pktbuild_csum(0, data, len));
}

/* ---- valid packets ---- */

static void
test_tcp_syn_options(void **state)
{
	uint8_t buf[BUF];
	struct packet_info info;

	(void)state;
	for (int family = 4; family <= 6; family += 2) {
		size_t hl = family == 4 ? 20 : 40;
		size_t n = build_syn(buf, sizeof(buf), family, 0xfffffff0u, 7);
		struct pktbuild_ip ip;

		ip_default(&ip, family);
		assert_int_equal(n, hl + 40 + 7);
		memset(&info, 0xa5, sizeof(info));
		parse_ok(buf, n, &info);
		assert_int_equal(info.family, family);
		assert_int_equal(info.proto, PACKET_PROTO_TCP);
		assert_false(info.fragment);
		assert_memory_equal(info.src, ip.src, alen(family));
		assert_memory_equal(info.dst, ip.dst, alen(family));
		assert_int_equal(info.ip_len, hl + 40); /* the 7 padding bytes are not the packet's */
		assert_int_equal(info.l4_off, hl);
		assert_int_equal(info.sport, APP_PORT);
		assert_int_equal(info.dport, DST_PORT);
		assert_int_equal(info.tcp_seq, 0xfffffff0u);
		assert_int_equal(info.tcp_ack, 0);
		assert_int_equal(info.tcp_flags, PACKET_TCP_SYN);
		assert_int_equal(info.tcp_payload_len, 0);
		if (family == 4) {
			static const uint8_t zero[12];

			/* IPv4 uses the first 4 bytes; the rest is cleared, not left over */
			assert_memory_equal(info.src + 4, zero, 12);
			assert_memory_equal(info.dst + 4, zero, 12);
			assert_ipv4_header_sum_ok(buf);
		}
		assert_l4_sum_ok(buf, &info);
	}
}

static void
test_tcp_data_segment(void **state)
{
	static const uint8_t payload[1000] = {1, 2, 3};
	uint8_t buf[BUF], opts[12];
	struct packet_info info;
	struct pktbuild_ip ip;
	struct pktbuild_tcp tcp = {.sport = 1,
				   .dport = 65535,
				   .seq = 0x80000000u,
				   .ack = 0x7fffffffu,
				   .flags = PACKET_TCP_ACK | PACKET_TCP_PSH | PACKET_TCP_FIN,
				   .opts = opts,
				   .payload = payload,
				   .payload_len = 999};
	size_t n;

	(void)state;
	tcp.opts_len = pktbuild_opt_nop(opts) + pktbuild_opt_nop(opts + 1) + pktbuild_opt_ts(opts + 2, 5, 6);

	/* IPv4 with 40 bytes of IP options (IHL 15) and trailing padding */
	ip_default(&ip, 4);
	ip.ipv4_opt_len = 40;
	ip.pad = 3;
	n = pktbuild_tcp(buf, sizeof(buf), &ip, &tcp);
	parse_ok(buf, n, &info);
	assert_int_equal(info.l4_off, 60);
	assert_int_equal(info.ip_len, 60 + 32 + 999);
	assert_int_equal(info.sport, 1);
	assert_int_equal(info.dport, 65535);
	assert_int_equal(info.tcp_seq, 0x80000000u);
	assert_int_equal(info.tcp_ack, 0x7fffffffu);
	assert_int_equal(info.tcp_flags, PACKET_TCP_ACK | PACKET_TCP_PSH | PACKET_TCP_FIN);
	assert_int_equal(info.tcp_payload_len, 999);
	assert_ipv4_header_sum_ok(buf);
	assert_l4_sum_ok(buf, &info);

	/* IPv6, no options, no padding: len == ip_len */
	ip_default(&ip, 6);
	tcp.opts_len = 0;
	tcp.payload_len = 1000;
	n = pktbuild_tcp(buf, sizeof(buf), &ip, &tcp);
	parse_ok(buf, n, &info);
	assert_int_equal(info.ip_len, n);
	assert_int_equal(info.l4_off, 40);
	assert_int_equal(info.tcp_payload_len, 1000);
	assert_l4_sum_ok(buf, &info);
}

/* A SYN carrying data (TCP Fast Open) is held without it: what is left parses. */
static void
test_trim_payload(void **state)
{
	static const uint8_t payload[3000] = {9, 8, 7};
	uint8_t buf[BUF], hdr[BUF], opts[8];
	struct packet_info info, trimmed;
	struct pktbuild_ip ip;
	struct pktbuild_tcp tcp = {.sport = APP_PORT,
				   .dport = DST_PORT,
				   .seq = 77,
				   .flags = PACKET_TCP_SYN,
				   .opts = opts,
				   .payload = payload,
				   .payload_len = sizeof(payload)};

	(void)state;
	tcp.opts_len = pktbuild_opt_mss(opts, 1460) + pktbuild_opt_ws(opts + 4, 7);
	for (int family = 4; family <= 6; family += 2) {
		size_t n, hl;

		ip_default(&ip, family);
		if (family == 4)
			ip.ipv4_opt_len = 8;
		else
			ip.n_ext = 1; /* a destination options header before TCP */
		if (family == 6)
			ip.ext[0] = (struct pktbuild_ext){.type = PKTBUILD_EXT_DSTOPTS, .len8 = 0};
		n = pktbuild_tcp(buf, sizeof(buf), &ip, &tcp);
		parse_ok(buf, n, &info);
		assert_int_equal(info.tcp_payload_len, sizeof(payload));
		hl = info.ip_len - info.tcp_payload_len;
		memcpy(hdr, buf, hl);
		packet_trim_payload(hdr, &info);
		parse_ok(hdr, hl, &trimmed);
		assert_int_equal(trimmed.ip_len, hl);
		assert_int_equal(trimmed.tcp_payload_len, 0);
		assert_int_equal(trimmed.tcp_flags, PACKET_TCP_SYN);
		assert_int_equal(trimmed.tcp_seq, 77);
		assert_int_equal(trimmed.l4_off, info.l4_off);
		if (family == 4)
			assert_ipv4_header_sum_ok(hdr);
		/* Without payload nothing changes. */
		memcpy(buf, hdr, hl);
		packet_trim_payload(hdr, &trimmed);
		assert_memory_equal(buf, hdr, hl);
	}
}

static void
test_tcp_flags_mask(void **state)
{
	uint8_t buf[BUF];
	struct packet_info info;
	size_t n = build_syn(buf, sizeof(buf), 4, 1, 0);

	(void)state;
	/* ECE/CWR (0xc0) are not among the flags we report; URG (0x20) is */
	buf[20 + 13] = 0xff;
	parse_ok(buf, n, &info);
	assert_int_equal(info.tcp_flags, 0x3f);
}

static void
test_udp_valid(void **state)
{
	uint8_t buf[BUF];
	struct packet_info info;
	struct pktbuild_ip ip;
	size_t n;

	(void)state;
	for (int family = 4; family <= 6; family += 2) {
		size_t hl = family == 4 ? 20 : 40;

		ip_default(&ip, family);
		ip.pad = 5;
		n = build_udp(buf, sizeof(buf), &ip, -1, 33);
		memset(&info, 0xa5, sizeof(info));
		parse_ok(buf, n, &info);
		assert_int_equal(info.family, family);
		assert_int_equal(info.proto, PACKET_PROTO_UDP);
		assert_false(info.fragment);
		assert_int_equal(info.ip_len, hl + 8 + 33);
		assert_int_equal(info.l4_off, hl);
		assert_int_equal(info.sport, 5353);
		assert_int_equal(info.dport, 53);
		assert_int_equal(info.tcp_flags, 0);
		assert_int_equal(info.tcp_seq, 0);
		assert_int_equal(info.tcp_ack, 0);
		assert_int_equal(info.tcp_payload_len, 0);
		assert_l4_sum_ok(buf, &info);

		/* an empty datagram is exactly the 8-byte header */
		ip.pad = 0;
		n = build_udp(buf, sizeof(buf), &ip, -1, 0);
		parse_ok(buf, n, &info);
		assert_int_equal(info.ip_len, hl + 8);
	}
}

static void
test_other_protocols_pass(void **state)
{
	static const uint8_t echo[8] = {8, 0, 0xf7, 0xff, 0, 0, 0, 0};
	uint8_t buf[BUF];
	struct packet_info info;
	struct pktbuild_ip ip;
	size_t n;

	(void)state;
	ip_default(&ip, 4);
	n = pktbuild_raw(buf, sizeof(buf), &ip, PACKET_PROTO_ICMP, echo, sizeof(echo));
	parse_ok(buf, n, &info);
	assert_int_equal(info.proto, PACKET_PROTO_ICMP);
	assert_int_equal(info.sport, 0);
	assert_int_equal(info.dport, 0);

	ip_default(&ip, 6);
	n = pktbuild_raw(buf, sizeof(buf), &ip, PACKET_PROTO_ICMPV6, echo, 1); /* not our business */
	parse_ok(buf, n, &info);
	assert_int_equal(info.proto, PACKET_PROTO_ICMPV6);
	assert_int_equal(info.l4_off, 40);
}

/* ---- truncation ---- */

static void
test_truncated_every_prefix(void **state)
{
	uint8_t buf[BUF];
	struct pktbuild_ip ip;
	size_t lens[4];
	uint8_t pkts[4][256];
	char what[128];

	(void)state;
	lens[0] = build_syn(pkts[0], sizeof(pkts[0]), 4, 1, 0);
	lens[1] = build_syn(pkts[1], sizeof(pkts[1]), 6, 1, 0);
	ip_default(&ip, 4);
	lens[2] = build_udp(pkts[2], sizeof(pkts[2]), &ip, -1, 9);
	ip_default(&ip, 6);
	lens[3] = build_udp(pkts[3], sizeof(pkts[3]), &ip, -1, 9);
	for (int k = 0; k < 4; k++) {
		for (size_t len = 0; len < lens[k]; len++) {
			/* an exact-size heap copy lets ASan catch a read past len */
			uint8_t *p = malloc(len ? len : 1);

			assert_non_null(p);
			memcpy(p, pkts[k], len);
			snprintf(what, sizeof(what), "packet %d cut to %zu of %zu bytes", k, len, lens[k]);
			expect_parse(p, len, PACKET_ERR_TRUNCATED, what);
			free(p);
		}
		memcpy(buf, pkts[k], lens[k]);
		expect_parse(buf, lens[k], 0, "whole packet");
	}
}

static void
test_truncated_transport(void **state)
{
	static const uint8_t bytes[20];
	uint8_t buf[BUF];
	struct pktbuild_ip ip;
	size_t n;

	(void)state;
	for (int family = 4; family <= 6; family += 2) {
		ip_default(&ip, family);
		/* the IP header is complete and consistent, the transport header is short */
		n = pktbuild_raw(buf, sizeof(buf), &ip, PACKET_PROTO_TCP, bytes, 19);
		expect_parse(buf, n, PACKET_ERR_TRUNCATED, "19-byte TCP header");
		n = pktbuild_raw(buf, sizeof(buf), &ip, PACKET_PROTO_TCP, bytes, 0);
		expect_parse(buf, n, PACKET_ERR_TRUNCATED, "no TCP header");
		n = pktbuild_raw(buf, sizeof(buf), &ip, PACKET_PROTO_UDP, bytes, 7);
		expect_parse(buf, n, PACKET_ERR_TRUNCATED, "7-byte UDP header");
		/* padding after the IP length does not count as transport bytes */
		ip.pad = 40;
		n = pktbuild_raw(buf, sizeof(buf), &ip, PACKET_PROTO_TCP, bytes, 19);
		expect_parse(buf, n, PACKET_ERR_TRUNCATED, "19-byte TCP header with padding");
	}
}

/* ---- IP header errors ---- */

static void
test_bad_version(void **state)
{
	static const uint8_t versions[] = {0, 1, 2, 3, 5, 7, 8, 15};
	uint8_t buf[BUF];
	size_t n = build_syn(buf, sizeof(buf), 4, 1, 0);

	(void)state;
	for (size_t i = 0; i < sizeof(versions); i++) {
		buf[0] = (uint8_t)(versions[i] << 4 | 5);
		expect_parse(buf, n, PACKET_ERR_VERSION, "bad version");
		expect_parse(buf, 1, PACKET_ERR_VERSION, "bad version, 1 byte");
	}
	/* the version decides which header length applies */
	buf[0] = 0x45;
	pktbuild_ipv4_fix_csum(buf);
	expect_parse(buf, n, 0, "restored");
	buf[0] = 0x65;
	expect_parse(buf, 39, PACKET_ERR_TRUNCATED, "IPv6 shorter than its header");
}

static void
test_ipv4_ihl(void **state)
{
	uint8_t buf[BUF];
	struct pktbuild_ip ip;
	size_t n;

	(void)state;
	memset(buf, 0, sizeof(buf));
	ip_default(&ip, 4);
	n = pktbuild_raw(buf, sizeof(buf), &ip, 253, NULL, 0); /* bare 20-byte header */
	assert_int_equal(n, 20);
	expect_parse(buf, n, 0, "bare header");

	for (uint8_t ihl = 0; ihl < 5; ihl++) {
		buf[0] = (uint8_t)(0x40 | ihl);
		pktbuild_ipv4_fix_csum(buf);
		expect_parse(buf, n, PACKET_ERR_IP_HEADER, "IHL < 5");
	}
	/* IHL 6 (24 bytes) with a total length of 20 */
	buf[0] = 0x46;
	pktbuild_ipv4_fix_csum(buf);
	expect_parse(buf, sizeof(buf), PACKET_ERR_IP_HEADER, "IHL > total length");
	/* total length below the minimum header */
	buf[0] = 0x45;
	pktbuild_wr16(buf + 2, 19);
	pktbuild_ipv4_fix_csum(buf);
	expect_parse(buf, sizeof(buf), PACKET_ERR_IP_HEADER, "total length 19");
	pktbuild_wr16(buf + 2, 0);
	pktbuild_ipv4_fix_csum(buf);
	expect_parse(buf, sizeof(buf), PACKET_ERR_IP_HEADER, "total length 0");

	/* IHL 15 with a total length of 60 but only 40 bytes read */
	ip.ipv4_opt_len = 40;
	n = pktbuild_raw(buf, sizeof(buf), &ip, 253, NULL, 0);
	assert_int_equal(n, 60);
	expect_parse(buf, n, 0, "60-byte header");
	expect_parse(buf, 40, PACKET_ERR_TRUNCATED, "60-byte header, 40 read");
	pktbuild_wr16(buf + 2, 56);
	pktbuild_ipv4_fix_csum(buf);
	expect_parse(buf, n, PACKET_ERR_IP_HEADER, "IHL 15, total length 56");
}

static void
test_ipv4_header_checksum(void **state)
{
	uint8_t buf[BUF];
	struct pktbuild_ip ip;
	size_t n;

	(void)state;
	ip_default(&ip, 4);
	n = build_udp(buf, sizeof(buf), &ip, -1, 10);
	expect_parse(buf, n, 0, "valid");
	/* any single-bit change in the header is caught */
	for (size_t byte = 0; byte < 20; byte++) {
		if (byte == 0 || byte == 2 || byte == 3)
			continue; /* version, IHL and length have their own errors */
		for (int bit = 0; bit < 8; bit++) {
			char what[128];

			buf[byte] ^= (uint8_t)(1u << bit);
			snprintf(what, sizeof(what), "header byte %zu bit %d flipped", byte, bit);
			expect_parse(buf, n, PACKET_ERR_IP_HEADER, what);
			buf[byte] ^= (uint8_t)(1u << bit);
		}
	}
	expect_parse(buf, n, 0, "restored");

	/* the checksum covers IP options too */
	ip.ipv4_opt_len = 8;
	n = build_udp(buf, sizeof(buf), &ip, -1, 10);
	expect_parse(buf, n, 0, "valid with options");
	buf[21] ^= 0x40;
	expect_parse(buf, n, PACKET_ERR_IP_HEADER, "option byte changed");
	/* the payload is not covered */
	buf[21] ^= 0x40;
	buf[n - 1] ^= 0xff;
	expect_parse(buf, n, 0, "payload changed");
}

/* ---- TCP header ---- */

static void
test_tcp_data_offset(void **state)
{
	uint8_t buf[BUF], opts[20];
	struct pktbuild_ip ip;
	struct pktbuild_tcp tcp = {.sport = 1, .dport = 2, .flags = PACKET_TCP_SYN};
	size_t n;

	(void)state;
	for (int family = 4; family <= 6; family += 2) {
		size_t hl = family == 4 ? 20 : 40;

		ip_default(&ip, family);
		tcp.opts = NULL;
		tcp.opts_len = 0;
		for (uint8_t doff = 0; doff < 5; doff++) {
			tcp.doff = doff ? doff : 5;
			n = pktbuild_tcp(buf, sizeof(buf), &ip, &tcp);
			buf[hl + 12] = (uint8_t)(doff << 4); /* the builder cannot express 0 */
			expect_parse(buf, n, PACKET_ERR_TCP_HEADER, "data offset < 5");
		}
		/* data offset 6 in a 20-byte segment (the padding after it does not count) */
		tcp.doff = 6;
		ip.pad = 8;
		n = pktbuild_tcp(buf, sizeof(buf), &ip, &tcp);
		expect_parse(buf, n, PACKET_ERR_TCP_HEADER, "data offset > segment");
		ip.pad = 0;
		/* data offset 15 (60 bytes) in a 40-byte segment */
		memset(opts, 1, sizeof(opts));
		tcp.opts = opts;
		tcp.opts_len = sizeof(opts);
		tcp.doff = 15;
		n = pktbuild_tcp(buf, sizeof(buf), &ip, &tcp);
		expect_parse(buf, n, PACKET_ERR_TCP_HEADER, "data offset 15 > segment");
		/* data offset equal to the segment: a header-only segment */
		tcp.doff = 0;
		n = pktbuild_tcp(buf, sizeof(buf), &ip, &tcp);
		expect_parse(buf, n, 0, "data offset == segment");
		/* with an explicit offset smaller than the options, the rest is payload */
		tcp.doff = 5;
		n = pktbuild_tcp(buf, sizeof(buf), &ip, &tcp);
		{
			struct packet_info info;

			parse_ok(buf, n, &info);
			assert_int_equal(info.l4_off, hl);
			assert_int_equal(info.tcp_payload_len, 20);
		}
		tcp.doff = 0;
	}
}

struct opt_case {
	const char *name;
	uint8_t len; /* a multiple of 4 */
	uint8_t bytes[40];
};

static const struct opt_case bad_opts[] = {
	{"unknown option with length 0", 4, {30, 0, 0, 0}},
	{"unknown option with length 1", 4, {30, 1, 0, 0}},
	{"MSS with length 0", 4, {2, 0, 0, 0}},
	{"MSS with length 1", 4, {2, 1, 5, 0xb4}},
	{"NOPs then length 0", 8, {1, 1, 1, 1, 1, 1, 99, 0}},
	{"kind without a length byte", 4, {1, 1, 1, 30}},
	{"option running past the header by one", 4, {1, 1, 30, 3}},
	{"option running far past the header", 4, {30, 255, 0, 0}},
	{"timestamps running past the header", 8, {8, 10, 0, 0, 0, 1, 0, 0}},
	{"MSS with length 3", 4, {2, 3, 5, 0}},
	{"MSS with length 5", 8, {2, 5, 5, 0xb4, 0, 1, 1, 1}},
	{"WS with length 4", 4, {3, 4, 7, 0}},
	{"WS with length 2", 4, {3, 2, 1, 1}},
	{"SACK-permitted with length 3", 4, {4, 3, 0, 1}},
	{"SACK with length 2", 4, {5, 2, 1, 1}},
	{"SACK with length 9", 12, {5, 9, 0, 0, 0, 1, 0, 0, 0, 2, 1, 1}},
	{"SACK with length 11", 12, {5, 11, 0, 0, 0, 1, 0, 0, 0, 2, 1, 1}},
	{"SACK with length 17", 20, {5, 17}},
	{"TS with length 8", 8, {8, 8, 0, 0, 0, 1, 0, 0}},
	{"TS with length 12", 12, {8, 12, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0}},
	{"valid MSS then WS with length 4", 8, {2, 4, 5, 0xb4, 3, 4, 7, 0}},
	{"valid TS then zero length", 12, {8, 10, 0, 0, 0, 1, 0, 0, 0, 2, 30, 0}},
};

static const struct opt_case good_opts[] = {
	{"EOL followed by garbage", 4, {0, 0xff, 0x02, 0x00}},
	{"EOL followed by a malformed MSS", 8, {0, 2, 3, 0, 30, 0, 8, 8}},
	{"NOPs only", 4, {1, 1, 1, 1}},
	{"NOPs then EOL", 4, {1, 1, 1, 0}},
	{"NOPs then MSS", 8, {1, 1, 1, 1, 2, 4, 5, 0xb4}},
	{"unknown option ending exactly at the header end", 4, {1, 30, 3, 0}},
	{"unknown option with length 2", 4, {30, 2, 1, 0}},
	{"SACK with one block", 12, {1, 1, 5, 10, 0, 0, 0, 1, 0, 0, 0, 2}},
	{"SACK with four blocks", 36, {1, 1, 5, 34}},
	{"40 bytes: NOPs, TS, SACK of three blocks", 40, {1, 1, 8, 10, 0, 0, 0, 1, 0, 0, 0, 2, 1, 1, 5, 26}},
	{"one experimental option filling 40 bytes", 40, {254, 40}},
	{"Linux SYN options", 20, {2, 4, 5, 0xb4, 4, 2, 8, 10, 0, 0, 0, 1, 0, 0, 0, 0, 1, 3, 3, 7}},
};

static void
test_tcp_options(void **state)
{
	uint8_t buf[BUF];
	char what[128];
	size_t n;

	(void)state;
	for (int family = 4; family <= 6; family += 2) {
		for (size_t i = 0; i < sizeof(bad_opts) / sizeof(bad_opts[0]); i++) {
			n = build_tcp_opts(buf, sizeof(buf), family, bad_opts[i].bytes, bad_opts[i].len);
			snprintf(what, sizeof(what), "IPv%d: %s", family, bad_opts[i].name);
			expect_parse(buf, n, PACKET_ERR_TCP_HEADER, what);
		}
		for (size_t i = 0; i < sizeof(good_opts) / sizeof(good_opts[0]); i++) {
			struct packet_info info;

			n = build_tcp_opts(buf, sizeof(buf), family, good_opts[i].bytes, good_opts[i].len);
			snprintf(what, sizeof(what), "IPv%d: %s", family, good_opts[i].name);
			expect_parse(buf, n, 0, what);
			parse_ok(buf, n, &info);
			assert_int_equal(info.tcp_payload_len, 0);
		}
	}
}

/* ---- UDP length ---- */

static void
test_udp_length_field(void **state)
{
	static const int32_t bad[] = {0, 1, 7, 8 + 20 + 1, 0xffff};
	uint8_t buf[BUF];
	struct pktbuild_ip ip;
	char what[128];
	size_t n;

	(void)state;
	for (int family = 4; family <= 6; family += 2) {
		ip_default(&ip, family);
		ip.pad = 4; /* padding must not make a too-large length field acceptable */
		for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
			n = build_udp(buf, sizeof(buf), &ip, bad[i], 20);
			snprintf(what, sizeof(what), "IPv%d UDP length %d", family, (int)bad[i]);
			expect_parse(buf, n, PACKET_ERR_UDP_HEADER, what);
		}
		n = build_udp(buf, sizeof(buf), &ip, 8 + 20, 20);
		expect_parse(buf, n, 0, "UDP length == datagram");
		/* a length below the IP payload (trailing bytes inside the IP packet) is allowed */
		n = build_udp(buf, sizeof(buf), &ip, 8, 20);
		expect_parse(buf, n, 0, "UDP length 8 in a larger datagram");
	}
}

/* ---- fragments ---- */

static void
test_ipv4_fragments(void **state)
{
	static const uint8_t tail[3] = {1, 2, 3};
	uint8_t buf[BUF];
	struct packet_info info;
	struct pktbuild_ip ip;
	struct pktbuild_tcp tcp = {.sport = 1, .dport = 2, .flags = PACKET_TCP_ACK};
	size_t n;

	(void)state;
	ip_default(&ip, 4);

	/* first fragment of a bigger UDP datagram: the UDP length covers the whole datagram */
	ip.ipv4_frag = 0x2000; /* MF */
	n = build_udp(buf, sizeof(buf), &ip, 8 + 1000, 32);
	parse_ok(buf, n, &info);
	assert_true(info.fragment);
	assert_int_equal(info.proto, PACKET_PROTO_UDP);
	assert_int_equal(info.l4_off, 20);
	assert_int_equal(info.ip_len, 20 + 8 + 32);

	/* a later fragment: no UDP header at all, three bytes of data */
	ip.ipv4_frag = 185; /* offset 1480, last fragment */
	n = pktbuild_raw(buf, sizeof(buf), &ip, PACKET_PROTO_UDP, tail, sizeof(tail));
	parse_ok(buf, n, &info);
	assert_true(info.fragment);
	assert_int_equal(info.proto, PACKET_PROTO_UDP);
	assert_int_equal(info.sport, 0);
	assert_int_equal(info.dport, 0);
	ip.ipv4_frag = 0x2000 | 185; /* a middle fragment */
	n = pktbuild_raw(buf, sizeof(buf), &ip, PACKET_PROTO_UDP, tail, sizeof(tail));
	parse_ok(buf, n, &info);
	assert_true(info.fragment);

	/* TCP fragments are refused, first or not */
	ip.ipv4_frag = 0x2000;
	n = pktbuild_tcp(buf, sizeof(buf), &ip, &tcp);
	expect_parse(buf, n, PACKET_ERR_TCP_FRAGMENT, "TCP first fragment");
	ip.ipv4_frag = 0x2000 | 1;
	n = pktbuild_tcp(buf, sizeof(buf), &ip, &tcp);
	expect_parse(buf, n, PACKET_ERR_TCP_FRAGMENT, "TCP middle fragment");
	ip.ipv4_frag = 0x1fff;
	n = pktbuild_raw(buf, sizeof(buf), &ip, PACKET_PROTO_TCP, tail, sizeof(tail));
	expect_parse(buf, n, PACKET_ERR_TCP_FRAGMENT, "TCP last fragment");

	/* DF and the reserved bit do not make a fragment */
	ip.ipv4_frag = 0x4000;
	n = pktbuild_tcp(buf, sizeof(buf), &ip, &tcp);
	parse_ok(buf, n, &info);
	assert_false(info.fragment);
	ip.ipv4_frag = 0x8000;
	n = pktbuild_tcp(buf, sizeof(buf), &ip, &tcp);
	parse_ok(buf, n, &info);
	assert_false(info.fragment);
	assert_int_equal(info.sport, 1);
}

/* ---- IPv6 extension headers ---- */

static void
ext_push(struct pktbuild_ip *ip, uint8_t type, uint8_t len8)
{
	assert_true(ip->n_ext < PKTBUILD_MAX_EXT);
	ip->ext[ip->n_ext++] = (struct pktbuild_ext){.type = type, .len8 = len8};
}

static void
frag_push(struct pktbuild_ip *ip, uint16_t offset, bool more)
{
	assert_true(ip->n_ext < PKTBUILD_MAX_EXT);
	ip->ext[ip->n_ext++] =
		(struct pktbuild_ext){.type = PKTBUILD_EXT_FRAGMENT, .frag_offset = offset, .frag_more = more};
}

static void
test_ipv6_ext_chain(void **state)
{
	static const uint8_t tail[5] = {9, 9, 9, 9, 9};
	uint8_t buf[BUF];
	struct packet_info info;
	struct pktbuild_ip ip;
	struct pktbuild_tcp tcp = {.sport = 7, .dport = 8, .seq = 3, .ack = 4, .flags = PACKET_TCP_ACK};
	size_t n;

	(void)state;
	/* hop-by-hop + destination options (16 bytes) + first fragment + UDP */
	ip_default(&ip, 6);
	ext_push(&ip, PKTBUILD_EXT_HOP, 0);
	ext_push(&ip, PKTBUILD_EXT_DSTOPTS, 1);
	frag_push(&ip, 0, true);
	ip.pad = 6;
	n = build_udp(buf, sizeof(buf), &ip, 8 + 3000, 40);
	assert_int_equal(pktbuild_l4_off(&ip), 72);
	parse_ok(buf, n, &info);
	assert_int_equal(info.family, 6);
	assert_true(info.fragment);
	assert_int_equal(info.proto, PACKET_PROTO_UDP);
	assert_int_equal(info.l4_off, 72);
	assert_int_equal(info.frag_hdr_off, 64);
	assert_int_equal(info.ip_len, 72 + 8 + 40);

	/* two Fragment headers: refused */
	frag_push(&ip, 0, true);
	n = build_udp(buf, sizeof(buf), &ip, 8 + 3000, 40);
	expect_parse(buf, n, PACKET_ERR_EXT_HEADER, "two IPv6 Fragment headers");

	/* a later fragment after hop-by-hop: the transport header is elsewhere */
	ip_default(&ip, 6);
	ext_push(&ip, PKTBUILD_EXT_HOP, 0);
	frag_push(&ip, 100, false);
	n = pktbuild_raw(buf, sizeof(buf), &ip, PACKET_PROTO_UDP, tail, sizeof(tail));
	parse_ok(buf, n, &info);
	assert_true(info.fragment);
	assert_int_equal(info.proto, PACKET_PROTO_UDP);
	assert_int_equal(info.l4_off, 56);
	assert_int_equal(info.frag_hdr_off, 48);
	assert_int_equal(info.sport, 0);

	/* hop-by-hop + routing + destination options (big) + TCP, unfragmented */
	ip_default(&ip, 6);
	ext_push(&ip, PKTBUILD_EXT_HOP, 1);
	ext_push(&ip, PKTBUILD_EXT_ROUTING, 2);
	ext_push(&ip, PKTBUILD_EXT_DSTOPTS, 10);
	n = pktbuild_tcp(buf, sizeof(buf), &ip, &tcp);
	parse_ok(buf, n, &info);
	assert_false(info.fragment);
	assert_int_equal(info.proto, PACKET_PROTO_TCP);
	assert_int_equal(info.l4_off, 40 + 16 + 24 + 88);
	assert_int_equal(info.ip_len, n);
	assert_int_equal(info.sport, 7);
	assert_int_equal(info.dport, 8);
	assert_int_equal(info.tcp_seq, 3);
	assert_int_equal(info.tcp_ack, 4);

	/* TCP behind a fragment header is refused, first fragment or later */
	ip_default(&ip, 6);
	ext_push(&ip, PKTBUILD_EXT_HOP, 0);
	frag_push(&ip, 0, true);
	n = pktbuild_tcp(buf, sizeof(buf), &ip, &tcp);
	expect_parse(buf, n, PACKET_ERR_TCP_FRAGMENT, "IPv6 TCP first fragment");
	ip.ext[1].frag_offset = 1;
	ip.ext[1].frag_more = false;
	n = pktbuild_raw(buf, sizeof(buf), &ip, PACKET_PROTO_TCP, tail, sizeof(tail));
	expect_parse(buf, n, PACKET_ERR_TCP_FRAGMENT, "IPv6 TCP last fragment");
}

static void
test_ipv6_hop_by_hop_not_first(void **state)
{
	uint8_t buf[BUF];
	struct pktbuild_ip ip;
	struct pktbuild_tcp tcp = {.sport = 7, .dport = 8, .flags = PACKET_TCP_SYN};
	size_t n;

	(void)state;
	ip_default(&ip, 6);
	ext_push(&ip, PKTBUILD_EXT_DSTOPTS, 0);
	ext_push(&ip, PKTBUILD_EXT_HOP, 0);
	n = pktbuild_tcp(buf, sizeof(buf), &ip, &tcp);
	expect_parse(buf, n, PACKET_ERR_EXT_HEADER, "hop-by-hop second");

	ip_default(&ip, 6);
	ext_push(&ip, PKTBUILD_EXT_HOP, 0);
	ext_push(&ip, PKTBUILD_EXT_HOP, 0);
	n = pktbuild_tcp(buf, sizeof(buf), &ip, &tcp);
	expect_parse(buf, n, PACKET_ERR_EXT_HEADER, "two hop-by-hop headers");

	ip_default(&ip, 6);
	frag_push(&ip, 0, true);
	ext_push(&ip, PKTBUILD_EXT_HOP, 0);
	n = build_udp(buf, sizeof(buf), &ip, -1, 8);
	expect_parse(buf, n, PACKET_ERR_EXT_HEADER, "hop-by-hop after a fragment header");
}

static void
test_ipv6_ext_count(void **state)
{
	uint8_t buf[BUF];
	struct packet_info info;
	struct pktbuild_ip ip;
	struct pktbuild_tcp tcp = {.sport = 7, .dport = 8, .flags = PACKET_TCP_SYN};
	size_t n;

	(void)state;
	/* eight extension headers are accepted */
	ip_default(&ip, 6);
	ext_push(&ip, PKTBUILD_EXT_HOP, 0);
	for (int i = 0; i < 7; i++)
		ext_push(&ip, PKTBUILD_EXT_DSTOPTS, 0);
	n = pktbuild_tcp(buf, sizeof(buf), &ip, &tcp);
	parse_ok(buf, n, &info);
	assert_int_equal(info.l4_off, 40 + 8 * 8);
	assert_int_equal(info.sport, 7);

	/* a ninth is refused */
	ext_push(&ip, PKTBUILD_EXT_DSTOPTS, 0);
	n = pktbuild_tcp(buf, sizeof(buf), &ip, &tcp);
	expect_parse(buf, n, PACKET_ERR_EXT_HEADER, "nine extension headers");

	/* fragment headers count too */
	ip_default(&ip, 6);
	for (int i = 0; i < 7; i++)
		ext_push(&ip, PKTBUILD_EXT_ROUTING, 0);
	frag_push(&ip, 0, true);
	n = build_udp(buf, sizeof(buf), &ip, -1, 8);
	parse_ok(buf, n, &info);
	assert_true(info.fragment);
	ext_push(&ip, PKTBUILD_EXT_DSTOPTS, 0);
	n = build_udp(buf, sizeof(buf), &ip, -1, 8);
	expect_parse(buf, n, PACKET_ERR_EXT_HEADER, "nine with a fragment header");
}

static void
test_ipv6_ext_overrun(void **state)
{
	static const uint8_t ext_types[] = {PKTBUILD_EXT_HOP, PKTBUILD_EXT_ROUTING, PKTBUILD_EXT_FRAGMENT,
					    PKTBUILD_EXT_DSTOPTS};
	static const uint8_t four[4];
	uint8_t buf[BUF];
	struct pktbuild_ip ip;
	size_t n;

	(void)state;
	/* destination options claiming 24 bytes where the payload holds 8 + 8 */
	ip_default(&ip, 6);
	ext_push(&ip, PKTBUILD_EXT_DSTOPTS, 0);
	n = build_udp(buf, sizeof(buf), &ip, -1, 0);
	expect_parse(buf, n, 0, "valid");
	buf[41] = 2;
	expect_parse(buf, n, PACKET_ERR_EXT_HEADER, "extension header past the payload");
	/* ... even when bytes follow in the buffer beyond the payload length */
	expect_parse(buf, sizeof(buf), PACKET_ERR_EXT_HEADER, "extension header past the payload, padded");
	buf[41] = 255;
	expect_parse(buf, sizeof(buf), PACKET_ERR_EXT_HEADER, "2048-byte extension header");

	/* fewer than 8 bytes left for an extension header */
	ip_default(&ip, 6);
	for (size_t i = 0; i < sizeof(ext_types); i++) {
		n = pktbuild_raw(buf, sizeof(buf), &ip, ext_types[i], four, sizeof(four));
		expect_parse(buf, n, PACKET_ERR_EXT_HEADER, "4 bytes for an extension header");
	}
	/* a chain that ends exactly at the payload end with nothing for the transport */
	ip_default(&ip, 6);
	ext_push(&ip, PKTBUILD_EXT_DSTOPTS, 0);
	n = pktbuild_raw(buf, sizeof(buf), &ip, PACKET_PROTO_TCP, NULL, 0);
	expect_parse(buf, n, PACKET_ERR_TRUNCATED, "no room for TCP after the chain");
}

static void
test_ipv6_jumbogram(void **state)
{
	uint8_t buf[BUF];
	struct packet_info info;
	struct pktbuild_ip ip;
	size_t n;

	(void)state;
	/* payload length 0 and a hop-by-hop header: a jumbogram, whose real length we
	 * would have to take from the option; we refuse it */
	ip_default(&ip, 6);
	n = pktbuild_raw(buf, sizeof(buf), &ip, PACKET_PROTO_UDP, NULL, 0);
	assert_int_equal(n, 40);
	buf[6] = 0;
	memset(buf + 40, 0, 64);
	buf[40] = PACKET_PROTO_UDP;
	buf[42] = 0xc2; /* jumbo payload option */
	buf[43] = 4;
	expect_parse(buf, 40 + 64, PACKET_ERR_IP_HEADER, "jumbogram");
	expect_parse(buf, 40, PACKET_ERR_IP_HEADER, "jumbogram, header only");

	/* payload length 0 with no next header is an ordinary (empty) packet */
	buf[6] = 59;
	parse_ok(buf, 40, &info);
	assert_int_equal(info.ip_len, 40);
	assert_int_equal(info.proto, 59);
	/* payload length 0 with destination options has nothing to hold them */
	buf[6] = PKTBUILD_EXT_DSTOPTS;
	expect_parse(buf, 40 + 64, PACKET_ERR_EXT_HEADER, "empty payload, destination options");
	/* and with TCP nothing to hold the header */
	buf[6] = PACKET_PROTO_TCP;
	expect_parse(buf, 40 + 64, PACKET_ERR_TRUNCATED, "empty payload, TCP");
}

static void
test_oversized(void **state)
{
	const size_t big = 65535 + 40;
	uint8_t *buf = calloc(1, big + 1);
	struct packet_info info;
	struct pktbuild_ip ip;
	size_t n;

	(void)state;
	assert_non_null(buf);
	/* the largest IPv6 packet a 65535-byte MTU carries: ip_len is exact */
	ip_default(&ip, 6);
	n = pktbuild_raw(buf, big, &ip, PACKET_PROTO_UDP, NULL, 65535 - 40);
	assert_int_equal(n, 65535);
	pktbuild_wr16(buf + 44, 65535 - 40);
	parse_ok(buf, big, &info);
	assert_int_equal(info.ip_len, 65535);
	assert_int_equal(info.l4_off, 40);

	/* an IPv6 packet longer than 65535 bytes cannot be described by a 16-bit ip_len */
	pktbuild_wr16(buf + 4, 65535);
	pktbuild_wr16(buf + 44, 65535);
	expect_parse(buf, big, PACKET_ERR_IP_HEADER, "IPv6 packet of 65575 bytes");
	pktbuild_wr16(buf + 4, 65535 - 40 + 1);
	pktbuild_wr16(buf + 44, 65535 - 40 + 1);
	expect_parse(buf, big, PACKET_ERR_IP_HEADER, "IPv6 packet of 65536 bytes");

	/* no read can be longer than an IPv6 header plus the largest payload */
	pktbuild_wr16(buf + 4, 100);
	pktbuild_wr16(buf + 44, 100);
	expect_parse(buf, big, 0, "small packet in a big buffer");
	expect_parse(buf, big + 1, PACKET_ERR_IP_HEADER, "read longer than any packet");
	ip_default(&ip, 4);
	n = build_udp(buf, big + 1, &ip, -1, 10);
	expect_parse(buf, big + 1, PACKET_ERR_IP_HEADER, "IPv4, read longer than any packet");
	free(buf);
}

static void
test_error_str(void **state)
{
	static const int errs[] = {PACKET_ERR_TRUNCATED, PACKET_ERR_VERSION,    PACKET_ERR_IP_HEADER,
				   PACKET_ERR_EXT_HEADER, PACKET_ERR_TCP_HEADER, PACKET_ERR_UDP_HEADER,
				   PACKET_ERR_TCP_FRAGMENT};
	const size_t n = sizeof(errs) / sizeof(errs[0]);
	const char *unknown = packet_error_str(-100);

	(void)state;
	assert_string_equal(packet_error_str(0), "ok");
	assert_non_null(unknown);
	assert_string_equal(packet_error_str(1), unknown);
	assert_string_equal(packet_error_str(-8), unknown);
	for (size_t i = 0; i < n; i++) {
		const char *s = packet_error_str(errs[i]);

		assert_non_null(s);
		assert_true(strlen(s) > 0);
		assert_string_not_equal(s, unknown);
		assert_string_not_equal(s, "ok");
		for (size_t j = 0; j < i; j++)
			assert_string_not_equal(s, packet_error_str(errs[j]));
	}
}

/* ---- TCP RST ---- */

/* Parses rst back and checks everything that is not specific to the case. */
static void
check_rst(const uint8_t *rst, int n, const struct packet_info *seg, struct packet_info *back)
{
	size_t hl = seg->family == 4 ? 20 : 40;
	size_t al = alen(seg->family);

	assert_int_equal(n, (int)(hl + 20));
	parse_ok(rst, (size_t)n, back);
	assert_int_equal(back->family, seg->family);
	assert_int_equal(back->proto, PACKET_PROTO_TCP);
	assert_false(back->fragment);
	assert_int_equal(back->ip_len, n);
	assert_int_equal(back->l4_off, hl);
	assert_memory_equal(back->src, seg->dst, al);
	assert_memory_equal(back->dst, seg->src, al);
	assert_int_equal(back->sport, seg->dport);
	assert_int_equal(back->dport, seg->sport);
	assert_int_equal(back->tcp_payload_len, 0);
	assert_int_equal(rst[hl + 12] >> 4, 5);
	if (seg->family == 4) {
		assert_int_equal(rst[0], 0x45);
		assert_true(rst[8] > 0); /* TTL */
		assert_ipv4_header_sum_ok(rst);
	} else {
		assert_int_equal(rst[0] >> 4, 6);
		assert_int_equal(pktbuild_rd16(rst + 4), 20);
		assert_true(rst[7] > 0); /* hop limit */
	}
	assert_l4_sum_ok(rst, back);
	/* and the independent checksum agrees */
	assert_int_equal(pktbuild_csum(pktbuild_pseudo(seg->family, back->src, back->dst, 6, 20), rst + hl, 20), 0);
}

static void
test_rst_for_syn(void **state)
{
	static const uint8_t data[7] = "payload";
	uint8_t buf[BUF], rst[128];
	struct packet_info seg, back;
	struct pktbuild_ip ip;
	size_t n;
	int r;

	(void)state;
	for (int family = 4; family <= 6; family += 2) {
		n = build_syn(buf, sizeof(buf), family, 1000, 3);
		parse_ok(buf, n, &seg);
		memset(rst, 0xa5, sizeof(rst));
		r = packet_build_tcp_rst(&seg, rst, sizeof(rst));
		check_rst(rst, r, &seg, &back);
		assert_int_equal(back.tcp_flags, PACKET_TCP_RST | PACKET_TCP_ACK);
		assert_int_equal(back.tcp_ack, 1001);
		assert_int_equal(back.tcp_seq, 0);

		/* sequence space wraps */
		n = build_syn(buf, sizeof(buf), family, 0xffffffffu, 0);
		parse_ok(buf, n, &seg);
		check_rst(rst, packet_build_tcp_rst(&seg, rst, sizeof(rst)), &seg, &back);
		assert_int_equal(back.tcp_ack, 0);

		/* SYN with data (TFO) and FIN: each of SYN and FIN takes one sequence number */
		{
			struct pktbuild_tcp tcp = {.sport = 1234,
						   .dport = 80,
						   .seq = 5000,
						   .flags = PACKET_TCP_SYN | PACKET_TCP_FIN,
						   .payload = data,
						   .payload_len = sizeof(data)};

			ip_default(&ip, family);
			n = pktbuild_tcp(buf, sizeof(buf), &ip, &tcp);
			parse_ok(buf, n, &seg);
			check_rst(rst, packet_build_tcp_rst(&seg, rst, sizeof(rst)), &seg, &back);
			assert_int_equal(back.tcp_ack, 5000 + 1 + 7 + 1);
			assert_int_equal(back.tcp_flags, PACKET_TCP_RST | PACKET_TCP_ACK);
		}
	}
}

static void
test_rst_for_ack(void **state)
{
	static const uint8_t data[100];
	uint8_t buf[BUF], rst[128];
	struct packet_info seg, back;
	struct pktbuild_ip ip;
	struct pktbuild_tcp tcp = {.sport = 50123,
				   .dport = 22,
				   .seq = 777,
				   .ack = 0xdeadbeefu,
				   .flags = PACKET_TCP_ACK | PACKET_TCP_PSH,
				   .payload = data,
				   .payload_len = sizeof(data)};
	size_t n;

	(void)state;
	for (int family = 4; family <= 6; family += 2) {
		ip_default(&ip, family);
		if (family == 6)
			ext_push(&ip, PKTBUILD_EXT_HOP, 0); /* the RST carries no extension headers */
		n = pktbuild_tcp(buf, sizeof(buf), &ip, &tcp);
		parse_ok(buf, n, &seg);
		check_rst(rst, packet_build_tcp_rst(&seg, rst, sizeof(rst)), &seg, &back);
		/* RFC 9293 3.10.7.1: <SEQ=SEG.ACK><CTL=RST>, no ACK */
		assert_int_equal(back.tcp_flags, PACKET_TCP_RST);
		assert_int_equal(back.tcp_seq, 0xdeadbeefu);
		assert_int_equal(back.tcp_ack, 0);
	}
}

static void
test_rst_enospc(void **state)
{
	uint8_t buf[BUF];
	struct packet_info seg, back;

	(void)state;
	for (int family = 4; family <= 6; family += 2) {
		size_t need = family == 4 ? 40 : 60;
		uint8_t *out = malloc(need); /* exact size: ASan sees any overrun */
		size_t n = build_syn(buf, sizeof(buf), family, 1, 0);

		assert_non_null(out);
		parse_ok(buf, n, &seg);
		assert_int_equal(packet_build_tcp_rst(&seg, out, need - 1), -ENOSPC);
		assert_int_equal(packet_build_tcp_rst(&seg, out, 0), -ENOSPC);
		check_rst(out, packet_build_tcp_rst(&seg, out, need), &seg, &back);
		free(out);
	}
}

/* ---- ICMP / ICMPv6 unreachable ---- */

static void
check_unreachable(const uint8_t *orig, const struct packet_info *info, const uint8_t *out, int n, uint8_t code)
{
	size_t hl = info->family == 4 ? 20 : 40;
	size_t limit = info->family == 4 ? 576 : 1280;
	size_t quote = info->ip_len < limit - hl - 8 ? info->ip_len : limit - hl - 8;
	size_t al = alen(info->family);
	struct packet_info back;
	static const uint8_t zero[4];

	assert_int_equal(n, (int)(hl + 8 + quote));
	assert_true((size_t)n <= limit);
	parse_ok(out, (size_t)n, &back);
	assert_int_equal(back.family, info->family);
	assert_int_equal(back.proto, info->family == 4 ? PACKET_PROTO_ICMP : PACKET_PROTO_ICMPV6);
	assert_int_equal(back.ip_len, n);
	assert_int_equal(back.l4_off, hl);
	assert_memory_equal(back.src, info->dst, al);
	assert_memory_equal(back.dst, info->src, al);
	assert_int_equal(out[hl], info->family == 4 ? 3 : 1);
	assert_int_equal(out[hl + 1], code);
	assert_memory_equal(out + hl + 4, zero, 4); /* unused */
	assert_memory_equal(out + hl + 8, orig, quote);
	if (info->family == 4) {
		assert_ipv4_header_sum_ok(out);
		assert_int_equal(pktbuild_rd16(out + 2), n);
		/* ICMPv4: no pseudo-header */
		assert_int_equal(packet_fold(packet_sum(0, out + hl, (size_t)n - hl)), 0);
		assert_int_equal(pktbuild_csum(0, out + hl, (size_t)n - hl), 0);
	} else {
		assert_int_equal(pktbuild_rd16(out + 4), n - 40);
		assert_l4_sum_ok(out, &back);
		assert_int_equal(pktbuild_csum(pktbuild_pseudo(6, back.src, back.dst, 58, (size_t)n - hl), out + hl,
					       (size_t)n - hl),
				 0);
	}
}

static void
test_unreachable_codes(void **state)
{
	static const struct {
		enum packet_unreach why;
		uint8_t code4, code6;
	} cases[] = {
		{PACKET_UNREACH_NET, 0, 0},
		{PACKET_UNREACH_HOST, 1, 3},
		{PACKET_UNREACH_PORT, 3, 4},
		{PACKET_UNREACH_ADMIN, 13, 1},
	};
	uint8_t buf[BUF], out[BUF];
	struct packet_info info;
	struct pktbuild_ip ip;
	size_t n;

	(void)state;
	for (int family = 4; family <= 6; family += 2) {
		for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
			uint8_t code = family == 4 ? cases[i].code4 : cases[i].code6;
			int r;

			/* a SYN with padding after it: the padding is not quoted */
			n = build_syn(buf, sizeof(buf), family, 42, 9);
			parse_ok(buf, n, &info);
			r = packet_build_unreachable(buf, &info, cases[i].why, out, sizeof(out));
			check_unreachable(buf, &info, out, r, code);
			assert_int_equal(r, (family == 4 ? 28 : 48) + info.ip_len);

			/* odd-length original: the checksum handles the trailing byte */
			ip_default(&ip, family);
			n = build_udp(buf, sizeof(buf), &ip, -1, 13);
			parse_ok(buf, n, &info);
			assert_int_equal(info.ip_len % 2, 1);
			r = packet_build_unreachable(buf, &info, cases[i].why, out, sizeof(out));
			check_unreachable(buf, &info, out, r, code);
		}
	}
}

static void
test_unreachable_quote_cap(void **state)
{
	static const size_t v4_lens[] = {547, 548, 549, 1500, 65535};
	static const size_t v6_lens[] = {1231, 1232, 1233, 1500, 65535};
	uint8_t *buf = malloc(65535), out[2048];
	struct packet_info info;
	struct pktbuild_ip ip;

	(void)state;
	assert_non_null(buf);
	for (int family = 4; family <= 6; family += 2) {
		const size_t *lens = family == 4 ? v4_lens : v6_lens;
		size_t hl = family == 4 ? 20 : 40;

		for (size_t i = 0; i < 5; i++) {
			size_t n;
			int r;

			ip_default(&ip, family);
			n = pktbuild_raw(buf, 65535, &ip, 253, NULL, lens[i] - hl);
			for (size_t k = hl; k < n; k++)
				buf[k] = (uint8_t)(k * 7);
			assert_int_equal(n, lens[i]);
			parse_ok(buf, n, &info);
			r = packet_build_unreachable(buf, &info, PACKET_UNREACH_PORT, out, sizeof(out));
			check_unreachable(buf, &info, out, r, family == 4 ? 3 : 4);
			if (lens[i] + hl + 8 >= (family == 4 ? 576u : 1280u))
				assert_int_equal(r, family == 4 ? 576 : 1280);
		}
	}
	free(buf);
}

static void
test_unreachable_enospc(void **state)
{
	uint8_t buf[2000];
	struct packet_info info;
	struct pktbuild_ip ip;

	(void)state;
	for (int family = 4; family <= 6; family += 2) {
		for (size_t payload = 0; payload < 1500; payload += 1499) {
			size_t n, need;
			uint8_t *out;

			ip_default(&ip, family);
			n = pktbuild_raw(buf, sizeof(buf), &ip, 253, NULL, payload);
			parse_ok(buf, n, &info);
			need = (family == 4 ? 28 : 48) + n;
			if (need > (family == 4 ? 576u : 1280u))
				need = family == 4 ? 576 : 1280;
			out = malloc(need); /* exact size: ASan sees any overrun */
			assert_non_null(out);
			assert_int_equal(packet_build_unreachable(buf, &info, PACKET_UNREACH_HOST, out, need - 1), -ENOSPC);
			assert_int_equal(packet_build_unreachable(buf, &info, PACKET_UNREACH_HOST, out, 0), -ENOSPC);
			check_unreachable(buf, &info, out,
					  packet_build_unreachable(buf, &info, PACKET_UNREACH_HOST, out, need),
					  family == 4 ? 1 : 3);
			free(out);
		}
	}
}

/* A reply datagram built from separate header and payload parses back and checks out. */
static void
test_udp_header_builder(void **state)
{
	static const uint8_t src4[4] = {198, 19, 0, 10}, dst4[4] = {198, 18, 128, 1};
	static const uint8_t src6[16] = {0x20, 0x01, 0, 2, 0, 0, 0, 2, [15] = 0x10};
	static const uint8_t dst6[16] = {0x20, 0x01, 0, 2, 0, 0, 0, 0xff, [15] = 1};
	uint8_t pkt[2048], payload[1001];
	struct packet_info info;
	int hl;

	(void)state;
	for (size_t i = 0; i < sizeof(payload); i++)
		payload[i] = (uint8_t)(i * 7 + 3);
	for (int family = 4; family <= 6; family += 2) {
		hl = packet_build_udp_header(family, family == 4 ? src4 : src6, 53, family == 4 ? dst4 : dst6, 40000,
					     payload, sizeof(payload), pkt, sizeof(pkt));
		assert_int_equal(hl, family == 4 ? 28 : 48);
		memcpy(pkt + hl, payload, sizeof(payload));
		assert_int_equal(packet_parse(pkt, (size_t)hl + sizeof(payload), &info), 0);
		assert_int_equal(info.proto, PACKET_PROTO_UDP);
		assert_int_equal(info.sport, 53);
		assert_int_equal(info.dport, 40000);
		assert_int_equal(info.udp_payload_len, sizeof(payload));
		assert_memory_equal(info.src, family == 4 ? src4 : src6, alen(family));
		if (family == 4)
			assert_ipv4_header_sum_ok(pkt);
		assert_l4_sum_ok(pkt, &info);
	}
	assert_int_equal(packet_build_udp_header(4, src4, 1, dst4, 2, payload, 10, pkt, 27), -ENOSPC);
	assert_int_equal(packet_build_udp_header(4, src4, 1, dst4, 2, payload, 65535 - 28 + 1, pkt, sizeof(pkt)),
			 -EMSGSIZE);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_checksum_rfc1071),
		cmocka_unit_test(test_tcp_syn_options),
		cmocka_unit_test(test_tcp_data_segment),
		cmocka_unit_test(test_tcp_flags_mask),
		cmocka_unit_test(test_trim_payload),
		cmocka_unit_test(test_udp_valid),
		cmocka_unit_test(test_other_protocols_pass),
		cmocka_unit_test(test_truncated_every_prefix),
		cmocka_unit_test(test_truncated_transport),
		cmocka_unit_test(test_bad_version),
		cmocka_unit_test(test_ipv4_ihl),
		cmocka_unit_test(test_ipv4_header_checksum),
		cmocka_unit_test(test_tcp_data_offset),
		cmocka_unit_test(test_tcp_options),
		cmocka_unit_test(test_udp_length_field),
		cmocka_unit_test(test_ipv4_fragments),
		cmocka_unit_test(test_ipv6_ext_chain),
		cmocka_unit_test(test_ipv6_hop_by_hop_not_first),
		cmocka_unit_test(test_ipv6_ext_count),
		cmocka_unit_test(test_ipv6_ext_overrun),
		cmocka_unit_test(test_ipv6_jumbogram),
		cmocka_unit_test(test_oversized),
		cmocka_unit_test(test_error_str),
		cmocka_unit_test(test_rst_for_syn),
		cmocka_unit_test(test_rst_for_ack),
		cmocka_unit_test(test_rst_enospc),
		cmocka_unit_test(test_unreachable_codes),
		cmocka_unit_test(test_unreachable_quote_cap),
		cmocka_unit_test(test_unreachable_enospc),
		cmocka_unit_test(test_udp_header_builder),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
