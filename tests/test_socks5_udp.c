/* SPDX-License-Identifier: MIT */
/*
 * socks5_udp against tests/support/fake_socks5's scripted server on loopback, on the
 * test's own loop, that answers UDP ASSOCIATE and echoes datagrams with a changed source
 * address: round trips, relay selection, failure classes, the control connection's
 * end, dropped datagrams and freeing from inside callbacks. Plus the pure relay choice.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
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

#include "endpoint.h"
#include "socks5_proto.h"
#include "socks5_udp.h"
#include "support/fake_socks5.h"
#include "support/loop.h"

/* The fake server of tests/support/fake_socks5, on the loop the session runs on. */
struct server {
	struct ev_loop *loop;
	struct fake_socks5 *fake;
	uint16_t port;
	uint16_t udp_port; /* the relay */
	unsigned events_seen;
	uint8_t request[64]; /* the UDP ASSOCIATE request, once finished */
	size_t request_len;
	bool auth_seen;
};

static int
loopback(int family, struct sockaddr_storage *ss, socklen_t *len)
{
	memset(ss, 0, sizeof(*ss));
	if (family == AF_INET) {
		struct sockaddr_in *sin = (struct sockaddr_in *)ss;

		sin->sin_family = AF_INET;
		sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		*len = sizeof(*sin);
	} else {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;

		sin6->sin6_family = AF_INET6;
		sin6->sin6_addr = in6addr_loopback;
		*len = sizeof(*sin6);
	}
	return 0;
}

/* Returns 0, or -1 if the family has no loopback address here. */
static int
server_start(struct server *s, int family, enum fake_socks5_script script)
{
	const struct sockaddr_storage *addr;

	memset(s, 0, sizeof(*s));
	s->loop = ev_loop_new(EVFLAG_AUTO);
	assert_non_null(s->loop);
	s->fake = family == AF_INET ? fake_socks5_new(s->loop) : fake_socks5_new6(s->loop);
	if (s->fake == NULL) {
		ev_loop_destroy(s->loop);
		return -1;
	}
	fake_socks5_set_script(s->fake, script);
	addr = &fake_socks5_server(s->fake)->addr;
	s->port = ntohs(family == AF_INET ? ((const struct sockaddr_in *)addr)->sin_port
					  : ((const struct sockaddr_in6 *)addr)->sin6_port);
	s->udp_port = fake_socks5_script_relay_port(s->fake);
	return 0;
}

/* After the session is freed: keeps what the server saw, frees it and the loop. */
static void
server_finish(struct server *s)
{
	const uint8_t *req;

	assert_true(fake_socks5_wait_closed(s->fake, 5.0));
	req = fake_socks5_script_request(s->fake, &s->request_len);
	assert_true(s->request_len <= sizeof(s->request));
	memcpy(s->request, req, s->request_len);
	s->auth_seen = fake_socks5_script_auth_seen(s->fake);
	fake_socks5_free(s->fake);
	ev_loop_destroy(s->loop);
}

/* Runs the loop (at most 5 s) until the relay has sent everything of its next event. */
static void
wait_notify(struct server *s)
{
	/* Bounded: a lost datagram must fail the test, not hang it. */
	assert_true(loop_wait_uint(s->loop, fake_socks5_script_relay_events(s->fake), ++s->events_seen, 5.0));
}

enum free_in {
	FREE_NOWHERE,
	FREE_IN_READY,
	FREE_IN_DATAGRAM,
	FREE_IN_CLOSED,
};

struct outcome {
	struct ev_loop *loop;
	bool own_loop;
	struct socks5_server server;
	struct socks5_udp *session;
	enum free_in free_in;
	int ready;
	struct socks5_udp_result res;
	int closed;
	int closed_err;
	int datagrams;
	struct t2s_endpoint src;
	size_t len;
	uint8_t payload[70000];
};

static void
ready_cb(void *arg, const struct socks5_udp_result *res)
{
	struct outcome *o = arg;

	o->ready++;
	o->res = *res;
	if (o->free_in == FREE_IN_READY) {
		socks5_udp_free(o->session);
		o->session = NULL;
	}
}

static void
datagram_cb(void *arg, const struct t2s_endpoint *src, const uint8_t *payload, size_t len)
{
	struct outcome *o = arg;

	assert_true(len <= sizeof(o->payload));
	o->datagrams++;
	o->src = *src;
	memcpy(o->payload, payload, len);
	o->len = len;
	if (o->free_in == FREE_IN_DATAGRAM) {
		socks5_udp_free(o->session);
		o->session = NULL;
	}
}

static void
closed_cb(void *arg, int err)
{
	struct outcome *o = arg;

	o->closed++;
	o->closed_err = err;
	if (o->free_in == FREE_IN_CLOSED) {
		socks5_udp_free(o->session);
		o->session = NULL;
	}
}

