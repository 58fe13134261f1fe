/* SPDX-License-Identifier: MIT */
/* struct t2s_config: everything the user chose, validated; filled by cli.c. */
#ifndef T2S_TUN2SOCKS_CONFIG_H
#define T2S_TUN2SOCKS_CONFIG_H

#include <netinet/in.h>
#include <sys/socket.h>
#include <stdbool.h>
#include <stdint.h>

#include "log.h"
#include "netlink.h"
#include "proxy_set.h"
#include "proxy_url.h"

/*
 * 65535: the kernel then hands over (and takes) TCP segments of up to 64 KiB, a
 * fortieth of the per-packet work of 1500 for lwIP, for our syscalls and for the
 * kernel's own TCP processing on the TUN side. Forwarded traffic is unaffected: TCP
 * peers behind a smaller MTU announce a smaller MSS. See docs/ARCHITECTURE.md.
 */
#define CONFIG_DEFAULT_MTU 65535
#define CONFIG_MIN_MTU 1280
#define CONFIG_MAX_MTU 65535
#define CONFIG_DEFAULT_TUN "tun2socks0"
#define CONFIG_DEFAULT_READY_TIMEOUT 30.0 /* --ready-timeout (the command under systemd) */
#define CONFIG_DEFAULT_CONNECT_TIMEOUT 10.0
#define CONFIG_DEFAULT_IDLE_TIMEOUT 7440.0 /* RFC 5382 REQ-5: 2 h 4 min for established TCP */
#define CONFIG_DEFAULT_MAX_FLOWS 16384
#define CONFIG_DEFAULT_UDP_TIMEOUT 60.0
/* Packets the kernel may queue toward us: enough for several 1 MiB windows of small
 * segments, so bursts are absorbed instead of dropped (the default is 500). */
#define CONFIG_TUN_TXQUEUELEN 8192

enum config_dns_mode {
	CONFIG_DNS_UDP = 0, /* queries are UDP like any other: relayed through the proxy */
	CONFIG_DNS_TCP,     /* queries to port 53 go over TCP through CONNECT */
	CONFIG_DNS_FAKE_IP, /* A/AAAA answered locally from a pool; names sent to the proxy */
};

/* What UDP other than locally answered DNS does (--udp). */
enum config_udp_mode {
	CONFIG_UDP_AUTO = 0,       /* UDP ASSOCIATE while the proxy relays; else as DNS_OVER_TCP */
	CONFIG_UDP_ASSOCIATE,      /* always UDP ASSOCIATE, never fall back */
	CONFIG_UDP_DNS_OVER_TCP,   /* no association: DNS over TCP, other UDP refused (ICMP) */
	CONFIG_UDP_BLOCK,          /* no association: all UDP refused (ICMP), DNS per --dns only */
};

/* Ready associations kept for new UDP mappings (--udp-pool). */
#define CONFIG_DEFAULT_UDP_POOL 4
#define CONFIG_MAX_UDP_POOL 64

/* The fake-IP pools: RFC 2544's benchmarking range (rarely used by real networks, and
 * used the same way by other tools) and a ULA /64 chosen for this program. */
#define CONFIG_DEFAULT_FAKE_NET4 "198.18.0.0/15"
#define CONFIG_DEFAULT_FAKE_NET6 "fd00:7432:7373::/64"

/* --uid or --exclude-uid ranges. */
#define CONFIG_MAX_UID_RANGES 8
/* --cgroup or --exclude-cgroup paths, and the longest. */
#define CONFIG_MAX_CGROUPS 8
#define CONFIG_CGROUP_PATH_MAX 256
/* User exclusions from capture (--exclude). */
#define CONFIG_MAX_EXCLUDE 32
/* The TUN's addresses in the capture modes when --address/--address6 are not given:
 * TEST-NET-1 and a ULA next to the fake-ip pool, never the address of anything real. */
#define CONFIG_CAPTURE_ADDR4 "192.0.2.1"
#define CONFIG_CAPTURE_ADDR6 "fd00:7432:7374::1"
/* The nameserver a command's resolv.conf names when the host's are all on loopback
 * (systemd-resolved's 127.0.0.53): routed into the TUN and answered by tun2socks
 * itself (dns_stub.h). TEST-NET-1 again: nothing real can have it. */
#define CONFIG_DNS_STUB_ADDR4 "192.0.2.53"

/* --proxy given several times: the first is proxy, the others follow in order. */
#define CONFIG_MAX_PROXIES PROXY_SET_MAX

