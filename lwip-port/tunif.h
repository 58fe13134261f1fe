/* SPDX-License-Identifier: MIT */
/*
 * The lwIP netif that stands for the TUN device. Packets in: validated IP packets are
 * handed to lwIP as if addressed to this host, whatever their destination; new TCP
 * connections reach one wildcard listener whose accept callback the owner provides.
 * Packets out: every IP packet lwIP emits is passed, as an iovec over its pbuf chain,
 * to the owner's output function (which writes it to the TUN).
 */
#ifndef T2S_LWIP_PORT_TUNIF_H
#define T2S_LWIP_PORT_TUNIF_H

#include <sys/uio.h>

#include <lwip/pbuf.h>
#include <lwip/tcp.h>

struct tunif;

/*
 * A TCP packet whose checksum the receiver (the kernel) completes: the checksum field
 * holds the pseudo-header sum, and the one's complement sum of the bytes from start to
 * the end of the packet goes to start + offset (virtio-net's NEEDS_CSUM).
 */
struct tunif_partial_csum {
	unsigned start;  /* offset of the TCP header in the packet */
	unsigned offset; /* of the checksum field within it */
	/* With gso: the MSS the peer can take (its own announcement, bounded by the MTU).
	 * A segment whose payload exceeds it must be cut into pieces of that size on the
	 * way (virtio-net GSO). 0 for packets of no connection (RST, ...), never larger. */
	unsigned mss;
};

/*
 * Writes one IP packet given as iov[0..iovcnt). With a prefix configured, iov[0] is the
 * prefix and the callee may point it elsewhere (e.g. a per-packet header). partial is
 * NULL when the packet is complete. Returns 0 or -errno (the packet is then dropped;
 * TCP retransmits). Must not call back into lwIP.
 */
typedef int (*tunif_output_fn)(void *ctx, struct iovec *iov, int iovcnt, const struct tunif_partial_csum *partial);

struct tunif_config {
	unsigned mtu;
	tunif_output_fn output;
	void *output_ctx;
	/* Bytes put before every packet handed to output (e.g. a virtio-net header);
	 * iov_len 0 for none. The memory must outlive the netif. */
	struct iovec prefix;
	/*
	 * Leave TCP checksums to the receiver (see struct tunif_partial_csum): lwIP then
	 * neither copies-and-sums nor sums what it sends, a pass over every byte saved.
	 * Only with a receiver that completes them, such as a TUN with a virtio-net header.
	 */
	int tcp_csum_partial;
	/*
	 * Segmentation offload (needs tcp_csum_partial): lwIP builds TCP segments of up to
	 * ~64 KiB whatever the MTU, and output is told each pcb's real MSS (partial->mss)
	 * so that the receiver cuts them (a TUN with a virtio-net header: GSO). The peer
	 * still sees segments of its own MSS.
	 */
	int gso;
	/* Called by lwIP for each TCP connection whose handshake completed; accept_arg is
	 * passed as arg. newpcb->local_ip/local_port hold the original destination. */
	tcp_accept_fn accept;
	void *accept_arg;
};

/* Adds the netif and the wildcard listener. Only one may exist (lwIP is global). */
struct tunif *tunif_new(const struct tunif_config *cfg);
void tunif_free(struct tunif *tif);

/*
 * Hands one IP packet (IPv4 or IPv6, header already validated by the caller) to lwIP
 * and takes ownership of p. Multicast, broadcast, unspecified and link-local
 * destinations are dropped here. lwIP callbacks (accept, recv, sent, err) run inside.
 */
void tunif_input(struct tunif *tif, struct pbuf *p);

/* Largest IP packet lwIP will emit (the netif MTU). */
unsigned tunif_mtu(const struct tunif *tif);

#endif
