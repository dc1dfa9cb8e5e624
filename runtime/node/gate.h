/*
 * gate.h - the gate of synchronous replication: which durable records may
 * be released (their completions run, their answers go out) because every
 * replica they wait for holds them - or no longer counts.
 *
 * A record waits for each peer it has synchronous outbox entries for
 * (REC_OUTBOX_SYNC) until the peer has acknowledged the entry.  Records
 * are released in sequence order, so a record waiting for a replica holds
 * back the ones after it - except `unordered` records (commit.h: a link's
 * acknowledgement, which says only that its batch is durable here): those
 * are released as soon as they may be, in order among themselves, ahead
 * of other waiting records (marked `ahead`).
 *
 * Each peer is in one of three states:
 *   GATE_SYNC      waited for.  "In sync" (it holds everything released)
 *                  unless it is still catching up after lagging.
 *   GATE_DROPPING  it kept a record waiting for the timeout; records go on
 *                  waiting until an arbiter (the orchestrator, which must
 *                  first stop counting the peer as a place to fail over
 *                  to) confirms the drop with gate_dropped - or the peer
 *                  acknowledges after all (back to GATE_SYNC).  Without an
 *                  arbiter (gate_set_arbitrated false) a timed-out peer
 *                  goes straight to GATE_LAGGING.
 *   GATE_LAGGING   not waited for: records are released without it.  Once
 *                  it has acknowledged what was outstanding at its
 *                  previous acknowledgement it is waited for again
 *                  (GATE_SYNC, catching up), and in sync once it holds
 *                  everything that was released without it.
 *
 * Each drop has a generation (`gen`), increasing across restarts of the
 * process (gate_set_base: each process counts from a base above every
 * number an earlier one could have used, not from a clock): whoever
 * learns that a peer is in sync learns the generation it is in sync at, and can
 * tell a report made before a drop from one made after it.
 *
 * Threads: every function may be called from any thread; the gate has its
 * own lock.  The hook runs on the thread of gate_take, without the lock.
 */
#ifndef LEDGE_NODE_GATE_H
#define LEDGE_NODE_GATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct commit_rec;
struct gate;

enum gate_state { GATE_SYNC = 0, GATE_DROPPING = 1, GATE_LAGGING = 2 };

/* What a peer's change of state is told with (the hook of gate_new). */
struct gate_news {
	uint32_t peer;
	enum gate_state state;
	bool in_sync;    /* GATE_SYNC and caught up */
	uint64_t behind; /* its synchronous entries not acknowledged yet */
	uint64_t gen;    /* the drop generation (GATE_DROPPING: confirm it) */
};

/*
 * A new gate: a peer that leaves the first record waiting for it
 * unacknowledged for `timeout_ms` is dropped.  fn(arg, news) is told
 * every change of a peer's state or in-sync flag (by gate_take, before it
 * returns the records the change lets out).  LEDGE_OK or LEDGE_ENOMEM.
 */
int gate_new(struct gate **gp, uint32_t timeout_ms,
    void (*fn)(void *arg, const struct gate_news *news), void *arg);
void gate_free(struct gate *g);

/* Generations from now on are above `base` (the committer gives each
 * process a block of 2^32 above its predecessors'). */
void gate_set_base(struct gate *g, uint64_t base);

/* Whether drops wait for gate_dropped (default false: immediate). */
void gate_set_arbitrated(struct gate *g, bool on);

/*
 * Durable records (a list by ->next, seq order, with their outbox numbers
 * filled in) join the queue of records to release, at monotonic time
 * `now_ms`.
 */
void gate_enter(struct gate *g, struct commit_rec *list, uint64_t now_ms);

/*
 * Take the records that may be released now, in order (a list by ->next,
 * or NULL); with err != LEDGE_OK (stopping) all of them.  Peers that kept
 * the first record waiting past the timeout are dropped first.  *wait_ms:
 * how long until the next timeout could change something (-1: none; only
 * an acknowledgement or a confirmation can).
 */
struct commit_rec *gate_take(
    struct gate *g, int err, uint64_t now_ms, int64_t *wait_ms);

/*
 * Peer acknowledged its outbox entries up to `acked`.  Returns whether
 * something may have opened (then call gate_take).
 */
bool gate_acked(struct gate *g, uint32_t peer, uint64_t acked);

/* Peer was declared lost (its pending entries were dropped): lagging at
 * once, without an arbiter.  Returns whether something may have opened. */
bool gate_lost(struct gate *g, uint32_t peer);

/* The arbiter confirmed the drop of `peer` at generation `gen`: it lags
 * (nothing if it is no longer dropping at that generation).  Returns
 * whether something may have opened. */
bool gate_dropped(struct gate *g, uint32_t peer, uint64_t gen);

/*
 * What the gate knows of `peer`: whether it is in sync (waited for and
 * caught up) and, in *gen, the generation that holds at; in *acked (may
 * be NULL) its highest acknowledged outbox number; in *need (may be
 * NULL) the highest synchronous entry for it that became durable.
 */
bool gate_peer_in_sync(struct gate *g, uint32_t peer, uint64_t *gen,
    uint64_t *acked, uint64_t *need);

/* Whether `peer` is dropping at generation `gen` (a drop still to be
 * confirmed). */
bool gate_dropping(struct gate *g, uint32_t peer, uint64_t gen);

/* Counters: records that waited, drops, records waiting now. */
void gate_stats(
    struct gate *g, uint64_t *waits, uint64_t *lagged, size_t *waiting);

#endif
