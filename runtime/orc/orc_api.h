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

/* node.list, node.drain (orc_api_node.c). */
const struct reply_route *orc_api_node_routes(size_t *n);

/* code.put, code.get (orc_api_code.c). */
const struct reply_route *orc_api_code_routes(size_t *n);

#endif
