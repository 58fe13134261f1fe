/* SPDX-License-Identifier: MIT */
/* proxy_set: health transitions (fall, rise), the policies' choices, the retry order. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "proxy_set.h"

struct seen {
	unsigned calls;
	unsigned idx, old_active, new_active;
	bool up;
};

static void
changed(void *arg, unsigned idx, bool up, unsigned old_active, unsigned new_active)
{
	struct seen *s = arg;

	s->calls++;
	s->idx = idx;
	s->up = up;
	s->old_active = old_active;
	s->new_active = new_active;
}

static struct proxy_set *
make(unsigned n, enum proxy_set_policy policy, unsigned fall, unsigned rise, struct seen *seen)
{
	struct proxy_set_params p = {
		.n = n, .policy = policy, .fall = fall, .rise = rise, .changed = changed, .arg = seen};
	struct proxy_set *s = proxy_set_new(&p, 100.0);

	assert_non_null(s);
	return s;
}

static void
report_fail(struct proxy_set *s, unsigned idx, unsigned times, double now)
{
	for (unsigned i = 0; i < times; i++)
		proxy_set_report(s, idx, false, true, now);
}

static void
report_ok(struct proxy_set *s, unsigned idx, unsigned times, double now)
{
	for (unsigned i = 0; i < times; i++)
		proxy_set_report(s, idx, true, true, now);
}

static void
test_bad_params(void **state)
{
	struct proxy_set_params p = {.n = 0, .fall = 1, .rise = 1};

	(void)state;
	assert_null(proxy_set_new(&p, 0));
	p.n = PROXY_SET_MAX + 1;
	assert_null(proxy_set_new(&p, 0));
	p.n = 2;
	p.fall = 0;
	assert_null(proxy_set_new(&p, 0));
	p.fall = 1;
	p.rise = PROXY_SET_MAX_FALL_RISE + 1;
	assert_null(proxy_set_new(&p, 0));
	p.rise = 1;
	p.policy = (enum proxy_set_policy)7;
	assert_null(proxy_set_new(&p, 0));
}

/* fall failures in a row, not fewer, and a success in between starts the count again. */
static void
test_fall(void **state)
{
	struct seen seen = {0};
	struct proxy_set *s = make(2, PROXY_SET_FIRST_HEALTHY, 3, 2, &seen);

	(void)state;
	assert_true(proxy_set_up(s, 0));
	report_fail(s, 0, 2, 101);
	report_ok(s, 0, 1, 102);
	report_fail(s, 0, 2, 103);
	assert_true(proxy_set_up(s, 0));
	assert_int_equal(seen.calls, 0);
	assert_int_equal(proxy_set_active(s), 0);
	report_fail(s, 0, 1, 104);
	assert_false(proxy_set_up(s, 0));
	assert_int_equal(seen.calls, 1);
	assert_int_equal(seen.idx, 0);
	assert_false(seen.up);
	assert_int_equal(seen.old_active, 0);
	assert_int_equal(seen.new_active, 1);
	assert_int_equal(proxy_set_active(s), 1);
	assert_int_equal(proxy_set_stats(s, 0)->went_down, 1);
	assert_true(proxy_set_stats(s, 0)->since == 104);
	assert_int_equal(proxy_set_stats(s, 0)->checks_failed, 5);
	assert_int_equal(proxy_set_stats(s, 0)->checks_ok, 1);
	/* Further failures change nothing and call no hook. */
	report_fail(s, 0, 5, 105);
	assert_int_equal(seen.calls, 1);
	proxy_set_free(s);
}

/* rise successes in a row bring it back; a failure in between starts over. */
static void
test_rise_and_fail_back(void **state)
{
	struct seen seen = {0};
	struct proxy_set *s = make(3, PROXY_SET_FIRST_HEALTHY, 1, 3, &seen);

	(void)state;
	report_fail(s, 0, 1, 101);
	assert_int_equal(proxy_set_active(s), 1);
	report_ok(s, 0, 2, 102);
	report_fail(s, 0, 1, 103);
	report_ok(s, 0, 2, 104);
	assert_false(proxy_set_up(s, 0));
	assert_int_equal(proxy_set_active(s), 1);
	report_ok(s, 0, 1, 105);
	assert_true(proxy_set_up(s, 0));
	assert_int_equal(proxy_set_active(s), 0); /* fail back */
	assert_int_equal(seen.calls, 2);
	assert_true(seen.up);
	assert_int_equal(seen.old_active, 1);
	assert_int_equal(seen.new_active, 0);
	assert_int_equal(proxy_set_stats(s, 0)->went_up, 1);
	proxy_set_free(s);
}

