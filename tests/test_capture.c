/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for the pure half of capture.c: --exclude prefixes, the plan of rules,
 * routes and sysctls for each mode, the state record (round trip, damaged records),
 * and the resolv.conf given to a command's namespace.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "capture.h"

/* The plan's IPv4 destinations that always stay direct, in its order. */
#define V4_LOCAL                                                                                       \
	"rule 4 7430 to 127.0.0.0/8 lookup 254\n"                                                       \
	"rule 4 7430 to 169.254.0.0/16 lookup 254\n"                                                    \
	"rule 4 7430 to 224.0.0.0/4 lookup 254\n"                                                       \
	"rule 4 7430 to 255.255.255.255/32 lookup 254\n"
/* Its IPv4 end: our own sockets direct, then everything else into the TUN. */
#define V4_TAIL                                                                                        \
	"rule 4 7431 fwmark 0x7432/0x7432 lookup 254\n"                                                 \
	"rule 4 7432 fwmark 0x7432/0x7432 unreachable\n"                                                \
	"rule 4 7434 lookup 7432\n"

static struct capture_plan plan, plan2;

/* The plan as record lines, one string, for whole-plan comparisons. */
static const char *
lines(const struct capture_plan *p)
{
	static char buf[32768];
	size_t pos = 0;
	unsigned i;

	buf[0] = '\0';
	for (i = 0; i < p->n; i++) {
		assert_int_equal(capture_op_format(&p->op[i], buf + pos, sizeof(buf) - pos - 1), 0);
		pos += strlen(buf + pos);
		buf[pos++] = '\n';
		buf[pos] = '\0';
	}
	return buf;
}

static void
test_prefix_parse(void **state)
{
	struct netlink_prefix p;
	char buf[64];

	(void)state;
	assert_int_equal(capture_prefix_parse("198.19.2.3/15", &p), 0);
	assert_int_equal(p.family, AF_INET);
	assert_int_equal(p.len, 15);
	capture_prefix_format(&p, buf, sizeof(buf));
	assert_string_equal(buf, "198.18.0.0/15"); /* host bits cleared */
	assert_int_equal(capture_prefix_parse("192.0.2.77", &p), 0);
	assert_int_equal(p.len, 32);
	assert_int_equal(capture_prefix_parse("2001:db8:1:2::ff/33", &p), 0);
	capture_prefix_format(&p, buf, sizeof(buf));
	assert_string_equal(buf, "2001:db8::/33");
	assert_int_equal(capture_prefix_parse("0.0.0.0/0", &p), 0);
	assert_int_equal(p.len, 0);
	assert_int_equal(capture_prefix_parse("::/0", &p), 0);
	assert_int_equal(capture_prefix_parse("fe80::1/129", &p), -EINVAL);
	assert_int_equal(capture_prefix_parse("198.18.0.0/33", &p), -EINVAL);
	assert_int_equal(capture_prefix_parse("198.18.0.0/", &p), -EINVAL);
	assert_int_equal(capture_prefix_parse("198.18.0.0/-1", &p), -EINVAL);
	assert_int_equal(capture_prefix_parse("198.18.0.0/15x", &p), -EINVAL);
	assert_int_equal(capture_prefix_parse("198.18.0/15", &p), -EINVAL);
	assert_int_equal(capture_prefix_parse("host.example", &p), -EINVAL);
	assert_int_equal(capture_prefix_parse("", &p), -EINVAL);
	assert_int_equal(capture_prefix_parse("1111:2222:3333:4444:5555:6666:7777:8888/128xxxxxxxxxxxxxxxxx", &p),
			 -EINVAL);
}

static void
test_plan_none(void **state)
{
	struct capture_params p = {.tun = "tun0", .ipv6 = true};

	(void)state;
	assert_int_equal(capture_plan_build(&p, &plan), 0);
	assert_int_equal(plan.n, 0);
}

