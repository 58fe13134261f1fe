/* SPDX-License-Identifier: MIT */
/*
 * Proxy URL parsing (socks5://, socks5h://, socks5+tls://, http://, https://, optional
 * percent-encoded userinfo) and
 * password-free formatting for logs. Pure, no I/O.
 */
#include "proxy_url.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

static const struct scheme {
	const char *prefix;
	enum proxy_kind kind;
	bool tls;
	uint16_t default_port;
} schemes[] = {
	{"socks5://", PROXY_KIND_SOCKS5, false, 1080},
	{"socks5h://", PROXY_KIND_SOCKS5, false, 1080},
	{"http://", PROXY_KIND_HTTP, false, 8080},
	{"https://", PROXY_KIND_HTTP, true, 443},
	{"socks5+tls://", PROXY_KIND_SOCKS5, true, 1080},
};

static int
ascii_lower(int c)
{
	return (c >= 'A' && c <= 'Z') ? c - 'A' + 'a' : c;
}

/* RFC 3986 3.1: schemes are case-insensitive. Returns the prefix length or 0. */
static size_t
match_scheme(const char *text, const struct scheme **which)
{
	size_t i, j;

	for (i = 0; i < sizeof(schemes) / sizeof(schemes[0]); i++) {
		const char *s = schemes[i].prefix;

		for (j = 0; s[j] && ascii_lower((unsigned char)text[j]) == s[j]; j++)
			;
		if (s[j] == '\0') {
			*which = &schemes[i];
			return j;
		}
	}
	return 0;
}

static int
hex_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = (char)ascii_lower((unsigned char)c);
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/*
 * Percent-decodes s[0..len) into out (PROXY_URL_CRED_MAX + 1 bytes, NUL-terminated).
 * %00 is refused because the credentials are C strings and would be cut silently.
 * Returns NULL or the reason for failure.
 */
static const char *
decode_cred(char *out, const char *s, size_t len)
{
	size_t i, n = 0;

	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c <= ' ' || c == 0x7f)
			return "control character or space in credentials";
		if (c == '%') {
			int hi, lo;

			if (len - i < 3)
				return "malformed percent escape in credentials";
			hi = hex_value(s[i + 1]);
			lo = hex_value(s[i + 2]);
			if (hi < 0 || lo < 0)
				return "malformed percent escape in credentials";
			c = (unsigned char)(hi << 4 | lo);
			if (c == 0)
				return "%00 in credentials";
			i += 2;
		}
		if (n == PROXY_URL_CRED_MAX)
			return "credentials longer than 255 bytes";
		out[n++] = (char)c;
	}
	out[n] = '\0';
	return NULL;
}

/* hostport is s[0..len): "host", "host:port", "[v6]" or "[v6]:port". */
static const char *
parse_hostport(struct t2s_endpoint *ep, const char *s, size_t len, uint16_t default_port)
{
	char host[T2S_ENDPOINT_DOMAIN_MAX + 3];
	const char *host_end, *colon;
	uint16_t port = default_port;
	size_t host_len;

	if (len == 0)
		return "missing host";
	if (s[0] == '[') {
		const char *close = memchr(s, ']', len);

		if (!close)
			return "unbalanced IPv6 brackets";
		host_end = close + 1;
		if (memchr(host_end, '[', len - (size_t)(host_end - s)) ||
		    memchr(host_end, ']', len - (size_t)(host_end - s)))
			return "unbalanced IPv6 brackets";
		if (host_end - s == 2)
			return "missing host";
		if (host_end < s + len && *host_end != ':')
			return "unexpected characters after IPv6 address";
	} else {
		if (memchr(s, '[', len) || memchr(s, ']', len))
			return "unbalanced IPv6 brackets";
		host_end = memchr(s, ':', len);
		if (!host_end)
			host_end = s + len;
		else if (memchr(host_end + 1, ':', len - (size_t)(host_end + 1 - s)))
			return "IPv6 address must be in brackets";
		if (host_end == s)
			return "missing host";
	}
	if (host_end < s + len) {
		colon = host_end;
		if (endpoint_parse_port(colon + 1, len - (size_t)(colon + 1 - s), &port) < 0)
			return "bad port (expected 1..65535)";
	}

	host_len = (size_t)(host_end - s);
	if (host_len > T2S_ENDPOINT_DOMAIN_MAX + (s[0] == '[' ? 2 : 0))
		return "host name too long";
	memcpy(host, s, host_len);
	host[host_len] = '\0';
	if (endpoint_parse(ep, host, port) < 0)
		return "bad host (expected IPv4, [IPv6] or DNS name)";
	return NULL;
}

