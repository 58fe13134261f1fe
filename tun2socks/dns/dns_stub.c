/* SPDX-License-Identifier: MIT */
/* Answers for the command's placeholder nameserver (REFUSED, or fake-ip's). */
#include "dns_stub.h"

#include <errno.h>
#include <string.h>

#include "dns_msg.h"

bool
dns_stub_owns(const struct t2s_config *cfg, int family, const uint8_t *addr)
{
	return cfg->dns_stub && family == 4 && memcmp(addr, &cfg->dns_stub4, 4) == 0;
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

bool
dns_stub_refuse(const struct tun_out *o, const uint8_t *pkt, const struct packet_info *info)
{
	const uint8_t *msg = pkt + info->l4_off + 8;
	uint8_t out[DNS_MSG_ANSWER_MAX + 64];
	int n;

	n = dns_stub_refusal(msg, info->udp_payload_len, out, sizeof(out));
	if (n <= 0)
		return false;
	(void)tun_out_send_udp(o, info->family, info->dst, info->dport, info->src, info->sport, out, (size_t)n);
	return true;
}
