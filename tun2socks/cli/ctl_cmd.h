/* SPDX-License-Identifier: MIT */
/*
 * The client subcommands of the control socket (docs/CONTROL.md): `tun2socks status`,
 * `tun2socks flows` and `tun2socks top`, run by main() before anything else.
 */
#ifndef T2S_CLI_CTL_CMD_H
#define T2S_CLI_CTL_CMD_H

#include <stdbool.h>

/* True if argv[1] names a client subcommand. */
bool ctl_cmd_is(const char *arg);

/* Runs it (argv[0] is the subcommand); returns the exit status. */
int ctl_cmd_main(int argc, char **argv);

#endif
