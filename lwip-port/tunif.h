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

/* Writes one IP packet given as iov[0..iovcnt). Returns 0 or -errno (the packet is
 * then dropped; TCP retransmits). Must not call back into lwIP. */
typedef int (*tunif_output_fn)(void *ctx, const struct iovec *iov, int iovcnt);

struct tunif_config {
	unsigned mtu;
	tunif_output_fn output;
	void *output_ctx;
	/* Bytes put before every packet handed to output (e.g. a virtio-net header);
	 * iov_len 0 for none. The memory must outlive the netif. */
	struct iovec prefix;
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
