/* SPDX-License-Identifier: MIT */
/* Records and lines of the control protocol; see ctl_proto.h. */
#include "ctl_proto.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void
ctl_buf_init(struct ctl_buf *b, size_t limit)
{
	memset(b, 0, sizeof(*b));
	b->limit = limit;
}

void
ctl_buf_free(struct ctl_buf *b)
{
	free(b->data);
	b->data = NULL;
	b->len = b->cap = 0;
}

void
ctl_buf_consume(struct ctl_buf *b, size_t n)
{
	if (n >= b->len) {
		b->len = 0;
		return;
	}
	memmove(b->data, b->data + n, b->len - n);
	b->len -= n;
}

bool
ctl_buf_put(struct ctl_buf *b, const char *s, size_t n)
{
	if (b->failed)
		return false;
	if (b->len + n > b->limit) {
		b->failed = true;
		return false;
	}
	if (b->len + n > b->cap) {
		size_t cap = b->cap > 0 ? b->cap : 4096;
		char *d;

		while (cap < b->len + n)
			cap *= 2;
		if (cap > b->limit)
			cap = b->limit;
		d = realloc(b->data, cap);
		if (d == NULL) {
			b->failed = true;
			return false;
		}
		b->data = d;
		b->cap = cap;
	}
	memcpy(b->data + b->len, s, n);
	b->len += n;
	return true;
}

static bool
plain(unsigned char c)
{
	return c > ' ' && c < 0x7f && c != '=' && c != '%';
}

long
ctl_proto_escape(const char *value, char *out, size_t cap)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t n = 0;

	for (const unsigned char *p = (const unsigned char *)value; *p != '\0'; p++) {
		if (plain(*p)) {
			if (n + 1 >= cap)
				return -ENOSPC;
			out[n++] = (char)*p;
		} else {
			if (n + 3 >= cap)
				return -ENOSPC;
			out[n++] = '%';
			out[n++] = hex[*p >> 4];
			out[n++] = hex[*p & 15];
		}
	}
	if (n >= cap)
		return -ENOSPC;
	out[n] = '\0';
	return (long)n;
}

void
ctl_proto_field(struct ctl_buf *b, const char *key, const char *value)
{
	char esc[3 * 1024 + 1]; /* a proxy URL: a 255-byte user name and host, escaped */
	long n = ctl_proto_escape(value, esc, sizeof(esc));

	if (n < 0) {
		b->failed = true; /* values are host names and addresses: never this long */
		return;
	}
	if (b->len > 0 && b->data[b->len - 1] != '\n')
		ctl_buf_put(b, " ", 1);
	ctl_buf_put(b, key, strlen(key));
	ctl_buf_put(b, "=", 1);
	ctl_buf_put(b, esc, (size_t)n);
}

void
ctl_proto_field_u64(struct ctl_buf *b, const char *key, uint64_t value)
{
	char v[24];

	snprintf(v, sizeof(v), "%" PRIu64, value);
	ctl_proto_field(b, key, v);
}

void
ctl_proto_field_f(struct ctl_buf *b, const char *key, double value)
{
	char v[48];

	snprintf(v, sizeof(v), "%.3f", value);
	ctl_proto_field(b, key, v);
}

void
ctl_proto_end_record(struct ctl_buf *b)
{
	ctl_buf_put(b, "\n", 1);
}

void
ctl_proto_ok(struct ctl_buf *b)
{
	ctl_buf_put(b, "ok\n", 3);
}

void
ctl_proto_error(struct ctl_buf *b, const char *text)
{
	ctl_buf_put(b, "error ", 6);
	for (const char *p = text; *p != '\0'; p++)
		ctl_buf_put(b, *p == '\n' ? " " : p, 1);
	ctl_buf_put(b, "\n", 1);
}

void
ctl_proto_end(struct ctl_buf *b)
{
	ctl_buf_put(b, "\n", 1);
}

long
ctl_proto_line(const char *buf, size_t len, size_t max)
{
	size_t n = len < max ? len : max;
	const char *lf = memchr(buf, '\n', n);

	if (lf != NULL)
		return (long)(lf - buf) + 1;
	return len >= max ? -EMSGSIZE : 0;
}

static int
hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* In place; the result is never longer. */
static int
unescape(char *s)
{
	char *o = s;

	for (; *s != '\0'; s++) {
		if (*s != '%') {
			*o++ = *s;
			continue;
		}
		int hi = hexval(s[1]), lo = hi < 0 ? -1 : hexval(s[2]);

		if (hi < 0 || lo < 0 || (hi == 0 && lo == 0))
			return -EPROTO;
		*o++ = (char)(hi << 4 | lo);
		s += 2;
	}
	*o = '\0';
	return 0;
}

int
ctl_proto_parse_record(char *line, struct ctl_field *fields, size_t max)
{
	int n = 0;
	char *p = line;

	while (*p != '\0') {
		char *end, *eq;

		if (*p == ' ') {
			p++;
			continue;
		}
		end = strchr(p, ' ');
		if (end != NULL)
			*end = '\0';
		eq = strchr(p, '=');
		if (eq == NULL || eq == p || (size_t)n == max)
			return -EPROTO;
		*eq = '\0';
		if (unescape(eq + 1) < 0)
			return -EPROTO;
		fields[n].key = p;
		fields[n].value = eq + 1;
		n++;
		if (end == NULL)
			break;
		p = end + 1;
	}
	return n;
}

const char *
ctl_proto_get(const struct ctl_field *fields, int n, const char *key)
{
	for (int i = 0; i < n; i++)
		if (strcmp(fields[i].key, key) == 0)
			return fields[i].value;
	return NULL;
}
