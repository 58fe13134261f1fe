/* SPDX-License-Identifier: MIT */
/*
 * UDP mappings: lookup by application endpoint, a bounded queue of datagrams while the
 * association is being set up, replies written to the TUN as IP packets we build
 * ourselves (headers only; the payload is never copied; fragmented beyond the MTU), idle
 * expiry and LRU eviction.
 */
#include "udp_flow.h"

#include <arpa/inet.h>
#include <errno.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>

#include "container_of.h"
#include "dns_stub.h"
#include "dns_tcp.h"
#include "fake_dns.h"
#include "log.h"
#include "socks5_udp.h"
#include "udp_health.h"
#include "udp_pool.h"

/* Datagrams (and heap bytes) held per mapping while its association is set up, which
 * takes one round trip to the proxy, or none with a spare from the pool: a burst of
 * DNS queries, or one datagram of the largest size. */
#define PENDING_MAX 8
#define PENDING_BYTES_MAX (68 * 1024)


struct pending_dgram {
	struct pending_dgram *next;
	struct t2s_endpoint dst;
	uint16_t pkt_len, payload_off, payload_len;
	uint8_t pkt[]; /* the whole IP packet: quoted if we must answer with ICMP */
};

/* The last fake destinations a mapping sent to: replies come back from the real address
 * the proxy resolved, and must look as if they came from the fake one. */
#define FAKE_DSTS 4

struct fake_dst {
	uint16_t port;
	char name[T2S_ENDPOINT_DOMAIN_MAX + 1];
	uint8_t addr[16];
};

struct udp_flow {
	struct t2s *t2s;
	struct flow_table_node node;
	struct udp_flow *lru_prev, *lru_next; /* t2s->udp_lru_head is the most recent */
	struct socks5_udp *assoc;
	bool ready;
	ev_timer timer;
	ev_tstamp last_active, created;
	struct pending_dgram *pending_head, *pending_tail;
	unsigned pending_count;
	size_t pending_bytes;
	uint64_t id;
	struct fake_dst *fake_dsts; /* FAKE_DSTS entries, allocated on first use */
	unsigned fake_next;
};

/* Remembers that dst (a name) stands for the fake address the application used. */
static void
note_fake_dst(struct udp_flow *f, const struct t2s_endpoint *dst, const uint8_t *fake_addr)
{
	struct fake_dst *e;

	if (f->fake_dsts == NULL) {
		f->fake_dsts = calloc(FAKE_DSTS, sizeof(*f->fake_dsts));
		if (f->fake_dsts == NULL)
			return;
	}
	for (unsigned i = 0; i < FAKE_DSTS; i++)
		if (f->fake_dsts[i].port == dst->port && strcmp(f->fake_dsts[i].name, dst->u.domain.name) == 0)
			return;
	e = &f->fake_dsts[f->fake_next++ % FAKE_DSTS];
	e->port = dst->port;
	memcpy(e->name, dst->u.domain.name, (size_t)dst->u.domain.len + 1);
	memcpy(e->addr, fake_addr, f->node.key.family == 4 ? 4 : 16);
}

/*
 * The fake address a reply should appear to come from: the entry with that name (a
 * proxy that answers with the name), else the only entry with that port; NULL when
 * the reply is from a real destination or cannot be attributed.
 */
static const uint8_t *
fake_source(const struct udp_flow *f, const struct t2s_endpoint *src)
{
	const struct fake_dst *match = NULL;

	if (f->fake_dsts == NULL)
		return NULL;
	for (unsigned i = 0; i < FAKE_DSTS; i++) {
		const struct fake_dst *e = &f->fake_dsts[i];

		if (e->port != src->port || e->name[0] == '\0')
			continue;
		if (src->type == T2S_ENDPOINT_DOMAIN && strcmp(e->name, src->u.domain.name) == 0)
			return e->addr;
		if (match != NULL)
			return NULL; /* two names on this port: ambiguous */
		match = e;
	}
	return match != NULL ? match->addr : NULL;
}

