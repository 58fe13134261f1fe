/* SPDX-License-Identifier: MIT */
/* A free list of MTU-sized custom pbufs; see rxpool.h. */
#include "rxpool.h"

#include <malloc.h>
#include <stdbool.h>
#include <stdlib.h>

struct rxbuf {
	struct pbuf_custom pc; /* first: lwIP hands this pointer to the free function */
	struct rxpool *pool;
	struct rxbuf *next;
	u8_t data[] __attribute__((aligned(16)));
};

struct rxpool {
	u16_t bufsize;
	unsigned keep, idle, outstanding;
	size_t bytes; /* malloc_usable_size of every buffer, idle or in use */
	bool closing;
	struct rxbuf *free_list;
};

static void
release(struct rxpool *pool)
{
	while (pool->free_list != NULL) {
		struct rxbuf *b = pool->free_list;

		pool->free_list = b->next;
		pool->bytes -= malloc_usable_size(b);
		free(b);
	}
	pool->idle = 0;
	if (pool->outstanding == 0)
		free(pool);
}

static void
rxpool_pbuf_free_cb(struct pbuf *p)
{
	struct rxbuf *b = (struct rxbuf *)p;
	struct rxpool *pool = b->pool;

	pool->outstanding--;
	if (pool->closing || pool->idle >= pool->keep)
		pool->bytes -= malloc_usable_size(b);
	if (pool->closing) {
		free(b);
		if (pool->outstanding == 0)
			free(pool);
		return;
	}
	if (pool->idle >= pool->keep) {
		free(b);
		return;
	}
	b->next = pool->free_list;
	pool->free_list = b;
	pool->idle++;
}

struct rxpool *
rxpool_new(u16_t bufsize, unsigned keep)
{
	struct rxpool *pool = calloc(1, sizeof(*pool));

	if (pool == NULL)
		return NULL;
	pool->bufsize = bufsize;
	pool->keep = keep;
	return pool;
}

struct pbuf *
rxpool_get(struct rxpool *pool)
{
	struct rxbuf *b = pool->free_list;

	if (b != NULL) {
		pool->free_list = b->next;
		pool->idle--;
	} else {
		b = malloc(sizeof(*b) + pool->bufsize);
		if (b == NULL)
			return NULL;
		b->pool = pool;
		pool->bytes += malloc_usable_size(b);
	}
	b->pc.custom_free_function = rxpool_pbuf_free_cb;
	pool->outstanding++;
	/* PBUF_REF: the payload is memory lwIP does not own, so it never grows headers
	 * into it beyond what it removed itself (and it never needs to: no reply is built
	 * in a received buffer, since ICMP echo is not handed to lwIP). */
	return pbuf_alloced_custom(PBUF_RAW, pool->bufsize, PBUF_REF, &b->pc, b->data, pool->bufsize);
}

size_t
rxpool_bytes(const struct rxpool *pool)
{
	return pool->bytes;
}

void
rxpool_free(struct rxpool *pool)
{
	if (pool == NULL)
		return;
	pool->closing = true;
	release(pool);
}
