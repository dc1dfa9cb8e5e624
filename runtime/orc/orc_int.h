/*
 * orc_int.h - the orchestrator's internals, shared by its files.  Private
 * to the orchestrator: only orc*.c include it; everyone else uses orc.h.
 *
 * What lives where:
 *   orc.c        - lifecycle (orc_start, orc_free), the request dispatch,
 *                  the records below and the lookups on them, nodes (join,
 *                  heartbeats and logs on the pub/sub address, failure
 *                  detection and fencing), persistence in the store and
 *                  loading it again, metrics.
 *   orc_deploy.c - applying a placement (orc_place), the deploy messages
 *                  and their fan-out to nodes (orc_deploy_wf), transitions
 *                  that move functions with their state (orc_replace_all),
 *                  fn.move and node.drain.
 *   orc_api.c    - the CLI's requests: wf.start/stop/list/show, node.list,
 *                  code.put/get, logs, fn.reload, and the relay of invoke
 *                  and state.get to the node that runs the part.
 *
 * Threads: loop thread, like everything in the orchestrator.
 */
#ifndef LEDGE_ORC_ORC_INT_H
#define LEDGE_ORC_ORC_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "net/wire.h"

struct diag;
struct loop;
struct loop_timer;
struct msg_client;
struct msg_req;
struct msg_server;
struct msg_sub;
struct msg_tls;
struct rlog;
struct store;
struct workflow;

#define ORC_DEPLOY_TIMEOUT_MS 20000
#define ORC_LOG_RING          20000

enum { H_UP = 0, H_LOST = 1 };

struct part_stat {
	char *part;
	uint64_t events, errors, emitted, mailbox, state_bytes;
};

struct onode {
	struct onode *next;
	char *name, *url, *arch, *http;
	size_t nlabels;
	char **lk, **lv;
	size_t nres;
	char **res;
	int cores;
	uint64_t mem_mb;
	uint64_t incarnation, epoch;
	uint64_t boot; /* its process's start id, from its last join */
	int health;
	bool draining;
	uint64_t last_seen; /* monotonic ms */
	uint64_t last_hb_wall;
	struct msg_client *client;
	size_t nrunning;
	char **running; /* wf/part, from its last join */
	size_t nfence;
	char **fence; /* parts it was told to stop on coming back, until its
	                 joins no longer report them (a join reply can be
	                 lost) */
	size_t nstats;
	struct part_stat *stats;
	uint64_t store_bytes;
};

struct oplace {
	char *node; /* NULL: pending */
	uint64_t epoch;
	size_t nrep;
	char **rep;
	char *why;   /* pending reason, or a note */
	bool moving; /* its state is on the way to `node` (a transition) */
};

struct owf {
	struct owf *next;
	char *name, *file, *yaml;
	size_t ncode;
	char **ck, **cv;     /* code path (or path@arch) -> hash */
	struct workflow *wf; /* parsed */
	size_t nparts;
	struct oplace *place; /* functions, then resources */
	char **deployed_on;   /* nodes it was last deployed to */
	size_t ndeployed;
	bool busy;     /* a move of its parts is under way */
	bool adopted;  /* run by `ledge run` itself: never placed again */
	bool replaced; /* its last wf.start replaced a running one */
};

struct log_line {
	uint64_t seq, ms;
	int level;
	char *node, *wf, *who, *line;
};

struct orc {
	struct loop *loop;
	struct store *store;
	struct rlog *log;
	const struct msg_tls *tls;
	uint32_t node_timeout_ms;
	struct msg_server *server;
	struct msg_sub *sub;
	struct loop_timer *tick;
	struct onode *nodes;
	struct owf *wfs;
	uint64_t next_epoch; /* placement epochs, domain-wide */
	struct log_line *logs;
	uint64_t log_seq;
	bool replace_wanted; /* a busy workflow waits for orc_replace_all */
};

/* A deployment fans out to nodes; the last answer finishes it. */
struct deploy_op {
	struct orc *o;
	char *wf;
	int pending;
	char errors[2048];
	void (*done)(struct deploy_op *d);
	struct msg_req *req; /* the CLI request to answer, or NULL */
	void *user;          /* for done */
	struct deploy_part {
		struct deploy_op *d;
		char *node;
	} * parts;
	size_t nparts;
};

