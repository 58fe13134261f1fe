/* SPDX-License-Identifier: MIT */
/*
 * Routing setup over rtnetlink (libmnl): links up, MTU and namespace, addresses, routes
 * in a given table, policy rules. One request at a time, each acknowledged; every call
 * acts on the network namespace the socket was opened in.
 */
#ifndef T2S_TUN2SOCKS_NETLINK_H
#define T2S_TUN2SOCKS_NETLINK_H

#include <net/if.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>

/* An IPv4 or IPv6 prefix (family 0: none, e.g. "any destination"). */
struct netlink_prefix {
	int family; /* AF_INET, AF_INET6 */
	union {
		struct in_addr v4;
		struct in6_addr v6;
	} addr;
	unsigned len;
};

/* Users start..end, both included. */
struct netlink_uid_range {
	uint32_t start, end;
};

enum netlink_rule_action {
	NETLINK_RULE_LOOKUP = 0, /* go to table */
	NETLINK_RULE_UNREACHABLE,
	NETLINK_RULE_PROHIBIT,
};

/*
 * A policy rule as `ip rule` shows it. Value type: zero it before filling, so that two
 * rules compare equal with memcmp exactly when they are the same rule.
 */
struct netlink_rule {
	int family; /* AF_INET or AF_INET6 */
	uint32_t priority;
	enum netlink_rule_action action;
	uint32_t table;           /* NETLINK_RULE_LOOKUP only */
	uint32_t fwmark, fwmask;  /* fwmask 0: no mark match */
	char iif[IFNAMSIZ];       /* "": any input interface */
	struct netlink_prefix to; /* family 0: any destination */
	uint8_t ip_proto;         /* IPPROTO_TCP, IPPROTO_UDP; 0: any (FRA_IP_PROTO, Linux 4.17) */
	uint16_t dport;           /* with ip_proto: this destination port only; 0: any (FRA_DPORT_RANGE) */
	bool uid_set;             /* the socket's user in uid (FRA_UID_RANGE, Linux 4.10) */
	struct netlink_uid_range uid;
};

enum netlink_route_type {
	NETLINK_ROUTE_UNICAST = 0, /* through oif */
	NETLINK_ROUTE_UNREACHABLE,
};

/* A route in a table; the output device is named so a plan survives a device's index. */
struct netlink_route {
	int family;
	uint32_t table;
	enum netlink_route_type type;
	struct netlink_prefix dst; /* len 0: default route */
	char oif[IFNAMSIZ];
};

#define NETLINK_TABLE_MAIN 254

struct netlink;

/* Opens an rtnetlink socket in the calling thread's current network namespace. NULL with errno set. */
struct netlink *netlink_open(void);
void netlink_close(struct netlink *nl);

/* Sets the link's MTU (0: unchanged) and brings it up. Returns 0 or -errno. */
int netlink_link_up(struct netlink *nl, int ifindex, unsigned mtu);
/* Moves the link into the namespace behind netns_fd. Returns 0 or -errno. */
int netlink_link_set_netns(struct netlink *nl, int ifindex, int netns_fd);
/* Adds an address (prefix->len is the prefix length) to the link; EEXIST counts as success. */
int netlink_addr_add(struct netlink *nl, int ifindex, const struct netlink_prefix *addr);

/*
 * Adds or deletes a route or a rule. Adding fails with -EEXIST when the same one is
 * there already; deleting fails with -ENOENT or -ESRCH when it is not (or, for a route,
 * -ENODEV when its device is gone).
 */
int netlink_route_add(struct netlink *nl, const struct netlink_route *r);
int netlink_route_del(struct netlink *nl, const struct netlink_route *r);
int netlink_rule_add(struct netlink *nl, const struct netlink_rule *r);
int netlink_rule_del(struct netlink *nl, const struct netlink_rule *r);

/*
 * The kernel's route for a packet to dst (dst->len ignored) from a socket marked with
 * mark (0: none), as `ip route get ADDR mark MARK` would say: the output interface's
 * index into *oif. Returns 0 or -errno (-ENETUNREACH: no route).
 */
int netlink_route_get(struct netlink *nl, const struct netlink_prefix *dst, uint32_t mark, int *oif);

#endif
