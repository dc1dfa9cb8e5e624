/*
 * orc.c - the orchestrator: its lifecycle, the request dispatch, the
 * nodes (joins, heartbeats, failure detection and fencing), the desired
 * state in the store, and its metrics (see orc.h, docs/protocol.md; what
 * lives where: orc_int.h).
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "base/diag.h"
#include "base/rlog.h"
#include "platform/loop.h"
#include "net/msg.h"
#include "orc/orc.h"
#include "orc/orc_int.h"
#include "orc/orc_place.h"
#include "store/store.h"
#include "net/wire.h"
#include "workflow/workflow.h"

#define TICK_MS         100
#define NODE_TIMEOUT_MS 3000

/* ------------------------------------------------------------------ */
/* small helpers                                                       */

void
orc_free_strs(char **v, size_t n)
{
	for (size_t i = 0; v != NULL && i < n; i++) {
		free(v[i]);
	}
	free(v);
}

bool
orc_in_list(char **v, size_t n, const char *s)
{
	for (size_t i = 0; i < n; i++) {
		if (v[i] != NULL && strcmp(v[i], s) == 0) {
			return true;
		}
	}
	return false;
}

void
orc_send_wire(struct msg_req *req, struct wire_w *w)
{
	size_t n;
	const void *d = wire_data(w, &n);
	msg_reply(req, d, d ? n : 0);
	wire_w_fini(w);
}

void
orc_reply_err(struct msg_req *req, const char *code, const char *fmt, ...)
{
	char why[2048];
	struct wire_w w;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(why, sizeof why, fmt, ap);
	va_end(ap);
	if (wire_w_init(&w) != 0) {
		msg_reply(req, NULL, 0);
		return;
	}
	wire_map(&w, 3);
	wire_str(&w, "ok");
	wire_bool(&w, false);
	wire_str(&w, "code");
	wire_str(&w, code);
	wire_str(&w, "error");
	wire_str(&w, why);
	orc_send_wire(req, &w);
}

const char *
orc_part_name(const struct owf *w, size_t i)
{
	return i < w->wf->nfunctions
	    ? w->wf->functions[i].name
	    : w->wf->resources[i - w->wf->nfunctions].name;
}

bool
orc_part_is_fn(const struct owf *w, size_t i)
{
	return i < w->wf->nfunctions;
}

struct onode *
orc_find_node(struct orc *o, const char *name)
{
	for (struct onode *n = o->nodes; n != NULL; n = n->next) {
		if (strcmp(n->name, name) == 0) {
			return n;
		}
	}
	return NULL;
}

struct owf *
orc_find_wf(struct orc *o, const char *name)
{
	for (struct owf *w = o->wfs; w != NULL; w = w->next) {
		if (strcmp(w->name, name) == 0) {
			return w;
		}
	}
	return NULL;
}

ssize_t
orc_fn_index(struct owf *w, const char *fn)
{
	for (size_t i = 0; fn && i < w->wf->nfunctions; i++) {
		if (strcmp(w->wf->functions[i].name, fn) == 0) {
			return (ssize_t)i;
		}
	}
	return -1;
}

void
orc_free_place(struct oplace *p)
{
	free(p->node);
	orc_free_strs(p->rep, p->nrep);
	free(p->why);
	memset(p, 0, sizeof *p);
}

void
orc_free_owf(struct owf *w)
{
	for (size_t i = 0; w->place && i < w->nparts; i++) {
		orc_free_place(&w->place[i]);
	}
	free(w->place);
	orc_free_strs(w->ck, w->ncode);
	orc_free_strs(w->cv, w->ncode);
	orc_free_strs(w->deployed_on, w->ndeployed);
	wf_free(w->wf);
	free(w->name);
	free(w->file);
	free(w->yaml);
	free(w);
}

struct owf *
orc_make_owf(const char *name, const char *file, const char *yaml, size_t ylen,
    wire_v code, struct diag *d)
{
	struct owf *w = calloc(1, sizeof *w);
	if (w == NULL) {
		return NULL;
	}
	w->name = strdup(name);
	w->file = strdup(file);
	w->yaml = malloc(ylen + 1);
	if (!w->name || !w->file || !w->yaml) {
		orc_free_owf(w);
		return NULL;
	}
	memcpy(w->yaml, yaml, ylen);
	w->yaml[ylen] = '\0';
	w->ncode = wire_len(code);
	w->ck = calloc(w->ncode + 1, sizeof *w->ck);
	w->cv = calloc(w->ncode + 1, sizeof *w->cv);
	if (!w->ck || !w->cv) {
		orc_free_owf(w);
		return NULL;
	}
	for (size_t i = 0; i < w->ncode; i++) {
		w->ck[i] = wire_str_dup(wire_key_at(code, i));
		w->cv[i] = wire_str_dup(wire_val_at(code, i));
	}
	if ((w->wf = wf_load_mem(file, yaml, ylen, NULL, NULL, d)) == NULL) {
		orc_free_owf(w);
		return NULL;
	}
	w->nparts = orc_place_nparts(w->wf);
	if ((w->place = calloc(w->nparts + 1, sizeof *w->place)) == NULL) {
		orc_free_owf(w);
		return NULL;
	}
	return w;
}

