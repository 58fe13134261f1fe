/* SPDX-License-Identifier: MIT */
/*
 * The TCP relay. Rules that keep it correct:
 * - lwIP callbacks (accept, recv, sent, err) only record what happened and schedule the
 *   flow; the work, including every teardown, runs from tcp_flow_service_scheduled or
 *   from the flow's own libev watchers, never inside lwIP. So no callback ever has to
 *   return ERR_ABRT and no pcb is freed under lwIP's feet.
 * - app -> proxy: pbufs lwIP delivers are queued and written with writev; tcp_recved
 *   only for bytes the socket took, so the advertised window is the backpressure.
 * - proxy -> app: the socket is read only while lwIP has send buffer room; bulk
 *   transfers straight into the flow's txbuf, which tcp_write references without
 *   copying, small reads through a shared buffer that lwIP copies; reading stops
 *   when lwIP is full and resumes from the sent callback, which also tells when the
 *   bytes may be reused. A flow whose pcb lives on must therefore not end before all
 *   its bytes are acknowledged (finished() waits for it); aborting the pcb drops
 *   lwIP's references at once.
 * - f->pcb is valid only while lwIP keeps the pcb for us. lwIP frees it on its own in
 *   three ways: after an err callback (RST, timeout: the flow aborts; ERR_CLSD, the
 *   ACK of our FIN in LAST_ACK: a graceful end), and 2 * TCP_MSL after TIME_WAIT with
 *   no callback at all. The flow forgets the pcb as soon as it is in TIME_WAIT (seen in
 *   every callback and before every use), and the ext-arg destroy callback clears it in
 *   any case lwIP frees it first. A graceful end of the lwIP side leaves the flow
 *   alive: its queue toward the proxy is still delivered, then the proxy gets its FIN.
 */
#include "tcp_flow.h"

#include <arpa/inet.h>
#include <assert.h>
#include <errno.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <lwip/priv/tcp_priv.h>

#include "container_of.h"
#include "list.h"
#include "dns_stub.h"
#include "flow_table.h"
#include "dns_local.h"
#include "fake_dns.h"
#include "log.h"
#include "lwip_port.h"
#include "socks5_proto.h"
#include "sock.h"
#include "tunif.h"
#include "txbuf.h"
#include "io_watch.h"

#define MAX_IOV 64
#define READS_PER_WAKEUP 16
/* Resume proxy reads once lwIP can take this much again. */
#define RESUME_SNDBUF (16 * 1024)
/* Keep this many pbufs of lwIP's send queue free for the segments of one read. */
#define QUEUE_HEADROOM 16
/*
 * What a flow hands lwIP towards the application (written, not yet acknowledged) is
 * kept within twice the largest window the application announced, and at least this
 * much: more could not leave before acknowledgements anyway and waits better in the
 * proxy socket. Without it every flow filled TCP_SND_BUF (1 MiB) at once, so 1,000
 * downloads to slow readers (64 KiB windows) held the whole memory budget in lwIP's send
 * queues, and the budget then dropped the applications' own data at the TUN (their
 * requests among it): docs/ARCHITECTURE.md, "Many active flows".
 */
#define SEND_AHEAD_MIN (128 * 1024)

enum tcp_flow_state {
	TCP_FLOW_CONNECTING,  /* SOCKS handshake under way; the application's SYN is held */
	TCP_FLOW_HANDSHAKING, /* SYN given to lwIP; waiting for the handshake to complete */
	TCP_FLOW_RELAYING,
};

enum close_how {
	CLOSE_GRACEFUL, /* both directions finished: FIN already relayed each way */
	CLOSE_ABORT,    /* RST to whichever side is still there */
};

struct tcp_flows {
	struct flow_env env;
	struct tunif *tunif;
	struct flow_table table;
	struct list_node all;     /* every live flow */
	struct list_node service; /* flows scheduled for tcp_flows_service, the latest first */
	unsigned count;
	unsigned owed; /* flows whose window the memory budget holds back */
	struct txpool txpool; /* chunks for the proxy -> app bytes of bulk flows */
	uint8_t *relay_buf;   /* TCP_FLOWS_RELAY_BUF bytes, shared by small reads */
	struct fd_pressure flow_cap; /* new flows refused at --max-flows */
	struct tcp_flows_stats stats;
};

struct tcp_flow {
	struct tcp_flows *set;
	struct flow_table_node node;
	struct list_node link;         /* in set->all */
	struct list_node service_link; /* in set->service while scheduled */
	enum tcp_flow_state state;
	bool in_table, scheduled;
	bool app_eof;         /* the application sent FIN */
	bool app_eof_relayed; /* ... and we shut down the proxy socket's write side */
	bool proxy_eof;       /* the proxy closed its side; FIN queued to the application */
	bool read_paused;     /* proxy reads stopped: lwIP's send buffer is full */
	bool app_reset;       /* lwIP aborted the pcb (RST from the application, timeout) */
	uint8_t proxy_idx;    /* its proxy in env.servers */
	uint8_t proxies_tried; /* bit i: proxy i was tried for this flow (the SYN gate's retry) */
	bool proxy_reported;   /* this attempt's failure went to the proxy set already */
	int fd;
	struct tcp_pcb *pcb;
	struct proxy_tcp *socks;
	struct pbuf *syn;
	struct pbuf *rxq_head, *rxq_tail; /* app -> proxy, single pbufs linked by ->next */
	size_t rxq_off;
	size_t rxq_len, rxq_cost; /* their payload, and the heap blocks holding it */
	struct txbuf tx; /* proxy -> app bytes until the application acknowledges them */
	uint32_t copied_unacked; /* proxy -> app bytes lwIP copied, not yet acknowledged */
	uint32_t credit_owed;    /* receive window held back by the memory budget */
	bool bulk;               /* the last proxy read was large: read into tx, no copy */
	ev_io io;
	ev_timer timer;
	ev_tstamp last_active;
	uint64_t id;
	/* Accounting (tcp_flows_foreach): one addition per write or read. */
	uint64_t bytes_out, bytes_in; /* app -> proxy written, proxy -> app read */
	ev_tstamp started, connected;
	char *host; /* the fake-IP name of the destination, else NULL */
	struct t2s_endpoint *target; /* with several proxies: what CONNECT asks for (a retry's) */
};


static void flow_close(struct tcp_flow *f, enum close_how how);
static void forget_pcb(struct tcp_flow *f);

/* The ext-arg slot of every pcb a flow owns (lwipopts.h has exactly one). */
#define FLOW_EXT_ARG 0
_Static_assert(LWIP_TCP_PCB_NUM_EXT_ARGS == 3, "tcp_flow owns slot 0, tunif.c slot 1, lwip_port.c slot 2");

/* True while f->pcb may still be used; forgets a pcb that lwIP will free on its own.
 * Every path that calls lwIP on the pcb comes through here first (or flow_close): a
 * pcb parked away from lwIP's timers (lwip_port.h) is put back. */
static bool
pcb_usable(struct tcp_flow *f)
{
	if (f->pcb == NULL)
		return false;
	/* TIME_WAIT: lwIP purged the pcb's segments and frees it 2 * TCP_MSL later, silently. */
	if (f->pcb->state == TIME_WAIT || f->pcb->state == CLOSED) {
		forget_pcb(f);
		return false;
	}
	lwip_port_tcp_wake(f->pcb);
	return true;
}

