/* SPDX-License-Identifier: MIT */
/*
 * libtun2socks: the tun2socks engine for programs that own a TUN descriptor (an
 * Android VpnService, a sandbox, a daemon of their own). Every TCP connection and UDP
 * datagram read from the TUN leaves through a SOCKS5 proxy. docs/EMBEDDING.md has the
 * whole contract; in short:
 *  - a configuration is a set of name/value options named like the command's long
 *    options ("proxy", "mtu", "udp", "dns", ...);
 *  - t2s_engine_run() blocks the calling thread, with an event loop of its own, until
 *    t2s_engine_stop() (any thread, or a signal handler), and only then;
 *  - one engine per process (lwIP's state is global): a second t2s_engine_new() while
 *    one exists fails with -EBUSY;
 *  - the library never calls exit(), installs no signal handler and changes no signal
 *    disposition; an lwIP assertion is reported through the log hook, then aborts.
 * Errors are 0 or a negative errno, with a one-line message where one is asked for.
 */
#ifndef TUN2SOCKS_H
#define TUN2SOCKS_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define T2S_API __attribute__((visibility("default")))
#else
#define T2S_API
#endif

/* Options, hooks: built before the engine and copied by t2s_engine_new. */
struct t2s_conf;
/* The engine: created, run once, freed. */
struct t2s_engine;

/* "0.1.0": the library's version (the SONAME is libtun2socks.so.0). */
T2S_API const char *t2s_version(void);

/* A configuration with the command's defaults, or NULL (out of memory). */
T2S_API struct t2s_conf *t2s_config_new(void);
T2S_API void t2s_config_free(struct t2s_conf *conf);

/*
 * Sets one option, named like the command's long option without "--" and parsed by
 * the same code ("proxy" "socks5://198.51.100.1:1080", "mtu" "1500", "dns" "fake-ip").
 * Options without a value take NULL, "" or "1". A later call for the same option wins
 * (repeatable ones add: "proxy" given again adds a backup proxy). "proxy-auth" "user:password" sets
 * the credentials apart from the URL. "proxy-resolver" "IP[:port][,IP[:port]...]" (at
 * most 3 in all; each call adds) names the nameservers that a proxy given by name is
 * looked up of (default: those of /etc/resolv.conf). Options of the command's host integration (tun,
 * tun-fd, auto-route, kill-switch, exclude, share-from, netns, user, group,
 * proxy-auth-file, no-offload) are refused with -ENOTSUP: the embedder owns the device
 * and the routes. Returns 0, or -EINVAL / -ENOTSUP / -ENOMEM with the reason in
 * t2s_config_error().
 */
T2S_API int t2s_config_set(struct t2s_conf *conf, const char *name, const char *value);

/* The reason the last failed t2s_config_set or t2s_engine_new gave ("" if none). */
T2S_API const char *t2s_config_error(const struct t2s_conf *conf);

/*
 * Called on every socket the engine opens (SOCKS5 TCP connections, UDP ASSOCIATE
 * control connections and relay sockets, DNS over TCP, the UDP health probes, the
 * lookup of the proxy's name), after
 * socket() and before connect(), on the engine's thread. type is SOCK_STREAM or
 * SOCK_DGRAM. Android calls VpnService.protect(fd) here. Return 0 to go on, or a
 * negative errno to refuse the socket (the engine closes it and treats the proxy as
 * unreachable for that flow). Do not close fd.
 */
typedef int (*t2s_socket_fn)(void *arg, int fd, int family, int type);
T2S_API void t2s_config_set_socket_hook(struct t2s_conf *conf, t2s_socket_fn fn, void *arg);

/* Levels of the log hook (the "log-level" option filters them). */
enum t2s_log_level {
	T2S_LOG_ERROR = 0,
	T2S_LOG_WARN = 1,
	T2S_LOG_INFO = 2,
	T2S_LOG_DEBUG = 3,
};

/*
 * Receives every log line (no timestamp, no newline; text valid during the call only),
 * on the thread that runs the engine, or that calls t2s_engine_new. Without a hook,
 * lines go to stderr. An lwIP assertion arrives here at T2S_LOG_ERROR as
 * "lwip: lwIP assertion ... failed at FILE:LINE" right before the process aborts.
 */
typedef void (*t2s_log_fn)(void *arg, enum t2s_log_level level, const char *text);
T2S_API void t2s_config_set_log_hook(struct t2s_conf *conf, t2s_log_fn fn, void *arg);

/*
 * Checks the configuration ("proxy" is required; given by name, it needs a nameserver:
 * "proxy-resolver" or /etc/resolv.conf's), copies it and claims the process's one
 * engine. Returns 0 with *out set, -EBUSY when an engine exists already, -EINVAL
 * (reason in t2s_config_error(conf)) or -ENOMEM.
 */
T2S_API int t2s_engine_new(struct t2s_conf *conf, struct t2s_engine **out);

