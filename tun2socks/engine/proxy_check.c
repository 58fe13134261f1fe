/* SPDX-License-Identifier: MIT */
/* Periodic CONNECT checks of each proxy, reported to proxy_set (proxy_check.h). */
#include "proxy_check.h"

#include <errno.h>
#include <stdlib.h>

#include "container_of.h"
#include "proxy_tcp.h"

struct slot {
	struct proxy_check *owner;
	unsigned idx;
	struct proxy_tcp *session; /* the check under way, else NULL */
	ev_timer timer;            /* the next check, or the running one's deadline */
};

struct proxy_check {
	struct ev_loop *loop;
	struct proxy_set *set;
	const struct socks5_server *servers;
	struct t2s_endpoint target;
	double interval, timeout;
	struct slot slots[PROXY_SET_MAX];
};

static void
finish(struct slot *s, bool ok)
{
	struct proxy_check *c = s->owner;

	proxy_tcp_free(s->session);
	s->session = NULL;
	ev_timer_stop(c->loop, &s->timer);
	ev_timer_set(&s->timer, c->interval, 0);
	ev_timer_start(c->loop, &s->timer);
	proxy_set_report(c->set, s->idx, ok, true, ev_now(c->loop));
}

static void
proxy_check_done_cb(void *arg, const struct proxy_tcp_result *res)
{
	struct slot *s = arg;

	/* The target's refusal is the proxy's answer: it works. */
	finish(s, res->failure == PROXY_TCP_OK || res->failure == PROXY_TCP_TARGET);
}

static void
proxy_check_timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct slot *s = container_of(w, struct slot, timer);
	struct proxy_check *c = s->owner;

	(void)revents;
	if (s->session != NULL) {
		finish(s, false); /* no answer within the timeout */
		return;
	}
	s->session = proxy_tcp_new(loop, &c->servers[s->idx], &c->target, proxy_check_done_cb, s);
	if (s->session == NULL) {
		/* No descriptor or memory here says nothing about the proxy: try later. */
		ev_timer_set(w, c->interval, 0);
		ev_timer_start(loop, w);
		return;
	}
	ev_timer_set(w, c->timeout, 0);
	ev_timer_start(loop, w);
}

struct proxy_check *
proxy_check_new(struct ev_loop *loop, struct proxy_set *set, const struct socks5_server *servers,
		const struct t2s_endpoint *target, double interval, double timeout)
{
	struct proxy_check *c = calloc(1, sizeof(*c));

	if (c == NULL)
		return NULL;
	c->loop = loop;
	c->set = set;
	c->servers = servers;
	c->target = *target;
	c->interval = interval;
	c->timeout = timeout;
	for (unsigned i = 0; i < proxy_set_count(set); i++) {
		struct slot *s = &c->slots[i];

		s->owner = c;
		s->idx = i;
		/* Spread over the first interval rather than all at once. */
		ev_timer_init(&s->timer, proxy_check_timer_cb, interval * i / proxy_set_count(set) + 0.01, 0);
		ev_timer_start(loop, &s->timer);
	}
	return c;
}

void
proxy_check_free(struct proxy_check *c)
{
	if (c == NULL)
		return;
	for (unsigned i = 0; i < PROXY_SET_MAX; i++) {
		if (c->slots[i].owner == NULL)
			continue;
		ev_timer_stop(c->loop, &c->slots[i].timer);
		proxy_tcp_free(c->slots[i].session);
	}
	free(c);
}
