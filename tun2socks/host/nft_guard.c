/* SPDX-License-Identifier: MIT */
/* The nftables guard for interface-bound sockets, built with libnftnl; see nft_guard.h. */
#include "nft_guard.h"

#include <arpa/inet.h>
#include <errno.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_conntrack_tuple_common.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>

#include <libmnl/libmnl.h>
#include <libnftnl/chain.h>
#include <libnftnl/common.h>
#include <libnftnl/expr.h>
#include <libnftnl/rule.h>
#include <libnftnl/table.h>

#define CHAIN "output"
#define SELECT_CHAIN "select"
#define POST_CHAIN "post"
#define NAT_CHAIN "masq"
/* Ahead of the guard (priority 0), like iptables' mangle table. */
#define SELECT_PRIO (-150)
/* Source NAT's usual place. */
#define NAT_PRIO 100
/* A batch holds the table, its chain and a few dozen rules of a few hundred bytes. */
#define BATCH_MAX (64 * 1024)

struct nft_guard {
	struct mnl_socket *sock; /* owns the table unless it is persistent */
	unsigned portid;
	uint32_t seq;
	char table[IFNAMSIZ + sizeof(NFT_GUARD_PREFIX)];
	/* Both hold netlink messages, read in place as struct nlmsghdr. */
	_Alignas(struct nlmsghdr) char buf[BATCH_MAX];
	_Alignas(struct nlmsghdr) char rbuf[16384]; /* acks: 20 bytes and the request's header each */
};

void
nft_guard_table_name(const char *tun, char *buf, size_t len)
{
	snprintf(buf, len, NFT_GUARD_PREFIX "%s", tun);
}

/* ------------------------------------------------------------------ expressions */

/* Each adder returns false when out of memory; the rule is then freed whole. */
static bool
add(struct nftnl_rule *r, struct nftnl_expr *e)
{
	if (e == NULL)
		return false;
	nftnl_rule_add_expr(r, e);
	return true;
}

static bool
meta(struct nftnl_rule *r, uint32_t key)
{
	struct nftnl_expr *e = nftnl_expr_alloc("meta");

	if (e != NULL) {
		nftnl_expr_set_u32(e, NFTNL_EXPR_META_KEY, key);
		nftnl_expr_set_u32(e, NFTNL_EXPR_META_DREG, NFT_REG_1);
	}
	return add(r, e);
}

static bool
payload(struct nftnl_rule *r, uint32_t base, uint32_t offset, uint32_t len)
{
	struct nftnl_expr *e = nftnl_expr_alloc("payload");

	if (e != NULL) {
		nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_DREG, NFT_REG_1);
		nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_BASE, base);
		nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_OFFSET, offset);
		nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_LEN, len);
	}
	return add(r, e);
}

static bool
cmp(struct nftnl_rule *r, uint32_t op, const void *data, uint32_t len)
{
	struct nftnl_expr *e = nftnl_expr_alloc("cmp");

	if (e != NULL) {
		nftnl_expr_set_u32(e, NFTNL_EXPR_CMP_SREG, NFT_REG_1);
		nftnl_expr_set_u32(e, NFTNL_EXPR_CMP_OP, op);
		nftnl_expr_set(e, NFTNL_EXPR_CMP_DATA, data, len);
	}
	return add(r, e);
}

static bool
cmp_u8(struct nftnl_rule *r, uint32_t op, uint8_t v)
{
	return cmp(r, op, &v, 1);
}

/* reg1 = reg1 & mask (len bytes). */
static bool
mask(struct nftnl_rule *r, const void *m, uint32_t len)
{
	static const uint8_t zero[16];
	struct nftnl_expr *e = nftnl_expr_alloc("bitwise");

	if (e != NULL) {
		nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_SREG, NFT_REG_1);
		nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_DREG, NFT_REG_1);
		nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_LEN, len);
		nftnl_expr_set(e, NFTNL_EXPR_BITWISE_MASK, m, len);
		nftnl_expr_set(e, NFTNL_EXPR_BITWISE_XOR, zero, len);
	}
	return add(r, e);
}

