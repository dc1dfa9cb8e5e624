/*
 * links.h - links between nodes: events and calls to parts of a
 * workflow that run on another node.
 *
 * Casts to a remote part are exactly-once and in order per peer node:
 * - a handler's cast to a remote part becomes an outbox entry in its
 *   commit record; the committer numbers the entries per peer in commit
 *   order (1, 2, ... no gaps) and stores them with the record;
 * - once durable they reach the link, which sends them in order, in
 *   batches, several in flight, and deletes them when the peer
 *   acknowledges; a batch the peer did not take whole stops the link
 *   until those in flight have answered, then it resends from the first
 *   entry not acknowledged;
 * - the peer applies a batch only from its watermark + 1 on, in one commit
 *   with the new watermark, and acknowledges once that is durable.
 * A crash of either side loses nothing (the outbox and the watermark are
 * durable) and repeats nothing (the watermark).  A peer that is down is
 * retried, with backoff, until it answers; the outbox holds meanwhile.
 *
 * Calls to remote parts are request/reply with the caller's timeout; they
 * are not durable (like local calls).
 *
 * A receiver refuses batches and calls from an older membership epoch of
 * the sender than the newest it has seen (a node declared lost and fenced
 * cannot inject stale events).
 *
 * Threads: links_on_outbox from the committer thread; links_call from any
 * thread; everything else on the loop thread.
 */
#ifndef LEDGE_NODE_LINKS_H
#define LEDGE_NODE_LINKS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "net/msg.h"
#include "net/wire.h"
#include "node/link_entry.h" /* the entries the links carry */

struct links;
struct loop;
struct rlog;
struct store;
struct commit;
struct node_target;
struct node_event;
struct node_call;

/*
 * What the links use of the node they serve, filled in by the node when
 * it creates them: its loop, log, store and committer (borrowed; they
 * outlive the links), and the functions below, each called with `ctx`.
 * The links call nothing of the node by name.
 */
struct links_env {
	void *ctx;
	struct loop *loop;
	struct rlog *log;
	struct store *store;
	struct commit *commit;
	/* The target named `name` (a part of a deployed workflow), or NULL.
	 * Loop thread. */
	struct node_target *(*find_target)(void *ctx, const char *name);
	/* The persistent id of target name `name` (assigned on first use):
	 * LEDGE_OK, or an error. */
	int (*registry_id)(void *ctx, const char *name, uint32_t *id);
	/* A new queue id, and: later ones are above `qid`.  Any thread. */
	uint64_t (*next_qid)(void *ctx);
	void (*qid_above)(void *ctx, uint64_t qid);
	/* Hand `ev` (taken) to target t: queued, or run on this thread. */
	void (*send)(void *ctx, struct node_target *t, struct node_event *ev);
	void (*send_inline)(
	    void *ctx, struct node_target *t, struct node_event *ev);
	/* Admission of an event to t (LEDGE_OK or LEDGE_EFULL), and the
	 * bookkeeping of one admitted. */
	int (*admit)(struct node_target *t);
	void (*admitted)(struct node_target *t, struct node_event *ev);
	/* How long a synchronous replica may leave writes unacknowledged
	 * before the primary stops waiting for it (commit_set_gate; 0: the
	 * default, COMMIT_GATE_TIMEOUT_MS). */
	uint32_t replica_timeout_ms;
};

/*
 * Links for the node `env` describes (copied), named `self` (its
 * incarnation distinguishes a node whose data folder was wiped); reads
 * the peer ids from env->store, and becomes env->commit's expand hook
 * (state replication, replica.h: the committer must be stopped before
 * links_free).  tls may be NULL.  LEDGE_OK or LEDGE_ENOMEM.  Before
 * anything is submitted to the committer.
 */
int links_new(struct links **lp, const struct links_env *env, const char *self,
    uint64_t incarnation, const struct msg_tls *tls);
void links_free(struct links *l);

/*
 * The replicas of target `id` (named `name`, "workflow/function"): the
 * peers (links_peer) that get its writes from now on, in the links'
 * order (replica.h); with `sync`, the records of the target are
 * acknowledged only once those peers hold them (or lag: commit.h's gate).
 * npeers 0 stops replication.  `epoch` is the part's placement epoch,
 * stamped on its entries.  *tgen (may be NULL) identifies this
 * setting for links_watch_snapshot.  Any thread; takes effect for records
 * committed after the call.  LEDGE_OK or LEDGE_ENOMEM.
 */
int links_set_replicas(struct links *l, uint32_t id, const char *name,
    const uint32_t *peers, size_t npeers, bool sync, uint64_t epoch,
    uint64_t *tgen);

/*
 * Part `name` runs here at placement epoch `epoch` (its entries carry
 * it): replication entries for it from a primary of an older epoch are
 * ignored from now on, also between two deploys here and after a restart
 * (recorded with rec).  Loop thread.  LEDGE_OK or LEDGE_ENOMEM.
 */
struct commit_rec;
int links_replica_primary(
    struct links *l, const char *name, uint64_t epoch, struct commit_rec *rec);

/*
 * Make `rec` (a new record carrying commit_rec_snapshot(id); its done and
 * arg are taken) mark, once released, that the replicas set with `tgen`
 * hold the snapshot - the first condition of being in sync.  LEDGE_OK or
 * LEDGE_ENOMEM.
 */
struct commit_rec;
int links_watch_snapshot(
    struct links *l, uint32_t id, uint64_t tgen, struct commit_rec *rec);

/* One replica of a target: its node, whether it holds every write
 * acknowledged so far (its snapshot, and it keeps pace), and the gate's
 * drop generation that is true at (gate.h). */
