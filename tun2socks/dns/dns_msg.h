/* SPDX-License-Identifier: MIT */
/*
 * Pure DNS message code (RFC 1035, EDNS per RFC 6891) for the fake-IP resolver: parses
 * the one-question queries applications send, builds the answers we give ourselves
 * (A/AAAA, NODATA, errors), and validates responses. No I/O, no allocation.
 *
 * Over TCP (RFC 1035 4.2.2) every message is preceded by its length as a 2-byte
 * big-endian prefix; these functions see the message without that prefix.
 */
#ifndef T2S_TUN2SOCKS_DNS_MSG_H
#define T2S_TUN2SOCKS_DNS_MSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define DNS_MSG_HEADER_LEN 12
#define DNS_MSG_NAME_MAX 253	 /* dotted text without the trailing dot (255 on the wire) */
#define DNS_MSG_EDNS_UDP_SIZE 1232 /* what our OPT record advertises (DNS flag day 2020) */
#define DNS_MSG_CLASS_IN 1
/* Largest message the builders produce: header, a 255-byte name, an AAAA record, OPT. */
#define DNS_MSG_ANSWER_MAX (DNS_MSG_HEADER_LEN + 255 + 4 + 12 + 16 + 11)

enum dns_msg_type {
	DNS_MSG_TYPE_A = 1,
	DNS_MSG_TYPE_CNAME = 5,
	DNS_MSG_TYPE_AAAA = 28,
	DNS_MSG_TYPE_OPT = 41,
	DNS_MSG_TYPE_SVCB = 64,
	DNS_MSG_TYPE_HTTPS = 65, /* carries ipv4hint/ipv6hint: real addresses that bypass fake IPs */
	DNS_MSG_TYPE_ANY = 255,
};

enum dns_msg_rcode {
	DNS_MSG_RCODE_NOERROR = 0,
	DNS_MSG_RCODE_FORMERR = 1,
	DNS_MSG_RCODE_SERVFAIL = 2,
	DNS_MSG_RCODE_NXDOMAIN = 3,
	DNS_MSG_RCODE_NOTIMP = 4,
	DNS_MSG_RCODE_REFUSED = 5,
};

/* A parsed query. A value type: the builders read it together with the query bytes. */
struct dns_query {
	uint16_t id;
	uint16_t qtype;
	uint16_t qclass;
	bool rd;	       /* recursion desired: copied into every answer */
	bool cd;	       /* checking disabled: copied too (RFC 4035 3.1.6) */
	bool edns;	       /* the query had an OPT record (version 0): answers carry one */
	bool edns_do;	       /* its DO bit: copied into our OPT (RFC 3225) */
	uint16_t udp_size;     /* the client's UDP payload limit: 512 without EDNS, never below */
	uint16_t question_off; /* raw question section in the query: always DNS_MSG_HEADER_LEN */
	uint16_t question_len; /* QNAME as sent (possibly compressed) + QTYPE + QCLASS */
	bool compressed;       /* QNAME used a compression pointer (into the header) */
	char name[DNS_MSG_NAME_MAX + 1]; /* lowercase, dotted, no trailing dot; the root is "" */
};

/*
 * Parses msg[0..len) as a standard query: QR=0, opcode QUERY, exactly one question, no
 * answer or authority records, at most one additional record which must be an EDNS
 * version 0 OPT, and no trailing bytes. Name labels may only hold the bytes 0x21..0x7e
 * other than '.', so that q->name can be handed to a SOCKS5 proxy as is.
 *
 * Compression pointers must point strictly before the start of the label run they
 * appear in: that admits every legal pointer, excludes loops, and bounds the walk.
 *
 * Returns 0 and fills q, or:
 *   -EBADMSG  malformed, or not a query (QR=1). Answer with dns_msg_build_error_header
 *             (FORMERR) if it succeeds, otherwise drop the message.
 *   -ENOTSUP  well formed but not something we answer ourselves: another opcode,
 *             QDCOUNT != 1, answer/authority records, a non-OPT additional record
 *             (TSIG...), EDNS version != 0, or name bytes outside the set above. Relay it
 *             to the real resolver unchanged (or answer NOTIMP/REFUSED with
 *             dns_msg_build_error_header). q is not filled.
 */
