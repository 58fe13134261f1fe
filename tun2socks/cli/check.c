/* SPDX-License-Identifier: MIT */
/* tun2socks check: blocking probes of the proxy, one report line per check. */
#include "check.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <stdarg.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <net/if.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "dns_msg.h"
#include "netlink.h"
#include "sock.h"
#include "socks5_proto.h"

/* ---- The report (pure). */

void
check_add(struct check_report *r, const char *name, enum check_level level, const char *hint, const char *fmt, ...)
{
	struct check_line *l;
	va_list ap;

	if (r->n == CHECK_MAX_LINES)
		return;
	l = &r->lines[r->n++];
	snprintf(l->name, sizeof(l->name), "%s", name);
	l->level = level;
	snprintf(l->hint, sizeof(l->hint), "%s", hint != NULL ? hint : "");
	va_start(ap, fmt);
	vsnprintf(l->detail, sizeof(l->detail), fmt, ap);
	va_end(ap);
}

int
check_exit_status(const struct check_report *r)
{
	for (unsigned i = 0; i < r->n; i++)
		if (r->lines[i].level == CHECK_FAIL)
			return 1;
	return 0;
}

const char *
check_level_name(enum check_level level)
{
	static const char *const names[] = {"ok", "warn", "FAIL", "skip"};

	return names[level];
}

static void
json_string(FILE *out, const char *s)
{
	fputc('"', out);
	for (; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			fprintf(out, "\\%c", c);
		else if (c < 0x20)
			fprintf(out, "\\u%04x", c);
		else
			fputc(c, out);
	}
	fputc('"', out);
}

void
check_print(const struct check_report *r, FILE *out, bool json)
{
	static const char *const json_names[] = {"ok", "warn", "fail", "skip"};

	for (unsigned i = 0; i < r->n; i++) {
		const struct check_line *l = &r->lines[i];

		if (json) {
			fputs("{\"check\":", out);
			json_string(out, l->name);
			fprintf(out, ",\"result\":\"%s\",\"detail\":", json_names[l->level]);
			json_string(out, l->detail);
			fputs(",\"hint\":", out);
			json_string(out, l->hint);
			fputs("}\n", out);
		} else {
			fprintf(out, "%-5s %s: %s%s%s%s\n", check_level_name(l->level), l->name, l->detail,
				l->hint[0] != '\0' ? " (hint: " : "", l->hint, l->hint[0] != '\0' ? ")" : "");
		}
	}
}

/* ---- What a handshake says (pure). */

static const char *
cmd_line_name(uint8_t cmd)
{
	return cmd == SOCKS5_CMD_CONNECT ? "connect" : "udp-associate";
}

