/* SPDX-License-Identifier: MIT */
/*
 * One-time lwIP initialisation, the single ev_timer that drives lwIP's clocks, the
 * diagnostics hook, and pcb-table maintenance for the flow layer.
 */
#include "lwip_port.h"

#include <errno.h>
#include <malloc.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include <lwip/init.h>
#include <lwip/ip4_frag.h>
#include <lwip/ip6_frag.h>
#include <lwip/priv/tcp_priv.h>
#include <lwip/tcp.h>

/* lwIP's reassembly timers tick once a second, the TCP timer every 250 ms. */
#define REASS_TICKS_PER_TCP_TICK (1000 / TCP_TMR_INTERVAL)
_Static_assert(TCP_TMR_INTERVAL * REASS_TICKS_PER_TCP_TICK == 1000, "lwIP timer ratio changed");
#if IP_REASSEMBLY
_Static_assert(IP_TMR_INTERVAL == 1000, "lwIP reassembly timer changed");
#endif

static struct {
	struct ev_loop *loop;
	ev_timer timer;
	unsigned ticks;
	lwip_port_diag_fn diag;
	uint64_t rand_state;
	bool initialised;
} port;

/* Separate from port: lwIP allocates before lwip_port_init (lwip_init) and after fini.
 * A block costs its usable size plus the allocator's header (glibc: one size_t). */
static size_t heap_bytes;
#define BLOCK_SIZE(p) (malloc_usable_size(p) + sizeof(size_t))
static uint32_t ooseq_bytes = LWIP_PORT_OOSEQ_BYTES;
/* Live pcbs made from a tracked listener, chained per hash bucket of their 4-tuple (see
 * lwip_port_tcp_track_listener); next to lwIP's own pcb lists, and as global as they.
 * untracked_live counts those whose node could not be allocated: while any is alive,
 * lwip_port_tcp_forget walks lwIP's whole list as before. */
#define LIVE_BUCKETS 16384u
struct live_node {
	struct tcp_pcb *pcb;
	struct live_node *next, **pprev;
	/* While parked (lwip_port_tcp_park_quiet): off lwIP's active list, on ours. */
	struct live_node *pnext, **ppprev;
};
static struct live_node *live_pcbs[LIVE_BUCKETS];
static size_t untracked_live;
static struct live_node *parked_pcbs;
static size_t parked_count;
/* Every PARK_EVERY_TICKS timer ticks (1 s), quiet pcbs idle for PARK_IDLE_SLOW_TICKS
 * of lwIP's slow ticks (1 s) are parked. */
#define PARK_EVERY_TICKS (1000 / TCP_TMR_INTERVAL)
#define PARK_IDLE_SLOW_TICKS (1000 / TCP_SLOW_INTERVAL)
static uint16_t ooseq_pbufs = LWIP_PORT_OOSEQ_PBUFS;

void *
lwip_port_heap_malloc(size_t size)
{
	void *p = malloc(size);

	if (p != NULL)
		heap_bytes += BLOCK_SIZE(p);
	return p;
}

void *
lwip_port_heap_calloc(size_t count, size_t size)
{
	void *p = calloc(count, size);

	if (p != NULL)
		heap_bytes += BLOCK_SIZE(p);
	return p;
}

void
lwip_port_heap_free(void *ptr)
{
	if (ptr == NULL)
		return;
	heap_bytes -= BLOCK_SIZE(ptr);
	free(ptr);
}

size_t
lwip_port_heap_bytes(void)
{
	return heap_bytes;
}

uint32_t
lwip_port_ooseq_bytes(const struct tcp_pcb *pcb)
{
	(void)pcb;
	return ooseq_bytes;
}

uint16_t
lwip_port_ooseq_pbufs(const struct tcp_pcb *pcb)
{
	(void)pcb;
	return ooseq_pbufs;
}

