/* SPDX-License-Identifier: MIT */
/*
 * The process-wide memory budget (--max-memory): what the data path may hold in
 * buffers, counted at real allocation sizes by the caller (lwIP's heap, receive and
 * transmit pools, held UDP datagrams). Pure decisions on a value type embedded in
 * struct t2s: below half the budget flows get their full windows; from there to the
 * limit the receive window and the out-of-order queue a flow may offer shrink
 * linearly to zero; at the limit (less a reserve) new flows are refused, as an episode logged like
 * descriptor exhaustion (fd_pressure.h). Time and usage are arguments.
 */
#ifndef T2S_TUN2SOCKS_MEM_BUDGET_H
#define T2S_TUN2SOCKS_MEM_BUDGET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <ev.h>

#include "fd_pressure.h"

#define MEM_BUDGET_KIB ((size_t)1024)
#define MEM_BUDGET_MIB (1024 * MEM_BUDGET_KIB)
/* --max-memory range. Below 8 MiB the idle pools alone would fill it. */
#define MEM_BUDGET_MIN (8 * MEM_BUDGET_MIB)
#define MEM_BUDGET_MAX ((size_t)1 << 40)
/* Default: a fixed part (the idle pools, which may hold 4 MiB, and room for a few fast
 * flows) plus one initial window per flow, which is what a SYN|ACK grants before the
 * budget can act: MEM_BUDGET_BASE + --max-flows * MEM_BUDGET_PER_FLOW, at most half of
 * the machine's memory. */
#define MEM_BUDGET_BASE (32 * MEM_BUDGET_MIB)
#define MEM_BUDGET_PER_FLOW (64 * MEM_BUDGET_KIB)
/* Once refusing, new flows are admitted again only below hard - hard / 8, so that an
 * edge between two flows does not make an episode per flow. */
#define MEM_BUDGET_HYSTERESIS 8

/* What is not counted (the allocator's free space, flow bookkeeping, libev) also
 * takes memory: decisions are made against limit - limit / MEM_BUDGET_RESERVE. t31's
 * 1,000 stalled flows under a 48 MiB budget measured up to 3.0 MiB of it (6.3 %) once
 * lwIP retransmits every 200-300 ms (the pool churns more): a sixteenth was too little. */
#define MEM_BUDGET_RESERVE 12

struct mem_budget {
	size_t limit;               /* bytes (--max-memory) */
	size_t hard;                /* limit less the reserve: what the counted bytes may reach */
	struct fd_pressure episode; /* new flows refused past the limit */
	uint64_t dropped;           /* data packets dropped at the TUN past the limit */
};

/* The default budget for max_flows on a machine with phys bytes of memory (0: unknown). */
size_t mem_budget_default(unsigned max_flows, uint64_t phys);

/* "64M", "512K", "2G", "1048576" (K/M/G binary, an optional "B" or "iB"), within
 * MEM_BUDGET_MIN..MEM_BUDGET_MAX. Returns 0 or -EINVAL (-ERANGE out of range). */
int mem_budget_parse_size(const char *s, size_t *out);

void mem_budget_init(struct mem_budget *b, size_t limit);

/* At or past the hard limit: data for existing flows is dropped at the TUN, windows
 * are 0. */
static inline bool
mem_budget_over(const struct mem_budget *b, size_t used)
{
	return used >= b->hard;
}

/* What a flow may offer of full (its receive window, or its out-of-order queue) when
 * used bytes are held: full up to hard / 2, then linearly down to 0 at hard. */
uint32_t mem_budget_scale(const struct mem_budget *b, size_t used, uint32_t full);

/*
 * May a new flow (what: "TCP", "UDP", "DNS over TCP") start with used bytes held?
 * A refusal is counted and begins or continues an episode (logged once, then at most
 * every FD_PRESSURE_REMIND_INTERVAL s); an admission ends one.
 */
bool mem_budget_admit(struct mem_budget *b, size_t used, ev_tstamp now, const char *what);

#endif
