/*
 * commit_test.c - group commit (runtime/node/commit.h) on a real
 * store: order and durability, atomic records, completions after the
 * commit and in order, queue put/delete cancellation, flush and stop,
 * a failed commit, and many submitting threads.
 */
#include <criterion/criterion.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/clock.h"
#include "node/commit.h"
#include "node/gate.h"
#include "node/node_call.h"

#include "fixture.h"

static void
setup(void)
{
	fx_begin_store("commit");
}

TestSuite(commit, .init = setup, .fini = fx_end, .timeout = 120);

/* The value of a state key in a fresh snapshot, copied into out ("" and
 * false if absent). */
static bool
read_state(uint32_t inst, const char *key, char *out, size_t size)
{
	struct store_reader *r;
	ledge_bytes v;
	bool found;

	cr_assert_eq(store_reader_open(fx_store, &r), LEDGE_OK);
	cr_assert_eq(store_reader_begin(r), LEDGE_OK);
	found = store_state_get(r, inst, key, strlen(key), &v) == LEDGE_OK;
	out[0] = '\0';
	if (found) {
		snprintf(out, size, "%.*s", (int)v.len, (const char *)v.data);
	}
	store_reader_end(r);
	store_reader_close(r);
	return found;
}

static bool
queue_has(uint64_t qid)
{
	struct store_reader *r;
	unsigned char k[STORE_QKEY];
	ledge_bytes v;
	bool found;

	store_qkey(k, 3, qid);
	cr_assert_eq(store_reader_open(fx_store, &r), LEDGE_OK);
	cr_assert_eq(store_reader_begin(r), LEDGE_OK);
	found = store_get(r, STORE_QUEUE, k, sizeof k, &v) == LEDGE_OK;
	store_reader_end(r);
	store_reader_close(r);
	return found;
}

Test(commit, records_commit_in_order)
{
	struct commit *c = fx_commit_start();
	char v[64];
	uint64_t s1, s2, s3;

	cr_expect_eq(commit_last_seq(c), 0);
	s1 = commit_submit(c, fx_rec_put(1, "k", "first"));
	s2 = commit_submit(c, fx_rec_put(1, "k", "second"));
	s3 = commit_submit(c, fx_rec_put(1, "k", "third"));
	cr_expect_gt(s1, 0);
	cr_expect_eq(s2, s1 + 1);
	cr_expect_eq(s3, s2 + 1);
	cr_expect_eq(commit_last_seq(c), s3);
	commit_flush(c);
	cr_expect_geq(commit_durable(c), s3);
	cr_expect(read_state(1, "k", v, sizeof v));
	cr_expect_str_eq(v, "third", "the last record in sequence wins");
	fx_commit_stop(c);
}

Test(commit, durable_never_goes_back)
{
	struct commit *c = fx_commit_start();
	uint64_t last = 0, seq = 0;

	for (int i = 0; i < 2000; i++) {
		char key[16];
		uint64_t d;
		snprintf(key, sizeof key, "k%d", i % 50);
		seq = commit_submit(c, fx_rec_put(2, key, "v"));
		d = commit_durable(c);
		cr_assert_geq(d, last, "durable went from %llu to %llu",
		    (unsigned long long)last, (unsigned long long)d);
		cr_assert_lt(d, seq + 1, "durable ahead of submissions");
		last = d;
	}
	commit_flush(c);
	cr_expect_eq(commit_durable(c), seq);
	fx_commit_stop(c);
}

Test(commit, reserved_put_and_delete)
{
	struct commit *c = fx_commit_start();
	struct commit_rec *r = commit_rec_new();
	unsigned char k[32], *p;
	char v[64];

	cr_assert_not_null(r);
	p = commit_rec_put_reserve(r, STORE_STATE, k, fx_skey(k, 3, "res"), 5);
	cr_assert_not_null(p);
	memcpy(p, "12345", 5);
	cr_assert_eq(
	    commit_rec_put(r, STORE_STATE, k, fx_skey(k, 3, "gone"), "x", 1),
	    LEDGE_OK);
	commit_submit(c, r);

	r = commit_rec_new();
	cr_assert_not_null(r);
	cr_assert_eq(
	    commit_rec_del(r, STORE_STATE, k, fx_skey(k, 3, "gone")), LEDGE_OK);
	cr_assert_eq(commit_rec_del(r, STORE_STATE, k, fx_skey(k, 3, "never")),
	    LEDGE_OK);
	commit_submit(c, r);
	commit_flush(c);

	cr_expect(read_state(3, "res", v, sizeof v));
	cr_expect_str_eq(v, "12345");
	cr_expect_not(read_state(3, "gone", v, sizeof v));
	fx_commit_stop(c);
}

