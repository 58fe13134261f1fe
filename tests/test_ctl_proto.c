/* SPDX-License-Identifier: MIT */
/*
 * The control protocol's codec (ctl_proto.c): escaping byte for byte, records built and
 * parsed back, lines found and refused, the output limit; and the client's flow records
 * (ctl_flows.c): parsing, rates between two snapshots, sort orders; --metrics addresses;
 * which control socket a client asks by default (ctl_find.c).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ctl_find.h"
#include "ctl_flows.h"
#include "ctl_proto.h"
#include "metrics_addr.h"

static void
escape_vectors(void **state)
{
	char out[64];

	(void)state;
	assert_int_equal(ctl_proto_escape("example.org", out, sizeof(out)), 11);
	assert_string_equal(out, "example.org");
	assert_int_equal(ctl_proto_escape("a b=c%d\n\x7f\xc3\xa9", out, sizeof(out)), 25);
	assert_string_equal(out, "a%20b%3Dc%25d%0A%7F%C3%A9");
	assert_int_equal(ctl_proto_escape("", out, sizeof(out)), 0);
	assert_string_equal(out, "");
	/* No room: refused, never cut. */
	assert_int_equal(ctl_proto_escape("abcd", out, 4), -ENOSPC);
	assert_int_equal(ctl_proto_escape(" ", out, 3), -ENOSPC);
	assert_int_equal(ctl_proto_escape(" ", out, 4), 3);
}

static void
record_round_trip(void **state)
{
	struct ctl_buf b;
	struct ctl_field f[CTL_PROTO_FIELDS_MAX];
	char *line;
	int n;

	(void)state;
	ctl_buf_init(&b, 4096);
	ctl_proto_ok(&b);
	ctl_proto_field(&b, "type", "flow");
	ctl_proto_field(&b, "host", "we ird=name%");
	ctl_proto_field_u64(&b, "in", 18446744073709551615ull);
	ctl_proto_field_f(&b, "age", 1.5);
	ctl_proto_field(&b, "empty", "");
	ctl_proto_end_record(&b);
	ctl_proto_end(&b);
	ctl_buf_put(&b, "", 1);
	assert_false(b.failed);
	assert_string_equal(b.data, "ok\ntype=flow host=we%20ird%3Dname%25 in=18446744073709551615 age=1.500 empty=\n\n");
	line = b.data + 3;
	line[strcspn(line, "\n")] = '\0';
	n = ctl_proto_parse_record(line, f, CTL_PROTO_FIELDS_MAX);
	assert_int_equal(n, 5);
	assert_string_equal(ctl_proto_get(f, n, "host"), "we ird=name%");
	assert_string_equal(ctl_proto_get(f, n, "in"), "18446744073709551615");
	assert_string_equal(ctl_proto_get(f, n, "empty"), "");
	assert_null(ctl_proto_get(f, n, "missing"));
	ctl_buf_free(&b);
}

static void
bad_records(void **state)
{
	struct ctl_field f[4];
	char a[] = "novalue", b[] = "=v", c[] = "k=%4", d[] = "k=%zz", e[] = "k=%00", g[] = "a=1 b=2 c=3 d=4 e=5";
	char ok[] = "  a=1   b=%41 ";

	(void)state;
	assert_int_equal(ctl_proto_parse_record(a, f, 4), -EPROTO);
	assert_int_equal(ctl_proto_parse_record(b, f, 4), -EPROTO);
	assert_int_equal(ctl_proto_parse_record(c, f, 4), -EPROTO);
	assert_int_equal(ctl_proto_parse_record(d, f, 4), -EPROTO);
	assert_int_equal(ctl_proto_parse_record(e, f, 4), -EPROTO); /* no NUL smuggled in */
	assert_int_equal(ctl_proto_parse_record(g, f, 4), -EPROTO);
	assert_int_equal(ctl_proto_parse_record(ok, f, 4), 2);
	assert_string_equal(f[1].value, "A");
}

