/* SPDX-License-Identifier: MIT */
/*
 * struct t2s_endpoint: an IPv4, IPv6 or domain-name address with a port, the unit in
 * which the redirect layer names proxies and targets. Parsing, formatting and sockaddr
 * conversion; pure, no I/O (no name resolution).
 */
#ifndef T2S_REDIRECT_ENDPOINT_H
#define T2S_REDIRECT_ENDPOINT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

enum t2s_endpoint_type {
	T2S_ENDPOINT_NONE = 0,
	T2S_ENDPOINT_IPV4,
	T2S_ENDPOINT_IPV6,
	T2S_ENDPOINT_DOMAIN,
};

#define T2S_ENDPOINT_DOMAIN_MAX 255

struct t2s_endpoint {
	enum t2s_endpoint_type type;
	uint16_t port; /* host byte order */
	union {
		uint8_t ipv4[4];  /* network byte order */
		uint8_t ipv6[16]; /* network byte order */
		struct {
			uint8_t len; /* 1..255, no terminator counted */
			char name[T2S_ENDPOINT_DOMAIN_MAX + 1]; /* NUL-terminated */
		} domain;
	} u;
};

/* Longest text endpoint_format writes: "[v6%scope]:65535" or a 255-byte name + ":65535". */
#define T2S_ENDPOINT_STRLEN (T2S_ENDPOINT_DOMAIN_MAX + 8)

/*
 * Parses "host:port", "[v6]:port" or, with default_port >= 0, a bare host.
 * host is an IPv4 literal, an IPv6 literal (brackets required when a port follows)
 * or a DNS name (letters, digits, '-', '.', '_'; 1..255 bytes). Port 1..65535.
 * Returns 0 or -EINVAL.
 */
int endpoint_parse(struct t2s_endpoint *ep, const char *text, int default_port);

/* s[0..len): decimal digits only, 1..65535 (no sign, no spaces). 0 or -EINVAL. */
int endpoint_parse_port(const char *s, size_t len, uint16_t *port);

/* Sets ep to a domain endpoint; returns -EINVAL if name is empty or too long. */
int endpoint_set_domain(struct t2s_endpoint *ep, const char *name, size_t len, uint16_t port);

/* "1.2.3.4:80", "[::1]:80", "example.com:80". Always NUL-terminates; returns buf. */
char *endpoint_format(const struct t2s_endpoint *ep, char *buf, size_t cap);

/* IP endpoints only: fills ss, stores its length; -EAFNOSUPPORT for domains. */
int endpoint_to_sockaddr(const struct t2s_endpoint *ep, struct sockaddr_storage *ss, socklen_t *len);
/* From AF_INET / AF_INET6; -EAFNOSUPPORT otherwise. */
int endpoint_from_sockaddr(struct t2s_endpoint *ep, const struct sockaddr *sa);

/* Same type, address and port. */
int endpoint_equal(const struct t2s_endpoint *a, const struct t2s_endpoint *b);

#endif