static const char *
flow_tuple(const struct tcp_flow *f, char *buf, size_t cap)
{
	char a[INET6_ADDRSTRLEN], d[INET6_ADDRSTRLEN];
	int af = f->node.key.family == 4 ? AF_INET : AF_INET6;

	inet_ntop(af, f->node.key.app_addr, a, sizeof(a));
	inet_ntop(af, f->node.key.dst_addr, d, sizeof(d));
	snprintf(buf, cap, af == AF_INET ? "%s:%u -> %s:%u" : "[%s]:%u -> [%s]:%u", a, f->node.key.app_port, d,
		 f->node.key.dst_port);
	return buf;
}

#define flow_log(f, level, fmt, ...) \
	do { \
		if (log_enabled(level)) { \
			char tuple_[2 * INET6_ADDRSTRLEN + 24]; \
			log_msg(level, "tcp %llu %s: " fmt, (unsigned long long)(f)->id, \
				flow_tuple((f), tuple_, sizeof(tuple_)), ##__VA_ARGS__); \
		} \
	} while (0)

/* Per-flow lines that a burst of flows would repeat: at most one per slot this often. */
#define FLOW_LOG_INTERVAL 5.0

/* flow_log, rate-limited per slot; a line let through says how many were held back. */
#define flow_log_limited(f, slot, level, fmt, ...) \
	do { \
		unsigned skipped_; \
		char note_[64] = ""; \
		if (flow_env_rate_take(&(f)->set->env, (slot), FLOW_LOG_INTERVAL, &skipped_)) { \
			if (skipped_ > 0) \
				snprintf(note_, sizeof(note_), " (and %u more like it since the last such line)", \
					 skipped_); \
			flow_log((f), (level), fmt "%s", ##__VA_ARGS__, note_); \
		} \
	} while (0)

static void
schedule(struct tcp_flow *f)
{
	if (f->scheduled)
		return;
	f->scheduled = true;
	list_push_front(&f->set->service, &f->service_link);
}

static int
wanted_events(const struct tcp_flow *f)
{
	int ev = 0;

	if (f->state != TCP_FLOW_RELAYING)
		return 0;
	if (!f->read_paused && !f->proxy_eof)
		ev |= EV_READ;
	if (f->rxq_head != NULL)
		ev |= EV_WRITE;
	return ev;
}

/* ---- app -> proxy ------------------------------------------------------------- */

/*
 * Small segments cost a heap block each, headers and bookkeeping on top of their
 * payload: a window of them would cost many times its size. When the queue's blocks
 * exceed twice its payload (plus COLLAPSE_SLACK), it is copied into COLLAPSE_BUF-sized
 * buffers, filled to the brim (as Linux collapses its receive queue). Each collapse
 * at least halves the cost, so the copies per byte stay bounded.
 */
#define COLLAPSE_BUF (16 * 1024)
#define COLLAPSE_SLACK (2 * COLLAPSE_BUF)

/* The heap block holding q's payload (pbufs from the TUN are all blocks of their own). */
static size_t
pbuf_cost(const struct pbuf *q)
{
	if (!(q->flags & PBUF_FLAG_IS_CUSTOM) && !pbuf_match_type(q, PBUF_RAM))
		return q->len;
	return malloc_usable_size((void *)q) + sizeof(size_t);
}

/* Frees pbufs linked by ->next one by one (they are not one chain: tot_len is stale). */
static void
free_list(struct pbuf *q)
{
	while (q != NULL) {
		struct pbuf *next = q->next;

		q->next = NULL;
		pbuf_free(q);
		q = next;
	}
}

static void
collapse(struct tcp_flow *f)
{
	struct pbuf *head = NULL, *tail = NULL, *b = NULL, *q, *prev = NULL, *start;
	size_t off, cost = 0, old_cost = 0, len = 0, old_len = 0;

	/* What is already dense (earlier collapses, large segments) stays as it is. */
	for (start = f->rxq_head; start != NULL && pbuf_cost(start) <= 2 * (size_t)start->len; start = start->next)
		prev = start;
	if (start == NULL)
		return;
	off = start == f->rxq_head ? f->rxq_off : 0;
	for (q = start; q != NULL; q = q->next, off = 0) {
		const uint8_t *src = (const uint8_t *)q->payload + off;
		size_t n = q->len - off;

		old_cost += pbuf_cost(q);
		old_len += q->len;
		while (n > 0) {
			size_t k;

			if (b == NULL || b->len == COLLAPSE_BUF) {
				b = pbuf_alloc(PBUF_RAW, COLLAPSE_BUF, PBUF_RAM);
				if (b == NULL) {
					free_list(head); /* the new buffers only: the queue stays */
					return;
				}
				b->len = b->tot_len = 0;
				cost += pbuf_cost(b);
				if (tail != NULL)
					tail->next = b;
				else
					head = b;
				tail = b;
			}
			k = n < COLLAPSE_BUF - (size_t)b->len ? n : COLLAPSE_BUF - (size_t)b->len;
			memcpy((uint8_t *)b->payload + b->len, src, k);
			b->len = (u16_t)(b->len + k);
			b->tot_len = b->len;
			len += k;
			src += k;
			n -= k;
		}
	}
	if (prev != NULL) {
		prev->next = head;
	} else {
		f->rxq_head = head;
		f->rxq_off = 0;
	}
	f->rxq_tail = head != NULL ? tail : prev;
	free_list(start);
	f->set->stats.collapses++;
	f->rxq_len = f->rxq_len - old_len + len;
	f->rxq_cost = f->rxq_cost - old_cost + cost;
}

static void
set_owed(struct tcp_flow *f, uint32_t owed)
{
	if ((f->credit_owed > 0) != (owed > 0)) {
		if (owed > 0) {
			f->set->owed++;
			f->set->env.mem_owed(f->set->env.mem_ctx);
		} else {
			f->set->owed--;
		}
	}
	f->credit_owed = owed;
}

/*
 * Opens the window for n bytes that left us, as far as the memory budget lets this
 * flow offer window now; what it holds back is given later (tcp_flows_budget_tick).
 */
static void
give_credit(struct tcp_flow *f, size_t n)
{
	struct tcp_flows *t = f->set;
	size_t credit = n + f->credit_owed, give = credit;
	bool was_owed = f->credit_owed > 0;
	uint32_t allowed;

	if (!pcb_usable(f)) {
		set_owed(f, 0);
		return;
	}
	if (credit == 0)
		return;
	allowed = mem_budget_scale(t->env.mem, flow_env_mem_used(&t->env), TCP_WND);
	/* (Without pressure everything goes: lwIP clamps at TCP_WND, e.g. after a FIN.) */
	if (allowed < TCP_WND && f->pcb->rcv_wnd + give > allowed)
		give = allowed > f->pcb->rcv_wnd ? allowed - f->pcb->rcv_wnd : 0;
	set_owed(f, (uint32_t)(credit - give));
	if (give == 0)
		return;
	/* tcp_recved takes a u16. */
	for (size_t left = give; left > 0;) {
		u16_t chunk = left > 0xffff ? 0xffff : (u16_t)left;

		tcp_recved(f->pcb, chunk);
		left -= chunk;
	}
	/* A window the budget had narrowed may be below lwIP's update threshold: say so
	 * now rather than at the application's next zero-window probe. */
	if (was_owed) {
		tcp_ack_now(f->pcb);
		tcp_output(f->pcb);
	}
}

void
tcp_flows_budget_tick(struct tcp_flows *t)
{
	for (struct list_node *n = t->all.next; n != &t->all && t->owed > 0; n = n->next) {
		struct tcp_flow *f = container_of(n, struct tcp_flow, link);

		if (f->credit_owed > 0)
			give_credit(f, 0);
	}
}

unsigned
tcp_flows_owed(const struct tcp_flows *t)
{
	return t->owed;
}

size_t
tcp_flows_tx_bytes(const struct tcp_flows *t)
{
	return t->txpool.bytes;
}

static bool finished(const struct tcp_flow *f);

/* Writes queued application bytes to the proxy; returns 0 or -errno (fatal). */
static int
flush_to_proxy(struct tcp_flow *f)
{
	size_t written = 0;

	while (f->rxq_head != NULL) {
		struct iovec iov[MAX_IOV];
		struct pbuf *q = f->rxq_head;
		size_t off = f->rxq_off, want = 0;
		int n = 0;
		ssize_t w;

		for (; q != NULL && n < MAX_IOV; q = q->next, off = 0) {
			if (q->len == off)
				continue;
			iov[n].iov_base = (uint8_t *)q->payload + off;
			iov[n].iov_len = q->len - off;
			want += iov[n].iov_len;
			n++;
		}
		if (n == 0) {
			w = 0;
		} else {
			w = writev(f->fd, iov, n);
			if (w < 0) {
				if (errno == EAGAIN || errno == EINTR)
					break;
				return -errno;
			}
		}
		written += (size_t)w;
		bool socket_full = (size_t)w < want;
		/* Release every pbuf the socket took completely. */
		while (f->rxq_head != NULL && (size_t)w >= f->rxq_head->len - f->rxq_off) {
			struct pbuf *done = f->rxq_head;

			w -= (ssize_t)(done->len - f->rxq_off);
			f->rxq_len -= done->len;
			f->rxq_cost -= pbuf_cost(done);
			f->rxq_head = done->next;
			done->next = NULL;
			pbuf_free(done);
			f->rxq_off = 0;
		}
		if (f->rxq_head == NULL)
			f->rxq_tail = NULL;
		else
			f->rxq_off += (size_t)w;
		if (socket_full)
			break;
	}
	if (written > 0)
		f->last_active = ev_now(f->set->env.loop);
	f->bytes_out += written;
	give_credit(f, written);
	if (f->rxq_head == NULL && f->app_eof && !f->app_eof_relayed) {
		f->app_eof_relayed = true;
		/* When that makes the flow finished (the proxy's EOF read, nothing of ours
		 * left in lwIP), the caller closes it next and close() sends the FIN: the
		 * receive queue is empty past the EOF, so no RST. One system call fewer. */
		if (!finished(f) && shutdown(f->fd, SHUT_WR) < 0 && errno != ENOTCONN)
			return -errno;
	}
	return 0;
}

static err_t
tcp_flow_pcb_recv_cb(void *arg, struct tcp_pcb *pcb, struct pbuf *p, err_t err)
{
	struct tcp_flow *f = arg;
	struct pbuf *last;

	(void)err;
	if (f == NULL) {
		if (p != NULL)
			pbuf_free(p);
		return ERR_OK;
	}
	assert(f->pcb == pcb && "recv for a pcb the flow does not own");
	(void)pcb;
	if (p == NULL) {
		f->app_eof = true;
		/* A FIN in FIN_WAIT_x moved the pcb to TIME_WAIT already: forget it now. */
		(void)pcb_usable(f);
	} else {
		for (last = p;; last = last->next) {
			f->rxq_len += last->len;
			f->rxq_cost += pbuf_cost(last);
			if (last->next == NULL)
				break;
		}
		if (f->rxq_tail != NULL)
			f->rxq_tail->next = p;
		else
			f->rxq_head = p;
		f->rxq_tail = last;
		if (f->rxq_cost > 2 * f->rxq_len + COLLAPSE_SLACK)
			collapse(f);
	}
	f->last_active = ev_now(f->set->env.loop);
	schedule(f);
	return ERR_OK;
}

/* ---- proxy -> app ------------------------------------------------------------- */

/* Bytes lwIP may take now: its own send buffer, within SEND_AHEAD_MIN's rule. */
static size_t
send_room(const struct tcp_flow *f)
{
	size_t room = tcp_sndbuf(f->pcb), ahead = 2 * (size_t)f->pcb->snd_wnd_max;
	size_t written = (uint32_t)(f->pcb->snd_lbb - f->pcb->lastack);

	if (ahead < SEND_AHEAD_MIN)
		ahead = SEND_AHEAD_MIN;
	if (written >= ahead)
		return 0;
	return room < ahead - written ? room : ahead - written;
}

static bool
lwip_has_room(const struct tcp_flow *f, size_t need)
{
	return send_room(f) >= need && tcp_sndqueuelen(f->pcb) + QUEUE_HEADROOM < TCP_SND_QUEUELEN;
}

/*
 * Gives lwIP the bytes read but not yet queued (no copy: lwIP points into the txbuf).
 * Returns 1 when all are queued, 0 when lwIP is full (reading pauses), -EIO on error.
 */
static int
queue_to_app(struct tcp_flow *f)
{
	size_t len;
	const uint8_t *data = txbuf_unqueued(&f->tx, &len);
	err_t e;

	if (data == NULL)
		return 1;
	assert(len <= 0xffff && "txbuf_space never offers more than one write takes");
	e = tcp_write(f->pcb, data, (u16_t)len, 0);
	if (e == ERR_OK) {
		txbuf_queued(&f->tx, len);
		return 1;
	}
	if (e != ERR_MEM)
		return -EIO;
	f->read_paused = true;
	return 0;
}

/*
 * A read this large marks a bulk transfer: the next reads go into the txbuf, without
 * a copy. Smaller ones (most responses of most connections) are copied into lwIP's own
 * exact-size buffers, so the thousands of connections that only ever carry a few KiB
 * never take a 64 KiB chunk.
 */
#define BULK_READ (16 * 1024)

/*
 * lwIP's copy of a small read. What it cannot take goes into the txbuf (where it
 * follows every copied byte, so acknowledgements still arrive in stream order).
 * Returns 1 queued, 0 lwIP full (reading pauses), -errno.
 */
static int
queue_copy(struct tcp_flow *f, const uint8_t *data, size_t n)
{
	err_t e = tcp_write(f->pcb, data, (u16_t)n, TCP_WRITE_FLAG_COPY);
	uint8_t *dst;
	size_t len;

	if (e == ERR_OK) {
		f->copied_unacked += (uint32_t)n;
		return 1;
	}
	if (e != ERR_MEM)
		return -EIO;
	dst = txbuf_space(&f->tx, &f->set->txpool, n, &len);
	if (dst == NULL || len < n)
		return -ENOMEM;
	memcpy(dst, data, n);
	txbuf_filled(&f->tx, n);
	f->read_paused = true;
	return 0;
}

/* Reads from the proxy while lwIP has room. Returns 0 or -errno (fatal). */
static int
pump_from_proxy(struct tcp_flow *f)
{
	struct txpool *pool = &f->set->txpool;
	bool queued = false, looked_for_fin = false;
	int r;

	for (int i = 0; i < READS_PER_WAKEUP && !f->proxy_eof; i++) {
		size_t room = send_room(f), len;
		/* Stream order: once bytes sit in the txbuf, later ones must follow them there. */
		bool chunked = f->bulk || !txbuf_empty(&f->tx);
		uint8_t *buf;
		ssize_t n;

		if (room == 0 || !lwip_has_room(f, 1)) {
			f->read_paused = true;
			break;
		}
		if (chunked) {
			buf = txbuf_space(&f->tx, pool, room, &len);
			if (buf == NULL)
				return -ENOMEM;
		} else {
			buf = f->set->relay_buf;
			len = room < TCP_FLOWS_RELAY_BUF ? room : TCP_FLOWS_RELAY_BUF;
		}
		n = recv(f->fd, buf, len, 0);
		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR)
				break;
			return -errno;
		}
		if (n == 0) {
			f->proxy_eof = true;
			if (tcp_shutdown(f->pcb, 0, 1) != ERR_OK)
				return -EIO;
			queued = true;
			break;
		}
		f->bulk = (size_t)n >= BULK_READ;
		f->bytes_in += (uint64_t)n;
		if (chunked) {
			txbuf_filled(&f->tx, (size_t)n);
			r = queue_to_app(f);
		} else {
			r = queue_copy(f, buf, (size_t)n);
		}
		if (r < 0)
			return r;
		queued = true;
		f->last_active = ev_now(f->set->env.loop);
		if (r == 0)
			break;
		/* A short read emptied the socket, but the proxy's FIN may sit right behind
		 * those bytes (a server that answers and closes, as HTTP/1.0 does): one more
		 * read finds it, and the FIN goes out in the segment that carries them, before
		 * tcp_output (one TUN write and one application ACK fewer per connection).
		 * Only for copied reads: a bulk stream's short reads would each pay a recv. */
		if ((size_t)n < len && (chunked || looked_for_fin))
			break;
		looked_for_fin = (size_t)n < len;
	}
	txbuf_trim(&f->tx, pool);
	if (queued)
		tcp_output(f->pcb);
	return 0;
}

