/*
 * agent_deploy.c - the node agent's deployments (agent.h): deploy (a
 * workflow's placement, fetching the code this node lacks by hash),
 * undeploy, and reload (new code for one function running here).
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "base/diag.h"
#include "base/path.h"
#include "base/rlog.h"
#include "base/sha256.h"
#include "code/code_sign.h"
#include "domain/agent_int.h"
#include "net/msg.h"
#include "net/msg_token.h"
#include "net/reply.h"
#include "net/wire.h"
#include "node/links.h"
#include "node/node.h"
#include "resources/resources.h"
#include "workflow/workflow.h"

struct deploy_job {
	struct agent *a;
	struct msg_req *req;
	struct wire_r msg;
	char *wf;
	size_t missing;  /* code fetches outstanding */
	uint64_t deploy; /* the orchestrator's number for it (0: none) */
	bool reload;     /* a reload of one function, not a deploy */
	bool failed;
	char err[512];
};

static void
code_path(struct agent *a, const char *hash, char *buf, size_t len)
{
	snprintf(buf, len, "%s/code/%s.so", node_data_dir(a->n), hash);
}

/* Whether the code is here (with its signature, if the node checks
 * them: it is fetched again for one). */
static bool
have_code(struct agent *a, const char *hash)
{
	char p[4096], s[4200];
	code_path(a, hash, p, sizeof p);
	snprintf(s, sizeof s, "%s" CODE_SIG_SUFFIX, p);
	return access(p, R_OK) == 0 &&
	    (!node_checks_code(a->n) || access(s, R_OK) == 0);
}

/* The hash of function f's code for this machine, from the deploy. */
static char *
hash_for(wire_v code, const struct wf_function *f)
{
	char key[4200];
	/* A function reloaded across the domain has code of its own. */
	snprintf(key, sizeof key, "@fn:%s", wf_function_name(f));
	if (wire_ok(wire_get(code, key))) {
		return wire_str_dup(wire_get(code, key));
	}
	if (f->ncode_arch > 0) {
		struct utsname u;
		uname(&u);
		snprintf(key, sizeof key, "%s@%s", f->code, u.machine);
	} else {
		snprintf(key, sizeof key, "%s", f->code);
	}
	return wire_str_dup(wire_get(code, key));
}

/* The highest deploy number seen for workflow wf (a->deploys_seen). */
struct seen_deploy {
	uint64_t n;
	size_t len;
	char wf[];
};

static void
seen_raise(struct agent *a, const char *wf, uint64_t n)
{
	size_t len = strlen(wf);
	struct seen_deploy *s = hmap_get(&a->deploys_seen, wf, len);
	if (s == NULL && (s = calloc(1, sizeof *s + len + 1)) != NULL) {
		memcpy(s->wf, wf, len + 1);
		s->len = len;
		if (hmap_put(&a->deploys_seen, s->wf, len, s, NULL) != 0) {
			free(s);
			return;
		}
	}
	if (s != NULL && n > s->n) {
		s->n = n;
	}
}

/*
 * Deploys of one workflow in quick succession (a node lost and back
 * within a heartbeat or two) may finish out of order - the second one's
 * undeploy finds the first still starting.  One that a later deploy of
 * the same workflow has overtaken changes nothing more: its replicas and
 * lost nodes are the older placement's (applied late they would undo the
 * newer one's).
 */
static bool
superseded(const struct deploy_job *j)
{
	struct seen_deploy *s;
	if (j->deploy == 0 || j->wf == NULL) {
		return false;
	}
	s = hmap_get(&j->a->deploys_seen, j->wf, strlen(j->wf));
	return s != NULL && s->n > j->deploy;
}

static void
job_free(struct deploy_job *j)
{
	wire_r_fini(&j->msg);
	free(j->wf);
	free(j);
}