/* reg1 = reg1 | bits, for a 32-bit register: (reg1 & ~bits) ^ bits. */
static bool
set_bits(struct nftnl_rule *r, uint32_t bits)
{
	uint32_t m = ~bits;
	struct nftnl_expr *e = nftnl_expr_alloc("bitwise");

	if (e != NULL) {
		nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_SREG, NFT_REG_1);
		nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_DREG, NFT_REG_1);
		nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_LEN, 4);
		nftnl_expr_set(e, NFTNL_EXPR_BITWISE_MASK, &m, 4);
		nftnl_expr_set(e, NFTNL_EXPR_BITWISE_XOR, &bits, 4);
	}
	return add(r, e);
}

static bool
meta_set(struct nftnl_rule *r, uint32_t key)
{
	struct nftnl_expr *e = nftnl_expr_alloc("meta");

	if (e != NULL) {
		nftnl_expr_set_u32(e, NFTNL_EXPR_META_KEY, key);
		nftnl_expr_set_u32(e, NFTNL_EXPR_META_SREG, NFT_REG_1);
	}
	return add(r, e);
}

static bool
ct_mark(struct nftnl_rule *r)
{
	struct nftnl_expr *e = nftnl_expr_alloc("ct");

	if (e != NULL) {
		nftnl_expr_set_u32(e, NFTNL_EXPR_CT_KEY, NFT_CT_MARK);
		nftnl_expr_set_u32(e, NFTNL_EXPR_CT_DREG, NFT_REG_1);
	}
	return add(r, e);
}

static bool
ct_mark_set(struct nftnl_rule *r)
{
	struct nftnl_expr *e = nftnl_expr_alloc("ct");

	if (e != NULL) {
		nftnl_expr_set_u32(e, NFTNL_EXPR_CT_KEY, NFT_CT_MARK);
		nftnl_expr_set_u32(e, NFTNL_EXPR_CT_SREG, NFT_REG_1);
	}
	return add(r, e);
}

/* reg1 (32 bits, host order) into network order, so that ranges compare as numbers. */
static bool
hton32(struct nftnl_rule *r)
{
	struct nftnl_expr *e = nftnl_expr_alloc("byteorder");

	if (e != NULL) {
		nftnl_expr_set_u32(e, NFTNL_EXPR_BYTEORDER_SREG, NFT_REG_1);
		nftnl_expr_set_u32(e, NFTNL_EXPR_BYTEORDER_DREG, NFT_REG_1);
		nftnl_expr_set_u32(e, NFTNL_EXPR_BYTEORDER_OP, NFT_BYTEORDER_HTON);
		nftnl_expr_set_u32(e, NFTNL_EXPR_BYTEORDER_LEN, 4);
		nftnl_expr_set_u32(e, NFTNL_EXPR_BYTEORDER_SIZE, 4);
	}
	return add(r, e);
}

/* The socket's user in u. */
static bool
skuid_range(struct nftnl_rule *r, const struct netlink_uid_range *u)
{
	uint32_t from = htonl(u->start), to = htonl(u->end);
	struct nftnl_expr *e;

	if (!meta(r, NFT_META_SKUID) || !hton32(r))
		return false;
	e = nftnl_expr_alloc("range");
	if (e != NULL) {
		nftnl_expr_set_u32(e, NFTNL_EXPR_RANGE_SREG, NFT_REG_1);
		nftnl_expr_set_u32(e, NFTNL_EXPR_RANGE_OP, NFT_RANGE_EQ);
		nftnl_expr_set(e, NFTNL_EXPR_RANGE_FROM_DATA, &from, 4);
		nftnl_expr_set(e, NFTNL_EXPR_RANGE_TO_DATA, &to, 4);
	}
	return add(r, e);
}

/* The packet's socket is in cg's subtree: its ancestor at cg's level is cg. */
static bool
socket_cgroup(struct nftnl_rule *r, const struct cgroup_path_id *cg)
{
	uint64_t id = cg->id;
	struct nftnl_expr *e = nftnl_expr_alloc("socket");

	if (e != NULL) {
		nftnl_expr_set_u32(e, NFTNL_EXPR_SOCKET_KEY, NFT_SOCKET_CGROUPV2);
		nftnl_expr_set_u32(e, NFTNL_EXPR_SOCKET_DREG, NFT_REG_1);
		nftnl_expr_set_u32(e, NFTNL_EXPR_SOCKET_LEVEL, cg->level);
	}
	return add(r, e) && cmp(r, NFT_CMP_EQ, &id, sizeof(id));
}

