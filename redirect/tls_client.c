/* SPDX-License-Identifier: MIT */
/*
 * OpenSSL client context and connections (tls_client.h): the handshake driven by
 * SSL_want_read/SSL_want_write on one ev_io, then a relay between the TLS stream and a
 * local socketpair with one 16 KiB buffer each way. Each buffer is refilled only once
 * it is empty, so a retried SSL_write always sees the same bytes, as OpenSSL requires.
 */
#include "tls_client.h"

#include <arpa/inet.h>
#include <assert.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/sha.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "container_of.h"
#include "io_watch.h"
#include "list.h"
#include "sock.h"
#include "tls_pin.h"

#define TLS_CONN_BUF 16384
#define REASON_MAX 160

struct tls_client {
	struct ev_loop *loop;
	SSL_CTX *ctx;
	char host[256];
	bool host_is_ip;
	bool pinned;
	double idle_timeout;
	uint8_t pin[TLS_PIN_LEN];
	SSL_SESSION *session; /* the last one the proxy gave us; new connections offer it */
	struct list_node conns;
	struct tls_client_stats stats;
};

enum step {
	STEP_CONNECTING,
	STEP_HANDSHAKE,
	STEP_RELAY,
	STEP_DEAD, /* ended; waits for tls_conn_free (not detached) */
};

struct tls_conn {
	struct tls_client *client;
	struct list_node link; /* in client->conns */
	SSL *ssl;
	int fd;   /* TCP to the proxy */
	int pair; /* our end of the socketpair */
	ev_io io; /* on fd */
	ev_io pio; /* on pair */
	ev_timer idle; /* while relaying: no byte moved for client->idle_timeout */
	enum step step;
	bool detached, relaying;
	bool plain_eof, tls_eof, notify_sent, plain_shut;
	int read_wants, write_wants; /* what the last SSL_read / SSL_write (or shutdown) waits for */
	tls_conn_failed_fn failed;
	void *arg;
	size_t up_off, up_len, down_off, down_len;
	char reason[REASON_MAX];
	uint8_t up[TLS_CONN_BUF];   /* plain -> TLS */
	uint8_t down[TLS_CONN_BUF]; /* TLS -> plain */
};

static int
new_session_cb(SSL *ssl, SSL_SESSION *sess)
{
	struct tls_client *c = SSL_CTX_get_app_data(SSL_get_SSL_CTX(ssl));

	if (c->session != NULL)
		SSL_SESSION_free(c->session);
	c->session = sess;
	return 1; /* we keep the reference */
}

static void
openssl_reason(char *buf, size_t cap, const char *what)
{
	unsigned long e = ERR_get_error();
	char es[120];

	if (e == 0) {
		snprintf(buf, cap, "%s", what);
		return;
	}
	ERR_error_string_n(e, es, sizeof(es));
	snprintf(buf, cap, "%s: %s", what, es);
	ERR_clear_error();
}

