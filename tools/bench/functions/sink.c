/*
 * bench: the end of a chain.  Each event starts with the time it was
 * injected (u64 ns, CLOCK_MONOTONIC); the sink records how long it took
 * into the driver's bench_stats (address in config `stats`).  With config
 * `state: true` it also makes one state write, like pass_state; with
 * `work_us: N` it first keeps its core busy for N us (a handler that
 * computes, for the rows that measure workers in parallel).
 */
#include <stdlib.h>
#include <string.h>

#include "../bench_shared.h"
#include <ledge.h>

static int
cast(ledge_ctx *ctx, ledge_bytes msg)
{
	struct bench_stats *s = (struct bench_stats *)(uintptr_t)strtoull(
	    ledge_config_str(ctx, "stats", "0"), NULL, 16);
	uint64_t t0 = 0;
	int64_t work = ledge_config_int(ctx, "work_us", 0);

	if (work > 0) {
		uint64_t until = bench_now_ns() + (uint64_t)work * 1000;
		while (bench_now_ns() < until) { }
	}
	if (ledge_config_bool(ctx, "state", 0)) {
		ledge_state_put_u64(
		    ctx, "n", ledge_state_get_u64(ctx, "n", 0) + 1);
	}
	if (msg.len >= sizeof t0) {
		memcpy(&t0, msg.data, sizeof t0);
	}
	if (s != NULL) {
		bench_record(s, bench_now_ns() - t0);
	}
	return LEDGE_OK;
}

LEDGE_FUNCTION(.name = "sink", .cast = cast);
