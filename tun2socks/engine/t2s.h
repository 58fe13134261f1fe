/* SPDX-License-Identifier: MIT */
/*
 * struct t2s: the engine. It owns the TUN device, the lwIP netif, the proxy description
 * and the flow kinds (tcp_flow, udp_flow, udp_route, dns_tcp), which it gives a
 * struct flow_env (flow_env.h) and the TUN through struct tun_out: they never see
 * struct t2s, and nothing below includes this header. lib/api.c creates it (for
 * embedders and for the command alike); it installs no signal handler and stops only
 * when told.
 */
#ifndef T2S_TUN2SOCKS_T2S_H
#define T2S_TUN2SOCKS_T2S_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

#include <ev.h>

#include "config.h"
#include "fd_pressure.h"
#include "flow_env.h"
#include "mem_budget.h"
#include "packet.h"
#include "proxy_lookup.h"
#include "proxy_set.h"
#include "proxy_tcp.h"
#include "socks5_pipeline.h"
#include "socks5_tcp.h"
#include "tun.h"
#include "udp_route.h"

struct tunif;
struct pbuf;
struct rxpool;
struct fakeip;
struct dns_tcp;
struct tcp_flows;
struct udp_flows;
struct udp_pool;
struct udp_health;
struct ip_reass;
struct proxy_check;
struct proxy_names;
struct t2s_creds;

/* Packets read per TUN wakeup before other watchers get their turn. */
#define T2S_TUN_BATCH 64
/* Idle receive buffers kept for reuse (at most 2 MiB with 64 KiB buffers). */
#define T2S_RX_BUFFERS_KEPT 32

/* A flow's own bookkeeping (its struct, SOCKS session, table and libev slots) as the
 * memory budget counts it: an upper estimate, not measured per flow. */
#define T2S_FLOW_COST 1024

/* The packet path's own counters; each flow kind keeps its own (tcp_flow.h, udp_flow.h,
 * udp_route.h, dns_tcp.h), and t2s_log_stats gathers them. */
struct t2s_stats {
	uint64_t tun_packets_in, tun_bytes_in;
	uint64_t tun_packets_out, tun_bytes_out, tun_write_drops;
	uint64_t malformed, ignored; /* refused by packet_parse; not for us (ICMP, other protocols) */
	uint64_t martian_dropped, martian_answered; /* never-a-host addresses (martian.h); ICMP sent */
	uint64_t fragments_dropped;  /* fragments of anything but UDP (ip_reass counts the rest) */
	uint64_t tun_fragmented;     /* datagrams we wrote as fragments (larger than the MTU) */
	uint64_t tun_truncated; /* reads longer than the buffer (device MTU raised above --mtu) */
	uint64_t tun_gso_in, tun_gso_out; /* TCP segments larger than the MTU read / written (GSO) */
};

struct t2s {
	struct ev_loop *loop;
	const struct t2s_config *cfg;
	struct tun_device tun;
	struct tunif *tunif;
	struct socks5_server proxy;      /* a copy of the active one of servers (UDP, DNS over TCP) */
	struct socks5_server servers[PROXY_SET_MAX]; /* every proxy; TCP flows keep an index */
	struct socks5_pipeline pipelines[PROXY_SET_MAX]; /* servers[i].pipeline */
	struct proxy_set *proxies;       /* their health and the choice of one */
	struct proxy_check *check;       /* background checks, with several proxies only */
	struct t2s_creds *creds;         /* the backups' credentials, every block ever used */
	struct proxy_names *names;       /* lookups of proxies given by name (several only) */
	struct sockaddr_storage resolvers[PROXY_LOOKUP_SERVERS_MAX];
	size_t n_resolvers;
	ev_io tun_io;
	ev_prepare service_prepare; /* runs flow work that lwIP callbacks scheduled */
	struct flow_env env;      /* what the flow kinds are given (flow_env.h) */
	struct tcp_flows *tcp;
	struct udp_flows *udp;
	struct udp_router route;   /* where each UDP datagram goes */
	uint64_t next_flow_id;
	struct udp_pool *udp_pool;     /* spare ready associations */
	struct udp_health *udp_health; /* does the proxy relay UDP: where datagrams go */
	uint8_t *udp_recv_buf; /* shared by every association (SOCKS5_UDP_RECV_BUF bytes) */
	struct fakeip *fakeip; /* --dns fake-ip only */
	struct dns_tcp *dns_tcp; /* DNS over TCP: --dns tcp, or when the proxy has no UDP */
	struct ip_reass *reass; /* UDP fragments from the TUN */
	ev_timer reass_timer;   /* armed while a reassembly is in progress */
	uint32_t frag_id;       /* identification of the next datagram we fragment */
	struct rxpool *rxpool;
	unsigned rx_bufsize;  /* MTU, or 64 KiB when the TUN delivers TSO segments */
	uint8_t vnet_rx[64];  /* virtio-net header of the packet just read (only counted) */
	uint8_t vnet_tx[64];  /* header sent with our own packets: "checksum verified" */
	uint8_t vnet_csum[64]; /* header for lwIP's TCP packets: "checksum needed", GSO */
	uint8_t rx_guard[1];  /* read after the buffer: a packet reaching it did not fit */
	struct pbuf *rx_spare; /* MTU-sized buffer for the next TUN read */
	struct log_rate rate_log[T2S_RATE_SLOTS];
	struct t2s_stats stats;
	struct fd_pressure fd_pressure; /* new flows refused for want of a descriptor */
	struct mem_budget mem;          /* --max-memory */
	ev_timer mem_timer;             /* gives held-back window while some flow is owed */
	bool stopping;
};

