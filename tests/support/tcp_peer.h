/* SPDX-License-Identifier: MIT */
/*
 * The two ends of a relayed TCP connection, scripted by a test on its own libev loop:
 * - struct tun_peer: the far end of a socketpair that stands in for the TUN. It reads
 *   every packet tun2socks writes (checking IPv4 and TCP checksums), hands TCP segments
 *   to the tcp_app they belong to and keeps the others (UDP, ICMP) for the test.
 * - struct tcp_app: a minimal TCP endpoint (IPv4; MSS and window scaling offered in the
 *   SYN like Linux does, its own window unscaled; no retransmission: the socketpair loses
 *   nothing) that connects, sends a pattern of
 *   bytes within the window it is offered (probing a closed one every 0.2 s, as real
 *   stacks do), acknowledges what it receives (or stops reading: its window closes),
 *   half-closes and resets.
 * - struct tcp_target: the proxy side of a CONNECT (a socket from fake_socks5_take_target)
 *   that reads and checks the pattern (or stalls), sends its own, half-closes, resets.
 * Bytes are a deterministic pattern of (seed, offset), checked byte by byte on arrival.
 */
#ifndef T2S_TESTS_TCP_PEER_H
#define T2S_TESTS_TCP_PEER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <ev.h>

#define TUN_PEER_MAX_APPS 16
#define TUN_PEER_KEPT 32 /* non-TCP packets kept (the oldest are overwritten) */

/* The byte at offset off of the stream with this seed. */
uint8_t pattern_byte(uint32_t seed, uint64_t off);

struct tun_peer_pkt {
	uint8_t data[2048]; /* the packet's first bytes */
	size_t len;         /* its whole length */
};

struct tcp_app;

struct tun_peer {
	struct ev_loop *loop;
	int fd;
	ev_io io;
	ev_prepare pump; /* sends what the apps may send, once per loop iteration */
	bool blocked;    /* the last write found the socketpair full */
	bool holding;    /* packets read are held, not delivered (tun_peer_hold) */
	struct held_pkt *held_head, **held_tail;
	unsigned held_fins; /* held TCP segments with FIN */
	unsigned drop_data; /* TCP segments with payload still to drop (tun_peer_drop_next) */
	unsigned dropped;   /* segments dropped so far */
	struct tcp_app *apps[TUN_PEER_MAX_APPS];
	unsigned packets;   /* every packet read */
	unsigned bad_csum;  /* IPv4 or TCP checksum wrong */
	unsigned stray_tcp; /* TCP for no app */
	unsigned kept;      /* non-TCP packets seen; kept[(kept - 1) % TUN_PEER_KEPT] is the last */
	struct tun_peer_pkt other[TUN_PEER_KEPT];
};

/* Takes fd (the test's end of the socketpair; made non-blocking). */
struct tun_peer *tun_peer_new(struct ev_loop *loop, int fd);
void tun_peer_free(struct tun_peer *p);
/* While held, packets from tun2socks are read and kept, not delivered to the apps (so an
 * app can send before it sees them: a simultaneous close); releasing delivers them. */
void tun_peer_hold(struct tun_peer *p, bool hold);
/* The next n IPv4 TCP segments with payload from tun2socks are lost (a lossy link). */
void tun_peer_drop_next(struct tun_peer *p, unsigned n);
/* Writes one packet into the TUN; false if the socketpair is full. */
bool tun_peer_send(struct tun_peer *p, const uint8_t *pkt, size_t len);

struct tcp_app {
	struct tun_peer *peer;
	uint8_t addr[4], daddr[4];
	uint16_t sport, dport;
	uint16_t mss; /* announced in the SYN */
	bool offer_wscale; /* window scale option in the SYN (default; shift 0 for ours) */
	uint8_t snd_wscale; /* the peer's shift, once both offered it */
	/* What happened. */
	unsigned synacks, rsts, icmps, acks;
	uint8_t icmp_type, icmp_code;
	bool established, got_fin, fin_sent, fin_acked, rst_sent;
	/* Send side. */
	uint32_t iss, snd_una, snd_nxt, snd_wnd;
	uint16_t peer_mss;
	uint64_t tx_limit, tx_sent; /* pattern bytes to send in all, sent so far */
	uint32_t tx_seed;
	bool fin_wanted; /* FIN once tx_limit is sent (and the window has room for it) */
	uint32_t wnd_reserve; /* window left unused (so a FIN still fits when the rest is full) */
	uint32_t min_wnd;  /* the smallest window offered since established */
	unsigned probes;   /* zero-window probes sent */
	bool no_probes;    /* never probe: only a window update tun2socks sends reopens the window */
	ev_tstamp last_heard; /* last ACK or probe: a window it cannot use is probed after a while */
	/* Receive side. */
	uint32_t irs, rcv_nxt;
	uint32_t rcv_space; /* window when nothing is unread */
	uint32_t unread;    /* bytes received while not reading (they close the window) */
	bool reading;
	uint64_t rx_bytes;
	uint32_t rx_seed;
	bool rx_bad; /* a byte differed from the pattern */
	uint64_t rx_bad_at;
};

/* An app at src:sport connecting to dst:dport (dotted IPv4). Reads, sends nothing yet. */
struct tcp_app *tcp_app_new(struct tun_peer *p, const char *src, uint16_t sport, const char *dst, uint16_t dport,
			    uint32_t tx_seed, uint32_t rx_seed);
void tcp_app_free(struct tcp_app *a);
/* Sends the SYN (again: a retransmission). */
void tcp_app_connect(struct tcp_app *a);
/* Sends bytes more of its pattern, as the window allows. */
void tcp_app_send(struct tcp_app *a, uint64_t bytes);
/* FIN after everything queued by tcp_app_send. */
void tcp_app_close(struct tcp_app *a);
/* RST now. */
void tcp_app_reset(struct tcp_app *a);
/* Stops reading (the window closes as bytes arrive) or resumes (all unread bytes are
 * consumed and the reopened window is announced). */
void tcp_app_set_reading(struct tcp_app *a, bool reading);
/* All sent bytes (and the FIN, if sent) acknowledged. */
bool tcp_app_all_acked(const struct tcp_app *a);

struct tcp_target {
	struct ev_loop *loop;
	int fd;
	ev_io io;
	bool reading;
	uint64_t rx_limit; /* reads stop there (UINT64_MAX: no limit) */
	uint64_t rx_bytes;
	uint32_t rx_seed;
	bool rx_bad;
	uint64_t rx_bad_at;
	bool rx_eof;
	int rx_err; /* errno of a failed read (ECONNRESET), 0 */
	uint64_t tx_limit, tx_sent;
	uint32_t tx_seed;
	bool tx_blocked; /* the last write found the socket full */
	bool shut_wanted, shut_done;
	int tx_err;
};

/* Takes fd; starts reading. */
struct tcp_target *tcp_target_new(struct ev_loop *loop, int fd, uint32_t tx_seed, uint32_t rx_seed);
void tcp_target_free(struct tcp_target *t);
void tcp_target_set_reading(struct tcp_target *t, bool reading);
/* Reads until rx_bytes reaches limit, then stalls. */
void tcp_target_read_upto(struct tcp_target *t, uint64_t limit);
void tcp_target_send(struct tcp_target *t, uint64_t bytes);
/* shutdown(SHUT_WR) once everything queued is sent. */
void tcp_target_shutdown(struct tcp_target *t);
/* Closes with RST (SO_LINGER 0) now; the fd is gone. */
void tcp_target_reset(struct tcp_target *t);
/* Writes what the socket takes now (also done from the watcher). */
void tcp_target_pump(struct tcp_target *t);

#endif
