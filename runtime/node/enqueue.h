/*
 * enqueue.h - the one owner of the exactly-once rule "enqueue a durable
 * event": an event for a target becomes part of a commit record, so that
 * it is stored (and later delivered) if and only if that record commits.
 *
 * Whoever takes an event in (a handler's emits, an HTTP cast, a cast from
 * the domain, an event arriving over a link, one re-addressed or handed
 * over to another node) adds it with enqueue_durable in the same record
 * that makes its other effects (the consumed event, the idempotency
 * answer, the link's applied mark), and submits that record.
 */
#ifndef LEDGE_NODE_ENQUEUE_H
#define LEDGE_NODE_ENQUEUE_H

#include <stdint.h>

struct commit_rec;
struct node;
struct node_event;
struct node_target;

/*
 * Add the durable event `ev` for target `t` to the record `rec`.
 *
 * For a part here (an instance or a resource) the event becomes durable:
 * NEF_DURABLE is set, it gets a fresh queue id from node `n` unless it
 * already has one (ev->qid != 0: an emit numbered when it was made), its
 * ev->to and ev->target name t, and rec gets its queue entry, the key
 * (t->id, qid) in STORE_QUEUE and the event's durable encoding
 * (node_event_encode) as the value.  The caller hands it to t (node_send)
 * once the record is submitted.
 *
 * For a part on another node (NT_REMOTE) rec gets the outbox entry of
 * t's link (link_entry_encode of t->name and the event as it is, flags
 * and all); the committer numbers it and the link sends it once durable.
 * ev is left as it is; the caller frees it when it has no further use.
 *
 * Ownership: ev stays the caller's on every outcome (rec holds a copy of
 * its encoding); rec stays the caller's too.  On failure rec may hold a
 * partial entry and must be freed, not submitted.
 *
 * Returns LEDGE_OK, or LEDGE_ENOMEM (out of memory).  Any thread (the
 * record belongs to one thread until submitted).
 */
int enqueue_durable(struct node *n, struct commit_rec *rec,
    struct node_target *t, struct node_event *ev);

/*
 * enqueue_durable for code that has no node (the links): the same rule,
 * with the fresh queue id taken from next_qid(ctx) when ev has none.
 */
int enqueue_durable_qid(struct commit_rec *rec, struct node_target *t,
    struct node_event *ev, uint64_t (*next_qid)(void *ctx), void *ctx);

#endif
