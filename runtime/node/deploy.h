/*
 * deploy.h - deploying, starting and undeploying workflows, for node.c
 * (the public calls, node_deploy*, node_undeploy_async, are in node.h).
 */
#ifndef LEDGE_NODE_DEPLOY_H
#define LEDGE_NODE_DEPLOY_H

#include <stdbool.h>
#include <stddef.h>

struct node;
struct node_wf;

/*
 * Start a deployed workflow: its resources first (events that reach an
 * instance queue behind its init, and an init may call an egress
 * resource), then the inits, then the durable events it left in the store,
 * and hand over those for parts that now run elsewhere.  Loop thread, or
 * before the loop runs.  LEDGE_OK, or LEDGE_EINVAL (a resource did not
 * start; reason in err, its resources stopped again).
 */
int deploy_start_wf(
    struct node *n, struct node_wf *w, char *err, size_t errlen);

/* Free a workflow's record, instances, resources and proxies. */
void deploy_free_wf(struct node_wf *w);

/*
 * Free what undeployed workflows (n->retired) held - instances and their
 * code, isolation hosts, resources, proxies, the workflow itself - once
 * nothing references them any more; looks again every second while some
 * are still referenced (not after a stop began: node_free frees the
 * rest).  Runs after each undeploy.  Loop thread.
 */
void deploy_reap(struct node *n);

#endif
