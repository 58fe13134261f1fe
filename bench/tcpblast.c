/* SPDX-License-Identifier: MIT */
/*
 * tcpblast: a small TCP load tool for the tun2socks benchmark (bench/run).
 *
 *   tcpblast server -l ADDR -p PORT [-w WORKERS] [--no-verify] [--sndbuf BYTES]
 *   tcpblast client -c ADDR -p PORT [--socks5 HOST:PORT] -d send|recv -t SECONDS -P STREAMS
 *                   [--stall SECONDS] [--no-verify]
 *   tcpblast rate   -c ADDR -p PORT [--socks5 HOST:PORT] -t SECONDS [--max N] [--conc CLIENTS]
 *                   [--timeout SECONDS]
 *   tcpblast hold   -c ADDR -p PORT [--socks5 HOST:PORT] -n N [--conc THREADS] [--timeout SECONDS]
 *
 * Wire protocol: the client sends one header line, then
 *   "send N\n"  client sends N bytes (0: until it half-closes); the server sinks them and,
 *               on EOF, answers "ok BYTES\n" or "bad BYTES FIRST_BAD_OFFSET\n"
 *   "recv N\n"  the server sends N bytes (0: until the client closes)
 *   "hold\n"    the server answers "H" and keeps the connection until the client closes
 *   "ping\n"    the server answers "!" and closes
 *   "GET ..."   (an HTTP request line) the server answers a minimal HTTP/1.0 response whose
 *               body is "!", half-closes, and closes on the client's EOF (curl's time to
 *               first byte, bench/run's setup row)
 * Stream data is a fixed pseudo-random pattern with a prime period, byte i being
 * pattern[i % PERIOD], so either end can check every byte (memcmp against the pattern,
 * cheap next to the copy out of the socket) and a lost, duplicated or reordered chunk
 * shows up as a mismatch.
 *
 * Results go to stdout as one "key=value" line; errors go to stderr. Exit status is 0
 * when the run had no error, 1 when it had some (the result line is printed anyway), 2
 * on usage errors.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "blastnet.h"

#define CHUNK (256u * 1024u)
#define PAT_PERIOD 999983u /* prime */
#define HDR_MAX 64

static unsigned char *pat; /* PAT_PERIOD + CHUNK bytes: any CHUNK-long window is contiguous */

static void
pat_init(void)
{
	uint64_t x = 0x9e3779b97f4a7c15ull;

	pat = malloc((size_t)PAT_PERIOD + CHUNK);
	if (pat == NULL) {
		perror("malloc");
		exit(2);
	}
	for (size_t i = 0; i < PAT_PERIOD; i += 8) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		for (size_t k = 0; k < 8 && i + k < PAT_PERIOD; k++)
			pat[i + k] = (unsigned char)(x >> (8 * k));
	}
	memcpy(pat + PAT_PERIOD, pat, CHUNK);
}

static inline const unsigned char *
pat_at(uint64_t off)
{
	return pat + off % PAT_PERIOD;
}

/* Offset of the first byte of buf[0..n) that differs from the stream at off, or -1. */
static int64_t
pat_check(const unsigned char *buf, size_t n, uint64_t off)
{
	const unsigned char *p = pat_at(off);

	if (memcmp(buf, p, n) == 0)
		return -1;
	for (size_t i = 0; i < n; i++)
		if (buf[i] != p[i])
			return (int64_t)(off + i);
	return -1;
}

static void
die_usage(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "tcpblast: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nusage:\n"
			"  tcpblast server -l ADDR -p PORT [-w WORKERS] [--no-verify] [--sndbuf BYTES]\n"
			"  tcpblast client -c ADDR -p PORT [--socks5 HOST:PORT] -d send|recv -t SECONDS -P STREAMS\n"
			"                  [--stall SECONDS] [--no-verify]\n"
			"  tcpblast rate   -c ADDR -p PORT [--socks5 HOST:PORT] -t SECONDS [--max N] [--conc CLIENTS]\n"
			"                  [--timeout SECONDS]\n"
			"  tcpblast hold   -c ADDR -p PORT [--socks5 HOST:PORT] -n N [--conc THREADS] [--timeout SECONDS]\n");
	exit(2);
}

