/*
 * deploy.c - deploying a workflow on the node (its instances, resources
 * and the proxies of parts elsewhere), starting it (inits, replay of its
 * durable events, hand-over of events for parts that moved), and
 * undeploying it (deploy.h, node.h).
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "base/strbuf.h"
#include "code/code.h"
#include "code/code_sign.h"
#include "isolate/host_sandbox.h"
#include "isolate/isolate.h"
#include "node/commit.h"
#include "node/ctl.h"
#include "node/deploy.h"
#include "node/enqueue.h"
#include "node/exec.h"
#include "node/instance.h"
#include "node/keyed.h"
#include "node/links.h"
#include "node/node_event.h"
#include "node/node_impl.h"
#include "node/registry.h"
#include "node/route.h"
#include "platform/loop.h"
#include "platform/watch.h"
#include "store/store.h"
#include "workflow/resource.h"
#include "workflow/workflow.h"

/* How often to look again at undeployed workflows still referenced. */
#define REAP_RETRY_MS 1000

/* "a/b", for "workflow/name" (malloc'd). */
static char *
join_path(const char *a, const char *b)
{
	struct strbuf s = { 0 };
	strbuf_fmt(&s, "%s/%s", a, b);
	return strbuf_take(&s);
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
		const struct wf_function *rf = wf_find_function(w->wf, part);
		t->kind = NT_REMOTE;
		t->keyed = rf != NULL && rf->keyed;
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

/* A keyed function split into slots (NT_SLOTS), by its name: made on
 * first use from the slots' targets here and on other nodes (a slot
 * placed nowhere now stays NULL).  NULL if `name` is not one (or memory
 * ran out). */
static struct node_target *
find_group(struct node *n, struct node_wf *w, const char *name)
{
	const struct wf_function *f;
	struct node_target *g = NULL, **grown;
	size_t ns;

	for (size_t i = 0; i < w->ngroups; i++) {
		if (strcmp(w->groups[i]->name + strlen(w->wf->name) + 1,
		        name) == 0) {
			return w->groups[i];
		}
	}
	if ((f = wf_find_slots(w->wf, name, &ns)) == NULL || f->group == NULL) {
		return NULL;
	}
	if ((g = calloc(1, sizeof *g)) == NULL ||
	    (g->slots = calloc(ns, sizeof *g->slots)) == NULL ||
	    (g->name = join_path(w->wf->name, name)) == NULL ||
	    (grown = realloc(w->groups, (w->ngroups + 1) * sizeof *grown)) ==
	        NULL) {
		if (g != NULL) {
			free(g->slots);
			free((char *)g->name);
		}
		free(g);
		return NULL;
	}
	g->kind = NT_SLOTS;
	g->id = UINT32_MAX; /* no part: never a target of an event */
	g->nslots = (uint32_t)ns;
	g->keyed = true;
	for (size_t i = 0; i < ns; i++) {
		const char *sn = f[i].name;
		if ((g->slots[i] = find_local(w, sn)) == NULL) {
			g->slots[i] = find_remote(n, w, sn);
		}
	}
	w->groups = grown;
	w->groups[w->ngroups++] = g;
	return g;
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
			         node, w, spec[i].targets[k])) == NULL &&
			    (o[i].targets[k] = find_group(
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
	keyed_free(inst);
	isolate_free(inst->iso);
	mb_fini(&inst->mb);
	instance_dirty_clear(inst);
	hmap_fini(&inst->dirty);
	free_outputs(inst->outputs, inst->noutputs);
	code_release(inst->code);
	free((char *)inst->target.name);
	free(inst->counts);
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

void
deploy_free_wf(struct node_wf *w)
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
	for (size_t i = 0; i < w->ngroups; i++) {
		free(w->groups[i]->slots);
		free((char *)w->groups[i]->name);
		free(w->groups[i]);
	}
	free(w->groups);
	free(w->insts);
	free(w->res);
	wf_free(w->wf);
	free(w);
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
			rv = route_add_target(n, t);
		}
	}
	rv = registry_submit(n, rec, rv);
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
	rv = registry_submit(n, rec, rv);
	if (rv != LEDGE_OK) {
		snprintf(err, errlen,
		    "workflow %s: cannot register in the store: %s",
		    w->wf->name, ledge_strerror(rv));
	}
	return rv;
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
	if ((inst->counts = calloc(1, sizeof *inst->counts)) == NULL) {
		return LEDGE_ENOMEM;
	}
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
	if (f->keyed && (rv = keyed_new(n, inst)) != LEDGE_OK) {
		return rv;
	}
	if (f->isolated) {
		struct isolate_opts io = { .exe = n->opts.host_exe,
			.name = inst->target.name,
			.config = &f->config.sdk,
			.timeout_ms = f->timeout_ms,
			.memory_mb = f->memory_mb,
			.sandbox = !f->sandbox_off,
			.user = n->opts.host_user };
		/* The workflow's words for what it may do are the
		 * sandbox's. */
		for (unsigned b = 1; b < 1u << WF_SANDBOX_NBITS; b <<= 1) {
			if (f->sandbox_allow & b) {
				io.allow |=
				    host_sandbox_allow_bit(wf_sandbox_name(b));
			}
		}
		inst->iso = isolate_new(&io, n->log);
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
	nr->res.type = spec->rtype;
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
	/* And every keyed function split into slots its group, also one
	 * no output here names (requests name it). */
	for (size_t i = 0; i < wf->nfunctions; i++) {
		const struct wf_function *f = &wf->functions[i];
		if (f->group != NULL && f->slot == 0 &&
		    find_group(n, w, f->group) == NULL) {
			snprintf(err, errlen, "out of memory");
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
		if (w->insts[i]) {
			route_drop_target(n, &w->insts[i]->target);
		}
	}
	for (size_t i = 0; i < w->nres; i++) {
		if (w->res[i]) {
			route_drop_target(n, &w->res[i]->target);
		}
	}
	deploy_free_wf(w);
	return rv;
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

/*
 * Start a deployed workflow: its resources first (events that reach an
 * instance queue behind its init, and an init may call an egress
 * resource), then the inits, then the durable events it left in the store.
 * ctl_wf_inited runs once every init has answered.  Loop thread, or before
 * the loop runs.
 */
int
deploy_start_wf(struct node *n, struct node_wf *w, char *err, size_t errlen)
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
			ctl_stop_resources(w);
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
		if (ctl_send(n, w->insts[i], NE_INIT, NULL, true) != LEDGE_OK) {
			/* Its init fails: the workflow does not start. */
			ctl_done(n, w->insts[i], NE_INIT, LEDGE_ENOMEM);
		}
		if (n->watch != NULL &&
		    watch_add(n->watch, w->insts[i]->spec->code_path) != 0) {
			rlog_write(n->log, RLOG_WARN, n->name,
			    "cannot watch %s for changes: %s",
			    w->insts[i]->spec->code_path, strerror(errno));
		}
		/* Signed code: a new signature (written after the build) is
		 * what makes a new file loadable. */
		if (n->watch != NULL && code_cache_checks(n->codes)) {
			char sig[4200];
			snprintf(sig, sizeof sig, "%s" CODE_SIG_SUFFIX,
			    w->insts[i]->spec->code_path);
			(void)watch_add(n->watch, sig);
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
		loop_post(n->loop, ctl_wf_inited, w);
	}
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
	if ((rv = deploy_start_wf(n, w, err, errlen)) != LEDGE_OK) {
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

/* ------------------------------------------------------------------ */
/* undeploy                                                            */

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
		links_set_replicas(n->links, w->insts[i]->target.id, NULL, NULL,
		    0, false, 0, NULL);
	}
	rlog_write(n->log, RLOG_INFO, n->name, "workflow %s stopped here",
	    w->wf->name);
	w->undeploying = NULL;
	if (u->done) {
		u->done(u->arg);
	}
	free(u);
	deploy_reap(n);
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
	/* Off the routing tables; the memory stays on n->retired until
	 * nothing points at it any more (deploy_reap), since work posted
	 * earlier may still. */
	for (size_t i = 0; i < w->ninsts; i++) {
		route_drop_target(n, &w->insts[i]->target);
	}
	for (size_t i = 0; i < w->nres; i++) {
		route_drop_target(n, &w->res[i]->target);
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

static void undeploy_step(void *arg);

int
node_undeploy_async(
    struct node *n, const char *name, void (*done)(void *), void *arg)
{
	struct node_wf *w;
	struct undeploy *u;
	struct node_event **stops;
	for (w = n->wfs; w != NULL; w = w->next) {
		if (strcmp(w->wf->name, name) == 0 && !w->undeploying) {
			break;
		}
	}
	if (w == NULL) {
		return LEDGE_ENOENT;
	}
	/* Everything it needs first: out of memory, the request fails and
	 * the workflow runs on. */
	if ((u = calloc(1, sizeof *u)) == NULL ||
	    (stops = ctl_stops_new(w->insts, w->ninsts)) == NULL) {
		free(u);
		rlog_write(n->log, RLOG_ERROR, n->name,
		    "cannot stop workflow %s: out of memory", w->wf->name);
		return LEDGE_ENOMEM;
	}
	w->undeploying = u;
	w->stopped = undeploy_step;
	u->n = n;
	u->w = w;
	u->done = done;
	u->arg = arg;
	ctl_stop_resources(w);
	u->pending = (int)w->ninsts;
	if (u->pending == 0) {
		free(stops);
		undeploy_finish(n, u);
		return LEDGE_OK;
	}
	ctl_stops_send(n, w->insts, stops, w->ninsts);
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

int
node_set_replicas(struct node *n, const char *name, const char *const *nodes,
    const char *const *urls, size_t count, uint64_t epoch, uint64_t deploy)
{
	struct node_target *t = node_find_target(n, name);
	uint32_t *peers;
	struct commit_rec *rec;
	uint64_t tgen = 0;
	int rv;

	if (t == NULL || t->kind != NT_INSTANCE) {
		return LEDGE_ENOENT;
	}
	/* It runs here at this epoch: late entries of the primary it took
	 * over from are stale from now on. */
	if ((rec = commit_rec_new()) == NULL ||
	    links_replica_primary(n->links, name, epoch, rec) != LEDGE_OK) {
		commit_rec_free(rec);
		return LEDGE_ENOMEM;
	}
	if (commit_rec_empty(rec)) {
		commit_rec_free(rec);
	} else {
		commit_submit(n->commit, rec);
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
	rv = links_set_replicas(n->links, t->id, name, peers, count,
	    !t->inst->spec->ack_primary, epoch, &tgen);
	free(peers);
	t->inst->repl_deploy = deploy;
	if (rv != LEDGE_OK || count == 0) {
		if (rv == LEDGE_OK) {
			rlog_write(n->log, RLOG_INFO, n->name,
			    "[%s] no replicas: its writes are acknowledged "
			    "once durable here",
			    name);
		}
		return rv;
	}
	{
		char list[512];
		size_t off = 0;
		list[0] = '\0';
		for (size_t i = 0; i < count && off < sizeof list; i++) {
			off += (size_t)snprintf(list + off, sizeof list - off,
			    "%s%s", i ? ", " : "", nodes[i]);
		}
		rlog_write(n->log, RLOG_INFO, n->name,
		    "[%s] replicas on %s: %s", name, list,
		    t->inst->spec->ack_primary
		        ? "writes are acknowledged once durable here, and "
		          "replicated after (ack: primary)"
		        : "writes are acknowledged once they hold them too");
	}
	/* Everything so far, then every write after it, in order. */
	if ((rec = commit_rec_new()) == NULL ||
	    commit_rec_snapshot(rec, t->id) != LEDGE_OK ||
	    links_watch_snapshot(n->links, t->id, tgen, rec) != LEDGE_OK) {
		commit_rec_free(rec);
		return LEDGE_ENOMEM;
	}
	commit_submit(n->commit, rec);
	return LEDGE_OK;
}

/* ------------------------------------------------------------------ */
/* freeing undeployed workflows                                        */

/* Is t one of w's targets (an instance, a resource, a proxy)? */
static bool
owns_target(void *arg, const struct node_target *t)
{
	const struct node_wf *w = arg;
	for (size_t i = 0; i < w->ninsts; i++) {
		if (t == &w->insts[i]->target) {
			return true;
		}
	}
	for (size_t i = 0; i < w->nres; i++) {
		if (t == &w->res[i]->target) {
			return true;
		}
	}
	for (size_t i = 0; i < w->nremotes; i++) {
		if (t == w->remotes[i]) {
			return true;
		}
	}
	return false;
}

/*
 * Does nothing point into w any more?  Off the target table, nothing new
 * finds it; what was under way must be over: no instance of it has an
 * event queued, a slot reserved, a worker running or holding it (the
 * mailbox is idle: a worker marks it so as its last touch), a producer
 * parked on it, or is parked or blocked in a call itself; no event is in
 * the hands of its resources; none waits for it on the delayed heap.
 * Work posted before the undeploy completed has run by now (the loop
 * takes posts in order).  Loop thread.
 */
static bool
wf_unreferenced(struct node *n, struct node_wf *w)
{
	if (w->undeploying != NULL) {
		return false;
	}
	for (size_t i = 0; i < w->ninsts; i++) {
		struct node_instance *inst = w->insts[i];
		bool idle;
		pthread_mutex_lock(&inst->mb.mu);
		idle = !inst->mb.scheduled && inst->mb.head == NULL &&
		    inst->mb.depth == 0;
		pthread_mutex_unlock(&inst->mb.mu);
		if (!idle || atomic_load(&inst->waiters) != NULL ||
		    atomic_load(&inst->parked_on) != NULL ||
		    atomic_load(&inst->waiting_on) != NULL ||
		    (inst->keyed != NULL && keyed_busy(inst))) {
			return false;
		}
	}
	for (size_t i = 0; i < w->nres; i++) {
		if (atomic_load(&w->res[i]->target.pending) != 0) {
			return false;
		}
	}
	return !route_has_delayed(n, owns_target, w);
}

static void
reap_on_timer(void *arg)
{
	deploy_reap(arg);
}

void
deploy_reap(struct node *n)
{
	bool left = false;
	for (struct node_wf **pp = &n->retired; *pp != NULL;) {
		struct node_wf *w = *pp;
		if (!wf_unreferenced(n, w)) {
			left = true;
			pp = &w->next;
			continue;
		}
		*pp = w->next;
		deploy_free_wf(w);
	}
	if (!left || node_impl_stopping(n)) {
		return; /* what is left goes with the node */
	}
	if (n->reap_timer == NULL) {
		n->reap_timer = loop_timer_new(n->loop, reap_on_timer, n);
	}
	if (n->reap_timer != NULL) {
		loop_timer_start(n->reap_timer, REAP_RETRY_MS);
	}
}
