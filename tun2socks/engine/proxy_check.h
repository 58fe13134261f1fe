/* SPDX-License-Identifier: MIT */
/*
 * The background checks of several proxies (proxy_set.h): every interval seconds,
 * each proxy gets one CONNECT (proxy_tcp.h: TCP connect, TLS, greeting,
 * authentication, request) to target; an answer from the proxy, whether the target
 * was reached or not, is a success; a failure to connect, a broken handshake, a
 * rejected authentication or no answer within timeout is a failure. Outcomes go to
 * proxy_set_report. A libev driver; the decisions are proxy_set's.
 */
#ifndef T2S_TUN2SOCKS_PROXY_CHECK_H
#define T2S_TUN2SOCKS_PROXY_CHECK_H

#include <ev.h>

#include "endpoint.h"
#include "proxy_set.h"
#include "socks5_server.h"

struct proxy_check;

/*
 * servers has proxy_set_count(set) entries; both are borrowed and must outlive the
 * checker. The first round starts at once. Returns NULL with errno set.
 */
struct proxy_check *proxy_check_new(struct ev_loop *loop, struct proxy_set *set, const struct socks5_server *servers,
				    const struct t2s_endpoint *target, double interval, double timeout);

/* Stops every check and frees; NULL is fine. */
void proxy_check_free(struct proxy_check *c);

#endif
