/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for the nftables table nft_guard.c builds (nft_guard_build: the batch, not
 * sent): its chains (hook, priority, type) and each rule as a compact list of its
 * expressions, for everyone captured, a uid selection, --cgroup and --exclude-cgroup.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <libmnl/libmnl.h>
#include <libnftnl/chain.h>
#include <libnftnl/expr.h>
#include <libnftnl/rule.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>

#include "nft_guard.h"

static _Alignas(struct nlmsghdr) char batch[64 * 1024];
static char out[32768];

static void
addf(const char *fmt, ...)
{
	size_t n = strlen(out);
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(out + n, sizeof(out) - n, fmt, ap);
	va_end(ap);
}

static const char *
meta_name(uint32_t key)
{
	switch (key) {
	case NFT_META_MARK: return "mark";
	case NFT_META_SKUID: return "skuid";
	case NFT_META_OIFNAME: return "oifname";
	case NFT_META_L4PROTO: return "l4proto";
	case NFT_META_NFPROTO: return "nfproto";
	default: return "?";
	}
}

static int
expr_cb(struct nftnl_expr *e, void *data)
{
	const char *name = nftnl_expr_get_str(e, NFTNL_EXPR_NAME);
	uint32_t len;

	(void)data;
	if (strcmp(name, "meta") == 0) {
		addf(" %s%s", meta_name(nftnl_expr_get_u32(e, NFTNL_EXPR_META_KEY)),
		     nftnl_expr_is_set(e, NFTNL_EXPR_META_SREG) ? ":=" : "");
	} else if (strcmp(name, "ct") == 0) {
		uint32_t key = nftnl_expr_get_u32(e, NFTNL_EXPR_CT_KEY);

		addf(" ct.%s%s", key == NFT_CT_MARK ? "mark" : key == NFT_CT_DIRECTION ? "dir" : "?",
		     nftnl_expr_is_set(e, NFTNL_EXPR_CT_SREG) ? ":=" : "");
	} else if (strcmp(name, "socket") == 0) {
		addf(" socket.%s@%u", nftnl_expr_get_u32(e, NFTNL_EXPR_SOCKET_KEY) == NFT_SOCKET_CGROUPV2 ? "cgroupv2" : "?",
		     nftnl_expr_get_u32(e, NFTNL_EXPR_SOCKET_LEVEL));
	} else if (strcmp(name, "cmp") == 0) {
		const uint8_t *d = nftnl_expr_get(e, NFTNL_EXPR_CMP_DATA, &len);
		uint32_t op = nftnl_expr_get_u32(e, NFTNL_EXPR_CMP_OP);

		addf(" %s", op == NFT_CMP_EQ ? "==" : op == NFT_CMP_NEQ ? "!=" : op == NFT_CMP_GTE ? ">=" : "<=");
		if (len == IFNAMSIZ)
			addf("\"%s\"", (const char *)d);
		else if (len == 8) {
			uint64_t v;

			memcpy(&v, d, 8);
			addf("%llu", (unsigned long long)v);
		} else if (len == 4) {
			uint32_t v;

			memcpy(&v, d, 4);
			addf("0x%x", v);
		} else {
			for (uint32_t i = 0; i < len; i++)
				addf("%02x", d[i]);
		}
	} else if (strcmp(name, "bitwise") == 0) {
		const uint8_t *m = nftnl_expr_get(e, NFTNL_EXPR_BITWISE_MASK, &len);
		const uint8_t *x = nftnl_expr_get(e, NFTNL_EXPR_BITWISE_XOR, &len);
		uint32_t mv = 0, xv = 0;

		if (len == 4) {
			memcpy(&mv, m, 4);
			memcpy(&xv, x, 4);
			if (xv != 0)
				addf(" |0x%x", xv);
			else
				addf(" &0x%x", mv);
		} else {
			addf(" &");
		}
	} else if (strcmp(name, "immediate") == 0) {
		uint32_t v = nftnl_expr_get_u32(e, NFTNL_EXPR_IMM_VERDICT);

		addf(" %s", v == NF_ACCEPT ? "accept" : v == NF_DROP ? "drop" : "?");
	} else {
		addf(" %s", name);
	}
	return 0;
}

