/* SPDX-License-Identifier: MIT */
/* setns() into existing namespaces; fork + unshare + SCM_RIGHTS for one-command mode. */
#include "netns.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "log.h"
#include "procfs.h"

struct netns_cmd {
	pid_t pid;
	int sock; /* our end of the socketpair: TUN fd in, go byte out */
};

int
netns_open(const char *spec)
{
	char path[300];
	int fd;

	if (strchr(spec, '/') != NULL)
		snprintf(path, sizeof(path), "%s", spec);
	else if (spec[0] == '\0' || strcmp(spec, ".") == 0 || strcmp(spec, "..") == 0)
		return -EINVAL;
	else
		snprintf(path, sizeof(path), "/run/netns/%s", spec);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	return fd < 0 ? -errno : fd;
}

int
netns_enter(int target, int *saved)
{
	*saved = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	if (*saved < 0)
		return -errno;
	if (setns(target, CLONE_NEWNET) < 0) {
		int err = -errno;

		close(*saved);
		*saved = -1;
		return err;
	}
	return 0;
}

int
netns_return(int saved)
{
	int err = setns(saved, CLONE_NEWNET) < 0 ? -errno : 0;

	close(saved);
	return err;
}

/* ------------------------------------------------------------------ child side */

/* Maps inside -> outside for our own uid and gid (what an unprivileged process may write). */
static int
map_ids(unsigned inside_uid, unsigned outside_uid, unsigned inside_gid, unsigned outside_gid)
{
	char line[64];
	int err;

	/* Without this, an unprivileged gid_map write is refused (CVE-2014-8989). */
	err = procfs_write("/proc/self/setgroups", "deny");
	if (err < 0 && err != -ENOENT)
		return err;
	snprintf(line, sizeof(line), "%u %u 1\n", inside_uid, outside_uid);
	if ((err = procfs_write("/proc/self/uid_map", line)) < 0)
		return err;
	snprintf(line, sizeof(line), "%u %u 1\n", inside_gid, outside_gid);
	return procfs_write("/proc/self/gid_map", line);
}

/*
 * As root: new network and mount namespaces. Otherwise a user namespace too, in which
 * we are root and so may create the TUN and mount; *userns tells which happened.
 */
static int
unshare_namespaces(bool *userns)
{
	unsigned uid = (unsigned)geteuid(), gid = (unsigned)getegid();
	int err;

	*userns = false;
	if (unshare(CLONE_NEWNET | CLONE_NEWNS) == 0)
		return 0;
	if (errno != EPERM)
		return -errno;
	if (unshare(CLONE_NEWUSER | CLONE_NEWNET | CLONE_NEWNS) < 0)
		return -errno;
	*userns = true;
	err = map_ids(0, uid, 0, gid);
	return err;
}

/* Gives the command its own uid back, with no capabilities over its namespace. */
static void
drop_to_original_ids(unsigned uid, unsigned gid)
{
	if (unshare(CLONE_NEWUSER) < 0 || map_ids(uid, 0, gid, 0) < 0)
		log_warn("the command runs as root of its user namespace: cannot map uid %u back: %s", uid,
			 strerror(errno));
}

/*
 * glibc asks nss-resolve (in Fedora's nsswitch.conf) and nscd before resolv.conf, over
 * sockets in the file system that reach the host's daemons: the command's names would
 * resolve outside the proxy, and around --dns fake-ip. /dev/null over them makes
 * connect() fail (ECONNREFUSED); glibc then falls back to resolv.conf.
 */
static void
hide_host_resolvers(void)
{
	static const char *const sockets[] = {"/run/systemd/resolve/io.systemd.Resolve", "/run/nscd/socket"};

	for (size_t i = 0; i < sizeof(sockets) / sizeof(sockets[0]); i++)
		if (access(sockets[i], F_OK) == 0 && mount("/dev/null", sockets[i], NULL, MS_BIND, NULL) < 0)
			log_warn("cannot hide %s from the command: %s; its names may resolve outside the proxy",
				 sockets[i], strerror(errno));
}

