/* SPDX-License-Identifier: MIT */
/* Unit tests for the memory hooks of lwip-port: heap counting, out-of-order limits,
 * the window a pcb offers when the budget narrows it at accept, and how
 * lwip_port_tcp_forget bounds lwIP's TIME_WAIT list and skips the walk over open
 * connections when no live pcb can have the tuple. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include <ev.h>

#include <lwip/priv/tcp_priv.h>
#include <lwip/tcp.h>

#include "lwip_port.h"

static void
heap_counts_real_sizes(void **state)
{
	size_t before = lwip_port_heap_bytes(), mid;
	void *a, *b;

	(void)state;
	a = lwip_port_heap_malloc(100);
	b = lwip_port_heap_calloc(10, 1000);
	assert_non_null(a);
	assert_non_null(b);
	mid = lwip_port_heap_bytes();
	/* At least what was asked, plus a header per block. */
	assert_true(mid - before >= 100 + 10000 + 2 * sizeof(size_t));
	assert_true(mid - before <= 100 + 10000 + 2 * 64);
	lwip_port_heap_free(a);
	lwip_port_heap_free(NULL);
	lwip_port_heap_free(b);
	assert_int_equal(lwip_port_heap_bytes(), before);
	/* lwIP's own allocations go through the same counter. */
	struct pbuf *p = pbuf_alloc(PBUF_RAW, 3000, PBUF_RAM);

	assert_non_null(p);
	assert_true(lwip_port_heap_bytes() - before >= 3000);
	pbuf_free(p);
	assert_int_equal(lwip_port_heap_bytes(), before);
}

static void
ooseq_limits(void **state)
{
	(void)state;
	assert_int_equal(lwip_port_ooseq_bytes(NULL), LWIP_PORT_OOSEQ_BYTES);
	assert_int_equal(lwip_port_ooseq_pbufs(NULL), LWIP_PORT_OOSEQ_PBUFS);
	lwip_port_set_ooseq_limit(1000, 3);
	assert_int_equal(lwip_port_ooseq_bytes(NULL), 1000);
	assert_int_equal(lwip_port_ooseq_pbufs(NULL), 3);
	lwip_port_set_ooseq_limit(LWIP_PORT_OOSEQ_BYTES, LWIP_PORT_OOSEQ_PBUFS);
}

static void
limit_window(void **state)
{
	struct tcp_pcb pcb;

	(void)state;
	memset(&pcb, 0, sizeof(pcb));
	pcb.state = ESTABLISHED;
	pcb.rcv_nxt = 0xfffffff0u; /* the right edge wraps */
	pcb.rcv_wnd = pcb.rcv_ann_wnd = TCP_WND;
	pcb.rcv_ann_right_edge = pcb.rcv_nxt + TCP_WND;
	/* A full window asked: nothing held back. */
	assert_int_equal(lwip_port_tcp_limit_window(&pcb, TCP_WND), 0);
	assert_int_equal(pcb.rcv_wnd, TCP_WND);
	/* 100000: the rest is held back; the edge is what the SYN|ACK announced. */
	assert_int_equal(lwip_port_tcp_limit_window(&pcb, 100000), TCP_WND - 100000);
	assert_int_equal(pcb.rcv_wnd, 100000);
	assert_int_equal(pcb.rcv_ann_wnd, 100000);
	assert_int_equal(pcb.rcv_ann_right_edge, (u32_t)(0xfffffff0u + 0xffff));
	/* Never below what was announced. */
	pcb.rcv_wnd = TCP_WND;
	assert_int_equal(lwip_port_tcp_limit_window(&pcb, 0), TCP_WND - 0xffff);
	assert_int_equal(pcb.rcv_wnd, 0xffff);
	/* A peer without window scaling only ever had 0xffff: nothing to do. */
	pcb.rcv_wnd = pcb.rcv_ann_wnd = 0xffff;
	assert_int_equal(lwip_port_tcp_limit_window(&pcb, 0), 0);
	assert_int_equal(pcb.rcv_wnd, 0xffff);
	/* Only right after accept. */
	pcb.state = CLOSE_WAIT;
	pcb.rcv_wnd = TCP_WND;
	assert_int_equal(lwip_port_tcp_limit_window(&pcb, 0), 0);
}

/* ---- TIME_WAIT bound ---- */

