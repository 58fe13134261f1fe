/* SPDX-License-Identifier: MIT */
/*
 * enum proxy_kind: which protocol a proxy speaks, chosen by the URL's scheme and carried
 * by struct socks5_server to the session dispatcher (proxy_tcp.h). A value type.
 */
#ifndef T2S_REDIRECT_PROXY_KIND_H
#define T2S_REDIRECT_PROXY_KIND_H

enum proxy_kind {
	PROXY_KIND_SOCKS5 = 0, /* socks5://, socks5h://: CONNECT and UDP ASSOCIATE */
	PROXY_KIND_HTTP,       /* http://: HTTP CONNECT only, no UDP */
};

#endif
