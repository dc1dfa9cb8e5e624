/*
 * keyed.h - one instance per key: the key table of a keyed part.
 *
 * A function declared `keyed:` is deployed as one instance, the part,
 * that never runs a callback itself: it holds the table of its keys.
 * The first event for a key activates that key's instance (a struct
 * node_instance of its own, sharing the part's spec and outputs, with
 * its own mailbox and write-behind cache; `init` runs first, with the key
 * readable); the scheduler runs key instances like any other, so
 * different keys run in parallel and each key one event at a time.
 *
 * A key instance idle for `idle_s` (nothing queued, nothing running), or
 * the least recently used idle ones once more than `max_active` are
 * active, is passivated: `stop` runs, then - once nothing it wrote is
 * still only in its cache - it is freed; its state stays in the store.
 * An event that comes while it stops, or before it is freed, revives the
 * same instance (`init` runs again, its cache intact), so a key never
 * has two instances and never reads its own writes stale.
 *
 * Threads: keyed_route and keyed_stopped from any thread; the timer and
 * the freeing on the loop thread; the table under its own mutex.
 */
#ifndef LEDGE_NODE_KEYED_H
#define LEDGE_NODE_KEYED_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct node;
struct node_code;
struct node_event;
struct node_instance;

/* What a keyed part tells about its keys (metrics, workflow show). */
struct keyed_stats {
	uint64_t active;       /* key instances in memory */
	uint64_t activations;  /* since the part was deployed */
	uint64_t passivations; /* stops that ended with the instance freed */
};

/*
 * Make `part` (a new instance of a keyed function, before it is listed)
 * the holder of a key table.  Loop thread.  LEDGE_OK or LEDGE_ENOMEM.
 */
int keyed_new(struct node *n, struct node_instance *part);

/*
 * Free the table and every key instance in it (the node stopped them, or
 * never started them).  With the part's own memory, by its owner.
 */
void keyed_free(struct node_instance *part);

/*
 * Hand `ev` (a cast or call with ev->key set) to its key's instance,
 * activating it (its init queued first) if it has none, reviving it if it
 * is stopping.  Returns the key instance, scheduled if it must be; or
 * NULL when the part is stopping or memory ran out - then ev is freed (a
 * call fails with LEDGE_ECLOSED; a durable event stays in the store for
 * the next start).  A mailbox slot ev reserved on the part is moved to
 * the key instance.  Any thread.
 */
struct node_instance *keyed_route(
    struct node *n, struct node_instance *part, struct node_event *ev);

/*
 * As keyed_route, for the loop thread to run ev inline.  NULL: ev was
 * refused or queued (as keyed_route would).  Otherwise the key's
 * instance, and either *start is its init (it was just activated or
 * revived) and the caller holds its mailbox - exec_run_claimed runs both
 * and lets it go - or *start is NULL and the caller tries
 * exec_run_inline, else keyed_push.
 */
struct node_instance *keyed_claim(struct node *n, struct node_instance *part,
    struct node_event *ev, struct node_event **start);

/*
 * Key instance k's worker is done with a run of its events (before it
 * lets k go): if its write-behind cache holds writes, the part's timer
 * empties it once they are durable and k is idle, so that an idle key
 * costs no cache.  The worker running k.
 */
void keyed_ran(struct node_instance *k);

/*
 * Whether a keyed part's events run inline (exec.h) is learned over all
 * its keys together, since each key alone sees too few events to earn
 * it: keyed_speed scores one handler run of key k (us long), a streak of
 * fast runs over any keys earns it, a slow one ends it and doubles the
 * streak needed; keyed_blocked says k made a blocking call, after which
 * none of the part's keys runs inline.  keyed_inline_ok is the verdict.
 * Any thread.
 */
void keyed_speed(struct node_instance *k, uint64_t us);
void keyed_blocked(struct node_instance *k);
bool keyed_inline_ok(const struct node_instance *k);

/*
 * Admission to a keyed part: false while the events queued for all its
 * keys together reach its `mailbox` (the caller answers 503, skips a
 * tick).  Any thread.
 */
bool keyed_admit(struct node_instance *part);

/* A worker took n events (casts, calls, control) from key instance k's
 * mailbox (negative: it put them back). */
void keyed_took(struct node_instance *k, long n);

/* Queue ev on key instance k (from keyed_claim) and schedule k. */
void keyed_push(struct node *n, struct node_instance *k, struct node_event *ev);

/*
 * The part's stop: no key activates any more, each active key is
 * stopped.  True if none was active (the part is stopped now); false if
 * keyed_stopped will say when the last one stopped.
 */
bool keyed_stop_all(struct node_instance *part);

/*
 * Key instance k's stop ran (worker).  Revives it if events came
 * meanwhile, else leaves it to be freed; when its part stops, drops what
 * is queued for it instead (calls fail, durable events stay for the next
 * start).  Returns how many of the part's stops (keyed_stop_all that
 * returned false) end now, with the last of its keys: 0 if others are
 * still stopping.
 */
size_t keyed_stopped(struct node_instance *k);

/*
 * Whether a worker holds one of part's keys or has events queued for
 * one (an undeployed workflow is freed only once none has).  Loop
 * thread.
 */
bool keyed_busy(struct node_instance *part);

/*
 * Key instance k's init answered `rv` (worker).  A failed init fails the
 * events queued for k and those that follow, until k is passivated and a
 * later event activates it again.
 */
void keyed_inited(struct node_instance *k, int rv);

/*
 * The part's new code (a reload): new key instances take it, and each
 * active one gets an NE_RELOAD event with a reference of its own.  Takes
 * the reference `code`.  Worker running the part.
 */
void keyed_reload(struct node_instance *part, struct node_code *code);

/*
 * The key under which a key instance's state key `skey` is stored (under
 * its part's id): [u16 klen][key][skey], written to out; returns its
 * length (2 + klen + sklen; the caller checks it fits).  With sklen 0:
 * the prefix of all of that key's state.
 */
size_t keyed_state_key(unsigned char *out, const void *key, size_t klen,
    const void *skey, size_t sklen);

/* The part's figures.  Any thread. */
void keyed_stats(struct node_instance *part, struct keyed_stats *out);

#endif