static int destroyed[200];

static void
count_destroy(u8_t id, void *data)
{
	(void)id;
	destroyed[(intptr_t)data]++;
}

static const struct tcp_ext_arg_callbacks count_callbacks = {.destroy = count_destroy};

/* A pcb as lwIP leaves it on entering TIME_WAIT: app 198.18.0.1:(10000 + i) ->
 * 198.19.0.10:80, pushed at the head of tcp_tw_pcbs, ext arg i. */
static struct tcp_pcb *
fake_time_wait(int i)
{
	struct tcp_pcb *pcb = tcp_new();

	assert_non_null(pcb);
	IP_ADDR4(&pcb->remote_ip, 198, 18, 0, 1);
	IP_ADDR4(&pcb->local_ip, 198, 19, 0, 10);
	pcb->remote_port = (u16_t)(10000 + i);
	pcb->local_port = 80;
	pcb->state = TIME_WAIT;
	tcp_ext_arg_set_callbacks(pcb, 0, &count_callbacks);
	tcp_ext_arg_set(pcb, 0, (void *)(intptr_t)i);
	TCP_REG(&tcp_tw_pcbs, pcb);
	return pcb;
}

static int
time_wait_count(void)
{
	int n = 0;

	for (struct tcp_pcb *pcb = tcp_tw_pcbs; pcb != NULL; pcb = pcb->next) {
		assert_int_equal(pcb->state, TIME_WAIT);
		n++;
	}
	return n;
}

static void
forget_bounds_time_wait(void **state)
{
	ip_addr_t app, dst;
	const int total = 100;

	(void)state;
	assert_int_equal(lwip_port_init(ev_default_loop(0), NULL), 0);
	memset(destroyed, 0, sizeof(destroyed));
	for (int i = 0; i < total; i++)
		fake_time_wait(i);
	assert_int_equal(time_wait_count(), total);
	IP_ADDR4(&app, 198, 18, 0, 1);
	IP_ADDR4(&dst, 198, 19, 0, 10);

	/* A SYN for the newest tuple (99): its pcb goes, and every one past the newest
	 * LWIP_PORT_TIME_WAIT_KEPT of the others (the oldest ones: 0..66). */
	assert_int_equal(lwip_port_tcp_forget(&app, 10000 + total - 1, &dst, 80), total - LWIP_PORT_TIME_WAIT_KEPT);
	assert_int_equal(time_wait_count(), LWIP_PORT_TIME_WAIT_KEPT);
	for (int i = 0; i < total; i++) {
		int kept = i >= total - 1 - LWIP_PORT_TIME_WAIT_KEPT && i != total - 1;

		/* Each freed pcb told its owner exactly once; the kept ones are untouched. */
		assert_int_equal(destroyed[i], kept ? 0 : 1);
	}
	/* Order kept: newest first. */
	assert_int_equal(tcp_tw_pcbs->remote_port, 10000 + total - 2);

	/* A tuple lwIP has nothing for, with the list under the bound: nothing dropped. */
	assert_int_equal(lwip_port_tcp_forget(&app, 5, &dst, 80), 0);
	assert_int_equal(time_wait_count(), LWIP_PORT_TIME_WAIT_KEPT);
	/* An older kept tuple (70): only it. */
	assert_int_equal(lwip_port_tcp_forget(&app, 10070, &dst, 80), 1);
	assert_int_equal(destroyed[70], 1);
	assert_int_equal(time_wait_count(), LWIP_PORT_TIME_WAIT_KEPT - 1);

	/* Clean up the way lwIP would (tcp_abandon frees TIME_WAIT pcbs silently). */
	while (tcp_tw_pcbs != NULL)
		tcp_abandon(tcp_tw_pcbs, 0);
	for (int i = 0; i < total; i++)
		assert_int_equal(destroyed[i], 1);
	lwip_port_fini();
}

/* ---- leftovers among the active pcbs ---- */

/* A pcb on lwIP's active list, app 198.18.0.1:PORT -> 198.19.0.10:80, in LAST_ACK (a
 * closing pcb no flow owns); made from LISTENER as tcp_listen_input does (passive_open
 * callbacks) when it is not NULL, else behind lwip_port's back. */
