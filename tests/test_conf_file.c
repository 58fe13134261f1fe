/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for cli/conf_file.c and cli/cli_file.c: the line syntax (comments,
 * blanks, quotes, long lines, 255-byte credentials), errors with their line, the merge
 * with the command line (overrides, repeatable lists replaced), the permission checks
 * of a file that holds a password, cred:NAME, --print-config's masking, and what a
 * reload may change live (config_merge_live).
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

#include "capture.h"
#include "cli.h"
#include "cli_file.h"
#include "conf_file.h"
#include "config.h"
#include "proxy_url.h"

static struct conf_file *
parse_ok(const char *text)
{
	struct conf_file *f = NULL;
	char msg[256] = "";

	assert_int_equal(conf_file_parse(text, strlen(text), &f, msg, sizeof(msg)), 0);
	assert_non_null(f);
	return f;
}

static void
parse_err(const char *text, size_t len, const char *want)
{
	struct conf_file *f = (struct conf_file *)1;
	char msg[256] = "";

	assert_int_equal(conf_file_parse(text, len, &f, msg, sizeof(msg)), -EINVAL);
	assert_null(f);
	if (strstr(msg, want) == NULL)
		fail_msg("'%s' does not contain '%s'", msg, want);
}

static void
test_syntax(void **state)
{
	struct conf_file *f = parse_ok("# a comment\n"
				       "\n"
				       "   \t\n"
				       "proxy = socks5://u:p#w@192.0.2.1:1080\n"
				       "  mtu=1500  \r\n"
				       "\t# indented comment\n"
				       "auto-route\n"
				       "user = \" spaced \"\n"
				       "exclude = 10.0.0.0/8\n"
				       "exclude = 192.168.0.0/16"); /* no final newline */
	const struct conf_entry *e;

	(void)state;
	assert_int_equal(conf_file_count(f), 6);
	e = conf_file_entry(f, 0);
	assert_string_equal(e->name, "proxy");
	assert_string_equal(e->value, "socks5://u:p#w@192.0.2.1:1080"); /* '#' inside a value stays */
	assert_int_equal(e->line, 4);
	e = conf_file_entry(f, 1);
	assert_string_equal(e->name, "mtu");
	assert_string_equal(e->value, "1500");
	assert_int_equal(e->line, 5);
	e = conf_file_entry(f, 2);
	assert_string_equal(e->name, "auto-route");
	assert_null(e->value);
	e = conf_file_entry(f, 3);
	assert_string_equal(e->value, " spaced ");
	assert_string_equal(conf_file_entry(f, 5)->value, "192.168.0.0/16");
	assert_int_equal(conf_file_entry(f, 5)->line, 10);
	assert_string_equal(conf_file_path(f), "");
	conf_file_free(f);
}

/* libinih as Debian builds it stops at 200 bytes; a URL with RFC 1929's longest
 * credentials is longer, and ';' is no comment here. */
static void
test_long_credentials(void **state)
{
	char user[256], pass[256], text[1024];
	struct conf_file *f;

	(void)state;
	memset(user, 'u', 255);
	user[255] = '\0';
	memset(pass, 'p', 255);
	pass[255] = '\0';
	pass[0] = ';';
	snprintf(text, sizeof(text), "proxy = socks5://%s:%s@192.0.2.1\n", user, pass);
	f = parse_ok(text);
	assert_int_equal(conf_file_count(f), 1);
	assert_true(strlen(conf_file_entry(f, 0)->value) > 500);
	conf_file_free(f);
}

static void
test_errors(void **state)
{
	char big[CONF_FILE_LINE_MAX + 16];

	(void)state;
	parse_err("mtu = 1500\n--mtu = 1500\n", 24, "line 2: '--mtu = 1500': write option names without the leading '--'");
	parse_err("\n\nmtu 1500\n", 11, "line 3: 'mtu 1500' is not 'name = value'");
	parse_err("= 1500\n", 7, "line 1: '= 1500' is not 'name = value'");
	parse_err("MTU = 1\n", 8, "line 1:");
	parse_err("user = \"open\n", 13, "line 1: user: the value's opening '\"' is not closed");
	parse_err("mtu = 1\n\0x\n", 10, "line 2: a NUL byte");
	memset(big, 'a', sizeof(big));
	big[0] = 'x';
	big[1] = '=';
	parse_err(big, sizeof(big), "line 1: longer than 4096 bytes");
}