bool
check_handshake_report(struct check_report *r, const struct check_handshake *h, bool first)
{
	const char *cmd = cmd_line_name(h->cmd);
	char bnd[T2S_ENDPOINT_STRLEN];

	if (h->step == SOCKS5_HANDSHAKE_STEP_CONNECTING && !h->done) {
		if (h->timed_out)
			check_add(r, "reach", CHECK_FAIL, "is the proxy's host up, and not behind a firewall that drops?",
				  "no TCP connection within %g s", CHECK_TIMEOUT);
		else
			check_add(r, "reach", CHECK_FAIL,
				  h->err == -ECONNREFUSED ? "is the proxy running, and on that port?" : NULL,
				  "cannot connect: %s", strerror(-h->err));
		return false;
	}
	if (first)
		check_add(r, "reach", CHECK_OK, NULL, "TCP connection in %.1f ms", h->ms_connect);
	if (h->step == SOCKS5_HANDSHAKE_STEP_METHOD && !h->done) {
		if (h->timed_out)
			check_add(r, "greeting", CHECK_FAIL, "is this port a SOCKS5 proxy?",
				  "no answer to the SOCKS5 greeting within %g s", CHECK_TIMEOUT);
		else if (h->failure == SOCKS5_HANDSHAKE_PROXY_AUTH)
			check_add(r, "greeting", CHECK_FAIL,
				  h->credentials ? "the proxy accepts neither no authentication nor user/password"
						 : "the proxy wants credentials: socks5://user:pass@host or --proxy-auth-file",
				  "the proxy accepts none of the methods offered");
		else
			check_add(r, "greeting", CHECK_FAIL, "is this port a SOCKS5 proxy (not HTTP, not SOCKS4)?",
				  "not a SOCKS5 answer: %s", strerror(-h->err));
		return false;
	}
	if (first) {
		check_add(r, "greeting", CHECK_OK, NULL, "SOCKS5, answered in %.2f ms", h->ms_greeting);
		if (h->method == SOCKS5_METHOD_NONE)
			check_add(r, "auth", h->credentials ? CHECK_WARN : CHECK_OK,
				  h->credentials ? "the proxy ignores the credentials given" : NULL,
				  "no authentication required");
	}
	if (h->step == SOCKS5_HANDSHAKE_STEP_AUTH && !h->done) {
		check_add(r, "auth", CHECK_FAIL, "check the user name and password",
			  h->timed_out ? "no answer to the credentials within 5 s"
				       : "user name and password rejected (RFC 1929)");
		return false;
	}
	if (first && h->method == SOCKS5_METHOD_USERPASS)
		check_add(r, "auth", CHECK_OK, NULL, "user name and password accepted");
	if (h->done) {
		endpoint_format(&h->bnd, bnd, sizeof(bnd));
		if (h->cmd == SOCKS5_CMD_CONNECT)
			check_add(r, cmd, CHECK_OK, NULL, "%s: succeeded (BND %s)", h->what, bnd);
		else
			check_add(r, cmd, CHECK_OK, NULL, "supported, relay at %s", bnd);
		return true;
	}
	/* The request itself failed: the proxy works, the command does not. */
	if (h->timed_out) {
		check_add(r, cmd, CHECK_FAIL, NULL, "%s: no reply within %g s", h->what, CHECK_TIMEOUT);
	} else if (h->failure == SOCKS5_HANDSHAKE_REJECTED) {
		if (h->cmd == SOCKS5_CMD_UDP_ASSOCIATE)
			check_add(r, cmd, CHECK_WARN,
				  "UDP then goes as DNS over TCP only (--udp auto); other UDP is refused",
				  "not available: REP %u (%s)", h->rep, socks5_proto_rep_str(h->rep));
		else
			check_add(r, cmd, CHECK_FAIL,
				  h->rep == SOCKS5_REP_NOT_ALLOWED ? "the proxy's rules refuse this destination" : NULL,
				  "%s: REP %u (%s)", h->what, h->rep, socks5_proto_rep_str(h->rep));
	} else if (h->cmd == SOCKS5_CMD_UDP_ASSOCIATE) {
		/* ssh -D closes the connection on a command it does not know. */
		check_add(r, cmd, CHECK_WARN, "UDP then goes as DNS over TCP only (--udp auto); other UDP is refused",
			  "not supported: the proxy closed the connection on the request (as ssh -D does)");
	} else {
		check_add(r, cmd, CHECK_FAIL, NULL, "%s: the proxy closed the connection on the request", h->what);
	}
	return true;
}

/* ---- The host's side (pure). */

void
check_route_report(struct check_report *r, int err, const char *oif, bool oif_is_tun, unsigned mtu, unsigned mark)
{
	char how[32] = "";

	if (mark != 0)
		snprintf(how, sizeof(how), " (mark 0x%x)", mark);
	if (err < 0) {
		check_add(r, "route", CHECK_WARN, NULL, "cannot ask the kernel for the route to the proxy: %s",
			  strerror(-err));
	} else if (oif_is_tun && mark != 0) {
		check_add(r, "route", CHECK_FAIL,
			  "a rule must send marked sockets elsewhere (--auto-route adds one), or --exclude the proxy",
			  "sockets to the proxy%s go through the TUN %s: tun2socks' own connections would loop", how,
			  oif);
	} else if (oif_is_tun) {
		check_add(r, "route", CHECK_WARN,
			  "a tun2socks that owns it needs --fwmark (--auto-route sets 0x7432) so that its own "
			  "connections bypass it",
			  "unmarked sockets to the proxy go through the TUN %s", oif);
	} else {
		check_add(r, "route", CHECK_OK, NULL, "the proxy is reached%s through %s (MTU %u), not a TUN", how, oif,
			  mtu);
	}
}

