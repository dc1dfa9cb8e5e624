/*
 * agent.h - a node's membership of a domain (`ledge node`).
 *
 * The agent joins the orchestrator (retrying until it answers, so a node
 * may start first), sends it heartbeats carrying the function log lines
 * (requests on the orchestrator's one address), and
 * answers requests on the node's address: deployments (fetching code it
 * lacks by hash), undeployments, state reads, invocations, and the event
 * batches and calls of other nodes (links.h).  While the orchestrator
 * is away the node keeps running what it runs.
 *
 * Threads: loop thread.
 */
#ifndef LEDGE_DOMAIN_AGENT_H
#define LEDGE_DOMAIN_AGENT_H

#include <stddef.h>

struct agent;
struct node;
struct msg_tls;

struct agent_opts {
	const char *orchestrator; /* its request address */
	const char *listen;       /* this node's request address */
	const char *http;         /* this node's HTTP address, or NULL */
	size_t nlabels;
	const char *const *label_keys;
	const char *const *label_values;
	const struct msg_tls *tls;
};

/*
 * Start serving on o->listen and joining o->orchestrator.  Returns
 * LEDGE_OK, or with a reason in err: LEDGE_EINVAL (no heartbeat address
 * for that URL), LEDGE_ECONN (e.g. the address is in use), LEDGE_ENOMEM.
 */
int agent_start(struct agent **ap, struct node *n, const struct agent_opts *o,
    char *err, size_t errlen);

/* Stop (before node_free). */
void agent_free(struct agent *a);

#endif
