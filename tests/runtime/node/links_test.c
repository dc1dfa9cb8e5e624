/*
 * links_test.c - links between nodes (runtime/node/links.h) without a
 * node: two link sets, each with a real committer on a real LMDB store in
 * a temporary folder, talking over real nng inproc:// sockets, with the
 * loop on its own thread.  The node's part (struct links_env) is a target
 * table of one part, "wf/f", whose events are recorded.
 *
 * Checked: casts arrive in order and exactly once across a dropped
 * connection (and are in the receiver's durable queue once each), and
 * when two batches in flight reach the receiver in reverse order; batches
 * refused for a part not deployed there yet are retried after a pause; the
 * receiver's watermark per sender incarnation skips resends, survives a
 * restart, and starts late for a sender it never heard of; a fenced
 * sender is refused; a remote call is answered, refused for an unknown
 * part, and times out when the peer does not answer.
 */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/clock.h"
#include "base/rlog.h"
#include "net/msg.h"
#include "net/wire.h"
#include "node/commit.h"
#include "node/instance.h"
#include "node/links.h"
#include "node/node_call.h"
#include "node/node_event.h"
#include "platform/loop.h"
#include "proc.h"
#include "store/store.h"

#define PART    "wf/f"
#define MAX_GOT 1024

static struct loop *L;
static pthread_t T;
static struct rlog rlog;

/* One node's end: its store, committer, links and request server. */
struct side {
	const char *name;
	char url[64];
	uint64_t inc;
	char *dir;
	struct store *store;
	struct commit *commit;
	struct links *links;
	struct msg_server *server;
	struct node_target target; /* PART, when it runs here */
	bool serves;
	atomic_bool hold; /* calls are kept unanswered */
	atomic_uint_fast64_t qid;
	pthread_mutex_t mu;
	uint32_t got[MAX_GOT]; /* payloads of the casts delivered, in order */
	size_t ngot;
	struct node_event *held[16];
	size_t nheld;
	/* what the loop thread found wrong (Criterion asserts on the test's
	 * own thread only) */
	atomic_int bad;
	char why[256];
};

/* Note a failed check made on the loop thread. */
static void
side_bad(struct side *s, const char *why)
{
	if (atomic_fetch_add(&s->bad, 1) == 0) {
		snprintf(s->why, sizeof s->why, "%s", why);
	}
}

static void
expect_good(struct side *s)
{
	cr_expect_eq(atomic_load(&s->bad), 0, "side %s: %s", s->name, s->why);
}

/* ------------------------------------------------------------------ */
/* the loop                                                            */

static void *
run_loop(void *arg)
{
	(void)arg;
	loop_run(L);
	return NULL;
}

static void
stop_cb(void *arg)
{
	(void)arg;
	loop_exit(L);
}

struct on_loop {
	void (*fn)(void *);
	void *arg;
	atomic_int done;
};

static void
on_loop_cb(void *arg)
{
	struct on_loop *o = arg;
	o->fn(o->arg);
	atomic_store(&o->done, 1);
}

/* Run fn(arg) on the loop thread and wait for it. */
static void
on_loop(void (*fn)(void *), void *arg)
{
	struct on_loop o = { fn, arg, 0 };
	cr_assert_eq(loop_post(L, on_loop_cb, &o), 0);
	while (!atomic_load(&o.done)) {
		usleep(500);
	}
}

static void
setup(void)
{
	rlog_init(&rlog, stderr, RLOG_ERROR);
	cr_assert_eq(loop_new(&L), 0);
	pthread_create(&T, NULL, run_loop, NULL);
}

static void
teardown(void)
{
	loop_post(L, stop_cb, NULL);
	pthread_join(T, NULL);
	loop_free(L);
	rlog_fini(&rlog);
}

TestSuite(links, .init = setup, .fini = teardown, .timeout = 120);

/* ------------------------------------------------------------------ */
/* the node's part                                                     */

static struct node_target *
env_find_target(void *ctx, const char *name)
{
	struct side *s = ctx;
	return s->serves && strcmp(name, PART) == 0 ? &s->target : NULL;
}

static int
env_registry_id(void *ctx, const char *name, uint32_t *id)
{
	(void)ctx;
	(void)name;
	(void)id;
	return LEDGE_ENOENT; /* no replication here */
}

static uint64_t
env_next_qid(void *ctx)
{
	struct side *s = ctx;
	return atomic_fetch_add(&s->qid, 1);
}

