/* SPDX-License-Identifier: MIT */
/* Command-line parsing into struct t2s_config (getopt_long). Pure: no I/O but the
 * caller-provided message buffer. */
#ifndef T2S_TUN2SOCKS_CLI_H
#define T2S_TUN2SOCKS_CLI_H

#include <stddef.h>

#include "config.h"

enum cli_result {
	CLI_RUN = 0,
	CLI_HELP = 1,
	CLI_VERSION = 2,
	CLI_DOWN = 3, /* `tun2socks down`: lift what capture modes left in place */
	CLI_CHECK = 4, /* `tun2socks check`: diagnose the proxy (check.h) */
};

/*
 * Parses argv into cfg (which config_defaults has prepared). Returns a cli_result, or
 * -EINVAL with a one-line reason in msg (the caller prints it and exits with 2).
 */
int cli_parse(int argc, char **argv, struct t2s_config *cfg, char *msg, size_t msglen);

/*
 * Applies one long option by name ("mtu", "1500"), exactly as the command line would;
 * value NULL (or "", "1", "true") for an option without argument. The checks of the
 * whole command line (--proxy given, capture modes) are the caller's. proxy-auth-file,
 * netns, user and group are refused (-ENOTSUP): cfg would point into a value that does
 * not outlive the call. Uses getopt_long, whose globals (optind, optarg, opterr,
 * optopt) it restores: not to be called while another thread runs getopt. Returns 0 or
 * -errno with a one-line reason in msg.
 */
int cli_set(struct t2s_config *cfg, const char *name, const char *value, char *msg, size_t msglen);

/* cli_set for a value that outlives cfg (a config file's text): proxy-auth-file,
 * netns, user and group are accepted too. */
int cli_set_kept(struct t2s_config *cfg, const char *name, const char *value, char *msg, size_t msglen);

/* The --help text. */
extern const char cli_usage[];

#endif
