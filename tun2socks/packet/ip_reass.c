/* SPDX-License-Identifier: MIT */
/*
 * Fragment reassembly into a fixed array of slots. Each datagram in progress owns one
 * heap buffer: a bitmap of the 8-byte blocks received, room for the synthetic header,
 * then the data at its offset. Fragments never overlap (anything but an identical
 * duplicate abandons the datagram), so "all bytes up to the last fragment's end
 * received" is a byte count.
 */
#include "ip_reass.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "wire.h"

#define IPV4_HLEN 20
#define IPV6_HLEN 40
#define FRAG_HLEN 8
/* One bit per 8-byte block of up to 64 KiB of data. */
#define BITMAP_BYTES (65536 / 8 / 8)
/* Buffers start at this many data bytes and double (fragments arrive in order). */
#define MIN_DATA 2048

struct slot {
	uint8_t family; /* 0: free */
	uint8_t proto;  /* IPv4 only (part of the key); 0 for IPv6 */
	uint32_t id;
	uint8_t src[16], dst[16]; /* IPv4: first 4 bytes, rest zero (as packet_parse leaves them) */
	double created, deadline;
	uint8_t *buf;   /* bitmap, header room, data */
	size_t alloc;   /* bytes of buf (counted against max_bytes) */
	size_t cap;     /* data bytes buf can hold */
	size_t total;   /* data length, known once the last fragment arrived */
	size_t received; /* data bytes received, none twice */
	size_t max_end; /* highest fragment end seen */
	bool have_last;
};

struct ip_reass {
	struct ip_reass_config cfg;
	struct slot *slots;
	unsigned used;
	size_t bytes;
	uint8_t *done; /* the last completed packet, freed at the next call */
	struct ip_reass_stats stats;
};

/* What one fragment says about itself. */
struct frag {
	uint8_t family, proto, next;
	uint32_t id;
	size_t off, len, end; /* of the data within the datagram */
	bool more;
	const uint8_t *data;
	size_t unfrag_len; /* IPv4 header / IPv6 header + extension headers before Fragment */
};

static size_t
hdr_len(uint8_t family)
{
	return family == 4 ? IPV4_HLEN : IPV6_HLEN;
}

static uint8_t *
data_of(const struct slot *s)
{
	return s->buf + BITMAP_BYTES + hdr_len(s->family);
}

static void
release_done(struct ip_reass *r)
{
	free(r->done);
	r->done = NULL;
}

static void
slot_free(struct ip_reass *r, struct slot *s)
{
	r->bytes -= s->alloc;
	free(s->buf);
	memset(s, 0, sizeof(*s));
	r->used--;
}

struct ip_reass *
ip_reass_new(const struct ip_reass_config *cfg)
{
	struct ip_reass *r;

	if (cfg->max_datagrams == 0 || cfg->max_bytes < BITMAP_BYTES + IP_REASS_MAX_PACKET || cfg->timeout4 <= 0 ||
	    cfg->timeout6 <= 0)
		return NULL;
	r = calloc(1, sizeof(*r));
	if (r == NULL)
		return NULL;
	r->cfg = *cfg;
	r->slots = calloc(cfg->max_datagrams, sizeof(*r->slots));
	if (r->slots == NULL) {
		free(r);
		return NULL;
	}
	return r;
}

void
ip_reass_free(struct ip_reass *r)
{
	if (r == NULL)
		return;
	for (unsigned i = 0; i < r->cfg.max_datagrams; i++)
		if (r->slots[i].family != 0)
			slot_free(r, &r->slots[i]);
	release_done(r);
	free(r->slots);
	free(r);
}

/* Reads the fragment fields; 0, or -EINVAL for lengths no sender may produce. */
static int
describe(const uint8_t *pkt, const struct packet_info *info, struct frag *f)
{
	memset(f, 0, sizeof(*f));
	f->family = info->family;
	if (info->family == 4) {
		uint16_t fo = wire_rd16(pkt + 6);

		f->proto = info->proto;
		f->id = wire_rd16(pkt + 4);
		f->off = (size_t)(fo & 0x1fff) * 8;
		f->more = (fo & 0x2000) != 0;
		f->unfrag_len = info->l4_off;
	} else {
		const uint8_t *fh;
		uint16_t fo;

		if (info->frag_hdr_off < IPV6_HLEN || (size_t)info->frag_hdr_off + FRAG_HLEN > info->ip_len)
			return -EINVAL;
		fh = pkt + info->frag_hdr_off;
		fo = wire_rd16(fh + 2);
		f->next = fh[0];
		f->id = wire_rd32(fh + 4);
		f->off = fo & 0xfff8;
		f->more = (fo & 1) != 0;
		f->unfrag_len = info->frag_hdr_off;
	}
	f->data = pkt + f->unfrag_len + (info->family == 6 ? FRAG_HLEN : 0);
	f->len = info->ip_len - (size_t)(f->data - pkt);
	f->end = f->off + f->len;
	/* RFC 791 / 8200: every fragment but the last carries a non-empty multiple of 8. */
	if (f->more && (f->len == 0 || f->len % 8 != 0))
		return -EINVAL;
	return 0;
}

