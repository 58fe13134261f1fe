/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for the pure SOCKS5 codec: byte-exact encoder vectors, decoders fed byte
 * by byte, split at every offset and coalesced with following bytes, malformed input,
 * and the REP code tables.
 */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "socks5_proto.h"

static const uint8_t trailer[] = { 0x05, 0x00, 0xaa, 0x55, 0x00, 0xff };

/* Copies into a buffer of exactly n bytes so that ASan reports any read past the end. */
static uint8_t *
exact_copy(const uint8_t *src, size_t n)
{
	uint8_t *p = malloc(n ? n : 1);

	assert_non_null(p);
	if (n)
		memcpy(p, src, n);
	return p;
}

static int
dec_method(const uint8_t *b, size_t n)
{
	uint8_t m = 0x77;

	return socks5_proto_decode_method(b, n, &m);
}

static int
dec_userpass(const uint8_t *b, size_t n)
{
	uint8_t s = 0x77;

	return socks5_proto_decode_userpass_reply(b, n, &s);
}

static int
dec_reply(const uint8_t *b, size_t n)
{
	struct t2s_endpoint ep;
	uint8_t rep = 0x77;

	return socks5_proto_decode_reply(b, n, &rep, &ep);
}

static int
dec_reply_null(const uint8_t *b, size_t n)
{
	uint8_t rep;

	return socks5_proto_decode_reply(b, n, &rep, NULL);
}

/*
 * A well-formed message of len bytes: every proper prefix is NEED_MORE, the whole
 * message is len, two reads split at every offset give len once the second arrives,
 * and trailing bytes (the next message) are never counted.
 */
static void
check_stream(int (*decode)(const uint8_t *, size_t), const uint8_t *msg, size_t len)
{
	uint8_t acc[2 * SOCKS5_MAX_REPLY + sizeof(trailer)];
	size_t i, k, n;
	uint8_t *p;

	assert_true(len <= SOCKS5_MAX_REPLY);
	for (i = 0; i < len; i++) {
		p = exact_copy(msg, i);
		assert_int_equal(decode(p, i), SOCKS5_NEED_MORE);
		free(p);
	}
	p = exact_copy(msg, len);
	assert_int_equal(decode(p, len), (int)len);
	free(p);

	for (k = 0; k <= len; k++) {
		memcpy(acc, msg, k);
		n = k;
		if (k < len)
			assert_int_equal(decode(acc, n), SOCKS5_NEED_MORE);
		memcpy(acc + n, msg + k, len - k);
		n = len;
		memcpy(acc + n, trailer, sizeof(trailer));
		n += sizeof(trailer);
		assert_int_equal(decode(acc, n), (int)len);
	}

	memcpy(acc, msg, len);
	memcpy(acc + len, msg, len);
	assert_int_equal(decode(acc, 2 * len), (int)len);
}

/*
 * A malformed message: prefixes shorter than bad_at bytes cannot be told from a good
 * message yet (NEED_MORE); from bad_at bytes on, and with any trailing bytes, -EPROTO.
 */
static void
check_malformed(int (*decode)(const uint8_t *, size_t), const uint8_t *msg, size_t len, size_t bad_at)
{
	uint8_t acc[SOCKS5_MAX_REPLY + sizeof(trailer)];
	size_t i;
	uint8_t *p;

	assert_true(bad_at >= 1 && bad_at <= len && len <= SOCKS5_MAX_REPLY);
	for (i = 0; i <= len; i++) {
		p = exact_copy(msg, i);
		if (i < bad_at)
			assert_int_equal(decode(p, i), SOCKS5_NEED_MORE);
		else
			assert_int_equal(decode(p, i), -EPROTO);
		free(p);
	}
	memcpy(acc, msg, len);
	memcpy(acc + len, trailer, sizeof(trailer));
	assert_int_equal(decode(acc, len + sizeof(trailer)), -EPROTO);
}

static void
make_domain(struct t2s_endpoint *ep, size_t len, uint16_t port)
{
	char name[T2S_ENDPOINT_DOMAIN_MAX + 1];
	size_t i;

	for (i = 0; i < len; i++)
		name[i] = (char)('a' + i % 26);
	assert_int_equal(endpoint_set_domain(ep, name, len, port), 0);
}

static void
ep_v4(struct t2s_endpoint *ep, uint8_t a, uint8_t b, uint8_t c, uint8_t d, uint16_t port)
{
	memset(ep, 0, sizeof(*ep));
	ep->type = T2S_ENDPOINT_IPV4;
	ep->u.ipv4[0] = a;
	ep->u.ipv4[1] = b;
	ep->u.ipv4[2] = c;
	ep->u.ipv4[3] = d;
	ep->port = port;
}