static void
test_plan_whole_host(void **state)
{
	struct netlink_prefix ex[2];
	struct capture_params p = {
		.tun = "tun0", .whole_host = true, .fwmark = 0x7432, .exclude = ex, .n_exclude = 2, .ipv6 = true,
	};

	(void)state;
	assert_int_equal(capture_prefix_parse("198.51.100.0/24", &ex[0]), 0);
	assert_int_equal(capture_prefix_parse("2001:db8::/32", &ex[1]), 0);
	assert_int_equal(capture_plan_build(&p, &plan), 0);
	assert_string_equal(lines(&plan), "route 4 7432 unicast default dev tun0\n"
					  "rule 4 7426 fwmark 0x7432/0x7432 lookup 254\n"
					  "rule 4 7427 fwmark 0x7432/0x7432 unreachable\n"
					  "rule 4 7428 ipproto udp dport 53 lookup 7432\n"
					  "rule 4 7428 ipproto tcp dport 53 lookup 7432\n"
					  V4_LOCAL
					  "rule 4 7430 to 198.51.100.0/24 lookup 254\n"
					  V4_TAIL
					  "route 6 7432 unicast default dev tun0\n"
					  "rule 6 7426 fwmark 0x7432/0x7432 lookup 254\n"
					  "rule 6 7427 fwmark 0x7432/0x7432 unreachable\n"
					  "rule 6 7428 ipproto udp dport 53 lookup 7432\n"
					  "rule 6 7428 ipproto tcp dport 53 lookup 7432\n"
					  "rule 6 7430 to ::1/128 lookup 254\n"
					  "rule 6 7430 to fe80::/10 lookup 254\n"
					  "rule 6 7430 to ff00::/8 lookup 254\n"
					  "rule 6 7430 to 2001:db8::/32 lookup 254\n"
					  "rule 6 7431 fwmark 0x7432/0x7432 lookup 254\n"
					  "rule 6 7432 fwmark 0x7432/0x7432 unreachable\n"
					  "rule 6 7434 lookup 7432\n");

	/* Kill switch: a prohibit rule after the lookup, per family; no IPv6 when the host has none. */
	p.kill_switch = true;
	p.ipv6 = false;
	p.n_exclude = 0;
	assert_int_equal(capture_plan_build(&p, &plan), 0);
	assert_string_equal(lines(&plan), "route 4 7432 unicast default dev tun0\n"
					  "rule 4 7426 fwmark 0x7432/0x7432 lookup 254\n"
					  "rule 4 7427 fwmark 0x7432/0x7432 unreachable\n"
					  "rule 4 7428 ipproto udp dport 53 lookup 7432\n"
					  "rule 4 7429 ipproto udp dport 53 prohibit\n"
					  "rule 4 7428 ipproto tcp dport 53 lookup 7432\n"
					  "rule 4 7429 ipproto tcp dport 53 prohibit\n"
					  V4_LOCAL
					  V4_TAIL
					  "rule 4 7435 prohibit\n"
					  "nft inet tun2socks-tun0\n");

	/* A namespace whose proxy sockets live elsewhere (--netns): no mark rules. */
	p.fwmark = 0;
	assert_int_equal(capture_plan_build(&p, &plan), 0);
	assert_null(strstr(lines(&plan), "fwmark"));
	assert_non_null(strstr(lines(&plan), "rule 4 7435 prohibit\n"));
	assert_non_null(strstr(lines(&plan), "rule 4 7428 ipproto udp dport 53 lookup 7432\n"));

	/* --exclude-dns: DNS follows the exclusions like the rest. */
	p.exclude_dns = true;
	assert_int_equal(capture_plan_build(&p, &plan), 0);
	assert_null(strstr(lines(&plan), "dport"));
	assert_null(strstr(lines(&plan), " 7426 "));
}

static void
test_uid_range_parse(void **state)
{
	static const char *const bad[] = {
		"", "-", "x", "1000-", "-1000", "1000-999", "1000 ", " 1000", "+5", "1-2-3", "1000-x",
		"4294967295", "0-4294967295", "99999999999", "1,2", "0x10",
	};
	struct netlink_uid_range u;
	unsigned i;

	(void)state;
	assert_int_equal(capture_uid_range_parse("1000", &u), 0);
	assert_int_equal(u.start, 1000);
	assert_int_equal(u.end, 1000);
	assert_int_equal(capture_uid_range_parse("1000-1999", &u), 0);
	assert_int_equal(u.start, 1000);
	assert_int_equal(u.end, 1999);
	assert_int_equal(capture_uid_range_parse("0", &u), 0);
	assert_int_equal(u.end, 0);
	assert_int_equal(capture_uid_range_parse("0-4294967294", &u), 0);
	assert_int_equal(u.end, 4294967294u);
	assert_int_equal(capture_uid_range_parse("5-5", &u), 0);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (capture_uid_range_parse(bad[i], &u) != -EINVAL)
			fail_msg("accepted: '%s'", bad[i]);
}

/* The users not captured, as the rules at 7425 and the guard name them. */
static void
test_uid_direct(void **state)
{
	struct netlink_uid_range in[4], out[CAPTURE_MAX_UID_RANGES + 1];
	struct capture_params p = {.select = CAPTURE_SELECT_UID, .uids = in, .n_uids = 1};

	(void)state;
	in[0] = (struct netlink_uid_range){1000, 1999};
	assert_int_equal(capture_uid_direct(&p, out), 2);
	assert_true(out[0].start == 0 && out[0].end == 999 && out[1].start == 2000 && out[1].end == 4294967294u);
	/* Unsorted, overlapping and adjacent ranges merge; the ends of the uid space. */
	in[0] = (struct netlink_uid_range){3000, 3999};
	in[1] = (struct netlink_uid_range){0, 9};
	in[2] = (struct netlink_uid_range){3500, 4999};
	in[3] = (struct netlink_uid_range){5000, 4294967294u};
	p.n_uids = 4;
	assert_int_equal(capture_uid_direct(&p, out), 1);
	assert_true(out[0].start == 10 && out[0].end == 2999);
	p.select = CAPTURE_SELECT_EXCLUDE_UID;
	assert_int_equal(capture_uid_direct(&p, out), 2);
	assert_true(out[0].start == 0 && out[0].end == 9 && out[1].start == 3000 && out[1].end == 4294967294u);
	/* Everyone captured: nobody goes direct. */
	p.select = CAPTURE_SELECT_UID;
	in[0] = (struct netlink_uid_range){0, 4294967294u};
	p.n_uids = 1;
	assert_int_equal(capture_uid_direct(&p, out), 0);
	p.n_uids = 0;
	assert_int_equal(capture_uid_direct(&p, out), -EINVAL);
	p.n_uids = 1;
	p.select = CAPTURE_SELECT_ALL;
	assert_int_equal(capture_uid_direct(&p, out), -EINVAL);
}

