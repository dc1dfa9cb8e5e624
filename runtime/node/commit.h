/*
 * commit.h - group commit: the one thread that writes the store.
 *
 * Handlers never write LMDB themselves.  When a handler returns LEDGE_OK
 * its effects become a record: state writes, the deletion of the durable
 * event it consumed, the durable events it emitted.  Records get a
 * sequence number in submission order; the committer applies everything
 * queued in one LMDB write transaction (one fsync for the lot) and then
 * runs the records' completions (HTTP answers, acknowledgements) in order.
 *
 * The effects of one record are never split across transactions, and
 * records commit in sequence order, so after a crash the store holds a
 * prefix of the records: if an event's effects are there, so are the
 * effects of every event it depended on.  That is what lets the node hand
 * an emitted event to the next instance before its record is durable
 * (early release), while still never answering the outside world about
 * an effect that a crash could undo.
 *
 * A queue put and the matching queue delete that fall into the same batch
 * cancel out without touching LMDB.
 *
 * Synchronous replication (the gate): a record may carry outbox entries
 * that its peers must acknowledge before its completion runs
 * (commit_rec_outbox_sync: the writes of a part with `state: {replicas:
 * N}` for each replica).  Completions still run in sequence order, so a
 * record waiting for a replica holds back the completions of the records
 * after it: nothing is acknowledged that depends on an effect a failover
 * could lose.  A peer that acknowledges nothing for the gate's timeout
 * (commit_set_gate) is marked lagging and no longer waited for, until it
 * has caught up; the hook says when either happens.
 *
 * A full store (LEDGE_ENOSPC: the map at its limit, or the disk full) is
 * the failure of the records that do not fit, not of the node: the
 * committer grows the map while it may, then applies the batch record
 * by record, each in a child transaction, and fails only the records
 * that do not fit - and later records of the batch that build on one of
 * them (consume an event it emitted, or write state of the same target)
 * - with LEDGE_ENOSPC: their call gets the error, their `done` runs with
 * it.  A failed record wrote nothing, so the durable event it consumed
 * stays queued; the node hands it to its target again when it next
 * starts, not before (no retry loop against a full store).  The rest of
 * the batch commits.  Logged at most once a minute; counted in
 * store_space (STORE_REFUSED_COMMIT).
 *
 * Any other failed commit (EIO, ...) leaves no safe way on (later records
 * already built on it), so the committer reports it and the node exits;
 * a restart recovers the last durable state, exactly as after a crash.
 *
 * Replication entries ahead of the commit.  The synchronous replication
 * entries of a record whose every write is to a synchronously replicated
 * part (the expand hook marks it `repl_whole`) are handed to the outbox
 * hook as soon as the batch is applied, before its commit and sync, so
 * that a replica stores them while this node's disk does: an answer
 * waits for max(own sync, replica), not for their sum.  That is done
 * only for a peer whose every entry in the batch is such, and whose
 * earlier entries were all handed already (each link stays in order),
 * and only while the store and its disk have room to spare (a commit
 * that fails after such a hand stops the node: the replica may hold
 * writes this node then lacks).  A replica may so get entries of a
 * batch that a crash here undoes; they are writes of the part alone,
 * never events, and the next process of this node sends each replica a
 * new snapshot before anything else of the part (node_set_replicas).
 *
 * So that a later process never reuses a number an earlier one handed
 * out ahead of its commit, each process numbers from a block of its own:
 * before the first entry it numbers for a peer it writes a gap entry
 * (commit_gap_entry) numbered above every earlier process's block, which
 * tells the receiver that the numbers between the last durable entry
 * (the gap's `prev`) and it do not exist.
 *
 * Threads: commit_submit and commit_durable from any thread.
 */
#ifndef LEDGE_NODE_COMMIT_H
#define LEDGE_NODE_COMMIT_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/rlog.h"
#include "store/store.h"

struct node_call;

enum rec_op {
	REC_PUT = 1,
	REC_DEL = 2,
	REC_NOP = 3,    /* cancelled within a batch */
	REC_DELIF = 4,  /* delete if the value starts with the given bytes */
	REC_OUTBOX = 5, /* append to a peer's outbox (see commit_rec_outbox) */
	REC_SNAPSHOT = 6,    /* a marker for the expand hook: no write itself */
	REC_DELPREFIX = 7,   /* delete every key that starts with the key */
	REC_OUTBOX_SYNC = 8, /* an outbox entry the completion waits for */
};

/* Bytes of an operation's header in a record's ops, before its key. */
#define COMMIT_OP_HDR 10

