/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for vnet_hdr.c: headers round-trip through build and parse in the kernel's
 * layout (struct virtio_net_hdr), bad headers are refused, a TCP packet gets NEEDS_CSUM
 * at its TCP header and segmentation exactly when its payload exceeds the MSS less its
 * options, and completing a partial checksum gives the checksum of the whole packet.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include <linux/virtio_net.h>

#include "vnet_hdr.h"
#include "support/pktbuild.h"

static void
test_roundtrip(void **state)
{
	struct vnet_hdr in = {.needs_csum = true, .gso = VNET_GSO_TCPV6, .gso_ecn = true, .hdr_len = 60,
			      .gso_size = 1440, .csum_start = 40, .csum_offset = 16},
			out;
	struct virtio_net_hdr v;
	uint8_t b[VNET_HDR_LEN];

	(void)state;
	vnet_hdr_build(b, &in);
	memcpy(&v, b, sizeof(v));
	assert_int_equal(v.flags, VIRTIO_NET_HDR_F_NEEDS_CSUM);
	assert_int_equal(v.gso_type, VIRTIO_NET_HDR_GSO_TCPV6 | VIRTIO_NET_HDR_GSO_ECN);
	assert_int_equal(v.gso_size, 1440);
	assert_int_equal(v.hdr_len, 60);
	assert_int_equal(v.csum_start, 40);
	assert_int_equal(v.csum_offset, 16);
	assert_int_equal(vnet_hdr_parse(b, sizeof(b), &out), 0);
	assert_memory_equal(&in, &out, sizeof(in));

	/* No segmentation and no checksum: the size and offsets are not sent. */
	in = (struct vnet_hdr){.data_valid = true, .gso_size = 1000, .csum_start = 20, .csum_offset = 6};
	vnet_hdr_build(b, &in);
	memcpy(&v, b, sizeof(v));
	assert_int_equal(v.flags, VIRTIO_NET_HDR_F_DATA_VALID);
	assert_int_equal(v.gso_type, VIRTIO_NET_HDR_GSO_NONE);
	assert_int_equal(v.gso_size, 0);
	assert_int_equal(v.csum_start, 0);
	assert_int_equal(vnet_hdr_parse(b, sizeof(b), &out), 0);
	assert_true(out.data_valid);
	assert_false(out.needs_csum);
	assert_int_equal(out.gso, VNET_GSO_NONE);
}

static void
test_parse_kernel(void **state)
{
	/* What the kernel hands us for a TSO'd upload: TCPV4, NEEDS_CSUM. */
	struct virtio_net_hdr v = {.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM, .gso_type = VIRTIO_NET_HDR_GSO_TCPV4,
				   .hdr_len = 52, .gso_size = 1448, .csum_start = 20, .csum_offset = 16};
	uint8_t b[12] = {0};
	struct vnet_hdr h;

	(void)state;
	memcpy(b, &v, sizeof(v));
	assert_int_equal(vnet_hdr_parse(b, sizeof(b), &h), 0); /* a longer device header is fine */
	assert_int_equal(h.gso, VNET_GSO_TCPV4);
	assert_true(h.needs_csum);
	assert_int_equal(h.gso_size, 1448);
	assert_int_equal(h.csum_start, 20);

	v.gso_type = VIRTIO_NET_HDR_GSO_UDP;
	memcpy(b, &v, sizeof(v));
	assert_int_equal(vnet_hdr_parse(b, sizeof(b), &h), 0);
	assert_int_equal(h.gso, VNET_GSO_UDP);
}