/* 2001:db8::1 */
static void
ep_v6(struct t2s_endpoint *ep, uint16_t port)
{
	static const uint8_t a[16] = { 0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01 };

	memset(ep, 0, sizeof(*ep));
	ep->type = T2S_ENDPOINT_IPV6;
	memcpy(ep->u.ipv6, a, 16);
	ep->port = port;
}

/* Encodes with exactly enough room, then checks -ENOSPC for every smaller capacity. */
static void
check_encode(int (*encode)(uint8_t *, size_t, const void *), const void *arg, const uint8_t *want,
	     size_t want_len)
{
	uint8_t *p;
	size_t cap;

	p = malloc(want_len);
	assert_non_null(p);
	assert_int_equal(encode(p, want_len, arg), (int)want_len);
	assert_memory_equal(p, want, want_len);
	free(p);
	for (cap = 0; cap < want_len; cap++) {
		p = malloc(cap ? cap : 1);
		assert_non_null(p);
		assert_int_equal(encode(p, cap, arg), -ENOSPC);
		free(p);
	}
}

/* ---- greeting and method selection ---- */

static int
enc_greeting(uint8_t *b, size_t cap, const void *arg)
{
	return socks5_proto_encode_greeting(b, cap, *(const int *)arg);
}

static void
test_greeting_no_auth(void **state)
{
	static const uint8_t want[] = { 0x05, 0x01, 0x00 };
	int offer = 0;

	(void)state;
	check_encode(enc_greeting, &offer, want, sizeof(want));
}

static void
test_greeting_userpass(void **state)
{
	static const uint8_t want[] = { 0x05, 0x02, 0x00, 0x02 };
	int offer = 1;

	(void)state;
	check_encode(enc_greeting, &offer, want, sizeof(want));
	offer = 42;
	check_encode(enc_greeting, &offer, want, sizeof(want));
}

static void
test_method_decode(void **state)
{
	static const uint8_t none[] = { 0x05, 0x00 };
	static const uint8_t userpass[] = { 0x05, 0x02 };
	static const uint8_t unacceptable[] = { 0x05, 0xff };
	uint8_t m;

	(void)state;
	m = 0x77;
	assert_int_equal(socks5_proto_decode_method(none, 2, &m), 2);
	assert_int_equal(m, SOCKS5_METHOD_NONE);
	assert_int_equal(socks5_proto_decode_method(userpass, 2, &m), 2);
	assert_int_equal(m, SOCKS5_METHOD_USERPASS);
	assert_int_equal(socks5_proto_decode_method(unacceptable, 2, &m), 2);
	assert_int_equal(m, SOCKS5_METHOD_UNACCEPTABLE);

	check_stream(dec_method, none, sizeof(none));
	check_stream(dec_method, unacceptable, sizeof(unacceptable));
}

static void
test_method_bad_version(void **state)
{
	static const uint8_t v4[] = { 0x04, 0x00 };
	static const uint8_t v0[] = { 0x00, 0x00 };
	static const uint8_t v1[] = { 0x01, 0x00 };

	(void)state;
	check_malformed(dec_method, v4, sizeof(v4), 1);
	check_malformed(dec_method, v0, sizeof(v0), 1);
	check_malformed(dec_method, v1, sizeof(v1), 1);
}

/* ---- RFC 1929 ---- */

static void
test_userpass_encode(void **state)
{
	static const uint8_t want[] = { 0x01, 0x04, 'u', 's', 'e', 'r', 0x06, 's', '3', 'c', 'r', '3', 't' };
	uint8_t buf[SOCKS5_MAX_REQUEST];
	size_t cap;

	(void)state;
	assert_int_equal(socks5_proto_encode_userpass(buf, sizeof(buf), "user", "s3cr3t"), (int)sizeof(want));
	assert_memory_equal(buf, want, sizeof(want));
	for (cap = 0; cap < sizeof(want); cap++)
		assert_int_equal(socks5_proto_encode_userpass(buf, cap, "user", "s3cr3t"), -ENOSPC);
	assert_int_equal(socks5_proto_encode_userpass(buf, sizeof(want), "user", "s3cr3t"), (int)sizeof(want));
}

static void
test_userpass_encode_max(void **state)
{
	char user[256], pass[256];
	uint8_t *buf;

	(void)state;
	memset(user, 'u', 255);
	user[255] = '\0';
	memset(pass, 'p', 255);
	pass[255] = '\0';
	buf = malloc(SOCKS5_MAX_REQUEST);
	assert_non_null(buf);
	assert_int_equal(socks5_proto_encode_userpass(buf, SOCKS5_MAX_REQUEST, user, pass), SOCKS5_MAX_REQUEST);
	assert_int_equal(buf[0], 0x01);
	assert_int_equal(buf[1], 255);
	assert_int_equal(buf[2], 'u');
	assert_int_equal(buf[256], 'u');
	assert_int_equal(buf[257], 255);
	assert_int_equal(buf[258], 'p');
	assert_int_equal(buf[512], 'p');
	assert_int_equal(socks5_proto_encode_userpass(buf, SOCKS5_MAX_REQUEST - 1, user, pass), -ENOSPC);
	free(buf);
}

