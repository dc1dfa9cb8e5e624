/*
 * ctl.c - control events (init, reload, stop) and what follows their
 * answers: the end of a start-up, of an undeploy step, of a stop (ctl.h).
 */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "code/code.h"
#include "node/ctl.h"
#include "node/instance.h"
#include "node/keyed.h"
#include "node/node_event.h"
#include "node/node_impl.h"
#include "node/route.h"
#include "platform/loop.h"
#include "workflow/resource.h"

int
ctl_send(struct node *n, struct node_instance *inst, int kind, void *ctl,
    bool may_inline)
{
	struct node_event *ev =
	    node_event_new((uint8_t)kind, inst->target.id, NULL, 0);
	if (ev == NULL) {
		return LEDGE_ENOMEM;
	}
	ev->ctl = ctl;
	if (may_inline) {
		node_send_inline(n, &inst->target, ev);
	} else {
		node_send(n, &inst->target, ev);
	}
	return LEDGE_OK;
}

struct node_event **
ctl_stops_new(struct node_instance *const *insts, size_t count)
{
	struct node_event **evs = calloc(count + 1, sizeof *evs);

	for (size_t i = 0; evs != NULL && i < count; i++) {
		evs[i] = node_event_new(NE_STOP, insts[i]->target.id, NULL, 0);
		if (evs[i] == NULL) {
			for (size_t k = 0; k < i; k++) {
				node_event_free(evs[k]);
			}
			free(evs);
			evs = NULL;
		}
	}
	return evs;
}

void
ctl_stops_send(struct node *n, struct node_instance *const *insts,
    struct node_event **evs, size_t count)
{
	for (size_t i = 0; i < count; i++) {
		node_send(n, &insts[i]->target, evs[i]);
	}
	free(evs);
}

void
ctl_push(struct node *n, struct node_instance *inst, int kind, void *ctl,
    bool may_inline)
{
	if (ctl_send(n, inst, kind, ctl, may_inline) != LEDGE_OK) {
		/* Out of memory at stop: nothing sensible is left. */
		rlog_write(n->log, RLOG_ERROR, inst->target.name,
		    "out of memory queueing a control event");
		abort();
	}
}

/* While node_start runs the loop: stop it once every init answered. */
static void
startup_check(struct node *n)
{
	bool pending = false;
	if (atomic_load(&n->state) != NS_STARTING) {
		return;
	}
	pthread_mutex_lock(&n->ctl_mu);
	for (struct node_wf *w = n->wfs; w != NULL; w = w->next) {
		pending |= w->init_pending > 0;
	}
	pthread_mutex_unlock(&n->ctl_mu);
	if (!pending) {
		loop_exit(n->loop);
	}
}

void
ctl_stop_resources(struct node_wf *w)
{
	for (size_t i = 0; i < w->nres; i++) {
		struct node_res *nr = w->res[i];
		if (nr->started && nr->res.type->stop) {
			nr->res.type->stop(&nr->res);
		}
		nr->started = false;
	}
}

static void stop_check_cb(void *arg);

/* Loop thread: every init of workflow w has answered. */
void
ctl_wf_inited(void *arg)
{
	struct node_wf *w = arg;
	struct node *n = w->node;
	if (w->init_failed > 0 && atomic_load(&n->state) == NS_RUNNING) {
		/* Deployed into a running node: take it down again. */
		ctl_stop_resources(w);
	}
	if (w->on_started != NULL) {
		w->on_started(w->started_arg,
		    w->init_failed ? LEDGE_EFAIL : LEDGE_OK, w->init_err);
		w->on_started = NULL;
	}
	startup_check(n);
}

/* The control events of a key instance concern its key alone; its
 * part's stop ends with the last of them (keyed.h). */
static void
key_done(struct node *n, struct node_instance *k, int kind, int rv)
{
	switch (kind) {
	case NE_INIT:
		keyed_inited(k, rv);
		break;
	case NE_RELOAD:
		if (rv != LEDGE_OK) {
			rlog_write(n->log, RLOG_ERROR, k->target.name,
			    "reload failed for a key: init of the new code "
			    "returned %s (%d); that key runs code %.12s",
			    ledge_strerror(rv), rv, k->code->hash);
		} else {
			keyed_inited(k, rv);
		}
		break;
	case NE_STOP:
		for (size_t i = keyed_stopped(k); i > 0; i--) {
			ctl_done(n, k->part, NE_STOP, LEDGE_OK);
		}
		break;
	}
}

void
ctl_done(struct node *n, struct node_instance *inst, int kind, int rv)
{
	if (inst->part != NULL) {
		key_done(n, inst, kind, rv);
		return;
	}
	switch (kind) {
	case NE_INIT: {
		struct node_wf *w = inst->owner;
		bool last;
		pthread_mutex_lock(&n->ctl_mu);
		if (rv != LEDGE_OK) {
			atomic_store(&inst->status, NI_FAILED);
			w->init_failed++;
			size_t used = strlen(w->init_err);
			snprintf(w->init_err + used, sizeof w->init_err - used,
			    "%s%s: init failed: %s (%d)", used ? "; " : "",
			    inst->target.name, ledge_strerror(rv), rv);
		} else {
			atomic_store(&inst->status, NI_RUNNING);
		}
		last = --w->init_pending == 0;
		pthread_mutex_unlock(&n->ctl_mu);
		if (last) {
			loop_post(n->loop, ctl_wf_inited, w);
		}
		break;
	}
	case NE_RELOAD:
		if (rv == LEDGE_OK) {
			rlog_write(n->log, RLOG_INFO, inst->target.name,
			    "reloaded: now running code %.12s",
			    inst->code->hash);
		} else {
			rlog_write(n->log, RLOG_ERROR, inst->target.name,
			    "reload failed: init of the new code returned "
			    "%s (%d); still running code %.12s",
			    ledge_strerror(rv), rv, inst->code->hash);
		}
		break;
	case NE_STOP: {
		struct node_wf *w = inst->owner;
		pthread_mutex_lock(&inst->mb.mu);
		inst->mb.closed = true;
		pthread_mutex_unlock(&inst->mb.mu);
		atomic_store(&inst->status, NI_STOPPED);
		if (w->undeploying != NULL && !node_impl_stopping(n)) {
			loop_post(n->loop, w->stopped, w);
			break;
		}
		pthread_mutex_lock(&n->ctl_mu);
		n->ctl_pending--;
		pthread_mutex_unlock(&n->ctl_mu);
		loop_post(n->loop, stop_check_cb, n);
		break;
	}
	}
}

void
ctl_stop_now(struct node *n)
{
	if (atomic_load(&n->state) == NS_DONE) {
		return;
	}
	atomic_store(&n->state, NS_DONE);
	loop_exit(n->loop);
}

void
ctl_stop_check(void *arg)
{
	struct node *n = arg;
	int pending;
	pthread_mutex_lock(&n->ctl_mu);
	pending = n->ctl_pending;
	pthread_mutex_unlock(&n->ctl_mu);
	if (pending == 0) {
		ctl_stop_now(n);
	}
}

static void
stop_check_cb(void *arg)
{
	struct node *n = arg;
	if (atomic_load(&n->state) == NS_STOPPING) {
		ctl_stop_check(n);
	}
}