/* The deploy's `replicas`: part -> [{node, url}] for parts run here. */
static void
set_replicas(struct deploy_job *j)
{
	wire_v reps = wire_get(wire_root(&j->msg), "replicas");
	wire_v epochs = wire_get(wire_root(&j->msg), "epochs");
	for (size_t i = 0; i < wire_len(reps); i++) {
		char *part = wire_str_dup(wire_key_at(reps, i));
		wire_v arr = wire_val_at(reps, i);
		size_t n = wire_len(arr);
		char **nodes = calloc(n + 1, sizeof *nodes);
		char **urls = calloc(n + 1, sizeof *urls);
		char name[512];
		if (part != NULL && nodes != NULL && urls != NULL) {
			for (size_t k = 0; k < n; k++) {
				nodes[k] = wire_str_dup(
				    wire_get(wire_at(arr, k), "node"));
				urls[k] = wire_str_dup(
				    wire_get(wire_at(arr, k), "url"));
				if (nodes[k] == NULL) {
					n = k;
					break;
				}
			}
			snprintf(name, sizeof name, "%s/%s", j->wf, part);
			/* It logs where the state goes, and how. */
			(void)node_set_replicas(j->a->n, name,
			    (const char *const *)nodes,
			    (const char *const *)urls, n,
			    wire_as_u64(wire_get(epochs, part), 0),
			    wire_as_u64(
			        wire_get(wire_root(&j->msg), "deploy"), 0));
		}
		for (size_t k = 0;
		     nodes != NULL && urls != NULL && k < wire_len(arr); k++) {
			free(nodes[k]);
			free(urls[k]);
		}
		free(nodes);
		free(urls);
		free(part);
	}
}

static void
deploy_done(void *arg, int rv, const char *err)
{
	struct deploy_job *j = arg;
	if (rv == LEDGE_OK && superseded(j)) {
		rlog_write(node_log(j->a->n), RLOG_INFO, node_name(j->a->n),
		    "workflow %s deployed here, and superseded by a later "
		    "deploy already",
		    j->wf);
		reply_ok(j->req);
	} else if (rv == LEDGE_OK) {
		set_replicas(j);
		/* What waited for lost nodes goes where it runs now. */
		wire_v lost = wire_get(wire_root(&j->msg), "fenced_nodes");
		for (size_t i = 0; i < wire_len(lost); i++) {
			char *node = wire_str_dup(wire_key_at(lost, i));
			if (node != NULL) {
				links_readdress(
				    node_links(j->a->n), node, true);
			}
			free(node);
		}
		rlog_write(node_log(j->a->n), RLOG_INFO, node_name(j->a->n),
		    "workflow %s deployed here", j->wf);
		reply_ok(j->req);
	} else {
		reply_err(j->req, REPLY_FAILED, "%s: %s", node_name(j->a->n),
		    err ? err : ledge_strerror(rv));
	}
	job_free(j);
}

static int
str_list(wire_v arr, const char ***out, size_t *n)
{
	*n = wire_len(arr);
	*out = calloc(*n + 1, sizeof **out);
	if (*out == NULL) {
		return LEDGE_ENOMEM;
	}
	for (size_t i = 0; i < *n; i++) {
		if (((*out)[i] = wire_str_dup(wire_at(arr, i))) == NULL) {
			return LEDGE_EINVAL; /* not a string, or out of memory
			                      */
		}
	}
	return LEDGE_OK;
}

static void
free_list(const char **l, size_t n)
{
	for (size_t i = 0; l != NULL && i < n; i++) {
		free((char *)l[i]);
	}
	free(l);
}

