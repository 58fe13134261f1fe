/* SPDX-License-Identifier: MIT */
/*
 * dnsblast: DNS queries per second and latency with a fixed number of queries
 * outstanding, for the tun2socks benchmark (bench/run).
 *
 *   dnsblast -s ADDR[:PORT] [--socks5 ADDR:PORT] [--tcp] -c OUTSTANDING -t SECONDS -n MAX
 *            --domain NAME --expect CIDR [--timeout SECONDS]
 *
 * Each of the -c slots sends one A query, waits for its answer (or --timeout), then
 * sends the next, until -t seconds or -n queries in all. Every query has a random ID
 * and a name of its own ("q<N>-<run>.<domain>"), so no cache along the way can answer
 * it. An answer counts only if its ID and question equal the query's, it is a NOERROR
 * response with at least one A record, and every A record lies in --expect.
 *
 * Transports, chosen like an application or a SOCKS-aware resolver would:
 *   (default)        UDP, one connected socket per slot, reused for its queries
 *   --socks5         UDP through a SOCKS5 UDP ASSOCIATE per slot (RFC 1928 section 7)
 *   --tcp            TCP (RFC 1035 4.2.2 framing), one connection per query
 *   --tcp --socks5   TCP through a SOCKS5 CONNECT per query
 *
 * Result: one "key=value" line on stdout (latency: from sending the query, or opening
 * the connection for TCP, to the checked answer); errors on stderr. Exit status 0 when
 * every query was answered correctly, 1 otherwise (the result line is printed anyway),
 * 2 on usage errors. Only addresses in 198.18.0.0/15 and 2001:2::/48 are accepted.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "blastnet.h"

#define DNS_HDR 12
#define MSG_MAX 4096
#define NAME_MAX_ 253
#define SLOTS_MAX 256
#define GIVE_UP_AFTER 20 /* failures in a row in one slot */

static void
die_usage(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "dnsblast: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nusage:\n"
			"  dnsblast -s ADDR[:PORT] [--socks5 ADDR:PORT] [--tcp] -c OUTSTANDING -t SECONDS -n MAX\n"
			"           --domain NAME --expect CIDR [--timeout SECONDS]\n"
			"addresses: numeric, in 198.18.0.0/15 or 2001:2::/48\n");
	exit(2);
}

static double
parse_double(const char *opt, const char *s, double lo, double hi)
{
	double v;

	if (blastnet_parse_double(s, lo, hi, &v) < 0)
		die_usage("%s: '%s' is not a number in %g..%g", opt, s, lo, hi);
	return v;
}

/* ------------------------------------------------------------------ DNS messages */

struct cidr4 {
	uint32_t net, mask;
};

static int
cidr4_parse(const char *s, struct cidr4 *c)
{
	char a[INET_ADDRSTRLEN];
	const char *slash = strchr(s, '/');
	struct in_addr in;
	char *e;
	long len;

	if (slash == NULL || (size_t)(slash - s) >= sizeof(a))
		return -1;
	memcpy(a, s, (size_t)(slash - s));
	a[slash - s] = '\0';
	errno = 0;
	len = strtol(slash + 1, &e, 10);
	if (inet_pton(AF_INET, a, &in) != 1 || errno || e == slash + 1 || *e || len < 0 || len > 32)
		return -1;
	c->mask = len == 0 ? 0 : 0xffffffffu << (32 - len);
	c->net = ntohl(in.s_addr) & c->mask;
	return 0;
}

/* Domain names: letters, digits, '-' and '.', labels of 1..63, at most NAME_MAX_ in all. */
static int
name_valid(const char *n)
{
	size_t len = strlen(n), label = 0;

	if (len == 0 || len > NAME_MAX_ - 24) /* room for the "q<N>-<run>." prefix */
		return 0;
	for (const char *p = n; *p; p++) {
		if (*p == '.') {
			if (label == 0)
				return 0;
			label = 0;
			continue;
		}
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || *p == '-'))
			return 0;
		if (++label > 63)
			return 0;
	}
	return label > 0;
}

