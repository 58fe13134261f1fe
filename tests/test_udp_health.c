/* SPDX-License-Identifier: MIT */
/*
 * udp_health: routes per --udp mode and state, the start-up probe, REP 7 and a close on
 * UDP ASSOCIATE (ssh -D) as opposed to a proxy that is down, the relay check with our
 * own DNS servers (a silent relay detected; applications' unanswered DNS unable to
 * declare it), and the periodic re-probe, against the in-loop fake SOCKS5 server. Loop time is real: the module's
 * thresholds are set short through udp_health_env (below), and the waits for them are
 * loop deadlines.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>
#include <ev.h>

#include "support/fake_socks5.h"
#include "support/loop.h"
#include "udp_health.h"

#define WAIT 5.0 /* deadline for anything that should happen at once */
#define SLACK 0.001 /* clock rounding when comparing loop times */
/* The thresholds for these tests (udp_health_env overrides of UDP_HEALTH_*). */
#define INTERVAL 0.3        /* probe_interval */
#define SUSPECT_SECONDS 0.2 /* suspect_seconds */
#define RECHECK_MIN 1.0     /* recheck_min */
#define REPLY_TIMEOUT 0.5   /* probe_reply_timeout */

static const uint8_t dns_a[4] = {198, 18, 0, 53};
static const uint8_t dns_b[4] = {198, 18, 0, 54};

struct hx {
	struct ev_loop *loop;
	struct fake_socks5 *srv;
	struct socks5_server refused; /* a loopback port nobody listens on */
	struct udp_health *h;
	unsigned adopted, drops;
	struct socks5_udp *adopted_s;
	unsigned datagrams; /* echoes through the adopted association */
};

static void
owner_ready_cb(void *arg, const struct socks5_udp_result *res)
{
	(void)arg;
	(void)res;
	fail_msg("on_ready must not be repeated after adopt");
}

static void
owner_datagram_cb(void *arg, const struct t2s_endpoint *src, const uint8_t *payload, size_t len)
{
	struct hx *x = arg;

	(void)src;
	(void)payload;
	(void)len;
	x->datagrams++;
}

static const struct socks5_udp_callbacks owner_callbacks = {
	.on_ready = owner_ready_cb,
	.on_datagram = owner_datagram_cb,
};

/* The callee owns an adopted association: it rebinds it, as udp_pool_give does. */
static void
env_adopt(void *arg, struct socks5_udp *s)
{
	struct hx *x = arg;

	assert_true(socks5_udp_is_ready(s));
	socks5_udp_free(x->adopted_s);
	x->adopted_s = s;
	socks5_udp_rebind(s, &owner_callbacks, x);
	x->adopted++;
}

static void
env_drop_spares(void *arg)
{
	struct hx *x = arg;

	x->drops++;
}

static int
setup(void **state)
{
	struct hx *x = calloc(1, sizeof(*x));

	assert_non_null(x);
	x->loop = ev_loop_new(EVFLAG_AUTO);
	assert_non_null(x->loop);
	x->srv = fake_socks5_new(x->loop);
	fake_socks5_refused_server(&x->refused);
	*state = x;
	return 0;
}

static int
teardown(void **state)
{
	struct hx *x = *state;

	udp_health_free(x->h);
	socks5_udp_free(x->adopted_s);
	fake_socks5_free(x->srv);
	ev_loop_destroy(x->loop);
	free(x);
	return 0;
}

/* With n_dns DNS servers of our own (dns_a, dns_b): --dns-server. */
static struct udp_health *
new_health_dns(struct hx *x, enum config_udp_mode mode, const struct socks5_server *server, unsigned n_dns)
{
	struct udp_health_env env = {
		.loop = x->loop,
		.server = server,
		.adopt = env_adopt,
		.drop_spares = env_drop_spares,
		.arg = x,
		.probe_interval = INTERVAL,
		.suspect_seconds = SUSPECT_SECONDS,
		.recheck_min = RECHECK_MIN,
		.probe_reply_timeout = REPLY_TIMEOUT,
	};
	const uint8_t *addrs[2] = {dns_a, dns_b};

	assert_true(n_dns <= 2);
	for (unsigned i = 0; i < n_dns; i++) {
		env.dns[i].type = T2S_ENDPOINT_IPV4;
		env.dns[i].port = 53;
		memcpy(env.dns[i].u.ipv4, addrs[i], 4);
	}
	env.n_dns = n_dns;
	x->h = udp_health_new(mode, &env);
	assert_non_null(x->h);
	return x->h;
}

