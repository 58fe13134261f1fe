/* SPDX-License-Identifier: MIT */
/*
 * tun2socks: parse the command line, resolve the proxy, open and configure the TUN and
 * the capture, then run the engine through libtun2socks (tun2socks.h, with the
 * command's side door host_api.h) on the default loop, where the command keeps its own
 * watchers (signals, the child of -- COMMAND); tear down in reverse. The only exit() is
 * here.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <netdb.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <ev.h>

#include "argv_scrub.h"
#include "capture.h"
#include "check.h"
#include "cli.h"
#include "cli_file.h"
#include "config.h"
#include "container_of.h"
#include "control.h"
#include "ctl_cmd.h"
#include "metrics.h"
#include "metrics_addr.h"
#include "host_api.h"
#include "log.h"
#include "netns.h"
#include "privdrop.h"
#include "reload.h"
#include "resolved_link.h"
#include "proxy_url.h"
#include "service.h"
#include "tun.h"


enum {
	EXIT_USAGE = 2,
};

/*
 * `tun2socks check` with several proxies: each one in list order, as if it were the
 * only one, under a header line ("proxy N: URL"; with --json a row of its own,
 * {"check":"upstream","result":"skip","detail":"proxy N: URL",...}). The exit status
 * is the worst.
 */
static int
check_all(const struct t2s_config *cfg, FILE *out)
{
	char url[T2S_ENDPOINT_STRLEN + PROXY_URL_CRED_MAX + 16];
	struct t2s_config *one;
	int status = 0;

	if (cfg->n_backup == 0)
		return check_run(cfg, out);
	one = malloc(sizeof(*one));
	if (one == NULL) {
		fprintf(stderr, "tun2socks: out of memory\n");
		return 1;
	}
	for (unsigned i = 0; i <= cfg->n_backup; i++) {
		int rc;

		*one = *cfg;
		if (i > 0)
			one->proxy = cfg->backup[i - 1];
		one->n_backup = 0;
		proxy_url_format_redacted(&one->proxy, url, sizeof(url));
		if (cfg->check_json) {
			static struct check_report hdr;

			memset(&hdr, 0, sizeof(hdr));
			check_add(&hdr, "upstream", CHECK_SKIP, NULL, "proxy %u: %s", i, url);
			check_print(&hdr, out, true);
		} else {
			fprintf(out, "%sproxy %u: %s\n", i > 0 ? "\n" : "", i, url);
		}
		fflush(out);
		rc = check_run(one, out);
		if (rc > status)
			status = rc;
	}
	explicit_bzero(one, sizeof(*one));
	free(one);
	return status;
}

static int
resolve_proxy(const struct t2s_config *cfg, struct socks5_server *server)
{
	const struct t2s_endpoint *ep = &cfg->proxy.server;
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_protocol = IPPROTO_TCP}, *res;
	char port[8];
	int rc;

	memset(server, 0, sizeof(*server));
	if (ep->type != T2S_ENDPOINT_DOMAIN) {
		if (endpoint_to_sockaddr(ep, &server->addr, &server->addrlen) < 0)
			return -EINVAL;
	} else {
		snprintf(port, sizeof(port), "%u", ep->port);
		rc = getaddrinfo(ep->u.domain.name, port, &hints, &res);
		if (rc != 0) {
			log_error("cannot resolve proxy host %s: %s", ep->u.domain.name, gai_strerror(rc));
			return -EHOSTUNREACH;
		}
		memcpy(&server->addr, res->ai_addr, res->ai_addrlen);
		server->addrlen = res->ai_addrlen;
		freeaddrinfo(res);
	}
	if (cfg->proxy.has_credentials) {
		server->user = cfg->proxy.user;
		server->pass = cfg->proxy.pass;
	}
	server->fwmark = cfg->fwmark;
	return 0;
}

/*
 * Every TCP flow holds one descriptor and every UDP mapping two; the usual soft limit of
 * 1024 would refuse flows long before --max-flows. Raise it to the hard limit, and warn
 * when even that cannot hold --max-flows TCP connections.
 */
static void
raise_fd_limit(const struct t2s_config *cfg)
{
	struct rlimit rl;
	rlim_t want = (rlim_t)cfg->max_flows + 64;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return;
	if (rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		(void)setrlimit(RLIMIT_NOFILE, &rl);
		(void)getrlimit(RLIMIT_NOFILE, &rl);
	}
	if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < want)
		log_warn("open file limit %llu is below what --max-flows %u may need (%llu): flows beyond it "
			 "are refused",
			 (unsigned long long)rl.rlim_cur, cfg->max_flows, (unsigned long long)want);
}

static int
setup_tun(const struct t2s_config *cfg, struct tun_device *tun)
{
	int err;

	if (cfg->tun_fd >= 0) {
		err = tun_adopt_fd(tun, cfg->tun_fd);
		if (err < 0) {
			log_error("--tun-fd %d is not a usable TUN descriptor: %s", cfg->tun_fd, strerror(-err));
			return err;
		}
		/* The owner of the descriptor configured the device; set only what was asked. */
	} else {
		err = tun_open(tun, cfg->tun_name, cfg->offload);
		if (err < 0) {
			log_error("cannot open TUN %s: %s%s", cfg->tun_name, strerror(-err),
				  err == -EPERM || err == -EACCES ? " (needs CAP_NET_ADMIN)" : "");
			return err;
		}
	}
	if (cfg->tun_fd < 0 || cfg->mtu != CONFIG_DEFAULT_MTU) {
		err = tun_set_mtu(tun, cfg->mtu);
		if (err < 0) {
			log_error("cannot set MTU %u on %s: %s", cfg->mtu, tun->name, strerror(-err));
			goto err_close;
		}
	}
	if (cfg->has_address4 && (err = tun_add_address4(tun, &cfg->address4, cfg->prefix4)) < 0) {
		log_error("cannot set the IPv4 address of %s: %s", tun->name, strerror(-err));
		goto err_close;
	}
	if (cfg->has_address6 && (err = tun_add_address6(tun, &cfg->address6, cfg->prefix6)) < 0) {
		log_error("cannot set the IPv6 address of %s: %s", tun->name, strerror(-err));
		goto err_close;
	}
	if (cfg->tun_fd < 0 && (err = tun_set_txqueuelen(tun, CONFIG_TUN_TXQUEUELEN)) < 0)
		log_warn("cannot raise the transmit queue of %s: %s", tun->name, strerror(-err));
	err = tun_set_up(tun);
	if (err < 0) {
		log_error("cannot bring %s up: %s", tun->name, strerror(-err));
		goto err_close;
	}
	return 0;

err_close:
	tun_close(tun);
	return err;
}

