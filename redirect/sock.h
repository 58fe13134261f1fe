/* SPDX-License-Identifier: MIT */
/* Small socket helpers for non-blocking sockets; every function returns -errno on error. */
#ifndef T2S_REDIRECT_SOCK_H
#define T2S_REDIRECT_SOCK_H

#include <sys/socket.h>

/*
 * Called on every socket these helpers open, after socket() (and SO_MARK) and before
 * connect(): an embedder protects it from its own VPN (Android's VpnService.protect),
 * marks it or counts it. Returns 0, or -errno to refuse the socket (it is closed and
 * the helper fails with that error). type is SOCK_STREAM or SOCK_DGRAM. fn NULL: none.
 */
struct sock_hook {
	int (*fn)(void *arg, int fd, int family, int type);
	void *arg;
};

/*
 * Starts a non-blocking, close-on-exec TCP connect to addr with TCP_NODELAY set.
 * fwmark, when non-zero, is applied with SO_MARK (needs CAP_NET_ADMIN) so policy
 * routing can keep proxy traffic out of the TUN. hook (may be NULL) as above. Returns the fd (connect may still be
 * in progress: wait for writability, then sock_error) or -errno.
 */
int sock_connect_nb(const struct sockaddr *addr, socklen_t len, unsigned fwmark, const struct sock_hook *hook);

/*
 * A non-blocking, close-on-exec UDP socket connect()ed to addr, so that the kernel
 * delivers only addr's datagrams and send() needs no address; the source address is
 * left to routing. fwmark and hook as for sock_connect_nb. Returns the fd or -errno.
 */
int sock_udp_connected(const struct sockaddr *addr, socklen_t len, unsigned fwmark,
		       const struct sock_hook *hook);

/* The pending error of a socket (SO_ERROR) as -errno, or 0. */
int sock_error(int fd);

/* Makes the next close() send RST instead of FIN (SO_LINGER 0). */
void sock_set_abortive_close(int fd);

#endif
