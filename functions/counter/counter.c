/*
 * counter: a durable counter over HTTP.
 *   POST /counter  adds STEP (1 unless built with -DSTEP=n) and answers the
 *                  new value
 *   GET  /counter  answers the value
 * The value lives in the function's state, so it survives restarts and
 * crashes; an answered POST is counted exactly once.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <ledge.h>

#ifndef STEP
#define STEP 1
#endif

static int
counter(ledge_ctx *ctx, ledge_bytes req)
{
	const char *method = ledge_http_method(ctx);
	uint64_t n = ledge_state_get_u64(ctx, "n", 0);
	char out[32];
	int len;

	(void)req;
	if (method != NULL && strcmp(method, "POST") == 0) {
		n += STEP;
		ledge_state_put_u64(ctx, "n", n);
	}
	len = snprintf(out, sizeof out, "%" PRIu64 "\n", n);
	return ledge_http_respond(ctx, 200, "text/plain", out, (size_t)len);
}

LEDGE_FUNCTION(.name = "counter", .call = counter);