static void
raise_nofile(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

/* ------------------------------------------------------------------ connections */

struct target {
	struct blastnet_addr dst;
	struct blastnet_addr proxy;
	int use_proxy;
	double timeout; /* connect + handshake, and every later blocking call */
};

/* Connects to the target, through the SOCKS5 proxy if one is set: see blastnet_tcp_open. */
static int
open_conn(const struct target *t, char *err, size_t errlen)
{
	return blastnet_tcp_open(t->use_proxy ? &t->proxy : NULL, &t->dst, t->timeout, err, errlen);
}

/* ------------------------------------------------------------------ server */

enum cstate { C_HDR, C_SINK, C_SOURCE, C_HOLD };

struct conn {
	int fd;
	enum cstate st;
	uint32_t events;
	uint64_t want; /* bytes to source/sink, 0 = unlimited */
	uint64_t done;
	int64_t bad_off; /* first mismatching stream offset, or -1 */
};

struct worker {
	int lfd;
	int ep;
	int verify;
	unsigned char *buf;
	pthread_t th;
};

static void
conn_close(struct worker *w, struct conn *c)
{
	epoll_ctl(w->ep, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	free(c);
}

static void
conn_events(struct worker *w, struct conn *c, uint32_t ev)
{
	if (c->events == ev)
		return;
	struct epoll_event e = {.events = ev, .data.ptr = c};

	c->events = ev;
	epoll_ctl(w->ep, EPOLL_CTL_MOD, c->fd, &e);
}

/* Header line: returns 1 when handled (conn may be freed), 0 when more bytes are needed. */
static int
srv_header(struct worker *w, struct conn *c)
{
	char h[HDR_MAX + 1];
	ssize_t n = recv(c->fd, h, HDR_MAX, MSG_PEEK);
	char *nl;
	unsigned long long v = 0;

	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return 0;
	if (n <= 0) {
		conn_close(w, c);
		return 1;
	}
	h[n] = '\0';
	nl = memchr(h, '\n', (size_t)n);
	if (nl == NULL) {
		if (n == HDR_MAX)
			conn_close(w, c); /* garbage */
		return n == HDR_MAX;
	}
	if (read(c->fd, h, (size_t)(nl - h + 1)) != nl - h + 1) {
		conn_close(w, c);
		return 1;
	}
	*nl = '\0';
	if (sscanf(h, "send %llu", &v) == 1) {
		c->st = C_SINK;
		c->want = v;
	} else if (sscanf(h, "recv %llu", &v) == 1) {
		c->st = C_SOURCE;
		c->want = v;
		conn_events(w, c, EPOLLIN | EPOLLOUT | EPOLLRDHUP);
	} else if (strcmp(h, "hold") == 0) {
		if (send(c->fd, "H", 1, MSG_NOSIGNAL) != 1) {
			conn_close(w, c);
			return 1;
		}
		c->st = C_HOLD;
	} else if (strcmp(h, "ping") == 0) {
		send(c->fd, "!", 1, MSG_NOSIGNAL);
		conn_close(w, c);
	} else if (strncmp(h, "GET ", 4) == 0) {
		static const char resp[] = "HTTP/1.0 200 OK\r\nContent-Length: 1\r\nConnection: close\r\n\r\n!";

		/* The rest of the request stays unread: C_HOLD drains it and closes on EOF, so the
		 * close is a FIN and not a reset over unread data. */
		if (send(c->fd, resp, sizeof(resp) - 1, MSG_NOSIGNAL) != (ssize_t)(sizeof(resp) - 1)) {
			conn_close(w, c);
			return 1;
		}
		shutdown(c->fd, SHUT_WR);
		c->st = C_HOLD;
	} else {
		fprintf(stderr, "tcpblast server: bad header '%.40s'\n", h);
		conn_close(w, c);
	}
	return 1;
}

static void
srv_sink(struct worker *w, struct conn *c)
{
	for (int i = 0; i < 4; i++) {
		ssize_t n = read(c->fd, w->buf, CHUNK);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN)
				conn_close(w, c);
			return;
		}
		if (n == 0) {
			char line[96];
			int l;

			if (c->want != 0 && c->done != c->want && c->bad_off < 0)
				c->bad_off = (int64_t)c->done;
			if (c->bad_off < 0)
				l = snprintf(line, sizeof(line), "ok %" PRIu64 "\n", c->done);
			else
				l = snprintf(line, sizeof(line), "bad %" PRIu64 " %" PRId64 "\n", c->done, c->bad_off);
			send(c->fd, line, (size_t)l, MSG_NOSIGNAL);
			conn_close(w, c);
			return;
		}
		if (w->verify && c->bad_off < 0) {
			c->bad_off = pat_check(w->buf, (size_t)n, c->done);
			if (c->bad_off >= 0)
				fprintf(stderr, "tcpblast server: data mismatch at stream offset %" PRId64 "\n", c->bad_off);
		}
		c->done += (uint64_t)n;
		if ((size_t)n < CHUNK)
			return;
	}
}

