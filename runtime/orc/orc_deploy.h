/*
 * orc_deploy.h - applying a placement: choosing the nodes of a
 * workflow's parts (orc_place.h) and sending each node what it runs.
 * Private to the orchestrator (orc_model.h).
 *
 * Threads: loop thread.
 */
#ifndef LEDGE_ORC_ORC_DEPLOY_H
#define LEDGE_ORC_ORC_DEPLOY_H

#include <stdbool.h>
#include <stddef.h>

struct msg_req;
struct onode;
struct orc;
struct owf;

/* A deployment fans out to nodes; the last answer finishes it. */
struct deploy_op {
	struct orc *o;
	char *wf;
	int pending;
	char errors[2048]; /* what the nodes said, "; "-separated */
	void (*done)(struct deploy_op *d);
	struct msg_req *req; /* the request to answer in done, or NULL */
	void *user;          /* for done */
	struct deploy_part {
		struct deploy_op *d;
		char *node;
		uint64_t gen; /* o->deploy_gen of its message */
	} * parts;
	size_t nparts;
};

/*
 * Place the parts of w on the nodes, given where they are now
 * (orc_place.h): a part that moves gets a new epoch, and the replicas are
 * chosen again.  LEDGE_OK, or an error with w unchanged.
 */
int orc_deploy_place(struct orc *o, struct owf *w);

/*
 * Whether part i of w could run on node n (asked for by name: n may be
 * draining).  If not, *why is the reason (malloc'd, may be NULL).
 */
bool orc_deploy_fits(
    struct orc *o, struct owf *w, size_t i, struct onode *n, char **why);

/*
 * Send workflow w to every up node with parts of it (and an undeploy to
 * nodes that had parts before and have none now).  `only`: just this
 * node (NULL: all).  done (may be NULL) runs when every node answered,
 * with d->req = req and d->user = user; d is freed after it.  If memory
 * runs out, req (if any) is answered busy and done does not run.
 */
void orc_deploy_wf(struct orc *o, struct owf *w, const char *only,
    struct msg_req *req, void (*done)(struct deploy_op *d), void *user);

#endif
