/* SPDX-License-Identifier: MIT */
/*
 * The packet path between the TUN and lwIP: reads bounded batches of packets,
 * validates each one, lets the flow layer hold new SYNs, hands the rest to lwIP, and
 * writes what lwIP emits back to the TUN with one writev per packet.
 */
#include "t2s.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/uio.h>
#include <unistd.h>

#include <linux/virtio_net.h>

#include <lwip/pbuf.h>

#include "container_of.h"
#include "dns_local.h"
#include "dns_tcp.h"
#include "fakeip.h"
#include "ip_frag.h"
#include "ip_reass.h"
#include "log.h"
#include "martian.h"
#include "lwip_port.h"
#include "proxy_check.h"
#include "proxy_names.h"
#include "rxpool.h"
#include "socks5_udp.h"
#include "tcp_flow.h"
#include "udp_flow.h"
#include "udp_health.h"
#include "tls_client.h"
#include "udp_pool.h"
#include "tunif.h"
#include "vnet_hdr.h"

/*
 * Reassembly bounds. Fragments come from the local kernel back to back, so a datagram
 * still incomplete after a few seconds never will be: far shorter than the RFCs' 60 s
 * (which allow for slow paths), so memory comes back soon.
 */
#define REASS_DATAGRAMS 64
#define REASS_BYTES (1024 * 1024)
#define REASS_TIMEOUT 10.0

/*
 * A packet is copied into an exact-size pbuf unless it fills more than half of the read
 * buffer, which is then handed to lwIP as it is (no copy). lwIP never shrinks a custom
 * pbuf, so a queued packet holds at most twice its size either way; large TSO/GSO
 * segments (bulk uploads) keep the zero-copy path.
 */
#define COPY_BELOW(bufsize) ((bufsize) / 2)


static int
tun_write(struct t2s *t, const struct iovec *iov, int iovcnt)
{
	ssize_t n = writev(t->tun.fd, iov, iovcnt);

	if (n < 0) {
		t->stats.tun_write_drops++;
		return -errno;
	}
	t->stats.tun_packets_out++;
	t->stats.tun_bytes_out += (uint64_t)n;
	return 0;
}

/* lwIP's packets; iov[0] is the virtio-net header slot when the TUN has one. */
static int
t2s_tunif_output(void *ctx, struct iovec *iov, int iovcnt, const struct tunif_partial_csum *partial)
{
	struct t2s *t = ctx;
	struct vnet_hdr h;

	if (partial != NULL) {
		/* The kernel completes the TCP checksum (for local delivery it need not even
		 * compute it; forwarded packets get it in software or from the NIC), and
		 * cuts a segment larger than the peer's MSS into segments of that MSS (a
		 * local socket takes it whole, as from GRO). tunif puts the IP and TCP
		 * headers in iov[1]; should they ever not be whole there, the checksum is
		 * still completed and the packet is not segmented. */
		if (iovcnt < 2 || vnet_hdr_for_tcp(iov[1].iov_base, iov[1].iov_len, partial->mss, &h) < 0)
			h = (struct vnet_hdr){.needs_csum = true,
					      .csum_start = (uint16_t)partial->start,
					      .csum_offset = (uint16_t)partial->offset};
		vnet_hdr_build(t->vnet_csum, &h);
		iov[0].iov_base = t->vnet_csum;
		if (h.gso != VNET_GSO_NONE)
			t->stats.tun_gso_out++;
	}
	return tun_write(t, iov, iovcnt);
}

/* tun_out.sendv: a packet we built ourselves, with the "checksum verified" header. */
static int
t2s_tun_sendv(void *ctx, const struct iovec *iov, int iovcnt)
{
	struct t2s *t = ctx;
	struct iovec all[5] = {{.iov_base = t->vnet_tx, .iov_len = t->tun.vnet_hdr_len}};
	int first = t->tun.vnet_hdr_len > 0 ? 0 : 1;

	if (iovcnt > 4)
		return -EINVAL;
	memcpy(all + 1, iov, (size_t)iovcnt * sizeof(*iov));
	return tun_write(t, all + first, iovcnt + 1 - first);
}

static int
emit_fragment(void *ctx, const struct iovec *iov, int iovcnt)
{
	return t2s_tun_sendv(ctx, iov, iovcnt);
}

/* tun_out.send_udp */
static int
t2s_tun_send_udp(void *ctx, int family, const uint8_t *src, uint16_t sport, const uint8_t *dst, uint16_t dport,
		 const uint8_t *payload, size_t len)
{
	struct t2s *t = ctx;
	int n = ip_frag_udp(family, src, sport, dst, dport, payload, len, t->cfg->mtu, &t->frag_id, emit_fragment, t);

	if (n < 0)
		return n;
	if (n > 1)
		t->stats.tun_fragmented++;
	return 0;
}

size_t
t2s_mem_used(const struct t2s *t)
{
	return lwip_port_heap_bytes() + rxpool_bytes(t->rxpool) + tcp_flows_tx_bytes(t->tcp) +
	       udp_flows_pending_bytes(t->udp) +
	       (size_t)(tcp_flows_count(t->tcp) + udp_flows_count(t->udp)) * T2S_FLOW_COST;
}

/* flow_env.mem_used */
static size_t
mem_used_hook(void *ctx)
{
	return t2s_mem_used(ctx);
}

static void
t2s_mem_timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct t2s *t = container_of(w, struct t2s, mem_timer);

	(void)revents;
	tcp_flows_budget_tick(t->tcp);
	if (tcp_flows_owed(t->tcp) == 0)
		ev_timer_stop(loop, w);
}

/* flow_env.mem_owed: arms the timer that gives held-back receive window back as
 * memory frees. */
static void
mem_owed_hook(void *ctx)
{
	struct t2s *t = ctx;

	if (!ev_is_active(&t->mem_timer) && !t->stopping)
		ev_timer_again(t->loop, &t->mem_timer);
}

/* Out-of-order room per pcb follows the budget, like the windows. */
static void
update_ooseq_limit(struct t2s *t, size_t used)
{
	lwip_port_set_ooseq_limit(mem_budget_scale(&t->mem, used, LWIP_PORT_OOSEQ_BYTES),
				  (uint16_t)mem_budget_scale(&t->mem, used, LWIP_PORT_OOSEQ_PBUFS));
}