/* One record: a packed list of operations plus what to do once durable. */
struct commit_rec {
	struct commit_rec *next;
	uint64_t seq;
	unsigned char *ops; /* [u8 db][u8 op][u32 klen][u32 vlen][key][val]* */
	size_t len, cap;
	uint64_t max_qid; /* highest queue id put by this record */
	bool gated; /* has REC_OUTBOX_SYNC entries (set by the committer) */
	/* Set by the expand hook: every write of the record is to a part it
	 * replicates synchronously, so its replication entries may be handed
	 * before they are durable (see above). */
	bool repl_whole;
	/* Set by its submitter: its completion says only that it is durable
	 * here (a link's acknowledgement of a batch, link_recv.c), so it
	 * need not wait behind earlier records that wait for their
	 * replicas - only behind earlier `unordered` ones (node/gate.h).
	 * Without it two nodes that replicate to each other would each
	 * hold back the acknowledgement the other waits for. */
	bool unordered;
	bool ahead; /* released ahead of an earlier record (by the gate) */
	uint64_t durable_ms; /* when it became durable (committer thread) */
	/* once durable (err = LEDGE_OK) or failed: on the committer thread,
	 * or on the one that brought a replica's acknowledgement
	 * (commit_replicated) */
	struct node_call *call; /* external call to complete (one ref) */
	void (*done)(void *arg, int err);
	void *arg;
};

struct commit;

/*
 * Start the committer thread on `store`.  `on_fatal` is called (on the
 * committer thread) when a commit fails; it must not return normally to
 * more commits - the node exits.
 */
int commit_start(struct commit **cp, struct store *store, struct rlog *log,
    void (*on_fatal)(void *arg, const char *why), void *fatal_arg);

/*
 * Wait until everything submitted so far is committed and its completions
 * have run - or, for records waiting for their replicas, are queued to run
 * once the replicas acknowledge them.  Any thread but the committer's.
 */
void commit_flush(struct commit *c);

/*
 * Who gets outbox entries once they are durable: fn(arg, peer, seq, data,
 * len) on the committer thread, in commit order; data is valid during the
 * call.  Set before anything is submitted.
 */
void commit_set_outbox_hook(struct commit *c,
    void (*fn)(
        void *arg, uint32_t peer, uint64_t seq, const void *data, size_t len),
    void *arg);

/*
 * Who may add operations to a record just before it is applied (state
 * replication, node/replica.h): fn(arg, b, r) on the committer thread,
 * with the batch's earlier records applied in b (store_batch_scan sees
 * them); it may append operations (outbox entries) to r, which commit with
 * it.  An error fails the commit.  Set before anything is submitted.
 */
void commit_set_expand_hook(struct commit *c,
    int (*fn)(void *arg, struct store_batch *b, struct commit_rec *r),
    void *arg);

/*
 * The gate of synchronous replication (node/gate.h): a peer that has not
 * acknowledged a waiting entry for `timeout_ms` is dropped (at once, or
 * once its arbiter confirms: gate_set_arbitrated) and then lags (is not
 * waited for) until it has caught up.  fn(arg, news) is told each change
 * of a peer's state, on the committer thread (or commit_replicated's);
 * fn may be NULL.  Set before
 * anything is submitted; the default timeout is COMMIT_GATE_TIMEOUT_MS.
 * LEDGE_OK or LEDGE_ENOMEM (the old gate stays).
 */
#define COMMIT_GATE_TIMEOUT_MS 2000
struct gate;
struct gate_news;
int commit_set_gate(struct commit *c, uint32_t timeout_ms,
    void (*fn)(void *arg, const struct gate_news *news), void *arg);

/* The committer's gate, for its queries (gate.h); owned by c. */
struct gate *commit_gate(struct commit *c);

/*
 * Peer `peer` has acknowledged its outbox entries up to `acked`
 * (durable there).  Any thread.  The records this lets out of the gate
 * complete on the calling thread, before this returns (their `done` and
 * call notifications run there, in sequence order with those the
 * committer runs), so an answer waits neither for the committer to wake
 * nor for a sync it has under way.  Must not be called from a `done`.
 */
void commit_replicated(struct commit *c, uint32_t peer, uint64_t acked);

/*
 * Peer `peer` was declared lost: stop waiting for it at once (it is
 * lagging until it acknowledges again).  Any thread.
 */
void commit_replica_lost(struct commit *c, uint32_t peer);

/*
 * The arbiter confirmed the drop of `peer` at generation `gen` (the
 * gate's news said GATE_DROPPING with it): records stop waiting for it.
 * A stale confirmation changes nothing.  Any thread.
 */
void commit_replica_dropped(struct commit *c, uint32_t peer, uint64_t gen);

/*
 * Commit what is queued and stop the thread.  Records submitted after
 * this are not committed: their completions run at once with
 * LEDGE_ECLOSED (what is durable already stays; the rest is redone
 * after a restart), and so do those of records still waiting for their
 * replicas (durable here; the outbox sends them after a restart).
 */
