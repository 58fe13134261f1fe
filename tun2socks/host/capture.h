/* SPDX-License-Identifier: MIT */
/*
 * Capture policy: which routes, policy rules and sysctls send a host's (or a LAN's, or a
 * namespace's) traffic into the TUN, and the state record that lets a later run or
 * `tun2socks down` remove them after a crash. The plan and the record format are pure;
 * capture_start/capture_stop/capture_down apply and undo them in the current network
 * namespace.
 *
 * Rules use priorities CAPTURE_PRIO-7..CAPTURE_PRIO+5 and table CAPTURE_TABLE:
 *   -7  fwmark C/C lookup CAPTURE_TABLE    (--uid/--exclude-uid: the later packets of a
 *                                           captured connection that no user's socket sends)
 *   -6  fwmark C/C prohibit                (... with --kill-switch)
 *   -5  fwmark D/D lookup main             (... of a connection that went out directly)
 *   -5  iif lo uidrange U lookup main      (the users not captured: --exclude-uid's ranges,
 *                                           or those outside --uid's; locally sent only)
 *   -5  iif lo fwmark 0/S lookup main      (--cgroup: what the cgroups' sockets do not send)
 *   -5  fwmark S/S lookup main             (--exclude-cgroup: what they send)
 *   -4  fwmark M/M lookup main             (our own sockets, DNS lookups included, ...
 *   -3  fwmark M/M unreachable             ... before the DNS rules)
 *   -2  [iif IFACE] ipproto udp|tcp dport 53 lookup CAPTURE_TABLE
 *                                          (DNS, whatever --exclude says; not with --exclude-dns)
 *   -1  [iif IFACE] ipproto udp|tcp dport 53 prohibit
 *                                          (as +5: DNS never falls through to +0)
 *   +0  to EXCLUDED lookup main            (loopback, link-local, multicast, --exclude)
 *   +1  fwmark M/M lookup main             (our own proxy connections)
 *   +2  fwmark M/M unreachable             (... never fall through into the TUN)
 *   +3  iif IFACE lookup CAPTURE_TABLE     (--share-from)
 *   +3  iif TUN lookup main                (--share-from with whole host: the replies
 *                                           to the LAN's clients go to the LAN)
 *   +4  lookup CAPTURE_TABLE               (whole host)
 *   +5  [iif IFACE] prohibit               (--kill-switch; iif IFACE always with --share-from:
 *                                           forwarded traffic fails closed after a crash)
 * With --auto-route, an nftables table (nft_guard.h) refuses what no rule can capture:
 * sockets bound to an interface. With the kill switch it is recorded (CAPTURE_OP_NFT)
 * and outlives us like the rules; without it, the kernel removes it when we die.
 * With a selection of users the nftables table also holds a `route` chain that marks each
 * connection (conntrack mark) on its first packet by where it went: C
 * (CAPTURE_MARK_CAPTURED) when into the TUN, D (CAPTURE_MARK_DIRECT) otherwise, and gives
 * that mark to every later packet that no process's socket sends: the kernel answers for
 * closed sockets (final ACKs, RSTs from TIME_WAIT) as uid 0, which the uidrange rules alone
 * would send the other way. A selection of cgroups has no rule of its own in the kernel:
 * the select chain marks their sockets' packets with S (CAPTURE_MARK_SOCKET), which the
 * rules at -5 route by; with --cgroup the TUN then gets loose rp_filter (a recorded
 * sysctl), since those connections enter it with the main table's source address.
 * CAPTURE_TABLE holds one default route per family through the TUN. When the TUN
 * disappears (tun2socks dies) the kernel drops those routes, the lookup at +4 finds
 * nothing, and with the kill switch the packet meets +5 instead of the main table.
 */
#ifndef T2S_TUN2SOCKS_CAPTURE_H
#define T2S_TUN2SOCKS_CAPTURE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cgroup_path.h"
#include "netlink.h"

#define CAPTURE_PRIO 7430
#define CAPTURE_TABLE 7432
/* Mark given to proxy connections with --auto-route when --fwmark is not set. */
#define CAPTURE_DEFAULT_FWMARK 0x7432
#define CAPTURE_MAX_OPS 192
/* Conntrack and packet marks of the user selection (see above); never in --fwmark. */
#define CAPTURE_MARK_CAPTURED 0x01000000u
#define CAPTURE_MARK_DIRECT 0x02000000u
#define CAPTURE_MARK_SOCKET 0x04000000u /* the selected cgroups' sockets */
#define CAPTURE_MAX_UID_RANGES 8
#define CAPTURE_MAX_CGROUPS 8

