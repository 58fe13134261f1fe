/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for cli.c and config.c: defaults, every option with valid and invalid
 * values (each error must name its option), help/version, missing or stray arguments,
 * repeated parsing, and config_set_credentials.
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
#include "cli.h"
#include "config.h"

#define MAX_ARGS 32
#define PROXY "socks5://127.0.0.1:1080"

/* Runs cli_parse over "tun2socks" + the NULL-terminated arguments, on fresh defaults. */
static int
parse_va(struct t2s_config *cfg, char *msg, size_t msglen, va_list ap)
{
	char *argv[MAX_ARGS + 2];
	int argc = 0;
	const char *a;

	argv[argc++] = (char *)"tun2socks";
	while ((a = va_arg(ap, const char *)) != NULL) {
		assert_true(argc <= MAX_ARGS);
		argv[argc++] = (char *)a;
	}
	argv[argc] = NULL;
	config_defaults(cfg);
	if (msglen)
		msg[0] = '\0';
	return cli_parse(argc, argv, cfg, msg, msglen);
}

static int
parse(struct t2s_config *cfg, char *msg, size_t msglen, ...)
{
	va_list ap;
	int r;

	va_start(ap, msglen);
	r = parse_va(cfg, msg, msglen, ap);
	va_end(ap);
	return r;
}

/* Expects CLI_RUN. */
static void
ok(struct t2s_config *cfg, ...)
{
	char msg[256];
	va_list ap;
	int r;

	va_start(ap, cfg);
	r = parse_va(cfg, msg, sizeof(msg), ap);
	va_end(ap);
	if (r != CLI_RUN)
		fail_msg("rejected (%d): %s", r, msg);
}

/* Expects -EINVAL with a message containing each of the two fragments (want2 may be NULL). */
static void
bad(const char *want1, const char *want2, ...)
{
	struct t2s_config cfg;
	char msg[256];
	va_list ap;
	int r;

	va_start(ap, want2);
	r = parse_va(&cfg, msg, sizeof(msg), ap);
	va_end(ap);
	if (r != -EINVAL)
		fail_msg("accepted (%d), wanted an error about %s", r, want1);
	if (strchr(msg, '\n') != NULL)
		fail_msg("message is not one line: \"%s\"", msg);
	if (strstr(msg, want1) == NULL)
		fail_msg("message \"%s\" lacks \"%s\"", msg, want1);
	if (want2 != NULL && strstr(msg, want2) == NULL)
		fail_msg("message \"%s\" lacks \"%s\"", msg, want2);
}

static void
assert_defaults_except_proxy(const struct t2s_config *cfg)
{
	assert_string_equal(cfg->tun_name, CONFIG_DEFAULT_TUN);
	assert_int_equal(cfg->tun_fd, -1);
	assert_int_equal(cfg->mtu, CONFIG_DEFAULT_MTU);
	assert_false(cfg->has_address4);
	assert_false(cfg->has_address6);
	assert_int_equal(cfg->prefix4, 0);
	assert_int_equal(cfg->prefix6, 0);
	assert_true(cfg->connect_timeout == CONFIG_DEFAULT_CONNECT_TIMEOUT);
	assert_true(cfg->idle_timeout == CONFIG_DEFAULT_IDLE_TIMEOUT);
	assert_int_equal(cfg->max_flows, CONFIG_DEFAULT_MAX_FLOWS);
	assert_int_equal(cfg->max_memory, 0);
	assert_int_equal(cfg->fwmark, 0);
	assert_int_equal(cfg->log_level, LOG_LEVEL_INFO);
	assert_null(cfg->auth_file);
}

static void
assert_server(const struct t2s_config *cfg, const char *want)
{
	char buf[T2S_ENDPOINT_STRLEN];

	endpoint_format(&cfg->proxy.server, buf, sizeof(buf));
	assert_string_equal(buf, want);
}

/* ---- defaults, help, version ---- */

static void
test_defaults(void **state)
{
	struct t2s_config cfg;
	static const uint8_t zero16[16];

	(void)state;
	memset(&cfg, 0xa5, sizeof(cfg));
	config_defaults(&cfg);
	assert_defaults_except_proxy(&cfg);
	assert_int_equal(cfg.mtu, 65535);
	assert_true(cfg.offload);
	assert_string_equal(cfg.tun_name, "tun2socks0");
	assert_true(cfg.connect_timeout == 10.0);
	assert_true(cfg.idle_timeout == 7440.0);
	assert_int_equal(cfg.max_flows, 16384);
	assert_int_equal(cfg.proxy.server.type, T2S_ENDPOINT_NONE);
	assert_int_equal(cfg.proxy.has_credentials, 0);
	assert_string_equal(cfg.proxy.user, "");
	assert_string_equal(cfg.proxy.pass, "");
	assert_int_equal(cfg.address4.s_addr, 0);
	assert_memory_equal(&cfg.address6, zero16, 16);
}

static void
test_proxy_only(void **state)
{
	struct t2s_config cfg;

	(void)state;
	ok(&cfg, "--proxy", PROXY, NULL);
	assert_defaults_except_proxy(&cfg);
	assert_int_equal(cfg.proxy.server.type, T2S_ENDPOINT_IPV4);
	assert_server(&cfg, "127.0.0.1:1080");
	assert_int_equal(cfg.proxy.has_credentials, 0);

	ok(&cfg, "-p", "socks5://[::1]:9050", NULL);
	assert_server(&cfg, "[::1]:9050");
	ok(&cfg, "--proxy=socks5://proxy.example:1081", NULL);
	assert_int_equal(cfg.proxy.server.type, T2S_ENDPOINT_DOMAIN);
	assert_server(&cfg, "proxy.example:1081");
	ok(&cfg, "--proxy", "socks5://198.18.2.3", NULL);
	assert_server(&cfg, "198.18.2.3:1080");
	ok(&cfg, "--proxy", "socks5://alice:s3cret@198.18.2.3:1", NULL);
	assert_int_equal(cfg.proxy.has_credentials, 1);
	assert_string_equal(cfg.proxy.user, "alice");
	assert_string_equal(cfg.proxy.pass, "s3cret");
	/* given again: a list, in order */
	ok(&cfg, "--proxy", "socks5://198.18.0.1:1", "--proxy", "socks5://198.18.0.2:2", NULL);
	assert_server(&cfg, "198.18.0.1:1");
	assert_int_equal(cfg.n_backup, 1);
	assert_int_equal(cfg.backup[0].server.port, 2);
}