static void
test_userpass_encode_invalid(void **state)
{
	char longer[257];
	uint8_t buf[1024];

	(void)state;
	memset(longer, 'x', 256);
	longer[256] = '\0';
	assert_int_equal(socks5_proto_encode_userpass(buf, sizeof(buf), "", "pass"), -EINVAL);
	assert_int_equal(socks5_proto_encode_userpass(buf, sizeof(buf), "user", ""), -EINVAL);
	assert_int_equal(socks5_proto_encode_userpass(buf, sizeof(buf), "", ""), -EINVAL);
	assert_int_equal(socks5_proto_encode_userpass(buf, sizeof(buf), longer, "pass"), -EINVAL);
	assert_int_equal(socks5_proto_encode_userpass(buf, sizeof(buf), "user", longer), -EINVAL);
	assert_int_equal(socks5_proto_encode_userpass(buf, sizeof(buf), NULL, "pass"), -EINVAL);
	assert_int_equal(socks5_proto_encode_userpass(buf, sizeof(buf), "user", NULL), -EINVAL);
	/* Bad arguments are reported as such even when the buffer is also too small. */
	assert_int_equal(socks5_proto_encode_userpass(buf, 0, "", "pass"), -EINVAL);
}

static void
test_userpass_reply(void **state)
{
	static const uint8_t ok[] = { 0x01, 0x00 };
	static const uint8_t fail[] = { 0x01, 0x01 };
	static const uint8_t v5[] = { 0x05, 0x00 };
	static const uint8_t bad2[] = { 0x02, 0x00 };
	static const uint8_t bad0[] = { 0x00, 0x00 };
	static const uint8_t bad4[] = { 0x04, 0x00 };
	uint8_t st;

	(void)state;
	st = 0x77;
	assert_int_equal(socks5_proto_decode_userpass_reply(ok, 2, &st), 2);
	assert_int_equal(st, 0);
	assert_int_equal(socks5_proto_decode_userpass_reply(fail, 2, &st), 2);
	assert_int_equal(st, 1);
	st = 0x77;
	assert_int_equal(socks5_proto_decode_userpass_reply(v5, 2, &st), 2);
	assert_int_equal(st, 0);

	check_stream(dec_userpass, ok, sizeof(ok));
	check_stream(dec_userpass, fail, sizeof(fail));
	check_stream(dec_userpass, v5, sizeof(v5));
	check_malformed(dec_userpass, bad2, sizeof(bad2), 1);
	check_malformed(dec_userpass, bad0, sizeof(bad0), 1);
	check_malformed(dec_userpass, bad4, sizeof(bad4), 1);
}

/* ---- requests ---- */

struct req_arg {
	uint8_t cmd;
	const struct t2s_endpoint *dst;
};

static int
enc_request(uint8_t *b, size_t cap, const void *arg)
{
	const struct req_arg *r = arg;

	return socks5_proto_encode_request(b, cap, r->cmd, r->dst);
}

static void
test_request_connect_ipv4(void **state)
{
	static const uint8_t want[] = { 0x05, 0x01, 0x00, 0x01, 192, 0, 2, 7, 0x00, 0x50 };
	struct t2s_endpoint ep;
	struct req_arg r = { SOCKS5_CMD_CONNECT, &ep };

	(void)state;
	ep_v4(&ep, 192, 0, 2, 7, 80);
	check_encode(enc_request, &r, want, sizeof(want));
}

static void
test_request_connect_ipv6(void **state)
{
	static const uint8_t want[] = {
		0x05, 0x01, 0x00, 0x04, 0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01, 0x01, 0xbb,
	};
	struct t2s_endpoint ep;
	struct req_arg r = { SOCKS5_CMD_CONNECT, &ep };

	(void)state;
	ep_v6(&ep, 443);
	check_encode(enc_request, &r, want, sizeof(want));
}

static void
test_request_connect_domain(void **state)
{
	static const uint8_t want[] = {
		0x05, 0x01, 0x00, 0x03, 0x0b, 'e', 'x', 'a', 'm', 'p', 'l', 'e', '.', 'c', 'o', 'm', 0x1f, 0x90,
	};
	struct t2s_endpoint ep;
	struct req_arg r = { SOCKS5_CMD_CONNECT, &ep };

	(void)state;
	assert_int_equal(endpoint_set_domain(&ep, "example.com", 11, 8080), 0);
	check_encode(enc_request, &r, want, sizeof(want));
}

