/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for dns_msg.c: byte-exact A/AAAA answers to hand-written queries, EDNS,
 * case handling, compression pointers (legal ones, loops, forward and out-of-range
 * ones), label and name length limits, header counts, truncation at every length,
 * NODATA and error answers read back by the response parser, and builder bounds.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "dns_msg.h"

/* example.com A IN, ID 0x1234, RD; what `host -t A example.com` sends. */
static const uint8_t Q_A[] = {
	0x12, 0x34, 0x01, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	7, 'e', 'x', 'a', 'm', 'p', 'l', 'e', 3, 'c', 'o', 'm', 0,
	0x00, 0x01, 0x00, 0x01,
};

static const uint8_t ADDR4[4] = {10, 64, 0, 1};

static const uint8_t ANS_A[] = {
	0x12, 0x34, 0x81, 0x80, 0x00, 0x01, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00,
	7, 'e', 'x', 'a', 'm', 'p', 'l', 'e', 3, 'c', 'o', 'm', 0,
	0x00, 0x01, 0x00, 0x01,
	0xc0, 0x0c, 0x00, 0x01, 0x00, 0x01, 0x00, 0x00, 0x00, 0x3c, 0x00, 0x04, 10, 64, 0, 1,
};

/*
 * WWW.Example.COM AAAA IN, ID 0xbeef, RD and AD, with an OPT record as dig sends it:
 * UDP size 4096, DO set, one 8-byte COOKIE option.
 */
static const uint8_t Q_AAAA_EDNS[] = {
	0xbe, 0xef, 0x01, 0x20, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01,
	3, 'W', 'W', 'W', 7, 'E', 'x', 'a', 'm', 'p', 'l', 'e', 3, 'C', 'O', 'M', 0,
	0x00, 0x1c, 0x00, 0x01,
	0x00, 0x00, 0x29, 0x10, 0x00, 0x00, 0x00, 0x80, 0x00, 0x00, 0x0c,
	0x00, 0x0a, 0x00, 0x08, 1, 2, 3, 4, 5, 6, 7, 8,
};

static const uint8_t ADDR6[16] = {0xfd, 0x77, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x2a};

static const uint8_t ANS_AAAA_EDNS[] = {
	0xbe, 0xef, 0x81, 0x80, 0x00, 0x01, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01,
	3, 'W', 'W', 'W', 7, 'E', 'x', 'a', 'm', 'p', 'l', 'e', 3, 'C', 'O', 'M', 0,
	0x00, 0x1c, 0x00, 0x01,
	0xc0, 0x0c, 0x00, 0x1c, 0x00, 0x01, 0x00, 0x00, 0x01, 0x2c, 0x00, 0x10,
	0xfd, 0x77, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x2a,
	0x00, 0x00, 0x29, 0x04, 0xd0, 0x00, 0x00, 0x80, 0x00, 0x00, 0x00,
};

/* Writes a query header (ID 0x4242, RD, counts as given) to out; returns 12. */
static size_t
put_header(uint8_t *out, uint16_t flags, uint16_t qd, uint16_t an, uint16_t ns, uint16_t ar)
{
	uint16_t v[6] = {0x4242, flags, qd, an, ns, ar};

	for (int i = 0; i < 6; i++) {
		out[2 * i] = (uint8_t)(v[i] >> 8);
		out[2 * i + 1] = (uint8_t)v[i];
	}
	return DNS_MSG_HEADER_LEN;
}

/* Appends QTYPE and QCLASS. */
static size_t
put_type_class(uint8_t *out, uint16_t type, uint16_t class)
{
	out[0] = (uint8_t)(type >> 8);
	out[1] = (uint8_t)type;
	out[2] = (uint8_t)(class >> 8);
	out[3] = (uint8_t)class;
	return 4;
}

/* Appends labels of the given lengths (filled with 'a'..) and the root label. */
static size_t
put_labels(uint8_t *out, const size_t *lens, size_t n)
{
	size_t pos = 0;

	for (size_t i = 0; i < n; i++) {
		out[pos++] = (uint8_t)lens[i];
		for (size_t j = 0; j < lens[i]; j++)
			out[pos++] = (uint8_t)('a' + (i + j) % 26);
	}
	out[pos++] = 0;
	return pos;
}

static int
parse(const uint8_t *msg, size_t len)
{
	struct dns_query q;

	return dns_msg_parse_query(msg, len, &q);
}

/* ---- queries ---- */

static void
test_parse_a_query(void **state)
{
	struct dns_query q;

	(void)state;
	assert_int_equal(dns_msg_parse_query(Q_A, sizeof(Q_A), &q), 0);
	assert_int_equal(q.id, 0x1234);
	assert_int_equal(q.qtype, DNS_MSG_TYPE_A);
	assert_int_equal(q.qclass, DNS_MSG_CLASS_IN);
	assert_true(q.rd);
	assert_false(q.cd);
	assert_false(q.edns);
	assert_int_equal(q.udp_size, 512);
	assert_int_equal(q.question_off, 12);
	assert_int_equal(q.question_len, 17);
	assert_false(q.compressed);
	assert_string_equal(q.name, "example.com");
}

