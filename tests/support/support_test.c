/*
 * support_test.c - tests of the test support code: httpc against the real
 * echo_server (and a few canned byte streams for parser edge cases), proc
 * with real child processes, the file helpers, and the pieces of domain.h
 * that need no ledge (JSON, base64, ports, running a command).
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "domain.h"
#include "httpc.h"
#include "proc.h"

#define HOST    "127.0.0.1"
#define WAIT_MS 10000
#define MIB     (1024 * 1024)

static int64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static char *
join(const char *dir, const char *name)
{
	size_t n = strlen(dir) + strlen(name) + 2;
	char *p = malloc(n);

	cr_assert_not_null(p);
	snprintf(p, n, "%s/%s", dir, name);
	return p;
}

static void
write_file(const char *path, const void *data, size_t len, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);

	cr_assert_geq(fd, 0, "open %s: %s", path, strerror(errno));
	cr_assert_eq(write(fd, data, len), (ssize_t)len);
	cr_assert_eq(close(fd), 0);
}

/* Whole file into a malloc'd buffer; *len its size. */
static char *
slurp(const char *path, size_t *len)
{
	struct stat st;
	char *buf;
	int fd = open(path, O_RDONLY);

	cr_assert_geq(fd, 0, "open %s: %s", path, strerror(errno));
	cr_assert_eq(fstat(fd, &st), 0);
	buf = malloc((size_t)st.st_size + 1);
	cr_assert_not_null(buf);
	cr_assert_eq(read(fd, buf, (size_t)st.st_size), st.st_size);
	buf[st.st_size] = '\0';
	close(fd);
	*len = (size_t)st.st_size;
	return buf;
}

/* A running echo_server with its scratch directory. */
struct echo {
	struct proc *proc;
	char *dir;
	char *log;
	int port;
};

static void
echo_start(struct echo *e)
{
	const char *argv[] = {
		test_path("ECHO_SERVER", "build/tests/support/echo_server"),
		NULL,
	};

	e->dir = tmpdir_make("support");
	cr_assert_not_null(e->dir, "tmpdir_make: %s", strerror(errno));
	e->log = join(e->dir, "echo.log");
	e->proc = proc_start(argv, e->log);
	cr_assert_not_null(
	    e->proc, "cannot start %s: %s", argv[0], strerror(errno));
	e->port = proc_http_port(e->proc, WAIT_MS);
	if (e->port <= 0) {
		char *log = proc_log(e->proc);

		cr_assert_fail("echo_server did not report a port; log:\n%s",
		    log != NULL ? log : "(none)");
	}
}

static void
echo_stop(struct echo *e)
{
	proc_free(e->proc);
	tmpdir_remove(e->dir);
	free(e->log);
	free(e->dir);
	memset(e, 0, sizeof(*e));
}

/* Expect SIGTERM to stop the server with status 0 (no sanitizer report). */
static void
echo_stop_clean(struct echo *e)
{
	int status = -1;

	cr_assert_eq(proc_kill(e->proc, SIGTERM), 0);
	cr_assert_eq(proc_wait(e->proc, WAIT_MS, &status), 0);
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		char *log = proc_log(e->proc);

		cr_assert_fail("echo_server exit status %#x; log:\n%s", status,
		    log != NULL ? log : "(none)");
		free(log);
	}
	echo_stop(e);
}

static bool
all_x(const char *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (p[i] != 'x') {
			return false;
		}
	}
	return true;
}

static bool
ends_with(const struct httpc_resp *r, const void *tail, size_t n)
{
	return r->body_len >= n &&
	    memcmp(r->body + r->body_len - n, tail, n) == 0;
}

/* The echoed header block contains this exact line. */
static bool
echoed_line(const struct httpc_resp *r, const char *line)
{
	size_t n = strlen(line);
	const char *p = r->body;

	while ((p = strstr(p, line)) != NULL) {
		if ((p == r->body || p[-1] == '\n') && p[n] == '\n') {
			return true;
		}
		p += n;
	}
	return false;
}

Test(httpc, keepalive_reuses_one_connection)
{
	struct echo e;
	struct httpc_resp r;
	struct httpc *c;
	char path[64], hdr[64], want[64];

	echo_start(&e);
	c = httpc_connect(HOST, e.port, WAIT_MS);
	cr_assert_not_null(c, "connect: %s", strerror(errno));
	for (int i = 0; i < 5; i++) {
		const char *headers[] = { hdr, "Accept: text/plain", NULL };

		snprintf(path, sizeof(path), "/echo?i=%d", i);
		snprintf(hdr, sizeof(hdr), "X-Test: value %d", i);
		cr_assert_eq(
		    httpc_request(c, "GET", path, headers, NULL, 0, &r), 0);
		cr_assert_eq(r.status, 200);
		snprintf(want, sizeof(want), "GET /echo?i=%d\n", i);
		cr_assert(strncmp(r.body, want, strlen(want)) == 0, "body: %s",
		    r.body);
		cr_assert(echoed_line(&r, hdr), "body: %s", r.body);
		snprintf(want, sizeof(want), "Host: %s:%d", HOST, e.port);
		cr_assert(echoed_line(&r, want), "body: %s", r.body);
		cr_assert_not(echoed_line(&r, "Content-Length: 0"),
		    "GET without body sent a Content-Length");
		httpc_resp_free(&r);
	}
	cr_assert_eq(httpc_request(c, "GET", "/count", NULL, NULL, 0, &r), 0);
	cr_assert_str_eq(r.body, "5");
	httpc_resp_free(&r);
	cr_assert_eq(httpc_connections(c), 1);
	httpc_close(c);
	echo_stop_clean(&e);
}

