/* SPDX-License-Identifier: MIT */
/* systemd-resolved's settings for the TUN's link over sd-bus; see resolved_link.h. */
#include "resolved_link.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <systemd/sd-bus.h>

#define RESOLVE1_NAME "org.freedesktop.resolve1"
#define RESOLVE1_PATH "/org/freedesktop/resolve1"
#define RESOLVE1_MANAGER "org.freedesktop.resolve1.Manager"

struct resolved_link {
	sd_bus *bus;
	struct resolved_link_plan plan;
};

int
resolved_link_plan_build(const struct netlink_prefix *dns_server, const struct in_addr *stub4, int ifindex,
			 struct resolved_link_plan *out)
{
	if (ifindex <= 0)
		return -EINVAL;
	memset(out, 0, sizeof(*out));
	out->ifindex = ifindex;
	if (dns_server != NULL && dns_server->family == AF_INET) {
		out->family = AF_INET;
		memcpy(out->addr, &dns_server->addr.v4, 4);
	} else if (dns_server != NULL && dns_server->family == AF_INET6) {
		out->family = AF_INET6;
		memcpy(out->addr, &dns_server->addr.v6, 16);
	} else if (stub4 != NULL) {
		out->family = AF_INET;
		memcpy(out->addr, stub4, 4);
		out->stub = true;
	} else {
		return -EINVAL;
	}
	return 0;
}

int
resolved_link_plan_format(const struct resolved_link_plan *p, char *buf, size_t len)
{
	char addr[INET6_ADDRSTRLEN];
	int n;

	if (inet_ntop(p->family, p->addr, addr, sizeof(addr)) == NULL)
		return -EINVAL;
	n = snprintf(buf, len, "dns %s domain ~. default-route yes%s", addr, p->stub ? " dnssec no dnsovertls no" : "");
	return n < 0 || (size_t)n >= len ? -ENOSPC : n;
}

/* The bus error's text when there is one, else errno's. */
static void
say(char *msg, size_t len, const char *what, int err, const sd_bus_error *e)
{
	if (e != NULL && sd_bus_error_is_set(e))
		snprintf(msg, len, "%s: %s%s%s", what, e->name, e->message != NULL ? ": " : "",
			 e->message != NULL ? e->message : "");
	else
		snprintf(msg, len, "%s: %s", what, strerror(-err));
}