/* Everything a run changes outside its own process, and what undoes it. */
struct host_setup {
	struct capture *capture;
	struct resolved_link *resolved; /* --auto-route where systemd-resolved runs: the TUN's link */
	int netns_fd;             /* --netns: the namespace the capture lives in, else -1 */
	struct netns_cmd *cmd;    /* -- COMMAND */
	ev_child child;
	const struct privdrop_login *cmd_login; /* -- COMMAND run by root: as this user; NULL: as us */
	char **cmd_env;           /* ... with this environment */
	int sigfd;                /* -- COMMAND: SIGINT, SIGTERM and SIGHUP, with their sender */
	ev_io sig_io;
	ev_signal sigint, sigterm, sighup; /* otherwise: each one stops */
	ev_signal sigusr1;        /* the stats line */
	struct ev_loop *loop;
	struct t2s_engine *engine;
	struct t2s_config *cfg;   /* a reload changes its --exclude (reload.c) */
	const struct privdrop_target *run_as; /* --user, else NULL */
	long record_owner;        /* --user: the capture's state record is left removable by it */
	bool cmd_running;         /* netns_cmd_go was called: the command is no longer ours to reap */
	bool start_failed;        /* a start hook failed, and said why */
	struct service *svc;      /* systemd's notifications (does nothing when not under it) */
	int exit_status;
	struct reload *reload;    /* --config: SIGHUP reloads (reload.h) */
	uid_t allowed[2];         /* who may own a config file with a password (cli_file_check) */
	char tun_name[IFNAMSIZ];  /* the capture's TUN, for a reload */
	struct cgroup_path_id cgroups[CAPTURE_MAX_CGROUPS]; /* --cgroup/--exclude-cgroup, resolved at start */
	unsigned n_cgroups;
	struct control *control;  /* the control socket (control.h) */
	struct metrics *metrics;  /* --metrics (metrics.h) */
};

/* The capture modes give the TUN addresses of their own unless the user chose some. */
static void
default_capture_addresses(struct t2s_config *cfg)
{
	if (!cfg->auto_route && cfg->netns == NULL && cfg->command == NULL)
		return;
	if (!cfg->has_address4) {
		inet_pton(AF_INET, CONFIG_CAPTURE_ADDR4, &cfg->address4);
		cfg->prefix4 = 32;
		cfg->has_address4 = true;
	}
	if (!cfg->has_address6 && capture_have_ipv6()) {
		inet_pton(AF_INET6, CONFIG_CAPTURE_ADDR6, &cfg->address6);
		cfg->prefix6 = 128;
		cfg->has_address6 = true;
	}
}

/* --cgroup/--exclude-cgroup paths as ids into hs; -errno, logged here, when one is not there. */
static int
resolve_cgroups(const struct t2s_config *cfg, struct host_setup *hs)
{
	static const char not_below[] = "not a cgroup below the root of the cgroup2 hierarchy (a path relative "
					"to it, like system.slice/foo.service, or absolute under its mount)";
	static const char no_mount[] = "no cgroup2 hierarchy is mounted in this mount namespace (`ip netns exec` "
				       "mounts a sysfs over /sys: enter the namespace with nsenter --net)";
	const char *opt = cfg->cgroup_select == CAPTURE_SELECT_CGROUP ? "--cgroup" : "--exclude-cgroup";

	for (hs->n_cgroups = 0; hs->n_cgroups < cfg->n_cgroups; hs->n_cgroups++) {
		const char *path = cfg->cgroups[hs->n_cgroups];
		int err = cgroup_path_resolve(path, &hs->cgroups[hs->n_cgroups]);

		if (err < 0) {
			log_error("%s %s: %s", opt, path,
				  err == -EINVAL   ? not_below
				  : err == -ENOENT ? "no such cgroup"
				  : err == -ENODEV ? no_mount
						   : strerror(-err));
			return err;
		}
	}
	return 0;
}

static struct capture *
start_capture(const struct t2s_config *cfg, const char *tun, bool whole_host, uint32_t fwmark,
	      struct host_setup *hs)
{
	long record_owner = hs->record_owner;
	struct capture_params p = {
		.tun = tun,
		.whole_host = whole_host,
		.kill_switch = cfg->kill_switch,
		.fwmark = fwmark,
		.share_from = cfg->share_from[0] != '\0' ? cfg->share_from : NULL,
		.exclude = cfg->exclude,
		.n_exclude = cfg->n_exclude,
		.exclude_dns = cfg->exclude_dns,
		.ipv6 = capture_have_ipv6(),
		.owner_uid = record_owner,
		.select = cfg->n_cgroups > 0 ? (enum capture_select)cfg->cgroup_select
					     : (enum capture_select)cfg->uid_select,
		.uids = cfg->uids,
		.n_uids = cfg->n_uids,
		.cgroups = hs->cgroups,
		.n_cgroups = cfg->n_cgroups,
	};
	struct capture *c;
	int err;

