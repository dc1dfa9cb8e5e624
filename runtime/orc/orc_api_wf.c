/*
 * orc_api_wf.c - the requests on workflows: wf.start, wf.stop, wf.list,
 * wf.show (docs/protocol.md; orc_api.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/diag.h"
#include "base/rlog.h"
#include "net/msg.h"
#include "net/msg_token.h"
#include "net/reply.h"
#include "net/wire.h"
#include "orc/orc_api.h"
#include "orc/orc_deploy.h"
#include "orc/orc_model.h"
#include "orc/orc_store.h"
#include "workflow/workflow.h"

/* Whether a and b have the same text and the same code. */
static bool
same_wf(const struct owf *a, const struct owf *b)
{
	if (strcmp(a->yaml, b->yaml) != 0 || strcmp(a->file, b->file) != 0) {
		return false;
	}
	/* b is new: a's per-function reloads (@fn:) make them differ. */
	if (a->ncode != b->ncode) {
		return false;
	}
	for (size_t i = 0; i < a->ncode; i++) {
		size_t k = 0;
		while (k < b->ncode && strcmp(a->ck[i], b->ck[k]) != 0) {
			k++;
		}
		if (k == b->ncode || strcmp(a->cv[i], b->cv[k]) != 0) {
			return false;
		}
	}
	return true;
}

static void
write_placed(struct wire_w *m, struct owf *w)
{
	size_t np = 0, npend = 0;
	for (size_t i = 0; i < w->nparts; i++) {
		if (w->place[i].node) {
			np++;
		} else {
			npend++;
		}
	}
	wire_str(m, "placed");
	wire_array(m, np);
	for (size_t i = 0; i < w->nparts; i++) {
		if (!w->place[i].node) {
			continue;
		}
		wire_map(m, 5);
		wire_str(m, "part");
		wire_str(m, orc_part_name(w, i));
		wire_str(m, "kind");
		wire_str(m, orc_part_is_fn(w, i) ? "function" : "resource");
		wire_str(m, "type");
		wire_str(m,
		    orc_part_is_fn(w, i)
		        ? "function"
		        : w->wf->resources[i - w->wf->nfunctions].type);
		wire_str(m, "node");
		wire_str(m, w->place[i].node);
		wire_str(m, "epoch");
		wire_u64(m, w->place[i].epoch);
	}
	wire_str(m, "pending");
	wire_array(m, npend);
	for (size_t i = 0; i < w->nparts; i++) {
		if (w->place[i].node) {
			continue;
		}
		wire_map(m, 2);
		wire_str(m, "part");
		wire_str(m, orc_part_name(w, i));
		wire_str(m, "why");
		wire_str(m, w->place[i].why ? w->place[i].why : "not placed");
	}
}

static void
reply_placed(struct deploy_op *d)
{
	struct owf *w = orc_find_wf(d->o, d->wf);
	struct wire_w m;
	if (d->req == NULL) {
		return;
	}
	if (w == NULL || wire_w_init(&m) != 0) {
		reply_err(d->req, REPLY_BUSY, "the workflow went away");
		return;
	}
	wire_map(&m, d->errors[0] ? 5 : 4);
	wire_str(&m, "ok");
	wire_bool(&m, true);
	wire_str(&m, "new");
	wire_bool(&m, !w->replaced);
	write_placed(&m, w);
	if (d->errors[0]) {
		wire_str(&m, "warning");
		wire_str(&m, d->errors);
	}
	reply_wire(d->req, &m);
}

/* A refusal with every message of d (file:line:col: ...). */
static void
reply_diag(struct msg_req *req, const struct diag *d, const char *none)
{
	struct wire_w m;
	size_t shown = d->count < d->cap ? d->count : d->cap;
	if (wire_w_init(&m) == 0) {
		wire_map(&m, 4);
		wire_str(&m, "ok");
		wire_bool(&m, false);
		wire_str(&m, "code");
		wire_str(&m, REPLY_INVALID);
		wire_str(&m, "error");
		wire_str(&m, shown ? d->items[0].text : none);
		wire_str(&m, "errors");
		wire_array(&m, shown);
		for (size_t i = 0; i < shown; i++) {
			wire_str(&m, d->items[i].text);
		}
		reply_wire(req, &m);
	}
}

