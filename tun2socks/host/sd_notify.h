/* SPDX-License-Identifier: MIT */
/*
 * systemd's service notification protocol (sd_notify(3)), written by hand: one
 * datagram of "NAME=value" lines to the AF_UNIX socket named by $NOTIFY_SOCKET, a path
 * or, when it starts with '@', an abstract name. No libsystemd. A value type; the
 * parsers are pure.
 */
#ifndef T2S_HOST_SD_NOTIFY_H
#define T2S_HOST_SD_NOTIFY_H

#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/un.h>

struct sd_notify {
	int fd; /* -1: not under systemd (or closed); every send is then a no-op */
	struct sockaddr_un addr;
	socklen_t addrlen;
};

/*
 * $NOTIFY_SOCKET into an address: "/path" or "@abstract" ('@' becomes the leading NUL).
 * Returns 0, or -EINVAL (empty, neither form) or -ENAMETOOLONG.
 */
int sd_notify_addr(const char *value, struct sockaddr_un *addr, socklen_t *addrlen);

/*
 * $WATCHDOG_USEC and $WATCHDOG_PID: 1 with *usec set when the watchdog is ours (no PID
 * given, or self's), 0 when there is none or it is another process's, -EINVAL when a
 * value is not a positive number.
 */
int sd_notify_watchdog(const char *usec_value, const char *pid_value, pid_t self, uint64_t *usec);

/*
 * Opens the socket for $NOTIFY_SOCKET's value (NULL or "": not under systemd, n->fd
 * stays -1, returns 0). Returns 1 when opened, -errno otherwise (n->fd -1).
 */
int sd_notify_open(struct sd_notify *n, const char *value);

/* Sends msg ("READY=1\nSTATUS=..." without a trailing NUL) as one datagram. 0 or -errno;
 * 0 without a socket. */
int sd_notify_send(const struct sd_notify *n, const char *msg);

void sd_notify_close(struct sd_notify *n);

#endif
