/* SPDX-License-Identifier: MIT */
/*
 * A scripted SOCKS5 server for UDP ASSOCIATE and CONNECT on 127.0.0.1, running on the
 * test's own libev loop (so tests that need many associations at once, and control over
 * when each one answers or dies, stay single-threaded and deterministic). No
 * authentication. Each association gets its own relay socket, like dante, so the test
 * can tell them apart. A CONNECT that succeeds connects to nothing: its socket is handed
 * to the test (fake_socks5_take_target), which then plays the target itself (reads or
 * stalls, sends, half-closes, resets).
 */
#ifndef T2S_TESTS_FAKE_SOCKS5_H
#define T2S_TESTS_FAKE_SOCKS5_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <ev.h>

#include "endpoint.h"
#include "socks5_tcp.h"

#define FAKE_SOCKS5_MAX_CONNS 32

/* How a UDP ASSOCIATE request is answered (read when the request arrives). */
enum fake_socks5_reply {
	FAKE_SOCKS5_REPLY_OK,          /* REP 0, BND = the association's relay socket */
	FAKE_SOCKS5_REPLY_UNSUPPORTED, /* REP 7, then the server closes the connection */
	FAKE_SOCKS5_REPLY_HOLD,        /* no answer until fake_socks5_release */
	FAKE_SOCKS5_REPLY_CLOSE,       /* closes the connection instead of answering (ssh -D) */
	FAKE_SOCKS5_REPLY_RESET,       /* resets the connection instead of answering */
	/* Read when a greeting arrives: closes the connection without answering it (a proxy
	 * that is not working at all, unlike the two above). */
	FAKE_SOCKS5_REPLY_NO_GREETING,
};

/* What the relay does with a datagram (besides recording it). */
enum fake_socks5_relay {
	FAKE_SOCKS5_RELAY_ECHO,   /* sends it back, the destination as source */
	FAKE_SOCKS5_RELAY_SILENT, /* drops it */
};

struct fake_socks5_stats {
	unsigned accepted;   /* control connections accepted */
	unsigned associated; /* REP 0 replies sent */
	unsigned live;       /* control connections open now */
	unsigned held;       /* requests held now (FAKE_SOCKS5_REPLY_HOLD) */
	unsigned datagrams;  /* datagrams received on relay sockets */
	unsigned connects;   /* CONNECT requests received */
	unsigned connected;  /* CONNECT requests answered with REP 0 */
	/* The last datagram: its SOCKS destination and payload. */
	struct t2s_endpoint last_dst;
	uint8_t last_payload[512];
	size_t last_len;
};

struct fake_socks5;

/* Listens on 127.0.0.1 (an ephemeral port); fails the test on error. */
struct fake_socks5 *fake_socks5_new(struct ev_loop *loop);

/* Closes every connection and socket and frees. NULL is fine. */
void fake_socks5_free(struct fake_socks5 *f);

/* The server's address, for socks5_udp_new / udp_pool_new / udp_health_new. */
const struct socks5_server *fake_socks5_server(const struct fake_socks5 *f);

void fake_socks5_set_reply(struct fake_socks5 *f, enum fake_socks5_reply reply);
void fake_socks5_set_relay(struct fake_socks5 *f, enum fake_socks5_relay relay);

/* How a CONNECT request is answered: the REP code (0: success), or this to hold it until
 * fake_socks5_release. A failure closes the connection after the reply. */
#define FAKE_SOCKS5_CONNECT_HOLD (-1)
void fake_socks5_set_connect_rep(struct fake_socks5 *f, int rep);

/* SO_RCVBUF of the sockets accepted from now on (a slow target fills up sooner). */
void fake_socks5_set_rcvbuf(struct fake_socks5 *f, int bytes);

/*
 * Takes the socket of the oldest CONNECT answered with REP 0 and not taken yet (the
 * test now owns it: non-blocking, the client's bytes after the request are in it).
 * Returns -1 if there is none; dst (may be NULL) gets the requested destination.
 */
int fake_socks5_take_target(struct fake_socks5 *f, struct t2s_endpoint *dst);

/* Answers every held request with REP 0. */
void fake_socks5_release(struct fake_socks5 *f);

/* Closes the control connection of every live association (the proxy drops them). */
void fake_socks5_close_all(struct fake_socks5 *f);

/*
 * Sends a datagram (SOCKS header from src, then payload) from every live association's
 * relay socket to the client socket connected to it, found among this process's
 * descriptors. Returns how many were sent.
 */
unsigned fake_socks5_send_to_clients(struct fake_socks5 *f, const struct t2s_endpoint *src,
				     const uint8_t *payload, size_t len);

const struct fake_socks5_stats *fake_socks5_get_stats(const struct fake_socks5 *f);

/* Runs the loop until exactly n control connections are open, at most timeout seconds. */
bool fake_socks5_wait_live(struct fake_socks5 *f, unsigned n, double timeout);

/*
 * Makes the listener drop new SYNs: its accept backlog becomes 0 and one connection of
 * the fake's own fills it, not accepted, so a client connecting now stays in SYN_SENT
 * until fake_socks5_free_backlog (then its SYN's retransmission, ~1 s later, gets in).
 */
