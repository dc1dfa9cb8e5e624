/*
 * orc_move.c - transitions that move functions with their state
 * (orc_move.h).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ledge.h>

#include "base/rlog.h"
#include "net/msg.h"
#include "net/reply.h"
#include "net/wire.h"
#include "orc/orc_deploy.h"
#include "orc/orc_model.h"
#include "orc/orc_move.h"
#include "orc/orc_store.h"
#include "workflow/workflow.h"

static void trans_step(struct trans *t);

static void
trans_free(struct trans *t)
{
	for (size_t i = 0; i < t->nmoves; i++) {
		free(t->moves[i].from);
		free(t->moves[i].to);
		orc_free_place(&t->moves[i].saved);
	}
	free(t->moves);
	free(t->wf);
	free(t);
}

static void trans_fail(struct trans *t, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
trans_fail(struct trans *t, const char *fmt, ...)
{
	va_list ap;
	if (t->err[0]) {
		return;
	}
	va_start(ap, fmt);
	vsnprintf(t->err, sizeof t->err, fmt, ap);
	va_end(ap);
}

static void
trans_finish(struct trans *t)
{
	struct owf *w = orc_find_wf(t->o, t->wf);
	if (w != NULL) {
		w->busy = false;
		for (size_t i = 0; i < w->nparts; i++) {
			w->place[i].moving = false;
		}
	}
	if (t->req != NULL) {
		if (t->err[0]) {
			reply_err(t->req, REPLY_FAILED, "%s", t->err);
		} else {
			struct wire_w m;
			struct tmove *mv = t->nmoves ? &t->moves[0] : NULL;
			if (wire_w_init(&m) == 0) {
				wire_map(&m, 4);
				wire_str(&m, "ok");
				wire_bool(&m, true);
				wire_str(&m, "from");
				wire_str(&m, mv ? mv->from : NULL);
				wire_str(&m, "to");
				wire_str(&m, mv ? mv->to : NULL);
				wire_str(&m, "epoch");
				wire_u64(
				    &m, w && mv ? w->place[mv->part].epoch : 0);
				reply_wire(t->req, &m);
			}
		}
	}
	if (t->done != NULL) {
		t->done(t);
	}
	struct orc *o = t->o;
	trans_free(t);
	if (o->replace_wanted) {
		o->replace_wanted = false;
		orc_move_replace_all(o);
	}
}

/* Step 3 answered: save, and let the old nodes drop their copies. */
static void
trans_deployed_all(struct deploy_op *d)
{
	struct trans *t = d->user;
	struct owf *w = orc_find_wf(t->o, t->wf);
	if (w != NULL) {
		orc_store_save_wf(t->o, w);
	}
	if (d->errors[0]) {
		/* The placement stands (the nodes that answered run it); a
		 * node that did not gets it again when it rejoins. */
		rlog_write(t->o->log, RLOG_WARN, "orchestrator",
		    "workflow %s: %s", t->wf, d->errors);
	}
	for (size_t i = 0; w != NULL && i < t->nmoves; i++) {
		struct onode *n = orc_find_node(t->o, t->moves[i].from);
		struct wire_w m;
		if (n == NULL || n->health != H_UP ||
		    orc_node_client(t->o, n) != LEDGE_OK ||
		    wire_w_init(&m) != 0) {
			continue;
		}
		wire_map(&m, 3);
		wire_str(&m, "t");
		wire_str(&m, "forget");
		wire_str(&m, "wf");
		wire_str(&m, t->wf);
		wire_str(&m, "part");
		wire_str(&m, orc_part_name(w, t->moves[i].part));
		size_t len;
		const void *data = wire_data(&m, &len);
		if (data != NULL) {
			msg_call(n->client, data, len, ORC_DEPLOY_TIMEOUT_MS,
			    NULL, NULL);
		}
		wire_w_fini(&m);
		rlog_write(t->o->log, RLOG_INFO, "orchestrator",
		    "%s/%s moved from %s to %s with its state", t->wf,
		    orc_part_name(w, t->moves[i].part), t->moves[i].from,
		    t->moves[i].to);
	}
	trans_finish(t);
}

/* Put the moved parts back where they were and deploy that. */
static void
trans_undo(struct trans *t)
{
	struct owf *w = orc_find_wf(t->o, t->wf);
	rlog_write(t->o->log, RLOG_WARN, "orchestrator",
	    "workflow %s: move abandoned: %s", t->wf, t->err);
	for (size_t i = 0; w != NULL && i < t->nmoves; i++) {
		struct oplace *p = &w->place[t->moves[i].part];
		orc_free_place(p);
		*p = t->moves[i].saved;
		memset(&t->moves[i].saved, 0, sizeof t->moves[i].saved);
	}
	t->nmoves = 0; /* nothing to forget */
	if (w == NULL) {
		trans_finish(t);
		return;
	}
	orc_deploy_wf(t->o, w, NULL, NULL, trans_deployed_all, t);
}

