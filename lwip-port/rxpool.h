/* SPDX-License-Identifier: MIT */
/*
 * Recycled receive buffers for the TUN: MTU-sized pbufs whose memory returns to a
 * small free list when lwIP (or a flow) frees them, instead of going back to malloc.
 * Fresh 16-64 KiB heap blocks cost page faults on every packet; these stay warm.
 */
#ifndef T2S_LWIP_PORT_RXPOOL_H
#define T2S_LWIP_PORT_RXPOOL_H

#include <lwip/pbuf.h>

struct rxpool;

/* keep: how many idle buffers to hold at most (more are freed). NULL on failure. */
struct rxpool *rxpool_new(u16_t bufsize, unsigned keep);

/* A custom pbuf (PBUF_REF) with len = tot_len = bufsize, or NULL. Free it with
 * pbuf_free as usual (it may be shrunk with pbuf_realloc first). */
struct pbuf *rxpool_get(struct rxpool *pool);

/* Heap bytes of the pool's buffers, idle and in use (malloc_usable_size). */
size_t rxpool_bytes(const struct rxpool *pool);

/* Frees idle buffers; buffers still in use are freed when they come back. */
void rxpool_free(struct rxpool *pool);

#endif
