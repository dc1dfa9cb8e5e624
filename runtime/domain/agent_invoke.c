/*
 * agent_invoke.c - the node agent's invoke request (agent.h): a call
 * (answered with its reply) or a cast (answered once durable) to a part
 * that runs here.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "domain/agent_int.h"
#include "net/msg.h"
#include "net/msg_token.h"
#include "net/reply.h"
#include "net/wire.h"
#include "node/commit.h"
#include "node/enqueue.h"
#include "node/instance.h"
#include "node/node.h"
#include "node/node_call.h"
#include "node/node_event.h"
#include "platform/loop.h"
#include "store/store.h"
#include "workflow/workflow.h"

struct invoke {
	struct agent *a;
	struct msg_req *req;
	struct node_call *call;
};

static void
invoke_reply(void *arg)
{
	struct invoke *iv = arg;
	struct node_reply *r = &iv->call->reply;
	struct wire_w w;
	const void *d;
	size_t len;
	if (r->err == LEDGE_EUNAVAIL) {
		reply_err(iv->req, REPLY_UNAVAILABLE,
		    "the call failed on node %s: %s", node_name(iv->a->n),
		    ledge_strerror(r->err));
	} else if (r->err != LEDGE_OK) {
		reply_err(iv->req, REPLY_FAILED, "the call failed: %s",
		    ledge_strerror(r->err));
	} else if (wire_w_init(&w) == 0) {
		wire_map(&w, 2);
		wire_str(&w, "ok");
		wire_bool(&w, true);
		wire_str(&w, "reply");
		wire_bin(&w, r->body ? (const void *)r->body : "", r->len);
		d = wire_data(&w, &len);
		msg_reply(iv->req, d, d ? len : 0);
		wire_w_fini(&w);
	} else {
		msg_reply(iv->req, NULL, 0);
	}
	node_call_unref(iv->call);
	free(iv);
}

static void
invoke_done(struct node_call *call, void *arg)
{
	struct invoke *iv = arg;
	(void)call;
	if (loop_on_thread(node_loop(iv->a->n))) {
		invoke_reply(iv);
	} else {
		loop_post(node_loop(iv->a->n), invoke_reply, iv);
	}
}

static void
reply_ok_cb(void *req)
{
	reply_ok(req);
}

static void
cast_durable(void *arg, int err)
{
	struct invoke *iv = arg;
	(void)err;
	loop_post(node_loop(iv->a->n), reply_ok_cb, iv->req);
	free(iv);
}

static void
handle_invoke(void *ctx, struct msg_req *req, wire_v root)
{
	struct agent *a = ctx;
	char *wf = wire_str_dup(wire_get(root, "wf"));
	char *target = wire_str_dup(wire_get(root, "target"));
	bool call = wire_as_bool(wire_get(root, "call"), false);
	const void *data = "";
	size_t len = 0;
	char name[512];
	struct node_target *t;
	struct node_event *ev;
	struct invoke *iv;

	const void *key = NULL;
	size_t klen = 0;
	bool has_key = wire_as_bin(wire_get(root, "key"), &key, &klen);

	wire_as_bin(wire_get(root, "data"), &data, &len);
	snprintf(
	    name, sizeof name, "%s/%s", wf ? wf : "", target ? target : "");
	free(wf);
	free(target);
	if ((t = node_find_target(a->n, name)) == NULL) {
		reply_err(req, REPLY_NOT_FOUND, "no %s on node %s", name,
		    node_name(a->n));
		return;
	}
	bool keyed = node_target_keyed(t);
	if (keyed && !has_key) {
		reply_err(req, REPLY_INVALID,
		    "%s is keyed: name the instance with --key", name);
		return;
	}
	if (has_key && t->kind != NT_RESOURCE && !keyed) {
		reply_err(req, REPLY_INVALID,
		    "%s is not keyed: it takes no --key", name);
		return;
	}
	if (has_key && (klen == 0 || klen > LEDGE_KEY_MAX)) {
		reply_err(req, REPLY_INVALID,
		    "a key has 1 to %d bytes, not %zu", LEDGE_KEY_MAX, klen);
		return;
	}
	if (t->kind == NT_SLOTS) {
		struct node_target *s = node_target_for_key(t, key, klen);
		if (s == NULL) {
			reply_err(req, REPLY_UNAVAILABLE,
			    "%s: the slot of this key (%u of %u) is placed "
			    "nowhere now",
			    name, (unsigned)wf_key_slot(key, klen, t->nslots),
			    (unsigned)t->nslots);
			return;
		}
		t = s;
	}
	if ((ev = node_event_new(call ? NE_CALL : NE_CAST, t->id, data, len)) ==
	        NULL ||
	    (has_key && node_event_set_key(ev, key, klen) != LEDGE_OK) ||
	    (iv = calloc(1, sizeof *iv)) == NULL) {
		node_event_free(ev);
		reply_err(req, REPLY_BUSY, "out of memory");
		return;
	}
	iv->a = a;
	iv->req = req;
	if (node_admit(t) != LEDGE_OK) {
		node_event_free(ev);
		free(iv);
		reply_err(req, REPLY_BUSY, "%s is busy (mailbox full)", name);
		return;
	}
	node_admitted(t, ev);
	if (call) {
		if ((iv->call = node_call_new(true, invoke_done, iv)) == NULL) {
			node_event_free(ev);
			free(iv);
			reply_err(req, REPLY_BUSY, "out of memory");
			return;
		}
		ev->call = iv->call;
		node_send_inline(a->n, t, ev);
		return;
	}
	/* A cast is durable before it is acknowledged, as from HTTP. */
	struct commit_rec *rec = commit_rec_new();
	if (rec == NULL || enqueue_durable(a->n, rec, t, ev) != LEDGE_OK) {
		commit_rec_free(rec);
		node_event_free(ev);
		free(iv);
		reply_err(req, REPLY_BUSY, "out of memory");
		return;
	}
	rec->done = cast_durable;
	rec->arg = iv;
	commit_submit(node_commit(a->n), rec);
	if (t->kind == NT_REMOTE) {
		node_event_free(ev); /* in the outbox; the link sends it */
		return;
	}
	node_send_inline(a->n, t, ev);
}

static const struct reply_route routes[] = {
	{ "invoke", handle_invoke, MSG_ROLE_ORCHESTRATOR },
};

const struct reply_route *
agent_invoke_routes(size_t *n)
{
	*n = sizeof routes / sizeof routes[0];
	return routes;
}
