/*
 * nng_rtt.c - B4's ceiling: a raw nng req/rep round trip between two
 * processes over loopback TCP, with nothing of ledge in between.
 *
 *   bench_nng_rtt PORT|ipc:///PATH [K [SIZE]]
 *
 * (an ipc:// address instead of a port: the same over a Unix socket, B9's
 * reference for `isolation: process`)
 * Forks (before nng starts any thread): the child answers on
 * tcp://127.0.0.1:PORT with a rep0 socket, sending each request back;
 * the parent dials it with a req0 socket and times K round trips of SIZE
 * bytes (default 8, the size of B4's probe) with clock_gettime around
 * nng_send + nng_recv, after a few unmeasured ones, then kills the
 * child.  Prints one line of key=value.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <nng/nng.h>
#include <nng/protocol/reqrep0/rep.h>
#include <nng/protocol/reqrep0/req.h>

#include "bench_node.h"
#include "bench_shared.h"

static void
die(const char *what, int rv)
{
	fprintf(stderr, "bench_nng_rtt: %s: %s\n", what, nng_strerror(rv));
	exit(1);
}

static void
serve(const char *url)
{
	nng_socket s;
	int rv;

	if ((rv = nng_rep0_open(&s)) != 0) {
		die("rep0", rv);
	}
	if ((rv = nng_listen(s, url, NULL, 0)) != 0) {
		die(url, rv);
	}
	for (;;) {
		nng_msg *m;
		if ((rv = nng_recvmsg(s, &m, 0)) != 0) {
			die("recv", rv);
		}
		if ((rv = nng_sendmsg(s, m, 0)) != 0) {
			nng_msg_free(m);
			die("send", rv);
		}
	}
}

int
main(int argc, char **argv)
{
	char url[64];
	long k, size;
	pid_t child, parent;
	nng_socket s;
	uint64_t *v, sum = 0;
	char *buf;
	int rv, status;

	if (argc < 2) {
		fprintf(stderr,
		    "usage: bench_nng_rtt PORT|ipc:///PATH [K [SIZE]]\n");
		return 2;
	}
	if (strncmp(argv[1], "ipc://", 6) == 0) {
		snprintf(url, sizeof url, "%s", argv[1]);
	} else {
		snprintf(url, sizeof url, "tcp://127.0.0.1:%d", atoi(argv[1]));
	}
	k = argc > 2 ? atol(argv[2]) : 5000;
	size = argc > 3 ? atol(argv[3]) : 8;
	if (k < 1 || size < 1 || size > (1 << 20)) {
		fprintf(stderr, "bench_nng_rtt: bad K or SIZE\n");
		return 2;
	}
	parent = getpid();
	if ((child = fork()) < 0) {
		perror("fork");
		return 1;
	}
	if (child == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL); /* never outlive the driver */
		if (getppid() != parent) {
			_exit(1);
		}
		serve(url);
		_exit(0);
	}
	v = calloc((size_t)k, sizeof *v);
	buf = calloc(1, (size_t)size);
	if ((rv = nng_req0_open(&s)) != 0) {
		die("req0", rv);
	}
	nng_socket_set_ms(s, NNG_OPT_RECVTIMEO, 5000);
	nng_socket_set_ms(s, NNG_OPT_SENDTIMEO, 5000);
	/* The child may not listen yet: retry the dial for up to 5 s. */
	for (int i = 0; (rv = nng_dial(s, url, NULL, 0)) != 0; i++) {
		if (i == 500) {
			kill(child, SIGKILL);
			die(url, rv);
		}
		usleep(10000);
	}
	for (long i = -100; i < k; i++) { /* 100 unmeasured */
		size_t len = 0;
		char *reply = NULL;
		uint64_t t0 = bench_now_ns();
		if ((rv = nng_send(s, buf, (size_t)size, 0)) != 0 ||
		    (rv = nng_recv(s, &reply, &len, NNG_FLAG_ALLOC)) != 0) {
			kill(child, SIGKILL);
			die("round trip", rv);
		}
		if (i >= 0) {
			v[i] = bench_now_ns() - t0;
			sum += v[i];
		}
		nng_free(reply, len);
	}
	kill(child, SIGKILL); /* it answers until it is killed */
	nng_close(s);
	if (waitpid(child, &status, 0) < 0) {
		perror("waitpid");
	}
	printf("B4 nng k=%ld size=%ld p50_us=%.2f p99_us=%.2f mean_us=%.2f\n",
	    k, size, bench_percentile(v, (size_t)k, 50) / 1e3,
	    bench_percentile(v, (size_t)k, 99) / 1e3,
	    (double)sum / (double)k / 1e3);
	free(v);
	free(buf);
	return 0;
}
