/*
 * replica.c - state replication, both ends (replica.h).
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "base/hmap.h"
#include "node/commit.h"
#include "node/gate.h"
#include "node/instance.h"
#include "node/links.h"
#include "node/replica.h"
#include "store/store.h"

#define OP_HDR COMMIT_OP_HDR

struct replica {
	/* replicated targets: id (4 bytes) -> struct repl_target, under mu */
	pthread_mutex_t mu;
	struct hmap repl;
	_Atomic size_t nrepl;
	_Atomic uint64_t applied; /* replication entries applied here */
	uint64_t next_tgen;       /* under mu */
	/* the replica's end (loop thread): per part name, the highest
	 * placement epoch whose entries were applied or that runs here;
	 * entries of an older primary are stale */
	struct hmap epochs;
	_Atomic uint64_t stale; /* entries refused as stale */
};

struct part_epoch {
	uint64_t epoch;
	size_t len;
	char name[];
};

struct repl_target {
	unsigned char key[4];
	char *name;
	bool sync;      /* its records wait for the replicas (commit gate) */
	uint64_t tgen;  /* which replica_set made it */
	uint64_t epoch; /* its placement epoch, stamped on its entries */
	size_t npeers;
	uint32_t *peers;
	/* per peer: it holds the last snapshot once it acknowledged this
	 * outbox number (REPL_NOT_HELD: no snapshot released yet;
	 * REPL_DROPPED: entries to it were withdrawn - perhaps the snapshot
	 * itself, which a tombstone then acknowledges - so it holds none
	 * until the next replica_set) */
	uint64_t *held;
};

#define REPL_NOT_HELD UINT64_MAX
#define REPL_DROPPED  (UINT64_MAX - 1)

static void
target_free(struct repl_target *t)
{
	if (t != NULL) {
		free(t->name);
		free(t->peers);
		free(t->held);
		free(t);
	}
}

/* The writes of one record to one replicated target (committer thread). */
struct repl_buf {
	struct repl_target *t;
	unsigned char *data;
	size_t len, cap;
};

int
replica_new(struct replica **rp)
{
	struct replica *r = calloc(1, sizeof *r);
	if (r == NULL) {
		return LEDGE_ENOMEM;
	}
	pthread_mutex_init(&r->mu, NULL);
	hmap_init(&r->repl);
	hmap_init(&r->epochs);
	*rp = r;
	return LEDGE_OK;
}

void
replica_free(struct replica *r)
{
	struct hmap_slot *sl;
	size_t pos = 0;
	if (r == NULL) {
		return;
	}
	while ((sl = hmap_next(&r->repl, &pos)) != NULL) {
		target_free(sl->value);
	}
	hmap_fini(&r->repl);
	pos = 0;
	while ((sl = hmap_next(&r->epochs, &pos)) != NULL) {
		free(sl->value);
	}
	hmap_fini(&r->epochs);
	pthread_mutex_destroy(&r->mu);
	free(r);
}

uint64_t
replica_applied(struct replica *r)
{
	return atomic_load(&r->applied);
}

/* ------------------------------------------------------------------ */
/* the primary's end                                                   */

int
replica_set(struct replica *c, uint32_t id, const char *name,
    const uint32_t *peers, size_t npeers, bool sync, uint64_t epoch,
    uint64_t *tgen)
{
	unsigned char key[4];
	struct repl_target *t = NULL, *old;

	store_be32(key, id);
	if (npeers > 0) {
		if ((t = calloc(1, sizeof *t)) == NULL ||
		    (t->name = strdup(name)) == NULL ||
		    (t->peers = malloc(npeers * sizeof *peers)) == NULL ||
		    (t->held = malloc(npeers * sizeof *t->held)) == NULL) {
			target_free(t);
			return LEDGE_ENOMEM;
		}
		memcpy(t->key, key, 4);
		memcpy(t->peers, peers, npeers * sizeof *peers);
		for (size_t i = 0; i < npeers; i++) {
			t->held[i] = REPL_NOT_HELD;
		}
		t->npeers = npeers;
		t->sync = sync;
		t->epoch = epoch;
	}
	pthread_mutex_lock(&c->mu);
	old = hmap_del(&c->repl, key, 4);
	if (t != NULL) {
		t->tgen = ++c->next_tgen;
		if (tgen != NULL) {
			*tgen = t->tgen;
		}
		if (hmap_put(&c->repl, t->key, 4, t, NULL) != 0) {
			target_free(t);
			pthread_mutex_unlock(&c->mu);
			return LEDGE_ENOMEM;
		}
	}
	atomic_store(&c->nrepl, c->repl.count);
	pthread_mutex_unlock(&c->mu);
	target_free(old);
	return LEDGE_OK;
}