static void
env_qid_above(void *ctx, uint64_t qid)
{
	struct side *s = ctx;
	if (atomic_load(&s->qid) <= qid) {
		atomic_store(&s->qid, qid + 1);
	}
}

/* A cast that arrived: record its payload (a u32). */
static void
env_send(void *ctx, struct node_target *t, struct node_event *ev)
{
	struct side *s = ctx;
	uint32_t k = 0;
	if (t != &s->target || !(ev->flags & NEF_DURABLE) ||
	    ev->len != sizeof k) {
		side_bad(
		    s, "a cast arrived not durable, or for another target");
	}
	memcpy(&k, ev->data, ev->len < sizeof k ? ev->len : sizeof k);
	pthread_mutex_lock(&s->mu);
	if (s->ngot < MAX_GOT) {
		s->got[s->ngot] = k;
	}
	s->ngot++;
	pthread_mutex_unlock(&s->mu);
	node_event_free(ev);
}

/* A call to run here: answered "pong:" + its payload, or held. */
static void
env_send_inline(void *ctx, struct node_target *t, struct node_event *ev)
{
	struct side *s = ctx;
	struct node_reply r = { 0 };
	if (t != &s->target || ev->call == NULL) {
		side_bad(s, "a call for another target, or without its call");
	}
	if (atomic_load(&s->hold) && s->nheld < 16) {
		s->held[s->nheld++] = ev;
		return;
	}
	if ((r.body = malloc(5 + ev->len)) != NULL) {
		memcpy(r.body, "pong:", 5);
		memcpy(r.body + 5, ev->data, ev->len);
		r.len = 5 + ev->len;
	}
	node_call_complete(ev->call, &r);
	node_event_free(ev);
}

static int
env_admit(struct node_target *t)
{
	(void)t;
	return LEDGE_OK;
}

static void
env_admitted(struct node_target *t, struct node_event *ev)
{
	(void)t;
	(void)ev;
}

/* The requests of peers, as a node's agent passes them on. */
static void
on_request(void *arg, struct msg_req *req)
{
	struct side *s = arg;
	struct wire_r r;
	size_t len;
	const void *data = msg_req_data(req, &len);

	if (wire_parse(&r, data, len) != 0) {
		side_bad(s, "a request that does not parse");
		msg_reply(req, NULL, 0);
		return;
	}
	if (wire_str_eq(wire_get(wire_root(&r), "t"), "ev")) {
		links_handle_ev(s->links, req, wire_root(&r));
	} else if (wire_str_eq(wire_get(wire_root(&r), "t"), "call")) {
		links_handle_call(s->links, req, wire_root(&r));
	} else {
		side_bad(s, "a request neither ev nor call");
		msg_reply(req, NULL, 0);
	}
	wire_r_fini(&r);
}

static void
on_fatal(void *arg, const char *why)
{
	(void)arg;
	fprintf(stderr, "commit failed: %s\n", why ? why : "?");
	abort();
}

/* ------------------------------------------------------------------ */
/* sides                                                               */

struct open_arg {
	struct side *s;
	int store_rv, commit_rv, links_rv, server_rv;
	char err[512];
};

static void
open_on_loop(void *arg)
{
	struct open_arg *o = arg;
	struct side *s = o->s;
	struct store_opts so = { .map_mb = 64, .nosync = true };
	struct links_env env = { s, L, &rlog, NULL, NULL, env_find_target,
		env_registry_id, env_next_qid, env_qid_above, env_send,
		env_send_inline, env_admit, env_admitted, 0 };

	if ((o->store_rv = store_open(
	         &s->store, s->dir, &so, o->err, sizeof o->err)) != LEDGE_OK ||
	    (o->commit_rv = commit_start(
	         &s->commit, s->store, &rlog, on_fatal, NULL)) != LEDGE_OK) {
		return;
	}
	env.store = s->store;
	env.commit = s->commit;
	if ((o->links_rv = links_new(&s->links, &env, s->name, s->inc, NULL)) !=
	    LEDGE_OK) {
		return;
	}
	commit_set_outbox_hook(s->commit, links_on_outbox, s->links);
	if ((o->server_rv = msg_server_new(L, s->url, NULL, on_request, s,
	         &s->server, o->err, sizeof o->err)) != 0) {
		return;
	}
	links_restore(s->links);
}