	if (whole_host && cfg->n_cgroups > 0 && (err = resolve_cgroups(cfg, hs)) < 0) {
		errno = -err;
		return NULL;
	}

	if (p.share_from != NULL && if_nametoindex(p.share_from) == 0) {
		log_error("--share-from %s: no such interface", p.share_from);
		return NULL;
	}
	/* A failure is logged by capture_start, where the failing step is known. */
	c = capture_start(&p);
	if (c != NULL && whole_host && p.n_cgroups > 0) {
		const char *how = p.select == CAPTURE_SELECT_CGROUP ? "capturing only" : "not capturing";

		for (unsigned i = 0; i < p.n_cgroups; i++)
			log_info("%s the processes of cgroup %s (id %llu, level %u)", how, cfg->cgroups[i],
				 (unsigned long long)hs->cgroups[i].id, hs->cgroups[i].level);
	} else if (c != NULL && whole_host && p.select != CAPTURE_SELECT_ALL) {
		char who[32 * CONFIG_MAX_UID_RANGES] = "";
		size_t len = 0;

		for (unsigned i = 0; i < p.n_uids && len < sizeof(who); i++)
			len += (size_t)snprintf(who + len, sizeof(who) - len, "%s%u-%u", i > 0 ? ", " : "",
						(unsigned)p.uids[i].start, (unsigned)p.uids[i].end);
		log_info("capturing the traffic of %s uid %s through %s",
			 p.select == CAPTURE_SELECT_UID ? "only" : "every user but", who, tun);
	}
	if (c != NULL && !(whole_host && p.select != CAPTURE_SELECT_ALL))
		log_info("capturing %s%s%s%s through %s", whole_host ? "all traffic" : "",
			 whole_host && p.share_from != NULL ? " and " : "",
			 p.share_from != NULL ? "traffic forwarded from " : "", p.share_from != NULL ? p.share_from : "",
			 tun);
	return c;
}

/*
 * --auto-route where systemd-resolved runs: it would ask the other links' servers (the
 * LAN's), captured or refused but rarely reachable from the proxy; so the TUN's link gets
 * a server and "~.", and its lookups go through the TUN to that one. With the stub as
 * that server, tun2socks answers it (dns_stub.h). Not fatal: the capture stands without.
 */
static void
start_resolved(struct t2s_config *cfg, const char *tun, struct host_setup *hs)
{
	struct resolved_link_plan plan;
	struct in_addr stub4;
	char text[128], msg[512]; /* a bus error names the whole message */
	int rc;

	inet_pton(AF_INET, CONFIG_DNS_STUB_ADDR4, &stub4);
	if (resolved_link_plan_build(&cfg->dns_server, &stub4, (int)if_nametoindex(tun), &plan) < 0)
		return;
	rc = resolved_link_start(&plan, &hs->resolved, msg, sizeof(msg));
	if (rc == 0) {
		log_debug("systemd-resolved: %s: not told about %s", msg, tun);
		return;
	}
	if (rc < 0) {
		log_warn("systemd-resolved: %s: its lookups go to other links' servers, captured or refused (names may "
			 "not resolve); see --resolved in tun2socks(8)",
			 msg);
		return;
	}
	if (plan.stub) {
		cfg->dns_stub = true;
		cfg->dns_stub4 = stub4;
	}
	(void)resolved_link_plan_format(&plan, text, sizeof(text));
	log_info("systemd-resolved: link %s: %s (lookups go through the TUN%s)", tun, text,
		 !plan.stub ? ""
		 : cfg->dns_mode == CONFIG_DNS_FAKE_IP ? ", answered from the fake-IP pool"
						     : "; REFUSED without --dns-server or --dns fake-ip");
}

static void
stop_resolved(struct host_setup *hs)
{
	char msg[256];

	if (hs->resolved == NULL)
		return;
	if (resolved_link_stop(hs->resolved, msg, sizeof(msg)) < 0)
		log_warn("systemd-resolved: %s: the TUN's link keeps its DNS settings while it exists", msg);
	else
		log_info("systemd-resolved: the TUN's link settings reverted");
	hs->resolved = NULL;
}

/* Runs in the command's child, inside its new namespaces. */
static int
command_ns_setup(void *arg)
{
	const struct t2s_config *cfg = arg;
	struct tun_device tun;
	int err;

	if ((err = setup_tun(cfg, &tun)) < 0)
		return err;
	err = capture_private_ns(tun.name, cfg->has_address6);
	if (err < 0) {
		log_error("cannot route the command's namespace into %s: %s", tun.name, strerror(-err));
		tun_close(&tun);
		return err;
	}
	return tun.fd;
}

static const char *
command_resolv_conf(struct t2s_config *cfg, char *out, size_t len)
{
	static char host[8192];
	struct netlink_prefix stub = {.family = AF_INET, .len = 32};
	FILE *fp = fopen("/etc/resolv.conf", "re");
	size_t n = 0;
	int rc;

	if (fp != NULL) {
		n = fread(host, 1, sizeof(host) - 1, fp);
		fclose(fp);
	}
	host[n] = '\0';
	inet_pton(AF_INET, CONFIG_DNS_STUB_ADDR4, &stub.addr.v4);
	rc = capture_resolv_conf(host, &cfg->dns_server, &stub, out, len);
	if (rc == CAPTURE_RESOLV_STUB) {
		cfg->dns_stub = true;
		cfg->dns_stub4 = stub.addr.v4;
		log_info("the host's nameservers are on loopback: the command's is %s, answered by tun2socks (%s)",
			 CONFIG_DNS_STUB_ADDR4,
			 cfg->dns_mode == CONFIG_DNS_FAKE_IP ? "from the fake-IP pool"
							     : "REFUSED: no nameserver the proxy reaches is known");
	} else if (rc < 0) {
		log_warn("cannot write the command's resolv.conf: %s; it sees the host's", strerror(-rc));
	}
	return rc == CAPTURE_RESOLV_OWN || rc == CAPTURE_RESOLV_STUB ? out : NULL;
}

