/* SPDX-License-Identifier: MIT */
/*
 * status, flows and top: find the instance's control socket, ask it, print. Each
 * request waits at most CTL_CMD_TIMEOUT seconds; top redraws with plain ANSI codes
 * (cursor home, clear to end of line and of screen), so it works in any terminal,
 * tmux and over ssh.
 */
#include "ctl_cmd.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "control.h"
#include "ctl_find.h"
#include "ctl_flows.h"
#include "ctl_proto.h"
#include "sockdiag.h"

#define CTL_CMD_TIMEOUT 5.0
/* A response larger than this is refused (the server's own limit is 64 MiB). */
#define CTL_CMD_RESPONSE_MAX (64u << 20)

enum {
	EXIT_OK = 0,
	EXIT_FAIL = 1,
	EXIT_USAGE = 2,
};

struct opts {
	const char *cmd;
	const char *tun, *control;
	int sort;
	const char *sort_name;
	bool json, programs, once;
	double interval;
};

static const char usage[] =
	"Usage: tun2socks status [--tun NAME | --control PATH]\n"
	"       tun2socks flows [--tun NAME | --control PATH] [--sort COL] [--json] [--programs]\n"
	"                       [--interval SEC]\n"
	"       tun2socks top [--tun NAME | --control PATH] [--sort COL] [--programs] [--interval SEC]\n"
	"\n"
	"Ask a running tun2socks through its control socket. The instance is the one whose\n"
	"TUN is NAME in this network namespace (--tun), the one at PATH (--control), or,\n"
	"with neither, the only one running in this network namespace (if it has none,\n"
	"the only one running).\n"
	"\n"
	"  status          version, uptime, TUN, capture mode, the proxy's state, UDP mode,\n"
	"                  memory and every counter\n"
	"  flows           the live flows: protocol, application, destination (and the\n"
	"                  fake-IP name), proxy, state, age, bytes and rate each way\n"
	"  top             the same, redrawn every --interval seconds, busiest first; q quits\n"
	"\n"
	"  -t, --tun NAME        the instance whose TUN is NAME\n"
	"      --control PATH    the instance listening at PATH\n"
	"  -s, --sort COL        rate (default), bytes, in, out, age, id, dst, app, proto,\n"
	"                        state, program\n"
	"      --json            flows as a JSON array (one object per flow)\n"
	"  -p, --programs        the program (PID, name) behind each flow, from the kernel's\n"
	"                        socket table (sock_diag) of this network namespace\n"
	"  -i, --interval SEC    between the two samples the rates come from (flows, default\n"
	"                        0.5; 0: no rates), or between redraws (top, default 1)\n"
	"      --once            top: draw once and exit\n"
	"  -h, --help            show this text\n";

bool
ctl_cmd_is(const char *arg)
{
	return strcmp(arg, "status") == 0 || strcmp(arg, "flows") == 0 || strcmp(arg, "top") == 0;
}

static double
mono(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---- finding and asking the instance ------------------------------------------- */

/* Someone listens at path (a connect succeeds). */
static bool
answers(const char *path)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	bool ok;

	if (fd < 0)
		return false;
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
	ok = connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == 0 || errno == EACCES;
	close(fd);
	return ok;
}

#define FIND_MAX 64 /* answering sockets considered; more are named "and more" */