/* Start side `name` (again, on its folder, if s->dir is set). */
static void
side_open(struct side *s, const char *name, bool serves)
{
	s->name = name;
	snprintf(s->url, sizeof s->url, "inproc://links-test-%s", name);
	if (s->inc == 0) {
		s->inc = 1000 + (uint64_t)name[0];
	}
	if (s->dir == NULL) {
		s->dir = tmpdir_make("links");
		cr_assert_not_null(s->dir);
		pthread_mutex_init(&s->mu, NULL);
		atomic_init(&s->qid, 1);
	}
	s->serves = serves;
	s->target.id = 7;
	s->target.kind = NT_INSTANCE;
	s->target.name = PART;
	struct open_arg o = { .s = s };
	on_loop(open_on_loop, &o);
	cr_assert_eq(o.store_rv, LEDGE_OK, "store_open: %s", o.err);
	cr_assert_eq(o.commit_rv, LEDGE_OK);
	cr_assert_eq(o.links_rv, LEDGE_OK);
	cr_assert_eq(o.server_rv, 0, "%s", o.err);
}

static void
release_held(void *arg)
{
	struct side *s = arg;
	for (size_t i = 0; i < s->nheld; i++) {
		node_event_free(s->held[i]); /* fails its call: ECLOSED */
	}
	s->nheld = 0;
}

static void
free_server(void *arg)
{
	struct side *s = arg;
	msg_server_free(s->server);
	s->server = NULL;
}

static void
free_links(void *arg)
{
	struct side *s = arg;
	links_free(s->links);
	s->links = NULL;
}

static void
nothing(void *arg)
{
	(void)arg;
}

/* Stop side s as a node does (its folder stays unless `remove`). */
static void
side_close(struct side *s, bool remove)
{
	expect_good(s);
	on_loop(release_held, s);
	/* Acknowledgements waiting for a commit go out first. */
	commit_flush(s->commit);
	on_loop(nothing, NULL);
	on_loop(free_server, s);
	commit_stop(s->commit);
	on_loop(free_links, s);
	commit_free(s->commit);
	store_close(s->store);
	if (remove) {
		tmpdir_remove(s->dir);
		free(s->dir);
		s->dir = NULL;
		pthread_mutex_destroy(&s->mu);
	}
}

struct peer_arg {
	struct side *s;
	const char *name, *url;
	uint32_t id;
};

static void
peer_on_loop(void *arg)
{
	struct peer_arg *p = arg;
	p->id = links_peer(p->s->links, p->name);
	if (p->url != NULL) {
		links_set_url(p->s->links, p->name, p->url);
	}
}

/* The link id of `name` at side s, pointed at url (if not NULL). */
static uint32_t
side_peer(struct side *s, const char *name, const char *url)
{
	struct peer_arg p = { s, name, url, 0 };
	on_loop(peer_on_loop, &p);
	cr_assert_neq(p.id, 0);
	return p.id;
}

/* A cast of payload k to PART on peer `peer`, as a handler's commit
 * record carries it. */
static void
cast_to(struct side *s, uint32_t peer, uint32_t k)
{
	struct node_event *ev = node_event_new(NE_CAST, 0, &k, sizeof k);
	struct commit_rec *rec = commit_rec_new();
	size_t n;
	unsigned char *e;

	cr_assert_not_null(ev);
	cr_assert_not_null(rec);
	n = link_entry_size(PART, ev);
	e = malloc(n);
	cr_assert_not_null(e);
	link_entry_encode(e, PART, ev);
	cr_assert_eq(commit_rec_outbox(rec, peer, e, n), LEDGE_OK);
	commit_submit(s->commit, rec);
	free(e);
	node_event_free(ev);
}

static size_t
ngot(struct side *s)
{
	size_t n;
	pthread_mutex_lock(&s->mu);
	n = s->ngot;
	pthread_mutex_unlock(&s->mu);
	return n;
}

static void
wait_got(struct side *s, size_t n, int timeout_ms)
{
	int64_t end = (int64_t)clock_mono_us() + (int64_t)timeout_ms * 1000;
	while (ngot(s) < n && (int64_t)clock_mono_us() < end) {
		usleep(2000);
	}
	cr_assert_geq(ngot(s), n, "delivered %zu of %zu", ngot(s), n);
}

