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
	struct hmap obx_next; /* peer (4 bytes) -> struct obx_peer */
	void (*on_outbox)(void *, uint32_t, uint64_t, const void *, size_t);
	void *outbox_arg;
	/* what may add to a record before it is applied (replication) */
	int (*on_expand)(void *, struct store_batch *, struct commit_rec *);
	void *expand_arg;
	/* the gate of synchronous replication */
	struct hmap gate; /* peer (4 bytes) -> struct gate_peer, mu */
	bool gate_kick;   /* mu: an acknowledgement arrived */
	struct commit_rec *wait_head, *wait_tail; /* committer thread */
	size_t nwaiting;                          /* committer thread */
	uint64_t gate_deadline_ms; /* committer: the first wait's end, or 0 */
	uint64_t gate_waits, gate_lagged; /* mu */
	size_t gate_waiting;              /* mu */
	uint32_t gate_timeout_ms;
	void (*on_lag)(void *, uint32_t, bool, uint64_t);
	void *lag_arg;
	_Atomic uint64_t released;
};

/* What the gate knows of one peer (under mu). */
struct gate_peer {
	unsigned char key[4];
	uint64_t acked; /* highest outbox number it acknowledged */
	uint64_t need;  /* highest synchronous entry that became durable */
	uint64_t mark;  /* while lagging: in sync again once acked >= mark */
	bool lagging;
	bool told; /* the hook knows the current `lagging` */
};

struct obx_peer {
	unsigned char key[4];
	uint64_t next; /* last number handed out */
	bool touched;  /* in this batch */
};

#define OP_HDR COMMIT_OP_HDR

struct commit_rec *
commit_rec_new(void)
{
	return calloc(1, sizeof(struct commit_rec));
}

void
commit_rec_free(struct commit_rec *r)
{
	if (r != NULL) {
		free(r->ops);
		free(r);
	}
}

static unsigned char *
rec_append(struct commit_rec *r, enum store_db db, int op, const void *key,
    size_t klen, size_t vlen)
{
	size_t need = OP_HDR + klen + vlen;
	unsigned char *p;

	if (klen > UINT32_MAX || vlen > UINT32_MAX) {
		return NULL;
	}
	if (r->cap - r->len < need) {
		size_t ncap = r->cap ? r->cap * 2 : 256;
		while (ncap - r->len < need) {
			ncap *= 2;
		}
		if ((p = realloc(r->ops, ncap)) == NULL) {
			return NULL;
		}
		r->ops = p;
		r->cap = ncap;
	}
	p = r->ops + r->len;
	p[0] = (unsigned char)db;
	p[1] = (unsigned char)op;
	store_be32(p + 2, (uint32_t)klen);
	store_be32(p + 6, (uint32_t)vlen);
	memcpy(p + OP_HDR, key, klen);
	r->len += need;
	if (db == STORE_QUEUE && op == REC_PUT && klen >= 8) {
		uint64_t q = store_rd64((const unsigned char *)key + klen - 8);
		if (q > r->max_qid) {
			r->max_qid = q;
		}
	}
	return p + OP_HDR + klen;
}

int
commit_rec_put(struct commit_rec *r, enum store_db db, const void *key,
    size_t klen, const void *val, size_t vlen)
{
	unsigned char *p = rec_append(r, db, REC_PUT, key, klen, vlen);
	if (p == NULL) {
		return LEDGE_ENOMEM;
	}
	if (vlen) {
		memcpy(p, val, vlen);
	}
	return LEDGE_OK;
}

unsigned char *
commit_rec_put_reserve(struct commit_rec *r, enum store_db db, const void *key,
    size_t klen, size_t vlen)
{
	return rec_append(r, db, REC_PUT, key, klen, vlen);
}

int
commit_rec_del_if(struct commit_rec *r, enum store_db db, const void *key,
    size_t klen, const void *prefix, size_t plen)
{
	unsigned char *p = rec_append(r, db, REC_DELIF, key, klen, plen);
	if (p == NULL) {
		return LEDGE_ENOMEM;
	}
	if (plen) {
		memcpy(p, prefix, plen);
	}
	return LEDGE_OK;
}

