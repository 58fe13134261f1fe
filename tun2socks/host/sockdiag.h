/* SPDX-License-Identifier: MIT */
/*
 * Which program owns a socket: the kernel's socket table through sock_diag
 * (NETLINK_INET_DIAG) in the caller's network namespace, then /proc/PID/fd to go from
 * the socket's inode to a process. Only `tun2socks flows --programs` and `top` use it,
 * on request: never the data path.
 */
#ifndef T2S_HOST_SOCKDIAG_H
#define T2S_HOST_SOCKDIAG_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct sockdiag_entry {
	uint8_t family; /* 4 or 6 */
	uint8_t proto;  /* 6 or 17 */
	uint16_t sport, dport; /* host order */
	uint8_t src[16], dst[16];
	uint32_t inode, uid;
};

/*
 * Every TCP and UDP socket of both families in this namespace (IPv4-mapped IPv6
 * sockets are reported as IPv4). Returns 0 with a malloc'd *out of *n entries, or -errno.
 */
int sockdiag_dump(struct sockdiag_entry **out, size_t *n);

/*
 * The socket that the application side of a flow is: its local end is addr:port and,
 * for TCP or a connected UDP socket, its peer dst:dport; an unconnected UDP socket
 * bound to port (any address) matches too. NULL if none.
 */
const struct sockdiag_entry *sockdiag_match(const struct sockdiag_entry *v, size_t n, int proto, int family,
					    const uint8_t *addr, uint16_t port, const uint8_t *dst, uint16_t dport);

struct sockdiag_owner {
	uint32_t inode;
	pid_t pid;       /* 0: not found (another namespace's process, or gone) */
	char comm[16];   /* /proc/PID/comm */
};

/* Fills pid and comm of each of n owners (inode set) by one walk of /proc. */
void sockdiag_owners(struct sockdiag_owner *owners, size_t n);

#endif
