/*
 * fixture.h - what the node's unit tests stand on: a temporary folder, a
 * log, and in it a real store with a committer, or a whole node (no
 * mocks).  One fixture per test process, set up by the suite's .init and
 * torn down by its .fini.
 */
#ifndef LEDGE_TESTS_NODE_FIXTURE_H
#define LEDGE_TESTS_NODE_FIXTURE_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <ledge.h>

#include "base/rlog.h"

struct commit;
struct commit_rec;
struct node;
struct store;

extern char *fx_dir;           /* the temporary folder */
extern struct rlog fx_log;     /* errors only, to stderr */
extern struct store *fx_store; /* fx_store_open's, or NULL */
extern struct node *fx_node;   /* fx_node_open's, or NULL */

/* Store failures the committers of fx_commit_start reported, the last
 * reason. */
extern atomic_int fx_fatal_calls;
extern char fx_fatal_why[256];

/* Make fx_dir (named after `tag`) and fx_log; asserts. */
void fx_begin(const char *tag);

/* Free the node and the store that are open, fx_log and the folder. */
void fx_end(void);

/* fx_begin, then fx_store_open. */
void fx_begin_store(const char *tag);

/* Open fx_store on fx_dir (256 MiB map, no fsync); asserts. */
void fx_store_open(void);

/* The committers' on_fatal: counts into fx_fatal_calls. */
void fx_on_fatal(void *arg, const char *why);

/* A committer on fx_store (fx_on_fatal); asserts.  Stop it with
 * fx_commit_stop (which also frees it). */
struct commit *fx_commit_start(void);
void fx_commit_stop(struct commit *c);

/* A scan callback (store_scan) that counts into *(size_t *)arg. */
int fx_count(void *arg, ledge_bytes key, ledge_bytes value);

/*
 * A hold on a committer: an empty record whose completion blocks the
 * committer thread until fx_hold_end, so that records submitted
 * meanwhile land in one batch.  fx_hold_begin returns once the thread is
 * held; fx_hold_fini after the committer has moved on.
 */
struct fx_hold {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool entered, open;
};
void fx_hold_begin(struct commit *c, struct fx_hold *h);
void fx_hold_end(struct fx_hold *h);
void fx_hold_fini(struct fx_hold *h);

/* Open fx_node "n1" on fx_dir (2 workers, 64 MiB map, no fsync);
 * asserts.  fx_node_close frees it (its committer writes out what was
 * submitted), so opening again is a restart on the same data. */
void fx_node_open(void);
void fx_node_close(void);

/* Start fx_node (node_start) and run its loop on a thread of its own
 * until fx_node_stop or fx_node_close; asserts. */
void fx_node_run(void);

/* Stop the loop fx_node_run started and wait for its thread (nothing if
 * it does not run). */
void fx_node_stop(void);

/* A state key: instance id (big-endian) then `key`; returns its length. */
size_t fx_skey(unsigned char *buf, uint32_t inst, const char *key);

/* A record that puts `val` under state key (inst, key); asserts. */
struct commit_rec *fx_rec_put(uint32_t inst, const char *key, const char *val);

#endif
