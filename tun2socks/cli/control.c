/* SPDX-License-Identifier: MIT */
/* The control socket's answers, from the engine's public and host APIs. */
#include "control.h"

#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <arpa/inet.h>
#include <unistd.h>

#include "ctl_proto.h"
#include "ctl_server.h"
#include "host_api.h"
#include "log.h"
#include "tun2socks.h"

/* A client's unsent output, at most: some 3000 bytes a flow, 16384 flows by default. */
#define CONTROL_OUT_LIMIT (64u << 20)
/* A client that reads nothing of a waiting response this long is cut off. */
#define CONTROL_STALL_TIMEOUT 5.0
#define CONTROL_MAX_CLIENTS 16

struct control {
	struct t2s_engine *engine;
	struct ctl_server *server;
	char capture[80];
	unsigned long netns;
	char path[108];
};

int
control_default_path(unsigned long netns, const char *tun, char *out, size_t cap)
{
	int n = snprintf(out, cap, "%s/net%lu-%s.control", CONTROL_DIR, netns, tun);

	return n < 0 || (size_t)n >= cap ? -ENAMETOOLONG : 0;
}

static void
counter_record(void *arg, const char *name, uint64_t value, bool gauge, const char *help)
{
	struct ctl_buf *out = arg;

	(void)help;
	ctl_proto_field(out, "type", gauge ? "gauge" : "counter");
	ctl_proto_field(out, "name", name);
	ctl_proto_field_u64(out, "value", value);
	ctl_proto_end_record(out);
}

void
control_process_usage(uint64_t *rss, uint64_t *fds)
{
	FILE *fp = fopen("/proc/self/statm", "re");
	unsigned long size, res;
	struct dirent *de;
	DIR *dir;

	*rss = *fds = 0;
	if (fp != NULL) {
		if (fscanf(fp, "%lu %lu", &size, &res) == 2)
			*rss = (uint64_t)res * (uint64_t)sysconf(_SC_PAGESIZE);
		fclose(fp);
	}
	if ((dir = opendir("/proc/self/fd")) == NULL)
		return;
	while ((de = readdir(dir)) != NULL)
		if (de->d_name[0] != '.')
			(*fds)++;
	closedir(dir);
	(*fds)--; /* the directory's own */
}

/* One "upstream" record per proxy of the list. */
static void
upstream_record(void *arg, const struct t2s_engine_proxy_info *p)
{
	struct ctl_buf *out = arg;

	ctl_proto_field(out, "type", "upstream");
	ctl_proto_field_u64(out, "index", p->index);
	ctl_proto_field(out, "url", p->url);
	ctl_proto_field(out, "state", p->up ? "up" : "down");
	ctl_proto_field(out, "active", p->active ? "yes" : "no");
	ctl_proto_field_f(out, "since", p->since);
	ctl_proto_field_u64(out, "picked", p->picked);
	ctl_proto_field_u64(out, "connects_ok", p->flow_ok);
	ctl_proto_field_u64(out, "connects_failed", p->flow_failed);
	ctl_proto_field_u64(out, "retried", p->retried);
	ctl_proto_field_u64(out, "checks_ok", p->checks_ok);
	ctl_proto_field_u64(out, "checks_failed", p->checks_failed);
	ctl_proto_field_u64(out, "went_down", p->went_down);
	ctl_proto_field_u64(out, "went_up", p->went_up);
	ctl_proto_end_record(out);
}