static void
test_request_udp_associate_ipv4(void **state)
{
	static const uint8_t want[] = { 0x05, 0x03, 0x00, 0x01, 0, 0, 0, 0, 0x00, 0x00 };
	static const uint8_t want2[] = { 0x05, 0x03, 0x00, 0x01, 10, 1, 2, 3, 0xff, 0xff };
	struct t2s_endpoint ep;
	struct req_arg r = { SOCKS5_CMD_UDP_ASSOCIATE, &ep };

	(void)state;
	ep_v4(&ep, 0, 0, 0, 0, 0);
	check_encode(enc_request, &r, want, sizeof(want));
	ep_v4(&ep, 10, 1, 2, 3, 65535);
	check_encode(enc_request, &r, want2, sizeof(want2));
}

static void
test_request_udp_associate_ipv6(void **state)
{
	static const uint8_t want[] = {
		0x05, 0x03, 0x00, 0x04, 0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01, 0x00, 0x35,
	};
	struct t2s_endpoint ep;
	struct req_arg r = { SOCKS5_CMD_UDP_ASSOCIATE, &ep };

	(void)state;
	ep_v6(&ep, 53);
	check_encode(enc_request, &r, want, sizeof(want));
}

static void
test_request_udp_associate_domain(void **state)
{
	static const uint8_t want[] = { 0x05, 0x03, 0x00, 0x03, 0x01, 'h', 0x12, 0x34 };
	struct t2s_endpoint ep;
	struct req_arg r = { SOCKS5_CMD_UDP_ASSOCIATE, &ep };

	(void)state;
	assert_int_equal(endpoint_set_domain(&ep, "h", 1, 0x1234), 0);
	check_encode(enc_request, &r, want, sizeof(want));
}

static void
test_request_domain_255(void **state)
{
	uint8_t want[4 + 1 + 255 + 2];
	struct t2s_endpoint ep;
	struct req_arg r = { SOCKS5_CMD_CONNECT, &ep };
	size_t i;

	(void)state;
	make_domain(&ep, 255, 443);
	want[0] = 0x05;
	want[1] = 0x01;
	want[2] = 0x00;
	want[3] = 0x03;
	want[4] = 0xff;
	for (i = 0; i < 255; i++)
		want[5 + i] = (uint8_t)('a' + i % 26);
	want[260] = 0x01;
	want[261] = 0xbb;
	check_encode(enc_request, &r, want, sizeof(want));
}

static void
test_request_invalid(void **state)
{
	struct t2s_endpoint ep;
	uint8_t buf[SOCKS5_MAX_REQUEST];

	(void)state;
	/* Empty and over-long names cannot even be stored. */
	assert_int_equal(endpoint_set_domain(&ep, "x", 0, 80), -EINVAL);
	{
		char longer[257];

		memset(longer, 'a', sizeof(longer));
		assert_int_equal(endpoint_set_domain(&ep, longer, 256, 80), -EINVAL);
	}

	memset(&ep, 0, sizeof(ep));
	ep.type = T2S_ENDPOINT_DOMAIN;
	ep.port = 80;
	ep.u.domain.len = 0;
	assert_int_equal(socks5_proto_encode_request(buf, sizeof(buf), SOCKS5_CMD_CONNECT, &ep), -EINVAL);
	assert_int_equal(socks5_proto_encode_udp_header(buf, sizeof(buf), &ep), -EINVAL);

	memset(&ep, 0, sizeof(ep));
	assert_int_equal(socks5_proto_encode_request(buf, sizeof(buf), SOCKS5_CMD_CONNECT, &ep), -EINVAL);
	assert_int_equal(socks5_proto_encode_request(buf, sizeof(buf), SOCKS5_CMD_CONNECT, NULL), -EINVAL);

	ep_v4(&ep, 1, 2, 3, 4, 80);
	assert_int_equal(socks5_proto_encode_request(buf, sizeof(buf), 0x02, &ep), -EINVAL);
	assert_int_equal(socks5_proto_encode_request(buf, sizeof(buf), 0x00, &ep), -EINVAL);
	assert_int_equal(socks5_proto_encode_request(buf, sizeof(buf), 0xff, &ep), -EINVAL);
}

/* ---- replies ---- */

