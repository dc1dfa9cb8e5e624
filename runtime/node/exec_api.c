/*
 * exec_api.c - the host API table: the ledge_* calls a function makes
 * during a handler (state reads and writes into the write set, casts,
 * calls and replies, config, identity and logs, the HTTP request and
 * response, outgoing HTTP).  What a handler does stays in its context
 * until it returns; exec.c turns it into one commit record.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "base/arena.h"
#include "base/clock.h"
#include "base/hmap.h"
#include "code/code.h"
#include "isolate/host_rules.h"
#include "isolate/isolate.h"
#include "node/commit.h"
#include "node/ctl.h"
#include "node/enqueue.h"
#include "node/exec.h"
#include "node/exec_ctx.h"
#include "node/idem.h"
#include "node/instance.h"
#include "node/keyed.h"
#include "node/links.h"
#include "node/node.h"
#include "node/node_call.h"
#include "node/node_event.h"
#include "node/sched.h"
#include "store/store.h"
#include "workflow/resource.h"
#include "workflow/workflow.h"

/* Writes kept in a list up to this many; an index beyond. */
#define WSET_LINEAR 8
/* A call may fill a mailbox up to this many times its cap. */
#define INTERNAL_OVERCOMMIT 2
/* A cast never fails because its target is busy: past the cap the
 * producer is parked instead (backpressure).  Only this far past it - a
 * cycle of instances feeding each other - does ledge_cast say EFULL. */
#define CAST_HARD_LIMIT 16
/* Longest wait-for chain followed when looking for call cycles. */
#define CYCLE_DEPTH 64

/* ------------------------------------------------------------------ */
/* write set                                                           */

static long
wset_find(struct host_ctx *c, const void *key, size_t klen)
{
	if (c->windexed) {
		void *v = hmap_get(&c->w->wmap, key, klen);
		return v ? (long)((struct wentry *)v - c->writes) : -1;
	}
	for (size_t i = 0; i < c->nwrites; i++) {
		if (c->writes[i].klen == klen &&
		    memcmp(c->writes[i].key, key, klen) == 0) {
			return (long)i;
		}
	}
	return -1;
}

static int
wset_index(struct host_ctx *c)
{
	hmap_clear(&c->w->wmap);
	for (size_t i = 0; i < c->nwrites; i++) {
		if (hmap_put(&c->w->wmap, c->writes[i].key, c->writes[i].klen,
		        &c->writes[i], NULL) != 0) {
			c->windexed = false;
			return LEDGE_ENOMEM;
		}
	}
	c->windexed = true;
	return LEDGE_OK;
}

static int
wset_put(struct host_ctx *c, const void *key, size_t klen, const void *val,
    size_t vlen, bool del)
{
	long i = wset_find(c, key, klen);
	unsigned char *v = NULL;

	if (!del && (v = arena_dup(&c->w->arena, val, vlen)) == NULL) {
		return LEDGE_ENOMEM;
	}
	if (i >= 0) {
		c->writes[i].val = v;
		c->writes[i].vlen = (uint32_t)vlen;
		c->writes[i].del = del;
		return LEDGE_OK;
	}
	if (c->nwrites == c->capw) {
		size_t ncap = c->capw ? c->capw * 2 : 16;
		struct wentry *nw = realloc(c->writes, ncap * sizeof *nw);
		if (nw == NULL) {
			return LEDGE_ENOMEM;
		}
		c->writes = nw;
		c->capw = ncap;
		if (c->windexed && wset_index(c) != LEDGE_OK) {
			return LEDGE_ENOMEM;
		}
	}
	struct wentry *e = &c->writes[c->nwrites];
	if ((e->key = arena_dup(&c->w->arena, key, klen)) == NULL) {
		return LEDGE_ENOMEM;
	}
	e->klen = (uint32_t)klen;
	e->val = v;
	e->vlen = (uint32_t)vlen;
	e->del = del;
	c->nwrites++;
	if (c->windexed) {
		if (hmap_put(&c->w->wmap, e->key, klen, e, NULL) != 0) {
			c->nwrites--;
			return LEDGE_ENOMEM;
		}
	} else if (c->nwrites > WSET_LINEAR) {
		return wset_index(c);
	}
	return LEDGE_OK;
}