static void
wf_start(void *ctx, struct msg_req *req, wire_v root)
{
	struct orc *o = ctx;
	const char *yaml;
	size_t ylen;
	char *name = wire_str_dup(wire_get(root, "name"));
	char *file = wire_str_dup(wire_get(root, "file"));
	wire_v code = wire_get(root, "code");
	struct owf *w, *old;
	struct diag d;
	size_t nneed = 0;

	if (!wire_as_str(wire_get(root, "yaml"), &yaml, &ylen) || !file) {
		reply_err(
		    req, REPLY_INVALID, "wf.start needs name, file and yaml");
		free(name);
		free(file);
		return;
	}
	for (size_t i = 0; i < wire_len(code); i++) {
		char *h = wire_str_dup(wire_val_at(code, i));
		nneed += h == NULL || !orc_store_has_code(o, h);
		free(h);
	}
	if (nneed > 0) {
		struct wire_w m;
		if (wire_w_init(&m) == 0) {
			wire_map(&m, 4);
			wire_str(&m, "ok");
			wire_bool(&m, false);
			wire_str(&m, "code");
			wire_str(&m, REPLY_NEED_CODE);
			wire_str(&m, "error");
			wire_str(&m, "the orchestrator needs the code first");
			wire_str(&m, "need");
			wire_array(&m, nneed);
			for (size_t i = 0; i < wire_len(code); i++) {
				char *h = wire_str_dup(wire_val_at(code, i));
				if (h == NULL || !orc_store_has_code(o, h)) {
					wire_str(&m, h ? h : "");
				}
				free(h);
			}
			reply_wire(req, &m);
		}
		free(name);
		free(file);
		return;
	}
	diag_init(&d);
	w = orc_make_owf(name ? name : "", file, yaml, ylen, code, &d);
	if (w != NULL &&
	    orc_code_check_signed(o, w, wire_get(root, "sigs"), &d) > 0) {
		rlog_write(o->log, RLOG_WARN, "orchestrator",
		    "workflow %s refused: %s", w->wf->name,
		    d.cap > 0 && d.items != NULL
		        ? d.items[0].text
		        : "code not signed by a trusted key");
		orc_free_owf(w);
		w = NULL;
	}
	if (w == NULL) {
		reply_diag(req, &d, "invalid workflow");
		diag_fini(&d);
		free(name);
		free(file);
		return;
	}
	diag_fini(&d);
	free(name);
	free(file);
	/* The same text and code again: nothing to do. */
	if ((old = orc_find_wf(o, w->wf->name)) != NULL && same_wf(old, w) &&
	    !old->busy) {
		struct wire_w m;
		orc_free_owf(w);
		if (wire_w_init(&m) == 0) {
			wire_map(&m, 5);
			wire_str(&m, "ok");
			wire_bool(&m, true);
			wire_str(&m, "new");
			wire_bool(&m, false);
			wire_str(&m, "unchanged");
			wire_bool(&m, true);
			write_placed(&m, old);
			reply_wire(req, &m);
		}
		return;
	}
	/* Replacing a running workflow keeps its parts where they are. */
	if (old != NULL) {
		w->replaced = true;
		free(w->name);
		w->name = strdup(w->wf->name);
		for (size_t i = 0; i < w->nparts; i++) {
			for (size_t k = 0; k < old->nparts; k++) {
				if (strcmp(orc_part_name(w, i),
				        orc_part_name(old, k)) == 0 &&
				    orc_part_is_fn(w, i) ==
				        orc_part_is_fn(old, k)) {
					w->place[i] = old->place[k];
					memset(&old->place[k], 0,
					    sizeof old->place[k]);
				}
			}
		}
		w->deployed_on = old->deployed_on;
		w->ndeployed = old->ndeployed;
		old->deployed_on = NULL;
		old->ndeployed = 0;
		orc_unlink_wf(o, old);
		orc_free_owf(old);
	} else {
		free(w->name);
		w->name = strdup(w->wf->name);
	}
	w->next = o->wfs;
	o->wfs = w;
	orc_deploy_place(o, w);
	orc_store_save_wf(o, w);
	rlog_write(
	    o->log, RLOG_INFO, "orchestrator", "workflow %s started", w->name);
	orc_deploy_wf(o, w, NULL, req, reply_placed, NULL);
}

static void
stopped(struct deploy_op *d)
{
	if (d->req) {
		reply_ok(d->req);
	}
}

static void
wf_stop(void *ctx, struct msg_req *req, wire_v root)
{
	struct orc *o = ctx;
	char *name = wire_str_dup(wire_get(root, "name"));
	struct owf *w = name ? orc_find_wf(o, name) : NULL;
	if (w == NULL) {
		reply_err(req, REPLY_NOT_FOUND,
		    "no workflow '%s' in the domain", name ? name : "");
		free(name);
		return;
	}
	free(name);
	orc_unlink_wf(o, w);
	orc_store_forget_wf(o, w->name);
	/* No parts: every node it was on gets an undeploy. */
	for (size_t i = 0; i < w->nparts; i++) {
		orc_free_place(&w->place[i]);
	}
	w->next = o->wfs; /* briefly listed, so orc_deploy_wf can find it */
	o->wfs = w;
	orc_deploy_wf(o, w, NULL, req, stopped, NULL);
	o->wfs = w->next;
	rlog_write(
	    o->log, RLOG_INFO, "orchestrator", "workflow %s stopped", w->name);
	orc_free_owf(w);
}