Test(httpc, post_body_is_echoed)
{
	struct echo e;
	struct httpc_resp r;
	struct httpc *c;
	char body[1000], buf[64];

	for (size_t i = 0; i < sizeof(body); i++) {
		body[i] = (char)(i * 7); /* includes NUL bytes */
	}
	echo_start(&e);
	c = httpc_connect(HOST, e.port, WAIT_MS);
	cr_assert_not_null(c);
	cr_assert_eq(
	    httpc_request(c, "POST", "/echo", NULL, body, sizeof(body), &r), 0);
	cr_assert_eq(r.status, 200);
	cr_assert(strncmp(r.body, "POST /echo\n", 11) == 0);
	cr_assert(echoed_line(&r, "Content-Length: 1000"), "%s", r.body);
	cr_assert(ends_with(&r, "\n\n", 2) == false);
	cr_assert(ends_with(&r, body, sizeof(body)));
	cr_assert_eq(r.body[r.body_len], '\0');
	cr_assert_str_eq(
	    httpc_resp_header(&r, "content-TYPE", buf, sizeof(buf)),
	    "text/plain");
	httpc_resp_free(&r);

	/* PUT without a body still says Content-Length: 0. */
	cr_assert_eq(httpc_request(c, "PUT", "/echo", NULL, NULL, 0, &r), 0);
	cr_assert(echoed_line(&r, "Content-Length: 0"), "%s", r.body);
	cr_assert(ends_with(&r, "\n\n", 2));
	httpc_resp_free(&r);

	/* A caller's Host replaces the default one. */
	{
		const char *headers[] = { "host: example.test", NULL };

		cr_assert_eq(
		    httpc_request(c, "GET", "/echo", headers, NULL, 0, &r), 0);
		cr_assert(echoed_line(&r, "host: example.test"), "%s", r.body);
		cr_assert_null(strstr(r.body, "Host: 127.0.0.1"));
		httpc_resp_free(&r);
	}
	cr_assert_eq(httpc_connections(c), 1);
	httpc_close(c);
	echo_stop_clean(&e);
}

Test(httpc, large_bodies_both_ways)
{
	struct echo e;
	struct httpc_resp r;
	struct httpc *c;
	char buf[64];
	size_t big = 2 * MIB;
	char *body = malloc(big);

	cr_assert_not_null(body);
	for (size_t i = 0; i < big; i++) {
		body[i] = (char)('a' + i % 26);
	}
	echo_start(&e);
	c = httpc_connect(HOST, e.port, WAIT_MS);
	cr_assert_not_null(c);

	/* 1 MiB with Content-Length. */
	cr_assert_eq(
	    httpc_request(c, "GET", "/big?bytes=1048576", NULL, NULL, 0, &r),
	    0);
	cr_assert_eq(r.status, 200);
	cr_assert_eq(r.body_len, (size_t)MIB);
	cr_assert(all_x(r.body, r.body_len));
	cr_assert_str_eq(
	    httpc_resp_header(&r, "Content-Length", buf, sizeof(buf)),
	    "1048576");
	cr_assert_null(
	    httpc_resp_header(&r, "Transfer-Encoding", buf, sizeof(buf)));
	httpc_resp_free(&r);

	/* 1 MiB in chunks, then the connection is still in step. */
	cr_assert_eq(httpc_request(c, "GET", "/big?bytes=1048576&chunked=1",
	                 NULL, NULL, 0, &r),
	    0);
	cr_assert_eq(r.status, 200);
	cr_assert_str_eq(
	    httpc_resp_header(&r, "transfer-encoding", buf, sizeof(buf)),
	    "chunked");
	cr_assert_eq(r.body_len, (size_t)MIB);
	cr_assert(all_x(r.body, r.body_len));
	httpc_resp_free(&r);

	cr_assert_eq(httpc_request(
	                 c, "GET", "/big?bytes=0&chunked=1", NULL, NULL, 0, &r),
	    0);
	cr_assert_eq(r.status, 200);
	cr_assert_eq(r.body_len, 0);
	cr_assert_str_eq(r.body, "");
	httpc_resp_free(&r);

	/* 2 MiB up and back. */
	cr_assert_eq(httpc_request(c, "POST", "/echo", NULL, body, big, &r), 0);
	cr_assert_eq(r.status, 200);
	cr_assert(ends_with(&r, body, big));
	httpc_resp_free(&r);

	cr_assert_eq(httpc_connections(c), 1);
	httpc_close(c);
	free(body);
	echo_stop_clean(&e);
}

Test(httpc, statuses_and_bodiless_responses)
{
	struct echo e;
	struct httpc_resp r;
	struct httpc *c;
	char buf[64];

	echo_start(&e);
	c = httpc_connect(HOST, e.port, WAIT_MS);
	cr_assert_not_null(c);

	cr_assert_eq(
	    httpc_request(c, "GET", "/status/503", NULL, NULL, 0, &r), 0);
	cr_assert_eq(r.status, 503);
	cr_assert_str_eq(r.body, "status 503");
	cr_assert(strncmp(r.head, "HTTP/1.1 503 ", 13) == 0, "%s", r.head);
	cr_assert_null(strstr(r.head, "\r\n\r\n"));
	httpc_resp_free(&r);

	cr_assert_eq(
	    httpc_request(c, "GET", "/status/204", NULL, NULL, 0, &r), 0);
	cr_assert_eq(r.status, 204);
	cr_assert_eq(r.body_len, 0);
	httpc_resp_free(&r);

	cr_assert_eq(httpc_request(c, "HEAD", "/echo", NULL, NULL, 0, &r), 0);
	cr_assert_eq(r.status, 200);
	cr_assert_eq(r.body_len, 0);
	cr_assert_not_null(
	    httpc_resp_header(&r, "Content-Length", buf, sizeof(buf)));
	cr_assert_neq(atoi(buf), 0);
	httpc_resp_free(&r);

	cr_assert_eq(
	    httpc_request(c, "GET", "/status/304", NULL, NULL, 0, &r), 0);
	cr_assert_eq(r.status, 304);
	cr_assert_eq(r.body_len, 0);
	httpc_resp_free(&r);

	cr_assert_eq(
	    httpc_request(c, "DELETE", "/nowhere", NULL, NULL, 0, &r), 0);
	cr_assert_eq(r.status, 404);
	httpc_resp_free(&r);

	/* Still in step after all the bodiless ones. */
	cr_assert_eq(httpc_request(c, "GET", "/count", NULL, NULL, 0, &r), 0);
	cr_assert_str_eq(r.body, "5");
	httpc_resp_free(&r);
	cr_assert_eq(httpc_connections(c), 1);
	httpc_close(c);
	echo_stop_clean(&e);
}

Test(httpc, slow_response_times_out)
{
	struct echo e;
	struct httpc_resp r;
	struct httpc *c;
	int64_t t0, dt;

	echo_start(&e);
	c = httpc_connect(HOST, e.port, 200);
	cr_assert_not_null(c);
	t0 = now_ms();
	cr_assert_eq(
	    httpc_request(c, "GET", "/slow?ms=3000", NULL, NULL, 0, &r),
	    HTTPC_ETIMEOUT);
	dt = now_ms() - t0;
	cr_assert(dt >= 190 && dt < 2000, "took %lld ms", (long long)dt);
	cr_assert_null(r.head);
	cr_assert_null(r.body);

	/* The timed-out connection is replaced, not reused. */
	httpc_set_timeout(c, WAIT_MS);
	cr_assert_eq(
	    httpc_request(c, "GET", "/slow?ms=50", NULL, NULL, 0, &r), 0);
	cr_assert_str_eq(r.body, "slow");
	httpc_resp_free(&r);
	cr_assert_eq(httpc_connections(c), 2);

	t0 = now_ms();
	cr_assert_eq(httpc_once(HOST, e.port, 100, "GET", "/slow?ms=3000", NULL,
	                 NULL, 0, &r),
	    HTTPC_ETIMEOUT);
	cr_assert_lt(now_ms() - t0, 2000);
	httpc_close(c);
	/* The server copes with slow requests whose clients left. */
	echo_stop_clean(&e);
}

