/* SPDX-License-Identifier: MIT */
/*
 * --dns fake-ip: A and AAAA queries are answered here with addresses from the fake-IP
 * pool, and connections or datagrams to those addresses are sent to the proxy with the
 * name instead (SOCKS ATYP DOMAINNAME), so names are resolved by the proxy, never
 * locally. Trade-offs: applications that cache answers longer than the TTL, or that
 * hold addresses across a restart of tun2socks, reach a pool address with no mapping:
 * their connection is refused (RST) and they resolve again. Other query types are
 * relayed to the resolver the application asked, through the proxy, except HTTPS/SVCB,
 * answered empty because their address hints would bypass the pool.
 */
#ifndef T2S_TUN2SOCKS_FAKE_DNS_H
#define T2S_TUN2SOCKS_FAKE_DNS_H

#include <stdbool.h>
#include <stdint.h>

#include "endpoint.h"
#include "packet.h"

struct fakeip;

enum fake_dns_result {
	FAKE_DNS_PASS,     /* not fake-ip's: relay it as usual */
	FAKE_DNS_HANDLED,  /* consumed: a FORMERR in out (*out_len > 0), or nothing to send */
	FAKE_DNS_ANSWERED, /* consumed: the answer from the pool is in out */
};

/*
 * The answer, if fake-ip handles it, to the DNS query msg[0..len) (the payload of a UDP
 * datagram to port 53), built into out[0..cap) with *out_len its length (0: nothing to
 * send); ip is the pool (NULL: fake-ip is off), now the time in seconds. Pure apart from
 * the pool; the caller sends the answer.
 */
enum fake_dns_result fake_dns_answer(struct fakeip *ip, double now, const uint8_t *msg, size_t len, uint8_t *out,
				     size_t cap, size_t *out_len);

/*
 * The destination to ask the proxy for: 0 and *ep unchanged when addr is outside the
 * pool (or fake-ip is off); 1 with *ep = name:port for a mapped pool address; -ENOENT
 * for a pool address without a mapping (the caller refuses the flow).
 */
int fake_dns_target(struct fakeip *ip, double now, int family, const uint8_t *addr, uint16_t port,
		    struct t2s_endpoint *ep);

#endif
