/* SPDX-License-Identifier: MIT */
/* Small socket helpers for non-blocking sockets; every function returns -errno on error. */
#ifndef T2S_REDIRECT_SOCK_H
#define T2S_REDIRECT_SOCK_H

#include <sys/socket.h>

/*
 * Starts a non-blocking, close-on-exec TCP connect to addr with TCP_NODELAY set.
 * fwmark, when non-zero, is applied with SO_MARK (needs CAP_NET_ADMIN) so policy
 * routing can keep proxy traffic out of the TUN. Returns the fd (connect may still be
 * in progress: wait for writability, then sock_error) or -errno.
 */
int sock_connect_nb(const struct sockaddr *addr, socklen_t len, unsigned fwmark);

/*
 * A non-blocking, close-on-exec UDP socket connect()ed to addr, so that the kernel
 * delivers only addr's datagrams and send() needs no address; the source address is
 * left to routing. fwmark as for sock_connect_nb. Returns the fd or -errno.
 */
int sock_udp_connected(const struct sockaddr *addr, socklen_t len, unsigned fwmark);

/* The pending error of a socket (SO_ERROR) as -errno, or 0. */
int sock_error(int fd);

/* Makes the next close() send RST instead of FIN (SO_LINGER 0). */
void sock_set_abortive_close(int fd);

#endif