static const struct socks5_udp_callbacks callbacks = {
	.on_ready = ready_cb,
	.on_datagram = datagram_cb,
	.on_closed = closed_cb,
};

static void
timeout_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)w;
	(void)revents;
	ev_break(loop, EVBREAK_ALL);
}

/* Runs the loop until *counter reaches want; fails the test after 5 s. */
static void
run_until(struct outcome *o, const int *counter, int want)
{
	ev_timer guard;

	ev_timer_init(&guard, timeout_cb, 5.0, 0);
	ev_timer_start(o->loop, &guard);
	while (*counter < want && ev_is_active(&guard))
		ev_run(o->loop, EVRUN_ONCE);
	ev_timer_stop(o->loop, &guard);
	assert_int_equal(*counter, want);
}

/* On srv's loop, or (srv NULL) on a loop of its own. */
static struct outcome *
outcome_new(const struct server *srv, int family, uint16_t port, const char *user, const char *pass)
{
	struct outcome *o = calloc(1, sizeof(*o));
	struct sockaddr_storage ss;
	socklen_t len;

	assert_non_null(o);
	o->own_loop = srv == NULL;
	o->loop = srv != NULL ? srv->loop : ev_loop_new(EVFLAG_AUTO);
	assert_non_null(o->loop);
	loopback(family, &ss, &len);
	if (family == AF_INET)
		((struct sockaddr_in *)&ss)->sin_port = htons(port);
	else
		((struct sockaddr_in6 *)&ss)->sin6_port = htons(port);
	o->server.addr = ss;
	o->server.addrlen = len;
	o->server.user = user;
	o->server.pass = pass;
	return o;
}

/* Starts the session and runs until on_ready. */
static void
start(struct outcome *o, const struct socks5_udp_config *cfg)
{
	o->session = socks5_udp_new(o->loop, &o->server, cfg, &callbacks, o);
	assert_non_null(o->session);
	assert_int_equal(socks5_udp_send(o->session, &(struct t2s_endpoint){.type = T2S_ENDPOINT_IPV4, .port = 1},
					 (const uint8_t *)"x", 1),
			 -ENOTCONN);
	run_until(o, &o->ready, 1);
}

static void
outcome_free(struct outcome *o)
{
	socks5_udp_free(o->session);
	if (o->own_loop)
		ev_loop_destroy(o->loop);
	free(o);
}

/* Sends payload to dst and waits for the echo; checks payload and source. */
static void
round_trip(struct outcome *o, const struct t2s_endpoint *dst, const uint8_t *payload, size_t len,
	   const struct t2s_endpoint *want_src)
{
	int before = o->datagrams;

	assert_int_equal(socks5_udp_send(o->session, dst, payload, len), 0);
	run_until(o, &o->datagrams, before + 1);
	assert_int_equal(o->len, len);
	assert_memory_equal(o->payload, payload, len);
	assert_true(endpoint_equal(&o->src, want_src));
}

static void
assert_relay_is(const struct outcome *o, int family, uint16_t port)
{
	struct sockaddr_storage want;
	socklen_t len;

	loopback(family, &want, &len);
	if (family == AF_INET)
		((struct sockaddr_in *)&want)->sin_port = htons(port);
	else
		((struct sockaddr_in6 *)&want)->sin6_port = htons(port);
	assert_int_equal(o->res.relay_len, len);
	assert_memory_equal(&o->res.relay, &want, len);
}

