/* SPDX-License-Identifier: MIT */
/*
 * The entry into lwIP for a single-threaded libev process: one-time stack init, the
 * timer that drives lwIP's TCP and reassembly clocks, and the few pcb-table operations
 * the flow layer needs. lwIP's globals live behind this file and tunif.c.
 */
#ifndef T2S_LWIP_PORT_LWIP_PORT_H
#define T2S_LWIP_PORT_LWIP_PORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <ev.h>

#include <lwip/ip_addr.h>

struct tcp_pcb;

/* Receives lwIP's diagnostics (already formatted, no trailing newline). */
typedef void (*lwip_port_diag_fn)(const char *msg);

/*
 * Initialises lwIP (once per process: a later init after lwip_port_fini reuses it)
 * and starts the 50 ms timer (TCP_TMR_INTERVAL) on loop. diag also receives a failed lwIP assertion,
 * just before abort(). Returns 0 or -EALREADY (initialised and not finished).
 */
int lwip_port_init(struct ev_loop *loop, lwip_port_diag_fn diag);

/* Stops the timer. lwIP itself cannot be de-initialised; pcbs must be gone already. */
void lwip_port_fini(void);

/*
 * The timer stops itself on a tick that finds no pcb to time (no active or TIME_WAIT
 * pcb: an idle instance wakes up for nothing). Every packet handed to lwIP starts it
 * again first (tunif_input calls this), so a pcb never exists without it; only a
 * caller that makes pcbs in another way (tests) calls it too. Cheap when running.
 */
void lwip_port_timer_wake(void);
/* The timer is running (for tests). */
bool lwip_port_timer_running(void);

/*
 * Forgets every pcb lwIP still keeps for this 4-tuple (TIME_WAIT, or closing pcbs that
 * no flow owns any more), without sending anything. The caller must own none of them. Called before a new SYN for the tuple is
 * handed to lwIP: a peer that reuses a source port has finished with the old
 * connection, and lwIP would otherwise answer the SYN from the stale pcb.
 * It also frees every TIME_WAIT pcb but the newest LWIP_PORT_TIME_WAIT_KEPT (no RST; a
 * flow that still has one learns it from its ext-arg destroy callback): lwIP walks
 * that list for every segment that matches no active pcb, every SYN among them, so
 * its length is the cost of a new connection (docs/ARCHITECTURE.md, "TIME_WAIT").
 * remote = the application's side, local = the original destination. Returns the
 * number of pcbs dropped. Active pcbs are looked for only among those made from a
 * listener given to lwip_port_tcp_track_listener, and only when one of them shares the
 * tuple's hash bucket: otherwise the walk over every open connection is skipped.
 */
#define LWIP_PORT_TIME_WAIT_KEPT 32
int lwip_port_tcp_forget(const ip_addr_t *remote_ip, u16_t remote_port, const ip_addr_t *local_ip,
			 u16_t local_port);

/*
 * Hands lwIP a SYN (input(ctx, syn), which takes syn) for a tuple lwip_port_tcp_forget
 * has just cleared, with lwIP's list of active pcbs set aside meanwhile: lwIP looks for
 * a segment's pcb by walking that list, and for this SYN it would find none after
 * walking every open connection. The list is whole again on return (the new pcb, if
 * any, at its head, as lwIP puts it). input must not reach lwIP's timers or any other
 * segment, and lwIP must have no active pcb for the SYN's tuple.
 */
struct pbuf;
void lwip_port_tcp_input_new(void (*input)(void *ctx, struct pbuf *p), void *ctx, struct pbuf *syn);

/*
 * Parking: lwIP's timers visit every active pcb on every tick (30 walks a second with
 * the 50 ms timer), idle ones included; with 10,000 connections held that is ~3 % of a
 * core, and the timer never sleeps. Every second the timer sets aside the tracked pcbs
 * that give its walks nothing to do (ESTABLISHED, nothing unsent or unacknowledged, no
 * out-of-order segment, refused data, delayed ACK, persist or keepalive, no segment
 * for a second) onto a list of lwip_port's own; lwIP does not see them. With every pcb
 * parked and none in TIME_WAIT the timer stops. A parked pcb must be woken before lwIP
 * may touch it:
 * - lwip_port_tcp_wake_tuple for every TCP segment before lwIP sees it (else lwIP
 *   finds no pcb for it, and the listener answers an ACK with a RST);
 * - lwip_port_tcp_wake before any lwIP call on it (tcp_write, tcp_output, tcp_recved,
 *   tcp_shutdown, tcp_close, tcp_abort; lwIP's callbacks run on woken pcbs only).
 * As a safety net, a parked pcb that builds a segment anyway is woken then (tunif's
 * output hook), and one freed while parked leaves our list in its destroy callback.
 * Returns the number parked by this call (the timer calls it; tests too).
 */
size_t lwip_port_tcp_park_quiet(void);
void lwip_port_tcp_wake(struct tcp_pcb *pcb);
void lwip_port_tcp_wake_tuple(const ip_addr_t *remote_ip, u16_t remote_port, const ip_addr_t *local_ip,
			      u16_t local_port);
/* Pcbs parked now. */
size_t lwip_port_tcp_parked(void);

/*
 * Counts, per hash bucket of the 4-tuple, every pcb lwIP makes from this listener until
 * lwIP frees it (ext-arg slot LWIP_PORT_EXT_ARG: passive_open and destroy), for
 * lwip_port_tcp_forget. 128 KiB of counters, fixed.
 */
#define LWIP_PORT_EXT_ARG 2
struct tcp_pcb;
void lwip_port_tcp_track_listener(struct tcp_pcb *listener);

/*
 * Bytes lwIP holds from the heap (pcbs, segments, PBUF_RAM pbufs), each block counted
 * at its malloc_usable_size: what the allocator really set aside for it.
 */
size_t lwip_port_heap_bytes(void);

/* Default out-of-order limits per pcb (payload bytes, pbufs): see lwipopts.h. */
#define LWIP_PORT_OOSEQ_BYTES (256 * 1024)
#define LWIP_PORT_OOSEQ_PBUFS 64

/* Sets the out-of-order limit of every pcb from now on (0 bytes: nothing is kept out
 * of order; segments beyond it are dropped and the peer retransmits them). */
void lwip_port_set_ooseq_limit(uint32_t bytes, uint16_t pbufs);

/*
 * Right after accept: makes the pcb offer at most wnd bytes of receive window (never
 * less than what its SYN|ACK already announced), so that a flow admitted under memory
 * pressure starts small. Returns the bytes of window held back, to be given later with
 * tcp_recved.
 */
uint32_t lwip_port_tcp_limit_window(struct tcp_pcb *pcb, uint32_t wnd);

/* Monotonic milliseconds, the clock lwIP sees through sys_now(). */
u32_t lwip_port_now_ms(void);

#endif