static const char *
flow_name(const struct udp_flow *f, char *buf, size_t cap)
{
	char a[INET6_ADDRSTRLEN];
	int v4 = f->node.key.family == 4;

	inet_ntop(v4 ? AF_INET : AF_INET6, f->node.key.app_addr, a, sizeof(a));
	snprintf(buf, cap, v4 ? "%s:%u" : "[%s]:%u", a, f->node.key.app_port);
	return buf;
}

/* The application's address and port: what a recycled association is tied to. */
static void
source_endpoint(const struct udp_flow *f, struct t2s_endpoint *ep)
{
	int v4 = f->node.key.family == 4;

	memset(ep, 0, sizeof(*ep));
	ep->type = v4 ? T2S_ENDPOINT_IPV4 : T2S_ENDPOINT_IPV6;
	memcpy(v4 ? ep->u.ipv4 : ep->u.ipv6, f->node.key.app_addr, v4 ? 4 : 16);
	ep->port = f->node.key.app_port;
}

static void
lru_unlink(struct t2s *t, struct udp_flow *f)
{
	if (f->lru_prev != NULL)
		f->lru_prev->lru_next = f->lru_next;
	else
		t->udp_lru_head = f->lru_next;
	if (f->lru_next != NULL)
		f->lru_next->lru_prev = f->lru_prev;
	else
		t->udp_lru_tail = f->lru_prev;
	f->lru_prev = f->lru_next = NULL;
}

static void
lru_push_front(struct t2s *t, struct udp_flow *f)
{
	f->lru_next = t->udp_lru_head;
	f->lru_prev = NULL;
	if (t->udp_lru_head != NULL)
		t->udp_lru_head->lru_prev = f;
	t->udp_lru_head = f;
	if (t->udp_lru_tail == NULL)
		t->udp_lru_tail = f;
}

static void
touch(struct udp_flow *f)
{
	struct t2s *t = f->t2s;

	f->last_active = ev_now(t->loop);
	if (t->udp_lru_head != f) {
		lru_unlink(t, f);
		lru_push_front(t, f);
	}
}

static void
pending_free(struct udp_flow *f, struct pending_dgram *d)
{
	size_t size = malloc_usable_size(d);

	f->pending_count--;
	f->pending_bytes -= size;
	f->t2s->udp_pending_bytes -= size;
	free(d);
}

static void
answer_unreachable(struct t2s *t, const uint8_t *pkt, size_t len)
{
	struct packet_info info;
	uint8_t out[1400];
	int n;

	if (packet_parse(pkt, len, &info) < 0)
		return;
	n = packet_build_unreachable(pkt, &info, PACKET_UNREACH_PORT, out, sizeof(out));
	if (n > 0)
		t2s_tun_send(t, out, (size_t)n);
}

/*
 * Frees the mapping; with refuse, queued datagrams are answered with ICMP; with
 * recycle, a live association goes to the pool of spares instead of being closed.
 */
static void
flow_release(struct udp_flow *f, bool refuse, bool recycle)
{
	struct t2s *t = f->t2s;
	struct pending_dgram *d, *next;
	struct t2s_endpoint src;

	flow_table_remove(&t->udp_table, &f->node);
	lru_unlink(t, f);
	t->udp_flow_count--;
	ev_timer_stop(t->loop, &f->timer);
	if (recycle && f->ready) {
		source_endpoint(f, &src);
		udp_pool_give(t->udp_pool, f->assoc, &src);
	} else
		socks5_udp_free(f->assoc);
	free(f->fake_dsts);
	for (d = f->pending_head; d != NULL; d = next) {
		next = d->next;
		if (refuse)
			answer_unreachable(t, d->pkt, d->pkt_len);
		pending_free(f, d);
	}
	free(f);
}

static void
flow_free(struct udp_flow *f, bool refuse)
{
	flow_release(f, refuse, false);
}

