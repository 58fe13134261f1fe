/* SPDX-License-Identifier: MIT */
/*
 * DNS wire format: one bounded name walker shared by every parser, the query and
 * response validators built on it, and the answer builders.
 */
#include "dns_msg.h"

#include <errno.h>
#include <string.h>

#include "wire.h"

#define FLAG_QR 0x8000
#define FLAG_AA 0x0400
#define FLAG_TC 0x0200
#define FLAG_RD 0x0100
#define FLAG_RA 0x0080
#define FLAG_CD 0x0010
#define OPCODE_SHIFT 11
#define OPCODE_MASK 0x7800
#define OPCODE_QUERY 0
#define RCODE_MASK 0x000f

#define WIRE_NAME_MAX 255
#define LABEL_MAX 63
#define RR_FIXED_LEN 10 /* TYPE, CLASS, TTL, RDLENGTH after the owner name */
#define OPT_LEN 11	/* root owner + RR_FIXED_LEN, no options */
#define EDNS_DO 0x8000
#define TTL_MAX 0x7fffffffu
#define QUESTION_PTR (0xc000 | DNS_MSG_HEADER_LEN) /* compression pointer to the question name */

struct name {
	uint8_t wire[WIRE_NAME_MAX]; /* uncompressed, case preserved, ends with the root label */
	size_t wire_len;
	char text[DNS_MSG_NAME_MAX + 1];
	bool compressed;
	bool odd; /* a label byte cannot be part of a SOCKS5 domain name */
};

/*
 * Decodes the name at msg[off], reading only msg[0..end). Returns the offset just past
 * the name as encoded there (after its root label or its first pointer), or -EBADMSG.
 *
 * Each pointer must target an offset below the start of the label run containing it.
 * Legal compression only ever points at an earlier name, so this loses nothing, and the
 * run starts strictly decrease, so the walk ends after at most `off` jumps. The 255-byte
 * limit applies to the name as decoded, so pointers cannot inflate it either.
 */
static int
name_walk(const uint8_t *msg, size_t end, size_t off, struct name *n)
{
	size_t pos = off, run = off, after = 0, tlen = 0;

	n->wire_len = 0;
	n->compressed = false;
	n->odd = false;
	for (;;) {
		uint8_t c;

		if (pos >= end)
			return -EBADMSG;
		c = msg[pos];
		if ((c & 0xc0) == 0xc0) {
			size_t target;

			if (pos + 1 >= end)
				return -EBADMSG;
			target = (size_t)(c & 0x3f) << 8 | msg[pos + 1];
			if (target >= run)
				return -EBADMSG;
			if (!n->compressed)
				after = pos + 2;
			n->compressed = true;
			pos = run = target;
			continue;
		}
		if (c > LABEL_MAX) /* 0x40 (extended, RFC 6891 deprecates it) and 0x80: reserved */
			return -EBADMSG;
		if (n->wire_len + 1 + c > WIRE_NAME_MAX || pos + 1 + c > end)
			return -EBADMSG;
		n->wire[n->wire_len++] = c;
		if (c == 0)
			break;
		if (tlen > 0)
			n->text[tlen++] = '.';
		for (size_t i = 1; i <= c; i++) {
			uint8_t b = msg[pos + i];

			if (b < 0x21 || b > 0x7e || b == '.')
				n->odd = true;
			n->wire[n->wire_len++] = b;
			n->text[tlen++] = (char)(b >= 'A' && b <= 'Z' ? b + ('a' - 'A') : b);
		}
		pos += 1 + (size_t)c;
	}
	n->text[tlen] = '\0';
	return (int)(n->compressed ? after : pos + 1);
}

/* The OPT record's fields after its owner name. */
struct opt {
	uint16_t udp_size;
	uint8_t ext_rcode;
	uint8_t version;
	bool dnssec_ok;
};

/* Checks that the options in an OPT record's RDATA tile it exactly. */
static bool
opt_options_valid(const uint8_t *p, size_t len)
{
	while (len > 0) {
		size_t olen;

		if (len < 4)
			return false;
		olen = wire_rd16(p + 2);
		if (olen > len - 4)
			return false;
		p += 4 + olen;
		len -= 4 + olen;
	}
	return true;
}

/* One resource record at msg[off]; fixed points at TYPE. */
struct rr {
	struct name owner;
	const uint8_t *fixed;
	uint16_t type;
	uint16_t rdlen;
	size_t rdata_off;
};

