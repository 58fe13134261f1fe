/* SPDX-License-Identifier: MIT */
/*
 * libtun2socks: the public API (tun2socks.h) over the engine. Owns the one engine slot
 * of the process, the engine's own event loop, the stop request (ev_async) and the
 * counters' snapshot that other threads read.
 */
#include "tun2socks.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <ev.h>

#include "cli.h"
#include "config.h"
#include "container_of.h"
#include "host_api.h"
#include "log.h"
#include "lwip_port.h"
#include "proxy_lookup.h"
#include "resolv_conf.h"
#include "t2s.h"
#include "tls_client.h"
#include "tcp_flow.h"
#include "tun.h"
#include "udp_flow.h"
#include "udp_health.h"

struct t2s_conf {
	struct t2s_config cfg;
	bool have_proxy, mtu_set;
	bool host;                       /* t2s_conf_from_config: host options and a resolved proxy */
	struct sockaddr_storage proxy_addr;
	socklen_t proxy_addrlen;
	struct sockaddr_storage resolvers[PROXY_LOOKUP_SERVERS_MAX]; /* "proxy-resolver" */
	size_t n_resolvers;
	t2s_socket_fn socket_fn;
	void *socket_arg;
	t2s_log_fn log_fn;
	void *log_arg;
	char err[256];
};

/*
 * The proxy's credentials, apart from cfg: a handshake under way at a reload goes on
 * with the strings it started with (socks5_handshake.h), so a replaced block is kept
 * until the engine is freed (a few hundred bytes per reload that changes them).
 */
struct api_creds {
	struct api_creds *older;
	char user[PROXY_URL_CRED_MAX + 1];
	char pass[PROXY_URL_CRED_MAX + 1];
};

/* A reload waiting for the lookup of its proxy's name. */
struct api_reload {
	struct t2s_config next;
	struct proxy_lookup *lookup;
	t2s_reload_done_fn done;
	void *arg;
};

struct t2s_engine {
	struct t2s_config cfg;
	struct api_creds *creds; /* NULL: no credentials */
	struct api_reload *reload; /* under way */
	bool mtu_set;
	struct socks5_server proxy;
	t2s_socket_fn socket_fn;
	void *socket_arg;
	t2s_log_fn log_fn;
	void *log_arg;
	struct sockaddr_storage resolvers[PROXY_LOOKUP_SERVERS_MAX]; /* for a proxy given by name */
	size_t n_resolvers;
	struct proxy_lookup_result lookup; /* its outcome */
	bool looked_up;
	struct ev_loop *loop;
	bool own_loop;                /* made by t2s_engine_new; the command's is its own */
	bool host;                    /* the command's: the proxy was resolved already */
	struct t2s_host_hooks hooks;  /* the command's (host_api.h); none for an embedder */
	bool stop_told;               /* hooks.stopping was called */
	ev_async stop_async;
	ev_timer stats_timer;
	struct t2s *t; /* while running */
	atomic_int stop_requested;
	bool ran;
	uint64_t sockets_hooked;
	pthread_mutex_t stats_lock;
	struct t2s_stats_snapshot stats;
	/* t2s_engine_flows from another thread: one request at a time (flows_serial), handed
	 * to the loop by flows_async and answered under stats_lock with flows_done. */
	pthread_t run_thread;
	bool running; /* e->t is built and the loop runs (stats_lock) */
	ev_tstamp started_at;
	pthread_mutex_t flows_serial;
	pthread_cond_t flows_done;
	struct flows_request *flows_req;
	ev_async flows_async;
	char err[256];
};

struct flows_request {
	struct t2s_flow_info *v;
	size_t n, cap;
	ev_tstamp loop_now;
	int err;
	bool done;
};

/* lwIP's state is global: one engine per process. */
static atomic_int engine_claimed;

/* The command's host integration: the embedder owns the device and the routes. */
static const char *const host_options[] = {
	"tun", "tun-fd", "auto-route", "kill-switch", "exclude", "share-from", "netns",
	"user", "group", "proxy-auth-file", "no-offload", "control", "metrics", "resolved", NULL,
};

const char *
t2s_version(void)
{
	return T2S_VERSION;
}

struct t2s_conf *
t2s_config_new(void)
{
	struct t2s_conf *conf = calloc(1, sizeof(*conf));

	if (conf != NULL)
		config_defaults(&conf->cfg);
	return conf;
}

void
t2s_config_free(struct t2s_conf *conf)
{
	if (conf == NULL)
		return;
	explicit_bzero(&conf->cfg.proxy, sizeof(conf->cfg.proxy));
	free(conf);
}

/* "proxy-resolver": IP[:port] or [IPv6]:port, comma-separated; each call adds (all
 * of its list, or nothing). */
static int
set_resolvers(struct t2s_conf *conf, const char *value)
{
	char item[T2S_ENDPOINT_STRLEN + 1];
	struct t2s_endpoint ep;
	socklen_t len;
	const char *p = value, *end;
	size_t n = conf->n_resolvers;

	if (value == NULL || value[0] == '\0' || value[strlen(value) - 1] == ',') {
		snprintf(conf->err, sizeof(conf->err), "proxy-resolver: needs IP[:port][,IP[:port]...] (e.g. 192.0.2.53)");
		return -EINVAL;
	}
	for (; *p != '\0'; p = *end == ',' ? end + 1 : end) {
		end = strchr(p, ',');
		if (end == NULL)
			end = p + strlen(p);
		if ((size_t)(end - p) >= sizeof(item) || end == p) {
			snprintf(conf->err, sizeof(conf->err), "proxy-resolver: '%.64s' is not IP[:port]", p);
			return -EINVAL;
		}
		memcpy(item, p, (size_t)(end - p));
		item[end - p] = '\0';
		if (n == PROXY_LOOKUP_SERVERS_MAX) {
			snprintf(conf->err, sizeof(conf->err), "proxy-resolver: at most %d servers",
				 PROXY_LOOKUP_SERVERS_MAX);
			return -EINVAL;
		}
		if (endpoint_parse(&ep, item, 53) < 0 || ep.type == T2S_ENDPOINT_DOMAIN ||
		    endpoint_to_sockaddr(&ep, &conf->resolvers[n], &len) < 0) {
			snprintf(conf->err, sizeof(conf->err),
				 "proxy-resolver: '%.64s' is not an IP address with an optional port", item);
			return -EINVAL;
		}
		n++;
	}
	conf->n_resolvers = n;
	return 0;
}