/* --- atomicity ----------------------------------------------------- */

#define ATOM_RECS 150
#define ATOM_KEYS 64

struct watcher {
	atomic_bool stop;
	atomic_bool gone; /* the watcher thread ended (stop, or an error) */
	int torn;         /* snapshots that saw part of a record */
	atomic_int snapshots;
	int last_torn_inst;
	size_t last_torn_count;
};

static void *
watch_records(void *p)
{
	struct watcher *w = p;
	struct store_reader *r;

	if (store_reader_open(fx_store, &r) != LEDGE_OK) {
		w->torn = -1;
		return NULL;
	}
	while (!atomic_load(&w->stop)) {
		if (store_reader_begin(r) != LEDGE_OK) {
			w->torn = -1;
			break;
		}
		for (uint32_t inst = 1; inst <= ATOM_RECS; inst++) {
			size_t n = 0;
			store_state_scan(r, inst, fx_count, &n);
			if (n != 0 && n != ATOM_KEYS) {
				w->torn++;
				w->last_torn_inst = (int)inst;
				w->last_torn_count = n;
			}
		}
		atomic_fetch_add(&w->snapshots, 1);
		store_reader_end(r);
	}
	store_reader_close(r);
	atomic_store(&w->gone, true);
	return NULL;
}

/* Wait until the watcher has taken a snapshot after this point (or has
 * ended), so that snapshots are taken while the committer works - not by
 * luck of the scheduler. */
static void
await_snapshot(struct watcher *w)
{
	int seen = atomic_load(&w->snapshots);
	while (atomic_load(&w->snapshots) == seen && !atomic_load(&w->gone)) {
		sched_yield();
	}
}

Test(commit, a_record_is_never_split)
{
	struct commit *c = fx_commit_start();
	struct watcher w = { 0 };
	pthread_t th;
	size_t total = 0;

	cr_assert_eq(pthread_create(&th, NULL, watch_records, &w), 0);
	for (uint32_t inst = 1; inst <= ATOM_RECS; inst++) {
		struct commit_rec *r = commit_rec_new();
		cr_assert_not_null(r);
		for (int k = 0; k < ATOM_KEYS; k++) {
			unsigned char key[32];
			char name[16];
			snprintf(name, sizeof name, "key%02d", k);
			cr_assert_eq(commit_rec_put(r, STORE_STATE, key,
			                 fx_skey(key, inst, name), name, 5),
			    LEDGE_OK);
		}
		commit_submit(c, r);
		if (inst % 10 == 0) {
			await_snapshot(&w);
		}
	}
	commit_flush(c);
	await_snapshot(&w);
	atomic_store(&w.stop, true);
	pthread_join(th, NULL);
	cr_expect_eq(w.torn, 0,
	    "%d snapshots saw part of a record (instance %d had %zu keys)",
	    w.torn, w.last_torn_inst, w.last_torn_count);
	cr_expect_gt(atomic_load(&w.snapshots), ATOM_RECS / 10,
	    "the watcher took a snapshot at every tenth record");
	cr_assert_eq(store_scan(fx_store, STORE_STATE, fx_count, &total), 0);
	cr_expect_eq(total, (size_t)ATOM_RECS * ATOM_KEYS);
	fx_commit_stop(c);
}

/* --- completions --------------------------------------------------- */

#define DONE_RECS 90

struct done_log {
	struct commit *c;
	pthread_mutex_t mu;
	int order[DONE_RECS];
	int n;
	uint64_t durable_at[DONE_RECS];
	bool visible[DONE_RECS];
	int err[DONE_RECS];
	struct store_reader *r; /* used on the committer thread only */
};

struct done_item {
	struct done_log *log;
	int i;
};

static void
note_done(struct done_log *l, int i, int err)
{
	char key[16];
	ledge_bytes v;

	snprintf(key, sizeof key, "r%d", i);
	if (l->r == NULL) {
		cr_assert_eq(store_reader_open(fx_store, &l->r), LEDGE_OK);
	}
	cr_assert_eq(store_reader_begin(l->r), LEDGE_OK);
	l->visible[i] =
	    store_state_get(l->r, 1, key, strlen(key), &v) == LEDGE_OK;
	store_reader_end(l->r);
	pthread_mutex_lock(&l->mu);
	l->durable_at[i] = commit_durable(l->c);
	l->err[i] = err;
	l->order[l->n++] = i;
	pthread_mutex_unlock(&l->mu);
}

