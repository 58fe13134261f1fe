/* SPDX-License-Identifier: MIT */
/*
 * The nameserver of a command's namespace when the host has none but loopback ones
 * (systemd-resolved's 127.0.0.53): the command's resolv.conf names CONFIG_DNS_STUB_ADDR4,
 * routed into the TUN, and it is answered here. No server is known that the proxy can
 * reach (resolved's upstreams are usually LAN addresses), so: with --dns fake-ip, A,
 * AAAA, HTTPS and SVCB are answered from the pool (fake_dns.h); every other query gets
 * REFUSED at once, never a timeout, and the first one logs what to set (--dns-server,
 * --dns fake-ip). TCP to the address is refused (RST). See docs/DNS.md.
 */
#ifndef T2S_TUN2SOCKS_DNS_STUB_H
#define T2S_TUN2SOCKS_DNS_STUB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <netinet/in.h>

/* True when family/addr (4 or 6, raw bytes) is the stub's address stub4 (NULL: the stub
 * is off). */
bool dns_stub_owns(const struct in_addr *stub4, int family, const uint8_t *addr);

/*
 * Pure: the answer to a query the stub cannot serve, into out[0..cap): REFUSED with the
 * question (and OPT) for a query dns_msg_parse_query accepts, a header-only REFUSED for
 * one it does not answer itself (-ENOTSUP), a header-only FORMERR for a malformed one.
 * Returns the length, or -EBADMSG (a response, or shorter than a header: drop it) or
 * -ENOSPC.
 */
int dns_stub_refusal(const uint8_t *msg, size_t len, uint8_t *out, size_t cap);

#endif
