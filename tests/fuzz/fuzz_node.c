/*
 * fuzz_node.c - see fuzz_node.h.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <ftw.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "base/diag.h"
#include "base/rlog.h"
#include "fuzz_node.h"
#include "node/node.h"
#include "platform/http.h"
#include "resources/resources.h"
#include "workflow/workflow.h"

#ifndef FUZZ_FIXTURES
#error "FUZZ_FIXTURES: the folder of the built test fixtures"
#endif

static const char wf_text[] =
    "workflow: fz\n"
    "functions:\n"
    "  echo: { code: " FUZZ_FIXTURES "/echo.so }\n"
    "  tally: { code: " FUZZ_FIXTURES "/tally.so }\n"
    "  sdk: { code: " FUZZ_FIXTURES "/sdk_http.so }\n"
    "  keyed: { code: " FUZZ_FIXTURES "/keyed.so, keyed: { idle_s: 1 } }\n"
    "resources:\n"
    "  web:\n"
    "    type: http-ingress\n"
    "    config: { path: /echo, methods: [GET, POST, PUT, DELETE] }\n"
    "    outputs: { request: echo }\n"
    "  count:\n"
    "    type: http-ingress\n"
    "    config: { path: /count, methods: [POST], mode: cast }\n"
    "    outputs: { request: tally }\n"
    "  sdkweb:\n"
    "    type: http-ingress\n"
    "    config: { path: /sdk, methods: [GET, POST] }\n"
    "    outputs: { request: sdk }\n"
    "  bykey:\n"
    "    type: http-ingress\n"
    "    config: { prefix: /k/, key: path }\n"
    "    outputs: { request: keyed }\n"
    "  byheader:\n"
    "    type: http-ingress\n"
    "    config: { path: /kh, key: \"header:X-Key\", mode: cast }\n"
    "    outputs: { request: keyed }\n"
    "  byquery:\n"
    "    type: http-ingress\n"
    "    config: { path: /kq, key: \"query:k\" }\n"
    "    outputs: { request: keyed }\n";

/* The one node of the process (a fuzz target has no other place to keep
 * it: libFuzzer calls a plain function). */
static struct {
	pthread_once_t once;
	struct rlog log;
	struct node *node;
	pthread_t thread;
	char dir[64];
	int port;
	unsigned calls;
	uint32_t conns;
} fz = { .once = PTHREAD_ONCE_INIT };

static void *
loop_main(void *arg)
{
	(void)arg;
	node_run(fz.node);
	return NULL;
}

static int
rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	return flag == FTW_DP ? rmdir(path) : unlink(path);
}

static void
stop_node(void)
{
	node_request_stop(fz.node);
	pthread_join(fz.thread, NULL);
	node_free(fz.node);
	rlog_fini(&fz.log);
	nftw(fz.dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static void
die(const char *what, const char *why)
{
	fprintf(stderr, "fuzz node: %s: %s\n", what, why);
	abort();
}

static void
start_node(void)
{
	struct node_opts o = { 0 };
	struct workflow *wf;
	struct diag d;
	char err[1024];

	snprintf(fz.dir, sizeof fz.dir, "/tmp/ledge-fuzz-XXXXXX");
	if (mkdtemp(fz.dir) == NULL) {
		die("mkdtemp", strerror(errno));
	}
	/* Errors the inputs provoke are expected: only the node's own
	 * failures are shown. */
	rlog_init(&fz.log, stderr, RLOG_ERROR);
	o.data_dir = fz.dir;
	o.http_addr = "127.0.0.1:0";
	o.workers = 2;
	o.store.nosync = true;
	diag_init(&d);
	if ((wf = wf_load_mem("fz.yaml", wf_text, strlen(wf_text), res_types(),
	         NULL, NULL, &d)) == NULL) {
		diag_print(&d, stderr);
		die("workflow", "invalid");
	}
	diag_fini(&d);
	if (node_new(&fz.node, &o, &fz.log, err, sizeof err) != 0 ||
	    node_deploy(fz.node, wf, err, sizeof err) != 0 ||
	    node_start(fz.node, err, sizeof err) != 0) {
		die("start", err);
	}
	fz.port = http_server_port(node_http(fz.node));
	if (pthread_create(&fz.thread, NULL, loop_main, NULL) != 0) {
		die("thread", "cannot start");
	}
	atexit(stop_node);
}

static int64_t
now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* connect(2) that carries on when a signal interrupts it (the connection
 * is then being made: wait for it and take its outcome). */
static int
connect_fd(int fd, const struct sockaddr_in *sa)
{
	struct pollfd p = { .fd = fd, .events = POLLOUT };
	socklen_t len = sizeof(int);
	int soerr = 0;
	if (connect(fd, (const struct sockaddr *)sa, sizeof *sa) == 0) {
		return 0;
	}
	if (errno != EINTR) {
		return -1;
	}
	while (poll(&p, 1, 5000) < 0 && errno == EINTR) { }
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len) != 0) {
		return -1;
	}
	errno = soerr;
	return soerr == 0 ? 0 : -1;
}

