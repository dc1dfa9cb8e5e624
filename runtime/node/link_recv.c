/*
 * link_recv.c - the receiving side of the links (links.h): batches of
 * events from a peer, applied from the watermark of the sender's
 * incarnation on, in one commit with the new watermark, and
 * acknowledged once durable; events whose part moved on are forwarded.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "net/reply.h"
#include "node/commit.h"
#include "node/enqueue.h"
#include "node/instance.h"
#include "node/link_int.h"
#include "node/node_event.h"
#include "node/replica.h"
#include "store/store.h"

/* ------------------------------------------------------------------ */
/* receiving                                                           */

/* Applied watermark of one sender incarnation. */
struct in_state {
	unsigned char key[8];
	uint64_t applied;
};

/*
 * The acknowledgement of a batch: ok with the watermark `acked`, and
 * when an event was not taken because its target is not here, the code
 * "unknown-target" with that target as the error.
 */
static void
reply_ack(struct msg_req *req, const char *unknown, uint64_t acked)
{
	struct wire_w w;

	if (wire_w_init(&w) != 0) {
		msg_reply(req, NULL, 0);
		return;
	}
	wire_map(&w, unknown ? 4 : 2);
	wire_str(&w, "ok");
	wire_bool(&w, true);
	if (unknown) {
		wire_str(&w, "code");
		wire_str(&w, "unknown-target");
		wire_str(&w, "error");
		wire_str(&w, unknown);
	}
	wire_str(&w, "acked");
	wire_u64(&w, acked);
	reply_wire(req, &w);
}

static struct in_state *
in_state(struct links *l, uint64_t inc)
{
	unsigned char key[8];
	struct in_state *s;
	store_be64(key, inc);
	if ((s = hmap_get(&l->in, key, 8)) == NULL &&
	    (s = calloc(1, sizeof *s)) != NULL) {
		char name[32];
		memcpy(s->key, key, 8);
		snprintf(name, sizeof name, "lin%016" PRIx64, inc);
		s->applied = store_meta_get_u64(l->env.store, name);
		if (hmap_put(&l->in, s->key, 8, s, NULL) != 0) {
			free(s);
			s = NULL;
		}
	}
	return s;
}

struct ack_wait {
	struct links *l;
	struct msg_req *req;
	uint64_t acked;
	char *unknown; /* the target of the first event not taken, if any */
};

static void
ack_on_loop(void *arg)
{
	struct ack_wait *a = arg;
	/* ok, with the watermark; and if an event was not taken because
	 * its target is not here, which one (the sender may know where it
	 * went: links_readdress). */
	reply_ack(a->req, a->unknown, a->acked);
	free(a->unknown);
	free(a);
}

/* Committer thread: the batch's record is durable. */
static void
ack_durable(void *arg, int err)
{
	struct ack_wait *a = arg;
	(void)err; /* on a failed commit the node exits; nothing to ack */
	loop_post(a->l->env.loop, ack_on_loop, a);
}

