/* SPDX-License-Identifier: MIT */
/*
 * lwIP options for tun2socks: one single-threaded process (NO_SYS, raw API) that
 * terminates every TCP/UDP flow of a TUN device. Only options we change are listed,
 * each with its reason. Figures behind the TCP sizing are in docs/ARCHITECTURE.md.
 */
#ifndef T2S_LWIP_PORT_LWIPOPTS_H
#define T2S_LWIP_PORT_LWIPOPTS_H

/* One libev thread calls every lwIP function; our own ev_timer drives tcp_tmr. */
#define NO_SYS 1
#define LWIP_TIMERS 0
#define SYS_LIGHTWEIGHT_PROT 0
#define LWIP_NETCONN 0
#define LWIP_SOCKET 0

/* All memory from malloc: no fixed pools to size, large PBUF_RAM allowed. The flow
 * layer enforces its own caps since MEMP_NUM_* are not enforced in this mode. The
 * allocator is malloc through counting wrappers (lwip_port.c), so that --max-memory
 * sees every byte lwIP holds at its real (malloc_usable_size) size. */
#include <stddef.h>
#include <stdint.h>
void *lwip_port_heap_malloc(size_t size);
void *lwip_port_heap_calloc(size_t count, size_t size);
void lwip_port_heap_free(void *ptr);
#define MEM_CUSTOM_ALLOCATOR 1
#define MEM_CUSTOM_MALLOC lwip_port_heap_malloc
#define MEM_CUSTOM_CALLOC lwip_port_heap_calloc
#define MEM_CUSTOM_FREE lwip_port_heap_free
#define MEMP_MEM_MALLOC 1
#define MEM_ALIGNMENT 8
#define MEMP_NUM_TCP_PCB 1 /* unused with MEMP_MEM_MALLOC; keeps sanity checks quiet */

/* One point-to-point netif: no link layer, no loopback, no address autoconfiguration. */
#define LWIP_SINGLE_NETIF 1
#define LWIP_HAVE_LOOPIF 0
#define LWIP_ARP 0
#define LWIP_ETHERNET 0
#define PBUF_LINK_HLEN 0
#define PBUF_LINK_ENCAPSULATION_HLEN 0
#define LWIP_DHCP 0
#define LWIP_AUTOIP 0
#define LWIP_ACD 0
#define LWIP_IGMP 0
#define LWIP_DNS 0
#define LWIP_STATS 0
#define LWIP_NETIF_STATUS_CALLBACK 0
#define LWIP_NETIF_LINK_CALLBACK 0

#define LWIP_IPV4 1
#define LWIP_IPV6 1
#define LWIP_IPV6_MLD 0
#define LWIP_IPV6_AUTOCONFIG 0
#define LWIP_IPV6_SEND_ROUTER_SOLICIT 0
#define LWIP_IPV6_DUP_DETECT_ATTEMPTS 0
#define LWIP_IPV6_FORWARD 0
#define IP_FORWARD 0
#define LWIP_ICMP 1
#define LWIP_RAW 1 /* the raw pcbs retarget the wildcard listener's port (tunif.c) */
#define LWIP_UDP 1
#define LWIP_TCP 1

/* No reassembly in lwIP: no fragment reaches it (UDP fragments are reassembled by
 * tun2socks/packet/ip_reass.c, others dropped). Fuzzing the input path found a leak in lwIP
 * 2.2.1's IPv6 reassembly with crafted fragment sequences (reproducer:
 * tests/fuzz/corpus/fuzz_tun_input/regression_ipv6_frag_leak), so the code is not even
 * compiled in. No fragmentation either: lwIP sends only TCP (UDP replies and ICMP errors
 * are built by tun2socks, which fragments its own), whose segments fit the MTU, except
 * with segmentation offload, where a segment larger than the MTU is one GSO packet that
 * the kernel cuts in TCP segments and must not be cut in IP fragments (tunif.h). */
#define IP_REASSEMBLY 0
#define IP_FRAG 0
#define LWIP_IPV6_REASS 0
#define LWIP_IPV6_FRAG 0
/* opt.h derives this from the fragmentation options; rxpool.c needs it anyway. */
#define LWIP_SUPPORT_CUSTOM_PBUF 1
#define IP_DEFAULT_TTL 64

/*
 * TCP sizing. TCP_MSS is the compile-time cap; the MSS of a flow is derived from the
 * netif MTU (--mtu, default 65535) and the peer's MSS option. 65435 = 65535 - 60 (IPv6
 * + TCP headers) - 40 (TCP options), so a full segment and its headers still fit the
 * 16-bit pbuf and IP length fields. lwIP's sanity checks assume MSS <= 16382 only
 * because of the socket API's default TCP_SNDLOWAT (which we set and do not use), so
 * they are disabled; the remaining checks are restated below at compile time.
 * The window (1 MiB, scale 5) covers the bandwidth-delay product of a local hop at
 * tens of Gbit/s; memory is spent only when data is actually queued.
 */
#define TCP_MSS 65435
#define LWIP_DISABLE_TCP_SANITY_CHECKS 1
#define LWIP_WND_SCALE 1
#define TCP_RCV_SCALE 5
#define TCP_WND (1024 * 1024)
#define TCP_SND_BUF (1024 * 1024)
#define TCP_SND_QUEUELEN 4096
#define TCP_SNDLOWAT 128 /* only used by the socket API */
#define TCP_OVERSIZE TCP_MSS
#define TCP_QUEUE_OOSEQ 1
/* Out-of-order data per pcb: bytes (payload) and pbufs, read from lwip_port.c so that
 * the memory budget can lower them under pressure (lwip_port_set_ooseq_limit). */
