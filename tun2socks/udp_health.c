/* SPDX-License-Identifier: MIT */
/*
 * A small state machine (see udp_health.h) driven by association results, DNS sends,
 * received datagrams and one timer. The timer runs only while there is something to
 * check: a suspicion, a probe waiting for its reply, or the next periodic probe.
 */
#include "udp_health.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "container_of.h"
#include "log.h"


/* How often a suspicion is re-examined. */
#define SUSPECT_CHECK 0.5

struct udp_health {
	enum config_udp_mode mode;
	enum udp_health_state state;
	struct udp_health_env env;
	ev_timer timer;
	struct udp_health_stats stats;

	/* DNS through associations with nothing received since the first of them. */
	unsigned dns_unanswered;
	ev_tstamp dns_unanswered_since;
	/* Entering SUSPECT: when, and DNS over TCP's answer count then. */
	ev_tstamp suspect_since;
	uint64_t suspect_tcp_answered;

	/* The DNS server the applications used last: a probe's target. */
	struct t2s_endpoint dns_server;

	/* The probe in progress, if any. */
	struct socks5_udp *probe;
	bool probe_wants_reply; /* SILENT: the probe sent a DNS query and waits for any datagram */
	ev_tstamp probe_deadline;
	ev_tstamp next_probe;
};

const char *
udp_health_state_str(enum udp_health_state s)
{
	switch (s) {
	case UDP_HEALTH_UNKNOWN:
		return "unknown";
	case UDP_HEALTH_RELAYS:
		return "relays";
	case UDP_HEALTH_SUSPECT:
		return "suspect";
	case UDP_HEALTH_UNSUPPORTED:
		return "unsupported";
	case UDP_HEALTH_SILENT:
		return "silent";
	}
	return "?";
}

static ev_tstamp
now(const struct udp_health *h)
{
	return ev_now(h->env.loop);
}

/* An env override, or the constant when it is 0. */
static double
threshold(double override, double dflt)
{
	return override > 0 ? override : dflt;
}

static double
probe_interval(const struct udp_health *h)
{
	return threshold(h->env.probe_interval, UDP_HEALTH_PROBE_INTERVAL);
}

static double
suspect_seconds(const struct udp_health *h)
{
	return threshold(h->env.suspect_seconds, UDP_HEALTH_SUSPECT_SECONDS);
}

static double
suspect_max(const struct udp_health *h)
{
	return threshold(h->env.suspect_max, UDP_HEALTH_SUSPECT_MAX);
}

static double
probe_reply_timeout(const struct udp_health *h)
{
	return threshold(h->env.probe_reply_timeout, UDP_HEALTH_PROBE_REPLY_TIMEOUT);
}

/* Arms the one timer for the earliest thing to check, or stops it. */
static void
rearm(struct udp_health *h)
{
	ev_tstamp at = 0, t = now(h);

	ev_timer_stop(h->env.loop, &h->timer);
	if (h->state == UDP_HEALTH_SUSPECT)
		at = t + SUSPECT_CHECK;
	else if (h->probe != NULL)
		at = h->probe_deadline;
	else if (h->probe == NULL && (h->state == UDP_HEALTH_UNSUPPORTED || h->state == UDP_HEALTH_SILENT ||
				      h->state == UDP_HEALTH_UNKNOWN) && h->next_probe > 0)
		at = h->next_probe;
	if (at == 0)
		return;
	ev_timer_set(&h->timer, at > t ? at - t : 0.001, 0);
	ev_timer_start(h->env.loop, &h->timer);
}

