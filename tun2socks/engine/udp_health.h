/* SPDX-License-Identifier: MIT */
/*
 * Whether the proxy relays UDP, and so what to do with a datagram (--udp auto).
 *
 * Two ways a proxy fails at UDP. It refuses UDP ASSOCIATE: REP 7 "command not supported"
 * (microsocks), or it completes the greeting (and authentication) and then closes or
 * resets the connection on the request (OpenSSH's ssh -D). That shows in any handshake,
 * the start-up probe included. A proxy that is down (connection refused, no greeting)
 * says nothing about UDP and changes nothing. Or it accepts the association and then
 * relays nothing (a firewall between proxy and targets, a broken relay port, NAT).
 *
 * The second is judged only by tun2socks' own check, never by whether applications'
 * destinations answer: any local user or LAN client chooses those (a blackhole, a
 * server of its own that answers TCP but not UDP), and the verdict holds for everyone.
 * The check is a root NS query through a fresh association to the DNS servers of
 * tun2socks' own configuration (env.dns: --dns-server), sent twice within
 * UDP_HEALTH_PROBE_REPLY_TIMEOUT; an answer means the relay works, none means it is
 * silent. It runs at start, every UDP_HEALTH_PROBE_INTERVAL seconds while the relay is
 * known not to work, and when applications' DNS queries through associations go
 * unanswered (the only use of their traffic: it can start a check, at most once per
 * UDP_HEALTH_RECHECK_MIN seconds, and never changes a route by itself). With no DNS
 * server configured there is no target that applications do not choose, so there is
 * no such check: a relay that accepts associations and relays nothing goes unnoticed
 * (logged at start), and UDP is judged by handshakes alone.
 *
 * While the proxy does not relay, DNS goes over TCP and other UDP is refused at once
 * (ICMP port unreachable: QUIC and others fall back to TCP without waiting), and the
 * proxy is checked again every UDP_HEALTH_PROBE_INTERVAL seconds. Each change of state
 * is logged once.
 */
#ifndef T2S_TUN2SOCKS_UDP_HEALTH_H
#define T2S_TUN2SOCKS_UDP_HEALTH_H

#include <stdbool.h>
#include <stdint.h>

#include <ev.h>

#include "config.h"
#include "socks5_udp.h"

#define UDP_HEALTH_PROBE_INTERVAL 30.0
/* A reason for a check: this many DNS queries sent through associations over at least
 * this many seconds, and no datagram received from any association since the first. */
#define UDP_HEALTH_SUSPECT_QUERIES 2
#define UDP_HEALTH_SUSPECT_SECONDS 2.0
/* Checks started by applications' traffic are at least this far apart. */
#define UDP_HEALTH_RECHECK_MIN 10.0
/* Time for a probe's handshake to finish, and then for its DNS query to be answered
 * (the query is sent again halfway, so that one lost datagram is not a verdict). */
#define UDP_HEALTH_PROBE_REPLY_TIMEOUT 3.0
/* DNS servers the check asks at once. */
#define UDP_HEALTH_MAX_DNS 4

enum udp_health_state {
	UDP_HEALTH_UNKNOWN,     /* not yet known (start-up probe running, or proxy unreachable) */
	UDP_HEALTH_RELAYS,      /* associations work */
	UDP_HEALTH_SUSPECT,     /* applications' DNS unanswered: our check runs; routes as RELAYS */
	UDP_HEALTH_UNSUPPORTED, /* REP 7, or the connection closed on UDP ASSOCIATE */
	UDP_HEALTH_SILENT,      /* associations accepted, our check's query not relayed */
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
	uint64_t unanswered;  /* checks whose DNS query got no answer through the relay */
};

/* Hooks into the rest of the program, so the module can be tested alone. */
struct udp_health_env {
	struct ev_loop *loop;
	const struct socks5_server *server;
	struct socks5_udp_config udp_cfg; /* for probe associations */
	/* The check's targets: DNS servers of tun2socks' own configuration, never ones
	 * seen in applications' traffic. n_dns 0: no relay check (see above). */
	struct t2s_endpoint dns[UDP_HEALTH_MAX_DNS];
	unsigned n_dns;
	/* A probe association that worked and carried no query (nothing can still come
	 * back on it); the callee owns it (e.g. keeps it as a spare). */
	void (*adopt)(void *arg, struct socks5_udp *s);
	/* The proxy stopped relaying: associations kept in reserve should be closed. */
	void (*drop_spares)(void *arg);
	void *arg;
	/* Overrides of the thresholds above, in seconds; 0 means the constant (the program
	 * leaves them all 0; tests set them short so that waiting for them stays quick). */
	double probe_interval;      /* 0: UDP_HEALTH_PROBE_INTERVAL */
	double suspect_seconds;     /* 0: UDP_HEALTH_SUSPECT_SECONDS */
	double recheck_min;         /* 0: UDP_HEALTH_RECHECK_MIN */
	double probe_reply_timeout; /* 0: UDP_HEALTH_PROBE_REPLY_TIMEOUT */
};

struct udp_health;

/* Returns NULL with errno set. env is copied. */
struct udp_health *udp_health_new(enum config_udp_mode mode, const struct udp_health_env *env);

/* Stops timers, closes a probe in progress, frees. NULL is fine. */
void udp_health_free(struct udp_health *h);

/* Starts the start-up probe (auto mode only) and logs the mode. */
void udp_health_start(struct udp_health *h);

/* env.server now names another proxy (a reload): what was known is about the old
 * one. In auto mode the state goes back to UNKNOWN (routes as RELAYS) and a probe of
 * the new proxy starts at once (one of the old proxy's in progress is dropped);
 * other modes are fixed and stay. */
void udp_health_proxy_changed(struct udp_health *h);

/* The route for a datagram to port dport, now. */
enum udp_route udp_health_route(const struct udp_health *h, uint16_t dport);

enum udp_health_state udp_health_state(const struct udp_health *h);

/* The outcome of any association's setup (mappings', spares'). REP 7 means UNSUPPORTED,
 * and so does a close on UDP ASSOCIATE, except from a proxy known to relay: then a probe
 * of our own decides (a restart at the wrong moment looks the same). Success leaves
 * UNKNOWN and UNSUPPORTED (never SILENT: a handshake proves nothing about relaying). */
void udp_health_on_result(struct udp_health *h, const struct socks5_udp_result *res);

/* An application's DNS query went out through an association: a reason for a check
 * (see above), nothing more. */
void udp_health_on_dns_sent(struct udp_health *h);

/* A datagram came back through an association: the relay works (a suspicion ends). */
void udp_health_on_datagram(struct udp_health *h);

const struct udp_health_stats *udp_health_get_stats(const struct udp_health *h);

const char *udp_health_state_str(enum udp_health_state s);

#endif
