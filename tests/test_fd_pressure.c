/* SPDX-License-Identifier: MIT */
/* Unit tests for fd_pressure: episode edges, counting, and the log rate limit. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "fd_pressure.h"
#include "log.h"

static void
classify(void **state)
{
	(void)state;
	assert_true(fd_pressure_is_exhaustion(-EMFILE));
	assert_true(fd_pressure_is_exhaustion(-ENFILE));
	assert_false(fd_pressure_is_exhaustion(-ENOMEM));
	assert_false(fd_pressure_is_exhaustion(-ECONNREFUSED));
	assert_false(fd_pressure_is_exhaustion(0));
}

static void
episode(void **state)
{
	struct fd_pressure p = {0};

	(void)state;
	fd_pressure_ok(&p, 1.0); /* no episode: nothing happens */
	assert_false(p.exhausted);
	fd_pressure_refused(&p, 10.0, "TCP", -EMFILE);
	fd_pressure_refused(&p, 10.5, "UDP", -EMFILE);
	fd_pressure_refused(&p, 11.0, "TCP", -ENFILE);
	assert_true(p.exhausted);
	assert_true(p.logged);
	assert_int_equal(p.episodes, 1);
	assert_int_equal(p.refused, 3);
	assert_int_equal(p.episode_refused, 3);
	fd_pressure_ok(&p, 12.0);
	assert_false(p.exhausted);
	assert_int_equal(p.refused, 3);
	/* A second episode right away is counted but not logged (rate limit)... */
	fd_pressure_refused(&p, 13.0, "TCP", -EMFILE);
	assert_true(p.exhausted);
	assert_false(p.logged);
	assert_int_equal(p.episodes, 2);
	assert_int_equal(p.episode_refused, 1);
	fd_pressure_ok(&p, 13.5);
	/* ...one after the interval is. */
	fd_pressure_refused(&p, 12.0 + FD_PRESSURE_LOG_INTERVAL + 0.1, "TCP", -EMFILE);
	assert_true(p.logged);
	assert_int_equal(p.episodes, 3);
	assert_int_equal(p.refused, 5);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(classify),
		cmocka_unit_test(episode),
	};

	log_set_level(LOG_LEVEL_ERROR); /* the warnings are not what is tested */
	return cmocka_run_group_tests(tests, NULL, NULL);
}