/* Several proxies, the policy and the checks' options. */
static void
test_proxy_list(void **state)
{
	struct t2s_config cfg;

	(void)state;
	ok(&cfg, "--proxy", PROXY, NULL);
	assert_int_equal(cfg.proxy_policy, PROXY_SET_FIRST_HEALTHY);
	assert_true(cfg.proxy_check_interval == PROXY_SET_DEFAULT_INTERVAL);
	assert_true(cfg.proxy_check_timeout == PROXY_SET_DEFAULT_TIMEOUT);
	assert_int_equal(cfg.proxy_fall, PROXY_SET_DEFAULT_FALL);
	assert_int_equal(cfg.proxy_rise, PROXY_SET_DEFAULT_RISE);
	ok(&cfg, "--proxy", "socks5://198.18.0.1", "--proxy", "socks5://u:p@198.18.0.2", "--proxy", "socks5://198.18.0.3",
	   "--proxy-policy", "failover", "--proxy-check-interval", "0.5", "--proxy-check-timeout", "0.2",
	   "--proxy-fall", "1", "--proxy-rise", "3", NULL);
	assert_int_equal(cfg.n_backup, 2);
	assert_string_equal(cfg.backup[0].user, "u");
	assert_int_equal(cfg.backup[1].server.u.ipv4[3], 3);
	assert_int_equal(cfg.proxy_policy, PROXY_SET_FAILOVER);
	assert_true(cfg.proxy_check_interval == 0.5);
	assert_true(cfg.proxy_check_timeout == 0.2);
	assert_int_equal(cfg.proxy_fall, 1);
	assert_int_equal(cfg.proxy_rise, 3);
	ok(&cfg, "--proxy", PROXY, "--proxy-policy", "round-robin", NULL);
	assert_int_equal(cfg.proxy_policy, PROXY_SET_ROUND_ROBIN);
	bad("--proxy-policy", "first-healthy, failover or round-robin", "--proxy", PROXY, "--proxy-policy", "random",
	    NULL);
	bad("--proxy-policy", NULL, "--proxy", PROXY, "--proxy-policy", "", NULL);
	bad("--proxy-check-interval", "0.1..3600", "--proxy", PROXY, "--proxy-check-interval", "0", NULL);
	bad("--proxy-check-interval", NULL, "--proxy", PROXY, "--proxy-check-interval", "0.05", NULL);
	bad("--proxy-check-interval", NULL, "--proxy", PROXY, "--proxy-check-interval", "5x", NULL);
	bad("--proxy-check-interval", NULL, "--proxy", PROXY, "--proxy-check-interval", "-1", NULL);
	bad("--proxy-check-interval", NULL, "--proxy", PROXY, "--proxy-check-interval", "3601", NULL);
	bad("--proxy-check-timeout", "0.1..600", "--proxy", PROXY, "--proxy-check-timeout", "abc", NULL);
	bad("--proxy-fall", "1..100", "--proxy", PROXY, "--proxy-fall", "0", NULL);
	bad("--proxy-rise", "1..100", "--proxy", PROXY, "--proxy-rise", "101", NULL);
	bad("--proxy", "what the first does", "--proxy", PROXY, "--proxy", "http://198.18.0.2:8080", NULL);
	bad("--proxy", "TLS", "--proxy", "socks5+tls://198.18.0.1", "--proxy", "socks5+tls://198.18.0.2", NULL);
	bad("--proxy", "at most 8", "--proxy", PROXY, "--proxy", PROXY, "--proxy", PROXY, "--proxy", PROXY, "--proxy",
	    PROXY, "--proxy", PROXY, "--proxy", PROXY, "--proxy", PROXY, "--proxy", PROXY, NULL);
}

static void
test_proxy_invalid(void **state)
{
	(void)state;
	bad("--proxy", NULL, "--proxy", "ftp://127.0.0.1:3128", NULL);
	bad("--proxy", NULL, "--proxy", "", NULL);
	bad("--proxy", NULL, "--proxy", "socks5://", NULL);
	bad("--proxy", NULL, "--proxy", "socks5://127.0.0.1:0", NULL);
	bad("--proxy", NULL, "--proxy", "socks5://127.0.0.1:65536", NULL);
	bad("--proxy", NULL, "-p", "127.0.0.1:1080", NULL);
	/* a bad proxy is reported even when a good one came first */
	bad("--proxy", NULL, "--proxy", PROXY, "--proxy", "socks4://x", NULL);
}

static void
test_help_version(void **state)
{
	struct t2s_config cfg;
	char msg[64];

	(void)state;
	assert_int_equal(parse(&cfg, msg, sizeof(msg), "--help", NULL), CLI_HELP);
	assert_int_equal(parse(&cfg, msg, sizeof(msg), "-h", NULL), CLI_HELP);
	assert_int_equal(parse(&cfg, msg, sizeof(msg), "--version", NULL), CLI_VERSION);
	assert_int_equal(parse(&cfg, msg, sizeof(msg), "-V", NULL), CLI_VERSION);
	/* neither needs --proxy, and they win over whatever follows them */
	assert_int_equal(parse(&cfg, msg, sizeof(msg), "--proxy", PROXY, "-h", "--mtu", "1", "junk", NULL), CLI_HELP);
	assert_int_equal(parse(&cfg, msg, sizeof(msg), "-V", "-h", NULL), CLI_VERSION);
	/* an error before them is still an error */
	assert_int_equal(parse(&cfg, msg, sizeof(msg), "--mtu", "1", "--help", NULL), -EINVAL);
	assert_non_null(strstr(msg, "--mtu"));
}

static void
test_usage_lists_every_option(void **state)
{
	static const char *const names[] = {
		"--proxy",    "--proxy-auth-file", "--tun",          "--tun-fd",    "--mtu",
		"--address",  "--address6",        "--connect-timeout", "--idle-timeout", "--max-flows",
		"--fwmark",   "--log-level",       "--help",         "--version",   "-p,",
		"-t,",        "-m,",               "-a,",            "-6,",         "-l,",
		"-h,",        "-V,",               "--auto-route",   "--exclude",   "--kill-switch",
		"--share-from", "--netns",         "--dns-server",   "-- COMMAND",  "tun2socks down",
		"--max-memory", "--exclude-dns",   "--uid",          "--exclude-uid",
		"--cgroup",     "--exclude-cgroup", "--resolved",
	};

	(void)state;
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strstr(cli_usage, names[i]) == NULL)
			fail_msg("usage does not mention %s", names[i]);
	assert_int_equal(cli_usage[strlen(cli_usage) - 1], '\n');
}

/* ---- generic argument errors ---- */

static void
test_missing_proxy(void **state)
{
	(void)state;
	bad("--proxy", "required", NULL);
	bad("--proxy", "required", "--mtu", "1500", "--tun", "tun7", NULL);
	bad("--proxy", "required", "--proxy-auth-file", "/etc/auth", NULL);
}

static void
test_unknown_option(void **state)
{
	(void)state;
	bad("unknown option", "--bogus", "--proxy", PROXY, "--bogus", NULL);
	bad("unknown option", "--bogus=1", "--bogus=1", "--proxy", PROXY, NULL);
	bad("unknown option", "-x", "--proxy", PROXY, "-x", NULL);
	bad("unknown option", "-?", "-?", NULL);
	/* An argument quoted back keeps no password. */
	bad("unknown option", "'--proxi=socks5://u:******@198.18.0.2:1080'", "--proxi=socks5://u:s3cret@198.18.0.2:1080",
	    NULL);
	bad("unexpected argument", "'socks5://u:**@h'", "--proxy", PROXY, "socks5://u:pw@h", NULL);
}

static void
test_unknown_in_cluster(void **state)
{
	struct t2s_config cfg;
	char msg[128];

	(void)state;
	assert_int_equal(parse(&cfg, msg, sizeof(msg), "--proxy", PROXY, "-xh", NULL), -EINVAL);
	if (strstr(msg, "'-x'") == NULL)
		fail_msg("message \"%s\" does not name -x", msg);
	/* a no-argument long option given a value is named as written */
	assert_int_equal(parse(&cfg, msg, sizeof(msg), "--proxy", PROXY, "--help=yes", NULL), -EINVAL);
	assert_non_null(strstr(msg, "--help=yes"));
}

