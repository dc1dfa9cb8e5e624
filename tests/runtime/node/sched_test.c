/*
 * sched_test.c - the worker pool (runtime/node/sched.h) with an ops
 * vector of the test's own: every queued instance runs, each worker's
 * state is made and freed, blocked workers get extras so queued
 * instances still run, and a pool whose workers cannot be made does not
 * start.
 */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "node/instance.h"
#include "node/sched.h"

static atomic_int made, freed, runs;
static atomic_int ran[64];
static bool fail_new;

/* Blocking runs wait here until released. */
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static bool released;
static struct node_instance insts[64];
static int nblocking; /* insts[0..nblocking) block */

struct tworker {
	struct sched *s;
};

static void *
worker_new(void *arg, struct sched *s, bool extra)
{
	struct tworker *w;
	(void)arg;
	(void)extra;
	if (fail_new || (w = malloc(sizeof *w)) == NULL) {
		return NULL;
	}
	w->s = s;
	atomic_fetch_add(&made, 1);
	return w;
}

static void
run(void *worker, struct node_instance *inst)
{
	struct tworker *w = worker;
	int i = (int)(inst - insts);
	if (i < nblocking) {
		sched_block_enter(w->s);
		pthread_mutex_lock(&mu);
		while (!released) {
			pthread_cond_wait(&cv, &mu);
		}
		pthread_mutex_unlock(&mu);
		sched_block_leave(w->s);
	}
	atomic_fetch_add(&ran[i], 1);
	atomic_fetch_add(&runs, 1);
}

static void
worker_free(void *worker)
{
	free(worker);
	atomic_fetch_add(&freed, 1);
}

static const struct sched_ops ops = {
	.worker_new = worker_new,
	.run = run,
	.worker_free = worker_free,
};

static void
setup(void)
{
	atomic_store(&made, 0);
	atomic_store(&freed, 0);
	atomic_store(&runs, 0);
	for (int i = 0; i < 64; i++) {
		atomic_store(&ran[i], 0);
	}
	memset(insts, 0, sizeof insts);
	fail_new = false;
	released = false;
	nblocking = 0;
}

TestSuite(sched, .init = setup, .timeout = 60);

static void
wait_runs(int n)
{
	for (int i = 0; i < 5000 && atomic_load(&runs) < n; i++) {
		struct timespec ts = { 0, 1000000 };
		nanosleep(&ts, NULL);
	}
	cr_assert_eq(atomic_load(&runs), n);
}

Test(sched, every_queued_instance_runs_and_workers_are_freed)
{
	struct sched *s = NULL;
	int workers, blocked;
	cr_assert_eq(sched_start(&s, &ops, NULL, 3), 0);
	sched_counts(s, &workers, &blocked);
	cr_assert_eq(workers, 3);
	cr_assert_eq(blocked, 0);
	for (int i = 0; i < 40; i++) {
		sched_enqueue(s, &insts[i]);
	}
	wait_runs(40);
	for (int i = 0; i < 40; i++) {
		cr_assert_eq(atomic_load(&ran[i]), 1, "instance %d", i);
	}
	sched_stop(s);
	cr_assert_geq(atomic_load(&made), 3);
	cr_assert_eq(atomic_load(&freed), atomic_load(&made));
}

Test(sched, blocked_workers_get_extras_so_queued_instances_run)
{
	struct sched *s = NULL;
	int workers, blocked;
	nblocking = 2;
	cr_assert_eq(sched_start(&s, &ops, NULL, 2), 0);
	/* Both workers block; the rest must still run. */
	sched_enqueue(s, &insts[0]);
	sched_enqueue(s, &insts[1]);
	for (int i = 0; i < 2000; i++) {
		sched_counts(s, &workers, &blocked);
		if (blocked == 2) {
			break;
		}
		struct timespec ts = { 0, 1000000 };
		nanosleep(&ts, NULL);
	}
	cr_assert_eq(blocked, 2);
	for (int i = 2; i < 10; i++) {
		sched_enqueue(s, &insts[i]);
	}
	wait_runs(8);
	sched_counts(s, &workers, &blocked);
	cr_assert_gt(workers, 2, "no extra worker for blocked callers");
	pthread_mutex_lock(&mu);
	released = true;
	pthread_cond_broadcast(&cv);
	pthread_mutex_unlock(&mu);
	wait_runs(10);
	sched_stop(s);
	cr_assert_eq(atomic_load(&freed), atomic_load(&made));
}

Test(sched, a_pool_whose_workers_cannot_be_made_does_not_start)
{
	struct sched *s = NULL;
	fail_new = true;
	cr_assert_eq(sched_start(&s, &ops, NULL, 2), LEDGE_ENOMEM);
	cr_assert_null(s);
	cr_assert_eq(atomic_load(&made), 0);
}
