/* SPDX-License-Identifier: MIT */
/*
 * UDP through SOCKS5 UDP ASSOCIATE: one association per application source endpoint
 * (address and port), with endpoint-independent mapping ("full cone"): datagrams to
 * any destination go through it, and a reply from any remote address reaches the
 * application, with that remote address as its source. Mappings expire after
 * --udp-timeout of silence; at the cap the least recently active one is evicted.
 * When no association can be had, the application gets ICMP port unreachable at once.
 * Where a datagram goes (a mapping, DNS over TCP, a local answer, a refusal) is decided
 * before, by udp_route.c: this module only maps.
 */
#ifndef T2S_TUN2SOCKS_UDP_FLOW_H
#define T2S_TUN2SOCKS_UDP_FLOW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "endpoint.h"
#include "flow_env.h"
#include "flow_info.h"
#include "histogram.h"
#include "packet.h"
#include "socks5_udp.h"

struct udp_pool;
struct udp_health;

struct udp_flows_env {
	struct flow_env env;
	struct udp_pool *pool;     /* spare ready associations */
	struct udp_health *health; /* told what associations and datagrams show */
	struct socks5_udp_config udp_cfg; /* for new associations (recv_buf shared by all) */
	/* An association failed with queued datagrams: offers each one to port 53 back to
	 * the router (DNS over TCP when the proxy has no UDP); true if it took it. */
	bool (*dns_fallback)(void *arg, const uint8_t *pkt, const struct packet_info *info);
	void *arg;
};

struct udp_flows_stats {
	uint64_t opened, assoc_failed, evictions;
	uint64_t datagrams_out, datagrams_in, send_errors, reply_drops;
	struct histogram duration; /* first datagram to the mapping's end */
};

struct udp_flows;

/* The (empty) registry of mappings; env is copied. Returns NULL with errno set. */
struct udp_flows *udp_flows_new(const struct udp_flows_env *env, uint64_t seed);
void udp_flows_free(struct udp_flows *u);

/*
 * Relays one UDP datagram read from the TUN (pkt is the IP packet: unfragmented, or
 * rebuilt by ip_reass) to dst (the packet's destination, or the name a fake address
 * stands for) through the mapping of its source, made if need be.
 */
void udp_flows_send(struct udp_flows *u, const uint8_t *pkt, const struct packet_info *info,
		    const struct t2s_endpoint *dst);

/* Closes every mapping and its association. */
void udp_flows_close_all(struct udp_flows *u);

unsigned udp_flows_count(const struct udp_flows *u);
/* Heap bytes held by datagrams queued while associations are set up (memory budget). */
size_t udp_flows_pending_bytes(const struct udp_flows *u);
const struct udp_flows_stats *udp_flows_get_stats(const struct udp_flows *u);
/* Calls fn for every mapping, the most recently active first; key.dst_* is the
 * destination of its last datagram. On the loop's thread; fn must not open or close
 * mappings. Returns 0, or fn's first non-zero return. */
int udp_flows_foreach(const struct udp_flows *u, flow_info_fn fn, void *arg);

#endif