/* A standard query (RD set) for name/A/IN into buf; returns its length. */
static size_t
query_build(unsigned char *buf, uint16_t id, const char *name)
{
	size_t o = DNS_HDR;

	memset(buf, 0, DNS_HDR);
	buf[0] = (unsigned char)(id >> 8);
	buf[1] = (unsigned char)id;
	buf[2] = 0x01; /* RD */
	buf[5] = 1;    /* QDCOUNT */
	while (*name) {
		const char *dot = strchr(name, '.');
		size_t l = dot ? (size_t)(dot - name) : strlen(name);

		buf[o++] = (unsigned char)l;
		memcpy(buf + o, name, l);
		o += l;
		name += l + (dot ? 1 : 0);
	}
	buf[o++] = 0;
	memcpy(buf + o, "\x00\x01\x00\x01", 4); /* A, IN */
	return o + 4;
}

static int
lower(int c)
{
	return c >= 'A' && c <= 'Z' ? c + 32 : c;
}

/* Offset just past the (possibly compressed) name at off, or 0 if it runs off the end. */
static size_t
skip_name(const unsigned char *m, size_t n, size_t off)
{
	while (off < n) {
		unsigned l = m[off];

		if ((l & 0xc0) == 0xc0)
			return off + 2 <= n ? off + 2 : 0;
		if (l & 0xc0)
			return 0;
		off += 1 + l;
		if (l == 0)
			return off <= n ? off : 0;
	}
	return 0;
}

/* NULL if r (with q's ID) answers query q as wanted, else why not. */
static const char *
answer_check(const unsigned char *q, size_t qlen, const unsigned char *r, size_t rlen, const struct cidr4 *expect)
{
	if (rlen < qlen)
		return "short response";
	if (!(r[2] & 0x80) || ((r[2] >> 3) & 0xf) != 0)
		return "not a response to a standard query";
	if (r[2] & 0x02)
		return "truncated (TC)";
	if ((r[3] & 0xf) != 0)
		return "RCODE not NOERROR";
	if (r[4] != 0 || r[5] != 1)
		return "QDCOUNT not 1";
	/* Name compared without case (0x20 randomization is allowed); type and class exactly. */
	for (size_t i = DNS_HDR; i < qlen; i++)
		if (lower(r[i]) != lower(q[i]))
			return "question differs from the query's";
	unsigned an = (unsigned)r[6] << 8 | r[7], a_records = 0;
	size_t off = qlen;

	for (unsigned k = 0; k < an; k++) {
		off = skip_name(r, rlen, off);
		if (off == 0 || off + 10 > rlen)
			return "answer section runs past the message";
		unsigned type = (unsigned)r[off] << 8 | r[off + 1], cls = (unsigned)r[off + 2] << 8 | r[off + 3];
		size_t rdlen = (size_t)r[off + 8] << 8 | r[off + 9];

		off += 10;
		if (off + rdlen > rlen)
			return "record data runs past the message";
		if (type == 1 && cls == 1) {
			uint32_t a;

			if (rdlen != 4)
				return "A record with RDLENGTH not 4";
			a = (uint32_t)r[off] << 24 | (uint32_t)r[off + 1] << 16 | (uint32_t)r[off + 2] << 8 | r[off + 3];
			if ((a & expect->mask) != expect->net)
				return "A record outside --expect";
			a_records++;
		}
		off += rdlen;
	}
	return a_records ? NULL : "no A record in the answer";
}

/* ------------------------------------------------------------------ slots */

struct opts {
	struct blastnet_addr server;
	struct blastnet_addr proxy;
	int use_proxy;
	int tcp;
	long conc;
	double secs;
	long max;
	double timeout;
	const char *domain;
	struct cidr4 expect;
	uint32_t run;
};

struct shared {
	const struct opts *o;
	atomic_long issued;
	double deadline;
};

struct slot {
	struct shared *sh;
	int idx;
	uint64_t rng;
	double *lat;
	size_t nlat, cap;
	uint64_t sent, answered, timeouts, failed, bad, late, stray;
	char first_err[200];
	double t_end;
	pthread_t th;
	/* UDP: the slot's socket (direct) or association (through SOCKS) */
	int fd;
	struct blastnet_udp_assoc assoc;
};

static uint16_t
rng16(struct slot *s)
{
	s->rng ^= s->rng << 13;
	s->rng ^= s->rng >> 7;
	s->rng ^= s->rng << 17;
	return (uint16_t)(s->rng >> 24);
}

static void
slot_error(struct slot *s, uint64_t *counter, const char *fmt, ...)
{
	va_list ap;

	(*counter)++;
	if (s->first_err[0])
		return;
	va_start(ap, fmt);
	vsnprintf(s->first_err, sizeof(s->first_err), fmt, ap);
	va_end(ap);
}

