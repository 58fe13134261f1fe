/* SPDX-License-Identifier: MIT */
/*
 * DNS over TCP through the SOCKS5 proxy: answers DNS query datagrams from the TUN by
 * relaying each one over its own SOCKS5 CONNECT to the same destination (RFC 1035
 * 4.2.2 framing) and writing the response back as a UDP datagram. For proxies that
 * cannot relay UDP (REP 7 to UDP ASSOCIATE: ssh -D, microsocks) or when configured so.
 */
#ifndef T2S_TUN2SOCKS_DNS_TCP_H
#define T2S_TUN2SOCKS_DNS_TCP_H

#include <stdint.h>

#include "packet.h"
#include "flow_env.h"
#include "histogram.h"

/* Queries in flight at once; beyond, queries are answered with ICMP port unreachable. */
#define DNS_TCP_MAX_INFLIGHT 256
/* Seconds from the datagram's arrival to the response (proxy handshake included). */
#define DNS_TCP_TIMEOUT 5.0

struct dns_tcp_stats {
	uint64_t queries;   /* accepted and sent on their way */
	uint64_t answered;  /* responses written to the TUN */
	uint64_t truncated; /* of those: too large for one datagram, sent as header + question, TC=1 */
	uint64_t failed;    /* proxy, timeout or response errors: answered with ICMP */
	uint64_t refused;   /* not started (cap, no memory or socket, not a DNS message): ICMP */
	uint64_t cancelled; /* dropped without an answer by dns_tcp_close_all/free */
	uint64_t ignored;   /* not a query we take (stopping, not UDP, a fragment, port 0) */
	struct histogram answer_time; /* the datagram's arrival to its answer, answered ones */
};

struct dns_tcp;

/*
 * Creates the (empty) set of queries in flight. env is copied; what it points to must
 * outlive d. Answers and refusals go out through env->tun. Returns NULL with errno set.
 */
struct dns_tcp *dns_tcp_new(const struct flow_env *env);

/* Cancels every query in flight (no answers) and frees d. NULL is fine. */
void dns_tcp_free(struct dns_tcp *d);

/*
 * Answers one DNS query read from the TUN: pkt is the whole IP packet, info its parse
 * (an unfragmented UDP datagram whose payload is the DNS message). Neither is kept:
 * what is needed is copied. The query goes over TCP (2-byte length prefix) through a
 * SOCKS5 CONNECT to the datagram's destination address and port, and the response comes
 * back as a UDP datagram from that destination to the application. On any failure
 * (proxy down or refusing, DNS_TCP_TIMEOUT, a response shorter than a DNS header or with
 * another ID, the cap) the application gets ICMP port unreachable, so its resolver moves
 * on at once. Ignored after t2s_stop.
 */
void dns_tcp_query(struct dns_tcp *d, const uint8_t *pkt, const struct packet_info *info);
/* As dns_tcp_query, but CONNECTs to server (copied) instead: the response still comes
 * from the address the application queried. server NULL: as dns_tcp_query. */
void dns_tcp_query_to(struct dns_tcp *d, const uint8_t *pkt, const struct packet_info *info,
		      const struct t2s_endpoint *server);

/* Cancels every query in flight (no answers); d stays usable. */
void dns_tcp_close_all(struct dns_tcp *d);

/* Counters since dns_tcp_new; valid as long as d. */
const struct dns_tcp_stats *dns_tcp_get_stats(const struct dns_tcp *d);

#endif
