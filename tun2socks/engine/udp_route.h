/* SPDX-License-Identifier: MIT */
/*
 * Where each UDP datagram from the TUN goes, decided in this one place before any
 * mapping is made: dropped (port 0, stopping), answered here (fake-ip, the command's
 * nameserver, REFUSED for a captured nameserver the proxy cannot reach), sent over TCP
 * (DNS when --dns tcp or when the proxy relays no UDP; to --dns-server for a captured
 * nameserver the proxy cannot reach: dns_local.h),
 * refused (ICMP port unreachable: the proxy relays no UDP, or a fake address without a
 * name) or handed to udp_flow.c with its SOCKS5 target. The decision itself is pure
 * (udp_route_decide); udp_route_datagram carries it out and owns the counters of it.
 */
#ifndef T2S_TUN2SOCKS_UDP_ROUTE_H
#define T2S_TUN2SOCKS_UDP_ROUTE_H

#include <stdbool.h>
#include <stdint.h>

#include "config.h"
#include "dns_local.h"
#include "flow_env.h"
#include "histogram.h"
#include "packet.h"
#include "udp_health.h"

struct dns_tcp;
struct udp_flows;

enum udp_route_action {
	UDP_ROUTE_IGNORE,        /* port 0, or the engine is stopping */
	UDP_ROUTE_FAKE_ANSWER,   /* offer it to fake-ip first; decide again if it passes */
	UDP_ROUTE_STUB_REFUSAL,  /* the command's nameserver: REFUSED */
	UDP_ROUTE_OVER_TCP,      /* DNS over TCP through CONNECT */
	UDP_ROUTE_UNREACHABLE,   /* ICMP port unreachable: the proxy relays no UDP */
	UDP_ROUTE_MAPPING,       /* through the mapping of its source (udp_flow.c) */
	UDP_ROUTE_DNS_REDIRECT,  /* DNS to a server the proxy cannot reach: over TCP to --dns-server */
	UDP_ROUTE_DNS_REFUSAL,   /* ... and no --dns-server: REFUSED (dns_local.h) */
};

/* What the decision depends on, all known before anything is sent. */
struct udp_route_facts {
	uint16_t dport;
	bool stopping;
	bool to_stub;            /* the destination is the command's nameserver (dns_stub_owns) */
	enum config_dns_mode dns_mode;
	enum udp_route health;   /* udp_health_route for dport */
	bool fake_passed;        /* fake-ip was offered the datagram and did not take it */
	enum dns_local_action dns_local; /* dns_local_decide for the destination */
};

/* Pure: the action for a datagram. */
enum udp_route_action udp_route_decide(const struct udp_route_facts *f);

struct udp_route_stats {
	uint64_t ignored;          /* UDP_ROUTE_IGNORE */
	uint64_t refused;          /* UDP_ROUTE_UNREACHABLE */
	uint64_t fake_answers;     /* answered from the fake-IP pool */
	uint64_t fake_unmapped;    /* to a fake address whose name is gone: ICMP */
	uint64_t stub_refused;     /* the command's nameserver answered REFUSED */
	uint64_t local_redirected; /* DNS to an excluded/link-local server sent to --dns-server */
	uint64_t local_refused;    /* ... answered REFUSED */
	struct histogram fake_answer_time; /* the query's read to its answer written */
};

struct udp_router {
	struct flow_env env;
	struct udp_health *health;
	struct dns_tcp *dns_tcp;
	struct udp_flows *flows;
	bool stub_warned; /* the one "set --dns-server" line was logged */
	bool local_warned; /* the one line about REFUSED queries to excluded servers was logged */
	struct udp_route_stats stats;
};

/* Sets r up (a value embedded by t2s.c); what the pointers point to must outlive r. */
void udp_route_init(struct udp_router *r, const struct flow_env *env, struct udp_health *health,
		    struct dns_tcp *dns_tcp, struct udp_flows *flows);

/* Routes one datagram from the TUN (unfragmented, or rebuilt by ip_reass). */
void udp_route_datagram(struct udp_router *r, const uint8_t *pkt, const struct packet_info *info);

/* The hook udp_flow.c calls when an association failed with DNS queries queued
 * (udp_flows_env.dns_fallback): over TCP if the proxy is now known to relay no UDP. */
bool udp_route_dns_fallback(void *arg, const uint8_t *pkt, const struct packet_info *info);

#endif