static void
test_reply_ipv4(void **state)
{
	static const uint8_t msg[] = { 0x05, 0x00, 0x00, 0x01, 10, 0, 0, 1, 0x04, 0x38 };
	struct t2s_endpoint bnd, want;
	uint8_t rep = 0x77;

	(void)state;
	assert_int_equal(socks5_proto_decode_reply(msg, sizeof(msg), &rep, &bnd), (int)sizeof(msg));
	assert_int_equal(rep, SOCKS5_REP_SUCCEEDED);
	ep_v4(&want, 10, 0, 0, 1, 1080);
	assert_true(endpoint_equal(&bnd, &want));
	check_stream(dec_reply, msg, sizeof(msg));
	check_stream(dec_reply_null, msg, sizeof(msg));
}

static void
test_reply_ipv6(void **state)
{
	static const uint8_t msg[] = {
		0x05, 0x00, 0x00, 0x04, 0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01, 0x9c, 0x40,
	};
	struct t2s_endpoint bnd, want;
	uint8_t rep = 0x77;

	(void)state;
	assert_int_equal(socks5_proto_decode_reply(msg, sizeof(msg), &rep, &bnd), 22);
	assert_int_equal(rep, 0);
	ep_v6(&want, 40000);
	assert_true(endpoint_equal(&bnd, &want));
	check_stream(dec_reply, msg, sizeof(msg));
}

static void
test_reply_domain(void **state)
{
	static const uint8_t msg[] = { 0x05, 0x00, 0x00, 0x03, 0x05, 'p', 'r', 'o', 'x', 'y', 0x00, 0x16 };
	struct t2s_endpoint bnd;
	uint8_t rep = 0x77;

	(void)state;
	assert_int_equal(socks5_proto_decode_reply(msg, sizeof(msg), &rep, &bnd), 12);
	assert_int_equal(rep, 0);
	assert_int_equal(bnd.type, T2S_ENDPOINT_DOMAIN);
	assert_int_equal(bnd.u.domain.len, 5);
	assert_string_equal(bnd.u.domain.name, "proxy");
	assert_int_equal(bnd.port, 22);
	check_stream(dec_reply, msg, sizeof(msg));
}

static void
test_reply_domain_255(void **state)
{
	uint8_t msg[SOCKS5_MAX_REPLY];
	struct t2s_endpoint bnd;
	uint8_t rep = 0x77;
	size_t i;

	(void)state;
	assert_int_equal(sizeof(msg), 262);
	msg[0] = 0x05;
	msg[1] = 0x00;
	msg[2] = 0x00;
	msg[3] = 0x03;
	msg[4] = 0xff;
	for (i = 0; i < 255; i++)
		msg[5 + i] = (uint8_t)('a' + i % 26);
	msg[260] = 0xab;
	msg[261] = 0xcd;
	assert_int_equal(socks5_proto_decode_reply(msg, sizeof(msg), &rep, &bnd), 262);
	assert_int_equal(bnd.type, T2S_ENDPOINT_DOMAIN);
	assert_int_equal(bnd.u.domain.len, 255);
	assert_memory_equal(bnd.u.domain.name, msg + 5, 255);
	assert_int_equal(bnd.u.domain.name[255], '\0');
	assert_int_equal(bnd.port, 0xabcd);
	check_stream(dec_reply, msg, sizeof(msg));
}

/* A failure REP is still a well-formed reply: its length is returned and REP stored. */
static void
test_reply_failure_codes(void **state)
{
	uint8_t msg[] = { 0x05, 0x00, 0x00, 0x01, 0, 0, 0, 0, 0, 0 };
	struct t2s_endpoint bnd;
	unsigned code;
	uint8_t rep;

	(void)state;
	for (code = 0; code <= 0xff; code++) {
		msg[1] = (uint8_t)code;
		rep = (uint8_t)~code;
		assert_int_equal(socks5_proto_decode_reply(msg, sizeof(msg), &rep, &bnd), 10);
		assert_int_equal(rep, code);
	}
	msg[1] = SOCKS5_REP_CONN_REFUSED;
	check_stream(dec_reply, msg, sizeof(msg));
}