static struct tcp_pcb *
fake_leftover(struct tcp_pcb *listener, u16_t port)
{
	struct tcp_pcb *pcb = tcp_new();

	assert_non_null(pcb);
	IP_ADDR4(&pcb->remote_ip, 198, 18, 0, 1);
	IP_ADDR4(&pcb->local_ip, 198, 19, 0, 10);
	pcb->remote_port = port;
	pcb->local_port = 80;
	pcb->state = LAST_ACK;
	if (listener != NULL)
		assert_int_equal(tcp_ext_arg_invoke_callbacks_passive_open((struct tcp_pcb_listen *)listener, pcb), ERR_OK);
	TCP_REG_ACTIVE(pcb);
	return pcb;
}

static int
active_count(void)
{
	int n = 0;

	for (struct tcp_pcb *pcb = tcp_active_pcbs; pcb != NULL; pcb = pcb->next)
		n++;
	return n;
}

/* Starts lwip_port and a listener on port 80 it tracks; *app and *dst are the fake
 * pcbs' addresses (198.18.0.1 -> 198.19.0.10). */
static struct tcp_pcb *
tracked_listener(ip_addr_t *app, ip_addr_t *dst)
{
	struct tcp_pcb *l = tcp_new();

	assert_int_equal(lwip_port_init(ev_default_loop(0), NULL), 0);
	assert_non_null(l);
	assert_int_equal(tcp_bind(l, IP_ANY_TYPE, 80), ERR_OK);
	l = tcp_listen(l);
	assert_non_null(l);
	lwip_port_tcp_track_listener(l);
	IP_ADDR4(app, 198, 18, 0, 1);
	IP_ADDR4(dst, 198, 19, 0, 10);
	return l;
}

static void
forget_walks_active_only_when_needed(void **state)
{
	ip_addr_t app, dst;
	struct tcp_pcb *l;

	(void)state;
	l = tracked_listener(&app, &dst);

	/* A leftover made from the listener: found and dropped. */
	fake_leftover(l, 20001);
	assert_int_equal(active_count(), 1);
	assert_int_equal(lwip_port_tcp_forget(&app, 20001, &dst, 80), 1);
	assert_int_equal(active_count(), 0);

	/* A pcb lwip_port never saw made (the sentinel of the walk over lwIP's list:
	 * every pcb in tun2socks comes from the listener): lwIP's list is not walked, so
	 * it stays. */
	struct tcp_pcb *untracked = fake_leftover(NULL, 20002);

	assert_int_equal(lwip_port_tcp_forget(&app, 20002, &dst, 80), 0);
	assert_int_equal(active_count(), 1);
	/* A tracked pcb with the same tuple: found in its bucket, it alone goes. */
	fake_leftover(l, 20002);
	assert_int_equal(active_count(), 2);
	assert_int_equal(lwip_port_tcp_forget(&app, 20002, &dst, 80), 1);
	assert_ptr_equal(tcp_active_pcbs, untracked);
	assert_null(untracked->next);
	tcp_abandon(untracked, 0);

	/* Many tracked pcbs (buckets shared): each forget drops exactly its own tuple's,
	 * and a pcb lwIP freed itself (tcp_abandon) has left its bucket. */
	for (u16_t p = 21000; p < 23000; p++)
		fake_leftover(l, p);
	tcp_abandon(tcp_active_pcbs, 0); /* 22999, freed by lwIP */
	assert_int_equal(lwip_port_tcp_forget(&app, 22999, &dst, 80), 0);
	for (u16_t p = 21000; p < 22999; p++)
		assert_int_equal(lwip_port_tcp_forget(&app, p, &dst, 80), 1);
	assert_int_equal(active_count(), 0);

	/* A tracked TIME_WAIT pcb is the TIME_WAIT pass's, dropped once. */
	struct tcp_pcb *tw = fake_leftover(l, 20004);

	TCP_RMV_ACTIVE(tw);
	tw->state = TIME_WAIT;
	TCP_REG(&tcp_tw_pcbs, tw);
	assert_int_equal(lwip_port_tcp_forget(&app, 20004, &dst, 80), 1);
	assert_null(tcp_tw_pcbs);
	assert_int_equal(tcp_close(l), ERR_OK);
	lwip_port_fini();
}

/* ---- a new connection's SYN with the open connections set aside ---- */

static int inputs_seen;

