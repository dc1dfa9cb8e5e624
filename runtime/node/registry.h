/*
 * registry.h - persistent ids: the id of each target name
 * ("workflow/part"), kept in STORE_REGISTRY so that durable events and
 * state keep their owner across restarts, and the queue ids of durable
 * events (never reused, also across restarts).
 *
 * node.h includes this header: these are part of the node's interface.
 */
#ifndef LEDGE_NODE_REGISTRY_H
#define LEDGE_NODE_REGISTRY_H

#include <stdbool.h>
#include <stdint.h>

struct commit_rec;
struct node;

/*
 * The persistent id of a target name ("workflow/part"), assigned (and
 * committed) on first use; node_registry_lookup only finds ids assigned
 * before.  Loop thread.  LEDGE_OK or LEDGE_ENOMEM.
 */
int node_registry_id(struct node *n, const char *name, uint32_t *id);
bool node_registry_lookup(struct node *n, const char *name, uint32_t *id);

/* Make sure ids handed out from now on are above `qid` (a copy of
 * another node's queue arrived).  Any thread. */
void node_qid_above(struct node *n, uint64_t qid);

/* A fresh id for a durable event (never reused, also across restarts).
 * Any thread. */
uint64_t node_next_qid(struct node *n);

/* --- for the node's own files (node.c, deploy.c) ------------------- */

/* Load the registry and the next queue id from the store (node_new).
 * LEDGE_OK, or the store's or LEDGE_ENOMEM. */
int registry_load(struct node *n);

/* Free the registry (node_free). */
void registry_free(struct node *n);

/*
 * The persistent id of `name`: from the registry, or a new one.  A new
 * id's entry goes into *rec (created on first need), which the caller
 * ends with registry_submit; nothing needs to wait for that commit,
 * because anything durable that uses the id commits after it.  Loop
 * thread.  LEDGE_OK or LEDGE_ENOMEM.
 */
int registry_id(
    struct node *n, const char *name, struct commit_rec **rec, uint32_t *id);

/*
 * Submit the record of registry_id calls (rec may be NULL: nothing to
 * do), with the next free id when rv is LEDGE_OK - also when rv is not,
 * the ids handed out stay taken.  Takes rec.  Returns rv, or LEDGE_ENOMEM
 * if the next free id could not be added.
 */
int registry_submit(struct node *n, struct commit_rec *rec, int rv);

#endif