struct tls_client *
tls_client_new(struct ev_loop *loop, const struct tls_client_params *p, char *err, size_t errlen)
{
	struct tls_client *c;
	struct in6_addr a6;
	struct in_addr a4;

	if (p->host == NULL || p->host[0] == '\0' || strlen(p->host) >= sizeof(c->host)) {
		snprintf(err, errlen, "TLS: no proxy host name to check");
		return NULL;
	}
	c = calloc(1, sizeof(*c));
	if (c == NULL) {
		snprintf(err, errlen, "TLS: out of memory");
		return NULL;
	}
	c->loop = loop;
	c->idle_timeout = p->idle_timeout > 0 ? p->idle_timeout : 7440.0;
	list_init(&c->conns);
	snprintf(c->host, sizeof(c->host), "%s", p->host);
	c->host_is_ip = inet_pton(AF_INET, c->host, &a4) == 1 || inet_pton(AF_INET6, c->host, &a6) == 1;
	if (p->pin != NULL) {
		c->pinned = true;
		memcpy(c->pin, p->pin, TLS_PIN_LEN);
	}
	ERR_clear_error();
	c->ctx = SSL_CTX_new(TLS_client_method());
	if (c->ctx == NULL) {
		openssl_reason(err, errlen, "TLS: cannot create a context");
		goto err_free;
	}
	SSL_CTX_set_app_data(c->ctx, c);
	SSL_CTX_set_min_proto_version(c->ctx, TLS1_2_VERSION);
	SSL_CTX_set_verify(c->ctx, SSL_VERIFY_PEER, NULL);
	SSL_CTX_set_mode(c->ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	SSL_CTX_set_session_cache_mode(c->ctx, SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
	SSL_CTX_sess_set_new_cb(c->ctx, new_session_cb);
	if (p->ca_file != NULL) {
		if (SSL_CTX_load_verify_locations(c->ctx, p->ca_file, NULL) != 1) {
			char what[300];

			snprintf(what, sizeof(what), "TLS: cannot load CA certificates from %s", p->ca_file);
			openssl_reason(err, errlen, what);
			goto err_ctx;
		}
	} else if (SSL_CTX_set_default_verify_paths(c->ctx) != 1) {
		openssl_reason(err, errlen, "TLS: cannot use the system's CA store");
		goto err_ctx;
	}
	return c;

err_ctx:
	SSL_CTX_free(c->ctx);
err_free:
	free(c);
	return NULL;
}

const struct tls_client_stats *
tls_client_get_stats(const struct tls_client *c)
{
	return &c->stats;
}

static void
conn_release(struct tls_conn *t)
{
	ev_io_stop(t->client->loop, &t->io);
	ev_io_stop(t->client->loop, &t->pio);
	ev_timer_stop(t->client->loop, &t->idle);
	if (t->ssl != NULL) {
		SSL_free(t->ssl);
		t->ssl = NULL;
	}
	if (t->fd >= 0) {
		close(t->fd);
		t->fd = -1;
	}
	if (t->pair >= 0) {
		close(t->pair);
		t->pair = -1;
	}
	if (t->relaying) {
		t->relaying = false;
		t->client->stats.relays--;
	}
	explicit_bzero(t->up, sizeof(t->up));
	explicit_bzero(t->down, sizeof(t->down));
}

static void
conn_free(struct tls_conn *t)
{
	conn_release(t);
	list_remove(&t->link);
	free(t);
}

void
tls_client_close_all(struct tls_client *c)
{
	struct list_node *n, *next;

	if (c == NULL)
		return;
	for (n = c->conns.next; n != &c->conns; n = next) {
		struct tls_conn *t = container_of(n, struct tls_conn, link);

		next = n->next;
		assert(t->detached && "a session still owns this connection");
		conn_free(t);
	}
}

void
tls_client_free(struct tls_client *c)
{
	if (c == NULL)
		return;
	tls_client_close_all(c);
	if (c->session != NULL)
		SSL_SESSION_free(c->session);
	SSL_CTX_free(c->ctx);
	free(c);
}

/* Ends the connection: a detached one frees itself, else it waits for tls_conn_free. */
static void
conn_end(struct tls_conn *t)
{
	if (t->detached) {
		conn_free(t);
		return;
	}
	conn_release(t);
	t->step = STEP_DEAD;
}

/* Before the handshake ended: report (the callee frees t) and return at once. */
static void
conn_fail(struct tls_conn *t, enum proxy_tcp_failure failure, int err)
{
	if (failure == PROXY_TCP_TLS) {
		t->client->stats.failed++;
		/* Never offer a session again after a failure: the next one starts afresh. */
		if (t->client->session != NULL) {
			SSL_SESSION_free(t->client->session);
			t->client->session = NULL;
		}
	}
	conn_release(t);
	t->step = STEP_DEAD;
	t->failed(t->arg, failure, err, t->reason);
}

static void
set_watchers(struct tls_conn *t)
{
	int ev = 0, pev = 0;

	if (!t->tls_eof && t->down_len == 0)
		ev |= t->read_wants ? t->read_wants : EV_READ;
	if (t->up_len > 0 || (t->plain_eof && !t->notify_sent))
		ev |= t->write_wants ? t->write_wants : EV_WRITE;
	if (t->up_len == 0 && !t->plain_eof)
		pev |= EV_READ;
	if (t->down_len > 0)
		pev |= EV_WRITE;
	io_watch_set(t->client->loop, &t->io, ev);
	io_watch_set(t->client->loop, &t->pio, pev);
}

/* SSL_get_error of a failed call as the events to wait for, or -1 for an error. */
static int
ssl_wants(struct tls_conn *t, int r)
{
	switch (SSL_get_error(t->ssl, r)) {
	case SSL_ERROR_WANT_READ:
		return EV_READ;
	case SSL_ERROR_WANT_WRITE:
		return EV_WRITE;
	default:
		return -1;
	}
}

/* Moves bytes both ways until nothing more can move now. Returns false if t ended. */
static bool
relay(struct tls_conn *t)
{
	bool progress, moved = false;
	ssize_t n;
	int r, w;

	do {
		progress = false;
		if (t->up_len == 0 && !t->plain_eof) {
			n = recv(t->pair, t->up, sizeof(t->up), 0);
			if (n > 0) {
				t->up_off = 0;
				t->up_len = (size_t)n;
				progress = true;
			} else if (n == 0) {
				t->plain_eof = true;
				progress = true;
			} else if (errno != EAGAIN && errno != EINTR) {
				goto end;
			}
		}
		if (t->up_len > 0) {
			ERR_clear_error();
			r = SSL_write(t->ssl, t->up + t->up_off, (int)t->up_len);
			if (r > 0) {
				t->up_off += (size_t)r;
				t->up_len -= (size_t)r;
				t->write_wants = 0;
				progress = true;
			} else if ((w = ssl_wants(t, r)) < 0) {
				goto end;
			} else {
				t->write_wants = w;
			}
		}
		if (t->plain_eof && t->up_len == 0 && !t->notify_sent) {
			ERR_clear_error();
			r = SSL_shutdown(t->ssl); /* close_notify: our half only; we keep reading */
			if (r >= 0) {
				t->notify_sent = true;
				t->write_wants = 0;
				progress = true;
			} else if ((w = ssl_wants(t, r)) < 0) {
				goto end;
			} else {
				t->write_wants = w;
			}
		}
		if (t->down_len == 0 && !t->tls_eof) {
			ERR_clear_error();
			r = SSL_read(t->ssl, t->down, sizeof(t->down));
			if (r > 0) {
				t->down_off = 0;
				t->down_len = (size_t)r;
				t->read_wants = 0;
				progress = true;
			} else if (SSL_get_error(t->ssl, r) == SSL_ERROR_ZERO_RETURN) {
				t->tls_eof = true; /* close_notify */
				progress = true;
			} else if ((w = ssl_wants(t, r)) < 0) {
				goto end; /* an EOF without close_notify too: it may be a truncation */
			} else {
				t->read_wants = w;
			}
		}
		if (t->down_len > 0) {
			n = send(t->pair, t->down + t->down_off, t->down_len, MSG_NOSIGNAL);
			if (n > 0) {
				t->down_off += (size_t)n;
				t->down_len -= (size_t)n;
				progress = true;
			} else if (n < 0 && errno != EAGAIN && errno != EINTR) {
				goto end;
			}
		}
		if (t->tls_eof && t->down_len == 0 && !t->plain_shut) {
			(void)shutdown(t->pair, SHUT_WR);
			t->plain_shut = true;
			progress = true;
		}
		moved |= progress;
	} while (progress);
	if (t->plain_eof && t->notify_sent && t->plain_shut)
		goto end; /* both directions finished */
	if (moved)
		ev_timer_again(t->client->loop, &t->idle);
	set_watchers(t);
	return true;
end:
	conn_end(t);
	return false;
}

/* Checks the pin (if any) on the certificate, from the handshake or the resumed session. */
static bool
pin_ok(struct tls_conn *t)
{
	struct tls_client *c = t->client;
	X509 *cert;
	unsigned char *der = NULL;
	unsigned char md[SHA256_DIGEST_LENGTH];
	char b64[4 * ((SHA256_DIGEST_LENGTH + 2) / 3) + 1];
	int len;

	if (!c->pinned)
		return true;
	cert = SSL_get0_peer_certificate(t->ssl);
	if (cert == NULL) {
		snprintf(t->reason, sizeof(t->reason), "no certificate to check --proxy-pin against");
		return false;
	}
	len = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(cert), &der);
	if (len <= 0) {
		snprintf(t->reason, sizeof(t->reason), "cannot encode the certificate's public key");
		return false;
	}
	SHA256(der, (size_t)len, md);
	OPENSSL_free(der);
	if (CRYPTO_memcmp(md, c->pin, sizeof(md)) == 0)
		return true;
	EVP_EncodeBlock((unsigned char *)b64, md, sizeof(md));
	snprintf(t->reason, sizeof(t->reason), "the certificate's public key does not match --proxy-pin (it is sha256:%s)",
		 b64);
	return false;
}

static void
handshake(struct tls_conn *t)
{
	long v;
	int r, w;

	ERR_clear_error();
	r = SSL_connect(t->ssl);
	if (r == 1) {
		if (!pin_ok(t)) {
			conn_fail(t, PROXY_TCP_TLS, -EPERM);
			return;
		}
		t->client->stats.handshakes++;
		if (SSL_session_reused(t->ssl))
			t->client->stats.resumed++;
		t->step = STEP_RELAY;
		t->relaying = true;
		t->client->stats.relays++;
		ev_timer_again(t->client->loop, &t->idle);
		(void)relay(t);
		return;
	}
	w = ssl_wants(t, r);
	if (w > 0) {
		io_watch_set(t->client->loop, &t->io, w);
		return;
	}
	v = SSL_get_verify_result(t->ssl);
	if (v != X509_V_OK) {
		snprintf(t->reason, sizeof(t->reason), "certificate verify failed: %s", X509_verify_cert_error_string(v));
		ERR_clear_error();
		conn_fail(t, PROXY_TCP_TLS, -EPERM);
		return;
	}
	if (ERR_peek_error() == 0 && SSL_get_error(t->ssl, r) == SSL_ERROR_SYSCALL) {
		int e = errno;

		snprintf(t->reason, sizeof(t->reason), "the proxy closed the connection during the TLS handshake%s%s",
			 e != 0 ? ": " : "", e != 0 ? strerror(e) : "");
		conn_fail(t, PROXY_TCP_TLS, e != 0 ? -e : -ECONNRESET);
		return;
	}
	openssl_reason(t->reason, sizeof(t->reason), "handshake failed");
	conn_fail(t, PROXY_TCP_TLS, -EPROTO);
}

static void
tls_conn_io_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct tls_conn *t = container_of(w, struct tls_conn, io);
	int err;

	(void)loop;
	(void)revents;
	assert(t->step != STEP_DEAD && "watcher of an ended connection fired");
	switch (t->step) {
	case STEP_CONNECTING:
		err = sock_error(t->fd);
		if (err < 0) {
			snprintf(t->reason, sizeof(t->reason), "%s", strerror(-err));
			conn_fail(t, PROXY_TCP_UNREACHABLE, err);
			return;
		}
		t->step = STEP_HANDSHAKE;
		handshake(t);
		return;
	case STEP_HANDSHAKE:
		handshake(t);
		return;
	case STEP_RELAY:
		(void)relay(t);
		return;
	case STEP_DEAD:
		return;
	}
}

