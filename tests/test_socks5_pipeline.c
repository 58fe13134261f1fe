/* SPDX-License-Identifier: MIT */
/*
 * Pipelined SOCKS5 CONNECT handshakes (socks5_pipeline + socks5_tcp) against
 * tests/support/fake_socks5's scripted server: what is learned per proxy, that a learned
 * proxy gets one write, and the step-by-step fallback for proxies that drop or refuse
 * the bytes after the greeting.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>
#include <ev.h>

#include "socks5_pipeline.h"
#include "socks5_proto.h"
#include "socks5_tcp.h"
#include "support/fake_socks5.h"
#include "support/loop.h"
#include "support/socks5_outcome.h"

struct rig {
	struct ev_loop *loop;
	struct fake_socks5 *fake;
	struct socks5_server server;
	struct socks5_pipeline pipeline;
};

static void
rig_start(struct rig *r, enum fake_socks5_script script, const char *user, const char *pass)
{
	memset(r, 0, sizeof(*r));
	r->loop = ev_loop_new(EVFLAG_AUTO);
	assert_non_null(r->loop);
	r->fake = fake_socks5_new(r->loop);
	fake_socks5_set_script(r->fake, script);
	r->server = *fake_socks5_server(r->fake);
	r->server.user = user;
	r->server.pass = pass;
	r->server.pipeline = &r->pipeline;
	r->pipeline.probe_timeout = 0.3;
}

/* One CONNECT; returns how many reads the server needed for it. */
static unsigned
rig_connect(struct rig *r, struct socks5_outcome *o)
{
	unsigned reads0 = fake_socks5_script_reads(r->fake);

	socks5_outcome_connect(o, r->loop, &r->server);
	if (o->fd >= 0)
		close(o->fd);
	assert_true(fake_socks5_wait_closed(r->fake, 5.0));
	return fake_socks5_script_reads(r->fake) - reads0;
}

static void
rig_stop(struct rig *r)
{
	fake_socks5_free(r->fake);
	ev_loop_destroy(r->loop);
}

/* The state machine alone. */
static void
test_state_transitions(void **state)
{
	struct socks5_pipeline p = {0};
	uint8_t method = 0xee;
	bool probe;

	(void)state;
	assert_false(socks5_pipeline_begin(&p, &method, &probe)); /* nothing known yet */
	socks5_pipeline_stepwise_answered(&p, SOCKS5_METHOD_USERPASS);
	assert_int_equal(p.state, SOCKS5_PIPELINE_CANDIDATE);
	assert_true(socks5_pipeline_begin(&p, &method, &probe));
	assert_true(probe);
	assert_int_equal(method, SOCKS5_METHOD_USERPASS);
	/* One probe at a time. */
	assert_false(socks5_pipeline_begin(&p, &method, &probe));
	socks5_pipeline_abandoned(&p, true);
	assert_int_equal(p.state, SOCKS5_PIPELINE_CANDIDATE);
	assert_true(socks5_pipeline_begin(&p, &method, &probe));
	socks5_pipeline_answered(&p);
	assert_int_equal(p.state, SOCKS5_PIPELINE_OK);
	assert_true(socks5_pipeline_begin(&p, &method, &probe));
	assert_false(probe);
	socks5_pipeline_failed(&p, true); /* another method: learn again */
	assert_int_equal(p.state, SOCKS5_PIPELINE_UNKNOWN);
	socks5_pipeline_stepwise_answered(&p, SOCKS5_METHOD_NONE);
	assert_true(socks5_pipeline_begin(&p, &method, &probe));
	socks5_pipeline_failed(&p, false);
	assert_int_equal(p.state, SOCKS5_PIPELINE_REFUSED);
	assert_false(socks5_pipeline_begin(&p, &method, &probe));
	socks5_pipeline_stepwise_answered(&p, SOCKS5_METHOD_NONE); /* refused stays refused */
	assert_int_equal(p.state, SOCKS5_PIPELINE_REFUSED);
	assert_int_equal(p.pipelined, 1);
	assert_int_equal(p.fallbacks, 2);
	socks5_pipeline_reset(&p);
	assert_int_equal(p.state, SOCKS5_PIPELINE_UNKNOWN);
	assert_string_equal(socks5_pipeline_state_str(SOCKS5_PIPELINE_REFUSED), "refused");
}

