/* SPDX-License-Identifier: MIT */
/*
 * "address/prefix" text for IPv4 and IPv6: the one parser behind --address, --address6,
 * --fake-ip-range, --exclude and the capture record. Pure, no I/O.
 */
#ifndef T2S_BASE_CIDR_H
#define T2S_BASE_CIDR_H

#include <netinet/in.h>

struct cidr {
	int family; /* AF_INET, AF_INET6 */
	union {
		struct in_addr v4;
		struct in6_addr v6;
	} addr; /* as written: host bits are kept */
	unsigned len; /* 0..32 or 0..128 */
};

/*
 * Parses "addr/len" or a bare address (len is then 32 or 128). family is AF_INET or
 * AF_INET6 to accept only that family, or AF_UNSPEC for either. len is decimal digits
 * only. Returns 0 or -EINVAL (out is then unspecified).
 */
int cidr_parse(struct cidr *out, const char *text, int family);

#endif
