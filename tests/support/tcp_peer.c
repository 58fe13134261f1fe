/* SPDX-License-Identifier: MIT */
/*
 * The scripted TCP ends. Sequence numbers are compared modulo 2^32. The app answers
 * every segment carrying data or FIN with an ACK, at once; what lies beyond its window
 * (a zero-window probe) is dropped, as a real stack would.
 */
#include "tcp_peer.h"

#include <arpa/inet.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <fcntl.h>

#include <cmocka.h>

#include "pktbuild.h"

#define TCP_FIN 0x01
#define TCP_SYN 0x02
#define TCP_RST 0x04
#define TCP_PSH 0x08
#define TCP_ACK 0x10

#define CHUNK 65536

static bool
seq_lt(uint32_t a, uint32_t b)
{
	return (int32_t)(a - b) < 0;
}

uint8_t
pattern_byte(uint32_t seed, uint64_t off)
{
	uint32_t x = seed ^ ((uint32_t)(off >> 2) * 0x9e3779b1u) ^ (uint32_t)(off >> 34);

	x ^= x >> 16;
	x *= 0x7feb352du;
	x ^= x >> 15;
	x *= 0x846ca68bu;
	x ^= x >> 16;
	return (uint8_t)(x >> (8 * (off & 3)));
}

static void
pattern_fill(uint8_t *buf, size_t len, uint32_t seed, uint64_t off)
{
	for (size_t i = 0; i < len; i++)
		buf[i] = pattern_byte(seed, off + i);
}

/* Checks received bytes; returns false (and where) at the first mismatch. */
static bool
pattern_check(const uint8_t *buf, size_t len, uint32_t seed, uint64_t off, uint64_t *bad_at)
{
	for (size_t i = 0; i < len; i++)
		if (buf[i] != pattern_byte(seed, off + i)) {
			*bad_at = off + i;
			return false;
		}
	return true;
}

static void
set_nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);

	assert_true(fl >= 0);
	assert_int_equal(fcntl(fd, F_SETFL, fl | O_NONBLOCK), 0);
}

/* ---- the app ------------------------------------------------------------------- */

static uint32_t
app_window(const struct tcp_app *a)
{
	return a->unread >= a->rcv_space ? 0 : a->rcv_space - a->unread;
}

/* Sends one segment; false if the socketpair is full (nothing sent). */
static bool
app_segment(struct tcp_app *a, uint8_t flags, uint32_t seq, const uint8_t *payload, size_t len)
{
	static uint8_t pkt[CHUNK + 128];
	struct pktbuild_ip ip;
	struct pktbuild_tcp tcp = {
		.sport = a->sport,
		.dport = a->dport,
		.seq = seq,
		.ack = (flags & TCP_ACK) ? a->rcv_nxt : 0,
		.flags = flags,
		.window = (uint16_t)(app_window(a) > 0xffff ? 0xffff : app_window(a)),
		.zero_window = app_window(a) == 0,
		.payload = payload,
		.payload_len = len,
	};
	uint8_t opts[8];
	size_t n;

	memset(&ip, 0, sizeof(ip));
	ip.family = 4;
	memcpy(ip.src, a->addr, 4);
	memcpy(ip.dst, a->daddr, 4);
	if (flags & TCP_SYN) {
		tcp.opts = opts;
		tcp.opts_len = pktbuild_opt_mss(opts, a->mss);
		if (a->offer_wscale) {
			tcp.opts_len += pktbuild_opt_nop(opts + tcp.opts_len);
			tcp.opts_len += pktbuild_opt_ws(opts + tcp.opts_len, 0);
		}
	}
	n = pktbuild_tcp(pkt, sizeof(pkt), &ip, &tcp);
	return tun_peer_send(a->peer, pkt, n);
}

static void
app_ack(struct tcp_app *a)
{
	(void)app_segment(a, TCP_ACK, a->snd_nxt, NULL, 0);
}

#define PROBE_INTERVAL 0.2