static void
test_missing_value(void **state)
{
	static const char *const opts[] = {
		"--proxy", "--proxy-auth-file", "--tun", "--tun-fd", "--mtu", "--address",
		"--address6", "--connect-timeout", "--idle-timeout", "--max-flows", "--fwmark", "--log-level",
		"--max-memory", "-p", "-t", "-m", "-a", "-6", "-l",
	};

	(void)state;
	for (size_t i = 0; i < sizeof(opts) / sizeof(opts[0]); i++) {
		bad("needs a value", opts[i], "--proxy", PROXY, opts[i], NULL);
		if (strcmp(opts[i], "--proxy") != 0 && strcmp(opts[i], "-p") != 0)
			bad("needs a value", opts[i], opts[i], NULL);
	}
}

static void
test_stray_argument(void **state)
{
	(void)state;
	bad("unexpected argument", "'foo'", "--proxy", PROXY, "foo", NULL);
	/* getopt moves operands to the end; they are still refused */
	bad("unexpected argument", "'foo'", "foo", "--proxy", PROXY, NULL);
	bad("unexpected argument", "'foo'", "--mtu", "1500", "foo", "--proxy", PROXY, "bar", NULL);
	/* "down" is a subcommand only on its own */
	bad("unexpected argument", "'down'", "--proxy", PROXY, "down", "now", NULL);
	/* a lone "-" is an operand too */
	bad("unexpected argument", "'-'", "--proxy", PROXY, "-", NULL);
}

/* ---- individual options ---- */

static void
test_tun(void **state)
{
	struct t2s_config cfg;

	(void)state;
	ok(&cfg, "--proxy", PROXY, "--tun", "tun0", NULL);
	assert_string_equal(cfg.tun_name, "tun0");
	ok(&cfg, "--proxy", PROXY, "-t", "abcdefghijklmno", NULL); /* 15 bytes: IFNAMSIZ - 1 */
	assert_string_equal(cfg.tun_name, "abcdefghijklmno");
	ok(&cfg, "--proxy", PROXY, "--tun=wg-x_1", NULL);
	assert_string_equal(cfg.tun_name, "wg-x_1");

	bad("--tun", "abcdefghijklmnop", "--proxy", PROXY, "--tun", "abcdefghijklmnop", NULL);
	bad("--tun", NULL, "--proxy", PROXY, "--tun", "", NULL);
	bad("--tun", "a/b", "--proxy", PROXY, "--tun", "a/b", NULL);
	bad("--tun", NULL, "--proxy", PROXY, "-t", "/dev/net/tun", NULL);
}

static void
test_tun_fd(void **state)
{
	static const char *const bad_values[] = {"-1", "65536", "x", "", "3x", " 3", "+3", "4294967299"};
	struct t2s_config cfg;

	(void)state;
	ok(&cfg, "--proxy", PROXY, "--tun-fd", "0", NULL);
	assert_int_equal(cfg.tun_fd, 0);
	ok(&cfg, "--proxy", PROXY, "--tun-fd", "3", NULL);
	assert_int_equal(cfg.tun_fd, 3);
	ok(&cfg, "--proxy", PROXY, "--tun-fd=65535", NULL);
	assert_int_equal(cfg.tun_fd, 65535);
	for (size_t i = 0; i < sizeof(bad_values) / sizeof(bad_values[0]); i++)
		bad("--tun-fd", NULL, "--proxy", PROXY, "--tun-fd", bad_values[i], NULL);
}

static void
test_mtu(void **state)
{
	static const char *const bad_values[] = {"1279", "65536", "0",	   "-1500", "+1500", "1500.0",
						 "",	 "abc",	  "1500k", " 1500", "99999999999999999999999"};
	struct t2s_config cfg;

	(void)state;
	ok(&cfg, "--proxy", PROXY, "--mtu", "1280", NULL);
	assert_int_equal(cfg.mtu, 1280);
	ok(&cfg, "--proxy", PROXY, "--mtu", "65535", NULL);
	assert_int_equal(cfg.mtu, 65535);
	ok(&cfg, "--proxy", PROXY, "-m", "1500", NULL);
	assert_int_equal(cfg.mtu, 1500);
	ok(&cfg, "--proxy", PROXY, "-m9000", NULL);
	assert_int_equal(cfg.mtu, 9000);
	ok(&cfg, "--mtu=1400", "--proxy", PROXY, "--mtu", "1300", NULL);
	assert_int_equal(cfg.mtu, 1300);
	for (size_t i = 0; i < sizeof(bad_values) / sizeof(bad_values[0]); i++) {
		bad("--mtu", "1280..65535", "--proxy", PROXY, "--mtu", bad_values[i], NULL);
		bad("--mtu", NULL, "-m", bad_values[i], "--proxy", PROXY, NULL);
	}
}

static void
test_address(void **state)
{
	static const char *const bad_values[] = {
		"198.18.0.1/33", "198.18.0.1/",	  "198.18.0.1/-1",     "198.18.0.1/x",	"198.18.0.1/8/8",
		"198.18.0.256/8", "198.18.0/8",	  "fd00::1/64",	     "fd00::1",		"",
		"/8",		"198.18.0.1 /8",	  "198.18.0.1/8 ",     "198.18.0.1/4294967304",
		"1111111111111111111111111111111111111111111111111111111111111111111111.0.0.1/8",
	};
	struct t2s_config cfg;
	struct in_addr want;

	(void)state;
	ok(&cfg, "--proxy", PROXY, "--address", "198.18.0.1/15", NULL);
	assert_true(cfg.has_address4);
	assert_false(cfg.has_address6);
	inet_pton(AF_INET, "198.18.0.1", &want);
	assert_int_equal(cfg.address4.s_addr, want.s_addr);
	assert_int_equal(cfg.prefix4, 15);

	ok(&cfg, "--proxy", PROXY, "-a", "198.19.8.7", NULL);
	inet_pton(AF_INET, "198.19.8.7", &want);
	assert_true(cfg.has_address4);
	assert_int_equal(cfg.address4.s_addr, want.s_addr);
	assert_int_equal(cfg.prefix4, 32);

	ok(&cfg, "--proxy", PROXY, "--address", "0.0.0.0/0", NULL);
	assert_int_equal(cfg.prefix4, 0);
	ok(&cfg, "--proxy", PROXY, "--address", "255.255.255.255/32", NULL);
	assert_int_equal(cfg.prefix4, 32);
	assert_int_equal(cfg.address4.s_addr, 0xffffffffu);

	for (size_t i = 0; i < sizeof(bad_values) / sizeof(bad_values[0]); i++)
		bad("--address:", "IPv4", "--proxy", PROXY, "--address", bad_values[i], NULL);
}