static void
free_stats(struct onode *n)
{
	for (size_t i = 0; i < n->nstats; i++) {
		free(n->stats[i].part);
	}
	free(n->stats);
	n->stats = NULL;
	n->nstats = 0;
}

static void
free_onode(struct onode *n)
{
	msg_client_free(n->client);
	orc_free_strs(n->lk, n->nlabels);
	orc_free_strs(n->lv, n->nlabels);
	orc_free_strs(n->res, n->nres);
	orc_free_strs(n->running, n->nrunning);
	orc_free_strs(n->fence, n->nfence);
	free_stats(n);
	free(n->name);
	free(n->url);
	free(n->arch);
	free(n->http);
	free(n);
}

/* ------------------------------------------------------------------ */
/* persistence                                                         */

/* Put w's bytes under key in batch b. */
static int
batch_put_wire(
    struct store_batch *b, enum store_db db, const char *key, struct wire_w *w)
{
	size_t n;
	const void *d = wire_data(w, &n);
	if (d == NULL) {
		return LEDGE_ENOMEM;
	}
	return store_batch_put(b, db, key, strlen(key), d, n);
}

static int
put_wire(struct orc *o, enum store_db db, const char *key, struct wire_w *w)
{
	struct store_batch *b;
	int rv;
	if (store_batch_begin(o->store, &b) != LEDGE_OK) {
		return LEDGE_ENOMEM;
	}
	if ((rv = batch_put_wire(b, db, key, w)) != LEDGE_OK) {
		store_batch_abort(b);
		return rv;
	}
	return store_batch_commit(b);
}

void
orc_save_node(struct orc *o, struct onode *n)
{
	struct wire_w w;
	if (wire_w_init(&w) != 0) {
		return;
	}
	wire_map(&w, 11);
	wire_str(&w, "draining");
	wire_bool(&w, n->draining);
	wire_str(&w, "boot");
	wire_u64(&w, n->boot);
	wire_str(&w, "url");
	wire_str(&w, n->url);
	wire_str(&w, "arch");
	wire_str(&w, n->arch);
	wire_str(&w, "http");
	wire_str(&w, n->http);
	wire_str(&w, "cores");
	wire_u64(&w, (uint64_t)n->cores);
	wire_str(&w, "mem_mb");
	wire_u64(&w, n->mem_mb);
	wire_str(&w, "incarnation");
	wire_u64(&w, n->incarnation);
	wire_str(&w, "epoch");
	wire_u64(&w, n->epoch);
	wire_str(&w, "labels");
	wire_map(&w, n->nlabels);
	for (size_t i = 0; i < n->nlabels; i++) {
		wire_str(&w, n->lk[i]);
		wire_str(&w, n->lv[i]);
	}
	wire_str(&w, "resources");
	wire_array(&w, n->nres);
	for (size_t i = 0; i < n->nres; i++) {
		wire_str(&w, n->res[i]);
	}
	put_wire(o, STORE_ORC_NODE, n->name, &w);
	wire_w_fini(&w);
}

/* The workflow, its parts' places and the epoch counter (kept ahead of
 * every epoch handed out) in one commit. */
