/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for ip_reass.c and ip_frag.c: IPv4 and IPv6 UDP datagrams cut into
 * fragments by hand (independently of ip_frag.c) and reassembled in order, out of
 * order, with duplicates, overlaps, bad lengths, at the size limits, under the slot and
 * byte caps and past the deadline; then ip_frag.c's fragments reassembled to the
 * original.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ip_frag.h"
#include "ip_reass.h"
#include "packet.h"
#include "support/pktbuild.h"

#define MAXPKT (65536 + 64)
#define BITMAP 1024 /* ip_reass.c's per-datagram bitmap: part of what the byte cap counts */

static const struct ip_reass_config default_cfg = {
	.max_datagrams = 64,
	.max_bytes = 1024 * 1024,
	.timeout4 = 10,
	.timeout6 = 20,
};

/* One whole UDP datagram, unfragmented, with a recognisable payload. */
struct dgram {
	int family;
	uint8_t *pkt;
	size_t len, hl; /* hl: the IP header (the fragmentable part follows) */
};

static void
dgram_make(struct dgram *d, int family, size_t payload_len, uint8_t seed)
{
	struct pktbuild_ip ip;
	struct pktbuild_udp udp = {.sport = 40000, .dport = 7100, .len_field = -1};
	uint8_t *payload = malloc(payload_len + 1);

	assert_non_null(payload);
	for (size_t i = 0; i < payload_len; i++)
		payload[i] = (uint8_t)(i * 7 + seed + (i >> 8));
	if (family == 4)
		pktbuild_ip_init(&ip, 4, "198.18.128.1", "198.19.0.10");
	else
		pktbuild_ip_init(&ip, 6, "2001:2:0:ff::1", "2001:2:0:2::10");
	udp.payload = payload;
	udp.payload_len = payload_len;
	d->family = family;
	d->pkt = malloc(MAXPKT);
	assert_non_null(d->pkt);
	d->len = pktbuild_udp(d->pkt, MAXPKT, &ip, &udp);
	d->hl = family == 4 ? 20 : 40;
	free(payload);
}

static void
dgram_free(struct dgram *d)
{
	free(d->pkt);
}

/*
 * Fragment [off, off + len) of d's fragmentable part into out, with identification id;
 * body, if not NULL, replaces the data (for overlaps with other bytes).
 */
static size_t
frag_make(uint8_t *out, const struct dgram *d, size_t off, size_t len, bool more, uint32_t id, const uint8_t *body)
{
	const uint8_t *data = body != NULL ? body : d->pkt + d->hl + off;

	if (d->family == 4) {
		memcpy(out, d->pkt, 20);
		pktbuild_wr16(out + 2, (uint16_t)(20 + len));
		pktbuild_wr16(out + 4, (uint16_t)id);
		pktbuild_wr16(out + 6, (uint16_t)((more ? 0x2000 : 0) | off / 8));
		pktbuild_ipv4_fix_csum(out);
		memcpy(out + 20, data, len);
		return 20 + len;
	}
	memcpy(out, d->pkt, 40);
	pktbuild_wr16(out + 4, (uint16_t)(8 + len));
	out[6] = 44;
	out[40] = 17;
	out[41] = 0;
	pktbuild_wr16(out + 42, (uint16_t)(off | (more ? 1 : 0)));
	out[44] = (uint8_t)(id >> 24);
	out[45] = (uint8_t)(id >> 16);
	out[46] = (uint8_t)(id >> 8);
	out[47] = (uint8_t)id;
	memcpy(out + 48, data, len);
	return 48 + len;
}

/* Parses frag (it must be a valid fragment) and adds it. */
static int
add(struct ip_reass *r, const uint8_t *frag, size_t len, double now, const uint8_t **out, size_t *out_len)
{
	struct packet_info info;

	assert_int_equal(packet_parse(frag, len, &info), 0);
	assert_true(info.fragment);
	return ip_reass_add(r, frag, &info, now, out, out_len);
}

