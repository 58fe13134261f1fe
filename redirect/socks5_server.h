/* SPDX-License-Identifier: MIT */
/*
 * struct socks5_server: how to reach the proxy, shared by the handshake and by the
 * CONNECT and UDP ASSOCIATE sessions built on it. A value type, no functions.
 */
#ifndef T2S_REDIRECT_SOCKS5_SERVER_H
#define T2S_REDIRECT_SOCKS5_SERVER_H

#include <sys/socket.h>

#include "sock.h"

struct socks5_pipeline;

/* How to reach the proxy. Owned by the caller; must outlive every session using it. */
struct socks5_server {
	struct sockaddr_storage addr;
	socklen_t addrlen;
	const char *user; /* NULL: offer "no authentication" only */
	const char *pass;
	unsigned fwmark; /* SO_MARK for proxy sockets, 0 for none */
	struct sock_hook hook; /* called on every socket opened for this server (sock.h) */
	/* What CONNECT sessions learn about pipelining (socks5_pipeline.h), owned by the
	 * holder of this struct; NULL: always step by step. */
	struct socks5_pipeline *pipeline;
};

#endif