void
orc_save_wf(struct orc *o, struct owf *w)
{
	struct store_batch *b;
	struct wire_w wr;
	int rv;
	if (wire_w_init(&wr) != 0) {
		return;
	}
	if (store_batch_begin(o->store, &b) != LEDGE_OK) {
		wire_w_fini(&wr);
		return;
	}
	wire_map(&wr, 4);
	wire_str(&wr, "adopted");
	wire_bool(&wr, w->adopted);
	wire_str(&wr, "file");
	wire_str(&wr, w->file);
	wire_str(&wr, "yaml");
	wire_str(&wr, w->yaml);
	wire_str(&wr, "code");
	wire_map(&wr, w->ncode);
	for (size_t i = 0; i < w->ncode; i++) {
		wire_str(&wr, w->ck[i]);
		wire_str(&wr, w->cv[i]);
	}
	rv = batch_put_wire(b, STORE_ORC_WF, w->name, &wr);
	wire_w_fini(&wr);
	for (size_t i = 0; rv == LEDGE_OK && i < w->nparts; i++) {
		struct oplace *p = &w->place[i];
		char key[512];
		if (wire_w_init(&wr) != 0) {
			rv = LEDGE_ENOMEM;
			break;
		}
		snprintf(
		    key, sizeof key, "%s/%s", w->name, orc_part_name(w, i));
		wire_map(&wr, 3);
		wire_str(&wr, "node");
		wire_str(&wr, p->node);
		wire_str(&wr, "epoch");
		wire_u64(&wr, p->epoch);
		wire_str(&wr, "replicas");
		wire_array(&wr, p->nrep);
		for (size_t k = 0; k < p->nrep; k++) {
			wire_str(&wr, p->rep[k]);
		}
		rv = batch_put_wire(b, STORE_ORC_PLACE, key, &wr);
		wire_w_fini(&wr);
	}
	if (rv == LEDGE_OK) {
		rv = store_meta_put_u64(b, "next_epoch", o->next_epoch);
	}
	if (rv == LEDGE_OK) {
		store_batch_commit(b);
	} else {
		store_batch_abort(b);
	}
}

struct delete_prefix {
	struct store_batch *b;
};

static int
del_one(void *arg, ledge_bytes key, ledge_bytes val)
{
	struct delete_prefix *d = arg;
	(void)val;
	store_batch_del(d->b, STORE_ORC_PLACE, key.data, key.len);
	return 0;
}

void
orc_forget_wf(struct orc *o, const char *name)
{
	struct store_batch *b;
	char prefix[300];
	int n = snprintf(prefix, sizeof prefix, "%s/", name);
	if (store_batch_begin(o->store, &b) != LEDGE_OK) {
		return;
	}
	struct delete_prefix d = { b };
	store_batch_del(b, STORE_ORC_WF, name, strlen(name));
	store_batch_scan(b, STORE_ORC_PLACE, prefix, (size_t)n, del_one, &d);
	store_batch_commit(b);
}

/* ------------------------------------------------------------------ */
/* nodes                                                               */

int
orc_node_client(struct orc *o, struct onode *n)
{
	char err[256];
	if (n->client != NULL &&
	    strcmp(msg_client_url(n->client), n->url) == 0) {
		return 0;
	}
	msg_client_free(n->client);
	n->client = NULL;
	if (msg_client_new(
	        o->loop, n->url, o->tls, &n->client, err, sizeof err) != 0) {
		rlog_write(o->log, RLOG_ERROR, "orchestrator", "node %s: %s",
		    n->name, err);
		return -1;
	}
	return 0;
}

unsigned
orc_parts_on(struct orc *o, const char *node)
{
	unsigned k = 0;
	for (struct owf *w = o->wfs; w != NULL; w = w->next) {
		for (size_t i = 0; i < w->nparts; i++) {
			if (w->place[i].node &&
			    strcmp(w->place[i].node, node) == 0) {
				k++;
			}
		}
	}
	return k;
}

/* ------------------------------------------------------------------ */
/* requests from nodes                                                 */

static void
set_strs(char ***dst, size_t *n, wire_v v, bool keys)
{
	size_t k = wire_len(v);
	char **out = calloc(k + 1, sizeof *out);
	if (out == NULL) {
		return;
	}
	for (size_t i = 0; i < k; i++) {
		out[i] = wire_str_dup(keys
		        ? wire_key_at(v, i)
		        : (wire_is_map(v) ? wire_val_at(v, i) : wire_at(v, i)));
		if (out[i] == NULL) {
			out[i] = strdup("");
		}
	}
	orc_free_strs(*dst, *n);
	*dst = out;
	*n = k;
}

/* Parts a returning node still runs that are now placed elsewhere. */
static size_t
fenced_parts(struct orc *o, struct onode *n, char ***out)
{
	size_t k = 0;
	*out = calloc(n->nrunning + 1, sizeof **out);
	for (size_t i = 0; *out && i < n->nrunning; i++) {
		const char *slash = strchr(n->running[i], '/');
		bool here = false;
		if (slash != NULL) {
			char wfn[256];
			snprintf(wfn, sizeof wfn, "%.*s",
			    (int)(slash - n->running[i]), n->running[i]);
			struct owf *w = orc_find_wf(o, wfn);
			for (size_t p = 0; w && p < w->nparts; p++) {
				here |= strcmp(orc_part_name(w, p),
				            slash + 1) == 0 &&
				    w->place[p].node &&
				    strcmp(w->place[p].node, n->name) == 0;
			}
		}
		if (!here) {
			(*out)[k++] = strdup(n->running[i]);
		}
	}
	return k;
}

