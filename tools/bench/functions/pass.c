/* bench: passes each event on `out` unchanged (a stateless hop). */
#include <ledge.h>

static int
cast(ledge_ctx *ctx, ledge_bytes msg)
{
	int rv = ledge_cast(ctx, "out", msg.data, msg.len);
	return rv == LEDGE_ENOENT ? LEDGE_OK : rv;
}

LEDGE_FUNCTION(.name = "pass", .cast = cast);
