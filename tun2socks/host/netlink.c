/* SPDX-License-Identifier: MIT */
/* rtnetlink requests built and acknowledged with libmnl; see netlink.h. */
#include "netlink.h"

#include <errno.h>
#include <stdbool.h>
#include <linux/fib_rules.h>
#include <linux/if_addr.h>
#include <linux/if_link.h>
#include <linux/rtnetlink.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libmnl/libmnl.h>

struct netlink {
	struct mnl_socket *sock;
	unsigned portid;
	unsigned seq;
	/* One request or one reply at a time; requests here are a few hundred bytes. */
	char buf[16384];
};

struct netlink *
netlink_open(void)
{
	struct netlink *nl = calloc(1, sizeof(*nl));
	int saved;

	if (nl == NULL)
		return NULL;
	nl->sock = mnl_socket_open2(NETLINK_ROUTE, SOCK_CLOEXEC);
	if (nl->sock == NULL)
		goto err_free;
	if (mnl_socket_bind(nl->sock, 0, MNL_SOCKET_AUTOPID) < 0)
		goto err_close;
	nl->portid = mnl_socket_get_portid(nl->sock);
	nl->seq = (unsigned)time(NULL);
	return nl;

err_close:
	saved = errno;
	mnl_socket_close(nl->sock);
	errno = saved;
err_free:
	saved = errno;
	free(nl);
	errno = saved;
	return NULL;
}

void
netlink_close(struct netlink *nl)
{
	if (nl == NULL)
		return;
	mnl_socket_close(nl->sock);
	free(nl);
}

static struct nlmsghdr *
request(struct netlink *nl, uint16_t type, uint16_t flags)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(nl->buf);

	nlh->nlmsg_type = type;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK | flags;
	nlh->nlmsg_seq = ++nl->seq;
	return nlh;
}

/* Sends the request and waits for its acknowledgement: 0 or the kernel's -errno. */
static int
transact(struct netlink *nl, struct nlmsghdr *nlh)
{
	unsigned seq = nlh->nlmsg_seq;
	ssize_t n;
	int rc;

	if (mnl_socket_sendto(nl->sock, nlh, nlh->nlmsg_len) < 0)
		return -errno;
	for (;;) {
		n = mnl_socket_recvfrom(nl->sock, nl->buf, sizeof(nl->buf));
		if (n < 0)
			return -errno;
		rc = mnl_cb_run(nl->buf, (size_t)n, seq, nl->portid, NULL, NULL);
		if (rc < 0)
			return errno != 0 ? -errno : -EPROTO;
		if (rc == MNL_CB_STOP)
			return 0;
	}
}

static size_t
addr_len(int family)
{
	return family == AF_INET ? sizeof(struct in_addr) : sizeof(struct in6_addr);
}

int
netlink_link_up(struct netlink *nl, int ifindex, unsigned mtu)
{
	struct nlmsghdr *nlh = request(nl, RTM_NEWLINK, 0);
	struct ifinfomsg *ifi = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifi));

	ifi->ifi_family = AF_UNSPEC;
	ifi->ifi_index = ifindex;
	ifi->ifi_flags = IFF_UP;
	ifi->ifi_change = IFF_UP;
	if (mtu != 0)
		mnl_attr_put_u32(nlh, IFLA_MTU, mtu);
	return transact(nl, nlh);
}

int
netlink_link_set_netns(struct netlink *nl, int ifindex, int netns_fd)
{
	struct nlmsghdr *nlh = request(nl, RTM_NEWLINK, 0);
	struct ifinfomsg *ifi = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifi));

	ifi->ifi_family = AF_UNSPEC;
	ifi->ifi_index = ifindex;
	mnl_attr_put_u32(nlh, IFLA_NET_NS_FD, (uint32_t)netns_fd);
	return transact(nl, nlh);
}