/*
 * Data (or a FIN) waits for a window that tun2socks has not announced: after a while,
 * ask for it with a segment below the window (Linux's zero-window probe), which lwIP
 * answers with an ACK carrying its current window.
 */
static void
app_probe(struct tcp_app *a)
{
	ev_tstamp now = ev_now(a->peer->loop);

	if (a->no_probes || now - a->last_heard < PROBE_INTERVAL || a->snd_una != a->snd_nxt)
		return;
	if (app_segment(a, TCP_ACK, a->snd_nxt - 1, NULL, 0)) {
		a->probes++;
		a->last_heard = now;
	}
}

/* Sends what the window allows. */
static void
app_pump(struct tcp_app *a)
{
	static uint8_t buf[CHUNK];

	if (!a->established || a->rst_sent || a->rsts > 0)
		return;
	if ((a->tx_sent < a->tx_limit &&
	     (int32_t)(a->snd_una + a->snd_wnd - a->snd_nxt) <= (int32_t)a->wnd_reserve) ||
	    (a->fin_wanted && !a->fin_sent && a->tx_sent == a->tx_limit &&
	     (int32_t)(a->snd_una + a->snd_wnd - a->snd_nxt) <= 0))
		app_probe(a);
	while (a->tx_sent < a->tx_limit) {
		int32_t usable = (int32_t)(a->snd_una + a->snd_wnd - a->snd_nxt) - (int32_t)a->wnd_reserve;
		size_t len;

		if (usable <= 0)
			break;
		len = (size_t)usable;
		if (len > a->peer_mss)
			len = a->peer_mss;
		if (len > a->tx_limit - a->tx_sent)
			len = (size_t)(a->tx_limit - a->tx_sent);
		pattern_fill(buf, len, a->tx_seed, a->tx_sent);
		if (!app_segment(a, TCP_ACK | TCP_PSH, a->snd_nxt, buf, len))
			return;
		a->snd_nxt += (uint32_t)len;
		a->tx_sent += len;
	}
	/* Like a real stack, the FIN waits for the window to have room for it. */
	if (a->fin_wanted && !a->fin_sent && a->tx_sent == a->tx_limit && (int32_t)(a->snd_una + a->snd_wnd - a->snd_nxt) > 0 &&
	    app_segment(a, TCP_FIN | TCP_ACK, a->snd_nxt, NULL, 0)) {
		a->fin_sent = true;
		a->snd_nxt++;
	}
}

static void
app_input(struct tcp_app *a, uint8_t flags, uint32_t seq, uint32_t ack, uint32_t wnd, const uint8_t *opt,
	  size_t opt_len, const uint8_t *data, size_t len)
{
	if (flags & TCP_RST) {
		a->rsts++;
		return;
	}
	if ((flags & (TCP_SYN | TCP_ACK)) == (TCP_SYN | TCP_ACK)) {
		a->synacks++;
		if (!a->established) {
			assert_int_equal(ack, a->iss + 1);
			a->irs = seq;
			a->rcv_nxt = seq + 1;
			a->snd_una = ack;
			a->snd_nxt = ack;
			a->snd_wnd = wnd;
			a->min_wnd = wnd;
			a->peer_mss = 536;
			for (size_t i = 0; i + 1 < opt_len;) {
				if (opt[i] == 0)
					break;
				if (opt[i] == 1) {
					i++;
					continue;
				}
				if (opt[i] == 2 && opt[i + 1] == 4 && i + 4 <= opt_len)
					a->peer_mss = pktbuild_rd16(opt + i + 2);
				if (opt[i] == 3 && opt[i + 1] == 3 && i + 3 <= opt_len && a->offer_wscale)
					a->snd_wscale = opt[i + 2];
				if (opt[i + 1] < 2)
					break;
				i += opt[i + 1];
			}
			a->established = true;
		}
		app_ack(a);
		return;
	}
	if (!a->established)
		return;
	wnd <<= a->snd_wscale; /* never in a SYN */
	if (flags & TCP_ACK) {
		a->acks++;
		a->last_heard = ev_now(a->peer->loop);
		if (seq_lt(a->snd_una, ack) && !seq_lt(a->snd_nxt, ack))
			a->snd_una = ack;
		a->snd_wnd = wnd;
		if (wnd < a->min_wnd)
			a->min_wnd = wnd;
		if (a->fin_sent && ack == a->snd_nxt)
			a->fin_acked = true;
	}
	if (len == 0 && !(flags & TCP_FIN))
		return;
	if (seq == a->rcv_nxt && !a->got_fin) {
		uint32_t room = app_window(a);
		size_t take = len < room ? len : room;

		if (!a->rx_bad && !pattern_check(data, take, a->rx_seed, a->rx_bytes, &a->rx_bad_at))
			a->rx_bad = true;
		a->rx_bytes += take;
		a->rcv_nxt += (uint32_t)take;
		if (!a->reading)
			a->unread += (uint32_t)take;
		if ((flags & TCP_FIN) && take == len) {
			a->got_fin = true;
			a->rcv_nxt++;
		}
	}
	app_ack(a);
}

