/* SPDX-License-Identifier: MIT */
/*
 * udpblast: one-way UDP throughput and loss at a fixed rate, for the tun2socks
 * benchmark (bench/run).
 *
 *   udpblast sink -u ADDR:PORT [-u ADDR:PORT ...] --ctl ADDR:PORT
 *   udpblast send -d ADDR:PORT --ctl ADDR:PORT [--socks5 ADDR:PORT] -r MBIT/S -s BYTES -t SECONDS
 *                 [--drain SECONDS]
 *
 * The sender paces datagrams of -s payload bytes at -r Mbit/s (payload bits) for -t
 * seconds, straight to -d or, with --socks5, through a SOCKS5 UDP ASSOCIATE of its own.
 * Each datagram carries a run id and a sequence number, and the rest of the payload is
 * a pattern derived from both, so the sink counts what arrived, duplicates, reordering
 * and corruption. The counts come back over a TCP control connection to the sink
 * (--ctl), which should take a path other than the one measured:
 *
 *   client -> sink   "begin RUNID SIZE MAXSEQ\n"       sink: "ok\n" (starts counting)
 *   client -> sink   "stats\n"                         sink: one counts line
 *   client -> sink   "end\n"                           sink: final counts line, closes
 *
 * After sending, the sender polls the counts until they stop moving (--drain bounds
 * the wait), so datagrams still queued in the path are counted.
 *
 * Result: one "key=value" line on stdout; errors on stderr. Exit status 0 when the run
 * had no error (loss is a result, not an error), 1 when it had some (corrupt or
 * duplicated datagrams, send errors, a lost control connection), 2 on usage errors.
 * Only addresses in 198.18.0.0/15 and 2001:2::/48 are accepted.
 */
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "blastnet.h"

#define MAGIC 0x55425354u /* "UBST" */
#define HDR_LEN 16u	  /* magic, run id (4 + 4), sequence number (8) */
#define SIZE_MIN HDR_LEN
#define SIZE_MAX_ 65000u
#define BATCH 64
#define MAX_SINK_ADDRS 8
#define MAXSEQ_MAX (64u * 1024 * 1024) /* bitmap of 8 MiB */

static void
die_usage(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "udpblast: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nusage:\n"
			"  udpblast sink -u ADDR:PORT [-u ADDR:PORT ...] --ctl ADDR:PORT\n"
			"  udpblast send -d ADDR:PORT --ctl ADDR:PORT [--socks5 ADDR:PORT] -r MBIT/S -s BYTES\n"
			"                -t SECONDS [--drain SECONDS]\n"
			"addresses: numeric, in 198.18.0.0/15 or 2001:2::/48\n");
	exit(2);
}

static void
parse_allowed(const char *opt, const char *s, struct blastnet_addr *a)
{
	if (blastnet_addr_parse_hostport(s, -1, a) < 0)
		die_usage("%s: '%s' is not ADDR:PORT or [ADDR6]:PORT", opt, s);
	if (!blastnet_addr_allowed(a))
		die_usage("%s: %s is outside 198.18.0.0/15 and 2001:2::/48", opt, s);
}

static double
parse_double(const char *opt, const char *s, double lo, double hi)
{
	double v;

	if (blastnet_parse_double(s, lo, hi, &v) < 0)
		die_usage("%s: '%s' is not a number in %g..%g", opt, s, lo, hi);
	return v;
}

/* The payload after the header: 8-byte words derived from run id, sequence and position. */
static void
fill_payload(unsigned char *p, size_t n, uint32_t run, uint64_t seq)
{
	uint64_t x = (seq + 1) * 0x9e3779b97f4a7c15ull ^ run;

	for (size_t i = 0; i < n; i += 8) {
		size_t k = n - i < 8 ? n - i : 8;

		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		memcpy(p + i, &x, k);
	}
}

static void
put_u32(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)(v >> 24);
	p[1] = (unsigned char)(v >> 16);
	p[2] = (unsigned char)(v >> 8);
	p[3] = (unsigned char)v;
}

static uint32_t
get_u32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* ------------------------------------------------------------------ sink */