/* Regression: a proxy known to take it gets the whole handshake in one read. */
static void
test_accepting_proxy_one_write(void **state)
{
	static const uint8_t expect_req[] = {5, 1, 0, 1, 198, 19, 0, 10, 0, 80};
	struct rig r;
	struct socks5_outcome o;
	const uint8_t *req;
	size_t len;

	(void)state;
	rig_start(&r, FAKE_SOCKS5_SCRIPT_DOMAIN_REPLY, NULL, NULL);
	assert_int_equal(rig_connect(&r, &o), 2); /* greeting, then request: step by step */
	assert_int_equal(o.res.failure, SOCKS5_TCP_OK);
	assert_int_equal(r.pipeline.state, SOCKS5_PIPELINE_CANDIDATE);
	assert_int_equal(rig_connect(&r, &o), 1); /* the probe */
	assert_int_equal(o.res.failure, SOCKS5_TCP_OK);
	assert_int_equal(r.pipeline.state, SOCKS5_PIPELINE_OK);
	assert_int_equal(rig_connect(&r, &o), 1);
	assert_int_equal(o.res.failure, SOCKS5_TCP_OK);
	req = fake_socks5_script_request(r.fake, &len);
	assert_int_equal(len, sizeof(expect_req));
	assert_memory_equal(req, expect_req, len);
	assert_int_equal(r.pipeline.pipelined, 2);
	assert_int_equal(r.pipeline.fallbacks, 0);
	rig_stop(&r);
}

/* A pipelined handshake reads its replies in as few reads as may be, but never past
 * the end of the CONNECT reply: what the server sent behind it (a 200-byte BND name,
 * then "STREAM" in the same send) is the relayed stream's. */
static void
test_pipelined_reads_stop_at_reply_end(void **state)
{
	struct rig r;
	struct socks5_outcome o;
	char data[16] = {0};
	size_t n = 0;

	(void)state;
	rig_start(&r, FAKE_SOCKS5_SCRIPT_DOMAIN_REPLY, NULL, NULL);
	assert_int_equal(rig_connect(&r, &o), 2);
	assert_int_equal(rig_connect(&r, &o), 1); /* the probe */
	assert_int_equal(r.pipeline.state, SOCKS5_PIPELINE_OK);
	socks5_outcome_connect(&o, r.loop, &r.server);
	assert_int_equal(o.res.failure, SOCKS5_TCP_OK);
	assert_true(o.fd >= 0);
	for (int i = 0; i < 500 && n < 6; i++) {
		ssize_t got = recv(o.fd, data + n, sizeof(data) - 1 - n, MSG_DONTWAIT);

		if (got > 0)
			n += (size_t)got;
		else
			loop_run_for(r.loop, 0.01);
	}
	assert_string_equal(data, "STREAM");
	close(o.fd);
	assert_true(fake_socks5_wait_closed(r.fake, 5.0));
	rig_stop(&r);
}

/* With credentials: greeting, user/pass and request in one write. */
static void
test_accepting_proxy_auth(void **state)
{
	struct rig r;
	struct socks5_outcome o;

	(void)state;
	rig_start(&r, FAKE_SOCKS5_SCRIPT_OK_AUTH, "user", "secret");
	assert_int_equal(rig_connect(&r, &o), 3);
	assert_int_equal(o.res.failure, SOCKS5_TCP_OK);
	assert_int_equal(r.pipeline.method, SOCKS5_METHOD_USERPASS);
	assert_int_equal(rig_connect(&r, &o), 1);
	assert_int_equal(o.res.failure, SOCKS5_TCP_OK);
	assert_true(fake_socks5_script_auth_seen(r.fake));
	assert_int_equal(r.pipeline.state, SOCKS5_PIPELINE_OK);
	rig_stop(&r);
}

/* A REP != 0 reply to a pipelined request still shows the proxy understood it. */
static void
test_rejected_request_counts_as_answered(void **state)
{
	struct rig r;
	struct socks5_outcome o;

	(void)state;
	rig_start(&r, FAKE_SOCKS5_SCRIPT_REP_REFUSED, NULL, NULL);
	(void)rig_connect(&r, &o);
	assert_int_equal(o.res.failure, SOCKS5_TCP_TARGET);
	assert_int_equal(rig_connect(&r, &o), 1);
	assert_int_equal(o.res.failure, SOCKS5_TCP_TARGET);
	assert_int_equal(o.res.rep, SOCKS5_REP_CONN_REFUSED);
	assert_int_equal(r.pipeline.state, SOCKS5_PIPELINE_OK);
	rig_stop(&r);
}

/* microsocks-like: the bytes after the greeting are dropped and the proxy waits; the
 * probe's deadline falls back step by step, and the CONNECT succeeds. */
