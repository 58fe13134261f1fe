/* SPDX-License-Identifier: MIT */
/*
 * What every flow kind (tcp_flow, udp_flow, dns_tcp, udp_route) is given by t2s.c: the
 * loop, the configuration, the proxy, the one way to the TUN and the few things they
 * share (the descriptor-exhaustion episode, the log rate limits, the flow id sequence,
 * the stopping flag). A value type: each module keeps a copy, so reaching the loop or
 * the TUN costs what it cost through struct t2s. The flow modules include this, never
 * t2s.h.
 */
#ifndef T2S_TUN2SOCKS_FLOW_ENV_H
#define T2S_TUN2SOCKS_FLOW_ENV_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include <ev.h>

#include "config.h"
#include "endpoint.h"
#include "fd_pressure.h"
#include "log.h"
#include "mem_budget.h"
#include "packet.h"
#include "proxy_set.h"
#include "proxy_tcp.h"
#include "tun_out.h"

struct fakeip;

/* One slot per kind of rate-limited log line (flow_env_rate_ok). */
enum t2s_rate_slot {
	T2S_RATE_PROXY_UNREACHABLE,
	T2S_RATE_PROXY_AUTH,
	T2S_RATE_PROXY_PROTOCOL,
	T2S_RATE_CONNECT_TIMEOUT, /* per-flow lines of tcp_flow.c */
	T2S_RATE_TARGET_FAILED,
	T2S_RATE_FAKE_UNMAPPED,
	T2S_RATE_DNS_LOCAL,       /* DNS over TCP to an excluded server, refused (dns_local.h) */
	T2S_RATE_UDP_UNSUPPORTED,
	T2S_RATE_UDP_ASSOC,
	T2S_RATE_FRAGMENT,
	T2S_RATE_TUN_READ,
	T2S_RATE_TUN_TRUNCATED,
	T2S_RATE_CONNECT_PORTS, /* proxy_hint.c: once per run */
	T2S_RATE_PROXY_TLS,
	T2S_RATE_SLOTS
};

struct flow_env {
	struct ev_loop *loop;
	const struct t2s_config *cfg;
	const struct socks5_server *proxy; /* the active proxy (UDP, DNS over TCP) */
	/* Every proxy (proxy_set_count entries; one unless --proxy was given several
	 * times): a TCP flow picks its own from proxies and keeps its index. */
	struct proxy_set *proxies;
	const struct socks5_server *servers;
	struct tun_out tun;              /* the TUN, for packets we build ourselves */
	struct fakeip *fakeip;           /* --dns fake-ip only, else NULL */
	struct fd_pressure *fd_pressure; /* new flows refused for want of a descriptor */
	struct log_rate *rate;           /* T2S_RATE_SLOTS entries */
	uint64_t *next_flow_id;          /* one id sequence for the log lines of every kind */
	const bool *stopping;            /* t2s_stop was called: no new flow */
	struct mem_budget *mem;          /* --max-memory: windows and admissions follow it */
	/* The bytes the data path holds now (t2s_mem_used), and "a TCP flow is owed window
	 * the budget held back: call tcp_flows_budget_tick until none is". */
	size_t (*mem_used)(void *ctx);
	void (*mem_owed)(void *ctx);
	void *mem_ctx;
};

static inline size_t
flow_env_mem_used(const struct flow_env *e)
{
	return e->mem_used(e->mem_ctx);
}

/* True at most once per interval seconds for the slot; *skipped as log_rate_ok. */
static inline bool
flow_env_rate_take(const struct flow_env *e, unsigned slot, double interval, unsigned *skipped)
{
	return log_rate_ok(&e->rate[slot], ev_now(e->loop), interval, skipped);
}

static inline bool
flow_env_rate_ok(const struct flow_env *e, unsigned slot, double interval)
{
	return flow_env_rate_take(e, slot, interval, NULL);
}

/* The name proxy idx was given by (--proxy), for logs. */
static inline void
flow_env_proxy_name(const struct flow_env *e, unsigned idx, char *buf, size_t len)
{
	const struct t2s_config *c = e->cfg;

	endpoint_format(idx == 0 || idx > c->n_backup ? &c->proxy.server : &c->backup[idx - 1].server, buf, len);
}

/* The destination of the packet described by info, as a SOCKS5 target. */
static inline void
flow_env_dst_endpoint(const struct packet_info *info, struct t2s_endpoint *ep)
{
	memset(ep, 0, sizeof(*ep));
	ep->type = info->family == 4 ? T2S_ENDPOINT_IPV4 : T2S_ENDPOINT_IPV6;
	ep->port = info->dport;
	memcpy(info->family == 4 ? ep->u.ipv4 : ep->u.ipv6, info->dst, info->family == 4 ? 4 : 16);
}

#endif