/* Queues what lwIP refused earlier, and resumes reading when lwIP has room again. */
static void
maybe_resume_reading(struct tcp_flow *f)
{
	size_t pending;

	if (!f->read_paused || f->pcb == NULL)
		return;
	if (txbuf_unqueued(&f->tx, &pending) != NULL) {
		if (!lwip_has_room(f, pending) || queue_to_app(f) != 1)
			return;
		tcp_output(f->pcb);
	}
	if (lwip_has_room(f, RESUME_SNDBUF < TCP_SND_BUF / 2 ? RESUME_SNDBUF : TCP_SND_BUF / 2))
		f->read_paused = false;
}

static err_t
tcp_flow_pcb_sent_cb(void *arg, struct tcp_pcb *pcb, u16_t len)
{
	struct tcp_flow *f = arg;

	if (f == NULL)
		return ERR_OK;
	assert(f->pcb == pcb && "sent for a pcb the flow does not own");
	(void)pcb;
	/* Copied bytes, if any, come first in the stream: lwIP's own memory. */
	if (f->copied_unacked > 0) {
		uint32_t c = len < f->copied_unacked ? len : f->copied_unacked;

		f->copied_unacked -= c;
		len = (u16_t)(len - c);
	}
	txbuf_acked(&f->tx, &f->set->txpool, len);
	/* The ACK of our FIN in CLOSING moves the pcb to TIME_WAIT before this callback. */
	(void)pcb_usable(f);
	/* Paused reads may resume; a flow waiting for its last bytes to be acked may end. */
	if (f->read_paused || (f->proxy_eof && txbuf_empty(&f->tx)))
		schedule(f);
	return ERR_OK;
}

