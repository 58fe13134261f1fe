/* SPDX-License-Identifier: MIT */
/* The control socket a client asks by default; see ctl_find.h. */
#include "ctl_find.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

bool
ctl_find_in_netns(const char *name, unsigned long netns)
{
	char prefix[32];
	int n = snprintf(prefix, sizeof(prefix), "net%lu-", netns);
	size_t len = strlen(name);

	return n > 0 && (size_t)n < sizeof(prefix) && strncmp(name, prefix, (size_t)n) == 0 &&
	       len > (size_t)n + strlen(".control") && strcmp(name + len - strlen(".control"), ".control") == 0;
}

int
ctl_find_pick(const char *const *names, size_t n, unsigned long own, bool *mine_only)
{
	size_t i, mine = 0;
	int first_mine = -1;

	*mine_only = false;
	if (n == 0)
		return -ENOENT;
	for (i = 0; i < n; i++) {
		if (!ctl_find_in_netns(names[i], own))
			continue;
		if (mine++ == 0)
			first_mine = (int)i;
	}
	if (mine == 1)
		return first_mine;
	if (mine > 1) {
		*mine_only = true;
		return -EEXIST;
	}
	return n == 1 ? 0 : -EEXIST;
}
