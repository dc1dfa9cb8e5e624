/*
 * commit.c - the committer thread.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "base/hmap.h"
#include "node/commit.h"
#include "node/commit_obx.h"
#include "node/gate.h"
#include "node/node_call.h"

struct commit {
	struct store *store;
	struct rlog *log;
	void (*on_fatal)(void *, const char *);
	void *fatal_arg;
	pthread_t th;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct commit_rec *head, *tail;
	uint64_t next_seq; /* under mu */
	bool stopping;
	bool stopped;           /* thread gone: submissions fail fast */
	pthread_cond_t idle_cv; /* signalled after each batch finishes */
	uint64_t finished;      /* seq of the last finished record, mu */
	_Atomic uint64_t durable;
	_Atomic uint64_t last_seq;
	uint64_t max_qid; /* committer thread only */

	struct hmap qputs; /* committer thread only */
	struct commit_stats stats;
	pthread_mutex_t stats_mu;
	/* outbox numbering, committer thread only */
	struct commit_obx obx;
	bool early_ok; /* the next process's block is on disk */
	/* what may add to a record before it is applied (replication) */
	int (*on_expand)(void *, struct store_batch *, struct commit_rec *);
	void *expand_arg;
	/* a full store (apply_full), committer thread only */
	struct op_ref *cancelled; /* ops cancel_pairs made NOPs: put, del */
	size_t ncancelled, capcancelled;
	size_t *prelen; /* each record's length before expansion */
	size_t nprelen, capprelen;
	uint64_t full_logged_ms; /* last "did not fit" log line */
	uint64_t full_unlogged;  /* records failed since */
	/* the gate of synchronous replication */
	struct gate *gate;
	uint64_t gate_base;        /* this process's block of generations */
	bool gate_kick;            /* mu: an acknowledgement arrived */
	uint64_t gate_deadline_ms; /* mu: the first wait's end, or 0 */
	/* gate_run: one thread at a time takes records out of the gate and
	 * completes them, so completions keep the order of the records */
	pthread_mutex_t gate_mu;
	_Atomic uint64_t released;
};

/* An operation of a record, by position. */
struct op_ref {
	struct commit_rec *r;
	size_t off;
};

#define OP_HDR COMMIT_OP_HDR

void
commit_set_outbox_hook(struct commit *c,
    void (*fn)(void *, uint32_t, uint64_t, const void *, size_t), void *arg)
{
	c->obx.hook = fn;
	c->obx.hook_arg = arg;
}

void
commit_set_expand_hook(struct commit *c,
    int (*fn)(void *, struct store_batch *, struct commit_rec *), void *arg)
{
	c->on_expand = fn;
	c->expand_arg = arg;
}

struct del_prefix {
	struct store_batch *b;
	enum store_db db;
	int rv;
};

static int
del_scanned(void *arg, ledge_bytes key, ledge_bytes val)
{
	struct del_prefix *d = arg;
	(void)val;
	d->rv = store_batch_del(d->b, d->db, key.data, key.len);
	return d->rv != LEDGE_OK;
}

static void finish(struct commit_rec *batch, int err);

uint64_t
commit_submit(struct commit *c, struct commit_rec *r)
{
	uint64_t seq;
	bool wake;

	r->next = NULL;
	pthread_mutex_lock(&c->mu);
	if (c->stopped) {
		pthread_mutex_unlock(&c->mu);
		finish(r, LEDGE_ECLOSED);
		return 0;
	}
	seq = r->seq = ++c->next_seq;
	wake = c->head == NULL;
	if (c->tail) {
		c->tail->next = r;
	} else {
		c->head = r;
	}
	c->tail = r;
	atomic_store_explicit(&c->last_seq, seq, memory_order_release);
	pthread_mutex_unlock(&c->mu);
	if (wake) {
		pthread_cond_signal(&c->cv);
	}
	return seq;
}

uint64_t
commit_durable(struct commit *c)
{
	return atomic_load_explicit(&c->durable, memory_order_acquire);
}

uint64_t
commit_last_seq(struct commit *c)
{
	return atomic_load_explicit(&c->last_seq, memory_order_acquire);
}

void
commit_get_stats(struct commit *c, struct commit_stats *out)
{
	pthread_mutex_lock(&c->stats_mu);
	*out = c->stats;
	pthread_mutex_unlock(&c->stats_mu);
	gate_stats(
	    c->gate, &out->gate_waits, &out->gate_lagged, &out->gate_waiting);
}

