/* SPDX-License-Identifier: MIT */
/*
 * The guard for what policy routing cannot capture: sockets bound to an interface
 * (SO_BINDTODEVICE, IP_UNICAST_IF, IPV6_UNICAST_IF) only use routes through that
 * interface, so the TUN's table never matches them, and for IPv4 the kernel sends
 * them on-link out of that interface whenever the rule lookup fails (a `prohibit`
 * rule included). The guard is an nftables table of our own, "inet tun2socks-<tun>",
 * whose output chain refuses (ICMP administratively prohibited) any packet leaving
 * through another interface than the TUN and loopback unless it is ours (fwmark), IPv6
 * neighbour discovery, or to a destination the capture excludes on purpose (DNS to
 * those only with exclude_dns). Unbound traffic never meets it: policy routing sends
 * it into the TUN first.
 *
 * With a selection of users (mark_captured != 0) the table also has a `route` chain,
 * "select", ahead of the guard: it marks each connection (conntrack mark) on its first
 * packet, mark_captured when that went into the TUN and mark_direct otherwise, and gives
 * that mark to every packet no process's socket sends (the kernel's answers for closed
 * sockets), which the change of mark reroutes by capture.c's fwmark rules. The guard then
 * lets the users not captured leave directly, those packets of their connections too.
 * The connection's mark is decided in a postrouting chain, "post", where the output
 * interface is the final one (a mark set in "select" reroutes after the output hook's
 * interface was taken).
 *
 * A selection of cgroups (mark_socket != 0) marks the packets of their sockets in
 * "select" (nftables' socket cgroupv2 match, per cgroup its level and id) with
 * mark_socket, which capture.c's rules route by. With cgroups_captured (--cgroup) only
 * those are captured: the connection was routed to the main table at connect() and the
 * mark moves it into the TUN, in the original direction only (a selected server's
 * replies stay direct); the output chain then has no rules (its interface test would
 * see the first route), and "post" guards the marked packets by their final interface,
 * dropping (postrouting cannot reject) what leaves elsewhere. Otherwise (--exclude-cgroup)
 * the mark moves the cgroups' packets out of the TUN, still with the TUN's source
 * address, so a nat chain, "masq", masquerades them on the interface they leave by.
 *
 * Two lifetimes: with the kill switch the table outlives the process like the rules
 * (capture.c records it; `tun2socks down` removes it); without it, the table is owned
 * by our netlink socket (NFT_TABLE_F_OWNER, Linux 5.12), so the kernel removes it the
 * moment the process dies, as it drops the TUN's routes.
 */
#ifndef T2S_TUN2SOCKS_NFT_GUARD_H
#define T2S_TUN2SOCKS_NFT_GUARD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cgroup_path.h"
#include "netlink.h"

#define NFT_GUARD_PREFIX "tun2socks-"

struct nft_guard_params {
	const char *tun;
	uint32_t fwmark;                      /* 0: none (the proxy sockets live elsewhere) */
	const struct netlink_prefix *exclude; /* what may leave directly (either family) */
	unsigned n_exclude;
	bool exclude_dns;                     /* DNS to those may leave too */
	uint32_t mark_captured, mark_direct;  /* the user selection's marks; 0: everyone is captured */
	const struct netlink_uid_range *direct_uids; /* the users whose sockets may leave directly */
	unsigned n_direct_uids;
	uint32_t mark_socket;                 /* the cgroups' sockets' mark; 0: no cgroup selection */
	bool cgroups_captured;                /* only they are captured (--cgroup); false: they are exempt */
	const struct cgroup_path_id *cgroups; /* with mark_socket (and mark_captured, mark_direct) */
	unsigned n_cgroups;
};

/* The table's name for tun into buf ("tun2socks-<tun>"). */
void nft_guard_table_name(const char *tun, char *buf, size_t len);

struct nft_guard;

/*
 * Creates (or atomically replaces) the table. persistent: an ordinary table, left in
 * place by nft_guard_free(g, false) and by a crash; otherwise owned by g's socket.
 * NULL with errno (EPROTONOSUPPORT: no nf_tables in this kernel).
 */
struct nft_guard *nft_guard_new(const struct nft_guard_params *p, bool persistent);
/*
 * The netlink batch nft_guard_new sends for p, into buf (BATCH_MAX, 64 KiB, always
 * fits): for tests. Pure. Returns 0 with *size, or -ENOMEM, -E2BIG, -ENOSPC.
 */
int nft_guard_build(const struct nft_guard_params *p, bool persistent, void *buf, size_t len, size_t *size);
/* Closes g; removes the table first when remove is true (an owned one goes anyway). */
void nft_guard_free(struct nft_guard *g, bool remove);

/* Removes the table named name (inet family). 0, -ENOENT when there is none, or -errno. */
int nft_guard_remove(const char *name);

#endif
