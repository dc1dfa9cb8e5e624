/*
 * store_lmdb.c - the node store on LMDB.  The only file that includes
 * lmdb.h.
 */
#include <errno.h>
#include <lmdb.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "base/path.h"
#include "store/store.h"

static const char *const db_names[STORE_NDB] = { "state", "queue", "idem",
	"idemtime", "registry", "meta", "outbox", "orc_wf", "orc_code",
	"orc_node", "orc_place" };

struct store {
	MDB_env *env;
	MDB_dbi dbi[STORE_NDB];
	pthread_mutex_t reg_mu; /* serialises registry id assignment */
};

struct store_reader {
	struct store *s;
	MDB_txn *txn; /* reset between uses */
	bool active;
};

struct store_batch {
	struct store *s;
	MDB_txn *txn;
};

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
	default:
		return LEDGE_ESTORE;
	}
}

int
store_open(struct store **sp, const char *dir, const struct store_opts *o,
    char *err, size_t errlen)
{
	struct store *s;
	MDB_txn *txn = NULL;
	size_t map_mb =
	    o && o->map_mb ? o->map_mb : (sizeof(void *) == 8 ? 8192 : 512);
	unsigned flags =
	    MDB_NOTLS | (o && o->nosync ? MDB_NOSYNC : MDB_NOMETASYNC);
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
	if ((rc = mdb_env_create(&s->env)) != 0 ||
	    (rc = mdb_env_set_maxdbs(s->env, STORE_NDB + 2)) != 0 ||
	    (rc = mdb_env_set_maxreaders(s->env, 1024)) != 0 ||
	    (rc = mdb_env_set_mapsize(s->env, map_mb << 20)) != 0 ||
	    (rc = mdb_env_open(s->env, dir, flags, 0644)) != 0) {
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
	*sp = s;
	return LEDGE_OK;
fail:
	if (s->env != NULL) {
		mdb_env_close(s->env);
	}
	pthread_mutex_destroy(&s->reg_mu);
	free(s);
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
	pthread_mutex_destroy(&s->reg_mu);
	free(s);
}

int
store_sync(struct store *s)
{
	/* force = 0: a no-op when opened with MDB_NOSYNC. */
	return mdb_env_sync(s->env, 0) == 0 ? LEDGE_OK : LEDGE_ESTORE;
}

uint64_t
store_size(struct store *s)
{
	MDB_envinfo info;
	MDB_stat st;
	if (mdb_env_info(s->env, &info) != 0 ||
	    mdb_env_stat(s->env, &st) != 0) {
		return 0;
	}
	return (uint64_t)(info.me_last_pgno + 1) * st.ms_psize;
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
	if ((rc = mdb_txn_begin(s->env, NULL, MDB_RDONLY, &r->txn)) != 0) {
		free(r);
		return map_err(rc);
	}
	mdb_txn_reset(r->txn);
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
	}
	if ((rc = mdb_txn_renew(r->txn)) != 0) {
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

int
store_batch_begin(struct store *s, struct store_batch **bp)
{
	struct store_batch *b = malloc(sizeof *b);
	int rc;
	if (b == NULL) {
		return LEDGE_ENOMEM;
	}
	b->s = s;
	if ((rc = mdb_txn_begin(s->env, NULL, 0, &b->txn)) != 0) {
		free(b);
		return map_err(rc);
	}
	*bp = b;
	return LEDGE_OK;
}

int
store_batch_put(struct store_batch *b, enum store_db db, const void *key,
    size_t klen, const void *val, size_t vlen)
{
	MDB_val k = { klen, (void *)key }, v = { vlen, (void *)val };
	if (klen == 0) {
		return LEDGE_EINVAL;
	}
	return map_err(mdb_put(b->txn, b->s->dbi[db], &k, &v, 0));
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
	int rc = mdb_del(b->txn, b->s->dbi[db], &k, NULL);
	return rc == MDB_NOTFOUND ? LEDGE_OK : map_err(rc);
}

int
store_batch_commit(struct store_batch *b)
{
	int rc = mdb_txn_commit(b->txn);
	free(b);
	return map_err(rc);
}

void
store_batch_abort(struct store_batch *b)
{
	if (b != NULL) {
		mdb_txn_abort(b->txn);
		free(b);
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
	int rc = mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn);
	if (rc != 0) {
		return map_err(rc);
	}
	rc = scan_cursor(txn, s->dbi[db], NULL, 0, 0, fn, arg);
	mdb_txn_abort(txn);
	return rc;
}

int
store_scan_prefix(struct store *s, enum store_db db, const void *prefix,
    size_t plen, int (*fn)(void *, ledge_bytes, ledge_bytes), void *arg)
{
	MDB_txn *txn;
	int rc = mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn);
	if (rc != 0) {
		return map_err(rc);
	}
	rc = scan_cursor(txn, s->dbi[db], prefix, plen, 0, fn, arg);
	mdb_txn_abort(txn);
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
	if (mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn) != 0) {
		return 0;
	}
	if (mdb_get(txn, s->dbi[STORE_META], &k, &v) == 0 && v.mv_size == 8) {
		out = store_rd64(v.mv_data);
	}
	mdb_txn_abort(txn);
	return out;
}

uint32_t
store_meta_get_u32(struct store *s, const char *name)
{
	MDB_txn *txn;
	MDB_val k = { strlen(name), (void *)name }, v;
	uint32_t out = 0;
	if (mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn) != 0) {
		return 0;
	}
	if (mdb_get(txn, s->dbi[STORE_META], &k, &v) == 0 && v.mv_size == 4) {
		out = store_rd32(v.mv_data);
	}
	mdb_txn_abort(txn);
	return out;
}
