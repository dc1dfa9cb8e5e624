/*
 * node.h - a node: the process-level object that hosts instances and
 * resources, owns the store, the loop, the workers and the committer.
 *
 * Lifecycle (one thread, the "main" thread, drives it):
 *   node_new -> node_deploy (each workflow) -> node_start -> node_run
 *   (returns after node_request_stop or a signal) -> node_free.
 *
 * The rest of the runtime reaches shared services through accessors and
 * the event routing functions (route.h) and persistent ids (registry.h),
 * which this header includes; resources find the node's services for them
 * in res_api.h.  Nothing reads a global.
 */
#ifndef LEDGE_NODE_NODE_H
#define LEDGE_NODE_NODE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/rlog.h"
#include "node/links.h"
#include "node/registry.h"
#include "node/route.h"
#include "store/store.h"

struct code_cache;
struct commit;
struct loop;
struct http_server;
struct node;
struct node_event;
struct node_reply;
struct node_target;
struct node_instance;
struct res;
struct sched;
struct workflow;

/*
 * Where the parts of a workflow run, for a node of a domain: the parts to
 * run here, and for parts elsewhere the node and its address.  A part in
 * neither list is not used by this node.
 */
struct node_placement {
	size_t nlocal;
	const char *const *local; /* part names ("filter") */
	size_t nremote;
	const char *const *remote_part;
	const char *const *remote_node; /* node names */
	const char *const *remote_url;  /* their addresses */
};

struct msg_tls;
struct links;

struct node_opts {
	const char *data_dir;  /* default "./.ledge" */
	const char *http_addr; /* "host:port" for the HTTP listener; NULL:
	                          none (http-ingress then cannot start) */
	int workers;           /* 0: one per CPU, at least 2 */
	struct store_opts store;
	bool watch;               /* hot-reload code files when they change */
	const char *name;         /* node name for logs (default: hostname) */
	struct code_cache *codes; /* borrowed code cache, or NULL: the node
	                             opens DATA/code itself */
	/* With keys in it, the node loads only code signed by one of them
	 * (code_cache_trust, also on a borrowed cache); NULL: any code.
	 * Borrowed for the node's life. */
	const struct code_trust *trust;
	bool no_inline;            /* never run handlers on the loop thread */
	const struct msg_tls *tls; /* for links to other nodes (tls+tcp://) */
	/* The user the hosts of `isolation: process` functions become when
	 * the node runs as root (NULL: nobody); a node that is not root
	 * runs them as its own user.  Borrowed for the node's life. */
	const char *host_user;
	const char *host_exe;        /* the ledge binary, run as the host of
	                                `isolation: process` functions
	                                (`ledge host`); borrowed for the node's
	                                life.  NULL: such functions fail every
	                                event (logged) */
	uint32_t replica_timeout_ms; /* how long writes of a part with
	                                replicas wait for a replica that does
	                                not acknowledge before the node stops
	                                waiting for it (0: 2000) */
};

/*
 * Create a node: open the store and code cache under data_dir, start the
 * committer and the workers, bind the HTTP listener.  On failure returns
 * a LEDGE_* code with a reason in err.
 */
int node_new(struct node **np, const struct node_opts *o, struct rlog *log,
    char *err, size_t errlen);

/*
 * Add a validated workflow (ownership passes to the node, also on
 * failure).  Loads code and creates instances and resources but starts
 * nothing.  Fails if the name is taken or a route clashes, with a reason
 * in err.
 */
int node_deploy(struct node *n, struct workflow *wf, char *err, size_t errlen);

/*
 * node_deploy for a node of a domain: only the parts `pl` says are local
 * run here; outputs to parts on other nodes go over links.  pl is only
 * read during the call.
 */
int node_deploy_placed(struct node *n, struct workflow *wf,
    const struct node_placement *pl, char *err, size_t errlen);

/*
 * Start everything deployed: run each instance's init, replay durable
 * events left by an earlier run, start resources, print what runs.
 * On failure (an init failed, a resource could not start) everything is
 * stopped again and the reason is in err.
 */
int node_start(struct node *n, char *err, size_t errlen);

/*
 * Add and start a workflow on a running node (after node_start), on the
 * loop thread: like node_deploy, then its resources start, its instances
 * run init, and its durable events from an earlier run are replayed.
 * `done` is called on the loop thread once every init has answered, with
 * LEDGE_OK or LEDGE_EFAIL and the reasons (the workflow's resources are
 * stopped again then).  A non-OK return means it did not start (and done
 * is not called); ownership of wf passes in every case.
 */
int node_deploy_async(struct node *n, struct workflow *wf,
    const struct node_placement *pl,
    void (*done)(void *arg, int rv, const char *err), void *arg, char *err,
    size_t errlen);

/*
 * node_deploy_async from another thread, waiting for the outcome.  If
 * loop_us is not NULL it gets the time the node itself took, on its loop,
 * from taking up the request to the last init's answer (without the
 * hand-offs between the calling thread and the loop).
 */
int node_deploy_wait(struct node *n, struct workflow *wf, char *err,
    size_t errlen, uint64_t *loop_us);

