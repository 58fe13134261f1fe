/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for struct t2s_endpoint: parse/format round trips for IPv4, IPv6 and
 * domain names, default and invalid ports, invalid hosts, sockaddr conversion, equality.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/un.h>

#include <cmocka.h>

#include "endpoint.h"

/* Parses text, checks it formats back to want (text itself when want is NULL). */
static void
round_trip(const char *text, int default_port, const char *want, struct t2s_endpoint *ep)
{
	char buf[T2S_ENDPOINT_STRLEN];
	struct t2s_endpoint again;

	assert_int_equal(endpoint_parse(ep, text, default_port), 0);
	assert_ptr_equal(endpoint_format(ep, buf, sizeof(buf)), buf);
	assert_string_equal(buf, want ? want : text);
	assert_int_equal(endpoint_parse(&again, buf, -1), 0);
	assert_true(endpoint_equal(ep, &again));
}

static void
test_parse_ipv4(void **state)
{
	static const uint8_t a[4] = { 192, 0, 2, 1 };
	struct t2s_endpoint ep;

	(void)state;
	round_trip("192.0.2.1:80", -1, NULL, &ep);
	assert_int_equal(ep.type, T2S_ENDPOINT_IPV4);
	assert_memory_equal(ep.u.ipv4, a, 4);
	assert_int_equal(ep.port, 80);

	round_trip("0.0.0.0:1", -1, NULL, &ep);
	assert_int_equal(ep.port, 1);
	round_trip("255.255.255.255:65535", -1, NULL, &ep);
	assert_int_equal(ep.port, 65535);
	assert_int_equal(ep.u.ipv4[3], 255);
	/* Leading zeros in the port are harmless; the canonical form drops them. */
	round_trip("198.18.0.1:0080", -1, "198.18.0.1:80", &ep);
}

static void
test_parse_ipv6(void **state)
{
	static const uint8_t a[16] = { 0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01 };
	static const uint8_t lo[16] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1 };
	struct t2s_endpoint ep;

	(void)state;
	round_trip("[2001:db8::1]:443", -1, NULL, &ep);
	assert_int_equal(ep.type, T2S_ENDPOINT_IPV6);
	assert_memory_equal(ep.u.ipv6, a, 16);
	assert_int_equal(ep.port, 443);

	round_trip("[::1]:1080", -1, NULL, &ep);
	assert_memory_equal(ep.u.ipv6, lo, 16);
	round_trip("[2001:DB8:0:0:0:0:0:1]:443", -1, "[2001:db8::1]:443", &ep);
	assert_memory_equal(ep.u.ipv6, a, 16);
	round_trip("[::ffff:192.0.2.1]:80", -1, NULL, &ep);
	assert_int_equal(ep.type, T2S_ENDPOINT_IPV6);
	assert_int_equal(ep.u.ipv6[10], 0xff);
	assert_int_equal(ep.u.ipv6[12], 192);
	round_trip("[ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff]:65535", -1, NULL, &ep);
}

static void
test_parse_domain(void **state)
{
	struct t2s_endpoint ep;
	char name[300], text[320];

	(void)state;
	round_trip("example.com:8080", -1, NULL, &ep);
	assert_int_equal(ep.type, T2S_ENDPOINT_DOMAIN);
	assert_int_equal(ep.u.domain.len, 11);
	assert_string_equal(ep.u.domain.name, "example.com");
	assert_int_equal(ep.port, 8080);

	round_trip("localhost:22", -1, NULL, &ep);
	assert_int_equal(ep.u.domain.len, 9);
	round_trip("_srv.my-host.Example.ORG:5", -1, NULL, &ep);
	round_trip("example.com.:53", -1, NULL, &ep);
	assert_int_equal(ep.u.domain.len, 12);
	round_trip("1a.example:53", -1, NULL, &ep);
	round_trip("10.0.0.1x:53", -1, NULL, &ep);
	assert_int_equal(ep.type, T2S_ENDPOINT_DOMAIN);

	/* 255 bytes is the longest name; 256 is refused. */
	memset(name, 'a', 255);
	name[255] = '\0';
	snprintf(text, sizeof(text), "%s:65535", name);
	round_trip(text, -1, NULL, &ep);
	assert_int_equal(ep.u.domain.len, 255);
	assert_true(strlen(text) < T2S_ENDPOINT_STRLEN);
	memset(name, 'a', 256);
	name[256] = '\0';
	snprintf(text, sizeof(text), "%s:80", name);
	assert_int_equal(endpoint_parse(&ep, text, -1), -EINVAL);
	assert_int_equal(endpoint_parse(&ep, name, 80), -EINVAL);
}