/* The batch for p as text: "chain NAME hook H prio P type T" and "NAME: exprs" lines. */
static const char *
show(const struct nft_guard_params *p)
{
	size_t size = 0;
	struct nlmsghdr *nlh;
	int len;

	out[0] = '\0';
	assert_int_equal(nft_guard_build(p, true, batch, sizeof(batch), &size), 0);
	len = (int)size;
	for (nlh = (struct nlmsghdr *)batch; mnl_nlmsg_ok(nlh, len); nlh = mnl_nlmsg_next(nlh, &len)) {
		uint16_t type = NFNL_MSG_TYPE(nlh->nlmsg_type);

		if (type == NFT_MSG_NEWCHAIN) {
			struct nftnl_chain *c = nftnl_chain_alloc();

			assert_int_equal(nftnl_chain_nlmsg_parse(nlh, c), 0);
			addf("chain %s hook %u prio %d type %s\n", nftnl_chain_get_str(c, NFTNL_CHAIN_NAME),
			     nftnl_chain_get_u32(c, NFTNL_CHAIN_HOOKNUM), nftnl_chain_get_s32(c, NFTNL_CHAIN_PRIO),
			     nftnl_chain_get_str(c, NFTNL_CHAIN_TYPE));
			nftnl_chain_free(c);
		} else if (type == NFT_MSG_NEWRULE) {
			struct nftnl_rule *r = nftnl_rule_alloc();

			assert_int_equal(nftnl_rule_nlmsg_parse(nlh, r), 0);
			addf("%s:", nftnl_rule_get_str(r, NFTNL_RULE_CHAIN));
			nftnl_expr_foreach(r, expr_cb, NULL);
			addf("\n");
			nftnl_rule_free(r);
		}
	}
	return out;
}

static const struct netlink_prefix *
exclusions(void)
{
	static struct netlink_prefix x[1];

	x[0].family = AF_INET;
	inet_pton(AF_INET, "127.0.0.0", &x[0].addr);
	x[0].len = 8;
	return x;
}

static void
test_everyone(void **state)
{
	struct nft_guard_params p = {.tun = "tun0", .fwmark = 0x7432, .exclude = exclusions(), .n_exclude = 1};

	(void)state;
	assert_string_equal(show(&p), "chain output hook 3 prio 0 type filter\n"
				      "output: oifname ==\"tun0\" accept\n"
				      "output: oifname ==\"lo\" accept\n"
				      "output: mark &0x7432 ==0x7432 accept\n"
				      "output: l4proto ==3a payload >=85 <=89 accept\n"
				      "output: l4proto ==11 payload ==0035 reject\n"
				      "output: l4proto ==06 payload ==0035 reject\n"
				      "output: nfproto ==02 payload &0xff ==0x7f accept\n"
				      "output: l4proto ==06 reject\n"
				      "output: reject\n");
}

/* Users: the connection's mark decided in "post", by the final interface. */
static void
test_uid(void **state)
{
	struct netlink_uid_range direct = {0, 999};
	struct nft_guard_params p = {
		.tun = "tun0", .fwmark = 0x7432, .exclude = exclusions(), .n_exclude = 1, .exclude_dns = true,
		.mark_captured = 0x1000000, .mark_direct = 0x2000000, .direct_uids = &direct, .n_direct_uids = 1,
	};

	(void)state;
	assert_string_equal(show(&p), "chain output hook 3 prio 0 type filter\n"
				      "output: oifname ==\"tun0\" accept\n"
				      "output: oifname ==\"lo\" accept\n"
				      "output: mark &0x7432 ==0x7432 accept\n"
				      "output: skuid byteorder range accept\n"
				      "output: mark &0x3000000 !=0x0 accept\n"
				      "output: l4proto ==3a payload >=85 <=89 accept\n"
				      "output: nfproto ==02 payload &0xff ==0x7f accept\n"
				      "output: l4proto ==06 reject\n"
				      "output: reject\n"
				      "chain select hook 3 prio -150 type route\n"
				      "select: skuid accept\n"
				      "select: ct.mark &0x1000000 ==0x1000000 mark |0x1000000 mark:=\n"
				      "select: ct.mark &0x2000000 ==0x2000000 mark |0x2000000 mark:=\n"
				      "chain post hook 4 prio 0 type filter\n"
				      "post: ct.mark &0x3000000 ==0x0 oifname ==\"tun0\" ct.mark |0x1000000 ct.mark:=\n"
				      "post: ct.mark &0x3000000 ==0x0 ct.mark |0x2000000 ct.mark:=\n");
}