/* text NULL: keep the host's resolv.conf (it names servers the TUN leads to). */
static void
bind_resolv_conf(const char *text)
{
	char tmp[] = "/tmp/tun2socks-resolv.XXXXXX";
	size_t len;
	int fd;

	/* Our mounts must not propagate back into the caller's mount namespace. */
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0) {
		log_warn("cannot make the mount namespace private: %s; DNS uses the host's resolv.conf",
			 strerror(errno));
		return;
	}
	hide_host_resolvers();
	if (text == NULL)
		return;
	len = strlen(text);
	fd = mkstemp(tmp);
	if (fd < 0) {
		log_warn("cannot create %s: %s; DNS uses the host's resolv.conf", tmp, strerror(errno));
		return;
	}
	if (write(fd, text, len) != (ssize_t)len || fchmod(fd, 0644) < 0)
		log_warn("cannot write %s: %s", tmp, strerror(errno));
	close(fd);
	if (mount(tmp, "/etc/resolv.conf", NULL, MS_BIND, NULL) < 0)
		log_warn("cannot bind-mount over /etc/resolv.conf: %s; DNS uses the host's", strerror(errno));
	/* The mount keeps the file alive; nobody else needs its name. */
	unlink(tmp);
}

enum child_stage {
	CHILD_UNSHARE = 1, /* creating the namespaces failed */
	CHILD_SETUP,       /* the namespaces exist; the TUN could not be set up */
};

struct child_msg {
	int err;   /* 0: a TUN descriptor comes with the message */
	int stage; /* enum child_stage, when err < 0 */
	int userns; /* we are in a user namespace of our own */
};

static int
send_result(int sock, int err, int stage, bool userns, int fd)
{
	struct child_msg m = {.err = err, .stage = stage, .userns = userns};
	struct iovec iov = {.iov_base = &m, .iov_len = sizeof(m)};
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(sizeof(int))];
	} cbuf;
	struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1};
	struct cmsghdr *cm;

	if (fd >= 0) {
		memset(&cbuf, 0, sizeof(cbuf));
		msg.msg_control = cbuf.buf;
		msg.msg_controllen = sizeof(cbuf.buf);
		cm = CMSG_FIRSTHDR(&msg);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(cm), &fd, sizeof(int));
	}
	return sendmsg(sock, &msg, MSG_NOSIGNAL) == (ssize_t)sizeof(m) ? 0 : -errno;
}

static void __attribute__((noreturn))
child_main(const struct netns_cmd_params *p, int sock)
{
	unsigned uid = (unsigned)getuid(), gid = (unsigned)getgid();
	sigset_t none;
	bool userns;
	char go;
	int err, fd;

	err = unshare_namespaces(&userns);
	if (err < 0) {
		send_result(sock, err, CHILD_UNSHARE, false, -1);
		_exit(1);
	}
	bind_resolv_conf(p->resolv_conf);
	fd = p->setup(p->setup_arg);
	if (fd < 0) {
		send_result(sock, fd, CHILD_SETUP, userns, -1);
		_exit(1);
	}
	if (send_result(sock, 0, 0, userns, fd) < 0)
		_exit(1);
	close(fd);
	/* tun2socks is ready (or gone: then there is nothing to run the command with). */
	if (read(sock, &go, 1) != 1)
		_exit(1);
	close(sock);
	if (userns && uid != 0) {
		drop_to_original_ids(uid, gid);
	} else if (p->run_as != NULL) {
		/* Root inside and outside: as the user, the command cannot setns or unshare
		 * its way out of the capture. */
		err = privdrop_apply(p->run_as, 0);
		if (err < 0) {
			fprintf(stderr, "tun2socks: cannot run %s as uid %u: %s\n", p->argv[0],
				(unsigned)p->run_as->uid, strerror(-err));
			_exit(126);
		}
		if (access(".", X_OK) != 0 && chdir(p->home) != 0 && chdir("/") != 0)
			_exit(126);
		environ = p->envp;
	}
	/* Start the command as a shell would: default signal dispositions, nothing blocked. */
	signal(SIGPIPE, SIG_DFL);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	execvp(p->argv[0], p->argv);
	err = errno;
	fprintf(stderr, "tun2socks: %s: %s\n", p->argv[0], strerror(err));
	_exit(err == ENOENT ? 127 : 126);
}