struct run {
	int active;
	uint32_t id;
	uint32_t size;
	uint64_t maxseq;
	uint8_t *seen; /* bitmap, maxseq bits */
	uint64_t rx, bytes, dup, reordered, bad, out_of_range, stray;
	uint64_t next;	 /* highest sequence seen + 1 */
	double t_first, t_last;
	unsigned char *expect; /* scratch for the payload check */
};

struct sink {
	int ep;
	int lfd;
	int cfd; /* the one control connection, or -1 */
	char line[128];
	size_t line_len;
	struct run run;
	uint64_t stray_idle; /* datagrams while no run is active */
};

/* Tags for epoll: UDP sockets carry their fd, these two are distinct negative ids. */
#define TAG_LISTEN ((uint64_t)-1)
#define TAG_CTL ((uint64_t)-2)

static void
run_reset(struct run *r)
{
	free(r->seen);
	free(r->expect);
	memset(r, 0, sizeof(*r));
}

static void
sink_datagram(struct sink *s, const unsigned char *b, size_t n, double now)
{
	struct run *r = &s->run;

	if (!r->active) {
		s->stray_idle++;
		return;
	}
	if (n < HDR_LEN || get_u32(b) != MAGIC || get_u32(b + 4) != r->id) {
		r->stray++; /* another run's late datagram, or not ours at all */
		return;
	}
	uint64_t seq = (uint64_t)get_u32(b + 8) << 32 | get_u32(b + 12);

	if (seq >= r->maxseq) {
		r->out_of_range++;
		return;
	}
	if (r->seen[seq / 8] & (1u << (seq % 8))) {
		r->dup++;
		return;
	}
	r->seen[seq / 8] |= (uint8_t)(1u << (seq % 8));
	if (n != r->size) {
		r->bad++;
		return;
	}
	fill_payload(r->expect, n - HDR_LEN, r->id, seq);
	if (memcmp(r->expect, b + HDR_LEN, n - HDR_LEN) != 0) {
		r->bad++;
		return;
	}
	if (r->rx == 0)
		r->t_first = now;
	r->t_last = now;
	r->rx++;
	r->bytes += n;
	if (seq < r->next)
		r->reordered++;
	else
		r->next = seq + 1;
}

static int
sink_reply(struct sink *s, const char *fmt, ...)
{
	char buf[512];
	va_list ap;
	int l;

	va_start(ap, fmt);
	l = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	return blastnet_write_all(s->cfd, buf, (size_t)l);
}

static int
sink_counts(struct sink *s)
{
	const struct run *r = &s->run;

	return sink_reply(s,
			  "rx=%" PRIu64 " bytes=%" PRIu64 " dup=%" PRIu64 " reordered=%" PRIu64 " bad=%" PRIu64
			  " out_of_range=%" PRIu64 " stray=%" PRIu64 " rx_span=%.6f\n",
			  r->rx, r->bytes, r->dup, r->reordered, r->bad, r->out_of_range, r->stray,
			  r->rx > 1 ? r->t_last - r->t_first : 0.0);
}

static void
sink_ctl_close(struct sink *s)
{
	epoll_ctl(s->ep, EPOLL_CTL_DEL, s->cfd, NULL);
	close(s->cfd);
	s->cfd = -1;
	s->line_len = 0;
	run_reset(&s->run);
}

/* One command line; returns -1 when the control connection is to be closed. */
static int
sink_command(struct sink *s, const char *line)
{
	unsigned long long id, size, maxseq;
	struct run *r = &s->run;

	if (sscanf(line, "begin %llu %llu %llu", &id, &size, &maxseq) == 3) {
		if (r->active || id > UINT32_MAX || size < SIZE_MIN || size > SIZE_MAX_ || maxseq < 1 ||
		    maxseq > MAXSEQ_MAX) {
			sink_reply(s, "error bad begin\n");
			return -1;
		}
		r->seen = calloc((size_t)(maxseq + 7) / 8, 1);
		r->expect = malloc((size_t)size);
		if (r->seen == NULL || r->expect == NULL) {
			sink_reply(s, "error out of memory\n");
			return -1;
		}
		r->active = 1;
		r->id = (uint32_t)id;
		r->size = (uint32_t)size;
		r->maxseq = maxseq;
		return sink_reply(s, "ok\n");
	}
	if (strcmp(line, "stats") == 0 && r->active)
		return sink_counts(s);
	if (strcmp(line, "end") == 0 && r->active) {
		sink_counts(s);
		return -1;
	}
	sink_reply(s, "error unknown command\n");
	return -1;
}