/*
 * Builds the data path on an open TUN (tun is moved into t2s). The proxy address must
 * already be resolved. Returns NULL with errno set.
 */
struct t2s *t2s_new(struct ev_loop *loop, const struct t2s_config *cfg, const struct socks5_server *proxy,
		    struct tun_device *tun);

/*
 * A reload's new proxy (address and credentials; fwmark and hook stay): used by every
 * connection and association made from now on. Flows set up already keep theirs (a
 * handshake under way keeps the credentials it started with: they must stay valid
 * until it ends). Spare UDP associations to the old proxy are dropped, and whether
 * the proxy relays UDP is checked again (udp_health_proxy_changed).
 */
void t2s_set_proxy(struct t2s *t, const struct socks5_server *proxy);

/* The nameservers for proxies given by name (t2s_set_backups); copied, at most
 * PROXY_LOOKUP_SERVERS_MAX. */
void t2s_set_resolvers(struct t2s *t, const struct sockaddr_storage *servers, size_t n);

/*
 * The proxies after the first (--proxy given again); n may be 0. One whose addr has
 * family AF_UNSPEC is looked up by the name cfg gives it (proxy_names.h), without
 * holding anything up, and is down until then; with several proxies a first proxy
 * given by name is looked up again too (on failure, after its TTL).
 * Replaces those set before: every proxy is "up" again, the first is active, and the
 * background checks (proxy_check.h) run while there are several. user/pass are
 * copied; flows under way keep the index and the credentials they started with.
 * Returns 0 or -errno.
 */
int t2s_set_backups(struct t2s *t, const struct socks5_server *backups, unsigned n);

/* Per proxy (in list order): its state, whether it is active, its counters. */
typedef void (*t2s_proxy_fn)(void *arg, unsigned idx, bool up, bool active, const struct proxy_set_stats *st);
void t2s_proxies(const struct t2s *t, t2s_proxy_fn fn, void *arg);

/* Closes every flow (applications see RST), stops the watchers; ev_run then returns. */
void t2s_stop(struct t2s *t);

/* Frees everything; closes the TUN (a TUN we created disappears with it). */
void t2s_free(struct t2s *t);

/*
 * One packet as if read from the TUN (len bytes, no virtio-net header): counted,
 * validated, dispatched (martians, SYN gating, UDP routing, reassembly) and, if lwIP
 * should see it, copied into a pbuf for it. The TUN watcher runs the same path; the
 * input fuzzer calls this.
 */
void t2s_input(struct t2s *t, const uint8_t *pkt, size_t len);

/* Logs every counter on one line (the command does on SIGUSR1). */
void t2s_log_stats(const struct t2s *t);

/* One counter: its name (snake_case, no _total), value, whether it is a gauge (else it
 * only grows) and a one-line help text; the strings are static. */
typedef void (*t2s_counter_fn)(void *arg, const char *name, uint64_t value, bool gauge, const char *help);
/* Calls fn for every counter the stats line shows (and a few more), in a fixed order. */
void t2s_counters(const struct t2s *t, t2s_counter_fn fn, void *arg);

/* Each histogram (histogram.h) with its name (snake_case) and help text. */
struct histogram;
typedef void (*t2s_histogram_fn)(void *arg, const char *name, const char *help, const struct histogram *h);
void t2s_histograms(const struct t2s *t, t2s_histogram_fn fn, void *arg);

/* Bytes the data path holds now, at their real allocation sizes (--max-memory). */
size_t t2s_mem_used(const struct t2s *t);

#endif