static struct udp_health *
new_health(struct hx *x, enum config_udp_mode mode, const struct socks5_server *server)
{
	return new_health_dns(x, mode, server, 0);
}

static void
assert_routes(const struct udp_health *h, enum udp_route dns, enum udp_route other)
{
	assert_int_equal(udp_health_route(h, 53), dns);
	assert_int_equal(udp_health_route(h, 443), other);
	assert_int_equal(udp_health_route(h, 123), other);
}

static const struct socks5_udp_result res_ok = {.failure = SOCKS5_UDP_OK};
static const struct socks5_udp_result res_rep7 = {
	.failure = SOCKS5_UDP_UNSUPPORTED, .err = -EOPNOTSUPP, .rep = SOCKS5_REP_CMD_UNSUPPORTED};
static const struct socks5_udp_result res_refused = {.failure = SOCKS5_UDP_PROXY_UNREACHABLE, .err = -ECONNREFUSED};

struct state_want {
	struct hx *x;
	enum udp_health_state s;
};

static bool
state_is(void *arg)
{
	struct state_want *w = arg;

	return udp_health_state(w->x->h) == w->s;
}

static bool
wait_state(struct hx *x, enum udp_health_state s, double timeout)
{
	struct state_want w = {x, s};

	return loop_run_until(x->loop, state_is, &w, timeout);
}

static bool
wait_u64(struct hx *x, const uint64_t *counter, uint64_t want, double timeout)
{
	return loop_wait_u64(x->loop, counter, want, timeout);
}

static bool
wait_uint(struct hx *x, const unsigned *counter, unsigned want, double timeout)
{
	return loop_wait_uint(x->loop, counter, want, timeout);
}

/* Runs until the fake server has exactly n control connections open. */
static bool
wait_live(struct hx *x, unsigned n)
{
	return fake_socks5_wait_live(x->srv, n, WAIT);
}

/* An application's DNS through associations, unanswered: two sends spanning
 * SUSPECT_SECONDS, which is a reason for a check. */
static void
unanswered_dns(struct hx *x)
{
	udp_health_on_dns_sent(x->h);
	loop_run_for(x->loop, SUSPECT_SECONDS);
	udp_health_on_dns_sent(x->h);
}

static void
test_new_rejects_missing_hooks(void **state)
{
	struct hx *x = *state;
	struct udp_health_env env = {.loop = x->loop, .server = fake_socks5_server(x->srv)};

	errno = 0;
	assert_null(udp_health_new(CONFIG_UDP_AUTO, &env));
	assert_int_equal(errno, EINVAL);
	assert_null(udp_health_new(CONFIG_UDP_AUTO, NULL));
}

/* Overrides left 0 mean the module's constants: two DNS sends SUSPECT_SECONDS apart
 * are not yet a suspicion under UDP_HEALTH_SUSPECT_SECONDS. */
static void
test_zero_overrides_mean_defaults(void **state)
{
	struct hx *x = *state;
	struct udp_health_env env = {
		.loop = x->loop,
		.server = fake_socks5_server(x->srv),
		.dns = {{.type = T2S_ENDPOINT_IPV4, .port = 53, .u.ipv4 = {198, 18, 0, 53}}},
		.n_dns = 1,
		.adopt = env_adopt,
		.drop_spares = env_drop_spares,
		.arg = x,
	};

	_Static_assert(SUSPECT_SECONDS < UDP_HEALTH_SUSPECT_SECONDS, "the test needs a shorter override");
	x->h = udp_health_new(CONFIG_UDP_AUTO, &env);
	assert_non_null(x->h);
	udp_health_on_result(x->h, &res_ok);
	/* (the relay check this result starts is the only probe) */
	unanswered_dns(x);
	assert_int_equal(udp_health_state(x->h), UDP_HEALTH_RELAYS);
	assert_int_equal(udp_health_get_stats(x->h)->probes, 1);
	env.n_dns = UDP_HEALTH_MAX_DNS + 1;
	errno = 0;
	assert_null(udp_health_new(CONFIG_UDP_AUTO, &env));
	assert_int_equal(errno, EINVAL);
}

/* Fixed modes ignore every event: routes never change and nothing is probed. */
static void
fixed_mode(struct hx *x, enum config_udp_mode mode, enum udp_route dns, enum udp_route other)
{
	struct udp_health *h = new_health(x, mode, fake_socks5_server(x->srv));

	udp_health_start(h);
	assert_routes(h, dns, other);
	udp_health_on_result(h, &res_rep7);
	assert_routes(h, dns, other);
	udp_health_on_dns_sent(h);
	udp_health_on_dns_sent(h);
	udp_health_on_datagram(h);
	udp_health_on_result(h, &res_ok);
	assert_routes(h, dns, other);
	assert_int_equal(udp_health_get_stats(h)->probes, 0);
	assert_int_equal(udp_health_get_stats(h)->transitions, 0);
	assert_int_equal(x->drops, 0);
	udp_health_free(h);
	x->h = NULL;
}

