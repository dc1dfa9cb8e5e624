/*
 * enqueue.c - adding a durable event to a commit record (enqueue.h).
 */
#include <stdlib.h>

#include <ledge.h>

#include "node/commit.h"
#include "node/enqueue.h"
#include "node/instance.h"
#include "node/links.h"
#include "node/node.h"
#include "node/node_event.h"
#include "store/store.h"

/* To another node: the outbox of its link, numbered at commit. */
static int
enqueue_remote(
    struct commit_rec *rec, struct node_target *t, struct node_event *ev)
{
	size_t len = link_entry_size(t->name, ev);
	unsigned char *entry = malloc(len);
	int rv;

	if (entry == NULL) {
		return LEDGE_ENOMEM;
	}
	link_entry_encode(entry, t->name, ev);
	rv = commit_rec_outbox(rec, t->rem->peer, entry, len);
	free(entry);
	return rv;
}

int
enqueue_durable_qid(struct commit_rec *rec, struct node_target *t,
    struct node_event *ev, uint64_t (*next_qid)(void *ctx), void *ctx)
{
	unsigned char q[STORE_QKEY], *v;

	if (t->kind == NT_REMOTE) {
		return enqueue_remote(rec, t, ev);
	}
	ev->flags |= NEF_DURABLE;
	if (ev->qid == 0) {
		ev->qid = next_qid(ctx);
	}
	ev->to = t;
	ev->target = t->id;
	store_qkey(q, t->id, ev->qid);
	if ((v = commit_rec_put_reserve(rec, STORE_QUEUE, q, sizeof q,
	         node_event_encoded_size(ev))) == NULL) {
		return LEDGE_ENOMEM;
	}
	node_event_encode(ev, v);
	return LEDGE_OK;
}

static uint64_t
qid_of_node(void *n)
{
	return node_next_qid(n);
}

int
enqueue_durable(struct node *n, struct commit_rec *rec, struct node_target *t,
    struct node_event *ev)
{
	return enqueue_durable_qid(rec, t, ev, qid_of_node, n);
}