/* ------------------------------------------------------------------ */
/* host API: state                                                     */

/*
 * A key instance's state is its key's alone: under its part's id, each of
 * its state keys is stored as [u16 key length][the key][the state key]
 * (exec_api.h).  The whole must fit in LEDGE_STATE_MAX_KEY.  Elsewhere
 * the state key is as given.  *k and *klen become the stored key (in buf,
 * of LEDGE_STATE_MAX_KEY bytes, when composed).
 */
static int
state_key(struct host_ctx *c, const void **k, size_t *klen, unsigned char *buf)
{
	const struct node_instance *inst = c->inst;
	if (*klen == 0 || *k == NULL) {
		return LEDGE_EINVAL;
	}
	if (inst->key == NULL) {
		return *klen > LEDGE_STATE_MAX_KEY ? LEDGE_ETOOBIG : LEDGE_OK;
	}
	if (2 + (size_t)inst->klen + *klen > LEDGE_STATE_MAX_KEY) {
		return LEDGE_ETOOBIG;
	}
	keyed_state_key(buf, inst->key, inst->klen, *k, *klen);
	*k = buf;
	*klen += 2 + inst->klen;
	return LEDGE_OK;
}

/* A stored key's value as the handler sees it (state_key done). */
static int
state_get(struct host_ctx *c, const void *key, size_t klen, ledge_bytes *out)
{
	const struct node_dirty *d;
	long i;

	if ((i = wset_find(c, key, klen)) >= 0) {
		if (c->writes[i].del) {
			return LEDGE_ENOENT;
		}
		out->data = c->writes[i].val;
		out->len = c->writes[i].vlen;
		return LEDGE_OK;
	}
	if ((d = instance_dirty_get(c->inst, key, klen)) != NULL) {
		if (d->del) {
			return LEDGE_ENOENT;
		}
		out->data = d->bytes + d->klen;
		out->len = d->vlen;
		return LEDGE_OK;
	}
	return store_state_get(
	    c->w->reader, c->inst->target.id, key, klen, out);
}

static int
api_state_get(ledge_ctx *ctx, const void *key, size_t klen, ledge_bytes *out)
{
	struct host_ctx *c = HC(ctx);
	unsigned char buf[LEDGE_STATE_MAX_KEY];
	int rv;

	if (out == NULL) {
		return LEDGE_EINVAL;
	}
	if ((rv = state_key(c, &key, &klen, buf)) != LEDGE_OK) {
		return rv;
	}
	return state_get(c, key, klen, out);
}

/* Bytes key + its value count for now as the handler sees it (0 when
 * absent); a stored key. */
static int64_t
state_bytes_of(struct host_ctx *c, const void *key, size_t klen)
{
	ledge_bytes v;
	if (state_get(c, key, klen, &v) != LEDGE_OK) {
		return 0;
	}
	return (int64_t)(klen + v.len);
}

/*
 * Admission of a write that grows the state by `growth` bytes: the
 * function's quota (`limits: {state_mb}`: its committed bytes, plus what
 * this handler adds) and the store's room (store_fits, which keeps the
 * reserve for writes that free space).  Records still in flight are not
 * counted, so a quota may be passed by what one batch holds.  A refusal
 * is counted, logged once a minute per instance, and kept in fail_err
 * so that a call failed with it answers 507.
 */