static void
item_done(void *arg, int err)
{
	struct done_item *it = arg;
	note_done(it->log, it->i, err);
}

static void
item_call_done(struct node_call *call, void *arg)
{
	struct done_item *it = arg;
	note_done(it->log, it->i, call->reply.err);
}

Test(commit, completions_run_after_durability_in_order)
{
	struct done_log l;
	struct done_item items[DONE_RECS];
	struct node_call *calls[DONE_RECS] = { NULL };
	uint64_t seqs[DONE_RECS];

	memset(&l, 0, sizeof l);
	pthread_mutex_init(&l.mu, NULL);
	l.c = fx_commit_start();
	for (int i = 0; i < DONE_RECS; i++) {
		char key[16];
		struct commit_rec *r;
		snprintf(key, sizeof key, "r%d", i);
		r = fx_rec_put(1, key, "v");
		items[i].log = &l;
		items[i].i = i;
		if (i % 3 == 0) {
			/* An external call whose reply was staged by the
			 * handler: it goes out once the record is durable. */
			struct node_reply rep = { 0 };
			calls[i] =
			    node_call_new(true, item_call_done, &items[i]);
			cr_assert_not_null(calls[i]);
			rep.status = 200;
			cr_assert(node_call_stage(calls[i], &rep));
			r->call = calls[i]; /* the callee's reference */
		} else {
			r->done = item_done;
			r->arg = &items[i];
		}
		seqs[i] = commit_submit(l.c, r);
	}
	commit_flush(l.c);

	cr_assert_eq(l.n, DONE_RECS, "every completion ran by flush");
	for (int i = 0; i < DONE_RECS; i++) {
		cr_expect_eq(l.order[i], i, "completion %d was record %d", i,
		    l.order[i]);
		cr_expect(
		    l.visible[i], "record %d not visible at completion", i);
		cr_expect_geq(l.durable_at[i], seqs[i],
		    "record %d completed with durable %llu < seq %llu", i,
		    (unsigned long long)l.durable_at[i],
		    (unsigned long long)seqs[i]);
		cr_expect_eq(l.err[i], LEDGE_OK);
	}
	for (int i = 0; i < DONE_RECS; i++) {
		if (calls[i] != NULL) {
			cr_expect_eq(node_call_wait(calls[i], 0), LEDGE_OK);
			cr_expect_eq(calls[i]->reply.status, 200);
			node_call_unref(calls[i]);
		}
	}
	fx_commit_stop(l.c);
	store_reader_close(l.r);
	pthread_mutex_destroy(&l.mu);
}

/* A staged reply goes out only after its record has committed. */
struct told {
	atomic_int calls;
	bool visible; /* the record's write was in the store when told */
	int err;
};

static void
told_done(struct node_call *call, void *arg)
{
	struct told *t = arg;
	char v[16];

	t->visible = read_state(4, "paid", v, sizeof v);
	t->err = call->reply.err;
	atomic_fetch_add(&t->calls, 1);
}

Test(commit, external_reply_waits_for_the_commit)
{
	struct commit *c = fx_commit_start();
	struct fx_hold g;
	struct told t = { 0 };
	struct node_call *call = node_call_new(true, told_done, &t);
	struct node_reply rep = { 0 };
	struct commit_rec *r = fx_rec_put(4, "paid", "yes");
	struct timespec ts = { 0, 50 * 1000000L };

	cr_assert_not_null(call);
	fx_hold_begin(c, &g);
	rep.status = 202;
	cr_assert(node_call_stage(call, &rep));
	r->call = call;
	commit_submit(c, r);
	nanosleep(&ts, NULL);
	cr_expect_eq(atomic_load(&t.calls), 0,
	    "the reply went out before its record committed");
	fx_hold_end(&g);
	commit_flush(c);
	cr_expect_eq(atomic_load(&t.calls), 1);
	cr_expect(t.visible,
	    "the client was told before the write was in "
	    "the store");
	cr_expect_eq(t.err, LEDGE_OK);
	cr_expect_eq(call->reply.status, 202);
	node_call_unref(call);
	fx_commit_stop(c);
	fx_hold_fini(&g);
}

static atomic_int done_count;
static atomic_int done_errs;

