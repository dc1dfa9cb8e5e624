/*
 * store_lmdb.c - the node store on LMDB.  The only file that includes
 * lmdb.h.
 */
#include <errno.h>
#include <lmdb.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>

#include "base/hmap.h"
#include "base/path.h"
#include "store/store.h"

static const char *const db_names[STORE_NDB] = { "state", "queue", "idem",
	"idemtime", "registry", "meta", "outbox", "orc_wf", "orc_code",
	"orc_node", "orc_place" };

struct store {
	MDB_env *env;
	MDB_dbi dbi[STORE_NDB];
	pthread_mutex_t reg_mu; /* serialises registry id assignment */

	/* Space (see store.h).  The gate: every open transaction counts in
	 * `open`; store_grow sets `resizing`, which holds new ones back,
	 * and remaps once `open` is 0. */
	bool grow;
	uint64_t limit;
	_Atomic uint64_t mapsize;
	_Atomic uint64_t used;
	_Atomic unsigned psize; /* set by the committer, read by handlers */
	pthread_mutex_t gate_mu;
	pthread_cond_t gate_cv;
	unsigned open;
	bool resizing;
	unsigned quiet_waiters;              /* in store_quiesce */
	_Atomic uint64_t grow_not_before_ms; /* grow_ahead's pause */
	_Atomic uint64_t refused[STORE_REFUSED_N];

	/* committed state bytes per target id: 4-byte key -> struct acct */
	pthread_mutex_t acct_mu;
	struct hmap acct;
};

struct acct {
	unsigned char key[4];
	uint64_t bytes;
};

/* A batch's changes of state bytes, per target id, until it commits. */
struct acct_delta {
	uint32_t id;
	int64_t d;
};

struct store_reader {
	struct store *s;
	MDB_txn *txn; /* reset between uses */
	bool active;
};

struct store_batch {
	struct store *s;
	struct store_batch *parent; /* a child transaction's */
	MDB_txn *txn;
	struct acct_delta *acct;
	size_t nacct, capacct;
};

static int batch_new(
    struct store *s, struct store_batch *parent, struct store_batch **bp);

/* --- the gate of the map (see store.h, Space) ---------------------- */

static void
gate_enter(struct store *s)
{
	if (!s->grow) {
		return;
	}
	pthread_mutex_lock(&s->gate_mu);
	while (s->resizing) {
		pthread_cond_wait(&s->gate_cv, &s->gate_mu);
	}
	s->open++;
	pthread_mutex_unlock(&s->gate_mu);
}

static void
gate_leave(struct store *s)
{
	if (!s->grow) {
		return;
	}
	pthread_mutex_lock(&s->gate_mu);
	if (--s->open == 0 && (s->resizing || s->quiet_waiters > 0)) {
		pthread_cond_broadcast(&s->gate_cv);
	}
	pthread_mutex_unlock(&s->gate_mu);
}

static int
map_err(int rc)
{
	switch (rc) {
	case 0:
		return LEDGE_OK;
	case MDB_NOTFOUND:
		return LEDGE_ENOENT;
	case MDB_BAD_VALSIZE:
		return LEDGE_ETOOBIG;
	case ENOMEM:
		return LEDGE_ENOMEM;
	case MDB_MAP_FULL:
	case ENOSPC:
	case EDQUOT:
		return LEDGE_ENOSPC;
	default:
		return LEDGE_ESTORE;
	}
}

static void
store_free_mem(struct store *s)
{
	struct hmap_slot *sl;
	size_t pos = 0;
	while ((sl = hmap_next(&s->acct, &pos)) != NULL) {
		free(sl->value);
	}
	hmap_fini(&s->acct);
	pthread_mutex_destroy(&s->acct_mu);
	pthread_cond_destroy(&s->gate_cv);
	pthread_mutex_destroy(&s->gate_mu);
	pthread_mutex_destroy(&s->reg_mu);
	free(s);
}

