/*
 * replica_test.c - state replication (runtime/node/replica.h), both
 * ends on real committers and real stores: the primary streams the writes
 * of a replicated target to each replica's outbox, and a replica applies
 * those entries under its own id for the target.
 */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "node/commit.h"
#include "node/gate.h"
#include "node/idem.h"
#include "node/instance.h"
#include "node/links.h"
#include "node/replica.h"

#include "fixture.h"
#include "proc.h"

static void
setup(void)
{
	fx_begin_store("replica");
}

TestSuite(replica, .init = setup, .fini = fx_end, .timeout = 120);

/* What the outbox hook saw: entries per peer, concatenated. */
struct seen {
	pthread_mutex_t mu;
	size_t n;
	uint32_t peer[16];
	uint64_t seq[16];
	unsigned char *data[16];
	size_t len[16];
};

static void
seen_hook(void *arg, uint32_t peer, uint64_t seq, const void *d, size_t len)
{
	struct seen *s = arg;
	pthread_mutex_lock(&s->mu);
	if (s->n < 16) {
		s->peer[s->n] = peer;
		s->seq[s->n] = seq;
		s->data[s->n] = malloc(len);
		memcpy(s->data[s->n], d, len);
		s->len[s->n] = len;
		s->n++;
	}
	pthread_mutex_unlock(&s->mu);
}

static void
seen_fini(struct seen *s)
{
	for (size_t i = 0; i < s->n; i++) {
		free(s->data[i]);
	}
	pthread_mutex_destroy(&s->mu);
}

/* Count the ops of a replication entry named `name`; fails on junk. */
static size_t
repl_ops(const unsigned char *p, size_t len, const char *name, int *ops,
    size_t maxops)
{
	size_t n = (size_t)p[0] << 8 | p[1], k = 0;
	cr_assert_geq(len, 2 + n);
	cr_assert_eq(p[2], REPL_MARK);
	cr_assert_eq(n - 1, strlen(name));
	cr_assert_eq(memcmp(p + 3, name, n - 1), 0);
	for (size_t off = 2 + n + 8; off < len;) {
		uint32_t klen = store_rd32(p + off + 2);
		uint32_t vlen = store_rd32(p + off + 6);
		if (k < maxops) {
			ops[k] = p[off + 1];
		}
		k++;
		off += 10 + klen + vlen;
		cr_assert_leq(off, len);
	}
	return k;
}

Test(replica, writes_of_a_replicated_target_go_to_each_replica)
{
	struct commit *c;
	struct replica *rep;
	struct seen s = { .n = 0 };
	uint32_t peers[2] = { 5, 6 };
	int ops[8];

	pthread_mutex_init(&s.mu, NULL);
	c = fx_commit_start();
	cr_assert_eq(replica_new(&rep), LEDGE_OK);
	commit_set_expand_hook(c, replica_expand, rep);
	commit_set_outbox_hook(c, seen_hook, &s);
	commit_submit(c, fx_rec_put(7, "before", "x")); /* not replicated yet */
	commit_flush(c);
	cr_assert_eq(
	    replica_set(rep, 7, "wf/f", peers, 2, false, 1, NULL), LEDGE_OK);
	commit_submit(c, fx_rec_put(8, "other", "y")); /* another target */
	struct commit_rec *r = fx_rec_put(7, "k", "v1");
	unsigned char k[64];
	cr_assert_eq(commit_rec_del(r, STORE_STATE, k, fx_skey(k, 7, "before")),
	    LEDGE_OK);
	commit_submit(c, r);
	commit_flush(c);
	pthread_mutex_lock(&s.mu);
	cr_assert_eq(s.n, 2, "one entry per replica, got %zu", s.n);
	cr_expect_eq(s.peer[0], 5);
	cr_expect_eq(s.peer[1], 6);
	cr_expect_eq(s.seq[0], 1);
	cr_expect_eq(s.seq[1], 1);
	cr_expect_eq(s.len[0], s.len[1]);
	cr_expect_eq(memcmp(s.data[0], s.data[1], s.len[0]), 0);
	cr_assert_eq(repl_ops(s.data[0], s.len[0], "wf/f", ops, 8), 2,
	    "the put and the delete, nothing of target 8");
	cr_expect_eq(ops[0], REC_PUT);
	cr_expect_eq(ops[1], REC_DEL);
	pthread_mutex_unlock(&s.mu);

	/* A snapshot: clear its tables, then every entry. */
	r = commit_rec_new();
	cr_assert_eq(commit_rec_snapshot(r, 7), LEDGE_OK);
	commit_submit(c, r);
	commit_flush(c);
	pthread_mutex_lock(&s.mu);
	cr_assert_eq(s.n, 4);
	cr_expect_eq(s.seq[2], 2, "numbered after the first entry");
	cr_assert_eq(repl_ops(s.data[2], s.len[2], "wf/f", ops, 8), 4);
	cr_expect_eq(ops[0], REC_DELPREFIX);
	cr_expect_eq(ops[1], REC_PUT, "the one state entry, k");
	cr_expect_eq(ops[2], REC_DELPREFIX, "the queue");
	cr_expect_eq(ops[3], REC_DELPREFIX, "the Idempotency-Key answers");
	pthread_mutex_unlock(&s.mu);

	/* Stopped: nothing more goes out. */
	cr_assert_eq(
	    replica_set(rep, 7, NULL, NULL, 0, false, 1, NULL), LEDGE_OK);
	commit_submit(c, fx_rec_put(7, "after", "z"));
	commit_flush(c);
	pthread_mutex_lock(&s.mu);
	cr_expect_eq(s.n, 4);
	pthread_mutex_unlock(&s.mu);
	fx_commit_stop(c);
	replica_free(rep);
	seen_fini(&s);
}

