/*
 * orc_store.c - the orchestrator's desired state in its store
 * (orc_store.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ledge.h>

#include "base/clock.h"
#include "base/diag.h"
#include "base/rlog.h"
#include "net/msg.h"
#include "net/wire.h"
#include "orc/orc_model.h"
#include "orc/orc_store.h"
#include "store/store.h"
#include "workflow/workflow.h"

/* ------------------------------------------------------------------ */
/* writing                                                             */

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
orc_store_save_node(struct orc *o, struct onode *n)
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
orc_store_save_wf(struct orc *o, struct owf *w)
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
		wire_map(&wr, 5);
		wire_str(&wr, "node");
		wire_str(&wr, p->node);
		wire_str(&wr, "epoch");
		wire_u64(&wr, p->epoch);
		wire_str(&wr, "replicas");
		wire_array(&wr, p->nrep);
		for (size_t k = 0; k < p->nrep; k++) {
			wire_str(&wr, p->rep[k]);
		}
		/* The in-sync set (orc_model.h): a restarted orchestrator
		 * fails over only to replicas that hold every write. */
		wire_str(&wr, "isr_epoch");
		wire_u64(&wr, p->isr.epoch);
		wire_str(&wr, "isr");
		wire_array(&wr, p->isr.n);
		for (size_t k = 0; k < p->isr.n; k++) {
			wire_map(&wr, 3);
			wire_str(&wr, "node");
			wire_str(&wr, p->isr.e[k].node);
			wire_str(&wr, "in");
			wire_bool(&wr, p->isr.e[k].in);
			wire_str(&wr, "gen");
			wire_u64(&wr, p->isr.e[k].gen);
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

/* The in-sync set of a place record (saved above); what does not parse
 * is left out (not in sync). */
static void
load_isr(struct oplace *p, wire_v root)
{
	wire_v isr = wire_get(root, "isr");
	uint64_t epoch = wire_as_u64(wire_get(root, "isr_epoch"), 0);
	if (epoch != p->epoch) {
		return;
	}
	for (size_t k = 0; k < wire_len(isr); k++) {
		wire_v e = wire_at(isr, k);
		char *node = wire_str_dup(wire_get(e, "node"));
		struct oisr_ent *g = node ? orc_isr_entry(p, node) : NULL;
		if (g != NULL) {
			g->in = wire_as_bool(wire_get(e, "in"), false);
			g->gen = wire_as_u64(wire_get(e, "gen"), 0);
		}
		free(node);
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
orc_store_forget_wf(struct orc *o, const char *name)
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
/* code                                                                */

bool
orc_store_has_code(struct orc *o, const char *hash)
{
	struct store_reader *r;
	ledge_bytes v;
	bool have = false;
	if (store_reader_open(o->store, &r) != LEDGE_OK) {
		return false;
	}
	if (store_reader_begin(r) == LEDGE_OK) {
		have = store_get(r, STORE_ORC_CODE, hash, strlen(hash), &v) ==
		    LEDGE_OK;
		store_reader_end(r);
	}
	store_reader_close(r);
	return have;
}

/* Keep code `bytes` under their SHA-256 `hex` (once). */
int
orc_store_put_code(struct orc *o, const char *hex, const void *bytes, size_t n)
{
	struct store_batch *b;
	int rv;
	if (orc_store_has_code(o, hex)) {
		return LEDGE_OK;
	}
	if ((rv = store_batch_begin(o->store, &b)) != LEDGE_OK) {
		return rv;
	}
	if ((rv = store_batch_put(b, STORE_ORC_CODE, hex, 64, bytes, n)) !=
	    LEDGE_OK) {
		store_batch_abort(b);
		return rv;
	}
	return store_batch_commit(b);
}

/* A code's signature is kept beside it, under "<hash>.sig". */
static size_t
sig_key(char key[80], const char *hash)
{
	return (size_t)snprintf(key, 80, "%.64s.sig", hash);
}

int
orc_store_put_sig(struct orc *o, const char *hex, const char *sig, size_t n)
{
	struct store_batch *b;
	char key[80];
	size_t klen = sig_key(key, hex);
	int rv;
	if ((rv = store_batch_begin(o->store, &b)) != LEDGE_OK) {
		return rv;
	}
	if ((rv = store_batch_put(b, STORE_ORC_CODE, key, klen, sig, n)) !=
	    LEDGE_OK) {
		store_batch_abort(b);
		return rv;
	}
	return store_batch_commit(b);
}

char *
orc_store_get_sig(struct orc *o, const char *hash, size_t *n)
{
	struct store_reader *r;
	ledge_bytes v;
	char key[80];
	size_t klen = sig_key(key, hash);
	char *sig = NULL;
	if (store_reader_open(o->store, &r) != LEDGE_OK) {
		return NULL;
	}
	if (store_reader_begin(r) == LEDGE_OK) {
		if (store_get(r, STORE_ORC_CODE, key, klen, &v) == LEDGE_OK &&
		    v.len > 0 && (sig = malloc(v.len + 1)) != NULL) {
			memcpy(sig, v.data, v.len);
			sig[v.len] = '\0';
			*n = v.len;
		}
		store_reader_end(r);
	}
	store_reader_close(r);
	return sig;
}

int
orc_store_read_code(struct orc *o, const char *hash,
    void (*fn)(void *arg, const void *bytes, size_t len), void *arg)
{
	struct store_reader *r;
	ledge_bytes v;
	if (store_reader_open(o->store, &r) != LEDGE_OK) {
		return LEDGE_ESTORE;
	}
	if (store_reader_begin(r) != LEDGE_OK ||
	    store_get(r, STORE_ORC_CODE, hash, strlen(hash), &v) != LEDGE_OK) {
		store_reader_end(r);
		store_reader_close(r);
		return LEDGE_ENOENT;
	}
	fn(arg, v.data, v.len);
	store_reader_end(r);
	store_reader_close(r);
	return LEDGE_OK;
}

/* ------------------------------------------------------------------ */
/* loading                                                             */

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
	orc_set_strs(&n->lk, &n->nlabels, wire_get(root, "labels"), true);
	size_t nv = 0;
	orc_set_strs(&n->lv, &nv, wire_get(root, "labels"), false);
	orc_set_strs(&n->res, &n->nres, wire_get(root, "resources"), false);
	/* Up until its heartbeats say otherwise: give it a full timeout
	 * from now to be heard from, and the time its connection takes to
	 * come back to this new process (a node redials with backoff). */
	n->health = H_UP;
	n->last_seen = clock_mono_ms();
	n->grace_until = n->last_seen + o->node_timeout_ms + MSG_REDIAL_MAX_MS;
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
				orc_set_strs(&p->rep, &p->nrep,
				    wire_get(root, "replicas"), false);
				load_isr(p, root);
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

void
orc_store_load(struct orc *o)
{
	o->next_epoch = store_meta_get_u64(o->store, "next_epoch");
	if (o->next_epoch == 0) {
		o->next_epoch = 1;
	}
	/* Deploy numbers go on from above every number an earlier process
	 * could have used, whatever the clock says (nodes compare them:
	 * orc_isr.c, a deploy overtaken by a later one): this process takes
	 * the next block of 2^40. */
	{
		struct store_batch *b;
		uint64_t base = store_meta_get_u64(o->store, "deploy_base");
		o->deploy_gen = base;
		if (store_batch_begin(o->store, &b) == LEDGE_OK) {
			if (store_meta_put_u64(b, "deploy_base",
			        base + ((uint64_t)1 << 40)) == LEDGE_OK) {
				store_batch_commit(b);
			} else {
				store_batch_abort(b);
			}
		}
	}
	store_scan(o->store, STORE_ORC_NODE, load_node, o);
	store_scan(o->store, STORE_ORC_WF, load_wf, o);
	store_scan(o->store, STORE_ORC_PLACE, load_place, o);
}