/* ------------------------------------------------------------------ parent side */

static int
recv_result(int sock, int *fd, struct child_msg *out)
{
	struct child_msg m;
	struct iovec iov = {.iov_base = &m, .iov_len = sizeof(m)};
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(sizeof(int))];
	} cbuf;
	struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf.buf,
			     .msg_controllen = sizeof(cbuf.buf)};
	struct cmsghdr *cm;
	ssize_t n;

	*fd = -1;
	do
		n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	if (n != (ssize_t)sizeof(m))
		return -ECHILD; /* the child died before it could answer */
	for (cm = CMSG_FIRSTHDR(&msg); cm != NULL; cm = CMSG_NXTHDR(&msg, cm))
		if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_RIGHTS)
			memcpy(fd, CMSG_DATA(cm), sizeof(int));
	if (m.err < 0) {
		if (*fd >= 0)
			close(*fd);
		*fd = -1;
		*out = m;
		return m.err;
	}
	return *fd >= 0 ? 0 : -EPROTO;
}

struct netns_cmd *
netns_cmd_spawn(const struct netns_cmd_params *p, int *tun_fd)
{
	struct child_msg m = {0, CHILD_UNSHARE, 0};
	struct netns_cmd *c;
	int sv[2], err, status;

	c = calloc(1, sizeof(*c));
	if (c == NULL)
		return NULL;
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) {
		err = -errno;
		goto err_free;
	}
	fflush(NULL);
	c->pid = fork();
	if (c->pid < 0) {
		err = -errno;
		close(sv[0]);
		close(sv[1]);
		goto err_free;
	}
	if (c->pid == 0) {
		close(sv[0]);
		child_main(p, sv[1]);
	}
	close(sv[1]);
	c->sock = sv[0];
	err = recv_result(c->sock, tun_fd, &m);
	if (err < 0) {
		if (m.stage == CHILD_SETUP && m.userns && (err == -EPERM || err == -EACCES))
			log_error("in the command's user namespace, this user cannot open /dev/net/tun: %s. Its mode "
				  "must let this user read and write it (0666, as most distributions ship it), or run "
				  "as root",
				  strerror(-err));
		else if (m.stage == CHILD_SETUP)
			log_error("cannot set up the TUN in the command's network namespace: %s", strerror(-err));
		else if (err == -EPERM || err == -EACCES || err == -ENOSPC)
			log_error("cannot create a network namespace for the command: %s. This needs root (or "
				  "CAP_SYS_ADMIN and CAP_NET_ADMIN), or a kernel that lets users create user namespaces "
				  "(sysctl user.max_user_namespaces > 0; on Debian/Ubuntu also "
				  "kernel.unprivileged_userns_clone=1 or kernel.apparmor_restrict_unprivileged_userns=0)",
				  strerror(-err));
		else
			log_error("cannot prepare the command's network namespace: %s", strerror(-err));
		close(c->sock);
		while (waitpid(c->pid, &status, 0) < 0 && errno == EINTR)
			;
		goto err_free;
	}
	return c;

err_free:
	free(c);
	errno = -err;
	return NULL;
}

int
netns_cmd_go(struct netns_cmd *c)
{
	return send(c->sock, "g", 1, MSG_NOSIGNAL) == 1 ? 0 : -errno;
}

pid_t
netns_cmd_pid(const struct netns_cmd *c)
{
	return c->pid;
}

void
netns_cmd_free(struct netns_cmd *c)
{
	if (c == NULL)
		return;
	close(c->sock);
	free(c);
}

int
netns_exit_status(int wstatus)
{
	if (WIFEXITED(wstatus))
		return WEXITSTATUS(wstatus);
	if (WIFSIGNALED(wstatus))
		return 128 + WTERMSIG(wstatus);
	return 1;
}

bool
netns_cmd_forward(int signo, int code, pid_t sender, pid_t cmd_pid, pid_t cmd_pgrp, pid_t our_pgrp,
		  bool session_leader)
{
	if (code == SI_KERNEL) {
		if (signo == SIGHUP && session_leader)
			return true;
		return cmd_pgrp != our_pgrp;
	}
	return sender != cmd_pid;
}