int
t2s_config_set(struct t2s_conf *conf, const char *name, const char *value)
{
	const char *why;
	int rc;

	if (conf == NULL || name == NULL)
		return -EINVAL;
	conf->err[0] = '\0';
	for (const char *const *h = host_options; *h != NULL; h++) {
		if (strcmp(name, *h) == 0) {
			snprintf(conf->err, sizeof(conf->err),
				 "--%s belongs to the tun2socks command's host integration: the embedder owns the "
				 "TUN and the routes",
				 name);
			return -ENOTSUP;
		}
	}
	if (strcmp(name, "proxy-resolver") == 0)
		return set_resolvers(conf, value);
	if (strcmp(name, "proxy-auth") == 0) {
		if (value == NULL || config_set_credentials(&conf->cfg, value, &why) < 0) {
			snprintf(conf->err, sizeof(conf->err), "proxy-auth: %s",
				 value == NULL ? "needs user:password" : why);
			return -EINVAL;
		}
		return 0;
	}
	rc = cli_set(&conf->cfg, name, value, conf->err, sizeof(conf->err));
	if (rc == 0 && strcmp(name, "proxy") == 0)
		conf->have_proxy = true;
	if (rc == 0 && strcmp(name, "mtu") == 0)
		conf->mtu_set = true;
	return rc;
}

const char *
t2s_config_error(const struct t2s_conf *conf)
{
	return conf != NULL ? conf->err : "";
}

void
t2s_config_set_socket_hook(struct t2s_conf *conf, t2s_socket_fn fn, void *arg)
{
	conf->socket_fn = fn;
	conf->socket_arg = arg;
}

void
t2s_config_set_log_hook(struct t2s_conf *conf, t2s_log_fn fn, void *arg)
{
	conf->log_fn = fn;
	conf->log_arg = arg;
}

static void
api_log_sink(void *arg, enum log_level level, const char *text)
{
	struct t2s_engine *e = arg;

	e->log_fn(e->log_arg, (enum t2s_log_level)level, text);
}

/* lwIP's diagnostics, and its assertions (lwip_port aborts right after this). */
static void
api_lwip_diag(const char *msg)
{
	if (strncmp(msg, "lwIP assertion", 14) == 0)
		log_error("lwip: %s; the process aborts now", msg);
	else
		log_warn("lwip: %s", msg);
}

static int
api_socket_hook(void *arg, int fd, int family, int type)
{
	struct t2s_engine *e = arg;

	e->sockets_hooked++;
	return e->socket_fn != NULL ? e->socket_fn(e->socket_arg, fd, family, type) : 0;
}

/* On the engine's thread. */
static void
stats_refresh(struct t2s_engine *e)
{
	const struct t2s *t = e->t;
	struct t2s_stats_snapshot s = {.size = sizeof(s)};

	if (t != NULL) {
		s.tun_packets_in = t->stats.tun_packets_in;
		s.tun_bytes_in = t->stats.tun_bytes_in;
		s.tun_packets_out = t->stats.tun_packets_out;
		s.tun_bytes_out = t->stats.tun_bytes_out;
		s.tun_write_drops = t->stats.tun_write_drops;
		const struct tcp_flows_stats *tc = tcp_flows_get_stats(t->tcp);
		const struct udp_flows_stats *u = udp_flows_get_stats(t->udp);

		s.tcp_flows_active = tcp_flows_count(t->tcp);
		s.tcp_flows_opened = tc->opened;
		s.tcp_flows_failed = tc->failed;
		s.tcp_flows_refused = tc->refused_cap;
		s.udp_flows_active = udp_flows_count(t->udp);
		s.udp_flows_opened = u->opened;
		s.udp_assoc_failed = u->assoc_failed;
		s.udp_datagrams_out = u->datagrams_out;
		s.udp_datagrams_in = u->datagrams_in;
		s.dns_fake_answers = t->route.stats.fake_answers;
	} else {
		s = e->stats; /* after the run: keep the last figures */
		s.tcp_flows_active = s.udp_flows_active = 0;
	}
	s.sockets_hooked = e->sockets_hooked;
	pthread_mutex_lock(&e->stats_lock);
	e->stats = s;
	pthread_mutex_unlock(&e->stats_lock);
}

static int
collect_flow(void *arg, const struct flow_info *in)
{
	struct flows_request *r = arg;
	struct t2s_flow_info *o;
	ev_tstamp now = r->loop_now;

	if (r->n == r->cap) {
		size_t cap = r->cap > 0 ? r->cap * 2 : 64;
		struct t2s_flow_info *v = realloc(r->v, cap * sizeof(*v));

		if (v == NULL)
			return -ENOMEM;
		r->v = v;
		r->cap = cap;
	}
	o = &r->v[r->n++];
	memset(o, 0, sizeof(*o));
	o->size = sizeof(*o);
	o->proto = in->key.proto;
	o->family = in->key.family;
	o->app_port = in->key.app_port;
	o->dst_port = in->key.dst_port;
	memcpy(o->app_addr, in->key.app_addr, sizeof(o->app_addr));
	memcpy(o->dst_addr, in->key.dst_addr, sizeof(o->dst_addr));
	o->id = in->id;
	snprintf(o->state, sizeof(o->state), "%s", in->state);
	snprintf(o->host, sizeof(o->host), "%s", in->host);
	o->age = now - in->started;
	o->idle = now - in->last_active;
	o->connect_time = in->connected > 0 ? in->connected - in->started : -1;
	o->bytes_out = in->bytes_out;
	o->bytes_in = in->bytes_in;
	o->packets_out = in->packets_out;
	o->packets_in = in->packets_in;
	return 0;
}

/* On the engine's thread: every flow into r (r->err set). */
static void
flows_collect(struct t2s_engine *e, struct flows_request *r)
{
	r->loop_now = ev_now(e->loop);
	r->err = tcp_flows_foreach(e->t->tcp, collect_flow, r);
	if (r->err == 0)
		r->err = udp_flows_foreach(e->t->udp, collect_flow, r);
}

