/*
 * commit_repl_test.c - the committer's side of state replication
 * (runtime/node/commit.h, gate.h, commit_obx.h) on a real store: the gate
 * that holds answers until the replicas acknowledge (also when they do on
 * another thread, racing the committer), lagging and catching up,
 * arbitrated drops; replication entries handed ahead of their commit,
 * and outbox numbers of a later process after a gap.
 */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/clock.h"
#include "node/commit.h"
#include "node/gate.h"

#include "fixture.h"

static void
setup(void)
{
	fx_begin_store("commit_repl");
}

TestSuite(commit, .init = setup, .fini = fx_end, .timeout = 120);

/* ------------------------------------------------------------------ */
/* the gate of synchronous replication                                 */

/* Completions in the order they ran, and what the lag hook was told. */
struct gate_seen {
	pthread_mutex_t mu;
	int order[8], errs[8];
	atomic_int n;
	atomic_int handed; /* outbox entries handed to the hook */
	int lag_n;
	bool lag[8];
	enum gate_state state[8];
	uint64_t gen[8];
};

static struct gate_seen gs = { .mu = PTHREAD_MUTEX_INITIALIZER };

struct seen_ref {
	int id;
};

static void
seen_done(void *arg, int err)
{
	struct seen_ref *ref = arg;
	pthread_mutex_lock(&gs.mu);
	int i = atomic_load(&gs.n);
	gs.order[i] = ref->id;
	gs.errs[i] = err;
	atomic_store(&gs.n, i + 1);
	pthread_mutex_unlock(&gs.mu);
	free(ref);
}

static void
seen_news(void *arg, const struct gate_news *nw)
{
	(void)arg;
	cr_expect_eq(nw->peer, 5);
	pthread_mutex_lock(&gs.mu);
	if (gs.lag_n < 8) {
		gs.state[gs.lag_n] = nw->state;
		gs.gen[gs.lag_n] = nw->gen;
		gs.lag[gs.lag_n++] = !nw->in_sync;
	}
	pthread_mutex_unlock(&gs.mu);
}

static void
seen_outbox(
    void *arg, uint32_t peer, uint64_t seq, const void *data, size_t len)
{
	(void)arg;
	(void)seq;
	(void)data;
	(void)len;
	cr_expect_eq(peer, 5);
	atomic_fetch_add(&gs.handed, 1);
}

/* A committer with the gate at timeout_ms; `gs` reset. */
static struct commit *
gated(uint32_t timeout_ms)
{
	struct commit *c = fx_commit_start();
	pthread_mutex_lock(&gs.mu);
	atomic_store(&gs.n, 0);
	atomic_store(&gs.handed, 0);
	gs.lag_n = 0;
	pthread_mutex_unlock(&gs.mu);
	commit_set_gate(c, timeout_ms, seen_news, NULL);
	commit_set_outbox_hook(c, seen_outbox, NULL);
	return c;
}

/* Submit record `id`: a state write, and with `sync` an entry for peer 5
 * that it must wait for. */
static uint64_t
submit_rec(struct commit *c, int id, bool sync)
{
	struct commit_rec *r = commit_rec_new();
	struct seen_ref *ref = malloc(sizeof *ref);
	unsigned char k[5] = { 0, 0, 0, 9, 'a' };
	cr_assert(r != NULL && ref != NULL);
	ref->id = id;
	cr_assert_eq(commit_rec_put(r, STORE_STATE, k, 5, "v", 1), LEDGE_OK);
	if (sync) {
		cr_assert_eq(commit_rec_outbox_sync(r, 5, "e", 1), LEDGE_OK);
	}
	r->done = seen_done;
	r->arg = ref;
	return commit_submit(c, r);
}

