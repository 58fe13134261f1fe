/* SPDX-License-Identifier: MIT */
/*
 * tcp_flow in process, through the engine's top-level API only (t2s_new on a TUN that
 * is one end of a socketpair): a scripted application (support/tcp_peer.c) on the other
 * end, the in-loop fake SOCKS5 server answering CONNECT, and the target played by the
 * test on the socket of that CONNECT. Everything runs on one libev loop, lwIP's timers
 * included; waits are bounded by deadlines, never sleeps.
 *
 * Covered: the handshake gated on the proxy (SYN|ACK only after REP 0; RST for a refusal;
 * ICMP for unreachable); bytes both ways, checked byte by byte; the three close orders,
 * each with a backlog toward the target held for longer than lwIP's TIME_WAIT after the
 * last FIN (issue 9 item 1: the app's FIN in FIN_WAIT_2 moves the pcb to TIME_WAIT, lwIP
 * frees it 4 s later, the backlog is delivered after that); RST relayed each way;
 * backpressure each way (bounded, then resumed without a byte lost).
 */
#include <arpa/inet.h>
#include <errno.h>
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
#include <lwip/priv/tcp_priv.h>

#include "config.h"
#include "log.h"
#include "lwip_port.h"
#include "support/engine_fixture.h"
#include "support/fake_socks5.h"
#include "support/tcp_peer.h"
#include "t2s.h"
#include "tcp_flow.h"
#include "tun.h"

#define APP_ADDR "198.18.0.1"
#define DST_ADDR "198.19.0.10"
#define DST_PORT 8080
#define WAIT 10.0       /* deadline for what should happen at once */
#define BULK_WAIT 60.0  /* deadline for transfers of some MB (ASan, a loaded machine) */
/* lwIP frees a TIME_WAIT pcb 2 * TCP_MSL (4 s) after it entered it, checked every 0.1 s. */
#define PAST_TIME_WAIT 5.0
/* More than any path of this test can hold (lwIP's window, socket buffers). */
#define ENDLESS (256ull * 1024 * 1024)
/* What a stalled direction may have taken in before it stops (generous: lwIP's 1 MiB
 * send buffer or 64 KiB window, plus the kernel's socket buffers). */
#define STALL_BOUND (24ull * 1024 * 1024)

static struct ev_loop *g_loop;
static uint16_t g_next_port = 20000;

/* shutdown(2) calls on descriptors other than the test's target end (linked with
 * -Wl,--wrap=shutdown): tun2socks' half-closes of its proxy sockets. */
static unsigned g_shutdowns;
static int g_shutdown_skip_fd = -1;
int __real_shutdown(int fd, int how);
int __wrap_shutdown(int fd, int how);

int
__wrap_shutdown(int fd, int how)
{
	if (fd != g_shutdown_skip_fd)
		g_shutdowns++;
	return __real_shutdown(fd, how);
}

/* Runs the loop until cond holds or secs pass. */
#define ASSERT_WITHIN(cond, secs) \
	do { \
		WAIT_UNTIL(g_loop, cond, secs); \
		assert_true(cond); \
	} while (0)
#define RUN_FOR(secs) WAIT_UNTIL(g_loop, false, secs)

struct fx {
	struct fake_socks5 *fake;
	struct t2s_config cfg;
	struct t2s *t;
	struct tun_peer *peer;
	struct tcp_app *app;
	struct tcp_target *target;
};

static int
setup(void **state)
{
	struct fx *x = calloc(1, sizeof(*x));

	assert_non_null(x);
	x->fake = fake_socks5_new(g_loop);
	/* A small receive buffer: a target that stops reading fills up soon. */
	fake_socks5_set_rcvbuf(x->fake, 64 * 1024);
	config_defaults(&x->cfg);
	x->cfg.mtu = 1500;
	x->cfg.udp_mode = CONFIG_UDP_BLOCK; /* no association at start-up: TCP only */
	x->cfg.udp_pool = 0;
	engine_fixture_open(g_loop, &x->cfg, fake_socks5_server(x->fake), 4 << 20, &x->t, &x->peer);
	*state = x;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *x = *state;

	if (x->app != NULL && getenv("T2S_TEST_DEBUG") != NULL)
		print_message("app: %llu sent, %llu received, %u probes\n", (unsigned long long)x->app->tx_sent,
			      (unsigned long long)x->app->rx_bytes, x->app->probes);
	assert_int_equal(x->peer->bad_csum, 0);
	tcp_target_free(x->target);
	tcp_app_free(x->app);
	t2s_free(x->t);
	tun_peer_free(x->peer);
	fake_socks5_free(x->fake);
	free(x);
	return 0;
}

