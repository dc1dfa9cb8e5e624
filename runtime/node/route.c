/*
 * route.c - the target table and the routing of events (route.h): to an
 * instance's mailbox, to a resource on the loop thread, to a part on
 * another node over the links, or first onto the heap of delayed events.
 */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "node/commit.h"
#include "node/enqueue.h"
#include "node/instance.h"
#include "node/keyed.h"
#include "node/links.h"
#include "node/node_call.h"
#include "node/node_event.h"
#include "node/node_impl.h"
#include "node/res_api.h"
#include "node/route.h"
#include "node/sched.h"
#include "platform/loop.h"
#include "store/store.h"
#include "workflow/resource.h"
#include "workflow/workflow.h"

/* Transport ceiling of a remote call (callers time out earlier). */
#define REMOTE_CALL_MAX_MS 60000

const char *
node_target_name(struct node *n, uint32_t id)
{
	return id < n->ntargets && n->targets[id] ? n->targets[id]->name : NULL;
}

/* ------------------------------------------------------------------ */
/* delayed events                                                      */

static void
heap_swap(struct node *n, size_t a, size_t b)
{
	struct delayed t = n->heap[a];
	n->heap[a] = n->heap[b];
	n->heap[b] = t;
}

static void
heap_push(struct node *n, struct node_event *ev)
{
	size_t i;
	if (n->nheap == n->capheap) {
		size_t ncap = n->capheap ? n->capheap * 2 : 64;
		struct delayed *h = realloc(n->heap, ncap * sizeof *h);
		if (h == NULL) {
			/* Durable anyway: it comes back at the next start. */
			rlog_write(n->log, RLOG_ERROR, NULL,
			    "out of memory holding a delayed event; it will "
			    "be delivered after a restart");
			node_event_free(ev);
			return;
		}
		n->heap = h;
		n->capheap = ncap;
	}
	i = n->nheap++;
	n->heap[i] = (struct delayed) { ev->due_ms, ev };
	while (i > 0 && n->heap[(i - 1) / 2].due > n->heap[i].due) {
		heap_swap(n, i, (i - 1) / 2);
		i = (i - 1) / 2;
	}
}

static struct node_event *
heap_pop(struct node *n)
{
	struct node_event *ev = n->heap[0].ev;
	size_t i = 0;
	n->heap[0] = n->heap[--n->nheap];
	for (;;) {
		size_t l = 2 * i + 1, r = l + 1, m = i;
		if (l < n->nheap && n->heap[l].due < n->heap[m].due) {
			m = l;
		}
		if (r < n->nheap && n->heap[r].due < n->heap[m].due) {
			m = r;
		}
		if (m == i) {
			break;
		}
		heap_swap(n, i, m);
		i = m;
	}
	return ev;
}

static void
arm_delay(struct node *n)
{
	uint64_t now = clock_wall_ms();
	if (n->nheap == 0) {
		loop_timer_stop(n->delay_timer);
		return;
	}
	loop_timer_start(
	    n->delay_timer, n->heap[0].due > now ? n->heap[0].due - now : 0);
}

static void
on_delay(void *arg)
{
	struct node *n = arg;
	uint64_t now = clock_wall_ms();
	while (n->nheap > 0 && n->heap[0].due <= now) {
		struct node_event *ev = heap_pop(n);
		ev->due_ms = 0;
		node_send(n, ev->to, ev);
	}
	arm_delay(n);
}

static void
post_delayed(void *arg)
{
	struct node_event *ev = arg;
	struct node *n = ev->to->kind == NT_INSTANCE ? ev->to->inst->node
	                                             : ev->to->res->node;
	if (node_impl_stopping(n)) {
		node_event_free(ev); /* durable: replayed at the next start */
		return;
	}
	heap_push(n, ev);
	arm_delay(n);
}

/* ------------------------------------------------------------------ */
/* routing                                                             */

static void
deliver_res(void *arg)
{
	struct node_event *ev = arg;
	struct node_target *t = ev->to;
	struct res *r = t->res;

	if (r->type->deliver == NULL || !((struct node_res *)r)->started) {
		if (ev->call != NULL) {
			node_call_fail(ev->call, LEDGE_ECLOSED);
		}
		atomic_fetch_sub(&t->pending, 1);
		node_event_free(ev);
		return;
	}
	r->type->deliver(r, ev);
}

