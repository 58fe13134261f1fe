/* SPDX-License-Identifier: MIT */
/*
 * The TUN netif. Accepting traffic for any destination needs no lwIP patch: per packet,
 * the netif's own address is set to the packet's destination before ip4_input or
 * ip6_input runs (so lwIP's validation, reassembly and demultiplexing all still apply),
 * and raw pcbs, which lwIP consults after reassembly and just before TCP, point the one
 * wildcard listener at the packet's destination port. See docs/ARCHITECTURE.md.
 */
#include "tunif.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include <lwip/init.h>
#include <lwip/ip.h>
#include <lwip/ip4.h>
#include <lwip/ip6.h>
#include <lwip/netif.h>
#include <lwip/prot/ip4.h>
#include <lwip/prot/ip6.h>
#include <lwip/raw.h>
#include <lwip/tcp.h>

#include "lwip_port.h"

/* The netif slot that carries the current packet's IPv6 destination. */
#define RETARGET_SLOT (LWIP_IPV6_NUM_ADDRESSES - 1)
#define MAX_IOV 64
/* The pcb ext-arg slot of the netif (slot 0 is the flow layer's): the real MSS. */
#define TUNIF_EXT_ARG 1
_Static_assert(LWIP_TCP_PCB_NUM_EXT_ARGS == 3 && LWIP_PORT_EXT_ARG == 2, "tunif owns ext-arg slot 1");

struct tunif {
	struct netif netif;
	struct tcp_pcb *listener;
	struct raw_pcb *tcp_port_hook;
	tunif_output_fn output;
	void *output_ctx;
	struct iovec prefix;
	int tcp_csum_partial;
	int gso;
	/* The real MSS of the pcb whose segment lwIP is sending now: set by the TCP
	 * output hook, consumed (and cleared) by the output of that segment. */
	unsigned seg_mss;
	uint8_t *bounce; /* a packet in more pieces than MAX_IOV, made whole (gso only) */
};

/* lwIP is global: one netif, which its TCP output hook reaches through this. */
static struct tunif *tunif_instance;

static u32_t
sum16(const u8_t *b, unsigned len, u32_t acc)
{
	for (unsigned i = 0; i + 1 < len; i += 2)
		acc += (u32_t)(b[i] << 8 | b[i + 1]);
	return acc;
}

/*
 * For a TCP packet lwIP left unsummed: puts the pseudo-header sum in its checksum field
 * and says where the rest goes. lwIP builds the IP and TCP headers of a segment in its
 * first pbuf, and never adds IPv6 extension headers to TCP. Returns NULL for anything
 * else (complete as it is).
 */
static const struct tunif_partial_csum *
prepare_partial(struct pbuf *p, struct tunif_partial_csum *pc)
{
	u8_t *b = p->payload;
	unsigned hl, len;
	u32_t acc;

	if (p->len < 1)
		return NULL;
	if (b[0] >> 4 == 4) {
		hl = (unsigned)(b[0] & 0x0f) * 4;
		if (p->len < hl + 20 || b[9] != IP_PROTO_TCP)
			return NULL;
		len = (unsigned)(b[2] << 8 | b[3]) - hl;
		acc = sum16(b + 12, 8, IP_PROTO_TCP + len);
	} else {
		hl = IP6_HLEN;
		if (p->len < hl + 20 || b[6] != IP6_NEXTH_TCP)
			return NULL;
		len = (unsigned)(b[4] << 8 | b[5]);
		acc = sum16(b + 8, 32, IP_PROTO_TCP + len);
	}
	acc = (acc & 0xffff) + (acc >> 16);
	acc = (acc & 0xffff) + (acc >> 16);
	b[hl + 16] = (u8_t)(acc >> 8);
	b[hl + 17] = (u8_t)acc;
	pc->start = hl;
	pc->offset = 16;
	pc->mss = 0;
	return pc;
}

static err_t
emit(struct tunif *tif, struct pbuf *p)
{
	struct iovec iov[MAX_IOV];
	struct tunif_partial_csum pc;
	const struct tunif_partial_csum *partial = NULL;
	struct pbuf *q;
	int n = 0;

	if (tif->tcp_csum_partial)
		partial = prepare_partial(p, &pc);
	if (partial != NULL)
		pc.mss = tif->seg_mss;
	tif->seg_mss = 0;
	if (tif->prefix.iov_len > 0)
		iov[n++] = tif->prefix;
	for (q = p; q != NULL && n < MAX_IOV; q = q->next) {
		if (q->len == 0)
			continue;
		iov[n].iov_base = q->payload;
		iov[n].iov_len = q->len;
		n++;
	}
	if (q != NULL) {
		/* A large segment made of many small writes (only with gso: at most a few
		 * pbufs fit one MTU-sized segment). */
		if (tif->bounce == NULL)
			return ERR_BUF;
		n = tif->prefix.iov_len > 0 ? 1 : 0;
		iov[n].iov_base = tif->bounce;
		iov[n].iov_len = pbuf_copy_partial(p, tif->bounce, p->tot_len, 0);
		n++;
	}
	return tif->output(tif->output_ctx, iov, n, partial) == 0 ? ERR_OK : ERR_IF;
}