/* Live pages of every database, LMDB's own two included, in bytes. */
static int
live_bytes(struct store *s, MDB_txn *txn, uint64_t *out)
{
	MDB_stat st;
	uint64_t pages = 0;
	int rc;
	for (int i = -2; i < STORE_NDB; i++) {
		/* -2: LMDB's free list (dbi 0), -1: its main database */
		MDB_dbi dbi = i < 0 ? (MDB_dbi)(i + 2) : s->dbi[i];
		if ((rc = mdb_stat(txn, dbi, &st)) != 0) {
			return rc;
		}
		pages += st.ms_branch_pages + st.ms_leaf_pages +
		    st.ms_overflow_pages;
		atomic_store_explicit(
		    &s->psize, st.ms_psize, memory_order_relaxed);
	}
	*out = pages * atomic_load_explicit(&s->psize, memory_order_relaxed);
	return 0;
}

/* Add d to the committed bytes of target id (the caller holds acct_mu). */
static int
acct_add(struct store *s, uint32_t id, int64_t d)
{
	unsigned char k[4];
	struct acct *a;
	store_be32(k, id);
	if ((a = hmap_get(&s->acct, k, 4)) == NULL) {
		if (d <= 0 || (a = calloc(1, sizeof *a)) == NULL) {
			return d <= 0 ? 0 : ENOMEM;
		}
		memcpy(a->key, k, 4);
		if (hmap_put(&s->acct, a->key, 4, a, NULL) != LEDGE_OK) {
			free(a);
			return ENOMEM;
		}
	}
	a->bytes =
	    d < 0 && (uint64_t)-d > a->bytes ? 0 : a->bytes + (uint64_t)d;
	return 0;
}

/* At open: what is there, counted once (a scan of the state). */
static int
acct_load(struct store *s)
{
	MDB_txn *txn;
	MDB_cursor *c;
	MDB_val k, v;
	uint64_t used = 0;
	int rc = mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn);
	if (rc != 0) {
		return rc;
	}
	if ((rc = live_bytes(s, txn, &used)) != 0 ||
	    (rc = mdb_cursor_open(txn, s->dbi[STORE_STATE], &c)) != 0) {
		mdb_txn_abort(txn);
		return rc;
	}
	s->used = used;
	rc = mdb_cursor_get(c, &k, &v, MDB_FIRST);
	while (rc == 0) {
		if (k.mv_size >= 4 &&
		    acct_add(s, store_rd32(k.mv_data),
		        (int64_t)(k.mv_size - 4 + v.mv_size)) != 0) {
			rc = ENOMEM;
			break;
		}
		rc = mdb_cursor_get(c, &k, &v, MDB_NEXT);
	}
	mdb_cursor_close(c);
	mdb_txn_abort(txn);
	return rc == MDB_NOTFOUND ? 0 : rc;
}