/* Returns the offset past the record, or -EBADMSG. */
static int
rr_walk(const uint8_t *msg, size_t len, size_t off, struct rr *rr)
{
	int r = name_walk(msg, len, off, &rr->owner);

	if (r < 0)
		return r;
	off = (size_t)r;
	if (len - off < RR_FIXED_LEN)
		return -EBADMSG;
	rr->fixed = msg + off;
	rr->type = wire_rd16(rr->fixed);
	rr->rdlen = wire_rd16(rr->fixed + 8);
	rr->rdata_off = off + RR_FIXED_LEN;
	if (len - rr->rdata_off < rr->rdlen)
		return -EBADMSG;
	return (int)(rr->rdata_off + rr->rdlen);
}

/* Validates an OPT record (RFC 6891 6.1.2: owner is the root) and decodes it. */
static int
opt_decode(const uint8_t *msg, const struct rr *rr, struct opt *opt)
{
	uint32_t ttl = wire_rd32(rr->fixed + 4);
	uint16_t udp_size = wire_rd16(rr->fixed + 2);

	if (rr->owner.wire_len != 1 || !opt_options_valid(msg + rr->rdata_off, rr->rdlen))
		return -EBADMSG;
	opt->udp_size = udp_size < 512 ? 512 : udp_size;
	opt->ext_rcode = (uint8_t)(ttl >> 24);
	opt->version = (uint8_t)(ttl >> 16);
	opt->dnssec_ok = (ttl & EDNS_DO) != 0;
	return 0;
}

int
dns_msg_parse_query(const uint8_t *msg, size_t len, struct dns_query *q)
{
	struct name qname;
	struct opt opt = {.udp_size = 512};
	bool edns = false;
	uint16_t flags;
	size_t off, qend;
	int r;

	if (len < DNS_MSG_HEADER_LEN || len > UINT16_MAX)
		return -EBADMSG;
	flags = wire_rd16(msg + 2);
	if (flags & FLAG_QR)
		return -EBADMSG;
	if ((flags & OPCODE_MASK) >> OPCODE_SHIFT != OPCODE_QUERY)
		return -ENOTSUP;
	if (wire_rd16(msg + 4) != 1 || wire_rd16(msg + 6) != 0 || wire_rd16(msg + 8) != 0 || wire_rd16(msg + 10) > 1)
		return -ENOTSUP;

	r = name_walk(msg, len, DNS_MSG_HEADER_LEN, &qname);
	if (r < 0)
		return r;
	off = (size_t)r;
	if (len - off < 4)
		return -EBADMSG;
	qend = off + 4;
	off = qend;

	if (wire_rd16(msg + 10) == 1) {
		struct rr rr;

		r = rr_walk(msg, len, off, &rr);
		if (r < 0)
			return r;
		off = (size_t)r;
		if (off != len)
			return -EBADMSG;
		if (rr.type != DNS_MSG_TYPE_OPT)
			return -ENOTSUP;
		r = opt_decode(msg, &rr, &opt);
		if (r < 0)
			return r;
		edns = true;
	}
	if (off != len)
		return -EBADMSG;
	if (qname.odd || (edns && opt.version != 0))
		return -ENOTSUP;

	q->id = wire_rd16(msg);
	q->qtype = wire_rd16(msg + qend - 4);
	q->qclass = wire_rd16(msg + qend - 2);
	q->rd = (flags & FLAG_RD) != 0;
	q->cd = (flags & FLAG_CD) != 0;
	q->edns = edns;
	q->edns_do = edns && opt.dnssec_ok;
	q->udp_size = opt.udp_size;
	q->question_off = DNS_MSG_HEADER_LEN;
	q->question_len = (uint16_t)(qend - DNS_MSG_HEADER_LEN);
	q->compressed = qname.compressed;
	memcpy(q->name, qname.text, strlen(qname.text) + 1);
	return 0;
}

/*
 * Writes the header and the question of an answer to q, after checking that everything
 * (rr_len bytes of records and the OPT record) fits. Returns the offset past the
 * question, -EINVAL if query_msg does not hold the question q describes, or -ENOSPC.
 */
