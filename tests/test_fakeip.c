/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for fakeip.c: stable and distinct addresses, reverse lookups, case
 * folding, LRU eviction order, the order in which released addresses come back,
 * contains(), the IPv6 pool, idle expiry, tiny (/30) and clamped pools, configuration
 * checks, 100k names through a small pool, and excluded addresses (the TUN's, the
 * proxy's) never handed out.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "fakeip.h"

/* Tests use 198.18.0.0/15 for hosts, so the pools live elsewhere. */
static struct fakeip_config
config(const char *net4, unsigned prefix4, uint32_t capacity)
{
	struct fakeip_config cfg;

	memset(&cfg, 0, sizeof(cfg));
	assert_int_equal(inet_pton(AF_INET, net4, &cfg.net4), 1);
	cfg.prefix4 = prefix4;
	cfg.has_net6 = true;
	assert_int_equal(inet_pton(AF_INET6, "fd77:1::", &cfg.net6), 1);
	cfg.prefix6 = 64;
	cfg.capacity = capacity;
	cfg.ttl = 60;
	cfg.seed = 0x5eed5eed12345678ull;
	return cfg;
}

static struct fakeip *
pool_new(const char *net4, unsigned prefix4, uint32_t capacity)
{
	struct fakeip_config cfg = config(net4, prefix4, capacity);
	struct fakeip *pool = fakeip_new(&cfg);

	assert_non_null(pool);
	return pool;
}

/* The IPv4 address for name, as dotted text in a static buffer. */
static const char *
addr4_of(struct fakeip *pool, const char *name, uint64_t now)
{
	static char text[INET_ADDRSTRLEN];
	struct in_addr a;

	if (fakeip_lookup_name(pool, name, 4, now, &a) != 0)
		fail_msg("lookup of %s failed", name);
	return inet_ntop(AF_INET, &a, text, sizeof(text));
}

/* The name for a dotted IPv4 address, or NULL if it is not mapped. */
static const char *
name_of(struct fakeip *pool, const char *addr, uint64_t now)
{
	static char name[FAKEIP_NAME_MAX + 1];
	struct in_addr a;
	int r;

	assert_int_equal(inet_pton(AF_INET, addr, &a), 1);
	r = fakeip_lookup_addr(pool, 4, &a, now, name);
	if (r == -ENOENT)
		return NULL;
	assert_int_equal(r, 0);
	return name;
}

static void
test_same_name_same_address(void **state)
{
	struct fakeip *pool = pool_new("198.18.0.0", 16, 1000);

	(void)state;
	assert_string_equal(addr4_of(pool, "example.com", 1), "198.18.0.1");
	assert_string_equal(addr4_of(pool, "example.com", 2), "198.18.0.1");
	assert_string_equal(addr4_of(pool, "example.org", 3), "198.18.0.2");
	assert_string_equal(addr4_of(pool, "example.com", 4), "198.18.0.1");
	assert_int_equal(fakeip_count(pool, 4), 2);
	assert_int_equal(fakeip_ttl(pool), 60);
	fakeip_free(pool);
}

static void
test_distinct_names_distinct_addresses(void **state)
{
	struct fakeip *pool = pool_new("198.18.0.0", 16, 5000);
	static uint8_t seen[1 << 16];
	char name[32];

	(void)state;
	memset(seen, 0, sizeof(seen));
	for (int i = 0; i < 5000; i++) {
		uint8_t a[4];

		snprintf(name, sizeof(name), "host%d.example", i);
		assert_int_equal(fakeip_lookup_name(pool, name, 4, 0, a), 0);
		assert_int_equal(a[0], 198);
		assert_int_equal(a[1], 18);
		if (seen[a[2] << 8 | a[3]]++)
			fail_msg("%s got an address already handed out", name);
	}
	fakeip_free(pool);
}

static void
test_reverse_lookup(void **state)
{
	struct fakeip *pool = pool_new("198.18.0.0", 16, 1000);
	uint8_t a[4] = {198, 18, 0, 99};
	char name[FAKEIP_NAME_MAX + 1];

	(void)state;
	assert_string_equal(addr4_of(pool, "a.example", 0), "198.18.0.1");
	assert_string_equal(addr4_of(pool, "b.example", 0), "198.18.0.2");
	assert_string_equal(name_of(pool, "198.18.0.1", 0), "a.example");
	assert_string_equal(name_of(pool, "198.18.0.2", 0), "b.example");
	assert_null(name_of(pool, "198.18.0.3", 0)); /* never handed out */
	assert_null(name_of(pool, "198.18.0.0", 0)); /* network */
	assert_null(name_of(pool, "198.19.0.1", 0)); /* outside */
	assert_int_equal(fakeip_lookup_addr(pool, 4, a, 0, name), -ENOENT);
	assert_int_equal(fakeip_lookup_addr(pool, 5, a, 0, name), -EAFNOSUPPORT);
	fakeip_free(pool);
}

static void
test_case_insensitive(void **state)
{
	struct fakeip *pool = pool_new("198.18.0.0", 16, 1000);

	(void)state;
	assert_string_equal(addr4_of(pool, "WWW.Example.COM", 0), "198.18.0.1");
	assert_string_equal(addr4_of(pool, "www.example.com", 0), "198.18.0.1");
	assert_string_equal(addr4_of(pool, "www.EXAMPLE.com", 0), "198.18.0.1");
	assert_string_equal(name_of(pool, "198.18.0.1", 0), "www.example.com");
	assert_int_equal(fakeip_count(pool, 4), 1);
	fakeip_free(pool);
}

static void
test_lru_eviction_order(void **state)
{
	struct fakeip *pool = pool_new("198.18.0.0", 24, 3);

	(void)state;
	assert_int_equal(fakeip_capacity(pool, 4), 3);
	assert_string_equal(addr4_of(pool, "a", 1), "198.18.0.1");
	assert_string_equal(addr4_of(pool, "b", 2), "198.18.0.2");
	assert_string_equal(addr4_of(pool, "c", 3), "198.18.0.3");
	addr4_of(pool, "a", 4);					     /* a is now the most recent: order a c b */
	assert_string_equal(addr4_of(pool, "d", 5), "198.18.0.4"); /* evicts b */
	assert_null(name_of(pool, "198.18.0.2", 6));
	assert_string_equal(name_of(pool, "198.18.0.3", 6), "c"); /* a connection refreshes c: c d a */
	assert_string_equal(addr4_of(pool, "e", 7), "198.18.0.5"); /* evicts a */
	assert_null(name_of(pool, "198.18.0.1", 8));
	assert_string_equal(name_of(pool, "198.18.0.3", 8), "c");
	assert_string_equal(name_of(pool, "198.18.0.4", 8), "d");
	assert_string_equal(name_of(pool, "198.18.0.5", 8), "e");
	assert_int_equal(fakeip_count(pool, 4), 3);
	/* an evicted name comes back with a new address */
	assert_string_equal(addr4_of(pool, "b", 9), "198.18.0.6");
	fakeip_free(pool);
}

/* Released addresses come back only when the never-used ones are gone, longest released
 * (not longest allocated) first. A /29 has 6 usable addresses. */
static void
test_released_address_reuse_order(void **state)
{
	struct fakeip *pool = pool_new("198.18.0.0", 29, 3);

	(void)state;
	assert_string_equal(addr4_of(pool, "a", 1), "198.18.0.1");
	assert_string_equal(addr4_of(pool, "b", 2), "198.18.0.2");
	assert_string_equal(addr4_of(pool, "c", 3), "198.18.0.3");
	addr4_of(pool, "a", 4);
	assert_string_equal(addr4_of(pool, "d", 5), "198.18.0.4"); /* releases b (.2) */
	assert_string_equal(addr4_of(pool, "e", 6), "198.18.0.5"); /* releases c (.3) */
	assert_string_equal(addr4_of(pool, "f", 7), "198.18.0.6"); /* releases a (.1) */
	/* never-used addresses exhausted: .2, .3, .1 in the order they were released */
	assert_string_equal(addr4_of(pool, "g", 8), "198.18.0.2");
	assert_string_equal(addr4_of(pool, "h", 9), "198.18.0.3");
	assert_string_equal(addr4_of(pool, "i", 10), "198.18.0.1");
	/* then d's, which g's arrival released */
	assert_string_equal(addr4_of(pool, "j", 11), "198.18.0.4");
	/* a stale answer for a now leads to i: the documented collision */
	assert_string_equal(name_of(pool, "198.18.0.1", 12), "i");
	fakeip_free(pool);
}

static void
test_contains(void **state)
{
	struct fakeip *pool = pool_new("198.18.0.0", 15, 10);
	static const struct {
		const char *addr;
		bool in;
	} v4[] = {
		{"198.18.0.0", true}, {"198.18.0.1", true},   {"198.19.255.255", true},
		{"198.17.255.255", false}, {"198.20.0.0", false}, {"203.0.113.1", false},
	};
	struct in6_addr a6;

	(void)state;
	for (size_t i = 0; i < sizeof(v4) / sizeof(v4[0]); i++) {
		struct in_addr a;

		assert_int_equal(inet_pton(AF_INET, v4[i].addr, &a), 1);
		if (fakeip_contains(pool, 4, &a) != v4[i].in)
			fail_msg("contains(%s) should be %d", v4[i].addr, v4[i].in);
	}
	assert_int_equal(inet_pton(AF_INET6, "fd77:1::ffff:ffff:ffff:ffff", &a6), 1);
	assert_true(fakeip_contains(pool, 6, &a6));
	assert_int_equal(inet_pton(AF_INET6, "fd77:1:0:1::1", &a6), 1);
	assert_false(fakeip_contains(pool, 6, &a6));
	assert_false(fakeip_contains(pool, 5, &a6));
	fakeip_free(pool);
}

static void
test_ipv6_pool(void **state)
{
	struct fakeip *pool = pool_new("198.18.0.0", 16, 100);
	struct fakeip_config cfg = config("198.18.0.0", 16, 100);
	struct in6_addr a, b, far;
	uint8_t a4[4];
	char text[INET6_ADDRSTRLEN], name[FAKEIP_NAME_MAX + 1];

	(void)state;
	assert_int_equal(fakeip_lookup_name(pool, "v6.example", 6, 0, &a), 0);
	assert_string_equal(inet_ntop(AF_INET6, &a, text, sizeof(text)), "fd77:1::1");
	assert_int_equal(fakeip_lookup_name(pool, "other.example", 6, 0, &b), 0);
	assert_string_equal(inet_ntop(AF_INET6, &b, text, sizeof(text)), "fd77:1::2");
	assert_int_equal(fakeip_lookup_name(pool, "V6.example", 6, 0, &b), 0);
	assert_memory_equal(&a, &b, 16);
	assert_int_equal(fakeip_lookup_addr(pool, 6, &a, 0, name), 0);
	assert_string_equal(name, "v6.example");
	assert_true(fakeip_contains(pool, 6, &a));
	/* families are independent pools */
	assert_int_equal(fakeip_lookup_name(pool, "v6.example", 4, 0, a4), 0);
	assert_memory_equal(a4, ((const uint8_t[]){198, 18, 0, 1}), 4);
	assert_int_equal(fakeip_count(pool, 6), 2);
	assert_int_equal(fakeip_count(pool, 4), 1);
	/* in the prefix but far beyond anything handed out */
	assert_int_equal(inet_pton(AF_INET6, "fd77:1::1:0:0:1", &far), 1);
	assert_int_equal(fakeip_lookup_addr(pool, 6, &far, 0, name), -ENOENT);
	assert_int_equal(inet_pton(AF_INET6, "fd77:1::", &far), 1);
	assert_int_equal(fakeip_lookup_addr(pool, 6, &far, 0, name), -ENOENT);
	fakeip_free(pool);

	/* without an IPv6 range, AAAA lookups are refused */
	cfg.has_net6 = false;
	pool = fakeip_new(&cfg);
	assert_non_null(pool);
	assert_int_equal(fakeip_lookup_name(pool, "v6.example", 6, 0, &a), -EAFNOSUPPORT);
	assert_int_equal(fakeip_lookup_addr(pool, 6, &a, 0, name), -EAFNOSUPPORT);
	assert_false(fakeip_contains(pool, 6, &a));
	assert_int_equal(fakeip_capacity(pool, 6), 0);
	assert_int_equal(fakeip_lookup_name(pool, "v4.example", 10 /* AF_INET6 is not a family here */, 0, &a),
			 -EAFNOSUPPORT);
	fakeip_free(pool);
}

/* A /30 has 4 addresses; network and broadcast are skipped, so 2 are usable and the
 * capacity is clamped to 2. A third name reuses the first name's address at once. */
static void
test_ipv4_slash30(void **state)
{
	struct fakeip *pool = pool_new("198.18.0.4", 30, 10);

	(void)state;
	assert_int_equal(fakeip_capacity(pool, 4), 2);
	assert_string_equal(addr4_of(pool, "a", 1), "198.18.0.5");
	assert_string_equal(addr4_of(pool, "b", 2), "198.18.0.6");
	assert_string_equal(addr4_of(pool, "c", 3), "198.18.0.5");
	assert_string_equal(addr4_of(pool, "a", 4), "198.18.0.6");
	assert_null(name_of(pool, "198.18.0.4", 5));
	assert_null(name_of(pool, "198.18.0.7", 5));
	assert_string_equal(name_of(pool, "198.18.0.5", 5), "c");
	fakeip_free(pool);
}

static void
test_capacity_clamped(void **state)
{
	struct fakeip *pool = pool_new("198.18.0.0", 15, 200000);
	struct fakeip_config cfg = config("198.0.0.0", 8, 0xffffffffu);

	(void)state;
	assert_int_equal(fakeip_capacity(pool, 4), 131070);
	assert_int_equal(fakeip_capacity(pool, 6), 200000);
	fakeip_free(pool);
	cfg.capacity = FAKEIP_SPAN_MAX + 1;
	pool = fakeip_new(&cfg);
	assert_non_null(pool);
	assert_int_equal(fakeip_capacity(pool, 4), FAKEIP_SPAN_MAX);
	assert_int_equal(fakeip_capacity(pool, 6), FAKEIP_SPAN_MAX);
	fakeip_free(pool);
}

static void
test_config_check(void **state)
{
	static const struct {
		const char *net4;
		unsigned prefix4;
		const char *net6;
		unsigned prefix6;
		uint32_t capacity, ttl;
		int want;
	} cases[] = {
		{"198.18.0.0", 16, "fd77:1::", 64, 10, 60, 0},
		{"198.18.0.0", 30, "fd77:1::", 126, 1, 0, 0},
		{"198.18.0.0", 31, "fd77:1::", 64, 10, 60, -EINVAL},
		{"0.0.0.0", 0, "fd77:1::", 64, 10, 60, -EINVAL},
		{"198.18.0.1", 16, "fd77:1::", 64, 10, 60, -EINVAL},
		{"198.18.0.0", 16, "fd77:1::", 127, 10, 60, -EINVAL},
		{"198.18.0.0", 16, "fd77:1::", 0, 10, 60, -EINVAL},
		{"198.18.0.0", 16, "fd77:1::1", 64, 10, 60, -EINVAL},
		{"198.18.0.0", 16, "fd77:1::", 64, 0, 60, -EINVAL},
		{"198.18.0.0", 16, "fd77:1::", 64, 10, 0x80000000u, -EINVAL},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct fakeip_config cfg = config(cases[i].net4, cases[i].prefix4, cases[i].capacity);
		struct fakeip *pool;
		const char *why = NULL;

		assert_int_equal(inet_pton(AF_INET6, cases[i].net6, &cfg.net6), 1);
		cfg.prefix6 = cases[i].prefix6;
		cfg.ttl = cases[i].ttl;
		if (fakeip_config_check(&cfg, &why) != cases[i].want)
			fail_msg("case %zu: check should return %d", i, cases[i].want);
		pool = fakeip_new(&cfg);
		if (cases[i].want == 0) {
			assert_non_null(pool);
		} else {
			assert_non_null(why);
			assert_null(pool);
		}
		fakeip_free(pool);
	}
}

static void
test_name_limits(void **state)
{
	struct fakeip *pool = pool_new("198.18.0.0", 16, 100);
	char name[FAKEIP_NAME_MAX + 2], back[FAKEIP_NAME_MAX + 1];
	uint8_t a[4];

	(void)state;
	assert_int_equal(fakeip_lookup_name(pool, "", 4, 0, a), -EINVAL);
	memset(name, 'x', FAKEIP_NAME_MAX + 1);
	name[FAKEIP_NAME_MAX + 1] = '\0';
	assert_int_equal(fakeip_lookup_name(pool, name, 4, 0, a), -EINVAL);
	name[FAKEIP_NAME_MAX] = '\0';
	assert_int_equal(fakeip_lookup_name(pool, name, 4, 0, a), 0);
	assert_int_equal(fakeip_lookup_addr(pool, 4, a, 0, back), 0);
	assert_string_equal(back, name);
	assert_int_equal(fakeip_count(pool, 4), 1);
	fakeip_free(pool);
}

static void
test_idle_expiry(void **state)
{
	struct fakeip_config cfg = config("198.18.0.0", 24, 100);
	struct fakeip *pool;

	(void)state;
	cfg.idle_expiry = 10;
	pool = fakeip_new(&cfg);
	assert_non_null(pool);
	assert_string_equal(addr4_of(pool, "a", 100), "198.18.0.1");
	assert_string_equal(addr4_of(pool, "b", 105), "198.18.0.2");
	assert_string_equal(addr4_of(pool, "c", 108), "198.18.0.3");
	assert_int_equal(fakeip_expire(pool, 110), 0); /* idle for exactly 10 s: kept */
	assert_string_equal(name_of(pool, "198.18.0.1", 109), "a"); /* a connection refreshes a */
	assert_int_equal(fakeip_expire(pool, 116), 1);		     /* b, idle 11 s */
	assert_null(name_of(pool, "198.18.0.2", 116));
	assert_int_equal(fakeip_count(pool, 4), 2);
	/* a new name releases up to two idle mappings on its way: a and c */
	assert_string_equal(addr4_of(pool, "d", 200), "198.18.0.4");
	assert_int_equal(fakeip_count(pool, 4), 1);
	assert_null(name_of(pool, "198.18.0.1", 200));
	/* a clock that went backwards expires nothing */
	assert_int_equal(fakeip_expire(pool, 50), 0);
	assert_int_equal(fakeip_count(pool, 4), 1);
	fakeip_free(pool);

	cfg.idle_expiry = 0; /* never by age */
	pool = fakeip_new(&cfg);
	assert_non_null(pool);
	addr4_of(pool, "a", 0);
	assert_int_equal(fakeip_expire(pool, UINT64_MAX), 0);
	assert_int_equal(fakeip_count(pool, 4), 1);
	fakeip_free(pool);
}

/* 100k distinct names through a pool of 1000 mappings over 1022 addresses. Afterwards
 * exactly the last 1000 resolve back. Bounded: well under a second even under ASan. */
static void
test_many_names_small_pool(void **state)
{
	enum { N = 100000, CAP = 1000 };
	struct fakeip *pool = pool_new("198.18.0.0", 22, CAP);
	static uint8_t addrs[N][4];
	char name[32], back[FAKEIP_NAME_MAX + 1];
	struct timespec t0, t1;
	double secs;

	(void)state;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (uint32_t i = 0; i < N; i++) {
		uint8_t b[16];

		snprintf(name, sizeof(name), "n%u.example", i);
		assert_int_equal(fakeip_lookup_name(pool, name, 4, i, addrs[i]), 0);
		assert_int_equal(fakeip_lookup_addr(pool, 4, addrs[i], i, back), 0);
		assert_string_equal(back, name);
		assert_int_equal(fakeip_lookup_name(pool, name, 6, i, b), 0);
		assert_int_equal(fakeip_count(pool, 4), i < CAP ? i + 1 : CAP);
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	if (secs > 20.0)
		fail_msg("100k names took %.1f s", secs);

	/* oldest first, so that the refresh by each lookup evicts nothing */
	for (uint32_t i = N - CAP; i < N; i++) {
		snprintf(name, sizeof(name), "n%u.example", i);
		assert_int_equal(fakeip_lookup_addr(pool, 4, addrs[i], N, back), 0);
		assert_string_equal(back, name);
	}
	/* the one before them was evicted; its address now belongs to another name */
	snprintf(name, sizeof(name), "n%u.example", N - CAP - 1);
	if (fakeip_lookup_addr(pool, 4, addrs[N - CAP - 1], N, back) == 0)
		assert_string_not_equal(back, name);
	assert_int_equal(fakeip_count(pool, 4), CAP);
	assert_int_equal(fakeip_count(pool, 6), CAP);
	fakeip_free(pool);
}

/* fakeip_exclude for a dotted IPv4 address. */
static int
exclude4(struct fakeip *pool, const char *addr)
{
	struct in_addr a;

	assert_int_equal(inet_pton(AF_INET, addr, &a), 1);
	return fakeip_exclude(pool, 4, &a);
}

static bool
contains4(struct fakeip *pool, const char *addr)
{
	struct in_addr a;

	assert_int_equal(inet_pton(AF_INET, addr, &a), 1);
	return fakeip_contains(pool, 4, &a);
}

/* The default pool with the README's old TUN address in it: the TUN's own address (and
 * the proxy's) must never be handed to a name, however many names come and go. */
static void
test_exclude_never_handed_out(void **state)
{
	struct fakeip *pool = pool_new("198.18.0.0", 15, 65536);
	char name[32];

	(void)state;
	assert_int_equal(exclude4(pool, "198.18.0.1"), 0);   /* the TUN */
	assert_int_equal(exclude4(pool, "198.18.0.3"), 0);   /* the proxy */
	assert_int_equal(exclude4(pool, "203.0.113.1"), 0);  /* outside: nothing to do */
	assert_int_equal(fakeip_capacity(pool, 4), 65536);
	assert_string_equal(addr4_of(pool, "first.example", 1), "198.18.0.2");
	assert_string_equal(addr4_of(pool, "second.example", 1), "198.18.0.4");
	assert_false(contains4(pool, "198.18.0.1"));
	assert_false(contains4(pool, "198.18.0.3"));
	assert_true(contains4(pool, "198.18.0.2"));
	assert_true(contains4(pool, "198.18.0.0"));
	assert_null(name_of(pool, "198.18.0.1", 1));
	fakeip_free(pool);

	/* A /29 (6 usable) with 2 excluded: 4 names fit, and a thousand names cycling
	 * through it (never-used addresses, then the released ones) never get them. */
	pool = pool_new("198.18.0.0", 29, 100);
	assert_int_equal(fakeip_capacity(pool, 4), 6);
	assert_int_equal(exclude4(pool, "198.18.0.1"), 0);
	assert_int_equal(exclude4(pool, "198.18.0.5"), 0);
	assert_int_equal(fakeip_capacity(pool, 4), 4);
	for (int i = 0; i < 1000; i++) {
		const char *a;

		snprintf(name, sizeof(name), "n%d.example", i);
		a = addr4_of(pool, name, (uint64_t)i);
		if (strcmp(a, "198.18.0.1") == 0 || strcmp(a, "198.18.0.5") == 0)
			fail_msg("%s got the excluded %s", name, a);
		assert_int_equal(fakeip_count(pool, 4), i < 4 ? i + 1 : 4);
	}
	fakeip_free(pool);
}

/* An address excluded while a name holds it, or while it waits for reuse. */
static void
test_exclude_mapped_and_released(void **state)
{
	struct fakeip *pool = pool_new("198.18.0.0", 29, 3);

	(void)state;
	assert_string_equal(addr4_of(pool, "a", 1), "198.18.0.1");
	assert_string_equal(addr4_of(pool, "b", 2), "198.18.0.2");
	assert_int_equal(exclude4(pool, "198.18.0.1"), 0);
	assert_null(name_of(pool, "198.18.0.1", 3));
	assert_int_equal(fakeip_count(pool, 4), 1);
	assert_string_equal(name_of(pool, "198.18.0.2", 3), "b");
	assert_string_equal(addr4_of(pool, "a", 4), "198.18.0.3"); /* a new address */
	/* .4 and .5: c evicts b (.2 released), d evicts a (.3 released) */
	assert_string_equal(addr4_of(pool, "c", 5), "198.18.0.4");
	assert_string_equal(addr4_of(pool, "d", 6), "198.18.0.5");
	assert_string_equal(addr4_of(pool, "e", 7), "198.18.0.6");
	/* .2 waits in the released queue; excluding it there skips it */
	assert_int_equal(exclude4(pool, "198.18.0.2"), 0);
	assert_string_equal(addr4_of(pool, "f", 8), "198.18.0.3");
	assert_string_equal(addr4_of(pool, "g", 9), "198.18.0.4");
	assert_int_equal(fakeip_count(pool, 4), 3);
	fakeip_free(pool);
}

static void
test_exclude_limits(void **state)
{
	struct fakeip *pool = pool_new("198.18.0.0", 30, 10); /* .1 and .2 usable */
	struct in6_addr a6;
	char text[32];
	uint8_t b[16];

	(void)state;
	assert_int_equal(exclude4(pool, "198.18.0.1"), 0);
	assert_int_equal(exclude4(pool, "198.18.0.1"), 0); /* already */
	assert_int_equal(exclude4(pool, "198.18.0.2"), -EADDRNOTAVAIL);
	assert_true(contains4(pool, "198.18.0.2"));
	assert_string_equal(addr4_of(pool, "only", 1), "198.18.0.2");
	/* network and broadcast: never handed out anyway, but no longer contained */
	assert_int_equal(exclude4(pool, "198.18.0.0"), 0);
	assert_int_equal(exclude4(pool, "198.18.0.3"), 0);
	assert_false(contains4(pool, "198.18.0.3"));
	for (int i = 4; i < FAKEIP_EXCLUDE_MAX; i++) {
		snprintf(text, sizeof(text), "198.18.0.%d", i);
		assert_int_equal(exclude4(pool, text), 0); /* outside: not counted */
	}
	assert_int_equal(fakeip_exclude(pool, 5, b), -EAFNOSUPPORT);
	/* IPv6: the first address excluded, the next one handed out */
	assert_int_equal(inet_pton(AF_INET6, "fd77:1::1", &a6), 1);
	assert_int_equal(fakeip_exclude(pool, 6, &a6), 0);
	assert_false(fakeip_contains(pool, 6, &a6));
	assert_int_equal(fakeip_lookup_name(pool, "v6.example", 6, 1, b), 0);
	assert_string_equal(inet_ntop(AF_INET6, b, text, sizeof(text)), "fd77:1::2");
	fakeip_free(pool);

	pool = pool_new("198.18.0.0", 24, 10);
	for (int i = 1; i <= FAKEIP_EXCLUDE_MAX; i++) {
		snprintf(text, sizeof(text), "198.18.0.%d", i);
		assert_int_equal(exclude4(pool, text), 0);
	}
	assert_int_equal(exclude4(pool, "198.18.0.100"), -ENOSPC);
	assert_true(contains4(pool, "198.18.0.100"));
	snprintf(text, sizeof(text), "198.18.0.%d", FAKEIP_EXCLUDE_MAX + 1);
	assert_string_equal(addr4_of(pool, "x", 1), text);
	fakeip_free(pool);
}

/* The hash seed changes bucket placement only, never results. */
static void
test_seed_does_not_change_results(void **state)
{
	struct fakeip_config c1 = config("198.18.0.0", 24, 50), c2 = c1;
	struct fakeip *p1, *p2;
	char name[32];

	(void)state;
	c2.seed = ~c1.seed;
	p1 = fakeip_new(&c1);
	p2 = fakeip_new(&c2);
	assert_non_null(p1);
	assert_non_null(p2);
	for (int i = 0; i < 2000; i++) {
		uint8_t a1[4], a2[4];

		snprintf(name, sizeof(name), "s%d", (i * 7919) % 300);
		assert_int_equal(fakeip_lookup_name(p1, name, 4, (uint64_t)i, a1), 0);
		assert_int_equal(fakeip_lookup_name(p2, name, 4, (uint64_t)i, a2), 0);
		assert_memory_equal(a1, a2, 4);
	}
	fakeip_free(p1);
	fakeip_free(p2);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_same_name_same_address),
		cmocka_unit_test(test_distinct_names_distinct_addresses),
		cmocka_unit_test(test_reverse_lookup),
		cmocka_unit_test(test_case_insensitive),
		cmocka_unit_test(test_lru_eviction_order),
		cmocka_unit_test(test_released_address_reuse_order),
		cmocka_unit_test(test_contains),
		cmocka_unit_test(test_ipv6_pool),
		cmocka_unit_test(test_ipv4_slash30),
		cmocka_unit_test(test_capacity_clamped),
		cmocka_unit_test(test_config_check),
		cmocka_unit_test(test_name_limits),
		cmocka_unit_test(test_idle_expiry),
		cmocka_unit_test(test_many_names_small_pool),
		cmocka_unit_test(test_seed_does_not_change_results),
		cmocka_unit_test(test_exclude_never_handed_out),
		cmocka_unit_test(test_exclude_mapped_and_released),
		cmocka_unit_test(test_exclude_limits),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
