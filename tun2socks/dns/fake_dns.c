/* SPDX-License-Identifier: MIT */
/* Local answers from the fake-IP pool, and the pool-address-to-name lookup. */
#include "fake_dns.h"

#include <errno.h>
#include <string.h>
#include <sys/uio.h>

#include "dns_msg.h"
#include "fakeip.h"
#include "log.h"

enum fake_dns_result
fake_dns_answer(struct fakeip *ip, double now, const uint8_t *msg, size_t len, uint8_t *out, size_t cap,
		size_t *out_len)
{
	uint8_t addr[16];
	struct dns_query q;
	int family, n, err;

	*out_len = 0;
	if (ip == NULL)
		return FAKE_DNS_PASS;
	err = dns_msg_parse_query(msg, len, &q);
	if (err == -EBADMSG) {
		n = dns_msg_build_error_header(msg, len, DNS_MSG_RCODE_FORMERR, out, cap);
		if (n > 0)
			*out_len = (size_t)n;
		return FAKE_DNS_HANDLED;
	}
	if (err < 0 || q.qclass != DNS_MSG_CLASS_IN)
		return FAKE_DNS_PASS;
	switch (q.qtype) {
	case DNS_MSG_TYPE_A:
		family = 4;
		break;
	case DNS_MSG_TYPE_AAAA:
		family = 6;
		break;
	case DNS_MSG_TYPE_HTTPS:
	case DNS_MSG_TYPE_SVCB:
		family = 0; /* NODATA: their address hints would bypass the pool */
		break;
	default:
		return FAKE_DNS_PASS;
	}
	if (q.name[0] == '\0')
		return FAKE_DNS_PASS; /* the root: nothing to map */
	if (family != 0 && fakeip_lookup_name(ip, q.name, family, (uint64_t)now, addr) == 0)
		n = dns_msg_build_answer(&q, msg, addr, family, fakeip_ttl(ip), out, cap);
	else
		n = dns_msg_build_answer(&q, msg, NULL, 4, fakeip_ttl(ip), out, cap);
	log_debug("dns fake-ip: %s type %u answered locally", q.name, q.qtype);
	if (n <= 0)
		return FAKE_DNS_HANDLED;
	*out_len = (size_t)n;
	return FAKE_DNS_ANSWERED;
}

int
fake_dns_target(struct fakeip *ip, double now, int family, const uint8_t *addr, uint16_t port,
		struct t2s_endpoint *ep)
{
	char name[FAKEIP_NAME_MAX + 1];

	if (ip == NULL || !fakeip_contains(ip, family, addr))
		return 0;
	if (fakeip_lookup_addr(ip, family, addr, (uint64_t)now, name) < 0)
		return -ENOENT;
	if (endpoint_set_domain(ep, name, strlen(name), port) < 0)
		return -ENOENT;
	return 1;
}
