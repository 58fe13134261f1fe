/* SPDX-License-Identifier: MIT */
/* getopt_long over argv; every value is range-checked and every error names the option. */
#include "cli.h"

#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <net/if.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "argv_scrub.h"
#include "capture.h"
#include "cidr.h"
#include "mem_budget.h"
#include "tls_pin.h"
#include "metrics_addr.h"

const char cli_usage[] =
	"Usage: tun2socks --proxy URL [options]\n"
	"       tun2socks --proxy URL [options] -- COMMAND [ARGS...]\n"
	"       tun2socks down [--tun NAME] [--netns PATH|NAME]\n"
	"       tun2socks check --proxy URL [--check-target HOST:PORT] [--dns-server ADDR]\n"
	"                       [--json]\n"
	"       tun2socks status [--tun NAME | --control PATH]\n"
	"       tun2socks flows [--tun NAME | --control PATH] [--sort COL] [--json] [--programs]\n"
	"       tun2socks top [--tun NAME | --control PATH] [--sort COL] [--programs]\n"
	"                             (see 'tun2socks flows --help' and docs/CONTROL.md)\n"
	"\n"
	"Captures the IP traffic of a TUN device and sends every TCP connection through a\n"
	"SOCKS5 proxy (CONNECT), and every UDP datagram through a UDP ASSOCIATE; or every\n"
	"TCP connection through an HTTP proxy (CONNECT), with DNS over TCP and no other UDP.\n"
	"https:// and socks5+tls:// reach the proxy through TLS (DNS over TCP, no other UDP).\n"
	"With -- COMMAND, runs COMMAND in a network namespace of its own whose only route\n"
	"is the TUN, and exits with its status. 'down' removes routes, rules and the kill\n"
	"switch that a run which did not stop cleanly left behind.\n"
	"\n"
	"  -p, --proxy URL            socks5://[user[:pass]@]host[:port] (port 1080 by default)\n"
	"                             or http://[user[:pass]@]host[:port] (HTTP CONNECT, Basic\n"
	"                             auth, port 8080 by default); https:// (port 443) and\n"
	"                             socks5+tls:// (port 1080) are the same inside TLS;\n"
	"                             host is an IPv4 address, [IPv6 address] or name;\n"
	"                             give it again for backup proxies (up to 8, one kind;\n"
	"                             one TLS proxy at most), checked in the background\n"
	"      --proxy-policy P       with several proxies, which serves new flows:\n"
	"                             first-healthy (default; the first one up in list\n"
	"                             order, so it fails back), failover (stays on the\n"
	"                             current one until it goes down) or round-robin\n"
	"                             (TCP rotates among those up)\n"
	"      --proxy-check-interval SEC  check each proxy this often (default 5)\n"
	"      --proxy-check-timeout SEC   a check not answered in SEC fails (default 3)\n"
	"      --proxy-fall N         failures in a row before a proxy is down (default 2)\n"
	"      --proxy-rise N         successes in a row before it is up again (default 2)\n"
	"      --proxy-auth-file FILE read user:password from the first line of FILE\n"
	"                             (or set TUN2SOCKS_PROXY_AUTH=user:password), so that\n"
	"                             credentials never show in the process list\n"
	"      --proxy-ca FILE        trust the PEM CA certificates in FILE for a TLS proxy\n"
	"                             (https://, socks5+tls://) instead of the system store\n"
	"      --proxy-pin sha256:PIN also require the proxy certificate's public key to be\n"
	"                             this one: Base64 (or hex) of the SHA-256 of its DER\n"
	"                             SubjectPublicKeyInfo (openssl x509 -pubkey -noout |\n"
	"                             openssl pkey -pubin -outform der | openssl dgst\n"
	"                             -sha256 -binary | base64)\n"
	"  -t, --tun NAME             TUN device to create, or persistent one to attach to\n"
	"                             (default " CONFIG_DEFAULT_TUN ")\n"
	"      --tun-fd N             use an already-open TUN file descriptor instead\n"
	"  -m, --mtu N                TUN MTU, 1280..65535 (default 65535)\n"
	"  -a, --address CIDR         IPv4 address for the TUN, e.g. " CONFIG_CAPTURE_ADDR4 "/32 (the\n"
	"                             default in a capture mode)\n"
	"  -6, --address6 CIDR        IPv6 address for the TUN, e.g. " CONFIG_CAPTURE_ADDR6 "/128\n"
	"                             (the default in a capture mode)\n"
	"      --connect-timeout SEC  give up connecting through the proxy (default 10)\n"
	"      --idle-timeout SEC     close TCP connections idle this long (default 7440)\n"
	"      --max-flows N          cap on concurrent TCP connections, and on UDP mappings\n"
	"                             (default 16384; a TCP connection beyond it gets RST,\n"
	"                             the least recently used UDP mapping goes)\n"
	"      --max-memory SIZE      bound on what connections buffer, e.g. 512M, 2G\n"
	"                             (K/M/G; default 32M + 64K per --max-flows, at most\n"
	"                             half the RAM: 1056M); near it windows shrink, past\n"
	"                             it new connections are refused at once\n"
	"      --udp-timeout SEC      end a UDP mapping idle this long (default 60)\n"
	"      --udp MODE             auto: UDP ASSOCIATE, checked at start; if the proxy\n"
	"                             cannot (REP 7, or closes on it: ssh -D) or never\n"
	"                             relays (seen only with --dns-server), as dns-over-tcp\n"
	"                             and checked again every 30 s (default);\n"
	"                             associate: always UDP ASSOCIATE;\n"
	"                             dns-over-tcp: DNS over TCP, other UDP refused at once\n"
	"                             (ICMP port unreachable);\n"
	"                             block: all UDP refused (DNS only as --dns answers it)\n"
	"      --udp-pool N           ready UDP associations kept for new mappings, 0..64\n"
	"                             (default 4; 0: one handshake per new mapping)\n"
	"      --udp-relay ADDR[:PORT] send UDP to this relay address (and port) instead of\n"
	"                             the proxy's BND.ADDR, e.g. for a proxy behind NAT\n"
	"      --dns MODE             udp: queries relayed like any UDP (default; over TCP\n"
	"                             when --udp falls back or says dns-over-tcp);\n"
	"                             tcp: queries to port 53 always sent over TCP;\n"
	"                             fake-ip: A/AAAA answered from a private pool and the\n"
	"                             names sent to the proxy (it resolves them)\n"
	"      --fake-ip-range CIDR   IPv4 pool for fake-ip (default " CONFIG_DEFAULT_FAKE_NET4 "); never\n"
	"                             hands out the TUN's or the proxy's address\n"
	"      --fake-ip-range6 CIDR  IPv6 pool for fake-ip (default " CONFIG_DEFAULT_FAKE_NET6 ")\n"
	"      --fwmark N             SO_MARK for proxy connections (policy routing)\n"
	"      --no-offload           plain TUN packets: no virtio-net header, no TSO\n"
	"      --user NAME            once the TUN is open, run as this user (and its\n"
	"                             primary group, or --group NAME), with no capability\n"
	"                             but CAP_NET_ADMIN for --fwmark or a capture mode;\n"
	"                             COMMAND runs as NAME too (under sudo, by default as\n"
	"                             $SUDO_USER; --user root keeps root)\n"
	"      --group NAME           group for --user\n"
	"      --ready-timeout SEC    under systemd (Type=notify): READY=1 once the TUN is up\n"
	"                             and the proxy answered, or after SEC seconds all the\n"
	"                             same, with a STATUS= saying it did not (default 30)\n"
	"      --check-target HOST:PORT\n"
	"                             check: the destination of the CONNECT check\n"
	"      --json                 check: one JSON object per check instead of text\n"
	"      --control PATH         the control socket that 'tun2socks status', 'flows' and\n"
	"                             'top' ask (default /run/tun2socks/net<netns>-<tun>.control,\n"
	"                             mode 0660, group --group's)\n"
	"      --metrics [ADDR:]PORT  serve Prometheus metrics at http://ADDR:PORT/metrics\n"
	"                             (ADDR 127.0.0.1 by default: they reveal traffic)\n"
	"\n"
	"Capture modes:\n"
	"      --auto-route           send all IPv4 and IPv6 traffic of the host into the TUN,\n"
	"                             except the proxy connections (marked with --fwmark,\n"
	"                             0x7432 by default) and excluded destinations;\n"
	"                             sockets bound to another interface are refused\n"
	"      --exclude CIDR         keep this destination out of the TUN (repeatable;\n"
	"                             loopback, link-local and multicast always are); DNS\n"
	"                             (port 53) to it is still captured: see --dns-server\n"
	"      --exclude-dns          let DNS to excluded and link-local servers bypass the\n"
	"                             TUN too (it reaches them unproxied: a leak of names)\n"
	"      --uid UID[-UID]        --auto-route captures only these users' traffic; other\n"
	"                             users' goes direct (repeatable, at most 8; uids)\n"
	"      --exclude-uid UID[-UID]\n"
	"                             --auto-route captures everyone's traffic but these\n"
	"                             users' (repeatable, at most 8)\n"
	"      --cgroup PATH          --auto-route captures only the processes of this cgroup\n"
	"                             (v2) and its subtree, e.g. system.slice/foo.service;\n"
	"                             the others go direct (repeatable, at most 8)\n"
	"      --exclude-cgroup PATH  --auto-route captures every process but those of this\n"
	"                             cgroup's subtree (repeatable, at most 8)\n"
	"      --resolved auto|off    with --auto-route, where systemd-resolved runs: give the\n"
	"                             TUN's link the DNS server (--dns-server, else tun2socks'\n"
	"                             own 192.0.2.53) and the routing domain ~. (auto, the\n"
	"                             default), so that its lookups go through the TUN\n"
	"      --kill-switch          refuse traffic that would bypass the TUN, also after\n"
	"                             tun2socks dies, until 'tun2socks down' or the next start\n"
	"      --share-from IFACE     send traffic forwarded from IFACE's clients (a LAN or\n"
	"                             hotspot) into the TUN\n"
	"      --netns PATH|NAME      create the TUN in that network namespace (/proc/PID/ns/net\n"
	"                             or /run/netns/NAME) with all its traffic going into it;\n"
	"                             proxy connections stay in ours\n"
	"      --dns-server ADDR      nameserver for COMMAND's resolv.conf (and resolved's for\n"
	"                             the TUN with --auto-route), reached through the proxy\n"
	"                             (default: the host's that are not on loopback;\n"
	"                             if none, as with systemd-resolved's 127.0.0.53, one of\n"
	"                             tun2socks' own that answers from the fake-IP pool with\n"
	"                             --dns fake-ip, else REFUSED); in any mode, what\n"
	"                             --udp auto checks the proxy's UDP relay with; with\n"
	"                             --auto-route/--share-from, where captured queries to\n"
	"                             excluded or link-local servers go (else: REFUSED)\n"
	"\n"
	"  -l, --log-level LEVEL      error, warn, info (default) or debug\n"
	"      --config FILE          read options from FILE first: 'name = value' per line,\n"
	"                             names as the long options, '#' comments; the command\n"
	"                             line overrides it (a repeatable option given there\n"
	"                             replaces the file's list); SIGHUP re-reads it\n"
	"                             (proxy-auth-file = cred:NAME reads systemd's\n"
	"                             $CREDENTIALS_DIRECTORY/NAME)\n"
	"      --print-config         print the effective configuration (passwords masked)\n"
	"                             and exit\n"
	"  -h, --help                 show this text\n"
	"  -V, --version              show the version\n"
	"\n"
	"Examples (each works as written, with your proxy's address):\n"
	"  sudo tun2socks --proxy socks5://127.0.0.1:1080 -- curl https://example.org/\n"
	"      one command, in a namespace whose only route is the TUN (ssh -D 1080 is a\n"
	"      SOCKS5 server on 127.0.0.1:1080)\n"
	"  sudo tun2socks --proxy socks5://10.0.0.2:1080 --auto-route --kill-switch\n"
	"      the whole host, with a proxy on another host; after a crash,\n"
	"      'sudo tun2socks down' lifts the kill switch\n"
	"  sudo tun2socks --proxy socks5://10.0.0.2:1080 --tun tun0 --address 192.0.2.1/32\n"
	"      only the TUN: route into it what it should carry, e.g.\n"
	"      sudo ip route add 203.0.113.0/24 dev tun0\n";

