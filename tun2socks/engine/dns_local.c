/* SPDX-License-Identifier: MIT */
/* What becomes of captured DNS to servers the proxy cannot reach; see dns_local.h. */
#include "dns_local.h"

#include <string.h>
#include <sys/socket.h>

/* Whether the first len bits of a and b (both bytes long) agree. */
static bool
prefix_match(const uint8_t *a, const uint8_t *b, unsigned len)
{
	unsigned bytes = len / 8, rest = len % 8;

	if (memcmp(a, b, bytes) != 0)
		return false;
	return rest == 0 || ((a[bytes] ^ b[bytes]) & (uint8_t)(0xff00u >> rest)) == 0;
}

static bool
link_local(int family, const uint8_t *addr)
{
	if (family == 4)
		return addr[0] == 169 && addr[1] == 254;
	return addr[0] == 0xfe && (addr[1] & 0xc0) == 0x80;
}

static bool
excluded(const struct t2s_config *cfg, int family, const uint8_t *addr)
{
	unsigned i;

	for (i = 0; i < cfg->n_exclude; i++) {
		const struct netlink_prefix *x = &cfg->exclude[i];

		if (x->family != (family == 4 ? AF_INET : AF_INET6))
			continue;
		if (prefix_match(addr, (const uint8_t *)&x->addr, x->len))
			return true;
	}
	return false;
}

enum dns_local_action
dns_local_decide(const struct t2s_config *cfg, int family, const uint8_t *addr, uint16_t dport)
{
	if (dport != 53 || cfg->exclude_dns || (!cfg->auto_route && cfg->share_from[0] == '\0' && cfg->netns == NULL))
		return DNS_LOCAL_PASS;
	if (!link_local(family, addr) && !excluded(cfg, family, addr))
		return DNS_LOCAL_PASS;
	return cfg->dns_server.family != 0 ? DNS_LOCAL_REDIRECT : DNS_LOCAL_REFUSE;
}

bool
dns_local_server(const struct t2s_config *cfg, struct t2s_endpoint *out)
{
	if (cfg->dns_server.family == 0)
		return false;
	memset(out, 0, sizeof(*out));
	out->port = 53;
	if (cfg->dns_server.family == AF_INET) {
		out->type = T2S_ENDPOINT_IPV4;
		memcpy(out->u.ipv4, &cfg->dns_server.addr.v4, 4);
	} else {
		out->type = T2S_ENDPOINT_IPV6;
		memcpy(out->u.ipv6, &cfg->dns_server.addr.v6, 16);
	}
	return true;
}
