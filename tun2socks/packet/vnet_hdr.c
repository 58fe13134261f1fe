/* SPDX-License-Identifier: MIT */
#include "vnet_hdr.h"

#include <errno.h>
#include <string.h>

#include <linux/virtio_net.h>

_Static_assert(sizeof(struct virtio_net_hdr) == VNET_HDR_LEN, "virtio_net_hdr layout");

#define IPPROTO_TCP_NUM 6
#define TCP_HLEN_MIN 20

int
vnet_hdr_parse(const uint8_t *b, size_t len, struct vnet_hdr *h)
{
	struct virtio_net_hdr v;
	uint8_t type;

	if (len < VNET_HDR_LEN)
		return -EINVAL;
	memcpy(&v, b, sizeof(v));
	if (v.flags & ~(VIRTIO_NET_HDR_F_NEEDS_CSUM | VIRTIO_NET_HDR_F_DATA_VALID))
		return -EINVAL;
	memset(h, 0, sizeof(*h));
	h->needs_csum = (v.flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) != 0;
	h->data_valid = (v.flags & VIRTIO_NET_HDR_F_DATA_VALID) != 0;
	h->gso_ecn = (v.gso_type & VIRTIO_NET_HDR_GSO_ECN) != 0;
	type = v.gso_type & (uint8_t)~VIRTIO_NET_HDR_GSO_ECN;
	switch (type) {
	case VIRTIO_NET_HDR_GSO_NONE:
		h->gso = VNET_GSO_NONE;
		break;
	case VIRTIO_NET_HDR_GSO_TCPV4:
		h->gso = VNET_GSO_TCPV4;
		break;
	case VIRTIO_NET_HDR_GSO_TCPV6:
		h->gso = VNET_GSO_TCPV6;
		break;
	case VIRTIO_NET_HDR_GSO_UDP:
#ifdef VIRTIO_NET_HDR_GSO_UDP_L4
	case VIRTIO_NET_HDR_GSO_UDP_L4:
#endif
		h->gso = VNET_GSO_UDP;
		break;
	default:
		return -EINVAL;
	}
	if (h->gso != VNET_GSO_NONE && v.gso_size == 0)
		return -EINVAL;
	h->hdr_len = v.hdr_len;
	h->gso_size = v.gso_size;
	h->csum_start = v.csum_start;
	h->csum_offset = v.csum_offset;
	return 0;
}

void
vnet_hdr_build(uint8_t *b, const struct vnet_hdr *h)
{
	struct virtio_net_hdr v = {0};

	if (h->needs_csum)
		v.flags |= VIRTIO_NET_HDR_F_NEEDS_CSUM;
	if (h->data_valid)
		v.flags |= VIRTIO_NET_HDR_F_DATA_VALID;
	switch (h->gso) {
	case VNET_GSO_TCPV4:
		v.gso_type = VIRTIO_NET_HDR_GSO_TCPV4;
		break;
	case VNET_GSO_TCPV6:
		v.gso_type = VIRTIO_NET_HDR_GSO_TCPV6;
		break;
	case VNET_GSO_UDP:
		v.gso_type = VIRTIO_NET_HDR_GSO_UDP;
		break;
	case VNET_GSO_NONE:
		break;
	}
	if (h->gso != VNET_GSO_NONE && h->gso_ecn)
		v.gso_type |= VIRTIO_NET_HDR_GSO_ECN;
	v.hdr_len = h->hdr_len;
	v.gso_size = h->gso != VNET_GSO_NONE ? h->gso_size : 0;
	v.csum_start = h->needs_csum ? h->csum_start : 0;
	v.csum_offset = h->needs_csum ? h->csum_offset : 0;
	memcpy(b, &v, sizeof(v));
}

int
vnet_hdr_for_tcp(const uint8_t *pkt, size_t avail, unsigned mss, struct vnet_hdr *h)
{
	unsigned ihl, tot, thl, payload, seg;
	bool v6;

	if (avail < 1)
		return -EINVAL;
	v6 = pkt[0] >> 4 == 6;
	if (v6) {
		ihl = 40;
		if (avail < ihl || pkt[6] != IPPROTO_TCP_NUM)
			return -EINVAL;
		tot = ihl + (unsigned)(pkt[4] << 8 | pkt[5]);
	} else if (pkt[0] >> 4 == 4) {
		ihl = (unsigned)(pkt[0] & 0x0f) * 4;
		if (ihl < 20 || avail < ihl || pkt[9] != IPPROTO_TCP_NUM)
			return -EINVAL;
		tot = (unsigned)(pkt[2] << 8 | pkt[3]);
	} else {
		return -EINVAL;
	}
	if (avail < ihl + TCP_HLEN_MIN)
		return -EINVAL;
	thl = (unsigned)(pkt[ihl + 12] >> 4) * 4;
	if (thl < TCP_HLEN_MIN || avail < ihl + thl || tot < ihl + thl)
		return -EINVAL;
	memset(h, 0, sizeof(*h));
	h->needs_csum = true;
	h->csum_start = (uint16_t)ihl;
	h->csum_offset = 16;
	h->hdr_len = (uint16_t)(ihl + thl);
	payload = tot - ihl - thl;
	/* The MSS counts the payload of a segment without options; every segment the
	 * kernel cuts carries a copy of these. */
	seg = mss > thl - TCP_HLEN_MIN ? mss - (thl - TCP_HLEN_MIN) : 0;
	if (seg > 0 && payload > seg) {
		h->gso = v6 ? VNET_GSO_TCPV6 : VNET_GSO_TCPV4;
		h->gso_size = (uint16_t)seg;
		/* CWR must be on the first segment only: the kernel needs to know. */
		h->gso_ecn = (pkt[ihl + 13] & 0x80) != 0;
	}
	return 0;
}

int
vnet_hdr_complete_csum(uint8_t *pkt, size_t len, const struct vnet_hdr *h)
{
	uint32_t acc = 0;
	size_t at;

	if (!h->needs_csum)
		return 0;
	at = (size_t)h->csum_start + h->csum_offset;
	if (h->csum_start > len || at + 2 > len)
		return -EINVAL;
	for (size_t i = h->csum_start; i < len; i += 2)
		acc += (uint32_t)(pkt[i] << 8 | (i + 1 < len ? pkt[i + 1] : 0));
	while (acc >> 16)
		acc = (acc & 0xffff) + (acc >> 16);
	acc = ~acc & 0xffff;
	pkt[at] = (uint8_t)(acc >> 8);
	pkt[at + 1] = (uint8_t)acc;
	return 0;
}