static void
test_plan_select(void **state)
{
	struct netlink_uid_range uids[2] = {{1000, 1999}, {5, 5}};
	struct capture_params p = {
		.tun = "tun0", .whole_host = true, .fwmark = 0x7432, .exclude_dns = true,
		.select = CAPTURE_SELECT_UID, .uids = uids, .n_uids = 1,
	};

	(void)state;
	/* --uid: other users to main; connections marked by the select chain keep their path. */
	assert_int_equal(capture_plan_build(&p, &plan), 0);
	assert_string_equal(lines(&plan), "route 4 7432 unicast default dev tun0\n"
					  "rule 4 7423 fwmark 0x1000000/0x1000000 lookup 7432\n"
					  "rule 4 7425 fwmark 0x2000000/0x2000000 lookup 254\n"
					  "rule 4 7425 iif lo uidrange 0-999 lookup 254\n"
					  "rule 4 7425 iif lo uidrange 2000-4294967294 lookup 254\n"
					  V4_LOCAL V4_TAIL);
	/* --exclude-uid with the kill switch: one rule per range, captured connections refused. */
	p.select = CAPTURE_SELECT_EXCLUDE_UID;
	p.n_uids = 2;
	p.kill_switch = true;
	assert_int_equal(capture_plan_build(&p, &plan), 0);
	assert_non_null(strstr(lines(&plan), "rule 4 7423 fwmark 0x1000000/0x1000000 lookup 7432\n"
					     "rule 4 7424 fwmark 0x1000000/0x1000000 prohibit\n"
					     "rule 4 7425 fwmark 0x2000000/0x2000000 lookup 254\n"
					     "rule 4 7425 iif lo uidrange 5-5 lookup 254\n"
					     "rule 4 7425 iif lo uidrange 1000-1999 lookup 254\n"));
	assert_non_null(strstr(lines(&plan), "rule 4 7435 prohibit\nnft inet tun2socks-tun0\n"));
	/* The record holds them (an upgrade's next start and `down` read it back). */
	{
		static char text[CAPTURE_MAX_OPS * 160];
		struct capture_owner o = {.pid = 42, .start = 7}, o2;

		assert_true(capture_record_format(&plan, &o, text, sizeof(text)) > 0);
		assert_int_equal(capture_record_parse(text, &plan2, &o2), 0);
		assert_string_equal(lines(&plan2), lines(&plan));
	}
	/* A selection without users is a caller's bug. */
	p.n_uids = 0;
	assert_int_equal(capture_plan_build(&p, &plan), -EINVAL);
	/* With a LAN too: only what this host sends is selected (iif lo); forwarded packets,
	 * routed as uid 0, still meet the capture. */
	p.share_from = "lan0";
	p.n_uids = 1;
	assert_int_equal(capture_plan_build(&p, &plan), 0);
	assert_non_null(strstr(lines(&plan), "rule 4 7425 iif lo uidrange 1000-1999 lookup 254\n"));
	assert_non_null(strstr(lines(&plan), "rule 4 7434 lookup 7432\n"));
	/* Only for the whole host: the LAN's forwarded traffic has no user. */
	p.whole_host = false;
	p.share_from = "lan0";
	p.n_uids = 1;
	assert_int_equal(capture_plan_build(&p, &plan), 0);
	assert_null(strstr(lines(&plan), "uidrange"));
}