static err_t
tunif_output4_cb(struct netif *netif, struct pbuf *p, const ip4_addr_t *dst)
{
	(void)dst;
	return emit((struct tunif *)netif->state, p);
}

static err_t
tunif_output6_cb(struct netif *netif, struct pbuf *p, const ip6_addr_t *dst)
{
	(void)dst;
	return emit((struct tunif *)netif->state, p);
}

/*
 * lwIP's TCP output hook (LWIP_HOOK_TCP_OUT_ADD_TCPOPTS in lwipopts.h), run for every
 * segment it sends just before the IP output that reaches emit(): notes the pcb's real
 * MSS for that segment. Adds no options.
 */
u32_t *
tunif_tcp_out_hook(struct tcp_pcb *pcb, u32_t *opts)
{
	struct tunif *tif = tunif_instance;

	/* The safety net of parking (lwip_port.h): a parked pcb sending goes back on
	 * lwIP's list, where its retransmission timer runs. */
	lwip_port_tcp_wake(pcb);

	if (tif != NULL)
		tif->seg_mss = tif->gso && pcb != NULL ? (unsigned)(uintptr_t)tcp_ext_arg_get(pcb, TUNIF_EXT_ARG) : 0;
	return opts;
}

/*
 * A SYN reached the listener and lwIP made its pcb: cpcb->mss is now what the peer can
 * take (its MSS option bounded by the MTU). With gso that is kept for the segmentation
 * and lwIP is let build segments of the largest multiple of it that fits an IP packet,
 * so that the receiver cuts each into equal pieces. lwIP announces its own MSS from
 * the MTU (tcp_output_segment), not from this.
 */
static err_t
tunif_passive_open_cb(u8_t id, struct tcp_pcb_listen *lpcb, struct tcp_pcb *cpcb)
{
	struct tunif *tif = tunif_instance;
	unsigned real = cpcb->mss;

	(void)lpcb;
	if (tif == NULL || !tif->gso || real == 0)
		return ERR_OK;
	tcp_ext_arg_set(cpcb, id, (void *)(uintptr_t)real);
	cpcb->mss = (u16_t)(TCP_MSS / real * real);
	return ERR_OK;
}

static const struct tcp_ext_arg_callbacks tunif_ext_callbacks = {.passive_open = tunif_passive_open_cb};

static err_t
tunif_netif_init_cb(struct netif *netif)
{
	netif->name[0] = 't';
	netif->name[1] = 'n';
	netif->output = tunif_output4_cb;
	netif->output_ip6 = tunif_output6_cb;
	netif->flags = NETIF_FLAG_LINK_UP;
	return ERR_OK;
}

/*
 * Runs for every TCP segment after reassembly, just before tcp_input: points the
 * wildcard listener at this segment's destination port. Active pcbs are matched before
 * listeners, so this only matters for segments that belong to no connection (a SYN,
 * or a stray segment that earns a RST from the right port). It also puts back a pcb
 * parked off lwIP's list for this segment's tuple (lwip_port.h). Never eats the packet.
 */
static u8_t
tunif_tcp_port_hook_cb(void *arg, struct raw_pcb *pcb, struct pbuf *p, const ip_addr_t *addr)
{
	struct tunif *tif = arg;
	u8_t ports[4]; /* source and destination */
	u16_t dport;

	(void)pcb;
	(void)addr;
	if (pbuf_copy_partial(p, ports, sizeof(ports), ip_current_header_tot_len()) != sizeof(ports))
		return 0;
	dport = (u16_t)(ports[2] << 8 | ports[3]);
	/* A parked pcb goes back on lwIP's list before tcp_input looks for it. */
	if (lwip_port_tcp_parked() > 0)
		lwip_port_tcp_wake_tuple(ip_current_src_addr(), (u16_t)(ports[0] << 8 | ports[1]), ip_current_dest_addr(),
					 dport);
	tif->listener->local_port = dport;
	return 0;
}

static int
ip4_deliverable(const struct ip_hdr *h)
{
	u32_t dst = lwip_ntohl(ip4_addr_get_u32(&h->dest));

	return dst != 0 && dst != 0xffffffffu && (dst >> 28) != 0xe; /* multicast */
}

static int
ip6_deliverable(const struct ip6_hdr *h)
{
	const u8_t *d = (const u8_t *)&h->dest;
	static const u8_t zero[16];

	if (d[0] == 0xff) /* multicast */
		return 0;
	if (d[0] == 0xfe && (d[1] & 0xc0) == 0x80) /* link-local */
		return 0;
	return memcmp(d, zero, sizeof(zero)) != 0;
}