static void
count_done(void *arg, int err)
{
	(void)arg;
	atomic_fetch_add(&done_count, 1);
	if (err != LEDGE_OK) {
		atomic_fetch_add(&done_errs, 1);
	}
}

Test(commit, empty_records_complete)
{
	struct commit *c = fx_commit_start();
	uint64_t seq = 0;

	atomic_store(&done_count, 0);
	atomic_store(&done_errs, 0);
	for (int i = 0; i < 10; i++) {
		struct commit_rec *r =
		    i % 2 ? commit_rec_new() : fx_rec_put(5, "k", "v");
		cr_assert_not_null(r);
		r->done = count_done;
		seq = commit_submit(c, r);
	}
	commit_flush(c);
	cr_expect_eq(atomic_load(&done_count), 10);
	cr_expect_eq(atomic_load(&done_errs), 0);
	cr_expect_geq(
	    commit_durable(c), seq, "an empty record counts as durable");

	/* Only empty records. */
	{
		struct commit_rec *r = commit_rec_new();
		cr_assert_not_null(r);
		r->done = count_done;
		seq = commit_submit(c, r);
		commit_flush(c);
		cr_expect_eq(atomic_load(&done_count), 11);
		cr_expect_geq(commit_durable(c), seq);
	}
	fx_commit_stop(c);
}

Test(commit, flush_waits_for_completions)
{
	struct commit *c = fx_commit_start();
	size_t n = 0;

	atomic_store(&done_count, 0);
	for (int round = 0; round < 5; round++) {
		for (int i = 0; i < 200; i++) {
			char key[16];
			struct commit_rec *r;
			snprintf(key, sizeof key, "k%d-%d", round, i);
			r = fx_rec_put(6, key, "v");
			r->done = count_done;
			commit_submit(c, r);
		}
		commit_flush(c);
		cr_assert_eq(atomic_load(&done_count), (round + 1) * 200,
		    "flush returned before the completions ran");
	}
	commit_flush(c); /* nothing pending: returns at once */
	cr_assert_eq(store_scan(fx_store, STORE_STATE, fx_count, &n), 0);
	cr_expect_eq(n, 1000);
	fx_commit_stop(c);
}

/* --- queue cancellation --------------------------------------------- */

static struct commit_rec *
rec_queue(int op, uint64_t qid)
{
	struct commit_rec *r = commit_rec_new();
	unsigned char k[STORE_QKEY];

	cr_assert_not_null(r);
	store_qkey(k, 3, qid);
	if (op == REC_PUT) {
		cr_assert_eq(
		    commit_rec_put(r, STORE_QUEUE, k, sizeof k, "event", 5),
		    LEDGE_OK);
	} else {
		cr_assert_eq(
		    commit_rec_del(r, STORE_QUEUE, k, sizeof k), LEDGE_OK);
	}
	return r;
}

Test(commit, queue_put_and_delete_in_one_batch_cancel)
{
	struct commit *c = fx_commit_start();
	struct commit_stats st;
	struct fx_hold g;
	char v[16];

	atomic_store(&done_count, 0);
	fx_hold_begin(c, &g);
	/* All of these queue up behind the gate: one batch. */
	{
		struct commit_rec *put = rec_queue(REC_PUT, 5);
		struct commit_rec *del = rec_queue(REC_DEL, 5);
		struct commit_rec *other = fx_rec_put(7, "side", "effect");
		put->done = count_done;
		del->done = count_done;
		commit_submit(c, put);
		commit_submit(c, other);
		commit_submit(c, del);
	}
	commit_submit(c, rec_queue(REC_PUT, 4));
	fx_hold_end(&g);
	commit_flush(c);

	cr_expect_not(queue_has(5), "the consumed event is not in the store");
	cr_expect(queue_has(4), "an unconsumed event is");
	cr_expect(read_state(7, "side", v, sizeof v),
	    "other writes of the batch committed");
	cr_expect_eq(atomic_load(&done_count), 2, "both records completed");
	commit_get_stats(c, &st);
	cr_expect_eq(st.cancelled, 2, "cancelled = %llu",
	    (unsigned long long)st.cancelled);
	cr_expect_geq(st.records, 5);

	/* A put and its delete in different batches both reach the store. */
	commit_submit(c, rec_queue(REC_PUT, 9));
	commit_flush(c);
	cr_expect(queue_has(9));
	commit_submit(c, rec_queue(REC_DEL, 9));
	commit_flush(c);
	cr_expect_not(queue_has(9));
	commit_get_stats(c, &st);
	cr_expect_eq(st.cancelled, 2);
	fx_commit_stop(c);
	fx_hold_fini(&g);
}

