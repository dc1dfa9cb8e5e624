/*
 * exec.c - the executor's workers and the running of one event or a
 * batch: a handler's context is reset, the code runs (in-process or in
 * its isolation host), and what it did becomes one commit record with
 * its reply and the events it emitted, all or nothing.  The calls a
 * handler makes are exec_api.c's.
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

static _Thread_local const char *current_name;

const char *
exec_current(void)
{
	return current_name;
}

/* ------------------------------------------------------------------ */
/* workers                                                             */

static struct node_worker *
exec_worker_new(const struct exec_env *env, struct sched *sched, bool extra)
{
	struct node_worker *w = calloc(1, sizeof *w);
	if (w == NULL) {
		return NULL;
	}
	if (store_reader_open(env->store, &w->reader) != LEDGE_OK) {
		free(w);
		return NULL;
	}
	w->env = env;
	w->sched = sched;
	w->extra = extra;
	arena_init(&w->arena, 64 * 1024);
	hmap_init(&w->wmap);
	w->ctx.pub.api = exec_api_table();
	w->ctx.w = w;
	return w;
}

struct node_worker *
exec_worker_new_inline(const struct exec_env *env, struct sched *sched)
{
	struct node_worker *w = exec_worker_new(env, sched, false);
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

static void *
sched_worker_new(void *arg, struct sched *s, bool extra)
{
	return exec_worker_new(arg, s, extra);
}

static void
sched_run(void *w, struct node_instance *inst)
{
	exec_run(w, inst);
}

static void
sched_worker_free(void *w)
{
	exec_worker_free(w);
}

static const struct sched_ops sched_ops = {
	.worker_new = sched_worker_new,
	.run = sched_run,
	.worker_free = sched_worker_free,
};

const struct sched_ops *
exec_sched_ops(void)
{
	return &sched_ops;
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
	c->wgrowth = 0;
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
	const struct node_http *h = exec_req_http(c);
	const char *key = h ? node_http_header(h, "Idempotency-Key") : NULL;
	struct idem_answer a;
	char ikey[IDEM_MAX_KEY + 1];

	if (key == NULL || h->idem_ttl_s == 0 || !c->ev->call->external) {
		return LEDGE_OK;
	}
	if (c->inst->key != NULL) {
		/* A key instance's answers are its key's (idem.h). */
		key = idem_key_for(ikey, key, c->inst->key, c->inst->klen);
	}
	if (*rec == NULL && (*rec = commit_rec_new()) == NULL) {
		return LEDGE_ENOMEM;
	}
	a.expires_ms = clock_wall_ms() + (uint64_t)h->idem_ttl_s * 1000;
	a.status = reply->status ? reply->status : 200;
	a.ctype = reply->content_type;
	a.body = reply->body;
	a.len = reply->len;
	/* A call from another node: kept per target (replicated with its
	 * state), so that a retry is answered from it wherever the part
	 * runs by then. */
	return idem_add(*rec,
	    (c->ev->flags & NEF_LINKED) ? c->inst->target.id : c->ev->source,
	    key, &a);
}

/*
 * A call from another node carrying an Idempotency-Key this part has
 * answered already - here, or on the primary whose state this node
 * replicated before a failover: the stored answer again, without running
 * the handler, so a client's retry is not counted twice.  It leaves once
 * everything committed before it is acknowledged (an empty record, in
 * order).  True if answered.
 */
static bool
replay_linked(
    struct node_worker *w, struct node_instance *inst, struct node_event *ev)
{
	const char *key;
	struct idem_answer a;
	struct node_reply r;
	struct commit_rec *rec;
	static const char hname[] = "Idempotent-Replayed", hval[] = "true";
	char ikey[IDEM_MAX_KEY + 1];

	if (ev->kind != NE_CALL || !(ev->flags & NEF_LINKED) ||
	    ev->call == NULL || ev->http == NULL || ev->http->idem_ttl_s == 0 ||
	    (key = node_http_header(ev->http, "Idempotency-Key")) == NULL) {
		return false;
	}
	if (inst->key != NULL) {
		key = idem_key_for(ikey, key, inst->key, inst->klen);
	}
	if (idem_get(w->reader, inst->target.id, key, clock_wall_ms(), &a) !=
	    LEDGE_OK) {
		return false;
	}
	memset(&r, 0, sizeof r);
	r.status = a.status;
	r.content_type = a.ctype_len ? strndup(a.ctype, a.ctype_len) : NULL;
	r.body = a.len ? malloc(a.len) : NULL;
	r.headers = calloc(1, sizeof *r.headers);
	if ((a.ctype_len && r.content_type == NULL) ||
	    (a.len && r.body == NULL) || r.headers == NULL ||
	    (r.headers[0].name = strdup(hname)) == NULL ||
	    (r.headers[0].value = strdup(hval)) == NULL ||
	    (rec = commit_rec_new()) == NULL) {
		if (r.headers != NULL) {
			r.nheaders = 1;
		}
		node_reply_free(&r);
		return false; /* run it: better twice than never */
	}
	r.nheaders = 1;
	if (a.len) {
		memcpy(r.body, a.body, a.len);
		r.len = a.len;
	}
	node_call_stage(ev->call, &r);
	rec->call = ev->call;
	ev->call = NULL;
	commit_submit(w->env->commit, rec);
	atomic_fetch_add_explicit(
	    &inst->counts->n_events, 1, memory_order_relaxed);
	return true;
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
	struct commit *cm = c->w->env->commit;
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
			rlog_write(c->w->env->log, RLOG_ERROR,
			    inst->target.name,
			    "out of memory committing a %s; its effects are "
			    "dropped",
			    kind_name(ev->kind));
		}
	}
	if (rv != LEDGE_OK) {
		exec_api_free_emits(c, &c->emits);
		c->nwrites = 0;
		/* Refused for a full store: the durable input stays queued
		 * and runs again when the node next starts (README, A full
		 * store); a quota is the function's own, so that event is done.
		 */
		if ((ev->flags & NEF_DURABLE) && c->fail_err != LEDGE_ENOSPC) {
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
		    &inst->counts->n_errors, 1, memory_order_relaxed);
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
		    (rec != NULL || dep > commit_released(cm))) {
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
		/* (A keyed part's own mailbox holds nothing to drain: its
		 * keys' admission is keyed_admit.) */
		if (c->park_on == NULL && t->kind == NT_INSTANCE &&
		    t->inst != inst && t->inst->keyed == NULL &&
		    mb_depth(&t->inst->mb) > t->inst->mb.cap) {
			c->park_on = t->inst;
		}
		e = next;
	}
	atomic_fetch_add_explicit(
	    &inst->counts->n_emitted, c->nemits, memory_order_relaxed);
	c->emits = c->emits_tail = NULL;
	c->nemits = 0;
}