/* --cgroup and --exclude-cgroup: no rule knows cgroups; the select chain's mark S does. */
static void
test_plan_cgroup(void **state)
{
	static char text[CAPTURE_MAX_OPS * 160];
	struct cgroup_path_id cg[2] = {{4242, 2}, {77, 1}};
	struct capture_owner o = {.pid = 42, .start = 7}, o2;
	struct capture_params p = {
		.tun = "tun0", .whole_host = true, .fwmark = 0x7432, .exclude_dns = true,
		.select = CAPTURE_SELECT_CGROUP, .cgroups = cg, .n_cgroups = 1,
	};

	(void)state;
	/* --cgroup: what has no S goes direct; S goes on to the exclusions and the TUN; the
	 * TUN's rp_filter loose (those connections keep the main table's source address). */
	assert_int_equal(capture_plan_build(&p, &plan), 0);
	assert_string_equal(lines(&plan), "route 4 7432 unicast default dev tun0\n"
					  "rule 4 7423 fwmark 0x1000000/0x1000000 lookup 7432\n"
					  "rule 4 7425 fwmark 0x2000000/0x2000000 lookup 254\n"
					  "rule 4 7425 fwmark 0x0/0x4000000 iif lo lookup 254\n"
					  V4_LOCAL
					  V4_TAIL
					  "sysctl net/ipv4/conf/tun0/rp_filter 2 -\n");
	/* With the kill switch the table goes in first: until its chain marks them, the rules
	 * send the cgroup's connections direct. Both families. */
	p.kill_switch = true;
	p.ipv6 = true;
	p.exclude_dns = false;
	p.n_cgroups = 2;
	assert_int_equal(capture_plan_build(&p, &plan), 0);
	assert_int_equal(plan.op[0].kind, CAPTURE_OP_NFT);
	assert_string_equal(plan.op[0].u.nft_table, "tun2socks-tun0");
	assert_non_null(strstr(lines(&plan), "rule 6 7423 fwmark 0x1000000/0x1000000 lookup 7432\n"
					     "rule 6 7424 fwmark 0x1000000/0x1000000 prohibit\n"
					     "rule 6 7425 fwmark 0x2000000/0x2000000 lookup 254\n"
					     "rule 6 7425 fwmark 0x0/0x4000000 iif lo lookup 254\n"));
	assert_non_null(strstr(lines(&plan), "rule 4 7429 ipproto udp dport 53 prohibit\n"));
	assert_non_null(strstr(lines(&plan), "rule 6 7435 prohibit\nsysctl net/ipv4/conf/tun0/rp_filter 2 -\n"));
	assert_null(strstr(lines(&plan), "uidrange"));
	/* The record holds it all: `down` and the next start (maybe a later version) lift it. */
	strcpy(plan.op[plan.n - 1].u.sysctl.old, "1");
	assert_true(capture_record_format(&plan, &o, text, sizeof(text)) > 0);
	assert_int_equal(capture_record_parse(text, &plan2, &o2), 0);
	assert_string_equal(lines(&plan2), lines(&plan));

	/* --exclude-cgroup: S goes direct; no rp_filter; with the kill switch the guard
	 * is the kill switch (a prohibit rule would refuse the exempt cgroups' connect()
	 * once the TUN is gone, before any mark): no 7429, no 7435, the table recorded. */
	p.select = CAPTURE_SELECT_EXCLUDE_CGROUP;
	p.ipv6 = false;
	assert_int_equal(capture_plan_build(&p, &plan), 0);
	assert_string_equal(lines(&plan), "route 4 7432 unicast default dev tun0\n"
					  "rule 4 7423 fwmark 0x1000000/0x1000000 lookup 7432\n"
					  "rule 4 7424 fwmark 0x1000000/0x1000000 prohibit\n"
					  "rule 4 7425 fwmark 0x2000000/0x2000000 lookup 254\n"
					  "rule 4 7425 fwmark 0x4000000/0x4000000 lookup 254\n"
					  "rule 4 7426 fwmark 0x7432/0x7432 lookup 254\n"
					  "rule 4 7427 fwmark 0x7432/0x7432 unreachable\n"
					  "rule 4 7428 ipproto udp dport 53 lookup 7432\n"
					  "rule 4 7428 ipproto tcp dport 53 lookup 7432\n"
					  V4_LOCAL
					  V4_TAIL
					  "nft inet tun2socks-tun0\n");
	/* A LAN still fails closed by its own rules. */
	p.share_from = "lan0";
	assert_int_equal(capture_plan_build(&p, &plan), 0);
	assert_non_null(strstr(lines(&plan), "rule 4 7435 iif lan0 prohibit\n"));
	assert_non_null(strstr(lines(&plan), "rule 4 7429 iif lan0 ipproto tcp dport 53 prohibit\n"));
	p.share_from = NULL;
	/* A selection without cgroups, or with too many, is a caller's bug. */
	p.n_cgroups = 0;
	assert_int_equal(capture_plan_build(&p, &plan), -EINVAL);
	p.n_cgroups = CAPTURE_MAX_CGROUPS + 1;
	assert_int_equal(capture_plan_build(&p, &plan), -EINVAL);
	/* Only for the whole host. */
	p.whole_host = false;
	p.share_from = "lan0";
	p.n_cgroups = 1;
	assert_int_equal(capture_plan_build(&p, &plan), 0);
	assert_null(strstr(lines(&plan), "0x4000000"));
}

/*
 * Records of earlier versions still parse, so that `down` and the next start lift
 * them: without a selection, and with the uid selection before cgroups existed.
 */
static void
test_record_older(void **state)
{
	static const char v_uid[] = "tun2socks-capture 1\npid 99\nstart 5\n"
				    "route 4 7432 unicast default dev tun0\n"
				    "rule 4 7423 fwmark 0x1000000/0x1000000 lookup 7432\n"
				    "rule 4 7424 fwmark 0x1000000/0x1000000 prohibit\n"
				    "rule 4 7425 fwmark 0x2000000/0x2000000 lookup 254\n"
				    "rule 4 7425 iif lo uidrange 0-999 lookup 254\n"
				    "rule 4 7434 lookup 7432\n"
				    "rule 4 7435 prohibit\n"
				    "nft inet tun2socks-tun0\n";
	static const char v_none[] = "tun2socks-capture 1\npid 99\n"
				     "route 4 7432 unicast default dev tun0\n"
				     "rule 4 7434 lookup 7432\n"
				     "rule 4 7435 prohibit\n"
				     "nft inet tun2socks-tun0\n";
	struct cgroup_path_id cg = {4242, 1};
	struct capture_params p = {
		.tun = "tun0", .whole_host = true, .kill_switch = true, .exclude_dns = true,
		.select = CAPTURE_SELECT_CGROUP, .cgroups = &cg, .n_cgroups = 1,
	};
	struct capture_owner o;
	unsigned i, shared = 0;

	(void)state;
	assert_int_equal(capture_record_parse(v_uid, &plan2, &o), 0);
	assert_int_equal(plan2.n, 8);
	assert_true(plan2.op[4].u.rule.uid_set);
	/* A --cgroup start after it keeps what both want (the table, the TUN's routes, the
	 * marks' rules) and lifts the rest (the uidrange rule). */
	assert_int_equal(capture_plan_build(&p, &plan), 0);
	for (i = 0; i < plan2.n; i++) {
		char line[160];
		const char *all = lines(&plan);

		assert_int_equal(capture_op_format(&plan2.op[i], line, sizeof(line)), 0);
		strcat(line, "\n");
		shared += strstr(all, line) != NULL;
	}
	assert_int_equal(shared, 7);
	assert_int_equal(capture_record_parse(v_none, &plan2, &o), 0);
	assert_int_equal(plan2.n, 4);
	assert_true(o.start == 0);
}

