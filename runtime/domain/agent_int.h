/*
 * agent_int.h - what the files of the node agent (agent.h) share: the
 * agent itself and the request tables each handler file offers.
 *
 * The files, from the top down (each calls only the ones after it):
 *   agent.c         joining, heartbeats, log lines, the dispatch of
 *                   requests by name, and the links' requests;
 *   agent_deploy.c  deploy, undeploy, reload (fetching code by hash);
 *   agent_state.c   state.get, export, import, forget;
 *   agent_invoke.c  invoke;
 *   agent_calls.c   requests to the orchestrator, counted, and the end
 *                   of the agent's memory.
 *
 * Not a public header: only runtime/domain/agent*.c include it.
 */
#ifndef LEDGE_DOMAIN_AGENT_INT_H
#define LEDGE_DOMAIN_AGENT_INT_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/hmap.h"
#include "net/msg.h"
#include "net/reply.h"

struct node;
struct loop_timer;
struct store_reader;

/* A function log line waiting for the next heartbeat (agent.c). */
struct agent_log_line {
	struct agent_log_line *next;
	int level;
	uint64_t ms;
	size_t wf_len; /* who = "wf/part": the workflow's length */
	char *line;    /* points into text, after who */
	char text[];   /* who, NUL, line, NUL */
};

struct agent {
	struct node *n;
	char *orchestrator, *listen, *http;
	size_t nlabels;
	char **label_keys, **label_values;
	const struct msg_tls *tls;
	struct msg_server *server;
	struct msg_client *orc;
	struct loop_timer *join_timer, *hb_timer;
	bool joined, join_inflight, waiting_logged;
	uint64_t epoch;
	uint64_t boot; /* random, new at each start of the process */
	/* state size per instance ("wf/fn" -> struct state_size), measured
	 * every STATE_SIZE_EVERY heartbeats */
	struct hmap sizes;
	unsigned hb_count;
	unsigned hb_inflight; /* heartbeats not answered yet */
	/* Function log lines for the orchestrator, sent with the next
	 * heartbeat; log_mu guards them (lines come from any thread). */
	pthread_mutex_t log_mu;
	struct agent_log_line *log_head, *log_tail;
	size_t log_n;
	uint64_t log_dropped;
	struct store_reader *size_reader;
	/* Requests to the orchestrator whose callback has not run yet, and
	 * whether agent_free ran (then the last callback frees the agent). */
	unsigned calls;
	bool closed;
};

/*
 * msg_call to the orchestrator, counted.  Each callback starts with
 * agent_call_done.  Loop thread.
 */
void agent_call(struct agent *a, const void *data, size_t len,
    uint32_t timeout_ms, msg_reply_cb cb, void *arg);

/*
 * The callback of an agent_call is running.  Returns false normally;
 * true when the agent was freed meanwhile - the callback then cleans up
 * only what is its own and returns without touching the agent again
 * (this call may have released it).  Loop thread.
 */
bool agent_call_done(struct agent *a);

/* Free the agent's memory (its sockets and timers are closed).  Loop
 * thread. */
void agent_release(struct agent *a);

/*
 * The requests each handler file answers: a table of *n entries, called
 * with the agent as ctx (reply.h).  Loop thread.
 */
const struct reply_route *agent_deploy_routes(size_t *n);
const struct reply_route *agent_state_routes(size_t *n);
const struct reply_route *agent_invoke_routes(size_t *n);

/*
 * Drop the state of part `name` ("wf/part") here, which moved away or was
 * fenced; answers req (may be NULL) once that is durable.  Loop thread.
 */
void agent_state_forget(struct agent *a, const char *name, struct msg_req *req);

#endif