int
store_open(struct store **sp, const char *dir, const struct store_opts *o,
    char *err, size_t errlen)
{
	struct store *s;
	MDB_txn *txn = NULL;
	size_t map_mb =
	    o && o->map_mb ? o->map_mb : (sizeof(void *) == 8 ? 8192 : 512);
	bool grow = o && o->grow && map_mb > STORE_MAP_START_MB;
	size_t start_mb = grow ? STORE_MAP_START_MB : map_mb;
	unsigned flags =
	    MDB_NOTLS | (o && o->nosync ? MDB_NOSYNC : MDB_NOMETASYNC);
	MDB_envinfo info;
	int rc;

	if (path_mkdirs(dir) != LEDGE_OK) {
		snprintf(err, errlen, "cannot create store folder '%s': %s",
		    dir, strerror(errno));
		return LEDGE_ESTORE;
	}
	if ((s = calloc(1, sizeof *s)) == NULL) {
		snprintf(err, errlen, "out of memory");
		return LEDGE_ENOMEM;
	}
	pthread_mutex_init(&s->reg_mu, NULL);
	pthread_mutex_init(&s->gate_mu, NULL);
	pthread_cond_init(&s->gate_cv, NULL);
	pthread_mutex_init(&s->acct_mu, NULL);
	hmap_init(&s->acct);
	s->limit = (uint64_t)map_mb << 20;
	/* Mode 0600: the state is its user's alone (a function host
	 * running as another user cannot read it). */
	if ((rc = mdb_env_create(&s->env)) != 0 ||
	    (rc = mdb_env_set_maxdbs(s->env, STORE_NDB + 2)) != 0 ||
	    (rc = mdb_env_set_maxreaders(s->env, 1024)) != 0 ||
	    (rc = mdb_env_set_mapsize(s->env, start_mb << 20)) != 0 ||
	    (rc = mdb_env_open(s->env, dir, flags, 0600)) != 0) {
		snprintf(err, errlen, "cannot open store in '%s': %s", dir,
		    mdb_strerror(rc));
		goto fail;
	}
	if ((rc = mdb_txn_begin(s->env, NULL, 0, &txn)) != 0) {
		snprintf(err, errlen, "store '%s': %s", dir, mdb_strerror(rc));
		goto fail;
	}
	for (int i = 0; i < STORE_NDB; i++) {
		if ((rc = mdb_dbi_open(
		         txn, db_names[i], MDB_CREATE, &s->dbi[i])) != 0) {
			snprintf(err, errlen, "store '%s': database %s: %s",
			    dir, db_names[i], mdb_strerror(rc));
			mdb_txn_abort(txn);
			goto fail;
		}
	}
	if ((rc = mdb_txn_commit(txn)) != 0) {
		snprintf(err, errlen, "store '%s': %s", dir, mdb_strerror(rc));
		goto fail;
	}
	/* Readers left behind by a killed process would pin old pages. */
	int dead = 0;
	mdb_reader_check(s->env, &dead);
	/* LMDB maps at least what the file holds (a reopened store). */
	if ((rc = mdb_env_info(s->env, &info)) != 0 ||
	    (rc = acct_load(s)) != 0) {
		snprintf(err, errlen, "store '%s': %s", dir, mdb_strerror(rc));
		goto fail;
	}
	s->mapsize = info.me_mapsize;
	s->grow = grow;
	*sp = s;
	return LEDGE_OK;
fail:
	if (s->env != NULL) {
		mdb_env_close(s->env);
	}
	store_free_mem(s);
	return map_err(rc) == LEDGE_OK ? LEDGE_ESTORE : map_err(rc);
}

void
store_close(struct store *s)
{
	if (s == NULL) {
		return;
	}
	mdb_env_sync(s->env, 1);
	mdb_env_close(s->env);
	store_free_mem(s);
}

int
store_sync(struct store *s)
{
	int rc;
	gate_enter(s);
	/* force = 0: a no-op when opened with MDB_NOSYNC. */
	rc = mdb_env_sync(s->env, 0);
	gate_leave(s);
	return rc == 0                    ? LEDGE_OK
	    : map_err(rc) == LEDGE_ENOSPC ? LEDGE_ENOSPC
	                                  : LEDGE_ESTORE;
}

uint64_t
store_size(struct store *s)
{
	MDB_envinfo info;
	MDB_stat st;
	uint64_t out = 0;
	gate_enter(s);
	if (mdb_env_info(s->env, &info) == 0 &&
	    mdb_env_stat(s->env, &st) == 0) {
		out = (uint64_t)(info.me_last_pgno + 1) * st.ms_psize;
	}
	gate_leave(s);
	return out;
}

static const char *const refusal_names[STORE_REFUSED_N] = { "full", "quota",
	"commit" };

const char *
store_refusal_name(enum store_refusal why)
{
	return why < STORE_REFUSED_N ? refusal_names[why] : "?";
}

void
store_count_refused(struct store *s, enum store_refusal why)
{
	if (why < STORE_REFUSED_N) {
		atomic_fetch_add_explicit(
		    &s->refused[why], 1, memory_order_relaxed);
	}
}

void
store_space(struct store *s, struct store_space *out)
{
	out->used = atomic_load_explicit(&s->used, memory_order_relaxed);
	out->limit = s->limit;
	out->map = atomic_load_explicit(&s->mapsize, memory_order_relaxed);
	out->reserve = STORE_RESERVE(s->limit);
	for (int i = 0; i < STORE_REFUSED_N; i++) {
		out->refused[i] =
		    atomic_load_explicit(&s->refused[i], memory_order_relaxed);
	}
}