static void
test_plan_lan(void **state)
{
	struct capture_params p = {.tun = "tun0", .share_from = "lan0", .kill_switch = true, .ipv6 = true};

	(void)state;
	assert_int_equal(capture_plan_build(&p, &plan), 0);
	/* Only what lan0 forwards is concerned: every rule names it; sysctls for both ends. */
	assert_string_equal(lines(&plan), "route 4 7432 unicast default dev tun0\n"
					  "rule 4 7428 iif lan0 ipproto udp dport 53 lookup 7432\n"
					  "rule 4 7429 iif lan0 ipproto udp dport 53 prohibit\n"
					  "rule 4 7428 iif lan0 ipproto tcp dport 53 lookup 7432\n"
					  "rule 4 7429 iif lan0 ipproto tcp dport 53 prohibit\n"
					  "rule 4 7430 iif lan0 to 127.0.0.0/8 lookup 254\n"
					  "rule 4 7430 iif lan0 to 169.254.0.0/16 lookup 254\n"
					  "rule 4 7430 iif lan0 to 224.0.0.0/4 lookup 254\n"
					  "rule 4 7430 iif lan0 to 255.255.255.255/32 lookup 254\n"
					  "rule 4 7433 iif lan0 lookup 7432\n"
					  "rule 4 7435 iif lan0 prohibit\n"
					  "route 6 7432 unicast default dev tun0\n"
					  "rule 6 7428 iif lan0 ipproto udp dport 53 lookup 7432\n"
					  "rule 6 7429 iif lan0 ipproto udp dport 53 prohibit\n"
					  "rule 6 7428 iif lan0 ipproto tcp dport 53 lookup 7432\n"
					  "rule 6 7429 iif lan0 ipproto tcp dport 53 prohibit\n"
					  "rule 6 7430 iif lan0 to ::1/128 lookup 254\n"
					  "rule 6 7430 iif lan0 to fe80::/10 lookup 254\n"
					  "rule 6 7430 iif lan0 to ff00::/8 lookup 254\n"
					  "rule 6 7433 iif lan0 lookup 7432\n"
					  "rule 6 7435 iif lan0 prohibit\n"
					  "sysctl net/ipv4/conf/lan0/forwarding 1 -\n"
					  "sysctl net/ipv4/conf/lan0/rp_filter 2 -\n"
					  "sysctl net/ipv4/conf/tun0/forwarding 1 -\n"
					  "sysctl net/ipv4/conf/tun0/rp_filter 2 -\n"
					  "sysctl net/ipv6/conf/lan0/force_forwarding 1 - optional\n"
					  "sysctl net/ipv6/conf/tun0/force_forwarding 1 - optional\n");

	/* Without the kill switch the LAN still fails closed: the same prohibit rules. */
	p.kill_switch = false;
	assert_int_equal(capture_plan_build(&p, &plan), 0);
	assert_non_null(strstr(lines(&plan), "rule 4 7435 iif lan0 prohibit\n"));
	assert_non_null(strstr(lines(&plan), "rule 6 7435 iif lan0 prohibit\n"));
	assert_non_null(strstr(lines(&plan), "rule 4 7429 iif lan0 ipproto udp dport 53 prohibit\n"));
	assert_null(strstr(lines(&plan), "nft"));

	/* With the whole host captured too, the host-wide rules cover the LAN; without the
	 * kill switch only the LAN's forwarded traffic is refused after a crash. */
	p.whole_host = true;
	p.fwmark = 1;
	assert_int_equal(capture_plan_build(&p, &plan), 0);
	assert_non_null(strstr(lines(&plan), "rule 4 7434 lookup 7432\nrule 4 7435 iif lan0 prohibit\n"));
	/* The replies lwIP sends the LAN come in from the TUN: main, not back into it. */
	assert_non_null(strstr(lines(&plan), "rule 4 7433 iif tun0 lookup 254\nrule 4 7434 lookup 7432\n"));
	assert_non_null(strstr(lines(&plan), "rule 6 7433 iif tun0 lookup 254\n"));
	assert_non_null(strstr(lines(&plan), "rule 4 7428 ipproto udp dport 53 lookup 7432\n"));
	assert_non_null(strstr(lines(&plan), "rule 4 7429 iif lan0 ipproto udp dport 53 prohibit\n"));
	assert_non_null(strstr(lines(&plan), "sysctl net/ipv4/conf/lan0/forwarding 1 -\n"));
	p.kill_switch = true;
	assert_int_equal(capture_plan_build(&p, &plan), 0);
	assert_null(strstr(lines(&plan), "iif lan0"));
	assert_non_null(strstr(lines(&plan), "rule 4 7433 iif tun0 lookup 254\n"));
	assert_non_null(strstr(lines(&plan), "rule 4 7435 prohibit\n"));
}

static void
test_plan_too_big(void **state)
{
	static struct netlink_prefix ex[CAPTURE_MAX_OPS];
	struct capture_params p = {.tun = "t", .whole_host = true, .exclude = ex, .n_exclude = CAPTURE_MAX_OPS};
	unsigned i;

	(void)state;
	for (i = 0; i < CAPTURE_MAX_OPS; i++)
		assert_int_equal(capture_prefix_parse("198.18.0.0/15", &ex[i]), 0);
	assert_int_equal(capture_plan_build(&p, &plan), -E2BIG);
}

