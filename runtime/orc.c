/*
 * orc.c - the orchestrator: desired state, nodes, placement, deployment,
 * failure detection and fencing (see orc.h, docs/protocol.md).
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "diag.h"
#include "log.h"
#include "loop.h"
#include "msg.h"
#include "orc.h"
#include "orc_place.h"
#include "sha256.h"
#include "store.h"
#include "wire.h"
#include "workflow.h"

#define TICK_MS           100
#define NODE_TIMEOUT_MS   3000
#define DEPLOY_TIMEOUT_MS 20000
#define LOG_RING          20000

enum { H_UP = 0, H_LOST = 1 };

struct part_stat {
	char *part;
	uint64_t events, errors, emitted, mailbox, state_bytes;
};

struct onode {
	struct onode *next;
	char *name, *url, *arch, *http;
	size_t nlabels;
	char **lk, **lv;
	size_t nres;
	char **res;
	int cores;
	uint64_t mem_mb;
	uint64_t incarnation, epoch;
	int health;
	bool draining;
	uint64_t last_seen; /* monotonic ms */
	uint64_t last_hb_wall;
	struct msg_client *client;
	size_t nrunning;
	char **running; /* wf/part, from its last join */
	size_t nstats;
	struct part_stat *stats;
	uint64_t store_bytes;
};

struct oplace {
	char *node; /* NULL: pending */
	uint64_t epoch;
	size_t nrep;
	char **rep;
	char *why; /* pending reason, or a note */
};

struct owf {
	struct owf *next;
	char *name, *file, *yaml;
	size_t ncode;
	char **ck, **cv;     /* code path (or path@arch) -> hash */
	struct workflow *wf; /* parsed */
	size_t nparts;
	struct oplace *place; /* functions, then resources */
	char **deployed_on;   /* nodes it was last deployed to */
	size_t ndeployed;
	bool busy;     /* a move of its parts is under way */
	bool replaced; /* its last wf.start replaced a running one */
};

struct log_line {
	uint64_t seq, ms;
	int level;
	char *node, *wf, *who, *line;
};

struct orc {
	struct loop *loop;
	struct store *store;
	struct rlog *log;
	const struct msg_tls *tls;
	uint32_t node_timeout_ms;
	struct msg_server *server;
	struct msg_sub *sub;
	struct loop_timer *tick;
	struct onode *nodes;
	struct owf *wfs;
	uint64_t next_epoch; /* placement epochs, domain-wide */
	struct log_line *logs;
	uint64_t log_seq;
	bool replace_wanted; /* a busy workflow waits for replace_all */
};

/* ------------------------------------------------------------------ */
/* small helpers                                                       */

static void
free_strs(char **v, size_t n)
{
	for (size_t i = 0; v != NULL && i < n; i++) {
		free(v[i]);
	}
	free(v);
}

static char *
xstrdup(const char *s)
{
	return s ? strdup(s) : NULL;
}

static void
send_wire(struct msg_req *req, struct wire_w *w)
{
	size_t n;
	const void *d = wire_data(w, &n);
	msg_reply(req, d, d ? n : 0);
	wire_w_fini(w);
}

static void reply_err(struct msg_req *req, const char *code, const char *fmt,
    ...) __attribute__((format(printf, 3, 4)));

static void
reply_err(struct msg_req *req, const char *code, const char *fmt, ...)
{
	char why[2048];
	struct wire_w w;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(why, sizeof why, fmt, ap);
	va_end(ap);
	if (wire_w_init(&w) != 0) {
		msg_reply(req, NULL, 0);
		return;
	}
	wire_map(&w, 3);
	wire_str(&w, "ok");
	wire_bool(&w, false);
	wire_str(&w, "code");
	wire_str(&w, code);
	wire_str(&w, "error");
	wire_str(&w, why);
	send_wire(req, &w);
}

static void
reply_ok(struct msg_req *req)
{
	static const unsigned char ok[] = { 0x81, 0xa2, 'o', 'k', 0xc3 };
	msg_reply(req, ok, sizeof ok);
}

static const char *
part_name(const struct owf *w, size_t i)
{
	return i < w->wf->nfunctions
	    ? w->wf->functions[i].name
	    : w->wf->resources[i - w->wf->nfunctions].name;
}

static bool
part_is_fn(const struct owf *w, size_t i)
{
	return i < w->wf->nfunctions;
}

static struct onode *
find_node(struct orc *o, const char *name)
{
	for (struct onode *n = o->nodes; n != NULL; n = n->next) {
		if (strcmp(n->name, name) == 0) {
			return n;
		}
	}
	return NULL;
}

static struct owf *
find_wf(struct orc *o, const char *name)
{
	for (struct owf *w = o->wfs; w != NULL; w = w->next) {
		if (strcmp(w->name, name) == 0) {
			return w;
		}
	}
	return NULL;
}

static void
free_place(struct oplace *p)
{
	free(p->node);
	free_strs(p->rep, p->nrep);
	free(p->why);
	memset(p, 0, sizeof *p);
}

static void
free_owf(struct owf *w)
{
	for (size_t i = 0; w->place && i < w->nparts; i++) {
		free_place(&w->place[i]);
	}
	free(w->place);
	free_strs(w->ck, w->ncode);
	free_strs(w->cv, w->ncode);
	free_strs(w->deployed_on, w->ndeployed);
	wf_free(w->wf);
	free(w->name);
	free(w->file);
	free(w->yaml);
	free(w);
}

static void
free_stats(struct onode *n)
{
	for (size_t i = 0; i < n->nstats; i++) {
		free(n->stats[i].part);
	}
	free(n->stats);
	n->stats = NULL;
	n->nstats = 0;
}

static void
free_onode(struct onode *n)
{
	msg_client_free(n->client);
	free_strs(n->lk, n->nlabels);
	free_strs(n->lv, n->nlabels);
	free_strs(n->res, n->nres);
	free_strs(n->running, n->nrunning);
	free_stats(n);
	free(n->name);
	free(n->url);
	free(n->arch);
	free(n->http);
	free(n);
}

/* ------------------------------------------------------------------ */
/* persistence                                                         */

static int
put_wire(struct orc *o, enum store_db db, const char *key, struct wire_w *w)
{
	struct store_batch *b;
	size_t n;
	const void *d = wire_data(w, &n);
	int rv;
	if (d == NULL || store_batch_begin(o->store, &b) != LEDGE_OK) {
		return LEDGE_ENOMEM;
	}
	if ((rv = store_batch_put(b, db, key, strlen(key), d, n)) != LEDGE_OK) {
		store_batch_abort(b);
		return rv;
	}
	return store_batch_commit(b);
}

static void
save_node(struct orc *o, struct onode *n)
{
	struct wire_w w;
	if (wire_w_init(&w) != 0) {
		return;
	}
	wire_map(&w, 9);
	wire_str(&w, "url");
	wire_str(&w, n->url);
	wire_str(&w, "arch");
	wire_str(&w, n->arch);
	wire_str(&w, "http");
	wire_str(&w, n->http);
	wire_str(&w, "cores");
	wire_u64(&w, (uint64_t)n->cores);
	wire_str(&w, "mem_mb");
	wire_u64(&w, n->mem_mb);
	wire_str(&w, "incarnation");
	wire_u64(&w, n->incarnation);
	wire_str(&w, "epoch");
	wire_u64(&w, n->epoch);
	wire_str(&w, "labels");
	wire_map(&w, n->nlabels);
	for (size_t i = 0; i < n->nlabels; i++) {
		wire_str(&w, n->lk[i]);
		wire_str(&w, n->lv[i]);
	}
	wire_str(&w, "resources");
	wire_array(&w, n->nres);
	for (size_t i = 0; i < n->nres; i++) {
		wire_str(&w, n->res[i]);
	}
	put_wire(o, STORE_ORC_NODE, n->name, &w);
	wire_w_fini(&w);
}

static void
save_wf(struct orc *o, struct owf *w)
{
	struct wire_w wr;
	if (wire_w_init(&wr) != 0) {
		return;
	}
	wire_map(&wr, 3);
	wire_str(&wr, "file");
	wire_str(&wr, w->file);
	wire_str(&wr, "yaml");
	wire_str(&wr, w->yaml);
	wire_str(&wr, "code");
	wire_map(&wr, w->ncode);
	for (size_t i = 0; i < w->ncode; i++) {
		wire_str(&wr, w->ck[i]);
		wire_str(&wr, w->cv[i]);
	}
	put_wire(o, STORE_ORC_WF, w->name, &wr);
	wire_w_fini(&wr);
	for (size_t i = 0; i < w->nparts; i++) {
		struct oplace *p = &w->place[i];
		char key[512];
		if (wire_w_init(&wr) != 0) {
			return;
		}
		snprintf(key, sizeof key, "%s/%s", w->name, part_name(w, i));
		wire_map(&wr, 3);
		wire_str(&wr, "node");
		wire_str(&wr, p->node);
		wire_str(&wr, "epoch");
		wire_u64(&wr, p->epoch);
		wire_str(&wr, "replicas");
		wire_array(&wr, p->nrep);
		for (size_t k = 0; k < p->nrep; k++) {
			wire_str(&wr, p->rep[k]);
		}
		put_wire(o, STORE_ORC_PLACE, key, &wr);
		wire_w_fini(&wr);
	}
	/* Keep the epoch counter ahead of every epoch handed out. */
	struct store_batch *b;
	if (store_batch_begin(o->store, &b) == LEDGE_OK) {
		if (store_meta_put_u64(b, "next_epoch", o->next_epoch) ==
		    LEDGE_OK) {
			store_batch_commit(b);
		} else {
			store_batch_abort(b);
		}
	}
}

struct delete_prefix {
	struct store_batch *b;
};

static int
del_one(void *arg, ledge_bytes key, ledge_bytes val)
{
	struct delete_prefix *d = arg;
	(void)val;
	store_batch_del(d->b, STORE_ORC_PLACE, key.data, key.len);
	return 0;
}

static void
forget_wf(struct orc *o, const char *name)
{
	struct store_batch *b;
	char prefix[300];
	int n = snprintf(prefix, sizeof prefix, "%s/", name);
	if (store_batch_begin(o->store, &b) != LEDGE_OK) {
		return;
	}
	struct delete_prefix d = { b };
	store_batch_del(b, STORE_ORC_WF, name, strlen(name));
	store_batch_scan(b, STORE_ORC_PLACE, prefix, (size_t)n, del_one, &d);
	store_batch_commit(b);
}

/* ------------------------------------------------------------------ */
/* nodes                                                               */

static int
node_client(struct orc *o, struct onode *n)
{
	char err[256];
	if (n->client != NULL &&
	    strcmp(msg_client_url(n->client), n->url) == 0) {
		return 0;
	}
	msg_client_free(n->client);
	n->client = NULL;
	if (msg_client_new(
	        o->loop, n->url, o->tls, &n->client, err, sizeof err) != 0) {
		rlog_write(o->log, RLOG_ERROR, "orchestrator", "node %s: %s",
		    n->name, err);
		return -1;
	}
	return 0;
}

static unsigned
parts_on(struct orc *o, const char *node)
{
	unsigned k = 0;
	for (struct owf *w = o->wfs; w != NULL; w = w->next) {
		for (size_t i = 0; i < w->nparts; i++) {
			if (w->place[i].node &&
			    strcmp(w->place[i].node, node) == 0) {
				k++;
			}
		}
	}
	return k;
}

/* ------------------------------------------------------------------ */
/* placement and deployment                                            */

static void
place_node(struct orc *o, struct onode *n, struct orc_place_node *pn)
{
	*pn = (struct orc_place_node) {
		.name = n->name,
		.nlabels = n->nlabels,
		.label_keys = (const char *const *)n->lk,
		.label_values = (const char *const *)n->lv,
		.arch = n->arch,
		.cores = n->cores,
		.nresources = n->nres,
		.resources = (const char *const *)n->res,
		.up = n->health == H_UP,
		.draining = n->draining,
		.instances = parts_on(o, n->name),
	};
}

