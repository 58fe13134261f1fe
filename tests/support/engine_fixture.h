/* SPDX-License-Identifier: MIT */
/*
 * The engine in process, for the flow tests: t2s_new on one end of a socketpair that
 * stands in for the TUN (no root, no ioctl), the other end a tun_peer (tcp_peer.h), and
 * a cmocka runner that keeps lwIP's port and a short tick on the default loop.
 */
#ifndef T2S_TESTS_ENGINE_FIXTURE_H
#define T2S_TESTS_ENGINE_FIXTURE_H

#include <stddef.h>
#include <stdint.h>

#include <ev.h>

struct CMUnitTest;
struct socks5_server;
struct t2s;
struct t2s_config;
struct tun_peer;

/* Waits on the loop, never sleeps: WAIT_UNTIL runs it until cond holds or secs pass. */
#define WAIT_UNTIL(loop, cond, secs) \
	do { \
		ev_tstamp end_ = ev_time() + (secs); \
		while (!(cond) && ev_time() < end_) \
			ev_run((loop), EVRUN_ONCE); \
	} while (0)

/*
 * Starts the engine with cfg (which must outlive it) and proxy on a socketpair TUN whose
 * buffers hold sockbuf bytes each way (0: the kernel's default). Sets *t and *peer; the
 * test frees them with t2s_free and tun_peer_free. Fails the test on error.
 */
void engine_fixture_open(struct ev_loop *loop, const struct t2s_config *cfg, const struct socks5_server *proxy,
			 int sockbuf, struct t2s **t, struct tun_peer **peer);

/*
 * Runs the n tests with lwIP's port set up on the default loop (*loop is set to it
 * first) and a 20 ms tick, so a loop iteration never sleeps long. T2S_TEST_FILTER=GLOB
 * runs the matching tests only; T2S_TEST_DEBUG logs at debug level. Returns cmocka's
 * result.
 */
int engine_fixture_run(const char *name, const struct CMUnitTest *tests, size_t n, struct ev_loop **loop);

#endif