static struct tcp_app *
new_app(struct fx *x)
{
	uint16_t port = g_next_port++;

	return tcp_app_new(x->peer, APP_ADDR, port, DST_ADDR, DST_PORT, 0xa11ce000u + port, 0xb0b00000u + port);
}

/* An established flow: x->app connected, x->target its CONNECT's socket. */
static void
open_flow_scaled(struct fx *x, bool wscale)
{
	unsigned before = fake_socks5_get_stats(x->fake)->connected;
	struct t2s_endpoint dst;
	int fd;

	x->app = new_app(x);
	x->app->offer_wscale = wscale;
	tcp_app_connect(x->app);
	ASSERT_WITHIN(x->app->established && fake_socks5_get_stats(x->fake)->connected > before, WAIT);
	fd = fake_socks5_take_target(x->fake, &dst);
	assert_true(fd >= 0);
	assert_int_equal(dst.type, T2S_ENDPOINT_IPV4);
	assert_int_equal(dst.port, DST_PORT);
	x->target = tcp_target_new(g_loop, fd, x->app->rx_seed, x->app->tx_seed);
}

static void
open_flow(struct fx *x)
{
	open_flow_scaled(x, true);
}

/* The app uploads until its window is down to reserve with all acknowledged: the target
 * reads nothing, and tun2socks holds what the proxy socket would not take. */
static void
stall_upload(struct fx *x, uint32_t reserve)
{
	tcp_target_set_reading(x->target, false);
	x->app->wnd_reserve = reserve;
	tcp_app_send(x->app, ENDLESS);
	ASSERT_WITHIN(tcp_app_all_acked(x->app) && x->app->snd_wnd <= reserve && x->app->tx_sent > 0, BULK_WAIT);
	assert_true(x->app->tx_sent < STALL_BOUND);
	x->app->tx_limit = x->app->tx_sent; /* nothing more to send */
}

/* The target reads everything: the app's bytes, exact, then EOF (no reset). */
static void
drain_target(struct fx *x)
{
	tcp_target_read_upto(x->target, UINT64_MAX);
	ASSERT_WITHIN(x->target->rx_eof || x->target->rx_err != 0, BULK_WAIT);
	assert_int_equal(x->target->rx_err, 0);
	assert_false(x->target->rx_bad);
	assert_int_equal(x->target->rx_bytes, x->app->tx_sent);
}

/* ---- handshake ----------------------------------------------------------------- */

/* No SYN|ACK while the CONNECT is pending; a retransmitted SYN makes no second CONNECT;
 * REP 0 releases the handshake, and the flow relays. */
static void
test_handshake_waits_for_connect(void **state)
{
	struct fx *x = *state;
	const struct fake_socks5_stats *st = fake_socks5_get_stats(x->fake);
	struct t2s_endpoint dst;
	int fd;

	fake_socks5_set_connect_rep(x->fake, FAKE_SOCKS5_CONNECT_HOLD);
	x->app = new_app(x);
	tcp_app_connect(x->app);
	ASSERT_WITHIN(st->held == 1, WAIT);
	RUN_FOR(0.3);
	tcp_app_connect(x->app); /* the application's SYN retransmission */
	RUN_FOR(0.3);
	assert_int_equal(x->app->synacks, 0);
	assert_int_equal(x->app->rsts, 0);
	assert_int_equal(st->connects, 1);

	fake_socks5_release(x->fake);
	ASSERT_WITHIN(x->app->established, WAIT);
	fd = fake_socks5_take_target(x->fake, &dst);
	assert_true(fd >= 0);
	assert_int_equal(dst.type, T2S_ENDPOINT_IPV4);
	assert_memory_equal(dst.u.ipv4, x->app->daddr, 4);
	assert_int_equal(dst.port, DST_PORT);
	x->target = tcp_target_new(g_loop, fd, x->app->rx_seed, x->app->tx_seed);
	tcp_app_send(x->app, 5000);
	tcp_target_send(x->target, 7000);
	ASSERT_WITHIN(x->target->rx_bytes == 5000 && x->app->rx_bytes == 7000, WAIT);
	assert_false(x->target->rx_bad);
	assert_false(x->app->rx_bad);
}

