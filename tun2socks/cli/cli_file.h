/* SPDX-License-Identifier: MIT */
/*
 * The command's configuration from its two sources, --config FILE (conf_file.h) and
 * the command line, which overrides the file: a later single-valued option wins, and a
 * repeatable option (--exclude) given on the command line replaces the file's list.
 * Also what reads a secret for the configuration (--proxy-auth-file, a systemd
 * credential, TUN2SOCKS_PROXY_AUTH) and --print-config. Used at start and by a reload.
 */
#ifndef T2S_CLI_CLI_FILE_H
#define T2S_CLI_CLI_FILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <sys/types.h>

#include "config.h"
#include "conf_file.h"

/* A value "cred:NAME" of proxy-auth-file names the file NAME in
 * $CREDENTIALS_DIRECTORY (systemd's LoadCredential=). */
#define CLI_FILE_CRED_PREFIX "cred:"

/* What the config file gave. cfg's string options point into file: keep it as long. */
struct cli_file {
	struct conf_file *file; /* NULL: no --config */
	bool secret;            /* a password was in the file (proxy = URL with user:pass) */
};

/*
 * config_defaults(cfg) first. Applies the file that --config names in argv (as
 * "--config FILE" or "--config=FILE", before any "--"), then parses argv over it
 * (cli_parse). Returns a cli_result, or -errno with a one-line reason in msg: a file
 * error reads "FILE:LINE: --option: reason" (the caller exits with 2). On success
 * *out owns the file (cli_file_release), also when there was none.
 */
int cli_file_load(int argc, char **argv, struct t2s_config *cfg, struct cli_file *out, char *msg, size_t msglen);

void cli_file_release(struct cli_file *f);

/*
 * A file that held a password must be owned by root or one of allowed[] (us, the
 * --user) and give others no permission. Returns 0 or -EPERM with "FILE: reason".
 */
int cli_file_check(const struct cli_file *f, const uid_t *allowed, size_t n_allowed, char *msg, size_t msglen);

/*
 * Credentials from --proxy-auth-file (first line user:password; "cred:NAME" for a
 * systemd credential) or else TUN2SOCKS_PROXY_AUTH override the URL's; the variable
 * is removed from the environment either way. Returns 0 or -errno with the reason.
 */
int cli_file_credentials(struct t2s_config *cfg, char *msg, size_t msglen);

/* "cred:NAME" -> "$CREDENTIALS_DIRECTORY/NAME", other paths as they are. Returns 0,
 * or -EINVAL / -ENAMETOOLONG with the reason. Pure but for getenv. */
int cli_file_cred_path(const char *value, char *buf, size_t buflen, char *msg, size_t msglen);

/* The effective configuration as a config file (every option; unset ones as
 * comments), the password masked. */
void cli_file_print(FILE *fp, const struct t2s_config *cfg);

/* A deep copy of argv (NULL-terminated), for a reload to parse again after the
 * original was scrubbed of passwords; NULL when out of memory. */
char **cli_file_argv_dup(int argc, char **argv);
void cli_file_argv_free(char **argv);

#endif
