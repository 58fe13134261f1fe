/* SPDX-License-Identifier: MIT */
/*
 * The TUN device: create or attach by name, or adopt a descriptor opened by someone
 * else; configure MTU, addresses and link state. Platform code lives in tun_<os>.c.
 */
#ifndef T2S_TUN2SOCKS_TUN_H
#define T2S_TUN2SOCKS_TUN_H

#include <net/if.h>
#include <netinet/in.h>
#include <stdbool.h>

struct tun_device {
	int fd;                 /* non-blocking, close-on-exec; IFF_TUN | IFF_NO_PI */
	char name[IFNAMSIZ];
	bool created;           /* we created it: it disappears when fd is closed */
	bool persistent;        /* it outlives us (TUNSETPERSIST was set by its owner) */
	/*
	 * Bytes of struct virtio_net_hdr before every packet (0: plain IFF_NO_PI packets).
	 * With it the kernel hands us TCP segments of up to 64 KiB (TSO) with checksums
	 * left to the receiver, and accepts our checksums as already verified.
	 */
	unsigned vnet_hdr_len;
};

/* Largest packet a read can return: a TSO segment can exceed the MTU. */
#define TUN_MAX_PACKET 65535

/*
 * Opens the TUN named name ("" picks tun%d): attaches to an existing persistent
 * device, or creates a new one. With offload, asks for a virtio-net header and TCP
 * segmentation/checksum offload (silently without if the kernel refuses).
 * Returns 0 or -errno.
 */
int tun_open(struct tun_device *tun, const char *name, bool offload);

/* Adopts an already-open TUN descriptor (made non-blocking). Returns 0 or -errno. */
int tun_adopt_fd(struct tun_device *tun, int fd);

int tun_set_mtu(const struct tun_device *tun, unsigned mtu);
int tun_get_mtu(const struct tun_device *tun, unsigned *mtu);
int tun_add_address4(const struct tun_device *tun, const struct in_addr *addr, unsigned prefix);
int tun_add_address6(const struct tun_device *tun, const struct in6_addr *addr, unsigned prefix);
int tun_set_up(const struct tun_device *tun);
/* Raises the device's transmit queue (packets waiting for us) to at least qlen. */
int tun_set_txqueuelen(const struct tun_device *tun, unsigned qlen);

void tun_close(struct tun_device *tun);

#endif
