/* SPDX-License-Identifier: MIT */
/* The cgroup2 mount, a cgroup's directory, depth and id; see cgroup_path.h. */
#include "cgroup_path.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* One whitespace-separated field of a mountinfo line, its \ooo escapes undone. */
static const char *
field(const char *s, char *out, size_t len, bool *fits)
{
	size_t n = 0;

	while (*s == ' ')
		s++;
	*fits = true;
	while (*s != '\0' && *s != ' ' && *s != '\n') {
		char c = *s++;

		if (c == '\\' && s[0] >= '0' && s[0] <= '3' && s[1] >= '0' && s[1] <= '7' && s[2] >= '0' &&
		    s[2] <= '7') {
			c = (char)((s[0] - '0') * 64 + (s[1] - '0') * 8 + (s[2] - '0'));
			s += 3;
		}
		if (n + 1 < len)
			out[n++] = c;
		else
			*fits = false;
	}
	if (len > 0)
		out[n] = '\0';
	return s;
}

int
cgroup_path_mount(const char *mountinfo, char *mnt, size_t len)
{
	const char *line = mountinfo;

	/* id parent major:minor root mountpoint options [optional...] - fstype source super */
	while (line != NULL && *line != '\0') {
		const char *nl = strchr(line, '\n'), *s = line, *dash;
		char point[4096], type[32];
		bool fits, point_fits;
		int i;

		for (i = 0; i < 4; i++)
			s = field(s, point, sizeof(point), &fits);
		s = field(s, point, sizeof(point), &point_fits);
		dash = strstr(s, " - ");
		if (dash != NULL && (nl == NULL || dash < nl)) {
			(void)field(dash + 3, type, sizeof(type), &fits);
			if (fits && strcmp(type, "cgroup2") == 0) {
				if (!point_fits || strlen(point) >= len)
					return -ENAMETOOLONG;
				memcpy(mnt, point, strlen(point) + 1);
				return 0;
			}
		}
		line = nl != NULL ? nl + 1 : NULL;
	}
	return -ENOENT;
}

int
cgroup_path_parse(const char *mnt, const char *path, char *dir, size_t len, unsigned *level)
{
	size_t mlen = strlen(mnt), n;
	const char *s = path;
	unsigned depth = 0;

	while (mlen > 1 && mnt[mlen - 1] == '/')
		mlen--;
	if (path[0] == '/') {
		/* Absolute: mnt itself, then a slash (not /sys/fs/cgroup/unifiedX). */
		if (strncmp(path, mnt, mlen) != 0 || (path[mlen] != '/' && path[mlen] != '\0'))
			return -EINVAL;
		s = path + mlen;
	}
	if (mlen + 1 > len)
		return -ENAMETOOLONG;
	memcpy(dir, mnt, mlen);
	n = mlen;
	for (;;) {
		size_t clen;

		while (*s == '/')
			s++;
		if (*s == '\0')
			break;
		clen = strcspn(s, "/");
		if ((clen == 1 && s[0] == '.') || (clen == 2 && s[0] == '.' && s[1] == '.'))
			return -EINVAL;
		if (n + 1 + clen + 1 > len)
			return -ENAMETOOLONG;
		dir[n++] = '/';
		memcpy(dir + n, s, clen);
		n += clen;
		s += clen;
		depth++;
	}
	dir[n] = '\0';
	if (depth == 0)
		return -EINVAL; /* the root is everyone: no selection */
	*level = depth;
	return 0;
}

/* /proc/self/mountinfo, whole, NUL-terminated, into a buffer the caller frees. */
static int
read_mountinfo(char **out)
{
	size_t cap = 16384, n = 0;
	char *buf = malloc(cap);
	int fd, err = 0;

	if (buf == NULL)
		return -ENOMEM;
	fd = open("/proc/self/mountinfo", O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		err = -errno;
		goto err_free;
	}
	for (;;) {
		ssize_t r;

		if (n + 1 == cap) {
			char *bigger = cap < (4u << 20) ? realloc(buf, cap * 2) : NULL;

			if (bigger == NULL) {
				err = -ENOMEM;
				goto err_close;
			}
			buf = bigger;
			cap *= 2;
		}
		r = read(fd, buf + n, cap - n - 1);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			err = -errno;
			goto err_close;
		}
		if (r == 0)
			break;
		n += (size_t)r;
	}
	close(fd);
	buf[n] = '\0';
	*out = buf;
	return 0;

err_close:
	close(fd);
err_free:
	free(buf);
	return err;
}

int
cgroup_path_resolve(const char *path, struct cgroup_path_id *out)
{
	char *info = NULL;
	int err;

	if ((err = read_mountinfo(&info)) < 0)
		return err;
	err = cgroup_path_resolve_in(info, path, out);
	free(info);
	return err;
}

int
cgroup_path_resolve_in(const char *mountinfo, const char *path, struct cgroup_path_id *out)
{
	char mnt[CGROUP_PATH_MAX], dir[CGROUP_PATH_MAX * 2];
	struct stat st;
	unsigned level;
	int err;

	err = cgroup_path_mount(mountinfo, mnt, sizeof(mnt));
	if (err < 0)
		return err == -ENOENT ? -ENODEV : err;
	if ((err = cgroup_path_parse(mnt, path, dir, sizeof(dir), &level)) < 0)
		return err;
	if (stat(dir, &st) < 0)
		return -errno;
	if (!S_ISDIR(st.st_mode))
		return -ENOTDIR;
	out->id = (uint64_t)st.st_ino;
	out->level = level;
	return 0;
}