static int
add_piece(struct ip_reass *r, const struct dgram *d, size_t off, size_t len, bool more, uint32_t id, double now,
	  const uint8_t **out, size_t *out_len)
{
	static uint8_t buf[MAXPKT];
	size_t n = frag_make(buf, d, off, len, more, id, NULL);

	return add(r, buf, n, now, out, out_len);
}

/* The reassembled packet is d: IPv6 byte for byte; IPv4 too but for the header fields
 * that differ between a fragment and a whole datagram (identification, checksum). */
static void
expect_whole(const struct dgram *d, const uint8_t *p, size_t len)
{
	struct packet_info info;

	assert_int_equal(len, d->len);
	assert_int_equal(packet_parse(p, len, &info), 0);
	assert_false(info.fragment);
	assert_int_equal(info.proto, PACKET_PROTO_UDP);
	assert_int_equal(info.sport, 40000);
	assert_int_equal(info.dport, 7100);
	assert_int_equal(info.udp_payload_len, d->len - d->hl - 8);
	if (d->family == 6) {
		assert_memory_equal(p, d->pkt, len);
	} else {
		assert_memory_equal(p, d->pkt, 4);
		assert_int_equal(pktbuild_rd16(p + 6), 0);
		assert_memory_equal(p + 8, d->pkt + 8, 2);
		assert_memory_equal(p + 12, d->pkt + 12, len - 12);
	}
}

/* Cuts d into pieces of chunk bytes and adds them in the order given by perm (NULL:
 * in order); only the last addition may complete. */
static void
reassemble_order(int family, size_t payload, size_t chunk, const size_t *perm, size_t nperm)
{
	struct ip_reass *r = ip_reass_new(&default_cfg);
	const uint8_t *out = NULL;
	size_t out_len = 0, data, n;
	struct dgram d;

	assert_non_null(r);
	dgram_make(&d, family, payload, 1);
	data = d.len - d.hl;
	n = (data + chunk - 1) / chunk;
	if (perm != NULL)
		assert_int_equal(n, nperm);
	for (size_t k = 0; k < n; k++) {
		size_t i = perm != NULL ? perm[k] : k;
		size_t off = i * chunk, len = off + chunk < data ? chunk : data - off;
		int rc = add_piece(r, &d, off, len, off + len < data, 0x1234, 1.0, &out, &out_len);

		assert_int_equal(rc, k + 1 < n ? IP_REASS_HELD : IP_REASS_DONE);
	}
	expect_whole(&d, out, out_len);
	assert_int_equal(ip_reass_pending(r), 0);
	assert_int_equal(ip_reass_bytes(r), 0);
	assert_int_equal(ip_reass_stats(r)->reassembled, 1);
	assert_int_equal(ip_reass_stats(r)->fragments, n);
	dgram_free(&d);
	ip_reass_free(r);
}

static void
test_in_order(void **state)
{
	(void)state;
	reassemble_order(4, 4000, 1480, NULL, 0);
	reassemble_order(6, 4000, 1232, NULL, 0);
	reassemble_order(4, 60000, 1480, NULL, 0);
	reassemble_order(6, 60000, 1448, NULL, 0);
	/* tiny fragments: 8 bytes each */
	reassemble_order(4, 200, 8, NULL, 0);
	reassemble_order(6, 200, 8, NULL, 0);
}

static void
test_out_of_order(void **state)
{
	static const size_t reverse[] = {3, 2, 1, 0};
	static const size_t shuffled[] = {2, 0, 3, 1};
	static const size_t last_first[] = {3, 0, 1, 2};

	(void)state;
	for (int fam = 4; fam <= 6; fam += 2) {
		reassemble_order(fam, 4000, 1024, reverse, 4);
		reassemble_order(fam, 4000, 1024, shuffled, 4);
		reassemble_order(fam, 4000, 1024, last_first, 4);
	}
}