static void
test_default_port(void **state)
{
	struct t2s_endpoint ep;

	(void)state;
	round_trip("192.0.2.1", 1080, "192.0.2.1:1080", &ep);
	assert_int_equal(ep.type, T2S_ENDPOINT_IPV4);
	assert_int_equal(ep.port, 1080);
	round_trip("[::1]", 53, "[::1]:53", &ep);
	assert_int_equal(ep.type, T2S_ENDPOINT_IPV6);
	round_trip("::1", 53, "[::1]:53", &ep);
	assert_int_equal(ep.type, T2S_ENDPOINT_IPV6);
	assert_int_equal(ep.port, 53);
	round_trip("2001:db8::5", 7, "[2001:db8::5]:7", &ep);
	round_trip("example.com", 443, "example.com:443", &ep);
	assert_int_equal(ep.type, T2S_ENDPOINT_DOMAIN);
	assert_int_equal(ep.port, 443);

	/* An explicit port wins over the default. */
	round_trip("example.com:25", 443, "example.com:25", &ep);

	/* Without a default, the port is required. */
	assert_int_equal(endpoint_parse(&ep, "192.0.2.1", -1), -EINVAL);
	assert_int_equal(endpoint_parse(&ep, "[::1]", -1), -EINVAL);
	assert_int_equal(endpoint_parse(&ep, "::1", -1), -EINVAL);
	assert_int_equal(endpoint_parse(&ep, "example.com", -1), -EINVAL);
	/* A default that is not a port. */
	assert_int_equal(endpoint_parse(&ep, "example.com", 65536), -EINVAL);
}

static void
test_bad_ports(void **state)
{
	static const char *const bad[] = {
		"192.0.2.1:0",     "192.0.2.1:65536", "192.0.2.1:99999999999999999999",
		"192.0.2.1:",      "192.0.2.1:8a",    "192.0.2.1:a8",
		"192.0.2.1:-1",    "192.0.2.1:+80",   "192.0.2.1: 80",
		"192.0.2.1:80 ",   "192.0.2.1:0x50",  "[::1]:0",
		"[::1]:65536",     "[::1]:",          "[::1]:http",
		"example.com:0",   "example.com:65536", "example.com:x",
		"example.com:80:80", "[::1]:80:80",
	};
	struct t2s_endpoint ep;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int r = endpoint_parse(&ep, bad[i], 1080);

		if (r != -EINVAL)
			fail_msg("accepted \"%s\" (%d)", bad[i], r);
	}
}

/* The one port parser, shared with proxy_url: length-bounded, so "80x" cut at 2 is 80. */
static void
test_parse_port(void **state)
{
	static const char *const bad[] = { "", "0", "65536", "-1", "+80", " 80", "80 ", "0x50", "8a" };
	uint16_t port = 7;
	size_t i;

	(void)state;
	assert_int_equal(endpoint_parse_port("1", 1, &port), 0);
	assert_int_equal(port, 1);
	assert_int_equal(endpoint_parse_port("65535", 5, &port), 0);
	assert_int_equal(port, 65535);
	assert_int_equal(endpoint_parse_port("0080", 4, &port), 0);
	assert_int_equal(port, 80);
	assert_int_equal(endpoint_parse_port("80x", 2, &port), 0);
	assert_int_equal(port, 80);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		port = 7;
		if (endpoint_parse_port(bad[i], strlen(bad[i]), &port) != -EINVAL)
			fail_msg("accepted \"%s\"", bad[i]);
		assert_int_equal(port, 7);
	}
}

static void
test_bad_hosts(void **state)
{
	static const char *const bad[] = {
		"",          ":80",         "[]:80",           "[]",             "[::1",
		"[::1:80",   "::1]:80",     "[::1]x",          "[::1]80",        "[::1]]:80",
		"[192.0.2.1]:80", "[example.com]:80", "[::g]:80", "1:2:3:4:5:6:7:8:9",
		"exa mple.com:80", "exa$mple.com:80", "example.com/:80", "ex@mple.com:80",
		"256.1.1.1:80", "1.2.3:80",   "1.2.3.4.5:80",     "01.2.3.4:80",    "192.0.2.1.:80",
		"123:80",    "a..b:80",     ".example.com:80", ".:80",           "..:80",
		"host\n:80", "[fe80::1%eth0]:80", "fe80::1%eth0", " example.com:80",
	};
	struct t2s_endpoint ep;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int r = endpoint_parse(&ep, bad[i], 1080);

		if (r != -EINVAL)
			fail_msg("accepted \"%s\" (%d)", bad[i], r);
	}
	assert_int_equal(endpoint_parse(&ep, NULL, 80), -EINVAL);
}