static int
admit_growth(struct host_ctx *c, int64_t growth)
{
	struct node_instance *inst = c->inst;
	struct store *st = c->w->env->store;
	uint64_t quota = (uint64_t)inst->spec->state_mb << 20;
	uint64_t total =
	    c->wgrowth + growth > 0 ? (uint64_t)(c->wgrowth + growth) : 0;
	enum store_refusal why;
	int rv;

	if (growth <= 0) {
		return LEDGE_OK;
	}
	if (quota != 0 &&
	    store_state_bytes(st, inst->target.id) + total > quota) {
		why = STORE_REFUSED_QUOTA;
		rv = LEDGE_EQUOTA;
	} else if (!store_fits(st, total)) {
		why = STORE_REFUSED_FULL;
		rv = LEDGE_ENOSPC;
	} else {
		return LEDGE_OK;
	}
	store_count_refused(st, why);
	c->fail_err = rv;
	uint64_t now = clock_mono_ms();
	uint64_t last =
	    atomic_load_explicit(&inst->store_warned_ms, memory_order_relaxed);
	if ((last == 0 || now - last >= 60000) &&
	    atomic_compare_exchange_strong(
	        &inst->store_warned_ms, &last, now)) {
		struct store_space sp;
		store_space(st, &sp);
		if (rv == LEDGE_EQUOTA) {
			rlog_write(c->w->env->log, RLOG_WARN, inst->target.name,
			    "state write refused: the function's quota "
			    "(limits: {state_mb: %u}) is used (%llu bytes); "
			    "ledge_state_put says %s (logged once a minute)",
			    inst->spec->state_mb,
			    (unsigned long long)store_state_bytes(
			        st, inst->target.id),
			    ledge_strerror(rv));
		} else {
			rlog_write(c->w->env->log, RLOG_WARN, inst->target.name,
			    "state write refused: the store is full (%llu of "
			    "%llu bytes used, %llu kept for deletes; "
			    "--store-size); ledge_state_put says %s (logged "
			    "once a minute)",
			    (unsigned long long)sp.used,
			    (unsigned long long)sp.limit,
			    (unsigned long long)sp.reserve, ledge_strerror(rv));
		}
	}
	return rv;
}

static int
api_state_put(
    ledge_ctx *ctx, const void *key, size_t klen, const void *val, size_t vlen)
{
	struct host_ctx *c = HC(ctx);
	unsigned char buf[LEDGE_STATE_MAX_KEY];
	int64_t growth;
	int rv = host_check_put(key, klen, val, vlen);
	if (rv != LEDGE_OK ||
	    (rv = state_key(c, &key, &klen, buf)) != LEDGE_OK) {
		return rv;
	}
	growth = (int64_t)(klen + vlen) - state_bytes_of(c, key, klen);
	if ((rv = admit_growth(c, growth)) != LEDGE_OK) {
		return rv;
	}
	if ((rv = wset_put(c, key, klen, val, vlen, false)) == LEDGE_OK) {
		c->wgrowth += growth;
	}
	return rv;
}

static int
api_state_del(ledge_ctx *ctx, const void *key, size_t klen)
{
	struct host_ctx *c = HC(ctx);
	unsigned char buf[LEDGE_STATE_MAX_KEY];
	int64_t old;
	int rv = host_check_key(key, klen);
	if (rv != LEDGE_OK ||
	    (rv = state_key(c, &key, &klen, buf)) != LEDGE_OK) {
		return rv;
	}
	old = state_bytes_of(c, key, klen);
	if ((rv = wset_put(c, key, klen, NULL, 0, true)) == LEDGE_OK) {
		c->wgrowth -= old;
	}
	return rv;
}

/* ------------------------------------------------------------------ */
/* host API: events                                                    */

void
exec_api_free_emits(struct host_ctx *c, struct node_event **link)
{
	struct node_event *ev = *link;
	while (ev != NULL) {
		struct node_event *next = ev->next;
		if ((ev->flags & NEF_RESERVED) && ev->to->kind == NT_INSTANCE) {
			mb_unreserve(&ev->to->inst->mb);
		}
		node_event_free(ev);
		c->nemits--;
		ev = next;
	}
	*link = NULL;
	c->emits_tail = NULL;
	for (ev = c->emits; ev != NULL; ev = ev->next) {
		c->emits_tail = ev;
	}
}

/* t, or for a keyed function split into slots the slot of the event's
 * key (the one named, else the sender's own).  NULL with *rv set: no key
 * (LEDGE_EINVAL) or that slot is placed nowhere now (LEDGE_EUNAVAIL). */