static void
test_routes_fixed_modes(void **state)
{
	struct hx *x = *state;

	fixed_mode(x, CONFIG_UDP_ASSOCIATE, UDP_ROUTE_ASSOCIATE, UDP_ROUTE_ASSOCIATE);
	fixed_mode(x, CONFIG_UDP_DNS_OVER_TCP, UDP_ROUTE_DNS_TCP, UDP_ROUTE_REFUSE);
	fixed_mode(x, CONFIG_UDP_BLOCK, UDP_ROUTE_REFUSE, UDP_ROUTE_REFUSE);
	loop_run_for(x->loop, 0.05);
	assert_int_equal(fake_socks5_get_stats(x->srv)->accepted, 0);
}

/* Auto mode in the states reachable from association results alone. */
static void
test_routes_auto_from_results(void **state)
{
	struct hx *x = *state;
	struct udp_health *h = new_health(x, CONFIG_UDP_AUTO, fake_socks5_server(x->srv));

	assert_int_equal(udp_health_state(h), UDP_HEALTH_UNKNOWN);
	assert_routes(h, UDP_ROUTE_ASSOCIATE, UDP_ROUTE_ASSOCIATE);
	/* A failure other than REP 7 tells nothing. */
	udp_health_on_result(h, &res_refused);
	assert_int_equal(udp_health_state(h), UDP_HEALTH_UNKNOWN);
	udp_health_on_result(h, &res_ok);
	assert_int_equal(udp_health_state(h), UDP_HEALTH_RELAYS);
	assert_routes(h, UDP_ROUTE_ASSOCIATE, UDP_ROUTE_ASSOCIATE);
	/* A mapping's REP 7 (e.g. the proxy was reconfigured). */
	udp_health_on_result(h, &res_rep7);
	assert_int_equal(udp_health_state(h), UDP_HEALTH_UNSUPPORTED);
	assert_int_equal(x->drops, 1);
	assert_routes(h, UDP_ROUTE_DNS_TCP, UDP_ROUTE_REFUSE);
	udp_health_on_result(h, &res_rep7);
	assert_int_equal(x->drops, 1);
	/* An association that worked after all. */
	udp_health_on_result(h, &res_ok);
	assert_int_equal(udp_health_state(h), UDP_HEALTH_RELAYS);
	assert_int_equal(udp_health_get_stats(h)->transitions, 3);
	assert_string_equal(udp_health_state_str(UDP_HEALTH_SILENT), "silent");
}

static void
test_startup_probe_relays(void **state)
{
	struct hx *x = *state;
	struct udp_health *h = new_health(x, CONFIG_UDP_AUTO, fake_socks5_server(x->srv));
	static const struct t2s_endpoint dst = {.type = T2S_ENDPOINT_IPV4, .port = 9, .u.ipv4 = {198, 18, 0, 9}};

	udp_health_start(h);
	assert_int_equal(udp_health_get_stats(h)->probes, 1);
	assert_int_equal(udp_health_state(h), UDP_HEALTH_UNKNOWN);
	assert_true(wait_state(x, UDP_HEALTH_RELAYS, WAIT));
	assert_int_equal(x->adopted, 1);
	assert_int_equal(x->drops, 0);
	assert_routes(h, UDP_ROUTE_ASSOCIATE, UDP_ROUTE_ASSOCIATE);
	/* The adopted association is alive and now the adopter's. */
	assert_int_equal(fake_socks5_get_stats(x->srv)->live, 1);
	assert_int_equal(socks5_udp_send(x->adopted_s, &dst, (const uint8_t *)"hi", 2), 0);
	assert_true(wait_uint(x, &x->datagrams, 1, WAIT));
	/* No probe runs while the proxy relays. */
	loop_run_for(x->loop, 2 * INTERVAL);
	assert_int_equal(udp_health_get_stats(h)->probes, 1);
	assert_int_equal(fake_socks5_get_stats(x->srv)->accepted, 1);
}

