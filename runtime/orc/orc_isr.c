/*
 * orc_isr.c - the in-sync sets of the parts' replicas (orc_isr.h).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ledge.h>

#include "base/rlog.h"
#include "net/msg_token.h"
#include "net/reply.h"
#include "net/wire.h"
#include "orc/orc_isr.h"
#include "orc/orc_model.h"
#include "orc/orc_store.h"
#include "workflow/workflow.h"

/* Part `name` ("wf/part") of o, or NULL; *wp its workflow. */
static struct oplace *
find_part(struct orc *o, const char *name, struct owf **wp)
{
	const char *slash = strchr(name, '/');
	char wfn[256];
	struct owf *w;
	if (slash == NULL || (size_t)(slash - name) >= sizeof wfn) {
		return NULL;
	}
	snprintf(wfn, sizeof wfn, "%.*s", (int)(slash - name), name);
	if ((w = orc_find_wf(o, wfn)) == NULL) {
		return NULL;
	}
	for (size_t i = 0; i < w->nparts; i++) {
		if (strcmp(orc_part_name(w, i), slash + 1) == 0) {
			*wp = w;
			return &w->place[i];
		}
	}
	return NULL;
}

void
orc_isr_heartbeat(struct orc *o, struct onode *n, wire_v instances)
{
	for (size_t i = 0; i < wire_len(instances); i++) {
		wire_v s = wire_at(instances, i);
		wire_v in = wire_get(s, "in_sync");
		char *name = wire_str_dup(wire_get(s, "part"));
		struct owf *w = NULL;
		struct oplace *p = name ? find_part(o, name, &w) : NULL;
		bool changed = false;
		/* Only the primary of this placement speaks for its
		 * replicas, and only as set by the last deploy it was sent
		 * (an older report may predate a change of replicas; after a
		 * restart of the orchestrator, none was sent yet). */
		uint64_t dep = wire_as_u64(wire_get(s, "deploy"), 0);
		if (p == NULL || p->node == NULL || p->moving ||
		    strcmp(p->node, n->name) != 0 ||
		    (p->deploy_sent != 0 && dep != p->deploy_sent)) {
			free(name);
			continue;
		}
		for (size_t k = 0; k < wire_len(in); k++) {
			char *rep =
			    wire_str_dup(wire_get(wire_at(in, k), "node"));
			uint64_t gen =
			    wire_as_u64(wire_get(wire_at(in, k), "gen"), 0);
			struct onode *rn = rep ? orc_find_node(o, rep) : NULL;
			struct oisr_ent *e;
			if (rn != NULL && rn->health == H_UP &&
			    orc_in_list(p->rep, p->nrep, rep) &&
			    (e = orc_isr_entry(p, rep)) != NULL && !e->in &&
			    gen >= e->gen) {
				e->in = true;
				changed = true;
				rlog_write(o->log, RLOG_INFO, "orchestrator",
				    "%s: replica on %s in sync (it may take "
				    "over if %s is lost)",
				    name, rep, n->name);
			}
			free(rep);
		}
		if (changed) {
			orc_store_save_wf(o, w);
		}
		free(name);
	}
}

void
orc_isr_node_gone(struct orc *o, const char *node, bool wiped)
{
	for (struct owf *w = o->wfs; w != NULL; w = w->next) {
		bool changed = false;
		for (size_t i = 0; i < w->nparts; i++) {
			struct oisr *s = &w->place[i].isr;
			if (wiped && w->place[i].node != NULL &&
			    strcmp(w->place[i].node, node) == 0 && s->n > 0) {
				/* Its generations start again from nothing. */
				orc_isr_clear(s);
				changed = true;
				continue;
			}
			for (size_t k = 0; k < s->n; k++) {
				if (s->e[k].in &&
				    strcmp(s->e[k].node, node) == 0) {
					s->e[k].in = false;
					changed = true;
				}
			}
		}
		if (changed) {
			orc_store_save_wf(o, w);
		}
	}
}

/*
 * `replica.drop` {node, peer, gen}: node's gate wants to stop waiting for
 * replica `peer`.  Out of the in-sync set of every part node is the
 * primary of, saved, then ok.  Refused for a node that is not up: it was
 * declared lost, and its parts may be failing over to that very replica.
 */
static void
replica_drop(void *ctx, struct msg_req *req, wire_v root)
{
	struct orc *o = ctx;
	char *node = wire_str_dup(wire_get(root, "node"));
	char *peer = wire_str_dup(wire_get(root, "peer"));
	uint64_t gen = wire_as_u64(wire_get(root, "gen"), 0);
	struct onode *n = node ? orc_find_node(o, node) : NULL;

	if (node == NULL || peer == NULL) {
		reply_err(
		    req, REPLY_INVALID, "replica.drop needs node and peer");
	} else if (n == NULL || n->health != H_UP) {
		reply_err(req, REPLY_FAILED,
		    "node %s is not up here (declared lost, or unknown): its "
		    "parts may be taken over by their replicas, so it must not "
		    "acknowledge writes without them",
		    node);
	} else {
		for (struct owf *w = o->wfs; w != NULL; w = w->next) {
			bool changed = false;
			for (size_t i = 0; i < w->nparts; i++) {
				struct oplace *p = &w->place[i];
				struct oisr_ent *e;
				if (p->node == NULL ||
				    strcmp(p->node, node) != 0 ||
				    !orc_in_list(p->rep, p->nrep, peer) ||
				    (e = orc_isr_entry(p, peer)) == NULL) {
					continue;
				}
				if (e->in) {
					rlog_write(o->log, RLOG_WARN,
					    "orchestrator",
					    "%s/%s: replica on %s out of sync "
					    "(it does not keep pace with %s): "
					    "it takes over only once it has "
					    "caught up",
					    w->name, orc_part_name(w, i), peer,
					    node);
				}
				changed |= e->in || gen > e->gen;
				e->in = false;
				e->gen = gen > e->gen ? gen : e->gen;
			}
			if (changed) {
				orc_store_save_wf(o, w);
			}
		}
		reply_ok(req);
	}
	free(node);
	free(peer);
}

static const struct reply_route routes[] = {
	{ "replica.drop", replica_drop, MSG_ROLE_NODE },
};

const struct reply_route *
orc_isr_routes(size_t *n)
{
	*n = sizeof routes / sizeof routes[0];
	return routes;
}