static void
test_round_trips_v4_v6_domain(void **state)
{
	static const uint8_t expect_req[] = {5, 3, 0, 1, 0, 0, 0, 0, 0, 0};
	struct t2s_endpoint v4 = {.type = T2S_ENDPOINT_IPV4, .port = 53, .u.ipv4 = {198, 18, 0, 1}};
	struct t2s_endpoint v4_src = {.type = T2S_ENDPOINT_IPV4, .port = 54, .u.ipv4 = {198, 18, 0, 0}};
	struct t2s_endpoint v6 = {.type = T2S_ENDPOINT_IPV6, .port = 443, .u.ipv6 = {0x20, 0x01, 0x0d, 0xb8, [15] = 1}};
	struct t2s_endpoint v6_src = {.type = T2S_ENDPOINT_IPV6, .port = 444, .u.ipv6 = {0x20, 0x01, 0x0d, 0xb8}};
	struct t2s_endpoint name_src = {.type = T2S_ENDPOINT_IPV4, .port = 5354, .u.ipv4 = {198, 51, 100, 11}};
	struct t2s_endpoint name;
	const struct socks5_udp_counters *c;
	struct server srv;
	struct outcome *o;
	uint8_t *big;

	(void)state;
	assert_int_equal(endpoint_set_domain(&name, "example.com", 11, 5353), 0);
	assert_int_equal(server_start(&srv, AF_INET, FAKE_SOCKS5_SCRIPT_UDP_ECHO), 0);
	o = outcome_new(&srv, AF_INET, srv.port, NULL, NULL);
	start(o, NULL);
	assert_int_equal(o->res.failure, SOCKS5_UDP_OK);
	assert_int_equal(o->res.err, 0);
	assert_int_equal(o->res.method, SOCKS5_METHOD_NONE);
	assert_relay_is(o, AF_INET, srv.udp_port);

	round_trip(o, &v4, (const uint8_t *)"hello v4", 8, &v4_src);
	round_trip(o, &v6, (const uint8_t *)"hello v6", 8, &v6_src);
	round_trip(o, &name, (const uint8_t *)"hello name", 10, &name_src);
	round_trip(o, &v4, (const uint8_t *)"", 0, &v4_src);
	big = malloc(60000);
	assert_non_null(big);
	for (size_t i = 0; i < 60000; i++)
		big[i] = (uint8_t)(i * 7 + i / 251);
	round_trip(o, &v4, big, 60000, &v4_src);
	free(big);

	c = socks5_udp_get_counters(o->session);
	assert_int_equal(c->sent, 5);
	assert_int_equal(c->received, 5);
	assert_int_equal(c->sent_bytes, 8 + 8 + 10 + 60000);
	assert_int_equal(c->received_bytes, 8 + 8 + 10 + 60000);
	assert_int_equal(c->dropped_frag + c->dropped_malformed + c->send_errors + c->icmp_errors, 0);
	assert_int_equal(o->closed, 0);
	outcome_free(o);
	server_finish(&srv);
	assert_int_equal(srv.request_len, sizeof(expect_req));
	assert_memory_equal(srv.request, expect_req, sizeof(expect_req));
}

static void
test_ipv6_proxy(void **state)
{
	static const uint8_t expect_req[22] = {5, 3, 0, 4};
	struct t2s_endpoint v4 = {.type = T2S_ENDPOINT_IPV4, .port = 7, .u.ipv4 = {192, 0, 2, 2}};
	struct t2s_endpoint v4_src = {.type = T2S_ENDPOINT_IPV4, .port = 8, .u.ipv4 = {192, 0, 2, 3}};
	struct server srv;
	struct outcome *o;

	(void)state;
	if (server_start(&srv, AF_INET6, FAKE_SOCKS5_SCRIPT_UDP_ECHO) < 0)
		skip();
	o = outcome_new(&srv, AF_INET6, srv.port, NULL, NULL);
	start(o, NULL);
	assert_int_equal(o->res.failure, SOCKS5_UDP_OK);
	assert_relay_is(o, AF_INET6, srv.udp_port);
	round_trip(o, &v4, (const uint8_t *)"via ::1", 7, &v4_src);
	outcome_free(o);
	server_finish(&srv);
	assert_int_equal(srv.request_len, sizeof(expect_req));
	assert_memory_equal(srv.request, expect_req, sizeof(expect_req));
}

/*
 * The control connection still in SYN_SENT when the session tries its first write (the
 * proxy's accept queue is full, its SYN dropped): nothing is sent or failed then; the
 * association completes once the SYN's retransmission gets through.
 */
static void
test_connect_still_in_progress(void **state)
{
	struct t2s_endpoint v4 = {.type = T2S_ENDPOINT_IPV4, .port = 9, .u.ipv4 = {198, 19, 0, 3}};
	struct t2s_endpoint v4_src = {.type = T2S_ENDPOINT_IPV4, .port = 10, .u.ipv4 = {198, 19, 0, 2}};
	struct server srv;
	struct outcome *o;

	(void)state;
	assert_int_equal(server_start(&srv, AF_INET, FAKE_SOCKS5_SCRIPT_UDP_ECHO), 0);
	fake_socks5_fill_backlog(srv.fake);
	o = outcome_new(&srv, AF_INET, srv.port, NULL, NULL);
	o->session = socks5_udp_new(o->loop, &o->server, NULL, &callbacks, o);
	assert_non_null(o->session);
	loop_run_for(o->loop, 0.05);
	assert_int_equal(o->ready, 0);
	fake_socks5_free_backlog(srv.fake);
	run_until(o, &o->ready, 1);
	assert_int_equal(o->res.failure, SOCKS5_UDP_OK);
	round_trip(o, &v4, (const uint8_t *)"late", 4, &v4_src);
	outcome_free(o);
	server_finish(&srv);
}

