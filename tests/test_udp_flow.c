/* SPDX-License-Identifier: MIT */
/*
 * udp_flow in process, through the engine's top-level API only: t2s_new on a socketpair
 * TUN, datagrams built with pktbuild and written into it, the in-loop fake SOCKS5 server
 * as the proxy (its relay echoes each datagram back from its destination). Covered: one
 * association per application source, replies written back from the right address,
 * per-source mappings, idle expiry (the association closes, the next datagram opens a
 * new one), and refusal with ICMP port unreachable when the proxy has no UDP.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>
#include <ev.h>

#include "config.h"
#include "log.h"
#include "lwip_port.h"
#include "support/engine_fixture.h"
#include "support/fake_socks5.h"
#include "support/pktbuild.h"
#include "support/tcp_peer.h"
#include "t2s.h"
#include "udp_flow.h"
#include "tun.h"

#define APP_ADDR "198.18.0.1"
#define DST_ADDR "198.19.0.20"
#define DST_PORT 7000
#define WAIT 10.0

static struct ev_loop *g_loop;

#define ASSERT_WITHIN(cond, secs) \
	do { \
		WAIT_UNTIL(g_loop, cond, secs); \
		assert_true(cond); \
	} while (0)
#define RUN_FOR(secs) WAIT_UNTIL(g_loop, false, secs)

struct fx {
	struct fake_socks5 *fake;
	struct t2s_config cfg;
	struct t2s *t;
	struct tun_peer *peer;
};

static int
start(void **state, enum config_udp_mode mode, double udp_timeout, enum fake_socks5_reply reply)
{
	struct fx *x = calloc(1, sizeof(*x));

	assert_non_null(x);
	x->fake = fake_socks5_new(g_loop);
	fake_socks5_set_reply(x->fake, reply);
	config_defaults(&x->cfg);
	x->cfg.mtu = 1500;
	x->cfg.udp_mode = mode;
	x->cfg.udp_pool = 0; /* every association the fake sees is a mapping's */
	x->cfg.udp_timeout = udp_timeout;
	engine_fixture_open(g_loop, &x->cfg, fake_socks5_server(x->fake), 0, &x->t, &x->peer);
	*state = x;
	return 0;
}

static int
setup_associate(void **state)
{
	return start(state, CONFIG_UDP_ASSOCIATE, CONFIG_DEFAULT_UDP_TIMEOUT, FAKE_SOCKS5_REPLY_OK);
}

static int
setup_short_timeout(void **state)
{
	return start(state, CONFIG_UDP_ASSOCIATE, 1.0, FAKE_SOCKS5_REPLY_OK);
}

static int
setup_no_udp(void **state)
{
	return start(state, CONFIG_UDP_AUTO, CONFIG_DEFAULT_UDP_TIMEOUT, FAKE_SOCKS5_REPLY_UNSUPPORTED);
}

static int
setup_block(void **state)
{
	return start(state, CONFIG_UDP_BLOCK, CONFIG_DEFAULT_UDP_TIMEOUT, FAKE_SOCKS5_REPLY_OK);
}

static int
teardown(void **state)
{
	struct fx *x = *state;

	assert_int_equal(x->peer->bad_csum, 0);
	t2s_free(x->t);
	tun_peer_free(x->peer);
	fake_socks5_free(x->fake);
	free(x);
	return 0;
}

static void
send_udp(struct fx *x, uint16_t sport, const char *payload)
{
	struct pktbuild_ip ip;
	struct pktbuild_udp udp = {
		.sport = sport,
		.dport = DST_PORT,
		.len_field = -1,
		.payload = (const uint8_t *)payload,
		.payload_len = strlen(payload),
	};
	uint8_t pkt[600];
	size_t n;

	pktbuild_ip_init(&ip, 4, APP_ADDR, DST_ADDR);
	n = pktbuild_udp(pkt, sizeof(pkt), &ip, &udp);
	assert_true(tun_peer_send(x->peer, pkt, n));
}

/* How many UDP replies to APP_ADDR:dport carry payload, each checked: from
 * src:sport, with a valid checksum. */
