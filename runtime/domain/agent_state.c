/*
 * agent_state.c - the node agent's state requests (agent.h): state.get
 * (a function's committed state), and export, import and forget, with
 * which the orchestrator moves a part's state between nodes.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/keylist.h"
#include "base/rlog.h"
#include "domain/agent_int.h"
#include "net/msg.h"
#include "net/msg_token.h"
#include "net/reply.h"
#include "net/wire.h"
#include "node/commit.h"
#include "node/instance.h"
#include "node/keyed.h"
#include "node/node.h"
#include "node/route.h"
#include "platform/loop.h"
#include "store/store.h"
#include "workflow/workflow.h"

struct scan {
	struct wire_w *w;
	size_t n;
	const char *key;
	size_t klen;
	bool counting;
	/* a keyed function's instance key: only its entries, shown
	 * without the prefix that is its key (node/keyed.h) */
	const unsigned char *pre;
	size_t plen;
};

static int
scan_state(void *arg, ledge_bytes key, ledge_bytes value)
{
	struct scan *s = arg;
	if (s->pre != NULL) {
		if (key.len <= s->plen || memcmp(key.data, s->pre, s->plen)) {
			return 0;
		}
		key.data = (const unsigned char *)key.data + s->plen;
		key.len -= s->plen;
	}
	if (s->key &&
	    (key.len != s->klen || memcmp(key.data, s->key, s->klen))) {
		return 0;
	}
	if (s->counting) {
		s->n++;
		return 0;
	}
	wire_map(s->w, 2);
	wire_str(s->w, "key");
	wire_bin(s->w, key.data, key.len);
	wire_str(s->w, "value");
	wire_bin(s->w, value.data, value.len);
	return 0;
}

/*
 * A request about a function with an instance key `inst` (or NULL): a
 * keyed one needs it, one that is not keyed has none.  False after
 * replying.
 */
static bool
keyed_request_ok(struct msg_req *req, const struct node_target *t,
    const char *name, const char *inst, size_t ilen)
{
	bool keyed = node_target_keyed(t);
	if (keyed && inst == NULL) {
		reply_err(req, REPLY_INVALID,
		    "%s is keyed: name the key (--key), or list them with "
		    "`ledge state keys`",
		    name);
		return false;
	}
	if (!keyed && inst != NULL) {
		reply_err(req, REPLY_INVALID,
		    "%s is not keyed: it takes no --key", name);
		return false;
	}
	if (inst != NULL && (ilen == 0 || ilen > LEDGE_KEY_MAX)) {
		reply_err(req, REPLY_INVALID,
		    "a key has 1 to %d bytes, not %zu", LEDGE_KEY_MAX, ilen);
		return false;
	}
	return true;
}

/* The function `wf`/`fn` of a request (its name in name): an instance, or
 * a keyed function split into slots (NT_SLOTS); NULL after replying that
 * it does not run here. */
static struct node_target *
function_of(
    struct agent *a, struct msg_req *req, wire_v root, char *name, size_t len)
{
	char *wf = wire_str_dup(wire_get(root, "wf"));
	char *fn = wire_str_dup(wire_get(root, "fn"));
	struct node_target *t;

	snprintf(name, len, "%s/%s", wf ? wf : "", fn ? fn : "");
	free(wf);
	free(fn);
	if ((t = node_find_target(a->n, name)) == NULL ||
	    (t->kind != NT_INSTANCE && t->kind != NT_SLOTS)) {
		reply_err(req, REPLY_NOT_FOUND, "no function %s on node %s",
		    name, node_name(a->n));
		return NULL;
	}
	return t;
}

