/*
 * ctl.h - control events: init, reload and stop go to an instance as
 * events of their own (NE_INIT, NE_RELOAD, NE_STOP), at an event boundary;
 * the executor reports each answer with ctl_done.  The answers end a
 * start-up (every init answered), an undeploy step (one
 * instance stopped: the workflow's `stopped` callback) or a stop (every
 * instance stopped).
 *
 * For the node's own files; the executor calls ctl_done.
 */
#ifndef LEDGE_NODE_CTL_H
#define LEDGE_NODE_CTL_H

#include <stdbool.h>

struct node;
struct node_instance;
struct node_wf;

/*
 * Send control event `kind` (NE_INIT, NE_RELOAD, NE_STOP) with payload
 * `ctl` (NE_RELOAD: the new struct node_code, whose reference passes to
 * the event) to inst; may_inline lets the loop thread run it at once
 * (node_send_inline).  Returns LEDGE_OK, or LEDGE_ENOMEM: nothing was
 * sent and ctl is still the caller's.
 */
int ctl_send(struct node *n, struct node_instance *inst, int kind, void *ctl,
    bool may_inline);

/*
 * The stops of `count` instances in two steps, so that running out of
 * memory changes nothing: ctl_stops_new makes the NE_STOP events (NULL
 * when out of memory), ctl_stops_send sends evs[i] to insts[i] and frees
 * the array.  Loop thread.
 */
struct node_event **ctl_stops_new(
    struct node_instance *const *insts, size_t count);
void ctl_stops_send(struct node *n, struct node_instance *const *insts,
    struct node_event **evs, size_t count);

/*
 * ctl_send for the stop of the whole node (SIGTERM), which has no caller
 * to fail to: out of memory there is logged and aborts (nothing sensible
 * is left; a restart recovers the durable state).
 */
void ctl_push(struct node *n, struct node_instance *inst, int kind, void *ctl,
    bool may_inline);

/* Called by the executor when an instance finished control event `kind`
 * with result rv (any thread). */
void ctl_done(struct node *n, struct node_instance *inst, int kind, int rv);

/* Every init of workflow w (a struct node_wf *) has answered: report
 * to its on_started, end a start-up.  Loop thread (posted there). */
void ctl_wf_inited(void *w);

/* Stop the started resources of w (loop thread). */
void ctl_stop_resources(struct node_wf *w);

/* The node is done: leave the loop (node_run returns). */
void ctl_stop_now(struct node *n);

/* During a stop: done once no control event is pending (arg: the node). */
void ctl_stop_check(void *arg);

#endif