static void
test_answer_a_exact(void **state)
{
	struct dns_query q;
	struct dns_response r;
	uint8_t out[DNS_MSG_ANSWER_MAX];
	int n;

	(void)state;
	assert_int_equal(dns_msg_parse_query(Q_A, sizeof(Q_A), &q), 0);
	n = dns_msg_build_answer(&q, Q_A, ADDR4, 4, 60, out, sizeof(out));
	assert_int_equal(n, sizeof(ANS_A));
	assert_memory_equal(out, ANS_A, sizeof(ANS_A));

	assert_int_equal(dns_msg_parse_response(out, (size_t)n, &r), 0);
	assert_int_equal(r.id, 0x1234);
	assert_int_equal(r.rcode, DNS_MSG_RCODE_NOERROR);
	assert_true(r.ra);
	assert_true(r.rd);
	assert_string_equal(r.name, "example.com");
	assert_int_equal(r.addr_family, 4);
	assert_memory_equal(r.addr, ADDR4, 4);
	assert_int_equal(r.addr_ttl, 60);
}

static void
test_answer_aaaa_edns_exact(void **state)
{
	struct dns_query q;
	struct dns_response r;
	uint8_t out[DNS_MSG_ANSWER_MAX];
	int n;

	(void)state;
	assert_int_equal(dns_msg_parse_query(Q_AAAA_EDNS, sizeof(Q_AAAA_EDNS), &q), 0);
	assert_int_equal(q.id, 0xbeef);
	assert_int_equal(q.qtype, DNS_MSG_TYPE_AAAA);
	assert_string_equal(q.name, "www.example.com"); /* lowercased; the answer keeps the case */
	assert_true(q.edns);
	assert_true(q.edns_do);
	assert_int_equal(q.udp_size, 4096);
	assert_int_equal(q.question_len, 21);

	n = dns_msg_build_answer(&q, Q_AAAA_EDNS, ADDR6, 6, 300, out, sizeof(out));
	assert_int_equal(n, sizeof(ANS_AAAA_EDNS));
	assert_memory_equal(out, ANS_AAAA_EDNS, sizeof(ANS_AAAA_EDNS));

	assert_int_equal(dns_msg_parse_response(out, (size_t)n, &r), 0);
	assert_true(r.edns);
	assert_int_equal(r.udp_size, DNS_MSG_EDNS_UDP_SIZE);
	assert_int_equal(r.addr_family, 6);
	assert_memory_equal(r.addr, ADDR6, 16);
	assert_string_equal(r.name, "www.example.com");
}

static void
test_flags_copied(void **state)
{
	uint8_t msg[sizeof(Q_A)], out[DNS_MSG_ANSWER_MAX];
	struct dns_query q;
	struct dns_response r;

	(void)state;
	memcpy(msg, Q_A, sizeof(Q_A));
	msg[2] = 0x00; /* RD clear */
	msg[3] = 0x10; /* CD set */
	assert_int_equal(dns_msg_parse_query(msg, sizeof(msg), &q), 0);
	assert_false(q.rd);
	assert_true(q.cd);
	assert_true(dns_msg_build_answer(&q, msg, ADDR4, 4, 1, out, sizeof(out)) > 0);
	assert_int_equal(out[2], 0x80);
	assert_int_equal(out[3], 0x90); /* RA, CD */
	assert_int_equal(dns_msg_parse_response(out, sizeof(ANS_A), &r), 0);
	assert_false(r.rd);
	assert_true(r.cd);
}

static void
test_uppercase_lowercased(void **state)
{
	static const uint8_t msg[] = {
		0x00, 0x01, 0x01, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
		6, 'M', 'i', 'X', 'e', 'D', '-', 3, 'Z', '_', '9', 0, 0x00, 0x01, 0x00, 0x01,
	};
	struct dns_query q;

	(void)state;
	assert_int_equal(dns_msg_parse_query(msg, sizeof(msg), &q), 0);
	assert_string_equal(q.name, "mixed-.z_9");
}

static void
test_root_name(void **state)
{
	uint8_t msg[64], out[DNS_MSG_ANSWER_MAX];
	size_t len = put_header(msg, 0x0100, 1, 0, 0, 0);
	struct dns_query q;
	struct dns_response r;
	int n;

	(void)state;
	msg[len++] = 0;
	len += put_type_class(msg + len, 2 /* NS */, DNS_MSG_CLASS_IN);
	assert_int_equal(dns_msg_parse_query(msg, len, &q), 0);
	assert_string_equal(q.name, "");
	assert_int_equal(q.question_len, 5);
	n = dns_msg_build_error(&q, msg, DNS_MSG_RCODE_REFUSED, out, sizeof(out));
	assert_int_equal(n, 17);
	assert_int_equal(dns_msg_parse_response(out, (size_t)n, &r), 0);
	assert_int_equal(r.rcode, DNS_MSG_RCODE_REFUSED);
	assert_string_equal(r.name, "");
	assert_int_equal(r.qtype, 2);
}

/* Odd bytes: well-formed DNS, but not a name we can hand to a SOCKS5 proxy. */
static void
test_odd_name_bytes(void **state)
{
	static const uint8_t bad[] = {' ', '.', 0x00, 0x7f, 0x80, 0xff, 0x20, '\t'};
	uint8_t msg[64];

	(void)state;
	for (size_t i = 0; i < sizeof(bad); i++) {
		size_t len = put_header(msg, 0x0100, 1, 0, 0, 0);

		msg[len++] = 3;
		msg[len++] = 'a';
		msg[len++] = bad[i];
		msg[len++] = 'b';
		msg[len++] = 0;
		len += put_type_class(msg + len, DNS_MSG_TYPE_A, DNS_MSG_CLASS_IN);
		assert_int_equal(parse(msg, len), -ENOTSUP);
		msg[14] = '!'; /* the lowest byte allowed */
		assert_int_equal(parse(msg, len), 0);
		msg[14] = '~'; /* and the highest */
		assert_int_equal(parse(msg, len), 0);
	}
}