/* Whether process pid lives in our network namespace: 1, 0, or -errno (cannot tell). */
static int
same_netns(unsigned pid)
{
	char path[64];
	struct stat a, b;

	snprintf(path, sizeof(path), "/proc/%u/ns/net", pid);
	if (stat(path, &a) < 0 || stat("/proc/self/ns/net", &b) < 0)
		return -errno;
	return a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

static int
set_dns(struct resolved_link *r, sd_bus_error *e)
{
	sd_bus_message *m = NULL;
	int err;

	err = sd_bus_message_new_method_call(r->bus, &m, RESOLVE1_NAME, RESOLVE1_PATH, RESOLVE1_MANAGER, "SetLinkDNS");
	if (err >= 0)
		err = sd_bus_message_append(m, "i", (int32_t)r->plan.ifindex);
	if (err >= 0)
		err = sd_bus_message_open_container(m, 'a', "(iay)");
	if (err >= 0)
		err = sd_bus_message_open_container(m, 'r', "iay");
	if (err >= 0)
		err = sd_bus_message_append(m, "i", (int32_t)r->plan.family);
	if (err >= 0)
		err = sd_bus_message_append_array(m, 'y', r->plan.addr, r->plan.family == AF_INET ? 4 : 16);
	if (err >= 0)
		err = sd_bus_message_close_container(m);
	if (err >= 0)
		err = sd_bus_message_close_container(m);
	if (err >= 0)
		err = sd_bus_call(r->bus, m, RESOLVED_LINK_TIMEOUT_USEC, e, NULL);
	sd_bus_message_unref(m);
	return err;
}

/* Every setting of the plan, in resolvectl's order; the first failure stops. */
static int
apply(struct resolved_link *r, char *msg, size_t len)
{
	sd_bus_error e = SD_BUS_ERROR_NULL;
	int32_t i = r->plan.ifindex;
	const char *step = "SetLinkDNS";
	int err;

	err = set_dns(r, &e);
	if (err >= 0) {
		step = "SetLinkDomains";
		err = sd_bus_call_method(r->bus, RESOLVE1_NAME, RESOLVE1_PATH, RESOLVE1_MANAGER, step, &e, NULL,
					 "ia(sb)", i, 1, ".", 1);
	}
	if (err >= 0) {
		step = "SetLinkDefaultRoute";
		err = sd_bus_call_method(r->bus, RESOLVE1_NAME, RESOLVE1_PATH, RESOLVE1_MANAGER, step, &e, NULL, "ib",
					 i, 1);
	}
	if (err >= 0 && r->plan.stub) {
		step = "SetLinkDNSSEC";
		err = sd_bus_call_method(r->bus, RESOLVE1_NAME, RESOLVE1_PATH, RESOLVE1_MANAGER, step, &e, NULL, "is",
					 i, "no");
	}
	if (err >= 0 && r->plan.stub) {
		step = "SetLinkDNSOverTLS";
		err = sd_bus_call_method(r->bus, RESOLVE1_NAME, RESOLVE1_PATH, RESOLVE1_MANAGER, step, &e, NULL, "is",
					 i, "no");
	}
	if (err < 0)
		say(msg, len, step, err, &e);
	sd_bus_error_free(&e);
	return err < 0 ? err : 0;
}

static int
revert(struct resolved_link *r, char *msg, size_t len)
{
	sd_bus_error e = SD_BUS_ERROR_NULL;
	int err = sd_bus_call_method(r->bus, RESOLVE1_NAME, RESOLVE1_PATH, RESOLVE1_MANAGER, "RevertLink", &e, NULL,
				     "i", (int32_t)r->plan.ifindex);

	if (err < 0)
		say(msg, len, "RevertLink", err, &e);
	sd_bus_error_free(&e);
	return err < 0 ? err : 0;
}

/* 1 when resolved runs in our namespace, 0 when there is nothing to tell, -errno. */
static int
find_resolved(sd_bus *bus, char *msg, size_t len)
{
	sd_bus_error e = SD_BUS_ERROR_NULL;
	sd_bus_message *reply = NULL;
	uint32_t pid = 0;
	int err;

	err = sd_bus_call_method(bus, "org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus",
				 "GetConnectionUnixProcessID", &e, &reply, "s", RESOLVE1_NAME);
	if (err < 0 && sd_bus_error_has_name(&e, SD_BUS_ERROR_NAME_HAS_NO_OWNER)) {
		snprintf(msg, len, "%s is not running", RESOLVE1_NAME);
		err = 0;
		goto out;
	}
	if (err < 0) {
		say(msg, len, "cannot find " RESOLVE1_NAME, err, &e);
		goto out;
	}
	if ((err = sd_bus_message_read(reply, "u", &pid)) < 0) {
		say(msg, len, "GetConnectionUnixProcessID", err, NULL);
		goto out;
	}
	err = same_netns(pid);
	if (err == 0)
		snprintf(msg, len, "resolved (pid %u) serves another network namespace: left alone", pid);
	else if (err < 0)
		snprintf(msg, len, "cannot tell whether resolved (pid %u) serves this network namespace (%s): "
			 "left alone", pid, strerror(-err));
	err = err < 0 ? 0 : err;
out:
	sd_bus_message_unref(reply);
	sd_bus_error_free(&e);
	return err;
}

int
resolved_link_start(const struct resolved_link_plan *p, struct resolved_link **out, char *msg, size_t len)
{
	struct resolved_link *r;
	int err;

	*out = NULL;
	msg[0] = '\0';
	r = calloc(1, sizeof(*r));
	if (r == NULL)
		return -ENOMEM;
	r->plan = *p;
	err = sd_bus_open_system(&r->bus);
	if (err < 0) {
		/* No socket: no system bus, so no resolved either. */
		snprintf(msg, len, "no system bus (%s)", strerror(-err));
		err = err == -ENOENT || err == -ECONNREFUSED ? 0 : err;
		goto err_free;
	}
	(void)sd_bus_set_method_call_timeout(r->bus, RESOLVED_LINK_TIMEOUT_USEC);
	err = find_resolved(r->bus, msg, len);
	if (err <= 0)
		goto err_close;
	if ((err = apply(r, msg, len)) < 0) {
		char ignored[8];

		(void)revert(r, ignored, sizeof(ignored));
		goto err_close;
	}
	*out = r;
	return 1;

err_close:
	sd_bus_flush_close_unref(r->bus);
err_free:
	free(r);
	return err;
}

int
resolved_link_revert(int ifindex, char *msg, size_t len)
{
	struct resolved_link r = {.plan = {.ifindex = ifindex}};
	int err;

	msg[0] = '\0';
	err = sd_bus_open_system(&r.bus);
	if (err < 0) {
		snprintf(msg, len, "no system bus (%s)", strerror(-err));
		return err == -ENOENT || err == -ECONNREFUSED ? 0 : err;
	}
	(void)sd_bus_set_method_call_timeout(r.bus, RESOLVED_LINK_TIMEOUT_USEC);
	err = find_resolved(r.bus, msg, len);
	if (err > 0)
		err = revert(&r, msg, len) < 0 ? -EIO : 1;
	sd_bus_flush_close_unref(r.bus);
	return err;
}

int
resolved_link_update(struct resolved_link *r, char *msg, size_t len)
{
	msg[0] = '\0';
	return apply(r, msg, len);
}

int
resolved_link_stop(struct resolved_link *r, char *msg, size_t len)
{
	int err;

	msg[0] = '\0';
	if (r == NULL)
		return 0;
	err = revert(r, msg, len);
	sd_bus_flush_close_unref(r->bus);
	free(r);
	return err;
}