static void
wf_list(void *ctx, struct msg_req *req, wire_v root)
{
	struct orc *o = ctx;
	(void)root;
	struct wire_w m;
	size_t n = 0;
	for (struct owf *w = o->wfs; w != NULL; w = w->next) {
		n++;
	}
	if (wire_w_init(&m) != 0) {
		reply_err(req, REPLY_BUSY, "out of memory");
		return;
	}
	wire_map(&m, 2);
	wire_str(&m, "ok");
	wire_bool(&m, true);
	wire_str(&m, "workflows");
	wire_array(&m, n);
	for (struct owf *w = o->wfs; w != NULL; w = w->next) {
		size_t placed = 0;
		for (size_t i = 0; i < w->nparts; i++) {
			placed += w->place[i].node != NULL;
		}
		wire_map(&m, 5);
		wire_str(&m, "name");
		wire_str(&m, w->name);
		wire_str(&m, "functions");
		wire_u64(&m, w->wf->nfunctions);
		wire_str(&m, "resources");
		wire_u64(&m, w->wf->nresources);
		wire_str(&m, "placed");
		wire_u64(&m, placed);
		wire_str(&m, "pending");
		wire_u64(&m, w->nparts - placed);
	}
	reply_wire(req, &m);
}

static const struct part_stat *
stat_of(struct orc *o, const char *node, const char *part)
{
	struct onode *n = node ? orc_find_node(o, node) : NULL;
	for (size_t i = 0; n && i < n->nstats; i++) {
		if (strcmp(n->stats[i].part, part) == 0) {
			return &n->stats[i];
		}
	}
	return NULL;
}

/*
 * The `keyed` rows of wf.show: per keyed function and node, its slots
 * there and their keys summed (a function split into slots has a part
 * per slot; people ask about the function).  With m NULL, only counts
 * the rows.
 */
static size_t
keyed_rows(struct orc *o, const struct owf *w, struct wire_w *m)
{
	size_t rows = 0;

	for (size_t i = 0; i < w->wf->nfunctions; i++) {
		const struct wf_function *f = &w->wf->functions[i];
		size_t ns = f->nslots > 0 ? f->nslots : 1;
		if (!f->keyed || f->slot != 0 || i + ns > w->wf->nfunctions) {
			continue;
		}
		for (size_t a = i; a < i + ns; a++) {
			const char *node = w->place[a].node;
			bool first = node != NULL;
			for (size_t b = i; first && b < a; b++) {
				first = w->place[b].node == NULL ||
				    strcmp(w->place[b].node, node) != 0;
			}
			if (!first) {
				continue; /* the row of an earlier slot */
			}
			rows++;
			if (m == NULL) {
				continue;
			}
			uint64_t slots = 0, act = 0, sto = 0, on = 0, off = 0;
			for (size_t b = a; b < i + ns; b++) {
				const char *nb = w->place[b].node;
				if (nb == NULL || strcmp(nb, node) != 0) {
					continue;
				}
				char full[512];
				snprintf(full, sizeof full, "%s/%s", w->name,
				    orc_part_name(w, b));
				const struct part_stat *st =
				    stat_of(o, node, full);
				slots++;
				if (st != NULL && st->keyed) {
					act += st->keys_active;
					sto += st->keys_stored;
					on += st->key_activations;
					off += st->key_passivations;
				}
			}
			wire_map(m, 7);
			wire_str(m, "function");
			wire_str(m, wf_function_name(f));
			wire_str(m, "node");
			wire_str(m, node);
			wire_str(m, "slots");
			wire_u64(m, slots);
			wire_str(m, "keys_active");
			wire_u64(m, act);
			wire_str(m, "keys_stored");
			wire_u64(m, sto);
			wire_str(m, "key_activations");
			wire_u64(m, on);
			wire_str(m, "key_passivations");
			wire_u64(m, off);
		}
	}
	return rows;
}