#define LINKS_REPLICAS_MAX 16
struct links_replica {
	char node[64];
	bool in_sync;
	uint64_t gen;
};

/* The replicas of target `id`: up to `max` into out; returns how many
 * (0: not replicated).  Any thread. */
size_t links_replicas(
    struct links *l, uint32_t id, struct links_replica *out, size_t max);

/*
 * Who decides that a replica may be left behind: when the gate wants to
 * stop waiting for replica `peer` (it left writes unacknowledged for the
 * replica timeout), fn(arg, peer, gen) is called on the committer thread;
 * writes keep waiting until links_replica_dropped(l, peer, gen) (from
 * any thread) - the orchestrator must first stop counting the replica as
 * a place to fail over to.  Without an arbiter (fn NULL) the drop is
 * immediate.  Set before anything is replicated.
 */
void links_set_arbiter(struct links *l,
    void (*fn)(void *arg, const char *peer, uint64_t gen), void *arg);
void links_replica_dropped(struct links *l, const char *peer, uint64_t gen);

/* Whether the drop of `peer` at generation `gen` still waits for its
 * confirmation.  Any thread. */
bool links_replica_dropping(struct links *l, const char *peer, uint64_t gen);

/* This node's membership epoch (stamped on what it sends). */
void links_set_epoch(struct links *l, uint64_t epoch);

/*
 * The persistent id of peer node `name` (for outbox keys); assigns one on
 * first use.  Loop thread (or before the loop runs).
 */
uint32_t links_peer(struct links *l, const char *name);

/* Where peer `name` answers; (re)connects.  Loop thread. */
void links_set_url(struct links *l, const char *name, const char *url);

/* Send what the outbox holds from an earlier run.  Loop thread, once. */
void links_restore(struct links *l);

/* The committer's outbox hook (pass l as arg). */
void links_on_outbox(
    void *arg, uint32_t peer, uint64_t seq, const void *data, size_t len);

/*
 * Send a call event to part `target` on node `peer`; the event's call is
 * completed with the reply or an error (LEDGE_ETIMEDOUT when the peer does
 * not answer within timeout_ms; LEDGE_EUNAVAIL at once while the peer is
 * declared lost, links_set_lost).  Takes the event.  Any thread.
 */
void links_call(struct links *l, const char *peer, const char *target,
    struct node_event *ev, uint32_t timeout_ms);

/* Requests from peers: `ev` batches and `call`s.  Loop thread. */
void links_handle_ev(struct links *l, struct msg_req *req, wire_v msg);
void links_handle_call(struct links *l, struct msg_req *req, wire_v msg);

/* Events waiting in outboxes (for metrics and backpressure). */
size_t links_backlog(struct links *l);

/*
 * Backpressure: true while LINK_QUEUE_MAX events for `peer` wait to be
 * acknowledged (a peer that is down or slow).  New casts to it are then
 * refused with LEDGE_EFULL (HTTP 503 at an ingress) instead of growing
 * the queue without bound.  Any thread.
 */
#define LINK_QUEUE_MAX 100000
bool links_full(struct links *l, uint32_t peer);

/*
 * Events waiting for node `peer` whose targets, by this node's wiring,
 * run elsewhere now are moved to that node's outbox, or into the local
 * queue if they run here, in one commit that leaves a tombstone in their
 * place (the link's numbering has no gaps).  Used when `peer` was
 * declared lost (`lost`: its replication entries are dropped too, a new
 * replica starts from a snapshot), and when `peer` answered that it does not
 * run an event's target (any more).  For a lost node, events it applied just
 * before it was lost but whose acknowledgement never arrived may be
 * handled twice (there and at the new place).  Returns how many entries
 * were withdrawn.  Loop thread.
 */
size_t links_readdress(struct links *l, const char *peer, bool lost);

/*
 * Node `name` was declared lost by the orchestrator (lost), or is up
 * again (!lost).  While it is lost, calls to it fail at once with
 * LEDGE_EUNAVAIL, and so do the calls to it still waiting for a reply
 * when it is declared lost: a call is not durable and may have run
 * there, so it is failed, never re-sent elsewhere.  Casts are not
 * touched (links_readdress).  Returns how many waiting calls were
 * failed.  Loop thread.
 */
size_t links_set_lost(struct links *l, const char *name, bool lost);

/*
 * The set of nodes the orchestrator declares lost now (names[0..n)):
 * links_set_lost for each peer, lost if named, up if not.  Loop thread.
 */
void links_lost_set(struct links *l, const char *const *names, size_t n);

/* Refuse events and calls from node `name` sent with an epoch below
 * min_epoch (it was declared lost; it must join again first).  Any
 * thread. */
void links_fence(struct links *l, const char *name, uint64_t min_epoch);

/* Counters of one outgoing link, for metrics. */
struct link_stats {
	const char *peer;     /* node name */
	size_t queued;        /* entries not acknowledged yet */
	uint64_t acked;       /* highest seq acknowledged */
	uint64_t batches;     /* batches sent */
	uint64_t retransmits; /* entries sent more than once */
	uint64_t rtt_us;      /* smoothed round trip of a batch */
	bool lagging;         /* a replica writes no longer wait for */
};

struct links_totals {
	uint64_t repl_applied; /* replication entries applied here */
	uint64_t forwarded;    /* events passed on to a part's new node */
	size_t backlog;        /* outgoing entries not yet acknowledged */
};

/* Totals into *tot, and fn for each outgoing link (under the links
 * lock: fn must not call back into links).  Any thread. */
void links_stats(struct links *l, struct links_totals *tot,
    void (*fn)(void *arg, const struct link_stats *st), void *arg);

#endif
