/* SPDX-License-Identifier: MIT */
/*
 * udp_pool against the in-loop fake SOCKS5 server: take/fill/give, recycled associations
 * only for their own source, idle drain, backoff after failed associations, spares that
 * die or receive stray datagrams, size 0.
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
#include "udp_pool.h"

#define WAIT 5.0 /* deadline for anything that should happen at once */

struct fx {
	struct ev_loop *loop;
	struct fake_socks5 *srv;
	struct socks5_server refused; /* a loopback port nobody listens on */
	struct udp_pool *pool;
	/* on_result of the pool */
	unsigned results, results_ok;
	enum socks5_udp_failure last_failure;
	ev_tstamp last_failure_at;
	/* the owner of taken or hand-made associations */
	unsigned ready, ready_ok, datagrams, closed;
	uint8_t payload[64];
	size_t len;
};

static void
pool_result_cb(void *arg, const struct socks5_udp_result *res)
{
	struct fx *x = arg;

	x->results++;
	if (res->failure == SOCKS5_UDP_OK) {
		x->results_ok++;
	} else {
		x->last_failure = res->failure;
		x->last_failure_at = ev_now(x->loop);
	}
}

static void
owner_ready_cb(void *arg, const struct socks5_udp_result *res)
{
	struct fx *x = arg;

	x->ready++;
	if (res->failure == SOCKS5_UDP_OK)
		x->ready_ok++;
}

static void
owner_datagram_cb(void *arg, const struct t2s_endpoint *src, const uint8_t *payload, size_t len)
{
	struct fx *x = arg;

	(void)src;
	assert_true(len <= sizeof(x->payload));
	memcpy(x->payload, payload, len);
	x->len = len;
	x->datagrams++;
}

static void
owner_closed_cb(void *arg, int err)
{
	struct fx *x = arg;

	(void)err;
	x->closed++;
}

static const struct socks5_udp_callbacks owner_callbacks = {
	.on_ready = owner_ready_cb,
	.on_datagram = owner_datagram_cb,
	.on_closed = owner_closed_cb,
};

static int
setup(void **state)
{
	struct fx *x = calloc(1, sizeof(*x));

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
	struct fx *x = *state;

	udp_pool_free(x->pool);
	fake_socks5_free(x->srv);
	ev_loop_destroy(x->loop);
	free(x);
	return 0;
}

static void
new_pool(struct fx *x, const struct socks5_server *server, unsigned size, double idle)
{
	x->pool = udp_pool_new(x->loop, server, NULL, size, idle, pool_result_cb, x);
	assert_non_null(x->pool);
}

/* Predicates for loop_run_until. */
struct ready_want {
	struct fx *x;
	unsigned n;
};

static bool
pool_ready_is(void *arg)
{
	struct ready_want *w = arg;

	return udp_pool_ready(w->x->pool) == w->n;
}

static bool
wait_ready(struct fx *x, unsigned n)
{
	struct ready_want w = {x, n};

	return loop_run_until(x->loop, pool_ready_is, &w, WAIT);
}

static bool
wait_live(struct fx *x, unsigned n)
{
	return fake_socks5_wait_live(x->srv, n, WAIT);
}

/* Runs until *counter >= want. */
static bool
wait_uint(struct fx *x, const unsigned *counter, unsigned want)
{
	return loop_wait_uint(x->loop, counter, want, WAIT);
}

/* Runs until a pool or server counter reaches want. */
static bool
wait_u64(struct fx *x, const uint64_t *counter, uint64_t want)
{
	return loop_wait_u64(x->loop, counter, want, WAIT);
}

/* An association made by the test itself, up and running. */
static struct socks5_udp *
own_association(struct fx *x)
{
	unsigned want = x->ready_ok + 1;
	struct socks5_udp *s = socks5_udp_new(x->loop, fake_socks5_server(x->srv), NULL, &owner_callbacks, x);

	assert_non_null(s);
	assert_true(wait_uint(x, &x->ready_ok, want));
	assert_true(socks5_udp_is_ready(s));
	return s;
}

