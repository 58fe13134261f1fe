/* SPDX-License-Identifier: MIT */
/*
 * Per family: two chained hash tables (name -> mapping, address -> mapping) over the
 * same entries, a doubly linked LRU list through them, a cursor over never-used
 * addresses and a FIFO ring of released ones.
 */
#include "fakeip.h"

#include <assert.h>
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "list.h"

#define MIN_BUCKETS 16
#define MIN_RING 64
#define IDLE_RELEASE_PER_ALLOC 2 /* keeps allocation O(1) while still draining idle mappings */

struct entry {
	struct list_node lru;
	struct entry *name_next, *addr_next;
	uint64_t last_used;
	uint32_t hash;
	uint32_t offset; /* the address is the network address + 1 + offset */
	char name[];	 /* lower case, NUL-terminated */
};

struct family_pool {
	bool enabled;
	size_t addr_len; /* 4 or 16 */
	uint8_t net[16];
	unsigned prefix;
	uint32_t span; /* usable addresses */
	uint32_t capacity;
	uint32_t count;
	uint32_t next_unused; /* offsets below it have been handed out before */
	struct entry **by_name, **by_addr;
	uint32_t mask;
	struct list_node lru; /* list head: next is the most recently used */
	uint32_t *ring;	     /* released offsets, oldest at ring_head */
	uint32_t ring_cap, ring_head, ring_len;
	uint8_t excluded[FAKEIP_EXCLUDE_MAX][16]; /* never handed out, not contained */
	int64_t excluded_offset[FAKEIP_EXCLUDE_MAX]; /* -1: not a usable address */
	unsigned n_excluded;
	uint32_t n_excluded_usable; /* excluded addresses with an offset in the span */
};

struct fakeip {
	struct family_pool v4, v6;
	uint32_t ttl;
	uint32_t idle_expiry;
	uint64_t k0, k1;
};

static struct entry *
entry_of(struct list_node *link)
{
	return container_of(link, struct entry, lru);
}

static uint64_t
rotl(uint64_t x, unsigned b)
{
	return x << b | x >> (64 - b);
}

static void
sip_round(uint64_t v[4])
{
	v[0] += v[1];
	v[1] = rotl(v[1], 13) ^ v[0];
	v[0] = rotl(v[0], 32);
	v[2] += v[3];
	v[3] = rotl(v[3], 16) ^ v[2];
	v[0] += v[3];
	v[3] = rotl(v[3], 21) ^ v[0];
	v[2] += v[1];
	v[1] = rotl(v[1], 17) ^ v[2];
	v[2] = rotl(v[2], 32);
}

/* SipHash-2-4: names come from any web page's lookups, so the hash must be keyed well
 * enough that nobody can aim many names at one bucket. */
static uint64_t
siphash(uint64_t k0, uint64_t k1, const uint8_t *p, size_t len)
{
	uint64_t v[4] = {k0 ^ 0x736f6d6570736575ull, k1 ^ 0x646f72616e646f6dull, k0 ^ 0x6c7967656e657261ull,
			 k1 ^ 0x7465646279746573ull};
	uint64_t m;
	size_t i;

	for (i = 0; i + 8 <= len; i += 8) {
		m = 0;
		for (size_t j = 0; j < 8; j++)
			m |= (uint64_t)p[i + j] << (8 * j);
		v[3] ^= m;
		sip_round(v);
		sip_round(v);
		v[0] ^= m;
	}
	m = (uint64_t)len << 56;
	for (size_t j = 0; i + j < len; j++)
		m |= (uint64_t)p[i + j] << (8 * j);
	v[3] ^= m;
	sip_round(v);
	sip_round(v);
	v[0] ^= m;
	v[2] ^= 0xff;
	for (int r = 0; r < 4; r++)
		sip_round(v);
	return v[0] ^ v[1] ^ v[2] ^ v[3];
}

/* Offsets are handed out by us, not chosen by a client: a multiplicative mix is enough. */
static uint32_t
offset_hash(uint32_t offset)
{
	return (uint32_t)(((uint64_t)offset * 0x9e3779b97f4a7c15ull) >> 32);
}