void
check_tun_report(struct check_report *r, bool dev_present, bool cap_net_admin)
{
	if (!dev_present)
		check_add(r, "tun", CHECK_FAIL, "load the driver: modprobe tun", "no /dev/net/tun");
	else if (!cap_net_admin)
		check_add(r, "tun", CHECK_WARN,
			  "run tun2socks as root (sudo); -- COMMAND also works unprivileged in a user namespace",
			  "no CAP_NET_ADMIN: creating a TUN and the capture need it");
	else
		check_add(r, "tun", CHECK_OK, NULL, "/dev/net/tun is there, and CAP_NET_ADMIN to create a TUN");
}

int
check_kernel_version(const char *release, unsigned *major, unsigned *minor)
{
	return release != NULL && sscanf(release, "%u.%u", major, minor) == 2 ? 0 : -EINVAL;
}

void
check_kernel_report(struct check_report *r, const char *release, long max_userns, int unpriv_clone,
		    bool force_forwarding)
{
	unsigned major, minor;

	if (check_kernel_version(release, &major, &minor) < 0)
		check_add(r, "kernel", CHECK_WARN, NULL, "cannot tell the kernel's version from '%s'",
			  release != NULL ? release : "");
	else if (major > 4 || (major == 4 && minor >= 17))
		check_add(r, "kernel", CHECK_OK, NULL, "Linux %u.%u: policy routing with port ranges (--auto-route)",
			  major, minor);
	else
		check_add(r, "kernel", CHECK_WARN, "upgrade to Linux 4.17 or later",
			  "Linux %u.%u: no policy routing by port range, which --auto-route needs", major, minor);
	if (max_userns < 0 || unpriv_clone < -1)
		check_add(r, "userns", CHECK_WARN, NULL, "cannot tell whether user namespaces are available");
	else if (max_userns == 0 || unpriv_clone == 0)
		check_add(r, "userns", CHECK_WARN,
			  "sysctl user.max_user_namespaces=N, kernel.unprivileged_userns_clone=1; or run as root",
			  "unprivileged user namespaces are off: -- COMMAND needs root");
	else
		check_add(r, "userns", CHECK_OK, NULL, "user namespaces: -- COMMAND works without root");
	if (force_forwarding)
		check_add(r, "forwarding", CHECK_OK, NULL, "net.ipv6.conf.*.force_forwarding: --share-from carries IPv6");
	else
		check_add(r, "forwarding", CHECK_WARN, "needs Linux 6.17", 
			  "no net.ipv6.conf.*.force_forwarding: --share-from carries IPv4 only");
}

bool
check_capeff_has(const char *status, unsigned cap)
{
	const char *p = status != NULL ? strstr(status, "\nCapEff:") : NULL;
	unsigned long long v;

	if (p == NULL || sscanf(p + 8, " %llx", &v) != 1 || cap >= 64)
		return false;
	return (v >> cap) & 1;
}

/* ---- The probes (blocking). */

static double
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static bool
wait_fd(int fd, short events, double deadline)
{
	struct pollfd p = {.fd = fd, .events = events};
	double left;
	int n;

	for (;;) {
		left = deadline - now_ms();
		if (left <= 0)
			return false;
		n = poll(&p, 1, (int)left + 1);
		if (n > 0)
			return true;
		if (n == 0 || errno != EINTR)
			return false;
	}
}

/* Runs one handshake to its end; *fd_out keeps the control connection (>= 0) when it
 * succeeded, for the caller to use and close. */
