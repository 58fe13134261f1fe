/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for the whole TUN input path into the real lwIP stack: the input is
 * a sequence of packets (2-byte big-endian length, then the bytes), each validated by
 * packet_parse and, if accepted, handed to tunif_input exactly as t2s.c does, with a
 * wildcard listener that accepts every connection and consumes its data, and lwIP's
 * timers ticking in between. Anything lwIP would choke on must be stopped by the
 * validator; state is reset after every input so runs stay independent.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <ev.h>

#include <lwip/priv/tcp_priv.h>
#include <lwip/tcp.h>

#include "lwip_port.h"
#include "packet.h"
#include "tunif.h"
#include "fuzz.h"

static struct tunif *tif;

static int
sink_output(void *ctx, struct iovec *iov, int iovcnt, const struct tunif_partial_csum *partial)
{
	(void)ctx;
	(void)iov;
	(void)iovcnt;
	(void)partial;
	return 0;
}

static err_t
app_recv_cb(void *arg, struct tcp_pcb *pcb, struct pbuf *p, err_t err)
{
	(void)arg;
	(void)err;
	if (p == NULL)
		return ERR_OK;
	tcp_recved(pcb, p->tot_len);
	pbuf_free(p);
	return ERR_OK;
}

static err_t
app_accept_cb(void *arg, struct tcp_pcb *newpcb, err_t err)
{
	(void)arg;
	if (err != ERR_OK || newpcb == NULL)
		return ERR_VAL;
	tcp_recv(newpcb, app_recv_cb);
	/* Some data the other way, so sent/ACK processing runs too. */
	(void)tcp_write(newpcb, "hello", 5, TCP_WRITE_FLAG_COPY);
	return ERR_OK;
}

static void
diag(const char *msg)
{
	(void)msg;
}

static void
init_once(void)
{
	struct tunif_config cfg = {
		.mtu = 65535,
		.output = sink_output,
		.tcp_csum_partial = 1,
		.accept = app_accept_cb,
	};

	lwip_port_init(ev_default_loop(0), diag);
	tif = tunif_new(&cfg);
	if (tif == NULL)
		abort();
}

static void
reset_stack(void)
{
	while (tcp_active_pcbs != NULL)
		tcp_abort(tcp_active_pcbs);
	while (tcp_tw_pcbs != NULL)
		tcp_abort(tcp_tw_pcbs);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (tif == NULL)
		init_once();
	while (size >= 2) {
		size_t len = (size_t)data[0] << 8 | data[1];
		struct packet_info info;
		struct pbuf *p;

		data += 2;
		size -= 2;
		if (len > size)
			len = size;
		/* What t2s.c's dispatch lets through to lwIP, and more: every unfragmented
		 * TCP and UDP packet (the program keeps SYNs back for a while and relays UDP
		 * itself, but lwIP must survive them all). */
		if (packet_parse(data, len, &info) == 0 && !info.fragment &&
		    (info.proto == PACKET_PROTO_TCP || info.proto == PACKET_PROTO_UDP)) {
			p = pbuf_alloc(PBUF_RAW, info.ip_len, PBUF_RAM);
			if (p != NULL) {
				memcpy(p->payload, data, info.ip_len);
				tunif_input(tif, p);
			}
		}
		data += len;
		size -= len;
		tcp_tmr();
	}
	reset_stack();
	return 0;
}