void
lwip_port_set_ooseq_limit(uint32_t bytes, uint16_t pbufs)
{
	ooseq_bytes = bytes;
	ooseq_pbufs = pbufs;
}

uint32_t
lwip_port_tcp_limit_window(struct tcp_pcb *pcb, uint32_t wnd)
{
	/* The SYN|ACK carried an unscaled window (at most 0xffff): the peer may send that
	 * much, so the right edge it saw stays; only what lwIP would announce next shrinks. */
	uint32_t announced = TCPWND_MIN16(TCP_WND), held;

	if (wnd < announced)
		wnd = announced;
	if (pcb->state != ESTABLISHED || pcb->rcv_wnd <= wnd || pcb->rcv_wnd != TCP_WND)
		return 0;
	held = pcb->rcv_wnd - wnd;
	pcb->rcv_wnd = wnd;
	pcb->rcv_ann_wnd = wnd;
	pcb->rcv_ann_right_edge = pcb->rcv_nxt + announced;
	return held;
}

static void
lwip_port_timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)loop;
	(void)w;
	(void)revents;
	if (port.ticks % PARK_EVERY_TICKS == 0)
		(void)lwip_port_tcp_park_quiet();
	tcp_tmr();
	if (++port.ticks % REASS_TICKS_PER_TCP_TICK == 0) {
#if IP_REASSEMBLY
		ip_reass_tmr();
#endif
#if LWIP_IPV6_REASS
		ip6_reass_tmr();
#endif
	}
#if !IP_REASSEMBLY && !LWIP_IPV6_REASS
	/* Nothing left to time: no wake-ups while idle (an always-on service). The next
	 * packet into lwIP starts it again (lwip_port_timer_wake), before any pcb exists. */
	if (tcp_active_pcbs == NULL && tcp_tw_pcbs == NULL) { /* (parked pcbs need no timer) */
		ev_ref(port.loop);
		ev_timer_stop(port.loop, &port.timer);
	}
#endif
}

void
lwip_port_timer_wake(void)
{
	if (port.loop == NULL || ev_is_active(&port.timer))
		return;
	ev_timer_again(port.loop, &port.timer);
	/* The timer alone must not keep the loop alive once everything else is gone. */
	ev_unref(port.loop);
}

bool
lwip_port_timer_running(void)
{
	return port.loop != NULL && ev_is_active(&port.timer);
}

int
lwip_port_init(struct ev_loop *loop, lwip_port_diag_fn diag)
{
	if (port.loop != NULL)
		return -EALREADY;
	port.loop = loop;
	port.diag = diag;
	if (getrandom(&port.rand_state, sizeof(port.rand_state), 0) != sizeof(port.rand_state))
		port.rand_state = (uint64_t)lwip_port_now_ms() * 0x9e3779b97f4a7c15ull;
	port.rand_state |= 1;
	/* lwip_init resets the pools under pcbs a previous run left in TIME_WAIT: once. */
	if (!port.initialised) {
		lwip_init();
		port.initialised = true;
	}
	ev_timer_init(&port.timer, lwip_port_timer_cb, TCP_TMR_INTERVAL / 1000.0, TCP_TMR_INTERVAL / 1000.0);
	ev_timer_start(loop, &port.timer);
	/* The timer alone must not keep the loop alive once everything else is gone. */
	ev_unref(loop);
	return 0;
}

void
lwip_port_fini(void)
{
	if (port.loop == NULL)
		return;
	if (ev_is_active(&port.timer)) {
		ev_ref(port.loop);
		ev_timer_stop(port.loop, &port.timer);
	}
	port.loop = NULL;
}

static int
tuple_matches(const struct tcp_pcb *pcb, const ip_addr_t *remote_ip, u16_t remote_port, const ip_addr_t *local_ip,
	      u16_t local_port)
{
	return pcb->remote_port == remote_port && pcb->local_port == local_port &&
	       ip_addr_eq(&pcb->remote_ip, remote_ip) && ip_addr_eq(&pcb->local_ip, local_ip);
}