/* ---- compression ---- */

/* A question cannot point at an earlier name, but it may point into the header: here
 * the ID 0x0161 reads as the label "a" and the zero flags byte as the root. */
static void
test_pointer_into_header_is_legal(void **state)
{
	static const uint8_t msg[] = {
		0x01, 0x61, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
		3, 'W', 'w', 'w', 0xc0, 0x00, 0x00, 0x01, 0x00, 0x01,
	};
	static const uint8_t want[] = {
		0x01, 0x61, 0x80, 0x80, 0x00, 0x01, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00,
		3, 'W', 'w', 'w', 1, 'a', 0, 0x00, 0x01, 0x00, 0x01, /* written out in full */
		0xc0, 0x0c, 0x00, 0x01, 0x00, 0x01, 0x00, 0x00, 0x00, 0x05, 0x00, 0x04, 10, 64, 0, 1,
	};
	uint8_t out[DNS_MSG_ANSWER_MAX], copy[sizeof(msg)];
	struct dns_query q;
	struct dns_response r;
	int n;

	(void)state;
	assert_int_equal(dns_msg_parse_query(msg, sizeof(msg), &q), 0);
	assert_string_equal(q.name, "www.a");
	assert_true(q.compressed);
	assert_int_equal(q.question_len, 10);
	n = dns_msg_build_answer(&q, msg, ADDR4, 4, 5, out, sizeof(out));
	assert_int_equal(n, sizeof(want));
	assert_memory_equal(out, want, sizeof(want));
	assert_int_equal(dns_msg_parse_response(out, (size_t)n, &r), 0);
	assert_string_equal(r.name, "www.a");

	/* pointing at ANCOUNT's zero high byte: the root */
	memcpy(copy, msg, sizeof(msg));
	copy[17] = 0x06;
	assert_int_equal(dns_msg_parse_query(copy, sizeof(copy), &q), 0);
	assert_string_equal(q.name, "www");
	/* the answer no longer matches if the query bytes changed under q */
	copy[17] = 0x00;
	assert_int_equal(dns_msg_build_answer(&q, copy, ADDR4, 4, 5, out, sizeof(out)), -EINVAL);
}

static void
test_bad_pointers_rejected(void **state)
{
	static const struct {
		const char *what;
		uint8_t name[8];
		size_t len;
	} cases[] = {
		{"self", {0xc0, 0x0c}, 2},
		{"back to the name's own start", {3, 'w', 'w', 'w', 0xc0, 0x0c}, 6},
		{"into the name's own labels", {1, 'a', 1, 'b', 0xc0, 0x0e}, 6},
		{"forward", {0xc0, 0x0e, 0, 0}, 4},
		{"beyond the message", {0xc0, 0xff}, 2},
		{"largest offset", {0xff, 0xff}, 2},
		{"truncated pointer", {3, 'w', 'w', 'w', 0xc0}, 5},
		{"extended label type 0x40", {0x41, 'a'}, 2},
		{"reserved label type 0x80", {0x81, 'a'}, 2},
	};
	uint8_t msg[64];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		size_t len = put_header(msg, 0x0100, 1, 0, 0, 0);

		memcpy(msg + len, cases[i].name, cases[i].len);
		len += cases[i].len;
		len += put_type_class(msg + len, DNS_MSG_TYPE_A, DNS_MSG_CLASS_IN);
		if (parse(msg, len) != -EBADMSG)
			fail_msg("pointer case '%s' not rejected", cases[i].what);
	}
}

/*
 * Pointers may chain, each hop strictly lower. Inside the header only the ID and the low
 * flags byte are free (QR and the opcode must be 0), so no loop can be built there: an
 * ID pointing at itself is the closest thing.
 */
static void
test_pointer_chain_in_header(void **state)
{
	/* question -> offset 3 (c0 00: flags low byte and QDCOUNT's high byte) -> offset 0:
	 * the ID reads as the label "a", then the zero flags high byte ends the name */
	static const uint8_t chain[] = {
		0x01, 0x61, 0x00, 0xc0, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
		3, 'w', 'w', 'w', 0xc0, 0x03, 0x00, 0x01, 0x00, 0x01,
	};
	static const uint8_t self_id[] = {
		0xc0, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
		0xc0, 0x00, 0x00, 0x01, 0x00, 0x01,
	};
	uint8_t out[DNS_MSG_ANSWER_MAX];
	struct dns_query q;
	struct dns_response r;
	int n;

	(void)state;
	assert_int_equal(dns_msg_parse_query(chain, sizeof(chain), &q), 0);
	assert_string_equal(q.name, "www.a");
	n = dns_msg_build_error(&q, chain, DNS_MSG_RCODE_NXDOMAIN, out, sizeof(out));
	assert_int_equal(n, 12 + 11);
	assert_int_equal(dns_msg_parse_response(out, (size_t)n, &r), 0);
	assert_string_equal(r.name, "www.a");
	assert_int_equal(r.rcode, DNS_MSG_RCODE_NXDOMAIN);

	assert_int_equal(parse(self_id, sizeof(self_id)), -EBADMSG);
}