Test(httpc, refused_after_server_is_gone)
{
	struct echo e;
	struct httpc_resp r;
	struct httpc *c;
	int port;

	echo_start(&e);
	port = e.port;
	c = httpc_connect(HOST, port, WAIT_MS);
	cr_assert_not_null(c);
	cr_assert_eq(httpc_request(c, "GET", "/echo", NULL, NULL, 0, &r), 0);
	httpc_resp_free(&r);
	echo_stop_clean(&e);

	/* The idle keep-alive connection died with the server. */
	cr_assert_eq(
	    httpc_request(c, "GET", "/echo", NULL, NULL, 0, &r), HTTPC_ECLOSED);
	cr_assert_eq(httpc_request(c, "GET", "/echo", NULL, NULL, 0, &r),
	    HTTPC_ECONNECT);
	httpc_close(c);

	cr_assert_eq(
	    httpc_once(HOST, port, 1000, "GET", "/echo", NULL, NULL, 0, &r),
	    HTTPC_ECONNECT);
	cr_assert_null(r.body);
	errno = 0;
	cr_assert_null(httpc_connect(HOST, port, 1000));
	cr_assert_eq(errno, ECONNREFUSED);
}

Test(httpc, close_route_gives_eclosed)
{
	struct echo e;
	struct httpc_resp r;
	struct httpc *c;

	echo_start(&e);
	c = httpc_connect(HOST, e.port, WAIT_MS);
	cr_assert_not_null(c);
	cr_assert_eq(httpc_request(c, "GET", "/close", NULL, NULL, 0, &r),
	    HTTPC_ECLOSED);
	cr_assert_eq(httpc_request(c, "GET", "/echo", NULL, NULL, 0, &r), 0);
	cr_assert_eq(r.status, 200);
	httpc_resp_free(&r);
	cr_assert_eq(httpc_connections(c), 2);
	cr_assert_eq(httpc_once(HOST, e.port, WAIT_MS, "POST", "/close", NULL,
	                 "abc", 3, &r),
	    HTTPC_ECLOSED);
	httpc_close(c);
	echo_stop_clean(&e);
}

Test(httpc, raw_request_in_pieces)
{
	static const char head[] = "POST /echo HTTP/1.1\r\n"
	                           "Host: raw\r\n"
	                           "Content-Length: 20\r\n"
	                           "\r\n"
	                           "0123456789";
	struct echo e;
	struct httpc_resp r;
	struct httpc *c;

	echo_start(&e);
	c = httpc_connect(HOST, e.port, 200);
	cr_assert_not_null(c);
	cr_assert_eq(httpc_send_raw(c, head, strlen(head)), 0);
	/* The server waits for the 10 missing bytes. */
	cr_assert_eq(httpc_read_response(c, &r), HTTPC_ETIMEOUT);
	cr_assert_eq(httpc_send_raw(c, "abcdefghij", 10), 0);
	httpc_set_timeout(c, WAIT_MS);
	cr_assert_eq(httpc_read_response(c, &r), 0);
	cr_assert_eq(r.status, 200);
	cr_assert(ends_with(&r, "\n\n0123456789abcdefghij", 22), "%s", r.body);
	httpc_resp_free(&r);
	cr_assert_eq(httpc_connections(c), 1);

	/* A request line the server cannot parse. */
	cr_assert_eq(httpc_send_raw(c, "garbage\r\n\r\n", 11), 0);
	{
		int rv = httpc_read_response(c, &r);

		cr_assert(rv == 0 && r.status == 400, "rv %d status %d", rv,
		    r.status);
		httpc_resp_free(&r);
	}

	/* httpc_request after raw bytes starts afresh. */
	cr_assert_eq(httpc_request(c, "GET", "/echo", NULL, NULL, 0, &r), 0);
	cr_assert_eq(r.status, 200);
	httpc_resp_free(&r);
	cr_assert_eq(httpc_connections(c), 2);
	httpc_close(c);
	echo_stop_clean(&e);
}

struct worker {
	int port;
	int id;
	int failures;
	char why[160];
};

#define PER_THREAD 25

static void *
worker_run(void *arg)
{
	struct worker *w = arg;
	struct httpc_resp r;
	struct httpc *c = httpc_connect(HOST, w->port, WAIT_MS);
	char body[128];
	int rv;

	if (c == NULL) {
		w->failures++;
		snprintf(
		    w->why, sizeof(w->why), "connect: %s", strerror(errno));
		return NULL;
	}
	/* All threads wait in /slow at once first. */
	rv = httpc_request(c, "GET", "/slow?ms=300", NULL, NULL, 0, &r);
	if (rv != 0 || r.status != 200 || strcmp(r.body, "slow") != 0) {
		w->failures++;
		snprintf(
		    w->why, sizeof(w->why), "slow: %s", httpc_strerror(rv));
	}
	httpc_resp_free(&r);
	for (int i = 1; i < PER_THREAD; i++) {
		int n = snprintf(
		    body, sizeof(body), "thread %d request %d", w->id, i);

		rv = httpc_request(
		    c, "POST", "/echo", NULL, body, (size_t)n, &r);
		if (rv != 0 || r.status != 200 ||
		    !ends_with(&r, body, (size_t)n)) {
			w->failures++;
			snprintf(w->why, sizeof(w->why), "request %d: %s", i,
			    httpc_strerror(rv));
		}
		httpc_resp_free(&r);
	}
	if (httpc_connections(c) != 1) {
		w->failures++;
		snprintf(w->why, sizeof(w->why), "%u connections",
		    httpc_connections(c));
	}
	httpc_close(c);
	return NULL;
}

