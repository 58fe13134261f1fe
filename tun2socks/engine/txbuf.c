/* SPDX-License-Identifier: MIT */
/* A FIFO of chunks; the marks of a chunk always satisfy acked <= queued <= filled. */
#include "txbuf.h"

#include <malloc.h>
#include <stdlib.h>

struct txchunk {
	struct txchunk *next;
	uint32_t filled, queued, acked;
	uint8_t data[TXBUF_CHUNK];
};

void
txpool_init(struct txpool *pool, unsigned keep)
{
	pool->free = NULL;
	pool->free_count = 0;
	pool->keep = keep;
	pool->allocated = 0;
	pool->bytes = 0;
}

void
txpool_fini(struct txpool *pool)
{
	while (pool->free != NULL) {
		struct txchunk *c = pool->free;

		pool->free = c->next;
		pool->bytes -= malloc_usable_size(c);
		free(c);
	}
	pool->free_count = 0;
}

static struct txchunk *
chunk_get(struct txpool *pool)
{
	struct txchunk *c = pool->free;

	if (c != NULL) {
		pool->free = c->next;
		pool->free_count--;
	} else {
		c = malloc(sizeof(*c));
		if (c == NULL)
			return NULL;
		pool->allocated++;
		pool->bytes += malloc_usable_size(c);
	}
	c->next = NULL;
	c->filled = c->queued = c->acked = 0;
	return c;
}

static void
chunk_put(struct txpool *pool, struct txchunk *c)
{
	if (pool->free_count >= pool->keep) {
		pool->bytes -= malloc_usable_size(c);
		free(c);
		return;
	}
	c->next = pool->free;
	pool->free = c;
	pool->free_count++;
}

uint8_t *
txbuf_space(struct txbuf *b, struct txpool *pool, size_t max, size_t *len)
{
	struct txchunk *t = b->tail;
	size_t room;

	*len = 0;
	if (t != NULL && t->queued < t->filled)
		return NULL;
	if (t == NULL || TXBUF_CHUNK - t->filled < TXBUF_MIN_READ) {
		struct txchunk *c = chunk_get(pool);

		if (c == NULL)
			return NULL;
		if (t != NULL)
			t->next = c;
		else
			b->head = c;
		b->tail = t = c;
	}
	room = TXBUF_CHUNK - t->filled;
	if (room > max)
		room = max;
	*len = room < TXBUF_MAX_SPAN ? room : TXBUF_MAX_SPAN;
	return t->data + t->filled;
}

void
txbuf_filled(struct txbuf *b, size_t n)
{
	b->tail->filled += (uint32_t)n;
	b->unacked += n;
}

const uint8_t *
txbuf_unqueued(const struct txbuf *b, size_t *len)
{
	const struct txchunk *t = b->tail;

	if (t == NULL || t->queued == t->filled) {
		*len = 0;
		return NULL;
	}
	*len = t->filled - t->queued;
	return t->data + t->queued;
}

void
txbuf_queued(struct txbuf *b, size_t n)
{
	b->tail->queued += (uint32_t)n;
}

void
txbuf_trim(struct txbuf *b, struct txpool *pool)
{
	/* Every byte of such a chunk is acknowledged (or it never got any): lwIP no
	 * longer points into it. */
	while (b->head != NULL && b->head->acked == b->head->filled) {
		struct txchunk *c = b->head;

		b->head = c->next;
		if (b->head == NULL)
			b->tail = NULL;
		chunk_put(pool, c);
	}
}

void
txbuf_acked(struct txbuf *b, struct txpool *pool, size_t n)
{
	for (struct txchunk *c = b->head; c != NULL && n > 0; c = c->next) {
		size_t take = c->queued - c->acked;

		if (take > n)
			take = n;
		c->acked += (uint32_t)take;
		b->unacked -= take;
		n -= take;
		if (c->acked < c->filled)
			break;
	}
	txbuf_trim(b, pool);
}

void
txbuf_release(struct txbuf *b, struct txpool *pool)
{
	while (b->head != NULL) {
		struct txchunk *c = b->head;

		b->head = c->next;
		chunk_put(pool, c);
	}
	b->tail = NULL;
	b->unacked = 0;
}
