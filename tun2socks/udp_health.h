/* SPDX-License-Identifier: MIT */
/*
 * Whether the proxy relays UDP, and so what to do with a datagram (--udp auto).
 *
 * Two ways a proxy fails at UDP: it answers UDP ASSOCIATE with REP 7 "command not
 * supported" (ssh -D, microsocks), or it accepts the association and then relays
 * nothing (a firewall between proxy and targets, a broken relay port, NAT). The first
 * shows in any handshake, the start-up probe included. The second can only be seen in
 * traffic: DNS queries sent through associations with no datagram coming back from any
 * association make it a suspect; DNS then goes over TCP through the same proxy, and
 * when the same servers answer there the proxy is known not to relay. A datagram
 * arriving from any association clears the suspicion.
 *
 * While the proxy does not relay, DNS goes over TCP and other UDP is refused at once
 * (ICMP port unreachable: QUIC and others fall back to TCP without waiting), and the
 * proxy is probed every UDP_HEALTH_PROBE_INTERVAL seconds: a handshake after REP 7, a
 * DNS query through a fresh association to a server the applications used otherwise.
 * Each change of state is logged once.
 */
#ifndef T2S_TUN2SOCKS_UDP_HEALTH_H
#define T2S_TUN2SOCKS_UDP_HEALTH_H

#include <stdbool.h>
#include <stdint.h>

#include <ev.h>

#include "config.h"
#include "socks5_udp.h"

#define UDP_HEALTH_PROBE_INTERVAL 30.0
/* A suspect: this many DNS queries sent through associations over at least this many
 * seconds, and no datagram received from any association since the first of them. */
#define UDP_HEALTH_SUSPECT_QUERIES 2
#define UDP_HEALTH_SUSPECT_SECONDS 2.0
/* A suspicion that DNS over TCP neither confirms nor clears within this long is dropped
 * (the DNS servers themselves are down: not the proxy's fault). */
#define UDP_HEALTH_SUSPECT_MAX 10.0
/* Time for a probe's handshake to finish, and then for its DNS query to be answered. */
#define UDP_HEALTH_PROBE_REPLY_TIMEOUT 3.0

enum udp_health_state {
	UDP_HEALTH_UNKNOWN,     /* not yet known (start-up probe running, or proxy unreachable) */
	UDP_HEALTH_RELAYS,      /* associations work */
	UDP_HEALTH_SUSPECT,     /* DNS through associations unanswered: DNS over TCP for now */
	UDP_HEALTH_UNSUPPORTED, /* REP 7 */
	UDP_HEALTH_SILENT,      /* associations accepted, nothing relayed */
};

/* What to do with one datagram; DNS means destination port 53. */
enum udp_route {
	UDP_ROUTE_ASSOCIATE, /* through a UDP association */
	UDP_ROUTE_DNS_TCP,   /* DNS over TCP through CONNECT */
	UDP_ROUTE_REFUSE,    /* ICMP port unreachable */
};

struct udp_health_stats {
	uint64_t probes;      /* probes started (the start-up one included) */
	uint64_t transitions; /* changes of state */
};

/* Hooks into the rest of the program, so the module can be tested alone. */
struct udp_health_env {
	struct ev_loop *loop;
	const struct socks5_server *server;
	struct socks5_udp_config udp_cfg; /* for probe associations */
	/* DNS responses written so far by DNS over TCP (a counter that only grows). */
	uint64_t (*dns_tcp_answered)(void *arg);
	/* A probe association that worked; the callee owns it (e.g. keeps it as a spare). */
	void (*adopt)(void *arg, struct socks5_udp *s);
	/* The proxy stopped relaying: associations kept in reserve should be closed. */
	void (*drop_spares)(void *arg);
	void *arg;
	/* Overrides of the thresholds above, in seconds; 0 means the constant (the program
	 * leaves them all 0; tests set them short so that waiting for them stays quick). */
	double probe_interval;      /* 0: UDP_HEALTH_PROBE_INTERVAL */
	double suspect_seconds;     /* 0: UDP_HEALTH_SUSPECT_SECONDS */
	double suspect_max;         /* 0: UDP_HEALTH_SUSPECT_MAX */
	double probe_reply_timeout; /* 0: UDP_HEALTH_PROBE_REPLY_TIMEOUT */
};

struct udp_health;

/* Returns NULL with errno set. env is copied. */
struct udp_health *udp_health_new(enum config_udp_mode mode, const struct udp_health_env *env);

/* Stops timers, closes a probe in progress, frees. NULL is fine. */
void udp_health_free(struct udp_health *h);

/* Starts the start-up probe (auto mode only) and logs the mode. */
void udp_health_start(struct udp_health *h);

/* The route for a datagram to port dport, now. */
enum udp_route udp_health_route(const struct udp_health *h, uint16_t dport);

enum udp_health_state udp_health_state(const struct udp_health *h);

/* The outcome of any association's setup (mappings', spares'). */
void udp_health_on_result(struct udp_health *h, const struct socks5_udp_result *res);

/* A DNS query went out through an association to family/addr (4 or 16 bytes):port. */
void udp_health_on_dns_sent(struct udp_health *h, int family, const uint8_t *addr, uint16_t port);

/* A datagram came back through an association. */
void udp_health_on_datagram(struct udp_health *h);

/* A DNS query to family/addr:port was seen (any route): the probe's target. */
void udp_health_note_dns_server(struct udp_health *h, int family, const uint8_t *addr, uint16_t port);

const struct udp_health_stats *udp_health_get_stats(const struct udp_health *h);

const char *udp_health_state_str(enum udp_health_state s);

#endif