static int
outbox_op(
    struct commit_rec *r, int op, uint32_t peer, const void *data, size_t len)
{
	unsigned char key[12] = { 0 };
	unsigned char *p;
	store_be32(key, peer);
	/* The committer writes the sequence into the last 8 key bytes. */
	p = rec_append(r, STORE_OUTBOX, op, key, sizeof key, len);
	if (p == NULL) {
		return LEDGE_ENOMEM;
	}
	if (len) {
		memcpy(p, data, len);
	}
	return LEDGE_OK;
}

int
commit_rec_outbox(
    struct commit_rec *r, uint32_t peer, const void *data, size_t len)
{
	return outbox_op(r, REC_OUTBOX, peer, data, len);
}

int
commit_rec_outbox_sync(
    struct commit_rec *r, uint32_t peer, const void *data, size_t len)
{
	return outbox_op(r, REC_OUTBOX_SYNC, peer, data, len);
}

void
commit_set_outbox_hook(struct commit *c,
    void (*fn)(void *, uint32_t, uint64_t, const void *, size_t), void *arg)
{
	c->on_outbox = fn;
	c->outbox_arg = arg;
}

void
commit_set_expand_hook(struct commit *c,
    int (*fn)(void *, struct store_batch *, struct commit_rec *), void *arg)
{
	c->on_expand = fn;
	c->expand_arg = arg;
}

/* The numbering state of a peer, loaded from meta on first use. */
static struct obx_peer *
obx_peer(struct commit *c, const unsigned char *peer)
{
	struct obx_peer *o = hmap_get(&c->obx_next, peer, 4);
	if (o == NULL && (o = calloc(1, sizeof *o)) != NULL) {
		char name[16];
		memcpy(o->key, peer, 4);
		snprintf(name, sizeof name, "obx%08x", store_rd32(peer));
		o->next = store_meta_get_u64(c->store, name);
		if (hmap_put(&c->obx_next, o->key, 4, o, NULL) != 0) {
			free(o);
			o = NULL;
		}
	}
	return o;
}

int
commit_rec_del_prefix(
    struct commit_rec *r, enum store_db db, const void *prefix, size_t plen)
{
	return rec_append(r, db, REC_DELPREFIX, prefix, plen, 0) ? LEDGE_OK
	                                                         : LEDGE_ENOMEM;
}

