/*
 * instance.h - function instances and the targets events go to.
 *
 * An instance is one function placed on this node: its code, its outputs,
 * its mailbox and its cache of state writes not yet visible in the store.
 * It is an actor: at most one worker runs it at a time, which is what
 * lets function code go without locks.
 *
 * A target is anything an output can point at: an instance or a
 * resource.  Outputs are resolved to target pointers when a workflow is
 * deployed, so sending an event never looks a name up by string.
 *
 * Threads: everything marked "owner" is touched only by the worker currently
 * running the instance (the scheduler guarantees there is one at a time).
 */
#ifndef LEDGE_NODE_INSTANCE_H
#define LEDGE_NODE_INSTANCE_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "base/hmap.h"
#include "node/mailbox.h"
#include "node/node.h"
#include "node/node_event.h"

struct node;
struct node_code;
struct res;
struct wf_function;
struct workflow;

/* NT_SLOTS: a keyed function split into hash slots (workflow.h,
 * `nslots`): no part itself, it stands for its slots, each a target of
 * its own (here or on another node); routing picks the key's. */
enum node_target_kind {
	NT_INSTANCE = 1,
	NT_RESOURCE = 2,
	NT_REMOTE = 3,
	NT_SLOTS = 4
};

/* A part of a workflow that runs on another node. */
struct node_remote {
	char *node;          /* the node's name */
	uint32_t peer;       /* its link id (links.h) */
	struct links *links; /* the node's links (for backpressure) */
};

struct node_target {
	uint32_t id; /* persistent id (registry) */
	enum node_target_kind kind;
	const char *name;           /* "workflow/name" */
	struct node_instance *inst; /* NT_INSTANCE */
	struct res *res;            /* NT_RESOURCE */
	struct node_remote *rem;    /* NT_REMOTE */
	atomic_uint pending; /* events handed to a resource, unfinished */
	/* NT_SLOTS: its slots by number (an entry is NULL while that slot
	 * is placed nowhere) */
	struct node_target **slots;
	uint32_t nslots;
	bool keyed; /* NT_REMOTE: the part is a keyed function */
};

struct node_output {
	const char *name;
	size_t ntargets;
	struct node_target **targets;
};

enum node_instance_status {
	NI_STARTING = 0,
	NI_RUNNING,
	NI_FAILED,
	NI_STOPPED,
};

/* One entry of the write-behind cache (owner). */
struct node_dirty {
	uint64_t seq; /* record that wrote it */
	uint32_t klen, vlen;
	bool del;
	unsigned char bytes[]; /* key, then value */
};

/* What metrics read of an instance (relaxed atomics). */
struct node_counts {
	atomic_uint_fast64_t n_events, n_errors, n_emitted, n_busy_us;
	atomic_uint_fast64_t n_hist[NODE_HIST_N]; /* handler times */
};

struct node_instance {
	struct node_target target; /* id, name; target.inst == this */
	struct node *node;
	uint64_t repl_deploy; /* node_set_replicas' deploy, loop */
	void *owner;          /* the node's record of its workflow */
	const struct workflow *wf;
	const struct wf_function *spec;
	struct node_output *outputs;
	size_t noutputs;
	struct node_code *code; /* owner; swapped at event boundaries */
	struct node_mailbox mb;
	struct node_instance *runq_next; /* scheduler's link */

	struct hmap dirty; /* owner: key -> struct node_dirty */
	uint64_t last_seq; /* owner: seq of last record with ops */
	uint64_t init_gen; /* owner: bumps at each (re)init */

	/* Events for it may run on the loop thread (see exec.h).  An
	 * instance earns that with a streak of fast runs; a slow run ends
	 * the streak and doubles the next one needed; a blocking call ends
	 * it for good.  The counters are the owner's. */
	atomic_bool inline_ok;
	uint32_t fast_streak;   /* owner */
	uint32_t streak_needed; /* owner */
	bool blocks;            /* owner: has made a blocking call */

	/* Backpressure.  A producer whose cast went to an instance over its
	 * mailbox cap is parked (not run) until that instance drains to
	 * half its cap; `waiters` lists those parked on this one (mb.mu),
	 * `wait_next` links this one into such a list. */
	_Atomic(struct node_instance *) waiters; /* atomic for the peek in
	                                            instance_drained */
	struct node_instance *wait_next;
	_Atomic(struct node_instance *) parked_on;

	/* isolation: process: the host process that runs its callbacks
	 * (isolate.h), or NULL.  The owner's. */
	struct isolate *iso;

	/* The instance this one is blocked calling, for cycle detection. */
	_Atomic(struct node_instance *) waiting_on;
	atomic_int status;

	/* When a refused state write was last logged (ms, monotonic): a
	 * refusal is logged at most once a minute per instance. */
	atomic_uint_fast64_t store_warned_ms;

	/* keyed: a part's table of keys (keyed.h), or NULL.  A key
	 * instance has `part` set instead: its part, its key (in its slot
	 * after the struct when short, keyslab.h), and what the part's table
	 * keeps of it (under the table's mutex). */
	struct keyed *keyed;
	struct node_instance *part;
	unsigned char *key;
	uint16_t klen;
	uint8_t kstate;
	atomic_bool kfailed; /* its init failed: its events fail */
	uint64_t kused_ms;   /* when its last event came (monotonic) */
	struct node_instance *lru_prev, *lru_next;
	struct kslab *kslab; /* the slab its memory is in (keyslab.h) */
	/* on its part's list of keys whose cache the timer empties */
	bool on_dirty_list;
	struct node_instance *dirty_next;

	/* counters: the part's own; a key instance's point to its part's */
	struct node_counts *counts;
};

/* --- backpressure ---------------------------------------------------- */

/*
 * Park `producer` (scheduled, not running) until `target` has drained.
 * Returns false - and does not park - when target is no longer over its
 * cap, or when parking would close a cycle of parked instances (each
 * waiting for the next to drain); the producer then just goes on.
 */
bool instance_park(
    struct node_instance *producer, struct node_instance *target);

/*
 * If `target` has drained to half its cap, detach and return the list of
 * producers parked on it (linked by wait_next; the caller schedules them).
 */
struct node_instance *instance_drained(struct node_instance *target);

/* --- outputs ------------------------------------------------------- */

/* The output called `name`, or NULL. */
const struct node_output *instance_output(
    const struct node_instance *inst, const char *name);

/* --- write-behind cache (owner) ------------------------------------ */

/* Look up a cached write; NULL if the store has the latest value. */
const struct node_dirty *instance_dirty_get(
    struct node_instance *inst, const void *key, size_t klen);

/* Record a write made by the record `seq`; LEDGE_OK or LEDGE_ENOMEM. */
int instance_dirty_put(struct node_instance *inst, uint64_t seq,
    const void *key, size_t klen, const void *val, size_t vlen, bool del);

/* Forget writes whose record is durable (seq <= durable). */
void instance_dirty_evict(struct node_instance *inst, uint64_t durable);

/* Free every cached write. */
void instance_dirty_clear(struct node_instance *inst);

#endif