void fake_socks5_fill_backlog(struct fake_socks5 *f);
void fake_socks5_free_backlog(struct fake_socks5 *f);

/* Fills *out with a loopback port that was just free (bound, read, closed): connecting
 * to it is refused. */
void fake_socks5_refused_server(struct socks5_server *out);

/*
 * Scripted handshakes for the redirect/ tests (test_socks5_tcp, test_socks5_udp): with a
 * script set, every connection is answered by it instead of the server above, whatever
 * the command. After a final reply (a failure, or CONNECT's) the server half-closes and
 * waits for the client to close; after an UDP ASSOCIATE reply it keeps the connection.
 * The UDP scripts relay on one socket of the fake's (fake_socks5_script_relay_port),
 * echoing each datagram with the source changed: the same kind of address with its last
 * byte flipped and the port plus one; a domain comes back as 198.51.100.<name length>.
 * Payload "bad" is answered by a stranger's datagram, FRAG 1, a truncated header, RSV 1
 * and then "good"; "two" is echoed twice.
 */
enum fake_socks5_script {
	FAKE_SOCKS5_SCRIPT_NONE,        /* not scripted (the default) */
	FAKE_SOCKS5_SCRIPT_OK_SPLIT,    /* no auth; every byte in its own send; "BANNER" after the reply */
	FAKE_SOCKS5_SCRIPT_OK_AUTH,     /* user/pass (any) accepted, then REP 0 */
	FAKE_SOCKS5_SCRIPT_AUTH_REJECT, /* user/pass rejected */
	FAKE_SOCKS5_SCRIPT_NO_METHOD,   /* method 0xff */
	FAKE_SOCKS5_SCRIPT_REP_REFUSED, /* REP 5 */
	FAKE_SOCKS5_SCRIPT_CLOSE_AFTER_GREETING,
	FAKE_SOCKS5_SCRIPT_GARBAGE,      /* "HTTP/1.0 400" for a method reply */
	FAKE_SOCKS5_SCRIPT_DOMAIN_REPLY, /* BND a 200-byte name, "STREAM" in the same send */
	/* UDP ASSOCIATE */
	FAKE_SOCKS5_SCRIPT_UDP_ECHO,             /* BND = the relay socket */
	FAKE_SOCKS5_SCRIPT_UDP_ECHO_AUTH,        /* user/pass (any) accepted, then as UDP_ECHO */
	FAKE_SOCKS5_SCRIPT_UDP_BND_ANY,          /* BND 0.0.0.0 (or ::), the relay's port */
	FAKE_SOCKS5_SCRIPT_UDP_BND_DOMAIN,       /* BND "relay.invalid", the relay's port, byte by byte */
	FAKE_SOCKS5_SCRIPT_UDP_BND_ELSEWHERE,    /* BND 192.0.2.1:9, where nothing listens */
	FAKE_SOCKS5_SCRIPT_UDP_CLOSE_AFTER_ECHO, /* the first echo, then the control connection closes */
	FAKE_SOCKS5_SCRIPT_REP_UNSUPPORTED,      /* REP 7 */
	FAKE_SOCKS5_SCRIPT_REP_NOT_ALLOWED,      /* REP 2 */
	FAKE_SOCKS5_SCRIPT_CLOSE_ON_REQUEST,     /* greeting answered, request read, then half-closed (ssh -D) */
	FAKE_SOCKS5_SCRIPT_CLOSE_ON_REQUEST_AUTH, /* the same after a user/pass */
	FAKE_SOCKS5_SCRIPT_RESET_ON_REQUEST,     /* greeting answered, request read, then reset */
	/* Pipelining (several requests in one write): like microsocks, drops whatever came
	 * with the greeting and waits for more; or resets the connection when anything did. */
	FAKE_SOCKS5_SCRIPT_GREETING_ONLY,
	FAKE_SOCKS5_SCRIPT_CLOSE_ON_PIPELINE,
};

/* Listens on ::1 instead of 127.0.0.1; NULL if this host has no IPv6 loopback. */
struct fake_socks5 *fake_socks5_new6(struct ev_loop *loop);
/* The UDP scripts' relay socket's port (it exists once a script is set). */
uint16_t fake_socks5_script_relay_port(const struct fake_socks5 *f);
/* Counts what the relay finished: a "two" echoed twice, a UDP_CLOSE_AFTER_ECHO closed. */
const unsigned *fake_socks5_script_relay_events(const struct fake_socks5 *f);

void fake_socks5_set_script(struct fake_socks5 *f, enum fake_socks5_script script);
/* The last scripted request after the greeting and auth (VER CMD RSV ATYP ADDR PORT). */
const uint8_t *fake_socks5_script_request(const struct fake_socks5 *f, size_t *len);
/* Whether the last user/pass was "user"/"secret". */
bool fake_socks5_script_auth_seen(const struct fake_socks5 *f);
/* How many reads returned data on scripted connections so far (one per client write
 * on loopback, as each write is read before the next one arrives). */
unsigned fake_socks5_script_reads(const struct fake_socks5 *f);
/* Runs the loop until every scripted connection is closed, at most timeout seconds. */
bool fake_socks5_wait_closed(struct fake_socks5 *f, double timeout);

#endif
