/* SPDX-License-Identifier: MIT */
/* setgroups/setresgid/setresuid with PR_SET_KEEPCAPS and capset, then no_new_privs. */
#include "privdrop.h"

#include <errno.h>
#include <grp.h>
#include <linux/capability.h>
#include <pwd.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

static bool
parse_id(const char *s, unsigned long *out)
{
	char *end;

	if (*s < '0' || *s > '9')
		return false;
	errno = 0;
	*out = strtoul(s, &end, 10);
	return errno == 0 && *end == '\0' && *out < 0xffffffffUL;
}

int
privdrop_resolve(const char *user, const char *group, struct privdrop_target *out, char *msg, size_t msglen)
{
	const struct passwd *pw;
	const struct group *gr;
	unsigned long id;

	out->groups = NULL;
	out->ngroups = 0;
	errno = 0;
	pw = getpwnam(user);
	if (pw != NULL) {
		out->uid = pw->pw_uid;
		out->gid = pw->pw_gid;
	} else if (parse_id(user, &id)) {
		out->uid = (uid_t)id;
		pw = getpwuid(out->uid);
		if (pw == NULL && group == NULL) {
			snprintf(msg, msglen, "--user %s: no such user, so no primary group: add --group", user);
			return -ENOENT;
		}
		out->gid = pw != NULL ? pw->pw_gid : 0;
	} else {
		snprintf(msg, msglen, "--user %s: no such user%s%s", user, errno != 0 ? ": " : "",
			 errno != 0 ? strerror(errno) : "");
		return -ENOENT;
	}
	if (group == NULL)
		return 0;
	errno = 0;
	gr = getgrnam(group);
	if (gr != NULL) {
		out->gid = gr->gr_gid;
	} else if (parse_id(group, &id)) {
		out->gid = (gid_t)id;
	} else {
		snprintf(msg, msglen, "--group %s: no such group", group);
		return -ENOENT;
	}
	return 0;
}

static int
set_caps(unsigned keep)
{
	struct __user_cap_header_struct hdr = {.version = _LINUX_CAPABILITY_VERSION_3, .pid = 0};
	struct __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3];
	uint32_t mask = 0;

	if (keep & PRIVDROP_KEEP_NET_ADMIN)
		mask |= 1u << CAP_NET_ADMIN;
	if (keep & PRIVDROP_KEEP_NET_RAW)
		mask |= 1u << CAP_NET_RAW;
	memset(data, 0, sizeof(data));
	/* Both fit in the first word (CAP_NET_ADMIN is 12, CAP_NET_RAW 13). */
	data[0].effective = data[0].permitted = mask;
	if (syscall(SYS_capset, &hdr, data) < 0)
		return -errno;
	return 0;
}

/* The effective and permitted sets, capabilities 0..63 as bits. */
static int
get_caps(uint64_t *effective, uint64_t *permitted)
{
	struct __user_cap_header_struct hdr = {.version = _LINUX_CAPABILITY_VERSION_3, .pid = 0};
	struct __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3];

	if (syscall(SYS_capget, &hdr, data) < 0)
		return -errno;
	*effective = data[0].effective | (uint64_t)data[1].effective << 32;
	*permitted = data[0].permitted | (uint64_t)data[1].permitted << 32;
	return 0;
}

int
privdrop_apply(const struct privdrop_target *target, unsigned keep)
{
	uid_t ruid, euid, suid;
	gid_t rgid, egid, sgid;
	uint64_t eff = 0, perm = 0, allowed;
	int err;

	/* Started as the target already (e.g. with file capabilities): the group list
	 * cannot be changed without CAP_SETGID, and need not be. */
	bool already = getuid() == target->uid && geteuid() == target->uid && getgid() == target->gid &&
		       getegid() == target->gid;

	/* Keep the permitted set across setresuid, then trim it with capset. */
	if (keep != 0 && prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0)
		return -errno;
	if ((target->ngroups > 0 ? setgroups(target->ngroups, target->groups) : setgroups(1, &target->gid)) < 0 &&
	    !(errno == EPERM && already))
		return -errno;
	if (setresgid(target->gid, target->gid, target->gid) < 0)
		return -errno;
	if (setresuid(target->uid, target->uid, target->uid) < 0)
		return -errno;
	/* Leaving uid 0 clears the sets unless KEEPCAPS; staying at a uid does not. Either
	 * way, set them to exactly keep (dropping needs no privilege). */
	err = set_caps(keep);
	if (err < 0)
		return err;
	if (keep != 0 && prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0) < 0)
		return -errno;
	(void)prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return -errno;

	/* Trust, but verify: the IDs are all the target's, root is out of reach, and no
	 * capability beyond keep survived. */
	if (getresuid(&ruid, &euid, &suid) < 0 || getresgid(&rgid, &egid, &sgid) < 0)
		return -errno;
	if (ruid != target->uid || euid != target->uid || suid != target->uid || rgid != target->gid ||
	    egid != target->gid || sgid != target->gid)
		return -EPERM;
	if (target->uid != 0 && (setuid(0) == 0 || seteuid(0) == 0))
		return -EPERM;
	err = get_caps(&eff, &perm);
	if (err < 0)
		return err;
	allowed = ((keep & PRIVDROP_KEEP_NET_ADMIN) ? 1u << CAP_NET_ADMIN : 0) |
			   ((keep & PRIVDROP_KEEP_NET_RAW) ? 1u << CAP_NET_RAW : 0);
	if ((perm & ~allowed) != 0 || (eff & ~allowed) != 0)
		return -EPERM;
	return 0;
}

