/*
 * orc_api.h - the requests the orchestrator answers (docs/protocol.md),
 * one file per group, each giving the dispatch (orc.c) a table of
 * {name, fn} (net/reply.h) whose ctx is the struct orc.  Every handler
 * answers its request, at once or when the nodes it asked have answered.
 * Private to the orchestrator (orc_model.h).
 *
 * Threads: loop thread.
 */
#ifndef LEDGE_ORC_ORC_API_H
#define LEDGE_ORC_ORC_API_H

#include <stddef.h>

struct reply_route;

/* wf.start, wf.stop, wf.list, wf.show (orc_api_wf.c); n of them. */
const struct reply_route *orc_api_wf_routes(size_t *n);

/* invoke, state.get, fn.reload, fn.move (orc_api_fn.c). */
const struct reply_route *orc_api_fn_routes(size_t *n);

struct orc;

/*
 * The invokes and state reads relayed to a node that is now declared
 * lost are answered at once (`unavailable`), not when their node would
 * have timed out (orc_api_fn.c; after orc_members_check found one).
 */
void orc_api_fn_node_lost(struct orc *o);

/* Before o is freed: relays still out no longer refer to it (their
 * answers come after, with the nodes' clients closed). */
void orc_api_fn_fini(struct orc *o);

/* node.list, node.drain (orc_api_node.c). */
const struct reply_route *orc_api_node_routes(size_t *n);

/* code.put, code.get (orc_api_code.c). */
const struct reply_route *orc_api_code_routes(size_t *n);

#endif
