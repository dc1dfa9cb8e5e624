/*
 * orc_deploy.c - applying a placement: placing the parts of a workflow,
 * the deploy messages and their fan-out to the nodes, and the transitions
 * that move functions with their state (placing again after a change,
 * fn.move, node.drain).  Private to the orchestrator (orc_int.h).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/rlog.h"
#include "net/msg.h"
#include "orc/orc_int.h"
#include "orc/orc_place.h"
#include "net/wire.h"
#include "workflow/workflow.h"

/* ------------------------------------------------------------------ */
/* placement and deployment                                            */

static char *
xstrdup(const char *s)
{
	return s ? strdup(s) : NULL;
}

static void
place_node(struct orc *o, struct onode *n, struct orc_place_node *pn)
{
	*pn = (struct orc_place_node) {
		.name = n->name,
		.nlabels = n->nlabels,
		.label_keys = (const char *const *)n->lk,
		.label_values = (const char *const *)n->lv,
		.arch = n->arch,
		.cores = n->cores,
		.nresources = n->nres,
		.resources = (const char *const *)n->res,
		.up = n->health == H_UP,
		.draining = n->draining,
		.instances = orc_parts_on(o, n->name),
	};
}

/* Whether part i of w could run on node n; if not, why (malloc'd). */
static bool
fits(struct orc *o, struct owf *w, size_t i, struct onode *n, char **why)
{
	struct orc_place_node pn;
	struct orc_place_choice *ch = calloc(w->nparts + 1, sizeof *ch);
	bool ok;
	*why = NULL;
	if (ch == NULL) {
		*why = strdup("out of memory");
		return false;
	}
	place_node(o, n, &pn);
	pn.draining = false; /* asked for by name */
	if (orc_place_workflow(w->wf, &pn, 1, NULL, ch) != LEDGE_OK) {
		ok = false;
		*why = strdup("placement failed");
	} else {
		ok = ch[i].node == 0;
		if (!ok) {
			*why = ch[i].why;
			ch[i].why = NULL;
		}
	}
	orc_place_choices_free(ch, w->nparts);
	free(ch);
	return ok;
}

int
orc_place(struct orc *o, struct owf *w)
{
	size_t nn = 0, i = 0, np = w->nparts;
	struct orc_place_node *nodes;
	struct orc_place_current *cur;
	struct orc_place_choice *ch;
	int rv;

	for (struct onode *n = o->nodes; n != NULL; n = n->next) {
		nn++;
	}
	nodes = calloc(nn + 1, sizeof *nodes);
	cur = calloc(np + 1, sizeof *cur);
	ch = calloc(np + 1, sizeof *ch);
	if (!nodes || !cur || !ch) {
		free(nodes);
		free(cur);
		free(ch);
		return LEDGE_ENOMEM;
	}
	for (struct onode *n = o->nodes; n != NULL; n = n->next, i++) {
		place_node(o, n, &nodes[i]);
	}
	for (size_t k = 0; k < np; k++) {
		cur[k].node = w->place[k].node;
		cur[k].nreplicas = w->place[k].nrep;
		cur[k].replicas = (const char *const *)w->place[k].rep;
	}
	rv = orc_place_workflow(w->wf, nodes, nn, cur, ch);
	if (rv == LEDGE_OK) {
		for (size_t k = 0; k < np; k++) {
			struct oplace *p = &w->place[k];
			const char *to =
			    ch[k].node >= 0 ? nodes[ch[k].node].name : NULL;
			struct onode *cn =
			    p->node ? orc_find_node(o, p->node) : NULL;
			if (to == NULL && cn != NULL && cn->health == H_UP &&
			    cn->draining) {
				/* Nowhere else to go: it stays on the
				 * draining node rather than stop. */
				to = cn->name;
			}
			bool moved = (to == NULL) != (p->node == NULL) ||
			    (to && p->node && strcmp(to, p->node) != 0);
			free(p->why);
			p->why = ch[k].why;
			ch[k].why = NULL;
			if (moved) {
				free(p->node);
				p->node = xstrdup(to);
				p->epoch = to ? o->next_epoch++ : 0;
			}
			orc_free_strs(p->rep, p->nrep);
			p->nrep = ch[k].nreplicas;
			p->rep = calloc(p->nrep + 1, sizeof *p->rep);
			for (size_t r = 0; p->rep && r < p->nrep; r++) {
				p->rep[r] =
				    xstrdup(nodes[ch[k].replicas[r]].name);
			}
			if (p->rep == NULL) {
				p->nrep = 0;
			}
		}
	}
	orc_place_choices_free(ch, np);
	free(ch);
	free(cur);
	free(nodes);
	return rv;
}

