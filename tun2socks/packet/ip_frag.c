/* SPDX-License-Identifier: MIT */
/*
 * Splits one packet into fragments: a fresh IP header per fragment, and the data as
 * slices of the caller's buffers (the fragmentable part is the rest of hdr followed by
 * payload).
 */
#include "ip_frag.h"

#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include "packet.h"
#include "wire.h"

#define IPV4_HLEN 20
#define IPV6_HLEN 40
#define FRAG_HLEN 8

int
ip_frag_split(const uint8_t *hdr, size_t hdr_len, const uint8_t *payload, size_t len, unsigned mtu, uint32_t id,
	      int (*emit)(void *ctx, const struct iovec *iov, int iovcnt), void *ctx)
{
	uint8_t fh[IPV6_HLEN + FRAG_HLEN];
	struct iovec iov[IP_FRAG_IOV_MAX];
	const uint8_t *rest;
	size_t ip_hlen, frag_hlen, rest_len, data_len, chunk, off;
	int family, n = 0, err;

	if (hdr_len < IPV4_HLEN)
		return -EINVAL;
	family = hdr[0] >> 4;
	if (family == 4 && hdr[0] == 0x45)
		ip_hlen = IPV4_HLEN;
	else if (family == 6 && hdr_len >= IPV6_HLEN && hdr[6] != 0 && hdr[6] != 43 && hdr[6] != 44 && hdr[6] != 60)
		ip_hlen = IPV6_HLEN;
	else
		return -EINVAL;
	rest = hdr + ip_hlen;
	rest_len = hdr_len - ip_hlen;
	data_len = rest_len + len;
	if (ip_hlen + data_len <= mtu) {
		iov[0] = (struct iovec){(void *)hdr, hdr_len};
		iov[1] = (struct iovec){(void *)payload, len};
		err = emit(ctx, iov, len > 0 ? 2 : 1);
		return err < 0 ? err : 1;
	}
	/* Every fragment but the last carries a multiple of 8 bytes (offsets count 8s). */
	frag_hlen = family == 4 ? IPV4_HLEN : IPV6_HLEN + FRAG_HLEN;
	if (mtu < frag_hlen + 8)
		return -EMSGSIZE;
	chunk = (mtu - frag_hlen) & ~(size_t)7;
	if (data_len > 65535 || (family == 4 && IPV4_HLEN + data_len > 65535))
		return -EMSGSIZE;
	for (off = 0; off < data_len; off += chunk) {
		size_t end = off + chunk < data_len ? off + chunk : data_len;
		bool more = end < data_len;
		int cnt = 1;

		if (family == 4) {
			memcpy(fh, hdr, IPV4_HLEN);
			wire_wr16(fh + 2, (uint16_t)(IPV4_HLEN + end - off));
			wire_wr16(fh + 4, (uint16_t)id);
			/* DF cleared: these are fragments now. */
			wire_wr16(fh + 6, (uint16_t)((more ? 0x2000 : 0) | off / 8));
			wire_wr16(fh + 10, 0);
			wire_wr16(fh + 10, packet_fold(packet_sum(0, fh, IPV4_HLEN)));
			iov[0] = (struct iovec){fh, IPV4_HLEN};
		} else {
			uint8_t *frag = fh + IPV6_HLEN;

			memcpy(fh, hdr, IPV6_HLEN);
			wire_wr16(fh + 4, (uint16_t)(FRAG_HLEN + end - off));
			fh[6] = 44;
			frag[0] = hdr[6];
			frag[1] = 0;
			wire_wr16(frag + 2, (uint16_t)(off | (more ? 1 : 0)));
			wire_wr32(frag + 4, id);
			iov[0] = (struct iovec){fh, IPV6_HLEN + FRAG_HLEN};
		}
		if (off < rest_len)
			iov[cnt++] = (struct iovec){(void *)(rest + off), (end < rest_len ? end : rest_len) - off};
		if (end > rest_len) {
			size_t from = off > rest_len ? off - rest_len : 0;

			iov[cnt++] = (struct iovec){(void *)(payload + from), end - rest_len - from};
		}
		err = emit(ctx, iov, cnt);
		if (err < 0)
			return err;
		n++;
	}
	return n;
}

int
ip_frag_udp(int family, const uint8_t *src, uint16_t sport, const uint8_t *dst, uint16_t dport,
	    const uint8_t *payload, size_t len, unsigned mtu, uint32_t *id,
	    int (*emit)(void *ctx, const struct iovec *iov, int iovcnt), void *ctx)
{
	uint8_t hdr[48];
	int hl = packet_build_udp_header(family, src, sport, dst, dport, payload, len, hdr, sizeof(hdr));

	if (hl < 0)
		return hl;
	if ((size_t)hl + len > mtu)
		(*id)++;
	return ip_frag_split(hdr, (size_t)hl, payload, len, mtu, *id, emit, ctx);
}
