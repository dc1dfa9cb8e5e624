/*
 * orc_api_fn.c - the requests on the functions of a workflow: invoke and
 * state.get (relayed to the node that runs the part), fn.reload, fn.move
 * (docs/protocol.md; orc_api.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ledge.h>

#include "base/keylist.h"
#include "base/rlog.h"
#include "net/msg.h"
#include "net/msg_token.h"
#include "net/reply.h"
#include "net/wire.h"
#include "orc/orc_api.h"
#include "orc/orc_deploy.h"
#include "orc/orc_fanout.h"
#include "orc/orc_model.h"
#include "orc/orc_move.h"
#include "orc/orc_store.h"
#include "workflow/workflow.h"

/*
 * invoke and state.get go to the node that runs the part.  A relay waits
 * in o->relays for its node's answer; when that node is declared lost
 * it is answered at once (orc_api_fn_node_lost), and the node's late
 * answer, if any, is dropped.
 */
struct orc_relay {
	struct orc_relay *next, *prev;
	struct orc *o;       /* NULL once o is gone (orc_api_fn_fini) */
	struct msg_req *req; /* NULL once answered */
	char wf[128], part[128], node[128];
};

static void
relay_unlink(struct orc_relay *rl)
{
	if (rl->o == NULL) {
		return;
	}
	if (rl->prev != NULL) {
		rl->prev->next = rl->next;
	} else {
		rl->o->relays = rl->next;
	}
	if (rl->next != NULL) {
		rl->next->prev = rl->prev;
	}
	rl->o = NULL;
}

static void
on_relayed(void *arg, int err, const void *data, size_t len)
{
	struct orc_relay *rl = arg;
	relay_unlink(rl);
	if (rl->req == NULL) {
		/* answered already: its node was declared lost */
	} else if (err != MSG_OK) {
		reply_err(rl->req, REPLY_UNREACHABLE,
		    "node %s, which runs %s/%s, did not answer (%s)", rl->node,
		    rl->wf, rl->part,
		    err == MSG_ETIMEDOUT ? "timed out" : "connection failed");
	} else {
		msg_reply(rl->req, data, len);
	}
	free(rl);
}

/* Relay req as it is to node n (which runs wn/pn) and answer with its
 * answer (orc_api_fn_node_lost answers for a node declared lost). */
static void
relay_to(struct orc *o, struct msg_req *req, struct onode *n, const char *wn,
    const char *pn)
{
	struct orc_relay *rl = calloc(1, sizeof *rl);
	size_t len;
	const void *data = msg_req_data(req, &len);

	if (rl == NULL) {
		reply_err(req, REPLY_BUSY,
		    "cannot relay to node %s, which runs %s/%s (out of memory)",
		    n->name, wn, pn);
		return;
	}
	rl->o = o;
	rl->req = req;
	snprintf(rl->wf, sizeof rl->wf, "%s", wn);
	snprintf(rl->part, sizeof rl->part, "%s", pn);
	snprintf(rl->node, sizeof rl->node, "%s", n->name);
	if ((rl->next = o->relays) != NULL) {
		rl->next->prev = rl;
	}
	o->relays = rl;
	msg_call(n->client, data, len, 30000, on_relayed, rl);
}

/* The node that runs part `pl` (pn, of workflow wn) and answers for it
 * now, or NULL after replying why not. */
static struct onode *
relay_node(struct orc *o, struct msg_req *req, struct oplace *pl,
    const char *wn, const char *pn)
{
	struct onode *n = pl->node != NULL ? orc_find_node(o, pl->node) : NULL;

	if (pl->node == NULL || n == NULL) {
		reply_err(req, REPLY_NOT_FOUND,
		    "%s/%s is not running anywhere: it is pending (%s)", wn, pn,
		    pl->why ? pl->why : "no node fits");
	} else if (pl->moving) {
		/* Its new node may not run it yet. */
		reply_err(req, REPLY_BUSY,
		    "%s/%s is being moved to node %s; try again in a moment",
		    wn, pn, n->name);
	} else if (n->health == H_LOST) {
		reply_err(req, REPLY_UNAVAILABLE,
		    "%s/%s is unavailable: its node %s was declared lost (no "
		    "heartbeat for %.1f s); it runs again once placed on "
		    "another node or its node is back",
		    wn, pn, n->name, o->node_timeout_ms / 1000.0);
	} else if (pl->deploy_sent > pl->deploy_done &&
	    (pl->confirmed_on == NULL ||
	        strcmp(pl->confirmed_on, n->name) != 0)) {
		reply_err(req, REPLY_NOT_DEPLOYED,
		    "%s/%s is not deployed yet: it is placed on node %s, which "
		    "has not confirmed its deploy; try again in a moment",
		    wn, pn, n->name);
	} else if (orc_node_client(o, n) != LEDGE_OK) {
		reply_err(req, REPLY_BUSY,
		    "cannot relay to node %s, which runs %s/%s (out of memory)",
		    n->name, wn, pn);
	} else {
		return n;
	}
	return NULL;
}