static bool
runs_all(struct owf *w, struct onode *n)
{
	for (size_t i = 0; i < w->nparts; i++) {
		char full[512];
		if (!w->place[i].node ||
		    strcmp(w->place[i].node, n->name) != 0) {
			continue;
		}
		snprintf(
		    full, sizeof full, "%s/%s", w->name, orc_part_name(w, i));
		if (!orc_part_is_fn(w, i)) {
			continue; /* resources are not reported */
		}
		if (!orc_in_list(n->running, n->nrunning, full)) {
			return false;
		}
	}
	return orc_in_list(w->deployed_on, w->ndeployed, n->name) ||
	    w->wf->nfunctions > 0;
}

static void
handle_join(struct orc *o, struct msg_req *req, wire_v root)
{
	char *name = wire_str_dup(wire_get(root, "name"));
	uint64_t inc = wire_as_u64(wire_get(root, "incarnation"), 0);
	struct onode *n;
	bool fresh = false, changed = false;
	char **fenced = NULL;
	size_t nfenced = 0;
	struct wire_w m;

	if (name == NULL || !wire_ok(wire_get(root, "url"))) {
		orc_reply_err(req, "invalid", "join needs name and url");
		free(name);
		return;
	}
	if ((n = orc_find_node(o, name)) == NULL) {
		if ((n = calloc(1, sizeof *n)) == NULL) {
			orc_reply_err(req, "busy", "out of memory");
			free(name);
			return;
		}
		n->name = name;
		n->epoch = 1;
		n->next = o->nodes;
		o->nodes = n;
		fresh = true;
		rlog_write(o->log, RLOG_INFO, "orchestrator", "node %s joined",
		    n->name);
	} else {
		free(name);
	}
	set_strs(&n->running, &n->nrunning, wire_get(root, "running"), false);
	if (!fresh && n->health == H_LOST) {
		/* Back after being declared lost: a new epoch, and whatever it
		 * still runs that lives elsewhere now must stop. */
		n->epoch++;
		nfenced = fenced_parts(o, n, &fenced);
		changed = true;
		rlog_write(o->log, RLOG_INFO, "orchestrator",
		    "node %s is back (epoch %" PRIu64 "); %zu parts fenced",
		    n->name, n->epoch, nfenced);
		orc_free_strs(n->fence, n->nfence);
		n->fence = NULL;
		n->nfence = 0;
		if (nfenced > 0 &&
		    (n->fence = calloc(nfenced + 1, sizeof *n->fence)) !=
		        NULL) {
			for (size_t i = 0; i < nfenced; i++) {
				if ((n->fence[n->nfence] = strdup(fenced[i])) !=
				    NULL) {
					n->nfence++;
				}
			}
		}
	} else if (!fresh && n->incarnation != inc) {
		n->epoch++; /* its data folder is new */
		changed = true;
	}
	if (!fresh && n->health != H_LOST && n->nfence > 0) {
		/* Told to stop these when it came back; as long as it still
		 * reports them, it did not hear it (the reply was lost):
		 * again. */
		char **elsewhere = NULL; /* it runs, placed on another node */
		size_t keep = 0, nelse = fenced_parts(o, n, &elsewhere);
		fenced = calloc(n->nfence + 1, sizeof *fenced);
		for (size_t i = 0; i < n->nfence; i++) {
			if (fenced != NULL &&
			    orc_in_list(elsewhere, nelse, n->fence[i])) {
				fenced[nfenced++] = strdup(n->fence[i]);
				n->fence[keep++] = n->fence[i];
			} else {
				free(n->fence[i]);
			}
		}
		n->nfence = keep;
		orc_free_strs(elsewhere, nelse);
	}
	uint64_t boot = wire_as_u64(wire_get(root, "boot"), 0);
	if (n->draining && boot != 0 && n->boot != 0 && boot != n->boot) {
		/* Drained, then restarted (maintenance done): it takes
		 * work again. */
		n->draining = false;
		changed = true;
		rlog_write(o->log, RLOG_INFO, "orchestrator",
		    "node %s restarted: no longer draining", n->name);
	}
	if (boot != n->boot) {
		n->boot = boot;
		changed = true;
	}
	n->health = H_UP;
	n->incarnation = inc;
	n->last_seen = clock_mono_ms();
	free(n->url);
	n->url = wire_str_dup(wire_get(root, "url"));
	free(n->arch);
	n->arch = wire_str_dup(wire_get(root, "arch"));
	free(n->http);
	n->http = wire_str_dup(wire_get(root, "http"));
	n->cores = (int)wire_as_u64(wire_get(root, "cores"), 1);
	n->mem_mb = wire_as_u64(wire_get(root, "mem_mb"), 0);
	set_strs(&n->lk, &n->nlabels, wire_get(root, "labels"), true);
	{
		size_t nv = 0;
		char **vals = NULL;
		set_strs(&vals, &nv, wire_get(root, "labels"), false);
		orc_free_strs(n->lv, n->nlabels);
		n->lv = vals;
	}
	set_strs(&n->res, &n->nres, wire_get(root, "resources"), false);
	orc_node_client(o, n);
	if (fresh || changed) {
		orc_save_node(o, n);
	}
	if (wire_w_init(&m) == 0) {
		wire_map(&m, 3);
		wire_str(&m, "ok");
		wire_bool(&m, true);
		wire_str(&m, "epoch");
		wire_u64(&m, n->epoch);
		wire_str(&m, "fenced");
		wire_array(&m, nfenced);
		for (size_t i = 0; i < nfenced; i++) {
			wire_str(&m, fenced[i]);
		}
		orc_send_wire(req, &m);
	}
	orc_free_strs(fenced, nfenced);
	if (fresh || changed) {
		/* New capacity: pending parts may fit now. */
		orc_replace_all(o);
	}
	/* Make sure it runs what is placed on it (and nothing is restarted
	 * that still runs: a restarted orchestrator changes nothing). */
	for (struct owf *w = o->wfs; w != NULL; w = w->next) {
		bool mine = false;
		if (w->busy || w->adopted) {
			/* A move is under way: it deploys everything at its
			 * end (a part must not start here before its state
			 * has arrived).  An adopted workflow is deployed by
			 * its own process (ledge run). */
			continue;
		}
		for (size_t i = 0; i < w->nparts; i++) {
			mine |= w->place[i].node &&
			    strcmp(w->place[i].node, n->name) == 0;
		}
		if (mine && (changed || !runs_all(w, n))) {
			orc_deploy_wf(o, w, n->name, NULL, NULL);
		}
	}
}

