/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for dns_stub.c's pure part: the bytes of the REFUSED answer the command's
 * nameserver gives (with and without EDNS), the header-only answers to queries it does
 * not parse, and the responses it must never answer.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "dns_msg.h"
#include "dns_stub.h"

/* www.e2e.test A IN, ID 0xa1b2, RD: what glibc's resolver sends. */
static const uint8_t Q_A[] = {
	0xa1, 0xb2, 0x01, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	3, 'w', 'w', 'w', 3, 'e', '2', 'e', 4, 't', 'e', 's', 't', 0,
	0x00, 0x01, 0x00, 0x01,
};

/* The same name, MX, ID 0x0102, RD and AD, with an OPT record (UDP 1232, DO) as dig sends. */
static const uint8_t Q_MX_EDNS[] = {
	0x01, 0x02, 0x01, 0x20, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01,
	3, 'w', 'w', 'w', 3, 'e', '2', 'e', 4, 't', 'e', 's', 't', 0,
	0x00, 0x0f, 0x00, 0x01,
	0x00, 0x00, 0x29, 0x04, 0xd0, 0x00, 0x00, 0x80, 0x00, 0x00, 0x00,
};

static void
test_refused_plain(void **state)
{
	/* QR, opcode 0, RD copied; RA; rcode 5; the question echoed; nothing else. */
	static const uint8_t want[] = {
		0xa1, 0xb2, 0x81, 0x85, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
		3, 'w', 'w', 'w', 3, 'e', '2', 'e', 4, 't', 'e', 's', 't', 0,
		0x00, 0x01, 0x00, 0x01,
	};
	uint8_t out[DNS_MSG_ANSWER_MAX];

	(void)state;
	assert_int_equal(dns_stub_refusal(Q_A, sizeof(Q_A), out, sizeof(out)), sizeof(want));
	assert_memory_equal(out, want, sizeof(want));
}

static void
test_refused_edns(void **state)
{
	/* Our OPT: UDP 1232, DO copied, no options. */
	static const uint8_t want[] = {
		0x01, 0x02, 0x81, 0x85, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01,
		3, 'w', 'w', 'w', 3, 'e', '2', 'e', 4, 't', 'e', 's', 't', 0,
		0x00, 0x0f, 0x00, 0x01,
		0x00, 0x00, 0x29, 0x04, 0xd0, 0x00, 0x00, 0x80, 0x00, 0x00, 0x00,
	};
	uint8_t out[DNS_MSG_ANSWER_MAX];
	struct dns_response r;
	int n;

	(void)state;
	n = dns_stub_refusal(Q_MX_EDNS, sizeof(Q_MX_EDNS), out, sizeof(out));
	assert_int_equal(n, sizeof(want));
	assert_memory_equal(out, want, sizeof(want));
	assert_int_equal(dns_msg_parse_response(out, (size_t)n, &r), 0);
	assert_int_equal(r.rcode, DNS_MSG_RCODE_REFUSED);
	assert_string_equal(r.name, "www.e2e.test");
	assert_int_equal(r.qtype, 15);
}

static void
test_header_only(void **state)
{
	/* two questions: not parsed as ours, answered REFUSED with the header alone */
	static const uint8_t want_refused[] = {0x77, 0x01, 0x81, 0x85, 0, 0, 0, 0, 0, 0, 0, 0};
	/* a question cut short: FORMERR */
	static const uint8_t want_formerr[] = {0xa1, 0xb2, 0x81, 0x81, 0, 0, 0, 0, 0, 0, 0, 0};
	uint8_t msg[sizeof(Q_A)], out[DNS_MSG_ANSWER_MAX];

	(void)state;
	memcpy(msg, Q_A, sizeof(msg));
	msg[0] = 0x77;
	msg[1] = 0x01;
	msg[5] = 2;
	assert_int_equal(dns_stub_refusal(msg, sizeof(msg), out, sizeof(out)), 12);
	assert_memory_equal(out, want_refused, sizeof(want_refused));
	assert_int_equal(dns_stub_refusal(Q_A, sizeof(Q_A) - 3, out, sizeof(out)), 12);
	assert_memory_equal(out, want_formerr, sizeof(want_formerr));
}

static void
test_never_answered(void **state)
{
	uint8_t msg[sizeof(Q_A)], out[DNS_MSG_ANSWER_MAX];

	(void)state;
	/* a response (QR=1): answering could loop between two resolvers */
	memcpy(msg, Q_A, sizeof(msg));
	msg[2] |= 0x80;
	assert_int_equal(dns_stub_refusal(msg, sizeof(msg), out, sizeof(out)), -EBADMSG);
	/* shorter than a header */
	assert_int_equal(dns_stub_refusal(Q_A, 11, out, sizeof(out)), -EBADMSG);
	assert_int_equal(dns_stub_refusal(Q_A, 0, out, sizeof(out)), -EBADMSG);
	/* no room */
	assert_int_equal(dns_stub_refusal(Q_A, sizeof(Q_A), out, sizeof(Q_A) - 1), -ENOSPC);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_refused_plain),
		cmocka_unit_test(test_refused_edns),
		cmocka_unit_test(test_header_only),
		cmocka_unit_test(test_never_answered),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