/*
 * Runs the engine on tun_fd (IFF_TUN | IFF_NO_PI, optionally IFF_VNET_HDR; configured
 * and up: addresses, MTU and routes are the embedder's). A proxy given by name is first
 * looked up (A, then AAAA) on UDP sockets that pass through the socket hook, within
 * "connect-timeout"; a failure ends the run with -EHOSTUNREACH and the reason in
 * t2s_engine_error. The engine works on a
 * duplicate of tun_fd and sets O_NONBLOCK on it (the open file is shared); tun_fd
 * itself stays the embedder's. Blocks until t2s_engine_stop (a TUN that fails, e.g. a
 * revoked VPN, is logged, rate-limited, and not a reason to return: the embedder that
 * closes the device also stops the engine); SIGPIPE is blocked on this
 * thread meanwhile. Once per engine. Returns 0 when stopped, or -errno when it could not
 * start (reason in t2s_engine_error), -EALREADY on a second call.
 */
T2S_API int t2s_engine_run(struct t2s_engine *engine, int tun_fd);

/*
 * Asks the engine to stop: every flow is reset and t2s_engine_run returns. Safe from
 * any thread and from a signal handler (ev_async_send). Before t2s_engine_run, that run
 * returns at once. Idempotent.
 */
T2S_API void t2s_engine_stop(struct t2s_engine *engine);

/* Frees the engine (not while t2s_engine_run runs) and gives the process slot back. */
T2S_API void t2s_engine_free(struct t2s_engine *engine);

/* Why t2s_engine_run failed ("" if it did not). */
T2S_API const char *t2s_engine_error(const struct t2s_engine *engine);

/*
 * Counters, versioned by size: set size = sizeof(struct t2s_stats_snapshot) before the
 * call; fields are only ever appended, so an older caller gets the prefix it knows.
 */
struct t2s_stats_snapshot {
	uint32_t size;
	uint32_t reserved;
	uint64_t tun_packets_in, tun_bytes_in;
	uint64_t tun_packets_out, tun_bytes_out, tun_write_drops;
	uint64_t tcp_flows_active, tcp_flows_opened, tcp_flows_failed, tcp_flows_refused;
	uint64_t udp_flows_active, udp_flows_opened, udp_assoc_failed;
	uint64_t udp_datagrams_out, udp_datagrams_in;
	uint64_t dns_fake_answers;
	uint64_t sockets_hooked; /* sockets given to the socket hook */
};

/*
 * Copies the counters as of at most one second ago (the engine's thread refreshes them
 * every second and when it stops), from any thread. Returns 0, or -EINVAL when
 * out->size is smaller than the first version (16 bytes).
 */
T2S_API int t2s_engine_stats(struct t2s_engine *engine, struct t2s_stats_snapshot *out);

/*
 * One live flow, versioned by size like t2s_stats_snapshot: a TCP connection, or a UDP
 * mapping (one per application address and port; dst_* is where it sent last).
 * Addresses as the application sees them (a fake-IP address, with its name in host).
 */
struct t2s_flow_info {
	uint32_t size;
	uint8_t proto;  /* 6 (TCP) or 17 (UDP) */
	uint8_t family; /* 4 or 6 */
	uint16_t app_port, dst_port;
	uint8_t app_addr[16], dst_addr[16]; /* IPv4 in the first 4 bytes */
	uint64_t id;     /* the number log lines give the flow */
	char state[24];  /* TCP: connecting, handshaking, relaying, half-closed-app,
			  * half-closed-proxy, closing; UDP: associating, mapped */
	char host[256];  /* the name a fake-IP destination stands for, else "" */
	double age;      /* seconds since the flow was made */
	double idle;     /* seconds since it last carried a byte */
	double connect_time; /* seconds the proxy took to connect (TCP), -1 before or for UDP */
	uint64_t bytes_out, bytes_in;     /* application -> proxy, proxy -> application */
	uint64_t packets_out, packets_in; /* UDP datagrams each way; 0 for TCP */
};

/* Returns 0 to go on, anything else to stop (t2s_engine_flows then returns it). */
typedef int (*t2s_flow_fn)(void *arg, const struct t2s_flow_info *flow);

/*
 * Calls fn for every live flow (TCP first, the newest first; then UDP, the most
 * recently active first), on the calling thread, from a snapshot taken on the engine's
 * thread: from another thread the call waits for the engine's loop to take it (at most
 * 2 s), and from the engine's own thread (a hook) it is taken at once. The struct is
 * valid during the call only. Returns 0, fn's non-zero return, -ESRCH when the engine
 * does not run, -ETIMEDOUT or -ENOMEM.
 */
T2S_API int t2s_engine_flows(struct t2s_engine *engine, t2s_flow_fn fn, void *arg);

#ifdef __cplusplus
}
#endif

#endif