/* The proxy answers near the end of --connect-timeout and the application's ACK of the
 * SYN|ACK comes after it (a loaded host, a lost SYN|ACK): the handshake gets its own
 * time, and the connection relays instead of meeting a RST (t26 under valgrind). */
static void
test_handshake_outlives_connect_timeout(void **state)
{
	struct fx *x = *state;
	const struct fake_socks5_stats *st = fake_socks5_get_stats(x->fake);
	struct t2s_endpoint dst;
	int fd;

	x->cfg.connect_timeout = 1.0;
	fake_socks5_set_connect_rep(x->fake, FAKE_SOCKS5_CONNECT_HOLD);
	x->app = new_app(x);
	tcp_app_connect(x->app);
	ASSERT_WITHIN(st->held == 1, WAIT);
	RUN_FOR(0.7);
	tun_peer_hold(x->peer, true); /* the SYN|ACK is not seen yet */
	fake_socks5_release(x->fake);
	RUN_FOR(0.8); /* past what was left of --connect-timeout */
	tun_peer_hold(x->peer, false);
	ASSERT_WITHIN(x->app->established, WAIT);
	fd = fake_socks5_take_target(x->fake, &dst);
	assert_true(fd >= 0);
	x->target = tcp_target_new(g_loop, fd, x->app->rx_seed, x->app->tx_seed);
	tcp_app_send(x->app, 5000);
	tcp_target_send(x->target, 7000);
	ASSERT_WITHIN((x->target->rx_bytes == 5000 && x->app->rx_bytes == 7000) || x->app->rsts > 0, WAIT);
	assert_int_equal(x->app->rsts, 0);
	assert_int_equal(x->target->rx_bytes, 5000);
	assert_int_equal(x->app->rx_bytes, 7000);
}

/* REP 5 (connection refused): the application gets RST for its SYN, never SYN|ACK. */
static void
test_refused_gets_rst(void **state)
{
	struct fx *x = *state;

	fake_socks5_set_connect_rep(x->fake, 5);
	x->app = new_app(x);
	tcp_app_connect(x->app);
	ASSERT_WITHIN(x->app->rsts == 1, WAIT);
	RUN_FOR(0.1);
	assert_int_equal(x->app->synacks, 0);
	assert_int_equal(x->app->icmps, 0);
}

/* REP 4, 3, 2: ICMP host / net / administratively unreachable quoting the SYN. */
static void
test_unreachable_gets_icmp(void **state)
{
	static const struct {
		int rep;
		uint8_t code;
	} cases[] = {{4, 1}, {3, 0}, {2, 13}};
	struct fx *x = *state;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct tcp_app *a;

		fake_socks5_set_connect_rep(x->fake, cases[i].rep);
		a = new_app(x);
		tcp_app_connect(a);
		WAIT_UNTIL(g_loop, a->icmps == 1, WAIT);
		RUN_FOR(0.1);
		assert_int_equal(a->icmps, 1);
		assert_int_equal(a->icmp_type, 3);
		assert_int_equal(a->icmp_code, cases[i].code);
		assert_int_equal(a->synacks, 0);
		assert_int_equal(a->rsts, 0);
		tcp_app_free(a);
	}
}

/* ---- several proxies ------------------------------------------------------------- */

struct proxy_counts {
	uint64_t picked[2], retried[2], failed[2], ok[2];
};

static void
count_proxy(void *arg, unsigned idx, bool up, bool active, const struct proxy_set_stats *st)
{
	struct proxy_counts *c = arg;

	(void)up;
	(void)active;
	if (idx < 2) {
		c->picked[idx] = st->picked;
		c->retried[idx] = st->retried;
		c->failed[idx] = st->flow_failed;
		c->ok[idx] = st->flow_ok;
	}
}

/* A listening TCP socket on 127.0.0.1 that never accepts: connects complete (the
 * kernel's backlog), nothing is ever answered. Returns the fd; *srv is its address. */
static int
silent_listener(struct socks5_server *srv)
{
	struct sockaddr_in sin = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof(sin);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	assert_int_equal(listen(fd, 16), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sin, &len), 0);
	memset(srv, 0, sizeof(*srv));
	memcpy(&srv->addr, &sin, sizeof(sin));
	srv->addrlen = sizeof(sin);
	return fd;
}

