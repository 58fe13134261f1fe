/* SPDX-License-Identifier: MIT */
/*
 * The SOCKS5 handshake as a small state machine over one fd. Each step writes one
 * request and waits for its whole reply; replies are decoded by socks5_proto from the
 * bytes accumulated so far, so any split or coalescing by TCP is fine.
 */
#include "socks5_handshake.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>

#include "sock.h"

void
socks5_handshake_init(struct socks5_handshake *hs, const struct socks5_server *server, uint8_t cmd,
		      const struct t2s_endpoint *target)
{
	memset(hs, 0, sizeof(*hs));
	hs->step = SOCKS5_HANDSHAKE_STEP_CONNECTING;
	hs->server = server;
	hs->user = server->user;
	hs->pass = server->pass;
	hs->cmd = cmd;
	hs->target = *target;
	hs->method = SOCKS5_METHOD_UNACCEPTABLE;
}

static enum socks5_handshake_status
finish(struct socks5_handshake *hs, enum socks5_handshake_failure failure, int err, uint8_t rep)
{
	if (failure != SOCKS5_HANDSHAKE_OK)
		hs->failed_step = hs->step;
	hs->step = SOCKS5_HANDSHAKE_STEP_DONE;
	hs->failure = failure;
	hs->err = err;
	hs->rep = rep;
	return failure == SOCKS5_HANDSHAKE_OK ? SOCKS5_HANDSHAKE_DONE : SOCKS5_HANDSHAKE_FAILED;
}

/* Queues the request for the current step; the caller then waits for writability. */
static int
prepare_request(struct socks5_handshake *hs)
{
	int n;

	switch (hs->step) {
	case SOCKS5_HANDSHAKE_STEP_METHOD:
		n = socks5_proto_encode_greeting(hs->out, sizeof(hs->out), hs->user != NULL);
		break;
	case SOCKS5_HANDSHAKE_STEP_AUTH:
		n = socks5_proto_encode_userpass(hs->out, sizeof(hs->out), hs->user, hs->pass);
		break;
	case SOCKS5_HANDSHAKE_STEP_REQUEST:
		n = socks5_proto_encode_request(hs->out, sizeof(hs->out), hs->cmd, &hs->target);
		break;
	default:
		return -EINVAL;
	}
	if (n < 0)
		return n;
	hs->out_off = 0;
	hs->out_len = (size_t)n;
	hs->in_len = 0;
	return 0;
}

void
socks5_handshake_pipeline(struct socks5_handshake *hs, uint8_t method)
{
	if (method == SOCKS5_METHOD_USERPASS && hs->user == NULL)
		return; /* learned with other credentials: step by step */
	hs->pipelined = true;
	hs->expect_method = method;
}

/* Queues every request at once, for a pipelined handshake. */
static int
prepare_pipelined(struct socks5_handshake *hs)
{
	size_t len = 0;
	int n;

	n = socks5_proto_encode_greeting(hs->out, sizeof(hs->out), hs->user != NULL);
	if (n < 0)
		return n;
	len += (size_t)n;
	if (hs->expect_method == SOCKS5_METHOD_USERPASS) {
		n = socks5_proto_encode_userpass(hs->out + len, sizeof(hs->out) - len, hs->user, hs->pass);
		if (n < 0)
			return n;
		len += (size_t)n;
	}
	n = socks5_proto_encode_request(hs->out + len, sizeof(hs->out) - len, hs->cmd, &hs->target);
	if (n < 0)
		return n;
	hs->out_off = 0;
	hs->out_len = len + (size_t)n;
	hs->in_len = 0;
	return 0;
}

static enum socks5_handshake_status handle_reply(struct socks5_handshake *hs);

/* Drops the n bytes of the reply just decoded, keeping what followed it (pipelined). */
static void
consume(struct socks5_handshake *hs, size_t n)
{
	memmove(hs->in, hs->in + n, hs->in_len - n);
	hs->in_len -= n;
}

static enum socks5_handshake_status
advance(struct socks5_handshake *hs, enum socks5_handshake_step next)
{
	int err;

	if (hs->pipelined && next != SOCKS5_HANDSHAKE_STEP_METHOD) {
		/* Already sent: its reply may have begun in what was read (consume kept it). */
		hs->step = next;
		return hs->in_len > 0 ? handle_reply(hs) : SOCKS5_HANDSHAKE_NEED_READ;
	}
	hs->step = next;
	if (hs->pipelined) {
		err = prepare_pipelined(hs);
		if (err < 0)
			return finish(hs, SOCKS5_HANDSHAKE_PROXY_PROTOCOL, err, 0);
		return SOCKS5_HANDSHAKE_NEED_WRITE;
	}
	err = prepare_request(hs);
	if (err < 0)
		return finish(hs, SOCKS5_HANDSHAKE_PROXY_PROTOCOL, err, 0);
	return SOCKS5_HANDSHAKE_NEED_WRITE;
}