bool
store_fits(struct store *s, uint64_t growth)
{
	uint64_t used = atomic_load_explicit(&s->used, memory_order_relaxed);
	uint64_t room = s->limit - STORE_RESERVE(s->limit);
	/* A value beyond a page takes whole overflow pages, and the tree
	 * above it a few more: count what it may take, not its bytes. */
	uint64_t psize = atomic_load_explicit(&s->psize, memory_order_relaxed);
	uint64_t need;
	psize = psize ? psize : 4096;
	need = (growth + psize - 1) / psize * psize + 2 * psize;
	return s->limit > STORE_RESERVE(s->limit) && used + need <= room;
}

bool
store_has_room(struct store *s, uint64_t bytes)
{
	struct statvfs sv;
	mdb_filehandle_t fd;
	if (!store_fits(s, bytes) || mdb_env_get_fd(s->env, &fd) != 0 ||
	    fstatvfs(fd, &sv) != 0) {
		return false;
	}
	return (uint64_t)sv.f_bavail * sv.f_frsize >= bytes + STORE_DISK_SPARE;
}

uint64_t
store_state_bytes(struct store *s, uint32_t id)
{
	unsigned char k[4];
	struct acct *a;
	uint64_t out = 0;
	store_be32(k, id);
	pthread_mutex_lock(&s->acct_mu);
	if ((a = hmap_get(&s->acct, k, 4)) != NULL) {
		out = a->bytes;
	}
	pthread_mutex_unlock(&s->acct_mu);
	return out;
}

/* A deadline `ms` from now, for pthread_cond_timedwait. */
static struct timespec
deadline_in(long ms)
{
	struct timespec dl;
	clock_gettime(CLOCK_REALTIME, &dl);
	dl.tv_sec += ms / 1000;
	dl.tv_nsec += (ms % 1000) * 1000000L;
	if (dl.tv_nsec >= 1000000000L) {
		dl.tv_sec++;
		dl.tv_nsec -= 1000000000L;
	}
	return dl;
}

int
store_quiesce(struct store *s, int timeout_ms)
{
	struct timespec dl = deadline_in(timeout_ms);
	bool quiet;
	int rc = 0;
	if (!s->grow) {
		return LEDGE_ENOTSUP;
	}
	pthread_mutex_lock(&s->gate_mu);
	s->quiet_waiters++;
	while (s->open > 0 && rc == 0) {
		rc = pthread_cond_timedwait(&s->gate_cv, &s->gate_mu, &dl);
	}
	quiet = s->open == 0;
	s->quiet_waiters--;
	pthread_mutex_unlock(&s->gate_mu);
	return quiet ? LEDGE_OK : LEDGE_ETIMEDOUT;
}

int
store_touch(struct store *s)
{
	struct store_batch *b;
	uint64_t n = store_meta_get_u64(s, "touch");
	int rv = batch_new(s, NULL, &b);
	if (rv != LEDGE_OK) {
		return rv;
	}
	if ((rv = store_meta_put_u64(b, "touch", n + 1)) != LEDGE_OK) {
		store_batch_abort(b);
		return rv;
	}
	return store_batch_commit(b);
}

/* store_grow, waiting up to wait_ms for the open transactions. */
static int
grow_wait(struct store *s, long wait_ms)
{
	uint64_t cur = atomic_load(&s->mapsize), next;
	struct timespec dl;
	int rc = 0;

	if (!s->grow || cur >= s->limit) {
		return LEDGE_ENOSPC;
	}
	next = cur * 2 > s->limit ? s->limit : cur * 2;
	dl = deadline_in(wait_ms);
	pthread_mutex_lock(&s->gate_mu);
	if (s->resizing) {
		/* Someone else is at it: this one's wait would be the same. */
		pthread_mutex_unlock(&s->gate_mu);
		return LEDGE_ETIMEDOUT;
	}
	s->resizing = true;
	while (s->open > 0 && rc == 0) {
		rc = pthread_cond_timedwait(&s->gate_cv, &s->gate_mu, &dl);
	}
	if (s->open > 0) {
		/* A snapshot stayed open - perhaps held by a thread that
		 * waits for this one: let everybody on and try later. */
		s->resizing = false;
		pthread_cond_broadcast(&s->gate_cv);
		pthread_mutex_unlock(&s->gate_mu);
		return LEDGE_ETIMEDOUT;
	}
	rc = mdb_env_set_mapsize(s->env, (size_t)next);
	if (rc == 0) {
		atomic_store(&s->mapsize, next);
	}
	s->resizing = false;
	pthread_cond_broadcast(&s->gate_cv);
	pthread_mutex_unlock(&s->gate_mu);
	return rc == 0 ? LEDGE_OK : LEDGE_ESTORE;
}

