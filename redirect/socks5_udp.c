/* SPDX-License-Identifier: MIT */
/*
 * A SOCKS5 UDP ASSOCIATE: the control connection runs socks5_handshake (as socks5_tcp
 * does) and is then watched for its end; a connected UDP socket carries the
 * datagrams. User callbacks are bracketed by a refs/closing pair so that a callback
 * may free its session, even in the middle of a receive batch.
 */
#include "socks5_udp.h"

#include <assert.h>
#include <errno.h>
#include <stdbool.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#include "container_of.h"
#include "sock.h"
#include "socks5_handshake.h"
#include "socks5_proto.h"
#include "io_watch.h"

enum step {
	STEP_HANDSHAKE, /* the control connection runs socks5_handshake */
	STEP_READY, /* associated: datagrams flow, the control connection is watched */
	STEP_DEAD,  /* setup failed or the association ended: sockets closed */
};

struct socks5_udp {
	struct ev_loop *loop;
	ev_io ctrl_io;
	ev_io relay_io;
	int ctrl_fd;
	int relay_fd;
	enum step step;
	unsigned refs; /* user callbacks currently running */
	int closing;   /* socks5_udp_free was called while refs > 0 */
	const struct socks5_server *server;
	struct socks5_udp_config cfg;
	struct socks5_udp_callbacks cb;
	void *arg;
	struct socks5_handshake hs; /* the control connection's; hs.bnd is BND once replied */
	struct sockaddr_storage relay;
	socklen_t relay_len;
	struct socks5_udp_counters counters;
	/* One datagram at a time; any UDP payload (at most 65535 - 8 bytes) fits whole.
	 * Either the caller's shared buffer (cfg.recv_buf) or rbuf_own. */
	uint8_t *rbuf;
	size_t rbuf_len;
	uint8_t rbuf_own[];
};

/* Frees the session (the flexible own buffer goes with it). */
static void
destroy(struct socks5_udp *s)
{
	free(s);
}

/* Stops both watchers and closes both sockets; idempotent. */
static void
shut(struct socks5_udp *s)
{
	ev_io_stop(s->loop, &s->ctrl_io);
	ev_io_stop(s->loop, &s->relay_io);
	if (s->ctrl_fd >= 0) {
		close(s->ctrl_fd);
		s->ctrl_fd = -1;
	}
	if (s->relay_fd >= 0) {
		close(s->relay_fd);
		s->relay_fd = -1;
	}
}

/* Brackets a user callback. leave() returns -1 when the callback freed the session:
 * the caller must then return without touching it. */
static void
enter(struct socks5_udp *s)
{
	s->refs++;
}

static int
leave(struct socks5_udp *s)
{
	assert(s->refs > 0 && "leave without enter");
	s->refs--;
	if (s->refs == 0 && s->closing) {
		destroy(s);
		return -1;
	}
	return 0;
}

/* Ends the setup with a failure. The session may be gone afterwards. */
static void
fail(struct socks5_udp *s, enum socks5_udp_failure failure, int err, uint8_t rep)
{
	struct socks5_udp_result res = {
		.failure = failure, .err = err, .rep = rep, .method = s->hs.method, .bnd = s->hs.bnd};

	shut(s);
	s->step = STEP_DEAD;
	enter(s);
	s->cb.on_ready(s->arg, &res);
	(void)leave(s);
}

/* The association ended after setup. The session may be gone afterwards. */
static void
die(struct socks5_udp *s, int err)
{
	shut(s);
	s->step = STEP_DEAD;
	if (s->cb.on_closed == NULL)
		return;
	enter(s);
	s->cb.on_closed(s->arg, err);
	(void)leave(s);
}

static int
is_local_v4(const uint8_t *a)
{
	return a[0] == 10 || a[0] == 127 || (a[0] == 172 && (a[1] & 0xf0) == 16) || (a[0] == 192 && a[1] == 168) ||
	       (a[0] == 169 && a[1] == 254) || (a[0] == 100 && (a[1] & 0xc0) == 64);
}

static int
is_v4_mapped(const uint8_t *a)
{
	static const uint8_t prefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

	return memcmp(a, prefix, sizeof(prefix)) == 0;
}