static void
t2s_reass_timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct t2s *t = container_of(w, struct t2s, reass_timer);
	double next;

	(void)revents;
	ip_reass_expire(t->reass, ev_now(loop));
	next = ip_reass_next_deadline(t->reass);
	if (next > 0) {
		ev_timer_set(w, next - ev_now(loop), 0);
		ev_timer_start(loop, w);
	}
}

/* A UDP fragment: once its datagram is complete, that goes on like an unfragmented one. */
static void
reassemble(struct t2s *t, const uint8_t *pkt, const struct packet_info *info)
{
	struct packet_info whole_info;
	const uint8_t *whole;
	size_t len;
	int r, err;

	r = ip_reass_add(t->reass, pkt, info, ev_now(t->loop), &whole, &len);
	if (!ev_is_active(&t->reass_timer) && ip_reass_pending(t->reass) > 0) {
		ev_timer_set(&t->reass_timer, ip_reass_next_deadline(t->reass) - ev_now(t->loop), 0);
		ev_timer_start(t->loop, &t->reass_timer);
	}
	if (r < 0) {
		if (flow_env_rate_ok(&t->env, T2S_RATE_FRAGMENT, 5.0))
			log_debug("dropped an IPv%u UDP fragment: %s", info->family, strerror(-r));
		return;
	}
	if (r != IP_REASS_DONE)
		return;
	/* The rebuilt packet is checked like any other (UDP length against the whole). */
	err = packet_parse(whole, len, &whole_info);
	if (err < 0 || whole_info.fragment || whole_info.proto != PACKET_PROTO_UDP) {
		t->stats.malformed++;
		log_debug("dropped a reassembled datagram: %s", err < 0 ? packet_error_str(err) : "not UDP");
		return;
	}
	udp_route_datagram(&t->route, whole, &whole_info);
}

/*
 * TCP or UDP to or from an address that is never a remote host: dropped before any
 * flow exists, so it never reaches the proxy; answered where an answer is due. (Other
 * protocols are never relayed anyway: they stay "ignored".)
 */
static bool
drop_martian(struct t2s *t, const uint8_t *pkt, const struct packet_info *info)
{
	struct martian_tun_net net = {.has_net4 = t->cfg->has_address4, .prefix4 = t->cfg->prefix4};
	enum martian m;

	if (info->proto != PACKET_PROTO_TCP && info->proto != PACKET_PROTO_UDP)
		return false;
	memcpy(net.addr4, &t->cfg->address4, 4);
	m = martian_classify(info, &net);
	if (m == MARTIAN_NONE)
		return false;
	/* Captured DNS to a link-local nameserver is answered here (dns_local.h), never
	 * handed to the proxy as it is. */
	if (m == MARTIAN_LINK_LOCAL && dns_local_decide(t->cfg, info->family, info->dst, info->dport) != DNS_LOCAL_PASS)
		return false;
	t->stats.martian_dropped++;
	log_debug("dropped an IPv%u packet (protocol %u) from %s: %s", info->family, info->proto, t->tun.name,
		  martian_str(m));
	if (!martian_answer(m) || info->fragment || (info->tcp_flags & PACKET_TCP_RST) != 0)
		return true;
	if (tun_out_unreachable(&t->env.tun, pkt, info->ip_len, info, PACKET_UNREACH_ADMIN))
		t->stats.martian_answered++;
	return true;
}

/* Decides what happens to one valid packet; returns true if lwIP should see it. */
static bool
dispatch(struct t2s *t, const uint8_t *pkt, const struct packet_info *info)
{
	if (drop_martian(t, pkt, info))
		return false;
	if (info->fragment && info->proto != PACKET_PROTO_UDP) {
		/* TCP never fragments with our MSS (packet_parse refuses it); ICMP and other
		 * protocols are not relayed whole either. */
		t->stats.fragments_dropped++;
		return false;
	}
	switch (info->proto) {
	case PACKET_PROTO_TCP:
		if ((info->tcp_flags & (PACKET_TCP_SYN | PACKET_TCP_ACK | PACKET_TCP_RST)) == PACKET_TCP_SYN)
			return !tcp_flows_handle_syn(t->tcp, pkt, info);
		return true;
	case PACKET_PROTO_UDP:
		/* Reassembled by us: lwIP's reassembly is compiled out (see lwipopts.h). */
		if (info->fragment)
			reassemble(t, pkt, info);
		else
			udp_route_datagram(&t->route, pkt, info);
		return false;
	default:
		/* ICMP cannot cross a SOCKS proxy; we do not fake echo replies. */
		t->stats.ignored++;
		return false;
	}
}

/* Counts, validates and dispatches a packet of n bytes read from the TUN; true if lwIP
 * should see it (*info describes it). */
static bool
receive(struct t2s *t, const uint8_t *pkt, ssize_t n, struct packet_info *info)
{
	int err;

	if (n <= 0) {
		t->stats.malformed++;
		return false;
	}
	t->stats.tun_packets_in++;
	t->stats.tun_bytes_in += (uint64_t)n;
	err = packet_parse(pkt, (size_t)n, info);
	if (err < 0) {
		t->stats.malformed++;
		log_debug("dropped a packet from %s: %s", t->tun.name, packet_error_str(err));
		return false;
	}
	/* Past the budget, data for existing flows waits in the application (it
	 * retransmits); ACKs still pass, since they free what lwIP holds. */
	if (info->proto == PACKET_PROTO_TCP && info->tcp_payload_len > 0 && !(info->tcp_flags & PACKET_TCP_SYN) &&
	    mem_budget_over(&t->mem, t2s_mem_used(t))) {
		t->mem.dropped++;
		return false;
	}
	return dispatch(t, pkt, info);
}

/* An exact-size pbuf holding the packet (NULL when lwIP has no memory). */
static struct pbuf *
copy_packet(const uint8_t *pkt, const struct packet_info *info)
{
	struct pbuf *q = pbuf_alloc(PBUF_RAW, info->ip_len, PBUF_RAM);

	if (q != NULL)
		memcpy(q->payload, pkt, info->ip_len);
	return q;
}

void
t2s_input(struct t2s *t, const uint8_t *pkt, size_t len)
{
	struct packet_info info;
	struct pbuf *q;

	if (len > TUN_MAX_PACKET || !receive(t, pkt, (ssize_t)len, &info))
		return;
	q = copy_packet(pkt, &info);
	if (q != NULL)
		tunif_input(t->tunif, q);
}