/* Remember a cancelled pair by record and offset (a record's ops may
 * move when the expand hook appends), so that apply_each can undo it;
 * and each record's length before any expansion, so that a batch tried
 * again is expanded afresh.  Out of memory: the pair stays cancelled,
 * which is what the first try did anyway. */
static void
note_cancelled(struct commit *c, struct commit_rec *pr, size_t poff,
    struct commit_rec *dr, size_t doff)
{
	if (c->ncancelled + 2 > c->capcancelled) {
		size_t ncap = c->capcancelled ? c->capcancelled * 2 : 64;
		struct op_ref *n = realloc(c->cancelled, ncap * sizeof *n);
		if (n == NULL) {
			return;
		}
		c->cancelled = n;
		c->capcancelled = ncap;
	}
	c->cancelled[c->ncancelled++] = (struct op_ref) { pr, poff };
	c->cancelled[c->ncancelled++] = (struct op_ref) { dr, doff };
}

/* Offset in r of its queue put of `qkey` (it has one). */
static size_t
find_qput(const struct commit_rec *r, const unsigned char *qkey)
{
	size_t off = 0;
	while (off < r->len) {
		const unsigned char *p = r->ops + off;
		if (p[0] == STORE_QUEUE && p[1] == REC_PUT &&
		    store_rd32(p + 2) == STORE_QKEY &&
		    memcmp(p + OP_HDR, qkey, STORE_QKEY) == 0) {
			break;
		}
		off += OP_HDR + store_rd32(p + 2) + store_rd32(p + 6);
	}
	return off;
}

/*
 * First pass over a batch: a queue put followed by a delete of the same
 * id (an event emitted and consumed within the batch) becomes two NOPs.
 */
static size_t
cancel_pairs(struct commit *c, struct commit_rec *batch)
{
	size_t cancelled = 0, nrec = 0;
	hmap_clear(&c->qputs);
	c->ncancelled = 0;
	for (struct commit_rec *r = batch; r != NULL; r = r->next) {
		nrec++;
	}
	if (nrec > c->capprelen) {
		size_t *n = realloc(c->prelen, nrec * sizeof *n);
		if (n != NULL) {
			c->prelen = n;
			c->capprelen = nrec;
		}
	}
	nrec = 0;
	for (struct commit_rec *r = batch; r != NULL; r = r->next) {
		if (nrec < c->capprelen) {
			c->prelen[nrec++] = r->len;
		}
		for (size_t off = 0; off < r->len;) {
			unsigned char *p = r->ops + off;
			uint32_t klen = store_rd32(p + 2);
			uint32_t vlen = store_rd32(p + 6);
			if (p[0] == STORE_QUEUE && klen == STORE_QKEY) {
				if (p[1] == REC_PUT) {
					hmap_put(&c->qputs, p + OP_HDR,
					    STORE_QKEY, r, NULL);
				} else if (p[1] == REC_DEL) {
					struct commit_rec *pr = hmap_del(
					    &c->qputs, p + OP_HDR, STORE_QKEY);
					if (pr != NULL) {
						size_t poff =
						    find_qput(pr, p + OP_HDR);
						pr->ops[poff + 1] = REC_NOP;
						p[1] = REC_NOP;
						cancelled += 2;
						note_cancelled(
						    c, pr, poff, r, off);
					}
				}
			}
			off += OP_HDR + klen + vlen;
		}
	}
	c->nprelen = nrec;
	return cancelled;
}

/* Undo what earlier tries of this batch's expand hook appended. */
static void
unexpand(struct commit *c, struct commit_rec *batch)
{
	size_t i = 0;
	for (struct commit_rec *r = batch; r != NULL && i < c->nprelen;
	     r = r->next) {
		/* A husk (fail_rec: cap 0) has no ops any more. */
		r->len = r->cap != 0 ? c->prelen[i] : 0;
		i++;
	}
}