static void
test_startup_probe_unreachable(void **state)
{
	struct hx *x = *state;
	struct udp_health *h = new_health(x, CONFIG_UDP_AUTO, &x->refused);

	udp_health_start(h);
	/* The failed probe is closed; the next mapping's handshake decides. */
	loop_run_for(x->loop, 3 * INTERVAL);
	assert_int_equal(udp_health_state(h), UDP_HEALTH_UNKNOWN);
	assert_int_equal(udp_health_get_stats(h)->probes, 1);
	assert_routes(h, UDP_ROUTE_ASSOCIATE, UDP_ROUTE_ASSOCIATE);
	udp_health_on_result(h, &res_ok);
	assert_int_equal(udp_health_state(h), UDP_HEALTH_RELAYS);
	assert_int_equal(x->adopted, 0);
}

static void
test_rep7_unsupported_then_reprobe(void **state)
{
	struct hx *x = *state;
	struct udp_health *h = new_health(x, CONFIG_UDP_AUTO, fake_socks5_server(x->srv));
	const struct udp_health_stats *st = udp_health_get_stats(h);
	ev_tstamp since;

	fake_socks5_set_reply(x->srv, FAKE_SOCKS5_REPLY_UNSUPPORTED);
	udp_health_start(h);
	assert_true(wait_state(x, UDP_HEALTH_UNSUPPORTED, WAIT));
	since = ev_now(x->loop);
	assert_int_equal(x->drops, 1);
	assert_int_equal(x->adopted, 0);
	assert_routes(h, UDP_ROUTE_DNS_TCP, UDP_ROUTE_REFUSE);
	/* Re-probed every interval, never sooner; still REP 7 changes nothing. */
	assert_true(wait_u64(x, &st->probes, 2, WAIT));
	assert_true(ev_now(x->loop) - since >= INTERVAL - SLACK);
	assert_true(wait_u64(x, &st->probes, 3, WAIT));
	assert_true(ev_now(x->loop) - since >= 2 * INTERVAL - SLACK);
	assert_int_equal(udp_health_state(h), UDP_HEALTH_UNSUPPORTED);
	assert_int_equal(x->drops, 1);
	/* The proxy learns UDP: the next probe's handshake is enough, and its association
	 * is handed over. */
	fake_socks5_set_reply(x->srv, FAKE_SOCKS5_REPLY_OK);
	assert_true(wait_state(x, UDP_HEALTH_RELAYS, WAIT));
	assert_int_equal(x->adopted, 1);
	assert_routes(h, UDP_ROUTE_ASSOCIATE, UDP_ROUTE_ASSOCIATE);
	assert_int_equal(fake_socks5_get_stats(x->srv)->live, 1);
}

/* A reload names another proxy: the old verdict goes, the new proxy is probed at once
 * (not one probe interval later). */
static void
test_proxy_changed_reprobes_at_once(void **state)
{
	struct hx *x = *state;
	struct udp_health *h = new_health(x, CONFIG_UDP_AUTO, fake_socks5_server(x->srv));
	const struct udp_health_stats *st = udp_health_get_stats(h);
	ev_tstamp since;

	fake_socks5_set_reply(x->srv, FAKE_SOCKS5_REPLY_UNSUPPORTED);
	udp_health_start(h);
	assert_true(wait_state(x, UDP_HEALTH_UNSUPPORTED, WAIT));
	assert_routes(h, UDP_ROUTE_DNS_TCP, UDP_ROUTE_REFUSE);
	fake_socks5_set_reply(x->srv, FAKE_SOCKS5_REPLY_OK);
	since = ev_now(x->loop);
	udp_health_proxy_changed(h);
	assert_int_equal(udp_health_state(h), UDP_HEALTH_UNKNOWN);
	assert_routes(h, UDP_ROUTE_ASSOCIATE, UDP_ROUTE_ASSOCIATE);
	assert_int_equal(st->probes, 2);
	assert_true(wait_state(x, UDP_HEALTH_RELAYS, WAIT));
	assert_true(ev_now(x->loop) - since < INTERVAL);
	assert_int_equal(x->adopted, 1);
}

static void
test_proxy_changed_fixed_mode_stays(void **state)
{
	struct hx *x = *state;
	struct udp_health *h = new_health(x, CONFIG_UDP_DNS_OVER_TCP, fake_socks5_server(x->srv));

	udp_health_start(h);
	udp_health_proxy_changed(h);
	assert_int_equal(udp_health_get_stats(h)->probes, 0);
	assert_routes(h, UDP_ROUTE_DNS_TCP, UDP_ROUTE_REFUSE);
}

