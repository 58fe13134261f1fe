/* SPDX-License-Identifier: MIT */
/* resolv_conf_nameservers: the nameserver lines glibc would use. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "resolv_conf.h"

static const char *
text_of(const struct sockaddr_storage *ss, char *buf, size_t cap)
{
	if (ss->ss_family == AF_INET)
		return inet_ntop(AF_INET, &((const struct sockaddr_in *)ss)->sin_addr, buf, (socklen_t)cap);
	return inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)ss)->sin6_addr, buf, (socklen_t)cap);
}

static void
usual(void **state)
{
	const char *text = "# generated\nsearch example.org\nnameserver 192.0.2.1\n"
			   "nameserver\t2001:db8::53 # comment\noptions edns0\nnameserver 198.51.100.9;x\n"
			   "nameserver 203.0.113.4\n";
	struct sockaddr_storage ns[RESOLV_CONF_MAXNS];
	char buf[64];

	(void)state;
	assert_int_equal(resolv_conf_nameservers(text, ns, RESOLV_CONF_MAXNS), 3); /* the 4th: beyond MAXNS */
	assert_string_equal(text_of(&ns[0], buf, sizeof(buf)), "192.0.2.1");
	assert_int_equal(ntohs(((struct sockaddr_in *)&ns[0])->sin_port), 53);
	assert_int_equal(ns[1].ss_family, AF_INET6);
	assert_string_equal(text_of(&ns[1], buf, sizeof(buf)), "2001:db8::53");
	assert_int_equal(ntohs(((struct sockaddr_in6 *)&ns[1])->sin6_port), 53);
	assert_string_equal(text_of(&ns[2], buf, sizeof(buf)), "198.51.100.9");
}

static void
skipped(void **state)
{
	const char *text = "  nameserver 192.0.2.1\n"   /* not at the start of the line */
			   "nameservers 192.0.2.2\n"     /* another word */
			   "nameserver ns.example\n"     /* not numeric */
			   "nameserver fe80::1%eth0\n"   /* a zone */
			   "nameserver\n"                /* no address */
			   "#nameserver 192.0.2.3\n"     /* commented out */
			   "nameserver 192.0.2.4\r\n";   /* CRLF */
	struct sockaddr_storage ns[RESOLV_CONF_MAXNS];
	char buf[64];

	(void)state;
	assert_int_equal(resolv_conf_nameservers(text, ns, RESOLV_CONF_MAXNS), 1);
	assert_string_equal(text_of(&ns[0], buf, sizeof(buf)), "192.0.2.4");
	assert_int_equal(resolv_conf_nameservers("", ns, RESOLV_CONF_MAXNS), 0);
	assert_int_equal(resolv_conf_nameservers("nameserver 192.0.2.1", ns, 0), 0);
	assert_int_equal(resolv_conf_nameservers("nameserver 192.0.2.1", ns, 1), 1); /* no final newline */
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(usual),
		cmocka_unit_test(skipped),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
