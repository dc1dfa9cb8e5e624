/*
 * keyed_domain_test.c - a keyed function spread over a domain (issue 12):
 * its hash slots on the nodes that fit, an event for a key answered by
 * the node that owns its slot from the node that has the HTTP front, and
 * the slots moving with their state when a node joins, is drained or is
 * lost - every acknowledged increment kept, per key, none counted twice.
 *
 * keyed.so (tests/fixtures/keyed.c) counts per key: "inc" counts and
 * answers "key=K n=N", "get" only answers.  n1 has the HTTP front
 * (http-ingress, key from the path); the keyed nodes have label
 * role=keyed.  Real processes on loopback (tests/support/domain.h).
 */
#include <criterion/criterion.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "domain.h"
#include "httpc.h"
#include "proc.h"

#define ARGS(...) ((const char *const[]) { __VA_ARGS__, NULL })
/* Waits for what should happen soon (placement, a move). */
#define WAIT_MS 20000
#define POLL_MS 20
#define SLOTS   12

static struct domain *dom;

static void
fini(void)
{
	dom_free(dom);
	dom = NULL;
}

TestSuite(keyed_domain, .fini = fini, .timeout = 240);

static double
time_scale(void)
{
	const char *v = getenv("LEDGE_TEST_TIME_SCALE");
	double s = v ? atof(v) : 1.0;
	return s >= 1.0 ? s : 1.0;
}

/* Node timeout: short, since one test loses a node on purpose. */
#define LOSS_TIMEOUT_MS ((int)(1500 * time_scale()))

#define dassert(cond, ...)                                                     \
	do {                                                                   \
		if (!(cond)) {                                                 \
			dom_dump(dom, stderr, 40);                             \
			cr_assert_fail(__VA_ARGS__);                           \
		}                                                              \
	} while (0)

static const char *const wf_yaml =
    "workflow: kd\n"
    "functions:\n"
    "  k:\n"
    "    code: @F/keyed.so\n"
    "    keyed: { slots: 12 }\n"
    "    state: { replicas: 1 }\n"
    "    placement: { labels: { role: keyed } }\n"
    "resources:\n"
    "  web:\n"
    "    type: http-ingress\n"
    "    config: { prefix: /k/, key: path }\n"
    "    outputs: { request: k }\n";

static struct dom_proc *
node(const char *name, bool http)
{
	struct dom_proc *p =
	    dom_node(dom, name, http ? NULL : ARGS("role=keyed"), http, NULL);
	dassert(p != NULL, "node %s did not start", name);
	dassert(dom_wait_health(dom, name, "up", WAIT_MS) == 0,
	    "node %s is not up", name);
	return p;
}

/* The slots of k on each node, from `workflow show`'s keyed rows:
 * names[i] has count[i]; returns how many nodes have some. */
struct spread {
	char names[8][32];
	int count[8];
	size_t n;
	int total;
	long keys_stored;
};

static bool
spread_of(struct spread *s)
{
	int rc;
	struct dj *v = dom_json(dom, ARGS("workflow", "show", "kd"), &rc, NULL);
	const struct dj *rows = dj_get(v, "keyed");
	memset(s, 0, sizeof *s);
	for (size_t i = 0; rc == 0 && i < dj_len(rows) && s->n < 8; i++) {
		const struct dj *r = dj_at(rows, i);
		const char *fn = dj_gets(r, "function"),
		           *nd = dj_gets(r, "node");
		if (fn == NULL || strcmp(fn, "k") != 0 || nd == NULL) {
			continue;
		}
		snprintf(s->names[s->n], sizeof s->names[0], "%s", nd);
		s->count[s->n] = (int)dj_int(dj_get(r, "slots"), 0);
		s->total += s->count[s->n++];
		s->keys_stored += (long)dj_int(dj_get(r, "keys_stored"), 0);
	}
	dj_free(v);
	return rc == 0;
}

static int
slots_on(const struct spread *s, const char *name)
{
	for (size_t i = 0; i < s->n; i++) {
		if (strcmp(s->names[i], name) == 0) {
			return s->count[i];
		}
	}
	return 0;
}

/* Poll until k's slots are on exactly `n` nodes, none on `away` (if
 * given), each with at most ceil(SLOTS / n) if `even`. */
