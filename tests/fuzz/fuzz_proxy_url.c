/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for the text parsers: proxy_url_parse and endpoint_parse on
 * NUL-terminated input, with format-and-reparse round trips on success.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proxy_url.h"
#include "fuzz.h"

static void
fuzz_proxy_url(const char *text)
{
	char buf[1200];
	struct proxy_url url, again;
	const char *why = NULL;
	int r;

	r = proxy_url_parse(&url, text, &why);
	if (r < 0) {
		FUZZ_CHECK(r == -EINVAL && why != NULL);
		return;
	}
	FUZZ_CHECK(r == 0 && why == NULL);
	FUZZ_CHECK(url.server.type != T2S_ENDPOINT_NONE && url.server.port != 0);
	FUZZ_CHECK(strlen(url.user) <= PROXY_URL_CRED_MAX && strlen(url.pass) <= PROXY_URL_CRED_MAX);
	FUZZ_CHECK(!url.has_credentials || url.user[0] != '\0');

	/* The redacted form is itself a valid URL naming the same server and user. */
	proxy_url_format_redacted(&url, buf, sizeof(buf));
	FUZZ_CHECK(strlen(buf) < sizeof(buf) - 1);
	FUZZ_CHECK(proxy_url_parse(&again, buf, &why) == 0);
	FUZZ_CHECK(endpoint_equal(&url.server, &again.server));
	FUZZ_CHECK(again.has_credentials == url.has_credentials);
	FUZZ_CHECK(strcmp(again.user, url.user) == 0 && again.pass[0] == '\0');
}

static void
fuzz_endpoint(const char *text, int default_port)
{
	char buf[T2S_ENDPOINT_STRLEN];
	struct t2s_endpoint ep, again;

	if (endpoint_parse(&ep, text, default_port) < 0)
		return;
	FUZZ_CHECK(ep.type != T2S_ENDPOINT_NONE);
	FUZZ_CHECK(ep.type != T2S_ENDPOINT_DOMAIN || strlen(ep.u.domain.name) == ep.u.domain.len);
	endpoint_format(&ep, buf, sizeof(buf));
	FUZZ_CHECK(strlen(buf) < sizeof(buf));
	FUZZ_CHECK(endpoint_parse(&again, buf, -1) == 0);
	FUZZ_CHECK(endpoint_equal(&ep, &again));
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = malloc(size + 1);

	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	fuzz_proxy_url(text);
	fuzz_endpoint(text, -1);
	fuzz_endpoint(text, 1080);
	free(text);
	return 0;
}
