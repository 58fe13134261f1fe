/* SPDX-License-Identifier: MIT */
/*
 * Advice logged once per run when an HTTP proxy refuses (403) the CONNECT to port 53 that
 * carries DNS over TCP: many allow CONNECT only to 443 (squid's SSL_ports, tinyproxy's
 * ConnectPort), and --dns fake-ip, which answers names here and sends them to the
 * proxy in the CONNECT, is the way. Port 53 only: a 403 elsewhere is as often a filtered
 * host, and a wrong hint is worse than none. Used by dns_tcp.c.
 */
#ifndef T2S_TUN2SOCKS_PROXY_HINT_H
#define T2S_TUN2SOCKS_PROXY_HINT_H

#include <stdbool.h>
#include <stdint.h>

#include "flow_env.h"

/* Pure: whether a CONNECT's failure to port is the sign described above. */
bool proxy_hint_port_policy(enum proxy_kind kind, uint16_t port, const struct proxy_tcp_result *res);

/* Logs the advice at most once per run (the slot T2S_RATE_CONNECT_PORTS) when
 * proxy_hint_port_policy says so. */
void proxy_hint_refused(const struct flow_env *env, uint16_t port, const struct proxy_tcp_result *res);

#endif