/* A backup going down and up, while the first is fine, does not move the active one. */
static void
test_backup_changes_keep_active(void **state)
{
	struct seen seen = {0};
	struct proxy_set *s = make(2, PROXY_SET_FIRST_HEALTHY, 1, 1, &seen);

	(void)state;
	report_fail(s, 1, 1, 101);
	assert_int_equal(seen.calls, 1);
	assert_int_equal(seen.old_active, 0);
	assert_int_equal(seen.new_active, 0);
	assert_int_equal(proxy_set_active(s), 0);
	report_ok(s, 1, 1, 102);
	assert_int_equal(proxy_set_active(s), 0);
	proxy_set_free(s);
}

/* failover: stays on the backup when the first comes back; moves on in list order. */
static void
test_failover_no_fail_back(void **state)
{
	struct seen seen = {0};
	struct proxy_set *s = make(3, PROXY_SET_FAILOVER, 1, 1, &seen);

	(void)state;
	report_fail(s, 0, 1, 101);
	assert_int_equal(proxy_set_active(s), 1);
	report_ok(s, 0, 1, 102);
	assert_true(proxy_set_up(s, 0));
	assert_int_equal(proxy_set_active(s), 1);
	report_fail(s, 1, 1, 103);
	assert_int_equal(proxy_set_active(s), 2);
	report_fail(s, 2, 1, 104);
	assert_int_equal(proxy_set_active(s), 0); /* wraps to the next up */
	proxy_set_free(s);
}

/* All down: the active one stays (flows try it as with one proxy); first up wins. */
static void
test_all_down(void **state)
{
	struct seen seen = {0};
	struct proxy_set *s = make(2, PROXY_SET_FIRST_HEALTHY, 1, 1, &seen);

	(void)state;
	report_fail(s, 0, 1, 101);
	report_fail(s, 1, 1, 102);
	assert_int_equal(proxy_set_active(s), 1);
	assert_int_equal(proxy_set_pick(s), 1);
	assert_int_equal(proxy_set_next(s, 1, 1u << 1), -1);
	report_ok(s, 0, 1, 103);
	assert_int_equal(proxy_set_active(s), 0);
	proxy_set_free(s);
}

static void
test_round_robin(void **state)
{
	struct seen seen = {0};
	struct proxy_set *s = make(3, PROXY_SET_ROUND_ROBIN, 1, 1, &seen);

	(void)state;
	assert_int_equal(proxy_set_pick(s), 0);
	assert_int_equal(proxy_set_pick(s), 1);
	assert_int_equal(proxy_set_pick(s), 2);
	assert_int_equal(proxy_set_pick(s), 0);
	report_fail(s, 1, 1, 101);
	assert_int_equal(proxy_set_pick(s), 2);
	assert_int_equal(proxy_set_pick(s), 0);
	assert_int_equal(proxy_set_pick(s), 2);
	assert_int_equal(proxy_set_active(s), 0); /* UDP: the first up one */
	report_fail(s, 0, 1, 102);
	assert_int_equal(proxy_set_active(s), 2);
	assert_int_equal(proxy_set_stats(s, 2)->picked, 3);
	proxy_set_free(s);
}

/* Flow outcomes count toward the state like checks, in their own counters. */
static void
test_flow_reports(void **state)
{
	struct seen seen = {0};
	struct proxy_set *s = make(2, PROXY_SET_FIRST_HEALTHY, 2, 1, &seen);

	(void)state;
	proxy_set_report(s, 0, false, false, 101);
	proxy_set_report(s, 0, true, false, 101);
	proxy_set_report(s, 0, false, false, 102);
	assert_true(proxy_set_up(s, 0));
	proxy_set_report(s, 0, false, true, 102);
	assert_false(proxy_set_up(s, 0));
	assert_int_equal(proxy_set_stats(s, 0)->flow_failed, 2);
	assert_int_equal(proxy_set_stats(s, 0)->flow_ok, 1);
	assert_int_equal(proxy_set_stats(s, 0)->checks_failed, 1);
	proxy_set_report(s, 5, false, false, 103); /* out of range: ignored */
	proxy_set_free(s);
}

