/* SPDX-License-Identifier: MIT */
/* Capture plans, their state record, and applying/undoing them; see capture.h. */
#include "capture.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cidr.h"
#include "log.h"
#include "nft_guard.h"
#include "procfs.h"

#define RECORD_MAGIC "tun2socks-capture 1"

/* ------------------------------------------------------------------ prefixes */

static void
mask_prefix(struct netlink_prefix *p)
{
	uint8_t *b = (uint8_t *)&p->addr;
	unsigned bytes = p->family == AF_INET ? 4 : 16, i;

	for (i = 0; i < bytes; i++) {
		unsigned keep = p->len > i * 8 ? p->len - i * 8 : 0;

		if (keep < 8)
			b[i] &= (uint8_t)(0xff00u >> keep);
	}
}

int
capture_prefix_parse(const char *s, struct netlink_prefix *out)
{
	struct cidr c;

	if (cidr_parse(&c, s, AF_UNSPEC) < 0)
		return -EINVAL;
	memset(out, 0, sizeof(*out));
	out->family = c.family;
	if (c.family == AF_INET)
		out->addr.v4 = c.addr.v4;
	else
		out->addr.v6 = c.addr.v6;
	out->len = c.len;
	mask_prefix(out);
	return 0;
}

void
capture_prefix_format(const struct netlink_prefix *p, char *buf, size_t len)
{
	char a[INET6_ADDRSTRLEN];

	inet_ntop(p->family, &p->addr, a, sizeof(a));
	snprintf(buf, len, "%s/%u", a, p->len);
}

static int
parse_uid(const char *s, const char **end, uint32_t *out)
{
	char *e;
	unsigned long long v;

	if (*s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &e, 10);
	if (errno != 0 || v >= 0xffffffffULL)
		return -EINVAL;
	*out = (uint32_t)v;
	*end = e;
	return 0;
}

int
capture_uid_range_parse(const char *s, struct netlink_uid_range *out)
{
	const char *end;
	struct netlink_uid_range r;

	if (parse_uid(s, &end, &r.start) < 0)
		return -EINVAL;
	r.end = r.start;
	if (*end == '-' && parse_uid(end + 1, &end, &r.end) < 0)
		return -EINVAL;
	if (*end != '\0' || r.end < r.start)
		return -EINVAL;
	*out = r;
	return 0;
}

int
capture_uid_direct(const struct capture_params *p, struct netlink_uid_range *out)
{
	struct netlink_uid_range r[CAPTURE_MAX_UID_RANGES], t;
	unsigned n = 0, i, j, k = 0;
	uint64_t next = 0;

	if (p->select == CAPTURE_SELECT_ALL || p->n_uids == 0 || p->n_uids > CAPTURE_MAX_UID_RANGES)
		return -EINVAL;
	memcpy(r, p->uids, p->n_uids * sizeof(r[0]));
	for (i = 1; i < p->n_uids; i++) /* a handful: insertion sort by start */
		for (j = i; j > 0 && r[j].start < r[j - 1].start; j--) {
			t = r[j];
			r[j] = r[j - 1];
			r[j - 1] = t;
		}
	for (i = 0; i < p->n_uids; i++) {
		if (n > 0 && (uint64_t)r[i].start <= (uint64_t)r[n - 1].end + 1) {
			if (r[i].end > r[n - 1].end)
				r[n - 1].end = r[i].end;
		} else {
			r[n++] = r[i];
		}
	}
	if (p->select == CAPTURE_SELECT_EXCLUDE_UID) {
		memcpy(out, r, n * sizeof(r[0]));
		return (int)n;
	}
	for (i = 0; i < n; i++) {
		if (r[i].start > next)
			out[k++] = (struct netlink_uid_range){(uint32_t)next, r[i].start - 1};
		next = (uint64_t)r[i].end + 1;
	}
	if (next <= 0xfffffffeULL)
		out[k++] = (struct netlink_uid_range){(uint32_t)next, 0xfffffffeu};
	return (int)k;
}

/* ------------------------------------------------------------------ plan */

static const char *const default_exclusions[] = {
	"127.0.0.0/8", "169.254.0.0/16", "224.0.0.0/4", "255.255.255.255/32", /* IPv4 */
	"::1/128",     "fe80::/10",      "ff00::/8",                          /* IPv6 */
};

static struct capture_op *
next_op(struct capture_plan *plan, enum capture_op_kind kind)
{
	struct capture_op *op;

	if (plan->n == CAPTURE_MAX_OPS)
		return NULL;
	op = &plan->op[plan->n++];
	memset(op, 0, sizeof(*op));
	op->kind = kind;
	return op;
}

static struct netlink_rule *
add_rule(struct capture_plan *plan, int family, int prio_off, enum netlink_rule_action action)
{
	struct capture_op *op = next_op(plan, CAPTURE_OP_RULE);

	if (op == NULL)
		return NULL;
	op->u.rule.family = family;
	op->u.rule.priority = (uint32_t)(CAPTURE_PRIO + prio_off);
	op->u.rule.action = action;
	if (action == NETLINK_RULE_LOOKUP)
		op->u.rule.table = CAPTURE_TABLE;
	return &op->u.rule;
}

static int
add_sysctl(struct capture_plan *plan, const char *proto, const char *dev, const char *name, const char *value,
	   bool optional)
{
	struct capture_op *op = next_op(plan, CAPTURE_OP_SYSCTL);

	if (op == NULL)
		return -E2BIG;
	snprintf(op->u.sysctl.key, sizeof(op->u.sysctl.key), "net/%s/conf/%s/%s", proto, dev, name);
	snprintf(op->u.sysctl.value, sizeof(op->u.sysctl.value), "%s", value);
	op->u.sysctl.optional = optional;
	return 0;
}

/*
 * Whether the kill switch is policy rules (prohibit at -1 and +5). With --exclude-cgroup
 * it is the guard alone (nft_guard.h, recorded, outliving us): the route is chosen at
 * connect(), before the select chain can tell an exempt cgroup's socket, so a refusing
 * rule would block the exempt cgroups too once the TUN is gone; instead their packets
 * go by the main table, where the guard refuses all that is not marked exempt.
 */
static bool
kill_switch_rules(const struct capture_params *p)
{
	return p->kill_switch && !(p->whole_host && p->select == CAPTURE_SELECT_EXCLUDE_CGROUP);
}

/*
 * DNS (UDP and TCP port 53) goes into the TUN before the exclusions are looked at, so
 * that a nameserver on an excluded LAN or a link-local address is no way around the
 * capture; our own sockets (marked: the proxy's name, the connections to it) are sent
 * to the main table first, as at +1/+2. With the kill switch, DNS that the TUN's table
 * cannot take (tun2socks is gone) is refused instead of reaching the exclusions.
 */
static int
plan_dns(const struct capture_params *p, struct capture_plan *plan, int family, const char *iif)
{
	static const uint8_t protos[] = {IPPROTO_UDP, IPPROTO_TCP};
	bool lan = p->share_from != NULL && p->share_from[0] != '\0';
	struct netlink_rule *r;
	unsigned i;

	if (p->exclude_dns)
		return 0;
	if (p->whole_host && p->fwmark != 0) {
		if ((r = add_rule(plan, family, -4, NETLINK_RULE_LOOKUP)) == NULL)
			return -E2BIG;
		r->table = NETLINK_TABLE_MAIN;
		r->fwmark = r->fwmask = p->fwmark;
		if ((r = add_rule(plan, family, -3, NETLINK_RULE_UNREACHABLE)) == NULL)
			return -E2BIG;
		r->fwmark = r->fwmask = p->fwmark;
	}
	for (i = 0; i < sizeof(protos); i++) {
		if ((r = add_rule(plan, family, -2, NETLINK_RULE_LOOKUP)) == NULL)
			return -E2BIG;
		r->ip_proto = protos[i];
		r->dport = 53;
		snprintf(r->iif, sizeof(r->iif), "%s", iif);
		if (!kill_switch_rules(p) && !lan)
			continue;
		if ((r = add_rule(plan, family, -1, NETLINK_RULE_PROHIBIT)) == NULL)
			return -E2BIG;
		r->ip_proto = protos[i];
		r->dport = 53;
		snprintf(r->iif, sizeof(r->iif), "%s", kill_switch_rules(p) ? iif : p->share_from);
	}
	return 0;
}

