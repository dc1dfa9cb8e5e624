/*
 * registry_test.c - persistent ids and queue ids (runtime/node/registry.h)
 * on a real node and store: a name keeps its id, also across a restart;
 * new names get new ids above the old; queue ids only grow, jump above a
 * copied queue's, and stay above every committed one after a restart.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>

#include "node/commit.h"
#include "node/enqueue.h"
#include "node/instance.h"
#include "node/node.h"
#include "node/node_event.h"
#include "node/registry.h"

#include "fixture.h"

/* Free the node (its committer writes out what is submitted) and open
 * it again on the same data folder. */
static void
restart(void)
{
	fx_node_close();
	fx_node_open();
}

static void
setup(void)
{
	fx_begin("registry");
	fx_node_open();
}

TestSuite(registry, .init = setup, .fini = fx_end, .timeout = 60);

Test(registry, a_name_keeps_its_id_across_a_restart)
{
	uint32_t a, b, a2, c, found;

	cr_assert_not(node_registry_lookup(fx_node, "w/a", &found));
	cr_assert_eq(node_registry_id(fx_node, "w/a", &a), LEDGE_OK);
	cr_assert_eq(node_registry_id(fx_node, "w/b", &b), LEDGE_OK);
	cr_assert_neq(a, 0);
	cr_assert_neq(a, b);
	cr_assert_eq(node_registry_id(fx_node, "w/a", &a2), LEDGE_OK);
	cr_assert_eq(a2, a);
	cr_assert(node_registry_lookup(fx_node, "w/b", &found));
	cr_assert_eq(found, b);

	restart();
	cr_assert(node_registry_lookup(fx_node, "w/a", &found));
	cr_assert_eq(found, a);
	cr_assert(node_registry_lookup(fx_node, "w/b", &found));
	cr_assert_eq(found, b);
	cr_assert_eq(node_registry_id(fx_node, "w/c", &c), LEDGE_OK);
	cr_assert_gt(c, a);
	cr_assert_gt(c, b);
}

Test(registry, queue_ids_grow_and_jump_above_a_copied_queue)
{
	uint64_t a = node_next_qid(fx_node);
	uint64_t b = node_next_qid(fx_node);
	cr_assert_neq(a, 0);
	cr_assert_gt(b, a);
	node_qid_above(fx_node, b + 500);
	cr_assert_gt(node_next_qid(fx_node), b + 500);
	/* Lower bounds change nothing. */
	uint64_t c = node_next_qid(fx_node);
	node_qid_above(fx_node, 1);
	cr_assert_gt(node_next_qid(fx_node), c);
}

Test(registry, queue_ids_stay_above_committed_ones_after_a_restart)
{
	struct node_target t = { .id = 5, .kind = NT_INSTANCE, .name = "w/f" };
	struct node_event *ev = node_event_new(NE_CAST, 5, "x", 1);
	struct commit_rec *rec = commit_rec_new();
	uint64_t used;

	node_qid_above(fx_node, 1000);
	cr_assert_eq(enqueue_durable(fx_node, rec, &t, ev), LEDGE_OK);
	used = ev->qid;
	cr_assert_gt(used, 1000);
	commit_submit(node_commit(fx_node), rec);
	node_event_free(ev);

	restart();
	cr_assert_gt(node_next_qid(fx_node), used);
}