static void
deploy_step_done(struct deploy_op *d)
{
	if (--d->pending > 0) {
		return;
	}
	if (d->done) {
		d->done(d);
	}
	for (size_t i = 0; i < d->nparts; i++) {
		free(d->parts[i].node);
	}
	free(d->parts);
	free(d->wf);
	free(d);
}

static void
on_deployed(void *arg, int err, const void *data, size_t len)
{
	struct deploy_part *dp = arg;
	struct deploy_op *d = dp->d;
	struct wire_r r;
	char why[512] = "";

	if (err != MSG_OK) {
		snprintf(why, sizeof why, "node %s did not answer (%s)",
		    dp->node,
		    err == MSG_ETIMEDOUT ? "timed out" : "connection failed");
	} else if (wire_parse(&r, data, len) == 0) {
		if (!wire_as_bool(wire_get(wire_root(&r), "ok"), false)) {
			char *e =
			    wire_str_dup(wire_get(wire_root(&r), "error"));
			snprintf(
			    why, sizeof why, "%s", e ? e : "deploy failed");
			free(e);
		}
		wire_r_fini(&r);
	}
	if (why[0]) {
		size_t used = strlen(d->errors);
		snprintf(d->errors + used, sizeof d->errors - used, "%s%s",
		    used ? "; " : "", why);
		rlog_write(d->o->log, RLOG_WARN, "orchestrator",
		    "deploying %s: %s", d->wf, why);
	}
	deploy_step_done(d);
}

/* The deploy message for node `n`: its parts, and where the others are. */
static int
deploy_message(struct orc *o, struct owf *w, struct onode *n, struct wire_w *m)
{
	size_t nlocal = 0, nremote = 0;
	for (size_t i = 0; i < w->nparts; i++) {
		if (!w->place[i].node) {
			continue;
		}
		if (strcmp(w->place[i].node, n->name) == 0) {
			nlocal++;
		} else {
			nremote++;
		}
	}
	if (wire_w_init(m) != 0) {
		return -1;
	}
	wire_map(m, 10);
	wire_str(m, "t");
	wire_str(m, "deploy");
	wire_str(m, "wf");
	wire_str(m, w->name);
	wire_str(m, "file");
	wire_str(m, w->file);
	wire_str(m, "yaml");
	wire_str(m, w->yaml);
	wire_str(m, "code");
	wire_map(m, w->ncode);
	for (size_t i = 0; i < w->ncode; i++) {
		wire_str(m, w->ck[i]);
		wire_str(m, w->cv[i]);
	}
	wire_str(m, "local");
	wire_array(m, nlocal);
	for (size_t i = 0; i < w->nparts; i++) {
		if (w->place[i].node &&
		    strcmp(w->place[i].node, n->name) == 0) {
			wire_str(m, orc_part_name(w, i));
		}
	}
	wire_str(m, "epochs");
	wire_map(m, nlocal);
	for (size_t i = 0; i < w->nparts; i++) {
		if (w->place[i].node &&
		    strcmp(w->place[i].node, n->name) == 0) {
			wire_str(m, orc_part_name(w, i));
			wire_u64(m, w->place[i].epoch);
		}
	}
	wire_str(m, "remote");
	wire_map(m, nremote);
	for (size_t i = 0; i < w->nparts; i++) {
		struct onode *on;
		if (!w->place[i].node ||
		    strcmp(w->place[i].node, n->name) == 0) {
			continue;
		}
		on = orc_find_node(o, w->place[i].node);
		wire_str(m, orc_part_name(w, i));
		wire_map(m, 2);
		wire_str(m, "node");
		wire_str(m, w->place[i].node);
		wire_str(m, "url");
		wire_str(m, on ? on->url : "");
	}
	/* Where the state of its functions is replicated to. */
	size_t nrep = 0;
	for (size_t i = 0; i < w->nparts; i++) {
		nrep += w->place[i].node && w->place[i].nrep > 0 &&
		    strcmp(w->place[i].node, n->name) == 0;
	}
	wire_str(m, "replicas");
	wire_map(m, nrep);
	for (size_t i = 0; i < w->nparts; i++) {
		struct oplace *p = &w->place[i];
		if (!p->node || p->nrep == 0 || strcmp(p->node, n->name) != 0) {
			continue;
		}
		wire_str(m, orc_part_name(w, i));
		wire_array(m, p->nrep);
		for (size_t k = 0; k < p->nrep; k++) {
			struct onode *rn = orc_find_node(o, p->rep[k]);
			wire_map(m, 2);
			wire_str(m, "node");
			wire_str(m, p->rep[k]);
			wire_str(m, "url");
			wire_str(m, rn && rn->url ? rn->url : "");
		}
	}
	/* Lost nodes: their messages sent before they rejoin are refused. */
	size_t nlost = 0;
	for (struct onode *x = o->nodes; x != NULL; x = x->next) {
		nlost += x->health == H_LOST;
	}
	wire_str(m, "fenced_nodes");
	wire_map(m, nlost);
	for (struct onode *x = o->nodes; x != NULL; x = x->next) {
		if (x->health == H_LOST) {
			wire_str(m, x->name);
			wire_u64(m, x->epoch + 1);
		}
	}
	return 0;
}