/* Two datagrams of the same endpoints, fragments interleaved: told apart by id. */
static void
test_interleaved(void **state)
{
	(void)state;
	for (int fam = 4; fam <= 6; fam += 2) {
		struct ip_reass *r = ip_reass_new(&default_cfg);
		struct dgram a, b;
		const uint8_t *out;
		size_t out_len;

		dgram_make(&a, fam, 3000, 1);
		dgram_make(&b, fam, 3000, 2);
		assert_int_equal(add_piece(r, &a, 0, 1504, true, 1, 0, &out, &out_len), IP_REASS_HELD);
		assert_int_equal(add_piece(r, &b, 1504, b.len - b.hl - 1504, false, 2, 0, &out, &out_len),
				 IP_REASS_HELD);
		assert_int_equal(add_piece(r, &b, 0, 1504, true, 2, 0, &out, &out_len), IP_REASS_DONE);
		expect_whole(&b, out, out_len);
		assert_int_equal(add_piece(r, &a, 1504, a.len - a.hl - 1504, false, 1, 0, &out, &out_len),
				 IP_REASS_DONE);
		expect_whole(&a, out, out_len);
		dgram_free(&a);
		dgram_free(&b);
		ip_reass_free(r);
	}
}

static void
test_duplicates(void **state)
{
	(void)state;
	for (int fam = 4; fam <= 6; fam += 2) {
		struct ip_reass *r = ip_reass_new(&default_cfg);
		const uint8_t *out;
		size_t out_len, data;
		struct dgram d;

		dgram_make(&d, fam, 3000, 3);
		data = d.len - d.hl;
		assert_int_equal(add_piece(r, &d, 0, 1504, true, 9, 0, &out, &out_len), IP_REASS_HELD);
		assert_int_equal(add_piece(r, &d, 0, 1504, true, 9, 0, &out, &out_len), IP_REASS_HELD);
		/* a part of a fragment already held, same bytes: harmless too */
		assert_int_equal(add_piece(r, &d, 8, 64, true, 9, 0, &out, &out_len), IP_REASS_HELD);
		assert_int_equal(ip_reass_stats(r)->duplicates, 2);
		assert_int_equal(add_piece(r, &d, 1504, data - 1504, false, 9, 0, &out, &out_len), IP_REASS_DONE);
		expect_whole(&d, out, out_len);
		/* a duplicate of the last fragment after completion starts a new datagram */
		assert_int_equal(add_piece(r, &d, 1504, data - 1504, false, 9, 0, &out, &out_len), IP_REASS_HELD);
		assert_int_equal(ip_reass_pending(r), 1);
		dgram_free(&d);
		ip_reass_free(r);
	}
}

static void
test_overlaps(void **state)
{
	(void)state;
	for (int fam = 4; fam <= 6; fam += 2) {
		struct ip_reass *r = ip_reass_new(&default_cfg);
		uint8_t body[64], buf[256];
		const uint8_t *out;
		size_t out_len, data, n;
		struct dgram d;

		dgram_make(&d, fam, 3000, 4);
		data = d.len - d.hl;
		/* partial overlap: the whole datagram goes */
		assert_int_equal(add_piece(r, &d, 0, 1504, true, 5, 0, &out, &out_len), IP_REASS_HELD);
		assert_int_equal(add_piece(r, &d, 1496, 16, true, 5, 0, &out, &out_len), -EBADMSG);
		assert_int_equal(ip_reass_pending(r), 0);
		assert_int_equal(ip_reass_bytes(r), 0);
		assert_int_equal(ip_reass_stats(r)->overlaps, 1);
		/* the rest cannot complete it now (RFC 5722: nothing of it is delivered) */
		assert_int_equal(add_piece(r, &d, 1504, data - 1504, false, 5, 0, &out, &out_len), IP_REASS_HELD);
		ip_reass_expire(r, 100);

		/* same range, other bytes: an overlap too (the classic evasion) */
		assert_int_equal(add_piece(r, &d, 0, 1504, true, 6, 0, &out, &out_len), IP_REASS_HELD);
		memset(body, 0xab, sizeof(body));
		n = frag_make(buf, &d, 64, sizeof(body), true, 6, body);
		assert_int_equal(add(r, buf, n, 0, &out, &out_len), -EBADMSG);
		assert_int_equal(ip_reass_stats(r)->overlaps, 2);

		/* a later fragment covering the end of the last one */
		assert_int_equal(add_piece(r, &d, 1504, data - 1504, false, 7, 0, &out, &out_len), IP_REASS_HELD);
		assert_int_equal(add_piece(r, &d, 1496, 8, true, 7, 0, &out, &out_len), IP_REASS_HELD);
		assert_int_equal(add_piece(r, &d, 1400, 112, true, 7, 0, &out, &out_len), -EBADMSG);
		assert_int_equal(ip_reass_stats(r)->overlaps, 3);
		assert_int_equal(ip_reass_pending(r), 0);
		assert_int_equal(ip_reass_stats(r)->reassembled, 0);
		dgram_free(&d);
		ip_reass_free(r);
	}
}

