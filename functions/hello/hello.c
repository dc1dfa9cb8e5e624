/* hello: answers GET /hello with "hello". */
#include <ledge.h>

static int
hello(ledge_ctx *ctx, ledge_bytes req)
{
	(void)req;
	return ledge_http_respond(ctx, 200, "text/plain", "hello\n", 6);
}

LEDGE_FUNCTION(.name = "hello", .call = hello);
