/*
 * embed.c - a node of a domain composed in one process (embed.h).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/path.h"
#include "base/rlog.h"
#include "domain/embed.h"
#include "node/node_metrics.h"
#include "orc/orc.h"
#include "store/store.h"
#include "workflow/workflow.h"

/* The largest workflow file that is read again for the orchestrator. */
#define WF_MAX_BYTES (1u << 20)

/* What the orchestrator needs to adopt one workflow. */
struct adopt {
	char *file, *yaml;
	size_t ylen, nfn;
	char **fn, **code;
};

struct embed {
	struct embed_opts o;
	struct agent_opts join; /* o.join points here */
	struct rlog *log;
	struct node *node;
	struct adopt *wfs;
	size_t nwf;
	struct store *store; /* the orchestrator's */
	struct orc *orc;
	struct agent *agent;
	char node_url[64];
};

/* Copy what adoption needs from the workflows; false when out of memory
 * or a file cannot be read again. */
static bool
copy_adopt(struct embed *e, struct workflow *const *wfs, size_t nwf)
{
	if ((e->wfs = calloc(nwf + 1, sizeof *e->wfs)) == NULL) {
		return false;
	}
	e->nwf = nwf;
	for (size_t i = 0; i < nwf; i++) {
		const struct workflow *wf = wfs[i];
		struct adopt *r = &e->wfs[i];
		if ((r->file = strdup(wf->file)) == NULL ||
		    path_read(wf->file, WF_MAX_BYTES, &r->yaml, &r->ylen) !=
		        LEDGE_OK ||
		    (r->fn = calloc(wf->nfunctions + 1, sizeof *r->fn)) ==
		        NULL ||
		    (r->code = calloc(wf->nfunctions + 1, sizeof *r->code)) ==
		        NULL) {
			return false;
		}
		for (size_t k = 0; k < wf->nfunctions; k++) {
			const struct wf_function *f = &wf->functions[k];
			size_t j = r->nfn;
			if (f->slot > 0) {
				continue; /* a keyed function's code, once */
			}
			r->fn[j] = strdup(wf_function_name(f));
			r->code[j] = strdup(f->code_path);
			r->nfn = j + 1; /* freed by embed_free, even if NULL */
			if (r->fn[j] == NULL || r->code[j] == NULL) {
				return false;
			}
		}
	}
	return true;
}

int
embed_new(struct embed **ep, const struct embed_opts *o,
    struct workflow *const *wfs, size_t nwf, struct rlog *log, char *err,
    size_t errlen)
{
	struct embed *e = calloc(1, sizeof *e);
	int rc;

	*ep = NULL;
	if (o->listen != NULL && o->join != NULL) {
		free(e);
		snprintf(err, errlen, "an own orchestrator or a remote one");
		return LEDGE_EINVAL;
	}
	if (e == NULL) {
		snprintf(err, errlen, "out of memory");
		return LEDGE_ENOMEM;
	}
	e->o = *o;
	if (o->join != NULL) {
		e->join = *o->join;
		e->o.join = &e->join;
	}
	e->log = log;
	if (o->listen != NULL && !copy_adopt(e, wfs, nwf)) {
		snprintf(err, errlen, "out of memory");
		embed_free(e);
		return LEDGE_ENOMEM;
	}
	if ((rc = node_new(&e->node, &e->o.node, log, err, errlen)) !=
	    LEDGE_OK) {
		embed_free(e);
		return rc;
	}
	*ep = e;
	return LEDGE_OK;
}

int
embed_deploy(struct embed *e, struct workflow *wf, char *err, size_t errlen)
{
	return node_deploy(e->node, wf, err, errlen);
}

/* The orchestrator on the node's loop, adopting the workflows, and the
 * node joining it; only warnings when that fails. */
static void
start_orc(struct embed *e)
{
	char dir[4200], err[4500];
	struct orc_opts oo = { .listen = e->o.listen,
		.trust = e->o.node.trust,
		.node_timeout_ms = 60000 };
	struct agent_opts ao = { .orchestrator = e->o.listen,
		.http = e->o.node.http_addr };
	struct store_opts so = { 0 };
	const char *data_dir =
	    e->o.node.data_dir != NULL ? e->o.node.data_dir : "./.ledge";

	snprintf(dir, sizeof dir, "%s/orc", data_dir);
	snprintf(e->node_url, sizeof e->node_url, "inproc://ledge-run-%d",
	    (int)getpid());
	ao.listen = e->node_url;
	if (path_mkdirs(dir) != LEDGE_OK) {
		snprintf(err, sizeof err, "cannot create %s: %s", dir,
		    strerror(errno));
		goto no_orc;
	}
	if (store_open(&e->store, dir, &so, err, sizeof err) != 0 ||
	    orc_start(&e->orc, node_loop(e->node), e->store, e->log, &oo, err,
	        sizeof err) != 0) {
		goto no_orc;
	}
	orc_drop_adopted(e->orc);
	for (size_t i = 0; i < e->nwf; i++) {
		struct adopt *r = &e->wfs[i];
		if (orc_adopt(e->orc, r->file, r->yaml, r->ylen, r->nfn,
		        (const char *const *)r->fn,
		        (const char *const *)r->code, node_name(e->node), err,
		        sizeof err) != 0) {
			rlog_write(e->log, RLOG_WARN, NULL,
			    "%s: the orchestrator cannot follow it: %s",
			    r->file, err);
		}
	}
	if (agent_start(&e->agent, e->node, &ao, err, sizeof err) != 0) {
		rlog_write(
		    e->log, RLOG_WARN, NULL, "the node cannot join: %s", err);
	}
	return;
no_orc:
	rlog_write(e->log, RLOG_WARN, NULL,
	    "no orchestrator here (the domain commands will not reach "
	    "this process): %s",
	    err);
	orc_free(e->orc);
	e->orc = NULL;
	store_close(e->store);
	e->store = NULL;
}

int
embed_start(struct embed *e, char *err, size_t errlen)
{
	int rc;

	if ((rc = node_start(e->node, err, errlen)) != LEDGE_OK) {
		return rc;
	}
	/* Prometheus text beside the routes (a route /metrics is hidden). */
	node_metrics_serve(e->node);
	if (e->o.listen != NULL) {
		start_orc(e);
	} else if (e->o.join != NULL &&
	    agent_start(&e->agent, e->node, e->o.join, err, errlen) != 0) {
		return LEDGE_ECONN;
	}
	return LEDGE_OK;
}

int
embed_run(struct embed *e)
{
	return node_run(e->node);
}

void
embed_stop(struct embed *e)
{
	node_request_stop(e->node);
}

struct node *
embed_node(struct embed *e)
{
	return e->node;
}

void
embed_free(struct embed *e)
{
	if (e == NULL) {
		return;
	}
	agent_free(e->agent);
	orc_free(e->orc);
	store_close(e->store);
	for (size_t i = 0; e->wfs != NULL && i < e->nwf; i++) {
		struct adopt *r = &e->wfs[i];
		for (size_t k = 0; k < r->nfn; k++) {
			free(r->fn[k]);
			free(r->code[k]);
		}
		free(r->fn);
		free(r->code);
		free(r->file);
		free(r->yaml);
	}
	free(e->wfs);
	node_free(e->node);
	free(e);
}