/* --cgroup: their sockets marked S in the original direction; no output guard; "post"
 * guards the S packets by their final interface, dropping. */
static void
test_cgroup(void **state)
{
	struct cgroup_path_id cg[2] = {{4242, 2}, {77, 1}};
	struct nft_guard_params p = {
		.tun = "tun0", .fwmark = 0x7432, .exclude = exclusions(), .n_exclude = 1,
		.mark_captured = 0x1000000, .mark_direct = 0x2000000, .mark_socket = 0x4000000,
		.cgroups_captured = true, .cgroups = cg, .n_cgroups = 2,
	};

	(void)state;
	assert_string_equal(show(&p), "chain output hook 3 prio 0 type filter\n"
				      "chain select hook 3 prio -150 type route\n"
				      "select: mark &0x7432 ==0x7432 accept\n"
				      "select: ct.dir ==00 socket.cgroupv2@2 ==4242 mark |0x4000000 mark:=\n"
				      "select: ct.dir ==00 socket.cgroupv2@1 ==77 mark |0x4000000 mark:=\n"
				      "select: skuid accept\n"
				      "select: ct.mark &0x1000000 ==0x1000000 mark |0x1000000 mark:=\n"
				      "select: ct.mark &0x2000000 ==0x2000000 mark |0x2000000 mark:=\n"
				      "chain post hook 4 prio 0 type filter\n"
				      "post: ct.mark &0x3000000 ==0x0 oifname ==\"tun0\" ct.mark |0x1000000 ct.mark:=\n"
				      "post: ct.mark &0x3000000 ==0x0 ct.mark |0x2000000 ct.mark:=\n"
				      "post: mark &0x4000000 ==0x0 accept\n"
				      "post: oifname ==\"tun0\" accept\n"
				      "post: oifname ==\"lo\" accept\n"
				      "post: mark &0x7432 ==0x7432 accept\n"
				      "post: l4proto ==3a payload >=85 <=89 accept\n"
				      "post: l4proto ==11 payload ==0035 drop\n"
				      "post: l4proto ==06 payload ==0035 drop\n"
				      "post: nfproto ==02 payload &0xff ==0x7f accept\n"
				      "post: drop\n");
}

/* --exclude-cgroup: their sockets marked S both ways; the output guard lets S go; the
 * S packets masqueraded where they leave but by the TUN or loopback. */
static void
test_exclude_cgroup(void **state)
{
	struct cgroup_path_id cg = {4242, 2};
	struct nft_guard_params p = {
		.tun = "tun0", .fwmark = 0x7432, .exclude = exclusions(), .n_exclude = 1, .exclude_dns = true,
		.mark_captured = 0x1000000, .mark_direct = 0x2000000, .mark_socket = 0x4000000,
		.cgroups = &cg, .n_cgroups = 1,
	};
	const char *s;

	(void)state;
	s = show(&p);
	assert_non_null(strstr(s, "output: mark &0x7000000 !=0x0 accept\n"));
	assert_non_null(strstr(s, "select: mark &0x7432 ==0x7432 accept\n"
				  "select: socket.cgroupv2@2 ==4242 mark |0x4000000 mark:=\n"
				  "select: skuid accept\n"));
	assert_non_null(strstr(s, "chain post hook 4 prio 0 type filter\n"
				  "post: ct.mark &0x3000000 ==0x0 oifname ==\"tun0\" ct.mark |0x1000000 ct.mark:=\n"
				  "post: ct.mark &0x3000000 ==0x0 ct.mark |0x2000000 ct.mark:=\n"
				  "chain masq hook 4 prio 100 type nat\n"
				  "masq: mark &0x4000000 ==0x4000000 oifname !=\"tun0\" !=\"lo\" masq\n"));
	assert_null(strstr(s, "drop"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_everyone),
		cmocka_unit_test(test_uid),
		cmocka_unit_test(test_cgroup),
		cmocka_unit_test(test_exclude_cgroup),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