/* An address nothing listens on (a port bound and closed again). */
static void
refusing_server(struct socks5_server *srv)
{
	int fd = silent_listener(srv);

	close(fd);
}

/*
 * Proxy 0 first with the fake as the backup: x->t gets first as its first proxy and
 * the fake after it. The checks run once an hour, so only flows judge.
 */
static void
first_then_fake(struct fx *x, const struct socks5_server *first)
{
	struct socks5_server fake = *fake_socks5_server(x->fake);

	x->cfg.proxy_check_interval = 3600;
	t2s_set_proxy(x->t, first);
	assert_int_equal(t2s_set_backups(x->t, &fake, 1), 0);
}

/* The first proxy refuses TCP: the SYN is tried on the second inside the gate, and
 * the application's connect succeeds, no RST. */
static void
test_retry_on_refusing_proxy(void **state)
{
	struct fx *x = *state;
	struct socks5_server refusing;
	struct proxy_counts c = {0};

	refusing_server(&refusing);
	first_then_fake(x, &refusing);
	open_flow(x);
	assert_int_equal(x->app->rsts, 0);
	assert_int_equal(x->app->icmps, 0);
	t2s_proxies(x->t, count_proxy, &c);
	assert_int_equal(c.picked[0], 1);
	assert_int_equal(c.retried[0], 1);
	assert_int_equal(c.failed[0], 1);
	assert_int_equal(c.ok[1], 1);
}

/* The first proxy accepts and never answers: after --proxy-check-timeout the SYN
 * moves on to the second, well within --connect-timeout. */
static void
test_retry_on_silent_proxy(void **state)
{
	struct fx *x = *state;
	struct socks5_server silent;
	struct proxy_counts c = {0};
	double t0;
	int fd = silent_listener(&silent);

	x->cfg.proxy_check_timeout = 0.3;
	first_then_fake(x, &silent);
	t0 = ev_time();
	open_flow(x);
	assert_true(ev_time() - t0 >= 0.25);
	assert_true(ev_time() - t0 < x->cfg.connect_timeout);
	assert_int_equal(x->app->rsts, 0);
	t2s_proxies(x->t, count_proxy, &c);
	assert_int_equal(c.retried[0], 1);
	assert_int_equal(c.failed[0], 1);
	close(fd);
}

/* The target refuses (REP 5 from the first proxy): the proxy answered, so no retry on
 * the second: the application gets its RST. */
static void
test_no_retry_on_target_refusal(void **state)
{
	struct fx *x = *state;
	struct fake_socks5 *second = fake_socks5_new(g_loop);
	struct socks5_server b = *fake_socks5_server(second);
	struct proxy_counts c = {0};

	x->cfg.proxy_check_interval = 3600;
	fake_socks5_set_connect_rep(x->fake, 5);
	assert_int_equal(t2s_set_backups(x->t, &b, 1), 0);
	x->app = new_app(x);
	tcp_app_connect(x->app);
	ASSERT_WITHIN(x->app->rsts == 1, WAIT);
	RUN_FOR(0.2);
	assert_int_equal(x->app->synacks, 0);
	assert_int_equal(fake_socks5_get_stats(second)->connects, 0);
	t2s_proxies(x->t, count_proxy, &c);
	assert_int_equal(c.retried[0], 0);
	assert_int_equal(c.ok[0], 1);
	fake_socks5_free(second);
}

/* ---- data ---------------------------------------------------------------------- */

/* 4 MB each way at once, byte-exact, then an orderly close. */
static void
test_data_both_ways(void **state)
{
	struct fx *x = *state;
	const uint64_t n = 4u << 20;

	open_flow(x);
	tcp_app_send(x->app, n);
	tcp_target_send(x->target, n);
	ASSERT_WITHIN(x->target->rx_bytes == n && x->app->rx_bytes == n, BULK_WAIT);
	assert_false(x->target->rx_bad);
	assert_false(x->app->rx_bad);
	tcp_app_close(x->app);
	tcp_target_shutdown(x->target);
	ASSERT_WITHIN(x->app->got_fin && x->app->fin_acked && x->target->rx_eof, WAIT);
	assert_int_equal(x->app->rsts, 0);
	assert_int_equal(x->target->rx_err, 0);
}

/* ---- accounting ---------------------------------------------------------------- */

static int
stop_walk(void *arg, const struct flow_info *info)
{
	(void)arg;
	(void)info;
	return 7;
}