static void
test_timeout(void **state)
{
	const uint8_t *out;
	size_t out_len, data;
	struct dgram d4, d6;
	struct ip_reass *r = ip_reass_new(&default_cfg);

	(void)state;
	dgram_make(&d4, 4, 3000, 5);
	dgram_make(&d6, 6, 3000, 5);
	data = d4.len - d4.hl;
	assert_true(ip_reass_next_deadline(r) == 0);
	assert_int_equal(add_piece(r, &d4, 0, 1504, true, 1, 100.0, &out, &out_len), IP_REASS_HELD);
	assert_int_equal(add_piece(r, &d6, 0, 1504, true, 1, 101.0, &out, &out_len), IP_REASS_HELD);
	assert_true(ip_reass_next_deadline(r) == 110.0);
	ip_reass_expire(r, 109.9);
	assert_int_equal(ip_reass_pending(r), 2);
	ip_reass_expire(r, 110.0);
	assert_int_equal(ip_reass_pending(r), 1);
	assert_int_equal(ip_reass_stats(r)->timed_out, 1);
	assert_true(ip_reass_next_deadline(r) == 121.0);
	/* the late rest of the IPv4 datagram starts over and cannot complete */
	assert_int_equal(add_piece(r, &d4, 1504, data - 1504, false, 1, 111.0, &out, &out_len), IP_REASS_HELD);
	/* the IPv6 one completes in time (its timeout is 20 s) */
	assert_int_equal(add_piece(r, &d6, 1504, d6.len - d6.hl - 1504, false, 1, 120.9, &out, &out_len),
			 IP_REASS_DONE);
	expect_whole(&d6, out, out_len);
	/* expiry also happens on the way, in ip_reass_add */
	assert_int_equal(add_piece(r, &d6, 0, 1504, true, 2, 200.0, &out, &out_len), IP_REASS_HELD);
	assert_int_equal(ip_reass_stats(r)->timed_out, 2);
	assert_int_equal(ip_reass_pending(r), 1);
	dgram_free(&d4);
	dgram_free(&d6);
	ip_reass_free(r);
}

static void
test_slot_cap(void **state)
{
	struct ip_reass_config cfg = default_cfg;
	const uint8_t *out;
	size_t out_len, data;
	struct dgram d;
	struct ip_reass *r;

	(void)state;
	cfg.max_datagrams = 4;
	r = ip_reass_new(&cfg);
	dgram_make(&d, 4, 3000, 6);
	data = d.len - d.hl;
	for (uint32_t id = 1; id <= 5; id++)
		assert_int_equal(add_piece(r, &d, 0, 1504, true, id, (double)id, &out, &out_len), IP_REASS_HELD);
	assert_int_equal(ip_reass_pending(r), 4);
	assert_int_equal(ip_reass_stats(r)->no_room, 1);
	/* id 1, the oldest, was evicted; 2..5 complete */
	for (uint32_t id = 2; id <= 5; id++) {
		assert_int_equal(add_piece(r, &d, 1504, data - 1504, false, id, 6, &out, &out_len), IP_REASS_DONE);
		expect_whole(&d, out, out_len);
	}
	assert_int_equal(add_piece(r, &d, 1504, data - 1504, false, 1, 6, &out, &out_len), IP_REASS_HELD);
	dgram_free(&d);
	ip_reass_free(r);
}