/*
 * The user selection, ahead of everything else: connections marked by the guard's
 * select chain (nft_guard.h) keep the path their first packet took, and the sockets of
 * the users not captured go to the main table, as excluded destinations do.
 */
static int
plan_select(const struct capture_params *p, struct capture_plan *plan, int family)
{
	struct netlink_uid_range direct[CAPTURE_MAX_UID_RANGES + 1];
	bool cgroups = p->select == CAPTURE_SELECT_CGROUP || p->select == CAPTURE_SELECT_EXCLUDE_CGROUP;
	struct netlink_rule *r;
	int n = 0, i;

	if (!p->whole_host || p->select == CAPTURE_SELECT_ALL)
		return 0;
	if (cgroups && (p->n_cgroups == 0 || p->n_cgroups > CAPTURE_MAX_CGROUPS))
		return -EINVAL;
	if (!cgroups && (n = capture_uid_direct(p, direct)) < 0)
		return n;
	if ((r = add_rule(plan, family, -7, NETLINK_RULE_LOOKUP)) == NULL)
		return -E2BIG;
	r->fwmark = r->fwmask = CAPTURE_MARK_CAPTURED;
	if (p->kill_switch) {
		if ((r = add_rule(plan, family, -6, NETLINK_RULE_PROHIBIT)) == NULL)
			return -E2BIG;
		r->fwmark = r->fwmask = CAPTURE_MARK_CAPTURED;
	}
	if ((r = add_rule(plan, family, -5, NETLINK_RULE_LOOKUP)) == NULL)
		return -E2BIG;
	r->table = NETLINK_TABLE_MAIN;
	r->fwmark = r->fwmask = CAPTURE_MARK_DIRECT;
	/* iif lo: only what this host sends has a user; a LAN's forwarded packets (routed
	 * as uid 0) stay captured by --share-from. */
	for (i = 0; i < n; i++) {
		if ((r = add_rule(plan, family, -5, NETLINK_RULE_LOOKUP)) == NULL)
			return -E2BIG;
		r->table = NETLINK_TABLE_MAIN;
		snprintf(r->iif, sizeof(r->iif), "lo");
		r->uid_set = true;
		r->uid = direct[i];
	}
	/* The cgroups' sockets are marked S by the select chain (nft_guard.h): with --cgroup
	 * what has no S goes direct (iif lo: a LAN's forwarded packets stay captured), S
	 * goes on to the DNS rules and the exclusions; with --exclude-cgroup S goes direct. */
	if (cgroups) {
		if ((r = add_rule(plan, family, -5, NETLINK_RULE_LOOKUP)) == NULL)
			return -E2BIG;
		r->table = NETLINK_TABLE_MAIN;
		r->fwmask = CAPTURE_MARK_SOCKET;
		if (p->select == CAPTURE_SELECT_CGROUP)
			snprintf(r->iif, sizeof(r->iif), "lo");
		else
			r->fwmark = CAPTURE_MARK_SOCKET;
	}
	return 0;
}

static int
plan_family(const struct capture_params *p, struct capture_plan *plan, int family)
{
	/* Without whole-host capture the rules only concern what the LAN interface forwards. */
	const char *iif = p->whole_host ? "" : p->share_from;
	bool lan = p->share_from != NULL && p->share_from[0] != '\0';
	struct netlink_route *rt;
	struct netlink_rule *r;
	struct capture_op *op;
	unsigned i;
	int err;

	op = next_op(plan, CAPTURE_OP_ROUTE);
	if (op == NULL)
		return -E2BIG;
	rt = &op->u.route;
	rt->family = family;
	rt->table = CAPTURE_TABLE;
	rt->type = NETLINK_ROUTE_UNICAST;
	rt->dst.family = family;
	snprintf(rt->oif, sizeof(rt->oif), "%s", p->tun);

	if ((err = plan_select(p, plan, family)) < 0 || (err = plan_dns(p, plan, family, iif)) < 0)
		return err;
	for (i = 0; i < sizeof(default_exclusions) / sizeof(default_exclusions[0]) + p->n_exclude; i++) {
		struct netlink_prefix x;

		if (i < sizeof(default_exclusions) / sizeof(default_exclusions[0]))
			(void)capture_prefix_parse(default_exclusions[i], &x);
		else
			x = p->exclude[i - sizeof(default_exclusions) / sizeof(default_exclusions[0])];
		if (x.family != family)
			continue;
		if ((r = add_rule(plan, family, 0, NETLINK_RULE_LOOKUP)) == NULL)
			return -E2BIG;
		r->table = NETLINK_TABLE_MAIN;
		r->to = x;
		snprintf(r->iif, sizeof(r->iif), "%s", iif);
	}
	if (p->whole_host && p->fwmark != 0) {
		if ((r = add_rule(plan, family, 1, NETLINK_RULE_LOOKUP)) == NULL)
			return -E2BIG;
		r->table = NETLINK_TABLE_MAIN;
		r->fwmark = r->fwmask = p->fwmark;
		if ((r = add_rule(plan, family, 2, NETLINK_RULE_UNREACHABLE)) == NULL)
			return -E2BIG;
		r->fwmark = r->fwmask = p->fwmark;
	}
	if (!p->whole_host) {
		if ((r = add_rule(plan, family, 3, NETLINK_RULE_LOOKUP)) == NULL)
			return -E2BIG;
		snprintf(r->iif, sizeof(r->iif), "%s", iif);
	} else {
		/* What lwIP sends the LAN's clients comes in from the TUN: it goes to them by
		 * the main table, not back into the TUN by the whole-host rule. */
		if (lan) {
			if ((r = add_rule(plan, family, 3, NETLINK_RULE_LOOKUP)) == NULL)
				return -E2BIG;
			r->table = NETLINK_TABLE_MAIN;
			snprintf(r->iif, sizeof(r->iif), "%s", p->tun);
		}
		if (add_rule(plan, family, 4, NETLINK_RULE_LOOKUP) == NULL)
			return -E2BIG;
	}
	/* Forwarded LAN traffic fails closed, kill switch or not: after a crash the host
	 * must not turn into a plain router for IFACE's clients. */
	if (kill_switch_rules(p) || lan) {
		if ((r = add_rule(plan, family, 5, NETLINK_RULE_PROHIBIT)) == NULL)
			return -E2BIG;
		snprintf(r->iif, sizeof(r->iif), "%s", kill_switch_rules(p) ? iif : p->share_from);
	}
	return 0;
}

