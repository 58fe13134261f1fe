/* SPDX-License-Identifier: MIT */
/*
 * Naming a cgroup of the v2 hierarchy for --cgroup/--exclude-cgroup: where cgroup2 is
 * mounted (from /proc/self/mountinfo; it is /sys/fs/cgroup/unified on a hybrid host, where
 * nft's own path lookup fails), the directory a path names, its depth below the root (the
 * `level` of nftables' socket cgroupv2 match) and its id (the directory's inode). The
 * parsers are pure; cgroup_path_resolve reads the host.
 */
#ifndef T2S_TUN2SOCKS_CGROUP_PATH_H
#define T2S_TUN2SOCKS_CGROUP_PATH_H

#include <stddef.h>
#include <stdint.h>

#define CGROUP_PATH_MAX 256

/* A cgroup as the socket match wants it. */
struct cgroup_path_id {
	uint64_t id;    /* the cgroup's id: its directory's inode on the cgroup2 mount */
	unsigned level; /* its depth: system.slice/foo.service is 2 */
};

/*
 * The mount point of the cgroup2 hierarchy in the text of /proc/PID/mountinfo (octal
 * escapes such as \040 undone) into mnt. Returns 0, -ENOENT (no cgroup2 mount) or
 * -ENAMETOOLONG.
 */
int cgroup_path_mount(const char *mountinfo, char *mnt, size_t len);

/*
 * The directory that path names: relative to the cgroup2 root (system.slice/foo.service,
 * as systemd writes it) or absolute under mnt. Repeated and trailing slashes are
 * ignored; "." and ".." components, an empty path, the root itself, and an absolute path
 * outside mnt are -EINVAL. Returns 0 with dir (mnt/...) and *level, or -ENAMETOOLONG.
 */
int cgroup_path_parse(const char *mnt, const char *path, char *dir, size_t len, unsigned *level);

/*
 * path under the cgroup2 mount that mountinfo (its text) names: cgroup_path_parse, then
 * the directory's inode. Returns 0, -ENODEV (no cgroup2 mount), -ENOENT (no such
 * cgroup), -ENOTDIR, -EINVAL, -ENAMETOOLONG or another -errno of stat(2).
 */
int cgroup_path_resolve_in(const char *mountinfo, const char *path, struct cgroup_path_id *out);

/* cgroup_path_resolve_in with /proc/self/mountinfo; also -errno from reading it. */
int cgroup_path_resolve(const char *path, struct cgroup_path_id *out);

#endif