static void
send_one(struct udp_flow *f, const struct t2s_endpoint *dst, const uint8_t *payload, size_t len)
{
	int err = socks5_udp_send(f->assoc, dst, payload, len);

	if (err < 0) {
		f->t2s->stats.udp_send_errors++;
		log_debug("udp %llu: send failed: %s", (unsigned long long)f->id, strerror(-err));
		return;
	}
	f->t2s->stats.udp_datagrams_out++;
	if (dst->port == 53)
		udp_health_on_dns_sent(f->t2s->udp_health);
}

/* The proxy has no UDP: queued DNS queries go over TCP instead of failing. */
static void
reroute_dns(struct udp_flow *f)
{
	struct pending_dgram **pp = &f->pending_head, *d;
	struct packet_info info;

	while ((d = *pp) != NULL) {
		if (d->dst.port == 53 && packet_parse(d->pkt, d->pkt_len, &info) == 0) {
			dns_tcp_query(f->t2s->dns_tcp, d->pkt, &info);
			*pp = d->next;
			pending_free(f, d);
			continue;
		}
		pp = &d->next;
	}
}

static void
udp_flow_assoc_ready_cb(void *arg, const struct socks5_udp_result *res)
{
	struct udp_flow *f = arg;
	struct t2s *t = f->t2s;
	struct pending_dgram *d, *next;
	char name[INET6_ADDRSTRLEN + 8];

	udp_health_on_result(t->udp_health, res);
	if (res->failure != SOCKS5_UDP_OK) {
		if (res->failure == SOCKS5_UDP_UNSUPPORTED || res->failure == SOCKS5_UDP_CLOSED_ON_ASSOCIATE) {
			if (udp_health_route(t->udp_health, 53) != UDP_ROUTE_DNS_TCP &&
			    t2s_rate_ok(t, T2S_RATE_UDP_UNSUPPORTED, 30.0))
				log_warn("udp %s: %s", flow_name(f, name, sizeof(name)),
					 res->failure == SOCKS5_UDP_UNSUPPORTED
						 ? "the proxy does not support UDP ASSOCIATE (REP 7)"
						 : "the proxy closed the connection on UDP ASSOCIATE");
		} else if (fd_pressure_is_exhaustion(res->err)) {
			fd_pressure_refused(&t->fd_pressure, ev_now(t->loop), "UDP", res->err);
		} else if (t2s_rate_ok(t, T2S_RATE_UDP_ASSOC, 5.0)) {
			log_warn("udp %s: no UDP association: %s (%s)", flow_name(f, name, sizeof(name)),
				 res->failure == SOCKS5_UDP_REJECTED ? "refused by the proxy" : "proxy failed",
				 res->err < 0 ? strerror(-res->err) : "no reason given");
		}
		t->stats.udp_assoc_failed++;
		if (udp_health_route(t->udp_health, 53) == UDP_ROUTE_DNS_TCP)
			reroute_dns(f);
		flow_free(f, true);
		return;
	}
	f->ready = true;
	fd_pressure_ok(&t->fd_pressure, ev_now(t->loop));
	log_debug("udp %llu %s: association ready", (unsigned long long)f->id, flow_name(f, name, sizeof(name)));
	for (d = f->pending_head; d != NULL; d = next) {
		next = d->next;
		send_one(f, &d->dst, d->pkt + d->payload_off, d->payload_len);
		pending_free(f, d);
	}
	f->pending_head = f->pending_tail = NULL;
}

static void
udp_flow_assoc_datagram_cb(void *arg, const struct t2s_endpoint *src, const uint8_t *payload, size_t len)
{
	struct udp_flow *f = arg;
	struct t2s *t = f->t2s;
	int family = f->node.key.family, err;
	const uint8_t *src_addr;

	udp_health_on_datagram(t->udp_health); /* the proxy relays, whatever becomes of it */
	src_addr = fake_source(f, src);
	if (src_addr == NULL) {
		if ((family == 4 && src->type != T2S_ENDPOINT_IPV4) || (family == 6 && src->type != T2S_ENDPOINT_IPV6)) {
			/* A reply the application could not tell apart (other family or a name). */
			t->stats.udp_reply_drops++;
			return;
		}
		src_addr = family == 4 ? src->u.ipv4 : src->u.ipv6;
	}
	/* Larger than the MTU: sent as fragments, which the application's kernel reassembles. */
	err = t2s_tun_send_udp(t, family, src_addr, src->port, f->node.key.app_addr, f->node.key.app_port, payload,
			       len);
	if (err < 0) {
		t->stats.udp_reply_drops++;
		return;
	}
	t->stats.udp_datagrams_in++;
	touch(f);
}

