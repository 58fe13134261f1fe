/* SPDX-License-Identifier: MIT */
/*
 * The counters of struct t2s_stats as log lines: on SIGUSR1 while running, and once at
 * exit. Tests and operators read drops (malformed packets, refusals) from them.
 */
#ifndef T2S_TUN2SOCKS_STATS_H
#define T2S_TUN2SOCKS_STATS_H

#include <ev.h>

#include "t2s.h"

/* Logs every counter of t at info level (a few lines, each "stats: ..."). */
void stats_log(const struct t2s *t);

/*
 * Starts w (caller-owned, e.g. in main) so that SIGUSR1 logs the counters of t. The
 * watcher does not keep the loop alive; stop it with stats_unwatch before freeing t.
 */
void stats_watch(struct ev_loop *loop, ev_signal *w, const struct t2s *t);
void stats_unwatch(struct ev_loop *loop, ev_signal *w);

#endif
