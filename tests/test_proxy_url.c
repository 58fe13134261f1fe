/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for proxy URL parsing: schemes, credentials with percent-encoding, host
 * forms, default port, every error with its reason, and redacted formatting.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "proxy_url.h"

static void
parse_ok(const char *text, struct proxy_url *url)
{
	const char *why = "unset";
	int r = proxy_url_parse(url, text, &why);

	if (r != 0)
		fail_msg("rejected \"%s\": %s", text, why ? why : "(null)");
	assert_null(why);
}

/* Checks the failure, that *why names the expected reason, and that nothing is left in url. */
static void
parse_bad(const char *text, const char *why_part)
{
	static const struct proxy_url zero;
	struct proxy_url url;
	const char *why = NULL;
	int r;

	memset(&url, 0xa5, sizeof(url));
	r = proxy_url_parse(&url, text, &why);
	if (r != -EINVAL)
		fail_msg("accepted \"%s\" (%d)", text ? text : "(null)", r);
	if (!why)
		fail_msg("no reason for \"%s\"", text ? text : "(null)");
	if (!strstr(why, why_part))
		fail_msg("\"%s\": reason \"%s\" lacks \"%s\"", text ? text : "(null)", why, why_part);
	assert_memory_equal(&url, &zero, sizeof(url));
}

static void
assert_server(const struct proxy_url *url, const char *want)
{
	char buf[T2S_ENDPOINT_STRLEN];

	endpoint_format(&url->server, buf, sizeof(buf));
	assert_string_equal(buf, want);
}

static void
test_plain(void **state)
{
	struct proxy_url url;

	(void)state;
	parse_ok("socks5://127.0.0.1:1080", &url);
	assert_int_equal(url.server.type, T2S_ENDPOINT_IPV4);
	assert_server(&url, "127.0.0.1:1080");
	assert_int_equal(url.has_credentials, 0);
	assert_string_equal(url.user, "");
	assert_string_equal(url.pass, "");

	parse_ok("socks5://192.0.2.7:9050", &url);
	assert_int_equal(url.server.port, 9050);
}

static void
test_socks5h(void **state)
{
	struct proxy_url url, plain;

	(void)state;
	parse_ok("socks5h://proxy.example:9050", &url);
	assert_int_equal(url.server.type, T2S_ENDPOINT_DOMAIN);
	assert_server(&url, "proxy.example:9050");
	parse_ok("socks5://proxy.example:9050", &plain);
	assert_memory_equal(&url, &plain, sizeof(url));

	/* RFC 3986: the scheme is case-insensitive. */
	parse_ok("SOCKS5H://proxy.example:9050", &url);
	assert_memory_equal(&url, &plain, sizeof(url));
	parse_ok("Socks5://proxy.example:9050", &url);
	assert_memory_equal(&url, &plain, sizeof(url));
}

static void
test_default_port(void **state)
{
	struct proxy_url url;

	(void)state;
	parse_ok("socks5://198.18.2.3", &url);
	assert_server(&url, "198.18.2.3:1080");
	parse_ok("socks5h://localhost", &url);
	assert_server(&url, "localhost:1080");
	parse_ok("socks5://[::1]", &url);
	assert_server(&url, "[::1]:1080");
	parse_ok("socks5://u:p@host.example", &url);
	assert_server(&url, "host.example:1080");
	/* A lone trailing slash is an empty path. */
	parse_ok("socks5://198.18.2.3/", &url);
	assert_server(&url, "198.18.2.3:1080");
	parse_ok("socks5://198.18.2.3:1/", &url);
	assert_server(&url, "198.18.2.3:1");
}

static void
test_ipv6_host(void **state)
{
	struct proxy_url url;

	(void)state;
	parse_ok("socks5://[2001:db8::1]:1081", &url);
	assert_int_equal(url.server.type, T2S_ENDPOINT_IPV6);
	assert_int_equal(url.server.u.ipv6[0], 0x20);
	assert_int_equal(url.server.u.ipv6[15], 0x01);
	assert_server(&url, "[2001:db8::1]:1081");
	parse_ok("socks5://user:pw@[::1]:65535", &url);
	assert_server(&url, "[::1]:65535");
	assert_string_equal(url.user, "user");
}

static void
test_hostname_host(void **state)
{
	struct proxy_url url;

	(void)state;
	parse_ok("socks5://proxy-1.corp.example:1234", &url);
	assert_int_equal(url.server.type, T2S_ENDPOINT_DOMAIN);
	assert_int_equal(url.server.u.domain.len, 20);
	assert_string_equal(url.server.u.domain.name, "proxy-1.corp.example");
	assert_int_equal(url.server.port, 1234);
}