static void
api_flows_async_cb(struct ev_loop *loop, ev_async *w, int revents)
{
	struct t2s_engine *e = container_of(w, struct t2s_engine, flows_async);
	struct flows_request *r;

	(void)loop;
	(void)revents;
	pthread_mutex_lock(&e->stats_lock);
	r = e->flows_req;
	e->flows_req = NULL;
	pthread_mutex_unlock(&e->stats_lock);
	if (r == NULL)
		return;
	if (e->t != NULL)
		flows_collect(e, r);
	else
		r->err = -ESRCH;
	pthread_mutex_lock(&e->stats_lock);
	r->done = true;
	pthread_cond_broadcast(&e->flows_done);
	pthread_mutex_unlock(&e->stats_lock);
}

/* The run ends: a request still waiting gets -ESRCH. */
static void
flows_end(struct t2s_engine *e)
{
	pthread_mutex_lock(&e->stats_lock);
	e->running = false;
	if (e->flows_req != NULL) {
		e->flows_req->err = -ESRCH;
		e->flows_req->done = true;
		e->flows_req = NULL;
		pthread_cond_broadcast(&e->flows_done);
	}
	pthread_mutex_unlock(&e->stats_lock);
}

int
t2s_engine_flows(struct t2s_engine *e, t2s_flow_fn fn, void *arg)
{
	struct flows_request r = {0};
	struct timespec deadline;
	int rc = 0;

	if (e == NULL || fn == NULL)
		return -EINVAL;
	pthread_mutex_lock(&e->stats_lock);
	bool running = e->running, own = running && pthread_equal(pthread_self(), e->run_thread);
	pthread_mutex_unlock(&e->stats_lock);
	if (!running)
		return -ESRCH;
	if (own) {
		flows_collect(e, &r);
	} else {
		pthread_mutex_lock(&e->flows_serial);
		clock_gettime(CLOCK_MONOTONIC, &deadline);
		deadline.tv_sec += 2;
		pthread_mutex_lock(&e->stats_lock);
		if (!e->running) {
			r.err = -ESRCH;
			r.done = true;
		} else {
			e->flows_req = &r;
			ev_async_send(e->loop, &e->flows_async);
		}
		while (!r.done && rc == 0)
			rc = pthread_cond_timedwait(&e->flows_done, &e->stats_lock, &deadline);
		if (!r.done) {
			e->flows_req = NULL; /* the loop will find no request */
			r.err = -ETIMEDOUT;
		}
		pthread_mutex_unlock(&e->stats_lock);
		pthread_mutex_unlock(&e->flows_serial);
	}
	rc = r.err;
	for (size_t i = 0; rc == 0 && i < r.n; i++)
		rc = fn(arg, &r.v[i]);
	free(r.v);
	return rc;
}

static void
api_stats_timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct t2s_engine *e = container_of(w, struct t2s_engine, stats_timer);

	(void)loop;
	(void)revents;
	stats_refresh(e);
}

/* The command's stopping hook, once: the flows are reset, not yet freed. */
static void
tell_stopping(struct t2s_engine *e)
{
	if (e->stop_told || e->hooks.stopping == NULL)
		return;
	e->stop_told = true;
	e->hooks.stopping(e->hooks.arg, e);
}

static void
api_stop_async_cb(struct ev_loop *loop, ev_async *w, int revents)
{
	struct t2s_engine *e = container_of(w, struct t2s_engine, stop_async);

	(void)revents;
	if (e->t == NULL) {
		ev_break(loop, EVBREAK_ALL);
		return;
	}
	t2s_stop(e->t); /* resets every flow, then breaks the loop */
}

struct t2s_conf *
t2s_conf_from_config(const struct t2s_config *cfg, const struct socks5_server *proxy)
{
	struct t2s_conf *conf = calloc(1, sizeof(*conf));

	if (conf == NULL)
		return NULL;
	conf->cfg = *cfg;
	conf->have_proxy = true;
	conf->host = true;
	memcpy(&conf->proxy_addr, &proxy->addr, proxy->addrlen);
	conf->proxy_addrlen = proxy->addrlen;
	/* The command set the MTU of a device it made; one given with --tun-fd is kept. */
	conf->mtu_set = cfg->tun_fd < 0 || cfg->mtu != CONFIG_DEFAULT_MTU;
	return conf;
}

/* The host's nameservers, when the embedder named none; how many. */
static size_t
resolvers_of_host(struct t2s_conf *conf)
{
	char text[4096];
	FILE *fp = fopen("/etc/resolv.conf", "re");
	size_t n = 0;

	if (fp != NULL) {
		n = fread(text, 1, sizeof(text) - 1, fp);
		fclose(fp);
	}
	text[n] = '\0';
	conf->n_resolvers = resolv_conf_nameservers(text, conf->resolvers, PROXY_LOOKUP_SERVERS_MAX);
	return conf->n_resolvers;
}

/* The TLS context of a https:// or socks5+tls:// proxy: the URL's host is the name
 * checked (and sent as SNI), also when the engine looks the name up itself. */
static int
tls_setup(struct t2s_engine *e, char *err, size_t errlen)
{
	const struct t2s_endpoint *ep = &e->cfg.proxy.server;
	char host[T2S_ENDPOINT_STRLEN];
	struct tls_client_params p = {
		.ca_file = e->cfg.proxy_ca[0] != '\0' ? e->cfg.proxy_ca : NULL,
		.host = host,
		.pin = e->cfg.has_proxy_pin ? e->cfg.proxy_pin : NULL,
		.idle_timeout = e->cfg.idle_timeout,
	};

	if (ep->type == T2S_ENDPOINT_DOMAIN)
		snprintf(host, sizeof(host), "%s", ep->u.domain.name);
	else if (inet_ntop(ep->type == T2S_ENDPOINT_IPV4 ? AF_INET : AF_INET6, ep->u.ipv4, host, sizeof(host)) == NULL)
		host[0] = '\0';
	e->proxy.tls = tls_client_new(e->loop, &p, err, errlen);
	if (e->proxy.tls == NULL)
		return -EINVAL;
	log_info("proxy TLS: %s checked against %s%s", host, p.ca_file != NULL ? p.ca_file : "the system's CA store",
		 p.pin != NULL ? ", public key pinned" : "");
	return 0;
}

/* The condition t2s_engine_flows waits on, on the monotonic clock. */
static int
flows_cond_init(pthread_cond_t *c)
{
	pthread_condattr_t a;
	int rc;

	if (pthread_condattr_init(&a) != 0)
		return -1;
	rc = pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
	if (rc == 0)
		rc = pthread_cond_init(c, &a);
	pthread_condattr_destroy(&a);
	return rc;
}