static const struct t2s_endpoint dst = {.type = T2S_ENDPOINT_IPV4, .port = 53, .u.ipv4 = {198, 18, 0, 1}};
/* Applications' source endpoints: two ports of one host, and another host. */
static const struct t2s_endpoint src_a = {.type = T2S_ENDPOINT_IPV4, .port = 40000, .u.ipv4 = {198, 18, 128, 1}};
static const struct t2s_endpoint src_b = {.type = T2S_ENDPOINT_IPV4, .port = 40001, .u.ipv4 = {198, 18, 128, 1}};
static const struct t2s_endpoint src_c = {.type = T2S_ENDPOINT_IPV4, .port = 40000, .u.ipv4 = {198, 18, 128, 2}};

static void
test_new_rejects_bad_idle(void **state)
{
	struct fx *x = *state;

	errno = 0;
	assert_null(udp_pool_new(x->loop, fake_socks5_server(x->srv), NULL, 2, 0, NULL, NULL));
	assert_int_equal(errno, EINVAL);
}

static void
test_take_miss_fill_hit(void **state)
{
	struct fx *x = *state;
	const struct udp_pool_stats *st;
	struct socks5_udp *s;

	new_pool(x, fake_socks5_server(x->srv), 2, 30);
	st = udp_pool_get_stats(x->pool);
	/* Nothing is opened before the first take. */
	assert_int_equal(st->opened, 0);
	assert_null(udp_pool_take(x->pool, &src_a, &owner_callbacks, x));
	assert_int_equal(st->misses, 1);
	assert_int_equal(st->opened, 2);
	assert_int_equal(udp_pool_ready(x->pool), 0);
	assert_true(wait_ready(x, 2));
	assert_int_equal(x->results, 2);
	assert_int_equal(x->results_ok, 2);
	assert_int_equal(fake_socks5_get_stats(x->srv)->associated, 2);

	s = udp_pool_take(x->pool, &src_a, &owner_callbacks, x);
	assert_non_null(s);
	assert_true(socks5_udp_is_ready(s));
	assert_int_equal(st->hits, 1);
	assert_int_equal(st->misses, 1);
	/* The take refills: one new spare on its way, one still ready. */
	assert_int_equal(st->opened, 3);
	assert_int_equal(udp_pool_ready(x->pool), 1);
	/* The taken association is the caller's now: its echo reaches the new callbacks and
	 * on_ready is not repeated. */
	assert_int_equal(socks5_udp_send(s, &dst, (const uint8_t *)"ping", 4), 0);
	assert_true(wait_uint(x, &x->datagrams, 1));
	assert_int_equal(x->len, 4);
	assert_memory_equal(x->payload, "ping", 4);
	assert_int_equal(x->ready, 0);
	assert_int_equal(st->stray_datagrams, 0);
	assert_true(wait_ready(x, 2));
	socks5_udp_free(s);
	assert_true(wait_live(x, 2));
	assert_int_equal(st->failed, 0);
	assert_int_equal(st->closed, 0);
}

static void
test_give_keeps_up_to_size(void **state)
{
	struct fx *x = *state;
	const struct udp_pool_stats *st;
	struct socks5_udp *a, *b, *c, *s;

	new_pool(x, fake_socks5_server(x->srv), 2, 30);
	st = udp_pool_get_stats(x->pool);
	a = own_association(x);
	b = own_association(x);
	c = own_association(x);
	assert_int_equal(fake_socks5_get_stats(x->srv)->live, 3);
	udp_pool_give(x->pool, a, &src_a);
	udp_pool_give(x->pool, b, &src_b);
	assert_int_equal(st->recycled, 2);
	/* Recycled spares are not fresh: a new source cannot have them. */
	assert_int_equal(udp_pool_ready(x->pool), 0);
	/* No room for the third: closed, which the proxy sees. */
	udp_pool_give(x->pool, c, &src_c);
	assert_int_equal(st->recycled, 2);
	assert_int_equal(st->closed, 1);
	assert_true(wait_live(x, 2));
	/* Giving never opens anything. */
	assert_int_equal(st->opened, 0);
	/* A given association goes back to its own source, and works for it. */
	s = udp_pool_take(x->pool, &src_b, &owner_callbacks, x);
	assert_ptr_equal(s, b);
	assert_int_equal(st->hits, 1);
	assert_int_equal(st->reused, 1);
	assert_int_equal(socks5_udp_send(s, &dst, (const uint8_t *)"again", 5), 0);
	assert_true(wait_uint(x, &x->datagrams, 1));
	assert_memory_equal(x->payload, "again", 5);
	socks5_udp_free(s);
	s = udp_pool_take(x->pool, &src_a, &owner_callbacks, x);
	assert_ptr_equal(s, a);
	socks5_udp_free(s);
}