/*
 * To a part on another node: a call goes over the link now; a cast (from
 * a resource: a tick, an HTTP cast) goes through the outbox, committed
 * like any effect, and leaves once durable.
 */
/* Out of memory handing ev on: log it, count it, free it. */
static void
drop(struct node *n, struct node_target *t, struct node_event *ev,
    enum node_drop why)
{
	atomic_fetch_add_explicit(&n->dropped[why], 1, memory_order_relaxed);
	if (why == NODE_DROP_REMOTE) {
		rlog_write(n->log, RLOG_ERROR, t->name,
		    "out of memory sending an event to node %s; the event is "
		    "dropped",
		    t->rem->node);
	} else {
		rlog_write(n->log, RLOG_ERROR, t->name,
		    "out of memory handing on a%s event; the event is dropped",
		    why == NODE_DROP_DELAYED ? " delayed" : "n");
	}
	node_event_free(ev);
}

static void
send_remote(struct node *n, struct node_target *t, struct node_event *ev)
{
	if (ev->kind == NE_CALL) {
		links_call(
		    n->links, t->rem->node, t->name, ev, REMOTE_CALL_MAX_MS);
		return;
	}
	struct commit_rec *rec = commit_rec_new();
	if (rec != NULL && enqueue_durable(n, rec, t, ev) == LEDGE_OK) {
		commit_submit(n->commit, rec);
		node_event_free(ev);
	} else {
		commit_rec_free(rec);
		drop(n, t, ev, NODE_DROP_REMOTE);
	}
}

/* A cast or call for a keyed part without a key: no instance can take
 * it.  Logged; a call fails with LEDGE_EINVAL; a durable event is
 * dropped from the queue by nobody, so it is left for an operator. */
static void
unkeyed(struct node *n, struct node_target *t, struct node_event *ev)
{
	rlog_write(n->log, RLOG_WARN, t->name,
	    "a %s without a key for a keyed function was dropped",
	    ev->kind == NE_CALL ? "call" : "cast");
	if (ev->call != NULL) {
		node_call_fail(ev->call, LEDGE_EINVAL);
	}
	node_event_free(ev);
}

struct node_target *
node_target_for_key(struct node_target *t, const void *key, size_t klen)
{
	if (t == NULL || t->kind != NT_SLOTS) {
		return t;
	}
	if (key == NULL || klen == 0) {
		return NULL;
	}
	return t->slots[wf_key_slot(key, klen, t->nslots)];
}

bool
node_target_keyed(const struct node_target *t)
{
	return t->kind == NT_SLOTS || t->keyed ||
	    (t->kind == NT_INSTANCE && t->inst->keyed != NULL);
}

/* An event for a keyed function split into slots whose key's slot is
 * placed nowhere now (or that has no key). */
static void
no_slot(struct node *n, struct node_target *t, struct node_event *ev)
{
	if (ev->key == NULL) {
		unkeyed(n, t, ev);
		return;
	}
	rlog_write(n->log, RLOG_WARN, t->name,
	    "a %s for slot %u, which is placed nowhere now, was dropped",
	    ev->kind == NE_CALL ? "call" : "cast",
	    (unsigned)wf_key_slot(ev->key, ev->klen, t->nslots));
	if (ev->call != NULL) {
		node_call_fail(ev->call, LEDGE_EUNAVAIL);
	}
	node_event_free(ev);
}