static void
srv_source(struct worker *w, struct conn *c, uint32_t ev)
{
	if (ev & (EPOLLIN | EPOLLRDHUP | EPOLLERR | EPOLLHUP)) {
		/* The client never sends after the header: EOF, reset or junk ends the stream. */
		ssize_t n = read(c->fd, w->buf, 4096);

		if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
			conn_close(w, c);
			return;
		}
	}
	if (!(ev & EPOLLOUT))
		return;
	for (int i = 0; i < 4; i++) {
		size_t len = CHUNK;

		if (c->want != 0 && c->want - c->done < len)
			len = (size_t)(c->want - c->done);
		ssize_t n = send(c->fd, pat_at(c->done), len, MSG_NOSIGNAL | MSG_DONTWAIT);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN)
				conn_close(w, c);
			return;
		}
		c->done += (uint64_t)n;
		if (c->want != 0 && c->done == c->want) {
			shutdown(c->fd, SHUT_WR);
			c->st = C_HOLD;
			conn_events(w, c, EPOLLIN | EPOLLRDHUP);
			return;
		}
		if ((size_t)n < len)
			return;
	}
}

static void
srv_hold(struct worker *w, struct conn *c)
{
	ssize_t n = read(c->fd, w->buf, 4096);

	if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR))
		conn_close(w, c);
}

