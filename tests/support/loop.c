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
