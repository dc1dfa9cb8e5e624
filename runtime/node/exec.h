/*
 * exec.h - running function code: the boundary between the node and
 * the instances it hosts.
 *
 * The node speaks to hosted code in messages: an event goes in (exec_run
 * takes them from an instance's mailbox), and what comes out is a result
 * made only of data - a commit record (state writes, consumed and emitted
 * events), a reply, log lines, events to route.  During a handler the
 * code asks the node for three things: state reads (from an LMDB
 * snapshot, which a separate host process could open read-only as well),
 * calls (a request/reply message), and logging.  Today the host runs
 * in-process on the scheduler's workers; because nothing else crosses the
 * boundary, instances can move into a supervised host process later
 * without changing the scheduler or the committer.
 *
 * Threads: a node_worker belongs to one thread.
 */
#ifndef LEDGE_NODE_EXEC_H
#define LEDGE_NODE_EXEC_H

#include <stdbool.h>

struct commit;
struct links;
struct node;
struct rlog;
struct store;
struct node_event;
struct node_instance;
struct node_worker;
struct sched;
struct sched_ops;

/* Events taken from one mailbox per turn. */
#define EXEC_BATCH 32
/* Default deadline of ledge_call / ledge_http_fetch with timeout 0. */
#define EXEC_CALL_TIMEOUT_MS 5000

/*
 * What the executor needs of the node it runs in, handed over instead of
 * asked for: the node (for routing the events a handler emits, its queue
 * ids and the answers to control events), its log, store, committer and
 * links.  Owned by the node; must outlive every worker.
 */
struct exec_env {
	struct node *node;
	struct rlog *log;
	struct store *store;
	struct commit *commit;
	struct links *links;
};

/*
 * The scheduler's ops vector for this executor (sched.h): each worker
 * gets a node_worker for the struct exec_env `arg`
 * (sched_start(..., exec_sched_ops(), env, ...)) and runs instances with
 * exec_run.
 */
const struct sched_ops *exec_sched_ops(void);

/* The worker the loop thread uses for inline runs (exec_run_inline). */
struct node_worker *exec_worker_new_inline(
    const struct exec_env *env, struct sched *sched);
void exec_worker_free(struct node_worker *w);

/*
 * Run a batch of the instance's events, then hand it back to the
 * scheduler if more wait.  Called by a worker for an instance the
 * scheduler gave it (so no other thread runs this instance meanwhile).
 */
void exec_run(struct node_worker *w, struct node_instance *inst);

/*
 * Inline runs.  Handing an event to a worker thread and the answer back
 * costs two thread wake-ups, more than a short handler itself.  So the
 * loop thread runs an event of an idle instance (empty mailbox, not
 * scheduled) itself, speculatively: if the handler makes a blocking call
 * (ledge_call, ledge_http_fetch), which the loop thread must never wait
 * on, the call fails at once, everything the handler did is discarded -
 * nothing of it was visible yet, effects only leave a handler when it
 * returns - and the event goes back to the head of the mailbox for a
 * worker to run from the start.  Only instances that have shown they are
 * quick run inline: EXEC_INLINE_STREAK handler runs in a row, each under
 * EXEC_INLINE_MAX_US, earn it; a slower run ends it and doubles the streak
 * needed next time (so a handler that is sometimes slow rarely stalls the
 * loop), and a blocking call ends it for good.
 *
 * The init of a new instance may run inline the same way.  Returns false
 * when the event cannot run inline (instance busy, not eligible, another
 * control event); the caller then sends it normally.
 * Loop thread only.
 */
#define EXEC_INLINE_MAX_US 250
/* Fast runs (on workers) an instance needs before its first inline run. */
#define EXEC_INLINE_STREAK 16
bool exec_run_inline(
    struct node_worker *w, struct node_instance *inst, struct node_event *ev);

/*
 * A key instance (keyed.h) the loop thread has just activated or revived
 * and holds (its mailbox claimed): run `first`, its init, then ev on the
 * loop thread - or, if the key's events do not run inline or the init
 * could not, queue ev right after the init for a worker.  Lets the
 * instance go (scheduling it if events came meanwhile).  Loop thread,
 * with the inline worker.
 */
void exec_run_claimed(struct node_worker *w, struct node_instance *inst,
    struct node_event *first, struct node_event *ev);

/*
 * The instance whose code the calling thread is running, or NULL; for the
 * crash reporter, which names the function that brought the node down.
 */
const char *exec_current(void);

#endif