/* Whether part i of w could run on node n; if not, why (malloc'd). */
static bool
fits(struct orc *o, struct owf *w, size_t i, struct onode *n, char **why)
{
	struct orc_place_node pn;
	struct orc_place_choice *ch = calloc(w->nparts + 1, sizeof *ch);
	bool ok;
	*why = NULL;
	if (ch == NULL) {
		*why = strdup("out of memory");
		return false;
	}
	place_node(o, n, &pn);
	pn.draining = false; /* asked for by name */
	if (orc_place_workflow(w->wf, &pn, 1, NULL, ch) != LEDGE_OK) {
		ok = false;
		*why = strdup("placement failed");
	} else {
		ok = ch[i].node == 0;
		if (!ok) {
			*why = ch[i].why;
			ch[i].why = NULL;
		}
	}
	orc_place_choices_free(ch, w->nparts);
	free(ch);
	return ok;
}

static int
place(struct orc *o, struct owf *w)
{
	size_t nn = 0, i = 0, np = w->nparts;
	struct orc_place_node *nodes;
	struct orc_place_current *cur;
	struct orc_place_choice *ch;
	int rv;

	for (struct onode *n = o->nodes; n != NULL; n = n->next) {
		nn++;
	}
	nodes = calloc(nn + 1, sizeof *nodes);
	cur = calloc(np + 1, sizeof *cur);
	ch = calloc(np + 1, sizeof *ch);
	if (!nodes || !cur || !ch) {
		free(nodes);
		free(cur);
		free(ch);
		return LEDGE_ENOMEM;
	}
	for (struct onode *n = o->nodes; n != NULL; n = n->next, i++) {
		place_node(o, n, &nodes[i]);
	}
	for (size_t k = 0; k < np; k++) {
		cur[k].node = w->place[k].node;
		cur[k].nreplicas = w->place[k].nrep;
		cur[k].replicas = (const char *const *)w->place[k].rep;
	}
	rv = orc_place_workflow(w->wf, nodes, nn, cur, ch);
	if (rv == LEDGE_OK) {
		for (size_t k = 0; k < np; k++) {
			struct oplace *p = &w->place[k];
			const char *to =
			    ch[k].node >= 0 ? nodes[ch[k].node].name : NULL;
			struct onode *cn =
			    p->node ? find_node(o, p->node) : NULL;
			if (to == NULL && cn != NULL && cn->health == H_UP &&
			    cn->draining) {
				/* Nowhere else to go: it stays on the
				 * draining node rather than stop. */
				to = cn->name;
			}
			bool moved = (to == NULL) != (p->node == NULL) ||
			    (to && p->node && strcmp(to, p->node) != 0);
			free(p->why);
			p->why = ch[k].why;
			ch[k].why = NULL;
			if (moved) {
				free(p->node);
				p->node = xstrdup(to);
				p->epoch = to ? o->next_epoch++ : 0;
			}
			free_strs(p->rep, p->nrep);
			p->nrep = ch[k].nreplicas;
			p->rep = calloc(p->nrep + 1, sizeof *p->rep);
			for (size_t r = 0; p->rep && r < p->nrep; r++) {
				p->rep[r] =
				    xstrdup(nodes[ch[k].replicas[r]].name);
			}
			if (p->rep == NULL) {
				p->nrep = 0;
			}
		}
	}
	orc_place_choices_free(ch, np);
	free(ch);
	free(cur);
	free(nodes);
	return rv;
}

/* A deployment fans out to nodes; the last answer finishes it. */
struct deploy_op {
	struct orc *o;
	char *wf;
	int pending;
	char errors[2048];
	void (*done)(struct deploy_op *d);
	struct msg_req *req; /* the CLI request to answer, or NULL */
	void *user;          /* for done */
	struct deploy_part {
		struct deploy_op *d;
		char *node;
	} * parts;
	size_t nparts;
};

static void reply_placed(struct deploy_op *d);

static void
deploy_step_done(struct deploy_op *d)
{
	if (--d->pending > 0) {
		return;
	}
	if (d->done) {
		d->done(d);
	}
	for (size_t i = 0; i < d->nparts; i++) {
		free(d->parts[i].node);
	}
	free(d->parts);
	free(d->wf);
	free(d);
}

static void
on_deployed(void *arg, int err, const void *data, size_t len)
{
	struct deploy_part *dp = arg;
	struct deploy_op *d = dp->d;
	struct wire_r r;
	char why[512] = "";

	if (err != MSG_OK) {
		snprintf(why, sizeof why, "node %s did not answer (%s)",
		    dp->node,
		    err == MSG_ETIMEDOUT ? "timed out" : "connection failed");
	} else if (wire_parse(&r, data, len) == 0) {
		if (!wire_as_bool(wire_get(wire_root(&r), "ok"), false)) {
			char *e =
			    wire_str_dup(wire_get(wire_root(&r), "error"));
			snprintf(
			    why, sizeof why, "%s", e ? e : "deploy failed");
			free(e);
		}
		wire_r_fini(&r);
	}
	if (why[0]) {
		size_t used = strlen(d->errors);
		snprintf(d->errors + used, sizeof d->errors - used, "%s%s",
		    used ? "; " : "", why);
		rlog_write(d->o->log, RLOG_WARN, "orchestrator",
		    "deploying %s: %s", d->wf, why);
	}
	deploy_step_done(d);
}

static bool
in_list(char **v, size_t n, const char *s)
{
	for (size_t i = 0; i < n; i++) {
		if (strcmp(v[i], s) == 0) {
			return true;
		}
	}
	return false;
}

/* The deploy message for node `n`: its parts, and where the others are. */
static int
deploy_message(struct orc *o, struct owf *w, struct onode *n, struct wire_w *m)
{
	size_t nlocal = 0, nremote = 0;
	for (size_t i = 0; i < w->nparts; i++) {
		if (!w->place[i].node) {
			continue;
		}
		if (strcmp(w->place[i].node, n->name) == 0) {
			nlocal++;
		} else {
			nremote++;
		}
	}
	if (wire_w_init(m) != 0) {
		return -1;
	}
	wire_map(m, 10);
	wire_str(m, "t");
	wire_str(m, "deploy");
	wire_str(m, "wf");
	wire_str(m, w->name);
	wire_str(m, "file");
	wire_str(m, w->file);
	wire_str(m, "yaml");
	wire_str(m, w->yaml);
	wire_str(m, "code");
	wire_map(m, w->ncode);
	for (size_t i = 0; i < w->ncode; i++) {
		wire_str(m, w->ck[i]);
		wire_str(m, w->cv[i]);
	}
	wire_str(m, "local");
	wire_array(m, nlocal);
	for (size_t i = 0; i < w->nparts; i++) {
		if (w->place[i].node &&
		    strcmp(w->place[i].node, n->name) == 0) {
			wire_str(m, part_name(w, i));
		}
	}
	wire_str(m, "epochs");
	wire_map(m, nlocal);
	for (size_t i = 0; i < w->nparts; i++) {
		if (w->place[i].node &&
		    strcmp(w->place[i].node, n->name) == 0) {
			wire_str(m, part_name(w, i));
			wire_u64(m, w->place[i].epoch);
		}
	}
	wire_str(m, "remote");
	wire_map(m, nremote);
	for (size_t i = 0; i < w->nparts; i++) {
		struct onode *on;
		if (!w->place[i].node ||
		    strcmp(w->place[i].node, n->name) == 0) {
			continue;
		}
		on = find_node(o, w->place[i].node);
		wire_str(m, part_name(w, i));
		wire_map(m, 2);
		wire_str(m, "node");
		wire_str(m, w->place[i].node);
		wire_str(m, "url");
		wire_str(m, on ? on->url : "");
	}
	/* Where the state of its functions is replicated to. */
	size_t nrep = 0;
	for (size_t i = 0; i < w->nparts; i++) {
		nrep += w->place[i].node && w->place[i].nrep > 0 &&
		    strcmp(w->place[i].node, n->name) == 0;
	}
	wire_str(m, "replicas");
	wire_map(m, nrep);
	for (size_t i = 0; i < w->nparts; i++) {
		struct oplace *p = &w->place[i];
		if (!p->node || p->nrep == 0 || strcmp(p->node, n->name) != 0) {
			continue;
		}
		wire_str(m, part_name(w, i));
		wire_array(m, p->nrep);
		for (size_t k = 0; k < p->nrep; k++) {
			struct onode *rn = find_node(o, p->rep[k]);
			wire_map(m, 2);
			wire_str(m, "node");
			wire_str(m, p->rep[k]);
			wire_str(m, "url");
			wire_str(m, rn && rn->url ? rn->url : "");
		}
	}
	/* Lost nodes: their messages sent before they rejoin are refused. */
	size_t nlost = 0;
	for (struct onode *x = o->nodes; x != NULL; x = x->next) {
		nlost += x->health == H_LOST;
	}
	wire_str(m, "fenced_nodes");
	wire_map(m, nlost);
	for (struct onode *x = o->nodes; x != NULL; x = x->next) {
		if (x->health == H_LOST) {
			wire_str(m, x->name);
			wire_u64(m, x->epoch + 1);
		}
	}
	return 0;
}

static void
send_to_node(
    struct orc *o, struct deploy_op *d, struct onode *n, struct wire_w *m)
{
	size_t len;
	const void *data = wire_data(m, &len);
	struct deploy_part *dp = &d->parts[d->nparts++];
	dp->d = d;
	dp->node = strdup(n->name);
	d->pending++;
	if (data == NULL || node_client(o, n) != 0) {
		on_deployed(dp, MSG_EPROTO, NULL, 0);
		return;
	}
	msg_call(n->client, data, len, DEPLOY_TIMEOUT_MS, on_deployed, dp);
}

/*
 * Send workflow w to every up node with parts of it (and an undeploy to
 * nodes that had parts before and have none now).  `only`: just this
 * node (NULL: all).  done runs when every node answered.
 */
static void deploy_wf_user(struct orc *o, struct owf *w, const char *only,
    struct msg_req *req, void (*done)(struct deploy_op *), void *user);

static void
deploy_wf(struct orc *o, struct owf *w, const char *only, struct msg_req *req,
    void (*done)(struct deploy_op *))
{
	deploy_wf_user(o, w, only, req, done, NULL);
}

static void
deploy_wf_user(struct orc *o, struct owf *w, const char *only,
    struct msg_req *req, void (*done)(struct deploy_op *), void *user)
{
	struct deploy_op *d = calloc(1, sizeof *d);
	size_t nn = 0;
	char **now = NULL;
	size_t nnow = 0;

	for (struct onode *n = o->nodes; n != NULL; n = n->next) {
		nn++;
	}
	if (d == NULL ||
	    (d->parts = calloc(nn + 1, sizeof *d->parts)) == NULL ||
	    (now = calloc(nn + 1, sizeof *now)) == NULL) {
		free(d ? d->parts : NULL);
		free(d);
		free(now);
		if (req) {
			reply_err(req, "busy", "out of memory");
		}
		return;
	}
	d->o = o;
	d->wf = strdup(w->name);
	d->req = req;
	d->done = done;
	d->user = user;
	d->pending = 1; /* held until every message is sent */
	for (struct onode *n = o->nodes; n != NULL; n = n->next) {
		bool has = false;
		struct wire_w m;
		for (size_t i = 0; i < w->nparts && !has; i++) {
			has = w->place[i].node &&
			    strcmp(w->place[i].node, n->name) == 0;
		}
		if (has) {
			now[nnow++] = strdup(n->name);
		}
		if (n->health != H_UP || (only && strcmp(only, n->name) != 0)) {
			continue;
		}
		if (has) {
			if (deploy_message(o, w, n, &m) == 0) {
				send_to_node(o, d, n, &m);
				wire_w_fini(&m);
			}
		} else if (in_list(w->deployed_on, w->ndeployed, n->name) &&
		    wire_w_init(&m) == 0) {
			wire_map(&m, 2);
			wire_str(&m, "t");
			wire_str(&m, "undeploy");
			wire_str(&m, "wf");
			wire_str(&m, w->name);
			send_to_node(o, d, n, &m);
			wire_w_fini(&m);
		}
	}
	if (only == NULL) {
		free_strs(w->deployed_on, w->ndeployed);
		w->deployed_on = now;
		w->ndeployed = nnow;
	} else {
		free_strs(now, nnow);
	}
	deploy_step_done(d);
}