/* ---- lengths ---- */

static void
test_label_length_limit(void **state)
{
	uint8_t msg[128];
	size_t lens[2] = {63, 3}, len;
	struct dns_query q;

	(void)state;
	len = put_header(msg, 0x0100, 1, 0, 0, 0);
	len += put_labels(msg + len, lens, 2);
	len += put_type_class(msg + len, DNS_MSG_TYPE_A, DNS_MSG_CLASS_IN);
	assert_int_equal(dns_msg_parse_query(msg, len, &q), 0);
	assert_int_equal(strlen(q.name), 67);

	lens[0] = 64; /* the length byte 0x40 is the reserved extended label type */
	len = put_header(msg, 0x0100, 1, 0, 0, 0);
	len += put_labels(msg + len, lens, 2);
	len += put_type_class(msg + len, DNS_MSG_TYPE_A, DNS_MSG_CLASS_IN);
	assert_int_equal(parse(msg, len), -EBADMSG);
}

static void
test_name_length_limit(void **state)
{
	uint8_t msg[512], out[DNS_MSG_ANSWER_MAX];
	size_t lens[4] = {63, 63, 63, 61}, len; /* 3 * 64 + 62 + root = 255 bytes */
	struct dns_query q;
	struct dns_response r;
	int n;

	(void)state;
	len = put_header(msg, 0x0100, 1, 0, 0, 1);
	len += put_labels(msg + len, lens, 4);
	len += put_type_class(msg + len, DNS_MSG_TYPE_AAAA, DNS_MSG_CLASS_IN);
	memcpy(msg + len, (const uint8_t[]){0, 0, 41, 2, 0, 0, 0, 0, 0, 0, 0}, 11);
	len += 11;
	assert_int_equal(dns_msg_parse_query(msg, len, &q), 0);
	assert_int_equal(strlen(q.name), DNS_MSG_NAME_MAX);
	/* the largest possible answer fits DNS_MSG_ANSWER_MAX exactly */
	n = dns_msg_build_answer(&q, msg, ADDR6, 6, 1, out, sizeof(out));
	assert_int_equal(n, DNS_MSG_ANSWER_MAX);
	assert_int_equal(dns_msg_parse_response(out, (size_t)n, &r), 0);
	assert_string_equal(r.name, q.name);

	lens[3] = 62; /* 256 bytes */
	len = put_header(msg, 0x0100, 1, 0, 0, 0);
	len += put_labels(msg + len, lens, 4);
	len += put_type_class(msg + len, DNS_MSG_TYPE_A, DNS_MSG_CLASS_IN);
	assert_int_equal(parse(msg, len), -EBADMSG);

	/* many short labels: 127 one-byte labels = 255 bytes, 128 = 257 */
	{
		size_t many[128];

		for (size_t i = 0; i < 128; i++)
			many[i] = 1;
		len = put_header(msg, 0x0100, 1, 0, 0, 0);
		len += put_labels(msg + len, many, 127);
		len += put_type_class(msg + len, DNS_MSG_TYPE_A, DNS_MSG_CLASS_IN);
		assert_int_equal(dns_msg_parse_query(msg, len, &q), 0);
		assert_int_equal(strlen(q.name), 253);
		len = put_header(msg, 0x0100, 1, 0, 0, 0);
		len += put_labels(msg + len, many, 128);
		len += put_type_class(msg + len, DNS_MSG_TYPE_A, DNS_MSG_CLASS_IN);
		assert_int_equal(parse(msg, len), -EBADMSG);
	}
}

/* ---- header ---- */

static void
test_header_counts(void **state)
{
	uint8_t msg[64];
	size_t len;

	(void)state;
	memcpy(msg, Q_A, sizeof(Q_A));
	len = sizeof(Q_A);
	assert_int_equal(parse(msg, len), 0);

	msg[5] = 0; /* QDCOUNT 0 */
	assert_int_equal(parse(msg, len), -ENOTSUP);
	msg[5] = 2; /* QDCOUNT 2 */
	assert_int_equal(parse(msg, len), -ENOTSUP);
	msg[5] = 1;
	msg[7] = 1; /* ANCOUNT */
	assert_int_equal(parse(msg, len), -ENOTSUP);
	msg[7] = 0;
	msg[9] = 1; /* NSCOUNT (an IXFR query has one) */
	assert_int_equal(parse(msg, len), -ENOTSUP);
	msg[9] = 0;
	msg[11] = 2; /* ARCOUNT 2 */
	assert_int_equal(parse(msg, len), -ENOTSUP);
	msg[11] = 0;
	msg[2] = 0x01 | (2 << 3); /* opcode STATUS */
	assert_int_equal(parse(msg, len), -ENOTSUP);
	msg[2] = 0x81; /* QR: a response, never answered */
	assert_int_equal(parse(msg, len), -EBADMSG);
	msg[2] = 0x01;
	msg[len] = 0; /* a trailing byte */
	assert_int_equal(parse(msg, len + 1), -EBADMSG);
	/* ARCOUNT 1 but no record */
	msg[11] = 1;
	assert_int_equal(parse(msg, len), -EBADMSG);
	/* a trailing byte after an OPT record */
	memcpy(msg, Q_AAAA_EDNS, sizeof(Q_AAAA_EDNS));
	msg[sizeof(Q_AAAA_EDNS)] = 0;
	assert_int_equal(parse(msg, sizeof(Q_AAAA_EDNS)), 0);
	assert_int_equal(parse(msg, sizeof(Q_AAAA_EDNS) + 1), -EBADMSG);
}