static struct node_target *
slot_for(const struct host_ctx *c, struct node_target *t, const void *key,
    size_t klen, int *rv)
{
	if (t->kind != NT_SLOTS) {
		return t;
	}
	if (key == NULL) {
		key = c->inst->key;
		klen = c->inst->klen;
	}
	if (key == NULL) {
		*rv = LEDGE_EINVAL;
		return NULL;
	}
	if ((t = node_target_for_key(t, key, klen)) == NULL) {
		*rv = LEDGE_EUNAVAIL;
	}
	return t;
}

/* The key an event to t carries: the one named, else a keyed sender's
 * own; none for a target that is not keyed.  LEDGE_EINVAL: a keyed
 * target and no key. */
static int
key_for(const struct host_ctx *c, const struct node_target *t, const void *key,
    size_t klen, struct node_event *ev)
{
	if (!node_target_keyed(t)) {
		return LEDGE_OK;
	}
	if (key == NULL) {
		key = c->inst->key;
		klen = c->inst->klen;
	}
	if (key == NULL) {
		return LEDGE_EINVAL;
	}
	return node_event_set_key(ev, key, klen);
}

static int
cast_to(ledge_ctx *ctx, const char *output, const void *key, size_t klen,
    const void *data, size_t len, uint32_t delay_ms)
{
	struct host_ctx *c = HC(ctx);
	const struct node_output *out;
	struct node_event **start;
	int rv = LEDGE_OK;

	if (output == NULL || (data == NULL && len > 0)) {
		return LEDGE_EINVAL;
	}
	if (key != NULL && (klen == 0 || klen > LEDGE_KEY_MAX)) {
		return LEDGE_EINVAL;
	}
	if ((out = instance_output(c->inst, output)) == NULL) {
		return LEDGE_ENOENT;
	}
	if (len > NODE_EVENT_MAX) {
		return LEDGE_ETOOBIG;
	}
	start = c->emits_tail ? &c->emits_tail->next : &c->emits;
	for (size_t i = 0; i < out->ntargets && rv == LEDGE_OK; i++) {
		struct node_target *t =
		    slot_for(c, out->targets[i], key, klen, &rv);
		struct node_event *ev;
		if (t == NULL) {
			break;
		}
		bool reserve = delay_ms == 0 && t->kind == NT_INSTANCE;

		if (t->kind == NT_RESOURCE && !t->res->type->accepts_cast) {
			rv = LEDGE_EINVAL;
			break;
		}
		if (t->kind == NT_REMOTE &&
		    links_full(c->w->env->links, t->rem->peer)) {
			rv = LEDGE_EFULL; /* its node is down or behind */
			break;
		}
		if (reserve &&
		    (rv = mb_reserve(&t->inst->mb,
		         t->inst->mb.cap * CAST_HARD_LIMIT)) != LEDGE_OK) {
			break;
		}
		if ((ev = node_event_new(NE_CAST, t->id, data, len)) == NULL) {
			if (reserve) {
				mb_unreserve(&t->inst->mb);
			}
			rv = LEDGE_ENOMEM;
			break;
		}
		ev->flags = NEF_DURABLE | (reserve ? NEF_RESERVED : 0);
		if ((rv = key_for(c, t, key, klen, ev)) != LEDGE_OK) {
			if (reserve) {
				mb_unreserve(&t->inst->mb);
			}
			node_event_free(ev);
			break;
		}
		ev->qid = node_next_qid(c->inst->node);
		ev->source = c->inst->target.id;
		ev->to = t;
		if (delay_ms) {
			ev->due_ms = clock_wall_ms() + delay_ms;
		}
		if (c->emits_tail) {
			c->emits_tail->next = ev;
		} else {
			c->emits = ev;
		}
		c->emits_tail = ev;
		c->nemits++;
	}
	if (rv != LEDGE_OK) {
		/* All targets or none. */
		exec_api_free_emits(c, start);
	}
	return rv;
}

