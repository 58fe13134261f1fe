/* SPDX-License-Identifier: MIT */
/* Answers for the command's placeholder nameserver (REFUSED, or fake-ip's). */
#include "dns_stub.h"

#include <errno.h>
#include <string.h>

#include "dns_msg.h"
#include "fake_dns.h"
#include "log.h"

bool
dns_stub_owns(const struct t2s *t, int family, const uint8_t *addr)
{
	return t->cfg->dns_stub && family == 4 && memcmp(addr, &t->cfg->dns_stub4, 4) == 0;
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
dns_stub_answer(struct t2s *t, const uint8_t *pkt, const struct packet_info *info)
{
	const uint8_t *msg = pkt + info->l4_off + 8;
	uint8_t out[DNS_MSG_ANSWER_MAX + 64];
	int n;

	if (!dns_stub_owns(t, info->family, info->dst))
		return false;
	if (t->cfg->dns_mode == CONFIG_DNS_FAKE_IP && fake_dns_answer(t, pkt, info))
		return true;
	n = dns_stub_refusal(msg, info->udp_payload_len, out, sizeof(out));
	if (n <= 0)
		return true;
	(void)t2s_tun_send_udp(t, info->family, info->dst, info->dport, info->src, info->sport, out, (size_t)n);
	t->stats.dns_stub_refused++;
	if (t->cfg->dns_mode == CONFIG_DNS_FAKE_IP) {
		log_debug("dns: a query to the command's nameserver that fake-ip does not answer: REFUSED");
	} else if (!t->dns_stub_warned) {
		t->dns_stub_warned = true;
		log_warn("dns: the command's DNS queries get REFUSED: the host's only nameserver is on loopback "
			 "(systemd-resolved?) and no nameserver the proxy can reach is known; set --dns-server ADDR "
			 "(one the proxy reaches) or --dns fake-ip (the proxy resolves names) (logged once)");
	}
	return true;
}