static unsigned
replies_from(const struct fx *x, const char *src, uint16_t sport, uint16_t dport, const char *payload)
{
	unsigned n = 0, kept = x->peer->kept < TUN_PEER_KEPT ? x->peer->kept : TUN_PEER_KEPT;
	uint8_t app[4], dst[4];
	size_t plen = strlen(payload);

	inet_pton(AF_INET, APP_ADDR, app);
	inet_pton(AF_INET, src, dst);
	for (unsigned i = 0; i < kept; i++) {
		const struct tun_peer_pkt *k = &x->peer->other[i];
		const uint8_t *p = k->data;
		size_t ihl = (size_t)(p[0] & 15) * 4;

		if (p[9] != 17 || k->len != ihl + 8 + plen || pktbuild_rd16(p + ihl + 2) != dport ||
		    memcmp(p + ihl + 8, payload, plen) != 0)
			continue;
		assert_memory_equal(p + 12, dst, 4);
		assert_memory_equal(p + 16, app, 4);
		assert_int_equal(pktbuild_rd16(p + ihl), sport);
		if (pktbuild_rd16(p + ihl + 6) != 0)
			assert_int_equal(pktbuild_csum(pktbuild_pseudo(4, p + 12, p + 16, 17, k->len - ihl), p + ihl,
						       k->len - ihl),
					 0);
		n++;
	}
	return n;
}

static unsigned
replies(const struct fx *x, uint16_t dport, const char *payload)
{
	return replies_from(x, DST_ADDR, DST_PORT, dport, payload);
}

/* ICMP port unreachable quoting a datagram from sport, among the packets kept. */
static unsigned
port_unreachables(const struct fx *x, uint16_t sport)
{
	unsigned n = 0, kept = x->peer->kept < TUN_PEER_KEPT ? x->peer->kept : TUN_PEER_KEPT;

	for (unsigned i = 0; i < kept; i++) {
		const uint8_t *p = x->peer->other[i].data;
		size_t ihl = (size_t)(p[0] & 15) * 4;
		const uint8_t *q = p + ihl + 8;

		if (p[9] == 1 && p[ihl] == 3 && p[ihl + 1] == 3 && q[9] == 17 &&
		    pktbuild_rd16(q + (q[0] & 15) * 4) == sport &&
		    pktbuild_rd16(q + (q[0] & 15) * 4 + 2) == DST_PORT)
			n++;
	}
	return n;
}

/* Two datagrams from one source: one association, both relayed, both answered from the
 * destination's address and port; a datagram the relay says came from elsewhere reaches
 * the application from that address. */
static void
test_one_association(void **state)
{
	struct fx *x = *state;
	const struct fake_socks5_stats *st = fake_socks5_get_stats(x->fake);
	struct t2s_endpoint other = {.type = T2S_ENDPOINT_IPV4, .port = 9999};

	send_udp(x, 5000, "first datagram");
	ASSERT_WITHIN(replies(x, 5000, "first datagram") == 1, WAIT);
	send_udp(x, 5000, "second datagram");
	ASSERT_WITHIN(replies(x, 5000, "second datagram") == 1, WAIT);
	assert_int_equal(st->associated, 1);
	assert_int_equal(st->datagrams, 2);
	assert_int_equal(st->last_dst.type, T2S_ENDPOINT_IPV4);
	assert_int_equal(st->last_dst.port, DST_PORT);
	assert_int_equal(st->last_len, strlen("second datagram"));
	assert_memory_equal(st->last_payload, "second datagram", st->last_len);

	inet_pton(AF_INET, "198.19.0.99", other.u.ipv4);
	assert_int_equal(fake_socks5_send_to_clients(x->fake, &other, (const uint8_t *)"from elsewhere", 14), 1);
	ASSERT_WITHIN(replies_from(x, "198.19.0.99", 9999, 5000, "from elsewhere") == 1, WAIT);
}

static int
remember_mapping(void *arg, const struct flow_info *info)
{
	struct flow_info *last = arg;

	*last = *info;
	last->id++; /* (ids start at 1: 0 means "not seen") */
	return 0;
}

