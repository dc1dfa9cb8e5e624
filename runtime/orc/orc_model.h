/*
 * orc_model.h - the orchestrator's records and the lookups on them.
 * Private to the orchestrator: only orc*.c include it; everyone else uses
 * orc.h.
 *
 * The orchestrator's files, each calling only those below it:
 *   orc.c          - lifecycle (orc_start, orc_free) and the dispatch of
 *                    requests (by the route tables of orc_api.h) and of
 *                    published messages.
 *   orc_api_*.c    - the requests, one file per group (orc_api.h).
 *   orc_adopt.c    - workflows `ledge run` runs itself (orc.h).
 *   orc_metrics.c  - the Prometheus view (orc.h).
 *   orc_logs.c     - the ring of function log lines and `logs`.
 *   orc_members.c  - nodes: join, heartbeats, loss, fencing.
 *   orc_isr.c      - the in-sync sets of the parts' replicas.
 *   orc_move.c     - transitions that move functions with their state.
 *   orc_deploy.c   - applying a placement (orc_place.h) and the deploy
 *                    messages to the nodes.
 *   orc_store.c    - the desired state in the store, and loading it.
 *   orc_model.c    - the records below and the lookups on them.
 *
 * Threads: loop thread, like everything in the orchestrator.
 */
#ifndef LEDGE_ORC_ORC_MODEL_H
#define LEDGE_ORC_ORC_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "net/wire.h"

struct diag;
struct loop;
struct loop_timer;
struct msg_client;
struct msg_server;
struct msg_tls;
struct rlog;
struct store;
struct workflow;

/* How long a node has to answer a deploy (and the other control calls). */
#define ORC_DEPLOY_TIMEOUT_MS 20000
/* Function log lines kept (o->logs). */
#define ORC_LOG_RING 20000

/* A node's health as the orchestrator sees it. */
enum { H_UP = 0, H_LOST = 1 };

/* The counters of one part a node reported in its last heartbeat. */
struct part_stat {
	char *part;
	uint64_t events, errors, emitted, mailbox, state_bytes;
	/* replicas its node streams it to, and how many of them lag */
	uint64_t replicas, replicas_lagging;
	/* a keyed function: keys in memory, keys with state, activations
	 * and passivations since deploy */
	bool keyed;
	uint64_t keys_active, keys_stored, key_activations, key_passivations;
};

/* A node that joined (or was loaded from the store). */
struct orc_relay;

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
	/* not lost before this (monotonic ms): loaded from the store, its
	 * heartbeats may need time to find a restarted orchestrator */
	uint64_t grace_until;
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

/*
 * The replicas of a part that hold every write its primary acknowledged
 * (the in-sync set; orc_isr.c): only those may take over when the
 * primary is lost.  Entries are for placement epoch `epoch` only (a part
 * placed anew starts with none in sync); `gen` is the primary's gate
 * generation of the replica's last drop (node/gate.h): a report that it is
 * in sync made before that drop is stale.
 */
struct oisr_ent {
	char *node;
	bool in;
	uint64_t gen;
};
struct oisr {
	uint64_t epoch;
	size_t n;
	struct oisr_ent *e;
};

/* Where one part of a workflow is placed. */
struct oplace {
	char *node; /* NULL: pending */
	uint64_t epoch;
	size_t nrep;
	char **rep;
	char *why;       /* pending reason, or a note */
	bool moving;     /* its state is on the way to `node` (a transition) */
	bool waiting;    /* its node is lost and no replica is in sync: it
	                    stays placed there until the node is back */
	struct oisr isr; /* not copied by orc_copy_places */
	/* The last deploy message sent to `node` with this part
	 * (o->deploy_gen), the last one answered (or timed out), and the
	 * node that last confirmed running it.  While a deploy to a node
	 * that never confirmed the part is out, invoke says "not deployed
	 * yet" (0, 0, NULL: none this run - the node answers for itself). */
	uint64_t deploy_sent, deploy_done;
	char *confirmed_on;
};

/* A workflow of the domain. */
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

/* One function log line (orc_logs.c). */
struct log_line {
	uint64_t seq, ms;
	int level;
	char *node, *wf, *who, *line;
};

