/*
 * link_call.c - remote calls (links.h), both ends: a call to a part on
 * another node as one request with the caller's timeout, and a peer's
 * call run here, answered once its effects are durable.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/hmap.h"
#include "base/rlog.h"
#include "net/reply.h"
#include "node/instance.h"
#include "node/link_int.h"
#include "node/node_call.h"
#include "node/node_event.h"
#include "store/store.h"

/* --- calls ---------------------------------------------------------- */

struct call_in {
	struct links *l;
	struct msg_req *req;
	struct node_call *call;
	struct flight *flight; /* its Idempotency-Key, in l->flights */
};

/*
 * A call with an Idempotency-Key that runs here and has not been answered
 * yet (target id, key; loop thread).  Another call with the same key
 * meanwhile - the client's retry, or the same request sent again by the
 * transport after a reconnection while the retry runs - is answered 409:
 * it must not run before the first one's answer is stored, or both
 * would count.  Once the first is answered, a call with that key is
 * answered from the stored answer (exec.c).
 */
struct flight {
	size_t len;
	char key[]; /* 4-byte target id, then the key */
};

/* The flight of a call to t carrying an Idempotency-Key, or NULL (none,
 * or out of memory: then it just runs).  *busy: one is in flight. */
static struct flight *
flight_start(struct links *l, const struct node_target *t,
    const struct node_event *ev, bool *busy)
{
	const char *key;
	struct flight *f;
	size_t n;
	*busy = false;
	if (ev->http == NULL || ev->http->idem_ttl_s == 0 ||
	    (key = node_http_header(ev->http, "Idempotency-Key")) == NULL) {
		return NULL;
	}
	n = strlen(key);
	if ((f = malloc(sizeof *f + 4 + n)) == NULL) {
		return NULL;
	}
	f->len = 4 + n;
	store_be32((unsigned char *)f->key, t->id);
	memcpy(f->key + 4, key, n);
	if (hmap_get(&l->flights, f->key, f->len) != NULL) {
		*busy = true;
		free(f);
		return NULL;
	}
	if (hmap_put(&l->flights, f->key, f->len, f, NULL) != 0) {
		free(f);
		return NULL;
	}
	return f;
}

static void
flight_end(struct links *l, struct flight *f)
{
	if (f != NULL) {
		hmap_del(&l->flights, f->key, f->len);
		free(f);
	}
}

/* The answer to a call whose key is in flight. */
static void
reply_in_flight(struct msg_req *req)
{
	static const char body[] =
	    "a request with this Idempotency-Key is in progress; retry\n";
	struct wire_w w;
	const void *d;
	size_t n;
	if (wire_w_init(&w) != 0) {
		reply_err(req, REPLY_BUSY, "out of memory");
		return;
	}
	wire_map(&w, 6);
	wire_str(&w, "ok");
	wire_bool(&w, true);
	wire_str(&w, "err");
	wire_u64(&w, 0);
	wire_str(&w, "reply");
	wire_bin(&w, body, sizeof body - 1);
	wire_str(&w, "status");
	wire_u64(&w, 409);
	wire_str(&w, "ctype");
	wire_str(&w, "text/plain");
	wire_str(&w, "headers");
	wire_array(&w, 0);
	d = wire_data(&w, &n);
	msg_reply(req, d, d ? n : 0);
	wire_w_fini(&w);
}

static void
reply_call_on_loop(void *arg)
{
	struct call_in *ci = arg;
	struct node_reply *r = &ci->call->reply;
	struct wire_w w;
	const void *d;
	size_t n;

	if (wire_w_init(&w) == 0) {
		wire_map(&w, 6);
		wire_str(&w, "ok");
		wire_bool(&w, true);
		wire_str(&w, "err");
		wire_u64(&w, (uint64_t)r->err);
		wire_str(&w, "reply");
		wire_bin(&w, r->body ? (const void *)r->body : "", r->len);
		wire_str(&w, "status");
		wire_u64(&w, (uint64_t)r->status);
		wire_str(&w, "ctype");
		wire_str(&w, r->content_type);
		wire_str(&w, "headers");
		wire_array(&w, r->nheaders);
		for (size_t i = 0; i < r->nheaders; i++) {
			wire_array(&w, 2);
			wire_str(&w, r->headers[i].name);
			wire_str(&w, r->headers[i].value);
		}
		d = wire_data(&w, &n);
		msg_reply(ci->req, d, d ? n : 0);
		wire_w_fini(&w);
	} else {
		msg_reply(ci->req, NULL, 0);
	}
	flight_end(ci->l, ci->flight);
	node_call_unref(ci->call);
	free(ci);
}

