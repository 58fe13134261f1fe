/* SPDX-License-Identifier: MIT */
/*
 * The spares are a short list (at most 2 * CONFIG_MAX_UDP_POOL: fresh and recycled),
 * each entry the callback argument of its association while the pool holds it. Ownership moves with
 * socks5_udp_rebind: to the taker on take, to the pool on give.
 */
#include "udp_pool.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>

#include "container_of.h"
#include "list.h"
#include "log.h"


struct spare {
	struct udp_pool *pool;
	struct socks5_udp *assoc;
	struct list_node link; /* in pool->spares */
	bool ready;
	bool used;                /* recycled: only owner may take it */
	struct t2s_endpoint owner; /* the source endpoint of the mapping that gave it */
	ev_tstamp given_at;
};

struct udp_pool {
	struct ev_loop *loop;
	const struct socks5_server *server;
	struct socks5_udp_config cfg;
	unsigned size;
	double idle;
	udp_pool_result_fn on_result;
	void *arg;
	struct list_node spares; /* fresh and recycled, the newest first */
	unsigned count, ready; /* fresh spares (opening or ready), and of them ready */
	unsigned kept;         /* recycled spares */
	ev_tstamp last_take;
	ev_tstamp no_fill_until;
	ev_timer idle_timer;
	struct udp_pool_stats stats;
};

static void spare_ready_cb(void *arg, const struct socks5_udp_result *res);
static void spare_datagram_cb(void *arg, const struct t2s_endpoint *src, const uint8_t *payload, size_t len);
static void spare_closed_cb(void *arg, int err);

static const struct socks5_udp_callbacks spare_callbacks = {
	.on_ready = spare_ready_cb,
	.on_datagram = spare_datagram_cb,
	.on_closed = spare_closed_cb,
};

static void
unlink_spare(struct udp_pool *p, struct spare *sp)
{
	list_remove(&sp->link);
	if (sp->used) {
		p->kept--;
		return;
	}
	p->count--;
	if (sp->ready)
		p->ready--;
}

static void
link_spare(struct udp_pool *p, struct spare *sp)
{
	list_push_front(&p->spares, &sp->link);
	if (sp->used) {
		p->kept++;
		return;
	}
	p->count++;
	if (sp->ready)
		p->ready++;
}

/* Removes the spare and closes its association (safe from inside its callbacks). */
static void
close_spare(struct udp_pool *p, struct spare *sp)
{
	unlink_spare(p, sp);
	socks5_udp_free(sp->assoc);
	free(sp);
	p->stats.closed++;
}

static void
arm_idle_timer(struct udp_pool *p)
{
	if ((p->count == 0 && p->kept == 0) || ev_is_active(&p->idle_timer))
		return;
	ev_timer_set(&p->idle_timer, p->idle, 0);
	ev_timer_start(p->loop, &p->idle_timer);
}

static void
udp_pool_idle_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct udp_pool *p = container_of(w, struct udp_pool, idle_timer);
	ev_tstamp t = ev_now(loop), left = p->last_take + p->idle - t;
	struct list_node *n, *next;

	(void)revents;
	if (left > 0) {
		/* Recycled spares whose source did not come back in time go. */
		for (n = p->spares.next; n != &p->spares; n = next) {
			struct spare *sp = container_of(n, struct spare, link);

			next = n->next;
			if (!sp->used)
				continue;
			if (sp->given_at + p->idle <= t)
				close_spare(p, sp);
			else if (sp->given_at + p->idle - t < left)
				left = sp->given_at + p->idle - t;
		}
		ev_timer_set(w, left, 0);
		ev_timer_start(loop, w);
		return;
	}
	if (p->count + p->kept > 0)
		log_debug("udp pool: no new UDP mapping for %.0f s, closing %u spare associations", p->idle,
			  p->count + p->kept);
	udp_pool_drain(p);
}

static void
spare_ready_cb(void *arg, const struct socks5_udp_result *res)
{
	struct spare *sp = arg;
	struct udp_pool *p = sp->pool;

	if (res->failure != SOCKS5_UDP_OK) {
		p->stats.failed++;
		p->no_fill_until = ev_now(p->loop) + UDP_POOL_FILL_BACKOFF;
		close_spare(p, sp);
	} else {
		sp->ready = true;
		p->ready++;
	}
	/* Last: the callee may drain the pool, this spare included. */
	if (p->on_result != NULL)
		p->on_result(p->arg, res);
}

static void
spare_datagram_cb(void *arg, const struct t2s_endpoint *src, const uint8_t *payload, size_t len)
{
	struct spare *sp = arg;

	(void)src;
	(void)payload;
	(void)len;
	sp->pool->stats.stray_datagrams++;
}