int
capture_plan_build(const struct capture_params *p, struct capture_plan *plan)
{
	bool lan = p->share_from != NULL && p->share_from[0] != '\0';
	int err;

	plan->n = 0;
	if (!p->whole_host && !lan)
		return 0;
	/* With --cgroup the rules send the cgroups' connections direct until the select
	 * chain marks them: the guard goes in first. */
	if (p->whole_host && p->kill_switch && p->select == CAPTURE_SELECT_CGROUP) {
		struct capture_op *op = next_op(plan, CAPTURE_OP_NFT);

		if (op == NULL)
			return -E2BIG;
		nft_guard_table_name(p->tun, op->u.nft_table, sizeof(op->u.nft_table));
	}
	if ((err = plan_family(p, plan, AF_INET)) < 0)
		return err;
	if (p->ipv6 && (err = plan_family(p, plan, AF_INET6)) < 0)
		return err;
	/* The --cgroup connections enter the TUN with the source address of the main
	 * table's route; the replies' reverse path (iif lo, no mark: main) is not the TUN. */
	if (p->whole_host && p->select == CAPTURE_SELECT_CGROUP &&
	    (err = add_sysctl(plan, "ipv4", p->tun, "rp_filter", "2", false)) < 0)
		return err;
	if (p->whole_host && p->kill_switch && p->select != CAPTURE_SELECT_CGROUP) {
		struct capture_op *op = next_op(plan, CAPTURE_OP_NFT);

		if (op == NULL)
			return -E2BIG;
		nft_guard_table_name(p->tun, op->u.nft_table, sizeof(op->u.nft_table));
	}
	if (!lan)
		return 0;
	/*
	 * Forwarding for the LAN interface (its clients' packets) and for the TUN (the
	 * replies) only; IPv4 decides by the input device. Loose reverse-path filtering,
	 * since the replies arrive on the TUN from addresses the main table sends elsewhere.
	 * IPv6 forwards per device only with force_forwarding (Linux 6.17).
	 */
	if ((err = add_sysctl(plan, "ipv4", p->share_from, "forwarding", "1", false)) < 0 ||
	    (err = add_sysctl(plan, "ipv4", p->share_from, "rp_filter", "2", false)) < 0 ||
	    (err = add_sysctl(plan, "ipv4", p->tun, "forwarding", "1", false)) < 0 ||
	    (err = add_sysctl(plan, "ipv4", p->tun, "rp_filter", "2", false)) < 0)
		return err;
	if (p->ipv6 && ((err = add_sysctl(plan, "ipv6", p->share_from, "force_forwarding", "1", true)) < 0 ||
			(err = add_sysctl(plan, "ipv6", p->tun, "force_forwarding", "1", true)) < 0))
		return err;
	return 0;
}

/* ------------------------------------------------------------------ record format */

struct out {
	char *buf;
	size_t len, pos;
	bool overflow;
};

static void __attribute__((format(printf, 2, 3)))
put(struct out *o, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(o->buf + o->pos, o->len - o->pos, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= o->len - o->pos) {
		o->overflow = true;
		return;
	}
	o->pos += (size_t)n;
}

static int
family_digit(int family)
{
	return family == AF_INET ? 4 : 6;
}

int
capture_op_format(const struct capture_op *op, char *buf, size_t len)
{
	struct out o = {buf, len, 0, false};
	char pfx[64];

	if (len == 0)
		return -ENOSPC;
	buf[0] = '\0';
	switch (op->kind) {
	case CAPTURE_OP_RULE: {
		const struct netlink_rule *r = &op->u.rule;

		put(&o, "rule %d %u", family_digit(r->family), (unsigned)r->priority);
		if (r->fwmask != 0)
			put(&o, " fwmark 0x%x/0x%x", (unsigned)r->fwmark, (unsigned)r->fwmask);
		if (r->iif[0] != '\0')
			put(&o, " iif %s", r->iif);
		if (r->to.family != 0) {
			capture_prefix_format(&r->to, pfx, sizeof(pfx));
			put(&o, " to %s", pfx);
		}
		if (r->ip_proto != 0)
			put(&o, " ipproto %s", r->ip_proto == IPPROTO_TCP ? "tcp" : "udp");
		if (r->dport != 0)
			put(&o, " dport %u", (unsigned)r->dport);
		if (r->uid_set)
			put(&o, " uidrange %u-%u", (unsigned)r->uid.start, (unsigned)r->uid.end);
		if (r->action == NETLINK_RULE_LOOKUP)
			put(&o, " lookup %u", (unsigned)r->table);
		else
			put(&o, " %s", r->action == NETLINK_RULE_PROHIBIT ? "prohibit" : "unreachable");
		break;
	}
	case CAPTURE_OP_ROUTE: {
		const struct netlink_route *rt = &op->u.route;

		if (rt->dst.len == 0)
			strcpy(pfx, "default");
		else
			capture_prefix_format(&rt->dst, pfx, sizeof(pfx));
		put(&o, "route %d %u %s %s", family_digit(rt->family), (unsigned)rt->table,
		    rt->type == NETLINK_ROUTE_UNREACHABLE ? "unreachable" : "unicast", pfx);
		if (rt->oif[0] != '\0')
			put(&o, " dev %s", rt->oif);
		break;
	}
	case CAPTURE_OP_NFT:
		put(&o, "nft inet %s", op->u.nft_table);
		break;
	case CAPTURE_OP_SYSCTL:
		put(&o, "sysctl %s %s %s%s", op->u.sysctl.key, op->u.sysctl.value,
		    op->u.sysctl.old[0] != '\0' ? op->u.sysctl.old : "-", op->u.sysctl.optional ? " optional" : "");
		break;
	}
	return o.overflow ? -ENOSPC : 0;
}

/* Copies the next space-separated token into tok (of size len); NULL at the end or if too long. */
static const char *
token(const char *s, char *tok, size_t len)
{
	size_t n = 0;

	while (*s == ' ')
		s++;
	if (*s == '\0')
		return NULL;
	while (s[n] != '\0' && s[n] != ' ')
		n++;
	if (n >= len)
		return NULL;
	memcpy(tok, s, n);
	tok[n] = '\0';
	return s + n;
}

static int
parse_family(const char *tok)
{
	if (strcmp(tok, "4") == 0)
		return AF_INET;
	if (strcmp(tok, "6") == 0)
		return AF_INET6;
	return 0;
}

static int
parse_u32(const char *tok, uint32_t *out)
{
	char *end;
	unsigned long v;

	if (*tok < '0' || *tok > '9')
		return -EINVAL;
	errno = 0;
	v = strtoul(tok, &end, 0);
	if (errno != 0 || *end != '\0' || v > 0xffffffffUL)
		return -EINVAL;
	*out = (uint32_t)v;
	return 0;
}

static bool
valid_name(const char *s, size_t max)
{
	size_t n = strlen(s);

	return n > 0 && n < max;
}

static int
parse_rule(const char *s, struct netlink_rule *r)
{
	char tok[96];
	bool have_action = false;

	if ((s = token(s, tok, sizeof(tok))) == NULL || (r->family = parse_family(tok)) == 0)
		return -EINVAL;
	if ((s = token(s, tok, sizeof(tok))) == NULL || parse_u32(tok, &r->priority) < 0)
		return -EINVAL;
	while ((s = token(s, tok, sizeof(tok))) != NULL) {
		if (have_action)
			return -EINVAL;
		if (strcmp(tok, "uidrange") == 0) {
			struct netlink_uid_range u;

			if ((s = token(s, tok, sizeof(tok))) == NULL || r->uid_set || strchr(tok, '-') == NULL ||
			    capture_uid_range_parse(tok, &u) < 0)
				return -EINVAL;
			r->uid_set = true;
			r->uid = u;
		} else if (strcmp(tok, "fwmark") == 0) {
			char *slash;

			if ((s = token(s, tok, sizeof(tok))) == NULL || (slash = strchr(tok, '/')) == NULL)
				return -EINVAL;
			*slash = '\0';
			if (parse_u32(tok, &r->fwmark) < 0 || parse_u32(slash + 1, &r->fwmask) < 0 || r->fwmask == 0)
				return -EINVAL;
		} else if (strcmp(tok, "iif") == 0) {
			if ((s = token(s, tok, sizeof(tok))) == NULL || !valid_name(tok, sizeof(r->iif)))
				return -EINVAL;
			strcpy(r->iif, tok);
		} else if (strcmp(tok, "to") == 0) {
			if ((s = token(s, tok, sizeof(tok))) == NULL || capture_prefix_parse(tok, &r->to) < 0 ||
			    r->to.family != r->family)
				return -EINVAL;
		} else if (strcmp(tok, "ipproto") == 0) {
			if ((s = token(s, tok, sizeof(tok))) == NULL || r->ip_proto != 0)
				return -EINVAL;
			if (strcmp(tok, "tcp") == 0)
				r->ip_proto = IPPROTO_TCP;
			else if (strcmp(tok, "udp") == 0)
				r->ip_proto = IPPROTO_UDP;
			else
				return -EINVAL;
		} else if (strcmp(tok, "dport") == 0) {
			uint32_t port;

			if ((s = token(s, tok, sizeof(tok))) == NULL || parse_u32(tok, &port) < 0 || port == 0 ||
			    port > 65535 || r->ip_proto == 0)
				return -EINVAL;
			r->dport = (uint16_t)port;
		} else if (strcmp(tok, "lookup") == 0) {
			if ((s = token(s, tok, sizeof(tok))) == NULL || parse_u32(tok, &r->table) < 0)
				return -EINVAL;
			r->action = NETLINK_RULE_LOOKUP;
			have_action = true;
		} else if (strcmp(tok, "prohibit") == 0) {
			r->action = NETLINK_RULE_PROHIBIT;
			have_action = true;
		} else if (strcmp(tok, "unreachable") == 0) {
			r->action = NETLINK_RULE_UNREACHABLE;
			have_action = true;
		} else {
			return -EINVAL;
		}
	}
	return have_action ? 0 : -EINVAL;
}