/* Consumes one whole reply for the current step, once it has all arrived. */
static enum socks5_handshake_status
handle_reply(struct socks5_handshake *hs)
{
	uint8_t status;
	int n;

	switch (hs->step) {
	case SOCKS5_HANDSHAKE_STEP_METHOD:
		n = socks5_proto_decode_method(hs->in, hs->in_len, &hs->method);
		if (n == SOCKS5_NEED_MORE)
			return SOCKS5_HANDSHAKE_NEED_READ;
		if (n < 0)
			return finish(hs, SOCKS5_HANDSHAKE_PROXY_PROTOCOL, n, 0);
		if (hs->pipelined && hs->method != hs->expect_method && hs->method != SOCKS5_METHOD_UNACCEPTABLE) {
			/* The proxy reads what we sent after the greeting as something else. */
			hs->mismatch = true;
			return finish(hs, SOCKS5_HANDSHAKE_PROXY_PROTOCOL, -EPROTO, 0);
		}
		consume(hs, (size_t)n);
		if (hs->method == SOCKS5_METHOD_USERPASS && hs->user != NULL)
			return advance(hs, SOCKS5_HANDSHAKE_STEP_AUTH);
		if (hs->method == SOCKS5_METHOD_NONE)
			return advance(hs, SOCKS5_HANDSHAKE_STEP_REQUEST);
		/* 0xff, or a method we did not offer. */
		return finish(hs, SOCKS5_HANDSHAKE_PROXY_AUTH, -EACCES, 0);
	case SOCKS5_HANDSHAKE_STEP_AUTH:
		n = socks5_proto_decode_userpass_reply(hs->in, hs->in_len, &status);
		if (n == SOCKS5_NEED_MORE)
			return SOCKS5_HANDSHAKE_NEED_READ;
		if (n < 0)
			return finish(hs, SOCKS5_HANDSHAKE_PROXY_PROTOCOL, n, 0);
		if (status != 0)
			return finish(hs, SOCKS5_HANDSHAKE_PROXY_AUTH, -EACCES, 0);
		consume(hs, (size_t)n);
		return advance(hs, SOCKS5_HANDSHAKE_STEP_REQUEST);
	case SOCKS5_HANDSHAKE_STEP_REQUEST:
		n = socks5_proto_decode_reply(hs->in, hs->in_len, &status, &hs->bnd);
		if (n == SOCKS5_NEED_MORE)
			return SOCKS5_HANDSHAKE_NEED_READ;
		if (n < 0)
			return finish(hs, SOCKS5_HANDSHAKE_PROXY_PROTOCOL, n, 0);
		if (status != SOCKS5_REP_SUCCEEDED)
			return finish(hs, SOCKS5_HANDSHAKE_REJECTED, -socks5_proto_rep_errno(status), status);
		return finish(hs, SOCKS5_HANDSHAKE_OK, 0, 0);
	default:
		return finish(hs, SOCKS5_HANDSHAKE_PROXY_PROTOCOL, -EINVAL, 0);
	}
}

enum socks5_handshake_status
socks5_handshake_on_writable(struct socks5_handshake *hs, int fd)
{
	enum socks5_handshake_status st;
	ssize_t n;
	int err;

	if (hs->step == SOCKS5_HANDSHAKE_STEP_CONNECTING) {
		err = sock_error(fd);
		if (err < 0)
			return finish(hs, SOCKS5_HANDSHAKE_PROXY_UNREACHABLE, err, 0);
		/* Just connected, so the socket has room: the first request goes out now,
		 * not after another trip through the event loop. */
		st = advance(hs, SOCKS5_HANDSHAKE_STEP_METHOD);
		if (st != SOCKS5_HANDSHAKE_NEED_WRITE)
			return st;
	}
	n = send(fd, hs->out + hs->out_off, hs->out_len - hs->out_off, MSG_NOSIGNAL);
	if (n < 0) {
		if (errno == EAGAIN || errno == EINTR)
			return SOCKS5_HANDSHAKE_NEED_WRITE;
		return finish(hs, SOCKS5_HANDSHAKE_PROXY_PROTOCOL, -errno, 0);
	}
	hs->out_off += (size_t)n;
	if (hs->out_off == hs->out_len)
		return SOCKS5_HANDSHAKE_NEED_READ;
	return SOCKS5_HANDSHAKE_NEED_WRITE;
}

