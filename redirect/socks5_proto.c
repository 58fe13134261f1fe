/* SPDX-License-Identifier: MIT */
/*
 * SOCKS5 wire format (RFC 1928, RFC 1929): request encoders and incremental reply
 * decoders over caller-owned byte buffers. Decoders reject a malformed prefix as soon
 * as the offending byte arrives instead of waiting for the rest of the message.
 */
#include "socks5_proto.h"

#include <errno.h>
#include <string.h>

/* Bytes that ATYP ADDR PORT occupy for ep, or -EINVAL if ep cannot be sent. */
static int
addr_size(const struct t2s_endpoint *ep)
{
	if (!ep)
		return -EINVAL;
	switch (ep->type) {
	case T2S_ENDPOINT_IPV4:
		return 1 + 4 + 2;
	case T2S_ENDPOINT_IPV6:
		return 1 + 16 + 2;
	case T2S_ENDPOINT_DOMAIN:
		if (ep->u.domain.len == 0)
			return -EINVAL;
		return 1 + 1 + ep->u.domain.len + 2;
	default:
		return -EINVAL;
	}
}

/* Writes ATYP ADDR PORT; the caller has checked the room with addr_size(). */
static void
put_addr(uint8_t *p, const struct t2s_endpoint *ep)
{
	switch (ep->type) {
	case T2S_ENDPOINT_IPV4:
		*p++ = SOCKS5_ATYP_IPV4;
		memcpy(p, ep->u.ipv4, 4);
		p += 4;
		break;
	case T2S_ENDPOINT_IPV6:
		*p++ = SOCKS5_ATYP_IPV6;
		memcpy(p, ep->u.ipv6, 16);
		p += 16;
		break;
	default:
		*p++ = SOCKS5_ATYP_DOMAIN;
		*p++ = ep->u.domain.len;
		memcpy(p, ep->u.domain.name, ep->u.domain.len);
		p += ep->u.domain.len;
		break;
	}
	p[0] = (uint8_t)(ep->port >> 8);
	p[1] = (uint8_t)(ep->port & 0xff);
}

/*
 * Reads ATYP ADDR PORT from p[0..len). Returns the bytes it occupies, SOCKS5_NEED_MORE,
 * or -EPROTO for an unknown ATYP or a zero-length domain. ep may be NULL.
 */
static int
get_addr(const uint8_t *p, size_t len, struct t2s_endpoint *ep)
{
	size_t alen, total;

	if (len < 1)
		return SOCKS5_NEED_MORE;
	switch (p[0]) {
	case SOCKS5_ATYP_IPV4:
		alen = 4;
		break;
	case SOCKS5_ATYP_IPV6:
		alen = 16;
		break;
	case SOCKS5_ATYP_DOMAIN:
		if (len < 2)
			return SOCKS5_NEED_MORE;
		if (p[1] == 0)
			return -EPROTO;
		alen = 1 + (size_t)p[1];
		break;
	default:
		return -EPROTO;
	}
	total = 1 + alen + 2;
	if (len < total)
		return SOCKS5_NEED_MORE;
	if (ep) {
		memset(ep, 0, sizeof(*ep));
		if (p[0] == SOCKS5_ATYP_IPV4) {
			ep->type = T2S_ENDPOINT_IPV4;
			memcpy(ep->u.ipv4, p + 1, 4);
		} else if (p[0] == SOCKS5_ATYP_IPV6) {
			ep->type = T2S_ENDPOINT_IPV6;
			memcpy(ep->u.ipv6, p + 1, 16);
		} else {
			ep->type = T2S_ENDPOINT_DOMAIN;
			ep->u.domain.len = p[1];
			memcpy(ep->u.domain.name, p + 2, p[1]);
			ep->u.domain.name[p[1]] = '\0';
		}
		ep->port = (uint16_t)(p[1 + alen] << 8 | p[1 + alen + 1]);
	}
	return (int)total;
}

int
socks5_proto_encode_greeting(uint8_t *buf, size_t cap, int offer_userpass)
{
	size_t n = offer_userpass ? 4 : 3;

	if (cap < n)
		return -ENOSPC;
	buf[0] = SOCKS5_VERSION;
	buf[1] = (uint8_t)(n - 2);
	buf[2] = SOCKS5_METHOD_NONE;
	if (offer_userpass)
		buf[3] = SOCKS5_METHOD_USERPASS;
	return (int)n;
}

int
socks5_proto_decode_method(const uint8_t *buf, size_t len, uint8_t *method)
{
	if (len >= 1 && buf[0] != SOCKS5_VERSION)
		return -EPROTO;
	if (len < 2)
		return SOCKS5_NEED_MORE;
	if (method)
		*method = buf[1];
	return 2;
}

