/* SPDX-License-Identifier: MIT */
/*
 * A minimal libtun2socks embedder: opens its own TUN (TUNSETIFF), marks every socket
 * the engine opens with SO_MARK from the socket hook (where an Android app would call
 * VpnService.protect), runs the engine on this thread, and stops it on SIGINT or
 * SIGTERM from a second thread that waits for them with sigwait.
 *
 *   cc embed.c $(pkg-config --cflags --libs tun2socks) -o embed
 *   embed TUN PROXY [MARK] [NAME=VALUE...]
 *
 * The TUN is created down and without addresses: configure it (ip addr, ip link set
 * up, routes) once "tun NAME open" is printed. At exit it prints the number of
 * sockets the hook saw.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <tun2socks.h>

static unsigned mark;
static atomic_uint hooked_tcp, hooked_udp;

static int
on_socket(void *arg, int fd, int family, int type)
{
	(void)arg;
	(void)family;
	if (mark != 0 && setsockopt(fd, SOL_SOCKET, SO_MARK, &mark, sizeof(mark)) < 0)
		return -errno;
	atomic_fetch_add(type == SOCK_STREAM ? &hooked_tcp : &hooked_udp, 1);
	return 0;
}

static void
on_log(void *arg, enum t2s_log_level level, const char *text)
{
	static const char *const names[] = {"error", "warn", "info", "debug"};

	(void)arg;
	fprintf(stderr, "embed: t2s %s: %s\n", names[level], text);
}

static int
open_tun(const char *name)
{
	struct ifreq ifr;
	int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);

	if (fd < 0)
		return -1;
	memset(&ifr, 0, sizeof(ifr));
	ifr.ifr_flags = IFF_TUN | IFF_NO_PI;
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
	if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

struct stopper {
	sigset_t set;
	struct t2s_engine *engine;
};

static void *
stopper_main(void *arg)
{
	struct stopper *s = arg;
	int sig;

	if (sigwait(&s->set, &sig) == 0) {
		fprintf(stderr, "embed: signal %d: stopping\n", sig);
		t2s_engine_stop(s->engine);
	}
	return NULL;
}

int
main(int argc, char **argv)
{
	struct t2s_conf *conf;
	struct t2s_stats_snapshot st = {.size = sizeof(st)};
	struct stopper stopper;
	pthread_t thread;
	int fd, rc, i = 3;

	if (argc < 3) {
		fprintf(stderr, "usage: embed TUN PROXY [MARK] [NAME=VALUE...]\n");
		return 2;
	}
	if (argc > 3 && strchr(argv[3], '=') == NULL) {
		mark = (unsigned)strtoul(argv[3], NULL, 0);
		i = 4;
	}
	/* Blocked in every thread (inherited), taken by the stopper's sigwait. */
	sigemptyset(&stopper.set);
	sigaddset(&stopper.set, SIGINT);
	sigaddset(&stopper.set, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &stopper.set, NULL);

	conf = t2s_config_new();
	if (conf == NULL)
		return 1;
	t2s_config_set_socket_hook(conf, on_socket, NULL);
	t2s_config_set_log_hook(conf, on_log, NULL);
	if (t2s_config_set(conf, "proxy", argv[2]) < 0) {
		fprintf(stderr, "embed: %s\n", t2s_config_error(conf));
		return 2;
	}
	for (; i < argc; i++) {
		char *eq = strchr(argv[i], '=');

		if (eq == NULL) {
			fprintf(stderr, "embed: '%s' is not NAME=VALUE\n", argv[i]);
			return 2;
		}
		*eq = '\0';
		if (t2s_config_set(conf, argv[i], eq + 1) < 0) {
			fprintf(stderr, "embed: %s\n", t2s_config_error(conf));
			return 2;
		}
	}
	rc = t2s_engine_new(conf, &stopper.engine);
	if (rc < 0) {
		fprintf(stderr, "embed: %s (%s)\n", t2s_config_error(conf), strerror(-rc));
		return 1;
	}
	/* One engine per process: a second one is refused. */
	{
		struct t2s_engine *second;

		rc = t2s_engine_new(conf, &second);
		printf("second engine: %s\n", rc == -EBUSY ? "refused (EBUSY)" : "NOT refused");
	}
	t2s_config_free(conf);

	fd = open_tun(argv[1]);
	if (fd < 0) {
		fprintf(stderr, "embed: cannot open TUN %s: %s\n", argv[1], strerror(errno));
		return 1;
	}
	printf("tun %s open\n", argv[1]);
	fflush(stdout);
	if (pthread_create(&thread, NULL, stopper_main, &stopper) != 0)
		return 1;

	rc = t2s_engine_run(stopper.engine, fd);
	if (rc < 0)
		fprintf(stderr, "embed: %s\n", t2s_engine_error(stopper.engine));
	t2s_engine_stats(stopper.engine, &st);
	printf("stats: tcp_flows_opened=%llu udp_flows_opened=%llu tun_bytes_out=%llu sockets_hooked=%llu\n",
	       (unsigned long long)st.tcp_flows_opened, (unsigned long long)st.udp_flows_opened,
	       (unsigned long long)st.tun_bytes_out, (unsigned long long)st.sockets_hooked);
	printf("hooked: tcp=%u udp=%u\n", atomic_load(&hooked_tcp), atomic_load(&hooked_udp));
	/* The engine is stopped: the stopper still waits for a signal it no longer needs. */
	pthread_cancel(thread);
	pthread_join(thread, NULL);
	t2s_engine_free(stopper.engine);
	close(fd);
	return rc < 0 ? 1 : 0;
}