Test(httpc, eight_concurrent_clients)
{
	enum { N = 8 };
	struct worker w[N];
	pthread_t th[N];
	struct echo e;
	struct httpc_resp r;
	char want[32];
	int64_t t0, dt;

	echo_start(&e);
	t0 = now_ms();
	for (int i = 0; i < N; i++) {
		w[i] = (struct worker) { .port = e.port, .id = i };
		cr_assert_eq(
		    pthread_create(&th[i], NULL, worker_run, &w[i]), 0);
	}
	for (int i = 0; i < N; i++) {
		cr_assert_eq(pthread_join(th[i], NULL), 0);
	}
	dt = now_ms() - t0;
	for (int i = 0; i < N; i++) {
		cr_expect_eq(w[i].failures, 0, "thread %d: %s", i, w[i].why);
	}
	/* Eight 300 ms waits overlapped instead of queueing. */
	cr_expect_lt(dt, N * 300, "took %lld ms", (long long)dt);
	cr_assert_eq(httpc_once(HOST, e.port, WAIT_MS, "GET", "/count", NULL,
	                 NULL, 0, &r),
	    0);
	snprintf(want, sizeof(want), "%d", N * PER_THREAD);
	cr_assert_str_eq(r.body, want);
	httpc_resp_free(&r);
	echo_stop_clean(&e);
}

Test(httpc, resp_header_lookup)
{
	char head[] = "HTTP/1.1 200 OK\r\n"
	              "Content-Type:  text/plain \r\n"
	              "X-A: 1\r\n"
	              "x-a: 2\r\n"
	              "Empty:\r\n";
	struct httpc_resp r = { .status = 200, .head = head };
	char buf[16];

	cr_assert_str_eq(
	    httpc_resp_header(&r, "content-type", buf, sizeof(buf)),
	    "text/plain");
	cr_assert_str_eq(httpc_resp_header(&r, "X-a", buf, sizeof(buf)), "1");
	cr_assert_str_eq(httpc_resp_header(&r, "empty", buf, sizeof(buf)), "");
	cr_assert_str_eq(httpc_resp_header(&r, "Content-Type", buf, 5), "text");
	cr_assert_null(httpc_resp_header(&r, "X", buf, sizeof(buf)));
	cr_assert_null(httpc_resp_header(&r, "HTTP/1.1 200 OK", buf, 16));
	cr_assert_null(httpc_resp_header(&r, "X-A", buf, 0));
	r.head = NULL;
	cr_assert_null(httpc_resp_header(&r, "X-A", buf, sizeof(buf)));
	httpc_resp_free(&r);
	httpc_resp_free(NULL);
}

Test(httpc, bad_arguments)
{
	const char *crlf[] = { "X-Bad: a\r\nInjected: b", NULL };
	const char *nocolon[] = { "NoColon", NULL };
	struct echo e;
	struct httpc_resp r;
	struct httpc *c;

	echo_start(&e);
	c = httpc_connect(HOST, e.port, WAIT_MS);
	cr_assert_not_null(c);
	cr_assert_eq(
	    httpc_request(c, "GET", "/echo", crlf, NULL, 0, &r), HTTPC_EINVAL);
	cr_assert_eq(httpc_request(c, "GET", "/echo", nocolon, NULL, 0, &r),
	    HTTPC_EINVAL);
	cr_assert_eq(
	    httpc_request(c, "GET", NULL, NULL, NULL, 0, &r), HTTPC_EINVAL);
	cr_assert_eq(
	    httpc_request(c, "GET", "/a b", NULL, NULL, 0, &r), HTTPC_EINVAL);
	cr_assert_eq(
	    httpc_request(c, "POST", "/echo", NULL, NULL, 5, &r), HTTPC_EINVAL);
	cr_assert_eq(httpc_send_raw(c, NULL, 5), HTTPC_EINVAL);
	cr_assert_null(r.head);
	/* Rejected before anything was sent: the connection is intact. */
	cr_assert_eq(httpc_request(c, "GET", "/count", NULL, NULL, 0, &r), 0);
	cr_assert_str_eq(r.body, "0");
	httpc_resp_free(&r);
	cr_assert_eq(httpc_connections(c), 1);
	httpc_close(c);
	echo_stop_clean(&e);

	cr_assert_null(httpc_connect(HOST, 0, 100));
	cr_assert_eq(errno, EINVAL);
	cr_assert_null(httpc_connect(NULL, 80, 100));
	cr_assert_eq(
	    httpc_once(HOST, 70000, 100, "GET", "/", NULL, NULL, 0, &r),
	    HTTPC_EINVAL);
	cr_assert_eq(
	    httpc_request(NULL, "GET", "/", NULL, NULL, 0, &r), HTTPC_EINVAL);
	cr_assert_null(r.body);
	cr_assert_eq(httpc_once("no-such-host.invalid", 80, 1000, "GET", "/",
	                 NULL, NULL, 0, &r),
	    HTTPC_ECONNECT);
	for (int i = 0; i <= HTTPC_EINVAL + 1; i++) {
		cr_assert_not_null(httpc_strerror(i));
	}
	httpc_close(NULL);
}

/* A one-shot server that answers any request with canned bytes. */
struct canned {
	int lfd;
	const char *reply;
	size_t len;
	bool drain; /* after replying, read until the client closes */
};

static void *
canned_run(void *arg)
{
	struct canned *cs = arg;
	struct pollfd pfd = { .fd = cs->lfd, .events = POLLIN };
	char buf[4096];
	size_t got = 0;
	int fd;

	if (poll(&pfd, 1, WAIT_MS) != 1 ||
	    (fd = accept(cs->lfd, NULL, NULL)) < 0) {
		return NULL;
	}
	/* Read the request head, then answer and close. */
	while (got < sizeof(buf) - 1) {
		ssize_t n;

		pfd = (struct pollfd) { .fd = fd, .events = POLLIN };
		if (poll(&pfd, 1, WAIT_MS) != 1 ||
		    (n = recv(fd, buf + got, sizeof(buf) - 1 - got, 0)) <= 0) {
			break;
		}
		got += (size_t)n;
		buf[got] = '\0';
		if (strstr(buf, "\r\n\r\n") != NULL) {
			break;
		}
	}
	(void)!send(fd, cs->reply, cs->len, MSG_NOSIGNAL);
	if (cs->drain) {
		/* End our side but keep reading, so the close is no reset. */
		(void)shutdown(fd, SHUT_WR);
		for (;;) {
			pfd = (struct pollfd) { .fd = fd, .events = POLLIN };
			if (poll(&pfd, 1, WAIT_MS) != 1 ||
			    recv(fd, buf, sizeof(buf), 0) <= 0) {
				break;
			}
		}
	}
	close(fd);
	return NULL;
}

/*
 * Serve `reply` once on a fresh port (draining the request if `drain`) and
 * send one request to it.
 */
