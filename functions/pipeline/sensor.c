/*
 * sensor: a simulated sensor.  On each tick it casts "SEQ VALUE" on `out`,
 * where VALUE wanders around `base` and now and then jumps out of range
 * (a glitch), so the filter downstream has something to reject.
 */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>

#include <ledge.h>

static int
tick(ledge_ctx *ctx, ledge_bytes msg)
{
	uint64_t seq = ledge_state_get_u64(ctx, "seq", 0) + 1;
	double base = ledge_config_double(ctx, "base", 50);
	/* A deterministic wobble plus a glitch every 7th reading. */
	double v = base + 20 * sin((double)seq / 5.0) +
	    (double)((seq * 2654435761u) % 1000) / 100.0 - 5.0;
	char out[64];
	int len;

	(void)msg;
	if (seq % 7 == 0) {
		v += 150;
	}
	len = snprintf(out, sizeof out, "%" PRIu64 " %.2f", seq, v);
	ledge_state_put_u64(ctx, "seq", seq);
	return ledge_cast(ctx, "out", out, (size_t)len);
}

LEDGE_FUNCTION(.name = "sensor", .cast = tick);
