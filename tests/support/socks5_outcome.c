/* SPDX-License-Identifier: MIT */
/* One socks5_tcp CONNECT to its end; see socks5_outcome.h. */
#include "socks5_outcome.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "endpoint.h"
#include "loop.h"

static void
outcome_done_cb(void *arg, const struct socks5_tcp_result *res)
{
	struct socks5_outcome *o = arg;

	o->done++;
	o->res = *res;
	if (res->failure == SOCKS5_TCP_OK)
		o->fd = socks5_tcp_take_fd(o->session);
	socks5_tcp_free(o->session);
	o->session = NULL;
}

static bool
outcome_done(void *arg)
{
	const struct socks5_outcome *o = arg;

	return o->done > 0;
}

void
socks5_outcome_start(struct socks5_outcome *o, struct ev_loop *loop, const struct socks5_server *server)
{
	struct t2s_endpoint target = {.type = T2S_ENDPOINT_IPV4, .port = 80, .u.ipv4 = {198, 19, 0, 10}};

	memset(o, 0, sizeof(*o));
	o->fd = -1;
	o->session = socks5_tcp_new(loop, server, &target, outcome_done_cb, o);
	assert_non_null(o->session);
}

void
socks5_outcome_connect(struct socks5_outcome *o, struct ev_loop *loop, const struct socks5_server *server)
{
	socks5_outcome_start(o, loop, server);
	(void)loop_run_until(loop, outcome_done, o, 5.0);
	socks5_tcp_free(o->session);
	assert_int_equal(o->done, 1);
}
