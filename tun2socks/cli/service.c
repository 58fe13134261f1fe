/* SPDX-License-Identifier: MIT */
/* READY/STATUS/WATCHDOG for systemd: a greeting probe of the proxy on the loop. */
#include "service.h"

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "container_of.h"
#include "log.h"
#include "sd_notify.h"
#include "sock.h"
#include "socks5_proto.h"

/* ---- The pure part. */

static size_t __attribute__((format(printf, 3, 4)))
put(char *msg, size_t len, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(msg, len, fmt, ap);
	va_end(ap);
	if (n < 0)
		return 0;
	return (size_t)n < len ? (size_t)n : len - 1;
}

size_t
service_state_tun_up(struct service_state *st, char *msg, size_t len)
{
	st->tun_up = true;
	if (st->ready || st->proxy != SERVICE_PROXY_OK)
		return put(msg, len, "STATUS=TUN up, checking the proxy");
	st->ready = true;
	return put(msg, len, "READY=1\nSTATUS=TUN up, the proxy answers");
}

size_t
service_state_proxy(struct service_state *st, bool ok, const char *name, const char *why, double ms, char *msg,
		    size_t len)
{
	enum service_proxy_state was = st->proxy;

	st->proxy = ok ? SERVICE_PROXY_OK : SERVICE_PROXY_DOWN;
	if (ok && st->tun_up && !st->ready) {
		st->ready = true;
		return put(msg, len, "READY=1\nSTATUS=ready: proxy %s answered (%.0f ms)", name, ms);
	}
	if (!st->ready || was == st->proxy)
		return 0;
	if (ok)
		return put(msg, len, "STATUS=ready: proxy %s answers again (%.0f ms)", name, ms);
	return put(msg, len, "STATUS=proxy %s does not answer: %s; new connections fail until it does", name, why);
}

size_t
service_state_timeout(struct service_state *st, const char *name, double timeout, char *msg, size_t len)
{
	if (st->ready)
		return 0;
	st->ready = true;
	return put(msg, len,
		   "READY=1\nSTATUS=proxy %s did not answer within %g s; running, connections go through once it "
		   "does",
		   name, timeout);
}

/* ---- The service. */

enum probe_step {
	PROBE_IDLE,
	PROBE_CONNECTING,
	PROBE_METHOD,
	PROBE_AUTH,
};

struct service {
	struct ev_loop *loop;
	struct sd_notify notify;
	const struct socks5_server *proxy;
	char proxy_name[300];
	double ready_timeout;
	struct service_state st;
	bool stopping;

	enum probe_step step;
	int fd;
	double started; /* ev_now when the probe began */
	ev_io io;
	ev_timer probe_timer; /* the running probe's deadline, or the wait for the next one */
	ev_timer ready_timer;
	ev_timer watchdog;
	uint8_t in[2];
	size_t in_len;
};

static void
send_msg(struct service *s, const char *msg, size_t n)
{
	int err;

	if (n == 0)
		return;
	err = sd_notify_send(&s->notify, msg);
	if (err < 0)
		log_warn("cannot notify systemd: %s", strerror(-err));
	else
		log_debug("notify: %s", msg);
}

static void
probe_close(struct service *s)
{
	ev_io_stop(s->loop, &s->io);
	if (s->fd >= 0)
		close(s->fd);
	s->fd = -1;
	s->step = PROBE_IDLE;
}

static void
probe_schedule(struct service *s, double after)
{
	ev_timer_stop(s->loop, &s->probe_timer);
	if (s->stopping)
		return;
	ev_timer_set(&s->probe_timer, after, 0.);
	ev_timer_start(s->loop, &s->probe_timer);
}

static void
probe_done(struct service *s, bool ok, const char *why)
{
	char msg[512];
	double ms = (ev_time() - s->started) * 1000.;
	size_t n;

	probe_close(s);
	ev_timer_stop(s->loop, &s->probe_timer);
	if (ok && !s->st.ready)
		log_info("proxy %s answered the greeting in %.0f ms", s->proxy_name, ms);
	else if (!ok && s->st.proxy != SERVICE_PROXY_DOWN)
		log_warn("proxy %s does not answer: %s", s->proxy_name, why);
	n = service_state_proxy(&s->st, ok, s->proxy_name, why, ms, msg, sizeof(msg));
	if (s->st.ready)
		ev_timer_stop(s->loop, &s->ready_timer);
	send_msg(s, msg, n);
	probe_schedule(s, ok ? SERVICE_RECHECK_INTERVAL : SERVICE_RETRY_INTERVAL);
}

