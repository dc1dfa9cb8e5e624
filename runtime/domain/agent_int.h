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
 *   agent_replicas.c  asking the orchestrator before a replica is left
 *                   behind;
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

/* Deploys held until the node has joined (struct agent's held). */
#define AGENT_HELD_MAX 64

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
	/* Deploys that came before this process joined: held until it has,
	 * then taken or refused by the epoch they were sent for
	 * (agent_deploy.c). */
	struct msg_req *held[AGENT_HELD_MAX];
	size_t nheld;
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
	/* per workflow, the highest deploy number received (agent_deploy.c:
	 * a deploy overtaken by a later one changes nothing more) */
	struct hmap deploys_seen;
	/* Replica drops the orchestrator has not confirmed yet, asked again
	 * by drop_timer (agent_replicas.c). */
	struct agent_drop *drops;
	struct loop_timer *drop_timer;
};

/*
 * Be the links' arbiter of replica drops (links_set_arbiter): ask the
 * orchestrator to stop counting a replica as a place to fail over to,
 * and tell the links once it has; again every AGENT_DROP_RETRY_MS while
 * it does not answer.  Stop before the agent's sockets close.  Loop
 * thread.  LEDGE_OK or LEDGE_ENOMEM.
 */
#define AGENT_DROP_RETRY_MS 250
int agent_replicas_start(struct agent *a);
void agent_replicas_stop(struct agent *a);

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

/* The node has joined (a->epoch set): handle the deploys held until
 * then; with `stopping`, refuse them instead.  Loop thread. */
void agent_deploy_held(struct agent *a, bool stopping);
const struct reply_route *agent_state_routes(size_t *n);
const struct reply_route *agent_invoke_routes(size_t *n);

/*
 * Drop the state of part `name` ("wf/part") here, which moved away or was
 * fenced; answers req (may be NULL) once that is durable.  Loop thread.
 */
void agent_state_forget(struct agent *a, const char *name, struct msg_req *req);

#endif
