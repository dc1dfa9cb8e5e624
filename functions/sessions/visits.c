/*
 * visits: a durable counter per user - the smallest keyed function.
 *   POST /visits/USER  counts a visit of USER, answers the new count
 *   GET  /visits/USER  answers the count
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <ledge.h>

static int
call(ledge_ctx *ctx, ledge_bytes req)
{
	const char *m = ledge_http_method(ctx);
	uint64_t n = ledge_state_get_u64(ctx, "n", 0);
	char out[32];
	int len;

	(void)req;
	if (m != NULL && strcmp(m, "POST") == 0) {
		int rv = ledge_state_put_u64(ctx, "n", ++n);
		if (rv != LEDGE_OK) {
			return rv;
		}
	}
	len = snprintf(out, sizeof out, "%" PRIu64 "\n", n);
	return ledge_http_respond(ctx, 200, "text/plain", out, (size_t)len);
}

LEDGE_FUNCTION(.name = "visits", .call = call);