static void
free_creds(struct api_creds *c)
{
	while (c != NULL) {
		struct api_creds *older = c->older;

		explicit_bzero(c, sizeof(*c));
		free(c);
		c = older;
	}
}

/* e->proxy's credentials from url, in a block of their own; the previous block is kept
 * (struct api_creds). Returns 0 or -ENOMEM (nothing changed). */
static int
set_creds(struct t2s_engine *e, const struct proxy_url *url)
{
	struct api_creds *c;

	if (!url->has_credentials) {
		e->proxy.user = e->proxy.pass = NULL;
		return 0;
	}
	c = calloc(1, sizeof(*c));
	if (c == NULL)
		return -ENOMEM;
	memcpy(c->user, url->user, sizeof(c->user));
	memcpy(c->pass, url->pass, sizeof(c->pass));
	c->older = e->creds;
	e->creds = c;
	e->proxy.user = c->user;
	e->proxy.pass = c->pass;
	return 0;
}

static int
engine_new(struct t2s_conf *conf, struct ev_loop *loop, const struct t2s_host_hooks *hooks,
	   struct t2s_engine **out)
{
	struct t2s_engine *e;
	int expected = 0, err = -ENOMEM;

	if (conf == NULL || out == NULL)
		return -EINVAL;
	*out = NULL;
	conf->err[0] = '\0';
	if (!conf->have_proxy) {
		snprintf(conf->err, sizeof(conf->err), "proxy is required (e.g. socks5://198.51.100.1:1080)");
		return -EINVAL;
	}
	if (!conf->host && conf->cfg.proxy.server.type == T2S_ENDPOINT_DOMAIN && conf->n_resolvers == 0 &&
	    resolvers_of_host(conf) == 0) {
		/* Not getaddrinfo: its sockets would not pass through the socket hook. */
		snprintf(conf->err, sizeof(conf->err),
			 "proxy: %.64s is a name, and no nameserver to ask is known (none in /etc/resolv.conf): set "
			 "proxy-resolver, or give the proxy's IP address",
			 conf->cfg.proxy.server.u.domain.name);
		return -EINVAL;
	}
	for (unsigned i = 0; i < conf->cfg.n_backup; i++) {
		if (conf->cfg.backup[i].kind == PROXY_KIND_SOCKS5 && conf->cfg.backup[i].has_credentials &&
		    conf->cfg.backup[i].pass[0] == '\0') {
			snprintf(conf->err, sizeof(conf->err), "proxy: a user name needs a password (RFC 1929)");
			return -EINVAL;
		}
	}
	if (conf->cfg.proxy.kind == PROXY_KIND_HTTP &&
	    (conf->cfg.udp_mode == CONFIG_UDP_ASSOCIATE || conf->cfg.udp_relay.ss_family != AF_UNSPEC)) {
		snprintf(conf->err, sizeof(conf->err),
			 "proxy: an HTTP proxy relays no UDP: --udp associate and --udp-relay need a SOCKS5 proxy");
		return -EINVAL;
	}
	if (conf->cfg.proxy.tls &&
	    (conf->cfg.udp_mode == CONFIG_UDP_ASSOCIATE || conf->cfg.udp_relay.ss_family != AF_UNSPEC)) {
		snprintf(conf->err, sizeof(conf->err),
			 "proxy: socks5+tls:// carries DNS over TCP only: a UDP ASSOCIATE relay is never inside "
			 "TLS, so --udp associate and --udp-relay need socks5://");
		return -EINVAL;
	}
	if (!conf->cfg.proxy.tls && (conf->cfg.proxy_ca[0] != '\0' || conf->cfg.has_proxy_pin)) {
		snprintf(conf->err, sizeof(conf->err), "--proxy-ca and --proxy-pin need a TLS proxy (https:// or socks5+tls://)");
		return -EINVAL;
	}
	if (conf->cfg.proxy.kind == PROXY_KIND_SOCKS5 && conf->cfg.proxy.has_credentials &&
	    conf->cfg.proxy.pass[0] == '\0') {
		snprintf(conf->err, sizeof(conf->err), "proxy: a user name needs a password (RFC 1929)");
		return -EINVAL;
	}
	if (!atomic_compare_exchange_strong(&engine_claimed, &expected, 1)) {
		snprintf(conf->err, sizeof(conf->err),
			 "an engine exists already: lwIP's state is global, one engine per process");
		return -EBUSY;
	}
	e = calloc(1, sizeof(*e));
	if (e == NULL)
		goto err_release;
	e->cfg = conf->cfg;
	/* CONNECT only, as for a SOCKS5 proxy without UDP: DNS over TCP, other UDP refused.
	 * Also for socks5+tls://: nothing leaves outside TLS unless the user asks for it. */
	if ((e->cfg.proxy.kind == PROXY_KIND_HTTP || e->cfg.proxy.tls) && e->cfg.udp_mode == CONFIG_UDP_AUTO)
		e->cfg.udp_mode = CONFIG_UDP_DNS_OVER_TCP;
	e->proxy.kind = e->cfg.proxy.kind;
	e->mtu_set = conf->mtu_set;
	e->host = conf->host;
	if (conf->host) {
		memcpy(&e->proxy.addr, &conf->proxy_addr, conf->proxy_addrlen);
		e->proxy.addrlen = conf->proxy_addrlen;
	} else if (e->cfg.proxy.server.type == T2S_ENDPOINT_DOMAIN) {
		e->cfg.tun_fd = -1;
		memcpy(e->resolvers, conf->resolvers, sizeof(e->resolvers));
		e->n_resolvers = conf->n_resolvers; /* looked up when the engine runs */
	} else {
		e->cfg.tun_fd = -1;
		if (endpoint_to_sockaddr(&e->cfg.proxy.server, &e->proxy.addr, &e->proxy.addrlen) < 0) {
			snprintf(conf->err, sizeof(conf->err), "proxy: not an IP address");
			free(e);
			atomic_store(&engine_claimed, 0);
			return -EINVAL;
		}
	}
	if (set_creds(e, &e->cfg.proxy) < 0)
		goto err_free;
	e->proxy.fwmark = e->cfg.fwmark;
	e->proxy.hook = (struct sock_hook){.fn = api_socket_hook, .arg = e};
	e->socket_fn = conf->socket_fn;
	e->socket_arg = conf->socket_arg;
	e->log_fn = conf->log_fn;
	e->log_arg = conf->log_arg;
	if (hooks != NULL)
		e->hooks = *hooks;
	e->stats.size = sizeof(e->stats);
	if (pthread_mutex_init(&e->stats_lock, NULL) != 0)
		goto err_free;
	if (pthread_mutex_init(&e->flows_serial, NULL) != 0)
		goto err_stats_lock;
	if (flows_cond_init(&e->flows_done) != 0)
		goto err_serial;
	if (loop != NULL) {
		e->loop = loop;
	} else {
		/* A loop of our own; NOSIGMASK: libev leaves the signal mask alone. */
		e->loop = ev_loop_new(EVFLAG_AUTO | EVFLAG_NOSIGMASK);
		if (e->loop == NULL)
			goto err_mutex;
		e->own_loop = true;
	}
	ev_async_init(&e->stop_async, api_stop_async_cb);
	ev_async_start(e->loop, &e->stop_async);
	ev_async_init(&e->flows_async, api_flows_async_cb);
	ev_async_start(e->loop, &e->flows_async);
	ev_timer_init(&e->stats_timer, api_stats_timer_cb, 1.0, 1.0);
	log_set_level(e->cfg.log_level);
	if (e->log_fn != NULL)
		log_set_sink(api_log_sink, e);
	if (e->cfg.proxy.tls && tls_setup(e, conf->err, sizeof(conf->err)) < 0) {
		err = -EINVAL; /* tls_setup said why */
		goto err_tls;
	}
	*out = e;
	return 0;

err_tls:
	if (e->log_fn != NULL)
		log_set_sink(NULL, NULL);
	ev_async_stop(e->loop, &e->flows_async);
	ev_async_stop(e->loop, &e->stop_async);
	if (e->own_loop)
		ev_loop_destroy(e->loop);
err_mutex:
	pthread_cond_destroy(&e->flows_done);
err_serial:
	pthread_mutex_destroy(&e->flows_serial);
err_stats_lock:
	pthread_mutex_destroy(&e->stats_lock);
err_free:
	free_creds(e->creds);
	free(e);
err_release:
	atomic_store(&engine_claimed, 0);
	if (err == -ENOMEM)
		snprintf(conf->err, sizeof(conf->err), "out of memory");
	return err;
}