static bool
prefix_matches(const uint8_t *a, const uint8_t *net, unsigned prefix)
{
	size_t full = prefix / 8;
	unsigned rest = prefix % 8;

	if (memcmp(a, net, full) != 0)
		return false;
	if (rest == 0)
		return true;
	return ((a[full] ^ net[full]) & (uint8_t)(0xff << (8 - rest))) == 0;
}

static bool
host_bits_zero(const uint8_t *net, size_t len, unsigned prefix)
{
	for (size_t bit = prefix; bit < len * 8; bit++)
		if (net[bit / 8] & (0x80 >> (bit % 8)))
			return false;
	return true;
}

int
fakeip_config_check(const struct fakeip_config *cfg, const char **why)
{
	if (cfg->prefix4 < 1 || cfg->prefix4 > 30) {
		*why = "IPv4 fake-IP prefix must be 1..30";
		return -EINVAL;
	}
	if (!host_bits_zero((const uint8_t *)&cfg->net4, 4, cfg->prefix4)) {
		*why = "IPv4 fake-IP range has host bits set";
		return -EINVAL;
	}
	if (cfg->has_net6 && (cfg->prefix6 < 1 || cfg->prefix6 > 126)) {
		*why = "IPv6 fake-IP prefix must be 1..126";
		return -EINVAL;
	}
	if (cfg->has_net6 && !host_bits_zero(cfg->net6.s6_addr, 16, cfg->prefix6)) {
		*why = "IPv6 fake-IP range has host bits set";
		return -EINVAL;
	}
	if (cfg->capacity < 1) {
		*why = "fake-IP capacity must be at least 1";
		return -EINVAL;
	}
	if (cfg->ttl > FAKEIP_TTL_MAX) {
		*why = "fake-IP TTL must be below 2^31";
		return -EINVAL;
	}
	return 0;
}

/* Usable addresses in a range with host_bits host bits, minus `skipped` reserved ones. */
static uint32_t
span_of(unsigned host_bits, uint32_t skipped)
{
	if (host_bits >= 32 || ((uint64_t)1 << host_bits) - skipped >= FAKEIP_SPAN_MAX)
		return FAKEIP_SPAN_MAX;
	return (uint32_t)(((uint64_t)1 << host_bits) - skipped);
}

static int
family_init(struct family_pool *fp, const uint8_t *net, size_t addr_len, unsigned prefix, uint32_t capacity)
{
	size_t buckets = MIN_BUCKETS;

	fp->enabled = true;
	fp->addr_len = addr_len;
	memcpy(fp->net, net, addr_len);
	fp->prefix = prefix;
	fp->span = span_of((unsigned)(addr_len * 8 - prefix), addr_len == 4 ? 2 : 1);
	fp->capacity = capacity < fp->span ? capacity : fp->span;
	while (buckets < fp->capacity)
		buckets *= 2;
	fp->mask = (uint32_t)(buckets - 1);
	fp->by_name = calloc(buckets, sizeof(*fp->by_name));
	fp->by_addr = calloc(buckets, sizeof(*fp->by_addr));
	list_init(&fp->lru);
	if (fp->by_name == NULL || fp->by_addr == NULL)
		return -ENOMEM;
	return 0;
}

static void
family_fini(struct family_pool *fp)
{
	if (!fp->enabled)
		return;
	if (fp->by_name != NULL)
		for (struct list_node *l = fp->lru.next, *next; l != &fp->lru; l = next) {
			next = l->next;
			free(entry_of(l));
		}
	free(fp->by_name);
	free(fp->by_addr);
	free(fp->ring);
}