/* Delete key only if its value starts with `prefix`. */
static int
del_if(struct store_batch *b, enum store_db db, const void *key, size_t klen,
    const void *prefix, size_t plen)
{
	ledge_bytes cur;
	int rv = store_batch_get(b, db, key, klen, &cur);
	if (rv == LEDGE_ENOENT) {
		return LEDGE_OK;
	}
	if (rv != LEDGE_OK) {
		return rv;
	}
	if (cur.len < plen || memcmp(cur.data, prefix, plen) != 0) {
		return LEDGE_OK;
	}
	return store_batch_del(b, db, key, klen);
}

/* Apply the operations of one record to b. */
static int
apply_rec(
    struct commit *c, struct store_batch *b, struct commit_rec *r, size_t *nops)
{
	int rv = LEDGE_OK;

	r->repl_whole = false;
	if (c->on_expand != NULL &&
	    (rv = c->on_expand(c->expand_arg, b, r)) != LEDGE_OK) {
		return rv;
	}
	for (size_t off = 0; off < r->len && rv == LEDGE_OK;) {
		unsigned char *p = r->ops + off;
		uint32_t klen = store_rd32(p + 2);
		uint32_t vlen = store_rd32(p + 6);
		unsigned char *key = p + OP_HDR;
		if (p[1] == REC_PUT) {
			rv = store_batch_put(
			    b, p[0], key, klen, key + klen, vlen);
			(*nops)++;
		} else if (p[1] == REC_DEL) {
			rv = store_batch_del(b, p[0], key, klen);
			(*nops)++;
		} else if (p[1] == REC_DELIF) {
			rv = del_if(b, p[0], key, klen, key + klen, vlen);
			(*nops)++;
		} else if (p[1] == REC_DELPREFIX) {
			struct del_prefix d = { b, p[0], LEDGE_OK };
			rv = store_batch_scan(
			    b, p[0], key, klen, del_scanned, &d);
			rv = rv == LEDGE_OK ? d.rv : rv;
			(*nops)++;
		} else if (p[1] == REC_OUTBOX || p[1] == REC_OUTBOX_SYNC) {
			r->gated |= p[1] == REC_OUTBOX_SYNC;
			rv = obx_number(&c->obx, b, key, key + klen, vlen);
			(*nops)++;
		}
		off += OP_HDR + klen + vlen;
	}
	return rv;
}

/* The counters every batch keeps in meta, then the commit; `early`: the
 * batch, whose entries may go ahead of the commit (NULL: none may). */
static int
apply_end(struct commit *c, struct store_batch *b, uint64_t max_qid,
    struct commit_rec *early)
{
	uint64_t handed = 0;
	int rv = LEDGE_OK;
	/* Queue ids must never repeat, even once the queue is empty. */
	if (max_qid > c->max_qid) {
		rv = store_meta_put_u64(b, "next_qid", max_qid + 1);
	}
	/* Neither may outbox numbers, per peer. */
	if (rv == LEDGE_OK) {
		rv = obx_save(&c->obx, b);
	}
	if (rv != LEDGE_OK) {
		store_batch_abort(b);
		return rv;
	}
	if (early != NULL && c->early_ok &&
	    (handed = obx_hand_early(&c->obx, early)) > 0) {
		pthread_mutex_lock(&c->stats_mu);
		c->stats.early += handed;
		pthread_mutex_unlock(&c->stats_mu);
	}
	if ((rv = store_batch_commit(b)) == LEDGE_OK) {
		c->max_qid = max_qid;
	} else if (handed > 0) {
		/* Replicas may hold what this store now lacks: only a
		 * restart (a new snapshot for each) sets that right. */
		rlog_write(c->log, RLOG_ERROR, NULL,
		    "store commit failed (%s) after %llu replication "
		    "entries of it were sent ahead",
		    ledge_strerror(rv), (unsigned long long)handed);
		rv = LEDGE_ESTORE;
	}
	return rv;
}

static int
apply(struct commit *c, struct commit_rec *batch, size_t *nops)
{
	struct store_batch *b;
	int rv = store_batch_begin(c->store, &b);
	uint64_t max_qid = c->max_qid;

	if (rv != LEDGE_OK) {
		return rv;
	}
	unexpand(c, batch);
	for (struct commit_rec *r = batch; r != NULL && rv == LEDGE_OK;
	     r = r->next) {
		rv = apply_rec(c, b, r, nops);
		if (r->max_qid > max_qid) {
			max_qid = r->max_qid;
		}
	}
	if (rv != LEDGE_OK) {
		store_batch_abort(b);
	} else {
		rv = apply_end(c, b, max_qid, batch);
	}
	/* A batch that did not fit is tried again (apply_full): its outbox
	 * numbers go back. */
	obx_mark(&c->obx, OBX_SETTLE, rv == LEDGE_OK);
	return rv;
}