/* Without a gate: the end state is the same whatever the batching. */
Test(commit, queue_put_and_delete_back_to_back)
{
	struct commit *c = fx_commit_start();
	struct commit_stats st;

	for (uint64_t q = 100; q < 200; q++) {
		commit_submit(c, rec_queue(REC_PUT, q));
		commit_submit(c, rec_queue(REC_DEL, q));
	}
	commit_flush(c);
	for (uint64_t q = 100; q < 200; q++) {
		cr_expect_not(queue_has(q), "event %llu left in the queue",
		    (unsigned long long)q);
	}
	commit_get_stats(c, &st);
	cr_expect_leq(st.cancelled, 200);
	cr_expect_eq(st.cancelled % 2, 0);
	cr_expect_eq(st.records, 200);
	fx_commit_stop(c);
}

/*
 * Queue ids must never repeat: the node takes its next queue id from the
 * "next_qid" counter in the meta database (node.c), which the committer
 * keeps past the highest id it ever committed, also after a restart.
 */
Test(commit, next_queue_id_survives_a_restart)
{
	struct commit *c = fx_commit_start();

	commit_submit(c, rec_queue(REC_PUT, 1));
	commit_flush(c);
	cr_expect_eq(store_meta_get_u64(fx_store, "next_qid"), 2);
	fx_commit_stop(c);

	/* A restarted node hands out next_qid (2) as its first id. */
	c = fx_commit_start();
	commit_submit(c, rec_queue(REC_PUT, 2));
	commit_flush(c);
	fx_commit_stop(c);
	cr_expect_eq(store_meta_get_u64(fx_store, "next_qid"), 3,
	    "after committing queue id 2 the next id is %llu: a restart "
	    "would hand out id 2 again and overwrite the stored event",
	    (unsigned long long)store_meta_get_u64(fx_store, "next_qid"));

	/* And a cancelled pair still moves the counter on. */
	c = fx_commit_start();
	{
		struct fx_hold g;
		fx_hold_begin(c, &g);
		commit_submit(c, rec_queue(REC_PUT, 10));
		commit_submit(c, rec_queue(REC_DEL, 10));
		fx_hold_end(&g);
		commit_flush(c);
		fx_hold_fini(&g);
	}
	fx_commit_stop(c);
	cr_expect_eq(store_meta_get_u64(fx_store, "next_qid"), 11);
}

/* --- stop ------------------------------------------------------------ */

Test(commit, stop_commits_what_is_queued)
{
	struct commit *c = fx_commit_start();
	size_t n = 0;

	atomic_store(&done_count, 0);
	atomic_store(&done_errs, 0);
	for (int i = 0; i < 300; i++) {
		char key[16];
		struct commit_rec *r;
		snprintf(key, sizeof key, "k%d", i);
		r = fx_rec_put(8, key, "v");
		r->done = count_done;
		commit_submit(c, r);
	}
	commit_stop(c);
	cr_expect_eq(atomic_load(&done_count), 300);
	cr_expect_eq(atomic_load(&done_errs), 0);
	cr_assert_eq(store_scan(fx_store, STORE_STATE, fx_count, &n), 0);
	cr_expect_eq(n, 300);
	commit_free(c);
}

struct closed_probe {
	int calls;
	int err;
};

static void
closed_done(void *arg, int err)
{
	struct closed_probe *p = arg;
	p->calls++;
	p->err = err;
}

Test(commit, submissions_after_stop_fail_closed)
{
	struct commit *c = fx_commit_start();
	struct closed_probe p = { 0, -1 };
	struct commit_rec *r;
	struct node_call *call;
	struct node_reply rep = { 0 };
	char v[16];

	commit_submit(c, fx_rec_put(9, "before", "x"));
	commit_stop(c);
	commit_stop(c); /* twice is harmless */

	r = fx_rec_put(9, "after", "x");
	r->done = closed_done;
	r->arg = &p;
	cr_expect_eq(commit_submit(c, r), 0);
	cr_expect_eq(p.calls, 1, "completion ran at once");
	cr_expect_eq(p.err, LEDGE_ECLOSED);

	call = node_call_new(true, NULL, NULL);
	cr_assert_not_null(call);
	rep.status = 200;
	rep.body = malloc(3);
	cr_assert_not_null(rep.body);
	memcpy(rep.body, "hey", 3);
	rep.len = 3;
	cr_assert(node_call_stage(call, &rep));
	r = fx_rec_put(9, "after2", "x");
	r->call = call;
	commit_submit(c, r);
	cr_expect_eq(node_call_wait(call, 1000), LEDGE_OK,
	    "the external caller is told");
	cr_expect_eq(call->reply.err, LEDGE_ECLOSED);
	cr_expect_null(call->reply.body, "the staged reply is replaced");
	node_call_unref(call);

	commit_flush(c); /* must not hang */
	cr_expect(read_state(9, "before", v, sizeof v));
	cr_expect_not(read_state(9, "after", v, sizeof v));
	cr_expect_not(read_state(9, "after2", v, sizeof v));
	commit_free(c);
}