static void
on_published(void *arg, const void *data, size_t len)
{
	struct orc *o = arg;
	struct wire_r r;
	wire_v root;
	struct onode *n;
	char *name;

	if (wire_parse(&r, data, len) != 0) {
		return;
	}
	root = wire_root(&r);
	name = wire_str_dup(wire_get(root, "name"));
	n = name ? orc_find_node(o, name) : NULL;
	free(name);
	if (n == NULL) {
		wire_r_fini(&r);
		return;
	}
	if (wire_str_eq(wire_get(root, "t"), "hb")) {
		/* A lost node must join again before it counts as up. */
		if (n->health == H_UP &&
		    wire_as_u64(wire_get(root, "epoch"), 0) == n->epoch) {
			wire_v inst = wire_get(root, "instances");
			n->last_seen = clock_mono_ms();
			n->last_hb_wall = wire_as_u64(wire_get(root, "ms"), 0);
			n->store_bytes =
			    wire_as_u64(wire_get(root, "store_bytes"), 0);
			free_stats(n);
			n->stats = calloc(wire_len(inst) + 1, sizeof *n->stats);
			for (size_t i = 0; n->stats && i < wire_len(inst);
			     i++) {
				wire_v s = wire_at(inst, i);
				n->stats[i].part =
				    wire_str_dup(wire_get(s, "part"));
				if (n->stats[i].part == NULL) {
					n->stats[i].part = strdup("");
				}
				n->stats[i].events =
				    wire_as_u64(wire_get(s, "events"), 0);
				n->stats[i].errors =
				    wire_as_u64(wire_get(s, "errors"), 0);
				n->stats[i].emitted =
				    wire_as_u64(wire_get(s, "emitted"), 0);
				n->stats[i].mailbox =
				    wire_as_u64(wire_get(s, "mailbox"), 0);
				n->stats[i].state_bytes =
				    wire_as_u64(wire_get(s, "state_bytes"), 0);
				n->nstats = i + 1;
			}
		}
	} else if (wire_str_eq(wire_get(root, "t"), "log") && o->logs) {
		struct log_line *l = &o->logs[++o->log_seq % ORC_LOG_RING];
		free(l->node);
		free(l->wf);
		free(l->who);
		free(l->line);
		l->seq = o->log_seq;
		l->ms = wire_as_u64(wire_get(root, "ms"), 0);
		l->level = (int)wire_as_u64(wire_get(root, "level"), 2);
		l->node = strdup(n->name);
		l->wf = wire_str_dup(wire_get(root, "wf"));
		l->who = wire_str_dup(wire_get(root, "who"));
		l->line = wire_str_dup(wire_get(root, "line"));
		if (!l->wf) {
			l->wf = strdup("");
		}
	}
	wire_r_fini(&r);
}