static void
test_op_round_trip(void **state)
{
	static const char *const good[] = {
		"rule 4 7430 to 198.18.0.0/15 lookup 254",
		"rule 6 7431 fwmark 0x1/0xffffffff lookup 254",
		"rule 4 7432 fwmark 0x7432/0x7432 unreachable",
		"rule 6 7433 iif wlan0 lookup 7432",
		"rule 4 7435 iif lan0 prohibit",
		"rule 4 100 prohibit",
		"rule 4 7428 ipproto udp dport 53 lookup 7432",
		"rule 6 7429 iif lan0 ipproto tcp dport 53 prohibit",
		"rule 4 7428 ipproto tcp lookup 7432",
		"rule 4 7425 iif lo uidrange 1000-1999 lookup 254",
		"rule 6 7425 uidrange 0-0 lookup 254",
		"rule 4 7423 fwmark 0x1000000/0x1000000 lookup 7432",
		"rule 6 7425 fwmark 0x0/0x4000000 iif lo lookup 254",
		"rule 4 7425 fwmark 0x4000000/0x4000000 lookup 254",
		"nft inet tun2socks-tun0",
		"nft inet tun2socks-a.b_c-15chars",
		"route 4 7432 unicast default dev tun0",
		"route 6 254 unicast 2001:db8::/32 dev t",
		"route 4 7432 unreachable default",
		"sysctl net/ipv4/conf/eth0/rp_filter 2 1",
		"sysctl net/ipv6/conf/eth0/force_forwarding 1 - optional",
	};
	struct capture_op op;
	char buf[256];
	unsigned i;

	(void)state;
	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		if (capture_op_parse(good[i], &op) != 0)
			fail_msg("rejected: %s", good[i]);
		assert_int_equal(capture_op_format(&op, buf, sizeof(buf)), 0);
		assert_string_equal(buf, good[i]);
	}
	assert_int_equal(capture_op_format(&op, buf, 10), -ENOSPC);
}

static void
test_op_parse_bad(void **state)
{
	static const char *const bad[] = {
		"",
		"rule",
		"rule 5 7430 prohibit",
		"rule 4 x prohibit",
		"rule 4 7430",                     /* no action */
		"rule 4 7430 prohibit lookup 254", /* two actions */
		"rule 4 7430 lookup",
		"rule 4 7430 to 2001:db8::/32 lookup 254", /* wrong family */
		"rule 4 7430 fwmark 1 lookup 254",         /* no mask */
		"rule 4 7430 fwmark 1/0 lookup 254",
		"rule 4 7430 iif abcdefghijklmnopq prohibit",
		"rule 4 7430 bogus 1 prohibit",
		"rule 4 7428 ipproto icmp lookup 7432",
		"nft inet",
		"nft ip tun2socks-tun0",
		"nft inet filter",               /* never a table that is not ours */
		"nft inet tun2socks-",
		"nft inet tun2socks-0123456789abcdef", /* longer than an interface name */
		"nft inet tun2socks-tun0 extra",
		"rule 4 7428 ipproto udp ipproto tcp lookup 7432",
		"rule 4 7428 dport 53 lookup 7432",           /* a port needs a protocol */
		"rule 4 7428 ipproto udp dport 0 lookup 7432",
		"rule 4 7428 ipproto udp dport 65536 lookup 7432",
		"rule 4 7428 ipproto udp dport x lookup 7432",
		"rule 4 7428 ipproto udp dport lookup 7432",
		"route 4 7432 multicast default",
		"route 4 7432 unicast",
		"route 4 7432 unicast default dev",
		"route 4 7432 unicast default via tun0",
		"route 4 7432 unicast default dev tun0 extra",
		"route 6 7432 unicast 198.18.0.0/15",
		"sysctl net/ipv4/conf/eth0/rp_filter 2",
		"sysctl kernel/core_pattern x -",       /* only under net/ */
		"sysctl net/../../etc/passwd 1 -",      /* never climbs out */
		"sysctl net/ipv4/ip_forward 1 0 please",
		"swap 1 2",
		"rule 4 7425 uidrange 1000 lookup 254", /* always FIRST-LAST in a record */
		"rule 4 7425 uidrange 2000-1000 lookup 254",
		"rule 4 7425 uidrange 0-4294967295 lookup 254",
		"rule 4 7425 uidrange lookup 254",
		"rule 4 7425 uidrange 1-2 uidrange 3-4 lookup 254",
		"rule 4 7425 not uidrange 1-2 lookup 254",
	};
	struct capture_op op;
	unsigned i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (capture_op_parse(bad[i], &op) != -EINVAL)
			fail_msg("accepted: '%s'", bad[i]);
}

static void
test_record_round_trip(void **state)
{
	static char text[CAPTURE_MAX_OPS * 160];
	struct capture_params p = {
		.tun = "tun0", .whole_host = true, .kill_switch = true, .fwmark = 9, .share_from = "lan0", .ipv6 = true,
	};
	struct capture_owner owner = {4242, 123456789012ull}, got;
	int len;

	(void)state;
	assert_int_equal(capture_plan_build(&p, &plan), 0);
	strcpy(plan.op[plan.n - 1].u.sysctl.old, "0"); /* as capture_start records it */
	len = capture_record_format(&plan, &owner, text, sizeof(text));
	assert_true(len > 0);
	assert_int_equal((size_t)len, strlen(text));
	assert_memory_equal(text, "tun2socks-capture 1\npid 4242\nstart 123456789012\n", 48);
	assert_int_equal(capture_record_parse(text, &plan2, &got), 0);
	assert_int_equal(got.pid, 4242);
	assert_true(got.start == 123456789012ull);
	assert_int_equal(plan2.n, plan.n);
	assert_string_equal(lines(&plan2), lines(&plan));
	/* A parsed rule is the same value as a planned one: what lifting and adopting compare. */
	assert_memory_equal(&plan2.op[1], &plan.op[1], sizeof(plan.op[1]));
	assert_int_equal(capture_record_format(&plan, &owner, text, 40), -ENOSPC);
}