/* ------------------------------------------------------------------ */
/* orc.c: records, lookups, replies                                    */

/* Free v[0..n) and v (either may be NULL). */
void orc_free_strs(char **v, size_t n);

/* Whether s is one of v[0..n). */
bool orc_in_list(char **v, size_t n, const char *s);

/* Answer req with the message in w, and finish w. */
void orc_send_wire(struct msg_req *req, struct wire_w *w);

/* Answer req with {ok: false, code, error: the formatted reason}. */
void orc_reply_err(struct msg_req *req, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Name of part i of w (functions first, then resources); owned by w. */
const char *orc_part_name(const struct owf *w, size_t i);

/* Whether part i of w is a function (else a resource). */
bool orc_part_is_fn(const struct owf *w, size_t i);

/* The node or workflow of that name, or NULL; owned by o. */
struct onode *orc_find_node(struct orc *o, const char *name);
struct owf *orc_find_wf(struct orc *o, const char *name);

/* Index of function fn (may be NULL) in w, or -1. */
ssize_t orc_fn_index(struct owf *w, const char *fn);

/* Free what p holds and zero it. */
void orc_free_place(struct oplace *p);

/* Free w and everything it holds. */
void orc_free_owf(struct owf *w);

/*
 * A workflow record from its text (copied) and its code map; nothing
 * placed yet.  NULL if it does not parse (reasons in d) or memory ran out.
 */
struct owf *orc_make_owf(const char *name, const char *file, const char *yaml,
    size_t ylen, wire_v code, struct diag *d);

/* How many parts are placed on node `node`. */
unsigned orc_parts_on(struct orc *o, const char *node);

/* Connect n->client to n->url if it is not already; 0 or -1 (logged). */
int orc_node_client(struct orc *o, struct onode *n);

/* Save w, its placements and the epoch counter in the store. */
/* Write node n (and whether it is draining) to the store. */
void orc_save_node(struct orc *o, struct onode *n);
void orc_save_wf(struct orc *o, struct owf *w);

/* Delete w and its placements from the store. */
void orc_forget_wf(struct orc *o, const char *name);

/* ------------------------------------------------------------------ */
/* orc_deploy.c: placement, deployment, moves                          */

/*
 * Place the parts of w on the nodes, given where they are now
 * (orc_place.h): a part that moves gets a new epoch, and the replicas are
 * chosen again.  LEDGE_OK, or an error with w unchanged.
 */
int orc_place(struct orc *o, struct owf *w);

/*
 * Send workflow w to every up node with parts of it (and an undeploy to
 * nodes that had parts before and have none now).  `only`: just this
 * node (NULL: all).  req: the request to answer in done (or NULL); done
 * (may be NULL) runs when every node answered.
 */
void orc_deploy_wf(struct orc *o, struct owf *w, const char *only,
    struct msg_req *req, void (*done)(struct deploy_op *));

/* Place again every workflow with parts pending or on a node that can no
 * longer take them, and move what changed (with its state). */
void orc_replace_all(struct orc *o);

/* Requests handled there (root: the parsed request, valid for the call;
 * each answers req). */
void orc_handle_fn_move(struct orc *o, struct msg_req *req, wire_v root);
void orc_handle_node_drain(struct orc *o, struct msg_req *req, wire_v root);

/* ------------------------------------------------------------------ */
/* orc_api.c: the CLI's requests (each answers req)                    */

void orc_handle_wf_start(struct orc *o, struct msg_req *req, wire_v root);
void orc_handle_wf_stop(struct orc *o, struct msg_req *req, wire_v root);
void orc_handle_wf_list(struct orc *o, struct msg_req *req);
void orc_handle_wf_show(struct orc *o, struct msg_req *req, wire_v root);
void orc_handle_node_list(struct orc *o, struct msg_req *req);
void orc_handle_code_put(struct orc *o, struct msg_req *req, wire_v root);
void orc_handle_code_get(struct orc *o, struct msg_req *req, wire_v root);
/* invoke and state.get: part_key names the field with the part. */
void orc_handle_relay(
    struct orc *o, struct msg_req *req, wire_v root, const char *part_key);
void orc_handle_logs(struct orc *o, struct msg_req *req, wire_v root);
void orc_handle_fn_reload(struct orc *o, struct msg_req *req, wire_v root);

#endif