static void
test_empty(void **state)
{
	struct conf_file *f = parse_ok("");

	(void)state;
	assert_int_equal(conf_file_count(f), 0);
	conf_file_free(f);
	conf_file_free(NULL);
}

static void
test_check_secret(void **state)
{
	uid_t allowed[] = {1000, 995};
	char why[256];

	(void)state;
	assert_int_equal(conf_file_check_secret(0, 0600, allowed, 2, why, sizeof(why)), 0);
	assert_int_equal(conf_file_check_secret(0, 0640, allowed, 2, why, sizeof(why)), 0);
	assert_int_equal(conf_file_check_secret(995, 0400, allowed, 2, why, sizeof(why)), 0);
	assert_int_equal(conf_file_check_secret(0, 0644, allowed, 2, why, sizeof(why)), -EPERM);
	assert_non_null(strstr(why, "others may read it (mode 0644)"));
	assert_int_equal(conf_file_check_secret(0, 0601, allowed, 2, why, sizeof(why)), -EPERM);
	assert_int_equal(conf_file_check_secret(1234, 0600, allowed, 2, why, sizeof(why)), -EPERM);
	assert_non_null(strstr(why, "owned by uid 1234, neither root nor the service user"));
}

/* ---- cli_file: the file merged with the command line ---------------------------- */

static char dir[] = "/tmp/test_conf_file.XXXXXX";

static const char *
write_file(const char *name, const char *text, mode_t mode)
{
	static char path[256];
	FILE *fp;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fp = fopen(path, "w");
	assert_non_null(fp);
	fputs(text, fp);
	fclose(fp);
	assert_int_equal(chmod(path, mode), 0);
	return path;
}

/* cli_file_load over "tun2socks" + args (NULL-terminated). */
static int
load(struct t2s_config *cfg, struct cli_file *cf, char *msg, size_t msglen, ...)
{
	char *argv[32];
	int argc = 0;
	const char *a;
	va_list ap;

	argv[argc++] = (char *)"tun2socks";
	va_start(ap, msglen);
	while ((a = va_arg(ap, const char *)) != NULL)
		argv[argc++] = (char *)a;
	va_end(ap);
	argv[argc] = NULL;
	config_defaults(cfg);
	msg[0] = '\0';
	return cli_file_load(argc, argv, cfg, cf, msg, msglen);
}

