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
 * Space.  The store may use at most `map_mb` MiB (the limit).  With
 * `grow`, the map starts small (STORE_MAP_START_MB, or what the file
 * already holds) and grows on demand up to the limit, so a small box does
 * not reserve the limit's address space up front.  Growing remaps the
 * file, which LMDB allows only while no transaction of the process is
 * open: every reader snapshot and batch holds a shared gate, and
 * store_grow takes it alone (waiting a bounded time, see there).  So a
 * thread must not keep a snapshot open while it waits for the committer.
 *
 * A full store is an error of the write that does not fit (LEDGE_ENOSPC:
 * LMDB's MDB_MAP_FULL, or ENOSPC/EDQUOT from the disk), never of the
 * store: reads and later writes go on.  Because LMDB copies pages on
 * write, a delete needs free pages too; store_fits keeps a reserve
 * (STORE_RESERVE) that only writes which do not grow state may use.
 *
 * The store also counts the bytes (keys + values) of state per target id
 * (the 4-byte prefix of a state key), for per-function quotas.
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
	size_t map_mb; /* the largest the store may get, MiB (0: default,
	                  8192 on 64-bit, 512 on 32-bit) */
	bool nosync;   /* skip fsync at commit: survives a process crash,
	                  not an OS crash or power loss */
	bool grow;     /* start small and grow up to map_mb (see Space);
	                  else the whole map_mb is mapped at open */
};

/* Where a growing map starts (MiB). */
#define STORE_MAP_START_MB 1

/* The reserve kept for writes that do not grow state: an eighth of the
 * limit, at least 1 MiB (see store_fits). */
#define STORE_RESERVE(limit)                                                   \
	((limit) / 8 > (1u << 20) ? (limit) / 8 : (uint64_t)(1u << 20))

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

/* Bytes used by the data file (its high-water mark). */
uint64_t store_size(struct store *s);

/* Why a write was refused, for the counters of store_space. */
enum store_refusal {
	STORE_REFUSED_FULL = 0, /* ledge_state_put: the store is full */
	STORE_REFUSED_QUOTA,    /* ledge_state_put: the function's quota */
	STORE_REFUSED_COMMIT,   /* a record did not fit at commit */
	STORE_REFUSED_N
};

/* What the store holds and may hold, for metrics and admission. */
struct store_space {
	uint64_t used;    /* bytes of live pages after the last commit
	                     (free pages that LMDB reuses not counted) */
	uint64_t limit;   /* the most it may use (store_opts.map_mb) */
	uint64_t map;     /* the map's current size */
	uint64_t reserve; /* STORE_RESERVE(limit) */
	uint64_t refused[STORE_REFUSED_N];
};

/* Fill *out.  Any thread. */
void store_space(struct store *s, struct store_space *out);

/* Name of a refusal reason for metrics ("full", "quota", "commit"). */
const char *store_refusal_name(enum store_refusal why);

/* Count one refused write.  Any thread. */
void store_count_refused(struct store *s, enum store_refusal why);

/*
 * Whether `growth` more bytes of state fit below the limit minus the
 * reserve.  A hint taken before the commit (it does not see records in
 * flight); the commit has the last word (LEDGE_ENOSPC).  Any thread.
 */
bool store_fits(struct store *s, uint64_t growth);

/*
 * Whether a commit of about `bytes` cannot run out of room: it fits
 * (store_fits) and the disk holding the store has that much and
 * STORE_DISK_SPARE more free.  A hint, as store_fits; one fstatvfs.
 * Any thread.
 */
#define STORE_DISK_SPARE ((uint64_t)64 << 20)
bool store_has_room(struct store *s, uint64_t bytes);

/* Bytes (keys without the prefix, plus values) of committed state of
 * target `id`.  Any thread. */
uint64_t store_state_bytes(struct store *s, uint32_t id);

/*
 * Grow the map (double, capped at the limit).  Call with no transaction
 * of this thread open; it waits up to 200 ms for the other threads'
 * snapshots and batches to end (new ones wait meanwhile).
 * Returns LEDGE_OK (grown), LEDGE_ENOSPC (already at the limit, or not a
 * growing store), LEDGE_ETIMEDOUT (snapshots stayed open; try later) or
 * LEDGE_ESTORE.
 */
int store_grow(struct store *s);

/*
 * Wait (up to timeout_ms) for a moment when no snapshot or batch of
 * another thread is open, without holding new ones back.  LMDB reuses
 * the pages a commit freed only once no snapshot older than that commit
 * is open; so after a delete at a full map, the next write may need this
 * to find room.  Call with no transaction of this thread open.
 * LEDGE_OK, LEDGE_ETIMEDOUT, or LEDGE_ENOTSUP (not a growing store: no
 * count of snapshots is kept).
 */
int store_quiesce(struct store *s, int timeout_ms);

/*
 * Commit a tiny write (a counter in meta) of its own.  LMDB reuses the
 * pages commit N freed only from commit N + 2 on (commit N - 1 must stay
 * whole until N is synced), so after a delete at a full map one such
 * commit lets the next write use the room the delete made.  Same
 * threads and errors as a batch.
 */
int store_touch(struct store *s);

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

/*
 * Begin a write transaction.  A growing store first grows its map when
 * it is more than half used (best effort: it waits at most 10 ms for
 * open snapshots, and after such a wait in vain not again for a second).
 */
int store_batch_begin(struct store *s, struct store_batch **bp);

/*
 * A nested transaction inside `parent` (LMDB's child transactions): its
 * writes join the parent at store_batch_commit(child), or vanish at
 * store_batch_abort(child), leaving the parent as it was.  The parent
 * must not be used while the child is open.  Same thread.
 */
int store_batch_child(struct store_batch *parent, struct store_batch **cp);

/* Put; LEDGE_ENOSPC when it does not fit in the map. */
int store_batch_put(struct store_batch *b, enum store_db db, const void *key,
    size_t klen, const void *val, size_t vlen);
/* Read within the batch (sees its own writes); *out is valid until the
 * next write of the batch.  LEDGE_OK or LEDGE_ENOENT. */
int store_batch_get(struct store_batch *b, enum store_db db, const void *key,
    size_t klen, ledge_bytes *out);
/* Delete; a missing key is not an error. */
int store_batch_del(
    struct store_batch *b, enum store_db db, const void *key, size_t klen);
/* Commit (and fsync unless nosync).  Frees the batch in every case.
 * LEDGE_ENOSPC: the map or the disk is full; nothing of it happened. */
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