static void
test_address6(void **state)
{
	static const char *const bad_values[] = {
		"fd00::1/129", "fd00::1/", "fd00::1/-1", "fd00::1/x", "fd00::1/64/64", "fd00:::1/64",
		"198.18.0.1/8", "198.18.0.1", "", "fe80::1%eth0", "/64", "fd00::1/4294967360",
		"ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff/64",
		"ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255:ffff/64/64/64/64/64/64/64/64",
	};
	struct t2s_config cfg;
	struct in6_addr want;

	(void)state;
	ok(&cfg, "--proxy", PROXY, "--address6", "fd00::1/64", NULL);
	assert_true(cfg.has_address6);
	assert_false(cfg.has_address4);
	inet_pton(AF_INET6, "fd00::1", &want);
	assert_memory_equal(&cfg.address6, &want, 16);
	assert_int_equal(cfg.prefix6, 64);

	ok(&cfg, "--proxy", PROXY, "-6", "2001:db8::ffff:1.2.3.4", NULL);
	inet_pton(AF_INET6, "2001:db8::ffff:1.2.3.4", &want);
	assert_memory_equal(&cfg.address6, &want, 16);
	assert_int_equal(cfg.prefix6, 128);

	ok(&cfg, "--proxy", PROXY, "--address6", "::/0", NULL);
	assert_int_equal(cfg.prefix6, 0);
	ok(&cfg, "--proxy", PROXY, "--address6", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff/128", NULL);
	assert_int_equal(cfg.prefix6, 128);

	/* both families together */
	ok(&cfg, "--proxy", PROXY, "-a", "198.18.0.1/15", "-6", "fd00::1/64", NULL);
	assert_true(cfg.has_address4);
	assert_true(cfg.has_address6);
	assert_int_equal(cfg.prefix4, 15);
	assert_int_equal(cfg.prefix6, 64);

	for (size_t i = 0; i < sizeof(bad_values) / sizeof(bad_values[0]); i++)
		bad("--address6:", "IPv6", "--proxy", PROXY, "--address6", bad_values[i], NULL);
}

static void
test_timeouts(void **state)
{
	static const char *const opts[] = {"--connect-timeout", "--idle-timeout"};
	static const char *const bad_values[] = {"0",	"-1",  "-0.5", "nan", "inf", "31536001",
						 "1e10", "",	"5s",  "abc", "0x",  "1,5"};
	struct t2s_config cfg;

	(void)state;
	for (size_t o = 0; o < 2; o++) {
		double *field = o == 0 ? &cfg.connect_timeout : &cfg.idle_timeout;

		ok(&cfg, "--proxy", PROXY, opts[o], "5", NULL);
		assert_true(*field == 5.0);
		ok(&cfg, "--proxy", PROXY, opts[o], "0.25", NULL);
		assert_true(*field == 0.25);
		ok(&cfg, "--proxy", PROXY, opts[o], "1e3", NULL);
		assert_true(*field == 1000.0);
		ok(&cfg, "--proxy", PROXY, opts[o], "31536000", NULL);
		assert_true(*field == 31536000.0);
		for (size_t i = 0; i < sizeof(bad_values) / sizeof(bad_values[0]); i++)
			bad(opts[o], "seconds", "--proxy", PROXY, opts[o], bad_values[i], NULL);
	}
	/* each option sets only its own field */
	ok(&cfg, "--proxy", PROXY, "--connect-timeout", "3", NULL);
	assert_true(cfg.idle_timeout == CONFIG_DEFAULT_IDLE_TIMEOUT);
	ok(&cfg, "--proxy", PROXY, "--idle-timeout", "3", NULL);
	assert_true(cfg.connect_timeout == CONFIG_DEFAULT_CONNECT_TIMEOUT);
}

static void
test_max_flows(void **state)
{
	static const char *const bad_values[] = {"0", "1000001", "-5", "", "ten", "5 "};
	struct t2s_config cfg;

	(void)state;
	ok(&cfg, "--proxy", PROXY, "--max-flows", "1", NULL);
	assert_int_equal(cfg.max_flows, 1);
	ok(&cfg, "--proxy", PROXY, "--max-flows", "1000000", NULL);
	assert_int_equal(cfg.max_flows, 1000000);
	for (size_t i = 0; i < sizeof(bad_values) / sizeof(bad_values[0]); i++)
		bad("--max-flows", "1..1000000", "--proxy", PROXY, "--max-flows", bad_values[i], NULL);
}

static void
test_max_memory(void **state)
{
	static const struct {
		const char *arg;
		size_t bytes;
	} good[] = {
		{"64M", 64u << 20},       {"64m", 64u << 20},          {"64MiB", 64u << 20}, {"64MB", 64u << 20},
		{"8M", 8u << 20},         {"8388608", 8u << 20},        {"2G", (size_t)2 << 30},
		{"1T", (size_t)1 << 40},  {"16384K", 16u << 20},       {"1024MB", (size_t)1 << 30},
	};
	static const char *const bad_values[] = {"0", "unlimited", "7M", "8388607", "2T", "-64M", "", "M",
						 "64X", "64 M", "64MiBs", "1.5G", "99999999999999999999G"};
	struct t2s_config cfg;

	(void)state;
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		ok(&cfg, "--proxy", PROXY, "--max-memory", good[i].arg, NULL);
		assert_int_equal(cfg.max_memory, good[i].bytes);
		assert_int_equal(cfg.max_flows, CONFIG_DEFAULT_MAX_FLOWS);
	}
	for (size_t i = 0; i < sizeof(bad_values) / sizeof(bad_values[0]); i++)
		bad("--max-memory", "8M..1T", "--proxy", PROXY, "--max-memory", bad_values[i], NULL);
}

static void
test_dns_and_udp_modes(void **state)
{
	static const struct {
		const char *arg;
		enum config_udp_mode mode;
	} udp[] = {{"auto", CONFIG_UDP_AUTO},
		   {"associate", CONFIG_UDP_ASSOCIATE},
		   {"dns-over-tcp", CONFIG_UDP_DNS_OVER_TCP},
		   {"block", CONFIG_UDP_BLOCK}};
	struct t2s_config cfg;

	(void)state;
	ok(&cfg, "--proxy", PROXY, NULL);
	assert_int_equal(cfg.dns_mode, CONFIG_DNS_UDP);
	assert_int_equal(cfg.udp_mode, CONFIG_UDP_AUTO);
	assert_int_equal(cfg.udp_pool, CONFIG_DEFAULT_UDP_POOL);
	assert_int_equal(cfg.udp_relay.ss_family, AF_UNSPEC);
	ok(&cfg, "--proxy", PROXY, "--dns", "tcp", NULL);
	assert_int_equal(cfg.dns_mode, CONFIG_DNS_TCP);
	ok(&cfg, "--proxy", PROXY, "--dns", "fake-ip", NULL);
	assert_int_equal(cfg.dns_mode, CONFIG_DNS_FAKE_IP);
	bad("--dns", "udp, tcp or fake-ip", "--proxy", PROXY, "--dns", "doh", NULL);
	for (size_t i = 0; i < sizeof(udp) / sizeof(udp[0]); i++) {
		ok(&cfg, "--proxy", PROXY, "--udp", udp[i].arg, NULL);
		assert_int_equal(cfg.udp_mode, udp[i].mode);
	}
	bad("--udp", "auto, associate, dns-over-tcp or block", "--proxy", PROXY, "--udp", "tcp", NULL);
	bad("--udp", "auto", "--proxy", PROXY, "--udp", "", NULL);
	ok(&cfg, "--proxy", PROXY, "--udp-pool", "0", NULL);
	assert_int_equal(cfg.udp_pool, 0);
	ok(&cfg, "--proxy", PROXY, "--udp-pool", "64", NULL);
	assert_int_equal(cfg.udp_pool, 64);
	bad("--udp-pool", "0..64", "--proxy", PROXY, "--udp-pool", "65", NULL);
	bad("--udp-pool", "0..64", "--proxy", PROXY, "--udp-pool", "-1", NULL);
	ok(&cfg, "--proxy", PROXY, "--udp-relay", "198.51.100.7:4000", NULL);
	assert_int_equal(cfg.udp_relay.ss_family, AF_INET);
	assert_int_equal(ntohs(((struct sockaddr_in *)&cfg.udp_relay)->sin_port), 4000);
	ok(&cfg, "--proxy", PROXY, "--udp-relay", "[2001:db8::1]", NULL);
	assert_int_equal(cfg.udp_relay.ss_family, AF_INET6);
	assert_int_equal(((struct sockaddr_in6 *)&cfg.udp_relay)->sin6_port, 0);
	bad("--udp-relay", "IP address", "--proxy", PROXY, "--udp-relay", "relay.example:4000", NULL);
}