static struct spread
wait_spread_as(size_t n, const char *away, bool even)
{
	int64_t end = dom_now_ms() + WAIT_MS;
	struct spread s;
	int most = even ? (SLOTS + (int)n - 1) / (int)n : SLOTS;
	for (;;) {
		bool ok = spread_of(&s) && s.n == n && s.total == SLOTS &&
		    (away == NULL || slots_on(&s, away) == 0);
		for (size_t i = 0; ok && i < s.n; i++) {
			ok = s.count[i] <= most;
		}
		if (ok) {
			return s;
		}
		dassert(dom_now_ms() < end,
		    "k's %d slots are on %zu nodes (want %zu, at most %d "
		    "each%s%s)",
		    s.total, s.n, n, most, away ? ", none on " : "",
		    away ? away : "");
		dom_nap_ms(POLL_MS);
	}
}

static struct spread
wait_spread(size_t n, const char *away)
{
	return wait_spread_as(n, away, true);
}

/* Poll until every slot's replica is in sync (then one may take over
 * from a lost primary with every acknowledged write). */
static void
wait_all_in_sync(void)
{
	int64_t end = dom_now_ms() + WAIT_MS;
	for (;;) {
		int rc;
		size_t ok = 0, n = 0;
		struct dj *v =
		    dom_json(dom, ARGS("workflow", "show", "kd"), &rc, NULL);
		const struct dj *parts = dj_get(v, "parts");
		for (size_t i = 0; rc == 0 && i < dj_len(parts); i++) {
			const struct dj *p = dj_at(parts, i);
			const char *kind = dj_gets(p, "kind");
			if (kind == NULL || strcmp(kind, "function") != 0) {
				continue;
			}
			n++;
			ok += dj_len(dj_get(p, "replica_nodes")) == 1 &&
			    dj_int(dj_get(p, "replicas_in_sync"), 0) == 1;
		}
		dj_free(v);
		if (rc == 0 && n == SLOTS && ok == n) {
			return;
		}
		dassert(dom_now_ms() < end,
		    "%zu of %zu slots have a replica in "
		    "sync",
		    ok, n);
		dom_nap_ms(POLL_MS);
	}
}

/* POST body to /k/KEY on port (with an Idempotency-Key if idem);
 * the HTTP status (0 when the request failed) and *n from "n=N". */
static int
post(int port, const char *key, const char *body, const char *idem, long *n)
{
	char path[128], hdr[128];
	const char *hs[] = { hdr, NULL };
	struct httpc_resp r;
	int st;
	snprintf(path, sizeof path, "/k/%s", key);
	if (idem != NULL) {
		snprintf(hdr, sizeof hdr, "Idempotency-Key: %s", idem);
	}
	if (httpc_once("127.0.0.1", port, 5000, "POST", path, idem ? hs : NULL,
	        body, strlen(body), &r) != HTTPC_OK) {
		return 0;
	}
	st = r.status;
	const char *at = strstr(r.body ? r.body : "", "n=");
	*n = at ? strtol(at + 2, NULL, 10) : -1;
	httpc_resp_free(&r);
	return st;
}

/* Poll "get" of KEY until it answers 200; its n. */
static long
get_n(int port, const char *key)
{
	int64_t end = dom_now_ms() + WAIT_MS;
	long n = -1;
	int st;
	while ((st = post(port, key, "get", NULL, &n)) != 200 &&
	    dom_now_ms() < end) {
		dom_nap_ms(POLL_MS);
	}
	dassert(st == 200, "get of key %s: status %d", key, st);
	return n;
}

/* How many keys of k the node started ("keyed init" in its log). */
static size_t
inits_on(const struct dom_proc *p)
{
	return dom_log_count(p, "keyed init key=");
}

static void
start_domain(struct dom_proc **n1)
{
	char *path;
	int rc;
	char *err = NULL;

	dom = dom_new("keyed-dom", NULL);
	cr_assert_not_null(dom);
	dassert(dom_orchestrator(dom, LOSS_TIMEOUT_MS / 1000.0, NULL) != NULL,
	    "the orchestrator did not start");
	*n1 = node("n1", true);
	node("k1", false);
	node("k2", false);
	node("k3", false);
	path = dom_file(dom, "kd.yaml", wf_yaml);
	cr_assert_not_null(path);
	struct dj *v =
	    dom_json(dom, ARGS("workflow", "start", path), &rc, &err);
	dassert(rc == 0 && dj_true(dj_get(v, "ok")), "workflow start: %s",
	    err ? err : "");
	dj_free(v);
	free(err);
	free(path);
}

/*
 * 300 keys through n1's front, three increments each: every key has its
 * own count, the keys ran on all three keyed nodes (4 slots each), and
 * `ledge state keys` lists all of them from every node.  A 4th node
 * joins: it takes 3 slots (one from each), the others keep theirs, and
 * every key keeps its count wherever its slot went.
 */
