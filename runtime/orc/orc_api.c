/*
 * orc_api.c - the requests of the CLI to the orchestrator: wf.start,
 * wf.stop, wf.list, wf.show, node.list, code.put, code.get, logs,
 * fn.reload, and invoke and state.get relayed to the node that runs the
 * part (docs/protocol.md).  Private to the orchestrator (orc_int.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "base/diag.h"
#include "base/rlog.h"
#include "net/msg.h"
#include "code/code.h"
#include "orc/orc_int.h"
#include "base/sha256.h"
#include "store/store.h"
#include "net/wire.h"
#include "workflow/workflow.h"

/* ------------------------------------------------------------------ */
/* requests from the CLI                                               */

static void
reply_ok(struct msg_req *req)
{
	static const unsigned char ok[] = { 0x81, 0xa2, 'o', 'k', 0xc3 };
	msg_reply(req, ok, sizeof ok);
}

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
		wire_str(m, orc_part_name(w, i));
		wire_str(m, "kind");
		wire_str(m, orc_part_is_fn(w, i) ? "function" : "resource");
		wire_str(m, "type");
		wire_str(m,
		    orc_part_is_fn(w, i)
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
		wire_str(m, orc_part_name(w, i));
		wire_str(m, "why");
		wire_str(m, w->place[i].why ? w->place[i].why : "not placed");
	}
}