static void
send_to_node(
    struct orc *o, struct deploy_op *d, struct onode *n, struct wire_w *m)
{
	size_t len;
	const void *data = wire_data(m, &len);
	struct deploy_part *dp = &d->parts[d->nparts++];
	dp->d = d;
	dp->node = strdup(n->name);
	d->pending++;
	if (data == NULL || orc_node_client(o, n) != 0) {
		on_deployed(dp, MSG_EPROTO, NULL, 0);
		return;
	}
	msg_call(n->client, data, len, ORC_DEPLOY_TIMEOUT_MS, on_deployed, dp);
}

/*
 * Send workflow w to every up node with parts of it (and an undeploy to
 * nodes that had parts before and have none now).  `only`: just this
 * node (NULL: all).  done runs when every node answered.
 */
static void deploy_wf_user(struct orc *o, struct owf *w, const char *only,
    struct msg_req *req, void (*done)(struct deploy_op *), void *user);

void
orc_deploy_wf(struct orc *o, struct owf *w, const char *only,
    struct msg_req *req, void (*done)(struct deploy_op *))
{
	deploy_wf_user(o, w, only, req, done, NULL);
}

static void
deploy_wf_user(struct orc *o, struct owf *w, const char *only,
    struct msg_req *req, void (*done)(struct deploy_op *), void *user)
{
	struct deploy_op *d = calloc(1, sizeof *d);
	size_t nn = 0;
	char **now = NULL;
	size_t nnow = 0;

	for (struct onode *n = o->nodes; n != NULL; n = n->next) {
		nn++;
	}
	if (d == NULL ||
	    (d->parts = calloc(nn + 1, sizeof *d->parts)) == NULL ||
	    (now = calloc(nn + 1, sizeof *now)) == NULL) {
		free(d ? d->parts : NULL);
		free(d);
		free(now);
		if (req) {
			orc_reply_err(req, "busy", "out of memory");
		}
		return;
	}
	d->o = o;
	d->wf = strdup(w->name);
	d->req = req;
	d->done = done;
	d->user = user;
	d->pending = 1; /* held until every message is sent */
	bool placed = false;
	for (size_t i = 0; i < w->nparts; i++) {
		placed |= w->place[i].node != NULL;
	}
	for (struct onode *n = o->nodes; n != NULL; n = n->next) {
		bool has = false;
		struct wire_w m;
		for (size_t i = 0; i < w->nparts && !has; i++) {
			has = w->place[i].node &&
			    strcmp(w->place[i].node, n->name) == 0;
		}
		/* A node that ran parts of w and runs none now keeps w with
		 * no local part, as a forwarder: events queued there, or
		 * arriving late, for parts that left go on to their new
		 * nodes.  Only stopping w takes it off. */
		bool forwarder = !has && placed &&
		    orc_in_list(w->deployed_on, w->ndeployed, n->name);
		if (has || forwarder) {
			now[nnow++] = strdup(n->name);
		}
		if (n->health != H_UP || (only && strcmp(only, n->name) != 0)) {
			continue;
		}
		if (has || forwarder) {
			if (deploy_message(o, w, n, &m) == 0) {
				send_to_node(o, d, n, &m);
				wire_w_fini(&m);
			}
		} else if (orc_in_list(w->deployed_on, w->ndeployed, n->name) &&
		    wire_w_init(&m) == 0) {
			wire_map(&m, 2);
			wire_str(&m, "t");
			wire_str(&m, "undeploy");
			wire_str(&m, "wf");
			wire_str(&m, w->name);
			send_to_node(o, d, n, &m);
			wire_w_fini(&m);
		}
	}
	if (only == NULL) {
		orc_free_strs(w->deployed_on, w->ndeployed);
		w->deployed_on = now;
		w->ndeployed = nnow;
	} else {
		orc_free_strs(now, nnow);
	}
	deploy_step_done(d);
}