/* Which users' traffic --auto-route captures. */
enum capture_select {
	CAPTURE_SELECT_ALL = 0,     /* everyone */
	CAPTURE_SELECT_UID,         /* --uid: only the users of the ranges */
	CAPTURE_SELECT_EXCLUDE_UID, /* --exclude-uid: everyone but the users of the ranges */
	CAPTURE_SELECT_CGROUP,      /* --cgroup: only the processes of the cgroups' subtrees */
	CAPTURE_SELECT_EXCLUDE_CGROUP, /* --exclude-cgroup: every process but theirs */
};

#define CAPTURE_STATE_DIR "/run/tun2socks"

enum capture_op_kind {
	CAPTURE_OP_RULE,
	CAPTURE_OP_ROUTE,
	CAPTURE_OP_SYSCTL,
	CAPTURE_OP_NFT, /* the nftables guard (nft_guard.h) that outlives us: kill switch only */
};

/* A sysctl under /proc/sys/ set to value; old is what it was ("" before apply). */
struct capture_sysctl {
	char key[96]; /* e.g. net/ipv4/conf/eth0/forwarding */
	char value[8];
	char old[8];
	bool optional; /* a missing key (older kernel, no IPv6) is not an error */
};

struct capture_op {
	enum capture_op_kind kind;
	union {
		struct netlink_rule rule;
		struct netlink_route route;
		struct capture_sysctl sysctl;
		char nft_table[48]; /* "tun2socks-<tun>", family inet */
	} u;
};

struct capture_plan {
	unsigned n;
	struct capture_op op[CAPTURE_MAX_OPS];
};

struct capture_params {
	const char *tun;          /* the TUN's name */
	bool whole_host;          /* every destination of the namespace into the TUN */
	bool kill_switch;         /* what does not go into the TUN is refused */
	uint32_t fwmark;          /* mark of our proxy sockets; 0 when they live in another namespace */
	const char *share_from;   /* forward this interface's clients into the TUN; NULL for none */
	const struct netlink_prefix *exclude; /* user exclusions (either family) */
	unsigned n_exclude;
	bool exclude_dns;         /* --exclude-dns: DNS to excluded destinations bypasses the TUN */
	bool ipv6;                /* the namespace has IPv6 */
	long owner_uid;           /* who removes the record at exit (--user), or -1: we, as we are now */
	enum capture_select select; /* with whole_host only */
	const struct netlink_uid_range *uids; /* at most CAPTURE_MAX_UID_RANGES */
	unsigned n_uids;
	const struct cgroup_path_id *cgroups; /* CAPTURE_SELECT_*CGROUP: at most CAPTURE_MAX_CGROUPS */
	unsigned n_cgroups;
};

/*
 * Parses "UID" or "FIRST-LAST" (decimal, FIRST <= LAST, below 4294967295, which is no
 * user). Returns 0 or -EINVAL.
 */
int capture_uid_range_parse(const char *s, struct netlink_uid_range *out);

/*
 * The users not captured, as ranges in ascending order, into out (room for
 * CAPTURE_MAX_UID_RANGES + 1): for CAPTURE_SELECT_EXCLUDE_UID the ranges of p merged, for
 * CAPTURE_SELECT_UID what lies outside them (uids 0..4294967294). Pure. Returns how many
 * (0: every user is captured), or -EINVAL (no ranges, too many, or CAPTURE_SELECT_ALL).
 */
int capture_uid_direct(const struct capture_params *p, struct netlink_uid_range *out);

/*
 * Parses "ADDR[/LEN]" (IPv4 or IPv6; no length means a single address) and clears the
 * bits past LEN. Returns 0 or -EINVAL.
 */
int capture_prefix_parse(const char *s, struct netlink_prefix *out);
/* "ADDR/LEN" into buf (at least 48 bytes). */
void capture_prefix_format(const struct netlink_prefix *p, char *buf, size_t len);

/* Computes the ops, in the order they are applied (undo runs backwards). Returns 0 or -E2BIG. */
int capture_plan_build(const struct capture_params *p, struct capture_plan *plan);