static int
open_tun(struct t2s_config *cfg, struct tun_device *tun, struct host_setup *hs)
{
	static char resolv[8192];
	int saved, err, fd;

	if (cfg->command != NULL) {
		struct netns_cmd_params p = {
			.argv = cfg->command,
			.resolv_conf = command_resolv_conf(cfg, resolv, sizeof(resolv)),
			.setup = command_ns_setup,
			.setup_arg = cfg,
		};

		if (hs->cmd_login != NULL) {
			p.run_as = &hs->cmd_login->id;
			p.envp = hs->cmd_env;
			p.home = hs->cmd_login->home;
		}

		hs->cmd = netns_cmd_spawn(&p, &fd);
		if (hs->cmd == NULL)
			return -errno;
		err = tun_adopt_fd(tun, fd);
		if (err < 0) {
			close(fd);
			log_error("the command's TUN is not usable: %s", strerror(-err));
		}
		return err;
	}
	if (cfg->netns != NULL) {
		hs->netns_fd = netns_open(cfg->netns);
		if (hs->netns_fd < 0) {
			log_error("--netns %s: %s", cfg->netns, strerror(-hs->netns_fd));
			return hs->netns_fd;
		}
		if ((err = netns_enter(hs->netns_fd, &saved)) < 0) {
			log_error("cannot enter the network namespace %s: %s", cfg->netns, strerror(-err));
			return err;
		}
		/* The TUN and its routes live there; our proxy sockets, opened later, stay here. */
		err = setup_tun(cfg, tun);
		if (err == 0) {
			hs->capture = start_capture(cfg, tun->name, true, 0, hs);
			if (hs->capture == NULL) {
				err = -errno;
				tun_close(tun);
			}
		}
		if (netns_return(saved) < 0) {
			/* Proxy sockets opened in there would loop into the TUN: give up. */
			log_error("cannot return to our own network namespace: %s", strerror(errno));
			return -EINVAL;
		}
		return err;
	}
	if ((err = setup_tun(cfg, tun)) < 0)
		return err;
	if (cfg->auto_route || cfg->share_from[0] != '\0') {
		hs->capture = start_capture(cfg, tun->name, cfg->auto_route, cfg->fwmark, hs);
		if (hs->capture == NULL) {
			err = -errno;
			tun_close(tun);
			return err;
		}
	}
	if (cfg->auto_route && !cfg->resolved_off)
		start_resolved(cfg, tun->name, hs);
	return 0;
}

static void
stop_capture(struct host_setup *hs)
{
	int saved;

	stop_resolved(hs);
	if (hs->capture == NULL)
		return;
	if (hs->netns_fd >= 0) {
		if (netns_enter(hs->netns_fd, &saved) < 0) {
			log_warn("cannot enter the namespace again to remove the capture: run tun2socks down --netns");
			return;
		}
		capture_stop(hs->capture);
		if (netns_return(saved) < 0)
			log_warn("cannot return to our own network namespace");
	} else {
		capture_stop(hs->capture);
	}
	hs->capture = NULL;
}

static void
command_child_cb(struct ev_loop *loop, ev_child *w, int revents)
{
	struct host_setup *hs = container_of(w, struct host_setup, child);

	(void)revents;
	ev_child_stop(loop, w);
	hs->exit_status = netns_exit_status(w->rstatus);
	log_info("command exited with status %d", hs->exit_status);
	t2s_engine_stop(hs->engine);
}

/*
 * The command decides when we stop: signals go to it, and its exit ends the loop. They
 * are read from a signalfd, which says who sent each: Ctrl-C from the terminal reached
 * the command already when it shares our process group, and is not sent twice.
 */
static void
command_sigfd_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct host_setup *hs = container_of(w, struct host_setup, sig_io);
	pid_t pid = netns_cmd_pid(hs->cmd);
	struct signalfd_siginfo si;

	(void)loop;
	(void)revents;
	while (read(hs->sigfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		bool fwd = netns_cmd_forward((int)si.ssi_signo, si.ssi_code, (pid_t)si.ssi_pid, pid, getpgid(pid),
					     getpgrp(), getsid(0) == getpid());

		log_debug("signal %u from %s%u: %s", si.ssi_signo, si.ssi_code == SI_KERNEL ? "the terminal, pid " : "pid ",
			  si.ssi_pid, fwd ? "passed on to the command" : "the command has it already");
		/* Once reaped (the loop is ending), its PID may be anybody's. */
		if (fwd && ev_is_active(&hs->child))
			kill(pid, (int)si.ssi_signo);
	}
}

static void
command_signals(sigset_t *set)
{
	sigemptyset(set);
	sigaddset(set, SIGINT);
	sigaddset(set, SIGTERM);
	sigaddset(set, SIGHUP);
}