static void
reply_placed(struct deploy_op *d)
{
	struct owf *w = orc_find_wf(d->o, d->wf);
	struct wire_w m;
	if (d->req == NULL) {
		return;
	}
	if (w == NULL || wire_w_init(&m) != 0) {
		orc_reply_err(d->req, "busy", "the workflow went away");
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
	orc_send_wire(d->req, &m);
}

void
orc_handle_wf_start(struct orc *o, struct msg_req *req, wire_v root)
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
		orc_reply_err(
		    req, "invalid", "wf.start needs name, file and yaml");
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
			orc_send_wire(req, &m);
		}
		free(name);
		free(file);
		return;
	}
	diag_init(&d);
	w = orc_make_owf(name ? name : "", file, yaml, ylen, code, &d);
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
			orc_send_wire(req, &m);
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
	if ((old = orc_find_wf(o, w->wf->name)) != NULL && same_wf(old, w) &&
	    !old->busy) {
		struct wire_w m;
		orc_free_owf(w);
		if (wire_w_init(&m) == 0) {
			wire_map(&m, 5);
			wire_str(&m, "ok");
			wire_bool(&m, true);
			wire_str(&m, "new");
			wire_bool(&m, false);
			wire_str(&m, "unchanged");
			wire_bool(&m, true);
			write_placed(&m, old);
			orc_send_wire(req, &m);
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
				if (strcmp(orc_part_name(w, i),
				        orc_part_name(old, k)) == 0 &&
				    orc_part_is_fn(w, i) ==
				        orc_part_is_fn(old, k)) {
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
		orc_free_owf(old);
	} else {
		free(w->name);
		w->name = strdup(w->wf->name);
	}
	w->next = o->wfs;
	o->wfs = w;
	orc_place(o, w);
	orc_save_wf(o, w);
	rlog_write(
	    o->log, RLOG_INFO, "orchestrator", "workflow %s started", w->name);
	orc_deploy_wf(o, w, NULL, req, reply_placed);
}

static void
stopped(struct deploy_op *d)
{
	if (d->req) {
		reply_ok(d->req);
	}
}

void
orc_handle_wf_stop(struct orc *o, struct msg_req *req, wire_v root)
{
	char *name = wire_str_dup(wire_get(root, "name"));
	struct owf *w = name ? orc_find_wf(o, name) : NULL;
	if (w == NULL) {
		orc_reply_err(req, "not-found",
		    "no workflow '%s' in the domain", name ? name : "");
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
	orc_forget_wf(o, w->name);
	/* No parts: every node it was on gets an undeploy. */
	for (size_t i = 0; i < w->nparts; i++) {
		orc_free_place(&w->place[i]);
	}
	w->next = o->wfs; /* briefly listed, so orc_deploy_wf can find it */
	o->wfs = w;
	orc_deploy_wf(o, w, NULL, req, stopped);
	o->wfs = w->next;
	rlog_write(
	    o->log, RLOG_INFO, "orchestrator", "workflow %s stopped", w->name);
	orc_free_owf(w);
}

void
orc_handle_wf_list(struct orc *o, struct msg_req *req)
{
	struct wire_w m;
	size_t n = 0;
	for (struct owf *w = o->wfs; w != NULL; w = w->next) {
		n++;
	}
	if (wire_w_init(&m) != 0) {
		orc_reply_err(req, "busy", "out of memory");
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
	orc_send_wire(req, &m);
}

static const struct part_stat *
stat_of(struct orc *o, const char *node, const char *part)
{
	struct onode *n = node ? orc_find_node(o, node) : NULL;
	for (size_t i = 0; n && i < n->nstats; i++) {
		if (strcmp(n->stats[i].part, part) == 0) {
			return &n->stats[i];
		}
	}
	return NULL;
}

void
orc_handle_wf_show(struct orc *o, struct msg_req *req, wire_v root)
{
	char *name = wire_str_dup(wire_get(root, "name"));
	struct owf *w = name ? orc_find_wf(o, name) : NULL;
	struct wire_w m;
	size_t npend = 0;

	if (w == NULL) {
		orc_reply_err(req, "not-found",
		    "no workflow '%s' in the domain", name ? name : "");
		free(name);
		return;
	}
	free(name);
	if (wire_w_init(&m) != 0) {
		orc_reply_err(req, "busy", "out of memory");
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
		bool fn = orc_part_is_fn(w, i);
		unsigned replicas = fn ? w->wf->functions[i].replicas : 0;
		snprintf(
		    full, sizeof full, "%s/%s", w->name, orc_part_name(w, i));
		const struct part_stat *st = stat_of(o, p->node, full);
		wire_map(&m, 13);
		wire_str(&m, "part");
		wire_str(&m, orc_part_name(w, i));
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
			wire_str(&m, orc_part_name(w, i));
			wire_str(&m, "why");
			wire_str(&m,
			    w->place[i].why ? w->place[i].why : "not placed");
		}
	}
	orc_send_wire(req, &m);
}

void
orc_handle_node_list(struct orc *o, struct msg_req *req)
{
	struct wire_w m;
	size_t n = 0;
	uint64_t now = clock_mono_ms();
	for (struct onode *x = o->nodes; x != NULL; x = x->next) {
		n++;
	}
	if (wire_w_init(&m) != 0) {
		orc_reply_err(req, "busy", "out of memory");
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
		wire_u64(&m, orc_parts_on(o, x->name));
		wire_str(&m, "last_heartbeat_ms");
		wire_u64(&m, x->last_seen ? now - x->last_seen : UINT64_MAX);
		wire_str(&m, "epoch");
		wire_u64(&m, x->epoch);
	}
	orc_send_wire(req, &m);
}

/* Keep code `bytes` under their SHA-256 `hex` (once). */
static int
put_code(struct orc *o, const char *hex, const void *bytes, size_t n)
{
	struct store_batch *b;
	int rv;
	if (have_code(o, hex)) {
		return LEDGE_OK;
	}
	if ((rv = store_batch_begin(o->store, &b)) != LEDGE_OK) {
		return rv;
	}
	if ((rv = store_batch_put(b, STORE_ORC_CODE, hex, 64, bytes, n)) !=
	    LEDGE_OK) {
		store_batch_abort(b);
		return rv;
	}
	return store_batch_commit(b);
}

void
orc_handle_code_put(struct orc *o, struct msg_req *req, wire_v root)
{
	char *hash = wire_str_dup(wire_get(root, "hash"));
	const void *bytes;
	size_t n;
	char hex[65];

	if (hash == NULL || !wire_as_bin(wire_get(root, "bytes"), &bytes, &n)) {
		orc_reply_err(req, "invalid", "code.put needs hash and bytes");
		free(hash);
		return;
	}
	sha256_hex(bytes, n, hex);
	if (strcmp(hex, hash) != 0) {
		orc_reply_err(req, "invalid",
		    "code %.12s arrived damaged (its hash is %.12s)", hash,
		    hex);
		free(hash);
		return;
	}
	if (put_code(o, hex, bytes, n) != LEDGE_OK) {
		orc_reply_err(req, "busy", "cannot store the code");
		free(hash);
		return;
	}
	free(hash);
	reply_ok(req);
}

void
orc_handle_code_get(struct orc *o, struct msg_req *req, wire_v root)
{
	char *hash = wire_str_dup(wire_get(root, "hash"));
	struct store_reader *r;
	ledge_bytes v;
	struct wire_w m;
	if (hash == NULL || store_reader_open(o->store, &r) != LEDGE_OK) {
		orc_reply_err(req, "invalid", "code.get needs a hash");
		free(hash);
		return;
	}
	if (store_reader_begin(r) != LEDGE_OK ||
	    store_get(r, STORE_ORC_CODE, hash, strlen(hash), &v) != LEDGE_OK) {
		store_reader_end(r);
		store_reader_close(r);
		orc_reply_err(req, "not-found", "no code %.12s here", hash);
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
		orc_send_wire(req, &m);
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
		orc_reply_err(rl->req, "unreachable",
		    "the node did not answer (%s)",
		    err == MSG_ETIMEDOUT ? "timed out" : "connection failed");
	} else {
		msg_reply(rl->req, data, len);
	}
	free(rl);
}

void
orc_handle_relay(
    struct orc *o, struct msg_req *req, wire_v root, const char *part_key)
{
	char *wfn = wire_str_dup(wire_get(root, "wf"));
	char *part = wire_str_dup(wire_get(root, part_key));
	struct owf *w = wfn ? orc_find_wf(o, wfn) : NULL;
	struct onode *n = NULL;
	struct relay *rl;
	size_t len;
	const void *data = msg_req_data(req, &len);

	bool moving = false;
	for (size_t i = 0; w && part && i < w->nparts; i++) {
		if (strcmp(orc_part_name(w, i), part) == 0 &&
		    w->place[i].node) {
			n = orc_find_node(o, w->place[i].node);
			moving = w->place[i].moving;
		}
	}
	if (moving) {
		/* Its new node may not run it yet. */
		orc_reply_err(req, "busy",
		    "%s/%s is being moved to node %s; try again in a moment",
		    w->name, part, n ? n->name : "?");
		free(wfn);
		free(part);
		return;
	}
	if (n == NULL || n->health != H_UP || orc_node_client(o, n) != 0 ||
	    (rl = malloc(sizeof *rl)) == NULL) {
		orc_reply_err(req, "not-found", "%s/%s is not running anywhere",
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

void
orc_handle_logs(struct orc *o, struct msg_req *req, wire_v root)
{
	char *wf = wire_str_dup(wire_get(root, "wf"));
	uint64_t after = wire_as_u64(wire_get(root, "after"), 0);
	uint64_t first =
	    o->log_seq > ORC_LOG_RING ? o->log_seq - ORC_LOG_RING + 1 : 1;
	size_t n = 0;
	struct wire_w m;

	if (after + 1 > first) {
		first = after + 1;
	}
	for (uint64_t s = first; s <= o->log_seq; s++) {
		struct log_line *l = &o->logs[s % ORC_LOG_RING];
		n += wf == NULL || strcmp(l->wf, wf) == 0;
	}
	if (wire_w_init(&m) != 0) {
		free(wf);
		orc_reply_err(req, "busy", "out of memory");
		return;
	}
	wire_map(&m, 3);
	wire_str(&m, "ok");
	wire_bool(&m, true);
	wire_str(&m, "lines");
	wire_array(&m, n);
	for (uint64_t s = first; s <= o->log_seq; s++) {
		struct log_line *l = &o->logs[s % ORC_LOG_RING];
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
	orc_send_wire(req, &m);
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
	orc_save_wf(o, w);
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
		orc_reply_err(r->req, "failed", "%s",
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
			orc_send_wire(r->req, &m);
		}
	}
	free(why);
	free(r->node);
	free(r->wf);
	free(r->fn);
	free(r->hash);
	free(r);
}

void
orc_handle_fn_reload(struct orc *o, struct msg_req *req, wire_v root)
{
	char *wfn = wire_str_dup(wire_get(root, "wf"));
	char *fn = wire_str_dup(wire_get(root, "fn"));
	char *hash = wire_str_dup(wire_get(root, "hash"));
	struct owf *w = wfn ? orc_find_wf(o, wfn) : NULL;
	ssize_t i = -1;

	if (w == NULL) {
		orc_reply_err(req, "not-found",
		    "no workflow '%s' in the domain", wfn ? wfn : "");
		goto out;
	}
	if ((i = orc_fn_index(w, fn)) < 0) {
		orc_reply_err(req, "not-found",
		    "workflow %s has no function '%s'", w->name, fn ? fn : "");
		goto out;
	}
	if (hash == NULL || !have_code(o, hash)) {
		orc_reply_err(req, "need-code",
		    "the orchestrator needs the code "
		    "first (code.put)");
		goto out;
	}
	struct onode *n =
	    w->place[i].node ? orc_find_node(o, w->place[i].node) : NULL;
	if (n == NULL || n->health != H_UP || orc_node_client(o, n) != 0) {
		/* Not running now: it gets the new code when it is placed. */
		struct wire_w m;
		if (set_fn_code(o, w, fn, hash) != LEDGE_OK) {
			orc_reply_err(req, "busy", "out of memory");
			goto out;
		}
		if (wire_w_init(&m) == 0) {
			wire_map(&m, 2);
			wire_str(&m, "ok");
			wire_bool(&m, true);
			wire_str(&m, "nodes");
			wire_array(&m, 0);
			orc_send_wire(req, &m);
		}
		goto out;
	}
	struct reload_op *r = calloc(1, sizeof *r);
	struct wire_w m;
	if (r == NULL || wire_w_init(&m) != 0) {
		free(r);
		orc_reply_err(req, "busy", "out of memory");
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
/* adoption (ledge run)                                                */

/* Keep the code file at `path` (hex gets its SHA-256). */
static int
store_code_file(
    struct orc *o, const char *path, char hex[65], char *err, size_t errlen)
{
	unsigned char *buf;
	size_t len;
	char why[256];
	int rv;
	if (code_read_file(path, &buf, &len, why, sizeof why) != LEDGE_OK) {
		snprintf(err, errlen, "%s: %s", path, why);
		return -1;
	}
	sha256_hex(buf, len, hex);
	rv = put_code(o, hex, buf, len);
	free(buf);
	if (rv != LEDGE_OK) {
		snprintf(err, errlen, "cannot write the store");
		return -1;
	}
	return 0;
}

int
orc_adopt(struct orc *o, const char *file, const char *yaml, size_t ylen,
    size_t nfn, const char *const *fn_names, const char *const *code_paths,
    const char *node, char *err, size_t errlen)
{
	struct wire_w m;
	struct wire_r r;
	struct diag d;
	struct owf *w, *old;
	const void *data;
	size_t len;
	char hex[65], key[512];

	if (wire_w_init(&m) != 0) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	/* Each function's own code, by hash (`@fn:NAME`, as after a
	 * reload): no paths as written are needed. */
	wire_map(&m, nfn);
	for (size_t i = 0; i < nfn; i++) {
		/* Functions sharing a file (often all of them) read and
		 * hash it once. */
		if ((i == 0 || strcmp(code_paths[i], code_paths[i - 1]) != 0) &&
		    store_code_file(o, code_paths[i], hex, err, errlen) != 0) {
			wire_w_fini(&m);
			return -1;
		}
		snprintf(key, sizeof key, "@fn:%s", fn_names[i]);
		wire_str(&m, key);
		wire_str(&m, hex);
	}
	if ((data = wire_data(&m, &len)) == NULL ||
	    wire_parse(&r, data, len) != 0) {
		wire_w_fini(&m);
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	diag_init(&d);
	w = orc_make_owf("", file, yaml, ylen, wire_root(&r), &d);
	wire_r_fini(&r);
	wire_w_fini(&m);
	if (w == NULL) {
		snprintf(err, errlen, "%s",
		    d.count > 0 && d.cap > 0 ? d.items[0].text
		                             : "invalid workflow");
		diag_fini(&d);
		return -1;
	}
	diag_fini(&d);
	free(w->name);
	w->name = strdup(w->wf->name);
	if ((old = orc_find_wf(o, w->wf->name)) != NULL) {
		for (struct owf **pp = &o->wfs; *pp; pp = &(*pp)->next) {
			if (*pp == old) {
				*pp = old->next;
				break;
			}
		}
		orc_free_owf(old);
	}
	w->adopted = true;
	for (size_t i = 0; i < w->nparts; i++) {
		w->place[i].node = strdup(node);
		w->place[i].epoch = o->next_epoch++;
	}
	w->deployed_on = calloc(2, sizeof *w->deployed_on);
	if (w->deployed_on != NULL &&
	    (w->deployed_on[0] = strdup(node)) != NULL) {
		w->ndeployed = 1;
	}
	w->next = o->wfs;
	o->wfs = w;
	orc_save_wf(o, w);
	return 0;
}

void
orc_drop_adopted(struct orc *o)
{
	struct owf **pp = &o->wfs;
	while (*pp != NULL) {
		struct owf *w = *pp;
		if (!w->adopted) {
			pp = &w->next;
			continue;
		}
		*pp = w->next;
		orc_forget_wf(o, w->name);
		orc_free_owf(w);
	}
}