static void
tcp_flow_pcb_err_cb(void *arg, err_t err)
{
	struct tcp_flow *f = arg;

	if (f == NULL)
		return;
	/* The pcb is (about to be) freed: forget it before anything can touch it. */
	f->pcb = NULL;
	if (err == ERR_CLSD) {
		/* LAST_ACK ended with the ACK of our FIN: both FINs are through, and every
		 * byte lwIP acknowledged to the application is still in our queue. */
		f->app_eof = true;
		flow_log(f, LOG_LEVEL_DEBUG, "application side closed");
	} else {
		f->app_reset = true;
		flow_log(f, LOG_LEVEL_DEBUG, "application side %s", err == ERR_RST ? "reset" : "aborted");
	}
	schedule(f);
}

/* lwIP frees a pcb that still carries our ext arg (TIME_WAIT ended, or any other way). */
static void
tcp_flow_pcb_destroy_cb(u8_t id, void *data)
{
	struct tcp_flow *f = data;

	(void)id;
	if (f == NULL)
		return;
	/* Alone, this is the end of TIME_WAIT (both FINs were through); an abort calls the
	 * err callback right after, which marks the reset. */
	f->pcb = NULL;
	f->app_eof = true;
	schedule(f);
}

static const struct tcp_ext_arg_callbacks flow_ext_callbacks = {.destroy = tcp_flow_pcb_destroy_cb};

/* ---- both directions ----------------------------------------------------------- */

static bool
finished(const struct tcp_flow *f)
{
	/* Both FINs relayed, and lwIP points into no byte of ours any more (a pcb lwIP
	 * finished with, or forgot in TIME_WAIT, has no segment left). */
	return f->app_eof_relayed && f->proxy_eof && (f->pcb == NULL || txbuf_empty(&f->tx));
}

/* One step of relay work outside lwIP; may close the flow. */
static void
service(struct tcp_flow *f)
{
	int err;

	if (f->app_reset) {
		flow_close(f, CLOSE_ABORT);
		return;
	}
	if (f->state != TCP_FLOW_RELAYING)
		return;
	(void)pcb_usable(f);
	err = flush_to_proxy(f);
	if (err < 0) {
		flow_log(f, LOG_LEVEL_DEBUG, "proxy write failed: %s", strerror(-err));
		flow_close(f, CLOSE_ABORT);
		return;
	}
	maybe_resume_reading(f);
	if (finished(f)) {
		flow_close(f, CLOSE_GRACEFUL);
		return;
	}
	io_watch_set(f->set->env.loop, &f->io, wanted_events(f));
}

static void
tcp_flow_sock_io_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct tcp_flow *f = container_of(w, struct tcp_flow, io);
	int err;

	(void)loop;
	if (f->app_reset) {
		flow_close(f, CLOSE_ABORT);
		return;
	}
	(void)pcb_usable(f);
	if (revents & EV_WRITE) {
		err = flush_to_proxy(f);
		if (err < 0) {
			flow_log(f, LOG_LEVEL_DEBUG, "proxy write failed: %s", strerror(-err));
			flow_close(f, CLOSE_ABORT);
			return;
		}
	}
	/* (A pcb lwIP is done with had our FIN: the proxy has nothing more to read.) */
	if ((revents & EV_READ) && !f->read_paused && f->pcb != NULL) {
		err = pump_from_proxy(f);
		if (err < 0) {
			flow_log(f, LOG_LEVEL_DEBUG, "proxy read failed: %s", strerror(-err));
			flow_close(f, CLOSE_ABORT);
			return;
		}
	}
	if (finished(f)) {
		flow_close(f, CLOSE_GRACEFUL);
		return;
	}
	io_watch_set(f->set->env.loop, &f->io, wanted_events(f));
}