/* The datagram would be larger than an IP packet may be (RFC 8200 4.5: its payload
 * length would exceed 65535), or than the packet we rebuild. */
static bool
too_big(const struct frag *f)
{
	size_t unfrag_payload = f->family == 4 ? f->unfrag_len : f->unfrag_len - IPV6_HLEN;

	return hdr_len(f->family) + f->end > IP_REASS_MAX_PACKET || unfrag_payload + f->end > 65535;
}

static bool
key_eq(const struct slot *s, const struct frag *f, const struct packet_info *info)
{
	return s->family == f->family && s->id == f->id && s->proto == f->proto && memcmp(s->src, info->src, 16) == 0 &&
	       memcmp(s->dst, info->dst, 16) == 0;
}

static void
expire(struct ip_reass *r, double now)
{
	for (unsigned i = 0; i < r->cfg.max_datagrams && r->used > 0; i++) {
		struct slot *s = &r->slots[i];

		if (s->family != 0 && s->deadline <= now) {
			r->stats.timed_out++;
			slot_free(r, s);
		}
	}
}

/* The oldest reassembly other than keep, or NULL. */
static struct slot *
oldest(struct ip_reass *r, const struct slot *keep)
{
	struct slot *best = NULL;

	for (unsigned i = 0; i < r->cfg.max_datagrams; i++) {
		struct slot *s = &r->slots[i];

		if (s->family != 0 && s != keep && (best == NULL || s->created < best->created))
			best = s;
	}
	return best;
}

/* Makes room for delta more bytes by evicting the oldest other reassemblies. */
static bool
make_room(struct ip_reass *r, const struct slot *keep, size_t delta)
{
	while (r->bytes + delta > r->cfg.max_bytes) {
		struct slot *victim = oldest(r, keep);

		if (victim == NULL)
			return false;
		r->stats.no_room++;
		slot_free(r, victim);
	}
	return true;
}

/* Grows s so data up to end fits; false if there is no room (s is left as it was). */
static bool
reserve(struct ip_reass *r, struct slot *s, size_t end)
{
	size_t max_data = IP_REASS_MAX_PACKET - hdr_len(s->family), cap, alloc;
	uint8_t *buf;

	if (end <= s->cap)
		return true;
	if (s->have_last) {
		cap = s->total; /* exact: nothing beyond it can be accepted */
	} else {
		cap = s->cap * 2 > MIN_DATA ? s->cap * 2 : MIN_DATA;
		if (cap < end)
			cap = end;
		if (cap > max_data)
			cap = max_data;
	}
	alloc = BITMAP_BYTES + hdr_len(s->family) + cap;
	if (!make_room(r, s, alloc - s->alloc))
		return false;
	buf = realloc(s->buf, alloc);
	if (buf == NULL)
		return false;
	if (s->buf == NULL)
		memset(buf, 0, BITMAP_BYTES);
	s->buf = buf;
	r->bytes += alloc - s->alloc;
	s->alloc = alloc;
	s->cap = cap;
	return true;
}

static struct slot *
slot_new(struct ip_reass *r, const struct frag *f, const struct packet_info *info, double now)
{
	struct slot *s = NULL;

	if (r->used == r->cfg.max_datagrams) {
		r->stats.no_room++;
		slot_free(r, oldest(r, NULL));
	}
	for (unsigned i = 0; i < r->cfg.max_datagrams; i++) {
		if (r->slots[i].family == 0) {
			s = &r->slots[i];
			break;
		}
	}
	s->family = f->family;
	s->proto = f->proto;
	s->id = f->id;
	memcpy(s->src, info->src, 16);
	memcpy(s->dst, info->dst, 16);
	s->created = now;
	s->deadline = now + (f->family == 4 ? r->cfg.timeout4 : r->cfg.timeout6);
	r->used++;
	return s;
}

/* Counts the received 8-byte blocks among those that [off, end) touches. */
static size_t
blocks_set(const uint8_t *map, size_t first, size_t last)
{
	size_t n = 0;

	for (size_t b = first; b < last; b++)
		n += (map[b / 8] >> (b % 8)) & 1;
	return n;
}

static void
blocks_mark(uint8_t *map, size_t first, size_t last)
{
	for (size_t b = first; b < last; b++)
		map[b / 8] |= (uint8_t)(1u << (b % 8));
}

/* The synthetic header, from the first fragment's: no options, no extension headers.
 * Lengths (and the IPv4 checksum) are filled in by finish(). */
static void
write_header(struct slot *s, const uint8_t *pkt, const struct frag *f)
{
	uint8_t *h = s->buf + BITMAP_BYTES;

	if (s->family == 4) {
		memcpy(h, pkt, IPV4_HLEN);
		h[0] = 0x45;
		wire_wr16(h + 6, 0);
	} else {
		memcpy(h, pkt, IPV6_HLEN);
		h[6] = f->next;
	}
}

