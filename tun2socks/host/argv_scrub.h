/* SPDX-License-Identifier: MIT */
/*
 * Hides a password given on the command line (socks5://user:pass@host) from other
 * users: /proc/PID/cmdline shows the argv strings as they are in our memory, so they
 * are overwritten in place once parsed. (The password was visible until then; the
 * usage text recommends --proxy-auth-file or TUN2SOCKS_PROXY_AUTH.)
 */
#ifndef T2S_TUN2SOCKS_ARGV_SCRUB_H
#define T2S_TUN2SOCKS_ARGV_SCRUB_H

#include <stddef.h>

/*
 * In every argv element that contains "scheme://user:pass@", replaces each byte of
 * pass with '*' (same length, so the other arguments stay where they are), up to the
 * first "--": a COMMAND's arguments are its own and stay as given. Call after the
 * arguments were copied into the configuration. Returns how many were scrubbed.
 */
int argv_scrub_passwords(int argc, char **argv);

/*
 * The same for every URL in a message (NUL-terminated) that quotes an argument back.
 * Where the URL ends is not known there: up to the last '@' before the next '/', '?'
 * or '#' is masked, which may be more than the password, never less. Returns how many.
 */
int argv_scrub_text(char *text);

/*
 * The same for the environment (/proc/PID/environ shows the original block): replaces
 * the value of variable name ("user:password") by '*' in place, keeping its length,
 * then removes the variable (unsetenv), so that no child inherits it. Call after the
 * value was copied. Returns 1 if it was set, else 0.
 */
int argv_scrub_env(const char *name);

#endif
