/* SPDX-License-Identifier: MIT */
/*
 * Running out of file descriptors (EMFILE: our RLIMIT_NOFILE, ENFILE: the system's
 * table) is an episode, not an error per flow: while it lasts every new flow is refused
 * (RST or ICMP by the caller), existing flows carry on, and the log says so once when
 * it starts and once when a descriptor could be had again. A configured limit reached
 * (--max-flows: fd_pressure_capped) and the memory budget (mem_budget.h) have episodes
 * of the same shape, each in its own struct with its own words (fd_pressure_kind).
 * A value type embedded in struct t2s; no allocation.
 */
#ifndef T2S_TUN2SOCKS_FD_PRESSURE_H
#define T2S_TUN2SOCKS_FD_PRESSURE_H

#include <stdbool.h>
#include <stdint.h>

#include <ev.h>

/* While an episode lasts, remind at most this often that flows are still refused. */
#define FD_PRESSURE_REMIND_INTERVAL 30.0
/* At most one start/end pair of log lines this often, however fast episodes flap
 * (a limit right at the edge frees and takes a descriptor per flow). */
#define FD_PRESSURE_LOG_INTERVAL 5.0

/* The words of an episode's log lines, the same three for every kind: "<short_of>
 * (<why>): new connections are refused ...", "still <short_of> after ...",
 * "<recovered> after ...". */
struct fd_pressure_kind {
	const char *short_of;  /* "out of file descriptors", "at --max-flows" */
	const char *recovered; /* "recovered from file descriptor exhaustion", "below --max-flows again" */
};

struct fd_pressure {
	const struct fd_pressure_kind *kind; /* NULL: file descriptors */
	bool exhausted;          /* an episode is under way */
	bool logged;             /* its start was logged, so its end will be too */
	uint64_t refused;        /* flows refused for want of a descriptor, ever */
	uint64_t episodes;       /* episodes begun, ever */
	uint64_t episode_refused; /* refused during the current (or last) episode */
	ev_tstamp since, last_log;
};

/* True for the errors that mean "no descriptor": -EMFILE, -ENFILE (negative errno). */
bool fd_pressure_is_exhaustion(int err);

/*
 * A new flow (what: "TCP", "UDP", "DNS over TCP") could not get a descriptor (err is a
 * negative errno for which fd_pressure_is_exhaustion holds): counts it, and logs when
 * this begins an episode (rate-limited), then at most every FD_PRESSURE_REMIND_INTERVAL
 * seconds while it lasts.
 */
void fd_pressure_refused(struct fd_pressure *p, ev_tstamp now, const char *what, int err);

/*
 * A new flow (what: "TCP") was refused because a configured limit is reached with `open`
 * flows: counts and logs the episode exactly as fd_pressure_refused does, in the words
 * of p->kind (which names the limit). Use one struct per limit.
 */
void fd_pressure_capped(struct fd_pressure *p, ev_tstamp now, const char *what, unsigned open);

/* The out-of-line half of fd_pressure_ok. */
void fd_pressure_recovered(struct fd_pressure *p, ev_tstamp now);

/* A descriptor was had (or a flow admitted below the limit): ends an episode (logs how
 * many flows it refused). Cheap. */
static inline void
fd_pressure_ok(struct fd_pressure *p, ev_tstamp now)
{
	if (p->exhausted)
		fd_pressure_recovered(p, now);
}

#endif
