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
	static char var[] = "T2S_TEST_AUTH=user:p4ss:word";

	(void)state;
	assert_int_equal(putenv(var), 0);
	assert_int_equal(argv_scrub_env("T2S_TEST_AUTH"), 1);
	/* Masked where /proc/PID/environ shows it, and gone for every child. */
	assert_string_equal(var, "T2S_TEST_AUTH=**************");
	assert_null(getenv("T2S_TEST_AUTH"));
	assert_int_equal(argv_scrub_env("T2S_TEST_UNSET_VARIABLE"), 0);
	assert_int_equal(setenv("T2S_TEST_AUTH", "", 1), 0);
	assert_int_equal(argv_scrub_env("T2S_TEST_AUTH"), 1);
	assert_null(getenv("T2S_TEST_AUTH"));
}

/* The command's arguments are its own: only tun2socks' are masked. */
static void
scrub_stops_at_command(void **state)
{
	char a0[] = "tun2socks", a1[] = "--proxy=socks5://u:pw@h", a2[] = "--", a3[] = "curl",
	     a4[] = "--proxy", a5[] = "socks5://alice:hunter2@proxy";
	char *argv[] = {a0, a1, a2, a3, a4, a5, NULL};

	(void)state;
	assert_int_equal(argv_scrub_passwords(6, argv), 1);
	assert_string_equal(a1, "--proxy=socks5://u:**@h");
	assert_string_equal(a5, "socks5://alice:hunter2@proxy");
}

static void
scrub_message(void **state)
{
	char m1[] = "unknown option '--proxi=socks5://u:s3cret@198.18.0.2:1080'";
	char m2[] = "unexpected argument 'socks5://a:b@h' (a command goes after '--'); 'http://x:yy@z/p'";
	char m3[] = "--proxy: port out of range in socks5://host:99999";

	(void)state;
	assert_int_equal(argv_scrub_text(m1), 1);
	assert_string_equal(m1, "unknown option '--proxi=socks5://u:******@198.18.0.2:1080'");
	assert_int_equal(argv_scrub_text(m2), 2);
	assert_string_equal(m2, "unexpected argument 'socks5://a:*@h' (a command goes after '--'); 'http://x:**@z/p'");
	assert_int_equal(argv_scrub_text(m3), 0);
}

/* Who runs -- COMMAND when tun2socks is root. */
static void
command_user(void **state)
{
	struct privdrop_who w;

	(void)state;
	/* --user names the command's user too, under sudo or not. */
	assert_int_equal(privdrop_command_user("alice", 0, "bob", "1001", "1001", &w), 1);
	assert_string_equal(w.name, "alice");
	assert_int_equal(w.uid, -1);
	assert_int_equal(w.gid, -1);
	assert_int_equal(privdrop_command_user("root", 0, "bob", "1001", "1001", &w), 1);
	assert_string_equal(w.name, "root");
	/* sudo without --user: the caller, with sudo's ids. */
	assert_int_equal(privdrop_command_user(NULL, 0, "bob", "1001", "1002", &w), 1);
	assert_string_equal(w.name, "bob");
	assert_int_equal(w.uid, 1001);
	assert_int_equal(w.gid, 1002);
	assert_int_equal(privdrop_command_user(NULL, 0, "bob", NULL, "x", &w), 1);
	assert_int_equal(w.uid, -1);
	assert_int_equal(w.gid, -1);
	/* Root not via sudo, or not root at all: the command runs as we do. */
	assert_int_equal(privdrop_command_user(NULL, 0, NULL, NULL, NULL, &w), 0);
	assert_int_equal(privdrop_command_user(NULL, 0, "", "1001", "1001", &w), 0);
	assert_int_equal(privdrop_command_user(NULL, 1000, "bob", "1001", "1001", &w), 0);
}

