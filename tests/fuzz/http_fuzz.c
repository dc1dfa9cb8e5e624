/*
 * http_fuzz.c - the http-ingress request path (libevent's parser, the
 * router, methods, Idempotency-Key, body limits, call and cast modes) on
 * any bytes sent by a client, against a real node in this process.
 *
 * Oracles: whatever the server answers is an HTTP/1.x status line with a
 * code from 100 to 599; the connection is closed within 2 s of the client
 * half-closing it; and every 200 inputs the node still answers a plain
 * GET (fuzz_node_check).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "fuzz_node.h"

FUZZ_TARGET(http)
{
	char out[8192];
	long n = fuzz_node_send(data, size, true, out, sizeof out, 2000);
	if (n < 0) {
		fprintf(stderr,
		    "http fuzz: the connection stayed open 2 s after the "
		    "client's half-close (got '%.200s')\n",
		    out);
		abort();
	}
	if (n > 0) {
		int code = 0;
		if (sscanf(out, "HTTP/1.%*1[01] %3d", &code) != 1 ||
		    code < 100 || code > 599) {
			fprintf(stderr, "http fuzz: answered %.200s\n", out);
			abort();
		}
	}
	fuzz_node_check(200);
	return 0;
}