/* The packet goes the way its connection's first packet went (not a reply). */
static bool
ct_original(struct nftnl_rule *r)
{
	struct nftnl_expr *e = nftnl_expr_alloc("ct");

	if (e != NULL) {
		nftnl_expr_set_u32(e, NFTNL_EXPR_CT_KEY, NFT_CT_DIRECTION);
		nftnl_expr_set_u32(e, NFTNL_EXPR_CT_DREG, NFT_REG_1);
	}
	return add(r, e) && cmp_u8(r, NFT_CMP_EQ, IP_CT_DIR_ORIGINAL);
}

static bool
masquerade(struct nftnl_rule *r)
{
	return add(r, nftnl_expr_alloc("masq"));
}

/* The 32-bit register reg1, loaded before, has all of want within m. */
static bool
bits_are(struct nftnl_rule *r, uint32_t m, uint32_t want)
{
	return mask(r, &m, 4) && cmp(r, NFT_CMP_EQ, &want, 4);
}

static bool
verdict(struct nftnl_rule *r, uint32_t v)
{
	struct nftnl_expr *e = nftnl_expr_alloc("immediate");

	if (e != NULL) {
		nftnl_expr_set_u32(e, NFTNL_EXPR_IMM_DREG, NFT_REG_VERDICT);
		nftnl_expr_set_u32(e, NFTNL_EXPR_IMM_VERDICT, v);
	}
	return add(r, e);
}

static bool
verdict_accept(struct nftnl_rule *r)
{
	return verdict(r, NF_ACCEPT);
}

/*
 * Refused so that the sender learns at once: a TCP reset for TCP (ECONNREFUSED), ICMP
 * or ICMPv6 administratively prohibited for the rest (EACCES, EHOSTUNREACH).
 */
static bool
verdict_reject(struct nftnl_rule *r, bool tcp)
{
	struct nftnl_expr *e = nftnl_expr_alloc("reject");

	if (e != NULL) {
		nftnl_expr_set_u32(e, NFTNL_EXPR_REJECT_TYPE, tcp ? NFT_REJECT_TCP_RST : NFT_REJECT_ICMPX_UNREACH);
		nftnl_expr_set_u8(e, NFTNL_EXPR_REJECT_CODE, tcp ? 0 : NFT_REJECT_ICMPX_ADMIN_PROHIBITED);
	}
	return add(r, e);
}

static bool
oifname(struct nftnl_rule *r, const char *name)
{
	char padded[IFNAMSIZ] = {0};

	snprintf(padded, sizeof(padded), "%s", name);
	return meta(r, NFT_META_OIFNAME) && cmp(r, NFT_CMP_EQ, padded, sizeof(padded));
}

/* reg1, loaded with the output interface's name, is not name. */
static bool
oifname_not(struct nftnl_rule *r, const char *name)
{
	char padded[IFNAMSIZ] = {0};

	snprintf(padded, sizeof(padded), "%s", name);
	return cmp(r, NFT_CMP_NEQ, padded, sizeof(padded));
}

static bool
prefix(struct nftnl_rule *r, const struct netlink_prefix *p)
{
	uint8_t m[16] = {0};
	uint32_t len = p->family == AF_INET ? 4 : 16;
	unsigned i;

	for (i = 0; i < p->len; i++)
		m[i / 8] |= (uint8_t)(0x80u >> (i % 8));
	return meta(r, NFT_META_NFPROTO) && cmp_u8(r, NFT_CMP_EQ, p->family == AF_INET ? NFPROTO_IPV4 : NFPROTO_IPV6) &&
	       payload(r, NFT_PAYLOAD_NETWORK_HEADER, p->family == AF_INET ? 16 : 24, len) && mask(r, m, len) &&
	       cmp(r, NFT_CMP_EQ, &p->addr, len);
}

/* ------------------------------------------------------------------ batches */