/* One op as one line of the state record (no newline). Returns 0 or -ENOSPC. */
int capture_op_format(const struct capture_op *op, char *buf, size_t len);
/* The inverse of capture_op_format. Returns 0 or -EINVAL. */
int capture_op_parse(const char *line, struct capture_op *op);

/* The process a record belongs to: a PID alone may be reused by any process later. */
struct capture_owner {
	long pid;
	unsigned long long start; /* field 22 of /proc/PID/stat (clock ticks after boot); 0: not known */
};

/* The whole record: header, pid, start time, one op per line. Returns the length or -ENOSPC. */
int capture_record_format(const struct capture_plan *plan, const struct capture_owner *owner, char *buf,
			  size_t len);
/* Parses a record (NUL-terminated; the start line may be missing, from older versions). 0 or -EINVAL. */
int capture_record_parse(const char *text, struct capture_plan *plan, struct capture_owner *owner);

/* Parses the text of /proc/PID/stat: the state letter and the start time (field 22). 0 or -EINVAL. */
int capture_stat_parse(const char *stat, char *state, unsigned long long *start);
/*
 * Pure: whether the record's owner still runs, given the text of /proc/<owner->pid>/stat
 * now (NULL: no such process) and our own PID. A zombie is dead; so is a process with
 * another start time (the PID was reused); an unparsable stat counts as alive.
 */
bool capture_owner_alive(const struct capture_owner *owner, const char *stat, long self);

struct capture;

/*
 * Applies the plan for p in the current network namespace. A record left by an earlier
 * run for the same TUN and namespace is lifted first (the ops the new plan shares with it
 * stay in place, so a kill switch never opens in between); -EBUSY if that run still lives.
 * The record is written to CAPTURE_STATE_DIR/net<inode>-<tun>/state before anything is
 * changed; that directory is given to p->owner_uid, so that the run may remove the record
 * after dropping privileges (the record itself stays root's: a record root did not write
 * is never applied). NULL with errno; every failure is logged here, once, with the step
 * that failed, so the caller does not log it again.
 */
struct capture *capture_start(const struct capture_params *p);
/*
 * A reload's new capture (p as for capture_start; in practice other --exclude): the
 * record first names the old and the new plan's ops, then the new plan's ops go in and
 * only then the old ones it lacks go out, so nothing leaves uncaptured in between; the
 * record then names the new plan. Needs root (the record must stay root's) and the
 * namespace capture_start ran in. Returns 0, or -errno (logged here, once) with the old
 * capture in place.
 */
int capture_update(struct capture *c, const struct capture_params *p);

/*
 * Undoes everything and removes the record; must run in the namespace capture_start ran
 * in. NULL is allowed.
 */
void capture_stop(struct capture *c);

/*
 * `tun2socks down`: undoes the records of the current namespace (only the one for tun
 * unless NULL), calling lifted (if not NULL) with each lifted record's TUN name, for
 * what the caller set on that TUN beyond the record. Returns the number of records
 * lifted, or -errno.
 */
int capture_down(const char *tun, void (*lifted)(const char *tun, void *arg), void *arg);

/*
 * For a namespace of our own (one-command mode): loopback up and default routes of
 * both families through the TUN in the main table. Returns 0 or -errno.
 */
int capture_private_ns(const char *tun, bool ipv6);

/* What capture_resolv_conf decided. */
enum capture_resolv {
	CAPTURE_RESOLV_HOST = 0, /* the host's file serves as it is: nothing to mount */
	CAPTURE_RESOLV_OWN = 1,  /* out names server, or the host's nameservers off loopback */
	CAPTURE_RESOLV_STUB = 2, /* out names stub: the host had none but loopback ones */
};

/*
 * The resolv.conf for a namespace of our own, from the host's (host_text, may be NULL):
 * with server (family != 0) just that nameserver; otherwise the host's nameservers that
 * are not on loopback (nothing listens on the new namespace's loopback), with its other
 * lines; when no nameserver is left (systemd-resolved's 127.0.0.53 alone, or none at
 * all), the host's other lines and stub, an address routed into the TUN that tun2socks
 * answers itself. Returns a capture_resolv value, -ENOENT when nothing is left and
 * stub is NULL or family 0, -ENOSPC when out is too small.
 */
int capture_resolv_conf(const char *host_text, const struct netlink_prefix *server, const struct netlink_prefix *stub,
			char *out, size_t len);

/* True when the current network namespace has IPv6. */
bool capture_have_ipv6(void);

#endif