int
netlink_addr_add(struct netlink *nl, int ifindex, const struct netlink_prefix *addr)
{
	struct nlmsghdr *nlh = request(nl, RTM_NEWADDR, NLM_F_CREATE | NLM_F_EXCL);
	struct ifaddrmsg *ifa = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifa));
	int err;

	ifa->ifa_family = (uint8_t)addr->family;
	ifa->ifa_prefixlen = (uint8_t)addr->len;
	/* A TUN has no neighbours to collide with: duplicate detection would only delay
	 * the address by a second. */
	ifa->ifa_flags = addr->family == AF_INET6 ? IFA_F_NODAD : 0;
	ifa->ifa_index = (unsigned)ifindex;
	mnl_attr_put(nlh, IFA_LOCAL, addr_len(addr->family), &addr->addr);
	mnl_attr_put(nlh, IFA_ADDRESS, addr_len(addr->family), &addr->addr);
	err = transact(nl, nlh);
	return err == -EEXIST ? 0 : err;
}

static int
route_msg(struct netlink *nl, const struct netlink_route *r, bool add)
{
	struct nlmsghdr *nlh = request(nl, add ? RTM_NEWROUTE : RTM_DELROUTE, add ? NLM_F_CREATE | NLM_F_EXCL : 0);
	struct rtmsg *rtm = mnl_nlmsg_put_extra_header(nlh, sizeof(*rtm));
	unsigned oif = 0;

	if (r->type == NETLINK_ROUTE_UNICAST && r->oif[0] != '\0') {
		oif = if_nametoindex(r->oif);
		if (oif == 0)
			return -ENODEV;
	}
	rtm->rtm_family = (uint8_t)r->family;
	rtm->rtm_dst_len = (uint8_t)r->dst.len;
	rtm->rtm_table = r->table < 256 ? (uint8_t)r->table : RT_TABLE_UNSPEC;
	rtm->rtm_protocol = RTPROT_BOOT;
	rtm->rtm_type = r->type == NETLINK_ROUTE_UNREACHABLE ? RTN_UNREACHABLE : RTN_UNICAST;
	/* As ip(8) does: a deletion matches any scope; a route without gateway is on-link. */
	if (!add)
		rtm->rtm_scope = RT_SCOPE_NOWHERE;
	else
		rtm->rtm_scope = r->type == NETLINK_ROUTE_UNICAST ? RT_SCOPE_LINK : RT_SCOPE_UNIVERSE;
	mnl_attr_put_u32(nlh, RTA_TABLE, r->table);
	if (r->dst.len > 0)
		mnl_attr_put(nlh, RTA_DST, addr_len(r->family), &r->dst.addr);
	if (oif != 0)
		mnl_attr_put_u32(nlh, RTA_OIF, oif);
	return transact(nl, nlh);
}

int
netlink_route_add(struct netlink *nl, const struct netlink_route *r)
{
	return route_msg(nl, r, true);
}

int
netlink_route_del(struct netlink *nl, const struct netlink_route *r)
{
	return route_msg(nl, r, false);
}