static int
canned_request(const char *reply, bool drain, const char *method,
    const void *body, size_t len, struct httpc_resp *r)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	socklen_t slen = sizeof(sin);
	struct canned cs = {
		.reply = reply, .len = strlen(reply), .drain = drain
	};
	pthread_t th;
	int rv;

	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	cs.lfd = socket(AF_INET, SOCK_STREAM, 0);
	cr_assert_geq(cs.lfd, 0);
	cr_assert_eq(bind(cs.lfd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	cr_assert_eq(listen(cs.lfd, 1), 0);
	cr_assert_eq(getsockname(cs.lfd, (struct sockaddr *)&sin, &slen), 0);
	cr_assert_eq(pthread_create(&th, NULL, canned_run, &cs), 0);
	rv = httpc_once(HOST, ntohs(sin.sin_port), WAIT_MS, method, "/", NULL,
	    body, len, r);
	cr_assert_eq(pthread_join(th, NULL), 0);
	close(cs.lfd);
	return rv;
}

static int
canned_get(const char *reply, struct httpc_resp *r)
{
	return canned_request(reply, false, "GET", NULL, 0, r);
}

Test(httpc, early_response_stops_the_upload)
{
	size_t big = 64 * MIB;
	char *body = calloc(1, big);
	struct httpc_resp r;
	int64_t t0 = now_ms();

	cr_assert_not_null(body);
	cr_assert_eq(canned_request("HTTP/1.1 413 Payload Too Large\r\n"
	                            "Content-Length: 8\r\n"
	                            "Connection: close\r\n\r\n"
	                            "too big\n",
	                 true, "POST", body, big, &r),
	    0);
	cr_assert_eq(r.status, 413);
	cr_assert_str_eq(r.body, "too big\n");
	cr_assert_lt(now_ms() - t0, WAIT_MS);
	httpc_resp_free(&r);
	free(body);
}

Test(httpc, response_framing_edge_cases)
{
	struct httpc_resp r;
	char buf[32];

	cr_assert_eq(canned_get("HTTP/1.1 100 Continue\r\n\r\n"
	                        "HTTP/1.1 200 OK\r\n"
	                        "Transfer-Encoding: gzip, Chunked\r\n"
	                        "\r\n"
	                        "5;name=value\r\nhello\r\n"
	                        "A\r\n, chunked!\r\n"
	                        "0\r\n"
	                        "X-Trailer: t\r\n"
	                        "\r\n",
	                 &r),
	    0);
	cr_assert_eq(r.status, 200);
	cr_assert_str_eq(r.body, "hello, chunked!");
	cr_assert(
	    strncmp(r.head, "HTTP/1.1 200 OK\r\n", 17) == 0, "%s", r.head);
	httpc_resp_free(&r);

	cr_assert_eq(canned_get("HTTP/1.0 200 OK\r\n\r\nuntil close", &r), 0);
	cr_assert_str_eq(r.body, "until close");
	httpc_resp_free(&r);

	cr_assert_eq(canned_get("HTTP/1.1 201 Created\r\n"
	                        "content-length: 3\r\n"
	                        "Connection: close\r\n\r\nabcdef",
	                 &r),
	    0);
	cr_assert_eq(r.status, 201);
	cr_assert_eq(r.body_len, 3);
	cr_assert_str_eq(r.body, "abc");
	cr_assert_str_eq(
	    httpc_resp_header(&r, "connection", buf, sizeof(buf)), "close");
	httpc_resp_free(&r);

	cr_assert_eq(canned_get("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n"
	                        "\r\nshort",
	                 &r),
	    HTTPC_ECLOSED);
	cr_assert_eq(canned_get("HTTP/1.1 200 OK\r\nTransfer-Encoding: "
	                        "chunked\r\n\r\n5\r\nhel",
	                 &r),
	    HTTPC_ECLOSED);
	cr_assert_eq(canned_get("", &r), HTTPC_ECLOSED);
	cr_assert_eq(canned_get("SSH-2.0-OpenSSH\r\n\r\n", &r), HTTPC_EPROTO);
	cr_assert_eq(canned_get("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n"
	                        "Content-Length: 6\r\n\r\nhello!",
	                 &r),
	    HTTPC_EPROTO);
	cr_assert_eq(
	    canned_get("HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", &r),
	    HTTPC_EPROTO);
	cr_assert_eq(canned_get("HTTP/1.1 200 OK\r\nTransfer-Encoding: "
	                        "chunked\r\n\r\nzz\r\n",
	                 &r),
	    HTTPC_EPROTO);
	cr_assert_null(r.head);
}

/* A shell command as a child, logging into dir/name. */
static struct proc *
sh(const char *dir, const char *name, const char *script, char **log)
{
	const char *argv[] = { "/bin/sh", "-c", script, NULL };
	struct proc *p;

	*log = join(dir, name);
	p = proc_start(argv, *log);
	cr_assert_not_null(p, "proc_start: %s", strerror(errno));
	return p;
}

Test(proc, wait_log_kill_wait)
{
	char *dir = tmpdir_make("proc"), *log;
	struct proc *p;
	int64_t t0;
	int status = 0;

	cr_assert_not_null(dir);
	p = sh(dir, "a.log",
	    "echo starting; sleep 0.2; echo ready; echo ready; exec sleep 30",
	    &log);
	cr_assert_eq(proc_wait_log(p, "ready", WAIT_MS), 0);
	cr_assert_eq(proc_wait_log_count(p, "ready", 2, WAIT_MS), 0);
	t0 = now_ms();
	cr_assert_eq(proc_wait_log_count(p, "ready", 3, 200), -1);
	cr_assert_geq(now_ms() - t0, 190);
	cr_assert(proc_running(p));
	cr_assert_gt(proc_pid(p), 0);
	cr_assert_eq(proc_wait(p, 50, &status), -1);

	cr_assert_eq(proc_kill(p, SIGTERM), 0);
	cr_assert_eq(proc_wait(p, WAIT_MS, &status), 0);
	cr_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGTERM,
	    "status %#x", status);
	cr_assert_not(proc_running(p));
	cr_assert_eq(proc_kill(p, SIGTERM), -1);
	cr_assert_eq(errno, ESRCH);
	/* Waiting again reports the same status. */
	status = 0;
	cr_assert_eq(proc_wait(p, 0, &status), 0);
	cr_assert_eq(WTERMSIG(status), SIGTERM);
	proc_free(p);
	free(log);
	tmpdir_remove(dir);
	free(dir);
}

/* Whether `pid` is gone or a zombie (reaped later by whoever adopted it). */
static bool
dead(pid_t pid)
{
	char path[64], buf[256], *rp;
	size_t n;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	if ((f = fopen(path, "r")) == NULL) {
		return true;
	}
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	rp = strrchr(buf, ')');
	return rp != NULL && (rp[2] == 'Z' || rp[2] == 'X');
}

