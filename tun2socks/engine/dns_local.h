/* SPDX-License-Identifier: MIT */
/*
 * DNS queries the capture takes although their server is one the proxy cannot reach:
 * capture.c sends all of port 53 into the TUN before the exclusions (so the LAN's
 * nameserver is no way around the capture), and this module says what becomes of a
 * query to an excluded or link-local server. Pure: it reads the configuration only.
 *   - --dns fake-ip answers A/AAAA from the pool first (udp_route.c), as for any query;
 *   - with --dns-server, the query goes to that server through the proxy instead;
 *   - otherwise it is refused at once (REFUSED for UDP, a reset for TCP), never left
 *     to time out.
 */
#ifndef T2S_TUN2SOCKS_DNS_LOCAL_H
#define T2S_TUN2SOCKS_DNS_LOCAL_H

#include <stdbool.h>
#include <stdint.h>

#include "config.h"
#include "endpoint.h"

enum dns_local_action {
	DNS_LOCAL_PASS = 0, /* an ordinary destination: through the proxy as it is */
	DNS_LOCAL_REDIRECT, /* to --dns-server (dns_local_server gives it) */
	DNS_LOCAL_REFUSE,   /* no server the proxy reaches is known */
};

/*
 * For a query to port dport at addr (family 4 or 6; IPv4 in the first 4 bytes): PASS
 * unless traffic is captured (--auto-route, --share-from, --netns), without --exclude-dns,
 * dport is 53 and addr is link-local (169.254.0.0/16, fe80::/10) or within an --exclude.
 */
enum dns_local_action dns_local_decide(const struct t2s_config *cfg, int family, const uint8_t *addr,
				       uint16_t dport);

/* --dns-server, port 53, into out. False (out untouched) when none is set. */
bool dns_local_server(const struct t2s_config *cfg, struct t2s_endpoint *out);

#endif