/* ---- state.keys of a keyed function whose slots are on many nodes -- */

struct keys_fan {
	struct msg_req *req;
	size_t limit;
};

static void
on_keys(void *arg, const struct orc_fan_ans *ans, size_t n)
{
	struct keys_fan *kf = arg;
	struct keylist kl = { 0 };
	struct wire_w m;

	for (size_t i = 0; i < n; i++) {
		struct wire_r r;
		wire_v root, keys;
		if (ans[i].err != MSG_OK ||
		    wire_parse(&r, ans[i].data, ans[i].len) != 0) {
			reply_err(kf->req, REPLY_UNREACHABLE,
			    "node %s, which runs slots of this function, did "
			    "not answer (%s)",
			    ans[i].node,
			    ans[i].err == MSG_ETIMEDOUT ? "timed out"
			                                : "connection failed");
			goto out;
		}
		root = wire_root(&r);
		if (!wire_as_bool(wire_get(root, "ok"), false)) {
			/* Its own error, as it gave it. */
			msg_reply(kf->req, ans[i].data, ans[i].len);
			wire_r_fini(&r);
			goto out;
		}
		keys = wire_get(root, "keys");
		for (size_t k = 0; k < wire_len(keys); k++) {
			const void *p;
			size_t len;
			if (wire_as_bin(wire_at(keys, k), &p, &len)) {
				keylist_add(&kl, p, len);
			}
		}
		kl.more |= wire_as_bool(wire_get(root, "more"), false);
		wire_r_fini(&r);
	}
	keylist_sort(&kl);
	if (kl.oom || wire_w_init(&m) != 0) {
		reply_err(kf->req, REPLY_BUSY, "out of memory");
		goto out;
	}
	size_t page = kl.n < kf->limit ? kl.n : kf->limit;
	wire_map(&m, 3);
	wire_str(&m, "ok");
	wire_bool(&m, true);
	wire_str(&m, "more");
	wire_bool(&m, kl.more || kl.n > kf->limit);
	wire_str(&m, "keys");
	wire_array(&m, page);
	for (size_t i = 0; i < page; i++) {
		wire_bin(&m, kl.v[i].p, kl.v[i].len);
	}
	reply_wire(kf->req, &m);
out:
	keylist_fini(&kl);
	free(kf);
}

/*
 * A request about keyed function `fn`, split into ns slots from part
 * `first` on: to the node of the key's slot (invoke: `key`, state.get:
 * `inst`); without a key, to slot 0's (which says a key is needed);
 * state.keys to every node that runs some of its slots, answers merged.
 */
