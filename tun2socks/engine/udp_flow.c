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
#include "flow_table.h"
#include "list.h"
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

struct udp_flows {
	struct flow_env env;
	struct udp_pool *pool;
	struct udp_health *health;
	struct socks5_udp_config udp_cfg;
	bool (*dns_fallback)(void *arg, const uint8_t *pkt, const struct packet_info *info);
	void *arg;
	struct flow_table table;
	struct list_node lru; /* every mapping, the most recently active first */
	unsigned count;
	size_t pending_bytes; /* heap held by queued datagrams of every mapping */
	struct udp_flows_stats stats;
};

struct udp_flow {
	struct udp_flows *set;
	struct flow_table_node node;
	struct list_node lru; /* in set->lru */
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
	/* Accounting (udp_flows_foreach): payload bytes and datagrams each way, and the
	 * destination the application sent to last (its fake-IP name, if any). */
	uint64_t bytes_out, bytes_in, packets_out, packets_in;
	uint8_t last_dst[16];
	uint16_t last_dport;
	const struct fake_dst *last_fake;
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
	for (unsigned i = 0; i < FAKE_DSTS; i++) {
		if (f->fake_dsts[i].port == dst->port && strcmp(f->fake_dsts[i].name, dst->u.domain.name) == 0) {
			f->last_fake = &f->fake_dsts[i];
			return;
		}
	}
	e = &f->fake_dsts[f->fake_next++ % FAKE_DSTS];
	f->last_fake = e;
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
touch(struct udp_flow *f)
{
	struct udp_flows *u = f->set;

	f->last_active = ev_now(u->env.loop);
	if (u->lru.next != &f->lru) {
		list_remove(&f->lru);
		list_push_front(&u->lru, &f->lru);
	}
}

static void
pending_free(struct udp_flow *f, struct pending_dgram *d)
{
	size_t size = malloc_usable_size(d);

	f->pending_count--;
	f->pending_bytes -= size;
	f->set->pending_bytes -= size;
	free(d);
}

static void
answer_unreachable(struct udp_flows *u, const uint8_t *pkt, size_t len)
{
	(void)tun_out_unreachable(&u->env.tun, pkt, len, NULL, PACKET_UNREACH_PORT);
}

/*
 * Frees the mapping; with refuse, queued datagrams are answered with ICMP; with
 * recycle, a live association goes to the pool of spares instead of being closed.
 */
static void
flow_release(struct udp_flow *f, bool refuse, bool recycle)
{
	struct udp_flows *u = f->set;
	struct pending_dgram *d, *next;
	struct t2s_endpoint src;

	flow_table_remove(&u->table, &f->node);
	list_remove(&f->lru);
	u->count--;
	histogram_observe(&u->stats.duration, ev_now(u->env.loop) - f->created);
	ev_timer_stop(u->env.loop, &f->timer);
	if (recycle && f->ready) {
		source_endpoint(f, &src);
		udp_pool_give(u->pool, f->assoc, &src);
	} else
		socks5_udp_free(f->assoc);
	free(f->fake_dsts);
	for (d = f->pending_head; d != NULL; d = next) {
		next = d->next;
		if (refuse)
			answer_unreachable(u, d->pkt, d->pkt_len);
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
		f->set->stats.send_errors++;
		log_debug("udp %llu: send failed: %s", (unsigned long long)f->id, strerror(-err));
		return;
	}
	f->set->stats.datagrams_out++;
	f->packets_out++;
	f->bytes_out += len;
	if (dst->port == 53)
		udp_health_on_dns_sent(f->set->health);
}

/* The association failed: the router may take queued DNS queries (over TCP when the
 * proxy has no UDP) instead of their failing. */
static void
reroute_dns(struct udp_flow *f)
{
	struct pending_dgram **pp = &f->pending_head, *d;
	struct packet_info info;

	while ((d = *pp) != NULL) {
		if (d->dst.port == 53 && packet_parse(d->pkt, d->pkt_len, &info) == 0 &&
		    f->set->dns_fallback(f->set->arg, d->pkt, &info)) {
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
	struct udp_flows *u = f->set;
	struct pending_dgram *d, *next;
	char name[INET6_ADDRSTRLEN + 8];

	udp_health_on_result(u->health, res);
	if (res->failure != SOCKS5_UDP_OK) {
		if (res->failure == SOCKS5_UDP_UNSUPPORTED || res->failure == SOCKS5_UDP_CLOSED_ON_ASSOCIATE) {
			if (udp_health_route(u->health, 53) != UDP_ROUTE_DNS_TCP &&
			    flow_env_rate_ok(&u->env, T2S_RATE_UDP_UNSUPPORTED, 30.0))
				log_warn("udp %s: %s", flow_name(f, name, sizeof(name)),
					 res->failure == SOCKS5_UDP_UNSUPPORTED
						 ? "the proxy does not support UDP ASSOCIATE (REP 7)"
						 : "the proxy closed the connection on UDP ASSOCIATE");
		} else if (fd_pressure_is_exhaustion(res->err)) {
			fd_pressure_refused(u->env.fd_pressure, ev_now(u->env.loop), "UDP", res->err);
		} else if (flow_env_rate_ok(&u->env, T2S_RATE_UDP_ASSOC, 5.0)) {
			log_warn("udp %s: no UDP association: %s (%s)", flow_name(f, name, sizeof(name)),
				 res->failure == SOCKS5_UDP_REJECTED ? "refused by the proxy" : "proxy failed",
				 res->err < 0 ? strerror(-res->err) : "no reason given");
		}
		u->stats.assoc_failed++;
		reroute_dns(f);
		flow_free(f, true);
		return;
	}
	f->ready = true;
	fd_pressure_ok(u->env.fd_pressure, ev_now(u->env.loop));
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
	struct udp_flows *u = f->set;
	int family = f->node.key.family, err;
	const uint8_t *src_addr;

	udp_health_on_datagram(u->health); /* the proxy relays, whatever becomes of it */
	src_addr = fake_source(f, src);
	if (src_addr == NULL) {
		if ((family == 4 && src->type != T2S_ENDPOINT_IPV4) || (family == 6 && src->type != T2S_ENDPOINT_IPV6)) {
			/* A reply the application could not tell apart (other family or a name). */
			u->stats.reply_drops++;
			return;
		}
		src_addr = family == 4 ? src->u.ipv4 : src->u.ipv6;
	}
	/* Larger than the MTU: sent as fragments, which the application's kernel reassembles. */
	err = tun_out_send_udp(&u->env.tun, family, src_addr, src->port, f->node.key.app_addr, f->node.key.app_port,
			       payload, len);
	if (err < 0) {
		u->stats.reply_drops++;
		return;
	}
	u->stats.datagrams_in++;
	f->packets_in++;
	f->bytes_in += len;
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
	struct udp_flows *u = f->set;
	ev_tstamp left = f->last_active + u->env.cfg->udp_timeout - ev_now(loop);
	ev_tstamp setup_left = f->created + u->env.cfg->connect_timeout - ev_now(loop);
	char name[INET6_ADDRSTRLEN + 8];

	(void)revents;
	if (!f->ready && setup_left <= 0) {
		/* Its datagrams waited long enough: refused (ICMP), like a TCP connection the
		 * proxy did not answer. */
		u->stats.assoc_failed++;
		if (flow_env_rate_ok(&u->env, T2S_RATE_UDP_ASSOC, 5.0))
			log_warn("udp %s: no UDP association within %.0f s (--connect-timeout)",
				 flow_name(f, name, sizeof(name)), u->env.cfg->connect_timeout);
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
flow_new(struct udp_flows *u, const struct flow_key *key)
{
	struct t2s_endpoint src;
	struct udp_flow *f;
	struct list_node *oldest = list_last(&u->lru);

	if (u->count >= u->env.cfg->max_flows && oldest != NULL) {
		u->stats.evictions++;
		flow_free(list_entry(oldest, struct udp_flow, lru), false); /* the least recently active */
	}
	f = calloc(1, sizeof(*f));
	if (f == NULL)
		return NULL;
	f->set = u;
	f->id = ++*u->env.next_flow_id;
	f->node.key = *key;
	source_endpoint(f, &src);
	f->assoc = udp_pool_take(u->pool, &src, &assoc_callbacks, f);
	if (f->assoc != NULL) {
		f->ready = true;
	} else {
		f->assoc = socks5_udp_new(u->env.loop, u->env.proxy, &u->udp_cfg, &assoc_callbacks, f);
		if (f->assoc == NULL) {
			if (fd_pressure_is_exhaustion(-errno))
				fd_pressure_refused(u->env.fd_pressure, ev_now(u->env.loop), "UDP", -errno);
			free(f);
			return NULL;
		}
	}
	(void)flow_table_insert(&u->table, &f->node);
	list_push_front(&u->lru, &f->lru);
	u->count++;
	u->stats.opened++;
	f->last_active = f->created = ev_now(u->env.loop);
	ev_timer_init(&f->timer, udp_flow_timer_cb,
		      !f->ready && u->env.cfg->connect_timeout < u->env.cfg->udp_timeout ? u->env.cfg->connect_timeout
											 : u->env.cfg->udp_timeout,
		      0);
	ev_timer_start(u->env.loop, &f->timer);
	return f;
}

void
udp_flows_send(struct udp_flows *u, const uint8_t *pkt, const struct packet_info *info,
	       const struct t2s_endpoint *dst)
{
	const uint8_t *payload = pkt + info->l4_off + 8;
	struct flow_key key;
	struct flow_table_node *node;
	struct udp_flow *f;
	struct pending_dgram *d;
	static const uint8_t zero[16];

	flow_key_make(&key, info->family, PACKET_PROTO_UDP, info->src, info->sport, zero, 0);
	node = flow_table_lookup(&u->table, &key);
	f = node != NULL ? container_of(node, struct udp_flow, node) : NULL;
	if (f == NULL) {
		if (!mem_budget_admit(u->env.mem, flow_env_mem_used(&u->env), ev_now(u->env.loop), "UDP")) {
			answer_unreachable(u, pkt, info->ip_len);
			return;
		}
		f = flow_new(u, &key);
		if (f == NULL) {
			answer_unreachable(u, pkt, info->ip_len);
			return;
		}
	}
	touch(f);
	memcpy(f->last_dst, info->dst, info->family == 4 ? 4 : 16);
	f->last_dport = info->dport;
	if (dst->type == T2S_ENDPOINT_DOMAIN)
		note_fake_dst(f, dst, info->dst);
	else
		f->last_fake = NULL;
	if (f->ready) {
		send_one(f, dst, payload, info->udp_payload_len);
		return;
	}
	if (f->pending_count >= PENDING_MAX || f->pending_bytes + sizeof(*d) + info->ip_len > PENDING_BYTES_MAX ||
	    mem_budget_over(u->env.mem, flow_env_mem_used(&u->env))) {
		u->stats.send_errors++;
		return;
	}
	d = malloc(sizeof(*d) + info->ip_len);
	if (d == NULL)
		return;
	d->next = NULL;
	d->dst = *dst;
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
	u->pending_bytes += malloc_usable_size(d);
}

void
udp_flows_close_all(struct udp_flows *u)
{
	while (!list_empty(&u->lru))
		flow_free(list_entry(list_first(&u->lru), struct udp_flow, lru), false);
}

struct udp_flows *
udp_flows_new(const struct udp_flows_env *env, uint64_t seed)
{
	struct udp_flows *u = calloc(1, sizeof(*u));

	if (u == NULL)
		return NULL;
	if (flow_table_init(&u->table, seed) < 0) {
		free(u);
		errno = ENOMEM;
		return NULL;
	}
	u->env = env->env;
	u->pool = env->pool;
	u->health = env->health;
	u->udp_cfg = env->udp_cfg;
	u->dns_fallback = env->dns_fallback;
	u->arg = env->arg;
	list_init(&u->lru);
	histogram_init(&u->stats.duration, histogram_duration, HISTOGRAM_DURATION_N);
	return u;
}

void
udp_flows_free(struct udp_flows *u)
{
	if (u == NULL)
		return;
	udp_flows_close_all(u);
	flow_table_fini(&u->table);
	free(u);
}

unsigned
udp_flows_count(const struct udp_flows *u)
{
	return u->count;
}

size_t
udp_flows_pending_bytes(const struct udp_flows *u)
{
	return u->pending_bytes;
}

const struct udp_flows_stats *
udp_flows_get_stats(const struct udp_flows *u)
{
	return &u->stats;
}

int
udp_flows_foreach(const struct udp_flows *u, flow_info_fn fn, void *arg)
{
	for (const struct list_node *n = u->lru.next; n != &u->lru; n = n->next) {
		const struct udp_flow *f = container_of(n, struct udp_flow, lru);
		struct flow_info info = {
			.id = f->id,
			.key = f->node.key,
			.state = f->ready ? "mapped" : "associating",
			.started = f->created,
			.last_active = f->last_active,
			.bytes_out = f->bytes_out,
			.bytes_in = f->bytes_in,
			.packets_out = f->packets_out,
			.packets_in = f->packets_in,
		};
		int rc;

		memcpy(info.key.dst_addr, f->last_dst, sizeof(info.key.dst_addr));
		info.key.dst_port = f->last_dport;
		if (f->last_fake != NULL)
			snprintf(info.host, sizeof(info.host), "%s", f->last_fake->name);
		rc = fn(arg, &info);
		if (rc != 0)
			return rc;
	}
	return 0;
}
