/* SPDX-License-Identifier: MIT */
/*
 * Addresses, blocking I/O and a blocking SOCKS5 client for the benchmark's load tools.
 * See blastnet.h.
 */
#include "blastnet.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

double
blastnet_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int
blastnet_addr_parse(const char *host, long port, bool port_zero_ok, struct blastnet_addr *a)
{
	struct sockaddr_in *s4 = (struct sockaddr_in *)&a->ss;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&a->ss;

	memset(a, 0, sizeof(*a));
	if (port < (port_zero_ok ? 0 : 1) || port > 65535)
		return -1;
	if (inet_pton(AF_INET, host, &s4->sin_addr) == 1) {
		s4->sin_family = AF_INET;
		s4->sin_port = htons((uint16_t)port);
		a->len = sizeof(*s4);
		return 0;
	}
	if (inet_pton(AF_INET6, host, &s6->sin6_addr) == 1) {
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons((uint16_t)port);
		a->len = sizeof(*s6);
		return 0;
	}
	return -1;
}

int
blastnet_addr_parse_hostport(const char *s, long default_port, struct blastnet_addr *a)
{
	char host[INET6_ADDRSTRLEN + 2];
	const char *end, *colon = NULL;
	long port = default_port;
	size_t hl;

	if (s[0] == '[') {
		end = strchr(s, ']');
		if (end == NULL)
			return -1;
		s++;
		hl = (size_t)(end - s);
		if (end[1] == ':')
			colon = end + 1;
		else if (end[1] != '\0')
			return -1;
	} else {
		colon = strchr(s, ':');
		if (colon != NULL && strchr(colon + 1, ':') != NULL)
			return -1; /* a bare IPv6 address needs brackets */
		hl = colon ? (size_t)(colon - s) : strlen(s);
	}
	if (hl == 0 || hl >= sizeof(host))
		return -1;
	memcpy(host, s, hl);
	host[hl] = '\0';
	if (colon != NULL) {
		char *e;

		errno = 0;
		port = strtol(colon + 1, &e, 10);
		if (errno != 0 || e == colon + 1 || *e != '\0')
			return -1;
	}
	if (port < 0)
		return -1;
	return blastnet_addr_parse(host, port, false, a);
}

bool
blastnet_addr_allowed(const struct blastnet_addr *a)
{
	if (a->ss.ss_family == AF_INET) {
		uint32_t v = ntohl(((const struct sockaddr_in *)&a->ss)->sin_addr.s_addr);

		return (v & 0xfffe0000u) == 0xc6120000u; /* 198.18.0.0/15 */
	}
	if (a->ss.ss_family == AF_INET6) {
		const uint8_t *b = ((const struct sockaddr_in6 *)&a->ss)->sin6_addr.s6_addr;
		static const uint8_t net[6] = {0x20, 0x01, 0x00, 0x02, 0x00, 0x00}; /* 2001:2::/48 */

		return memcmp(b, net, sizeof(net)) == 0;
	}
	return false;
}

const char *
blastnet_addr_str(const struct blastnet_addr *a, char *buf, size_t len)
{
	char h[INET6_ADDRSTRLEN];

	if (a->ss.ss_family == AF_INET) {
		const struct sockaddr_in *s4 = (const struct sockaddr_in *)&a->ss;

		inet_ntop(AF_INET, &s4->sin_addr, h, sizeof(h));
		snprintf(buf, len, "%s:%u", h, ntohs(s4->sin_port));
	} else if (a->ss.ss_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)&a->ss;

		inet_ntop(AF_INET6, &s6->sin6_addr, h, sizeof(h));
		snprintf(buf, len, "[%s]:%u", h, ntohs(s6->sin6_port));
	} else {
		snprintf(buf, len, "?");
	}
	return buf;
}

