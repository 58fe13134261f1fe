/* SPDX-License-Identifier: MIT */
/* Answers for the command's placeholder nameserver (REFUSED, or fake-ip's). */
#include "dns_stub.h"

#include <errno.h>
#include <string.h>

#include "dns_msg.h"

bool
dns_stub_owns(const struct in_addr *stub4, int family, const uint8_t *addr)
{
	return stub4 != NULL && family == 4 && memcmp(addr, stub4, 4) == 0;
}

int
dns_stub_refusal(const uint8_t *msg, size_t len, uint8_t *out, size_t cap)
{
	struct dns_query q;
	int err = dns_msg_parse_query(msg, len, &q);

	if (err == 0)
		return dns_msg_build_error(&q, msg, DNS_MSG_RCODE_REFUSED, out, cap);
	return dns_msg_build_error_header(msg, len, err == -EBADMSG ? DNS_MSG_RCODE_FORMERR : DNS_MSG_RCODE_REFUSED,
					  out, cap);
}