void
replica_snapshot_done(
    struct replica *r, uint32_t id, uint64_t tgen, struct gate *g)
{
	unsigned char key[4];
	struct repl_target *t;
	store_be32(key, id);
	pthread_mutex_lock(&r->mu);
	if ((t = hmap_get(&r->repl, key, 4)) != NULL && t->tgen == tgen) {
		for (size_t i = 0; i < t->npeers; i++) {
			/* Everything durable for the peer, which includes the
			 * snapshot: the gate released it. */
			uint64_t gen, need = 0;
			(void)gate_peer_in_sync(
			    g, t->peers[i], &gen, NULL, &need);
			if (t->held[i] == REPL_NOT_HELD) {
				t->held[i] = need;
			}
		}
	}
	pthread_mutex_unlock(&r->mu);
}

void
replica_peer_dropped(struct replica *r, uint32_t peer)
{
	struct hmap_slot *sl;
	size_t pos = 0;
	pthread_mutex_lock(&r->mu);
	while ((sl = hmap_next(&r->repl, &pos)) != NULL) {
		struct repl_target *t = sl->value;
		for (size_t i = 0; i < t->npeers; i++) {
			if (t->peers[i] == peer) {
				t->held[i] = REPL_DROPPED;
			}
		}
	}
	pthread_mutex_unlock(&r->mu);
}

size_t
replica_status(struct replica *r, uint32_t id, struct gate *g,
    struct replica_status *out, size_t max)
{
	unsigned char key[4];
	struct repl_target *t;
	size_t n = 0;
	store_be32(key, id);
	pthread_mutex_lock(&r->mu);
	if ((t = hmap_get(&r->repl, key, 4)) != NULL) {
		for (size_t i = 0; i < t->npeers && n < max; i++, n++) {
			uint64_t gen = 0, acked = 0;
			bool in = gate_peer_in_sync(
			    g, t->peers[i], &gen, &acked, NULL);
			out[n].peer = t->peers[i];
			out[n].gen = gen;
			/* In sync: holds the snapshot and keeps pace (an
			 * `ack: primary` part never waits, so never is). */
			out[n].in_sync = t->sync && in &&
			    t->held[i] < REPL_DROPPED && acked >= t->held[i];
		}
	}
	pthread_mutex_unlock(&r->mu);
	return n;
}

static int
rb_add(struct repl_buf *rb, int db, int op, const void *key, size_t klen,
    const void *val, size_t vlen)
{
	size_t need = OP_HDR + klen + vlen;
	unsigned char *p;
	if (rb->cap - rb->len < need) {
		size_t ncap = rb->cap ? rb->cap * 2 : 256;
		while (ncap - rb->len < need) {
			ncap *= 2;
		}
		if ((p = realloc(rb->data, ncap)) == NULL) {
			return LEDGE_ENOMEM;
		}
		rb->data = p;
		rb->cap = ncap;
	}
	p = rb->data + rb->len;
	p[0] = (unsigned char)db;
	p[1] = (unsigned char)op;
	store_be32(p + 2, (uint32_t)klen);
	store_be32(p + 6, (uint32_t)vlen);
	if (klen) {
		memcpy(p + OP_HDR, key, klen);
	}
	if (vlen) {
		memcpy(p + OP_HDR + klen, val, vlen);
	}
	rb->len += need;
	return LEDGE_OK;
}

struct snap {
	struct repl_buf *rb;
	int db;
	int rv;
};

static int
snap_one(void *arg, ledge_bytes key, ledge_bytes val)
{
	struct snap *s = arg;
	s->rv = rb_add(s->rb, s->db, REC_PUT, (const char *)key.data + 4,
	    key.len - 4, val.data, val.len);
	return s->rv != LEDGE_OK;
}

