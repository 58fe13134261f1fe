/* SPDX-License-Identifier: MIT */
/* resolved_link's pure half: which server and settings the TUN's link gets, and their
 * text. (The bus half runs against the real systemd-resolved in tests/e2e/t69.) */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <string.h>
#include <sys/socket.h>

#include "resolved_link.h"

static struct in_addr
stub(void)
{
	struct in_addr a;

	inet_pton(AF_INET, "192.0.2.53", &a);
	return a;
}

/* --dns-server wins over the stub, and DNSSEC/DoT stay the user's. */
static void
test_dns_server(void **state)
{
	struct netlink_prefix v4 = {.family = AF_INET, .len = 32}, v6 = {.family = AF_INET6, .len = 128};
	struct in_addr s = stub();
	struct resolved_link_plan p;
	char buf[128];

	(void)state;
	inet_pton(AF_INET, "198.51.100.53", &v4.addr.v4);
	assert_int_equal(resolved_link_plan_build(&v4, &s, 7, &p), 0);
	assert_int_equal(p.ifindex, 7);
	assert_int_equal(p.family, AF_INET);
	assert_memory_equal(p.addr, &v4.addr.v4, 4);
	assert_false(p.stub);
	assert_true(resolved_link_plan_format(&p, buf, sizeof(buf)) > 0);
	assert_string_equal(buf, "dns 198.51.100.53 domain ~. default-route yes");

	inet_pton(AF_INET6, "2001:db8::53", &v6.addr.v6);
	assert_int_equal(resolved_link_plan_build(&v6, NULL, 3, &p), 0);
	assert_int_equal(p.family, AF_INET6);
	assert_memory_equal(p.addr, &v6.addr.v6, 16);
	assert_false(p.stub);
	assert_true(resolved_link_plan_format(&p, buf, sizeof(buf)) > 0);
	assert_string_equal(buf, "dns 2001:db8::53 domain ~. default-route yes");
}

/* No --dns-server: tun2socks' own stub, which speaks neither DNSSEC nor DoT. */
static void
test_stub(void **state)
{
	struct netlink_prefix none = {0};
	struct in_addr s = stub();
	struct resolved_link_plan p;
	char buf[128];

	(void)state;
	assert_int_equal(resolved_link_plan_build(&none, &s, 12, &p), 0);
	assert_int_equal(p.family, AF_INET);
	assert_memory_equal(p.addr, &s, 4);
	assert_true(p.stub);
	assert_true(resolved_link_plan_format(&p, buf, sizeof(buf)) > 0);
	assert_string_equal(buf, "dns 192.0.2.53 domain ~. default-route yes dnssec no dnsovertls no");
	assert_int_equal(resolved_link_plan_build(NULL, &s, 12, &p), 0);
	assert_true(p.stub);
}

static void
test_bad(void **state)
{
	struct netlink_prefix none = {0};
	struct in_addr s = stub();
	struct resolved_link_plan p;
	char buf[16];

	(void)state;
	assert_int_equal(resolved_link_plan_build(&none, &s, 0, &p), -EINVAL);   /* no such link */
	assert_int_equal(resolved_link_plan_build(&none, &s, -1, &p), -EINVAL);
	assert_int_equal(resolved_link_plan_build(&none, NULL, 4, &p), -EINVAL); /* no server at all */
	assert_int_equal(resolved_link_plan_build(&none, &s, 4, &p), 0);
	assert_int_equal(resolved_link_plan_format(&p, buf, sizeof(buf)), -ENOSPC);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_dns_server),
		cmocka_unit_test(test_stub),
		cmocka_unit_test(test_bad),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
