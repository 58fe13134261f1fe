/* SPDX-License-Identifier: MIT */
/* Unit tests for the "CONNECT only to 443" decision: HTTP, 403, port 53, nothing else. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "proxy_hint.h"

static struct proxy_tcp_result
result(enum proxy_tcp_failure failure, uint16_t status)
{
	struct proxy_tcp_result r;

	memset(&r, 0, sizeof(r));
	r.failure = failure;
	r.http_status = status;
	return r;
}

static void
test_port_policy(void **state)
{
	struct proxy_tcp_result r403 = result(PROXY_TCP_TARGET, 403);
	struct proxy_tcp_result r500 = result(PROXY_TCP_TARGET, 500);
	struct proxy_tcp_result r407 = result(PROXY_TCP_AUTH, 407);
	struct proxy_tcp_result socks = result(PROXY_TCP_TARGET, 0);

	(void)state;
	assert_true(proxy_hint_port_policy(PROXY_KIND_HTTP, 53, &r403));
	/* A 403 elsewhere is as often a filtered host. */
	assert_false(proxy_hint_port_policy(PROXY_KIND_HTTP, 8080, &r403));
	assert_false(proxy_hint_port_policy(PROXY_KIND_HTTP, 443, &r403));
	assert_false(proxy_hint_port_policy(PROXY_KIND_HTTP, 53, &r500));
	assert_false(proxy_hint_port_policy(PROXY_KIND_HTTP, 53, &r407));
	socks.rep = 2;
	assert_false(proxy_hint_port_policy(PROXY_KIND_SOCKS5, 53, &socks));
	assert_false(proxy_hint_port_policy(PROXY_KIND_SOCKS5, 53, &r403));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_port_policy),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
