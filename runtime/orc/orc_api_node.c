/*
 * orc_api_node.c - the requests on nodes: node.list, node.drain
 * (docs/protocol.md; orc_api.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "base/rlog.h"
#include "net/msg.h"
#include "net/msg_token.h"
#include "net/reply.h"
#include "net/wire.h"
#include "orc/orc_api.h"
#include "orc/orc_deploy.h"
#include "orc/orc_model.h"
#include "orc/orc_move.h"
#include "orc/orc_store.h"

static void
node_list(void *ctx, struct msg_req *req, wire_v root)
{
	struct orc *o = ctx;
	(void)root;
	struct wire_w m;
	size_t n = 0;
	uint64_t now = clock_mono_ms();
	for (struct onode *x = o->nodes; x != NULL; x = x->next) {
		n++;
	}
	if (wire_w_init(&m) != 0) {
		reply_err(req, REPLY_BUSY, "out of memory");
		return;
	}
	wire_map(&m, 2);
	wire_str(&m, "ok");
	wire_bool(&m, true);
	wire_str(&m, "nodes");
	wire_array(&m, n);
	for (struct onode *x = o->nodes; x != NULL; x = x->next) {
		wire_map(&m, 11);
		wire_str(&m, "name");
		wire_str(&m, x->name);
		wire_str(&m, "url");
		wire_str(&m, x->url);
		wire_str(&m, "labels");
		wire_map(&m, x->nlabels);
		for (size_t i = 0; i < x->nlabels; i++) {
			wire_str(&m, x->lk[i]);
			wire_str(&m, x->lv[i]);
		}
		wire_str(&m, "arch");
		wire_str(&m, x->arch);
		wire_str(&m, "cores");
		wire_u64(&m, (uint64_t)x->cores);
		wire_str(&m, "mem_mb");
		wire_u64(&m, x->mem_mb);
		wire_str(&m, "resources");
		wire_array(&m, x->nres);
		for (size_t i = 0; i < x->nres; i++) {
			wire_str(&m, x->res[i]);
		}
		wire_str(&m, "health");
		wire_str(&m,
		    x->health == H_LOST ? "lost"
		        : x->draining   ? "draining"
		                        : "up");
		wire_str(&m, "instances");
		wire_u64(&m, orc_parts_on(o, x->name));
		wire_str(&m, "last_heartbeat_ms");
		wire_u64(&m, x->last_seen ? now - x->last_seen : UINT64_MAX);
		wire_str(&m, "epoch");
		wire_u64(&m, x->epoch);
	}
	reply_wire(req, &m);
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
		reply_wire(dr->req, &m);
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

static void
node_drain(void *ctx, struct msg_req *req, wire_v root)
{
	struct orc *o = ctx;
	char *name = wire_str_dup(wire_get(root, "name"));
	struct onode *n = name ? orc_find_node(o, name) : NULL;
	struct drain *dr;

	if (n == NULL) {
		reply_err(req, REPLY_NOT_FOUND, "no node '%s' in the domain",
		    name ? name : "");
		free(name);
		return;
	}
	for (struct owf *w = o->wfs; w != NULL; w = w->next) {
		if (w->busy) {
			reply_err(req, REPLY_BUSY,
			    "workflow %s is being moved; try again", w->name);
			free(name);
			return;
		}
	}
	if ((dr = calloc(1, sizeof *dr)) == NULL ||
	    wire_w_init(&dr->items) != 0 || wire_w_init(&dr->stay) != 0) {
		free(dr);
		reply_err(req, REPLY_BUSY, "out of memory");
		free(name);
		return;
	}
	dr->o = o;
	dr->req = req;
	dr->node = name;
	dr->pending = 1;
	n->draining = true;
	orc_store_save_node(o, n); /* until it restarts */
	rlog_write(
	    o->log, RLOG_INFO, "orchestrator", "draining node %s", n->name);
	for (struct owf *w = o->wfs; w != NULL; w = w->next) {
		struct oplace *before;
		if (w->adopted) {
			continue;
		}
		before = orc_copy_places(w);
		if (before == NULL) {
			continue;
		}
		orc_deploy_place(o, w);
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
		if (orc_places_differ(w, before)) {
			dr->pending++;
			orc_move_start(o, w, before, NULL, drain_wf_done, dr);
		}
		orc_free_places(before, w->nparts);
	}
	if (--dr->pending == 0) {
		drain_reply(dr);
	}
}

static const struct reply_route routes[] = {
	{ "node.list", node_list, MSG_ROLES_READ },
	{ "node.drain", node_drain, MSG_ROLES_ADMIN },
};

const struct reply_route *
orc_api_node_routes(size_t *n)
{
	*n = sizeof routes / sizeof routes[0];
	return routes;
}