/*
 * The defect: an association released by an idle mapping served the next new mapping
 * from any source, so the first owner's peers could reach the second, who left through
 * the first's public endpoint at the proxy. Another source gets a fresh spare, or none.
 */
static void
test_recycled_not_given_to_other_source(void **state)
{
	struct fx *x = *state;
	const struct udp_pool_stats *st;
	struct socks5_udp *a, *s;

	new_pool(x, fake_socks5_server(x->srv), 1, 30);
	st = udp_pool_get_stats(x->pool);
	udp_pool_fill(x->pool);
	assert_true(wait_ready(x, 1));
	a = own_association(x);
	udp_pool_give(x->pool, a, &src_a);
	/* Another port of the same host: the fresh spare. */
	s = udp_pool_take(x->pool, &src_b, &owner_callbacks, x);
	assert_non_null(s);
	assert_ptr_not_equal(s, a);
	assert_int_equal(st->reused, 0);
	socks5_udp_free(s);
	/* Another host while no fresh spare is ready (the refill is still on its way):
	 * a miss, not the recycled one. */
	assert_int_equal(udp_pool_ready(x->pool), 0);
	assert_null(udp_pool_take(x->pool, &src_c, &owner_callbacks, x));
	assert_int_equal(st->misses, 1);
	/* Fresh spares still work for new sources. */
	assert_true(wait_ready(x, 1));
	s = udp_pool_take(x->pool, &src_c, &owner_callbacks, x);
	assert_non_null(s);
	assert_ptr_not_equal(s, a);
	assert_int_equal(socks5_udp_send(s, &dst, (const uint8_t *)"fresh", 5), 0);
	assert_true(wait_uint(x, &x->datagrams, 1));
	assert_memory_equal(x->payload, "fresh", 5);
	socks5_udp_free(s);
	/* Its own source gets it back. */
	s = udp_pool_take(x->pool, &src_a, &owner_callbacks, x);
	assert_ptr_equal(s, a);
	assert_int_equal(st->reused, 1);
	socks5_udp_free(s);
}

/* A recycled spare whose source does not come back is closed after idle, even while
 * other sources keep taking (which postpones the pool's own drain). */
static void
test_recycled_expires_despite_takes(void **state)
{
	struct fx *x = *state;
	const struct udp_pool_stats *st;
	const double idle = 0.3;
	struct socks5_udp *a, *s;
	ev_tstamp given;

	new_pool(x, fake_socks5_server(x->srv), 1, idle);
	st = udp_pool_get_stats(x->pool);
	a = own_association(x);
	udp_pool_give(x->pool, a, &src_a);
	given = ev_now(x->loop);
	while (st->closed == 0) {
		assert_true(ev_now(x->loop) - given < idle + WAIT);
		s = udp_pool_take(x->pool, &src_b, &owner_callbacks, x);
		socks5_udp_free(s);
		loop_run_for(x->loop, idle / 6);
	}
	assert_true(ev_now(x->loop) - given >= idle - 0.001);
	assert_int_equal(st->reused, 0);
	/* Gone: its source now gets a fresh one or none. */
	s = udp_pool_take(x->pool, &src_a, &owner_callbacks, x);
	assert_int_equal(st->reused, 0);
	socks5_udp_free(s);
}

static void
test_give_dead_closes(void **state)
{
	struct fx *x = *state;
	const struct udp_pool_stats *st;
	struct socks5_udp *a;

	new_pool(x, fake_socks5_server(x->srv), 2, 30);
	st = udp_pool_get_stats(x->pool);
	a = own_association(x);
	fake_socks5_close_all(x->srv);
	assert_true(wait_uint(x, &x->closed, 1));
	assert_false(socks5_udp_is_ready(a));
	udp_pool_give(x->pool, a, &src_a);
	assert_int_equal(udp_pool_ready(x->pool), 0);
	assert_int_equal(st->recycled, 0);
	assert_int_equal(st->closed, 1);
	/* Nothing left that could call back into the test. */
	loop_run_for(x->loop, 0.05);
	assert_int_equal(x->closed, 1);
}