/* --- a failed commit ------------------------------------------------- */

Test(commit, failed_commit_is_reported_and_fails_its_batch)
{
	char *logbuf = NULL;
	size_t loglen = 0;
	FILE *fp = open_memstream(&logbuf, &loglen);
	struct rlog mlog;
	struct commit *c = NULL;
	struct closed_probe p1 = { 0, -1 }, p2 = { 0, -1 };
	struct commit_rec *good, *bad;
	unsigned char k[700];
	struct fx_hold g;
	uint64_t seq_bad;
	char v[16];

	cr_assert_not_null(fp);
	rlog_init(&mlog, fp, RLOG_ERROR);
	atomic_store(&fx_fatal_calls, 0);
	cr_assert_eq(
	    commit_start(&c, fx_store, &mlog, fx_on_fatal, NULL), LEDGE_OK);

	fx_hold_begin(c, &g);
	good = fx_rec_put(10, "good", "x");
	good->done = closed_done;
	good->arg = &p1;
	/* A key longer than LMDB accepts: the transaction fails. */
	bad = commit_rec_new();
	cr_assert_not_null(bad);
	memset(k, 'k', sizeof k);
	cr_assert_eq(commit_rec_put(bad, STORE_STATE, k, sizeof k, "x", 1), 0);
	bad->done = closed_done;
	bad->arg = &p2;
	commit_submit(c, good);
	seq_bad = commit_submit(c, bad);
	fx_hold_end(&g);
	commit_flush(c);

	cr_expect_eq(atomic_load(&fx_fatal_calls), 1, "on_fatal called once");
	cr_expect_eq(p1.calls, 1);
	cr_expect_eq(p2.calls, 1);
	cr_expect_neq(p1.err, LEDGE_OK, "the whole batch failed");
	cr_expect_neq(p2.err, LEDGE_OK);
	cr_expect_lt(commit_durable(c), seq_bad);
	cr_expect_not(read_state(10, "good", v, sizeof v),
	    "nothing of the failed batch is in the store");
	fx_commit_stop(c);
	fx_hold_fini(&g);
	fclose(fp);
	cr_expect(logbuf != NULL && strstr(logbuf, "commit failed") != NULL,
	    "the failure is logged: %s", logbuf ? logbuf : "");
	free(logbuf);
	rlog_fini(&mlog);
}

/* --- many threads ----------------------------------------------------- */

#define SUB_THREADS 8
#define SUB_RECS    10000

static atomic_uchar seen[SUB_THREADS * SUB_RECS];

struct submitter {
	struct commit *c;
	int t;
	bool ordered;
};

static void
mark_seen(void *arg, int err)
{
	uintptr_t i = (uintptr_t)arg;
	if (err == LEDGE_OK) {
		atomic_fetch_add(&seen[i], 1);
	} else {
		atomic_fetch_add(&seen[i], 100);
	}
}

static void *
submit_many(void *p)
{
	struct submitter *s = p;
	uint64_t last = 0;

	s->ordered = true;
	for (int i = 0; i < SUB_RECS; i++) {
		struct commit_rec *r = commit_rec_new();
		unsigned char k[12];
		uint64_t seq;
		if (r == NULL) {
			s->ordered = false;
			return NULL;
		}
		store_be32(k, (uint32_t)(1000 + s->t));
		store_be32(k + 4, (uint32_t)i);
		memcpy(k + 8, "ab", 2);
		commit_rec_put(r, STORE_STATE, k, 10, k, 10);
		r->done = mark_seen;
		r->arg = (void *)(uintptr_t)(s->t * SUB_RECS + i);
		seq = commit_submit(s->c, r);
		if (seq <= last) {
			s->ordered = false;
		}
		last = seq;
	}
	return NULL;
}