int
privdrop_command_user(const char *user_opt, uid_t ruid, const char *sudo_user, const char *sudo_uid,
		      const char *sudo_gid, struct privdrop_who *who)
{
	unsigned long id;

	who->uid = who->gid = -1;
	if (user_opt != NULL) {
		who->name = user_opt;
		return 1;
	}
	if (ruid != 0 || sudo_user == NULL || sudo_user[0] == '\0')
		return 0;
	who->name = sudo_user;
	if (sudo_uid != NULL && parse_id(sudo_uid, &id))
		who->uid = (long)id;
	if (sudo_gid != NULL && parse_id(sudo_gid, &id))
		who->gid = (long)id;
	return 1;
}

int
privdrop_login_resolve(const struct privdrop_who *who, const char *group, struct privdrop_login *out,
		       char *msg, size_t msglen)
{
	const char *home = "/", *shell = "/bin/sh", *name = who->name;
	const struct passwd *pw;
	int n = PRIVDROP_MAX_GROUPS, err;

	memset(out, 0, sizeof(*out));
	if (who->uid >= 0) {
		/* sudo's own word for the caller: the name is only looked up for the rest. */
		out->id.uid = (uid_t)who->uid;
		out->id.gid = who->gid >= 0 ? (gid_t)who->gid : 0;
		pw = getpwuid(out->id.uid);
		if (pw == NULL && who->gid < 0) {
			snprintf(msg, msglen, "SUDO_UID %ld has no user entry and SUDO_GID is not set", who->uid);
			return -ENOENT;
		}
		if (pw != NULL && who->gid < 0)
			out->id.gid = pw->pw_gid;
	} else {
		if ((err = privdrop_resolve(who->name, group, &out->id, msg, msglen)) < 0)
			return err;
		pw = getpwuid(out->id.uid);
	}
	if (pw != NULL) {
		name = pw->pw_name;
		home = pw->pw_dir != NULL && pw->pw_dir[0] != '\0' ? pw->pw_dir : "/";
		shell = pw->pw_shell != NULL && pw->pw_shell[0] != '\0' ? pw->pw_shell : "/bin/sh";
		if (getgrouplist(pw->pw_name, out->id.gid, out->groups, &n) < 0) {
			snprintf(msg, msglen, "%s is in more than %d groups", pw->pw_name, PRIVDROP_MAX_GROUPS);
			return -E2BIG;
		}
	} else {
		out->groups[0] = out->id.gid;
		n = 1;
	}
	out->id.groups = out->groups;
	out->id.ngroups = (size_t)n;
	snprintf(out->home, sizeof(out->home), "%s", home);
	if (snprintf(out->vars[0], PRIVDROP_ENV_MAX, "HOME=%s", home) >= PRIVDROP_ENV_MAX ||
	    snprintf(out->vars[1], PRIVDROP_ENV_MAX, "SHELL=%s", shell) >= PRIVDROP_ENV_MAX ||
	    snprintf(out->vars[2], PRIVDROP_ENV_MAX, "USER=%s", name) >= PRIVDROP_ENV_MAX ||
	    snprintf(out->vars[3], PRIVDROP_ENV_MAX, "LOGNAME=%s", name) >= PRIVDROP_ENV_MAX) {
		snprintf(msg, msglen, "the home directory or shell of %s is too long", name);
		return -ENAMETOOLONG;
	}
	return 0;
}

static bool
replaced_var(const char *v)
{
	static const char *const names[] = {"HOME=", "SHELL=", "USER=", "LOGNAME=", "SUDO_"};

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strncmp(v, names[i], strlen(names[i])) == 0)
			return true;
	return false;
}

int
privdrop_login_env(char *const *env, const struct privdrop_login *l, char **out, size_t cap)
{
	size_t n = 0;

	for (; env != NULL && *env != NULL; env++) {
		if (replaced_var(*env))
			continue;
		if (n + 1 >= cap)
			return -ENOSPC;
		out[n++] = *env;
	}
	if (n + 5 > cap)
		return -ENOSPC;
	for (size_t i = 0; i < 4; i++)
		out[n++] = (char *)l->vars[i];
	out[n] = NULL;
	return (int)n;
}
