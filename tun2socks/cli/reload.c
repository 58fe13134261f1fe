/* SPDX-License-Identifier: MIT */
/* SIGHUP with --config: a configuration built as at start, taken live where it can be. */
#include "reload.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "capture.h"
#include "cli.h"
#include "cli_file.h"
#include "host_api.h"
#include "log.h"
#include "netns.h"

struct reload {
	int argc;
	char **argv;
	char *env_auth;             /* TUN2SOCKS_PROXY_AUTH as at start, or NULL */
	struct cli_file file;       /* the reload's, while the engine takes it */
	struct t2s_config next;
	struct reload_host host;    /* the running setup, during a reload */
	reload_done_fn done;
	void *arg;
	bool busy;
	bool exclude_pending;       /* next's --exclude differs: applied once the engine took the rest */
	struct netlink_prefix exclude[CONFIG_MAX_EXCLUDE];
	unsigned n_exclude;
};

struct reload *
reload_new(int argc, char **argv)
{
	const char *env = getenv("TUN2SOCKS_PROXY_AUTH");
	struct reload *r = calloc(1, sizeof(*r));

	if (r == NULL)
		return NULL;
	r->argc = argc;
	r->argv = cli_file_argv_dup(argc, argv);
	if (env != NULL && env[0] != '\0')
		r->env_auth = strdup(env);
	if (r->argv == NULL || (env != NULL && env[0] != '\0' && r->env_auth == NULL)) {
		reload_free(r);
		return NULL;
	}
	return r;
}

void
reload_free(struct reload *r)
{
	if (r == NULL)
		return;
	cli_file_argv_free(r->argv);
	if (r->env_auth != NULL) {
		explicit_bzero(r->env_auth, strlen(r->env_auth));
		free(r->env_auth);
	}
	cli_file_release(&r->file);
	explicit_bzero(r, sizeof(*r));
	free(r);
}

static bool
excludes_differ(const struct t2s_config *a, const struct t2s_config *b)
{
	return a->n_exclude != b->n_exclude || memcmp(a->exclude, b->exclude, a->n_exclude * sizeof(a->exclude[0])) != 0;
}

/* The reload's --exclude: new rules in before the old ones go (capture_update). */
static int
apply_exclude(struct reload *r)
{
	const struct reload_host *h = &r->host;
	struct t2s_config *cfg = h->cfg;
	struct capture_params p = {
		.tun = h->tun,
		.whole_host = cfg->auto_route || h->netns_fd >= 0,
		.kill_switch = cfg->kill_switch,
		.fwmark = h->netns_fd >= 0 ? 0 : cfg->fwmark,
		.share_from = cfg->share_from[0] != '\0' ? cfg->share_from : NULL,
		.exclude = r->exclude,
		.n_exclude = r->n_exclude,
		.exclude_dns = cfg->exclude_dns,
		.ipv6 = capture_have_ipv6(),
		.owner_uid = h->record_owner,
		.select = h->netns_fd >= 0    ? CAPTURE_SELECT_ALL
			  : cfg->n_cgroups > 0 ? (enum capture_select)cfg->cgroup_select
					       : (enum capture_select)cfg->uid_select,
		.uids = cfg->uids,
		.n_uids = cfg->n_uids,
		.cgroups = h->cgroups,
		.n_cgroups = h->n_cgroups,
	};
	int saved = -1, err;

	if (geteuid() != 0) {
		log_warn("reload: --exclude cannot change once running as --user (the state record must stay root's): "
			 "the running value stays (restart to change it)");
		return -EPERM;
	}
	if (h->netns_fd >= 0 && (err = netns_enter(h->netns_fd, &saved)) < 0) {
		log_error("reload: cannot enter the namespace to change --exclude: %s", strerror(-err));
		return err;
	}
	err = capture_update(h->capture, &p);
	if (saved >= 0 && netns_return(saved) < 0)
		log_warn("cannot return to our own network namespace");
	if (err < 0)
		return err;
	memcpy(cfg->exclude, r->exclude, sizeof(cfg->exclude));
	cfg->n_exclude = r->n_exclude;
	log_info("reload: --exclude now keeps %u destination%s out of the TUN", cfg->n_exclude,
		 cfg->n_exclude == 1 ? "" : "s");
	return 0;
}

static void
finish(struct reload *r, int err, const char *why)
{
	r->busy = false;
	r->exclude_pending = false;
	/* The engine copied what it took; nothing points into the new file any more. */
	cli_file_release(&r->file);
	explicit_bzero(&r->next.proxy, sizeof(r->next.proxy));
	r->done(r->arg, err, why);
}

static void
engine_done_cb(void *arg, int err, const char *why)
{
	struct reload *r = arg;

	if (err < 0)
		log_error("reload: %s: the running configuration stays", why);
	else if (r->exclude_pending && (err = apply_exclude(r)) < 0)
		why = "--exclude was not changed";
	finish(r, err, why);
}

/* The new configuration, complete and checked as at start. Returns 0 or -errno (msg). */
static int
read_next(struct reload *r, char *msg, size_t msglen)
{
	struct t2s_config *next = &r->next;
	const char *why;
	int rc;

	config_defaults(next);
	rc = cli_file_load(r->argc, r->argv, next, &r->file, msg, msglen);
	if (rc >= 0 && rc != CLI_RUN) {
		snprintf(msg, msglen, "the command line no longer says to run");
		return -EINVAL;
	}
	if (rc >= 0)
		rc = cli_file_credentials(next, msg, msglen);
	if (rc >= 0 && next->auth_file == NULL && r->env_auth != NULL &&
	    config_set_credentials(next, r->env_auth, &why) < 0) {
		snprintf(msg, msglen, "TUN2SOCKS_PROXY_AUTH: %s", why);
		rc = -EINVAL;
	}
	if (rc >= 0)
		rc = cli_file_check(&r->file, r->host.allowed, 2, msg, msglen);
	if (rc >= 0 && r->host.prepare != NULL)
		r->host.prepare(next);
	return rc < 0 ? rc : 0;
}

bool
reload_busy(const struct reload *r)
{
	return r->busy;
}

int
reload_start(struct reload *r, const struct reload_host *host, reload_done_fn done, void *arg)
{
	char msg[256];
	int rc;

	if (r->busy) {
		log_warn("SIGHUP: a reload is under way already; send it again once it is done");
		return -EBUSY;
	}
	r->busy = true;
	r->host = *host;
	r->done = done;
	r->arg = arg;
	rc = read_next(r, msg, sizeof(msg));
	if (rc == 0) {
		/* The capture is the command's, not the engine's: it follows the engine. */
		r->exclude_pending = host->capture != NULL && excludes_differ(host->cfg, &r->next);
		if (r->exclude_pending) {
			memcpy(r->exclude, r->next.exclude, sizeof(r->exclude));
			r->n_exclude = r->next.n_exclude;
			memcpy(r->next.exclude, host->cfg->exclude, sizeof(r->next.exclude));
			r->next.n_exclude = host->cfg->n_exclude;
		}
		rc = t2s_engine_reload(host->engine, &r->next, engine_done_cb, r);
		if (rc < 0)
			snprintf(msg, sizeof(msg), "%s", strerror(-rc));
	}
	if (rc < 0) {
		log_error("reload: %s: the running configuration stays", msg);
		finish(r, rc, msg);
	}
	return 0;
}