static void
test_byte_cap(void **state)
{
	struct ip_reass_config cfg = default_cfg;
	const uint8_t *out;
	size_t out_len;
	struct dgram big, small;
	struct ip_reass *r;

	(void)state;
	cfg.max_bytes = IP_REASS_MAX_PACKET; /* cannot hold one maximal datagram */
	assert_null(ip_reass_new(&cfg));
	/* room for one maximal datagram, no more */
	cfg.max_bytes = BITMAP + IP_REASS_MAX_PACKET;
	r = ip_reass_new(&cfg);
	assert_non_null(r);
	dgram_make(&big, 6, 65000, 7);
	dgram_make(&small, 4, 3000, 7);
	assert_int_equal(add_piece(r, &small, 0, 1504, true, 1, 1, &out, &out_len), IP_REASS_HELD);
	/* the big one's last fragment makes it take 64 KiB: the older small one goes */
	assert_int_equal(add_piece(r, &big, 64000, big.len - big.hl - 64000, false, 2, 2, &out, &out_len),
			 IP_REASS_HELD);
	assert_int_equal(ip_reass_pending(r), 1);
	assert_int_equal(ip_reass_stats(r)->no_room, 1);
	assert_true(ip_reass_bytes(r) <= cfg.max_bytes);
	for (size_t off = 0; off < 64000; off += 1000)
		assert_int_equal(add_piece(r, &big, off, 1000, true, 2, 3, &out, &out_len),
				 off + 1000 < 64000 ? IP_REASS_HELD : IP_REASS_DONE);
	expect_whole(&big, out, out_len);
	assert_int_equal(ip_reass_bytes(r), 0);
	dgram_free(&big);
	dgram_free(&small);
	ip_reass_free(r);
}

/* The largest datagrams complete; one more byte, or a fragment ending past 65535, does not. */
static void
test_max_size(void **state)
{
	(void)state;
	for (int fam = 4; fam <= 6; fam += 2) {
		struct ip_reass *r = ip_reass_new(&default_cfg);
		size_t max_payload = IP_REASS_MAX_PACKET - (fam == 4 ? 20 : 40) - 8;
		const uint8_t *out;
		size_t out_len, data;
		struct dgram d;

		dgram_make(&d, fam, max_payload, 8);
		assert_int_equal(d.len, IP_REASS_MAX_PACKET);
		data = d.len - d.hl;
		for (size_t off = 0; off < data; off += 1448) {
			size_t len = off + 1448 < data ? 1448 : data - off;

			assert_int_equal(add_piece(r, &d, off, len, off + len < data, 3, 0, &out, &out_len),
					 off + len < data ? IP_REASS_HELD : IP_REASS_DONE);
		}
		expect_whole(&d, out, out_len);
		/* one byte more at the end: too big, and the datagram in progress goes with it */
		assert_int_equal(add_piece(r, &d, 0, 1448, true, 4, 0, &out, &out_len), IP_REASS_HELD);
		{
			static uint8_t buf[MAXPKT];
			uint8_t body[16] = {0};
			size_t off = data / 8 * 8, n;

			n = frag_make(buf, &d, off, data + 1 - off, false, 4, body);
			assert_int_equal(add(r, buf, n, 0, &out, &out_len), -EMSGSIZE);
		}
		assert_int_equal(ip_reass_pending(r), 0);
		/* the largest offset with a full fragment: far past 65535 */
		assert_int_equal(add_piece(r, &d, 8191 * 8, 8, true, 5, 0, &out, &out_len), -EMSGSIZE);
		assert_int_equal(ip_reass_stats(r)->too_big, 2);
		dgram_free(&d);
		ip_reass_free(r);
	}
}