int
store_grow(struct store *s)
{
	return grow_wait(s, 200);
}

int
store_reader_open(struct store *s, struct store_reader **rp)
{
	struct store_reader *r = calloc(1, sizeof *r);
	int rc;
	if (r == NULL) {
		return LEDGE_ENOMEM;
	}
	r->s = s;
	gate_enter(s);
	if ((rc = mdb_txn_begin(s->env, NULL, MDB_RDONLY, &r->txn)) != 0) {
		gate_leave(s);
		free(r);
		return map_err(rc);
	}
	mdb_txn_reset(r->txn);
	gate_leave(s);
	*rp = r;
	return LEDGE_OK;
}

void
store_reader_close(struct store_reader *r)
{
	if (r == NULL) {
		return;
	}
	mdb_txn_abort(r->txn);
	free(r);
}

int
store_reader_begin(struct store_reader *r)
{
	int rc;
	if (r->active) {
		mdb_txn_reset(r->txn);
		r->active = false;
		gate_leave(r->s);
	}
	gate_enter(r->s);
	if ((rc = mdb_txn_renew(r->txn)) != 0) {
		gate_leave(r->s);
		return map_err(rc);
	}
	r->active = true;
	return LEDGE_OK;
}

void
store_reader_end(struct store_reader *r)
{
	if (r->active) {
		mdb_txn_reset(r->txn);
		r->active = false;
		gate_leave(r->s);
	}
}

/* state keys: 4-byte instance id, then the user's key */
static int
state_key(unsigned char *buf, uint32_t inst, const void *key, size_t klen)
{
	if (klen == 0) {
		return LEDGE_EINVAL;
	}
	if (klen > LEDGE_STATE_MAX_KEY) {
		return LEDGE_ETOOBIG;
	}
	store_be32(buf, inst);
	memcpy(buf + 4, key, klen);
	return LEDGE_OK;
}

int
store_get(struct store_reader *r, enum store_db db, const void *key,
    size_t klen, ledge_bytes *out)
{
	MDB_val k = { klen, (void *)key }, v;
	int rc;
	if (!r->active) {
		return LEDGE_ESTATE;
	}
	if ((rc = mdb_get(r->txn, r->s->dbi[db], &k, &v)) != 0) {
		return map_err(rc);
	}
	out->data = v.mv_data;
	out->len = v.mv_size;
	return LEDGE_OK;
}

int
store_state_get(struct store_reader *r, uint32_t inst, const void *key,
    size_t klen, ledge_bytes *out)
{
	unsigned char buf[4 + LEDGE_STATE_MAX_KEY];
	int rc;
	if ((rc = state_key(buf, inst, key, klen)) != LEDGE_OK) {
		return rc;
	}
	return store_get(r, STORE_STATE, buf, klen + 4, out);
}

static int
scan_cursor(MDB_txn *txn, MDB_dbi dbi, const void *prefix, size_t plen,
    size_t skip, int (*fn)(void *, ledge_bytes, ledge_bytes), void *arg)
{
	MDB_cursor *c;
	MDB_val k = { plen, (void *)prefix }, v;
	int rc, ret = 0;

	if ((rc = mdb_cursor_open(txn, dbi, &c)) != 0) {
		return map_err(rc);
	}
	rc = plen ? mdb_cursor_get(c, &k, &v, MDB_SET_RANGE)
	          : mdb_cursor_get(c, &k, &v, MDB_FIRST);
	while (rc == 0) {
		if (plen &&
		    (k.mv_size < plen ||
		        memcmp(k.mv_data, prefix, plen) != 0)) {
			break;
		}
		ledge_bytes kb = { (const char *)k.mv_data + skip,
			k.mv_size - skip };
		ledge_bytes vb = { v.mv_data, v.mv_size };
		if ((ret = fn(arg, kb, vb)) != 0) {
			break;
		}
		rc = mdb_cursor_get(c, &k, &v, MDB_NEXT);
	}
	mdb_cursor_close(c);
	if (ret != 0) {
		return ret;
	}
	return rc == MDB_NOTFOUND || rc == 0 ? LEDGE_OK : map_err(rc);
}

