/* SPDX-License-Identifier: MIT */
/* What `tun2socks check` decides from a handshake's outcome, its report lines and exit
 * status, and the JSON it prints (escaping). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"

static const struct check_line *
find(const struct check_report *r, const char *name)
{
	for (unsigned i = 0; i < r->n; i++)
		if (strcmp(r->lines[i].name, name) == 0)
			return &r->lines[i];
	return NULL;
}

static void
assert_line(const struct check_report *r, const char *name, enum check_level level, const char *in_detail)
{
	const struct check_line *l = find(r, name);

	assert_non_null(l);
	assert_int_equal(l->level, level);
	if (in_detail != NULL && strstr(l->detail, in_detail) == NULL)
		fail_msg("line %s: '%s' has no '%s'", name, l->detail, in_detail);
}

static void
refused(void **state)
{
	struct check_report r = {0};
	struct check_handshake h = {.cmd = SOCKS5_CMD_CONNECT, .step = SOCKS5_HANDSHAKE_STEP_CONNECTING,
				    .err = -ECONNREFUSED, .what = "CONNECT to x:1"};

	(void)state;
	assert_false(check_handshake_report(&r, &h, true));
	assert_int_equal(r.n, 1);
	assert_line(&r, "reach", CHECK_FAIL, "Connection refused");
	assert_non_null(strstr(find(&r, "reach")->hint, "running"));
	assert_int_equal(check_exit_status(&r), 1);
}

static void
not_socks5(void **state)
{
	struct check_report r = {0};
	struct check_handshake h = {.cmd = SOCKS5_CMD_CONNECT, .step = SOCKS5_HANDSHAKE_STEP_METHOD,
				    .failure = SOCKS5_HANDSHAKE_PROXY_PROTOCOL, .err = -EPROTO, .ms_connect = 1};

	(void)state;
	assert_false(check_handshake_report(&r, &h, true));
	assert_line(&r, "reach", CHECK_OK, NULL);
	assert_line(&r, "greeting", CHECK_FAIL, "not a SOCKS5 answer");
	h.timed_out = true;
	r.n = 0;
	assert_false(check_handshake_report(&r, &h, true));
	assert_line(&r, "greeting", CHECK_FAIL, "no answer");
}

static void
credentials(void **state)
{
	struct check_report r = {0};
	struct check_handshake h = {.cmd = SOCKS5_CMD_CONNECT, .step = SOCKS5_HANDSHAKE_STEP_AUTH,
				    .failure = SOCKS5_HANDSHAKE_PROXY_AUTH, .method = SOCKS5_METHOD_USERPASS,
				    .credentials = true};

	(void)state;
	/* Rejected credentials. */
	assert_false(check_handshake_report(&r, &h, true));
	assert_line(&r, "greeting", CHECK_OK, NULL);
	assert_line(&r, "auth", CHECK_FAIL, "rejected");
	assert_int_equal(check_exit_status(&r), 1);
	/* None given, and the proxy wants some: the greeting says so, with the hint. */
	memset(&r, 0, sizeof(r));
	h.step = SOCKS5_HANDSHAKE_STEP_METHOD;
	h.method = SOCKS5_METHOD_UNACCEPTABLE;
	h.credentials = false;
	assert_false(check_handshake_report(&r, &h, true));
	assert_line(&r, "greeting", CHECK_FAIL, "none of the methods");
	assert_non_null(strstr(find(&r, "greeting")->hint, "wants credentials"));
	/* Given, but not asked for: a warning. */
	memset(&r, 0, sizeof(r));
	h = (struct check_handshake){.cmd = SOCKS5_CMD_CONNECT, .done = true, .step = SOCKS5_HANDSHAKE_STEP_DONE,
				     .method = SOCKS5_METHOD_NONE, .credentials = true, .what = "CONNECT to x:1"};
	assert_true(check_handshake_report(&r, &h, true));
	assert_line(&r, "auth", CHECK_WARN, "no authentication");
	assert_line(&r, "connect", CHECK_OK, "succeeded");
	assert_int_equal(check_exit_status(&r), 0);
}

static void
udp_variants(void **state)
{
	struct check_report r = {0};
	struct check_handshake h = {.cmd = SOCKS5_CMD_UDP_ASSOCIATE, .step = SOCKS5_HANDSHAKE_STEP_REQUEST,
				    .failure = SOCKS5_HANDSHAKE_REJECTED, .rep = SOCKS5_REP_CMD_UNSUPPORTED,
				    .method = SOCKS5_METHOD_NONE, .what = "UDP ASSOCIATE"};

	(void)state;
	/* REP 7 (microsocks, a CONNECT-only danted): a warning, not a failure. */
	assert_true(check_handshake_report(&r, &h, false));
	assert_int_equal(r.n, 1); /* not the first handshake: no reach/greeting/auth lines again */
	assert_line(&r, "udp-associate", CHECK_WARN, "REP 7");
	assert_int_equal(check_exit_status(&r), 0);
	/* ssh -D closes the connection instead. */
	memset(&r, 0, sizeof(r));
	h.failure = SOCKS5_HANDSHAKE_PROXY_PROTOCOL;
	assert_true(check_handshake_report(&r, &h, false));
	assert_line(&r, "udp-associate", CHECK_WARN, "ssh -D");
	/* A CONNECT refused by the proxy is a failure. */
	memset(&r, 0, sizeof(r));
	h = (struct check_handshake){.cmd = SOCKS5_CMD_CONNECT, .step = SOCKS5_HANDSHAKE_STEP_REQUEST,
				     .failure = SOCKS5_HANDSHAKE_REJECTED, .rep = SOCKS5_REP_NOT_ALLOWED,
				     .what = "CONNECT to x:1"};
	assert_true(check_handshake_report(&r, &h, false));
	assert_line(&r, "connect", CHECK_FAIL, "REP 2");
	assert_int_equal(check_exit_status(&r), 1);
}