static void
test_greeting_only_proxy_falls_back(void **state)
{
	struct rig r;
	struct socks5_outcome o;

	(void)state;
	rig_start(&r, FAKE_SOCKS5_SCRIPT_GREETING_ONLY, NULL, NULL);
	assert_int_equal(rig_connect(&r, &o), 2);
	assert_int_equal(o.res.failure, SOCKS5_TCP_OK);
	(void)rig_connect(&r, &o); /* the probe, unanswered, then step by step */
	assert_int_equal(o.res.failure, SOCKS5_TCP_OK);
	assert_int_equal(r.pipeline.state, SOCKS5_PIPELINE_REFUSED);
	assert_int_equal(r.pipeline.fallbacks, 1);
	assert_int_equal(r.pipeline.pipelined, 0);
	assert_int_equal(rig_connect(&r, &o), 2); /* remembered */
	assert_int_equal(o.res.failure, SOCKS5_TCP_OK);
	rig_stop(&r);
}

/* A proxy that resets the connection when the greeting comes with more: same. */
static void
test_closing_proxy_falls_back(void **state)
{
	struct rig r;
	struct socks5_outcome o;

	(void)state;
	rig_start(&r, FAKE_SOCKS5_SCRIPT_CLOSE_ON_PIPELINE, NULL, NULL);
	assert_int_equal(rig_connect(&r, &o), 2);
	assert_int_equal(o.res.failure, SOCKS5_TCP_OK);
	assert_int_equal(rig_connect(&r, &o), 3); /* the probe's one read, then two */
	assert_int_equal(o.res.failure, SOCKS5_TCP_OK);
	assert_int_equal(r.pipeline.state, SOCKS5_PIPELINE_REFUSED);
	assert_int_equal(r.pipeline.fallbacks, 1);
	rig_stop(&r);
}

/* The proxy now picks another method than the learned one: relearn, no failure. */
static void
test_method_change_relearns(void **state)
{
	struct rig r;
	struct socks5_outcome o;

	(void)state;
	rig_start(&r, FAKE_SOCKS5_SCRIPT_DOMAIN_REPLY, "user", "secret");
	(void)rig_connect(&r, &o);
	assert_int_equal(r.pipeline.method, SOCKS5_METHOD_NONE);
	fake_socks5_set_script(r.fake, FAKE_SOCKS5_SCRIPT_OK_AUTH);
	(void)rig_connect(&r, &o);
	assert_int_equal(o.res.failure, SOCKS5_TCP_OK);
	assert_int_equal(r.pipeline.fallbacks, 1);
	assert_int_equal(r.pipeline.method, SOCKS5_METHOD_USERPASS);
	assert_int_equal(r.pipeline.state, SOCKS5_PIPELINE_CANDIDATE);
	assert_int_equal(rig_connect(&r, &o), 1);
	assert_int_equal(o.res.failure, SOCKS5_TCP_OK);
	rig_stop(&r);
}

/* Garbage after a step-by-step greeting is a failure, pipelining or not; without a
 * pipeline struct nothing is learned. */
static void
test_no_pipeline_struct_step_by_step(void **state)
{
	struct rig r;
	struct socks5_outcome o;

	(void)state;
	rig_start(&r, FAKE_SOCKS5_SCRIPT_DOMAIN_REPLY, NULL, NULL);
	r.server.pipeline = NULL;
	assert_int_equal(rig_connect(&r, &o), 2);
	assert_int_equal(rig_connect(&r, &o), 2);
	fake_socks5_set_script(r.fake, FAKE_SOCKS5_SCRIPT_GARBAGE);
	r.server.pipeline = &r.pipeline;
	(void)rig_connect(&r, &o);
	assert_int_equal(o.res.failure, SOCKS5_TCP_PROXY_PROTOCOL);
	assert_int_equal(r.pipeline.state, SOCKS5_PIPELINE_UNKNOWN);
	rig_stop(&r);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_state_transitions),
		cmocka_unit_test(test_accepting_proxy_one_write),
		cmocka_unit_test(test_pipelined_reads_stop_at_reply_end),
		cmocka_unit_test(test_accepting_proxy_auth),
		cmocka_unit_test(test_rejected_request_counts_as_answered),
		cmocka_unit_test(test_greeting_only_proxy_falls_back),
		cmocka_unit_test(test_closing_proxy_falls_back),
		cmocka_unit_test(test_method_change_relearns),
		cmocka_unit_test(test_no_pipeline_struct_step_by_step),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
