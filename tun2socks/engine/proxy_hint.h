/* SPDX-License-Identifier: MIT */
/*
 * Advice logged once per run when an HTTP proxy refuses CONNECT (403) to a port other
 * than 443: many allow CONNECT only there (squid's SSL_ports, tinyproxy's ConnectPort),
 * so DNS over TCP to port 53 fails too, and --dns fake-ip (names go to the proxy, with
 * port 443 kept) is the way. Shared by tcp_flow.c and dns_tcp.c.
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