static int
api_cast(ledge_ctx *ctx, const char *output, const void *data, size_t len,
    uint32_t delay_ms)
{
	return cast_to(ctx, output, NULL, 0, data, len, delay_ms);
}

static int
api_cast_key(ledge_ctx *ctx, const char *output, const void *key, size_t klen,
    const void *data, size_t len)
{
	if (key == NULL) {
		return LEDGE_EINVAL;
	}
	return cast_to(ctx, output, key, klen, data, len, 0);
}

/* Would `self` calling `target` close a cycle of blocked callers? */
static bool
closes_cycle(struct node_instance *self, struct node_instance *target)
{
	struct node_instance *t = target;
	for (int i = 0; t != NULL && i < CYCLE_DEPTH; i++) {
		if (t == self) {
			return true;
		}
		t = atomic_load(&t->waiting_on);
	}
	return false;
}

/*
 * Send a call event to the single target of `output` and wait for the
 * reply.  On LEDGE_OK *callp holds the completed call (caller unrefs).
 */
static int
do_call(struct host_ctx *c, const char *output, struct node_event *ev,
    const void *key, size_t klen, uint32_t timeout_ms, bool http,
    struct node_call **callp)
{
	const struct node_output *out = instance_output(c->inst, output);
	struct node_target *t;
	struct node_call *call;
	int rv;

	/* A function that calls is never run inline again; if this run is
	 * inline, it is abandoned and redone by a worker. */
	c->inst->blocks = true;
	atomic_store(&c->inst->inline_ok, false);
	if (c->inst->part != NULL) {
		keyed_blocked(c->inst);
	}
	if (c->w->on_loop) {
		c->aborted = true;
		node_event_free(ev);
		return LEDGE_ECLOSED;
	}
	if (out == NULL) {
		node_event_free(ev);
		return LEDGE_ENOENT;
	}
	if (out->ntargets != 1) {
		node_event_free(ev);
		return LEDGE_EINVAL;
	}
	if ((t = slot_for(c, out->targets[0], key, klen, &rv)) == NULL) {
		node_event_free(ev);
		return rv;
	}
	if (t->kind == NT_RESOURCE &&
	    (!t->res->type->accepts_call ||
	        (http != (strcmp(t->res->type->name, "http-egress") == 0)))) {
		node_event_free(ev);
		return LEDGE_EINVAL;
	}
	if ((rv = key_for(c, t, key, klen, ev)) != LEDGE_OK) {
		node_event_free(ev);
		return rv;
	}
	if ((call = node_call_new(false, NULL, NULL)) == NULL) {
		node_event_free(ev);
		return LEDGE_ENOMEM;
	}
	ev->call = call;
	ev->target = t->id;
	ev->source = c->inst->target.id;
	if (t->kind == NT_INSTANCE) {
		struct node_instance *ti = t->inst;
		/* Publish the wait before looking: of two instances calling
		 * each other at once, at least one sees the other. */
		atomic_store(&c->inst->waiting_on, ti);
		if (closes_cycle(c->inst, ti)) {
			rv = LEDGE_ECYCLE;
		} else {
			rv = mb_reserve(
			    &ti->mb, ti->mb.cap * INTERNAL_OVERCOMMIT);
		}
		if (rv != LEDGE_OK) {
			atomic_store(&c->inst->waiting_on, NULL);
			ev->call = NULL;
			node_event_free(ev);
			node_call_unref(call);
			node_call_unref(call);
			return rv;
		}
		ev->flags |= NEF_RESERVED;
	}
	node_send(c->inst->node, t, ev);
	sched_block_enter(c->w->sched);
	rv = node_call_wait(
	    call, timeout_ms ? timeout_ms : EXEC_CALL_TIMEOUT_MS);
	sched_block_leave(c->w->sched);
	atomic_store(&c->inst->waiting_on, NULL);
	if (rv == LEDGE_OK && call->reply.err != LEDGE_OK) {
		rv = call->reply.err;
	}
	if (rv != LEDGE_OK) {
		node_call_unref(call);
		return rv;
	}
	if (call->reply.dep > c->dep) {
		c->dep = call->reply.dep;
	}
	*callp = call;
	return LEDGE_OK;
}