/* Private, shared (CGNAT), loopback or link-local: not reachable from another site. */
static int
is_local_scope(const struct t2s_endpoint *ep)
{
	static const uint8_t loopback6[16] = {[15] = 1};
	const uint8_t *a = ep->u.ipv6;

	if (ep->type == T2S_ENDPOINT_IPV4)
		return is_local_v4(ep->u.ipv4);
	if (ep->type != T2S_ENDPOINT_IPV6)
		return 0;
	if (is_v4_mapped(a))
		return is_local_v4(a + 12);
	return (a[0] & 0xfe) == 0xfc || (a[0] == 0xfe && (a[1] & 0xc0) == 0x80) || memcmp(a, loopback6, 16) == 0;
}

static int
is_unspecified(const struct t2s_endpoint *ep)
{
	static const uint8_t zero[16];

	if (ep->type == T2S_ENDPOINT_IPV4)
		return memcmp(ep->u.ipv4, zero, 4) == 0;
	if (ep->type != T2S_ENDPOINT_IPV6)
		return 0;
	if (is_v4_mapped(ep->u.ipv6))
		return memcmp(ep->u.ipv6 + 12, zero, 4) == 0;
	return memcmp(ep->u.ipv6, zero, 16) == 0;
}

static int
sockaddr_len(const struct sockaddr_storage *ss, socklen_t *len)
{
	if (ss->ss_family == AF_INET)
		*len = sizeof(struct sockaddr_in);
	else if (ss->ss_family == AF_INET6)
		*len = sizeof(struct sockaddr_in6);
	else
		return -EAFNOSUPPORT;
	return 0;
}

int
socks5_udp_relay_addr(const struct sockaddr_storage *proxy, const struct t2s_endpoint *bnd,
		      const struct socks5_udp_config *cfg, struct sockaddr_storage *relay, socklen_t *relay_len)
{
	struct t2s_endpoint proxy_ep;
	int keep_private = cfg != NULL && cfg->keep_private_bnd;
	int err;

	if (cfg != NULL && cfg->relay_override.ss_family != AF_UNSPEC) {
		in_port_t *port;

		*relay = cfg->relay_override;
		port = relay->ss_family == AF_INET ? &((struct sockaddr_in *)relay)->sin_port
						   : &((struct sockaddr_in6 *)relay)->sin6_port;
		if (*port == 0) {
			/* Only the address is overridden: the port is the proxy's choice. */
			if (bnd->type == T2S_ENDPOINT_NONE || bnd->port == 0)
				return -EPROTO;
			*port = htons(bnd->port);
		}
		return sockaddr_len(relay, relay_len);
	}
	err = endpoint_from_sockaddr(&proxy_ep, (const struct sockaddr *)proxy);
	if (err < 0)
		return err;
	if (bnd->type == T2S_ENDPOINT_NONE || bnd->port == 0)
		return -EPROTO;
	if (bnd->type == T2S_ENDPOINT_DOMAIN || is_unspecified(bnd) ||
	    (!keep_private && is_local_scope(bnd) && !is_local_scope(&proxy_ep))) {
		/* Copy the sockaddr rather than rebuild it, to keep an IPv6 scope id. */
		*relay = *proxy;
		if (relay->ss_family == AF_INET)
			((struct sockaddr_in *)relay)->sin_port = htons(bnd->port);
		else
			((struct sockaddr_in6 *)relay)->sin6_port = htons(bnd->port);
		return sockaddr_len(relay, relay_len);
	}
	err = endpoint_to_sockaddr(bnd, relay, relay_len);
	if (err < 0)
		return err;
	/* A link-local relay is only meaningful on the link we reach the proxy through. */
	if (relay->ss_family == AF_INET6 && proxy->ss_family == AF_INET6)
		((struct sockaddr_in6 *)relay)->sin6_scope_id = ((const struct sockaddr_in6 *)proxy)->sin6_scope_id;
	return 0;
}

