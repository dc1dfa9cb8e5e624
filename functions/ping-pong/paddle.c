/*
 * paddle: one side of ping-pong.  Two instances of this code (configured
 * with `say: ping` and `say: pong`) call each other:
 *   - on a tick from its timer, a paddle counts a hit in its state and
 *     calls the other paddle, which counts the hit it received and replies
 *     with its own count;
 *   - GET /ping-pong asks ping for the score.
 * When both tick at once, each is waiting on the other: ledge refuses the
 * second call with LEDGE_ECYCLE at once instead of deadlocking, and that
 * paddle simply misses its shot.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <ledge.h>

static int
shoot(ledge_ctx *ctx, ledge_bytes msg)
{
	const char *me = ledge_config_str(ctx, "say", "paddle");
	uint64_t mine = ledge_state_get_u64(ctx, "shots", 0) + 1;
	uint64_t theirs;
	ledge_bytes reply;
	int rv;

	(void)msg;
	rv = ledge_call(ctx, "peer", &mine, sizeof mine, 1000, &reply);
	if (rv == LEDGE_ECYCLE) {
		ledge_log(ctx, LEDGE_LOG_INFO,
		    "%s: the other paddle is calling me right now; shot "
		    "missed",
		    me);
		return LEDGE_OK;
	}
	if (rv != LEDGE_OK || reply.len != sizeof theirs) {
		ledge_log(ctx, LEDGE_LOG_WARN, "%s: call failed: %s", me,
		    ledge_strerror(rv));
		return rv != LEDGE_OK ? rv : LEDGE_EPROTO;
	}
	memcpy(&theirs, reply.data, sizeof theirs);
	ledge_state_put_u64(ctx, "shots", mine);
	ledge_state_put_u64(ctx, "peer_hits", theirs);
	return LEDGE_OK;
}

static int
receive(ledge_ctx *ctx, ledge_bytes msg)
{
	char out[160];
	int len;

	if (ledge_http_method(ctx) != NULL) {
		/* The score, for GET /ping-pong. */
		len = snprintf(out, sizeof out,
		    "%s: %" PRIu64 " shots, %" PRIu64 " hits received; "
		    "the other side received %" PRIu64 " of my shots\n",
		    ledge_config_str(ctx, "say", "paddle"),
		    ledge_state_get_u64(ctx, "shots", 0),
		    ledge_state_get_u64(ctx, "hits", 0),
		    ledge_state_get_u64(ctx, "peer_hits", 0));
		return ledge_http_respond(
		    ctx, 200, "text/plain", out, (size_t)len);
	}
	(void)msg;
	uint64_t hits = ledge_state_get_u64(ctx, "hits", 0) + 1;
	ledge_state_put_u64(ctx, "hits", hits);
	return ledge_reply(ctx, &hits, sizeof hits);
}

LEDGE_FUNCTION(.name = "paddle", .cast = shoot, .call = receive);
