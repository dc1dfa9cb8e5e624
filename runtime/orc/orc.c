/*
 * orc.c - the orchestrator's lifecycle and its dispatch: requests on its
 * address go by their `t` to the route tables of the handler files; a
 * node's heartbeat (a request too) to the members, with the function
 * log lines it carries to the log ring (see orc.h, docs/protocol.md;
 * what lives where: orc_model.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ledge.h>

#include "base/rlog.h"
#include "code/code_sign.h"
#include "net/msg.h"
#include "net/msg_token.h"
#include "net/reply.h"
#include "net/wire.h"
#include "orc/orc.h"
#include "orc/orc_api.h"
#include "orc/orc_isr.h"
#include "orc/orc_logs.h"
#include "orc/orc_members.h"
#include "orc/orc_model.h"
#include "orc/orc_move.h"
#include "orc/orc_store.h"
#include "platform/loop.h"

#define TICK_MS         100
#define NODE_TIMEOUT_MS 3000

/*
 * `hb` (docs/protocol.md): a node's heartbeat, with the function log
 * lines it gathered since the last one.  It arrives on the request
 * address like every other request (one listener: nothing listens where
 * the operator did not ask).
 */
static void
heartbeat(void *ctx, struct msg_req *req, wire_v root)
{
	struct orc *o = ctx;
	char *name = wire_str_dup(wire_get(root, "name"));
	struct onode *n = name ? orc_find_node(o, name) : NULL;
	wire_v logs = wire_get(root, "logs");

	if (n == NULL) {
		reply_err(req, REPLY_NOT_FOUND,
		    "heartbeat from node '%s', which has not joined this "
		    "orchestrator",
		    name ? name : "?");
		free(name);
		return;
	}
	free(name);
	orc_members_heartbeat(o, n, root);
	for (size_t i = 0; i < wire_len(logs); i++) {
		orc_logs_record(o, n, wire_at(logs, i));
	}
	/* The answer names the nodes declared lost now: calls to them
	 * fail at once on the node (links_lost_set). */
	struct wire_w m;
	size_t nlost = 0;
	if (wire_w_init(&m) != 0) {
		reply_ok(req);
		return;
	}
	for (struct onode *x = o->nodes; x != NULL; x = x->next) {
		nlost += x->health == H_LOST;
	}
	wire_map(&m, 2);
	wire_str(&m, "ok");
	wire_bool(&m, true);
	wire_str(&m, "lost");
	wire_array(&m, nlost);
	for (struct onode *x = o->nodes; x != NULL; x = x->next) {
		if (x->health == H_LOST) {
			wire_str(&m, x->name);
		}
	}
	reply_wire(req, &m);
}

static const struct reply_route hb_routes[] = {
	{ "hb", heartbeat, MSG_ROLE_NODE },
};

static const struct reply_route *
orc_hb_routes(size_t *n)
{
	*n = sizeof hb_routes / sizeof hb_routes[0];
	return hb_routes;
}

/* The route tables of the handler files, and this file's. */
static const reply_table route_tables[] = {
	orc_hb_routes,
	orc_members_routes,
	orc_isr_routes,
	orc_api_code_routes,
	orc_api_wf_routes,
	orc_api_node_routes,
	orc_api_fn_routes,
	orc_logs_routes,
};

static void
on_request(void *arg, struct msg_req *req)
{
	reply_dispatch(req, route_tables,
	    sizeof route_tables / sizeof route_tables[0], arg);
}

static void
on_tick(void *arg)
{
	struct orc *o = arg;
	loop_timer_start(o->tick, TICK_MS);
	/* A node lost, or a placement that waited for a move to end. */
	bool lost = orc_members_check(o);
	if (lost) {
		orc_api_fn_node_lost(o);
	}
	if (lost || orc_move_replace_due(o)) {
		orc_move_replace_all(o);
	}
}

int
orc_start(struct orc **op, struct loop *l, struct store *store,
    struct rlog *log, const struct orc_opts *opts, char *err, size_t errlen)
{
	struct orc *o = calloc(1, sizeof *o);
	int rv;

	if (o == NULL ||
	    (o->logs = calloc(ORC_LOG_RING, sizeof *o->logs)) == NULL) {
		free(o);
		snprintf(err, errlen, "out of memory");
		return LEDGE_ENOMEM;
	}
	o->loop = l;
	o->store = store;
	o->log = log;
	o->tls = opts->tls;
	o->trust = code_trust_len(opts->trust) > 0 ? opts->trust : NULL;
	o->node_timeout_ms =
	    opts->node_timeout_ms ? opts->node_timeout_ms : NODE_TIMEOUT_MS;
	orc_store_load(o);
	for (struct onode *n = o->nodes; n != NULL; n = n->next) {
		orc_node_client(o, n);
	}
	if ((rv = msg_server_new(l, opts->listen, opts->tls, on_request, o,
	         &o->server, err, errlen)) != LEDGE_OK) {
		orc_free(o);
		return rv;
	}
	if ((o->tick = loop_timer_new(l, on_tick, o)) == NULL) {
		orc_free(o);
		return LEDGE_ENOMEM;
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
	    "listening on %s (requests and heartbeats); %zu workflows and "
	    "%zu nodes from the store; node timeout %u ms",
	    opts->listen, nwf, nnodes, o->node_timeout_ms);
	*op = o;
	return LEDGE_OK;
}

void
orc_free(struct orc *o)
{
	if (o == NULL) {
		return;
	}
	loop_timer_free(o->tick);
	orc_api_fn_fini(o);
	msg_server_free(o->server);
	while (o->nodes != NULL) {
		struct onode *n = o->nodes;
		o->nodes = n->next;
		orc_free_node(n);
	}
	while (o->wfs != NULL) {
		struct owf *w = o->wfs;
		o->wfs = w->next;
		orc_free_owf(w);
	}
	orc_logs_free(o);
	free(o);
}