void commit_stop(struct commit *c);

/* Free a stopped committer. */
void commit_free(struct commit *c);

/* A new empty record (NULL when out of memory). */
struct commit_rec *commit_rec_new(void);
void commit_rec_free(struct commit_rec *r);

/* Append an operation; LEDGE_OK or LEDGE_ENOMEM. */
int commit_rec_put(struct commit_rec *r, enum store_db db, const void *key,
    size_t klen, const void *val, size_t vlen);
int commit_rec_del(
    struct commit_rec *r, enum store_db db, const void *key, size_t klen);
/* Delete `key` only if, at commit time, its value starts with the
 * `plen` bytes of `prefix` (a compare-and-delete). */
int commit_rec_del_if(struct commit_rec *r, enum store_db db, const void *key,
    size_t klen, const void *prefix, size_t plen);
/*
 * Append an event for another node to the outbox of peer `peer`.  The
 * committer numbers outbox entries per peer in commit order (1, 2, ...,
 * without gaps within a process; a gap entry before a later process's
 * first), stores them in STORE_OUTBOX under (peer, number), and once
 * they are durable hands each to the outbox hook (commit_set_outbox_hook),
 * in that order.
 */
int commit_rec_outbox(
    struct commit_rec *r, uint32_t peer, const void *data, size_t len);
/*
 * The same, for an entry that replicates this record's writes to `peer`:
 * the record's completion (and those of every later record) waits until
 * `peer` has acknowledged it (commit_replicated) or is lagging (see the
 * gate above).
 */
int commit_rec_outbox_sync(
    struct commit_rec *r, uint32_t peer, const void *data, size_t len);
/*
 * The gap entry (see "Replication entries ahead of the commit"): 0x00
 * 0x00 0xFF and the 8-byte big-endian number `prev`.  A receiver that
 * holds every entry up to `prev` takes it as the next one, whatever the
 * numbers between.  commit_gap_make writes one into buf;
 * commit_gap_entry says whether data (len bytes) is one, and sets *prev.
 */
#define COMMIT_GAP_LEN 11
static inline void
commit_gap_make(unsigned char buf[COMMIT_GAP_LEN], uint64_t prev)
{
	buf[0] = buf[1] = 0;
	buf[2] = 0xFF;
	store_be64(buf + 3, prev);
}

static inline bool
commit_gap_entry(const void *data, size_t len, uint64_t *prev)
{
	const unsigned char *p = (const unsigned char *)data;
	if (len != COMMIT_GAP_LEN || p[0] != 0 || p[1] != 0 || p[2] != 0xFF) {
		return false;
	}
	*prev = store_rd64(p + 3);
	return true;
}

/* Delete every key of `db` that starts with `prefix`, at commit time. */
int commit_rec_del_prefix(
    struct commit_rec *r, enum store_db db, const void *prefix, size_t plen);

/* Mark this record's place in the commit order for a snapshot of target
 * `id`: the expand hook sends its whole state and queue to its replicas
 * (node/replica.h); the committer itself writes nothing for it. */
int commit_rec_snapshot(struct commit_rec *r, uint32_t id);

/* Reserve room for a put whose value the caller writes at the returned
 * pointer (vlen bytes); NULL when out of memory. */
unsigned char *commit_rec_put_reserve(struct commit_rec *r, enum store_db db,
    const void *key, size_t klen, size_t vlen);

static inline bool
commit_rec_empty(const struct commit_rec *r)
{
	return r->len == 0;
}

/*
 * Queue a record (ownership passes); returns its sequence number.  Records
 * without operations are fine: their completions run once everything
 * before them is durable.
 */
uint64_t commit_submit(struct commit *c, struct commit_rec *r);

/* The highest sequence number whose effects are durable (and visible). */
uint64_t commit_durable(struct commit *c);

/* The highest sequence number whose completion has run: its effects are
 * durable here and on the replicas the gate waits for.  What is told to
 * the outside must be at or below it. */
uint64_t commit_released(struct commit *c);

/* The sequence number the next submitted record will get, minus one. */
uint64_t commit_last_seq(struct commit *c);

/* Counters for metrics. */
struct commit_stats {
	uint64_t batches;
	uint64_t records;
	uint64_t ops;
	uint64_t cancelled;
	uint64_t gate_waits;  /* records whose completion waited for replicas */
	uint64_t gate_lagged; /* times a peer was marked lagging */
	size_t gate_waiting;  /* records waiting now */
	uint64_t early;       /* replication entries handed before durable */
};
void commit_get_stats(struct commit *c, struct commit_stats *out);

#endif