static void
test_credentials(void **state)
{
	struct proxy_url url;

	(void)state;
	parse_ok("socks5://alice:s3cret@198.18.0.1:1081", &url);
	assert_int_equal(url.has_credentials, 1);
	assert_string_equal(url.user, "alice");
	assert_string_equal(url.pass, "s3cret");
	assert_server(&url, "198.18.0.1:1081");

	/* The password runs to the last '@' and may hold raw ':' and '@'. */
	parse_ok("socks5://bob:a:b@c@host:1", &url);
	assert_string_equal(url.user, "bob");
	assert_string_equal(url.pass, "a:b@c");
	assert_server(&url, "host:1");
}

static void
test_percent_encoding(void **state)
{
	struct proxy_url url;

	(void)state;
	parse_ok("socks5://user:p%40ss@host", &url);
	assert_string_equal(url.user, "user");
	assert_string_equal(url.pass, "p@ss");
	parse_ok("socks5://us%65r%3Aname:%2f%2F%25%3a@host", &url);
	assert_string_equal(url.user, "user:name");
	assert_string_equal(url.pass, "//%:");
	parse_ok("socks5://%C3%A9t%C3%A9:%0a@host", &url);
	assert_string_equal(url.user, "\xc3\xa9t\xc3\xa9");
	assert_string_equal(url.pass, "\n");
}

static void
test_user_without_password(void **state)
{
	struct proxy_url url;

	(void)state;
	parse_ok("socks5://alice@198.18.0.1", &url);
	assert_int_equal(url.has_credentials, 1);
	assert_string_equal(url.user, "alice");
	assert_string_equal(url.pass, "");
	assert_server(&url, "198.18.0.1:1080");

	parse_ok("socks5://alice:@198.18.0.1:2", &url);
	assert_int_equal(url.has_credentials, 1);
	assert_string_equal(url.pass, "");
}

static void
test_credentials_max(void **state)
{
	char text[2048], user[256], enc[3 * 255 + 1];
	struct proxy_url url;
	size_t i;

	(void)state;
	memset(user, 'u', 255);
	user[255] = '\0';
	for (i = 0; i < 255; i++)
		memcpy(enc + 3 * i, "%41", 3);
	enc[3 * 255] = '\0';
	snprintf(text, sizeof(text), "socks5://%s:%s@h", user, enc);
	parse_ok(text, &url);
	assert_int_equal(strlen(url.user), 255);
	assert_int_equal(strlen(url.pass), 255);
	assert_int_equal(url.pass[0], 'A');
	assert_int_equal(url.pass[254], 'A');

	snprintf(text, sizeof(text), "socks5://%su:p@h", user);
	parse_bad(text, "longer than 255");
	snprintf(text, sizeof(text), "socks5://u:%sx@h", user);
	parse_bad(text, "longer than 255");
	/* Measured after decoding. */
	snprintf(text, sizeof(text), "socks5://u:%s%%41@h", enc);
	parse_bad(text, "longer than 255");
}

static void
test_bad_scheme(void **state)
{
	(void)state;
	parse_bad("ftp://127.0.0.1:1080", "scheme");
	parse_bad("socks5+ssl://127.0.0.1:1080", "scheme");
	parse_bad("http+tls://127.0.0.1:1080", "scheme");
	parse_bad("socks4://127.0.0.1:1080", "scheme");
	parse_bad("socks5a://127.0.0.1:1080", "scheme");
	parse_bad("socks5:/127.0.0.1:1080", "scheme");
	parse_bad("socks5:127.0.0.1:1080", "scheme");
	parse_bad("socks5", "scheme");
	parse_bad("127.0.0.1:1080", "scheme");
	parse_bad(" socks5://127.0.0.1", "scheme");
	parse_bad("", "scheme");
	parse_bad(NULL, "URL");
}