static int
count_one(void *arg, ledge_bytes key, ledge_bytes value)
{
	(void)key;
	(void)value;
	(*(size_t *)arg)++;
	return 0;
}

static size_t
queued(struct side *s)
{
	size_t n = 0;
	commit_flush(s->commit);
	store_scan(s->store, STORE_QUEUE, count_one, &n);
	return n;
}

/* ------------------------------------------------------------------ */
/* casts                                                               */

struct url_arg {
	struct side *s;
	const char *url;
};

static void
set_url_on_loop(void *arg)
{
	struct url_arg *u = arg;
	links_set_url(u->s->links, "b", u->url);
}

static void
keep_stats(void *arg, const struct link_stats *st)
{
	if (strcmp(st->peer, "b") == 0) {
		*(struct link_stats *)arg = *st;
	}
}

/* Everything s sent is acknowledged: its outbox empties (bounded). */
static void
wait_all_acked(struct side *s)
{
	int64_t end = (int64_t)clock_mono_us() + 10 * 1000000;
	while (links_backlog(s->links) > 0 && (int64_t)clock_mono_us() < end) {
		usleep(2000);
	}
	cr_expect_eq(links_backlog(s->links), 0);
}

/* s got the casts 1..n, each once and in order, and holds each once in
 * its durable queue. */
static void
expect_once_in_order(struct side *s, size_t n)
{
	usleep(200 * 1000); /* a duplicate would arrive by now */
	pthread_mutex_lock(&s->mu);
	cr_assert_eq(
	    s->ngot, n, "%zu casts delivered for %zu sent", s->ngot, n);
	for (size_t i = 0; i < n; i++) {
		cr_assert_eq(
		    s->got[i], i + 1, "cast %zu is %u", i + 1, s->got[i]);
	}
	pthread_mutex_unlock(&s->mu);
	cr_expect_eq(queued(s), n, "each once in the receiver's queue");
}

Test(links, casts_arrive_in_order_exactly_once_across_a_dropped_link)
{
	struct side a = { 0 }, b = { 0 };
	enum { N = 300 };

	side_open(&b, "b", true);
	side_open(&a, "a", false);
	uint32_t pb = side_peer(&a, "b", b.url);
	for (uint32_t k = 1; k <= N; k++) {
		cast_to(&a, pb, k);
		if (k == N / 3) {
			/* The link goes where nobody answers: the batch in
			 * flight is lost, whether b applied it or not. */
			struct url_arg u = { &a,
				"inproc://links-test-nowhere" };
			on_loop(set_url_on_loop, &u);
		} else if (k == 2 * N / 3) {
			struct url_arg u = { &a, b.url };
			on_loop(set_url_on_loop, &u);
		}
		if (k % 10 == 0) {
			usleep(5000);
		}
	}
	wait_got(&b, N, 30000);
	/* Everything acknowledged: the sender's outbox empties. */
	wait_all_acked(&a);
	/* The batch that went nowhere was sent again. */
	struct link_stats st = { 0 };
	struct links_totals tot;
	links_stats(a.links, &tot, keep_stats, &st);
	cr_expect_geq(st.batches, 2);
	cr_expect_geq(st.retransmits, 1, "nothing was sent twice");
	cr_expect_eq(st.queued, 0);
	cr_expect_eq(st.acked, N);
	expect_once_in_order(&b, N);
	side_close(&a, true);
	side_close(&b, true);
}

/* ------------------------------------------------------------------ */
/* several batches in flight, reaching the receiver out of order       */

/* A relay between a sender and b: it answers the sender with b's answers,
 * and holds the first two requests it gets until both are there (or a
 * while has passed), then hands b the second before the first. */
struct relay {
	char url[64];
	struct msg_server *server;
	struct msg_client *to_b;
	struct msg_req *held[2];
	void *data[2];
	size_t len[2];
	size_t nheld, outstanding;
	atomic_size_t max_outstanding; /* requests waiting at once */
	atomic_size_t requests;
	bool reordered; /* the first two went to b */
	struct loop_timer *timer;
};

struct relayed {
	struct relay *r;
	struct msg_req *req;
	int next; /* the held request to send after this one, or -1 */
};

static void relay_send(struct relay *r, struct msg_req *req, const void *data,
    size_t len, int next);

