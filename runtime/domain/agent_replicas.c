/*
 * agent_replicas.c - the agent as the arbiter of replica drops
 * (agent_int.h).
 *
 * A primary whose replica leaves writes unacknowledged for the replica
 * timeout may go on without it - but only once the orchestrator no longer
 * counts that replica as a place to fail over to; otherwise a failover
 * right after could promote a replica that lacks writes the primary has
 * acknowledged.  So the gate keeps those writes waiting (node/gate.h),
 * the agent sends `replica.drop` {node, peer, gen}, and once the
 * orchestrator has answered ok the gate lets them out.  An orchestrator
 * that cannot be reached, or refuses (this node was declared lost: the
 * part may be failing over already), keeps them waiting: no answer to a
 * client rather than one a failover could take back.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ledge.h>

#include "base/rlog.h"
#include "domain/agent_int.h"
#include "net/wire.h"
#include "node/links.h"
#include "node/node.h"
#include "platform/loop.h"

/* A drop asked for and not confirmed. */
struct agent_drop {
	struct agent_drop *next;
	struct agent *a;
	char peer[128];
	uint64_t gen;
	bool refused; /* logged once */
};

static void ask(struct agent_drop *d);

static void
on_answer(void *arg, int err, const void *data, size_t len)
{
	struct agent_drop *d = arg;
	struct agent *a = d->a;
	struct wire_r r;
	bool ok = false;
	if (agent_call_done(a)) {
		free(d);
		return;
	}
	if (err == MSG_OK && wire_parse(&r, data, len) == 0) {
		ok = wire_as_bool(wire_get(wire_root(&r), "ok"), false);
		if (!ok && !d->refused) {
			char *e =
			    wire_str_dup(wire_get(wire_root(&r), "error"));
			d->refused = true;
			rlog_write(node_log(a->n), RLOG_WARN, node_name(a->n),
			    "the orchestrator did not let writes go on without "
			    "replica %s: %s (they keep waiting)",
			    d->peer, e ? e : "refused");
			free(e);
		}
		wire_r_fini(&r);
	}
	if (ok) {
		links_replica_dropped(node_links(a->n), d->peer, d->gen);
		free(d);
		return;
	}
	/* Asked again while the drop still waits (drop_timer). */
	d->next = a->drops;
	a->drops = d;
	if (a->drop_timer != NULL) {
		loop_timer_start(a->drop_timer, AGENT_DROP_RETRY_MS);
	}
}

static void
ask(struct agent_drop *d)
{
	struct agent *a = d->a;
	struct wire_w m;
	const void *data;
	size_t len;
	if (wire_w_init(&m) != 0) {
		free(d);
		return;
	}
	wire_map(&m, 4);
	wire_str(&m, "t");
	wire_str(&m, "replica.drop");
	wire_str(&m, "node");
	wire_str(&m, node_name(a->n));
	wire_str(&m, "peer");
	wire_str(&m, d->peer);
	wire_str(&m, "gen");
	wire_u64(&m, d->gen);
	if ((data = wire_data(&m, &len)) == NULL) {
		free(d);
	} else {
		agent_call(a, data, len, AGENT_DROP_RETRY_MS * 8, on_answer, d);
	}
	wire_w_fini(&m);
}

/* The links' arbiter (loop thread). */
static void
on_drop_wanted(void *arg, const char *peer, uint64_t gen)
{
	struct agent *a = arg;
	struct agent_drop *d = calloc(1, sizeof *d);
	if (d == NULL) {
		return; /* the writes keep waiting */
	}
	d->a = a;
	snprintf(d->peer, sizeof d->peer, "%s", peer);
	d->gen = gen;
	ask(d);
}

static void
on_drop_timer(void *arg)
{
	struct agent *a = arg;
	struct agent_drop *d = a->drops;
	a->drops = NULL;
	while (d != NULL) {
		struct agent_drop *next = d->next;
		if (links_replica_dropping(node_links(a->n), d->peer, d->gen)) {
			ask(d);
		} else {
			free(d); /* it caught up, or was declared lost */
		}
		d = next;
	}
}

int
agent_replicas_start(struct agent *a)
{
	if ((a->drop_timer = loop_timer_new(
	         node_loop(a->n), on_drop_timer, a)) == NULL) {
		return LEDGE_ENOMEM;
	}
	links_set_arbiter(node_links(a->n), on_drop_wanted, a);
	return LEDGE_OK;
}

void
agent_replicas_stop(struct agent *a)
{
	links_set_arbiter(node_links(a->n), NULL, NULL);
	loop_timer_free(a->drop_timer);
	a->drop_timer = NULL;
	while (a->drops != NULL) {
		struct agent_drop *d = a->drops;
		a->drops = d->next;
		free(d);
	}
}