static int
slot_record(struct slot *s, double lat)
{
	if (s->nlat == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 4096;
		double *p = realloc(s->lat, cap * sizeof(*p));

		if (p == NULL)
			return -1;
		s->lat = p;
		s->cap = cap;
	}
	s->lat[s->nlat++] = lat;
	s->answered++;
	return 0;
}

/*
 * One query over the slot's UDP socket: 1 answered, 0 not (counted as timeout, failure,
 * or bad answer).
 */
static int
slot_udp_query(struct slot *s, const unsigned char *q, size_t qlen, double t0)
{
	const struct opts *o = s->sh->o;
	unsigned char r[MSG_MAX + 32];
	ssize_t n;

	if (o->use_proxy) {
		struct iovec iov[2] = {{s->assoc.hdr, s->assoc.hdr_len}, {(void *)q, qlen}};
		struct msghdr mh = {.msg_iov = iov, .msg_iovlen = 2};

		n = sendmsg(s->fd, &mh, 0);
	} else {
		n = send(s->fd, q, qlen, 0);
	}
	if (n < 0) {
		slot_error(s, &s->failed, "send: %s", strerror(errno));
		return 0;
	}
	for (;;) {
		double left = t0 + o->timeout - blastnet_now();
		struct pollfd p = {.fd = s->fd, .events = POLLIN};

		if (left <= 0 || poll(&p, 1, (int)(left * 1000) + 1) == 0) {
			slot_error(s, &s->timeouts, "query timed out (%.1f s)", o->timeout);
			return 0;
		}
		n = recv(s->fd, r, sizeof(r), MSG_DONTWAIT);
		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR)
				continue;
			/* ECONNREFUSED: ICMP port unreachable, e.g. tun2socks could not relay it. */
			slot_error(s, &s->failed, "recv: %s", strerror(errno));
			return 0;
		}
		const unsigned char *m = r;
		size_t ml = (size_t)n;

		if (o->use_proxy) {
			ssize_t off = blastnet_udp_assoc_unwrap(&s->assoc, r, (size_t)n);

			if (off < 0) {
				s->stray++;
				continue;
			}
			m += off;
			ml -= (size_t)off;
		}
		if (ml < DNS_HDR || m[0] != q[0] || m[1] != q[1]) {
			s->late++; /* an answer to an earlier query that had timed out */
			continue;
		}
		const char *why = answer_check(q, qlen, m, ml, &o->expect);

		if (why) {
			slot_error(s, &s->bad, "bad answer: %s", why);
			return 0;
		}
		return 1;
	}
}

/* One query over its own TCP connection: 1 answered, 0 not. */
static int
slot_tcp_query(struct slot *s, const unsigned char *q, size_t qlen)
{
	const struct opts *o = s->sh->o;
	unsigned char r[MSG_MAX], lenbuf[2] = {(unsigned char)(qlen >> 8), (unsigned char)qlen};
	char err[200];
	int fd = blastnet_tcp_open(o->use_proxy ? &o->proxy : NULL, &o->server, o->timeout, err, sizeof(err));
	size_t rl;
	int ok = 0;

	if (fd < 0) {
		slot_error(s, strstr(err, "timed out") ? &s->timeouts : &s->failed, "%s", err);
		return 0;
	}
	struct iovec iov[2] = {{lenbuf, 2}, {(void *)q, qlen}};
	struct msghdr mh = {.msg_iov = iov, .msg_iovlen = 2};

	if (sendmsg(fd, &mh, MSG_NOSIGNAL) != (ssize_t)(qlen + 2)) {
		slot_error(s, &s->failed, "tcp send: %s", blastnet_errstr(errno));
		goto out;
	}
	if (blastnet_read_all(fd, lenbuf, 2) < 0) {
		slot_error(s, errno == EAGAIN ? &s->timeouts : &s->failed, "tcp response length: %s",
			   errno == EPIPE ? "connection closed" : blastnet_errstr(errno));
		goto out;
	}
	rl = (size_t)lenbuf[0] << 8 | lenbuf[1];
	if (rl < DNS_HDR || rl > sizeof(r)) {
		slot_error(s, &s->bad, "tcp response length %zu", rl);
		goto out;
	}
	if (blastnet_read_all(fd, r, rl) < 0) {
		slot_error(s, errno == EAGAIN ? &s->timeouts : &s->failed, "tcp response: %s", blastnet_errstr(errno));
		goto out;
	}
	if (r[0] != q[0] || r[1] != q[1]) {
		slot_error(s, &s->bad, "bad answer: another ID");
		goto out;
	}
	const char *why = answer_check(q, qlen, r, rl, &o->expect);

	if (why)
		slot_error(s, &s->bad, "bad answer: %s", why);
	else
		ok = 1;
out:
	close(fd);
	return ok;
}