static void
test_fwmark(void **state)
{
	static const char *const bad_values[] = {"4294967296", "-1", "", "mark", "0x", "18446744073709551616"};
	struct t2s_config cfg;

	(void)state;
	ok(&cfg, "--proxy", PROXY, "--fwmark", "0", NULL);
	assert_int_equal(cfg.fwmark, 0);
	ok(&cfg, "--proxy", PROXY, "--fwmark", "51820", NULL);
	assert_int_equal(cfg.fwmark, 51820);
	ok(&cfg, "--proxy", PROXY, "--fwmark", "4294967295", NULL);
	assert_int_equal(cfg.fwmark, 0xffffffffu);
	ok(&cfg, "--proxy", PROXY, "--fwmark", "0x1f", NULL); /* marks are usually written in hex */
	assert_int_equal(cfg.fwmark, 0x1f);
	for (size_t i = 0; i < sizeof(bad_values) / sizeof(bad_values[0]); i++)
		bad("--fwmark", NULL, "--proxy", PROXY, "--fwmark", bad_values[i], NULL);
}

static void
test_log_level(void **state)
{
	static const struct {
		const char *name;
		enum log_level level;
	} good[] = {
		{"error", LOG_LEVEL_ERROR}, {"warn", LOG_LEVEL_WARN},	{"warning", LOG_LEVEL_WARN},
		{"info", LOG_LEVEL_INFO},   {"debug", LOG_LEVEL_DEBUG},
	};
	static const char *const bad_values[] = {"trace", "", "3", "debu", "debugx", "INFO"};
	struct t2s_config cfg;

	(void)state;
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		ok(&cfg, "--proxy", PROXY, "--log-level", good[i].name, NULL);
		assert_int_equal(cfg.log_level, good[i].level);
		ok(&cfg, "--proxy", PROXY, "-l", good[i].name, NULL);
		assert_int_equal(cfg.log_level, good[i].level);
	}
	for (size_t i = 0; i < sizeof(bad_values) / sizeof(bad_values[0]); i++)
		bad("--log-level", NULL, "--proxy", PROXY, "--log-level", bad_values[i], NULL);
}

static void
test_auth_file(void **state)
{
	struct t2s_config cfg;

	(void)state;
	ok(&cfg, "--proxy", PROXY, "--proxy-auth-file", "/run/secrets/proxy", NULL);
	assert_non_null(cfg.auth_file);
	assert_string_equal(cfg.auth_file, "/run/secrets/proxy");
	/* read later by main: the proxy URL keeps no credentials of its own */
	assert_int_equal(cfg.proxy.has_credentials, 0);
}

static void
test_everything(void **state)
{
	struct t2s_config cfg;
	struct in_addr a4;

	(void)state;
	ok(&cfg, "-p", "socks5://u:p@[2001:db8::1]:1081", "--proxy-auth-file", "/f", "-t", "t2s", "--tun-fd", "7",
	   "-m", "9000", "-a", "100.64.0.1/10", "-6", "fd01::2/120", "--connect-timeout", "2.5", "--idle-timeout",
	   "60", "--max-flows", "100", "--fwmark", "0x100", "-l", "debug", NULL);
	assert_server(&cfg, "[2001:db8::1]:1081");
	assert_string_equal(cfg.proxy.user, "u");
	assert_string_equal(cfg.auth_file, "/f");
	assert_string_equal(cfg.tun_name, "t2s");
	assert_int_equal(cfg.tun_fd, 7);
	assert_int_equal(cfg.mtu, 9000);
	inet_pton(AF_INET, "100.64.0.1", &a4);
	assert_int_equal(cfg.address4.s_addr, a4.s_addr);
	assert_int_equal(cfg.prefix4, 10);
	assert_int_equal(cfg.prefix6, 120);
	assert_true(cfg.connect_timeout == 2.5);
	assert_true(cfg.idle_timeout == 60.0);
	assert_int_equal(cfg.max_flows, 100);
	assert_int_equal(cfg.fwmark, 256);
	assert_int_equal(cfg.log_level, LOG_LEVEL_DEBUG);
}

/* ---- parser state and the message buffer ---- */

static void
test_repeated_calls(void **state)
{
	char cluster[] = "-hV";
	char *argv1[] = {(char *)"tun2socks", cluster, NULL};
	char *argv2[] = {(char *)"tun2socks", (char *)"-xh", NULL};
	struct t2s_config cfg;
	char msg[128];

	(void)state;
	/* a parse that stops inside a cluster of short options must leave nothing behind */
	config_defaults(&cfg);
	assert_int_equal(cli_parse(2, argv1, &cfg, msg, sizeof(msg)), CLI_HELP);
	ok(&cfg, "--proxy", PROXY, NULL);
	config_defaults(&cfg);
	assert_int_equal(cli_parse(2, argv2, &cfg, msg, sizeof(msg)), -EINVAL);
	ok(&cfg, "--proxy", PROXY, NULL);
	assert_int_equal(parse(&cfg, msg, sizeof(msg), "-Vh", NULL), CLI_VERSION);
	assert_int_equal(parse(&cfg, msg, sizeof(msg), "-hV", NULL), CLI_HELP);

	/* many parses in a row, alternating outcomes */
	for (int i = 0; i < 50; i++) {
		ok(&cfg, "--mtu", "1400", "--proxy", PROXY, NULL);
		assert_int_equal(cfg.mtu, 1400);
		bad("--mtu", NULL, "--proxy", PROXY, "--mtu", "1", NULL);
		assert_int_equal(parse(&cfg, msg, sizeof(msg), "-h", NULL), CLI_HELP);
	}
}

static void
test_small_message_buffer(void **state)
{
	struct t2s_config cfg;
	char msg[8];

	(void)state;
	memset(msg, 'z', sizeof(msg));
	assert_int_equal(parse(&cfg, msg, sizeof(msg), "--mtu", "1", NULL), -EINVAL);
	assert_string_equal(msg, "--mtu: ");
	assert_int_equal(parse(&cfg, msg, 1, "--bogus", NULL), -EINVAL);
	assert_string_equal(msg, "");
}

/* ---- config_set_credentials ---- */