static void
test_merge(void **state)
{
	const char *path = write_file("a.conf",
				      "proxy = socks5://192.0.2.1:1080\n"
				      "mtu = 1500\n"
				      "connect-timeout = 3\n"
				      "auto-route = yes\n"
				      "kill-switch = no\n"
				      "resolved = off\n"
				      "exclude = 10.0.0.0/8\n"
				      "exclude = 192.168.0.0/16\n"
				      "user = nobody\n",
				      0644);
	struct t2s_config cfg;
	struct cli_file cf;
	char msg[256], buf[64];

	(void)state;
	assert_int_equal(load(&cfg, &cf, msg, sizeof(msg), "--config", path, NULL), CLI_RUN);
	assert_int_equal(cfg.mtu, 1500);
	assert_true(cfg.connect_timeout == 3.0);
	assert_true(cfg.auto_route);
	assert_false(cfg.kill_switch);
	assert_true(cfg.resolved_off);
	assert_int_equal(cfg.n_exclude, 2);
	assert_string_equal(cfg.user, "nobody");
	assert_false(cf.secret);
	assert_string_equal(cfg.config_file, path);
	cli_file_release(&cf);

	/* The command line wins, and its --exclude list replaces the file's. */
	assert_int_equal(load(&cfg, &cf, msg, sizeof(msg), "--mtu", "9000", "--config=" "/nonexistent-never", NULL),
			 -ENOENT);
	assert_non_null(strstr(msg, "/nonexistent-never: No such file or directory"));
	assert_int_equal(load(&cfg, &cf, msg, sizeof(msg), "--mtu", "9000", "--config", path, "--exclude",
			      "172.16.0.0/12", "--proxy", "socks5://192.0.2.9", NULL),
			 CLI_RUN);
	assert_int_equal(cfg.mtu, 9000);
	assert_int_equal(cfg.n_exclude, 1);
	capture_prefix_format(&cfg.exclude[0], buf, sizeof(buf));
	assert_string_equal(buf, "172.16.0.0/12");
	assert_true(cfg.proxy.server.u.ipv4[3] == 9);
	cli_file_release(&cf);

	/* The user selection in a file; the command line's replaces it. */
	path = write_file("u.conf",
			  "proxy = socks5://192.0.2.1:1080\nauto-route\nexclude-uid = 0\nexclude-uid = 1000-1999\n", 0644);
	assert_int_equal(load(&cfg, &cf, msg, sizeof(msg), "--config", path, NULL), CLI_RUN);
	assert_int_equal(cfg.uid_select, CAPTURE_SELECT_EXCLUDE_UID);
	assert_int_equal(cfg.n_uids, 2);
	assert_int_equal(cfg.uids[1].end, 1999);
	cli_file_release(&cf);
	assert_int_equal(load(&cfg, &cf, msg, sizeof(msg), "--config", path, "--uid", "5", NULL), CLI_RUN);
	assert_int_equal(cfg.uid_select, CAPTURE_SELECT_UID);
	assert_int_equal(cfg.n_uids, 1);
	assert_int_equal(cfg.uids[0].start, 5);
	cli_file_release(&cf);
	path = write_file("ubad.conf", "proxy = socks5://192.0.2.1:1080\nauto-route\nuid = nobody\n", 0644);
	assert_int_equal(load(&cfg, &cf, msg, sizeof(msg), "--config", path, NULL), -EINVAL);
	assert_non_null(strstr(msg, "ubad.conf:3: --uid: 'nobody' is not a user id"));

	/* The cgroup selection likewise; with a user selection from the command line: refused. */
	path = write_file("c.conf",
			  "proxy = socks5://192.0.2.1:1080\nauto-route\ncgroup = system.slice/a.service\n"
			  "cgroup = /sys/fs/cgroup/b.slice\n",
			  0644);
	assert_int_equal(load(&cfg, &cf, msg, sizeof(msg), "--config", path, NULL), CLI_RUN);
	assert_int_equal(cfg.cgroup_select, CAPTURE_SELECT_CGROUP);
	assert_int_equal(cfg.n_cgroups, 2);
	assert_string_equal(cfg.cgroups[0], "system.slice/a.service");
	assert_string_equal(cfg.cgroups[1], "/sys/fs/cgroup/b.slice");
	{
		char printed[8192];
		FILE *fp = fmemopen(printed, sizeof(printed), "w");
		long n;

		cli_file_print(fp, &cfg);
		n = ftell(fp);
		fclose(fp);
		printed[n] = '\0';
		assert_non_null(strstr(printed, "cgroup = system.slice/a.service\ncgroup = /sys/fs/cgroup/b.slice\n"));
	}
	cli_file_release(&cf);
	assert_int_equal(load(&cfg, &cf, msg, sizeof(msg), "--config", path, "--exclude-cgroup", "c.slice", NULL),
			 CLI_RUN);
	assert_int_equal(cfg.cgroup_select, CAPTURE_SELECT_EXCLUDE_CGROUP);
	assert_int_equal(cfg.n_cgroups, 1);
	cli_file_release(&cf);
	assert_int_equal(load(&cfg, &cf, msg, sizeof(msg), "--config", path, "--uid", "5", NULL), -EINVAL);
	assert_non_null(strstr(msg, "do not go together"));

	/* Without --config the file is not read, and --proxy is required as before. */
	assert_int_equal(load(&cfg, &cf, msg, sizeof(msg), "--mtu", "1500", NULL), -EINVAL);
	assert_non_null(strstr(msg, "--proxy is required"));
}