static void
handle_state(void *ctx, struct msg_req *req, wire_v root)
{
	struct agent *a = ctx;
	char name[512];
	struct node_target *t;
	struct store_reader *r = NULL;
	struct wire_w w;
	const void *d;
	size_t len;
	const char *key = NULL, *inst = NULL;
	size_t klen = 0, ilen = 0;
	unsigned char pre[2 + LEDGE_KEY_MAX];

	wire_as_str(wire_get(root, "key"), &key, &klen);
	wire_as_str(wire_get(root, "inst"), &inst, &ilen);
	if ((t = function_of(a, req, root, name, sizeof name)) == NULL) {
		return;
	}
	if (!keyed_request_ok(req, t, name, inst, ilen)) {
		return;
	}
	if (t->kind == NT_SLOTS) {
		struct node_target *g = t;
		t = node_target_for_key(g, inst, ilen);
		if (t == NULL || t->kind != NT_INSTANCE) {
			reply_err(req, REPLY_NOT_FOUND,
			    "%s: slot %u, which holds this key, does not run "
			    "on node %s",
			    name, (unsigned)wf_key_slot(inst, ilen, g->nslots),
			    node_name(a->n));
			return;
		}
	}
	/* Committed state: what a crash now would keep. */
	commit_flush(node_commit(a->n));
	if (store_reader_open(node_store(a->n), &r) != LEDGE_OK ||
	    store_reader_begin(r) != LEDGE_OK || wire_w_init(&w) != 0) {
		store_reader_close(r);
		reply_err(req, REPLY_BUSY, "cannot read the store");
		return;
	}
	struct scan s = { &w, 0, key, klen, true, NULL, 0 };
	if (inst != NULL) {
		s.pre = pre;
		s.plen = keyed_state_key(pre, inst, ilen, NULL, 0);
	}
	store_state_scan(r, t->id, scan_state, &s);
	wire_map(&w, 2);
	wire_str(&w, "ok");
	wire_bool(&w, true);
	wire_str(&w, "entries");
	wire_array(&w, s.n);
	s.counting = false;
	store_state_scan(r, t->id, scan_state, &s);
	store_reader_end(r);
	store_reader_close(r);
	d = wire_data(&w, &len);
	msg_reply(req, d, d ? len : 0);
	wire_w_fini(&w);
}

/*
 * state.keys: the keys of a keyed function that have state, in the
 * store's order, from `after` (exclusive) or the first, at most `limit`
 * (default 100, at most 10000), those starting with `prefix` only; `more`
 * says whether others follow (ask again with after = the last).
 */
struct key_scan {
	struct keylist *out;
	const char *prefix, *after;
	size_t plen, alen, limit, n;
	unsigned char last[2 + LEDGE_KEY_MAX]; /* the last key taken */
	size_t last_len;
};

static int
scan_keys(void *arg, ledge_bytes key, ledge_bytes value)
{
	struct key_scan *k = arg;
	const unsigned char *p = key.data;
	size_t kl;
	(void)value;
	if (key.len < 2 || (kl = (size_t)p[0] << 8 | p[1]) == 0 ||
	    kl > key.len - 2 || kl > LEDGE_KEY_MAX) {
		return 0; /* not a key instance's entry */
	}
	if (k->last_len == 2 + kl && memcmp(k->last, p, 2 + kl) == 0) {
		return 0; /* the same key's next entry */
	}
	memcpy(k->last, p, 2 + kl);
	k->last_len = 2 + kl;
	if ((k->plen > kl || memcmp(p + 2, k->prefix, k->plen) != 0)) {
		return 0;
	}
	if (k->after != NULL &&
	    keylist_cmp(p + 2, kl, k->after, k->alen) <= 0) {
		return 0;
	}
	if (k->n == k->limit) {
		k->out->more = true;
		return 1;
	}
	keylist_add(k->out, p + 2, kl);
	k->n++;
	return 0;
}