/* What tcp_listen_input does with a SYN for a new tuple: one pcb pushed at the head. */
static void
fake_syn_input(void *ctx, struct pbuf *p)
{
	(void)p;
	inputs_seen++;
	/* lwIP's lookup would see no open connection. */
	assert_null(tcp_active_pcbs);
	if (ctx != NULL)
		fake_leftover(NULL, 30000);
}

static void
input_new_sets_active_aside(void **state)
{
	struct tcp_pcb *open[3];

	(void)state;
	assert_int_equal(lwip_port_init(ev_default_loop(0), NULL), 0);
	for (int i = 0; i < 3; i++)
		open[i] = fake_leftover(NULL, (u16_t)(31000 + i));
	/* lwIP made a pcb: it heads the list, the open ones follow in their order. */
	lwip_port_tcp_input_new(fake_syn_input, (void *)1, NULL);
	assert_int_equal(inputs_seen, 1);
	assert_int_equal(active_count(), 4);
	assert_int_equal(tcp_active_pcbs->remote_port, 30000);
	assert_ptr_equal(tcp_active_pcbs->next, open[2]);
	assert_ptr_equal(open[2]->next, open[1]);
	assert_ptr_equal(open[1]->next, open[0]);
	tcp_abandon(tcp_active_pcbs, 0);
	/* lwIP made none (a dropped SYN): the list is as it was. */
	lwip_port_tcp_input_new(fake_syn_input, NULL, NULL);
	assert_int_equal(inputs_seen, 2);
	assert_ptr_equal(tcp_active_pcbs, open[2]);
	assert_int_equal(active_count(), 3);
	for (int i = 0; i < 3; i++)
		tcp_abandon(open[i], 0);
	assert_null(tcp_active_pcbs);
	lwip_port_fini();
}

static void
tick_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)loop;
	(void)w;
	(void)revents;
}

/* Runs the default loop for up to secs, until the port's timer is running == want (stop
 * early) or, with until false, for all of secs. A 5 ms timer of ours keeps ev_run
 * waiting (the port's own is unreferenced). Returns the timer's state at the end. */
static bool
run_loop(double secs, bool want, bool until)
{
	struct ev_loop *loop = ev_default_loop(0);
	ev_tstamp end;
	ev_timer tick;

	ev_timer_init(&tick, tick_cb, 0.005, 0.005);
	ev_now_update(loop);
	end = ev_now(loop) + secs;
	ev_timer_start(loop, &tick);
	while (ev_now(loop) < end && !(until && lwip_port_timer_running() == want))
		ev_run(loop, EVRUN_ONCE);
	ev_timer_stop(loop, &tick);
	return lwip_port_timer_running();
}

/* The timer stops on a tick with no pcb to time, a wake starts it again, and it keeps
 * running while a pcb exists: an idle instance does not wake 20 times a second. */
static void
timer_sleeps_when_idle(void **state)
{
	struct tcp_pcb *pcb;

	(void)state;
	assert_int_equal(lwip_port_init(ev_default_loop(0), NULL), 0);
	assert_true(lwip_port_timer_running());
	assert_false(run_loop(2.0, false, true));
	lwip_port_timer_wake();
	assert_true(lwip_port_timer_running());
	pcb = fake_leftover(NULL, 32000);
	assert_true(run_loop(0.3, true, false)); /* 6 ticks with a pcb: still running */
	tcp_abandon(pcb, 0);
	assert_false(run_loop(2.0, false, true));
	lwip_port_timer_wake(); /* twice woken is one timer; fini with it running */
	lwip_port_timer_wake();
	lwip_port_fini();
	assert_false(lwip_port_timer_running());
}

/* ---- parking quiet pcbs away from lwIP's timer walks ---- */

/* A tracked ESTABLISHED pcb app 198.18.0.1:PORT -> 198.19.0.10:80 whose last segment
 * came idle_ticks slow ticks ago. */
static struct tcp_pcb *
fake_established(struct tcp_pcb *listener, u16_t port, u32_t idle_ticks)
{
	struct tcp_pcb *pcb = fake_leftover(listener, port);

	pcb->state = ESTABLISHED;
	pcb->tmr = tcp_ticks - idle_ticks;
	return pcb;
}

static bool
on_active_list(const struct tcp_pcb *want)
{
	for (struct tcp_pcb *pcb = tcp_active_pcbs; pcb != NULL; pcb = pcb->next)
		if (pcb == want)
			return true;
	return false;
}

