/* SPDX-License-Identifier: MIT */
/*
 * proxy_lookup: the library's own lookup of the proxy's name, against scripted DNS
 * servers on loopback (answers, NXDOMAIN, NODATA, SERVFAIL, silence, a closed port,
 * a reply with the wrong ID), the socket hook, the deadline and cancellation.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>
#include <ev.h>

#include "container_of.h"
#include "dns_msg.h"
#include "proxy_lookup.h"
#include "support/loop.h"

enum behaviour { ANSWER_A, AAAA_ONLY, NXDOMAIN, NODATA, SERVFAIL, SILENT, WRONG_ID_FIRST };

struct fake_dns {
	int fd;
	ev_io io;
	enum behaviour how;
	unsigned queries;
	struct sockaddr_storage addr;
};

struct run {
	struct ev_loop *loop;
	struct fake_dns dns[3];
	unsigned n_dns;
	struct proxy_lookup *l;
	unsigned done;
	struct proxy_lookup_result res;
	unsigned hooked, hooked_dgram;
};

static void
fake_reply(struct fake_dns *d, const uint8_t *msg, size_t len, const struct sockaddr *from, socklen_t flen)
{
	static const uint8_t a[4] = {198, 18, 0, 7};
	static const uint8_t aaaa[16] = {0x20, 0x01, 0, 2, [15] = 7};
	struct dns_query q;
	uint8_t out[DNS_MSG_ANSWER_MAX];
	int n;

	assert_int_equal(dns_msg_parse_query(msg, len, &q), 0);
	assert_string_equal(q.name, "proxy.example");
	switch (d->how) {
	case ANSWER_A:
		n = dns_msg_build_answer(&q, msg, q.qtype == DNS_MSG_TYPE_A ? a : NULL, 4, 300, out, sizeof(out));
		break;
	case AAAA_ONLY:
		n = dns_msg_build_answer(&q, msg, q.qtype == DNS_MSG_TYPE_AAAA ? aaaa : NULL, 6, 60, out,
					 sizeof(out));
		break;
	case NXDOMAIN:
		n = dns_msg_build_error(&q, msg, DNS_MSG_RCODE_NXDOMAIN, out, sizeof(out));
		break;
	case NODATA:
		n = dns_msg_build_answer(&q, msg, NULL, 4, 0, out, sizeof(out));
		break;
	case SERVFAIL:
		n = dns_msg_build_error(&q, msg, DNS_MSG_RCODE_SERVFAIL, out, sizeof(out));
		break;
	case WRONG_ID_FIRST:
		n = dns_msg_build_answer(&q, msg, q.qtype == DNS_MSG_TYPE_A ? a : NULL, 4, 300, out, sizeof(out));
		assert_true(n > 0);
		out[0] ^= 0x5a; /* another ID first: must be ignored */
		out[3] = (uint8_t)(out[3] & 0xf0); /* ... even though it claims NOERROR */
		assert_true(sendto(d->fd, out, (size_t)n, 0, from, flen) == n);
		out[0] ^= 0x5a;
		break;
	case SILENT:
	default:
		return;
	}
	assert_true(n > 0);
	assert_true(sendto(d->fd, out, (size_t)n, 0, from, flen) == n);
}

static void
fake_io_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct fake_dns *d = container_of(w, struct fake_dns, io);
	uint8_t buf[1500];
	struct sockaddr_storage from;
	socklen_t flen = sizeof(from);
	ssize_t n;

	(void)loop;
	(void)revents;
	n = recvfrom(d->fd, buf, sizeof(buf), 0, (struct sockaddr *)&from, &flen);
	if (n <= 0)
		return;
	d->queries++;
	fake_reply(d, buf, (size_t)n, (struct sockaddr *)&from, flen);
}

/* A server on 127.0.0.<i+1>; closed: its port is bound, then released (ICMP unreachable). */
static void
fake_start(struct run *r, enum behaviour how, bool closed)
{
	struct fake_dns *d = &r->dns[r->n_dns];
	struct sockaddr_in *sin = (struct sockaddr_in *)&d->addr;
	socklen_t len = sizeof(*sin);

	memset(d, 0, sizeof(*d));
	d->how = how;
	sin->sin_family = AF_INET;
	sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK + r->n_dns);
	d->fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	assert_true(d->fd >= 0);
	assert_int_equal(bind(d->fd, (struct sockaddr *)sin, len), 0);
	assert_int_equal(getsockname(d->fd, (struct sockaddr *)sin, &len), 0);
	if (closed) {
		close(d->fd);
		d->fd = -1;
	} else {
		ev_io_init(&d->io, fake_io_cb, d->fd, EV_READ);
		ev_io_start(r->loop, &d->io);
	}
	r->n_dns++;
}