static void
t2s_tun_io_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct t2s *t = container_of(w, struct t2s, tun_io);
	struct iovec iov[3] = {{.iov_base = t->vnet_rx, .iov_len = t->tun.vnet_hdr_len},
			       {0},
			       {.iov_base = t->rx_guard, .iov_len = sizeof(t->rx_guard)}};
	int first = t->tun.vnet_hdr_len > 0 ? 0 : 1;

	(void)loop;
	(void)revents;
	update_ooseq_limit(t, t2s_mem_used(t));
	for (int i = 0; i < T2S_TUN_BATCH; i++) {
		struct packet_info info;
		struct pbuf *p = t->rx_spare, *q;
		ssize_t n;

		if (p == NULL) {
			p = rxpool_get(t->rxpool);
			if (p == NULL)
				break;
			t->rx_spare = p;
		}
		iov[1].iov_base = p->payload;
		iov[1].iov_len = t->rx_bufsize;
		n = readv(t->tun.fd, iov + first, 3 - first);
		if (n <= 0) {
			if (n < 0 && errno != EAGAIN && errno != EINTR && flow_env_rate_ok(&t->env, T2S_RATE_TUN_READ, 5.0))
				log_warn("reading %s: %s", t->tun.name, strerror(errno));
			break;
		}
		/* A packet longer than the buffer (the device's MTU raised above --mtu at
		 * run time): the kernel copies what fits and drops the rest, so what reached
		 * the guard byte is a packet cut short, never to be parsed. */
		if ((size_t)n > t->tun.vnet_hdr_len + t->rx_bufsize) {
			t->stats.tun_truncated++;
			if (flow_env_rate_ok(&t->env, T2S_RATE_TUN_TRUNCATED, 5.0))
				log_warn("dropped a packet from %s longer than the %u-byte read buffer (was the device "
					 "MTU raised above --mtu %u?)",
					 t->tun.name, t->rx_bufsize, t->cfg->mtu);
			continue;
		}
		/* The virtio-net header only says how the kernel would have segmented or
		 * checksummed the packet; lwIP takes segments of any size and we do not
		 * verify transport checksums, so it is skipped. */
		n -= (ssize_t)t->tun.vnet_hdr_len;
		if (t->tun.vnet_hdr_len > 0 && t->vnet_rx[offsetof(struct virtio_net_hdr, gso_type)] != VIRTIO_NET_HDR_GSO_NONE)
			t->stats.tun_gso_in++;
		if (!receive(t, p->payload, n, &info))
			continue;
		if (info.ip_len <= COPY_BELOW(t->rx_bufsize)) {
			q = copy_packet(p->payload, &info);
			if (q == NULL)
				continue;
		} else {
			q = p;
			pbuf_realloc(q, info.ip_len);
			t->rx_spare = NULL;
		}
		tunif_input(t->tunif, q);
	}
}

static void
t2s_service_prepare_cb(struct ev_loop *loop, ev_prepare *w, int revents)
{
	struct t2s *t = container_of(w, struct t2s, service_prepare);

	(void)loop;
	(void)revents;
	tcp_flows_service(t->tcp);
}

/* The options for a new UDP association (relay override, shared receive buffer). */
static void
udp_config(const struct t2s *t, struct socks5_udp_config *cfg)
{
	*cfg = (struct socks5_udp_config){
		.relay_override = t->cfg->udp_relay,
		.recv_buf = t->udp_recv_buf,
		.recv_buf_len = SOCKS5_UDP_RECV_BUF,
	};
}

/* One line with each proxy's state and counters (several proxies only). */
static void
log_proxies(const struct t2s *t)
{
	char line[1024], name[T2S_ENDPOINT_STRLEN];
	size_t off = 0;

	for (unsigned i = 0; i < proxy_set_count(t->proxies) && off < sizeof(line); i++) {
		const struct proxy_set_stats *st = proxy_set_stats(t->proxies, i);
		int n;

		flow_env_proxy_name(&t->env, i, name, sizeof(name));
		n = snprintf(line + off, sizeof(line) - off,
			     "%sproxy%u=%s state=%s%s picked=%llu ok=%llu failed=%llu retried=%llu checks_ok=%llu "
			     "checks_failed=%llu down=%llu up=%llu",
			     i > 0 ? " " : "", i, name, proxy_set_up(t->proxies, i) ? "up" : "down",
			     proxy_set_active(t->proxies) == i ? ",active" : "", (unsigned long long)st->picked,
			     (unsigned long long)st->flow_ok, (unsigned long long)st->flow_failed,
			     (unsigned long long)st->retried, (unsigned long long)st->checks_ok,
			     (unsigned long long)st->checks_failed, (unsigned long long)st->went_down,
			     (unsigned long long)st->went_up);
		if (n < 0)
			break;
		off += (size_t)n;
	}
	log_info("stats: proxies (%s): %s", proxy_set_policy_str(t->cfg->proxy_policy), line);
}