/* http:// is HTTP CONNECT: its own kind and default port, the same host and userinfo rules. */
static void
test_http(void **state)
{
	struct proxy_url url;
	char buf[128];

	(void)state;
	parse_ok("http://198.18.2.3:3128", &url);
	assert_int_equal(url.kind, PROXY_KIND_HTTP);
	assert_server(&url, "198.18.2.3:3128");
	parse_ok("HTTP://proxy.example", &url);
	assert_int_equal(url.kind, PROXY_KIND_HTTP);
	assert_server(&url, "proxy.example:8080");
	parse_ok("http://u%40x:p%3Aw@[::1]/", &url);
	assert_server(&url, "[::1]:8080");
	assert_string_equal(url.user, "u@x");
	assert_string_equal(url.pass, "p:w");
	proxy_url_format_redacted(&url, buf, sizeof(buf));
	assert_string_equal(buf, "http://u%40x@[::1]:8080");
	assert_false(url.tls);
	parse_ok("socks5://h", &url);
	assert_int_equal(url.kind, PROXY_KIND_SOCKS5);
	assert_false(url.tls);
	parse_bad("http://host:1080/path", "trailing");
	parse_bad("http://", "missing host");
}

/* The TLS schemes: the same kinds inside TLS, their own default ports and redaction. */
static void
test_tls(void **state)
{
	struct proxy_url url;
	char buf[128];

	(void)state;
	parse_ok("https://proxy.example", &url);
	assert_int_equal(url.kind, PROXY_KIND_HTTP);
	assert_true(url.tls);
	assert_server(&url, "proxy.example:443");
	parse_ok("HTTPS://u:p@[2001:db8::1]:8443", &url);
	assert_server(&url, "[2001:db8::1]:8443");
	proxy_url_format_redacted(&url, buf, sizeof(buf));
	assert_string_equal(buf, "https://u@[2001:db8::1]:8443");
	parse_ok("socks5+tls://198.18.0.2", &url);
	assert_int_equal(url.kind, PROXY_KIND_SOCKS5);
	assert_true(url.tls);
	assert_server(&url, "198.18.0.2:1080");
	parse_ok("Socks5+TLS://user:secret@198.18.0.2:1443/", &url);
	proxy_url_format_redacted(&url, buf, sizeof(buf));
	assert_string_equal(buf, "socks5+tls://user@198.18.0.2:1443");
	assert_null(strstr(buf, "secret"));
}

static void
test_missing_host(void **state)
{
	(void)state;
	parse_bad("socks5://", "missing host");
	parse_bad("socks5:///", "missing host");
	parse_bad("socks5://:1080", "missing host");
	parse_bad("socks5://user:pass@", "missing host");
	parse_bad("socks5://user@:1080", "missing host");
	parse_bad("socks5://[]:1080", "missing host");
}

static void
test_bad_port(void **state)
{
	(void)state;
	parse_bad("socks5://host:0", "port");
	parse_bad("socks5://host:65536", "port");
	parse_bad("socks5://host:", "port");
	parse_bad("socks5://host:abc", "port");
	parse_bad("socks5://host:-1", "port");
	parse_bad("socks5://host:1080x", "port");
	parse_bad("socks5://[::1]:", "port");
	parse_bad("socks5://[::1]:99999", "port");
}

static void
test_trailing(void **state)
{
	(void)state;
	parse_bad("socks5://host:1080/x", "trailing");
	parse_bad("socks5://host/x", "trailing");
	parse_bad("socks5://host//", "trailing");
	parse_bad("socks5://host?a=b", "trailing");
	parse_bad("socks5://host:1080#frag", "trailing");
	parse_bad("socks5://host:1080/?", "trailing");
}

static void
test_bad_percent(void **state)
{
	(void)state;
	parse_bad("socks5://user:p%4@host", "percent");
	parse_bad("socks5://user:p%@host", "percent");
	parse_bad("socks5://user:%zz@host", "percent");
	parse_bad("socks5://user:%g0@host", "percent");
	parse_bad("socks5://us%2@host", "percent");
	parse_bad("socks5://user:%00@host", "%00");
}

static void
test_bad_credentials(void **state)
{
	(void)state;
	parse_bad("socks5://:pass@host", "empty user");
	parse_bad("socks5://@host", "empty user");
	parse_bad("socks5://us er:pass@host", "control character or space");
	parse_bad("socks5://user:pa\tss@host", "control character or space");
}

static void
test_bad_host(void **state)
{
	(void)state;
	parse_bad("socks5://[::1:1080", "brackets");
	parse_bad("socks5://::1]:1080", "brackets");
	parse_bad("socks5://[::1]]:1080", "brackets");
	parse_bad("socks5://[[::1]:1080", "bad host");
	parse_bad("socks5://host]:1080", "brackets");
	parse_bad("socks5://[::1]x", "after IPv6");
	parse_bad("socks5://::1", "brackets");
	parse_bad("socks5://2001:db8::1:1080", "brackets");
	parse_bad("socks5://[192.0.2.1]:1080", "bad host");
	parse_bad("socks5://exa mple:1080", "bad host");
	parse_bad("socks5://256.1.1.1:1080", "bad host");
	parse_bad("socks5://ho%41st:1080", "bad host");
}

