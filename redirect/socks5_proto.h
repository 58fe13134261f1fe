/* SPDX-License-Identifier: MIT */
/*
 * Pure SOCKS5 codec (RFC 1928, RFC 1929): encodes requests into caller buffers and
 * decodes server replies from accumulated bytes. No I/O, no allocation, no logging.
 * Decoders never assume one recv() is one message: they return SOCKS5_NEED_MORE until
 * a whole message is present, then the number of bytes it occupies.
 */
#ifndef T2S_REDIRECT_SOCKS5_PROTO_H
#define T2S_REDIRECT_SOCKS5_PROTO_H

#include <stddef.h>
#include <stdint.h>

#include "endpoint.h"

enum {
	SOCKS5_VERSION = 0x05,
	SOCKS5_AUTH_VERSION = 0x01,

	SOCKS5_METHOD_NONE = 0x00,
	SOCKS5_METHOD_USERPASS = 0x02,
	SOCKS5_METHOD_UNACCEPTABLE = 0xff,

	SOCKS5_CMD_CONNECT = 0x01,
	SOCKS5_CMD_UDP_ASSOCIATE = 0x03,

	SOCKS5_ATYP_IPV4 = 0x01,
	SOCKS5_ATYP_DOMAIN = 0x03,
	SOCKS5_ATYP_IPV6 = 0x04,

	/* REP codes of RFC 1928 section 6. */
	SOCKS5_REP_SUCCEEDED = 0x00,
	SOCKS5_REP_GENERAL_FAILURE = 0x01,
	SOCKS5_REP_NOT_ALLOWED = 0x02,
	SOCKS5_REP_NET_UNREACHABLE = 0x03,
	SOCKS5_REP_HOST_UNREACHABLE = 0x04,
	SOCKS5_REP_CONN_REFUSED = 0x05,
	SOCKS5_REP_TTL_EXPIRED = 0x06,
	SOCKS5_REP_CMD_UNSUPPORTED = 0x07,
	SOCKS5_REP_ATYP_UNSUPPORTED = 0x08,
};

/* Returned by decoders when the buffer does not yet hold a whole message. */
#define SOCKS5_NEED_MORE 0

/* Longest message any encoder below produces (user/pass auth: 3 + 255 + 255). */
#define SOCKS5_MAX_REQUEST 513
/* Longest reply to CONNECT / UDP ASSOCIATE (domain BND.ADDR of 255 bytes). */
#define SOCKS5_MAX_REPLY (4 + 1 + 255 + 2)
/* Longest SOCKS UDP request header (RSV RSV FRAG ATYP + domain + port). */
#define SOCKS5_MAX_UDP_HEADER (4 + 1 + 255 + 2)

/*
 * Greeting: VER NMETHODS METHODS. Offers "no auth", plus "username/password" when
 * offer_userpass is non-zero. Returns the length written, or -ENOSPC.
 */
int socks5_proto_encode_greeting(uint8_t *buf, size_t cap, int offer_userpass);

/*
 * Method selection reply: VER METHOD. On success stores the method (which may be
 * SOCKS5_METHOD_UNACCEPTABLE: the caller decides) and returns 2.
 * Returns SOCKS5_NEED_MORE, or -EPROTO if VER is not 5.
 */
int socks5_proto_decode_method(const uint8_t *buf, size_t len, uint8_t *method);

/*
 * RFC 1929 request: VER(1) ULEN UNAME PLEN PASSWD. user and pass are 1..255 bytes,
 * else -EINVAL. Returns the length written, or -ENOSPC.
 */
int socks5_proto_encode_userpass(uint8_t *buf, size_t cap, const char *user, const char *pass);

/*
 * RFC 1929 reply: VER STATUS. VER must be 1 (-EPROTO otherwise; some servers send 5,
 * which is accepted too, since it is unambiguous). Stores STATUS (0 = success), returns 2.
 */
int socks5_proto_decode_userpass_reply(const uint8_t *buf, size_t len, uint8_t *status);

/*
 * Request: VER CMD RSV ATYP DST.ADDR DST.PORT for CONNECT or UDP ASSOCIATE.
 * Domain endpoints must be 1..255 bytes long (-EINVAL otherwise).
 * Returns the length written, or -ENOSPC / -EINVAL.
 */
int socks5_proto_encode_request(uint8_t *buf, size_t cap, uint8_t cmd, const struct t2s_endpoint *dst);

/*
 * Reply: VER REP RSV ATYP BND.ADDR BND.PORT. On a whole, well-formed reply stores REP
 * and BND (bnd may be NULL) and returns its length, whatever REP says: the caller maps
 * REP. Returns SOCKS5_NEED_MORE, or -EPROTO for VER != 5, RSV != 0, an unknown ATYP or
 * a zero-length domain.
 */
int socks5_proto_decode_reply(const uint8_t *buf, size_t len, uint8_t *rep, struct t2s_endpoint *bnd);

/*
 * SOCKS UDP request header (RFC 1928 section 7): RSV(2)=0 FRAG ATYP DST.ADDR DST.PORT.
 * encode: FRAG is always 0. Returns the header length, or -ENOSPC / -EINVAL.
 * decode: stores FRAG and the address; returns the header length (payload follows).
 * A datagram is never partial, so a short buffer is -EPROTO, not NEED_MORE; so are
 * RSV != 0, unknown ATYP and a zero-length domain.
 */
int socks5_proto_encode_udp_header(uint8_t *buf, size_t cap, const struct t2s_endpoint *dst);
int socks5_proto_decode_udp_header(const uint8_t *buf, size_t len, uint8_t *frag, struct t2s_endpoint *addr);

/* Static English text for a REP code, e.g. "connection refused"; never NULL. */
const char *socks5_proto_rep_str(uint8_t rep);

/*
 * The errno that best describes a non-zero REP to the flow layer:
 * CONN_REFUSED -> ECONNREFUSED, NET_UNREACHABLE -> ENETUNREACH,
 * HOST_UNREACHABLE -> EHOSTUNREACH, TTL_EXPIRED -> ETIMEDOUT, NOT_ALLOWED -> EACCES,
 * CMD_UNSUPPORTED / ATYP_UNSUPPORTED -> EOPNOTSUPP, anything else -> ECONNABORTED.
 * Returned as a positive errno value; SUCCEEDED, which is no error, gives 0.
 */
int socks5_proto_rep_errno(uint8_t rep);

#endif
