/* SPDX-License-Identifier: MIT */
/* Linux TUN through /dev/net/tun and interface ioctls (no netlink needed for this much). */
#include "tun.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <linux/virtio_net.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

/* Not exported by glibc's headers; layout from linux/ipv6.h. */
struct t2s_in6_ifreq {
	struct in6_addr addr;
	unsigned int prefixlen;
	int ifindex;
};

static int
ifreq_ioctl(int family, unsigned long req, struct ifreq *ifr)
{
	int fd = socket(family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	int err = 0;

	if (fd < 0)
		return -errno;
	if (ioctl(fd, req, ifr) < 0)
		err = -errno;
	close(fd);
	return err;
}

static void
ifr_for(const struct tun_device *tun, struct ifreq *ifr)
{
	memset(ifr, 0, sizeof(*ifr));
	snprintf(ifr->ifr_name, sizeof(ifr->ifr_name), "%s", tun->name);
}

static bool
link_exists(const char *name)
{
	char path[64];
	struct stat st;

	snprintf(path, sizeof(path), "/sys/class/net/%s", name);
	return stat(path, &st) == 0;
}

/* Turns on the virtio-net header and TSO/checksum offload; 0 on success. */
static int
enable_offload(int fd)
{
	int hdr = (int)sizeof(struct virtio_net_hdr);
	unsigned int features = TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6;

	if (ioctl(fd, TUNSETVNETHDRSZ, &hdr) < 0 || ioctl(fd, TUNSETOFFLOAD, features) < 0)
		return -errno;
	return 0;
}

static int
attach(const char *name, unsigned short flags, struct ifreq *ifr)
{
	int fd, err;

	fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	memset(ifr, 0, sizeof(*ifr));
	ifr->ifr_flags = (short)flags;
	snprintf(ifr->ifr_name, sizeof(ifr->ifr_name), "%s", name);
	if (ioctl(fd, TUNSETIFF, ifr) < 0) {
		err = -errno;
		close(fd);
		return err;
	}
	return fd;
}

int
tun_open(struct tun_device *tun, const char *name, bool offload)
{
	struct ifreq ifr;
	unsigned int flags = 0;
	bool existed;
	int fd;

	if (strlen(name) >= IFNAMSIZ)
		return -ENAMETOOLONG;
	existed = name[0] != '\0' && link_exists(name);
	fd = attach(name, IFF_TUN | IFF_NO_PI | (offload ? IFF_VNET_HDR : 0), &ifr);
	if (fd < 0)
		return fd;
	memset(tun, 0, sizeof(*tun));
	if (offload) {
		if (enable_offload(fd) == 0) {
			tun->vnet_hdr_len = sizeof(struct virtio_net_hdr);
		} else {
			/* The header flag cannot be dropped on an open queue: start over. */
			close(fd);
			fd = attach(name, IFF_TUN | IFF_NO_PI, &ifr);
			if (fd < 0)
				return fd;
		}
	}
	tun->fd = fd;
	snprintf(tun->name, sizeof(tun->name), "%s", ifr.ifr_name);
	tun->created = !existed;
	if (ioctl(fd, TUNGETIFF, &ifr) == 0)
		flags = (unsigned short)ifr.ifr_flags;
	tun->persistent = (flags & IFF_PERSIST) != 0;
	return 0;
}

int
tun_adopt_fd(struct tun_device *tun, int fd)
{
	struct ifreq ifr;
	int fl;

	memset(&ifr, 0, sizeof(ifr));
	if (ioctl(fd, TUNGETIFF, &ifr) < 0)
		return -errno;
	if ((ifr.ifr_flags & IFF_TUN) == 0 || (ifr.ifr_flags & IFF_NO_PI) == 0)
		return -EPROTOTYPE;
	memset(tun, 0, sizeof(*tun));
	if (ifr.ifr_flags & IFF_VNET_HDR) {
		int hdr = 0;

		if (ioctl(fd, TUNGETVNETHDRSZ, &hdr) < 0 || hdr < (int)sizeof(struct virtio_net_hdr) || hdr > 64)
			return -EPROTOTYPE;
		tun->vnet_hdr_len = (unsigned)hdr;
	}
	fl = fcntl(fd, F_GETFL);
	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
		return -errno;
	(void)fcntl(fd, F_SETFD, FD_CLOEXEC);
	tun->fd = fd;
	snprintf(tun->name, sizeof(tun->name), "%s", ifr.ifr_name);
	tun->persistent = (ifr.ifr_flags & IFF_PERSIST) != 0;
	return 0;
}

int
tun_set_mtu(const struct tun_device *tun, unsigned mtu)
{
	struct ifreq ifr;

	ifr_for(tun, &ifr);
	ifr.ifr_mtu = (int)mtu;
	return ifreq_ioctl(AF_INET, SIOCSIFMTU, &ifr);
}

int
tun_get_mtu(const struct tun_device *tun, unsigned *mtu)
{
	struct ifreq ifr;
	int err;

	ifr_for(tun, &ifr);
	err = ifreq_ioctl(AF_INET, SIOCGIFMTU, &ifr);
	if (err == 0)
		*mtu = (unsigned)ifr.ifr_mtu;
	return err;
}

int
tun_add_address4(const struct tun_device *tun, const struct in_addr *addr, unsigned prefix)
{
	struct ifreq ifr;
	struct sockaddr_in *sin = (struct sockaddr_in *)&ifr.ifr_addr;
	int err;

	ifr_for(tun, &ifr);
	sin->sin_family = AF_INET;
	sin->sin_addr = *addr;
	err = ifreq_ioctl(AF_INET, SIOCSIFADDR, &ifr);
	if (err < 0)
		return err;
	ifr_for(tun, &ifr);
	sin->sin_family = AF_INET;
	sin->sin_addr.s_addr = prefix == 0 ? 0 : htonl(~0u << (32 - prefix));
	return ifreq_ioctl(AF_INET, SIOCSIFNETMASK, &ifr);
}

int
tun_add_address6(const struct tun_device *tun, const struct in6_addr *addr, unsigned prefix)
{
	/* The kernel reads only the in6_ifreq; the padding to a struct ifreq is for
	 * checkers (valgrind) that assume every SIOCSIFADDR argument is one. */
	union {
		struct t2s_in6_ifreq req;
		struct ifreq pad;
	} u;
	int fd, err = 0;

	memset(&u, 0, sizeof(u));
	u.req.addr = *addr;
	u.req.prefixlen = prefix;
	u.req.ifindex = (int)if_nametoindex(tun->name);
	if (u.req.ifindex == 0)
		return -errno;
	fd = socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (ioctl(fd, SIOCSIFADDR, &u.req) < 0 && errno != EEXIST)
		err = -errno;
	close(fd);
	return err;
}

int
tun_set_txqueuelen(const struct tun_device *tun, unsigned qlen)
{
	struct ifreq ifr;
	int err;

	ifr_for(tun, &ifr);
	err = ifreq_ioctl(AF_INET, SIOCGIFTXQLEN, &ifr);
	if (err < 0 || (unsigned)ifr.ifr_qlen >= qlen)
		return err;
	ifr.ifr_qlen = (int)qlen;
	return ifreq_ioctl(AF_INET, SIOCSIFTXQLEN, &ifr);
}

int
tun_set_up(const struct tun_device *tun)
{
	struct ifreq ifr;
	int err;

	ifr_for(tun, &ifr);
	err = ifreq_ioctl(AF_INET, SIOCGIFFLAGS, &ifr);
	if (err < 0)
		return err;
	if (ifr.ifr_flags & IFF_UP)
		return 0;
	ifr.ifr_flags |= IFF_UP;
	return ifreq_ioctl(AF_INET, SIOCSIFFLAGS, &ifr);
}

void
tun_close(struct tun_device *tun)
{
	if (tun->fd >= 0)
		close(tun->fd);
	tun->fd = -1;
}