static void
lines_and_limits(void **state)
{
	struct ctl_buf b;
	char big[300];

	(void)state;
	assert_int_equal(ctl_proto_line("status\nflows\n", 13, 256), 7);
	assert_int_equal(ctl_proto_line("stat", 4, 256), 0);
	memset(big, 'x', sizeof(big));
	assert_int_equal(ctl_proto_line(big, 255, 256), 0);
	assert_int_equal(ctl_proto_line(big, 256, 256), -EMSGSIZE);
	assert_int_equal(ctl_proto_line(big, sizeof(big), 256), -EMSGSIZE);
	/* An error text stays on one line. */
	ctl_buf_init(&b, 64);
	ctl_proto_error(&b, "two\nlines");
	ctl_buf_put(&b, "", 1);
	assert_string_equal(b.data, "error two lines\n");
	/* Past the limit: failed, and nothing more is added. */
	assert_false(ctl_buf_put(&b, big, 60));
	assert_true(b.failed);
	assert_false(ctl_buf_put(&b, "x", 1));
	ctl_buf_consume(&b, 6);
	assert_memory_equal(b.data, "two lines\n", 10);
	ctl_buf_free(&b);
}

static void
flows_parse_rates_sort(void **state)
{
	char t1[] = "type=time uptime=10.000\n"
		    "type=flow id=1 proto=tcp app=198.18.0.1:4000 dst=198.19.0.10:80 proxy=socks5://p state=relaying "
		    "age=5.000 idle=0.100 connect=0.010 out=100 in=1000\n"
		    "type=flow id=2 proto=udp app=198.18.0.1:5000 dst=198.18.0.20:53 host=example.org proxy=p "
		    "state=mapped age=2.000 idle=1.000 out=50 in=70 pkts_out=1 pkts_in=1\n"
		    "\n";
	char t2[] = "type=time uptime=12.000\n"
		    "type=flow id=1 proto=tcp app=198.18.0.1:4000 dst=198.19.0.10:80 proxy=socks5://p state=relaying "
		    "age=7.000 idle=0.100 out=300 in=5000\n"
		    "type=flow id=2 proto=udp app=198.18.0.1:5000 dst=198.18.0.20:53 host=example.org proxy=p "
		    "state=mapped age=4.000 idle=3.000 out=50 in=70\n"
		    "type=flow id=3 proto=tcp app=[2001:2::1]:6000 dst=[2001:2::2]:443 proxy=p state=connecting "
		    "age=0.500 idle=0.500 out=0 in=0\n"
		    "type=future what=ever\n";
	char bad[] = "type=flow id=x proto=tcp app=a dst=b age=1 idle=1 out=1 in=1\n";
	struct ctl_flow *a, *b;
	size_t na, nb;
	double up = 0;

	(void)state;
	assert_int_equal(ctl_flows_parse(t1, &a, &na, &up), 0);
	assert_int_equal(na, 2);
	assert_true(up == 10.0);
	assert_string_equal(a[1].host, "example.org");
	assert_true(a[0].connect == 0.010);
	assert_true(a[1].connect == -1);
	assert_true(a[0].rate_in == -1);
	assert_int_equal(ctl_flows_parse(t2, &b, &nb, &up), 0);
	assert_int_equal(nb, 3);
	ctl_flows_rates(b, nb, a, na, 2.0);
	assert_true(b[0].rate_out == 100.0 && b[0].rate_in == 2000.0);
	assert_true(b[1].rate_out == 0 && b[1].rate_in == 0);
	assert_true(b[2].rate_in == 0); /* new since: over its age */
	ctl_flows_sort(b, nb, CTL_SORT_RATE);
	assert_int_equal(b[0].id, 1);
	ctl_flows_sort(b, nb, CTL_SORT_AGE);
	assert_int_equal(b[0].id, 1);
	assert_int_equal(b[2].id, 3);
	ctl_flows_sort(b, nb, CTL_SORT_DST);
	assert_int_equal(b[0].id, 1); /* "198.19..." < "[2001..." < "example.org" */
	assert_int_equal(b[2].id, 2);
	ctl_flows_sort(b, nb, CTL_SORT_ID);
	assert_int_equal(b[0].id, 1);
	ctl_flows_sort(NULL, 0, CTL_SORT_RATE); /* an empty table: UBSan saw qsort_r(NULL) */
	free(a);
	free(b);
	assert_int_equal(ctl_flows_parse(bad, &a, &na, &up), -EPROTO);
	assert_int_equal(ctl_flows_sort_parse("rate"), CTL_SORT_RATE);
	assert_int_equal(ctl_flows_sort_parse("program"), CTL_SORT_PROGRAM);
	assert_int_equal(ctl_flows_sort_parse("speed"), -EINVAL);
}