static void
test_failed_reprobe_keeps_probing(void **state)
{
	struct hx *x = *state;
	struct udp_health *h = new_health(x, CONFIG_UDP_AUTO, fake_socks5_server(x->srv));
	const struct udp_health_stats *st = udp_health_get_stats(h);

	fake_socks5_set_reply(x->srv, FAKE_SOCKS5_REPLY_UNSUPPORTED);
	udp_health_start(h);
	assert_true(wait_state(x, UDP_HEALTH_UNSUPPORTED, WAIT));
	/* The proxy restarts: probes fail for another reason than REP 7. In this state no
	 * mapping opens associations, so only further probes can notice the recovery. */
	fake_socks5_set_reply(x->srv, FAKE_SOCKS5_REPLY_NO_GREETING);
	assert_true(wait_u64(x, &st->probes, 3, WAIT));
	assert_int_equal(udp_health_state(h), UDP_HEALTH_UNSUPPORTED);
	fake_socks5_set_reply(x->srv, FAKE_SOCKS5_REPLY_OK);
	assert_true(wait_state(x, UDP_HEALTH_RELAYS, WAIT));
	assert_int_equal(x->adopted, 1);
}

static void
test_hung_probe_times_out(void **state)
{
	struct hx *x = *state;
	struct udp_health *h = new_health(x, CONFIG_UDP_AUTO, fake_socks5_server(x->srv));
	const struct udp_health_stats *st = udp_health_get_stats(h);
	ev_tstamp started;

	fake_socks5_set_reply(x->srv, FAKE_SOCKS5_REPLY_UNSUPPORTED);
	udp_health_start(h);
	assert_true(wait_state(x, UDP_HEALTH_UNSUPPORTED, WAIT));
	/* The next probe's request is never answered. */
	fake_socks5_set_reply(x->srv, FAKE_SOCKS5_REPLY_HOLD);
	assert_true(wait_u64(x, &st->probes, 2, WAIT));
	started = ev_now(x->loop);
	assert_true(wait_uint(x, &fake_socks5_get_stats(x->srv)->held, 1, WAIT));
	/* It is given up after REPLY_TIMEOUT, and probing goes on. */
	fake_socks5_set_reply(x->srv, FAKE_SOCKS5_REPLY_OK);
	assert_true(wait_u64(x, &st->probes, 3, REPLY_TIMEOUT + WAIT));
	assert_true(ev_now(x->loop) - started >= REPLY_TIMEOUT - SLACK);
	assert_true(wait_state(x, UDP_HEALTH_RELAYS, WAIT));
	assert_int_equal(x->adopted, 1);
	/* The held connection was closed with the timed-out probe. */
	assert_true(wait_live(x, 1));
}

/* ssh -D: the greeting succeeds, then the connection is closed (or reset) on UDP
 * ASSOCIATE. Known at start: DNS over TCP, other UDP refused, as after REP 7. */
static void
closed_on_associate(struct hx *x, enum fake_socks5_reply how)
{
	struct udp_health *h = new_health(x, CONFIG_UDP_AUTO, fake_socks5_server(x->srv));

	x->drops = 0;
	fake_socks5_set_reply(x->srv, how);
	udp_health_start(h);
	assert_true(wait_state(x, UDP_HEALTH_UNSUPPORTED, WAIT));
	assert_routes(h, UDP_ROUTE_DNS_TCP, UDP_ROUTE_REFUSE);
	assert_int_equal(x->drops, 1);
	/* A mapping's association closed the same way keeps it so. */
	udp_health_on_result(h, &(struct socks5_udp_result){.failure = SOCKS5_UDP_CLOSED_ON_ASSOCIATE,
							    .err = -ECONNRESET});
	assert_int_equal(udp_health_state(h), UDP_HEALTH_UNSUPPORTED);
	udp_health_free(h);
	x->h = NULL;
}

static void
test_closed_on_associate_unsupported(void **state)
{
	struct hx *x = *state;

	closed_on_associate(x, FAKE_SOCKS5_REPLY_CLOSE);
	closed_on_associate(x, FAKE_SOCKS5_REPLY_RESET);
	/* From RELAYS, a mapping's close starts a probe of our own, which decides: a
	 * proxy that still does UDP (it was restarting) stays RELAYS... */
	fake_socks5_set_reply(x->srv, FAKE_SOCKS5_REPLY_OK);
	new_health(x, CONFIG_UDP_AUTO, fake_socks5_server(x->srv));
	udp_health_on_result(x->h, &res_ok);
	udp_health_on_result(x->h, &(struct socks5_udp_result){.failure = SOCKS5_UDP_CLOSED_ON_ASSOCIATE,
							       .err = -ECONNRESET});
	assert_int_equal(udp_health_state(x->h), UDP_HEALTH_RELAYS);
	assert_true(wait_uint(x, &x->adopted, 1, WAIT));
	assert_int_equal(udp_health_state(x->h), UDP_HEALTH_RELAYS);
	/* ... and one that closes on UDP ASSOCIATE now is UNSUPPORTED. */
	fake_socks5_set_reply(x->srv, FAKE_SOCKS5_REPLY_CLOSE);
	udp_health_on_result(x->h, &(struct socks5_udp_result){.failure = SOCKS5_UDP_CLOSED_ON_ASSOCIATE,
							       .err = -ECONNRESET});
	assert_true(wait_state(x, UDP_HEALTH_UNSUPPORTED, WAIT));
	assert_int_equal(udp_health_get_stats(x->h)->probes, 2);
}