enum {
	OPT_AUTH_FILE = 256,
	OPT_PROXY_CA,
	OPT_PROXY_PIN,
	OPT_TUN_FD,
	OPT_CONNECT_TIMEOUT,
	OPT_IDLE_TIMEOUT,
	OPT_MAX_FLOWS,
	OPT_MAX_MEMORY,
	OPT_FWMARK,
	OPT_NO_OFFLOAD,
	OPT_UDP_TIMEOUT,
	OPT_DNS,
	OPT_UDP_RELAY,
	OPT_FAKE_IP_RANGE,
	OPT_FAKE_IP_RANGE6,
	OPT_UDP,
	OPT_UDP_POOL,
	OPT_AUTO_ROUTE,
	OPT_EXCLUDE,
	OPT_EXCLUDE_DNS,
	OPT_UID,
	OPT_EXCLUDE_UID,
	OPT_CGROUP,
	OPT_EXCLUDE_CGROUP,
	OPT_RESOLVED,
	OPT_KILL_SWITCH,
	OPT_SHARE_FROM,
	OPT_NETNS,
	OPT_DNS_SERVER,
	OPT_USER,
	OPT_GROUP,
	OPT_CONFIG,
	OPT_PRINT_CONFIG,
	OPT_READY_TIMEOUT,
	OPT_CHECK_TARGET,
	OPT_JSON,
	OPT_CONTROL,
	OPT_METRICS,
	OPT_PROXY_POLICY,
	OPT_PROXY_CHECK_INTERVAL,
	OPT_PROXY_CHECK_TIMEOUT,
	OPT_PROXY_FALL,
	OPT_PROXY_RISE,
};