/*
 * A record that did not fit: its completions run now with `err`, and it
 * stays in the batch as an empty husk, so that the batch's order, its
 * durable mark and commit_flush are as before.  Its durable input event
 * (the queue delete in it) stays queued: see commit.h.
 */
static void
fail_rec(struct commit *c, struct commit_rec *r, int err)
{
	struct commit_rec husk = *r;
	r->call = NULL;
	r->done = NULL;
	/* Its ops stay allocated until the record is freed (apply_each's
	 * map of what failed points into them); cap 0 marks the husk.
	 * Nothing of it waits for replicas either. */
	r->len = r->cap = 0;
	r->gated = false;
	if (husk.call != NULL) {
		node_call_notify(husk.call, err);
		node_call_unref(husk.call);
	}
	if (husk.done != NULL) {
		husk.done(husk.arg, err);
	}
	store_count_refused(c->store, STORE_REFUSED_COMMIT);
	c->full_unlogged++;
}

/* Whether record r builds on one that failed: it consumes an event a
 * failed record emitted, or writes state of the same target (whose
 * writes it may have read from the write-behind cache).  `failed` maps
 * those queue keys and target prefixes. */
static bool
depends_on_failed(struct hmap *failed, const struct commit_rec *r)
{
	for (size_t off = 0; off < r->len;) {
		const unsigned char *p = r->ops + off;
		uint32_t klen = store_rd32(p + 2);
		uint32_t vlen = store_rd32(p + 6);
		if (p[0] == STORE_QUEUE && p[1] == REC_DEL &&
		    klen == STORE_QKEY &&
		    hmap_get(failed, p + OP_HDR, STORE_QKEY) != NULL) {
			return true;
		}
		if (p[0] == STORE_STATE &&
		    (p[1] == REC_PUT || p[1] == REC_DEL) && klen >= 4 &&
		    hmap_get(failed, p + OP_HDR, 4) != NULL) {
			return true;
		}
		off += OP_HDR + klen + vlen;
	}
	return false;
}

static void
note_failed(struct hmap *failed, struct commit_rec *r)
{
	for (size_t off = 0; off < r->len;) {
		unsigned char *p = r->ops + off;
		uint32_t klen = store_rd32(p + 2);
		uint32_t vlen = store_rd32(p + 6);
		if (p[0] == STORE_QUEUE && p[1] == REC_PUT &&
		    klen == STORE_QKEY) {
			hmap_put(failed, p + OP_HDR, STORE_QKEY, p, NULL);
		}
		if (p[0] == STORE_STATE && p[1] == REC_PUT && klen >= 4) {
			hmap_put(failed, p + OP_HDR, 4, p, NULL);
		}
		off += OP_HDR + klen + vlen;
	}
}

/* Whether a record only deletes (so it may use the store's reserve). */
static bool
only_deletes(const struct commit_rec *r)
{
	for (size_t off = 0; off < r->len;) {
		const unsigned char *p = r->ops + off;
		if (p[1] != REC_DEL && p[1] != REC_DELIF &&
		    p[1] != REC_DELPREFIX && p[1] != REC_NOP) {
			return false;
		}
		off += OP_HDR + store_rd32(p + 2) + store_rd32(p + 6);
	}
	return true;
}

/*
 * The batch again, one child transaction per record: a record that does
 * not fit (LEDGE_ENOSPC) is aborted alone and fails (fail_rec), and so do
 * later records that build on it (depends_on_failed).  With `deletes`,
 * only records that merely delete are tried, the rest fail.  Returns
 * LEDGE_OK when what fitted is committed, LEDGE_ENOSPC when even the
 * commit of that did not fit (nothing happened; records already failed
 * stay failed), or another error (fatal).
 */
static int
apply_each(
    struct commit *c, struct commit_rec *batch, size_t *nops, bool deletes)
{
	struct store_batch *b, *child;
	uint64_t max_qid = c->max_qid;
	struct hmap failed;
	int rv;

