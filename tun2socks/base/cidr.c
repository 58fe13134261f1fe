/* SPDX-License-Identifier: MIT */
/* Parsing "address/prefix" text; see cidr.h. */
#include "cidr.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

int
cidr_parse(struct cidr *out, const char *text, int family)
{
	char buf[INET6_ADDRSTRLEN + 8], *slash, *end;
	unsigned long len, max;

	if (strlen(text) >= sizeof(buf))
		return -EINVAL;
	strcpy(buf, text);
	memset(out, 0, sizeof(*out));
	slash = strchr(buf, '/');
	if (slash != NULL)
		*slash = '\0';
	if (family != AF_INET6 && inet_pton(AF_INET, buf, &out->addr.v4) == 1)
		out->family = AF_INET;
	else if (family != AF_INET && inet_pton(AF_INET6, buf, &out->addr.v6) == 1)
		out->family = AF_INET6;
	else
		return -EINVAL;
	max = out->family == AF_INET ? 32 : 128;
	len = max;
	if (slash != NULL) {
		if (slash[1] < '0' || slash[1] > '9')
			return -EINVAL;
		errno = 0;
		len = strtoul(slash + 1, &end, 10);
		if (errno != 0 || *end != '\0' || len > max)
			return -EINVAL;
	}
	out->len = (unsigned)len;
	return 0;
}