/* ---- lifetime ------------------------------------------------------------------ */

static void
detach_pcb(struct tcp_pcb *pcb)
{
	tcp_arg(pcb, NULL);
	tcp_recv(pcb, NULL);
	tcp_sent(pcb, NULL);
	tcp_err(pcb, NULL);
	tcp_ext_arg_set(pcb, FLOW_EXT_ARG, NULL);
}

/*
 * The application side ended gracefully (both FINs through) and lwIP finishes the pcb
 * alone: let go of it, keep the flow until its queue toward the proxy is delivered.
 * The tuple is free again for the application's next connection.
 */
static void
forget_pcb(struct tcp_flow *f)
{
	detach_pcb(f->pcb);
	f->pcb = NULL;
	f->app_eof = true;
	if (f->in_table) {
		flow_table_remove(&f->set->table, &f->node);
		f->in_table = false;
	}
	schedule(f);
}

static void
flow_close(struct tcp_flow *f, enum close_how how)
{
	struct tcp_flows *t = f->set;

	if (f->in_table) {
		flow_table_remove(&t->table, &f->node);
		f->in_table = false;
	}
	if (f->scheduled)
		list_remove(&f->service_link);
	list_remove(&f->link);
	t->count--;
	histogram_observe(&t->stats.duration, ev_now(t->env.loop) - f->started);

	set_owed(f, 0);

	ev_io_stop(t->env.loop, &f->io);
	ev_timer_stop(t->env.loop, &f->timer);
	proxy_tcp_free(f->socks);
	if (f->syn != NULL)
		pbuf_free(f->syn);
	if (f->pcb != NULL) {
		lwip_port_tcp_wake(f->pcb);
		detach_pcb(f->pcb);
		/* A graceful close leaves the pcb to lwIP, which may still retransmit: only
		 * when no queued byte is unacknowledged (else abort, dropping its references). */
		if (how == CLOSE_ABORT || !txbuf_empty(&f->tx) || tcp_close(f->pcb) != ERR_OK)
			tcp_abort(f->pcb);
	}
	txbuf_release(&f->tx, &t->txpool);
	if (f->fd >= 0) {
		if (how == CLOSE_ABORT)
			sock_set_abortive_close(f->fd);
		close(f->fd);
	}
	while (f->rxq_head != NULL) {
		struct pbuf *q = f->rxq_head;

		f->rxq_head = q->next;
		q->next = NULL;
		pbuf_free(q);
	}
	flow_log(f, LOG_LEVEL_DEBUG, "closed (%s)", how == CLOSE_GRACEFUL ? "done" : "aborted");
	free(f->host);
	free(f->target);
	free(f);
}

void
tcp_flows_service(struct tcp_flows *t)
{
	struct list_node *n;

	while ((n = list_first(&t->service)) != NULL) {
		struct tcp_flow *f = container_of(n, struct tcp_flow, service_link);

		list_remove(n);
		f->scheduled = false;
		service(f);
	}
}

void
tcp_flows_abort_all(struct tcp_flows *t)
{
	while (!list_empty(&t->all))
		flow_close(list_entry(list_first(&t->all), struct tcp_flow, link), CLOSE_ABORT);
}

static bool retry(struct tcp_flow *f, const struct proxy_tcp_result *res);

/* With several proxies, how long one proxy may take to answer before the SYN is
 * tried on the next: a check's timeout, within what is left of --connect-timeout. */
static double
attempt_timeout(const struct tcp_flows *t, double left)
{
	double a = t->env.cfg->proxy_check_timeout;

	return proxy_set_count(t->env.proxies) > 1 && a < left ? a : left;
}

/*
 * The connect timer of a CONNECTING flow fired. A proxy that has not even answered
 * the greeting (SOCKS5) or the TCP connect (HTTP) failed (a handshake timeout, told
 * to the proxy set); with several proxies the SYN moves on to the next one up. A
 * proxy that answered is waiting for the target, which is not its failure. Returns
 * true if the flow waits on (the timer re-armed), false when --connect-timeout is up.
 */
static bool
connect_wait(struct tcp_flow *f)
{
	struct tcp_flows *t = f->set;
	const struct proxy_tcp_result res = {.failure = PROXY_TCP_PROTOCOL, .err = -ETIMEDOUT};
	double left = f->started + t->env.cfg->connect_timeout - ev_now(t->env.loop);
	bool silent = f->socks != NULL && !proxy_tcp_proxy_answered(f->socks);

	if (left <= 0.001) {
		if (silent && !f->proxy_reported) {
			f->proxy_reported = true;
			proxy_set_report(t->env.proxies, f->proxy_idx, false, false, ev_now(t->env.loop));
		}
		return false;
	}
	if (silent)
		(void)retry(f, &res); /* on failure the flow keeps waiting on the proxy it has */
	ev_timer_set(&f->timer, attempt_timeout(t, left), 0);
	ev_timer_start(t->env.loop, &f->timer);
	return true;
}

static void
tcp_flow_timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct tcp_flow *f = container_of(w, struct tcp_flow, timer);
	const struct t2s_config *cfg = f->set->env.cfg;
	ev_tstamp idle_left;

	(void)revents;
	switch (f->state) {
	case TCP_FLOW_CONNECTING:
		if (connect_wait(f))
			return;
		flow_log_limited(f, T2S_RATE_CONNECT_TIMEOUT, LOG_LEVEL_INFO, "no answer from the proxy within %.0f s",
				 cfg->connect_timeout);
		f->set->stats.failed++;
		/* What a router says when a host does not answer: the application stops
		 * retrying at once instead of after its own SYN timeout. */
		(void)tun_out_unreachable(&f->set->env.tun, f->syn->payload, f->syn->len, NULL, PACKET_UNREACH_HOST);
		flow_close(f, CLOSE_ABORT);
		return;
	case TCP_FLOW_HANDSHAKING:
		flow_log(f, LOG_LEVEL_DEBUG, "application never completed the handshake");
		flow_close(f, CLOSE_ABORT);
		return;
	case TCP_FLOW_RELAYING:
		idle_left = f->last_active + cfg->idle_timeout - ev_now(loop);
		if (idle_left <= 0) {
			flow_log(f, LOG_LEVEL_DEBUG, "idle for %.0f s, closing", cfg->idle_timeout);
			flow_close(f, CLOSE_ABORT);
			return;
		}
		ev_timer_set(&f->timer, idle_left, 0);
		ev_timer_start(loop, &f->timer);
		return;
	}
}

/* Answers the held SYN the way the network would have without a proxy. */
static void
refuse_application(struct tcp_flow *f, const struct proxy_tcp_result *res)
{
	const struct tun_out *out = &f->set->env.tun;
	const uint8_t *syn = f->syn->payload;
	struct packet_info info;

	if (packet_parse(syn, f->syn->len, &info) < 0)
		return;
	if (res->failure == PROXY_TCP_TARGET && res->rep == SOCKS5_REP_NET_UNREACHABLE)
		(void)tun_out_unreachable(out, syn, info.ip_len, &info, PACKET_UNREACH_NET);
	else if (res->failure == PROXY_TCP_TARGET &&
		 (res->rep == SOCKS5_REP_HOST_UNREACHABLE || res->rep == SOCKS5_REP_TTL_EXPIRED))
		(void)tun_out_unreachable(out, syn, info.ip_len, &info, PACKET_UNREACH_HOST);
	else if (res->failure == PROXY_TCP_TARGET && res->rep == SOCKS5_REP_NOT_ALLOWED)
		(void)tun_out_unreachable(out, syn, info.ip_len, &info, PACKET_UNREACH_ADMIN);
	else
		(void)tun_out_rst(out, &info);
}