	/* Cancelled pairs again as written: a put may now fail while the
	 * delete that cancelled it commits, or the other way round. */
	unexpand(c, batch);
	for (size_t i = 0; i < c->ncancelled; i += 2) {
		c->cancelled[i].r->ops[c->cancelled[i].off + 1] = REC_PUT;
		c->cancelled[i + 1].r->ops[c->cancelled[i + 1].off + 1] =
		    REC_DEL;
	}
	c->ncancelled = 0;
	if ((rv = store_batch_begin(c->store, &b)) != LEDGE_OK) {
		return rv;
	}
	hmap_init(&failed);
	for (struct commit_rec *r = batch; r != NULL; r = r->next) {
		/* Numbers stay unique even for records that failed. */
		if (r->max_qid > max_qid) {
			max_qid = r->max_qid;
		}
		if (r->len == 0) {
			continue;
		}
		if ((deletes && !only_deletes(r)) ||
		    depends_on_failed(&failed, r)) {
			note_failed(&failed, r);
			fail_rec(c, r, LEDGE_ENOSPC);
			continue;
		}
		if ((rv = store_batch_child(b, &child)) != LEDGE_OK) {
			break;
		}
		obx_mark(&c->obx, OBX_SAVE, false);
		size_t n = 0;
		if ((rv = apply_rec(c, child, r, &n)) == LEDGE_OK) {
			rv = store_batch_commit(child);
		} else {
			store_batch_abort(child);
		}
		if (rv == LEDGE_ENOSPC) {
			obx_mark(&c->obx, OBX_RESTORE, false);
			note_failed(&failed, r);
			fail_rec(c, r, LEDGE_ENOSPC);
			rv = LEDGE_OK;
			continue;
		}
		if (rv != LEDGE_OK) {
			break;
		}
		*nops += n;
	}
	hmap_fini(&failed);
	if (rv != LEDGE_OK) {
		store_batch_abort(b);
	} else {
		rv = apply_end(c, b, max_qid, NULL);
	}
	obx_mark(&c->obx, OBX_SETTLE, rv == LEDGE_OK);
	return rv;
}

/* Log what did not fit, at most once a minute. */
static void
log_full(struct commit *c)
{
	uint64_t now = clock_mono_us() / 1000;
	struct store_space sp;
	if (c->full_unlogged == 0 ||
	    (c->full_logged_ms != 0 && now - c->full_logged_ms < 60000)) {
		return;
	}
	store_space(c->store, &sp);
	rlog_write(c->log, RLOG_WARN, NULL,
	    "store full (%llu of %llu bytes used): %llu record(s) did not "
	    "fit and failed with their events (%s); the node goes on",
	    (unsigned long long)sp.used, (unsigned long long)sp.limit,
	    (unsigned long long)c->full_unlogged, ledge_strerror(LEDGE_ENOSPC));
	c->full_logged_ms = now;
	c->full_unlogged = 0;
}

/*
 * A batch that did not fit (LEDGE_ENOSPC from apply): grow the map and
 * try again while it can grow; then once more after a commit of its own
 * that frees the pages of recent deletes (store_touch); then commit what
 * fits record by
 * record (apply_each), then - if even that commit did not fit - only the
 * records that delete, then nothing.  Returns LEDGE_OK or a fatal error.
 */
static int
apply_full(struct commit *c, struct commit_rec *batch, size_t *nops)
{
	int rv = LEDGE_ENOSPC;
	while (rv == LEDGE_ENOSPC && store_grow(c->store) == LEDGE_OK) {
		*nops = 0;
		rv = apply(c, batch, nops);
	}
	/* Pages freed by recent commits (a delete) are reused only two
	 * commits later, and only once no snapshot older than them is open
	 * (the handler whose record this is may still hold one): wait for
	 * the snapshots, make one small commit (store_touch), try again. */
	if (rv == LEDGE_ENOSPC) {
		store_quiesce(c->store, 50);
		if (store_touch(c->store) == LEDGE_OK) {
			*nops = 0;
			rv = apply(c, batch, nops);
		}
	}
	if (rv == LEDGE_ENOSPC) {
		*nops = 0;
		rv = apply_each(c, batch, nops, false);
	}
	if (rv == LEDGE_ENOSPC) {
		*nops = 0;
		rv = apply_each(c, batch, nops, true);
	}
	if (rv == LEDGE_ENOSPC) {
		/* Nothing fits: every record fails, nothing is written. */
		for (struct commit_rec *r = batch; r != NULL; r = r->next) {
			if (r->len > 0) {
				fail_rec(c, r, LEDGE_ENOSPC);
			}
		}
		*nops = 0;
		/* The caller counts this as a commit that synced (what it
		 * holds becomes durable): make it so. */
		rv = store_sync(c->store);
	}
	log_full(c);
	return rv;
}