static void
test_record_parse_bad(void **state)
{
	struct capture_owner pid;

	(void)state;
	assert_int_equal(capture_record_parse("tun2socks-capture 1\npid 7\n", &plan, &pid), 0);
	assert_int_equal(plan.n, 0);
	assert_int_equal(pid.pid, 7);
	assert_true(pid.start == 0); /* a record of an earlier version: no start time */
	assert_int_equal(capture_record_parse("tun2socks-capture 1\npid 7\nstart 99\n", &plan, &pid), 0);
	assert_true(pid.start == 99);
	assert_int_equal(capture_record_parse("tun2socks-capture 1\npid 7\nstart x\n", &plan, &pid), -EINVAL);
	assert_int_equal(capture_record_parse("tun2socks-capture 1\npid 7\nstart -1\n", &plan, &pid), -EINVAL);
	assert_int_equal(capture_record_parse("tun2socks-capture 1\npid 7\nstart 9 \n", &plan, &pid), -EINVAL);
	assert_int_equal(capture_record_parse("", &plan, &pid), -EINVAL);
	assert_int_equal(capture_record_parse("tun2socks-capture 2\npid 7\n", &plan, &pid), -EINVAL);
	assert_int_equal(capture_record_parse("tun2socks-capture 1\npid x\n", &plan, &pid), -EINVAL);
	assert_int_equal(capture_record_parse("tun2socks-capture 1\npid 0\n", &plan, &pid), -EINVAL);
	assert_int_equal(capture_record_parse("tun2socks-capture 1\n", &plan, &pid), -EINVAL);
	/* a record cut short in its last line is refused, not half applied */
	assert_int_equal(capture_record_parse("tun2socks-capture 1\npid 7\nrule 4 7435 prohibit", &plan, &pid),
			 -EINVAL);
	assert_int_equal(capture_record_parse("tun2socks-capture 1\npid 7\nrule 4 7435 pro\n", &plan, &pid),
			 -EINVAL);
}

/* /proc/PID/stat: the state letter and field 22, with a command name that tries to confuse. */
static void
test_stat_parse(void **state)
{
	const char *st = "4242 (tun 2) so) S 1 4242 4242 34816 4242 4194560 1175 0 0 0 12 7 0 0 20 0 1 0 "
			 "987654 23846912 1519 18446744073709551615 1 1 0 0 0 0 0 4096 0 0 0 0 17 1 0 0 0 0 0\n";
	unsigned long long start = 0;
	char s = 0;

	(void)state;
	assert_int_equal(capture_stat_parse(st, &s, &start), 0);
	assert_int_equal(s, 'S');
	assert_true(start == 987654);
	assert_int_equal(capture_stat_parse("1 (init) S 0 1 1 0 -1 4194560 5 0 0 0 0 0 0 0 20 0 1 0 7\n", &s, &start), 0);
	assert_true(start == 7);
	assert_int_equal(capture_stat_parse("1 (init) S 0 1 1 0 -1 4194560 5 0 0 0 0 0 0 0 20 0 1 0\n", &s, &start),
			 -EINVAL);
	assert_int_equal(capture_stat_parse("1 (init S 0", &s, &start), -EINVAL);
	assert_int_equal(capture_stat_parse("", &s, &start), -EINVAL);
}

/* Whose record is stale: the start time tells a reused PID from the run that wrote it. */
static void
test_owner_alive(void **state)
{
	const char *run = "4242 (tun2socks) S 1 4242 4242 0 -1 4194560 5 0 0 0 0 0 0 0 20 0 1 0 5000 0\n";
	const char *zombie = "4242 (tun2socks) Z 1 4242 4242 0 -1 4194560 5 0 0 0 0 0 0 0 20 0 1 0 5000 0\n";
	const char *reused = "4242 (sleep) S 1 4242 4242 0 -1 4194560 5 0 0 0 0 0 0 0 20 0 1 0 9000 0\n";
	struct capture_owner o = {4242, 5000}, old = {4242, 0};

	(void)state;
	assert_true(capture_owner_alive(&o, run, 1));
	assert_false(capture_owner_alive(&o, reused, 1)); /* was EBUSY before: the PID was reused */
	assert_false(capture_owner_alive(&o, zombie, 1));
	assert_false(capture_owner_alive(&o, NULL, 1));
	assert_false(capture_owner_alive(&o, run, 4242)); /* that is us now */
	assert_true(capture_owner_alive(&o, "garbage", 1)); /* cannot tell: keep it */
	/* A record without a start time (an earlier version): the PID alone. */
	assert_true(capture_owner_alive(&old, reused, 1));
	assert_false(capture_owner_alive(&old, zombie, 1));
}