static void
relay_answered(void *arg, int err, const void *data, size_t len)
{
	struct relayed *x = arg;
	struct relay *r = x->r;
	if (err == MSG_OK) {
		msg_reply(x->req, data, len);
	} else {
		msg_reply(x->req, NULL, 0); /* the sender retries */
	}
	r->outstanding--;
	if (x->next >= 0) {
		int i = x->next;
		relay_send(r, r->held[i], r->data[i], r->len[i], -1);
		free(r->data[i]);
		r->data[i] = NULL;
	}
	free(x);
}

static void
relay_send(struct relay *r, struct msg_req *req, const void *data, size_t len,
    int next)
{
	struct relayed *x = malloc(sizeof *x);
	cr_assert_not_null(x);
	*x = (struct relayed) { r, req, next };
	msg_call(r->to_b, data, len, 5000, relay_answered, x);
}

/* The two held requests go to b: the later first, the earlier once b has
 * answered it. */
static void
relay_flush(void *arg)
{
	struct relay *r = arg;
	if (r->reordered || r->nheld == 0) {
		return;
	}
	r->reordered = true;
	if (r->nheld == 1) {
		relay_send(r, r->held[0], r->data[0], r->len[0], -1);
		free(r->data[0]);
		r->data[0] = NULL;
		return;
	}
	relay_send(r, r->held[1], r->data[1], r->len[1], 0);
	free(r->data[1]);
	r->data[1] = NULL;
}

static void
relay_on_request(void *arg, struct msg_req *req)
{
	struct relay *r = arg;
	size_t len;
	const void *data = msg_req_data(req, &len);
	atomic_fetch_add(&r->requests, 1);
	r->outstanding++;
	if (r->outstanding > atomic_load(&r->max_outstanding)) {
		atomic_store(&r->max_outstanding, r->outstanding);
	}
	if (!r->reordered && r->nheld < 2) {
		r->held[r->nheld] = req;
		r->data[r->nheld] = malloc(len);
		cr_assert_not_null(r->data[r->nheld]);
		memcpy(r->data[r->nheld], data, len);
		r->len[r->nheld] = len;
		if (++r->nheld == 2) {
			relay_flush(r);
		} else {
			loop_timer_start(r->timer, 3000);
		}
		return;
	}
	relay_send(r, req, data, len, -1);
}

static void
relay_open_on_loop(void *arg)
{
	struct relay *r = arg;
	char err[256];
	r->timer = loop_timer_new(L, relay_flush, r);
	cr_assert_not_null(r->timer);
	cr_assert_eq(msg_server_new(L, r->url, NULL, relay_on_request, r,
	                 &r->server, err, sizeof err),
	    0, "%s", err);
	cr_assert_eq(msg_client_new(L, "inproc://links-test-b", NULL, &r->to_b,
	                 err, sizeof err),
	    0, "%s", err);
}

static void
relay_close_on_loop(void *arg)
{
	struct relay *r = arg;
	msg_server_free(r->server);
	msg_client_free(r->to_b);
	loop_timer_free(r->timer);
}

Test(links, batches_in_flight_that_arrive_out_of_order_are_taken_once_in_order)
{
	struct side a = { 0 }, b = { 0 };
	struct relay r = { .url = "inproc://links-test-relay" };
	enum { N = 200 };

	side_open(&b, "b", true);
	side_open(&a, "a", false);
	on_loop(relay_open_on_loop, &r);
	uint32_t pb = side_peer(&a, "b", r.url);
	/* Two casts, each its own batch: the second leaves while the first
	 * waits for its answer (at the relay). */
	cast_to(&a, pb, 1);
	int64_t end = (int64_t)clock_mono_us() + 10 * 1000000;
	while (atomic_load(&r.requests) < 1 && (int64_t)clock_mono_us() < end) {
		usleep(1000);
	}
	cast_to(&a, pb, 2);
	wait_got(&b, 2, 30000);
	cr_expect_geq(atomic_load(&r.max_outstanding), 2,
	    "the second batch did not leave before the first was answered");
	for (uint32_t k = 3; k <= N; k++) {
		cast_to(&a, pb, k);
		if (k % 20 == 0) {
			usleep(2000);
		}
	}
	wait_got(&b, N, 30000);
	wait_all_acked(&a);
	struct link_stats st = { 0 };
	struct links_totals tot;
	links_stats(a.links, &tot, keep_stats, &st);
	/* b took the second batch's cast only after the first: sent again. */
	cr_expect_geq(st.retransmits, 1, "nothing was sent twice");
	cr_expect_eq(st.acked, N);
	expect_once_in_order(&b, N);
	side_close(&a, true);
	on_loop(relay_close_on_loop, &r);
	side_close(&b, true);
}

