/*
 * filter: passes readings "SEQ VALUE" within [min, max] on `out`, and
 * sends the others, with the reason, on `error`.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ledge.h>

static int
filter(ledge_ctx *ctx, ledge_bytes msg)
{
	double min = ledge_config_double(ctx, "min", 0);
	double max = ledge_config_double(ctx, "max", 100);
	char in[64], why[128];
	unsigned long long seq;
	double v;
	size_t n = msg.len < sizeof in - 1 ? msg.len : sizeof in - 1;
	int len;

	memcpy(in, msg.data, n);
	in[n] = '\0';
	if (sscanf(in, "%llu %lf", &seq, &v) != 2) {
		len = snprintf(why, sizeof why, "unreadable reading '%s'", in);
		return ledge_cast(ctx, "error", why, (size_t)len);
	}
	if (v < min || v > max) {
		len = snprintf(why, sizeof why,
		    "reading %llu: %.2f outside [%g, %g]", seq, v, min, max);
		return ledge_cast(ctx, "error", why, (size_t)len);
	}
	return ledge_cast(ctx, "out", msg.data, msg.len);
}

LEDGE_FUNCTION(.name = "filter", .cast = filter);