Test(proc, kill_reaches_the_whole_group)
{
	char *dir = tmpdir_make("proc"), *log, *text, *at;
	struct proc *p;
	int64_t t0;
	int status;
	long grandchild;

	cr_assert_not_null(dir);
	p = sh(dir, "g.log", "sleep 30 & echo \"child $!\"; wait", &log);
	cr_assert_eq(proc_wait_log(p, "\n", WAIT_MS), 0);
	text = proc_log(p);
	cr_assert_not_null(text);
	at = strstr(text, "child ");
	cr_assert_not_null(at, "%s", text);
	grandchild = strtol(at + 6, NULL, 10);
	cr_assert_gt(grandchild, 0);
	free(text);
	cr_assert_not(dead((pid_t)grandchild));

	cr_assert_eq(proc_kill(p, SIGTERM), 0);
	cr_assert_eq(proc_wait(p, WAIT_MS, &status), 0);
	t0 = now_ms();
	while (!dead((pid_t)grandchild) && now_ms() - t0 < WAIT_MS) {
		usleep(10000);
	}
	cr_assert(
	    dead((pid_t)grandchild), "grandchild %ld survived", grandchild);
	proc_free(p);
	free(log);
	tmpdir_remove(dir);
	free(dir);
}

Test(proc, exit_before_needle)
{
	char *dir = tmpdir_make("proc"), *log, *text;
	struct proc *p;
	int64_t t0;
	int status = 0;

	cr_assert_not_null(dir);
	p = sh(dir, "b.log", "echo bye; echo oops >&2; exit 3", &log);
	t0 = now_ms();
	cr_assert_eq(proc_wait_log(p, "never printed", WAIT_MS), -1);
	cr_assert_lt(now_ms() - t0, WAIT_MS / 2);
	cr_assert_eq(proc_http_port(p, WAIT_MS), -1);
	/* Output written before the exit is still found. */
	cr_assert_eq(proc_wait_log(p, "oops", WAIT_MS), 0);
	cr_assert_eq(proc_wait(p, WAIT_MS, &status), 0);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 3);
	text = proc_log(p);
	cr_assert_str_eq(text, "bye\noops\n");
	free(text);
	proc_free(p);
	free(log);
	tmpdir_remove(dir);
	free(dir);
}

Test(proc, timeouts_and_free_kills)
{
	char *dir = tmpdir_make("proc"), *log, path[64];
	struct proc *p;
	int64_t t0, dt;
	pid_t pid;

	cr_assert_not_null(dir);
	p = sh(dir, "c.log", "exec sleep 30", &log);
	t0 = now_ms();
	cr_assert_eq(proc_wait_log(p, "x", 100), -1);
	cr_assert_eq(proc_http_port(p, 100), -1);
	cr_assert_eq(proc_wait(p, 100, NULL), -1);
	dt = now_ms() - t0;
	cr_assert(dt >= 290 && dt < 3000, "took %lld ms", (long long)dt);
	pid = proc_pid(p);
	proc_free(p);
	snprintf(path, sizeof(path), "/proc/%d", (int)pid);
	cr_assert_neq(access(path, F_OK), 0, "pid %d still exists", (int)pid);
	proc_free(NULL);
	free(log);
	tmpdir_remove(dir);
	free(dir);
}

Test(proc, start_failures)
{
	const char *missing[] = { "/nonexistent/ledge-binary", NULL };
	const char *ok[] = { "/bin/true", NULL };
	const char *empty[] = { NULL };
	char *dir = tmpdir_make("proc"), *log;

	cr_assert_not_null(dir);
	log = join(dir, "f.log");
	errno = 0;
	cr_assert_null(proc_start(missing, log));
	cr_assert_eq(errno, ENOENT);
	cr_assert_null(proc_start(ok, "/nonexistent/dir/f.log"));
	cr_assert_eq(errno, ENOENT);
	cr_assert_null(proc_start(empty, log));
	cr_assert_eq(errno, EINVAL);
	free(log);
	tmpdir_remove(dir);
	free(dir);
}

Test(proc, log_appends_and_port_is_this_childs)
{
	char *dir = tmpdir_make("proc"), *log, *text;
	const char *old = "earlier run: listening on http://127.0.0.1:1\n";
	struct proc *p;
	int status;

	cr_assert_not_null(dir);
	log = join(dir, "d.log");
	write_file(log, old, strlen(old), 0644);
	free(log);
	/* The port is only complete with its end of line. */
	p = sh(dir, "d.log",
	    "printf 'listening on http://127.0.0.1:12'; sleep 0.3;"
	    " printf '34\\n'; echo err >&2",
	    &log);
	cr_assert_eq(proc_http_port(p, WAIT_MS), 1234);
	cr_assert_eq(proc_wait(p, WAIT_MS, &status), 0);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	text = proc_log(p);
	cr_assert_not_null(text);
	cr_assert(strncmp(text, old, strlen(old)) == 0, "%s", text);
	cr_assert_str_eq(
	    text + strlen(old), "listening on http://127.0.0.1:1234\nerr\n");
	free(text);
	/* The whole file is searched, including the earlier run. */
	cr_assert_eq(proc_wait_log_count(p, "listening on", 2, 100), 0);
	proc_free(p);
	free(log);
	tmpdir_remove(dir);
	free(dir);
}

Test(proc, child_gets_a_clean_slate)
{
	char *dir = tmpdir_make("proc"), *log, script[160], *text;
	sigset_t block;
	struct proc *p;
	void (*old)(int);
	int status = 0, fd;

	cr_assert_not_null(dir);
	/* A descriptor without O_CLOEXEC must still not leak. */
	fd = open("/dev/null", O_RDONLY);
	cr_assert_geq(fd, 3);
	/* Neither may a blocked or ignored signal. */
	sigemptyset(&block);
	sigaddset(&block, SIGTERM);
	cr_assert_eq(sigprocmask(SIG_BLOCK, &block, NULL), 0);
	old = signal(SIGINT, SIG_IGN);
	cr_assert_neq(old, SIG_ERR);
	snprintf(script, sizeof(script),
	    "if [ -e /proc/$$/fd/%d ]; then echo LEAKED; else echo CLEAN; fi;"
	    " exec sleep 30",
	    fd);
	p = sh(dir, "e.log", script, &log);
	cr_assert_eq(proc_wait_log(p, "\n", WAIT_MS), 0);
	text = proc_log(p);
	cr_assert_str_eq(text, "CLEAN\n");
	free(text);
	cr_assert_eq(proc_kill(p, SIGINT), 0);
	cr_assert_eq(proc_wait(p, WAIT_MS, &status), 0);
	cr_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGINT,
	    "status %#x", status);
	cr_assert_eq(sigprocmask(SIG_UNBLOCK, &block, NULL), 0);
	cr_assert_neq(signal(SIGINT, old), SIG_ERR);
	close(fd);
	proc_free(p);
	free(log);
	tmpdir_remove(dir);
	free(dir);
}