int
t2s_engine_new(struct t2s_conf *conf, struct t2s_engine **out)
{
	return engine_new(conf, NULL, NULL, out);
}

int
t2s_engine_new_host(struct t2s_conf *conf, struct ev_loop *loop, const struct t2s_host_hooks *hooks,
		    struct t2s_engine **out)
{
	if (loop == NULL)
		return -EINVAL;
	return engine_new(conf, loop, hooks, out);
}

static const char *
udp_mode_str(enum config_udp_mode m)
{
	switch (m) {
	case CONFIG_UDP_AUTO:
		return "auto";
	case CONFIG_UDP_ASSOCIATE:
		return "associate";
	case CONFIG_UDP_DNS_OVER_TCP:
		return "dns-over-tcp";
	case CONFIG_UDP_BLOCK:
		return "block";
	}
	return "?";
}

static double
ago(ev_tstamp now, double when)
{
	return when > 0 ? now - when : -1;
}

int
t2s_engine_status(struct t2s_engine *e, struct t2s_engine_status *st)
{
	const struct tcp_flows_stats *tc;
	ev_tstamp now;

	if (e == NULL || e->t == NULL)
		return -ESRCH;
	now = ev_now(e->loop);
	tc = tcp_flows_get_stats(e->t->tcp);
	memset(st, 0, sizeof(*st));
	snprintf(st->tun, sizeof(st->tun), "%s", e->t->tun.name);
	st->mtu = e->cfg.mtu;
	st->offload = e->t->tun.vnet_hdr_len > 0;
	proxy_url_format_redacted(&e->cfg.proxy, st->proxy, sizeof(st->proxy));
	st->udp_mode = udp_mode_str(e->cfg.udp_mode);
	st->udp_state = udp_health_state_str(udp_health_state(e->t->udp_health));
	st->dns_mode = e->cfg.dns_mode == CONFIG_DNS_FAKE_IP ? "fake-ip" : e->cfg.dns_mode == CONFIG_DNS_TCP ? "tcp" : "udp";
	st->uptime = now - e->started_at;
	st->proxy_ok_ago = ago(now, tc->proxy_last_ok);
	st->proxy_fail_ago = ago(now, tc->proxy_last_fail);
	st->proxy_error = tc->proxy_last_error != NULL ? tc->proxy_last_error : "";
	st->udp_probes = udp_health_get_stats(e->t->udp_health)->probes;
	return 0;
}

int
t2s_engine_counters(struct t2s_engine *e,
		    void (*fn)(void *arg, const char *name, uint64_t value, bool gauge, const char *help), void *arg)
{
	if (e == NULL || e->t == NULL)
		return -ESRCH;
	t2s_counters(e->t, fn, arg);
	fn(arg, "sockets_hooked", e->sockets_hooked, false, "Sockets given to the socket hook");
	return 0;
}

struct proxies_ctx {
	struct t2s_engine *e;
	void (*fn)(void *arg, const struct t2s_engine_proxy_info *p);
	void *arg;
};

static void
proxy_info_cb(void *arg, unsigned idx, bool up, bool active, const struct proxy_set_stats *st)
{
	struct proxies_ctx *c = arg;
	struct t2s_engine_proxy_info p = {
		.index = idx,
		.up = up,
		.active = active,
		.since = ev_now(c->e->loop) - st->since,
		.picked = st->picked,
		.flow_ok = st->flow_ok,
		.flow_failed = st->flow_failed,
		.retried = st->retried,
		.checks_ok = st->checks_ok,
		.checks_failed = st->checks_failed,
		.went_down = st->went_down,
		.went_up = st->went_up,
	};

	proxy_url_format_redacted(idx == 0 || idx > c->e->cfg.n_backup ? &c->e->cfg.proxy : &c->e->cfg.backup[idx - 1],
				  p.url, sizeof(p.url));
	c->fn(c->arg, &p);
}

