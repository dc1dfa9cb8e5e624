/*
 * link_send.c - the outgoing side of the links (links.h): each peer's
 * queue of durable outbox entries, sent in order in batches, several in
 * flight, resent with backoff until acknowledged; and re-addressing the
 * entries waiting for a peer to where their targets run now.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "base/rlog.h"
#include "node/commit.h"
#include "node/enqueue.h"
#include "node/instance.h"
#include "node/link_int.h"
#include "node/node_event.h"
#include "node/replica.h"
#include "store/store.h"

/* ------------------------------------------------------------------ */
/* sending                                                             */

static void
append_entry(struct peer *p, uint64_t seq, const void *data, size_t len)
{
	struct out_entry *e;
	if (seq <= p->acked || (p->tail && seq <= p->tail->seq)) {
		return; /* known already */
	}
	if ((e = malloc(sizeof *e + len)) == NULL) {
		/* It stays in the durable outbox; a restart sends it. */
		return;
	}
	e->next = NULL;
	e->seq = seq;
	e->len = len;
	memcpy(e->data, data, len);
	if (p->tail) {
		p->tail->next = e;
	} else {
		p->head = e;
	}
	p->tail = e;
	if (p->unsent == NULL && !p->stalled) {
		p->unsent = e;
	}
	p->nq++;
	atomic_fetch_add(&p->l->backlog, 1);
}

struct out_item {
	struct links *l;
	uint32_t peer;
	uint64_t seq;
	size_t len;
	unsigned char data[];
};

static void
deliver_out(void *arg)
{
	struct out_item *it = arg;
	struct peer *p;
	pthread_mutex_lock(&it->l->mu);
	p = link_find_peer_locked(it->l, NULL, it->peer);
	pthread_mutex_unlock(&it->l->mu);
	if (p != NULL) {
		append_entry(p, it->seq, it->data, it->len);
		link_send_kick(p);
	}
	free(it);
}

void
links_on_outbox(
    void *arg, uint32_t peer, uint64_t seq, const void *data, size_t len)
{
	struct links *l = arg;
	struct out_item *it = malloc(sizeof *it + len);
	if (it == NULL) {
		return; /* durable: sent after a restart */
	}
	it->l = l;
	it->peer = peer;
	it->seq = seq;
	it->len = len;
	memcpy(it->data, data, len);
	if (loop_post(l->env.loop, deliver_out, it) != 0) {
		free(it);
	}
}

struct restore {
	struct links *l;
};

static int
restore_one(void *arg, ledge_bytes key, ledge_bytes val)
{
	struct restore *r = arg;
	struct peer *p;
	if (key.len != 12) {
		return 0;
	}
	pthread_mutex_lock(&r->l->mu);
	p = link_find_peer_locked(r->l, NULL, store_rd32(key.data));
	pthread_mutex_unlock(&r->l->mu);
	if (p != NULL) {
		append_entry(p, store_rd64((const unsigned char *)key.data + 4),
		    val.data, val.len);
	}
	return 0;
}

void
links_restore(struct links *l)
{
	struct restore r = { l };
	store_scan(l->env.store, STORE_OUTBOX, restore_one, &r);
	pthread_mutex_lock(&l->mu);
	for (struct peer *p = l->peers; p != NULL; p = p->next) {
		/* What is left in the outbox is all unacknowledged. */
		if (p->head != NULL) {
			p->acked = p->head->seq - 1;
		}
	}
	pthread_mutex_unlock(&l->mu);
}

static void
schedule_retry(struct peer *p)
{
	loop_timer_start(p->retry, p->backoff_ms);
	p->backoff_ms =
	    p->backoff_ms * 2 > RETRY_MAX_MS ? RETRY_MAX_MS : p->backoff_ms * 2;
}

void
link_send_on_retry(void *arg)
{
	link_send_kick(arg);
}