static void
set_state(struct udp_health *h, enum udp_health_state s)
{
	enum udp_health_state old = h->state;

	if (s == old)
		return;
	h->state = s;
	h->stats.transitions++;
	h->dns_unanswered = 0;
	switch (s) {
	case UDP_HEALTH_RELAYS:
		if (old == UDP_HEALTH_UNKNOWN)
			log_info("UDP: the proxy accepts UDP ASSOCIATE; UDP and DNS are relayed through it");
		else if (old == UDP_HEALTH_SUSPECT)
			log_info("UDP: datagrams came back through the proxy; DNS goes through UDP ASSOCIATE again");
		else
			log_info("UDP: the proxy relays UDP again; UDP ASSOCIATE resumed");
		break;
	case UDP_HEALTH_SUSPECT:
		log_warn("UDP: DNS queries through the proxy's UDP relay got no answer; DNS goes over TCP "
			 "while this is checked");
		h->suspect_since = now(h);
		h->suspect_tcp_answered = h->env.dns_tcp_answered(h->env.arg);
		break;
	case UDP_HEALTH_UNSUPPORTED:
		log_warn("UDP: the proxy does not support UDP ASSOCIATE (REP 7): DNS goes over TCP through "
			 "CONNECT, other UDP is refused (ICMP port unreachable); checking again every %g s",
			 probe_interval(h));
		break;
	case UDP_HEALTH_SILENT:
		log_warn("UDP: the proxy accepts UDP ASSOCIATE but relays nothing (DNS answered over TCP, "
			 "never over UDP): DNS goes over TCP, other UDP is refused (ICMP port unreachable); "
			 "checking again every %g s",
			 probe_interval(h));
		break;
	case UDP_HEALTH_UNKNOWN:
		break;
	}
	if (s == UDP_HEALTH_UNSUPPORTED || s == UDP_HEALTH_SILENT) {
		h->next_probe = now(h) + probe_interval(h);
		h->env.drop_spares(h->env.arg);
	}
	rearm(h);
}

static void
end_probe(struct udp_health *h)
{
	socks5_udp_free(h->probe);
	h->probe = NULL;
	h->probe_wants_reply = false;
	h->next_probe = now(h) + probe_interval(h);
}

/* A root NS query: every DNS server answers it, if only with REFUSED. */
static size_t
build_probe_query(uint8_t *q)
{
	uint16_t id;

	if (getrandom(&id, sizeof(id), GRND_NONBLOCK) != sizeof(id))
		id = (uint16_t)(uintptr_t)q;
	memset(q, 0, 17);
	memcpy(q, &id, 2);
	q[2] = 0x01; /* RD */
	q[5] = 1;    /* QDCOUNT */
	/* q[12] = 0: the root name */
	q[14] = 2; /* QTYPE NS */
	q[16] = 1; /* QCLASS IN */
	return 17;
}

static void
probe_ready_cb(void *arg, const struct socks5_udp_result *res)
{
	struct udp_health *h = arg;
	struct socks5_udp *s = h->probe;
	uint8_t q[17];

	if (res->failure != SOCKS5_UDP_OK) {
		/* Free inside the callback is allowed; the module releases it on unwind. */
		end_probe(h);
		if (res->failure == SOCKS5_UDP_UNSUPPORTED) {
			set_state(h, UDP_HEALTH_UNSUPPORTED);
		} else if (h->state == UDP_HEALTH_UNKNOWN) {
			log_warn("UDP: cannot check the proxy's UDP support now (%s); checking again "
				 "when UDP is used",
				 res->err < 0 ? strerror(-res->err) : "refused");
			h->next_probe = 0; /* the next mapping's own handshake tells */
		}
		/* Fixed: UNSUPPORTED and SILENT used to get next_probe = 0 here too, but in
		 * those states no mapping opens associations, so one failed probe (a proxy
		 * restarting) stopped all checks for good. end_probe scheduled the next one. */
		rearm(h);
		return;
	}
	if (h->state != UDP_HEALTH_SILENT || h->dns_server.type == T2S_ENDPOINT_NONE) {
		/* The handshake is the whole test: REP 7 would have shown. */
		h->probe = NULL;
		h->next_probe = 0;
		/* Fixed: a start-up probe whose handshake ends only after a suspicion began
		 * says nothing about relaying, and used to clear the suspicion. */
		if (h->state != UDP_HEALTH_SUSPECT)
			set_state(h, UDP_HEALTH_RELAYS);
		h->env.adopt(h->env.arg, s);
		return;
	}
	if (socks5_udp_send(s, &h->dns_server, q, build_probe_query(q)) < 0) {
		end_probe(h);
		rearm(h);
		return;
	}
	h->probe_wants_reply = true;
	h->probe_deadline = now(h) + probe_reply_timeout(h);
	rearm(h);
}

