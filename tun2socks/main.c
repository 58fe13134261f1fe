/* SPDX-License-Identifier: MIT */
/*
 * tun2socks: parse the command line, resolve the proxy, open and configure the TUN,
 * build the data path, run the loop, tear down in reverse. The only exit() is here.
 */
#include <errno.h>
#include <netdb.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include <ev.h>

#include "argv_scrub.h"
#include "cli.h"
#include "config.h"
#include "log.h"
#include "lwip_port.h"
#include "privdrop.h"
#include "stats.h"
#include "t2s.h"
#include "tun.h"

enum {
	EXIT_USAGE = 2,
};

static void
lwip_diag(const char *msg)
{
	log_warn("lwip: %s", msg);
}

/* Credentials from --proxy-auth-file or TUN2SOCKS_PROXY_AUTH override the URL's. */
static int
load_credentials(struct t2s_config *cfg)
{
	const char *env = getenv("TUN2SOCKS_PROXY_AUTH");
	const char *why = NULL;
	char line[2 * PROXY_URL_CRED_MAX + 8];

	if (cfg->auth_file != NULL) {
		FILE *fp = fopen(cfg->auth_file, "re");

		if (fp == NULL) {
			fprintf(stderr, "tun2socks: --proxy-auth-file %s: %s\n", cfg->auth_file, strerror(errno));
			return -1;
		}
		if (fgets(line, sizeof(line), fp) == NULL)
			line[0] = '\0';
		fclose(fp);
		if (config_set_credentials(cfg, line, &why) < 0) {
			fprintf(stderr, "tun2socks: --proxy-auth-file %s: %s\n", cfg->auth_file, why);
			return -1;
		}
		explicit_bzero(line, sizeof(line));
	} else if (env != NULL && env[0] != '\0') {
		if (config_set_credentials(cfg, env, &why) < 0) {
			fprintf(stderr, "tun2socks: TUN2SOCKS_PROXY_AUTH: %s\n", why);
			return -1;
		}
		(void)argv_scrub_env("TUN2SOCKS_PROXY_AUTH");
	}
	if (cfg->proxy.has_credentials && cfg->proxy.pass[0] == '\0') {
		fprintf(stderr, "tun2socks: --proxy: a user name needs a password (RFC 1929)\n");
		return -1;
	}
	return 0;
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

/*
 * Everything that needs root is done (TUN open and configured, file limit raised).
 * SO_MARK on each new proxy socket still needs CAP_NET_ADMIN, so --fwmark keeps it.
 */
static int
drop_privileges(const struct t2s_config *cfg, const struct privdrop_target *run_as)
{
	unsigned keep = cfg->fwmark != 0 ? PRIVDROP_KEEP_NET_ADMIN : 0;
	int err = privdrop_apply(run_as, keep);

	if (err < 0) {
		log_error("cannot drop privileges to --user %s: %s", cfg->user, strerror(-err));
		return err;
	}
	log_info("running as uid %u gid %u%s", (unsigned)run_as->uid, (unsigned)run_as->gid,
		 keep != 0 ? " with CAP_NET_ADMIN (for --fwmark)" : " without capabilities");
	return 0;
}

int
main(int argc, char **argv)
{
	static struct t2s_config cfg;
	struct socks5_server proxy;
	struct tun_device tun;
	struct ev_loop *loop;
	struct t2s *t;
	struct privdrop_target run_as;
	ev_signal stats_signal;
	char msg[256], url[T2S_ENDPOINT_STRLEN + PROXY_URL_CRED_MAX + 16];
	int rc;

	config_defaults(&cfg);
	rc = cli_parse(argc, argv, &cfg, msg, sizeof(msg));
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
	(void)argv_scrub_passwords(argc, argv);
	if (load_credentials(&cfg) < 0)
		return EXIT_USAGE;
	if (cfg.user != NULL && privdrop_resolve(cfg.user, cfg.group, &run_as, msg, sizeof(msg)) < 0) {
		fprintf(stderr, "tun2socks: %s\n", msg);
		return EXIT_USAGE;
	}
	log_set_level(cfg.log_level);
	signal(SIGPIPE, SIG_IGN);
	raise_fd_limit(&cfg);

	if (resolve_proxy(&cfg, &proxy) < 0)
		return EXIT_FAILURE;
	loop = ev_default_loop(EVFLAG_AUTO);
	if (loop == NULL) {
		log_error("cannot create the event loop");
		return EXIT_FAILURE;
	}
	if (setup_tun(&cfg, &tun) < 0)
		return EXIT_FAILURE;
	lwip_port_init(loop, lwip_diag);
	t = t2s_new(loop, &cfg, &proxy, &tun);
	if (t == NULL) {
		log_error("cannot start: %s", strerror(errno));
		tun_close(&tun);
		return EXIT_FAILURE;
	}
	if (cfg.user != NULL && drop_privileges(&cfg, &run_as) < 0) {
		t2s_free(t);
		lwip_port_fini();
		return EXIT_FAILURE;
	}
	proxy_url_format_redacted(&cfg.proxy, url, sizeof(url));
	log_info("ready: %s (mtu %u%s%s) -> %s", t->tun.name, cfg.mtu, t->tun.vnet_hdr_len ? ", offload" : "",
		 t->tun.persistent ? ", persistent" : "", url);
	stats_watch(loop, &stats_signal, t);
	ev_run(loop, 0);

	stats_unwatch(loop, &stats_signal);
	stats_log(t);
	t2s_free(t);
	lwip_port_fini();
	log_info("stopped");
	return EXIT_SUCCESS;
}