static struct repl_buf *
rb_for(struct repl_buf **bufs, size_t *n, struct repl_target *t)
{
	struct repl_buf *grown;
	for (size_t i = 0; i < *n; i++) {
		if ((*bufs)[i].t == t) {
			return &(*bufs)[i];
		}
	}
	if ((grown = realloc(*bufs, (*n + 1) * sizeof *grown)) == NULL) {
		return NULL;
	}
	*bufs = grown;
	grown[*n] = (struct repl_buf) { t, NULL, 0, 0 };
	return &grown[(*n)++];
}

int
replica_expand(void *arg, struct store_batch *b, struct commit_rec *r)
{
	struct replica *c = arg;
	struct repl_buf *bufs = NULL;
	size_t nbufs = 0, end = r->len;
	int rv = LEDGE_OK;
	bool whole = true; /* every write is to a synchronous part */

	if (atomic_load_explicit(&c->nrepl, memory_order_relaxed) == 0) {
		return LEDGE_OK;
	}
	pthread_mutex_lock(&c->mu);
	for (size_t off = 0; off < end && rv == LEDGE_OK;) {
		unsigned char *p = r->ops + off;
		uint32_t klen = store_rd32(p + 2);
		uint32_t vlen = store_rd32(p + 6);
		unsigned char *key = p + OP_HDR;
		struct repl_target *t;
		struct repl_buf *rb;
		off += OP_HDR + klen + vlen;
		if ((p[0] != STORE_STATE && p[0] != STORE_QUEUE &&
		        p[0] != STORE_IDEM) ||
		    klen < 4 || (t = hmap_get(&c->repl, key, 4)) == NULL) {
			whole &= p[1] == REC_NOP;
			continue;
		}
		whole &= t->sync;
		if ((rb = rb_for(&bufs, &nbufs, t)) == NULL) {
			rv = LEDGE_ENOMEM;
			break;
		}
		if (p[1] == REC_SNAPSHOT) {
			static const int dbs[] = { STORE_STATE, STORE_QUEUE,
				STORE_IDEM };
			for (size_t i = 0; i < 3 && rv == LEDGE_OK; i++) {
				struct snap sn = { rb, dbs[i], LEDGE_OK };
				rv = rb_add(rb, dbs[i], REC_DELPREFIX, NULL, 0,
				    NULL, 0);
				if (rv == LEDGE_OK) {
					rv = store_batch_scan(
					    b, dbs[i], key, 4, snap_one, &sn);
					rv = rv == LEDGE_OK ? sn.rv : rv;
				}
			}
		} else if (p[1] == REC_PUT || p[1] == REC_DEL ||
		    p[1] == REC_DELIF || p[1] == REC_DELPREFIX) {
			rv = rb_add(rb, p[0], p[1], key + 4, klen - 4,
			    key + klen, vlen);
		}
	}
	for (size_t i = 0; i < nbufs && rv == LEDGE_OK; i++) {
		struct repl_buf *rb = &bufs[i];
		size_t nlen = strlen(rb->t->name) + 1;
		if (rb->len == 0) {
			continue; /* only cancelled operations */
		}
		size_t elen = 2 + nlen + 8 + rb->len;
		unsigned char *e = malloc(elen);
		if (e == NULL) {
			rv = LEDGE_ENOMEM;
			break;
		}
		e[0] = (unsigned char)(nlen >> 8);
		e[1] = (unsigned char)nlen;
		e[2] = REPL_MARK;
		memcpy(e + 3, rb->t->name, nlen - 1);
		store_be64(e + 2 + nlen, rb->t->epoch);
		memcpy(e + 2 + nlen + 8, rb->data, rb->len);
		for (size_t k = 0; k < rb->t->npeers && rv == LEDGE_OK; k++) {
			rv = rb->t->sync
			    ? commit_rec_outbox_sync(
			          r, rb->t->peers[k], e, elen)
			    : commit_rec_outbox(r, rb->t->peers[k], e, elen);
		}
		free(e);
	}
	/* Its entries may go ahead of its commit (commit.h). */
	r->repl_whole = whole && nbufs > 0 && rv == LEDGE_OK;
	pthread_mutex_unlock(&c->mu);
	for (size_t i = 0; i < nbufs; i++) {
		free(bufs[i].data);
	}
	free(bufs);
	return rv;
}