static void
test_truncated_at_every_length(void **state)
{
	(void)state;
	for (size_t len = 0; len < sizeof(Q_AAAA_EDNS); len++) {
		uint8_t *copy = malloc(len ? len : 1); /* exact size: ASan sees any overread */

		assert_non_null(copy);
		memcpy(copy, Q_AAAA_EDNS, len);
		if (parse(copy, len) != -EBADMSG)
			fail_msg("query truncated to %zu bytes not rejected", len);
		free(copy);
	}
	for (size_t len = 0; len < sizeof(ANS_AAAA_EDNS); len++) {
		struct dns_response r;
		uint8_t *copy = malloc(len ? len : 1);

		assert_non_null(copy);
		memcpy(copy, ANS_AAAA_EDNS, len);
		if (dns_msg_parse_response(copy, len, &r) != -EBADMSG)
			fail_msg("response truncated to %zu bytes not rejected", len);
		free(copy);
	}
}

/* ---- EDNS ---- */

static void
test_edns_variants(void **state)
{
	uint8_t msg[sizeof(Q_AAAA_EDNS) + 8], out[DNS_MSG_ANSWER_MAX];
	const size_t opt = 33; /* offset of the OPT record */
	struct dns_query q;
	int n;

	(void)state;
	/* small UDP size reads as 512; DO clear is copied as clear */
	memcpy(msg, Q_AAAA_EDNS, sizeof(Q_AAAA_EDNS));
	msg[opt + 3] = 0x00;
	msg[opt + 4] = 100;
	msg[opt + 7] = 0x00;
	assert_int_equal(dns_msg_parse_query(msg, sizeof(Q_AAAA_EDNS), &q), 0);
	assert_int_equal(q.udp_size, 512);
	assert_false(q.edns_do);
	n = dns_msg_build_answer(&q, msg, NULL, 6, 1, out, sizeof(out));
	assert_int_equal(n, 33 + 11);
	assert_memory_equal(out + 33, ((const uint8_t[]){0, 0, 41, 4, 208, 0, 0, 0, 0, 0, 0}), 11);

	/* EDNS version 1: the real resolver answers BADVERS, not us */
	memcpy(msg, Q_AAAA_EDNS, sizeof(Q_AAAA_EDNS));
	msg[opt + 6] = 1;
	assert_int_equal(parse(msg, sizeof(Q_AAAA_EDNS)), -ENOTSUP);

	/* OPT owner must be the root */
	memcpy(msg, Q_AAAA_EDNS, opt);
	msg[opt] = 1;
	msg[opt + 1] = 'x';
	memcpy(msg + opt + 2, Q_AAAA_EDNS + opt, sizeof(Q_AAAA_EDNS) - opt);
	msg[opt + 2] = 0;
	assert_int_equal(parse(msg, sizeof(Q_AAAA_EDNS) + 2), -EBADMSG);

	/* an option that overruns RDATA, and RDATA that overruns the message */
	memcpy(msg, Q_AAAA_EDNS, sizeof(Q_AAAA_EDNS));
	msg[opt + 14] = 9;
	assert_int_equal(parse(msg, sizeof(Q_AAAA_EDNS)), -EBADMSG);
	memcpy(msg, Q_AAAA_EDNS, sizeof(Q_AAAA_EDNS));
	msg[opt + 10] = 13;
	assert_int_equal(parse(msg, sizeof(Q_AAAA_EDNS)), -EBADMSG);
	/* a dangling half option header */
	memcpy(msg, Q_AAAA_EDNS, sizeof(Q_AAAA_EDNS));
	msg[opt + 10] = 14;
	msg[sizeof(Q_AAAA_EDNS)] = 0;
	msg[sizeof(Q_AAAA_EDNS) + 1] = 0;
	assert_int_equal(parse(msg, sizeof(Q_AAAA_EDNS) + 2), -EBADMSG);

	/* a TSIG-like additional record instead of OPT: relay, not answer */
	memcpy(msg, Q_AAAA_EDNS, sizeof(Q_AAAA_EDNS));
	msg[opt + 2] = 250;
	assert_int_equal(parse(msg, sizeof(Q_AAAA_EDNS)), -ENOTSUP);
	/* ... unless the message is malformed, which comes first */
	msg[sizeof(Q_AAAA_EDNS)] = 0;
	assert_int_equal(parse(msg, sizeof(Q_AAAA_EDNS) + 1), -EBADMSG);
}

/* ---- answers without records ---- */