/* Run one record's completion and free it. */
static void
complete(struct commit_rec *r, int err)
{
	if (r->call != NULL) {
		/* The reply was staged in the call before the record was
		 * queued; now it may go out. */
		node_call_notify(r->call, err);
		node_call_unref(r->call);
	}
	if (r->done != NULL) {
		r->done(r->arg, err);
	}
	commit_rec_free(r);
}

static void
finish(struct commit_rec *batch, int err)
{
	while (batch != NULL) {
		struct commit_rec *next = batch->next;
		complete(batch, err);
		batch = next;
	}
}

/* ------------------------------------------------------------------ */
/* the gate (node/gate.h)                                              */

/* Complete the records the gate lets out, in order; with err != LEDGE_OK
 * (stopping) every waiting record completes with it.  Any thread: the
 * committer after a commit, or the one that brought an acknowledgement
 * (commit_replicated), so that an answer waits for neither the
 * committer's wakeup nor its sync in progress. */
static void
gate_run(struct commit *c, int err)
{
	uint64_t now = clock_mono_ms();
	int64_t wait;
	pthread_mutex_lock(&c->gate_mu);
	pthread_mutex_lock(&c->mu);
	c->gate_kick = false;
	pthread_mutex_unlock(&c->mu);
	struct commit_rec *r = gate_take(c->gate, err, now, &wait);
	while (r != NULL) {
		struct commit_rec *next = r->next;
		r->next = NULL;
		if (!r->ahead) {
			/* (one let out ahead says nothing of the records
			 * before it) */
			atomic_store_explicit(
			    &c->released, r->seq, memory_order_release);
		}
		complete(r, err);
		r = next;
	}
	pthread_mutex_lock(&c->mu);
	uint64_t was = c->gate_deadline_ms;
	c->gate_deadline_ms = wait < 0 ? 0 : now + (uint64_t)wait;
	if (c->gate_deadline_ms != 0 &&
	    (was == 0 || c->gate_deadline_ms < was)) {
		/* The committer may be waiting without this deadline. */
		pthread_cond_signal(&c->cv);
	}
	pthread_mutex_unlock(&c->mu);
	pthread_mutex_unlock(&c->gate_mu);
}

/* Something may have opened: the committer looks again. */
static void
gate_kick(struct commit *c, bool kick)
{
	if (kick) {
		pthread_mutex_lock(&c->mu);
		c->gate_kick = true;
		pthread_cond_signal(&c->cv);
		pthread_mutex_unlock(&c->mu);
	}
}

int
commit_set_gate(struct commit *c, uint32_t timeout_ms,
    void (*fn)(void *, const struct gate_news *), void *arg)
{
	struct gate *g;
	int rv = gate_new(&g, timeout_ms, fn, arg);
	if (rv == LEDGE_OK) {
		gate_set_base(g, c->gate_base);
		gate_free(c->gate);
		c->gate = g;
	}
	return rv;
}

struct gate *
commit_gate(struct commit *c)
{
	return c->gate;
}

void
commit_replicated(struct commit *c, uint32_t peer, uint64_t acked)
{
	if (gate_acked(c->gate, peer, acked)) {
		gate_run(c, LEDGE_OK);
	}
}

void
commit_replica_lost(struct commit *c, uint32_t peer)
{
	gate_kick(c, gate_lost(c->gate, peer));
}

void
commit_replica_dropped(struct commit *c, uint32_t peer, uint64_t gen)
{
	gate_kick(c, gate_dropped(c->gate, peer, gen));
}

uint64_t
commit_released(struct commit *c)
{
	return atomic_load_explicit(&c->released, memory_order_acquire);
}

static void
mark_finished(struct commit *c, uint64_t seq)
{
	pthread_mutex_lock(&c->mu);
	c->finished = seq;
	pthread_cond_broadcast(&c->idle_cv);
	pthread_mutex_unlock(&c->mu);
}