static void
metrics_addresses(void **state)
{
	struct sockaddr_storage ss;
	const struct sockaddr_in *sin = (const struct sockaddr_in *)&ss;
	const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)&ss;

	(void)state;
	assert_int_equal(metrics_addr_parse("9477", &ss), 0);
	assert_int_equal(sin->sin_family, AF_INET);
	assert_int_equal(ntohl(sin->sin_addr.s_addr), INADDR_LOOPBACK);
	assert_int_equal(ntohs(sin->sin_port), 9477);
	assert_int_equal(metrics_addr_parse("0.0.0.0:80", &ss), 0);
	assert_int_equal(sin->sin_addr.s_addr, 0);
	assert_int_equal(metrics_addr_parse("[::1]:9477", &ss), 0);
	assert_int_equal(sin6->sin6_family, AF_INET6);
	assert_int_equal(ntohs(sin6->sin6_port), 9477);
	assert_int_equal(metrics_addr_parse("0", NULL), -EINVAL);
	assert_int_equal(metrics_addr_parse("65536", NULL), -EINVAL);
	assert_int_equal(metrics_addr_parse("localhost:80", NULL), -EINVAL);
	assert_int_equal(metrics_addr_parse("[::1]80", NULL), -EINVAL);
	assert_int_equal(metrics_addr_parse("1.2.3.4:", NULL), -EINVAL);
	assert_int_equal(metrics_addr_parse("", NULL), -EINVAL);
}

/* The control socket a client asks without --tun or --control: its own namespace's. */
static void
find_pick(void **state)
{
	const char *two_ns[] = {"net4026532178-t2s0.control", "net4026532324-t2s0.control"};
	const char *own_two[] = {"net7-tun0.control", "net8-tun0.control", "net7-tun1.control"};
	const char *other[] = {"net9-tun0.control"};
	bool mine;

	(void)state;
	assert_true(ctl_find_in_netns("net7-tun0.control", 7));
	assert_false(ctl_find_in_netns("net7-tun0.control", 77));
	assert_false(ctl_find_in_netns("net77-tun0.control", 7));
	assert_false(ctl_find_in_netns("net7-.control", 7));
	assert_false(ctl_find_in_netns("net7-tun0.state", 7));
	/* Another namespace's instance does not make ours ambiguous (the CI failure of t57). */
	assert_int_equal(ctl_find_pick(two_ns, 2, 4026532324ul, &mine), 1);
	assert_int_equal(ctl_find_pick(two_ns, 2, 4026532178ul, &mine), 0);
	/* None here: the only one there is (a command's own namespace, asked from the host). */
	assert_int_equal(ctl_find_pick(other, 1, 7, &mine), 0);
	/* Several of ours, or several elsewhere and none of ours: the caller must say. */
	assert_int_equal(ctl_find_pick(own_two, 3, 7, &mine), -EEXIST);
	assert_true(mine);
	assert_int_equal(ctl_find_pick(own_two, 2, 8, &mine), 1);
	assert_int_equal(ctl_find_pick(two_ns, 2, 5, &mine), -EEXIST);
	assert_false(mine);
	assert_int_equal(ctl_find_pick(two_ns, 0, 5, &mine), -ENOENT);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(escape_vectors),	  cmocka_unit_test(record_round_trip),
		cmocka_unit_test(bad_records),		  cmocka_unit_test(lines_and_limits),
		cmocka_unit_test(flows_parse_rates_sort), cmocka_unit_test(metrics_addresses),
		cmocka_unit_test(find_pick),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