/* Hands the finished datagram over as r->done and frees the slot. */
static void
finish(struct ip_reass *r, struct slot *s, const uint8_t **out, size_t *out_len)
{
	uint8_t *h = s->buf + BITMAP_BYTES;
	size_t hl = hdr_len(s->family);

	if (s->family == 4) {
		wire_wr16(h + 2, (uint16_t)(hl + s->total));
		wire_wr16(h + 10, 0);
		wire_wr16(h + 10, packet_fold(packet_sum(0, h, IPV4_HLEN)));
	} else {
		wire_wr16(h + 4, (uint16_t)s->total);
	}
	r->done = s->buf;
	s->buf = NULL;
	*out = h;
	*out_len = hl + s->total;
	r->stats.reassembled++;
	slot_free(r, s);
}

/* RFC 6946: an atomic fragment is a whole datagram, reassembled with nothing else. */
static int
atomic(struct ip_reass *r, const uint8_t *pkt, const struct frag *f, const uint8_t **out, size_t *out_len)
{
	uint8_t *p = malloc(IPV6_HLEN + f->len);

	if (p == NULL) {
		r->stats.no_room++;
		return -ENOMEM;
	}
	memcpy(p, pkt, IPV6_HLEN);
	p[6] = f->next;
	wire_wr16(p + 4, (uint16_t)f->len);
	memcpy(p + IPV6_HLEN, f->data, f->len);
	r->done = p;
	*out = p;
	*out_len = IPV6_HLEN + f->len;
	r->stats.reassembled++;
	return IP_REASS_DONE;
}

int
ip_reass_add(struct ip_reass *r, const uint8_t *pkt, const struct packet_info *info, double now,
	     const uint8_t **out, size_t *out_len)
{
	struct slot *s = NULL;
	struct frag f;
	size_t first, last, set;

	release_done(r);
	expire(r, now);
	if (describe(pkt, info, &f) < 0) {
		r->stats.malformed++;
		return -EINVAL;
	}
	for (unsigned i = 0; i < r->cfg.max_datagrams; i++) {
		if (key_eq(&r->slots[i], &f, info)) {
			s = &r->slots[i];
			break;
		}
	}
	if (too_big(&f)) {
		r->stats.too_big++;
		if (s != NULL)
			slot_free(r, s);
		return -EMSGSIZE;
	}
	if (f.off == 0 && !f.more) {
		/* Only IPv6 gets here (packet_parse does not call such IPv4 packets fragments). */
		return atomic(r, pkt, &f, out, out_len);
	}
	if (s == NULL)
		s = slot_new(r, &f, info, now);
	/* The last fragment fixes the length; nothing may end beyond it, and it comes once. */
	if ((!f.more && ((s->have_last && s->total != f.end) || s->max_end > f.end)) ||
	    (f.more && s->have_last && f.end > s->total)) {
		r->stats.malformed++;
		slot_free(r, s);
		return -EINVAL;
	}
	if (!f.more) {
		s->have_last = true;
		s->total = f.end;
	}
	if (!reserve(r, s, f.end)) {
		r->stats.no_room++;
		slot_free(r, s);
		return -ENOMEM;
	}
	first = f.off / 8;
	last = (f.end + 7) / 8;
	set = blocks_set(s->buf, first, last);
	if (set != 0) {
		/* Identical bytes where we have them all: a duplicate (the network may copy a
		 * packet). Anything else overlaps: RFC 5722 abandons the whole datagram (we do
		 * the same for IPv4, as Linux does, so no two readings of it exist). */
		if (set == last - first && memcmp(data_of(s) + f.off, f.data, f.len) == 0) {
			r->stats.duplicates++;
			return IP_REASS_HELD;
		}
		r->stats.overlaps++;
		slot_free(r, s);
		return -EBADMSG;
	}
	memcpy(data_of(s) + f.off, f.data, f.len);
	blocks_mark(s->buf, first, last);
	s->received += f.len;
	if (f.end > s->max_end)
		s->max_end = f.end;
	if (f.off == 0)
		write_header(s, pkt, &f);
	r->stats.fragments++;
	if (s->have_last && s->received == s->total) {
		finish(r, s, out, out_len);
		return IP_REASS_DONE;
	}
	return IP_REASS_HELD;
}

void
ip_reass_expire(struct ip_reass *r, double now)
{
	release_done(r);
	expire(r, now);
}

double
ip_reass_next_deadline(const struct ip_reass *r)
{
	double next = 0;

	for (unsigned i = 0; i < r->cfg.max_datagrams && r->used > 0; i++) {
		const struct slot *s = &r->slots[i];

		if (s->family != 0 && (next == 0 || s->deadline < next))
			next = s->deadline;
	}
	return next;
}

unsigned
ip_reass_pending(const struct ip_reass *r)
{
	return r->used;
}

size_t
ip_reass_bytes(const struct ip_reass *r)
{
	return r->bytes;
}

const struct ip_reass_stats *
ip_reass_stats(const struct ip_reass *r)
{
	return &r->stats;
}
