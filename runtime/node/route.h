/*
 * route.h - the node's target table and the routing of events.
 *
 * Every part an output can point at has a target (instance.h): an
 * instance, a resource, or the proxy of a part on another node.  Targets
 * are listed by persistent id (registry.h); routing hands an event to one:
 * into an instance's mailbox (scheduling it), to a resource on the loop
 * thread, over the links to another node, or - when it is due later -
 * onto the heap of delayed events first.
 *
 * node.h includes this header: these are part of the node's interface.
 */
#ifndef LEDGE_NODE_ROUTE_H
#define LEDGE_NODE_ROUTE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct node;
struct node_event;
struct node_target;

/*
 * Hand an event to a target now: an instance's mailbox (scheduling it),
 * or a resource (on the loop thread).  Delayed events wait for their
 * time first.  Takes ownership.  Any thread.
 */
void node_send(struct node *n, struct node_target *t, struct node_event *ev);

/*
 * node_send, but from the loop thread an event for an idle instance may
 * run right here (see exec_run_inline).  Used by resources for events
 * from outside (HTTP requests, ticks).
 */
void node_send_inline(
    struct node *n, struct node_target *t, struct node_event *ev);

/*
 * Admit an event from outside the node to target t: reserves a mailbox
 * slot (limit: the instance's `mailbox`).  On LEDGE_OK mark the event
 * with node_admitted() before node_send.  Returns LEDGE_EFULL (the
 * caller answers 503 or drops a tick) or LEDGE_ECLOSED (stopping).
 */
int node_admit(struct node_target *t);
void node_admitted(struct node_target *t, struct node_event *ev);

/*
 * The target an event with instance key `key` goes to: for a keyed
 * function split into slots (NT_SLOTS) the slot of the key, or NULL when
 * there is no key or that slot is placed nowhere now; any other target
 * is itself.  Any thread, once deployed.
 */
struct node_target *node_target_for_key(
    struct node_target *t, const void *key, size_t klen);

/* Whether events to t need an instance key: a keyed function (here or on
 * another node) or its slots. */
bool node_target_keyed(const struct node_target *t);

/* The target called "workflow/name", or NULL.  Any thread, once deployed.
 * A keyed function split into slots is found by its name (NT_SLOTS) and
 * each slot by its own ("workflow/name#3"). */
struct node_target *node_find_target(struct node *n, const char *name);

/* The name ("workflow/name") of target `id`, or NULL. */
const char *node_target_name(struct node *n, uint32_t id);

/*
 * Why node_send dropped an event (each drop is also logged): memory ran
 * out writing it to the outbox of another node, posting a delayed event
 * to the loop, or posting it to a resource.
 */
enum node_drop { NODE_DROP_REMOTE, NODE_DROP_DELAYED, NODE_DROP_RESOURCE };
#define NODE_DROP_N 3

/* Events node_send dropped for `why` so far.  Any thread. */
uint64_t node_dropped(struct node *n, enum node_drop why);

/* The label of `why` in /metrics ("remote", "delayed", "resource"). */
const char *node_drop_name(enum node_drop why);

/* --- for the node's own files (node.c, deploy.c) ------------------- */

/* Create the timer of delayed events (before the loop runs).  LEDGE_OK
 * or LEDGE_ENOMEM. */
int route_init(struct node *n);

/* List target t under its id t->id.  Loop thread (or before the loop
 * runs).  LEDGE_OK or LEDGE_ENOMEM. */
int route_add_target(struct node *n, struct node_target *t);

/* Take target t off the table (its memory stays the caller's). */
void route_drop_target(struct node *n, struct node_target *t);

/* Does a delayed event wait for a target `match` says yes to?  Loop
 * thread. */
bool route_has_delayed(struct node *n,
    bool (*match)(void *arg, const struct node_target *t), void *arg);

/* Free the delayed events still waiting (durable: replayed at the next
 * start) and the heap.  When the node is freed, loop stopped. */
void route_fini(struct node *n);

#endif
