/*
 * reload.c - hot reload of function code: by file (SIGHUP, a watched file
 * changed) or by instance (a domain ships code by hash) (reload.h, node.h).
 */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "code/code.h"
#include "code/code_sign.h"
#include "node/ctl.h"
#include "node/instance.h"
#include "node/node_event.h"
#include "node/node_impl.h"
#include "node/reload.h"
#include "node/route.h"
#include "platform/loop.h"
#include "workflow/resource.h"
#include "workflow/workflow.h"

static int
reload_one(struct node *n, struct node_instance *inst, const char *path,
    char *err, size_t errlen)
{
	const char *name = inst->target.name;
	struct node_code *code;
	char why[512];
	if (code_load(n->codes, path, &code, why, sizeof why) != LEDGE_OK) {
		snprintf(err, errlen,
		    "%s: code '%s': %s; still running the "
		    "old code",
		    name, path, why);
		rlog_write(n->log, RLOG_ERROR, name, "reload failed: %s", err);
		return LEDGE_EINVAL;
	}
	rlog_write(n->log, RLOG_INFO, name, "reloading code %.12s", code->hash);
	if (ctl_send(n, inst, NE_RELOAD, code, false) != LEDGE_OK) {
		code_release(code);
		snprintf(err, errlen,
		    "%s: out of memory queueing the reload; still running the "
		    "old code",
		    name);
		rlog_write(n->log, RLOG_ERROR, name, "reload failed: %s", err);
		return LEDGE_ENOMEM;
	}
	return LEDGE_OK;
}

int
node_reload_instance(struct node *n, const char *name, const char *path,
    char *err, size_t errlen)
{
	struct node_target *t = node_find_target(n, name);
	int rv = LEDGE_ENOENT;
	if (t != NULL && t->kind == NT_INSTANCE) {
		return reload_one(n, t->inst, path, err, errlen);
	}
	/* A keyed function split into slots: each of its slots here (the
	 * first failure stops it; the code is the same for all). */
	for (uint32_t i = 0; t != NULL && t->kind == NT_SLOTS && i < t->nslots;
	     i++) {
		struct node_target *s = t->slots[i];
		if (s != NULL && s->kind == NT_INSTANCE &&
		    (rv = reload_one(n, s->inst, path, err, errlen)) !=
		        LEDGE_OK) {
			return rv;
		}
	}
	if (rv == LEDGE_ENOENT) {
		snprintf(err, errlen, "no function %s runs on node %s", name,
		    n->name);
	}
	return rv;
}

void
node_reload(struct node *n, const char *path)
{
	for (struct node_wf *w = n->wfs; w != NULL; w = w->next) {
		for (size_t i = 0; i < w->ninsts; i++) {
			struct node_instance *inst = w->insts[i];
			struct node_code *code;
			char why[512];
			if (path != NULL &&
			    strcmp(inst->spec->code_path, path) != 0) {
				continue;
			}
			if (code_load(n->codes, inst->spec->code_path, &code,
			        why, sizeof why) != LEDGE_OK) {
				rlog_write(n->log, RLOG_ERROR,
				    inst->target.name,
				    "reload failed: code '%s': %s; still "
				    "running the old code",
				    inst->spec->code_path, why);
				continue;
			}
			rlog_write(n->log, RLOG_DEBUG, inst->target.name,
			    "reloading code %.12s", code->hash);
			/* The worker compares hashes: an unchanged file is
			 * a no-op there. */
			if (ctl_send(n, inst, NE_RELOAD, code, false) !=
			    LEDGE_OK) {
				code_release(code);
				rlog_write(n->log, RLOG_ERROR,
				    inst->target.name,
				    "reload failed: out of memory queueing "
				    "the reload; still running the old code");
			}
		}
	}
}

struct reload_req {
	struct node *n;
	char path[];
};

static void
reload_on_loop(void *arg)
{
	struct reload_req *r = arg;
	node_reload(r->n, r->path[0] ? r->path : NULL);
	free(r);
}

void
node_reload_async(struct node *n, const char *path)
{
	size_t len = path ? strlen(path) : 0;
	struct reload_req *r = malloc(sizeof *r + len + 1);
	if (r != NULL) {
		r->n = n;
		memcpy(r->path, path ? path : "", len + 1);
		if (loop_post(n->loop, reload_on_loop, r) == 0) {
			return;
		}
		free(r);
	}
	rlog_write(n->log, RLOG_ERROR, n->name,
	    "reload of %s failed: out of memory; still running the old code",
	    path ? path : "changed code");
}

void
reload_on_file_changed(void *arg, const char *path)
{
	struct node *n = arg;
	size_t len = strlen(path), sl = strlen(CODE_SIG_SUFFIX);
	if (node_impl_stopping(n)) {
		return;
	}
	/* F.so.sig changed: F.so may be loadable now. */
	if (len > sl && strcmp(path + len - sl, CODE_SIG_SUFFIX) == 0) {
		char *code = strndup(path, len - sl);
		if (code != NULL) {
			node_reload(n, code);
			free(code);
		}
		return;
	}
	node_reload(n, path);
}

void
reload_on_hup(void *arg)
{
	struct node *n = arg;
	rlog_write(n->log, RLOG_INFO, n->name,
	    "SIGHUP: reloading changed code, reopening logs");
	for (struct node_wf *w = n->wfs; w != NULL; w = w->next) {
		for (size_t i = 0; i < w->nres; i++) {
			struct node_res *nr = w->res[i];
			if (nr->started && nr->res.type->reopen) {
				nr->res.type->reopen(&nr->res);
			}
		}
	}
	node_reload(n, NULL);
}