static struct nlmsghdr *
put_hdr(struct nft_guard *g, struct mnl_nlmsg_batch *b, uint16_t type, uint16_t flags)
{
	return nftnl_nlmsg_build_hdr(mnl_nlmsg_batch_current(b), type, NFPROTO_INET, flags | NLM_F_ACK, g->seq++);
}

/* Collects one acknowledgement per acked message of the batch sent: 0 or the first error. */
static int
collect(struct nft_guard *g, unsigned acks)
{
	char *rbuf = g->rbuf;
	int first_err = 0;
	ssize_t n;

	while (acks > 0) {
		struct nlmsghdr *nlh;
		int len;

		n = mnl_socket_recvfrom(g->sock, rbuf, sizeof(g->rbuf));
		if (n < 0)
			return errno == EAGAIN || errno == EWOULDBLOCK ? -ETIMEDOUT : -errno;
		len = (int)n;
		for (nlh = (struct nlmsghdr *)rbuf; mnl_nlmsg_ok(nlh, len); nlh = mnl_nlmsg_next(nlh, &len)) {
			const struct nlmsgerr *e;

			if (nlh->nlmsg_type != NLMSG_ERROR)
				continue;
			e = mnl_nlmsg_get_payload(nlh);
			if (e->error != 0 && first_err == 0)
				first_err = e->error;
			if (e->error != 0)
				return first_err; /* the batch is void: later messages may not answer */
			acks--;
		}
	}
	return first_err;
}

/* Sends the batch and collects one acknowledgement per acked message: 0 or the first error. */
static int
transact(struct nft_guard *g, struct mnl_nlmsg_batch *b, unsigned acks)
{
	if (mnl_socket_sendto(g->sock, mnl_nlmsg_batch_head(b), mnl_nlmsg_batch_size(b)) < 0)
		return -errno;
	return collect(g, acks);
}

