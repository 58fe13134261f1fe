/* SPDX-License-Identifier: MIT */
/* The proxy's name over hooked UDP sockets; see proxy_lookup.h. */
#include "proxy_lookup.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "container_of.h"
#include "dns_msg.h"

#define QUERY_MAX (DNS_MSG_HEADER_LEN + 255 + 4 + 11)
#define REPLY_MAX 4096

enum { Q_A, Q_AAAA, Q_N };

struct proxy_lookup {
	struct ev_loop *loop;
	char name[DNS_MSG_NAME_MAX + 1]; /* lowercase, no trailing dot: as responses report it */
	struct sockaddr_storage servers[PROXY_LOOKUP_SERVERS_MAX];
	size_t n_servers, server;        /* the one being asked */
	unsigned fwmark;
	struct sock_hook hook;
	bool have_hook;
	proxy_lookup_done_fn done;
	void *arg;
	ev_timer deadline, resend;
	ev_io io;
	int fd;
	unsigned tries;
	bool started;                    /* the first server was asked */
	bool timed_out_only;             /* every server so far just did not answer */
	uint16_t id[Q_N];
	bool answered[Q_N];
	uint8_t query[Q_N][QUERY_MAX];
	int query_len[Q_N];
	struct proxy_lookup_result aaaa; /* an AAAA answer, kept while A is awaited */
	bool have_aaaa;
	struct proxy_lookup_result res;
};

static void
server_text(const struct sockaddr_storage *ss, char *out, size_t cap)
{
	char a[INET6_ADDRSTRLEN] = "?";

	if (ss->ss_family == AF_INET)
		inet_ntop(AF_INET, &((const struct sockaddr_in *)ss)->sin_addr, a, sizeof(a));
	else
		inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)ss)->sin6_addr, a, sizeof(a));
	snprintf(out, cap, ss->ss_family == AF_INET6 ? "[%s]:%u" : "%s:%u", a,
		 ntohs(((const struct sockaddr_in *)ss)->sin_port));
}

static socklen_t
ss_len(const struct sockaddr_storage *ss)
{
	return ss->ss_family == AF_INET ? sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6);
}

static void
close_socket(struct proxy_lookup *l)
{
	ev_timer_stop(l->loop, &l->resend);
	if (l->fd >= 0) {
		ev_io_stop(l->loop, &l->io);
		close(l->fd);
		l->fd = -1;
	}
}

/* The end: everything stopped, then done, which may free l. */
static void
finish(struct proxy_lookup *l, int err)
{
	struct proxy_lookup_result res = l->res;

	close_socket(l);
	ev_timer_stop(l->loop, &l->deadline);
	res.err = err;
	l->done(l->arg, &res);
}

static void __attribute__((format(printf, 2, 3)))
set_why(struct proxy_lookup *l, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(l->res.why, sizeof(l->res.why), fmt, ap);
	va_end(ap);
}

/* The current server's address, for messages. */
static const char *
current(const struct proxy_lookup *l, char *buf, size_t cap)
{
	server_text(&l->servers[l->server < l->n_servers ? l->server : 0], buf, cap);
	return buf;
}

static void fail_server(struct proxy_lookup *l, bool timed_out);

static void
send_queries(struct proxy_lookup *l)
{
	for (int q = 0; q < Q_N; q++) {
		if (l->answered[q])
			continue;
		if (send(l->fd, l->query[q], (size_t)l->query_len[q], MSG_NOSIGNAL) < 0 && errno != EAGAIN &&
		    errno != EWOULDBLOCK && errno != ENOBUFS) {
			char srv[INET6_ADDRSTRLEN + 8];

			set_why(l, "cannot send to %s: %s", current(l, srv, sizeof(srv)), strerror(errno));
			fail_server(l, false);
			return;
		}
	}
	ev_timer_set(&l->resend, PROXY_LOOKUP_FIRST_WAIT * (double)(1u << l->tries), 0.0);
	ev_timer_start(l->loop, &l->resend);
}