static void
write_placed(struct wire_w *m, struct owf *w)
{
	size_t np = 0, npend = 0;
	for (size_t i = 0; i < w->nparts; i++) {
		if (w->place[i].node) {
			np++;
		} else {
			npend++;
		}
	}
	wire_str(m, "placed");
	wire_array(m, np);
	for (size_t i = 0; i < w->nparts; i++) {
		if (!w->place[i].node) {
			continue;
		}
		wire_map(m, 5);
		wire_str(m, "part");
		wire_str(m, part_name(w, i));
		wire_str(m, "kind");
		wire_str(m, part_is_fn(w, i) ? "function" : "resource");
		wire_str(m, "type");
		wire_str(m,
		    part_is_fn(w, i)
		        ? "function"
		        : w->wf->resources[i - w->wf->nfunctions].type);
		wire_str(m, "node");
		wire_str(m, w->place[i].node);
		wire_str(m, "epoch");
		wire_u64(m, w->place[i].epoch);
	}
	wire_str(m, "pending");
	wire_array(m, npend);
	for (size_t i = 0; i < w->nparts; i++) {
		if (w->place[i].node) {
			continue;
		}
		wire_map(m, 2);
		wire_str(m, "part");
		wire_str(m, part_name(w, i));
		wire_str(m, "why");
		wire_str(m, w->place[i].why ? w->place[i].why : "not placed");
	}
}

static void
reply_placed(struct deploy_op *d)
{
	struct owf *w = find_wf(d->o, d->wf);
	struct wire_w m;
	if (d->req == NULL) {
		return;
	}
	if (w == NULL || wire_w_init(&m) != 0) {
		reply_err(d->req, "busy", "the workflow went away");
		return;
	}
	wire_map(&m, d->errors[0] ? 5 : 4);
	wire_str(&m, "ok");
	wire_bool(&m, true);
	wire_str(&m, "new");
	wire_bool(&m, !w->replaced);
	write_placed(&m, w);
	if (d->errors[0]) {
		wire_str(&m, "warning");
		wire_str(&m, d->errors);
	}
	send_wire(d->req, &m);
}

/* ------------------------------------------------------------------ */
/* moves: a new placement, with the state of moved functions carried   */

/*
 * A transition takes a workflow from its old placement (`old`, node
 * names per part) to the one in w->place.  A function that leaves a node
 * that is up takes its state along:
 *
 *   1. the nodes it leaves get the new placement first: the part stops
 *      there, and events still queued for it, or arriving, go on to its
 *      new node (the links hold them until it runs there);
 *   2. its state is exported from the old node and imported into the
 *      new one (durable there before the answer);
 *   3. every node gets the new placement: the part starts on its new
 *      node with that state;
 *   4. the old node drops its copy; the placement is saved.
 *
 * A function whose node was lost starts from a replica of its state if
 * it has one (the replica node already holds it), else empty.  If step 1
 * or 2 fails, the moved parts go back where they were.
 */
struct tmove {
	size_t part;
	char *from, *to;
	struct oplace saved; /* the placement before, to go back */
};

struct trans {
	struct orc *o;
	char *wf;
	struct msg_req *req; /* fn.move: answered at the end, or NULL */
	void (*done)(struct trans *t);
	void *user;
	struct tmove *moves;
	size_t nmoves, step;
	int pending;
	char err[1024];
};

static void trans_step(struct trans *t);
static void replace_all(struct orc *o);

static void
trans_free(struct trans *t)
{
	for (size_t i = 0; i < t->nmoves; i++) {
		free(t->moves[i].from);
		free(t->moves[i].to);
		free_place(&t->moves[i].saved);
	}
	free(t->moves);
	free(t->wf);
	free(t);
}

