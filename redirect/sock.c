/* SPDX-License-Identifier: MIT */
/* Socket helpers shared by the SOCKS5 sessions. */
#include "sock.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <unistd.h>

/* A non-blocking, close-on-exec socket carrying fwmark (if non-zero) and seen by the
 * hook, or -errno. */
static int
open_marked(int family, int type, int protocol, unsigned fwmark, const struct sock_hook *hook)
{
	int fd, err;

	fd = socket(family, type | SOCK_NONBLOCK | SOCK_CLOEXEC, protocol);
	if (fd < 0)
		return -errno;
	if (fwmark != 0 && setsockopt(fd, SOL_SOCKET, SO_MARK, &fwmark, sizeof(fwmark)) < 0) {
		err = -errno;
		close(fd);
		return err;
	}
	if (hook != NULL && hook->fn != NULL && (err = hook->fn(hook->arg, fd, family, type)) != 0) {
		close(fd);
		return err < 0 ? err : -EPERM;
	}
	return fd;
}

int
sock_connect_nb(const struct sockaddr *addr, socklen_t len, unsigned fwmark, const struct sock_hook *hook)
{
	int one = 1;
	int fd, err;

	fd = open_marked(addr->sa_family, SOCK_STREAM, IPPROTO_TCP, fwmark, hook);
	if (fd < 0)
		return fd;
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(fd, addr, len) < 0 && errno != EINPROGRESS) {
		err = -errno;
		close(fd);
		return err;
	}
	return fd;
}

int
sock_udp_connected(const struct sockaddr *addr, socklen_t len, unsigned fwmark, const struct sock_hook *hook)
{
	int fd, err;

	fd = open_marked(addr->sa_family, SOCK_DGRAM, IPPROTO_UDP, fwmark, hook);
	if (fd < 0)
		return fd;
	if (connect(fd, addr, len) < 0) {
		err = -errno;
		close(fd);
		return err;
	}
	return fd;
}

int
sock_error(int fd)
{
	int err = 0;
	socklen_t len = sizeof(err);

	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
		return -errno;
	return -err;
}

void
sock_set_abortive_close(int fd)
{
	struct linger lg = {.l_onoff = 1, .l_linger = 0};

	(void)setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
}
