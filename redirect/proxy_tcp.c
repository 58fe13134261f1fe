/* SPDX-License-Identifier: MIT */
/*
 * The dispatcher: a SOCKS5 or an HTTP CONNECT session, on a TCP socket of its own or,
 * for a TLS proxy, on the plain end of a tls_conn; the SOCKS5 result turned into the
 * common one. A TLS failure before the session's own answer is the flow's result.
 */
#include "proxy_tcp.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "http_connect.h"
#include "socks5_tcp.h"
#include "tls_client.h"

struct proxy_tcp {
	enum proxy_kind kind;
	struct socks5_tcp *socks5;
	struct http_connect *http;
	struct tls_conn *tls; /* until the session succeeded (then detached) or p is freed */
	proxy_tcp_done_fn done;
	void *arg;
};

static void
finish(struct proxy_tcp *p, const struct proxy_tcp_result *res)
{
	if (res->failure == PROXY_TCP_OK && p->tls != NULL) {
		tls_conn_detach(p->tls); /* relays on its own from now on */
		p->tls = NULL;
	}
	p->done(p->arg, res);
}

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
	struct proxy_tcp_result res = {.failure = failures[r->failure], .err = r->err, .rep = r->rep,
				       .method = r->method};

	finish(arg, &res);
}

static void
http_done_cb(void *arg, const struct proxy_tcp_result *res)
{
	finish(arg, res);
}

static void
tls_failed_cb(void *arg, enum proxy_tcp_failure failure, int err, const char *reason)
{
	struct proxy_tcp *p = arg;
	struct proxy_tcp_result res = {.failure = failure, .err = err};

	snprintf(res.reason, sizeof(res.reason), "%s", reason);
	p->done(p->arg, &res);
}

struct proxy_tcp *
proxy_tcp_new(struct ev_loop *loop, const struct socks5_server *server, const struct t2s_endpoint *target,
	      proxy_tcp_done_fn done, void *arg)
{
	struct proxy_tcp *p = calloc(1, sizeof(*p));
	int fd = -1, err;

	if (p == NULL) {
		errno = ENOMEM;
		return NULL;
	}
	p->kind = server->kind;
	p->done = done;
	p->arg = arg;
	if (server->tls != NULL) {
		p->tls = tls_conn_new(server->tls, server, tls_failed_cb, p, &fd);
		if (p->tls == NULL)
			goto err_free;
	}
	switch (server->kind) {
	case PROXY_KIND_SOCKS5:
		p->socks5 = fd >= 0 ? socks5_tcp_new_on_fd(loop, server, fd, target, socks5_done_cb, p)
				    : socks5_tcp_new(loop, server, target, socks5_done_cb, p);
		if (p->socks5 != NULL)
			return p;
		break;
	case PROXY_KIND_HTTP:
		p->http = fd >= 0 ? http_connect_new_on_fd(loop, server, fd, target, http_done_cb, p)
				  : http_connect_new(loop, server, target, http_done_cb, p);
		if (p->http != NULL)
			return p;
		break;
	default:
		if (fd >= 0)
			close(fd);
		errno = EPROTONOSUPPORT;
		break;
	}
err_free:
	err = errno;
	tls_conn_free(p->tls);
	free(p);
	errno = err;
	return NULL;
}

int
proxy_tcp_take_fd(struct proxy_tcp *p)
{
	return p->kind == PROXY_KIND_HTTP ? http_connect_take_fd(p->http) : socks5_tcp_take_fd(p->socks5);
}

bool
proxy_tcp_proxy_answered(const struct proxy_tcp *p)
{
	return p->kind == PROXY_KIND_HTTP ? http_connect_proxy_answered(p->http) : socks5_tcp_proxy_answered(p->socks5);
}

void
proxy_tcp_free(struct proxy_tcp *p)
{
	if (p == NULL)
		return;
	socks5_tcp_free(p->socks5);
	http_connect_free(p->http);
	tls_conn_free(p->tls);
	free(p);
}
