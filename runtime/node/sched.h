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

#include <stddef.h>

struct node;
struct node_instance;
struct sched;

/* Most workers alive at once, counting extras for blocked callers. */
#define SCHED_MAX_WORKERS 256

/* Start `nworkers` workers for `node` (0: one per CPU, at least 2). */
int sched_start(struct sched **sp, struct node *node, int nworkers);

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
