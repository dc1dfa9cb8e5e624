/*
 * mailbox.h - the queue of events of one instance.
 *
 * Events wait in an instance's mailbox until a worker (or the loop
 * thread, inline) takes them in order.  `depth` counts queued events and
 * slots reserved by admission from outside the node, so that a producer
 * outside can be refused (503) before it builds an event.
 *
 * Threads: every function here is safe from any thread (one mutex per
 * mailbox).
 */
#ifndef LEDGE_NODE_MAILBOX_H
#define LEDGE_NODE_MAILBOX_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct node_event;

struct node_mailbox {
	pthread_mutex_t mu;
	struct node_event *head, *tail;
	uint32_t depth; /* queued + reserved slots */
	uint32_t cap;   /* limit for events from outside the node */
	bool scheduled; /* in the run queue or being run */
	bool closed;    /* stopped: refuses everything but control events */
};

void mb_init(struct node_mailbox *mb, uint32_t cap);
void mb_fini(struct node_mailbox *mb);

/*
 * Reserve a slot if fewer than `limit` are taken.  Returns LEDGE_OK,
 * LEDGE_EFULL or LEDGE_ECLOSED.
 */
int mb_reserve(struct node_mailbox *mb, uint32_t limit);
void mb_unreserve(struct node_mailbox *mb);

/*
 * Append an event (using a reserved slot if ev has NEF_RESERVED, else
 * taking a new one without a limit).  Returns true when the instance was
 * idle and the caller must hand it to the scheduler.  Never fails; events
 * to a closed mailbox are still queued (the instance drains them).
 */
bool mb_push(struct node_mailbox *mb, struct node_event *ev);

/*
 * Claim an idle instance with an empty mailbox for running an event
 * directly (as if it had been scheduled).  True on success; the caller
 * then runs it and calls mb_more like a worker.
 */
bool mb_try_claim(struct node_mailbox *mb);

/* Put an event back at the head (the instance is scheduled or claimed). */
void mb_push_front(struct node_mailbox *mb, struct node_event *ev);

/*
 * Take up to `max` events (in order) into a list.  Returns the count;
 * when 0, the mailbox is marked idle.
 */
size_t mb_take(struct node_mailbox *mb, struct node_event **list, size_t max);

/* After a batch: true if more events wait (stay scheduled), else idle. */
bool mb_more(struct node_mailbox *mb);

/* Events queued now (approximate, for metrics and admission). */
uint32_t mb_depth(struct node_mailbox *mb);

/* Put a list of events back at the head, in order (after a batch was cut
 * short).  The instance is scheduled or claimed. */
void mb_push_front_list(struct node_mailbox *mb, struct node_event *list);

/*
 * Take every queued event (a list, linked by next) and say how many in
 * *n, leaving `scheduled` as it is: for the worker that holds the
 * instance and will not run them.
 */
struct node_event *mb_drain(struct node_mailbox *mb, size_t *n);

#endif