static void
call_done(struct node_call *call, void *arg)
{
	struct call_in *ci = arg;
	(void)call;
	if (loop_on_thread(ci->l->env.loop)) {
		reply_call_on_loop(ci);
	} else {
		loop_post(ci->l->env.loop, reply_call_on_loop, ci);
	}
}

void
links_handle_call(struct links *l, struct msg_req *req, wire_v msg)
{
	char *from = wire_str_dup(wire_get(msg, "from"));
	uint64_t epoch = wire_as_u64(wire_get(msg, "epoch"), 0);
	const void *p;
	size_t len;
	char *target = NULL;
	struct node_event *ev = NULL;
	struct node_target *t;
	struct call_in *ci;

	if (from == NULL || !wire_as_bin(wire_get(msg, "event"), &p, &len) ||
	    link_entry_decode(p, len, &target, &ev) != 0) {
		free(from);
		reply_err(req, REPLY_INVALID, "malformed call");
		return;
	}
	if (!links_epoch_ok(l, from, epoch)) {
		free(from);
		free(target);
		node_event_free(ev);
		reply_err(req, "fenced",
		    "this node was declared lost; it must rejoin first");
		return;
	}
	free(from);
	t = l->env.find_target(l->env.ctx, target);
	free(target);
	if (t == NULL || t->kind == NT_REMOTE ||
	    (ci = calloc(1, sizeof *ci)) == NULL) {
		node_event_free(ev);
		reply_err(req, REPLY_NOT_FOUND, "no such part on this node");
		return;
	}
	ci->l = l;
	ci->req = req;
	bool busy;
	ci->flight = flight_start(l, t, ev, &busy);
	if (busy) {
		free(ci);
		node_event_free(ev);
		reply_in_flight(req);
		return;
	}
	/* The reply leaves this node once its effects are durable here. */
	if ((ci->call = node_call_new(true, call_done, ci)) == NULL) {
		flight_end(l, ci->flight);
		free(ci);
		node_event_free(ev);
		reply_err(req, REPLY_BUSY, "out of memory");
		return;
	}
	if (l->env.admit(t) != LEDGE_OK) {
		node_call_unref(ci->call);
		node_call_fail(ci->call, LEDGE_EFULL);
		node_event_free(ev);
		return;
	}
	l->env.admitted(t, ev);
	ev->kind = NE_CALL;
	ev->flags &= (uint8_t)~NEF_DURABLE;
	ev->flags |= NEF_LINKED;
	ev->call = ci->call; /* the event's reference */
	l->env.send_inline(l->env.ctx, t, ev);
}

/* A call out, in l->calls until its reply (or error) is in.  Its event's
 * call is completed (and dropped) early when the peer is declared lost;
 * the request stays out, and its answer is then thrown away. */
struct call_out {
	struct call_out *next, *prev;
	struct links *l;
	struct node_event *ev;
	char target[256], peer[128];
};

/* Complete co's call with err now (loop thread). */
static void
call_fail(struct call_out *co, int err)
{
	struct node_reply r;
	memset(&r, 0, sizeof r);
	r.err = err;
	if (co->ev->call != NULL) {
		node_call_complete(co->ev->call, &r);
		node_call_unref(co->ev->call);
		co->ev->call = NULL;
	} else {
		node_reply_free(&r);
	}
}

