/* SPDX-License-Identifier: MIT */
/*
 * --proxy-pin: "sha256:" and the SHA-256 of the proxy certificate's SubjectPublicKeyInfo
 * (DER), in Base64 (as HPKP's pin-sha256 and curl's --pinnedpubkey) or hex. Pure.
 */
#ifndef T2S_REDIRECT_TLS_PIN_H
#define T2S_REDIRECT_TLS_PIN_H

#include <stdint.h>

#define TLS_PIN_LEN 32

/* Returns 0 with the digest in out, or -EINVAL with a static reason in *why. */
int tls_pin_parse(const char *text, uint8_t out[TLS_PIN_LEN], const char **why);

#endif
