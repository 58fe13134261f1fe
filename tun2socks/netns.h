/* SPDX-License-Identifier: MIT */
/*
 * Network namespaces: entering an existing one for a while (--netns), and running a
 * command in a fresh one whose TUN is handed back to us (tun2socks -- COMMAND).
 */
#ifndef T2S_TUN2SOCKS_NETNS_H
#define T2S_TUN2SOCKS_NETNS_H

#include <sys/types.h>

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

/* A wait status as a shell reports it: the exit code, or 128 + signal. */
int netns_exit_status(int wstatus);

#endif
