/* SPDX-License-Identifier: MIT */
/*
 * struct t2s_endpoint: text parsing and formatting, sockaddr conversion and comparison.
 * Pure: no name resolution, no I/O.
 */
#include "endpoint.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

/* Longest host text accepted: a DNS name; address literals are much shorter. */
#define HOST_TEXT_MAX T2S_ENDPOINT_DOMAIN_MAX

int
endpoint_parse_port(const char *s, size_t len, uint16_t *port)
{
	unsigned long v = 0;
	size_t i;

	if (len == 0)
		return -EINVAL;
	for (i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -EINVAL;
		v = v * 10 + (unsigned long)(s[i] - '0');
		if (v > 65535)
			return -EINVAL;
	}
	if (v == 0)
		return -EINVAL;
	*port = (uint16_t)v;
	return 0;
}

static int
is_name_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '-' || c == '.' || c == '_';
}

/*
 * Beyond the character set, rejects empty labels (a single trailing dot is allowed,
 * as in an FQDN) and an all-digit last label: no TLD is numeric, so "256.1.1.1" or
 * "1.2.3" is a mistyped address rather than a name to send to the proxy.
 */
static int
check_name(const char *s, size_t len)
{
	size_t i, label_start = 0;
	int all_digits = 1;

	if (len == 0 || len > T2S_ENDPOINT_DOMAIN_MAX)
		return -EINVAL;
	if (s[len - 1] == '.')
		len--;
	if (len == 0)
		return -EINVAL;
	for (i = 0; i < len; i++) {
		if (!is_name_char(s[i]))
			return -EINVAL;
		if (s[i] == '.') {
			if (i == label_start)
				return -EINVAL;
			label_start = i + 1;
			all_digits = 1;
		} else if (s[i] < '0' || s[i] > '9') {
			all_digits = 0;
		}
	}
	if (i == label_start || all_digits)
		return -EINVAL;
	return 0;
}

/* host is not NUL-terminated; bracketed says it came from "[...]" and must be IPv6. */
static int
parse_host(struct t2s_endpoint *ep, const char *host, size_t len, int bracketed)
{
	char tmp[HOST_TEXT_MAX + 1];

	if (len == 0 || len > HOST_TEXT_MAX)
		return -EINVAL;
	memcpy(tmp, host, len);
	tmp[len] = '\0';

	if (bracketed) {
		if (inet_pton(AF_INET6, tmp, ep->u.ipv6) != 1)
			return -EINVAL;
		ep->type = T2S_ENDPOINT_IPV6;
		return 0;
	}
	if (inet_pton(AF_INET, tmp, ep->u.ipv4) == 1) {
		ep->type = T2S_ENDPOINT_IPV4;
		return 0;
	}
	if (memchr(tmp, ':', len)) {
		if (inet_pton(AF_INET6, tmp, ep->u.ipv6) != 1)
			return -EINVAL;
		ep->type = T2S_ENDPOINT_IPV6;
		return 0;
	}
	if (check_name(tmp, len) < 0)
		return -EINVAL;
	ep->type = T2S_ENDPOINT_DOMAIN;
	ep->u.domain.len = (uint8_t)len;
	memcpy(ep->u.domain.name, tmp, len + 1);
	return 0;
}

int
endpoint_parse(struct t2s_endpoint *ep, const char *text, int default_port)
{
	struct t2s_endpoint tmp;
	const char *host, *port = NULL, *colon;
	size_t host_len, text_len;
	int bracketed = 0;

	if (!ep || !text || default_port > 65535)
		return -EINVAL;
	memset(&tmp, 0, sizeof(tmp));
	text_len = strlen(text);

	if (text[0] == '[') {
		const char *close = strchr(text, ']');

		if (!close)
			return -EINVAL;
		host = text + 1;
		host_len = (size_t)(close - host);
		bracketed = 1;
		if (close[1] == ':')
			port = close + 2;
		else if (close[1] != '\0')
			return -EINVAL;
	} else {
		host = text;
		colon = strchr(text, ':');
		if (colon && !strchr(colon + 1, ':')) {
			host_len = (size_t)(colon - text);
			port = colon + 1;
		} else {
			/* No colon, or several: a bare IPv6 literal, which cannot carry a port. */
			host_len = text_len;
		}
	}

	if (port) {
		if (endpoint_parse_port(port, strlen(port), &tmp.port) < 0)
			return -EINVAL;
	} else {
		if (default_port < 0)
			return -EINVAL;
		tmp.port = (uint16_t)default_port;
	}
	if (parse_host(&tmp, host, host_len, bracketed) < 0)
		return -EINVAL;
	*ep = tmp;
	return 0;
}

