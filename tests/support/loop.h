/* SPDX-License-Identifier: MIT */
/*
 * Driving a libev loop in tests without sleeps: run until a condition holds, bounded by
 * a deadline timer, or for a span of loop time.
 */
#ifndef T2S_TESTS_LOOP_H
#define T2S_TESTS_LOOP_H

#include <stdbool.h>

#include <ev.h>

typedef bool (*loop_pred_fn)(void *arg);

/*
 * Runs loop until pred(arg) holds or timeout seconds pass; returns pred's final value.
 * pred is checked before each iteration, so an already true condition runs nothing.
 */
bool loop_run_until(struct ev_loop *loop, loop_pred_fn pred, void *arg, double timeout);

/* Runs loop for seconds of loop time (ev_now advances by at least that much). */
void loop_run_for(struct ev_loop *loop, double seconds);

#endif