struct seen_flows {
	unsigned n;
	struct flow_info last;
};

static int
remember_flow(void *arg, const struct flow_info *info)
{
	struct seen_flows *s = arg;

	s->n++;
	s->last = *info;
	return 0;
}

/* Bytes each way as written to the proxy and read from it, the tuple as the app sees
 * it, the state, the start and connect times; the flow leaves the table when closed. */
static void
test_flow_accounting(void **state)
{
	struct fx *x = *state;
	struct seen_flows s = {0};
	const uint64_t up = 300000, down = 700000;
	uint8_t dst[4];

	open_flow(x);
	assert_int_equal(tcp_flows_foreach(x->t->tcp, remember_flow, &s), 0);
	assert_int_equal(s.n, 1);
	assert_int_equal(s.last.key.proto, 6);
	assert_int_equal(s.last.key.dst_port, DST_PORT);
	assert_int_equal(s.last.key.app_port, x->app->sport);
	inet_pton(AF_INET, DST_ADDR, dst);
	assert_memory_equal(s.last.key.dst_addr, dst, 4);
	assert_true(s.last.connected >= s.last.started && s.last.started > 0);
	assert_string_equal(s.last.host, "");
	tcp_app_send(x->app, up);
	tcp_target_send(x->target, down);
	ASSERT_WITHIN(x->target->rx_bytes == up && x->app->rx_bytes == down, BULK_WAIT);
	s.n = 0;
	assert_int_equal(tcp_flows_foreach(x->t->tcp, remember_flow, &s), 0);
	assert_int_equal(s.n, 1);
	assert_string_equal(s.last.state, "relaying");
	assert_int_equal(s.last.bytes_out, up);
	assert_int_equal(s.last.bytes_in, down);
	assert_int_equal(s.last.packets_out, 0);
	/* A walk stops at the first non-zero return, which it gives back. */
	assert_int_equal(tcp_flows_foreach(x->t->tcp, stop_walk, NULL), 7);
	tcp_app_close(x->app);
	tcp_target_shutdown(x->target);
	ASSERT_WITHIN(x->app->got_fin && x->app->fin_acked && x->target->rx_eof, WAIT);
	s.n = 0;
	ASSERT_WITHIN((s.n = 0, tcp_flows_foreach(x->t->tcp, remember_flow, &s), s.n == 0), WAIT);
}

/* ---- close orders, each with a backlog toward a stalled target ---------------- */

#define RESERVE 1000       /* window kept for the app's FIN */
#define DOWNLOAD 100000    /* what the target sends before its FIN */

/* The app FINs first (lwIP: CLOSE_WAIT), then the target sends and FINs (LAST_ACK; the
 * ACK of that FIN frees the pcb with ERR_CLSD). The stalled target then gets all. */
static void
test_close_app_first(void **state)
{
	struct fx *x = *state;

	open_flow(x);
	stall_upload(x, RESERVE);
	tcp_app_close(x->app);
	ASSERT_WITHIN(x->app->fin_acked, WAIT);
	tcp_target_send(x->target, DOWNLOAD);
	tcp_target_shutdown(x->target);
	ASSERT_WITHIN(x->app->got_fin, WAIT);
	assert_int_equal(x->app->rx_bytes, DOWNLOAD);
	assert_false(x->app->rx_bad);
	RUN_FOR(PAST_TIME_WAIT);
	drain_target(x);
	assert_int_equal(x->app->rsts, 0);
}

/* The app FINs while the target's side stays open: the proxy gets a half-close
 * (shutdown), reads EOF, and still sends; the app receives it all, then the FIN. */
static void
test_half_close_app_first(void **state)
{
	struct fx *x = *state;

	open_flow(x);
	g_shutdowns = 0;
	g_shutdown_skip_fd = x->target->fd;
	tcp_app_send(x->app, 3000);
	tcp_app_close(x->app);
	ASSERT_WITHIN(x->target->rx_eof, WAIT);
	assert_int_equal(x->target->rx_bytes, 3000);
	assert_int_equal(g_shutdowns, 1);
	tcp_target_send(x->target, DOWNLOAD);
	tcp_target_shutdown(x->target);
	ASSERT_WITHIN(x->app->got_fin, BULK_WAIT);
	assert_int_equal(x->app->rx_bytes, DOWNLOAD);
	assert_false(x->app->rx_bad);
	assert_int_equal(x->app->rsts, 0);
	assert_int_equal(g_shutdowns, 1);
}