/* Several proxy lines are a list; --proxy on the command line replaces it whole. */
static void
test_merge_proxy_list(void **state)
{
	const char *path = write_file("l.conf",
				      "proxy = socks5://192.0.2.1:1080\n"
				      "proxy = socks5://192.0.2.2:1080\n"
				      "proxy = socks5://u:p@192.0.2.3:1080\n"
				      "proxy-policy = round-robin\n"
				      "proxy-fall = 3\n",
				      0600);
	struct t2s_config cfg;
	struct cli_file cf;
	char msg[256];

	(void)state;
	assert_int_equal(load(&cfg, &cf, msg, sizeof(msg), "--config", path, NULL), CLI_RUN);
	assert_int_equal(cfg.proxy.server.u.ipv4[3], 1);
	assert_int_equal(cfg.n_backup, 2);
	assert_int_equal(cfg.backup[0].server.u.ipv4[3], 2);
	assert_int_equal(cfg.backup[1].server.u.ipv4[3], 3);
	assert_string_equal(cfg.backup[1].pass, "p");
	assert_int_equal(cfg.proxy_policy, PROXY_SET_ROUND_ROBIN);
	assert_int_equal(cfg.proxy_fall, 3);
	cli_file_release(&cf);
	assert_int_equal(load(&cfg, &cf, msg, sizeof(msg), "--config", path, "--proxy", "socks5://192.0.2.9", "--proxy",
			      "socks5://192.0.2.8", NULL),
			 CLI_RUN);
	assert_int_equal(cfg.proxy.server.u.ipv4[3], 9);
	assert_int_equal(cfg.n_backup, 1);
	assert_int_equal(cfg.backup[0].server.u.ipv4[3], 8);
	cli_file_release(&cf);
	path = write_file("m.conf", "proxy = socks5://192.0.2.1:1080\nproxy-policy = sometimes\n", 0600);
	assert_int_equal(load(&cfg, &cf, msg, sizeof(msg), "--config", path, NULL), -EINVAL);
	assert_non_null(strstr(msg, ":2: --proxy-policy: 'sometimes' is not first-healthy, failover or round-robin"));
	path = write_file("n.conf", "proxy = socks5://192.0.2.1:1080\nproxy = http://192.0.2.2:8080\n", 0600);
	assert_int_equal(load(&cfg, &cf, msg, sizeof(msg), "--config", path, NULL), -EINVAL);
	assert_non_null(strstr(msg, ":2: --proxy: every proxy must speak what the first does"));
}

static void
test_merge_errors(void **state)
{
	struct t2s_config cfg;
	struct cli_file cf;
	char msg[256];
	const char *path;

	(void)state;
	path = write_file("bad.conf", "proxy = socks5://192.0.2.1\n\nmtu = 99\n", 0600);
	assert_int_equal(load(&cfg, &cf, msg, sizeof(msg), "--config", path, NULL), -EINVAL);
	assert_non_null(strstr(msg, "bad.conf:3: --mtu: '99' is not in 1280..65535"));
	path = write_file("bad2.conf", "proxy = ftp://x\n", 0600);
	assert_int_equal(load(&cfg, &cf, msg, sizeof(msg), "--config", path, NULL), -EINVAL);
	assert_non_null(strstr(msg, "bad2.conf:1: --proxy:"));
	path = write_file("bad3.conf", "proxy = socks5://192.0.2.1\nnope = 1\n", 0600);
	assert_int_equal(load(&cfg, &cf, msg, sizeof(msg), "--config", path, NULL), -EINVAL);
	assert_non_null(strstr(msg, "bad3.conf:2: unknown option 'nope'"));
	path = write_file("bad4.conf", "config = /etc/x\n", 0600);
	assert_int_equal(load(&cfg, &cf, msg, sizeof(msg), "--config", path, NULL), -EINVAL);
	assert_non_null(strstr(msg, "bad4.conf:1: --config: for the command line only"));
	path = write_file("bad5.conf", "proxy = socks5://192.0.2.1\nmtu\n", 0600);
	assert_int_equal(load(&cfg, &cf, msg, sizeof(msg), "--config", path, NULL), -EINVAL);
	assert_non_null(strstr(msg, "bad5.conf:2: option 'mtu' needs a value"));
	path = write_file("world.conf", "proxy = socks5://192.0.2.1\n", 0666);
	assert_int_equal(load(&cfg, &cf, msg, sizeof(msg), "--config", path, NULL), -EPERM);
	assert_non_null(strstr(msg, "writable by others (mode 0666)"));
	/* An abbreviation getopt would take is refused: the file would not be read. */
	path = write_file("ok.conf", "proxy = socks5://192.0.2.1\n", 0600);
	assert_int_equal(load(&cfg, &cf, msg, sizeof(msg), "--conf", path, NULL), -EINVAL);
	if (strstr(msg, "give it in full") == NULL)
		fail_msg("%s", msg);
}