static void
test_idle_drain(void **state)
{
	struct fx *x = *state;
	const struct udp_pool_stats *st;
	const double idle = 0.2;
	struct socks5_udp *s;
	ev_tstamp last_take;

	new_pool(x, fake_socks5_server(x->srv), 2, idle);
	st = udp_pool_get_stats(x->pool);
	assert_null(udp_pool_take(x->pool, &src_a, &owner_callbacks, x));
	assert_true(wait_ready(x, 2));
	/* A take half-way through the idle time postpones the drain. */
	loop_run_for(x->loop, idle / 4);
	assert_int_equal(udp_pool_ready(x->pool), 2);
	s = udp_pool_take(x->pool, &src_a, &owner_callbacks, x);
	assert_non_null(s);
	last_take = ev_now(x->loop);
	assert_true(wait_ready(x, 2));
	assert_true(wait_ready(x, 0));
	/* Never earlier than idle after the last take (1 ms slack for clock rounding). */
	assert_true(ev_now(x->loop) - last_take >= idle - 0.001);
	assert_int_equal(st->closed, 2);
	/* The proxy sees the spares go; the taken association stays. */
	assert_true(wait_live(x, 1));
	assert_true(socks5_udp_is_ready(s));
	socks5_udp_free(s);
	assert_true(wait_live(x, 0));
	/* A new take starts over. */
	assert_null(udp_pool_take(x->pool, &src_a, &owner_callbacks, x));
	assert_true(wait_ready(x, 2));
}

static void
test_given_spares_drain_when_idle(void **state)
{
	struct fx *x = *state;
	const double idle = 0.2;
	struct socks5_udp *a;
	ev_tstamp given;

	new_pool(x, fake_socks5_server(x->srv), 2, idle);
	a = own_association(x);
	udp_pool_give(x->pool, a, NULL); /* never used by an application: fresh */
	given = ev_now(x->loop);
	assert_int_equal(udp_pool_ready(x->pool), 1);
	assert_true(wait_ready(x, 0));
	assert_true(ev_now(x->loop) - given >= idle - 0.001);
	assert_true(wait_live(x, 0));
	/* A recycled one likewise. */
	a = own_association(x);
	udp_pool_give(x->pool, a, &src_a);
	given = ev_now(x->loop);
	assert_true(wait_live(x, 0));
	assert_true(ev_now(x->loop) - given >= idle - 0.001);
}

static void
test_refused_backoff(void **state)
{
	struct fx *x = *state;
	const struct udp_pool_stats *st;

	new_pool(x, &x->refused, 2, 30);
	st = udp_pool_get_stats(x->pool);
	assert_null(udp_pool_take(x->pool, &src_a, &owner_callbacks, x));
	assert_int_equal(st->opened, 2);
	assert_true(wait_u64(x, &st->failed, 2));
	assert_int_equal(x->results, 2);
	assert_int_equal(x->results_ok, 0);
	assert_int_equal(x->last_failure, SOCKS5_UDP_PROXY_UNREACHABLE);
	assert_int_equal(st->closed, 2);
	assert_int_equal(udp_pool_ready(x->pool), 0);
	/* Within the backoff neither a take nor an explicit fill opens anything. */
	ev_now_update(x->loop);
	assert_true(ev_now(x->loop) < x->last_failure_at + UDP_POOL_FILL_BACKOFF);
	assert_null(udp_pool_take(x->pool, &src_a, &owner_callbacks, x));
	udp_pool_fill(x->pool);
	assert_int_equal(st->opened, 2);
	assert_int_equal(st->misses, 2);
	/* After it, the next take tries again. */
	loop_run_for(x->loop, UDP_POOL_FILL_BACKOFF);
	assert_true(ev_now(x->loop) >= x->last_failure_at + UDP_POOL_FILL_BACKOFF);
	assert_null(udp_pool_take(x->pool, &src_a, &owner_callbacks, x));
	assert_int_equal(st->opened, 4);
	assert_true(wait_u64(x, &st->failed, 4));
}