static int
find_instance(const struct opts *o, char *path, size_t cap)
{
	static char names[FIND_MAX][NAME_MAX + 1];
	const char *list[FIND_MAX];
	struct stat st;
	struct dirent *de;
	unsigned long own = 0;
	size_t n = 0, more = 0, i;
	bool mine_only;
	DIR *dir;
	int pick;

	if (o->control != NULL) {
		snprintf(path, cap, "%s", o->control);
		return 0;
	}
	if (stat("/proc/self/ns/net", &st) < 0) {
		fprintf(stderr, "tun2socks: cannot tell our network namespace: %s\n", strerror(errno));
		return -1;
	}
	own = (unsigned long)st.st_ino;
	if (o->tun != NULL)
		return control_default_path(own, o->tun, path, cap) < 0 ? -1 : 0;
	dir = opendir(CONTROL_DIR);
	while (dir != NULL && (de = readdir(dir)) != NULL) {
		size_t len = strlen(de->d_name);
		char p[sizeof(((struct sockaddr_un *)0)->sun_path)];

		if (len < 9 || strcmp(de->d_name + len - 8, ".control") != 0 ||
		    (size_t)snprintf(p, sizeof(p), "%s/%s", CONTROL_DIR, de->d_name) >= sizeof(p) || !answers(p))
			continue; /* a socket nobody answers is a dead run's (after --user it stays) */
		if (n == FIND_MAX) {
			more++;
			continue;
		}
		snprintf(names[n], sizeof(names[n]), "%s", de->d_name);
		list[n] = names[n];
		n++;
	}
	if (dir != NULL)
		closedir(dir);
	pick = ctl_find_pick(list, n, own, &mine_only);
	if (pick >= 0 && more == 0) {
		snprintf(path, cap, "%s/%s", CONTROL_DIR, list[pick]);
		return 0;
	}
	if (pick == -ENOENT) {
		fprintf(stderr, "tun2socks: no tun2socks is running (no control socket in %s answers)\n", CONTROL_DIR);
		return -1;
	}
	fprintf(stderr, "tun2socks: several instances run%s; say which with --tun or --control:\n",
		mine_only ? " in this network namespace" : pick >= 0 ? "" : " (none in this network namespace)");
	for (i = 0; i < n; i++)
		if (!mine_only || ctl_find_in_netns(list[i], own))
			fprintf(stderr, "  %s/%s\n", CONTROL_DIR, list[i]);
	if (more > 0)
		fprintf(stderr, "  and %zu more\n", more);
	return -1;
}

static int
ctl_connect(const char *path)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	int fd;

	if (strlen(path) >= sizeof(sun.sun_path)) {
		fprintf(stderr, "tun2socks: %s: path too long\n", path);
		return -1;
	}
	strcpy(sun.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
		int e = errno;

		fprintf(stderr, "tun2socks: cannot reach tun2socks at %s: %s%s\n", path, strerror(e),
			e == ENOENT || e == ECONNREFUSED ? " (is it running?)"
			: e == EACCES			 ? " (root or the socket's group only)"
							 : "");
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

/*
 * Sends one request and reads its response up to the empty line; returns the text
 * after "ok\n" (malloc'd, owned by the caller), or NULL after printing why.
 */
static char *
ask(int fd, const char *req)
{
	struct ctl_buf b;
	char chunk[65536];
	double deadline = mono() + CTL_CMD_TIMEOUT;
	size_t scanned = 0;
	char *text;

	if (send(fd, req, strlen(req), MSG_NOSIGNAL) < 0 || send(fd, "\n", 1, MSG_NOSIGNAL) < 0) {
		fprintf(stderr, "tun2socks: control socket: %s\n", strerror(errno));
		return NULL;
	}
	ctl_buf_init(&b, CTL_CMD_RESPONSE_MAX);
	for (;;) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		int left = (int)((deadline - mono()) * 1000);
		ssize_t n;
		char *end;

		/* The response ends with an empty line: "\n\n", or "\n" alone at the start. */
		if (b.len > 0 && (end = memmem(b.data + (scanned > 0 ? scanned - 1 : 0),
					       b.len - (scanned > 0 ? scanned - 1 : 0), "\n\n", 2)) != NULL)
			break;
		scanned = b.len;
		if (left <= 0 || poll(&p, 1, left) <= 0) {
			fprintf(stderr, "tun2socks: no answer from the control socket within %.0f s\n", CTL_CMD_TIMEOUT);
			goto err;
		}
		n = recv(fd, chunk, sizeof(chunk), 0);
		if (n <= 0) {
			fprintf(stderr, "tun2socks: the control socket closed%s%s\n", n < 0 ? ": " : "",
				n < 0 ? strerror(errno) : "");
			goto err;
		}
		if (!ctl_buf_put(&b, chunk, (size_t)n)) {
			fprintf(stderr, "tun2socks: the response is too large\n");
			goto err;
		}
	}
	ctl_buf_put(&b, "", 1);
	if (b.failed)
		goto err;
	if (strncmp(b.data, "ok\n", 3) != 0) {
		fprintf(stderr, "tun2socks: %s: %.*s\n", req, (int)strcspn(b.data, "\n"), b.data);
		goto err;
	}
	text = strdup(b.data + 3);
	ctl_buf_free(&b);
	return text;
err:
	ctl_buf_free(&b);
	return NULL;
}