static void
trans_left(struct deploy_op *d)
{
	struct trans *t = d->user;
	if (d->errors[0]) {
		trans_fail(t, "%s", d->errors);
	}
	if (--t->pending == 0) {
		trans_step(t);
	}
}

static void
on_imported(void *arg, int err, const void *data, size_t len)
{
	struct trans *t = arg;
	struct wire_r r;
	if (err != MSG_OK) {
		trans_fail(t, "node %s did not take the state of %s (%s)",
		    t->moves[t->step].to, t->wf,
		    err == MSG_ETIMEDOUT ? "timed out" : "unreachable");
	} else if (wire_parse(&r, data, len) == 0) {
		if (!wire_as_bool(wire_get(wire_root(&r), "ok"), false)) {
			char *e =
			    wire_str_dup(wire_get(wire_root(&r), "error"));
			trans_fail(t, "node %s: %s", t->moves[t->step].to,
			    e ? e : "import failed");
			free(e);
		}
		wire_r_fini(&r);
	}
	t->step++;
	trans_step(t);
}

static void
on_exported(void *arg, int err, const void *data, size_t len)
{
	struct trans *t = arg;
	struct tmove *mv = &t->moves[t->step];
	struct owf *w = orc_find_wf(t->o, t->wf);
	struct onode *to = orc_find_node(t->o, mv->to);
	struct wire_r r;
	struct wire_w m;
	wire_v root, state;
	const void *out;
	size_t olen;

	if (err != MSG_OK || wire_parse(&r, data, len) != 0) {
		trans_fail(t, "node %s did not give up the state of %s/%s (%s)",
		    mv->from, t->wf, w ? orc_part_name(w, mv->part) : "?",
		    err == MSG_ETIMEDOUT ? "timed out" : "unreachable");
		trans_step(t);
		return;
	}
	root = wire_root(&r);
	if (!wire_as_bool(wire_get(root, "ok"), false) || w == NULL ||
	    to == NULL || orc_node_client(t->o, to) != LEDGE_OK ||
	    wire_w_init(&m) != 0) {
		char *e = wire_str_dup(wire_get(root, "error"));
		trans_fail(t, "node %s: %s", mv->from,
		    e ? e : "cannot export the state");
		free(e);
		wire_r_fini(&r);
		trans_step(t);
		return;
	}
	state = wire_get(root, "state");
	wire_map(&m, 5);
	wire_str(&m, "t");
	wire_str(&m, "import");
	wire_str(&m, "wf");
	wire_str(&m, t->wf);
	wire_str(&m, "part");
	wire_str(&m, orc_part_name(w, mv->part));
	wire_str(&m, "epoch");
	wire_u64(&m, w->place[mv->part].epoch);
	wire_str(&m, "state");
	wire_array(&m, wire_len(state));
	for (size_t i = 0; i < wire_len(state); i++) {
		const void *k = "", *v = "";
		size_t kl = 0, vl = 0;
		wire_as_bin(wire_get(wire_at(state, i), "key"), &k, &kl);
		wire_as_bin(wire_get(wire_at(state, i), "value"), &v, &vl);
		wire_map(&m, 2);
		wire_str(&m, "key");
		wire_bin(&m, k, kl);
		wire_str(&m, "value");
		wire_bin(&m, v, vl);
	}
	wire_r_fini(&r);
	if ((out = wire_data(&m, &olen)) == NULL) {
		wire_w_fini(&m);
		trans_fail(t, "out of memory");
		trans_step(t);
		return;
	}
	msg_call(to->client, out, olen, ORC_DEPLOY_TIMEOUT_MS, on_imported, t);
	wire_w_fini(&m);
}

/* Export the state of move t->step (its old node no longer runs it). */
static void
trans_export(struct trans *t)
{
	struct tmove *mv = &t->moves[t->step];
	struct owf *w = orc_find_wf(t->o, t->wf);
	struct onode *from = orc_find_node(t->o, mv->from);
	struct wire_w m;
	const void *data;
	size_t len;

	if (w == NULL || from == NULL ||
	    orc_node_client(t->o, from) != LEDGE_OK || wire_w_init(&m) != 0) {
		trans_fail(t, "node %s cannot be reached", mv->from);
		trans_step(t);
		return;
	}
	wire_map(&m, 3);
	wire_str(&m, "t");
	wire_str(&m, "export");
	wire_str(&m, "wf");
	wire_str(&m, t->wf);
	wire_str(&m, "part");
	wire_str(&m, orc_part_name(w, mv->part));
	data = wire_data(&m, &len);
	msg_call(from->client, data, data ? len : 0, ORC_DEPLOY_TIMEOUT_MS,
	    on_exported, t);
	wire_w_fini(&m);
}