static void
test_malformed(void **state)
{
	(void)state;
	for (int fam = 4; fam <= 6; fam += 2) {
		struct ip_reass *r = ip_reass_new(&default_cfg);
		const uint8_t *out;
		size_t out_len, data;
		struct dgram d;

		dgram_make(&d, fam, 3000, 9);
		data = d.len - d.hl;
		/* not the last, yet not a multiple of 8 */
		assert_int_equal(add_piece(r, &d, 0, 1500, true, 1, 0, &out, &out_len), -EINVAL);
		/* two last fragments that disagree on the length */
		assert_int_equal(add_piece(r, &d, 1504, data - 1504, false, 2, 0, &out, &out_len), IP_REASS_HELD);
		assert_int_equal(add_piece(r, &d, 1504, data - 1504 - 8, false, 2, 0, &out, &out_len), -EINVAL);
		assert_int_equal(ip_reass_pending(r), 0);
		/* a fragment ending past the last one */
		assert_int_equal(add_piece(r, &d, 1504, 16, false, 4, 0, &out, &out_len), IP_REASS_HELD);
		assert_int_equal(add_piece(r, &d, 0, 1528, true, 4, 0, &out, &out_len), -EINVAL);
		/* a last fragment before data already received */
		assert_int_equal(add_piece(r, &d, 1504, 1488, true, 5, 0, &out, &out_len), IP_REASS_HELD);
		assert_int_equal(add_piece(r, &d, 1000, 4, false, 5, 0, &out, &out_len), -EINVAL);
		assert_int_equal(ip_reass_stats(r)->malformed, 4);
		assert_int_equal(ip_reass_pending(r), 0);
		dgram_free(&d);
		ip_reass_free(r);
	}
}

/* RFC 6946: offset 0 and no M flag is a whole datagram, never mixed with a queue. */
static void
test_atomic_fragment(void **state)
{
	struct ip_reass *r = ip_reass_new(&default_cfg);
	const uint8_t *out;
	size_t out_len;
	struct dgram d;

	(void)state;
	dgram_make(&d, 6, 1000, 10);
	assert_int_equal(add_piece(r, &d, 0, 512, true, 77, 0, &out, &out_len), IP_REASS_HELD);
	assert_int_equal(add_piece(r, &d, 0, d.len - d.hl, false, 77, 0, &out, &out_len), IP_REASS_DONE);
	expect_whole(&d, out, out_len);
	assert_int_equal(ip_reass_pending(r), 1); /* the queue with the same id is untouched */
	dgram_free(&d);
	ip_reass_free(r);
}

/* ---- ip_frag ---- */

struct collected {
	uint8_t *pkts[64];
	size_t lens[64];
	size_t n;
	int fail_at; /* emit returns -EIO for this packet (-1: never) */
};

static int
collect(void *ctx, const struct iovec *iov, int iovcnt)
{
	struct collected *c = ctx;
	size_t len = 0;

	assert_true(iovcnt >= 1 && iovcnt <= IP_FRAG_IOV_MAX);
	if ((int)c->n == c->fail_at)
		return -EIO;
	assert_true(c->n < 64);
	c->pkts[c->n] = malloc(MAXPKT);
	for (int i = 0; i < iovcnt; i++) {
		memcpy(c->pkts[c->n] + len, iov[i].iov_base, iov[i].iov_len);
		len += iov[i].iov_len;
	}
	c->lens[c->n++] = len;
	return 0;
}

static void
collected_free(struct collected *c)
{
	for (size_t i = 0; i < c->n; i++)
		free(c->pkts[i]);
	c->n = 0;
}

/* d's headers and payload as packet_build_udp_header's callers pass them. */
static int
split(const struct dgram *d, unsigned mtu, struct collected *c)
{
	size_t hdr = d->hl + 8;

	return ip_frag_split(d->pkt, hdr, d->pkt + hdr, d->len - hdr, mtu, 0xabcd1234, collect, c);
}

