/* SPDX-License-Identifier: MIT */
/*
 * UDP through SOCKS5 UDP ASSOCIATE: one association per application source endpoint
 * (address and port), with endpoint-independent mapping ("full cone"): datagrams to
 * any destination go through it, and a reply from any remote address reaches the
 * application, with that remote address as its source. Mappings expire after
 * --udp-timeout of silence; at the cap the least recently active one is evicted.
 * When no association can be had, the application gets ICMP port unreachable at once.
 */
#ifndef T2S_TUN2SOCKS_UDP_FLOW_H
#define T2S_TUN2SOCKS_UDP_FLOW_H

#include <stdint.h>

#include "packet.h"
#include "t2s.h"

/* Relays one UDP datagram read from the TUN (pkt is the IP packet: unfragmented, or
 * rebuilt by ip_reass). */
void udp_flow_handle(struct t2s *t, const uint8_t *pkt, const struct packet_info *info);

/* Closes every mapping and its association. */
void udp_flow_close_all(struct t2s *t);

#endif