/* ------------------------------------------------------------------ */
/* the replica's end                                                   */

struct replica_node {
	struct node_target part; /* "wf/f", when it runs here */
	bool runs;
	uint64_t qid_above;
};

static struct node_target *
rn_find_target(void *ctx, const char *name)
{
	struct replica_node *rn = ctx;
	return rn->runs && strcmp(name, "wf/f") == 0 ? &rn->part : NULL;
}

static int
rn_registry_id(void *ctx, const char *name, uint32_t *id)
{
	(void)ctx;
	if (strcmp(name, "wf/f") != 0) {
		return LEDGE_ENOENT;
	}
	*id = 42; /* the replica's own id for the part */
	return LEDGE_OK;
}

static void
rn_qid_above(void *ctx, uint64_t qid)
{
	struct replica_node *rn = ctx;
	if (qid > rn->qid_above) {
		rn->qid_above = qid;
	}
}

/* The value of key under target id in st, or "" when absent. */
static bool
state_of(struct store *st, uint32_t id, const char *key, char *out, size_t n)
{
	struct store_reader *r;
	ledge_bytes v;
	bool found;

	cr_assert_eq(store_reader_open(st, &r), LEDGE_OK);
	cr_assert_eq(store_reader_begin(r), LEDGE_OK);
	found = store_state_get(r, id, key, strlen(key), &v) == LEDGE_OK;
	out[0] = '\0';
	if (found) {
		snprintf(out, n, "%.*s", (int)v.len, (const char *)v.data);
	}
	store_reader_end(r);
	store_reader_close(r);
	return found;
}

static int
count_entry(void *arg, ledge_bytes key, ledge_bytes value)
{
	(void)key;
	(void)value;
	(*(size_t *)arg)++;
	return 0;
}