static void
test_parse_bad(void **state)
{
	struct virtio_net_hdr v = {0};
	uint8_t b[VNET_HDR_LEN];
	struct vnet_hdr h;

	(void)state;
	memcpy(b, &v, sizeof(v));
	assert_int_equal(vnet_hdr_parse(b, VNET_HDR_LEN - 1, &h), -EINVAL); /* short */
	v.flags = 0x80;                                                      /* unknown flag */
	memcpy(b, &v, sizeof(v));
	assert_int_equal(vnet_hdr_parse(b, sizeof(b), &h), -EINVAL);
	v.flags = 0;
	v.gso_type = 0x42; /* unknown type */
	memcpy(b, &v, sizeof(v));
	assert_int_equal(vnet_hdr_parse(b, sizeof(b), &h), -EINVAL);
	v.gso_type = VIRTIO_NET_HDR_GSO_TCPV4; /* segmentation without a size */
	v.gso_size = 0;
	memcpy(b, &v, sizeof(v));
	assert_int_equal(vnet_hdr_parse(b, sizeof(b), &h), -EINVAL);
}

/* A TCP packet from 198.18.0.1 (or 2001:2::1) with payload_len bytes and opts_len bytes
 * of options, its checksum field holding the pseudo-header sum as lwIP leaves it. */
static size_t
tcp_packet(uint8_t *buf, size_t cap, int family, size_t payload_len, size_t opts_len, uint8_t flags,
	   struct pktbuild_ip *ip)
{
	static uint8_t payload[65000];
	uint8_t opts[40];
	size_t len, l4;
	uint32_t acc;

	for (size_t i = 0; i < sizeof(payload); i++)
		payload[i] = (uint8_t)(i * 7 + 3);
	memset(opts, 1, sizeof(opts)); /* NOPs */
	if (family == 4)
		pktbuild_ip_init(ip, 4, "198.18.0.1", "198.19.0.10");
	else
		pktbuild_ip_init(ip, 6, "2001:2::1", "2001:2:0:1::10");
	len = pktbuild_tcp(buf, cap, ip,
			   &(struct pktbuild_tcp){.sport = 5201, .dport = 40000, .seq = 1, .ack = 1, .flags = flags,
						  .opts = opts, .opts_len = opts_len, .payload = payload,
						  .payload_len = payload_len});
	l4 = pktbuild_l4_off(ip);
	acc = pktbuild_pseudo(family, ip->src, ip->dst, 6, len - l4);
	while (acc >> 16)
		acc = (acc & 0xffff) + (acc >> 16);
	pktbuild_wr16(buf + l4 + 16, (uint16_t)acc);
	return len;
}

static void
test_for_tcp(void **state)
{
	static uint8_t buf[65535];
	struct pktbuild_ip ip;
	struct vnet_hdr h;
	size_t len;

	(void)state;
	/* IPv4, 64000 bytes at MSS 1460: segmented in 1460s, checksum at 20 + 16. */
	len = tcp_packet(buf, sizeof(buf), 4, 64000, 0, 0x18, &ip);
	assert_int_equal(vnet_hdr_for_tcp(buf, 40, 1460, &h), 0);
	assert_true(h.needs_csum);
	assert_int_equal(h.csum_start, 20);
	assert_int_equal(h.csum_offset, 16);
	assert_int_equal(h.hdr_len, 40);
	assert_int_equal(h.gso, VNET_GSO_TCPV4);
	assert_int_equal(h.gso_size, 1460);
	assert_false(h.gso_ecn);
	assert_int_equal(len, 40 + 64000);

	/* Exactly one MSS: no segmentation. One byte more: segmented. */
	tcp_packet(buf, sizeof(buf), 4, 1460, 0, 0x10, &ip);
	assert_int_equal(vnet_hdr_for_tcp(buf, 40, 1460, &h), 0);
	assert_int_equal(h.gso, VNET_GSO_NONE);
	assert_true(h.needs_csum);
	tcp_packet(buf, sizeof(buf), 4, 1461, 0, 0x10, &ip);
	assert_int_equal(vnet_hdr_for_tcp(buf, 40, 1460, &h), 0);
	assert_int_equal(h.gso, VNET_GSO_TCPV4);

	/* mss 0: never segmented. */
	tcp_packet(buf, sizeof(buf), 4, 64000, 0, 0x10, &ip);
	assert_int_equal(vnet_hdr_for_tcp(buf, 40, 0, &h), 0);
	assert_int_equal(h.gso, VNET_GSO_NONE);

	/* IPv6 with 12 bytes of options and CWR: segments of MSS - 12, ECN flagged. */
	tcp_packet(buf, sizeof(buf), 6, 30000, 12, 0x90, &ip);
	assert_int_equal(vnet_hdr_for_tcp(buf, 72, 1440, &h), 0);
	assert_int_equal(h.csum_start, 40);
	assert_int_equal(h.hdr_len, 72);
	assert_int_equal(h.gso, VNET_GSO_TCPV6);
	assert_int_equal(h.gso_size, 1428);
	assert_true(h.gso_ecn);
}