static void
udp_flow_assoc_closed_cb(void *arg, int err)
{
	struct udp_flow *f = arg;

	log_debug("udp %llu: association closed by the proxy (%s)", (unsigned long long)f->id,
		  err < 0 ? strerror(-err) : "orderly");
	flow_free(f, false);
}

static void
udp_flow_timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct udp_flow *f = container_of(w, struct udp_flow, timer);
	struct t2s *t = f->t2s;
	ev_tstamp left = f->last_active + t->cfg->udp_timeout - ev_now(loop);
	ev_tstamp setup_left = f->created + t->cfg->connect_timeout - ev_now(loop);
	char name[INET6_ADDRSTRLEN + 8];

	(void)revents;
	if (!f->ready && setup_left <= 0) {
		/* Its datagrams waited long enough: refused (ICMP), like a TCP connection the
		 * proxy did not answer. */
		t->stats.udp_assoc_failed++;
		if (t2s_rate_ok(t, T2S_RATE_UDP_ASSOC, 5.0))
			log_warn("udp %s: no UDP association within %.0f s (--connect-timeout)",
				 flow_name(f, name, sizeof(name)), t->cfg->connect_timeout);
		flow_free(f, true);
		return;
	}
	if (!f->ready && setup_left < left)
		left = setup_left;
	if (left <= 0) {
		/* Idle this long, replies to it are no longer in flight: its association can
		 * serve the next new mapping without a handshake. */
		log_debug("udp %llu: idle, closing", (unsigned long long)f->id);
		flow_release(f, false, true);
		return;
	}
	ev_timer_set(w, left, 0);
	ev_timer_start(loop, w);
}

static const struct socks5_udp_callbacks assoc_callbacks = {
	.on_ready = udp_flow_assoc_ready_cb,
	.on_datagram = udp_flow_assoc_datagram_cb,
	.on_closed = udp_flow_assoc_closed_cb,
};

static struct udp_flow *
flow_new(struct t2s *t, const struct flow_key *key)
{
	struct socks5_udp_config cfg;
	struct t2s_endpoint src;
	struct udp_flow *f;

	if (t->udp_flow_count >= t->cfg->max_flows && t->udp_lru_tail != NULL) {
		t->stats.udp_evictions++;
		flow_free(t->udp_lru_tail, false); /* the least recently active mapping */
	}
	f = calloc(1, sizeof(*f));
	if (f == NULL)
		return NULL;
	f->t2s = t;
	f->id = ++t->next_flow_id;
	f->node.key = *key;
	t2s_udp_config(t, &cfg);
	source_endpoint(f, &src);
	f->assoc = udp_pool_take(t->udp_pool, &src, &assoc_callbacks, f);
	if (f->assoc != NULL) {
		f->ready = true;
	} else {
		f->assoc = socks5_udp_new(t->loop, &t->proxy, &cfg, &assoc_callbacks, f);
		if (f->assoc == NULL) {
			if (fd_pressure_is_exhaustion(-errno))
				fd_pressure_refused(&t->fd_pressure, ev_now(t->loop), "UDP", -errno);
			free(f);
			return NULL;
		}
	}
	(void)flow_table_insert(&t->udp_table, &f->node);
	lru_push_front(t, f);
	t->udp_flow_count++;
	t->stats.udp_flows_opened++;
	f->last_active = f->created = ev_now(t->loop);
	ev_timer_init(&f->timer, udp_flow_timer_cb,
		      !f->ready && t->cfg->connect_timeout < t->cfg->udp_timeout ? t->cfg->connect_timeout
										 : t->cfg->udp_timeout,
		      0);
	ev_timer_start(t->loop, &f->timer);
	return f;
}