static void
handshake(const struct socks5_server *server, uint8_t cmd, const struct t2s_endpoint *target, struct check_handshake *h,
	  int *fd_out)
{
	struct socks5_handshake hs;
	enum socks5_handshake_status st = SOCKS5_HANDSHAKE_NEED_WRITE;
	enum socks5_handshake_step before;
	double t0 = now_ms(), t_greet = 0, deadline;
	int fd;

	*fd_out = -1;
	h->cmd = cmd;
	h->credentials = server->user != NULL;
	h->ms_connect = h->ms_greeting = -1;
	h->step = SOCKS5_HANDSHAKE_STEP_CONNECTING;
	socks5_handshake_init(&hs, server, cmd, target);
	fd = sock_connect_nb((const struct sockaddr *)&server->addr, server->addrlen, server->fwmark, &server->hook);
	if (fd < 0) {
		h->err = fd;
		return;
	}
	deadline = t0 + CHECK_TIMEOUT * 1e3;
	while (st == SOCKS5_HANDSHAKE_NEED_WRITE || st == SOCKS5_HANDSHAKE_NEED_READ) {
		if (!wait_fd(fd, st == SOCKS5_HANDSHAKE_NEED_WRITE ? POLLOUT : POLLIN, deadline)) {
			h->timed_out = true;
			h->step = hs.step;
			close(fd);
			return;
		}
		before = hs.step;
		st = st == SOCKS5_HANDSHAKE_NEED_WRITE ? socks5_handshake_on_writable(&hs, fd)
						       : socks5_handshake_on_readable(&hs, fd);
		if (before == SOCKS5_HANDSHAKE_STEP_CONNECTING && hs.step == SOCKS5_HANDSHAKE_STEP_METHOD) {
			t_greet = now_ms();
			h->ms_connect = t_greet - t0;
			deadline = t_greet + CHECK_TIMEOUT * 1e3;
		}
		if (before == SOCKS5_HANDSHAKE_STEP_METHOD && hs.step != before && hs.step != SOCKS5_HANDSHAKE_STEP_DONE) {
			h->ms_greeting = now_ms() - t_greet;
			deadline = now_ms() + CHECK_TIMEOUT * 1e3;
		}
	}
	h->method = hs.method;
	h->failure = hs.failure;
	h->err = hs.err;
	h->rep = hs.rep;
	h->bnd = hs.bnd;
	if (st == SOCKS5_HANDSHAKE_DONE) {
		h->done = true;
		h->step = SOCKS5_HANDSHAKE_STEP_DONE;
		if (h->ms_greeting < 0)
			h->ms_greeting = now_ms() - t_greet;
		*fd_out = fd;
		return;
	}
	h->step = hs.failed_step;
	close(fd);
}

/* A query for example.org's A record: any answer (NOERROR, NXDOMAIN, REFUSED...) proves
 * the path. */
static int
dns_query(uint8_t *buf, size_t cap, uint16_t id)
{
	return dns_msg_build_query(id, "example.org", 1 /* A */, buf, cap);
}

static bool
dns_answer_ok(const uint8_t *buf, size_t len, uint16_t id)
{
	return len >= 12 && buf[0] == (id >> 8) && buf[1] == (id & 0xff) && (buf[2] & 0x80) != 0;
}