static void
test_reply_malformed(void **state)
{
	static const uint8_t bad_ver4[] = { 0x04, 0x00, 0x00, 0x01, 1, 2, 3, 4, 0, 80 };
	static const uint8_t bad_ver1[] = { 0x01, 0x00, 0x00, 0x01, 1, 2, 3, 4, 0, 80 };
	static const uint8_t bad_rsv[] = { 0x05, 0x00, 0x01, 0x01, 1, 2, 3, 4, 0, 80 };
	static const uint8_t bad_rsv80[] = { 0x05, 0x00, 0x80, 0x01, 1, 2, 3, 4, 0, 80 };
	static const uint8_t atyp0[] = { 0x05, 0x00, 0x00, 0x00, 1, 2, 3, 4, 0, 80 };
	static const uint8_t atyp2[] = { 0x05, 0x00, 0x00, 0x02, 1, 2, 3, 4, 0, 80 };
	static const uint8_t atyp5[] = { 0x05, 0x00, 0x00, 0x05, 1, 2, 3, 4, 0, 80 };
	static const uint8_t atypff[] = { 0x05, 0x00, 0x00, 0xff, 1, 2, 3, 4, 0, 80 };
	static const uint8_t zero_domain[] = { 0x05, 0x00, 0x00, 0x03, 0x00, 0x00, 0x50 };

	(void)state;
	check_malformed(dec_reply, bad_ver4, sizeof(bad_ver4), 1);
	check_malformed(dec_reply, bad_ver1, sizeof(bad_ver1), 1);
	check_malformed(dec_reply, bad_rsv, sizeof(bad_rsv), 3);
	check_malformed(dec_reply, bad_rsv80, sizeof(bad_rsv80), 3);
	check_malformed(dec_reply, atyp0, sizeof(atyp0), 4);
	check_malformed(dec_reply, atyp2, sizeof(atyp2), 4);
	check_malformed(dec_reply, atyp5, sizeof(atyp5), 4);
	check_malformed(dec_reply, atypff, sizeof(atypff), 4);
	check_malformed(dec_reply, zero_domain, sizeof(zero_domain), 5);
	check_malformed(dec_reply_null, zero_domain, sizeof(zero_domain), 5);
}

/* bnd and rep are left alone unless a whole reply was decoded. */
static void
test_reply_outputs_untouched(void **state)
{
	static const uint8_t msg[] = { 0x05, 0x03, 0x00, 0x01, 1, 2, 3, 4, 0, 80 };
	struct t2s_endpoint bnd, before;
	uint8_t rep = 0x77;

	(void)state;
	memset(&bnd, 0xa5, sizeof(bnd));
	before = bnd;
	assert_int_equal(socks5_proto_decode_reply(msg, sizeof(msg) - 1, &rep, &bnd), SOCKS5_NEED_MORE);
	assert_int_equal(rep, 0x77);
	assert_memory_equal(&bnd, &before, sizeof(bnd));
}

/* ---- UDP header ---- */

struct udp_case {
	uint8_t wire[SOCKS5_MAX_UDP_HEADER];
	size_t len;
	struct t2s_endpoint ep;
};

static void
udp_cases(struct udp_case c[3])
{
	static const uint8_t v4[] = { 0, 0, 0, 0x01, 8, 8, 4, 4, 0x00, 0x35 };
	static const uint8_t v6[] = {
		0, 0, 0, 0x04, 0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01, 0x01, 0xbb,
	};
	static const uint8_t dom[] = { 0, 0, 0, 0x03, 0x07, 'a', '.', 'b', '-', 'c', '.', 'd', 0x00, 0x7b };

	memcpy(c[0].wire, v4, sizeof(v4));
	c[0].len = sizeof(v4);
	ep_v4(&c[0].ep, 8, 8, 4, 4, 53);
	memcpy(c[1].wire, v6, sizeof(v6));
	c[1].len = sizeof(v6);
	ep_v6(&c[1].ep, 443);
	memcpy(c[2].wire, dom, sizeof(dom));
	c[2].len = sizeof(dom);
	assert_int_equal(endpoint_set_domain(&c[2].ep, "a.b-c.d", 7, 123), 0);
}

static int
enc_udp(uint8_t *b, size_t cap, const void *arg)
{
	return socks5_proto_encode_udp_header(b, cap, arg);
}

static void
test_udp_encode(void **state)
{
	struct udp_case c[3];
	struct t2s_endpoint big;
	uint8_t want[SOCKS5_MAX_UDP_HEADER];
	size_t i;

	(void)state;
	udp_cases(c);
	for (i = 0; i < 3; i++)
		check_encode(enc_udp, &c[i].ep, c[i].wire, c[i].len);

	make_domain(&big, 255, 1);
	memset(want, 0, 3);
	want[3] = 0x03;
	want[4] = 0xff;
	for (i = 0; i < 255; i++)
		want[5 + i] = (uint8_t)('a' + i % 26);
	want[260] = 0x00;
	want[261] = 0x01;
	check_encode(enc_udp, &big, want, sizeof(want));
	assert_int_equal(sizeof(want), 262);
}

static void
test_udp_encode_invalid(void **state)
{
	struct t2s_endpoint ep;
	uint8_t buf[SOCKS5_MAX_UDP_HEADER];

	(void)state;
	memset(&ep, 0, sizeof(ep));
	assert_int_equal(socks5_proto_encode_udp_header(buf, sizeof(buf), &ep), -EINVAL);
	assert_int_equal(socks5_proto_encode_udp_header(buf, sizeof(buf), NULL), -EINVAL);
	ep.type = T2S_ENDPOINT_DOMAIN;
	assert_int_equal(socks5_proto_encode_udp_header(buf, sizeof(buf), &ep), -EINVAL);
}

