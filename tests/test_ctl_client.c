/* SPDX-License-Identifier: MIT */
/*
 * ctl_client's bounded set on a real loop with real loopback TCP connections: the cap
 * (one more connection is closed at once and counted, a freed slot is taken again),
 * a client that closes is freed, the stall deadline (armed at accept, or only when the
 * user arms it) frees and tells, bytes in and out through the buffers, and the set's
 * free closes every client.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
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

#include "ctl_client.h"
#include "support/loop.h"

struct rig {
	struct ev_loop *loop;
	struct ctl_client_set *set;
	struct sockaddr_in addr;
	unsigned stalled, ended;
};

/* Echoes what comes; "arm" arms the deadline instead; EOF frees. */
static void
echo_io(struct ctl_client *c, int revents)
{
	struct rig *r = c->arg;

	if (revents & EV_READ) {
		int rc = ctl_client_recv(c);

		if (rc < 0) {
			r->ended++;
			ctl_client_free(c);
			return;
		}
		if (rc == 0)
			return;
		if (c->in_len == 3 && memcmp(c->in, "arm", 3) == 0)
			ctl_client_stall_again(c);
		else
			ctl_buf_put(&c->out, c->in, c->in_len);
		c->in_len = 0;
	}
	if (ctl_client_send(c) < 0) {
		ctl_client_free(c);
		return;
	}
	ctl_client_watch(c, c->out.len > 0 ? EV_WRITE : EV_READ);
}

static void
note_stalled(struct ctl_client *c)
{
	struct rig *r = c->arg;

	r->stalled++;
}

static void
rig_start(struct rig *r, unsigned max, double stall, bool at_accept)
{
	socklen_t len = sizeof(r->addr);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	memset(r, 0, sizeof(*r));
	r->loop = ev_loop_new(EVFLAG_AUTO);
	assert_non_null(r->loop);
	assert_true(fd >= 0);
	r->addr.sin_family = AF_INET;
	r->addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *)&r->addr, sizeof(r->addr)), 0);
	assert_int_equal(listen(fd, 16), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&r->addr, &len), 0);
	r->set = ctl_client_set_new(r->loop, fd,
				    &(struct ctl_client_params){
					    .max_clients = max,
					    .in_size = 64,
					    .out_limit = 4096,
					    .stall_timeout = stall,
					    .stall_at_accept = at_accept,
					    .io = echo_io,
					    .stalled = note_stalled,
					    .arg = r,
				    });
	assert_non_null(r->set);
}

static void
rig_stop(struct rig *r)
{
	ctl_client_set_free(r->set);
	ev_loop_destroy(r->loop);
}

/* A connected client (the listener's backlog completes it before any accept). */
static int
peer(struct rig *r)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	assert_int_equal(connect(fd, (struct sockaddr *)&r->addr, sizeof(r->addr)), 0);
	return fd;
}

/* 1: the server closed fd's connection; 0: it is open and nothing waits. */
static int
peer_closed(int fd)
{
	char b;
	ssize_t n = recv(fd, &b, 1, MSG_DONTWAIT);

	if (n < 0 && errno == EAGAIN)
		return 0;
	return n == 0 || (n < 0 && errno == ECONNRESET);
}

struct want {
	struct rig *r;
	unsigned count;
	unsigned long refused;
};

static bool
set_is(void *arg)
{
	const struct want *w = arg;

	return ctl_client_set_count(w->r->set) == w->count && ctl_client_set_refused(w->r->set) == w->refused;
}

static void
wait_set(struct rig *r, unsigned count, unsigned long refused)
{
	struct want w = {r, count, refused};

	assert_true(loop_run_until(r->loop, set_is, &w, 2.0));
}

static void
max_clients_refused(void **state)
{
	struct rig r;
	int a, b, c, d;

	(void)state;
	rig_start(&r, 2, 10.0, false);
	a = peer(&r);
	b = peer(&r);
	wait_set(&r, 2, 0);
	c = peer(&r);
	wait_set(&r, 2, 1);
	loop_run_for(r.loop, 0.05);
	assert_int_equal(ctl_client_set_count(r.set), 2);
	assert_int_equal(peer_closed(c), 1);
	assert_int_equal(peer_closed(a), 0);
	assert_int_equal(peer_closed(b), 0);
	/* A slot freed by a close is taken again. */
	close(a);
	wait_set(&r, 1, 1);
	d = peer(&r);
	wait_set(&r, 2, 1);
	assert_int_equal(peer_closed(d), 0);
	assert_int_equal(r.ended, 1);
	assert_int_equal(r.stalled, 0);
	close(b);
	close(c);
	close(d);
	rig_stop(&r);
}

static void
close_frees(void **state)
{
	struct rig r;
	char buf[8] = {0};
	int a;

	(void)state;
	rig_start(&r, 4, 10.0, false);
	a = peer(&r);
	wait_set(&r, 1, 0);
	assert_int_equal(send(a, "hello", 5, 0), 5);
	for (int i = 0; i < 200 && recv(a, buf, sizeof(buf) - 1, MSG_DONTWAIT) < 0; i++)
		loop_run_for(r.loop, 0.01);
	assert_string_equal(buf, "hello");
	close(a);
	wait_set(&r, 0, 0);
	assert_int_equal(r.ended, 1);
	assert_int_equal(r.stalled, 0);
	rig_stop(&r);
}

static void
stall_at_accept_frees(void **state)
{
	struct rig r;
	int a;

	(void)state;
	rig_start(&r, 4, 0.1, true);
	a = peer(&r);
	wait_set(&r, 1, 0);
	wait_set(&r, 0, 0);
	assert_int_equal(r.stalled, 1);
	assert_int_equal(r.ended, 0);
	assert_int_equal(peer_closed(a), 1);
	close(a);
	rig_stop(&r);
}

static void
stall_armed_by_user_frees(void **state)
{
	struct rig r;
	int a;

	(void)state;
	rig_start(&r, 4, 0.1, false);
	a = peer(&r);
	wait_set(&r, 1, 0);
	/* Not armed: well past the timeout, still there. */
	loop_run_for(r.loop, 0.3);
	assert_int_equal(ctl_client_set_count(r.set), 1);
	assert_int_equal(peer_closed(a), 0);
	assert_int_equal(send(a, "arm", 3, 0), 3);
	wait_set(&r, 0, 0);
	assert_int_equal(r.stalled, 1);
	assert_int_equal(peer_closed(a), 1);
	close(a);
	rig_stop(&r);
}

static void
set_free_closes_clients(void **state)
{
	struct rig r;
	int a, b;

	(void)state;
	rig_start(&r, 4, 10.0, false);
	a = peer(&r);
	b = peer(&r);
	wait_set(&r, 2, 0);
	ctl_client_set_free(r.set);
	r.set = NULL;
	assert_int_equal(peer_closed(a), 1);
	assert_int_equal(peer_closed(b), 1);
	close(a);
	close(b);
	rig_stop(&r);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(max_clients_refused),
		cmocka_unit_test(close_frees),
		cmocka_unit_test(stall_at_accept_frees),
		cmocka_unit_test(stall_armed_by_user_frees),
		cmocka_unit_test(set_free_closes_clients),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
