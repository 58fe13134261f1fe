/* SPDX-License-Identifier: MIT */
/* The --config file's lines into entries (pure), and its reading with the checks a file
 * that may hold a password needs. */
#include "conf_file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "errmsg.h"

struct conf_file {
	char *text; /* a NUL-terminated copy, cut into names and values */
	size_t text_len;
	struct conf_entry *entries;
	size_t n;
	uid_t owner;
	mode_t mode;
	char path[]; /* "" when parsed from memory */
};

static bool
is_blank(char c)
{
	return c == ' ' || c == '\t';
}

static bool
is_name_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
}

/* One line, NUL-terminated and without its end: 1 with *e filled, 0 for nothing, or
 * -EINVAL with the reason (no line number) in msg. */
static int
parse_line(char *s, struct conf_entry *e, char *msg, size_t msglen)
{
	char *name, *end;
	size_t n;

	while (is_blank(*s))
		s++;
	n = strlen(s);
	while (n > 0 && is_blank(s[n - 1]))
		s[--n] = '\0';
	if (*s == '\0' || *s == '#')
		return 0;
	if (s[0] == '-')
		return errmsg(-EINVAL, msg, msglen, "'%.40s': write option names without the leading '--'", s);
	name = s;
	while (is_name_char(*s))
		s++;
	if (s == name)
		return errmsg(-EINVAL, msg, msglen, "'%.40s' is not 'name = value'", name);
	end = s;
	while (is_blank(*s))
		s++;
	if (*s == '\0') {
		*end = '\0';
		e->name = name;
		e->value = NULL;
		return 1;
	}
	if (*s != '=')
		return errmsg(-EINVAL, msg, msglen,
			      "'%.40s' is not 'name = value' (an option name is a-z, 0-9 and '-')", name);
	*end = '\0';
	s++;
	while (is_blank(*s))
		s++;
	n = strlen(s);
	if (n >= 2 && s[0] == '"' && s[n - 1] == '"') {
		s[n - 1] = '\0';
		s++;
	} else if (s[0] == '"') {
		return errmsg(-EINVAL, msg, msglen, "%s: the value's opening '\"' is not closed at the end of the line",
			      name);
	}
	e->name = name;
	e->value = s;
	return 1;
}

static struct conf_file *
file_new(const char *path, size_t len)
{
	size_t plen = strlen(path);
	struct conf_file *f = calloc(1, sizeof(*f) + plen + 1);

	if (f == NULL)
		return NULL;
	memcpy(f->path, path, plen + 1);
	f->text = malloc(len + 1);
	if (f->text == NULL) {
		free(f);
		return NULL;
	}
	f->text_len = len + 1;
	return f;
}

/* f->text holds len bytes plus a NUL. */
static int
parse_text(struct conf_file *f, size_t len, char *msg, size_t msglen)
{
	char *p = f->text, *nl, why[160];
	size_t cap = 0;
	unsigned line = 0;
	int rc;

	if (memchr(f->text, '\0', len) != NULL) {
		size_t at = (size_t)((char *)memchr(f->text, '\0', len) - f->text);

		line = 1;
		for (size_t i = 0; i < at; i++)
			line += f->text[i] == '\n';
		return errmsg(-EINVAL, msg, msglen, "line %u: a NUL byte (not a text file?)", line);
	}
	while (p < f->text + len) {
		struct conf_entry e;

		line++;
		nl = memchr(p, '\n', (size_t)(f->text + len - p));
		if (nl == NULL)
			nl = f->text + len;
		if ((size_t)(nl - p) > CONF_FILE_LINE_MAX)
			return errmsg(-EINVAL, msg, msglen, "line %u: longer than %d bytes", line, CONF_FILE_LINE_MAX);
		*nl = '\0';
		if (nl > p && nl[-1] == '\r')
			nl[-1] = '\0';
		rc = parse_line(p, &e, why, sizeof(why));
		if (rc < 0)
			return errmsg(rc, msg, msglen, "line %u: %s", line, why);
		p = nl + 1;
		if (rc == 0)
			continue;
		if (f->n == CONF_FILE_MAX_ENTRIES)
			return errmsg(-EINVAL, msg, msglen, "line %u: more than %d options", line,
				      CONF_FILE_MAX_ENTRIES);
		if (f->n == cap) {
			size_t ncap = cap == 0 ? 16 : cap * 2;
			struct conf_entry *ne = realloc(f->entries, ncap * sizeof(*ne));

			if (ne == NULL)
				return errmsg(-ENOMEM, msg, msglen, "out of memory");
			f->entries = ne;
			cap = ncap;
		}
		e.line = line;
		f->entries[f->n++] = e;
	}
	return 0;
}