static void
creds_ok(const char *text, const char *user, const char *pass)
{
	struct t2s_config cfg;
	const char *why = NULL;
	int r;

	config_defaults(&cfg);
	r = config_set_credentials(&cfg, text, &why);
	if (r != 0)
		fail_msg("rejected \"%s\": %s", text, why ? why : "(no reason)");
	assert_int_equal(cfg.proxy.has_credentials, 1);
	assert_string_equal(cfg.proxy.user, user);
	assert_string_equal(cfg.proxy.pass, pass);
}

static void
creds_bad(const char *text, const char *why_part)
{
	struct t2s_config cfg;
	const char *why = NULL;
	int r;

	config_defaults(&cfg);
	r = config_set_credentials(&cfg, text, &why);
	if (r != -EINVAL)
		fail_msg("accepted \"%s\" (%d)", text, r);
	assert_non_null(why);
	if (strstr(why, why_part) == NULL)
		fail_msg("reason \"%s\" lacks \"%s\"", why, why_part);
	assert_int_equal(cfg.proxy.has_credentials, 0);
	assert_string_equal(cfg.proxy.user, "");
	assert_string_equal(cfg.proxy.pass, "");
}

static void
test_credentials(void **state)
{
	char user[300], pass[300], text[700];

	(void)state;
	creds_ok("user:pass", "user", "pass");
	creds_ok("u:p", "u", "p");
	creds_ok("user:pa:ss:", "user", "pa:ss:");
	creds_ok("user::", "user", ":");
	creds_ok("user:pass\n", "user", "pass");
	creds_ok("user:pass\r\n", "user", "pass");
	creds_ok("user:pass\n\n", "user", "pass");
	creds_ok("us er:p a s s ", "us er", "p a s s ");
	creds_ok("user:\npass", "user", "\npass"); /* only trailing line ends are stripped */

	creds_bad("userpass", "user:password");
	creds_bad("", "user:password");
	creds_bad("userpass\n", "user:password");
	creds_bad(":pass", "1 to 255");
	creds_bad("user:", "1 to 255");
	creds_bad("user:\n", "1 to 255");
	creds_bad("user:\r\n", "1 to 255");
	creds_bad(":", "1 to 255");

	/* 255 bytes each is the SOCKS5 limit (RFC 1929) */
	memset(user, 'u', 255);
	user[255] = '\0';
	memset(pass, 'p', 255);
	pass[255] = '\0';
	snprintf(text, sizeof(text), "%s:%s", user, pass);
	creds_ok(text, user, pass);
	snprintf(text, sizeof(text), "%s:%s\n", user, pass);
	creds_ok(text, user, pass);
	snprintf(text, sizeof(text), "%su:%s", user, "pw");
	creds_bad(text, "1 to 255"); /* 256-byte user */
	snprintf(text, sizeof(text), "%s:%sp", "me", pass);
	creds_bad(text, "1 to 255"); /* 256-byte password */
}

static void
test_credentials_replace_url_ones(void **state)
{
	struct t2s_config cfg;
	const char *why = NULL;

	(void)state;
	ok(&cfg, "--proxy", "socks5://old:oldpass@127.0.0.1", NULL);
	assert_string_equal(cfg.proxy.user, "old");
	assert_int_equal(config_set_credentials(&cfg, "new:x", &why), 0);
	assert_string_equal(cfg.proxy.user, "new");
	assert_string_equal(cfg.proxy.pass, "x");
	assert_server(&cfg, "127.0.0.1:1080");
	/* a refused value leaves the previous credentials alone */
	assert_int_equal(config_set_credentials(&cfg, "broken", &why), -EINVAL);
	assert_string_equal(cfg.proxy.user, "new");
	assert_string_equal(cfg.proxy.pass, "x");
	assert_int_equal(cfg.proxy.has_credentials, 1);
}


static void
test_command(void **state)
{
	struct t2s_config cfg;

	(void)state;
	ok(&cfg, "--proxy", PROXY, NULL);
	assert_null(cfg.command);
	/* after "--" everything belongs to the command, options included */
	ok(&cfg, "--proxy", PROXY, "--mtu", "1500", "--", "curl", "--mtu", "-s", NULL);
	assert_non_null(cfg.command);
	assert_string_equal(cfg.command[0], "curl");
	assert_string_equal(cfg.command[1], "--mtu");
	assert_string_equal(cfg.command[2], "-s");
	assert_null(cfg.command[3]);
	assert_int_equal(cfg.mtu, 1500);
	assert_int_equal(cfg.fwmark, 0); /* proxy sockets stay in our namespace: no mark */
	ok(&cfg, "--proxy", PROXY, "--dns-server", "198.18.0.53", "--", "down", NULL);
	assert_string_equal(cfg.command[0], "down");
	assert_int_equal(cfg.dns_server.family, AF_INET);
	bad("must be followed by a command", NULL, "--proxy", PROXY, "--", NULL);
	bad("--proxy is required", NULL, "--", "true", NULL);
	bad("-- COMMAND", "--auto-route", "--proxy", PROXY, "--auto-route", "--", "true", NULL);
	bad("-- COMMAND", "--netns", "--proxy", PROXY, "--netns", "x", "--", "true", NULL);
	bad("-- COMMAND", "--share-from", "--proxy", PROXY, "--share-from", "eth0", "--", "true", NULL);
	bad("--kill-switch", NULL, "--proxy", PROXY, "--kill-switch", "--", "true", NULL);
	bad("--dns-server", "not an IP", "--proxy", PROXY, "--dns-server", "1.2.3.0/24", "--", "true", NULL);
	/* Without a command it is what --udp auto checks the relay with (udp_health.h). */
	ok(&cfg, "--proxy", PROXY, "--dns-server", "1.2.3.4", NULL);
	assert_int_equal(cfg.dns_server.family, AF_INET);
	assert_null(cfg.command);
}

static void
test_down(void **state)
{
	struct t2s_config cfg;
	char msg[256];

	(void)state;
	/* no proxy needed to lift a capture */
	config_defaults(&cfg);
	assert_int_equal(parse(&cfg, msg, sizeof(msg), "down", NULL), CLI_DOWN);
	assert_false(cfg.tun_named);
	assert_int_equal(parse(&cfg, msg, sizeof(msg), "down", "--tun", "tunx", "--netns", "ctr", NULL), CLI_DOWN);
	assert_true(cfg.tun_named);
	assert_string_equal(cfg.tun_name, "tunx");
	assert_string_equal(cfg.netns, "ctr");
	assert_int_equal(parse(&cfg, msg, sizeof(msg), "--tun", "tuny", "down", NULL), CLI_DOWN);
	assert_string_equal(cfg.tun_name, "tuny");
}

static void
test_user_group(void **state)
{
	struct t2s_config cfg;

	(void)state;
	ok(&cfg, "--proxy", PROXY, NULL);
	assert_null(cfg.user);
	assert_null(cfg.group);
	ok(&cfg, "--proxy", PROXY, "--user", "nobody", NULL);
	assert_string_equal(cfg.user, "nobody");
	assert_null(cfg.group);
	ok(&cfg, "--proxy", PROXY, "--user", "nobody", "--group", "nogroup", "--auto-route", NULL);
	assert_string_equal(cfg.group, "nogroup");
	bad("--group needs --user", NULL, "--proxy", PROXY, "--group", "nogroup", NULL);
	bad("--user cannot go with --netns", NULL, "--proxy", PROXY, "--user", "nobody", "--netns", "box", NULL);
	bad("needs a value", "--user", "--proxy", PROXY, "--user", NULL);
}

