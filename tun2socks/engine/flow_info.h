/* SPDX-License-Identifier: MIT */
/*
 * What a flow kind tells of one live flow when asked (tcp_flows_foreach,
 * udp_flows_foreach): a value filled on the loop's thread, from fields the flow keeps
 * anyway or counts with one addition per read or write. Nothing here is computed on
 * the data path; lib/api.c turns it into the public struct t2s_flow_info.
 */
#ifndef T2S_TUN2SOCKS_FLOW_INFO_H
#define T2S_TUN2SOCKS_FLOW_INFO_H

#include <stdint.h>

#include <ev.h>

#include "flow_table.h"

#define FLOW_INFO_HOST_MAX 255

struct flow_info {
	uint64_t id;
	struct flow_key key;  /* proto, addresses and ports as the application sees them */
	const char *state;    /* "connecting", "handshaking", "relaying", "closing", "associating", "mapped" */
	char host[FLOW_INFO_HOST_MAX + 1]; /* the name a fake-IP destination stands for, else "" */
	ev_tstamp started;    /* ev_now() when the flow was made */
	ev_tstamp connected;  /* when the proxy connected (0: not yet) */
	ev_tstamp last_active;
	uint64_t bytes_out;   /* application -> proxy (TCP: stream bytes; UDP: payload) */
	uint64_t bytes_in;    /* proxy -> application */
	uint64_t packets_out, packets_in; /* UDP datagrams; 0 for TCP */
};

/* Called once per flow; a non-zero return stops the walk (and is returned). */
typedef int (*flow_info_fn)(void *arg, const struct flow_info *info);

#endif