static void
ask_server(struct proxy_lookup *l)
{
	const struct sockaddr_storage *ss = &l->servers[l->server];
	char srv[INET6_ADDRSTRLEN + 8];
	int fd;

	fd = sock_udp_connected((const struct sockaddr *)ss, ss_len(ss), l->fwmark, l->have_hook ? &l->hook : NULL);
	if (fd < 0) {
		set_why(l, "no socket for %s: %s", current(l, srv, sizeof(srv)), strerror(-fd));
		fail_server(l, false);
		return;
	}
	l->fd = fd;
	for (int q = 0; q < Q_N; q++) {
		uint16_t id;

		do
			id = (uint16_t)arc4random();
		while (q > 0 && id == l->id[0]);
		l->id[q] = id;
		l->answered[q] = false;
		l->query_len[q] = dns_msg_build_query(id, l->name, q == Q_A ? DNS_MSG_TYPE_A : DNS_MSG_TYPE_AAAA,
						      l->query[q], sizeof(l->query[q]));
	}
	l->have_aaaa = false;
	l->tries = 0;
	ev_io_set(&l->io, l->fd, EV_READ);
	ev_io_start(l->loop, &l->io);
	send_queries(l);
}

/* This server is no use (l->res.why says why): the next one, or the end. */
static void
fail_server(struct proxy_lookup *l, bool timed_out)
{
	if (!timed_out)
		l->timed_out_only = false;
	close_socket(l);
	l->server++;
	if (l->server >= l->n_servers) {
		finish(l, l->timed_out_only ? -ETIMEDOUT : -EHOSTUNREACH);
		return;
	}
	ask_server(l);
}

static void
resend_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct proxy_lookup *l = container_of(w, struct proxy_lookup, resend);

	char srv[INET6_ADDRSTRLEN + 8];

	(void)loop;
	(void)revents;
	if (!l->started) { /* the event proxy_lookup_start fed */
		l->started = true;
		ask_server(l);
		return;
	}
	if (++l->tries < PROXY_LOOKUP_TRIES) {
		send_queries(l);
		return;
	}
	set_why(l, "no answer from %s", current(l, srv, sizeof(srv)));
	fail_server(l, true);
}

static void
deadline_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct proxy_lookup *l = container_of(w, struct proxy_lookup, deadline);
	char srv[INET6_ADDRSTRLEN + 8];

	(void)loop;
	(void)revents;
	set_why(l, "no answer in time (last asked: %s)", current(l, srv, sizeof(srv)));
	finish(l, -ETIMEDOUT);
}

static void
store_addr(struct proxy_lookup_result *res, const struct dns_response *r)
{
	memset(&res->addr, 0, sizeof(res->addr));
	if (r->addr_family == 4) {
		struct sockaddr_in *sin = (struct sockaddr_in *)&res->addr;

		sin->sin_family = AF_INET;
		memcpy(&sin->sin_addr, r->addr, 4);
		res->addrlen = sizeof(*sin);
	} else {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&res->addr;

		sin6->sin6_family = AF_INET6;
		memcpy(&sin6->sin6_addr, r->addr, 16);
		res->addrlen = sizeof(*sin6);
	}
	res->ttl = r->addr_ttl;
}

static const char *
rcode_name(unsigned rcode)
{
	switch (rcode) {
	case DNS_MSG_RCODE_FORMERR: return "FORMERR";
	case DNS_MSG_RCODE_SERVFAIL: return "SERVFAIL";
	case DNS_MSG_RCODE_NOTIMP: return "NOTIMP";
	case DNS_MSG_RCODE_REFUSED: return "REFUSED";
	default: return "an error";
	}
}