static void
handle_keys(void *ctx, struct msg_req *req, wire_v root)
{
	struct agent *a = ctx;
	char name[512];
	struct node_target *t;
	struct store_reader *r = NULL;
	struct wire_w w;
	struct keylist kl = { 0 };
	struct key_scan k = { .prefix = "", .out = &kl };
	const void *d;
	size_t len;

	wire_as_str(wire_get(root, "prefix"), &k.prefix, &k.plen);
	wire_as_str(wire_get(root, "after"), &k.after, &k.alen);
	k.limit = (size_t)wire_as_u64(wire_get(root, "limit"), 100);
	if (k.prefix == NULL) {
		k.prefix = "";
		k.plen = 0;
	}
	if ((t = function_of(a, req, root, name, sizeof name)) == NULL) {
		return;
	}
	if (!node_target_keyed(t)) {
		reply_err(req, REPLY_INVALID,
		    "%s is not keyed: it has one state, no keys", name);
		return;
	}
	if (k.limit == 0 || k.limit > 10000) {
		reply_err(req, REPLY_INVALID,
		    "limit must be 1 to 10000, not %llu",
		    (unsigned long long)k.limit);
		return;
	}
	commit_flush(node_commit(a->n));
	if (store_reader_open(node_store(a->n), &r) != LEDGE_OK ||
	    store_reader_begin(r) != LEDGE_OK || wire_w_init(&w) != 0) {
		store_reader_close(r);
		reply_err(req, REPLY_BUSY, "cannot read the store");
		return;
	}
	/* Each slot that runs here gives its first `limit`; the page is
	 * the first `limit` of them all. */
	uint32_t nparts = t->kind == NT_SLOTS ? t->nslots : 1;
	for (uint32_t i = 0; i < nparts; i++) {
		struct node_target *p = t->kind == NT_SLOTS ? t->slots[i] : t;
		if (p == NULL || p->kind != NT_INSTANCE) {
			continue;
		}
		k.n = 0;
		k.last_len = 0;
		store_state_scan(r, p->id, scan_keys, &k);
	}
	store_reader_end(r);
	store_reader_close(r);
	keylist_sort(&kl);
	size_t n = kl.n < k.limit ? kl.n : k.limit;
	wire_map(&w, 3);
	wire_str(&w, "ok");
	wire_bool(&w, true);
	wire_str(&w, "more");
	wire_bool(&w, kl.more || kl.n > k.limit);
	wire_str(&w, "keys");
	wire_array(&w, n);
	for (size_t i = 0; i < n; i++) {
		wire_bin(&w, kl.v[i].p, kl.v[i].len);
	}
	d = wire_data(&w, &len);
	if (d == NULL || kl.oom) {
		reply_err(req, REPLY_BUSY, "out of memory");
	} else {
		msg_reply(req, d, len);
	}
	keylist_fini(&kl);
	wire_w_fini(&w);
}

/* The part name "wf/part" of a request, or "" (with a reply sent). */
static bool
part_of(
    struct agent *a, struct msg_req *req, wire_v root, char *name, size_t len)
{
	char *wf = wire_str_dup(wire_get(root, "wf"));
	char *part = wire_str_dup(wire_get(root, "part"));
	struct node_target *t;
	bool ok = wf != NULL && part != NULL;
	if (ok) {
		snprintf(name, len, "%s/%s", wf, part);
	}
	free(wf);
	free(part);
	if (!ok) {
		reply_err(req, REPLY_INVALID, "wf and part are required");
		return false;
	}
	if ((t = node_find_target(a->n, name)) != NULL &&
	    t->kind == NT_INSTANCE) {
		reply_err(req, REPLY_BUSY, "%s still runs on node %s", name,
		    node_name(a->n));
		return false;
	}
	return true;
}

/*
 * export: the committed state of a part that no longer runs here (the
 * orchestrator deployed the new placement to this node first), for the
 * node it moves to.
 */
static void
handle_export(void *ctx, struct msg_req *req, wire_v root)
{
	struct agent *a = ctx;
	char name[512];
	uint32_t id;
	struct store_reader *r = NULL;
	struct wire_w w;
	const void *d;
	size_t len;

	if (!part_of(a, req, root, name, sizeof name)) {
		return;
	}
	/* Every write of its last handler runs is applied. */
	commit_flush(node_commit(a->n));
	if (wire_w_init(&w) != 0) {
		reply_err(req, REPLY_BUSY, "out of memory");
		return;
	}
	struct scan s = { &w, 0, NULL, 0, true, NULL, 0 };
	bool have = node_registry_lookup(a->n, name, &id) &&
	    store_reader_open(node_store(a->n), &r) == LEDGE_OK &&
	    store_reader_begin(r) == LEDGE_OK;
	if (have) {
		store_state_scan(r, id, scan_state, &s);
	}
	wire_map(&w, 2);
	wire_str(&w, "ok");
	wire_bool(&w, true);
	wire_str(&w, "state");
	wire_array(&w, s.n);
	s.counting = false;
	if (have) {
		store_state_scan(r, id, scan_state, &s);
		store_reader_end(r);
	}
	store_reader_close(r);
	d = wire_data(&w, &len);
	if (d == NULL) {
		reply_err(req, REPLY_BUSY, "out of memory");
	} else {
		rlog_write(node_log(a->n), RLOG_INFO, node_name(a->n),
		    "%s: state exported (%zu entries, %zu bytes)", name, s.n,
		    len);
		msg_reply(req, d, len);
	}
	wire_w_fini(&w);
}

struct durable_ok {
	struct loop *loop;
	struct msg_req *req;
};

static void
durable_ok_on_loop(void *arg)
{
	struct durable_ok *d = arg;
	reply_ok(d->req);
	free(d);
}

