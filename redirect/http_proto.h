/* SPDX-License-Identifier: MIT */
/*
 * The HTTP CONNECT codec (RFC 9110 9.3.6, RFC 9112): the request with optional Basic
 * proxy authentication (RFC 7617), the response head (status line and header fields,
 * up to the empty line), and what a final status means for the flow. Pure, no I/O.
 */
#ifndef T2S_REDIRECT_HTTP_PROTO_H
#define T2S_REDIRECT_HTTP_PROTO_H

#include <stddef.h>
#include <stdint.h>

#include "endpoint.h"
#include "proxy_result.h"

/* The largest request: the authority twice, a 255+255-byte user:pass in Base64. */
#define HTTP_PROTO_MAX_REQUEST 1536
/* The largest response head we accept; a proxy's 407 or 403 page body is not read. */
#define HTTP_PROTO_MAX_RESPONSE 8192
#define HTTP_PROTO_NEED_MORE 0

struct http_proto_response {
	unsigned status; /* 100..599 */
	unsigned minor;  /* HTTP/1.minor */
	char reason[PROXY_TCP_REASON_MAX + 1]; /* non-printable bytes as '?', cut at the end */
};

/*
 * Writes "CONNECT authority HTTP/1.1" with Host and, when user is not NULL,
 * "Proxy-Authorization: Basic base64(user:pass)". The authority is host:port, an IPv6
 * target in brackets. Returns the length, -ENOSPC if cap is short, -EINVAL for a target
 * of type NONE or a name holding bytes that would split the request line.
 */
int http_proto_encode_connect(uint8_t *buf, size_t cap, const struct t2s_endpoint *target, const char *user,
			      const char *pass);

/*
 * Decodes the response head at buf[0..len). Returns HTTP_PROTO_NEED_MORE until the empty
 * line that ends it has arrived, then the length of the head (what follows belongs to
 * the tunnel). Lines end in CRLF or a bare LF. Errors: -EPROTO for anything but
 * "HTTP/1.x SSS[ reason]" as the first line, a status outside 100..599, a header line
 * without "name:" or holding a NUL or other control byte; -EMSGSIZE when no end is
 * found within HTTP_PROTO_MAX_RESPONSE bytes. out is written only on success.
 */
int http_proto_decode_response(const uint8_t *buf, size_t len, struct http_proto_response *out);

/*
 * What a final status (200..599) means, as the SOCKS5 REP codes do: 2xx succeeds; 407
 * (and 401) is an authentication failure; 405 and 501 say the proxy does no CONNECT
 * (a protocol failure); the rest are the target's failures with the REP code that tells
 * tcp_flow to answer the application with RST or ICMP: 403 NOT_ALLOWED (ICMP
 * administratively prohibited), 404/410 HOST_UNREACHABLE, 504 TTL_EXPIRED (ICMP host
 * unreachable), 500/502/503 CONN_REFUSED (RST), others GENERAL_FAILURE (RST).
 * Fills res->failure, res->err, res->rep and res->http_status.
 */
void http_proto_classify(unsigned status, struct proxy_tcp_result *res);

#endif
