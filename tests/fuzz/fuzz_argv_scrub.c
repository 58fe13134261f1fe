/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for argv_scrub_passwords: it only ever turns bytes into '*' and
 * keeps the length, and it agrees with proxy_url_parse on where the password is: a URL
 * the parser accepts with a password is scrubbed, and then parses to the same server
 * and user with a password of stars only (or is too long: escapes are masked byte for
 * byte).
 */
#include <string.h>

#include "argv_scrub.h"
#include "fuzz.h"
#include "proxy_url.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char text[1100], orig[1100];
	char *argv[3] = {"tun2socks", text, NULL};
	struct proxy_url before, after;
	const char *why;
	int n;

	if (size >= sizeof(text))
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	memcpy(orig, text, size + 1);
	n = argv_scrub_passwords(2, argv);
	FUZZ_CHECK(n == 0 || n == 1);
	FUZZ_CHECK(strlen(text) == strlen(orig));
	for (size_t i = 0; i < size; i++)
		FUZZ_CHECK(text[i] == orig[i] || text[i] == '*');
	FUZZ_CHECK(n == 1 || strcmp(text, orig) == 0);

	if (proxy_url_parse(&before, orig, &why) < 0 || !before.has_credentials || before.pass[0] == '\0')
		return 0;
	FUZZ_CHECK(n == 1);
	if (proxy_url_parse(&after, text, &why) < 0) {
		/* "%41" decodes to one byte but is masked as three stars. */
		FUZZ_CHECK(strstr(why, "longer than") != NULL);
		return 0;
	}
	FUZZ_CHECK(endpoint_equal(&before.server, &after.server));
	FUZZ_CHECK(strcmp(before.user, after.user) == 0);
	FUZZ_CHECK(after.pass[0] != '\0' && strspn(after.pass, "*") == strlen(after.pass));
	return 0;
}