static int
parse_into(struct conf_file *f, const char *text, size_t len, struct conf_file **out, char *msg, size_t msglen)
{
	int rc;

	memcpy(f->text, text, len);
	f->text[len] = '\0';
	rc = parse_text(f, len, msg, msglen);
	if (rc < 0) {
		conf_file_free(f);
		return rc;
	}
	*out = f;
	return 0;
}

int
conf_file_parse(const char *text, size_t len, struct conf_file **out, char *msg, size_t msglen)
{
	struct conf_file *f;

	*out = NULL;
	if (len > CONF_FILE_MAX_BYTES)
		return errmsg(-EINVAL, msg, msglen, "larger than %d bytes", CONF_FILE_MAX_BYTES);
	f = file_new("", len);
	if (f == NULL)
		return errmsg(-ENOMEM, msg, msglen, "out of memory");
	return parse_into(f, text, len, out, msg, msglen);
}

size_t
conf_file_count(const struct conf_file *f)
{
	return f->n;
}

const struct conf_entry *
conf_file_entry(const struct conf_file *f, size_t i)
{
	return &f->entries[i];
}

const char *
conf_file_path(const struct conf_file *f)
{
	return f->path;
}

uid_t
conf_file_owner(const struct conf_file *f)
{
	return f->owner;
}

mode_t
conf_file_mode(const struct conf_file *f)
{
	return f->mode;
}

void
conf_file_free(struct conf_file *f)
{
	if (f == NULL)
		return;
	explicit_bzero(f->text, f->text_len);
	free(f->text);
	free(f->entries);
	free(f);
}

int
conf_file_read(const char *path, struct conf_file **out, char *msg, size_t msglen)
{
	struct conf_file *f;
	struct stat st;
	char *buf, why[200];
	size_t got = 0;
	ssize_t n;
	int fd, rc;

	*out = NULL;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return errmsg(-errno, msg, msglen, "%s: %s", path, strerror(errno));
	if (fstat(fd, &st) < 0) {
		rc = -errno;
		close(fd);
		return errmsg(rc, msg, msglen, "%s: %s", path, strerror(-rc));
	}
	if (!S_ISREG(st.st_mode)) {
		close(fd);
		return errmsg(-EINVAL, msg, msglen, "%s: not a regular file", path);
	}
	if (st.st_mode & S_IWOTH) {
		close(fd);
		return errmsg(-EPERM, msg, msglen,
			      "%s: writable by others (mode %04o), so anyone could choose the proxy: chmod o-w %s",
			      path, (unsigned)(st.st_mode & 07777), path);
	}
	if (st.st_size > CONF_FILE_MAX_BYTES) {
		close(fd);
		return errmsg(-EFBIG, msg, msglen, "%s: larger than %d bytes", path, CONF_FILE_MAX_BYTES);
	}
	buf = malloc((size_t)st.st_size + 1);
	if (buf == NULL) {
		close(fd);
		return errmsg(-ENOMEM, msg, msglen, "%s: out of memory", path);
	}
	/* Read to the end (a file may grow between fstat and read: bounded by the size). */
	while (got < (size_t)st.st_size + 1 && (n = read(fd, buf + got, (size_t)st.st_size + 1 - got)) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = -errno;
			close(fd);
			free(buf);
			return errmsg(rc, msg, msglen, "%s: %s", path, strerror(-rc));
		}
		got += (size_t)n;
	}
	close(fd);
	if (got > (size_t)st.st_size) {
		free(buf);
		return errmsg(-EAGAIN, msg, msglen, "%s: changed while being read", path);
	}
	f = file_new(path, got);
	if (f == NULL) {
		explicit_bzero(buf, got);
		free(buf);
		return errmsg(-ENOMEM, msg, msglen, "%s: out of memory", path);
	}
	f->owner = st.st_uid;
	f->mode = st.st_mode & 07777;
	rc = parse_into(f, buf, got, out, why, sizeof(why));
	explicit_bzero(buf, got);
	free(buf);
	if (rc < 0)
		return errmsg(rc, msg, msglen, "%s:%s", path, why + (strncmp(why, "line ", 5) == 0 ? 5 : 0));
	return 0;
}

int
conf_file_check_secret(uid_t owner, mode_t mode, const uid_t *allowed, size_t n_allowed, char *why, size_t whylen)
{
	bool owner_ok = owner == 0;

	for (size_t i = 0; i < n_allowed && !owner_ok; i++)
		owner_ok = owner == allowed[i];
	if (!owner_ok)
		return errmsg(-EPERM, why, whylen,
			      "holds a password but is owned by uid %u, neither root nor the service user: chown root",
			      (unsigned)owner);
	if (mode & S_IRWXO)
		return errmsg(-EPERM, why, whylen,
			      "holds a password but others may read it (mode %04o): chmod o-rwx (e.g. 0640 "
			      "root:<the service group>)",
			      (unsigned)(mode & 07777));
	return 0;
}
