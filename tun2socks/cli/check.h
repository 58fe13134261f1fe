/* SPDX-License-Identifier: MIT */
/*
 * `tun2socks check`: a diagnostic of the proxy with the redirector's own code (the
 * SOCKS5 handshake of socks5_handshake.c, the DNS codec): the proxy resolved and
 * reached, the latency of its greeting, authentication, CONNECT to --check-target,
 * UDP ASSOCIATE and whether its relay relays, DNS over UDP and over TCP through it to
 * --dns-server. One line per check, ok / warn / fail with the reason and a hint; exit
 * status 0 when nothing failed (warnings included), 1 otherwise.
 *
 * The report and the classification of a handshake's outcome are pure (unit-tested);
 * check_run does the blocking I/O (the command runs no loop).
 */
#ifndef T2S_CLI_CHECK_H
#define T2S_CLI_CHECK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "config.h"
#include "socks5_handshake.h"

#define CHECK_MAX_LINES 24
#define CHECK_TIMEOUT 5.0 /* seconds for each network step */

enum check_level {
	CHECK_OK,
	CHECK_WARN,
	CHECK_FAIL,
	CHECK_SKIP,
};

struct check_line {
	char name[24];
	enum check_level level;
	char detail[256];
	char hint[256]; /* "" for none */
};

struct check_report {
	struct check_line lines[CHECK_MAX_LINES];
	unsigned n;
};

void check_add(struct check_report *r, const char *name, enum check_level level, const char *hint, const char *fmt,
	       ...) __attribute__((format(printf, 5, 6)));

/* 0 when no line failed (warnings and skips included), 1 otherwise. */
int check_exit_status(const struct check_report *r);

/* "ok", "warn", "FAIL", "skip". */
const char *check_level_name(enum check_level level);

/* One line per check: "ok    name: detail (hint: ...)" or, json, one JSON object per
 * line: {"check":...,"result":"ok|warn|fail|skip","detail":...,"hint":...}. */
void check_print(const struct check_report *r, FILE *out, bool json);

/* A handshake as check_run saw it. */
struct check_handshake {
	uint8_t cmd;              /* SOCKS5_CMD_CONNECT or SOCKS5_CMD_UDP_ASSOCIATE */
	bool done;                /* REP 0 */
	bool timed_out;           /* no answer within CHECK_TIMEOUT (step: where it stalled) */
	enum socks5_handshake_step step; /* the step that failed or stalled */
	enum socks5_handshake_failure failure;
	int err;
	uint8_t rep;
	uint8_t method;
	bool credentials;         /* we offered user/password */
	double ms_connect;        /* TCP connect, ms (< 0: not reached) */
	double ms_greeting;       /* greeting sent to method reply, ms (< 0: none) */
	struct t2s_endpoint bnd;
	const char *what;         /* "CONNECT to host:port", "UDP ASSOCIATE" */
};

/*
 * Adds what a handshake says. first: the first handshake of the run, which also
 * reports the reach, greeting and authentication lines. Returns true when the proxy
 * itself works (the next checks are worth running), false when it cannot be used.
 */
bool check_handshake_report(struct check_report *r, const struct check_handshake *h, bool first);

/*
 * The host's side. route: the kernel's route to the proxy for a socket marked with mark
 * (err < 0: the question failed); a TUN there means tun2socks' own connections would
 * loop into it (a failure with a mark, a warning without one: a running tun2socks may
 * own that TUN). tun: /dev/net/tun and CAP_NET_ADMIN. kernel: what each mode needs:
 * policy routing with port ranges (Linux >= 4.17, --auto-route), user namespaces
 * (unprivileged -- COMMAND; max_userns < 0 or unpriv_clone < 0: not known), and
 * net.ipv6.conf.all.force_forwarding (--share-from's IPv6, Linux >= 6.17).
 */
void check_route_report(struct check_report *r, int err, const char *oif, bool oif_is_tun, unsigned mtu,
			unsigned mark);
void check_tun_report(struct check_report *r, bool dev_present, bool cap_net_admin);
void check_kernel_report(struct check_report *r, const char *release, long max_userns, int unpriv_clone,
			 bool force_forwarding);

/* "6.1.0-18-amd64" -> 6, 1. Returns 0 or -EINVAL. */
int check_kernel_version(const char *release, unsigned *major, unsigned *minor);

/* Whether /proc/self/status's text says capability cap is in CapEff. */
bool check_capeff_has(const char *status, unsigned cap);

/* Runs every check for cfg (proxy, --check-target, --dns-server) and prints the report
 * to out. Returns the exit status. */
int check_run(const struct t2s_config *cfg, FILE *out);

#endif
