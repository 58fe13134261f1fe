/* SPDX-License-Identifier: MIT */
/*
 * ctl_server on a real loop with real Unix sockets: responses in order to pipelined
 * requests, mode 0660, a stale socket replaced and a live one refused; the limits that
 * keep the loop from ever waiting for a client: a request line too long (error, then
 * close), a response past the output limit (cut off), a client that reads nothing
 * (cut off after the stall timeout, while another is served meanwhile), the client cap.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cmocka.h>
#include <ev.h>

#include "ctl_server.h"
#include "support/loop.h"

static struct ev_loop *g_loop;
static char g_path[108];

/* "echo X": ok, a record x=X; "big N": ok and N bytes of records. */
static void
handle(void *arg, const char *req, struct ctl_buf *out)
{
	unsigned *calls = arg;

	(*calls)++;
	if (strncmp(req, "echo ", 5) == 0) {
		ctl_proto_ok(out);
		ctl_proto_field(out, "x", req + 5);
		ctl_proto_end_record(out);
	} else if (strncmp(req, "big ", 4) == 0) {
		long n = strtol(req + 4, NULL, 10);

		ctl_proto_ok(out);
		for (long i = 0; i < n / 100; i++) {
			ctl_proto_field(out, "pad", "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx");
			ctl_proto_end_record(out);
		}
	} else {
		ctl_proto_error(out, "unknown");
	}
	ctl_proto_end(out);
}

static struct ctl_server *
server(unsigned *calls, size_t out_limit, double stall, unsigned max_clients)
{
	struct ctl_server_params p = {
		.path = g_path,
		.mode = 0660,
		.gid = (gid_t)-1,
		.out_limit = out_limit,
		.stall_timeout = stall,
		.max_clients = max_clients,
		.handle = handle,
		.arg = calls,
	};
	struct ctl_server *s;

	assert_int_equal(ctl_server_new(g_loop, &p, &s), 0);
	return s;
}

static int
client(void)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0);

	strcpy(sun.sun_path, g_path);
	assert_true(fd >= 0);
	assert_int_equal(connect(fd, (struct sockaddr *)&sun, sizeof(sun)), 0);
	return fd;
}

struct reader {
	int fd;
	char buf[8192];
	size_t len;
	bool eof;
};

static bool
read_some(void *arg)
{
	struct reader *r = arg;
	ssize_t n = recv(r->fd, r->buf + r->len, sizeof(r->buf) - 1 - r->len, MSG_DONTWAIT);

	if (n == 0 || (n < 0 && errno != EAGAIN))
		r->eof = true;
	else if (n > 0)
		r->len += (size_t)n;
	r->buf[r->len] = '\0';
	return r->eof;
}

static bool
has_two_responses(void *arg)
{
	struct reader *r = arg;

	(void)read_some(r);
	return strstr(r->buf, "x=two\n\n") != NULL;
}

static int
setup(void **state)
{
	(void)state;
	snprintf(g_path, sizeof(g_path), "/tmp/t2s-test-ctl.%ld.sock", (long)getpid());
	unlink(g_path);
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	unlink(g_path);
	return 0;
}

static void
pipelined_requests_in_order(void **state)
{
	unsigned calls = 0;
	struct ctl_server *s = server(&calls, 1 << 20, 5, 4);
	struct reader r = {.fd = client()};
	struct stat st;
	const char req[] = "echo one\r\nnope\necho t%wo\n";

	(void)state;
	assert_int_equal(stat(g_path, &st), 0);
	assert_true(S_ISSOCK(st.st_mode));
	assert_int_equal(st.st_mode & 0777, 0660);
	assert_int_equal(send(r.fd, req, sizeof(req) - 1, 0), (ssize_t)sizeof(req) - 1);
	/* "t%wo" goes back escaped. */
	(void)loop_run_until(g_loop, has_two_responses, &r, 5);
	assert_string_equal(r.buf, "ok\nx=one\n\nerror unknown\n\nok\nx=t%25wo\n\n");
	assert_int_equal(calls, 3);
	close(r.fd);
	ctl_server_free(s);
	assert_int_equal(stat(g_path, &st), -1); /* removed */
}

