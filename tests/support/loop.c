/* SPDX-License-Identifier: MIT */
/* One deadline timer per call; the loop is run an iteration at a time. */
#include "loop.h"

static void
deadline_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)loop;
	(void)w;
	(void)revents;
}

bool
loop_run_until(struct ev_loop *loop, loop_pred_fn pred, void *arg, double timeout)
{
	ev_timer deadline;
	bool ok;

	ev_now_update(loop);
	ev_timer_init(&deadline, deadline_cb, timeout, 0);
	ev_timer_start(loop, &deadline);
	while (!(ok = pred(arg)) && ev_is_active(&deadline))
		ev_run(loop, EVRUN_ONCE);
	ev_timer_stop(loop, &deadline);
	return ok;
}

static bool
never(void *arg)
{
	(void)arg;
	return false;
}

void
loop_run_for(struct ev_loop *loop, double seconds)
{
	(void)loop_run_until(loop, never, NULL, seconds);
}

struct uint_want {
	const unsigned *counter;
	unsigned want;
};

static bool
uint_reached(void *arg)
{
	const struct uint_want *w = arg;

	return *w->counter >= w->want;
}

bool
loop_wait_uint(struct ev_loop *loop, const unsigned *counter, unsigned want, double timeout)
{
	struct uint_want w = {counter, want};

	return loop_run_until(loop, uint_reached, &w, timeout);
}

struct u64_want {
	const uint64_t *counter;
	uint64_t want;
};

static bool
u64_reached(void *arg)
{
	const struct u64_want *w = arg;

	return *w->counter >= w->want;
}

bool
loop_wait_u64(struct ev_loop *loop, const uint64_t *counter, uint64_t want, double timeout)
{
	struct u64_want w = {counter, want};

	return loop_run_until(loop, u64_reached, &w, timeout);
}