/* Delete acknowledged entries from the durable outbox and the queue. */
static void
drop_acked(struct peer *p, uint64_t acked)
{
	struct commit_rec *rec = NULL;
	while (p->head != NULL && p->head->seq <= acked) {
		struct out_entry *e = p->head;
		unsigned char key[12];
		store_be32(key, p->id);
		store_be64(key + 4, e->seq);
		if (rec == NULL) {
			rec = commit_rec_new();
		}
		if (rec != NULL) {
			commit_rec_del(rec, STORE_OUTBOX, key, sizeof key);
		}
		p->head = e->next;
		if (p->head == NULL) {
			p->tail = NULL;
		}
		if (p->unsent == e) {
			p->unsent = e->next;
		}
		p->nq--;
		atomic_fetch_sub(&p->l->backlog, 1);
		free(e);
	}
	if (rec != NULL) {
		commit_submit(p->l->env.commit, rec);
	}
	if (acked > p->acked) {
		p->acked = acked;
		/* Durable there: writes waiting for this replica may be
		 * acknowledged. */
		commit_replicated(p->l->env.commit, p->id, acked);
	}
}

/* What to do once every batch of a stall has answered. */
static void
stall_settle(struct peer *p)
{
	if (p->stall_failed) {
		schedule_retry(p);
		return;
	}
	if (p->stall_progressed ||
	    (p->stall_ahead != 0 && p->acked + 1 >= p->stall_ahead)) {
		/* Something was taken, or a batch that overtook another may
		 * be taken now that the one ahead of it was. */
		p->backoff_ms = RETRY_MIN_MS;
		link_send_kick(p);
		return;
	}
	/* The peer took nothing: the first target is not deployed there
	 * (yet, e.g. during a move; or any more: then this node may know
	 * where it runs now).  Try again soon. */
	if (p->stall_unknown && links_readdress(p->l, p->name, false) > 0) {
		link_send_kick(p);
		return;
	}
	loop_timer_start(p->retry, RETRY_NOT_YET_MS);
}

/* An answer that did not take its batch whole: stop sending more; once
 * the batches still in flight have answered, settle.  `ahead`: the first
 * seq of a batch that arrived before the one ahead of it (0: none). */
static void
stall(
    struct peer *p, bool failed, bool progressed, bool unknown, uint64_t ahead)
{
	if (!p->stalled) {
		p->stalled = true;
		p->stall_failed = p->stall_progressed = p->stall_unknown =
		    false;
		p->stall_ahead = 0;
	}
	p->stall_failed |= failed;
	p->stall_progressed |= progressed;
	p->stall_unknown |= unknown;
	if (ahead != 0 && (p->stall_ahead == 0 || ahead < p->stall_ahead)) {
		p->stall_ahead = ahead;
	}
	if (p->inflight == 0) {
		stall_settle(p);
	}
}

static void
on_ack(void *arg, int err, const void *data, size_t len)
{
	struct batch_out *f = arg, **fp;
	struct peer *p = f->p;
	struct wire_r r;
	uint64_t first = f->first, last = f->last, sent_us = f->sent_us;

	if (p == NULL) {
		free(f); /* orphaned */
		return;
	}
	for (fp = &p->sent; *fp != f; fp = &(*fp)->next) { }
	*fp = f->next;
	p->inflight--;
	p->inflight_bytes -= f->bytes;
	free(f);
	if (err != MSG_OK || wire_parse(&r, data, len) != 0) {
		stall(p, true, false, false, 0);
		return;
	}
	wire_v root = wire_root(&r);
	if (!wire_as_bool(wire_get(root, "ok"), false)) {
		if (!p->fenced_logged) {
			char *why = wire_str_dup(wire_get(root, "error"));
			rlog_write(p->l->env.log, RLOG_WARN, p->l->self,
			    "link to %s refused: %s", p->name,
			    why ? why : "no reason given");
			free(why);
			p->fenced_logged = true;
		}
		wire_r_fini(&r);
		stall(p, true, false, false, 0);
		return;
	}
	p->fenced_logged = false;
	uint64_t acked = wire_as_u64(wire_get(root, "acked"), 0);
	bool progress = p->head == NULL || acked >= p->head->seq;
	bool unknown = wire_str_eq(wire_get(root, "code"), "unknown-target");
	{
		uint64_t us = clock_mono_us() - sent_us;
		pthread_mutex_lock(&p->l->mu);
		p->rtt_us = p->rtt_us ? (p->rtt_us * 7 + us) / 8 : us;
		pthread_mutex_unlock(&p->l->mu);
	}
	drop_acked(p, acked);
	wire_r_fini(&r);
	if (acked < last || p->stalled) {
		/* Not taken whole, or answered during a stall: what was sent
		 * after it is not taken either.  A batch that started past
		 * the peer's watermark arrived before the one ahead of it
		 * (each call is its own nng context): it tells nothing of
		 * its own; sending it again helps once the one ahead of it
		 * was taken (stall_settle).  One that started at the
		 * watermark and was not taken was refused (a target not
		 * there): wait. */
		stall(
		    p, false, progress, unknown, acked + 1 < first ? first : 0);
		return;
	}
	p->backoff_ms = RETRY_MIN_MS;
	link_send_kick(p);
}

