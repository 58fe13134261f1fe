/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for packet_parse, the gate in front of lwIP: any input must be
 * either refused or described consistently (offsets inside the packet), and the RST
 * and ICMP answers built from an accepted packet must parse back; the never-a-host
 * classification of an accepted packet is total and never answers a bad source.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "martian.h"
#include "packet.h"
#include "fuzz.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct packet_info info, back;
	uint8_t out[1400];
	uint8_t *copy;
	int r, n;

	copy = malloc(size ? size : 1);
	if (copy == NULL)
		return 0;
	memcpy(copy, data, size);
	r = packet_parse(copy, size, &info);
	if (r == 0) {
		FUZZ_CHECK(info.ip_len <= size);
		FUZZ_CHECK(info.l4_off <= info.ip_len);
		FUZZ_CHECK(info.family == 4 || info.family == 6);
		if (info.proto == PACKET_PROTO_TCP && !info.fragment) {
			FUZZ_CHECK(info.l4_off + 20u + info.tcp_payload_len <= info.ip_len);
			n = packet_build_tcp_rst(&info, out, sizeof(out));
			FUZZ_CHECK(n > 0);
			FUZZ_CHECK(packet_parse(out, (size_t)n, &back) == 0);
			FUZZ_CHECK(back.sport == info.dport && back.dport == info.sport);
		}
		{
			/* The TUN subnet from the packet's own bytes, so the fuzzer steers it. */
			struct martian_tun_net net = {.has_net4 = true, .prefix4 = size > 0 ? copy[size - 1] % 33 : 0};
			enum martian m;

			memcpy(net.addr4, info.src, 4);
			m = martian_classify(&info, &net);
			FUZZ_CHECK(m >= MARTIAN_NONE && m <= MARTIAN_V4_IN_V6);
			FUZZ_CHECK(!(martian_answer(m) && m == MARTIAN_SOURCE));
			FUZZ_CHECK(martian_classify(&info, NULL) == MARTIAN_NONE || m != MARTIAN_NONE);
		}
		n = packet_build_unreachable(copy, &info, PACKET_UNREACH_HOST, out, sizeof(out));
		FUZZ_CHECK(n > 0 && (size_t)n <= sizeof(out));
		FUZZ_CHECK(packet_parse(out, (size_t)n, &back) == 0);
	} else {
		FUZZ_CHECK(r < 0);
	}
	free(copy);
	return 0;
}
