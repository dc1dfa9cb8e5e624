/*
 * exec.c - the context functions run in, the host API table, and
 * the execution of one event with its all-or-nothing result.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "base/arena.h"
#include "base/clock.h"
#include "base/hmap.h"
#include "domain/links.h"
#include "isolate/host_rules.h"
#include "isolate/isolate.h"
#include "node/code.h"
#include "node/commit.h"
#include "node/ctl.h"
#include "node/enqueue.h"
#include "node/exec.h"
#include "node/idem.h"
#include "node/instance.h"
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

struct wentry {
	unsigned char *key; /* arena */
	uint32_t klen;
	unsigned char *val; /* arena */
	uint32_t vlen;
	bool del;
};

struct host_ctx {
	struct ledge_ctx pub; /* first: functions see only this */
	struct node_worker *w;
	struct node_instance *inst;
	struct node_event *ev;  /* the event being handled */
	struct node_code *code; /* the code running it */
	uint64_t dep;           /* newest commit seq this result depends on */
	bool aborted;           /* inline run hit a blocking call: redo it */
	int fail_err; /* isolation: the host failed (LEDGE_ETIMEDOUT: a
	                 timeout, for a 504), else 0 */
	struct node_instance *park_on; /* a target left over its cap */

	struct wentry *writes; /* malloc'd, reused */
	size_t nwrites, capw;
	bool windexed;

	struct node_event *emits, *emits_tail;
	size_t nemits;

	bool replied;
	int status;
	const char *ctype; /* arena */
	const unsigned char *body;
	size_t blen;
	ledge_header *rh; /* arena */
	size_t nrh, caprh;
};

struct node_worker {
	struct node *node;
	struct sched *sched;
	bool extra;
	bool on_loop; /* the loop thread's worker, for inline runs */
	struct store_reader *reader;
	struct arena arena;
	struct hmap wmap;
	struct host_ctx ctx;
};

static _Thread_local const char *current_name;

const char *
exec_current(void)
{
	return current_name;
}

static inline struct host_ctx *
HC(ledge_ctx *ctx)
{
	return (struct host_ctx *)ctx;
}

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