/* ---- formatting ---------------------------------------------------------------- */

static const char *
human_bytes(double v, char *buf, size_t cap)
{
	static const char *const unit[] = {"B", "KiB", "MiB", "GiB", "TiB"};
	int u = 0;

	while (v >= 1024 && u < 4) {
		v /= 1024;
		u++;
	}
	snprintf(buf, cap, u == 0 ? "%.0f %s" : "%.1f %s", v, unit[u]);
	return buf;
}

static const char *
human_rate(double v, char *buf, size_t cap)
{
	char b[24];

	if (v < 0)
		return "-";
	snprintf(buf, cap, "%.24s/s", human_bytes(v, b, sizeof(b)));
	return buf;
}

static const char *
human_age(double s, char *buf, size_t cap)
{
	long t = (long)s;

	if (t < 60)
		snprintf(buf, cap, "%.1fs", s);
	else if (t < 3600)
		snprintf(buf, cap, "%ldm%02lds", t / 60, t % 60);
	else if (t < 86400)
		snprintf(buf, cap, "%ldh%02ldm", t / 3600, t / 60 % 60);
	else
		snprintf(buf, cap, "%ldd%02ldh", t / 86400, t / 3600 % 24);
	return buf;
}

/* ---- status ---------------------------------------------------------------------- */

static int
run_status(int fd)
{
	char *text = ask(fd, "status"), *line, *next;
	struct ctl_field f[CTL_PROTO_FIELDS_MAX];
	bool counters_said = false;
	char a[32], b[32];

	if (text == NULL)
		return EXIT_FAIL;
	for (line = text; line != NULL && *line != '\0' && *line != '\n'; line = next) {
		const char *type;
		int nf;

		next = strchr(line, '\n');
		if (next != NULL)
			*next++ = '\0';
		nf = ctl_proto_parse_record(line, f, CTL_PROTO_FIELDS_MAX);
		if (nf < 0 || (type = ctl_proto_get(f, nf, "type")) == NULL)
			continue;
#define G(k) (ctl_proto_get(f, nf, (k)) != NULL ? ctl_proto_get(f, nf, (k)) : "?")
		if (strcmp(type, "status") == 0) {
			printf("tun2socks %s, pid %s, up %s\n", G("version"), G("pid"),
			       human_age(strtod(G("uptime"), NULL), a, sizeof(a)));
			printf("  %-12s %s (mtu %s%s), network namespace %s\n", "TUN", G("tun"), G("mtu"),
			       strcmp(G("offload"), "yes") == 0 ? ", offload" : "", G("netns"));
			printf("  %-12s %s\n", "capture", G("capture"));
			printf("  %-12s %s, DNS %s\n", "UDP mode", G("udp_mode"), G("dns_mode"));
			printf("  %-12s %s resident, %s descriptors\n", "process",
			       human_bytes(strtod(G("rss_bytes"), NULL), a, sizeof(a)), G("fds"));
		} else if (strcmp(type, "proxy") == 0) {
			double ok = strtod(G("last_ok"), NULL), bad = strtod(G("last_fail"), NULL);

			printf("  %-12s %s\n", "proxy", G("url"));
			printf("  %-12s TCP %s", "", G("tcp"));
			if (ok >= 0)
				printf(", last answered %s ago", human_age(ok, a, sizeof(a)));
			if (bad >= 0)
				printf(", last failed %s ago (%s)", human_age(bad, b, sizeof(b)), G("last_error"));
			printf("; UDP %s (%s checks)\n", G("udp"), G("udp_checks"));
		} else if (strcmp(type, "upstream") == 0) {
			if (!counters_said && strcmp(G("index"), "0") == 0)
				printf("  proxies\n");
			printf("    %s. %s: %s%s for %s; %s flows (%s ok, %s failed, %s moved on), checks %s ok %s "
			       "failed, down %s up %s\n",
			       G("index"), G("url"), G("state"), strcmp(G("active"), "yes") == 0 ? ", active" : "",
			       human_age(strtod(G("since"), NULL), a, sizeof(a)), G("picked"), G("connects_ok"),
			       G("connects_failed"), G("retried"), G("checks_ok"), G("checks_failed"), G("went_down"),
			       G("went_up"));
		} else if (strcmp(type, "counter") == 0 || strcmp(type, "gauge") == 0) {
			if (!counters_said) {
				printf("  counters\n");
				counters_said = true;
			}
			printf("    %-24s %s\n", G("name"), G("value"));
		}
#undef G
	}
	free(text);
	return EXIT_OK;
}