Test(
    keyed_domain, keys_spread_over_the_nodes_and_a_joining_node_takes_its_share)
{
	struct dom_proc *n1;
	enum { KEYS = 300, INCS = 3 };
	char key[32];
	long n;

	start_domain(&n1);
	struct spread s0 = wait_spread(3, NULL);
	for (size_t i = 0; i < s0.n; i++) {
		cr_expect_eq(s0.count[i], 4, "%s has %d slots", s0.names[i],
		    s0.count[i]);
	}
	for (int r = 1; r <= INCS; r++) {
		for (int i = 0; i < KEYS; i++) {
			snprintf(key, sizeof key, "user-%d", i);
			int st = post(n1->http_port, key, "inc", NULL, &n);
			dassert(st == 200 && n == r,
			    "inc %d of %s: status %d, n=%ld", r, key, st, n);
		}
	}
	/* Every keyed node ran some of the keys, none ran them all. */
	size_t inits = 0;
	for (size_t i = 1; i <= 3; i++) {
		size_t c = inits_on(dom->nodes[i]);
		fprintf(stderr, "keys started on %s: %zu\n",
		    dom->nodes[i]->name, c);
		cr_expect_gt(
		    c, KEYS / 10, "%s ran %zu keys", dom->nodes[i]->name, c);
		inits += c;
	}
	cr_expect_eq(inits, KEYS, "each key started once, on its node");

	/* state keys, asked of the orchestrator: all of them, in order. */
	char *out = NULL, *err = NULL;
	int rc = dom_cli(dom,
	    ARGS("state", "keys", "kd", "k", "--limit", "1000"), &out, &err);
	dassert(rc == 0, "state keys: %s", err ? err : "");
	size_t lines = 0;
	for (const char *p = out; p && *p; p++) {
		lines += *p == '\n';
	}
	cr_expect_eq(
	    lines, KEYS, "state keys listed %zu keys:\n%s", lines, out);
	cr_expect(
	    strstr(out, "user-0\n") == out, "not in store order: %.60s", out);
	free(out);
	free(err);
	out = err = NULL;
	rc = dom_cli(dom,
	    ARGS("state", "get", "kd", "k", "--key", "user-7", "n"), &out,
	    &err);
	cr_expect_eq(rc, 0, "state get --key: %s", err ? err : "");
	free(out);
	free(err);

	/* A 4th keyed node joins: 12 slots over 4 nodes, 3 each. */
	struct dom_proc *k4 = node("k4", false);
	struct spread s1 = wait_spread(4, NULL);
	int moved = slots_on(&s1, "k4");
	cr_expect_eq(moved, 3, "k4 took %d slots", moved);
	for (size_t i = 0; i < s0.n; i++) {
		cr_expect_eq(slots_on(&s1, s0.names[i]), 3,
		    "%s kept %d of its 4 slots", s0.names[i],
		    slots_on(&s1, s0.names[i]));
	}
	/* Each key kept its count, and counts on from there. */
	for (int i = 0; i < KEYS; i++) {
		snprintf(key, sizeof key, "user-%d", i);
		cr_expect_eq(get_n(n1->http_port, key), INCS, "key %s", key);
		int st = post(n1->http_port, key, "inc", NULL, &n);
		cr_expect(st == 200 && n == INCS + 1,
		    "inc of %s after the join: status %d, n=%ld", key, st, n);
	}
	size_t on4 = inits_on(k4);
	fprintf(stderr, "keys started on k4 after it joined: %zu of %d\n", on4,
	    KEYS);
	cr_expect(on4 > 0 && on4 < KEYS / 2, "k4 ran %zu keys", on4);
}

/* --- under load ------------------------------------------------------ */

#define CLIENTS     4
#define CLIENT_KEYS 20
/* Increments answered around each step (drain, kill, after) */
#define STEP 400

struct client {
	pthread_t th;
	int id, port;
	atomic_bool *stop;
	atomic_int done;        /* increments answered 200 */
	long n[CLIENT_KEYS];    /* per key: the last n answered */
	int acked[CLIENT_KEYS]; /* per key: increments answered 200 */
	long retried;
	bool gave_up;
};

/* Each client increments its keys round robin until told to stop, each
 * increment with an Idempotency-Key of its own, retried until answered
 * 200 (also after the stop: an increment not answered may have been
 * counted). */
static void *
client_main(void *arg)
{
	struct client *c = arg;
	int64_t end = dom_now_ms() + 120000;
	for (int r = 0; !atomic_load(c->stop); r++) {
		for (int k = 0; k < CLIENT_KEYS; k++) {
			char key[32], idem[64];
			long n = -1;
			snprintf(key, sizeof key, "c%d-k%d", c->id, k);
			snprintf(idem, sizeof idem, "c%d-k%d-r%d", c->id, k, r);
			for (;;) {
				if (post(c->port, key, "inc", idem, &n) ==
				    200) {
					c->acked[k]++;
					c->n[k] = n;
					atomic_fetch_add(&c->done, 1);
					break;
				}
				if (dom_now_ms() >= end) {
					c->gave_up = true;
					return NULL;
				}
				c->retried++;
				dom_nap_ms(10);
			}
		}
	}
	return NULL;
}