static void
tls_conn_pair_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct tls_conn *t = container_of(w, struct tls_conn, pio);

	(void)loop;
	(void)revents;
	assert(t->step == STEP_RELAY && "the plain side is watched only while relaying");
	(void)relay(t);
}

static void
tls_conn_idle_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct tls_conn *t = container_of(w, struct tls_conn, idle);

	(void)loop;
	(void)revents;
	assert(t->step == STEP_RELAY && "idle timer of a connection not relaying");
	conn_end(t);
}

struct tls_conn *
tls_conn_new(struct tls_client *c, const struct socks5_server *server, tls_conn_failed_fn failed, void *arg,
	     int *plain_fd)
{
	struct tls_conn *t;
	int sv[2], err;

	t = calloc(1, sizeof(*t));
	if (t == NULL) {
		errno = ENOMEM;
		return NULL;
	}
	t->client = c;
	t->failed = failed;
	t->arg = arg;
	t->fd = -1;
	t->pair = -1;
	list_node_init(&t->link);
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) < 0) {
		err = errno;
		goto err_free;
	}
	t->pair = sv[1];
	t->fd = sock_connect_nb((const struct sockaddr *)&server->addr, server->addrlen, server->fwmark, &server->hook);
	if (t->fd < 0) {
		err = -t->fd;
		t->fd = -1;
		goto err_pair;
	}
	ERR_clear_error();
	t->ssl = SSL_new(c->ctx);
	if (t->ssl == NULL || SSL_set_fd(t->ssl, t->fd) != 1) {
		err = ENOMEM;
		goto err_pair;
	}
	if (c->host_is_ip) {
		if (X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(t->ssl), c->host) != 1) {
			err = EINVAL;
			goto err_pair;
		}
	} else if (SSL_set_tlsext_host_name(t->ssl, c->host) != 1 || SSL_set1_host(t->ssl, c->host) != 1) {
		err = EINVAL;
		goto err_pair;
	}
	if (c->session != NULL)
		(void)SSL_set_session(t->ssl, c->session);
	ev_io_init(&t->io, tls_conn_io_cb, t->fd, EV_WRITE);
	ev_io_init(&t->pio, tls_conn_pair_cb, t->pair, 0);
	ev_init(&t->idle, tls_conn_idle_cb);
	t->idle.repeat = c->idle_timeout;
	ev_io_start(c->loop, &t->io);
	list_push_back(&c->conns, &t->link);
	t->step = STEP_CONNECTING;
	*plain_fd = sv[0];
	return t;

err_pair:
	close(sv[0]);
	conn_release(t);
err_free:
	ERR_clear_error();
	free(t);
	errno = err;
	return NULL;
}

void
tls_conn_detach(struct tls_conn *t)
{
	t->detached = true;
	t->failed = NULL;
	if (t->step == STEP_DEAD)
		conn_free(t);
}

void
tls_conn_free(struct tls_conn *t)
{
	if (t == NULL)
		return;
	conn_free(t);
}
