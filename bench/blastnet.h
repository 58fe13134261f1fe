/* SPDX-License-Identifier: MIT */
/*
 * Shared by the benchmark's load tools (tcpblast, udpblast, dnsblast): numeric
 * addresses limited to the benchmark's own ranges, blocking I/O with timeouts, and a
 * blocking SOCKS5 client (no authentication) for CONNECT and UDP ASSOCIATE.
 *
 * Every address these tools send to, including the UDP relay address a proxy answers
 * with, must pass blastnet_addr_allowed: the tools can only load the network
 * namespaces bench/run creates, never a real network.
 */
#ifndef T2S_BENCH_BLASTNET_H
#define T2S_BENCH_BLASTNET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

struct blastnet_addr {
	struct sockaddr_storage ss;
	socklen_t len;
};

/* Monotonic seconds. */
double blastnet_now(void);

/* Numeric IPv4/IPv6 address and port 1..65535 (0 allowed when port_zero_ok). 0 or -1. */
int blastnet_addr_parse(const char *host, long port, bool port_zero_ok, struct blastnet_addr *a);
/* "1.2.3.4:53" or "[2001:2::1]:53"; without ":PORT", default_port (-1: port required). */
int blastnet_addr_parse_hostport(const char *s, long default_port, struct blastnet_addr *a);
/* RFC 2544's 198.18.0.0/15 or RFC 5180's 2001:2::/48: the benchmark's namespaces. */
bool blastnet_addr_allowed(const struct blastnet_addr *a);
/* "ADDR:PORT" / "[ADDR]:PORT" into buf (at least 64 bytes); returns buf. */
const char *blastnet_addr_str(const struct blastnet_addr *a, char *buf, size_t len);

/* A whole decimal number in lo..hi (strtod syntax). 0 or -1. */
int blastnet_parse_double(const char *s, double lo, double hi, double *out);

/* SO_RCVTIMEO and SO_SNDTIMEO. */
void blastnet_set_timeouts(int fd, double secs);
/* Whole buffer or -1 with errno (EPIPE for a premature EOF on read). */
int blastnet_write_all(int fd, const void *buf, size_t n);
int blastnet_read_all(int fd, void *buf, size_t n);
/* "timed out" for the errno values a socket timeout leaves, strerror otherwise. */
const char *blastnet_errstr(int e);

/*
 * A blocking TCP connection to dst, through the SOCKS5 proxy with CONNECT when proxy is
 * not NULL; send and receive timeouts of `timeout` s stay set on the returned fd.
 * Returns the fd, or -1 with a message in err.
 */
int blastnet_tcp_open(const struct blastnet_addr *proxy, const struct blastnet_addr *dst, double timeout,
		      char *err, size_t errlen);

/*
 * A SOCKS5 UDP association (RFC 1928 section 7) for datagrams to one destination:
 * the control connection, a UDP socket connected to the relay address the proxy
 * answered, and the request header that prefixes every datagram sent.
 */
struct blastnet_udp_assoc {
	int ctl;
	int udp;
	struct blastnet_addr relay;
	struct blastnet_addr dst;
	unsigned char hdr[22];
	size_t hdr_len;
};

/*
 * Opens an association through proxy for datagrams to dst: connects the control
 * connection, asks UDP ASSOCIATE for the local UDP socket's port, and connects the UDP
 * socket to the relay address (the proxy's own address if the proxy answers 0.0.0.0 or
 * ::). The UDP socket is blocking with receive/send timeouts of `timeout` s. Returns 0,
 * or -1 with a message in err (nothing left open).
 */
int blastnet_udp_assoc_open(struct blastnet_udp_assoc *u, const struct blastnet_addr *proxy,
			    const struct blastnet_addr *dst, double timeout, char *err, size_t errlen);
/* Closes both sockets; idempotent. */
void blastnet_udp_assoc_close(struct blastnet_udp_assoc *u);
/*
 * Checks the SOCKS UDP header of a datagram read from the relay: FRAG 0 and the source
 * equal to dst. Returns the payload's offset, or -1 (not from dst, fragmented, short).
 */
ssize_t blastnet_udp_assoc_unwrap(const struct blastnet_udp_assoc *u, const unsigned char *buf, size_t n);

#endif