/* ------------------------------------------------------------------ */
/* moves: a new placement, with the state of moved functions carried   */

/*
 * A transition takes a workflow from its old placement (`old`, node
 * names per part) to the one in w->place.  A function that leaves a node
 * that is up takes its state along:
 *
 *   1. the nodes it leaves get the new placement first: the part stops
 *      there, and events still queued for it, or arriving, go on to its
 *      new node (the links hold them until it runs there);
 *   2. its state is exported from the old node and imported into the
 *      new one (durable there before the answer);
 *   3. every node gets the new placement: the part starts on its new
 *      node with that state;
 *   4. the old node drops its copy; the placement is saved.
 *
 * A function whose node was lost starts from a replica of its state if
 * it has one (the replica node already holds it), else empty.  If step 1
 * or 2 fails, the moved parts go back where they were.
 */
struct tmove {
	size_t part;
	char *from, *to;
	struct oplace saved; /* the placement before, to go back */
};

struct trans {
	struct orc *o;
	char *wf;
	struct msg_req *req; /* fn.move: answered at the end, or NULL */
	void (*done)(struct trans *t);
	void *user;
	struct tmove *moves;
	size_t nmoves, step;
	int pending;
	char err[1024];
};

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
			orc_reply_err(t->req, "failed", "%s", t->err);
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
				orc_send_wire(t->req, &m);
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
		orc_replace_all(o);
	}
}

/* Step 3 answered: save, and let the old nodes drop their copies. */
static void
trans_deployed_all(struct deploy_op *d)
{
	struct trans *t = d->user;
	struct owf *w = orc_find_wf(t->o, t->wf);
	if (w != NULL) {
		orc_save_wf(t->o, w);
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
		    orc_node_client(t->o, n) || wire_w_init(&m) != 0) {
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
	deploy_wf_user(t->o, w, NULL, NULL, trans_deployed_all, t);
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
	    to == NULL || orc_node_client(t->o, to) != 0 ||
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

	if (w == NULL || from == NULL || orc_node_client(t->o, from) != 0 ||
	    wire_w_init(&m) != 0) {
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
	deploy_wf_user(t->o, w, NULL, NULL, trans_deployed_all, t);
}

/*
 * Start moving w from `old` (node name per part, NULL: pending; borrowed)
 * to its current w->place.  `oldp`: the placements before, kept to go
 * back.  done (may be NULL) runs at the end, before t is freed.
 */
static void
trans_start(struct orc *o, struct owf *w, const struct oplace *oldp,
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
			orc_reply_err(req, "busy", "out of memory");
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
		mv->saved.node = xstrdup(oldp[i].node);
		mv->saved.epoch = oldp[i].epoch;
		mv->saved.nrep = oldp[i].nrep;
		mv->saved.rep = calloc(oldp[i].nrep + 1, sizeof(char *));
		for (size_t k = 0; mv->saved.rep && k < oldp[i].nrep; k++) {
			mv->saved.rep[k] = xstrdup(oldp[i].rep[k]);
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
			deploy_wf_user(
			    o, w, t->moves[i].from, NULL, trans_left, t);
		}
	}
	if (--t->pending == 0) {
		trans_step(t);
	}
}

/* Copies of the placements of w (to compare and to go back to). */
static struct oplace *
save_places(struct owf *w)
{
	struct oplace *c = calloc(w->nparts + 1, sizeof *c);
	for (size_t i = 0; c && i < w->nparts; i++) {
		c[i].node = xstrdup(w->place[i].node);
		c[i].epoch = w->place[i].epoch;
		c[i].nrep = w->place[i].nrep;
		c[i].rep = calloc(c[i].nrep + 1, sizeof *c[i].rep);
		for (size_t k = 0; c[i].rep && k < c[i].nrep; k++) {
			c[i].rep[k] = xstrdup(w->place[i].rep[k]);
		}
		if (c[i].rep == NULL) {
			c[i].nrep = 0;
		}
	}
	return c;
}

static void
free_places(struct oplace *c, size_t n)
{
	for (size_t i = 0; c && i < n; i++) {
		orc_free_place(&c[i]);
	}
	free(c);
}

static bool
places_differ(const struct owf *w, const struct oplace *c)
{
	for (size_t i = 0; i < w->nparts; i++) {
		const struct oplace *p = &w->place[i];
		if ((p->node == NULL) != (c[i].node == NULL) ||
		    (p->node && strcmp(p->node, c[i].node) != 0) ||
		    p->epoch != c[i].epoch || p->nrep != c[i].nrep) {
			return true;
		}
		for (size_t k = 0; k < p->nrep; k++) {
			if (strcmp(p->rep[k], c[i].rep[k]) != 0) {
				return true;
			}
		}
	}
	return false;
}

/* Place again every workflow with parts pending or on a node that can no
 * longer take them, and move what changed (with its state). */
void
orc_replace_all(struct orc *o)
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
		if ((before = save_places(w)) == NULL) {
			continue;
		}
		orc_place(o, w);
		if (places_differ(w, before)) {
			rlog_write(o->log, RLOG_INFO, "orchestrator",
			    "workflow %s placed again", w->name);
			trans_start(o, w, before, NULL, NULL, NULL);
		}
		free_places(before, w->nparts);
	}
}