/* A proxy that is down or closes before the greeting is another case: nothing is known
 * about its UDP, and datagrams still try associations. */
static void
test_no_greeting_is_not_unsupported(void **state)
{
	struct hx *x = *state;
	struct udp_health *h = new_health(x, CONFIG_UDP_AUTO, fake_socks5_server(x->srv));

	fake_socks5_set_reply(x->srv, FAKE_SOCKS5_REPLY_NO_GREETING);
	udp_health_start(h);
	assert_true(wait_uint(x, &fake_socks5_get_stats(x->srv)->accepted, 1, WAIT));
	assert_true(wait_live(x, 0));
	loop_run_for(x->loop, 3 * INTERVAL);
	assert_int_equal(udp_health_state(h), UDP_HEALTH_UNKNOWN);
	assert_routes(h, UDP_ROUTE_ASSOCIATE, UDP_ROUTE_ASSOCIATE);
	udp_health_on_result(h, &(struct socks5_udp_result){.failure = SOCKS5_UDP_PROXY_PROTOCOL,
							    .err = -ECONNRESET});
	assert_int_equal(udp_health_state(h), UDP_HEALTH_UNKNOWN);
	assert_int_equal(x->drops, 0);
}

/* The DNS query a relay check must send: a root NS query, recursion desired. */
static void
assert_probe_query(const struct fake_socks5_stats *fs, const uint8_t *addr)
{
	static const uint8_t tail[15] = {0x01, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 2, 0, 1};

	assert_int_equal(fs->last_dst.type, T2S_ENDPOINT_IPV4);
	assert_memory_equal(fs->last_dst.u.ipv4, addr, 4);
	assert_int_equal(fs->last_dst.port, 53);
	assert_int_equal(fs->last_len, 17);
	assert_memory_equal(fs->last_payload + 2, tail, sizeof(tail));
}

/* A relay that accepts associations and relays nothing: our own query to our own DNS
 * servers goes unanswered (sent twice), and that is detected at start. */
static void
test_silent_relay_detected_at_start(void **state)
{
	struct hx *x = *state;
	struct udp_health *h = new_health_dns(x, CONFIG_UDP_AUTO, fake_socks5_server(x->srv), 2);
	const struct fake_socks5_stats *fs = fake_socks5_get_stats(x->srv);
	ev_tstamp started;

	fake_socks5_set_relay(x->srv, FAKE_SOCKS5_RELAY_SILENT);
	udp_health_start(h);
	started = ev_now(x->loop);
	/* Both servers asked at once, then again. */
	assert_true(wait_uint(x, &fs->datagrams, 2, WAIT));
	assert_true(wait_uint(x, &fs->datagrams, 4, WAIT));
	assert_probe_query(fs, dns_b);
	assert_true(wait_state(x, UDP_HEALTH_SILENT, REPLY_TIMEOUT + WAIT));
	assert_true(ev_now(x->loop) - started >= REPLY_TIMEOUT - SLACK);
	assert_int_equal(udp_health_get_stats(h)->unanswered, 1);
	assert_routes(h, UDP_ROUTE_DNS_TCP, UDP_ROUTE_REFUSE);
	assert_int_equal(x->drops, 1);
	/* The probe's association carried a query: never adopted. */
	assert_int_equal(x->adopted, 0);
	/* Handshakes and old associations' datagrams do not end SILENT. */
	udp_health_on_result(h, &res_ok);
	udp_health_on_datagram(h);
	udp_health_on_dns_sent(h);
	assert_int_equal(udp_health_state(h), UDP_HEALTH_SILENT);
}

/* A relay that stops relaying later: applications' unanswered DNS starts our check,
 * which finds it silent. */