static void
on_call_reply(void *arg, int err, const void *data, size_t len)
{
	struct call_out *co = arg;
	struct node_reply r;
	struct wire_r rd;

	pthread_mutex_lock(&co->l->mu);
	if (co->prev != NULL) {
		co->prev->next = co->next;
	} else {
		co->l->calls = co->next;
	}
	if (co->next != NULL) {
		co->next->prev = co->prev;
	}
	pthread_mutex_unlock(&co->l->mu);
	memset(&r, 0, sizeof r);
	if (co->ev->call == NULL) {
		/* Failed already: its node was declared lost. */
		node_event_free(co->ev);
		free(co);
		return;
	}
	if (err != MSG_OK) {
		r.err = err == MSG_ETIMEDOUT ? LEDGE_ETIMEDOUT : LEDGE_ECONN;
		rlog_write(co->l->env.log, RLOG_WARN, co->l->self,
		    "call to %s on node %s failed: %s", co->target, co->peer,
		    err == MSG_ETIMEDOUT
		        ? "no answer in time (is the link down?)"
		        : "the node cannot be reached");
	} else if (wire_parse(&rd, data, len) != 0) {
		r.err = LEDGE_EPROTO;
	} else {
		wire_v root = wire_root(&rd);
		if (!wire_as_bool(wire_get(root, "ok"), false)) {
			r.err = wire_str_eq(wire_get(root, "code"), "not-found")
			    ? LEDGE_ENOENT
			    : LEDGE_ECONN;
		} else {
			const void *b;
			size_t bn;
			wire_v hs = wire_get(root, "headers");
			r.err = (int)wire_as_u64(
			    wire_get(root, "err"), LEDGE_EPROTO);
			r.status =
			    (int)wire_as_u64(wire_get(root, "status"), 0);
			r.content_type = wire_str_dup(wire_get(root, "ctype"));
			if (wire_as_bin(wire_get(root, "reply"), &b, &bn) &&
			    bn > 0 && (r.body = malloc(bn)) != NULL) {
				memcpy(r.body, b, bn);
				r.len = bn;
			}
			if (wire_len(hs) > 0 &&
			    (r.headers = calloc(
			         wire_len(hs), sizeof *r.headers)) != NULL) {
				for (size_t i = 0; i < wire_len(hs); i++) {
					wire_v h = wire_at(hs, i);
					r.headers[i].name =
					    wire_str_dup(wire_at(h, 0));
					r.headers[i].value =
					    wire_str_dup(wire_at(h, 1));
					r.nheaders = i + 1;
					if (!r.headers[i].name ||
					    !r.headers[i].value) {
						break;
					}
				}
			}
		}
		wire_r_fini(&rd);
	}
	if (co->ev->call != NULL) {
		node_call_complete(co->ev->call, &r);
		node_call_unref(co->ev->call);
		co->ev->call = NULL;
	} else {
		node_reply_free(&r);
	}
	node_event_free(co->ev);
	free(co);
}

void
links_call(struct links *l, const char *peer, const char *target,
    struct node_event *ev, uint32_t timeout_ms)
{
	struct peer *p;
	struct msg_client *c = NULL;
	struct call_out *co = malloc(sizeof *co);
	struct wire_w w;
	size_t elen = link_entry_size(target, ev), len;
	unsigned char *entry = malloc(elen);
	const void *data;
	bool lost = false;