static void
test_capture_options(void **state)
{
	struct t2s_config cfg;
	char buf[64];

	(void)state;
	ok(&cfg, "--proxy", PROXY, "--auto-route", NULL);
	assert_true(cfg.auto_route);
	assert_false(cfg.kill_switch);
	/* auto-route needs our own connections marked: a default mark unless one is given */
	assert_int_equal(cfg.fwmark, CAPTURE_DEFAULT_FWMARK);
	ok(&cfg, "--proxy", PROXY, "--auto-route", "--fwmark", "0x100", "--kill-switch", NULL);
	assert_int_equal(cfg.fwmark, 0x100);
	assert_true(cfg.kill_switch);
	ok(&cfg, "--proxy", PROXY, "--auto-route", "--exclude", "198.51.100.7/24", "--exclude", "2001:db8::1",
	   "--exclude", "203.0.113.9", NULL);
	assert_int_equal(cfg.n_exclude, 3);
	capture_prefix_format(&cfg.exclude[0], buf, sizeof(buf));
	assert_string_equal(buf, "198.51.100.0/24");
	capture_prefix_format(&cfg.exclude[1], buf, sizeof(buf));
	assert_string_equal(buf, "2001:db8::1/128");
	capture_prefix_format(&cfg.exclude[2], buf, sizeof(buf));
	assert_string_equal(buf, "203.0.113.9/32");
	bad("--exclude", "'198.18.0.0/33'", "--proxy", PROXY, "--auto-route", "--exclude", "198.18.0.0/33", NULL);
	bad("--exclude", "'example.com'", "--proxy", PROXY, "--auto-route", "--exclude", "example.com", NULL);
	bad("--exclude", "needs --auto-route", "--proxy", PROXY, "--exclude", "198.18.0.0/15", NULL);
	bad("--kill-switch", "needs --auto-route", "--proxy", PROXY, "--kill-switch", NULL);
	bad("--exclude-dns", "needs --auto-route", "--proxy", PROXY, "--exclude-dns", NULL);
	ok(&cfg, "--proxy", PROXY, "--auto-route", "--exclude", "192.168.1.0/24", "--exclude-dns", NULL);
	assert_true(cfg.exclude_dns);
	ok(&cfg, "--proxy", PROXY, "--auto-route", NULL);
	assert_false(cfg.exclude_dns);
	assert_false(cfg.resolved_off); /* systemd-resolved is told about the TUN by default */
	ok(&cfg, "--proxy", PROXY, "--auto-route", "--resolved", "off", NULL);
	assert_true(cfg.resolved_off);
	ok(&cfg, "--proxy", PROXY, "--auto-route", "--resolved", "off", "--resolved", "auto", NULL);
	assert_false(cfg.resolved_off);
	bad("--resolved", "'no' is not auto or off", "--proxy", PROXY, "--auto-route", "--resolved", "no", NULL);
	bad("--resolved", "'' is not auto or off", "--proxy", PROXY, "--auto-route", "--resolved", "", NULL);
	ok(&cfg, "--proxy", PROXY, "--share-from", "lan0", "--kill-switch", NULL);
	assert_string_equal(cfg.share_from, "lan0");
	assert_int_equal(cfg.fwmark, 0); /* forwarded traffic only: our own sockets are not captured */
	bad("--share-from", "valid interface name", "--proxy", PROXY, "--share-from", "a/b", NULL);
	ok(&cfg, "--proxy", PROXY, "--netns", "/proc/1/ns/net", "--kill-switch", NULL);
	assert_string_equal(cfg.netns, "/proc/1/ns/net");
	bad("--netns", "--auto-route", "--proxy", PROXY, "--netns", "x", "--auto-route", NULL);
	bad("--netns", "needs a path", "--proxy", PROXY, "--netns", "", NULL);

	/* Per-user selection (issue 10 §5). */
	ok(&cfg, "--proxy", PROXY, "--auto-route", NULL);
	assert_int_equal(cfg.n_uids, 0);
	assert_int_equal(cfg.uid_select, CAPTURE_SELECT_ALL);
	ok(&cfg, "--proxy", PROXY, "--auto-route", "--uid", "1000-1999", NULL);
	assert_int_equal(cfg.uid_select, CAPTURE_SELECT_UID);
	assert_int_equal(cfg.n_uids, 1);
	assert_int_equal(cfg.uids[0].start, 1000);
	assert_int_equal(cfg.uids[0].end, 1999);
	ok(&cfg, "--proxy", PROXY, "--auto-route", "--exclude-uid", "0", "--exclude-uid", "33-34", NULL);
	assert_int_equal(cfg.uid_select, CAPTURE_SELECT_EXCLUDE_UID);
	assert_int_equal(cfg.n_uids, 2);
	assert_int_equal(cfg.uids[0].end, 0);
	assert_int_equal(cfg.uids[1].start, 33);
	bad("--uid", "needs --auto-route", "--proxy", PROXY, "--uid", "1000", NULL);
	bad("--exclude-uid", "needs --auto-route", "--proxy", PROXY, "--exclude-uid", "1000", NULL);
	bad("--uid", "needs --auto-route", "--proxy", PROXY, "--share-from", "lan0", "--uid", "1000", NULL);
	bad("--uid", "'alice'", "--proxy", PROXY, "--auto-route", "--uid", "alice", NULL);
	bad("--uid", "'1999-1000'", "--proxy", PROXY, "--auto-route", "--uid", "1999-1000", NULL);
	bad("--exclude-uid", "'-1'", "--proxy", PROXY, "--auto-route", "--exclude-uid", "-1", NULL);
	ok(&cfg, "--proxy", PROXY, "--auto-route", "--uid", "1", "--uid", "2000-2999", NULL);
	assert_int_equal(cfg.n_uids, 2);
	assert_int_equal(cfg.uid_select, CAPTURE_SELECT_UID);
	bad("do not go together", NULL, "--proxy", PROXY, "--auto-route", "--uid", "1", "--exclude-uid", "2", NULL);
	bad("--exclude-uid", "at most 8", "--proxy", PROXY, "--auto-route", "--exclude-uid", "1", "--exclude-uid", "2",
	    "--exclude-uid", "3", "--exclude-uid", "4", "--exclude-uid", "5", "--exclude-uid", "6",
	    "--exclude-uid", "7", "--exclude-uid", "8", "--exclude-uid", "9", NULL);
	bad("--fwmark", "selection", "--proxy", PROXY, "--auto-route", "--fwmark", "0x1000000", "--uid", "5", NULL);

	/* Per-cgroup selection: paths as given (resolved at start), one kind, not with users. */
	ok(&cfg, "--proxy", PROXY, "--auto-route", "--cgroup", "system.slice/a.service", "--cgroup", "b.slice", NULL);
	assert_int_equal(cfg.cgroup_select, CAPTURE_SELECT_CGROUP);
	assert_int_equal(cfg.n_cgroups, 2);
	assert_string_equal(cfg.cgroups[1], "b.slice");
	assert_int_equal(cfg.n_uids, 0);
	ok(&cfg, "--proxy", PROXY, "--auto-route", "--exclude-cgroup", "/sys/fs/cgroup/user.slice", NULL);
	assert_int_equal(cfg.cgroup_select, CAPTURE_SELECT_EXCLUDE_CGROUP);
	ok(&cfg, "--proxy", PROXY, "--auto-route", NULL);
	assert_int_equal(cfg.cgroup_select, CAPTURE_SELECT_ALL);
	assert_int_equal(cfg.n_cgroups, 0);
	bad("--cgroup", "needs --auto-route", "--proxy", PROXY, "--cgroup", "a", NULL);
	bad("--exclude-cgroup", "needs --auto-route", "--proxy", PROXY, "--share-from", "lan0", "--exclude-cgroup", "a",
	    NULL);
	bad("do not go together", NULL, "--proxy", PROXY, "--auto-route", "--cgroup", "a", "--exclude-cgroup", "b", NULL);
	bad("--uid and --cgroup do not go together", NULL, "--proxy", PROXY, "--auto-route", "--cgroup", "a", "--uid",
	    "1", NULL);
	bad("--exclude-uid and --exclude-cgroup do not go together", NULL, "--proxy", PROXY, "--auto-route",
	    "--exclude-uid", "1", "--exclude-cgroup", "a", NULL);
	bad("--cgroup", "1 to 255 characters", "--proxy", PROXY, "--auto-route", "--cgroup", "", NULL);
	{
		char longp[300];

		memset(longp, 'x', sizeof(longp) - 1);
		longp[sizeof(longp) - 1] = '\0';
		bad("--cgroup", "1 to 255 characters", "--proxy", PROXY, "--auto-route", "--cgroup", longp, NULL);
	}
	bad("--exclude-cgroup", "at most 8", "--proxy", PROXY, "--auto-route", "--exclude-cgroup", "1",
	    "--exclude-cgroup", "2", "--exclude-cgroup", "3", "--exclude-cgroup", "4", "--exclude-cgroup", "5",
	    "--exclude-cgroup", "6", "--exclude-cgroup", "7", "--exclude-cgroup", "8", "--exclude-cgroup", "9", NULL);
	bad("--fwmark", "cgroup selection", "--proxy", PROXY, "--auto-route", "--fwmark", "0x4000000", "--cgroup", "a",
	    NULL);
}