static void
test_auth(void **state)
{
	struct t2s_endpoint v4 = {.type = T2S_ENDPOINT_IPV4, .port = 9, .u.ipv4 = {10, 1, 2, 3}};
	struct t2s_endpoint v4_src = {.type = T2S_ENDPOINT_IPV4, .port = 10, .u.ipv4 = {10, 1, 2, 2}};
	struct server srv;
	struct outcome *o;

	(void)state;
	assert_int_equal(server_start(&srv, AF_INET, FAKE_SOCKS5_SCRIPT_UDP_ECHO_AUTH), 0);
	o = outcome_new(&srv, AF_INET, srv.port, "user", "secret");
	start(o, NULL);
	assert_int_equal(o->res.failure, SOCKS5_UDP_OK);
	assert_int_equal(o->res.method, SOCKS5_METHOD_USERPASS);
	round_trip(o, &v4, (const uint8_t *)"authed", 6, &v4_src);
	outcome_free(o);
	server_finish(&srv);
	assert_true(srv.auth_seen);
}

static void
test_auth_rejected(void **state)
{
	struct server srv;
	struct outcome *o;

	(void)state;
	assert_int_equal(server_start(&srv, AF_INET, FAKE_SOCKS5_SCRIPT_AUTH_REJECT), 0);
	o = outcome_new(&srv, AF_INET, srv.port, "user", "secret");
	start(o, NULL);
	assert_int_equal(o->res.failure, SOCKS5_UDP_PROXY_AUTH);
	assert_int_equal(o->res.err, -EACCES);
	outcome_free(o);
	server_finish(&srv);
}

static void
test_bnd_unspecified_uses_proxy_address(void **state)
{
	struct t2s_endpoint v4 = {.type = T2S_ENDPOINT_IPV4, .port = 9, .u.ipv4 = {10, 1, 2, 3}};
	struct t2s_endpoint v4_src = {.type = T2S_ENDPOINT_IPV4, .port = 10, .u.ipv4 = {10, 1, 2, 2}};
	struct server srv;
	struct outcome *o;

	(void)state;
	assert_int_equal(server_start(&srv, AF_INET, FAKE_SOCKS5_SCRIPT_UDP_BND_ANY), 0);
	o = outcome_new(&srv, AF_INET, srv.port, NULL, NULL);
	start(o, NULL);
	assert_int_equal(o->res.failure, SOCKS5_UDP_OK);
	assert_int_equal(o->res.bnd.type, T2S_ENDPOINT_IPV4);
	assert_int_equal(o->res.bnd.port, srv.udp_port);
	assert_relay_is(o, AF_INET, srv.udp_port);
	round_trip(o, &v4, (const uint8_t *)"any", 3, &v4_src);
	outcome_free(o);
	server_finish(&srv);
}

static void
test_bnd_domain_uses_proxy_address(void **state)
{
	struct t2s_endpoint v4 = {.type = T2S_ENDPOINT_IPV4, .port = 9, .u.ipv4 = {10, 1, 2, 3}};
	struct t2s_endpoint v4_src = {.type = T2S_ENDPOINT_IPV4, .port = 10, .u.ipv4 = {10, 1, 2, 2}};
	struct server srv;
	struct outcome *o;

	(void)state;
	assert_int_equal(server_start(&srv, AF_INET, FAKE_SOCKS5_SCRIPT_UDP_BND_DOMAIN), 0);
	o = outcome_new(&srv, AF_INET, srv.port, NULL, NULL);
	start(o, NULL);
	assert_int_equal(o->res.failure, SOCKS5_UDP_OK);
	assert_int_equal(o->res.bnd.type, T2S_ENDPOINT_DOMAIN);
	assert_string_equal(o->res.bnd.u.domain.name, "relay.invalid");
	assert_relay_is(o, AF_INET, srv.udp_port);
	round_trip(o, &v4, (const uint8_t *)"domain bnd", 10, &v4_src);
	outcome_free(o);
	server_finish(&srv);
}

static void
test_relay_override(void **state)
{
	struct t2s_endpoint v4 = {.type = T2S_ENDPOINT_IPV4, .port = 9, .u.ipv4 = {10, 1, 2, 3}};
	struct t2s_endpoint v4_src = {.type = T2S_ENDPOINT_IPV4, .port = 10, .u.ipv4 = {10, 1, 2, 2}};
	struct socks5_udp_config cfg;
	struct server srv;
	struct outcome *o;
	socklen_t len;

	(void)state;
	assert_int_equal(server_start(&srv, AF_INET, FAKE_SOCKS5_SCRIPT_UDP_BND_ELSEWHERE), 0);
	memset(&cfg, 0, sizeof(cfg));
	loopback(AF_INET, &cfg.relay_override, &len);
	((struct sockaddr_in *)&cfg.relay_override)->sin_port = htons(srv.udp_port);
	o = outcome_new(&srv, AF_INET, srv.port, NULL, NULL);
	start(o, &cfg);
	assert_int_equal(o->res.failure, SOCKS5_UDP_OK);
	assert_int_equal(o->res.bnd.port, 9);
	assert_relay_is(o, AF_INET, srv.udp_port);
	round_trip(o, &v4, (const uint8_t *)"override", 8, &v4_src);
	outcome_free(o);
	server_finish(&srv);
}