static void
probe_datagram_cb(void *arg, const struct t2s_endpoint *src, const uint8_t *payload, size_t len)
{
	struct udp_health *h = arg;

	(void)src;
	(void)payload;
	(void)len;
	if (!h->probe_wants_reply)
		return;
	end_probe(h);
	h->next_probe = 0;
	set_state(h, UDP_HEALTH_RELAYS);
}

static void
probe_closed_cb(void *arg, int err)
{
	struct udp_health *h = arg;

	(void)err;
	end_probe(h);
	rearm(h);
}

static const struct socks5_udp_callbacks probe_callbacks = {
	.on_ready = probe_ready_cb,
	.on_datagram = probe_datagram_cb,
	.on_closed = probe_closed_cb,
};

static void
start_probe(struct udp_health *h)
{
	if (h->probe != NULL)
		return;
	h->stats.probes++;
	h->probe_wants_reply = false;
	/* Fixed: socks5_udp has no handshake timeout, and a probe that never got its
	 * reply used to block every later probe (start_probe returns while one runs). */
	h->probe_deadline = now(h) + probe_reply_timeout(h);
	h->probe = socks5_udp_new(h->env.loop, h->env.server, &h->env.udp_cfg, &probe_callbacks, h);
	if (h->probe == NULL) {
		log_debug("UDP: cannot start a probe: %s", strerror(errno));
		h->next_probe = now(h) + probe_interval(h);
	}
	rearm(h);
}

static void
udp_health_timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct udp_health *h = container_of(w, struct udp_health, timer);
	ev_tstamp t = ev_now(loop);

	(void)revents;
	if (h->state == UDP_HEALTH_SUSPECT) {
		/* A probe can still be under way (the start-up one): its deadline holds here too. */
		if (h->probe != NULL && t >= h->probe_deadline)
			end_probe(h);
		if (h->env.dns_tcp_answered(h->env.arg) > h->suspect_tcp_answered)
			set_state(h, UDP_HEALTH_SILENT);
		else if (t - h->suspect_since >= suspect_max(h))
			set_state(h, UDP_HEALTH_RELAYS);
		rearm(h);
		return;
	}
	if (h->probe != NULL) {
		if (t >= h->probe_deadline) {
			log_debug("UDP: %s", h->probe_wants_reply ? "probe query got no answer through the proxy"
								  : "probe handshake with the proxy did not finish");
			end_probe(h);
			if (h->state == UDP_HEALTH_UNKNOWN)
				h->next_probe = 0; /* as after a failed start-up probe */
		}
		rearm(h);
		return;
	}
	if (h->probe == NULL && h->next_probe > 0 && t >= h->next_probe)
		start_probe(h);
	rearm(h);
}

struct udp_health *
udp_health_new(enum config_udp_mode mode, const struct udp_health_env *env)
{
	struct udp_health *h;

	if (env == NULL || env->loop == NULL || env->server == NULL || env->dns_tcp_answered == NULL ||
	    env->adopt == NULL || env->drop_spares == NULL) {
		errno = EINVAL;
		return NULL;
	}
	h = calloc(1, sizeof(*h));
	if (h == NULL)
		return NULL;
	h->mode = mode;
	h->env = *env;
	h->state = mode == CONFIG_UDP_ASSOCIATE ? UDP_HEALTH_RELAYS : UDP_HEALTH_UNKNOWN;
	ev_timer_init(&h->timer, udp_health_timer_cb, 1, 0);
	return h;
}

void
udp_health_free(struct udp_health *h)
{
	if (h == NULL)
		return;
	ev_timer_stop(h->env.loop, &h->timer);
	socks5_udp_free(h->probe);
	free(h);
}

