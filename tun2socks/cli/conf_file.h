/* SPDX-License-Identifier: MIT */
/*
 * The configuration file (--config): one "name = value" per line, the names being the
 * command's long options; whole-line '#' comments. A small parser of our own rather
 * than libinih: Debian builds libinih with 200-byte lines, ';' comments and indented
 * lines as continuations, and an RFC 1929 user name and password may be 255 bytes
 * each (docs/ARCHITECTURE.md). conf_file_parse is pure (fuzzed: tests/fuzz);
 * conf_file_read adds the I/O and what the permission check needs.
 */
#ifndef T2S_CLI_CONF_FILE_H
#define T2S_CLI_CONF_FILE_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* Bigger files are refused: a configuration is a few dozen lines. */
#define CONF_FILE_MAX_BYTES (256 * 1024)
/* A line may carry a URL with a 255-byte user and password, percent-encoded (x3). */
#define CONF_FILE_LINE_MAX 4096
#define CONF_FILE_MAX_ENTRIES 1024

struct conf_entry {
	const char *name;  /* [a-z0-9-]+, no leading "--" */
	const char *value; /* NULL: "name" alone on its line (an option without value) */
	unsigned line;     /* 1-based */
};

/* Entries in file order, and the text they point into; owned, one allocation each. */
struct conf_file;

/*
 * Parses text (len bytes, need not be NUL-terminated). Rules: lines end with "\n"
 * ("\r\n" too); blanks around the name, the '=' and the value are dropped; a line whose
 * first non-blank is '#' is a comment, and '#' elsewhere is part of the value (a
 * password may hold one); a value in double quotes keeps its blanks (no escapes). No
 * I/O. Returns 0 with *out set, -EINVAL with "line N: reason" in msg, or -ENOMEM.
 */
int conf_file_parse(const char *text, size_t len, struct conf_file **out, char *msg, size_t msglen);

size_t conf_file_count(const struct conf_file *f);
/* i < conf_file_count(f); valid until conf_file_free. */
const struct conf_entry *conf_file_entry(const struct conf_file *f, size_t i);
/* The path given to conf_file_read ("" after conf_file_parse). */
const char *conf_file_path(const struct conf_file *f);
/* Owner and mode of the file when it was read (0 and 0 after conf_file_parse). */
uid_t conf_file_owner(const struct conf_file *f);
mode_t conf_file_mode(const struct conf_file *f);

/* NULL is a no-op; the text is wiped (it may hold a password). */
void conf_file_free(struct conf_file *f);

/*
 * Reads and parses path. A file that others may write is refused (anyone could choose
 * the proxy). Returns 0, or -errno with "PATH: reason" / "PATH:LINE: reason" in msg.
 */
int conf_file_read(const char *path, struct conf_file **out, char *msg, size_t msglen);

/*
 * Whether a file that holds a secret may be used: owned by uid 0 or by one of
 * allowed[] (us, the --user), and no permission for others. Pure. Returns 0, or
 * -EPERM with the reason and the fix in why.
 */
int conf_file_check_secret(uid_t owner, mode_t mode, const uid_t *allowed, size_t n_allowed, char *why,
			   size_t whylen);

#endif
