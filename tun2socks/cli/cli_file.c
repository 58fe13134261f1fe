/* SPDX-License-Identifier: MIT */
/* --config and the command line merged into one struct t2s_config; the secrets it
 * names; --print-config. */
#include "cli_file.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "argv_scrub.h"
#include "capture.h"
#include "cli.h"
#include "endpoint.h"
#include "errmsg.h"
#include "proxy_url.h"

static int
scrubbed(int err, char *msg)
{
	(void)argv_scrub_text(msg);
	return err;
}

/* errmsg, then the password of any URL in the message masked: it may quote one back. */
#define fail(err, msg, msglen, ...) scrubbed(errmsg(err, msg, msglen, __VA_ARGS__), msg)

/* --config's value in argv, or NULL; the "--" of a command ends the search. */
static const char *
find_config(int argc, char **argv)
{
	const char *path = NULL;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--") == 0)
			break;
		if (strcmp(argv[i], "--config") == 0 && i + 1 < argc)
			path = argv[++i];
		else if (strncmp(argv[i], "--config=", 9) == 0)
			path = argv[i] + 9;
	}
	return path;
}

/* "false", "no", "0": an option without value left off; "yes" sets it. */
static bool
flag_off(const char *v)
{
	return v != NULL && (strcmp(v, "false") == 0 || strcmp(v, "no") == 0 || strcmp(v, "0") == 0);
}

static int
apply_file(struct conf_file *file, struct t2s_config *cfg, bool *secret, char *msg, size_t msglen)
{
	char why[256];

	for (size_t i = 0; i < conf_file_count(file); i++) {
		const struct conf_entry *e = conf_file_entry(file, i);
		const char *v = e->value;
		int rc;

		if (strcmp(e->name, "config") == 0 || strcmp(e->name, "print-config") == 0 ||
		    strcmp(e->name, "help") == 0 || strcmp(e->name, "version") == 0)
			return fail(-EINVAL, msg, msglen, "%s:%u: --%s: for the command line only", conf_file_path(file),
				    e->line, e->name);
		if (v != NULL && strcmp(v, "yes") == 0)
			v = "true";
		if (flag_off(v) && (strcmp(e->name, "auto-route") == 0 || strcmp(e->name, "kill-switch") == 0 ||
				    strcmp(e->name, "no-offload") == 0))
			continue;
		rc = cli_set_kept(cfg, e->name, v, why, sizeof(why));
		if (rc < 0) {
			/* cli's reasons start with "--name: " or name the option themselves. */
			if (strncmp(why, "--", 2) == 0 || strncmp(why, "option '", 8) == 0 ||
			    strncmp(why, "unknown option", 14) == 0)
				return fail(-EINVAL, msg, msglen, "%s:%u: %s", conf_file_path(file), e->line, why);
			return fail(-EINVAL, msg, msglen, "%s:%u: --%s: %s", conf_file_path(file), e->line, e->name, why);
		}
		if (strcmp(e->name, "proxy") == 0 && cfg->n_backup == 0)
			*secret = cfg->proxy.has_credentials && cfg->proxy.pass[0] != '\0';
	}
	return 0;
}

int
cli_file_load(int argc, char **argv, struct t2s_config *cfg, struct cli_file *out, char *msg, size_t msglen)
{
	const char *path = find_config(argc, argv);
	int rc;

	*out = (struct cli_file){0};
	if (path != NULL) {
		rc = conf_file_read(path, &out->file, msg, msglen);
		if (rc < 0)
			return rc;
		rc = apply_file(out->file, cfg, &out->secret, msg, msglen);
		if (rc < 0)
			goto err_release;
	}
	rc = cli_parse(argc, argv, cfg, msg, msglen);
	/* getopt also takes "--conf FILE"; the file must have been the one applied. */
	if (cfg->config_file != path && (rc >= 0 || cfg->config_file != NULL)) {
		rc = fail(-EINVAL, msg, msglen, "--config: give it in full, as --config FILE or --config=FILE");
		goto err_release;
	}
	if (rc < 0)
		goto err_release;
	if (out->secret && cfg->proxy.has_credentials == 0)
		out->secret = false;
	return rc;

err_release:
	cli_file_release(out);
	return rc;
}

void
cli_file_release(struct cli_file *f)
{
	conf_file_free(f->file);
	*f = (struct cli_file){0};
}

