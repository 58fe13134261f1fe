/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for the pure HTTP CONNECT codec: byte-exact requests (IPv4, IPv6, names,
 * Basic auth), response heads fed byte by byte and coalesced with tunnel bytes, the
 * oversized and malformed heads, and the status table (407, 403, 502, ...).
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

#include "http_proto.h"
#include "socks5_proto.h"

static struct t2s_endpoint
ep(const char *text)
{
	struct t2s_endpoint e;

	assert_int_equal(endpoint_parse(&e, text, -1), 0);
	return e;
}

static void
assert_request(const struct t2s_endpoint *t, const char *user, const char *pass, const char *want)
{
	uint8_t buf[HTTP_PROTO_MAX_REQUEST];
	int n = http_proto_encode_connect(buf, sizeof(buf), t, user, pass);

	assert_int_equal(n, (int)strlen(want));
	assert_memory_equal(buf, want, strlen(want));
}

static void
test_encode(void **state)
{
	struct t2s_endpoint t;

	(void)state;
	t = ep("198.18.0.1:443");
	assert_request(&t, NULL, NULL, "CONNECT 198.18.0.1:443 HTTP/1.1\r\nHost: 198.18.0.1:443\r\n\r\n");
	t = ep("[2001:2::1]:80");
	assert_request(&t, NULL, NULL, "CONNECT [2001:2::1]:80 HTTP/1.1\r\nHost: [2001:2::1]:80\r\n\r\n");
	t = ep("example.org:53");
	/* RFC 7617's own example: Aladdin:open sesame. */
	assert_request(&t, "Aladdin", "open sesame",
		       "CONNECT example.org:53 HTTP/1.1\r\nHost: example.org:53\r\n"
		       "Proxy-Authorization: Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==\r\n\r\n");
	/* Base64 padding of 0, 1 and 2 bytes. */
	assert_request(&t, "ab", "c", "CONNECT example.org:53 HTTP/1.1\r\nHost: example.org:53\r\n"
				      "Proxy-Authorization: Basic YWI6Yw==\r\n\r\n");
	assert_request(&t, "abc", "de", "CONNECT example.org:53 HTTP/1.1\r\nHost: example.org:53\r\n"
				        "Proxy-Authorization: Basic YWJjOmRl\r\n\r\n");
	assert_request(&t, "u", "", "CONNECT example.org:53 HTTP/1.1\r\nHost: example.org:53\r\n"
				    "Proxy-Authorization: Basic dTo=\r\n\r\n");
}

static void
test_encode_limits(void **state)
{
	uint8_t buf[HTTP_PROTO_MAX_REQUEST];
	char user[256], pass[256];
	struct t2s_endpoint t;
	int n;

	(void)state;
	memset(user, 'u', 255);
	user[255] = '\0';
	memset(pass, 'p', 255);
	pass[255] = '\0';
	memset(&t, 0, sizeof(t));
	assert_int_equal(http_proto_encode_connect(buf, sizeof(buf), &t, NULL, NULL), -EINVAL);
	t.type = T2S_ENDPOINT_DOMAIN;
	t.port = 443;
	memset(t.u.domain.name, 'a', 255);
	t.u.domain.name[255] = '\0';
	t.u.domain.len = 255;
	/* The longest request fits. */
	n = http_proto_encode_connect(buf, sizeof(buf), &t, user, pass);
	assert_true(n > 0 && n < (int)sizeof(buf));
	assert_int_equal(http_proto_encode_connect(buf, (size_t)n, &t, user, pass), -ENOSPC);
	assert_int_equal(http_proto_encode_connect(buf, (size_t)n + 1, &t, user, pass), n);
	/* A name that would split the request line. */
	assert_int_equal(endpoint_set_domain(&t, "a b", 3, 443), 0);
	assert_int_equal(http_proto_encode_connect(buf, sizeof(buf), &t, NULL, NULL), -EINVAL);
}

