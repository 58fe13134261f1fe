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


struct udp_health {
	enum config_udp_mode mode;
	enum udp_health_state state;
	struct udp_health_env env;
	ev_timer timer;
	struct udp_health_stats stats;
	const char *unsupported_why; /* how the proxy refused UDP ASSOCIATE, for the log */

	/* Applications' DNS through associations with nothing received since the first. */
	unsigned dns_unanswered;
	ev_tstamp dns_unanswered_since;
	ev_tstamp last_check; /* when a check started by applications' traffic began */

	/* The probe in progress, if any. */
	struct socks5_udp *probe;
	bool probe_wants_reply; /* its query went out; any datagram back answers it */
	bool probe_resent;
	uint8_t probe_query[17];
	ev_tstamp probe_resend_at;
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
recheck_min(const struct udp_health *h)
{
	return threshold(h->env.recheck_min, UDP_HEALTH_RECHECK_MIN);
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
	if (h->probe != NULL)
		at = h->probe_wants_reply && !h->probe_resent ? h->probe_resend_at : h->probe_deadline;
	else if ((h->state == UDP_HEALTH_UNSUPPORTED || h->state == UDP_HEALTH_SILENT ||
		  h->state == UDP_HEALTH_UNKNOWN) && h->next_probe > 0)
		at = h->next_probe;
	if (at == 0)
		return;
	ev_timer_set(&h->timer, at > t ? at - t : 0.001, 0);
	ev_timer_start(h->env.loop, &h->timer);
}

/* One address with its port in the log ("[v6]:53"). */
#define DNS_NAME_LEN (INET6_ADDRSTRLEN + 8)

static const char *
dns_names(const struct udp_health *h, char *buf, size_t cap)
{
	size_t off = 0;

	buf[0] = '\0';
	for (unsigned i = 0; i < h->env.n_dns && off + DNS_NAME_LEN + 1 < cap; i++) {
		if (i > 0)
			buf[off++] = ' ';
		endpoint_format(&h->env.dns[i], buf + off, cap - off);
		off += strlen(buf + off);
	}
	return buf;
}

static void
set_state(struct udp_health *h, enum udp_health_state s)
{
	enum udp_health_state old = h->state;
	char names[UDP_HEALTH_MAX_DNS * (DNS_NAME_LEN + 1) + 1];

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
			log_debug("UDP: the relay check found the proxy's UDP relay working");
		else
			log_info("UDP: the proxy relays UDP again; UDP ASSOCIATE resumed");
		break;
	case UDP_HEALTH_SUSPECT:
		/* Debug only: anyone can make applications' DNS go unanswered. */
		log_debug("UDP: DNS through the proxy's UDP relay went unanswered; checking the relay with a "
			  "query to %s",
			  dns_names(h, names, sizeof(names)));
		h->last_check = now(h);
		break;
	case UDP_HEALTH_UNSUPPORTED:
		log_warn("UDP: the proxy does not support UDP ASSOCIATE (%s): DNS goes over TCP through "
			 "CONNECT, other UDP is refused (ICMP port unreachable); checking again every %g s",
			 h->unsupported_why, probe_interval(h));
		break;
	case UDP_HEALTH_SILENT:
		log_warn("UDP: the proxy accepts UDP ASSOCIATE but relays nothing (no answer from %s through "
			 "it): DNS goes over TCP, other UDP is refused (ICMP port unreachable); checking again "
			 "every %g s",
			 dns_names(h, names, sizeof(names)), probe_interval(h));
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

/* REP 7 or a close on the request: the proxy refused UDP ASSOCIATE. */
static bool
refuses_udp(const struct socks5_udp_result *res)
{
	return res->failure == SOCKS5_UDP_UNSUPPORTED || res->failure == SOCKS5_UDP_CLOSED_ON_ASSOCIATE;
}

static void
set_unsupported(struct udp_health *h, const struct socks5_udp_result *res)
{
	h->unsupported_why = res->failure == SOCKS5_UDP_UNSUPPORTED
				     ? "REP 7"
				     : "it closes the connection on the request, as ssh -D does";
	set_state(h, UDP_HEALTH_UNSUPPORTED);
}

static void
end_probe(struct udp_health *h)
{
	socks5_udp_free(h->probe);
	h->probe = NULL;
	h->probe_wants_reply = false;
	h->next_probe = now(h) + probe_interval(h);
}

/* A check that could not be made (the proxy is down, the handshake hung): it proves
 * nothing, so a suspicion ends; in UNKNOWN the next mapping's handshake tells. */
static void
probe_inconclusive(struct udp_health *h)
{
	end_probe(h);
	if (h->state == UDP_HEALTH_UNKNOWN)
		h->next_probe = 0;
	else if (h->state == UDP_HEALTH_SUSPECT)
		set_state(h, UDP_HEALTH_RELAYS);
	rearm(h);
}

/* A root NS query: every DNS server answers it, if only with REFUSED. */
static void
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
}

/* Sends the check's query to every configured server; returns how many went out. */
static unsigned
send_probe_query(struct udp_health *h)
{
	unsigned sent = 0;

	for (unsigned i = 0; i < h->env.n_dns; i++)
		if (socks5_udp_send(h->probe, &h->env.dns[i], h->probe_query, sizeof(h->probe_query)) == 0)
			sent++;
	return sent;
}

static void
probe_ready_cb(void *arg, const struct socks5_udp_result *res)
{
	struct udp_health *h = arg;
	struct socks5_udp *s = h->probe;

	if (res->failure != SOCKS5_UDP_OK) {
		if (refuses_udp(res)) {
			/* Free inside the callback is allowed; the module releases it on unwind. */
			end_probe(h);
			set_unsupported(h, res);
			rearm(h);
			return;
		}
		if (h->state == UDP_HEALTH_UNKNOWN)
			log_warn("UDP: cannot check the proxy's UDP support now (%s); checking again "
				 "when UDP is used",
				 res->err < 0 ? strerror(-res->err) : "refused");
		/* Fixed: UNSUPPORTED and SILENT used to get next_probe = 0 here too, but in
		 * those states no mapping opens associations, so one failed probe (a proxy
		 * restarting) stopped all checks for good. end_probe schedules the next one. */
		probe_inconclusive(h);
		return;
	}
	if (h->env.n_dns == 0) {
		/* No target of our own: the handshake is the whole test (REP 7 would have
		 * shown), and the association carried nothing, so it can serve a mapping. */
		h->probe = NULL;
		h->next_probe = 0;
		set_state(h, UDP_HEALTH_RELAYS);
		h->env.adopt(h->env.arg, s);
		return;
	}
	build_probe_query(h->probe_query);
	if (send_probe_query(h) == 0) {
		probe_inconclusive(h);
		return;
	}
	h->probe_wants_reply = true;
	h->probe_resent = false;
	h->probe_resend_at = now(h) + probe_reply_timeout(h) / 2;
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
	/* Closed rather than kept: the second query's answer may still be on its way. */
	end_probe(h);
	h->next_probe = 0;
	set_state(h, UDP_HEALTH_RELAYS);
}

static void
probe_closed_cb(void *arg, int err)
{
	struct udp_health *h = arg;

	(void)err;
	probe_inconclusive(h);
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
		if (h->state == UDP_HEALTH_SUSPECT)
			set_state(h, UDP_HEALTH_RELAYS);
	}
	rearm(h);
}

