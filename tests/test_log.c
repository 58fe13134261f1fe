/* SPDX-License-Identifier: MIT */
/* Unit tests for log_rate_ok: one line per interval, and the count of those held back. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "log.h"

static void
first_passes(void **state)
{
	struct log_rate r = {0};
	unsigned skipped = 99;

	(void)state;
	assert_true(log_rate_ok(&r, 0.5, 5.0, &skipped)); /* a clock near 0 still passes */
	assert_int_equal(skipped, 0);
}

static void
burst(void **state)
{
	struct log_rate r = {0};
	unsigned skipped = 99;
	int passed = 0;

	(void)state;
	/* 1,000 lines in 10 s (a flood of refused connections): 2 let through. */
	for (int i = 0; i < 1000; i++)
		if (log_rate_ok(&r, 100.0 + i * 0.01, 5.0, i == 500 ? &skipped : NULL))
			passed++;
	assert_int_equal(passed, 2);
	assert_int_equal(skipped, 499); /* the line at 105.0 says how many were held back */
	assert_int_equal(r.suppressed, 499);
	/* After a quiet spell the next line passes and reports the rest of the burst. */
	assert_true(log_rate_ok(&r, 200.0, 5.0, &skipped));
	assert_int_equal(skipped, 499);
	assert_true(log_rate_ok(&r, 300.0, 5.0, &skipped));
	assert_int_equal(skipped, 0);
	assert_false(log_rate_ok(&r, 304.9, 5.0, &skipped));
	assert_int_equal(skipped, 0); /* untouched when false */
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(first_passes),
		cmocka_unit_test(burst),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