static void
relay_slots(struct orc *o, struct msg_req *req, wire_v root, struct owf *w,
    size_t first, size_t ns, const char *wn, const char *fn)
{
	const void *key = NULL, *data;
	size_t klen = 0, len, nn = 0;
	struct onode **nodes = NULL;
	struct keys_fan *kf = NULL;
	const char *t = NULL;
	size_t tlen = 0;

	wire_as_str(wire_get(root, "t"), &t, &tlen);
	bool keys = t != NULL && tlen == 10 && memcmp(t, "state.keys", 10) == 0;
	if (!keys) {
		if (!wire_as_bin(wire_get(root, "key"), &key, &klen)) {
			wire_as_bin(wire_get(root, "inst"), &key, &klen);
		}
		size_t i = first +
		    (key != NULL ? wf_key_slot(key, klen, (uint32_t)ns) : 0);
		struct oplace *pl = &w->place[i];
		struct onode *n =
		    relay_node(o, req, pl, wn, orc_part_name(w, i));
		if (n != NULL) {
			relay_to(o, req, n, wn, orc_part_name(w, i));
		}
		return;
	}
	if ((nodes = calloc(ns, sizeof *nodes)) == NULL ||
	    (kf = calloc(1, sizeof *kf)) == NULL) {
		reply_err(req, REPLY_BUSY, "out of memory");
		goto out;
	}
	for (size_t i = first; i < first + ns; i++) {
		struct onode *n =
		    relay_node(o, req, &w->place[i], wn, orc_part_name(w, i));
		size_t k;
		if (n == NULL) {
			goto out; /* answered: a slot cannot be listed now */
		}
		for (k = 0; k < nn && nodes[k] != n; k++) { }
		if (k == nn) {
			nodes[nn++] = n;
		}
	}
	if (nn == 1) {
		relay_to(o, req, nodes[0], wn, fn);
		goto out;
	}
	kf->req = req;
	kf->limit = (size_t)wire_as_u64(wire_get(root, "limit"), 100);
	data = msg_req_data(req, &len);
	if (orc_fanout(nodes, nn, data, len, 30000, on_keys, kf) != LEDGE_OK) {
		reply_err(req, REPLY_BUSY, "out of memory");
		goto out;
	}
	kf = NULL; /* on_keys frees it */
out:
	free(kf);
	free(nodes);
}

static void
relay(struct orc *o, struct msg_req *req, wire_v root, const char *part_key)
{
	char *wfn = wire_str_dup(wire_get(root, "wf"));
	char *part = wire_str_dup(wire_get(root, part_key));
	struct owf *w = wfn ? orc_find_wf(o, wfn) : NULL;
	struct oplace *pl = NULL;
	struct onode *n;
	const char *wn = wfn ? wfn : "?", *pn = part ? part : "?";
	const struct wf_function *slots = NULL;
	size_t ns = 0;

	for (size_t i = 0; w && part && i < w->nparts; i++) {
		if (strcmp(orc_part_name(w, i), part) == 0) {
			pl = &w->place[i];
		}
	}
	if (w != NULL && part != NULL && pl == NULL) {
		slots = wf_find_slots(w->wf, part, &ns);
	}
	if (w == NULL) {
		reply_err(req, REPLY_NOT_FOUND,
		    "%s/%s is not running anywhere: no workflow '%s' in this "
		    "domain",
		    wn, pn, wn);
	} else if (slots != NULL) {
		relay_slots(o, req, root, w, (size_t)(slots - w->wf->functions),
		    ns, wn, pn);
	} else if (pl == NULL) {
		reply_err(req, REPLY_NOT_FOUND,
		    "%s/%s is not running anywhere: workflow %s has no part "
		    "'%s'",
		    wn, pn, wn, pn);
	} else if ((n = relay_node(o, req, pl, wn, pn)) != NULL) {
		relay_to(o, req, n, wn, pn);
	}
	free(wfn);
	free(part);
}

void
orc_api_fn_node_lost(struct orc *o)
{
	for (struct orc_relay *rl = o->relays; rl != NULL; rl = rl->next) {
		struct onode *n = orc_find_node(o, rl->node);
		if (rl->req != NULL && n != NULL && n->health == H_LOST) {
			/* A call is not durable and may have run there: it is
			 * failed, never sent elsewhere. */
			reply_err(rl->req, REPLY_UNAVAILABLE,
			    "%s/%s is unavailable: its node %s was declared "
			    "lost while the request waited for it (it may or "
			    "may not have run there)",
			    rl->wf, rl->part, rl->node);
			rl->req = NULL;
		}
	}
}

void
orc_api_fn_fini(struct orc *o)
{
	while (o->relays != NULL) {
		relay_unlink(o->relays);
	}
}

/* ------------------------------------------------------------------ */
/* fn.reload                                                           */

struct reload_op {
	struct orc *o;
	struct msg_req *req;
	char *node, *wf, *fn, *hash;
};