/* DNS over UDP through the association whose relay is bnd. */
static void
check_udp_relay(struct check_report *r, const struct socks5_server *server, const struct t2s_endpoint *bnd_in,
		const struct t2s_endpoint *dns)
{
	struct t2s_endpoint bnd = *bnd_in;
	struct sockaddr_storage ss;
	socklen_t sl;
	uint8_t pkt[600], in[1500], frag;
	struct t2s_endpoint from;
	double t0;
	int fd, hl, ql, hdr;
	ssize_t n;

	/* BND.ADDR 0.0.0.0 or :: means "the address you reached me at". */
	if ((bnd.type == T2S_ENDPOINT_IPV4 && memcmp(bnd.u.ipv4, "\0\0\0\0", 4) == 0) ||
	    (bnd.type == T2S_ENDPOINT_IPV6 && memcmp(bnd.u.ipv6, "\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0", 16) == 0)) {
		uint16_t port = bnd.port;

		if (endpoint_from_sockaddr(&bnd, (const struct sockaddr *)&server->addr) < 0)
			return;
		bnd.port = port;
	}
	if (endpoint_to_sockaddr(&bnd, &ss, &sl) < 0) {
		check_add(r, "dns-udp", CHECK_FAIL, "try --udp-relay with the proxy's public address",
			  "the relay's BND.ADDR is not an address we can send to");
		return;
	}
	fd = sock_udp_connected((const struct sockaddr *)&ss, sl, server->fwmark, &server->hook);
	if (fd < 0) {
		check_add(r, "dns-udp", CHECK_FAIL, NULL, "cannot reach the relay: %s", strerror(-fd));
		return;
	}
	hl = socks5_proto_encode_udp_header(pkt, sizeof(pkt), dns);
	ql = hl < 0 ? -1 : dns_query(pkt + hl, sizeof(pkt) - (size_t)hl, 0x7432);
	t0 = now_ms();
	if (ql < 0 || send(fd, pkt, (size_t)(hl + ql), 0) < 0) {
		check_add(r, "dns-udp", CHECK_FAIL, NULL, "cannot send to the relay: %s",
			  strerror(ql < 0 ? -ql : errno));
		close(fd);
		return;
	}
	while (wait_fd(fd, POLLIN, t0 + CHECK_TIMEOUT * 1e3)) {
		n = recv(fd, in, sizeof(in), 0);
		if (n < 0)
			break;
		hdr = socks5_proto_decode_udp_header(in, (size_t)n, &frag, &from);
		if (hdr < 0 || frag != 0 || !dns_answer_ok(in + hdr, (size_t)n - (size_t)hdr, 0x7432))
			continue;
		check_add(r, "dns-udp", CHECK_OK, NULL, "a DNS answer through the UDP relay in %.1f ms",
			  now_ms() - t0);
		close(fd);
		return;
	}
	check_add(r, "dns-udp", CHECK_FAIL,
		  "a proxy behind NAT needs --udp-relay; else its UDP relay does not work (--udp dns-over-tcp)",
		  "no DNS answer through the UDP relay within %g s", CHECK_TIMEOUT);
	close(fd);
}

static void
check_dns_tcp(struct check_report *r, const struct socks5_server *server, const struct t2s_endpoint *dns)
{
	struct check_handshake h = {.what = "CONNECT to the nameserver"};
	uint8_t q[600], in[1500];
	size_t got = 0;
	double t0;
	int fd, ql;
	ssize_t n;

	handshake(server, SOCKS5_CMD_CONNECT, dns, &h, &fd);
	if (fd < 0) {
		check_add(r, "dns-tcp", CHECK_FAIL, NULL, "CONNECT to the nameserver's port 53: %s",
			  h.timed_out ? "no reply" : h.failure == SOCKS5_HANDSHAKE_REJECTED ? socks5_proto_rep_str(h.rep)
											  : "failed");
		return;
	}
	ql = dns_query(q + 2, sizeof(q) - 2, 0x7433);
	q[0] = (uint8_t)(ql >> 8);
	q[1] = (uint8_t)ql;
	t0 = now_ms();
	if (ql < 0 || send(fd, q, (size_t)ql + 2, MSG_NOSIGNAL) != ql + 2) {
		check_add(r, "dns-tcp", CHECK_FAIL, NULL, "cannot send the query");
		close(fd);
		return;
	}
	while (got < sizeof(in) && wait_fd(fd, POLLIN, t0 + CHECK_TIMEOUT * 1e3)) {
		n = recv(fd, in + got, sizeof(in) - got, 0);
		if (n <= 0)
			break;
		got += (size_t)n;
		if (got >= 2 && got >= 2 + (((size_t)in[0] << 8) | in[1]))
			break;
	}
	if (got >= 14 && dns_answer_ok(in + 2, got - 2, 0x7433))
		check_add(r, "dns-tcp", CHECK_OK, NULL, "a DNS answer over TCP through CONNECT in %.1f ms", now_ms() - t0);
	else
		check_add(r, "dns-tcp", CHECK_FAIL, NULL, "no DNS answer over TCP within %g s", CHECK_TIMEOUT);
	close(fd);
}

