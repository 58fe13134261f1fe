/* SPDX-License-Identifier: MIT */
/*
 * The accepted connections of one listening socket on the one libev loop, bounded: at
 * most max_clients at once (beyond, a new connection is closed at once and counted as
 * refused), each with an input buffer, an output ctl_buf and a stall deadline; a client
 * that passes its deadline is freed. The listener never keeps the loop running. The
 * control socket (ctl_server.c) and /metrics (metrics_server.c) speak their protocols
 * over it: this module reads, sends and frees, and decides nothing else.
 */
#ifndef T2S_CTL_CTL_CLIENT_H
#define T2S_CTL_CTL_CLIENT_H

#include <stdbool.h>
#include <stddef.h>

#include <ev.h>

#include "ctl_proto.h"
#include "list.h"

struct ctl_client;
struct ctl_client_set;

struct ctl_client_params {
	unsigned max_clients; /* at once */
	size_t in_size;       /* bytes of each client's input buffer */
	size_t out_limit;     /* each client's output buffer's limit (ctl_buf_init) */
	double stall_timeout; /* seconds from ctl_client_stall_again to the stall */
	bool stall_at_accept; /* armed when accepted: a bound on the whole exchange */
	/* c's socket is ready (revents as watched: EV_READ at first). May free c. */
	void (*io)(struct ctl_client *c, int revents);
	/* c passed its deadline; the set frees it when this returns. May be NULL. */
	void (*stalled)(struct ctl_client *c);
	void *arg; /* the user's, as c->arg */
};

struct ctl_client {
	void *arg;          /* ctl_client_params.arg */
	int fd;             /* non-blocking; closed by ctl_client_free */
	struct ctl_buf out; /* waits to be sent (ctl_client_send); freed with c */
	bool closing;       /* the user's: c's last response is queued, close once it is sent */
	size_t in_len;      /* bytes in in */
	/* The set's own. */
	struct ctl_client_set *set;
	struct list_node link;
	ev_io io;
	ev_timer stall;
	char in[]; /* ctl_client_params.in_size bytes */
};

/*
 * Accepts on fd (listening, non-blocking) from now on: *p is copied, and fd is the set's
 * (closed by ctl_client_set_free). NULL when out of memory (fd is still the caller's).
 */
struct ctl_client_set *ctl_client_set_new(struct ev_loop *loop, int fd, const struct ctl_client_params *p);

/* Frees every client, stops accepting and closes the listener. NULL is fine. */
void ctl_client_set_free(struct ctl_client_set *set);

/* Clients connected now; connections closed at once ever (max_clients, memory). */
unsigned ctl_client_set_count(const struct ctl_client_set *set);
unsigned long ctl_client_set_refused(const struct ctl_client_set *set);

/* Stops c's watchers, closes its socket and frees it with its buffers. */
void ctl_client_free(struct ctl_client *c);

/*
 * Reads what fits into in (after in_len): 1 when bytes came, 0 when none are there now,
 * -1 when the connection ended (EOF, an error, or in is full): then free c.
 */
int ctl_client_recv(struct ctl_client *c);

/*
 * Sends what the socket takes of out now: the bytes sent (0: it takes nothing now, or
 * out is empty), or -1 when the connection failed: then free c.
 */
long ctl_client_send(struct ctl_client *c);

/* Watches c's socket for events (EV_READ, EV_WRITE or both) from now on. */
void ctl_client_watch(struct ctl_client *c, int events);

/* Arms c's deadline stall_timeout seconds from now (again, when armed); disarms it. */
void ctl_client_stall_again(struct ctl_client *c);
void ctl_client_stall_stop(struct ctl_client *c);
bool ctl_client_stall_armed(const struct ctl_client *c);

#endif