int
t2s_engine_proxies(struct t2s_engine *e, void (*fn)(void *arg, const struct t2s_engine_proxy_info *p), void *arg)
{
	struct proxies_ctx c = {.e = e, .fn = fn, .arg = arg};

	if (e == NULL || e->t == NULL)
		return -ESRCH;
	t2s_proxies(e->t, proxy_info_cb, &c);
	return 0;
}

int
t2s_engine_histograms(struct t2s_engine *e,
		      void (*fn)(void *arg, const char *name, const char *help, const struct histogram *h), void *arg)
{
	if (e == NULL || e->t == NULL)
		return -ESRCH;
	t2s_histograms(e->t, fn, arg);
	return 0;
}

void
t2s_engine_log_stats(struct t2s_engine *e)
{
	if (e != NULL && e->t != NULL)
		t2s_log_stats(e->t);
}

static void
lookup_done(void *arg, const struct proxy_lookup_result *res)
{
	struct t2s_engine *e = arg;

	e->lookup = *res;
	e->looked_up = true;
	ev_break(e->loop, EVBREAK_ONE);
}

/*
 * The proxy given by name: asked of the resolvers on sockets the hook sees, on the
 * engine's loop (a stop interrupts it), within --connect-timeout. Returns 0 (e->proxy
 * set), 1 (stopped meanwhile) or -errno (reason in e->err).
 */
static int
lookup_proxy(struct t2s_engine *e)
{
	const struct t2s_endpoint *ep = &e->cfg.proxy.server;
	struct proxy_lookup_params p = {
		.name = ep->u.domain.name,
		.servers = e->resolvers,
		.n_servers = e->n_resolvers,
		.timeout = e->cfg.connect_timeout,
		.fwmark = e->cfg.fwmark,
		.hook = &e->proxy.hook,
	};
	struct proxy_lookup *l;
	char addr[T2S_ENDPOINT_STRLEN];
	struct t2s_endpoint got;
	int err;

	err = proxy_lookup_start(e->loop, &p, lookup_done, e, &l);
	if (err < 0) {
		snprintf(e->err, sizeof(e->err), "cannot look the proxy's name %.64s up: %s", p.name, strerror(-err));
		return err;
	}
	while (!e->looked_up && !atomic_load(&e->stop_requested))
		ev_run(e->loop, EVRUN_ONCE);
	proxy_lookup_free(l);
	if (!e->looked_up)
		return 1;
	if (e->lookup.err < 0) {
		snprintf(e->err, sizeof(e->err), "cannot resolve the proxy's name %s: %s", p.name, e->lookup.why);
		return -EHOSTUNREACH;
	}
	memcpy(&e->proxy.addr, &e->lookup.addr, e->lookup.addrlen);
	e->proxy.addrlen = e->lookup.addrlen;
	if (e->proxy.addr.ss_family == AF_INET)
		((struct sockaddr_in *)&e->proxy.addr)->sin_port = htons(ep->port);
	else
		((struct sockaddr_in6 *)&e->proxy.addr)->sin6_port = htons(ep->port);
	if (endpoint_from_sockaddr(&got, (const struct sockaddr *)&e->proxy.addr) == 0)
		endpoint_format(&got, addr, sizeof(addr));
	else
		snprintf(addr, sizeof(addr), "?");
	log_info("proxy %s is %s (TTL %u s, %s)", p.name, addr, (unsigned)e->lookup.ttl, e->lookup.why);
	return 0;
}

/* The proxies after the first, from cfg, to the engine (their addresses are IPs). */
static int
set_backups(struct t2s_engine *e, const struct t2s_config *cfg)
{
	struct socks5_server b[CONFIG_MAX_PROXIES - 1];

	struct sockaddr_storage host[PROXY_LOOKUP_SERVERS_MAX];
	char text[4096];
	FILE *fp;
	size_t n = 0;

	memset(b, 0, sizeof(b));
	/* For names (looked up by the engine, on the loop): the embedder's nameservers, or
	 * /etc/resolv.conf's as of now. */
	if (e->n_resolvers > 0) {
		t2s_set_resolvers(e->t, e->resolvers, e->n_resolvers);
	} else if ((fp = fopen("/etc/resolv.conf", "re")) != NULL) {
		n = fread(text, 1, sizeof(text) - 1, fp);
		fclose(fp);
		text[n] = '\0';
		t2s_set_resolvers(e->t, host, resolv_conf_nameservers(text, host, PROXY_LOOKUP_SERVERS_MAX));
	}
	for (unsigned i = 0; i < cfg->n_backup; i++) {
		if (cfg->backup[i].server.type != T2S_ENDPOINT_DOMAIN &&
		    endpoint_to_sockaddr(&cfg->backup[i].server, &b[i].addr, &b[i].addrlen) < 0)
			return -EINVAL;
		if (cfg->backup[i].has_credentials) {
			b[i].user = cfg->backup[i].user;
			b[i].pass = cfg->backup[i].pass;
		}
	}
	return t2s_set_backups(e->t, b, cfg->n_backup);
}

static bool
backups_equal(const struct t2s_config *a, const struct t2s_config *b)
{
	if (a->n_backup != b->n_backup)
		return false;
	for (unsigned i = 0; i < a->n_backup; i++) {
		const struct proxy_url *x = &a->backup[i], *y = &b->backup[i];

		if (!endpoint_equal(&x->server, &y->server) || x->has_credentials != y->has_credentials ||
		    strcmp(x->user, y->user) != 0 || strcmp(x->pass, y->pass) != 0)
			return false;
	}
	return true;
}

/* A SIGPIPE our own sockets raised while it was blocked must not reach the embedder. */
static void
drain_sigpipe(const sigset_t *pipe)
{
	const struct timespec zero = {0, 0};

	while (sigtimedwait(pipe, NULL, &zero) == SIGPIPE)
		;
}

