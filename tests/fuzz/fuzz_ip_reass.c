/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for ip_reass: a sequence of fragments, most built from a few input
 * bytes each (family, id, offset, length, M flag, time step) so that offsets collide
 * often, some taken raw from the input. Filtered by packet_parse as t2s.c does, fed to
 * a small reassembler (4 datagrams, one maximal datagram of bytes) so eviction, timeouts
 * and overlaps all happen. Checks the bounds after every step and that every completed
 * datagram holds, at each offset, a byte some fragment carried there. ASan reports any
 * leak at ip_reass_free.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ip_reass.h"
#include "packet.h"
#include "wire.h"
#include "fuzz.h"

#define MAX_FRAG_DATA 4096

/* The byte a built fragment carries at offset i of datagram id; variant flips it. */
static uint8_t
pattern(uint8_t id, size_t i, bool variant)
{
	uint8_t b = (uint8_t)(i * 31 + (i >> 8) + id);

	return variant ? b ^ 0x5a : b;
}

static size_t
build(uint8_t *out, uint8_t op, uint8_t id, size_t off, size_t len, bool more)
{
	int v6 = op & 2;
	size_t hl = v6 ? 48 : 20;

	memset(out, 0, hl);
	if (!v6) {
		out[0] = 0x45;
		wire_wr16(out + 2, (uint16_t)(hl + len));
		wire_wr16(out + 4, id);
		wire_wr16(out + 6, (uint16_t)((more ? 0x2000 : 0) | (off / 8)));
		out[8] = 64;
		out[9] = 17;
		out[12] = 198, out[13] = 18, out[15] = 1;
		out[16] = 198, out[17] = 19, out[19] = 10;
		wire_wr16(out + 10, packet_fold(packet_sum(0, out, 20)));
	} else {
		out[0] = 0x60;
		wire_wr16(out + 4, (uint16_t)(8 + len));
		out[6] = 44;
		out[7] = 64;
		out[8] = 0x20, out[9] = 0x01, out[23] = 1;
		out[24] = 0x20, out[25] = 0x01, out[39] = 0x10;
		out[40] = 17;
		out[3] = id; /* the flow label survives reassembly; the Fragment header does not */
		wire_wr16(out + 42, (uint16_t)(off | (more ? 1 : 0)));
		wire_wr32(out + 44, id);
	}
	for (size_t i = 0; i < len; i++)
		out[hl + i] = pattern(id, off + i, op & 8);
	return hl + len;
}

/* Built fragments come from these sources; raw ones with them are skipped. */
static bool
is_built(const uint8_t *p)
{
	if ((p[0] >> 4) == 4)
		return p[12] == 198 && p[13] == 18 && p[14] == 0 && p[15] == 1;
	return p[8] == 0x20 && p[9] == 0x01 && p[23] == 1 && memcmp(p + 10, "\0\0\0\0\0\0\0\0\0\0\0\0\0", 13) == 0;
}

/* The rebuilt header is consistent; a built datagram has, at every offset, a byte
 * that some fragment of it carried there. */
static void
check_done(const uint8_t *p, size_t len)
{
	struct packet_info info;
	int v4 = (p[0] >> 4) == 4;
	size_t hl = v4 ? 20 : 40;
	uint8_t id;

	FUZZ_CHECK(v4 || (p[0] >> 4) == 6);
	FUZZ_CHECK(len >= hl && len <= IP_REASS_MAX_PACKET);
	if (v4) {
		FUZZ_CHECK(p[0] == 0x45 && wire_rd16(p + 2) == len && wire_rd16(p + 6) == 0);
		FUZZ_CHECK(packet_fold(packet_sum(0, p, 20)) == 0);
	} else {
		FUZZ_CHECK(wire_rd16(p + 4) + 40u == len);
	}
	/* Parsing may refuse it (a UDP length from the input), but never as a fragment. */
	if (packet_parse(p, len, &info) == 0)
		FUZZ_CHECK(!info.fragment);
	if (!is_built(p))
		return;
	id = v4 ? p[5] : p[3];
	for (size_t i = 0; i < len - hl; i++)
		FUZZ_CHECK(p[hl + i] == pattern(id, i, false) || p[hl + i] == pattern(id, i, true));
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct ip_reass_config cfg = {
		.max_datagrams = 4,
		.max_bytes = 1024 + IP_REASS_MAX_PACKET,
		.timeout4 = 5,
		.timeout6 = 7,
	};
	struct ip_reass *r = ip_reass_new(&cfg);
	uint8_t *pkt = malloc(65536 + 64);
	double now = 0;
	size_t i = 0;

	FUZZ_CHECK(r != NULL && pkt != NULL);
	while (i < size) {
		struct packet_info info;
		const uint8_t *out;
		size_t n, out_len;
		uint8_t op = data[i++];
		int rc;

		if (op & 1) { /* raw packet: 2-byte length, then the bytes */
			if (size - i < 2)
				break;
			n = wire_rd16(data + i);
			i += 2;
			if (n > size - i)
				n = size - i;
			memcpy(pkt, data + i, n);
			i += n;
			memset(pkt + n, 0, 24); /* is_built reads that far */
			if (is_built(pkt))
				continue;
		} else { /* built: id, offset (8-byte units), length, time step */
			size_t off, len;
			uint8_t id;

			if (size - i < 6)
				break;
			id = data[i] & 7;
			off = (size_t)(wire_rd16(data + i + 1) % 8192) * 8;
			len = wire_rd16(data + i + 3) % MAX_FRAG_DATA;
			now += data[i + 5] / 16.0;
			i += 6;
			if (op & 4)
				len &= ~(size_t)7; /* M set: a multiple of 8, mostly */
			n = build(pkt, op, id, off, len, op & 4);
		}
		if (packet_parse(pkt, n, &info) < 0 || !info.fragment || info.proto != PACKET_PROTO_UDP)
			continue;
		rc = ip_reass_add(r, pkt, &info, now, &out, &out_len);
		FUZZ_CHECK(rc == IP_REASS_HELD || rc == IP_REASS_DONE || rc < 0);
		if (rc == IP_REASS_DONE)
			check_done(out, out_len);
		FUZZ_CHECK(ip_reass_pending(r) <= cfg.max_datagrams);
		FUZZ_CHECK(ip_reass_bytes(r) <= cfg.max_bytes);
		FUZZ_CHECK(ip_reass_pending(r) > 0 || ip_reass_bytes(r) == 0);
		if (ip_reass_pending(r) > 0)
			FUZZ_CHECK(ip_reass_next_deadline(r) > 0);
	}
	ip_reass_expire(r, now + 100);
	FUZZ_CHECK(ip_reass_pending(r) == 0 && ip_reass_bytes(r) == 0);
	ip_reass_free(r);
	free(pkt);
	return 0;
}
