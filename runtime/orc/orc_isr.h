/*
 * orc_isr.h - which replicas of a part hold every write its primary
 * acknowledged: the in-sync set (struct oisr, orc_model.h).
 *
 * The set shrinks only when the orchestrator says so first: when a node
 * is declared lost or comes back with a new data folder (it holds
 * nothing), or when a primary asks to go on without a replica that does
 * not keep pace (`replica.drop`, answered once the set no longer counts
 * it: until then the primary keeps the writes waiting, node/gate.h).  It
 * grows from heartbeats: the primary reports each replica that holds its
 * snapshot and keeps pace, with the gate generation that is true at - a
 * report made before the replica's last drop is older than the drop and
 * changes nothing.  Only a replica in the set may take over from a lost
 * primary (orc_deploy_place); with none, the part waits for its node.
 * Private to the orchestrator (orc_model.h).
 *
 * Threads: loop thread.
 */
#ifndef LEDGE_ORC_ORC_ISR_H
#define LEDGE_ORC_ORC_ISR_H

#include <stdbool.h>
#include <stddef.h>

#include "net/wire.h"

struct onode;
struct orc;
struct reply_route;

/* The requests handled here (`replica.drop`; docs/protocol.md), for the
 * dispatch: n of them, ctx the struct orc. */
const struct reply_route *orc_isr_routes(size_t *n);

/* The `instances` of a heartbeat of node n (up, current epoch): the
 * replicas it reports in sync join the sets of the parts it is the
 * primary of (saved when one changed). */
void orc_isr_heartbeat(struct orc *o, struct onode *n, wire_v instances);

/* Node `node` holds no part's writes any more (declared lost, or with
 * `wiped` a new data folder): out of every in-sync set, saved before this
 * returns.  Wiped, the sets of the parts it is the primary of are emptied
 * too (its gate counts its generations from nothing again). */
void orc_isr_node_gone(struct orc *o, const char *node, bool wiped);

#endif
