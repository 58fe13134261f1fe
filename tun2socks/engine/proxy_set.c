/* SPDX-License-Identifier: MIT */
/* The proxies' health state machine and the choice of a proxy for new flows (proxy_set.h). */
#include "proxy_set.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

struct entry {
	bool up;
	unsigned fails, oks; /* consecutive outcomes of each kind */
	struct proxy_set_stats stats;
};

struct proxy_set {
	struct proxy_set_params p;
	unsigned active;
	unsigned rr;         /* round-robin: where the next pick starts */
	struct entry e[PROXY_SET_MAX];
};

static bool
params_ok(const struct proxy_set_params *p)
{
	return p->n >= 1 && p->n <= PROXY_SET_MAX && p->fall >= 1 && p->fall <= PROXY_SET_MAX_FALL_RISE &&
	       p->rise >= 1 && p->rise <= PROXY_SET_MAX_FALL_RISE && p->policy <= PROXY_SET_ROUND_ROBIN;
}

struct proxy_set *
proxy_set_new(const struct proxy_set_params *p, double now)
{
	struct proxy_set *s;

	if (!params_ok(p)) {
		errno = EINVAL;
		return NULL;
	}
	s = calloc(1, sizeof(*s));
	if (s == NULL)
		return NULL;
	s->p = *p;
	(void)proxy_set_reset(s, p->n, now);
	return s;
}

void
proxy_set_free(struct proxy_set *s)
{
	free(s);
}

int
proxy_set_reset(struct proxy_set *s, unsigned n, double now)
{
	if (n < 1 || n > PROXY_SET_MAX)
		return -EINVAL;
	s->p.n = n;
	for (unsigned i = 0; i < PROXY_SET_MAX; i++) {
		s->e[i].up = true;
		s->e[i].fails = s->e[i].oks = 0;
		s->e[i].stats.since = now;
	}
	s->active = 0;
	s->rr = 0;
	return 0;
}

unsigned
proxy_set_count(const struct proxy_set *s)
{
	return s->p.n;
}

unsigned
proxy_set_active(const struct proxy_set *s)
{
	return s->active;
}

bool
proxy_set_up(const struct proxy_set *s, unsigned idx)
{
	return idx < s->p.n && s->e[idx].up;
}

const struct proxy_set_stats *
proxy_set_stats(const struct proxy_set *s, unsigned idx)
{
	return &s->e[idx < PROXY_SET_MAX ? idx : 0].stats;
}

/* The first up proxy at or after start in list order (wrapping), or -1. */
static int
first_up_from(const struct proxy_set *s, unsigned start)
{
	for (unsigned k = 0; k < s->p.n; k++) {
		unsigned i = (start + k) % s->p.n;

		if (s->e[i].up)
			return (int)i;
	}
	return -1;
}

/* Which proxy is active after a change of state, per the policy. */
static unsigned
choose_active(const struct proxy_set *s)
{
	int i;

	if (s->p.policy == PROXY_SET_FAILOVER) {
		if (s->e[s->active].up)
			return s->active;
		i = first_up_from(s, s->active + 1);
	} else {
		i = first_up_from(s, 0);
	}
	return i < 0 ? s->active : (unsigned)i;
}

unsigned
proxy_set_pick(struct proxy_set *s)
{
	unsigned idx = s->active;

	if (s->p.policy == PROXY_SET_ROUND_ROBIN && s->p.n > 1) {
		int i = first_up_from(s, s->rr);

		if (i >= 0) {
			idx = (unsigned)i;
			s->rr = (idx + 1) % s->p.n;
		}
	}
	s->e[idx].stats.picked++;
	return idx;
}

int
proxy_set_next(struct proxy_set *s, unsigned idx, uint32_t tried)
{
	for (unsigned k = 1; k < s->p.n; k++) {
		unsigned i = (idx + k) % s->p.n;

		if (s->e[i].up && !(tried & (1u << i))) {
			s->e[idx].stats.retried++;
			return (int)i;
		}
	}
	return -1;
}

void
proxy_set_report(struct proxy_set *s, unsigned idx, bool ok, bool check, double now)
{
	struct entry *e;
	unsigned old = s->active, now_active;
	bool changed = false;

	if (idx >= s->p.n)
		return;
	e = &s->e[idx];
	if (check) {
		if (ok)
			e->stats.checks_ok++;
		else
			e->stats.checks_failed++;
	} else if (ok) {
		e->stats.flow_ok++;
	} else {
		e->stats.flow_failed++;
	}
	if (ok) {
		e->fails = 0;
		if (!e->up && ++e->oks >= s->p.rise) {
			e->up = true;
			e->oks = 0;
			e->stats.went_up++;
			e->stats.since = now;
			changed = true;
		}
	} else {
		e->oks = 0;
		if (e->up && ++e->fails >= s->p.fall) {
			e->up = false;
			e->fails = 0;
			e->stats.went_down++;
			e->stats.since = now;
			changed = true;
		}
	}
	if (!changed)
		return;
	now_active = choose_active(s);
	s->active = now_active;
	if (s->p.changed != NULL)
		s->p.changed(s->p.arg, idx, e->up, old, now_active);
}

void
proxy_set_mark_down(struct proxy_set *s, unsigned idx, double now)
{
	if (idx >= s->p.n)
		return;
	s->e[idx].up = false;
	s->e[idx].fails = s->e[idx].oks = 0;
	s->e[idx].stats.since = now;
	s->active = choose_active(s);
}

const char *
proxy_set_policy_str(enum proxy_set_policy p)
{
	switch (p) {
	case PROXY_SET_FIRST_HEALTHY:
		return "first-healthy";
	case PROXY_SET_FAILOVER:
		return "failover";
	case PROXY_SET_ROUND_ROBIN:
		return "round-robin";
	}
	return "?";
}

int
proxy_set_policy_parse(const char *text, enum proxy_set_policy *out)
{
	static const enum proxy_set_policy all[] = {PROXY_SET_FIRST_HEALTHY, PROXY_SET_FAILOVER, PROXY_SET_ROUND_ROBIN};

	for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
		if (strcmp(text, proxy_set_policy_str(all[i])) == 0) {
			*out = all[i];
			return 0;
		}
	}
	return -EINVAL;
}
