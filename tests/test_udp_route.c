/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for udp_route_decide: where a UDP datagram goes, for every combination of
 * port, DNS mode, proxy UDP health, the command's nameserver and fake-ip's verdict.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "udp_route.h"

static enum udp_route_action
decide(uint16_t dport, enum config_dns_mode mode, enum udp_route health, bool to_stub, bool fake_passed)
{
	struct udp_route_facts f = {
		.dport = dport,
		.dns_mode = mode,
		.health = health,
		.to_stub = to_stub,
		.fake_passed = fake_passed,
	};

	return udp_route_decide(&f);
}

static void
ignored(void **state)
{
	struct udp_route_facts f = {.dport = 53, .stopping = true, .dns_mode = CONFIG_DNS_FAKE_IP};

	(void)state;
	assert_int_equal(udp_route_decide(&f), UDP_ROUTE_IGNORE);
	assert_int_equal(decide(0, CONFIG_DNS_UDP, UDP_ROUTE_ASSOCIATE, false, false), UDP_ROUTE_IGNORE);
}

static void
plain_udp(void **state)
{
	(void)state;
	assert_int_equal(decide(443, CONFIG_DNS_UDP, UDP_ROUTE_ASSOCIATE, false, false), UDP_ROUTE_MAPPING);
	assert_int_equal(decide(53, CONFIG_DNS_UDP, UDP_ROUTE_ASSOCIATE, false, false), UDP_ROUTE_MAPPING);
	/* Fake-ip and DNS over TCP are about port 53 only. */
	assert_int_equal(decide(443, CONFIG_DNS_FAKE_IP, UDP_ROUTE_ASSOCIATE, false, false), UDP_ROUTE_MAPPING);
	assert_int_equal(decide(443, CONFIG_DNS_TCP, UDP_ROUTE_ASSOCIATE, false, false), UDP_ROUTE_MAPPING);
}

static void
no_udp_at_the_proxy(void **state)
{
	(void)state;
	/* udp_health says "refuse" for all but DNS, which it sends over TCP. */
	assert_int_equal(decide(443, CONFIG_DNS_UDP, UDP_ROUTE_REFUSE, false, false), UDP_ROUTE_UNREACHABLE);
	assert_int_equal(decide(53, CONFIG_DNS_UDP, UDP_ROUTE_DNS_TCP, false, false), UDP_ROUTE_OVER_TCP);
	/* A health verdict of "refuse" for port 53 itself (UDP off): refused too. */
	assert_int_equal(decide(53, CONFIG_DNS_UDP, UDP_ROUTE_REFUSE, false, false), UDP_ROUTE_UNREACHABLE);
}

static void
dns_over_tcp(void **state)
{
	(void)state;
	assert_int_equal(decide(53, CONFIG_DNS_TCP, UDP_ROUTE_ASSOCIATE, false, false), UDP_ROUTE_OVER_TCP);
	assert_int_equal(decide(53, CONFIG_DNS_TCP, UDP_ROUTE_REFUSE, false, false), UDP_ROUTE_OVER_TCP);
}

static void
fake_ip(void **state)
{
	(void)state;
	/* Offered to the pool first; what it passes on is DNS like any other. */
	assert_int_equal(decide(53, CONFIG_DNS_FAKE_IP, UDP_ROUTE_ASSOCIATE, false, false), UDP_ROUTE_FAKE_ANSWER);
	assert_int_equal(decide(53, CONFIG_DNS_FAKE_IP, UDP_ROUTE_ASSOCIATE, false, true), UDP_ROUTE_MAPPING);
	assert_int_equal(decide(53, CONFIG_DNS_FAKE_IP, UDP_ROUTE_DNS_TCP, false, true), UDP_ROUTE_OVER_TCP);
	assert_int_equal(decide(53, CONFIG_DNS_FAKE_IP, UDP_ROUTE_REFUSE, false, true), UDP_ROUTE_UNREACHABLE);
}

static void
command_nameserver(void **state)
{
	(void)state;
	/* Never relayed: fake-ip's answer where it has one, else REFUSED, whatever the health. */
	assert_int_equal(decide(53, CONFIG_DNS_UDP, UDP_ROUTE_ASSOCIATE, true, false), UDP_ROUTE_STUB_REFUSAL);
	assert_int_equal(decide(53, CONFIG_DNS_TCP, UDP_ROUTE_DNS_TCP, true, false), UDP_ROUTE_STUB_REFUSAL);
	assert_int_equal(decide(53, CONFIG_DNS_FAKE_IP, UDP_ROUTE_ASSOCIATE, true, false), UDP_ROUTE_FAKE_ANSWER);
	assert_int_equal(decide(53, CONFIG_DNS_FAKE_IP, UDP_ROUTE_DNS_TCP, true, true), UDP_ROUTE_STUB_REFUSAL);
}

/* A captured query to an excluded or link-local server (dns_local.h). */
static void
local_server(void **state)
{
	static const enum config_dns_mode modes[] = {CONFIG_DNS_UDP, CONFIG_DNS_TCP};
	static const enum udp_route healths[] = {UDP_ROUTE_ASSOCIATE, UDP_ROUTE_DNS_TCP, UDP_ROUTE_REFUSE};
	struct udp_route_facts f = {.dport = 53};
	unsigned i, j;

	(void)state;
	/* Whatever the mode and the proxy's UDP: to --dns-server over TCP, or REFUSED. */
	for (i = 0; i < 2; i++) {
		for (j = 0; j < 3; j++) {
			f.dns_mode = modes[i];
			f.health = healths[j];
			f.dns_local = DNS_LOCAL_REDIRECT;
			assert_int_equal(udp_route_decide(&f), UDP_ROUTE_DNS_REDIRECT);
			f.dns_local = DNS_LOCAL_REFUSE;
			assert_int_equal(udp_route_decide(&f), UDP_ROUTE_DNS_REFUSAL);
			f.dns_local = DNS_LOCAL_PASS;
			assert_int_not_equal(udp_route_decide(&f), UDP_ROUTE_DNS_REFUSAL);
		}
	}
	/* Fake-ip answers first; what it passes on (not A/AAAA) is redirected or refused. */
	f.dns_mode = CONFIG_DNS_FAKE_IP;
	f.health = UDP_ROUTE_ASSOCIATE;
	f.dns_local = DNS_LOCAL_REFUSE;
	assert_int_equal(udp_route_decide(&f), UDP_ROUTE_FAKE_ANSWER);
	f.fake_passed = true;
	assert_int_equal(udp_route_decide(&f), UDP_ROUTE_DNS_REFUSAL);
	f.dns_local = DNS_LOCAL_REDIRECT;
	assert_int_equal(udp_route_decide(&f), UDP_ROUTE_DNS_REDIRECT);
	/* Stopping still wins. */
	f.stopping = true;
	assert_int_equal(udp_route_decide(&f), UDP_ROUTE_IGNORE);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(ignored),
		cmocka_unit_test(plain_udp),
		cmocka_unit_test(no_udp_at_the_proxy),
		cmocka_unit_test(dns_over_tcp),
		cmocka_unit_test(fake_ip),
		cmocka_unit_test(command_nameserver),
		cmocka_unit_test(local_server),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