static void
stale_replaced_live_refused(void **state)
{
	unsigned calls = 0;
	struct ctl_server_params p = {.path = g_path, .mode = 0660, .gid = (gid_t)-1, .out_limit = 4096,
				      .stall_timeout = 1, .max_clients = 1, .handle = handle, .arg = &calls};
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	struct ctl_server *s, *s2;
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);

	(void)state;
	strcpy(sun.sun_path, g_path);
	assert_int_equal(bind(fd, (struct sockaddr *)&sun, sizeof(sun)), 0);
	close(fd); /* a dead run's socket: nobody listens */
	assert_int_equal(ctl_server_new(g_loop, &p, &s), 0);
	assert_int_equal(ctl_server_new(g_loop, &p, &s2), -EADDRINUSE);
	ctl_server_free(s);
	/* Not a socket: left alone. */
	fd = open(g_path, O_CREAT | O_WRONLY, 0600);
	close(fd);
	assert_int_equal(ctl_server_new(g_loop, &p, &s2), -EEXIST);
}

static void
long_request_closed(void **state)
{
	unsigned calls = 0;
	struct ctl_server *s = server(&calls, 1 << 20, 5, 4);
	struct reader r = {.fd = client()};
	char line[400];

	(void)state;
	memset(line, 'a', sizeof(line));
	assert_int_equal(send(r.fd, line, sizeof(line), 0), (ssize_t)sizeof(line));
	assert_true(loop_run_until(g_loop, read_some, &r, 5));
	assert_string_equal(r.buf, "error request too long\n\n");
	assert_int_equal(calls, 0);
	close(r.fd);
	ctl_server_free(s);
}

static void
response_past_limit_cut_off(void **state)
{
	unsigned calls = 0;
	struct ctl_server *s = server(&calls, 64 * 1024, 5, 4);
	struct reader r = {.fd = client()};

	(void)state;
	assert_int_equal(send(r.fd, "big 100000\n", 11, 0), 11);
	assert_true(loop_run_until(g_loop, read_some, &r, 5));
	assert_int_equal(r.len, 0); /* nothing of a response that could not be whole */
	assert_int_equal(ctl_server_cut_off(s), 1);
	assert_int_equal(ctl_server_clients(s), 0);
	close(r.fd);
	ctl_server_free(s);
}

static bool
cut_off_once(void *arg)
{
	return ctl_server_cut_off(arg) >= 1;
}

static void
stuck_client_cut_off_others_served(void **state)
{
	unsigned calls = 0;
	struct ctl_server *s = server(&calls, 8u << 20, 0.5, 4);
	int stuck = client(), rcv = 4096;
	struct reader r;
	ev_tstamp t0;

	(void)state;
	setsockopt(stuck, SOL_SOCKET, SO_RCVBUF, &rcv, sizeof(rcv));
	/* Two responses of 2 MB: more than the socket buffers hold. */
	assert_int_equal(send(stuck, "big 2000000\nbig 2000000\n", 24, 0), 24);
	loop_run_for(g_loop, 0.1);
	assert_int_equal(ctl_server_clients(s), 1);
	/* The second request waits while the first response does: no pile-up. */
	assert_int_equal(calls, 1);
	/* Meanwhile another client is answered. */
	r = (struct reader){.fd = client()};
	assert_int_equal(send(r.fd, "echo one\necho two\n", 18, 0), 18);
	assert_true(loop_run_until(g_loop, has_two_responses, &r, 5));
	close(r.fd);
	t0 = ev_time();
	assert_true(loop_run_until(g_loop, cut_off_once, s, 5));
	assert_true(ev_time() - t0 < 2.0);
	assert_int_equal(calls, 3);
	close(stuck);
	ctl_server_free(s);
}

static bool
clients_are(void *arg)
{
	return ctl_server_clients(((void **)arg)[0]) == *(unsigned *)((void **)arg)[1];
}

static void
client_cap(void **state)
{
	unsigned calls = 0, two = 2;
	struct ctl_server *s = server(&calls, 4096, 5, 2);
	int a = client(), b = client(), c = client();
	void *args[2] = {s, &two};
	struct reader r = {.fd = c};

	(void)state;
	assert_true(loop_run_until(g_loop, clients_are, args, 5));
	assert_true(loop_run_until(g_loop, read_some, &r, 5)); /* the third: closed at once */
	assert_int_equal(ctl_server_cut_off(s), 1);
	close(a);
	close(b);
	close(c);
	ctl_server_free(s);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(pipelined_requests_in_order, setup, teardown),
		cmocka_unit_test_setup_teardown(stale_replaced_live_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(long_request_closed, setup, teardown),
		cmocka_unit_test_setup_teardown(response_past_limit_cut_off, setup, teardown),
		cmocka_unit_test_setup_teardown(stuck_client_cut_off_others_served, setup, teardown),
		cmocka_unit_test_setup_teardown(client_cap, setup, teardown),
	};

	g_loop = ev_default_loop(0);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
