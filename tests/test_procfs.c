/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for procfs.c: the text lands in place (no truncation of what follows, as
 * /proc files are not truncated), and a failed open comes back as -errno.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "procfs.h"

static void
test_write(void **state)
{
	char path[] = "/tmp/t2s-procfs-XXXXXX", buf[32] = { 0 };
	int fd = mkstemp(path);
	ssize_t n;

	(void)state;
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "0 0 1\n", 6), 6);
	assert_int_equal(procfs_write(path, "1\n"), 0);
	n = pread(fd, buf, sizeof(buf) - 1, 0);
	assert_int_equal(n, 6);
	assert_string_equal(buf, "1\n0 1\n");
	close(fd);
	unlink(path);
}

static void
test_errors(void **state)
{
	(void)state;
	assert_int_equal(procfs_write("/nonexistent-t2s/x", "1"), -ENOENT);
	assert_int_equal(procfs_write("/", "1"), -EISDIR);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_write),
		cmocka_unit_test(test_errors),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