struct tcp_app *
tcp_app_new(struct tun_peer *p, const char *src, uint16_t sport, const char *dst, uint16_t dport, uint32_t tx_seed,
	    uint32_t rx_seed)
{
	struct tcp_app *a = calloc(1, sizeof(*a));
	size_t i;

	assert_non_null(a);
	a->peer = p;
	assert_int_equal(inet_pton(AF_INET, src, a->addr), 1);
	assert_int_equal(inet_pton(AF_INET, dst, a->daddr), 1);
	a->sport = sport;
	a->dport = dport;
	a->mss = 1460;
	a->offer_wscale = true;
	a->iss = 0x10000000u + (uint32_t)sport * 7919u;
	a->snd_nxt = a->snd_una = a->iss;
	a->rcv_space = 65535;
	a->reading = true;
	a->tx_seed = tx_seed;
	a->rx_seed = rx_seed;
	for (i = 0; i < TUN_PEER_MAX_APPS && p->apps[i] != NULL; i++)
		;
	assert_true(i < TUN_PEER_MAX_APPS);
	p->apps[i] = a;
	return a;
}

void
tcp_app_free(struct tcp_app *a)
{
	if (a == NULL)
		return;
	for (size_t i = 0; i < TUN_PEER_MAX_APPS; i++)
		if (a->peer->apps[i] == a)
			a->peer->apps[i] = NULL;
	free(a);
}

void
tcp_app_connect(struct tcp_app *a)
{
	assert_true(app_segment(a, TCP_SYN, a->iss, NULL, 0));
}

void
tcp_app_send(struct tcp_app *a, uint64_t bytes)
{
	a->tx_limit += bytes;
	app_pump(a);
}

void
tcp_app_close(struct tcp_app *a)
{
	a->fin_wanted = true;
	app_pump(a);
}

void
tcp_app_reset(struct tcp_app *a)
{
	assert_true(app_segment(a, TCP_RST | TCP_ACK, a->snd_nxt, NULL, 0));
	a->rst_sent = true;
}

void
tcp_app_set_reading(struct tcp_app *a, bool reading)
{
	a->reading = reading;
	if (reading && a->unread > 0) {
		a->unread = 0;
		app_ack(a); /* the window update */
	}
}

bool
tcp_app_all_acked(const struct tcp_app *a)
{
	return a->established && a->snd_una == a->snd_nxt;
}

/* ---- the TUN end --------------------------------------------------------------- */

static void
keep_other(struct tun_peer *p, const uint8_t *pkt, size_t len)
{
	struct tun_peer_pkt *k = &p->other[p->kept++ % TUN_PEER_KEPT];

	k->len = len;
	memcpy(k->data, pkt, len < sizeof(k->data) ? len : sizeof(k->data));
}