static int
parse_route(const char *s, struct netlink_route *rt)
{
	char tok[96];

	if ((s = token(s, tok, sizeof(tok))) == NULL || (rt->family = parse_family(tok)) == 0)
		return -EINVAL;
	if ((s = token(s, tok, sizeof(tok))) == NULL || parse_u32(tok, &rt->table) < 0)
		return -EINVAL;
	if ((s = token(s, tok, sizeof(tok))) == NULL)
		return -EINVAL;
	if (strcmp(tok, "unicast") == 0)
		rt->type = NETLINK_ROUTE_UNICAST;
	else if (strcmp(tok, "unreachable") == 0)
		rt->type = NETLINK_ROUTE_UNREACHABLE;
	else
		return -EINVAL;
	if ((s = token(s, tok, sizeof(tok))) == NULL)
		return -EINVAL;
	if (strcmp(tok, "default") == 0)
		rt->dst.family = rt->family;
	else if (capture_prefix_parse(tok, &rt->dst) < 0 || rt->dst.family != rt->family)
		return -EINVAL;
	if ((s = token(s, tok, sizeof(tok))) != NULL) {
		if (strcmp(tok, "dev") != 0 || (s = token(s, tok, sizeof(tok))) == NULL ||
		    !valid_name(tok, sizeof(rt->oif)))
			return -EINVAL;
		strcpy(rt->oif, tok);
		if (token(s, tok, sizeof(tok)) != NULL)
			return -EINVAL;
	}
	return 0;
}

/* Values are short numbers; keys are paths under /proc/sys that must not climb out. */
static int
parse_sysctl(const char *s, struct capture_sysctl *sc)
{
	char tok[96];

	if ((s = token(s, sc->key, sizeof(sc->key))) == NULL || strstr(sc->key, "..") != NULL ||
	    strncmp(sc->key, "net/", 4) != 0)
		return -EINVAL;
	if ((s = token(s, sc->value, sizeof(sc->value))) == NULL)
		return -EINVAL;
	if ((s = token(s, sc->old, sizeof(sc->old))) == NULL)
		return -EINVAL;
	if (strcmp(sc->old, "-") == 0)
		sc->old[0] = '\0';
	if ((s = token(s, tok, sizeof(tok))) != NULL) {
		if (strcmp(tok, "optional") != 0 || token(s, tok, sizeof(tok)) != NULL)
			return -EINVAL;
		sc->optional = true;
	}
	return 0;
}

/* "inet tun2socks-<tun>": only a table of ours is ever removed on a record's word. */
static int
parse_nft(const char *s, char *name, size_t len)
{
	char tok[16];
	size_t i, plen = strlen(NFT_GUARD_PREFIX);

	if ((s = token(s, tok, sizeof(tok))) == NULL || strcmp(tok, "inet") != 0)
		return -EINVAL;
	if ((s = token(s, name, len)) == NULL || strncmp(name, NFT_GUARD_PREFIX, plen) != 0 || name[plen] == '\0' ||
	    strlen(name + plen) >= IFNAMSIZ || token(s, tok, sizeof(tok)) != NULL)
		return -EINVAL;
	for (i = plen; name[i] != '\0'; i++)
		if (name[i] <= ' ' || name[i] == '/' || name[i] > '~')
			return -EINVAL;
	return 0;
}

int
capture_op_parse(const char *line, struct capture_op *op)
{
	char tok[16];
	const char *s;

	memset(op, 0, sizeof(*op));
	if ((s = token(line, tok, sizeof(tok))) == NULL)
		return -EINVAL;
	if (strcmp(tok, "rule") == 0) {
		op->kind = CAPTURE_OP_RULE;
		return parse_rule(s, &op->u.rule);
	}
	if (strcmp(tok, "route") == 0) {
		op->kind = CAPTURE_OP_ROUTE;
		return parse_route(s, &op->u.route);
	}
	if (strcmp(tok, "sysctl") == 0) {
		op->kind = CAPTURE_OP_SYSCTL;
		return parse_sysctl(s, &op->u.sysctl);
	}
	if (strcmp(tok, "nft") == 0) {
		op->kind = CAPTURE_OP_NFT;
		return parse_nft(s, op->u.nft_table, sizeof(op->u.nft_table));
	}
	return -EINVAL;
}

int
capture_record_format(const struct capture_plan *plan, const struct capture_owner *owner, char *buf, size_t len)
{
	struct out o = {buf, len, 0, false};
	char line[256];
	unsigned i;

	if (len == 0)
		return -ENOSPC;
	put(&o, RECORD_MAGIC "\npid %ld\nstart %llu\n", owner->pid, owner->start);
	for (i = 0; i < plan->n; i++) {
		if (capture_op_format(&plan->op[i], line, sizeof(line)) < 0)
			return -ENOSPC;
		put(&o, "%s\n", line);
	}
	return o.overflow ? -ENOSPC : (int)o.pos;
}

int
capture_record_parse(const char *text, struct capture_plan *plan, struct capture_owner *owner)
{
	char line[256];
	const char *nl;
	size_t n;
	unsigned lineno = 0;

	plan->n = 0;
	owner->pid = 0;
	owner->start = 0;
	for (; *text != '\0'; text = nl + 1) {
		nl = strchr(text, '\n');
		if (nl == NULL)
			return -EINVAL; /* truncated: the last line must be complete */
		n = (size_t)(nl - text);
		if (n >= sizeof(line))
			return -EINVAL;
		memcpy(line, text, n);
		line[n] = '\0';
		lineno++;
		if (lineno == 1) {
			if (strcmp(line, RECORD_MAGIC) != 0)
				return -EINVAL;
		} else if (lineno == 2) {
			char *end;

			if (strncmp(line, "pid ", 4) != 0)
				return -EINVAL;
			errno = 0;
			owner->pid = strtol(line + 4, &end, 10);
			if (errno != 0 || *end != '\0' || owner->pid <= 0)
				return -EINVAL;
		} else if (lineno == 3 && strncmp(line, "start ", 6) == 0) {
			char *end;

			if (line[6] < '0' || line[6] > '9')
				return -EINVAL;
			errno = 0;
			owner->start = strtoull(line + 6, &end, 10);
			if (errno != 0 || *end != '\0')
				return -EINVAL;
		} else {
			if (plan->n == CAPTURE_MAX_OPS || capture_op_parse(line, &plan->op[plan->n]) < 0)
				return -EINVAL;
			plan->n++;
		}
	}
	return lineno >= 2 ? 0 : -EINVAL;
}