Test(commit, many_threads_each_record_commits_once)
{
	struct submitter subs[SUB_THREADS];
	pthread_t th[SUB_THREADS];
	struct commit_stats st;
	struct commit *c = fx_commit_start();
	size_t n = 0, bad = 0;

	for (int t = 0; t < SUB_THREADS; t++) {
		subs[t].c = c;
		subs[t].t = t;
		cr_assert_eq(
		    pthread_create(&th[t], NULL, submit_many, &subs[t]), 0);
	}
	for (int t = 0; t < SUB_THREADS; t++) {
		pthread_join(th[t], NULL);
		cr_expect(
		    subs[t].ordered, "thread %d saw seqs go backwards", t);
	}
	commit_flush(c);
	for (size_t i = 0; i < SUB_THREADS * SUB_RECS; i++) {
		if (atomic_load(&seen[i]) != 1) {
			if (bad++ < 5) {
				cr_log_error("record %zu completed %u times "
				             "(100 = with an error)",
				    i, atomic_load(&seen[i]));
			}
		}
	}
	cr_expect_eq(bad, 0, "%zu records not completed exactly once", bad);
	cr_assert_eq(store_scan(fx_store, STORE_STATE, fx_count, &n), 0);
	cr_expect_eq(n, (size_t)SUB_THREADS * SUB_RECS);
	cr_expect_eq(commit_last_seq(c), (uint64_t)SUB_THREADS * SUB_RECS);
	cr_expect_eq(commit_durable(c), commit_last_seq(c));
	commit_get_stats(c, &st);
	cr_expect_eq(st.records, (uint64_t)SUB_THREADS * SUB_RECS);
	cr_expect_eq(st.ops, (uint64_t)SUB_THREADS * SUB_RECS);
	cr_expect_geq(st.batches, 1);
	cr_expect_leq(st.batches, st.records);
	fx_commit_stop(c);
}

/* --- replication ---------------------------------------------------- */

Test(commit, delete_prefix_removes_only_that_target)
{
	struct commit *c = fx_commit_start();
	char v[16];
	unsigned char prefix[4];
	struct commit_rec *r;

	commit_submit(c, fx_rec_put(7, "a", "1"));
	commit_submit(c, fx_rec_put(7, "b", "2"));
	commit_submit(c, fx_rec_put(8, "a", "3"));
	r = fx_rec_put(7, "c", "3"); /* the same record, before the delete */
	store_be32(prefix, 7);
	cr_assert_eq(
	    commit_rec_del_prefix(r, STORE_STATE, prefix, 4), LEDGE_OK);
	commit_submit(c, r);
	commit_submit(c, fx_rec_put(7, "d", "4")); /* after it */
	commit_flush(c);
	cr_expect_not(read_state(7, "a", v, sizeof v));
	cr_expect_not(read_state(7, "b", v, sizeof v));
	cr_expect_not(read_state(7, "c", v, sizeof v));
	cr_expect(read_state(7, "d", v, sizeof v));
	cr_expect(read_state(8, "a", v, sizeof v) && strcmp(v, "3") == 0);
	fx_commit_stop(c);
}

/* --- a full store ------------------------------------------------------ */

static atomic_int full_errs[8];

static void
note_err(void *arg, int err)
{
	atomic_store(&full_errs[(intptr_t)arg], err == LEDGE_OK ? 1 : err);
}

/* A record putting `len` bytes under state key (inst, key). */
static struct commit_rec *
rec_big(uint32_t inst, const char *key, size_t len)
{
	struct commit_rec *r = commit_rec_new();
	unsigned char k[64];
	unsigned char *v;
	cr_assert_not_null(r);
	v = commit_rec_put_reserve(
	    r, STORE_STATE, k, fx_skey(k, inst, key), len);
	cr_assert_not_null(v);
	memset(v, 'b', len);
	return r;
}

/* fx_store replaced by a growing 16 MiB one (fx_end closes it). */
static void
small_store(void)
{
	struct store_opts o = { .map_mb = 16, .nosync = true, .grow = true };
	char err[256], sub[4200];
	store_close(fx_store);
	snprintf(sub, sizeof sub, "%s/small", fx_dir);
	cr_assert_eq(store_open(&fx_store, sub, &o, err, sizeof err), LEDGE_OK,
	    "%s", err);
}