static void
serve_on_loop(void *arg)
{
	((struct side *)arg)->serves = true;
}

Test(links, batches_refused_for_a_part_not_there_yet_are_retried_after_a_pause)
{
	struct side a = { 0 }, b = { 0 };
	enum { N = 600 }; /* more than two batches' worth (BATCH_MAX) */

	side_open(&b, "b", false); /* the part is not deployed on b yet */
	side_open(&a, "a", false);
	uint32_t pb = side_peer(&a, "b", b.url);
	for (uint32_t k = 1; k <= N; k++) {
		cast_to(&a, pb, k);
	}
	usleep(600 * 1000);
	struct link_stats st = { 0 };
	struct links_totals tot;
	links_stats(a.links, &tot, keep_stats, &st);
	/* Each refusal waits RETRY_NOT_YET_MS (50 ms) before the next try,
	 * also when a second batch was in flight behind the refused one:
	 * some tens of batches in 0.6 s, not thousands. */
	cr_expect_leq(st.batches, 80, "%llu batches in 0.6 s: a busy loop",
	    (unsigned long long)st.batches);
	cr_expect_eq(ngot(&b), 0);
	on_loop(serve_on_loop, &b);
	wait_got(&b, N, 30000);
	wait_all_acked(&a);
	expect_once_in_order(&b, N);
	side_close(&a, true);
	side_close(&b, true);
}

/* ------------------------------------------------------------------ */
/* the watermark, as a sender's batches reach it                      */

/* An `ev` batch from sender "x" (incarnation inc) of the casts
 * seq..seq+n-1 (payload = seq), the first of them a gap entry naming
 * *gap if gap is not NULL (commit.h); the receiver's answer. */
static bool
send_batch_gap(struct side *s, uint64_t inc, uint64_t epoch, uint64_t seq,
    size_t n, const uint64_t *gap, uint64_t *acked, char *code, size_t codelen)
{
	struct wire_w w;
	const void *d;
	size_t len, rlen = 0;
	void *reply = NULL;
	char err[256];
	struct wire_r r;
	bool ok;

	cr_assert_eq(wire_w_init(&w), 0);
	wire_map(&w, 7);
	wire_str(&w, "t");
	wire_str(&w, "ev");
	wire_str(&w, "from");
	wire_str(&w, "x");
	wire_str(&w, "inc");
	wire_u64(&w, inc);
	wire_str(&w, "epoch");
	wire_u64(&w, epoch);
	wire_str(&w, "seq");
	wire_u64(&w, seq);
	wire_str(&w, "n");
	wire_u64(&w, n);
	wire_str(&w, "events");
	wire_array(&w, n);
	for (size_t i = 0; i < n; i++) {
		uint32_t k = (uint32_t)(seq + i);
		if (i == 0 && gap != NULL) {
			unsigned char g[COMMIT_GAP_LEN];
			commit_gap_make(g, *gap);
			wire_bin(&w, g, sizeof g);
			continue;
		}
		struct node_event *ev =
		    node_event_new(NE_CAST, 0, &k, sizeof k);
		size_t en = link_entry_size(PART, ev);
		unsigned char *e = malloc(en);
		cr_assert_not_null(e);
		link_entry_encode(e, PART, ev);
		wire_bin(&w, e, en);
		free(e);
		node_event_free(ev);
	}
	d = wire_data(&w, &len);
	cr_assert_not_null(d);
	cr_assert_eq(msg_call_sync(s->url, NULL, d, len, 5000, &reply, &rlen,
	                 err, sizeof err),
	    MSG_OK, "%s", err);
	wire_w_fini(&w);
	cr_assert_eq(wire_parse(&r, reply, rlen), 0);
	ok = wire_as_bool(wire_get(wire_root(&r), "ok"), false);
	*acked = wire_as_u64(wire_get(wire_root(&r), "acked"), 0);
	code[0] = '\0';
	wire_v c = wire_get(wire_root(&r), "code");
	const char *cs;
	size_t cn;
	if (wire_as_str(c, &cs, &cn)) {
		snprintf(code, codelen, "%.*s", (int)cn, cs);
	}
	wire_r_fini(&r);
	free(reply);
	return ok;
}

