/*
 * deploy_test.c - deploying, undeploying and freeing workflows
 * (runtime/node/deploy.c) on a real node, loop, store and function code
 * (the echo fixture): a workflow with a ticking timer feeding a function
 * deploys and runs; once undeployed, what it held is freed as soon as
 * nothing references it (nothing is left on the node's retired list);
 * the same workflow deploys again afterwards and runs.
 */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/diag.h"
#include "node/instance.h"
#include "node/node.h"
#include "node/node_impl.h"
#include "platform/loop.h"
#include "resources/resources.h"
#include "workflow/workflow.h"

#include "fixture.h"
#include "proc.h"

static void
setup(void)
{
	fx_begin("deploy");
	fx_node_open();
	fx_node_run();
}

TestSuite(deploy, .init = setup, .fini = fx_end, .timeout = 60);

/* Run fn(arg) on the loop thread and wait for it. */
struct on_loop {
	void (*fn)(void *);
	void *arg;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool done;
};

static void
on_loop_cb(void *arg)
{
	struct on_loop *o = arg;
	o->fn(o->arg);
	pthread_mutex_lock(&o->mu);
	o->done = true;
	pthread_cond_signal(&o->cv);
	pthread_mutex_unlock(&o->mu);
}

static void
on_loop(void (*fn)(void *), void *arg)
{
	struct on_loop o = { fn, arg, PTHREAD_MUTEX_INITIALIZER,
		PTHREAD_COND_INITIALIZER, false };
	cr_assert_eq(loop_post(node_loop(fx_node), on_loop_cb, &o), 0);
	pthread_mutex_lock(&o.mu);
	while (!o.done) {
		pthread_cond_wait(&o.cv, &o.mu);
	}
	pthread_mutex_unlock(&o.mu);
}

static struct workflow *
ticking_workflow(void)
{
	char text[8192];
	struct diag d;
	struct workflow *wf;
	snprintf(text, sizeof text,
	    "workflow: w1\n"
	    "functions:\n"
	    "  e:\n"
	    "    code: %s/echo.so\n"
	    "resources:\n"
	    "  tick:\n"
	    "    type: timer\n"
	    "    config: { period_ms: 5 }\n"
	    "    outputs: { tick: e }\n",
	    test_path("LEDGE_FIXTURES", "build/tests/fixtures"));
	diag_init(&d);
	wf = wf_load_mem(
	    "/w/w1.yaml", text, strlen(text), res_types(), NULL, NULL, &d);
	cr_assert_not_null(wf, "workflow does not load");
	diag_fini(&d);
	return wf;
}

static void
deploy(void)
{
	char err[1024] = "";
	cr_assert_eq(node_deploy_wait(
	                 fx_node, ticking_workflow(), err, sizeof err, NULL),
	    LEDGE_OK, "deploy: %s", err);
}

/* The events handled by w1/e so far (loop thread). */
struct count {
	uint64_t events;
};

static void
count_one(void *arg, const struct node_inst_stats *st)
{
	struct count *c = arg;
	if (strcmp(st->name, "w1/e") == 0) {
		c->events = st->events;
	}
}

static void
count_cb(void *arg)
{
	node_foreach_instance(fx_node, count_one, arg);
}

static void
wait_ticks(void)
{
	struct count c = { 0 };
	for (int i = 0; i < 5000 && c.events < 5; i++) {
		struct timespec ts = { 0, 1000000 };
		nanosleep(&ts, NULL);
		on_loop(count_cb, &c);
	}
	cr_assert_geq(c.events, 5, "the ticks do not reach w1/e");
}

static atomic_bool undeployed;

static void
undeploy_done(void *arg)
{
	(void)arg;
	atomic_store(&undeployed, true);
}

static void
undeploy_cb(void *arg)
{
	int *rv = arg;
	*rv = node_undeploy_async(fx_node, "w1", undeploy_done, NULL);
}

static void
retired_cb(void *arg)
{
	*(bool *)arg = fx_node->retired != NULL;
}

static void
undeploy_and_wait_freed(void)
{
	int rv = -1;
	bool retired = true;
	atomic_store(&undeployed, false);
	on_loop(undeploy_cb, &rv);
	cr_assert_eq(rv, LEDGE_OK);
	for (int i = 0; i < 5000 && !atomic_load(&undeployed); i++) {
		struct timespec ts = { 0, 1000000 };
		nanosleep(&ts, NULL);
	}
	cr_assert(atomic_load(&undeployed), "the undeploy did not finish");
	for (int i = 0; i < 500 && retired; i++) {
		struct timespec ts = { 0, 10000000 };
		nanosleep(&ts, NULL);
		on_loop(retired_cb, &retired);
	}
	cr_assert_not(retired, "the undeployed workflow was not freed");
	cr_assert_not(node_has_workflow(fx_node, "w1"));
	cr_assert_null(node_find_target(fx_node, "w1/e"));
}

Test(deploy, an_undeployed_workflow_is_freed_once_unreferenced)
{
	deploy();
	wait_ticks();
	undeploy_and_wait_freed();
}

Test(deploy, the_same_workflow_deploys_again_after_it_was_freed)
{
	deploy();
	wait_ticks();
	undeploy_and_wait_freed();
	deploy();
	cr_assert(node_has_workflow(fx_node, "w1"));
	wait_ticks();
	undeploy_and_wait_freed();
}
