/*
 * bench: the two ends of a link between nodes (B4), and a counter for
 * B5c and B8.  One code file; the role comes from config `role`.
 *
 * role: target (default)
 *  - a cast counts in state "n" and stores the time it was handled
 *    (CLOCK_MONOTONIC ns, u64) in "t_last", and in "t_first" for the
 *    first one; if the cast carries 8 bytes (the time its burst started,
 *    see below) the first one's is kept in "t0".
 *  - a call with the bytes "n?" answers "n=<n>\n"; any other call gets
 *    its own bytes back (the RTT probe).
 *
 * role: caller (wired `peer` to a target, `self` to itself)
 *  - a call "rtt K" makes K calls to `peer` (after a few unmeasured
 *    ones), each timed around ledge_call with clock_gettime, and answers
 *    "calls=K errors=E p50_ns=.. p99_ns=.. mean_ns=..\n".
 *  - a cast "casts N CHUNK" starts a burst of N casts to `peer`, CHUNK
 *    per handler run: each run casts its share (the burst's start time,
 *    8 bytes, as the payload) and casts the rest of the burst to `self`.
 *    A link that is full (LEDGE_EFULL) ends the run early and the rest
 *    comes back a millisecond later.  State "sent" counts casts made.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../bench_shared.h"
#include <ledge.h>

struct burst {
	char tag[8]; /* "burst\0\0\0" */
	uint64_t left, chunk, t0;
};

static int
cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return (x > y) - (x < y);
}

static int
caller_rtt(ledge_ctx *ctx, long k)
{
	uint64_t *v, sum = 0, probe = 42;
	ledge_bytes r;
	long errors = 0, n = 0;
	char out[160];
	int len;

	if (k < 1 || k > 1000000 ||
	    (v = calloc((size_t)k, sizeof *v)) == NULL) {
		return LEDGE_EINVAL;
	}
	for (int i = 0; i < 20; i++) { /* warm up: connection, caches */
		ledge_call(ctx, "peer", &probe, sizeof probe, 2000, &r);
	}
	for (long i = 0; i < k; i++) {
		uint64_t t0 = bench_now_ns();
		int rv =
		    ledge_call(ctx, "peer", &probe, sizeof probe, 2000, &r);
		uint64_t dt = bench_now_ns() - t0;
		if (rv != LEDGE_OK || r.len != sizeof probe) {
			errors++;
			continue;
		}
		v[n++] = dt;
		sum += dt;
	}
	qsort(v, (size_t)n, sizeof *v, cmp_u64);
	len = snprintf(out, sizeof out,
	    "calls=%ld errors=%ld p50_ns=%" PRIu64 " p99_ns=%" PRIu64
	    " mean_ns=%" PRIu64 "\n",
	    k, errors, n ? v[(size_t)(0.50 * (double)(n - 1) + 0.5)] : 0,
	    n ? v[(size_t)(0.99 * (double)(n - 1) + 0.5)] : 0,
	    n ? sum / (uint64_t)n : 0);
	free(v);
	return ledge_reply(ctx, out, (size_t)len);
}

static int
caller_cast(ledge_ctx *ctx, ledge_bytes msg)
{
	struct burst b;
	uint64_t i;
	int rv = LEDGE_OK;

	if (msg.len == sizeof b && memcmp(msg.data, "burst", 6) == 0) {
		memcpy(&b, msg.data, sizeof b);
	} else {
		char text[64];
		unsigned long long left = 0, chunk = 0;
		size_t len =
		    msg.len < sizeof text - 1 ? msg.len : sizeof text - 1;
		memcpy(text, msg.data, len);
		text[len] = '\0';
		if (sscanf(text, "casts %llu %llu", &left, &chunk) != 2 ||
		    chunk == 0) {
			ledge_log(ctx, LEDGE_LOG_WARN, "want 'casts N CHUNK'");
			return LEDGE_EINVAL;
		}
		memset(&b, 0, sizeof b);
		memcpy(b.tag, "burst", 6);
		b.left = left;
		b.chunk = chunk;
		b.t0 = bench_now_ns();
	}
	for (i = 0; i < b.chunk && i < b.left; i++) {
		if ((rv = ledge_cast(ctx, "peer", &b.t0, sizeof b.t0)) !=
		    LEDGE_OK) {
			break;
		}
	}
	if (rv != LEDGE_OK && rv != LEDGE_EFULL) {
		return rv;
	}
	b.left -= i;
	ledge_state_put_u64(
	    ctx, "sent", ledge_state_get_u64(ctx, "sent", 0) + i);
	if (b.left > 0) {
		rv = rv == LEDGE_EFULL
		    ? ledge_delayed_cast(ctx, "self", &b, sizeof b, 1)
		    : ledge_cast(ctx, "self", &b, sizeof b);
	}
	return rv;
}

static int
target_cast(ledge_ctx *ctx, ledge_bytes msg)
{
	uint64_t n = ledge_state_get_u64(ctx, "n", 0) + 1, now = bench_now_ns();

	if (n == 1) {
		ledge_state_put_u64(ctx, "t_first", now);
		if (msg.len == sizeof(uint64_t)) {
			uint64_t t0;
			memcpy(&t0, msg.data, sizeof t0);
			ledge_state_put_u64(ctx, "t0", t0);
		}
	}
	ledge_state_put_u64(ctx, "n", n);
	return ledge_state_put_u64(ctx, "t_last", now);
}

static int
is_caller(ledge_ctx *ctx)
{
	return strcmp(ledge_config_str(ctx, "role", "target"), "caller") == 0;
}

static int
cast(ledge_ctx *ctx, ledge_bytes msg)
{
	return is_caller(ctx) ? caller_cast(ctx, msg) : target_cast(ctx, msg);
}

static int
call(ledge_ctx *ctx, ledge_bytes msg)
{
	char out[64];
	int len;

	if (is_caller(ctx)) {
		long k = 0;
		len = msg.len < sizeof out - 1 ? (int)msg.len
		                               : (int)sizeof out - 1;
		memcpy(out, msg.data, (size_t)len);
		out[len] = '\0';
		if (sscanf(out, "rtt %ld", &k) != 1) {
			return LEDGE_EINVAL;
		}
		return caller_rtt(ctx, k);
	}
	if (msg.len == 2 && memcmp(msg.data, "n?", 2) == 0) {
		len = snprintf(out, sizeof out, "n=%" PRIu64 "\n",
		    ledge_state_get_u64(ctx, "n", 0));
		return ledge_reply(ctx, out, (size_t)len);
	}
	return ledge_reply(ctx, msg.data, msg.len);
}

LEDGE_FUNCTION(.name = "xnode", .cast = cast, .call = call);