static int
call_to(ledge_ctx *ctx, const char *output, const void *key, size_t klen,
    const void *data, size_t len, uint32_t timeout_ms, ledge_bytes *reply)
{
	struct host_ctx *c = HC(ctx);
	struct node_event *ev;
	struct node_call *call;
	int rv;

	if (output == NULL || reply == NULL || (data == NULL && len > 0)) {
		return LEDGE_EINVAL;
	}
	if (key != NULL && (klen == 0 || klen > LEDGE_KEY_MAX)) {
		return LEDGE_EINVAL;
	}
	if (len > NODE_EVENT_MAX) {
		return LEDGE_ETOOBIG;
	}
	if ((ev = node_event_new(NE_CALL, 0, data, len)) == NULL) {
		return LEDGE_ENOMEM;
	}
	if ((rv = do_call(c, output, ev, key, klen, timeout_ms, false,
	         &call)) != LEDGE_OK) {
		return rv;
	}
	reply->len = call->reply.len;
	reply->data = arena_dup(&c->w->arena, call->reply.body, reply->len);
	node_call_unref(call);
	return reply->data ? LEDGE_OK : LEDGE_ENOMEM;
}

static int
api_call(ledge_ctx *ctx, const char *output, const void *data, size_t len,
    uint32_t timeout_ms, ledge_bytes *reply)
{
	return call_to(ctx, output, NULL, 0, data, len, timeout_ms, reply);
}

static int
api_call_key(ledge_ctx *ctx, const char *output, const void *key, size_t klen,
    const void *data, size_t len, uint32_t timeout_ms, ledge_bytes *reply)
{
	if (key == NULL) {
		return LEDGE_EINVAL;
	}
	return call_to(ctx, output, key, klen, data, len, timeout_ms, reply);
}

static ledge_bytes
api_key(ledge_ctx *ctx)
{
	const struct node_instance *inst = HC(ctx)->inst;
	ledge_bytes k = { inst->key, inst->klen };
	return k;
}

static int
api_reply(ledge_ctx *ctx, const void *data, size_t len)
{
	struct host_ctx *c = HC(ctx);
	if (c->ev == NULL || c->ev->kind != NE_CALL) {
		return LEDGE_ESTATE;
	}
	if (data == NULL && len > 0) {
		return LEDGE_EINVAL;
	}
	if ((c->body = arena_dup(&c->w->arena, data, len)) == NULL) {
		return LEDGE_ENOMEM;
	}
	c->blen = len;
	c->replied = true;
	return LEDGE_OK;
}

/* ------------------------------------------------------------------ */
/* host API: config, identity, logs                                    */

static const ledge_config *
api_config(ledge_ctx *ctx)
{
	return &HC(ctx)->inst->spec->config.sdk;
}

static void
api_logv(ledge_ctx *ctx, int level, const char *fmt, va_list ap)
{
	struct host_ctx *c = HC(ctx);
	if (fmt == NULL || c->aborted) {
		return;
	}
	rlog_vwrite(c->w->env->log, level, c->inst->target.name, fmt, ap);
}

static const char *
api_self(ledge_ctx *ctx)
{
	return HC(ctx)->inst->target.name;
}

/* ------------------------------------------------------------------ */
/* host API: HTTP                                                      */

static const char *
api_http_method(ledge_ctx *ctx)
{
	const struct node_http *h = exec_req_http(HC(ctx));
	return h ? h->method : NULL;
}

static const char *
api_http_path(ledge_ctx *ctx)
{
	const struct node_http *h = exec_req_http(HC(ctx));
	return h ? h->path : NULL;
}

static const char *
api_http_query(ledge_ctx *ctx)
{
	const struct node_http *h = exec_req_http(HC(ctx));
	return h ? h->query : NULL;
}