/* Release a durable list of records: mark, count, complete. */
static void
release(struct commit *c, struct commit_rec *list, int err)
{
	uint64_t last = 0;
	for (struct commit_rec *r = list; r != NULL; r = r->next) {
		last = r->seq;
	}
	if (list == NULL) {
		return;
	}
	if (err != LEDGE_OK) {
		gate_run(c, err);
		finish(list, err);
		mark_finished(c, last);
		return;
	}
	atomic_store_explicit(&c->durable, last, memory_order_release);
	obx_hand(&c->obx, list);
	gate_enter(c->gate, list, clock_mono_ms());
	gate_run(c, LEDGE_OK);
	mark_finished(c, last);
}

static void
append(struct commit_rec **list, struct commit_rec *more)
{
	while (*list != NULL) {
		list = &(*list)->next;
	}
	*list = more;
}

/*
 * The committer.  A committed batch is "held" until its meta page is on
 * disk (see store_sync): the next commit's sync puts it there, or, when
 * nothing else is queued, an explicit sync.  Under load that is one sync
 * per batch, and no completion ever runs before its effects are durable.
 */
static void *
run(void *arg)
{
	struct commit *c = arg;
	struct commit_rec *held = NULL;

	for (;;) {
		struct commit_rec *batch;
		size_t nrec = 0, nops = 0, cancelled = 0;
		bool any = false;
		int rv = LEDGE_OK;

		pthread_mutex_lock(&c->mu);
		if (c->head == NULL && held != NULL) {
			pthread_mutex_unlock(&c->mu);
			rv = store_sync(c->store);
			if (rv != LEDGE_OK) {
				c->on_fatal(c->fatal_arg, "sync failed");
			}
			release(c, held, rv);
			held = NULL;
			continue;
		}
		while (c->head == NULL && !c->stopping && !c->gate_kick) {
			if (c->gate_deadline_ms == 0) {
				pthread_cond_wait(&c->cv, &c->mu);
				continue;
			}
			struct timespec ts = {
				(time_t)(c->gate_deadline_ms / 1000),
				(long)(c->gate_deadline_ms % 1000) * 1000000L,
			};
			if (pthread_cond_timedwait(&c->cv, &c->mu, &ts) ==
			    ETIMEDOUT) {
				c->gate_kick = true;
			}
		}
		if (c->head == NULL && !c->stopping) {
			/* A replica acknowledged, or one kept the gate
			 * waiting too long. */
			pthread_mutex_unlock(&c->mu);
			gate_run(c, LEDGE_OK);
			continue;
		}
		if (c->head == NULL) {
			/* From now on submissions fail fast (commit_submit). */
			c->stopped = true;
			pthread_mutex_unlock(&c->mu);
			gate_run(c, LEDGE_ECLOSED);
			pthread_mutex_lock(&c->mu);
			pthread_cond_broadcast(&c->idle_cv);
			pthread_mutex_unlock(&c->mu);
			break;
		}
		batch = c->head;
		c->head = c->tail = NULL;
		pthread_mutex_unlock(&c->mu);

		for (struct commit_rec *r = batch; r != NULL; r = r->next) {
			nrec++;
			any |= r->len > 0;
		}
		if (any) {
			cancelled = cancel_pairs(c, batch);
			rv = apply(c, batch, &nops);
			if (rv == LEDGE_ENOSPC) {
				rv = apply_full(c, batch, &nops);
			}
		}
		if (rv != LEDGE_OK) {
			rlog_write(c->log, RLOG_ERROR, NULL,
			    "store commit failed: %s", ledge_strerror(rv));
			c->on_fatal(c->fatal_arg, ledge_strerror(rv));
			release(c, held, rv);
			held = NULL;
			release(c, batch, rv);
			continue;
		}
		pthread_mutex_lock(&c->stats_mu);
		c->stats.batches += any;
		c->stats.records += nrec;
		c->stats.ops += nops;
		c->stats.cancelled += cancelled;
		pthread_mutex_unlock(&c->stats_mu);
		if (any) {
			/* This commit synced: what was held is durable. */
			release(c, held, LEDGE_OK);
			held = batch;
		} else if (held != NULL) {
			/* Nothing to write, but ordered after what is held. */
			append(&held, batch);
		} else {
			release(c, batch, LEDGE_OK);
		}
	}
	return NULL;
}