struct fakeip *
fakeip_new(const struct fakeip_config *cfg)
{
	struct fakeip *pool;
	const char *why;

	if (fakeip_config_check(cfg, &why) < 0)
		return NULL;
	pool = calloc(1, sizeof(*pool));
	if (pool == NULL)
		return NULL;
	pool->ttl = cfg->ttl;
	pool->idle_expiry = cfg->idle_expiry;
	pool->k0 = cfg->seed;
	pool->k1 = rotl(cfg->seed, 32) ^ 0x9e3779b97f4a7c15ull;
	if (family_init(&pool->v4, (const uint8_t *)&cfg->net4, 4, cfg->prefix4, cfg->capacity) < 0)
		goto err_free_pool;
	if (cfg->has_net6 && family_init(&pool->v6, cfg->net6.s6_addr, 16, cfg->prefix6, cfg->capacity) < 0)
		goto err_free_pool;
	return pool;

err_free_pool:
	fakeip_free(pool);
	return NULL;
}

void
fakeip_free(struct fakeip *pool)
{
	if (pool == NULL)
		return;
	family_fini(&pool->v4);
	family_fini(&pool->v6);
	free(pool);
}

static const struct family_pool *
family_find(const struct fakeip *pool, int family)
{
	const struct family_pool *fp = family == 4 ? &pool->v4 : family == 6 ? &pool->v6 : NULL;

	return fp != NULL && fp->enabled ? fp : NULL;
}

/* The same for callers that modify the pool, which they own. */
static struct family_pool *
family_get(struct fakeip *pool, int family)
{
	return (struct family_pool *)family_find(pool, family);
}

static void
offset_to_addr(const struct family_pool *fp, uint32_t offset, uint8_t *out)
{
	uint64_t carry = (uint64_t)offset + 1;

	memcpy(out, fp->net, fp->addr_len);
	for (size_t i = fp->addr_len; i-- > 0 && carry != 0;) {
		carry += out[i];
		out[i] = (uint8_t)carry;
		carry >>= 8;
	}
}

/* Returns the offset of addr, or -1 if it is not a usable address of the pool. */
static int64_t
addr_to_offset(const struct family_pool *fp, const uint8_t *addr)
{
	uint8_t host[16];
	uint32_t v;

	if (!prefix_matches(addr, fp->net, fp->prefix))
		return -1;
	for (size_t i = 0; i < fp->addr_len; i++)
		host[i] = addr[i] ^ fp->net[i];
	for (size_t i = 0; i + 4 < fp->addr_len; i++)
		if (host[i] != 0)
			return -1; /* at least 2^32 past the network address: beyond any span */
	v = (uint32_t)host[fp->addr_len - 4] << 24 | (uint32_t)host[fp->addr_len - 3] << 16 |
	    (uint32_t)host[fp->addr_len - 2] << 8 | host[fp->addr_len - 1];
	if (v == 0 || v - 1 >= fp->span)
		return -1;
	return (int64_t)v - 1;
}

static bool
offset_excluded(const struct family_pool *fp, uint32_t offset)
{
	for (unsigned i = 0; i < fp->n_excluded; i++)
		if (fp->excluded_offset[i] == (int64_t)offset)
			return true;
	return false;
}

static bool
addr_excluded(const struct family_pool *fp, const uint8_t *addr)
{
	for (unsigned i = 0; i < fp->n_excluded; i++)
		if (memcmp(fp->excluded[i], addr, fp->addr_len) == 0)
			return true;
	return false;
}

static void
touch(struct family_pool *fp, struct entry *e, uint64_t now)
{
	e->last_used = now;
	list_remove(&e->lru);
	list_push_front(&fp->lru, &e->lru);
}

/* Makes room for one more released offset, so that releasing cannot fail halfway. */
static int
ring_reserve(struct family_pool *fp)
{
	uint32_t cap, *ring;

	if (fp->ring_len < fp->ring_cap)
		return 0;
	cap = fp->ring_cap ? fp->ring_cap * 2 : MIN_RING;
	ring = malloc(cap * sizeof(*ring));
	if (ring == NULL)
		return -ENOMEM;
	for (uint32_t i = 0; i < fp->ring_len; i++)
		ring[i] = fp->ring[(fp->ring_head + i) & (fp->ring_cap - 1)];
	free(fp->ring);
	fp->ring = ring;
	fp->ring_cap = cap;
	fp->ring_head = 0;
	return 0;
}

