/* SPDX-License-Identifier: MIT */
/* The "CONNECT only to port 443" advice for HTTP proxies (proxy_hint.h). */
#include "proxy_hint.h"

#include "log.h"

bool
proxy_hint_port_policy(enum proxy_kind kind, uint16_t port, const struct proxy_tcp_result *res)
{
	return kind == PROXY_KIND_HTTP && res->failure == PROXY_TCP_TARGET && res->http_status == 403 && port == 53;
}

void
proxy_hint_refused(const struct flow_env *env, uint16_t port, const struct proxy_tcp_result *res)
{
	char proxy[T2S_ENDPOINT_STRLEN];

	if (!proxy_hint_port_policy(env->proxy->kind, port, res))
		return;
	/* Once: a whole run's worth of refusals says nothing more. */
	if (!flow_env_rate_ok(env, T2S_RATE_CONNECT_PORTS, 1e9))
		return;
	endpoint_format(&env->cfg->proxy.server, proxy, sizeof(proxy));
	log_warn("proxy %s refused CONNECT to port %u for DNS over TCP (HTTP 403 %s): many HTTP proxies allow "
		 "CONNECT only to port 443 (squid's SSL_ports, tinyproxy's ConnectPort): use --dns fake-ip, so "
		 "that names are answered here and go to the proxy in the CONNECT, or allow port 53 on the proxy",
		 proxy, port, res->reason);
}
