/* SPDX-License-Identifier: MIT */
/* Local answers from the fake-IP pool, and the pool-address-to-name lookup. */
#include "fake_dns.h"

#include <errno.h>
#include <string.h>
#include <sys/uio.h>

#include "dns_msg.h"
#include "fakeip.h"
#include "log.h"

static uint64_t
now_s(struct t2s *t)
{
	return (uint64_t)ev_now(t->loop);
}

/* Sends msg back to the application as a UDP datagram from the address it queried. */
static void
reply(struct t2s *t, const struct packet_info *info, const uint8_t *msg, size_t len)
{
	(void)t2s_tun_send_udp(t, info->family, info->dst, info->dport, info->src, info->sport, msg, len);
}

bool
fake_dns_answer(struct t2s *t, const uint8_t *pkt, const struct packet_info *info)
{
	const uint8_t *msg = pkt + info->l4_off + 8;
	size_t len = info->udp_payload_len;
	uint8_t out[DNS_MSG_ANSWER_MAX + 64], addr[16];
	struct dns_query q;
	int family, n, err;

	if (t->fakeip == NULL)
		return false;
	err = dns_msg_parse_query(msg, len, &q);
	if (err == -EBADMSG) {
		n = dns_msg_build_error_header(msg, len, DNS_MSG_RCODE_FORMERR, out, sizeof(out));
		if (n > 0)
			reply(t, info, out, (size_t)n);
		return true;
	}
	if (err < 0 || q.qclass != DNS_MSG_CLASS_IN)
		return false;
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
		return false;
	}
	if (q.name[0] == '\0')
		return false; /* the root: nothing to map */
	if (family != 0 && fakeip_lookup_name(t->fakeip, q.name, family, now_s(t), addr) == 0)
		n = dns_msg_build_answer(&q, msg, addr, family, fakeip_ttl(t->fakeip), out, sizeof(out));
	else
		n = dns_msg_build_answer(&q, msg, NULL, 4, fakeip_ttl(t->fakeip), out, sizeof(out));
	if (n > 0) {
		reply(t, info, out, (size_t)n);
		t->stats.dns_fake_answers++;
	}
	log_debug("dns fake-ip: %s type %u answered locally", q.name, q.qtype);
	return true;
}

int
fake_dns_target(struct t2s *t, int family, const uint8_t *addr, uint16_t port, struct t2s_endpoint *ep)
{
	char name[FAKEIP_NAME_MAX + 1];

	if (t->fakeip == NULL || !fakeip_contains(t->fakeip, family, addr))
		return 0;
	if (fakeip_lookup_addr(t->fakeip, family, addr, now_s(t), name) < 0)
		return -ENOENT;
	if (endpoint_set_domain(ep, name, strlen(name), port) < 0)
		return -ENOENT;
	return 1;
}
