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
#include <stdint.h>

#include <lwip/tcp.h>

#include "fd_pressure.h"
#include "flow_env.h"
#include "flow_info.h"
#include "histogram.h"
#include "packet.h"

struct tunif;

/* Shared buffer for small proxy -> lwIP reads, which lwIP copies (tcp_sndbuf() of one
 * write never exceeds 0xffff). */
#define TCP_FLOWS_RELAY_BUF 65535
/* Idle transmit chunks kept for reuse (at most 2 MiB). */
#define TCP_FLOWS_TX_CHUNKS_KEPT 32

struct tcp_flows_stats {
	uint64_t opened, failed;
	uint64_t refused_cap;   /* SYNs refused (RST) at --max-flows */
	uint64_t syn_absorbed;  /* SYN retransmissions held while the proxy connects */
	uint64_t stub_refused;  /* SYNs to the command's nameserver (RST) */
	uint64_t fake_unmapped; /* SYNs to a fake address whose name is gone */
	uint64_t collapses;     /* queues of small segments copied into dense buffers */
	/* The proxy as the last CONNECTs found it (ev_now; 0: never): for `tun2socks status`. */
	double proxy_last_ok, proxy_last_fail;
	const char *proxy_last_error; /* static text, NULL before the first failure */
	struct histogram connect_time; /* SYN to the proxy's CONNECT reply (successes) */
	struct histogram duration;     /* SYN to teardown, every flow */
};

/* Every TCP flow: the registry (tuple table, list, service queue) and its counters. */
struct tcp_flows;

/* env is copied; what it points to must outlive the set. Returns NULL with errno set. */
struct tcp_flows *tcp_flows_new(const struct flow_env *env, uint64_t seed);
/* Aborts every flow and frees the set. */
void tcp_flows_free(struct tcp_flows *t);

/* The lwIP interface SYNs are handed to once the proxy has connected (set before the
 * first packet: tunif_new needs the set as its accept_arg). */
void tcp_flows_set_tunif(struct tcp_flows *t, struct tunif *tunif);

/*
 * A SYN (without ACK) from the TUN. Returns true if the flow layer consumed it (held
 * while the proxy connects, or refused), false if lwIP should see it now.
 */
bool tcp_flows_handle_syn(struct tcp_flows *t, const uint8_t *pkt, const struct packet_info *info);

/* lwIP's accept callback for the TUN netif (arg: the struct tcp_flows). */
err_t tcp_flow_accept_cb(void *arg, struct tcp_pcb *newpcb, err_t err);

/* Runs the work lwIP callbacks scheduled (from an ev_prepare, outside lwIP). */
void tcp_flows_service(struct tcp_flows *t);

/* Gives back receive window the memory budget held back, as far as it now allows
 * (from t2s's budget timer, armed through flow_env.mem_owed). */
void tcp_flows_budget_tick(struct tcp_flows *t);
/* Flows whose window the budget holds back: the timer runs while this is not 0. */
unsigned tcp_flows_owed(const struct tcp_flows *t);

/* Closes every flow with RST to both sides. */
void tcp_flows_abort_all(struct tcp_flows *t);

unsigned tcp_flows_count(const struct tcp_flows *t);
const struct tcp_flows_stats *tcp_flows_get_stats(const struct tcp_flows *t);
/* The --max-flows episode (fd_pressure.h): its counters go in the stats line. */
const struct fd_pressure *tcp_flows_cap(const struct tcp_flows *t);
/* Calls fn for every live flow, the newest first (on the loop's thread; fn must not
 * open or close flows). Returns 0, or fn's first non-zero return. */
int tcp_flows_foreach(const struct tcp_flows *t, flow_info_fn fn, void *arg);
/* Bytes of the transmit pool (proxy -> app chunks), for the memory budget. */
size_t tcp_flows_tx_bytes(const struct tcp_flows *t);

#endif