static uint32_t
addr_mix(const ip_addr_t *a)
{
	if (IP_IS_V6(a)) {
		const u32_t *w = ip_2_ip6(a)->addr;

		return w[0] ^ (w[1] * 0x85ebca6bu) ^ (w[2] * 0xc2b2ae35u) ^ (w[3] * 0x27d4eb2fu);
	}
	return ip4_addr_get_u32(ip_2_ip4(a));
}

/* The bucket of a 4-tuple in live_pcbs (the zone of a scoped address left out). */
static uint32_t
tuple_bucket(const ip_addr_t *remote_ip, u16_t remote_port, const ip_addr_t *local_ip, u16_t local_port)
{
	uint32_t h = addr_mix(remote_ip) * 0x9e3779b1u;

	h ^= addr_mix(local_ip) + 0x7f4a7c15u + (h << 6) + (h >> 2);
	h ^= ((uint32_t)remote_port << 16 | local_port) * 0x85ebca6bu;
	h ^= h >> 15;
	h *= 0x2c1b3c6du;
	h ^= h >> 13;
	return h % LIVE_BUCKETS;
}

static void
live_pcb_destroyed_cb(u8_t id, void *data)
{
	struct live_node *n = data;

	(void)id;
	if (n == NULL) {
		untracked_live--;
		return;
	}
	/* Freed while parked (lwIP freed a pcb it no longer had on a list: an abort that
	 * did not wake it first); lwIP's own unlink found nothing to do. */
	if (n->ppprev != NULL) {
		*n->ppprev = n->pnext;
		if (n->pnext != NULL)
			n->pnext->ppprev = n->ppprev;
		parked_count--;
	}
	*n->pprev = n->next;
	if (n->next != NULL)
		n->next->pprev = n->pprev;
	lwip_port_heap_free(n);
}

static err_t
live_pcb_opened_cb(u8_t id, struct tcp_pcb_listen *lpcb, struct tcp_pcb *cpcb);

static const struct tcp_ext_arg_callbacks live_pcb_callbacks = {
	.destroy = live_pcb_destroyed_cb,
	.passive_open = live_pcb_opened_cb,
};

static err_t
live_pcb_opened_cb(u8_t id, struct tcp_pcb_listen *lpcb, struct tcp_pcb *cpcb)
{
	struct live_node *n = lwip_port_heap_malloc(sizeof(*n)), **head;

	(void)lpcb;
	if (n == NULL) {
		untracked_live++;
	} else {
		head = &live_pcbs[tuple_bucket(&cpcb->remote_ip, cpcb->remote_port, &cpcb->local_ip, cpcb->local_port)];
		n->pcb = cpcb;
		n->pnext = NULL;
		n->ppprev = NULL;
		n->next = *head;
		n->pprev = head;
		if (*head != NULL)
			(*head)->pprev = &n->next;
		*head = n;
	}
	tcp_ext_arg_set_callbacks(cpcb, id, &live_pcb_callbacks);
	tcp_ext_arg_set(cpcb, id, n);
	return ERR_OK;
}

void
lwip_port_tcp_track_listener(struct tcp_pcb *listener)
{
	tcp_ext_arg_set_callbacks(listener, LWIP_PORT_EXT_ARG, &live_pcb_callbacks);
}

