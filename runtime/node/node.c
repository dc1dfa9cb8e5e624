/*
 * node.c - the node: deployment, routing of events, start and stop,
 * hot reload, replay of durable events after a restart.
 */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/clock.h"
#include "domain/links.h"
#include "isolate/isolate.h"
#include "node/code.h"
#include "node/commit.h"
#include "node/enqueue.h"
#include "node/exec.h"
#include "node/instance.h"
#include "node/node.h"
#include "node/node_call.h"
#include "node/node_event.h"
#include "node/sched.h"
#include "platform/http.h"
#include "platform/loop.h"
#include "platform/watch.h"
#include "store/store.h"
#include "workflow/resource.h"
#include "workflow/workflow.h"

/* Transport ceiling of a remote call (callers time out earlier). */
#define REMOTE_CALL_MAX_MS 60000

/* How long a stop waits for mailboxes to drain before giving up. */
#define STOP_GRACE_MS 10000

/* A resource with what the node keeps about it. */
struct node_res {
	struct res res; /* first: resources see only this */
	struct node_target target;
	struct node_output *outputs;
	size_t noutputs;
	bool started;
	char *name;
};

struct node_wf {
	struct node_wf *next;
	struct node *node;
	struct workflow *wf;
	struct node_instance **insts;
	size_t ninsts;
	struct node_res **res;
	size_t nres;
	/* start-up: inits still to answer, failures (ctl_mu) */
	int init_pending;
	int init_failed;
	char init_err[1024];
	void (*on_started)(void *arg, int rv, const char *err);
	void *started_arg;
	/* parts placed on other nodes that outputs here go to */
	struct node_target **remotes;
	size_t nremotes;
	const struct node_placement *placement; /* during node_deploy */
	struct undeploy *undeploying;           /* while it stops */
};

struct type_slot {
	struct type_slot *next;
	const void *type;
	void *value;
};

struct delayed {
	uint64_t due;
	struct node_event *ev;
};

enum node_state { NS_NEW, NS_STARTING, NS_RUNNING, NS_STOPPING, NS_DONE };

struct node {
	char *data_dir;
	char *name;
	struct node_opts opts;
	struct rlog *log;
	struct store *store;
	struct code_cache *codes;
	bool own_codes;
	struct loop *loop;
	struct commit *commit;
	struct sched *sched;
	struct node_worker *inline_worker; /* loop thread's, or NULL */
	struct links *links;
	uint64_t incarnation;
	struct http_server *http;
	struct http_client *http_client;
	struct watch *watch;
	struct node_wf *wfs;
	struct node_wf *retired; /* undeployed, freed with the node */
	struct type_slot *slots;

	struct node_target **targets; /* by id */
	size_t ntargets;

	/* The registry (name -> persistent id), loaded at start; new ids
	 * are committed through the committer.  Loop thread (or before). */
	struct hmap registry;
	uint32_t next_id;

	_Atomic uint64_t next_qid;

	/* delayed events: a min-heap by due time, loop thread */
	struct delayed *heap;
	size_t nheap, capheap;
	struct loop_timer *delay_timer;

	/* control events in flight (init, stop) */
	pthread_mutex_t ctl_mu;
	int ctl_pending;

	_Atomic int state;
	struct loop_timer *stop_timer;
};

/* ------------------------------------------------------------------ */
/* accessors                                                           */

struct rlog *
node_log(struct node *n)
{
	return n->log;
}

struct loop *
node_loop(struct node *n)
{
	return n->loop;
}

struct store *
node_store(struct node *n)
{
	return n->store;
}

struct commit *
node_commit(struct node *n)
{
	return n->commit;
}

struct sched *
node_sched(struct node *n)
{
	return n->sched;
}

struct links *
node_links(struct node *n)
{
	return n->links;
}

const char *
node_name(struct node *n)
{
	return n->name;
}

uint64_t
node_incarnation(struct node *n)
{
	return n->incarnation;
}

/* A random id for this data folder, made once and kept. */
static uint64_t
incarnation(struct store *s)
{
	uint64_t v = store_meta_get_u64(s, "incarnation");
	struct store_batch *b;
	while (v == 0) {
		if (getrandom(&v, sizeof v, 0) != (ssize_t)sizeof v) {
			v = clock_wall_ms() ^ ((uint64_t)getpid() << 32);
		}
	}
	if (store_meta_get_u64(s, "incarnation") != v &&
	    store_batch_begin(s, &b) == LEDGE_OK) {
		if (store_meta_put_u64(b, "incarnation", v) == LEDGE_OK) {
			store_batch_commit(b);
		} else {
			store_batch_abort(b);
		}
	}
	return v;
}

struct http_server *
node_http(struct node *n)
{
	return n->http;
}

const char *
node_data_dir(struct node *n)
{
	return n->data_dir;
}

uint64_t
node_next_qid(struct node *n)
{
	return atomic_fetch_add(&n->next_qid, 1);
}

void
node_qid_above(struct node *n, uint64_t qid)
{
	uint64_t cur = atomic_load(&n->next_qid);
	while (cur <= qid &&
	    !atomic_compare_exchange_weak(&n->next_qid, &cur, qid + 1)) { }
}

const char *
node_target_name(struct node *n, uint32_t id)
{
	return id < n->ntargets && n->targets[id] ? n->targets[id]->name : NULL;
}

bool
node_stopping(struct node *n)
{
	return atomic_load(&n->state) >= NS_STOPPING;
}

void **
node_type_slot(struct node *n, const void *type)
{
	struct type_slot *s;
	for (s = n->slots; s != NULL; s = s->next) {
		if (s->type == type) {
			return &s->value;
		}
	}
	if ((s = calloc(1, sizeof *s)) == NULL) {
		return NULL;
	}
	s->type = type;
	s->next = n->slots;
	n->slots = s;
	return &s->value;
}

struct http_client *
node_http_client(struct node *n)
{
	if (n->http_client == NULL) {
		n->http_client = http_client_new(n->loop);
	}
	return n->http_client;
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
	if (node_stopping(n)) {
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
		rec = NULL;
	}
	commit_rec_free(rec);
	node_event_free(ev);
}