static void
do_deploy(void *arg)
{
	struct deploy_job *j = arg;
	struct agent *a = j->a;
	wire_v root = wire_root(&j->msg);
	const char *yaml;
	size_t ylen;
	char *file = wire_str_dup(wire_get(root, "file"));
	struct diag d;
	struct workflow *wf;
	struct node_placement pl = { 0 };
	const char **rparts = NULL, **rnodes = NULL, **rurls = NULL;
	const char **local = NULL;
	wire_v remote = wire_get(root, "remote");
	char err[2048];
	int rv;

	if (!wire_as_str(wire_get(root, "yaml"), &yaml, &ylen)) {
		reply_err(j->req, REPLY_INVALID, "deploy without yaml");
		free(file);
		job_free(j);
		return;
	}
	if (superseded(j)) {
		reply_err(j->req, REPLY_FAILED,
		    "%s: this deploy of %s was superseded by a later one",
		    node_name(a->n), j->wf);
		free(file);
		job_free(j);
		return;
	}
	diag_init(&d);
	wf = wf_load_mem(file ? file : "workflow.yaml", yaml, ylen, res_types(),
	    NULL, NULL, &d);
	free(file);
	if (wf == NULL) {
		char first[512] = "invalid workflow";
		if (d.count > 0 && d.cap > 0) {
			snprintf(first, sizeof first, "%s", d.items[0].text);
		}
		reply_err(j->req, REPLY_INVALID, "%s", first);
		diag_fini(&d);
		job_free(j);
		return;
	}
	diag_fini(&d);
	/* Local functions run the code fetched by hash. */
	if (str_list(wire_get(root, "local"), &local, &pl.nlocal) != 0) {
		goto oom;
	}
	for (size_t i = 0; i < wf->nfunctions; i++) {
		struct wf_function *f = &wf->functions[i];
		char *h = hash_for(wire_get(root, "code"), f);
		char p[4096];
		if (h == NULL) {
			continue; /* not needed unless local, checked below */
		}
		code_path(a, h, p, sizeof p);
		free(h);
		free(f->code_path);
		if ((f->code_path = strdup(p)) == NULL) {
			goto oom;
		}
	}
	pl.local = local;
	pl.nremote = wire_len(remote);
	rparts = calloc(pl.nremote + 1, sizeof *rparts);
	rnodes = calloc(pl.nremote + 1, sizeof *rnodes);
	rurls = calloc(pl.nremote + 1, sizeof *rurls);
	if (!rparts || !rnodes || !rurls) {
		goto oom;
	}
	for (size_t i = 0; i < pl.nremote; i++) {
		wire_v v = wire_val_at(remote, i);
		rparts[i] = wire_str_dup(wire_key_at(remote, i));
		rnodes[i] = wire_str_dup(wire_get(v, "node"));
		rurls[i] = wire_str_dup(wire_get(v, "url"));
		if (!rparts[i] || !rnodes[i] || !rurls[i]) {
			goto oom;
		}
	}
	pl.remote_part = rparts;
	pl.remote_node = rnodes;
	pl.remote_url = rurls;
	rv = node_deploy_async(a->n, wf, &pl, deploy_done, j, err, sizeof err);
	wf = NULL;
	if (rv != LEDGE_OK) {
		reply_err(j->req, REPLY_FAILED, "%s: %s", node_name(a->n), err);
		job_free(j);
	}
	free_list(local, pl.nlocal);
	free_list(rparts, pl.nremote);
	free_list(rnodes, pl.nremote);
	free_list(rurls, pl.nremote);
	return;
oom:
	wf_free(wf);
	free_list(local, pl.nlocal);
	free_list(rparts, pl.nremote);
	free_list(rnodes, pl.nremote);
	free_list(rurls, pl.nremote);
	reply_err(j->req, REPLY_BUSY, "out of memory");
	job_free(j);
}

static void
undeployed_then_deploy(void *arg)
{
	do_deploy(arg);
}

static void do_reload(struct deploy_job *j);

static void
continue_deploy(struct deploy_job *j)
{
	if (j->failed) {
		reply_err(j->req, REPLY_FAILED, "%s", j->err);
		job_free(j);
		return;
	}
	if (j->reload) {
		do_reload(j);
		return;
	}
	/* A new placement replaces what runs here: stop it first (its state
	 * and queued events stay in the store for the new one). */
	if (node_undeploy_async(j->a->n, j->wf, undeployed_then_deploy, j) !=
	    LEDGE_OK) {
		do_deploy(j);
	}
}

struct fetch {
	struct deploy_job *j;
	char hash[65];
};

/* Keep fetched code as DATA/code/<hash>.so, its signature (if it came
 * with one; never checked here: the node's code cache checks it when it
 * loads the code) first beside it as <hash>.so.sig. */
static int
write_code(struct agent *a, const char *hash, const void *data, size_t len,
    const char *sig, size_t siglen)
{
	char p[4096], s[4200];
	code_path(a, hash, p, sizeof p);
	snprintf(s, sizeof s, "%s" CODE_SIG_SUFFIX, p);
	if (sig != NULL && siglen > 0 &&
	    path_write(s, sig, siglen, 0644) != LEDGE_OK) {
		return LEDGE_ESTORE;
	}
	return path_write(p, data, len, 0755);
}

