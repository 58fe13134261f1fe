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

/* Per proxy, one sample of each family: rendered family by family (the exposition
 * format wants a family's samples together), so the proxies are asked once per family. */
struct proxy_family {
	struct ctl_buf *b;
	unsigned which;
};

static void
proxy_sample_cb(void *arg, const struct t2s_engine_proxy_info *p)
{
	struct proxy_family *pf = arg;
	struct ctl_buf *b = pf->b;
	char lbl[sizeof(p->url) + 48];

	char url[sizeof(p->url)];
	size_t o = 0;

	/* A label value escapes backslash, double quote and newline (exposition format). */
	for (const char *c = p->url; *c != '\0' && o + 3 < sizeof(url); c++) {
		if (*c == '\\' || *c == '"' || *c == '\n')
			url[o++] = '\\';
		url[o++] = *c == '\n' ? 'n' : *c;
	}
	url[o] = '\0';
	snprintf(lbl, sizeof(lbl), "proxy=\"%u\",url=\"%s\"", p->index, url);
	switch (pf->which) {
	case 0:
		put(b, "tun2socks_proxy_up{%s} %d\n", lbl, p->up ? 1 : 0);
		break;
	case 1:
		put(b, "tun2socks_proxy_active{%s} %d\n", lbl, p->active ? 1 : 0);
		break;
	case 2:
		put(b, "tun2socks_proxy_picked_total{%s} %" PRIu64 "\n", lbl, p->picked);
		break;
	case 3:
		put(b, "tun2socks_proxy_connects_total{%s,result=\"ok\"} %" PRIu64 "\n", lbl, p->flow_ok);
		put(b, "tun2socks_proxy_connects_total{%s,result=\"failed\"} %" PRIu64 "\n", lbl, p->flow_failed);
		break;
	case 4:
		put(b, "tun2socks_proxy_retried_total{%s} %" PRIu64 "\n", lbl, p->retried);
		break;
	case 5:
		put(b, "tun2socks_proxy_checks_total{%s,result=\"ok\"} %" PRIu64 "\n", lbl, p->checks_ok);
		put(b, "tun2socks_proxy_checks_total{%s,result=\"failed\"} %" PRIu64 "\n", lbl, p->checks_failed);
		break;
	case 6:
		put(b, "tun2socks_proxy_transitions_total{%s,to=\"down\"} %" PRIu64 "\n", lbl, p->went_down);
		put(b, "tun2socks_proxy_transitions_total{%s,to=\"up\"} %" PRIu64 "\n", lbl, p->went_up);
		break;
	}
}

static void
proxy_metrics(struct metrics *m, struct ctl_buf *b)
{
	static const struct {
		const char *name, *type, *help;
	} fam[] = {
		{"proxy_up", "gauge", "1 while the proxy is judged up (--proxy, in list order)"},
		{"proxy_active", "gauge", "1 for the proxy new flows go to"},
		{"proxy_picked_total", "counter", "New TCP connections given to the proxy"},
		{"proxy_connects_total", "counter", "CONNECTs through the proxy by outcome at the proxy"},
		{"proxy_retried_total", "counter", "Connections moved from the proxy to the next one in the SYN gate"},
		{"proxy_checks_total", "counter", "Background checks of the proxy by outcome"},
		{"proxy_transitions_total", "counter", "Changes of the proxy's state"},
	};

	for (unsigned i = 0; i < sizeof(fam) / sizeof(fam[0]); i++) {
		struct proxy_family pf = {.b = b, .which = i};

		family(b, fam[i].name, fam[i].type, fam[i].help);
		(void)t2s_engine_proxies(m->engine, proxy_sample_cb, &pf);
	}
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
	proxy_metrics(m, b);
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