static void
test_udp_decode(void **state)
{
	static const uint8_t payload[] = { 'p', 'a', 'y', 0x00, 0x01 };
	struct udp_case c[3];
	uint8_t dgram[SOCKS5_MAX_UDP_HEADER + sizeof(payload)];
	struct t2s_endpoint ep;
	uint8_t frag;
	uint8_t *p;
	size_t i;

	(void)state;
	udp_cases(c);
	for (i = 0; i < 3; i++) {
		p = exact_copy(c[i].wire, c[i].len);
		frag = 0x77;
		memset(&ep, 0, sizeof(ep));
		assert_int_equal(socks5_proto_decode_udp_header(p, c[i].len, &frag, &ep), (int)c[i].len);
		assert_int_equal(frag, 0);
		assert_true(endpoint_equal(&ep, &c[i].ep));
		assert_int_equal(ep.port, c[i].ep.port);
		free(p);

		/* With a payload: only the header is counted. */
		memcpy(dgram, c[i].wire, c[i].len);
		memcpy(dgram + c[i].len, payload, sizeof(payload));
		assert_int_equal(socks5_proto_decode_udp_header(dgram, c[i].len + sizeof(payload), &frag, &ep),
				 (int)c[i].len);
		assert_memory_equal(dgram + c[i].len, payload, sizeof(payload));

		/* FRAG is reported, not judged. */
		dgram[2] = 0x81;
		assert_int_equal(socks5_proto_decode_udp_header(dgram, c[i].len + sizeof(payload), &frag, NULL),
				 (int)c[i].len);
		assert_int_equal(frag, 0x81);
	}
	assert_int_equal(endpoint_equal(&c[2].ep, &c[0].ep), 0);
}

static void
test_udp_round_trip(void **state)
{
	struct t2s_endpoint eps[6], out;
	uint8_t buf[SOCKS5_MAX_UDP_HEADER];
	size_t i;
	int n;

	(void)state;
	ep_v4(&eps[0], 0, 0, 0, 0, 0);
	ep_v4(&eps[1], 255, 255, 255, 255, 65535);
	ep_v6(&eps[2], 1);
	make_domain(&eps[3], 1, 2);
	make_domain(&eps[4], 254, 3);
	make_domain(&eps[5], 255, 4);
	for (i = 0; i < 6; i++) {
		uint8_t frag = 0x77;

		n = socks5_proto_encode_udp_header(buf, sizeof(buf), &eps[i]);
		assert_true(n > 0);
		assert_int_equal(socks5_proto_decode_udp_header(buf, (size_t)n, &frag, &out), n);
		assert_int_equal(frag, 0);
		assert_true(endpoint_equal(&out, &eps[i]));
	}
}

/* A datagram is never partial: every truncation is -EPROTO, never NEED_MORE. */
static void
test_udp_decode_truncated(void **state)
{
	struct udp_case c[3];
	uint8_t frag;
	uint8_t *p;
	size_t i, k;

	(void)state;
	udp_cases(c);
	for (i = 0; i < 3; i++) {
		for (k = 0; k < c[i].len; k++) {
			p = exact_copy(c[i].wire, k);
			assert_int_equal(socks5_proto_decode_udp_header(p, k, &frag, NULL), -EPROTO);
			free(p);
		}
	}
}

static void
test_udp_decode_malformed(void **state)
{
	struct udp_case c[3];
	uint8_t d[SOCKS5_MAX_UDP_HEADER + 4];
	static const uint8_t atyps[] = { 0x00, 0x02, 0x05, 0xff };
	static const uint8_t zero_domain[] = { 0, 0, 0, 0x03, 0x00, 0x00, 0x35, 'x', 'y' };
	struct t2s_endpoint ep;
	uint8_t frag;
	size_t i, j;

	(void)state;
	udp_cases(c);
	for (i = 0; i < 3; i++) {
		memcpy(d, c[i].wire, c[i].len);
		d[0] = 0x01;
		assert_int_equal(socks5_proto_decode_udp_header(d, c[i].len, &frag, &ep), -EPROTO);
		d[0] = 0x00;
		d[1] = 0x80;
		assert_int_equal(socks5_proto_decode_udp_header(d, c[i].len, &frag, &ep), -EPROTO);
		d[1] = 0x00;
		for (j = 0; j < sizeof(atyps); j++) {
			d[3] = atyps[j];
			assert_int_equal(socks5_proto_decode_udp_header(d, c[i].len, &frag, &ep), -EPROTO);
		}
	}
	assert_int_equal(socks5_proto_decode_udp_header(zero_domain, sizeof(zero_domain), &frag, &ep), -EPROTO);
	/* A domain length pointing past the end of the datagram. */
	{
		static const uint8_t overrun[] = { 0, 0, 0, 0x03, 0x10, 'a', 'b', 'c', 0x00, 0x35 };

		assert_int_equal(socks5_proto_decode_udp_header(overrun, sizeof(overrun), &frag, &ep), -EPROTO);
	}
}