static void
test_resolv_conf(void **state)
{
	struct netlink_prefix server = {0}, stub = {0};
	char out[512];

	(void)state;
	assert_int_equal(capture_prefix_parse("192.0.2.53", &stub), 0);
	/* the host's file is fine as it is */
	assert_int_equal(capture_resolv_conf("nameserver 192.0.2.9\nsearch example\n", &server, &stub, out,
					     sizeof(out)),
			 CAPTURE_RESOLV_HOST);
	/* loopback nameservers are dropped, the rest kept */
	assert_int_equal(capture_resolv_conf("nameserver 127.0.0.53\nnameserver 192.0.2.9\noptions edns0\n", &server,
					     &stub, out, sizeof(out)),
			 CAPTURE_RESOLV_OWN);
	assert_null(strstr(out, "127.0.0.53"));
	assert_null(strstr(out, "192.0.2.53"));
	assert_non_null(strstr(out, "\nnameserver 192.0.2.9\noptions edns0\n"));
	/* --dns-server wins */
	assert_int_equal(capture_prefix_parse("2001:db8::53", &server), 0);
	assert_int_equal(capture_resolv_conf("nameserver 127.0.0.53\n", &server, &stub, out, sizeof(out)),
			 CAPTURE_RESOLV_OWN);
	assert_non_null(strstr(out, "\nnameserver 2001:db8::53\n"));
	assert_null(strstr(out, "127.0.0.53"));
	assert_null(strstr(out, "192.0.2.53"));
	assert_int_equal(capture_resolv_conf("nameserver 192.0.2.9\n", &server, &stub, out, sizeof(out)),
			 CAPTURE_RESOLV_OWN);
	assert_null(strstr(out, "192.0.2.9"));
	assert_int_equal(capture_resolv_conf(NULL, &server, &stub, out, 20), -ENOSPC);
}

/* systemd-resolved's stub alone (Ubuntu, Fedora), or no nameserver at all: tun2socks' own. */
static void
test_resolv_conf_stub(void **state)
{
	static const char resolved[] = "# This is /run/systemd/resolve/stub-resolv.conf managed by systemd-resolved\n"
				       "nameserver 127.0.0.53\n"
				       "options edns0 trust-ad\n"
				       "search lan\n";
	struct netlink_prefix server = {0}, stub = {0}, none = {0};
	char out[512];

	(void)state;
	assert_int_equal(capture_prefix_parse("192.0.2.53", &stub), 0);
	assert_int_equal(capture_resolv_conf(resolved, &server, &stub, out, sizeof(out)), CAPTURE_RESOLV_STUB);
	assert_null(strstr(out, "127.0.0.53"));
	assert_non_null(strstr(out, "\nnameserver 192.0.2.53\n"));
	assert_non_null(strstr(out, "\noptions edns0 trust-ad\nsearch lan\n"));
	/* exactly one nameserver line */
	assert_null(strstr(strstr(out, "\nnameserver ") + 1, "\nnameserver "));
	/* every loopback form: 127/8 and ::1 */
	assert_int_equal(capture_resolv_conf("nameserver 127.0.0.1\nnameserver 127.1.2.3\nnameserver ::1\n", &server,
					     &stub, out, sizeof(out)),
			 CAPTURE_RESOLV_STUB);
	assert_null(strstr(out, "127."));
	assert_null(strstr(out, "::1"));
	/* no file, an empty one, one without nameservers */
	assert_int_equal(capture_resolv_conf(NULL, &server, &stub, out, sizeof(out)), CAPTURE_RESOLV_STUB);
	assert_non_null(strstr(out, "\nnameserver 192.0.2.53\n"));
	assert_int_equal(capture_resolv_conf("", &server, &stub, out, sizeof(out)), CAPTURE_RESOLV_STUB);
	assert_int_equal(capture_resolv_conf("search lan\n", &server, &stub, out, sizeof(out)), CAPTURE_RESOLV_STUB);
	/* a word that only starts like one, or a value on the next line, is not a nameserver */
	assert_int_equal(capture_resolv_conf("nameservers 192.0.2.9\nnameserver\n192.0.2.9\n", &server, &stub, out,
					     sizeof(out)),
			 CAPTURE_RESOLV_STUB);
	/* a non-loopback nameserver anywhere keeps the host's: no stub */
	assert_int_equal(capture_resolv_conf("nameserver 127.0.0.53\nnameserver 2001:db8::1\n", &server, &stub, out,
					     sizeof(out)),
			 CAPTURE_RESOLV_OWN);
	assert_null(strstr(out, "192.0.2.53"));
	/* without a stub address: nothing usable */
	assert_int_equal(capture_resolv_conf(resolved, &server, NULL, out, sizeof(out)), -ENOENT);
	assert_int_equal(capture_resolv_conf(resolved, &server, &none, out, sizeof(out)), -ENOENT);
	/* too small */
	assert_int_equal(capture_resolv_conf(resolved, &server, &stub, out, 60), -ENOSPC);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_prefix_parse),
		cmocka_unit_test(test_plan_none),
		cmocka_unit_test(test_plan_whole_host),
		cmocka_unit_test(test_uid_range_parse),
		cmocka_unit_test(test_uid_direct),
		cmocka_unit_test(test_plan_select),
		cmocka_unit_test(test_plan_cgroup),
		cmocka_unit_test(test_record_older),
		cmocka_unit_test(test_plan_lan),
		cmocka_unit_test(test_plan_too_big),
		cmocka_unit_test(test_op_round_trip),
		cmocka_unit_test(test_op_parse_bad),
		cmocka_unit_test(test_record_round_trip),
		cmocka_unit_test(test_record_parse_bad),
		cmocka_unit_test(test_stat_parse),
		cmocka_unit_test(test_owner_alive),
		cmocka_unit_test(test_resolv_conf),
		cmocka_unit_test(test_resolv_conf_stub),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