static void
test_secret_permissions(void **state)
{
	struct t2s_config cfg;
	struct cli_file cf;
	uid_t me = geteuid();
	char msg[256];
	const char *path;

	(void)state;
	path = write_file("secret.conf", "proxy = socks5://alice:s3cret@192.0.2.1\n", 0644);
	assert_int_equal(load(&cfg, &cf, msg, sizeof(msg), "--config", path, NULL), CLI_RUN);
	assert_true(cf.secret);
	assert_int_equal(cli_file_check(&cf, &me, 1, msg, sizeof(msg)), -EPERM);
	assert_non_null(strstr(msg, "secret.conf: holds a password but others may read it (mode 0644)"));
	assert_null(strstr(msg, "s3cret"));
	cli_file_release(&cf);
	assert_int_equal(chmod(path, 0640), 0);
	assert_int_equal(load(&cfg, &cf, msg, sizeof(msg), "--config", path, NULL), CLI_RUN);
	assert_int_equal(cli_file_check(&cf, &me, 1, msg, sizeof(msg)), 0);
	cli_file_release(&cf);
	/* The password given on the command line instead: the file holds none. */
	assert_int_equal(chmod(path, 0644), 0);
	assert_int_equal(load(&cfg, &cf, msg, sizeof(msg), "--config", path, "--proxy", "socks5://192.0.2.1", NULL),
			 CLI_RUN);
	assert_int_equal(cli_file_check(&cf, &me, 1, msg, sizeof(msg)), 0);
	cli_file_release(&cf);
}

static void
test_credentials(void **state)
{
	struct t2s_config cfg;
	struct cli_file cf;
	char msg[256], buf[512];
	const char *path;

	(void)state;
	unsetenv("CREDENTIALS_DIRECTORY");
	assert_int_equal(cli_file_cred_path("/etc/auth", buf, sizeof(buf), msg, sizeof(msg)), 0);
	assert_string_equal(buf, "/etc/auth");
	assert_int_equal(cli_file_cred_path("cred:proxy", buf, sizeof(buf), msg, sizeof(msg)), -EINVAL);
	assert_non_null(strstr(msg, "$CREDENTIALS_DIRECTORY is not set"));
	setenv("CREDENTIALS_DIRECTORY", dir, 1);
	assert_int_equal(cli_file_cred_path("cred:../x", buf, sizeof(buf), msg, sizeof(msg)), -EINVAL);
	assert_int_equal(cli_file_cred_path("cred:", buf, sizeof(buf), msg, sizeof(msg)), -EINVAL);
	assert_int_equal(cli_file_cred_path("cred:proxy", buf, sizeof(buf), msg, sizeof(msg)), 0);
	snprintf(msg, sizeof(msg), "%s/proxy", dir);
	assert_string_equal(buf, msg);

	write_file("proxy", "bob:pa:ss\n", 0400);
	path = write_file("cred.conf", "proxy = socks5://192.0.2.1\nproxy-auth-file = cred:proxy\n", 0644);
	assert_int_equal(load(&cfg, &cf, msg, sizeof(msg), "--config", path, NULL), CLI_RUN);
	assert_int_equal(cli_file_credentials(&cfg, msg, sizeof(msg)), 0);
	assert_string_equal(cfg.proxy.user, "bob");
	assert_string_equal(cfg.proxy.pass, "pa:ss");
	cli_file_release(&cf);
	unsetenv("CREDENTIALS_DIRECTORY");
}