/* Quiet pcbs leave lwIP's list, busy and recent ones stay; a segment's tuple or a call
 * on the pcb puts it back at the head; a parked pcb freed without a wake leaves our list
 * (ASan: no use after free); with every pcb parked the timer sleeps. */
static void
park_quiet_pcbs(void **state)
{
	ip_addr_t app, dst;
	struct tcp_pcb *l, *q[4], *recent, *delayed, *untracked;
	struct tcp_seg fake_seg;

	(void)state;
	l = tracked_listener(&app, &dst);
	memset(&fake_seg, 0, sizeof(fake_seg));

	for (int i = 0; i < 4; i++)
		q[i] = fake_established(l, (u16_t)(40000 + i), 20);
	recent = fake_established(l, 40010, 0);
	delayed = fake_established(l, 40011, 20);
	tcp_set_flags(delayed, TF_ACK_DELAY);
	untracked = fake_established(NULL, 40012, 20);
	struct tcp_pcb *busy = fake_established(l, 40013, 20);

	busy->unacked = &fake_seg;
	assert_int_equal(lwip_port_tcp_park_quiet(), 4);
	assert_int_equal(lwip_port_tcp_parked(), 4);
	assert_int_equal(active_count(), 4);
	for (int i = 0; i < 4; i++)
		assert_false(on_active_list(q[i]));
	assert_true(on_active_list(recent) && on_active_list(delayed) && on_active_list(untracked) &&
		    on_active_list(busy));
	busy->unacked = NULL;
	/* The next sweep parks only what has become quiet since (busy, all acknowledged). */
	assert_int_equal(lwip_port_tcp_park_quiet(), 1);
	lwip_port_tcp_wake(busy);

	/* A segment for q[1]'s tuple: back at the head before lwIP looks. */
	lwip_port_tcp_wake_tuple(&app, 40001, &dst, 80);
	assert_ptr_equal(tcp_active_pcbs, q[1]);
	assert_int_equal(lwip_port_tcp_parked(), 3);
	/* Another tuple, and a wake of a pcb that is not parked: nothing moves. */
	lwip_port_tcp_wake_tuple(&app, 49999, &dst, 80);
	lwip_port_tcp_wake(recent);
	assert_int_equal(lwip_port_tcp_parked(), 3);
	assert_ptr_equal(tcp_active_pcbs, q[1]);
	/* A call on q[2]: woken by the caller first. */
	lwip_port_tcp_wake(q[2]);
	assert_ptr_equal(tcp_active_pcbs, q[2]);
	assert_ptr_equal(q[2]->next, q[1]);
	assert_int_equal(lwip_port_tcp_parked(), 2);
	/* q[0] aborted while parked: lwIP's unlink finds nothing, ours takes it off. */
	tcp_abort(q[0]);
	assert_int_equal(lwip_port_tcp_parked(), 1);
	lwip_port_tcp_wake_tuple(&app, 40000, &dst, 80); /* its tuple is gone */
	assert_int_equal(lwip_port_tcp_parked(), 1);

	/* Only parked pcbs left (q[3]): the timer stops; a wake of q[3] starts it. */
	tcp_abandon(q[1], 0);
	tcp_abandon(q[2], 0);
	tcp_abandon(recent, 0);
	tcp_abandon(delayed, 0);
	tcp_abandon(untracked, 0);
	tcp_abandon(busy, 0);
	assert_null(tcp_active_pcbs);
	assert_false(run_loop(2.0, false, true));
	lwip_port_tcp_wake(q[3]);
	assert_true(lwip_port_timer_running());
	assert_ptr_equal(tcp_active_pcbs, q[3]);
	assert_int_equal(lwip_port_tcp_parked(), 0);
	tcp_abandon(q[3], 0);
	assert_int_equal(tcp_close(l), ERR_OK);
	lwip_port_fini();
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(heap_counts_real_sizes),
		cmocka_unit_test(ooseq_limits),
		cmocka_unit_test(limit_window),
		cmocka_unit_test(forget_bounds_time_wait),
		cmocka_unit_test(forget_walks_active_only_when_needed),
		cmocka_unit_test(input_new_sets_active_aside),
		cmocka_unit_test(timer_sleeps_when_idle),
		cmocka_unit_test(park_quiet_pcbs),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