static void
wf_show(void *ctx, struct msg_req *req, wire_v root)
{
	struct orc *o = ctx;
	char *name = wire_str_dup(wire_get(root, "name"));
	struct owf *w = name ? orc_find_wf(o, name) : NULL;
	struct wire_w m;
	size_t npend = 0;

	if (w == NULL) {
		reply_err(req, REPLY_NOT_FOUND,
		    "no workflow '%s' in the domain", name ? name : "");
		free(name);
		return;
	}
	free(name);
	if (wire_w_init(&m) != 0) {
		reply_err(req, REPLY_BUSY, "out of memory");
		return;
	}
	for (size_t i = 0; i < w->nparts; i++) {
		npend += w->place[i].node == NULL;
	}
	wire_map(&m, 6);
	wire_str(&m, "ok");
	wire_bool(&m, true);
	wire_str(&m, "name");
	wire_str(&m, w->name);
	wire_str(&m, "keyed");
	wire_array(&m, keyed_rows(o, w, NULL));
	keyed_rows(o, w, &m);
	wire_str(&m, "file");
	wire_str(&m, w->file);
	wire_str(&m, "parts");
	wire_array(&m, w->nparts);
	for (size_t i = 0; i < w->nparts; i++) {
		struct oplace *p = &w->place[i];
		char full[512];
		bool fn = orc_part_is_fn(w, i);
		unsigned replicas = fn ? w->wf->functions[i].replicas : 0;
		snprintf(
		    full, sizeof full, "%s/%s", w->name, orc_part_name(w, i));
		const struct part_stat *st = stat_of(o, p->node, full);
		/* Fewer replicas than asked: none fits, or some are not in
		 * sync (yet) - those may not take over (orc_isr.h). */
		uint64_t in_sync = orc_isr_count(p);
		uint64_t lagging = p->nrep > in_sync ? p->nrep - in_sync : 0;
		bool degraded = fn && replicas > 0 && in_sync < replicas;
		char note[256];
		bool keyed = st != NULL && st->keyed;
		wire_map(&m, keyed ? 20 : 16);
		if (keyed) {
			wire_str(&m, "keys_active");
			wire_u64(&m, st->keys_active);
			wire_str(&m, "keys_stored");
			wire_u64(&m, st->keys_stored);
			wire_str(&m, "key_activations");
			wire_u64(&m, st->key_activations);
			wire_str(&m, "key_passivations");
			wire_u64(&m, st->key_passivations);
		}
		wire_str(&m, "waiting");
		wire_bool(&m, p->waiting);
		wire_str(&m, "replicas_in_sync");
		wire_u64(&m, fn ? in_sync : 0);
		wire_str(&m, "degraded");
		wire_bool(&m, degraded);
		wire_str(&m, "part");
		wire_str(&m, orc_part_name(w, i));
		wire_str(&m, "kind");
		wire_str(&m, fn ? "function" : "resource");
		wire_str(&m, "type");
		wire_str(&m,
		    fn ? "function"
		       : w->wf->resources[i - w->wf->nfunctions].type);
		wire_str(&m, "node");
		wire_str(&m, p->node);
		wire_str(&m, "epoch");
		wire_u64(&m, p->epoch);
		wire_str(&m, "state_bytes");
		wire_u64(&m, st ? st->state_bytes : 0);
		wire_str(&m, "events_in");
		wire_u64(&m, st ? st->events : 0);
		wire_str(&m, "events_out");
		wire_u64(&m, st ? st->emitted : 0);
		wire_str(&m, "errors");
		wire_u64(&m, st ? st->errors : 0);
		wire_str(&m, "replicas");
		wire_u64(&m, replicas);
		wire_str(&m, "replica_nodes");
		wire_array(&m, p->nrep);
		for (size_t r = 0; r < p->nrep; r++) {
			wire_str(&m, p->rep[r]);
		}
		wire_str(&m, "mailbox");
		wire_u64(&m, st ? st->mailbox : 0);
		wire_str(&m, "note");
		if (fn && replicas == 0) {
			wire_str(&m,
			    "no state replicas: if its node is lost, "
			    "the state restarts empty");
		} else if (p->waiting) {
			wire_str(&m, p->why);
		} else if (degraded) {
			snprintf(note, sizeof note,
			    "runs with %llu of %u state replicas in sync: %s",
			    (unsigned long long)in_sync, replicas,
			    lagging > 0
			        ? "a replica is catching up (or lags, and "
			          "writes are acknowledged without it); only "
			          "one in sync may take over if its node is "
			          "lost"
			        : "no other node can keep a copy now");
			wire_str(&m, note);
		} else {
			wire_str(&m, p->why);
		}
	}
	wire_str(&m, "pending");
	wire_array(&m, npend);
	for (size_t i = 0; i < w->nparts; i++) {
		if (w->place[i].node == NULL) {
			wire_map(&m, 2);
			wire_str(&m, "part");
			wire_str(&m, orc_part_name(w, i));
			wire_str(&m, "why");
			wire_str(&m,
			    w->place[i].why ? w->place[i].why : "not placed");
		}
	}
	reply_wire(req, &m);
}

static const struct reply_route routes[] = {
	{ "wf.start", wf_start, MSG_ROLES_ADMIN },
	{ "wf.stop", wf_stop, MSG_ROLES_ADMIN },
	{ "wf.list", wf_list, MSG_ROLES_READ },
	{ "wf.show", wf_show, MSG_ROLES_READ },
};

const struct reply_route *
orc_api_wf_routes(size_t *n)
{
	*n = sizeof routes / sizeof routes[0];
	return routes;
}