static void *
slot_main(void *arg)
{
	struct slot *s = arg;
	struct shared *sh = s->sh;
	const struct opts *o = sh->o;
	unsigned char q[DNS_HDR + NAME_MAX_ + 2 + 4];
	char name[NAME_MAX_ + 1];
	int in_a_row = 0;
	long i;

	while (blastnet_now() < sh->deadline && (i = atomic_fetch_add(&sh->issued, 1)) < o->max) {
		snprintf(name, sizeof(name), "q%ld-%08x.%s", i, o->run, o->domain);
		size_t qlen = query_build(q, rng16(s), name);
		double t0 = blastnet_now();
		int ok;

		s->sent++;
		ok = o->tcp ? slot_tcp_query(s, q, qlen) : slot_udp_query(s, q, qlen, t0);
		if (ok) {
			in_a_row = 0;
			if (slot_record(s, blastnet_now() - t0) < 0) {
				slot_error(s, &s->failed, "out of memory");
				break;
			}
		} else if (++in_a_row >= GIVE_UP_AFTER) {
			break;
		}
	}
	s->t_end = blastnet_now();
	return NULL;
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

int
main(int argc, char **argv)
{
	struct opts o = {.conc = 1, .timeout = 1, .max = 0};
	const char *expect = NULL;
	int have_server = 0;
	char err[200];

	signal(SIGPIPE, SIG_IGN);
	setvbuf(stdout, NULL, _IOLBF, 0);
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];

		if (!strcmp(a, "--tcp")) {
			o.tcp = 1;
			continue;
		}
		if (i + 1 >= argc)
			die_usage("%s needs a value", a);
		const char *v = argv[++i];

		if (!strcmp(a, "-s")) {
			if (blastnet_addr_parse_hostport(v, 53, &o.server) < 0)
				die_usage("-s: '%s' is not ADDR, ADDR:PORT or [ADDR6]:PORT", v);
			have_server = 1;
		} else if (!strcmp(a, "--socks5")) {
			if (blastnet_addr_parse_hostport(v, -1, &o.proxy) < 0)
				die_usage("--socks5: '%s' is not ADDR:PORT or [ADDR6]:PORT", v);
			o.use_proxy = 1;
		} else if (!strcmp(a, "-c")) {
			o.conc = (long)parse_double(a, v, 1, SLOTS_MAX);
		} else if (!strcmp(a, "-t")) {
			o.secs = parse_double(a, v, 0.1, 60);
		} else if (!strcmp(a, "-n")) {
			o.max = (long)parse_double(a, v, 1, 10000000);
		} else if (!strcmp(a, "--timeout")) {
			o.timeout = parse_double(a, v, 0.01, 30);
		} else if (!strcmp(a, "--domain")) {
			o.domain = v;
		} else if (!strcmp(a, "--expect")) {
			expect = v;
		} else {
			die_usage("unknown option %s", a);
		}
	}
	if (!have_server || o.secs == 0 || o.max == 0 || o.domain == NULL || expect == NULL)
		die_usage("needs -s, -t, -n, --domain and --expect");
	if (!blastnet_addr_allowed(&o.server) || (o.use_proxy && !blastnet_addr_allowed(&o.proxy)))
		die_usage("addresses must be in 198.18.0.0/15 or 2001:2::/48");
	if (!name_valid(o.domain))
		die_usage("--domain: '%s' is not a host name of at most %d characters", o.domain, NAME_MAX_ - 24);
	if (cidr4_parse(expect, &o.expect) < 0)
		die_usage("--expect: '%s' is not an IPv4 CIDR", expect);
	if (o.use_proxy && o.server.ss.ss_family != o.proxy.ss.ss_family && !o.tcp)
		die_usage("--socks5 over UDP: server and proxy must be of one address family");

	uint64_t seed[SLOTS_MAX + 1];

	if (getrandom(seed, sizeof(seed), 0) != (ssize_t)sizeof(seed)) {
		perror("getrandom");
		return 1;
	}
	o.run = (uint32_t)seed[SLOTS_MAX];

	struct shared sh = {.o = &o};
	struct slot *ss = calloc((size_t)o.conc, sizeof(*ss));

	if (ss == NULL) {
		perror("calloc");
		return 1;
	}
	/* Sockets and associations are set up before the clock starts. */
	for (long i = 0; i < o.conc; i++) {
		struct slot *s = &ss[i];

		s->sh = &sh;
		s->idx = (int)i;
		s->rng = seed[i] | 1;
		s->fd = -1;
		s->assoc.ctl = s->assoc.udp = -1;
		if (o.tcp)
			continue;
		if (o.use_proxy) {
			if (blastnet_udp_assoc_open(&s->assoc, &o.proxy, &o.server, 10, err, sizeof(err)) < 0) {
				fprintf(stderr, "dnsblast: slot %ld: %s\n", i, err);
				return 1;
			}
			s->fd = s->assoc.udp;
		} else {
			s->fd = socket(o.server.ss.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
			if (s->fd < 0 || connect(s->fd, (struct sockaddr *)&o.server.ss, o.server.len) < 0) {
				fprintf(stderr, "dnsblast: slot %ld: socket/connect: %s\n", i, strerror(errno));
				return 1;
			}
		}
	}
	double t0 = blastnet_now();

	sh.deadline = t0 + o.secs;
	for (long i = 0; i < o.conc; i++)
		if (pthread_create(&ss[i].th, NULL, slot_main, &ss[i]) != 0) {
			fprintf(stderr, "dnsblast: pthread_create failed\n");
			return 1;
		}

	uint64_t sent = 0, answered = 0, timeouts = 0, failed = 0, bad = 0, late = 0, stray = 0;
	size_t nlat = 0;
	double t_end = t0;

	for (long i = 0; i < o.conc; i++) {
		struct slot *s = &ss[i];

		pthread_join(s->th, NULL);
		sent += s->sent;
		answered += s->answered;
		timeouts += s->timeouts;
		failed += s->failed;
		bad += s->bad;
		late += s->late;
		stray += s->stray;
		nlat += s->nlat;
		if (s->t_end > t_end)
			t_end = s->t_end;
		if (s->first_err[0])
			fprintf(stderr, "dnsblast: slot %d: %" PRIu64 " of %" PRIu64 " queries unanswered or wrong, first: %s\n",
				s->idx, s->sent - s->answered, s->sent, s->first_err);
		if (o.use_proxy && !o.tcp)
			blastnet_udp_assoc_close(&s->assoc);
		else if (s->fd >= 0)
			close(s->fd);
	}
	double secs = t_end - t0, p50 = 0, p99 = 0, pmax = 0;
	double *lat = malloc((nlat ? nlat : 1) * sizeof(*lat));

	if (lat == NULL) {
		perror("malloc");
		return 1;
	}
	nlat = 0;
	for (long i = 0; i < o.conc; i++) {
		memcpy(lat + nlat, ss[i].lat, ss[i].nlat * sizeof(*lat));
		nlat += ss[i].nlat;
		free(ss[i].lat);
	}
	if (nlat > 0) {
		qsort(lat, nlat, sizeof(*lat), cmp_double);
		p50 = lat[nlat / 2];
		p99 = lat[(size_t)((double)(nlat - 1) * 0.99)];
		pmax = lat[nlat - 1];
	}
	printf("proto=%s via=%s outstanding=%ld queries=%" PRIu64 " answered=%" PRIu64 " timeouts=%" PRIu64
	       " failed=%" PRIu64 " bad=%" PRIu64 " late=%" PRIu64 " stray=%" PRIu64
	       " secs=%.3f qps=%.0f lat_p50_ms=%.3f lat_p99_ms=%.3f lat_max_ms=%.3f\n",
	       o.tcp ? "tcp" : "udp", o.use_proxy ? "socks5" : "direct", o.conc, sent, answered, timeouts, failed,
	       bad, late, stray, secs, secs > 0 ? (double)answered / secs : 0.0, p50 * 1e3, p99 * 1e3, pmax * 1e3);
	free(lat);
	free(ss);
	return answered == sent ? 0 : 1;
}