void
link_send_orphan(struct peer *p)
{
	for (struct batch_out *f = p->sent; f != NULL; f = f->next) {
		f->p = NULL;
	}
	p->sent = NULL;
	p->inflight = 0;
	p->inflight_bytes = 0;
	p->stalled = false;
	p->unsent = p->head;
}

/* Send one batch from p->unsent on.  0, or -1 when it could not (out of
 * memory: the link stalls and retries). */
static int
send_batch(struct peer *p)
{
	struct out_entry *first = p->unsent, *e;
	struct batch_out *f, **fp;
	struct wire_w w;
	size_t n = 0, bytes = 0, len;
	const void *data;

	/* A batch is numbered from its first entry on, without gaps: it
	 * ends before the gap entry of a new process (commit.h). */
	for (e = first; e != NULL && n < BATCH_MAX && bytes < BATCH_BYTES &&
	     e->seq == first->seq + n;
	     e = e->next) {
		n++;
		bytes += e->len;
	}
	if ((f = malloc(sizeof *f)) == NULL) {
		return -1;
	}
	if (wire_w_init(&w) != 0) {
		free(f);
		return -1;
	}
	wire_map(&w, 8);
	wire_str(&w, "t");
	wire_str(&w, "ev");
	wire_str(&w, "from");
	wire_str(&w, p->l->self);
	wire_str(&w, "inc");
	wire_u64(&w, p->l->inc);
	wire_str(&w, "epoch");
	wire_u64(&w, atomic_load(&p->l->epoch));
	wire_str(&w, "seq");
	wire_u64(&w, first->seq);
	wire_str(&w, "n");
	wire_u64(&w, n);
	/* What this node knows the peer acknowledged: a batch that starts
	 * past base + 1 follows another still in flight. */
	wire_str(&w, "base");
	wire_u64(&w, p->acked);
	wire_str(&w, "events");
	wire_array(&w, n);
	for (struct out_entry *x = first; x != e; x = x->next) {
		wire_bin(&w, x->data, x->len);
	}
	if ((data = wire_data(&w, &len)) == NULL) {
		wire_w_fini(&w);
		free(f);
		return -1;
	}
	f->next = NULL;
	f->p = p;
	f->first = first->seq;
	f->last = first->seq + n - 1;
	f->bytes = bytes;
	f->sent_us = clock_mono_us();
	pthread_mutex_lock(&p->l->mu);
	p->batches++;
	if (f->first <= p->sent_hi) {
		p->retransmits +=
		    (f->last < p->sent_hi ? f->last : p->sent_hi) - f->first +
		    1;
	}
	if (f->last > p->sent_hi) {
		p->sent_hi = f->last;
	}
	pthread_mutex_unlock(&p->l->mu);
	for (fp = &p->sent; *fp != NULL; fp = &(*fp)->next) { }
	*fp = f;
	p->inflight++;
	p->inflight_bytes += bytes;
	p->unsent = e;
	msg_call(p->client, data, len, ACK_TIMEOUT_MS, on_ack, f);
	wire_w_fini(&w);
	return 0;
}