static const char short_options[] = ":p:t:m:a:6:l:hV";

static const struct option options[] = {
	{"proxy", required_argument, NULL, 'p'},
	{"proxy-auth-file", required_argument, NULL, OPT_AUTH_FILE},
	{"proxy-ca", required_argument, NULL, OPT_PROXY_CA},
	{"proxy-pin", required_argument, NULL, OPT_PROXY_PIN},
	{"proxy-policy", required_argument, NULL, OPT_PROXY_POLICY},
	{"proxy-check-interval", required_argument, NULL, OPT_PROXY_CHECK_INTERVAL},
	{"proxy-check-timeout", required_argument, NULL, OPT_PROXY_CHECK_TIMEOUT},
	{"proxy-fall", required_argument, NULL, OPT_PROXY_FALL},
	{"proxy-rise", required_argument, NULL, OPT_PROXY_RISE},
	{"tun", required_argument, NULL, 't'},
	{"tun-fd", required_argument, NULL, OPT_TUN_FD},
	{"mtu", required_argument, NULL, 'm'},
	{"address", required_argument, NULL, 'a'},
	{"address6", required_argument, NULL, '6'},
	{"connect-timeout", required_argument, NULL, OPT_CONNECT_TIMEOUT},
	{"idle-timeout", required_argument, NULL, OPT_IDLE_TIMEOUT},
	{"max-flows", required_argument, NULL, OPT_MAX_FLOWS},
	{"max-memory", required_argument, NULL, OPT_MAX_MEMORY},
	{"udp-timeout", required_argument, NULL, OPT_UDP_TIMEOUT},
	{"dns", required_argument, NULL, OPT_DNS},
	{"udp-relay", required_argument, NULL, OPT_UDP_RELAY},
	{"udp", required_argument, NULL, OPT_UDP},
	{"udp-pool", required_argument, NULL, OPT_UDP_POOL},
	{"fake-ip-range", required_argument, NULL, OPT_FAKE_IP_RANGE},
	{"fake-ip-range6", required_argument, NULL, OPT_FAKE_IP_RANGE6},
	{"fwmark", required_argument, NULL, OPT_FWMARK},
	{"no-offload", no_argument, NULL, OPT_NO_OFFLOAD},
	{"auto-route", no_argument, NULL, OPT_AUTO_ROUTE},
	{"exclude", required_argument, NULL, OPT_EXCLUDE},
	{"exclude-dns", no_argument, NULL, OPT_EXCLUDE_DNS},
	{"uid", required_argument, NULL, OPT_UID},
	{"exclude-uid", required_argument, NULL, OPT_EXCLUDE_UID},
	{"cgroup", required_argument, NULL, OPT_CGROUP},
	{"exclude-cgroup", required_argument, NULL, OPT_EXCLUDE_CGROUP},
	{"resolved", required_argument, NULL, OPT_RESOLVED},
	{"kill-switch", no_argument, NULL, OPT_KILL_SWITCH},
	{"share-from", required_argument, NULL, OPT_SHARE_FROM},
	{"netns", required_argument, NULL, OPT_NETNS},
	{"dns-server", required_argument, NULL, OPT_DNS_SERVER},
	{"user", required_argument, NULL, OPT_USER},
	{"group", required_argument, NULL, OPT_GROUP},
	{"ready-timeout", required_argument, NULL, OPT_READY_TIMEOUT},
	{"check-target", required_argument, NULL, OPT_CHECK_TARGET},
	{"json", no_argument, NULL, OPT_JSON},
	{"control", required_argument, NULL, OPT_CONTROL},
	{"metrics", required_argument, NULL, OPT_METRICS},
	{"log-level", required_argument, NULL, 'l'},
	{"config", required_argument, NULL, OPT_CONFIG},
	{"print-config", no_argument, NULL, OPT_PRINT_CONFIG},
	{"help", no_argument, NULL, 'h'},
	{"version", no_argument, NULL, 'V'},
	{NULL, 0, NULL, 0},
};

