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

#include "net/wire.h"

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

struct diag;
struct owf;

/*
 * The signatures a wf.start brought (`sigs`: code hash -> signature
 * text; may be absent), each kept with its code if it is a valid one;
 * then, with a trust set, whether every code of w is signed by a trusted
 * key: one message per function whose code is not, at its `code:` (e.g.
 * "app.yaml:7:11: code 'x.so' is not signed by a trusted key: there is no
 * signature").  Returns the number of such messages (0: all is well).
 * orc_api_code.c.
 */
size_t orc_code_check_signed(
    struct orc *o, const struct owf *w, wire_v sigs, struct diag *d);

/*
 * The same for one code (fn.reload): sig (may be NULL) is kept if valid;
 * then, with a trust set, LEDGE_OK if it is a trusted signature of hash,
 * else LEDGE_EINVAL with the reason in err.
 */
int orc_code_check_one(struct orc *o, const char *hash, const char *sig,
    size_t siglen, char *err, size_t errlen);

#endif
