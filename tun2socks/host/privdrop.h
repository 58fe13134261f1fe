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
	const gid_t *groups; /* supplementary groups; NULL: just gid */
	size_t ngroups;
};

#define PRIVDROP_MAX_GROUPS 64
#define PRIVDROP_ENV_MAX 320

/* What a login of a user has: for -- COMMAND run by root. */
struct privdrop_login {
	struct privdrop_target id;
	gid_t groups[PRIVDROP_MAX_GROUPS];
	char home[PRIVDROP_ENV_MAX];
	char vars[4][PRIVDROP_ENV_MAX]; /* "HOME=...", "SHELL=...", "USER=...", "LOGNAME=..." */
};

/* Which user a COMMAND started by root runs as (pure; see privdrop_command_user). */
struct privdrop_who {
	const char *name; /* a user name or a numeric uid */
	long uid, gid;    /* from SUDO_UID / SUDO_GID, or -1: from the user database */
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

/*
 * Pure: who runs -- COMMAND when tun2socks' real uid is ruid. --user NAME (user_opt)
 * names the command's user too; without it, under sudo (ruid 0, SUDO_USER set) the
 * user who ran sudo, with SUDO_UID and SUDO_GID when they are numbers. Returns 1 with
 * *who filled, or 0: the command keeps our identity (no root, or root not via sudo).
 * The caller keeps root for uid 0 (--user root keeps root).
 */
int privdrop_command_user(const char *user_opt, uid_t ruid, const char *sudo_user, const char *sudo_uid,
			  const char *sudo_gid, struct privdrop_who *who);

/*
 * Fills *out for who (group: --group or NULL): uid, gid, the user's groups (as
 * initgroups would), HOME, SHELL, USER and LOGNAME from the user database (a uid
 * without an entry gets HOME=/ and SHELL=/bin/sh). Returns 0 or -errno with msg.
 */
int privdrop_login_resolve(const struct privdrop_who *who, const char *group, struct privdrop_login *out,
			   char *msg, size_t msglen);

/*
 * Pure: the command's environment: env (NULL-terminated) without HOME, SHELL, USER,
 * LOGNAME and the SUDO_* variables, then l's four. Everything else (DISPLAY,
 * WAYLAND_DISPLAY, XDG_RUNTIME_DIR, DBUS_SESSION_BUS_ADDRESS, PATH, TERM, ...) is kept.
 * out has room for cap pointers (the count of env plus 5 is always enough); it is
 * NULL-terminated. Returns the number of variables, or -ENOSPC.
 */
int privdrop_login_env(char *const *env, const struct privdrop_login *l, char **out, size_t cap);

#endif
