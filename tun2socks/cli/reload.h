/* SPDX-License-Identifier: MIT */
/*
 * The command's reload (SIGHUP with --config): the config file and the command line
 * read again as at start (cli_file.h), then handed to the engine (t2s_engine_reload,
 * lib/host_api.h), and --exclude to the capture (capture_update). Owns the copy of the
 * command line and the environment's credentials it needs, and the reload's file
 * until the engine has taken what it can. On the loop's thread.
 */
#ifndef T2S_CLI_RELOAD_H
#define T2S_CLI_RELOAD_H

#include <stdbool.h>
#include <sys/types.h>

#include "cgroup_path.h"
#include "config.h"
#include "tun2socks.h"

struct capture;

/* The running host setup, as a reload needs it (borrowed for the call). */
struct reload_host {
	struct t2s_engine *engine;
	struct t2s_config *cfg;   /* the running configuration: its exclude follows a reload */
	struct capture *capture;  /* NULL: no capture mode */
	int netns_fd;             /* --netns: the capture's namespace, else -1 */
	const char *tun;          /* the capture's TUN */
	long record_owner;        /* capture_params.owner_uid */
	const struct cgroup_path_id *cgroups; /* --cgroup/--exclude-cgroup as resolved at start */
	unsigned n_cgroups;
	uid_t allowed[2];         /* who may own a config file with a password */
	/* What main does to a parsed configuration before it runs (capture addresses). */
	void (*prepare)(struct t2s_config *cfg);
};

/* Called once per reload_start that returned 0: err 0 when applied, else -errno with
 * the reason (logged already); may start the next reload. */
typedef void (*reload_done_fn)(void *arg, int err, const char *why);

struct reload;

/*
 * Before argv is scrubbed of passwords and TUN2SOCKS_PROXY_AUTH removed: copies both
 * (the variable's value as of now still counts on a reload, below a proxy-auth-file,
 * as at start). NULL when out of memory.
 */
struct reload *reload_new(int argc, char **argv);
/* Wipes and frees; NULL is a no-op. Not while a reload is under way. */
void reload_free(struct reload *r);

/* A reload started and its done not yet called. */
bool reload_busy(const struct reload *r);

/*
 * Reads the configuration again and, if it is good, applies what can change live (the
 * engine's part, then --exclude). Returns 0 (done will be called, maybe before this
 * returns) or -EBUSY while one is under way (logged).
 */
int reload_start(struct reload *r, const struct reload_host *host, reload_done_fn done, void *arg);

#endif