int
t2s_engine_run(struct t2s_engine *e, int tun_fd)
{
	struct tun_device tun;
	sigset_t pipe, old;
	char url[T2S_ENDPOINT_STRLEN + PROXY_URL_CRED_MAX + 16];
	unsigned mtu;
	int fd, err;

	if (e == NULL)
		return -EINVAL;
	if (e->ran) {
		snprintf(e->err, sizeof(e->err), "an engine runs once");
		return -EALREADY;
	}
	e->ran = true;
	e->err[0] = '\0';
	fd = fcntl(tun_fd, F_DUPFD_CLOEXEC, 3);
	if (fd < 0) {
		err = -errno;
		snprintf(e->err, sizeof(e->err), "cannot duplicate the TUN descriptor %d: %s", tun_fd, strerror(-err));
		return err;
	}
	err = tun_adopt_fd(&tun, fd);
	if (err < 0) {
		close(fd);
		snprintf(e->err, sizeof(e->err), "descriptor %d is not a usable TUN (IFF_TUN | IFF_NO_PI): %s", tun_fd,
			 strerror(-err));
		return err;
	}
	/* The device's own MTU unless the embedder said otherwise. */
	if (!e->mtu_set && tun_get_mtu(&tun, &mtu) == 0 && mtu >= 576 && mtu <= CONFIG_MAX_MTU)
		e->cfg.mtu = mtu;
	sigemptyset(&pipe);
	sigaddset(&pipe, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &pipe, &old);
	if (!e->host && e->cfg.proxy.server.type == T2S_ENDPOINT_DOMAIN && (err = lookup_proxy(e)) != 0) {
		tun_close(&tun);
		if (err > 0) /* stopped while looking up: not a failure */
			err = 0;
		goto out_mask;
	}
	err = lwip_port_init(e->loop, api_lwip_diag);
	if (err < 0) {
		tun_close(&tun);
		snprintf(e->err, sizeof(e->err), "lwIP is in use: %s", strerror(-err));
		goto out_mask;
	}
	e->t = t2s_new(e->loop, &e->cfg, &e->proxy, &tun);
	if (e->t == NULL) {
		err = errno != 0 ? -errno : -ENOMEM;
		tun_close(&tun); /* a no-op when t2s_new took it */
		snprintf(e->err, sizeof(e->err), "cannot start: %s", strerror(-err));
		lwip_port_fini();
		goto out_mask;
	}
	if (e->cfg.n_backup > 0 && (err = set_backups(e, &e->cfg)) < 0) {
		snprintf(e->err, sizeof(e->err), "cannot start the proxies' checks: %s", strerror(-err));
		t2s_free(e->t);
		e->t = NULL;
		lwip_port_fini();
		goto out_mask;
	}
	pthread_mutex_lock(&e->stats_lock);
	e->run_thread = pthread_self();
	e->started_at = ev_now(e->loop);
	e->running = true;
	pthread_mutex_unlock(&e->stats_lock);
	if (e->hooks.started != NULL && (err = e->hooks.started(e->hooks.arg, e)) < 0) {
		snprintf(e->err, sizeof(e->err), "cannot start: %s", strerror(-err));
		atomic_store(&e->stop_requested, 1);
	} else {
		err = 0;
		proxy_url_format_redacted(&e->cfg.proxy, url, sizeof(url));
		log_info("ready: %s (mtu %u%s%s) -> %s", e->t->tun.name, e->cfg.mtu,
			 e->t->tun.vnet_hdr_len ? ", offload" : "", e->t->tun.persistent ? ", persistent" : "", url);
	}
	stats_refresh(e);
	ev_timer_start(e->loop, &e->stats_timer);
	if (!atomic_load(&e->stop_requested))
		ev_run(e->loop, 0);
	ev_timer_stop(e->loop, &e->stats_timer);
	flows_end(e);
	t2s_stop(e->t);
	tell_stopping(e);
	stats_refresh(e);
	t2s_free(e->t);
	e->t = NULL;
	tls_client_close_all(e->proxy.tls); /* relays whose flows are gone */
	stats_refresh(e);
	lwip_port_fini();
	if (err == 0)
		log_info("stopped");
out_mask:
	if (!sigismember(&old, SIGPIPE))
		drain_sigpipe(&pipe);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return err;
}

void
t2s_engine_stop(struct t2s_engine *e)
{
	if (e == NULL)
		return;
	atomic_store(&e->stop_requested, 1);
	ev_async_send(e->loop, &e->stop_async);
}

void
t2s_engine_free(struct t2s_engine *e)
{
	if (e == NULL)
		return;
	ev_async_stop(e->loop, &e->stop_async);
	tls_client_free(e->proxy.tls);
	ev_async_stop(e->loop, &e->flows_async);
	if (e->own_loop)
		ev_loop_destroy(e->loop);
	pthread_cond_destroy(&e->flows_done);
	pthread_mutex_destroy(&e->flows_serial);
	pthread_mutex_destroy(&e->stats_lock);
	if (e->log_fn != NULL)
		log_set_sink(NULL, NULL);
	if (e->reload != NULL) {
		proxy_lookup_free(e->reload->lookup);
		explicit_bzero(e->reload, sizeof(*e->reload));
		free(e->reload);
	}
	free_creds(e->creds);
	explicit_bzero(&e->cfg.proxy, sizeof(e->cfg.proxy));
	free(e);
	atomic_store(&engine_claimed, 0);
}

const char *
t2s_engine_error(const struct t2s_engine *e)
{
	return e != NULL ? e->err : "";
}

int
t2s_engine_stats(struct t2s_engine *e, struct t2s_stats_snapshot *out)
{
	size_t n;

	if (e == NULL || out == NULL || out->size < offsetof(struct t2s_stats_snapshot, tun_bytes_in))
		return -EINVAL;
	n = out->size < sizeof(*out) ? out->size : sizeof(*out);
	pthread_mutex_lock(&e->stats_lock);
	memcpy((char *)out + sizeof(out->size), (const char *)&e->stats + sizeof(out->size), n - sizeof(out->size));
	pthread_mutex_unlock(&e->stats_lock);
	return 0;
}

static void
reload_refused_cb(void *arg, const char *option)
{
	(void)arg;
	log_warn("reload: --%s cannot change while running: the running value stays (restart to change it)",
		 option);
}