static void
test_for_tcp_bad(void **state)
{
	uint8_t buf[200];
	struct pktbuild_ip ip;
	struct vnet_hdr h;
	size_t len;

	(void)state;
	tcp_packet(buf, sizeof(buf), 4, 10, 0, 0x10, &ip);
	assert_int_equal(vnet_hdr_for_tcp(buf, 39, 1460, &h), -EINVAL); /* headers cut short */
	assert_int_equal(vnet_hdr_for_tcp(buf, 0, 1460, &h), -EINVAL);
	buf[32] = 0x40; /* data offset 16 bytes: below the minimum */
	assert_int_equal(vnet_hdr_for_tcp(buf, 50, 1460, &h), -EINVAL);
	pktbuild_ip_init(&ip, 4, "198.18.0.1", "198.19.0.10");
	len = pktbuild_udp(buf, sizeof(buf), &ip, &(struct pktbuild_udp){.sport = 1, .dport = 2, .len_field = -1});
	assert_int_equal(vnet_hdr_for_tcp(buf, len, 1460, &h), -EINVAL); /* not TCP */
	pktbuild_ip_init(&ip, 6, "2001:2::1", "2001:2::2");
	len = pktbuild_udp(buf, sizeof(buf), &ip, &(struct pktbuild_udp){.sport = 1, .dport = 2, .len_field = -1});
	assert_int_equal(vnet_hdr_for_tcp(buf, len, 1460, &h), -EINVAL);
	buf[0] = 0x50; /* neither version */
	assert_int_equal(vnet_hdr_for_tcp(buf, len, 1460, &h), -EINVAL);
}

static void
test_complete_csum(void **state)
{
	static uint8_t buf[65535];
	struct pktbuild_ip ip;
	struct vnet_hdr h;
	size_t len, l4;

	(void)state;
	for (int family = 4; family <= 6; family += 2) {
		/* Odd payload length: the last byte is summed as a high byte. */
		len = tcp_packet(buf, sizeof(buf), family, 4001, 4, 0x18, &ip);
		l4 = pktbuild_l4_off(&ip);
		assert_int_equal(vnet_hdr_for_tcp(buf, len, 0, &h), 0);
		assert_int_equal(vnet_hdr_complete_csum(buf, len, &h), 0);
		/* A correct checksum sums, with the pseudo-header, to all ones. */
		assert_int_equal(pktbuild_csum(pktbuild_pseudo(family, ip.src, ip.dst, 6, len - l4), buf + l4, len - l4),
				 0);
	}
	h = (struct vnet_hdr){.needs_csum = true, .csum_start = 20, .csum_offset = 16};
	assert_int_equal(vnet_hdr_complete_csum(buf, 37, &h), -EINVAL);
	h.needs_csum = false;
	assert_int_equal(vnet_hdr_complete_csum(buf, 37, &h), 0); /* nothing to do */
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_roundtrip),   cmocka_unit_test(test_parse_kernel), cmocka_unit_test(test_parse_bad),
		cmocka_unit_test(test_for_tcp),     cmocka_unit_test(test_for_tcp_bad),  cmocka_unit_test(test_complete_csum),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