/*
 * No descriptor for the proxy connection: RST at once, so the application fails fast
 * instead of retransmitting its SYN into the same wall. Not a proxy failure, so it is
 * not logged as one: fd_pressure logs the episode once.
 */
static void
refuse_no_descriptor(struct tcp_flow *f, int err)
{
	struct proxy_tcp_result res = {.failure = PROXY_TCP_UNREACHABLE, .err = err};

	fd_pressure_refused(f->set->env.fd_pressure, ev_now(f->set->env.loop), "TCP", err);
	refuse_application(f, &res);
	flow_close(f, CLOSE_ABORT);
}

static void
log_failure(struct tcp_flow *f, const struct proxy_tcp_result *res)
{
	struct tcp_flows *t = f->set;
	const struct socks5_server *server = &t->env.servers[f->proxy_idx];
	char proxy[T2S_ENDPOINT_STRLEN];

	flow_env_proxy_name(&t->env, f->proxy_idx, proxy, sizeof(proxy));
	switch (res->failure) {
	case PROXY_TCP_TARGET:
		if (res->http_status != 0)
			flow_log_limited(f, T2S_RATE_TARGET_FAILED, LOG_LEVEL_INFO,
					 "proxy could not connect: HTTP %u %s", res->http_status, res->reason);
		else
			flow_log_limited(f, T2S_RATE_TARGET_FAILED, LOG_LEVEL_INFO,
					 "proxy could not connect: %s (REP %u)", socks5_proto_rep_str(res->rep), res->rep);
		break;
	case PROXY_TCP_UNREACHABLE:
		if (flow_env_rate_ok(&t->env, T2S_RATE_PROXY_UNREACHABLE, 5.0))
			log_warn("proxy %s unreachable: %s (connections are refused until it is back)", proxy,
				 strerror(-res->err));
		break;
	case PROXY_TCP_AUTH:
		if (res->http_status != 0) {
			if (flow_env_rate_ok(&t->env, T2S_RATE_PROXY_AUTH, 5.0))
				log_error("proxy %s: authentication failed (HTTP %u %s: %s)", proxy, res->http_status,
					  res->reason,
					  server->user != NULL ? "username or password rejected"
								: "the proxy requires a username and password");
		} else if (flow_env_rate_ok(&t->env, T2S_RATE_PROXY_AUTH, 5.0)) {
			if (res->method == SOCKS5_METHOD_USERPASS || server->user != NULL)
				log_error("proxy %s: authentication failed (%s)", proxy,
					  server->user != NULL ? "username or password rejected"
								: "the proxy requires a username and password");
			else
				log_error("proxy %s: authentication failed (no acceptable method)", proxy);
		}
		break;
	case PROXY_TCP_PROTOCOL:
		if (!flow_env_rate_ok(&t->env, T2S_RATE_PROXY_PROTOCOL, 5.0))
			break;
		if (res->http_status != 0)
			log_warn("proxy %s does not do CONNECT (HTTP %u %s)", proxy, res->http_status, res->reason);
		else
			log_warn("proxy %s broke the %s handshake: %s", proxy,
				 server->kind == PROXY_KIND_HTTP ? "HTTP CONNECT" : "SOCKS5", strerror(-res->err));
		break;
	case PROXY_TCP_TLS:
		if (flow_env_rate_ok(&t->env, T2S_RATE_PROXY_TLS, 5.0))
			log_error("proxy %s: TLS: %s (connections are refused until this is fixed)", proxy, res->reason);
		break;
	case PROXY_TCP_OK:
		break;
	}
}

static void flow_socks_done_cb(void *arg, const struct proxy_tcp_result *res);

/*
 * The proxy failed (not the target): the proxy set hears of it, and with several
 * proxies the held SYN is tried on the next one up that this flow has not tried,
 * within the flow's --connect-timeout (its timer keeps running). Returns true if a
 * new attempt is under way.
 */
static bool
retry(struct tcp_flow *f, const struct proxy_tcp_result *res)
{
	struct tcp_flows *t = f->set;
	struct proxy_tcp *next_session;
	char from[T2S_ENDPOINT_STRLEN], to[T2S_ENDPOINT_STRLEN];
	unsigned from_idx = f->proxy_idx;
	int next;

	if (!f->proxy_reported)
		proxy_set_report(t->env.proxies, from_idx, false, false, ev_now(t->env.loop));
	f->proxy_reported = true;
	if (proxy_set_count(t->env.proxies) < 2)
		return false;
	if (f->target == NULL)
		return false;
	next = proxy_set_next(t->env.proxies, from_idx, f->proxies_tried);
	if (next < 0)
		return false;
	log_failure(f, res);
	next_session = proxy_tcp_new(t->env.loop, &t->env.servers[next], f->target, flow_socks_done_cb, f);
	if (next_session == NULL)
		return false;
	proxy_tcp_free(f->socks);
	f->socks = next_session;
	f->proxy_reported = false;
	f->proxy_idx = (uint8_t)next;
	f->proxies_tried |= (uint8_t)(1u << next);
	flow_env_proxy_name(&t->env, from_idx, from, sizeof(from));
	flow_env_proxy_name(&t->env, (unsigned)next, to, sizeof(to));
	flow_log(f, LOG_LEVEL_INFO, "proxy %u (%s) failed; trying proxy %d (%s)", from_idx, from, next, to);
	return true;
}

/* lwip_port_tcp_input_new's input. */
static void
feed_tunif(void *ctx, struct pbuf *p)
{
	tunif_input(ctx, p);
}