int
socks5_proto_encode_userpass(uint8_t *buf, size_t cap, const char *user, const char *pass)
{
	size_t ulen, plen;

	if (!user || !pass)
		return -EINVAL;
	ulen = strnlen(user, 256);
	plen = strnlen(pass, 256);
	if (ulen == 0 || ulen > 255 || plen == 0 || plen > 255)
		return -EINVAL;
	if (cap < 3 + ulen + plen)
		return -ENOSPC;
	buf[0] = SOCKS5_AUTH_VERSION;
	buf[1] = (uint8_t)ulen;
	memcpy(buf + 2, user, ulen);
	buf[2 + ulen] = (uint8_t)plen;
	memcpy(buf + 3 + ulen, pass, plen);
	return (int)(3 + ulen + plen);
}

int
socks5_proto_decode_userpass_reply(const uint8_t *buf, size_t len, uint8_t *status)
{
	if (len >= 1 && buf[0] != SOCKS5_AUTH_VERSION && buf[0] != SOCKS5_VERSION)
		return -EPROTO;
	if (len < 2)
		return SOCKS5_NEED_MORE;
	if (status)
		*status = buf[1];
	return 2;
}

int
socks5_proto_encode_request(uint8_t *buf, size_t cap, uint8_t cmd, const struct t2s_endpoint *dst)
{
	int asz;

	if (cmd != SOCKS5_CMD_CONNECT && cmd != SOCKS5_CMD_UDP_ASSOCIATE)
		return -EINVAL;
	asz = addr_size(dst);
	if (asz < 0)
		return asz;
	if (cap < 3 + (size_t)asz)
		return -ENOSPC;
	buf[0] = SOCKS5_VERSION;
	buf[1] = cmd;
	buf[2] = 0;
	put_addr(buf + 3, dst);
	return 3 + asz;
}

int
socks5_proto_decode_reply(const uint8_t *buf, size_t len, uint8_t *rep, struct t2s_endpoint *bnd)
{
	int r;

	if (len >= 1 && buf[0] != SOCKS5_VERSION)
		return -EPROTO;
	if (len >= 3 && buf[2] != 0)
		return -EPROTO;
	if (len < 3)
		return SOCKS5_NEED_MORE;
	r = get_addr(buf + 3, len - 3, bnd);
	if (r <= 0)
		return r;
	if (rep)
		*rep = buf[1];
	return 3 + r;
}

int
socks5_proto_encode_udp_header(uint8_t *buf, size_t cap, const struct t2s_endpoint *dst)
{
	int asz = addr_size(dst);

	if (asz < 0)
		return asz;
	if (cap < 3 + (size_t)asz)
		return -ENOSPC;
	buf[0] = 0;
	buf[1] = 0;
	buf[2] = 0;
	put_addr(buf + 3, dst);
	return 3 + asz;
}

int
socks5_proto_decode_udp_header(const uint8_t *buf, size_t len, uint8_t *frag, struct t2s_endpoint *addr)
{
	int r;

	if (len < 3 || buf[0] != 0 || buf[1] != 0)
		return -EPROTO;
	r = get_addr(buf + 3, len - 3, addr);
	if (r == SOCKS5_NEED_MORE)
		return -EPROTO;
	if (r < 0)
		return r;
	if (frag)
		*frag = buf[2];
	return 3 + r;
}

const char *
socks5_proto_rep_str(uint8_t rep)
{
	switch (rep) {
	case SOCKS5_REP_SUCCEEDED:
		return "succeeded";
	case SOCKS5_REP_GENERAL_FAILURE:
		return "general SOCKS server failure";
	case SOCKS5_REP_NOT_ALLOWED:
		return "connection not allowed by ruleset";
	case SOCKS5_REP_NET_UNREACHABLE:
		return "network unreachable";
	case SOCKS5_REP_HOST_UNREACHABLE:
		return "host unreachable";
	case SOCKS5_REP_CONN_REFUSED:
		return "connection refused";
	case SOCKS5_REP_TTL_EXPIRED:
		return "TTL expired";
	case SOCKS5_REP_CMD_UNSUPPORTED:
		return "command not supported";
	case SOCKS5_REP_ATYP_UNSUPPORTED:
		return "address type not supported";
	default:
		return "unknown reply code";
	}
}

int
socks5_proto_rep_errno(uint8_t rep)
{
	switch (rep) {
	case SOCKS5_REP_SUCCEEDED:
		return 0;
	case SOCKS5_REP_NOT_ALLOWED:
		return EACCES;
	case SOCKS5_REP_NET_UNREACHABLE:
		return ENETUNREACH;
	case SOCKS5_REP_HOST_UNREACHABLE:
		return EHOSTUNREACH;
	case SOCKS5_REP_CONN_REFUSED:
		return ECONNREFUSED;
	case SOCKS5_REP_TTL_EXPIRED:
		return ETIMEDOUT;
	case SOCKS5_REP_CMD_UNSUPPORTED:
	case SOCKS5_REP_ATYP_UNSUPPORTED:
		return EOPNOTSUPP;
	default:
		return ECONNABORTED;
	}
}