struct tcp_pcb;
uint32_t lwip_port_ooseq_bytes(const struct tcp_pcb *pcb);
uint16_t lwip_port_ooseq_pbufs(const struct tcp_pcb *pcb);
#define TCP_OOSEQ_BYTES_LIMIT(pcb) lwip_port_ooseq_bytes(pcb)
#define TCP_OOSEQ_PBUFS_LIMIT(pcb) lwip_port_ooseq_pbufs(pcb)
#define LWIP_TCP_SACK_OUT 1
#define LWIP_TCP_TIMESTAMPS 0
#define LWIP_TCP_KEEPALIVE 0 /* the flow layer has its own idle timeout */
#define TCP_LISTEN_BACKLOG 0 /* a u8 backlog on the one wildcard listener would throttle everything */
/* TIME_WAIT 4 s. lwIP is in TIME_WAIT when the target closed first; the application,
 * the passive closer then, keeps none. Only the newest LWIP_PORT_TIME_WAIT_KEPT are kept
 * (lwip_port_tcp_forget; docs/ARCHITECTURE.md, "TIME_WAIT"). */
#define TCP_MSL 2000UL
/* Retransmission timing. lwIP counts its RTO in ticks of TCP_SLOW_INTERVAL (twice
 * TCP_TMR_INTERVAL) and its integer estimator never brings the deviation term below 3
 * ticks, so the RTO on a sub-millisecond hop is 3 slow ticks: with the default 250 ms
 * timer 1.5 s, doubling from there (3, 6, 12 s...), and 3 s before the first RTT sample.
 * A 50 ms timer makes the tick 100 ms: RTO 200-300 ms on a local hop, about Linux's own
 * 200 ms floor, and RFC 6298's initial 1 s (2.1). RFC 6298 (2.4) rounds the RTO up to
 * 1 s; we do not: every peer here is the local kernel or a LAN client one hop away,
 * whose RTT is far below the tick. Delayed ACKs (tcp_fasttmr) go out within 50 ms.
 * Figures: docs/ARCHITECTURE.md, "Retransmission timing". */
#define TCP_TMR_INTERVAL 50
#define LWIP_TCP_RTO_TIME 1000
/* Giving up: SYN|ACK after 1+2+4+8+16 s; data after 12 retransmissions (backoff capped
 * at 128 x RTO): about 4.5 minutes from a 300 ms RTO, well above RFC 1122's 100 s (8
 * would now be 2 minutes; with 500 ms ticks they were 9.5). */
#define TCP_SYNMAXRTX 4
#define TCP_MAXRTX 12
/* lwIP announces a reopened receive window once it grew by this much. Its only use is
 * in tcp_recved, where `pcb` is in scope. The default, min(TCP_WND / 4, 4 * TCP_MSS),
 * is 256 KiB here: more than the 64 KiB window of a peer without window scaling can ever
 * grow, so such a peer whose window closed learnt of the reopening only from its own
 * zero-window probes (64 KiB per probe), or never. Scaling peers keep the default. */
#define TCP_WND_UPDATE_THRESHOLD \
	(((pcb)->flags & TF_WND_SCALE) ? LWIP_MIN(TCP_WND / 4, TCP_MSS * 4) : 0xffff / 4)
/* Slot 0 tells tcp_flow.c when lwIP frees a pcb: TIME_WAIT ends with no callback.
 * Slot 1 is tunif.c's: the pcb's real MSS, for segmentation offload. Slot 2 is
 * lwip_port.c's: live pcbs counted per 4-tuple bucket (lwip_port_tcp_forget). */
#define LWIP_TCP_PCB_NUM_EXT_ARGS 3
/* Tells tunif.c which pcb's segment it is about to emit (its real MSS). */
uint32_t *tunif_tcp_out_hook(struct tcp_pcb *pcb, uint32_t *opts);
#define LWIP_HOOK_TCP_OUT_ADD_TCPOPTS(p, hdr, pcb, opts) tunif_tcp_out_hook(pcb, opts)
#if TCP_SND_BUF < 2 * TCP_MSS || TCP_WND < TCP_MSS || TCP_SND_QUEUELEN < 2 * (TCP_SND_BUF / TCP_MSS) || \
	TCP_MSS + 60 + 40 > 0xffff
#error "TCP sizing no longer satisfies lwIP's own sanity rules"
#endif

/* Checksums: packets from the TUN are built by the local kernel; verifying TCP/UDP sums
 * costs a pass over every byte and protects nothing (a local process could write any
 * packet anyway). We always generate them: the kernel verifies what we send. */
#define CHECKSUM_CHECK_IP 1
#define CHECKSUM_CHECK_TCP 0
#define CHECKSUM_CHECK_UDP 0
#define CHECKSUM_CHECK_ICMP 0
#define CHECKSUM_CHECK_ICMP6 0
/* Per netif, so that TCP checksums can be left to the kernel (tunif_config). Without
 * checksum-on-copy, tcp_write's copy is a plain memcpy: the sum over the data is made
 * at output only where it is needed (--no-offload). */
#define LWIP_CHECKSUM_CTRL_PER_NETIF 1
#define LWIP_CHECKSUM_ON_COPY 0
/* A word-at-a-time checksum (lwip-port/chksum.c) instead of lwIP's 16-bit loop. */
uint16_t lwip_port_chksum(const void *dataptr, int len);
#define LWIP_CHKSUM lwip_port_chksum

#define LWIP_NETIF_TX_SINGLE_PBUF 0 /* we writev() chains */

#endif
