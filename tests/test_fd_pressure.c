/* SPDX-License-Identifier: MIT */
/* Unit tests for fd_pressure: episode edges, counting, and the log rate limit. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

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

/* Runs fn with stderr (the log sink) captured; returns what was logged (static buffer). */
static const char *
capture_log(void (*fn)(struct fd_pressure *), struct fd_pressure *p)
{
	static char buf[8192];
	FILE *tmp = tmpfile();
	int saved = dup(STDERR_FILENO);
	size_t n;

	assert_non_null(tmp);
	assert_true(saved >= 0);
	fflush(stderr);
	assert_true(dup2(fileno(tmp), STDERR_FILENO) >= 0);
	log_set_level(LOG_LEVEL_WARN);
	fn(p);
	log_set_level(LOG_LEVEL_ERROR);
	assert_true(dup2(saved, STDERR_FILENO) >= 0);
	close(saved);
	rewind(tmp);
	n = fread(buf, 1, sizeof(buf) - 1, tmp);
	buf[n] = 0;
	fclose(tmp);
	return buf;
}

static int
count(const char *hay, const char *needle)
{
	int n = 0;

	for (const char *q = strstr(hay, needle); q != NULL; q = strstr(q + 1, needle))
		n++;
	return n;
}

/* tcp_flow.c's words for its --max-flows episodes. */
static const struct fd_pressure_kind max_flows = {
	.short_of = "at --max-flows",
	.recovered = "below --max-flows again",
};

/* At --max-flows: 200 SYNs in one episode, then one admitted; later a second episode. */
static void
cap_sequence(struct fd_pressure *p)
{
	for (int i = 0; i < 200; i++)
		fd_pressure_capped(p, 100.0 + i * 0.01, "TCP", 3);
	fd_pressure_ok(p, 103.0);
	fd_pressure_ok(p, 103.5); /* more admissions: nothing more to say */
	fd_pressure_capped(p, 110.0, "TCP", 3);
	fd_pressure_ok(p, 110.5);
}

static void
cap_episodes(void **state)
{
	struct fd_pressure p = {.kind = &max_flows};
	const char *log;

	(void)state;
	log = capture_log(cap_sequence, &p);
	assert_int_equal(p.episodes, 2);
	assert_int_equal(p.refused, 201);
	assert_int_equal(p.episode_refused, 1);
	assert_false(p.exhausted);
	/* One line at each edge of each episode, none per refused SYN. */
	assert_int_equal(count(log, "at --max-flows (3 TCP connections open): new connections are refused until "
				    "some close; open ones carry on (first refused: TCP)"),
			 2);
	assert_int_equal(count(log, "below --max-flows again after 3.0 s: 200 new connections were refused"), 1);
	assert_int_equal(count(log, "below --max-flows again after 0.5 s: 1 new connections were refused"), 1);
	assert_int_equal(count(log, "\n"), 4);
	assert_int_equal(count(log, "descriptor"), 0);
}

/* A long episode is recalled every FD_PRESSURE_REMIND_INTERVAL, not per refusal. */
static void
cap_long(struct fd_pressure *p)
{
	for (int i = 0; i <= 650; i++)
		fd_pressure_capped(p, 1000.0 + i * 0.1, "TCP", 16384);
	fd_pressure_ok(p, 1066.0);
}

static void
cap_remind(void **state)
{
	struct fd_pressure p = {.kind = &max_flows};
	const char *log;

	(void)state;
	log = capture_log(cap_long, &p);
	assert_int_equal(p.episodes, 1);
	assert_int_equal(count(log, "at --max-flows (16384 TCP connections open)"), 1);
	assert_int_equal(count(log, "still at --max-flows after"), 2); /* at 30 s and 60 s */
	assert_int_equal(count(log, "below --max-flows again after 66.0 s: 651 new"), 1);
}

/* The descriptor wording is unchanged, and a cap episode does not leak into it. */
static void
fd_sequence(struct fd_pressure *p)
{
	fd_pressure_refused(p, 10.0, "TCP", -EMFILE);
	fd_pressure_ok(p, 11.0);
}

static void
fd_wording(void **state)
{
	struct fd_pressure p = {0};
	const char *log;

	(void)state;
	log = capture_log(fd_sequence, &p);
	assert_int_equal(count(log, "out of file descriptors (Too many open files)"), 1);
	assert_int_equal(count(log, "recovered from file descriptor exhaustion after 1.0 s"), 1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(classify),
		cmocka_unit_test(episode),
		cmocka_unit_test(cap_episodes),
		cmocka_unit_test(cap_remind),
		cmocka_unit_test(fd_wording),
	};

	log_set_level(LOG_LEVEL_ERROR); /* the warnings are not what is tested */
	return cmocka_run_group_tests(tests, NULL, NULL);
}