/* The SYN gate's retry: the next up proxy not tried yet, in list order. */
static void
test_next(void **state)
{
	struct seen seen = {0};
	struct proxy_set *s = make(4, PROXY_SET_FIRST_HEALTHY, 1, 1, &seen);

	(void)state;
	assert_int_equal(proxy_set_next(s, 0, 1u << 0), 1);
	report_fail(s, 1, 1, 101);
	assert_int_equal(proxy_set_next(s, 0, 1u << 0), 2);
	assert_int_equal(proxy_set_next(s, 2, (1u << 0) | (1u << 2)), 3);
	assert_int_equal(proxy_set_next(s, 3, (1u << 0) | (1u << 2) | (1u << 3)), -1);
	assert_int_equal(proxy_set_next(s, 3, 1u << 3), 0);
	assert_int_equal(proxy_set_stats(s, 0)->retried, 2);
	proxy_set_free(s);
}

static void
test_single(void **state)
{
	struct seen seen = {0};
	struct proxy_set *s = make(1, PROXY_SET_ROUND_ROBIN, 1, 1, &seen);

	(void)state;
	assert_int_equal(proxy_set_pick(s), 0);
	report_fail(s, 0, 1, 101);
	assert_int_equal(proxy_set_pick(s), 0);
	assert_int_equal(proxy_set_next(s, 0, 1), -1);
	assert_int_equal(seen.new_active, 0);
	proxy_set_free(s);
}

static void
test_reset(void **state)
{
	struct seen seen = {0};
	struct proxy_set *s = make(2, PROXY_SET_FIRST_HEALTHY, 1, 1, &seen);

	(void)state;
	report_fail(s, 0, 1, 101);
	assert_int_equal(proxy_set_reset(s, 3, 200), 0);
	assert_int_equal(proxy_set_count(s), 3);
	assert_true(proxy_set_up(s, 0));
	assert_int_equal(proxy_set_active(s), 0);
	assert_int_equal(proxy_set_stats(s, 0)->went_down, 1);
	assert_int_equal(proxy_set_reset(s, 0, 200), -EINVAL);
	assert_int_equal(proxy_set_reset(s, PROXY_SET_MAX + 1, 200), -EINVAL);
	proxy_set_free(s);
}

/* Not resolved yet: down, no hook, no count; rise checks bring it up. */
static void
test_mark_down(void **state)
{
	struct seen seen = {0};
	struct proxy_set *s = make(2, PROXY_SET_FIRST_HEALTHY, 1, 2, &seen);

	(void)state;
	proxy_set_mark_down(s, 1, 101);
	assert_false(proxy_set_up(s, 1));
	assert_int_equal(seen.calls, 0);
	assert_int_equal(proxy_set_stats(s, 1)->went_down, 0);
	assert_int_equal(proxy_set_next(s, 0, 1), -1);
	report_ok(s, 1, 1, 102);
	assert_false(proxy_set_up(s, 1));
	report_ok(s, 1, 1, 103);
	assert_true(proxy_set_up(s, 1));
	assert_int_equal(seen.calls, 1);
	proxy_set_mark_down(s, 0, 104);
	assert_int_equal(proxy_set_active(s), 1);
	proxy_set_free(s);
}

static void
test_policy_names(void **state)
{
	enum proxy_set_policy p;

	(void)state;
	assert_int_equal(proxy_set_policy_parse("failover", &p), 0);
	assert_int_equal(p, PROXY_SET_FAILOVER);
	assert_int_equal(proxy_set_policy_parse("first-healthy", &p), 0);
	assert_int_equal(p, PROXY_SET_FIRST_HEALTHY);
	assert_int_equal(proxy_set_policy_parse("round-robin", &p), 0);
	assert_int_equal(p, PROXY_SET_ROUND_ROBIN);
	assert_int_equal(proxy_set_policy_parse("random", &p), -EINVAL);
	assert_int_equal(proxy_set_policy_parse("", &p), -EINVAL);
	assert_string_equal(proxy_set_policy_str(PROXY_SET_ROUND_ROBIN), "round-robin");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bad_params),
		cmocka_unit_test(test_fall),
		cmocka_unit_test(test_rise_and_fail_back),
		cmocka_unit_test(test_backup_changes_keep_active),
		cmocka_unit_test(test_failover_no_fail_back),
		cmocka_unit_test(test_all_down),
		cmocka_unit_test(test_round_robin),
		cmocka_unit_test(test_flow_reports),
		cmocka_unit_test(test_next),
		cmocka_unit_test(test_single),
		cmocka_unit_test(test_reset),
		cmocka_unit_test(test_mark_down),
		cmocka_unit_test(test_policy_names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
