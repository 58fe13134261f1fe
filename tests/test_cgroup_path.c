/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for cgroup_path.c: the cgroup2 mount found in mountinfo text (hybrid and
 * unified hosts, escapes), paths relative to its root or absolute under it with their
 * depth, what is refused, and the resolution to a directory's inode (on a temporary
 * tree given as the mount).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "cgroup_path.h"

/* A hybrid host's, cut down: v1 hierarchies, cgroup2 at /sys/fs/cgroup/unified. */
static const char hybrid[] =
	"22 1 0:21 / / rw,relatime shared:1 - ext4 /dev/vda rw\n"
	"31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755\n"
	"32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu\n"
	"41 31 0:38 / /sys/fs/cgroup/unified rw,relatime shared:9 - cgroup2 cgroup2 rw\n";

static void
test_mount(void **state)
{
	char mnt[64];

	(void)state;
	assert_int_equal(cgroup_path_mount(hybrid, mnt, sizeof(mnt)), 0);
	assert_string_equal(mnt, "/sys/fs/cgroup/unified");
	/* A unified host; no optional fields; no final newline. */
	assert_int_equal(cgroup_path_mount("30 22 0:26 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw,nsdelegate", mnt,
					   sizeof(mnt)),
			 0);
	assert_string_equal(mnt, "/sys/fs/cgroup");
	/* A mount point with a space, as the kernel escapes it. */
	assert_int_equal(cgroup_path_mount("5 1 0:9 / /mnt/my\\040cg rw - cgroup2 none rw\n", mnt, sizeof(mnt)), 0);
	assert_string_equal(mnt, "/mnt/my cg");
	/* "cgroup2" as a mount point or source is not the type. */
	assert_int_equal(cgroup_path_mount("5 1 0:9 / /cgroup2 rw - cgroup cgroup2 rw\n", mnt, sizeof(mnt)), -ENOENT);
	assert_int_equal(cgroup_path_mount("5 1 0:9 / /x rw - cgroup2x cgroup2 rw\n", mnt, sizeof(mnt)), -ENOENT);
	assert_int_equal(cgroup_path_mount("", mnt, sizeof(mnt)), -ENOENT);
	assert_int_equal(cgroup_path_mount("garbage\n\n", mnt, sizeof(mnt)), -ENOENT);
	assert_int_equal(cgroup_path_mount(hybrid, mnt, 8), -ENAMETOOLONG);
}

static void
test_parse(void **state)
{
	static const struct {
		const char *path, *dir;
		unsigned level;
	} good[] = {
		{"system.slice/foo.service", "/sys/fs/cgroup/unified/system.slice/foo.service", 2},
		{"/system.slice/foo.service", NULL, 0}, /* absolute: must be under the mount */
		{"/sys/fs/cgroup/unified/system.slice/foo.service", "/sys/fs/cgroup/unified/system.slice/foo.service", 2},
		{"user.slice", "/sys/fs/cgroup/unified/user.slice", 1},
		{"a//b/", "/sys/fs/cgroup/unified/a/b", 2},
		{"/sys/fs/cgroup/unified//x/", "/sys/fs/cgroup/unified/x", 1},
		{"a/b/c/d", "/sys/fs/cgroup/unified/a/b/c/d", 4},
		{"..hidden/x.", "/sys/fs/cgroup/unified/..hidden/x.", 2},
	};
	static const char *const bad[] = {
		"", "/", "//", "/sys/fs/cgroup/unified", "/sys/fs/cgroup/unified/", "a/../b", "..", "./a", "a/.",
		"/sys/fs/cgroup/unifiedX/a", "/sys/fs/cgroup/cpu/a", "/system.slice",
	};
	char dir[128];
	unsigned level, i;

	(void)state;
	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		int err = cgroup_path_parse("/sys/fs/cgroup/unified", good[i].path, dir, sizeof(dir), &level);

		if (good[i].dir == NULL) {
			assert_int_equal(err, -EINVAL);
			continue;
		}
		if (err != 0)
			fail_msg("refused: '%s' (%d)", good[i].path, err);
		assert_string_equal(dir, good[i].dir);
		assert_int_equal(level, good[i].level);
	}
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (cgroup_path_parse("/sys/fs/cgroup/unified", bad[i], dir, sizeof(dir), &level) != -EINVAL)
			fail_msg("accepted: '%s'", bad[i]);
	/* A mount point with a trailing slash; the root mount of a unified host. */
	assert_int_equal(cgroup_path_parse("/sys/fs/cgroup/", "/sys/fs/cgroup/a", dir, sizeof(dir), &level), 0);
	assert_string_equal(dir, "/sys/fs/cgroup/a");
	assert_int_equal(cgroup_path_parse("/sys/fs/cgroup", "a", dir, 16, &level), -ENAMETOOLONG);
	assert_int_equal(cgroup_path_parse("/sys/fs/cgroup", "a", dir, 17, &level), 0);
}

static void
test_resolve(void **state)
{
	char root[] = "/tmp/t2s-cgroup-XXXXXX", info[256], sub[96], file[96];
	struct cgroup_path_id id = {0, 0};
	struct stat st;
	FILE *f;

	(void)state;
	assert_non_null(mkdtemp(root));
	snprintf(sub, sizeof(sub), "%s/svc.slice", root);
	assert_int_equal(mkdir(sub, 0755), 0);
	snprintf(sub, sizeof(sub), "%s/svc.slice/a.service", root);
	assert_int_equal(mkdir(sub, 0755), 0);
	snprintf(file, sizeof(file), "%s/svc.slice/cgroup.procs", root);
	assert_non_null(f = fopen(file, "w"));
	fclose(f);
	snprintf(info, sizeof(info), "1 0 0:1 / / rw - ext4 /dev/vda rw\n9 1 0:9 / %s rw - cgroup2 cgroup2 rw\n", root);

	assert_int_equal(stat(sub, &st), 0);
	assert_int_equal(cgroup_path_resolve_in(info, "svc.slice/a.service", &id), 0);
	assert_true(id.id == (uint64_t)st.st_ino);
	assert_int_equal(id.level, 2);
	assert_int_equal(cgroup_path_resolve_in(info, sub, &id), 0); /* absolute */
	assert_true(id.id == (uint64_t)st.st_ino);
	assert_int_equal(cgroup_path_resolve_in(info, "svc.slice/b.service", &id), -ENOENT);
	assert_int_equal(cgroup_path_resolve_in(info, "svc.slice/cgroup.procs", &id), -ENOTDIR);
	assert_int_equal(cgroup_path_resolve_in(info, "svc.slice/../x", &id), -EINVAL);
	assert_int_equal(cgroup_path_resolve_in("1 0 0:1 / / rw - ext4 /dev/vda rw\n", "svc.slice", &id), -ENODEV);

	assert_int_equal(unlink(file), 0);
	assert_int_equal(rmdir(sub), 0);
	snprintf(sub, sizeof(sub), "%s/svc.slice", root);
	assert_int_equal(rmdir(sub), 0);
	assert_int_equal(rmdir(root), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_mount),
		cmocka_unit_test(test_parse),
		cmocka_unit_test(test_resolve),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