/* `check` (issue 11): needs --proxy; --check-target is HOST:PORT; --ready-timeout. */
static void
test_check_and_service(void **state)
{
	struct t2s_config cfg;
	char msg[256];

	(void)state;
	assert_int_equal(parse(&cfg, msg, sizeof(msg), "check", "--proxy", "socks5://10.0.0.2", "--check-target",
			       "example.org:443", "--json", NULL),
			 CLI_CHECK);
	assert_int_equal(cfg.check_target.type, T2S_ENDPOINT_DOMAIN);
	assert_int_equal(cfg.check_target.port, 443);
	assert_true(cfg.check_json);
	assert_int_equal(parse(&cfg, msg, sizeof(msg), "--proxy", "socks5://10.0.0.2", "check", NULL), CLI_CHECK);
	assert_int_equal(cfg.check_target.type, T2S_ENDPOINT_NONE);
	assert_false(cfg.check_json);
	assert_true(parse(&cfg, msg, sizeof(msg), "check", NULL) < 0);
	assert_non_null(strstr(msg, "check needs --proxy"));
	bad("--check-target", "HOST:PORT", "check", "--proxy", "socks5://10.0.0.2", "--check-target", "example.org",
	    NULL);
	bad("unexpected argument 'check2'", NULL, "--proxy", "socks5://10.0.0.2", "check2", NULL);
	ok(&cfg, "--proxy", "socks5://10.0.0.2", NULL);
	assert_true(cfg.ready_timeout == CONFIG_DEFAULT_READY_TIMEOUT);
	ok(&cfg, "--proxy", "socks5://10.0.0.2", "--ready-timeout", "2.5", NULL);
	assert_true(cfg.ready_timeout == 2.5);
	bad("--ready-timeout", "positive", "--proxy", "socks5://10.0.0.2", "--ready-timeout", "0", NULL);
	bad("--ready-timeout", "positive", "--proxy", "socks5://10.0.0.2", "--ready-timeout", "soon", NULL);
}

/* --control and --metrics: checked, kept by pointer (cli_set_kept keeps the caller's
 * value: a config file's text; cli_set refuses them); refused by name for embedders. */
static void
test_control_metrics(void **state)
{
	struct t2s_config cfg;
	char msg[256], value[32];

	(void)state;
	ok(&cfg, "--proxy", "socks5://10.0.0.2", "--control", "/run/x.control", "--metrics", "9477", NULL);
	assert_string_equal(cfg.control, "/run/x.control");
	assert_string_equal(cfg.metrics, "9477");
	bad("--control", "absolute path", "--proxy", "socks5://10.0.0.2", "--control", "x.control", NULL);
	bad("--metrics", "[ADDR:]PORT", "--proxy", "socks5://10.0.0.2", "--metrics", "localhost:1", NULL);
	config_defaults(&cfg);
	snprintf(value, sizeof(value), "/run/y.control");
	assert_int_equal(cli_set_kept(&cfg, "control", value, msg, sizeof(msg)), 0);
	assert_ptr_equal(cfg.control, value); /* not cli_set's freed copy */
	snprintf(value + 16, sizeof(value) - 16, "127.0.0.1:80");
	assert_int_equal(cli_set_kept(&cfg, "metrics", value + 16, msg, sizeof(msg)), 0);
	assert_ptr_equal(cfg.metrics, value + 16);
	assert_int_equal(cli_set(&cfg, "control", "/run/z.control", msg, sizeof(msg)), -ENOTSUP);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_proxy_only),
		cmocka_unit_test(test_proxy_invalid),
		cmocka_unit_test(test_proxy_list),
		cmocka_unit_test(test_help_version),
		cmocka_unit_test(test_usage_lists_every_option),
		cmocka_unit_test(test_missing_proxy),
		cmocka_unit_test(test_unknown_option),
		cmocka_unit_test(test_unknown_in_cluster),
		cmocka_unit_test(test_missing_value),
		cmocka_unit_test(test_stray_argument),
		cmocka_unit_test(test_tun),
		cmocka_unit_test(test_tun_fd),
		cmocka_unit_test(test_mtu),
		cmocka_unit_test(test_address),
		cmocka_unit_test(test_address6),
		cmocka_unit_test(test_timeouts),
		cmocka_unit_test(test_max_flows),
		cmocka_unit_test(test_max_memory),
		cmocka_unit_test(test_fwmark),
		cmocka_unit_test(test_log_level),
		cmocka_unit_test(test_auth_file),
		cmocka_unit_test(test_dns_and_udp_modes),
		cmocka_unit_test(test_everything),
		cmocka_unit_test(test_repeated_calls),
		cmocka_unit_test(test_small_message_buffer),
		cmocka_unit_test(test_credentials),
		cmocka_unit_test(test_credentials_replace_url_ones),
		cmocka_unit_test(test_command),
		cmocka_unit_test(test_down),
		cmocka_unit_test(test_capture_options),
		cmocka_unit_test(test_user_group),
		cmocka_unit_test(test_check_and_service),
		cmocka_unit_test(test_control_metrics),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