/*
 * The target FINs first and the app answers with its own (an HTTP server closing, the
 * benchmark's connections): with both EOFs in and nothing left in lwIP the flow ends at
 * once, and close() sends the proxy its FIN: no shutdown before it (one system call a
 * connection fewer). The target reads an EOF, not a reset.
 */
static void
test_close_target_first_no_shutdown(void **state)
{
	struct fx *x = *state;

	open_flow(x);
	tcp_app_send(x->app, 3000);
	tcp_target_send(x->target, 2000);
	tcp_target_shutdown(x->target);
	ASSERT_WITHIN(x->app->got_fin && x->target->rx_bytes == 3000, WAIT);
	g_shutdowns = 0;
	g_shutdown_skip_fd = x->target->fd;
	tcp_app_close(x->app);
	drain_target(x);
	assert_int_equal(x->app->rx_bytes, 2000);
	assert_false(x->app->rx_bad);
	ASSERT_WITHIN(x->app->fin_acked, WAIT);
	assert_int_equal(x->app->rsts, 0);
	assert_int_equal(g_shutdowns, 0);
	ASSERT_WITHIN(tcp_flows_count(x->t->tcp) == 0, WAIT);
}

/*
 * Issue 9 item 1: the target sends a little and FINs first (lwIP: FIN_WAIT_2 once the
 * app acknowledged it), the app uploads into the stalled target and FINs (TIME_WAIT,
 * with bytes still queued in tun2socks), lwIP frees the pcb 4 s later without a
 * callback, and only then does the target read. Every byte arrives; a flow still holding
 * the pcb would call tcp_recved on freed memory here (ASan: heap-use-after-free).
 */
static void
test_close_target_first_time_wait(void **state)
{
	struct fx *x = *state;

	open_flow(x);
	tcp_target_send(x->target, DOWNLOAD);
	tcp_target_shutdown(x->target);
	ASSERT_WITHIN(x->app->got_fin, WAIT);
	assert_int_equal(x->app->rx_bytes, DOWNLOAD);
	assert_false(x->app->rx_bad);
	stall_upload(x, RESERVE);
	tcp_app_close(x->app);
	ASSERT_WITHIN(x->app->fin_acked, WAIT);
	RUN_FOR(PAST_TIME_WAIT);
	drain_target(x);
	assert_int_equal(x->app->rsts, 0);
}

/* Both FINs cross (lwIP: CLOSING, then TIME_WAIT): the app sends its FIN before it has
 * seen the one tun2socks already sent for the target. */
static void
test_close_simultaneous(void **state)
{
	struct fx *x = *state;

	open_flow(x);
	stall_upload(x, RESERVE);
	tun_peer_hold(x->peer, true);
	/* Less than the app's window: the FIN follows without waiting for an ACK. */
	tcp_target_send(x->target, 2000);
	tcp_target_shutdown(x->target);
	ASSERT_WITHIN(x->peer->held_fins > 0, WAIT);
	tcp_app_close(x->app);
	assert_true(x->app->fin_sent);
	RUN_FOR(0.1);
	tun_peer_hold(x->peer, false);
	ASSERT_WITHIN(x->app->got_fin && x->app->fin_acked, WAIT);
	assert_int_equal(x->app->rx_bytes, 2000);
	assert_false(x->app->rx_bad);
	RUN_FOR(PAST_TIME_WAIT);
	drain_target(x);
	assert_int_equal(x->app->rsts, 0);
}

/*
 * A flow idle for a second is parked off lwIP's timer walks (lwip_port.h). Then each
 * side's data wakes it: the proxy's (a call on the pcb), the app's (a segment for a
 * parked pcb: lwIP must find it, not answer from the listener with a RST), and a
 * retransmission after a lost segment still happens. Closes cleanly.
 */
