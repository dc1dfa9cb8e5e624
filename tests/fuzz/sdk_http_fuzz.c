/*
 * sdk_http_fuzz.c - the SDK's HTTP helpers (ledge_http_query_param,
 * ledge_http_header, ledge_http_set_header, ledge_http_respond) with
 * values from any bytes, through a real node: the input becomes a
 * well-formed request to /sdk (tests/fixtures/sdk_http.c), so the fuzzer
 * spends its time on what the helpers get rather than on HTTP syntax.
 *
 * Input: up to three parts separated by NUL bytes - the query (bytes a
 * URL may not carry are %-encoded, so the function gets any byte), the
 * value of header X-A (CR, LF and other controls become '?'), the body.
 *
 * Oracles: sdk_http.c's own (it aborts when a helper accepts what it must
 * refuse); the answer is a valid status line whose header lines all have
 * a ':' and end in CRLF (no header injection reached the wire); the node
 * keeps answering.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "fuzz_node.h"

enum { MAX_PART = 4096 };

static size_t
part(const uint8_t **p, const uint8_t *end, const uint8_t **out)
{
	const uint8_t *s = *p, *z = memchr(s, 0, (size_t)(end - s));
	size_t n = z ? (size_t)(z - s) : (size_t)(end - s);
	*out = s;
	*p = z ? z + 1 : end;
	return n > MAX_PART ? MAX_PART : n;
}

static void
check_head(const char *out)
{
	const char *end = strstr(out, "\r\n\r\n"), *line, *eol;
	int code = 0;
	if (sscanf(out, "HTTP/1.1 %3d", &code) != 1 || code < 100 ||
	    code > 599) {
		fprintf(stderr, "sdk_http fuzz: answered %.200s\n", out);
		abort();
	}
	if (end == NULL) {
		return; /* longer than what we kept */
	}
	line = strstr(out, "\r\n") + 2;
	for (; line < end; line = eol + 2) {
		eol = strstr(line, "\r\n");
		if (memchr(line, '\n', (size_t)(eol - line)) != NULL ||
		    memchr(line, ':', (size_t)(eol - line)) == NULL) {
			fprintf(stderr, "sdk_http fuzz: header line %.*s\n",
			    (int)(eol - line), line);
			abort();
		}
	}
}

FUZZ_TARGET(sdk_http)
{
	static const char hexd[] = "0123456789ABCDEF";
	static char req[3 * MAX_PART + MAX_PART + MAX_PART + 256];
	const uint8_t *p = data, *end = data + size, *q, *h, *b;
	size_t nq = part(&p, end, &q), nh = part(&p, end, &h);
	size_t nb = part(&p, end, &b), n = 0;
	char out[16384];

	n += (size_t)sprintf(req, "%s /sdk?", nb ? "POST" : "GET");
	for (size_t i = 0; i < nq; i++) {
		uint8_t c = q[i];
		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || strchr("-._~&=+%;", c)) {
			req[n++] = (char)c;
		} else {
			req[n++] = '%';
			req[n++] = hexd[c >> 4];
			req[n++] = hexd[c & 15];
		}
	}
	n += (size_t)sprintf(req + n, " HTTP/1.1\r\nHost: fuzz\r\nX-A: ");
	for (size_t i = 0; i < nh; i++) {
		req[n++] = h[i] < 0x20 || h[i] == 0x7f ? '?' : (char)h[i];
	}
	n += (size_t)sprintf(req + n,
	    "\r\nConnection: close\r\nContent-Length: %zu\r\n\r\n", nb);
	memcpy(req + n, b, nb);
	n += nb;
	if (fuzz_node_send(req, n, false, out, sizeof out, 2000) <= 0) {
		fprintf(stderr,
		    "sdk_http fuzz: no whole answer in 2 s (got '%.300s') to "
		    "%.300s\n",
		    out, req);
		abort();
	}
	check_head(out);
	fuzz_node_check(500);
	return 0;
}