/* On failure the output is left as it was. */
static void
test_parse_failure_keeps_output(void **state)
{
	struct t2s_endpoint ep, before;

	(void)state;
	assert_int_equal(endpoint_parse(&ep, "192.0.2.9:9", -1), 0);
	before = ep;
	assert_int_equal(endpoint_parse(&ep, "example.com:0", -1), -EINVAL);
	assert_memory_equal(&ep, &before, sizeof(ep));
	assert_int_equal(endpoint_parse(&ep, "bad host:80", -1), -EINVAL);
	assert_memory_equal(&ep, &before, sizeof(ep));
}

static void
test_set_domain(void **state)
{
	struct t2s_endpoint ep;
	char name[256];

	(void)state;
	/* Only the first len bytes are taken, and the copy is NUL-terminated. */
	assert_int_equal(endpoint_set_domain(&ep, "example.comXYZ", 11, 443), 0);
	assert_int_equal(ep.type, T2S_ENDPOINT_DOMAIN);
	assert_int_equal(ep.u.domain.len, 11);
	assert_string_equal(ep.u.domain.name, "example.com");
	assert_int_equal(ep.port, 443);

	memset(name, 'z', sizeof(name));
	assert_int_equal(endpoint_set_domain(&ep, name, 255, 1), 0);
	assert_int_equal(ep.u.domain.len, 255);
	assert_int_equal(ep.u.domain.name[255], '\0');
	assert_int_equal(endpoint_set_domain(&ep, name, 256, 1), -EINVAL);
	assert_int_equal(endpoint_set_domain(&ep, name, 0, 1), -EINVAL);
	assert_int_equal(endpoint_set_domain(&ep, NULL, 3, 1), -EINVAL);
}

static void
test_format(void **state)
{
	struct t2s_endpoint ep;
	char buf[T2S_ENDPOINT_STRLEN];
	char small[8];

	(void)state;
	/* Truncated output is still terminated. */
	assert_int_equal(endpoint_parse(&ep, "192.0.2.100:8080", -1), 0);
	memset(small, 'X', sizeof(small));
	assert_ptr_equal(endpoint_format(&ep, small, sizeof(small)), small);
	assert_string_equal(small, "192.0.2");
	memset(small, 'X', sizeof(small));
	endpoint_format(&ep, small, 1);
	assert_int_equal(small[0], '\0');
	assert_int_equal(small[1], 'X');
	memset(small, 'X', sizeof(small));
	endpoint_format(&ep, small, 0);
	assert_int_equal(small[0], 'X');

	/* Names from the wire may hold any byte; logs get '?' instead. */
	assert_int_equal(endpoint_set_domain(&ep, "a\nb\0c d\x7f\xc3", 9, 7), 0);
	endpoint_format(&ep, buf, sizeof(buf));
	assert_string_equal(buf, "a?b?c?d??:7");

	memset(&ep, 0, sizeof(ep));
	endpoint_format(&ep, buf, sizeof(buf));
	assert_string_equal(buf, "(none)");
}

static void
test_sockaddr_ipv4(void **state)
{
	struct sockaddr_storage ss;
	struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
	struct t2s_endpoint ep, back;
	socklen_t len = 0;

	(void)state;
	assert_int_equal(endpoint_parse(&ep, "192.0.2.1:1080", -1), 0);
	memset(&ss, 0xa5, sizeof(ss));
	assert_int_equal(endpoint_to_sockaddr(&ep, &ss, &len), 0);
	assert_int_equal(len, sizeof(struct sockaddr_in));
	assert_int_equal(sin->sin_family, AF_INET);
	assert_int_equal(sin->sin_port, htons(1080));
	assert_int_equal(sin->sin_addr.s_addr, htonl(0xc0000201));
	assert_int_equal(sin->sin_zero[0], 0);

	memset(&back, 0xa5, sizeof(back));
	assert_int_equal(endpoint_from_sockaddr(&back, (struct sockaddr *)&ss), 0);
	assert_int_equal(back.type, T2S_ENDPOINT_IPV4);
	assert_true(endpoint_equal(&ep, &back));
}

static void
test_sockaddr_ipv6(void **state)
{
	struct sockaddr_storage ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;
	struct sockaddr_in6 ref;
	struct t2s_endpoint ep, back;
	socklen_t len = 0;

	(void)state;
	assert_int_equal(endpoint_parse(&ep, "[2001:db8::1]:443", -1), 0);
	memset(&ss, 0xa5, sizeof(ss));
	assert_int_equal(endpoint_to_sockaddr(&ep, &ss, &len), 0);
	assert_int_equal(len, sizeof(struct sockaddr_in6));
	assert_int_equal(sin6->sin6_family, AF_INET6);
	assert_int_equal(sin6->sin6_port, htons(443));
	assert_int_equal(sin6->sin6_flowinfo, 0);
	assert_int_equal(sin6->sin6_scope_id, 0);
	assert_int_equal(inet_pton(AF_INET6, "2001:db8::1", &ref.sin6_addr), 1);
	assert_memory_equal(&sin6->sin6_addr, &ref.sin6_addr, 16);

	assert_int_equal(endpoint_from_sockaddr(&back, (struct sockaddr *)&ss), 0);
	assert_int_equal(back.type, T2S_ENDPOINT_IPV6);
	assert_true(endpoint_equal(&ep, &back));

	/* A length pointer is optional. */
	assert_int_equal(endpoint_to_sockaddr(&ep, &ss, NULL), 0);
}