void
tunif_input(struct tunif *tif, struct pbuf *p)
{
	struct netif *netif = &tif->netif;
	u8_t version = (*(u8_t *)p->payload) >> 4;

	lwip_port_timer_wake(); /* before lwIP may make a pcb for this packet */
	if (version == 4 && p->len >= IP_HLEN) {
		const struct ip_hdr *h = p->payload;
		ip4_addr_t saved = *netif_ip4_addr(netif);

		if (!ip4_deliverable(h))
			goto drop;
		ip4_addr_copy(*ip_2_ip4(&netif->ip_addr), h->dest);
		ip4_input(p, netif);
		ip4_addr_copy(*ip_2_ip4(&netif->ip_addr), saved);
		return;
	}
	if (version == 6 && p->len >= IP6_HLEN) {
		const struct ip6_hdr *h = p->payload;
		ip6_addr_t *slot = ip_2_ip6(&netif->ip6_addr[RETARGET_SLOT]);

		if (!ip6_deliverable(h))
			goto drop;
		ip6_addr_copy_from_packed(*slot, h->dest);
		ip6_addr_clear_zone(slot);
		IP_SET_TYPE_VAL(netif->ip6_addr[RETARGET_SLOT], IPADDR_TYPE_V6);
		netif->ip6_addr_state[RETARGET_SLOT] = IP6_ADDR_PREFERRED;
		ip6_input(p, netif);
		netif->ip6_addr_state[RETARGET_SLOT] = IP6_ADDR_INVALID;
		return;
	}
drop:
	pbuf_free(p);
}

struct tunif *
tunif_new(const struct tunif_config *cfg)
{
	struct tunif *tif;
	ip4_addr_t any4 = {0};
	struct tcp_pcb *pcb;

	if (tunif_instance != NULL || cfg->mtu < 1280 || cfg->mtu > 65535 || (cfg->gso && !cfg->tcp_csum_partial))
		return NULL;
	tif = calloc(1, sizeof(*tif));
	if (tif == NULL)
		return NULL;
	tif->output = cfg->output;
	tif->output_ctx = cfg->output_ctx;
	tif->prefix = cfg->prefix;
	tif->tcp_csum_partial = cfg->tcp_csum_partial;
	tif->gso = cfg->gso;
	if (tif->gso) {
		tif->bounce = malloc(0x10000);
		if (tif->bounce == NULL)
			goto err_free;
	}

	if (netif_add(&tif->netif, &any4, &any4, &any4, tif, tunif_netif_init_cb, ip_input) == NULL)
		goto err_free;
	tif->netif.mtu = (u16_t)cfg->mtu;
	tif->netif.mtu6 = (u16_t)cfg->mtu;
	if (cfg->tcp_csum_partial)
		NETIF_SET_CHECKSUM_CTRL(&tif->netif, NETIF_CHECKSUM_ENABLE_ALL & ~NETIF_CHECKSUM_GEN_TCP);
	netif_set_default(&tif->netif);
	netif_set_up(&tif->netif);

	pcb = tcp_new_ip_type(IPADDR_TYPE_ANY);
	if (pcb == NULL)
		goto err_remove_netif;
	tcp_bind_netif(pcb, &tif->netif);
	if (tcp_bind(pcb, IP_ANY_TYPE, 1) != ERR_OK) {
		tcp_abort(pcb);
		goto err_remove_netif;
	}
	tif->listener = tcp_listen_with_backlog(pcb, 0xff);
	if (tif->listener == NULL) {
		tcp_abort(pcb);
		goto err_remove_netif;
	}
	tcp_arg(tif->listener, cfg->accept_arg);
	tcp_accept(tif->listener, cfg->accept);
	tcp_ext_arg_set_callbacks(tif->listener, TUNIF_EXT_ARG, &tunif_ext_callbacks);
	lwip_port_tcp_track_listener(tif->listener);

	tif->tcp_port_hook = raw_new_ip_type(IPADDR_TYPE_ANY, IP_PROTO_TCP);
	if (tif->tcp_port_hook == NULL)
		goto err_close_listener;
	raw_recv(tif->tcp_port_hook, tunif_tcp_port_hook_cb, tif);

	tunif_instance = tif;
	return tif;

err_close_listener:
	tcp_close(tif->listener);
err_remove_netif:
	netif_remove(&tif->netif);
err_free:
	free(tif->bounce);
	free(tif);
	return NULL;
}

void
tunif_free(struct tunif *tif)
{
	if (tif == NULL)
		return;
	raw_remove(tif->tcp_port_hook);
	tcp_close(tif->listener);
	netif_remove(&tif->netif);
	free(tif->bounce);
	free(tif);
	tunif_instance = NULL;
}

unsigned
tunif_mtu(const struct tunif *tif)
{
	return tif->netif.mtu;
}