static struct tcp_app *
find_app(struct tun_peer *p, const uint8_t *app_addr, uint16_t app_port, const uint8_t *dst_addr, uint16_t dst_port)
{
	for (size_t i = 0; i < TUN_PEER_MAX_APPS; i++) {
		struct tcp_app *a = p->apps[i];

		if (a != NULL && a->sport == app_port && a->dport == dst_port && memcmp(a->addr, app_addr, 4) == 0 &&
		    memcmp(a->daddr, dst_addr, 4) == 0)
			return a;
	}
	return NULL;
}

static void
peer_packet(struct tun_peer *p, const uint8_t *pkt, size_t len)
{
	size_t ihl, tot, doff;
	const uint8_t *tcp;
	struct tcp_app *a;

	p->packets++;
	assert_true(len >= 20);
	assert_int_equal(pkt[0] >> 4, 4);
	ihl = (size_t)(pkt[0] & 15) * 4;
	tot = pktbuild_rd16(pkt + 2);
	assert_int_equal(tot, len);
	if (pktbuild_csum(0, pkt, ihl) != 0)
		p->bad_csum++;
	if (pkt[9] == 1 && len >= ihl + 8 + 20 + 4 && pkt[ihl] == 3) {
		/* ICMP destination unreachable quoting one of our SYNs. */
		const uint8_t *q = pkt + ihl + 8;
		size_t qihl = (size_t)(q[0] & 15) * 4;

		keep_other(p, pkt, len);
		if (q[9] == 6 && len >= ihl + 8 + qihl + 4) {
			a = find_app(p, q + 12, pktbuild_rd16(q + qihl), q + 16, pktbuild_rd16(q + qihl + 2));
			if (a != NULL) {
				a->icmps++;
				a->icmp_type = pkt[ihl];
				a->icmp_code = pkt[ihl + 1];
			}
		}
		return;
	}
	if (pkt[9] != 6) {
		keep_other(p, pkt, len);
		return;
	}
	tcp = pkt + ihl;
	assert_true(len >= ihl + 20);
	doff = (size_t)(tcp[12] >> 4) * 4;
	assert_true(doff >= 20 && ihl + doff <= len);
	if (pktbuild_csum(pktbuild_pseudo(4, pkt + 12, pkt + 16, 6, len - ihl), tcp, len - ihl) != 0)
		p->bad_csum++;
	a = find_app(p, pkt + 16, pktbuild_rd16(tcp + 2), pkt + 12, pktbuild_rd16(tcp));
	if (a == NULL) {
		p->stray_tcp++;
		return;
	}
	app_input(a, tcp[13], pktbuild_rd32(tcp + 4), pktbuild_rd32(tcp + 8), pktbuild_rd16(tcp + 14), tcp + 20,
		  doff - 20, tcp + doff, len - ihl - doff);
}

struct held_pkt {
	struct held_pkt *next;
	size_t len;
	uint8_t data[];
};

/* An IPv4 TCP segment that carries payload. */
static bool
tcp_with_data(const uint8_t *pkt, size_t len)
{
	size_t ihl = (size_t)(pkt[0] & 15) * 4;

	return len >= ihl + 20 && (pkt[0] >> 4) == 4 && pkt[9] == 6 && len > ihl + (size_t)(pkt[ihl + 12] >> 4) * 4;
}

static void
peer_read_packet(struct tun_peer *p, const uint8_t *pkt, size_t len)
{
	struct held_pkt *h;

	if (p->drop_data > 0 && tcp_with_data(pkt, len)) {
		p->drop_data--;
		p->dropped++;
		return;
	}

	if (!p->holding) {
		peer_packet(p, pkt, len);
		return;
	}
	h = malloc(sizeof(*h) + len);
	assert_non_null(h);
	h->next = NULL;
	h->len = len;
	memcpy(h->data, pkt, len);
	*p->held_tail = h;
	p->held_tail = &h->next;
	if (len >= 40 && pkt[9] == 6 && (pkt[(pkt[0] & 15) * 4 + 13] & TCP_FIN))
		p->held_fins++;
}