/*
 * Stop a workflow and take it off this node (loop thread): its resources
 * stop, each instance drains its mailbox and runs stop, then `done(arg)`
 * runs on the loop thread.  Durable events still queued for it stay in
 * the store (a later deploy replays them).  Returns LEDGE_ENOENT if the
 * workflow is not here (done is not called then).
 */
int node_undeploy_async(
    struct node *n, const char *name, void (*done)(void *arg), void *arg);

/* True if workflow `name` is deployed on this node. */
bool node_has_workflow(struct node *n, const char *name);

/* Handler time histogram: upper bounds of the buckets, microseconds (the
 * last bucket, +Inf, is every event). */
#define NODE_HIST_N 10
#define NODE_HIST_BOUNDS                                                       \
	{                                                                      \
		10, 50, 100, 500, 1000, 5000, 10000, 50000, 100000, 1000000    \
	}

/* Statistics of one instance, for heartbeats and metrics. */
struct node_inst_stats {
	const char *name; /* "workflow/function" */
	uint64_t events, errors, emitted, busy_us;
	uint64_t hist[NODE_HIST_N]; /* events per bucket (not cumulative) */
	uint32_t mailbox;
	int status; /* enum node_instance_status */
	uint32_t id;
	/* state replicas: how many it streams to, how many of those lag
	 * (its writes are acknowledged without them: links.h), and each
	 * (the first LINKS_REPLICAS_MAX) with whether it is in sync; the
	 * orchestrator's deploy they were set by (node_set_replicas) */
	uint32_t replicas, replicas_lagging;
	struct links_replica reps[LINKS_REPLICAS_MAX];
	uint64_t repl_deploy;
	/* isolation: process only: hosts started, and hosts killed because
	 * they crashed, timed out, broke the memory limit, or could not
	 * start (isolate.h). */
	bool isolated;
	uint64_t host_starts;
	uint64_t host_crashed, host_timeout, host_memory, host_broken,
	    host_sandbox;
	/* keyed: only: key instances in memory, and since deploy how many
	 * were activated and passivated (node/keyed.h) */
	bool keyed;
	uint64_t keys_active, key_activations, key_passivations;
};

/*
 * Replicate the state of instance `name` ("workflow/function") to the
 * nodes `nodes` (count of them; urls[i] their addresses, or NULL when the
 * links know them): first a snapshot of its state and queue, then each
 * committed write, over the links (node/replica.h).  count 0
 * stops replication.  `epoch` is the part's placement epoch (its entries
 * carry it; older primaries' entries are stale here from now on).
 * `deploy` numbers the orchestrator's deploy this
 * setting comes from (reported with the replicas' state,
 * node_inst_stats).  Loop
 * thread.  LEDGE_OK, LEDGE_ENOENT if no such instance runs here, LEDGE_ENOMEM.
 */
int node_set_replicas(struct node *n, const char *name,
    const char *const *nodes, const char *const *urls, size_t count,
    uint64_t epoch, uint64_t deploy);

/* Call fn for every instance (loop thread). */
void node_foreach_instance(struct node *n,
    void (*fn)(void *arg, const struct node_inst_stats *st), void *arg);

/*
 * Run the event loop until a stop is requested (SIGINT, SIGTERM or
 * node_request_stop); then drain mailboxes, call each stop handler and
 * commit.  Returns 0 after a clean stop.
 */
int node_run(struct node *n);

/* Ask node_run to stop (any thread, async-signal-unsafe). */
void node_request_stop(struct node *n);

/* Free the node (after node_run returned, or without running it). */
void node_free(struct node *n);

/*
 * Hot-reload every function whose code file is `path` (NULL: every
 * function whose file changed).  Each instance switches at an event
 * boundary; the outcome is logged.  Loop thread.
 */
void node_reload(struct node *n, const char *path);

/*
 * Hot-reload one instance ("workflow/function") with the code at `path`
 * (a domain ships code by hash, so the path differs from the spec's).
 * The switch happens at an event boundary, as for node_reload; if the
 * new code's init fails the instance keeps the old code (logged).
 * Loop thread.  LEDGE_OK once the reload is queued; LEDGE_ENOENT (no
 * such instance here) or LEDGE_EINVAL (the code cannot be loaded), with
 * the reason in err.
 */
int node_reload_instance(struct node *n, const char *name, const char *path,
    char *err, size_t errlen);

/* node_reload from any thread (runs on the loop thread soon). */
void node_reload_async(struct node *n, const char *path);

/* --- services ------------------------------------------------------ */

/* The node's log, loop, store and committer: owned by the node, valid
 * until node_free.  Any thread. */
struct rlog *node_log(struct node *n);
struct loop *node_loop(struct node *n);
struct store *node_store(struct node *n);
struct commit *node_commit(struct node *n);
/* Links to other nodes. */
struct links *node_links(struct node *n);
/* The node's name and its incarnation (random, kept in the store). */
const char *node_name(struct node *n);
uint64_t node_incarnation(struct node *n);

/* The HTTP listener, or NULL if the node has none. */
struct http_server *node_http(struct node *n);
/* The folder of the data directory. */
const char *node_data_dir(struct node *n);
/* Whether the node loads only signed code (node_opts.trust). */
bool node_checks_code(struct node *n);

/* True once a stop has begun (resources refuse new work then). */
bool node_stopping(struct node *n);

#endif