static bool
send_all(int fd, const uint8_t *buf, int len)
{
	/* A greeting or an RFC 1929 request is at most 513 bytes: a fresh socket's buffer
	 * takes it whole. */
	return len > 0 && send(fd, buf, (size_t)len, MSG_NOSIGNAL) == len;
}

static void
probe_io_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct service *s = container_of(w, struct service, io);
	uint8_t out[SOCKS5_MAX_REQUEST], status;
	ssize_t r;
	int err, len;

	(void)revents;
	if (s->step == PROBE_CONNECTING) {
		if ((err = sock_error(s->fd)) < 0) {
			probe_done(s, false, strerror(-err));
			return;
		}
		len = socks5_proto_encode_greeting(out, sizeof(out), s->proxy->user != NULL);
		if (!send_all(s->fd, out, len)) {
			probe_done(s, false, "cannot send the greeting");
			return;
		}
		s->step = PROBE_METHOD;
		s->in_len = 0;
		ev_io_stop(loop, w);
		ev_io_set(w, s->fd, EV_READ);
		ev_io_start(loop, w);
		return;
	}
	r = recv(s->fd, s->in + s->in_len, sizeof(s->in) - s->in_len, 0);
	if (r < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (r <= 0) {
		probe_done(s, false, r == 0 ? "the proxy closed the connection during the greeting" : strerror(errno));
		return;
	}
	s->in_len += (size_t)r;
	if (s->in_len < sizeof(s->in))
		return;
	s->in_len = 0;
	if (s->step == PROBE_METHOD) {
		if (socks5_proto_decode_method(s->in, sizeof(s->in), &status) < 0) {
			probe_done(s, false, "not a SOCKS5 server (bad greeting reply)");
			return;
		}
		if (status == SOCKS5_METHOD_NONE) {
			probe_done(s, true, NULL);
		} else if (status == SOCKS5_METHOD_USERPASS && s->proxy->user != NULL) {
			len = socks5_proto_encode_userpass(out, sizeof(out), s->proxy->user, s->proxy->pass);
			if (!send_all(s->fd, out, len)) {
				probe_done(s, false, "cannot send the credentials");
				return;
			}
			s->step = PROBE_AUTH;
		} else {
			probe_done(s, false,
				   status == SOCKS5_METHOD_USERPASS ? "the proxy wants a user name and password"
								    : "the proxy accepts none of our authentication methods");
		}
		return;
	}
	if (socks5_proto_decode_userpass_reply(s->in, sizeof(s->in), &status) < 0 || status != 0)
		probe_done(s, false, "authentication failed (wrong user name or password)");
	else
		probe_done(s, true, NULL);
}

static void
probe_start(struct service *s)
{
	int fd;

	if (s->stopping || s->step != PROBE_IDLE)
		return;
	s->started = ev_time();
	fd = sock_connect_nb((const struct sockaddr *)&s->proxy->addr, s->proxy->addrlen, s->proxy->fwmark,
			     &s->proxy->hook);
	if (fd < 0) {
		probe_done(s, false, strerror(-fd));
		return;
	}
	s->fd = fd;
	s->step = PROBE_CONNECTING;
	ev_io_set(&s->io, fd, EV_WRITE);
	ev_io_start(s->loop, &s->io);
	ev_timer_stop(s->loop, &s->probe_timer);
	ev_timer_set(&s->probe_timer, SERVICE_PROBE_TIMEOUT, 0.);
	ev_timer_start(s->loop, &s->probe_timer);
}

/* Either a running probe's deadline or the time for the next one. */
static void
probe_timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct service *s = container_of(w, struct service, probe_timer);

	(void)loop;
	(void)revents;
	if (s->step != PROBE_IDLE)
		probe_done(s, false, "no answer within 5 s");
	else
		probe_start(s);
}