static void
udp_health_timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct udp_health *h = container_of(w, struct udp_health, timer);
	ev_tstamp t = ev_now(loop);

	(void)revents;
	if (h->probe != NULL) {
		if (h->probe_wants_reply && !h->probe_resent && t >= h->probe_resend_at) {
			h->probe_resent = true;
			(void)send_probe_query(h);
		}
		if (t < h->probe_deadline) {
			rearm(h);
			return;
		}
		if (!h->probe_wants_reply) {
			log_debug("UDP: probe handshake with the proxy did not finish");
			probe_inconclusive(h);
			return;
		}
		/* Our own query to our own servers, twice, and nothing came back: whatever
		 * applications send, this is the proxy's relay. */
		h->stats.unanswered++;
		end_probe(h);
		set_state(h, UDP_HEALTH_SILENT);
		rearm(h);
		return;
	}
	if (h->next_probe > 0 && t >= h->next_probe)
		start_probe(h);
	rearm(h);
}

struct udp_health *
udp_health_new(enum config_udp_mode mode, const struct udp_health_env *env)
{
	struct udp_health *h;

	if (env == NULL || env->loop == NULL || env->server == NULL || env->adopt == NULL ||
	    env->drop_spares == NULL || env->n_dns > UDP_HEALTH_MAX_DNS) {
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
		if (h->env.n_dns == 0)
			log_info("UDP: no --dns-server, so nothing to check the proxy's UDP relay with: a proxy "
				 "that accepts UDP ASSOCIATE but relays nothing would go unnoticed");
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

void
udp_health_proxy_changed(struct udp_health *h)
{
	if (h->mode != CONFIG_UDP_AUTO)
		return;
	if (h->probe != NULL)
		end_probe(h);
	set_state(h, UDP_HEALTH_UNKNOWN);
	h->next_probe = 0;
	log_info("UDP: a new proxy: checking whether it supports UDP ASSOCIATE");
	start_probe(h);
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
	case UDP_HEALTH_SUSPECT: /* only our own check decides (see the header) */
		return UDP_ROUTE_ASSOCIATE;
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
	if (res->failure == SOCKS5_UDP_CLOSED_ON_ASSOCIATE &&
	    (h->state == UDP_HEALTH_RELAYS || h->state == UDP_HEALTH_SUSPECT)) {
		/* From a proxy that did UDP, one connection ended on the request may be a
		 * restart at the wrong moment: our own handshake tells. */
		start_probe(h);
		return;
	}
	if (refuses_udp(res))
		set_unsupported(h, res);
	else if (res->failure == SOCKS5_UDP_OK && (h->state == UDP_HEALTH_UNKNOWN || h->state == UDP_HEALTH_UNSUPPORTED)) {
		set_state(h, UDP_HEALTH_RELAYS);
		/* A handshake, not yet a relay check (the start-up one failed or is still
		 * under way: start_probe does nothing then). */
		if (h->env.n_dns > 0)
			start_probe(h);
	}
}

void
udp_health_on_dns_sent(struct udp_health *h)
{
	ev_tstamp t = now(h);

	/* Without servers of our own there is nothing to check with (see the header). */
	if (h->mode != CONFIG_UDP_AUTO || h->state != UDP_HEALTH_RELAYS || h->env.n_dns == 0)
		return;
	if (h->dns_unanswered++ == 0)
		h->dns_unanswered_since = t;
	if (h->dns_unanswered < UDP_HEALTH_SUSPECT_QUERIES || t - h->dns_unanswered_since < suspect_seconds(h))
		return;
	if (h->probe != NULL || (h->last_check > 0 && t - h->last_check < recheck_min(h))) {
		h->dns_unanswered = 0;
		return;
	}
	set_state(h, UDP_HEALTH_SUSPECT);
	start_probe(h);
}

void
udp_health_on_datagram(struct udp_health *h)
{
	h->dns_unanswered = 0;
	if (h->mode != CONFIG_UDP_AUTO || h->state != UDP_HEALTH_SUSPECT)
		return;
	/* The relay relays: the check is moot. */
	end_probe(h);
	h->next_probe = 0;
	set_state(h, UDP_HEALTH_RELAYS);
}

const struct udp_health_stats *
udp_health_get_stats(const struct udp_health *h)
{
	return &h->stats;
}