int
store_state_scan(struct store_reader *r, uint32_t inst,
    int (*fn)(void *, ledge_bytes, ledge_bytes), void *arg)
{
	unsigned char prefix[4];
	if (!r->active) {
		return LEDGE_ESTATE;
	}
	store_be32(prefix, inst);
	return scan_cursor(
	    r->txn, r->s->dbi[STORE_STATE], prefix, 4, 4, fn, arg);
}

int
store_scan_reader(struct store_reader *r, enum store_db db,
    int (*fn)(void *, ledge_bytes, ledge_bytes), void *arg)
{
	if (!r->active) {
		return LEDGE_ESTATE;
	}
	return scan_cursor(r->txn, r->s->dbi[db], NULL, 0, 0, fn, arg);
}

/* Grow ahead when the map is more than half used (so that a batch
 * rarely meets a full map below the limit).  Best effort. */
static void
grow_ahead(struct store *s)
{
	MDB_envinfo info;
	uint64_t hw = 0;
	if (!s->grow || atomic_load(&s->mapsize) >= s->limit) {
		return;
	}
	gate_enter(s);
	if (mdb_env_info(s->env, &info) == 0) {
		hw = (uint64_t)(info.me_last_pgno + 1) *
		    (atomic_load(&s->psize) ? atomic_load(&s->psize) : 4096);
	}
	gate_leave(s);
	if (hw <= atomic_load(&s->mapsize) / 2) {
		return;
	}
	/* Growing ahead is optional: a short wait, and after one that a
	 * long snapshot (a handler blocked in a call) outlasted, a pause,
	 * so that batches do not each wait for it. */
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	uint64_t ms =
	    (uint64_t)now.tv_sec * 1000 + (uint64_t)now.tv_nsec / 1000000;
	if (ms < atomic_load(&s->grow_not_before_ms)) {
		return;
	}
	if (grow_wait(s, 10) == LEDGE_ETIMEDOUT) {
		atomic_store(&s->grow_not_before_ms, ms + 1000);
	}
}

static int
batch_new(struct store *s, struct store_batch *parent, struct store_batch **bp)
{
	struct store_batch *b = calloc(1, sizeof *b);
	int rc;
	if (b == NULL) {
		return LEDGE_ENOMEM;
	}
	b->s = s;
	b->parent = parent;
	if (parent == NULL) {
		gate_enter(s);
	}
	rc = mdb_txn_begin(s->env, parent ? parent->txn : NULL, 0, &b->txn);
	if (rc != 0) {
		if (parent == NULL) {
			gate_leave(s);
		}
		free(b);
		return map_err(rc);
	}
	*bp = b;
	return LEDGE_OK;
}

static void
batch_free(struct store_batch *b)
{
	if (b->parent == NULL) {
		gate_leave(b->s);
	}
	free(b->acct);
	free(b);
}

int
store_batch_begin(struct store *s, struct store_batch **bp)
{
	grow_ahead(s);
	return batch_new(s, NULL, bp);
}

int
store_batch_child(struct store_batch *parent, struct store_batch **cp)
{
	return batch_new(parent->s, parent, cp);
}

/* Note a change of `d` state bytes of target id in the batch. */
static int
batch_acct(struct store_batch *b, uint32_t id, int64_t d)
{
	for (size_t i = b->nacct; i > 0; i--) {
		if (b->acct[i - 1].id == id) {
			b->acct[i - 1].d += d;
			return LEDGE_OK;
		}
	}
	if (b->nacct == b->capacct) {
		size_t ncap = b->capacct ? b->capacct * 2 : 8;
		struct acct_delta *na = realloc(b->acct, ncap * sizeof *na);
		if (na == NULL) {
			return LEDGE_ENOMEM;
		}
		b->acct = na;
		b->capacct = ncap;
	}
	b->acct[b->nacct++] = (struct acct_delta) { id, d };
	return LEDGE_OK;
}

/* Bytes a state entry counts for (its key without the prefix, and its
 * value) as it is now in the batch; 0 if absent. */
