/*
 * node_call.h - the reply channel of a call.
 *
 * A call event carries one reference to a node_call; whoever handles the
 * call completes it exactly once with a reply (or an error).  The caller
 * is either a blocked thread (a function in ledge_call) that waits with a
 * deadline, or a callback (http-ingress) that is told on completion.
 * Either side may give up first: references keep the channel alive until
 * both are done, and a late reply is simply dropped.
 *
 * External calls (the caller is outside the node: an HTTP client) must
 * not see a reply whose effects are not yet durable; the host hands those
 * to the committer, which completes them after the commit (see
 * commit.h).  Internal calls complete at once.
 *
 * Threads: every function here is safe from any thread.
 */
#ifndef LEDGE_NODE_NODE_CALL_H
#define LEDGE_NODE_NODE_CALL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <ledge.h>

/* A reply; every pointer is owned by the reply. */
struct node_reply {
	int err;            /* LEDGE_OK or the failure */
	int status;         /* HTTP status given by the function, 0 = none */
	char *content_type; /* NULL = default */
	size_t nheaders;
	ledge_header *headers; /* names and values owned */
	unsigned char *body;
	size_t len;
	uint64_t dep; /* commit seq the reply's content depends on */
};

struct node_call {
	atomic_int refs;
	bool external; /* reply only once its effects are durable */
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool done;      /* a reply (or error) is in `reply` */
	bool notified;  /* ... and the caller may see it */
	bool abandoned; /* the caller stopped waiting */
	struct node_reply reply;
	/* Callback form: called once on completion, on the completing
	 * thread, with mu not held.  NULL for the waiting form. */
	void (*on_done)(struct node_call *call, void *arg);
	void *arg;
};

/*
 * A channel with two references (caller and callee).  With on_done set
 * the caller is told through it; otherwise it waits in node_call_wait.
 * NULL when out of memory.
 */
struct node_call *node_call_new(
    bool external, void (*on_done)(struct node_call *, void *), void *arg);

void node_call_ref(struct node_call *c);
void node_call_unref(struct node_call *c);

/*
 * Complete with `reply` (its contents are moved into the call, and the
 * struct zeroed).  A second completion is ignored (and its reply freed).
 */
void node_call_complete(struct node_call *c, struct node_reply *reply);

/*
 * Store the reply without telling the caller yet (for external calls whose
 * reply waits for a commit); node_call_notify tells it later.  Returns
 * false (and frees the reply) if the call was completed already.
 */
bool node_call_stage(struct node_call *c, struct node_reply *reply);

/*
 * Tell the caller about a staged reply; if err is not LEDGE_OK the staged
 * reply is replaced by that error.
 */
void node_call_notify(struct node_call *c, int err);

/* Complete with an error and no body. */
void node_call_fail(struct node_call *c, int err);

/*
 * Wait for completion up to `timeout_ms`.  Returns LEDGE_OK (the reply is
 * in c->reply, valid until the last unref) or LEDGE_ETIMEDOUT (the call
 * is marked abandoned; a later reply is dropped).
 */
int node_call_wait(struct node_call *c, uint32_t timeout_ms);

/* Free what a reply owns and zero it. */
void node_reply_free(struct node_reply *r);

#endif
