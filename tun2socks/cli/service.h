/* SPDX-License-Identifier: MIT */
/*
 * The command as a systemd service (Type=notify): READY=1 once the TUN is up and the
 * proxy answered a SOCKS5 greeting (and authentication), or after the ready timeout
 * with a STATUS= saying it did not; STATUS= when the proxy's state changes (it is
 * probed again every SERVICE_RECHECK_INTERVAL seconds); RELOADING=1 and READY=1 around
 * a reload; STOPPING=1; WATCHDOG=1 at half of $WATCHDOG_USEC. Not under systemd (no
 * $NOTIFY_SOCKET), a service does nothing and opens no connection.
 */
#ifndef T2S_CLI_SERVICE_H
#define T2S_CLI_SERVICE_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include <ev.h>

#include "socks5_server.h"

#define SERVICE_DEFAULT_READY_TIMEOUT 30.0
#define SERVICE_RETRY_INTERVAL 2.0     /* between probes until the proxy first answers */
#define SERVICE_RECHECK_INTERVAL 30.0  /* between probes after that */
#define SERVICE_PROBE_TIMEOUT 5.0      /* one probe's deadline */

/* ---- The pure part: what to tell systemd on each event. */
enum service_proxy_state {
	SERVICE_PROXY_UNKNOWN = 0,
	SERVICE_PROXY_OK,
	SERVICE_PROXY_DOWN,
};

struct service_state {
	bool tun_up; /* service_state_tun_up was called */
	bool ready;  /* READY=1 was sent */
	enum service_proxy_state proxy;
};

/*
 * Each writes the datagram to send into msg (NUL-terminated) and returns its length,
 * or 0 when nothing is to be sent. name: the proxy as the user wrote it (host:port);
 * why: the probe's failure, in words.
 */
size_t service_state_tun_up(struct service_state *st, char *msg, size_t len);
size_t service_state_proxy(struct service_state *st, bool ok, const char *name, const char *why, double ms, char *msg,
			   size_t len);
size_t service_state_timeout(struct service_state *st, const char *name, double timeout, char *msg, size_t len);

/* ---- The service. */
struct service_params {
	struct ev_loop *loop;
	const char *notify_socket; /* $NOTIFY_SOCKET; NULL or "": not under systemd */
	const char *watchdog_usec; /* $WATCHDOG_USEC, $WATCHDOG_PID (may be NULL) */
	const char *watchdog_pid;
	const struct socks5_server *proxy; /* borrowed: must outlive the service */
	const char *proxy_name;            /* copied */
	double ready_timeout;              /* seconds */
};

struct service;

/*
 * NULL with errno on failure (a malformed $NOTIFY_SOCKET: EINVAL). Not under systemd,
 * a service that does nothing. Starts the watchdog timer (unref'd: it keeps no loop
 * alive) when $WATCHDOG_USEC is ours.
 */
struct service *service_new(const struct service_params *p);

/* Under systemd (a notify socket was given). */
bool service_active(const struct service *s);

/* The TUN is up and the engine built: probe the proxy, start the ready timer. */
void service_tun_up(struct service *s);

/*
 * Around a reload (SIGHUP with --config): RELOADING=1, then READY=1 with STATUS=status
 * (status may be NULL: the proxy's state), and the proxy is probed again at once. A
 * reload that changes the proxy calls service_set_proxy in between (proxy borrowed as
 * in service_params, name copied); a probe under way is abandoned.
 */
void service_set_proxy(struct service *s, const struct socks5_server *proxy, const char *proxy_name);
void service_reloading(struct service *s);
void service_reloaded(struct service *s, const char *status);

/* STOPPING=1; no probe after it. Idempotent. */
void service_stopping(struct service *s);

/* Stops every watcher and closes the socket. NULL is a no-op. */
void service_free(struct service *s);

#endif
