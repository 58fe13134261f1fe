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