static void
test_rep_unsupported_freed_in_callback(void **state)
{
	struct server srv;
	struct outcome *o;

	(void)state;
	assert_int_equal(server_start(&srv, AF_INET, FAKE_SOCKS5_SCRIPT_REP_UNSUPPORTED), 0);
	o = outcome_new(&srv, AF_INET, srv.port, NULL, NULL);
	o->free_in = FREE_IN_READY;
	start(o, NULL);
	assert_int_equal(o->res.failure, SOCKS5_UDP_UNSUPPORTED);
	assert_int_equal(o->res.rep, SOCKS5_REP_CMD_UNSUPPORTED);
	assert_int_equal(o->res.err, -EOPNOTSUPP);
	assert_null(o->session);
	outcome_free(o);
	server_finish(&srv);
}

static void
test_rep_not_allowed(void **state)
{
	struct t2s_endpoint v4 = {.type = T2S_ENDPOINT_IPV4, .port = 9, .u.ipv4 = {10, 1, 2, 3}};
	struct server srv;
	struct outcome *o;

	(void)state;
	assert_int_equal(server_start(&srv, AF_INET, FAKE_SOCKS5_SCRIPT_REP_NOT_ALLOWED), 0);
	o = outcome_new(&srv, AF_INET, srv.port, NULL, NULL);
	start(o, NULL);
	assert_int_equal(o->res.failure, SOCKS5_UDP_REJECTED);
	assert_int_equal(o->res.rep, SOCKS5_REP_NOT_ALLOWED);
	assert_int_equal(o->res.err, -EACCES);
	assert_int_equal(socks5_udp_send(o->session, &v4, (const uint8_t *)"no", 2), -ENOTCONN);
	outcome_free(o);
	server_finish(&srv);
}

static void
test_control_closed(void **state)
{
	struct t2s_endpoint v4 = {.type = T2S_ENDPOINT_IPV4, .port = 9, .u.ipv4 = {10, 1, 2, 3}};
	struct t2s_endpoint v4_src = {.type = T2S_ENDPOINT_IPV4, .port = 10, .u.ipv4 = {10, 1, 2, 2}};
	struct server srv;
	struct outcome *o;

	(void)state;
	assert_int_equal(server_start(&srv, AF_INET, FAKE_SOCKS5_SCRIPT_UDP_CLOSE_AFTER_ECHO), 0);
	o = outcome_new(&srv, AF_INET, srv.port, NULL, NULL);
	start(o, NULL);
	assert_int_equal(o->res.failure, SOCKS5_UDP_OK);
	/* The echo is queued on our socket before the proxy closes: it must come first,
	 * even when the loop sees both at once. */
	assert_int_equal(socks5_udp_send(o->session, &v4, (const uint8_t *)"last", 4), 0);
	wait_notify(&srv);
	run_until(o, &o->closed, 1);
	assert_int_equal(o->closed_err, 0);
	assert_int_equal(o->datagrams, 1);
	assert_int_equal(o->len, 4);
	assert_memory_equal(o->payload, "last", 4);
	assert_true(endpoint_equal(&o->src, &v4_src));
	assert_int_equal(socks5_udp_send(o->session, &v4, (const uint8_t *)"late", 4), -ENOTCONN);
	assert_int_equal(socks5_udp_get_counters(o->session)->sent, 1);
	outcome_free(o);
	server_finish(&srv);
}

static void
test_control_closed_freed_in_callback(void **state)
{
	struct t2s_endpoint v4 = {.type = T2S_ENDPOINT_IPV4, .port = 9, .u.ipv4 = {10, 1, 2, 3}};
	struct t2s_endpoint v4_src = {.type = T2S_ENDPOINT_IPV4, .port = 10, .u.ipv4 = {10, 1, 2, 2}};
	struct server srv;
	struct outcome *o;

	(void)state;
	assert_int_equal(server_start(&srv, AF_INET, FAKE_SOCKS5_SCRIPT_UDP_CLOSE_AFTER_ECHO), 0);
	o = outcome_new(&srv, AF_INET, srv.port, NULL, NULL);
	o->free_in = FREE_IN_CLOSED;
	start(o, NULL);
	round_trip(o, &v4, (const uint8_t *)"last", 4, &v4_src);
	run_until(o, &o->closed, 1);
	assert_null(o->session);
	outcome_free(o);
	server_finish(&srv);
}