static void
unchain_name(struct family_pool *fp, struct entry *e)
{
	struct entry **pp = &fp->by_name[e->hash & fp->mask];

	while (*pp != e)
		pp = &(*pp)->name_next;
	*pp = e->name_next;
}

static void
unchain_addr(struct family_pool *fp, struct entry *e)
{
	struct entry **pp = &fp->by_addr[offset_hash(e->offset) & fp->mask];

	while (*pp != e)
		pp = &(*pp)->addr_next;
	*pp = e->addr_next;
}

/* Unmaps e and queues its address for reuse; ring_reserve must have succeeded. */
static void
release(struct family_pool *fp, struct entry *e)
{
	unchain_name(fp, e);
	unchain_addr(fp, e);
	list_remove(&e->lru);
	fp->ring[(fp->ring_head + fp->ring_len) & (fp->ring_cap - 1)] = e->offset;
	fp->ring_len++;
	fp->count--;
	free(e);
}

static bool
idle(const struct fakeip *pool, const struct entry *e, uint64_t now)
{
	return pool->idle_expiry != 0 && now > e->last_used && now - e->last_used > pool->idle_expiry;
}

static int
release_idle(struct fakeip *pool, struct family_pool *fp, uint64_t now, size_t max)
{
	int n = 0;

	while ((size_t)n < max && fp->lru.prev != &fp->lru && idle(pool, entry_of(fp->lru.prev), now)) {
		if (ring_reserve(fp) < 0)
			return -ENOMEM;
		release(fp, entry_of(fp->lru.prev));
		n++;
	}
	return n;
}

int
fakeip_lookup_name(struct fakeip *pool, const char *name, int family, uint64_t now, void *addr_out)
{
	struct family_pool *fp = family_get(pool, family);
	char lower[FAKEIP_NAME_MAX + 1];
	struct entry *e;
	size_t len;
	uint32_t hash;

	if (fp == NULL)
		return -EAFNOSUPPORT;
	len = strnlen(name, FAKEIP_NAME_MAX + 1);
	if (len == 0 || len > FAKEIP_NAME_MAX)
		return -EINVAL;
	for (size_t i = 0; i <= len; i++)
		lower[i] = (char)(name[i] >= 'A' && name[i] <= 'Z' ? name[i] + ('a' - 'A') : name[i]);
	hash = (uint32_t)siphash(pool->k0, pool->k1, (const uint8_t *)lower, len);

	for (e = fp->by_name[hash & fp->mask]; e != NULL; e = e->name_next)
		if (e->hash == hash && strcmp(e->name, lower) == 0) {
			touch(fp, e, now);
			offset_to_addr(fp, e->offset, addr_out);
			return 0;
		}

	(void)release_idle(pool, fp, now, IDLE_RELEASE_PER_ALLOC);
	e = malloc(sizeof(*e) + len + 1);
	if (e == NULL)
		return -ENOMEM;
	if (fp->count == fp->capacity) {
		if (ring_reserve(fp) < 0) {
			free(e);
			return -ENOMEM;
		}
		release(fp, entry_of(fp->lru.prev));
	}
	while (fp->next_unused < fp->span && offset_excluded(fp, fp->next_unused))
		fp->next_unused++;
	if (fp->next_unused < fp->span) {
		e->offset = fp->next_unused++;
	} else {
		/* count < capacity <= span - excluded, and every offset that is not excluded
		 * is mapped or queued here (excluded ones queued before their exclusion are
		 * skipped) */
		do {
			assert(fp->ring_len > 0 && "fake-IP pool lost track of a released address");
			e->offset = fp->ring[fp->ring_head];
			fp->ring_head = (fp->ring_head + 1) & (fp->ring_cap - 1);
			fp->ring_len--;
		} while (offset_excluded(fp, e->offset));
	}
	memcpy(e->name, lower, len + 1);
	e->hash = hash;
	e->last_used = now;
	e->name_next = fp->by_name[hash & fp->mask];
	fp->by_name[hash & fp->mask] = e;
	e->addr_next = fp->by_addr[offset_hash(e->offset) & fp->mask];
	fp->by_addr[offset_hash(e->offset) & fp->mask] = e;
	list_push_front(&fp->lru, &e->lru);
	fp->count++;
	offset_to_addr(fp, e->offset, addr_out);
	return 0;
}

