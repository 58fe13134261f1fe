/* SPDX-License-Identifier: MIT */
/* Unit tests for the memory hooks of lwip-port: heap counting, out-of-order limits,
 * and the window a pcb offers when the budget narrows it at accept. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include <lwip/priv/tcp_priv.h>
#include <lwip/tcp.h>

#include "lwip_port.h"

static void
heap_counts_real_sizes(void **state)
{
	size_t before = lwip_port_heap_bytes(), mid;
	void *a, *b;

	(void)state;
	a = lwip_port_heap_malloc(100);
	b = lwip_port_heap_calloc(10, 1000);
	assert_non_null(a);
	assert_non_null(b);
	mid = lwip_port_heap_bytes();
	/* At least what was asked, plus a header per block. */
	assert_true(mid - before >= 100 + 10000 + 2 * sizeof(size_t));
	assert_true(mid - before <= 100 + 10000 + 2 * 64);
	lwip_port_heap_free(a);
	lwip_port_heap_free(NULL);
	lwip_port_heap_free(b);
	assert_int_equal(lwip_port_heap_bytes(), before);
	/* lwIP's own allocations go through the same counter. */
	struct pbuf *p = pbuf_alloc(PBUF_RAW, 3000, PBUF_RAM);

	assert_non_null(p);
	assert_true(lwip_port_heap_bytes() - before >= 3000);
	pbuf_free(p);
	assert_int_equal(lwip_port_heap_bytes(), before);
}

static void
ooseq_limits(void **state)
{
	(void)state;
	assert_int_equal(lwip_port_ooseq_bytes(NULL), LWIP_PORT_OOSEQ_BYTES);
	assert_int_equal(lwip_port_ooseq_pbufs(NULL), LWIP_PORT_OOSEQ_PBUFS);
	lwip_port_set_ooseq_limit(1000, 3);
	assert_int_equal(lwip_port_ooseq_bytes(NULL), 1000);
	assert_int_equal(lwip_port_ooseq_pbufs(NULL), 3);
	lwip_port_set_ooseq_limit(LWIP_PORT_OOSEQ_BYTES, LWIP_PORT_OOSEQ_PBUFS);
}

static void
limit_window(void **state)
{
	struct tcp_pcb pcb;

	(void)state;
	memset(&pcb, 0, sizeof(pcb));
	pcb.state = ESTABLISHED;
	pcb.rcv_nxt = 0xfffffff0u; /* the right edge wraps */
	pcb.rcv_wnd = pcb.rcv_ann_wnd = TCP_WND;
	pcb.rcv_ann_right_edge = pcb.rcv_nxt + TCP_WND;
	/* A full window asked: nothing held back. */
	assert_int_equal(lwip_port_tcp_limit_window(&pcb, TCP_WND), 0);
	assert_int_equal(pcb.rcv_wnd, TCP_WND);
	/* 100000: the rest is held back; the edge is what the SYN|ACK announced. */
	assert_int_equal(lwip_port_tcp_limit_window(&pcb, 100000), TCP_WND - 100000);
	assert_int_equal(pcb.rcv_wnd, 100000);
	assert_int_equal(pcb.rcv_ann_wnd, 100000);
	assert_int_equal(pcb.rcv_ann_right_edge, (u32_t)(0xfffffff0u + 0xffff));
	/* Never below what was announced. */
	pcb.rcv_wnd = TCP_WND;
	assert_int_equal(lwip_port_tcp_limit_window(&pcb, 0), TCP_WND - 0xffff);
	assert_int_equal(pcb.rcv_wnd, 0xffff);
	/* A peer without window scaling only ever had 0xffff: nothing to do. */
	pcb.rcv_wnd = pcb.rcv_ann_wnd = 0xffff;
	assert_int_equal(lwip_port_tcp_limit_window(&pcb, 0), 0);
	assert_int_equal(pcb.rcv_wnd, 0xffff);
	/* Only right after accept. */
	pcb.state = CLOSE_WAIT;
	pcb.rcv_wnd = TCP_WND;
	assert_int_equal(lwip_port_tcp_limit_window(&pcb, 0), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(heap_counts_real_sizes),
		cmocka_unit_test(ooseq_limits),
		cmocka_unit_test(limit_window),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