void
t2s_log_stats(const struct t2s *t)
{
	const struct t2s_stats *s = &t->stats;
	const struct tcp_flows_stats *tc = tcp_flows_get_stats(t->tcp);
	const struct udp_flows_stats *u = udp_flows_get_stats(t->udp);
	const struct udp_route_stats *r = &t->route.stats;
	const struct udp_pool_stats *p = udp_pool_get_stats(t->udp_pool);
	const struct dns_tcp_stats *d = dns_tcp_get_stats(t->dns_tcp);
	char tls[128] = "";

	if (t->proxy.tls != NULL) {
		const struct tls_client_stats *ts = tls_client_get_stats(t->proxy.tls);

		snprintf(tls, sizeof(tls), " tls_handshakes=%llu tls_resumed=%llu tls_failed=%llu tls_relays=%llu",
			 (unsigned long long)ts->handshakes, (unsigned long long)ts->resumed,
			 (unsigned long long)ts->failed, (unsigned long long)ts->relays);
	}
	log_info("stats: tun_in=%llu/%lluB tun_out=%llu/%lluB tun_write_drops=%llu malformed=%llu "
		 "ignored=%llu martian_dropped=%llu martian_answered=%llu "
		 "fragments_dropped=%llu syn_absorbed=%llu tcp_flows=%u tcp_opened=%llu "
		 "tcp_failed=%llu tcp_refused_cap=%llu tcp_cap_episodes=%llu udp_mappings=%u udp_opened=%llu "
		 "udp_assoc_failed=%llu "
		 "udp_evictions=%llu udp_refused=%llu udp_out=%llu udp_in=%llu udp_send_errors=%llu "
		 "udp_reply_drops=%llu udp_pool_hits=%llu udp_pool_misses=%llu udp_pool_opened=%llu "
		 "udp_pool_recycled=%llu udp_pool_ready=%u udp_state=%s dns_tcp_queries=%llu "
		 "dns_tcp_answered=%llu dns_tcp_failed=%llu dns_tcp_refused=%llu dns_fake_answers=%llu "
		 "fake_ip_unmapped=%llu dns_stub_refused=%llu "
		 "fd_exhaustion_episodes=%llu fd_exhaustion_refused=%llu fd_exhausted=%d "
		 "mem_used=%zu mem_limit=%zu mem_episodes=%llu mem_refused=%llu mem_dropped=%llu mem_over=%d "
		 "tun_truncated=%llu tcp_collapses=%llu tun_gso_in=%llu tun_gso_out=%llu "
		 "socks5_pipelined=%llu socks5_pipeline_fallbacks=%llu socks5_pipeline=%s%s",
		 (unsigned long long)s->tun_packets_in, (unsigned long long)s->tun_bytes_in,
		 (unsigned long long)s->tun_packets_out, (unsigned long long)s->tun_bytes_out,
		 (unsigned long long)s->tun_write_drops, (unsigned long long)s->malformed,
		 (unsigned long long)(s->ignored + r->ignored + d->ignored), (unsigned long long)s->martian_dropped,
		 (unsigned long long)s->martian_answered, (unsigned long long)s->fragments_dropped,
		 (unsigned long long)tc->syn_absorbed, tcp_flows_count(t->tcp), (unsigned long long)tc->opened,
		 (unsigned long long)tc->failed, (unsigned long long)tc->refused_cap,
		 (unsigned long long)tcp_flows_cap(t->tcp)->episodes, udp_flows_count(t->udp),
		 (unsigned long long)u->opened, (unsigned long long)u->assoc_failed, (unsigned long long)u->evictions,
		 (unsigned long long)r->refused, (unsigned long long)u->datagrams_out,
		 (unsigned long long)u->datagrams_in, (unsigned long long)u->send_errors,
		 (unsigned long long)u->reply_drops, (unsigned long long)p->hits, (unsigned long long)p->misses,
		 (unsigned long long)p->opened, (unsigned long long)p->recycled, udp_pool_ready(t->udp_pool),
		 udp_health_state_str(udp_health_state(t->udp_health)), (unsigned long long)d->queries,
		 (unsigned long long)d->answered, (unsigned long long)d->failed, (unsigned long long)d->refused,
		 (unsigned long long)r->fake_answers, (unsigned long long)(tc->fake_unmapped + r->fake_unmapped),
		 (unsigned long long)(tc->stub_refused + r->stub_refused),
		 (unsigned long long)t->fd_pressure.episodes, (unsigned long long)t->fd_pressure.refused,
		 t->fd_pressure.exhausted ? 1 : 0, t2s_mem_used(t), t->mem.limit,
		 (unsigned long long)t->mem.episode.episodes, (unsigned long long)t->mem.episode.refused,
		 (unsigned long long)t->mem.dropped, t->mem.episode.exhausted ? 1 : 0,
		 (unsigned long long)s->tun_truncated, (unsigned long long)tc->collapses,
		 (unsigned long long)s->tun_gso_in, (unsigned long long)s->tun_gso_out,
		 (unsigned long long)t->proxy.pipeline->pipelined, (unsigned long long)t->proxy.pipeline->fallbacks,
		 socks5_pipeline_state_str(t->proxy.pipeline->state), tls);
	if (proxy_set_count(t->proxies) > 1)
		log_proxies(t);
}

static void
health_adopt(void *arg, struct socks5_udp *s)
{
	struct t2s *t = arg;

	udp_pool_give(t->udp_pool, s, NULL); /* a probe's: fresh, no application used it */
}

static void
health_drop_spares(void *arg)
{
	struct t2s *t = arg;

	udp_pool_drain(t->udp_pool);
}

/* Keeps a real address (ours, the proxy's, its relay's) out of the fake-IP pool. */
static void
fakeip_keep_out(struct t2s *t, const struct sockaddr *sa)
{
	const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)sa;
	int err = 0;

	if (t->fakeip == NULL)
		return;
	if (sa->sa_family == AF_INET)
		err = fakeip_exclude(t->fakeip, 4, &((const struct sockaddr_in *)sa)->sin_addr);
	else if (sa->sa_family == AF_INET6 && IN6_IS_ADDR_V4MAPPED(&sin6->sin6_addr))
		err = fakeip_exclude(t->fakeip, 4, sin6->sin6_addr.s6_addr + 12);
	else if (sa->sa_family == AF_INET6)
		err = fakeip_exclude(t->fakeip, 6, &sin6->sin6_addr);
	if (err < 0)
		log_warn("fake-ip pool: cannot keep an address of ours out of it: %s", strerror(-err));
}

static void
pool_result(void *arg, const struct socks5_udp_result *res)
{
	struct t2s *t = arg;

	if (res->failure == SOCKS5_UDP_OK)
		fakeip_keep_out(t, (const struct sockaddr *)&res->relay);
	udp_health_on_result(t->udp_health, res);
}

/* The spare pool and the UDP health check, which feed each other; the mappings and
 * the router that sends datagrams to them. */
static int
udp_setup(struct t2s *t, uint64_t seed)
{
	struct socks5_udp_config ucfg;
	struct udp_health_env env;

	udp_config(t, &ucfg);
	t->udp_pool = udp_pool_new(t->loop, &t->proxy, &ucfg, t->cfg->udp_pool, t->cfg->udp_timeout, pool_result, t);
	if (t->udp_pool == NULL)
		return -1;
	env = (struct udp_health_env){
		.loop = t->loop,
		.server = &t->proxy,
		.udp_cfg = ucfg,
		.adopt = health_adopt,
		.drop_spares = health_drop_spares,
		.arg = t,
	};
	/* The relay check asks only servers of our own configuration (udp_health.h). */
	if (t->cfg->dns_server.family != 0) {
		struct t2s_endpoint *ep = &env.dns[env.n_dns++];

		ep->type = t->cfg->dns_server.family == AF_INET ? T2S_ENDPOINT_IPV4 : T2S_ENDPOINT_IPV6;
		ep->port = 53;
		if (ep->type == T2S_ENDPOINT_IPV4)
			memcpy(ep->u.ipv4, &t->cfg->dns_server.addr.v4, 4);
		else
			memcpy(ep->u.ipv6, &t->cfg->dns_server.addr.v6, 16);
	}
	t->udp_health = udp_health_new(t->cfg->udp_mode, &env);
	if (t->udp_health == NULL)
		return -1;
	t->udp = udp_flows_new(&(struct udp_flows_env){.env = t->env,
						      .pool = t->udp_pool,
						      .health = t->udp_health,
						      .udp_cfg = ucfg,
						      .dns_fallback = udp_route_dns_fallback,
						      .arg = &t->route},
			       seed);
	if (t->udp == NULL)
		return -1;
	udp_route_init(&t->route, &t->env, t->udp_health, t->dns_tcp, t->udp);
	return 0;
}