static int
total_done(struct client *cl)
{
	int t = 0;
	for (int i = 0; i < CLIENTS; i++) {
		t += atomic_load(&cl[i].done);
	}
	return t;
}

static void
wait_done(struct client *cl, int want, const char *when)
{
	int64_t end = dom_now_ms() + 4 * WAIT_MS;
	while (total_done(cl) < want && dom_now_ms() < end) {
		dom_nap_ms(POLL_MS);
	}
	dassert(total_done(cl) >= want, "%s: %d increments answered, want %d",
	    when, total_done(cl), want);
}

/*
 * Four clients increment 80 keys, each increment retried with its
 * Idempotency-Key until answered.  Under that load k1 is drained (its
 * slots move, with their state, to the others) and then k2 is killed
 * with -9 (its slots go to their in-sync replicas).  Afterwards every key
 * holds exactly the increments its client was answered for, and the last
 * answer for each key named that count.
 */
Test(keyed_domain, drain_and_kill_9_under_load_keep_every_key_exact)
{
	struct dom_proc *n1;
	struct client *cl = calloc(CLIENTS, sizeof *cl);
	atomic_bool stop = false;

	cr_assert_not_null(cl);
	start_domain(&n1);
	node("k4", false);
	wait_spread(4, NULL);
	wait_all_in_sync();
	for (int i = 0; i < CLIENTS; i++) {
		cl[i].id = i;
		cl[i].port = n1->http_port;
		cl[i].stop = &stop;
		cr_assert_eq(
		    pthread_create(&cl[i].th, NULL, client_main, &cl[i]), 0);
	}

	/* Drain k1 under the load. */
	wait_done(cl, STEP, "before the drain");
	char *out = NULL, *err = NULL;
	int rc = dom_cli(dom, ARGS("node", "drain", "k1"), &out, &err);
	dassert(
	    rc == 0, "node drain k1: %s %s", out ? out : "", err ? err : "");
	free(out);
	free(err);
	wait_spread(3, "k1");

	/* kill -9 of k2 under the load, once every slot's replica is in
	 * sync: its slots answer elsewhere within 2 x the node timeout -
	 * each on its replica's node, where its state is (so not evened
	 * out until the next placement). */
	wait_done(cl, total_done(cl) + STEP, "before the kill");
	wait_all_in_sync();
	struct dom_proc *k2 = dom->nodes[2];
	cr_assert_str_eq(k2->name, "k2");
	int at_kill = total_done(cl);
	int64_t t0 = dom_now_ms();
	cr_assert_eq(proc_kill(k2->p, SIGKILL), 0);
	wait_spread_as(2, "k2", false);
	int64_t moved_ms = dom_now_ms() - t0;
	cr_expect_leq(moved_ms, 2 * LOSS_TIMEOUT_MS + 1000 * time_scale(),
	    "slots moved after %" PRId64 " ms", moved_ms);
	wait_done(cl, total_done(cl) + STEP, "after the kill");
	atomic_store(&stop, true);

	long retried = 0;
	for (int i = 0; i < CLIENTS; i++) {
		pthread_join(cl[i].th, NULL);
		retried += cl[i].retried;
		cr_expect(!cl[i].gave_up, "client %d gave up an increment", i);
	}
	fprintf(stderr,
	    "keyed load over a drain and a kill -9: %d answered (%d at the "
	    "kill), %ld retries; k2's slots placed elsewhere %" PRId64
	    " ms after the kill (node timeout %d ms)\n",
	    total_done(cl), at_kill, retried, moved_ms, LOSS_TIMEOUT_MS);
	for (int i = 0; i < CLIENTS; i++) {
		for (int k = 0; k < CLIENT_KEYS; k++) {
			char key[32];
			snprintf(key, sizeof key, "c%d-k%d", i, k);
			cr_expect_gt(cl[i].acked[k], 0, "key %s", key);
			cr_expect_eq(cl[i].n[k], cl[i].acked[k],
			    "key %s: last answer n=%ld after %d answered", key,
			    cl[i].n[k], cl[i].acked[k]);
			long n = get_n(n1->http_port, key);
			cr_expect_eq(n, cl[i].acked[k],
			    "key %s holds %ld, %d increments were answered",
			    key, n, cl[i].acked[k]);
		}
	}
	free(cl);
}
