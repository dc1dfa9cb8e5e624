/*
 * embed.h - a node of a domain composed in one process: with its own
 * orchestrator, as `ledge run` runs it, or joining a remote one, as
 * `ledge node` does.
 *
 * With its own orchestrator (opts.listen), the node runs the workflows
 * it is given and the orchestrator adopts them, so the domain commands
 * (workflow list/show, invoke, state get, logs, function reload,
 * workflow start of more workflows) reach this process as they reach a
 * domain.  The node joins it over inproc:// like any node of a domain;
 * the orchestrator runs on the node's loop and keeps its store in
 * DATA/orc.  Joining a remote orchestrator (opts.join), the node runs
 * what the orchestrator places on it.
 *
 * Life of a handle, all on one (the main) thread:
 *
 *     embed_new -> embed_deploy (each workflow) -> embed_start ->
 *     embed_run (until SIGINT/SIGTERM or embed_stop) -> embed_free
 *
 * embed_free may follow any step, also a failed one.
 */
#ifndef LEDGE_DOMAIN_EMBED_H
#define LEDGE_DOMAIN_EMBED_H

#include <stddef.h>

#include "domain/agent.h"
#include "node/node.h"

struct embed;
struct rlog;
struct workflow;

struct embed_opts {
	/* The node (node/node.h).  Its strings and code cache are borrowed
	 * until embed_free; its trust set is the own orchestrator's too. */
	struct node_opts node;
	/* The own orchestrator's address (e.g. tcp://127.0.0.1:7600; its
	 * only listener, heartbeats included), or NULL for none.  Borrowed
	 * until embed_free. */
	const char *listen;
	/* Or the remote orchestrator to join and how (agent.h), or NULL for
	 * none; copied, its strings and arrays borrowed until embed_free.
	 * Not with listen. */
	const struct agent_opts *join;
};

/*
 * Make the node (node_new) for the workflows wfs[0..nwf-1], which are
 * only read here: with an orchestrator, what it needs to adopt them (the
 * file and its text, each function's name and code file) is copied now,
 * before embed_deploy takes them.  log is borrowed until embed_free.
 *
 * Returns LEDGE_OK with the handle in *ep; LEDGE_EINVAL (both listen and
 * join); LEDGE_ENOMEM ("out of memory" in err, also when a workflow file
 * cannot be read again), or node_new's code and reason.  *ep is NULL
 * after a failure.
 */
int embed_new(struct embed **ep, const struct embed_opts *o,
    struct workflow *const *wfs, size_t nwf, struct rlog *log, char *err,
    size_t errlen);

/*
 * Deploy one workflow on the node (node_deploy; it takes wf, also on
 * failure).  Before embed_start.  LEDGE_OK, or a code with the reason in
 * err.
 */
int embed_deploy(
    struct embed *e, struct workflow *wf, char *err, size_t errlen);

/*
 * Start the node (node_start) and its /metrics, then its own
 * orchestrator or the join of the remote one.  LEDGE_OK, or with the
 * reason in err node_start's code, or LEDGE_ECONN when the node cannot
 * serve and join a remote orchestrator (agent_start; e.g. its address
 * is in use).
 *
 * An own orchestrator never fails the start: when its address is taken
 * or its store cannot be opened, a warning is logged and the node runs
 * without it; it adopts the workflows (forgetting those a previous run
 * adopted), and a workflow it cannot adopt, or a node that cannot join
 * it, is logged too.
 */
int embed_start(struct embed *e, char *err, size_t errlen);

/*
 * Run until a stop is asked (SIGINT, SIGTERM or embed_stop), then stop
 * the node cleanly (node_run).  Returns 0 after a clean stop.
 */
int embed_run(struct embed *e);

/* Ask embed_run to return (any thread; not from a signal handler). */
void embed_stop(struct embed *e);

/* The node, for the caller's own use; owned by the handle. */
struct node *embed_node(struct embed *e);

/* Stop the agent and the own orchestrator, then free the node and the
 * handle (after embed_run returned, or without running).  NULL is
 * fine. */
void embed_free(struct embed *e);

#endif