static void
command_login(void **state)
{
	struct privdrop_who who = {.name = "root", .uid = -1, .gid = -1};
	struct privdrop_login l;
	char msg[128];

	(void)state;
	assert_int_equal(privdrop_login_resolve(&who, NULL, &l, msg, sizeof(msg)), 0);
	assert_int_equal(l.id.uid, 0);
	assert_true(l.id.ngroups >= 1);
	assert_ptr_equal(l.id.groups, l.groups);
	assert_string_equal(l.vars[2], "USER=root");
	assert_string_equal(l.vars[3], "LOGNAME=root");
	assert_int_equal(strncmp(l.vars[0], "HOME=", 5), 0);
	assert_string_equal(l.vars[0] + 5, l.home);
	/* sudo's uid wins; a uid without an entry still gets a usable login. */
	who = (struct privdrop_who){.name = "ghost", .uid = 3999999, .gid = 3999998};
	assert_int_equal(privdrop_login_resolve(&who, NULL, &l, msg, sizeof(msg)), 0);
	assert_int_equal(l.id.uid, 3999999);
	assert_int_equal(l.id.gid, 3999998);
	assert_int_equal(l.id.ngroups, 1);
	assert_string_equal(l.vars[0], "HOME=/");
	assert_string_equal(l.vars[2], "USER=ghost");
	who.gid = -1;
	assert_int_equal(privdrop_login_resolve(&who, NULL, &l, msg, sizeof(msg)), -ENOENT);
	who = (struct privdrop_who){.name = "no-such-user-t2s", .uid = -1, .gid = -1};
	assert_int_equal(privdrop_login_resolve(&who, NULL, &l, msg, sizeof(msg)), -ENOENT);
}

static void
command_env(void **state)
{
	struct privdrop_login l = {0};
	char *env[] = {"PATH=/usr/bin:/bin", "HOME=/root", "USER=root", "LOGNAME=root", "SHELL=/bin/bash",
		       "DISPLAY=:0", "WAYLAND_DISPLAY=wayland-0", "XDG_RUNTIME_DIR=/run/user/1000",
		       "DBUS_SESSION_BUS_ADDRESS=unix:path=/run/user/1000/bus", "SUDO_USER=alice",
		       "SUDO_UID=1000", "SUDO_GID=1000", "SUDO_COMMAND=/usr/bin/tun2socks", "USERX=kept", NULL};
	char *out[19];
	int n;

	(void)state;
	strcpy(l.vars[0], "HOME=/home/alice");
	strcpy(l.vars[1], "SHELL=/bin/zsh");
	strcpy(l.vars[2], "USER=alice");
	strcpy(l.vars[3], "LOGNAME=alice");
	n = privdrop_login_env(env, &l, out, 19);
	assert_int_equal(n, 10);
	assert_string_equal(out[0], "PATH=/usr/bin:/bin");
	assert_string_equal(out[1], "DISPLAY=:0");
	assert_string_equal(out[2], "WAYLAND_DISPLAY=wayland-0");
	assert_string_equal(out[3], "XDG_RUNTIME_DIR=/run/user/1000");
	assert_string_equal(out[4], "DBUS_SESSION_BUS_ADDRESS=unix:path=/run/user/1000/bus");
	assert_string_equal(out[5], "USERX=kept");
	assert_string_equal(out[6], "HOME=/home/alice");
	assert_string_equal(out[7], "SHELL=/bin/zsh");
	assert_string_equal(out[8], "USER=alice");
	assert_string_equal(out[9], "LOGNAME=alice");
	assert_null(out[10]);
	assert_int_equal(privdrop_login_env(env, &l, out, 10), -ENOSPC);
	assert_int_equal(privdrop_login_env(NULL, &l, out, 5), 4);
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
		cmocka_unit_test(scrub_stops_at_command),
		cmocka_unit_test(scrub_message),
		cmocka_unit_test(command_user),
		cmocka_unit_test(command_login),
		cmocka_unit_test(command_env),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