static void
answer_status(struct control *c, struct ctl_buf *out)
{
	struct t2s_engine_status st;
	uint64_t rss, fds;

	if (t2s_engine_status(c->engine, &st) < 0) {
		ctl_proto_error(out, "the engine is not running");
		ctl_proto_end(out);
		return;
	}
	control_process_usage(&rss, &fds);
	ctl_proto_ok(out);
	ctl_proto_field(out, "type", "status");
	ctl_proto_field(out, "version", t2s_version());
	ctl_proto_field_u64(out, "pid", (uint64_t)getpid());
	ctl_proto_field_f(out, "uptime", st.uptime);
	ctl_proto_field(out, "tun", st.tun);
	ctl_proto_field_u64(out, "netns", c->netns);
	ctl_proto_field_u64(out, "mtu", st.mtu);
	ctl_proto_field(out, "offload", st.offload ? "yes" : "no");
	ctl_proto_field(out, "capture", c->capture);
	ctl_proto_field(out, "udp_mode", st.udp_mode);
	ctl_proto_field(out, "dns_mode", st.dns_mode);
	ctl_proto_field_u64(out, "rss_bytes", rss);
	ctl_proto_field_u64(out, "fds", fds);
	ctl_proto_end_record(out);
	ctl_proto_field(out, "type", "proxy");
	ctl_proto_field(out, "url", st.proxy);
	ctl_proto_field(out, "tcp", st.proxy_ok_ago < 0 && st.proxy_fail_ago < 0 ? "unknown"
				    : st.proxy_fail_ago < 0 || (st.proxy_ok_ago >= 0 && st.proxy_ok_ago <= st.proxy_fail_ago)
					    ? "up"
					    : "failing");
	ctl_proto_field_f(out, "last_ok", st.proxy_ok_ago);
	ctl_proto_field_f(out, "last_fail", st.proxy_fail_ago);
	ctl_proto_field(out, "last_error", st.proxy_error);
	ctl_proto_field(out, "udp", st.udp_state);
	ctl_proto_field_u64(out, "udp_checks", st.udp_probes);
	ctl_proto_end_record(out);
	(void)t2s_engine_proxies(c->engine, upstream_record, out);
	(void)t2s_engine_counters(c->engine, counter_record, out);
	ctl_proto_end(out);
}

static void
endpoint_text(int family, const uint8_t *addr, uint16_t port, char *out, size_t cap)
{
	char a[INET6_ADDRSTRLEN];

	inet_ntop(family == 4 ? AF_INET : AF_INET6, addr, a, sizeof(a));
	snprintf(out, cap, family == 4 ? "%s:%u" : "[%s]:%u", a, port);
}

struct flows_ctx {
	struct ctl_buf *out;
	const char *proxy;
};

static int
flow_record(void *arg, const struct t2s_flow_info *f)
{
	struct flows_ctx *x = arg;
	struct ctl_buf *out = x->out;
	char ep[INET6_ADDRSTRLEN + 8];

	ctl_proto_field(out, "type", "flow");
	ctl_proto_field_u64(out, "id", f->id);
	ctl_proto_field(out, "proto", f->proto == 6 ? "tcp" : "udp");
	endpoint_text(f->family, f->app_addr, f->app_port, ep, sizeof(ep));
	ctl_proto_field(out, "app", ep);
	endpoint_text(f->family, f->dst_addr, f->dst_port, ep, sizeof(ep));
	ctl_proto_field(out, "dst", ep);
	if (f->host[0] != '\0')
		ctl_proto_field(out, "host", f->host);
	ctl_proto_field(out, "proxy", x->proxy);
	ctl_proto_field(out, "state", f->state);
	ctl_proto_field_f(out, "age", f->age);
	ctl_proto_field_f(out, "idle", f->idle);
	if (f->connect_time >= 0)
		ctl_proto_field_f(out, "connect", f->connect_time);
	ctl_proto_field_u64(out, "out", f->bytes_out);
	ctl_proto_field_u64(out, "in", f->bytes_in);
	if (f->proto == 17) {
		ctl_proto_field_u64(out, "pkts_out", f->packets_out);
		ctl_proto_field_u64(out, "pkts_in", f->packets_in);
	}
	ctl_proto_end_record(out);
	return out->failed ? -ENOBUFS : 0;
}

