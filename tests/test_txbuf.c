/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for txbuf.c: the filled/queued/acked marks across chunks, stream order
 * (no new space while bytes wait to be queued), chunks returned only when fully
 * acknowledged, the pool's bound on idle chunks, and release.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "txbuf.h"

/* Fills n bytes of pattern starting at stream offset off; returns the bytes written. */
static size_t
fill(struct txbuf *b, struct txpool *pool, size_t max, uint32_t off)
{
	size_t len;
	uint8_t *p = txbuf_space(b, pool, max, &len);

	assert_non_null(p);
	assert_true(len > 0 && len <= max);
	for (size_t i = 0; i < len; i++)
		p[i] = (uint8_t)((off + i) * 7u);
	txbuf_filled(b, len);
	return len;
}

static void
test_marks_and_order(void **state)
{
	struct txpool pool;
	struct txbuf b;
	const uint8_t *q;
	size_t len, n;

	(void)state;
	txpool_init(&pool, 4);
	txbuf_init(&b);
	assert_true(txbuf_empty(&b));
	assert_null(txbuf_unqueued(&b, &len));
	assert_int_equal(len, 0);

	n = fill(&b, &pool, 1000, 0);
	assert_int_equal(n, 1000);
	assert_false(txbuf_empty(&b));
	/* Stream order: no more space until the filled bytes are queued. */
	assert_null(txbuf_space(&b, &pool, 1000, &len));
	q = txbuf_unqueued(&b, &len);
	assert_non_null(q);
	assert_int_equal(len, 1000);
	for (size_t i = 0; i < len; i++)
		assert_int_equal(q[i], (uint8_t)(i * 7u));
	txbuf_queued(&b, 600);
	q = txbuf_unqueued(&b, &len);
	assert_int_equal(len, 400);
	assert_int_equal(q[0], (uint8_t)(600 * 7u));
	txbuf_queued(&b, 400);
	assert_null(txbuf_unqueued(&b, &len));

	/* Acknowledgements: partial, then the rest; the chunk goes back to the pool. */
	txbuf_acked(&b, &pool, 999);
	assert_false(txbuf_empty(&b));
	assert_int_equal(pool.free_count, 0);
	txbuf_acked(&b, &pool, 1);
	assert_true(txbuf_empty(&b));
	assert_int_equal(pool.free_count, 1);
	assert_int_equal(pool.allocated, 1);

	/* The next read reuses the pooled chunk. */
	(void)fill(&b, &pool, 10, 1000);
	assert_int_equal(pool.allocated, 1);
	assert_int_equal(pool.free_count, 0);
	txbuf_queued(&b, 10);
	/* Nothing to trim while bytes are unacknowledged. */
	txbuf_trim(&b, &pool);
	assert_non_null(b.head);
	txbuf_acked(&b, &pool, 10);
	assert_true(txbuf_empty(&b));
	txpool_fini(&pool);
}

static void
test_chunks_span(void **state)
{
	struct txpool pool;
	struct txbuf b;
	size_t total = 0, len;

	(void)state;
	txpool_init(&pool, 8);
	txbuf_init(&b);
	/* Three chunks' worth, in reads of at most 0xffff bytes. */
	while (total < 3 * TXBUF_CHUNK) {
		size_t n = fill(&b, &pool, 0xffff, (uint32_t)total);

		txbuf_queued(&b, n);
		total += n;
	}
	assert_true(pool.allocated >= 3);
	/* A read never straddles chunks, and a chunk with less than TXBUF_MIN_READ left
	 * is left behind. */
	(void)txbuf_space(&b, &pool, 0xffff, &len);
	assert_true(len >= TXBUF_MIN_READ);

	/* Acks arrive in segment-sized pieces; chunks are returned as they complete. */
	{
		size_t acked = 0;
		unsigned freed_before = pool.free_count;

		while (acked + 1460 <= TXBUF_CHUNK) {
			txbuf_acked(&b, &pool, 1460);
			acked += 1460;
		}
		assert_int_equal(pool.free_count, freed_before);
		txbuf_acked(&b, &pool, TXBUF_CHUNK - acked);
		assert_int_equal(pool.free_count, freed_before + 1);
		txbuf_acked(&b, &pool, total - TXBUF_CHUNK);
		assert_true(txbuf_empty(&b));
		/* The chunk started for the last txbuf_space, never filled, went too. */
		assert_null(b.head);
		assert_null(b.tail);
	}
	txpool_fini(&pool);
}