enum socks5_handshake_status
socks5_handshake_on_connect_started(struct socks5_handshake *hs, int fd)
{
	enum socks5_handshake_status st;
	ssize_t n;

	if (hs->step != SOCKS5_HANDSHAKE_STEP_CONNECTING)
		return finish(hs, SOCKS5_HANDSHAKE_PROXY_PROTOCOL, -EINVAL, 0);
	st = advance(hs, SOCKS5_HANDSHAKE_STEP_METHOD);
	if (st != SOCKS5_HANDSHAKE_NEED_WRITE)
		return st;
	/* A socket still in SYN_SENT refuses a non-blocking send with EAGAIN and takes
	 * nothing; one whose connect failed reports why. */
	n = send(fd, hs->out, hs->out_len, MSG_NOSIGNAL);
	if (n < 0) {
		if (errno == EAGAIN || errno == EINTR) {
			hs->step = SOCKS5_HANDSHAKE_STEP_CONNECTING; /* on_writable prepares again */
			return SOCKS5_HANDSHAKE_NEED_WRITE;
		}
		hs->step = SOCKS5_HANDSHAKE_STEP_CONNECTING;
		return finish(hs, SOCKS5_HANDSHAKE_PROXY_UNREACHABLE, -errno, 0);
	}
	hs->out_off = (size_t)n;
	return hs->out_off == hs->out_len ? SOCKS5_HANDSHAKE_NEED_READ : SOCKS5_HANDSHAKE_NEED_WRITE;
}

/* The shortest CONNECT or ASSOCIATE reply: a domain of length 0. */
#define REPLY_MIN (4 + 1 + 2)

/* How many more bytes the current reply needs, judged from what has arrived; never a
 * byte past its end (nor, pipelined, past the end of the replies still to come). */
static size_t
reply_bytes_missing(const struct socks5_handshake *hs)
{
	size_t total;

	if (hs->step != SOCKS5_HANDSHAKE_STEP_REQUEST) {
		/* VER METHOD, or VER STATUS; pipelined, also what is sure to follow: the
		 * credentials' reply, and the shortest request reply there is (VER REP RSV
		 * ATYP, a domain's length byte 0, the port). */
		total = 2;
		if (hs->pipelined && hs->step == SOCKS5_HANDSHAKE_STEP_METHOD &&
		    hs->expect_method == SOCKS5_METHOD_USERPASS)
			total += 2;
		if (hs->pipelined)
			total += REPLY_MIN;
		return total > hs->in_len ? total - hs->in_len : 1;
	}
	if (hs->in_len < 5)
		return 5 - hs->in_len; /* VER REP RSV ATYP and the first address byte */
	switch (hs->in[3]) {
	case SOCKS5_ATYP_IPV4:
		total = 4 + 4 + 2;
		break;
	case SOCKS5_ATYP_IPV6:
		total = 4 + 16 + 2;
		break;
	case SOCKS5_ATYP_DOMAIN:
		total = 4 + 1 + (size_t)hs->in[4] + 2;
		break;
	default:
		total = hs->in_len + 1; /* the decoder rejects it on the next byte */
		break;
	}
	return total > hs->in_len ? total - hs->in_len : 1;
}

enum socks5_handshake_status
socks5_handshake_on_readable(struct socks5_handshake *hs, int fd)
{
	enum socks5_handshake_status st = SOCKS5_HANDSHAKE_NEED_READ;
	size_t want;
	ssize_t n;

	/* Read exactly up to the end of the current reply: after CONNECT, a server-first
	 * protocol (SSH, SMTP) may send its banner right behind the reply, and those bytes
	 * belong to the relayed stream; after UDP ASSOCIATE, an early EOF stays in a read
	 * of its own. A read that got all it asked for is followed at once by the next
	 * (the rest of a reply usually came in the same segment). */
	for (int i = 0; i < 4 && st == SOCKS5_HANDSHAKE_NEED_READ; i++) {
		want = reply_bytes_missing(hs);
		n = recv(fd, hs->in + hs->in_len, want, 0);
		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR)
				return SOCKS5_HANDSHAKE_NEED_READ;
			return finish(hs, SOCKS5_HANDSHAKE_PROXY_PROTOCOL, -errno, 0);
		}
		if (n == 0)
			return finish(hs, SOCKS5_HANDSHAKE_PROXY_PROTOCOL, -ECONNRESET, 0);
		hs->in_len += (size_t)n;
		st = handle_reply(hs);
		if ((size_t)n < want)
			break;
	}
	return st;
}