int
endpoint_set_domain(struct t2s_endpoint *ep, const char *name, size_t len, uint16_t port)
{
	if (!ep || !name || len == 0 || len > T2S_ENDPOINT_DOMAIN_MAX)
		return -EINVAL;
	memset(ep, 0, sizeof(*ep));
	ep->type = T2S_ENDPOINT_DOMAIN;
	ep->port = port;
	ep->u.domain.len = (uint8_t)len;
	memcpy(ep->u.domain.name, name, len);
	ep->u.domain.name[len] = '\0';
	return 0;
}

char *
endpoint_format(const struct t2s_endpoint *ep, char *buf, size_t cap)
{
	char tmp[T2S_ENDPOINT_STRLEN];
	char addr[INET6_ADDRSTRLEN];
	size_t i, n;

	if (cap == 0)
		return buf;
	switch (ep ? ep->type : T2S_ENDPOINT_NONE) {
	case T2S_ENDPOINT_IPV4:
		inet_ntop(AF_INET, ep->u.ipv4, addr, sizeof(addr));
		snprintf(tmp, sizeof(tmp), "%s:%u", addr, (unsigned)ep->port);
		break;
	case T2S_ENDPOINT_IPV6:
		inet_ntop(AF_INET6, ep->u.ipv6, addr, sizeof(addr));
		snprintf(tmp, sizeof(tmp), "[%s]:%u", addr, (unsigned)ep->port);
		break;
	case T2S_ENDPOINT_DOMAIN:
		/*
		 * Names may come from a proxy's reply and hold any byte; this text goes to
		 * logs, so anything outside printable ASCII is shown as '?'.
		 */
		n = ep->u.domain.len;
		for (i = 0; i < n; i++) {
			char c = ep->u.domain.name[i];

			tmp[i] = (c > ' ' && c < 0x7f) ? c : '?';
		}
		snprintf(tmp + n, sizeof(tmp) - n, ":%u", (unsigned)ep->port);
		break;
	default:
		snprintf(tmp, sizeof(tmp), "(none)");
		break;
	}
	snprintf(buf, cap, "%s", tmp);
	return buf;
}

int
endpoint_to_sockaddr(const struct t2s_endpoint *ep, struct sockaddr_storage *ss, socklen_t *len)
{
	if (!ep || !ss)
		return -EINVAL;
	memset(ss, 0, sizeof(*ss));
	if (ep->type == T2S_ENDPOINT_IPV4) {
		struct sockaddr_in *sin = (struct sockaddr_in *)ss;

		sin->sin_family = AF_INET;
		sin->sin_port = htons(ep->port);
		memcpy(&sin->sin_addr, ep->u.ipv4, 4);
		if (len)
			*len = sizeof(*sin);
		return 0;
	}
	if (ep->type == T2S_ENDPOINT_IPV6) {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;

		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(ep->port);
		memcpy(&sin6->sin6_addr, ep->u.ipv6, 16);
		if (len)
			*len = sizeof(*sin6);
		return 0;
	}
	return -EAFNOSUPPORT;
}

int
endpoint_from_sockaddr(struct t2s_endpoint *ep, const struct sockaddr *sa)
{
	if (!ep || !sa)
		return -EINVAL;
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *sin = (const struct sockaddr_in *)sa;

		memset(ep, 0, sizeof(*ep));
		ep->type = T2S_ENDPOINT_IPV4;
		ep->port = ntohs(sin->sin_port);
		memcpy(ep->u.ipv4, &sin->sin_addr, 4);
		return 0;
	}
	if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)sa;

		memset(ep, 0, sizeof(*ep));
		ep->type = T2S_ENDPOINT_IPV6;
		ep->port = ntohs(sin6->sin6_port);
		memcpy(ep->u.ipv6, &sin6->sin6_addr, 16);
		return 0;
	}
	return -EAFNOSUPPORT;
}

static int
ascii_lower(int c)
{
	return (c >= 'A' && c <= 'Z') ? c - 'A' + 'a' : c;
}

int
endpoint_equal(const struct t2s_endpoint *a, const struct t2s_endpoint *b)
{
	size_t i;

	if (a->type != b->type || a->port != b->port)
		return 0;
	switch (a->type) {
	case T2S_ENDPOINT_IPV4:
		return memcmp(a->u.ipv4, b->u.ipv4, 4) == 0;
	case T2S_ENDPOINT_IPV6:
		return memcmp(a->u.ipv6, b->u.ipv6, 16) == 0;
	case T2S_ENDPOINT_DOMAIN:
		/* DNS names compare without regard to ASCII case (RFC 4343). */
		if (a->u.domain.len != b->u.domain.len)
			return 0;
		for (i = 0; i < a->u.domain.len; i++) {
			if (ascii_lower((unsigned char)a->u.domain.name[i]) !=
			    ascii_lower((unsigned char)b->u.domain.name[i]))
				return 0;
		}
		return 1;
	default:
		return 1;
	}
}
