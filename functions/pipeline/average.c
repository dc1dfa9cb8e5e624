/*
 * average: a moving average over the last `window` readings "SEQ VALUE",
 * kept in state (so it survives restarts); casts "SEQ avg=A n=N" on `out`.
 */
#include <stdio.h>
#include <string.h>

#include <ledge.h>

#define MAX_WINDOW 1024

struct ring {
	unsigned count; /* readings held, <= window */
	unsigned next;  /* slot of the next reading */
	double v[MAX_WINDOW];
};

static int
average(ledge_ctx *ctx, ledge_bytes msg)
{
	long long window = ledge_config_int(ctx, "window", 10);
	struct ring r;
	ledge_bytes cur;
	unsigned long long seq;
	double v, sum = 0;
	char in[64], out[96];
	size_t n = msg.len < sizeof in - 1 ? msg.len : sizeof in - 1;
	int len;

	if (window < 1 || window > MAX_WINDOW) {
		window = 10;
	}
	memcpy(in, msg.data, n);
	in[n] = '\0';
	if (sscanf(in, "%llu %lf", &seq, &v) != 2) {
		return LEDGE_EINVAL;
	}
	memset(&r, 0, sizeof r);
	if (ledge_state_get(ctx, "ring", &cur) == LEDGE_OK &&
	    cur.len == sizeof r) {
		memcpy(&r, cur.data, sizeof r);
	}
	r.v[r.next % (unsigned)window] = v;
	r.next = (r.next + 1) % (unsigned)window;
	if (r.count < (unsigned)window) {
		r.count++;
	}
	for (unsigned i = 0; i < r.count; i++) {
		sum += r.v[i];
	}
	ledge_state_put(ctx, "ring", &r, sizeof r);
	len = snprintf(
	    out, sizeof out, "%llu avg=%.2f n=%u", seq, sum / r.count, r.count);
	return ledge_cast(ctx, "out", out, (size_t)len);
}

LEDGE_FUNCTION(.name = "average", .cast = average);
