/* SPDX-License-Identifier: MIT */
/* Unit tests for mem_budget: the default, sizes, window scaling, admission episodes. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "log.h"
#include "mem_budget.h"

#define MIB MEM_BUDGET_MIB

static void
default_formula(void **state)
{
	(void)state;
	/* 32 MiB + 64 KiB per flow ... */
	assert_int_equal(mem_budget_default(16384, 0), 32 * MIB + 1024 * MIB);
	assert_int_equal(mem_budget_default(1000, (uint64_t)64 << 30), 32 * MIB + 1000 * 64 * 1024);
	/* ... at most half the machine ... */
	assert_int_equal(mem_budget_default(16384, (uint64_t)512 * MIB), 256 * MIB);
	/* ... never below the minimum. */
	assert_int_equal(mem_budget_default(1, 4 * MIB), MEM_BUDGET_MIN);
	assert_int_equal(mem_budget_default(1000000, 0), 32 * MIB + (size_t)1000000 * 64 * 1024);
}

static void
sizes(void **state)
{
	size_t v = 0;

	(void)state;
	assert_int_equal(mem_budget_parse_size("48M", &v), 0);
	assert_int_equal(v, 48 * MIB);
	assert_int_equal(mem_budget_parse_size("3g", &v), 0);
	assert_int_equal(v, (size_t)3 << 30);
	assert_int_equal(mem_budget_parse_size("9000KiB", &v), 0);
	assert_int_equal(v, (size_t)9000 << 10);
	assert_int_equal(mem_budget_parse_size("8388608B", &v), 0);
	assert_int_equal(v, 8 * MIB);
	v = 1;
	assert_int_equal(mem_budget_parse_size("7M", &v), -ERANGE);
	assert_int_equal(mem_budget_parse_size("1025G", &v), -ERANGE);
	assert_int_equal(mem_budget_parse_size("18446744073709551616", &v), -ERANGE);
	assert_int_equal(mem_budget_parse_size("x", &v), -EINVAL);
	assert_int_equal(mem_budget_parse_size("12Q", &v), -EINVAL);
	assert_int_equal(mem_budget_parse_size("12M ", &v), -EINVAL);
	assert_int_equal(mem_budget_parse_size("+12M", &v), -EINVAL);
	assert_int_equal(v, 1); /* untouched on error */
}

static void
scale(void **state)
{
	struct mem_budget b;
	const uint32_t full = 1 << 20;

	(void)state;
	mem_budget_init(&b, 48 * MIB);
	assert_int_equal(b.hard, 44 * MIB); /* the reserve is a twelfth */
	b.hard = 64 * MIB;                  /* round figures below */
	assert_int_equal(mem_budget_scale(&b, 0, full), full);
	assert_int_equal(mem_budget_scale(&b, 32 * MIB, full), full);
	assert_int_equal(mem_budget_scale(&b, 48 * MIB, full), full / 2);
	assert_int_equal(mem_budget_scale(&b, 56 * MIB, full), full / 4);
	assert_int_equal(mem_budget_scale(&b, 64 * MIB - 1, full), 0);
	assert_int_equal(mem_budget_scale(&b, 64 * MIB, full), 0);
	assert_int_equal(mem_budget_scale(&b, 200 * MIB, full), 0);
	/* Monotonic: more used never offers more. */
	for (size_t u = 30 * MIB, last = full; u < 66 * MIB; u += 123457) {
		uint32_t w = mem_budget_scale(&b, u, full);

		assert_true(w <= last);
		last = w;
	}
	assert_false(mem_budget_over(&b, 64 * MIB - 1));
	assert_true(mem_budget_over(&b, 64 * MIB));
}

static void
episodes(void **state)
{
	struct mem_budget b;

	(void)state;
	mem_budget_init(&b, 64 * MIB);
	b.hard = 64 * MIB;
	assert_true(mem_budget_admit(&b, 10 * MIB, 1.0, "TCP"));
	assert_true(mem_budget_admit(&b, 64 * MIB - 1, 1.0, "TCP"));
	assert_int_equal(b.episode.episodes, 0);
	/* At the limit: refused, one episode however many flows. */
	assert_false(mem_budget_admit(&b, 64 * MIB, 2.0, "TCP"));
	assert_false(mem_budget_admit(&b, 70 * MIB, 2.1, "UDP"));
	assert_true(b.episode.exhausted);
	assert_true(b.episode.logged);
	assert_int_equal(b.episode.episodes, 1);
	assert_int_equal(b.episode.refused, 2);
	/* Hysteresis: just under the limit is not enough to end it... */
	assert_false(mem_budget_admit(&b, 60 * MIB, 3.0, "TCP"));
	assert_int_equal(b.episode.episodes, 1);
	assert_int_equal(b.episode.episode_refused, 3);
	/* ... below limit - limit/8 is. */
	assert_true(mem_budget_admit(&b, 55 * MIB, 4.0, "TCP"));
	assert_false(b.episode.exhausted);
	assert_int_equal(b.episode.refused, 3);
	/* And then flows are admitted up to the limit again. */
	assert_true(mem_budget_admit(&b, 63 * MIB, 5.0, "TCP"));
	/* A later episode is a second one; within the log interval it is not logged. */
	assert_false(mem_budget_admit(&b, 64 * MIB, 6.0, "TCP"));
	assert_int_equal(b.episode.episodes, 2);
	assert_false(b.episode.logged);
	assert_true(mem_budget_admit(&b, 1 * MIB, 7.0, "TCP"));
	assert_false(mem_budget_admit(&b, 64 * MIB, 4.0 + FD_PRESSURE_LOG_INTERVAL + 1, "TCP"));
	assert_true(b.episode.logged);
	assert_int_equal(b.episode.episodes, 3);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(default_formula),
		cmocka_unit_test(sizes),
		cmocka_unit_test(scale),
		cmocka_unit_test(episodes),
	};

	log_set_level(LOG_LEVEL_ERROR);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