static int __attribute__((format(printf, 3, 4)))
fail(char *msg, size_t msglen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, msglen, fmt, ap);
	va_end(ap);
	/* A message may quote an argument back, and an argument may hold a password. */
	(void)argv_scrub_text(msg);
	return -EINVAL;
}

/* Decimal, except where base 0 allows 0x.. (marks are usually written in hex). */
static int
parse_uint_base(const char *s, int base, unsigned long min, unsigned long max, unsigned long *out)
{
	char *end;
	unsigned long v;

	if (*s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	v = strtoul(s, &end, base);
	if (errno != 0 || *end != '\0' || v < min || v > max)
		return -EINVAL;
	*out = v;
	return 0;
}

static int
parse_uint(const char *s, unsigned long min, unsigned long max, unsigned long *out)
{
	return parse_uint_base(s, 10, min, max, out);
}

/* The kernel's rules for interface names (dev_valid_name). */
static bool
valid_ifname(const char *name)
{
	if (name[0] == '\0' || strlen(name) >= IFNAMSIZ || strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
		return false;
	for (; *name != '\0'; name++)
		if (*name == '/' || *name == ':' || *name <= ' ' || *name == 0x7f)
			return false;
	return true;
}

static int
parse_seconds(const char *s, double *out)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (errno != 0 || end == s || *end != '\0' || !(v > 0) || v > 31536000.0)
		return -EINVAL;
	*out = v;
	return 0;
}

/* "addr/prefix" or a bare address (full-length prefix) of the given family. */
static int
parse_cidr(const char *s, int family, void *addr, unsigned *prefix)
{
	struct cidr c;

	if (cidr_parse(&c, s, family) < 0)
		return -EINVAL;
	memcpy(addr, &c.addr, family == AF_INET ? sizeof(c.addr.v4) : sizeof(c.addr.v6));
	*prefix = c.len;
	return 0;
}

/* Which capture options go together. */
static int
check_modes(struct t2s_config *cfg, char *msg, size_t msglen)
{
	bool lan = cfg->share_from[0] != '\0';

	if (cfg->command != NULL) {
		if (cfg->auto_route || cfg->netns != NULL || lan || cfg->tun_fd >= 0)
			return fail(msg, msglen, "-- COMMAND runs in a namespace of its own: it does not go with "
						 "--auto-route, --netns, --share-from or --tun-fd");
		if (cfg->kill_switch)
			return fail(msg, msglen, "--kill-switch: a command's namespace has no route but the TUN "
						 "already");
	}
	if (cfg->netns != NULL && (cfg->auto_route || lan || cfg->tun_fd >= 0))
		return fail(msg, msglen, "--netns captures that whole namespace: it does not go with --auto-route, "
					 "--share-from or --tun-fd");
	if ((cfg->kill_switch || cfg->n_exclude > 0 || cfg->exclude_dns) && !cfg->auto_route && cfg->netns == NULL &&
	    !lan)
		return fail(msg, msglen, "%s needs --auto-route, --netns or --share-from",
			    cfg->kill_switch ? "--kill-switch" : cfg->n_exclude > 0 ? "--exclude" : "--exclude-dns");
	if (cfg->n_uids == 0)
		cfg->uid_select = CAPTURE_SELECT_ALL;
	if (cfg->n_uids > 0 && !cfg->auto_route)
		return fail(msg, msglen, "%s needs --auto-route",
			    cfg->uid_select == CAPTURE_SELECT_UID ? "--uid" : "--exclude-uid");
	if (cfg->n_uids > 0 && (cfg->fwmark & (CAPTURE_MARK_CAPTURED | CAPTURE_MARK_DIRECT)) != 0)
		return fail(msg, msglen, "--fwmark: bits 0x%x are the user selection's",
			    CAPTURE_MARK_CAPTURED | CAPTURE_MARK_DIRECT);
	if (cfg->n_cgroups == 0)
		cfg->cgroup_select = CAPTURE_SELECT_ALL;
	if (cfg->n_cgroups > 0 && !cfg->auto_route)
		return fail(msg, msglen, "%s needs --auto-route",
			    cfg->cgroup_select == CAPTURE_SELECT_CGROUP ? "--cgroup" : "--exclude-cgroup");
	/* One selection: a socket of a captured user in an exempt cgroup has no one answer. */
	if (cfg->n_cgroups > 0 && cfg->n_uids > 0)
		return fail(msg, msglen, "%s and %s do not go together: select by user or by cgroup",
			    cfg->uid_select == CAPTURE_SELECT_UID ? "--uid" : "--exclude-uid",
			    cfg->cgroup_select == CAPTURE_SELECT_CGROUP ? "--cgroup" : "--exclude-cgroup");
	if (cfg->n_cgroups > 0 &&
	    (cfg->fwmark & (CAPTURE_MARK_CAPTURED | CAPTURE_MARK_DIRECT | CAPTURE_MARK_SOCKET)) != 0)
		return fail(msg, msglen, "--fwmark: bits 0x%x are the cgroup selection's",
			    CAPTURE_MARK_CAPTURED | CAPTURE_MARK_DIRECT | CAPTURE_MARK_SOCKET);
	/* Our own proxy connections must be told apart from the traffic we capture. */
	if (cfg->auto_route && cfg->fwmark == 0)
		cfg->fwmark = CAPTURE_DEFAULT_FWMARK;
	return CLI_RUN;
}

/* The whole command line, or (one) the single option cli_set made into argv[1]. */
static int
parse(int argc, char **argv, struct t2s_config *cfg, char *msg, size_t msglen, bool one)
{
	bool exclude_seen = false, uid_seen = false, cgroup_seen = false, proxy_seen = false;
	const char *why;
	unsigned long v;
	int opt, lvl;

	opterr = 0;
	/* 0, not 1: glibc and musl then also drop the position inside a cluster such as
	 * "-hV" left over from an earlier call that returned early. */
	optind = 0;
	while ((opt = getopt_long(argc, argv, short_options, options, NULL)) != -1) {
		switch (opt) {
		case 'p': {
			struct proxy_url *url;

			/* Repeatable: the command line's list replaces the file's, as --exclude. */
			if (!one && !proxy_seen)
				cfg->proxy_given = false;
			proxy_seen = true;
			if (!cfg->proxy_given) {
				url = &cfg->proxy;
				cfg->n_backup = 0;
			} else if (cfg->n_backup == CONFIG_MAX_PROXIES - 1) {
				return fail(msg, msglen, "--proxy: at most %d proxies", CONFIG_MAX_PROXIES);
			} else {
				url = &cfg->backup[cfg->n_backup];
			}
			if (proxy_url_parse(url, optarg, &why) < 0)
				return fail(msg, msglen, "--proxy: %s", why);
			if (url != &cfg->proxy) {
				if (url->kind != cfg->proxy.kind || url->tls != cfg->proxy.tls)
					return fail(msg, msglen,
						    "--proxy: every proxy must speak what the first does (%s%s), one "
						    "kind and TLS or not for all",
						    cfg->proxy.kind == PROXY_KIND_HTTP ? "HTTP" : "SOCKS5",
						    cfg->proxy.tls ? " over TLS" : "");
				if (url->tls)
					return fail(msg, msglen, "--proxy: several TLS proxies are not supported yet");
				cfg->n_backup++;
			}
			cfg->proxy_given = true;
			break;
		}
		case OPT_PROXY_POLICY:
			if (proxy_set_policy_parse(optarg, &cfg->proxy_policy) < 0)
				return fail(msg, msglen,
					    "--proxy-policy: '%s' is not first-healthy, failover or round-robin", optarg);
			break;
		case OPT_PROXY_CHECK_INTERVAL:
			if (parse_seconds(optarg, &cfg->proxy_check_interval) < 0 || cfg->proxy_check_interval < 0.1 ||
			    cfg->proxy_check_interval > 3600)
				return fail(msg, msglen, "--proxy-check-interval: '%s' is not 0.1..3600 seconds", optarg);
			break;
		case OPT_PROXY_CHECK_TIMEOUT:
			if (parse_seconds(optarg, &cfg->proxy_check_timeout) < 0 || cfg->proxy_check_timeout < 0.1 ||
			    cfg->proxy_check_timeout > 600)
				return fail(msg, msglen, "--proxy-check-timeout: '%s' is not 0.1..600 seconds", optarg);
			break;
		case OPT_PROXY_FALL:
		case OPT_PROXY_RISE:
			if (parse_uint(optarg, 1, PROXY_SET_MAX_FALL_RISE, &v) < 0)
				return fail(msg, msglen, "--%s: '%s' is not in 1..%d",
					    opt == OPT_PROXY_FALL ? "proxy-fall" : "proxy-rise", optarg,
					    PROXY_SET_MAX_FALL_RISE);
			*(opt == OPT_PROXY_FALL ? &cfg->proxy_fall : &cfg->proxy_rise) = (unsigned)v;
			break;
		case OPT_AUTH_FILE:
			cfg->auth_file = optarg;
			break;
		case OPT_PROXY_CA:
			if (optarg[0] == '\0' || strlen(optarg) >= sizeof(cfg->proxy_ca))
				return fail(msg, msglen, "--proxy-ca: expected a file name");
			snprintf(cfg->proxy_ca, sizeof(cfg->proxy_ca), "%s", optarg);
			break;
		case OPT_PROXY_PIN:
			if (tls_pin_parse(optarg, cfg->proxy_pin, &why) < 0)
				return fail(msg, msglen, "--proxy-pin: %s", why);
			cfg->has_proxy_pin = true;
			break;
		case 't':
			if (!valid_ifname(optarg))
				return fail(msg, msglen, "--tun: '%s' is not a valid interface name", optarg);
			strcpy(cfg->tun_name, optarg);
			cfg->tun_named = true;
			break;
		case OPT_TUN_FD:
			if (parse_uint(optarg, 0, 65535, &v) < 0)
				return fail(msg, msglen, "--tun-fd: '%s' is not a file descriptor number", optarg);
			cfg->tun_fd = (int)v;
			break;
		case 'm':
			if (parse_uint(optarg, CONFIG_MIN_MTU, CONFIG_MAX_MTU, &v) < 0)
				return fail(msg, msglen, "--mtu: '%s' is not in %u..%u", optarg, CONFIG_MIN_MTU,
					    CONFIG_MAX_MTU);
			cfg->mtu = (unsigned)v;
			break;
		case 'a':
			if (parse_cidr(optarg, AF_INET, &cfg->address4, &cfg->prefix4) < 0)
				return fail(msg, msglen, "--address: '%s' is not an IPv4 address[/prefix]", optarg);
			cfg->has_address4 = true;
			break;
		case '6':
			if (parse_cidr(optarg, AF_INET6, &cfg->address6, &cfg->prefix6) < 0)
				return fail(msg, msglen, "--address6: '%s' is not an IPv6 address[/prefix]", optarg);
			cfg->has_address6 = true;
			break;
		case OPT_CONNECT_TIMEOUT:
			if (parse_seconds(optarg, &cfg->connect_timeout) < 0)
				return fail(msg, msglen, "--connect-timeout: '%s' is not a positive number of seconds",
					    optarg);
			break;
		case OPT_IDLE_TIMEOUT:
			if (parse_seconds(optarg, &cfg->idle_timeout) < 0)
				return fail(msg, msglen, "--idle-timeout: '%s' is not a positive number of seconds",
					    optarg);
			break;
		case OPT_UDP_TIMEOUT:
			if (parse_seconds(optarg, &cfg->udp_timeout) < 0)
				return fail(msg, msglen, "--udp-timeout: '%s' is not a positive number of seconds",
					    optarg);
			break;
		case OPT_DNS:
			if (strcmp(optarg, "udp") == 0)
				cfg->dns_mode = CONFIG_DNS_UDP;
			else if (strcmp(optarg, "tcp") == 0)
				cfg->dns_mode = CONFIG_DNS_TCP;
			else if (strcmp(optarg, "fake-ip") == 0)
				cfg->dns_mode = CONFIG_DNS_FAKE_IP;
			else
				return fail(msg, msglen, "--dns: '%s' is not udp, tcp or fake-ip", optarg);
			break;
		case OPT_UDP:
			if (strcmp(optarg, "auto") == 0)
				cfg->udp_mode = CONFIG_UDP_AUTO;
			else if (strcmp(optarg, "associate") == 0)
				cfg->udp_mode = CONFIG_UDP_ASSOCIATE;
			else if (strcmp(optarg, "dns-over-tcp") == 0)
				cfg->udp_mode = CONFIG_UDP_DNS_OVER_TCP;
			else if (strcmp(optarg, "block") == 0)
				cfg->udp_mode = CONFIG_UDP_BLOCK;
			else
				return fail(msg, msglen, "--udp: '%s' is not auto, associate, dns-over-tcp or block",
					    optarg);
			break;
		case OPT_UDP_POOL:
			if (parse_uint(optarg, 0, CONFIG_MAX_UDP_POOL, &v) < 0)
				return fail(msg, msglen, "--udp-pool: '%s' is not in 0..%d", optarg, CONFIG_MAX_UDP_POOL);
			cfg->udp_pool = (unsigned)v;
			break;
		case OPT_UDP_RELAY: {
			struct t2s_endpoint ep;
			socklen_t len;

			if (endpoint_parse(&ep, optarg, 0) < 0 || ep.type == T2S_ENDPOINT_DOMAIN ||
			    endpoint_to_sockaddr(&ep, &cfg->udp_relay, &len) < 0)
				return fail(msg, msglen, "--udp-relay: '%s' is not an IP address[:port]", optarg);
			break;
		}
		case OPT_FAKE_IP_RANGE:
			if (parse_cidr(optarg, AF_INET, &cfg->fake_net4, &cfg->fake_prefix4) < 0 ||
			    cfg->fake_prefix4 < 1 || cfg->fake_prefix4 > 30)
				return fail(msg, msglen, "--fake-ip-range: '%s' is not an IPv4 network /1../30", optarg);
			break;
		case OPT_FAKE_IP_RANGE6:
			if (parse_cidr(optarg, AF_INET6, &cfg->fake_net6, &cfg->fake_prefix6) < 0 ||
			    cfg->fake_prefix6 < 1 || cfg->fake_prefix6 > 126)
				return fail(msg, msglen, "--fake-ip-range6: '%s' is not an IPv6 network /1../126",
					    optarg);
			break;
		case OPT_MAX_FLOWS:
			if (parse_uint(optarg, 1, 1000000, &v) < 0)
				return fail(msg, msglen, "--max-flows: '%s' is not in 1..1000000", optarg);
			cfg->max_flows = (unsigned)v;
			break;
		case OPT_MAX_MEMORY:
			if (mem_budget_parse_size(optarg, &cfg->max_memory) < 0)
				return fail(msg, msglen, "--max-memory: '%s' is not a size in 8M..1T (e.g. 512M, 2G)",
					    optarg);
			break;
		case OPT_FWMARK:
			if (parse_uint_base(optarg, 0, 0, 0xffffffffUL, &v) < 0)
				return fail(msg, msglen, "--fwmark: '%s' is not a 32-bit number", optarg);
			cfg->fwmark = (unsigned)v;
			break;
		case OPT_NO_OFFLOAD:
			cfg->offload = false;
			break;
		case OPT_AUTO_ROUTE:
			cfg->auto_route = true;
			break;
		case OPT_EXCLUDE:
			/* The command line's list replaces the config file's. */
			if (!one && !exclude_seen)
				cfg->n_exclude = 0;
			exclude_seen = true;
			if (cfg->n_exclude == CONFIG_MAX_EXCLUDE)
				return fail(msg, msglen, "--exclude: at most %u", CONFIG_MAX_EXCLUDE);
			if (capture_prefix_parse(optarg, &cfg->exclude[cfg->n_exclude]) < 0)
				return fail(msg, msglen, "--exclude: '%s' is not an IPv4 or IPv6 address[/prefix]", optarg);
			cfg->n_exclude++;
			break;
		case OPT_EXCLUDE_DNS:
			cfg->exclude_dns = true;
			break;
		case OPT_UID:
		case OPT_EXCLUDE_UID: {
			int kind = opt == OPT_UID ? CAPTURE_SELECT_UID : CAPTURE_SELECT_EXCLUDE_UID;
			const char *name = opt == OPT_UID ? "--uid" : "--exclude-uid";

			/* The command line's selection replaces the config file's. */
			if (!one && !uid_seen)
				cfg->n_uids = 0;
			uid_seen = true;
			if (cfg->n_uids > 0 && cfg->uid_select != kind)
				return fail(msg, msglen, "--uid and --exclude-uid do not go together");
			if (cfg->n_uids == CONFIG_MAX_UID_RANGES)
				return fail(msg, msglen, "%s: at most %u", name, CONFIG_MAX_UID_RANGES);
			if (capture_uid_range_parse(optarg, &cfg->uids[cfg->n_uids]) < 0)
				return fail(msg, msglen, "%s: '%s' is not a user id or a range FIRST-LAST of them",
					    name, optarg);
			cfg->uid_select = kind;
			cfg->n_uids++;
			break;
		}
		case OPT_CGROUP:
		case OPT_EXCLUDE_CGROUP: {
			int kind = opt == OPT_CGROUP ? CAPTURE_SELECT_CGROUP : CAPTURE_SELECT_EXCLUDE_CGROUP;
			const char *name = opt == OPT_CGROUP ? "--cgroup" : "--exclude-cgroup";
			size_t len = strlen(optarg);

			if (!one && !cgroup_seen)
				cfg->n_cgroups = 0;
			cgroup_seen = true;
			if (cfg->n_cgroups > 0 && cfg->cgroup_select != kind)
				return fail(msg, msglen, "--cgroup and --exclude-cgroup do not go together");
			if (cfg->n_cgroups == CONFIG_MAX_CGROUPS)
				return fail(msg, msglen, "%s: at most %u", name, CONFIG_MAX_CGROUPS);
			if (len == 0 || len >= CONFIG_CGROUP_PATH_MAX)
				return fail(msg, msglen, "%s: a cgroup path of 1 to %u characters", name,
					    CONFIG_CGROUP_PATH_MAX - 1);
			memcpy(cfg->cgroups[cfg->n_cgroups], optarg, len + 1);
			cfg->cgroup_select = kind;
			cfg->n_cgroups++;
			break;
		}
		case OPT_KILL_SWITCH:
			cfg->kill_switch = true;
			break;
		case OPT_RESOLVED:
			if (strcmp(optarg, "auto") == 0)
				cfg->resolved_off = false;
			else if (strcmp(optarg, "off") == 0)
				cfg->resolved_off = true;
			else
				return fail(msg, msglen, "--resolved: '%s' is not auto or off", optarg);
			break;
		case OPT_SHARE_FROM:
			if (!valid_ifname(optarg))
				return fail(msg, msglen, "--share-from: '%s' is not a valid interface name", optarg);
			strcpy(cfg->share_from, optarg);
			break;
		case OPT_NETNS:
			if (optarg[0] == '\0')
				return fail(msg, msglen, "--netns: needs a path or a name");
			cfg->netns = optarg;
			break;
		case OPT_DNS_SERVER:
			if (capture_prefix_parse(optarg, &cfg->dns_server) < 0 || strchr(optarg, '/') != NULL)
				return fail(msg, msglen, "--dns-server: '%s' is not an IP address", optarg);
			break;
		case OPT_USER:
			cfg->user = optarg;
			break;
		case OPT_GROUP:
			cfg->group = optarg;
			break;
		case OPT_READY_TIMEOUT:
			if (parse_seconds(optarg, &cfg->ready_timeout) < 0)
				return fail(msg, msglen, "--ready-timeout: '%s' is not a positive number of seconds",
					    optarg);
			break;
		case OPT_CHECK_TARGET:
			if (endpoint_parse(&cfg->check_target, optarg, -1) < 0)
				return fail(msg, msglen, "--check-target: '%s' is not HOST:PORT", optarg);
			break;
		case OPT_JSON:
			cfg->check_json = true;
			break;
		case OPT_CONTROL:
			if (optarg[0] != '/' || strlen(optarg) >= 108)
				return fail(msg, msglen, "--control: '%s' is not an absolute path of at most 107 bytes",
					    optarg);
			cfg->control = optarg;
			break;
		case OPT_METRICS:
			if (metrics_addr_parse(optarg, NULL) < 0)
				return fail(msg, msglen, "--metrics: '%s' is not [ADDR:]PORT (e.g. 127.0.0.1:9477)", optarg);
			cfg->metrics = optarg;
			break;
		case 'l':
			lvl = log_level_parse(optarg);
			if (lvl < 0)
				return fail(msg, msglen, "--log-level: '%s' is not error, warn, info or debug", optarg);
			cfg->log_level = (enum log_level)lvl;
			break;
		case OPT_CONFIG:
			cfg->config_file = optarg;
			break;
		case OPT_PRINT_CONFIG:
			cfg->print_config = true;
			break;
		case 'h':
			return CLI_HELP;
		case 'V':
			return CLI_VERSION;
		case ':':
			return fail(msg, msglen, "option '%s' needs a value", argv[optind - 1]);
		default:
			/* Inside a cluster ("-xV") getopt has not stepped past the element yet,
			 * so argv[optind - 1] would name the previous one. */
			if (optopt > 0 && strchr(short_options, optopt) == NULL)
				return fail(msg, msglen, "unknown option '-%c'", optopt);
			return fail(msg, msglen, "unknown option '%s'", argv[optind - 1]);
		}
	}
	if (one)
		return optind == argc ? CLI_RUN : fail(msg, msglen, "unexpected argument '%s'", argv[optind]);
	if (optind > 1 && optind <= argc && strcmp(argv[optind - 1], "--") == 0) {
		if (optind == argc)
			return fail(msg, msglen, "'--' must be followed by a command");
		cfg->command = argv + optind;
	} else if (optind + 1 == argc && strcmp(argv[optind], "down") == 0) {
		return CLI_DOWN;
	} else if (optind + 1 == argc && strcmp(argv[optind], "check") == 0) {
		return cfg->proxy_given ? CLI_CHECK : fail(msg, msglen, "check needs --proxy URL");
	} else if (optind < argc) {
		return fail(msg, msglen, "unexpected argument '%s' (a command goes after '--')", argv[optind]);
	}
	if (cfg->group != NULL && cfg->user == NULL)
		return fail(msg, msglen, "--group needs --user");
	if (cfg->user != NULL && cfg->netns != NULL)
		return fail(msg, msglen,
			    "--user cannot go with --netns: removing the capture means entering the namespace "
			    "again, which needs root");
	if (!cfg->proxy_given)
		return fail(msg, msglen, "--proxy is required (e.g. --proxy socks5://127.0.0.1:1080)");
	return check_modes(cfg, msg, msglen);
}

int
cli_parse(int argc, char **argv, struct t2s_config *cfg, char *msg, size_t msglen)
{
	return parse(argc, argv, cfg, msg, msglen, false);
}

static int
set_named(struct t2s_config *cfg, const char *name, const char *value, char *msg, size_t msglen, bool kept)
{
	const struct option *o;
	char *argv[3] = {"tun2socks", NULL, NULL};
	char *saved_optarg = optarg;
	int saved_optind = optind, saved_opterr = opterr, saved_optopt = optopt;
	size_t n;
	int rc;

	for (o = options; o->name != NULL && strcmp(o->name, name) != 0; o++)
		;
	if (o->name == NULL || o->val == 'h' || o->val == 'V')
		return fail(msg, msglen, "unknown option '%s'", name);
	if (o->val == OPT_CONFIG || o->val == OPT_PRINT_CONFIG)
		return fail(msg, msglen, "--%s is for the command line only", name);
	/* These keep a pointer to their value, which does not outlive this call. */
	if (!kept && (o->val == OPT_AUTH_FILE || o->val == OPT_NETNS || o->val == OPT_USER || o->val == OPT_GROUP ||
		      o->val == OPT_CONTROL || o->val == OPT_METRICS)) {
		fail(msg, msglen, "--%s cannot be set by name", name);
		return -ENOTSUP;
	}
	if (o->has_arg == no_argument) {
		if (value != NULL && value[0] != '\0' && strcmp(value, "1") != 0 && strcmp(value, "true") != 0)
			return fail(msg, msglen, "%s takes no value ('', '1' or 'true' sets it)", name);
		value = NULL;
	} else if (value == NULL) {
		return fail(msg, msglen, "option '%s' needs a value", name);
	}
	n = 2 + strlen(name) + (value != NULL ? 1 + strlen(value) : 0) + 1;
	argv[1] = malloc(n);
	if (argv[1] == NULL)
		return fail(msg, msglen, "out of memory");
	snprintf(argv[1], n, "--%s%s%s", name, value != NULL ? "=" : "", value != NULL ? value : "");
	rc = parse(2, argv, cfg, msg, msglen, true);
	/* optarg pointed into argv[1]: these keep the caller's value instead. */
	if (rc >= 0 && kept && o->val == OPT_AUTH_FILE)
		cfg->auth_file = value;
	else if (rc >= 0 && kept && o->val == OPT_NETNS)
		cfg->netns = value;
	else if (rc >= 0 && kept && o->val == OPT_USER)
		cfg->user = value;
	else if (rc >= 0 && kept && o->val == OPT_GROUP)
		cfg->group = value;
	else if (rc >= 0 && kept && o->val == OPT_CONTROL)
		cfg->control = value;
	else if (rc >= 0 && kept && o->val == OPT_METRICS)
		cfg->metrics = value;
	free(argv[1]);
	optarg = saved_optarg;
	optind = saved_optind;
	opterr = saved_opterr;
	optopt = saved_optopt;
	return rc < 0 ? rc : 0;
}

int
cli_set(struct t2s_config *cfg, const char *name, const char *value, char *msg, size_t msglen)
{
	return set_named(cfg, name, value, msg, msglen, false);
}

int
cli_set_kept(struct t2s_config *cfg, const char *name, const char *value, char *msg, size_t msglen)
{
	return set_named(cfg, name, value, msg, msglen, true);
}