static void
test_nodata(void **state)
{
	uint8_t out[DNS_MSG_ANSWER_MAX];
	struct dns_query q;
	struct dns_response r;
	int n;

	(void)state;
	assert_int_equal(dns_msg_parse_query(Q_AAAA_EDNS, sizeof(Q_AAAA_EDNS), &q), 0);
	n = dns_msg_build_answer(&q, Q_AAAA_EDNS, NULL, 0, 0, out, sizeof(out));
	assert_int_equal(n, 33 + 11);
	assert_memory_equal(out, ((const uint8_t[]){0xbe, 0xef, 0x81, 0x80, 0, 1, 0, 0, 0, 0, 0, 1}), 12);
	assert_memory_equal(out + 12, Q_AAAA_EDNS + 12, 21);
	assert_int_equal(dns_msg_parse_response(out, (size_t)n, &r), 0);
	assert_int_equal(r.id, 0xbeef);
	assert_int_equal(r.rcode, DNS_MSG_RCODE_NOERROR);
	assert_int_equal(r.qdcount, 1);
	assert_int_equal(r.ancount, 0);
	assert_int_equal(r.qtype, DNS_MSG_TYPE_AAAA);
	assert_int_equal(r.addr_family, 0);
	assert_true(r.edns);

	/* NODATA works for any type, e.g. HTTPS */
	{
		uint8_t msg[sizeof(Q_A)];

		memcpy(msg, Q_A, sizeof(Q_A));
		msg[26] = DNS_MSG_TYPE_HTTPS;
		assert_int_equal(dns_msg_parse_query(msg, sizeof(msg), &q), 0);
		n = dns_msg_build_answer(&q, msg, NULL, 0, 0, out, sizeof(out));
		assert_int_equal(n, sizeof(Q_A));
		assert_int_equal(dns_msg_parse_response(out, (size_t)n, &r), 0);
		assert_int_equal(r.qtype, DNS_MSG_TYPE_HTTPS);
	}
}

static void
test_error_answers(void **state)
{
	static const int rcodes[] = {DNS_MSG_RCODE_FORMERR, DNS_MSG_RCODE_SERVFAIL, DNS_MSG_RCODE_NXDOMAIN,
				     DNS_MSG_RCODE_NOTIMP, DNS_MSG_RCODE_REFUSED};
	uint8_t out[DNS_MSG_ANSWER_MAX];
	struct dns_query q;
	struct dns_response r;
	int n;

	(void)state;
	assert_int_equal(dns_msg_parse_query(Q_A, sizeof(Q_A), &q), 0);
	for (size_t i = 0; i < sizeof(rcodes) / sizeof(rcodes[0]); i++) {
		n = dns_msg_build_error(&q, Q_A, rcodes[i], out, sizeof(out));
		assert_int_equal(n, sizeof(Q_A));
		assert_int_equal(out[2], 0x81);
		assert_int_equal(out[3], 0x80 | rcodes[i]);
		assert_memory_equal(out + 4, ((const uint8_t[]){0, 1, 0, 0, 0, 0, 0, 0}), 8);
		assert_int_equal(dns_msg_parse_response(out, (size_t)n, &r), 0);
		assert_int_equal(r.id, 0x1234);
		assert_int_equal(r.rcode, rcodes[i]);
		assert_string_equal(r.name, "example.com");
		assert_int_equal(r.qtype, DNS_MSG_TYPE_A);
		assert_int_equal(r.ancount, 0);
	}
	assert_int_equal(dns_msg_parse_query(Q_AAAA_EDNS, sizeof(Q_AAAA_EDNS), &q), 0);
	n = dns_msg_build_error(&q, Q_AAAA_EDNS, DNS_MSG_RCODE_SERVFAIL, out, sizeof(out));
	assert_int_equal(n, 33 + 11);
	assert_int_equal(dns_msg_parse_response(out, (size_t)n, &r), 0);
	assert_int_equal(r.rcode, DNS_MSG_RCODE_SERVFAIL);
	assert_true(r.edns);

	assert_int_equal(dns_msg_build_error(&q, Q_AAAA_EDNS, 0, out, sizeof(out)), -EINVAL);
	assert_int_equal(dns_msg_build_error(&q, Q_AAAA_EDNS, 16, out, sizeof(out)), -EINVAL);
}

static void
test_error_header_only(void **state)
{
	static const uint8_t want[] = {0x42, 0x42, 0x91, 0x84, 0, 0, 0, 0, 0, 0, 0, 0};
	uint8_t msg[64], out[DNS_MSG_ANSWER_MAX];
	struct dns_response r;
	size_t len;

	(void)state;
	/* opcode STATUS with two questions: NOTIMP, opcode and RD copied */
	len = put_header(msg, 0x1100, 2, 0, 0, 0);
	assert_int_equal(parse(msg, len), -ENOTSUP);
	assert_int_equal(dns_msg_build_error_header(msg, len, DNS_MSG_RCODE_NOTIMP, out, sizeof(out)), 12);
	assert_memory_equal(out, want, sizeof(want));
	assert_int_equal(dns_msg_parse_response(out, 12, &r), 0);
	assert_int_equal(r.id, 0x4242);
	assert_int_equal(r.rcode, DNS_MSG_RCODE_NOTIMP);
	assert_int_equal(r.qdcount, 0);
	assert_string_equal(r.name, "");

	assert_int_equal(dns_msg_build_error_header(msg, 11, DNS_MSG_RCODE_FORMERR, out, sizeof(out)), -EBADMSG);
	assert_int_equal(dns_msg_build_error_header(msg, len, DNS_MSG_RCODE_FORMERR, out, 11), -ENOSPC);
	assert_int_equal(dns_msg_build_error_header(msg, len, 0, out, sizeof(out)), -EINVAL);
	assert_int_equal(dns_msg_build_error_header(ANS_A, sizeof(ANS_A), DNS_MSG_RCODE_FORMERR, out, sizeof(out)),
			 -EBADMSG);
}