static void
test_long_host(void **state)
{
	char text[600], name[300];
	struct proxy_url url;

	(void)state;
	memset(name, 'h', 255);
	name[255] = '\0';
	snprintf(text, sizeof(text), "socks5://%s:1", name);
	parse_ok(text, &url);
	assert_int_equal(url.server.u.domain.len, 255);
	snprintf(text, sizeof(text), "socks5://%sh:1", name);
	parse_bad(text, "too long");
}

static void
test_why_optional(void **state)
{
	struct proxy_url url;

	(void)state;
	assert_int_equal(proxy_url_parse(&url, "ftp://x", NULL), -EINVAL);
	assert_int_equal(proxy_url_parse(&url, "socks5://x", NULL), 0);
}

static void
test_redacted(void **state)
{
	static const struct {
		const char *in;
		const char *out;
	} t[] = {
		{ "socks5://alice:Sup3rSecret@198.18.0.1:1081", "socks5://alice@198.18.0.1:1081" },
		{ "socks5h://alice:Sup3rSecret@proxy.example", "socks5://alice@proxy.example:1080" },
		{ "socks5://alice:Sup3rSecret@[2001:db8::1]:7", "socks5://alice@[2001:db8::1]:7" },
		{ "socks5://alice@198.18.0.1", "socks5://alice@198.18.0.1:1080" },
		{ "socks5://198.18.0.1:5", "socks5://198.18.0.1:5" },
		{ "socks5://a%40b%3Ac:Sup3rSecret@h", "socks5://a%40b%3Ac@h:1080" },
		{ "socks5://a%0Ab:Sup3rSecret@h", "socks5://a%0Ab@h:1080" },
	};
	char buf[1024];
	struct proxy_url url;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		parse_ok(t[i].in, &url);
		memset(buf, 'X', sizeof(buf));
		assert_ptr_equal(proxy_url_format_redacted(&url, buf, sizeof(buf)), buf);
		assert_string_equal(buf, t[i].out);
		assert_null(strstr(buf, "Sup3rSecret"));
	}
}

/* Truncated output stays terminated, within cap, and never reaches the password. */
static void
test_redacted_never_prints_password(void **state)
{
	char buf[1024];
	struct proxy_url url;
	size_t cap;

	(void)state;
	parse_ok("socks5://u:hunter2@h:1", &url);
	for (cap = 0; cap <= 40; cap++) {
		memset(buf, 'X', sizeof(buf));
		proxy_url_format_redacted(&url, buf, cap);
		if (cap == 0) {
			assert_int_equal(buf[0], 'X');
			continue;
		}
		assert_true(strlen(buf) < cap);
		assert_int_equal(buf[cap], 'X');
		assert_null(strstr(buf, "hunter"));
		assert_int_equal(strncmp(buf, "socks5://u@h:1", cap - 1), 0);
	}
	/* Whatever the struct says, the password field is never read into the output. */
	snprintf(url.pass, sizeof(url.pass), "%s", "ZZtopsecretZZ");
	proxy_url_format_redacted(&url, buf, sizeof(buf));
	assert_string_equal(buf, "socks5://u@h:1");
	assert_null(strstr(buf, "topsecret"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_plain),
		cmocka_unit_test(test_socks5h),
		cmocka_unit_test(test_default_port),
		cmocka_unit_test(test_ipv6_host),
		cmocka_unit_test(test_hostname_host),
		cmocka_unit_test(test_credentials),
		cmocka_unit_test(test_percent_encoding),
		cmocka_unit_test(test_user_without_password),
		cmocka_unit_test(test_credentials_max),
		cmocka_unit_test(test_bad_scheme),
		cmocka_unit_test(test_http),
		cmocka_unit_test(test_tls),
		cmocka_unit_test(test_missing_host),
		cmocka_unit_test(test_bad_port),
		cmocka_unit_test(test_trailing),
		cmocka_unit_test(test_bad_percent),
		cmocka_unit_test(test_bad_credentials),
		cmocka_unit_test(test_bad_host),
		cmocka_unit_test(test_long_host),
		cmocka_unit_test(test_why_optional),
		cmocka_unit_test(test_redacted),
		cmocka_unit_test(test_redacted_never_prints_password),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