/* ------------------------------------------------------------------ */
/* failure detection                                                   */

/* Tell every node that is up to refuse what `lost` sends until it has
 * joined again (with a newer epoch). */
static void
fence_node(struct orc *o, struct onode *lost)
{
	struct wire_w m;
	const void *data;
	size_t len;
	if (wire_w_init(&m) != 0) {
		return;
	}
	wire_map(&m, 3);
	wire_str(&m, "t");
	wire_str(&m, "fence.node");
	wire_str(&m, "node");
	wire_str(&m, lost->name);
	wire_str(&m, "min_epoch");
	wire_u64(&m, lost->epoch + 1);
	if ((data = wire_data(&m, &len)) != NULL) {
		for (struct onode *n = o->nodes; n != NULL; n = n->next) {
			if (n != lost && n->health == H_UP &&
			    orc_node_client(o, n) == 0) {
				msg_call(n->client, data, len,
				    ORC_DEPLOY_TIMEOUT_MS, NULL, NULL);
			}
		}
	}
	wire_w_fini(&m);
}

static void
on_tick(void *arg)
{
	struct orc *o = arg;
	uint64_t now = clock_mono_ms();
	bool lost = false;
	loop_timer_start(o->tick, TICK_MS);
	for (struct onode *n = o->nodes; n != NULL; n = n->next) {
		if (n->health == H_UP && n->last_seen != 0 &&
		    now - n->last_seen > o->node_timeout_ms) {
			n->health = H_LOST;
			lost = true;
			free_stats(n);
			rlog_write(o->log, RLOG_WARN, "orchestrator",
			    "node %s lost: no heartbeat for %" PRIu64 " ms; "
			    "placing its parts elsewhere",
			    n->name, now - n->last_seen);
			fence_node(o, n);
		}
	}
	if (!lost && o->replace_wanted) {
		bool busy = false;
		for (struct owf *w = o->wfs; w != NULL; w = w->next) {
			busy |= w->busy;
		}
		if (!busy) {
			o->replace_wanted = false;
			lost = true;
		}
	}
	if (lost) {
		orc_replace_all(o);
	}
}

/* ------------------------------------------------------------------ */
/* dispatch, start, stop                                               */

static void
on_request(void *arg, struct msg_req *req)
{
	struct orc *o = arg;
	struct wire_r r;
	size_t len;
	const void *data = msg_req_data(req, &len);
	wire_v root, t;

	if (wire_parse(&r, data, len) != 0) {
		orc_reply_err(req, "invalid", "malformed message");
		return;
	}
	root = wire_root(&r);
	t = wire_get(root, "t");
	if (wire_str_eq(t, "join")) {
		handle_join(o, req, root);
	} else if (wire_str_eq(t, "code.get")) {
		orc_handle_code_get(o, req, root);
	} else if (wire_str_eq(t, "code.put")) {
		orc_handle_code_put(o, req, root);
	} else if (wire_str_eq(t, "wf.start")) {
		orc_handle_wf_start(o, req, root);
	} else if (wire_str_eq(t, "wf.stop")) {
		orc_handle_wf_stop(o, req, root);
	} else if (wire_str_eq(t, "wf.list")) {
		orc_handle_wf_list(o, req);
	} else if (wire_str_eq(t, "wf.show")) {
		orc_handle_wf_show(o, req, root);
	} else if (wire_str_eq(t, "node.list")) {
		orc_handle_node_list(o, req);
	} else if (wire_str_eq(t, "invoke")) {
		orc_handle_relay(o, req, root, "target");
	} else if (wire_str_eq(t, "state.get")) {
		orc_handle_relay(o, req, root, "fn");
	} else if (wire_str_eq(t, "logs")) {
		orc_handle_logs(o, req, root);
	} else if (wire_str_eq(t, "fn.move")) {
		orc_handle_fn_move(o, req, root);
	} else if (wire_str_eq(t, "node.drain")) {
		orc_handle_node_drain(o, req, root);
	} else if (wire_str_eq(t, "fn.reload")) {
		orc_handle_fn_reload(o, req, root);
	} else {
		orc_reply_err(req, "invalid", "unknown request type");
	}
	wire_r_fini(&r);
}