/* Takes what can change live from next; addr is the proxy's address (port set). */
static int
reload_apply(struct t2s_engine *e, const struct t2s_config *next, const struct sockaddr_storage *addr,
	     socklen_t addrlen)
{
	char url[T2S_ENDPOINT_STRLEN + PROXY_URL_CRED_MAX + 16];
	bool proxy_changed = config_proxy_live_ok(&e->cfg, next) &&
			     (!endpoint_equal(&e->cfg.proxy.server, &next->proxy.server) ||
			      e->cfg.proxy.has_credentials != next->proxy.has_credentials ||
			      strcmp(e->cfg.proxy.user, next->proxy.user) != 0 ||
			      strcmp(e->cfg.proxy.pass, next->proxy.pass) != 0 ||
			      addrlen != e->proxy.addrlen || memcmp(addr, &e->proxy.addr, addrlen) != 0);
	bool backups_changed = config_proxy_live_ok(&e->cfg, next) && !backups_equal(&e->cfg, next);
	struct t2s_config *n = malloc(sizeof(*n));
	unsigned taken;

	if (n == NULL)
		return -ENOMEM;
	if (proxy_changed && set_creds(e, &next->proxy) < 0) {
		free(n);
		return -ENOMEM;
	}
	/* "udp auto" again is what auto meant at start for the running proxy's kind, which a
	 * reload never changes (engine_new, config_proxy_live_ok), not a change. */
	*n = *next;
	if ((e->cfg.proxy.kind == PROXY_KIND_HTTP || e->cfg.proxy.tls) && n->udp_mode == CONFIG_UDP_AUTO)
		n->udp_mode = CONFIG_UDP_DNS_OVER_TCP;
	taken = config_merge_live(&e->cfg, n, reload_refused_cb, e);
	explicit_bzero(n, sizeof(*n));
	free(n);
	log_set_level(e->cfg.log_level);
	if (proxy_changed) {
		memcpy(&e->proxy.addr, addr, addrlen);
		e->proxy.addrlen = addrlen;
		t2s_set_proxy(e->t, &e->proxy);
		proxy_url_format_redacted(&e->cfg.proxy, url, sizeof(url));
		log_info("reload: new connections go to %s; those open stay with the proxy they have", url);
	}
	if (backups_changed) {
		memcpy(e->cfg.backup, next->backup, sizeof(e->cfg.backup));
		e->cfg.n_backup = next->n_backup;
		if (set_backups(e, &e->cfg) < 0)
			log_warn("reload: cannot take the new list of proxies");
		else
			log_info("reload: %u prox%s after the first now; all are taken as up again", e->cfg.n_backup,
				 e->cfg.n_backup == 1 ? "y" : "ies");
	}
	/* A new proxy or list of proxies is one setting, "proxy". */
	taken += (proxy_changed || backups_changed) && taken == 0;
	log_info("reload: done (%u setting%s changed)", taken, taken == 1 ? "" : "s");
	return 0;
}

const struct socks5_server *
t2s_engine_proxy(const struct t2s_engine *e, char *name, size_t len)
{
	endpoint_format(&e->cfg.proxy.server, name, len);
	return &e->proxy;
}

static void
reload_finish(struct t2s_engine *e, int err, const char *why)
{
	struct api_reload *r = e->reload;
	t2s_reload_done_fn done = r->done;
	void *arg = r->arg;

	e->reload = NULL;
	proxy_lookup_free(r->lookup);
	explicit_bzero(r, sizeof(*r));
	free(r);
	done(arg, err, why);
}

static void
reload_lookup_done(void *arg, const struct proxy_lookup_result *res)
{
	struct t2s_engine *e = arg;
	struct api_reload *r = e->reload;
	struct sockaddr_storage addr;
	char why[256];
	int err;

	if (e->t == NULL) { /* the run ended meanwhile */
		reload_finish(e, -ECANCELED, "the engine stopped");
		return;
	}
	if (res->err < 0) {
		snprintf(why, sizeof(why), "cannot resolve the proxy's name %.64s: %.150s", r->next.proxy.server.u.domain.name,
			 res->why);
		reload_finish(e, -EHOSTUNREACH, why);
		return;
	}
	memcpy(&addr, &res->addr, res->addrlen);
	if (addr.ss_family == AF_INET)
		((struct sockaddr_in *)&addr)->sin_port = htons(r->next.proxy.server.port);
	else
		((struct sockaddr_in6 *)&addr)->sin6_port = htons(r->next.proxy.server.port);
	err = reload_apply(e, &r->next, &addr, res->addrlen);
	reload_finish(e, err, err < 0 ? strerror(-err) : "");
}

int
t2s_engine_reload(struct t2s_engine *e, const struct t2s_config *next, t2s_reload_done_fn done, void *arg)
{
	struct sockaddr_storage addr;
	socklen_t addrlen;
	struct api_reload *r;
	int err;

	if (e == NULL || e->t == NULL)
		return -EINVAL;
	if (e->reload != NULL)
		return -EBUSY;
	r = calloc(1, sizeof(*r));
	if (r == NULL)
		return -ENOMEM;
	r->next = *next;
	r->done = done;
	r->arg = arg;
	e->reload = r;
	if (next->proxy.server.type == T2S_ENDPOINT_DOMAIN) {
		struct proxy_lookup_params p = {
			.name = next->proxy.server.u.domain.name,
			.servers = e->resolvers,
			.timeout = next->connect_timeout,
			.fwmark = e->cfg.fwmark,
			.hook = &e->proxy.hook,
		};
		struct sockaddr_storage host[PROXY_LOOKUP_SERVERS_MAX];
		char text[4096];
		FILE *fp;
		size_t n = 0;

		/* The embedder's nameservers, or /etc/resolv.conf's as of now. */
		p.n_servers = e->n_resolvers;
		if (e->n_resolvers == 0 && (fp = fopen("/etc/resolv.conf", "re")) != NULL) {
			n = fread(text, 1, sizeof(text) - 1, fp);
			fclose(fp);
			text[n] = '\0';
			p.n_servers = resolv_conf_nameservers(text, host, PROXY_LOOKUP_SERVERS_MAX);
			p.servers = host;
		}
		err = proxy_lookup_start(e->loop, &p, reload_lookup_done, e, &r->lookup);
		if (err < 0) {
			char why[200];

			snprintf(why, sizeof(why), "cannot look the proxy's name %.64s up: %s", p.name,
				 p.n_servers == 0 ? "no nameserver (none in /etc/resolv.conf)" : strerror(-err));
			reload_finish(e, err, why);
		}
		return 0;
	}
	if (endpoint_to_sockaddr(&next->proxy.server, &addr, &addrlen) < 0) {
		reload_finish(e, -EINVAL, "the proxy is not an IP address");
		return 0;
	}
	err = reload_apply(e, next, &addr, addrlen);
	reload_finish(e, err, err < 0 ? strerror(-err) : "");
	return 0;
}