static int
hexval(int ch)
{
	if (ch >= '0' && ch <= '9') {
		return ch - '0';
	}
	if (ch >= 'a' && ch <= 'f') {
		return ch - 'a' + 10;
	}
	if (ch >= 'A' && ch <= 'F') {
		return ch - 'A' + 10;
	}
	return -1;
}

/* Decode %XX and '+' of a query component into the arena. */
static char *
url_decode(struct arena *a, const char *s, size_t n)
{
	char *out = arena_alloc(a, n + 1), *o = out;
	if (out == NULL) {
		return NULL;
	}
	for (size_t i = 0; i < n; i++) {
		int hi, lo;
		if (s[i] == '+') {
			*o++ = ' ';
		} else if (s[i] == '%' && i + 2 < n &&
		    (hi = hexval(s[i + 1])) >= 0 &&
		    (lo = hexval(s[i + 2])) >= 0) {
			*o++ = (char)(hi * 16 + lo);
			i += 2;
		} else {
			*o++ = s[i];
		}
	}
	*o = '\0';
	return out;
}

static int
api_http_query_param(ledge_ctx *ctx, const char *name, const char **value)
{
	struct host_ctx *c = HC(ctx);
	const struct node_http *h = exec_req_http(c);
	const char *p;
	size_t nlen;

	if (h == NULL) {
		return LEDGE_ENOTHTTP;
	}
	if (name == NULL || value == NULL) {
		return LEDGE_EINVAL;
	}
	nlen = strlen(name);
	for (p = h->query; *p != '\0';) {
		const char *end = strchr(p, '&');
		const char *eq;
		size_t seg = end ? (size_t)(end - p) : strlen(p);
		eq = memchr(p, '=', seg);
		size_t klen = eq ? (size_t)(eq - p) : seg;
		char *k = url_decode(&c->w->arena, p, klen);
		if (k == NULL) {
			return LEDGE_ENOMEM;
		}
		if (strlen(k) == nlen && strcmp(k, name) == 0) {
			*value = eq
			    ? url_decode(&c->w->arena, eq + 1, seg - klen - 1)
			    : arena_strdup(&c->w->arena, "");
			return *value ? LEDGE_OK : LEDGE_ENOMEM;
		}
		p += seg;
		if (*p == '&') {
			p++;
		}
	}
	return LEDGE_ENOENT;
}

static const char *
api_http_header(ledge_ctx *ctx, const char *name)
{
	const struct node_http *h = exec_req_http(HC(ctx));
	return name ? node_http_header(h, name) : NULL;
}

static int
api_http_set_header(ledge_ctx *ctx, const char *name, const char *value)
{
	struct host_ctx *c = HC(ctx);
	if (c->ev == NULL || c->ev->kind != NE_CALL) {
		return LEDGE_ESTATE;
	}
	if (host_check_header(name, value) != LEDGE_OK) {
		return LEDGE_EINVAL;
	}
	if (strcasecmp(name, "content-type") == 0) {
		c->ctype = arena_strdup(&c->w->arena, value);
		return c->ctype ? LEDGE_OK : LEDGE_ENOMEM;
	}
	if (c->nrh == c->caprh) {
		size_t ncap = c->caprh ? c->caprh * 2 : 8;
		ledge_header *nh = arena_alloc(&c->w->arena, ncap * sizeof *nh);
		if (nh == NULL) {
			return LEDGE_ENOMEM;
		}
		if (c->nrh) {
			memcpy(nh, c->rh, c->nrh * sizeof *nh);
		}
		c->rh = nh;
		c->caprh = ncap;
	}
	c->rh[c->nrh].name = arena_strdup(&c->w->arena, name);
	c->rh[c->nrh].value = arena_strdup(&c->w->arena, value);
	if (c->rh[c->nrh].name == NULL || c->rh[c->nrh].value == NULL) {
		return LEDGE_ENOMEM;
	}
	c->nrh++;
	return LEDGE_OK;
}