static int
resolve(const struct t2s_config *cfg, struct socks5_server *server, struct check_report *r)
{
	const struct t2s_endpoint *ep = &cfg->proxy.server;
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_protocol = IPPROTO_TCP}, *res;
	char port[8], text[T2S_ENDPOINT_STRLEN], addr[INET6_ADDRSTRLEN];
	int rc;

	memset(server, 0, sizeof(*server));
	endpoint_format(ep, text, sizeof(text));
	if (ep->type != T2S_ENDPOINT_DOMAIN) {
		if (endpoint_to_sockaddr(ep, &server->addr, &server->addrlen) < 0)
			return -EINVAL;
		check_add(r, "proxy", CHECK_OK, NULL, "%s (an address: nothing to resolve)", text);
	} else {
		snprintf(port, sizeof(port), "%u", ep->port);
		rc = getaddrinfo(ep->u.domain.name, port, &hints, &res);
		if (rc != 0) {
			check_add(r, "proxy", CHECK_FAIL, "check the name, or give the proxy's address",
				  "cannot resolve %s: %s", ep->u.domain.name, gai_strerror(rc));
			return -EHOSTUNREACH;
		}
		memcpy(&server->addr, res->ai_addr, res->ai_addrlen);
		server->addrlen = res->ai_addrlen;
		freeaddrinfo(res);
		getnameinfo((struct sockaddr *)&server->addr, server->addrlen, addr, sizeof(addr), NULL, 0,
			    NI_NUMERICHOST);
		check_add(r, "proxy", CHECK_OK, NULL, "%s resolved to %s", text, addr);
	}
	if (cfg->proxy.has_credentials) {
		server->user = cfg->proxy.user;
		server->pass = cfg->proxy.pass;
	}
	server->fwmark = cfg->fwmark;
	return 0;
}

static bool
is_tun(const char *ifname)
{
	char path[64];

	snprintf(path, sizeof(path), "/sys/class/net/%s/tun_flags", ifname);
	return access(path, F_OK) == 0;
}

static long
read_long(const char *path, long absent)
{
	FILE *f = fopen(path, "re");
	long v;

	if (f == NULL)
		return absent;
	if (fscanf(f, "%ld", &v) != 1)
		v = -2;
	fclose(f);
	return v;
}

/* The kernel's route to the proxy. Returns false when it loops into a TUN (a failure). */
static bool
check_route(struct check_report *r, const struct t2s_config *cfg, const struct socks5_server *server)
{
	struct netlink_prefix dst = {0};
	char oif[IF_NAMESIZE] = "?", path[64];
	struct netlink *nl;
	int err, ifindex = 0;
	unsigned before = r->n;

	if (server->addr.ss_family == AF_INET) {
		dst.family = AF_INET;
		dst.addr.v4 = ((const struct sockaddr_in *)&server->addr)->sin_addr;
	} else {
		dst.family = AF_INET6;
		dst.addr.v6 = ((const struct sockaddr_in6 *)&server->addr)->sin6_addr;
	}
	nl = netlink_open();
	err = nl == NULL ? -errno : netlink_route_get(nl, &dst, cfg->fwmark, &ifindex);
	netlink_close(nl);
	if (err == 0 && if_indextoname((unsigned)ifindex, oif) == NULL)
		snprintf(oif, sizeof(oif), "#%d", ifindex);
	snprintf(path, sizeof(path), "/sys/class/net/%s/mtu", oif);
	check_route_report(r, err, oif, err == 0 && is_tun(oif), (unsigned)read_long(path, 0), cfg->fwmark);
	return r->n == before || r->lines[r->n - 1].level != CHECK_FAIL;
}