Test(proc, echo_server_restart_on_the_same_log)
{
	struct echo e;
	struct httpc_resp r;
	char portarg[16];
	const char *argv[3];
	struct proc *p;
	int port;

	echo_start(&e);
	port = e.port;
	cr_assert_eq(proc_kill(e.proc, SIGTERM), 0);
	cr_assert_eq(proc_wait(e.proc, WAIT_MS, NULL), 0);
	proc_free(e.proc);

	/* Again on the same port, appending to the same log. */
	argv[0] = test_path("ECHO_SERVER", "build/tests/support/echo_server");
	snprintf(portarg, sizeof(portarg), "%d", port);
	argv[1] = portarg;
	argv[2] = NULL;
	e.proc = p = proc_start(argv, e.log);
	cr_assert_not_null(p);
	cr_assert_eq(proc_http_port(p, WAIT_MS), port);
	cr_assert_eq(proc_wait_log_count(p, "listening on", 2, WAIT_MS), 0);
	cr_assert_eq(
	    httpc_once(HOST, port, WAIT_MS, "GET", "/count", NULL, NULL, 0, &r),
	    0);
	cr_assert_str_eq(r.body, "0");
	httpc_resp_free(&r);
	echo_stop_clean(&e);
}

Test(files, tmpdir_make_and_remove)
{
	char *dir, *out, *sub, *deep, *ro, *link, *keep, *path;
	struct stat st;
	size_t len;

	out = tmpdir_make("outside");
	cr_assert_not_null(out);
	keep = join(out, "keep");
	write_file(keep, "keep", 4, 0644);

	/* Under $TMPDIR when set. */
	cr_assert_eq(setenv("TMPDIR", out, 1), 0);
	dir = tmpdir_make("unit");
	cr_assert_not_null(dir, "%s", strerror(errno));
	cr_assert_eq(unsetenv("TMPDIR"), 0);
	len = strlen(out) + strlen("/ledge-test-unit-");
	cr_assert_eq(strlen(dir), len + 6, "%s", dir);
	path = join(out, "ledge-test-unit-");
	cr_assert(strncmp(dir, path, len) == 0, "%s", dir);
	free(path);
	cr_assert_eq(stat(dir, &st), 0);
	cr_assert(S_ISDIR(st.st_mode));
	cr_assert_eq(st.st_mode & 0777, 0700);

	sub = join(dir, "sub");
	deep = join(sub, "deep");
	ro = join(dir, "readonly");
	link = join(dir, "link");
	cr_assert_eq(mkdir(sub, 0755), 0);
	cr_assert_eq(mkdir(deep, 0755), 0);
	path = join(deep, "file");
	write_file(path, "data", 4, 0644);
	free(path);
	cr_assert_eq(mkdir(ro, 0755), 0);
	path = join(ro, "file");
	write_file(path, "data", 4, 0444);
	free(path);
	cr_assert_eq(chmod(ro, 0500), 0);
	cr_assert_eq(symlink(out, link), 0);

	tmpdir_remove(dir);
	cr_assert_neq(lstat(dir, &st), 0);
	cr_assert_eq(errno, ENOENT);
	/* The link was removed, not followed. */
	cr_assert_eq(stat(keep, &st), 0);
	tmpdir_remove(dir);
	tmpdir_remove("");
	tmpdir_remove(NULL);

	free(dir);
	cr_assert_eq(setenv("TMPDIR", "/tmp///", 1), 0);
	dir = tmpdir_make(NULL);
	cr_assert_not_null(dir);
	cr_assert(strncmp(dir, "/tmp/ledge-test-tmp-", 20) == 0, "%s", dir);
	tmpdir_remove(dir);

	tmpdir_remove(out);
	cr_assert_neq(stat(out, &st), 0);
	free(dir);
	free(out);
	free(sub);
	free(deep);
	free(ro);
	free(link);
	free(keep);
}

Test(files, copy_file_is_atomic_and_keeps_mode)
{
	char *dir = tmpdir_make("copy"), *src, *dst, *tmp, *data, *got;
	size_t n = 200 * 1000, len;
	struct stat st;
	uint32_t x = 12345;

	cr_assert_not_null(dir);
	src = join(dir, "src.so");
	dst = join(dir, "dst.so");
	tmp = join(dir, "dst.so.tmp");
	data = malloc(n);
	cr_assert_not_null(data);
	for (size_t i = 0; i < n; i++) {
		x = x * 1103515245u + 12345u;
		data[i] = (char)(x >> 16);
	}
	write_file(src, data, n, 0751);
	cr_assert_eq(chmod(src, 0751), 0);
	write_file(dst, "old", 3, 0600);

	cr_assert_eq(copy_file(src, dst), 0, "%s", strerror(errno));
	got = slurp(dst, &len);
	cr_assert_eq(len, n);
	cr_assert(memcmp(got, data, n) == 0);
	free(got);
	cr_assert_eq(stat(dst, &st), 0);
	cr_assert_eq(st.st_mode & 07777, 0751);
	cr_assert_neq(access(tmp, F_OK), 0);

	/* A failed copy leaves the destination alone. */
	free(src);
	src = join(dir, "missing");
	cr_assert_eq(copy_file(src, dst), -1);
	cr_assert_eq(errno, ENOENT);
	got = slurp(dst, &len);
	cr_assert_eq(len, n);
	free(got);
	free(src);
	src = dst;
	dst = join(dir, "no/such/dir");
	cr_assert_eq(copy_file(src, dst), -1);
	cr_assert_eq(errno, ENOENT);

	free(data);
	free(src);
	free(dst);
	free(tmp);
	tmpdir_remove(dir);
	free(dir);
}

Test(files, test_path_prefers_the_environment)
{
	cr_assert_eq(setenv("LEDGE_SUPPORT_TEST_VAR", "/from/env", 1), 0);
	cr_assert_str_eq(
	    test_path("LEDGE_SUPPORT_TEST_VAR", "/fallback"), "/from/env");
	cr_assert_eq(setenv("LEDGE_SUPPORT_TEST_VAR", "", 1), 0);
	cr_assert_str_eq(
	    test_path("LEDGE_SUPPORT_TEST_VAR", "/fallback"), "/fallback");
	cr_assert_eq(unsetenv("LEDGE_SUPPORT_TEST_VAR"), 0);
	cr_assert_str_eq(
	    test_path("LEDGE_SUPPORT_TEST_VAR", "/fallback"), "/fallback");
}