/* Accounting: payload bytes and datagrams each way, the last destination, the state. */
static void
test_accounting(void **state)
{
	struct fx *x = *state;
	struct flow_info seen = {0};
	uint8_t dst[4];

	send_udp(x, 5100, "0123456789");
	ASSERT_WITHIN(replies(x, 5100, "0123456789") == 1, WAIT);
	send_udp(x, 5100, "abc");
	ASSERT_WITHIN(replies(x, 5100, "abc") == 1, WAIT);
	assert_int_equal(udp_flows_foreach(x->t->udp, remember_mapping, &seen), 0);
	assert_true(seen.id > 0);
	assert_int_equal(seen.key.proto, 17);
	assert_int_equal(seen.key.app_port, 5100);
	assert_int_equal(seen.key.dst_port, DST_PORT);
	inet_pton(AF_INET, DST_ADDR, dst);
	assert_memory_equal(seen.key.dst_addr, dst, 4);
	assert_string_equal(seen.state, "mapped");
	assert_int_equal(seen.packets_out, 2);
	assert_int_equal(seen.packets_in, 2);
	assert_int_equal(seen.bytes_out, 13);
	assert_int_equal(seen.bytes_in, 13);
	assert_string_equal(seen.host, "");
}

/* Two sources, interleaved: one association each, each reply to its own source. */
static void
test_per_source(void **state)
{
	struct fx *x = *state;
	const struct fake_socks5_stats *st = fake_socks5_get_stats(x->fake);
	char msg[32];

	for (int round = 0; round < 3; round++) {
		for (uint16_t port = 5001; port <= 5002; port++) {
			snprintf(msg, sizeof(msg), "from %u round %d", port, round);
			send_udp(x, port, msg);
		}
		for (uint16_t port = 5001; port <= 5002; port++) {
			snprintf(msg, sizeof(msg), "from %u round %d", port, round);
			ASSERT_WITHIN(replies(x, port, msg) == 1, WAIT);
			snprintf(msg, sizeof(msg), "from %u round %d", port == 5001 ? 5002 : 5001, round);
			assert_int_equal(replies(x, port, msg), 0);
		}
	}
	assert_int_equal(st->associated, 2);
	assert_int_equal(st->datagrams, 6);
}

/* An idle mapping expires (udp_timeout 1 s): its association is closed; the next
 * datagram from the same source opens a new one. */
static void
test_expiry(void **state)
{
	struct fx *x = *state;
	const struct fake_socks5_stats *st = fake_socks5_get_stats(x->fake);

	send_udp(x, 5003, "before");
	ASSERT_WITHIN(replies(x, 5003, "before") == 1, WAIT);
	assert_int_equal(st->live, 1);
	RUN_FOR(0.3);
	assert_int_equal(st->live, 1); /* not before its time */
	ASSERT_WITHIN(st->live == 0, WAIT);
	send_udp(x, 5003, "after");
	ASSERT_WITHIN(replies(x, 5003, "after") == 1, WAIT);
	assert_int_equal(st->associated, 2);
}

/* The proxy answers UDP ASSOCIATE with REP 7: once that is known, datagrams (not DNS)
 * get ICMP port unreachable quoting them, and no association is ever made. */
static void
test_refused_without_udp(void **state)
{
	struct fx *x = *state;

	for (int i = 0; i < 50 && port_unreachables(x, 5004) == 0; i++) {
		send_udp(x, 5004, "anyone there?");
		WAIT_UNTIL(g_loop, port_unreachables(x, 5004) > 0, 0.1);
	}
	assert_true(port_unreachables(x, 5004) > 0);
	assert_int_equal(fake_socks5_get_stats(x->fake)->associated, 0);
	assert_int_equal(replies(x, 5004, "anyone there?"), 0);
}

/* --udp block: refused at once, the proxy never asked. */
static void
test_refused_block(void **state)
{
	struct fx *x = *state;

	send_udp(x, 5005, "blocked");
	ASSERT_WITHIN(port_unreachables(x, 5005) == 1, WAIT);
	assert_int_equal(fake_socks5_get_stats(x->fake)->accepted, 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_one_association, setup_associate, teardown),
		cmocka_unit_test_setup_teardown(test_accounting, setup_associate, teardown),
		cmocka_unit_test_setup_teardown(test_per_source, setup_associate, teardown),
		cmocka_unit_test_setup_teardown(test_expiry, setup_short_timeout, teardown),
		cmocka_unit_test_setup_teardown(test_refused_without_udp, setup_no_udp, teardown),
		cmocka_unit_test_setup_teardown(test_refused_block, setup_block, teardown),
	};

	/* T2S_TEST_FILTER=test_expiry runs only the matching tests. */
	return engine_fixture_run("test_udp_flow", tests, sizeof(tests) / sizeof(tests[0]), &g_loop);
}