/* ---- flows ----------------------------------------------------------------------- */

struct snapshot {
	struct ctl_flow *v;
	size_t n;
	double uptime;
};

static int
take(int fd, struct snapshot *s)
{
	char *text = ask(fd, "flows");
	int err;

	if (text == NULL)
		return -1;
	err = ctl_flows_parse(text, &s->v, &s->n, &s->uptime);
	free(text);
	if (err < 0) {
		fprintf(stderr, "tun2socks: a bad flows response: %s\n", strerror(-err));
		return -1;
	}
	return 0;
}

/* "1.2.3.4:80" / "[::1]:80" to bytes and port. */
static int
endpoint_bytes(const char *text, int *family, uint8_t *addr, uint16_t *port)
{
	char host[INET6_ADDRSTRLEN + 2];
	const char *colon = strrchr(text, ':');
	size_t len;

	if (colon == NULL || (len = (size_t)(colon - text)) >= sizeof(host))
		return -1;
	memcpy(host, text, len);
	host[len] = '\0';
	*port = (uint16_t)strtoul(colon + 1, NULL, 10);
	memset(addr, 0, 16);
	if (host[0] == '[' && len > 2 && host[len - 1] == ']') {
		host[len - 1] = '\0';
		*family = 6;
		return inet_pton(AF_INET6, host + 1, addr) == 1 ? 0 : -1;
	}
	*family = 4;
	return inet_pton(AF_INET, host, addr) == 1 ? 0 : -1;
}

/* --programs: who owns each flow's application socket, in our network namespace. */
static void
find_programs(struct ctl_flow *v, size_t n)
{
	struct sockdiag_entry *socks;
	struct sockdiag_owner *owners;
	size_t ns;
	int err = sockdiag_dump(&socks, &ns);

	if (err < 0) {
		fprintf(stderr, "tun2socks: --programs: cannot read the socket table: %s\n", strerror(-err));
		return;
	}
	owners = calloc(n > 0 ? n : 1, sizeof(*owners));
	if (owners == NULL) {
		free(socks);
		return;
	}
	for (size_t i = 0; i < n; i++) {
		uint8_t a[16], d[16];
		uint16_t ap, dp;
		int fa, fd;
		const struct sockdiag_entry *e;

		if (endpoint_bytes(v[i].app, &fa, a, &ap) < 0 || endpoint_bytes(v[i].dst, &fd, d, &dp) < 0)
			continue;
		e = sockdiag_match(socks, ns, strcmp(v[i].proto, "tcp") == 0 ? 6 : 17, fa, a, ap, d, dp);
		if (e != NULL)
			owners[i].inode = e->inode;
	}
	sockdiag_owners(owners, n);
	for (size_t i = 0; i < n; i++) {
		v[i].pid = owners[i].pid;
		snprintf(v[i].comm, sizeof(v[i].comm), "%s", owners[i].comm);
	}
	free(owners);
	free(socks);
}

