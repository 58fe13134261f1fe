/* SPDX-License-Identifier: MIT */
/* Chained hash table with intrusive nodes and power-of-two growth. */
#include "flow_table.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define INITIAL_BUCKETS 256

void
flow_key_make(struct flow_key *key, int family, int proto, const uint8_t *app_addr, uint16_t app_port,
	      const uint8_t *dst_addr, uint16_t dst_port)
{
	size_t alen = family == 4 ? 4 : 16;

	memset(key, 0, sizeof(*key));
	key->family = (uint8_t)family;
	key->proto = (uint8_t)proto;
	key->app_port = app_port;
	key->dst_port = dst_port;
	memcpy(key->app_addr, app_addr, alen);
	memcpy(key->dst_addr, dst_addr, alen);
}

/* A keyed multiply-xorshift over 64-bit words; the key is 40 bytes. */
static uint32_t
key_hash(const struct flow_key *key, uint64_t seed)
{
	uint64_t h = seed, w;
	const uint8_t *p = (const uint8_t *)key;

	_Static_assert(sizeof(struct flow_key) % 8 == 0, "flow_key must be a multiple of 8 bytes");
	for (size_t i = 0; i < sizeof(*key); i += 8) {
		memcpy(&w, p + i, 8);
		h ^= w;
		h *= 0x9e3779b97f4a7c15ull;
		h ^= h >> 29;
	}
	h *= 0xbf58476d1ce4e5b9ull;
	h ^= h >> 32;
	return (uint32_t)h;
}

int
flow_table_init(struct flow_table *t, uint64_t seed)
{
	t->buckets = calloc(INITIAL_BUCKETS, sizeof(*t->buckets));
	if (t->buckets == NULL)
		return -ENOMEM;
	t->mask = INITIAL_BUCKETS - 1;
	t->count = 0;
	t->seed = seed;
	return 0;
}

void
flow_table_fini(struct flow_table *t)
{
	free(t->buckets);
	t->buckets = NULL;
	t->count = 0;
}

static int
grow(struct flow_table *t)
{
	size_t n = (t->mask + 1) * 2;
	struct flow_table_node **b = calloc(n, sizeof(*b));

	if (b == NULL)
		return -ENOMEM;
	for (size_t i = 0; i <= t->mask; i++) {
		struct flow_table_node *node = t->buckets[i], *next;

		for (; node != NULL; node = next) {
			next = node->next;
			node->next = b[node->hash & (n - 1)];
			b[node->hash & (n - 1)] = node;
		}
	}
	free(t->buckets);
	t->buckets = b;
	t->mask = n - 1;
	return 0;
}

int
flow_table_insert(struct flow_table *t, struct flow_table_node *node)
{
	int err = 0;

	if (t->count >= t->mask + 1)
		err = grow(t);
	node->hash = key_hash(&node->key, t->seed);
	node->next = t->buckets[node->hash & t->mask];
	t->buckets[node->hash & t->mask] = node;
	t->count++;
	return err;
}

struct flow_table_node *
flow_table_lookup(const struct flow_table *t, const struct flow_key *key)
{
	uint32_t h = key_hash(key, t->seed);
	struct flow_table_node *node;

	for (node = t->buckets[h & t->mask]; node != NULL; node = node->next)
		if (node->hash == h && memcmp(&node->key, key, sizeof(*key)) == 0)
			return node;
	return NULL;
}

void
flow_table_remove(struct flow_table *t, struct flow_table_node *node)
{
	struct flow_table_node **pp = &t->buckets[node->hash & t->mask];

	for (; *pp != NULL; pp = &(*pp)->next) {
		if (*pp == node) {
			*pp = node->next;
			node->next = NULL;
			t->count--;
			return;
		}
	}
}