void
links_handle_ev(struct links *l, struct msg_req *req, wire_v msg)
{
	char *from = wire_str_dup(wire_get(msg, "from"));
	uint64_t inc = wire_as_u64(wire_get(msg, "inc"), 0);
	uint64_t epoch = wire_as_u64(wire_get(msg, "epoch"), 0);
	uint64_t seq = wire_as_u64(wire_get(msg, "seq"), 0);
	wire_v events = wire_get(msg, "events");
	struct in_state *st;
	struct commit_rec *rec;
	struct ack_wait *a;
	struct node_event *ready = NULL, **tail = &ready;
	size_t n = wire_len(events);
	char *unknown = NULL, *target_dup = NULL;

	if (from == NULL || inc == 0 || seq == 0 || !wire_is_array(events)) {
		reply_err(req, REPLY_INVALID, "malformed event batch");
		free(from);
		return;
	}
	if (!links_epoch_ok(l, from, epoch)) {
		reply_err(req, "fenced",
		    "this node was declared lost; it must rejoin first");
		free(from);
		return;
	}
	free(from);
	if ((st = in_state(l, inc)) == NULL ||
	    (rec = commit_rec_new()) == NULL ||
	    (a = malloc(sizeof *a)) == NULL) {
		reply_err(req, REPLY_BUSY, "out of memory");
		return;
	}
	uint64_t next = st->applied + 1;
	/* (absent in a batch of an older sender: as if it started there) */
	uint64_t base = wire_as_u64(wire_get(msg, "base"), seq - 1);
	if (st->applied == 0 && seq > 1 && seq - 1 <= base) {
		/* Nothing from this sender was ever applied here, yet its
		 * stream starts later: the earlier events were acknowledged
		 * by an earlier store of this node (its data folder was
		 * replaced).  Start where the sender is - unless the batch
		 * starts past what the sender knows acknowledged (`base`):
		 * then an earlier batch, still on its way, comes first. */
		next = seq;
	}
	for (size_t i = 0; i < n; i++) {
		uint64_t s = seq + i;
		const void *p;
		size_t len;
		char *target;
		struct node_event *ev;
		struct node_target *t;
		uint64_t prev;

		if (s < next) {
			continue; /* a resend of what is applied */
		}
		if (!wire_as_bin(wire_at(events, i), &p, &len)) {
			break;
		}
		if (commit_gap_entry(p, len, &prev)) {
			/* A new process of the sender numbers from here: the
			 * numbers between what it had made durable and this
			 * do not exist (commit.h) - once this node holds all
			 * that it made durable. */
			if (prev >= next) {
				break;
			}
			next = s + 1;
			continue;
		}
		if (s > next) {
			break;
		}
		if (len == 2 && ((const unsigned char *)p)[0] == 0 &&
		    ((const unsigned char *)p)[1] == 0) {
			next++; /* withdrawn by the sender (links_readdress) */
			continue;
		}
		if (replica_is_entry(p, len)) {
			if (replica_apply(l->rep, &l->env, rec, p, len) != 0) {
				break;
			}
			next++;
			continue;
		}
		if (link_entry_decode(p, len, &target, &ev) != 0) {
			break;
		}
		t = l->env.find_target(l->env.ctx, target);
		free(target_dup);
		target_dup = t == NULL ? target : NULL;
		if (t != NULL) {
			free(target);
		}
		if (t != NULL && t->kind == NT_REMOTE) {
			/* It moved on: forward it, in this same commit. */
			node_event_free(ev);
			if (commit_rec_outbox(rec, t->rem->peer, p, len) !=
			    LEDGE_OK) {
				break;
			}
			atomic_fetch_add(&l->forwarded, 1);
			next++;
			continue;
		}
		if (t == NULL) {
			/* Not deployed here (yet, or any more): stop; the
			 * sender resends, or sends it where it runs now. */
			unknown = target_dup;
			target_dup = NULL;
			node_event_free(ev);
			break;
		}
		if (enqueue_durable_qid(
		        rec, t, ev, l->env.next_qid, l->env.ctx) != LEDGE_OK) {
			node_event_free(ev);
			break;
		}
		*tail = ev;
		tail = &ev->next;
		next++;
	}
	if (next - 1 > st->applied) {
		char name[32];
		snprintf(name, sizeof name, "lin%016" PRIx64, inc);
		unsigned char vb[8];
		store_be64(vb, next - 1);
		commit_rec_put(rec, STORE_META, name, strlen(name), vb, 8);
		st->applied = next - 1;
	}
	/* Acknowledged once durable - also for a batch that was all resent
	 * events: the record is then empty and completes after whatever
	 * earlier record applied them. */
	free(target_dup);
	a->l = l;
	a->req = req;
	a->acked = st->applied;
	a->unknown = unknown;
	rec->done = ack_durable;
	rec->arg = a;
	rec->unordered = true;
	commit_submit(l->env.commit, rec);
	while (ready != NULL) {
		struct node_event *ev = ready;
		ready = ev->next;
		ev->next = NULL;
		l->env.send(l->env.ctx, ev->to, ev);
	}
}
