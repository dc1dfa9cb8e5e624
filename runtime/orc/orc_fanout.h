/*
 * orc_fanout.h - one request to several nodes at once, their answers
 * gathered: what a keyed function split into slots on many nodes needs
 * (state.keys, fn.reload).  Private to the orchestrator (orc_model.h).
 *
 * Threads: loop thread.
 */
#ifndef LEDGE_ORC_ORC_FANOUT_H
#define LEDGE_ORC_ORC_FANOUT_H

#include <stddef.h>
#include <stdint.h>

#include "orc/orc_model.h"

/* One node's answer: err is a MSG_* code (MSG_OK: data/len hold it). */
struct orc_fan_ans {
	char node[128];
	int err;
	void *data; /* malloc'd copy, or NULL */
	size_t len;
};

/*
 * Send data/len to each of the n nodes (their clients must be made,
 * orc_node_client) with a timeout each; `done` runs once, on the loop
 * thread, when all have answered or timed out, with the answers in the
 * order of `nodes` (valid during the call).  done must not rely on the
 * orchestrator still being there unless it checks (as a relay does).
 * LEDGE_OK, or LEDGE_ENOMEM (nothing sent, done not called).
 */
int orc_fanout(struct onode *const *nodes, size_t n, const void *data,
    size_t len, uint32_t timeout_ms,
    void (*done)(void *arg, const struct orc_fan_ans *ans, size_t n),
    void *arg);

#endif
