/* SPDX-License-Identifier: MIT */
/* Defaults and small validated setters for struct t2s_config. */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <string.h>

void
config_defaults(struct t2s_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	strcpy(cfg->tun_name, CONFIG_DEFAULT_TUN);
	cfg->tun_fd = -1;
	cfg->mtu = CONFIG_DEFAULT_MTU;
	cfg->connect_timeout = CONFIG_DEFAULT_CONNECT_TIMEOUT;
	cfg->proxy_policy = PROXY_SET_FIRST_HEALTHY;
	cfg->proxy_check_interval = PROXY_SET_DEFAULT_INTERVAL;
	cfg->proxy_check_timeout = PROXY_SET_DEFAULT_TIMEOUT;
	cfg->proxy_fall = PROXY_SET_DEFAULT_FALL;
	cfg->proxy_rise = PROXY_SET_DEFAULT_RISE;
	cfg->idle_timeout = CONFIG_DEFAULT_IDLE_TIMEOUT;
	cfg->udp_timeout = CONFIG_DEFAULT_UDP_TIMEOUT;
	cfg->max_flows = CONFIG_DEFAULT_MAX_FLOWS;
	cfg->log_level = LOG_LEVEL_INFO;
	cfg->offload = true;
	cfg->dns_mode = CONFIG_DNS_UDP;
	cfg->udp_mode = CONFIG_UDP_AUTO;
	cfg->udp_pool = CONFIG_DEFAULT_UDP_POOL;
	cfg->ready_timeout = CONFIG_DEFAULT_READY_TIMEOUT;
	inet_pton(AF_INET, "198.18.0.0", &cfg->fake_net4);
	cfg->fake_prefix4 = 15;
	inet_pton(AF_INET6, "fd00:7432:7373::", &cfg->fake_net6);
	cfg->fake_prefix6 = 64;
}

int
config_set_credentials(struct t2s_config *cfg, const char *userpass, const char **why)
{
	const char *colon = strchr(userpass, ':');
	size_t ulen, plen;

	if (colon == NULL) {
		*why = "credentials must be given as user:password";
		return -EINVAL;
	}
	ulen = (size_t)(colon - userpass);
	plen = strlen(colon + 1);
	while (plen > 0 && (colon[plen] == '\n' || colon[plen] == '\r'))
		plen--;
	if (ulen == 0 || ulen > PROXY_URL_CRED_MAX || plen == 0 || plen > PROXY_URL_CRED_MAX) {
		*why = "user and password must each be 1 to 255 bytes";
		return -EINVAL;
	}
	memcpy(cfg->proxy.user, userpass, ulen);
	cfg->proxy.user[ulen] = '\0';
	memcpy(cfg->proxy.pass, colon + 1, plen);
	cfg->proxy.pass[plen] = '\0';
	cfg->proxy.has_credentials = 1;
	return 0;
}

static bool
str_differ(const char *a, const char *b)
{
	return (a == NULL) != (b == NULL) || (a != NULL && strcmp(a, b) != 0);
}

static bool
proxy_differ(const struct proxy_url *a, const struct proxy_url *b)
{
	return a->kind != b->kind || a->tls != b->tls || !endpoint_equal(&a->server, &b->server) ||
	       a->has_credentials != b->has_credentials ||
	       strcmp(a->user, b->user) != 0 || strcmp(a->pass, b->pass) != 0;
}

bool
config_proxy_live_ok(const struct t2s_config *running, const struct t2s_config *next)
{
	if (running->proxy.kind != next->proxy.kind || running->proxy.tls != next->proxy.tls)
		return false;
	return !running->proxy.tls || endpoint_equal(&running->proxy.server, &next->proxy.server);
}

