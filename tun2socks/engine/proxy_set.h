/* SPDX-License-Identifier: MIT */
/*
 * The list of proxies (--proxy given several times): each one's health and counters,
 * and which one serves a new flow (--proxy-policy). Pure: no I/O, no clock; time is
 * an argument. The background checks (proxy_check.c) and the flows report outcomes;
 * this module only counts and decides.
 *
 * Health: a proxy starts "up" (assumed to work, so that start-up waits for nothing).
 * fall consecutive failures (a check or a flow's connect, handshake, authentication
 * or TLS failing, or timing out) make it "down"; a success resets the count. A down
 * proxy needs rise consecutive successes (the checks keep running on it) to be "up"
 * again. A target's refusal (SOCKS REP "connection refused", host unreachable, HTTP
 * 502) is the proxy working and is reported as a success.
 *
 * Policies (which proxy a new TCP flow or a new UDP association uses):
 * - first-healthy (default): the first "up" proxy in list order; a proxy coming back
 *   up ahead of the active one takes over again (fail back).
 * - failover: the active proxy stays until it goes down; then the next "up" after it
 *   in list order (wrapping). No fail back.
 * - round-robin: TCP flows rotate among the "up" proxies; UDP associations use the
 *   first "up" one (as first-healthy), since spare associations are kept for one.
 * With no proxy up, the active one stays active (flows try it, as with one proxy).
 */
#ifndef T2S_TUN2SOCKS_PROXY_SET_H
#define T2S_TUN2SOCKS_PROXY_SET_H

#include <stdbool.h>
#include <stdint.h>

#define PROXY_SET_MAX 8

enum proxy_set_policy {
	PROXY_SET_FIRST_HEALTHY = 0,
	PROXY_SET_FAILOVER,
	PROXY_SET_ROUND_ROBIN,
};

/* Defaults of --proxy-check-interval, -timeout, --proxy-fall, --proxy-rise. */
#define PROXY_SET_DEFAULT_INTERVAL 5.0
#define PROXY_SET_DEFAULT_TIMEOUT 3.0
#define PROXY_SET_DEFAULT_FALL 2
#define PROXY_SET_DEFAULT_RISE 2
#define PROXY_SET_MAX_FALL_RISE 100

struct proxy_set_stats {
	uint64_t picked;         /* new TCP flows given to it */
	uint64_t flow_ok;        /* its CONNECTs that the proxy answered (target reached or not) */
	uint64_t flow_failed;    /* its CONNECTs that failed at the proxy (connect, handshake, auth, TLS) */
	uint64_t retried;        /* flows moved from it to another proxy in the SYN gate */
	uint64_t checks_ok, checks_failed;
	uint64_t went_down, went_up;
	double since;            /* when it entered its current state */
};

struct proxy_set;

/*
 * Called from proxy_set_report when a proxy changes state (up true: it came up) and
 * when the active proxy changes (old != now). Not called for the initial state.
 */
typedef void (*proxy_set_changed_fn)(void *arg, unsigned idx, bool up, unsigned old_active, unsigned new_active);

struct proxy_set_params {
	unsigned n;          /* 1..PROXY_SET_MAX */
	enum proxy_set_policy policy;
	unsigned fall, rise; /* 1..PROXY_SET_MAX_FALL_RISE */
	proxy_set_changed_fn changed; /* may be NULL */
	void *arg;
};

/* Returns NULL (errno EINVAL or ENOMEM). Every proxy starts up; proxy 0 is active. */
struct proxy_set *proxy_set_new(const struct proxy_set_params *p, double now);
void proxy_set_free(struct proxy_set *s);

unsigned proxy_set_count(const struct proxy_set *s);

/* The proxy for a new TCP flow (counted in picked). */
unsigned proxy_set_pick(struct proxy_set *s);

/* The active proxy: new UDP associations, and the one logs and `status` name. */
unsigned proxy_set_active(const struct proxy_set *s);

/*
 * For a flow whose CONNECT through a proxy failed at the proxy: the next "up" proxy
 * in list order after idx (wrapping) whose bit is clear in tried (bit i: proxy i
 * tried), or -1 when none is left. Counts a retry on idx when one is found.
 */
int proxy_set_next(struct proxy_set *s, unsigned idx, uint32_t tried);

/* An outcome for proxy idx: from a check (check true) or from a flow. May change its
 * state and the active proxy (the changed hook is called). */
void proxy_set_report(struct proxy_set *s, unsigned idx, bool ok, bool check, double now);

/* Proxy idx is down without a failure (its name is not resolved yet): no hook, not
 * counted; the active proxy moves off it per the policy. */
void proxy_set_mark_down(struct proxy_set *s, unsigned idx, double now);

/* Whether proxy idx is up now. */
bool proxy_set_up(const struct proxy_set *s, unsigned idx);
const struct proxy_set_stats *proxy_set_stats(const struct proxy_set *s, unsigned idx);

/* Puts every proxy back "up" with no history and n of them (a reload's new list);
 * the counters stay. Proxy 0 becomes active. Returns 0 or -EINVAL. */
int proxy_set_reset(struct proxy_set *s, unsigned n, double now);

const char *proxy_set_policy_str(enum proxy_set_policy p);
/* "failover", "first-healthy", "round-robin" -> 0, else -EINVAL. */
int proxy_set_policy_parse(const char *text, enum proxy_set_policy *out);

#endif