static int
load_node(void *arg, ledge_bytes key, ledge_bytes val)
{
	struct orc *o = arg;
	struct wire_r r;
	struct onode *n = calloc(1, sizeof *n);
	if (n == NULL || wire_parse(&r, val.data, val.len) != 0) {
		free(n);
		return 0;
	}
	wire_v root = wire_root(&r);
	n->name = strndup(key.data, key.len);
	n->url = wire_str_dup(wire_get(root, "url"));
	n->arch = wire_str_dup(wire_get(root, "arch"));
	n->http = wire_str_dup(wire_get(root, "http"));
	n->cores = (int)wire_as_u64(wire_get(root, "cores"), 1);
	n->mem_mb = wire_as_u64(wire_get(root, "mem_mb"), 0);
	n->incarnation = wire_as_u64(wire_get(root, "incarnation"), 0);
	n->epoch = wire_as_u64(wire_get(root, "epoch"), 1);
	n->draining = wire_as_bool(wire_get(root, "draining"), false);
	n->boot = wire_as_u64(wire_get(root, "boot"), 0);
	set_strs(&n->lk, &n->nlabels, wire_get(root, "labels"), true);
	size_t nv = 0;
	set_strs(&n->lv, &nv, wire_get(root, "labels"), false);
	set_strs(&n->res, &n->nres, wire_get(root, "resources"), false);
	/* Up until its heartbeats say otherwise: give it a full timeout
	 * from now to be heard from. */
	n->health = H_UP;
	n->last_seen = clock_mono_ms();
	n->next = o->nodes;
	o->nodes = n;
	wire_r_fini(&r);
	return 0;
}

static int
load_wf(void *arg, ledge_bytes key, ledge_bytes val)
{
	struct orc *o = arg;
	struct wire_r r;
	const char *yaml;
	size_t ylen;
	struct diag d;
	struct owf *w;
	char name[256];

	if (key.len >= sizeof name || wire_parse(&r, val.data, val.len) != 0) {
		return 0;
	}
	memcpy(name, key.data, key.len);
	name[key.len] = '\0';
	wire_v root = wire_root(&r);
	char *file = wire_str_dup(wire_get(root, "file"));
	diag_init(&d);
	if (file && wire_as_str(wire_get(root, "yaml"), &yaml, &ylen) &&
	    (w = orc_make_owf(
	         name, file, yaml, ylen, wire_get(root, "code"), &d)) != NULL) {
		w->adopted = wire_as_bool(wire_get(root, "adopted"), false);
		w->next = o->wfs;
		o->wfs = w;
	} else {
		rlog_write(o->log, RLOG_ERROR, "orchestrator",
		    "workflow %s in the store cannot be read again", name);
	}
	diag_fini(&d);
	free(file);
	wire_r_fini(&r);
	return 0;
}

static int
load_place(void *arg, ledge_bytes key, ledge_bytes val)
{
	struct orc *o = arg;
	struct wire_r r;
	char full[512];
	char *slash;
	struct owf *w;

	if (key.len >= sizeof full || wire_parse(&r, val.data, val.len) != 0) {
		return 0;
	}
	memcpy(full, key.data, key.len);
	full[key.len] = '\0';
	if ((slash = strchr(full, '/')) != NULL) {
		*slash = '\0';
		w = orc_find_wf(o, full);
		for (size_t i = 0; w && i < w->nparts; i++) {
			if (strcmp(orc_part_name(w, i), slash + 1) == 0) {
				struct oplace *p = &w->place[i];
				wire_v root = wire_root(&r);
				p->node = wire_str_dup(wire_get(root, "node"));
				p->epoch =
				    wire_as_u64(wire_get(root, "epoch"), 0);
				set_strs(&p->rep, &p->nrep,
				    wire_get(root, "replicas"), false);
				if (p->node) {
					size_t k = w->ndeployed;
					if (!orc_in_list(
					        w->deployed_on, k, p->node)) {
						char **g =
						    realloc(w->deployed_on,
						        (k + 2) * sizeof *g);
						if (g) {
							g[k] = strdup(p->node);
							w->deployed_on = g;
							w->ndeployed = k + 1;
						}
					}
				}
			}
		}
	}
	wire_r_fini(&r);
	return 0;
}

int
orc_start(struct orc **op, struct loop *l, struct store *store,
    struct rlog *log, const struct orc_opts *opts, char *err, size_t errlen)
{
	struct orc *o = calloc(1, sizeof *o);
	char puburl[1024];

