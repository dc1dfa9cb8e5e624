/*
 * node.c - the node's lifecycle: creation (store, code cache, loop,
 * committer, links, workers, HTTP listener), start, run, stop and free,
 * and its accessors.  Deploying is deploy.c's, routing route.c's, ids
 * registry.c's, control events ctl.c's, reload reload.c's.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "base/clock.h"
#include "base/strbuf.h"
#include "code/code.h"
#include "isolate/isolate.h"
#include "node/commit.h"
#include "node/ctl.h"
#include "node/deploy.h"
#include "node/exec.h"
#include "node/idem.h"
#include "node/instance.h"
#include "node/keyed.h"
#include "node/links.h"
#include "node/node.h"
#include "node/node_impl.h"
#include "node/registry.h"
#include "node/reload.h"
#include "node/res_api.h"
#include "node/route.h"
#include "node/sched.h"
#include "platform/http.h"
#include "platform/loop.h"
#include "platform/watch.h"
#include "store/store.h"
#include "workflow/resource.h"
#include "workflow/workflow.h"

/* How long a stop waits for mailboxes to drain before giving up. */
#define STOP_GRACE_MS 10000

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

bool
node_checks_code(struct node *n)
{
	return code_cache_checks(n->codes);
}

bool
node_stopping(struct node *n)
{
	return node_impl_stopping(n);
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
/* creation                                                            */

static void
on_fatal(void *arg, const char *why)
{
	struct node *n = arg;
	/* Not a full store: that fails the records that do not fit
	 * (commit.h), never the node. */
	rlog_write(n->log, RLOG_ERROR, n->name,
	    "the store failed (%s); stopping at once so that a restart "
	    "recovers the last durable state",
	    why);
	_exit(70);
}

/* What the links use of the node (struct links_env). */
static struct node_target *
env_find_target(void *n, const char *name)
{
	return node_find_target(n, name);
}

static int
env_registry_id(void *n, const char *name, uint32_t *id)
{
	return node_registry_id(n, name, id);
}

static uint64_t
env_next_qid(void *n)
{
	return node_next_qid(n);
}

static void
env_qid_above(void *n, uint64_t qid)
{
	node_qid_above(n, qid);
}

static void
env_send(void *n, struct node_target *t, struct node_event *ev)
{
	node_send(n, t, ev);
}

static void
env_send_inline(void *n, struct node_target *t, struct node_event *ev)
{
	node_send_inline(n, t, ev);
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
	if (n->data_dir != NULL) {
		struct strbuf b = { 0 };
		strbuf_fmt(&b, "%s/store", n->data_dir);
		store_dir = strbuf_take(&b);
		strbuf_fmt(&b, "%s/code", n->data_dir);
		code_dir = strbuf_take(&b);
	}
	if (n->data_dir == NULL || n->name == NULL || store_dir == NULL ||
	    code_dir == NULL) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	/* The node's map starts small and grows up to --store-size. */
	struct store_opts so = o->store;
	so.grow = true;
	if ((rv = store_open(&n->store, store_dir, &so, err, errlen)) !=
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
	if (o->trust != NULL) {
		code_cache_trust(n->codes, o->trust);
	}
	rv = LEDGE_ENOMEM;
	if (loop_new(&n->loop) != 0 || route_init(n) != LEDGE_OK) {
		snprintf(err, errlen, "cannot create the event loop");
		goto fail;
	}
	if (registry_load(n) != LEDGE_OK) {
		snprintf(err, errlen, "cannot read the registry of the store");
		goto fail;
	}
	if (commit_start(&n->commit, n->store, log, on_fatal, n) != LEDGE_OK) {
		snprintf(err, errlen, "cannot start the committer thread");
		goto fail;
	}
	n->incarnation = incarnation(n->store);
	struct links_env lenv = { n, n->loop, log, n->store, n->commit,
		env_find_target, env_registry_id, env_next_qid, env_qid_above,
		env_send, env_send_inline, node_admit, node_admitted,
		o->replica_timeout_ms };
	if (links_new(&n->links, &lenv, n->name, n->incarnation, o->tls) !=
	    LEDGE_OK) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	commit_set_outbox_hook(n->commit, links_on_outbox, n->links);
	n->exec_env = (struct exec_env) { .node = n,
		.log = n->log,
		.store = n->store,
		.commit = n->commit,
		.links = n->links };
	if (sched_start(
	        &n->sched, exec_sched_ops(), &n->exec_env, o->workers) != 0) {
		snprintf(err, errlen, "cannot start the worker threads");
		goto fail;
	}
	if (!o->no_inline &&
	    (n->inline_worker =
	            exec_worker_new_inline(&n->exec_env, n->sched)) == NULL) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	n->run_inline = exec_run_inline;
	n->run_claimed = exec_run_claimed;
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

/* ------------------------------------------------------------------ */
/* start                                                               */

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
			} else if (f->keyed) {
				snprintf(iso, sizeof iso,
				    ", keyed (idle_s %u, max_active %u)",
				    f->idle_s, f->max_active);
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

int
node_start(struct node *n, char *err, size_t errlen)
{
	size_t used = 0;

	atomic_store(&n->state, NS_STARTING);
	links_restore(n->links);
	if (idem_pruner_new(&n->idem_pruner, n->loop, n->store, n->commit) !=
	    LEDGE_OK) {
		snprintf(err, errlen, "out of memory");
		return LEDGE_ENOMEM;
	}
	if (n->opts.watch &&
	    watch_new(&n->watch, n->loop, reload_on_file_changed, n) != 0) {
		rlog_write(n->log, RLOG_WARN, n->name,
		    "cannot watch code files (inotify): hot reload on file "
		    "change is off; SIGHUP still reloads");
	}
	for (struct node_wf *w = n->wfs; w != NULL; w = w->next) {
		if (deploy_start_wf(n, w, err, errlen) != LEDGE_OK) {
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
	loop_signal(n->loop, SIGHUP, reload_on_hup, n);
	atomic_store(&n->state, NS_RUNNING);
	print_summary(n);
	return LEDGE_OK;
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
				.events = atomic_load(&inst->counts->n_events),
				.errors = atomic_load(&inst->counts->n_errors),
				.emitted =
				    atomic_load(&inst->counts->n_emitted),
				.busy_us =
				    atomic_load(&inst->counts->n_busy_us),
				.mailbox = mb_depth(&inst->mb),
				.status = atomic_load(&inst->status),
				.id = inst->target.id,
			};
			st.replicas = (uint32_t)links_replicas(n->links,
			    inst->target.id, st.reps, LINKS_REPLICAS_MAX);
			for (uint32_t r = 0; r < st.replicas; r++) {
				st.replicas_lagging += !st.reps[r].in_sync;
			}
			st.repl_deploy = inst->repl_deploy;
			for (size_t b = 0; b < NODE_HIST_N; b++) {
				st.hist[b] =
				    atomic_load(&inst->counts->n_hist[b]);
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
				st.host_sandbox = is.fails[ISO_SANDBOX];
			}
			if (inst->keyed != NULL) {
				struct keyed_stats ks;
				keyed_stats(inst, &ks);
				st.keyed = true;
				st.keys_active = ks.active;
				st.key_activations = ks.activations;
				st.key_passivations = ks.passivations;
			}
			fn(arg, &st);
		}
	}
}

/* ------------------------------------------------------------------ */
/* run and stop                                                        */

static void
on_stop_timeout(void *arg)
{
	struct node *n = arg;
	rlog_write(n->log, RLOG_WARN, n->name,
	    "mailboxes did not drain within %d ms; stopping anyway (durable "
	    "events stay queued for the next start)",
	    STOP_GRACE_MS);
	ctl_stop_now(n);
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
			ctl_push(n, w->insts[i], NE_STOP, NULL, false);
		}
	}
	n->stop_timer = loop_timer_new(n->loop, on_stop_timeout, n);
	if (n->stop_timer != NULL) {
		loop_timer_start(n->stop_timer, STOP_GRACE_MS);
	}
	if (ninst == 0) {
		ctl_stop_now(n);
	}
}

static void
on_stop_signal(void *arg)
{
	struct node *n = arg;
	if (atomic_load(&n->state) >= NS_STOPPING) {
		rlog_write(n->log, RLOG_WARN, n->name,
		    "second stop signal: exiting now");
		ctl_stop_now(n);
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
			ctl_stop_check(n);
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
	idem_pruner_free(n->idem_pruner);
	n->idem_pruner = NULL;
	watch_free(n->watch);
	n->watch = NULL;
	route_fini(n);
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
		deploy_free_wf(
		    w); /* calls still queued fail with LEDGE_ECLOSED */
	}
	while (n->retired != NULL) {
		struct node_wf *w = n->retired;
		n->retired = w->next;
		deploy_free_wf(w);
	}
	if (n->loop != NULL) {
		loop_drain(n->loop);
		links_free(n->links);
		loop_drain(n->loop);
		loop_timer_free(n->delay_timer);
		loop_timer_free(n->stop_timer);
		loop_timer_free(n->reap_timer);
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
	registry_free(n);
	store_close(n->store);
	pthread_mutex_destroy(&n->ctl_mu);
	free(n->targets);
	free(n->data_dir);
	free(n->name);
	free(n);
}