static const char *
parse(struct proxy_url *url, const char *text)
{
	const char *auth, *auth_end, *at = NULL, *p;
	const struct scheme *scheme = NULL;
	const char *err;
	size_t n;

	if (!text)
		return "no URL";
	n = match_scheme(text, &scheme);
	if (n == 0)
		return "unknown scheme (expected socks5://, socks5h://, socks5+tls://, http:// or https://)";
	url->kind = scheme->kind;
	url->tls = scheme->tls;
	auth = text + n;
	auth_end = auth + strcspn(auth, "/?#");
	/* A lone trailing "/" is an empty path, common in *_proxy variables. */
	if (*auth_end != '\0' && !(auth_end[0] == '/' && auth_end[1] == '\0'))
		return "trailing path, query or fragment";

	/* The host never holds '@', so the last one ends the userinfo, even if raw '@' precede it. */
	for (p = auth; p < auth_end; p++) {
		if (*p == '@')
			at = p;
	}
	if (at) {
		const char *colon = memchr(auth, ':', (size_t)(at - auth));
		const char *user_end = colon ? colon : at;

		err = decode_cred(url->user, auth, (size_t)(user_end - auth));
		if (err)
			return err;
		if (url->user[0] == '\0')
			return "empty user name";
		if (colon) {
			err = decode_cred(url->pass, colon + 1, (size_t)(at - colon - 1));
			if (err)
				return err;
		}
		url->has_credentials = 1;
		auth = at + 1;
	}
	return parse_hostport(&url->server, auth, (size_t)(auth_end - auth), scheme->default_port);
}

int
proxy_url_parse(struct proxy_url *url, const char *text, const char **why)
{
	const char *err;

	if (!url) {
		if (why)
			*why = "no result buffer";
		return -EINVAL;
	}
	memset(url, 0, sizeof(*url));
	err = parse(url, text);
	if (err) {
		/* Leave no half-parsed credentials behind for a caller that ignores the error. */
		memset(url, 0, sizeof(*url));
		if (why)
			*why = err;
		return -EINVAL;
	}
	if (why)
		*why = NULL;
	return 0;
}

static int
is_unreserved(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '-' || c == '.' || c == '_' || c == '~';
}

char *
proxy_url_format_redacted(const struct proxy_url *url, char *buf, size_t cap)
{
	/* scheme + user with every byte escaped + '@' + endpoint + NUL */
	char tmp[sizeof("socks5+tls://") + 3 * PROXY_URL_CRED_MAX + 1 + T2S_ENDPOINT_STRLEN];
	char ep[T2S_ENDPOINT_STRLEN];
	size_t n, i;

	if (cap == 0)
		return buf;
	if (!url) {
		snprintf(buf, cap, "(none)");
		return buf;
	}
	n = (size_t)snprintf(tmp, sizeof(tmp), "%s",
			     url->kind == PROXY_KIND_HTTP ? (url->tls ? "https://" : "http://")
							  : (url->tls ? "socks5+tls://" : "socks5://"));
	if (url->has_credentials) {
		/* Escaped so that user names holding ':' or '@' or control bytes stay unambiguous. */
		for (i = 0; url->user[i] && i < PROXY_URL_CRED_MAX; i++) {
			unsigned char c = (unsigned char)url->user[i];

			if (is_unreserved(c))
				tmp[n++] = (char)c;
			else
				n += (size_t)snprintf(tmp + n, sizeof(tmp) - n, "%%%02X", c);
		}
		tmp[n++] = '@';
	}
	endpoint_format(&url->server, ep, sizeof(ep));
	snprintf(tmp + n, sizeof(tmp) - n, "%s", ep);
	snprintf(buf, cap, "%s", tmp);
	return buf;
}
