#include <ftw.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/diag.h"
#include "bench_node.h"
#include "node/instance.h"
#include "node/node_event.h"
#include "resources/resources.h"
#include "workflow/workflow.h"

static void *
loop_main(void *arg)
{
	struct bnode *b = arg;
	node_run(b->node);
	return NULL;
}

static struct workflow *
parse(struct bnode *b, const char *yaml)
{
	struct diag d;
	char name[300];
	struct workflow *wf;
	snprintf(name, sizeof name, "%s/bench.yaml", b->dir);
	diag_init(&d);
	wf = wf_load_mem(name, yaml, strlen(yaml), res_types(), NULL, NULL, &d);
	if (wf == NULL) {
		diag_print(&d, stderr);
		exit(1);
	}
	diag_fini(&d);
	return wf;
}

void
bnode_start(struct bnode *b, const char *yaml)
{
	bnode_start_workers(b, yaml, 0);
}

void
bnode_start_workers(struct bnode *b, const char *yaml, int workers)
{
	struct node_opts o = { 0 };
	char err[1024];

	snprintf(b->dir, sizeof b->dir, "/tmp/ledge-bench-XXXXXX");
	if (mkdtemp(b->dir) == NULL) {
		perror("mkdtemp");
		exit(1);
	}
	rlog_init(&b->log, stderr, RLOG_WARN);
	o.data_dir = b->dir;
	o.watch = false;
	o.workers = workers;
	if (node_new(&b->node, &o, &b->log, err, sizeof err) != 0) {
		fprintf(stderr, "node: %s\n", err);
		exit(1);
	}
	if (yaml != NULL &&
	    node_deploy(b->node, parse(b, yaml), err, sizeof err) != 0) {
		fprintf(stderr, "deploy: %s\n", err);
		exit(1);
	}
	if (node_start(b->node, err, sizeof err) != 0) {
		fprintf(stderr, "start: %s\n", err);
		exit(1);
	}
	pthread_create(&b->loop_thread, NULL, loop_main, b);
}

int
bnode_deploy(struct bnode *b, const char *yaml)
{
	char err[1024];
	int rv =
	    node_deploy_wait(b->node, parse(b, yaml), err, sizeof err, NULL);
	if (rv != 0) {
		fprintf(stderr, "deploy: %s\n", err);
	}
	return rv;
}

struct node_target *
bnode_target(struct bnode *b, const char *name)
{
	struct node_target *t = node_find_target(b->node, name);
	if (t == NULL) {
		fprintf(stderr, "no target %s\n", name);
		exit(1);
	}
	return t;
}

void
bnode_inject(
    struct bnode *b, struct node_target *t, const void *data, size_t len)
{
	struct node_event *ev;
	while (node_admit(t) != 0) {
		sched_yield();
	}
	if ((ev = node_event_new(NE_CAST, t->id, data, len)) == NULL) {
		abort();
	}
	node_admitted(t, ev);
	node_send(b->node, t, ev);
}

void
bnode_inject_key(struct bnode *b, struct node_target *t, const void *key,
    size_t klen, const void *data, size_t len)
{
	struct node_event *ev;
	while (node_admit(t) != 0) {
		sched_yield();
	}
	if ((ev = node_event_new(NE_CAST, t->id, data, len)) == NULL ||
	    node_event_set_key(ev, key, klen) != 0) {
		abort();
	}
	node_admitted(t, ev);
	node_send(b->node, t, ev);
}

static int
rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	return flag == FTW_DP ? rmdir(path) : unlink(path);
}

void
bnode_stop(struct bnode *b)
{
	node_request_stop(b->node);
	pthread_join(b->loop_thread, NULL);
	node_free(b->node);
	rlog_fini(&b->log);
	nftw(b->dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static int
cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return (x > y) - (x < y);
}

double
bench_percentile(uint64_t *v, size_t n, double p)
{
	size_t i;
	if (n == 0) {
		return 0;
	}
	qsort(v, n, sizeof v[0], cmp_u64);
	i = (size_t)(p / 100.0 * (double)(n - 1) + 0.5);
	return (double)v[i < n ? i : n - 1];
}
