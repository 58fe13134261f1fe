/* SPDX-License-Identifier: MIT */
/*
 * One application TCP connection <-> one SOCKS5 CONNECT. The application's SYN is held
 * until the proxy has connected to the target, so a refusal looks to the application
 * exactly like a refusal without a proxy. Then bytes are relayed both ways with
 * backpressure, half-close is relayed, and one teardown frees everything.
 *
 * Memory per flow: see docs/ARCHITECTURE.md "Memory per flow" for the worst case of
 * every buffer; the memory budget (mem_budget.h) narrows the receive window a flow
 * may offer as the process nears --max-memory.
 */
#ifndef T2S_TUN2SOCKS_TCP_FLOW_H
#define T2S_TUN2SOCKS_TCP_FLOW_H

#include <stdbool.h>

#include <lwip/tcp.h>

#include "packet.h"
#include "t2s.h"

/*
 * Looks at a SYN (without ACK) read from the TUN. Returns true if the flow layer kept
 * it (a new flow now waits for the proxy, or a retransmission was absorbed), false if
 * the packet should go to lwIP as usual.
 */
bool tcp_flow_handle_syn(struct t2s *t, const uint8_t *pkt, const struct packet_info *info);

/* The accept callback of the wildcard listener; arg is the struct t2s. */
err_t tcp_flow_accept_cb(void *arg, struct tcp_pcb *newpcb, err_t err);

/* Does the work lwIP callbacks scheduled (relay, half-close, teardown). Never called
 * from inside lwIP. */
void tcp_flow_service_scheduled(struct t2s *t);

/* Gives back receive window the memory budget held back, as far as it now allows
 * (from t2s's budget timer). */
void tcp_flow_budget_tick(struct t2s *t);

/* Aborts every flow: applications and proxy see RST. */
void tcp_flow_abort_all(struct t2s *t);

#endif
