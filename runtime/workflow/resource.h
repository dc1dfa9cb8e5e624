/*
 * resource.h - the one interface behind every resource adapter.
 *
 * A resource turns the outside world into events (http-ingress, timer) or
 * events into effects (file-log, http-egress).  Each type lives in one file
 * under resources/ and is described by a const struct res_type: its name,
 * its config schema (checked by the workflow validator before anything
 * runs), the outputs it emits on, and an ops vector.
 *
 * Threads: every op runs on the node's event-loop thread, never
 * concurrently with another op of the same node.  Ops must not block.
 */
#ifndef LEDGE_WORKFLOW_RESOURCE_H
#define LEDGE_WORKFLOW_RESOURCE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/diag.h"
#include "workflow/workflow.h"

enum res_param_kind {
	RP_STR,  /* any scalar, kept as text */
	RP_INT,  /* an integer in [min, max] */
	RP_BOOL, /* true/false/yes/no/on/off */
	RP_ENUM, /* one of `choices` */
	RP_LIST, /* a scalar or a sequence of scalars */
};

struct res_param {
	const char *name; /* NULL ends the table */
	enum res_param_kind kind;
	bool required;
	long long min, max;         /* RP_INT */
	const char *const *choices; /* RP_ENUM, NULL-terminated */
	const char *help;           /* one line, for --help and errors */
};

struct res;
struct node_event;

struct res_type {
	const char *name;               /* "timer" */
	const char *summary;            /* one line for `ledge --help` */
	const struct res_param *params; /* config schema */
	const char *const *outputs;     /* outputs it emits on; NULL: none */
	bool accepts_cast;              /* can be the target of a cast */
	bool accepts_call;              /* can be the target of a call */

	/*
	 * Checks beyond the schema (e.g. "exactly one of path and prefix").
	 * Adds each problem to `d` with a position and returns its count.
	 * Runs during validation, only for resources that passed the schema
	 * checks, on any thread, with no node.  May be NULL.
	 */
	int (*check)(const struct workflow *wf, const struct wf_resource *spec,
	    struct diag *d);

	/*
	 * Start the resource: allocate r->priv, open files, register HTTP
	 * routes, arm timers.  Returns LEDGE_OK; on failure a LEDGE_* code
	 * (LEDGE_ENOMEM, LEDGE_EINVAL, LEDGE_ENOENT for a file it cannot
	 * open) with a reason in err; stop is not called then.
	 */
	int (*start)(struct res *r, char *err, size_t errlen);

	/* Stop and free r->priv.  Idempotent; no events arrive afterwards. */
	void (*stop)(struct res *r);

	/*
	 * An event addressed to this resource (it is the target of some
	 * output).  Takes ownership of `ev`, which must be finished with
	 * node_event_done() (casts) or answered with node_event_reply()
	 * (calls), now or later.  NULL if the type accepts no events.
	 */
	void (*deliver)(struct res *r, struct node_event *ev);

	/* SIGHUP: reopen files for log rotation.  May be NULL. */
	void (*reopen)(struct res *r);

	/* One line for the start-up summary ("GET /hello -> hello").
	 * May be NULL. */
	void (*describe)(struct res *r, char *buf, size_t len);
};

/* A resource of a running workflow; owned by the node. */
struct res {
	const struct res_type *type;
	struct node *node;
	const struct workflow *wf;
	const struct wf_resource *spec;
	const char *name; /* "workflow/resource"; owned by the node */
	uint32_t id;      /* its target id in the node */
	void *priv;       /* owned by the type */
};

/*
 * The type called `name` in `types` (a NULL-terminated table, e.g.
 * res_types() of resources/resources.h; NULL is an empty table), or NULL.
 */
const struct res_type *res_type_find(
    const struct res_type *const *types, const char *name);

#endif