	if (co == NULL || entry == NULL || wire_w_init(&w) != 0) {
		free(co);
		free(entry);
		if (ev->call != NULL) {
			node_call_fail(ev->call, LEDGE_ENOMEM);
		}
		node_event_free(ev);
		return;
	}
	link_entry_encode(entry, target, ev);
	wire_map(&w, 5);
	wire_str(&w, "t");
	wire_str(&w, "call");
	wire_str(&w, "from");
	wire_str(&w, l->self);
	wire_str(&w, "epoch");
	wire_u64(&w, atomic_load(&l->epoch));
	wire_str(&w, "timeout_ms");
	wire_u64(&w, timeout_ms);
	wire_str(&w, "event");
	wire_bin(&w, entry, elen);
	free(entry);
	co->l = l;
	co->ev = ev;
	co->prev = NULL;
	snprintf(co->target, sizeof co->target, "%s", target);
	snprintf(co->peer, sizeof co->peer, "%s", peer);
	/* Checked and listed under one hold of mu, so that links_set_lost
	 * either sees the call or the call sees the peer lost. */
	pthread_mutex_lock(&l->mu);
	if ((p = link_find_peer_locked(l, peer, 0)) != NULL) {
		c = p->client;
		lost = p->lost;
	}
	if (c != NULL && !lost) {
		if ((co->next = l->calls) != NULL) {
			co->next->prev = co;
		}
		l->calls = co;
	}
	pthread_mutex_unlock(&l->mu);
	if (c == NULL || lost) {
		/* Lost: its parts are being placed elsewhere, and the new
		 * place comes with the next deploy. */
		wire_w_fini(&w);
		free(co);
		if (ev->call != NULL) {
			node_call_fail(
			    ev->call, lost ? LEDGE_EUNAVAIL : LEDGE_ECONN);
		}
		node_event_free(ev);
		return;
	}
	if ((data = wire_data(&w, &len)) == NULL) {
		wire_w_fini(&w);
		on_call_reply(co, MSG_ENOMEM, NULL, 0);
		return;
	}
	msg_call(c, data, len, timeout_ms, on_call_reply, co);
	wire_w_fini(&w);
}

size_t
links_set_lost(struct links *l, const char *name, bool lost)
{
	struct peer *p;
	size_t n = 0;
	bool changed = false;

	if (strcmp(name, l->self) == 0) {
		return 0; /* this node, told it is lost: it joins again */
	}
	if (lost) {
		links_peer(l, name);
	}
	pthread_mutex_lock(&l->mu);
	if ((p = link_find_peer_locked(l, name, 0)) != NULL) {
		changed = p->lost != lost;
		p->lost = lost;
	}
	/* The calls to it still waiting; they stay in the list (their
	 * requests are out) but their callers hear now. */
	for (struct call_out *co = l->calls; lost && co != NULL;
	     co = co->next) {
		if (strcmp(co->peer, name) == 0 && co->ev->call != NULL) {
			n++;
		}
	}
	pthread_mutex_unlock(&l->mu);
	if (n > 0) {
		/* Completing a call may run its caller's code (an inline
		 * answer), so not under mu; the list only changes on this
		 * thread (on_call_reply) or at its head (links_call). */
		pthread_mutex_lock(&l->mu);
		struct call_out *co = l->calls;
		pthread_mutex_unlock(&l->mu);
		for (; co != NULL; co = co->next) {
			if (strcmp(co->peer, name) == 0) {
				call_fail(co, LEDGE_EUNAVAIL);
			}
		}
	}
	if (changed && lost) {
		rlog_write(l->env.log, RLOG_WARN, l->self,
		    "node %s was declared lost: calls to it fail at once "
		    "(%s; %zu waiting for a reply failed) until it is up again "
		    "or its parts' new places are deployed here",
		    name, ledge_strerror(LEDGE_EUNAVAIL), n);
	} else if (changed) {
		rlog_write(l->env.log, RLOG_INFO, l->self,
		    "node %s is up again: calls to it are sent", name);
	}
	return n;
}

void
links_lost_set(struct links *l, const char *const *names, size_t n)
{
	char **up = NULL;
	size_t nup = 0, cap = 0;

	for (size_t i = 0; i < n; i++) {
		links_set_lost(l, names[i], true);
	}
	/* Peers marked lost that the orchestrator no longer names. */
	pthread_mutex_lock(&l->mu);
	for (struct peer *p = l->peers; p != NULL; p = p->next) {
		bool named = false;
		for (size_t i = 0; i < n && !named; i++) {
			named = strcmp(names[i], p->name) == 0;
		}
		if (p->lost && !named) {
			if (nup == cap) {
				char **g = realloc(
				    up, (cap = cap * 2 + 4) * sizeof *g);
				if (g == NULL) {
					break;
				}
				up = g;
			}
			if ((up[nup] = strdup(p->name)) != NULL) {
				nup++;
			}
		}
	}
	pthread_mutex_unlock(&l->mu);
	for (size_t i = 0; i < nup; i++) {
		links_set_lost(l, up[i], false);
		free(up[i]);
	}
	free(up);
}