/* One response; returns true when the lookup is over or moved to another server. */
static bool
take_response(struct proxy_lookup *l, const uint8_t *msg, size_t len)
{
	struct dns_response r;
	char srv[INET6_ADDRSTRLEN + 8];
	int q;

	if (dns_msg_parse_response(msg, len, &r) < 0 || r.qdcount != 1 || r.qclass != DNS_MSG_CLASS_IN ||
	    strcmp(r.name, l->name) != 0)
		return false;
	if (r.id == l->id[Q_A] && r.qtype == DNS_MSG_TYPE_A)
		q = Q_A;
	else if (r.id == l->id[Q_AAAA] && r.qtype == DNS_MSG_TYPE_AAAA)
		q = Q_AAAA;
	else
		return false; /* not ours (a late answer to an earlier server's ID, a spoof) */
	if (l->answered[q])
		return false;
	server_text(&l->servers[l->server], srv, sizeof(srv));
	if (r.tc) {
		set_why(l, "%s sent a truncated answer", srv);
		fail_server(l, false);
		return true;
	}
	if (r.rcode == DNS_MSG_RCODE_NXDOMAIN) {
		set_why(l, "no such name (NXDOMAIN from %s)", srv);
		finish(l, -ENOENT);
		return true;
	}
	if (r.rcode != DNS_MSG_RCODE_NOERROR) {
		set_why(l, "%s answered %s", srv, rcode_name(r.rcode));
		fail_server(l, false);
		return true;
	}
	l->answered[q] = true;
	if (q == Q_A && r.addr_family == 4) {
		store_addr(&l->res, &r);
		set_why(l, "A record from %s", srv);
		finish(l, 0);
		return true;
	}
	if (q == Q_AAAA && r.addr_family == 6) {
		l->aaaa = l->res;
		store_addr(&l->aaaa, &r);
		snprintf(l->aaaa.why, sizeof(l->aaaa.why), "AAAA record from %s", srv);
		l->have_aaaa = true;
	}
	if (!l->answered[Q_A] || !l->answered[Q_AAAA])
		return false;
	if (l->have_aaaa) {
		l->res = l->aaaa;
		finish(l, 0);
	} else {
		set_why(l, "no address (neither A nor AAAA from %s)", srv);
		finish(l, -ENOENT);
	}
	return true;
}

static void
io_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct proxy_lookup *l = container_of(w, struct proxy_lookup, io);
	uint8_t buf[REPLY_MAX];

	(void)loop;
	(void)revents;
	for (int i = 0; i < 16; i++) {
		ssize_t n = recv(l->fd, buf, sizeof(buf), MSG_DONTWAIT);

		if (n < 0) {
			char srv[INET6_ADDRSTRLEN + 8];

			if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
				return;
			/* ICMP unreachable, mostly (a connected socket hears of it) */
			set_why(l, "%s: %s", current(l, srv, sizeof(srv)), strerror(errno));
			fail_server(l, false);
			return;
		}
		if (take_response(l, buf, (size_t)n))
			return;
	}
}

int
proxy_lookup_start(struct ev_loop *loop, const struct proxy_lookup_params *p, proxy_lookup_done_fn done,
		   void *arg, struct proxy_lookup **out)
{
	struct proxy_lookup *l;
	uint8_t probe[QUERY_MAX];
	size_t len;

	*out = NULL;
	if (p->name == NULL || p->n_servers == 0 || p->n_servers > PROXY_LOOKUP_SERVERS_MAX || !(p->timeout > 0) ||
	    dns_msg_build_query(0, p->name, DNS_MSG_TYPE_A, probe, sizeof(probe)) < 0)
		return -EINVAL;
	for (size_t i = 0; i < p->n_servers; i++)
		if (p->servers[i].ss_family != AF_INET && p->servers[i].ss_family != AF_INET6)
			return -EINVAL;
	l = calloc(1, sizeof(*l));
	if (l == NULL)
		return -ENOMEM;
	len = strlen(p->name);
	if (len > 0 && p->name[len - 1] == '.')
		len--;
	for (size_t i = 0; i < len; i++)
		l->name[i] = (char)tolower((unsigned char)p->name[i]);
	memcpy(l->servers, p->servers, p->n_servers * sizeof(*p->servers));
	l->n_servers = p->n_servers;
	l->loop = loop;
	l->fwmark = p->fwmark;
	if (p->hook != NULL) {
		l->hook = *p->hook;
		l->have_hook = true;
	}
	l->done = done;
	l->arg = arg;
	l->fd = -1;
	l->timed_out_only = true;
	ev_init(&l->io, io_cb);
	ev_init(&l->resend, resend_cb);
	ev_timer_init(&l->deadline, deadline_cb, p->timeout, 0.0);
	ev_timer_start(loop, &l->deadline);
	*out = l;
	/* Asked from the loop's next turn, so that done never runs inside this call. */
	ev_feed_event(loop, &l->resend, EV_TIMER);
	return 0;
}

void
proxy_lookup_free(struct proxy_lookup *l)
{
	if (l == NULL)
		return;
	close_socket(l);
	ev_timer_stop(l->loop, &l->deadline);
	free(l);
}