static void
test_sockaddr_unsupported(void **state)
{
	struct sockaddr_storage ss;
	struct sockaddr_un sun;
	struct t2s_endpoint ep, before;
	socklen_t len = 0;

	(void)state;
	assert_int_equal(endpoint_parse(&ep, "example.com:80", -1), 0);
	assert_int_equal(endpoint_to_sockaddr(&ep, &ss, &len), -EAFNOSUPPORT);
	memset(&ep, 0, sizeof(ep));
	assert_int_equal(endpoint_to_sockaddr(&ep, &ss, &len), -EAFNOSUPPORT);

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	assert_int_equal(endpoint_parse(&ep, "192.0.2.1:1", -1), 0);
	before = ep;
	assert_int_equal(endpoint_from_sockaddr(&ep, (struct sockaddr *)&sun), -EAFNOSUPPORT);
	assert_memory_equal(&ep, &before, sizeof(ep));
}

static void
test_equal(void **state)
{
	struct t2s_endpoint a, b;

	(void)state;
	assert_int_equal(endpoint_parse(&a, "192.0.2.1:80", -1), 0);
	assert_int_equal(endpoint_parse(&b, "192.0.2.1:80", -1), 0);
	assert_true(endpoint_equal(&a, &b));
	assert_int_equal(endpoint_parse(&b, "192.0.2.1:81", -1), 0);
	assert_false(endpoint_equal(&a, &b));
	assert_int_equal(endpoint_parse(&b, "192.0.2.2:80", -1), 0);
	assert_false(endpoint_equal(&a, &b));
	/* Same four bytes as an IPv4-mapped IPv6 address is another type. */
	assert_int_equal(endpoint_parse(&b, "[::ffff:192.0.2.1]:80", -1), 0);
	assert_false(endpoint_equal(&a, &b));

	assert_int_equal(endpoint_parse(&a, "[2001:db8::1]:80", -1), 0);
	assert_int_equal(endpoint_parse(&b, "[2001:db8:0::1]:80", -1), 0);
	assert_true(endpoint_equal(&a, &b));
	assert_int_equal(endpoint_parse(&b, "[2001:db8::2]:80", -1), 0);
	assert_false(endpoint_equal(&a, &b));

	assert_int_equal(endpoint_parse(&a, "example.com:80", -1), 0);
	assert_int_equal(endpoint_parse(&b, "EXAMPLE.com:80", -1), 0);
	assert_true(endpoint_equal(&a, &b));
	assert_int_equal(endpoint_parse(&b, "example.co:80", -1), 0);
	assert_false(endpoint_equal(&a, &b));
	assert_int_equal(endpoint_parse(&b, "example.con:80", -1), 0);
	assert_false(endpoint_equal(&a, &b));
	assert_int_equal(endpoint_parse(&b, "example.com:81", -1), 0);
	assert_false(endpoint_equal(&a, &b));
	assert_int_equal(endpoint_parse(&b, "93.184.216.34:80", -1), 0);
	assert_false(endpoint_equal(&a, &b));

	/* Names from the wire may hold NUL bytes: the length decides, not the terminator. */
	assert_int_equal(endpoint_set_domain(&a, "ab\0", 3, 80), 0);
	assert_int_equal(endpoint_set_domain(&b, "ab", 2, 80), 0);
	assert_false(endpoint_equal(&a, &b));
	assert_false(endpoint_equal(&b, &a));
	assert_int_equal(endpoint_set_domain(&b, "AB\0", 3, 80), 0);
	assert_true(endpoint_equal(&a, &b));

	memset(&a, 0, sizeof(a));
	memset(&b, 0, sizeof(b));
	assert_true(endpoint_equal(&a, &b));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_ipv4),
		cmocka_unit_test(test_parse_ipv6),
		cmocka_unit_test(test_parse_domain),
		cmocka_unit_test(test_default_port),
		cmocka_unit_test(test_bad_ports),
		cmocka_unit_test(test_parse_port),
		cmocka_unit_test(test_bad_hosts),
		cmocka_unit_test(test_parse_failure_keeps_output),
		cmocka_unit_test(test_set_domain),
		cmocka_unit_test(test_format),
		cmocka_unit_test(test_sockaddr_ipv4),
		cmocka_unit_test(test_sockaddr_ipv6),
		cmocka_unit_test(test_sockaddr_unsupported),
		cmocka_unit_test(test_equal),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
