/*
 * timer.c - casts on its output `tick` every period_ms.
 *
 * Ticks are not durable (a tick missed while the node was down is not
 * owed to anyone); what a function does with a tick is.  A tick that
 * finds its target's mailbox full is skipped and counted, never queued
 * without bound.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "base/rlog.h"
#include "node/instance.h"
#include "node/node.h"
#include "node/res_api.h"
#include "platform/loop.h"
#include "workflow/resource.h"

static const char *const outputs[] = { "tick", NULL };

static const struct res_param params[] = {
	{ .name = "period_ms",
	    .kind = RP_INT,
	    .required = true,
	    .min = 1,
	    .max = 86400000,
	    .help = "time between ticks" },
	{ .name = "payload",
	    .kind = RP_STR,
	    .help = "bytes of each tick (default: the tick number)" },
	{ .name = "jitter_ms",
	    .kind = RP_INT,
	    .min = 0,
	    .max = 86400000,
	    .help = "random extra delay up to this, per tick (default 0)" },
	{ .name = "count",
	    .kind = RP_INT,
	    .min = 0,
	    .max = 1LL << 40,
	    .help = "stop after this many ticks (default 0: never)" },
	{ .name = "key",
	    .kind = RP_STR,
	    .help = "the key of the instance a keyed function's ticks go to" },
	{ .name = NULL },
};

/* A keyed function on `tick` needs `key`; a key is 1..LEDGE_KEY_MAX
 * bytes. */
static int
check(const struct workflow *wf, const struct wf_resource *spec, struct diag *d)
{
	const char *key = wf_config_get(&spec->config, "key");
	int errs = 0;

	if (key != NULL && (key[0] == '\0' || strlen(key) > LEDGE_KEY_MAX)) {
		diag_add(d, wf->file, spec->pos.line, spec->pos.col,
		    "timer '%s': 'key' must have 1 to %d bytes", spec->name,
		    LEDGE_KEY_MAX);
		errs++;
	}
	const struct wf_function *fn;
	struct wf_pos pos;
	if (key == NULL && (fn = wf_keyed_target(wf, spec, &pos)) != NULL) {
		diag_add(d, wf->file, pos.line, pos.col,
		    "timer '%s' ticks to '%s', which is keyed: say which key's "
		    "instance with 'key: K' in the config",
		    spec->name, fn->name);
		errs++;
	}
	return errs;
}

struct timer {
	struct res *r;
	struct loop_timer *t;
	uint64_t period, jitter, count;
	uint64_t sent, skipped;
	uint64_t next;       /* monotonic ms of the next tick */
	uint64_t rng;        /* xorshift state for jitter */
	const char *payload; /* NULL: the tick number */
	const char *key;     /* a keyed target's key, or NULL */
};

static uint64_t
cfg_u64(struct res *r, const char *key, uint64_t dflt)
{
	const char *v = wf_config_get(&r->spec->config, key);
	return v ? strtoull(v, NULL, 10) : dflt;
}

static uint64_t
next_rand(struct timer *t)
{
	t->rng ^= t->rng << 13;
	t->rng ^= t->rng >> 7;
	t->rng ^= t->rng << 17;
	return t->rng;
}

static void
arm(struct timer *t)
{
	uint64_t now = clock_mono_ms();
	uint64_t extra = t->jitter ? next_rand(t) % (t->jitter + 1) : 0;
	t->next += t->period;
	/* Fell behind (a stalled loop): restart from now, do not burst. */
	if (t->next + t->period < now) {
		t->next = now;
	}
	loop_timer_start(t->t, (t->next > now ? t->next - now : 0) + extra);
}

static void
on_tick(void *arg)
{
	struct timer *t = arg;
	char num[24];
	const void *data = t->payload;
	size_t len = t->payload ? strlen(t->payload) : 0;

	if (node_stopping(t->r->node)) {
		return;
	}
	if (data == NULL) {
		len =
		    (size_t)snprintf(num, sizeof num, "%" PRIu64, t->sent + 1);
		data = num;
	}
	if (node_res_cast_key(t->r, "tick", t->key, t->key ? strlen(t->key) : 0,
	        data, len) == 0 &&
	    node_res_output(t->r, "tick", 0) != NULL) {
		if (t->skipped++ % 100 == 0) {
			rlog_write(node_log(t->r->node), RLOG_WARN, t->r->name,
			    "tick skipped: target busy (%" PRIu64
			    " skipped so far)",
			    t->skipped);
		}
	}
	t->sent++;
	if (t->count == 0 || t->sent < t->count) {
		arm(t);
	}
}

static int
start(struct res *r, char *err, size_t errlen)
{
	struct timer *t = calloc(1, sizeof *t);
	if (t == NULL ||
	    (t->t = loop_timer_new(node_loop(r->node), on_tick, t)) == NULL) {
		free(t);
		snprintf(err, errlen, "out of memory");
		return LEDGE_ENOMEM;
	}
	t->r = r;
	t->period = cfg_u64(r, "period_ms", 1000);
	t->jitter = cfg_u64(r, "jitter_ms", 0);
	t->count = cfg_u64(r, "count", 0);
	t->payload = wf_config_get(&r->spec->config, "payload");
	t->key = wf_config_get(&r->spec->config, "key");
	t->rng =
	    clock_mono_us() ^ ((uint64_t)r->id << 32) ^ 0x9e3779b97f4a7c15ull;
	t->next = clock_mono_ms();
	r->priv = t;
	arm(t);
	return LEDGE_OK;
}

static void
stop(struct res *r)
{
	struct timer *t = r->priv;
	if (t != NULL) {
		loop_timer_free(t->t);
		free(t);
		r->priv = NULL;
	}
}

static void
describe(struct res *r, char *buf, size_t len)
{
	struct node_target *to = node_res_output(r, "tick", 0);
	snprintf(buf, len, "every %s ms -> %s",
	    wf_config_get(&r->spec->config, "period_ms"),
	    to ? to->name : "(nothing)");
}

const struct res_type res_timer = {
	.name = "timer",
	.summary = "casts a tick on its output every period_ms",
	.params = params,
	.outputs = outputs,
	.check = check,
	.start = start,
	.stop = stop,
	.describe = describe,
};