static void
spare_closed_cb(void *arg, int err)
{
	struct spare *sp = arg;

	(void)err;
	close_spare(sp->pool, sp);
}

struct udp_pool *
udp_pool_new(struct ev_loop *loop, const struct socks5_server *server, const struct socks5_udp_config *cfg,
	     unsigned size, double idle, udp_pool_result_fn on_result, void *arg)
{
	struct udp_pool *p;

	if (idle <= 0) {
		errno = EINVAL;
		return NULL;
	}
	p = calloc(1, sizeof(*p));
	if (p == NULL)
		return NULL;
	list_init(&p->spares);
	p->loop = loop;
	p->server = server;
	if (cfg != NULL)
		p->cfg = *cfg;
	p->size = size;
	p->idle = idle;
	p->on_result = on_result;
	p->arg = arg;
	p->last_take = ev_now(loop);
	ev_timer_init(&p->idle_timer, udp_pool_idle_cb, idle, 0);
	return p;
}

void
udp_pool_drain(struct udp_pool *p)
{
	while (!list_empty(&p->spares))
		close_spare(p, list_entry(list_first(&p->spares), struct spare, link));
	ev_timer_stop(p->loop, &p->idle_timer);
}

void
udp_pool_free(struct udp_pool *p)
{
	if (p == NULL)
		return;
	udp_pool_drain(p);
	free(p);
}

void
udp_pool_fill(struct udp_pool *p)
{
	if (ev_now(p->loop) < p->no_fill_until)
		return;
	while (p->count < p->size) {
		struct spare *sp = calloc(1, sizeof(*sp));

		if (sp == NULL)
			break;
		sp->pool = p;
		sp->assoc = socks5_udp_new(p->loop, p->server, &p->cfg, &spare_callbacks, sp);
		if (sp->assoc == NULL) {
			if (errno == EMFILE || errno == ENFILE)
				log_debug("udp pool: no descriptor for a spare association");
			free(sp);
			p->stats.failed++;
			p->no_fill_until = ev_now(p->loop) + UDP_POOL_FILL_BACKOFF;
			break;
		}
		link_spare(p, sp);
		p->stats.opened++;
	}
	arm_idle_timer(p);
}

/* The spare for a new mapping of src: the one src gave back, else a fresh ready one. */
static struct spare *
find_spare(const struct udp_pool *p, const struct t2s_endpoint *src)
{
	struct spare *fresh = NULL;

	for (const struct list_node *n = p->spares.next; n != &p->spares; n = n->next) {
		struct spare *sp = container_of(n, struct spare, link);

		if (sp->used && endpoint_equal(&sp->owner, src))
			return sp;
		if (!sp->used && sp->ready && fresh == NULL)
			fresh = sp;
	}
	return fresh;
}

struct socks5_udp *
udp_pool_take(struct udp_pool *p, const struct t2s_endpoint *src, const struct socks5_udp_callbacks *cb,
	      void *arg)
{
	struct socks5_udp *s = NULL;
	struct spare *sp;

	p->last_take = ev_now(p->loop);
	sp = find_spare(p, src);
	if (sp != NULL) {
		if (sp->used)
			p->stats.reused++;
		unlink_spare(p, sp);
		s = sp->assoc;
		free(sp);
		socks5_udp_rebind(s, cb, arg);
	}
	if (s != NULL)
		p->stats.hits++;
	else
		p->stats.misses++;
	udp_pool_fill(p);
	return s;
}

void
udp_pool_give(struct udp_pool *p, struct socks5_udp *s, const struct t2s_endpoint *src)
{
	struct spare *sp;

	if ((src != NULL ? p->kept : p->count) >= p->size || !socks5_udp_is_ready(s) ||
	    (sp = calloc(1, sizeof(*sp))) == NULL) {
		socks5_udp_free(s);
		/* Counted like any other spare the pool closes ("dead, or no room"). */
		p->stats.closed++;
		return;
	}
	sp->pool = p;
	sp->assoc = s;
	sp->ready = true;
	if (src != NULL) {
		sp->used = true;
		sp->owner = *src;
		sp->given_at = ev_now(p->loop);
	}
	socks5_udp_rebind(s, &spare_callbacks, sp);
	link_spare(p, sp);
	if (src != NULL)
		p->stats.recycled++;
	arm_idle_timer(p);
}

unsigned
udp_pool_ready(const struct udp_pool *p)
{
	return p->ready;
}

const struct udp_pool_stats *
udp_pool_get_stats(const struct udp_pool *p)
{
	return &p->stats;
}
