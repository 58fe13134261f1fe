/* SPDX-License-Identifier: MIT */
/*
 * The capture state record parser (capture_record_parse): a record is read back from
 * /run/tun2socks after a crash, so whatever is in the file must be refused or give a
 * plan. Invariant: a plan that parses formats into a record that parses into the same
 * plan (compared through its own formatting).
 */
#include <string.h>

#include "capture.h"
#include "fuzz.h"

static char text[16384], again[65536], third[65536];
static struct capture_plan plan, plan2;

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct capture_owner owner, owner2;
	int n, m;

	if (size >= sizeof(text))
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	if (capture_record_parse(text, &plan, &owner) < 0)
		return 0;
	FUZZ_CHECK(plan.n <= CAPTURE_MAX_OPS);
	n = capture_record_format(&plan, &owner, again, sizeof(again));
	FUZZ_CHECK(n >= 0);
	FUZZ_CHECK(capture_record_parse(again, &plan2, &owner2) == 0);
	FUZZ_CHECK(owner2.pid == owner.pid && owner2.start == owner.start && plan2.n == plan.n);
	m = capture_record_format(&plan2, &owner2, third, sizeof(third));
	FUZZ_CHECK(m == n && memcmp(again, third, (size_t)n) == 0);
	return 0;
}