static int64_t
state_entry_bytes(struct store_batch *b, MDB_val *k)
{
	MDB_val v;
	if (mdb_get(b->txn, b->s->dbi[STORE_STATE], k, &v) != 0) {
		return 0;
	}
	return (int64_t)(k->mv_size - 4 + v.mv_size);
}

int
store_batch_put(struct store_batch *b, enum store_db db, const void *key,
    size_t klen, const void *val, size_t vlen)
{
	MDB_val k = { klen, (void *)key }, v = { vlen, (void *)val };
	bool counted = db == STORE_STATE && klen >= 4;
	/* Read before the write: key may point into a page it changes. */
	uint32_t id = counted ? store_rd32(key) : 0;
	int64_t old = 0;
	int rc;
	if (klen == 0) {
		return LEDGE_EINVAL;
	}
	if (counted) {
		old = state_entry_bytes(b, &k);
	}
	if ((rc = mdb_put(b->txn, b->s->dbi[db], &k, &v, 0)) != 0) {
		return map_err(rc);
	}
	if (counted) {
		return batch_acct(b, id, (int64_t)(klen - 4 + vlen) - old);
	}
	return LEDGE_OK;
}

int
store_batch_get(struct store_batch *b, enum store_db db, const void *key,
    size_t klen, ledge_bytes *out)
{
	MDB_val k = { klen, (void *)key }, v;
	int rc = mdb_get(b->txn, b->s->dbi[db], &k, &v);
	if (rc != 0) {
		return map_err(rc);
	}
	out->data = v.mv_data;
	out->len = v.mv_size;
	return LEDGE_OK;
}

int
store_batch_del(
    struct store_batch *b, enum store_db db, const void *key, size_t klen)
{
	MDB_val k = { klen, (void *)key };
	bool counted = db == STORE_STATE && klen >= 4;
	/* Read before the delete: key may point into a page it changes
	 * (a scan's key). */
	uint32_t id = counted ? store_rd32(key) : 0;
	int64_t old = 0;
	int rc;
	if (counted) {
		old = state_entry_bytes(b, &k);
	}
	rc = mdb_del(b->txn, b->s->dbi[db], &k, NULL);
	if (rc == MDB_NOTFOUND) {
		return LEDGE_OK;
	}
	if (rc == 0 && old > 0) {
		return batch_acct(b, id, -old);
	}
	return map_err(rc);
}

int
store_batch_commit(struct store_batch *b)
{
	struct store *s = b->s;
	uint64_t used = 0;
	int rc = 0;

	if (b->parent != NULL) {
		/* A child: its counts join the parent's with its writes. */
		struct store_batch *p = b->parent;
		for (size_t i = 0; i < b->nacct && rc == 0; i++) {
			rc = batch_acct(p, b->acct[i].id, b->acct[i].d);
		}
		if (rc != 0) {
			mdb_txn_abort(b->txn);
			batch_free(b);
			return rc;
		}
		rc = mdb_txn_commit(b->txn);
		batch_free(b);
		return map_err(rc);
	}
	bool counted = live_bytes(s, b->txn, &used) == 0;
	if ((rc = mdb_txn_commit(b->txn)) == 0) {
		if (counted) {
			atomic_store_explicit(
			    &s->used, used, memory_order_relaxed);
		}
		pthread_mutex_lock(&s->acct_mu);
		for (size_t i = 0; i < b->nacct; i++) {
			/* Out of memory: the count is low until a restart. */
			acct_add(s, b->acct[i].id, b->acct[i].d);
		}
		pthread_mutex_unlock(&s->acct_mu);
	}
	batch_free(b);
	return map_err(rc);
}

void
store_batch_abort(struct store_batch *b)
{
	if (b != NULL) {
		mdb_txn_abort(b->txn);
		batch_free(b);
	}
}

int
store_batch_scan(struct store_batch *b, enum store_db db, const void *prefix,
    size_t plen, int (*fn)(void *, ledge_bytes, ledge_bytes), void *arg)
{
	return scan_cursor(b->txn, b->s->dbi[db], prefix, plen, 0, fn, arg);
}

