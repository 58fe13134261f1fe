/* SPDX-License-Identifier: MIT */
/* Unit tests for dns_local_decide: which captured DNS queries the proxy cannot reach. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <arpa/inet.h>
#include <cmocka.h>
#include <string.h>

#include "capture.h"
#include "dns_local.h"

static struct t2s_config cfg;

static enum dns_local_action
decide(const char *addr, uint16_t port)
{
	uint8_t a[16] = {0};
	int family = strchr(addr, ':') != NULL ? 6 : 4;

	assert_int_equal(inet_pton(family == 4 ? AF_INET : AF_INET6, addr, a), 1);
	return dns_local_decide(&cfg, family, a, port);
}

static int
setup(void **state)
{
	(void)state;
	config_defaults(&cfg);
	cfg.auto_route = true;
	assert_int_equal(capture_prefix_parse("198.19.7.0/24", &cfg.exclude[0]), 0);
	assert_int_equal(capture_prefix_parse("2001:2:0:7::/64", &cfg.exclude[1]), 0);
	assert_int_equal(capture_prefix_parse("198.18.3.1", &cfg.exclude[2]), 0);
	cfg.n_exclude = 3;
	return 0;
}

static void
excluded_and_link_local(void **state)
{
	(void)state;
	assert_int_equal(decide("198.19.7.1", 53), DNS_LOCAL_REFUSE);
	assert_int_equal(decide("198.19.7.255", 53), DNS_LOCAL_REFUSE);
	assert_int_equal(decide("198.18.3.1", 53), DNS_LOCAL_REFUSE);
	assert_int_equal(decide("2001:2:0:7::53", 53), DNS_LOCAL_REFUSE);
	assert_int_equal(decide("169.254.1.1", 53), DNS_LOCAL_REFUSE);
	assert_int_equal(decide("fe80::1", 53), DNS_LOCAL_REFUSE);
	assert_int_equal(decide("febf::1", 53), DNS_LOCAL_REFUSE);
	/* Just outside. */
	assert_int_equal(decide("198.19.8.1", 53), DNS_LOCAL_PASS);
	assert_int_equal(decide("198.18.3.2", 53), DNS_LOCAL_PASS);
	assert_int_equal(decide("2001:2:0:8::53", 53), DNS_LOCAL_PASS);
	assert_int_equal(decide("169.253.1.1", 53), DNS_LOCAL_PASS);
	assert_int_equal(decide("fec0::1", 53), DNS_LOCAL_PASS);
	assert_int_equal(decide("192.168.1.1", 53), DNS_LOCAL_PASS); /* not excluded: the proxy may reach it */
	/* An IPv4 exclusion says nothing about IPv6 (and the reverse). */
	assert_int_equal(decide("c613:701::", 53), DNS_LOCAL_PASS);
	/* Only DNS. */
	assert_int_equal(decide("198.19.7.1", 853), DNS_LOCAL_PASS);
	assert_int_equal(decide("198.19.7.1", 5353), DNS_LOCAL_PASS);
}

static void
redirect_with_server(void **state)
{
	struct t2s_endpoint ep;

	(void)state;
	assert_false(dns_local_server(&cfg, &ep));
	assert_int_equal(capture_prefix_parse("198.18.0.53", &cfg.dns_server), 0);
	assert_int_equal(decide("198.19.7.1", 53), DNS_LOCAL_REDIRECT);
	assert_int_equal(decide("fe80::1", 53), DNS_LOCAL_REDIRECT);
	assert_int_equal(decide("198.19.8.1", 53), DNS_LOCAL_PASS);
	assert_true(dns_local_server(&cfg, &ep));
	assert_int_equal(ep.type, T2S_ENDPOINT_IPV4);
	assert_int_equal(ep.port, 53);
	assert_memory_equal(ep.u.ipv4, "\xc6\x12\x00\x35", 4);
	assert_int_equal(capture_prefix_parse("2001:2::53", &cfg.dns_server), 0);
	assert_true(dns_local_server(&cfg, &ep));
	assert_int_equal(ep.type, T2S_ENDPOINT_IPV6);
	assert_int_equal(ep.u.ipv6[15], 0x53);
	memset(&cfg.dns_server, 0, sizeof(cfg.dns_server));
}

static void
only_when_captured(void **state)
{
	(void)state;
	/* --exclude-dns: such queries are not captured at all; never refuse one that arrives. */
	cfg.exclude_dns = true;
	assert_int_equal(decide("198.19.7.1", 53), DNS_LOCAL_PASS);
	assert_int_equal(decide("fe80::1", 53), DNS_LOCAL_PASS);
	cfg.exclude_dns = false;
	/* No capture mode: whatever the user routes into the TUN goes to the proxy as it is. */
	cfg.auto_route = false;
	assert_int_equal(decide("169.254.1.1", 53), DNS_LOCAL_PASS);
	strcpy(cfg.share_from, "lan0");
	assert_int_equal(decide("169.254.1.1", 53), DNS_LOCAL_REFUSE);
	cfg.share_from[0] = '\0';
	cfg.netns = "/run/netns/x";
	assert_int_equal(decide("169.254.1.1", 53), DNS_LOCAL_REFUSE);
	cfg.netns = NULL;
	cfg.auto_route = true;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(excluded_and_link_local),
		cmocka_unit_test(redirect_with_server),
		cmocka_unit_test(only_when_captured),
	};

	return cmocka_run_group_tests(tests, setup, NULL);
}