static void
json_str(FILE *out, const char *s)
{
	fputc('"', out);
	for (const unsigned char *p = (const unsigned char *)s; *p != '\0'; p++) {
		if (*p == '"' || *p == '\\')
			fprintf(out, "\\%c", *p);
		else if (*p < 0x20 || *p == 0x7f)
			fprintf(out, "\\u%04x", *p);
		else
			fputc(*p, out);
	}
	fputc('"', out);
}

static void
json_num(FILE *out, double v)
{
	if (v < 0 || !isfinite(v))
		fputs("null", out);
	else
		fprintf(out, "%.3f", v);
}

static void
print_json(const struct ctl_flow *v, size_t n, bool programs)
{
	fputs("[", stdout);
	for (size_t i = 0; i < n; i++) {
		const struct ctl_flow *f = &v[i];

		printf("%s\n  {\"id\": %" PRIu64 ", \"proto\": ", i > 0 ? "," : "", f->id);
		json_str(stdout, f->proto);
		fputs(", \"app\": ", stdout);
		json_str(stdout, f->app);
		fputs(", \"dst\": ", stdout);
		json_str(stdout, f->dst);
		fputs(", \"host\": ", stdout);
		if (f->host[0] != '\0')
			json_str(stdout, f->host);
		else
			fputs("null", stdout);
		fputs(", \"proxy\": ", stdout);
		json_str(stdout, f->proxy);
		fputs(", \"state\": ", stdout);
		json_str(stdout, f->state);
		fputs(", \"age\": ", stdout);
		json_num(stdout, f->age);
		fputs(", \"idle\": ", stdout);
		json_num(stdout, f->idle);
		fputs(", \"connect_time\": ", stdout);
		json_num(stdout, f->connect);
		printf(", \"bytes_out\": %" PRIu64 ", \"bytes_in\": %" PRIu64 ", \"rate_out\": ", f->out, f->in);
		json_num(stdout, f->rate_out);
		fputs(", \"rate_in\": ", stdout);
		json_num(stdout, f->rate_in);
		if (programs) {
			if (f->pid > 0) {
				printf(", \"pid\": %ld, \"program\": ", (long)f->pid);
				json_str(stdout, f->comm);
			} else {
				fputs(", \"pid\": null, \"program\": null", stdout);
			}
		}
		fputs("}", stdout);
	}
	puts(n > 0 ? "\n]" : "]");
}

/* One row, cut to width columns (0: no limit); with clear, ends with "clear to EOL". */
static void
print_row(const struct ctl_flow *f, bool programs, int width, bool clear)
{
	char line[1024], dst[320], age[32], ro[32], ri[32], bo[32], bi[32], prog[40] = "";
	int n;

	if (f->host[0] != '\0')
		snprintf(dst, sizeof(dst), "%s (%s)", f->dst, f->host);
	else
		snprintf(dst, sizeof(dst), "%s", f->dst);
	if (programs && f->pid > 0)
		snprintf(prog, sizeof(prog), "%7ld %-15s ", (long)f->pid, f->comm);
	else if (programs)
		snprintf(prog, sizeof(prog), "%7s %-15s ", "-", "-");
	n = snprintf(line, sizeof(line), "%s%-3s %-22s %-40s %-17s %7s %10s %10s %12s %12s  %s", prog, f->proto, f->app,
		     dst, f->state, human_age(f->age, age, sizeof(age)), human_bytes((double)f->out, bo, sizeof(bo)),
		     human_bytes((double)f->in, bi, sizeof(bi)), human_rate(f->rate_out, ro, sizeof(ro)),
		     human_rate(f->rate_in, ri, sizeof(ri)), f->proxy);
	if (width > 0 && n > width)
		line[width] = '\0';
	fputs(line, stdout);
	fputs(clear ? "\033[K\n" : "\n", stdout);
}