static int
command_watch(struct ev_loop *loop, struct host_setup *hs)
{
	sigset_t set;

	/* Blocked since before the command was forked (main), so none is lost. */
	command_signals(&set);
	hs->sigfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
	if (hs->sigfd < 0) {
		log_error("cannot watch signals for the command: %s", strerror(errno));
		return -errno;
	}
	ev_io_init(&hs->sig_io, command_sigfd_cb, hs->sigfd, EV_READ);
	ev_io_start(loop, &hs->sig_io);
	ev_child_init(&hs->child, command_child_cb, netns_cmd_pid(hs->cmd), 0);
	ev_child_start(loop, &hs->child);
	return 0;
}

static void
command_unwatch(struct ev_loop *loop, struct host_setup *hs)
{
	ev_child_stop(loop, &hs->child);
	if (hs->sigfd >= 0) {
		ev_io_stop(loop, &hs->sig_io);
		close(hs->sigfd);
		hs->sigfd = -1;
	}
}

/*
 * Out of the loop's hands from here on: blocked first, since stopping the last watcher
 * of a signal restores its default action, which would end the process before the
 * teardown (routes, kill switch) that follows the loop.
 */
static void
signals_release(struct ev_loop *loop, struct host_setup *hs)
{
	sigset_t set;

	command_signals(&set);
	sigaddset(&set, SIGUSR1);
	sigprocmask(SIG_BLOCK, &set, NULL);
	ev_signal_stop(loop, &hs->sigint);
	ev_signal_stop(loop, &hs->sigterm);
	ev_signal_stop(loop, &hs->sighup);
	if (ev_is_active(&hs->sigusr1)) {
		ev_ref(loop);
		ev_signal_stop(loop, &hs->sigusr1);
	}
}

/*
 * Reload hooks, for the service manager: host_reload_begin runs before a reload is
 * read, host_reload_end once it is over (err 0: applied; else the running
 * configuration stays and why says why): systemd hears RELOADING=1, then READY=1 with
 * a STATUS= (the proxy's state, probed again, or why the reload failed).
 */
static void
host_reload_begin(struct host_setup *hs)
{
	service_reloading(hs->svc);
}

static void
host_reload_end(struct host_setup *hs, int err, const char *why)
{
	char name[T2S_ENDPOINT_STRLEN], status[320];
	const struct socks5_server *proxy;

	if (err < 0) {
		snprintf(status, sizeof(status), "reload failed (%s): the running configuration stays",
			 why != NULL ? why : strerror(-err));
		service_reloaded(hs->svc, status);
		return;
	}
	if (hs->resolved != NULL && resolved_link_update(hs->resolved, status, sizeof(status)) < 0)
		log_warn("reload: systemd-resolved: %s: the TUN's link may have lost its DNS settings", status);
	proxy = t2s_engine_proxy(hs->engine, name, sizeof(name));
	service_set_proxy(hs->svc, proxy, name);
	service_reloaded(hs->svc, NULL);
}

static void
reload_done_cb(void *arg, int err, const char *why)
{
	host_reload_end(arg, err, why);
}

/* SIGHUP with --config: the file and the command line again, as at start. */
static void
reload_signal_cb(struct ev_loop *loop, ev_signal *w, int revents)
{
	struct host_setup *hs = w->data;
	const struct reload_host host = {
		.engine = hs->engine,
		.cfg = hs->cfg,
		.capture = hs->capture,
		.netns_fd = hs->netns_fd,
		.tun = hs->tun_name,
		.record_owner = hs->record_owner,
		.cgroups = hs->cgroups,
		.n_cgroups = hs->n_cgroups,
		.allowed = {hs->allowed[0], hs->allowed[1]},
		.prepare = default_capture_addresses,
	};

	(void)loop;
	(void)revents;
	if (reload_busy(hs->reload)) {
		log_warn("SIGHUP: a reload is under way already; send it again once it is done");
		return;
	}
	log_info("SIGHUP received: reloading %s", hs->cfg->config_file);
	host_reload_begin(hs);
	(void)reload_start(hs->reload, &host, reload_done_cb, hs);
}

/* SIGHUP too: the terminal or SSH session went away (without --config, there is no
 * configuration to reload). */
static void
stop_signal_cb(struct ev_loop *loop, ev_signal *w, int revents)
{
	struct host_setup *hs = w->data;

	(void)revents;
	log_info("%s received, shutting down",
		 w->signum == SIGINT ? "SIGINT" : w->signum == SIGHUP ? "SIGHUP" : "SIGTERM");
	service_stopping(hs->svc);
	signals_release(loop, hs);
	t2s_engine_stop(hs->engine);
}

static void
stats_signal_cb(struct ev_loop *loop, ev_signal *w, int revents)
{
	struct host_setup *hs = w->data;

	(void)loop;
	(void)revents;
	t2s_engine_log_stats(hs->engine);
}

/* SIGUSR1 always; SIGINT, SIGTERM and SIGHUP unless a command has them (command_watch). */
static void
signals_start(struct ev_loop *loop, struct host_setup *hs, bool stop_too)
{
	ev_signal_init(&hs->sigusr1, stats_signal_cb, SIGUSR1);
	hs->sigusr1.data = hs;
	ev_signal_start(loop, &hs->sigusr1);
	ev_unref(loop); /* a stats request is no reason to keep running */
	if (!stop_too)
		return;
	ev_signal_init(&hs->sigint, stop_signal_cb, SIGINT);
	ev_signal_init(&hs->sigterm, stop_signal_cb, SIGTERM);
	ev_signal_init(&hs->sighup, hs->reload != NULL ? reload_signal_cb : stop_signal_cb, SIGHUP);
	hs->sigint.data = hs->sigterm.data = hs->sighup.data = hs;
	ev_signal_start(loop, &hs->sigint);
	ev_signal_start(loop, &hs->sigterm);
	ev_signal_start(loop, &hs->sighup);
}

