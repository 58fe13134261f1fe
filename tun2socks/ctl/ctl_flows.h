/* SPDX-License-Identifier: MIT */
/*
 * The client's side of a `flows` response, pure: records into structs, rates from two
 * snapshots, the sort orders of `tun2socks flows --sort` and `top`.
 */
#ifndef T2S_CTL_CTL_FLOWS_H
#define T2S_CTL_CTL_FLOWS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct ctl_flow {
	uint64_t id;
	char proto[4];             /* "tcp" or "udp" */
	char app[56], dst[56];     /* ADDR:PORT or [ADDR]:PORT */
	char host[256];            /* fake-IP name, or "" */
	char proxy[300];
	char state[24];
	double age, idle, connect; /* connect: -1 when not (yet) known */
	uint64_t out, in;          /* bytes app -> proxy, proxy -> app */
	double rate_out, rate_in;  /* bytes/s since the previous snapshot; -1: unknown */
	/* --programs */
	pid_t pid; /* 0: unknown */
	char comm[16];
};

enum ctl_flows_sort {
	CTL_SORT_RATE,  /* rate_in + rate_out, then bytes: the busiest first */
	CTL_SORT_BYTES, /* in + out, the most first */
	CTL_SORT_AGE,   /* the oldest first */
	CTL_SORT_ID,
	CTL_SORT_IN,
	CTL_SORT_OUT,
	CTL_SORT_DST,
	CTL_SORT_APP,
	CTL_SORT_PROTO,
	CTL_SORT_STATE,
	CTL_SORT_PROGRAM,
};

/* "rate", "bytes", "age", "id", "in", "out", "dst", "app", "proto", "state", "program";
 * -EINVAL for any other. */
int ctl_flows_sort_parse(const char *name);

/*
 * The records of one response (text after "ok\n", up to its empty line; modified in
 * place): every "type=flow" record into *out (malloc'd, *n entries; rates -1), and the
 * "type=time" uptime into *uptime. Returns 0, -EPROTO (a bad record) or -ENOMEM.
 */
int ctl_flows_parse(char *text, struct ctl_flow **out, size_t *n, double *uptime);

/* Rates of now[] from prev[] (same id; prev sorted by CTL_SORT_ID) over dt seconds; a
 * flow new since prev, over its age; with no prev at all, rates stay -1. */
void ctl_flows_rates(struct ctl_flow *now, size_t n, const struct ctl_flow *prev, size_t pn, double dt);

void ctl_flows_sort(struct ctl_flow *v, size_t n, enum ctl_flows_sort key);

#endif