/* ---- builder contracts ---- */

static void
test_builder_checks(void **state)
{
	uint8_t out[DNS_MSG_ANSWER_MAX], chclass[sizeof(Q_A)];
	struct dns_query q;

	(void)state;
	assert_int_equal(dns_msg_parse_query(Q_A, sizeof(Q_A), &q), 0);
	assert_int_equal(dns_msg_build_answer(&q, Q_A, ADDR6, 6, 1, out, sizeof(out)), -EINVAL);
	assert_int_equal(dns_msg_build_answer(&q, Q_A, ADDR4, 2 /* AF_INET is not a family here */, 1, out,
					      sizeof(out)),
			 -EINVAL);
	/* every capacity short of the answer fails cleanly, the exact one succeeds */
	for (size_t cap = 0; cap < sizeof(ANS_A); cap++)
		assert_int_equal(dns_msg_build_answer(&q, Q_A, ADDR4, 4, 60, out, cap), -ENOSPC);
	assert_int_equal(dns_msg_build_answer(&q, Q_A, ADDR4, 4, 60, out, sizeof(ANS_A)), sizeof(ANS_A));
	assert_int_equal(dns_msg_build_error(&q, Q_A, DNS_MSG_RCODE_SERVFAIL, out, sizeof(Q_A) - 1), -ENOSPC);

	/* an A record only for class IN */
	memcpy(chclass, Q_A, sizeof(Q_A));
	chclass[28] = 3; /* CH */
	assert_int_equal(dns_msg_parse_query(chclass, sizeof(chclass), &q), 0);
	assert_int_equal(q.qclass, 3);
	assert_int_equal(dns_msg_build_answer(&q, chclass, ADDR4, 4, 1, out, sizeof(out)), -EINVAL);
	assert_int_equal(dns_msg_build_answer(&q, chclass, NULL, 0, 1, out, sizeof(out)), (int)sizeof(Q_A));

	/* TTLs are capped at 2^31 - 1 */
	assert_int_equal(dns_msg_parse_query(Q_A, sizeof(Q_A), &q), 0);
	assert_int_equal(dns_msg_build_answer(&q, Q_A, ADDR4, 4, 0xffffffffu, out, sizeof(out)), sizeof(ANS_A));
	assert_memory_equal(out + 35, ((const uint8_t[]){0x7f, 0xff, 0xff, 0xff}), 4);
}

/* ---- responses ---- */

/* A response as a resolver sends it: CNAME then A, both compressed against earlier names. */
static void
test_parse_response_with_compression(void **state)
{
	static const uint8_t msg[] = {
		0x77, 0x77, 0x81, 0x80, 0x00, 0x01, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00,
		3, 'w', 'w', 'w', 7, 'e', 'x', 'a', 'm', 'p', 'l', 'e', 3, 'c', 'o', 'm', 0, 0x00, 0x01, 0x00, 0x01,
		/* www.example.com CNAME cdn.example.com */
		0xc0, 0x0c, 0x00, 0x05, 0x00, 0x01, 0x00, 0x00, 0x00, 0x10, 0x00, 0x06, 3, 'c', 'd', 'n', 0xc0, 0x10,
		/* cdn.example.com A 192.0.2.7 */
		0xc0, 0x2d, 0x00, 0x01, 0x00, 0x01, 0x00, 0x00, 0x00, 0x20, 0x00, 0x04, 192, 0, 2, 7,
	};
	uint8_t copy[sizeof(msg)];
	struct dns_response r;

	(void)state;
	assert_int_equal(dns_msg_parse_response(msg, sizeof(msg), &r), 0);
	assert_int_equal(r.id, 0x7777);
	assert_int_equal(r.ancount, 2);
	assert_string_equal(r.name, "www.example.com");
	assert_int_equal(r.addr_family, 4);
	assert_memory_equal(r.addr, ((const uint8_t[]){192, 0, 2, 7}), 4);
	assert_int_equal(r.addr_ttl, 32);

	/* the CNAME target pointing at itself */
	memcpy(copy, msg, sizeof(msg));
	copy[50] = 0x2d;
	copy[49] = 0xc0;
	assert_int_equal(dns_msg_parse_response(copy, sizeof(copy), &r), -EBADMSG);
	/* an A record with 3 bytes of RDATA (and one byte left over) */
	memcpy(copy, msg, sizeof(msg));
	copy[62] = 3;
	assert_int_equal(dns_msg_parse_response(copy, sizeof(copy), &r), -EBADMSG);
	/* a query is not a response */
	memcpy(copy, msg, sizeof(msg));
	copy[2] = 0x01;
	assert_int_equal(dns_msg_parse_response(copy, sizeof(copy), &r), -EBADMSG);
	/* one record fewer than announced */
	memcpy(copy, msg, sizeof(msg));
	copy[7] = 3;
	assert_int_equal(dns_msg_parse_response(copy, sizeof(copy), &r), -EBADMSG);
	/* two questions */
	memcpy(copy, msg, sizeof(msg));
	copy[5] = 2;
	assert_int_equal(dns_msg_parse_response(copy, sizeof(copy), &r), -EBADMSG);
}