int
lwip_port_tcp_forget(const ip_addr_t *remote_ip, u16_t remote_port, const ip_addr_t *local_ip, u16_t local_port)
{
	struct tcp_pcb **link = &tcp_tw_pcbs, *pcb, *next, *gone = NULL;
	unsigned kept = 0;
	int dropped = 0;

	/* One pass over TIME_WAIT (newest first: lwIP pushes at the head): the tuple's
	 * pcb and every one past the newest LWIP_PORT_TIME_WAIT_KEPT go to a list of our
	 * own, so that each removal is O(1). */
	while ((pcb = *link) != NULL) {
		if (kept >= LWIP_PORT_TIME_WAIT_KEPT || tuple_matches(pcb, remote_ip, remote_port, local_ip, local_port)) {
			*link = pcb->next;
			pcb->next = gone;
			gone = pcb;
		} else {
			kept++;
			link = &pcb->next;
		}
	}
	/* What tcp_abandon does to a TIME_WAIT pcb (no RST, no err callback), with our list
	 * for lwIP's: tcp_free runs the ext-arg destroy callback of a flow that still has
	 * the pcb, so no flow is left holding a freed one. */
	while ((pcb = gone) != NULL) {
		tcp_pcb_remove(&gone, pcb);
		tcp_free(pcb);
		dropped++;
	}
	/* The caller owns no pcb for this tuple, so any active one is a leftover that
	 * lwIP still finishes on its own (FIN_WAIT_x, CLOSING, LAST_ACK after tcp_close,
	 * or a SYN_RCVD whose flow gave up). Their err callbacks are already cleared.
	 * Looked for in the tuple's bucket (the TIME_WAIT ones are gone from it already),
	 * not on lwIP's list of every open connection: this runs for each new one. */
	if (untracked_live == 0) {
		struct live_node *n = live_pcbs[tuple_bucket(remote_ip, remote_port, local_ip, local_port)], *nn;

		for (; n != NULL; n = nn) {
			nn = n->next; /* tcp_abandon frees n */
			if (n->pcb->state != TIME_WAIT && n->pcb->state != CLOSED &&
			    tuple_matches(n->pcb, remote_ip, remote_port, local_ip, local_port)) {
				tcp_abandon(n->pcb, 0);
				dropped++;
			}
		}
		return dropped;
	}
	for (pcb = tcp_active_pcbs; pcb != NULL; pcb = next) {
		next = pcb->next;
		if (tuple_matches(pcb, remote_ip, remote_port, local_ip, local_port)) {
			tcp_abandon(pcb, 0);
			dropped++;
		}
	}
	return dropped;
}

/* Nothing for lwIP's timers to do on this pcb, and nothing arrived for a second. */
static bool
pcb_quiet(const struct tcp_pcb *pcb)
{
	return pcb->state == ESTABLISHED && pcb->unsent == NULL && pcb->unacked == NULL &&
#if TCP_QUEUE_OOSEQ
	       pcb->ooseq == NULL &&
#endif
	       pcb->refused_data == NULL && pcb->persist_backoff == 0 &&
	       (pcb->flags & (TF_ACK_DELAY | TF_ACK_NOW | TF_CLOSEPEND | TF_RXCLOSED)) == 0 &&
	       !ip_get_option(pcb, SOF_KEEPALIVE) && pcb->poll == NULL &&
	       (u32_t)(tcp_ticks - pcb->tmr) >= PARK_IDLE_SLOW_TICKS;
}

size_t
lwip_port_tcp_park_quiet(void)
{
	struct tcp_pcb **link = &tcp_active_pcbs, *pcb;
	size_t parked = 0;

	while ((pcb = *link) != NULL) {
		struct live_node *n = pcb_quiet(pcb) ? tcp_ext_arg_get(pcb, LWIP_PORT_EXT_ARG) : NULL;

		/* (Only tracked pcbs: their node is the way back, and frees them from our list.) */
		if (n == NULL || n->pcb != pcb) {
			link = &pcb->next;
			continue;
		}
		*link = pcb->next;
		pcb->next = NULL;
		n->pnext = parked_pcbs;
		n->ppprev = &parked_pcbs;
		if (parked_pcbs != NULL)
			parked_pcbs->ppprev = &n->pnext;
		parked_pcbs = n;
		parked++;
	}
	if (parked > 0) {
		parked_count += parked;
		tcp_active_pcbs_changed = 1;
	}
	return parked;
}