/* After step 1, and after each export/import: the next thing to do. */
static void
trans_step(struct trans *t)
{
	struct owf *w = orc_find_wf(t->o, t->wf);
	if (w == NULL) {
		trans_fail(t, "workflow %s was stopped meanwhile", t->wf);
		trans_finish(t);
		return;
	}
	if (t->err[0]) {
		trans_undo(t);
		return;
	}
	if (t->step < t->nmoves) {
		trans_export(t);
		return;
	}
	orc_deploy_wf(t->o, w, NULL, NULL, trans_deployed_all, t);
}

void
orc_move_start(struct orc *o, struct owf *w, const struct oplace *oldp,
    struct msg_req *req, void (*done)(struct trans *), void *user)
{
	struct trans *t = calloc(1, sizeof *t);
	if (t == NULL || (t->wf = strdup(w->name)) == NULL ||
	    (t->moves = calloc(w->nparts + 1, sizeof *t->moves)) == NULL) {
		if (t != NULL) {
			free(t->wf);
		}
		free(t);
		if (req) {
			reply_err(req, REPLY_BUSY, "out of memory");
		}
		return;
	}
	t->o = o;
	t->req = req;
	t->done = done;
	t->user = user;
	w->busy = true;
	for (size_t i = 0; i < w->nparts; i++) {
		const char *from = oldp[i].node, *to = w->place[i].node;
		struct onode *fn = from ? orc_find_node(o, from) : NULL;
		struct tmove *mv;
		if (!orc_part_is_fn(w, i) || from == NULL || to == NULL ||
		    strcmp(from, to) == 0 || fn == NULL || fn->health != H_UP) {
			continue;
		}
		mv = &t->moves[t->nmoves++];
		mv->part = i;
		w->place[i].moving = true;
		mv->from = strdup(from);
		mv->to = strdup(to);
		mv->saved.node = orc_strdup(oldp[i].node);
		mv->saved.epoch = oldp[i].epoch;
		mv->saved.nrep = oldp[i].nrep;
		mv->saved.rep = calloc(oldp[i].nrep + 1, sizeof(char *));
		for (size_t k = 0; mv->saved.rep && k < oldp[i].nrep; k++) {
			mv->saved.rep[k] = orc_strdup(oldp[i].rep[k]);
		}
		if (mv->saved.rep == NULL) {
			mv->saved.nrep = 0;
		}
	}
	/* Step 1: the nodes parts leave stop them first. */
	t->pending = 1;
	for (size_t i = 0; i < t->nmoves; i++) {
		bool seen = false;
		for (size_t k = 0; k < i; k++) {
			seen |= strcmp(t->moves[k].from, t->moves[i].from) == 0;
		}
		if (!seen) {
			t->pending++;
			orc_deploy_wf(
			    o, w, t->moves[i].from, NULL, trans_left, t);
		}
	}
	if (--t->pending == 0) {
		trans_step(t);
	}
}

/* Place again every workflow with parts pending or on a node that can no
 * longer take them, and move what changed (with its state). */
void
orc_move_replace_all(struct orc *o)
{
	for (struct owf *w = o->wfs; w != NULL; w = w->next) {
		struct oplace *before;
		if (w->adopted) {
			continue; /* runs where `ledge run` runs it */
		}
		if (w->busy) {
			o->replace_wanted = true;
			continue;
		}
		if ((before = orc_copy_places(w)) == NULL) {
			continue;
		}
		orc_deploy_place(o, w);
		if (orc_places_differ(w, before)) {
			rlog_write(o->log, RLOG_INFO, "orchestrator",
			    "workflow %s placed again", w->name);
			orc_move_start(o, w, before, NULL, NULL, NULL);
		}
		orc_free_places(before, w->nparts);
	}
}

bool
orc_move_replace_due(struct orc *o)
{
	if (!o->replace_wanted) {
		return false;
	}
	for (struct owf *w = o->wfs; w != NULL; w = w->next) {
		if (w->busy) {
			return false;
		}
	}
	o->replace_wanted = false;
	return true;
}