/* Poll (bounded) until cond holds. */
#define WAIT_UNTIL(cond)                                                       \
	do {                                                                   \
		for (int w_ = 0; w_ < 10000 && !(cond); w_++) {                \
			struct timespec ts_ = { 0, 1000000 };                  \
			nanosleep(&ts_, NULL);                                 \
		}                                                              \
		cr_assert(cond, "waited 10 s for " #cond);                     \
	} while (0)

Test(commit, a_replicated_record_waits_for_its_replica_and_keeps_the_order)
{
	struct commit *c = gated(600000);
	uint64_t s1 = submit_rec(c, 1, true);
	uint64_t s2 = submit_rec(c, 2, false);

	/* Durable here, and the entry went to the links; not answered. */
	WAIT_UNTIL(commit_durable(c) >= s2);
	WAIT_UNTIL(atomic_load(&gs.handed) == 1);
	commit_flush(c); /* does not wait for the replica */
	cr_expect_eq(atomic_load(&gs.n), 0, "answered before the replica");
	cr_expect_lt(commit_released(c), s1);

	/* The peer acknowledges entry 1: both complete, in order. */
	commit_replicated(c, 5, 1);
	WAIT_UNTIL(atomic_load(&gs.n) == 2);
	cr_expect_eq(gs.order[0], 1);
	cr_expect_eq(gs.order[1], 2);
	cr_expect_eq(gs.errs[0], LEDGE_OK);
	cr_expect_eq(gs.errs[1], LEDGE_OK);
	cr_expect_eq(commit_released(c), s2);
	cr_expect_eq(gs.lag_n, 0);
	fx_commit_stop(c);
}

/* Submit record `id` like submit_rec, marked unordered (a link's
 * acknowledgement). */
static uint64_t
submit_unordered(struct commit *c, int id, bool sync)
{
	struct commit_rec *r = commit_rec_new();
	struct seen_ref *ref = malloc(sizeof *ref);
	unsigned char k[5] = { 0, 0, 0, 9, 'b' };
	cr_assert(r != NULL && ref != NULL);
	ref->id = id;
	cr_assert_eq(commit_rec_put(r, STORE_STATE, k, 5, "w", 1), LEDGE_OK);
	if (sync) {
		cr_assert_eq(commit_rec_outbox_sync(r, 5, "e", 1), LEDGE_OK);
	}
	r->done = seen_done;
	r->arg = ref;
	r->unordered = true;
	return commit_submit(c, r);
}

/*
 * Two nodes that replicate to each other: each one's acknowledgement of
 * the other's entries must not wait behind its own records that wait for
 * the other's acknowledgement.  An unordered record goes ahead of records
 * waiting for replicas, but not ahead of an earlier unordered one that
 * waits (it may acknowledge what that one applied), and the released
 * watermark does not pass the record still waiting.
 */
Test(commit, an_acknowledgement_goes_ahead_of_records_waiting_for_replicas)
{
	struct commit *c = gated(600000);
	uint64_t s1 = submit_rec(c, 1, true);
	uint64_t s2 = submit_unordered(c, 2, false);
	WAIT_UNTIL(commit_durable(c) >= s2);
	WAIT_UNTIL(atomic_load(&gs.n) == 1);
	cr_expect_eq(gs.order[0], 2, "the acknowledgement waited");
	cr_expect_lt(commit_released(c), s1);

	/* An unordered record that itself waits holds back the unordered
	 * ones after it, not the other way round. */
	uint64_t s3 = submit_unordered(c, 3, true);
	uint64_t s4 = submit_unordered(c, 4, false);
	WAIT_UNTIL(commit_durable(c) >= s4);
	commit_flush(c);
	cr_expect_eq(atomic_load(&gs.n), 1, "went ahead of a waiting one");
	(void)s3;

	/* The peer acknowledges both entries: the rest, in order. */
	commit_replicated(c, 5, 2);
	WAIT_UNTIL(atomic_load(&gs.n) == 4);
	cr_expect_eq(gs.order[1], 1);
	cr_expect_eq(gs.order[2], 3);
	cr_expect_eq(gs.order[3], 4);
	cr_expect_eq(commit_released(c), s4);
	fx_commit_stop(c);
}

Test(commit, a_silent_replica_lags_after_the_timeout_until_it_catches_up)
{
	struct commit *c = gated(200);
	struct commit_stats st;
	uint64_t t0 = clock_mono_ms();

	submit_rec(c, 1, true);
	WAIT_UNTIL(atomic_load(&gs.n) == 1);
	cr_expect_geq(clock_mono_ms() - t0, 200, "did not wait the timeout");
	cr_expect_eq(gs.errs[0], LEDGE_OK);
	WAIT_UNTIL(gs.lag_n == 1);
	cr_expect(gs.lag[0], "the hook was not told it lags");

	/* While it lags, nothing waits for it. */
	submit_rec(c, 2, true);
	WAIT_UNTIL(atomic_load(&gs.n) == 2);
	commit_get_stats(c, &st);
	cr_expect_eq(st.gate_lagged, 1);
	cr_expect_eq(st.gate_waits, 2);

	/* It acknowledges what was outstanding: it keeps pace again, and
	 * the next record waits for it. */
	commit_replicated(c, 5, 2);
	WAIT_UNTIL(gs.lag_n == 2);
	cr_expect(!gs.lag[1], "the hook was not told it caught up");
	submit_rec(c, 3, true);
	WAIT_UNTIL(commit_durable(c) >= 3);
	commit_replicated(c, 5, 3);
	WAIT_UNTIL(atomic_load(&gs.n) == 3);
	fx_commit_stop(c);
}

Test(commit, a_lost_replica_is_not_waited_for)
{
	struct commit *c = gated(600000);
	uint64_t s1 = submit_rec(c, 1, true);
	WAIT_UNTIL(commit_durable(c) >= s1);
	commit_replica_lost(c, 5);
	WAIT_UNTIL(atomic_load(&gs.n) == 1);
	cr_expect_eq(gs.errs[0], LEDGE_OK);
	WAIT_UNTIL(gs.lag_n == 1);
	fx_commit_stop(c);
}

Test(commit, with_an_arbiter_a_silent_replica_is_left_only_once_confirmed)
{
	struct commit *c = gated(100);
	uint64_t gen;
	gate_set_arbitrated(commit_gate(c), true);
	uint64_t s1 = submit_rec(c, 1, true);

	/* The timeout passes: the hook is asked, the record waits on. */
	WAIT_UNTIL(gs.lag_n == 1);
	cr_expect_eq(gs.state[0], GATE_DROPPING);
	gen = gs.gen[0];
	struct timespec ts = { 0, 400 * 1000000L };
	nanosleep(&ts, NULL);
	cr_expect_eq(atomic_load(&gs.n), 0,
	    "answered before the drop was "
	    "confirmed");
	cr_expect_lt(commit_released(c), s1);

	/* A stale confirmation changes nothing; the right one lets it out. */
	commit_replica_dropped(c, 5, gen - 1);
	nanosleep(&ts, NULL);
	cr_expect_eq(atomic_load(&gs.n), 0, "a stale confirmation let it out");
	commit_replica_dropped(c, 5, gen);
	WAIT_UNTIL(atomic_load(&gs.n) == 1);
	cr_expect_eq(gs.errs[0], LEDGE_OK);
	WAIT_UNTIL(gs.lag_n == 2);
	cr_expect_eq(gs.state[1], GATE_LAGGING);

	/* A later drop has a later generation. */
	commit_replicated(c, 5, 1);
	WAIT_UNTIL(gs.lag_n == 3);
	cr_expect(!gs.lag[2], "not in sync after acknowledging everything");
	submit_rec(c, 2, true);
	WAIT_UNTIL(gs.lag_n == 4);
	cr_expect_eq(gs.state[3], GATE_DROPPING);
	cr_expect_gt(gs.gen[3], gen);
	/* It answers after all: back in sync, the record goes out. */
	commit_replicated(c, 5, 2);
	WAIT_UNTIL(atomic_load(&gs.n) == 2);
	WAIT_UNTIL(gs.lag_n == 5);
	cr_expect_eq(gs.state[4], GATE_SYNC);
	cr_expect(!gs.lag[4]);
	fx_commit_stop(c);
}

Test(commit, a_returning_replica_is_in_sync_only_once_it_holds_what_was_let_out)
{
	struct commit *c = gated(600000);
	uint64_t gen, acked, need;
	uint64_t s1 = submit_rec(c, 1, true);
	WAIT_UNTIL(commit_durable(c) >= s1);
	commit_replica_lost(c, 5);
	WAIT_UNTIL(atomic_load(&gs.n) == 1);

	/* Released without it: entries 2 and 3. */
	submit_rec(c, 2, true);
	submit_rec(c, 3, true);
	WAIT_UNTIL(atomic_load(&gs.n) == 3);
	cr_expect(!gate_peer_in_sync(commit_gate(c), 5, &gen, &acked, &need));
	cr_expect_eq(need, 3);

	/* It acknowledges entry 1 (what was outstanding when it was lost):
	 * waited for again, but not in sync - 2 and 3 went out without it. */
	commit_replicated(c, 5, 1);
	uint64_t s4 = submit_rec(c, 4, true);
	WAIT_UNTIL(commit_durable(c) >= s4);
	struct timespec ts = { 0, 200 * 1000000L };
	nanosleep(&ts, NULL);
	cr_expect_eq(atomic_load(&gs.n), 3, "record 4 did not wait for it");
	cr_expect(!gate_peer_in_sync(commit_gate(c), 5, &gen, &acked, &need),
	    "in sync without entries 2 and 3");

	/* Entries up to 3: in sync; 4 still waits for its own. */
	commit_replicated(c, 5, 3);
	WAIT_UNTIL(gate_peer_in_sync(commit_gate(c), 5, &gen, &acked, &need));
	cr_expect_eq(atomic_load(&gs.n), 3);
	commit_replicated(c, 5, 4);
	WAIT_UNTIL(atomic_load(&gs.n) == 4);
	fx_commit_stop(c);
}

Test(commit, stopping_fails_what_still_waits_for_a_replica)
{
	struct commit *c = gated(600000);
	uint64_t s1 = submit_rec(c, 1, true);
	WAIT_UNTIL(commit_durable(c) >= s1);
	commit_stop(c);
	cr_expect_eq(atomic_load(&gs.n), 1);
	cr_expect_eq(gs.errs[0], LEDGE_ECLOSED);
	commit_free(c);
}

/* Records completed while acknowledgements come from another thread
 * than the committer's (as the links' loop brings them): each once, all
 * in sequence order. */
enum { RACE_N = 3000 };

struct race_seen {
	pthread_mutex_t mu;
	uint64_t seqs[RACE_N];
	int n, twice, bad_err;
	atomic_uint_fast64_t handed_hi; /* highest entry number handed */
	atomic_bool stop;
	struct commit *c;
	pthread_t acker;
	int on_acker; /* completions run by the acknowledging thread */
};

static struct race_seen rs = { .mu = PTHREAD_MUTEX_INITIALIZER };

struct race_ref {
	uint64_t seq;
	bool done;
};

static void
race_done(void *arg, int err)
{
	struct race_ref *ref = arg;
	pthread_mutex_lock(&rs.mu);
	if (ref->done) {
		rs.twice++;
	}
	ref->done = true;
	if (err != LEDGE_OK) {
		rs.bad_err++;
	}
	if (rs.n < RACE_N) {
		rs.seqs[rs.n] = ref->seq;
	}
	rs.on_acker += pthread_equal(pthread_self(), rs.acker) != 0;
	rs.n++;
	pthread_mutex_unlock(&rs.mu);
	/* A completion takes a while (an answer to write): long enough for
	 * the other thread to let later records out meanwhile, if it could
	 * complete them before this one's successors. */
	struct timespec ts = { 0, 30000 };
	nanosleep(&ts, NULL);
}

static void
race_outbox(
    void *arg, uint32_t peer, uint64_t seq, const void *data, size_t len)
{
	(void)arg;
	(void)peer;
	(void)data;
	(void)len;
	uint64_t hi = atomic_load(&rs.handed_hi);
	while (seq > hi &&
	    !atomic_compare_exchange_weak(&rs.handed_hi, &hi, seq)) { }
}

static int
race_count(void)
{
	pthread_mutex_lock(&rs.mu);
	int n = rs.n;
	pthread_mutex_unlock(&rs.mu);
	return n;
}

/* The replica: acknowledges around what was handed - now behind, now
 * ahead (as when entries go ahead of their commit and the replica's
 * answer beats this node's sync), so that both the committer and this
 * thread let records out. */
static void *
race_acker(void *arg)
{
	(void)arg;
	uint64_t acked = 0;
	unsigned turn = 0;
	while (!atomic_load(&rs.stop)) {
		uint64_t hi = atomic_load(&rs.handed_hi);
		if (hi + 8 > acked) {
			acked = ++turn % 2 ? hi + 1 + turn % 16 : acked + 1;
			commit_replicated(rs.c, 5, acked);
		} else {
			struct timespec ts = { 0, 20000 };
			nanosleep(&ts, NULL);
		}
	}
	return NULL;
}

Test(commit,
    acknowledgements_from_another_thread_complete_each_record_once_in_order)
{
	struct commit *c = fx_commit_start();
	pthread_t th;
	struct race_ref *refs = calloc(RACE_N, sizeof *refs);
	unsigned char k[5] = { 0, 0, 0, 9, 'a' };

	cr_assert_not_null(refs);
	commit_set_gate(c, 600000, NULL, NULL);
	commit_set_outbox_hook(c, race_outbox, NULL);
	rs.c = c;
	rs.n = rs.twice = rs.bad_err = rs.on_acker = 0;
	atomic_store(&rs.handed_hi, 0);
	atomic_store(&rs.stop, false);
	pthread_mutex_lock(&rs.mu);
	cr_assert_eq(pthread_create(&th, NULL, race_acker, NULL), 0);
	rs.acker = th;
	pthread_mutex_unlock(&rs.mu);
	for (int i = 0; i < RACE_N; i++) {
		struct commit_rec *r = commit_rec_new();
		cr_assert_not_null(r);
		cr_assert_eq(
		    commit_rec_put(r, STORE_STATE, k, 5, "v", 1), LEDGE_OK);
		if (i % 3 != 2) {
			cr_assert_eq(
			    commit_rec_outbox_sync(r, 5, "e", 1), LEDGE_OK);
		}
		r->done = race_done;
		r->arg = &refs[i];
		/* the record's number is its completion's: set before it can
		 * complete (commit_submit returns it after queueing) */
		pthread_mutex_lock(&rs.mu);
		refs[i].seq = commit_submit(c, r);
		pthread_mutex_unlock(&rs.mu);
		if (i % 64 == 0) {
			struct timespec ts = { 0, 200000 };
			nanosleep(&ts, NULL);
		}
	}
	WAIT_UNTIL(race_count() == RACE_N);
	atomic_store(&rs.stop, true);
	pthread_join(th, NULL);
	pthread_mutex_lock(&rs.mu);
	cr_expect_eq(rs.twice, 0, "a record completed twice");
	cr_expect_eq(rs.bad_err, 0);
	cr_expect_gt(
	    rs.on_acker, 0, "the acknowledging thread let nothing out");
	for (int i = 1; i < RACE_N; i++) {
		cr_assert_gt(rs.seqs[i], rs.seqs[i - 1],
		    "completion %d is record %llu, after %llu", i,
		    (unsigned long long)rs.seqs[i],
		    (unsigned long long)rs.seqs[i - 1]);
	}
	pthread_mutex_unlock(&rs.mu);
	cr_expect_eq(commit_released(c), refs[RACE_N - 1].seq);
	fx_commit_stop(c);
	free(refs);
}

/* ------------------------------------------------------------------ */
/* replication entries ahead of the commit                             */

/* What the outbox hook was handed: number, whether it was a gap entry
 * (and its prev), and how far the store was durable then. */
struct ahead_seen {
	pthread_mutex_t mu;
	struct commit *c;
	int n;
	uint64_t seq[16], prev[16], durable[16];
	bool gap[16];
};

static struct ahead_seen as = { .mu = PTHREAD_MUTEX_INITIALIZER };

static void
ahead_outbox(
    void *arg, uint32_t peer, uint64_t seq, const void *data, size_t len)
{
	(void)arg;
	cr_expect_eq(peer, 5);
	pthread_mutex_lock(&as.mu);
	if (as.n < 16) {
		as.seq[as.n] = seq;
		as.gap[as.n] = commit_gap_entry(data, len, &as.prev[as.n]);
		as.durable[as.n] = commit_durable(as.c);
		as.n++;
	}
	pthread_mutex_unlock(&as.mu);
}

/* The expand hook of a part replicated synchronously: a record whose
 * only writes are its state and its entries for peer 5 is whole. */
static int
ahead_expand(void *arg, struct store_batch *b, struct commit_rec *r)
{
	(void)arg;
	(void)b;
	bool whole = r->len > 0;
	for (size_t off = 0; off < r->len;) {
		const unsigned char *p = r->ops + off;
		whole &= p[0] == STORE_STATE || p[1] == REC_OUTBOX_SYNC;
		off += COMMIT_OP_HDR + store_rd32(p + 2) + store_rd32(p + 6);
	}
	r->repl_whole = whole;
	return LEDGE_OK;
}

static struct commit *
ahead_start(void)
{
	struct commit *c = fx_commit_start();
	pthread_mutex_lock(&as.mu);
	as.c = c;
	as.n = 0;
	pthread_mutex_unlock(&as.mu);
	commit_set_outbox_hook(c, ahead_outbox, NULL);
	commit_set_expand_hook(c, ahead_expand, NULL);
	commit_set_gate(c, 600000, NULL, NULL);
	return c;
}

/* Record: a state write and an entry for peer 5, synchronous or an
 * event; returns its sequence number. */
static uint64_t
ahead_rec(struct commit *c, bool sync)
{
	struct commit_rec *r = commit_rec_new();
	unsigned char k[5] = { 0, 0, 0, 9, 'a' };
	cr_assert_not_null(r);
	cr_assert_eq(commit_rec_put(r, STORE_STATE, k, 5, "v", 1), LEDGE_OK);
	cr_assert_eq(sync ? commit_rec_outbox_sync(r, 5, "e", 1)
	                  : commit_rec_outbox(r, 5, "e", 1),
	    LEDGE_OK);
	return commit_submit(c, r);
}

static int
ahead_n(void)
{
	pthread_mutex_lock(&as.mu);
	int n = as.n;
	pthread_mutex_unlock(&as.mu);
	return n;
}

Test(commit, replication_entries_go_ahead_of_their_commit_and_events_do_not)
{
	struct commit *c = ahead_start();
	struct fx_hold g;

	/* Alone in its batch: handed before it is durable. */
	uint64_t s1 = ahead_rec(c, true);
	WAIT_UNTIL(ahead_n() == 1);
	cr_expect_eq(as.seq[0], 1);
	cr_expect_lt(as.durable[0], s1, "handed only once durable");
	commit_flush(c);
	commit_replicated(c, 5, 1);
	WAIT_UNTIL(commit_released(c) >= s1);

	/* In one batch with an event for the same peer: both wait for the
	 * commit (the event must never run ahead of its cause). */
	fx_hold_begin(c, &g);
	uint64_t s2 = ahead_rec(c, true);
	uint64_t s3 = ahead_rec(c, false);
	fx_hold_end(&g);
	WAIT_UNTIL(ahead_n() == 3);
	cr_expect_eq(as.seq[1], 2);
	cr_expect_eq(as.seq[2], 3);
	cr_expect_geq(as.durable[1], s3, "went ahead with an event");
	cr_expect_geq(as.durable[2], s3);
	(void)s2;

	struct commit_stats st;
	commit_get_stats(c, &st);
	cr_expect_eq(st.early, 1);
	commit_replicated(c, 5, 3);
	fx_commit_stop(c);
	fx_hold_fini(&g);
}

Test(commit, a_new_process_numbers_after_a_gap_above_what_went_ahead)
{
	/* The first process ever on the store numbers 1, 2, ... */
	struct commit *c = ahead_start();
	ahead_rec(c, true);
	ahead_rec(c, true);
	WAIT_UNTIL(ahead_n() == 2);
	commit_flush(c);
	cr_expect_eq(as.seq[1], 2);
	fx_commit_stop(c);

	/* Each later one from a block of its own, after a gap entry that
	 * names the last durable number. */
	uint64_t floor = 0;
	for (int round = 0; round < 2; round++) {
		c = ahead_start();
		ahead_rec(c, true);
		WAIT_UNTIL(ahead_n() == 2);
		cr_expect(as.gap[0], "no gap entry first");
		cr_expect(!as.gap[1]);
		cr_expect_gt(as.seq[0], floor + ((uint64_t)1 << 32),
		    "the gap is not above the last block");
		cr_expect_eq(as.seq[1], as.seq[0] + 1);
		cr_expect_eq(as.prev[0], round == 0 ? 2 : floor + 1,
		    "the gap names %llu", (unsigned long long)as.prev[0]);
		floor = as.seq[0];
		commit_flush(c);
		fx_commit_stop(c);
	}
	/* What is on disk: the gap entries too, so a restart resends
	 * them. */
	size_t n = 0;
	store_scan(fx_store, STORE_OUTBOX, fx_count, &n);
	cr_expect_eq(n, 6);
}
