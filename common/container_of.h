/* SPDX-License-Identifier: MIT */
/* The struct that embeds a member (a libev watcher, a list node) given the member. */
#ifndef T2S_TUN2SOCKS_CONTAINER_OF_H
#define T2S_TUN2SOCKS_CONTAINER_OF_H

#include <stddef.h>

#define container_of(ptr, type, member) ((type *)((char *)(ptr) - offsetof(type, member)))

#endif