void
tun_peer_drop_next(struct tun_peer *p, unsigned n)
{
	p->drop_data = n;
}

void
tun_peer_hold(struct tun_peer *p, bool hold)
{
	p->holding = hold;
	while (!hold && p->held_head != NULL) {
		struct held_pkt *h = p->held_head;

		p->held_head = h->next;
		peer_packet(p, h->data, h->len);
		free(h);
	}
	if (p->held_head == NULL)
		p->held_tail = &p->held_head;
}

static void
peer_watch(struct tun_peer *p)
{
	int ev = EV_READ | (p->blocked ? EV_WRITE : 0);

	if ((p->io.events & (EV_READ | EV_WRITE)) == ev)
		return;
	ev_io_stop(p->loop, &p->io);
	ev_io_set(&p->io, p->fd, ev);
	ev_io_start(p->loop, &p->io);
}

static void
peer_pump(struct tun_peer *p)
{
	p->blocked = false;
	for (size_t i = 0; i < TUN_PEER_MAX_APPS; i++)
		if (p->apps[i] != NULL)
			app_pump(p->apps[i]);
	peer_watch(p);
}

static void
peer_io_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct tun_peer *p = w->data;
	static uint8_t buf[CHUNK + 64];

	(void)loop;
	if (revents & EV_READ) {
		for (int i = 0; i < 256; i++) {
			ssize_t n = recv(p->fd, buf, sizeof(buf), 0);

			if (n < 0 && (errno == EAGAIN || errno == EINTR))
				break;
			assert_true(n > 0);
			peer_read_packet(p, buf, (size_t)n);
		}
	}
	peer_pump(p);
}

static void
peer_prepare_cb(struct ev_loop *loop, ev_prepare *w, int revents)
{
	(void)loop;
	(void)revents;
	peer_pump(w->data);
}

struct tun_peer *
tun_peer_new(struct ev_loop *loop, int fd)
{
	struct tun_peer *p = calloc(1, sizeof(*p));

	assert_non_null(p);
	p->loop = loop;
	p->fd = fd;
	p->held_tail = &p->held_head;
	set_nonblock(fd);
	ev_io_init(&p->io, peer_io_cb, fd, EV_READ);
	p->io.data = p;
	ev_io_start(loop, &p->io);
	ev_prepare_init(&p->pump, peer_prepare_cb);
	p->pump.data = p;
	ev_prepare_start(loop, &p->pump);
	return p;
}

void
tun_peer_free(struct tun_peer *p)
{
	if (p == NULL)
		return;
	ev_io_stop(p->loop, &p->io);
	ev_prepare_stop(p->loop, &p->pump);
	while (p->held_head != NULL) {
		struct held_pkt *h = p->held_head;

		p->held_head = h->next;
		free(h);
	}
	close(p->fd);
	free(p);
}

bool
tun_peer_send(struct tun_peer *p, const uint8_t *pkt, size_t len)
{
	ssize_t n = send(p->fd, pkt, len, MSG_DONTWAIT);

	if (n < 0 && (errno == EAGAIN || errno == ENOBUFS)) {
		p->blocked = true;
		return false;
	}
	assert_int_equal(n, (ssize_t)len);
	return true;
}

/* ---- the target ---------------------------------------------------------------- */

static void
target_watch(struct tcp_target *t)
{
	int ev = 0;

	if (t->fd < 0)
		return;
	if (t->reading && t->rx_bytes < t->rx_limit && !t->rx_eof && t->rx_err == 0)
		ev |= EV_READ;
	if (t->tx_err == 0 && (t->tx_sent < t->tx_limit || (t->shut_wanted && !t->shut_done)))
		ev |= EV_WRITE;
	if (ev_is_active(&t->io) && (t->io.events & (EV_READ | EV_WRITE)) == ev)
		return;
	ev_io_stop(t->loop, &t->io);
	if (ev == 0)
		return;
	ev_io_set(&t->io, t->fd, ev);
	ev_io_start(t->loop, &t->io);
}