static void
test_idle_flow_parked(void **state)
{
	struct fx *x = *state;

	open_flow(x);
	tcp_app_send(x->app, 1000);
	tcp_target_send(x->target, 1000);
	ASSERT_WITHIN(x->target->rx_bytes == 1000 && x->app->rx_bytes == 1000 && tcp_app_all_acked(x->app), WAIT);
	ASSERT_WITHIN(lwip_port_tcp_parked() == 1, WAIT);
	/* The proxy's bytes: through a parked pcb; the first copy to the app is lost and
	 * lwIP's retransmission timer, running again, resends it. */
	tun_peer_drop_next(x->peer, 1);
	tcp_target_send(x->target, 3000);
	ASSERT_WITHIN(x->app->rx_bytes == 4000, WAIT);
	assert_int_equal(lwip_port_tcp_parked(), 0);
	ASSERT_WITHIN(lwip_port_tcp_parked() == 1, WAIT);
	/* The app's bytes: a segment for the parked pcb. */
	tcp_app_send(x->app, 5000);
	ASSERT_WITHIN(x->target->rx_bytes == 6000 && tcp_app_all_acked(x->app), WAIT);
	assert_int_equal(x->app->rsts, 0);
	ASSERT_WITHIN(lwip_port_tcp_parked() == 1, WAIT);
	/* Closed while parked: the target's FIN, then the app's. */
	tcp_target_shutdown(x->target);
	ASSERT_WITHIN(x->app->got_fin, WAIT);
	tcp_app_close(x->app);
	drain_target(x);
	ASSERT_WITHIN(x->app->fin_acked && tcp_flows_count(x->t->tcp) == 0, WAIT);
	assert_int_equal(x->app->rsts, 0);
	assert_false(x->app->rx_bad);
	assert_int_equal(lwip_port_tcp_parked(), 0);
}

/* ---- RST relay ----------------------------------------------------------------- */

/* RST from the application: the target's connection is reset (ECONNRESET), not closed. */
static void
test_rst_from_app(void **state)
{
	struct fx *x = *state;

	open_flow(x);
	tcp_app_send(x->app, 20000);
	ASSERT_WITHIN(x->target->rx_bytes == 20000, WAIT);
	tcp_app_reset(x->app);
	ASSERT_WITHIN(x->target->rx_err != 0 || x->target->rx_eof, WAIT);
	assert_int_equal(x->target->rx_err, ECONNRESET);
}

/* RST from the target: the application gets RST. */
static void
test_rst_from_target(void **state)
{
	struct fx *x = *state;

	open_flow(x);
	tcp_target_send(x->target, 20000);
	ASSERT_WITHIN(x->app->rx_bytes == 20000, WAIT);
	tcp_target_reset(x->target);
	ASSERT_WITHIN(x->app->rsts > 0, WAIT);
	assert_false(x->app->got_fin);
}

/* ---- backpressure -------------------------------------------------------------- */

/* app -> proxy: the target stops reading; the window offered to the app closes (0) and
 * stays closed with a bounded amount taken in; once the target reads, the upload goes
 * on and every byte arrives. */
static void
test_backpressure_app_to_proxy(void **state)
{
	struct fx *x = *state;
	uint64_t stalled_at;

	open_flow(x);
	stall_upload(x, 0);
	assert_int_equal(x->app->snd_wnd, 0);
	stalled_at = x->app->tx_sent;
	RUN_FOR(0.5);
	assert_int_equal(x->app->snd_wnd, 0);
	assert_int_equal(x->app->tx_sent, stalled_at);
	print_message("app -> proxy: stalled after %llu bytes\n", (unsigned long long)stalled_at);

	x->app->tx_limit = stalled_at + (2u << 20);
	tcp_app_send(x->app, 0);
	tcp_target_read_upto(x->target, UINT64_MAX);
	ASSERT_WITHIN(x->target->rx_bytes == x->app->tx_limit, BULK_WAIT);
	assert_false(x->target->rx_bad);
	tcp_app_close(x->app);
	drain_target(x);
}

/* An app without window scaling (64 KiB of window at most) that never probes: once the
 * target reads again, tun2socks must announce the reopened window by itself. lwIP's
 * default threshold for that (256 KiB here) is more than such a window can grow, so the
 * upload stayed stalled for good (lwipopts.h TCP_WND_UPDATE_THRESHOLD). */
static void
test_no_window_scaling(void **state)
{
	struct fx *x = *state;

	open_flow_scaled(x, false);
	x->app->no_probes = true;
	stall_upload(x, 0);
	x->app->tx_limit = x->app->tx_sent + (2u << 20);
	tcp_target_read_upto(x->target, UINT64_MAX);
	tcp_app_send(x->app, 0);
	ASSERT_WITHIN(x->target->rx_bytes == x->app->tx_limit, BULK_WAIT);
	assert_false(x->target->rx_bad);
	assert_int_equal(x->app->probes, 0);
	tcp_app_close(x->app);
	drain_target(x);
}

