/* SPDX-License-Identifier: MIT */
/*
 * A fixed-bucket histogram of seconds (Prometheus' model: cumulative buckets with
 * upper bounds, a count and a sum), observed once per event that ends (a CONNECT, a
 * flow, a DNS answer), never per packet. A value type, embedded in a module's stats.
 */
#ifndef T2S_TUN2SOCKS_HISTOGRAM_H
#define T2S_TUN2SOCKS_HISTOGRAM_H

#include <stddef.h>
#include <stdint.h>

#define HISTOGRAM_MAX_BOUNDS 16 /* the most bounds a histogram has */

/* Bounds for latencies (SOCKS connect, DNS answers): 100 us .. 10 s. */
#define HISTOGRAM_LATENCY_N 16
extern const double histogram_latency[HISTOGRAM_LATENCY_N];
/* Bounds for lifetimes (flows): 10 ms .. 2 h. */
#define HISTOGRAM_DURATION_N 13
extern const double histogram_duration[HISTOGRAM_DURATION_N];

struct histogram {
	const double *bounds; /* n ascending upper bounds; a last, implicit one is +Inf */
	unsigned n;
	uint64_t counts[HISTOGRAM_MAX_BOUNDS + 1]; /* per bucket, not cumulative */
	uint64_t count;
	double sum;
};

static inline void
histogram_init(struct histogram *h, const double *bounds, unsigned n)
{
	*h = (struct histogram){.bounds = bounds, .n = n};
}

static inline void
histogram_observe(struct histogram *h, double v)
{
	unsigned i = 0;

	if (v < 0)
		v = 0;
	while (i < h->n && v > h->bounds[i])
		i++;
	h->counts[i]++;
	h->count++;
	h->sum += v;
}

#endif