static bool
send_batch(struct side *s, uint64_t inc, uint64_t epoch, uint64_t seq, size_t n,
    uint64_t *acked, char *code, size_t codelen)
{
	return send_batch_gap(
	    s, inc, epoch, seq, n, NULL, acked, code, codelen);
}

static void
expect_got(struct side *s, const uint32_t *want, size_t n)
{
	usleep(50 * 1000);
	pthread_mutex_lock(&s->mu);
	cr_assert_eq(s->ngot, n, "%zu delivered, %zu expected", s->ngot, n);
	for (size_t i = 0; i < n; i++) {
		cr_assert_eq(s->got[i], want[i], "delivery %zu: %u, not %u", i,
		    s->got[i], want[i]);
	}
	pthread_mutex_unlock(&s->mu);
}

Test(links, the_watermark_skips_resends_and_survives_a_restart)
{
	struct side b = { 0 };
	uint64_t acked;
	char code[64];

	side_open(&b, "b", true);
	cr_assert(send_batch(&b, 7, 1, 1, 3, &acked, code, sizeof code));
	cr_expect_eq(acked, 3);
	expect_got(&b, (const uint32_t[]) { 1, 2, 3 }, 3);

	/* The same batch again (its acknowledgement was lost): taken,
	 * nothing applied twice. */
	cr_assert(send_batch(&b, 7, 1, 1, 3, &acked, code, sizeof code));
	cr_expect_eq(acked, 3);
	expect_got(&b, (const uint32_t[]) { 1, 2, 3 }, 3);

	/* Overlapping: only what is above the watermark. */
	cr_assert(send_batch(&b, 7, 1, 2, 4, &acked, code, sizeof code));
	cr_expect_eq(acked, 5);
	expect_got(&b, (const uint32_t[]) { 1, 2, 3, 4, 5 }, 5);

	/* A gap: nothing is taken past it. */
	cr_assert(send_batch(&b, 7, 1, 7, 2, &acked, code, sizeof code));
	cr_expect_eq(acked, 5);
	expect_got(&b, (const uint32_t[]) { 1, 2, 3, 4, 5 }, 5);

	/* After a restart the watermark is the durable one. */
	side_close(&b, false);
	b.ngot = 0;
	side_open(&b, "b", true);
	cr_assert(send_batch(&b, 7, 1, 1, 6, &acked, code, sizeof code));
	cr_expect_eq(acked, 6);
	expect_got(&b, (const uint32_t[]) { 6 }, 1);

	/* Another incarnation of the sender has a watermark of its own;
	 * one never heard of whose stream starts late starts there. */
	cr_assert(send_batch(&b, 8, 1, 1, 2, &acked, code, sizeof code));
	cr_expect_eq(acked, 2);
	cr_assert(send_batch(&b, 9, 1, 40, 2, &acked, code, sizeof code));
	cr_expect_eq(acked, 41);
	expect_got(&b, (const uint32_t[]) { 6, 1, 2, 40, 41 }, 5);
	cr_expect_eq(queued(&b), 3 + 2 + 1 + 2 + 2);

	/* Fenced below epoch 5: refused, nothing applied. */
	links_fence(b.links, "x", 5);
	cr_expect_not(send_batch(&b, 9, 4, 42, 1, &acked, code, sizeof code));
	cr_expect_str_eq(code, "fenced");
	cr_assert(send_batch(&b, 9, 5, 42, 1, &acked, code, sizeof code));
	cr_expect_eq(acked, 42);
	expect_got(&b, (const uint32_t[]) { 6, 1, 2, 40, 41, 42 }, 6);
	side_close(&b, true);
}

