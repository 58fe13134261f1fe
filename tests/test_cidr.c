/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for cidr.c, the one "address/prefix" parser: both families, the family
 * filter, bare addresses, host bits kept, and the malformed prefixes it refuses.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include <cmocka.h>

#include "cidr.h"

static const char *
addr_text(const struct cidr *c)
{
	static char buf[INET6_ADDRSTRLEN];

	return inet_ntop(c->family, &c->addr, buf, sizeof(buf));
}

static void
test_ipv4(void **state)
{
	struct cidr c;

	(void)state;
	assert_int_equal(cidr_parse(&c, "198.18.0.1/15", AF_INET), 0);
	assert_int_equal(c.family, AF_INET);
	assert_string_equal(addr_text(&c), "198.18.0.1"); /* host bits kept */
	assert_int_equal(c.len, 15);
	assert_int_equal(cidr_parse(&c, "192.0.2.7", AF_UNSPEC), 0);
	assert_int_equal(c.family, AF_INET);
	assert_int_equal(c.len, 32);
	assert_int_equal(cidr_parse(&c, "0.0.0.0/0", AF_INET), 0);
	assert_int_equal(c.len, 0);
	assert_int_equal(cidr_parse(&c, "198.18.0.0/015", AF_INET), 0);
	assert_int_equal(c.len, 15);
}

static void
test_ipv6(void **state)
{
	struct cidr c;

	(void)state;
	assert_int_equal(cidr_parse(&c, "2001:2::1/64", AF_INET6), 0);
	assert_int_equal(c.family, AF_INET6);
	assert_string_equal(addr_text(&c), "2001:2::1");
	assert_int_equal(c.len, 64);
	assert_int_equal(cidr_parse(&c, "::1", AF_UNSPEC), 0);
	assert_int_equal(c.family, AF_INET6);
	assert_int_equal(c.len, 128);
	assert_int_equal(cidr_parse(&c, "::/0", AF_UNSPEC), 0);
	assert_int_equal(c.len, 0);
}

static void
test_family_filter(void **state)
{
	struct cidr c;

	(void)state;
	assert_int_equal(cidr_parse(&c, "2001:2::1/64", AF_INET), -EINVAL);
	assert_int_equal(cidr_parse(&c, "198.18.0.1/15", AF_INET6), -EINVAL);
	/* An IPv4-mapped literal is IPv6 text. */
	assert_int_equal(cidr_parse(&c, "::ffff:198.18.0.1", AF_INET), -EINVAL);
	assert_int_equal(cidr_parse(&c, "::ffff:198.18.0.1", AF_INET6), 0);
}

static void
test_bad(void **state)
{
	static const char *const bad[] = {
		"",
		"/24",
		"198.18.0.0/",
		"198.18.0.0/33",
		"198.18.0.0/-1",
		"198.18.0.0/+8",
		"198.18.0.0/ 8",
		"198.18.0.0/8 ",
		"198.18.0.0/8/8",
		"198.18.0.0/0x8",
		"198.18.0.0/99999999999999999999999",
		"198.18.0",
		"198.18.0.256",
		"fe80::1/129",
		"fe80::1%lo/64",
		"example.com/8",
		"2001:2:0:0:0:0:0:0:0:0:0:0:0:0:0:0:0:0:0:0:1/64", /* longer than any address */
	};
	struct cidr c;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (cidr_parse(&c, bad[i], AF_UNSPEC) != -EINVAL)
			fail_msg("accepted \"%s\"", bad[i]);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ipv4),
		cmocka_unit_test(test_ipv6),
		cmocka_unit_test(test_family_filter),
		cmocka_unit_test(test_bad),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