int
cli_file_check(const struct cli_file *f, const uid_t *allowed, size_t n_allowed, char *msg, size_t msglen)
{
	char why[200];

	if (f->file == NULL || !f->secret)
		return 0;
	if (conf_file_check_secret(conf_file_owner(f->file), conf_file_mode(f->file), allowed, n_allowed, why,
				   sizeof(why)) < 0)
		return fail(-EPERM, msg, msglen, "%s: %s", conf_file_path(f->file), why);
	return 0;
}

int
cli_file_cred_path(const char *value, char *buf, size_t buflen, char *msg, size_t msglen)
{
	const char *name, *dir;
	int n;

	if (strncmp(value, CLI_FILE_CRED_PREFIX, strlen(CLI_FILE_CRED_PREFIX)) != 0) {
		if ((size_t)snprintf(buf, buflen, "%s", value) >= buflen)
			return fail(-ENAMETOOLONG, msg, msglen, "--proxy-auth-file: path too long");
		return 0;
	}
	name = value + strlen(CLI_FILE_CRED_PREFIX);
	if (name[0] == '\0' || strchr(name, '/') != NULL || strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
		return fail(-EINVAL, msg, msglen, "--proxy-auth-file: '%s' is not cred:NAME (a credential's name, no '/')",
			    value);
	dir = getenv("CREDENTIALS_DIRECTORY");
	if (dir == NULL || dir[0] == '\0')
		return fail(-EINVAL, msg, msglen,
			    "--proxy-auth-file %s: $CREDENTIALS_DIRECTORY is not set (systemd's LoadCredential= sets it)",
			    value);
	n = snprintf(buf, buflen, "%s/%s", dir, name);
	if (n < 0 || (size_t)n >= buflen)
		return fail(-ENAMETOOLONG, msg, msglen, "--proxy-auth-file %s: path too long", value);
	return 0;
}

int
cli_file_credentials(struct t2s_config *cfg, char *msg, size_t msglen)
{
	const char *env = getenv("TUN2SOCKS_PROXY_AUTH");
	const char *why = NULL;
	char line[2 * PROXY_URL_CRED_MAX + 8], path[4096];
	int rc = 0;

	if (cfg->auth_file != NULL) {
		FILE *fp;

		rc = cli_file_cred_path(cfg->auth_file, path, sizeof(path), msg, msglen);
		if (rc < 0)
			goto out;
		fp = fopen(path, "re");
		if (fp == NULL) {
			rc = fail(-errno, msg, msglen, "--proxy-auth-file %s: %s", path, strerror(errno));
			goto out;
		}
		if (fgets(line, sizeof(line), fp) == NULL)
			line[0] = '\0';
		fclose(fp);
		if (config_set_credentials(cfg, line, &why) < 0)
			rc = fail(-EINVAL, msg, msglen, "--proxy-auth-file %s: %s", path, why);
		explicit_bzero(line, sizeof(line));
	} else if (env != NULL && env[0] != '\0') {
		if (config_set_credentials(cfg, env, &why) < 0)
			rc = fail(-EINVAL, msg, msglen, "TUN2SOCKS_PROXY_AUTH: %s", why);
	}
	if (rc == 0 && cfg->proxy.has_credentials && cfg->proxy.pass[0] == '\0')
		rc = fail(-EINVAL, msg, msglen, "--proxy: a user name needs a password (RFC 1929)");
out:
	/* Read or not (the file wins), the credential is never passed on to a COMMAND. */
	(void)argv_scrub_env("TUN2SOCKS_PROXY_AUTH");
	return rc;
}

static void
print_unset(FILE *fp, const char *name)
{
	fprintf(fp, "# %s =\n", name);
}

static void
print_flag(FILE *fp, const char *name, bool on)
{
	fprintf(fp, on ? "%s = true\n" : "# %s = false\n", name);
}

static void
print_addr(FILE *fp, const char *name, int family, const void *addr, int prefix)
{
	char buf[INET6_ADDRSTRLEN];

	inet_ntop(family, addr, buf, sizeof(buf));
	if (prefix >= 0)
		fprintf(fp, "%s = %s/%d\n", name, buf, prefix);
	else
		fprintf(fp, "%s = %s\n", name, buf);
}

void
cli_file_print(FILE *fp, const struct t2s_config *cfg)
{
	static const char *const levels[] = {"error", "warn", "info", "debug"};
	static const char *const dns[] = {"udp", "tcp", "fake-ip"};
	static const char *const udp[] = {"auto", "associate", "dns-over-tcp", "block"};
	char url[T2S_ENDPOINT_STRLEN + 2 * PROXY_URL_CRED_MAX + 32], buf[T2S_ENDPOINT_STRLEN + 8];
	const char *at;

	fprintf(fp, "# tun2socks: the effective configuration%s%s (passwords masked)\n",
		cfg->config_file != NULL ? " from " : "", cfg->config_file != NULL ? cfg->config_file : "");
	if (cfg->proxy_given) {
		proxy_url_format_redacted(&cfg->proxy, url, sizeof(url));
		at = strchr(url, '@');
		if (cfg->proxy.has_credentials && cfg->proxy.pass[0] != '\0' && at != NULL)
			fprintf(fp, "proxy = %.*s:********%s\n", (int)(at - url), url, at);
		else
			fprintf(fp, "proxy = %s\n", url);
		for (unsigned i = 0; i < cfg->n_backup; i++) {
			proxy_url_format_redacted(&cfg->backup[i], url, sizeof(url));
			at = strchr(url, '@');
			if (cfg->backup[i].has_credentials && cfg->backup[i].pass[0] != '\0' && at != NULL)
				fprintf(fp, "proxy = %.*s:********%s\n", (int)(at - url), url, at);
			else
				fprintf(fp, "proxy = %s\n", url);
		}
	} else {
		print_unset(fp, "proxy");
	}
	fprintf(fp, "proxy-policy = %s\n", proxy_set_policy_str(cfg->proxy_policy));
	fprintf(fp, "proxy-check-interval = %g\n", cfg->proxy_check_interval);
	fprintf(fp, "proxy-check-timeout = %g\n", cfg->proxy_check_timeout);
	fprintf(fp, "proxy-fall = %u\n", cfg->proxy_fall);
	fprintf(fp, "proxy-rise = %u\n", cfg->proxy_rise);
	if (cfg->auth_file != NULL)
		fprintf(fp, "proxy-auth-file = %s\n", cfg->auth_file);
	else
		print_unset(fp, "proxy-auth-file");
	if (cfg->proxy_ca[0] != '\0')
		fprintf(fp, "proxy-ca = %s\n", cfg->proxy_ca);
	else
		print_unset(fp, "proxy-ca");
	if (cfg->has_proxy_pin) {
		fprintf(fp, "proxy-pin = sha256:");
		for (size_t i = 0; i < sizeof(cfg->proxy_pin); i++)
			fprintf(fp, "%02x", cfg->proxy_pin[i]);
		fprintf(fp, "\n");
	} else {
		print_unset(fp, "proxy-pin");
	}
	fprintf(fp, "tun = %s\n", cfg->tun_name);
	if (cfg->tun_fd >= 0)
		fprintf(fp, "tun-fd = %d\n", cfg->tun_fd);
	else
		print_unset(fp, "tun-fd");
	fprintf(fp, "mtu = %u\n", cfg->mtu);
	if (cfg->has_address4)
		print_addr(fp, "address", AF_INET, &cfg->address4, (int)cfg->prefix4);
	else
		print_unset(fp, "address");
	if (cfg->has_address6)
		print_addr(fp, "address6", AF_INET6, &cfg->address6, (int)cfg->prefix6);
	else
		print_unset(fp, "address6");
	fprintf(fp, "connect-timeout = %g\n", cfg->connect_timeout);
	fprintf(fp, "idle-timeout = %g\n", cfg->idle_timeout);
	fprintf(fp, "max-flows = %u\n", cfg->max_flows);
	if (cfg->max_memory > 0)
		fprintf(fp, "max-memory = %zu\n", cfg->max_memory);
	else
		fprintf(fp, "# max-memory = (derived from max-flows)\n");
	fprintf(fp, "udp-timeout = %g\n", cfg->udp_timeout);
	fprintf(fp, "udp = %s\n", udp[cfg->udp_mode]);
	fprintf(fp, "udp-pool = %u\n", cfg->udp_pool);
	if (cfg->udp_relay.ss_family != AF_UNSPEC) {
		struct t2s_endpoint ep;

		if (endpoint_from_sockaddr(&ep, (const struct sockaddr *)&cfg->udp_relay) == 0) {
			endpoint_format(&ep, buf, sizeof(buf));
			fprintf(fp, "udp-relay = %s\n", buf);
		}
	} else {
		print_unset(fp, "udp-relay");
	}
	fprintf(fp, "dns = %s\n", dns[cfg->dns_mode]);
	print_addr(fp, "fake-ip-range", AF_INET, &cfg->fake_net4, (int)cfg->fake_prefix4);
	print_addr(fp, "fake-ip-range6", AF_INET6, &cfg->fake_net6, (int)cfg->fake_prefix6);
	if (cfg->fwmark != 0)
		fprintf(fp, "fwmark = 0x%x\n", cfg->fwmark);
	else
		print_unset(fp, "fwmark");
	print_flag(fp, "no-offload", !cfg->offload);
	print_flag(fp, "auto-route", cfg->auto_route);
	for (unsigned i = 0; i < cfg->n_exclude; i++) {
		capture_prefix_format(&cfg->exclude[i], buf, sizeof(buf));
		fprintf(fp, "exclude = %s\n", buf);
	}
	if (cfg->n_exclude == 0)
		print_unset(fp, "exclude");
	for (unsigned i = 0; i < cfg->n_uids; i++) {
		const struct netlink_uid_range *u = &cfg->uids[i];
		const char *key = cfg->uid_select == CAPTURE_SELECT_UID ? "uid" : "exclude-uid";

		if (u->start == u->end)
			fprintf(fp, "%s = %u\n", key, (unsigned)u->start);
		else
			fprintf(fp, "%s = %u-%u\n", key, (unsigned)u->start, (unsigned)u->end);
	}
	if (cfg->n_uids == 0) {
		print_unset(fp, "uid");
		print_unset(fp, "exclude-uid");
	}
	for (unsigned i = 0; i < cfg->n_cgroups; i++)
		fprintf(fp, "%s = %s\n", cfg->cgroup_select == CAPTURE_SELECT_CGROUP ? "cgroup" : "exclude-cgroup",
			cfg->cgroups[i]);
	if (cfg->n_cgroups == 0) {
		print_unset(fp, "cgroup");
		print_unset(fp, "exclude-cgroup");
	}
	print_flag(fp, "kill-switch", cfg->kill_switch);
	fprintf(fp, "resolved = %s\n", cfg->resolved_off ? "off" : "auto");
	if (cfg->share_from[0] != '\0')
		fprintf(fp, "share-from = %s\n", cfg->share_from);
	else
		print_unset(fp, "share-from");
	if (cfg->netns != NULL)
		fprintf(fp, "netns = %s\n", cfg->netns);
	else
		print_unset(fp, "netns");
	if (cfg->dns_server.family != 0)
		print_addr(fp, "dns-server", cfg->dns_server.family, &cfg->dns_server.addr, -1);
	else
		print_unset(fp, "dns-server");
	if (cfg->user != NULL)
		fprintf(fp, "user = %s\n", cfg->user);
	else
		print_unset(fp, "user");
	if (cfg->group != NULL)
		fprintf(fp, "group = %s\n", cfg->group);
	else
		print_unset(fp, "group");
	if (cfg->control != NULL)
		fprintf(fp, "control = %s\n", cfg->control);
	else
		print_unset(fp, "control");
	if (cfg->metrics != NULL)
		fprintf(fp, "metrics = %s\n", cfg->metrics);
	else
		print_unset(fp, "metrics");
	fprintf(fp, "log-level = %s\n", levels[cfg->log_level]);
}

char **
cli_file_argv_dup(int argc, char **argv)
{
	char **copy = calloc((size_t)argc + 1, sizeof(*copy));

	if (copy == NULL)
		return NULL;
	for (int i = 0; i < argc; i++) {
		copy[i] = strdup(argv[i]);
		if (copy[i] == NULL) {
			cli_file_argv_free(copy);
			return NULL;
		}
	}
	return copy;
}

void
cli_file_argv_free(char **argv)
{
	if (argv == NULL)
		return;
	for (char **p = argv; *p != NULL; p++) {
		explicit_bzero(*p, strlen(*p));
		free(*p);
	}
	free(argv);
}
