/* SPDX-License-Identifier: MIT */
/*
 * A hash table of flows keyed by their 5-tuple as the application sees it. Nodes are
 * embedded in the flow objects (intrusive), so insertion never allocates except when
 * the bucket array grows. The hash is keyed with a per-process random seed, so a
 * local process cannot aim collisions at one bucket.
 */
#ifndef T2S_TUN2SOCKS_FLOW_TABLE_H
#define T2S_TUN2SOCKS_FLOW_TABLE_H

#include <stddef.h>
#include <stdint.h>

struct flow_key {
	uint8_t family; /* 4 or 6 */
	uint8_t proto;
	uint8_t zero[2]; /* keeps the key free of implicit padding: it is hashed as bytes */
	uint16_t app_port, dst_port; /* host order */
	uint8_t app_addr[16];
	uint8_t dst_addr[16];
};

struct flow_table_node {
	struct flow_table_node *next;
	uint32_t hash;
	struct flow_key key;
};

struct flow_table {
	struct flow_table_node **buckets;
	size_t mask; /* bucket count - 1 (a power of two) */
	size_t count;
	uint64_t seed;
};

/* Builds a key; unused address bytes are zeroed so keys compare with memcmp. */
void flow_key_make(struct flow_key *key, int family, int proto, const uint8_t *app_addr, uint16_t app_port,
		   const uint8_t *dst_addr, uint16_t dst_port);

int flow_table_init(struct flow_table *t, uint64_t seed);
void flow_table_fini(struct flow_table *t);

/* node->key must be set. The key must not be present. Returns 0 or -ENOMEM (only
 * growth can fail, and then the node is inserted anyway into the smaller table). */
int flow_table_insert(struct flow_table *t, struct flow_table_node *node);
struct flow_table_node *flow_table_lookup(const struct flow_table *t, const struct flow_key *key);
/* Removes the node if it is in the table; a no-op otherwise. */
void flow_table_remove(struct flow_table *t, struct flow_table_node *node);

#endif