static void
test_spare_closed_by_proxy_removed(void **state)
{
	struct fx *x = *state;
	const struct udp_pool_stats *st;

	new_pool(x, fake_socks5_server(x->srv), 2, 30);
	st = udp_pool_get_stats(x->pool);
	udp_pool_fill(x->pool);
	assert_int_equal(st->opened, 2);
	assert_true(wait_ready(x, 2));
	fake_socks5_close_all(x->srv);
	assert_true(wait_ready(x, 0));
	assert_int_equal(st->closed, 2);
	assert_int_equal(st->failed, 0);
	/* The next take misses instead of handing out a dead association. */
	assert_null(udp_pool_take(x->pool, &src_a, &owner_callbacks, x));
	assert_int_equal(st->misses, 1);
	assert_true(wait_ready(x, 2));
}

static void
test_stray_datagram_counted(void **state)
{
	struct fx *x = *state;
	const struct udp_pool_stats *st;
	struct socks5_udp *s;

	new_pool(x, fake_socks5_server(x->srv), 1, 30);
	st = udp_pool_get_stats(x->pool);
	udp_pool_fill(x->pool);
	assert_true(wait_ready(x, 1));
	assert_int_equal(fake_socks5_send_to_clients(x->srv, &dst, (const uint8_t *)"late", 4), 1);
	assert_true(wait_u64(x, &st->stray_datagrams, 1));
	/* The spare stays usable, and the stray reply did not reach the next owner. */
	assert_int_equal(udp_pool_ready(x->pool), 1);
	s = udp_pool_take(x->pool, &src_a, &owner_callbacks, x);
	assert_non_null(s);
	assert_int_equal(x->datagrams, 0);
	socks5_udp_free(s);
}

static void
test_drain_closes_pending_spares(void **state)
{
	struct fx *x = *state;
	const struct udp_pool_stats *st;

	fake_socks5_set_reply(x->srv, FAKE_SOCKS5_REPLY_HOLD);
	new_pool(x, fake_socks5_server(x->srv), 3, 30);
	st = udp_pool_get_stats(x->pool);
	udp_pool_fill(x->pool);
	assert_true(wait_live(x, 3));
	assert_int_equal(udp_pool_ready(x->pool), 0);
	udp_pool_drain(x->pool);
	assert_int_equal(st->closed, 3);
	assert_true(wait_live(x, 0));
	/* Answers to requests that were still held cannot reach a freed spare. */
	fake_socks5_release(x->srv);
	loop_run_for(x->loop, 0.05);
	assert_int_equal(x->results, 0);
}

static void
test_size_zero(void **state)
{
	struct fx *x = *state;
	const struct udp_pool_stats *st;
	struct socks5_udp *a;

	new_pool(x, fake_socks5_server(x->srv), 0, 30);
	st = udp_pool_get_stats(x->pool);
	assert_null(udp_pool_take(x->pool, &src_a, &owner_callbacks, x));
	udp_pool_fill(x->pool);
	assert_int_equal(st->misses, 1);
	assert_int_equal(st->opened, 0);
	assert_int_equal(fake_socks5_get_stats(x->srv)->accepted, 0);
	a = own_association(x);
	udp_pool_give(x->pool, a, &src_a);
	assert_int_equal(st->recycled, 0);
	assert_int_equal(st->closed, 1);
	assert_int_equal(udp_pool_ready(x->pool), 0);
	assert_true(wait_live(x, 0));
	assert_int_equal(fake_socks5_get_stats(x->srv)->accepted, 1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_new_rejects_bad_idle, setup, teardown),
		cmocka_unit_test_setup_teardown(test_take_miss_fill_hit, setup, teardown),
		cmocka_unit_test_setup_teardown(test_give_keeps_up_to_size, setup, teardown),
		cmocka_unit_test_setup_teardown(test_recycled_not_given_to_other_source, setup, teardown),
		cmocka_unit_test_setup_teardown(test_recycled_expires_despite_takes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_give_dead_closes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_idle_drain, setup, teardown),
		cmocka_unit_test_setup_teardown(test_given_spares_drain_when_idle, setup, teardown),
		cmocka_unit_test_setup_teardown(test_refused_backoff, setup, teardown),
		cmocka_unit_test_setup_teardown(test_spare_closed_by_proxy_removed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stray_datagram_counted, setup, teardown),
		cmocka_unit_test_setup_teardown(test_drain_closes_pending_spares, setup, teardown),
		cmocka_unit_test_setup_teardown(test_size_zero, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
