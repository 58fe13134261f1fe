/* SPDX-License-Identifier: MIT */
/*
 * The nameservers of a resolv.conf text, for the library's lookup of the proxy's name
 * (proxy_lookup.h) when the embedder names no resolver. Pure: a function of the text.
 */
#ifndef T2S_TUN2SOCKS_RESOLV_CONF_H
#define T2S_TUN2SOCKS_RESOLV_CONF_H

#include <stddef.h>
#include <sys/socket.h>

/* glibc reads at most this many (MAXNS). */
#define RESOLV_CONF_MAXNS 3

/*
 * Stores the addresses of the text's "nameserver ADDR" lines, in order, as port-53
 * sockaddrs, into out[0..max) (max at most RESOLV_CONF_MAXNS is what glibc would use).
 * As glibc: the keyword starts the line, a line may end in a comment ('#' or ';'), an
 * address that is not numeric IPv4 or IPv6 is skipped; so is an IPv6 one with a zone
 * ("%eth0"), which would bind the lookup to one link. Returns how many were stored.
 */
size_t resolv_conf_nameservers(const char *text, struct sockaddr_storage *out, size_t max);

#endif
