/* SPDX-License-Identifier: MIT */
/* What every libFuzzer target here shares: the entry point and a check that aborts. */
#ifndef T2S_TESTS_FUZZ_FUZZ_H
#define T2S_TESTS_FUZZ_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

/* An invariant of the code under test; abort() so libFuzzer keeps the input. */
#define FUZZ_CHECK(x) \
	do { \
		if (!(x)) \
			abort(); \
	} while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#endif