Test(commit, a_record_that_does_not_fit_fails_alone)
{
	struct commit *c;
	struct fx_hold g;
	char v[16];

	small_store();
	atomic_store(&fx_fatal_calls, 0);
	c = fx_commit_start();
	/* An event in the queue, which the oversize record consumes. */
	commit_submit(c, rec_queue(REC_PUT, 21));
	commit_flush(c);
	cr_assert(queue_has(21));

	fx_hold_begin(c, &g);
	struct commit_rec *r[5];
	r[0] = fx_rec_put(10, "a", "before");
	r[1] = rec_big(11, "big", 20u << 20); /* over the whole limit */
	{
		unsigned char k[STORE_QKEY];
		store_qkey(k, 3, 21);
		cr_assert_eq(
		    commit_rec_del(r[1], STORE_QUEUE, k, sizeof k), LEDGE_OK);
	}
	r[2] = fx_rec_put(12, "c", "after");
	r[3] = fx_rec_put(11, "d", "same target as big"); /* builds on it */
	r[4] = rec_queue(REC_DEL, 99);                    /* a harmless del */
	for (intptr_t i = 0; i < 5; i++) {
		atomic_store(&full_errs[i], 0);
		r[i]->done = note_err;
		r[i]->arg = (void *)i;
		commit_submit(c, r[i]);
	}
	fx_hold_end(&g);
	commit_flush(c);

	cr_expect_eq(atomic_load(&full_errs[0]), 1, "the record before: ok");
	cr_expect_eq(atomic_load(&full_errs[1]), LEDGE_ENOSPC,
	    "the oversize record: %d", atomic_load(&full_errs[1]));
	cr_expect_eq(atomic_load(&full_errs[2]), 1, "the record after: ok");
	cr_expect_eq(atomic_load(&full_errs[3]), LEDGE_ENOSPC,
	    "a record of the same target in the batch fails with it");
	cr_expect_eq(atomic_load(&full_errs[4]), 1);
	cr_expect(read_state(10, "a", v, sizeof v));
	cr_expect_str_eq(v, "before");
	cr_expect(read_state(12, "c", v, sizeof v));
	cr_expect_not(read_state(11, "big", v, sizeof v));
	cr_expect_not(read_state(11, "d", v, sizeof v));
	cr_expect(queue_has(21), "the failed record's input event stays");
	cr_expect_eq(atomic_load(&fx_fatal_calls), 0, "the node goes on");
	struct store_space sp;
	store_space(fx_store, &sp);
	cr_expect_eq(sp.refused[STORE_REFUSED_COMMIT], 2);

	/* And the committer goes on committing. */
	commit_submit(c, fx_rec_put(12, "e", "later"));
	commit_flush(c);
	cr_expect(read_state(12, "e", v, sizeof v));
	fx_commit_stop(c);
	fx_hold_fini(&g);
}

Test(commit, a_full_store_still_takes_deletes)
{
	struct commit *c;
	int n = 0;

	small_store();
	atomic_store(&fx_fatal_calls, 0);
	c = fx_commit_start();
	for (;; n++) {
		char key[16];
		snprintf(key, sizeof key, "k%d", n);
		struct commit_rec *r = rec_big(20, key, 64 * 1024);
		atomic_store(&full_errs[0], 0);
		r->done = note_err;
		r->arg = (void *)0;
		commit_submit(c, r);
		commit_flush(c);
		if (atomic_load(&full_errs[0]) != 1) {
			break;
		}
		cr_assert_lt(n, 1000);
	}
	cr_expect_eq(atomic_load(&full_errs[0]), LEDGE_ENOSPC);
	cr_expect_gt(n, 200, "%d fitted", n);
	/* One record deleting everything. */
	struct commit_rec *d = commit_rec_new();
	unsigned char p[4];
	store_be32(p, 20);
	cr_assert_eq(commit_rec_del_prefix(d, STORE_STATE, p, 4), LEDGE_OK);
	d->done = note_err;
	d->arg = (void *)1;
	commit_submit(c, d);
	commit_flush(c);
	cr_expect_eq(atomic_load(&full_errs[1]), 1, "the delete fits");
	cr_expect_eq(store_state_bytes(fx_store, 20), 0);
	/* The room is there again at once. */
	struct commit_rec *r = rec_big(20, "again", 64 * 1024);
	r->done = note_err;
	r->arg = (void *)2;
	commit_submit(c, r);
	commit_flush(c);
	cr_expect_eq(atomic_load(&full_errs[2]), 1, "a put after the delete");
	cr_expect_eq(atomic_load(&fx_fatal_calls), 0);
	fx_commit_stop(c);
}