/* New UDP associations and DNS over TCP go to servers[idx] from now on. */
static void
use_for_udp(struct t2s *t, unsigned idx)
{
	t->proxy = t->servers[idx];
	udp_pool_drain(t->udp_pool);
	udp_health_proxy_changed(t->udp_health);
	if (t->fakeip != NULL)
		fakeip_keep_out(t, (const struct sockaddr *)&t->proxy.addr);
}

void
t2s_set_proxy(struct t2s *t, const struct socks5_server *proxy)
{
	struct socks5_server *s = &t->servers[0];

	memcpy(&s->addr, &proxy->addr, sizeof(s->addr));
	s->addrlen = proxy->addrlen;
	s->user = proxy->user;
	s->pass = proxy->pass;
	socks5_pipeline_reset(s->pipeline);
	if (proxy_set_active(t->proxies) == 0)
		use_for_udp(t, 0);
}

/* A block of credentials for the backups; kept until t2s_free, since a handshake
 * under way at a reload still reads the one it started with. */
struct t2s_creds {
	struct t2s_creds *next;
	char user[PROXY_SET_MAX][PROXY_URL_CRED_MAX + 1];
	char pass[PROXY_SET_MAX][PROXY_URL_CRED_MAX + 1];
};

/* proxy_set's hook: a proxy changed state, perhaps the active one. */
static void
proxies_changed(void *arg, unsigned idx, bool up, unsigned old_active, unsigned new_active)
{
	struct t2s *t = arg;
	char name[T2S_ENDPOINT_STRLEN], next[T2S_ENDPOINT_STRLEN];

	flow_env_proxy_name(&t->env, idx, name, sizeof(name));
	if (up) {
		log_info("proxy %u (%s) is up", idx, name);
	} else {
		log_warn("proxy %u (%s) is down", idx, name);
		proxy_names_refresh(t->names, idx); /* its address may have changed */
	}
	if (old_active == new_active)
		return;
	flow_env_proxy_name(&t->env, new_active, next, sizeof(next));
	log_warn("new connections go to proxy %u (%s) now (was proxy %u); those open stay where they are",
		 new_active, next, old_active);
	use_for_udp(t, new_active);
}

void
t2s_set_resolvers(struct t2s *t, const struct sockaddr_storage *servers, size_t n)
{
	t->n_resolvers = n < PROXY_LOOKUP_SERVERS_MAX ? n : PROXY_LOOKUP_SERVERS_MAX;
	memcpy(t->resolvers, servers, t->n_resolvers * sizeof(*servers));
}

static const struct t2s_endpoint *
proxy_endpoint(const struct t2s *t, unsigned idx)
{
	return idx == 0 ? &t->cfg->proxy.server : &t->cfg->backup[idx - 1].server;
}

/* proxy_names.resolved */
static void
names_resolved(void *arg, unsigned idx, const struct sockaddr_storage *addr, socklen_t len, uint32_t ttl)
{
	struct t2s *t = arg;
	struct socks5_server *s = &t->servers[idx];
	char name[T2S_ENDPOINT_STRLEN], got[T2S_ENDPOINT_STRLEN] = "?";
	struct t2s_endpoint ep;
	bool first = s->addr.ss_family == AF_UNSPEC;

	if (idx >= proxy_set_count(t->proxies) || (s->addrlen == len && memcmp(&s->addr, addr, len) == 0))
		return;
	memcpy(&s->addr, addr, len);
	s->addrlen = len;
	fakeip_keep_out(t, (const struct sockaddr *)addr);
	socks5_pipeline_reset(s->pipeline);
	flow_env_proxy_name(&t->env, idx, name, sizeof(name));
	if (endpoint_from_sockaddr(&ep, (const struct sockaddr *)addr) == 0)
		endpoint_format(&ep, got, sizeof(got));
	log_info("proxy %u (%s) is %s%s (TTL %u s)", idx, name, first ? "" : "now ", got, (unsigned)ttl);
	if (proxy_set_active(t->proxies) == idx)
		use_for_udp(t, idx);
}

/* proxy_names.failed */
static void
names_failed(void *arg, unsigned idx, int err, const char *why)
{
	struct t2s *t = arg;
	char name[T2S_ENDPOINT_STRLEN];

	(void)err;
	flow_env_proxy_name(&t->env, idx, name, sizeof(name));
	log_warn("proxy %u (%s): cannot look its name up: %s (asked again in %.0f s)", idx, name, why,
		 PROXY_NAMES_RETRY);
}

/* Lookups for every proxy given by name; those with no address yet are down. */
static int
names_setup(struct t2s *t, unsigned n)
{
	struct proxy_names_env env = {
		.loop = t->loop,
		.n_servers = t->n_resolvers,
		.timeout = t->cfg->proxy_check_timeout * 2 > 2.0 ? t->cfg->proxy_check_timeout * 2 : 2.0,
		.fwmark = t->servers[0].fwmark,
		.hook = t->servers[0].hook,
		.resolved = names_resolved,
		.failed = names_failed,
		.arg = t,
	};
	int err;

	proxy_names_free(t->names);
	t->names = NULL;
	memcpy(env.servers, t->resolvers, sizeof(env.servers));
	for (unsigned i = 0; i < n; i++) {
		const struct t2s_endpoint *ep = proxy_endpoint(t, i);
		bool unresolved = t->servers[i].addr.ss_family == AF_UNSPEC;

		if (ep->type != T2S_ENDPOINT_DOMAIN)
			continue;
		if (t->names == NULL && (t->names = proxy_names_new(&env)) == NULL)
			return -ENOMEM;
		if (unresolved)
			proxy_set_mark_down(t->proxies, i, ev_now(t->loop));
		err = proxy_names_add(t->names, i, ep->u.domain.name, ep->port, unresolved);
		if (err < 0)
			return err;
	}
	return 0;
}

