/* SPDX-License-Identifier: MIT */
/* --metrics [ADDR:]PORT, pure: ADDR is an IPv4 address or [IPv6], 127.0.0.1 if left out. */
#ifndef T2S_CTL_METRICS_ADDR_H
#define T2S_CTL_METRICS_ADDR_H

#include <sys/socket.h>

/* Parses s into *out (may be NULL: only checks). Returns 0 or -EINVAL. Port 1..65535. */
int metrics_addr_parse(const char *s, struct sockaddr_storage *out);

#endif