static void
unpark(struct live_node *n)
{
	struct tcp_pcb *pcb = n->pcb;

	*n->ppprev = n->pnext;
	if (n->pnext != NULL)
		n->pnext->ppprev = n->ppprev;
	n->pnext = NULL;
	n->ppprev = NULL;
	parked_count--;
	/* At the head, as lwIP puts a pcb it just found; a timer walk in progress starts
	 * over (it checks tcp_active_pcbs_changed) and skips the pcbs it has done. */
	pcb->next = tcp_active_pcbs;
	tcp_active_pcbs = pcb;
	tcp_active_pcbs_changed = 1;
	lwip_port_timer_wake();
}

void
lwip_port_tcp_wake(struct tcp_pcb *pcb)
{
	struct live_node *n;

	if (parked_count == 0 || pcb == NULL)
		return;
	n = tcp_ext_arg_get(pcb, LWIP_PORT_EXT_ARG);
	/* A pcb lwIP has already unlinked to free it (tcp_abandon sends its RST after
	 * that) stays off the list: the destroy callback takes it off ours. */
	if (n != NULL && n->pcb == pcb && n->ppprev != NULL && pcb->state != CLOSED)
		unpark(n);
}

void
lwip_port_tcp_wake_tuple(const ip_addr_t *remote_ip, u16_t remote_port, const ip_addr_t *local_ip, u16_t local_port)
{
	struct live_node *n;

	if (parked_count == 0)
		return;
	n = live_pcbs[tuple_bucket(remote_ip, remote_port, local_ip, local_port)];
	for (; n != NULL; n = n->next) {
		if (n->ppprev != NULL && tuple_matches(n->pcb, remote_ip, remote_port, local_ip, local_port)) {
			unpark(n);
			return;
		}
	}
}

size_t
lwip_port_tcp_parked(void)
{
	return parked_count;
}

void
lwip_port_tcp_input_new(void (*input)(void *ctx, struct pbuf *p), void *ctx, struct pbuf *syn)
{
	struct tcp_pcb *open = tcp_active_pcbs, *tail;

	/* tcp_input looks for the segment's pcb on the active list before the TIME_WAIT
	 * list and the listener: for a SYN that lwip_port_tcp_forget has just cleared the
	 * tuple of, a walk over every open connection that finds nothing. With the list
	 * set aside it walks an empty one; the pcb lwIP makes from the listener is pushed at
	 * the head as usual, and the open connections follow it again, in their order. */
	tcp_active_pcbs = NULL;
	input(ctx, syn);
	if (tcp_active_pcbs == NULL) {
		tcp_active_pcbs = open;
	} else {
		for (tail = tcp_active_pcbs; tail->next != NULL; tail = tail->next)
			;
		tail->next = open;
	}
}

void
lwip_port_diag(const char *fmt, ...)
{
	char msg[256];
	va_list ap;
	size_t n;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	n = strlen(msg);
	while (n > 0 && (msg[n - 1] == '\n' || msg[n - 1] == '\r'))
		msg[--n] = '\0';
	if (port.diag != NULL)
		port.diag(msg);
}

void
lwip_port_assert(const char *msg, const char *file, int line)
{
	char text[320];

	snprintf(text, sizeof(text), "lwIP assertion \"%s\" failed at %s:%d", msg, file, line);
	if (port.diag != NULL)
		port.diag(text);
	else
		fprintf(stderr, "%s\n", text);
	abort();
}

uint32_t
lwip_port_rand(void)
{
	/* xorshift64*: lwIP wants unpredictable-enough ISNs and ports, not cryptography. */
	port.rand_state ^= port.rand_state >> 12;
	port.rand_state ^= port.rand_state << 25;
	port.rand_state ^= port.rand_state >> 27;
	return (uint32_t)((port.rand_state * 0x2545f4914f6cdd1dull) >> 32);
}