static void
frag_roundtrip(int family, size_t payload, unsigned mtu)
{
	struct collected c = {.fail_at = -1};
	struct ip_reass *r = ip_reass_new(&default_cfg);
	const uint8_t *out = NULL;
	size_t out_len = 0;
	struct dgram d;
	int n, rc = IP_REASS_HELD;

	dgram_make(&d, family, payload, 11);
	n = split(&d, mtu, &c);
	assert_true(n > 1);
	assert_int_equal(n, c.n);
	/* reversed: the reassembly does not depend on the order */
	for (size_t i = c.n; i-- > 0;) {
		struct packet_info info;

		assert_true(c.lens[i] <= mtu);
		assert_int_equal(packet_parse(c.pkts[i], c.lens[i], &info), 0);
		assert_true(info.fragment);
		assert_int_equal(info.proto, PACKET_PROTO_UDP);
		if (family == 4)
			assert_int_equal(pktbuild_rd16(c.pkts[i] + 4), 0x1234);
		else
			assert_int_equal(pktbuild_rd32(c.pkts[i] + 44), 0xabcd1234);
		if (i + 1 < c.n)
			assert_int_equal(c.lens[i], c.lens[0]); /* all full but the last */
		rc = ip_reass_add(r, c.pkts[i], &info, 0, &out, &out_len);
		assert_int_equal(rc, i > 0 ? IP_REASS_HELD : IP_REASS_DONE);
	}
	expect_whole(&d, out, out_len);
	collected_free(&c);
	dgram_free(&d);
	ip_reass_free(r);
}

static void
test_frag_roundtrip(void **state)
{
	(void)state;
	frag_roundtrip(4, 4000, 1500);
	frag_roundtrip(6, 4000, 1500);
	frag_roundtrip(4, 60000, 1500);
	frag_roundtrip(6, 60000, 1280);
	frag_roundtrip(4, 65507, 1500);
	frag_roundtrip(6, 65487, 9000);
	/* the UDP header itself split off: an MTU with 8 bytes of room */
	frag_roundtrip(4, 40, 28);
	frag_roundtrip(6, 40, 56);
}

static void
test_frag_edges(void **state)
{
	struct collected c = {.fail_at = -1};
	struct dgram d;
	uint8_t bad[48];

	(void)state;
	/* fits: passed on unchanged, DF and all */
	dgram_make(&d, 4, 1472, 12);
	assert_int_equal(split(&d, 1500, &c), 1);
	assert_int_equal(c.lens[0], d.len);
	assert_memory_equal(c.pkts[0], d.pkt, d.len);
	collected_free(&c);
	/* one byte more: two fragments of 1500 and 21 bytes */
	dgram_free(&d);
	dgram_make(&d, 4, 1473, 12);
	assert_int_equal(split(&d, 1500, &c), 2);
	assert_int_equal(c.lens[0], 1500);
	assert_int_equal(c.lens[1], 21);
	collected_free(&c);
	/* no room for data */
	assert_int_equal(split(&d, 27, &c), -EMSGSIZE);
	/* the first failing write stops it */
	c.fail_at = 1;
	assert_int_equal(split(&d, 1500, &c), -EIO);
	assert_int_equal(c.n, 1);
	collected_free(&c);
	c.fail_at = -1;
	/* IPv4 options, IPv6 extension headers: not ours, refused */
	memcpy(bad, d.pkt, 28);
	bad[0] = 0x46;
	assert_int_equal(ip_frag_split(bad, 28, d.pkt + 28, d.len - 28, 1500, 1, collect, &c), -EINVAL);
	dgram_free(&d);
	dgram_make(&d, 6, 3000, 12);
	memcpy(bad, d.pkt, 48);
	bad[6] = 60;
	assert_int_equal(ip_frag_split(bad, 48, d.pkt + 48, d.len - 48, 1500, 1, collect, &c), -EINVAL);
	assert_int_equal(c.n, 0);
	dgram_free(&d);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_in_order),
		cmocka_unit_test(test_out_of_order),
		cmocka_unit_test(test_interleaved),
		cmocka_unit_test(test_duplicates),
		cmocka_unit_test(test_overlaps),
		cmocka_unit_test(test_timeout),
		cmocka_unit_test(test_slot_cap),
		cmocka_unit_test(test_byte_cap),
		cmocka_unit_test(test_max_size),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_atomic_fragment),
		cmocka_unit_test(test_frag_roundtrip),
		cmocka_unit_test(test_frag_edges),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