/* ---- REP tables ---- */

static void
test_rep_str(void **state)
{
	static const struct {
		uint8_t rep;
		const char *text;
	} t[] = {
		{ SOCKS5_REP_SUCCEEDED, "succeeded" },
		{ SOCKS5_REP_GENERAL_FAILURE, "general SOCKS server failure" },
		{ SOCKS5_REP_NOT_ALLOWED, "connection not allowed by ruleset" },
		{ SOCKS5_REP_NET_UNREACHABLE, "network unreachable" },
		{ SOCKS5_REP_HOST_UNREACHABLE, "host unreachable" },
		{ SOCKS5_REP_CONN_REFUSED, "connection refused" },
		{ SOCKS5_REP_TTL_EXPIRED, "TTL expired" },
		{ SOCKS5_REP_CMD_UNSUPPORTED, "command not supported" },
		{ SOCKS5_REP_ATYP_UNSUPPORTED, "address type not supported" },
	};
	unsigned code;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		assert_string_equal(socks5_proto_rep_str(t[i].rep), t[i].text);
	for (code = 0x09; code <= 0xff; code++)
		assert_string_equal(socks5_proto_rep_str((uint8_t)code), "unknown reply code");
}

static void
test_rep_errno(void **state)
{
	static const struct {
		uint8_t rep;
		int err;
	} t[] = {
		{ SOCKS5_REP_SUCCEEDED, 0 },
		{ SOCKS5_REP_GENERAL_FAILURE, ECONNABORTED },
		{ SOCKS5_REP_NOT_ALLOWED, EACCES },
		{ SOCKS5_REP_NET_UNREACHABLE, ENETUNREACH },
		{ SOCKS5_REP_HOST_UNREACHABLE, EHOSTUNREACH },
		{ SOCKS5_REP_CONN_REFUSED, ECONNREFUSED },
		{ SOCKS5_REP_TTL_EXPIRED, ETIMEDOUT },
		{ SOCKS5_REP_CMD_UNSUPPORTED, EOPNOTSUPP },
		{ SOCKS5_REP_ATYP_UNSUPPORTED, EOPNOTSUPP },
	};
	unsigned code;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		assert_int_equal(socks5_proto_rep_errno(t[i].rep), t[i].err);
	for (code = 0x09; code <= 0xff; code++)
		assert_int_equal(socks5_proto_rep_errno((uint8_t)code), ECONNABORTED);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_greeting_no_auth),
		cmocka_unit_test(test_greeting_userpass),
		cmocka_unit_test(test_method_decode),
		cmocka_unit_test(test_method_bad_version),
		cmocka_unit_test(test_userpass_encode),
		cmocka_unit_test(test_userpass_encode_max),
		cmocka_unit_test(test_userpass_encode_invalid),
		cmocka_unit_test(test_userpass_reply),
		cmocka_unit_test(test_request_connect_ipv4),
		cmocka_unit_test(test_request_connect_ipv6),
		cmocka_unit_test(test_request_connect_domain),
		cmocka_unit_test(test_request_udp_associate_ipv4),
		cmocka_unit_test(test_request_udp_associate_ipv6),
		cmocka_unit_test(test_request_udp_associate_domain),
		cmocka_unit_test(test_request_domain_255),
		cmocka_unit_test(test_request_invalid),
		cmocka_unit_test(test_reply_ipv4),
		cmocka_unit_test(test_reply_ipv6),
		cmocka_unit_test(test_reply_domain),
		cmocka_unit_test(test_reply_domain_255),
		cmocka_unit_test(test_reply_failure_codes),
		cmocka_unit_test(test_reply_malformed),
		cmocka_unit_test(test_reply_outputs_untouched),
		cmocka_unit_test(test_udp_encode),
		cmocka_unit_test(test_udp_encode_invalid),
		cmocka_unit_test(test_udp_decode),
		cmocka_unit_test(test_udp_round_trip),
		cmocka_unit_test(test_udp_decode_truncated),
		cmocka_unit_test(test_udp_decode_malformed),
		cmocka_unit_test(test_rep_str),
		cmocka_unit_test(test_rep_errno),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
