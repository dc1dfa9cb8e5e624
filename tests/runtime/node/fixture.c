/*
 * fixture.c - the node's unit-test fixture (fixture.h).
 */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ledge.h>

#include "fixture.h"
#include "node/commit.h"
#include "node/node.h"
#include "proc.h"
#include "store/store.h"

char *fx_dir;
struct rlog fx_log;
struct store *fx_store;
struct node *fx_node;
atomic_int fx_fatal_calls;
char fx_fatal_why[256];

static pthread_t runner;
static bool running;

static void *
run(void *arg)
{
	(void)arg;
	node_run(fx_node);
	return NULL;
}

void
fx_begin(const char *tag)
{
	fx_dir = tmpdir_make(tag);
	cr_assert_not_null(fx_dir);
	rlog_init(&fx_log, stderr, RLOG_ERROR);
}

void
fx_end(void)
{
	fx_node_close();
	store_close(fx_store);
	fx_store = NULL;
	rlog_fini(&fx_log);
	tmpdir_remove(fx_dir);
	free(fx_dir);
	fx_dir = NULL;
}

void
fx_begin_store(const char *tag)
{
	fx_begin(tag);
	fx_store_open();
}

void
fx_store_open(void)
{
	struct store_opts o = { .map_mb = 256, .nosync = true };
	char err[512] = "";
	int rv = store_open(&fx_store, fx_dir, &o, err, sizeof err);
	cr_assert_eq(rv, LEDGE_OK, "store_open: %s", err);
}

void
fx_on_fatal(void *arg, const char *why)
{
	(void)arg;
	atomic_fetch_add(&fx_fatal_calls, 1);
	snprintf(fx_fatal_why, sizeof fx_fatal_why, "%s", why ? why : "(null)");
}

struct commit *
fx_commit_start(void)
{
	struct commit *c = NULL;
	cr_assert_eq(
	    commit_start(&c, fx_store, &fx_log, fx_on_fatal, NULL), LEDGE_OK);
	cr_assert_not_null(c);
	return c;
}

void
fx_commit_stop(struct commit *c)
{
	commit_stop(c);
	commit_free(c);
}

int
fx_count(void *arg, ledge_bytes key, ledge_bytes value)
{
	(void)key;
	(void)value;
	(*(size_t *)arg)++;
	return 0;
}

static void
hold_done(void *arg, int err)
{
	struct fx_hold *h = arg;
	(void)err;
	pthread_mutex_lock(&h->mu);
	h->entered = true;
	pthread_cond_broadcast(&h->cv);
	while (!h->open) {
		pthread_cond_wait(&h->cv, &h->mu);
	}
	pthread_mutex_unlock(&h->mu);
}

void
fx_hold_begin(struct commit *c, struct fx_hold *h)
{
	struct commit_rec *r = commit_rec_new();

	cr_assert_not_null(r);
	pthread_mutex_init(&h->mu, NULL);
	pthread_cond_init(&h->cv, NULL);
	h->entered = h->open = false;
	r->done = hold_done;
	r->arg = h;
	commit_submit(c, r);
	pthread_mutex_lock(&h->mu);
	while (!h->entered) {
		pthread_cond_wait(&h->cv, &h->mu);
	}
	pthread_mutex_unlock(&h->mu);
}

void
fx_hold_end(struct fx_hold *h)
{
	pthread_mutex_lock(&h->mu);
	h->open = true;
	pthread_cond_broadcast(&h->cv);
	pthread_mutex_unlock(&h->mu);
}

void
fx_hold_fini(struct fx_hold *h)
{
	pthread_cond_destroy(&h->cv);
	pthread_mutex_destroy(&h->mu);
}

void
fx_node_open(void)
{
	char err[512] = "";
	struct node_opts o = { 0 };
	o.data_dir = fx_dir;
	o.workers = 2;
	o.name = "n1";
	o.store.map_mb = 64;
	o.store.nosync = true;
	cr_assert_eq(node_new(&fx_node, &o, &fx_log, err, sizeof err), LEDGE_OK,
	    "node_new: %s", err);
}

void
fx_node_run(void)
{
	char err[512] = "";
	cr_assert_eq(node_start(fx_node, err, sizeof err), LEDGE_OK, "%s", err);
	cr_assert_eq(pthread_create(&runner, NULL, run, NULL), 0);
	running = true;
}

void
fx_node_stop(void)
{
	if (running) {
		node_request_stop(fx_node);
		pthread_join(runner, NULL);
		running = false;
	}
}

void
fx_node_close(void)
{
	fx_node_stop();
	node_free(fx_node);
	fx_node = NULL;
}

size_t
fx_skey(unsigned char *buf, uint32_t inst, const char *key)
{
	size_t n = strlen(key);
	store_be32(buf, inst);
	memcpy(buf + 4, key, n);
	return 4 + n;
}

struct commit_rec *
fx_rec_put(uint32_t inst, const char *key, const char *val)
{
	struct commit_rec *r = commit_rec_new();
	unsigned char k[300];

	cr_assert_not_null(r);
	cr_assert(commit_rec_empty(r));
	cr_assert_eq(commit_rec_put(r, STORE_STATE, k, fx_skey(k, inst, key),
	                 val, strlen(val)),
	    LEDGE_OK);
	cr_assert_not(commit_rec_empty(r));
	return r;
}
