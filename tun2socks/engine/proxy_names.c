/* SPDX-License-Identifier: MIT */
/* Lookups of the proxies' names, one per name, again on TTL and on failure (proxy_names.h). */
#include "proxy_names.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "container_of.h"
#include "endpoint.h"

struct slot {
	struct proxy_names *owner;
	unsigned idx;
	bool used;
	char name[T2S_ENDPOINT_DOMAIN_MAX + 1];
	uint16_t port;
	struct proxy_lookup *lookup; /* under way, else NULL */
	double started;              /* when the last lookup started */
	ev_timer timer;              /* the next lookup */
};

struct proxy_names {
	struct proxy_names_env env;
	struct slot slots[PROXY_NAMES_SLOTS];
};

static void start(struct slot *s);

static void
again_in(struct slot *s, double after)
{
	struct ev_loop *loop = s->owner->env.loop;

	ev_timer_stop(loop, &s->timer);
	ev_timer_set(&s->timer, after, 0);
	ev_timer_start(loop, &s->timer);
}

static void
proxy_names_lookup_done_cb(void *arg, const struct proxy_lookup_result *res)
{
	struct slot *s = arg;
	struct proxy_names *pn = s->owner;
	struct sockaddr_storage addr;
	double ttl;

	proxy_lookup_free(s->lookup);
	s->lookup = NULL;
	if (res->err < 0) {
		again_in(s, PROXY_NAMES_RETRY);
		if (pn->env.failed != NULL)
			pn->env.failed(pn->env.arg, s->idx, res->err, res->why);
		return;
	}
	ttl = res->ttl < PROXY_NAMES_MIN_TTL ? PROXY_NAMES_MIN_TTL
	      : res->ttl > PROXY_NAMES_MAX_TTL ? PROXY_NAMES_MAX_TTL
					       : (double)res->ttl;
	again_in(s, ttl);
	addr = res->addr;
	if (addr.ss_family == AF_INET)
		((struct sockaddr_in *)&addr)->sin_port = htons(s->port);
	else
		((struct sockaddr_in6 *)&addr)->sin6_port = htons(s->port);
	if (pn->env.resolved != NULL)
		pn->env.resolved(pn->env.arg, s->idx, &addr, res->addrlen, res->ttl);
}

static void
start(struct slot *s)
{
	struct proxy_names *pn = s->owner;
	struct proxy_lookup_params p = {
		.name = s->name,
		.servers = pn->env.servers,
		.n_servers = pn->env.n_servers,
		.timeout = pn->env.timeout,
		.fwmark = pn->env.fwmark,
		.hook = &pn->env.hook,
	};
	int err;

	s->started = ev_now(pn->env.loop);
	err = proxy_lookup_start(pn->env.loop, &p, proxy_names_lookup_done_cb, s, &s->lookup);
	if (err < 0) {
		s->lookup = NULL;
		again_in(s, PROXY_NAMES_RETRY);
		if (pn->env.failed != NULL)
			pn->env.failed(pn->env.arg, s->idx, err,
				       pn->env.n_servers == 0 ? "no nameserver to ask" : strerror(-err));
	}
}

static void
proxy_names_timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct slot *s = container_of(w, struct slot, timer);

	(void)loop;
	(void)revents;
	if (s->lookup == NULL)
		start(s);
}

struct proxy_names *
proxy_names_new(const struct proxy_names_env *env)
{
	struct proxy_names *pn = calloc(1, sizeof(*pn));

	if (pn == NULL)
		return NULL;
	pn->env = *env;
	for (unsigned i = 0; i < PROXY_NAMES_SLOTS; i++) {
		pn->slots[i].owner = pn;
		pn->slots[i].idx = i;
		ev_timer_init(&pn->slots[i].timer, proxy_names_timer_cb, 0, 0);
	}
	return pn;
}

int
proxy_names_add(struct proxy_names *pn, unsigned idx, const char *name, uint16_t port, bool now)
{
	struct slot *s;

	if (idx >= PROXY_NAMES_SLOTS || strlen(name) >= sizeof(s->name))
		return -EINVAL;
	s = &pn->slots[idx];
	proxy_lookup_free(s->lookup);
	s->lookup = NULL;
	snprintf(s->name, sizeof(s->name), "%s", name);
	s->port = port;
	s->used = true;
	s->started = ev_now(pn->env.loop);
	again_in(s, now ? 0 : PROXY_NAMES_MAX_TTL);
	return 0;
}

void
proxy_names_refresh(struct proxy_names *pn, unsigned idx)
{
	struct slot *s;
	double since;

	if (pn == NULL || idx >= PROXY_NAMES_SLOTS || !pn->slots[idx].used)
		return;
	s = &pn->slots[idx];
	if (s->lookup != NULL)
		return;
	since = ev_now(pn->env.loop) - s->started;
	again_in(s, since >= PROXY_NAMES_REFRESH_MIN ? 0 : PROXY_NAMES_REFRESH_MIN - since);
}

void
proxy_names_free(struct proxy_names *pn)
{
	if (pn == NULL)
		return;
	for (unsigned i = 0; i < PROXY_NAMES_SLOTS; i++) {
		ev_timer_stop(pn->env.loop, &pn->slots[i].timer);
		proxy_lookup_free(pn->slots[i].lookup);
	}
	free(pn);
}