/* The proxy accepted UDP ASSOCIATE: pick the relay, open the UDP socket, report. */
static void
associate(struct socks5_udp *s)
{
	struct socks5_udp_result res;
	int fd, err;

	err = socks5_udp_relay_addr(&s->server->addr, &s->hs.bnd, &s->cfg, &s->relay, &s->relay_len);
	if (err < 0) {
		fail(s, SOCKS5_UDP_PROXY_PROTOCOL, err, 0);
		return;
	}
	/* Connected, so only the relay's datagrams arrive. Its port must never change
	 * during the association: given DST 0.0.0.0:0, dante accepts datagrams only from
	 * the source of the first one. */
	fd = sock_udp_connected((const struct sockaddr *)&s->relay, s->relay_len, s->server->fwmark,
				&s->server->hook);
	if (fd < 0) {
		fail(s, SOCKS5_UDP_RELAY, fd, 0);
		return;
	}
	s->relay_fd = fd;
	ev_io_set(&s->relay_io, fd, EV_READ);
	ev_io_start(s->loop, &s->relay_io);
	s->step = STEP_READY;
	io_watch_set(s->loop, &s->ctrl_io, EV_READ);
	memset(&res, 0, sizeof(res));
	res.failure = SOCKS5_UDP_OK;
	res.method = s->hs.method;
	res.bnd = s->hs.bnd;
	res.relay = s->relay;
	res.relay_len = s->relay_len;
	enter(s);
	s->cb.on_ready(s->arg, &res);
	(void)leave(s);
}

/* One step of the control handshake; on failure the session may be gone. */
static void
on_ctrl_handshake(struct socks5_udp *s, int revents)
{
	enum socks5_handshake_status st;

	if (s->hs.step == SOCKS5_HANDSHAKE_STEP_DONE)
		st = SOCKS5_HANDSHAKE_FAILED; /* failed in socks5_udp_new, reported from here */
	else if (revents & EV_WRITE)
		st = socks5_handshake_on_writable(&s->hs, s->ctrl_fd);
	else if (revents & EV_READ)
		st = socks5_handshake_on_readable(&s->hs, s->ctrl_fd);
	else
		return;
	switch (st) {
	case SOCKS5_HANDSHAKE_NEED_WRITE:
		io_watch_set(s->loop, &s->ctrl_io, EV_WRITE);
		return;
	case SOCKS5_HANDSHAKE_NEED_READ:
		io_watch_set(s->loop, &s->ctrl_io, EV_READ);
		return;
	case SOCKS5_HANDSHAKE_DONE:
		associate(s);
		return;
	case SOCKS5_HANDSHAKE_FAILED:
		break;
	}
	switch (s->hs.failure) {
	case SOCKS5_HANDSHAKE_PROXY_UNREACHABLE:
		fail(s, SOCKS5_UDP_PROXY_UNREACHABLE, s->hs.err, 0);
		return;
	case SOCKS5_HANDSHAKE_PROXY_AUTH:
		fail(s, SOCKS5_UDP_PROXY_AUTH, s->hs.err, 0);
		return;
	case SOCKS5_HANDSHAKE_REJECTED:
		/* REP 7 gets a class of its own: the proxy cannot do UDP at all, which the
		 * caller may want to remember rather than retry. */
		fail(s, s->hs.rep == SOCKS5_REP_CMD_UNSUPPORTED ? SOCKS5_UDP_UNSUPPORTED : SOCKS5_UDP_REJECTED,
		     s->hs.err, s->hs.rep);
		return;
	case SOCKS5_HANDSHAKE_PROXY_PROTOCOL:
		/* The proxy is up and accepted us, and ended the connection on the command:
		 * that is its answer to UDP ASSOCIATE, unlike a proxy that is down or
		 * closes before the greeting. Garbage in the reply stays a protocol error. */
		if (s->hs.failed_step == SOCKS5_HANDSHAKE_STEP_REQUEST &&
		    (s->hs.err == -ECONNRESET || s->hs.err == -EPIPE)) {
			fail(s, SOCKS5_UDP_CLOSED_ON_ASSOCIATE, s->hs.err, 0);
			return;
		}
		break;
	case SOCKS5_HANDSHAKE_OK:
		break;
	}
	fail(s, SOCKS5_UDP_PROXY_PROTOCOL, s->hs.err, 0);
}

