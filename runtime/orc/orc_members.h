/*
 * orc_members.h - the nodes of the domain: a node joins (and joins again
 * after a restart, or after it was lost), keeps itself up with
 * heartbeats (`hb` requests on the orchestrator's address), is declared lost
 * when none came for node_timeout_ms (the other nodes are told to refuse what
 * it sends, and its parts are placed elsewhere), and is fenced when it comes
 * back: a new membership epoch, and the parts now placed elsewhere stop there.
 * Private to the orchestrator (orc_model.h).
 *
 * Threads: loop thread.
 */
#ifndef LEDGE_ORC_ORC_MEMBERS_H
#define LEDGE_ORC_ORC_MEMBERS_H

#include <stdbool.h>
#include <stddef.h>

#include "net/wire.h"

struct onode;
struct orc;
struct reply_route;

/*
 * The requests of nodes handled here (`join`; docs/protocol.md), for
 * the dispatch: n of them, ctx the struct orc.
 */
const struct reply_route *orc_members_routes(size_t *n);

/*
 * A heartbeat `root` (t: hb) of node n: it is heard from now, with its
 * part counters and the replicas it reports in sync (orc_isr.h).
 * Ignored if n is not up, or its epoch is not n's (a
 * lost node must join again before it counts as up).
 */
void orc_members_heartbeat(struct orc *o, struct onode *n, wire_v root);

/*
 * Declare lost every up node not heard from for node_timeout_ms, and
 * fence it (the nodes that are up refuse what it sends).  Whether one
 * was lost (then its parts need placing again: orc_move_replace_all).
 */
bool orc_members_check(struct orc *o);

#endif
