/* SPDX-License-Identifier: MIT */
/*
 * The command's control socket (docs/CONTROL.md): ctl_server on the engine's loop,
 * answering `status` and `flows` from the running engine. Named like the capture's
 * state record, /run/tun2socks/net<inode>-<tun>.control, for the network namespace the
 * TUN lives in, unless --control gives a path.
 */
#ifndef T2S_CLI_CONTROL_H
#define T2S_CLI_CONTROL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <ev.h>

struct t2s_engine;
struct control;

/* What status tells of the run besides the engine's own view. */
struct control_params {
	const char *path;    /* the socket */
	gid_t gid;           /* its group, or (gid_t)-1 */
	const char *capture; /* "none", "auto-route", "netns NAME", "command", "share-from IFACE" */
	unsigned long netns; /* the inode of the TUN's network namespace */
};

#define CONTROL_DIR "/run/tun2socks"

/* CONTROL_DIR/net<netns>-<tun>.control into out; returns 0 or -ENAMETOOLONG. */
int control_default_path(unsigned long netns, const char *tun, char *out, size_t cap);

/* Listens (CONTROL_DIR is made if need be); returns 0 with *out set, or -errno. */
int control_start(struct ev_loop *loop, struct t2s_engine *engine, const struct control_params *p,
		  struct control **out);
void control_stop(struct control *c);

/*
 * `tun2socks down`: removes the control sockets of this network namespace (for tun,
 * or any TUN when NULL) that nobody answers (a run killed, or one that ran as --user
 * and could not remove its own). Logs each; returns how many went.
 */
int control_remove_stale(const char *tun);

/* Resident memory and open descriptors of this process (0 when unknown). */
void control_process_usage(uint64_t *rss, uint64_t *fds);

#endif