/* ------------------------------------------------------------------ */
/* fn.move, node.drain                                                 */

void
orc_handle_fn_move(struct orc *o, struct msg_req *req, wire_v root)
{
	char *wfn = wire_str_dup(wire_get(root, "wf"));
	char *fn = wire_str_dup(wire_get(root, "fn"));
	char *to = wire_str_dup(wire_get(root, "node"));
	struct owf *w = wfn ? orc_find_wf(o, wfn) : NULL;
	struct onode *n = to ? orc_find_node(o, to) : NULL, *from;
	struct oplace *before;
	ssize_t i;
	char *why = NULL;

	if (w == NULL) {
		orc_reply_err(req, "not-found",
		    "no workflow '%s' in the domain", wfn ? wfn : "");
	} else if ((i = orc_fn_index(w, fn)) < 0) {
		orc_reply_err(req, "not-found",
		    "workflow %s has no function '%s'", w->name, fn ? fn : "");
	} else if (n == NULL) {
		orc_reply_err(req, "not-found", "no node '%s' in the domain",
		    to ? to : "");
	} else if (n->health != H_UP) {
		orc_reply_err(req, "unreachable", "node %s is lost", n->name);
	} else if (w->adopted) {
		orc_reply_err(req, "invalid",
		    "workflow %s runs inside `ledge run`, which keeps it on "
		    "its "
		    "own node",
		    w->name);
	} else if (w->busy) {
		orc_reply_err(req, "busy",
		    "workflow %s is being moved already; try again", w->name);
	} else if (w->place[i].node && strcmp(w->place[i].node, to) == 0) {
		orc_reply_err(
		    req, "exists", "%s/%s already runs on %s", w->name, fn, to);
	} else if (!fits(o, w, (size_t)i, n, &why)) {
		orc_reply_err(req, "no-node", "cannot move to %s: %s", to,
		    why ? why : "it does not fit");
	} else if (w->place[i].node &&
	    ((from = orc_find_node(o, w->place[i].node)) == NULL ||
	        from->health != H_UP)) {
		orc_reply_err(req, "unreachable",
		    "%s/%s is on node %s, which is lost; it is placed again "
		    "by itself",
		    w->name, fn, w->place[i].node);
	} else if ((before = save_places(w)) == NULL) {
		orc_reply_err(req, "busy", "out of memory");
	} else {
		struct oplace *p = &w->place[i];
		free(p->node);
		p->node = strdup(to);
		p->epoch = o->next_epoch++;
		/* Its new node keeps no replica of itself: orc_place() picks
		 * the replicas again, keeping the rest. */
		orc_place(o, w);
		rlog_write(o->log, RLOG_INFO, "orchestrator",
		    "moving %s/%s from %s to %s", w->name, fn,
		    before[i].node ? before[i].node : "(pending)", to);
		trans_start(o, w, before, req, NULL, NULL);
		free_places(before, w->nparts);
	}
	free(why);
	free(wfn);
	free(fn);
	free(to);
}

/* A drain: one transition per workflow; answered when all are over. */
struct drain {
	struct orc *o;
	struct msg_req *req;
	char *node;
	int pending;
	size_t nmoved;
	struct wire_w items; /* msgpack {part, from, to}, appended */
	char errors[2048];
	size_t nstay;
	struct wire_w stay;
};

