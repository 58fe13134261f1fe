/* SPDX-License-Identifier: MIT */
/*
 * Giving up root once the TUN is open: switch to an unprivileged user and group, keep
 * only the capabilities asked for (CAP_NET_ADMIN for SO_MARK on proxy sockets or for
 * route teardown, CAP_NET_RAW), and forbid regaining privileges (no_new_privs). Uses
 * the raw capset syscall, so no libcap is needed.
 */
#ifndef T2S_TUN2SOCKS_PRIVDROP_H
#define T2S_TUN2SOCKS_PRIVDROP_H

#include <stddef.h>
#include <sys/types.h>

/* Capabilities privdrop_apply may keep (a bit set). */
#define PRIVDROP_KEEP_NET_ADMIN 0x1u
#define PRIVDROP_KEEP_NET_RAW 0x2u

struct privdrop_target {
	uid_t uid;
	gid_t gid;
};

/*
 * Looks up user (a name or a numeric uid) and group (a name, a numeric gid, or NULL for
 * the user's primary group). Call it before anything is set up, so that a typo fails
 * at once. Returns 0, or -ENOENT / -EINVAL with a message in msg.
 */
int privdrop_resolve(const char *user, const char *group, struct privdrop_target *out, char *msg, size_t msglen);

/*
 * Becomes out->uid/out->gid for good (real, effective and saved IDs; the supplementary
 * groups become just gid), keeps the capabilities in keep (PRIVDROP_KEEP_*) in the
 * permitted and effective sets and no others, and sets no_new_privs. Checks the result
 * (root cannot be regained). Returns 0 or -errno; after a failure the process is in an
 * unknown state and must exit.
 */
int privdrop_apply(const struct privdrop_target *target, unsigned keep);

#endif