int
commit_rec_snapshot(struct commit_rec *r, uint32_t id)
{
	unsigned char key[4];
	store_be32(key, id);
	return rec_append(r, STORE_STATE, REC_SNAPSHOT, key, 4, 0)
	    ? LEDGE_OK
	    : LEDGE_ENOMEM;
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

int
commit_rec_del(
    struct commit_rec *r, enum store_db db, const void *key, size_t klen)
{
	return rec_append(r, db, REC_DEL, key, klen, 0) ? LEDGE_OK
	                                                : LEDGE_ENOMEM;
}

static void finish(struct commit *c, struct commit_rec *batch, int err);

uint64_t
commit_submit(struct commit *c, struct commit_rec *r)
{
	uint64_t seq;
	bool wake;

	r->next = NULL;
	pthread_mutex_lock(&c->mu);
	if (c->stopped) {
		pthread_mutex_unlock(&c->mu);
		finish(c, r, LEDGE_ECLOSED);
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
	pthread_mutex_lock(&c->mu);
	out->gate_waits = c->gate_waits;
	out->gate_lagged = c->gate_lagged;
	out->gate_waiting = c->gate_waiting;
	pthread_mutex_unlock(&c->mu);
}

/*
 * First pass over a batch: a queue put followed by a delete of the same
 * id (an event emitted and consumed within the batch) becomes two NOPs.
 */
static size_t
cancel_pairs(struct commit *c, struct commit_rec *batch)
{
	size_t cancelled = 0;
	hmap_clear(&c->qputs);
	for (struct commit_rec *r = batch; r != NULL; r = r->next) {
		for (size_t off = 0; off < r->len;) {
			unsigned char *p = r->ops + off;
			uint32_t klen = store_rd32(p + 2);
			uint32_t vlen = store_rd32(p + 6);
			if (p[0] == STORE_QUEUE && klen == STORE_QKEY) {
				if (p[1] == REC_PUT) {
					hmap_put(&c->qputs, p + OP_HDR,
					    STORE_QKEY, p, NULL);
				} else if (p[1] == REC_DEL) {
					unsigned char *put = hmap_del(
					    &c->qputs, p + OP_HDR, STORE_QKEY);
					if (put != NULL) {
						put[1] = REC_NOP;
						p[1] = REC_NOP;
						cancelled += 2;
					}
				}
			}
			off += OP_HDR + klen + vlen;
		}
	}
	return cancelled;
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

static int
apply(struct commit *c, struct commit_rec *batch, size_t *nops)
{
	struct store_batch *b;
	int rv = store_batch_begin(c->store, &b);
	uint64_t max_qid = c->max_qid;

	if (rv != LEDGE_OK) {
		return rv;
	}
	for (struct commit_rec *r = batch; r != NULL && rv == LEDGE_OK;
	     r = r->next) {
		if (c->on_expand != NULL &&
		    (rv = c->on_expand(c->expand_arg, b, r)) != LEDGE_OK) {
			break;
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
				rv = del_if(
				    b, p[0], key, klen, key + klen, vlen);
				(*nops)++;
			} else if (p[1] == REC_DELPREFIX) {
				struct del_prefix d = { b, p[0], LEDGE_OK };
				rv = store_batch_scan(
				    b, p[0], key, klen, del_scanned, &d);
				rv = rv == LEDGE_OK ? d.rv : rv;
				(*nops)++;
			} else if (p[1] == REC_OUTBOX ||
			    p[1] == REC_OUTBOX_SYNC) {
				struct obx_peer *o = obx_peer(c, key);
				r->gated |= p[1] == REC_OUTBOX_SYNC;
				if (o == NULL) {
					rv = LEDGE_ENOMEM;
				} else {
					store_be64(key + 4, ++o->next);
					o->touched = true;
					rv = store_batch_put(b, STORE_OUTBOX,
					    key, klen, key + klen, vlen);
					(*nops)++;
				}
			}
			off += OP_HDR + klen + vlen;
		}
		if (r->max_qid > max_qid) {
			max_qid = r->max_qid;
		}
	}
	/* Queue ids must never repeat, even once the queue is empty. */
	if (rv == LEDGE_OK && max_qid > c->max_qid) {
		rv = store_meta_put_u64(b, "next_qid", max_qid + 1);
	}
	/* Neither may outbox numbers, per peer. */
	struct hmap_slot *sl;
	size_t pos = 0;
	while (rv == LEDGE_OK && (sl = hmap_next(&c->obx_next, &pos)) != NULL) {
		struct obx_peer *o = sl->value;
		if (o->touched) {
			char name[16];
			snprintf(
			    name, sizeof name, "obx%08x", store_rd32(o->key));
			rv = store_meta_put_u64(b, name, o->next);
			o->touched = false;
		}
	}
	if (rv != LEDGE_OK) {
		store_batch_abort(b);
		return rv;
	}
	if ((rv = store_batch_commit(b)) == LEDGE_OK) {
		c->max_qid = max_qid;
	}
	return rv;
}

/* Hand the outbox entries of durable records to the links, in order. */
static void
hand_outbox(struct commit *c, struct commit_rec *list)
{
	for (struct commit_rec *r = list; r != NULL && c->on_outbox != NULL;
	     r = r->next) {
		for (size_t off = 0; off < r->len;) {
			unsigned char *p = r->ops + off;
			uint32_t klen = store_rd32(p + 2);
			uint32_t vlen = store_rd32(p + 6);
			if (p[1] == REC_OUTBOX || p[1] == REC_OUTBOX_SYNC) {
				c->on_outbox(c->outbox_arg,
				    store_rd32(p + OP_HDR),
				    store_rd64(p + OP_HDR + 4),
				    p + OP_HDR + klen, vlen);
			}
			off += OP_HDR + klen + vlen;
		}
	}
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
finish(struct commit *c, struct commit_rec *batch, int err)
{
	(void)c;
	while (batch != NULL) {
		struct commit_rec *next = batch->next;
		complete(batch, err);
		batch = next;
	}
}

/* ------------------------------------------------------------------ */
/* the gate                                                            */

/* The gate's record of peer key (4 bytes), created on first use; mu. */
static struct gate_peer *
gate_peer(struct commit *c, const unsigned char *key)
{
	struct gate_peer *g = hmap_get(&c->gate, key, 4);
	if (g == NULL && (g = calloc(1, sizeof *g)) != NULL) {
		memcpy(g->key, key, 4);
		g->told = true;
		if (hmap_put(&c->gate, g->key, 4, g, NULL) != 0) {
			free(g);
			g = NULL;
		}
	}
	return g;
}

/* Has every synchronous entry of r been acknowledged (or is its peer
 * lagging)?  With `expire`, peers that keep it waiting become lagging.
 * mu held. */
static bool
gate_open(struct commit *c, struct commit_rec *r, bool expire)
{
	bool open = true;
	for (size_t off = 0; off < r->len && r->gated;) {
		unsigned char *p = r->ops + off;
		uint32_t klen = store_rd32(p + 2);
		uint32_t vlen = store_rd32(p + 6);
		if (p[1] == REC_OUTBOX_SYNC) {
			struct gate_peer *g = gate_peer(c, p + OP_HDR);
			uint64_t seq = store_rd64(p + OP_HDR + 4);
			if (g != NULL && !g->lagging && g->acked < seq) {
				if (expire) {
					g->lagging = true;
					g->told = false;
					g->mark = g->need;
					c->gate_lagged++;
				} else {
					open = false;
				}
			}
		}
		off += OP_HDR + klen + vlen;
	}
	return open;
}

/* Durable records join the gate's queue (committer thread). */
static void
gate_enter(struct commit *c, struct commit_rec *list)
{
	uint64_t now = clock_mono_ms();
	pthread_mutex_lock(&c->mu);
	for (struct commit_rec *r = list; r != NULL; r = r->next) {
		r->durable_ms = now;
		for (size_t off = 0; off < r->len && r->gated;) {
			unsigned char *p = r->ops + off;
			uint32_t klen = store_rd32(p + 2);
			uint32_t vlen = store_rd32(p + 6);
			struct gate_peer *g;
			if (p[1] == REC_OUTBOX_SYNC &&
			    (g = gate_peer(c, p + OP_HDR)) != NULL) {
				uint64_t seq = store_rd64(p + OP_HDR + 4);
				g->need = seq > g->need ? seq : g->need;
			}
			off += OP_HDR + klen + vlen;
		}
		if (r->gated) {
			c->gate_waits++;
		}
	}
	pthread_mutex_unlock(&c->mu);
	if (c->wait_tail != NULL) {
		c->wait_tail->next = list;
	} else {
		c->wait_head = list;
	}
	for (struct commit_rec *r = list; r != NULL; r = r->next) {
		c->wait_tail = r;
		c->nwaiting++;
	}
}

/* Tell the hook of peers that started or stopped lagging; mu held (the
 * hook runs with it released). */
static void
gate_tell(struct commit *c)
{
	struct hmap_slot *sl;
	size_t pos = 0;
	while ((sl = hmap_next(&c->gate, &pos)) != NULL) {
		struct gate_peer *g = sl->value;
		if (!g->told) {
			bool lagging = g->lagging;
			uint64_t behind =
			    g->need > g->acked ? g->need - g->acked : 0;
			uint32_t peer = store_rd32(g->key);
			g->told = true;
			if (c->on_lag != NULL) {
				pthread_mutex_unlock(&c->mu);
				c->on_lag(c->lag_arg, peer, lagging, behind);
				pthread_mutex_lock(&c->mu);
				pos = 0; /* the table may have changed */
			}
		}
	}
}

/*
 * Complete the waiting records, in order, as far as the gate is open;
 * those waiting longer than the timeout mark their peers lagging.  With
 * err != LEDGE_OK (stopping) every waiting record completes with it.
 * Returns the ms until the first one still waiting times out (or -1).
 */
static int64_t
gate_run(struct commit *c, int err)
{
	int64_t wait = -1;
	uint64_t now = clock_mono_ms(), last = 0;

	pthread_mutex_lock(&c->mu);
	c->gate_kick = false;
	while (c->wait_head != NULL) {
		struct commit_rec *r = c->wait_head;
		bool expire = now >= r->durable_ms + c->gate_timeout_ms;
		if (err == LEDGE_OK && !gate_open(c, r, expire)) {
			wait =
			    (int64_t)(r->durable_ms + c->gate_timeout_ms - now);
			break;
		}
		/* A peer it marked lagging is told first (logged before the
		 * answer it lets out). */
		gate_tell(c);
		c->wait_head = r->next;
		if (c->wait_head == NULL) {
			c->wait_tail = NULL;
		}
		c->nwaiting--;
		r->next = NULL;
		last = r->seq;
		pthread_mutex_unlock(&c->mu);
		atomic_store_explicit(
		    &c->released, r->seq, memory_order_release);
		complete(r, err);
		pthread_mutex_lock(&c->mu);
	}
	gate_tell(c);
	c->gate_waiting = c->nwaiting;
	pthread_mutex_unlock(&c->mu);
	(void)last;
	c->gate_deadline_ms = wait < 0 ? 0 : now + (uint64_t)wait;
	return wait;
}

void
commit_set_gate(struct commit *c, uint32_t timeout_ms,
    void (*fn)(void *, uint32_t, bool, uint64_t), void *arg)
{
	c->gate_timeout_ms = timeout_ms;
	c->on_lag = fn;
	c->lag_arg = arg;
}

void
commit_replicated(struct commit *c, uint32_t peer, uint64_t acked)
{
	unsigned char key[4];
	struct gate_peer *g;
	store_be32(key, peer);
	pthread_mutex_lock(&c->mu);
	if ((g = gate_peer(c, key)) != NULL && acked > g->acked) {
		g->acked = acked;
		if (g->lagging) {
			/* Caught up with what was outstanding at its last
			 * acknowledgement: it keeps pace again. */
			if (acked >= g->mark) {
				g->lagging = false;
				g->told = false;
			} else {
				g->mark = g->need;
			}
		}
		c->gate_kick = true;
		pthread_cond_signal(&c->cv);
	}
	pthread_mutex_unlock(&c->mu);
}

void
commit_replica_lost(struct commit *c, uint32_t peer)
{
	unsigned char key[4];
	struct gate_peer *g;
	store_be32(key, peer);
	pthread_mutex_lock(&c->mu);
	if ((g = gate_peer(c, key)) != NULL && !g->lagging) {
		g->lagging = true;
		g->told = false;
		g->mark = g->need;
		c->gate_lagged++;
		c->gate_kick = true;
		pthread_cond_signal(&c->cv);
	}
	pthread_mutex_unlock(&c->mu);
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
		finish(c, list, err);
		mark_finished(c, last);
		return;
	}
	atomic_store_explicit(&c->durable, last, memory_order_release);
	hand_outbox(c, list);
	gate_enter(c, list);
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
	hmap_init(&c->obx_next);
	pthread_mutex_init(&c->mu, NULL);
	pthread_mutex_init(&c->stats_mu, NULL);
	hmap_init(&c->gate);
	c->gate_timeout_ms = COMMIT_GATE_TIMEOUT_MS;
	{
		/* The gate's timeouts are on the monotonic clock. */
		pthread_condattr_t ca;
		pthread_condattr_init(&ca);
		pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
		pthread_cond_init(&c->cv, &ca);
		pthread_condattr_destroy(&ca);
	}
	pthread_cond_init(&c->idle_cv, NULL);
	if (pthread_create(&c->th, NULL, run, c) != 0) {
		pthread_cond_destroy(&c->idle_cv);
		pthread_cond_destroy(&c->cv);
		pthread_mutex_destroy(&c->mu);
		pthread_mutex_destroy(&c->stats_mu);
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
	struct hmap_slot *sl;
	size_t pos = 0;
	while ((sl = hmap_next(&c->obx_next, &pos)) != NULL) {
		free(sl->value);
	}
	hmap_fini(&c->obx_next);
	pos = 0;
	while ((sl = hmap_next(&c->gate, &pos)) != NULL) {
		free(sl->value);
	}
	hmap_fini(&c->gate);
	pthread_cond_destroy(&c->idle_cv);
	pthread_cond_destroy(&c->cv);
	pthread_mutex_destroy(&c->mu);
	pthread_mutex_destroy(&c->stats_mu);
	free(c);
}
