/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for dns_msg.c, which reads whatever any local process sends to the
 * fake DNS server: a query is either refused or described consistently, every answer
 * built from it (address, NODATA, error) parses back as a response with the same ID and
 * question, refused queries get a valid header-only error, and the response parser
 * survives the same bytes.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dns_msg.h"
#include "fuzz.h"

static const uint8_t ADDR[16] = {0xfd, 0x77, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 7};

static void
check_name(const char *name)
{
	size_t len = strlen(name);

	FUZZ_CHECK(len <= DNS_MSG_NAME_MAX);
	if (len == 0)
		return;
	FUZZ_CHECK(name[0] != '.' && name[len - 1] != '.' && strstr(name, "..") == NULL);
	for (size_t i = 0; i < len; i++)
		FUZZ_CHECK(name[i] >= 0x21 && name[i] <= 0x7e && !(name[i] >= 'A' && name[i] <= 'Z'));
}

/* out[0..n) must be a response to q. */
static void
check_response(const struct dns_query *q, const uint8_t *out, int n, int rcode, int family)
{
	struct dns_response r;

	FUZZ_CHECK(n > 0 && n <= DNS_MSG_ANSWER_MAX);
	FUZZ_CHECK(dns_msg_parse_response(out, (size_t)n, &r) == 0);
	FUZZ_CHECK(r.id == q->id && r.rcode == rcode && r.rd == q->rd && r.cd == q->cd && r.ra);
	FUZZ_CHECK(r.qdcount == 1 && r.qtype == q->qtype && r.qclass == q->qclass);
	FUZZ_CHECK(strcmp(r.name, q->name) == 0);
	FUZZ_CHECK(r.edns == q->edns && (!r.edns || r.udp_size == DNS_MSG_EDNS_UDP_SIZE));
	FUZZ_CHECK(r.addr_family == family && r.ancount == (family != 0));
	if (family != 0)
		FUZZ_CHECK(memcmp(r.addr, ADDR, family == 4 ? 4 : 16) == 0 && r.addr_ttl == 60);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct dns_query q;
	struct dns_response r;
	uint8_t out[DNS_MSG_ANSWER_MAX], *copy;
	int ret, n, family = 0;

	copy = malloc(size ? size : 1); /* exact size, so ASan sees any overread */
	if (copy == NULL)
		return 0;
	memcpy(copy, data, size);

	ret = dns_msg_parse_query(copy, size, &q);
	if (ret == 0) {
		FUZZ_CHECK(size >= DNS_MSG_HEADER_LEN && !(copy[2] & 0x80));
		FUZZ_CHECK(q.question_off == DNS_MSG_HEADER_LEN && q.question_len >= 5);
		FUZZ_CHECK((size_t)q.question_off + q.question_len <= size);
		FUZZ_CHECK(q.udp_size >= 512 && (q.edns || q.udp_size == 512));
		check_name(q.name);

		if (q.qclass == DNS_MSG_CLASS_IN && q.qtype == DNS_MSG_TYPE_A)
			family = 4;
		else if (q.qclass == DNS_MSG_CLASS_IN && q.qtype == DNS_MSG_TYPE_AAAA)
			family = 6;
		n = dns_msg_build_answer(&q, copy, family ? ADDR : NULL, family, 60, out, sizeof(out));
		check_response(&q, out, n, DNS_MSG_RCODE_NOERROR, family);
		if (family != 0)
			FUZZ_CHECK(dns_msg_build_answer(&q, copy, ADDR, 10 - family, 60, out, sizeof(out)) ==
				   -EINVAL);
		n = dns_msg_build_answer(&q, copy, NULL, 0, 60, out, sizeof(out));
		check_response(&q, out, n, DNS_MSG_RCODE_NOERROR, 0);
		n = dns_msg_build_error(&q, copy, DNS_MSG_RCODE_SERVFAIL, out, sizeof(out));
		check_response(&q, out, n, DNS_MSG_RCODE_SERVFAIL, 0);
		FUZZ_CHECK(dns_msg_build_error(&q, copy, DNS_MSG_RCODE_SERVFAIL, out, (size_t)n - 1) == -ENOSPC);
	} else {
		FUZZ_CHECK(ret == -EBADMSG || ret == -ENOTSUP);
		n = dns_msg_build_error_header(copy, size, DNS_MSG_RCODE_FORMERR, out, sizeof(out));
		if (size >= DNS_MSG_HEADER_LEN && !(copy[2] & 0x80)) {
			FUZZ_CHECK(n == DNS_MSG_HEADER_LEN);
			FUZZ_CHECK(dns_msg_parse_response(out, (size_t)n, &r) == 0);
			FUZZ_CHECK(r.id == (copy[0] << 8 | copy[1]) && r.rcode == DNS_MSG_RCODE_FORMERR);
			FUZZ_CHECK(r.qdcount == 0 && r.ancount == 0 && r.nscount == 0 && r.arcount == 0);
		} else {
			FUZZ_CHECK(n == -EBADMSG);
		}
	}

	ret = dns_msg_parse_response(copy, size, &r);
	FUZZ_CHECK(ret == 0 || ret == -EBADMSG || ret == -ENOTSUP);
	if (ret == 0) {
		FUZZ_CHECK(r.qdcount <= 1 && (r.addr_family == 0 || r.addr_family == 4 || r.addr_family == 6));
		FUZZ_CHECK(r.addr_family == 0 || r.ancount > 0);
		check_name(r.name);
	}
	free(copy);
	return 0;
}