int
store_scan(struct store *s, enum store_db db,
    int (*fn)(void *, ledge_bytes, ledge_bytes), void *arg)
{
	MDB_txn *txn;
	int rc;
	gate_enter(s);
	if ((rc = mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn)) != 0) {
		gate_leave(s);
		return map_err(rc);
	}
	rc = scan_cursor(txn, s->dbi[db], NULL, 0, 0, fn, arg);
	mdb_txn_abort(txn);
	gate_leave(s);
	return rc;
}

int
store_scan_prefix(struct store *s, enum store_db db, const void *prefix,
    size_t plen, int (*fn)(void *, ledge_bytes, ledge_bytes), void *arg)
{
	MDB_txn *txn;
	int rc;
	gate_enter(s);
	if ((rc = mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn)) != 0) {
		gate_leave(s);
		return map_err(rc);
	}
	rc = scan_cursor(txn, s->dbi[db], prefix, plen, 0, fn, arg);
	mdb_txn_abort(txn);
	gate_leave(s);
	return rc;
}

int
store_registry_ids(
    struct store *s, const char *const *names, size_t n, uint32_t *ids)
{
	MDB_txn *txn;
	MDB_val nk = { sizeof "next_id" - 1, (void *)"next_id" }, nv;
	uint32_t next = 1;
	bool assigned = false;
	int rc;

	pthread_mutex_lock(&s->reg_mu);
	grow_ahead(s);
	gate_enter(s);
	if ((rc = mdb_txn_begin(s->env, NULL, 0, &txn)) != 0) {
		goto out;
	}
	if (mdb_get(txn, s->dbi[STORE_META], &nk, &nv) == 0 &&
	    nv.mv_size == 4) {
		next = store_rd32(nv.mv_data);
	}
	for (size_t i = 0; i < n && rc == 0; i++) {
		MDB_val k = { strlen(names[i]), (void *)names[i] }, v;
		unsigned char idb[4];
		if (mdb_get(txn, s->dbi[STORE_REGISTRY], &k, &v) == 0 &&
		    v.mv_size == 4) {
			ids[i] = store_rd32(v.mv_data);
			continue;
		}
		store_be32(idb, next);
		v = (MDB_val) { 4, idb };
		if ((rc = mdb_put(txn, s->dbi[STORE_REGISTRY], &k, &v, 0)) ==
		    0) {
			ids[i] = next++;
			assigned = true;
		}
	}
	if (rc == 0 && assigned) {
		unsigned char nextb[4];
		store_be32(nextb, next);
		nv = (MDB_val) { 4, nextb };
		rc = mdb_put(txn, s->dbi[STORE_META], &nk, &nv, 0);
	}
	if (rc != 0 || !assigned) {
		mdb_txn_abort(txn);
	} else {
		rc = mdb_txn_commit(txn);
	}
out:
	gate_leave(s);
	pthread_mutex_unlock(&s->reg_mu);
	return map_err(rc);
}

int
store_registry_id(struct store *s, const char *name, uint32_t *id)
{
	return store_registry_ids(s, &name, 1, id);
}

int
store_meta_put_u64(struct store_batch *b, const char *name, uint64_t v)
{
	unsigned char buf[8];
	store_be64(buf, v);
	return store_batch_put(b, STORE_META, name, strlen(name), buf, 8);
}

uint64_t
store_meta_get_u64(struct store *s, const char *name)
{
	MDB_txn *txn;
	MDB_val k = { strlen(name), (void *)name }, v;
	uint64_t out = 0;
	gate_enter(s);
	if (mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn) != 0) {
		gate_leave(s);
		return 0;
	}
	if (mdb_get(txn, s->dbi[STORE_META], &k, &v) == 0 && v.mv_size == 8) {
		out = store_rd64(v.mv_data);
	}
	mdb_txn_abort(txn);
	gate_leave(s);
	return out;
}

uint32_t
store_meta_get_u32(struct store *s, const char *name)
{
	MDB_txn *txn;
	MDB_val k = { strlen(name), (void *)name }, v;
	uint32_t out = 0;
	gate_enter(s);
	if (mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn) != 0) {
		gate_leave(s);
		return 0;
	}
	if (mdb_get(txn, s->dbi[STORE_META], &k, &v) == 0 && v.mv_size == 4) {
		out = store_rd32(v.mv_data);
	}
	mdb_txn_abort(txn);
	gate_leave(s);
	return out;
}
