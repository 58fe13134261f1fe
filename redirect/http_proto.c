/* SPDX-License-Identifier: MIT */
/*
 * HTTP CONNECT request encoding (with Base64 for Basic auth), response-head decoding
 * and the status table. Pure, no I/O.
 */
#include "http_proto.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "socks5_proto.h"

/*
 * RFC 4648 Base64 of src[0..len) into out (4 * ceil(len / 3) + 1 bytes), NUL-terminated.
 * Twenty lines rather than OpenSSL's EVP_EncodeBlock: the redirect layer links no
 * crypto library for plain HTTP proxies.
 */
static size_t
base64(char *out, const uint8_t *src, size_t len)
{
	static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	size_t i, n = 0;

	for (i = 0; i + 2 < len; i += 3) {
		uint32_t v = (uint32_t)src[i] << 16 | (uint32_t)src[i + 1] << 8 | src[i + 2];

		out[n++] = tab[v >> 18];
		out[n++] = tab[(v >> 12) & 63];
		out[n++] = tab[(v >> 6) & 63];
		out[n++] = tab[v & 63];
	}
	if (len - i == 1) {
		uint32_t v = (uint32_t)src[i] << 16;

		out[n++] = tab[v >> 18];
		out[n++] = tab[(v >> 12) & 63];
		out[n++] = '=';
		out[n++] = '=';
	} else if (len - i == 2) {
		uint32_t v = (uint32_t)src[i] << 16 | (uint32_t)src[i + 1] << 8;

		out[n++] = tab[v >> 18];
		out[n++] = tab[(v >> 12) & 63];
		out[n++] = tab[(v >> 6) & 63];
		out[n++] = '=';
	}
	out[n] = '\0';
	return n;
}

int
http_proto_encode_connect(uint8_t *buf, size_t cap, const struct t2s_endpoint *target, const char *user,
			  const char *pass)
{
	char authority[T2S_ENDPOINT_STRLEN];
	char auth[3 * 256 + 8]; /* base64 of up to 255 + 1 + 255 bytes, then NUL */
	uint8_t cred[2 * 256 + 1];
	size_t ulen, plen;
	int n;

	if (target == NULL || target->type == T2S_ENDPOINT_NONE)
		return -EINVAL;
	if (target->type == T2S_ENDPOINT_DOMAIN && strcspn(target->u.domain.name, " \t\r\n") != target->u.domain.len)
		return -EINVAL;
	endpoint_format(target, authority, sizeof(authority));
	if (user == NULL) {
		n = snprintf((char *)buf, cap, "CONNECT %s HTTP/1.1\r\nHost: %s\r\n\r\n", authority, authority);
	} else {
		if (pass == NULL)
			pass = "";
		ulen = strlen(user);
		plen = strlen(pass);
		if (ulen > 255 || plen > 255)
			return -EINVAL;
		memcpy(cred, user, ulen);
		cred[ulen] = ':';
		memcpy(cred + ulen + 1, pass, plen);
		base64(auth, cred, ulen + 1 + plen);
		explicit_bzero(cred, sizeof(cred));
		n = snprintf((char *)buf, cap, "CONNECT %s HTTP/1.1\r\nHost: %s\r\nProxy-Authorization: Basic %s\r\n\r\n",
			     authority, authority, auth);
		explicit_bzero(auth, sizeof(auth));
	}
	if (n < 0 || (size_t)n >= cap) {
		if (cap > 0)
			explicit_bzero(buf, cap);
		return -ENOSPC;
	}
	return n;
}

/* The next line of buf[off..len): its content ends at *end (CR and LF excluded).
 * Returns the offset after its LF, or 0 if no LF has arrived yet. */
static size_t
next_line(const uint8_t *buf, size_t len, size_t off, size_t *end)
{
	const uint8_t *lf = memchr(buf + off, '\n', len - off);
	size_t e;

	if (lf == NULL)
		return 0;
	e = (size_t)(lf - buf);
	*end = (e > off && buf[e - 1] == '\r') ? e - 1 : e;
	return e + 1;
}