static int
rule_msg(struct netlink *nl, const struct netlink_rule *r, bool add)
{
	struct nlmsghdr *nlh = request(nl, add ? RTM_NEWRULE : RTM_DELRULE, add ? NLM_F_CREATE | NLM_F_EXCL : 0);
	struct fib_rule_hdr *frh = mnl_nlmsg_put_extra_header(nlh, sizeof(*frh));

	frh->family = (uint8_t)r->family;
	switch (r->action) {
	case NETLINK_RULE_LOOKUP:
		frh->action = FR_ACT_TO_TBL;
		frh->table = r->table < 256 ? (uint8_t)r->table : RT_TABLE_UNSPEC;
		mnl_attr_put_u32(nlh, FRA_TABLE, r->table);
		break;
	case NETLINK_RULE_UNREACHABLE:
		frh->action = FR_ACT_UNREACHABLE;
		break;
	case NETLINK_RULE_PROHIBIT:
		frh->action = FR_ACT_PROHIBIT;
		break;
	}
	mnl_attr_put_u32(nlh, FRA_PRIORITY, r->priority);
	if (r->fwmask != 0) {
		mnl_attr_put_u32(nlh, FRA_FWMARK, r->fwmark);
		mnl_attr_put_u32(nlh, FRA_FWMASK, r->fwmask);
	}
	if (r->iif[0] != '\0')
		mnl_attr_put_strz(nlh, FRA_IIFNAME, r->iif);
	if (r->to.family != 0) {
		frh->dst_len = (uint8_t)r->to.len;
		mnl_attr_put(nlh, FRA_DST, addr_len(r->to.family), &r->to.addr);
	}
	if (r->ip_proto != 0)
		mnl_attr_put_u8(nlh, FRA_IP_PROTO, r->ip_proto);
	if (r->dport != 0) {
		struct fib_rule_port_range range = {.start = r->dport, .end = r->dport};

		mnl_attr_put(nlh, FRA_DPORT_RANGE, sizeof(range), &range);
	}
	if (r->uid_set) {
		struct fib_rule_uid_range range = {.start = r->uid.start, .end = r->uid.end};

		mnl_attr_put(nlh, FRA_UID_RANGE, sizeof(range), &range);
	}
	return transact(nl, nlh);
}

int
netlink_rule_add(struct netlink *nl, const struct netlink_rule *r)
{
	return rule_msg(nl, r, true);
}

int
netlink_rule_del(struct netlink *nl, const struct netlink_rule *r)
{
	return rule_msg(nl, r, false);
}

struct route_get {
	unsigned seq;
	int oif;
	bool got;
};

static int
route_get_attr_cb(const struct nlattr *attr, void *data)
{
	struct route_get *g = data;

	if (mnl_attr_get_type(attr) == RTA_OIF && mnl_attr_validate(attr, MNL_TYPE_U32) == 0)
		g->oif = (int)mnl_attr_get_u32(attr);
	return MNL_CB_OK;
}

static int
route_get_cb(const struct nlmsghdr *nlh, void *data)
{
	struct route_get *g = data;

	if (nlh->nlmsg_type != RTM_NEWROUTE)
		return MNL_CB_OK;
	g->got = true;
	mnl_attr_parse(nlh, sizeof(struct rtmsg), route_get_attr_cb, g);
	return MNL_CB_STOP;
}

int
netlink_route_get(struct netlink *nl, const struct netlink_prefix *dst, uint32_t mark, int *oif)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(nl->buf);
	struct route_get g = {.oif = 0};
	struct rtmsg *rtm;
	ssize_t n;
	int rc;

	nlh->nlmsg_type = RTM_GETROUTE;
	nlh->nlmsg_flags = NLM_F_REQUEST;
	nlh->nlmsg_seq = g.seq = ++nl->seq;
	rtm = mnl_nlmsg_put_extra_header(nlh, sizeof(*rtm));
	rtm->rtm_family = (unsigned char)dst->family;
	rtm->rtm_dst_len = dst->family == AF_INET ? 32 : 128;
	mnl_attr_put(nlh, RTA_DST, addr_len(dst->family), &dst->addr);
	if (mark != 0)
		mnl_attr_put_u32(nlh, RTA_MARK, mark);
	if (mnl_socket_sendto(nl->sock, nlh, nlh->nlmsg_len) < 0)
		return -errno;
	while (!g.got) {
		n = mnl_socket_recvfrom(nl->sock, nl->buf, sizeof(nl->buf));
		if (n < 0)
			return -errno;
		errno = 0;
		rc = mnl_cb_run(nl->buf, (size_t)n, g.seq, nl->portid, route_get_cb, &g);
		if (rc < 0)
			return errno != 0 ? -errno : -EPROTO;
		if (rc == MNL_CB_STOP && !g.got)
			return -EPROTO; /* an acknowledgement without the route */
	}
	*oif = g.oif;
	return g.oif > 0 ? 0 : -ENETUNREACH;
}