/* The TUN driver, our capability, the kernel's features. */
static void
check_system(struct check_report *r)
{
	static char status[4096];
	struct utsname u;
	struct stat st;
	FILE *f;
	size_t n = 0;

	if ((f = fopen("/proc/self/status", "re")) != NULL) {
		n = fread(status, 1, sizeof(status) - 1, f);
		fclose(f);
	}
	status[n] = '\0';
	check_tun_report(r, stat("/dev/net/tun", &st) == 0 && S_ISCHR(st.st_mode),
			 check_capeff_has(status, 12 /* CAP_NET_ADMIN */));
	check_kernel_report(r, uname(&u) == 0 ? u.release : NULL, read_long("/proc/sys/user/max_user_namespaces", -1),
			    (int)read_long("/proc/sys/kernel/unprivileged_userns_clone", -1),
			    access("/proc/sys/net/ipv6/conf/all/force_forwarding", F_OK) == 0);
}

int
check_run(const struct t2s_config *cfg, FILE *out)
{
	static struct check_report r;
	struct socks5_server server;
	struct check_handshake h = {0};
	struct t2s_endpoint any = {.type = T2S_ENDPOINT_IPV4}, dns = {0};
	char target[T2S_ENDPOINT_STRLEN], what[T2S_ENDPOINT_STRLEN + 16];
	bool first = true;
	int fd;

	memset(&r, 0, sizeof(r));
	if (resolve(cfg, &server, &r) < 0 || !check_route(&r, cfg, &server))
		goto host;
	if (cfg->dns_server.family == AF_INET) {
		dns.type = T2S_ENDPOINT_IPV4;
		memcpy(dns.u.ipv4, &cfg->dns_server.addr.v4, 4);
	} else if (cfg->dns_server.family == AF_INET6) {
		dns.type = T2S_ENDPOINT_IPV6;
		memcpy(dns.u.ipv6, &cfg->dns_server.addr.v6, 16);
	}
	dns.port = 53;
	if (cfg->check_target.type != T2S_ENDPOINT_NONE) {
		endpoint_format(&cfg->check_target, target, sizeof(target));
		snprintf(what, sizeof(what), "CONNECT to %s", target);
		h.what = what;
		handshake(&server, SOCKS5_CMD_CONNECT, &cfg->check_target, &h, &fd);
		if (fd >= 0)
			close(fd);
		if (!check_handshake_report(&r, &h, first))
			goto host;
		first = false;
	}
	memset(&h, 0, sizeof(h));
	h.what = "UDP ASSOCIATE";
	handshake(&server, SOCKS5_CMD_UDP_ASSOCIATE, &any, &h, &fd);
	if (!check_handshake_report(&r, &h, first)) {
		if (fd >= 0)
			close(fd);
		goto host;
	}
	if (cfg->check_target.type == T2S_ENDPOINT_NONE)
		check_add(&r, "connect", CHECK_SKIP, "give --check-target HOST:PORT, e.g. example.org:443",
			  "no --check-target");
	if (dns.type == T2S_ENDPOINT_NONE) {
		check_add(&r, "dns", CHECK_SKIP, "give --dns-server ADDR to check DNS over UDP and TCP through the proxy",
			  "no --dns-server");
	} else {
		if (fd >= 0)
			check_udp_relay(&r, &server, &h.bnd, &dns);
		else
			check_add(&r, "dns-udp", CHECK_SKIP, NULL, "no UDP ASSOCIATE to send it through");
		check_dns_tcp(&r, &server, &dns);
	}
	if (fd >= 0)
		close(fd);
host:
	check_system(&r);
	check_print(&r, out, cfg->check_json);
	return check_exit_status(&r);
}
