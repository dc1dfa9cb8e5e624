/*
 * orc_move.h - transitions: taking a workflow from one placement to
 * another, the state of each function that leaves a node that is up
 * carried along (placing again after a change, fn.move, node.drain).
 * Private to the orchestrator (orc_model.h).
 *
 * A transition takes a workflow from its old placement (`old`, node
 * names per part) to the one in w->place.  A function that leaves a node
 * that is up takes its state along:
 *
 *   1. the nodes it leaves get the new placement first: the part stops
 *      there, and events still queued for it, or arriving, go on to its
 *      new node (the links hold them until it runs there);
 *   2. its state is exported from the old node and imported into the
 *      new one (durable there before the answer);
 *   3. every node gets the new placement: the part starts on its new
 *      node with that state;
 *   4. the old node drops its copy; the placement is saved.
 *
 * A function whose node was lost starts from a replica of its state if
 * it has one (the replica node already holds it), else empty.  If step 1
 * or 2 fails, the moved parts go back where they were.
 *
 * Threads: loop thread.
 */
#ifndef LEDGE_ORC_ORC_MOVE_H
#define LEDGE_ORC_ORC_MOVE_H

#include <stdbool.h>
#include <stddef.h>

#include "orc/orc_model.h"

struct msg_req;

/* One function that changes node in a transition. */
struct tmove {
	size_t part;         /* its index in w->place */
	char *from, *to;     /* node names */
	struct oplace saved; /* the placement before, to go back */
};

/* A transition under way (w->busy while it lasts). */
struct trans {
	struct orc *o;
	char *wf;
	struct msg_req *req; /* fn.move: answered at the end, or NULL */
	void (*done)(struct trans *t);
	void *user;
	struct tmove *moves;
	size_t nmoves, step;
	int pending;
	char err[1024]; /* why it failed (then undone), or "" */
};

/*
 * Start moving w from `oldp` (the placements before, per part; borrowed,
 * kept to go back) to its current w->place.  req (may be NULL) is
 * answered at the end with {from, to, epoch} of the first move, or
 * `failed` with the reason.  done (may be NULL) runs at the end with
 * t->user = user, before t is freed.  If memory runs out, req is
 * answered busy and done does not run.
 */
void orc_move_start(struct orc *o, struct owf *w, const struct oplace *oldp,
    struct msg_req *req, void (*done)(struct trans *t), void *user);

/* Place again every workflow with parts pending or on a node that can no
 * longer take them, and move what changed (with its state); a workflow
 * being moved waits (o->replace_wanted). */
void orc_move_replace_all(struct orc *o);

/* Whether a placement again waits and no workflow is being moved any
 * longer (then it is no longer waiting: call orc_move_replace_all). */
bool orc_move_replace_due(struct orc *o);

#endif