void
node_send(struct node *n, struct node_target *t, struct node_event *ev)
{
	ev->to = t;
	ev->target = t->id;
	if (ev->due_ms != 0 && ev->due_ms > clock_wall_ms()) {
		if (loop_post(n->loop, post_delayed, ev) != 0) {
			node_event_free(ev);
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
	if (loop_post(n->loop, deliver_res, ev) != 0) {
		atomic_fetch_sub(&t->pending, 1);
		node_event_free(ev);
	}
}

void
node_send_inline(struct node *n, struct node_target *t, struct node_event *ev)
{
	if (t->kind == NT_INSTANCE && n->inline_worker != NULL &&
	    ev->due_ms == 0 && loop_on_thread(n->loop)) {
		ev->to = t;
		ev->target = t->id;
		if (exec_run_inline(n->inline_worker, t->inst, ev)) {
			return;
		}
	}
	node_send(n, t, ev);
}

int
node_admit(struct node_target *t)
{
	if (t->kind == NT_INSTANCE) {
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
	struct node_target *t;
	size_t reached = 0;
	for (size_t i = 0; (t = node_res_output(r, name, i)) != NULL; i++) {
		struct node_event *ev;
		if (node_admit(t) != LEDGE_OK) {
			continue;
		}
		if ((ev = node_event_new(NE_CAST, t->id, data, len)) == NULL) {
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

/* ------------------------------------------------------------------ */
/* creation                                                            */

static void
on_fatal(void *arg, const char *why)
{
	struct node *n = arg;
	rlog_write(n->log, RLOG_ERROR, n->name,
	    "the store failed (%s); stopping at once so that a restart "
	    "recovers the last durable state",
	    why);
	_exit(70);
}

/* "a/b", for file paths and for "workflow/name" (malloc'd). */
static char *
join_path(const char *a, const char *b)
{
	size_t n = strlen(a) + strlen(b) + 2;
	char *s = malloc(n);
	if (s != NULL) {
		snprintf(s, n, "%s/%s", a, b);
	}
	return s;
}

struct reg_entry {
	uint32_t id;
	char name[];
};

static int
load_one(void *arg, ledge_bytes key, ledge_bytes val)
{
	struct node *n = arg;
	struct reg_entry *e;
	if (val.len != 4 || (e = malloc(sizeof *e + key.len + 1)) == NULL) {
		return val.len != 4 ? 0 : LEDGE_ENOMEM;
	}
	e->id = store_rd32(val.data);
	memcpy(e->name, key.data, key.len);
	e->name[key.len] = '\0';
	if (hmap_put(&n->registry, e->name, key.len, e, NULL) != 0) {
		free(e);
		return LEDGE_ENOMEM;
	}
	if (e->id >= n->next_id) {
		n->next_id = e->id + 1;
	}
	return 0;
}

static int
load_registry(struct node *n)
{
	uint32_t stored;
	n->next_id = 1;
	int rv = store_scan(n->store, STORE_REGISTRY, load_one, n);
	stored = (uint32_t)store_meta_get_u32(n->store, "next_id");
	if (stored > n->next_id) {
		n->next_id = stored;
	}
	return rv;
}

static void
free_registry(struct node *n)
{
	struct hmap_slot *sl;
	size_t pos = 0;
	while ((sl = hmap_next(&n->registry, &pos)) != NULL) {
		free(sl->value);
	}
	hmap_fini(&n->registry);
}

int
node_new(struct node **np, const struct node_opts *o, struct rlog *log,
    char *err, size_t errlen)
{
	struct node *n = calloc(1, sizeof *n);
	char host[256] = "node";
	char *store_dir = NULL, *code_dir = NULL;
	int rv = LEDGE_ENOMEM;

	if (n == NULL) {
		snprintf(err, errlen, "out of memory");
		return LEDGE_ENOMEM;
	}
	n->opts = *o;
	n->log = log;
	gethostname(host, sizeof host - 1);
	n->data_dir = strdup(o->data_dir ? o->data_dir : "./.ledge");
	n->name = strdup(o->name ? o->name : host);
	pthread_mutex_init(&n->ctl_mu, NULL);
	if (n->data_dir == NULL || n->name == NULL ||
	    (store_dir = join_path(n->data_dir, "store")) == NULL ||
	    (code_dir = join_path(n->data_dir, "code")) == NULL) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	if ((rv = store_open(&n->store, store_dir, &o->store, err, errlen)) !=
	    LEDGE_OK) {
		goto fail;
	}
	if (o->codes != NULL) {
		n->codes = o->codes;
	} else if ((rv = code_cache_open(&n->codes, code_dir, err, errlen)) !=
	    LEDGE_OK) {
		goto fail;
	} else {
		n->own_codes = true;
	}
	rv = LEDGE_ENOMEM;
	if (loop_new(&n->loop) != 0 ||
	    (n->delay_timer = loop_timer_new(n->loop, on_delay, n)) == NULL) {
		snprintf(err, errlen, "cannot create the event loop");
		goto fail;
	}
	atomic_init(&n->next_qid, store_meta_get_u64(n->store, "next_qid"));
	if (atomic_load(&n->next_qid) == 0) {
		atomic_store(&n->next_qid, 1);
	}
	hmap_init(&n->registry);
	if (load_registry(n) != LEDGE_OK) {
		snprintf(err, errlen, "cannot read the registry of the store");
		goto fail;
	}
	if (commit_start(&n->commit, n->store, log, on_fatal, n) != LEDGE_OK) {
		snprintf(err, errlen, "cannot start the committer thread");
		goto fail;
	}
	n->incarnation = incarnation(n->store);
	if (links_new(&n->links, n, n->name, n->incarnation, o->tls) !=
	    LEDGE_OK) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	commit_set_outbox_hook(n->commit, links_on_outbox, n->links);
	if (sched_start(&n->sched, n, o->workers) != 0) {
		snprintf(err, errlen, "cannot start the worker threads");
		goto fail;
	}
	if (!o->no_inline &&
	    (n->inline_worker = exec_worker_new_inline(n, n->sched)) == NULL) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	if (o->http_addr != NULL &&
	    http_server_new(n->loop, o->http_addr, &n->http, err, errlen) !=
	        0) {
		rv = LEDGE_EINVAL;
		goto fail;
	}
	free(store_dir);
	free(code_dir);
	*np = n;
	return LEDGE_OK;
fail:
	free(store_dir);
	free(code_dir);
	node_free(n);
	return rv;
}

static int
add_target(struct node *n, struct node_target *t)
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

static struct node_target *
find_local(struct node_wf *w, const char *name)
{
	for (size_t i = 0; i < w->ninsts; i++) {
		if (strcmp(w->insts[i]->spec->name, name) == 0) {
			return &w->insts[i]->target;
		}
	}
	for (size_t i = 0; i < w->nres; i++) {
		if (strcmp(w->res[i]->res.spec->name, name) == 0) {
			return &w->res[i]->target;
		}
	}
	return NULL;
}

/* A part placed on another node: its proxy target (made on first use). */
static struct node_target *
find_remote(struct node *n, struct node_wf *w, const char *part)
{
	const struct node_placement *pl = w->placement;
	char *name;
	for (size_t i = 0; i < w->nremotes; i++) {
		const char *slash = strchr(w->remotes[i]->name, '/');
		if (slash && strcmp(slash + 1, part) == 0) {
			return w->remotes[i];
		}
	}
	for (size_t i = 0; pl != NULL && i < pl->nremote; i++) {
		struct node_target *t = NULL, **grown;
		if (strcmp(pl->remote_part[i], part) != 0) {
			continue;
		}
		if ((name = join_path(w->wf->name, part)) == NULL ||
		    (t = calloc(1, sizeof *t)) == NULL ||
		    (t->rem = calloc(1, sizeof *t->rem)) == NULL ||
		    (t->rem->node = strdup(pl->remote_node[i])) == NULL ||
		    (grown = realloc(w->remotes,
		         (w->nremotes + 1) * sizeof *grown)) == NULL) {
			if (t != NULL && t->rem != NULL) {
				free(t->rem->node);
			}
			if (t != NULL) {
				free(t->rem);
			}
			free(t);
			free(name);
			return NULL;
		}
		t->kind = NT_REMOTE;
		t->name = name;
		t->rem->peer = links_peer(n->links, pl->remote_node[i]);
		t->rem->links = n->links;
		links_set_url(n->links, pl->remote_node[i], pl->remote_url[i]);
		w->remotes = grown;
		w->remotes[w->nremotes++] = t;
		return t;
	}
	return NULL;
}

static int
resolve_outputs(struct node *node, struct node_wf *w,
    const struct wf_output *spec, size_t n, struct node_output **out)
{
	struct node_output *o;
	if (n == 0) {
		*out = NULL;
		return LEDGE_OK;
	}
	if ((o = calloc(n, sizeof *o)) == NULL) {
		return LEDGE_ENOMEM;
	}
	*out = o;
	for (size_t i = 0; i < n; i++) {
		o[i].name = spec[i].name;
		o[i].ntargets = spec[i].ntargets;
		if ((o[i].targets = calloc(
		         spec[i].ntargets + 1, sizeof *o[i].targets)) == NULL) {
			return LEDGE_ENOMEM;
		}
		for (size_t k = 0; k < spec[i].ntargets; k++) {
			if ((o[i].targets[k] = find_local(
			         w, spec[i].targets[k])) == NULL &&
			    (o[i].targets[k] = find_remote(
			         node, w, spec[i].targets[k])) == NULL) {
				return LEDGE_EINVAL;
			}
		}
	}
	return LEDGE_OK;
}

static void
free_outputs(struct node_output *o, size_t n)
{
	for (size_t i = 0; o != NULL && i < n; i++) {
		free(o[i].targets);
	}
	free(o);
}

static void
free_instance(struct node_instance *inst)
{
	if (inst == NULL) {
		return;
	}
	isolate_free(inst->iso);
	mb_fini(&inst->mb);
	instance_dirty_clear(inst);
	hmap_fini(&inst->dirty);
	free_outputs(inst->outputs, inst->noutputs);
	code_release(inst->code);
	free((char *)inst->target.name);
	free(inst);
}

static void
free_res(struct node_res *nr)
{
	if (nr == NULL) {
		return;
	}
	if (nr->started && nr->res.type->stop) {
		nr->res.type->stop(&nr->res);
	}
	free_outputs(nr->outputs, nr->noutputs);
	free(nr->name);
	free(nr);
}

static void
free_wf(struct node_wf *w)
{
	for (size_t i = 0; i < w->nres; i++) {
		free_res(w->res[i]);
	}
	for (size_t i = 0; i < w->ninsts; i++) {
		free_instance(w->insts[i]);
	}
	for (size_t i = 0; i < w->nremotes; i++) {
		free(w->remotes[i]->rem->node);
		free(w->remotes[i]->rem);
		free((char *)w->remotes[i]->name);
		free(w->remotes[i]);
	}
	free(w->remotes);
	free(w->insts);
	free(w->res);
	wf_free(w->wf);
	free(w);
}

/*
 * The persistent id of a name: from the registry, or a new one.  New ids
 * go into `rec`, which the caller commits; nothing needs to wait for it,
 * because anything durable that uses the id commits after it.
 */
static int
registry_id(
    struct node *n, const char *name, struct commit_rec **rec, uint32_t *id)
{
	size_t len = strlen(name);
	struct reg_entry *e = hmap_get(&n->registry, name, len);
	unsigned char idb[4];

	if (e != NULL) {
		*id = e->id;
		return LEDGE_OK;
	}
	if ((*rec == NULL && (*rec = commit_rec_new()) == NULL) ||
	    (e = malloc(sizeof *e + len + 1)) == NULL) {
		return LEDGE_ENOMEM;
	}
	e->id = n->next_id;
	memcpy(e->name, name, len + 1);
	store_be32(idb, e->id);
	if (commit_rec_put(*rec, STORE_REGISTRY, name, len, idb, 4) !=
	        LEDGE_OK ||
	    hmap_put(&n->registry, e->name, len, e, NULL) != 0) {
		free(e);
		return LEDGE_ENOMEM;
	}
	n->next_id++;
	*id = e->id;
	return LEDGE_OK;
}

/* Persistent ids for every function and resource of w. */
static int
register_targets(struct node *n, struct node_wf *w, char *err, size_t errlen)
{
	struct commit_rec *rec = NULL;
	int rv = LEDGE_OK;

	for (size_t i = 0; i < w->ninsts + w->nres && rv == LEDGE_OK; i++) {
		struct node_target *t = i < w->ninsts
		    ? &w->insts[i]->target
		    : &w->res[i - w->ninsts]->target;
		if ((rv = registry_id(n, t->name, &rec, &t->id)) == LEDGE_OK) {
			if (t->kind == NT_RESOURCE) {
				t->res->id = t->id;
			}
			rv = add_target(n, t);
		}
	}
	if (rec != NULL) {
		unsigned char nb[4];
		store_be32(nb, n->next_id);
		if (rv == LEDGE_OK) {
			rv = commit_rec_put(
			    rec, STORE_META, "next_id", 7, nb, 4);
		}
		/* Even on failure: the ids handed out stay taken. */
		commit_submit(n->commit, rec);
	}
	if (rv != LEDGE_OK) {
		snprintf(err, errlen,
		    "workflow %s: cannot register in the store: %s",
		    w->wf->name, ledge_strerror(rv));
	}
	return rv;
}

/* Persistent ids for the proxies of parts placed elsewhere: their
 * events queued here (from when they ran here) are found by that id. */
static int
register_remotes(struct node *n, struct node_wf *w, char *err, size_t errlen)
{
	struct commit_rec *rec = NULL;
	int rv = LEDGE_OK;
	for (size_t i = 0; i < w->nremotes && rv == LEDGE_OK; i++) {
		rv = registry_id(
		    n, w->remotes[i]->name, &rec, &w->remotes[i]->id);
	}
	if (rec != NULL) {
		unsigned char nb[4];
		store_be32(nb, n->next_id);
		if (rv == LEDGE_OK) {
			rv = commit_rec_put(
			    rec, STORE_META, "next_id", 7, nb, 4);
		}
		commit_submit(n->commit, rec);
	}
	if (rv != LEDGE_OK) {
		snprintf(err, errlen,
		    "workflow %s: cannot register in the store: %s",
		    w->wf->name, ledge_strerror(rv));
	}
	return rv;
}

int
node_registry_id(struct node *n, const char *name, uint32_t *id)
{
	struct commit_rec *rec = NULL;
	int rv = registry_id(n, name, &rec, id);
	if (rec != NULL) {
		unsigned char nb[4];
		store_be32(nb, n->next_id);
		if (rv == LEDGE_OK) {
			rv = commit_rec_put(
			    rec, STORE_META, "next_id", 7, nb, 4);
		}
		commit_submit(n->commit, rec);
	}
	return rv;
}

bool
node_registry_lookup(struct node *n, const char *name, uint32_t *id)
{
	struct reg_entry *e = hmap_get(&n->registry, name, strlen(name));
	if (e != NULL) {
		*id = e->id;
	}
	return e != NULL;
}

static int
make_instance(struct node *n, struct node_wf *w, const struct wf_function *f,
    struct node_instance **out, char *err, size_t errlen)
{
	struct node_instance *inst = calloc(1, sizeof *inst);
	char why[512];
	int rv;

	if (inst == NULL) {
		return LEDGE_ENOMEM;
	}
	*out = inst;
	inst->node = n;
	inst->owner = w;
	inst->wf = w->wf;
	inst->spec = f;
	mb_init(&inst->mb, f->mailbox ? f->mailbox : 1024);
	hmap_init(&inst->dirty);
	atomic_init(&inst->inline_ok, false);
	inst->streak_needed = EXEC_INLINE_STREAK;
	inst->target.kind = NT_INSTANCE;
	inst->target.inst = inst;
	if ((inst->target.name = join_path(w->wf->name, f->name)) == NULL) {
		return LEDGE_ENOMEM;
	}
	if ((rv = code_load(n->codes, f->code_path, &inst->code, why,
	         sizeof why)) != LEDGE_OK) {
		snprintf(err, errlen, "%s:%d:%d: code '%s': %s", w->wf->file,
		    f->code_pos.line, f->code_pos.col, f->code, why);
		return rv;
	}
	if (f->isolated) {
		inst->iso = isolate_new(n->opts.host_exe, inst->target.name,
		    &f->config.sdk, f->timeout_ms, f->memory_mb, n->log);
		if (inst->iso == NULL) {
			return LEDGE_ENOMEM;
		}
		inst->blocks = true; /* never on the loop thread */
	}
	return LEDGE_OK; /* ids: register_targets */
}

static int
make_res(struct node *n, struct node_wf *w, const struct wf_resource *spec,
    struct node_res **out, char *err, size_t errlen)
{
	struct node_res *nr = calloc(1, sizeof *nr);
	if (nr == NULL) {
		return LEDGE_ENOMEM;
	}
	*out = nr;
	nr->res.type = res_type_find(spec->type);
	nr->res.node = n;
	nr->res.wf = w->wf;
	nr->res.spec = spec;
	if (nr->res.type == NULL) {
		snprintf(err, errlen, "%s: unknown resource type '%s'",
		    spec->name, spec->type);
		return LEDGE_EINVAL;
	}
	if ((nr->name = join_path(w->wf->name, spec->name)) == NULL) {
		return LEDGE_ENOMEM;
	}
	nr->res.name = nr->name;
	nr->target.kind = NT_RESOURCE;
	nr->target.res = &nr->res;
	nr->target.name = nr->name;
	return LEDGE_OK;
}

static bool
is_local(const struct node_placement *pl, const char *part)
{
	if (pl == NULL) {
		return true;
	}
	for (size_t i = 0; i < pl->nlocal; i++) {
		if (strcmp(pl->local[i], part) == 0) {
			return true;
		}
	}
	return false;
}

int
node_deploy(struct node *n, struct workflow *wf, char *err, size_t errlen)
{
	return node_deploy_placed(n, wf, NULL, err, errlen);
}

int
node_deploy_placed(struct node *n, struct workflow *wf,
    const struct node_placement *pl, char *err, size_t errlen)
{
	struct node_wf *w;
	int rv = LEDGE_ENOMEM;

	for (w = n->wfs; w != NULL; w = w->next) {
		if (strcmp(w->wf->name, wf->name) == 0) {
			snprintf(err, errlen,
			    "%s:%d:%d: workflow '%s' is already running (from "
			    "%s)",
			    wf->file, wf->name_pos.line, wf->name_pos.col,
			    wf->name, w->wf->file);
			wf_free(wf);
			return LEDGE_EINVAL;
		}
	}
	if ((w = calloc(1, sizeof *w)) == NULL) {
		wf_free(wf);
		snprintf(err, errlen, "out of memory");
		return LEDGE_ENOMEM;
	}
	w->node = n;
	w->wf = wf;
	w->placement = pl;
	if ((w->insts = calloc(wf->nfunctions + 1, sizeof *w->insts)) == NULL ||
	    (w->res = calloc(wf->nresources + 1, sizeof *w->res)) == NULL) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	for (size_t i = 0; i < wf->nfunctions; i++) {
		if (!is_local(pl, wf->functions[i].name)) {
			continue;
		}
		w->ninsts++;
		if ((rv = make_instance(n, w, &wf->functions[i],
		         &w->insts[w->ninsts - 1], err, errlen)) != LEDGE_OK) {
			goto fail;
		}
	}
	for (size_t i = 0; i < wf->nresources; i++) {
		if (!is_local(pl, wf->resources[i].name)) {
			continue;
		}
		w->nres++;
		if ((rv = make_res(n, w, &wf->resources[i],
		         &w->res[w->nres - 1], err, errlen)) != LEDGE_OK) {
			goto fail;
		}
	}
	if ((rv = register_targets(n, w, err, errlen)) != LEDGE_OK) {
		goto fail;
	}
	for (size_t i = 0; i < w->ninsts; i++) {
		struct node_instance *inst = w->insts[i];
		if ((rv = resolve_outputs(n, w, inst->spec->outputs,
		         inst->spec->noutputs, &inst->outputs)) != LEDGE_OK) {
			inst->noutputs = inst->spec->noutputs;
			snprintf(err, errlen, "%s: cannot wire outputs",
			    inst->target.name);
			goto fail;
		}
		inst->noutputs = inst->spec->noutputs;
	}
	for (size_t i = 0; i < w->nres; i++) {
		struct node_res *nr = w->res[i];
		if ((rv = resolve_outputs(n, w, nr->res.spec->outputs,
		         nr->res.spec->noutputs, &nr->outputs)) != LEDGE_OK) {
			nr->noutputs = nr->res.spec->noutputs;
			snprintf(
			    err, errlen, "%s: cannot wire outputs", nr->name);
			goto fail;
		}
		nr->noutputs = nr->res.spec->noutputs;
	}
	/* Every part placed elsewhere gets its proxy, also those no output
	 * here names: events that arrive for a part that moved away, and
	 * those still queued for it, are forwarded to its node. */
	for (size_t i = 0; pl != NULL && i < pl->nremote; i++) {
		if (find_remote(n, w, pl->remote_part[i]) == NULL) {
			snprintf(err, errlen, "%s: cannot reach part %s",
			    wf->name, pl->remote_part[i]);
			rv = LEDGE_ENOMEM;
			goto fail;
		}
	}
	if ((rv = register_remotes(n, w, err, errlen)) != LEDGE_OK) {
		goto fail;
	}
	w->placement = NULL;
	/* Kept in the order given, for the start-up summary. */
	struct node_wf **tail = &n->wfs;
	while (*tail != NULL) {
		tail = &(*tail)->next;
	}
	*tail = w;
	return LEDGE_OK;
fail:
	if (rv == LEDGE_ENOMEM && err[0] == '\0') {
		snprintf(err, errlen, "out of memory");
	}
	for (size_t i = 0; i < w->ninsts; i++) {
		if (w->insts[i] && w->insts[i]->target.id < n->ntargets) {
			n->targets[w->insts[i]->target.id] = NULL;
		}
	}
	for (size_t i = 0; i < w->nres; i++) {
		if (w->res[i] && w->res[i]->target.id < n->ntargets) {
			n->targets[w->res[i]->target.id] = NULL;
		}
	}
	free_wf(w);
	return rv;
}

/* ------------------------------------------------------------------ */
/* control events                                                      */

static void push_ctl_how(struct node *n, struct node_instance *inst, int kind,
    void *ctl, bool may_inline);

static void
push_ctl(struct node *n, struct node_instance *inst, int kind, void *ctl)
{
	push_ctl_how(n, inst, kind, ctl, false);
}

static void
push_ctl_how(struct node *n, struct node_instance *inst, int kind, void *ctl,
    bool may_inline)
{
	struct node_event *ev =
	    node_event_new((uint8_t)kind, inst->target.id, NULL, 0);
	if (ev == NULL) {
		/* Out of memory at start or stop: nothing sensible is left. */
		rlog_write(n->log, RLOG_ERROR, inst->target.name,
		    "out of memory queueing a control event");
		abort();
	}
	ev->ctl = ctl;
	if (may_inline) {
		node_send_inline(n, &inst->target, ev);
	} else {
		node_send(n, &inst->target, ev);
	}
}

/* While node_start runs the loop: stop it once every init answered. */
static void
startup_check(struct node *n)
{
	bool pending = false;
	if (atomic_load(&n->state) != NS_STARTING) {
		return;
	}
	pthread_mutex_lock(&n->ctl_mu);
	for (struct node_wf *w = n->wfs; w != NULL; w = w->next) {
		pending |= w->init_pending > 0;
	}
	pthread_mutex_unlock(&n->ctl_mu);
	if (!pending) {
		loop_exit(n->loop);
	}
}

static void stop_resources(struct node_wf *w);

/* Loop thread: every init of workflow w has answered. */
static void
wf_inited(void *arg)
{
	struct node_wf *w = arg;
	struct node *n = w->node;
	if (w->init_failed > 0 && atomic_load(&n->state) == NS_RUNNING) {
		/* Deployed into a running node: take it down again. */
		stop_resources(w);
	}
	if (w->on_started != NULL) {
		w->on_started(w->started_arg,
		    w->init_failed ? LEDGE_EFAIL : LEDGE_OK, w->init_err);
		w->on_started = NULL;
	}
	startup_check(n);
}

static void stop_check_cb(void *arg);

static void undeploy_step(void *arg);

void
node_instance_ctl_done(
    struct node *n, struct node_instance *inst, int kind, int rv)
{
	switch (kind) {
	case NE_INIT: {
		struct node_wf *w = inst->owner;
		bool last;
		pthread_mutex_lock(&n->ctl_mu);
		if (rv != LEDGE_OK) {
			atomic_store(&inst->status, NI_FAILED);
			w->init_failed++;
			size_t used = strlen(w->init_err);
			snprintf(w->init_err + used, sizeof w->init_err - used,
			    "%s%s: init failed: %s (%d)", used ? "; " : "",
			    inst->target.name, ledge_strerror(rv), rv);
		} else {
			atomic_store(&inst->status, NI_RUNNING);
		}
		last = --w->init_pending == 0;
		pthread_mutex_unlock(&n->ctl_mu);
		if (last) {
			loop_post(n->loop, wf_inited, w);
		}
		break;
	}
	case NE_RELOAD:
		if (rv == LEDGE_OK) {
			rlog_write(n->log, RLOG_INFO, inst->target.name,
			    "reloaded: now running code %.12s",
			    inst->code->hash);
		} else {
			rlog_write(n->log, RLOG_ERROR, inst->target.name,
			    "reload failed: init of the new code returned "
			    "%s (%d); still running code %.12s",
			    ledge_strerror(rv), rv, inst->code->hash);
		}
		break;
	case NE_STOP: {
		struct node_wf *w = inst->owner;
		pthread_mutex_lock(&inst->mb.mu);
		inst->mb.closed = true;
		pthread_mutex_unlock(&inst->mb.mu);
		atomic_store(&inst->status, NI_STOPPED);
		if (w->undeploying != NULL && !node_stopping(n)) {
			loop_post(n->loop, undeploy_step, w);
			break;
		}
		pthread_mutex_lock(&n->ctl_mu);
		n->ctl_pending--;
		pthread_mutex_unlock(&n->ctl_mu);
		loop_post(n->loop, stop_check_cb, n);
		break;
	}
	}
}

/* ------------------------------------------------------------------ */
/* start                                                               */

struct replay {
	struct node *n;
	size_t count, dropped;
};

static int
replay_one(void *arg, ledge_bytes key, ledge_bytes val)
{
	struct replay *rp = arg;
	struct node *n = rp->n;
	struct node_event *ev;
	struct node_target *t;

	if (key.len != STORE_QKEY) {
		return 0;
	}
	ev = node_event_decode(val.data, val.len);
	if (ev != NULL) {
		/* The key names the target here (a copy of the queue from
		 * another node, a replica's, carries that node's ids). */
		ev->target = store_rd32(key.data);
	}
	if (ev == NULL || ev->target >= n->ntargets ||
	    (t = n->targets[ev->target]) == NULL) {
		/* Not for anything deployed now: left in the store for when
		 * its workflow runs again. */
		node_event_free(ev);
		rp->dropped++;
		return 0;
	}
	ev->qid = store_rd64((const unsigned char *)key.data + 4);
	ev->flags |= NEF_DURABLE;
	if (t->kind == NT_RESOURCE && !t->res->type->accepts_cast) {
		node_event_free(ev);
		rp->dropped++;
		return 0;
	}
	node_send(n, t, ev);
	rp->count++;
	return 0;
}

/* Events queued here for a part that now runs elsewhere: each becomes an
 * outbox entry for its node, in the same commit that takes it out of the
 * queue, so it is delivered exactly once. */
struct handover {
	struct node *n;
	struct node_target *t;
	struct commit_rec *rec;
	size_t count;
	int rv;
};

static int
handover_one(void *arg, ledge_bytes key, ledge_bytes val)
{
	struct handover *h = arg;
	struct node_event *ev;
	int rv;

	if (key.len != STORE_QKEY ||
	    (ev = node_event_decode(val.data, val.len)) == NULL) {
		return 0;
	}
	rv = enqueue_durable(h->n, h->rec, h->t, ev);
	node_event_free(ev);
	if (rv != LEDGE_OK ||
	    commit_rec_del(h->rec, STORE_QUEUE, key.data, key.len) !=
	        LEDGE_OK) {
		h->rv = LEDGE_ENOMEM;
		return 1;
	}
	h->count++;
	return 0;
}

static void
hand_over_queued(struct node *n, struct node_wf *w)
{
	for (size_t i = 0; i < w->nremotes; i++) {
		struct handover h = { n, w->remotes[i], commit_rec_new(), 0,
			0 };
		unsigned char prefix[4];
		if (h.rec == NULL || h.t->id == 0) {
			commit_rec_free(h.rec);
			continue;
		}
		store_be32(prefix, h.t->id);
		store_scan_prefix(n->store, STORE_QUEUE, prefix, sizeof prefix,
		    handover_one, &h);
		if (h.rv != LEDGE_OK || h.count == 0) {
			commit_rec_free(h.rec);
			continue;
		}
		commit_submit(n->commit, h.rec);
		rlog_write(n->log, RLOG_INFO, n->name,
		    "%s: %zu queued events go to node %s, where it runs now",
		    h.t->name, h.count, h.t->rem->node);
	}
}

static void
describe_res(struct node_res *nr, char *buf, size_t len)
{
	if (nr->res.type->describe) {
		nr->res.type->describe(&nr->res, buf, len);
	} else {
		buf[0] = '\0';
	}
}

static void
print_summary(struct node *n)
{
	char line[512];
	int workers, blocked;

	sched_counts(n->sched, &workers, &blocked);
	rlog_write(n->log, RLOG_INFO, n->name,
	    "node running: data in %s, %d workers", n->data_dir, workers);
	for (struct node_wf *w = n->wfs; w != NULL; w = w->next) {
		rlog_write(n->log, RLOG_INFO, n->name, "workflow %s (%s)",
		    w->wf->name, w->wf->file);
		for (size_t i = 0; i < w->ninsts; i++) {
			struct node_instance *inst = w->insts[i];
			const struct wf_function *f = inst->spec;
			char iso[128] = "";
			if (f->isolated) {
				char t[32] = "", m[32] = "";
				if (f->timeout_ms) {
					snprintf(t, sizeof t, ", timeout_ms %u",
					    f->timeout_ms);
				}
				if (f->memory_mb) {
					snprintf(m, sizeof m, ", memory_mb %u",
					    f->memory_mb);
				}
				snprintf(iso, sizeof iso,
				    ", isolation: process%s%s", t, m);
			}
			rlog_write(n->log, RLOG_INFO, n->name,
			    "  function %s: %s, code %.12s%s", f->name, f->code,
			    inst->code->hash, iso);
		}
		for (size_t i = 0; i < w->nres; i++) {
			describe_res(w->res[i], line, sizeof line);
			rlog_write(n->log, RLOG_INFO, n->name,
			    "  resource %s: %s%s%s", w->res[i]->res.spec->name,
			    w->res[i]->res.type->name, line[0] ? " " : "",
			    line);
		}
	}
	if (n->http != NULL) {
		rlog_write(n->log, RLOG_INFO, n->name,
		    "listening on http://%s:%d", http_server_host(n->http),
		    http_server_port(n->http));
	}
}

static void on_stop_signal(void *arg);
static void on_hup(void *arg);
static void on_file_changed(void *arg, const char *path);

static void
stop_resources(struct node_wf *w)
{
	for (size_t i = 0; i < w->nres; i++) {
		struct node_res *nr = w->res[i];
		if (nr->started && nr->res.type->stop) {
			nr->res.type->stop(&nr->res);
		}
		nr->started = false;
	}
}

/*
 * Start a deployed workflow: its resources first (events that reach an
 * instance queue behind its init, and an init may call an egress
 * resource), then the inits, then the durable events it left in the store.
 * wf_inited runs once every init has answered.  Loop thread, or before
 * the loop runs.
 */
static int
start_wf(struct node *n, struct node_wf *w, char *err, size_t errlen)
{
	struct replay rp = { n, 0, 0 };
	char why[512];

	for (size_t i = 0; i < w->nres; i++) {
		struct node_res *nr = w->res[i];
		why[0] = '\0';
		if (nr->res.type->start &&
		    nr->res.type->start(&nr->res, why, sizeof why) != 0) {
			snprintf(
			    err, errlen, "%s: cannot start: %s", nr->name, why);
			stop_resources(w);
			return LEDGE_EINVAL;
		}
		nr->started = true;
	}
	pthread_mutex_lock(&n->ctl_mu);
	w->init_pending = (int)w->ninsts;
	w->init_failed = 0;
	w->init_err[0] = '\0';
	pthread_mutex_unlock(&n->ctl_mu);
	for (size_t i = 0; i < w->ninsts; i++) {
		push_ctl_how(n, w->insts[i], NE_INIT, NULL, true);
		if (n->watch != NULL &&
		    watch_add(n->watch, w->insts[i]->spec->code_path) != 0) {
			rlog_write(n->log, RLOG_WARN, n->name,
			    "cannot watch %s for changes: %s",
			    w->insts[i]->spec->code_path, strerror(errno));
		}
	}
	/* Each target's events, by prefix: no scan of other workflows'. */
	for (size_t i = 0; i < w->ninsts + w->nres; i++) {
		struct node_target *t = i < w->ninsts
		    ? &w->insts[i]->target
		    : &w->res[i - w->ninsts]->target;
		unsigned char prefix[4];
		store_be32(prefix, t->id);
		store_scan_prefix(n->store, STORE_QUEUE, prefix, sizeof prefix,
		    replay_one, &rp);
	}
	if (rp.count > 0) {
		rlog_write(n->log, RLOG_INFO, n->name,
		    "%s: replaying %zu durable events from the last run",
		    w->wf->name, rp.count);
	}
	hand_over_queued(n, w);
	if (w->ninsts == 0) {
		loop_post(n->loop, wf_inited, w);
	}
	return LEDGE_OK;
}

int
node_start(struct node *n, char *err, size_t errlen)
{
	size_t used = 0;

	atomic_store(&n->state, NS_STARTING);
	links_restore(n->links);
	if (n->opts.watch &&
	    watch_new(&n->watch, n->loop, on_file_changed, n) != 0) {
		rlog_write(n->log, RLOG_WARN, n->name,
		    "cannot watch code files (inotify): hot reload on file "
		    "change is off; SIGHUP still reloads");
	}
	for (struct node_wf *w = n->wfs; w != NULL; w = w->next) {
		if (start_wf(n, w, err, errlen) != LEDGE_OK) {
			return LEDGE_EINVAL;
		}
	}
	/* Run the loop until every init has answered. */
	if (n->wfs != NULL) {
		loop_run(n->loop);
	}
	err[0] = '\0';
	for (struct node_wf *w = n->wfs; w != NULL; w = w->next) {
		if (w->init_failed > 0 && used < errlen) {
			used += (size_t)snprintf(err + used, errlen - used,
			    "%s%s", used ? "; " : "", w->init_err);
		}
	}
	if (used > 0) {
		return LEDGE_EFAIL;
	}
	loop_signal(n->loop, SIGINT, on_stop_signal, n);
	loop_signal(n->loop, SIGTERM, on_stop_signal, n);
	loop_signal(n->loop, SIGHUP, on_hup, n);
	atomic_store(&n->state, NS_RUNNING);
	print_summary(n);
	return LEDGE_OK;
}

int
node_deploy_async(struct node *n, struct workflow *wf,
    const struct node_placement *pl,
    void (*done)(void *arg, int rv, const char *err), void *arg, char *err,
    size_t errlen)
{
	struct node_wf *w;
	int rv;

	if (atomic_load(&n->state) != NS_RUNNING) {
		wf_free(wf);
		snprintf(err, errlen, "the node is not running");
		return LEDGE_ESTATE;
	}
	if ((rv = node_deploy_placed(n, wf, pl, err, errlen)) != LEDGE_OK) {
		return rv;
	}
	for (w = n->wfs; w->next != NULL; w = w->next) { }
	w->on_started = done;
	w->started_arg = arg;
	if ((rv = start_wf(n, w, err, errlen)) != LEDGE_OK) {
		w->on_started = NULL;
		return rv;
	}
	return LEDGE_OK;
}

struct deploy_wait {
	struct node *n;
	struct workflow *wf;
	uint64_t t0, t1; /* on the loop: request taken up, outcome known */
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool done;
	int rv;
	char err[1024];
};

static void
deploy_done(void *arg, int rv, const char *err)
{
	struct deploy_wait *d = arg;
	uint64_t t1 = clock_mono_us();
	pthread_mutex_lock(&d->mu);
	d->t1 = t1;
	d->rv = rv;
	snprintf(d->err, sizeof d->err, "%s", err ? err : "");
	d->done = true;
	pthread_cond_signal(&d->cv);
	pthread_mutex_unlock(&d->mu);
}

static void
deploy_on_loop(void *arg)
{
	struct deploy_wait *d = arg;
	char err[1024];
	d->t0 = clock_mono_us();
	int rv = node_deploy_async(
	    d->n, d->wf, NULL, deploy_done, d, err, sizeof err);
	if (rv != LEDGE_OK) {
		deploy_done(d, rv, err);
	}
}

int
node_deploy_wait(struct node *n, struct workflow *wf, char *err, size_t errlen,
    uint64_t *loop_us)
{
	struct deploy_wait d = { .n = n, .wf = wf };
	pthread_mutex_init(&d.mu, NULL);
	pthread_cond_init(&d.cv, NULL);
	if (loop_post(n->loop, deploy_on_loop, &d) != 0) {
		wf_free(wf);
		snprintf(err, errlen, "out of memory");
		return LEDGE_ENOMEM;
	}
	pthread_mutex_lock(&d.mu);
	while (!d.done) {
		pthread_cond_wait(&d.cv, &d.mu);
	}
	pthread_mutex_unlock(&d.mu);
	pthread_cond_destroy(&d.cv);
	pthread_mutex_destroy(&d.mu);
	snprintf(err, errlen, "%s", d.err);
	if (loop_us != NULL) {
		*loop_us = d.t1 - d.t0;
	}
	return d.rv;
}

bool
node_has_workflow(struct node *n, const char *name)
{
	for (struct node_wf *w = n->wfs; w != NULL; w = w->next) {
		if (strcmp(w->wf->name, name) == 0) {
			return true;
		}
	}
	return false;
}

void
node_foreach_instance(struct node *n,
    void (*fn)(void *arg, const struct node_inst_stats *st), void *arg)
{
	for (struct node_wf *w = n->wfs; w != NULL; w = w->next) {
		for (size_t i = 0; i < w->ninsts; i++) {
			struct node_instance *inst = w->insts[i];
			struct node_inst_stats st = {
				.name = inst->target.name,
				.events = atomic_load(&inst->n_events),
				.errors = atomic_load(&inst->n_errors),
				.emitted = atomic_load(&inst->n_emitted),
				.busy_us = atomic_load(&inst->n_busy_us),
				.mailbox = mb_depth(&inst->mb),
				.status = atomic_load(&inst->status),
				.id = inst->target.id,
			};
			for (size_t b = 0; b < NODE_HIST_N; b++) {
				st.hist[b] = atomic_load(&inst->n_hist[b]);
			}
			if (inst->iso != NULL) {
				struct isolate_stats is;
				isolate_stats(inst->iso, &is);
				st.isolated = true;
				st.host_starts = is.starts;
				st.host_crashed = is.fails[ISO_CRASHED];
				st.host_timeout = is.fails[ISO_TIMEOUT];
				st.host_memory = is.fails[ISO_MEMORY];
				st.host_broken = is.fails[ISO_BROKEN];
			}
			fn(arg, &st);
		}
	}
}

/* An undeploy in progress: waiting for the stop of each instance. */
struct undeploy {
	struct node *n;
	struct node_wf *w;
	int pending;
	void (*done)(void *);
	void *arg;
	struct undeploy *next;
};

static void
undeploy_committed(void *arg)
{
	struct undeploy *u = arg;
	struct node *n = u->n;
	struct node_wf *w = u->w;
	/* Its writes are over (and were streamed): replication stops. */
	for (size_t i = 0; i < w->ninsts; i++) {
		commit_set_replicas(
		    n->commit, w->insts[i]->target.id, NULL, NULL, 0);
	}
	rlog_write(n->log, RLOG_INFO, n->name, "workflow %s stopped here",
	    w->wf->name);
	w->undeploying = NULL;
	if (u->done) {
		u->done(u->arg);
	}
	free(u);
}

/* Committer thread: everything before is durable. */
static void
undeploy_durable(void *arg, int err)
{
	struct undeploy *u = arg;
	(void)err; /* a failed commit ends the node */
	if (loop_post(u->n->loop, undeploy_committed, u) != 0) {
		/* the loop is gone: the node is being freed */
		free(u);
	}
}

static void
undeploy_finish(struct node *n, struct undeploy *u)
{
	struct node_wf *w = u->w;
	/* Off the routing tables; the memory stays until node_free, since
	 * work posted earlier may still point at it. */
	for (size_t i = 0; i < w->ninsts; i++) {
		if (w->insts[i]->target.id < n->ntargets) {
			n->targets[w->insts[i]->target.id] = NULL;
		}
	}
	for (size_t i = 0; i < w->nres; i++) {
		if (w->res[i]->target.id < n->ntargets) {
			n->targets[w->res[i]->target.id] = NULL;
		}
	}
	for (struct node_wf **pp = &n->wfs; *pp != NULL; pp = &(*pp)->next) {
		if (*pp == w) {
			*pp = w->next;
			break;
		}
	}
	w->next = n->retired;
	n->retired = w;
	/* done waits for the last writes of its instances to be durable
	 * (and visible): whatever runs next - the same parts deployed
	 * again, an export of their state - must read them. */
	struct commit_rec *rec = commit_rec_new();
	if (rec == NULL) {
		commit_flush(n->commit);
		undeploy_committed(u);
		return;
	}
	rec->done = undeploy_durable;
	rec->arg = u;
	commit_submit(n->commit, rec);
}

int
node_undeploy_async(
    struct node *n, const char *name, void (*done)(void *), void *arg)
{
	struct node_wf *w;
	struct undeploy *u;
	for (w = n->wfs; w != NULL; w = w->next) {
		if (strcmp(w->wf->name, name) == 0 && !w->undeploying) {
			break;
		}
	}
	if (w == NULL) {
		return LEDGE_ENOENT;
	}
	if ((u = calloc(1, sizeof *u)) == NULL) {
		return LEDGE_ENOMEM;
	}
	w->undeploying = u;
	u->n = n;
	u->w = w;
	u->done = done;
	u->arg = arg;
	stop_resources(w);
	u->pending = (int)w->ninsts;
	if (u->pending == 0) {
		undeploy_finish(n, u);
		return LEDGE_OK;
	}
	for (size_t i = 0; i < w->ninsts; i++) {
		push_ctl(n, w->insts[i], NE_STOP, NULL);
	}
	return LEDGE_OK;
}

/* Loop thread: an instance of an undeploying workflow has stopped. */
static void
undeploy_step(void *arg)
{
	struct node_wf *w = arg;
	struct undeploy *u = w->undeploying;
	if (u != NULL && --u->pending == 0) {
		undeploy_finish(u->n, u);
	}
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
	}
	return NULL;
}

int
node_set_replicas(struct node *n, const char *name, const char *const *nodes,
    const char *const *urls, size_t count)
{
	struct node_target *t = node_find_target(n, name);
	uint32_t *peers;
	struct commit_rec *rec;
	int rv;

	if (t == NULL || t->kind != NT_INSTANCE) {
		return LEDGE_ENOENT;
	}
	if ((peers = calloc(count + 1, sizeof *peers)) == NULL) {
		return LEDGE_ENOMEM;
	}
	for (size_t i = 0; i < count; i++) {
		peers[i] = links_peer(n->links, nodes[i]);
		if (urls != NULL && urls[i] != NULL && urls[i][0]) {
			links_set_url(n->links, nodes[i], urls[i]);
		}
	}
	rv = commit_set_replicas(n->commit, t->id, name, peers, count);
	free(peers);
	if (rv != LEDGE_OK || count == 0) {
		return rv;
	}
	/* Everything so far, then every write after it, in order. */
	if ((rec = commit_rec_new()) == NULL ||
	    commit_rec_snapshot(rec, t->id) != LEDGE_OK) {
		commit_rec_free(rec);
		return LEDGE_ENOMEM;
	}
	commit_submit(n->commit, rec);
	return LEDGE_OK;
}

/* ------------------------------------------------------------------ */
/* reload                                                              */

int
node_reload_instance(struct node *n, const char *name, const char *path,
    char *err, size_t errlen)
{
	struct node_target *t = node_find_target(n, name);
	struct node_code *code;
	char why[512];
	if (t == NULL || t->kind != NT_INSTANCE) {
		snprintf(err, errlen, "no function %s runs on node %s", name,
		    n->name);
		return LEDGE_ENOENT;
	}
	if (code_load(n->codes, path, &code, why, sizeof why) != LEDGE_OK) {
		snprintf(err, errlen,
		    "%s: code '%s': %s; still running the "
		    "old code",
		    name, path, why);
		rlog_write(n->log, RLOG_ERROR, name, "reload failed: %s", err);
		return LEDGE_EINVAL;
	}
	rlog_write(n->log, RLOG_INFO, name, "reloading code %.12s", code->hash);
	push_ctl(n, t->inst, NE_RELOAD, code);
	return LEDGE_OK;
}

void
node_reload(struct node *n, const char *path)
{
	for (struct node_wf *w = n->wfs; w != NULL; w = w->next) {
		for (size_t i = 0; i < w->ninsts; i++) {
			struct node_instance *inst = w->insts[i];
			struct node_code *code;
			char why[512];
			if (path != NULL &&
			    strcmp(inst->spec->code_path, path) != 0) {
				continue;
			}
			if (code_load(n->codes, inst->spec->code_path, &code,
			        why, sizeof why) != LEDGE_OK) {
				rlog_write(n->log, RLOG_ERROR,
				    inst->target.name,
				    "reload failed: code '%s': %s; still "
				    "running the old code",
				    inst->spec->code_path, why);
				continue;
			}
			rlog_write(n->log, RLOG_DEBUG, inst->target.name,
			    "reloading code %.12s", code->hash);
			/* The worker compares hashes: an unchanged file is
			 * a no-op there. */
			push_ctl(n, inst, NE_RELOAD, code);
		}
	}
}

struct reload_req {
	struct node *n;
	char path[];
};

static void
reload_on_loop(void *arg)
{
	struct reload_req *r = arg;
	node_reload(r->n, r->path[0] ? r->path : NULL);
	free(r);
}

void
node_reload_async(struct node *n, const char *path)
{
	size_t len = path ? strlen(path) : 0;
	struct reload_req *r = malloc(sizeof *r + len + 1);
	if (r == NULL) {
		return;
	}
	r->n = n;
	memcpy(r->path, path ? path : "", len + 1);
	if (loop_post(n->loop, reload_on_loop, r) != 0) {
		free(r);
	}
}

static void
on_file_changed(void *arg, const char *path)
{
	struct node *n = arg;
	if (!node_stopping(n)) {
		node_reload(n, path);
	}
}

static void
on_hup(void *arg)
{
	struct node *n = arg;
	rlog_write(n->log, RLOG_INFO, n->name,
	    "SIGHUP: reloading changed code, reopening logs");
	for (struct node_wf *w = n->wfs; w != NULL; w = w->next) {
		for (size_t i = 0; i < w->nres; i++) {
			struct node_res *nr = w->res[i];
			if (nr->started && nr->res.type->reopen) {
				nr->res.type->reopen(&nr->res);
			}
		}
	}
	node_reload(n, NULL);
}

/* ------------------------------------------------------------------ */
/* run and stop                                                        */

static void
stop_now(struct node *n)
{
	if (atomic_load(&n->state) == NS_DONE) {
		return;
	}
	atomic_store(&n->state, NS_DONE);
	loop_exit(n->loop);
}

static void
on_stop_timeout(void *arg)
{
	struct node *n = arg;
	rlog_write(n->log, RLOG_WARN, n->name,
	    "mailboxes did not drain within %d ms; stopping anyway (durable "
	    "events stay queued for the next start)",
	    STOP_GRACE_MS);
	stop_now(n);
}

static void
stop_check(void *arg)
{
	struct node *n = arg;
	int pending;
	pthread_mutex_lock(&n->ctl_mu);
	pending = n->ctl_pending;
	pthread_mutex_unlock(&n->ctl_mu);
	if (pending == 0) {
		stop_now(n);
	}
}

static void
stop_check_cb(void *arg)
{
	struct node *n = arg;
	if (atomic_load(&n->state) == NS_STOPPING) {
		stop_check(n);
	}
}

static void
begin_stop(struct node *n)
{
	int ninst = 0;
	if (atomic_load(&n->state) >= NS_STOPPING) {
		return;
	}
	atomic_store(&n->state, NS_STOPPING);
	rlog_write(n->log, RLOG_INFO, n->name,
	    "stopping: draining mailboxes, then calling stop handlers");
	if (n->http != NULL) {
		http_server_close_listener(n->http);
	}
	for (struct node_wf *w = n->wfs; w != NULL; w = w->next) {
		ninst += (int)w->ninsts;
	}
	pthread_mutex_lock(&n->ctl_mu);
	n->ctl_pending = ninst;
	pthread_mutex_unlock(&n->ctl_mu);
	for (struct node_wf *w = n->wfs; w != NULL; w = w->next) {
		for (size_t i = 0; i < w->ninsts; i++) {
			push_ctl(n, w->insts[i], NE_STOP, NULL);
		}
	}
	n->stop_timer = loop_timer_new(n->loop, on_stop_timeout, n);
	if (n->stop_timer != NULL) {
		loop_timer_start(n->stop_timer, STOP_GRACE_MS);
	}
	if (ninst == 0) {
		stop_now(n);
	}
}

static void
on_stop_signal(void *arg)
{
	struct node *n = arg;
	if (atomic_load(&n->state) >= NS_STOPPING) {
		rlog_write(n->log, RLOG_WARN, n->name,
		    "second stop signal: exiting now");
		stop_now(n);
		return;
	}
	begin_stop(n);
}

static void
request_stop_cb(void *arg)
{
	begin_stop(arg);
}

void
node_request_stop(struct node *n)
{
	loop_post(n->loop, request_stop_cb, n);
}

int
node_run(struct node *n)
{
	/* The loop returns when a stop has drained the node (stop_check),
	 * or early when something called loop_exit; then look again. */
	while (atomic_load(&n->state) != NS_DONE) {
		loop_run(n->loop);
		if (atomic_load(&n->state) == NS_STOPPING) {
			stop_check(n);
		}
	}
	return 0;
}

void
node_free(struct node *n)
{
	if (n == NULL) {
		return;
	}
	atomic_store(&n->state, NS_DONE);
	/* Nothing runs handlers any more; then let what is submitted commit
	 * and its completions (answers, events held for resources, their
	 * own consumption records) play out, a few rounds deep. */
	sched_stop(n->sched);
	n->sched = NULL;
	if (n->commit != NULL) {
		struct commit_stats st;
		commit_get_stats(n->commit, &st);
		rlog_write(n->log, RLOG_INFO, n->name,
		    "store: %llu records in %llu commits (%.1f per commit), "
		    "%llu operations, %llu cancelled in-batch",
		    (unsigned long long)st.records,
		    (unsigned long long)st.batches,
		    st.batches ? (double)st.records / (double)st.batches : 0.0,
		    (unsigned long long)st.ops,
		    (unsigned long long)st.cancelled);
	}
	exec_worker_free(n->inline_worker);
	n->inline_worker = NULL;
	for (int i = 0; i < 3 && n->commit != NULL && n->loop != NULL; i++) {
		commit_flush(n->commit);
		loop_drain(n->loop);
	}
	commit_stop(n->commit);
	watch_free(n->watch);
	n->watch = NULL;
	while (n->nheap > 0) {
		node_event_free(heap_pop(n)); /* durable: replayed next time */
	}
	free(n->heap);
	for (struct node_wf *w = n->wfs; w != NULL; w = w->next) {
		for (size_t i = 0; i < w->nres; i++) {
			struct node_res *nr = w->res[i];
			if (nr->started && nr->res.type->stop) {
				nr->res.type->stop(&nr->res);
			}
			nr->started = false;
		}
	}
	while (n->wfs != NULL) {
		struct node_wf *w = n->wfs;
		n->wfs = w->next;
		free_wf(w); /* calls still queued fail with LEDGE_ECLOSED */
	}
	while (n->retired != NULL) {
		struct node_wf *w = n->retired;
		n->retired = w->next;
		free_wf(w);
	}
	if (n->loop != NULL) {
		loop_drain(n->loop);
		links_free(n->links);
		loop_drain(n->loop);
		loop_timer_free(n->delay_timer);
		loop_timer_free(n->stop_timer);
		http_server_free(n->http);
		http_client_free(n->http_client);
		loop_free(n->loop);
	}
	commit_free(n->commit);
	while (n->slots != NULL) {
		struct type_slot *s = n->slots;
		n->slots = s->next;
		free(s);
	}
	if (n->own_codes) {
		code_cache_close(n->codes);
	}
	free_registry(n);
	store_close(n->store);
	pthread_mutex_destroy(&n->ctl_mu);
	free(n->targets);
	free(n->data_dir);
	free(n->name);
	free(n);
}