int
capture_stat_parse(const char *stat, char *state, unsigned long long *start)
{
	/* "PID (COMM) S ppid ...": COMM may hold anything, ')' included: the last one ends it. */
	const char *p = strrchr(stat, ')');
	char *end;
	unsigned field;

	if (p == NULL || p[1] != ' ' || p[2] == '\0' || p[3] != ' ')
		return -EINVAL;
	*state = p[2];
	p += 3; /* at the blank before field 4 */
	for (field = 4; field <= 22; field++) {
		if (*p != ' ')
			return -EINVAL;
		p++;
		if (field == 22)
			break;
		p += strcspn(p, " ");
	}
	if (*p < '0' || *p > '9')
		return -EINVAL;
	errno = 0;
	*start = strtoull(p, &end, 10);
	if (errno != 0 || (*end != ' ' && *end != '\n' && *end != '\0'))
		return -EINVAL;
	return 0;
}

bool
capture_owner_alive(const struct capture_owner *owner, const char *stat, long self)
{
	unsigned long long start;
	char state;

	if (owner->pid == self || stat == NULL)
		return false;
	if (capture_stat_parse(stat, &state, &start) < 0)
		return true; /* cannot tell: never lift a live run's capture */
	if (state == 'Z' || state == 'X')
		return false;
	return owner->start == 0 || start == owner->start;
}

/* ------------------------------------------------------------------ applying */

/* Everything that may leave past the TUN on purpose, for the nftables guard. */
#define GUARD_MAX_EXCLUDE (sizeof(default_exclusions) / sizeof(default_exclusions[0]) + 64)

struct capture {
	struct netlink *nl;
	struct capture_plan plan;
	unsigned applied; /* ops [0, applied) are in place */
	struct nft_guard *guard; /* the guard we own (no kill switch), or NULL */
	struct netlink_prefix guard_exclude[GUARD_MAX_EXCLUDE];
	struct nft_guard_params guard_params;
	struct netlink_uid_range guard_uids[CAPTURE_MAX_UID_RANGES + 1];
	struct cgroup_path_id guard_cgroups[CAPTURE_MAX_CGROUPS];
	char tun[IFNAMSIZ];
	long owner_uid;   /* capture_params.owner_uid, for a rewritten record */
	char dir[256];
	char path[280];
};

bool
capture_have_ipv6(void)
{
	return access("/proc/sys/net/ipv6/conf/all/forwarding", F_OK) == 0;
}

static int
sysctl_read(const char *key, char *buf, size_t len)
{
	char path[160];
	ssize_t n;
	int fd, err = 0;

	snprintf(path, sizeof(path), "/proc/sys/%s", key);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, len - 1);
	if (n < 0)
		err = -errno;
	close(fd);
	if (err < 0)
		return err;
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == ' '))
		n--;
	buf[n] = '\0';
	return 0;
}

static int
sysctl_write(const char *key, const char *value)
{
	char path[160];

	snprintf(path, sizeof(path), "/proc/sys/%s", key);
	return procfs_write(path, value);
}

static bool
op_equal(const struct capture_op *a, const struct capture_op *b)
{
	if (a->kind != b->kind)
		return false;
	switch (a->kind) {
	case CAPTURE_OP_RULE:
		return memcmp(&a->u.rule, &b->u.rule, sizeof(a->u.rule)) == 0;
	case CAPTURE_OP_ROUTE:
		return memcmp(&a->u.route, &b->u.route, sizeof(a->u.route)) == 0;
	case CAPTURE_OP_SYSCTL:
		return strcmp(a->u.sysctl.key, b->u.sysctl.key) == 0;
	case CAPTURE_OP_NFT:
		return strcmp(a->u.nft_table, b->u.nft_table) == 0;
	}
	return false;
}

static const struct capture_op *
plan_find(const struct capture_plan *plan, const struct capture_op *op)
{
	unsigned i;

	for (i = 0; i < plan->n; i++)
		if (op_equal(&plan->op[i], op))
			return &plan->op[i];
	return NULL;
}

static void
op_describe(const struct capture_op *op, char *buf, size_t len)
{
	if (capture_op_format(op, buf, len) < 0)
		snprintf(buf, len, "(op)");
}

static int
op_apply(struct netlink *nl, const struct capture_op *op)
{
	int err = 0;

	switch (op->kind) {
	case CAPTURE_OP_RULE:
		err = netlink_rule_add(nl, &op->u.rule);
		break;
	case CAPTURE_OP_ROUTE:
		err = netlink_route_add(nl, &op->u.route);
		break;
	case CAPTURE_OP_SYSCTL:
		if (op->u.sysctl.old[0] == '\0')
			return 0; /* an optional key this kernel lacks */
		err = sysctl_write(op->u.sysctl.key, op->u.sysctl.value);
		break;
	case CAPTURE_OP_NFT:
		return -EINVAL; /* guard_apply: it needs the exclusions */
	}
	/* Left by an earlier run and adopted: ours, so undone with the rest. */
	return err == -EEXIST ? 0 : err;
}

static void
op_undo(struct netlink *nl, const struct capture_op *op)
{
	char what[256];
	int err = 0;

	switch (op->kind) {
	case CAPTURE_OP_RULE:
		err = netlink_rule_del(nl, &op->u.rule);
		break;
	case CAPTURE_OP_ROUTE:
		err = netlink_route_del(nl, &op->u.route);
		/* The kernel drops a device's routes with the device. */
		if (err == -ENODEV)
			err = 0;
		break;
	case CAPTURE_OP_SYSCTL:
		if (op->u.sysctl.old[0] != '\0')
			err = sysctl_write(op->u.sysctl.key, op->u.sysctl.old);
		/* A TUN's own settings go with the TUN. */
		if (err == -ENOENT)
			err = 0;
		break;
	case CAPTURE_OP_NFT:
		err = nft_guard_remove(op->u.nft_table);
		break;
	}
	if (err < 0 && err != -ENOENT && err != -ESRCH) {
		op_describe(op, what, sizeof(what));
		log_warn("cannot undo '%s': %s", what, strerror(-err));
	}
}

static void
plan_undo(struct netlink *nl, const struct capture_plan *plan, unsigned n, const struct capture_plan *keep)
{
	while (n-- > 0)
		if (keep == NULL || plan_find(keep, &plan->op[n]) == NULL)
			op_undo(nl, &plan->op[n]);
}

static int
netns_inode(unsigned long *ino)
{
	struct stat st;

	if (stat("/proc/self/ns/net", &st) < 0)
		return -errno;
	*ino = (unsigned long)st.st_ino;
	return 0;
}

/*
 * One directory per network namespace and TUN, net<inode>-<tun>/, holding the record
 * "state": the directory can be given to the --user a run drops to, so that the run
 * can still remove its record at exit (a root-owned CAPTURE_STATE_DIR would refuse).
 */
static int
record_path(const char *tun, char *dir, size_t dlen, char *path, size_t plen)
{
	unsigned long ino = 0;
	int err = netns_inode(&ino);

	if (err < 0)
		return err;
	snprintf(dir, dlen, "%s/net%lu-%s", CAPTURE_STATE_DIR, ino, tun);
	snprintf(path, plen, "%s/state", dir);
	return 0;
}

/* The record is applied by root: one root did not write (or one others may write) is refused. */
static int
record_read(const char *path, struct capture_plan *plan, struct capture_owner *owner)
{
	static char text[CAPTURE_MAX_OPS * 160 + 64];
	struct stat st;
	ssize_t n;
	int fd, err = 0;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return errno == ELOOP ? -EPERM : -errno;
	if (fstat(fd, &st) < 0)
		err = -errno;
	else if (!S_ISREG(st.st_mode) || (st.st_uid != 0 && st.st_uid != geteuid()) || (st.st_mode & 022) != 0)
		err = -EPERM;
	n = err == 0 ? read(fd, text, sizeof(text) - 1) : 0;
	if (n < 0)
		err = -errno;
	close(fd);
	if (err < 0)
		return err;
	text[n] = '\0';
	return capture_record_parse(text, plan, owner);
}

