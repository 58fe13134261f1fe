/* SPDX-License-Identifier: MIT */
/* The UDP routing decision (pure) and the one place that carries it out. */
#include "udp_route.h"

#include <arpa/inet.h>

#include "dns_msg.h"
#include "dns_stub.h"
#include "dns_tcp.h"
#include "fake_dns.h"
#include "log.h"
#include "udp_flow.h"

enum udp_route_action
udp_route_decide(const struct udp_route_facts *f)
{
	if (f->dport == 0 || f->stopping)
		return UDP_ROUTE_IGNORE;
	if (f->dport == 53) {
		bool fake = f->dns_mode == CONFIG_DNS_FAKE_IP && !f->fake_passed;

		if (f->to_stub)
			return fake ? UDP_ROUTE_FAKE_ANSWER : UDP_ROUTE_STUB_REFUSAL;
		if (fake)
			return UDP_ROUTE_FAKE_ANSWER;
		if (f->dns_local == DNS_LOCAL_REDIRECT)
			return UDP_ROUTE_DNS_REDIRECT;
		if (f->dns_local == DNS_LOCAL_REFUSE)
			return UDP_ROUTE_DNS_REFUSAL;
		/* DNS over TCP when asked for, or when the proxy cannot relay UDP: any
		 * SOCKS5 server can CONNECT, so names still resolve through the proxy. */
		if (f->dns_mode == CONFIG_DNS_TCP || f->health == UDP_ROUTE_DNS_TCP)
			return UDP_ROUTE_OVER_TCP;
	}
	if (f->health == UDP_ROUTE_REFUSE)
		return UDP_ROUTE_UNREACHABLE;
	return UDP_ROUTE_MAPPING;
}

void
udp_route_init(struct udp_router *r, const struct flow_env *env, struct udp_health *health, struct dns_tcp *dns_tcp,
	       struct udp_flows *flows)
{
	*r = (struct udp_router){.env = *env, .health = health, .dns_tcp = dns_tcp, .flows = flows};
	histogram_init(&r->stats.fake_answer_time, histogram_latency, HISTOGRAM_LATENCY_N);
}

static void
refuse(struct udp_router *r, const uint8_t *pkt, const struct packet_info *info)
{
	(void)tun_out_unreachable(&r->env.tun, pkt, info->ip_len, info, PACKET_UNREACH_PORT);
}

/* Sends msg back to the application as a UDP datagram from the address it queried. */
static void
reply(struct udp_router *r, const struct packet_info *info, const uint8_t *msg, size_t len)
{
	(void)tun_out_send_udp(&r->env.tun, info->family, info->dst, info->dport, info->src, info->sport, msg, len);
}

static void
stub_refusal(struct udp_router *r, const uint8_t *pkt, const struct packet_info *info)
{
	uint8_t out[DNS_MSG_ANSWER_MAX + 64];
	int n = dns_stub_refusal(pkt + info->l4_off + 8, info->udp_payload_len, out, sizeof(out));

	if (n <= 0)
		return; /* not a query: dropped */
	reply(r, info, out, (size_t)n);
	r->stats.stub_refused++;
	if (r->env.cfg->dns_mode == CONFIG_DNS_FAKE_IP) {
		log_debug("dns: a query to the command's nameserver that fake-ip does not answer: REFUSED");
	} else if (!r->stub_warned) {
		r->stub_warned = true;
		log_warn("dns: the command's DNS queries get REFUSED: the host's only nameserver is on loopback "
			 "(systemd-resolved?) and no nameserver the proxy can reach is known; set --dns-server ADDR "
			 "(one the proxy reaches) or --dns fake-ip (the proxy resolves names) (logged once)");
	}
}