static int
answer_begin(const struct dns_query *q, const uint8_t *query_msg, int rcode, uint16_t ancount, size_t rr_len,
	     uint8_t *out, size_t cap)
{
	struct name n;
	size_t qend = (size_t)q->question_off + q->question_len, pos;
	uint16_t flags = FLAG_QR | FLAG_RA | (uint16_t)rcode;
	int r;

	if (q->question_off != DNS_MSG_HEADER_LEN || q->question_len < 5)
		return -EINVAL;
	/* The question is written out uncompressed: a pointer into the query's header would
	 * point into our header, whose bytes differ. */
	r = name_walk(query_msg, qend, q->question_off, &n);
	if (r < 0 || (size_t)r != qend - 4 || strcmp(n.text, q->name) != 0 ||
	    wire_rd16(query_msg + qend - 4) != q->qtype || wire_rd16(query_msg + qend - 2) != q->qclass)
		return -EINVAL;
	if (DNS_MSG_HEADER_LEN + n.wire_len + 4 + rr_len + (q->edns ? OPT_LEN : 0) > cap)
		return -ENOSPC;

	if (q->rd)
		flags |= FLAG_RD;
	if (q->cd)
		flags |= FLAG_CD;
	wire_wr16(out, q->id);
	wire_wr16(out + 2, flags);
	wire_wr16(out + 4, 1);
	wire_wr16(out + 6, ancount);
	wire_wr16(out + 8, 0);
	wire_wr16(out + 10, q->edns ? 1 : 0);
	pos = DNS_MSG_HEADER_LEN;
	memcpy(out + pos, n.wire, n.wire_len);
	pos += n.wire_len;
	memcpy(out + pos, query_msg + qend - 4, 4);
	return (int)(pos + 4);
}

/* Our OPT record: root owner, UDP size 1232, no extended rcode, version 0, DO copied. */
static size_t
put_opt(const struct dns_query *q, uint8_t *p)
{
	p[0] = 0;
	wire_wr16(p + 1, DNS_MSG_TYPE_OPT);
	wire_wr16(p + 3, DNS_MSG_EDNS_UDP_SIZE);
	wire_wr32(p + 5, q->edns_do ? EDNS_DO : 0);
	wire_wr16(p + 9, 0);
	return OPT_LEN;
}

int
dns_msg_build_answer(const struct dns_query *q, const uint8_t *query_msg, const void *addr, int family,
		     uint32_t ttl, uint8_t *out, size_t cap)
{
	size_t alen = 0, pos;
	int r;

	if (addr != NULL) {
		if (family == 4 && q->qtype == DNS_MSG_TYPE_A)
			alen = 4;
		else if (family == 6 && q->qtype == DNS_MSG_TYPE_AAAA)
			alen = 16;
		else
			return -EINVAL;
		if (q->qclass != DNS_MSG_CLASS_IN)
			return -EINVAL;
	}
	r = answer_begin(q, query_msg, DNS_MSG_RCODE_NOERROR, addr != NULL, addr != NULL ? 12 + alen : 0, out, cap);
	if (r < 0)
		return r;
	pos = (size_t)r;
	if (addr != NULL) {
		wire_wr16(out + pos, QUESTION_PTR);
		wire_wr16(out + pos + 2, q->qtype);
		wire_wr16(out + pos + 4, DNS_MSG_CLASS_IN);
		wire_wr32(out + pos + 6, ttl > TTL_MAX ? TTL_MAX : ttl);
		wire_wr16(out + pos + 10, (uint16_t)alen);
		memcpy(out + pos + 12, addr, alen);
		pos += 12 + alen;
	}
	if (q->edns)
		pos += put_opt(q, out + pos);
	return (int)pos;
}

int
dns_msg_build_error(const struct dns_query *q, const uint8_t *query_msg, int rcode, uint8_t *out, size_t cap)
{
	size_t pos;
	int r;

	if (rcode < 1 || rcode > RCODE_MASK)
		return -EINVAL;
	r = answer_begin(q, query_msg, rcode, 0, 0, out, cap);
	if (r < 0)
		return r;
	pos = (size_t)r;
	if (q->edns)
		pos += put_opt(q, out + pos);
	return (int)pos;
}

int
dns_msg_build_error_header(const uint8_t *msg, size_t len, int rcode, uint8_t *out, size_t cap)
{
	uint16_t flags;

	if (len < DNS_MSG_HEADER_LEN || (wire_rd16(msg + 2) & FLAG_QR))
		return -EBADMSG;
	if (rcode < 1 || rcode > RCODE_MASK)
		return -EINVAL;
	if (cap < DNS_MSG_HEADER_LEN)
		return -ENOSPC;
	flags = FLAG_QR | FLAG_RA | (wire_rd16(msg + 2) & (OPCODE_MASK | FLAG_RD)) | (uint16_t)rcode;
	memcpy(out, msg, 2);
	wire_wr16(out + 2, flags);
	memset(out + 4, 0, DNS_MSG_HEADER_LEN - 4);
	return DNS_MSG_HEADER_LEN;
}