static void
sink_ctl_readable(struct sink *s)
{
	ssize_t n = read(s->cfd, s->line + s->line_len, sizeof(s->line) - 1 - s->line_len);

	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		sink_ctl_close(s);
		return;
	}
	s->line_len += (size_t)n;
	for (;;) {
		char *nl = memchr(s->line, '\n', s->line_len);

		if (nl == NULL)
			break;
		*nl = '\0';
		if (sink_command(s, s->line) < 0) {
			sink_ctl_close(s);
			return;
		}
		s->line_len -= (size_t)(nl + 1 - s->line);
		memmove(s->line, nl + 1, s->line_len);
	}
	if (s->line_len == sizeof(s->line) - 1)
		sink_ctl_close(s); /* no newline in a full buffer: garbage */
}

static void
sink_accept(struct sink *s)
{
	int fd = accept4(s->lfd, NULL, NULL, SOCK_CLOEXEC);

	if (fd < 0)
		return;
	if (s->cfd >= 0) {
		/* One run at a time: a second client is told so and closed. */
		blastnet_write_all(fd, "error busy\n", 11);
		close(fd);
		return;
	}
	struct epoll_event e = {.events = EPOLLIN, .data.u64 = TAG_CTL};

	s->cfd = fd;
	blastnet_set_timeouts(fd, 5);
	epoll_ctl(s->ep, EPOLL_CTL_ADD, fd, &e);
}

static void
sink_udp_readable(struct sink *s, int fd, unsigned char (*bufs)[SIZE_MAX_ + 1])
{
	struct mmsghdr msgs[BATCH];
	struct iovec iov[BATCH];

	/* Bounded batches per wakeup, so the control connection is served under load. */
	for (int round = 0; round < 16; round++) {
		for (int i = 0; i < BATCH; i++) {
			iov[i].iov_base = bufs[i];
			iov[i].iov_len = SIZE_MAX_ + 1;
			memset(&msgs[i], 0, sizeof(msgs[i]));
			msgs[i].msg_hdr.msg_iov = &iov[i];
			msgs[i].msg_hdr.msg_iovlen = 1;
		}
		int n = recvmmsg(fd, msgs, BATCH, MSG_DONTWAIT, NULL);

		if (n <= 0)
			return;
		double now = blastnet_now();

		for (int i = 0; i < n; i++)
			sink_datagram(s, bufs[i], msgs[i].msg_len, now);
		if (n < BATCH)
			return;
	}
}