static void
answer_flows(struct control *c, struct ctl_buf *out)
{
	struct t2s_engine_status st;
	struct flows_ctx x = {.out = out};
	int err;

	if (t2s_engine_status(c->engine, &st) < 0) {
		ctl_proto_error(out, "the engine is not running");
		ctl_proto_end(out);
		return;
	}
	x.proxy = st.proxy;
	ctl_proto_ok(out);
	ctl_proto_field(out, "type", "time");
	ctl_proto_field_f(out, "uptime", st.uptime);
	ctl_proto_end_record(out);
	err = t2s_engine_flows(c->engine, flow_record, &x);
	if (err < 0 && err != -ENOBUFS) {
		/* (Cannot happen on the engine's own thread but for want of memory.) */
		out->failed = true;
		return;
	}
	ctl_proto_end(out);
}

static void
control_handle(void *arg, const char *request, struct ctl_buf *out)
{
	struct control *c = arg;

	if (strcmp(request, "status") == 0) {
		answer_status(c, out);
	} else if (strcmp(request, "flows") == 0) {
		answer_flows(c, out);
	} else if (strcmp(request, "ping") == 0) {
		ctl_proto_ok(out);
		ctl_proto_end(out);
	} else {
		ctl_proto_error(out, "unknown request (status, flows, ping)");
		ctl_proto_end(out);
	}
}

int
control_start(struct ev_loop *loop, struct t2s_engine *engine, const struct control_params *p,
	      struct control **out)
{
	struct control *c = calloc(1, sizeof(*c));
	struct ctl_server_params sp = {
		.path = p->path,
		.mode = 0660,
		.gid = p->gid,
		.out_limit = CONTROL_OUT_LIMIT,
		.stall_timeout = CONTROL_STALL_TIMEOUT,
		.max_clients = CONTROL_MAX_CLIENTS,
		.handle = control_handle,
	};
	int err;

	*out = NULL;
	if (c == NULL)
		return -ENOMEM;
	c->engine = engine;
	c->netns = p->netns;
	snprintf(c->capture, sizeof(c->capture), "%s", p->capture);
	snprintf(c->path, sizeof(c->path), "%s", p->path);
	if (strncmp(p->path, CONTROL_DIR "/", sizeof(CONTROL_DIR)) == 0 && mkdir(CONTROL_DIR, 0755) < 0 &&
	    errno != EEXIST) {
		err = -errno;
		free(c);
		return err;
	}
	sp.arg = c;
	err = ctl_server_new(loop, &sp, &c->server);
	if (err < 0) {
		free(c);
		return err;
	}
	*out = c;
	return 0;
}

void
control_stop(struct control *c)
{
	if (c == NULL)
		return;
	ctl_server_free(c->server);
	free(c);
}

int
control_remove_stale(const char *tun)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	char prefix[64];
	struct dirent *de;
	struct stat st;
	DIR *dir;
	int n = 0;

	if (stat("/proc/self/ns/net", &st) < 0 || (dir = opendir(CONTROL_DIR)) == NULL)
		return 0;
	snprintf(prefix, sizeof(prefix), "net%lu-", (unsigned long)st.st_ino);
	while ((de = readdir(dir)) != NULL) {
		size_t len = strlen(de->d_name), plen = strlen(prefix);
		int fd;

		if (strncmp(de->d_name, prefix, plen) != 0 || len < plen + 9 ||
		    strcmp(de->d_name + len - 8, ".control") != 0)
			continue;
		if (tun != NULL && (len - plen - 8 != strlen(tun) || strncmp(de->d_name + plen, tun, strlen(tun)) != 0))
			continue;
		if ((size_t)snprintf(sun.sun_path, sizeof(sun.sun_path), "%s/%s", CONTROL_DIR, de->d_name) >=
		    sizeof(sun.sun_path))
			continue;
		fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd < 0)
			break;
		if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0 && errno == ECONNREFUSED &&
		    unlink(sun.sun_path) == 0) {
			log_info("down: removed the stale control socket %s", sun.sun_path);
			n++;
		}
		close(fd);
	}
	closedir(dir);
	return n;
}