/* A captured query to a server the proxy cannot reach, and no --dns-server: REFUSED at once. */
static void
local_refusal(struct udp_router *r, const uint8_t *pkt, const struct packet_info *info)
{
	uint8_t out[DNS_MSG_ANSWER_MAX + 64];
	char addr[INET6_ADDRSTRLEN];
	int n = dns_stub_refusal(pkt + info->l4_off + 8, info->udp_payload_len, out, sizeof(out));

	if (n <= 0)
		return; /* not a query: dropped */
	reply(r, info, out, (size_t)n);
	r->stats.local_refused++;
	if (!r->local_warned) {
		r->local_warned = true;
		inet_ntop(info->family == 4 ? AF_INET : AF_INET6, info->dst, addr, sizeof(addr));
		log_warn("dns: queries to %s get REFUSED: it is excluded or link-local, so the proxy cannot reach it, "
			 "and DNS is captured all the same; set --dns-server ADDR (one the proxy reaches) or --dns "
			 "fake-ip, or --exclude-dns to let such queries bypass the TUN (logged once)",
			 addr);
	}
}

void
udp_route_datagram(struct udp_router *r, const uint8_t *pkt, const struct packet_info *info)
{
	struct udp_route_facts facts = {
		.dport = info->dport,
		.stopping = *r->env.stopping,
		.dns_mode = r->env.cfg->dns_mode,
	};
	struct t2s_endpoint dst;
	enum fake_dns_result fr;
	uint8_t out[DNS_MSG_ANSWER_MAX + 64];
	size_t out_len;

	if (info->dport != 0) {
		facts.health = udp_health_route(r->health, info->dport);
		facts.to_stub = info->dport == 53 &&
				dns_stub_owns(r->env.cfg->dns_stub ? &r->env.cfg->dns_stub4 : NULL, info->family, info->dst);
		facts.dns_local = dns_local_decide(r->env.cfg, info->family, info->dst, info->dport);
	}
	for (;;) {
		switch (udp_route_decide(&facts)) {
		case UDP_ROUTE_IGNORE:
			r->stats.ignored++;
			return;
		case UDP_ROUTE_FAKE_ANSWER:
			fr = fake_dns_answer(r->env.fakeip, ev_now(r->env.loop), pkt + info->l4_off + 8,
					     info->udp_payload_len, out, sizeof(out), &out_len);
			if (out_len > 0)
				reply(r, info, out, out_len);
			if (fr == FAKE_DNS_ANSWERED) {
				r->stats.fake_answers++;
				/* ev_now is when the loop woke for the read: the wait in the
				 * batch counts, as the application sees it. */
				histogram_observe(&r->stats.fake_answer_time, ev_time() - ev_now(r->env.loop));
			}
			if (fr != FAKE_DNS_PASS)
				return;
			facts.fake_passed = true;
			continue;
		case UDP_ROUTE_STUB_REFUSAL:
			stub_refusal(r, pkt, info);
			return;
		case UDP_ROUTE_OVER_TCP:
			dns_tcp_query(r->dns_tcp, pkt, info);
			return;
		case UDP_ROUTE_DNS_REDIRECT:
			if (!dns_local_server(r->env.cfg, &dst))
				return; /* not reached: REDIRECT means there is one */
			r->stats.local_redirected++;
			dns_tcp_query_to(r->dns_tcp, pkt, info, &dst);
			return;
		case UDP_ROUTE_DNS_REFUSAL:
			local_refusal(r, pkt, info);
			return;
		case UDP_ROUTE_UNREACHABLE:
			r->stats.refused++;
			refuse(r, pkt, info);
			return;
		case UDP_ROUTE_MAPPING:
			flow_env_dst_endpoint(info, &dst);
			if (fake_dns_target(r->env.fakeip, ev_now(r->env.loop), info->family, info->dst, info->dport,
					    &dst) < 0) {
				r->stats.fake_unmapped++;
				refuse(r, pkt, info);
				return;
			}
			udp_flows_send(r->flows, pkt, info, &dst);
			return;
		}
	}
}

bool
udp_route_dns_fallback(void *arg, const uint8_t *pkt, const struct packet_info *info)
{
	struct udp_router *r = arg;

	if (udp_health_route(r->health, 53) != UDP_ROUTE_DNS_TCP)
		return false;
	dns_tcp_query(r->dns_tcp, pkt, info);
	return true;
}