static void
print_header(bool programs, int width, bool clear)
{
	char line[512];
	int n = snprintf(line, sizeof(line), "%s%-3s %-22s %-40s %-17s %7s %10s %10s %12s %12s  %s",
			 programs ? "    PID PROGRAM         " : "", "PRO", "APPLICATION", "DESTINATION", "STATE", "AGE",
			 "OUT", "IN", "RATE OUT", "RATE IN", "PROXY");

	if (width > 0 && n > width)
		line[width] = '\0';
	fputs(line, stdout);
	fputs(clear ? "\033[K\n" : "\n", stdout);
}

static int
by_id_cmp(const void *a, const void *b)
{
	const struct ctl_flow *x = a, *y = b;

	return x->id < y->id ? -1 : x->id > y->id;
}

static int
run_flows(int fd, const struct opts *o)
{
	struct snapshot a = {0}, b = {0};
	double t0, t1;

	t0 = mono();
	if (take(fd, &a) < 0)
		return EXIT_FAIL;
	if (o->interval > 0) {
		struct timespec ts = {.tv_sec = (time_t)o->interval,
				      .tv_nsec = (long)((o->interval - (double)(time_t)o->interval) * 1e9)};

		nanosleep(&ts, NULL);
		t1 = mono();
		if (take(fd, &b) < 0) {
			free(a.v);
			return EXIT_FAIL;
		}
		qsort(a.v, a.n, sizeof(*a.v), by_id_cmp);
		ctl_flows_rates(b.v, b.n, a.v, a.n, b.uptime > a.uptime ? b.uptime - a.uptime : t1 - t0);
		free(a.v);
		a = b;
	}
	if (o->programs)
		find_programs(a.v, a.n);
	ctl_flows_sort(a.v, a.n, (enum ctl_flows_sort)o->sort);
	if (o->json) {
		print_json(a.v, a.n, o->programs);
	} else {
		print_header(o->programs, 0, false);
		for (size_t i = 0; i < a.n; i++)
			print_row(&a.v[i], o->programs, 0, false);
	}
	free(a.v);
	return EXIT_OK;
}

/* ---- top --------------------------------------------------------------------------- */

static volatile sig_atomic_t top_quit;

static void
top_signal(int sig)
{
	(void)sig;
	top_quit = 1;
}

/* Totals for the header, from the status counters. */
static void
top_totals(int fd, char *out, size_t cap)
{
	char *text = ask(fd, "status"), *line, *next;
	struct ctl_field f[CTL_PROTO_FIELDS_MAX];
	char tun[32] = "?", up[32] = "?", tin[32] = "?", tout[32] = "?";
	uint64_t tcp = 0, udp = 0;

	out[0] = '\0';
	if (text == NULL)
		return;
	for (line = text; line != NULL && *line != '\0' && *line != '\n'; line = next) {
		const char *type, *name, *value;
		int nf;

		next = strchr(line, '\n');
		if (next != NULL)
			*next++ = '\0';
		nf = ctl_proto_parse_record(line, f, CTL_PROTO_FIELDS_MAX);
		if (nf < 0 || (type = ctl_proto_get(f, nf, "type")) == NULL)
			continue;
		if (strcmp(type, "status") == 0) {
			snprintf(tun, sizeof(tun), "%s", ctl_proto_get(f, nf, "tun") ? ctl_proto_get(f, nf, "tun") : "?");
			human_age(strtod(ctl_proto_get(f, nf, "uptime") ? ctl_proto_get(f, nf, "uptime") : "0", NULL), up,
				  sizeof(up));
			continue;
		}
		name = ctl_proto_get(f, nf, "name");
		value = ctl_proto_get(f, nf, "value");
		if (name == NULL || value == NULL)
			continue;
		if (strcmp(name, "tun_bytes_in") == 0) /* what the applications sent */
			human_bytes(strtod(value, NULL), tout, sizeof(tout));
		else if (strcmp(name, "tun_bytes_out") == 0)
			human_bytes(strtod(value, NULL), tin, sizeof(tin));
		else if (strcmp(name, "tcp_flows") == 0)
			tcp = strtoull(value, NULL, 10);
		else if (strcmp(name, "udp_mappings") == 0)
			udp = strtoull(value, NULL, 10);
	}
	snprintf(out, cap, "tun2socks top - %s, up %s - %" PRIu64 " TCP, %" PRIu64 " UDP - applications sent %s, received %s", tun, up,
		 tcp, udp, tout, tin);
	free(text);
}

