/*
 * bench_node.h - a node inside a benchmark driver's process: started
 * from a workflow text, its loop on a thread of its own, events injected
 * straight into its instances (as a timer would), stopped and removed.
 */
#ifndef LEDGE_BENCH_NODE_H
#define LEDGE_BENCH_NODE_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "base/rlog.h"
#include "node/node.h"

struct bnode {
	struct rlog log;
	struct node *node;
	pthread_t loop_thread;
	char dir[256];
};

/* Start a node (data in a fresh /tmp folder) running `yaml` (may be
 * NULL: no workflow).  Exits the process with a message on failure. */
void bnode_start(struct bnode *b, const char *yaml);

/* bnode_start with `workers` worker threads (0: the node's default). */
void bnode_start_workers(struct bnode *b, const char *yaml, int workers);

/* Deploy one more workflow into the running node; returns its status. */
int bnode_deploy(struct bnode *b, const char *yaml);

/* The target "workflow/name"; exits if there is none. */
struct node_target *bnode_target(struct bnode *b, const char *name);

/* Cast `len` bytes to an instance, waiting while its mailbox is full. */
void bnode_inject(
    struct bnode *b, struct node_target *t, const void *data, size_t len);

/* bnode_inject for a keyed target: the event goes to key `key`'s
 * instance. */
void bnode_inject_key(struct bnode *b, struct node_target *t, const void *key,
    size_t klen, const void *data, size_t len);

/* Stop the node, free it and remove its folder. */
void bnode_stop(struct bnode *b);

/* Percentile p (0..100) of n values (sorts them). */
double bench_percentile(uint64_t *v, size_t n, double p);

/* The scratch folder of the node, for files the driver writes. */
static inline const char *
bnode_dir(const struct bnode *b)
{
	return b->dir;
}

#endif
