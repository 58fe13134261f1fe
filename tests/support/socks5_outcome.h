/* SPDX-License-Identifier: MIT */
/*
 * One socks5_tcp CONNECT run to its end on a test's own loop, and how it ended: the
 * client side that test_socks5_tcp and test_socks5_pipeline share (their server is
 * fake_socks5).
 */
#ifndef T2S_TESTS_SOCKS5_OUTCOME_H
#define T2S_TESTS_SOCKS5_OUTCOME_H

#include <ev.h>

#include "socks5_tcp.h"

struct socks5_outcome {
	int done;                     /* how many times the session's done callback ran */
	struct socks5_tcp_result res; /* what it reported */
	struct socks5_tcp *session;   /* freed (NULL) once done */
	int fd;                       /* the handed-over socket after SOCKS5_TCP_OK (the test closes it), else -1 */
};

/*
 * Fills *o with one CONNECT to 198.19.0.10:80 through server on loop; fails the test
 * unless the done callback ran exactly once within 5 s of loop time.
 */
void socks5_outcome_connect(struct socks5_outcome *o, struct ev_loop *loop, const struct socks5_server *server);

/* Only starts that CONNECT: the test runs the loop itself and reads *o as it goes. */
void socks5_outcome_start(struct socks5_outcome *o, struct ev_loop *loop, const struct socks5_server *server);

#endif