static void
test_print_masks(void **state)
{
	struct t2s_config cfg, again;
	struct cli_file cf, cf2;
	char msg[256], out[4096];
	const char *path;
	FILE *fp;
	size_t n;

	(void)state;
	path = write_file("p.conf", "proxy = socks5://alice:s3cret@192.0.2.1:1081\nexclude = 10.0.0.0/8\n"
				    "auto-route\nfwmark = 0x10\nlog-level = debug\n", 0600);
	assert_int_equal(load(&cfg, &cf, msg, sizeof(msg), "--config", path, NULL), CLI_RUN);
	fp = fmemopen(out, sizeof(out), "w");
	cli_file_print(fp, &cfg);
	n = ftell(fp);
	fclose(fp);
	out[n] = '\0';
	assert_null(strstr(out, "s3cret"));
	assert_non_null(strstr(out, "proxy = socks5://alice:********@192.0.2.1:1081\n"));
	assert_non_null(strstr(out, "exclude = 10.0.0.0/8\n"));
	assert_non_null(strstr(out, "fwmark = 0x10\n"));
	assert_non_null(strstr(out, "log-level = debug\n"));
	assert_non_null(strstr(out, "# kill-switch = false\n"));
	assert_non_null(strstr(out, "# uid =\n# exclude-uid =\n# cgroup =\n# exclude-cgroup =\n"));
	cli_file_release(&cf);
	/* What it prints reads back as the same configuration (but the password). */
	path = write_file("printed.conf", out, 0600);
	assert_int_equal(load(&again, &cf2, msg, sizeof(msg), "--config", path, NULL), CLI_RUN);
	assert_int_equal(again.fwmark, 0x10);
	assert_int_equal(again.n_exclude, 1);
	assert_true(again.auto_route);
	assert_int_equal(again.log_level, LOG_LEVEL_DEBUG);
	assert_string_equal(again.proxy.user, "alice");
	cli_file_release(&cf2);
}

/* ---- config_merge_live: what a reload takes --------------------------------------- */

struct refused {
	char names[512];
};

static void
refused_cb(void *arg, const char *option)
{
	struct refused *r = arg;

	strcat(r->names, option);
	strcat(r->names, " ");
}

static void
test_merge_live(void **state)
{
	struct t2s_config run, next;
	struct refused r = {""};
	const char *why;

	(void)state;
	config_defaults(&run);
	assert_int_equal(proxy_url_parse(&run.proxy, "socks5://a:b@192.0.2.1:1080", &why), 0);
	run.dns_mode = CONFIG_DNS_UDP;
	next = run;
	/* Nothing differs: nothing taken, nothing refused. */
	assert_int_equal(config_merge_live(&run, &next, refused_cb, &r), 0);
	assert_string_equal(r.names, "");

	/* Live: proxy and credentials, timeouts, max-flows, log level, dns udp -> tcp. */
	assert_int_equal(proxy_url_parse(&next.proxy, "socks5://c:d@192.0.2.2:1081", &why), 0);
	next.connect_timeout = 3;
	next.idle_timeout = 30;
	next.udp_timeout = 20;
	next.max_flows = 10;
	next.log_level = LOG_LEVEL_DEBUG;
	next.dns_mode = CONFIG_DNS_TCP;
	/* Restart only: these keep the running value. */
	next.mtu = 1500;
	next.udp_mode = CONFIG_UDP_BLOCK;
	next.auto_route = true;
	next.resolved_off = true;
	assert_int_equal(capture_prefix_parse("10.0.0.0/8", &next.exclude[0]), 0);
	next.n_exclude = 1;
	next.user = "nobody";
	next.metrics = "9477";
	next.uid_select = CAPTURE_SELECT_UID;
	next.uids[0] = (struct netlink_uid_range){1000, 1999};
	next.n_uids = 1;
	next.cgroup_select = CAPTURE_SELECT_EXCLUDE_CGROUP;
	strcpy(next.cgroups[0], "system.slice/a.service");
	next.n_cgroups = 1;
	assert_int_equal(config_merge_live(&run, &next, refused_cb, &r), 7);
	assert_string_equal(r.names, "mtu udp auto-route resolved exclude uid exclude-cgroup user metrics ");
	assert_int_equal(run.n_uids, 0);
	assert_int_equal(run.n_cgroups, 0);
	assert_string_equal(run.proxy.user, "c");
	assert_int_equal(run.proxy.server.port, 1081);
	assert_true(run.connect_timeout == 3 && run.idle_timeout == 30 && run.udp_timeout == 20);
	assert_int_equal(run.max_flows, 10);
	assert_int_equal(run.log_level, LOG_LEVEL_DEBUG);
	assert_int_equal(run.dns_mode, CONFIG_DNS_TCP);
	assert_int_equal(run.mtu, CONFIG_DEFAULT_MTU);
	assert_int_equal(run.udp_mode, CONFIG_UDP_AUTO);
	assert_false(run.auto_route);
	assert_int_equal(run.n_exclude, 0);
	assert_null(run.user);

	/* The fake-IP pool exists only if the engine started with it. */
	r.names[0] = '\0';
	next = run;
	next.dns_mode = CONFIG_DNS_FAKE_IP;
	assert_int_equal(config_merge_live(&run, &next, refused_cb, &r), 0);
	assert_string_equal(r.names, "dns ");
	assert_int_equal(run.dns_mode, CONFIG_DNS_TCP);
}