void
node_send(struct node *n, struct node_target *t, struct node_event *ev)
{
	if (t->kind == NT_SLOTS) {
		struct node_target *s =
		    node_target_for_key(t, ev->key, ev->klen);
		if (s == NULL) {
			no_slot(n, t, ev);
			return;
		}
		t = s;
	}
	ev->to = t;
	ev->target = t->id;
	if (ev->due_ms != 0 && ev->due_ms > clock_wall_ms()) {
		if (loop_post(n->loop, post_delayed, ev) != LEDGE_OK) {
			drop(n, t, ev, NODE_DROP_DELAYED);
		}
		return;
	}
	if (t->kind == NT_INSTANCE && t->inst->keyed != NULL &&
	    ev->kind < NE_INIT) {
		if (ev->key == NULL) {
			unkeyed(n, t, ev);
		} else {
			keyed_route(n, t->inst, ev);
		}
		return;
	}
	if (t->kind == NT_INSTANCE) {
		ev->enq_us = clock_mono_us();
		if (mb_push(&t->inst->mb, ev)) {
			sched_enqueue(n->sched, t->inst);
		}
		return;
	}
	if (t->kind == NT_REMOTE) {
		send_remote(n, t, ev);
		return;
	}
	atomic_fetch_add(&t->pending, 1);
	if (loop_post(n->loop, deliver_res, ev) != LEDGE_OK) {
		atomic_fetch_sub(&t->pending, 1);
		drop(n, t, ev, NODE_DROP_RESOURCE);
	}
}

void
node_send_inline(struct node *n, struct node_target *t, struct node_event *ev)
{
	if (t->kind == NT_SLOTS) {
		struct node_target *s =
		    node_target_for_key(t, ev->key, ev->klen);
		if (s == NULL) {
			node_send(n, t, ev); /* no slot: dropped there */
			return;
		}
		t = s;
	}
	if (t->kind == NT_INSTANCE && n->inline_worker != NULL &&
	    ev->due_ms == 0 && loop_on_thread(n->loop)) {
		ev->to = t;
		ev->target = t->id;
		if (t->inst->keyed != NULL && ev->kind < NE_INIT &&
		    ev->key != NULL) {
			/* Its key's instance, which may take it right here -
			 * after its init, when it was just activated. */
			struct node_event *start;
			struct node_instance *k =
			    keyed_claim(n, t->inst, ev, &start);
			if (k == NULL) {
				return;
			}
			if (start != NULL) {
				n->run_claimed(n->inline_worker, k, start, ev);
			} else if (!n->run_inline(n->inline_worker, k, ev)) {
				keyed_push(n, k, ev);
			}
			return;
		}
		if (t->inst->keyed == NULL &&
		    n->run_inline(n->inline_worker, t->inst, ev)) {
			return;
		}
	}
	node_send(n, t, ev);
}

int
node_admit(struct node_target *t)
{
	if (t->kind == NT_INSTANCE) {
		if (t->inst->keyed != NULL && !keyed_admit(t->inst)) {
			return LEDGE_EFULL;
		}
		return mb_reserve(&t->inst->mb, t->inst->mb.cap);
	}
	if (t->kind == NT_REMOTE) {
		/* The outbox is durable, but bounded all the same. */
		return links_full(t->rem->links, t->rem->peer) ? LEDGE_EFULL
		                                               : LEDGE_OK;
	}
	return atomic_load(&t->pending) < 10000 ? LEDGE_OK : LEDGE_EFULL;
}

void
node_admitted(struct node_target *t, struct node_event *ev)
{
	if (t->kind == NT_INSTANCE) {
		ev->flags |= NEF_RESERVED;
	}
}

void
node_event_done(struct node *n, struct res *r, struct node_event *ev, int err)
{
	struct node_res *nr = (struct node_res *)r;
	if (err != LEDGE_OK) {
		rlog_write(n->log, RLOG_WARN, r->name,
		    "could not handle an event: %s", ledge_strerror(err));
	}
	if (ev->flags & NEF_DURABLE) {
		struct commit_rec *rec = commit_rec_new();
		unsigned char q[STORE_QKEY];
		store_qkey(q, ev->target, ev->qid);
		if (rec != NULL &&
		    commit_rec_del(rec, STORE_QUEUE, q, sizeof q) == LEDGE_OK) {
			commit_submit(n->commit, rec);
		} else {
			commit_rec_free(rec);
		}
	}
	atomic_fetch_sub(&nr->target.pending, 1);
	node_event_free(ev);
}

void
node_event_reply(
    struct node *n, struct node_event *ev, struct node_reply *reply)
{
	struct node_target *t = ev->to;
	(void)n;
	if (ev->call != NULL) {
		node_call_complete(ev->call, reply);
		node_call_unref(ev->call);
		ev->call = NULL;
	} else {
		node_reply_free(reply);
	}
	if (t != NULL && t->kind == NT_RESOURCE) {
		atomic_fetch_sub(&t->pending, 1);
	}
	node_event_free(ev);
}