/* The orchestrator. */
struct orc {
	struct loop *loop;
	struct store *store;
	struct rlog *log;
	const struct msg_tls *tls;
	const struct code_trust *trust; /* NULL: any code is started */
	uint32_t node_timeout_ms;
	struct msg_server *server;
	struct loop_timer *tick;
	struct onode *nodes;
	struct owf *wfs;
	uint64_t next_epoch;      /* placement epochs, domain-wide */
	uint64_t deploy_gen;      /* deploy messages sent (struct oplace) */
	struct orc_relay *relays; /* invokes relayed to nodes (orc_api_fn.c) */
	struct log_line *logs;
	uint64_t log_seq;
	bool replace_wanted; /* a busy workflow waits for a new placement */
};

/* Free v[0..n) and v (either may be NULL). */
void orc_free_strs(char **v, size_t n);

/* strdup(s), or NULL if s is NULL (or memory ran out). */
char *orc_strdup(const char *s);

/* Whether s is one of v[0..n). */
bool orc_in_list(char **v, size_t n, const char *s);

/*
 * Replace *dst (n strings, freed) with copies of the strings of v: its
 * keys if `keys`, else its values (map) or items (array).  A string that
 * is not one becomes "".  Unchanged if memory runs out.
 */
void orc_set_strs(char ***dst, size_t *n, wire_v v, bool keys);

/* Name of part i of w (functions first, then resources); owned by w. */
const char *orc_part_name(const struct owf *w, size_t i);

/* Whether part i of w is a function (else a resource). */
bool orc_part_is_fn(const struct owf *w, size_t i);

/* The node or workflow of that name, or NULL; owned by o. */
struct onode *orc_find_node(struct orc *o, const char *name);
struct owf *orc_find_wf(struct orc *o, const char *name);

/* Index of function fn (may be NULL) in w, or -1 if it has none such.  A
 * keyed function split into slots is found by its name too: its first
 * slot (the others follow it). */
ssize_t orc_fn_index(struct owf *w, const char *fn);

/* Take w off o's list of workflows (not freed; nothing if absent). */
void orc_unlink_wf(struct orc *o, struct owf *w);

/* Free what p holds and zero it. */
void orc_free_place(struct oplace *p);

/* Whether replica `node` of p is in its in-sync set (for p's epoch, and
 * still one of its replicas). */
bool orc_isr_has(const struct oplace *p, const char *node);

/* How many of p's replicas are in sync. */
size_t orc_isr_count(const struct oplace *p);

/* The entry for `node` of p's in-sync set, made (not in sync) if there is
 * none; the set is emptied first if it is for another epoch than p's.
 * NULL if memory ran out. */
struct oisr_ent *orc_isr_entry(struct oplace *p, const char *node);

/* Free the set's entries and zero it. */
void orc_isr_clear(struct oisr *s);

/* Copies of the placements of w (to compare and to go back to), or NULL
 * if memory ran out; free with orc_free_places(c, w->nparts). */
struct oplace *orc_copy_places(struct owf *w);

/* Free c[0..n) and c (may be NULL). */
void orc_free_places(struct oplace *c, size_t n);

/* Whether w's placements differ from c (a copy of them). */
bool orc_places_differ(const struct owf *w, const struct oplace *c);

/* Free w and everything it holds. */
void orc_free_owf(struct owf *w);

/*
 * A workflow record from its text (copied) and its code map; nothing
 * placed yet.  NULL if it does not parse (reasons in d) or memory ran out.
 */
struct owf *orc_make_owf(const char *name, const char *file, const char *yaml,
    size_t ylen, wire_v code, struct diag *d);

/* Forget the part counters of n's last heartbeat. */
void orc_free_stats(struct onode *n);

/* Free n and everything it holds (its client too). */
void orc_free_node(struct onode *n);

/* How many parts are placed on node `node`. */
unsigned orc_parts_on(struct orc *o, const char *node);

/*
 * Connect n->client to n->url if it is not already.  LEDGE_OK, or
 * LEDGE_ECONN (logged) with n->client NULL.
 */
int orc_node_client(struct orc *o, struct onode *n);

#endif
