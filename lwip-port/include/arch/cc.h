/* SPDX-License-Identifier: MIT */
/*
 * Compiler and platform glue for lwIP on Linux (glibc or musl, little or big endian).
 * Diagnostics and assertions go to the hook registered with lwip_port_init().
 */
#ifndef T2S_LWIP_PORT_ARCH_CC_H
#define T2S_LWIP_PORT_ARCH_CC_H

#include <endian.h>
#include <stdint.h>

/* <endian.h> defines BYTE_ORDER, LITTLE_ENDIAN and BIG_ENDIAN as lwIP expects them;
 * without it lwIP would silently assume little endian. */
#ifndef BYTE_ORDER
#error "<endian.h> did not define BYTE_ORDER"
#endif

#define LWIP_TIMEVAL_PRIVATE 0
#define LWIP_ERRNO_STDINCLUDE 1
#define LWIP_NO_CTYPE_H 0

/* Byte swaps as compiler builtins; lwIP's own htons/ntohs macros would clash with
 * <arpa/inet.h> in files that include both. */
#define LWIP_DONT_PROVIDE_BYTEORDER_FUNCTIONS 1
#if BYTE_ORDER == LITTLE_ENDIAN
#define lwip_htons(x) ((u16_t)__builtin_bswap16((u16_t)(x)))
#define lwip_htonl(x) ((u32_t)__builtin_bswap32((u32_t)(x)))
#else
#define lwip_htons(x) ((u16_t)(x))
#define lwip_htonl(x) ((u32_t)(x))
#endif

void lwip_port_diag(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void lwip_port_assert(const char *msg, const char *file, int line) __attribute__((noreturn));
uint32_t lwip_port_rand(void);

#define LWIP_PLATFORM_DIAG(x) \
	do { \
		lwip_port_diag x; \
	} while (0)
#define LWIP_PLATFORM_ASSERT(x) lwip_port_assert((x), __FILE__, __LINE__)
#define LWIP_RAND() (lwip_port_rand())

#endif
