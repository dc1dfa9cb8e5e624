/*
 * store.h - the node's durable store: one LMDB environment per node.
 *
 * Databases inside it:
 *   state     instance id (u32 BE) + user key  -> value
 *   queue     target id (u32 BE) + event id (u64 BE) -> encoded event (outbox
 *             of committed handlers, delayed casts, accepted HTTP casts)
 *   idem      route id (u32 BE) + key           -> stored HTTP answer
 *   idemtime  time (u64 BE) + route + key       -> empty (for pruning)
 *   registry  "workflow/name"                   -> id (u32)
 *   meta      name                              -> value (counters)
 *   outbox    peer id (u32 BE) + seq (u64 BE)   -> event for another node
 *   orc_*     the orchestrator's desired state (workflows, code by hash,
 *             nodes, placements); unused on nodes
 *
 * Threads: store_open/close on one thread.  Readers: one per thread, each
 * used by one thread at a time (MDB_NOTLS, so a reader may move between
 * threads between uses).  Writes: a batch is one LMDB write transaction,
 * used by the one thread that began it; LMDB serialises batches.
 *
 * Errors: LEDGE_* codes; LMDB's own text is logged where it matters.
 */
#ifndef LEDGE_STORE_STORE_H
#define LEDGE_STORE_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <ledge.h>

struct store;
struct store_reader;
struct store_batch;

enum store_db {
	STORE_STATE = 0,
	STORE_QUEUE,
	STORE_IDEM,
	STORE_IDEMTIME,
	STORE_REGISTRY,
	STORE_META,
	STORE_OUTBOX,
	STORE_ORC_WF,
	STORE_ORC_CODE,
	STORE_ORC_NODE,
	STORE_ORC_PLACE,
	STORE_NDB
};

struct store_opts {
	size_t map_mb; /* address space reserved for the file (0: default) */
	bool nosync;   /* skip fsync at commit: survives a process crash,
	                  not an OS crash or power loss */
};

/*
 * Open (creating if needed) the store in folder `dir`.
 * On failure returns a LEDGE_* code and writes a reason to err.
 */
int store_open(struct store **sp, const char *dir, const struct store_opts *o,
    char *err, size_t errlen);

/* Close; every reader and batch must be finished. */
void store_close(struct store *s);

/*
 * Durability.  The store is opened with MDB_NOMETASYNC: a commit syncs
 * its data pages before it writes the new meta page, so a crash never
 * tears it, but that meta page only reaches the disk with the next sync.
 * A batch is therefore durable once a later commit (which syncs) or
 * store_sync has returned.  With nosync, neither syncs.
 */
int store_sync(struct store *s);

/* Bytes used by the data file. */
uint64_t store_size(struct store *s);

/* --- readers (snapshots) ------------------------------------------ */

int store_reader_open(struct store *s, struct store_reader **rp);
void store_reader_close(struct store_reader *r);

/* Take a fresh snapshot (the latest committed batch). */
int store_reader_begin(struct store_reader *r);
/* Release the snapshot; data pointers from it become invalid. */
void store_reader_end(struct store_reader *r);

/*
 * Look up `key` of instance `inst` in the current snapshot.  *out points
 * into the map and is valid until store_reader_end.
 * Returns LEDGE_OK, LEDGE_ENOENT, LEDGE_ETOOBIG or LEDGE_ESTORE.
 */
int store_state_get(struct store_reader *r, uint32_t inst, const void *key,
    size_t klen, ledge_bytes *out);

/* Any database, raw key. */
int store_get(struct store_reader *r, enum store_db db, const void *key,
    size_t klen, ledge_bytes *out);

/*
 * Call fn for each state key of `inst` in key order (stops when fn
 * returns non-zero, which is returned).
 */
int store_state_scan(struct store_reader *r, uint32_t inst,
    int (*fn)(void *arg, ledge_bytes key, ledge_bytes value), void *arg);

/* Scan a whole database in key order within the reader's snapshot. */
int store_scan_reader(struct store_reader *r, enum store_db db,
    int (*fn)(void *arg, ledge_bytes key, ledge_bytes value), void *arg);

/* --- batches (write transactions) --------------------------------- */

int store_batch_begin(struct store *s, struct store_batch **bp);
int store_batch_put(struct store_batch *b, enum store_db db, const void *key,
    size_t klen, const void *val, size_t vlen);
/* Read within the batch (sees its own writes); *out is valid until the
 * next write of the batch.  LEDGE_OK or LEDGE_ENOENT. */
int store_batch_get(struct store_batch *b, enum store_db db, const void *key,
    size_t klen, ledge_bytes *out);
/* Delete; a missing key is not an error. */
int store_batch_del(
    struct store_batch *b, enum store_db db, const void *key, size_t klen);
/* Commit (and fsync unless nosync).  Frees the batch in every case. */
int store_batch_commit(struct store_batch *b);
void store_batch_abort(struct store_batch *b);

/*
 * Call fn for each entry of `db` whose key starts with `prefix` (all if
 * plen is 0), in key order, within the batch (so it may delete).
 */
int store_batch_scan(struct store_batch *b, enum store_db db,
    const void *prefix, size_t plen,
    int (*fn)(void *arg, ledge_bytes key, ledge_bytes value), void *arg);

/* --- helpers ------------------------------------------------------- */

/* The persistent id of `name` in the registry, assigned on first use. */
int store_registry_id(struct store *s, const char *name, uint32_t *id);

/* The same for n names in one transaction (ids[i] for names[i]). */
int store_registry_ids(
    struct store *s, const char *const *names, size_t n, uint32_t *ids);

/* Scan a whole database in key order, in its own read snapshot. */
int store_scan(struct store *s, enum store_db db,
    int (*fn)(void *arg, ledge_bytes key, ledge_bytes value), void *arg);

/* The same for the keys that start with `prefix`. */
int store_scan_prefix(struct store *s, enum store_db db, const void *prefix,
    size_t plen, int (*fn)(void *arg, ledge_bytes key, ledge_bytes value),
    void *arg);

/* Write a u64 to a key of `meta` / read it (0 if absent). */
int store_meta_put_u64(struct store_batch *b, const char *name, uint64_t v);
uint64_t store_meta_get_u64(struct store *s, const char *name);
/* A 4-byte big-endian value of `meta` (0 if absent). */
uint32_t store_meta_get_u32(struct store *s, const char *name);

/* Big-endian helpers for composite keys. */
static inline void
store_be32(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)(v >> 24);
	p[1] = (unsigned char)(v >> 16);
	p[2] = (unsigned char)(v >> 8);
	p[3] = (unsigned char)v;
}

static inline void
store_be64(unsigned char *p, uint64_t v)
{
	store_be32(p, (uint32_t)(v >> 32));
	store_be32(p + 4, (uint32_t)v);
}

static inline uint32_t
store_rd32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	    (uint32_t)p[2] << 8 | p[3];
}

static inline uint64_t
store_rd64(const unsigned char *p)
{
	return (uint64_t)store_rd32(p) << 32 | store_rd32(p + 4);
}

/* Key of a durable event: its target, then its id (queue ids are
 * unique, so the id alone orders; the target first lets one target's
 * events be found without a full scan). */
#define STORE_QKEY 12
static inline void
store_qkey(unsigned char *k, uint32_t target, uint64_t qid)
{
	store_be32(k, target);
	store_be64(k + 4, qid);
}

#endif
