/* SPDX-License-Identifier: MIT */
/* sock_diag dumps with libmnl, and the /proc walk from inodes to processes. */
#include "sockdiag.h"

#include <dirent.h>
#include <errno.h>
#include <stdbool.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <libmnl/libmnl.h>
#include <linux/inet_diag.h>
#include <linux/sock_diag.h>

struct dump {
	struct sockdiag_entry *v;
	size_t n, cap;
	int proto;
	int err;
};

static const uint8_t v4mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

static int
diag_cb(const struct nlmsghdr *nlh, void *arg)
{
	struct dump *d = arg;
	const struct inet_diag_msg *m = mnl_nlmsg_get_payload(nlh);
	struct sockdiag_entry *e;

	if (nlh->nlmsg_len < NLMSG_LENGTH(sizeof(*m)))
		return MNL_CB_OK;
	if (d->n == d->cap) {
		size_t cap = d->cap > 0 ? d->cap * 2 : 256;
		struct sockdiag_entry *v = realloc(d->v, cap * sizeof(*v));

		if (v == NULL) {
			d->err = -ENOMEM;
			return MNL_CB_ERROR;
		}
		d->v = v;
		d->cap = cap;
	}
	e = &d->v[d->n++];
	memset(e, 0, sizeof(*e));
	e->proto = (uint8_t)d->proto;
	e->sport = ntohs(m->id.idiag_sport);
	e->dport = ntohs(m->id.idiag_dport);
	e->inode = m->idiag_inode;
	e->uid = m->idiag_uid;
	if (m->idiag_family == AF_INET) {
		e->family = 4;
		memcpy(e->src, m->id.idiag_src, 4);
		memcpy(e->dst, m->id.idiag_dst, 4);
	} else if (memcmp(m->id.idiag_src, v4mapped, 12) == 0) {
		e->family = 4;
		memcpy(e->src, (const uint8_t *)m->id.idiag_src + 12, 4);
		memcpy(e->dst, (const uint8_t *)m->id.idiag_dst + 12, 4);
	} else {
		e->family = 6;
		memcpy(e->src, m->id.idiag_src, 16);
		memcpy(e->dst, m->id.idiag_dst, 16);
	}
	return MNL_CB_OK;
}

static int
dump_one(struct mnl_socket *nl, int family, int proto, struct dump *d)
{
	char buf[16384];
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct inet_diag_req_v2 *req;
	unsigned seq = (unsigned)time(NULL) + (unsigned)proto * 2 + (family == AF_INET6);
	unsigned portid = mnl_socket_get_portid(nl);
	ssize_t n;
	int rc;

	nlh->nlmsg_type = SOCK_DIAG_BY_FAMILY;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
	nlh->nlmsg_seq = seq;
	req = mnl_nlmsg_put_extra_header(nlh, sizeof(*req));
	req->sdiag_family = (uint8_t)family;
	req->sdiag_protocol = (uint8_t)proto;
	req->idiag_states = ~0u;
	if (mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) < 0)
		return -errno;
	d->proto = proto;
	for (;;) {
		n = mnl_socket_recvfrom(nl, buf, sizeof(buf));
		if (n < 0)
			return -errno;
		rc = mnl_cb_run(buf, (size_t)n, seq, portid, diag_cb, d);
		if (rc == MNL_CB_STOP)
			return 0;
		if (rc < 0)
			return d->err < 0 ? d->err : -errno;
	}
}

int
sockdiag_dump(struct sockdiag_entry **out, size_t *n)
{
	static const int families[] = {AF_INET, AF_INET6}, protos[] = {IPPROTO_TCP, IPPROTO_UDP};
	struct mnl_socket *nl = mnl_socket_open2(NETLINK_INET_DIAG, SOCK_CLOEXEC);
	struct dump d = {0};
	int err = 0;

	*out = NULL;
	*n = 0;
	if (nl == NULL)
		return -errno;
	if (mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0) {
		err = -errno;
		goto out;
	}
	for (size_t i = 0; i < 2 && err == 0; i++)
		for (size_t j = 0; j < 2 && err == 0; j++)
			err = dump_one(nl, families[i], protos[j], &d);
out:
	mnl_socket_close(nl);
	if (err < 0) {
		free(d.v);
		return err;
	}
	*out = d.v;
	*n = d.n;
	return 0;
}

static bool
is_zero(const uint8_t *a, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (a[i] != 0)
			return false;
	return true;
}

const struct sockdiag_entry *
sockdiag_match(const struct sockdiag_entry *v, size_t n, int proto, int family, const uint8_t *addr, uint16_t port,
	       const uint8_t *dst, uint16_t dport)
{
	size_t alen = family == 4 ? 4 : 16;
	const struct sockdiag_entry *loose = NULL;

	for (size_t i = 0; i < n; i++) {
		const struct sockdiag_entry *e = &v[i];

		if (e->proto != proto || e->sport != port)
			continue;
		if (e->family == family && memcmp(e->src, addr, alen) == 0 && e->dport == dport &&
		    memcmp(e->dst, dst, alen) == 0)
			return e;
		/* An unconnected UDP socket: bound to the port, to the address or to any. */
		if (proto == IPPROTO_UDP && e->dport == 0 && loose == NULL &&
		    ((e->family == family && memcmp(e->src, addr, alen) == 0) || is_zero(e->src, 16)))
			loose = e;
	}
	return loose;
}

void
sockdiag_owners(struct sockdiag_owner *owners, size_t n)
{
	DIR *proc = opendir("/proc");
	struct dirent *pe;

	if (proc == NULL || n == 0) {
		if (proc != NULL)
			closedir(proc);
		return;
	}
	while ((pe = readdir(proc)) != NULL) {
		char path[300], link[64];
		struct dirent *fe;
		DIR *fds;
		long pid = strtol(pe->d_name, NULL, 10);

		if (pid <= 0)
			continue;
		snprintf(path, sizeof(path), "/proc/%ld/fd", pid);
		if ((fds = opendir(path)) == NULL)
			continue;
		while ((fe = readdir(fds)) != NULL) {
			unsigned long ino;
			ssize_t len;

			if (fe->d_name[0] == '.')
				continue;
			snprintf(path, sizeof(path), "/proc/%ld/fd/%s", pid, fe->d_name);
			len = readlink(path, link, sizeof(link) - 1);
			if (len <= 0)
				continue;
			link[len] = '\0';
			if (sscanf(link, "socket:[%lu]", &ino) != 1)
				continue;
			for (size_t i = 0; i < n; i++) {
				if (owners[i].inode != ino || owners[i].pid != 0)
					continue;
				FILE *fp;

				owners[i].pid = (pid_t)pid;
				snprintf(path, sizeof(path), "/proc/%ld/comm", pid);
				if ((fp = fopen(path, "re")) != NULL) {
					if (fgets(owners[i].comm, sizeof(owners[i].comm), fp) != NULL)
						owners[i].comm[strcspn(owners[i].comm, "\n")] = '\0';
					fclose(fp);
				}
			}
		}
		closedir(fds);
	}
	closedir(proc);
}