/* A reload cannot change what was set up for the proxy's kind and TLS at start. */
static void
test_merge_live_proxy_kind(void **state)
{
	static const struct {
		const char *from, *to;
		bool live;
	} cases[] = {
		{"http://192.0.2.1:3128", "http://u:p@192.0.2.2:3129", true},
		{"socks5://192.0.2.1", "http://192.0.2.1:3128", false},
		{"http://192.0.2.1:3128", "https://192.0.2.1", false},
		{"socks5://192.0.2.1", "socks5+tls://192.0.2.1", false},
		{"https://proxy.example", "https://u:p@proxy.example", true},
		{"https://proxy.example", "https://other.example", false}, /* the name checked */
		{"socks5+tls://192.0.2.1:1443", "socks5+tls://192.0.2.1:1444", false},
	};
	const char *why;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct t2s_config run, next;
		struct refused r = {""};

		config_defaults(&run);
		assert_int_equal(proxy_url_parse(&run.proxy, cases[i].from, &why), 0);
		next = run;
		assert_int_equal(proxy_url_parse(&next.proxy, cases[i].to, &why), 0);
		assert_int_equal(config_proxy_live_ok(&run, &next), cases[i].live);
		assert_int_equal(config_merge_live(&run, &next, refused_cb, &r), cases[i].live ? 1 : 0);
		if (cases[i].live) {
			assert_string_equal(r.names, "");
			assert_true(endpoint_equal(&run.proxy.server, &next.proxy.server));
		} else {
			assert_string_equal(r.names, "proxy ");
			assert_false(run.proxy.has_credentials && !next.proxy.has_credentials);
		}
	}
	/* Trust and pin stay what the TLS context was made with. */
	{
		struct t2s_config run, next;
		struct refused r = {""};

		config_defaults(&run);
		assert_int_equal(proxy_url_parse(&run.proxy, "https://192.0.2.1", &why), 0);
		next = run;
		snprintf(next.proxy_ca, sizeof(next.proxy_ca), "/etc/other-ca.pem");
		next.has_proxy_pin = true;
		assert_int_equal(config_merge_live(&run, &next, refused_cb, &r), 0);
		assert_string_equal(r.names, "proxy-ca proxy-pin ");
		assert_string_equal(run.proxy_ca, "");
		assert_false(run.has_proxy_pin);
	}
}

static int
setup(void **state)
{
	(void)state;
	return mkdtemp(dir) == NULL ? -1 : 0;
}

static int
teardown(void **state)
{
	char cmd[300];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_syntax),
		cmocka_unit_test(test_long_credentials),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_empty),
		cmocka_unit_test(test_check_secret),
		cmocka_unit_test(test_merge),
		cmocka_unit_test(test_merge_proxy_list),
		cmocka_unit_test(test_merge_errors),
		cmocka_unit_test(test_secret_permissions),
		cmocka_unit_test(test_credentials),
		cmocka_unit_test(test_print_masks),
		cmocka_unit_test(test_merge_live),
		cmocka_unit_test(test_merge_live_proxy_kind),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
