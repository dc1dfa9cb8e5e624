/*
 * orc_members.c - the nodes of the domain: join, heartbeats, failure
 * detection and fencing (orc_members.h).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ledge.h>

#include "base/clock.h"
#include "base/rlog.h"
#include "net/msg.h"
#include "net/msg_token.h"
#include "net/reply.h"
#include "net/wire.h"
#include "orc/orc_deploy.h"
#include "orc/orc_isr.h"
#include "orc/orc_members.h"
#include "orc/orc_model.h"
#include "orc/orc_move.h"
#include "orc/orc_store.h"
#include "workflow/workflow.h"

/* ------------------------------------------------------------------ */
/* join                                                                */

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
join(void *ctx, struct msg_req *req, wire_v root)
{
	struct orc *o = ctx;
	char *name = wire_str_dup(wire_get(root, "name"));
	uint64_t inc = wire_as_u64(wire_get(root, "incarnation"), 0);
	struct onode *n;
	bool fresh = false, changed = false;
	char **fenced = NULL;
	size_t nfenced = 0;
	struct wire_w m;

	if (name == NULL || !wire_ok(wire_get(root, "url"))) {
		reply_err(req, REPLY_INVALID, "join needs name and url");
		free(name);
		return;
	}
	if ((n = orc_find_node(o, name)) == NULL) {
		if ((n = calloc(1, sizeof *n)) == NULL) {
			reply_err(req, REPLY_BUSY, "out of memory");
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
	orc_set_strs(
	    &n->running, &n->nrunning, wire_get(root, "running"), false);
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
		orc_isr_node_gone(o, n->name, true); /* it holds nothing now */
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
	orc_set_strs(&n->lk, &n->nlabels, wire_get(root, "labels"), true);
	{
		size_t nv = 0;
		char **vals = NULL;
		orc_set_strs(&vals, &nv, wire_get(root, "labels"), false);
		orc_free_strs(n->lv, n->nlabels);
		n->lv = vals;
	}
	orc_set_strs(&n->res, &n->nres, wire_get(root, "resources"), false);
	orc_node_client(o, n);
	if (fresh || changed) {
		orc_store_save_node(o, n);
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
		reply_wire(req, &m);
	}
	orc_free_strs(fenced, nfenced);
	if (fresh || changed) {
		/* New capacity: pending parts may fit now. */
		orc_move_replace_all(o);
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
			orc_deploy_wf(o, w, n->name, NULL, NULL, NULL);
		}
	}
}

static const struct reply_route routes[] = {
	{ "join", join, MSG_ROLE_NODE },
};

const struct reply_route *
orc_members_routes(size_t *n)
{
	*n = sizeof routes / sizeof routes[0];
	return routes;
}

/* ------------------------------------------------------------------ */
/* heartbeats                                                          */

void
orc_members_heartbeat(struct orc *o, struct onode *n, wire_v root)
{
	/* A lost node must join again before it counts as up. */
	if (n->health == H_UP &&
	    wire_as_u64(wire_get(root, "epoch"), 0) == n->epoch) {
		wire_v inst = wire_get(root, "instances");
		n->last_seen = clock_mono_ms();
		n->last_hb_wall = wire_as_u64(wire_get(root, "ms"), 0);
		n->store_bytes = wire_as_u64(wire_get(root, "store_bytes"), 0);
		orc_free_stats(n);
		n->stats = calloc(wire_len(inst) + 1, sizeof *n->stats);
		for (size_t i = 0; n->stats && i < wire_len(inst); i++) {
			wire_v s = wire_at(inst, i);
			n->stats[i].part = wire_str_dup(wire_get(s, "part"));
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
			n->stats[i].replicas =
			    wire_as_u64(wire_get(s, "replicas"), 0);
			n->stats[i].replicas_lagging =
			    wire_as_u64(wire_get(s, "replicas_lagging"), 0);
			n->stats[i].keyed = wire_ok(wire_get(s, "keys_active"));
			n->stats[i].keys_active =
			    wire_as_u64(wire_get(s, "keys_active"), 0);
			n->stats[i].keys_stored =
			    wire_as_u64(wire_get(s, "keys_stored"), 0);
			n->stats[i].key_activations =
			    wire_as_u64(wire_get(s, "key_activations"), 0);
			n->stats[i].key_passivations =
			    wire_as_u64(wire_get(s, "key_passivations"), 0);
			n->nstats = i + 1;
		}
		orc_isr_heartbeat(o, n, inst);
	}
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
			    orc_node_client(o, n) == LEDGE_OK) {
				msg_call(n->client, data, len,
				    ORC_DEPLOY_TIMEOUT_MS, NULL, NULL);
			}
		}
	}
	wire_w_fini(&m);
}

bool
orc_members_check(struct orc *o)
{
	uint64_t now = clock_mono_ms();
	bool lost = false;
	for (struct onode *n = o->nodes; n != NULL; n = n->next) {
		if (n->health == H_UP && n->last_seen != 0 &&
		    now - n->last_seen > o->node_timeout_ms &&
		    now >= n->grace_until) {
			n->health = H_LOST;
			lost = true;
			orc_free_stats(n);
			rlog_write(o->log, RLOG_WARN, "orchestrator",
			    "node %s lost: no heartbeat for %" PRIu64 " ms; "
			    "placing its parts elsewhere",
			    n->name, now - n->last_seen);
			/* First: no part may fail over to a replica on it
			 * (nor its primary go on without it unasked). */
			orc_isr_node_gone(o, n->name, false);
			fence_node(o, n);
		}
	}
	return lost;
}