static void
test_trim_space_never_filled(void **state)
{
	struct txpool pool;
	struct txbuf b;
	size_t len;

	(void)state;
	txpool_init(&pool, 2);
	txbuf_init(&b);
	/* A read that found nothing: the chunk must not stay with an idle flow. */
	assert_non_null(txbuf_space(&b, &pool, 4096, &len));
	assert_non_null(b.head);
	txbuf_trim(&b, &pool);
	assert_null(b.head);
	assert_null(b.tail);
	assert_int_equal(pool.free_count, 1);
	txpool_fini(&pool);
}

static void
test_span_fits_one_write(void **state)
{
	struct txpool pool;
	struct txbuf b;
	size_t len;

	(void)state;
	txpool_init(&pool, 2);
	txbuf_init(&b);
	/* lwIP's send buffer may offer 1 MiB: a fresh 64 KiB chunk must still offer at most
	 * what one tcp_write (u16_t length) can take, never 65536 (which would wrap to 0). */
	assert_non_null(txbuf_space(&b, &pool, 1024 * 1024, &len));
	assert_int_equal(len, TXBUF_MAX_SPAN);
	assert_true(len <= 0xffff);
	txbuf_filled(&b, len);
	txbuf_queued(&b, len);
	/* The byte left in the chunk is below TXBUF_MIN_READ: the next span is a new chunk. */
	assert_non_null(txbuf_space(&b, &pool, 1024 * 1024, &len));
	assert_int_equal(len, TXBUF_MAX_SPAN);
	txbuf_release(&b, &pool);
	txpool_fini(&pool);
}

static void
test_ack_beyond_queued_is_clamped(void **state)
{
	struct txpool pool;
	struct txbuf b;
	size_t len;

	(void)state;
	txpool_init(&pool, 2);
	txbuf_init(&b);
	(void)fill(&b, &pool, 500, 0);
	txbuf_queued(&b, 300);
	txbuf_acked(&b, &pool, 1000); /* only 300 were queued */
	assert_false(txbuf_empty(&b));
	assert_non_null(txbuf_unqueued(&b, &len));
	assert_int_equal(len, 200);
	txbuf_queued(&b, 200);
	txbuf_acked(&b, &pool, 200);
	assert_true(txbuf_empty(&b));
	txpool_fini(&pool);
}

static void
test_pool_bound_and_release(void **state)
{
	struct txpool pool;
	struct txbuf b[6];

	(void)state;
	txpool_init(&pool, 2);
	for (int i = 0; i < 6; i++) {
		txbuf_init(&b[i]);
		(void)fill(&b[i], &pool, 100, 0);
		txbuf_queued(&b[i], 50);
	}
	assert_int_equal(pool.allocated, 6);
	/* Release (the pcb was aborted): chunks go back whatever their marks. */
	for (int i = 0; i < 6; i++) {
		txbuf_release(&b[i], &pool);
		assert_true(txbuf_empty(&b[i]));
		assert_null(b[i].head);
	}
	assert_int_equal(pool.free_count, 2); /* the rest were freed */
	txpool_fini(&pool);
	assert_int_equal(pool.free_count, 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_marks_and_order),
		cmocka_unit_test(test_chunks_span),
		cmocka_unit_test(test_ack_beyond_queued_is_clamped),
		cmocka_unit_test(test_trim_space_never_filled),
		cmocka_unit_test(test_span_fits_one_write),
		cmocka_unit_test(test_pool_bound_and_release),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