Test(links, a_gap_entry_is_taken_only_by_a_receiver_that_holds_what_it_names)
{
	struct side b = { 0 };
	uint64_t acked, prev;
	char code[64];
	const uint64_t far = ((uint64_t)1 << 40) + 1;

	side_open(&b, "b", true);
	cr_assert(send_batch(&b, 7, 1, 1, 3, &acked, code, sizeof code));
	cr_expect_eq(acked, 3);

	/* A new process of the sender made 5 durable: this node lacks 4
	 * and 5, so it takes nothing past them. */
	prev = 5;
	cr_assert(
	    send_batch_gap(&b, 7, 1, far, 3, &prev, &acked, code, sizeof code));
	cr_expect_eq(acked, 3, "jumped over entries it never got");
	expect_got(&b, (const uint32_t[]) { 1, 2, 3 }, 3);

	/* Once it has them, the gap is the next entry, whatever the numbers
	 * between; what follows it is delivered. */
	cr_assert(send_batch(&b, 7, 1, 4, 2, &acked, code, sizeof code));
	cr_expect_eq(acked, 5);
	cr_assert(
	    send_batch_gap(&b, 7, 1, far, 3, &prev, &acked, code, sizeof code));
	cr_expect_eq(acked, far + 2);
	expect_got(&b,
	    (const uint32_t[]) {
	        1, 2, 3, 4, 5, (uint32_t)(far + 1), (uint32_t)(far + 2) },
	    7);

	/* The same again (a resend): nothing twice.  A receiver that got
	 * entries past `prev` ahead of a commit the sender then lost takes
	 * the gap as well. */
	cr_assert(
	    send_batch_gap(&b, 7, 1, far, 3, &prev, &acked, code, sizeof code));
	cr_expect_eq(acked, far + 2);
	prev = far; /* below what it holds (far + 2) */
	cr_assert(send_batch_gap(
	    &b, 7, 1, 2 * far, 2, &prev, &acked, code, sizeof code));
	cr_expect_eq(acked, 2 * far + 1);
	expect_got(&b,
	    (const uint32_t[]) { 1, 2, 3, 4, 5, (uint32_t)(far + 1),
	        (uint32_t)(far + 2), (uint32_t)(2 * far + 1) },
	    8);
	side_close(&b, true);
}

/* ------------------------------------------------------------------ */
/* calls                                                               */

struct call_got {
	atomic_int done;
	int err;
	char body[64];
	uint64_t at_us;
};

static void
call_done(struct node_call *call, void *arg)
{
	struct call_got *g = arg;
	g->err = call->reply.err;
	snprintf(g->body, sizeof g->body, "%.*s", (int)call->reply.len,
	    call->reply.body ? (const char *)call->reply.body : "");
	g->at_us = clock_mono_us();
	atomic_store(&g->done, 1);
}

/* Call `target` on b from a with payload "ping"; waits for the end. */
static void
call(
    struct side *a, const char *target, uint32_t timeout_ms, struct call_got *g)
{
	struct node_call *c = node_call_new(false, call_done, g);
	struct node_event *ev = node_event_new(NE_CALL, 0, "ping", 4);
	int64_t end;

	cr_assert_not_null(c);
	cr_assert_not_null(ev);
	ev->call = c; /* the event's reference; ours is the other */
	links_call(a->links, "b", target, ev, timeout_ms);
	end = (int64_t)clock_mono_us() + 10 * 1000000;
	while (!atomic_load(&g->done) && (int64_t)clock_mono_us() < end) {
		usleep(1000);
	}
	cr_assert(atomic_load(&g->done), "the call never ended");
	node_call_unref(c);
}

Test(links, a_remote_call_is_answered_refused_or_times_out)
{
	struct side a = { 0 }, b = { 0 };
	struct call_got g = { 0 };
	uint64_t t0;

	side_open(&b, "b", true);
	side_open(&a, "a", false);
	side_peer(&a, "b", b.url);

	call(&a, PART, 2000, &g);
	cr_expect_eq(g.err, LEDGE_OK, "%s", ledge_strerror(g.err));
	cr_expect_str_eq(g.body, "pong:ping");

	memset(&g, 0, sizeof g);
	call(&a, "wf/none", 2000, &g);
	cr_expect_eq(g.err, LEDGE_ENOENT, "%s", ledge_strerror(g.err));

	/* b takes the call and never answers: a gives up in time. */
	atomic_store(&b.hold, true);
	memset(&g, 0, sizeof g);
	t0 = clock_mono_us();
	call(&a, PART, 300, &g);
	cr_expect_eq(g.err, LEDGE_ETIMEDOUT, "%s", ledge_strerror(g.err));
	cr_expect_geq(g.at_us - t0, 250 * 1000, "after %llu us",
	    (unsigned long long)(g.at_us - t0));
	cr_expect_lt(g.at_us - t0, 3000 * 1000, "after %llu us",
	    (unsigned long long)(g.at_us - t0));
	cr_expect_eq(b.nheld, 1, "b had the call");
	side_close(&a, true);
	side_close(&b, true);
}