static void
ready_timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct service *s = container_of(w, struct service, ready_timer);
	char msg[512];
	size_t n;

	(void)loop;
	(void)revents;
	n = service_state_timeout(&s->st, s->proxy_name, s->ready_timeout, msg, sizeof(msg));
	if (n > 0)
		log_warn("proxy %s did not answer within %g s: ready all the same", s->proxy_name, s->ready_timeout);
	send_msg(s, msg, n);
}

static void
watchdog_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct service *s = container_of(w, struct service, watchdog);

	(void)loop;
	(void)revents;
	send_msg(s, "WATCHDOG=1", 10);
}

struct service *
service_new(const struct service_params *p)
{
	struct service *s = calloc(1, sizeof(*s));
	uint64_t usec = 0;
	int err, wd;

	if (s == NULL)
		return NULL;
	s->loop = p->loop;
	s->proxy = p->proxy;
	s->fd = -1;
	s->ready_timeout = p->ready_timeout;
	snprintf(s->proxy_name, sizeof(s->proxy_name), "%s", p->proxy_name);
	ev_io_init(&s->io, probe_io_cb, -1, EV_WRITE);
	ev_timer_init(&s->probe_timer, probe_timer_cb, 0., 0.);
	ev_timer_init(&s->ready_timer, ready_timer_cb, p->ready_timeout, 0.);
	ev_timer_init(&s->watchdog, watchdog_cb, 0., 0.);
	err = sd_notify_open(&s->notify, p->notify_socket);
	if (err < 0) {
		free(s);
		errno = -err;
		return NULL;
	}
	wd = sd_notify_watchdog(p->watchdog_usec, p->watchdog_pid, getpid(), &usec);
	if (wd < 0)
		log_warn("ignoring a malformed $WATCHDOG_USEC or $WATCHDOG_PID");
	if (wd > 0 && service_active(s)) {
		ev_timer_set(&s->watchdog, (double)usec / 2e6, (double)usec / 2e6);
		ev_timer_start(s->loop, &s->watchdog);
	}
	return s;
}

bool
service_active(const struct service *s)
{
	return s != NULL && s->notify.fd >= 0;
}

void
service_tun_up(struct service *s)
{
	char msg[256];
	size_t n;

	if (!service_active(s) || s->st.tun_up)
		return;
	n = service_state_tun_up(&s->st, msg, sizeof(msg));
	send_msg(s, msg, n);
	if (s->st.ready)
		return;
	ev_timer_start(s->loop, &s->ready_timer);
	probe_start(s);
}

void
service_reloading(struct service *s)
{
	if (service_active(s) && !s->stopping)
		send_msg(s, "RELOADING=1", 11);
}

void
service_set_proxy(struct service *s, const struct socks5_server *proxy, const char *proxy_name)
{
	if (s == NULL)
		return;
	probe_close(s);
	ev_timer_stop(s->loop, &s->probe_timer);
	s->proxy = proxy;
	snprintf(s->proxy_name, sizeof(s->proxy_name), "%s", proxy_name);
	s->st.proxy = SERVICE_PROXY_UNKNOWN;
}

void
service_reloaded(struct service *s, const char *status)
{
	char msg[512];

	if (!service_active(s) || s->stopping)
		return;
	if (status == NULL)
		status = s->st.proxy == SERVICE_PROXY_OK     ? "ready: reloaded, the proxy answers"
			 : s->st.proxy == SERVICE_PROXY_DOWN ? "reloaded; the proxy does not answer"
							     : "reloaded";
	send_msg(s, msg, put(msg, sizeof(msg), "READY=1\nSTATUS=%s", status));
	/* The proxy may have changed: check it now. */
	if (s->step == PROBE_IDLE && s->st.tun_up) {
		ev_timer_stop(s->loop, &s->probe_timer);
		probe_start(s);
	}
}

static void
stop_watchers(struct service *s)
{
	probe_close(s);
	ev_timer_stop(s->loop, &s->probe_timer);
	ev_timer_stop(s->loop, &s->ready_timer);
	ev_timer_stop(s->loop, &s->watchdog);
}

void
service_stopping(struct service *s)
{
	if (!service_active(s) || s->stopping)
		return;
	s->stopping = true;
	stop_watchers(s);
	send_msg(s, "STOPPING=1", 10);
}

void
service_free(struct service *s)
{
	if (s == NULL)
		return;
	stop_watchers(s);
	sd_notify_close(&s->notify);
	free(s);
}
