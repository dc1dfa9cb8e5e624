/*
 * http_test.c - the HTTP server (runtime/platform/http.h) on loopback,
 * driven by raw bytes: what version its answers carry, including the
 * answers libevent writes before any handler sees the request.
 */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "platform/http.h"
#include "platform/loop.h"

static struct loop *loop;
static struct http_server *srv;
static pthread_t thread;

static void
answer_ok(void *arg, struct http_req *r)
{
	(void)arg;
	http_req_respond(r, 200, "text/plain", NULL, 0, "ok\n", 3);
}

static void *
run(void *arg)
{
	(void)arg;
	loop_run(loop);
	return NULL;
}

static void
start(void)
{
	char err[256];
	cr_assert_eq(loop_new(&loop), LEDGE_OK);
	cr_assert_eq(
	    http_server_new(loop, "127.0.0.1:0", &srv, err, sizeof err),
	    LEDGE_OK, "%s", err);
	http_server_set_handler(srv, answer_ok, NULL);
	cr_assert_eq(pthread_create(&thread, NULL, run, NULL), 0);
}

static void
stop_on_loop(void *arg)
{
	(void)arg;
	http_server_free(srv);
	loop_exit(loop);
}

static void
stop(void)
{
	loop_post(loop, stop_on_loop, NULL);
	pthread_join(thread, NULL);
	loop_free(loop);
}

TestSuite(http, .init = start, .fini = stop, .timeout = 30);

static int
dial(void)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	cr_assert_geq(fd, 0);
	sa.sin_port = htons((uint16_t)http_server_port(srv));
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	cr_assert_eq(connect(fd, (struct sockaddr *)&sa, sizeof sa), 0);
	return fd;
}

static void
put(int fd, const char *s)
{
	size_t len = strlen(s);
	cr_assert_eq(send(fd, s, len, MSG_NOSIGNAL), (ssize_t)len);
}

/* Read until `until` is in out, the peer closes, or 5 s pass. */
static void
get(int fd, char *out, size_t cap, const char *until)
{
	size_t got = 0;
	out[0] = '\0';
	while (got < cap - 1 && (until == NULL || strstr(out, until) == NULL)) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		ssize_t n;
		if (poll(&p, 1, 5000) <= 0 ||
		    (n = recv(fd, out + got, cap - 1 - got, 0)) <= 0) {
			break;
		}
		got += (size_t)n;
		out[got] = '\0';
	}
}

/* The whole answer to one request sent on a connection of its own. */
static void
ask(const char *req, char *out, size_t cap)
{
	int fd = dial();
	put(fd, req);
	shutdown(fd, SHUT_WR);
	get(fd, out, cap, NULL);
	close(fd);
}

Test(http, a_handled_request_is_answered_in_its_version)
{
	char out[4096];
	ask("GET /x HTTP/1.1\r\nHost: h\r\n\r\n", out, sizeof out);
	cr_assert_eq(strncmp(out, "HTTP/1.1 200 ", 13), 0, "%s", out);
	ask("GET /x HTTP/1.0\r\n\r\n", out, sizeof out);
	cr_assert_eq(strncmp(out, "HTTP/1.0 200 ", 13), 0, "%s", out);
}

/* A fuzzer found "HTTP/1.5 400": libevent answers a bad header line
 * itself, in whatever version the request line named. */
Test(http, libevents_own_answers_speak_http_1_1)
{
	static const char *const reqs[] = {
		"GET /x HTTP/1.5\r\nNo colon here\r\n\r\n",
		"GET /x HTTP/1.12345\r\nNo colon here\r\n\r\n",
		"GET /x HTTP/-7.3\r\nNo colon here\r\n\r\n",
		"GET /x HTTP/0.9\r\nNo colon here\r\n\r\n",
		"POST /x HTTP/1.2\r\nContent-Length: nope\r\n\r\n",
	};
	char out[4096];
	for (size_t i = 0; i < sizeof reqs / sizeof reqs[0]; i++) {
		ask(reqs[i], out, sizeof out);
		cr_assert_eq(strncmp(out, "HTTP/1.1 400 ", 13), 0,
		    "request %zu: %s", i, out);
	}
}

Test(http, an_unsupported_version_that_parses_is_505_in_1_1)
{
	char out[4096];
	ask("GET /x HTTP/1.7\r\nHost: h\r\n\r\n", out, sizeof out);
	cr_assert_eq(strncmp(out, "HTTP/1.1 505 ", 13), 0, "%s", out);
}

/* The interim answer to Expect: 100-continue comes from libevent too, and
 * the final answer follows it in the same buffer. */
Test(http, interim_and_final_answers_both_speak_http_1_1)
{
	char out[4096];
	int fd = dial();
	put(fd,
	    "POST /x HTTP/1.3\r\nHost: h\r\nExpect: 100-continue\r\n"
	    "Content-Length: 2\r\n\r\n");
	get(fd, out, sizeof out, "\r\n\r\n");
	cr_assert_eq(
	    strncmp(out, "HTTP/1.1 100 Continue\r\n\r\n", 25), 0, "%s", out);
	put(fd, "ab");
	shutdown(fd, SHUT_WR);
	get(fd, out, sizeof out, NULL);
	close(fd);
	cr_assert_eq(strncmp(out, "HTTP/1.1 505 ", 13), 0, "%s", out);
}

Test(http, keep_alive_answers_all_speak_http_1_1)
{
	char out[4096];
	int fd = dial();
	put(fd, "GET /a HTTP/1.1\r\nHost: h\r\n\r\n");
	get(fd, out, sizeof out, "ok\n");
	cr_assert_eq(strncmp(out, "HTTP/1.1 200 ", 13), 0, "%s", out);
	put(fd, "GET /b HTTP/1.4\r\nNo colon\r\n\r\n");
	shutdown(fd, SHUT_WR);
	get(fd, out, sizeof out, NULL);
	close(fd);
	cr_assert_eq(strncmp(out, "HTTP/1.1 400 ", 13), 0, "%s", out);
}
