/* SPDX-License-Identifier: MIT */
/*
 * struct t2s: the one context object of the program. It owns the TUN device, the lwIP
 * netif, the proxy description, every flow and the counters; main.c creates it and
 * every module receives it explicitly.
 */
#ifndef T2S_TUN2SOCKS_T2S_H
#define T2S_TUN2SOCKS_T2S_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

#include <ev.h>

#include "config.h"
#include "fd_pressure.h"
#include "flow_table.h"
#include "mem_budget.h"
#include "packet.h"
#include "socks5_tcp.h"
#include "tun.h"
#include "txbuf.h"

struct tunif;
struct pbuf;
struct rxpool;
struct fakeip;
struct dns_tcp;
struct tcp_flow;
struct udp_flow;
struct udp_pool;
struct udp_health;
struct socks5_udp_config;
struct ip_reass;

/* Packets read per TUN wakeup before other watchers get their turn. */
#define T2S_TUN_BATCH 64
/* Shared buffer for small proxy -> lwIP reads, which lwIP copies (tcp_sndbuf() of one
 * write never exceeds 0xffff). */
#define T2S_RELAY_BUF 65535
/* Idle transmit chunks kept for reuse (at most 2 MiB). */
#define T2S_TX_CHUNKS_KEPT 32
/* Idle receive buffers kept for reuse (at most 2 MiB with 64 KiB buffers). */
#define T2S_RX_BUFFERS_KEPT 32

/* A flow's own bookkeeping (its struct, SOCKS session, table and libev slots) as the
 * memory budget counts it: an upper estimate, not measured per flow. */
#define T2S_FLOW_COST 1024

/* One slot per kind of rate-limited log line (t2s_rate_ok). */
enum t2s_rate_slot {
	T2S_RATE_PROXY_UNREACHABLE,
	T2S_RATE_PROXY_AUTH,
	T2S_RATE_PROXY_PROTOCOL,
	T2S_RATE_CONNECT_TIMEOUT, /* per-flow lines of tcp_flow.c */
	T2S_RATE_TARGET_FAILED,
	T2S_RATE_FAKE_UNMAPPED,
	T2S_RATE_UDP_UNSUPPORTED,
	T2S_RATE_UDP_ASSOC,
	T2S_RATE_FRAGMENT,
	T2S_RATE_TUN_READ,
	T2S_RATE_TUN_TRUNCATED,
	T2S_RATE_SLOTS
};

struct t2s_stats {
	uint64_t tun_packets_in, tun_bytes_in;
	uint64_t tun_packets_out, tun_bytes_out, tun_write_drops;
	uint64_t malformed, ignored; /* refused by packet_parse; not for us (ICMP, other protocols) */
	uint64_t martian_dropped, martian_answered; /* never-a-host addresses (martian.h); ICMP sent */
	uint64_t fragments_dropped;  /* fragments of anything but UDP (ip_reass counts the rest) */
	uint64_t tun_fragmented;     /* datagrams we wrote as fragments (larger than the MTU) */
	uint64_t syn_absorbed;       /* SYN retransmissions held while the proxy connects */
	uint64_t tcp_flows_opened, tcp_flows_failed, tcp_flows_refused_cap;
	uint64_t udp_flows_opened, udp_assoc_failed, udp_evictions, udp_refused;
	uint64_t udp_datagrams_out, udp_datagrams_in, udp_send_errors, udp_reply_drops;
	uint64_t dns_fake_answers, fake_ip_unmapped;
	uint64_t dns_stub_refused; /* queries to the command's nameserver answered REFUSED */
	uint64_t tun_truncated; /* reads longer than the buffer (device MTU raised above --mtu) */
	uint64_t tcp_collapses; /* queues of small segments copied into dense buffers */
};

