/* SPDX-License-Identifier: MIT */
/*
 * struct socks5_server: how to reach the proxy, shared by the handshake and by the
 * CONNECT and UDP ASSOCIATE sessions built on it, and by HTTP CONNECT (kind HTTP).
 * A value type, no functions.
 */
#ifndef T2S_REDIRECT_SOCKS5_SERVER_H
#define T2S_REDIRECT_SOCKS5_SERVER_H

#include <sys/socket.h>

#include "proxy_kind.h"
#include "sock.h"

struct tls_client;
struct socks5_pipeline;

/* How to reach the proxy. Owned by the caller; must outlive every session using it. */
struct socks5_server {
	enum proxy_kind kind; /* what the proxy speaks; SOCKS5 (0) unless set */
	struct sockaddr_storage addr;
	socklen_t addrlen;
	const char *user; /* NULL: offer "no authentication" only */
	const char *pass;
	unsigned fwmark; /* SO_MARK for proxy sockets, 0 for none */
	struct sock_hook hook; /* called on every socket opened for this server (sock.h) */
	struct tls_client *tls; /* NULL: plain TCP; else TLS to the proxy (tls_client.h), borrowed */
	/* What CONNECT sessions learn about pipelining (socks5_pipeline.h), owned by the
	 * holder of this struct; NULL: always step by step. */
	struct socks5_pipeline *pipeline;
};

#endif
