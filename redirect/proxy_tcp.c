/* SPDX-License-Identifier: MIT */
/*
 * The dispatcher: a SOCKS5 or an HTTP CONNECT session, and the SOCKS5 result turned
 * into the common one.
 */
#include "proxy_tcp.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "http_connect.h"
#include "socks5_tcp.h"

struct proxy_tcp {
	enum proxy_kind kind;
	struct socks5_tcp *socks5;
	struct http_connect *http;
	proxy_tcp_done_fn done;
	void *arg;
};

static void
socks5_done_cb(void *arg, const struct socks5_tcp_result *r)
{
	static const enum proxy_tcp_failure failures[] = {
		[SOCKS5_TCP_OK] = PROXY_TCP_OK,
		[SOCKS5_TCP_PROXY_UNREACHABLE] = PROXY_TCP_UNREACHABLE,
		[SOCKS5_TCP_PROXY_PROTOCOL] = PROXY_TCP_PROTOCOL,
		[SOCKS5_TCP_PROXY_AUTH] = PROXY_TCP_AUTH,
		[SOCKS5_TCP_TARGET] = PROXY_TCP_TARGET,
	};
	struct proxy_tcp *p = arg;
	struct proxy_tcp_result res = {.failure = failures[r->failure], .err = r->err, .rep = r->rep,
				       .method = r->method};

	p->done(p->arg, &res);
}

struct proxy_tcp *
proxy_tcp_new(struct ev_loop *loop, const struct socks5_server *server, const struct t2s_endpoint *target,
	      proxy_tcp_done_fn done, void *arg)
{
	struct proxy_tcp *p = calloc(1, sizeof(*p));
	int err;

	if (p == NULL) {
		errno = ENOMEM;
		return NULL;
	}
	p->kind = server->kind;
	p->done = done;
	p->arg = arg;
	switch (server->kind) {
	case PROXY_KIND_SOCKS5:
		p->socks5 = socks5_tcp_new(loop, server, target, socks5_done_cb, p);
		if (p->socks5 != NULL)
			return p;
		break;
	case PROXY_KIND_HTTP:
		/* The common result already: done goes straight to the caller. */
		p->http = http_connect_new(loop, server, target, done, arg);
		if (p->http != NULL)
			return p;
		break;
	default:
		errno = EPROTONOSUPPORT;
		break;
	}
	err = errno;
	free(p);
	errno = err;
	return NULL;
}

int
proxy_tcp_take_fd(struct proxy_tcp *p)
{
	return p->kind == PROXY_KIND_HTTP ? http_connect_take_fd(p->http) : socks5_tcp_take_fd(p->socks5);
}

void
proxy_tcp_free(struct proxy_tcp *p)
{
	if (p == NULL)
		return;
	socks5_tcp_free(p->socks5);
	http_connect_free(p->http);
	free(p);
}
