/* SPDX-License-Identifier: MIT */
/* "nameserver" lines of resolv.conf; see resolv_conf.h. */
#include "resolv_conf.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>

#define LINE_MAX_LEN 256

/* addr (NUL-terminated, numeric) as a port-53 sockaddr; 0, or -1 if it is none. */
static int
numeric_ns(const char *addr, struct sockaddr_storage *ss)
{
	struct sockaddr_in *sin = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;

	memset(ss, 0, sizeof(*ss));
	if (inet_pton(AF_INET, addr, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons(53);
		return 0;
	}
	if (inet_pton(AF_INET6, addr, &sin6->sin6_addr) == 1) {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(53);
		return 0;
	}
	return -1;
}

size_t
resolv_conf_nameservers(const char *text, struct sockaddr_storage *out, size_t max)
{
	static const char kw[] = "nameserver";
	size_t n = 0;

	while (*text != '\0' && n < max) {
		const char *end = strchr(text, '\n'), *p = text, *a;
		char addr[LINE_MAX_LEN];
		size_t alen;

		if (end == NULL)
			end = text + strlen(text);
		if ((size_t)(end - p) > sizeof(kw) && memcmp(p, kw, sizeof(kw) - 1) == 0 &&
		    (p[sizeof(kw) - 1] == ' ' || p[sizeof(kw) - 1] == '\t')) {
			p += sizeof(kw) - 1;
			while (p < end && (*p == ' ' || *p == '\t'))
				p++;
			a = p;
			while (p < end && *p != ' ' && *p != '\t' && *p != '#' && *p != ';' && *p != '\r')
				p++;
			alen = (size_t)(p - a);
			if (alen > 0 && alen < sizeof(addr)) {
				memcpy(addr, a, alen);
				addr[alen] = '\0';
				if (strchr(addr, '%') == NULL && numeric_ns(addr, &out[n]) == 0)
					n++;
			}
		}
		text = *end == '\n' ? end + 1 : end;
	}
	return n;
}
