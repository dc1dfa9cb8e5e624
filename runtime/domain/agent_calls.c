/*
 * agent_calls.c - the agent's requests to the orchestrator, and the end
 * of the agent's memory (agent_int.h).
 *
 * A request's callback runs exactly once on the loop, also after the
 * client was freed (with MSG_ECLOSED, msg.h).  So the agent counts the
 * requests it has out; agent_free closes its sockets and timers at once
 * but the memory lives until the last answer came back.
 */
#include <stdlib.h>

#include "base/hmap.h"
#include "domain/agent_int.h"
#include "store/store.h"

void
agent_call(struct agent *a, const void *data, size_t len, uint32_t timeout_ms,
    msg_reply_cb cb, void *arg)
{
	a->calls++;
	msg_call(a->orc, data, len, timeout_ms, cb, arg);
}

bool
agent_call_done(struct agent *a)
{
	a->calls--;
	if (!a->closed) {
		return false;
	}
	if (a->calls == 0) {
		agent_release(a);
	}
	return true;
}

void
agent_release(struct agent *a)
{
	for (size_t i = 0; i < a->nlabels; i++) {
		if (a->label_keys) {
			free(a->label_keys[i]);
		}
		if (a->label_values) {
			free(a->label_values[i]);
		}
	}
	free(a->label_keys);
	free(a->label_values);
	free(a->orchestrator);
	free(a->listen);
	free(a->http);
	{
		struct hmap_slot *sl;
		size_t pos = 0;
		while ((sl = hmap_next(&a->sizes, &pos)) != NULL) {
			free(sl->value);
		}
		hmap_fini(&a->sizes);
		pos = 0;
		while ((sl = hmap_next(&a->deploys_seen, &pos)) != NULL) {
			free(sl->value);
		}
		hmap_fini(&a->deploys_seen);
	}
	store_reader_close(a->size_reader);
	while (a->log_head != NULL) {
		struct agent_log_line *ln = a->log_head;
		a->log_head = ln->next;
		free(ln);
	}
	pthread_mutex_destroy(&a->log_mu);
	free(a);
}