static int
api_http_respond(ledge_ctx *ctx, int status, const char *content_type,
    const void *body, size_t len)
{
	struct host_ctx *c = HC(ctx);
	int rv;
	if (host_check_status(status) != LEDGE_OK) {
		return LEDGE_EINVAL;
	}
	if (content_type != NULL &&
	    (rv = api_http_set_header(ctx, "content-type", content_type)) !=
	        LEDGE_OK) {
		return rv;
	}
	if ((rv = api_reply(ctx, body, len)) != LEDGE_OK) {
		return rv;
	}
	c->status = status;
	return LEDGE_OK;
}

static int
api_http_fetch(ledge_ctx *ctx, const char *output,
    const ledge_http_request *req, ledge_http_response *resp)
{
	struct host_ctx *c = HC(ctx);
	struct arena *a = &c->w->arena;
	struct node_event *ev;
	struct node_call *call;
	struct node_reply *r;
	int rv;

	if (output == NULL || req == NULL || resp == NULL || req->url == NULL ||
	    (req->body == NULL && req->body_len > 0) ||
	    (req->headers == NULL && req->nheaders > 0)) {
		return LEDGE_EINVAL;
	}
	for (size_t i = 0; i < req->nheaders; i++) {
		if (req->headers[i].name == NULL ||
		    req->headers[i].value == NULL ||
		    host_has_crlf(req->headers[i].name) ||
		    host_has_crlf(req->headers[i].value)) {
			return LEDGE_EINVAL;
		}
	}
	if (host_has_crlf(req->url) ||
	    (req->method != NULL && host_has_crlf(req->method))) {
		return LEDGE_EINVAL;
	}
	if (req->body_len > NODE_EVENT_MAX) {
		return LEDGE_ETOOBIG;
	}
	if ((ev = node_event_new(NE_CALL, 0, req->body, req->body_len)) ==
	        NULL ||
	    (ev->http = node_http_new(req->method ? req->method : "GET", NULL,
	         NULL, req->url, req->headers, req->nheaders)) == NULL) {
		node_event_free(ev);
		return LEDGE_ENOMEM;
	}
	ev->http->timeout_ms = req->timeout_ms;
	/* The resource applies the request's own timeout; wait a little
	 * longer so that its answer, not ours, reports the deadline. */
	uint32_t wait = req->timeout_ms ? req->timeout_ms : 0;
	if ((rv = do_call(c, output, ev, NULL, 0, wait ? wait + 1000 : 0, true,
	         &call)) != LEDGE_OK) {
		return rv;
	}
	r = &call->reply;
	resp->status = r->status;
	resp->nheaders = r->nheaders;
	resp->body.len = r->len;
	resp->body.data = arena_dup(a, r->body, r->len);
	ledge_header *hs =
	    arena_alloc(a, (r->nheaders ? r->nheaders : 1) * sizeof *hs);
	rv = resp->body.data && hs ? LEDGE_OK : LEDGE_ENOMEM;
	for (size_t i = 0; rv == LEDGE_OK && i < r->nheaders; i++) {
		hs[i].name = arena_strdup(a, r->headers[i].name);
		hs[i].value = arena_strdup(a, r->headers[i].value);
		if (hs[i].name == NULL || hs[i].value == NULL) {
			rv = LEDGE_ENOMEM;
		}
	}
	resp->headers = hs;
	node_call_unref(call);
	return rv;
}

static const ledge_host_api host_api = {
	.size = sizeof(ledge_host_api),
	.abi = LEDGE_ABI_VERSION,
	.cast = api_cast,
	.call = api_call,
	.reply = api_reply,
	.state_get = api_state_get,
	.state_put = api_state_put,
	.state_del = api_state_del,
	.config = api_config,
	.logv = api_logv,
	.self = api_self,
	.http_method = api_http_method,
	.http_path = api_http_path,
	.http_query = api_http_query,
	.http_query_param = api_http_query_param,
	.http_header = api_http_header,
	.http_set_header = api_http_set_header,
	.http_respond = api_http_respond,
	.http_fetch = api_http_fetch,
	.key = api_key,
	.cast_key = api_cast_key,
	.call_key = api_call_key,
};

const ledge_host_api *
exec_api_table(void)
{
	return &host_api;
}
