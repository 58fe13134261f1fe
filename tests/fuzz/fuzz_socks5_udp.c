/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for the SOCKS UDP request header: decodes arbitrary datagrams and
 * checks that re-encoding the decoded address reproduces the header byte for byte.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "socks5_proto.h"
#include "fuzz.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t hdr[SOCKS5_MAX_UDP_HEADER];
	struct t2s_endpoint addr, again;
	uint8_t *copy;
	uint8_t frag = 0;
	int r, n;

	copy = malloc(size ? size : 1);
	if (!copy)
		return 0;
	if (size)
		memcpy(copy, data, size);

	r = socks5_proto_decode_udp_header(copy, size, &frag, &addr);
	FUZZ_CHECK(r == -EPROTO || (r > 0 && (size_t)r <= size && r <= SOCKS5_MAX_UDP_HEADER));
	FUZZ_CHECK(r != SOCKS5_NEED_MORE);
	if (r > 0) {
		FUZZ_CHECK(frag == copy[2]);
		/* The header alone decodes the same; a datagram one byte shorter is malformed. */
		FUZZ_CHECK(socks5_proto_decode_udp_header(copy, (size_t)r, NULL, &again) == r);
		FUZZ_CHECK(endpoint_equal(&addr, &again));
		FUZZ_CHECK(socks5_proto_decode_udp_header(copy, (size_t)r - 1, NULL, NULL) == -EPROTO);

		n = socks5_proto_encode_udp_header(hdr, sizeof(hdr), &addr);
		FUZZ_CHECK(n == r);
		FUZZ_CHECK(hdr[0] == 0 && hdr[1] == 0 && hdr[2] == 0);
		FUZZ_CHECK(memcmp(hdr + 3, copy + 3, (size_t)r - 3) == 0);
		FUZZ_CHECK(socks5_proto_encode_udp_header(hdr, (size_t)r - 1, &addr) == -ENOSPC);
	}

	free(copy);
	return 0;
}