struct t2s {
	struct ev_loop *loop;
	const struct t2s_config *cfg;
	struct tun_device tun;
	struct tunif *tunif;
	struct socks5_server proxy;
	ev_io tun_io;
	ev_prepare service_prepare; /* runs flow work that lwIP callbacks scheduled */
	ev_signal sigint, sigterm, sighup, sigusr1;
	struct flow_table tcp_table;
	struct tcp_flow *tcp_flows; /* every live TCP flow (doubly linked) */
	struct tcp_flow *service_list;
	unsigned tcp_flow_count;
	uint64_t next_flow_id;
	struct flow_table udp_table;
	struct udp_flow *udp_lru_head, *udp_lru_tail;
	unsigned udp_flow_count;
	struct udp_pool *udp_pool;     /* spare ready associations */
	struct udp_health *udp_health; /* does the proxy relay UDP: where datagrams go */
	uint8_t *udp_recv_buf; /* shared by every association (SOCKS5_UDP_RECV_BUF bytes) */
	struct fakeip *fakeip; /* --dns fake-ip only */
	bool dns_stub_warned;  /* the one "set --dns-server" line was logged */
	struct dns_tcp *dns_tcp; /* DNS over TCP: --dns tcp, or when the proxy has no UDP */
	struct ip_reass *reass; /* UDP fragments from the TUN */
	ev_timer reass_timer;   /* armed while a reassembly is in progress */
	uint32_t frag_id;       /* identification of the next datagram we fragment */
	struct rxpool *rxpool;
	unsigned rx_bufsize;  /* MTU, or 64 KiB when the TUN delivers TSO segments */
	uint8_t vnet_rx[64];  /* virtio-net header of the packet just read (ignored) */
	uint8_t vnet_tx[64];  /* header sent with our own packets: "checksum verified" */
	uint8_t vnet_csum[64]; /* header for lwIP's TCP packets: "checksum needed" */
	uint8_t rx_guard[1];  /* read after the buffer: a packet reaching it did not fit */
	struct pbuf *rx_spare; /* MTU-sized buffer for the next TUN read */
	uint8_t *relay_buf;   /* T2S_RELAY_BUF bytes */
	struct txpool txpool; /* chunks for the proxy -> app bytes of bulk TCP flows */
	struct log_rate rate_log[T2S_RATE_SLOTS];
	struct t2s_stats stats;
	struct fd_pressure fd_pressure; /* new flows refused for want of a descriptor */
	struct fd_pressure flow_cap;    /* new TCP flows refused at --max-flows */
	struct mem_budget mem;          /* --max-memory */
	size_t udp_pending_bytes;       /* datagrams held while associations are set up */
	unsigned mem_owed_flows;        /* TCP flows whose window the budget holds back */
	ev_timer mem_timer;             /* gives held-back window while some flow is owed */
	bool stopping;
};

/*
 * Builds the data path on an open TUN (tun is moved into t2s). The proxy address must
 * already be resolved. Returns NULL with errno set.
 */
struct t2s *t2s_new(struct ev_loop *loop, const struct t2s_config *cfg, const struct socks5_server *proxy,
		    struct tun_device *tun);

/* Closes every flow (applications see RST), stops the watchers; ev_run then returns. */
void t2s_stop(struct t2s *t);

/* Frees everything; closes the TUN (a TUN we created disappears with it). */
void t2s_free(struct t2s *t);

/* Writes one packet we built ourselves (RST, ICMP) to the TUN. */
void t2s_tun_send(struct t2s *t, const uint8_t *pkt, size_t len);
/* The same for a packet given in pieces (iovcnt <= 4). Returns 0 or -errno. */
int t2s_tun_sendv(struct t2s *t, const struct iovec *iov, int iovcnt);

/*
 * Writes a UDP datagram from src:sport to dst:dport (family 4 or 6) to the TUN, as
 * IP fragments if it exceeds the MTU; payload is not copied. Returns 0; -EMSGSIZE if
 * it cannot be one datagram (nothing sent); or the TUN write error (the datagram is
 * lost).
 */
int t2s_tun_send_udp(struct t2s *t, int family, const uint8_t *src, uint16_t sport, const uint8_t *dst,
		     uint16_t dport, const uint8_t *payload, size_t len);

/* The options for a new UDP association (relay override, shared receive buffer). */
void t2s_udp_config(const struct t2s *t, struct socks5_udp_config *cfg);

/* Logs every counter on one line (also on SIGUSR1). */
void t2s_log_stats(const struct t2s *t);

/* Bytes the data path holds now, at their real allocation sizes (--max-memory). */
size_t t2s_mem_used(const struct t2s *t);

/* Arms the timer that gives held-back receive window back as memory frees. */
void t2s_mem_owed(struct t2s *t);

/* True at most once per interval seconds for the given slot: keeps noisy logs bounded. */
bool t2s_rate_ok(struct t2s *t, unsigned slot, double interval);
/* The same; when true, *skipped is how many lines of the slot were held back since the
 * last one (log_rate_ok). */
bool t2s_rate_take(struct t2s *t, unsigned slot, double interval, unsigned *skipped);

#endif