static void trans_fail(struct trans *t, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
trans_fail(struct trans *t, const char *fmt, ...)
{
	va_list ap;
	if (t->err[0]) {
		return;
	}
	va_start(ap, fmt);
	vsnprintf(t->err, sizeof t->err, fmt, ap);
	va_end(ap);
}

static void
trans_finish(struct trans *t)
{
	struct owf *w = find_wf(t->o, t->wf);
	if (w != NULL) {
		w->busy = false;
	}
	if (t->req != NULL) {
		if (t->err[0]) {
			reply_err(t->req, "failed", "%s", t->err);
		} else {
			struct wire_w m;
			struct tmove *mv = t->nmoves ? &t->moves[0] : NULL;
			if (wire_w_init(&m) == 0) {
				wire_map(&m, 4);
				wire_str(&m, "ok");
				wire_bool(&m, true);
				wire_str(&m, "from");
				wire_str(&m, mv ? mv->from : NULL);
				wire_str(&m, "to");
				wire_str(&m, mv ? mv->to : NULL);
				wire_str(&m, "epoch");
				wire_u64(
				    &m, w && mv ? w->place[mv->part].epoch : 0);
				send_wire(t->req, &m);
			}
		}
	}
	if (t->done != NULL) {
		t->done(t);
	}
	struct orc *o = t->o;
	trans_free(t);
	if (o->replace_wanted) {
		o->replace_wanted = false;
		replace_all(o);
	}
}

/* Step 3 answered: save, and let the old nodes drop their copies. */
static void
trans_deployed_all(struct deploy_op *d)
{
	struct trans *t = d->user;
	struct owf *w = find_wf(t->o, t->wf);
	if (w != NULL) {
		save_wf(t->o, w);
	}
	if (d->errors[0]) {
		/* The placement stands (the nodes that answered run it); a
		 * node that did not gets it again when it rejoins. */
		rlog_write(t->o->log, RLOG_WARN, "orchestrator",
		    "workflow %s: %s", t->wf, d->errors);
	}
	for (size_t i = 0; w != NULL && i < t->nmoves; i++) {
		struct onode *n = find_node(t->o, t->moves[i].from);
		struct wire_w m;
		if (n == NULL || n->health != H_UP || node_client(t->o, n) ||
		    wire_w_init(&m) != 0) {
			continue;
		}
		wire_map(&m, 3);
		wire_str(&m, "t");
		wire_str(&m, "forget");
		wire_str(&m, "wf");
		wire_str(&m, t->wf);
		wire_str(&m, "part");
		wire_str(&m, part_name(w, t->moves[i].part));
		size_t len;
		const void *data = wire_data(&m, &len);
		if (data != NULL) {
			msg_call(n->client, data, len, DEPLOY_TIMEOUT_MS, NULL,
			    NULL);
		}
		wire_w_fini(&m);
		rlog_write(t->o->log, RLOG_INFO, "orchestrator",
		    "%s/%s moved from %s to %s with its state", t->wf,
		    part_name(w, t->moves[i].part), t->moves[i].from,
		    t->moves[i].to);
	}
	trans_finish(t);
}

/* Put the moved parts back where they were and deploy that. */
static void
trans_undo(struct trans *t)
{
	struct owf *w = find_wf(t->o, t->wf);
	rlog_write(t->o->log, RLOG_WARN, "orchestrator",
	    "workflow %s: move abandoned: %s", t->wf, t->err);
	for (size_t i = 0; w != NULL && i < t->nmoves; i++) {
		struct oplace *p = &w->place[t->moves[i].part];
		free_place(p);
		*p = t->moves[i].saved;
		memset(&t->moves[i].saved, 0, sizeof t->moves[i].saved);
	}
	t->nmoves = 0; /* nothing to forget */
	if (w == NULL) {
		trans_finish(t);
		return;
	}
	deploy_wf_user(t->o, w, NULL, NULL, trans_deployed_all, t);
}

static void
trans_left(struct deploy_op *d)
{
	struct trans *t = d->user;
	if (d->errors[0]) {
		trans_fail(t, "%s", d->errors);
	}
	if (--t->pending == 0) {
		trans_step(t);
	}
}

static void
on_imported(void *arg, int err, const void *data, size_t len)
{
	struct trans *t = arg;
	struct wire_r r;
	if (err != MSG_OK) {
		trans_fail(t, "node %s did not take the state of %s (%s)",
		    t->moves[t->step].to, t->wf,
		    err == MSG_ETIMEDOUT ? "timed out" : "unreachable");
	} else if (wire_parse(&r, data, len) == 0) {
		if (!wire_as_bool(wire_get(wire_root(&r), "ok"), false)) {
			char *e =
			    wire_str_dup(wire_get(wire_root(&r), "error"));
			trans_fail(t, "node %s: %s", t->moves[t->step].to,
			    e ? e : "import failed");
			free(e);
		}
		wire_r_fini(&r);
	}
	t->step++;
	trans_step(t);
}

static void
on_exported(void *arg, int err, const void *data, size_t len)
{
	struct trans *t = arg;
	struct tmove *mv = &t->moves[t->step];
	struct owf *w = find_wf(t->o, t->wf);
	struct onode *to = find_node(t->o, mv->to);
	struct wire_r r;
	struct wire_w m;
	wire_v root, state;
	const void *out;
	size_t olen;

	if (err != MSG_OK || wire_parse(&r, data, len) != 0) {
		trans_fail(t, "node %s did not give up the state of %s/%s (%s)",
		    mv->from, t->wf, w ? part_name(w, mv->part) : "?",
		    err == MSG_ETIMEDOUT ? "timed out" : "unreachable");
		trans_step(t);
		return;
	}
	root = wire_root(&r);
	if (!wire_as_bool(wire_get(root, "ok"), false) || w == NULL ||
	    to == NULL || node_client(t->o, to) != 0 || wire_w_init(&m) != 0) {
		char *e = wire_str_dup(wire_get(root, "error"));
		trans_fail(t, "node %s: %s", mv->from,
		    e ? e : "cannot export the state");
		free(e);
		wire_r_fini(&r);
		trans_step(t);
		return;
	}
	state = wire_get(root, "state");
	wire_map(&m, 5);
	wire_str(&m, "t");
	wire_str(&m, "import");
	wire_str(&m, "wf");
	wire_str(&m, t->wf);
	wire_str(&m, "part");
	wire_str(&m, part_name(w, mv->part));
	wire_str(&m, "epoch");
	wire_u64(&m, w->place[mv->part].epoch);
	wire_str(&m, "state");
	wire_array(&m, wire_len(state));
	for (size_t i = 0; i < wire_len(state); i++) {
		const void *k = "", *v = "";
		size_t kl = 0, vl = 0;
		wire_as_bin(wire_get(wire_at(state, i), "key"), &k, &kl);
		wire_as_bin(wire_get(wire_at(state, i), "value"), &v, &vl);
		wire_map(&m, 2);
		wire_str(&m, "key");
		wire_bin(&m, k, kl);
		wire_str(&m, "value");
		wire_bin(&m, v, vl);
	}
	wire_r_fini(&r);
	if ((out = wire_data(&m, &olen)) == NULL) {
		wire_w_fini(&m);
		trans_fail(t, "out of memory");
		trans_step(t);
		return;
	}
	msg_call(to->client, out, olen, DEPLOY_TIMEOUT_MS, on_imported, t);
	wire_w_fini(&m);
}

/* Export the state of move t->step (its old node no longer runs it). */
static void
trans_export(struct trans *t)
{
	struct tmove *mv = &t->moves[t->step];
	struct owf *w = find_wf(t->o, t->wf);
	struct onode *from = find_node(t->o, mv->from);
	struct wire_w m;
	const void *data;
	size_t len;

	if (w == NULL || from == NULL || node_client(t->o, from) != 0 ||
	    wire_w_init(&m) != 0) {
		trans_fail(t, "node %s cannot be reached", mv->from);
		trans_step(t);
		return;
	}
	wire_map(&m, 3);
	wire_str(&m, "t");
	wire_str(&m, "export");
	wire_str(&m, "wf");
	wire_str(&m, t->wf);
	wire_str(&m, "part");
	wire_str(&m, part_name(w, mv->part));
	data = wire_data(&m, &len);
	msg_call(from->client, data, data ? len : 0, DEPLOY_TIMEOUT_MS,
	    on_exported, t);
	wire_w_fini(&m);
}

/* After step 1, and after each export/import: the next thing to do. */
static void
trans_step(struct trans *t)
{
	struct owf *w = find_wf(t->o, t->wf);
	if (w == NULL) {
		trans_fail(t, "workflow %s was stopped meanwhile", t->wf);
		trans_finish(t);
		return;
	}
	if (t->err[0]) {
		trans_undo(t);
		return;
	}
	if (t->step < t->nmoves) {
		trans_export(t);
		return;
	}
	deploy_wf_user(t->o, w, NULL, NULL, trans_deployed_all, t);
}

/*
 * Start moving w from `old` (node name per part, NULL: pending; borrowed)
 * to its current w->place.  `oldp`: the placements before, kept to go
 * back.  done (may be NULL) runs at the end, before t is freed.
 */
static void
trans_start(struct orc *o, struct owf *w, const struct oplace *oldp,
    struct msg_req *req, void (*done)(struct trans *), void *user)
{
	struct trans *t = calloc(1, sizeof *t);
	if (t == NULL || (t->wf = strdup(w->name)) == NULL ||
	    (t->moves = calloc(w->nparts + 1, sizeof *t->moves)) == NULL) {
		if (t != NULL) {
			free(t->wf);
		}
		free(t);
		if (req) {
			reply_err(req, "busy", "out of memory");
		}
		return;
	}
	t->o = o;
	t->req = req;
	t->done = done;
	t->user = user;
	w->busy = true;
	for (size_t i = 0; i < w->nparts; i++) {
		const char *from = oldp[i].node, *to = w->place[i].node;
		struct onode *fn = from ? find_node(o, from) : NULL;
		struct tmove *mv;
		if (!part_is_fn(w, i) || from == NULL || to == NULL ||
		    strcmp(from, to) == 0 || fn == NULL || fn->health != H_UP) {
			continue;
		}
		mv = &t->moves[t->nmoves++];
		mv->part = i;
		mv->from = strdup(from);
		mv->to = strdup(to);
		mv->saved.node = xstrdup(oldp[i].node);
		mv->saved.epoch = oldp[i].epoch;
		mv->saved.nrep = oldp[i].nrep;
		mv->saved.rep = calloc(oldp[i].nrep + 1, sizeof(char *));
		for (size_t k = 0; mv->saved.rep && k < oldp[i].nrep; k++) {
			mv->saved.rep[k] = xstrdup(oldp[i].rep[k]);
		}
		if (mv->saved.rep == NULL) {
			mv->saved.nrep = 0;
		}
	}
	/* Step 1: the nodes parts leave stop them first. */
	t->pending = 1;
	for (size_t i = 0; i < t->nmoves; i++) {
		bool seen = false;
		for (size_t k = 0; k < i; k++) {
			seen |= strcmp(t->moves[k].from, t->moves[i].from) == 0;
		}
		if (!seen) {
			t->pending++;
			deploy_wf_user(
			    o, w, t->moves[i].from, NULL, trans_left, t);
		}
	}
	if (--t->pending == 0) {
		trans_step(t);
	}
}

/* Copies of the placements of w (to compare and to go back to). */
static struct oplace *
save_places(struct owf *w)
{
	struct oplace *c = calloc(w->nparts + 1, sizeof *c);
	for (size_t i = 0; c && i < w->nparts; i++) {
		c[i].node = xstrdup(w->place[i].node);
		c[i].epoch = w->place[i].epoch;
		c[i].nrep = w->place[i].nrep;
		c[i].rep = calloc(c[i].nrep + 1, sizeof *c[i].rep);
		for (size_t k = 0; c[i].rep && k < c[i].nrep; k++) {
			c[i].rep[k] = xstrdup(w->place[i].rep[k]);
		}
		if (c[i].rep == NULL) {
			c[i].nrep = 0;
		}
	}
	return c;
}

static void
free_places(struct oplace *c, size_t n)
{
	for (size_t i = 0; c && i < n; i++) {
		free_place(&c[i]);
	}
	free(c);
}

static bool
places_differ(const struct owf *w, const struct oplace *c)
{
	for (size_t i = 0; i < w->nparts; i++) {
		const struct oplace *p = &w->place[i];
		if ((p->node == NULL) != (c[i].node == NULL) ||
		    (p->node && strcmp(p->node, c[i].node) != 0) ||
		    p->epoch != c[i].epoch || p->nrep != c[i].nrep) {
			return true;
		}
		for (size_t k = 0; k < p->nrep; k++) {
			if (strcmp(p->rep[k], c[i].rep[k]) != 0) {
				return true;
			}
		}
	}
	return false;
}

/* Place again every workflow with parts pending or on a node that can no
 * longer take them, and move what changed (with its state). */
static void
replace_all(struct orc *o)
{
	for (struct owf *w = o->wfs; w != NULL; w = w->next) {
		struct oplace *before;
		if (w->busy) {
			o->replace_wanted = true;
			continue;
		}
		if ((before = save_places(w)) == NULL) {
			continue;
		}
		place(o, w);
		if (places_differ(w, before)) {
			rlog_write(o->log, RLOG_INFO, "orchestrator",
			    "workflow %s placed again", w->name);
			trans_start(o, w, before, NULL, NULL, NULL);
		}
		free_places(before, w->nparts);
	}
}

/* ------------------------------------------------------------------ */
/* requests from the CLI                                               */

static bool
have_code(struct orc *o, const char *hash)
{
	struct store_reader *r;
	ledge_bytes v;
	bool have = false;
	if (store_reader_open(o->store, &r) != LEDGE_OK) {
		return false;
	}
	if (store_reader_begin(r) == LEDGE_OK) {
		have = store_get(r, STORE_ORC_CODE, hash, strlen(hash), &v) ==
		    LEDGE_OK;
		store_reader_end(r);
	}
	store_reader_close(r);
	return have;
}

static struct owf *
make_owf(const char *name, const char *file, const char *yaml, size_t ylen,
    wire_v code, struct diag *d)
{
	struct owf *w = calloc(1, sizeof *w);
	if (w == NULL) {
		return NULL;
	}
	w->name = strdup(name);
	w->file = strdup(file);
	w->yaml = malloc(ylen + 1);
	if (!w->name || !w->file || !w->yaml) {
		free_owf(w);
		return NULL;
	}
	memcpy(w->yaml, yaml, ylen);
	w->yaml[ylen] = '\0';
	w->ncode = wire_len(code);
	w->ck = calloc(w->ncode + 1, sizeof *w->ck);
	w->cv = calloc(w->ncode + 1, sizeof *w->cv);
	if (!w->ck || !w->cv) {
		free_owf(w);
		return NULL;
	}
	for (size_t i = 0; i < w->ncode; i++) {
		w->ck[i] = wire_str_dup(wire_key_at(code, i));
		w->cv[i] = wire_str_dup(wire_val_at(code, i));
	}
	if ((w->wf = wf_load_mem(file, yaml, ylen, NULL, NULL, d)) == NULL) {
		free_owf(w);
		return NULL;
	}
	w->nparts = orc_place_nparts(w->wf);
	if ((w->place = calloc(w->nparts + 1, sizeof *w->place)) == NULL) {
		free_owf(w);
		return NULL;
	}
	return w;
}

/* Whether a and b have the same text and the same code. */
static bool
same_wf(const struct owf *a, const struct owf *b)
{
	if (strcmp(a->yaml, b->yaml) != 0 || strcmp(a->file, b->file) != 0) {
		return false;
	}
	/* b is new: a's per-function reloads (@fn:) make them differ. */
	if (a->ncode != b->ncode) {
		return false;
	}
	for (size_t i = 0; i < a->ncode; i++) {
		size_t k = 0;
		while (k < b->ncode && strcmp(a->ck[i], b->ck[k]) != 0) {
			k++;
		}
		if (k == b->ncode || strcmp(a->cv[i], b->cv[k]) != 0) {
			return false;
		}
	}
	return true;
}

static void
handle_wf_start(struct orc *o, struct msg_req *req, wire_v root)
{
	const char *yaml;
	size_t ylen;
	char *name = wire_str_dup(wire_get(root, "name"));
	char *file = wire_str_dup(wire_get(root, "file"));
	wire_v code = wire_get(root, "code");
	struct owf *w, *old;
	struct diag d;
	size_t nneed = 0;

	if (!wire_as_str(wire_get(root, "yaml"), &yaml, &ylen) || !file) {
		reply_err(req, "invalid", "wf.start needs name, file and yaml");
		free(name);
		free(file);
		return;
	}
	for (size_t i = 0; i < wire_len(code); i++) {
		char *h = wire_str_dup(wire_val_at(code, i));
		nneed += h == NULL || !have_code(o, h);
		free(h);
	}
	if (nneed > 0) {
		struct wire_w m;
		if (wire_w_init(&m) == 0) {
			wire_map(&m, 4);
			wire_str(&m, "ok");
			wire_bool(&m, false);
			wire_str(&m, "code");
			wire_str(&m, "need-code");
			wire_str(&m, "error");
			wire_str(&m, "the orchestrator needs the code first");
			wire_str(&m, "need");
			wire_array(&m, nneed);
			for (size_t i = 0; i < wire_len(code); i++) {
				char *h = wire_str_dup(wire_val_at(code, i));
				if (h == NULL || !have_code(o, h)) {
					wire_str(&m, h ? h : "");
				}
				free(h);
			}
			send_wire(req, &m);
		}
		free(name);
		free(file);
		return;
	}
	diag_init(&d);
	w = make_owf(name ? name : "", file, yaml, ylen, code, &d);
	if (w == NULL) {
		struct wire_w m;
		size_t shown = d.count < d.cap ? d.count : d.cap;
		if (wire_w_init(&m) == 0) {
			wire_map(&m, 4);
			wire_str(&m, "ok");
			wire_bool(&m, false);
			wire_str(&m, "code");
			wire_str(&m, "invalid");
			wire_str(&m, "error");
			wire_str(
			    &m, shown ? d.items[0].text : "invalid workflow");
			wire_str(&m, "errors");
			wire_array(&m, shown);
			for (size_t i = 0; i < shown; i++) {
				wire_str(&m, d.items[i].text);
			}
			send_wire(req, &m);
		}
		diag_fini(&d);
		free(name);
		free(file);
		return;
	}
	diag_fini(&d);
	free(name);
	free(file);
	/* The same text and code again: nothing to do. */
	if ((old = find_wf(o, w->wf->name)) != NULL && same_wf(old, w) &&
	    !old->busy) {
		struct wire_w m;
		free_owf(w);
		if (wire_w_init(&m) == 0) {
			wire_map(&m, 5);
			wire_str(&m, "ok");
			wire_bool(&m, true);
			wire_str(&m, "new");
			wire_bool(&m, false);
			wire_str(&m, "unchanged");
			wire_bool(&m, true);
			write_placed(&m, old);
			send_wire(req, &m);
		}
		return;
	}
	/* Replacing a running workflow keeps its parts where they are. */
	if (old != NULL) {
		w->replaced = true;
		free(w->name);
		w->name = strdup(w->wf->name);
		for (size_t i = 0; i < w->nparts; i++) {
			for (size_t k = 0; k < old->nparts; k++) {
				if (strcmp(part_name(w, i),
				        part_name(old, k)) == 0 &&
				    part_is_fn(w, i) == part_is_fn(old, k)) {
					w->place[i] = old->place[k];
					memset(&old->place[k], 0,
					    sizeof old->place[k]);
				}
			}
		}
		w->deployed_on = old->deployed_on;
		w->ndeployed = old->ndeployed;
		old->deployed_on = NULL;
		old->ndeployed = 0;
		for (struct owf **pp = &o->wfs; *pp; pp = &(*pp)->next) {
			if (*pp == old) {
				*pp = old->next;
				break;
			}
		}
		free_owf(old);
	} else {
		free(w->name);
		w->name = strdup(w->wf->name);
	}
	w->next = o->wfs;
	o->wfs = w;
	place(o, w);
	save_wf(o, w);
	rlog_write(
	    o->log, RLOG_INFO, "orchestrator", "workflow %s started", w->name);
	deploy_wf(o, w, NULL, req, reply_placed);
}

static void
stopped(struct deploy_op *d)
{
	if (d->req) {
		reply_ok(d->req);
	}
}

static void
handle_wf_stop(struct orc *o, struct msg_req *req, wire_v root)
{
	char *name = wire_str_dup(wire_get(root, "name"));
	struct owf *w = name ? find_wf(o, name) : NULL;
	if (w == NULL) {
		reply_err(req, "not-found", "no workflow '%s' in the domain",
		    name ? name : "");
		free(name);
		return;
	}
	free(name);
	for (struct owf **pp = &o->wfs; *pp; pp = &(*pp)->next) {
		if (*pp == w) {
			*pp = w->next;
			break;
		}
	}
	forget_wf(o, w->name);
	/* No parts: every node it was on gets an undeploy. */
	for (size_t i = 0; i < w->nparts; i++) {
		free_place(&w->place[i]);
	}
	w->next = o->wfs; /* briefly listed, so deploy_wf can find it */
	o->wfs = w;
	deploy_wf(o, w, NULL, req, stopped);
	o->wfs = w->next;
	rlog_write(
	    o->log, RLOG_INFO, "orchestrator", "workflow %s stopped", w->name);
	free_owf(w);
}

static void
handle_wf_list(struct orc *o, struct msg_req *req)
{
	struct wire_w m;
	size_t n = 0;
	for (struct owf *w = o->wfs; w != NULL; w = w->next) {
		n++;
	}
	if (wire_w_init(&m) != 0) {
		reply_err(req, "busy", "out of memory");
		return;
	}
	wire_map(&m, 2);
	wire_str(&m, "ok");
	wire_bool(&m, true);
	wire_str(&m, "workflows");
	wire_array(&m, n);
	for (struct owf *w = o->wfs; w != NULL; w = w->next) {
		size_t placed = 0;
		for (size_t i = 0; i < w->nparts; i++) {
			placed += w->place[i].node != NULL;
		}
		wire_map(&m, 5);
		wire_str(&m, "name");
		wire_str(&m, w->name);
		wire_str(&m, "functions");
		wire_u64(&m, w->wf->nfunctions);
		wire_str(&m, "resources");
		wire_u64(&m, w->wf->nresources);
		wire_str(&m, "placed");
		wire_u64(&m, placed);
		wire_str(&m, "pending");
		wire_u64(&m, w->nparts - placed);
	}
	send_wire(req, &m);
}

static const struct part_stat *
stat_of(struct orc *o, const char *node, const char *part)
{
	struct onode *n = node ? find_node(o, node) : NULL;
	for (size_t i = 0; n && i < n->nstats; i++) {
		if (strcmp(n->stats[i].part, part) == 0) {
			return &n->stats[i];
		}
	}
	return NULL;
}

static void
handle_wf_show(struct orc *o, struct msg_req *req, wire_v root)
{
	char *name = wire_str_dup(wire_get(root, "name"));
	struct owf *w = name ? find_wf(o, name) : NULL;
	struct wire_w m;
	size_t npend = 0;

	if (w == NULL) {
		reply_err(req, "not-found", "no workflow '%s' in the domain",
		    name ? name : "");
		free(name);
		return;
	}
	free(name);
	if (wire_w_init(&m) != 0) {
		reply_err(req, "busy", "out of memory");
		return;
	}
	for (size_t i = 0; i < w->nparts; i++) {
		npend += w->place[i].node == NULL;
	}
	wire_map(&m, 5);
	wire_str(&m, "ok");
	wire_bool(&m, true);
	wire_str(&m, "name");
	wire_str(&m, w->name);
	wire_str(&m, "file");
	wire_str(&m, w->file);
	wire_str(&m, "parts");
	wire_array(&m, w->nparts);
	for (size_t i = 0; i < w->nparts; i++) {
		struct oplace *p = &w->place[i];
		char full[512];
		bool fn = part_is_fn(w, i);
		unsigned replicas = fn ? w->wf->functions[i].replicas : 0;
		snprintf(full, sizeof full, "%s/%s", w->name, part_name(w, i));
		const struct part_stat *st = stat_of(o, p->node, full);
		wire_map(&m, 13);
		wire_str(&m, "part");
		wire_str(&m, part_name(w, i));
		wire_str(&m, "kind");
		wire_str(&m, fn ? "function" : "resource");
		wire_str(&m, "type");
		wire_str(&m,
		    fn ? "function"
		       : w->wf->resources[i - w->wf->nfunctions].type);
		wire_str(&m, "node");
		wire_str(&m, p->node);
		wire_str(&m, "epoch");
		wire_u64(&m, p->epoch);
		wire_str(&m, "state_bytes");
		wire_u64(&m, st ? st->state_bytes : 0);
		wire_str(&m, "events_in");
		wire_u64(&m, st ? st->events : 0);
		wire_str(&m, "events_out");
		wire_u64(&m, st ? st->emitted : 0);
		wire_str(&m, "errors");
		wire_u64(&m, st ? st->errors : 0);
		wire_str(&m, "replicas");
		wire_u64(&m, replicas);
		wire_str(&m, "replica_nodes");
		wire_array(&m, p->nrep);
		for (size_t r = 0; r < p->nrep; r++) {
			wire_str(&m, p->rep[r]);
		}
		wire_str(&m, "mailbox");
		wire_u64(&m, st ? st->mailbox : 0);
		wire_str(&m, "note");
		if (fn && replicas == 0) {
			wire_str(&m,
			    "no state replicas: if its node is lost, "
			    "the state restarts empty");
		} else {
			wire_str(&m, p->why);
		}
	}
	wire_str(&m, "pending");
	wire_array(&m, npend);
	for (size_t i = 0; i < w->nparts; i++) {
		if (w->place[i].node == NULL) {
			wire_map(&m, 2);
			wire_str(&m, "part");
			wire_str(&m, part_name(w, i));
			wire_str(&m, "why");
			wire_str(&m,
			    w->place[i].why ? w->place[i].why : "not placed");
		}
	}
	send_wire(req, &m);
}

static void
handle_node_list(struct orc *o, struct msg_req *req)
{
	struct wire_w m;
	size_t n = 0;
	uint64_t now = clock_mono_ms();
	for (struct onode *x = o->nodes; x != NULL; x = x->next) {
		n++;
	}
	if (wire_w_init(&m) != 0) {
		reply_err(req, "busy", "out of memory");
		return;
	}
	wire_map(&m, 2);
	wire_str(&m, "ok");
	wire_bool(&m, true);
	wire_str(&m, "nodes");
	wire_array(&m, n);
	for (struct onode *x = o->nodes; x != NULL; x = x->next) {
		wire_map(&m, 11);
		wire_str(&m, "name");
		wire_str(&m, x->name);
		wire_str(&m, "url");
		wire_str(&m, x->url);
		wire_str(&m, "labels");
		wire_map(&m, x->nlabels);
		for (size_t i = 0; i < x->nlabels; i++) {
			wire_str(&m, x->lk[i]);
			wire_str(&m, x->lv[i]);
		}
		wire_str(&m, "arch");
		wire_str(&m, x->arch);
		wire_str(&m, "cores");
		wire_u64(&m, (uint64_t)x->cores);
		wire_str(&m, "mem_mb");
		wire_u64(&m, x->mem_mb);
		wire_str(&m, "resources");
		wire_array(&m, x->nres);
		for (size_t i = 0; i < x->nres; i++) {
			wire_str(&m, x->res[i]);
		}
		wire_str(&m, "health");
		wire_str(&m,
		    x->health == H_LOST ? "lost"
		        : x->draining   ? "draining"
		                        : "up");
		wire_str(&m, "instances");
		wire_u64(&m, parts_on(o, x->name));
		wire_str(&m, "last_heartbeat_ms");
		wire_u64(&m, x->last_seen ? now - x->last_seen : UINT64_MAX);
		wire_str(&m, "epoch");
		wire_u64(&m, x->epoch);
	}
	send_wire(req, &m);
}

static void
handle_code_put(struct orc *o, struct msg_req *req, wire_v root)
{
	char *hash = wire_str_dup(wire_get(root, "hash"));
	const void *bytes;
	size_t n;
	char hex[65];
	struct store_batch *b;

	if (hash == NULL || !wire_as_bin(wire_get(root, "bytes"), &bytes, &n)) {
		reply_err(req, "invalid", "code.put needs hash and bytes");
		free(hash);
		return;
	}
	sha256_hex(bytes, n, hex);
	if (strcmp(hex, hash) != 0) {
		reply_err(req, "invalid",
		    "code %.12s arrived damaged (its hash is %.12s)", hash,
		    hex);
		free(hash);
		return;
	}
	if (store_batch_begin(o->store, &b) != LEDGE_OK ||
	    store_batch_put(b, STORE_ORC_CODE, hash, 64, bytes, n) !=
	        LEDGE_OK) {
		store_batch_abort(b);
		reply_err(req, "busy", "cannot store the code");
		free(hash);
		return;
	}
	store_batch_commit(b);
	free(hash);
	reply_ok(req);
}

static void
handle_code_get(struct orc *o, struct msg_req *req, wire_v root)
{
	char *hash = wire_str_dup(wire_get(root, "hash"));
	struct store_reader *r;
	ledge_bytes v;
	struct wire_w m;
	if (hash == NULL || store_reader_open(o->store, &r) != LEDGE_OK) {
		reply_err(req, "invalid", "code.get needs a hash");
		free(hash);
		return;
	}
	if (store_reader_begin(r) != LEDGE_OK ||
	    store_get(r, STORE_ORC_CODE, hash, strlen(hash), &v) != LEDGE_OK) {
		store_reader_end(r);
		store_reader_close(r);
		reply_err(req, "not-found", "no code %.12s here", hash);
		free(hash);
		return;
	}
	free(hash);
	if (wire_w_init(&m) == 0) {
		wire_map(&m, 2);
		wire_str(&m, "ok");
		wire_bool(&m, true);
		wire_str(&m, "bytes");
		wire_bin(&m, v.data, v.len);
		send_wire(req, &m);
	}
	store_reader_end(r);
	store_reader_close(r);
}

/* invoke and state.get go to the node that runs the part. */
struct relay {
	struct msg_req *req;
};

static void
on_relayed(void *arg, int err, const void *data, size_t len)
{
	struct relay *rl = arg;
	if (err != MSG_OK) {
		reply_err(rl->req, "unreachable",
		    "the node did not answer (%s)",
		    err == MSG_ETIMEDOUT ? "timed out" : "connection failed");
	} else {
		msg_reply(rl->req, data, len);
	}
	free(rl);
}

static void
handle_relay(
    struct orc *o, struct msg_req *req, wire_v root, const char *part_key)
{
	char *wfn = wire_str_dup(wire_get(root, "wf"));
	char *part = wire_str_dup(wire_get(root, part_key));
	struct owf *w = wfn ? find_wf(o, wfn) : NULL;
	struct onode *n = NULL;
	struct relay *rl;
	size_t len;
	const void *data = msg_req_data(req, &len);

	for (size_t i = 0; w && part && i < w->nparts; i++) {
		if (strcmp(part_name(w, i), part) == 0 && w->place[i].node) {
			n = find_node(o, w->place[i].node);
		}
	}
	if (n == NULL || n->health != H_UP || node_client(o, n) != 0 ||
	    (rl = malloc(sizeof *rl)) == NULL) {
		reply_err(req, "not-found", "%s/%s is not running anywhere",
		    wfn ? wfn : "?", part ? part : "?");
		free(wfn);
		free(part);
		return;
	}
	free(wfn);
	free(part);
	rl->req = req;
	msg_call(n->client, data, len, 30000, on_relayed, rl);
}

static void
handle_logs(struct orc *o, struct msg_req *req, wire_v root)
{
	char *wf = wire_str_dup(wire_get(root, "wf"));
	uint64_t after = wire_as_u64(wire_get(root, "after"), 0);
	uint64_t first = o->log_seq > LOG_RING ? o->log_seq - LOG_RING + 1 : 1;
	size_t n = 0;
	struct wire_w m;

	if (after + 1 > first) {
		first = after + 1;
	}
	for (uint64_t s = first; s <= o->log_seq; s++) {
		struct log_line *l = &o->logs[s % LOG_RING];
		n += wf == NULL || strcmp(l->wf, wf) == 0;
	}
	if (wire_w_init(&m) != 0) {
		free(wf);
		reply_err(req, "busy", "out of memory");
		return;
	}
	wire_map(&m, 3);
	wire_str(&m, "ok");
	wire_bool(&m, true);
	wire_str(&m, "lines");
	wire_array(&m, n);
	for (uint64_t s = first; s <= o->log_seq; s++) {
		struct log_line *l = &o->logs[s % LOG_RING];
		if (wf != NULL && strcmp(l->wf, wf) != 0) {
			continue;
		}
		wire_map(&m, 6);
		wire_str(&m, "seq");
		wire_u64(&m, l->seq);
		wire_str(&m, "ms");
		wire_u64(&m, l->ms);
		wire_str(&m, "node");
		wire_str(&m, l->node);
		wire_str(&m, "who");
		wire_str(&m, l->who);
		wire_str(&m, "level");
		wire_u64(&m, (uint64_t)l->level);
		wire_str(&m, "line");
		wire_str(&m, l->line);
	}
	wire_str(&m, "next");
	wire_u64(&m, o->log_seq);
	free(wf);
	send_wire(req, &m);
}

/* ------------------------------------------------------------------ */
/* requests from nodes                                                 */

static void
set_strs(char ***dst, size_t *n, wire_v v, bool keys)
{
	size_t k = wire_len(v);
	char **out = calloc(k + 1, sizeof *out);
	if (out == NULL) {
		return;
	}
	for (size_t i = 0; i < k; i++) {
		out[i] = wire_str_dup(keys
		        ? wire_key_at(v, i)
		        : (wire_is_map(v) ? wire_val_at(v, i) : wire_at(v, i)));
		if (out[i] == NULL) {
			out[i] = strdup("");
		}
	}
	free_strs(*dst, *n);
	*dst = out;
	*n = k;
}

/* Parts a returning node still runs that are now placed elsewhere. */
static size_t
fenced_parts(struct orc *o, struct onode *n, char ***out)
{
	size_t k = 0;
	*out = calloc(n->nrunning + 1, sizeof **out);
	for (size_t i = 0; *out && i < n->nrunning; i++) {
		const char *slash = strchr(n->running[i], '/');
		bool here = false;
		if (slash != NULL) {
			char wfn[256];
			snprintf(wfn, sizeof wfn, "%.*s",
			    (int)(slash - n->running[i]), n->running[i]);
			struct owf *w = find_wf(o, wfn);
			for (size_t p = 0; w && p < w->nparts; p++) {
				here |=
				    strcmp(part_name(w, p), slash + 1) == 0 &&
				    w->place[p].node &&
				    strcmp(w->place[p].node, n->name) == 0;
			}
		}
		if (!here) {
			(*out)[k++] = strdup(n->running[i]);
		}
	}
	return k;
}

static bool
runs_all(struct owf *w, struct onode *n)
{
	for (size_t i = 0; i < w->nparts; i++) {
		char full[512];
		if (!w->place[i].node ||
		    strcmp(w->place[i].node, n->name) != 0) {
			continue;
		}
		snprintf(full, sizeof full, "%s/%s", w->name, part_name(w, i));
		if (!part_is_fn(w, i)) {
			continue; /* resources are not reported */
		}
		if (!in_list(n->running, n->nrunning, full)) {
			return false;
		}
	}
	return in_list(w->deployed_on, w->ndeployed, n->name) ||
	    w->wf->nfunctions > 0;
}

static void
handle_join(struct orc *o, struct msg_req *req, wire_v root)
{
	char *name = wire_str_dup(wire_get(root, "name"));
	uint64_t inc = wire_as_u64(wire_get(root, "incarnation"), 0);
	struct onode *n;
	bool fresh = false, changed = false;
	char **fenced = NULL;
	size_t nfenced = 0;
	struct wire_w m;

	if (name == NULL || !wire_ok(wire_get(root, "url"))) {
		reply_err(req, "invalid", "join needs name and url");
		free(name);
		return;
	}
	if ((n = find_node(o, name)) == NULL) {
		if ((n = calloc(1, sizeof *n)) == NULL) {
			reply_err(req, "busy", "out of memory");
			free(name);
			return;
		}
		n->name = name;
		n->epoch = 1;
		n->next = o->nodes;
		o->nodes = n;
		fresh = true;
		rlog_write(o->log, RLOG_INFO, "orchestrator", "node %s joined",
		    n->name);
	} else {
		free(name);
	}
	set_strs(&n->running, &n->nrunning, wire_get(root, "running"), false);
	if (!fresh && n->health == H_LOST) {
		/* Back after being declared lost: a new epoch, and whatever it
		 * still runs that lives elsewhere now must stop. */
		n->epoch++;
		nfenced = fenced_parts(o, n, &fenced);
		changed = true;
		rlog_write(o->log, RLOG_INFO, "orchestrator",
		    "node %s is back (epoch %" PRIu64 "); %zu parts fenced",
		    n->name, n->epoch, nfenced);
	} else if (!fresh && n->incarnation != inc) {
		n->epoch++; /* its data folder is new */
		changed = true;
	}
	n->health = H_UP;
	n->incarnation = inc;
	n->last_seen = clock_mono_ms();
	free(n->url);
	n->url = wire_str_dup(wire_get(root, "url"));
	free(n->arch);
	n->arch = wire_str_dup(wire_get(root, "arch"));
	free(n->http);
	n->http = wire_str_dup(wire_get(root, "http"));
	n->cores = (int)wire_as_u64(wire_get(root, "cores"), 1);
	n->mem_mb = wire_as_u64(wire_get(root, "mem_mb"), 0);
	set_strs(&n->lk, &n->nlabels, wire_get(root, "labels"), true);
	{
		size_t nv = 0;
		char **vals = NULL;
		set_strs(&vals, &nv, wire_get(root, "labels"), false);
		free_strs(n->lv, n->nlabels);
		n->lv = vals;
	}
	set_strs(&n->res, &n->nres, wire_get(root, "resources"), false);
	node_client(o, n);
	if (fresh || changed) {
		save_node(o, n);
	}
	if (wire_w_init(&m) == 0) {
		wire_map(&m, 3);
		wire_str(&m, "ok");
		wire_bool(&m, true);
		wire_str(&m, "epoch");
		wire_u64(&m, n->epoch);
		wire_str(&m, "fenced");
		wire_array(&m, nfenced);
		for (size_t i = 0; i < nfenced; i++) {
			wire_str(&m, fenced[i]);
		}
		send_wire(req, &m);
	}
	free_strs(fenced, nfenced);
	if (fresh || changed) {
		/* New capacity: pending parts may fit now. */
		replace_all(o);
	}
	/* Make sure it runs what is placed on it (and nothing is restarted
	 * that still runs: a restarted orchestrator changes nothing). */
	for (struct owf *w = o->wfs; w != NULL; w = w->next) {
		bool mine = false;
		for (size_t i = 0; i < w->nparts; i++) {
			mine |= w->place[i].node &&
			    strcmp(w->place[i].node, n->name) == 0;
		}
		if (mine && (changed || !runs_all(w, n))) {
			deploy_wf(o, w, n->name, NULL, NULL);
		}
	}
}

static void
on_published(void *arg, const void *data, size_t len)
{
	struct orc *o = arg;
	struct wire_r r;
	wire_v root;
	struct onode *n;
	char *name;

	if (wire_parse(&r, data, len) != 0) {
		return;
	}
	root = wire_root(&r);
	name = wire_str_dup(wire_get(root, "name"));
	n = name ? find_node(o, name) : NULL;
	free(name);
	if (n == NULL) {
		wire_r_fini(&r);
		return;
	}
	if (wire_str_eq(wire_get(root, "t"), "hb")) {
		/* A lost node must join again before it counts as up. */
		if (n->health == H_UP &&
		    wire_as_u64(wire_get(root, "epoch"), 0) == n->epoch) {
			wire_v inst = wire_get(root, "instances");
			n->last_seen = clock_mono_ms();
			n->last_hb_wall = wire_as_u64(wire_get(root, "ms"), 0);
			n->store_bytes =
			    wire_as_u64(wire_get(root, "store_bytes"), 0);
			free_stats(n);
			n->stats = calloc(wire_len(inst) + 1, sizeof *n->stats);
			for (size_t i = 0; n->stats && i < wire_len(inst);
			     i++) {
				wire_v s = wire_at(inst, i);
				n->stats[i].part =
				    wire_str_dup(wire_get(s, "part"));
				if (n->stats[i].part == NULL) {
					n->stats[i].part = strdup("");
				}
				n->stats[i].events =
				    wire_as_u64(wire_get(s, "events"), 0);
				n->stats[i].errors =
				    wire_as_u64(wire_get(s, "errors"), 0);
				n->stats[i].emitted =
				    wire_as_u64(wire_get(s, "emitted"), 0);
				n->stats[i].mailbox =
				    wire_as_u64(wire_get(s, "mailbox"), 0);
				n->stats[i].state_bytes =
				    wire_as_u64(wire_get(s, "state_bytes"), 0);
				n->nstats = i + 1;
			}
		}
	} else if (wire_str_eq(wire_get(root, "t"), "log") && o->logs) {
		struct log_line *l = &o->logs[++o->log_seq % LOG_RING];
		free(l->node);
		free(l->wf);
		free(l->who);
		free(l->line);
		l->seq = o->log_seq;
		l->ms = wire_as_u64(wire_get(root, "ms"), 0);
		l->level = (int)wire_as_u64(wire_get(root, "level"), 2);
		l->node = strdup(n->name);
		l->wf = wire_str_dup(wire_get(root, "wf"));
		l->who = wire_str_dup(wire_get(root, "who"));
		l->line = wire_str_dup(wire_get(root, "line"));
		if (!l->wf) {
			l->wf = strdup("");
		}
	}
	wire_r_fini(&r);
}

/* ------------------------------------------------------------------ */
/* fn.move, node.drain, fn.reload                                      */

static ssize_t
fn_index(struct owf *w, const char *fn)
{
	for (size_t i = 0; fn && i < w->wf->nfunctions; i++) {
		if (strcmp(w->wf->functions[i].name, fn) == 0) {
			return (ssize_t)i;
		}
	}
	return -1;
}

static void
handle_fn_move(struct orc *o, struct msg_req *req, wire_v root)
{
	char *wfn = wire_str_dup(wire_get(root, "wf"));
	char *fn = wire_str_dup(wire_get(root, "fn"));
	char *to = wire_str_dup(wire_get(root, "node"));
	struct owf *w = wfn ? find_wf(o, wfn) : NULL;
	struct onode *n = to ? find_node(o, to) : NULL, *from;
	struct oplace *before;
	ssize_t i;
	char *why = NULL;

	if (w == NULL) {
		reply_err(req, "not-found", "no workflow '%s' in the domain",
		    wfn ? wfn : "");
	} else if ((i = fn_index(w, fn)) < 0) {
		reply_err(req, "not-found", "workflow %s has no function '%s'",
		    w->name, fn ? fn : "");
	} else if (n == NULL) {
		reply_err(req, "not-found", "no node '%s' in the domain",
		    to ? to : "");
	} else if (n->health != H_UP) {
		reply_err(req, "unreachable", "node %s is lost", n->name);
	} else if (w->busy) {
		reply_err(req, "busy",
		    "workflow %s is being moved already; try again", w->name);
	} else if (w->place[i].node && strcmp(w->place[i].node, to) == 0) {
		reply_err(
		    req, "exists", "%s/%s already runs on %s", w->name, fn, to);
	} else if (!fits(o, w, (size_t)i, n, &why)) {
		reply_err(req, "no-node", "cannot move to %s: %s", to,
		    why ? why : "it does not fit");
	} else if (w->place[i].node &&
	    ((from = find_node(o, w->place[i].node)) == NULL ||
	        from->health != H_UP)) {
		reply_err(req, "unreachable",
		    "%s/%s is on node %s, which is lost; it is placed again "
		    "by itself",
		    w->name, fn, w->place[i].node);
	} else if ((before = save_places(w)) == NULL) {
		reply_err(req, "busy", "out of memory");
	} else {
		struct oplace *p = &w->place[i];
		free(p->node);
		p->node = strdup(to);
		p->epoch = o->next_epoch++;
		/* Its new node keeps no replica of itself: place() picks
		 * the replicas again, keeping the rest. */
		place(o, w);
		rlog_write(o->log, RLOG_INFO, "orchestrator",
		    "moving %s/%s from %s to %s", w->name, fn,
		    before[i].node ? before[i].node : "(pending)", to);
		trans_start(o, w, before, req, NULL, NULL);
		free_places(before, w->nparts);
	}
	free(why);
	free(wfn);
	free(fn);
	free(to);
}

/* A drain: one transition per workflow; answered when all are over. */
struct drain {
	struct orc *o;
	struct msg_req *req;
	char *node;
	int pending;
	size_t nmoved;
	struct wire_w items; /* msgpack {part, from, to}, appended */
	char errors[2048];
	size_t nstay;
	struct wire_w stay;
};

static void
drain_reply(struct drain *dr)
{
	struct wire_w m;
	size_t ilen = 0, slen = 0;
	const void *items = wire_data(&dr->items, &ilen);
	const void *stay = wire_data(&dr->stay, &slen);
	if (wire_w_init(&m) == 0) {
		wire_map(&m, dr->errors[0] ? 4 : 3);
		wire_str(&m, "ok");
		wire_bool(&m, dr->errors[0] == '\0');
		if (dr->errors[0]) {
			wire_str(&m, "error");
			wire_str(&m, dr->errors);
		}
		wire_str(&m, "moved");
		wire_array(&m, dr->nmoved);
		wire_raw(&m, items, items ? ilen : 0);
		wire_str(&m, "stay");
		wire_array(&m, dr->nstay);
		wire_raw(&m, stay, stay ? slen : 0);
		send_wire(dr->req, &m);
	}
	rlog_write(dr->o->log, RLOG_INFO, "orchestrator",
	    "node %s drained: %zu parts moved, %zu stay", dr->node, dr->nmoved,
	    dr->nstay);
	wire_w_fini(&dr->items);
	wire_w_fini(&dr->stay);
	free(dr->node);
	free(dr);
}

static void
drain_wf_done(struct trans *t)
{
	struct drain *dr = t->user;
	if (t->err[0]) {
		size_t used = strlen(dr->errors);
		snprintf(dr->errors + used, sizeof dr->errors - used, "%s%s",
		    used ? "; " : "", t->err);
	} else {
		struct owf *w = find_wf(dr->o, t->wf);
		for (size_t i = 0; w != NULL && i < t->nmoves; i++) {
			char part[512];
			snprintf(part, sizeof part, "%s/%s", t->wf,
			    part_name(w, t->moves[i].part));
			wire_map(&dr->items, 3);
			wire_str(&dr->items, "part");
			wire_str(&dr->items, part);
			wire_str(&dr->items, "from");
			wire_str(&dr->items, t->moves[i].from);
			wire_str(&dr->items, "to");
			wire_str(&dr->items, t->moves[i].to);
			dr->nmoved++;
		}
	}
	if (--dr->pending == 0) {
		drain_reply(dr);
	}
}

static void
handle_node_drain(struct orc *o, struct msg_req *req, wire_v root)
{
	char *name = wire_str_dup(wire_get(root, "name"));
	struct onode *n = name ? find_node(o, name) : NULL;
	struct drain *dr;

	if (n == NULL) {
		reply_err(req, "not-found", "no node '%s' in the domain",
		    name ? name : "");
		free(name);
		return;
	}
	for (struct owf *w = o->wfs; w != NULL; w = w->next) {
		if (w->busy) {
			reply_err(req, "busy",
			    "workflow %s is being moved; try again", w->name);
			free(name);
			return;
		}
	}
	if ((dr = calloc(1, sizeof *dr)) == NULL ||
	    wire_w_init(&dr->items) != 0 || wire_w_init(&dr->stay) != 0) {
		free(dr);
		reply_err(req, "busy", "out of memory");
		free(name);
		return;
	}
	dr->o = o;
	dr->req = req;
	dr->node = name;
	dr->pending = 1;
	n->draining = true;
	rlog_write(
	    o->log, RLOG_INFO, "orchestrator", "draining node %s", n->name);
	for (struct owf *w = o->wfs; w != NULL; w = w->next) {
		struct oplace *before = save_places(w);
		if (before == NULL) {
			continue;
		}
		place(o, w);
		/* What fits nowhere else stays (and says why). */
		for (size_t i = 0; i < w->nparts; i++) {
			struct oplace *p = &w->place[i];
			if (p->node != NULL && before[i].node &&
			    strcmp(p->node, n->name) == 0 &&
			    strcmp(before[i].node, n->name) == 0) {
				char part[512];
				snprintf(part, sizeof part, "%s/%s", w->name,
				    part_name(w, i));
				wire_map(&dr->stay, 2);
				wire_str(&dr->stay, "part");
				wire_str(&dr->stay, part);
				wire_str(&dr->stay, "why");
				wire_str(&dr->stay,
				    p->why ? p->why : "no other node fits");
				dr->nstay++;
			}
		}
		if (places_differ(w, before)) {
			dr->pending++;
			trans_start(o, w, before, NULL, drain_wf_done, dr);
		}
		free_places(before, w->nparts);
	}
	if (--dr->pending == 0) {
		drain_reply(dr);
	}
}

struct reload_op {
	struct msg_req *req;
	char *node;
};

static void
on_reloaded(void *arg, int err, const void *data, size_t len)
{
	struct reload_op *r = arg;
	struct wire_r wr;
	bool ok = false;
	char *why = NULL;
	if (err == MSG_OK && wire_parse(&wr, data, len) == 0) {
		ok = wire_as_bool(wire_get(wire_root(&wr), "ok"), false);
		why = wire_str_dup(wire_get(wire_root(&wr), "error"));
		wire_r_fini(&wr);
	}
	if (!ok) {
		reply_err(r->req, "failed", "%s",
		    why ? why
		        : err == MSG_ETIMEDOUT
		        ? "the node did not answer in time"
		        : "the node cannot be reached");
	} else {
		struct wire_w m;
		if (wire_w_init(&m) == 0) {
			wire_map(&m, 2);
			wire_str(&m, "ok");
			wire_bool(&m, true);
			wire_str(&m, "nodes");
			wire_array(&m, 1);
			wire_str(&m, r->node);
			send_wire(r->req, &m);
		}
	}
	free(why);
	free(r->node);
	free(r);
}

static void
handle_fn_reload(struct orc *o, struct msg_req *req, wire_v root)
{
	char *wfn = wire_str_dup(wire_get(root, "wf"));
	char *fn = wire_str_dup(wire_get(root, "fn"));
	char *hash = wire_str_dup(wire_get(root, "hash"));
	struct owf *w = wfn ? find_wf(o, wfn) : NULL;
	ssize_t i = -1;
	char key[512];

	if (w == NULL) {
		reply_err(req, "not-found", "no workflow '%s' in the domain",
		    wfn ? wfn : "");
		goto out;
	}
	if ((i = fn_index(w, fn)) < 0) {
		reply_err(req, "not-found", "workflow %s has no function '%s'",
		    w->name, fn ? fn : "");
		goto out;
	}
	if (hash == NULL || !have_code(o, hash)) {
		reply_err(req, "need-code",
		    "the orchestrator needs the code "
		    "first (code.put)");
		goto out;
	}
	/* The function's own code from now on (also for later deploys). */
	snprintf(key, sizeof key, "@fn:%s", fn);
	size_t k;
	for (k = 0; k < w->ncode && strcmp(w->ck[k], key) != 0; k++) { }
	if (k == w->ncode) {
		char **ck = realloc(w->ck, (w->ncode + 2) * sizeof *ck);
		char **cv =
		    ck ? realloc(w->cv, (w->ncode + 2) * sizeof *cv) : NULL;
		if (ck) {
			w->ck = ck;
		}
		if (cv == NULL) {
			reply_err(req, "busy", "out of memory");
			goto out;
		}
		w->cv = cv;
		w->ck[k] = strdup(key);
		w->cv[k] = NULL;
		w->ncode++;
	}
	free(w->cv[k]);
	w->cv[k] = strdup(hash);
	save_wf(o, w);
	struct onode *n =
	    w->place[i].node ? find_node(o, w->place[i].node) : NULL;
	if (n == NULL || n->health != H_UP || node_client(o, n) != 0) {
		/* It gets the new code when it is placed. */
		struct wire_w m;
		if (wire_w_init(&m) == 0) {
			wire_map(&m, 2);
			wire_str(&m, "ok");
			wire_bool(&m, true);
			wire_str(&m, "nodes");
			wire_array(&m, 0);
			send_wire(req, &m);
		}
		goto out;
	}
	struct reload_op *r = calloc(1, sizeof *r);
	struct wire_w m;
	if (r == NULL || wire_w_init(&m) != 0) {
		free(r);
		reply_err(req, "busy", "out of memory");
		goto out;
	}
	r->req = req;
	r->node = strdup(n->name);
	wire_map(&m, 4);
	wire_str(&m, "t");
	wire_str(&m, "reload");
	wire_str(&m, "wf");
	wire_str(&m, w->name);
	wire_str(&m, "fn");
	wire_str(&m, fn);
	wire_str(&m, "hash");
	wire_str(&m, hash);
	size_t len;
	const void *data = wire_data(&m, &len);
	msg_call(
	    n->client, data, data ? len : 0, DEPLOY_TIMEOUT_MS, on_reloaded, r);
	wire_w_fini(&m);
	rlog_write(o->log, RLOG_INFO, "orchestrator",
	    "reloading %s/%s with code %.12s on %s", w->name, fn, hash,
	    n->name);
out:
	free(wfn);
	free(fn);
	free(hash);
}

/* ------------------------------------------------------------------ */
/* failure detection                                                   */

/* Tell every node that is up to refuse what `lost` sends until it has
 * joined again (with a newer epoch). */
static void
fence_node(struct orc *o, struct onode *lost)
{
	struct wire_w m;
	const void *data;
	size_t len;
	if (wire_w_init(&m) != 0) {
		return;
	}
	wire_map(&m, 3);
	wire_str(&m, "t");
	wire_str(&m, "fence.node");
	wire_str(&m, "node");
	wire_str(&m, lost->name);
	wire_str(&m, "min_epoch");
	wire_u64(&m, lost->epoch + 1);
	if ((data = wire_data(&m, &len)) != NULL) {
		for (struct onode *n = o->nodes; n != NULL; n = n->next) {
			if (n != lost && n->health == H_UP &&
			    node_client(o, n) == 0) {
				msg_call(n->client, data, len,
				    DEPLOY_TIMEOUT_MS, NULL, NULL);
			}
		}
	}
	wire_w_fini(&m);
}

static void
on_tick(void *arg)
{
	struct orc *o = arg;
	uint64_t now = clock_mono_ms();
	bool lost = false;
	loop_timer_start(o->tick, TICK_MS);
	for (struct onode *n = o->nodes; n != NULL; n = n->next) {
		if (n->health == H_UP && n->last_seen != 0 &&
		    now - n->last_seen > o->node_timeout_ms) {
			n->health = H_LOST;
			lost = true;
			free_stats(n);
			rlog_write(o->log, RLOG_WARN, "orchestrator",
			    "node %s lost: no heartbeat for %" PRIu64 " ms; "
			    "placing its parts elsewhere",
			    n->name, now - n->last_seen);
			fence_node(o, n);
		}
	}
	if (!lost && o->replace_wanted) {
		bool busy = false;
		for (struct owf *w = o->wfs; w != NULL; w = w->next) {
			busy |= w->busy;
		}
		if (!busy) {
			o->replace_wanted = false;
			lost = true;
		}
	}
	if (lost) {
		replace_all(o);
	}
}

/* ------------------------------------------------------------------ */
/* dispatch, start, stop                                               */

static void
on_request(void *arg, struct msg_req *req)
{
	struct orc *o = arg;
	struct wire_r r;
	size_t len;
	const void *data = msg_req_data(req, &len);
	wire_v root, t;

	if (wire_parse(&r, data, len) != 0) {
		reply_err(req, "invalid", "malformed message");
		return;
	}
	root = wire_root(&r);
	t = wire_get(root, "t");
	if (wire_str_eq(t, "join")) {
		handle_join(o, req, root);
	} else if (wire_str_eq(t, "code.get")) {
		handle_code_get(o, req, root);
	} else if (wire_str_eq(t, "code.put")) {
		handle_code_put(o, req, root);
	} else if (wire_str_eq(t, "wf.start")) {
		handle_wf_start(o, req, root);
	} else if (wire_str_eq(t, "wf.stop")) {
		handle_wf_stop(o, req, root);
	} else if (wire_str_eq(t, "wf.list")) {
		handle_wf_list(o, req);
	} else if (wire_str_eq(t, "wf.show")) {
		handle_wf_show(o, req, root);
	} else if (wire_str_eq(t, "node.list")) {
		handle_node_list(o, req);
	} else if (wire_str_eq(t, "invoke")) {
		handle_relay(o, req, root, "target");
	} else if (wire_str_eq(t, "state.get")) {
		handle_relay(o, req, root, "fn");
	} else if (wire_str_eq(t, "logs")) {
		handle_logs(o, req, root);
	} else if (wire_str_eq(t, "fn.move")) {
		handle_fn_move(o, req, root);
	} else if (wire_str_eq(t, "node.drain")) {
		handle_node_drain(o, req, root);
	} else if (wire_str_eq(t, "fn.reload")) {
		handle_fn_reload(o, req, root);
	} else {
		reply_err(req, "invalid", "unknown request type");
	}
	wire_r_fini(&r);
}

static int
load_node(void *arg, ledge_bytes key, ledge_bytes val)
{
	struct orc *o = arg;
	struct wire_r r;
	struct onode *n = calloc(1, sizeof *n);
	if (n == NULL || wire_parse(&r, val.data, val.len) != 0) {
		free(n);
		return 0;
	}
	wire_v root = wire_root(&r);
	n->name = strndup(key.data, key.len);
	n->url = wire_str_dup(wire_get(root, "url"));
	n->arch = wire_str_dup(wire_get(root, "arch"));
	n->http = wire_str_dup(wire_get(root, "http"));
	n->cores = (int)wire_as_u64(wire_get(root, "cores"), 1);
	n->mem_mb = wire_as_u64(wire_get(root, "mem_mb"), 0);
	n->incarnation = wire_as_u64(wire_get(root, "incarnation"), 0);
	n->epoch = wire_as_u64(wire_get(root, "epoch"), 1);
	set_strs(&n->lk, &n->nlabels, wire_get(root, "labels"), true);
	size_t nv = 0;
	set_strs(&n->lv, &nv, wire_get(root, "labels"), false);
	set_strs(&n->res, &n->nres, wire_get(root, "resources"), false);
	/* Up until its heartbeats say otherwise: give it a full timeout
	 * from now to be heard from. */
	n->health = H_UP;
	n->last_seen = clock_mono_ms();
	n->next = o->nodes;
	o->nodes = n;
	wire_r_fini(&r);
	return 0;
}

static int
load_wf(void *arg, ledge_bytes key, ledge_bytes val)
{
	struct orc *o = arg;
	struct wire_r r;
	const char *yaml;
	size_t ylen;
	struct diag d;
	struct owf *w;
	char name[256];

	if (key.len >= sizeof name || wire_parse(&r, val.data, val.len) != 0) {
		return 0;
	}
	memcpy(name, key.data, key.len);
	name[key.len] = '\0';
	wire_v root = wire_root(&r);
	char *file = wire_str_dup(wire_get(root, "file"));
	diag_init(&d);
	if (file && wire_as_str(wire_get(root, "yaml"), &yaml, &ylen) &&
	    (w = make_owf(
	         name, file, yaml, ylen, wire_get(root, "code"), &d)) != NULL) {
		w->next = o->wfs;
		o->wfs = w;
	} else {
		rlog_write(o->log, RLOG_ERROR, "orchestrator",
		    "workflow %s in the store cannot be read again", name);
	}
	diag_fini(&d);
	free(file);
	wire_r_fini(&r);
	return 0;
}

static int
load_place(void *arg, ledge_bytes key, ledge_bytes val)
{
	struct orc *o = arg;
	struct wire_r r;
	char full[512];
	char *slash;
	struct owf *w;

	if (key.len >= sizeof full || wire_parse(&r, val.data, val.len) != 0) {
		return 0;
	}
	memcpy(full, key.data, key.len);
	full[key.len] = '\0';
	if ((slash = strchr(full, '/')) != NULL) {
		*slash = '\0';
		w = find_wf(o, full);
		for (size_t i = 0; w && i < w->nparts; i++) {
			if (strcmp(part_name(w, i), slash + 1) == 0) {
				struct oplace *p = &w->place[i];
				wire_v root = wire_root(&r);
				p->node = wire_str_dup(wire_get(root, "node"));
				p->epoch =
				    wire_as_u64(wire_get(root, "epoch"), 0);
				set_strs(&p->rep, &p->nrep,
				    wire_get(root, "replicas"), false);
				if (p->node) {
					size_t k = w->ndeployed;
					if (!in_list(
					        w->deployed_on, k, p->node)) {
						char **g =
						    realloc(w->deployed_on,
						        (k + 2) * sizeof *g);
						if (g) {
							g[k] = strdup(p->node);
							w->deployed_on = g;
							w->ndeployed = k + 1;
						}
					}
				}
			}
		}
	}
	wire_r_fini(&r);
	return 0;
}

int
orc_start(struct orc **op, struct loop *l, struct store *store,
    struct rlog *log, const struct orc_opts *opts, char *err, size_t errlen)
{
	struct orc *o = calloc(1, sizeof *o);
	char puburl[1024];

	if (o == NULL ||
	    (o->logs = calloc(LOG_RING, sizeof *o->logs)) == NULL) {
		free(o);
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	o->loop = l;
	o->store = store;
	o->log = log;
	o->tls = opts->tls;
	o->node_timeout_ms =
	    opts->node_timeout_ms ? opts->node_timeout_ms : NODE_TIMEOUT_MS;
	o->next_epoch = store_meta_get_u64(store, "next_epoch");
	if (o->next_epoch == 0) {
		o->next_epoch = 1;
	}
	store_scan(store, STORE_ORC_NODE, load_node, o);
	store_scan(store, STORE_ORC_WF, load_wf, o);
	store_scan(store, STORE_ORC_PLACE, load_place, o);
	for (struct onode *n = o->nodes; n != NULL; n = n->next) {
		node_client(o, n);
	}
	if (msg_pub_url(opts->listen, puburl, sizeof puburl) != 0) {
		snprintf(err, errlen,
		    "cannot derive the heartbeat address of %s (use tcp://, "
		    "tls+tcp://, ipc:// or inproc://)",
		    opts->listen);
		orc_free(o);
		return -1;
	}
	if (msg_server_new(l, opts->listen, opts->tls, on_request, o,
	        &o->server, err, errlen) != 0 ||
	    msg_sub_new(l, puburl, opts->tls, on_published, o, &o->sub, err,
	        errlen) != 0 ||
	    (o->tick = loop_timer_new(l, on_tick, o)) == NULL) {
		orc_free(o);
		return -1;
	}
	loop_timer_start(o->tick, TICK_MS);
	size_t nwf = 0, nnodes = 0;
	for (struct owf *w = o->wfs; w; w = w->next) {
		nwf++;
	}
	for (struct onode *n = o->nodes; n; n = n->next) {
		nnodes++;
	}
	rlog_write(log, RLOG_INFO, "orchestrator",
	    "listening on %s (heartbeats on %s); %zu workflows and %zu nodes "
	    "from the store; node timeout %u ms",
	    opts->listen, puburl, nwf, nnodes, o->node_timeout_ms);
	*op = o;
	return 0;
}

void
orc_free(struct orc *o)
{
	if (o == NULL) {
		return;
	}
	loop_timer_free(o->tick);
	msg_server_free(o->server);
	msg_sub_free(o->sub);
	while (o->nodes != NULL) {
		struct onode *n = o->nodes;
		o->nodes = n->next;
		free_onode(n);
	}
	while (o->wfs != NULL) {
		struct owf *w = o->wfs;
		o->wfs = w->next;
		free_owf(w);
	}
	for (size_t i = 0; o->logs && i < LOG_RING; i++) {
		free(o->logs[i].node);
		free(o->logs[i].wf);
		free(o->logs[i].who);
		free(o->logs[i].line);
	}
	free(o->logs);
	free(o);
}

int
orc_metrics(struct orc *o, char **out, size_t *len)
{
	FILE *fp = open_memstream(out, len);
	uint64_t now = clock_mono_ms();
	if (fp == NULL) {
		return LEDGE_ENOMEM;
	}
	fprintf(fp,
	    "# HELP ledge_node_up 1 if the node is up, 0 if lost.\n"
	    "# TYPE ledge_node_up gauge\n");
	for (struct onode *n = o->nodes; n; n = n->next) {
		fprintf(fp, "ledge_node_up{node=\"%s\"} %d\n", n->name,
		    n->health == H_UP);
	}
	fprintf(fp,
	    "# HELP ledge_node_heartbeat_age_seconds Time since the "
	    "node was last heard from.\n"
	    "# TYPE ledge_node_heartbeat_age_seconds gauge\n");
	for (struct onode *n = o->nodes; n; n = n->next) {
		fprintf(fp,
		    "ledge_node_heartbeat_age_seconds{node=\"%s\"} %.3f\n",
		    n->name,
		    n->last_seen ? (double)(now - n->last_seen) / 1e3 : -1);
	}
	fprintf(fp,
	    "# HELP ledge_parts Parts of workflows by state.\n"
	    "# TYPE ledge_parts gauge\n");
	size_t placed = 0, pending = 0;
	for (struct owf *w = o->wfs; w; w = w->next) {
		for (size_t i = 0; i < w->nparts; i++) {
			placed += w->place[i].node != NULL;
			pending += w->place[i].node == NULL;
		}
	}
	fprintf(fp, "ledge_parts{state=\"placed\"} %zu\n", placed);
	fprintf(fp, "ledge_parts{state=\"pending\"} %zu\n", pending);
	return fclose(fp) == 0 ? LEDGE_OK : LEDGE_ENOMEM;
}