int
dns_msg_build_query(uint16_t id, const char *name, uint16_t qtype, uint8_t *out, size_t cap)
{
	const struct dns_query opt_of = {.edns = true};
	size_t len = strlen(name), pos = DNS_MSG_HEADER_LEN, label = 0;

	if (len > 0 && name[len - 1] == '.')
		len--;
	if (len == 0 || len > DNS_MSG_NAME_MAX)
		return -EINVAL;
	if (cap < DNS_MSG_HEADER_LEN + len + 2 + 4 + OPT_LEN)
		return -ENOSPC;
	wire_wr16(out, id);
	wire_wr16(out + 2, FLAG_RD);
	wire_wr16(out + 4, 1);
	wire_wr16(out + 6, 0);
	wire_wr16(out + 8, 0);
	wire_wr16(out + 10, 1);
	/* Each label's length byte goes where its first byte's predecessor was. */
	for (size_t i = 0; i <= len; i++) {
		if (i == len || name[i] == '.') {
			size_t n = i - label;

			if (n == 0 || n > LABEL_MAX)
				return -EINVAL;
			out[pos] = (uint8_t)n;
			memcpy(out + pos + 1, name + label, n);
			pos += 1 + n;
			label = i + 1;
		} else if ((unsigned char)name[i] < 0x21 || (unsigned char)name[i] > 0x7e) {
			return -EINVAL;
		}
	}
	out[pos++] = 0;
	wire_wr16(out + pos, qtype);
	wire_wr16(out + pos + 2, DNS_MSG_CLASS_IN);
	pos += 4;
	pos += put_opt(&opt_of, out + pos);
	return (int)pos;
}

int
dns_msg_parse_response(const uint8_t *msg, size_t len, struct dns_response *r)
{
	struct rr rr;
	struct opt opt;
	uint16_t flags;
	size_t off = DNS_MSG_HEADER_LEN, total;
	bool odd = false;
	int ret;

	if (len < DNS_MSG_HEADER_LEN || len > UINT16_MAX)
		return -EBADMSG;
	flags = wire_rd16(msg + 2);
	if (!(flags & FLAG_QR))
		return -EBADMSG;
	memset(r, 0, sizeof(*r));
	r->id = wire_rd16(msg);
	r->rcode = flags & RCODE_MASK;
	r->aa = (flags & FLAG_AA) != 0;
	r->tc = (flags & FLAG_TC) != 0;
	r->rd = (flags & FLAG_RD) != 0;
	r->ra = (flags & FLAG_RA) != 0;
	r->cd = (flags & FLAG_CD) != 0;
	r->qdcount = wire_rd16(msg + 4);
	r->ancount = wire_rd16(msg + 6);
	r->nscount = wire_rd16(msg + 8);
	r->arcount = wire_rd16(msg + 10);
	r->udp_size = 512;
	if (r->qdcount > 1)
		return -EBADMSG;
	if (r->qdcount == 1) {
		struct name n;

		ret = name_walk(msg, len, off, &n);
		if (ret < 0)
			return ret;
		off = (size_t)ret;
		if (len - off < 4)
			return -EBADMSG;
		r->qtype = wire_rd16(msg + off);
		r->qclass = wire_rd16(msg + off + 2);
		off += 4;
		memcpy(r->name, n.text, strlen(n.text) + 1);
		odd = n.odd;
	}

	total = (size_t)r->ancount + r->nscount + r->arcount;
	for (size_t i = 0; i < total; i++) {
		bool answer = i < r->ancount, additional = i >= (size_t)r->ancount + r->nscount;
		uint16_t rclass;

		ret = rr_walk(msg, len, off, &rr);
		if (ret < 0)
			return ret;
		off = (size_t)ret;
		rclass = wire_rd16(rr.fixed + 2);
		if (rr.type == DNS_MSG_TYPE_OPT) {
			if (!additional || r->edns || opt_decode(msg, &rr, &opt) < 0)
				return -EBADMSG;
			r->edns = true;
			r->udp_size = opt.udp_size;
			r->rcode |= (uint16_t)(opt.ext_rcode << 4);
			continue;
		}
		if (rclass != DNS_MSG_CLASS_IN || (rr.type != DNS_MSG_TYPE_A && rr.type != DNS_MSG_TYPE_AAAA))
			continue;
		if (rr.rdlen != (rr.type == DNS_MSG_TYPE_A ? 4 : 16))
			return -EBADMSG;
		if (answer && r->addr_family == 0) {
			r->addr_family = rr.type == DNS_MSG_TYPE_A ? 4 : 6;
			memcpy(r->addr, msg + rr.rdata_off, rr.rdlen);
			r->addr_ttl = wire_rd32(rr.fixed + 4);
		}
	}
	if (off != len)
		return -EBADMSG;
	return odd ? -ENOTSUP : 0;
}