int
fakeip_lookup_addr(struct fakeip *pool, int family, const void *addr, uint64_t now, char *name_out)
{
	struct family_pool *fp = family_get(pool, family);
	int64_t offset;

	if (fp == NULL)
		return -EAFNOSUPPORT;
	offset = addr_to_offset(fp, addr);
	if (offset < 0)
		return -ENOENT;
	for (struct entry *e = fp->by_addr[offset_hash((uint32_t)offset) & fp->mask]; e != NULL; e = e->addr_next)
		if (e->offset == (uint32_t)offset) {
			touch(fp, e, now);
			memcpy(name_out, e->name, strlen(e->name) + 1);
			return 0;
		}
	return -ENOENT;
}

bool
fakeip_contains(const struct fakeip *pool, int family, const void *addr)
{
	const struct family_pool *fp = family_find(pool, family);

	return fp != NULL && prefix_matches(addr, fp->net, fp->prefix) && !addr_excluded(fp, addr);
}

static struct entry *
mapped_at(struct family_pool *fp, uint32_t offset)
{
	for (struct entry *e = fp->by_addr[offset_hash(offset) & fp->mask]; e != NULL; e = e->addr_next)
		if (e->offset == offset)
			return e;
	return NULL;
}

int
fakeip_exclude(struct fakeip *pool, int family, const void *addr)
{
	struct family_pool *fp = family_get(pool, family);
	struct entry *e;
	int64_t offset;

	if (fp == NULL)
		return -EAFNOSUPPORT;
	if (!prefix_matches(addr, fp->net, fp->prefix) || addr_excluded(fp, addr))
		return 0;
	if (fp->n_excluded == FAKEIP_EXCLUDE_MAX)
		return -ENOSPC;
	offset = addr_to_offset(fp, addr);
	if (offset >= 0 && fp->span - fp->n_excluded_usable <= 1)
		return -EADDRNOTAVAIL;
	e = offset >= 0 ? mapped_at(fp, (uint32_t)offset) : NULL;
	if (e != NULL && ring_reserve(fp) < 0)
		return -ENOMEM;
	memcpy(fp->excluded[fp->n_excluded], addr, fp->addr_len);
	fp->excluded_offset[fp->n_excluded] = offset;
	fp->n_excluded++;
	if (e != NULL)
		release(fp, e); /* its offset is skipped when the ring gives it back */
	if (offset >= 0) {
		fp->n_excluded_usable++;
		if (fp->capacity > fp->span - fp->n_excluded_usable)
			fp->capacity = fp->span - fp->n_excluded_usable;
	}
	return 0;
}

int
fakeip_expire(struct fakeip *pool, uint64_t now)
{
	int n4 = 0, n6 = 0;

	if (pool->v4.enabled)
		n4 = release_idle(pool, &pool->v4, now, SIZE_MAX);
	if (pool->v6.enabled && n4 >= 0)
		n6 = release_idle(pool, &pool->v6, now, SIZE_MAX);
	if (n4 < 0 || n6 < 0)
		return -ENOMEM;
	return n4 + n6;
}

uint32_t
fakeip_count(const struct fakeip *pool, int family)
{
	const struct family_pool *fp = family_find(pool, family);

	return fp != NULL ? fp->count : 0;
}

uint32_t
fakeip_capacity(const struct fakeip *pool, int family)
{
	const struct family_pool *fp = family_find(pool, family);

	return fp != NULL ? fp->capacity : 0;
}

uint32_t
fakeip_ttl(const struct fakeip *pool)
{
	return pool->ttl;
}
