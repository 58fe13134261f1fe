/* SPDX-License-Identifier: MIT */
/* Unit tests for netns: which signals reach the command once, and only once. */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "netns.h"

enum { US = 100, CMD = 101, OTHER = 555 };

static void
forward_decision(void **state)
{
	(void)state;
	/* Ctrl-C, Ctrl-\ from the terminal: the whole foreground group, command included. */
	assert_false(netns_cmd_forward(SIGINT, SI_KERNEL, 0, CMD, US, US, false));
	assert_false(netns_cmd_forward(SIGINT, SI_KERNEL, 0, CMD, US, US, true));
	/* ... unless the command left our process group (then it did not get it). */
	assert_true(netns_cmd_forward(SIGINT, SI_KERNEL, 0, CMD, CMD, US, false));
	/* A hangup reaches only the session leader. */
	assert_true(netns_cmd_forward(SIGHUP, SI_KERNEL, 0, CMD, US, US, true));
	assert_false(netns_cmd_forward(SIGHUP, SI_KERNEL, 0, CMD, US, US, false));
	/* kill(1) from another process reaches only us: passed on. */
	assert_true(netns_cmd_forward(SIGTERM, SI_USER, OTHER, CMD, US, US, false));
	assert_true(netns_cmd_forward(SIGINT, SI_USER, OTHER, CMD, US, US, false));
	assert_true(netns_cmd_forward(SIGHUP, SI_USER, OTHER, CMD, US, US, false));
	assert_true(netns_cmd_forward(SIGHUP, SI_QUEUE, OTHER, CMD, US, US, false));
	assert_true(netns_cmd_forward(SIGTERM, SI_TKILL, OTHER, CMD, US, US, false));
	/* The command signalling us does not get its own signal back. */
	assert_false(netns_cmd_forward(SIGTERM, SI_USER, CMD, CMD, US, US, false));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(forward_decision),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