static int
decode(const char *s, size_t n, struct http_proto_response *r)
{
	/* An exact copy, so that ASan sees any read past the end. */
	uint8_t *b = malloc(n ? n : 1);
	int ret;

	assert_non_null(b);
	memcpy(b, s, n);
	ret = http_proto_decode_response(b, n, r);
	free(b);
	return ret;
}

static void
test_decode_ok(void **state)
{
	static const char head[] = "HTTP/1.1 200 Connection established\r\nProxy-Agent: tinyproxy/1.11.1\r\n"
				   "X-Folded: a\r\n b\r\n\r\n";
	const size_t hlen = sizeof(head) - 1;
	char buf[256];
	struct http_proto_response r;
	size_t i;

	(void)state;
	/* Every prefix is NEED_MORE; the whole head is its length. */
	for (i = 0; i < hlen; i++)
		assert_int_equal(decode(head, i, &r), HTTP_PROTO_NEED_MORE);
	memset(&r, 0, sizeof(r));
	assert_int_equal(decode(head, hlen, &r), (int)hlen);
	assert_int_equal(r.status, 200);
	assert_int_equal(r.minor, 1);
	assert_string_equal(r.reason, "Connection established");
	/* Tunnel bytes behind the head (a server's banner) are not the head's. */
	snprintf(buf, sizeof(buf), "%sSSH-2.0-OpenSSH\r\n\r\n", head);
	assert_int_equal(decode(buf, strlen(buf), &r), (int)hlen);

	/* Bare LF, no reason phrase, HTTP/1.0. */
	assert_int_equal(decode("HTTP/1.0 200\n\n", 14, &r), 14);
	assert_int_equal(r.status, 200);
	assert_int_equal(r.minor, 0);
	assert_string_equal(r.reason, "");
	/* An empty reason after the space; a long reason is cut; odd bytes become '?'. */
	assert_int_equal(decode("HTTP/1.1 407 \r\n\r\n", 17, &r), 17);
	assert_int_equal(r.status, 407);
	memset(buf, 'r', sizeof(buf));
	memcpy(buf, "HTTP/1.1 403 ", 13);
	memcpy(buf + 200, "\xff\r\n\r\n", 5);
	assert_int_equal(decode(buf, 205, &r), 205);
	assert_int_equal(strlen(r.reason), PROXY_TCP_REASON_MAX);
	assert_int_equal(decode("HTTP/1.1 502 Bad\x01Gateway\r\n\r\n", 28, &r), 28);
	assert_string_equal(r.reason, "Bad?Gateway");
}

static void
test_decode_bad(void **state)
{
	static const char *const bad[] = {
		"HTTP/2 200 OK\r\n\r\n",
		"HTTP/1.1 20 OK\r\n\r\n",
		"HTTP/1.1 2000 OK\r\n\r\n",
		"HTTP/1.1 099 x\r\n\r\n",
		"HTTP/1.1 600 x\r\n\r\n",
		"HTTP/1.1 abc x\r\n\r\n",
		"HTTP/1.1  200 x\r\n\r\n",
		"HTTP/1.x 200 x\r\n\r\n",
		"http/1.1 200 x\r\n\r\n",
		"SSH-2.0-OpenSSH\r\n",
		"\x05\x00",                                     /* a SOCKS5 server */
		"HTTP/1.1 200 OK\r\nno colon here\r\n\r\n",
		"HTTP/1.1 200 OK\r\n: empty name\r\n\r\n",
		"HTTP/1.1 200 OK\r\nBad Name: x\r\n\r\n",
		"HTTP/1.1 200 OK\r\n folded first\r\n\r\n",
		"HTTP/1.1 200 OK\r\nX: a\x01b\r\n\r\n",
	};
	struct http_proto_response r;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (decode(bad[i], strlen(bad[i]), &r) != -EPROTO)
			fail_msg("accepted \"%s\"", bad[i]);
	}
	/* NUL bytes, in the status line and in a header still arriving. */
	assert_int_equal(decode("HTTP/1.1 200 O\0K\r\n\r\n", 20, &r), -EPROTO);
	assert_int_equal(decode("HTTP/1.1 200 OK\r\nX: \0", 21, &r), -EPROTO);
	/* Garbage is refused at its first byte, not after 8 KiB. */
	assert_int_equal(decode("X", 1, &r), -EPROTO);
	assert_int_equal(decode("HTTP/1.1 200 OK\r\nX: 1\r\n", 23, &r), HTTP_PROTO_NEED_MORE);
}