static long
exchange(const void *data, size_t len, bool half_close, char *out, size_t cap,
    int timeout_ms)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	struct sockaddr_in src = { .sin_family = AF_INET };
	int64_t end;
	size_t got = 0;
	long rv = -1;
	int fd;

	pthread_once(&fz.once, start_node);
	sa.sin_port = htons((uint16_t)fz.port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	/* Thousands of connections a second leave as many in TIME-WAIT on
	 * the server's side; a source address of its own out of 127/8 for
	 * each call keeps a new connection from meeting one of them. */
	src.sin_addr.s_addr = htonl(0x7f000000u | (1 + fz.conns++ % 0xfffffe));
	if ((fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0 ||
	    bind(fd, (struct sockaddr *)&src, sizeof src) != 0 ||
	    connect_fd(fd, &sa) != 0) {
		die("connect", strerror(errno));
	}
	for (size_t off = 0; off < len;) {
		ssize_t n =
		    send(fd, (const char *)data + off, len - off, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR) {
			continue;
		}
		if (n <= 0) {
			break; /* the server closed early: its right */
		}
		off += (size_t)n;
	}
	if (half_close) {
		shutdown(fd, SHUT_WR);
	}
	end = now_ms() + timeout_ms;
	for (;;) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		int64_t left = end - now_ms();
		char sink[512]; /* what does not fit in out */
		ssize_t n;
		int pr;
		if (left <= 0) {
			break;
		}
		/* libFuzzer's timers (SIGALRM) interrupt system calls. */
		if ((pr = poll(&p, 1, (int)left)) < 0 && errno == EINTR) {
			continue;
		}
		if (pr <= 0) {
			break;
		}
		n = got < cap - 1 ? recv(fd, out + got, cap - 1 - got, 0)
		                  : recv(fd, sink, sizeof sink, 0);
		if (n < 0 && errno == EINTR) {
			continue;
		}
		if (n <= 0) {
			rv = (long)got;
			break;
		}
		if (got < cap - 1) {
			got += (size_t)n;
		}
	}
	out[got] = '\0';
	close(fd);
	return rv;
}

long
fuzz_node_send(const void *data, size_t len, bool half_close, char *out,
    size_t cap, int timeout_ms)
{
	return exchange(data, len, half_close, out, cap, timeout_ms);
}

void
fuzz_node_check(unsigned every)
{
	static const char req[] =
	    "GET /echo HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
	char out[4096];
	if (++fz.calls % every != 0) {
		return;
	}
	if (exchange(req, sizeof req - 1, false, out, sizeof out, 5000) < 0) {
		fprintf(stderr,
		    "fuzz node: GET /echo: the connection was still open after "
		    "5 s (got '%.200s')\n",
		    out);
		abort();
	}
	if (strncmp(out, "HTTP/1.1 200", 12) != 0) {
		fprintf(stderr, "fuzz node: GET /echo answered: %.200s\n", out);
		abort();
	}
}