static void
test_frag_and_malformed_dropped(void **state)
{
	struct t2s_endpoint v4 = {.type = T2S_ENDPOINT_IPV4, .port = 9, .u.ipv4 = {10, 1, 2, 3}};
	struct t2s_endpoint v4_src = {.type = T2S_ENDPOINT_IPV4, .port = 10, .u.ipv4 = {10, 1, 2, 2}};
	const struct socks5_udp_counters *c;
	struct server srv;
	struct outcome *o;

	(void)state;
	assert_int_equal(server_start(&srv, AF_INET, FAKE_SOCKS5_SCRIPT_UDP_ECHO), 0);
	o = outcome_new(&srv, AF_INET, srv.port, NULL, NULL);
	start(o, NULL);
	/* The server answers with a stranger's datagram, FRAG 1, a truncated header,
	 * RSV != 0 and finally "good", in that order on one socket. */
	assert_int_equal(socks5_udp_send(o->session, &v4, (const uint8_t *)"bad", 3), 0);
	run_until(o, &o->datagrams, 1);
	assert_int_equal(o->len, 4);
	assert_memory_equal(o->payload, "good", 4);
	assert_true(endpoint_equal(&o->src, &v4_src));
	c = socks5_udp_get_counters(o->session);
	assert_int_equal(c->received, 1);
	assert_int_equal(c->dropped_frag, 1);
	assert_int_equal(c->dropped_malformed, 2);
	outcome_free(o);
	server_finish(&srv);
}

static void
test_free_inside_datagram_batch(void **state)
{
	struct t2s_endpoint v4 = {.type = T2S_ENDPOINT_IPV4, .port = 9, .u.ipv4 = {10, 1, 2, 3}};
	struct server srv;
	struct outcome *o;

	(void)state;
	assert_int_equal(server_start(&srv, AF_INET, FAKE_SOCKS5_SCRIPT_UDP_ECHO), 0);
	o = outcome_new(&srv, AF_INET, srv.port, NULL, NULL);
	o->free_in = FREE_IN_DATAGRAM;
	start(o, NULL);
	assert_int_equal(socks5_udp_send(o->session, &v4, (const uint8_t *)"two", 3), 0);
	/* Both echoes are queued on our socket before the loop runs, so one wakeup sees
	 * both and the batch must stop after the callback freed the session. */
	wait_notify(&srv);
	run_until(o, &o->datagrams, 1);
	assert_null(o->session);
	outcome_free(o);
	server_finish(&srv);
}

/* The session's UDP socket, found among our fds by its peer port (the session keeps it
 * private; only one socket in this process is connected to that port). */
static int
udp_fd_connected_to(uint16_t port_be)
{
	for (int fd = 3; fd < 1024; fd++) {
		struct sockaddr_in peer;
		socklen_t plen = sizeof(peer);
		int type;
		socklen_t tlen = sizeof(type);

		if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &tlen) == 0 && type == SOCK_DGRAM &&
		    getpeername(fd, (struct sockaddr *)&peer, &plen) == 0 && peer.sin_family == AF_INET &&
		    peer.sin_port == port_be)
			return fd;
	}
	fail_msg("no UDP socket connected to port %u", ntohs(port_be));
	return -1;
}

static void
test_pending_icmp_error_does_not_fail_next_send(void **state)
{
	struct sockaddr_in sin = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	struct t2s_endpoint v4 = {.type = T2S_ENDPOINT_IPV4, .port = 9, .u.ipv4 = {10, 1, 2, 3}};
	struct socks5_udp_config cfg;
	struct pollfd pfd;
	struct server srv;
	struct outcome *o;
	socklen_t len = sizeof(sin);
	uint8_t buf[64];
	int fd;

	(void)state;
	/* The relay: a UDP port that is closed for the first datagram and open again for
	 * the second. */
	fd = socket(AF_INET, SOCK_DGRAM, 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sin, &len), 0);
	close(fd);
	assert_int_equal(server_start(&srv, AF_INET, FAKE_SOCKS5_SCRIPT_UDP_BND_ELSEWHERE), 0);
	memset(&cfg, 0, sizeof(cfg));
	memcpy(&cfg.relay_override, &sin, sizeof(sin));
	o = outcome_new(&srv, AF_INET, srv.port, NULL, NULL);
	start(o, &cfg);
	assert_int_equal(o->res.failure, SOCKS5_UDP_OK);
	assert_int_equal(socks5_udp_send(o->session, &v4, (const uint8_t *)"one", 3), 0);
	/* Wait until the port unreachable is pending on the session's socket. */
	pfd.fd = udp_fd_connected_to(sin.sin_port);
	pfd.events = 0;
	assert_int_equal(poll(&pfd, 1, 5000), 1);
	assert_true(pfd.revents & POLLERR);
	/* Now the relay listens; the pending error must not cost this datagram. */
	fd = socket(AF_INET, SOCK_DGRAM, 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	assert_int_equal(socks5_udp_send(o->session, &v4, (const uint8_t *)"two", 3), 0);
	assert_int_equal(socks5_udp_get_counters(o->session)->icmp_errors, 1);
	assert_int_equal(socks5_udp_get_counters(o->session)->sent, 2);
	assert_int_equal(poll(&(struct pollfd){.fd = fd, .events = POLLIN}, 1, 5000), 1);
	assert_int_equal(recv(fd, buf, sizeof(buf), 0), 10 + 3);
	assert_memory_equal(buf + 10, "two", 3);
	close(fd);
	outcome_free(o);
	server_finish(&srv);
}