Test(replica, a_replica_applies_what_the_primary_committed)
{
	struct commit *c, *rc;
	struct replica *rep, *rrep;
	struct seen s = { .n = 0 };
	uint32_t peers[1] = { 5 };
	struct replica_node rn = { .part = { .id = 42, .kind = NT_INSTANCE } };
	struct links_env env = { .ctx = &rn,
		.find_target = rn_find_target,
		.registry_id = rn_registry_id,
		.qid_above = rn_qid_above };
	char *rdir = tmpdir_make("replica-r");
	struct store *rstore;
	struct store_opts o = { .map_mb = 64, .nosync = true };
	char err[512] = "", v[64];
	unsigned char k[64], q[STORE_QKEY];
	struct commit_rec *r;
	size_t nq = 0;

	/* The primary: target 7, replicated to peer 5. */
	pthread_mutex_init(&s.mu, NULL);
	c = fx_commit_start();
	cr_assert_eq(replica_new(&rep), LEDGE_OK);
	commit_set_expand_hook(c, replica_expand, rep);
	commit_set_outbox_hook(c, seen_hook, &s);
	cr_assert_eq(
	    replica_set(rep, 7, "wf/f", peers, 1, false, 1, NULL), LEDGE_OK);
	commit_submit(c, fx_rec_put(7, "k1", "v1"));
	commit_submit(c, fx_rec_put(7, "k2", "v2"));
	r = fx_rec_put(7, "k3", "v3");
	cr_assert_eq(
	    commit_rec_del(r, STORE_STATE, k, fx_skey(k, 7, "k1")), LEDGE_OK);
	store_qkey(q, 7, 77);
	cr_assert_eq(
	    commit_rec_put(r, STORE_QUEUE, q, sizeof q, "ev", 2), LEDGE_OK);
	/* The answer to a call from another node, kept under the target. */
	struct idem_answer ia = { .expires_ms = UINT64_MAX / 2,
		.status = 201,
		.ctype = "text/plain",
		.body = "n=3",
		.len = 3 };
	cr_assert_eq(idem_add(r, 7, "key-1", &ia), LEDGE_OK);
	commit_submit(c, r);
	commit_flush(c);
	pthread_mutex_lock(&s.mu);
	cr_assert_eq(s.n, 3, "one entry per record, got %zu", s.n);
	pthread_mutex_unlock(&s.mu);

	/* The replica: its own store and committer. */
	cr_assert_not_null(rdir);
	cr_assert_eq(store_open(&rstore, rdir, &o, err, sizeof err), LEDGE_OK,
	    "%s", err);
	cr_assert_eq(
	    commit_start(&rc, rstore, &fx_log, fx_on_fatal, NULL), LEDGE_OK);
	cr_assert_eq(replica_new(&rrep), LEDGE_OK);
	for (size_t i = 0; i < s.n; i++) {
		struct commit_rec *ar = commit_rec_new();
		cr_assert(replica_is_entry(s.data[i], s.len[i]));
		cr_assert_eq(
		    replica_apply(rrep, &env, ar, s.data[i], s.len[i]), 0);
		commit_submit(rc, ar);
	}
	commit_flush(rc);
	cr_expect_eq(replica_applied(rrep), 3);
	cr_expect_not(state_of(rstore, 42, "k1", v, sizeof v), "deleted");
	cr_expect(state_of(rstore, 42, "k2", v, sizeof v));
	cr_expect_str_eq(v, "v2");
	cr_expect(state_of(rstore, 42, "k3", v, sizeof v));
	cr_expect_str_eq(v, "v3");
	cr_expect_not(state_of(rstore, 7, "k2", v, sizeof v),
	    "under the replica's id, not the primary's");
	store_scan(rstore, STORE_QUEUE, count_entry, &nq);
	cr_expect_eq(nq, 1, "the queued event too");

	/* Entries of a primary older than the part's epoch here (one that
	 * was replaced, sending what was left in its outbox once it is back)
	 * are stale: ignored, also between two deploys of the part here. */
	{
		struct commit_rec *ar = commit_rec_new();
		cr_assert_eq(
		    replica_primary(rrep, &env, ar, "wf/f", 2), LEDGE_OK);
		cr_assert_eq(
		    replica_apply(rrep, &env, ar, s.data[1], s.len[1]), 0);
		commit_submit(rc, ar);
		commit_flush(rc);
		cr_expect_eq(replica_applied(rrep), 3, "a stale entry applied");
		cr_expect_eq(replica_stale(rrep), 1);
		cr_expect_not(state_of(rstore, 42, "k1", v, sizeof v),
		    "a stale entry wrote k1 again");
	}
	{
		struct store_reader *rr;
		struct idem_answer got;
		size_t nt = 0;
		cr_assert_eq(store_reader_open(rstore, &rr), LEDGE_OK);
		cr_assert_eq(store_reader_begin(rr), LEDGE_OK);
		cr_expect_eq(idem_get(rr, 42, "key-1", 0, &got), LEDGE_OK,
		    "the Idempotency-Key answer, under the replica's id");
		cr_expect_eq(got.status, 201);
		cr_expect_eq(got.len, 3);
		store_reader_end(rr);
		store_reader_close(rr);
		store_scan(rstore, STORE_IDEMTIME, count_entry, &nt);
		cr_expect_eq(nt, 1, "indexed for pruning there too");
	}
	cr_expect_eq(
	    rn.qid_above, 77, "its queue ids stay above the primary's");

	/* A part that runs here takes no entries (a stale primary's). */
	rn.runs = true;
	r = commit_rec_new();
	cr_assert_eq(replica_apply(rrep, &env, r, s.data[0], s.len[0]), 0);
	cr_expect(commit_rec_empty(r));
	cr_expect_eq(replica_applied(rrep), 3);
	commit_rec_free(r);

	/* Malformed: cut in the middle of an operation. */
	rn.runs = false;
	r = commit_rec_new();
	cr_expect_eq(replica_apply(rrep, &env, r, s.data[0], s.len[0] - 1),
	    LEDGE_EPROTO);
	commit_rec_free(r);

	fx_commit_stop(rc);
	store_close(rstore);
	tmpdir_remove(rdir);
	free(rdir);
	replica_free(rrep);
	fx_commit_stop(c);
	replica_free(rep);
	seen_fini(&s);
}

