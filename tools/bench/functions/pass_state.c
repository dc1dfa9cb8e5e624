/* bench: counts each event in state (one write) and passes it on `out`. */
#include <ledge.h>

static int
cast(ledge_ctx *ctx, ledge_bytes msg)
{
	int rv;
	ledge_state_put_u64(ctx, "n", ledge_state_get_u64(ctx, "n", 0) + 1);
	rv = ledge_cast(ctx, "out", msg.data, msg.len);
	return rv == LEDGE_ENOENT ? LEDGE_OK : rv;
}

LEDGE_FUNCTION(.name = "pass_state", .cast = cast);
