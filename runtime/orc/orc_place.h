/*
 * orc_place.h - where each part of a workflow runs.
 *
 * The orchestrator calls orc_place_workflow() with a validated workflow,
 * the nodes of its domain and where the workflow's parts are now; it
 * answers, for every part, the node to run it on (or why none fits) and,
 * for functions with `state: {replicas: N}`, the nodes that keep copies
 * of its state.
 *
 * Parts are numbered functions first, then resources, each in workflow
 * order: part i is wf->functions[i] for i < wf->nfunctions, else
 * wf->resources[i - wf->nfunctions].  orc_place_nparts() gives the count.
 *
 * Rules, in the order they are applied:
 *
 *  1. A function may run on a node that is up and not draining, has every
 *     label of placement.labels (same key and value), is placement.node
 *     if given, runs placement.arch if given, runs one of the code's
 *     architectures if the code is given per architecture, and offers
 *     every resource type of placement.resources.
 *  2. A resource may run on a node that is up, not draining and offers its
 *     type.  Every node offers timer, file-log and http-egress; any other
 *     type (http-ingress) only a node that lists it in `resources`.
 *  3. A part stays where it is (`current`) while that node is still
 *     feasible for it: no needless moves.  Parts kept are decided first,
 *     so they count in the load the other parts see.
 *  3b. The hash slots of a keyed function ("NAME#0".."NAME#N-1", see
 *     wf_split_slots) are spread: once rules 3 and 4 have placed them, no
 *     feasible node keeps more than ceil(N / feasible nodes) of them.
 *     The extra slots of a node (highest slot first) go to the feasible
 *     node with the fewest, so when the k-th node joins about N/k slots
 *     move, each to it, and none move between the others.
 *  4. A function that must move (or is new) goes, if it has state
 *     replicas on feasible nodes, to the least loaded of those (its state
 *     is already there); otherwise to the least loaded feasible node.
 *     Load is instances per core; ties go to the smaller name (strcmp),
 *     so the answer does not depend on the order of `nodes`.
 *  5. State replicas (N = replicas): first the current replica nodes that
 *     are still feasible, then the least loaded other feasible nodes, N
 *     distinct nodes in all, never the primary.  For replicas the
 *     placement.node pin is ignored (a copy of the state elsewhere is
 *     still worth having); every other constraint applies, since a replica
 *     node is where the function goes if its node is lost.  Fewer than N
 *     found is not a failure: the function is placed and `why` says so.
 *  6. A resource that must move (or is new) goes to the node of the
 *     function it is wired with if that node offers its type, else to the
 *     least loaded node that does.  The function it is wired with is the
 *     first function among the targets of its outputs (http-ingress:
 *     `request`, timer: `tick`); for a resource without such a target
 *     (file-log, http-egress), the first function whose outputs name it.
 *     A resource whose function could not be placed is still placed.
 *
 * Load: a node's load is its `instances` minus the parts of this workflow
 * that `current` says are on it (those are being decided now), plus every
 * part this call places on it.  State replicas do not count as load.
 * A node with `cores` < 1 counts as one core.
 *
 * Reasons (`why`) are one line for a person, beginning with the part's
 * name and naming the constraint and the nodes, e.g.
 *   "filter: no node has label zone=north; nodes: a (zone=south),
 *    b (no labels)"
 *   "filter: node 'c' is not in the domain (nodes: a, b)"
 *   "filter: node 'c' is lost"
 *   "filter: no node runs aarch64 (nodes: a x86_64, b x86_64)"
 *   "filter: code exists for aarch64, riscv only (nodes: a x86_64)"
 *   "api: http-ingress needs a node started with --http (nodes: a, b have
 *    none)"
 *   "filter: no node has label zone=north and runs aarch64 (nodes: a lacks
 *    zone=north, b is x86_64)"
 *   "filter: no node is up (nodes: a is lost, b is draining)"
 * Nodes that are lost or draining are named after the others ("; c is
 * lost") so that a user sees that the node which would fit is down.
 *
 * Threads: orc_place_workflow() reads only its arguments and writes only
 * `out`; it may run on any thread, concurrently with other calls.
 */
#ifndef LEDGE_ORC_ORC_PLACE_H
#define LEDGE_ORC_ORC_PLACE_H

#include <stdbool.h>
#include <stddef.h>

#include "workflow/workflow.h"