/* From now on (also for later deploys) function fn of w runs `hash`. */
static int
set_fn_code(struct orc *o, struct owf *w, const char *fn, const char *hash)
{
	char key[512];
	size_t k;
	snprintf(key, sizeof key, "@fn:%s", fn);
	for (k = 0; k < w->ncode && strcmp(w->ck[k], key) != 0; k++) { }
	if (k == w->ncode) {
		char **ck = realloc(w->ck, (w->ncode + 2) * sizeof *ck);
		char **cv;
		if (ck == NULL) {
			return LEDGE_ENOMEM;
		}
		w->ck = ck;
		if ((cv = realloc(w->cv, (w->ncode + 2) * sizeof *cv)) ==
		    NULL) {
			return LEDGE_ENOMEM;
		}
		w->cv = cv;
		if ((w->ck[k] = strdup(key)) == NULL) {
			return LEDGE_ENOMEM;
		}
		w->cv[k] = NULL;
		w->ncode++;
	}
	free(w->cv[k]);
	w->cv[k] = strdup(hash);
	orc_store_save_wf(o, w);
	return w->cv[k] ? LEDGE_OK : LEDGE_ENOMEM;
}

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
		reply_err(r->req, REPLY_FAILED, "%s",
		    why ? why
		        : err == MSG_ETIMEDOUT
		        ? "the node did not answer in time"
		        : "the node cannot be reached");
	} else {
		/* The node took the code: it is the function's from now on
		 * (a code the node refused is not remembered). */
		struct owf *w = orc_find_wf(r->o, r->wf);
		struct wire_w m;
		if (w != NULL) {
			set_fn_code(r->o, w, r->fn, r->hash);
		}
		if (wire_w_init(&m) == 0) {
			wire_map(&m, 2);
			wire_str(&m, "ok");
			wire_bool(&m, true);
			wire_str(&m, "nodes");
			wire_array(&m, 1);
			wire_str(&m, r->node);
			reply_wire(r->req, &m);
		}
	}
	free(why);
	free(r->node);
	free(r->wf);
	free(r->fn);
	free(r->hash);
	free(r);
}

/* The reload message for wf/fn, into m (LEDGE_OK or LEDGE_ENOMEM). */
static int
reload_message(
    struct wire_w *m, const char *wf, const char *fn, const char *hash)
{
	if (wire_w_init(m) != 0) {
		return LEDGE_ENOMEM;
	}
	wire_map(m, 4);
	wire_str(m, "t");
	wire_str(m, "reload");
	wire_str(m, "wf");
	wire_str(m, wf);
	wire_str(m, "fn");
	wire_str(m, fn);
	wire_str(m, "hash");
	wire_str(m, hash);
	return LEDGE_OK;
}

/* Reloads of a keyed function's slots on several nodes. */
static void
on_slots_reloaded(void *arg, const struct orc_fan_ans *ans, size_t n)
{
	struct reload_op *r = arg;
	struct wire_w m;

	for (size_t i = 0; i < n; i++) {
		struct wire_r wr;
		bool ok = false;
		char *why = NULL;
		if (ans[i].err == MSG_OK &&
		    wire_parse(&wr, ans[i].data, ans[i].len) == 0) {
			ok =
			    wire_as_bool(wire_get(wire_root(&wr), "ok"), false);
			why = wire_str_dup(wire_get(wire_root(&wr), "error"));
			wire_r_fini(&wr);
		}
		if (!ok) {
			/* The nodes before it run the new code already;
			 * it is not remembered for later deploys. */
			reply_err(r->req, REPLY_FAILED, "%s%s%s",
			    why ? why : "node ", why ? "" : ans[i].node,
			    why ? ""
			        : (ans[i].err == MSG_ETIMEDOUT
			                  ? " did not answer in time"
			                  : " cannot be reached"));
			free(why);
			goto out;
		}
		free(why);
	}
	struct owf *w = orc_find_wf(r->o, r->wf);
	if (w != NULL) {
		set_fn_code(r->o, w, r->fn, r->hash);
	}
	if (wire_w_init(&m) == 0) {
		wire_map(&m, 2);
		wire_str(&m, "ok");
		wire_bool(&m, true);
		wire_str(&m, "nodes");
		wire_array(&m, n);
		for (size_t i = 0; i < n; i++) {
			wire_str(&m, ans[i].node);
		}
		reply_wire(r->req, &m);
	}
out:
	free(r->wf);
	free(r->fn);
	free(r->hash);
	free(r);
}