static void
drain_reply(struct drain *dr)
{
	struct wire_w m;
	size_t ilen = 0, slen = 0;
	const void *items = wire_data(&dr->items, &ilen);
	const void *stay = wire_data(&dr->stay, &slen);
	if (wire_w_init(&m) == 0) {
		wire_map(&m, dr->errors[0] ? 4 : 3);
		wire_str(&m, "ok");
		wire_bool(&m, dr->errors[0] == '\0');
		if (dr->errors[0]) {
			wire_str(&m, "error");
			wire_str(&m, dr->errors);
		}
		wire_str(&m, "moved");
		wire_array(&m, dr->nmoved);
		wire_raw(&m, items, items ? ilen : 0);
		wire_str(&m, "stay");
		wire_array(&m, dr->nstay);
		wire_raw(&m, stay, stay ? slen : 0);
		orc_send_wire(dr->req, &m);
	}
	rlog_write(dr->o->log, RLOG_INFO, "orchestrator",
	    "node %s drained: %zu parts moved, %zu stay", dr->node, dr->nmoved,
	    dr->nstay);
	wire_w_fini(&dr->items);
	wire_w_fini(&dr->stay);
	free(dr->node);
	free(dr);
}

static void
drain_wf_done(struct trans *t)
{
	struct drain *dr = t->user;
	if (t->err[0]) {
		size_t used = strlen(dr->errors);
		snprintf(dr->errors + used, sizeof dr->errors - used, "%s%s",
		    used ? "; " : "", t->err);
	} else {
		struct owf *w = orc_find_wf(dr->o, t->wf);
		for (size_t i = 0; w != NULL && i < t->nmoves; i++) {
			char part[512];
			snprintf(part, sizeof part, "%s/%s", t->wf,
			    orc_part_name(w, t->moves[i].part));
			wire_map(&dr->items, 3);
			wire_str(&dr->items, "part");
			wire_str(&dr->items, part);
			wire_str(&dr->items, "from");
			wire_str(&dr->items, t->moves[i].from);
			wire_str(&dr->items, "to");
			wire_str(&dr->items, t->moves[i].to);
			dr->nmoved++;
		}
	}
	if (--dr->pending == 0) {
		drain_reply(dr);
	}
}

void
orc_handle_node_drain(struct orc *o, struct msg_req *req, wire_v root)
{
	char *name = wire_str_dup(wire_get(root, "name"));
	struct onode *n = name ? orc_find_node(o, name) : NULL;
	struct drain *dr;

	if (n == NULL) {
		orc_reply_err(req, "not-found", "no node '%s' in the domain",
		    name ? name : "");
		free(name);
		return;
	}
	for (struct owf *w = o->wfs; w != NULL; w = w->next) {
		if (w->busy) {
			orc_reply_err(req, "busy",
			    "workflow %s is being moved; try again", w->name);
			free(name);
			return;
		}
	}
	if ((dr = calloc(1, sizeof *dr)) == NULL ||
	    wire_w_init(&dr->items) != 0 || wire_w_init(&dr->stay) != 0) {
		free(dr);
		orc_reply_err(req, "busy", "out of memory");
		free(name);
		return;
	}
	dr->o = o;
	dr->req = req;
	dr->node = name;
	dr->pending = 1;
	n->draining = true;
	orc_save_node(o, n); /* until it restarts */
	rlog_write(
	    o->log, RLOG_INFO, "orchestrator", "draining node %s", n->name);
	for (struct owf *w = o->wfs; w != NULL; w = w->next) {
		struct oplace *before;
		if (w->adopted) {
			continue;
		}
		before = save_places(w);
		if (before == NULL) {
			continue;
		}
		orc_place(o, w);
		/* What fits nowhere else stays (and says why). */
		for (size_t i = 0; i < w->nparts; i++) {
			struct oplace *p = &w->place[i];
			if (p->node != NULL && before[i].node &&
			    strcmp(p->node, n->name) == 0 &&
			    strcmp(before[i].node, n->name) == 0) {
				char part[512];
				snprintf(part, sizeof part, "%s/%s", w->name,
				    orc_part_name(w, i));
				wire_map(&dr->stay, 2);
				wire_str(&dr->stay, "part");
				wire_str(&dr->stay, part);
				wire_str(&dr->stay, "why");
				wire_str(&dr->stay,
				    p->why ? p->why : "no other node fits");
				dr->nstay++;
			}
		}
		if (places_differ(w, before)) {
			dr->pending++;
			trans_start(o, w, before, NULL, drain_wf_done, dr);
		}
		free_places(before, w->nparts);
	}
	if (--dr->pending == 0) {
		drain_reply(dr);
	}
}