static void
test_silent_relay_detected_later(void **state)
{
	struct hx *x = *state;
	struct udp_health *h = new_health_dns(x, CONFIG_UDP_AUTO, fake_socks5_server(x->srv), 1);
	const struct udp_health_stats *st = udp_health_get_stats(h);

	udp_health_start(h);
	/* The start-up check is answered (the fake relay echoes). */
	assert_true(wait_state(x, UDP_HEALTH_RELAYS, WAIT));
	assert_true(wait_live(x, 0));
	assert_int_equal(x->adopted, 0);
	fake_socks5_set_relay(x->srv, FAKE_SOCKS5_RELAY_SILENT);
	unanswered_dns(x);
	assert_int_equal(udp_health_state(h), UDP_HEALTH_SUSPECT);
	assert_int_equal(st->probes, 2);
	/* While it is checked, nothing changes for anyone. */
	assert_routes(h, UDP_ROUTE_ASSOCIATE, UDP_ROUTE_ASSOCIATE);
	assert_true(wait_state(x, UDP_HEALTH_SILENT, REPLY_TIMEOUT + WAIT));
	assert_probe_query(fake_socks5_get_stats(x->srv), dns_a);
	assert_routes(h, UDP_ROUTE_DNS_TCP, UDP_ROUTE_REFUSE);
	assert_int_equal(x->drops, 1);
}

/*
 * The defect: unanswered port-53 queries (to a blackhole, or to a server of the
 * attacker's that answers TCP but not UDP), with no other UDP coming back, switched all
 * non-DNS UDP to "refused" for everyone, for good. Now they can only start a check of
 * our own, which the working relay answers; routes never change, and checks are at
 * least RECHECK_MIN apart however much is sent.
 */
static void
test_unanswered_app_dns_cannot_force_silent(void **state)
{
	struct hx *x = *state;
	struct udp_health *h = new_health_dns(x, CONFIG_UDP_AUTO, fake_socks5_server(x->srv), 1);
	const struct udp_health_stats *st = udp_health_get_stats(h);
	ev_tstamp t0;

	udp_health_on_result(h, &res_ok);
	assert_true(wait_u64(x, &st->probes, 1, WAIT));
	assert_true(wait_live(x, 0)); /* that check was answered */
	assert_int_equal(udp_health_state(h), UDP_HEALTH_RELAYS);
	t0 = ev_now(x->loop);
	/* RECHECK_MIN + a bit of queries nobody answers, nothing else coming back. */
	while (ev_now(x->loop) - t0 < RECHECK_MIN + 4 * SUSPECT_SECONDS) {
		udp_health_on_dns_sent(h);
		assert_int_not_equal(udp_health_state(h), UDP_HEALTH_SILENT);
		assert_routes(h, UDP_ROUTE_ASSOCIATE, UDP_ROUTE_ASSOCIATE);
		loop_run_for(x->loop, SUSPECT_SECONDS / 2);
	}
	assert_int_equal(udp_health_state(h), UDP_HEALTH_RELAYS);
	assert_int_equal(st->unanswered, 0);
	assert_int_equal(x->drops, 0);
	/* The first check started by them at once; at most one more after RECHECK_MIN. */
	assert_true(st->probes >= 2 && st->probes <= 3);
}

/* Without DNS servers of our own there is no check: applications' traffic changes
 * nothing, and the start-up handshake is the whole test. */
static void
test_no_dns_server_no_relay_check(void **state)
{
	struct hx *x = *state;
	struct udp_health *h = new_health(x, CONFIG_UDP_AUTO, fake_socks5_server(x->srv));
	const struct fake_socks5_stats *fs = fake_socks5_get_stats(x->srv);

	fake_socks5_set_relay(x->srv, FAKE_SOCKS5_RELAY_SILENT);
	udp_health_start(h);
	assert_true(wait_state(x, UDP_HEALTH_RELAYS, WAIT));
	assert_int_equal(x->adopted, 1);
	for (int i = 0; i < 6; i++) {
		udp_health_on_dns_sent(h);
		loop_run_for(x->loop, SUSPECT_SECONDS);
	}
	loop_run_for(x->loop, REPLY_TIMEOUT);
	assert_int_equal(udp_health_state(h), UDP_HEALTH_RELAYS);
	assert_int_equal(udp_health_get_stats(h)->probes, 1);
	assert_int_equal(fs->datagrams, 0);
	assert_routes(h, UDP_ROUTE_ASSOCIATE, UDP_ROUTE_ASSOCIATE);
}