/*
 * A replica is in sync for a target once it acknowledged what was
 * durable for it when the target's snapshot was released - and never
 * while entries to it were withdrawn since the replicas were set (it was
 * declared lost: its tombstones are acknowledged unread, perhaps the
 * snapshot's own), until the next setting.
 */
Test(replica, a_replica_holds_the_snapshot_only_if_nothing_to_it_was_withdrawn)
{
	struct replica *rep;
	struct gate *g;
	struct replica_status st[2];
	uint32_t peers[1] = { 5 };
	uint64_t tgen;

	cr_assert_eq(replica_new(&rep), LEDGE_OK);
	cr_assert_eq(gate_new(&g, 1000, NULL, NULL), LEDGE_OK);
	cr_assert_eq(
	    replica_set(rep, 7, "wf/f", peers, 1, true, 1, &tgen), LEDGE_OK);
	cr_assert_eq(replica_status(rep, 7, g, st, 2), 1);
	cr_expect(!st[0].in_sync, "in sync before its snapshot");

	/* The snapshot is released; the peer acknowledged everything. */
	gate_acked(g, 5, 3);
	replica_snapshot_done(rep, 7, tgen, g);
	cr_assert_eq(replica_status(rep, 7, g, st, 2), 1);
	cr_expect(st[0].in_sync);
	cr_expect_eq(st[0].peer, 5);

	/* Its entries are withdrawn: not in sync, even after a snapshot
	 * released later or more acknowledgements. */
	replica_peer_dropped(rep, 5);
	gate_acked(g, 5, 9);
	replica_snapshot_done(rep, 7, tgen, g);
	replica_status(rep, 7, g, st, 2);
	cr_expect(!st[0].in_sync, "in sync after its entries were withdrawn");

	/* Set again, with a new snapshot: in sync again; a stale snapshot
	 * of the old setting changes nothing. */
	uint64_t tgen2;
	cr_assert_eq(
	    replica_set(rep, 7, "wf/f", peers, 1, true, 1, &tgen2), LEDGE_OK);
	replica_snapshot_done(rep, 7, tgen, g);
	replica_status(rep, 7, g, st, 2);
	cr_expect(!st[0].in_sync, "a stale snapshot counted");
	replica_snapshot_done(rep, 7, tgen2, g);
	replica_status(rep, 7, g, st, 2);
	cr_expect(st[0].in_sync);

	/* `ack: primary`: never counted in sync (nothing waits for it). */
	cr_assert_eq(
	    replica_set(rep, 7, "wf/f", peers, 1, false, 1, &tgen2), LEDGE_OK);
	replica_snapshot_done(rep, 7, tgen2, g);
	replica_status(rep, 7, g, st, 2);
	cr_expect(!st[0].in_sync);
	gate_free(g);
	replica_free(rep);
}