static int
run_top(int fd, const struct opts *o)
{
	struct snapshot prev = {0};
	struct termios saved, raw;
	bool tty = isatty(STDIN_FILENO) && tcgetattr(STDIN_FILENO, &saved) == 0;
	double prev_t = 0;
	int status = EXIT_OK;

	signal(SIGINT, top_signal);
	signal(SIGTERM, top_signal);
	signal(SIGHUP, top_signal);
	if (tty) {
		raw = saved;
		raw.c_lflag &= ~(tcflag_t)(ICANON | ECHO);
		raw.c_cc[VMIN] = 0;
		raw.c_cc[VTIME] = 0;
		tcsetattr(STDIN_FILENO, TCSANOW, &raw);
	}
	fputs("\033[?25l\033[H\033[2J", stdout); /* hide the cursor, clear */
	while (!top_quit) {
		struct snapshot cur = {0};
		struct winsize ws = {.ws_row = 24, .ws_col = 80};
		double rx = 0, tx = 0, t, next;
		char head[256];
		size_t rows;

		(void)ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws);
		top_totals(fd, head, sizeof(head));
		t = mono();
		if (take(fd, &cur) < 0) {
			status = EXIT_FAIL;
			break;
		}
		ctl_flows_rates(cur.v, cur.n, prev.v, prev.n,
				cur.uptime > prev.uptime && prev.n > 0 ? cur.uptime - prev.uptime : t - prev_t);
		if (o->programs)
			find_programs(cur.v, cur.n);
		for (size_t i = 0; i < cur.n; i++) {
			rx += cur.v[i].rate_in > 0 ? cur.v[i].rate_in : 0;
			tx += cur.v[i].rate_out > 0 ? cur.v[i].rate_out : 0;
		}
		ctl_flows_sort(cur.v, cur.n, (enum ctl_flows_sort)o->sort);
		fputs("\033[H", stdout);
		{
			char a[32], b[32];
			int n = printf("%s", head);

			(void)n;
			printf("\033[K\n%zu flow%s - rate out %s, in %s - sorted by %s - q quits\033[K\n\033[K\n", cur.n,
			       cur.n == 1 ? "" : "s", human_rate(tx, a, sizeof(a)), human_rate(rx, b, sizeof(b)),
			       o->sort_name);
		}
		print_header(o->programs, ws.ws_col, true);
		rows = ws.ws_row > 5 ? (size_t)ws.ws_row - 5 : 1;
		for (size_t i = 0; i < cur.n && i < rows; i++)
			print_row(&cur.v[i], o->programs, ws.ws_col, true);
		fputs("\033[J", stdout); /* clear what is left below */
		fflush(stdout);
		free(prev.v);
		qsort(cur.v, cur.n, sizeof(*cur.v), by_id_cmp);
		prev = cur;
		prev_t = t;
		if (o->once)
			break;
		next = t + o->interval;
		while (!top_quit) {
			struct pollfd p = {.fd = STDIN_FILENO, .events = POLLIN};
			int left = (int)((next - mono()) * 1000);
			char c;

			if (left <= 0)
				break;
			if (poll(&p, 1, left) <= 0)
				continue;
			if (read(STDIN_FILENO, &c, 1) != 1) {
				if (!tty)
					top_quit = 1; /* stdin closed: nobody can press q */
				continue;
			}
			if (c == 'q' || c == 'Q')
				top_quit = 1;
		}
	}
	free(prev.v);
	fputs("\033[?25h\n", stdout);
	fflush(stdout);
	if (tty)
		tcsetattr(STDIN_FILENO, TCSANOW, &saved);
	return status;
}

