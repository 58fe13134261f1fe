/* SPDX-License-Identifier: MIT */
/* The /metrics text, from the engine's host API at each scrape (nothing is kept). */
#include "metrics.h"

#include <errno.h>
#include <stdarg.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "control.h"
#include "ctl_proto.h"
#include "histogram.h"
#include "host_api.h"
#include "metrics_server.h"
#include "tun2socks.h"

struct metrics {
	struct t2s_engine *engine;
	struct metrics_server *server;
};

static void __attribute__((format(printf, 2, 3)))
put(struct ctl_buf *b, const char *fmt, ...)
{
	char line[512];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(line)) {
		b->failed = true;
		return;
	}
	ctl_buf_put(b, line, (size_t)n);
}

static void
family(struct ctl_buf *b, const char *name, const char *type, const char *help)
{
	put(b, "# HELP tun2socks_%s %s\n# TYPE tun2socks_%s %s\n", name, help, name, type);
}

static void
counter_cb(void *arg, const char *name, uint64_t value, bool gauge, const char *help)
{
	struct ctl_buf *b = arg;
	char full[96];

	snprintf(full, sizeof(full), "%s%s", name, gauge ? "" : "_total");
	family(b, full, gauge ? "gauge" : "counter", help);
	put(b, "tun2socks_%s %" PRIu64 "\n", full, value);
}

static void
histogram_cb(void *arg, const char *name, const char *help, const struct histogram *h)
{
	struct ctl_buf *b = arg;
	uint64_t cum = 0;

	family(b, name, "histogram", help);
	for (unsigned i = 0; i < h->n; i++) {
		cum += h->counts[i];
		put(b, "tun2socks_%s_bucket{le=\"%g\"} %" PRIu64 "\n", name, h->bounds[i], cum);
	}
	cum += h->counts[h->n];
	put(b, "tun2socks_%s_bucket{le=\"+Inf\"} %" PRIu64 "\n", name, cum);
	put(b, "tun2socks_%s_sum %.9g\n", name, h->sum);
	put(b, "tun2socks_%s_count %" PRIu64 "\n", name, h->count);
}

/* Flows by protocol and state, counted from the live table at each scrape. */
#define STATES 8
struct by_state {
	char proto[STATES][4];
	char state[STATES][24];
	uint64_t n[STATES];
	unsigned used;
	uint64_t bytes_out[2], bytes_in[2]; /* of live flows: tcp, udp */
};

static int
state_cb(void *arg, const struct t2s_flow_info *f)
{
	struct by_state *s = arg;
	const char *proto = f->proto == 6 ? "tcp" : "udp";
	unsigned i;

	for (i = 0; i < s->used; i++)
		if (strcmp(s->proto[i], proto) == 0 && strcmp(s->state[i], f->state) == 0)
			break;
	if (i == s->used) {
		if (s->used == STATES)
			return 0;
		snprintf(s->proto[i], sizeof(s->proto[i]), "%s", proto);
		snprintf(s->state[i], sizeof(s->state[i]), "%s", f->state);
		s->used++;
	}
	s->n[i]++;
	return 0;
}

static void
metrics_render(void *arg, struct ctl_buf *b)
{
	struct metrics *m = arg;
	struct t2s_engine_status st;
	struct by_state s = {0};
	uint64_t rss, fds;

	if (t2s_engine_status(m->engine, &st) < 0) {
		b->failed = true;
		return;
	}
	family(b, "info", "gauge", "The running tun2socks (always 1)");
	put(b, "tun2socks_info{version=\"%s\",tun=\"%s\",udp_mode=\"%s\",dns_mode=\"%s\"} 1\n", t2s_version(), st.tun,
	    st.udp_mode, st.dns_mode);
	family(b, "uptime_seconds", "gauge", "Seconds since the data path started");
	put(b, "tun2socks_uptime_seconds %.3f\n", st.uptime);
	(void)t2s_engine_counters(m->engine, counter_cb, b);
	(void)t2s_engine_flows(m->engine, state_cb, &s);
	family(b, "flows", "gauge", "Live flows by protocol and state");
	for (unsigned i = 0; i < s.used; i++)
		put(b, "tun2socks_flows{proto=\"%s\",state=\"%s\"} %" PRIu64 "\n", s.proto[i], s.state[i], s.n[i]);
	control_process_usage(&rss, &fds);
	family(b, "process_resident_memory_bytes", "gauge", "Resident memory of the process");
	put(b, "tun2socks_process_resident_memory_bytes %" PRIu64 "\n", rss);
	family(b, "process_open_fds", "gauge", "Open file descriptors of the process");
	put(b, "tun2socks_process_open_fds %" PRIu64 "\n", fds);
	(void)t2s_engine_histograms(m->engine, histogram_cb, b);
}

int
metrics_start(struct ev_loop *loop, struct t2s_engine *engine, const struct sockaddr_storage *addr,
	      struct metrics **out)
{
	struct metrics *m = calloc(1, sizeof(*m));
	int err;

	*out = NULL;
	if (m == NULL)
		return -ENOMEM;
	m->engine = engine;
	err = metrics_server_new(loop, addr, metrics_render, m, &m->server);
	if (err < 0) {
		free(m);
		return err;
	}
	*out = m;
	return 0;
}

void
metrics_stop(struct metrics *m)
{
	if (m == NULL)
		return;
	metrics_server_free(m->server);
	free(m);
}