/*
 * A node of the domain as the orchestrator sees it now.  Every pointer is
 * borrowed for the duration of the call.  Names must be unique and not
 * NULL.  label_keys/label_values hold nlabels strings each (may be NULL
 * when nlabels is 0); resources holds nresources type names (may be NULL
 * when 0).  arch may be NULL (unknown: matches no architecture).
 */
struct orc_place_node {
	/* Unique in the domain. */
	const char *name;
	/* Its labels: label_keys[i]=label_values[i], nlabels pairs. */
	size_t nlabels;
	const char *const *label_keys;
	const char *const *label_values;
	/* uname -m of the node, e.g. "x86_64"; NULL when unknown. */
	const char *arch;
	/* CPU cores, the measure of its capacity; < 1 counts as 1. */
	int cores;
	/* Resource types it offers besides timer, file-log and http-egress,
	 * which every node offers (listing them too is harmless). */
	size_t nresources;
	const char *const *resources;
	/* false: the node is lost; nothing runs there. */
	bool up;
	/* Being emptied: its parts move off and nothing new goes there. */
	bool draining;
	/* Parts it runs now, of all workflows, including those of this
	 * workflow that `current` places on it. */
	unsigned instances;
};

/*
 * Where one part runs now; all pointers borrowed for the call.  node is
 * NULL for a part not placed yet; replicas names the nodes holding a copy
 * of a function's state (nreplicas of them; NULL when 0; ignored for
 * resources).  A name that is not in the domain is treated as a lost node.
 */
struct orc_place_current {
	const char *node;
	size_t nreplicas;
	const char *const *replicas;
	/* Of those, the ones that hold every write the function
	 * acknowledged (the in-sync set, nsync of them; NULL when 0): a
	 * function with `ack: replicas` whose node is lost may take over
	 * only on one of them - with none, it waits for its node (`wait`
	 * below).  One with `ack: primary` may take over on any replica. */
	size_t nsync;
	const char *const *sync;
};

/*
 * The decision for one part.  Owned by the caller once
 * orc_place_workflow() returns; release with orc_place_choices_free().
 */
struct orc_place_choice {
	/* Index into `nodes` of the node to run the part on, or -1 when no
	 * node fits now (the part stays pending). */
	int node;
	/* malloc'd, one line starting with the part's name: why no node
	 * fits (node == -1), or, for a placed function, a note that fewer
	 * state replicas than asked for were found.  NULL otherwise. */
	char *why;
	/* Node indexes (into `nodes`) that keep a replica of the function's
	 * state, distinct, never `node`, in the order chosen (kept ones
	 * first).  malloc'd; NULL when nreplicas is 0. */
	size_t nreplicas;
	int *replicas;
	/* The function's node is lost and no replica in sync can take it
	 * (node -1, `why` says so): it stays placed on its node, waiting
	 * for it to come back, rather than start elsewhere without writes
	 * it acknowledged. */
	bool wait;
};

/*
 * The number of parts of `wf`: wf->nfunctions + wf->nresources.  This is
 * the length of the `current` and `out` arrays of orc_place_workflow().
 */
size_t orc_place_nparts(const struct workflow *wf);

/*
 * Decide where every part of `wf` runs; see the rules at the top.
 *
 * wf       a validated workflow; borrowed, read-only.
 * nodes    the nodes of the domain, `nnodes` of them (NULL when 0); all
 *          borrowed.  At most INT_MAX nodes.
 * current  one entry per part (see orc_place_nparts), where it is now;
 *          NULL when nothing of the workflow is placed yet.  Borrowed.
 * out      caller-owned array of one entry per part; filled in.  Its
 *          previous contents are overwritten, not freed.
 *
 * A part that no node fits is not an error: its entry has node -1 and a
 * reason, and the other parts are placed regardless.
 *
 * Returns LEDGE_OK; LEDGE_EINVAL when an argument is NULL where it may
 * not be, a node has no name, two nodes share a name, or nnodes exceeds
 * INT_MAX; LEDGE_ENOMEM when an allocation fails.  On any error every
 * entry of `out` is left empty (node -1, no reason, no replicas), with
 * nothing to free.
 */
int orc_place_workflow(const struct workflow *wf,
    const struct orc_place_node *nodes, size_t nnodes,
    const struct orc_place_current *current, struct orc_place_choice *out);

/*
 * Free what `n` choices own (their reasons and replica arrays) and leave
 * them empty (node -1).  The array itself is the caller's.  c may be NULL
 * when n is 0.  Calling it twice is harmless.
 */
void orc_place_choices_free(struct orc_place_choice *c, size_t n);

#endif