static void
on_code(void *arg, int err, const void *data, size_t len)
{
	struct fetch *f = arg;
	struct deploy_job *j = f->j;
	struct agent *a = j->a;
	struct wire_r r;
	const void *bytes;
	const char *sig = NULL;
	size_t n, siglen = 0;
	char hex[65];

	if (a->closed) {
		/* The node is stopping: the deploy goes no further (its
		 * request is not answered: the server is closed). */
		free(f);
		if (--j->missing == 0) {
			job_free(j);
		}
		agent_call_done(a);
		return;
	}
	agent_call_done(a);
	if (err != MSG_OK || wire_parse(&r, data, len) != 0) {
		j->failed = true;
		snprintf(j->err, sizeof j->err,
		    "%s: could not fetch code %.12s from the orchestrator",
		    node_name(j->a->n), f->hash);
	} else {
		(void)wire_as_str(
		    wire_get(wire_root(&r), "sig"), &sig, &siglen);
		if (!wire_as_bin(
		        wire_get(wire_root(&r), "bytes"), &bytes, &n)) {
			j->failed = true;
			snprintf(j->err, sizeof j->err,
			    "%s: the orchestrator has no code %.12s",
			    node_name(j->a->n), f->hash);
		} else {
			sha256_hex(bytes, n, hex);
			if (strcmp(hex, f->hash) != 0 ||
			    write_code(j->a, f->hash, bytes, n, sig, siglen) !=
			        0) {
				j->failed = true;
				snprintf(j->err, sizeof j->err,
				    "%s: code %.12s arrived damaged or could "
				    "not be stored",
				    node_name(j->a->n), f->hash);
			}
		}
		wire_r_fini(&r);
	}
	free(f);
	if (--j->missing == 0) {
		continue_deploy(j);
	}
}

static void
fetch_code(struct deploy_job *j, const char *hash)
{
	struct fetch *f = calloc(1, sizeof *f);
	struct wire_w w;
	const void *d;
	size_t len;
	if (f == NULL || wire_w_init(&w) != 0) {
		free(f);
		j->failed = true;
		return;
	}
	f->j = j;
	snprintf(f->hash, sizeof f->hash, "%s", hash);
	wire_map(&w, 2);
	wire_str(&w, "t");
	wire_str(&w, "code.get");
	wire_str(&w, "hash");
	wire_str(&w, hash);
	d = wire_data(&w, &len);
	j->missing++;
	agent_call(j->a, d, d ? len : 0, 30000, on_code, f);
	wire_w_fini(&w);
}

static void
handle_deploy(void *ctx, struct msg_req *req, wire_v msg)
{
	struct agent *a = ctx;
	struct deploy_job *j = calloc(1, sizeof *j);
	const void *data;
	size_t len;
	wire_v root, code;

	/* A deploy is for the node as the orchestrator knew it then: one
	 * for an epoch before this node's current one was sent before it
	 * was declared lost (and delivered late, say resent by the
	 * transport to the restarted process) - its placement is stale,
	 * and taking it would run parts that live elsewhere now, swallowing
	 * their replicas' writes.  Until this process has joined it cannot
	 * tell: held until then. */
	uint64_t for_epoch = wire_as_u64(wire_get(msg, "node_epoch"), 0);
	if (for_epoch != 0 && !a->joined) {
		if (a->nheld == AGENT_HELD_MAX) {
			reply_err(req, REPLY_BUSY,
			    "%s has not joined the domain yet",
			    node_name(a->n));
		} else {
			a->held[a->nheld++] = req;
		}
		return;
	}
	if (for_epoch != 0 && for_epoch < a->epoch) {
		reply_err(req, "stale",
		    "%s: a deploy for its epoch %llu, but it is at epoch %llu "
		    "(declared lost and joined again since): ignored",
		    node_name(a->n), (unsigned long long)for_epoch,
		    (unsigned long long)a->epoch);
		return;
	}

	data = msg_req_data(req, &len);
	if (j == NULL || wire_parse(&j->msg, data, len) != 0) {
		free(j);
		reply_err(req, REPLY_INVALID, "malformed deploy");
		return;
	}
	j->a = a;
	j->req = req;
	root = wire_root(&j->msg);
	j->wf = wire_str_dup(wire_get(root, "wf"));
	j->deploy = wire_as_u64(wire_get(root, "deploy"), 0);
	if (j->wf != NULL && j->deploy != 0) {
		seen_raise(a, j->wf, j->deploy);
	}
	code = wire_get(root, "code");
	/* Nodes declared lost: what they send with an older epoch is
	 * refused from now on. */
	wire_v lost = wire_get(root, "fenced_nodes");
	size_t nlost = wire_len(lost), klost = 0;
	char **lost_names = calloc(nlost + 1, sizeof *lost_names);
	for (size_t i = 0; i < nlost; i++) {
		char *node = wire_str_dup(wire_key_at(lost, i));
		if (node != NULL) {
			links_fence(node_links(a->n), node,
			    wire_as_u64(wire_val_at(lost, i), 0));
		}
		if (node != NULL && lost_names != NULL) {
			lost_names[klost++] = node;
		} else {
			free(node);
		}
	}
	/* They are the nodes lost now: calls to them fail at once, and to
	 * a node back again (the new places may be there) go out again. */
	if (lost_names != NULL) {
		links_lost_set(
		    node_links(a->n), (const char *const *)lost_names, klost);
	}
	for (size_t i = 0; i < klost; i++) {
		free(lost_names[i]);
	}
	free(lost_names);
	if (j->wf == NULL) {
		reply_err(req, REPLY_INVALID, "deploy without wf");
		job_free(j);
		return;
	}
	/* Fetch every code file this node lacks (all variants named for
	 * this machine; others are never loaded here). */
	j->missing = 1; /* held until every fetch is sent */
	for (size_t i = 0; i < wire_len(code); i++) {
		char *h = wire_str_dup(wire_val_at(code, i));
		if (h != NULL && strlen(h) == 64 && !have_code(a, h)) {
			fetch_code(j, h);
		}
		free(h);
	}
	if (--j->missing == 0) {
		continue_deploy(j);
	}
}