unsigned
config_merge_live(struct t2s_config *running, const struct t2s_config *next, config_refused_fn refused, void *arg)
{
	const struct t2s_config *r = running, *n = next;
	unsigned taken = 0;

#define REFUSE_IF(cond, name)                                                                                          \
	do {                                                                                                           \
		if (cond)                                                                                              \
			refused(arg, name);                                                                            \
	} while (0)
	REFUSE_IF(strcmp(r->tun_name, n->tun_name) != 0, "tun");
	REFUSE_IF(r->tun_fd != n->tun_fd, "tun-fd");
	REFUSE_IF(r->mtu != n->mtu, "mtu");
	REFUSE_IF(r->has_address4 != n->has_address4 || r->prefix4 != n->prefix4 ||
			  memcmp(&r->address4, &n->address4, sizeof(r->address4)) != 0,
		  "address");
	REFUSE_IF(r->has_address6 != n->has_address6 || r->prefix6 != n->prefix6 ||
			  memcmp(&r->address6, &n->address6, sizeof(r->address6)) != 0,
		  "address6");
	REFUSE_IF(r->max_memory != n->max_memory, "max-memory");
	REFUSE_IF(r->fwmark != n->fwmark, "fwmark");
	REFUSE_IF(r->offload != n->offload, "no-offload");
	REFUSE_IF(r->udp_mode != n->udp_mode, "udp");
	REFUSE_IF(r->udp_pool != n->udp_pool, "udp-pool");
	REFUSE_IF(memcmp(&r->udp_relay, &n->udp_relay, sizeof(r->udp_relay)) != 0, "udp-relay");
	REFUSE_IF(r->fake_prefix4 != n->fake_prefix4 || memcmp(&r->fake_net4, &n->fake_net4, 4) != 0, "fake-ip-range");
	REFUSE_IF(r->fake_prefix6 != n->fake_prefix6 || memcmp(&r->fake_net6, &n->fake_net6, 16) != 0,
		  "fake-ip-range6");
	REFUSE_IF(r->auto_route != n->auto_route, "auto-route");
	REFUSE_IF(r->kill_switch != n->kill_switch, "kill-switch");
	REFUSE_IF(r->resolved_off != n->resolved_off, "resolved");
	REFUSE_IF(r->n_exclude != n->n_exclude || memcmp(r->exclude, n->exclude, r->n_exclude * sizeof(r->exclude[0])) != 0,
		  "exclude");
	/* The selection's chain and rules come and go together with the capture: a restart's job. */
	REFUSE_IF(r->uid_select != n->uid_select || r->n_uids != n->n_uids ||
			  memcmp(r->uids, n->uids, r->n_uids * sizeof(r->uids[0])) != 0,
		  r->uid_select == 2 || n->uid_select == 2 ? "exclude-uid" : "uid");
	REFUSE_IF(r->cgroup_select != n->cgroup_select || r->n_cgroups != n->n_cgroups ||
			  memcmp(r->cgroups, n->cgroups, r->n_cgroups * sizeof(r->cgroups[0])) != 0,
		  r->cgroup_select == 4 || n->cgroup_select == 4 ? "exclude-cgroup" : "cgroup");
	REFUSE_IF(strcmp(r->share_from, n->share_from) != 0, "share-from");
	REFUSE_IF(str_differ(r->netns, n->netns), "netns");
	REFUSE_IF(memcmp(&r->dns_server, &n->dns_server, sizeof(r->dns_server)) != 0, "dns-server");
	REFUSE_IF(str_differ(r->user, n->user), "user");
	REFUSE_IF(str_differ(r->group, n->group), "group");
	REFUSE_IF(str_differ(r->control, n->control), "control");
	REFUSE_IF(str_differ(r->metrics, n->metrics), "metrics");
	/* The fake-IP pool exists only when the engine started with it. */
	REFUSE_IF(r->dns_mode != n->dns_mode && (r->dns_mode == CONFIG_DNS_FAKE_IP || n->dns_mode == CONFIG_DNS_FAKE_IP),
		  "dns");
	REFUSE_IF(strcmp(r->proxy_ca, n->proxy_ca) != 0, "proxy-ca");
	REFUSE_IF(r->has_proxy_pin != n->has_proxy_pin || memcmp(r->proxy_pin, n->proxy_pin, sizeof(r->proxy_pin)) != 0,
		  "proxy-pin");
	REFUSE_IF(r->proxy_policy != n->proxy_policy, "proxy-policy");
	REFUSE_IF(r->proxy_check_interval != n->proxy_check_interval, "proxy-check-interval");
	REFUSE_IF(r->proxy_check_timeout != n->proxy_check_timeout, "proxy-check-timeout");
	REFUSE_IF(r->proxy_fall != n->proxy_fall, "proxy-fall");
	REFUSE_IF(r->proxy_rise != n->proxy_rise, "proxy-rise");
#undef REFUSE_IF

	/* The UDP mode, the TLS context and its name were set up for the proxy's kind and
	 * host at start (config_proxy_live_ok). */
	if (proxy_differ(&r->proxy, &n->proxy) && !config_proxy_live_ok(r, n)) {
		refused(arg, "proxy");
	} else if (proxy_differ(&r->proxy, &n->proxy)) {
		running->proxy = n->proxy;
		taken++;
	}
#define TAKE(field)                                                                                                    \
	do {                                                                                                           \
		if (running->field != n->field) {                                                                      \
			running->field = n->field;                                                                     \
			taken++;                                                                                       \
		}                                                                                                      \
	} while (0)
	TAKE(connect_timeout);
	TAKE(idle_timeout);
	TAKE(udp_timeout);
	TAKE(max_flows);
	TAKE(log_level);
	if (r->dns_mode != CONFIG_DNS_FAKE_IP && n->dns_mode != CONFIG_DNS_FAKE_IP)
		TAKE(dns_mode);
#undef TAKE
	return taken;
}
