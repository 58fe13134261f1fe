/* SPDX-License-Identifier: MIT */
/*
 * The control socket's line protocol (docs/CONTROL.md), pure: requests are one line,
 * responses "ok" or "error TEXT", then records, then an empty line. A record is
 * "key=value key=value ..." with every byte of a value outside printable ASCII, and
 * ' ', '=' and '%', written as %XX. No I/O here: ctl_server.c and the client feed it
 * bytes.
 */
#ifndef T2S_CTL_CTL_PROTO_H
#define T2S_CTL_CTL_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Longest request line, LF included; a longer one is a protocol error. */
#define CTL_PROTO_REQUEST_MAX 256
/* Most fields of one record that ctl_proto_parse_record returns. */
#define CTL_PROTO_FIELDS_MAX 32

/* A growing output buffer with a hard limit: past it, failed is set and nothing more is
 * added (the server then cuts the client off rather than buffer without bound). */
struct ctl_buf {
	char *data;
	size_t len, cap, limit;
	bool failed;
};

void ctl_buf_init(struct ctl_buf *b, size_t limit);
void ctl_buf_free(struct ctl_buf *b);
/* Drops the first n bytes (they were sent). */
void ctl_buf_consume(struct ctl_buf *b, size_t n);
/* Raw bytes; false when failed. */
bool ctl_buf_put(struct ctl_buf *b, const char *s, size_t n);

/* Appends " key=value" (no space before the first field of a line), value escaped. */
void ctl_proto_field(struct ctl_buf *b, const char *key, const char *value);
void ctl_proto_field_u64(struct ctl_buf *b, const char *key, uint64_t value);
/* %.3f */
void ctl_proto_field_f(struct ctl_buf *b, const char *key, double value);
/* Ends the record (LF). */
void ctl_proto_end_record(struct ctl_buf *b);
/* "ok\n" / "error TEXT\n" (TEXT on one line), the start of every response. */
void ctl_proto_ok(struct ctl_buf *b);
void ctl_proto_error(struct ctl_buf *b, const char *text);
/* The empty line that ends every response. */
void ctl_proto_end(struct ctl_buf *b);

/*
 * The length of the first line in buf (LF included), 0 when no LF has come yet within
 * max bytes, -EMSGSIZE when max bytes hold no LF.
 */
long ctl_proto_line(const char *buf, size_t len, size_t max);

/* Escapes value into out (cap bytes, NUL-terminated); returns the length, or -ENOSPC. */
long ctl_proto_escape(const char *value, char *out, size_t cap);

struct ctl_field {
	const char *key, *value; /* NUL-terminated, in the parsed line; value unescaped */
};

/*
 * Splits one record line (NUL-terminated, without its LF) in place into at most max
 * fields. Returns the number of fields, or -EPROTO (a field without '=', an empty key,
 * a bad %XX escape, more than max fields).
 */
int ctl_proto_parse_record(char *line, struct ctl_field *fields, size_t max);

/* The value of key among n fields, or NULL. */
const char *ctl_proto_get(const struct ctl_field *fields, int n, const char *key);

#endif
