/*
 * orc_deploy.c - applying a placement: placing the parts of a workflow
 * and the deploy messages and their fan-out to the nodes (orc_deploy.h).
 */
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
#include "orc/orc_place.h"
#include "workflow/workflow.h"

/* ------------------------------------------------------------------ */
/* placement and deployment                                            */

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
bool
orc_deploy_fits(
    struct orc *o, struct owf *w, size_t i, struct onode *n, char **why)
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
orc_deploy_place(struct orc *o, struct owf *w)
{
	size_t nn = 0, i = 0, np = w->nparts;
	struct orc_place_node *nodes;
	struct orc_place_current *cur;
	struct orc_place_choice *ch;
	const char ***sync;
	int rv;

	for (struct onode *n = o->nodes; n != NULL; n = n->next) {
		nn++;
	}
	nodes = calloc(nn + 1, sizeof *nodes);
	cur = calloc(np + 1, sizeof *cur);
	ch = calloc(np + 1, sizeof *ch);
	sync = calloc(np + 1, sizeof *sync);
	if (!nodes || !cur || !ch || !sync) {
		free(nodes);
		free(cur);
		free(ch);
		free(sync);
		return LEDGE_ENOMEM;
	}
	for (struct onode *n = o->nodes; n != NULL; n = n->next, i++) {
		place_node(o, n, &nodes[i]);
	}
	for (size_t k = 0; k < np; k++) {
		struct oplace *p = &w->place[k];
		cur[k].node = p->node;
		cur[k].nreplicas = p->nrep;
		cur[k].replicas = (const char *const *)p->rep;
		/* The in-sync ones, in rep's order. */
		if ((sync[k] = calloc(p->nrep + 1, sizeof *sync[k])) != NULL) {
			for (size_t r = 0; r < p->nrep; r++) {
				if (orc_isr_has(p, p->rep[r])) {
					sync[k][cur[k].nsync++] = p->rep[r];
				}
			}
			cur[k].sync = (const char *const *)sync[k];
		}
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
			free(p->why);
			p->why = ch[k].why;
			ch[k].why = NULL;
			p->waiting = ch[k].wait;
			if (ch[k].wait) {
				continue; /* placed on its lost node, as is */
			}
			bool moved = (to == NULL) != (p->node == NULL) ||
			    (to && p->node && strcmp(to, p->node) != 0);
			if (moved) {
				free(p->node);
				p->node = orc_strdup(to);
				p->epoch = to ? o->next_epoch++ : 0;
			}
			orc_free_strs(p->rep, p->nrep);
			p->nrep = ch[k].nreplicas;
			p->rep = calloc(p->nrep + 1, sizeof *p->rep);
			for (size_t r = 0; p->rep && r < p->nrep; r++) {
				p->rep[r] =
				    orc_strdup(nodes[ch[k].replicas[r]].name);
			}
			if (p->rep == NULL) {
				p->nrep = 0;
			}
		}
	}
	orc_place_choices_free(ch, np);
	for (size_t k = 0; k < np; k++) {
		free(sync[k]);
	}
	free(sync);
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
	/* Whether the node runs what it was sent (invoke tells "not
	 * deployed yet" until then). */
	struct owf *w = orc_find_wf(d->o, d->wf);
	for (size_t i = 0; w != NULL && i < w->nparts; i++) {
		struct oplace *p = &w->place[i];
		if (p->node && strcmp(p->node, dp->node) == 0 &&
		    dp->gen > p->deploy_done) {
			p->deploy_done = dp->gen;
			if (why[0] == '\0' &&
			    (p->confirmed_on == NULL ||
			        strcmp(p->confirmed_on, dp->node) != 0)) {
				free(p->confirmed_on);
				p->confirmed_on = strdup(dp->node);
			}
		}
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

/* The deploy message for node `n` into m (its parts, and where the others
 * are): LEDGE_OK, or LEDGE_ENOMEM (m not to be finished). */
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
		return LEDGE_ENOMEM;
	}
	wire_map(m, 12);
	wire_str(m, "t");
	wire_str(m, "deploy");
	/* This message's number (mark_sent takes it next): the node reports
	 * its replicas' state for the setting of this deploy, and only the
	 * latest deploy's counts (orc_isr.c). */
	wire_str(m, "deploy");
	wire_u64(m, o->deploy_gen + 1);
	/* The node's epoch now: a node that was declared lost and joined
	 * again since refuses this deploy as stale. */
	wire_str(m, "node_epoch");
	wire_u64(m, n->epoch);
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
	return LEDGE_OK;
}

/* A deploy of w goes to node `node` now: its parts there are not
 * deployed until it answers (invoke says so, orc_api_fn.c). */
static void
mark_sent(struct orc *o, struct owf *w, const char *node)
{
	o->deploy_gen++;
	for (size_t i = 0; i < w->nparts; i++) {
		struct oplace *p = &w->place[i];
		if (p->node == NULL || strcmp(p->node, node) != 0) {
			continue;
		}
		p->deploy_sent = o->deploy_gen;
		if (p->confirmed_on != NULL &&
		    strcmp(p->confirmed_on, node) != 0) {
			free(p->confirmed_on); /* it ran elsewhere before */
			p->confirmed_on = NULL;
		}
	}
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
	dp->gen = o->deploy_gen;
	d->pending++;
	if (data == NULL || orc_node_client(o, n) != LEDGE_OK) {
		on_deployed(dp, MSG_EPROTO, NULL, 0);
		return;
	}
	msg_call(n->client, data, len, ORC_DEPLOY_TIMEOUT_MS, on_deployed, dp);
}

void
orc_deploy_wf(struct orc *o, struct owf *w, const char *only,
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
			reply_err(req, REPLY_BUSY, "out of memory");
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
			if (deploy_message(o, w, n, &m) == LEDGE_OK) {
				mark_sent(o, w, n->name);
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
