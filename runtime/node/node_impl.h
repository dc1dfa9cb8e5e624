/*
 * node_impl.h - the node's own record, shared by the files that make up
 * the node: node.c (lifecycle), route.c (the target table and routing),
 * registry.c (persistent ids, queue ids), ctl.c (control events), deploy.c
 * (deploy, start, undeploy) and reload.c.  Nothing outside runtime/node
 * includes it; the rest of the runtime sees only struct node's accessors
 * (node.h) and the routing functions (route.h).
 *
 * Each group of fields of struct node says which file keeps it; the
 * others only read it.  Threads: the fields are the loop thread's unless
 * a comment says so.
 */
#ifndef LEDGE_NODE_NODE_IMPL_H
#define LEDGE_NODE_NODE_IMPL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/hmap.h"
#include "node/exec.h"
#include "node/instance.h"
#include "node/node.h"
#include "workflow/resource.h"

/* A resource with what the node keeps about it. */
struct node_res {
	struct res res; /* first: resources see only this */
	struct node_target target;
	struct node_output *outputs;
	size_t noutputs;
	bool started;
	char *name;
};

struct node_wf {
	struct node_wf *next;
	struct node *node;
	struct workflow *wf;
	struct node_instance **insts;
	size_t ninsts;
	struct node_res **res;
	size_t nres;
	/* start-up: inits still to answer, failures (ctl_mu) */
	int init_pending;
	int init_failed;
	char init_err[1024];
	void (*on_started)(void *arg, int rv, const char *err);
	void *started_arg;
	/* parts placed on other nodes that outputs here go to */
	struct node_target **remotes;
	size_t nremotes;
	/* keyed functions split into slots (NT_SLOTS), by name */
	struct node_target **groups;
	size_t ngroups;
	const struct node_placement *placement; /* during node_deploy */
	struct undeploy *undeploying;           /* while it stops */
	void (*stopped)(void *w); /* while undeploying: an instance of it
	                             stopped (posted to the loop by ctl.c) */
};

struct type_slot {
	struct type_slot *next;
	const void *type;
	void *value;
};

struct delayed {
	uint64_t due;
	struct node_event *ev;
};

enum node_state { NS_NEW, NS_STARTING, NS_RUNNING, NS_STOPPING, NS_DONE };

struct node {
	char *data_dir;
	char *name;
	struct node_opts opts;
	struct rlog *log;
	struct store *store;
	struct code_cache *codes;
	bool own_codes;
	struct loop *loop;
	struct commit *commit;
	struct sched *sched;
	struct exec_env exec_env;          /* what the executor is given */
	struct node_worker *inline_worker; /* loop thread's, or NULL */
	/* exec_run_inline (node.c sets it with the inline worker): routing
	 * runs an event on the loop thread through it */
	bool (*run_inline)(struct node_worker *w, struct node_instance *inst,
	    struct node_event *ev);
	void (*run_claimed)(struct node_worker *w, struct node_instance *inst,
	    struct node_event *first, struct node_event *ev);
	struct links *links;
	uint64_t incarnation;
	struct http_server *http;
	struct http_client *http_client;
	struct watch *watch;
	struct idem_pruner *idem_pruner; /* expired Idempotency-Key answers */
	struct type_slot *slots;         /* node_type_slot */
	/* deploy.c: the workflows deployed, and those undeployed */
	struct node_wf *wfs;
	struct node_wf *retired;       /* undeployed, freed once unreferenced
	                                  (deploy_reap) or with the node */
	struct loop_timer *reap_timer; /* deploy_reap's retry, or NULL */

	/* route.c: the target table */
	struct node_target **targets; /* by id */
	size_t ntargets;

	/* registry.c: the registry (name -> persistent id), loaded at
	 * start; new ids are committed through the committer.  Loop thread
	 * (or before). */
	struct hmap registry;
	uint32_t next_id;

	_Atomic uint64_t next_qid; /* registry.c, any thread */

	/* route.c: casts to other nodes dropped for lack of memory (metrics) */
	_Atomic uint64_t dropped[NODE_DROP_N]; /* route.c: per enum node_drop */

	/* route.c: delayed events, a min-heap by due time, loop thread */
	struct delayed *heap;
	size_t nheap, capheap;
	struct loop_timer *delay_timer;

	/* ctl.c: control events in flight (init, stop) */
	pthread_mutex_t ctl_mu;
	int ctl_pending;

	_Atomic int state;
	struct loop_timer *stop_timer;
};

/* True once a stop has begun (node_stopping, for the node's own files). */
static inline bool
node_impl_stopping(struct node *n)
{
	return atomic_load(&n->state) >= NS_STOPPING;
}

#endif
