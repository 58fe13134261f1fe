/* SPDX-License-Identifier: MIT */
/* Parsing of "sha256:<base64 or hex>" pins; Base64 by OpenSSL's EVP_DecodeBlock. */
#include "tls_pin.h"

#include <errno.h>
#include <string.h>

#include <openssl/evp.h>

static int
hex_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int
tls_pin_parse(const char *text, uint8_t out[TLS_PIN_LEN], const char **why)
{
	uint8_t buf[48];
	const char *v;
	size_t n, i;

	*why = NULL;
	if (text == NULL || strncmp(text, "sha256:", 7) != 0) {
		*why = "expected sha256:<base64 or hex of the SubjectPublicKeyInfo's SHA-256>";
		return -EINVAL;
	}
	v = text + 7;
	n = strlen(v);
	if (n == 2 * TLS_PIN_LEN) {
		for (i = 0; i < TLS_PIN_LEN; i++) {
			int hi = hex_value(v[2 * i]), lo = hex_value(v[2 * i + 1]);

			if (hi < 0 || lo < 0) {
				*why = "bad hex digit in the pin";
				return -EINVAL;
			}
			out[i] = (uint8_t)(hi << 4 | lo);
		}
		return 0;
	}
	/* 32 bytes are 44 Base64 characters, the last one '='. */
	if (n != 44 || v[43] != '=' || v[42] == '=' || strspn(v, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
							  "0123456789+/") != 43) {
		*why = "a SHA-256 pin is 64 hex digits or 44 Base64 characters";
		return -EINVAL;
	}
	if (EVP_DecodeBlock(buf, (const unsigned char *)v, 44) != 33) {
		*why = "bad Base64 in the pin";
		return -EINVAL;
	}
	memcpy(out, buf, TLS_PIN_LEN);
	return 0;
}