static struct nft_guard *
guard_open(void)
{
	struct timeval tv = {.tv_sec = 5};
	struct nft_guard *g = calloc(1, sizeof(*g));
	int saved;

	if (g == NULL)
		return NULL;
	g->sock = mnl_socket_open2(NETLINK_NETFILTER, SOCK_CLOEXEC);
	if (g->sock == NULL)
		goto err_free;
	/* The kernel always answers; a bound wait keeps a surprise from hanging the start. */
	if (setsockopt(mnl_socket_get_fd(g->sock), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0 ||
	    mnl_socket_bind(g->sock, 0, MNL_SOCKET_AUTOPID) < 0)
		goto err_close;
	g->portid = mnl_socket_get_portid(g->sock);
	g->seq = (uint32_t)time(NULL);
	return g;

err_close:
	saved = errno;
	mnl_socket_close(g->sock);
	errno = saved;
err_free:
	saved = errno;
	free(g);
	errno = saved;
	return NULL;
}

static void
guard_close(struct nft_guard *g)
{
	mnl_socket_close(g->sock);
	free(g);
}

static struct nftnl_table *
table_new(const char *name, uint32_t flags)
{
	struct nftnl_table *t = nftnl_table_alloc();

	if (t == NULL)
		return NULL;
	nftnl_table_set_u32(t, NFTNL_TABLE_FAMILY, NFPROTO_INET);
	nftnl_table_set_str(t, NFTNL_TABLE_NAME, name);
	nftnl_table_set_u32(t, NFTNL_TABLE_FLAGS, flags);
	return t;
}

/* Appends the table message of type; false when out of memory. */
static bool
put_table(struct nft_guard *g, struct mnl_nlmsg_batch *b, uint16_t type, uint16_t flags, uint32_t tflags)
{
	struct nftnl_table *t = table_new(g->table, tflags);
	struct nlmsghdr *nlh;

	if (t == NULL)
		return false;
	nlh = put_hdr(g, b, type, flags);
	nftnl_table_nlmsg_build_payload(nlh, t);
	nftnl_table_free(t);
	return mnl_nlmsg_batch_next(b);
}

static bool
put_chain(struct nft_guard *g, struct mnl_nlmsg_batch *b, const char *name, const char *type, uint32_t hook,
	  int prio)
{
	struct nftnl_chain *c = nftnl_chain_alloc();
	struct nlmsghdr *nlh;

	if (c == NULL)
		return false;
	nftnl_chain_set_u32(c, NFTNL_CHAIN_FAMILY, NFPROTO_INET);
	nftnl_chain_set_str(c, NFTNL_CHAIN_TABLE, g->table);
	nftnl_chain_set_str(c, NFTNL_CHAIN_NAME, name);
	nftnl_chain_set_str(c, NFTNL_CHAIN_TYPE, type);
	nftnl_chain_set_u32(c, NFTNL_CHAIN_HOOKNUM, hook);
	nftnl_chain_set_s32(c, NFTNL_CHAIN_PRIO, prio);
	nftnl_chain_set_u32(c, NFTNL_CHAIN_POLICY, NF_ACCEPT);
	nlh = put_hdr(g, b, NFT_MSG_NEWCHAIN, NLM_F_CREATE);
	nftnl_chain_nlmsg_build_payload(nlh, c);
	nftnl_chain_free(c);
	return mnl_nlmsg_batch_next(b);
}

static struct nftnl_rule *
rule_in(const struct nft_guard *g, const char *chain)
{
	struct nftnl_rule *r = nftnl_rule_alloc();

	if (r == NULL)
		return NULL;
	nftnl_rule_set_u32(r, NFTNL_RULE_FAMILY, NFPROTO_INET);
	nftnl_rule_set_str(r, NFTNL_RULE_TABLE, g->table);
	nftnl_rule_set_str(r, NFTNL_RULE_CHAIN, chain);
	return r;
}

/* Appends r (ok: its expressions were all added) and frees it. */
static bool
put_rule(struct nft_guard *g, struct mnl_nlmsg_batch *b, struct nftnl_rule *r, bool ok)
{
	struct nlmsghdr *nlh;

	if (r == NULL)
		return false;
	if (ok) {
		nlh = put_hdr(g, b, NFT_MSG_NEWRULE, NLM_F_CREATE | NLM_F_APPEND);
		nftnl_rule_nlmsg_build_payload(nlh, r);
		ok = mnl_nlmsg_batch_next(b);
	}
	nftnl_rule_free(r);
	return ok;
}

/*
 * The guard, in order: through the TUN or loopback; ours (marked); IPv6 neighbour
 * discovery; DNS refused (unless exclude_dns); excluded destinations; anything else
 * refused (TCP with a reset). In the output chain (post false) the users not captured
 * and the selection's marked packets come after ours: they were rerouted after this
 * hook took the output interface. In "post" (post true) only the packets of the
 * captured cgroups' sockets are guarded, by their final interface, and dropped (no
 * reject in postrouting). Returns the number of messages or 0 when out of memory or space.
 */
static unsigned
put_rules(struct nft_guard *g, struct mnl_nlmsg_batch *b, const struct nft_guard_params *p, bool post)
{
	static const uint8_t l4[] = {IPPROTO_UDP, IPPROTO_TCP};
	const char *chain = post ? POST_CHAIN : CHAIN;
	uint16_t dns = htons(53);
	struct nftnl_rule *r;
	unsigned n = 0, i;

	if (post) {
		uint32_t zero = 0;

		r = rule_in(g, chain);
		if (!put_rule(g, b, r, r != NULL && meta(r, NFT_META_MARK) && mask(r, &p->mark_socket, 4) &&
					       cmp(r, NFT_CMP_EQ, &zero, 4) && verdict_accept(r)))
			return 0;
		n++;
	}
	r = rule_in(g, chain);
	if (!put_rule(g, b, r, r != NULL && oifname(r, p->tun) && verdict_accept(r)))
		return 0;
	r = rule_in(g, chain);
	if (!put_rule(g, b, r, r != NULL && oifname(r, "lo") && verdict_accept(r)))
		return 0;
	n += 2;
	if (p->fwmark != 0) {
		r = rule_in(g, chain);
		if (!put_rule(g, b, r, r != NULL && meta(r, NFT_META_MARK) && mask(r, &p->fwmark, 4) &&
					       cmp(r, NFT_CMP_EQ, &p->fwmark, 4) && verdict_accept(r)))
			return 0;
		n++;
	}
	/* The users not captured. */
	for (i = 0; !post && p->mark_captured != 0 && i < p->n_direct_uids; i++) {
		r = rule_in(g, chain);
		if (!put_rule(g, b, r, r != NULL && skuid_range(r, &p->direct_uids[i]) &&
					       verdict_accept(r)))
			return 0;
		n++;
	}
	/* Marked by the select chain, so rerouted by the mark after this hook's output
	 * interface was set: the oifname above still names the first route's. */
	if (!post && p->mark_captured != 0) {
		uint32_t marks = p->mark_captured | p->mark_direct | p->mark_socket, zero = 0;

		r = rule_in(g, chain);
		if (!put_rule(g, b, r, r != NULL && meta(r, NFT_META_MARK) && mask(r, &marks, 4) &&
					       cmp(r, NFT_CMP_NEQ, &zero, 4) && verdict_accept(r)))
			return 0;
		n++;
	}
	/* Router/neighbour solicitations and advertisements, redirects (133..137). */
	r = rule_in(g, chain);
	if (!put_rule(g, b, r, r != NULL && meta(r, NFT_META_L4PROTO) && cmp_u8(r, NFT_CMP_EQ, IPPROTO_ICMPV6) &&
				       payload(r, NFT_PAYLOAD_TRANSPORT_HEADER, 0, 1) && cmp_u8(r, NFT_CMP_GTE, 133) &&
				       cmp_u8(r, NFT_CMP_LTE, 137) && verdict_accept(r)))
		return 0;
	n++;
	for (i = 0; !p->exclude_dns && i < sizeof(l4); i++) {
		r = rule_in(g, chain);
		if (!put_rule(g, b, r, r != NULL && meta(r, NFT_META_L4PROTO) && cmp_u8(r, NFT_CMP_EQ, l4[i]) &&
					       payload(r, NFT_PAYLOAD_TRANSPORT_HEADER, 2, 2) &&
					       cmp(r, NFT_CMP_EQ, &dns, 2) &&
					       (post ? verdict(r, NF_DROP) : verdict_reject(r, l4[i] == IPPROTO_TCP))))
			return 0;
		n++;
	}
	for (i = 0; i < p->n_exclude; i++) {
		r = rule_in(g, chain);
		if (!put_rule(g, b, r, r != NULL && prefix(r, &p->exclude[i]) && verdict_accept(r)))
			return 0;
		n++;
	}
	if (post) {
		r = rule_in(g, chain);
		return put_rule(g, b, r, r != NULL && verdict(r, NF_DROP)) ? n + 1 : 0;
	}
	r = rule_in(g, chain);
	if (!put_rule(g, b, r, r != NULL && meta(r, NFT_META_L4PROTO) && cmp_u8(r, NFT_CMP_EQ, IPPROTO_TCP) &&
				       verdict_reject(r, true)))
		return 0;
	r = rule_in(g, chain);
	if (!put_rule(g, b, r, r != NULL && verdict_reject(r, false)))
		return 0;
	return n + 2;
}

/*
 * The select chain: our own sockets are left alone; the packets of the selected cgroups'
 * sockets get mark_socket (with cgroups_captured, only in the connection's original
 * direction); packets a process's socket sends (they have an owner) route by their user
 * (capture.c's uidrange rules) or that mark and stay as they are; the others get their
 * connection's mark. Returns the number of messages or 0 when out of memory or space.
 */
static unsigned
put_select(struct nft_guard *g, struct mnl_nlmsg_batch *b, const struct nft_guard_params *p)
{
	struct nftnl_rule *r;
	unsigned n = 1, i;

	if (!put_chain(g, b, SELECT_CHAIN, "route", NF_INET_LOCAL_OUT, SELECT_PRIO))
		return 0;
	if (p->mark_socket != 0 && p->fwmark != 0) {
		r = rule_in(g, SELECT_CHAIN);
		if (!put_rule(g, b, r, r != NULL && meta(r, NFT_META_MARK) && mask(r, &p->fwmark, 4) &&
					       cmp(r, NFT_CMP_EQ, &p->fwmark, 4) && verdict_accept(r)))
			return 0;
		n++;
	}
	for (i = 0; p->mark_socket != 0 && i < p->n_cgroups; i++) {
		r = rule_in(g, SELECT_CHAIN);
		if (!put_rule(g, b, r, r != NULL && (!p->cgroups_captured || ct_original(r)) &&
					       socket_cgroup(r, &p->cgroups[i]) && meta(r, NFT_META_MARK) &&
					       set_bits(r, p->mark_socket) && meta_set(r, NFT_META_MARK)))
			return 0;
		n++;
	}
	r = rule_in(g, SELECT_CHAIN);
	if (!put_rule(g, b, r, r != NULL && meta(r, NFT_META_SKUID) && verdict_accept(r)))
		return 0;
	r = rule_in(g, SELECT_CHAIN);
	if (!put_rule(g, b, r, r != NULL && ct_mark(r) && bits_are(r, p->mark_captured, p->mark_captured) &&
				       meta(r, NFT_META_MARK) && set_bits(r, p->mark_captured) &&
				       meta_set(r, NFT_META_MARK)))
		return 0;
	r = rule_in(g, SELECT_CHAIN);
	if (!put_rule(g, b, r, r != NULL && ct_mark(r) && bits_are(r, p->mark_direct, p->mark_direct) &&
				       meta(r, NFT_META_MARK) && set_bits(r, p->mark_direct) &&
				       meta_set(r, NFT_META_MARK)))
		return 0;
	return n + 3;
}

/*
 * The post chain: a connection not marked yet is marked by its first packet's final
 * output interface; with cgroups_captured, the guard for the cgroups' packets follows.
 * Returns the number of messages or 0 when out of memory or space.
 */
static unsigned
put_post(struct nft_guard *g, struct mnl_nlmsg_batch *b, const struct nft_guard_params *p)
{
	uint32_t both = p->mark_captured | p->mark_direct;
	struct nftnl_rule *r;
	unsigned guard = 0;

	if (!put_chain(g, b, POST_CHAIN, "filter", NF_INET_POST_ROUTING, 0))
		return 0;
	r = rule_in(g, POST_CHAIN);
	if (!put_rule(g, b, r, r != NULL && ct_mark(r) && bits_are(r, both, 0) && oifname(r, p->tun) &&
				       ct_mark(r) && set_bits(r, p->mark_captured) && ct_mark_set(r)))
		return 0;
	r = rule_in(g, POST_CHAIN);
	if (!put_rule(g, b, r, r != NULL && ct_mark(r) && bits_are(r, both, 0) && ct_mark(r) &&
				       set_bits(r, p->mark_direct) && ct_mark_set(r)))
		return 0;
	if (p->mark_socket != 0 && p->cgroups_captured && (guard = put_rules(g, b, p, true)) == 0)
		return 0;
	return 3 + guard;
}

/* The exempt cgroups' packets leave with the TUN's source address: masqueraded. */
static unsigned
put_nat(struct nft_guard *g, struct mnl_nlmsg_batch *b, const struct nft_guard_params *p)
{
	struct nftnl_rule *r;

	if (!put_chain(g, b, NAT_CHAIN, "nat", NF_INET_POST_ROUTING, NAT_PRIO))
		return 0;
	r = rule_in(g, NAT_CHAIN);
	if (!put_rule(g, b, r, r != NULL && meta(r, NFT_META_MARK) && bits_are(r, p->mark_socket, p->mark_socket) &&
				       meta(r, NFT_META_OIFNAME) && oifname_not(r, p->tun) && oifname_not(r, "lo") &&
				       masquerade(r)))
		return 0;
	return 2;
}

/*
 * The whole transaction for p into g->buf: its size, and in *acks the number of messages
 * the kernel acknowledges. -E2BIG when out of memory or space.
 */
static int
build(struct nft_guard *g, const struct nft_guard_params *p, bool persistent, size_t *size, unsigned *acks)
{
	bool cgroups = p->mark_captured != 0 && p->mark_socket != 0;
	unsigned rules = 0, select = 0, post = 0, nat = 0;
	struct mnl_nlmsg_batch *b;
	int err = 0;

	nft_guard_table_name(p->tun, g->table, sizeof(g->table));
	b = mnl_nlmsg_batch_start(g->buf, sizeof(g->buf));
	if (b == NULL)
		return -ENOMEM;
	nftnl_batch_begin(mnl_nlmsg_batch_current(b), g->seq++);
	mnl_nlmsg_batch_next(b);
	/* Create-if-missing, delete, create: one transaction replaces whatever was there.
	 * With --cgroup the output chain stays empty: "post" guards the captured packets. */
	if (!put_table(g, b, NFT_MSG_NEWTABLE, NLM_F_CREATE, 0) || !put_table(g, b, NFT_MSG_DELTABLE, 0, 0) ||
	    !put_table(g, b, NFT_MSG_NEWTABLE, NLM_F_CREATE | NLM_F_EXCL, persistent ? 0 : NFT_TABLE_F_OWNER) ||
	    !put_chain(g, b, CHAIN, "filter", NF_INET_LOCAL_OUT, 0) ||
	    (!(cgroups && p->cgroups_captured) && (rules = put_rules(g, b, p, false)) == 0) ||
	    (p->mark_captured != 0 && ((select = put_select(g, b, p)) == 0 || (post = put_post(g, b, p)) == 0)) ||
	    (cgroups && !p->cgroups_captured && (nat = put_nat(g, b, p)) == 0)) {
		err = -E2BIG;
		goto out;
	}
	nftnl_batch_end(mnl_nlmsg_batch_current(b), g->seq++);
	mnl_nlmsg_batch_next(b);
	*acks = 4 + rules + select + post + nat;
	*size = mnl_nlmsg_batch_size(b);
out:
	mnl_nlmsg_batch_stop(b);
	return err;
}

int
nft_guard_build(const struct nft_guard_params *p, bool persistent, void *buf, size_t len, size_t *size)
{
	struct nft_guard *g = calloc(1, sizeof(*g));
	unsigned acks;
	int err;

	if (g == NULL)
		return -ENOMEM;
	err = build(g, p, persistent, size, &acks);
	if (err == 0 && *size > len)
		err = -ENOSPC;
	if (err == 0)
		memcpy(buf, g->buf, *size);
	free(g);
	return err;
}

struct nft_guard *
nft_guard_new(const struct nft_guard_params *p, bool persistent)
{
	struct nft_guard *g;
	unsigned acks = 0;
	size_t size = 0;
	int err;

	g = guard_open();
	if (g == NULL)
		return NULL;
	if ((err = build(g, p, persistent, &size, &acks)) < 0)
		goto err_close;
	if (mnl_socket_sendto(g->sock, g->buf, size) < 0) {
		err = -errno;
		goto err_close;
	}
	if ((err = collect(g, acks)) < 0)
		goto err_close;
	return g;

err_close:
	guard_close(g);
	errno = -err;
	return NULL;
}

static int
delete_table(struct nft_guard *g)
{
	struct mnl_nlmsg_batch *b = mnl_nlmsg_batch_start(g->buf, sizeof(g->buf));
	int err;

	if (b == NULL)
		return -ENOMEM;
	nftnl_batch_begin(mnl_nlmsg_batch_current(b), g->seq++);
	mnl_nlmsg_batch_next(b);
	if (!put_table(g, b, NFT_MSG_DELTABLE, 0, 0)) {
		mnl_nlmsg_batch_stop(b);
		return -ENOMEM;
	}
	nftnl_batch_end(mnl_nlmsg_batch_current(b), g->seq++);
	mnl_nlmsg_batch_next(b);
	err = transact(g, b, 1);
	mnl_nlmsg_batch_stop(b);
	return err;
}

void
nft_guard_free(struct nft_guard *g, bool remove)
{
	if (g == NULL)
		return;
	if (remove)
		(void)delete_table(g);
	guard_close(g); /* an owned table goes with the socket */
}

int
nft_guard_remove(const char *name)
{
	struct nft_guard *g = guard_open();
	int err;

	if (g == NULL)
		return -errno;
	snprintf(g->table, sizeof(g->table), "%s", name);
	err = delete_table(g);
	guard_close(g);
	return err;
}