/*
 * Closes our end of the command. When we give up before it could run, it exits once
 * our end closes, and is reaped here; once running, its exit was reaped by ev_child
 * (or it outlives us, as before).
 */
static void
command_end(struct host_setup *hs)
{
	pid_t pid;
	int status;

	if (hs->cmd == NULL)
		return;
	pid = netns_cmd_pid(hs->cmd);
	netns_cmd_free(hs->cmd);
	hs->cmd = NULL;
	if (hs->cmd_running)
		return;
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
}

/*
 * -- COMMAND started by root: the user it runs as (--user, or the one who ran sudo)
 * and a login's environment for it. Returns 1 (hs->cmd_login set), 0 (it runs as we
 * do: not root, not via sudo, or that user is root) or -errno (logged).
 */
static int
command_identity(const struct t2s_config *cfg, struct host_setup *hs, struct privdrop_login *login)
{
	struct privdrop_who who;
	char msg[256];
	size_t n = 0;
	int err;

	if (cfg->command == NULL || geteuid() != 0 ||
	    !privdrop_command_user(cfg->user, getuid(), getenv("SUDO_USER"), getenv("SUDO_UID"), getenv("SUDO_GID"),
				   &who))
		return 0;
	err = privdrop_login_resolve(&who, cfg->user != NULL ? cfg->group : NULL, login, msg, sizeof(msg));
	if (err < 0) {
		log_error("cannot run the command as %s: %s", who.name, msg);
		return err;
	}
	if (login->id.uid == 0)
		return 0;
	while (environ[n] != NULL)
		n++;
	hs->cmd_env = calloc(n + 5, sizeof(*hs->cmd_env));
	if (hs->cmd_env == NULL || privdrop_login_env(environ, login, hs->cmd_env, n + 5) < 0) {
		log_error("cannot build the command's environment");
		return -ENOMEM;
	}
	hs->cmd_login = login;
	log_info("the command runs as %s (uid %u, gid %u, %zu groups), without capabilities", login->vars[2] + 5,
		 (unsigned)login->id.uid, (unsigned)login->id.gid, login->id.ngroups);
	return 1;
}

/*
 * capture_down's hook: a dead run's persistent TUN still has resolved's settings
 * (start_resolved): revert them.
 */
static void
down_resolved(const char *tun, void *arg)
{
	int ifindex = (int)if_nametoindex(tun);
	char msg[256];
	int rc;

	(void)arg;
	if (ifindex <= 0)
		return; /* the TUN went, and resolved forgot it */
	rc = resolved_link_revert(ifindex, msg, sizeof(msg));
	if (rc > 0)
		log_info("down: systemd-resolved: %s's link settings reverted", tun);
	else if (rc < 0)
		log_warn("down: systemd-resolved: %s: run resolvectl revert %s", msg, tun);
}

static int
run_down(const struct t2s_config *cfg)
{
	int fd, saved = -1, n;

	if (cfg->netns != NULL) {
		fd = netns_open(cfg->netns);
		if (fd < 0 || (n = netns_enter(fd, &saved)) < 0) {
			log_error("--netns %s: %s", cfg->netns, strerror(fd < 0 ? -fd : -n));
			return EXIT_FAILURE;
		}
		close(fd);
	}
	n = capture_down(cfg->tun_named ? cfg->tun_name : NULL, down_resolved, NULL);
	if (n >= 0)
		n += control_remove_stale(cfg->tun_named ? cfg->tun_name : NULL);
	if (saved >= 0)
		(void)netns_return(saved);
	if (n < 0) {
		log_error("down: %s%s", strerror(-n), n == -EPERM || n == -EACCES ? " (needs CAP_NET_ADMIN)" : "");
		return EXIT_FAILURE;
	}
	if (n == 0)
		log_info("down: nothing to lift");
	return EXIT_SUCCESS;
}

/*
 * Everything that needs root is done (TUN open and configured, capture set up, file
 * limit raised). SO_MARK on each new proxy socket still needs CAP_NET_ADMIN, and so does
 * removing the capture's routes, rules and sysctls at exit: those keep it.
 */
static int
drop_privileges(const struct t2s_config *cfg, const struct privdrop_target *run_as, bool capturing)
{
	unsigned keep = cfg->fwmark != 0 || capturing ? PRIVDROP_KEEP_NET_ADMIN : 0;
	int err = privdrop_apply(run_as, keep);

	if (err < 0) {
		log_error("cannot drop privileges to --user %s: %s", cfg->user, strerror(-err));
		return err;
	}
	log_info("running as uid %u gid %u%s", (unsigned)run_as->uid, (unsigned)run_as->gid,
		 keep != 0 ? " with CAP_NET_ADMIN (for --fwmark and the capture teardown)" : " without capabilities");
	return 0;
}

/* The inode of the network namespace the TUN lives in (0 when unknown). */
static unsigned long
tun_netns(const struct host_setup *hs)
{
	char path[64];
	struct stat st;

	if (hs->netns_fd >= 0)
		return fstat(hs->netns_fd, &st) == 0 ? (unsigned long)st.st_ino : 0;
	if (hs->cmd != NULL)
		snprintf(path, sizeof(path), "/proc/%ld/ns/net", (long)netns_cmd_pid(hs->cmd));
	else
		snprintf(path, sizeof(path), "/proc/self/ns/net");
	return stat(path, &st) == 0 ? (unsigned long)st.st_ino : 0;
}

/*
 * The control socket, while we may still write /run/tun2socks. A path of our own
 * choosing that cannot be had is a warning; --control's is an error.
 */