int
t2s_set_backups(struct t2s *t, const struct socks5_server *backups, unsigned n)
{
	static const struct t2s_endpoint default_target = {.type = T2S_ENDPOINT_IPV4, .port = 9, .u.ipv4 = {127, 0, 0, 1}};
	struct t2s_creds *c;

	if (n + 1 > PROXY_SET_MAX)
		return -EINVAL;
	c = calloc(1, sizeof(*c));
	if (c == NULL)
		return -ENOMEM;
	c->next = t->creds;
	t->creds = c;
	proxy_check_free(t->check);
	t->check = NULL;
	for (unsigned i = 0; i < n; i++) {
		struct socks5_server *s = &t->servers[i + 1];

		*s = t->servers[0];
		memcpy(&s->addr, &backups[i].addr, sizeof(s->addr));
		s->addrlen = backups[i].addrlen;
		s->user = s->pass = NULL;
		if (backups[i].user != NULL) {
			snprintf(c->user[i], sizeof(c->user[i]), "%s", backups[i].user);
			snprintf(c->pass[i], sizeof(c->pass[i]), "%s", backups[i].pass != NULL ? backups[i].pass : "");
			s->user = c->user[i];
			s->pass = c->pass[i];
		}
		s->tls = NULL;
		s->pipeline = &t->pipelines[i + 1];
		t->pipelines[i + 1].probe_timeout = t->pipelines[0].probe_timeout;
		socks5_pipeline_reset(s->pipeline);
		fakeip_keep_out(t, (const struct sockaddr *)&s->addr);
	}
	(void)proxy_set_reset(t->proxies, n + 1, ev_now(t->loop));
	use_for_udp(t, 0);
	proxy_names_free(t->names);
	t->names = NULL;
	if (n == 0)
		return 0;
	if (names_setup(t, n + 1) < 0)
		return -ENOMEM;
	t->check = proxy_check_new(t->loop, t->proxies, t->servers,
				   t->cfg->check_target.type != T2S_ENDPOINT_NONE ? &t->cfg->check_target : &default_target,
				   t->cfg->proxy_check_interval, t->cfg->proxy_check_timeout);
	return t->check == NULL ? -ENOMEM : 0;
}

void
t2s_proxies(const struct t2s *t, t2s_proxy_fn fn, void *arg)
{
	for (unsigned i = 0; i < proxy_set_count(t->proxies); i++)
		fn(arg, i, proxy_set_up(t->proxies, i), proxy_set_active(t->proxies) == i,
		   proxy_set_stats(t->proxies, i));
}

static uint64_t
phys_memory(void)
{
	long pages = sysconf(_SC_PHYS_PAGES), size = sysconf(_SC_PAGESIZE);

	return pages > 0 && size > 0 ? (uint64_t)pages * (uint64_t)size : 0;
}

struct t2s *
t2s_new(struct ev_loop *loop, const struct t2s_config *cfg, const struct socks5_server *proxy,
	struct tun_device *tun)
{
	struct tunif_config tcfg;
	struct t2s *t;
	uint64_t seed;

	t = calloc(1, sizeof(*t));
	if (t == NULL)
		return NULL;
	t->loop = loop;
	t->cfg = cfg;
	t->servers[0] = *proxy;
	t->servers[0].pipeline = &t->pipelines[0];
	/* A probe that waits longer would leave its flow too little for the fallback. */
	t->pipelines[0].probe_timeout = cfg->connect_timeout / 3 < 2.0 ? cfg->connect_timeout / 3 : 2.0;
	t->proxy = t->servers[0];
	t->tun = *tun;
	tun->fd = -1;
	if (getrandom(&seed, sizeof(seed), 0) != sizeof(seed))
		seed = (uint64_t)(uintptr_t)t ^ (uint64_t)ev_time();
	t->proxies = proxy_set_new(&(struct proxy_set_params){.n = 1,
							     .policy = cfg->proxy_policy,
							     .fall = cfg->proxy_fall,
							     .rise = cfg->proxy_rise,
							     .changed = proxies_changed,
							     .arg = t},
				   ev_now(loop));
	if (t->proxies == NULL)
		goto err_free;
	mem_budget_init(&t->mem,
			cfg->max_memory > 0 ? cfg->max_memory : mem_budget_default(cfg->max_flows, phys_memory()));
	ev_timer_init(&t->mem_timer, t2s_mem_timer_cb, 0, 0.25);
	t->udp_recv_buf = malloc(SOCKS5_UDP_RECV_BUF);
	if (t->udp_recv_buf == NULL)
		goto err_relay;
	if (t->tun.vnet_hdr_len > sizeof(t->vnet_tx)) {
		errno = EPROTOTYPE;
		goto err_relay;
	}
	t->rx_bufsize = t->tun.vnet_hdr_len > 0 ? TUN_MAX_PACKET : cfg->mtu;
	((struct virtio_net_hdr *)t->vnet_tx)->flags = VIRTIO_NET_HDR_F_DATA_VALID;
	t->rxpool = rxpool_new((u16_t)t->rx_bufsize, T2S_RX_BUFFERS_KEPT);
	if (t->rxpool == NULL)
		goto err_relay;
	t->reass = ip_reass_new(&(struct ip_reass_config){
		.max_datagrams = REASS_DATAGRAMS,
		.max_bytes = REASS_BYTES,
		.timeout4 = REASS_TIMEOUT,
		.timeout6 = REASS_TIMEOUT,
	});
	if (t->reass == NULL)
		goto err_rxpool;
	t->frag_id = (uint32_t)seed;
	ev_timer_init(&t->reass_timer, t2s_reass_timer_cb, 0, 0);
	if (cfg->dns_mode == CONFIG_DNS_FAKE_IP) {
		struct fakeip_config fc = {
			.net4 = cfg->fake_net4,
			.prefix4 = cfg->fake_prefix4,
			.has_net6 = true,
			.net6 = cfg->fake_net6,
			.prefix6 = cfg->fake_prefix6,
			.capacity = 65536,
			.ttl = 10,
			.idle_expiry = 3600,
			.seed = seed * 0x9e3779b97f4a7c15ull,
		};
		const char *why;

		if (fakeip_config_check(&fc, &why) < 0) {
			log_error("fake-ip pool: %s", why);
			errno = EINVAL;
			goto err_rxpool;
		}
		t->fakeip = fakeip_new(&fc);
		if (t->fakeip == NULL)
			goto err_rxpool;
		/* A name must never be given the address of the TUN, the proxy or its relay. */
		if (cfg->has_address4) {
			struct sockaddr_in sin = {.sin_family = AF_INET, .sin_addr = cfg->address4};

			fakeip_keep_out(t, (const struct sockaddr *)&sin);
		}
		if (cfg->has_address6) {
			struct sockaddr_in6 sin6 = {.sin6_family = AF_INET6, .sin6_addr = cfg->address6};

			fakeip_keep_out(t, (const struct sockaddr *)&sin6);
		}
		fakeip_keep_out(t, (const struct sockaddr *)&t->proxy.addr);
		fakeip_keep_out(t, (const struct sockaddr *)&cfg->udp_relay);
	}