/* ---- entry ---------------------------------------------------------------------------- */

static int
parse_opts(int argc, char **argv, struct opts *o)
{
	static const struct option lopts[] = {
		{"tun", required_argument, NULL, 't'},      {"control", required_argument, NULL, 'c'},
		{"sort", required_argument, NULL, 's'},     {"json", no_argument, NULL, 'j'},
		{"programs", no_argument, NULL, 'p'},       {"interval", required_argument, NULL, 'i'},
		{"once", no_argument, NULL, '1'},           {"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	bool top = strcmp(argv[0], "top") == 0, status = strcmp(argv[0], "status") == 0;
	int c;
	char *end;

	memset(o, 0, sizeof(*o));
	o->cmd = argv[0];
	o->sort = CTL_SORT_RATE;
	o->sort_name = "rate";
	o->interval = top ? 1.0 : 0.5;
	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, ":t:s:pi:h", lopts, NULL)) != -1) {
		switch (c) {
		case 't':
			o->tun = optarg;
			break;
		case 'c':
			o->control = optarg;
			break;
		case 's':
			o->sort = ctl_flows_sort_parse(optarg);
			o->sort_name = optarg;
			if (o->sort < 0 || status) {
				fprintf(stderr, "tun2socks %s: --sort: '%s' is not %s\n", o->cmd, optarg,
					status ? "an option of status"
					       : "rate, bytes, in, out, age, id, dst, app, proto, state or program");
				return -1;
			}
			break;
		case 'j':
			if (strcmp(o->cmd, "flows") != 0) {
				fprintf(stderr, "tun2socks %s: --json is an option of flows\n", o->cmd);
				return -1;
			}
			o->json = true;
			break;
		case 'p':
			o->programs = true;
			break;
		case 'i':
			o->interval = strtod(optarg, &end);
			if (end == optarg || *end != '\0' || !(o->interval >= 0) || o->interval > 3600 ||
			    (top && o->interval < 0.1)) {
				fprintf(stderr, "tun2socks %s: --interval: '%s' is not a number of seconds in %s..3600\n",
					o->cmd, optarg, top ? "0.1" : "0");
				return -1;
			}
			break;
		case '1':
			o->once = true;
			break;
		case 'h':
			fputs(usage, stdout);
			return 1;
		case ':':
			fprintf(stderr, "tun2socks %s: option '%s' needs a value\n", o->cmd, argv[optind - 1]);
			return -1;
		default:
			fprintf(stderr, "tun2socks %s: unknown option '%s'\n", o->cmd, argv[optind - 1]);
			return -1;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "tun2socks %s: unexpected argument '%s'\n", o->cmd, argv[optind]);
		return -1;
	}
	if (o->tun != NULL && o->control != NULL) {
		fprintf(stderr, "tun2socks %s: --tun or --control, not both\n", o->cmd);
		return -1;
	}
	return 0;
}

int
ctl_cmd_main(int argc, char **argv)
{
	struct opts o;
	char path[256];
	int rc = parse_opts(argc, argv, &o), fd;

	if (rc != 0) {
		if (rc < 0)
			fprintf(stderr, "Try 'tun2socks %s --help' for more information.\n", argv[0]);
		return rc < 0 ? EXIT_USAGE : EXIT_OK;
	}
	signal(SIGPIPE, SIG_IGN);
	if (find_instance(&o, path, sizeof(path)) < 0)
		return EXIT_FAIL;
	fd = ctl_connect(path);
	if (fd < 0)
		return EXIT_FAIL;
	if (strcmp(o.cmd, "status") == 0)
		rc = run_status(fd);
	else if (strcmp(o.cmd, "flows") == 0)
		rc = run_flows(fd, &o);
	else
		rc = run_top(fd, &o);
	close(fd);
	return rc;
}