void
udp_health_start(struct udp_health *h)
{
	switch (h->mode) {
	case CONFIG_UDP_AUTO:
		log_info("UDP: checking whether the proxy supports UDP ASSOCIATE");
		start_probe(h);
		break;
	case CONFIG_UDP_ASSOCIATE:
		log_info("UDP: always through UDP ASSOCIATE (--udp associate)");
		break;
	case CONFIG_UDP_DNS_OVER_TCP:
		log_info("UDP: DNS over TCP through the proxy, other UDP refused (--udp dns-over-tcp)");
		break;
	case CONFIG_UDP_BLOCK:
		log_info("UDP: refused (--udp block)");
		break;
	}
}

enum udp_route
udp_health_route(const struct udp_health *h, uint16_t dport)
{
	bool dns = dport == 53;

	switch (h->mode) {
	case CONFIG_UDP_ASSOCIATE:
		return UDP_ROUTE_ASSOCIATE;
	case CONFIG_UDP_DNS_OVER_TCP:
		return dns ? UDP_ROUTE_DNS_TCP : UDP_ROUTE_REFUSE;
	case CONFIG_UDP_BLOCK:
		return UDP_ROUTE_REFUSE;
	case CONFIG_UDP_AUTO:
		break;
	}
	switch (h->state) {
	case UDP_HEALTH_UNKNOWN:
	case UDP_HEALTH_RELAYS:
		return UDP_ROUTE_ASSOCIATE;
	case UDP_HEALTH_SUSPECT:
		return dns ? UDP_ROUTE_DNS_TCP : UDP_ROUTE_ASSOCIATE;
	case UDP_HEALTH_UNSUPPORTED:
	case UDP_HEALTH_SILENT:
		break;
	}
	return dns ? UDP_ROUTE_DNS_TCP : UDP_ROUTE_REFUSE;
}

enum udp_health_state
udp_health_state(const struct udp_health *h)
{
	return h->state;
}

void
udp_health_on_result(struct udp_health *h, const struct socks5_udp_result *res)
{
	if (h->mode != CONFIG_UDP_AUTO)
		return;
	if (res->failure == SOCKS5_UDP_UNSUPPORTED)
		set_state(h, UDP_HEALTH_UNSUPPORTED);
	else if (res->failure == SOCKS5_UDP_OK && (h->state == UDP_HEALTH_UNKNOWN || h->state == UDP_HEALTH_UNSUPPORTED))
		set_state(h, UDP_HEALTH_RELAYS);
}

void
udp_health_on_dns_sent(struct udp_health *h, int family, const uint8_t *addr, uint16_t port)
{
	ev_tstamp t = now(h);

	udp_health_note_dns_server(h, family, addr, port);
	if (h->mode != CONFIG_UDP_AUTO || h->state != UDP_HEALTH_RELAYS)
		return;
	if (h->dns_unanswered++ == 0)
		h->dns_unanswered_since = t;
	if (h->dns_unanswered >= UDP_HEALTH_SUSPECT_QUERIES && t - h->dns_unanswered_since >= suspect_seconds(h))
		set_state(h, UDP_HEALTH_SUSPECT);
}

void
udp_health_on_datagram(struct udp_health *h)
{
	h->dns_unanswered = 0;
	if (h->mode == CONFIG_UDP_AUTO && h->state == UDP_HEALTH_SUSPECT)
		set_state(h, UDP_HEALTH_RELAYS);
}

void
udp_health_note_dns_server(struct udp_health *h, int family, const uint8_t *addr, uint16_t port)
{
	struct t2s_endpoint *ep = &h->dns_server;

	memset(ep, 0, sizeof(*ep));
	ep->type = family == 4 ? T2S_ENDPOINT_IPV4 : T2S_ENDPOINT_IPV6;
	memcpy(family == 4 ? ep->u.ipv4 : ep->u.ipv6, addr, family == 4 ? 4 : 16);
	ep->port = port;
}

const struct udp_health_stats *
udp_health_get_stats(const struct udp_health *h)
{
	return &h->stats;
}