static void
print_text_and_json(void **state)
{
	struct check_report r = {0};
	char *buf = NULL;
	size_t len = 0;
	FILE *f;

	(void)state;
	check_add(&r, "proxy", CHECK_OK, NULL, "a \"quoted\" \\ name\tand tab");
	check_add(&r, "dns", CHECK_SKIP, "give --dns-server", "no --dns-server");
	f = open_memstream(&buf, &len);
	check_print(&r, f, true);
	fclose(f);
	assert_string_equal(buf, "{\"check\":\"proxy\",\"result\":\"ok\",\"detail\":\"a \\\"quoted\\\" \\\\ "
				 "name\\u0009and tab\",\"hint\":\"\"}\n"
				 "{\"check\":\"dns\",\"result\":\"skip\",\"detail\":\"no --dns-server\",\"hint\":\"give "
				 "--dns-server\"}\n");
	free(buf);
	f = open_memstream(&buf, &len);
	check_print(&r, f, false);
	fclose(f);
	assert_non_null(strstr(buf, "skip  dns: no --dns-server (hint: give --dns-server)\n"));
	free(buf);
	assert_int_equal(check_exit_status(&r), 0);
	/* The report is bounded. */
	for (int i = 0; i < 40; i++)
		check_add(&r, "x", CHECK_FAIL, NULL, "%d", i);
	assert_int_equal(r.n, CHECK_MAX_LINES);
}

static void
host_side(void **state)
{
	struct check_report r = {0};
	unsigned major = 0, minor = 0;

	(void)state;
	check_route_report(&r, 0, "eth0", false, 1500, 0);
	assert_line(&r, "route", CHECK_OK, "eth0 (MTU 1500)");
	memset(&r, 0, sizeof(r));
	/* Marked sockets into a TUN: a loop for sure. Unmarked: maybe a running tun2socks. */
	check_route_report(&r, 0, "tun0", true, 65535, 0x7432);
	assert_line(&r, "route", CHECK_FAIL, "loop");
	assert_non_null(strstr(find(&r, "route")->detail, "mark 0x7432"));
	memset(&r, 0, sizeof(r));
	check_route_report(&r, 0, "tun0", true, 65535, 0);
	assert_line(&r, "route", CHECK_WARN, "tun0");
	memset(&r, 0, sizeof(r));
	check_route_report(&r, -ENETUNREACH, NULL, false, 0, 0);
	assert_line(&r, "route", CHECK_WARN, "unreachable");

	memset(&r, 0, sizeof(r));
	check_tun_report(&r, false, true);
	assert_line(&r, "tun", CHECK_FAIL, "no /dev/net/tun");
	memset(&r, 0, sizeof(r));
	check_tun_report(&r, true, false);
	assert_line(&r, "tun", CHECK_WARN, "CAP_NET_ADMIN");
	memset(&r, 0, sizeof(r));
	check_tun_report(&r, true, true);
	assert_line(&r, "tun", CHECK_OK, NULL);

	assert_int_equal(check_kernel_version("6.1.0-18-amd64", &major, &minor), 0);
	assert_int_equal(major, 6);
	assert_int_equal(minor, 1);
	assert_int_equal(check_kernel_version("4", &major, &minor), -EINVAL);
	assert_int_equal(check_kernel_version(NULL, &major, &minor), -EINVAL);
	memset(&r, 0, sizeof(r));
	check_kernel_report(&r, "4.16.3", 0, 0, false);
	assert_line(&r, "kernel", CHECK_WARN, "4.16");
	assert_line(&r, "userns", CHECK_WARN, "off");
	assert_line(&r, "forwarding", CHECK_WARN, "IPv4 only");
	assert_int_equal(check_exit_status(&r), 0); /* warnings do not fail */
	memset(&r, 0, sizeof(r));
	check_kernel_report(&r, "6.17.0", 15000, -1, true); /* no unprivileged_userns_clone: upstream */
	assert_line(&r, "kernel", CHECK_OK, "6.17");
	assert_line(&r, "userns", CHECK_OK, NULL);
	assert_line(&r, "forwarding", CHECK_OK, NULL);
	memset(&r, 0, sizeof(r));
	check_kernel_report(&r, "6.1.0", 15000, 0, true); /* Debian's switch off */
	assert_line(&r, "userns", CHECK_WARN, "needs root");

	assert_true(check_capeff_has("Name:\tx\nCapInh:\t0\nCapEff:\t000001ffffffffff\n", 12));
	assert_false(check_capeff_has("Name:\tx\nCapEff:\t0000000000000000\n", 12));
	assert_true(check_capeff_has("Name:\tx\nCapEff:\t0000000000001000\n", 12));
	assert_false(check_capeff_has("Name:\tx\nCapEff:\t0000000000000fff\n", 12));
	assert_false(check_capeff_has("CapEff:\t1000\n", 12)); /* not at a line start */
	assert_false(check_capeff_has(NULL, 12));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(refused),
		cmocka_unit_test(not_socks5),
		cmocka_unit_test(credentials),
		cmocka_unit_test(udp_variants),
		cmocka_unit_test(print_text_and_json),
		cmocka_unit_test(host_side),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
