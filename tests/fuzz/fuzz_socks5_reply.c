/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for the SOCKS5 reply decoders (method selection, RFC 1929 status,
 * CONNECT/UDP ASSOCIATE reply) on arbitrary bytes, checking their length contract.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "socks5_proto.h"
#include "fuzz.h"

/* A decoder result is NEED_MORE, -EPROTO, or a length within the input. */
static void
check_result(int r, size_t size, size_t max)
{
	FUZZ_CHECK(r == SOCKS5_NEED_MORE || r == -EPROTO || (r > 0 && (size_t)r <= size && (size_t)r <= max));
}

static void
fuzz_reply(const uint8_t *data, size_t size)
{
	struct t2s_endpoint bnd, again;
	uint8_t rep = 0, rep2 = 0;
	int r, r2;

	r = socks5_proto_decode_reply(data, size, &rep, &bnd);
	check_result(r, size, SOCKS5_MAX_REPLY);
	FUZZ_CHECK(socks5_proto_decode_reply(data, size, NULL, NULL) == r);
	if (r <= 0)
		return;
	/* The whole message alone gives the same answer, and one byte less is incomplete. */
	r2 = socks5_proto_decode_reply(data, (size_t)r, &rep2, &again);
	FUZZ_CHECK(r2 == r && rep2 == rep && endpoint_equal(&bnd, &again));
	FUZZ_CHECK(socks5_proto_decode_reply(data, (size_t)r - 1, NULL, NULL) == SOCKS5_NEED_MORE);
	FUZZ_CHECK(bnd.type != T2S_ENDPOINT_DOMAIN || (bnd.u.domain.len > 0 && bnd.u.domain.name[bnd.u.domain.len] == '\0'));
	(void)socks5_proto_rep_str(rep);
	FUZZ_CHECK(socks5_proto_rep_errno(rep) >= 0);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *copy;
	uint8_t v = 0;
	int r;

	/* An exact-size copy, so that ASan sees any read past the end. */
	copy = malloc(size ? size : 1);
	if (!copy)
		return 0;
	if (size)
		memcpy(copy, data, size);

	r = socks5_proto_decode_method(copy, size, &v);
	check_result(r, size, 2);
	FUZZ_CHECK(r != 2 || v == copy[1]);
	r = socks5_proto_decode_userpass_reply(copy, size, &v);
	check_result(r, size, 2);
	FUZZ_CHECK(r != 2 || v == copy[1]);
	fuzz_reply(copy, size);

	free(copy);
	return 0;
}
