/* SPDX-License-Identifier: MIT */
/* Unit tests for --proxy-pin parsing: Base64 and hex forms, and every refusal. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "tls_pin.h"

/* SHA-256 of "abc" (FIPS 180-2), as a stand-in digest. */
static const uint8_t abc[TLS_PIN_LEN] = {
	0xba, 0x78, 0x16, 0xbf, 0x8f, 0x01, 0xcf, 0xea, 0x41, 0x41, 0x40, 0xde, 0x5d, 0xae, 0x22, 0x23,
	0xb0, 0x03, 0x61, 0xa3, 0x96, 0x17, 0x7a, 0x9c, 0xb4, 0x10, 0xff, 0x61, 0xf2, 0x00, 0x15, 0xad,
};

static void
test_forms(void **state)
{
	uint8_t out[TLS_PIN_LEN];
	const char *why = "unset";

	(void)state;
	assert_int_equal(tls_pin_parse("sha256:ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0=", out, &why), 0);
	assert_null(why);
	assert_memory_equal(out, abc, sizeof(abc));
	memset(out, 0, sizeof(out));
	assert_int_equal(tls_pin_parse("sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
				       out, &why), 0);
	assert_memory_equal(out, abc, sizeof(abc));
	assert_int_equal(tls_pin_parse("sha256:BA7816BF8F01CFEA414140DE5DAE2223B00361A396177A9CB410FF61F20015AD",
				       out, &why), 0);
	assert_memory_equal(out, abc, sizeof(abc));
}

static void
bad(const char *text, const char *why_part)
{
	uint8_t out[TLS_PIN_LEN];
	const char *why = NULL;

	if (tls_pin_parse(text, out, &why) != -EINVAL)
		fail_msg("accepted \"%s\"", text ? text : "(null)");
	assert_non_null(why);
	if (strstr(why, why_part) == NULL)
		fail_msg("\"%s\": reason \"%s\" lacks \"%s\"", text ? text : "(null)", why, why_part);
}

static void
test_bad(void **state)
{
	(void)state;
	bad(NULL, "sha256:");
	bad("", "sha256:");
	bad("sha1:ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0=", "sha256:");
	bad("ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0=", "sha256:");
	bad("sha256:", "64 hex digits or 44 Base64");
	bad("sha256:ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0", "44 Base64");  /* no padding */
	bad("sha256:ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa==", "44 Base64"); /* 31 bytes */
	bad("sha256:ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIA a0=", "44 Base64");
	bad("sha256:ungWv48Bz-pBQUDeXa4iI7ADYaOWF3qctBD_YfIAFa0=", "44 Base64"); /* base64url */
	bad("sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ag", "hex digit");
	bad("sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015a", "64 hex digits");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_forms),
		cmocka_unit_test(test_bad),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