/* Committer thread: answer once the record is durable (on the loop). */
static void
durable_reply(void *arg, int err)
{
	struct durable_ok *d = arg;
	(void)err; /* a failed commit ends the node */
	loop_post(d->loop, durable_ok_on_loop, d);
}

/* rec answers req once durable; false (nothing set) when out of memory. */
static bool
reply_when_durable(struct agent *a, struct commit_rec *rec, struct msg_req *req)
{
	struct durable_ok *d = malloc(sizeof *d);
	if (d == NULL) {
		return false;
	}
	d->loop = node_loop(a->n);
	d->req = req;
	rec->done = durable_reply;
	rec->arg = d;
	return true;
}

/* import: the state of a part about to run here; replaces what is here. */
static void
handle_import(void *ctx, struct msg_req *req, wire_v root)
{
	struct agent *a = ctx;
	char name[512];
	uint32_t id;
	unsigned char prefix[4];
	wire_v state = wire_get(root, "state");
	struct commit_rec *rec;

	if (!part_of(a, req, root, name, sizeof name)) {
		return;
	}
	if (node_registry_id(a->n, name, &id) != LEDGE_OK ||
	    (rec = commit_rec_new()) == NULL) {
		reply_err(req, REPLY_BUSY, "out of memory");
		return;
	}
	store_be32(prefix, id);
	int rv = commit_rec_del_prefix(rec, STORE_STATE, prefix, 4);
	for (size_t i = 0; i < wire_len(state) && rv == LEDGE_OK; i++) {
		wire_v e = wire_at(state, i);
		const void *k, *v;
		size_t klen, vlen;
		unsigned char *key;
		if (!wire_as_bin(wire_get(e, "key"), &k, &klen) ||
		    !wire_as_bin(wire_get(e, "value"), &v, &vlen) ||
		    (key = malloc(klen + 4)) == NULL) {
			rv = LEDGE_EINVAL;
			break;
		}
		memcpy(key, prefix, 4);
		memcpy(key + 4, k, klen);
		rv = commit_rec_put(rec, STORE_STATE, key, klen + 4, v, vlen);
		free(key);
	}
	if (rv != LEDGE_OK) {
		commit_rec_free(rec);
		reply_err(req, REPLY_INVALID, "bad state entries for %s", name);
		return;
	}
	if (!reply_when_durable(a, rec, req)) {
		commit_rec_free(rec);
		reply_err(req, REPLY_BUSY, "out of memory");
		return;
	}
	rlog_write(node_log(a->n), RLOG_INFO, node_name(a->n),
	    "%s: state imported (%zu entries)", name, wire_len(state));
	commit_submit(node_commit(a->n), rec);
}

/* forget: drop the state of a part that moved away (or was fenced). */
void
agent_state_forget(struct agent *a, const char *name, struct msg_req *req)
{
	uint32_t id;
	unsigned char prefix[4];
	struct commit_rec *rec;
	if (!node_registry_lookup(a->n, name, &id) ||
	    (rec = commit_rec_new()) == NULL) {
		if (req) {
			reply_ok(req);
		}
		return;
	}
	store_be32(prefix, id);
	commit_rec_del_prefix(rec, STORE_STATE, prefix, 4);
	if (req != NULL && !reply_when_durable(a, rec, req)) {
		commit_rec_free(rec);
		reply_err(req, REPLY_BUSY, "out of memory");
		return;
	}
	commit_submit(node_commit(a->n), rec);
	rlog_write(node_log(a->n), RLOG_INFO, node_name(a->n),
	    "%s: state dropped here (it runs elsewhere)", name);
}

static void
handle_forget(void *ctx, struct msg_req *req, wire_v root)
{
	struct agent *a = ctx;
	char name[512];
	if (part_of(a, req, root, name, sizeof name)) {
		agent_state_forget(a, name, req);
	}
}

static const struct reply_route routes[] = {
	{ "state.get", handle_state, MSG_ROLE_ORCHESTRATOR },
	{ "state.keys", handle_keys, MSG_ROLE_ORCHESTRATOR },
	{ "export", handle_export, MSG_ROLE_ORCHESTRATOR },
	{ "import", handle_import, MSG_ROLE_ORCHESTRATOR },
	{ "forget", handle_forget, MSG_ROLE_ORCHESTRATOR },
};

const struct reply_route *
agent_state_routes(size_t *n)
{
	*n = sizeof routes / sizeof routes[0];
	return routes;
}