/* Keep score of how quick the instance's handlers are (see exec.h). */
static void
learn_speed(struct node_worker *w, struct node_instance *inst, uint64_t us)
{
	if (inst->part != NULL) {
		keyed_speed(inst, us); /* learned over all the part's keys */
		return;
	}
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
			rlog_write(w->env->log, RLOG_DEBUG, inst->target.name,
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

/*
 * A keyed part runs no callback: its init and stop are its keys' (each
 * key instance runs its own), its reload is handed to them (keyed.h).
 */
static void
part_ctl(struct node_instance *part, struct node_event *ev)
{
	switch (ev->kind) {
	case NE_INIT:
		ctl_done(part->node, part, NE_INIT, LEDGE_OK);
		break;
	case NE_RELOAD: {
		struct node_code *code = ev->ctl, *old = part->code;
		ev->ctl = NULL;
		if (code != old) {
			keyed_reload(part, code_ref(code));
			part->code = code;
			code_release(old);
		} else {
			code_release(code);
		}
		ctl_done(part->node, part, NE_RELOAD, LEDGE_OK);
		break;
	}
	case NE_STOP:
		if (keyed_stop_all(part)) {
			ctl_done(part->node, part, NE_STOP, LEDGE_OK);
		}
		break;
	default:
		break; /* routing gives its keys the casts and calls */
	}
	node_event_free(ev);
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

	if (inst->keyed != NULL) {
		part_ctl(inst, ev);
		return;
	}
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
	if (replay_linked(w, inst, ev)) {
		node_event_free(ev);
		return;
	}
	fn = code->fn;
	ctx_reset(c, inst, ev, code);
	current_name = inst->target.name;
	if (atomic_load_explicit(&inst->kfailed, memory_order_relaxed) &&
	    (ev->kind == NE_CAST || ev->kind == NE_CALL)) {
		rv = LEDGE_EFAIL; /* its key's init failed */
	} else if (inst->iso != NULL) {
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
		exec_api_free_emits(c, &c->emits);
		c->nwrites = 0;
		mb_push_front(&inst->mb, ev);
		if (inst->part != NULL) {
			keyed_took(inst, -1); /* queued again */
		}
		return;
	}
	if (ev->kind == NE_CAST || ev->kind == NE_CALL) {
		learn_speed(w, inst, clock_mono_us() - t0);
	}
	if (rv != LEDGE_OK && ev->kind != NE_INIT && ev->kind != NE_RELOAD) {
		if (rv == LEDGE_ENOTSUP &&
		    (ev->kind == NE_CAST || ev->kind == NE_CALL)) {
			rlog_write(w->env->log, RLOG_WARN, inst->target.name,
			    "got a %s but the function has no %s handler",
			    kind_name(ev->kind), kind_name(ev->kind));
		} else {
			rlog_write(w->env->log, RLOG_WARN, inst->target.name,
			    "%s failed: %d (%s)", kind_name(ev->kind), rv,
			    ledge_strerror(rv));
		}
	}
	finish(c, rv);
	atomic_fetch_add_explicit(
	    &inst->counts->n_events, 1, memory_order_relaxed);
	{
		static const uint32_t le[NODE_HIST_N] = NODE_HIST_BOUNDS;
		uint64_t dt = clock_mono_us() - t0;
		atomic_fetch_add_explicit(
		    &inst->counts->n_busy_us, dt, memory_order_relaxed);
		for (size_t b = 0; b < NODE_HIST_N; b++) {
			if (dt <= le[b]) {
				atomic_fetch_add_explicit(
				    &inst->counts->n_hist[b], 1,
				    memory_order_relaxed);
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
		ctl_done(inst->node, inst, ev->kind, rv);
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
	if (inst->part != NULL) {
		long back = 0;
		for (struct node_event *e = *rest; e != NULL; e = e->next) {
			back++;
		}
		keyed_took(inst, -back); /* queued again */
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
	            (inst->part != NULL ? keyed_inline_ok(inst)
	                                : atomic_load_explicit(&inst->inline_ok,
	                                      memory_order_relaxed))));
	if (!eligible || !mb_try_claim(&inst->mb)) {
		return false;
	}
	/* The slot reserved at admission is this event's; it is not queued. */
	if (ev->flags & NEF_RESERVED) {
		mb_unreserve(&inst->mb);
		ev->flags &= (uint8_t)~NEF_RESERVED;
	}
	durable = commit_durable(w->env->commit);
	if (store_reader_begin(w->reader) == LEDGE_OK) {
		instance_dirty_evict(inst, durable);
	}
	exec_event(w, inst, ev);
	store_reader_end(w->reader);
	if (inst->part != NULL) {
		keyed_ran(inst);
	}
	struct node_event *none = NULL;
	if (!maybe_park(w, inst, &none) && mb_more(&inst->mb)) {
		sched_enqueue(w->sched, inst);
	}
	return true;
}

void
exec_run_claimed(struct node_worker *w, struct node_instance *inst,
    struct node_event *first, struct node_event *ev)
{
	uint64_t durable = commit_durable(w->env->commit);
	bool began = store_reader_begin(w->reader) == LEDGE_OK;
	bool aborted;

	if (began) {
		instance_dirty_evict(inst, durable);
	}
	exec_event(w, inst, first);
	aborted = w->ctx.aborted; /* it went back to the mailbox */
	if (!aborted && keyed_inline_ok(inst)) {
		exec_event(w, inst, ev);
	} else {
		/* In line right after its init. */
		struct node_event *init = NULL;
		if (aborted && mb_take(&inst->mb, &init, 1) == 1) {
			keyed_took(inst, 1);
		}
		mb_push_front(&inst->mb, ev);
		keyed_took(inst, -1);
		if (init != NULL) {
			mb_push_front(&inst->mb, init);
			keyed_took(inst, -1);
		}
	}
	if (began) {
		store_reader_end(w->reader);
	}
	keyed_ran(inst);
	struct node_event *none = NULL;
	if (!maybe_park(w, inst, &none) && mb_more(&inst->mb)) {
		sched_enqueue(w->sched, inst);
	}
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
	if (inst->part != NULL) {
		keyed_took(inst, (long)n);
	}
	/* Writes up to `durable` are in the snapshot taken after reading
	 * it, so their cached copies can go. */
	durable = commit_durable(w->env->commit);
	if (store_reader_begin(w->reader) == LEDGE_OK) {
		instance_dirty_evict(inst, durable);
	}
	wake_parked(w, inst);
	while (list != NULL) {
		struct node_event *next = list->next;
		list->next = NULL;
		if (inst->part != NULL && list->kind == NE_STOP &&
		    next != NULL) {
			/* A key stops: what came after its stop goes back to
			 * the mailbox, where its stop finds it and starts the
			 * key again before it (keyed_stopped). */
			long back = 0;
			for (struct node_event *e = next; e != NULL;
			     e = e->next) {
				back++;
			}
			keyed_took(inst, -back);
			mb_push_front_list(&inst->mb, next);
			next = NULL;
		}
		exec_event(w, inst, list);
		list = next;
		if (w->ctx.park_on != NULL && maybe_park(w, inst, &list)) {
			store_reader_end(w->reader);
			return;
		}
	}
	store_reader_end(w->reader);
	wake_parked(w, inst);
	if (inst->part != NULL) {
		keyed_ran(inst);
	}
	if (mb_more(&inst->mb)) {
		sched_enqueue(w->sched, inst);
	}
}