int
commit_start(struct commit **cp, struct store *store, struct rlog *log,
    void (*on_fatal)(void *, const char *), void *fatal_arg)
{
	struct commit *c = calloc(1, sizeof *c);
	if (c == NULL) {
		return LEDGE_ENOMEM;
	}
	c->store = store;
	c->log = log;
	c->on_fatal = on_fatal;
	c->fatal_arg = fatal_arg;
	/* The store keeps the next id; max_qid is the highest one used. */
	uint64_t next = store_meta_get_u64(store, "next_qid");
	c->max_qid = next ? next - 1 : 0;
	hmap_init(&c->qputs);
	pthread_mutex_init(&c->mu, NULL);
	pthread_mutex_init(&c->stats_mu, NULL);
	pthread_mutex_init(&c->gate_mu, NULL);
	{
		/* The gate's timeouts are on the monotonic clock. */
		pthread_condattr_t ca;
		pthread_condattr_init(&ca);
		pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
		pthread_cond_init(&c->cv, &ca);
		pthread_condattr_destroy(&ca);
	}
	pthread_cond_init(&c->idle_cv, NULL);
	/* Gate generations of this process: a block of 2^32 above every
	 * earlier one's (the orchestrator compares them across restarts,
	 * whatever the clock says). */
	c->gate_base = store_meta_get_u64(store, "gate_base");
	/* And outbox numbers (commit.h): the block is on disk before any
	 * entry numbered from it can leave. */
	obx_init(&c->obx, store, store_meta_get_u64(store, "obx_floor"));
	{
		struct store_batch *b;
		if (store_batch_begin(store, &b) == LEDGE_OK) {
			if (store_meta_put_u64(b, "gate_base",
			        c->gate_base + ((uint64_t)1 << 40)) ==
			        LEDGE_OK &&
			    store_meta_put_u64(b, "obx_floor",
			        c->obx.floor + OBX_BLOCK) == LEDGE_OK) {
				c->early_ok =
				    store_batch_commit(b) == LEDGE_OK &&
				    store_sync(store) == LEDGE_OK;
			} else {
				store_batch_abort(b);
			}
		}
	}
	if (gate_new(&c->gate, COMMIT_GATE_TIMEOUT_MS, NULL, NULL) ==
	    LEDGE_OK) {
		gate_set_base(c->gate, c->gate_base);
	}
	if (c->gate == NULL || pthread_create(&c->th, NULL, run, c) != 0) {
		gate_free(c->gate);
		pthread_cond_destroy(&c->idle_cv);
		pthread_cond_destroy(&c->cv);
		pthread_mutex_destroy(&c->mu);
		pthread_mutex_destroy(&c->stats_mu);
		pthread_mutex_destroy(&c->gate_mu);
		free(c);
		return LEDGE_ENOMEM;
	}
	*cp = c;
	return LEDGE_OK;
}

void
commit_flush(struct commit *c)
{
	pthread_mutex_lock(&c->mu);
	while (!c->stopped && c->finished < c->next_seq) {
		pthread_cond_wait(&c->idle_cv, &c->mu);
	}
	pthread_mutex_unlock(&c->mu);
}

void
commit_stop(struct commit *c)
{
	if (c == NULL) {
		return;
	}
	pthread_mutex_lock(&c->mu);
	if (c->stopped) {
		pthread_mutex_unlock(&c->mu);
		return;
	}
	c->stopping = true;
	pthread_cond_signal(&c->cv);
	pthread_mutex_unlock(&c->mu);
	pthread_join(c->th, NULL);
	pthread_mutex_lock(&c->mu);
	c->stopped = true;
	pthread_cond_broadcast(&c->idle_cv);
	pthread_mutex_unlock(&c->mu);
}

void
commit_free(struct commit *c)
{
	if (c == NULL) {
		return;
	}
	commit_stop(c);
	hmap_fini(&c->qputs);
	obx_fini(&c->obx);
	free(c->cancelled);
	free(c->prelen);
	gate_free(c->gate);
	pthread_cond_destroy(&c->idle_cv);
	pthread_cond_destroy(&c->cv);
	pthread_mutex_destroy(&c->mu);
	pthread_mutex_destroy(&c->stats_mu);
	pthread_mutex_destroy(&c->gate_mu);
	free(c);
}
