/*
 * reply.h - answers to control requests (docs/protocol.md).
 *
 * Every request on a control socket (CLI -> orchestrator, orchestrator ->
 * node, node -> node) is answered with one map.  A success carries
 * `ok: true` and the request's own fields; a failure is
 * `{ok: false, code, error}`: `code` one of the short words below, for
 * programs, and `error` a sentence for people.  This file is the one
 * place that writes that shape, and the table that routes a request to
 * its handler by its `op` name.
 *
 * Threads: any thread that owns the request.
 */
#ifndef LEDGE_NET_REPLY_H
#define LEDGE_NET_REPLY_H

#include <stddef.h>

#include "base/diag.h"
#include "net/msg.h"
#include "net/wire.h"

/* Error codes of `{ok: false, code}` replies (docs/protocol.md). */
#define REPLY_INVALID     "invalid"     /* malformed or refused request */
#define REPLY_BUSY        "busy"        /* out of memory, full, stopping */
#define REPLY_UNREACHABLE "unreachable" /* a node it needs did not answer */
#define REPLY_EXISTS      "exists"      /* the thing is there already */
#define REPLY_NOT_FOUND   "not-found"   /* no such workflow, part, node */
#define REPLY_NEED_CODE   "need-code"   /* upload the code named first */
#define REPLY_NO_NODE     "no-node"     /* no node can take it now */
#define REPLY_FAILED      "failed"      /* a node refused or a move failed */
#define REPLY_UNAVAILABLE "unavailable" /* its node was declared lost */
#define REPLY_FORBIDDEN   "forbidden"   /* the sender's role may not */
#define REPLY_NOT_DEPLOYED                                                     \
	"not-deployed" /* placed, but its node has not deployed it yet */

/*
 * Send the message built in `w` as the answer to `req`, then finish `w`
 * (wire_w_fini).  If `w` ran out of memory an empty answer goes out,
 * which a client reads as malformed.
 */
void reply_wire(struct msg_req *req, struct wire_w *w);

/* Answer `{ok: true}`. */
void reply_ok(struct msg_req *req);

/*
 * Answer `{ok: false, code, error}` with `error` formatted from fmt
 * (cut at 2 KiB).  `code` is one of the REPLY_* words.
 */
void reply_err(struct msg_req *req, const char *code, const char *fmt, ...)
    DIAG_PRINTF(3, 4);

/*
 * One entry of a dispatch table: requests whose `op` is `name` from a
 * sender with one of `roles` (MSG_ROLE_* bits, net/msg_token.h) go to
 * `fn(ctx, req, root)`, where root is the parsed request map (valid
 * until fn returns; fn answers req, at once or later).  Others are
 * answered REPLY_FORBIDDEN ("forbidden: viewer may not wf.start") and
 * change nothing.
 */
struct reply_route {
	const char *name;
	void (*fn)(void *ctx, struct msg_req *req, wire_v root);
	unsigned roles;
};

/* The entry of `table` (n entries) named `op`, or NULL. */
const struct reply_route *reply_route_find(
    const struct reply_route *table, size_t n, wire_v op);

/* A handler file's table: its entries, their count in *n. */
typedef const struct reply_route *(*reply_table)(size_t *n);

/*
 * Answer a request from the tables (searched in order): parse it, look
 * its `t` up, and call the handler with `ctx` and the parsed map; a
 * malformed message or an unknown `t` is answered REPLY_INVALID.
 */
void reply_dispatch(
    struct msg_req *req, const reply_table *tables, size_t ntables, void *ctx);

#endif