struct t2s_config {
	struct proxy_url proxy;
	struct proxy_url backup[CONFIG_MAX_PROXIES - 1]; /* the 2nd, 3rd, ... --proxy */
	unsigned n_backup;
	enum proxy_set_policy proxy_policy; /* --proxy-policy (several proxies) */
	double proxy_check_interval;        /* --proxy-check-interval: background checks, seconds */
	double proxy_check_timeout;         /* --proxy-check-timeout */
	unsigned proxy_fall, proxy_rise;    /* --proxy-fall, --proxy-rise */
	char tun_name[16];
	bool tun_named; /* --tun was given */
	int tun_fd; /* -1: open tun_name */
	unsigned mtu;
	bool has_address4, has_address6;
	struct in_addr address4;
	unsigned prefix4;
	struct in6_addr address6;
	unsigned prefix6;
	double connect_timeout;
	double idle_timeout;
	double udp_timeout; /* idle time after which a UDP mapping and its association end */
	unsigned max_flows;
	size_t max_memory; /* --max-memory in bytes; 0: derived from max_flows (mem_budget.h) */
	unsigned fwmark;
	bool offload; /* virtio-net header with TSO/checksum offload on the TUN */
	enum config_dns_mode dns_mode;
	enum config_udp_mode udp_mode;
	unsigned udp_pool; /* spare ready associations; 0 disables the pool */
	struct sockaddr_storage udp_relay; /* --udp-relay; ss_family AF_UNSPEC when unset */
	struct in_addr fake_net4;
	unsigned fake_prefix4;
	struct in6_addr fake_net6;
	unsigned fake_prefix6;
	enum log_level log_level;
	const char *auth_file; /* --proxy-auth-file, read by main */
	char proxy_ca[4096];   /* --proxy-ca: PEM CA file for a TLS proxy; "" for the system store */
	bool has_proxy_pin;    /* --proxy-pin was given */
	uint8_t proxy_pin[32]; /* SHA-256 of the proxy certificate's SubjectPublicKeyInfo */
	bool proxy_given;      /* --proxy was given (on the command line or in the file) */
	const char *config_file; /* --config FILE (cli/cli_file.h), NULL: none */
	bool print_config;     /* --print-config: print the effective configuration, exit */

	/* Capture modes (capture.h, netns.h). */
	bool auto_route;   /* whole host: policy routing into the TUN */
	bool kill_switch;  /* what bypasses the TUN is refused, even after we die */
	struct netlink_prefix exclude[CONFIG_MAX_EXCLUDE];
	unsigned n_exclude;
	bool exclude_dns;    /* --exclude-dns: DNS to excluded destinations is not captured either */
	int uid_select;      /* enum capture_select: 0 everyone, 1 --uid, 2 --exclude-uid */
	struct netlink_uid_range uids[CONFIG_MAX_UID_RANGES];
	unsigned n_uids;
	int cgroup_select;   /* enum capture_select: 0 every process, 3 --cgroup, 4 --exclude-cgroup */
	char cgroups[CONFIG_MAX_CGROUPS][CONFIG_CGROUP_PATH_MAX]; /* as given: resolved at start */
	unsigned n_cgroups;
	bool resolved_off;   /* --resolved off: systemd-resolved is not told about the TUN (resolved_link.h) */
	char share_from[16]; /* LAN interface whose forwarded traffic is captured; "" for none */
	const char *netns;   /* --netns PATH|NAME: the TUN lives there */
	char **command;      /* after "--": run in a namespace of its own (NULL-terminated) */
	const char *control; /* --control PATH: the control socket (NULL: the default path) */
	const char *metrics; /* --metrics ADDR:PORT: serve /metrics (NULL: off) */
	struct netlink_prefix dns_server; /* nameserver for the command's resolv.conf; family 0: the host's */
	bool dns_stub;              /* set by main: the command's resolv.conf, or resolved's TUN link, names dns_stub4 */
	struct in_addr dns_stub4;   /* CONFIG_DNS_STUB_ADDR4, answered by dns_stub.c */
	const char *user;      /* --user: drop privileges to it once set up (NULL: stay) */
	const char *group;     /* --group: instead of the user's primary group */
	double ready_timeout;  /* --ready-timeout: READY=1 at the latest this long after start */
	struct t2s_endpoint check_target; /* `check --check-target`; type NONE when not given */
	bool check_json;       /* `check --json` */
};

void config_defaults(struct t2s_config *cfg);

/* "user:password" (password may contain ':') into cfg->proxy. Returns 0 or -EINVAL. */
int config_set_credentials(struct t2s_config *cfg, const char *userpass, const char **why);

/*
 * A reload (SIGHUP): copies into running what a running engine can take for its new
 * flows (the proxy and its credentials, connect-, idle- and udp-timeout, max-flows,
 * log-level, dns udp <-> tcp). Every other option that differs keeps running's value
 * and is named to refused (once each: "mtu", "exclude", ...). Pure. Returns how many
 * options were taken.
 */
typedef void (*config_refused_fn)(void *arg, const char *option);

/*
 * Whether next's proxy may replace running's live: the same kind and TLS or not (the
 * UDP mode and the TLS context were chosen for them at start) and, for a TLS proxy,
 * the same host (the name its certificate is checked against). Else "proxy" is refused.
 * Pure.
 */
bool config_proxy_live_ok(const struct t2s_config *running, const struct t2s_config *next);

unsigned config_merge_live(struct t2s_config *running, const struct t2s_config *next, config_refused_fn refused,
			   void *arg);

#endif