int dns_msg_parse_query(const uint8_t *msg, size_t len, struct dns_query *q);

/*
 * Builds the answer to q into out[0..cap): same ID, QR=1, RA=1, RD and CD copied,
 * NOERROR, the question as the client sent it (case preserved for 0x20-randomising
 * resolvers; a compressed QNAME is written out in full), and one record whose owner is a
 * compression pointer to the question name:
 *   - addr != NULL: an A (family 4, 4 bytes) or AAAA (family 6, 16 bytes) record with
 *     this TTL (TTLs above 2^31-1 are sent as 2^31-1). q->qtype must match the family
 *     and q->qclass must be IN.
 *   - addr == NULL: no record (NODATA), for any qtype. It carries no SOA, so clients
 *     do not cache the negative answer for long (RFC 2308) and may ask again.
 * If the query had an OPT record the answer has one too (UDP size 1232, DO copied).
 * query_msg must be the unchanged buffer q was parsed from.
 * Returns the length (at most DNS_MSG_ANSWER_MAX, so never truncated for UDP), or
 * -EINVAL (family/qtype/qclass mismatch, or query_msg differs from q) or -ENOSPC.
 */
int dns_msg_build_answer(const struct dns_query *q, const uint8_t *query_msg, const void *addr, int family,
			 uint32_t ttl, uint8_t *out, size_t cap);

/*
 * Builds an error answer to q with rcode (1..15, e.g. SERVFAIL, NXDOMAIN, REFUSED):
 * like dns_msg_build_answer without records, with the question and, if the query had
 * one, an OPT record. Returns the length, -EINVAL or -ENOSPC.
 */
int dns_msg_build_error(const struct dns_query *q, const uint8_t *query_msg, int rcode, uint8_t *out,
			size_t cap);

/*
 * Builds a 12-byte header-only answer for a query that dns_msg_parse_query refused:
 * ID, opcode and RD copied from msg, QR=1, RA=1, rcode (1..15), all counts 0. Returns
 * 12, or -EBADMSG when msg is shorter than a header or is itself a response (never
 * answer a response: two resolvers could bounce it forever), -EINVAL or -ENOSPC.
 */
int dns_msg_build_error_header(const uint8_t *msg, size_t len, int rcode, uint8_t *out, size_t cap);

/*
 * Builds a standard query for name (dotted text, an optional trailing dot; labels of 1
 * to 63 bytes of 0x21..0x7e other than '.', at most 253 bytes in all) and qtype, class
 * IN, with this ID, RD set and an EDNS OPT record (UDP size 1232) into out[0..cap).
 * Returns the length, -EINVAL for a name that cannot be sent, or -ENOSPC.
 */
int dns_msg_build_query(uint16_t id, const char *name, uint16_t qtype, uint8_t *out, size_t cap);

/* What dns_msg_parse_response reports. */
struct dns_response {
	uint16_t id;
	uint16_t rcode; /* 12 bits: the header's 4 plus the OPT record's extended bits */
	bool aa, tc, rd, ra, cd;
	uint16_t qdcount, ancount, nscount, arcount;
	uint16_t qtype, qclass;		 /* 0 without a question */
	char name[DNS_MSG_NAME_MAX + 1]; /* question name as in struct dns_query; "" without one */
	bool edns;
	uint16_t udp_size;
	int addr_family;  /* 4 or 6: the first A/AAAA record of the answer section; 0 if none */
	uint8_t addr[16]; /* its address (IPv4 in the first 4 bytes) */
	uint32_t addr_ttl;
};

/*
 * Validates msg[0..len) as a response: QR=1, at most one question (same name rules as
 * dns_msg_parse_query), every record's name, fixed fields and RDATA length inside the
 * message, A/AAAA RDATA of the right size, at most one OPT (in the additional section,
 * owner root), no trailing bytes. Returns 0 and fills r, -EBADMSG, or -ENOTSUP (the
 * question name has bytes outside 0x21..0x7e, or '.').
 */
int dns_msg_parse_response(const uint8_t *msg, size_t len, struct dns_response *r);

#endif
