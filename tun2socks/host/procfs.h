/* SPDX-License-Identifier: MIT */
/* Writing a /proc control file (a sysctl, uid_map, setgroups) in one write(2). */
#ifndef T2S_HOST_PROCFS_H
#define T2S_HOST_PROCFS_H

/*
 * Opens path for writing (no create, no truncate: /proc files are written in place)
 * and writes text in a single write(2), as the kernel parses each write on its own.
 * 0, or -errno (a short write is -errno of the failed call, or -EIO).
 */
int procfs_write(const char *path, const char *text);

#endif