static int
run_sink(int argc, char **argv)
{
	struct blastnet_addr udp[MAX_SINK_ADDRS], ctl;
	int nudp = 0, have_ctl = 0;
	char buf[64];

	for (int i = 2; i < argc; i++) {
		if (i + 1 >= argc)
			die_usage("%s needs a value", argv[i]);
		if (!strcmp(argv[i], "-u")) {
			if (nudp == MAX_SINK_ADDRS)
				die_usage("at most %d -u addresses", MAX_SINK_ADDRS);
			parse_allowed("-u", argv[++i], &udp[nudp++]);
		} else if (!strcmp(argv[i], "--ctl")) {
			parse_allowed("--ctl", argv[++i], &ctl);
			have_ctl = 1;
		} else {
			die_usage("sink: unknown option %s", argv[i]);
		}
	}
	if (nudp == 0 || !have_ctl)
		die_usage("sink: needs -u ADDR:PORT and --ctl ADDR:PORT");

	struct sink s = {.cfd = -1};
	unsigned char (*bufs)[SIZE_MAX_ + 1] = malloc(BATCH * sizeof(*bufs));
	int one = 1;

	s.ep = epoll_create1(EPOLL_CLOEXEC);
	if (bufs == NULL || s.ep < 0) {
		perror("udpblast sink");
		return 1;
	}
	for (int i = 0; i < nudp; i++) {
		int fd = socket(udp[i].ss.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		int rcvbuf = 32 << 20;

		if (fd < 0 || bind(fd, (struct sockaddr *)&udp[i].ss, udp[i].len) < 0) {
			fprintf(stderr, "udpblast sink: bind %s: %s\n", blastnet_addr_str(&udp[i], buf, sizeof(buf)),
				strerror(errno));
			return 1;
		}
		/* A large receive buffer (beyond rmem_max when root), so the sink is not what drops
		 * even when a busy machine keeps it off the CPU for a while (~0.2 s at 1 Gbit/s). */
		if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof(rcvbuf)) < 0)
			setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
		struct epoll_event e = {.events = EPOLLIN, .data.u64 = (uint64_t)fd};

		epoll_ctl(s.ep, EPOLL_CTL_ADD, fd, &e);
	}
	s.lfd = socket(ctl.ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	setsockopt(s.lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (s.lfd < 0 || bind(s.lfd, (struct sockaddr *)&ctl.ss, ctl.len) < 0 || listen(s.lfd, 16) < 0) {
		fprintf(stderr, "udpblast sink: control %s: %s\n", blastnet_addr_str(&ctl, buf, sizeof(buf)),
			strerror(errno));
		return 1;
	}
	struct epoll_event e = {.events = EPOLLIN, .data.u64 = TAG_LISTEN};

	epoll_ctl(s.ep, EPOLL_CTL_ADD, s.lfd, &e);
	fprintf(stderr, "udpblast sink: %d UDP address(es), control on %s\n", nudp,
		blastnet_addr_str(&ctl, buf, sizeof(buf)));
	for (;;) {
		struct epoll_event evs[16];
		int n = epoll_wait(s.ep, evs, 16, -1);

		if (n < 0 && errno != EINTR) {
			perror("udpblast sink: epoll_wait");
			return 1;
		}
		for (int i = 0; i < n; i++) {
			uint64_t tag = evs[i].data.u64;

			if (tag == TAG_LISTEN)
				sink_accept(&s);
			else if (tag == TAG_CTL) {
				if (s.cfd >= 0)
					sink_ctl_readable(&s);
			} else
				sink_udp_readable(&s, (int)tag, bufs);
		}
	}
}

/* ------------------------------------------------------------------ sender */

struct counts {
	unsigned long long rx, bytes, dup, reordered, bad, out_of_range, stray;
	double rx_span;
};

/* Sends cmd on the control connection and reads one line into line. 0 or -1. */
static int
ctl_ask(int fd, const char *cmd, char *line, size_t len)
{
	size_t l = 0;

	if (blastnet_write_all(fd, cmd, strlen(cmd)) < 0)
		return -1;
	while (l < len - 1) {
		ssize_t n = read(fd, line + l, 1); /* one byte at a time: lines are short and rare */

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		if (line[l] == '\n') {
			line[l] = '\0';
			return 0;
		}
		l++;
	}
	return -1;
}

static int
ctl_counts(int fd, const char *cmd, struct counts *c)
{
	char line[512];

	if (ctl_ask(fd, cmd, line, sizeof(line)) < 0)
		return -1;
	if (sscanf(line, "rx=%llu bytes=%llu dup=%llu reordered=%llu bad=%llu out_of_range=%llu stray=%llu rx_span=%lf",
		   &c->rx, &c->bytes, &c->dup, &c->reordered, &c->bad, &c->out_of_range, &c->stray, &c->rx_span) != 8) {
		fprintf(stderr, "udpblast send: sink answered '%.200s'\n", line);
		return -1;
	}
	return 0;
}

static void
sleep_until(double t)
{
	struct timespec ts = {.tv_sec = (time_t)t, .tv_nsec = (long)((t - (double)(time_t)t) * 1e9)};

	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
		;
}

static int
run_send(int argc, char **argv)
{
	struct blastnet_addr dst, ctl, proxy;
	int have_dst = 0, have_ctl = 0, use_proxy = 0;
	double rate = 0, secs = 0, drain = 2;
	long size = 0;
	char err[200], line[128];

	for (int i = 2; i < argc; i++) {
		const char *a = argv[i];

		if (i + 1 >= argc)
			die_usage("%s needs a value", a);
		const char *v = argv[++i];

		if (!strcmp(a, "-d")) {
			parse_allowed(a, v, &dst);
			have_dst = 1;
		} else if (!strcmp(a, "--ctl")) {
			parse_allowed(a, v, &ctl);
			have_ctl = 1;
		} else if (!strcmp(a, "--socks5")) {
			parse_allowed(a, v, &proxy);
			use_proxy = 1;
		} else if (!strcmp(a, "-r")) {
			rate = parse_double(a, v, 0.001, 40000);
		} else if (!strcmp(a, "-s")) {
			size = (long)parse_double(a, v, SIZE_MIN, SIZE_MAX_);
		} else if (!strcmp(a, "-t")) {
			secs = parse_double(a, v, 0.1, 60);
		} else if (!strcmp(a, "--drain")) {
			drain = parse_double(a, v, 0.1, 30);
		} else {
			die_usage("send: unknown option %s", a);
		}
	}
	if (!have_dst || !have_ctl || rate == 0 || size == 0 || secs == 0)
		die_usage("send: needs -d, --ctl, -r, -s and -t");

	double interval = (double)size * 8 / (rate * 1e6);
	double want = secs / interval;

	if (want > MAXSEQ_MAX)
		die_usage("send: %.0f datagrams would be sent; at most %u per run (lower -r or -t)", want, MAXSEQ_MAX);
	uint64_t maxseq = (uint64_t)want + 1;
	uint32_t run;

	if (getrandom(&run, sizeof(run), 0) != sizeof(run)) {
		perror("getrandom");
		return 1;
	}

	/* Control connection first: the sink must be counting before the first datagram. */
	int cfd = blastnet_tcp_open(NULL, &ctl, 10, err, sizeof(err));

	if (cfd < 0) {
		fprintf(stderr, "udpblast send: control connection: %s\n", err);
		return 1;
	}
	char cmd[96];

	snprintf(cmd, sizeof(cmd), "begin %u %ld %" PRIu64 "\n", run, size, maxseq);
	if (ctl_ask(cfd, cmd, line, sizeof(line)) < 0 || strcmp(line, "ok") != 0) {
		fprintf(stderr, "udpblast send: sink did not start the run: %s\n", line);
		return 1;
	}

	struct blastnet_udp_assoc assoc = {.ctl = -1, .udp = -1};
	int fd;
	size_t hl = 0;

	if (use_proxy) {
		if (blastnet_udp_assoc_open(&assoc, &proxy, &dst, 10, err, sizeof(err)) < 0) {
			fprintf(stderr, "udpblast send: %s\n", err);
			return 1;
		}
		fd = assoc.udp;
		hl = assoc.hdr_len;
	} else {
		fd = socket(dst.ss.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
		if (fd < 0 || connect(fd, (struct sockaddr *)&dst.ss, dst.len) < 0) {
			perror("udpblast send: socket/connect");
			return 1;
		}
		blastnet_set_timeouts(fd, 10);
	}

	/* Datagrams in a batch: [SOCKS header] + header + pattern, rebuilt for each sequence number. */
	unsigned char(*dg)[HDR_LEN + 22 + SIZE_MAX_] = malloc(BATCH * sizeof(*dg));
	struct mmsghdr msgs[BATCH];
	struct iovec iov[BATCH];

	if (dg == NULL) {
		perror("malloc");
		return 1;
	}
	/* Fine-grained sleeps: the default 50 us timer slack would make the pacing burstier. */
	prctl(PR_SET_TIMERSLACK, 1000UL, 0, 0, 0);

	uint64_t sent = 0, send_errors = 0;
	int first_errno = 0;
	double t0 = blastnet_now(), deadline = t0 + secs, now = t0;

	while ((now = blastnet_now()) < deadline && sent < maxseq) {
		uint64_t due = (uint64_t)((now - t0) / interval) + 1;

		if (due > maxseq)
			due = maxseq;
		if (due <= sent) {
			sleep_until(t0 + (double)sent * interval);
			continue;
		}
		int nb = due - sent < BATCH ? (int)(due - sent) : BATCH;

		for (int i = 0; i < nb; i++) {
			uint64_t seq = sent + (uint64_t)i;
			unsigned char *p = dg[i];

			if (hl)
				memcpy(p, assoc.hdr, hl);
			put_u32(p + hl, MAGIC);
			put_u32(p + hl + 4, run);
			put_u32(p + hl + 8, (uint32_t)(seq >> 32));
			put_u32(p + hl + 12, (uint32_t)seq);
			fill_payload(p + hl + HDR_LEN, (size_t)size - HDR_LEN, run, seq);
			iov[i].iov_base = p;
			iov[i].iov_len = hl + (size_t)size;
			memset(&msgs[i], 0, sizeof(msgs[i]));
			msgs[i].msg_hdr.msg_iov = &iov[i];
			msgs[i].msg_hdr.msg_iovlen = 1;
		}
		int n = sendmmsg(fd, msgs, (unsigned)nb, 0);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			/* An ICMP error on the connected socket or a full queue: this datagram is lost,
			 * counted as sent (the loss belongs to the path), and the run goes on. */
			if (send_errors++ == 0)
				first_errno = errno;
			n = 1;
		}
		sent += (uint64_t)n;
	}
	double t_send = blastnet_now() - t0;

	/* Drain: wait until the counts stop moving (or all arrived), at most --drain s. */
	struct counts c = {0};
	unsigned long long last_rx = (unsigned long long)-1;
	double t_drain_end = blastnet_now() + drain, t_moved = blastnet_now();
	int ctl_ok = 1;

	for (;;) {
		if (ctl_counts(cfd, "stats\n", &c) < 0) {
			ctl_ok = 0;
			break;
		}
		now = blastnet_now();
		if (c.rx != last_rx) {
			last_rx = c.rx;
			t_moved = now;
		}
		if (c.rx + c.bad >= sent || now - t_moved >= 0.3 || now >= t_drain_end)
			break;
		sleep_until(now + 0.05);
	}
	if (ctl_ok && ctl_counts(cfd, "end\n", &c) < 0)
		ctl_ok = 0;
	close(cfd);
	if (use_proxy)
		blastnet_udp_assoc_close(&assoc);
	else
		close(fd);

	int errors = 0;

	if (!ctl_ok) {
		fprintf(stderr, "udpblast send: lost the control connection to the sink\n");
		errors++;
	}
	if (send_errors) {
		fprintf(stderr, "udpblast send: %" PRIu64 " send errors, first: %s\n", send_errors,
			strerror(first_errno));
		errors++;
	}
	if (c.bad || c.dup || c.out_of_range) {
		fprintf(stderr, "udpblast send: sink saw %llu corrupt/short, %llu duplicated, %llu unknown datagrams\n",
			c.bad, c.dup, c.out_of_range);
		errors++;
	}
	double loss = sent ? (double)(sent - (c.rx < sent ? c.rx : sent)) * 100 / (double)sent : 0;

	printf("rate_mbps=%.1f size=%ld secs=%.3f sent=%" PRIu64 " sent_mbps=%.1f rx=%llu delivered_mbps=%.1f "
	       "loss_pct=%.3f reordered=%llu dup=%llu bad=%llu stray=%llu rx_span=%.3f send_errors=%" PRIu64
	       " via=%s\n",
	       rate, size, t_send, sent, (double)sent * (double)size * 8 / t_send / 1e6, c.rx,
	       (double)c.rx * (double)size * 8 / t_send / 1e6, loss, c.reordered, c.dup, c.bad, c.stray, c.rx_span,
	       send_errors, use_proxy ? "socks5" : "direct");
	free(dg);
	return errors ? 1 : 0;
}

int
main(int argc, char **argv)
{
	if (argc < 2)
		die_usage("missing mode");
	signal(SIGPIPE, SIG_IGN);
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (!strcmp(argv[1], "sink"))
		return run_sink(argc, argv);
	if (!strcmp(argv[1], "send"))
		return run_send(argc, argv);
	die_usage("unknown mode %s", argv[1]);
	return 2;
}
