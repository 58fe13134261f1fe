/* SPDX-License-Identifier: MIT */
/* The engine on a socketpair TUN, and the runner of the in-process flow tests. */
#include "support/engine_fixture.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <cmocka.h>

#include "log.h"
#include "lwip_port.h"
#include "support/tcp_peer.h"
#include "t2s.h"
#include "tun.h"

static void
bufsize(int fd, int bytes)
{
	/* Room for several windows of packets either way (the socketpair never drops). */
	if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &bytes, sizeof(bytes)) < 0)
		(void)setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &bytes, sizeof(bytes));
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &bytes, sizeof(bytes)) < 0)
		(void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &bytes, sizeof(bytes));
}

void
engine_fixture_open(struct ev_loop *loop, const struct t2s_config *cfg, const struct socks5_server *proxy,
		    int sockbuf, struct t2s **t, struct tun_peer **peer)
{
	struct tun_device tun = {.fd = -1};
	int sp[2];

	assert_int_equal(socketpair(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sp), 0);
	if (sockbuf > 0) {
		bufsize(sp[0], sockbuf);
		bufsize(sp[1], sockbuf);
	}
	tun.fd = sp[0];
	strcpy(tun.name, "socketpair");
	*t = t2s_new(loop, cfg, proxy, &tun);
	assert_non_null(*t);
	*peer = tun_peer_new(loop, sp[1]);
	assert_non_null(*peer);
}

static void
tick_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)loop;
	(void)w;
	(void)revents;
}

int
engine_fixture_run(const char *name, const struct CMUnitTest *tests, size_t n, struct ev_loop **loop)
{
	ev_timer tick;
	int rc;

	if (getenv("T2S_TEST_FILTER") != NULL)
		cmocka_set_test_filter(getenv("T2S_TEST_FILTER"));
	log_set_level(getenv("T2S_TEST_DEBUG") != NULL ? LOG_LEVEL_DEBUG : LOG_LEVEL_WARN);
	*loop = ev_default_loop(0);
	if (lwip_port_init(*loop, NULL) != 0)
		return 1;
	ev_timer_init(&tick, tick_cb, 0.02, 0.02);
	ev_timer_start(*loop, &tick);
	ev_unref(*loop);
	rc = _cmocka_run_group_tests(name, tests, n, NULL, NULL);
	ev_ref(*loop);
	ev_timer_stop(*loop, &tick);
	lwip_port_fini();
	return rc;
}
