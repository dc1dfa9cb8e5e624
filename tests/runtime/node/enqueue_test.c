/*
 * enqueue_test.c - the one enqueue of a durable event
 * (runtime/node/enqueue.h) on a real node and store: a part here gets a
 * queue entry with a fresh (or its own) queue id and the durable
 * encoding; a part on another node gets the outbox entry of its link;
 * the event stays the caller's.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "node/commit.h"
#include "node/enqueue.h"
#include "node/instance.h"
#include "node/links.h"
#include "node/node.h"
#include "node/node_event.h"
#include "store/store.h"

#include "fixture.h"

static void
setup(void)
{
	fx_begin("enqueue");
	fx_node_open();
}

TestSuite(enqueue, .init = setup, .fini = fx_end, .timeout = 60);

/* Submit and wait until the record is in the store. */
static void
commit_wait(struct commit_rec *rec)
{
	struct commit *c = node_commit(fx_node);
	uint64_t seq = commit_submit(c, rec);
	commit_flush(c);
	cr_assert_geq(commit_durable(c), seq);
}

/* A copy of the value stored under `key` in `db`, or NULL. */
static void *
stored(enum store_db db, const void *key, size_t klen, size_t *len)
{
	struct store_reader *r;
	ledge_bytes v;
	void *copy = NULL;
	cr_assert_eq(store_reader_open(node_store(fx_node), &r), LEDGE_OK);
	cr_assert_eq(store_reader_begin(r), LEDGE_OK);
	if (store_get(r, db, key, klen, &v) == LEDGE_OK) {
		copy = malloc(v.len ? v.len : 1);
		memcpy(copy, v.data, v.len);
		*len = v.len;
	}
	store_reader_end(r);
	store_reader_close(r);
	return copy;
}

Test(enqueue, local_part_gets_queue_entry_with_fresh_qid)
{
	struct node_target t = { .id = 7, .kind = NT_INSTANCE, .name = "w/f" };
	struct node_event *ev = node_event_new(NE_CAST, 0, "hello", 5);
	struct commit_rec *rec = commit_rec_new();
	unsigned char q[STORE_QKEY];
	size_t len = 0;
	cr_assert_not_null(ev);
	ev->flags = NEF_HTTPIN;

	cr_assert_eq(enqueue_durable(fx_node, rec, &t, ev), LEDGE_OK);
	cr_assert(ev->flags & NEF_DURABLE);
	cr_assert(ev->flags & NEF_HTTPIN);
	cr_assert_neq(ev->qid, 0);
	cr_assert_eq(ev->to, &t);
	cr_assert_eq(ev->target, 7);
	commit_wait(rec);

	store_qkey(q, 7, ev->qid);
	unsigned char *v = stored(STORE_QUEUE, q, sizeof q, &len);
	cr_assert_not_null(v, "no queue entry for (7, qid)");
	cr_assert_eq(len, node_event_encoded_size(ev));
	unsigned char *want = malloc(len);
	node_event_encode(ev, want);
	cr_assert_arr_eq(v, want, len);
	struct node_event *back = node_event_decode(v, len);
	cr_assert_not_null(back);
	cr_assert_eq(back->flags, NEF_DURABLE | NEF_HTTPIN);
	cr_assert_eq(back->len, 5);
	cr_assert_arr_eq(back->data, "hello", 5);
	node_event_free(back);
	free(want);
	free(v);
	node_event_free(ev); /* still the caller's */
}

Test(enqueue, fresh_qids_differ_and_an_own_qid_is_kept)
{
	struct node_target t = { .id = 3, .kind = NT_RESOURCE, .name = "w/r" };
	struct node_event *a = node_event_new(NE_CAST, 3, "a", 1);
	struct node_event *b = node_event_new(NE_CAST, 3, "b", 1);
	struct node_event *c = node_event_new(NE_CAST, 3, "c", 1);
	struct commit_rec *rec = commit_rec_new();
	unsigned char q[STORE_QKEY];
	size_t len;

	uint64_t own = node_next_qid(fx_node) + 1000;
	c->qid = own;
	cr_assert_eq(enqueue_durable(fx_node, rec, &t, a), LEDGE_OK);
	cr_assert_eq(enqueue_durable(fx_node, rec, &t, b), LEDGE_OK);
	cr_assert_eq(enqueue_durable(fx_node, rec, &t, c), LEDGE_OK);
	cr_assert_gt(b->qid, a->qid);
	cr_assert_eq(c->qid, own);
	commit_wait(rec);
	struct node_event *evs[] = { a, b, c };
	for (size_t i = 0; i < 3; i++) {
		store_qkey(q, 3, evs[i]->qid);
		void *v = stored(STORE_QUEUE, q, sizeof q, &len);
		cr_assert_not_null(v, "event %zu not queued", i);
		free(v);
		node_event_free(evs[i]);
	}
}

Test(enqueue, remote_part_gets_outbox_entry_of_its_link)
{
	struct node_remote rem = { .node = "n2", .peer = 42 };
	struct node_target t = {
		.id = 9, .kind = NT_REMOTE, .name = "w/g", .rem = &rem
	};
	struct node_event *ev = node_event_new(NE_CAST, 9, "xyz", 3);
	struct commit_rec *rec = commit_rec_new();
	unsigned char key[12] = { 0 };
	size_t len = 0;

	cr_assert_eq(enqueue_durable(fx_node, rec, &t, ev), LEDGE_OK);
	/* The event goes as it is: not numbered, flags untouched. */
	cr_assert_eq(ev->qid, 0);
	cr_assert_eq(ev->flags, 0);
	commit_wait(rec);

	store_be32(key, 42);
	store_be64(key + 4, 1); /* the link's first entry */
	unsigned char *v = stored(STORE_OUTBOX, key, sizeof key, &len);
	cr_assert_not_null(v, "no outbox entry (42, 1)");
	cr_assert_eq(len, link_entry_size("w/g", ev));
	unsigned char *want = malloc(len);
	link_entry_encode(want, "w/g", ev);
	cr_assert_arr_eq(v, want, len);
	free(want);
	free(v);
	node_event_free(ev);
}