void
link_send_kick(struct peer *p)
{
	if (p->client == NULL) {
		return;
	}
	if (p->stalled) {
		if (p->inflight > 0) {
			return; /* settles when the last answers */
		}
		p->stalled = false;
		p->unsent = p->head;
	}
	while (p->unsent != NULL && !p->stalled &&
	    (p->inflight == 0 ||
	        (p->inflight < LINK_INFLIGHT &&
	            p->inflight_bytes < LINK_INFLIGHT_BYTES))) {
		if (send_batch(p) != 0) {
			stall(p, true, false, false, 0);
			return;
		}
	}
}

/* --- re-addressing ------------------------------------------------- */

size_t
links_readdress(struct links *l, const char *lost, bool is_lost)
{
	struct peer *p;
	struct commit_rec *rec;
	struct node_event *ready = NULL, **tail = &ready;
	size_t moved = 0, dropped = 0;
	static const unsigned char nop[2] = { 0, 0 };

	pthread_mutex_lock(&l->mu);
	p = link_find_peer_locked(l, lost, 0);
	pthread_mutex_unlock(&l->mu);
	if (p == NULL || p->head == NULL || (rec = commit_rec_new()) == NULL) {
		return 0;
	}
	for (struct out_entry *e = p->head; e != NULL; e = e->next) {
		size_t n;
		char *target;
		struct node_event *ev;
		struct node_target *t;
		unsigned char key[12];
		int rv = LEDGE_OK;

		if (e->len <= 2) {
			continue; /* withdrawn before */
		}
		n = (size_t)e->data[0] << 8 | e->data[1];
		if (n + 2 > e->len) {
			continue;
		}
		if (e->data[2] == REPL_MARK) {
			if (!is_lost) {
				continue; /* it applies them */
			}
			if (dropped == 0) {
				/* No write waits for a lost replica. */
				commit_replica_lost(l->env.commit, p->id);
				/* What it missed is gone: it holds no part's
				 * state until the next snapshot. */
				replica_peer_dropped(l->rep, p->id);
			}
			/* A lost replica: the new one starts from a snapshot.
			 */
			dropped++;
		} else {
			if (link_entry_decode(e->data, e->len, &target, &ev) !=
			    0) {
				continue;
			}
			t = l->env.find_target(l->env.ctx, target);
			free(target);
			if (t != NULL && t->kind == NT_REMOTE &&
			    t->rem->peer != p->id) {
				node_event_free(ev);
				rv = commit_rec_outbox(
				    rec, t->rem->peer, e->data, e->len);
			} else if (t != NULL && t->kind != NT_REMOTE) {
				/* It runs here now. */
				rv = enqueue_durable_qid(
				    rec, t, ev, l->env.next_qid, l->env.ctx);
				if (rv != LEDGE_OK) {
					node_event_free(ev);
				} else {
					*tail = ev;
					tail = &ev->next;
				}
			} else {
				node_event_free(ev);
				continue; /* still meant for that node */
			}
			if (rv != LEDGE_OK) {
				break;
			}
			moved++;
		}
		/* A tombstone keeps the numbering of the link without gaps. */
		store_be32(key, p->id);
		store_be64(key + 4, e->seq);
		if (commit_rec_put(rec, STORE_OUTBOX, key, sizeof key, nop,
		        2) != LEDGE_OK) {
			break;
		}
		e->len = 2;
		e->data[0] = e->data[1] = 0;
	}
	if (commit_rec_empty(rec)) {
		commit_rec_free(rec);
		return 0;
	}
	commit_submit(l->env.commit, rec);
	while (ready != NULL) {
		struct node_event *ev = ready;
		ready = ev->next;
		ev->next = NULL;
		l->env.send(l->env.ctx, ev->to, ev);
	}
	if (moved > 0) {
		rlog_write(l->env.log, RLOG_INFO, l->self,
		    "%zu events waiting for node %s go to where their targets "
		    "run now",
		    moved, lost);
	}
	return moved + dropped;
}