static int
start_control(struct host_setup *hs)
{
	const struct t2s_config *cfg = hs->cfg;
	struct control_params p = {.gid = hs->run_as != NULL ? hs->run_as->gid : (gid_t)-1, .netns = tun_netns(hs)};
	struct t2s_engine_status st;
	char path[108], capture[80];
	int err;

	if (t2s_engine_status(hs->engine, &st) < 0)
		return 0;
	if (cfg->control != NULL)
		snprintf(path, sizeof(path), "%s", cfg->control);
	else if (control_default_path(p.netns, st.tun, path, sizeof(path)) < 0)
		return 0;
	if (cfg->command != NULL)
		snprintf(capture, sizeof(capture), "command");
	else if (cfg->netns != NULL)
		snprintf(capture, sizeof(capture), "netns %s", cfg->netns);
	else if (cfg->auto_route)
		snprintf(capture, sizeof(capture), "auto-route%s%s", cfg->share_from[0] != '\0' ? " share-from " : "",
			 cfg->share_from);
	else if (cfg->share_from[0] != '\0')
		snprintf(capture, sizeof(capture), "share-from %s", cfg->share_from);
	else
		snprintf(capture, sizeof(capture), "none");
	p.path = path;
	p.capture = capture;
	err = control_start(hs->loop, hs->engine, &p, &hs->control);
	if (err < 0 && cfg->control != NULL) {
		log_error("--control %s: %s", path, strerror(-err));
		return err;
	}
	if (err < 0)
		log_warn("no control socket at %s: %s%s", path, strerror(-err),
			 err == -EADDRINUSE ? " (another tun2socks answers there)" : "");
	else
		log_info("control socket: %s", path);
	return 0;
}

/* --metrics, bound before privileges go (a port below 1024 needs root). */
static int
start_metrics(struct host_setup *hs)
{
	struct sockaddr_storage addr;
	int err;

	if (hs->cfg->metrics == NULL)
		return 0;
	if (metrics_addr_parse(hs->cfg->metrics, &addr) < 0)
		return -EINVAL; /* cli_parse checked it */
	err = metrics_start(hs->loop, hs->engine, &addr, &hs->metrics);
	if (err < 0) {
		log_error("--metrics %s: %s", hs->cfg->metrics, strerror(-err));
		return err;
	}
	log_info("metrics: http://%s%s/metrics", strchr(hs->cfg->metrics, ':') != NULL ? "" : "127.0.0.1:",
		 hs->cfg->metrics);
	return 0;
}

/*
 * The engine is built on the TUN and about to run: drop privileges, take the signals
 * (or the command's), let the command go. What arrived meanwhile is handled now.
 */
static int
host_started(void *arg, struct t2s_engine *engine)
{
	struct host_setup *hs = arg;
	sigset_t sigs;
	int err;

	hs->engine = engine;
	if ((err = start_control(hs)) < 0 || (err = start_metrics(hs)) < 0)
		goto err_failed;
	if (hs->run_as != NULL && (err = drop_privileges(hs->cfg, hs->run_as, hs->capture != NULL)) < 0)
		goto err_failed;
	signals_start(hs->loop, hs, hs->cmd == NULL);
	if (hs->cmd != NULL) {
		if ((err = command_watch(hs->loop, hs)) < 0)
			goto err_failed;
		if (netns_cmd_go(hs->cmd) < 0)
			log_warn("the command did not wait for us: %s", strerror(errno));
		hs->cmd_running = true;
	} else {
		command_signals(&sigs);
		sigprocmask(SIG_UNBLOCK, &sigs, NULL);
	}
	service_tun_up(hs->svc);
	return 0;

err_failed:
	hs->start_failed = true;
	return err;
}

/* Every flow was reset: the capture goes first, so nothing new enters the TUN while
 * they close. */
static void
host_stopping(void *arg, struct t2s_engine *engine)
{
	struct host_setup *hs = arg;

	(void)engine;
	service_stopping(hs->svc);
	signals_release(hs->loop, hs);
	control_stop(hs->control);
	hs->control = NULL;
	metrics_stop(hs->metrics);
	hs->metrics = NULL;
	stop_capture(hs);
}

/* stderr is the journal: <N> priorities instead of timestamps (log.h). */
static void
log_to_journal(void)
{
	struct stat st;

	if (fstat(STDERR_FILENO, &st) == 0 &&
	    log_journal_stream_matches(getenv("JOURNAL_STREAM"), (unsigned long long)st.st_dev,
				       (unsigned long long)st.st_ino))
		log_set_journal(true);
}

/* Under systemd (Type=notify): READY=1, STATUS=, STOPPING=1, WATCHDOG=1 (service.h). */
static int
start_service(const struct t2s_config *cfg, struct ev_loop *loop, const struct socks5_server *proxy,
	      struct host_setup *hs)
{
	struct service_params p = {
		.loop = loop,
		.notify_socket = getenv("NOTIFY_SOCKET"),
		.watchdog_usec = getenv("WATCHDOG_USEC"),
		.watchdog_pid = getenv("WATCHDOG_PID"),
		.proxy = proxy,
		.ready_timeout = cfg->ready_timeout,
	};
	char name[T2S_ENDPOINT_STRLEN];

	endpoint_format(&cfg->proxy.server, name, sizeof(name));
	p.proxy_name = name;
	hs->svc = service_new(&p);
	if (hs->svc == NULL) {
		log_error("cannot talk to systemd ($NOTIFY_SOCKET %s): %s", p.notify_socket, strerror(errno));
		return -1;
	}
	/* The notification socket is ours alone: a command must not send READY=1 for us. */
	(void)argv_scrub_env("NOTIFY_SOCKET");
	return 0;
}

