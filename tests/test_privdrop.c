/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for privdrop (user/group lookup; the drop itself in a forked child, as
 * root only: it cannot be undone) and for argv_scrub (passwords masked in place).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "argv_scrub.h"
#include "privdrop.h"

static void
resolve_known_and_unknown(void **state)
{
	struct privdrop_target t;
	char msg[128] = "";

	(void)state;
	assert_int_equal(privdrop_resolve("root", NULL, &t, msg, sizeof(msg)), 0);
	assert_int_equal(t.uid, 0);
	assert_int_equal(t.gid, 0);
	assert_int_equal(privdrop_resolve("0", "0", &t, msg, sizeof(msg)), 0);
	assert_int_equal(privdrop_resolve("65534", "12345", &t, msg, sizeof(msg)), 0);
	assert_int_equal(t.uid, 65534);
	assert_int_equal(t.gid, 12345);
	assert_int_equal(privdrop_resolve("no-such-user-t2s", NULL, &t, msg, sizeof(msg)), -ENOENT);
	assert_non_null(strstr(msg, "--user no-such-user-t2s: no such user"));
	assert_int_equal(privdrop_resolve("root", "no-such-group-t2s", &t, msg, sizeof(msg)), -ENOENT);
	assert_non_null(strstr(msg, "--group no-such-group-t2s: no such group"));
	assert_int_equal(privdrop_resolve("4000000000", NULL, &t, msg, sizeof(msg)), -ENOENT);
}

/* Reads one "Key:\tvalue" line of /proc/self/status as a hex number. */
static unsigned long long
status_hex(const char *key)
{
	char line[256];
	unsigned long long v = ~0ull;
	size_t klen = strlen(key);
	FILE *fp = fopen("/proc/self/status", "re");

	if (fp == NULL)
		return v;
	while (fgets(line, sizeof(line), fp) != NULL)
		if (strncmp(line, key, klen) == 0 && line[klen] == ':')
			sscanf(line + klen + 1, "%llx", &v);
	fclose(fp);
	return v;
}

/* Child: drop, then report what it can still do through the exit status. */
static int
child_drop(unsigned keep, unsigned long long want_caps)
{
	struct privdrop_target t = {.uid = 65534, .gid = 65534};

	if (privdrop_apply(&t, keep) < 0)
		return 10;
	if (getuid() != 65534 || geteuid() != 65534 || getgid() != 65534 || getegid() != 65534)
		return 11;
	if (setuid(0) == 0 || setgid(0) == 0)
		return 12;
	if (prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) != 1)
		return 13;
	if (status_hex("CapEff") != want_caps || status_hex("CapPrm") != want_caps)
		return 14;
	if (status_hex("CapInh") != 0)
		return 15;
	return 0;
}

static void
drop_in_child(unsigned keep, unsigned long long want_caps)
{
	int st;
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid == 0)
		_exit(child_drop(keep, want_caps));
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
}

static void
drop_all(void **state)
{
	(void)state;
	if (geteuid() != 0)
		skip();
	drop_in_child(0, 0);
}

static void
drop_keep_net_admin(void **state)
{
	(void)state;
	if (geteuid() != 0)
		skip();
	drop_in_child(PRIVDROP_KEEP_NET_ADMIN, 1ull << 12);
	drop_in_child(PRIVDROP_KEEP_NET_ADMIN | PRIVDROP_KEEP_NET_RAW, 3ull << 12);
}

static void
scrub(void **state)
{
	char a0[] = "tun2socks", a1[] = "--proxy", a2[] = "socks5://user:s3cr:et@host:1080",
	     a3[] = "--proxy=socks5h://u:p@[::1]:1080/x", a4[] = "socks5://user@host", a5[] = "socks5://u:@h",
	     a6[] = "plain:text@x", a7[] = "-psocks5://a:b%40c@h";
	char *argv[] = {a0, a1, a2, a3, a4, a5, a6, a7, NULL};

	(void)state;
	assert_int_equal(argv_scrub_passwords(8, argv), 3);
	assert_string_equal(a2, "socks5://user:*******@host:1080");
	assert_string_equal(a3, "--proxy=socks5h://u:*@[::1]:1080/x");
	assert_string_equal(a4, "socks5://user@host");
	assert_string_equal(a5, "socks5://u:@h");
	assert_string_equal(a6, "plain:text@x");
	assert_string_equal(a7, "-psocks5://a:*****@h");
	assert_string_equal(a0, "tun2socks");
}

static void
scrub_env(void **state)
{
	(void)state;
	assert_int_equal(setenv("T2S_TEST_AUTH", "user:p4ss:word", 1), 0);
	assert_int_equal(argv_scrub_env("T2S_TEST_AUTH"), 1);
	assert_string_equal(getenv("T2S_TEST_AUTH"), "**************");
	assert_int_equal(argv_scrub_env("T2S_TEST_UNSET_VARIABLE"), 0);
	unsetenv("T2S_TEST_AUTH");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(resolve_known_and_unknown),
		cmocka_unit_test(drop_all),
		cmocka_unit_test(drop_keep_net_admin),
		cmocka_unit_test(scrub),
		cmocka_unit_test(scrub_env),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
