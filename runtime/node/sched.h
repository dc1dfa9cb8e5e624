/*
 * sched.h - the worker pool that runs instances.
 *
 * Instances with events wait in one FIFO run queue; a worker takes one,
 * runs a batch of its events through the host, and puts it back at the
 * tail if more arrived (so a busy instance cannot starve the others).
 *
 * A handler blocked in ledge_call holds its worker.  So that blocked
 * callers can never use up the pool while their targets wait in the
 * queue, a worker that blocks tells the scheduler, which starts an extra
 * worker whenever fewer than the configured number could run; extras exit
 * once idle.  Cycles of calls are refused before they block (see
 * exec.c), so every wait ends with a reply or a timeout.
 *
 * Threads: every function is safe from any thread.
 */
#ifndef LEDGE_NODE_SCHED_H
#define LEDGE_NODE_SCHED_H

#include <stdbool.h>
#include <stddef.h>

struct node;
struct node_instance;
struct sched;

/* Most workers alive at once, counting extras for blocked callers. */
#define SCHED_MAX_WORKERS 256

/*
 * What a worker does, given by the executor (exec_sched_ops), so that the
 * scheduler knows nothing of how an instance runs.
 */
struct sched_ops {
	/*
	 * The state of one new worker (`extra`: started because callers are
	 * blocked; it exits once idle), or NULL when out of memory.  Called
	 * with the scheduler's lock held, on the thread that starts the
	 * worker: must not block, nor call into the scheduler.
	 */
	void *(*worker_new)(void *arg, struct sched *s, bool extra);
	/*
	 * Run a batch of inst's events on the worker's own thread (the
	 * scheduler gave inst to this worker alone).  May block in a call,
	 * between sched_block_enter and sched_block_leave; may hand inst back
	 * with sched_enqueue.
	 */
	void (*run)(void *worker, struct node_instance *inst);
	/* Free a worker's state, on its thread, as it exits (or on the
	 * starting thread when its thread could not be created). */
	void (*worker_free)(void *worker);
};

/*
 * Start `nworkers` workers (0: one per CPU, at least 2) that run
 * instances with `ops`; `arg` is passed to ops->worker_new.  ops and arg
 * are borrowed until sched_stop returns.  LEDGE_OK, or LEDGE_ENOMEM if
 * the threads could not be started (no worker is left running).
 */
int sched_start(
    struct sched **sp, const struct sched_ops *ops, void *arg, int nworkers);

/* Stop: workers finish the batch they run and exit; then free. */
void sched_stop(struct sched *s);

/* Queue an instance that has events (the mailbox said to). */
void sched_enqueue(struct sched *s, struct node_instance *inst);

/* Around a blocking wait inside a handler. */
void sched_block_enter(struct sched *s);
void sched_block_leave(struct sched *s);

/* Workers alive now, and of those how many are blocked. */
void sched_counts(struct sched *s, int *workers, int *blocked);

#endif