/* ------------------------------------------------------------------ */
/* the replica's end                                                   */

/*
 * The expiry index of a replicated Idempotency-Key answer (STORE_IDEMTIME,
 * which is not replicated: its keys start with the expiry, not the
 * target): written with the answer (a put: the value starts with the
 * expiry), deleted with it (a pruning del_if: the prefix is the expiry),
 * so that this node prunes the answers it keeps too.
 */
static int
idem_index(struct commit_rec *rec, int op, const unsigned char *key,
    size_t klen, const unsigned char *val, size_t vlen)
{
	unsigned char tk[8 + 4 + 256], *k = tk;
	int rv;
	if ((op != REC_PUT && op != REC_DELIF) || vlen < 8) {
		return LEDGE_OK;
	}
	if (8 + klen > sizeof tk && (k = malloc(8 + klen)) == NULL) {
		return LEDGE_ENOMEM;
	}
	memcpy(k, val, 8);
	memcpy(k + 8, key, klen);
	rv = op == REC_PUT
	    ? commit_rec_put(rec, STORE_IDEMTIME, k, 8 + klen, "", 0)
	    : commit_rec_del(rec, STORE_IDEMTIME, k, 8 + klen);
	if (k != tk) {
		free(k);
	}
	return rv;
}

/* The record of part `name`'s highest epoch (loaded from meta on first
 * use; loop thread), or NULL when out of memory. */
static struct part_epoch *
epoch_of(struct replica *r, const struct links_env *env, const char *name)
{
	size_t len = strlen(name);
	struct part_epoch *pe = hmap_get(&r->epochs, name, len);
	char key[600];
	if (pe != NULL || (pe = malloc(sizeof *pe + len + 1)) == NULL) {
		return pe;
	}
	memcpy(pe->name, name, len + 1);
	pe->len = len;
	snprintf(key, sizeof key, "rep:%s", name);
	pe->epoch = env->store ? store_meta_get_u64(env->store, key) : 0;
	if (hmap_put(&r->epochs, pe->name, len, pe, NULL) != 0) {
		free(pe);
		return NULL;
	}
	return pe;
}

/* Raise part `name`'s epoch to `epoch`, durably with rec. */
static int
epoch_raise(struct part_epoch *pe, struct commit_rec *rec, uint64_t epoch)
{
	char key[600];
	unsigned char v[8];
	if (epoch <= pe->epoch) {
		return LEDGE_OK;
	}
	snprintf(key, sizeof key, "rep:%s", pe->name);
	store_be64(v, epoch);
	pe->epoch = epoch;
	return commit_rec_put(rec, STORE_META, key, strlen(key), v, 8);
}

/* LEDGE_OK: entries of `epoch` for `name` apply (recorded in rec);
 * LEDGE_ESTATE: stale; or LEDGE_ENOMEM. */
static int
epoch_check(struct replica *r, const struct links_env *env,
    struct commit_rec *rec, const char *name, uint64_t epoch)
{
	struct part_epoch *pe = epoch_of(r, env, name);
	if (pe == NULL) {
		return LEDGE_ENOMEM;
	}
	if (epoch < pe->epoch) {
		atomic_fetch_add(&r->stale, 1);
		return LEDGE_ESTATE;
	}
	return epoch_raise(pe, rec, epoch);
}

int
replica_primary(struct replica *r, const struct links_env *env,
    struct commit_rec *rec, const char *name, uint64_t epoch)
{
	struct part_epoch *pe = epoch_of(r, env, name);
	return pe == NULL ? LEDGE_ENOMEM : epoch_raise(pe, rec, epoch);
}

uint64_t
replica_stale(struct replica *r)
{
	return atomic_load(&r->stale);
}

