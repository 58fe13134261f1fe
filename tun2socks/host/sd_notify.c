/* SPDX-License-Identifier: MIT */
/* sd_notify by hand: the address and watchdog parsers, and one sendto per message. */
#include "sd_notify.h"

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int
sd_notify_addr(const char *value, struct sockaddr_un *addr, socklen_t *addrlen)
{
	size_t n;

	if (value == NULL || (value[0] != '/' && value[0] != '@') || value[1] == '\0')
		return -EINVAL;
	n = strlen(value);
	/* A path needs its NUL within sun_path; an abstract name is counted by addrlen. */
	if (n >= sizeof(addr->sun_path) + (value[0] == '@'))
		return -ENAMETOOLONG;
	memset(addr, 0, sizeof(*addr));
	addr->sun_family = AF_UNIX;
	memcpy(addr->sun_path, value, n);
	if (value[0] == '@')
		addr->sun_path[0] = '\0';
	*addrlen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + (value[0] == '/'));
	return 0;
}

static int
parse_positive(const char *s, unsigned long long *out)
{
	char *end;

	if (s == NULL || *s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	*out = strtoull(s, &end, 10);
	if (errno != 0 || *end != '\0' || *out == 0)
		return -EINVAL;
	return 0;
}

int
sd_notify_watchdog(const char *usec_value, const char *pid_value, pid_t self, uint64_t *usec)
{
	unsigned long long u, pid;

	if (usec_value == NULL || usec_value[0] == '\0')
		return 0;
	if (parse_positive(usec_value, &u) < 0)
		return -EINVAL;
	if (pid_value != NULL && pid_value[0] != '\0') {
		if (parse_positive(pid_value, &pid) < 0)
			return -EINVAL;
		if (pid != (unsigned long long)self)
			return 0;
	}
	*usec = u;
	return 1;
}

int
sd_notify_open(struct sd_notify *n, const char *value)
{
	int err;

	n->fd = -1;
	if (value == NULL || value[0] == '\0')
		return 0;
	if ((err = sd_notify_addr(value, &n->addr, &n->addrlen)) < 0)
		return err;
	n->fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (n->fd < 0)
		return -errno;
	return 1;
}

int
sd_notify_send(const struct sd_notify *n, const char *msg)
{
	if (n->fd < 0)
		return 0;
	if (sendto(n->fd, msg, strlen(msg), MSG_NOSIGNAL, (const struct sockaddr *)&n->addr, n->addrlen) < 0)
		return -errno;
	return 0;
}

void
sd_notify_close(struct sd_notify *n)
{
	if (n->fd >= 0)
		close(n->fd);
	n->fd = -1;
}