int
main(int argc, char **argv)
{
	static struct t2s_config cfg;
	static struct privdrop_login cmd_login;
	struct socks5_server proxy;
	struct tun_device tun;
	static struct host_setup hs = {.netns_fd = -1, .sigfd = -1, .record_owner = -1, .exit_status = EXIT_SUCCESS};
	const struct t2s_host_hooks hooks = {.started = host_started, .stopping = host_stopping, .arg = &hs};
	sigset_t sigs;
	struct ev_loop *loop;
	struct t2s_conf *conf;
	struct t2s_engine *engine = NULL;
	static struct privdrop_target run_as;
	static struct cli_file file;
	char msg[256];
	int rc, status = EXIT_FAILURE;

	if (argc >= 2 && ctl_cmd_is(argv[1]))
		return ctl_cmd_main(argc - 1, argv + 1);
	config_defaults(&cfg);
	rc = cli_file_load(argc, argv, &cfg, &file, msg, sizeof(msg));
	if (rc < 0) {
		fprintf(stderr, "tun2socks: %s\nTry 'tun2socks --help' for more information.\n", msg);
		return EXIT_USAGE;
	}
	if (rc == CLI_HELP) {
		fputs(cli_usage, stdout);
		return EXIT_SUCCESS;
	}
	if (rc == CLI_VERSION) {
		printf("tun2socks %s (lwIP 2.2.1)\n", T2S_VERSION);
		return EXIT_SUCCESS;
	}
	if (rc == CLI_DOWN) {
		log_set_level(cfg.log_level);
		return run_down(&cfg);
	}
	/* Before argv is scrubbed and the environment's credentials go. */
	if (cfg.config_file != NULL && cfg.command == NULL && (hs.reload = reload_new(argc, argv)) == NULL) {
		fprintf(stderr, "tun2socks: %s\n", strerror(ENOMEM));
		return EXIT_FAILURE;
	}
	(void)argv_scrub_passwords(argc, argv);
	if (cli_file_credentials(&cfg, msg, sizeof(msg)) < 0) {
		fprintf(stderr, "tun2socks: %s\n", msg);
		return EXIT_USAGE;
	}
	if (rc == CLI_CHECK) {
		log_set_level(cfg.log_level);
		status = check_all(&cfg, stdout);
		goto err_free_env;
	}
	if (cfg.user != NULL && privdrop_resolve(cfg.user, cfg.group, &run_as, msg, sizeof(msg)) < 0) {
		fprintf(stderr, "tun2socks: %s\n", msg);
		return EXIT_USAGE;
	}
	hs.allowed[0] = geteuid();
	hs.allowed[1] = cfg.user != NULL ? run_as.uid : hs.allowed[0];
	if (cli_file_check(&file, hs.allowed, 2, msg, sizeof(msg)) < 0) {
		fprintf(stderr, "tun2socks: %s\n", msg);
		return EXIT_USAGE;
	}
	if (cfg.print_config) {
		cli_file_print(stdout, &cfg);
		return EXIT_SUCCESS;
	}
	if (cfg.user != NULL && run_as.uid != 0)
		hs.record_owner = (long)run_as.uid;
	log_set_level(cfg.log_level);
	log_to_journal();
	if (command_identity(&cfg, &hs, &cmd_login) < 0)
		goto err_free_env;
	signal(SIGPIPE, SIG_IGN);
	raise_fd_limit(&cfg);

	if (resolve_proxy(&cfg, &proxy) < 0)
		goto err_free_env;
	loop = ev_default_loop(EVFLAG_AUTO);
	if (loop == NULL) {
		log_error("cannot create the event loop");
		goto err_free_env;
	}
	default_capture_addresses(&cfg);
	if (start_service(&cfg, loop, &proxy, &hs) < 0)
		goto err_free_env;
	/* From the first change to the host on, SIGINT, SIGTERM and SIGHUP wait (blocked)
	 * until the loop can handle them with a teardown; the default action of any of
	 * them would leave the routes and the kill switch in place. */
	command_signals(&sigs);
	sigprocmask(SIG_BLOCK, &sigs, NULL);
	if (open_tun(&cfg, &tun, &hs) < 0)
		goto err_end_host;
	snprintf(hs.tun_name, sizeof(hs.tun_name), "%s", tun.name);
	hs.loop = loop;
	hs.cfg = &cfg;
	hs.run_as = cfg.user != NULL ? &run_as : NULL;
	conf = t2s_conf_from_config(&cfg, &proxy);
	if (conf == NULL) {
		log_error("cannot start: %s", strerror(ENOMEM));
		goto err_close_tun;
	}
	rc = t2s_engine_new_host(conf, loop, &hooks, &engine);
	if (rc < 0) {
		log_error("cannot start: %s", t2s_config_error(conf));
		t2s_config_free(conf);
		goto err_close_tun;
	}
	t2s_config_free(conf);
	rc = t2s_engine_run(engine, tun.fd);
	if (rc < 0) {
		if (!hs.start_failed)
			log_error("%s", t2s_engine_error(engine));
	} else {
		status = hs.exit_status;
	}
	/* A no-op when the stopping hook ran. */
	control_stop(hs.control);
	hs.control = NULL;
	metrics_stop(hs.metrics);
	hs.metrics = NULL;
	stop_capture(&hs);
	command_unwatch(loop, &hs);
	t2s_engine_free(engine);
err_close_tun:
	service_stopping(hs.svc);
	tun_close(&tun);
err_end_host:
	stop_capture(&hs); /* when the engine never started; a no-op after the one above */
	if (hs.netns_fd >= 0)
		close(hs.netns_fd);
	command_end(&hs);
	service_free(hs.svc);
err_free_env:
	free(hs.cmd_env);
	reload_free(hs.reload);
	cli_file_release(&file);
	return status;
}