void
blastnet_set_timeouts(int fd, double secs)
{
	struct timeval tv = {.tv_sec = (time_t)secs,
			     .tv_usec = (suseconds_t)((secs - (double)(time_t)secs) * 1e6)};

	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

int
blastnet_write_all(int fd, const void *buf, size_t n)
{
	const char *p = buf;

	while (n > 0) {
		ssize_t r = send(fd, p, n, MSG_NOSIGNAL);

		if (r < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += r;
		n -= (size_t)r;
	}
	return 0;
}

int
blastnet_read_all(int fd, void *buf, size_t n)
{
	char *p = buf;

	while (n > 0) {
		ssize_t r = read(fd, p, n);

		if (r < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (r == 0) {
			errno = EPIPE;
			return -1;
		}
		p += r;
		n -= (size_t)r;
	}
	return 0;
}

int
blastnet_parse_double(const char *s, double lo, double hi, double *out)
{
	char *e;
	double v;

	errno = 0;
	v = strtod(s, &e);
	if (errno != 0 || e == s || *e != '\0' || !(v >= lo && v <= hi))
		return -1;
	*out = v;
	return 0;
}

const char *
blastnet_errstr(int e)
{
	return (e == EAGAIN || e == EWOULDBLOCK || e == EINPROGRESS) ? "timed out" : strerror(e);
}

static const char *
socks_rep_str(unsigned rep)
{
	static const char *const s[] = {"succeeded", "general failure", "not allowed by ruleset",
					"network unreachable", "host unreachable", "connection refused",
					"TTL expired", "command not supported", "address type not supported"};

	return rep < 9 ? s[rep] : "unknown reply";
}

/* ATYP + address + port of a, in wire order, into out (at least 19 bytes); returns the length. */
static size_t
socks_put_addr(unsigned char *out, const struct blastnet_addr *a)
{
	if (a->ss.ss_family == AF_INET) {
		const struct sockaddr_in *s4 = (const struct sockaddr_in *)&a->ss;

		out[0] = 1;
		memcpy(out + 1, &s4->sin_addr, 4);
		memcpy(out + 5, &s4->sin_port, 2);
		return 7;
	}
	const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)&a->ss;

	out[0] = 4;
	memcpy(out + 1, &s6->sin6_addr, 16);
	memcpy(out + 17, &s6->sin6_port, 2);
	return 19;
}

/*
 * On a connected control socket: greeting (no authentication) and request CMD for
 * `a`; the reply's bound address goes to *bnd (port included; a domain name is an
 * error here). 0, or -1 with a message in err.
 */
static int
socks_request(int fd, unsigned cmd, const struct blastnet_addr *a, struct blastnet_addr *bnd, char *err,
	      size_t errlen)
{
	unsigned char req[3 + 19], rep[4 + 18];
	const char *what = cmd == 1 ? "connect" : "udp associate";
	size_t rl;

	if (blastnet_write_all(fd, "\x05\x01\x00", 3) < 0 || blastnet_read_all(fd, rep, 2) < 0) {
		snprintf(err, errlen, "socks5 greeting: %s", blastnet_errstr(errno));
		return -1;
	}
	if (rep[0] != 5 || rep[1] != 0) {
		snprintf(err, errlen, "socks5 greeting: proxy answered %u %u (wants authentication?)", rep[0],
			 rep[1]);
		return -1;
	}
	req[0] = 5;
	req[1] = (unsigned char)cmd;
	req[2] = 0;
	rl = 3 + socks_put_addr(req + 3, a);
	if (blastnet_write_all(fd, req, rl) < 0 || blastnet_read_all(fd, rep, 4) < 0) {
		snprintf(err, errlen, "socks5 %s: %s", what, blastnet_errstr(errno));
		return -1;
	}
	if (rep[0] != 5 || rep[1] != 0) {
		snprintf(err, errlen, "socks5 %s: %s (%u)", what, socks_rep_str(rep[1]), rep[1]);
		return -1;
	}
	size_t alen = rep[3] == 1 ? 4 : rep[3] == 4 ? 16 : 0;

	if (alen == 0) {
		snprintf(err, errlen, "socks5 %s reply: address type %u not handled", what, rep[3]);
		return -1;
	}
	if (blastnet_read_all(fd, rep + 4, alen + 2) < 0) {
		snprintf(err, errlen, "socks5 %s reply: %s", what, blastnet_errstr(errno));
		return -1;
	}
	memset(bnd, 0, sizeof(*bnd));
	if (alen == 4) {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&bnd->ss;

		s4->sin_family = AF_INET;
		memcpy(&s4->sin_addr, rep + 4, 4);
		memcpy(&s4->sin_port, rep + 8, 2);
		bnd->len = sizeof(*s4);
	} else {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&bnd->ss;

		s6->sin6_family = AF_INET6;
		memcpy(&s6->sin6_addr, rep + 4, 16);
		memcpy(&s6->sin6_port, rep + 20, 2);
		bnd->len = sizeof(*s6);
	}
	return 0;
}

/* A blocking TCP socket connected to a, with timeouts; -1 with a message in err. */
static int
tcp_connect(const struct blastnet_addr *a, double timeout, const char *what, char *err, size_t errlen)
{
	int fd;

	if (!blastnet_addr_allowed(a)) {
		snprintf(err, errlen, "%s: address outside the benchmark's ranges", what);
		return -1;
	}
	fd = socket(a->ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		snprintf(err, errlen, "socket: %s", strerror(errno));
		return -1;
	}
	blastnet_set_timeouts(fd, timeout);
	while (connect(fd, (const struct sockaddr *)&a->ss, a->len) < 0) {
		if (errno == EINTR)
			continue;
		snprintf(err, errlen, "connect to %s: %s", what, blastnet_errstr(errno));
		close(fd);
		return -1;
	}
	return fd;
}

int
blastnet_tcp_open(const struct blastnet_addr *proxy, const struct blastnet_addr *dst, double timeout,
		  char *err, size_t errlen)
{
	struct blastnet_addr bnd;
	int fd;

	if (!blastnet_addr_allowed(dst)) {
		snprintf(err, errlen, "destination outside the benchmark's ranges");
		return -1;
	}
	if (proxy == NULL)
		return tcp_connect(dst, timeout, "target", err, errlen);
	fd = tcp_connect(proxy, timeout, "proxy", err, errlen);
	if (fd < 0)
		return -1;
	if (socks_request(fd, 1, dst, &bnd, err, errlen) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

int
blastnet_udp_assoc_open(struct blastnet_udp_assoc *u, const struct blastnet_addr *proxy,
			const struct blastnet_addr *dst, double timeout, char *err, size_t errlen)
{
	struct blastnet_addr local;
	char buf[64];

	memset(u, 0, sizeof(*u));
	u->ctl = u->udp = -1;
	u->dst = *dst;
	if (!blastnet_addr_allowed(dst)) {
		snprintf(err, errlen, "destination outside the benchmark's ranges");
		return -1;
	}
	u->hdr[0] = u->hdr[1] = u->hdr[2] = 0; /* RSV, FRAG 0 */
	u->hdr_len = 3 + socks_put_addr(u->hdr + 3, dst);

	u->ctl = tcp_connect(proxy, timeout, "proxy", err, errlen);
	if (u->ctl < 0)
		goto err_close;
	u->udp = socket(proxy->ss.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (u->udp < 0) {
		snprintf(err, errlen, "udp socket: %s", strerror(errno));
		goto err_close;
	}
	/* Bind first, so the request can name the port the datagrams will come from. */
	memset(&local, 0, sizeof(local));
	local.ss.ss_family = proxy->ss.ss_family;
	local.len = proxy->len;
	if (bind(u->udp, (struct sockaddr *)&local.ss, local.len) < 0 ||
	    getsockname(u->udp, (struct sockaddr *)&local.ss, &local.len) < 0) {
		snprintf(err, errlen, "udp bind: %s", strerror(errno));
		goto err_close;
	}
	if (socks_request(u->ctl, 3, &local, &u->relay, err, errlen) < 0)
		goto err_close;
	if (u->relay.ss.ss_family == AF_INET &&
	    ((struct sockaddr_in *)&u->relay.ss)->sin_addr.s_addr == htonl(INADDR_ANY))
		memcpy(&((struct sockaddr_in *)&u->relay.ss)->sin_addr,
		       &((const struct sockaddr_in *)&proxy->ss)->sin_addr, 4);
	if (u->relay.ss.ss_family == AF_INET6 &&
	    memcmp(&((struct sockaddr_in6 *)&u->relay.ss)->sin6_addr, &in6addr_any, 16) == 0)
		memcpy(&((struct sockaddr_in6 *)&u->relay.ss)->sin6_addr,
		       &((const struct sockaddr_in6 *)&proxy->ss)->sin6_addr, 16);
	if (!blastnet_addr_allowed(&u->relay)) {
		snprintf(err, errlen, "proxy's UDP relay %s is outside the benchmark's ranges",
			 blastnet_addr_str(&u->relay, buf, sizeof(buf)));
		goto err_close;
	}
	if (u->relay.ss.ss_family != proxy->ss.ss_family) {
		snprintf(err, errlen, "proxy's UDP relay %s is of another address family",
			 blastnet_addr_str(&u->relay, buf, sizeof(buf)));
		goto err_close;
	}
	if (connect(u->udp, (struct sockaddr *)&u->relay.ss, u->relay.len) < 0) {
		snprintf(err, errlen, "udp connect to the relay %s: %s", blastnet_addr_str(&u->relay, buf, sizeof(buf)),
			 strerror(errno));
		goto err_close;
	}
	blastnet_set_timeouts(u->udp, timeout);
	return 0;

err_close:
	blastnet_udp_assoc_close(u);
	return -1;
}

void
blastnet_udp_assoc_close(struct blastnet_udp_assoc *u)
{
	if (u->udp >= 0)
		close(u->udp);
	if (u->ctl >= 0)
		close(u->ctl);
	u->udp = u->ctl = -1;
}

ssize_t
blastnet_udp_assoc_unwrap(const struct blastnet_udp_assoc *u, const unsigned char *buf, size_t n)
{
	/* The reply header names the datagram's source: it must be the destination itself. */
	if (n < u->hdr_len || buf[0] != 0 || buf[1] != 0 || buf[2] != 0)
		return -1;
	if (memcmp(buf + 3, u->hdr + 3, u->hdr_len - 3) != 0)
		return -1;
	return (ssize_t)u->hdr_len;
}