static int
hook(void *arg, int fd, int family, int type)
{
	struct run *r = arg;

	(void)fd;
	(void)family;
	r->hooked++;
	if (type == SOCK_DGRAM)
		r->hooked_dgram++;
	return 0;
}

static void
done_cb(void *arg, const struct proxy_lookup_result *res)
{
	struct run *r = arg;

	r->done++;
	r->res = *res;
	proxy_lookup_free(r->l); /* allowed from here */
	r->l = NULL;
}

static bool
is_done(void *arg)
{
	return ((struct run *)arg)->done > 0;
}

static int
setup(void **state)
{
	static struct run r;

	memset(&r, 0, sizeof(r));
	r.loop = ev_loop_new(EVFLAG_AUTO);
	assert_non_null(r.loop);
	*state = &r;
	return 0;
}

static int
teardown(void **state)
{
	struct run *r = *state;

	proxy_lookup_free(r->l);
	for (unsigned i = 0; i < r->n_dns; i++) {
		if (r->dns[i].fd >= 0) {
			ev_io_stop(r->loop, &r->dns[i].io);
			close(r->dns[i].fd);
		}
	}
	ev_loop_destroy(r->loop);
	return 0;
}

/* Looks proxy.example up on every server started, within timeout; returns the error. */
static int
lookup(struct run *r, double timeout)
{
	struct sockaddr_storage servers[3];
	struct sock_hook h = {.fn = hook, .arg = r};
	struct proxy_lookup_params p = {
		.name = "Proxy.Example.", .servers = servers, .n_servers = r->n_dns, .timeout = timeout, .hook = &h,
	};

	for (unsigned i = 0; i < r->n_dns; i++)
		servers[i] = r->dns[i].addr;
	assert_int_equal(proxy_lookup_start(r->loop, &p, done_cb, r, &r->l), 0);
	assert_int_equal(r->done, 0); /* never from inside start */
	assert_true(loop_run_until(r->loop, is_done, r, timeout + 2.0));
	assert_int_equal(r->done, 1);
	return r->res.err;
}

static void
a_record(void **state)
{
	struct run *r = *state;
	const struct sockaddr_in *sin = (const struct sockaddr_in *)&r->res.addr;

	fake_start(r, ANSWER_A, false);
	assert_int_equal(lookup(r, 5.0), 0);
	assert_int_equal(sin->sin_family, AF_INET);
	assert_int_equal(ntohl(sin->sin_addr.s_addr), 0xc6120007);
	assert_int_equal(r->res.addrlen, sizeof(*sin));
	assert_int_equal(r->res.ttl, 300);
	assert_non_null(strstr(r->res.why, "A record from 127.0.0.1:"));
	assert_int_equal(r->hooked, 1);
	assert_int_equal(r->hooked_dgram, 1);
}

static void
aaaa_only(void **state)
{
	struct run *r = *state;
	const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)&r->res.addr;

	fake_start(r, AAAA_ONLY, false);
	assert_int_equal(lookup(r, 5.0), 0);
	assert_int_equal(sin6->sin6_family, AF_INET6);
	assert_int_equal(sin6->sin6_addr.s6_addr[1], 0x01);
	assert_int_equal(sin6->sin6_addr.s6_addr[15], 7);
	assert_int_equal(r->res.ttl, 60);
	assert_int_equal(r->dns[0].queries, 2); /* A and AAAA, once each */
}

static void
nxdomain(void **state)
{
	struct run *r = *state;

	fake_start(r, NXDOMAIN, false);
	fake_start(r, ANSWER_A, false); /* not asked: the name does not exist */
	assert_int_equal(lookup(r, 5.0), -ENOENT);
	assert_non_null(strstr(r->res.why, "NXDOMAIN"));
	assert_int_equal(r->dns[1].queries, 0);
}