static void
target_read(struct tcp_target *t)
{
	static uint8_t buf[CHUNK];

	while (t->reading && t->rx_bytes < t->rx_limit && !t->rx_eof && t->rx_err == 0) {
		uint64_t left = t->rx_limit - t->rx_bytes;
		ssize_t n = recv(t->fd, buf, left < sizeof(buf) ? (size_t)left : sizeof(buf), 0);

		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return;
		if (n < 0) {
			t->rx_err = errno;
			return;
		}
		if (n == 0) {
			t->rx_eof = true;
			return;
		}
		if (!t->rx_bad && !pattern_check(buf, (size_t)n, t->rx_seed, t->rx_bytes, &t->rx_bad_at))
			t->rx_bad = true;
		t->rx_bytes += (uint64_t)n;
	}
}

void
tcp_target_pump(struct tcp_target *t)
{
	static uint8_t buf[CHUNK];

	t->tx_blocked = false;
	while (t->fd >= 0 && t->tx_err == 0 && t->tx_sent < t->tx_limit) {
		size_t len = t->tx_limit - t->tx_sent < sizeof(buf) ? (size_t)(t->tx_limit - t->tx_sent) : sizeof(buf);
		ssize_t n;

		pattern_fill(buf, len, t->tx_seed, t->tx_sent);
		n = send(t->fd, buf, len, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
			t->tx_blocked = true;
			break;
		}
		if (n < 0) {
			t->tx_err = errno;
			break;
		}
		t->tx_sent += (uint64_t)n;
	}
	if (t->fd >= 0 && t->tx_sent == t->tx_limit && t->shut_wanted && !t->shut_done) {
		assert_int_equal(shutdown(t->fd, SHUT_WR), 0);
		t->shut_done = true;
	}
	target_watch(t);
}

static void
target_io_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct tcp_target *t = w->data;

	(void)loop;
	if (revents & EV_READ)
		target_read(t);
	tcp_target_pump(t);
}

struct tcp_target *
tcp_target_new(struct ev_loop *loop, int fd, uint32_t tx_seed, uint32_t rx_seed)
{
	struct tcp_target *t = calloc(1, sizeof(*t));

	assert_non_null(t);
	assert_true(fd >= 0);
	t->loop = loop;
	t->fd = fd;
	set_nonblock(fd);
	t->tx_seed = tx_seed;
	t->rx_seed = rx_seed;
	t->reading = true;
	t->rx_limit = UINT64_MAX;
	ev_init(&t->io, target_io_cb);
	t->io.data = t;
	target_watch(t);
	return t;
}

void
tcp_target_free(struct tcp_target *t)
{
	if (t == NULL)
		return;
	ev_io_stop(t->loop, &t->io);
	if (t->fd >= 0)
		close(t->fd);
	free(t);
}

void
tcp_target_set_reading(struct tcp_target *t, bool reading)
{
	t->reading = reading;
	if (reading)
		target_read(t);
	target_watch(t);
}

void
tcp_target_read_upto(struct tcp_target *t, uint64_t limit)
{
	t->rx_limit = limit;
	tcp_target_set_reading(t, true);
}

void
tcp_target_send(struct tcp_target *t, uint64_t bytes)
{
	t->tx_limit += bytes;
	tcp_target_pump(t);
}

void
tcp_target_shutdown(struct tcp_target *t)
{
	t->shut_wanted = true;
	tcp_target_pump(t);
}

void
tcp_target_reset(struct tcp_target *t)
{
	struct linger lg = {.l_onoff = 1, .l_linger = 0};

	ev_io_stop(t->loop, &t->io);
	assert_int_equal(setsockopt(t->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg)), 0);
	close(t->fd);
	t->fd = -1;
}