static void
test_close_after_greeting(void **state)
{
	struct server srv;
	struct outcome *o;

	(void)state;
	assert_int_equal(server_start(&srv, AF_INET, FAKE_SOCKS5_SCRIPT_CLOSE_AFTER_GREETING), 0);
	o = outcome_new(&srv, AF_INET, srv.port, NULL, NULL);
	start(o, NULL);
	assert_int_equal(o->res.failure, SOCKS5_UDP_PROXY_PROTOCOL);
	assert_int_equal(o->res.err, -ECONNRESET);
	outcome_free(o);
	server_finish(&srv);
}

/* ssh -D: the greeting (and authentication) succeed, then the connection is closed or
 * reset instead of a reply to UDP ASSOCIATE. A class of its own, unlike the early close
 * above (a proxy that is not working at all). */
static void
closed_on_associate(enum fake_socks5_script script, const char *user, const char *pass)
{
	struct server srv;
	struct outcome *o;

	assert_int_equal(server_start(&srv, AF_INET, script), 0);
	o = outcome_new(&srv, AF_INET, srv.port, user, pass);
	start(o, NULL);
	assert_int_equal(o->res.failure, SOCKS5_UDP_CLOSED_ON_ASSOCIATE);
	assert_int_equal(o->res.err, -ECONNRESET);
	outcome_free(o);
	server_finish(&srv);
	assert_int_equal(srv.request[1], SOCKS5_CMD_UDP_ASSOCIATE);
}

static void
test_close_on_associate(void **state)
{
	(void)state;
	closed_on_associate(FAKE_SOCKS5_SCRIPT_CLOSE_ON_REQUEST, NULL, NULL);
	closed_on_associate(FAKE_SOCKS5_SCRIPT_CLOSE_ON_REQUEST_AUTH, "user", "secret");
	closed_on_associate(FAKE_SOCKS5_SCRIPT_RESET_ON_REQUEST, NULL, NULL);
}

static void
test_proxy_unreachable(void **state)
{
	struct sockaddr_in sin = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof(sin);
	struct outcome *o;
	int fd;

	(void)state;
	/* A port that was just free: bind, read the number, close. */
	fd = socket(AF_INET, SOCK_STREAM, 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sin, &len), 0);
	close(fd);
	o = outcome_new(NULL, AF_INET, ntohs(sin.sin_port), NULL, NULL);
	start(o, NULL);
	assert_int_equal(o->res.failure, SOCKS5_UDP_PROXY_UNREACHABLE);
	assert_int_equal(o->res.err, -ECONNREFUSED);
	outcome_free(o);
}

/* Runs socks5_udp_relay_addr and returns the result as text ("1.2.3.4:5", "[::1]:5"). */
static const char *
relay_for(const char *proxy, const char *bnd, const struct socks5_udp_config *cfg, int *err)
{
	static char text[T2S_ENDPOINT_STRLEN];
	struct t2s_endpoint p, b, r;
	struct sockaddr_storage pss, rss;
	socklen_t len;

	assert_int_equal(endpoint_parse(&p, proxy, -1), 0);
	assert_int_equal(endpoint_to_sockaddr(&p, &pss, &len), 0);
	if (bnd[0] == '0' && bnd[1] == ':')
		b = (struct t2s_endpoint){.type = T2S_ENDPOINT_IPV4, .port = 0};
	else
		assert_int_equal(endpoint_parse(&b, bnd, -1), 0);
	memset(&rss, 0, sizeof(rss));
	*err = socks5_udp_relay_addr(&pss, &b, cfg, &rss, &len);
	if (*err < 0)
		return "";
	assert_int_equal(endpoint_from_sockaddr(&r, (struct sockaddr *)&rss), 0);
	assert_int_equal(len, rss.ss_family == AF_INET ? sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6));
	return endpoint_format(&r, text, sizeof(text));
}

