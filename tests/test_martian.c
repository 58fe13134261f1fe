/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for martian.c: packets built with pktbuild and parsed by packet_parse are
 * classified by source and destination (every class of both families, the edges of
 * each range, the TUN subnet's broadcast and network addresses), and only the classes
 * with a unicast sender and destination are answered.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "martian.h"
#include "packet.h"
#include "support/pktbuild.h"

/* Builds a UDP (or TCP SYN) packet from src to dst, parses it and classifies it. */
static enum martian
classify_proto(int family, const char *src, const char *dst, bool tcp, const struct martian_tun_net *net)
{
	struct pktbuild_ip ip;
	struct packet_info info;
	uint8_t buf[256];
	size_t len;

	pktbuild_ip_init(&ip, family, src, dst);
	if (tcp)
		len = pktbuild_tcp(buf, sizeof(buf), &ip,
				   &(struct pktbuild_tcp){.sport = 40000, .dport = 80, .seq = 7, .flags = 0x02,
							  .window = 65535});
	else
		len = pktbuild_udp(buf, sizeof(buf), &ip,
				   &(struct pktbuild_udp){.sport = 40000, .dport = 53, .len_field = -1,
							  .payload = (const uint8_t *)"q", .payload_len = 1});
	assert_int_equal(packet_parse(buf, len, &info), 0);
	return martian_classify(&info, net);
}

static enum martian
classify(int family, const char *src, const char *dst)
{
	enum martian udp = classify_proto(family, src, dst, false, NULL);

	/* The protocol never matters. */
	assert_int_equal(classify_proto(family, src, dst, true, NULL), udp);
	return udp;
}

static void
test_ipv4_destinations(void **state)
{
	(void)state;
	assert_int_equal(classify(4, "198.18.128.1", "198.19.0.10"), MARTIAN_NONE);
	assert_int_equal(classify(4, "198.18.128.1", "0.0.0.0"), MARTIAN_THIS_NET);
	assert_int_equal(classify(4, "198.18.128.1", "0.255.255.255"), MARTIAN_THIS_NET);
	assert_int_equal(classify(4, "198.18.128.1", "1.0.0.0"), MARTIAN_NONE);
	assert_int_equal(classify(4, "198.18.128.1", "127.0.0.1"), MARTIAN_LOOPBACK);
	assert_int_equal(classify(4, "198.18.128.1", "127.255.255.254"), MARTIAN_LOOPBACK);
	assert_int_equal(classify(4, "198.18.128.1", "126.255.255.255"), MARTIAN_NONE);
	assert_int_equal(classify(4, "198.18.128.1", "128.0.0.0"), MARTIAN_NONE);
	assert_int_equal(classify(4, "198.18.128.1", "224.0.0.251"), MARTIAN_MULTICAST);
	assert_int_equal(classify(4, "198.18.128.1", "239.255.255.250"), MARTIAN_MULTICAST);
	assert_int_equal(classify(4, "198.18.128.1", "223.255.255.255"), MARTIAN_NONE);
	/* Class E is reserved, but Linux routes it and some networks use it. */
	assert_int_equal(classify(4, "198.18.128.1", "240.0.0.1"), MARTIAN_NONE);
	assert_int_equal(classify(4, "198.18.128.1", "255.255.255.254"), MARTIAN_NONE);
	assert_int_equal(classify(4, "198.18.128.1", "255.255.255.255"), MARTIAN_BROADCAST);
	assert_int_equal(classify(4, "198.18.128.1", "169.254.169.254"), MARTIAN_LINK_LOCAL);
	assert_int_equal(classify(4, "198.18.128.1", "169.254.0.0"), MARTIAN_LINK_LOCAL);
	assert_int_equal(classify(4, "198.18.128.1", "169.253.255.255"), MARTIAN_NONE);
	assert_int_equal(classify(4, "198.18.128.1", "169.255.0.1"), MARTIAN_NONE);
	/* Private ranges are real hosts behind the proxy. */
	assert_int_equal(classify(4, "198.18.128.1", "10.1.2.3"), MARTIAN_NONE);
	assert_int_equal(classify(4, "198.18.128.1", "192.168.1.1"), MARTIAN_NONE);
}

static void
test_ipv4_sources(void **state)
{
	(void)state;
	assert_int_equal(classify(4, "0.0.0.0", "255.255.255.255"), MARTIAN_SOURCE); /* DHCP discover */
	assert_int_equal(classify(4, "0.1.2.3", "198.19.0.10"), MARTIAN_SOURCE);
	assert_int_equal(classify(4, "127.0.0.1", "198.19.0.10"), MARTIAN_SOURCE);
	assert_int_equal(classify(4, "224.0.0.1", "198.19.0.10"), MARTIAN_SOURCE);
	assert_int_equal(classify(4, "239.1.1.1", "198.19.0.10"), MARTIAN_SOURCE);
	assert_int_equal(classify(4, "255.255.255.255", "198.19.0.10"), MARTIAN_SOURCE);
	/* A source is judged before the destination: no answer may go to it. */
	assert_int_equal(classify(4, "127.0.0.1", "0.0.0.0"), MARTIAN_SOURCE);
	/* Link-local sources are on the TUN's own link: replies reach them. */
	assert_int_equal(classify(4, "169.254.1.1", "198.19.0.10"), MARTIAN_NONE);
}

static void
test_tun_subnet_broadcast(void **state)
{
	struct martian_tun_net net = {.has_net4 = true, .addr4 = {198, 18, 128, 1}, .prefix4 = 24};

	(void)state;
	assert_int_equal(classify_proto(4, "198.18.128.1", "198.18.128.255", false, &net), MARTIAN_BROADCAST);
	assert_int_equal(classify_proto(4, "198.18.128.1", "198.18.128.255", true, &net), MARTIAN_BROADCAST);
	assert_int_equal(classify_proto(4, "198.18.128.1", "198.18.128.0", false, &net), MARTIAN_BROADCAST);
	assert_int_equal(classify_proto(4, "198.18.128.1", "198.18.128.254", false, &net), MARTIAN_NONE);
	assert_int_equal(classify_proto(4, "198.18.128.1", "198.18.129.255", false, &net), MARTIAN_NONE);
	/* Without the subnet, the same address is an ordinary one. */
	assert_int_equal(classify_proto(4, "198.18.128.1", "198.18.128.255", false, NULL), MARTIAN_NONE);
	net.has_net4 = false;
	assert_int_equal(classify_proto(4, "198.18.128.1", "198.18.128.255", false, &net), MARTIAN_NONE);
	net.has_net4 = true;
	/* A /15 (the README's old example): its last and first address. */
	net.prefix4 = 15;
	memcpy(net.addr4, (uint8_t[]){198, 18, 0, 1}, 4);
	assert_int_equal(classify_proto(4, "198.18.0.1", "198.19.255.255", false, &net), MARTIAN_BROADCAST);
	assert_int_equal(classify_proto(4, "198.18.0.1", "198.18.0.0", false, &net), MARTIAN_BROADCAST);
	assert_int_equal(classify_proto(4, "198.18.0.1", "198.18.255.255", false, &net), MARTIAN_NONE);
	/* /31 (RFC 3021) and /32 have no broadcast address. */
	net.prefix4 = 31;
	memcpy(net.addr4, (uint8_t[]){192, 0, 2, 0}, 4);
	assert_int_equal(classify_proto(4, "192.0.2.0", "192.0.2.1", false, &net), MARTIAN_NONE);
	net.prefix4 = 32;
	memcpy(net.addr4, (uint8_t[]){192, 0, 2, 1}, 4);
	assert_int_equal(classify_proto(4, "192.0.2.1", "192.0.2.1", false, &net), MARTIAN_NONE);
	/* /30: network and broadcast of four addresses. */
	net.prefix4 = 30;
	assert_int_equal(classify_proto(4, "192.0.2.1", "192.0.2.3", false, &net), MARTIAN_BROADCAST);
	assert_int_equal(classify_proto(4, "192.0.2.1", "192.0.2.0", false, &net), MARTIAN_BROADCAST);
	assert_int_equal(classify_proto(4, "192.0.2.1", "192.0.2.2", false, &net), MARTIAN_NONE);
}

static void
test_ipv6(void **state)
{
	(void)state;
	assert_int_equal(classify(6, "2001:2:0:ff::1", "2001:2:0:2::10"), MARTIAN_NONE);
	assert_int_equal(classify(6, "2001:2:0:ff::1", "::"), MARTIAN_THIS_NET);
	assert_int_equal(classify(6, "2001:2:0:ff::1", "::1"), MARTIAN_LOOPBACK);
	assert_int_equal(classify(6, "2001:2:0:ff::1", "::2"), MARTIAN_V4_IN_V6);
	assert_int_equal(classify(6, "2001:2:0:ff::1", "::127.0.0.1"), MARTIAN_V4_IN_V6);
	assert_int_equal(classify(6, "2001:2:0:ff::1", "::ffff:127.0.0.1"), MARTIAN_V4_IN_V6);
	assert_int_equal(classify(6, "2001:2:0:ff::1", "::ffff:198.19.0.10"), MARTIAN_V4_IN_V6);
	assert_int_equal(classify(6, "2001:2:0:ff::1", "::1:0:0:0"), MARTIAN_NONE);
	assert_int_equal(classify(6, "2001:2:0:ff::1", "::fffe:1.2.3.4"), MARTIAN_NONE);
	/* NAT64 is a real path to IPv4 hosts. */
	assert_int_equal(classify(6, "2001:2:0:ff::1", "64:ff9b::198.19.0.10"), MARTIAN_NONE);
	assert_int_equal(classify(6, "2001:2:0:ff::1", "ff02::fb"), MARTIAN_MULTICAST);
	assert_int_equal(classify(6, "2001:2:0:ff::1", "ff05::1:3"), MARTIAN_MULTICAST);
	assert_int_equal(classify(6, "2001:2:0:ff::1", "fe80::1"), MARTIAN_LINK_LOCAL);
	assert_int_equal(classify(6, "2001:2:0:ff::1", "febf:ffff::1"), MARTIAN_LINK_LOCAL);
	assert_int_equal(classify(6, "2001:2:0:ff::1", "fec0::1"), MARTIAN_NONE);
	assert_int_equal(classify(6, "2001:2:0:ff::1", "fe7f::1"), MARTIAN_NONE);
	assert_int_equal(classify(6, "2001:2:0:ff::1", "fd00:7432:7373::5"), MARTIAN_NONE);

	assert_int_equal(classify(6, "::", "ff02::2"), MARTIAN_SOURCE); /* router solicitation */
	assert_int_equal(classify(6, "::1", "2001:2:0:2::10"), MARTIAN_SOURCE);
	assert_int_equal(classify(6, "ff02::1", "2001:2:0:2::10"), MARTIAN_SOURCE);
	assert_int_equal(classify(6, "::ffff:198.18.0.1", "2001:2:0:2::10"), MARTIAN_SOURCE);
	assert_int_equal(classify(6, "fe80::1", "2001:2:0:2::10"), MARTIAN_NONE);
	assert_int_equal(classify(6, "::5", "2001:2:0:2::10"), MARTIAN_NONE);
}

static void
test_answers(void **state)
{
	(void)state;
	assert_false(martian_answer(MARTIAN_NONE));
	assert_false(martian_answer(MARTIAN_SOURCE));
	assert_false(martian_answer(MARTIAN_MULTICAST));
	assert_false(martian_answer(MARTIAN_BROADCAST));
	assert_true(martian_answer(MARTIAN_THIS_NET));
	assert_true(martian_answer(MARTIAN_LOOPBACK));
	assert_true(martian_answer(MARTIAN_LINK_LOCAL));
	assert_true(martian_answer(MARTIAN_V4_IN_V6));
	for (int m = MARTIAN_NONE; m <= MARTIAN_V4_IN_V6; m++)
		assert_string_not_equal(martian_str((enum martian)m), "unknown");
	assert_string_equal(martian_str((enum martian)99), "unknown");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ipv4_destinations),
		cmocka_unit_test(test_ipv4_sources),
		cmocka_unit_test(test_tun_subnet_broadcast),
		cmocka_unit_test(test_ipv6),
		cmocka_unit_test(test_answers),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