/* fn.reload of a keyed function split into slots from part `first` on:
 * every node that runs some of them reloads those. */
static void
reload_slots(struct orc *o, struct msg_req *req, struct owf *w, size_t first,
    const char *fn, const char *hash)
{
	size_t ns = w->wf->functions[first].nslots, nn = 0;
	struct onode **nodes = calloc(ns, sizeof *nodes);
	struct reload_op *r = calloc(1, sizeof *r);
	struct wire_w m = { 0 };
	bool msg = false;

	for (size_t i = first; nodes != NULL && i < first + ns; i++) {
		struct onode *n = w->place[i].node
		    ? orc_find_node(o, w->place[i].node)
		    : NULL;
		size_t k;
		if (n == NULL || n->health != H_UP ||
		    orc_node_client(o, n) != LEDGE_OK) {
			continue; /* it gets the code when it is placed */
		}
		for (k = 0; k < nn && nodes[k] != n; k++) { }
		if (k == nn) {
			nodes[nn++] = n;
		}
	}
	if (nodes == NULL || r == NULL ||
	    (nn > 0 &&
	        (msg = reload_message(&m, w->name, fn, hash) == LEDGE_OK) ==
	            false)) {
		reply_err(req, REPLY_BUSY, "out of memory");
		goto fail;
	}
	r->o = o;
	r->req = req;
	r->wf = strdup(w->name);
	r->fn = strdup(fn);
	r->hash = strdup(hash);
	if (nn == 0) {
		/* Runs nowhere now: the code is its own from its next
		 * placement. */
		struct orc_fan_ans none;
		on_slots_reloaded(r, &none, 0);
		free(nodes);
		return;
	}
	size_t len;
	const void *data = wire_data(&m, &len);
	if (orc_fanout(nodes, nn, data, data ? len : 0, ORC_DEPLOY_TIMEOUT_MS,
	        on_slots_reloaded, r) != LEDGE_OK) {
		reply_err(req, REPLY_BUSY, "out of memory");
		free(r->wf);
		free(r->fn);
		free(r->hash);
		goto fail;
	}
	rlog_write(o->log, RLOG_INFO, "orchestrator",
	    "reloading %s/%s (%zu slots) with code %.12s on %zu nodes", w->name,
	    fn, ns, hash, nn);
	wire_w_fini(&m);
	free(nodes);
	return;
fail:
	if (msg) {
		wire_w_fini(&m);
	}
	free(r);
	free(nodes);
}