static void
test_relay_addr_choice(void **state)
{
	struct socks5_udp_config keep = {.keep_private_bnd = 1};
	struct socks5_udp_config over;
	socklen_t len;
	int err;

	(void)state;
	/* A routable BND is used as given. */
	assert_string_equal(relay_for("203.0.113.5:1080", "198.51.100.9:4000", NULL, &err), "198.51.100.9:4000");
	/* Unspecified: the proxy's address with BND.PORT, in either family. */
	assert_string_equal(relay_for("203.0.113.5:1080", "0.0.0.0:4000", NULL, &err), "203.0.113.5:4000");
	assert_string_equal(relay_for("[2001:db8::5]:1080", "[::]:4000", NULL, &err), "[2001:db8::5]:4000");
	assert_string_equal(relay_for("203.0.113.5:1080", "[::ffff:0.0.0.0]:4000", NULL, &err), "203.0.113.5:4000");
	/* Private / link-local / ULA / CGNAT behind a public proxy: the proxy's address.
	 * (Private-range values are needed here as data for the rule under test; the pure
	 * function sends nothing anywhere.) */
	assert_string_equal(relay_for("203.0.113.5:1080", "10.0.0.1:4000", NULL, &err), "203.0.113.5:4000");
	assert_string_equal(relay_for("203.0.113.5:1080", "172.20.1.1:4000", NULL, &err), "203.0.113.5:4000");
	assert_string_equal(relay_for("203.0.113.5:1080", "192.168.1.1:4000", NULL, &err), "203.0.113.5:4000");
	assert_string_equal(relay_for("203.0.113.5:1080", "169.254.1.1:4000", NULL, &err), "203.0.113.5:4000");
	assert_string_equal(relay_for("203.0.113.5:1080", "100.64.0.1:4000", NULL, &err), "203.0.113.5:4000");
	assert_string_equal(relay_for("203.0.113.5:1080", "127.0.0.1:4000", NULL, &err), "203.0.113.5:4000");
	assert_string_equal(relay_for("203.0.113.5:1080", "[fd00::1]:4000", NULL, &err), "203.0.113.5:4000");
	assert_string_equal(relay_for("203.0.113.5:1080", "[fe80::1]:4000", NULL, &err), "203.0.113.5:4000");
	assert_string_equal(relay_for("203.0.113.5:1080", "[::ffff:10.0.0.1]:4000", NULL, &err), "203.0.113.5:4000");
	/* ... unless asked to keep it. */
	assert_string_equal(relay_for("203.0.113.5:1080", "10.0.0.1:4000", &keep, &err), "10.0.0.1:4000");
	/* Boundaries of 172.16/12 and 100.64/10. */
	assert_string_equal(relay_for("203.0.113.5:1080", "172.32.0.1:4000", NULL, &err), "172.32.0.1:4000");
	assert_string_equal(relay_for("203.0.113.5:1080", "100.128.0.1:4000", NULL, &err), "100.128.0.1:4000");
	/* A private proxy with a private BND: same site, used as given. */
	assert_string_equal(relay_for("192.168.1.1:1080", "10.0.0.1:4000", NULL, &err), "10.0.0.1:4000");
	assert_string_equal(relay_for("127.0.0.1:1080", "127.0.0.2:4000", NULL, &err), "127.0.0.2:4000");
	/* A domain is not resolved. */
	assert_string_equal(relay_for("203.0.113.5:1080", "relay.example:4000", NULL, &err), "203.0.113.5:4000");
	/* Port 0 cannot be a relay. */
	relay_for("203.0.113.5:1080", "0:0", NULL, &err);
	assert_int_equal(err, -EPROTO);
	/* The override wins over everything. */
	memset(&over, 0, sizeof(over));
	loopback(AF_INET6, &over.relay_override, &len);
	((struct sockaddr_in6 *)&over.relay_override)->sin6_port = htons(5000);
	assert_string_equal(relay_for("203.0.113.5:1080", "198.51.100.9:4000", &over, &err), "[::1]:5000");
	assert_int_equal(err, 0);
	/* An override without a port replaces only the address (--udp-relay ADDR). */
	((struct sockaddr_in6 *)&over.relay_override)->sin6_port = 0;
	assert_string_equal(relay_for("203.0.113.5:1080", "198.51.100.9:4000", &over, &err), "[::1]:4000");
	assert_int_equal(err, 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trips_v4_v6_domain),
		cmocka_unit_test(test_ipv6_proxy),
		cmocka_unit_test(test_auth),
		cmocka_unit_test(test_auth_rejected),
		cmocka_unit_test(test_bnd_unspecified_uses_proxy_address),
		cmocka_unit_test(test_bnd_domain_uses_proxy_address),
		cmocka_unit_test(test_relay_override),
		cmocka_unit_test(test_rep_unsupported_freed_in_callback),
		cmocka_unit_test(test_rep_not_allowed),
		cmocka_unit_test(test_control_closed),
		cmocka_unit_test(test_control_closed_freed_in_callback),
		cmocka_unit_test(test_frag_and_malformed_dropped),
		cmocka_unit_test(test_free_inside_datagram_batch),
		cmocka_unit_test(test_pending_icmp_error_does_not_fail_next_send),
		cmocka_unit_test(test_close_after_greeting),
		cmocka_unit_test(test_close_on_associate),
		cmocka_unit_test(test_proxy_unreachable),
		cmocka_unit_test(test_connect_still_in_progress),
		cmocka_unit_test(test_relay_addr_choice),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
