/* SPDX-License-Identifier: MIT */
/*
 * Parses a proxy URL: socks5://[user[:pass]@]host[:port] (also "socks5h://", which
 * means the same here: tun2socks never resolves target names locally) or
 * http://[user[:pass]@]host[:port] (HTTP CONNECT, Basic auth); https:// and
 * socks5+tls:// are the same inside TLS. Userinfo may be percent-encoded (RFC 3986).
 * The default port is 1080 for SOCKS5 (with TLS too), 8080 for http://, 443 for
 * https://. Pure, no I/O.
 */
#ifndef T2S_REDIRECT_PROXY_URL_H
#define T2S_REDIRECT_PROXY_URL_H

#include <stdbool.h>
#include <stddef.h>

#include "endpoint.h"
#include "proxy_kind.h"

#define PROXY_URL_CRED_MAX 255

struct proxy_url {
	enum proxy_kind kind;        /* from the scheme */
	bool tls;                    /* https://, socks5+tls:// */
	struct t2s_endpoint server; /* IPv4, IPv6 or DOMAIN (resolved later by the caller) */
	int has_credentials;        /* user (and pass, possibly empty) were given */
	char user[PROXY_URL_CRED_MAX + 1];
	char pass[PROXY_URL_CRED_MAX + 1];
};

/*
 * Returns 0, or -EINVAL with a static, human-readable reason in *why (never NULL on
 * error): unknown scheme, empty host, bad port, credentials longer than 255 bytes,
 * malformed percent escape, trailing path/query, unbalanced IPv6 brackets.
 */
int proxy_url_parse(struct proxy_url *url, const char *text, const char **why);

/* Writes the URL without the password ("socks5://user@host:port", "http://..."), for logs. */
char *proxy_url_format_redacted(const struct proxy_url *url, char *buf, size_t cap);

#endif