static void *
srv_worker(void *arg)
{
	struct worker *w = arg;
	struct epoll_event evs[256];

	for (;;) {
		int n = epoll_wait(w->ep, evs, 256, -1);

		for (int i = 0; i < n; i++) {
			struct conn *c = evs[i].data.ptr;
			uint32_t ev = evs[i].events;

			if (c == NULL) {
				for (int k = 0; k < 64; k++) {
					int fd = accept4(w->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

					if (fd < 0) {
						if (errno == EMFILE || errno == ENFILE)
							fprintf(stderr, "tcpblast server: accept: %s\n", strerror(errno));
						break;
					}
					c = calloc(1, sizeof(*c));
					if (c == NULL) {
						close(fd);
						break;
					}
					c->fd = fd;
					c->st = C_HDR;
					c->bad_off = -1;
					c->events = EPOLLIN | EPOLLRDHUP;
					struct epoll_event e = {.events = c->events, .data.ptr = c};

					if (epoll_ctl(w->ep, EPOLL_CTL_ADD, fd, &e) < 0) {
						close(fd);
						free(c);
					}
				}
				continue;
			}
			if (c->st == C_HDR) {
				if (!srv_header(w, c) && (ev & (EPOLLRDHUP | EPOLLHUP | EPOLLERR)))
					conn_close(w, c);
				continue;
			}
			switch (c->st) {
			case C_SINK:
				srv_sink(w, c);
				break;
			case C_SOURCE:
				srv_source(w, c, ev);
				break;
			case C_HOLD:
				srv_hold(w, c);
				break;
			case C_HDR:
				break;
			}
		}
		if (n < 0 && errno != EINTR) {
			perror("epoll_wait");
			exit(1);
		}
	}
	return NULL;
}

static int
run_server(int argc, char **argv)
{
	const char *host = NULL;
	long port = 0, nw = 2, sndbuf = 0;
	int verify = 1;
	struct blastnet_addr a;

	for (int i = 2; i < argc; i++) {
		if (!strcmp(argv[i], "-l") && i + 1 < argc)
			host = argv[++i];
		else if (!strcmp(argv[i], "-p") && i + 1 < argc)
			port = strtol(argv[++i], NULL, 10);
		else if (!strcmp(argv[i], "-w") && i + 1 < argc)
			nw = strtol(argv[++i], NULL, 10);
		else if (!strcmp(argv[i], "--no-verify"))
			verify = 0;
		else if (!strcmp(argv[i], "--sndbuf") && i + 1 < argc)
			sndbuf = strtol(argv[++i], NULL, 10);
		else
			die_usage("server: unknown option %s", argv[i]);
	}
	if (host == NULL || blastnet_addr_parse(host, port, false, &a) < 0)
		die_usage("server: need -l ADDR -p PORT (numeric address)");
	if (nw < 1 || nw > 64)
		die_usage("server: -w 1..64");
	if (sndbuf < 0 || sndbuf > (1L << 30))
		die_usage("server: --sndbuf 1..%ld bytes", 1L << 30);

	struct worker *ws = calloc((size_t)nw, sizeof(*ws));

	for (long i = 0; i < nw; i++) {
		struct worker *w = &ws[i];
		int one = 1;

		w->verify = verify;
		w->buf = malloc(CHUNK);
		w->lfd = socket(a.ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (w->lfd < 0 || w->buf == NULL) {
			perror("tcpblast server: socket");
			return 1;
		}
		setsockopt(w->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		/* Accepted sockets inherit it: a fixed send buffer (SO_SNDBUF stops autotuning). */
		if (sndbuf > 0) {
			int v = (int)sndbuf;

			if (setsockopt(w->lfd, SOL_SOCKET, SO_SNDBUF, &v, sizeof(v)) != 0) {
				perror("tcpblast server: SO_SNDBUF");
				return 1;
			}
		}
		setsockopt(w->lfd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one));
		if (bind(w->lfd, (struct sockaddr *)&a.ss, a.len) < 0 || listen(w->lfd, 4096) < 0) {
			fprintf(stderr, "tcpblast server: bind/listen %s:%ld: %s\n", host, port, strerror(errno));
			return 1;
		}
		w->ep = epoll_create1(EPOLL_CLOEXEC);
		struct epoll_event e = {.events = EPOLLIN, .data.ptr = NULL};

		epoll_ctl(w->ep, EPOLL_CTL_ADD, w->lfd, &e);
	}
	for (long i = 0; i < nw; i++) {
		if (pthread_create(&ws[i].th, NULL, srv_worker, &ws[i]) != 0) {
			fprintf(stderr, "tcpblast server: pthread_create failed\n");
			return 1;
		}
	}
	fprintf(stderr, "tcpblast server: listening on %s:%ld (%ld workers, verify %s)\n", host, port, nw,
		verify ? "on" : "off");
	for (long i = 0; i < nw; i++)
		pthread_join(ws[i].th, NULL);
	return 0;
}

/* ------------------------------------------------------------------ common client options */

struct copts {
	struct target t;
	const char *dir;
	double secs;
	long streams;
	double stall;
	int verify;
	long max;
	long n;
	long conc;
};

static void
parse_client_opts(int argc, char **argv, struct copts *o)
{
	const char *host = NULL, *proxy = NULL;
	long port = 0;

	memset(o, 0, sizeof(*o));
	o->secs = 5;
	o->streams = 1;
	o->stall = 10;
	o->verify = 1;
	o->max = 1000000;
	o->n = 0;
	o->conc = 64;
	o->t.timeout = 10;
	for (int i = 2; i < argc; i++) {
		const char *a = argv[i];
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (!strcmp(a, "--no-verify")) {
			o->verify = 0;
			continue;
		}
		if (v == NULL)
			die_usage("%s needs a value", a);
		i++;
		if (!strcmp(a, "-c"))
			host = v;
		else if (!strcmp(a, "-p"))
			port = strtol(v, NULL, 10);
		else if (!strcmp(a, "--socks5"))
			proxy = v;
		else if (!strcmp(a, "-d"))
			o->dir = v;
		else if (!strcmp(a, "-t"))
			o->secs = strtod(v, NULL);
		else if (!strcmp(a, "-P"))
			o->streams = strtol(v, NULL, 10);
		else if (!strcmp(a, "--stall"))
			o->stall = strtod(v, NULL);
		else if (!strcmp(a, "--max"))
			o->max = strtol(v, NULL, 10);
		else if (!strcmp(a, "-n"))
			o->n = strtol(v, NULL, 10);
		else if (!strcmp(a, "--conc"))
			o->conc = strtol(v, NULL, 10);
		else if (!strcmp(a, "--timeout"))
			o->t.timeout = strtod(v, NULL);
		else
			die_usage("unknown option %s", a);
	}
	if (host == NULL || blastnet_addr_parse(host, port, false, &o->t.dst) < 0)
		die_usage("need -c ADDR -p PORT (numeric address)");
	if (proxy != NULL) {
		if (blastnet_addr_parse_hostport(proxy, -1, &o->t.proxy) < 0)
			die_usage("--socks5 wants ADDR:PORT or [ADDR6]:PORT");
		o->t.use_proxy = 1;
	}
	if (!(o->secs > 0 && o->secs <= 3600))
		die_usage("-t: 0 < SECONDS <= 3600");
	if (!(o->t.timeout > 0 && o->stall > 0))
		die_usage("timeouts must be > 0");
}

/* ------------------------------------------------------------------ client: throughput */

struct stream {
	int idx;
	int fd;
	int send;
	int verify;
	uint64_t bytes;	     /* sent or received */
	uint64_t srv_bytes;  /* upload: what the server says it got */
	double t_end;
	double max_gap; /* longest time without progress while the clock ran */
	int64_t bad_off;
	char err[160];
	pthread_t th;
};

static pthread_barrier_t start_barrier;
static double t_start, t_deadline;

static void *
stream_main(void *arg)
{
	struct stream *s = arg;
	char hdr[32];
	int hl = snprintf(hdr, sizeof(hdr), "%s 0\n", s->send ? "send" : "recv");

	pthread_barrier_wait(&start_barrier);
	if (blastnet_write_all(s->fd, hdr, (size_t)hl) < 0) {
		snprintf(s->err, sizeof(s->err), "header: %s", blastnet_errstr(errno));
		return NULL;
	}
	double t = blastnet_now(), last = t; /* gaps: time between two calls that made progress */

	if (s->send) {
		while (t < t_deadline) {
			ssize_t n = send(s->fd, pat_at(s->bytes), CHUNK, MSG_NOSIGNAL);

			if (n < 0) {
				if (errno == EINTR)
					continue;
				snprintf(s->err, sizeof(s->err), "send after %" PRIu64 " bytes: %s", s->bytes,
					 errno == EAGAIN ? "stalled (no progress within --stall)" : strerror(errno));
				return NULL;
			}
			s->bytes += (uint64_t)n;
			t = blastnet_now();
			if (t - last > s->max_gap)
				s->max_gap = t - last;
			last = t;
		}
		/* Half-close, then the server's verdict tells how much arrived intact. */
		shutdown(s->fd, SHUT_WR);
		char line[96];
		size_t l = 0;

		while (l < sizeof(line) - 1) {
			ssize_t n = read(s->fd, line + l, sizeof(line) - 1 - l);

			if (n < 0 && errno == EINTR)
				continue;
			if (n < 0) {
				snprintf(s->err, sizeof(s->err), "waiting for the server's byte count: %s",
					 errno == EAGAIN ? "stalled (no answer within --stall)" : strerror(errno));
				return NULL;
			}
			if (n == 0)
				break;
			l += (size_t)n;
			if (memchr(line, '\n', l) != NULL)
				break;
		}
		s->t_end = blastnet_now();
		line[l] = '\0';
		unsigned long long got = 0;
		long long off = -1;

		if (sscanf(line, "ok %llu", &got) == 1) {
			s->srv_bytes = got;
		} else if (sscanf(line, "bad %llu %lld", &got, &off) == 2) {
			s->srv_bytes = got;
			s->bad_off = off;
			snprintf(s->err, sizeof(s->err), "server saw corrupt or missing data at offset %lld (got %llu of %" PRIu64 " bytes)",
				 off, got, s->bytes);
			return NULL;
		} else {
			snprintf(s->err, sizeof(s->err), "no byte count from the server (connection closed early%s)",
				 l ? ", garbage answer" : "");
			return NULL;
		}
		if (s->srv_bytes != s->bytes)
			snprintf(s->err, sizeof(s->err), "server got %" PRIu64 " bytes, sent %" PRIu64, s->srv_bytes,
				 s->bytes);
		return NULL;
	}

	unsigned char *buf = malloc(CHUNK);

	if (buf == NULL) {
		snprintf(s->err, sizeof(s->err), "out of memory");
		return NULL;
	}
	while (t < t_deadline) {
		ssize_t n = read(s->fd, buf, CHUNK);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			snprintf(s->err, sizeof(s->err), "read after %" PRIu64 " bytes: %s", s->bytes,
				 errno == EAGAIN ? "stalled (no data within --stall)" : strerror(errno));
			break;
		}
		if (n == 0) {
			snprintf(s->err, sizeof(s->err), "server closed after %" PRIu64 " bytes", s->bytes);
			break;
		}
		if (s->verify && s->bad_off < 0) {
			s->bad_off = pat_check(buf, (size_t)n, s->bytes);
			if (s->bad_off >= 0)
				snprintf(s->err, sizeof(s->err), "data mismatch at stream offset %" PRId64, s->bad_off);
		}
		s->bytes += (uint64_t)n;
		t = blastnet_now();
		if (t - last > s->max_gap)
			s->max_gap = t - last;
		last = t;
	}
	s->t_end = blastnet_now();
	free(buf);
	return NULL;
}

static int
run_client(int argc, char **argv)
{
	struct copts o;

	parse_client_opts(argc, argv, &o);
	if (o.dir == NULL || (strcmp(o.dir, "send") && strcmp(o.dir, "recv")))
		die_usage("client: -d send|recv");
	if (o.streams < 1 || o.streams > 1024)
		die_usage("client: -P 1..1024");

	struct stream *ss = calloc((size_t)o.streams, sizeof(*ss));
	int errors = 0;

	for (long i = 0; i < o.streams; i++) {
		struct stream *s = &ss[i];

		s->idx = (int)i;
		s->send = !strcmp(o.dir, "send");
		s->verify = o.verify;
		s->bad_off = -1;
		s->fd = open_conn(&o.t, s->err, sizeof(s->err));
		if (s->fd < 0) {
			fprintf(stderr, "tcpblast client: stream %ld: %s\n", i, s->err);
			return 1;
		}
		blastnet_set_timeouts(s->fd, o.stall);
	}
	pthread_barrier_init(&start_barrier, NULL, (unsigned)o.streams + 1);
	for (long i = 0; i < o.streams; i++) {
		if (pthread_create(&ss[i].th, NULL, stream_main, &ss[i]) != 0) {
			fprintf(stderr, "tcpblast client: pthread_create failed\n");
			return 1;
		}
	}
	t_start = blastnet_now();
	t_deadline = t_start + o.secs;
	pthread_barrier_wait(&start_barrier);

	uint64_t total = 0, smin = UINT64_MAX, smax = 0;
	double t_last = t_start, max_gap = 0;

	for (long i = 0; i < o.streams; i++) {
		struct stream *s = &ss[i];
		uint64_t b;

		pthread_join(s->th, NULL);
		close(s->fd);
		b = s->send ? s->srv_bytes : s->bytes;
		if (s->err[0]) {
			errors++;
			fprintf(stderr, "tcpblast client: stream %d: %s\n", s->idx, s->err);
		}
		total += b;
		smin = b < smin ? b : smin;
		smax = b > smax ? b : smax;
		if (s->t_end > t_last)
			t_last = s->t_end;
		if (s->max_gap > max_gap)
			max_gap = s->max_gap;
	}
	double secs = t_last - t_start;

	if (secs <= 0)
		secs = o.secs;
	printf("dir=%s streams=%ld secs=%.3f bytes=%" PRIu64 " gbps=%.3f stream_min_gbps=%.3f stream_max_gbps=%.3f "
	       "max_gap_ms=%.0f tail_ms=%.0f verify=%s errors=%d\n",
	       o.dir, o.streams, secs, total, (double)total * 8 / secs / 1e9, (double)smin * 8 / secs / 1e9,
	       (double)smax * 8 / secs / 1e9, max_gap * 1e3, (t_last - t_deadline) * 1e3, o.verify ? "on" : "off",
	       errors);
	return errors ? 1 : 0;
}

/* ------------------------------------------------------------------ client: connection rate */

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* One client of the rate test: new connection, ping, wait for the server's FIN, repeat. */
struct rate_shared {
	const struct copts *o;
	double deadline;
	atomic_long started;
	atomic_long ok;
	atomic_long failed;
	atomic_int give_up;
	pthread_mutex_t mu;
	char first_err[160];
};

struct rate_client {
	struct rate_shared *sh;
	double *lat;
	size_t nl, cap;
	pthread_t th;
};

/* One connection: 0 when it went through, else -1 with err set. */
static int
rate_once(const struct target *tg, char *err, size_t errlen)
{
	int fd = open_conn(tg, err, errlen);
	char c = 0, extra;
	ssize_t n;

	if (fd < 0)
		return -1;
	err[0] = '\0';
	if (blastnet_write_all(fd, "ping\n", 5) < 0 || blastnet_read_all(fd, &c, 1) < 0) {
		snprintf(err, errlen, "ping: %s", blastnet_errstr(errno));
	} else if (c != '!') {
		snprintf(err, errlen, "ping: unexpected answer 0x%02x", (unsigned char)c);
	} else {
		/* The server closes first: wait for its FIN, so TIME_WAIT stays on its side. */
		while ((n = read(fd, &extra, 1)) < 0 && errno == EINTR)
			;
		if (n != 0)
			snprintf(err, errlen, "ping: no EOF after the answer (%s)",
				 n < 0 ? blastnet_errstr(errno) : "extra data");
	}
	close(fd);
	return err[0] == '\0' ? 0 : -1;
}

static void *
rate_client_main(void *arg)
{
	struct rate_client *rc = arg;
	struct rate_shared *sh = rc->sh;
	long consecutive = 0;
	char err[160];
	double t;

	while (!atomic_load(&sh->give_up) && (t = blastnet_now()) < sh->deadline &&
	       atomic_fetch_add(&sh->started, 1) < sh->o->max) {
		if (rate_once(&sh->o->t, err, sizeof(err)) == 0) {
			atomic_fetch_add(&sh->ok, 1);
			consecutive = 0;
			if (rc->nl == rc->cap) {
				double *grown = realloc(rc->lat, 2 * rc->cap * sizeof(*grown));

				if (grown == NULL)
					continue; /* counted, latency not kept */
				rc->lat = grown;
				rc->cap *= 2;
			}
			rc->lat[rc->nl++] = blastnet_now() - t;
		} else {
			atomic_fetch_add(&sh->failed, 1);
			pthread_mutex_lock(&sh->mu);
			if (!sh->first_err[0])
				snprintf(sh->first_err, sizeof(sh->first_err), "%s", err);
			pthread_mutex_unlock(&sh->mu);
			if (++consecutive >= 20) {
				fprintf(stderr, "tcpblast rate: 20 failures in a row, giving up\n");
				atomic_store(&sh->give_up, 1);
			}
		}
	}
	return NULL;
}

static int
run_rate(int argc, char **argv)
{
	struct copts o;
	int conc_given = 0;

	for (int i = 2; i < argc; i++)
		if (!strcmp(argv[i], "--conc"))
			conc_given = 1;
	parse_client_opts(argc, argv, &o);
	if (o.max < 1)
		die_usage("rate: --max >= 1");
	if (!conc_given)
		o.conc = 1; /* sequential unless asked */
	if (o.conc < 1 || o.conc > 1024)
		die_usage("rate: --conc 1..1024");

	struct rate_shared sh = {.o = &o};
	struct rate_client *cl = calloc((size_t)o.conc, sizeof(*cl));
	double t0 = blastnet_now();
	long started = 0;

	if (cl == NULL) {
		fprintf(stderr, "tcpblast rate: out of memory\n");
		return 1;
	}
	pthread_mutex_init(&sh.mu, NULL);
	sh.deadline = t0 + o.secs;
	for (long i = 0; i < o.conc; i++) {
		cl[i].sh = &sh;
		cl[i].cap = 4096;
		cl[i].lat = malloc(cl[i].cap * sizeof(double));
		if (cl[i].lat == NULL || pthread_create(&cl[i].th, NULL, rate_client_main, &cl[i]) != 0) {
			fprintf(stderr, "tcpblast rate: cannot start client %ld\n", i);
			atomic_store(&sh.give_up, 1);
			break;
		}
		started++;
	}
	for (long i = 0; i < started; i++)
		pthread_join(cl[i].th, NULL);
	double secs = blastnet_now() - t0;
	double p50 = 0, p99 = 0, pmax = 0;
	size_t nl = 0;

	for (long i = 0; i < started; i++)
		nl += cl[i].nl;
	double *lat = malloc((nl ? nl : 1) * sizeof(*lat));

	nl = 0;
	for (long i = 0; i < o.conc; i++) {
		if (lat != NULL && cl[i].nl)
			memcpy(lat + nl, cl[i].lat, cl[i].nl * sizeof(*lat));
		nl += cl[i].nl;
		free(cl[i].lat);
	}
	free(cl);
	if (lat != NULL && nl > 0) {
		qsort(lat, nl, sizeof(*lat), cmp_double);
		p50 = lat[nl / 2];
		p99 = lat[(size_t)((double)(nl - 1) * 0.99)];
		pmax = lat[nl - 1];
	}
	free(lat);
	long ok = atomic_load(&sh.ok), failed = atomic_load(&sh.failed);

	if (failed)
		fprintf(stderr, "tcpblast rate: %ld failed connections, first: %s\n", failed, sh.first_err);
	printf("conns=%ld failed=%ld secs=%.3f cps=%.1f conc=%ld lat_p50_ms=%.3f lat_p99_ms=%.3f lat_max_ms=%.3f\n", ok,
	       failed, secs, (double)ok / secs, o.conc, p50 * 1e3, p99 * 1e3, pmax * 1e3);
	return failed ? 1 : 0;
}

/* ------------------------------------------------------------------ client: idle connections */

struct hold_ctx {
	const struct copts *o;
	int *fds;
	atomic_long next;
	atomic_long ok;
	atomic_long failed;
	pthread_mutex_t mu;
	char first_err[200];
};

static void *
hold_worker(void *arg)
{
	struct hold_ctx *h = arg;
	char err[160];
	long i;

	while ((i = atomic_fetch_add(&h->next, 1)) < h->o->n) {
		int fd = open_conn(&h->o->t, err, sizeof(err));
		char c = 0;

		if (fd >= 0) {
			if (blastnet_write_all(fd, "hold\n", 5) < 0 || blastnet_read_all(fd, &c, 1) < 0 || c != 'H') {
				snprintf(err, sizeof(err), "hold: %s", c ? "unexpected answer" : blastnet_errstr(errno));
				close(fd);
				fd = -1;
			}
		}
		h->fds[i] = fd;
		if (fd >= 0) {
			atomic_fetch_add(&h->ok, 1);
		} else {
			atomic_fetch_add(&h->failed, 1);
			pthread_mutex_lock(&h->mu);
			if (!h->first_err[0])
				snprintf(h->first_err, sizeof(h->first_err), "connection %ld: %s", i, err);
			pthread_mutex_unlock(&h->mu);
		}
	}
	return NULL;
}

static int
run_hold(int argc, char **argv)
{
	struct copts o;

	parse_client_opts(argc, argv, &o);
	if (o.n < 1 || o.n > 1000000)
		die_usage("hold: -n 1..1000000");
	if (o.conc < 1 || o.conc > 1024)
		die_usage("hold: --conc 1..1024");
	if (o.conc > o.n)
		o.conc = o.n;

	/* SIGTERM/SIGINT are taken through a signalfd, so block them before any thread exists. */
	sigset_t ss;

	sigemptyset(&ss);
	sigaddset(&ss, SIGTERM);
	sigaddset(&ss, SIGINT);
	sigaddset(&ss, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &ss, NULL);
	int sfd = signalfd(-1, &ss, SFD_CLOEXEC);

	struct hold_ctx h = {.o = &o};
	pthread_t *th = calloc((size_t)o.conc, sizeof(*th));

	h.fds = malloc((size_t)o.n * sizeof(int));
	pthread_mutex_init(&h.mu, NULL);
	double t0 = blastnet_now();

	for (long i = 0; i < o.conc; i++)
		if (pthread_create(&th[i], NULL, hold_worker, &h) != 0) {
			fprintf(stderr, "tcpblast hold: pthread_create failed\n");
			return 1;
		}
	for (long i = 0; i < o.conc; i++)
		pthread_join(th[i], NULL);
	double secs = blastnet_now() - t0;
	long ok = atomic_load(&h.ok), failed = atomic_load(&h.failed);

	if (failed)
		fprintf(stderr, "tcpblast hold: %ld connections failed, first: %s\n", failed, h.first_err);
	printf("established=%ld failed=%ld secs=%.3f\n", ok, failed, secs);
	fflush(stdout);

	/* Hold until a signal, or EOF on stdin when stdin is a pipe or terminal. Watch the
	 * held connections: one that turns readable was closed or reset by the far side. */
	int ep = epoll_create1(EPOLL_CLOEXEC);
	struct epoll_event e = {.events = EPOLLIN, .data.u64 = (uint64_t)-1};
	struct stat st;
	int watch_stdin = fstat(0, &st) == 0 && (S_ISFIFO(st.st_mode) || S_ISSOCK(st.st_mode) || isatty(0));
	long dropped = 0;

	epoll_ctl(ep, EPOLL_CTL_ADD, sfd, &e);
	if (watch_stdin) {
		e.data.u64 = (uint64_t)-2;
		epoll_ctl(ep, EPOLL_CTL_ADD, 0, &e);
	}
	for (long i = 0; i < o.n; i++) {
		if (h.fds[i] < 0)
			continue;
		e.events = EPOLLIN | EPOLLRDHUP;
		e.data.u64 = (uint64_t)i;
		epoll_ctl(ep, EPOLL_CTL_ADD, h.fds[i], &e);
	}
	const char *why = "signal";

	for (int done = 0; !done;) {
		struct epoll_event evs[64];
		int n = epoll_wait(ep, evs, 64, -1);

		if (n < 0 && errno != EINTR)
			break;
		for (int k = 0; k < n; k++) {
			uint64_t id = evs[k].data.u64;

			if (id == (uint64_t)-1) {
				done = 1;
			} else if (id == (uint64_t)-2) {
				char b[256];
				ssize_t r = read(0, b, sizeof(b));

				if (r <= 0) {
					why = "stdin EOF";
					done = 1;
				}
			} else {
				int fd = h.fds[id];

				if (dropped == 0)
					fprintf(stderr, "tcpblast hold: connection %" PRIu64 " closed by the far side while held\n",
						id);
				dropped++;
				epoll_ctl(ep, EPOLL_CTL_DEL, fd, NULL);
				close(fd);
				h.fds[id] = -1;
			}
		}
	}
	for (long i = 0; i < o.n; i++)
		if (h.fds[i] >= 0)
			close(h.fds[i]);
	printf("closed=%ld dropped_while_held=%ld reason=%s\n", ok - dropped, dropped, why);
	return (failed || dropped) ? 1 : 0;
}

int
main(int argc, char **argv)
{
	if (argc < 2)
		die_usage("missing mode");
	signal(SIGPIPE, SIG_IGN);
	setvbuf(stdout, NULL, _IOLBF, 0);
	raise_nofile();
	pat_init();
	if (!strcmp(argv[1], "server"))
		return run_server(argc, argv);
	if (!strcmp(argv[1], "client"))
		return run_client(argc, argv);
	if (!strcmp(argv[1], "rate"))
		return run_rate(argc, argv);
	if (!strcmp(argv[1], "hold"))
		return run_hold(argc, argv);
	die_usage("unknown mode %s", argv[1]);
	return 2;
}
