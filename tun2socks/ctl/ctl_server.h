/* SPDX-License-Identifier: MIT */
/*
 * The control socket: a Unix stream socket on the one libev loop, served without ever
 * blocking it. Each client sends request lines (ctl_proto.h) and gets one response per
 * line, built at once by the handler into the client's output buffer. A client whose
 * unsent output would pass out_limit, or that takes nothing for stall_timeout seconds
 * while output waits, is cut off: the loop never waits for a reader.
 */
#ifndef T2S_CTL_CTL_SERVER_H
#define T2S_CTL_CTL_SERVER_H

#include <stddef.h>
#include <sys/types.h>

#include <ev.h>

#include "ctl_proto.h"

struct ctl_server_params {
	const char *path;      /* the socket's path (copied) */
	mode_t mode;           /* e.g. 0660 */
	gid_t gid;             /* the socket's group, or (gid_t)-1 to leave it */
	size_t out_limit;      /* unsent bytes per client, at most */
	double stall_timeout;  /* seconds a client may leave output unread */
	unsigned max_clients;  /* beyond, new connections are closed at once */
	/*
	 * Writes the response to one request line (NUL-terminated, without LF) into out,
	 * starting with ctl_proto_ok or ctl_proto_error and ending with ctl_proto_end. On
	 * the loop's thread. out->failed after the call cuts the client off.
	 */
	void (*handle)(void *arg, const char *request, struct ctl_buf *out);
	void *arg;
};

struct ctl_server;

/*
 * Binds and listens at p->path (a stale socket there, which nobody answers, is
 * replaced; a live one is -EADDRINUSE). Returns 0 with *out set, or -errno.
 */
int ctl_server_new(struct ev_loop *loop, const struct ctl_server_params *p, struct ctl_server **out);

/* Closes every client and the listener, and removes the socket's path (if it can).
 * NULL is fine. */
void ctl_server_free(struct ctl_server *s);

/* Clients connected now, and cut off ever (slow, stuck, too long a request). */
unsigned ctl_server_clients(const struct ctl_server *s);
unsigned long ctl_server_cut_off(const struct ctl_server *s);

#endif
