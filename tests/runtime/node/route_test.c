/*
 * route_test.c - the target table and routing (runtime/node/route.h) on a
 * real node, loop and store: targets by id and by name; an event for a
 * resource is delivered on the loop thread, a durable one's queue entry
 * goes once the resource is done with it; a delayed event waits for its
 * time; a resource that is not started gets nothing.
 */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/clock.h"
#include "node/commit.h"
#include "node/enqueue.h"
#include "node/instance.h"
#include "node/node.h"
#include "node/node_event.h"
#include "node/node_impl.h"
#include "node/node_metrics.h"
#include "node/res_api.h"
#include "node/route.h"
#include "platform/loop.h"
#include "store/store.h"

#include "fixture.h"

/* What the test resource saw. */
static atomic_int delivered;
static atomic_bool on_loop;
static _Atomic uint64_t delivered_ms;

static void
deliver(struct res *r, struct node_event *ev)
{
	atomic_store(&on_loop, loop_on_thread(node_loop(r->node)));
	atomic_store(&delivered_ms, clock_wall_ms());
	atomic_fetch_add(&delivered, 1);
	node_event_done(r->node, r, ev, LEDGE_OK);
}

static const struct res_type sink_type = {
	.name = "sink",
	.accepts_cast = true,
	.deliver = deliver,
};

static struct node_res sink;

static void
setup(void)
{
	fx_begin("route");
	fx_node_open();
	memset(&sink, 0, sizeof sink);
	sink.res.type = &sink_type;
	sink.res.node = fx_node;
	sink.res.name = "w/sink";
	sink.res.id = 11;
	sink.target.id = 11;
	sink.target.kind = NT_RESOURCE;
	sink.target.name = "w/sink";
	sink.target.res = &sink.res;
	sink.started = true;
	atomic_store(&delivered, 0);
}

static void
start(void)
{
	cr_assert_eq(route_add_target(fx_node, &sink.target), LEDGE_OK);
	fx_node_run();
}

static void
teardown(void)
{
	fx_node_stop();
	route_drop_target(fx_node, &sink.target);
	fx_end();
}

TestSuite(route, .init = setup, .fini = teardown, .timeout = 60);

static void
wait_delivered(int n)
{
	for (int i = 0; i < 5000 && atomic_load(&delivered) < n; i++) {
		struct timespec ts = { 0, 1000000 };
		nanosleep(&ts, NULL);
	}
	cr_assert_eq(atomic_load(&delivered), n);
}

Test(route, targets_by_id_and_by_name)
{
	cr_assert_null(node_target_name(fx_node, 11));
	cr_assert_eq(route_add_target(fx_node, &sink.target), LEDGE_OK);
	cr_assert_str_eq(node_target_name(fx_node, 11), "w/sink");
	cr_assert_eq(node_find_target(fx_node, "w/sink"), &sink.target);
	cr_assert_null(node_find_target(fx_node, "w/other"));
	cr_assert_null(node_target_name(fx_node, 5000));
	route_drop_target(fx_node, &sink.target);
	cr_assert_null(node_target_name(fx_node, 11));
	cr_assert_null(node_find_target(fx_node, "w/sink"));
}

Test(route, a_resource_gets_its_events_on_the_loop_thread)
{
	start();
	struct node_event *ev = node_event_new(NE_CAST, 0, "e", 1);
	cr_assert_eq(node_admit(&sink.target), LEDGE_OK);
	node_send(fx_node, &sink.target, ev);
	wait_delivered(1);
	cr_assert(atomic_load(&on_loop));
	for (int i = 0; i < 1000 && atomic_load(&sink.target.pending); i++) {
		struct timespec ts = { 0, 1000000 };
		nanosleep(&ts, NULL);
	}
	cr_assert_eq(atomic_load(&sink.target.pending), 0);
}

/* Is the queue entry (11, qid) in the store? */
static bool
queued(uint64_t qid)
{
	struct store_reader *r;
	unsigned char q[STORE_QKEY];
	ledge_bytes v;
	bool found;
	store_qkey(q, 11, qid);
	cr_assert_eq(store_reader_open(node_store(fx_node), &r), LEDGE_OK);
	cr_assert_eq(store_reader_begin(r), LEDGE_OK);
	found = store_get(r, STORE_QUEUE, q, sizeof q, &v) == LEDGE_OK;
	store_reader_end(r);
	store_reader_close(r);
	return found;
}

Test(route, a_durable_event_leaves_the_queue_once_done)
{
	struct node_event *ev = node_event_new(NE_CAST, 0, "d", 1);
	struct commit_rec *rec = commit_rec_new();
	uint64_t qid;

	start();
	cr_assert_eq(enqueue_durable(fx_node, rec, &sink.target, ev), LEDGE_OK);
	qid = ev->qid;
	commit_submit(node_commit(fx_node), rec);
	commit_flush(node_commit(fx_node));
	cr_assert(queued(qid));
	node_send(fx_node, &sink.target, ev);
	wait_delivered(1);
	bool gone = false;
	for (int i = 0; i < 2000 && !gone; i++) {
		commit_flush(node_commit(fx_node));
		gone = !queued(qid);
		if (!gone) {
			struct timespec ts = { 0, 1000000 };
			nanosleep(&ts, NULL);
		}
	}
	cr_assert(gone, "the queue entry stayed after node_event_done");
}

Test(route, a_delayed_event_waits_for_its_time)
{
	struct node_event *ev = node_event_new(NE_CAST, 0, "later", 5);
	uint64_t due;

	start();
	due = clock_wall_ms() + 150;
	ev->due_ms = due;
	node_send(fx_node, &sink.target, ev);
	wait_delivered(1);
	cr_assert_geq(atomic_load(&delivered_ms), due);
}

Test(route, a_resource_not_started_gets_nothing)
{
	start();
	sink.started = false;
	node_send(fx_node, &sink.target, node_event_new(NE_CAST, 0, "x", 1));
	for (int i = 0; i < 1000 && atomic_load(&sink.target.pending); i++) {
		struct timespec ts = { 0, 1000000 };
		nanosleep(&ts, NULL);
	}
	cr_assert_eq(atomic_load(&sink.target.pending), 0);
	cr_assert_eq(atomic_load(&delivered), 0);
}

Test(route, metrics_show_the_remote_drops)
{
	char *text = NULL;
	size_t len = 0;
	cr_assert_eq(node_dropped(fx_node, NODE_DROP_REMOTE), 0);
	cr_assert_eq(node_metrics_render(fx_node, &text, &len), 0);
	cr_assert_not_null(strstr(text,
	    "# TYPE ledge_events_dropped_total counter\n"
	    "ledge_events_dropped_total{node=\"n1\",reason=\"remote\"} "
	    "0\n"
	    "ledge_events_dropped_total{node=\"n1\",reason=\"delayed\"} "
	    "0\n"
	    "ledge_events_dropped_total{node=\"n1\",reason=\"resource\"} "
	    "0\n"));
	free(text);
}
