/*
 * bench: a counter for the hot-reload scenario.  Each cast adds one to
 * state "n" and records how long the event waited (now minus the send
 * time it carries, ns) into the driver's bench_stats.  Built twice (VERSION 1
 * and 2) to have two different code files that do the same thing.
 */
#include <stdlib.h>
#include <string.h>

#include "../bench_shared.h"
#include <ledge.h>

#ifndef VERSION
#define VERSION 1
#endif

static const char version[] = "bcounter version " __FILE__ " "
                              "VERSION"
#if VERSION == 2
                              " two"
#endif
    ;

static int
cast(ledge_ctx *ctx, ledge_bytes msg)
{
	struct bench_stats *s = (struct bench_stats *)(uintptr_t)strtoull(
	    ledge_config_str(ctx, "stats", "0"), NULL, 16);
	uint64_t sent = 0;
	ledge_state_put_u64(ctx, "n", ledge_state_get_u64(ctx, "n", 0) + 1);
	if (msg.len == sizeof sent) {
		memcpy(&sent, msg.data, sizeof sent);
	}
	if (s != NULL) {
		bench_record(s, bench_now_ns() - sent);
	}
	return LEDGE_OK;
}

static int
init(ledge_ctx *ctx, const ledge_config *cfg)
{
	(void)cfg;
	ledge_log(ctx, LEDGE_LOG_DEBUG, "%s", version);
	return LEDGE_OK;
}

LEDGE_FUNCTION(.name = "bcounter", .init = init, .cast = cast);