static void
undeploy_reply(void *arg)
{
	reply_ok(arg);
}

static void
handle_undeploy(void *ctx, struct msg_req *req, wire_v root)
{
	struct agent *a = ctx;
	char *wf = wire_str_dup(wire_get(root, "wf"));
	if (wf == NULL ||
	    node_undeploy_async(a->n, wf, undeploy_reply, req) != LEDGE_OK) {
		reply_ok(req); /* not here: nothing to stop */
	}
	free(wf);
}

/* reload: new code (by hash) for one function running here. */
static void
do_reload(struct deploy_job *j)
{
	wire_v root = wire_root(&j->msg);
	char *fn = wire_str_dup(wire_get(root, "fn"));
	char *hash = wire_str_dup(wire_get(root, "hash"));
	char name[512], path[4096], err[1024];
	snprintf(name, sizeof name, "%s/%s", j->wf, fn ? fn : "");
	code_path(j->a, hash ? hash : "", path, sizeof path);
	if (node_reload_instance(j->a->n, name, path, err, sizeof err) !=
	    LEDGE_OK) {
		reply_err(
		    j->req, REPLY_FAILED, "%s: %s", node_name(j->a->n), err);
	} else {
		reply_ok(j->req);
	}
	free(fn);
	free(hash);
	job_free(j);
}

static void
handle_reload(void *ctx, struct msg_req *req, wire_v msg)
{
	struct agent *a = ctx;
	struct deploy_job *j = calloc(1, sizeof *j);
	const void *data;
	size_t len;
	char *h;

	(void)msg; /* parsed again: the job keeps it */

	data = msg_req_data(req, &len);
	if (j == NULL || wire_parse(&j->msg, data, len) != 0) {
		free(j);
		reply_err(req, REPLY_INVALID, "malformed reload");
		return;
	}
	j->a = a;
	j->req = req;
	j->reload = true;
	j->wf = wire_str_dup(wire_get(wire_root(&j->msg), "wf"));
	h = wire_str_dup(wire_get(wire_root(&j->msg), "hash"));
	if (j->wf == NULL || h == NULL || strlen(h) != 64) {
		reply_err(req, REPLY_INVALID, "reload needs wf, fn and hash");
		free(h);
		job_free(j);
		return;
	}
	j->missing = 1;
	if (!have_code(a, h)) {
		fetch_code(j, h);
	}
	free(h);
	if (--j->missing == 0) {
		continue_deploy(j);
	}
}

void
agent_deploy_held(struct agent *a, bool stopping)
{
	size_t n = a->nheld;
	struct msg_req *held[AGENT_HELD_MAX];
	memcpy(held, a->held, n * sizeof *held);
	a->nheld = 0;
	for (size_t i = 0; i < n; i++) {
		struct wire_r r;
		size_t len;
		const void *data = msg_req_data(held[i], &len);
		if (stopping || wire_parse(&r, data, len) != 0) {
			reply_err(held[i], REPLY_BUSY, "%s is stopping",
			    node_name(a->n));
			continue;
		}
		handle_deploy(a, held[i], wire_root(&r));
		wire_r_fini(&r);
	}
}

static const struct reply_route routes[] = {
	{ "deploy", handle_deploy, MSG_ROLE_ORCHESTRATOR },
	{ "undeploy", handle_undeploy, MSG_ROLE_ORCHESTRATOR },
	{ "reload", handle_reload, MSG_ROLE_ORCHESTRATOR },
};

const struct reply_route *
agent_deploy_routes(size_t *n)
{
	*n = sizeof routes / sizeof routes[0];
	return routes;
}
