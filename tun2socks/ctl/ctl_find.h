/* SPDX-License-Identifier: MIT */
/*
 * Which control socket `status`, `flows` and `top` ask when neither --tun nor --control
 * says, pure. The sockets are named net<inode>-<tun>.control after the network namespace
 * their TUN lives in (cli/control.h), and one directory holds every namespace's: an
 * instance of another namespace (a command's own, a container's, a second test) must not
 * make the caller's own ambiguous.
 */
#ifndef T2S_CTL_FIND_H
#define T2S_CTL_FIND_H

#include <stdbool.h>
#include <stddef.h>

/* name (a file name, no directory) is a control socket of network namespace netns. */
bool ctl_find_in_netns(const char *name, unsigned long netns);

/*
 * Among names (the answering control sockets' file names), the one to ask from network
 * namespace own: the only one of own's; when own has none, the only one there is.
 * Returns its index, -ENOENT (none at all) or -EEXIST (several where one was wanted:
 * *mine_only then says whether they were own's, so that the caller lists those).
 */
int ctl_find_pick(const char *const *names, size_t n, unsigned long own, bool *mine_only);

#endif
