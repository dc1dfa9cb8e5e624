/*
 * exec_ctx.h - the context a handler runs in, shared by the two halves of
 * the executor: exec.c (workers, the running of one event or batch and
 * its all-or-nothing result) and exec_api.c (the host API table, the
 * ledge_* calls a function makes during a handler).  Nothing outside
 * runtime/node/exec*.c includes it.
 *
 * Threads: a worker and its context belong to one thread.
 */
#ifndef LEDGE_NODE_EXEC_CTX_H
#define LEDGE_NODE_EXEC_CTX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <ledge.h>

#include "base/arena.h"
#include "base/hmap.h"
#include "node/node_event.h"

struct node;
struct node_code;
struct node_instance;
struct sched;
struct store_reader;

struct wentry {
	unsigned char *key; /* arena */
	uint32_t klen;
	unsigned char *val; /* arena */
	uint32_t vlen;
	bool del;
};

struct host_ctx {
	struct ledge_ctx pub; /* first: functions see only this */
	struct node_worker *w;
	struct node_instance *inst;
	struct node_event *ev;  /* the event being handled */
	struct node_code *code; /* the code running it */
	uint64_t dep;           /* newest commit seq this result depends on */
	bool aborted;           /* inline run hit a blocking call: redo it */
	int fail_err;    /* isolation: the host failed (LEDGE_ETIMEDOUT: a
	                    timeout, for a 504); a state write was refused
	                    (LEDGE_ENOSPC, LEDGE_EQUOTA: for a 507); else 0 */
	int64_t wgrowth; /* bytes the write set adds to the state (keys
	                    without prefix + values, less what it replaces
	                    or deletes), for store_fits and the quota */
	struct node_instance *park_on; /* a target left over its cap */

	struct wentry *writes; /* malloc'd, reused */
	size_t nwrites, capw;
	bool windexed;

	struct node_event *emits, *emits_tail;
	size_t nemits;

	bool replied;
	int status;
	const char *ctype; /* arena */
	const unsigned char *body;
	size_t blen;
	ledge_header *rh; /* arena */
	size_t nrh, caprh;
};

struct node_worker {
	const struct exec_env *env; /* borrowed from the node */
	struct sched *sched;
	bool extra;
	bool on_loop; /* the loop thread's worker, for inline runs */
	struct store_reader *reader;
	struct arena arena;
	struct hmap wmap;
	struct host_ctx ctx;
};

static inline struct host_ctx *
HC(ledge_ctx *ctx)
{
	return (struct host_ctx *)ctx;
}

/* The HTTP request of the event being handled, or NULL. */
static inline const struct node_http *
exec_req_http(const struct host_ctx *c)
{
	return c->ev != NULL && (c->ev->flags & NEF_HTTPIN) ? c->ev->http
	                                                    : NULL;
}

/* The host API table every context's pub.api points at (exec_api.c). */
const ledge_host_api *exec_api_table(void);

/*
 * Free the emitted events from *link to the end of c's list (releasing
 * their reserved mailbox slots) and end the list at *link.  A handler's
 * emits go all or none: a failed cast, a failed handler.
 */
void exec_api_free_emits(struct host_ctx *c, struct node_event **link);

#endif
