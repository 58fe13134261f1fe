/* SPDX-License-Identifier: MIT */
/*
 * Driving a libev loop in tests without sleeps: run until a condition holds, bounded by
 * a deadline timer, or for a span of loop time.
 */
#ifndef T2S_TESTS_LOOP_H
#define T2S_TESTS_LOOP_H

#include <stdbool.h>
#include <stdint.h>

#include <ev.h>

typedef bool (*loop_pred_fn)(void *arg);

/*
 * Runs loop until pred(arg) holds or timeout seconds pass; returns pred's final value.
 * pred is checked before each iteration, so an already true condition runs nothing.
 */
bool loop_run_until(struct ev_loop *loop, loop_pred_fn pred, void *arg, double timeout);

/* Runs loop for seconds of loop time (ev_now advances by at least that much). */
void loop_run_for(struct ev_loop *loop, double seconds);

/* Run loop until *counter >= want, at most timeout seconds; return whether it got there. */
bool loop_wait_uint(struct ev_loop *loop, const unsigned *counter, unsigned want, double timeout);
bool loop_wait_u64(struct ev_loop *loop, const uint64_t *counter, uint64_t want, double timeout);

#endif
