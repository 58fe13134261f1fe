/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for the --config parser (cli/conf_file.c): any bytes either parse
 * or fail with "line N: ..."; every entry's name is [a-z0-9-]+, its line within the
 * input, and its value within one line.
 */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "conf_file.h"
#include "fuzz.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct conf_file *f;
	char msg[256];
	unsigned lines = 1, last = 0;
	int r;

	for (size_t i = 0; i < size; i++)
		lines += data[i] == '\n';
	r = conf_file_parse((const char *)data, size, &f, msg, sizeof(msg));
	if (r < 0) {
		FUZZ_CHECK(r == -EINVAL || r == -ENOMEM);
		FUZZ_CHECK(f == NULL);
		FUZZ_CHECK(size > CONF_FILE_MAX_BYTES || strncmp(msg, "line ", 5) == 0);
		return 0;
	}
	for (size_t i = 0; i < conf_file_count(f); i++) {
		const struct conf_entry *e = conf_file_entry(f, i);

		FUZZ_CHECK(e->line > last && e->line <= lines);
		last = e->line;
		FUZZ_CHECK(e->name[0] != '\0' && strspn(e->name, "abcdefghijklmnopqrstuvwxyz0123456789-") == strlen(e->name));
		FUZZ_CHECK(e->value == NULL || (strchr(e->value, '\n') == NULL && strlen(e->value) <= CONF_FILE_LINE_MAX));
	}
	conf_file_free(f);
	return 0;
}
