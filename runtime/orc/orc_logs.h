/*
 * orc_logs.h - the last ORC_LOG_RING function log lines the nodes
 * published (o->logs), and the `logs` request that reads them.  Private
 * to the orchestrator (orc_model.h).
 *
 * Threads: loop thread.
 */
#ifndef LEDGE_ORC_ORC_LOGS_H
#define LEDGE_ORC_ORC_LOGS_H

#include <stddef.h>

#include "net/wire.h"

struct onode;
struct orc;
struct reply_route;

/* Keep the log line `root` (t: log) node n published; the oldest kept
 * goes. */
void orc_logs_record(struct orc *o, struct onode *n, wire_v root);

/* `logs` (docs/protocol.md) for the dispatch; n of them. */
const struct reply_route *orc_logs_routes(size_t *n);

/* Free the lines kept (before o is freed). */
void orc_logs_free(struct orc *o);

#endif