/* The pcb of x->app's flow, on lwIP's active list. */
static const struct tcp_pcb *
app_pcb(const struct fx *x)
{
	for (const struct tcp_pcb *pcb = tcp_active_pcbs; pcb != NULL; pcb = pcb->next)
		if (pcb->remote_port == x->app->sport && pcb->local_port == DST_PORT)
			return pcb;
	return NULL;
}

/* proxy -> app: the app stops reading (its window closes); tun2socks stops reading the
 * proxy socket once lwIP holds twice the app's largest window (64 KiB here: 128 KiB, the
 * floor), not its whole 1 MiB send buffer, so 1,000 such flows do not fill the memory
 * budget with data that cannot leave (bench/run's flows rows); the target's writes
 * block; once the app reads again, every byte arrives. */
static void
test_backpressure_proxy_to_app(void **state)
{
	struct fx *x = *state;
	const struct tcp_pcb *pcb;
	uint64_t stalled_at;
	uint32_t written;

	open_flow(x);
	tcp_app_set_reading(x->app, false);
	tcp_target_send(x->target, ENDLESS);
	ASSERT_WITHIN(x->target->tx_blocked && x->app->unread >= x->app->rcv_space, BULK_WAIT);
	/* Blocked for good, not for a moment: nothing more leaves the target. */
	RUN_FOR(0.3);
	stalled_at = x->target->tx_sent;
	RUN_FOR(0.5);
	assert_int_equal(x->target->tx_sent, stalled_at);
	assert_true(x->target->tx_blocked);
	assert_true(stalled_at < STALL_BOUND);
	assert_int_equal(x->app->rx_bytes, x->app->rcv_space);
	pcb = app_pcb(x);
	assert_non_null(pcb);
	written = pcb->snd_lbb - pcb->lastack;
	print_message("proxy -> app: target blocked after %llu bytes, %u in lwIP for a %u-byte window\n",
		      (unsigned long long)stalled_at, written, (unsigned)pcb->snd_wnd_max);
	assert_true(pcb->snd_wnd_max <= 0xffff);
	assert_true(written <= 128 * 1024);

	x->target->tx_limit = stalled_at + (1u << 20);
	tcp_app_set_reading(x->app, true);
	tcp_target_pump(x->target);
	ASSERT_WITHIN(x->app->rx_bytes == x->target->tx_limit, BULK_WAIT);
	assert_false(x->app->rx_bad);
	assert_int_equal(x->app->rsts, 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_handshake_waits_for_connect, setup, teardown),
		cmocka_unit_test_setup_teardown(test_handshake_outlives_connect_timeout, setup, teardown),
		cmocka_unit_test_setup_teardown(test_refused_gets_rst, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unreachable_gets_icmp, setup, teardown),
		cmocka_unit_test_setup_teardown(test_retry_on_refusing_proxy, setup, teardown),
		cmocka_unit_test_setup_teardown(test_retry_on_silent_proxy, setup, teardown),
		cmocka_unit_test_setup_teardown(test_no_retry_on_target_refusal, setup, teardown),
		cmocka_unit_test_setup_teardown(test_data_both_ways, setup, teardown),
		cmocka_unit_test_setup_teardown(test_flow_accounting, setup, teardown),
		cmocka_unit_test_setup_teardown(test_close_app_first, setup, teardown),
		cmocka_unit_test_setup_teardown(test_half_close_app_first, setup, teardown),
		cmocka_unit_test_setup_teardown(test_close_target_first_time_wait, setup, teardown),
		cmocka_unit_test_setup_teardown(test_close_target_first_no_shutdown, setup, teardown),
		cmocka_unit_test_setup_teardown(test_close_simultaneous, setup, teardown),
		cmocka_unit_test_setup_teardown(test_idle_flow_parked, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rst_from_app, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rst_from_target, setup, teardown),
		cmocka_unit_test_setup_teardown(test_backpressure_app_to_proxy, setup, teardown),
		cmocka_unit_test_setup_teardown(test_backpressure_proxy_to_app, setup, teardown),
		cmocka_unit_test_setup_teardown(test_no_window_scaling, setup, teardown),
	};

	/* T2S_TEST_FILTER=test_close_* runs only the matching tests. */
	return engine_fixture_run("test_tcp_flow", tests, sizeof(tests) / sizeof(tests[0]), &g_loop);
}