/*
 * A pointer into label data of its own name: from offset 13 the bytes c0 05 read as a
 * pointer to QDCOUNT's low byte (0: the root), so the name would end. Legal compression
 * never does this (it points at an earlier name), and the rule "below the start of the
 * run" refuses it.
 */
static void
test_pointer_into_own_label_data(void **state)
{
	static const uint8_t msg[] = {
		0x00, 0x07, 0x80, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00,
		3, 0xc0, 0x05, 'z', 0xc0, 0x0d, 0x00, 0x01, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x00, 0x04, 1, 2, 3, 4,
	};
	uint8_t copy[sizeof(msg)];
	struct dns_response r;

	(void)state;
	assert_int_equal(dns_msg_parse_response(msg, sizeof(msg), &r), -EBADMSG);
	/* the same record with its owner pointing at the header's root instead is fine */
	memcpy(copy, msg, sizeof(msg));
	copy[17] = 0x05;
	assert_int_equal(dns_msg_parse_response(copy, sizeof(copy), &r), 0);
	assert_int_equal(r.addr_family, 4);
	assert_int_equal(r.qdcount, 0);
}

/* dns_msg_build_query: what our own parser (and any resolver) reads back. */
static void
test_build_query(void **state)
{
	uint8_t out[DNS_MSG_HEADER_LEN + 255 + 4 + 11];
	char name[300];
	struct dns_query q;
	int n;

	(void)state;
	n = dns_msg_build_query(0xbeef, "Proxy.Example.", DNS_MSG_TYPE_AAAA, out, sizeof(out));
	assert_int_equal(n, DNS_MSG_HEADER_LEN + 15 + 4 + 11);
	assert_int_equal(dns_msg_parse_query(out, (size_t)n, &q), 0);
	assert_int_equal(q.id, 0xbeef);
	assert_int_equal(q.qtype, DNS_MSG_TYPE_AAAA);
	assert_int_equal(q.qclass, DNS_MSG_CLASS_IN);
	assert_true(q.rd);
	assert_true(q.edns);
	assert_false(q.edns_do);
	assert_string_equal(q.name, "proxy.example");
	/* Names DNS cannot carry, or that a SOCKS5 domain could not. */
	assert_int_equal(dns_msg_build_query(1, "", DNS_MSG_TYPE_A, out, sizeof(out)), -EINVAL);
	assert_int_equal(dns_msg_build_query(1, ".", DNS_MSG_TYPE_A, out, sizeof(out)), -EINVAL);
	assert_int_equal(dns_msg_build_query(1, "a..b", DNS_MSG_TYPE_A, out, sizeof(out)), -EINVAL);
	assert_int_equal(dns_msg_build_query(1, ".a", DNS_MSG_TYPE_A, out, sizeof(out)), -EINVAL);
	assert_int_equal(dns_msg_build_query(1, "a b", DNS_MSG_TYPE_A, out, sizeof(out)), -EINVAL);
	memset(name, 'a', 64);
	name[64] = '\0';
	assert_int_equal(dns_msg_build_query(1, name, DNS_MSG_TYPE_A, out, sizeof(out)), -EINVAL); /* label > 63 */
	name[63] = '\0';
	assert_true(dns_msg_build_query(1, name, DNS_MSG_TYPE_A, out, sizeof(out)) > 0);
	/* 253 bytes is the longest name; 254 is too long. */
	for (int i = 0; i < 253; i++)
		name[i] = i % 2 == 0 ? 'x' : '.';
	name[253] = '\0';
	n = dns_msg_build_query(2, name, DNS_MSG_TYPE_A, out, sizeof(out));
	assert_true(n > 0);
	assert_int_equal(dns_msg_parse_query(out, (size_t)n, &q), 0);
	assert_int_equal(strlen(q.name), 253);
	name[253] = 'x';
	name[254] = '\0';
	assert_int_equal(dns_msg_build_query(2, name, DNS_MSG_TYPE_A, out, sizeof(out)), -EINVAL);
	assert_int_equal(dns_msg_build_query(2, "a.example", DNS_MSG_TYPE_A, out, 20), -ENOSPC);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_a_query),
		cmocka_unit_test(test_answer_a_exact),
		cmocka_unit_test(test_answer_aaaa_edns_exact),
		cmocka_unit_test(test_flags_copied),
		cmocka_unit_test(test_uppercase_lowercased),
		cmocka_unit_test(test_root_name),
		cmocka_unit_test(test_odd_name_bytes),
		cmocka_unit_test(test_pointer_into_header_is_legal),
		cmocka_unit_test(test_bad_pointers_rejected),
		cmocka_unit_test(test_pointer_chain_in_header),
		cmocka_unit_test(test_label_length_limit),
		cmocka_unit_test(test_name_length_limit),
		cmocka_unit_test(test_header_counts),
		cmocka_unit_test(test_truncated_at_every_length),
		cmocka_unit_test(test_edns_variants),
		cmocka_unit_test(test_nodata),
		cmocka_unit_test(test_error_answers),
		cmocka_unit_test(test_error_header_only),
		cmocka_unit_test(test_builder_checks),
		cmocka_unit_test(test_parse_response_with_compression),
		cmocka_unit_test(test_pointer_into_own_label_data),
		cmocka_unit_test(test_build_query),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
