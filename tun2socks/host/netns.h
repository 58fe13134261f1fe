/* SPDX-License-Identifier: MIT */
/*
 * Network namespaces: entering an existing one for a while (--netns), and running a
 * command in a fresh one whose TUN is handed back to us (tun2socks -- COMMAND).
 */
#ifndef T2S_TUN2SOCKS_NETNS_H
#define T2S_TUN2SOCKS_NETNS_H

#include <stdbool.h>
#include <sys/types.h>

#include "privdrop.h"

/* Opens "/path/to/ns" (e.g. /proc/PID/ns/net) or NAME (/run/netns/NAME). Returns an fd or -errno. */
int netns_open(const char *spec);
/* Moves the calling thread into target; *saved receives our namespace to return to. 0 or -errno. */
int netns_enter(int target, int *saved);
/* Returns to saved (and closes it). 0 or -errno. */
int netns_return(int saved);

/*
 * Runs in the child, inside its new namespaces, before the command: creates and
 * configures the TUN there and returns its descriptor (or -errno). Called once.
 */
typedef int (*netns_setup_fn)(void *arg);

struct netns_cmd_params {
	char **argv;            /* the command; argv[0] is looked up in PATH */
	const char *resolv_conf; /* contents bind-mounted over /etc/resolv.conf; NULL to leave it */
	netns_setup_fn setup;
	void *setup_arg;
	/* When we are root: the user the command runs as (privdrop_apply, no capability
	 * left), its environment and the directory to go to when the current one is not
	 * accessible to it. NULL: the command keeps our identity and environ. */
	const struct privdrop_target *run_as;
	char **envp;
	const char *home;
};

struct netns_cmd;

/*
 * Forks a child that unshares its network and mount namespaces (and its user namespace
 * when we are not root), runs setup there and sends the TUN back; the child then waits
 * for netns_cmd_go before it executes the command. On success *tun_fd is the TUN
 * (ours to close). NULL with errno set; EPERM means neither privilege nor unprivileged
 * user namespaces were available (already logged with what is needed).
 */
struct netns_cmd *netns_cmd_spawn(const struct netns_cmd_params *p, int *tun_fd);
/* Lets the child execute the command. 0 or -errno. */
int netns_cmd_go(struct netns_cmd *c);
pid_t netns_cmd_pid(const struct netns_cmd *c);
/* Closes our end; the child, if still waiting for go, exits. Does not wait for it. */
void netns_cmd_free(struct netns_cmd *c);

/*
 * Whether a signal that reached tun2socks must be passed on to the command (pure).
 * code and sender are si_code and si_pid as signalfd reports them. The terminal
 * (si_code SI_KERNEL) signals its whole foreground process group: when the command is
 * in ours it got Ctrl-C already, and a second copy would be one too many. A hangup
 * reaches only the session leader, so when we are that leader it is passed on. A
 * signal sent by a process is passed on, unless the command sent it itself.
 */
bool netns_cmd_forward(int signo, int code, pid_t sender, pid_t cmd_pid, pid_t cmd_pgrp, pid_t our_pgrp,
		       bool session_leader);

/* A wait status as a shell reports it: the exit code, or 128 + signal. */
int netns_exit_status(int wstatus);

#endif
