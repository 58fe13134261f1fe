/* SPDX-License-Identifier: MIT */
/* Parsing, rates and sorting of flow records; see ctl_flows.h. */
#include "ctl_flows.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl_proto.h"

static const char *const sort_names[] = {
	[CTL_SORT_RATE] = "rate", [CTL_SORT_BYTES] = "bytes", [CTL_SORT_AGE] = "age",
	[CTL_SORT_ID] = "id",     [CTL_SORT_IN] = "in",       [CTL_SORT_OUT] = "out",
	[CTL_SORT_DST] = "dst",   [CTL_SORT_APP] = "app",     [CTL_SORT_PROTO] = "proto",
	[CTL_SORT_STATE] = "state", [CTL_SORT_PROGRAM] = "program",
};

int
ctl_flows_sort_parse(const char *name)
{
	for (size_t i = 0; i < sizeof(sort_names) / sizeof(sort_names[0]); i++)
		if (strcmp(name, sort_names[i]) == 0)
			return (int)i;
	return -EINVAL;
}

static int
num_u64(const char *s, uint64_t *v)
{
	char *end;

	if (s == NULL || *s < '0' || *s > '9')
		return -EPROTO;
	*v = strtoull(s, &end, 10);
	return *end == '\0' ? 0 : -EPROTO;
}

static int
num_f(const char *s, double *v)
{
	char *end;

	if (s == NULL || *s == '\0')
		return -EPROTO;
	*v = strtod(s, &end);
	return *end == '\0' ? 0 : -EPROTO;
}

static void
copy(char *dst, size_t cap, const char *src)
{
	snprintf(dst, cap, "%s", src != NULL ? src : "");
}

static int
parse_flow(const struct ctl_field *f, int nf, struct ctl_flow *o)
{
	const char *proto = ctl_proto_get(f, nf, "proto"), *connect = ctl_proto_get(f, nf, "connect");

	memset(o, 0, sizeof(*o));
	o->rate_out = o->rate_in = -1;
	o->connect = -1;
	if (proto == NULL || (strcmp(proto, "tcp") != 0 && strcmp(proto, "udp") != 0) ||
	    ctl_proto_get(f, nf, "app") == NULL || ctl_proto_get(f, nf, "dst") == NULL)
		return -EPROTO;
	copy(o->proto, sizeof(o->proto), proto);
	copy(o->app, sizeof(o->app), ctl_proto_get(f, nf, "app"));
	copy(o->dst, sizeof(o->dst), ctl_proto_get(f, nf, "dst"));
	copy(o->host, sizeof(o->host), ctl_proto_get(f, nf, "host"));
	copy(o->proxy, sizeof(o->proxy), ctl_proto_get(f, nf, "proxy"));
	copy(o->state, sizeof(o->state), ctl_proto_get(f, nf, "state"));
	if (num_u64(ctl_proto_get(f, nf, "id"), &o->id) < 0 || num_u64(ctl_proto_get(f, nf, "out"), &o->out) < 0 ||
	    num_u64(ctl_proto_get(f, nf, "in"), &o->in) < 0 || num_f(ctl_proto_get(f, nf, "age"), &o->age) < 0 ||
	    num_f(ctl_proto_get(f, nf, "idle"), &o->idle) < 0 || (connect != NULL && num_f(connect, &o->connect) < 0))
		return -EPROTO;
	return 0;
}