static void
test_decode_oversized(void **state)
{
	size_t n = HTTP_PROTO_MAX_RESPONSE + 100, off;
	char *b = malloc(n);
	struct http_proto_response r;

	(void)state;
	assert_non_null(b);
	off = (size_t)snprintf(b, n, "HTTP/1.1 200 OK\r\n");
	while (off + 12 < n)
		off += (size_t)snprintf(b + off, n - off, "X-Pad: abc\r\n");
	assert_int_equal(http_proto_decode_response((uint8_t *)b, HTTP_PROTO_MAX_RESPONSE - 1, &r),
			 HTTP_PROTO_NEED_MORE);
	assert_int_equal(http_proto_decode_response((uint8_t *)b, HTTP_PROTO_MAX_RESPONSE, &r), -EMSGSIZE);
	assert_int_equal(http_proto_decode_response((uint8_t *)b, off, &r), -EMSGSIZE);
	/* A status line with no end at all. */
	memset(b, 'x', n);
	memcpy(b, "HTTP/1.1 200 ", 13);
	assert_int_equal(http_proto_decode_response((uint8_t *)b, n, &r), -EMSGSIZE);
	free(b);
}

static void
assert_class(unsigned status, enum proxy_tcp_failure failure, uint8_t rep, int err)
{
	struct proxy_tcp_result res;

	memset(&res, 0xa5, sizeof(res));
	http_proto_classify(status, &res);
	if (res.failure != failure || (failure == PROXY_TCP_TARGET && res.rep != rep) || res.err != err)
		fail_msg("status %u: failure %d rep %u err %d", status, res.failure, res.rep, res.err);
	assert_int_equal(res.http_status, status);
}

static void
test_classify(void **state)
{
	(void)state;
	assert_class(200, PROXY_TCP_OK, 0, 0);
	assert_class(204, PROXY_TCP_OK, 0, 0);
	assert_class(407, PROXY_TCP_AUTH, 0, -EACCES);
	assert_class(401, PROXY_TCP_AUTH, 0, -EACCES);
	assert_class(405, PROXY_TCP_PROTOCOL, 0, -EOPNOTSUPP);
	assert_class(501, PROXY_TCP_PROTOCOL, 0, -EOPNOTSUPP);
	assert_class(403, PROXY_TCP_TARGET, SOCKS5_REP_NOT_ALLOWED, -EACCES);
	assert_class(404, PROXY_TCP_TARGET, SOCKS5_REP_HOST_UNREACHABLE, -EHOSTUNREACH);
	assert_class(504, PROXY_TCP_TARGET, SOCKS5_REP_TTL_EXPIRED, -ETIMEDOUT);
	assert_class(500, PROXY_TCP_TARGET, SOCKS5_REP_CONN_REFUSED, -ECONNREFUSED);
	assert_class(502, PROXY_TCP_TARGET, SOCKS5_REP_CONN_REFUSED, -ECONNREFUSED);
	assert_class(503, PROXY_TCP_TARGET, SOCKS5_REP_CONN_REFUSED, -ECONNREFUSED);
	assert_class(400, PROXY_TCP_TARGET, SOCKS5_REP_GENERAL_FAILURE, -EPROTO);
	assert_class(301, PROXY_TCP_TARGET, SOCKS5_REP_GENERAL_FAILURE, -EPROTO);
	assert_class(599, PROXY_TCP_TARGET, SOCKS5_REP_GENERAL_FAILURE, -EPROTO);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_encode),
		cmocka_unit_test(test_encode_limits),
		cmocka_unit_test(test_decode_ok),
		cmocka_unit_test(test_decode_bad),
		cmocka_unit_test(test_decode_oversized),
		cmocka_unit_test(test_classify),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