/* The text of /proc/PID/stat into buf; NULL when there is no such process. */
static const char *
read_stat(long pid, char *buf, size_t len)
{
	char path[64];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return NULL;
	n = read(fd, buf, len - 1);
	close(fd);
	if (n <= 0)
		return NULL;
	buf[n] = '\0';
	return buf;
}

static bool
owner_alive(const struct capture_owner *owner)
{
	char stat[1024];

	return capture_owner_alive(owner, read_stat(owner->pid, stat, sizeof(stat)), (long)getpid());
}

/*
 * Written whole to a temporary name and renamed, so a crash never leaves half a record.
 * The directory is taken back first (an earlier --user run may own it), and handed to
 * owner_uid (>= 0) once the record is in place.
 */
static int
record_write(const char *dir, const struct capture_plan *plan, long owner_uid)
{
	static char text[CAPTURE_MAX_OPS * 160 + 64];
	struct capture_owner self = {.pid = (long)getpid()};
	char stat[1024], state;
	struct stat st;
	int dfd, fd, len, err = 0;

	if (read_stat(self.pid, stat, sizeof(stat)) == NULL || capture_stat_parse(stat, &state, &self.start) < 0)
		self.start = 0;
	len = capture_record_format(plan, &self, text, sizeof(text));
	if (len < 0)
		return len;
	if (mkdir(CAPTURE_STATE_DIR, 0755) < 0 && errno != EEXIST)
		return -errno;
	if (mkdir(dir, 0755) < 0 && errno != EEXIST)
		return -errno;
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (dfd < 0)
		return -errno;
	if (fstat(dfd, &st) < 0 || ((st.st_uid != geteuid() || st.st_gid != getegid()) &&
				    fchown(dfd, geteuid(), getegid()) < 0) || fchmod(dfd, 0755) < 0) {
		err = -errno;
		goto out;
	}
	if (unlinkat(dfd, "state.tmp", 0) < 0 && errno != ENOENT) {
		err = -errno;
		goto out;
	}
	fd = openat(dfd, "state.tmp", O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
	if (fd < 0) {
		err = -errno;
		goto out;
	}
	if (write(fd, text, (size_t)len) != len || fsync(fd) < 0)
		err = errno != 0 ? -errno : -EIO;
	close(fd);
	if (err == 0 && renameat(dfd, "state.tmp", dfd, "state") < 0)
		err = -errno;
	if (err < 0)
		unlinkat(dfd, "state.tmp", 0);
	else if (owner_uid >= 0 && fchown(dfd, (uid_t)owner_uid, (gid_t)-1) < 0)
		err = -errno;
out:
	close(dfd);
	return err;
}

/* Removes the record (and its directory, when we may); a failure is said, not ignored. */
static void
record_remove(const char *dir, const char *path)
{
	if (unlink(path) < 0 && errno != ENOENT) {
		log_warn("cannot remove the state record %s: %s; 'tun2socks down' removes it", path, strerror(errno));
		return;
	}
	/* After --user the empty directory stays (ours is root's); the next run reuses it. */
	if (rmdir(dir) < 0 && errno != ENOENT && errno != EACCES && errno != EPERM)
		log_debug("cannot remove %s: %s", dir, strerror(errno));
}

/* What the guard lets leave past the TUN: the exclusions of the rules at +0. */
static int
guard_setup(struct capture *c, const struct capture_params *p)
{
	size_t n_default = sizeof(default_exclusions) / sizeof(default_exclusions[0]), i;

	if (n_default + p->n_exclude > GUARD_MAX_EXCLUDE || p->n_uids > CAPTURE_MAX_UID_RANGES)
		return -E2BIG;
	for (i = 0; i < n_default; i++)
		(void)capture_prefix_parse(default_exclusions[i], &c->guard_exclude[i]);
	for (i = 0; i < p->n_exclude; i++)
		c->guard_exclude[n_default + i] = p->exclude[i];
	snprintf(c->tun, sizeof(c->tun), "%s", p->tun);
	c->guard_params = (struct nft_guard_params){
		.tun = c->tun,
		.fwmark = p->fwmark,
		.exclude = c->guard_exclude,
		.n_exclude = (unsigned)(n_default + p->n_exclude),
		.exclude_dns = p->exclude_dns,
	};
	if (p->whole_host && (p->select == CAPTURE_SELECT_CGROUP || p->select == CAPTURE_SELECT_EXCLUDE_CGROUP)) {
		if (p->n_cgroups == 0 || p->n_cgroups > CAPTURE_MAX_CGROUPS)
			return -EINVAL;
		memcpy(c->guard_cgroups, p->cgroups, p->n_cgroups * sizeof(p->cgroups[0]));
		c->guard_params.mark_captured = CAPTURE_MARK_CAPTURED;
		c->guard_params.mark_direct = CAPTURE_MARK_DIRECT;
		c->guard_params.mark_socket = CAPTURE_MARK_SOCKET;
		c->guard_params.cgroups_captured = p->select == CAPTURE_SELECT_CGROUP;
		c->guard_params.cgroups = c->guard_cgroups;
		c->guard_params.n_cgroups = p->n_cgroups;
	} else if (p->whole_host && p->select != CAPTURE_SELECT_ALL) {
		int n = capture_uid_direct(p, c->guard_uids);

		if (n < 0)
			return n;
		c->guard_params.mark_captured = CAPTURE_MARK_CAPTURED;
		c->guard_params.mark_direct = CAPTURE_MARK_DIRECT;
		c->guard_params.direct_uids = c->guard_uids;
		c->guard_params.n_direct_uids = (unsigned)n;
	}
	return 0;
}

/* The guard: recorded and left to outlive us (persistent), or owned by c->guard. */
static int
guard_apply(struct capture *c, bool persistent)
{
	struct nft_guard *g = nft_guard_new(&c->guard_params, persistent);

	if (g == NULL)
		return -errno;
	if (persistent)
		nft_guard_free(g, false);
	else
		c->guard = g;
	return 0;
}

struct capture *
capture_start(const struct capture_params *p)
{
	struct capture_plan *stale = NULL;
	struct capture_owner owner = {0};
	struct capture *c;
	char what[256];
	unsigned i;
	int err;

	c = calloc(1, sizeof(*c));
	if (c == NULL) {
		log_error("cannot set up the capture: %s", strerror(ENOMEM));
		errno = ENOMEM;
		return NULL;
	}
	if ((err = capture_plan_build(p, &c->plan)) < 0 || (err = guard_setup(c, p)) < 0 ||
	    (err = record_path(p->tun, c->dir, sizeof(c->dir), c->path, sizeof(c->path))) < 0) {
		log_error("cannot plan the capture through %s: %s", p->tun, strerror(-err));
		goto err_free;
	}
	c->nl = netlink_open();
	if (c->nl == NULL) {
		err = -errno;
		log_error("cannot open rtnetlink for the capture: %s", strerror(-err));
		goto err_free;
	}
	c->owner_uid = p->owner_uid;
	stale = malloc(sizeof(*stale));
	if (stale == NULL) {
		err = -ENOMEM;
		log_error("cannot set up the capture: %s", strerror(-err));
		goto err_close;
	}
	err = record_read(c->path, stale, &owner);
	if (err == 0 && owner_alive(&owner)) {
		log_error("tun2socks (pid %ld) is capturing through %s already; stop it, or run 'tun2socks down' "
			  "if that process is not tun2socks",
			  owner.pid, p->tun);
		err = -EBUSY;
		goto err_stale;
	}
	if (err == 0)
		log_info("lifting what a previous run (pid %ld) left in place (%u routes, rules and settings)", owner.pid,
			 stale->n);
	else if (err != -ENOENT)
		log_warn("ignoring unreadable state record %s: %s", c->path, strerror(-err));
	if (err != 0)
		stale->n = 0;

	/* Remember what every setting was before us: from the old record for those we
	 * changed already, so that a crash and restart still restore the original. */
	for (i = 0; i < c->plan.n; i++) {
		struct capture_sysctl *sc = &c->plan.op[i].u.sysctl;
		const struct capture_op *prev;

		if (c->plan.op[i].kind != CAPTURE_OP_SYSCTL)
			continue;
		prev = plan_find(stale, &c->plan.op[i]);
		if (prev != NULL && prev->u.sysctl.old[0] != '\0') {
			strcpy(sc->old, prev->u.sysctl.old);
			continue;
		}
		err = sysctl_read(sc->key, sc->old, sizeof(sc->old));
		if (err == -ENOENT && sc->optional) {
			log_warn("no /proc/sys/%s on this kernel: IPv6 is not forwarded for the LAN", sc->key);
			sc->old[0] = '\0';
		} else if (err < 0) {
			log_error("cannot read /proc/sys/%s: %s", sc->key, strerror(-err));
			goto err_stale;
		}
	}
	if (c->plan.n > 0 && (err = record_write(c->dir, &c->plan, p->owner_uid)) < 0) {
		log_error("cannot write the state record %s: %s%s", c->path, strerror(-err),
			  err == -EPERM || err == -EACCES ? " (needs root)" : "");
		goto err_stale;
	}
	for (c->applied = 0; c->applied < c->plan.n; c->applied++) {
		if (c->plan.op[c->applied].kind == CAPTURE_OP_NFT)
			err = guard_apply(c, true);
		else
			err = op_apply(c->nl, &c->plan.op[c->applied]);
		if (err < 0) {
			op_describe(&c->plan.op[c->applied], what, sizeof(what));
			log_error("cannot add '%s': %s%s", what, strerror(-err),
				  err == -EPERM || err == -EACCES ? " (needs CAP_NET_ADMIN)"
				  : err == -EINVAL && c->plan.op[c->applied].kind == CAPTURE_OP_RULE &&
						  c->plan.op[c->applied].u.rule.dport != 0
					  ? " (rules on ports need Linux 4.17; --exclude-dns does without them)"
					  : "");
			goto err_undo;
		}
	}
	/* Only now: what the old run left and we still want has been adopted above. */
	plan_undo(c->nl, stale, stale->n, &c->plan);
	if (c->plan.n == 0 && stale->n > 0)
		record_remove(c->dir, c->path);
	free(stale);
	/* Without the kill switch the guard lives as long as we do (after the old run's
	 * recorded one is gone: same name). Not having it is no reason not to run. */
	err = p->whole_host && !p->kill_switch ? guard_apply(c, false) : 0;
	if (err < 0 && p->select != CAPTURE_SELECT_ALL) {
		/* Without its select chain the uid rules leak the kernel's packets of closed sockets. */
		log_error("cannot add the nftables table %s%s: %s; %s need it", NFT_GUARD_PREFIX, p->tun,
			  strerror(-err),
			  p->select == CAPTURE_SELECT_UID || p->select == CAPTURE_SELECT_EXCLUDE_UID
				  ? "--uid and --exclude-uid"
				  : "--cgroup and --exclude-cgroup");
		capture_stop(c);
		errno = -err;
		return NULL;
	}
	if (err < 0)
		log_warn("cannot add the nftables table %s%s: %s; sockets bound to an interface (SO_BINDTODEVICE, "
			 "IP_UNICAST_IF) bypass the TUN (--kill-switch refuses to run without it)",
			 NFT_GUARD_PREFIX, p->tun, strerror(-err));
	return c;

err_undo:
	/* Everything goes, the dead run's leftovers included: the record that would let
	 * `down` find them is removed too. (An op undone twice is harmless: already gone.) */
	plan_undo(c->nl, &c->plan, c->applied, NULL);
	plan_undo(c->nl, stale, stale->n, NULL);
	record_remove(c->dir, c->path);
err_stale:
	free(stale);
err_close:
	netlink_close(c->nl);
err_free:
	free(c);
	errno = -err;
	return NULL;
}

int
capture_update(struct capture *c, const struct capture_params *p)
{
	struct capture_plan *next, *both;
	char what[256];
	unsigned i, applied;
	int err;

	next = malloc(sizeof(*next));
	both = malloc(sizeof(*both));
	if (next == NULL || both == NULL) {
		err = -ENOMEM;
		log_error("cannot change the capture: %s", strerror(-err));
		goto out;
	}
	if ((err = capture_plan_build(p, next)) < 0 || (err = guard_setup(c, p)) < 0) {
		log_error("cannot plan the new capture: %s", strerror(-err));
		goto out;
	}
	/* Settings keep the value from before us; one new to the plan is read now. */
	for (i = 0; i < next->n; i++) {
		struct capture_sysctl *sc = &next->op[i].u.sysctl;
		const struct capture_op *prev;

		if (next->op[i].kind != CAPTURE_OP_SYSCTL)
			continue;
		prev = plan_find(&c->plan, &next->op[i]);
		if (prev != NULL) {
			strcpy(sc->old, prev->u.sysctl.old);
		} else if ((err = sysctl_read(sc->key, sc->old, sizeof(sc->old))) < 0) {
			if (err != -ENOENT || !sc->optional) {
				log_error("cannot read /proc/sys/%s: %s", sc->key, strerror(-err));
				goto out;
			}
			sc->old[0] = '\0';
		}
	}
	/* While both may be in place, the record names both: a crash now leaves nothing
	 * that `down` or the next start would not lift. */
	*both = *next;
	for (i = 0; i < c->applied; i++) {
		if (plan_find(next, &c->plan.op[i]) != NULL)
			continue;
		if (both->n == CAPTURE_MAX_OPS) {
			err = -E2BIG;
			log_error("cannot change the capture: more than %d routes, rules and settings", CAPTURE_MAX_OPS);
			goto out;
		}
		both->op[both->n++] = c->plan.op[i];
	}
	if ((err = record_write(c->dir, both, c->owner_uid)) < 0) {
		log_error("cannot write the state record %s: %s", c->path, strerror(-err));
		goto out;
	}
	/* The new ops in first (those of the old plan are there already), then the old
	 * ones the new plan lacks out: nothing goes uncaptured in between. */
	for (applied = 0; applied < next->n; applied++) {
		/* The guard is replaced below, once, with the new exclusions. */
		err = next->op[applied].kind == CAPTURE_OP_NFT ? 0 : op_apply(c->nl, &next->op[applied]);
		if (err < 0) {
			op_describe(&next->op[applied], what, sizeof(what));
			log_error("cannot add '%s': %s: the capture stays as it was", what, strerror(-err));
			plan_undo(c->nl, next, applied, &c->plan);
			if (record_write(c->dir, &c->plan, c->owner_uid) < 0)
				log_warn("the state record %s names more than is in place: 'tun2socks down' copes", c->path);
			goto out;
		}
	}
	plan_undo(c->nl, &c->plan, c->applied, next);
	c->plan = *next;
	c->applied = next->n;
	if (record_write(c->dir, &c->plan, c->owner_uid) < 0)
		log_warn("the state record %s names more than is in place: 'tun2socks down' copes", c->path);
	/* The guard lets the new exclusions leave. A recorded one (kill switch) is replaced
	 * in one transaction; an owned one belongs to its socket, so it goes and comes back
	 * (bound sockets are unguarded for that moment, as before the first start). */
	for (i = 0; i < next->n && next->op[i].kind != CAPTURE_OP_NFT; i++)
		;
	if (i < next->n)
		err = guard_apply(c, true);
	else if (c->guard != NULL) {
		nft_guard_free(c->guard, true);
		c->guard = NULL;
		err = guard_apply(c, false);
	}
	if (err < 0)
		log_warn("cannot replace the nftables table %s%s: %s; sockets bound to an interface may be refused "
			 "to the new exclusions, or bypass the TUN",
			 NFT_GUARD_PREFIX, c->tun, strerror(-err));
	err = 0;
out:
	free(both);
	free(next);
	return err;
}

void
capture_stop(struct capture *c)
{
	if (c == NULL)
		return;
	nft_guard_free(c->guard, true);
	plan_undo(c->nl, &c->plan, c->applied, NULL);
	if (c->plan.n > 0)
		record_remove(c->dir, c->path);
	netlink_close(c->nl);
	free(c);
}

/* A record in CAPTURE_STATE_DIR named name (net<inode>-<tun>), for tun (NULL: any)? */
static bool
record_for(const char *name, const char *prefix, const char *tun, size_t suffix)
{
	size_t len = strlen(name), plen = strlen(prefix);

	if (strncmp(name, prefix, plen) != 0 || len <= plen + suffix)
		return false;
	return tun == NULL || (len - plen - suffix == strlen(tun) && strncmp(name + plen, tun, strlen(tun)) == 0);
}

int
capture_down(const char *tun, void (*lifted_cb)(const char *tun, void *arg), void *arg)
{
	char prefix[64], dir_path[300], path[310], name[IFNAMSIZ];
	struct capture_plan *plan;
	struct capture_owner owner;
	struct netlink *nl;
	struct dirent *de;
	unsigned long ino = 0;
	DIR *dir;
	int err, lifted = 0;

	if ((err = netns_inode(&ino)) < 0)
		return err;
	snprintf(prefix, sizeof(prefix), "net%lu-", ino);
	dir = opendir(CAPTURE_STATE_DIR);
	if (dir == NULL)
		return errno == ENOENT ? 0 : -errno;
	plan = malloc(sizeof(*plan));
	nl = netlink_open();
	if (plan == NULL || nl == NULL) {
		err = plan == NULL ? -ENOMEM : -errno;
		goto out;
	}
	while ((de = readdir(dir)) != NULL) {
		size_t len = strlen(de->d_name);
		bool legacy = len > 6 && strcmp(de->d_name + len - 6, ".state") == 0;

		/* net<inode>-<tun>/state; net<inode>-<tun>.state from earlier versions. */
		if (!record_for(de->d_name, prefix, tun, legacy ? 6 : 0))
			continue;
		snprintf(dir_path, sizeof(dir_path), "%s/%s", CAPTURE_STATE_DIR, de->d_name);
		if (legacy)
			snprintf(path, sizeof(path), "%s", dir_path);
		else
			snprintf(path, sizeof(path), "%s/state", dir_path);
		err = record_read(path, plan, &owner);
		if (err == -ENOENT || err == -ENOTDIR) {
			if (!legacy)
				(void)rmdir(dir_path); /* an empty one a --user run could not remove */
			continue;
		}
		if (err < 0) {
			log_warn("ignoring unreadable state record %s: %s", path, strerror(-err));
			continue;
		}
		if (owner_alive(&owner))
			log_warn("tun2socks (pid %ld) still runs; lifting its capture anyway", owner.pid);
		plan_undo(nl, plan, plan->n, NULL);
		if (legacy) {
			if (unlink(path) < 0)
				log_warn("cannot remove the state record %s: %s", path, strerror(errno));
		} else {
			record_remove(dir_path, path);
		}
		log_info("lifted %s (%u routes, rules and settings)", path, plan->n);
		lifted++;
		if (lifted_cb != NULL) {
			size_t plen = strlen(prefix), nlen = len - plen - (legacy ? 6 : 0);

			if (nlen > 0 && nlen < sizeof(name)) {
				memcpy(name, de->d_name + plen, nlen);
				name[nlen] = '\0';
				lifted_cb(name, arg);
			}
		}
	}
	err = lifted;
out:
	netlink_close(nl);
	free(plan);
	closedir(dir);
	return err;
}

int
capture_private_ns(const char *tun, bool ipv6)
{
	struct netlink_route rt;
	struct netlink *nl;
	int err;

	nl = netlink_open();
	if (nl == NULL)
		return -errno;
	err = netlink_link_up(nl, (int)if_nametoindex("lo"), 0);
	memset(&rt, 0, sizeof(rt));
	rt.table = NETLINK_TABLE_MAIN;
	rt.type = NETLINK_ROUTE_UNICAST;
	snprintf(rt.oif, sizeof(rt.oif), "%s", tun);
	rt.family = rt.dst.family = AF_INET;
	if (err == 0)
		err = netlink_route_add(nl, &rt);
	rt.family = rt.dst.family = AF_INET6;
	if (err == 0 && ipv6)
		err = netlink_route_add(nl, &rt);
	netlink_close(nl);
	return err;
}

/* ------------------------------------------------------------------ resolv.conf */

static bool
loopback_nameserver(const char *addr)
{
	struct netlink_prefix p;

	if (capture_prefix_parse(addr, &p) < 0)
		return false; /* e.g. a scoped fe80::1%eth0: not ours to judge */
	if (p.family == AF_INET)
		return (ntohl(p.addr.v4.s_addr) >> 24) == 127;
	return IN6_IS_ADDR_LOOPBACK(&p.addr.v6);
}

/* Whether line[0..end) is "nameserver ADDR"; ADDR into value. */
static bool
nameserver_line(const char *line, const char *end, char *value)
{
	char word[16];
	int n = 0;

	return sscanf(line, "%15s %63s%n", word, value, &n) == 2 && strcmp(word, "nameserver") == 0 &&
	       (size_t)n <= (size_t)(end - line);
}

static const char *
line_end(const char *line)
{
	const char *end = strchr(line, '\n');

	return end != NULL ? end : line + strlen(line);
}

int
capture_resolv_conf(const char *host_text, const struct netlink_prefix *server, const struct netlink_prefix *stub,
		    char *out, size_t len)
{
	struct out o = {out, len, 0, false};
	unsigned kept = 0, dropped = 0;
	const char *text = host_text != NULL ? host_text : "", *line, *end;
	char addr[INET6_ADDRSTRLEN], value[64];

	if (len == 0)
		return -ENOSPC;
	out[0] = '\0';
	if (server != NULL && server->family != 0) {
		inet_ntop(server->family, &server->addr, addr, sizeof(addr));
		put(&o, "# written by tun2socks for this namespace\nnameserver %s\n", addr);
		return o.overflow ? -ENOSPC : CAPTURE_RESOLV_OWN;
	}
	for (line = text; *line != '\0'; line = *end != '\0' ? end + 1 : end) {
		end = line_end(line);
		if (nameserver_line(line, end, value)) {
			if (loopback_nameserver(value))
				dropped++;
			else
				kept++;
		}
	}
	if (kept > 0 && dropped == 0)
		return CAPTURE_RESOLV_HOST;
	if (kept == 0 && (stub == NULL || stub->family == 0))
		return -ENOENT;
	if (kept > 0)
		put(&o, "# written by tun2socks for this namespace: the host's without loopback nameservers\n");
	else
		put(&o, "# written by tun2socks for this namespace: the host's nameservers are all on loopback;\n"
			"# tun2socks answers this one itself (see --dns-server, --dns fake-ip)\n");
	for (line = text; *line != '\0'; line = *end != '\0' ? end + 1 : end) {
		end = line_end(line);
		if (nameserver_line(line, end, value) && loopback_nameserver(value))
			continue;
		put(&o, "%.*s\n", (int)(end - line), line);
	}
	if (kept == 0) {
		inet_ntop(stub->family, &stub->addr, addr, sizeof(addr));
		put(&o, "nameserver %s\n", addr);
	}
	if (o.overflow)
		return -ENOSPC;
	return kept > 0 ? CAPTURE_RESOLV_OWN : CAPTURE_RESOLV_STUB;
}