/*
 * Reads up to one batch of datagrams from the relay and passes the good ones on.
 * Returns -1 when a callback freed the session (do not touch it), else 0.
 */
static int
drain_relay(struct socks5_udp *s)
{
	struct t2s_endpoint src;
	uint8_t frag;
	ssize_t n;
	int hlen;

	for (int i = 0; i < SOCKS5_UDP_RECV_BATCH; i++) {
		/* MSG_TRUNC: the real length, so a datagram too big for rbuf is seen as such. */
		n = recv(s->relay_fd, s->rbuf, s->rbuf_len, MSG_TRUNC);
		if (n < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
				return 0;
			/* A pending ICMP error, reported once; the association may still work. */
			s->counters.icmp_errors++;
			return 0;
		}
		if ((size_t)n > s->rbuf_len) {
			s->counters.dropped_malformed++;
			continue;
		}
		hlen = socks5_proto_decode_udp_header(s->rbuf, (size_t)n, &frag, &src);
		if (hlen < 0) {
			s->counters.dropped_malformed++;
			continue;
		}
		if (frag != 0) {
			s->counters.dropped_frag++;
			continue;
		}
		s->counters.received++;
		s->counters.received_bytes += (size_t)n - (size_t)hlen;
		if (s->cb.on_datagram == NULL)
			continue;
		enter(s);
		s->cb.on_datagram(s->arg, &src, s->rbuf + hlen, (size_t)n - (size_t)hlen);
		if (leave(s) < 0)
			return -1;
		if (s->step != STEP_READY)
			return 0;
	}
	return 0;
}

/*
 * After setup the proxy has nothing more to say on the control connection; any bytes
 * are discarded, and its end is the end of the association. Datagrams the relay sent
 * before that are already queued on our socket: they are delivered first (one batch).
 */
static void
on_ctrl_readable_associated(struct socks5_udp *s)
{
	ssize_t n;
	int err;

	n = recv(s->ctrl_fd, s->hs.in, sizeof(s->hs.in), 0);
	if (n > 0)
		return;
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	err = n == 0 ? 0 : -errno;
	if (drain_relay(s) < 0 || s->step != STEP_READY)
		return;
	die(s, err);
}

static void
socks5_udp_ctrl_io_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct socks5_udp *s = container_of(w, struct socks5_udp, ctrl_io);

	(void)loop;
	assert(s->step != STEP_DEAD && s->ctrl_fd >= 0 && "control watcher fired on a dead session");
	if (s->step == STEP_READY)
		on_ctrl_readable_associated(s);
	else
		on_ctrl_handshake(s, revents);
}

static void
socks5_udp_relay_io_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct socks5_udp *s = container_of(w, struct socks5_udp, relay_io);

	(void)loop;
	(void)revents;
	assert(s->step == STEP_READY && s->relay_fd >= 0 && "relay watcher fired outside the association");
	(void)drain_relay(s);
}