int
ctl_flows_parse(char *text, struct ctl_flow **out, size_t *n, double *uptime)
{
	struct ctl_field f[CTL_PROTO_FIELDS_MAX];
	struct ctl_flow *v = NULL;
	size_t cap = 0, k = 0;
	char *line = text, *next;
	int nf, err = 0;

	*out = NULL;
	*n = 0;
	for (; line != NULL && *line != '\0' && *line != '\n'; line = next) {
		const char *type;

		next = strchr(line, '\n');
		if (next != NULL)
			*next++ = '\0';
		nf = ctl_proto_parse_record(line, f, CTL_PROTO_FIELDS_MAX);
		if (nf < 0 || (type = ctl_proto_get(f, nf, "type")) == NULL) {
			err = -EPROTO;
			break;
		}
		if (strcmp(type, "time") == 0) {
			if (num_f(ctl_proto_get(f, nf, "uptime"), uptime) < 0) {
				err = -EPROTO;
				break;
			}
			continue;
		}
		if (strcmp(type, "flow") != 0)
			continue; /* newer servers may say more */
		if (k == cap) {
			struct ctl_flow *nv;

			cap = cap > 0 ? cap * 2 : 64;
			nv = realloc(v, cap * sizeof(*v));
			if (nv == NULL) {
				err = -ENOMEM;
				break;
			}
			v = nv;
		}
		if ((err = parse_flow(f, nf, &v[k])) < 0)
			break;
		k++;
	}
	if (err < 0) {
		free(v);
		return err;
	}
	*out = v;
	*n = k;
	return 0;
}

static int
by_id(const void *a, const void *b)
{
	const struct ctl_flow *x = a, *y = b;

	return x->id < y->id ? -1 : x->id > y->id;
}

void
ctl_flows_rates(struct ctl_flow *now, size_t n, const struct ctl_flow *prev, size_t pn, double dt)
{
	for (size_t i = 0; i < n; i++) {
		struct ctl_flow key = {.id = now[i].id};
		const struct ctl_flow *p = pn > 0 ? bsearch(&key, prev, pn, sizeof(*prev), by_id) : NULL;

		if (p != NULL && dt > 0 && now[i].out >= p->out && now[i].in >= p->in) {
			now[i].rate_out = (double)(now[i].out - p->out) / dt;
			now[i].rate_in = (double)(now[i].in - p->in) / dt;
		} else if (p == NULL && pn > 0 && now[i].age > 0) {
			/* New since the previous snapshot: all its bytes are recent. */
			now[i].rate_out = (double)now[i].out / now[i].age;
			now[i].rate_in = (double)now[i].in / now[i].age;
		}
	}
}

static int
cmp3(double a, double b)
{
	return a < b ? -1 : a > b;
}

/* Descending numbers, ascending text; the id breaks ties, so the order is stable. */
static int
compare(const void *a, const void *b, void *arg)
{
	const struct ctl_flow *x = a, *y = b;
	int c = 0;

	switch (*(const enum ctl_flows_sort *)arg) {
	case CTL_SORT_RATE:
		c = cmp3(y->rate_in + y->rate_out, x->rate_in + x->rate_out);
		if (c == 0)
			c = cmp3((double)(y->in + y->out), (double)(x->in + x->out));
		break;
	case CTL_SORT_BYTES:
		c = cmp3((double)(y->in + y->out), (double)(x->in + x->out));
		break;
	case CTL_SORT_AGE:
		c = cmp3(y->age, x->age);
		break;
	case CTL_SORT_ID:
		break;
	case CTL_SORT_IN:
		c = cmp3((double)y->in, (double)x->in);
		break;
	case CTL_SORT_OUT:
		c = cmp3((double)y->out, (double)x->out);
		break;
	case CTL_SORT_DST:
		c = strcmp(x->host[0] != '\0' ? x->host : x->dst, y->host[0] != '\0' ? y->host : y->dst);
		break;
	case CTL_SORT_APP:
		c = strcmp(x->app, y->app);
		break;
	case CTL_SORT_PROTO:
		c = strcmp(x->proto, y->proto);
		break;
	case CTL_SORT_STATE:
		c = strcmp(x->state, y->state);
		break;
	case CTL_SORT_PROGRAM:
		c = strcmp(x->comm, y->comm);
		break;
	}
	return c != 0 ? c : by_id(a, b);
}

void
ctl_flows_sort(struct ctl_flow *v, size_t n, enum ctl_flows_sort key)
{
	if (n < 2) /* also v == NULL for an empty table: qsort_r's argument is nonnull */
		return;
	qsort_r(v, n, sizeof(*v), compare, &key);
}
