/* SPDX-License-Identifier: MIT */
/* Socket helpers shared by the SOCKS5 sessions. */
#include "sock.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <unistd.h>

int
sock_connect_nb(const struct sockaddr *addr, socklen_t len, unsigned fwmark)
{
	int one = 1;
	int fd, err;

	fd = socket(addr->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_TCP);
	if (fd < 0)
		return -errno;
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (fwmark != 0 && setsockopt(fd, SOL_SOCKET, SO_MARK, &fwmark, sizeof(fwmark)) < 0)
		goto err_close;
	if (connect(fd, addr, len) < 0 && errno != EINPROGRESS)
		goto err_close;
	return fd;

err_close:
	err = -errno;
	close(fd);
	return err;
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
