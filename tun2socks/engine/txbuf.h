/* SPDX-License-Identifier: MIT */
/*
 * The proxy -> application byte stream of one TCP flow, held where lwIP can point at it.
 *
 * Bytes read from the proxy socket go straight into a chunk, and tcp_write is given a
 * pointer into the chunk instead of a copy (no TCP_WRITE_FLAG_COPY): lwIP's segments
 * reference the chunk until the application acknowledges them, so the chunk may only be
 * reused once the sent callback has reported every byte in it. Each byte goes through
 * three marks, in stream order: filled (read from the socket), queued (given to
 * tcp_write), acked (reported by the sent callback).
 *
 * Chunks come from a txpool shared by all flows of the loop, which keeps a bounded number
 * of idle ones: fresh heap blocks cost a page fault per 4 KiB on first touch.
 */
#ifndef T2S_TUN2SOCKS_TXBUF_H
#define T2S_TUN2SOCKS_TXBUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* One chunk's data. */
#define TXBUF_CHUNK (64 * 1024)
/* Largest span txbuf_space offers: tcp_write takes a u16_t length, so one read must
 * never exceed what one write can pass on. */
#define TXBUF_MAX_SPAN 0xffff
/* Below this much free space, a chunk takes no more reads: a new one starts. */
#define TXBUF_MIN_READ 2048

struct txchunk;

struct txpool {
	struct txchunk *free;
	unsigned free_count, keep;
	uint64_t allocated; /* chunks obtained from the heap, for the stats */
	size_t bytes;       /* heap bytes of the chunks in use and idle (--max-memory) */
};

struct txbuf {
	struct txchunk *head, *tail;
	size_t unacked; /* bytes filled and not yet acked */
};

/* Keeps at most keep idle chunks. */
void txpool_init(struct txpool *pool, unsigned keep);
void txpool_fini(struct txpool *pool);

static inline void
txbuf_init(struct txbuf *b)
{
	b->head = b->tail = NULL;
	b->unacked = 0;
}

/*
 * Contiguous room for the next read, at most max and TXBUF_MAX_SPAN bytes: *len is set, and the pointer
 * is where they go. Starts a new chunk when needed. NULL when memory is short, or while
 * filled bytes wait to be queued (queue them first: stream order).
 */
uint8_t *txbuf_space(struct txbuf *b, struct txpool *pool, size_t max, size_t *len);

/* n bytes were written at the pointer txbuf_space returned. */
void txbuf_filled(struct txbuf *b, size_t n);

/* The filled bytes not yet queued (they are contiguous), or NULL / *len 0. */
const uint8_t *txbuf_unqueued(const struct txbuf *b, size_t *len);

/* n of the unqueued bytes were given to tcp_write. */
void txbuf_queued(struct txbuf *b, size_t n);

/* lwIP reported n more bytes acknowledged; chunks fully acknowledged go back to the
 * pool. n beyond what was queued is a caller bug and is clamped. */
void txbuf_acked(struct txbuf *b, struct txpool *pool, size_t n);

/* Returns chunks with nothing unacknowledged in them, e.g. one txbuf_space started for
 * a read that found no data: an idle flow holds no chunk. */
void txbuf_trim(struct txbuf *b, struct txpool *pool);

/* Nothing filled is left unacknowledged: lwIP references no chunk. */
static inline bool
txbuf_empty(const struct txbuf *b)
{
	return b->unacked == 0;
}

/* Gives every chunk back. Only once lwIP holds no segment pointing into them (the pcb
 * was aborted or freed, or txbuf_empty). */
void txbuf_release(struct txbuf *b, struct txpool *pool);

#endif
