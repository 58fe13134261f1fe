/* SPDX-License-Identifier: MIT */
/* The memory budget's decisions; see mem_budget.h. */
#include "mem_budget.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const struct fd_pressure_kind memory_kind = {
	.short_of = "over the memory budget (--max-memory)",
	.recovered = "back under the memory budget (--max-memory)",
};

size_t
mem_budget_default(unsigned max_flows, uint64_t phys)
{
	uint64_t v = (uint64_t)MEM_BUDGET_BASE + (uint64_t)max_flows * MEM_BUDGET_PER_FLOW;

	if (phys > 0 && v > phys / 2)
		v = phys / 2;
	if (v < MEM_BUDGET_MIN)
		v = MEM_BUDGET_MIN;
	if (v > MEM_BUDGET_MAX)
		v = MEM_BUDGET_MAX;
	return (size_t)v;
}

int
mem_budget_parse_size(const char *s, size_t *out)
{
	unsigned long long v;
	unsigned shift = 0;
	char *end;

	if (!isdigit((unsigned char)*s))
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno != 0)
		return -ERANGE;
	switch (toupper((unsigned char)*end)) {
	case 'K':
		shift = 10;
		break;
	case 'M':
		shift = 20;
		break;
	case 'G':
		shift = 30;
		break;
	case 'T':
		shift = 40;
		break;
	}
	if (shift > 0) {
		end++;
		if (strcasecmp(end, "iB") == 0 || strcasecmp(end, "B") == 0)
			end += strlen(end);
	} else if (strcasecmp(end, "B") == 0) {
		end++;
	}
	if (*end != '\0')
		return -EINVAL;
	if (v > (MEM_BUDGET_MAX >> shift))
		return -ERANGE;
	v <<= shift;
	if (v < MEM_BUDGET_MIN)
		return -ERANGE;
	*out = (size_t)v;
	return 0;
}

void
mem_budget_init(struct mem_budget *b, size_t limit)
{
	*b = (struct mem_budget){
		.limit = limit,
		.hard = limit - limit / MEM_BUDGET_RESERVE,
		.episode = {.kind = &memory_kind},
	};
}

uint32_t
mem_budget_scale(const struct mem_budget *b, size_t used, uint32_t full)
{
	size_t soft = b->hard / 2;

	if (used <= soft)
		return full;
	if (used >= b->hard)
		return 0;
	return (uint32_t)((uint64_t)full * (b->hard - used) / (b->hard - soft));
}

bool
mem_budget_admit(struct mem_budget *b, size_t used, ev_tstamp now, const char *what)
{
	size_t bar = b->hard;

	if (b->episode.exhausted)
		bar -= b->hard / MEM_BUDGET_HYSTERESIS;
	if (used >= bar) {
		fd_pressure_refused(&b->episode, now, what, -ENOBUFS);
		return false;
	}
	fd_pressure_ok(&b->episode, now);
	return true;
}