void
udp_flow_handle(struct t2s *t, const uint8_t *pkt, const struct packet_info *info)
{
	const uint8_t *payload = pkt + info->l4_off + 8;
	struct t2s_endpoint dst;
	struct flow_key key;
	struct flow_table_node *node;
	struct udp_flow *f;
	struct pending_dgram *d;
	enum udp_route route;
	static const uint8_t zero[16];

	if (info->dport == 0 || t->stopping) {
		t->stats.ignored++;
		return;
	}
	route = udp_health_route(t->udp_health, info->dport);
	if (info->dport == 53) {
		if (dns_stub_answer(t, pkt, info))
			return;
		if (t->cfg->dns_mode == CONFIG_DNS_FAKE_IP && fake_dns_answer(t, pkt, info))
			return;
		/* DNS over TCP when asked for, or when the proxy cannot relay UDP: any
		 * SOCKS5 server can CONNECT, so names still resolve through the proxy. */
		if (t->cfg->dns_mode == CONFIG_DNS_TCP || route == UDP_ROUTE_DNS_TCP) {
			dns_tcp_query(t->dns_tcp, pkt, info);
			return;
		}
	}
	if (route == UDP_ROUTE_REFUSE) {
		t->stats.udp_refused++;
		answer_unreachable(t, pkt, info->ip_len);
		return;
	}
	memset(&dst, 0, sizeof(dst));
	dst.type = info->family == 4 ? T2S_ENDPOINT_IPV4 : T2S_ENDPOINT_IPV6;
	dst.port = info->dport;
	memcpy(info->family == 4 ? dst.u.ipv4 : dst.u.ipv6, info->dst, info->family == 4 ? 4 : 16);
	if (fake_dns_target(t, info->family, info->dst, info->dport, &dst) < 0) {
		t->stats.fake_ip_unmapped++;
		answer_unreachable(t, pkt, info->ip_len);
		return;
	}

	flow_key_make(&key, info->family, PACKET_PROTO_UDP, info->src, info->sport, zero, 0);
	node = flow_table_lookup(&t->udp_table, &key);
	f = node != NULL ? container_of(node, struct udp_flow, node) : NULL;
	if (f == NULL) {
		if (!mem_budget_admit(&t->mem, t2s_mem_used(t), ev_now(t->loop), "UDP")) {
			answer_unreachable(t, pkt, info->ip_len);
			return;
		}
		f = flow_new(t, &key);
		if (f == NULL) {
			answer_unreachable(t, pkt, info->ip_len);
			return;
		}
	}
	touch(f);
	if (dst.type == T2S_ENDPOINT_DOMAIN)
		note_fake_dst(f, &dst, info->dst);
	if (f->ready) {
		send_one(f, &dst, payload, info->udp_payload_len);
		return;
	}
	if (f->pending_count >= PENDING_MAX || f->pending_bytes + sizeof(*d) + info->ip_len > PENDING_BYTES_MAX ||
	    mem_budget_over(&t->mem, t2s_mem_used(t))) {
		t->stats.udp_send_errors++;
		return;
	}
	d = malloc(sizeof(*d) + info->ip_len);
	if (d == NULL)
		return;
	d->next = NULL;
	d->dst = dst;
	d->pkt_len = info->ip_len;
	d->payload_off = (uint16_t)(info->l4_off + 8);
	d->payload_len = info->udp_payload_len;
	memcpy(d->pkt, pkt, info->ip_len);
	if (f->pending_tail != NULL)
		f->pending_tail->next = d;
	else
		f->pending_head = d;
	f->pending_tail = d;
	f->pending_count++;
	f->pending_bytes += malloc_usable_size(d);
	t->udp_pending_bytes += malloc_usable_size(d);
}

void
udp_flow_close_all(struct t2s *t)
{
	while (t->udp_lru_head != NULL)
		flow_free(t->udp_lru_head, false);
}