static void
flow_socks_done_cb(void *arg, const struct proxy_tcp_result *res)
{
	struct tcp_flow *f = arg;
	struct tcp_flows *t = f->set;
	struct pbuf *syn;
	ip_addr_t app, dst;

	if (res->failure != PROXY_TCP_OK && res->failure != PROXY_TCP_TARGET && f->socks != NULL && retry(f, res))
		return;
	if (res->failure != PROXY_TCP_OK) {
		t->stats.failed++;
		if (res->failure != PROXY_TCP_TARGET) {
			t->stats.proxy_last_fail = ev_now(t->env.loop);
			t->stats.proxy_last_error = res->failure == PROXY_TCP_UNREACHABLE ? "unreachable"
						    : res->failure == PROXY_TCP_AUTH      ? "authentication failed"
						    : res->failure == PROXY_TCP_TLS       ? "TLS failed"
											  : "protocol error";
		} else {
			t->stats.proxy_last_ok = ev_now(t->env.loop); /* it answered */
			if (f->socks != NULL)
				proxy_set_report(t->env.proxies, f->proxy_idx, true, false, t->stats.proxy_last_ok);
		}
		log_failure(f, res);
		refuse_application(f, res);
		flow_close(f, CLOSE_ABORT);
		return;
	}
	proxy_set_report(t->env.proxies, f->proxy_idx, true, false, ev_now(t->env.loop));
	f->connected = t->stats.proxy_last_ok = ev_now(t->env.loop);
	histogram_observe(&t->stats.connect_time, f->connected - f->started);
	f->fd = proxy_tcp_take_fd(f->socks);
	proxy_tcp_free(f->socks);
	f->socks = NULL;
	ev_io_init(&f->io, tcp_flow_sock_io_cb, f->fd, EV_READ);
	f->state = TCP_FLOW_HANDSHAKING;
	/* The application gets a --connect-timeout of its own to complete the handshake:
	 * what was left of the proxy's (maybe nothing) must not abort a connection lwIP
	 * answers now, whose ACK would then meet a RST. */
	ev_timer_stop(t->env.loop, &f->timer);
	ev_timer_set(&f->timer, t->env.cfg->connect_timeout, 0);
	ev_timer_start(t->env.loop, &f->timer);

	/* Anything lwIP still holds for this tuple is a finished connection's leftover. */
	if (f->node.key.family == 4) {
		IP_ADDR4(&app, f->node.key.app_addr[0], f->node.key.app_addr[1], f->node.key.app_addr[2],
			 f->node.key.app_addr[3]);
		IP_ADDR4(&dst, f->node.key.dst_addr[0], f->node.key.dst_addr[1], f->node.key.dst_addr[2],
			 f->node.key.dst_addr[3]);
	} else {
		ip_addr_t *ips[2] = {&app, &dst};
		const uint8_t *raw[2] = {f->node.key.app_addr, f->node.key.dst_addr};

		for (int i = 0; i < 2; i++) {
			u32_t w[4];

			memcpy(w, raw[i], 16);
			IP_ADDR6(ips[i], w[0], w[1], w[2], w[3]);
			ip6_addr_clear_zone(ip_2_ip6(ips[i]));
		}
	}
	lwip_port_tcp_forget(&app, f->node.key.app_port, &dst, f->node.key.dst_port);

	syn = f->syn;
	f->syn = NULL;
	/* lwIP answers SYN|ACK now; accept follows the ACK */
	lwip_port_tcp_input_new(feed_tunif, t->tunif, syn);
}

/*
 * A copy of the SYN's headers for lwIP once the proxy has connected: data in a SYN
 * (TCP Fast Open) is not acknowledged by lwIP, so the application sends it again after
 * the handshake, and holding it (up to 64 KiB per pending flow) would buy nothing.
 */
static struct pbuf *
hold_syn(const uint8_t *pkt, const struct packet_info *info)
{
	struct pbuf *p = pbuf_alloc(PBUF_RAW, (u16_t)(info->ip_len - info->tcp_payload_len), PBUF_RAM);

	if (p == NULL)
		return NULL;
	memcpy(p->payload, pkt, p->len);
	packet_trim_payload(p->payload, info);
	return p;
}

/* RST for a SYN no flow is made for. */
bool
tcp_flows_handle_syn(struct tcp_flows *t, const uint8_t *pkt, const struct packet_info *info)
{
	struct flow_key key;
	struct flow_table_node *node;
	struct tcp_flow *f;
	struct t2s_endpoint target;

	flow_key_make(&key, info->family, PACKET_PROTO_TCP, info->src, info->sport, info->dst, info->dport);
	node = flow_table_lookup(&t->table, &key);
	if (node != NULL) {
		f = container_of(node, struct tcp_flow, node);
		if (f->state == TCP_FLOW_CONNECTING) {
			t->stats.syn_absorbed++;
			return true;
		}
		return false; /* lwIP's pcb for this tuple answers it */
	}
	if (*t->env.stopping)
		return true;
	if (dns_stub_owns(t->env.cfg->dns_stub ? &t->env.cfg->dns_stub4 : NULL, info->family, info->dst)) {
		/* The command's nameserver answers UDP only (dns_stub.h): RST, no flow. */
		(void)tun_out_rst(&t->env.tun, info);
		t->stats.stub_refused++;
		return true;
	}
	if (t->count >= t->env.cfg->max_flows) {
		/* RST at once, as on descriptor exhaustion: a silent drop would leave the
		 * application retransmitting its SYN for a minute. */
		(void)tun_out_rst(&t->env.tun, info);
		t->stats.refused_cap++;
		fd_pressure_capped(&t->flow_cap, ev_now(t->env.loop), "TCP", t->count);
		return true;
	}
	fd_pressure_ok(&t->flow_cap, ev_now(t->env.loop));

	if (!mem_budget_admit(t->env.mem, flow_env_mem_used(&t->env), ev_now(t->env.loop), "TCP")) {
		(void)tun_out_rst(&t->env.tun, info);
		return true;
	}

	f = calloc(1, sizeof(*f));
	if (f == NULL)
		return true;
	f->syn = hold_syn(pkt, info);
	if (f->syn == NULL) {
		free(f);
		return true;
	}
	f->set = t;
	f->fd = -1;
	f->id = ++*t->env.next_flow_id;
	f->state = TCP_FLOW_CONNECTING;
	f->started = ev_now(t->env.loop);
	f->node.key = key;
	(void)flow_table_insert(&t->table, &f->node);
	f->in_table = true;
	list_push_front(&t->all, &f->link);
	t->count++;
	t->stats.opened++;
	ev_timer_init(&f->timer, tcp_flow_timer_cb, attempt_timeout(t, t->env.cfg->connect_timeout), 0);
	ev_timer_start(t->env.loop, &f->timer);
	ev_init(&f->io, tcp_flow_sock_io_cb);

	flow_env_dst_endpoint(info, &target);
	if (fake_dns_target(t->env.fakeip, ev_now(t->env.loop), info->family, info->dst, info->dport, &target) < 0) {
		/* A fake address whose name is gone (a stale cache): refuse, so the
		 * application resolves the name again. */
		struct proxy_tcp_result res = {.failure = PROXY_TCP_TARGET, .err = -ECONNREFUSED,
						.rep = SOCKS5_REP_CONN_REFUSED};

		t->stats.fake_unmapped++;
		flow_log_limited(f, T2S_RATE_FAKE_UNMAPPED, LOG_LEVEL_INFO,
				 "fake address with no name mapped (stale DNS cache?)");
		flow_socks_done_cb(f, &res);
		return true;
	}
	switch (dns_local_decide(t->env.cfg, info->family, info->dst, info->dport)) {
	case DNS_LOCAL_PASS:
		break;
	case DNS_LOCAL_REDIRECT:
		(void)dns_local_server(t->env.cfg, &target);
		flow_log(f, LOG_LEVEL_DEBUG, "DNS to an excluded or link-local server: to --dns-server instead");
		break;
	case DNS_LOCAL_REFUSE: {
		/* Captured (capture.c), but the proxy cannot reach it: refused at once. */
		struct proxy_tcp_result res = {.failure = PROXY_TCP_TARGET, .err = -ECONNREFUSED,
					       .rep = SOCKS5_REP_CONN_REFUSED};

		flow_log_limited(f, T2S_RATE_DNS_LOCAL, LOG_LEVEL_WARN,
				 "DNS to an excluded or link-local server refused: the proxy cannot reach it; set "
				 "--dns-server or --exclude-dns");
		flow_socks_done_cb(f, &res);
		return true;
	}
	}
	if (target.type == T2S_ENDPOINT_DOMAIN)
		f->host = strdup(target.u.domain.name); /* for the flow table only: NULL is fine */
	flow_log(f, LOG_LEVEL_DEBUG, "new connection%s%s", target.type == T2S_ENDPOINT_DOMAIN ? " to " : "",
		 target.type == T2S_ENDPOINT_DOMAIN ? target.u.domain.name : "");
	f->proxy_idx = (uint8_t)proxy_set_pick(t->env.proxies);
	f->proxies_tried = (uint8_t)(1u << f->proxy_idx);
	if (proxy_set_count(t->env.proxies) > 1) {
		f->target = malloc(sizeof(*f->target)); /* NULL: no retry, which is fine */
		if (f->target != NULL)
			*f->target = target;
	}
	f->socks = proxy_tcp_new(t->env.loop, &t->env.servers[f->proxy_idx], &target, flow_socks_done_cb, f);
	if (f->socks == NULL) {
		struct proxy_tcp_result res = {.failure = PROXY_TCP_UNREACHABLE, .err = -errno};

		if (fd_pressure_is_exhaustion(res.err)) {
			refuse_no_descriptor(f, res.err);
			return true;
		}
		flow_socks_done_cb(f, &res);
		return true;
	}
	fd_pressure_ok(t->env.fd_pressure, ev_now(t->env.loop));
	return true;
}