struct node_target *
node_res_output(struct res *r, const char *name, size_t i)
{
	struct node_res *nr = (struct node_res *)r;
	for (size_t k = 0; k < nr->noutputs; k++) {
		if (strcmp(nr->outputs[k].name, name) == 0) {
			return i < nr->outputs[k].ntargets
			    ? nr->outputs[k].targets[i]
			    : NULL;
		}
	}
	return NULL;
}

size_t
node_res_cast(struct res *r, const char *name, const void *data, size_t len)
{
	return node_res_cast_key(r, name, NULL, 0, data, len);
}

size_t
node_res_cast_key(struct res *r, const char *name, const void *key, size_t klen,
    const void *data, size_t len)
{
	struct node_target *t;
	size_t reached = 0;
	for (size_t i = 0; (t = node_res_output(r, name, i)) != NULL; i++) {
		struct node_event *ev;
		if ((t = node_target_for_key(t, key, klen)) == NULL) {
			continue; /* its slot is placed nowhere now */
		}
		if (node_admit(t) != LEDGE_OK) {
			continue;
		}
		if ((ev = node_event_new(NE_CAST, t->id, data, len)) == NULL ||
		    (key != NULL &&
		        node_event_set_key(ev, key, klen) != LEDGE_OK)) {
			node_event_free(ev);
			if (t->kind == NT_INSTANCE) {
				mb_unreserve(&t->inst->mb);
			}
			continue;
		}
		node_admitted(t, ev);
		ev->source = r->id;
		node_send_inline(r->node, t, ev);
		reached++;
	}
	return reached;
}

int
route_add_target(struct node *n, struct node_target *t)
{
	if (t->id >= n->ntargets) {
		size_t ncap = n->ntargets ? n->ntargets : 64;
		while (ncap <= t->id) {
			ncap *= 2;
		}
		struct node_target **nt =
		    realloc(n->targets, ncap * sizeof *nt);
		if (nt == NULL) {
			return LEDGE_ENOMEM;
		}
		memset(nt + n->ntargets, 0, (ncap - n->ntargets) * sizeof *nt);
		n->targets = nt;
		n->ntargets = ncap;
	}
	n->targets[t->id] = t;
	return LEDGE_OK;
}

struct node_target *
node_find_target(struct node *n, const char *name)
{
	for (size_t i = 0; i < n->ntargets; i++) {
		if (n->targets[i] != NULL &&
		    strcmp(n->targets[i]->name, name) == 0) {
			return n->targets[i];
		}
	}
	for (struct node_wf *w = n->wfs; w != NULL; w = w->next) {
		for (size_t i = 0; i < w->nremotes; i++) {
			if (strcmp(w->remotes[i]->name, name) == 0) {
				return w->remotes[i];
			}
		}
		for (size_t i = 0; i < w->ngroups; i++) {
			if (strcmp(w->groups[i]->name, name) == 0) {
				return w->groups[i];
			}
		}
	}
	return NULL;
}

void
route_drop_target(struct node *n, struct node_target *t)
{
	if (t->id < n->ntargets) {
		n->targets[t->id] = NULL;
	}
}

int
route_init(struct node *n)
{
	n->delay_timer = loop_timer_new(n->loop, on_delay, n);
	return n->delay_timer != NULL ? LEDGE_OK : LEDGE_ENOMEM;
}

void
route_fini(struct node *n)
{
	while (n->nheap > 0) {
		node_event_free(heap_pop(n)); /* durable: replayed next time */
	}
	free(n->heap);
	n->heap = NULL;
}

const char *
node_drop_name(enum node_drop why)
{
	static const char *const names[NODE_DROP_N] = { "remote", "delayed",
		"resource" };
	return names[why];
}

uint64_t
node_dropped(struct node *n, enum node_drop why)
{
	return atomic_load_explicit(&n->dropped[why], memory_order_relaxed);
}

bool
route_has_delayed(struct node *n,
    bool (*match)(void *arg, const struct node_target *t), void *arg)
{
	for (size_t i = 0; i < n->nheap; i++) {
		if (match(arg, n->heap[i].ev->to)) {
			return true;
		}
	}
	return false;
}
