/*
 * replica.h - state replication, both ends: the primary's committer
 * streams each record's writes to a replicated target to the nodes that
 * keep a copy, and those nodes apply them.
 *
 * For a target with replicas (replica_set), every record's writes to its
 * state, queue and Idempotency-Key answers to calls from other nodes
 * (STORE_STATE, STORE_QUEUE and STORE_IDEM keys that start with its id;
 * the replica indexes the answers for pruning itself) are also appended, in the
 * same transaction, to the outbox of each replica node as one entry: a link
 * entry (links.h) whose target is REPL_MARK followed by the target's name, and
 * whose body is the primary's placement epoch of the part (u64: a replica
 * tells a replaced primary's late entries - kept in its outbox, sent again
 * when it comes back - from the current one's) followed by the record's
 * operations on that target in the packed form below, with the 4-byte id
 * taken off each key:
 *
 *     [u8 db][u8 op][u32 klen][u32 vlen][key][value]   (big-endian)
 *
 * op is REC_PUT, REC_DEL, REC_DELIF or REC_DELPREFIX (key empty: all of
 * the target's entries in db).  The links deliver entries in order and
 * exactly once, so a replica applies the primary's committed history in
 * order, record by record.  A snapshot (commit_rec_snapshot) sends the
 * whole state, queue and answers, after a DELPREFIX of each.
 *
 * With `sync` (state: {ack: replicas}, the default), the entries are
 * synchronous (commit_rec_outbox_sync): the record's completion - the
 * answer to whoever caused it - waits until every replica acknowledged
 * it, or was marked lagging by the committer's gate (commit.h).
 *
 * The primary's end runs in the committer (replica_expand is its expand
 * hook, commit_set_expand_hook); the replica's end in the link receiver
 * (replica_apply).
 *
 * Threads: replica_set and the counters from any thread; replica_expand
 * on the committer thread; replica_apply on the loop thread.
 */
#ifndef LEDGE_NODE_REPLICA_H
#define LEDGE_NODE_REPLICA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct commit_rec;
struct links_env;
struct store_batch;

/* The first byte of a replication entry's target name. */
#define REPL_MARK 0x01

/* Whether link entry `data` (len bytes) is a replication entry. */
static inline bool
replica_is_entry(const void *data, size_t len)
{
	return len > 2 && ((const unsigned char *)data)[2] == REPL_MARK;
}

struct replica;

/* A replication table with no replicated target.  LEDGE_OK or
 * LEDGE_ENOMEM. */
int replica_new(struct replica **rp);

/* Free it; the committer whose hook it is must be stopped. */
void replica_free(struct replica *r);

/*
 * The replicas of target `id` (named `name`, "workflow/function"): the
 * link peers (links.h) that get its writes from now on; with `sync` its
 * records are acknowledged only once those peers hold them.  npeers 0
 * stops replication.  Any thread; takes effect for records committed
 * after the call.  LEDGE_OK or LEDGE_ENOMEM.
 */
int replica_set(struct replica *r, uint32_t id, const char *name,
    const uint32_t *peers, size_t npeers, bool sync, uint64_t epoch,
    uint64_t *tgen);

/*
 * The snapshot record submitted after the replica_set that returned
 * `tgen` for target `id` was released by gate g: each replica holds the
 * snapshot once it has acknowledged what was durable for it then.  A
 * later replica_set makes it stale (nothing happens).  Any thread.
 */
struct gate;
void replica_snapshot_done(
    struct replica *r, uint32_t id, uint64_t tgen, struct gate *g);

/* Peer's pending entries were dropped (it was declared lost; they became
 * tombstones it acknowledges unread): no target counts it as holding its
 * snapshot until the next replica_set - also for a snapshot released
 * after this. */
void replica_peer_dropped(struct replica *r, uint32_t peer);

/* One replica of a target, as replica_status sees it. */
struct replica_status {
	uint32_t peer;
	bool in_sync; /* holds its snapshot and everything released since */
	uint64_t gen; /* the gate's drop generation this holds at */
};

/* The replicas of target `id` and whether each is in sync (by gate g):
 * up to `max` into out; returns how many (0: not replicated).  Any
 * thread. */
size_t replica_status(struct replica *r, uint32_t id, struct gate *g,
    struct replica_status *out, size_t max);

/*
 * The committer's expand hook (arg: the struct replica): before record
 * `rec` is applied (the batch's earlier records are, in b), append to it
 * one outbox entry per replica of every replicated target it writes.
 * Committer thread.  LEDGE_OK, or an error (the commit fails).
 */
int replica_expand(void *arg, struct store_batch *b, struct commit_rec *rec);

/*
 * The replica's end: add the writes of replication entry `entry` (len
 * bytes, replica_is_entry) to `rec` under this node's id for the
 * target's name (env->registry_id).  An entry for a part that runs here
 * is stale (from a primary that was replaced) and ignored.  Returns
 * LEDGE_OK, LEDGE_EPROTO for a malformed entry, LEDGE_ENOMEM, or the
 * registry's error.  Loop thread.
 */
int replica_apply(struct replica *r, const struct links_env *env,
    struct commit_rec *rec, const void *entry, size_t len);

/*
 * Part `name` runs here at placement epoch `epoch`: from now on entries
 * for it from a primary of an older epoch are stale (ignored), also
 * after a restart (recorded with rec).  Loop thread.  LEDGE_OK or
 * LEDGE_ENOMEM.
 */
int replica_primary(struct replica *r, const struct links_env *env,
    struct commit_rec *rec, const char *name, uint64_t epoch);

/* Entries ignored as stale so far.  Any thread. */
uint64_t replica_stale(struct replica *r);

/* Replication entries applied here so far.  Any thread. */
uint64_t replica_applied(struct replica *r);

#endif