/* A datagram back through any association during a check: the relay works. */
static void
test_datagram_ends_check(void **state)
{
	struct hx *x = *state;
	struct udp_health *h = new_health_dns(x, CONFIG_UDP_AUTO, fake_socks5_server(x->srv), 1);

	udp_health_on_result(h, &res_ok);
	assert_true(wait_live(x, 1));
	assert_true(wait_live(x, 0));
	fake_socks5_set_relay(x->srv, FAKE_SOCKS5_RELAY_SILENT);
	loop_run_for(x->loop, RECHECK_MIN);
	unanswered_dns(x);
	assert_int_equal(udp_health_state(h), UDP_HEALTH_SUSPECT);
	udp_health_on_datagram(h);
	assert_int_equal(udp_health_state(h), UDP_HEALTH_RELAYS);
	/* Its probe is gone: no verdict later. */
	assert_true(wait_live(x, 0));
	loop_run_for(x->loop, REPLY_TIMEOUT + 0.1);
	assert_int_equal(udp_health_state(h), UDP_HEALTH_RELAYS);
}

static void
test_silent_reprobe_with_dns_query(void **state)
{
	struct hx *x = *state;
	struct udp_health *h = new_health_dns(x, CONFIG_UDP_AUTO, fake_socks5_server(x->srv), 1);
	const struct udp_health_stats *st = udp_health_get_stats(h);
	const struct fake_socks5_stats *fs = fake_socks5_get_stats(x->srv);
	ev_tstamp sent;

	fake_socks5_set_relay(x->srv, FAKE_SOCKS5_RELAY_SILENT);
	udp_health_start(h);
	assert_true(wait_state(x, UDP_HEALTH_SILENT, REPLY_TIMEOUT + WAIT));
	assert_int_equal(fs->datagrams, 2);
	/* Re-probed after INTERVAL, with the same server of our own. */
	assert_true(wait_u64(x, &st->probes, 2, WAIT));
	assert_true(wait_uint(x, &fs->datagrams, 3, WAIT));
	sent = ev_now(x->loop);
	assert_probe_query(fs, dns_a);
	/* A handshake alone does not end SILENT, nor is that association adopted. */
	assert_int_equal(udp_health_state(h), UDP_HEALTH_SILENT);
	assert_int_equal(x->adopted, 0);
	/* Unanswered: given up after REPLY_TIMEOUT, asked again later. */
	assert_true(wait_uint(x, &fs->datagrams, 5, REPLY_TIMEOUT + INTERVAL + WAIT));
	assert_true(ev_now(x->loop) - sent >= REPLY_TIMEOUT + INTERVAL - SLACK);
	assert_probe_query(fs, dns_a);
	assert_int_equal(udp_health_state(h), UDP_HEALTH_SILENT);
	assert_int_equal(x->drops, 1);
	/* The relay works again: any datagram back through the probe's association will do. */
	assert_true(fake_socks5_send_to_clients(x->srv, &(struct t2s_endpoint){.type = T2S_ENDPOINT_IPV4,
										.port = 53,
										.u.ipv4 = {198, 18, 0, 53}},
						(const uint8_t *)"answer", 6) >= 1);
	assert_true(wait_state(x, UDP_HEALTH_RELAYS, WAIT));
	assert_routes(h, UDP_ROUTE_ASSOCIATE, UDP_ROUTE_ASSOCIATE);
	/* The answered probe's association is closed. */
	assert_true(wait_live(x, 0));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_new_rejects_missing_hooks, setup, teardown),
		cmocka_unit_test_setup_teardown(test_zero_overrides_mean_defaults, setup, teardown),
		cmocka_unit_test_setup_teardown(test_routes_fixed_modes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_routes_auto_from_results, setup, teardown),
		cmocka_unit_test_setup_teardown(test_startup_probe_relays, setup, teardown),
		cmocka_unit_test_setup_teardown(test_proxy_changed_reprobes_at_once, setup, teardown),
		cmocka_unit_test_setup_teardown(test_proxy_changed_fixed_mode_stays, setup, teardown),
		cmocka_unit_test_setup_teardown(test_startup_probe_unreachable, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rep7_unsupported_then_reprobe, setup, teardown),
		cmocka_unit_test_setup_teardown(test_failed_reprobe_keeps_probing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hung_probe_times_out, setup, teardown),
		cmocka_unit_test_setup_teardown(test_closed_on_associate_unsupported, setup, teardown),
		cmocka_unit_test_setup_teardown(test_no_greeting_is_not_unsupported, setup, teardown),
		cmocka_unit_test_setup_teardown(test_silent_relay_detected_at_start, setup, teardown),
		cmocka_unit_test_setup_teardown(test_silent_relay_detected_later, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unanswered_app_dns_cannot_force_silent, setup, teardown),
		cmocka_unit_test_setup_teardown(test_no_dns_server_no_relay_check, setup, teardown),
		cmocka_unit_test_setup_teardown(test_datagram_ends_check, setup, teardown),
		cmocka_unit_test_setup_teardown(test_silent_reprobe_with_dns_query, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
