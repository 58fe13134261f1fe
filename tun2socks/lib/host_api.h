/* SPDX-License-Identifier: MIT */
/*
 * The tun2socks command's side door into libtun2socks (not installed, not exported).
 * The command is one user of the public API (tun2socks.h): it builds a t2s_conf, creates
 * the engine, runs it on the TUN it opened and stops it with t2s_engine_stop. What an
 * embedder does not need and the command does is here:
 *  - a configuration it parsed itself (host options included) and a proxy address it
 *    resolved;
 *  - the process's default loop, on which it keeps its own watchers (signals, the
 *    command's child) next to the engine's;
 *  - two hooks around the run: `started` once the data path is built and before the
 *    loop runs (where the command drops privileges and lets its child go), `stopping`
 *    once when the loop has ended and every flow has been reset, before they are freed
 *    (where it lifts the capture, so nothing new enters the TUN while they close);
 *  - the stats line, on the engine's thread.
 */
#ifndef T2S_LIB_HOST_API_H
#define T2S_LIB_HOST_API_H

#include <stdbool.h>
#include <stdint.h>

#include <ev.h>

#include "endpoint.h"

#include "config.h"
#include "socks5_server.h"
#include "tun2socks.h"

struct t2s_host_hooks {
	/* 0 to run, or -errno to end the run at once with that error (logged by the hook). */
	int (*started)(void *arg, struct t2s_engine *engine);
	void (*stopping)(void *arg, struct t2s_engine *engine);
	void *arg;
};

/*
 * A configuration from one the command parsed and checked (cli_parse, credentials
 * loaded) and the proxy's resolved address; NULL when out of memory. Freed with
 * t2s_config_free.
 */
struct t2s_conf *t2s_conf_from_config(const struct t2s_config *cfg, const struct socks5_server *proxy);

/*
 * t2s_engine_new on loop (the caller's, and not destroyed by t2s_engine_free) with
 * hooks (copied). The engine is stopped by t2s_engine_stop as an embedder's is.
 */
int t2s_engine_new_host(struct t2s_conf *conf, struct ev_loop *loop, const struct t2s_host_hooks *hooks,
			struct t2s_engine **out);

/*
 * Reload (the command's SIGHUP with --config): next is a whole configuration, parsed
 * and checked like the first (host options included). What a running engine can take
 * (config_merge_live: the proxy and its credentials, timeouts, max-flows, log level,
 * dns udp/tcp) is used by new flows; open flows keep their proxy; every other option
 * that differs is logged as needing a restart and keeps its value. A proxy given by
 * name is looked up first, on the loop (never blocking it), on /etc/resolv.conf's
 * nameservers: if that fails, nothing changes. done is called once, on the loop,
 * possibly before this returns, with 0 or -errno and the reason ("" on success); it
 * may start the next reload. On the engine's thread, while it runs. Returns 0 (done
 * will be called), -EBUSY while a reload is under way, -EINVAL or -ENOMEM.
 */
typedef void (*t2s_reload_done_fn)(void *arg, int err, const char *why);
int t2s_engine_reload(struct t2s_engine *e, const struct t2s_config *next, t2s_reload_done_fn done, void *arg);

/* The proxy new flows go to (its address follows a reload; valid as long as e), and
 * its host and port as given, formatted into name. */
const struct socks5_server *t2s_engine_proxy(const struct t2s_engine *e, char *name, size_t len);

/* What `tun2socks status` shows of the engine (on the engine's thread, while it runs). */
struct t2s_engine_status {
	char tun[16];
	unsigned mtu;
	bool offload;
	char proxy[T2S_ENDPOINT_STRLEN + 2 * 256 + 16]; /* the URL, password redacted */
	const char *udp_mode, *udp_state, *dns_mode; /* static text */
	double uptime;                 /* seconds the data path has run */
	double proxy_ok_ago, proxy_fail_ago; /* seconds since the last CONNECT the proxy
					      * answered / failed; -1: none yet */
	const char *proxy_error;       /* the last failure, or "" */
	uint64_t udp_probes;           /* UDP relay checks run */
};
/* Returns 0, or -ESRCH when the engine does not run. */
int t2s_engine_status(struct t2s_engine *engine, struct t2s_engine_status *st);

/* Every counter (t2s_counters, t2s.h) on the engine's thread; -ESRCH when not running. */
int t2s_engine_counters(struct t2s_engine *engine,
			void (*fn)(void *arg, const char *name, uint64_t value, bool gauge, const char *help),
			void *arg);

/* Every histogram (t2s_histograms, t2s.h); -ESRCH when not running. */
struct histogram;
int t2s_engine_histograms(struct t2s_engine *engine,
			  void (*fn)(void *arg, const char *name, const char *help, const struct histogram *h),
			  void *arg);

/* One proxy of the list (--proxy, in order): its state and counters (proxy_set.h). */
struct t2s_engine_proxy_info {
	unsigned index;
	char url[T2S_ENDPOINT_STRLEN + 2 * 256 + 16]; /* password redacted */
	bool up, active;
	double since;       /* seconds in the current state */
	uint64_t picked;    /* new TCP flows given to it */
	uint64_t flow_ok, flow_failed, retried, checks_ok, checks_failed, went_down, went_up;
};
/* Calls fn for every proxy; -ESRCH when not running. */
int t2s_engine_proxies(struct t2s_engine *engine, void (*fn)(void *arg, const struct t2s_engine_proxy_info *p),
		       void *arg);

/* Logs every counter on one line; on the engine's thread, while it runs. */
void t2s_engine_log_stats(struct t2s_engine *engine);

#endif