	if (o == NULL ||
	    (o->logs = calloc(ORC_LOG_RING, sizeof *o->logs)) == NULL) {
		free(o);
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	o->loop = l;
	o->store = store;
	o->log = log;
	o->tls = opts->tls;
	o->node_timeout_ms =
	    opts->node_timeout_ms ? opts->node_timeout_ms : NODE_TIMEOUT_MS;
	o->next_epoch = store_meta_get_u64(store, "next_epoch");
	if (o->next_epoch == 0) {
		o->next_epoch = 1;
	}
	store_scan(store, STORE_ORC_NODE, load_node, o);
	store_scan(store, STORE_ORC_WF, load_wf, o);
	store_scan(store, STORE_ORC_PLACE, load_place, o);
	for (struct onode *n = o->nodes; n != NULL; n = n->next) {
		orc_node_client(o, n);
	}
	if (msg_pub_url(opts->listen, puburl, sizeof puburl) != 0) {
		snprintf(err, errlen,
		    "cannot derive the heartbeat address of %s (use tcp://, "
		    "tls+tcp://, ipc:// or inproc://)",
		    opts->listen);
		orc_free(o);
		return -1;
	}
	if (msg_server_new(l, opts->listen, opts->tls, on_request, o,
	        &o->server, err, errlen) != 0 ||
	    msg_sub_new(l, puburl, opts->tls, on_published, o, &o->sub, err,
	        errlen) != 0 ||
	    (o->tick = loop_timer_new(l, on_tick, o)) == NULL) {
		orc_free(o);
		return -1;
	}
	loop_timer_start(o->tick, TICK_MS);
	size_t nwf = 0, nnodes = 0;
	for (struct owf *w = o->wfs; w; w = w->next) {
		nwf++;
	}
	for (struct onode *n = o->nodes; n; n = n->next) {
		nnodes++;
	}
	rlog_write(log, RLOG_INFO, "orchestrator",
	    "listening on %s (heartbeats on %s); %zu workflows and %zu nodes "
	    "from the store; node timeout %u ms",
	    opts->listen, puburl, nwf, nnodes, o->node_timeout_ms);
	*op = o;
	return 0;
}

void
orc_free(struct orc *o)
{
	if (o == NULL) {
		return;
	}
	loop_timer_free(o->tick);
	msg_server_free(o->server);
	msg_sub_free(o->sub);
	while (o->nodes != NULL) {
		struct onode *n = o->nodes;
		o->nodes = n->next;
		free_onode(n);
	}
	while (o->wfs != NULL) {
		struct owf *w = o->wfs;
		o->wfs = w->next;
		orc_free_owf(w);
	}
	for (size_t i = 0; o->logs && i < ORC_LOG_RING; i++) {
		free(o->logs[i].node);
		free(o->logs[i].wf);
		free(o->logs[i].who);
		free(o->logs[i].line);
	}
	free(o->logs);
	free(o);
}

int
orc_metrics(struct orc *o, char **out, size_t *len)
{
	FILE *fp = open_memstream(out, len);
	uint64_t now = clock_mono_ms();
	if (fp == NULL) {
		return LEDGE_ENOMEM;
	}
	fprintf(fp,
	    "# HELP ledge_node_up 1 if the node is up, 0 if lost.\n"
	    "# TYPE ledge_node_up gauge\n");
	for (struct onode *n = o->nodes; n; n = n->next) {
		fprintf(fp, "ledge_node_up{node=\"%s\"} %d\n", n->name,
		    n->health == H_UP);
	}
	fprintf(fp,
	    "# HELP ledge_node_heartbeat_age_seconds Time since the "
	    "node was last heard from.\n"
	    "# TYPE ledge_node_heartbeat_age_seconds gauge\n");
	for (struct onode *n = o->nodes; n; n = n->next) {
		fprintf(fp,
		    "ledge_node_heartbeat_age_seconds{node=\"%s\"} %.3f\n",
		    n->name,
		    n->last_seen ? (double)(now - n->last_seen) / 1e3 : -1);
	}
	fprintf(fp,
	    "# HELP ledge_parts Parts of workflows by state.\n"
	    "# TYPE ledge_parts gauge\n");
	size_t placed = 0, pending = 0;
	for (struct owf *w = o->wfs; w; w = w->next) {
		for (size_t i = 0; i < w->nparts; i++) {
			placed += w->place[i].node != NULL;
			pending += w->place[i].node == NULL;
		}
	}
	fprintf(fp, "ledge_parts{state=\"placed\"} %zu\n", placed);
	fprintf(fp, "ledge_parts{state=\"pending\"} %zu\n", pending);
	return fclose(fp) == 0 ? LEDGE_OK : LEDGE_ENOMEM;
}