	tcfg = (struct tunif_config){
		.mtu = cfg->mtu,
		.output = t2s_tunif_output,
		.output_ctx = t,
		.prefix = {.iov_base = t->vnet_tx, .iov_len = t->tun.vnet_hdr_len},
		.tcp_csum_partial = t->tun.vnet_hdr_len > 0,
		.gso = t->tun.vnet_hdr_len > 0, /* Linux takes GSO writes on any such TUN */
		.accept = tcp_flow_accept_cb,
	};
	t->env = (struct flow_env){
		.loop = loop,
		.cfg = cfg,
		.proxy = &t->proxy,
		.proxies = t->proxies,
		.servers = t->servers,
		.tun = {.sendv = t2s_tun_sendv, .send_udp = t2s_tun_send_udp, .ctx = t},
		.fakeip = t->fakeip,
		.fd_pressure = &t->fd_pressure,
		.rate = t->rate_log,
		.next_flow_id = &t->next_flow_id,
		.stopping = &t->stopping,
		.mem = &t->mem,
		.mem_used = mem_used_hook,
		.mem_owed = mem_owed_hook,
		.mem_ctx = t,
	};
	t->dns_tcp = dns_tcp_new(&t->env);
	if (t->dns_tcp == NULL || udp_setup(t, seed ^ 0x5bd1e995u) < 0)
		goto err_rxpool;
	t->tcp = tcp_flows_new(&t->env, seed);
	if (t->tcp == NULL)
		goto err_rxpool;
	tcfg.accept_arg = t->tcp;
	t->tunif = tunif_new(&tcfg);
	if (t->tunif == NULL) {
		errno = ENOMEM;
		goto err_rxpool;
	}
	tcp_flows_set_tunif(t->tcp, t->tunif);

	ev_io_init(&t->tun_io, t2s_tun_io_cb, t->tun.fd, EV_READ);
	ev_io_start(loop, &t->tun_io);
	ev_prepare_init(&t->service_prepare, t2s_service_prepare_cb);
	ev_prepare_start(loop, &t->service_prepare);
	ev_unref(loop); /* the prepare watcher alone must not keep the loop running */
	udp_health_start(t->udp_health);
	return t;

err_rxpool:
	tcp_flows_free(t->tcp);
	udp_flows_free(t->udp);
	udp_health_free(t->udp_health);
	udp_pool_free(t->udp_pool);
	ip_reass_free(t->reass);
	dns_tcp_free(t->dns_tcp);
	fakeip_free(t->fakeip);
	rxpool_free(t->rxpool);
err_relay:
	free(t->udp_recv_buf);
	proxy_set_free(t->proxies);
err_free:
	tun_close(&t->tun);
	free(t);
	return NULL;
}

void
t2s_stop(struct t2s *t)
{
	if (t->stopping)
		return;
	t->stopping = true;
	t2s_log_stats(t);
	proxy_check_free(t->check);
	t->check = NULL;
	proxy_names_free(t->names);
	t->names = NULL;
	tcp_flows_abort_all(t->tcp);
	udp_flows_close_all(t->udp);
	udp_pool_drain(t->udp_pool);
	dns_tcp_close_all(t->dns_tcp);
	ev_io_stop(t->loop, &t->tun_io);
	ev_timer_stop(t->loop, &t->reass_timer);
	ev_timer_stop(t->loop, &t->mem_timer);
	ev_break(t->loop, EVBREAK_ALL);
}

/* One line at exit when fragments were seen or sent: what became of them. */
static void
log_fragment_stats(const struct t2s *t)
{
	const struct ip_reass_stats *st = ip_reass_stats(t->reass);

	if (st->fragments + st->malformed + st->too_big + t->stats.fragments_dropped + t->stats.tun_fragmented == 0)
		return;
	log_info("fragments: %llu UDP datagrams reassembled from %llu fragments (%llu duplicates); dropped: %llu "
		 "timed out, %llu overlapping, %llu too big, %llu for want of room, %llu malformed, %llu not UDP; "
		 "%llu datagrams sent fragmented",
		 (unsigned long long)st->reassembled, (unsigned long long)st->fragments,
		 (unsigned long long)st->duplicates, (unsigned long long)st->timed_out,
		 (unsigned long long)st->overlaps, (unsigned long long)st->too_big, (unsigned long long)st->no_room,
		 (unsigned long long)st->malformed, (unsigned long long)t->stats.fragments_dropped,
		 (unsigned long long)t->stats.tun_fragmented);
}

void
t2s_free(struct t2s *t)
{
	if (t == NULL)
		return;
	t2s_stop(t);
	ev_ref(t->loop);
	ev_prepare_stop(t->loop, &t->service_prepare);
	tcp_flows_free(t->tcp);
	tunif_free(t->tunif);
	if (t->rx_spare != NULL)
		pbuf_free(t->rx_spare);
	udp_flows_free(t->udp);
	udp_health_free(t->udp_health);
	udp_pool_free(t->udp_pool);
	log_fragment_stats(t);
	ip_reass_free(t->reass);
	dns_tcp_free(t->dns_tcp);
	rxpool_free(t->rxpool);
	fakeip_free(t->fakeip);
	free(t->udp_recv_buf);
	proxy_set_free(t->proxies);
	while (t->creds != NULL) {
		struct t2s_creds *next = t->creds->next;

		explicit_bzero(t->creds, sizeof(*t->creds));
		free(t->creds);
		t->creds = next;
	}
	tun_close(&t->tun);
	free(t);
}