static int
api_state_get(ledge_ctx *ctx, const void *key, size_t klen, ledge_bytes *out)
{
	struct host_ctx *c = HC(ctx);
	const struct node_dirty *d;
	long i;

	if (klen == 0 || key == NULL || out == NULL) {
		return LEDGE_EINVAL;
	}
	if (klen > LEDGE_STATE_MAX_KEY) {
		return LEDGE_ETOOBIG;
	}
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
api_state_put(
    ledge_ctx *ctx, const void *key, size_t klen, const void *val, size_t vlen)
{
	int rv = host_check_put(key, klen, val, vlen);
	if (rv != LEDGE_OK) {
		return rv;
	}
	return wset_put(HC(ctx), key, klen, val, vlen, false);
}

static int
api_state_del(ledge_ctx *ctx, const void *key, size_t klen)
{
	int rv = host_check_key(key, klen);
	if (rv != LEDGE_OK) {
		return rv;
	}
	return wset_put(HC(ctx), key, klen, NULL, 0, true);
}

/* ------------------------------------------------------------------ */
/* host API: events                                                    */

static void
free_emits_from(struct host_ctx *c, struct node_event **link)
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

static int
api_cast(ledge_ctx *ctx, const char *output, const void *data, size_t len,
    uint32_t delay_ms)
{
	struct host_ctx *c = HC(ctx);
	const struct node_output *out;
	struct node_event **start;
	int rv = LEDGE_OK;

	if (output == NULL || (data == NULL && len > 0)) {
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
		struct node_target *t = out->targets[i];
		struct node_event *ev;
		bool reserve = delay_ms == 0 && t->kind == NT_INSTANCE;

		if (t->kind == NT_RESOURCE && !t->res->type->accepts_cast) {
			rv = LEDGE_EINVAL;
			break;
		}
		if (t->kind == NT_REMOTE &&
		    links_full(node_links(c->inst->node), t->rem->peer)) {
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
		free_emits_from(c, start);
	}
	return rv;
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
    uint32_t timeout_ms, bool http, struct node_call **callp)
{
	const struct node_output *out = instance_output(c->inst, output);
	struct node_target *t;
	struct node_call *call;
	int rv;

	/* A function that calls is never run inline again; if this run is
	 * inline, it is abandoned and redone by a worker. */
	c->inst->blocks = true;
	atomic_store(&c->inst->inline_ok, false);
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
	t = out->targets[0];
	if (t->kind == NT_RESOURCE &&
	    (!t->res->type->accepts_call ||
	        (http != (strcmp(t->res->type->name, "http-egress") == 0)))) {
		node_event_free(ev);
		return LEDGE_EINVAL;
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
api_call(ledge_ctx *ctx, const char *output, const void *data, size_t len,
    uint32_t timeout_ms, ledge_bytes *reply)
{
	struct host_ctx *c = HC(ctx);
	struct node_event *ev;
	struct node_call *call;
	int rv;

	if (output == NULL || reply == NULL || (data == NULL && len > 0)) {
		return LEDGE_EINVAL;
	}
	if (len > NODE_EVENT_MAX) {
		return LEDGE_ETOOBIG;
	}
	if ((ev = node_event_new(NE_CALL, 0, data, len)) == NULL) {
		return LEDGE_ENOMEM;
	}
	if ((rv = do_call(c, output, ev, timeout_ms, false, &call)) !=
	    LEDGE_OK) {
		return rv;
	}
	reply->len = call->reply.len;
	reply->data = arena_dup(&c->w->arena, call->reply.body, reply->len);
	node_call_unref(call);
	return reply->data ? LEDGE_OK : LEDGE_ENOMEM;
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
	rlog_vwrite(
	    node_log(c->inst->node), level, c->inst->target.name, fmt, ap);
}

static const char *
api_self(ledge_ctx *ctx)
{
	return HC(ctx)->inst->target.name;
}

/* ------------------------------------------------------------------ */
/* host API: HTTP                                                      */

static const struct node_http *
req_http(struct host_ctx *c)
{
	return c->ev != NULL && (c->ev->flags & NEF_HTTPIN) ? c->ev->http
	                                                    : NULL;
}

static const char *
api_http_method(ledge_ctx *ctx)
{
	const struct node_http *h = req_http(HC(ctx));
	return h ? h->method : NULL;
}

static const char *
api_http_path(ledge_ctx *ctx)
{
	const struct node_http *h = req_http(HC(ctx));
	return h ? h->path : NULL;
}

static const char *
api_http_query(ledge_ctx *ctx)
{
	const struct node_http *h = req_http(HC(ctx));
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
	const struct node_http *h = req_http(c);
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
	const struct node_http *h = req_http(HC(ctx));
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
	if ((rv = do_call(c, output, ev, wait ? wait + 1000 : 0, true,
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
};

/* ------------------------------------------------------------------ */
/* workers                                                             */

struct node_worker *
exec_worker_new(struct node *node, struct sched *sched, bool extra)
{
	struct node_worker *w = calloc(1, sizeof *w);
	if (w == NULL) {
		return NULL;
	}
	if (store_reader_open(node_store(node), &w->reader) != LEDGE_OK) {
		free(w);
		return NULL;
	}
	w->node = node;
	w->sched = sched;
	w->extra = extra;
	arena_init(&w->arena, 64 * 1024);
	hmap_init(&w->wmap);
	w->ctx.pub.api = &host_api;
	w->ctx.w = w;
	return w;
}

struct node_worker *
exec_worker_new_inline(struct node *node, struct sched *sched)
{
	struct node_worker *w = exec_worker_new(node, sched, false);
	if (w != NULL) {
		w->on_loop = true;
	}
	return w;
}

void
exec_worker_free(struct node_worker *w)
{
	if (w == NULL) {
		return;
	}
	store_reader_close(w->reader);
	arena_fini(&w->arena);
	hmap_fini(&w->wmap);
	free(w->ctx.writes);
	free(w);
}

struct sched *
exec_worker_sched(struct node_worker *w)
{
	return w->sched;
}

bool
exec_worker_extra(struct node_worker *w)
{
	return w->extra;
}

/* ------------------------------------------------------------------ */
/* one event                                                           */

static void
ctx_reset(struct host_ctx *c, struct node_instance *inst, struct node_event *ev,
    struct node_code *code)
{
	arena_reset(&c->w->arena);
	if (c->windexed) {
		hmap_clear(&c->w->wmap);
	}
	c->windexed = false;
	c->inst = inst;
	c->ev = ev;
	c->code = code;
	c->dep = ev->dep;
	c->aborted = false;
	c->fail_err = 0;
	c->park_on = NULL;
	c->nwrites = 0;
	c->emits = c->emits_tail = NULL;
	c->nemits = 0;
	c->replied = false;
	c->status = 0;
	c->ctype = NULL;
	c->body = NULL;
	c->blen = 0;
	c->rh = NULL;
	c->nrh = c->caprh = 0;
}

/* Build the record of a successful handler. */
static int
build_record(struct host_ctx *c, struct commit_rec *rec)
{
	unsigned char key[4 + LEDGE_STATE_MAX_KEY];
	unsigned char q[STORE_QKEY];
	int rv = LEDGE_OK;

	store_be32(key, c->inst->target.id);
	for (size_t i = 0; i < c->nwrites && rv == LEDGE_OK; i++) {
		struct wentry *e = &c->writes[i];
		memcpy(key + 4, e->key, e->klen);
		rv = e->del ? commit_rec_del(rec, STORE_STATE, key, 4 + e->klen)
		            : commit_rec_put(rec, STORE_STATE, key, 4 + e->klen,
		                  e->val, e->vlen);
	}
	if (rv == LEDGE_OK && (c->ev->flags & NEF_DURABLE)) {
		store_qkey(q, c->ev->target, c->ev->qid);
		rv = commit_rec_del(rec, STORE_QUEUE, q, sizeof q);
	}
	/* Emits were numbered when made (emit); the rule is enqueue.h's. */
	for (struct node_event *ev = c->emits; ev && rv == LEDGE_OK;
	     ev = ev->next) {
		rv = enqueue_durable(c->inst->node, rec, ev->to, ev);
	}
	return rv;
}

/* The reply of a call, copied out of the arena. */
static int
build_reply(struct host_ctx *c, int err, struct node_reply *r)
{
	memset(r, 0, sizeof *r);
	r->err = err;
	if (err != LEDGE_OK) {
		return LEDGE_OK;
	}
	r->status = c->status;
	if (c->blen > 0) {
		if ((r->body = malloc(c->blen)) == NULL) {
			goto oom;
		}
		memcpy(r->body, c->body, c->blen);
		r->len = c->blen;
	}
	if (c->ctype != NULL && (r->content_type = strdup(c->ctype)) == NULL) {
		goto oom;
	}
	if (c->nrh > 0) {
		if ((r->headers = calloc(c->nrh, sizeof *r->headers)) == NULL) {
			goto oom;
		}
		for (size_t i = 0; i < c->nrh; i++) {
			r->headers[i].name = strdup(c->rh[i].name);
			r->headers[i].value = strdup(c->rh[i].value);
			r->nheaders = i + 1;
			if (r->headers[i].name == NULL ||
			    r->headers[i].value == NULL) {
				goto oom;
			}
		}
	}
	return LEDGE_OK;
oom:
	node_reply_free(r);
	r->err = LEDGE_ENOMEM;
	return LEDGE_ENOMEM;
}

/*
 * A request with an Idempotency-Key: its answer joins the record, so a
 * retry finds it exactly when the effects are there.
 */
static int
add_idem(
    struct host_ctx *c, const struct node_reply *reply, struct commit_rec **rec)
{
	const struct node_http *h = req_http(c);
	const char *key = h ? node_http_header(h, "Idempotency-Key") : NULL;
	struct idem_answer a;

	if (key == NULL || h->idem_ttl_s == 0 || !c->ev->call->external) {
		return LEDGE_OK;
	}
	if (*rec == NULL && (*rec = commit_rec_new()) == NULL) {
		return LEDGE_ENOMEM;
	}
	a.expires_ms = clock_wall_ms() + (uint64_t)h->idem_ttl_s * 1000;
	a.status = reply->status ? reply->status : 200;
	a.ctype = reply->content_type;
	a.body = reply->body;
	a.len = reply->len;
	return idem_add(*rec, c->ev->source, key, &a);
}

/* After the commit of a record: send the events meant for resources. */
static void
release_held(void *arg, int err)
{
	struct node_event *ev = arg;
	while (ev != NULL) {
		struct node_event *next = ev->next;
		ev->next = NULL;
		if (err == LEDGE_OK) {
			node_send(ev->to->res->node, ev->to, ev);
		} else {
			node_event_free(ev);
		}
		ev = next;
	}
}

static const char *
kind_name(int kind)
{
	switch (kind) {
	case NE_CAST:
		return "cast";
	case NE_CALL:
		return "call";
	case NE_INIT:
		return "init";
	case NE_RELOAD:
		return "init (reload)";
	case NE_STOP:
		return "stop";
	default:
		return "event";
	}
}

/*
 * Make the handler's result real: on success one record with all of its
 * effects, then the emitted events and the reply; on failure nothing but
 * the consumption of a durable input.
 */
static void
finish(struct host_ctx *c, int rv)
{
	struct node_instance *inst = c->inst;
	struct node *node = inst->node;
	struct commit *cm = node_commit(node);
	struct node_event *ev = c->ev;
	struct commit_rec *rec = NULL;
	struct node_reply reply;
	struct node_event *held = NULL, **held_tail = &held;
	bool has_ops =
	    c->nwrites > 0 || c->nemits > 0 || (ev->flags & NEF_DURABLE);
	bool is_call = ev->kind == NE_CALL && ev->call != NULL;
	/* What this result builds on, besides its own record. */
	uint64_t dep = c->dep > inst->last_seq ? c->dep : inst->last_seq;
	uint64_t seq = 0;

	if (rv == LEDGE_OK && has_ops) {
		if ((rec = commit_rec_new()) == NULL ||
		    build_record(c, rec) != LEDGE_OK) {
			commit_rec_free(rec);
			rec = NULL;
			rv = LEDGE_ENOMEM;
			rlog_write(node_log(node), RLOG_ERROR,
			    inst->target.name,
			    "out of memory committing a %s; its effects are "
			    "dropped",
			    kind_name(ev->kind));
		}
	}
	if (rv != LEDGE_OK) {
		free_emits_from(c, &c->emits);
		c->nwrites = 0;
		if (ev->flags & NEF_DURABLE) {
			unsigned char q[STORE_QKEY];
			store_qkey(q, ev->target, ev->qid);
			if ((rec = commit_rec_new()) != NULL &&
			    commit_rec_del(rec, STORE_QUEUE, q, sizeof q) !=
			        LEDGE_OK) {
				commit_rec_free(rec);
				rec = NULL;
			}
		}
		atomic_fetch_add_explicit(
		    &inst->n_errors, 1, memory_order_relaxed);
	}

	if (is_call) {
		build_reply(c,
		    rv == LEDGE_OK ? LEDGE_OK
		                   : (c->fail_err ? c->fail_err : LEDGE_EFAIL),
		    &reply);
		if (reply.err == LEDGE_OK &&
		    add_idem(c, &reply, &rec) != LEDGE_OK) {
			node_reply_free(&reply);
			reply.err = LEDGE_ENOMEM;
		}
		/* An answer to the outside waits for the commit of what it
		 * says: its own record, or earlier ones it read from. */
		if (ev->call->external && reply.err == LEDGE_OK &&
		    (rec != NULL || dep > commit_durable(cm))) {
			if (rec == NULL && (rec = commit_rec_new()) == NULL) {
				reply.err = LEDGE_ENOMEM;
			} else {
				node_call_stage(ev->call, &reply);
				rec->call = ev->call;
				ev->call = NULL;
				is_call = false;
			}
		}
	}

	/* Events for resources are effects on the outside world too: they
	 * leave once this record is durable. */
	if (rec != NULL && rv == LEDGE_OK) {
		struct node_event **link = &c->emits;
		while (*link != NULL) {
			struct node_event *e = *link;
			if (e->to->kind == NT_RESOURCE && e->due_ms == 0) {
				*link = e->next;
				e->next = NULL;
				*held_tail = e;
				held_tail = &e->next;
			} else {
				link = &e->next;
			}
		}
		if (held != NULL) {
			rec->done = release_held;
			rec->arg = held;
		}
	}
	if (rec != NULL) {
		seq = commit_submit(cm, rec);
	}
	if (rv == LEDGE_OK && c->nwrites > 0) {
		for (size_t i = 0; i < c->nwrites; i++) {
			struct wentry *e = &c->writes[i];
			if (instance_dirty_put(inst, seq, e->key, e->klen,
			        e->val, e->vlen, e->del) != LEDGE_OK) {
				/* The write is committed regardless; without
				 * its cache entry a read could see an older
				 * value, so wait until the store has it. */
				sched_block_enter(c->w->sched);
				while (commit_durable(cm) < seq) {
					struct timespec ts = { 0, 100000 };
					nanosleep(&ts, NULL);
				}
				sched_block_leave(c->w->sched);
			}
		}
		inst->last_seq = seq;
	}
	/* A reply inside the node goes at once: the callee's record is
	 * ordered before anything the caller commits next, and the caller
	 * inherits its dependency for anything it tells the outside. */
	if (is_call) {
		reply.dep = seq > dep ? seq : dep;
		node_call_complete(ev->call, &reply);
		node_call_unref(ev->call);
		ev->call = NULL;
	}
	for (struct node_event *e = c->emits; e != NULL;) {
		struct node_event *next = e->next;
		struct node_target *t = e->to;
		e->next = NULL;
		e->dep = seq;
		if (t->kind == NT_REMOTE) {
			/* In the outbox; the link sends it once durable. */
			node_event_free(e);
			e = next;
			continue;
		}
		node_send(node, t, e);
		if (c->park_on == NULL && t->kind == NT_INSTANCE &&
		    t->inst != inst &&
		    mb_depth(&t->inst->mb) > t->inst->mb.cap) {
			c->park_on = t->inst;
		}
		e = next;
	}
	atomic_fetch_add_explicit(
	    &inst->n_emitted, c->nemits, memory_order_relaxed);
	c->emits = c->emits_tail = NULL;
	c->nemits = 0;
}

/* Keep score of how quick the instance's handlers are (see exec.h). */
static void
learn_speed(struct node_worker *w, struct node_instance *inst, uint64_t us)
{
	if (inst->blocks) {
		return;
	}
	if (us > EXEC_INLINE_MAX_US) {
		inst->fast_streak = 0;
		if (inst->streak_needed < (1u << 20)) {
			inst->streak_needed *= 2;
		}
		if (atomic_load(&inst->inline_ok)) {
			atomic_store(&inst->inline_ok, false);
			rlog_write(node_log(inst->node), RLOG_DEBUG,
			    inst->target.name,
			    "handler took %llu us%s: back to workers until "
			    "%u fast runs",
			    (unsigned long long)us,
			    w->on_loop ? " on the loop thread" : "",
			    inst->streak_needed);
		}
		return;
	}
	if (inst->fast_streak < inst->streak_needed &&
	    ++inst->fast_streak == inst->streak_needed) {
		atomic_store(&inst->inline_ok, true);
	}
}

/*
 * isolation: process: the callback runs in the instance's host process,
 * which calls back into this context for every ledge_* call (isolate.h).
 * Never on the loop thread (exec_run_inline refuses isolated instances):
 * it may take as long as the function likes.
 */
static int
run_isolated(struct host_ctx *c, struct node_code *code, ledge_bytes msg)
{
	struct node_instance *inst = c->inst;
	enum iso_fail fail;
	enum iso_kind kind;
	int rv;

	switch (c->ev->kind) {
	case NE_CAST:
		kind = ISO_CAST;
		break;
	case NE_CALL:
		kind = ISO_CALL;
		break;
	case NE_INIT:
	case NE_RELOAD:
		kind = ISO_INIT;
		break;
	case NE_STOP:
		kind = ISO_STOP;
		break;
	default:
		return LEDGE_EINVAL;
	}
	sched_block_enter(c->w->sched);
	rv = isolate_run(
	    inst->iso, code->path, &c->pub, kind, msg.data, msg.len, &fail);
	sched_block_leave(c->w->sched);
	if (fail == ISO_TIMEOUT) {
		c->fail_err = LEDGE_ETIMEDOUT;
	}
	return rv;
}

static void
exec_event(
    struct node_worker *w, struct node_instance *inst, struct node_event *ev)
{
	struct host_ctx *c = &w->ctx;
	struct node_code *code = inst->code;
	const ledge_function *fn;
	ledge_bytes msg = { ev->data, ev->len };
	uint64_t t0 = clock_mono_us();
	int rv = LEDGE_OK;

	if (ev->kind == NE_RELOAD) {
		code = ev->ctl;
		if (code == inst->code) {
			/* The same bytes (the cache shares them): nothing to
			 * switch, no init to run. */
			code_release(code);
			ev->ctl = NULL;
			node_event_free(ev);
			return;
		}
	}
	fn = code->fn;
	ctx_reset(c, inst, ev, code);
	current_name = inst->target.name;
	if (inst->iso != NULL) {
		rv = run_isolated(c, code, msg);
	} else {
		switch (ev->kind) {
		case NE_CAST:
			rv = fn->cast ? fn->cast(&c->pub, msg) : LEDGE_ENOTSUP;
			break;
		case NE_CALL:
			rv = fn->call ? fn->call(&c->pub, msg) : LEDGE_ENOTSUP;
			break;
		case NE_INIT:
		case NE_RELOAD:
			rv = fn->init
			    ? fn->init(&c->pub, &inst->spec->config.sdk)
			    : LEDGE_OK;
			break;
		case NE_STOP:
			if (fn->stop) {
				fn->stop(&c->pub);
			}
			break;
		default:
			rv = LEDGE_EINVAL;
		}
	}
	current_name = NULL;
	if (c->aborted) {
		/* Nothing of this run happened: drop its effects and give the
		 * event back, first in line, to a worker. */
		free_emits_from(c, &c->emits);
		c->nwrites = 0;
		mb_push_front(&inst->mb, ev);
		return;
	}
	if (ev->kind == NE_CAST || ev->kind == NE_CALL) {
		learn_speed(w, inst, clock_mono_us() - t0);
	}
	if (rv != LEDGE_OK && ev->kind != NE_INIT && ev->kind != NE_RELOAD) {
		if (rv == LEDGE_ENOTSUP &&
		    (ev->kind == NE_CAST || ev->kind == NE_CALL)) {
			rlog_write(node_log(inst->node), RLOG_WARN,
			    inst->target.name,
			    "got a %s but the function has no %s handler",
			    kind_name(ev->kind), kind_name(ev->kind));
		} else {
			rlog_write(node_log(inst->node), RLOG_WARN,
			    inst->target.name, "%s failed: %d (%s)",
			    kind_name(ev->kind), rv, ledge_strerror(rv));
		}
	}
	finish(c, rv);
	atomic_fetch_add_explicit(&inst->n_events, 1, memory_order_relaxed);
	{
		static const uint32_t le[NODE_HIST_N] = NODE_HIST_BOUNDS;
		uint64_t dt = clock_mono_us() - t0;
		atomic_fetch_add_explicit(
		    &inst->n_busy_us, dt, memory_order_relaxed);
		for (size_t b = 0; b < NODE_HIST_N; b++) {
			if (dt <= le[b]) {
				atomic_fetch_add_explicit(
				    &inst->n_hist[b], 1, memory_order_relaxed);
				break;
			}
		}
	}

	if (ev->kind == NE_RELOAD) {
		if (rv == LEDGE_OK) {
			struct node_code *old = inst->code;
			inst->code = code;
			code_release(old);
		} else {
			code_release(code);
		}
		ev->ctl = NULL;
	}
	if (ev->kind >= NE_INIT) {
		node_instance_ctl_done(inst->node, inst, ev->kind, rv);
	}
	node_event_free(ev);
}

/* Schedule the producers that were waiting for inst to drain. */
static void
wake_parked(struct node_worker *w, struct node_instance *inst)
{
	struct node_instance *p = instance_drained(inst);
	while (p != NULL) {
		struct node_instance *next = p->wait_next;
		p->wait_next = NULL;
		atomic_store(&p->parked_on, NULL);
		sched_enqueue(w->sched, p);
		p = next;
	}
}

/*
 * After an event whose casts left a target over its cap: put the rest of
 * the batch back and park; or, if parking is not possible (the target
 * drained meanwhile, or a cycle), carry on.  Returns true if parked (the
 * instance stays scheduled and runs again when woken).
 */
static bool
maybe_park(
    struct node_worker *w, struct node_instance *inst, struct node_event **rest)
{
	struct node_instance *target = w->ctx.park_on;
	w->ctx.park_on = NULL;
	if (target == NULL) {
		return false;
	}
	mb_push_front_list(&inst->mb, *rest);
	*rest = NULL;
	return instance_park(inst, target);
}

bool
exec_run_inline(
    struct node_worker *w, struct node_instance *inst, struct node_event *ev)
{
	uint64_t durable;

	/* A new instance's init may run here too (it has no history to
	 * judge by; it is speculative like any inline run). */
	bool eligible = inst->iso == NULL &&
	    (ev->kind == NE_INIT ||
	        ((ev->kind == NE_CAST || ev->kind == NE_CALL) &&
	            atomic_load_explicit(
	                &inst->inline_ok, memory_order_relaxed)));
	if (!eligible || !mb_try_claim(&inst->mb)) {
		return false;
	}
	/* The slot reserved at admission is this event's; it is not queued. */
	if (ev->flags & NEF_RESERVED) {
		mb_unreserve(&inst->mb);
		ev->flags &= (uint8_t)~NEF_RESERVED;
	}
	durable = commit_durable(node_commit(inst->node));
	if (store_reader_begin(w->reader) == LEDGE_OK) {
		instance_dirty_evict(inst, durable);
	}
	exec_event(w, inst, ev);
	store_reader_end(w->reader);
	struct node_event *none = NULL;
	if (!maybe_park(w, inst, &none) && mb_more(&inst->mb)) {
		sched_enqueue(w->sched, inst);
	}
	return true;
}

void
exec_run(struct node_worker *w, struct node_instance *inst)
{
	struct node_event *list;
	size_t n = mb_take(&inst->mb, &list, EXEC_BATCH);
	uint64_t durable;

	if (n == 0) {
		return;
	}
	/* Writes up to `durable` are in the snapshot taken after reading
	 * it, so their cached copies can go. */
	durable = commit_durable(node_commit(inst->node));
	if (store_reader_begin(w->reader) == LEDGE_OK) {
		instance_dirty_evict(inst, durable);
	}
	wake_parked(w, inst);
	while (list != NULL) {
		struct node_event *next = list->next;
		list->next = NULL;
		exec_event(w, inst, list);
		list = next;
		if (w->ctx.park_on != NULL && maybe_park(w, inst, &list)) {
			store_reader_end(w->reader);
			return;
		}
	}
	store_reader_end(w->reader);
	wake_parked(w, inst);
	if (mb_more(&inst->mb)) {
		sched_enqueue(w->sched, inst);
	}
}
