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
#include "proc.h"
#include "store/store.h"

static char *dir;
static struct rlog rlog;
static struct node *node;
static pthread_t runner;
static bool running;

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

static void *
run(void *arg)
{
	(void)arg;
	node_run(node);
	return NULL;
}

static void
setup(void)
{
	char err[512] = "";
	struct node_opts o = { 0 };
	dir = tmpdir_make("route");
	cr_assert_not_null(dir);
	rlog_init(&rlog, stderr, RLOG_ERROR);
	o.data_dir = dir;
	o.workers = 2;
	o.name = "n1";
	o.store.map_mb = 64;
	o.store.nosync = true;
	cr_assert_eq(node_new(&node, &o, &rlog, err, sizeof err), LEDGE_OK,
	    "node_new: %s", err);
	memset(&sink, 0, sizeof sink);
	sink.res.type = &sink_type;
	sink.res.node = node;
	sink.res.name = "w/sink";
	sink.res.id = 11;
	sink.target.id = 11;
	sink.target.kind = NT_RESOURCE;
	sink.target.name = "w/sink";
	sink.target.res = &sink.res;
	sink.started = true;
	atomic_store(&delivered, 0);
	running = false;
}

static void
start(void)
{
	char err[512] = "";
	cr_assert_eq(route_add_target(node, &sink.target), LEDGE_OK);
	cr_assert_eq(node_start(node, err, sizeof err), LEDGE_OK, "%s", err);
	cr_assert_eq(pthread_create(&runner, NULL, run, NULL), 0);
	running = true;
}

static void
teardown(void)
{
	if (running) {
		node_request_stop(node);
		pthread_join(runner, NULL);
	}
	route_drop_target(node, &sink.target);
	node_free(node);
	node = NULL;
	rlog_fini(&rlog);
	tmpdir_remove(dir);
	free(dir);
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
	cr_assert_null(node_target_name(node, 11));
	cr_assert_eq(route_add_target(node, &sink.target), LEDGE_OK);
	cr_assert_str_eq(node_target_name(node, 11), "w/sink");
	cr_assert_eq(node_find_target(node, "w/sink"), &sink.target);
	cr_assert_null(node_find_target(node, "w/other"));
	cr_assert_null(node_target_name(node, 5000));
	route_drop_target(node, &sink.target);
	cr_assert_null(node_target_name(node, 11));
	cr_assert_null(node_find_target(node, "w/sink"));
}

Test(route, a_resource_gets_its_events_on_the_loop_thread)
{
	start();
	struct node_event *ev = node_event_new(NE_CAST, 0, "e", 1);
	cr_assert_eq(node_admit(&sink.target), LEDGE_OK);
	node_send(node, &sink.target, ev);
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
	cr_assert_eq(store_reader_open(node_store(node), &r), LEDGE_OK);
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
	cr_assert_eq(enqueue_durable(node, rec, &sink.target, ev), LEDGE_OK);
	qid = ev->qid;
	commit_submit(node_commit(node), rec);
	commit_flush(node_commit(node));
	cr_assert(queued(qid));
	node_send(node, &sink.target, ev);
	wait_delivered(1);
	bool gone = false;
	for (int i = 0; i < 2000 && !gone; i++) {
		commit_flush(node_commit(node));
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
	node_send(node, &sink.target, ev);
	wait_delivered(1);
	cr_assert_geq(atomic_load(&delivered_ms), due);
}

Test(route, a_resource_not_started_gets_nothing)
{
	start();
	sink.started = false;
	node_send(node, &sink.target, node_event_new(NE_CAST, 0, "x", 1));
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
	cr_assert_eq(node_dropped(node, NODE_DROP_REMOTE), 0);
	cr_assert_eq(node_metrics_render(node, &text, &len), 0);
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
