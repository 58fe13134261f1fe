/* SPDX-License-Identifier: MIT */
/*
 * systemd-resolved's settings for the TUN's link, as VPN clients set them: a DNS server
 * reached through the TUN, the routing domain "~." (every name), DNS default route on;
 * with tun2socks' own stub as the server also DNSSEC and DNS-over-TLS off (it speaks
 * neither). Told over the system bus (sd-bus, org.freedesktop.resolve1(5)) and reverted
 * at stop; resolved forgets them by itself when the link goes (a crash). The plan and
 * its text are pure; the rest talks to the bus and blocks for at most
 * RESOLVED_LINK_TIMEOUT_USEC per call.
 */
#ifndef T2S_HOST_RESOLVED_LINK_H
#define T2S_HOST_RESOLVED_LINK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <netinet/in.h>

#include "netlink.h"

#define RESOLVED_LINK_TIMEOUT_USEC 2000000ULL

/* The settings for one link. */
struct resolved_link_plan {
	int ifindex;
	int family;       /* AF_INET or AF_INET6: the DNS server's */
	uint8_t addr[16]; /* its address (IPv4 in the first 4 bytes) */
	bool stub;        /* the server is tun2socks' stub: DNSSEC and DNS-over-TLS off */
};

/*
 * Pure: the plan for the link ifindex: the DNS server is dns_server when its family is
 * set (--dns-server), else stub4 (tun2socks' stub, CONFIG_DNS_STUB_ADDR4). Returns 0 or
 * -EINVAL (ifindex not positive, or neither a server nor a stub).
 */
int resolved_link_plan_build(const struct netlink_prefix *dns_server, const struct in_addr *stub4, int ifindex,
			     struct resolved_link_plan *out);

/* Pure: the plan as resolvectl would set it ("dns 192.0.2.53 domain ~. default-route yes
 * dnssec no dnsovertls no"), into buf. Returns the length or -ENOSPC. */
int resolved_link_plan_format(const struct resolved_link_plan *p, char *buf, size_t len);

struct resolved_link;

/*
 * Connects to the system bus ($DBUS_SYSTEM_BUS_ADDRESS, else the usual socket) and, when
 * org.freedesktop.resolve1 is running in this network namespace, applies p. Returns 1
 * with *out set (free it with resolved_link_stop); 0 with *out NULL when there is
 * nothing to tell (no bus, resolved not running, resolved in another namespace); -errno
 * when resolved refused or did not answer (what was set is reverted). In the last two
 * cases msg says why. p is copied. The connection is kept, so that the revert at stop is
 * sent with the credentials of now, before privileges are dropped.
 */
int resolved_link_start(const struct resolved_link_plan *p, struct resolved_link **out, char *msg, size_t len);

/* Sets the plan again (a reload: resolved may have been restarted). 0 or -errno, msg set. */
int resolved_link_update(struct resolved_link *r, char *msg, size_t len);

/*
 * `tun2socks down --tun NAME` after a crash with a persistent TUN (whose link, unlike a
 * TUN that went with the process, keeps resolved's settings): RevertLink for ifindex on
 * a connection of its own, if resolved runs in this network namespace. Returns 1 when
 * reverted, 0 when there was nothing to tell (msg says why), -errno (msg set).
 */
int resolved_link_revert(int ifindex, char *msg, size_t len);

/*
 * RevertLink for the link, then closes the connection and frees r (NULL is allowed).
 * Returns 0 or -errno, msg set; r is freed either way.
 */
int resolved_link_stop(struct resolved_link *r, char *msg, size_t len);

#endif
