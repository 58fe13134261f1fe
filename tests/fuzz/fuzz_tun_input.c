/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for the whole TUN input path: the input is a sequence of packets
 * (2-byte big-endian length, then the bytes), each given to t2s_input, the engine's own
 * dispatch (counters, packet_parse, martians, SYN gating, UDP routing and reassembly,
 * then the real lwIP stack), with lwIP's timers ticking in between. The engine runs on
 * a socketpair standing in for the TUN and a proxy address on loopback where nothing
 * listens (connections fail once the loop runs; it never does here). A fresh engine per
 * input keeps runs independent.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <ev.h>

#include <lwip/priv/tcp_priv.h>
#include <lwip/tcp.h>

#include "config.h"
#include "fuzz.h"
#include "log.h"
#include "lwip_port.h"
#include "t2s.h"

static struct ev_loop *loop;
static struct t2s_config cfg;
static struct socks5_server proxy;
static int tun_peer = -1;

static void
diag(const char *msg)
{
	(void)msg;
}

static void
init_once(void)
{
	struct sockaddr_in *sin = (struct sockaddr_in *)&proxy.addr;

	log_set_level(LOG_LEVEL_ERROR);
	loop = ev_default_loop(0);
	if (loop == NULL || lwip_port_init(loop, diag) < 0)
		abort();
	config_defaults(&cfg);
	sin->sin_family = AF_INET;
	sin->sin_port = htons(9); /* discard: nothing listens on loopback */
	sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	proxy.addrlen = sizeof(*sin);
}

static struct t2s *
engine_new(void)
{
	struct tun_device tun = {.fd = -1};
	int sp[2];
	struct t2s *t;

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sp) < 0)
		abort();
	tun.fd = sp[0];
	snprintf(tun.name, sizeof(tun.name), "fuzz0");
	tun_peer = sp[1];
	t = t2s_new(loop, &cfg, &proxy, &tun);
	if (t == NULL)
		abort();
	return t;
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
	struct t2s *t;

	if (loop == NULL)
		init_once();
	t = engine_new();
	while (size >= 2) {
		size_t len = (size_t)data[0] << 8 | data[1];

		data += 2;
		size -= 2;
		if (len > size)
			len = size;
		t2s_input(t, data, len);
		data += len;
		size -= len;
		tcp_tmr();
	}
	t2s_free(t);
	close(tun_peer);
	reset_stack();
	return 0;
}
