/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for flow_table.c: key construction, insert/lookup/remove with IPv4 and
 * IPv6 keys, near-identical keys, growth to many thousands of entries with removals
 * interleaved, removal of absent nodes, count bookkeeping, and independent seeds.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "flow_table.h"

#define SEED 0x0123456789abcdefull

static const uint8_t A4[16] = {198, 18, 0, 1};
static const uint8_t B4[16] = {93, 184, 216, 34};
static const uint8_t A6[16] = {0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
static const uint8_t B6[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x12, 0x34};

/* Table fixtures: every test gets an initialised table in *state. */
static int
table_setup(void **state)
{
	struct flow_table *t = malloc(sizeof(*t));

	if (t == NULL || flow_table_init(t, SEED) != 0) {
		free(t);
		return -1;
	}
	*state = t;
	return 0;
}

static int
table_teardown(void **state)
{
	struct flow_table *t = *state;

	flow_table_fini(t);
	free(t);
	return 0;
}

/* Distinct, deterministic keys: i spreads over both addresses and both ports. */
static void
key_for(struct flow_key *key, size_t i)
{
	uint8_t app[16], dst[16];
	int family = i % 3 == 0 ? 6 : 4;

	memcpy(app, family == 4 ? A4 : A6, 16);
	memcpy(dst, family == 4 ? B4 : B6, 16);
	app[3] = (uint8_t)(i >> 16);
	dst[2] = (uint8_t)(i >> 24);
	flow_key_make(key, family, i % 2 ? 6 : 17, app, (uint16_t)(i & 0xffff), dst,
		      (uint16_t)(443 + (i >> 16)));
}

static struct flow_table_node *
nodes_new(size_t n)
{
	struct flow_table_node *nodes = calloc(n, sizeof(*nodes));

	assert_non_null(nodes);
	for (size_t i = 0; i < n; i++)
		key_for(&nodes[i].key, i);
	return nodes;
}

static void
assert_found(const struct flow_table *t, const struct flow_table_node *node)
{
	struct flow_key copy = node->key; /* look up by value, not by the node's own storage */

	if (flow_table_lookup(t, &copy) != node)
		fail_msg("node %p not found by its key", (const void *)node);
}

static void
assert_absent(const struct flow_table *t, const struct flow_key *key)
{
	assert_null(flow_table_lookup(t, key));
}

/* ---- keys ---- */

static void
test_key_make(void **state)
{
	struct flow_key k;
	uint8_t app[16], dst[16];
	static const uint8_t zero[16];

	(void)state;
	/* IPv4: only four bytes are read; the rest of the key is zero */
	memset(app, 0xee, sizeof(app));
	memset(dst, 0xdd, sizeof(dst));
	memcpy(app, A4, 4);
	memcpy(dst, B4, 4);
	memset(&k, 0x5a, sizeof(k));
	flow_key_make(&k, 4, 6, app, 40000, dst, 443);
	assert_int_equal(k.family, 4);
	assert_int_equal(k.proto, 6);
	assert_int_equal(k.zero[0], 0);
	assert_int_equal(k.zero[1], 0);
	assert_int_equal(k.app_port, 40000);
	assert_int_equal(k.dst_port, 443);
	assert_memory_equal(k.app_addr, A4, 4);
	assert_memory_equal(k.dst_addr, B4, 4);
	assert_memory_equal(k.app_addr + 4, zero, 12);
	assert_memory_equal(k.dst_addr + 4, zero, 12);

	/* IPv6: all sixteen */
	flow_key_make(&k, 6, 17, A6, 1, B6, 2);
	assert_int_equal(k.family, 6);
	assert_int_equal(k.proto, 17);
	assert_memory_equal(k.app_addr, A6, 16);
	assert_memory_equal(k.dst_addr, B6, 16);
	assert_int_equal(sizeof(struct flow_key), 40);
}

static void
test_v4_key_ignores_bytes_past_four(void **state)
{
	struct flow_table *t = *state;
	struct flow_table_node n;
	struct flow_key k;
	uint8_t app[16], dst[16];

	memset(&n, 0, sizeof(n));
	flow_key_make(&n.key, 4, 6, A4, 1000, B4, 80);
	assert_int_equal(flow_table_insert(t, &n), 0);
	/* the same IPv4 tuple from buffers with different garbage after the address */
	memset(app, 0x77, sizeof(app));
	memset(dst, 0x88, sizeof(dst));
	memcpy(app, A4, 4);
	memcpy(dst, B4, 4);
	flow_key_make(&k, 4, 6, app, 1000, dst, 80);
	assert_ptr_equal(flow_table_lookup(t, &k), &n);
	flow_table_remove(t, &n);
}

/* ---- basic operations ---- */

static void
test_empty(void **state)
{
	struct flow_table *t = *state;
	struct flow_key k;

	assert_int_equal(t->count, 0);
	assert_int_equal(t->mask + 1, 256);
	flow_key_make(&k, 4, 6, A4, 1, B4, 2);
	assert_absent(t, &k);
	flow_key_make(&k, 6, 6, A6, 1, B6, 2);
	assert_absent(t, &k);
}

static void
test_insert_lookup_remove(void **state)
{
	struct flow_table *t = *state;
	struct flow_table_node n4, n6;
	struct flow_key k;

	memset(&n4, 0, sizeof(n4));
	memset(&n6, 0, sizeof(n6));
	flow_key_make(&n4.key, 4, 6, A4, 40000, B4, 443);
	flow_key_make(&n6.key, 6, 6, A6, 40000, B6, 443);

	assert_int_equal(flow_table_insert(t, &n4), 0);
	assert_int_equal(t->count, 1);
	assert_found(t, &n4);
	assert_absent(t, &n6.key);
	assert_int_equal(flow_table_insert(t, &n6), 0);
	assert_int_equal(t->count, 2);
	assert_found(t, &n4);
	assert_found(t, &n6);

	flow_key_make(&k, 4, 6, A4, 40000, B4, 443);
	assert_ptr_equal(flow_table_lookup(t, &k), &n4);
	flow_key_make(&k, 6, 6, A6, 40000, B6, 443);
	assert_ptr_equal(flow_table_lookup(t, &k), &n6);

	flow_table_remove(t, &n4);
	assert_int_equal(t->count, 1);
	assert_absent(t, &n4.key);
	assert_found(t, &n6);
	flow_table_remove(t, &n6);
	assert_int_equal(t->count, 0);
	assert_absent(t, &n6.key);

	/* a removed node can go back in */
	assert_int_equal(flow_table_insert(t, &n4), 0);
	assert_found(t, &n4);
	assert_int_equal(t->count, 1);
	flow_table_remove(t, &n4);
	assert_int_equal(t->count, 0);
}

/* Every key differs from base in exactly one field or one byte. */
static size_t
near_keys(struct flow_key *out, int family)
{
	const uint8_t *app = family == 4 ? A4 : A6, *dst = family == 4 ? B4 : B6;
	size_t alen = family == 4 ? 4 : 16, n = 0;
	uint8_t a[16], d[16];

	flow_key_make(&out[n++], family, 6, app, 0x1234, dst, 443);
	flow_key_make(&out[n++], family, 17, app, 0x1234, dst, 443);	     /* proto */
	flow_key_make(&out[n++], family == 4 ? 6 : 4, 6, app, 0x1234, dst, 443); /* family */
	flow_key_make(&out[n++], family, 6, app, 0x3412, dst, 443);	     /* port bytes swapped */
	flow_key_make(&out[n++], family, 6, app, 0x1235, dst, 443);
	flow_key_make(&out[n++], family, 6, app, 0x1234, dst, 444);
	flow_key_make(&out[n++], family, 6, app, 443, dst, 0x1234); /* ports swapped */
	flow_key_make(&out[n++], family, 6, dst, 0x1234, app, 443); /* addresses swapped */
	flow_key_make(&out[n++], family, 6, dst, 443, app, 0x1234); /* the reply direction */
	for (size_t i = 0; i < alen; i++) {
		memcpy(a, app, 16);
		a[i] ^= 0x01;
		flow_key_make(&out[n++], family, 6, a, 0x1234, dst, 443);
		memcpy(d, dst, 16);
		d[i] ^= 0x80;
		flow_key_make(&out[n++], family, 6, app, 0x1234, d, 443);
	}
	return n;
}

static void
test_near_keys_do_not_collide(void **state)
{
	struct flow_table *t = *state;
	struct flow_key keys[2][64];
	struct flow_table_node nodes[2][64];
	size_t n[2];

	memset(nodes, 0, sizeof(nodes));
	n[0] = near_keys(keys[0], 4);
	n[1] = near_keys(keys[1], 6);
	/* the IPv4 and IPv6 sets must not share a key (the family byte differs) */
	for (int f = 0; f < 2; f++)
		for (size_t i = 0; i < n[f]; i++)
			for (int g = 0; g < 2; g++)
				for (size_t j = 0; j < n[g]; j++)
					if ((f != g || i != j) && memcmp(&keys[f][i], &keys[g][j], sizeof(keys[0][0])) == 0)
						fail_msg("test keys %d/%zu and %d/%zu are equal", f, i, g, j);

	for (int f = 0; f < 2; f++) {
		for (size_t i = 0; i < n[f]; i++) {
			nodes[f][i].key = keys[f][i];
			assert_absent(t, &keys[f][i]);
			assert_int_equal(flow_table_insert(t, &nodes[f][i]), 0);
		}
	}
	assert_int_equal(t->count, n[0] + n[1]);
	for (int f = 0; f < 2; f++)
		for (size_t i = 0; i < n[f]; i++)
			assert_ptr_equal(flow_table_lookup(t, &keys[f][i]), &nodes[f][i]);
	/* every byte of the key feeds the hash: no two of these share one */
	for (int f = 0; f < 2; f++)
		for (size_t i = 0; i < n[f]; i++)
			for (int g = 0; g < 2; g++)
				for (size_t j = 0; j < n[g]; j++)
					if ((f != g || i != j) && nodes[f][i].hash == nodes[g][j].hash)
						fail_msg("keys %d/%zu and %d/%zu share hash %08x", f, i, g, j,
							 (unsigned)nodes[f][i].hash);

	/* removing one leaves each of its neighbours findable */
	for (int f = 0; f < 2; f++) {
		for (size_t i = 0; i < n[f]; i++) {
			flow_table_remove(t, &nodes[f][i]);
			assert_absent(t, &keys[f][i]);
			for (int g = 0; g < 2; g++)
				for (size_t j = 0; j < n[g]; j++)
					if (g > f || (g == f && j > i))
						assert_ptr_equal(flow_table_lookup(t, &keys[g][j]), &nodes[g][j]);
		}
	}
	assert_int_equal(t->count, 0);
}

static const struct flow_table_node *sort_base;

static int
by_hash(const void *a, const void *b)
{
	uint32_t ha = sort_base[*(const size_t *)a].hash, hb = sort_base[*(const size_t *)b].hash;

	return ha < hb ? -1 : ha > hb;
}

/* Two different keys with the same full 32-bit hash share a bucket and a hash; lookup
 * must still tell them apart by the key itself. 2^18 keys give a few such pairs. */
static void
test_full_hash_collision(void **state)
{
	struct flow_table *t = *state;
	const size_t n = (size_t)1 << 18;
	struct flow_table_node *nodes = nodes_new(n);
	size_t *order = malloc(n * sizeof(*order)), pairs = 0;

	assert_non_null(order);
	for (size_t i = 0; i < n; i++) {
		assert_int_equal(flow_table_insert(t, &nodes[i]), 0);
		order[i] = i;
	}
	sort_base = nodes;
	qsort(order, n, sizeof(*order), by_hash);
	for (size_t i = 1; i < n; i++) {
		const struct flow_table_node *a = &nodes[order[i - 1]], *b = &nodes[order[i]];

		if (a->hash != b->hash)
			continue;
		pairs++;
		assert_memory_not_equal(&a->key, &b->key, sizeof(a->key));
		assert_found(t, a);
		assert_found(t, b);
		/* and with the other one gone */
		flow_table_remove(t, &nodes[order[i]]);
		assert_found(t, a);
		assert_absent(t, &b->key);
		assert_int_equal(flow_table_insert(t, &nodes[order[i]]), 0);
		flow_table_remove(t, &nodes[order[i - 1]]);
		assert_found(t, b);
		assert_absent(t, &a->key);
		assert_int_equal(flow_table_insert(t, &nodes[order[i - 1]]), 0);
	}
	if (pairs == 0)
		fail_msg("no 32-bit hash collision among %zu keys; the test needs one", n);
	assert_int_equal(t->count, n);
	free(order);
	free(nodes);
}

/* ---- growth ---- */

static void
test_growth_keeps_everything(void **state)
{
	struct flow_table *t = *state;
	const size_t n = 20000;
	struct flow_table_node *nodes = nodes_new(n);
	size_t last_buckets = t->mask + 1;

	for (size_t i = 0; i < n; i++) {
		assert_int_equal(flow_table_insert(t, &nodes[i]), 0);
		assert_int_equal(t->count, i + 1);
		if (t->mask + 1 != last_buckets) {
			/* right after a growth step, everything inserted so far is still there */
			assert_int_equal(t->mask + 1, last_buckets * 2);
			last_buckets = t->mask + 1;
			for (size_t j = 0; j <= i; j++)
				assert_found(t, &nodes[j]);
		}
	}
	/* power-of-two bucket count, load factor at most about one */
	assert_int_equal(t->mask & (t->mask + 1), 0);
	assert_true(t->mask + 1 >= n / 2);
	assert_true(t->mask + 1 <= 2 * n);
	for (size_t i = 0; i < n; i++)
		assert_found(t, &nodes[i]);
	{
		struct flow_key k;

		key_for(&k, n); /* never inserted */
		assert_absent(t, &k);
	}
	for (size_t i = 0; i < n; i++)
		flow_table_remove(t, &nodes[i]);
	assert_int_equal(t->count, 0);
	for (size_t i = 0; i < n; i += 997)
		assert_absent(t, &nodes[i].key);
	free(nodes);
}

/* Sequential ports, the usual shape of real traffic, must spread over the buckets. */
static void
test_distribution(void **state)
{
	struct flow_table *t = *state;
	const size_t n = 8000;
	struct flow_table_node *nodes = calloc(n, sizeof(*nodes));
	size_t longest = 0;

	assert_non_null(nodes);
	for (size_t i = 0; i < n; i++) {
		flow_key_make(&nodes[i].key, 4, 6, A4, (uint16_t)(32768 + i), B4, 443);
		assert_int_equal(flow_table_insert(t, &nodes[i]), 0);
	}
	for (size_t b = 0; b <= t->mask; b++) {
		size_t len = 0;

		for (const struct flow_table_node *p = t->buckets[b]; p != NULL; p = p->next)
			len++;
		if (len > longest)
			longest = len;
	}
	if (longest > 16)
		fail_msg("a bucket holds %zu of %zu keys in %zu buckets", longest, n, t->mask + 1);
	for (size_t i = 0; i < n; i++)
		flow_table_remove(t, &nodes[i]);
	free(nodes);
}

static void
test_remove_during_growth(void **state)
{
	struct flow_table *t = *state;
	const size_t n = 12000;
	struct flow_table_node *nodes = nodes_new(n);
	bool *in = calloc(n, sizeof(*in));
	size_t count = 0;

	assert_non_null(in);
	/* Insert in order; after each insert remove an older node on a fixed pattern, so
	 * removals land just before and just after every growth step. */
	for (size_t i = 0; i < n; i++) {
		assert_int_equal(flow_table_insert(t, &nodes[i]), 0);
		in[i] = true;
		count++;
		if (i % 3 == 2) {
			size_t victim = (i * 7919) % (i + 1);

			if (in[victim]) {
				flow_table_remove(t, &nodes[victim]);
				in[victim] = false;
				count--;
			}
		}
		assert_int_equal(t->count, count);
		if ((i & (i + 1)) == 0 || i % 1000 == 0) {
			for (size_t j = 0; j <= i; j++) {
				if (in[j])
					assert_found(t, &nodes[j]);
				else
					assert_absent(t, &nodes[j].key);
			}
		}
	}
	/* drain from the front, then refill to cross the growth points again */
	for (size_t i = 0; i < n; i++) {
		if (in[i] && i % 2 == 0) {
			flow_table_remove(t, &nodes[i]);
			in[i] = false;
			count--;
		}
	}
	assert_int_equal(t->count, count);
	for (size_t i = 0; i < n; i++) {
		if (!in[i]) {
			assert_int_equal(flow_table_insert(t, &nodes[i]), 0);
			in[i] = true;
			count++;
		}
	}
	assert_int_equal(t->count, n);
	for (size_t i = 0; i < n; i++)
		assert_found(t, &nodes[i]);
	for (size_t i = n; i-- > 0;)
		flow_table_remove(t, &nodes[i]);
	assert_int_equal(t->count, 0);
	free(in);
	free(nodes);
}

/* ---- removal of nodes that are not there ---- */

static void
test_remove_absent_is_noop(void **state)
{
	struct flow_table *t = *state;
	struct flow_table_node a, b, stranger, twin;

	memset(&a, 0, sizeof(a));
	memset(&b, 0, sizeof(b));
	memset(&stranger, 0, sizeof(stranger));
	flow_key_make(&a.key, 4, 6, A4, 1, B4, 2);
	flow_key_make(&b.key, 4, 6, A4, 3, B4, 4);
	flow_key_make(&stranger.key, 6, 17, A6, 5, B6, 6);
	assert_int_equal(flow_table_insert(t, &a), 0);
	assert_int_equal(flow_table_insert(t, &b), 0);

	/* never inserted: hash 0, so it probes bucket 0 */
	flow_table_remove(t, &stranger);
	assert_int_equal(t->count, 2);
	/* inserted and removed: node->hash is now right, yet the second removal finds nothing */
	assert_int_equal(flow_table_insert(t, &stranger), 0);
	assert_int_equal(t->count, 3);
	flow_table_remove(t, &stranger);
	assert_int_equal(t->count, 2);
	flow_table_remove(t, &stranger);
	assert_int_equal(t->count, 2);
	assert_absent(t, &stranger.key);
	/* a different node with the same key as a (and a's hash): removal is by identity */
	twin = a;
	twin.next = NULL;
	flow_table_remove(t, &twin);
	assert_int_equal(t->count, 2);
	assert_found(t, &a);
	assert_found(t, &b);

	/* removing a twice */
	flow_table_remove(t, &a);
	flow_table_remove(t, &a);
	assert_int_equal(t->count, 1);
	assert_found(t, &b);
	assert_absent(t, &a.key);

	/* removing from an empty table */
	flow_table_remove(t, &b);
	assert_int_equal(t->count, 0);
	flow_table_remove(t, &b);
	assert_int_equal(t->count, 0);
}

static void
test_remove_from_other_table_is_noop(void **state)
{
	struct flow_table *t = *state, other;
	struct flow_table_node *nodes = nodes_new(600);

	assert_int_equal(flow_table_init(&other, SEED ^ 0xffff), 0);
	for (size_t i = 0; i < 300; i++)
		assert_int_equal(flow_table_insert(t, &nodes[i]), 0);
	for (size_t i = 300; i < 600; i++)
		assert_int_equal(flow_table_insert(&other, &nodes[i]), 0);
	for (size_t i = 300; i < 600; i++)
		flow_table_remove(t, &nodes[i]);
	for (size_t i = 0; i < 300; i++)
		flow_table_remove(&other, &nodes[i]);
	assert_int_equal(t->count, 300);
	assert_int_equal(other.count, 300);
	for (size_t i = 0; i < 300; i++) {
		assert_found(t, &nodes[i]);
		assert_absent(&other, &nodes[i].key);
	}
	for (size_t i = 300; i < 600; i++) {
		assert_found(&other, &nodes[i]);
		assert_absent(t, &nodes[i].key);
	}
	for (size_t i = 0; i < 600; i++)
		flow_table_remove(i < 300 ? t : &other, &nodes[i]);
	assert_int_equal(t->count, 0);
	assert_int_equal(other.count, 0);
	flow_table_fini(&other);
	free(nodes);
}

/* ---- seeds ---- */

static void
test_two_seeds(void **state)
{
	struct flow_table a, b;
	const size_t n = 3000;
	struct flow_table_node *na = nodes_new(n), *nb = nodes_new(n);
	size_t same_hash = 0;

	(void)state;
	assert_int_equal(flow_table_init(&a, 1), 0);
	assert_int_equal(flow_table_init(&b, 0xfedcba9876543210ull), 0);
	for (size_t i = 0; i < n; i++) {
		assert_int_equal(flow_table_insert(&a, &na[i]), 0);
		assert_int_equal(flow_table_insert(&b, &nb[i]), 0);
		if (na[i].hash == nb[i].hash)
			same_hash++;
	}
	/* the seed changes the hash: at most a chance coincidence or two */
	if (same_hash > 2)
		fail_msg("%zu of %zu keys hash the same under both seeds", same_hash, n);
	/* the same keys, each table answering with its own nodes */
	for (size_t i = 0; i < n; i++) {
		assert_ptr_equal(flow_table_lookup(&a, &na[i].key), &na[i]);
		assert_ptr_equal(flow_table_lookup(&b, &na[i].key), &nb[i]);
	}
	for (size_t i = 0; i < n; i += 2) {
		flow_table_remove(&a, &na[i]);
		flow_table_remove(&b, &nb[i + 1]);
	}
	assert_int_equal(a.count, n / 2);
	assert_int_equal(b.count, n / 2);
	for (size_t i = 0; i < n; i++) {
		if (i % 2 == 0) {
			assert_absent(&a, &na[i].key);
			assert_ptr_equal(flow_table_lookup(&b, &na[i].key), &nb[i]);
		} else {
			assert_ptr_equal(flow_table_lookup(&a, &na[i].key), &na[i]);
			assert_absent(&b, &na[i].key);
		}
	}
	flow_table_fini(&a);
	flow_table_fini(&b);
	free(na);
	free(nb);
}

static void
test_seed_zero_and_fini(void **state)
{
	struct flow_table t;
	struct flow_table_node *nodes = nodes_new(1000);

	(void)state;
	assert_int_equal(flow_table_init(&t, 0), 0);
	assert_int_equal(t.seed, 0);
	for (size_t i = 0; i < 1000; i++)
		assert_int_equal(flow_table_insert(&t, &nodes[i]), 0);
	for (size_t i = 0; i < 1000; i++)
		assert_found(&t, &nodes[i]);
	/* fini with entries still in: the nodes belong to the caller, only buckets are freed */
	flow_table_fini(&t);
	assert_null(t.buckets);
	assert_int_equal(t.count, 0);
	/* and the table can be initialised again */
	assert_int_equal(flow_table_init(&t, 0), 0);
	memset(nodes, 0, sizeof(*nodes));
	key_for(&nodes[0].key, 0);
	assert_absent(&t, &nodes[0].key);
	assert_int_equal(flow_table_insert(&t, &nodes[0]), 0);
	assert_found(&t, &nodes[0]);
	flow_table_fini(&t);
	free(nodes);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_key_make),
		cmocka_unit_test_setup_teardown(test_v4_key_ignores_bytes_past_four, table_setup, table_teardown),
		cmocka_unit_test_setup_teardown(test_empty, table_setup, table_teardown),
		cmocka_unit_test_setup_teardown(test_insert_lookup_remove, table_setup, table_teardown),
		cmocka_unit_test_setup_teardown(test_near_keys_do_not_collide, table_setup, table_teardown),
		cmocka_unit_test_setup_teardown(test_full_hash_collision, table_setup, table_teardown),
		cmocka_unit_test_setup_teardown(test_growth_keeps_everything, table_setup, table_teardown),
		cmocka_unit_test_setup_teardown(test_distribution, table_setup, table_teardown),
		cmocka_unit_test_setup_teardown(test_remove_during_growth, table_setup, table_teardown),
		cmocka_unit_test_setup_teardown(test_remove_absent_is_noop, table_setup, table_teardown),
		cmocka_unit_test_setup_teardown(test_remove_from_other_table_is_noop, table_setup, table_teardown),
		cmocka_unit_test(test_two_seeds),
		cmocka_unit_test(test_seed_zero_and_fini),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