static void
nodata(void **state)
{
	struct run *r = *state;

	fake_start(r, NODATA, false);
	assert_int_equal(lookup(r, 5.0), -ENOENT);
	assert_non_null(strstr(r->res.why, "no address"));
}

static void
servfail_then_next(void **state)
{
	struct run *r = *state;

	fake_start(r, SERVFAIL, false);
	fake_start(r, ANSWER_A, false);
	assert_int_equal(lookup(r, 5.0), 0);
	assert_non_null(strstr(r->res.why, "from 127.0.0.2:"));
	assert_int_equal(r->hooked, 2); /* one socket per server asked */
}

static void
closed_then_next(void **state)
{
	struct run *r = *state;

	fake_start(r, ANSWER_A, true);
	fake_start(r, ANSWER_A, false);
	assert_int_equal(lookup(r, 5.0), 0);
	assert_non_null(strstr(r->res.why, "from 127.0.0.2:"));
}

static void
all_fail(void **state)
{
	struct run *r = *state;

	fake_start(r, SERVFAIL, false);
	fake_start(r, ANSWER_A, true);
	assert_int_equal(lookup(r, 5.0), -EHOSTUNREACH);
	assert_non_null(strstr(r->res.why, "127.0.0.2:"));
}

/* Silence: resent once after PROXY_LOOKUP_FIRST_WAIT, then the deadline. */
static void
silent(void **state)
{
	struct run *r = *state;

	fake_start(r, SILENT, false);
	assert_int_equal(lookup(r, 1.5), -ETIMEDOUT);
	assert_int_equal(r->dns[0].queries, 4); /* A and AAAA, twice */
	assert_non_null(strstr(r->res.why, "no answer in time"));
}

static void
wrong_id_ignored(void **state)
{
	struct run *r = *state;

	fake_start(r, WRONG_ID_FIRST, false);
	assert_int_equal(lookup(r, 5.0), 0);
	assert_int_equal(r->res.ttl, 300);
}

static void
refused_params(void **state)
{
	struct run *r = *state;
	struct sockaddr_storage ss = {.ss_family = AF_INET};
	struct proxy_lookup_params p = {.name = "a..b", .servers = &ss, .n_servers = 1, .timeout = 1.0};

	assert_int_equal(proxy_lookup_start(r->loop, &p, done_cb, r, &r->l), -EINVAL);
	p.name = "ok.example";
	p.n_servers = 0;
	assert_int_equal(proxy_lookup_start(r->loop, &p, done_cb, r, &r->l), -EINVAL);
	p.n_servers = 1;
	p.timeout = 0;
	assert_int_equal(proxy_lookup_start(r->loop, &p, done_cb, r, &r->l), -EINVAL);
	assert_null(r->l);
}

/* Freed before the answer: no callback, nothing left on the loop. */
static void
cancelled(void **state)
{
	struct run *r = *state;
	struct proxy_lookup_params p = {.name = "proxy.example", .n_servers = 1, .timeout = 5.0};

	fake_start(r, ANSWER_A, false);
	p.servers = &r->dns[0].addr;
	assert_int_equal(proxy_lookup_start(r->loop, &p, done_cb, r, &r->l), 0);
	proxy_lookup_free(r->l);
	r->l = NULL;
	loop_run_for(r->loop, 0.2);
	assert_int_equal(r->done, 0);
	assert_int_equal(r->dns[0].queries, 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(a_record, setup, teardown),
		cmocka_unit_test_setup_teardown(aaaa_only, setup, teardown),
		cmocka_unit_test_setup_teardown(nxdomain, setup, teardown),
		cmocka_unit_test_setup_teardown(nodata, setup, teardown),
		cmocka_unit_test_setup_teardown(servfail_then_next, setup, teardown),
		cmocka_unit_test_setup_teardown(closed_then_next, setup, teardown),
		cmocka_unit_test_setup_teardown(all_fail, setup, teardown),
		cmocka_unit_test_setup_teardown(silent, setup, teardown),
		cmocka_unit_test_setup_teardown(wrong_id_ignored, setup, teardown),
		cmocka_unit_test_setup_teardown(refused_params, setup, teardown),
		cmocka_unit_test_setup_teardown(cancelled, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