/* Each counter of the stats line, named for metrics (gauges carry no _total). */
void
t2s_counters(const struct t2s *t, t2s_counter_fn fn, void *arg)
{
	const struct t2s_stats *s = &t->stats;
	const struct tcp_flows_stats *tc = tcp_flows_get_stats(t->tcp);
	const struct udp_flows_stats *u = udp_flows_get_stats(t->udp);
	const struct udp_route_stats *r = &t->route.stats;
	const struct udp_pool_stats *p = udp_pool_get_stats(t->udp_pool);
	const struct dns_tcp_stats *d = dns_tcp_get_stats(t->dns_tcp);
	const struct ip_reass_stats *ra = ip_reass_stats(t->reass);
	const struct {
		const char *name;
		uint64_t value;
		bool gauge;
		const char *help;
	} c[] = {
		{"tun_packets_in", s->tun_packets_in, false, "Packets read from the TUN"},
		{"tun_bytes_in", s->tun_bytes_in, false, "Bytes read from the TUN"},
		{"tun_packets_out", s->tun_packets_out, false, "Packets written to the TUN"},
		{"tun_bytes_out", s->tun_bytes_out, false, "Bytes written to the TUN"},
		{"tun_write_drops", s->tun_write_drops, false, "Packets the TUN refused"},
		{"tun_truncated", s->tun_truncated, false, "TUN reads longer than the read buffer"},
		{"malformed", s->malformed, false, "Packets refused by validation"},
		{"ignored", s->ignored + r->ignored + d->ignored, false, "Packets not for us (ICMP, other protocols)"},
		{"martian_dropped", s->martian_dropped, false, "Packets to or from never-a-host addresses"},
		{"martian_answered", s->martian_answered, false, "ICMP answers to martian packets"},
		{"fragments_dropped", s->fragments_dropped, false, "Fragments of anything but UDP"},
		{"tun_fragmented", s->tun_fragmented, false, "Datagrams written to the TUN as fragments"},
		{"udp_fragments", ra->fragments, false, "UDP fragments taken into a reassembly"},
		{"udp_reassembled", ra->reassembled, false, "UDP datagrams reassembled"},
		{"tcp_flows", tcp_flows_count(t->tcp), true, "TCP connections open"},
		{"tcp_opened", tc->opened, false, "TCP connections opened"},
		{"tcp_failed", tc->failed, false, "TCP connections the proxy did not connect"},
		{"tcp_refused_cap", tc->refused_cap, false, "TCP connections refused at --max-flows"},
		{"tcp_cap_episodes", tcp_flows_cap(t->tcp)->episodes, false, "Episodes at --max-flows"},
		{"syn_absorbed", tc->syn_absorbed, false, "SYN retransmissions held while the proxy connects"},
		{"tcp_collapses", tc->collapses, false, "Queues of small segments copied into dense buffers"},
		{"udp_mappings", udp_flows_count(t->udp), true, "UDP mappings open"},
		{"udp_opened", u->opened, false, "UDP mappings opened"},
		{"udp_assoc_failed", u->assoc_failed, false, "UDP associations that failed"},
		{"udp_evictions", u->evictions, false, "UDP mappings evicted at --max-flows"},
		{"udp_refused", r->refused, false, "UDP datagrams refused (ICMP)"},
		{"udp_out", u->datagrams_out, false, "UDP datagrams sent to the proxy"},
		{"udp_in", u->datagrams_in, false, "UDP datagrams received from the proxy"},
		{"udp_send_errors", u->send_errors, false, "UDP datagrams that could not be sent"},
		{"udp_reply_drops", u->reply_drops, false, "UDP replies that could not be delivered"},
		{"udp_pool_hits", p->hits, false, "New UDP mappings served by a spare association"},
		{"udp_pool_misses", p->misses, false, "New UDP mappings that found no spare association"},
		{"udp_pool_opened", p->opened, false, "Spare UDP associations opened"},
		{"udp_pool_recycled", p->recycled, false, "UDP associations recycled as spares"},
		{"udp_pool_ready", udp_pool_ready(t->udp_pool), true, "Spare UDP associations ready"},
		{"dns_tcp_queries", d->queries, false, "DNS queries sent over TCP"},
		{"dns_tcp_answered", d->answered, false, "DNS-over-TCP answers written"},
		{"dns_tcp_failed", d->failed, false, "DNS-over-TCP queries that failed"},
		{"dns_tcp_refused", d->refused, false, "DNS-over-TCP queries refused"},
		{"dns_fake_answers", r->fake_answers, false, "DNS queries answered from the fake-IP pool"},
		{"fake_ip_unmapped", tc->fake_unmapped + r->fake_unmapped, false, "Flows to a fake address whose name is gone"},
		{"dns_stub_refused", tc->stub_refused + r->stub_refused, false, "Queries the command's nameserver refused"},
		{"dns_local_redirected", r->local_redirected, false,
		 "DNS queries to an excluded or link-local server sent to --dns-server"},
		{"dns_local_refused", r->local_refused, false, "DNS queries to an excluded or link-local server refused"},
		{"fd_exhaustion_episodes", t->fd_pressure.episodes, false, "Episodes short of file descriptors"},
		{"fd_exhaustion_refused", t->fd_pressure.refused, false, "Flows refused for want of a descriptor"},
		{"fd_exhausted", t->fd_pressure.exhausted ? 1 : 0, true, "1 while short of file descriptors"},
		{"mem_used_bytes", t2s_mem_used(t), true, "Bytes the data path holds"},
		{"mem_limit_bytes", t->mem.limit, true, "The memory budget (--max-memory)"},
		{"mem_episodes", t->mem.episode.episodes, false, "Episodes past the memory budget"},
		{"mem_refused", t->mem.episode.refused, false, "Flows refused past the memory budget"},
		{"mem_dropped", t->mem.dropped, false, "Data packets dropped past the memory budget"},
		{"mem_over", t->mem.episode.exhausted ? 1 : 0, true, "1 while past the memory budget"},
	};

	for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++)
		fn(arg, c[i].name, c[i].value, c[i].gauge, c[i].help);
}

void
t2s_histograms(const struct t2s *t, t2s_histogram_fn fn, void *arg)
{
	fn(arg, "socks_connect_seconds", "Time from an application's SYN to the proxy's CONNECT reply",
	   &tcp_flows_get_stats(t->tcp)->connect_time);
	fn(arg, "tcp_flow_duration_seconds", "Lifetime of TCP connections that ended",
	   &tcp_flows_get_stats(t->tcp)->duration);
	fn(arg, "udp_mapping_duration_seconds", "Lifetime of UDP mappings that ended",
	   &udp_flows_get_stats(t->udp)->duration);
	fn(arg, "dns_fake_ip_answer_seconds", "Time to answer a DNS query from the fake-IP pool",
	   &t->route.stats.fake_answer_time);
	fn(arg, "dns_tcp_answer_seconds", "Time from a DNS query datagram to its answer over TCP",
	   &dns_tcp_get_stats(t->dns_tcp)->answer_time);
}