static void
fn_reload(void *ctx, struct msg_req *req, wire_v root)
{
	struct orc *o = ctx;
	char *wfn = wire_str_dup(wire_get(root, "wf"));
	char *fn = wire_str_dup(wire_get(root, "fn"));
	char *hash = wire_str_dup(wire_get(root, "hash"));
	struct owf *w = wfn ? orc_find_wf(o, wfn) : NULL;
	ssize_t i = -1;

	if (w == NULL) {
		reply_err(req, REPLY_NOT_FOUND,
		    "no workflow '%s' in the domain", wfn ? wfn : "");
		goto out;
	}
	if ((i = orc_fn_index(w, fn)) < 0) {
		reply_err(req, REPLY_NOT_FOUND,
		    "workflow %s has no function '%s'", w->name, fn ? fn : "");
		goto out;
	}
	if (hash == NULL || !orc_store_has_code(o, hash)) {
		reply_err(req, REPLY_NEED_CODE,
		    "the orchestrator needs the code "
		    "first (code.put)");
		goto out;
	}
	{
		const char *sig = NULL;
		size_t siglen = 0;
		char why[256];
		(void)wire_as_str(wire_get(root, "sig"), &sig, &siglen);
		if (orc_code_check_one(o, hash, sig, siglen, why, sizeof why) !=
		    LEDGE_OK) {
			reply_err(req, REPLY_INVALID,
			    "%s/%s: code %.12s is not signed by a trusted key: "
			    "%s; still running the old code",
			    w->name, fn, hash, why);
			goto out;
		}
	}
	if (w->wf->functions[i].group != NULL) {
		reload_slots(o, req, w, (size_t)i, fn, hash);
		goto out;
	}
	struct onode *n =
	    w->place[i].node ? orc_find_node(o, w->place[i].node) : NULL;
	if (n == NULL || n->health != H_UP ||
	    orc_node_client(o, n) != LEDGE_OK) {
		/* Not running now: it gets the new code when it is placed. */
		struct wire_w m;
		if (set_fn_code(o, w, fn, hash) != LEDGE_OK) {
			reply_err(req, REPLY_BUSY, "out of memory");
			goto out;
		}
		if (wire_w_init(&m) == 0) {
			wire_map(&m, 2);
			wire_str(&m, "ok");
			wire_bool(&m, true);
			wire_str(&m, "nodes");
			wire_array(&m, 0);
			reply_wire(req, &m);
		}
		goto out;
	}
	struct reload_op *r = calloc(1, sizeof *r);
	struct wire_w m;
	if (r == NULL || wire_w_init(&m) != 0) {
		free(r);
		reply_err(req, REPLY_BUSY, "out of memory");
		goto out;
	}
	r->o = o;
	r->req = req;
	r->node = strdup(n->name);
	r->wf = strdup(w->name);
	r->fn = strdup(fn);
	r->hash = strdup(hash);
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
	msg_call(n->client, data, data ? len : 0, ORC_DEPLOY_TIMEOUT_MS,
	    on_reloaded, r);
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
/* fn.move                                                             */

/*
 * `fn.move` with accept_loss: part i of w waits on its lost node because
 * no replica holds every write it acknowledged; the operator gives up on
 * that node and lets the replica on n take over with what it has.  n
 * joins the in-sync set (saved, so that a restarted orchestrator does
 * not wait again), and placing the workflow again fails over to it as to
 * any replica in sync; the old node is fenced by the new epoch.
 */
static void
fail_over_lossy(struct orc *o, struct owf *w, size_t i, struct onode *n,
    struct msg_req *req)
{
	struct oplace *p = &w->place[i];
	struct oplace *before;
	struct oisr_ent *e;
	const char *fn = w->wf->functions[i].name;
	char *why = NULL;

	if (!p->waiting) {
		reply_err(req, REPLY_INVALID,
		    "%s/%s is not waiting for a lost node; --accept-loss only "
		    "lets a function that waits fail over (move it without)",
		    w->name, fn);
	} else if (!orc_in_list(p->rep, p->nrep, n->name)) {
		reply_err(req, REPLY_INVALID,
		    "node %s holds no replica of %s/%s's state (its replicas: "
		    "%s%s)",
		    n->name, w->name, fn, p->nrep > 0 ? p->rep[0] : "none",
		    p->nrep > 1 ? ", ..." : "");
	} else if (!orc_deploy_fits(o, w, i, n, &why)) {
		reply_err(req, REPLY_NO_NODE, "cannot move to %s: %s", n->name,
		    why ? why : "it does not fit");
	} else if ((before = orc_copy_places(w)) == NULL ||
	    (e = orc_isr_entry(p, n->name)) == NULL) {
		orc_free_places(before, before ? w->nparts : 0);
		reply_err(req, REPLY_BUSY, "out of memory");
	} else {
		e->in = true;
		orc_store_save_wf(o, w);
		rlog_write(o->log, RLOG_WARN, "orchestrator",
		    "%s/%s: failing over from lost node %s to %s on the "
		    "operator's word (--accept-loss): writes %s acknowledged "
		    "that %s had not received are lost",
		    w->name, fn, p->node, n->name, p->node, n->name);
		orc_deploy_place(o, w);
		if (p->waiting || p->node == NULL ||
		    strcmp(p->node, n->name) != 0) {
			/* n cannot take it after all (labels, resources) */
			reply_err(req, REPLY_NO_NODE,
			    "%s/%s cannot start on %s: %s", w->name, fn,
			    n->name, p->why ? p->why : "it does not fit");
		} else {
			orc_move_start(o, w, before, req, NULL, NULL);
		}
		orc_free_places(before, w->nparts);
	}
	free(why);
}

static void
fn_move(void *ctx, struct msg_req *req, wire_v root)
{
	struct orc *o = ctx;
	char *wfn = wire_str_dup(wire_get(root, "wf"));
	char *fn = wire_str_dup(wire_get(root, "fn"));
	char *to = wire_str_dup(wire_get(root, "node"));
	bool lossy = wire_as_bool(wire_get(root, "accept_loss"), false);
	struct owf *w = wfn ? orc_find_wf(o, wfn) : NULL;
	struct onode *n = to ? orc_find_node(o, to) : NULL, *from;
	struct oplace *before;
	ssize_t i;
	char *why = NULL;

	if (w == NULL) {
		reply_err(req, REPLY_NOT_FOUND,
		    "no workflow '%s' in the domain", wfn ? wfn : "");
	} else if ((i = orc_fn_index(w, fn)) < 0) {
		reply_err(req, REPLY_NOT_FOUND,
		    "workflow %s has no function '%s'", w->name, fn ? fn : "");
	} else if (strcmp(w->wf->functions[i].name, fn) != 0) {
		const struct wf_function *f = &w->wf->functions[i];
		reply_err(req, REPLY_INVALID,
		    "%s/%s is keyed, split into %u slots (%s#0 to %s#%u): "
		    "move one slot at a time",
		    w->name, fn, (unsigned)f->nslots, fn, fn,
		    (unsigned)f->nslots - 1);
	} else if (n == NULL) {
		reply_err(req, REPLY_NOT_FOUND, "no node '%s' in the domain",
		    to ? to : "");
	} else if (n->health != H_UP) {
		reply_err(req, REPLY_UNREACHABLE, "node %s is lost", n->name);
	} else if (w->adopted) {
		reply_err(req, REPLY_INVALID,
		    "workflow %s runs inside `ledge run`, which keeps it on "
		    "its "
		    "own node",
		    w->name);
	} else if (w->busy) {
		reply_err(req, REPLY_BUSY,
		    "workflow %s is being moved already; try again", w->name);
	} else if (w->place[i].node && strcmp(w->place[i].node, to) == 0) {
		reply_err(req, REPLY_EXISTS, "%s/%s already runs on %s",
		    w->name, fn, to);
	} else if (lossy) {
		fail_over_lossy(o, w, (size_t)i, n, req);
	} else if (!orc_deploy_fits(o, w, (size_t)i, n, &why)) {
		reply_err(req, REPLY_NO_NODE, "cannot move to %s: %s", to,
		    why ? why : "it does not fit");
	} else if (w->place[i].node &&
	    ((from = orc_find_node(o, w->place[i].node)) == NULL ||
	        from->health != H_UP)) {
		reply_err(req, REPLY_UNREACHABLE,
		    "%s/%s is on node %s, which is lost; it is placed again "
		    "by itself",
		    w->name, fn, w->place[i].node);
	} else if ((before = orc_copy_places(w)) == NULL) {
		reply_err(req, REPLY_BUSY, "out of memory");
	} else {
		struct oplace *p = &w->place[i];
		free(p->node);
		p->node = strdup(to);
		p->epoch = o->next_epoch++;
		/* Its new node keeps no replica of itself: orc_deploy_place()
		 * picks the replicas again, keeping the rest. */
		orc_deploy_place(o, w);
		rlog_write(o->log, RLOG_INFO, "orchestrator",
		    "moving %s/%s from %s to %s", w->name, fn,
		    before[i].node ? before[i].node : "(pending)", to);
		orc_move_start(o, w, before, req, NULL, NULL);
		orc_free_places(before, w->nparts);
	}
	free(why);
	free(wfn);
	free(fn);
	free(to);
}

static void
fn_invoke(void *ctx, struct msg_req *req, wire_v root)
{
	relay(ctx, req, root, "target");
}

static void
fn_state_get(void *ctx, struct msg_req *req, wire_v root)
{
	relay(ctx, req, root, "fn");
}

static const struct reply_route routes[] = {
	{ "invoke", fn_invoke, MSG_ROLES_ADMIN },
	{ "state.get", fn_state_get, MSG_ROLES_ADMIN },
	{ "state.keys", fn_state_get, MSG_ROLES_ADMIN },
	{ "fn.reload", fn_reload, MSG_ROLES_ADMIN },
	{ "fn.move", fn_move, MSG_ROLES_ADMIN },
};

const struct reply_route *
orc_api_fn_routes(size_t *n)
{
	*n = sizeof routes / sizeof routes[0];
	return routes;
}