err_t
tcp_flow_accept_cb(void *arg, struct tcp_pcb *newpcb, err_t err)
{
	struct tcp_flows *t = arg;
	struct flow_key key;
	struct flow_table_node *node;
	struct tcp_flow *f;
	int family;

	if (err != ERR_OK || newpcb == NULL)
		return ERR_VAL;
	family = IP_IS_V6(&newpcb->local_ip) ? 6 : 4;
	if (family == 4)
		flow_key_make(&key, 4, PACKET_PROTO_TCP, (const uint8_t *)ip_2_ip4(&newpcb->remote_ip),
			      newpcb->remote_port, (const uint8_t *)ip_2_ip4(&newpcb->local_ip), newpcb->local_port);
	else
		flow_key_make(&key, 6, PACKET_PROTO_TCP, (const uint8_t *)ip_2_ip6(&newpcb->remote_ip)->addr,
			      newpcb->remote_port, (const uint8_t *)ip_2_ip6(&newpcb->local_ip)->addr,
			      newpcb->local_port);
	node = flow_table_lookup(&t->table, &key);
	f = node != NULL ? container_of(node, struct tcp_flow, node) : NULL;
	if (f == NULL || f->state != TCP_FLOW_HANDSHAKING || f->pcb != NULL) {
		/* A handshake we never gated (e.g. its flow timed out meanwhile). */
		tcp_abort(newpcb);
		return ERR_ABRT;
	}
	f->pcb = newpcb;
	/* Admitted near the budget: start with the window it allows, not all of TCP_WND. */
	set_owed(f, lwip_port_tcp_limit_window(newpcb, mem_budget_scale(t->env.mem, flow_env_mem_used(&t->env), TCP_WND)));
	tcp_arg(newpcb, f);
	tcp_recv(newpcb, tcp_flow_pcb_recv_cb);
	tcp_sent(newpcb, tcp_flow_pcb_sent_cb);
	tcp_err(newpcb, tcp_flow_pcb_err_cb);
	tcp_ext_arg_set_callbacks(newpcb, FLOW_EXT_ARG, &flow_ext_callbacks);
	tcp_ext_arg_set(newpcb, FLOW_EXT_ARG, f);
	tcp_nagle_disable(newpcb);
	f->state = TCP_FLOW_RELAYING;
	f->last_active = ev_now(t->env.loop);
	ev_timer_stop(t->env.loop, &f->timer);
	ev_timer_set(&f->timer, t->env.cfg->idle_timeout, 0);
	ev_timer_start(t->env.loop, &f->timer);
	flow_log(f, LOG_LEVEL_DEBUG, "relaying");
	schedule(f); /* starts the proxy watcher outside lwIP */
	return ERR_OK;
}

/* New flows refused (RST) at --max-flows: episodes worded like the other limits'. */
static const struct fd_pressure_kind max_flows_kind = {
	.short_of = "at --max-flows",
	.recovered = "below --max-flows again",
};

struct tcp_flows *
tcp_flows_new(const struct flow_env *env, uint64_t seed)
{
	struct tcp_flows *t = calloc(1, sizeof(*t));

	if (t == NULL)
		return NULL;
	t->env = *env;
	t->flow_cap.kind = &max_flows_kind;
	histogram_init(&t->stats.connect_time, histogram_latency, HISTOGRAM_LATENCY_N);
	histogram_init(&t->stats.duration, histogram_duration, HISTOGRAM_DURATION_N);
	list_init(&t->all);
	list_init(&t->service);
	txpool_init(&t->txpool, TCP_FLOWS_TX_CHUNKS_KEPT);
	t->relay_buf = malloc(TCP_FLOWS_RELAY_BUF);
	if (t->relay_buf == NULL || flow_table_init(&t->table, seed) < 0) {
		free(t->relay_buf);
		free(t);
		errno = ENOMEM;
		return NULL;
	}
	return t;
}

void
tcp_flows_set_tunif(struct tcp_flows *t, struct tunif *tunif)
{
	t->tunif = tunif;
}

void
tcp_flows_free(struct tcp_flows *t)
{
	if (t == NULL)
		return;
	tcp_flows_abort_all(t);
	txpool_fini(&t->txpool);
	free(t->relay_buf);
	flow_table_fini(&t->table);
	free(t);
}

unsigned
tcp_flows_count(const struct tcp_flows *t)
{
	return t->count;
}

const struct tcp_flows_stats *
tcp_flows_get_stats(const struct tcp_flows *t)
{
	return &t->stats;
}

const struct fd_pressure *
tcp_flows_cap(const struct tcp_flows *t)
{
	return &t->flow_cap;
}

static const char *
state_str(const struct tcp_flow *f)
{
	switch (f->state) {
	case TCP_FLOW_CONNECTING:
		return "connecting";
	case TCP_FLOW_HANDSHAKING:
		return "handshaking";
	case TCP_FLOW_RELAYING:
		break;
	}
	if (f->app_eof || f->proxy_eof)
		return f->app_eof && f->proxy_eof ? "closing" : f->app_eof ? "half-closed-app" : "half-closed-proxy";
	return "relaying";
}

int
tcp_flows_foreach(const struct tcp_flows *t, flow_info_fn fn, void *arg)
{
	for (const struct list_node *n = t->all.next; n != &t->all; n = n->next) {
		const struct tcp_flow *f = container_of(n, struct tcp_flow, link);
		struct flow_info info = {
			.id = f->id,
			.key = f->node.key,
			.state = state_str(f),
			.started = f->started,
			.connected = f->connected,
			.last_active = f->last_active > 0 ? f->last_active : f->started,
			.bytes_out = f->bytes_out,
			.bytes_in = f->bytes_in,
		};
		int rc;

		if (f->host != NULL)
			snprintf(info.host, sizeof(info.host), "%s", f->host);
		rc = fn(arg, &info);
		if (rc != 0)
			return rc;
	}
	return 0;
}
