/* SPDX-License-Identifier: MIT */
/*
 * --metrics: the engine's counters, gauges and histograms in Prometheus' text
 * exposition format (version 0.0.4), served by ctl/metrics_server.c on the loop.
 * Every name starts with tun2socks_; counters end in _total.
 */
#ifndef T2S_CLI_METRICS_H
#define T2S_CLI_METRICS_H

#include <sys/socket.h>

#include <ev.h>

struct t2s_engine;
struct metrics;

/* Returns 0 with *out set, or -errno (the address cannot be bound). */
int metrics_start(struct ev_loop *loop, struct t2s_engine *engine, const struct sockaddr_storage *addr,
		  struct metrics **out);
void metrics_stop(struct metrics *m);

#endif
