/* SPDX-License-Identifier: MIT */
/*
 * The Internet checksum (RFC 1071) for lwIP, LWIP_CHKSUM. lwIP's portable version adds
 * 16 bits at a time and showed up as the largest single cost of sending data; this one
 * adds 32-bit words into a 64-bit accumulator (no carry handling needed for any length
 * lwIP passes), which compilers unroll and vectorise.
 */
#include <stdint.h>
#include <string.h>

#include "lwipopts.h"

uint16_t
lwip_port_chksum(const void *dataptr, int len)
{
	const uint8_t *p = dataptr;
	uint64_t sum = 0;
	uint32_t w;
	uint16_t h;

	/* Words are loaded in host order; the one's complement sum of host-order words
	 * is the host-order view of the network-order sum (RFC 1071 section 2(B)), which
	 * is exactly what lwIP expects back. */
	for (; len >= 32; p += 32, len -= 32) {
		for (int i = 0; i < 32; i += 4) {
			memcpy(&w, p + i, 4);
			sum += w;
		}
	}
	for (; len >= 4; p += 4, len -= 4) {
		memcpy(&w, p, 4);
		sum += w;
	}
	if (len >= 2) {
		memcpy(&h, p, 2);
		sum += h;
		p += 2;
		len -= 2;
	}
	if (len == 1) {
		h = 0;
		memcpy(&h, p, 1); /* the odd byte is the first byte of a zero-padded word */
		sum += h;
	}
	sum = (sum & 0xffffffffu) + (sum >> 32);
	sum = (sum & 0xffffffffu) + (sum >> 32);
	sum = (sum & 0xffffu) + (sum >> 16);
	sum = (sum & 0xffffu) + (sum >> 16);
	return (uint16_t)sum;
}