static int
parse_status_line(const uint8_t *s, size_t n, struct http_proto_response *r)
{
	size_t i, j;

	if (n < 12 || memcmp(s, "HTTP/1.", 7) != 0 || s[7] < '0' || s[7] > '9' || s[8] != ' ')
		return -EPROTO;
	r->minor = (unsigned)(s[7] - '0');
	r->status = 0;
	for (i = 9; i < 12; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -EPROTO;
		r->status = r->status * 10 + (unsigned)(s[i] - '0');
	}
	if (r->status < 100 || r->status > 599)
		return -EPROTO;
	if (n > 12 && s[12] != ' ')
		return -EPROTO;
	for (i = 13, j = 0; i < n && j < PROXY_TCP_REASON_MAX; i++, j++) {
		uint8_t c = s[i];

		if (c == 0)
			return -EPROTO;
		r->reason[j] = (c >= 0x20 && c < 0x7f) || c == '\t' ? (char)c : '?';
	}
	r->reason[j] = '\0';
	for (; i < n; i++) {
		if (s[i] == 0)
			return -EPROTO;
	}
	return 0;
}

static bool
is_tchar(uint8_t c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       (c != 0 && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

/* "name: value" with a token name, or an obsolete folded continuation (RFC 9112 5.2). */
static int
check_field_line(const uint8_t *s, size_t n, bool first)
{
	size_t i = 0;

	if (s[0] == ' ' || s[0] == '\t') {
		if (first)
			return -EPROTO;
	} else {
		while (i < n && is_tchar(s[i]))
			i++;
		if (i == 0 || i == n || s[i] != ':')
			return -EPROTO;
	}
	for (; i < n; i++) {
		if ((s[i] < 0x20 && s[i] != '\t') || s[i] == 0x7f)
			return -EPROTO;
	}
	return 0;
}

int
http_proto_decode_response(const uint8_t *buf, size_t len, struct http_proto_response *out)
{
	struct http_proto_response r;
	size_t off, next, end;
	bool first = true;
	int err;

	memset(&r, 0, sizeof(r));
	if (len == 0)
		return HTTP_PROTO_NEED_MORE;
	if (len > HTTP_PROTO_MAX_RESPONSE)
		len = HTTP_PROTO_MAX_RESPONSE;
	/* Refuse what is not HTTP as soon as it shows, not after 8 KiB. */
	if (memcmp(buf, "HTTP/1.", len < 7 ? len : 7) != 0)
		return -EPROTO;
	next = next_line(buf, len, 0, &end);
	if (next == 0)
		return len == HTTP_PROTO_MAX_RESPONSE ? -EMSGSIZE : HTTP_PROTO_NEED_MORE;
	err = parse_status_line(buf, end, &r);
	if (err < 0)
		return err;
	for (off = next;; off = next, first = false) {
		next = next_line(buf, len, off, &end);
		if (next == 0) {
			/* A partial line: refuse its bad bytes early, too. */
			for (size_t i = off; i < len; i++) {
				if (buf[i] == 0)
					return -EPROTO;
			}
			return len == HTTP_PROTO_MAX_RESPONSE ? -EMSGSIZE : HTTP_PROTO_NEED_MORE;
		}
		if (end == off)
			break;
		err = check_field_line(buf + off, end - off, first);
		if (err < 0)
			return err;
	}
	*out = r;
	return (int)next;
}

void
http_proto_classify(unsigned status, struct proxy_tcp_result *res)
{
	res->http_status = (uint16_t)status;
	res->rep = SOCKS5_REP_GENERAL_FAILURE;
	res->failure = PROXY_TCP_TARGET;
	res->err = -EPROTO;
	if (status >= 200 && status <= 299) {
		res->failure = PROXY_TCP_OK;
		res->rep = SOCKS5_REP_SUCCEEDED;
		res->err = 0;
		return;
	}
	switch (status) {
	case 401:
	case 407:
		res->failure = PROXY_TCP_AUTH;
		res->err = -EACCES;
		break;
	case 405:
	case 501:
		res->failure = PROXY_TCP_PROTOCOL;
		res->rep = SOCKS5_REP_CMD_UNSUPPORTED;
		res->err = -EOPNOTSUPP;
		break;
	case 403:
		res->rep = SOCKS5_REP_NOT_ALLOWED;
		res->err = -EACCES;
		break;
	case 404:
	case 410:
		res->rep = SOCKS5_REP_HOST_UNREACHABLE;
		res->err = -EHOSTUNREACH;
		break;
	case 504:
		res->rep = SOCKS5_REP_TTL_EXPIRED;
		res->err = -ETIMEDOUT;
		break;
	case 500:
	case 502:
	case 503:
		res->rep = SOCKS5_REP_CONN_REFUSED;
		res->err = -ECONNREFUSED;
		break;
	default:
		break;
	}
}