/* ------------------------------------------------------------------ */
/* domain.h: what needs no ledge                                       */

Test(dom, json_reads_what_the_cli_prints)
{
	char err[128];
	struct dj *v = dj_parse(
	    " {\"ok\":true,\"nodes\":[{\"name\":\"n1\",\"labels\":"
	    "{\"zone\":\"south\"},\"epoch\":3,\"lag\":-2.5e1},"
	    "{\"name\":\"n\\\"2\\\\\",\"epoch\":18446744073709551615,"
	    "\"node\":null}],\"s\":\"a\\n\\u00e9\\ud83d\\ude00/\\/\"}\n",
	    err, sizeof err);
	const struct dj *nodes, *n2;

	cr_assert_not_null(v, "%s", err);
	cr_assert(dj_true(dj_get(v, "ok")));
	nodes = dj_get(v, "nodes");
	cr_assert_eq(dj_len(nodes), 2);
	cr_assert_str_eq(dj_gets(dj_at(nodes, 0), "name"), "n1");
	cr_assert_str_eq(
	    dj_gets(dj_get(dj_at(nodes, 0), "labels"), "zone"), "south");
	cr_assert_eq(dj_int(dj_get(dj_at(nodes, 0), "epoch"), -1), 3);
	cr_assert_eq(dj_get(dj_at(nodes, 0), "lag")->num, -25.0);
	cr_assert_eq(dj_int(dj_get(dj_at(nodes, 0), "lag"), 7), 7);
	n2 = dj_find(nodes, "name", "n\"2\\");
	cr_assert_not_null(n2);
	/* Beyond int64_t: a number, not an integer. */
	cr_assert_eq(dj_int(dj_get(n2, "epoch"), -1), -1);
	cr_assert_eq(dj_get(n2, "node")->type, DJ_NULL);
	cr_assert_null(dj_gets(n2, "node"));
	cr_assert_null(dj_find(nodes, "name", "n3"));
	cr_assert_str_eq(dj_gets(v, "s"), "a\n\xc3\xa9\xf0\x9f\x98\x80//");
	cr_assert_null(dj_get(v, "missing"));
	cr_assert_null(dj_at(nodes, 2));
	cr_assert_null(dj_get(nodes, "name"));
	dj_free(v);

	v = dj_parse("\"a\\u0000b\"", err, sizeof err);
	cr_assert_not_null(v, "%s", err);
	cr_assert_eq(v->len, 3);
	cr_assert_eq(memcmp(v->str, "a\0b", 3), 0);
	dj_free(v);
	v = dj_parse("[]", err, sizeof err);
	cr_assert_eq(dj_len(v), 0);
	cr_assert_eq(v->type, DJ_ARR);
	dj_free(v);
}

Test(dom, json_refuses_what_is_not_json)
{
	static const char *const bad[] = { "", "  ", "{", "[1,]", "{\"a\" 1}",
		"{\"a\":}", "{1:2}", "tru", "01", "-", "1.", "1e", "\"abc",
		"1 2", "\"\x01\"", "\"\\q\"", "\"\\u12g4\"", "[1 2]", "nul" };
	char err[128];

	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		struct dj *v = dj_parse(bad[i], err, sizeof err);
		cr_expect_null(v, "accepted '%s'", bad[i]);
		cr_expect(
		    strncmp(err, "at byte ", 8) == 0, "'%s': %s", bad[i], err);
		dj_free(v);
	}
	cr_assert_null(dj_parse(NULL, err, sizeof err));
}

Test(dom, base64_decodes_state_values)
{
	unsigned char *out;
	size_t len;

	cr_assert_eq(dom_b64_decode("AwAAAAAAAAA=", &out, &len), 0);
	cr_assert_eq(len, 8);
	cr_assert_eq(out[0], 3);
	for (int i = 1; i < 8; i++) {
		cr_assert_eq(out[i], 0);
	}
	free(out);
	cr_assert_eq(dom_b64_decode("bg==", &out, &len), 0);
	cr_assert_eq(len, 1);
	cr_assert_str_eq((char *)out, "n");
	free(out);
	cr_assert_eq(dom_b64_decode("aGVsbG8", &out, &len), 0);
	cr_assert_str_eq((char *)out, "hello");
	free(out);
	cr_assert_eq(dom_b64_decode("+/+/", &out, &len), 0);
	cr_assert_eq(len, 3);
	cr_assert_eq(out[0], 0xfb);
	cr_assert_eq(out[1], 0xff);
	cr_assert_eq(out[2], 0xbf);
	free(out);
	cr_assert_eq(dom_b64_decode("", &out, &len), 0);
	cr_assert_eq(len, 0);
	free(out);
	cr_assert_eq(dom_b64_decode("a$==", &out, &len), -1);
	cr_assert_null(out);
	cr_assert_eq(dom_b64_decode("a", &out, &len), -1);
	cr_assert_eq(dom_b64_decode("ab===", &out, &len), -1);
}

Test(dom, exec_keeps_stdout_and_stderr_apart)
{
	char *sh = dom_which("sh"), *out, *err;
	int64_t t0;
	int rc;

	cr_assert_not_null(sh);
	rc = dom_exec((const char *const[]) { sh, "-c",
	                  "echo out; echo err >&2; exit 3", NULL },
	    10000, &out, &err);
	cr_assert_eq(rc, 3);
	cr_assert_str_eq(out, "out\n");
	cr_assert_str_eq(err, "err\n");
	free(out);
	free(err);
	rc = dom_exec((const char *const[]) { sh, "-c", "kill -9 $$", NULL },
	    10000, NULL, NULL);
	cr_assert_eq(rc, 128 + SIGKILL);
	t0 = now_ms();
	rc = dom_exec((const char *const[]) { sh, "-c", "sleep 30", NULL }, 200,
	    &out, NULL);
	cr_assert_eq(rc, -1);
	cr_assert_lt(now_ms() - t0, 5000);
	cr_assert_str_eq(out, "");
	free(out);
	rc = dom_exec((const char *const[]) { "/nonexistent/ledge", NULL },
	    10000, NULL, &err);
	cr_assert_eq(rc, 127);
	free(err);
	free(sh);
	cr_assert_null(dom_which("no-such-command-ledge-test"));
}