struct socks5_udp *
socks5_udp_new(struct ev_loop *loop, const struct socks5_server *server, const struct socks5_udp_config *cfg,
	       const struct socks5_udp_callbacks *cb, void *arg)
{
	/* RFC 1928: DST is the address the client will send from; all zeros says "not
	 * known yet", in the family of the proxy. */
	struct t2s_endpoint any = {.type = server->addr.ss_family == AF_INET6 ? T2S_ENDPOINT_IPV6
									     : T2S_ENDPOINT_IPV4};
	enum socks5_handshake_status st;
	struct socks5_udp *s;
	bool shared;
	int fd;

	if (cb == NULL || cb->on_ready == NULL) {
		errno = EINVAL;
		return NULL;
	}
	fd = sock_connect_nb((const struct sockaddr *)&server->addr, server->addrlen, server->fwmark, &server->hook);
	if (fd < 0) {
		errno = -fd;
		return NULL;
	}
	shared = cfg != NULL && cfg->recv_buf != NULL && cfg->recv_buf_len >= SOCKS5_UDP_RECV_BUF;
	s = calloc(1, sizeof(*s) + (shared ? 0 : SOCKS5_UDP_RECV_BUF));
	if (s == NULL) {
		close(fd);
		errno = ENOMEM;
		return NULL;
	}
	s->rbuf = shared ? cfg->recv_buf : s->rbuf_own;
	s->rbuf_len = shared ? cfg->recv_buf_len : SOCKS5_UDP_RECV_BUF;
	s->loop = loop;
	s->ctrl_fd = fd;
	s->relay_fd = -1;
	s->step = STEP_HANDSHAKE;
	s->server = server;
	if (cfg != NULL)
		s->cfg = *cfg;
	s->cb = *cb;
	s->arg = arg;
	socks5_handshake_init(&s->hs, server, SOCKS5_CMD_UDP_ASSOCIATE, &any);
	ev_io_init(&s->relay_io, socks5_udp_relay_io_cb, -1, EV_READ);
	/* The greeting goes out now if the connection is already up (socks5_handshake.h). */
	st = socks5_handshake_on_connect_started(&s->hs, fd);
	/* FAILED too watches for EV_WRITE: reported from the loop (socks5_handshake.h). */
	ev_io_init(&s->ctrl_io, socks5_udp_ctrl_io_cb, fd, st == SOCKS5_HANDSHAKE_NEED_READ ? EV_READ : EV_WRITE);
	ev_io_start(loop, &s->ctrl_io);
	return s;
}

/* Errors that a UDP socket may hold from an ICMP message (they can also be immediate,
 * e.g. no route: then the second try fails the same way). */
static int
is_icmp_errno(int err)
{
	return err == ECONNREFUSED || err == EHOSTUNREACH || err == ENETUNREACH || err == EHOSTDOWN;
}

int
socks5_udp_send(struct socks5_udp *s, const struct t2s_endpoint *dst, const uint8_t *payload, size_t len)
{
	uint8_t hdr[SOCKS5_MAX_UDP_HEADER];
	struct iovec iov[2];
	struct msghdr msg;
	ssize_t n;
	int hlen, err;

	if (s->step != STEP_READY)
		return -ENOTCONN;
	hlen = socks5_proto_encode_udp_header(hdr, sizeof(hdr), dst);
	if (hlen < 0) {
		s->counters.send_errors++;
		return hlen;
	}
	iov[0].iov_base = hdr;
	iov[0].iov_len = (size_t)hlen;
	iov[1].iov_base = (void *)payload;
	iov[1].iov_len = len;
	memset(&msg, 0, sizeof(msg));
	msg.msg_iov = iov;
	msg.msg_iovlen = len > 0 ? 2 : 1;
	n = sendmsg(s->relay_fd, &msg, MSG_DONTWAIT | MSG_NOSIGNAL);
	if (n < 0 && is_icmp_errno(errno)) {
		/* A connected UDP socket fails the next call with an ICMP error that arrived
		 * for an earlier datagram, maybe to another target; the failed call has
		 * consumed it, so this datagram gets its own try. */
		s->counters.icmp_errors++;
		n = sendmsg(s->relay_fd, &msg, MSG_DONTWAIT | MSG_NOSIGNAL);
	}
	if (n < 0) {
		err = errno == EWOULDBLOCK ? -EAGAIN : -errno;
		s->counters.send_errors++;
		return err;
	}
	s->counters.sent++;
	s->counters.sent_bytes += len;
	return 0;
}

const struct socks5_udp_counters *
socks5_udp_get_counters(const struct socks5_udp *s)
{
	return &s->counters;
}

void
socks5_udp_rebind(struct socks5_udp *s, const struct socks5_udp_callbacks *cb, void *arg)
{
	s->cb = *cb;
	s->arg = arg;
}

int
socks5_udp_is_ready(const struct socks5_udp *s)
{
	return s->step == STEP_READY;
}

void
socks5_udp_free(struct socks5_udp *s)
{
	if (s == NULL)
		return;
	shut(s);
	s->step = STEP_DEAD;
	if (s->refs > 0) {
		/* Called from one of our callbacks: the frame that called it frees on unwind. */
		s->closing = 1;
		return;
	}
	destroy(s);
}