/* Whether `len` bytes are whole operations on the replicated dbs. */
static bool
ops_valid(const unsigned char *o, size_t len)
{
	while (len > 0) {
		uint32_t klen, vlen;
		if (len < 10) {
			return false;
		}
		klen = store_rd32(o + 2);
		vlen = store_rd32(o + 6);
		if (klen > len - 10 || vlen > len - 10 - klen ||
		    (o[0] != STORE_STATE && o[0] != STORE_QUEUE &&
		        o[0] != STORE_IDEM)) {
			return false;
		}
		o += 10 + klen + vlen;
		len -= 10 + klen + vlen;
	}
	return true;
}

int
replica_apply(struct replica *r, const struct links_env *env,
    struct commit_rec *rec, const void *entry, size_t len)
{
	const unsigned char *p = entry;
	size_t n = (size_t)p[0] << 8 | p[1];
	char name[512];
	uint32_t id;
	uint64_t epoch;
	struct node_target *t;
	unsigned char kbuf[4 + 1024];
	int rv;

	if (n < 2 || n > len - 2 || n > sizeof name) {
		return LEDGE_EPROTO;
	}
	memcpy(name, p + 3, n - 1);
	name[n - 1] = '\0';
	if (memchr(name, '\0', n - 1) != NULL) {
		return LEDGE_EPROTO;
	}
	if (len - 2 - n < 8) {
		return LEDGE_EPROTO;
	}
	epoch = store_rd64(p + 2 + n);
	if (!ops_valid(p + 2 + n + 8, len - 2 - n - 8)) {
		return LEDGE_EPROTO;
	}
	if ((t = env->find_target(env->ctx, name)) != NULL &&
	    t->kind == NT_INSTANCE) {
		return LEDGE_OK; /* it runs here: from a replaced primary */
	}
	/* From a primary older than one already heard from (or than this
	 * node's own time as the primary): stale, even while the part is
	 * between two deploys here. */
	if ((rv = epoch_check(r, env, rec, name, epoch)) != LEDGE_OK) {
		return rv == LEDGE_ESTATE ? LEDGE_OK : rv;
	}
	if ((rv = env->registry_id(env->ctx, name, &id)) != LEDGE_OK) {
		return rv;
	}
	store_be32(kbuf, id);
	for (size_t off = 2 + n + 8; off < len;) {
		const unsigned char *o = p + off;
		uint32_t klen, vlen;
		unsigned char *key;
		if (len - off < 10) {
			return LEDGE_EPROTO;
		}
		klen = store_rd32(o + 2);
		vlen = store_rd32(o + 6);
		if (klen > len - off - 10 || vlen > len - off - 10 - klen ||
		    (o[0] != STORE_STATE && o[0] != STORE_QUEUE &&
		        o[0] != STORE_IDEM)) {
			return LEDGE_EPROTO;
		}
		key = klen <= sizeof kbuf - 4 ? kbuf : malloc(4 + klen);
		if (key == NULL) {
			return LEDGE_ENOMEM;
		}
		memcpy(key, kbuf, 4);
		memcpy(key + 4, o + 10, klen);
		switch (o[1]) {
		case REC_PUT:
			rv = commit_rec_put(
			    rec, o[0], key, 4 + klen, o + 10 + klen, vlen);
			if (o[0] == STORE_QUEUE && klen == 8) {
				/* Its queue ids must not collide with ours. */
				env->qid_above(env->ctx, store_rd64(o + 10));
			}
			break;
		case REC_DEL:
			rv = commit_rec_del(rec, o[0], key, 4 + klen);
			break;
		case REC_DELIF:
			rv = commit_rec_del_if(
			    rec, o[0], key, 4 + klen, o + 10 + klen, vlen);
			break;
		case REC_DELPREFIX:
			rv = commit_rec_del_prefix(rec, o[0], key, 4 + klen);
			break;
		default:
			rv = LEDGE_EINVAL;
		}
		if (rv == LEDGE_OK && o[0] == STORE_IDEM) {
			rv = idem_index(
			    rec, o[1], key, 4 + klen, o + 10 + klen, vlen);
		}
		if (key != kbuf) {
			free(key);
		}
		if (rv != LEDGE_OK) {
			return rv;
		}
		off += 10 + klen + vlen;
	}
	atomic_fetch_add(&r->applied, 1);
	return LEDGE_OK;
}
