/*
 * domain_test.c - a domain of nodes (issue 3) with real processes: one
 * `ledge orchestrator` and several `ledge node`s on loopback TCP (and
 * tls+tcp), driven only through the `ledge` CLI and its --json output, the
 * nodes' HTTP listeners and the processes' logs (tests/support/domain.h).
 *
 * Functions: tally.so (counts casts in state "n", logs "tally init n=.."
 * when an instance starts and "tally cast n=.." for each cast, so a node's
 * log shows which instances it ran), relay.so, caller.so and echo.so from
 * tests/fixtures.  `placement:` pins parts to nodes by name or label.
 *
 * Tests that lose a node on purpose run the orchestrator with a short node
 * timeout; the others with a long one, so that a busy machine does not
 * lose a node by accident.
 */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "base/sha256.h"
#include "domain.h"
#include "httpc.h"
#include "net/msg.h"
#include "net/wire.h"
#include "proc.h"

/* Node timeout of tests that lose no node, and of those that do. */
#define CALM_TIMEOUT_S 5.0
/* Times $LEDGE_TEST_TIME_SCALE: `make tsan` runs every process many times
 * slower, to look for races, not to time them. */
#define LOSS_TIMEOUT_S  (1.5 * time_scale())
#define LOSS_TIMEOUT_MS ((int)(1500 * time_scale()))
/* What polling may add to the 2 x node timeout bound on a failover: the
 * orchestrator checks every 100 ms, a poll round here (`workflow show`
 * and `invoke --call`) takes some tens of ms. */
#define POLL_ALLOWANCE_MS 500
/* The failover bound: 2 x node timeout + polling. */
#define FAILOVER_BOUND_MS                                                      \
	((int64_t)(2 * LOSS_TIMEOUT_MS + POLL_ALLOWANCE_MS * time_scale()))
/* Bound of waits for things that should happen at once (placement,
 * delivery between nodes). */
#define WAIT_MS 10000
#define POLL_MS 20

#define ARGS(...) ((const char *const[]) { __VA_ARGS__, NULL })

static struct domain *doms[2];
static size_t ndoms;
static char *scratch[2];
static size_t nscratch;

static void casters_stop(void);

static void
fini(void)
{
	/* Threads running the CLI go first: they use the domain. */
	casters_stop();
	for (size_t i = 0; i < ndoms; i++) {
		dom_free(doms[i]);
	}
	ndoms = 0;
	for (size_t i = 0; i < nscratch; i++) {
		tmpdir_remove(scratch[i]);
		free(scratch[i]);
	}
	nscratch = 0;
}

TestSuite(domain, .fini = fini, .timeout = 60);

/* The domain whose logs a failed assertion prints. */
static struct domain *cur;

/* cr_assert that first prints the tail of every log of the domain. */
#define dassert(cond, ...)                                                     \
	do {                                                                   \
		if (!(cond)) {                                                 \
			dom_dump(cur, stderr, 40);                             \
			cr_assert_fail(__VA_ARGS__);                           \
		}                                                              \
	} while (0)

static double
time_scale(void)
{
	const char *v = getenv("LEDGE_TEST_TIME_SCALE");
	double s = v ? atof(v) : 1.0;
	return s >= 1.0 ? s : 1.0;
}

static char *
xfmt(const char *f, ...)
{
	va_list ap;
	char *s;
	int n;
	va_start(ap, f);
	n = vsnprintf(NULL, 0, f, ap);
	va_end(ap);
	cr_assert_geq(n, 0);
	s = malloc((size_t)n + 1);
	cr_assert_not_null(s);
	va_start(ap, f);
	vsnprintf(s, (size_t)n + 1, f, ap);
	va_end(ap);
	return s;
}

/* "a b c" of a NULL-terminated argument list, for messages (static). */
static const char *
joined(const char *const *args)
{
	static char buf[512];
	size_t n = 0;
	buf[0] = '\0';
	for (size_t i = 0; args[i] != NULL && n < sizeof buf - 1; i++) {
		n += (size_t)snprintf(
		    buf + n, sizeof buf - n, "%s%s", i ? " " : "", args[i]);
	}
	return buf;
}

/* ------------------------------------------------------------------ */
/* a domain and its processes, torn down by fini()                     */

static struct domain *
domain(const char *tag, const struct dom_tls *tls)
{
	struct domain *d = dom_new(tag, tls);
	cr_assert_not_null(d, "cannot make a scratch folder");
	cr_assert_lt(ndoms, sizeof doms / sizeof doms[0]);
	doms[ndoms++] = d;
	cur = d;
	return d;
}

/* The orchestrator with more options (`extra`, NULL-terminated). */
static void
orchestrator_with(
    struct domain *d, double node_timeout_s, const char *const *extra)
{
	dassert(dom_orchestrator(d, node_timeout_s, extra) != NULL,
	    "the orchestrator did not start");
}

static void
orchestrator(struct domain *d, double node_timeout_s)
{
	orchestrator_with(d, node_timeout_s, NULL);
}

static struct dom_proc *
node(struct domain *d, const char *name, const char *const *labels, bool http)
{
	struct dom_proc *p = dom_node(d, name, labels, http, NULL);
	dassert(p != NULL, "node %s did not start", name);
	return p;
}

static char *
workflow_file(struct domain *d, const char *name, const char *yaml)
{
	char *path = dom_file(d, name, yaml);
	cr_assert_not_null(path, "cannot write %s", name);
	return path;
}

/* ------------------------------------------------------------------ */
/* the CLI                                                             */

/* `ledge ARGS --json`: demands exit 0 and {"ok": true}; the document. */
static struct dj *
ok_json(struct domain *d, const char *const *args)
{
	char *err = NULL;
	int rc;
	struct dj *v = dom_json(d, args, &rc, &err);
	dassert(rc == 0 && v != NULL && dj_true(dj_get(v, "ok")),
	    "ledge %s --json: exit %d, %s; stderr: %s", joined(args), rc,
	    v ? "ok is not true" : "stdout is not JSON", err ? err : "");
	free(err);
	return v;
}

/* `ledge invoke WF TARGET DATA` (a cast), which must be accepted. */
static void
cast(struct domain *d, const char *wf, const char *target, const char *data)
{
	dj_free(ok_json(d, ARGS("invoke", wf, target, data)));
}

/* `ledge invoke WF TARGET --call DATA`: the reply (malloc'd), or NULL
 * when the command failed (then *err, if given, gets its stderr). */
static char *
call(struct domain *d, const char *wf, const char *target, char **err)
{
	char *out = NULL, *e = NULL;
	int rc =
	    dom_cli(d, ARGS("invoke", wf, target, "--call", "hello"), &out, &e);
	if (rc != 0) {
		free(out);
		out = NULL;
	}
	if (err != NULL) {
		*err = e;
	} else {
		free(e);
	}
	return out;
}

/* Poll a call until it answers exactly `want`; asserts it does. */
static void
wait_call(
    struct domain *d, const char *wf, const char *target, const char *want)
{
	int64_t end = dom_now_ms() + WAIT_MS;
	char *got = NULL, *err = NULL;
	for (;;) {
		free(got);
		free(err);
		got = call(d, wf, target, &err);
		if ((got != NULL && strcmp(got, want) == 0) ||
		    dom_now_ms() >= end) {
			break;
		}
		dom_nap_ms(POLL_MS);
	}
	dassert(got != NULL && strcmp(got, want) == 0,
	    "call %s/%s answered '%s' (stderr: %s), want '%s'", wf, target,
	    got ? got : "(failed)", err ? err : "", want);
	free(got);
	free(err);
}

/* State "n" (a u64, as tally and relay keep it) of wf/fn through `state
 * get`; 0 if the key is not there, -1 if the command failed. */
static int64_t
state_n(struct domain *d, const char *wf, const char *fn)
{
	uint64_t n;
	return dom_state_u64(d, wf, fn, "n", &n) == 0 ? (int64_t)n : -1;
}

/* Poll state "n" of wf/fn until it is `want`; asserts it is. */
static void
wait_n(struct domain *d, const char *wf, const char *fn, int64_t want)
{
	int64_t end = dom_now_ms() + WAIT_MS, n;
	while ((n = state_n(d, wf, fn)) != want && dom_now_ms() < end) {
		dom_nap_ms(POLL_MS);
	}
	dassert(n == want, "%s/%s: n = %" PRId64 ", want %" PRId64, wf, fn, n,
	    want);
}

/* Where a part is, from `workflow show`. */
struct where {
	char node[64]; /* "" while pending */
	uint64_t epoch;
	int copies;           /* how many entries `parts` has for it */
	char replicas[4][64]; /* its replica_nodes */
	size_t nreplicas;
};

static bool
where_is(struct domain *d, const char *wf, const char *part, struct where *w)
{
	int rc;
	struct dj *v = dom_json(d, ARGS("workflow", "show", wf), &rc, NULL);
	const struct dj *parts = dj_get(v, "parts"), *p = NULL;
	memset(w, 0, sizeof *w);
	for (size_t i = 0; i < dj_len(parts); i++) {
		const char *name = dj_gets(dj_at(parts, i), "part");
		if (name != NULL && strcmp(name, part) == 0) {
			p = dj_at(parts, i);
			w->copies++;
		}
	}
	if (rc == 0 && p != NULL) {
		const char *n = dj_gets(p, "node");
		snprintf(w->node, sizeof w->node, "%s", n ? n : "");
		const struct dj *rn = dj_get(p, "replica_nodes");
		w->epoch = (uint64_t)dj_int(dj_get(p, "epoch"), 0);
		for (size_t i = 0; i < dj_len(rn) && i < 4; i++) {
			const char *r = dj_str(dj_at(rn, i));
			snprintf(w->replicas[w->nreplicas++],
			    sizeof w->replicas[0], "%s", r ? r : "?");
		}
	}
	dj_free(v);
	return rc == 0 && p != NULL;
}

/*
 * Poll until `part`'s replicas are all in sync: the orchestrator knows
 * they hold every acknowledged write, so that one may take over from a
 * lost primary (without that, the part waits for its node instead).
 */
static void
wait_in_sync(struct domain *d, const char *wf, const char *part)
{
	int64_t end = dom_now_ms() + WAIT_MS;
	int64_t in = -1, want = 0;
	while (dom_now_ms() < end) {
		int rc;
		struct dj *v =
		    dom_json(d, ARGS("workflow", "show", wf), &rc, NULL);
		const struct dj *p = dj_find(dj_get(v, "parts"), "part", part);
		in = dj_int(dj_get(p, "replicas_in_sync"), -1);
		want = (int64_t)dj_len(dj_get(p, "replica_nodes"));
		dj_free(v);
		if (rc == 0 && want > 0 && in == want) {
			return;
		}
		dom_nap_ms(POLL_MS);
	}
	dassert(false, "%s/%s: %" PRId64 " of %" PRId64 " replicas in sync", wf,
	    part, in, want);
}

/* Poll until `part` is on `node`; returns where it is (asserted). */
static struct where
wait_on(struct domain *d, const char *wf, const char *part, const char *node)
{
	int64_t end = dom_now_ms() + WAIT_MS;
	struct where w;
	while (!(where_is(d, wf, part, &w) && strcmp(w.node, node) == 0) &&
	    dom_now_ms() < end) {
		dom_nap_ms(POLL_MS);
	}
	dassert(strcmp(w.node, node) == 0, "%s/%s is on '%s', want '%s'", wf,
	    part, w.node, node);
	return w;
}

/* The `node list` entry of `name` as "health epoch" ("" if not listed). */
struct nstat {
	char health[16];
	uint64_t epoch;
};

static struct nstat
node_stat(struct domain *d, const char *name)
{
	int rc;
	struct dj *v = dom_json(d, ARGS("node", "list"), &rc, NULL);
	const struct dj *n = dj_find(dj_get(v, "nodes"), "name", name);
	struct nstat s = { "", 0 };
	if (rc == 0 && n != NULL) {
		const char *h = dj_gets(n, "health");
		snprintf(s.health, sizeof s.health, "%s", h ? h : "?");
		s.epoch = (uint64_t)dj_int(dj_get(n, "epoch"), 0);
	}
	dj_free(v);
	return s;
}

/* Poll `node list` until node `name` has health `health`. */
static struct nstat
wait_health(struct domain *d, const char *name, const char *health)
{
	int64_t end = dom_now_ms() + WAIT_MS;
	struct nstat s;
	while (strcmp((s = node_stat(d, name)).health, health) != 0 &&
	    dom_now_ms() < end) {
		dom_nap_ms(POLL_MS);
	}
	dassert(strcmp(s.health, health) == 0, "node %s is '%s', want '%s'",
	    name, s.health, health);
	return s;
}

/* Poll `node list` until node `name` sent a heartbeat in the last
 * second (a restarted orchestrator knows its nodes from its store before
 * it hears from them). */
static void
wait_heartbeat(struct domain *d, const char *name)
{
	int64_t end = dom_now_ms() + WAIT_MS, age = -1;
	while (dom_now_ms() < end) {
		int rc;
		struct dj *v = dom_json(d, ARGS("node", "list"), &rc, NULL);
		const struct dj *n = dj_find(dj_get(v, "nodes"), "name", name);
		age = dj_int(dj_get(n, "last_heartbeat_ms"), -1);
		dj_free(v);
		if (rc == 0 && age >= 0 && age < 1000) {
			return;
		}
		dom_nap_ms(POLL_MS);
	}
	dassert(
	    false, "no heartbeat from %s (last %" PRId64 " ms ago)", name, age);
}

/* `ledge workflow start FILE --json`, asserted to succeed. */
static struct dj *
start_workflow(struct domain *d, const char *path)
{
	return ok_json(d, ARGS("workflow", "start", path));
}

/* The node a `workflow start` reply placed `part` on ("" if none). */
static const char *
placed_on(const struct dj *start, const char *part)
{
	const char *n =
	    dj_gets(dj_find(dj_get(start, "placed"), "part", part), "node");
	return n ? n : "";
}

/* ------------------------------------------------------------------ */
/* 1. casts and calls across nodes                                     */

static const char *const cross_wf =
    "workflow: xn\n"
    "functions:\n"
    "  front:\n"
    "    code: @F/tally.so\n"
    "    outputs: { out: back }\n"
    "    placement: { node: n1 }\n"
    "  back:\n"
    "    code: @F/tally.so\n"
    "    outputs: { out: tail }\n"
    "    placement: { node: n2 }\n"
    "  tail:\n"
    "    code: @F/tally.so\n"
    "    placement: { node: n1 }\n"
    "  asker:\n"
    "    code: @F/caller.so\n"
    "    config: { call_back: true }\n"
    "    outputs: { peer: back }\n"
    "    placement: { node: n1 }\n"
    "resources:\n"
    "  web:\n"
    "    type: http-ingress\n"
    "    config: { path: /ask, methods: [POST] }\n"
    "    outputs: { request: asker }\n";

Test(domain, casts_and_calls_cross_nodes_exactly_once)
{
	struct domain *d = domain("dom-cross", NULL);
	struct dom_proc *n1, *n2;
	struct httpc_resp resp;
	char *path, *want, *got;
	struct dj *st;
	enum { K = 20, M = 5 };

	orchestrator(d, CALM_TIMEOUT_S);
	n1 = node(d, "n1", NULL, true);
	n2 = node(d, "n2", NULL, false);
	wait_health(d, "n1", "up");
	wait_health(d, "n2", "up");

	path = workflow_file(d, "xn.yaml", cross_wf);
	st = start_workflow(d, path);
	free(path);
	cr_expect_str_eq(placed_on(st, "front"), "n1");
	cr_expect_str_eq(placed_on(st, "back"), "n2");
	cr_expect_str_eq(placed_on(st, "tail"), "n1");
	cr_expect_str_eq(placed_on(st, "asker"), "n1");
	/* http-ingress goes with its function, to the node with --http. */
	cr_expect_str_eq(placed_on(st, "web"), "n1");
	cr_expect_eq(dj_len(dj_get(st, "pending")), 0);
	dj_free(st);

	/* K casts into n1: front (n1) -> back (n2) -> tail (n1). */
	for (int i = 0; i < K; i++) {
		char data[16];
		snprintf(data, sizeof data, "e%d", i);
		cast(d, "xn", "front", data);
	}
	wait_n(d, "xn", "tail", K);
	cr_expect_eq(state_n(d, "xn", "front"), K);
	cr_expect_eq(state_n(d, "xn", "back"), K);

	/* Calls: CLI -> back on n2; CLI -> asker on n1, which calls back on
	 * n2; HTTP on n1 -> asker -> back, whose reply comes back. */
	want = xfmt("n=%d\n", K);
	got = call(d, "xn", "back", NULL);
	cr_expect_str_eq(got ? got : "(failed)", want);
	free(got);
	got = call(d, "xn", "asker", NULL);
	cr_expect_str_eq(got ? got : "(failed)", "inner rv=success");
	free(got);
	free(want);
	cr_assert_eq(httpc_once("127.0.0.1", n1->http_port, 10000, "POST",
	                 "/ask", NULL, "q", 1, &resp),
	    HTTPC_OK);
	/* caller.so adds its own newline after the reply. */
	want = xfmt("rv=success reply=n=%d\n\n", K);
	cr_expect_eq(resp.status, 200);
	cr_expect_str_eq(resp.body, want);
	free(want);
	httpc_resp_free(&resp);

	/* M casts straight to back (the CLI's cast lands on n2); they go on
	 * to tail on n1. */
	for (int i = 0; i < M; i++) {
		cast(d, "xn", "back", "direct");
	}
	wait_n(d, "xn", "tail", K + M);
	/* Not more, not less, everywhere, after a round trip through both
	 * nodes. */
	want = xfmt("n=%d\n", K + M);
	wait_call(d, "xn", "back", want);
	free(want);
	cr_expect_eq(state_n(d, "xn", "front"), K);
	cr_expect_eq(state_n(d, "xn", "back"), K + M);
	cr_expect_eq(state_n(d, "xn", "tail"), K + M);

	/* Each instance ran where it was placed, each event handled once. */
	cr_expect_eq(dom_log_count(n1, "[xn/front] tally cast"), K);
	cr_expect_eq(dom_log_count(n1, "[xn/tail] tally cast"), K + M);
	cr_expect_eq(dom_log_count(n2, "[xn/back] tally cast"), K + M);
	cr_expect_eq(dom_log_count(n1, "[xn/back]"), 0);
	cr_expect_eq(dom_log_count(n2, "[xn/front]"), 0);
	cr_expect_eq(dom_log_count(n2, "[xn/tail]"), 0);
}

/* ------------------------------------------------------------------ */
/* 2. code is shipped once                                             */

static const char *const ship_wf = "workflow: ship\n"
                                   "functions:\n"
                                   "  a:\n"
                                   "    code: @F/relay.so\n"
                                   "    outputs: { out: b }\n"
                                   "    placement: { node: n1 }\n"
                                   "  b:\n"
                                   "    code: @F/relay.so\n"
                                   "    placement: { node: n2 }\n";

static const char *const ship2_wf = "workflow: ship2\n"
                                    "functions:\n"
                                    "  c:\n"
                                    "    code: @F/relay.so\n"
                                    "    placement: { node: n1 }\n"
                                    "  e:\n"
                                    "    code: @F/echo.so\n"
                                    "    placement: { node: n2 }\n";

/* The SHA-256 of a file, hex. */
static void
file_hash(const char *path, char hex[65])
{
	FILE *fp = fopen(path, "rb");
	char *buf;
	long n;
	cr_assert_not_null(fp, "%s: %s", path, strerror(errno));
	fseek(fp, 0, SEEK_END);
	n = ftell(fp);
	fseek(fp, 0, SEEK_SET);
	buf = malloc((size_t)n + 1);
	cr_assert_not_null(buf);
	cr_assert_eq(fread(buf, 1, (size_t)n, fp), (size_t)n);
	fclose(fp);
	sha256_hex(buf, (size_t)n, hex);
	free(buf);
}

/* The identity of a node's copy of a code file: a fetch writes a new file
 * and renames it into place, so a second fetch changes the inode. */
struct copy {
	ino_t ino;
	struct timespec mtime;
};

static struct copy
code_copy(const struct dom_proc *n, const char *hash)
{
	char *p = xfmt("%s/code/%s.so", n->data, hash);
	struct stat st;
	struct copy c;
	dassert(
	    stat(p, &st) == 0, "%s has no code %.12s (%s)", n->name, hash, p);
	free(p);
	c.ino = st.st_ino;
	c.mtime = st.st_mtim;
	return c;
}

static bool
same_copy(struct copy a, struct copy b)
{
	return a.ino == b.ino && a.mtime.tv_sec == b.mtime.tv_sec &&
	    a.mtime.tv_nsec == b.mtime.tv_nsec;
}

Test(domain, code_is_uploaded_and_fetched_once)
{
	struct domain *d = domain("dom-ship", NULL);
	struct dom_proc *n1, *n2;
	char relay_hash[65], echo_hash[65], *relay, *echo, *path;
	const struct dj *up;
	struct copy r1, r2;
	struct dj *st;

	orchestrator(d, CALM_TIMEOUT_S);
	n1 = node(d, "n1", NULL, false);
	n2 = node(d, "n2", NULL, false);
	wait_health(d, "n1", "up");
	wait_health(d, "n2", "up");
	relay = xfmt(
	    "%s/relay.so", test_path("LEDGE_FIXTURES", "build/tests/fixtures"));
	echo = xfmt(
	    "%s/echo.so", test_path("LEDGE_FIXTURES", "build/tests/fixtures"));
	file_hash(relay, relay_hash);
	file_hash(echo, echo_hash);

	/* Two functions share relay.so: it is uploaded once, named by the
	 * SHA-256 of its bytes. */
	path = workflow_file(d, "ship.yaml", ship_wf);
	st = start_workflow(d, path);
	up = dj_get(st, "uploaded");
	cr_assert_eq(dj_len(up), 1, "uploads: %zu", dj_len(up));
	cr_expect_str_eq(dj_gets(dj_at(up, 0), "path"), relay);
	cr_expect_str_eq(dj_gets(dj_at(up, 0), "hash"), relay_hash);
	dj_free(st);

	/* Each node fetched it (once) and runs it. */
	cast(d, "ship", "a", "x");
	wait_n(d, "ship", "b", 1);
	r1 = code_copy(n1, relay_hash);
	r2 = code_copy(n2, relay_hash);

	/* The same workflow again: nothing to upload, nothing to fetch. */
	st = start_workflow(d, path);
	cr_expect_eq(dj_len(dj_get(st, "uploaded")), 0,
	    "a second start uploaded code again");
	dj_free(st);
	cast(d, "ship", "a", "y");
	wait_n(d, "ship", "b", 2);

	/* Another workflow sharing relay.so: only echo.so goes up. */
	free(path);
	path = workflow_file(d, "ship2.yaml", ship2_wf);
	st = start_workflow(d, path);
	up = dj_get(st, "uploaded");
	cr_assert_eq(dj_len(up), 1, "uploads: %zu", dj_len(up));
	cr_expect_str_eq(dj_gets(dj_at(up, 0), "path"), echo);
	cr_expect_str_eq(dj_gets(dj_at(up, 0), "hash"), echo_hash);
	dj_free(st);
	cast(d, "ship2", "c", "z");
	wait_n(d, "ship2", "c", 1);
	code_copy(n2, echo_hash);

	/* A node started again on its data folder keeps its code too. */
	cr_assert_neq(dom_stop(n1, SIGTERM, 10000), -1);
	dassert(dom_restart(n1) == 0, "n1 did not start again");
	wait_health(d, "n1", "up");
	/* Up is not deployed: the orchestrator deploys ship on n1 again after
	 * the join (over a connection that may still be reconnecting), and an
	 * invoke before that is answered "no ship/a on node n1". */
	dassert(proc_wait_log_count(
	            n1->p, "workflow ship deployed here", 2, WAIT_MS) == 0,
	    "n1 was not given ship again after its restart");
	cast(d, "ship", "a", "w");
	wait_n(d, "ship", "b", 3);
	wait_n(d, "ship", "a", 3);

	/* relay.so was fetched once by each node: the copies are the same
	 * files as after the first start. */
	cr_expect(same_copy(r1, code_copy(n1, relay_hash)),
	    "n1 fetched relay.so again");
	cr_expect(same_copy(r2, code_copy(n2, relay_hash)),
	    "n2 fetched relay.so again");
	free(path);
	free(relay);
	free(echo);
}

/*
 * docs/protocol.md: wf.start answers `new: false` when the workflow was
 * running already (the same text and code: `unchanged`, nothing restarts).
 */
Test(domain, starting_a_running_workflow_again_says_replaced)
{
	struct domain *d = domain("dom-replace", NULL);
	char *path;
	struct dj *st;

	orchestrator(d, CALM_TIMEOUT_S);
	node(d, "n1", NULL, false);
	node(d, "n2", NULL, false);
	wait_health(d, "n1", "up");
	wait_health(d, "n2", "up");
	path = workflow_file(d, "ship.yaml", ship_wf);
	st = start_workflow(d, path);
	cr_expect(dj_true(dj_get(st, "new")), "a first start is new");
	dj_free(st);
	st = start_workflow(d, path);
	cr_expect(!dj_true(dj_get(st, "new")),
	    "a second start of the same workflow says new: true");
	cr_expect(dj_true(dj_get(st, "unchanged")),
	    "the same workflow again is unchanged");
	dj_free(st);
	free(path);
}

/* ------------------------------------------------------------------ */
/* 3. placement by label, and why nothing fits                         */

static const char *const north_wf =
    "workflow: north\n"
    "functions:\n"
    "  f:\n"
    "    code: @F/tally.so\n"
    "    placement: { labels: { zone: north } }\n"
    "  g:\n"
    "    code: @F/tally.so\n"
    "  h:\n"
    "    code: @F/tally.so\n"
    "    placement: { node: zz }\n";

/* The reason `pending` gives for `part` in a start or show reply. */
static const char *
why(const struct dj *reply, const char *part)
{
	const char *w =
	    dj_gets(dj_find(dj_get(reply, "pending"), "part", part), "why");
	return w ? w : "";
}

/*
 * The reason f waits: the filter, then every node with its labels, e.g.
 * "f: no node has label zone=north; nodes: a (zone=south), b (no labels)"
 * (the nodes in the orchestrator's order, which is not by name).
 */
static void
expect_label_reason(const char *w)
{
	const char *head = "f: no node has label zone=north; nodes: ";
	cr_expect(strncmp(w, head, strlen(head)) == 0 &&
	        strstr(w, "a (zone=south)") != NULL &&
	        strstr(w, "b (no labels)") != NULL &&
	        strlen(w) ==
	            strlen(head) + strlen("a (zone=south), b (no labels)"),
	    "why: %s", w);
}

Test(domain, placement_by_label_waits_for_a_node_that_fits)
{
	struct domain *d = domain("dom-label", NULL);
	struct dom_proc *c;
	struct where g0, g1, f;
	char *path, *err = NULL, *out = NULL;
	struct dj *st, *list;
	const struct dj *wl;
	int rc;

	orchestrator(d, CALM_TIMEOUT_S);
	node(d, "a", ARGS("zone=south"), false);
	node(d, "b", NULL, false);
	wait_health(d, "a", "up");
	wait_health(d, "b", "up");

	path = workflow_file(d, "north.yaml", north_wf);
	st = start_workflow(d, path);
	free(path);
	/* What fits is placed; what does not waits, with a reason that
	 * names the filter and every node with its labels. */
	cr_expect_str_neq(placed_on(st, "g"), "");
	cr_expect_str_eq(placed_on(st, "f"), "");
	cr_expect_eq(dj_len(dj_get(st, "pending")), 2);
	fprintf(stderr, "pending: %s\n", why(st, "f"));
	fprintf(stderr, "pending: %s\n", why(st, "h"));
	expect_label_reason(why(st, "f"));
	cr_expect(strstr(why(st, "h"), "'zz'") != NULL &&
	        strstr(why(st, "h"), "a") != NULL &&
	        strstr(why(st, "h"), "b") != NULL,
	    "h: %s", why(st, "h"));
	dj_free(st);

	/* The same in `workflow show` and `workflow list`. */
	st = ok_json(d, ARGS("workflow", "show", "north"));
	expect_label_reason(why(st, "f"));
	dj_free(st);
	list = ok_json(d, ARGS("workflow", "list"));
	wl = dj_find(dj_get(list, "workflows"), "name", "north");
	cr_expect_eq(dj_int(dj_get(wl, "placed"), -1), 1);
	cr_expect_eq(dj_int(dj_get(wl, "pending"), -1), 2);
	dj_free(list);

	/* A pending function cannot be invoked: exit 1 and why. */
	rc = dom_cli(d, ARGS("invoke", "north", "f", "x"), &out, &err);
	cr_expect_eq(rc, 1, "invoke of a pending function: exit %d", rc);
	cr_expect(strstr(err, "north/f") != NULL, "stderr: %s", err);
	free(out);
	free(err);

	cr_assert(where_is(d, "north", "g", &g0));
	/* A node that fits arrives: f goes there, nothing else moves. */
	c = node(d, "c", ARGS("zone=north", "disk=ssd"), false);
	f = wait_on(d, "north", "f", "c");
	cr_expect_gt(f.epoch, 0);
	cast(d, "north", "f", "x");
	wait_call(d, "north", "f", "n=1\n");
	cr_expect_eq(dom_log_count(c, "[north/f] tally cast n=1"), 1);
	cr_assert(where_is(d, "north", "g", &g1));
	cr_expect_str_eq(g1.node, g0.node, "g moved");
	cr_expect_eq(g1.epoch, g0.epoch, "g was placed again");
	/* h still waits for its node, which the reason now lists. */
	st = ok_json(d, ARGS("workflow", "show", "north"));
	cr_expect_eq(dj_len(dj_get(st, "pending")), 1);
	cr_expect(strstr(why(st, "h"), "'zz'") != NULL &&
	        strstr(why(st, "h"), "c") != NULL,
	    "h: %s", why(st, "h"));
	dj_free(st);
}

/* ------------------------------------------------------------------ */
/* 4. a node killed with SIGKILL: its parts move                       */

static const char *const failover_wf =
    "workflow: fo\n"
    "functions:\n"
    "  f:\n"
    "    code: @F/tally.so\n"
    "    placement: { labels: { pool: edge } }\n"
    "  src:\n"
    "    code: @F/tally.so\n"
    "    outputs: { out: f }\n"
    "    placement: { node: c }\n";

/* The node of a, b that is not `name`. */
static struct dom_proc *
other(struct dom_proc *a, struct dom_proc *b, const char *name)
{
	return strcmp(a->name, name) == 0 ? b : a;
}

/*
 * Wait until node p logged "workflow WF deployed here" `times` times: a
 * node learns where the parts of a workflow went when the orchestrator
 * deploys it there again (`workflow show` may say so a little earlier).
 */
static void
wait_deployed(struct dom_proc *p, const char *wf, int times)
{
	char *needle = xfmt("workflow %s deployed here", wf);
	dassert(proc_wait_log_count(p->p, needle, times, WAIT_MS) == 0,
	    "%s did not log '%s' %d times", p->name, needle, times);
	free(needle);
}

Test(domain, killed_node_parts_move_within_twice_the_timeout)
{
	struct domain *d = domain("dom-kill", NULL);
	struct dom_proc *a, *b, *c, *from, *to;
	struct where w0, w;
	char *path, *got = NULL, *msg;
	struct dj *st;
	int64_t t0, dt = -1, end;
	enum { K = 5, K2 = 3 };

	orchestrator(d, LOSS_TIMEOUT_S);
	a = node(d, "a", ARGS("pool=edge"), false);
	b = node(d, "b", ARGS("pool=edge"), false);
	c = node(d, "c", NULL, false);
	wait_health(d, "a", "up");
	wait_health(d, "b", "up");
	wait_health(d, "c", "up");

	path = workflow_file(d, "fo.yaml", failover_wf);
	dj_free(start_workflow(d, path));
	free(path);
	cr_assert(where_is(d, "fo", "f", &w0));
	from = strcmp(w0.node, "a") == 0 ? a : b;
	to = other(a, b, w0.node);
	dassert(strcmp(w0.node, from->name) == 0, "f is on '%s'", w0.node);
	for (int i = 0; i < K; i++) {
		cast(d, "fo", "src", "x");
	}
	wait_n(d, "fo", "f", K);

	/* kill -9; measure until `workflow show` names the other node and
	 * the function answers there (with empty state: no replicas). */
	t0 = dom_now_ms();
	cr_assert_eq(proc_kill(from->p, SIGKILL), 0);
	end = t0 + 4 * LOSS_TIMEOUT_MS + 5000;
	while (dom_now_ms() < end) {
		if (where_is(d, "fo", "f", &w) &&
		    strcmp(w.node, to->name) == 0) {
			free(got);
			if ((got = call(d, "fo", "f", NULL)) != NULL &&
			    strcmp(got, "n=0\n") == 0) {
				dt = dom_now_ms() - t0;
				break;
			}
		}
		dom_nap_ms(POLL_MS);
	}
	fprintf(stderr,
	    "failover after kill -9 of %s: %s in %" PRId64
	    " ms (node timeout %d ms, bound %" PRId64 " ms)\n",
	    from->name, to->name, dt, LOSS_TIMEOUT_MS, FAILOVER_BOUND_MS);
	dassert(dt >= 0, "f did not answer on %s after the kill (last: %s)",
	    to->name, got ? got : "no answer");
	free(got);
	cr_expect_leq(
	    dt, FAILOVER_BOUND_MS, "failover took %" PRId64 " ms", dt);
	cr_expect_gt(w.epoch, w0.epoch, "a moved part gets a new epoch");
	cr_expect_str_eq(node_stat(d, from->name).health, "lost");
	msg = xfmt("node %s lost", from->name);
	cr_expect_geq(dom_log_count(d->orc, msg), 1);
	free(msg);

	/* src on c now sends to f on its new node. */
	wait_deployed(c, "fo", 2);
	for (int i = 0; i < K2; i++) {
		cast(d, "fo", "src", "y");
	}
	wait_n(d, "fo", "f", K2);
	wait_n(d, "fo", "src", K + K2);
	cr_expect_eq(dom_log_count(to, "[fo/f] tally init n=0"), 1);
	cr_expect_eq(dom_log_count(to, "[fo/f] tally cast"), K2);
	st = ok_json(d, ARGS("workflow", "show", "fo"));
	cr_expect_eq(dj_len(dj_get(st, "pending")), 0);
	dj_free(st);
}

/*
 * Events a node emitted towards a part whose node then died (queued in
 * its outbox for that node) are not lost: they go to the part's new node.

 */
Test(domain, events_queued_for_a_killed_node_reach_its_parts_new_node)
{
	struct domain *d = domain("dom-queued", NULL);
	struct dom_proc *a, *b, *c, *from, *to;
	struct where w0;
	char *path;
	enum { K1 = 2, K2 = 3, K3 = 2 };

	orchestrator(d, LOSS_TIMEOUT_S);
	a = node(d, "a", ARGS("pool=edge"), false);
	b = node(d, "b", ARGS("pool=edge"), false);
	c = node(d, "c", NULL, false);
	wait_health(d, "a", "up");
	wait_health(d, "b", "up");
	wait_health(d, "c", "up");
	path = workflow_file(d, "fo.yaml", failover_wf);
	dj_free(start_workflow(d, path));
	free(path);
	cr_assert(where_is(d, "fo", "f", &w0));
	from = strcmp(w0.node, "a") == 0 ? a : b;
	to = other(a, b, w0.node);
	for (int i = 0; i < K1; i++) {
		cast(d, "fo", "src", "x");
	}
	wait_n(d, "fo", "f", K1);

	/* f's node dies; src on c goes on casting to f before anyone knows:
	 * those events wait in c's outbox for the dead node. */
	cr_assert_neq(dom_stop(from, SIGKILL, 5000), -1);
	for (int i = 0; i < K2; i++) {
		cast(d, "fo", "src", "queued");
	}
	wait_n(d, "fo", "src", K1 + K2);
	cr_assert_eq(dom_log_count(c, "workflow fo deployed here"), 1,
	    "c learned of the move before the casts; the test proves nothing");

	/* f starts afresh on the other node and gets them, and what
	 * follows. */
	wait_on(d, "fo", "f", to->name);
	wait_deployed(c, "fo", 2);
	for (int i = 0; i < K3; i++) {
		cast(d, "fo", "src", "after");
	}
	wait_n(d, "fo", "src", K1 + K2 + K3);
	wait_n(d, "fo", "f", K2 + K3);
	cr_expect_eq(dom_log_count(to, "[fo/f] tally cast"), K2 + K3);
}

/*
 * The TCP ports process `pid` listens on (from /proc: its socket inodes,
 * and the listening sockets of /proc/net/tcp and tcp6), into ports[];
 * how many.
 */
static size_t
listening_ports(pid_t pid, int *ports, size_t max)
{
	char path[64], link[128], line[512];
	unsigned long inodes[256];
	size_t ni = 0, np = 0;
	static const char *const tables[] = { "/proc/net/tcp",
		"/proc/net/tcp6" };

	for (int fd = 0; fd < 4096 && ni < 256; fd++) {
		ssize_t n;
		snprintf(path, sizeof path, "/proc/%d/fd/%d", (int)pid, fd);
		if ((n = readlink(path, link, sizeof link - 1)) <= 0) {
			continue;
		}
		link[n] = '\0';
		if (sscanf(link, "socket:[%lu]", &inodes[ni]) == 1) {
			ni++;
		}
	}
	for (size_t t = 0; t < 2; t++) {
		FILE *f = fopen(tables[t], "r");
		while (f != NULL && fgets(line, sizeof line, f) != NULL) {
			char local[64], st[8];
			unsigned long inode;
			unsigned port;
			const char *colon;
			if (sscanf(line,
			        "%*s %63s %*s %7s %*s %*s %*s %*s %*s %lu",
			        local, st, &inode) != 3 ||
			    strcmp(st, "0A") != 0 ||
			    (colon = strrchr(local, ':')) == NULL ||
			    sscanf(colon + 1, "%x", &port) != 1) {
				continue;
			}
			for (size_t i = 0; i < ni && np < max; i++) {
				if (inodes[i] == inode) {
					ports[np++] = (int)port;
				}
			}
		}
		if (f != NULL) {
			fclose(f);
		}
	}
	return np;
}

/*
 * The orchestrator listens on the port it was given and nowhere else:
 * with the next port taken by someone else it starts, hears the nodes'
 * heartbeats, and moves the parts of a node killed with SIGKILL.
 */
Test(domain, orchestrator_listens_only_on_its_own_port)
{
	struct domain *d = domain("dom-oneport", NULL);
	struct dom_proc *a, *b, *c, *from, *to;
	struct sockaddr_in sa;
	socklen_t slen = sizeof sa;
	struct where w0, w;
	int blocker = socket(AF_INET, SOCK_STREAM, 0), port = -1, probe;
	int ports[16];
	size_t np;
	int64_t t0, end;
	char *path;

	/* A port P whose P + 1 is held by a listener of this test. */
	for (int tries = 0; tries < 50 && port < 0; tries++) {
		memset(&sa, 0, sizeof sa);
		sa.sin_family = AF_INET;
		sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		sa.sin_port = htons((uint16_t)dom_port());
		if (blocker < 0 ||
		    bind(blocker, (struct sockaddr *)&sa, sizeof sa) != 0) {
			continue;
		}
		cr_assert_eq(listen(blocker, 4), 0);
		getsockname(blocker, (struct sockaddr *)&sa, &slen);
		port = ntohs(sa.sin_port) - 1;
		probe = socket(AF_INET, SOCK_STREAM, 0);
		sa.sin_port = htons((uint16_t)port);
		if (port <= 0 ||
		    bind(probe, (struct sockaddr *)&sa, sizeof sa) != 0) {
			close(blocker); /* P itself is taken: again */
			blocker = socket(AF_INET, SOCK_STREAM, 0);
			port = -1;
		}
		close(probe);
	}
	cr_assert_gt(port, 0, "no free port with its next port free");

	dassert(
	    dom_orchestrator_port(d, LOSS_TIMEOUT_S, NULL, NULL, port) != NULL,
	    "the orchestrator did not start on port %d with port %d taken",
	    port, port + 1);
	np = listening_ports(proc_pid(d->orc->p), ports, 16);
	dassert(np == 1 && ports[0] == port,
	    "the orchestrator listens on %zu ports (first %d), want only %d",
	    np, np ? ports[0] : -1, port);
	a = node(d, "a", ARGS("pool=edge"), false);
	b = node(d, "b", ARGS("pool=edge"), false);
	c = node(d, "c", NULL, false);
	wait_health(d, "a", "up");
	wait_health(d, "b", "up");
	wait_health(d, "c", "up");
	wait_heartbeat(d, "a");

	path = workflow_file(d, "fo.yaml", failover_wf);
	dj_free(start_workflow(d, path));
	free(path);
	cr_assert(where_is(d, "fo", "f", &w0));
	from = strcmp(w0.node, "a") == 0 ? a : b;
	to = other(a, b, w0.node);
	cast(d, "fo", "src", "x");
	wait_n(d, "fo", "f", 1);

	/* Heartbeats stop: lost, and f moves to the other node. */
	t0 = dom_now_ms();
	cr_assert_eq(proc_kill(from->p, SIGKILL), 0);
	wait_health(d, from->name, "lost");
	end = t0 + 4 * LOSS_TIMEOUT_MS + 5000;
	while (dom_now_ms() < end &&
	    !(where_is(d, "fo", "f", &w) && strcmp(w.node, to->name) == 0)) {
		dom_nap_ms(POLL_MS);
	}
	dassert(strcmp(w.node, to->name) == 0, "f is on '%s', want %s", w.node,
	    to->name);
	/* src on c sends to f's new node once c has the new wiring. */
	wait_deployed(c, "fo", 2);
	cast(d, "fo", "src", "y");
	wait_n(d, "fo", "f", 1); /* afresh there (no replicas) */
	np = listening_ports(proc_pid(d->orc->p), ports, 16);
	dassert(np == 1 && ports[0] == port,
	    "the orchestrator listens on %zu ports, want only %d", np, port);
	close(blocker);
}

/*
 * Calls toward a node killed with SIGKILL fail at once when the
 * orchestrator declares it lost (LEDGE_EUNAVAIL), not when the caller's
 * own timeout (20 s here) runs out; then they go to the part's new node.
 */
static const char *const lostcall_wf =
    "workflow: lc\n"
    "functions:\n"
    "  asker:\n"
    "    code: @F/caller.so\n"
    "    config: { timeout_ms: 20000 }\n"
    "    outputs: { peer: back }\n"
    "    placement: { node: n1 }\n"
    "  back:\n"
    "    code: @F/tally.so\n"
    "    placement: { labels: { pool: back } }\n"
    "resources:\n"
    "  web:\n"
    "    type: http-ingress\n"
    "    config: { path: /ask, methods: [POST], timeout_ms: 30000 }\n"
    "    outputs: { request: asker }\n";

struct asked {
	int port;
	int64_t t0, ms; /* when sent; how long until the answer */
	int status;
	char body[256];
};

static void *
ask_main(void *arg)
{
	struct asked *a = arg;
	struct httpc_resp resp;
	a->status = 0;
	a->body[0] = '\0';
	a->t0 = dom_now_ms();
	if (httpc_once("127.0.0.1", a->port, 40000, "POST", "/ask", NULL, "q",
	        1, &resp) == HTTPC_OK) {
		a->status = resp.status;
		snprintf(
		    a->body, sizeof a->body, "%s", resp.body ? resp.body : "");
		httpc_resp_free(&resp);
	}
	a->ms = dom_now_ms() - a->t0;
	return NULL;
}

/*
 * A call sent on a connection just before it broke fails at once with
 * "connection failed" (the peer's reset); once the link knows the peer
 * is gone, a call waits for it.  Ask again until a call is not one of
 * those.
 */
static void *
ask_past_reset(void *arg)
{
	struct asked *a = arg;
	for (;;) {
		ask_main(a);
		if (strncmp(a->body, "rv=connection failed", 20) != 0 ||
		    a->ms >= 1000) {
			return NULL;
		}
		dom_nap_ms(POLL_MS);
	}
}

Test(domain, calls_toward_a_lost_node_fail_at_once_and_then_go_to_its_new_node)
{
	struct domain *d = domain("dom-lostcall", NULL);
	struct dom_proc *n1, *n2, *n3, *from;
	struct asked first = { 0 }, later = { 0 };
	pthread_t th;
	struct where w0, w;
	char *path, *out = NULL, *err = NULL, *want;
	int64_t t0, cli_ms, ok_ms = -1, end;
	int rc;
	/* Loss is declared within the node timeout of the last heartbeat
	 * (300 ms apart) plus the orchestrator's 100 ms tick; then the
	 * fence.node request travels to n1. */
	const int64_t bound = LOSS_TIMEOUT_MS + (int64_t)(1000 * time_scale());

	orchestrator(d, LOSS_TIMEOUT_S);
	n1 = node(d, "n1", NULL, true);
	n2 = node(d, "n2", ARGS("pool=back"), false);
	n3 = node(d, "n3", ARGS("pool=back"), false);
	wait_health(d, "n1", "up");
	wait_health(d, "n2", "up");
	wait_health(d, "n3", "up");
	path = workflow_file(d, "lc.yaml", lostcall_wf);
	dj_free(start_workflow(d, path));
	free(path);
	cr_assert(where_is(d, "lc", "back", &w0));
	from = strcmp(w0.node, "n2") == 0 ? n2 : n3;
	wait_deployed(n1, "lc", 1);
	first.port = n1->http_port;
	ask_main(&first);
	cr_assert_eq(first.status, 200, "%s", first.body);
	cr_assert_str_eq(first.body, "rv=success reply=n=0\n\n");

	/* kill -9 back's node; at once a call through n1 (HTTP -> asker ->
	 * back) and one from the CLI (relayed by the orchestrator), each
	 * sent again if it met the connection's reset. */
	cr_assert_eq(proc_kill(from->p, SIGKILL), 0);
	t0 = dom_now_ms();
	memset(&first, 0, sizeof first);
	first.port = n1->http_port;
	cr_assert_eq(pthread_create(&th, NULL, ask_past_reset, &first), 0);
	for (;;) {
		int64_t sent = dom_now_ms();
		rc = dom_cli(d,
		    ARGS("invoke", "lc", "back", "--call", "--timeout", "20000",
		        "x"),
		    &out, &err);
		if (rc == 0 || err == NULL ||
		    strstr(err, "connection failed") == NULL ||
		    dom_now_ms() - sent > 1000) {
			break;
		}
		free(out);
		free(err);
		out = err = NULL;
		dom_nap_ms(POLL_MS);
	}
	cli_ms = dom_now_ms() - t0;
	pthread_join(th, NULL);
	fprintf(stderr,
	    "lost call: node timeout %d ms; after kill -9 the call through "
	    "n1 failed in %" PRId64 " ms (%s), the CLI's in %" PRId64
	    " ms (exit %d)\n",
	    LOSS_TIMEOUT_MS, first.t0 - t0 + first.ms, first.body, cli_ms, rc);
	want = xfmt("rv=%s reply=\n", ledge_strerror(LEDGE_EUNAVAIL));
	cr_expect_str_eq(first.body, want, "the call through n1");
	free(want);
	cr_expect_lt(first.t0 - t0 + first.ms, bound,
	    "the call through n1 waited %" PRId64 " ms (node timeout %d ms)",
	    first.t0 - t0 + first.ms, LOSS_TIMEOUT_MS);
	cr_expect_eq(rc, 3, "ledge invoke exit %d: %s", rc, err ? err : "");
	cr_expect(err != NULL && strstr(err, "declared lost") != NULL,
	    "ledge invoke said: %s", err ? err : "");
	cr_expect_lt(cli_ms, bound + 1000,
	    "the CLI's call waited %" PRId64 " ms", cli_ms);
	free(out);
	free(err);

	/* back moves to the other pool node; once n1 has the new place,
	 * calls go there (with empty state: no replicas). */
	end = t0 + 4 * LOSS_TIMEOUT_MS + 10000;
	while (dom_now_ms() < end) {
		memset(&later, 0, sizeof later);
		later.port = n1->http_port;
		ask_main(&later);
		if (strcmp(later.body, "rv=success reply=n=0\n\n") == 0) {
			ok_ms = dom_now_ms() - t0;
			break;
		}
		/* Until then it fails fast (never waits out the 20 s). */
		cr_expect_lt(later.ms, bound,
		    "a call waited %" PRId64 " ms: %s", later.ms, later.body);
		dom_nap_ms(POLL_MS);
	}
	cr_assert_geq(
	    ok_ms, 0, "calls did not reach back's new node: %s", later.body);
	cr_assert(where_is(d, "lc", "back", &w));
	cr_expect_str_neq(w.node, from->name);
	fprintf(stderr,
	    "lost call: calls reached back on %s %" PRId64 " ms after the "
	    "kill\n",
	    w.node, ok_ms);
	cr_expect_geq(
	    dom_log_count(n1, "was declared lost: calls to it fail"), 1);
}

/* ------------------------------------------------------------------ */
/* 5. the orchestrator stops and starts again                          */

static const char *const keep_wf =
    "workflow: keep\n"
    "functions:\n"
    "  front:\n"
    "    code: @F/tally.so\n"
    "    outputs: { out: back }\n"
    "    placement: { node: n1 }\n"
    "  back:\n"
    "    code: @F/tally.so\n"
    "    placement: { node: n2 }\n"
    "resources:\n"
    "  web:\n"
    "    type: http-ingress\n"
    "    config: { path: /in, methods: [POST], mode: cast }\n"
    "    outputs: { request: front }\n";

static void
orchestrator_restart(int sig)
{
	struct domain *d = domain("dom-orc", NULL);
	struct dom_proc *n1, *n2;
	struct where before[3], after[3];
	static const char *const parts[] = { "front", "back", "web" };
	char *path, *needle, *err = NULL;
	const struct dj *wl;
	struct dj *list;
	int64_t ready;
	int status, rc;
	enum { K = 10, M = 7, K2 = 5 };

	orchestrator(d, CALM_TIMEOUT_S);
	n1 = node(d, "n1", NULL, true);
	n2 = node(d, "n2", NULL, false);
	wait_health(d, "n1", "up");
	wait_health(d, "n2", "up");
	path = workflow_file(d, "keep.yaml", keep_wf);
	dj_free(start_workflow(d, path));
	free(path);
	for (int i = 0; i < K; i++) {
		cast(d, "keep", "front", "x");
	}
	wait_n(d, "keep", "back", K);
	for (int i = 0; i < 3; i++) {
		cr_assert(where_is(d, "keep", parts[i], &before[i]));
	}

	status = dom_stop(d->orc, sig, 10000);
	cr_assert_neq(status, -1, "the orchestrator did not stop");
	if (sig == SIGTERM) {
		cr_expect(WIFEXITED(status) && WEXITSTATUS(status) == 0,
		    "status %#x", status);
		cr_expect_eq(dom_log_count(d->orc, "stopped cleanly"), 1);
	}

	/* The nodes go on without it: HTTP into n1, through the link to
	 * n2. */
	for (int i = 0; i < M; i++) {
		struct httpc_resp resp;
		cr_assert_eq(httpc_once("127.0.0.1", n1->http_port, 10000,
		                 "POST", "/in", NULL, "h", 1, &resp),
		    HTTPC_OK);
		cr_expect_eq(
		    resp.status, 202, "status %d: %s", resp.status, resp.body);
		httpc_resp_free(&resp);
	}
	needle = xfmt("[keep/back] tally cast n=%d", K + M);
	dassert(proc_wait_log(n2->p, needle, WAIT_MS) == 0,
	    "n2 did not count to %d while the orchestrator was away", K + M);
	free(needle);
	/* Both nodes tried to reach it (they rejoin every 2 s) and went on. */
	dassert(proc_wait_log(n1->p, "waiting for the orchestrator", WAIT_MS) ==
	            0 &&
	        proc_wait_log(n2->p, "waiting for the orchestrator", WAIT_MS) ==
	            0,
	    "the nodes did not notice that the orchestrator was away");
	cr_expect(proc_running(n1->p) && proc_running(n2->p));
	/* The CLI says clearly that nobody answers. */
	rc = dom_cli(d, ARGS("workflow", "list"), NULL, &err);
	cr_expect_eq(rc, 1);
	cr_expect(strstr(err, d->url) != NULL, "stderr: %s", err);
	free(err);

	dassert(dom_restart(d->orc) == 0, "the orchestrator did not restart");
	ready = dom_now_ms();
	cr_expect_eq(
	    dom_log_count(d->orc, "1 workflows and 2 nodes from the store"), 1);
	wait_heartbeat(d, "n1");
	wait_heartbeat(d, "n2");
	/*
	 * A node tells the orchestrator what it runs when it joins, which it
	 * does again every 2 s; a restarted orchestrator that wrongly
	 * deployed anything would do it then.  Such a join leaves no trace
	 * when it changes nothing, so let one round pass before checking
	 * that nothing was started again.
	 */
	dom_nap_ms((int)(ready + 2500 - dom_now_ms()) > 0
	        ? (int)(ready + 2500 - dom_now_ms())
	        : 0);

	/* It still knows the workflow, on the same nodes, same epochs. */
	list = ok_json(d, ARGS("workflow", "list"));
	wl = dj_find(dj_get(list, "workflows"), "name", "keep");
	cr_expect_eq(dj_int(dj_get(wl, "placed"), -1), 3);
	cr_expect_eq(dj_int(dj_get(wl, "pending"), -1), 0);
	dj_free(list);
	for (int i = 0; i < 3; i++) {
		cr_assert(where_is(d, "keep", parts[i], &after[i]));
		cr_expect_str_eq(
		    after[i].node, before[i].node, "%s moved", parts[i]);
		cr_expect_eq(after[i].epoch, before[i].epoch,
		    "%s: epoch %" PRIu64 " -> %" PRIu64, parts[i],
		    before[i].epoch, after[i].epoch);
	}

	/* Nothing lost, nothing counted twice, and it goes on. */
	cr_expect_eq(state_n(d, "keep", "front"), K + M);
	cr_expect_eq(state_n(d, "keep", "back"), K + M);
	for (int i = 0; i < K2; i++) {
		cast(d, "keep", "front", "y");
	}
	wait_n(d, "keep", "back", K + M + K2);
	cr_expect_eq(state_n(d, "keep", "front"), K + M + K2);

	/* No instance was started again: one init each, never stopped. */
	cr_expect_eq(dom_log_count(n1, "[keep/front] tally init"), 1);
	cr_expect_eq(dom_log_count(n2, "[keep/back] tally init"), 1);
	cr_expect_eq(dom_log_count(n1, "workflow keep stopped here"), 0);
	cr_expect_eq(dom_log_count(n2, "workflow keep stopped here"), 0);
	cr_expect_eq(dom_log_count(n2, "[keep/back] tally cast"), K + M + K2);
}

Test(domain, orchestrator_restart_after_sigterm_keeps_everything)
{
	orchestrator_restart(SIGTERM);
}

Test(domain, orchestrator_restart_after_sigkill_keeps_everything)
{
	orchestrator_restart(SIGKILL);
}

/* ------------------------------------------------------------------ */
/* 6. a node that was away comes back fenced                           */

Test(domain, stopped_node_comes_back_fenced)
{
	struct domain *d = domain("dom-fence", NULL);
	struct dom_proc *a, *b, *c, *from, *to;
	struct where w0, w;
	struct nstat s0, s1;
	char *path, *msg;
	int64_t t0;
	enum { K1 = 4, K2 = 3, K3 = 5 };

	orchestrator(d, LOSS_TIMEOUT_S);
	a = node(d, "a", ARGS("pool=edge"), false);
	b = node(d, "b", ARGS("pool=edge"), false);
	c = node(d, "c", NULL, false);
	wait_health(d, "a", "up");
	wait_health(d, "b", "up");
	wait_health(d, "c", "up");
	path = workflow_file(d, "fo.yaml", failover_wf);
	dj_free(start_workflow(d, path));
	free(path);
	cr_assert(where_is(d, "fo", "f", &w0));
	from = strcmp(w0.node, "a") == 0 ? a : b;
	to = other(a, b, w0.node);
	for (int i = 0; i < K1; i++) {
		cast(d, "fo", "src", "x");
	}
	wait_n(d, "fo", "f", K1);
	s0 = node_stat(d, from->name);

	/* Frozen for longer than the node timeout: lost, f moves. */
	t0 = dom_now_ms();
	cr_assert_eq(proc_kill(from->p, SIGSTOP), 0);
	w = wait_on(d, "fo", "f", to->name);
	fprintf(stderr,
	    "f moved off the stopped node %s to %s in %" PRId64 " ms\n",
	    from->name, to->name, dom_now_ms() - t0);
	wait_health(d, from->name, "lost");
	wait_deployed(c, "fo", 2);
	for (int i = 0; i < K2; i++) {
		cast(d, "fo", "src", "y");
	}
	wait_n(d, "fo", "f", K2);

	/* Back: it learns it was fenced, stops its f, and rejoins with a
	 * new epoch. */
	cr_assert_eq(proc_kill(from->p, SIGCONT), 0);
	dassert(proc_wait_log(
	            from->p, "fenced: the domain moved fo/f", WAIT_MS) == 0,
	    "%s did not say it was fenced", from->name);
	s1 = wait_health(d, from->name, "up");
	cr_expect_gt(s1.epoch, s0.epoch, "epoch %" PRIu64 " -> %" PRIu64,
	    s0.epoch, s1.epoch);
	msg = xfmt("node %s is back", from->name);
	cr_expect_geq(dom_log_count(d->orc, msg), 1);
	free(msg);

	/* One f, on the new node; events go there only. */
	for (int i = 0; i < K3; i++) {
		cast(d, "fo", "src", "z");
	}
	wait_n(d, "fo", "f", K2 + K3);
	cr_assert(where_is(d, "fo", "f", &w));
	cr_expect_str_eq(w.node, to->name);
	cr_expect_eq(w.copies, 1);
	cr_expect_eq(dom_log_count(from, "[fo/f] tally cast"), K1,
	    "the fenced instance handled events");
	cr_expect_eq(dom_log_count(to, "[fo/f] tally cast"), K2 + K3);
	cr_expect_eq(state_n(d, "fo", "src"), K1 + K2 + K3);
}

/* ------------------------------------------------------------------ */
/* 7. TLS: only certificates of the domain's CA get in                 */

/* Run openssl with `args` in `dir`; asserts it succeeded. */
static void
openssl(const char *bin, const char *dir, const char *const *args)
{
	const char *argv[40];
	char *out = NULL, *err = NULL, *cwd = getcwd(NULL, 0);
	size_t n = 0;
	int rc;
	argv[n++] = bin;
	for (size_t i = 0; args[i] != NULL && n < 39; i++) {
		argv[n++] = args[i];
	}
	argv[n] = NULL;
	cr_assert_not_null(cwd);
	cr_assert_eq(chdir(dir), 0);
	rc = dom_exec(argv, 30000, &out, &err);
	cr_assert_eq(chdir(cwd), 0);
	cr_assert_eq(
	    rc, 0, "openssl %s: exit %d: %s", joined(args), rc, err ? err : "");
	free(cwd);
	free(out);
	free(err);
}

/* A CA (NAME-ca.crt/.key) and a certificate it signed (NAME.crt/.key)
 * for 127.0.0.1, client and server use. */
static void
make_pki(const char *bin, const char *dir, const char *name)
{
	char *cak = xfmt("%s-ca.key", name), *cac = xfmt("%s-ca.crt", name);
	char *k = xfmt("%s.key", name), *csr = xfmt("%s.csr", name);
	char *c = xfmt("%s.crt", name), *subj = xfmt("/CN=%s test CA", name);
	char *ext = xfmt("%s/ext.cnf", dir);
	FILE *fp = fopen(ext, "w");
	cr_assert_not_null(fp);
	fputs("subjectAltName=IP:127.0.0.1,DNS:localhost\n"
	      "basicConstraints=CA:FALSE\n"
	      "keyUsage=digitalSignature,keyEncipherment\n"
	      "extendedKeyUsage=serverAuth,clientAuth\n",
	    fp);
	cr_assert_eq(fclose(fp), 0);
	openssl(bin, dir,
	    ARGS("req", "-x509", "-newkey", "ec", "-pkeyopt",
	        "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", cak,
	        "-out", cac, "-days", "2", "-subj", subj));
	openssl(bin, dir,
	    ARGS("req", "-new", "-newkey", "ec", "-pkeyopt",
	        "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", k, "-out",
	        csr, "-subj", "/CN=127.0.0.1"));
	openssl(bin, dir,
	    ARGS("x509", "-req", "-in", csr, "-CA", cac, "-CAkey", cak,
	        "-CAcreateserial", "-out", c, "-days", "2", "-extfile",
	        "ext.cnf"));
	free(cak);
	free(cac);
	free(k);
	free(csr);
	free(c);
	free(subj);
	free(ext);
}

/*
 * tls+tcp:// with separate certificate and key files: nodes with a
 * certificate of the domain's CA join and talk; others are refused.
 */
Test(domain, tls_admits_only_certificates_of_the_domain_ca)
{
	char *ossl = dom_which("openssl");
	char *dir, *cert, *key, *ca, *rcert, *rkey, *path, *out, *err;
	struct dom_proc *rogue;
	struct domain *d;
	int64_t end;
	int rc;

	cr_assert_not_null(ossl,
	    "the openssl command is needed (tools/scripts/deps.sh installs "
	    "it)");
	dir = tmpdir_make("dom-pki");
	cr_assert_not_null(dir);
	scratch[nscratch++] = dir;
	make_pki(ossl, dir, "good");
	make_pki(ossl, dir, "rogue");
	free(ossl);
	cert = xfmt("%s/good.crt", dir);
	key = xfmt("%s/good.key", dir);
	ca = xfmt("%s/good-ca.crt", dir);
	rcert = xfmt("%s/rogue.crt", dir);
	rkey = xfmt("%s/rogue.key", dir);

	d = domain("dom-tls", &(struct dom_tls) { cert, key, ca });
	orchestrator(d, CALM_TIMEOUT_S);
	cr_assert(strncmp(d->url, "tls+tcp://", 10) == 0);
	node(d, "n1", NULL, false);
	node(d, "n2", NULL, false);
	/* A node whose certificate another CA signed (it trusts the right
	 * CA, so only its own certificate is wrong). */
	rogue = dom_node(
	    d, "rogue", NULL, false, &(struct dom_tls) { rcert, rkey, ca });
	dassert(rogue != NULL, "the rogue node did not start");
	wait_health(d, "n1", "up");
	wait_health(d, "n2", "up");

	/* Over TLS: CLI -> orchestrator -> n1, and the link n1 -> n2. */
	path = workflow_file(d, "xn.yaml",
	    "workflow: tls\n"
	    "functions:\n"
	    "  front:\n"
	    "    code: @F/tally.so\n"
	    "    outputs: { out: back }\n"
	    "    placement: { node: n1 }\n"
	    "  back:\n"
	    "    code: @F/tally.so\n"
	    "    placement: { node: n2 }\n");
	dj_free(start_workflow(d, path));
	free(path);
	for (int i = 0; i < 3; i++) {
		cast(d, "tls", "front", "x");
	}
	wait_n(d, "tls", "back", 3);

	/* The rogue node never gets in: it is not listed while it tries,
	 * until it says it is still waiting for the orchestrator (after its
	 * first join attempt gave up). */
	end = dom_now_ms() + WAIT_MS;
	for (;;) {
		struct nstat s = node_stat(d, "rogue");
		dassert(s.health[0] == '\0', "the rogue node joined (%s)",
		    s.health);
		if (dom_log_count(rogue, "waiting for the orchestrator") > 0 ||
		    dom_now_ms() >= end) {
			break;
		}
		dom_nap_ms(100);
	}
	dassert(dom_log_count(rogue, "waiting for the orchestrator") > 0,
	    "the rogue node did not say that it cannot join");
	cr_expect_str_eq(node_stat(d, "rogue").health, "");
	cr_expect_eq(dom_log_count(rogue, "joined the domain"), 0);
	cr_expect(proc_running(rogue->p), "the rogue node exited");

	/* A CLI without certificate options is a usage error (exit 2:
	 * tls+tcp:// needs the three --tls-*); with the rogue certificate
	 * it is turned away (exit 1).  Both say why and name the address. */
	out = err = NULL;
	rc = dom_cli_tls(d, &(struct dom_tls) { NULL, NULL, NULL },
	    ARGS("node", "list"), &out, &err);
	fprintf(stderr, "CLI without a certificate: exit %d: %s", rc, err);
	cr_expect_eq(rc, 2, "exit %d", rc);
	cr_expect(strstr(err, d->url) != NULL, "stderr: %s", err);
	cr_expect(strstr(err, "--tls") != NULL, "stderr: %s", err);
	free(out);
	free(err);
	out = err = NULL;
	rc = dom_cli_tls(d, &(struct dom_tls) { rcert, rkey, ca },
	    ARGS("node", "list"), &out, &err);
	fprintf(stderr, "CLI with the rogue certificate: exit %d: %s", rc, err);
	cr_expect_eq(rc, 1, "exit %d", rc);
	cr_expect(strstr(err, d->url) != NULL, "stderr: %s", err);
	cr_expect_eq(strstr(out, "n1"), NULL, "stdout: %s", out);
	free(out);
	free(err);

	free(cert);
	free(key);
	free(ca);
	free(rcert);
	free(rkey);
}

/* `ledge ARGS` that must succeed (certs, here). */
static void
ledge_ok(const char *const *args)
{
	const char *argv[16];
	char *out = NULL, *err = NULL;
	size_t n = 0;
	int rc;
	argv[n++] = test_ledge_bin();
	for (size_t i = 0; args[i] != NULL && n < 15; i++) {
		argv[n++] = args[i];
	}
	argv[n] = NULL;
	rc = dom_exec(argv, 30000, &out, &err);
	dassert(rc == 0, "ledge %s: exit %d: %s%s", joined(args), rc,
	    out ? out : "", err ? err : "");
	free(out);
	free(err);
}

/*
 * The certificates `ledge certs` makes run a TLS domain: the
 * orchestrator, two nodes with certificates of their own and an admin's
 * CLI; a node certificate of another `ledge certs init` is turned away.
 */
Test(domain, ledge_certs_makes_a_working_tls_domain)
{
	char *dir = tmpdir_make("dom-certs"), *other, *f[12];
	struct dom_proc *rogue;
	struct domain *d;
	char *out = NULL, *err = NULL;
	int rc;

	cr_assert_not_null(dir);
	scratch[nscratch++] = dir;
	other = xfmt("%s/other", dir);
	ledge_ok(ARGS("certs", "init", dir));
	/* A bad name anywhere: nothing is made. */
	rc = dom_exec(
	    ARGS(test_ledge_bin(), "certs", "issue", "--dir", dir, "--role",
	        "orchestrator", "orc", "-r", "node", "bad/name"),
	    30000, &out, &err);
	cr_expect_eq(rc, 2);
	free(out);
	free(err);
	char *orc_crt = xfmt("%s/orc.crt", dir);
	cr_expect_neq(access(orc_crt, F_OK), 0, "orc.crt was made");
	free(orc_crt);
	/* The whole domain in one command. */
	ledge_ok(ARGS("certs", "issue", "--dir", dir, "--role", "orchestrator",
	    "orc@127.0.0.1,localhost", "--role", "node", "n1", "n2", "-r",
	    "admin", "me"));
	ledge_ok(ARGS("certs", "init", other));
	ledge_ok(
	    ARGS("certs", "issue", "--dir", other, "--role", "node", "rogue"));
	/* Never overwritten. */
	rc = dom_exec(ARGS(test_ledge_bin(), "certs", "issue", "--dir", dir,
	                  "--role", "node", "n1"),
	    30000, &out, &err);
	cr_expect_eq(rc, 1);
	cr_expect(strstr(err, "exists already") != NULL, "stderr: %s", err);
	free(out);
	free(err);

	const char *names[] = { "orc", "n1", "n2", "me" };
	for (int i = 0; i < 4; i++) {
		f[2 * i] = xfmt("%s/%s.crt", dir, names[i]);
		f[2 * i + 1] = xfmt("%s/%s.key", dir, names[i]);
	}
	f[8] = xfmt("%s/ca.crt", dir);
	f[9] = xfmt("%s/rogue.crt", other);
	f[10] = xfmt("%s/rogue.key", other);
	f[11] = xfmt("%s/ca.crt", other);

	d = domain("dom-certs", &(struct dom_tls) { f[0], f[1], f[8] });
	orchestrator(d, CALM_TIMEOUT_S);
	cr_assert(dom_node(d, "n1", NULL, false,
	              &(struct dom_tls) { f[2], f[3], f[8] }) != NULL);
	cr_assert(dom_node(d, "n2", NULL, false,
	              &(struct dom_tls) { f[4], f[5], f[8] }) != NULL);
	rogue = dom_node(
	    d, "rogue", NULL, false, &(struct dom_tls) { f[9], f[10], f[8] });
	cr_assert_not_null(rogue);
	wait_health(d, "n1", "up");
	wait_health(d, "n2", "up");

	out = err = NULL;
	rc = dom_cli_tls(d, &(struct dom_tls) { f[6], f[7], f[8] },
	    ARGS("node", "list"), &out, &err);
	cr_expect_eq(rc, 0, "admin's CLI: exit %d: %s", rc, err);
	cr_expect(strstr(out, "n1") != NULL && strstr(out, "n2") != NULL,
	    "stdout: %s", out);
	cr_expect(strstr(out, "rogue") == NULL, "stdout: %s", out);
	free(out);
	free(err);
	out = err = NULL;
	rc = dom_cli_tls(d, &(struct dom_tls) { f[9], f[10], f[11] },
	    ARGS("node", "list"), &out, &err);
	cr_expect_eq(rc, 1, "another CA's CLI: exit %d", rc);
	free(out);
	free(err);
	cr_expect_str_eq(node_stat(d, "rogue").health, "");
	for (int i = 0; i < 12; i++) {
		free(f[i]);
	}
	free(other);
}

/* ------------------------------------------------------------------ */
/* helpers of the tests below                                          */

/* The node of the domain called `name` (asserted to exist). */
static struct dom_proc *
by_name(struct domain *d, const char *name)
{
	for (size_t i = 0; i < d->nnodes; i++) {
		if (strcmp(d->nodes[i]->name, name) == 0) {
			return d->nodes[i];
		}
	}
	dassert(false, "no node '%s' in the domain", name);
	return NULL;
}

/* Poll a call until it answers at all; the answer (malloc'd, asserted). */
static char *
call_answer(struct domain *d, const char *wf, const char *target)
{
	int64_t end = dom_now_ms() + WAIT_MS;
	char *got, *err = NULL;
	while (
	    (got = call(d, wf, target, &err)) == NULL && dom_now_ms() < end) {
		free(err);
		err = NULL;
		dom_nap_ms(POLL_MS);
	}
	dassert(got != NULL, "call %s/%s never answered (stderr: %s)", wf,
	    target, err ? err : "");
	free(err);
	return got;
}

/* Poll `workflow show` until `part` has exactly the replica `rep` (and
 * runs on `node`); asserts it does. */
static void
wait_replica(struct domain *d, const char *wf, const char *part,
    const char *node, const char *rep)
{
	int64_t end = dom_now_ms() + WAIT_MS;
	struct where w;
	bool ok;
	for (;;) {
		ok = where_is(d, wf, part, &w) && strcmp(w.node, node) == 0 &&
		    w.nreplicas == 1 && strcmp(w.replicas[0], rep) == 0;
		if (ok || dom_now_ms() >= end) {
			break;
		}
		dom_nap_ms(POLL_MS);
	}
	dassert(ok, "%s/%s on '%s' with %zu replicas (%s), want on %s with %s",
	    wf, part, w.node, w.nreplicas, w.nreplicas ? w.replicas[0] : "-",
	    node, rep);
}

/* Gauge or counter `series` (name{labels}, exactly as exposed) in
 * Prometheus text; NAN when it is not there. */
static double
metric(const char *text, const char *series)
{
	size_t n = strlen(series);
	for (const char *l = text; l != NULL && *l;) {
		if (strncmp(l, series, n) == 0 && l[n] == ' ') {
			return strtod(l + n + 1, NULL);
		}
		l = strchr(l, '\n');
		l = l ? l + 1 : NULL;
	}
	return NAN;
}

/* GET /metrics on 127.0.0.1:port (malloc'd body, asserted 200). */
static char *
scrape(int port)
{
	struct httpc_resp r;
	char *body;
	int rc = httpc_once(
	    "127.0.0.1", port, 10000, "GET", "/metrics", NULL, NULL, 0, &r);
	dassert(rc == HTTPC_OK, "GET /metrics on port %d: %s", port,
	    httpc_strerror(rc));
	dassert(r.status == 200, "GET /metrics on port %d: %d %s", port,
	    r.status, r.body);
	body = strdup(r.body);
	httpc_resp_free(&r);
	cr_assert_not_null(body);
	return body;
}

/* `ledge ARGS --json` that must fail: exit 1, ok false; its stderr. */
static char *
fails(struct domain *d, const char *const *args)
{
	char *err = NULL;
	int rc;
	struct dj *v = dom_json(d, args, &rc, &err);
	dassert(rc == 1 && v != NULL && !dj_true(dj_get(v, "ok")) &&
	        dj_gets(v, "error") != NULL,
	    "ledge %s --json: exit %d (want 1), stderr: %s", joined(args), rc,
	    err ? err : "");
	dj_free(v);
	return err;
}

/* ------------------------------------------------------------------ */
/* 8. replicated state survives kill -9, exactly                       */

static const char *const repl_wf = "workflow: rp\n"
                                   "functions:\n"
                                   "  f:\n"
                                   "    code: @F/tally.so\n"
                                   "    state: { replicas: 1 }\n"
                                   "    placement: { labels: { pool: edge } }\n"
                                   "  src:\n"
                                   "    code: @F/tally.so\n"
                                   "    outputs: { out: f }\n"
                                   "    placement: { node: c }\n";

/* kill -9 of `from`: poll until f runs on `to`; the time it took (ms). */
static int64_t
failover(
    struct domain *d, struct dom_proc *from, const char *to, struct where *w)
{
	int64_t t0 = dom_now_ms(), end = t0 + 4 * LOSS_TIMEOUT_MS + 5000,
	        dt = -1;
	cr_assert_eq(proc_kill(from->p, SIGKILL), 0);
	while (dom_now_ms() < end) {
		if (where_is(d, "rp", "f", w) && strcmp(w->node, to) == 0) {
			dt = dom_now_ms() - t0;
			break;
		}
		dom_nap_ms(POLL_MS);
	}
	fprintf(stderr,
	    "replicated f: kill -9 of %s -> on %s in %" PRId64
	    " ms (node timeout %d ms, bound %" PRId64 " ms)\n",
	    from->name, to, dt, LOSS_TIMEOUT_MS, FAILOVER_BOUND_MS);
	dassert(dt >= 0, "f did not move to %s after the kill (it is on '%s')",
	    to, w->node);
	cr_expect_leq(
	    dt, FAILOVER_BOUND_MS, "failover took %" PRId64 " ms", dt);
	return dt;
}

/* Send `k` casts to src (on c, so they cross a link to f) and `m`
 * straight to f. */
static void
feed(struct domain *d, int k, int m)
{
	for (int i = 0; i < k; i++) {
		cast(d, "rp", "src", "link");
	}
	for (int i = 0; i < m; i++) {
		cast(d, "rp", "f", "direct");
	}
}

/* Two failovers and five node starts: under `make tsan` (time scale 3,
 * node timeout 4.5 s, and a heartbeat more before each kill for the
 * replica to be known in sync) it takes about a minute. */
Test(domain, replicated_state_survives_kill_9_with_exact_counts, .timeout = 120)
{
	struct domain *d = domain("dom-repl", NULL);
	struct dom_proc *a, *b, *c, *e, *from, *to;
	struct where w0, w;
	char *path, *want, *got, *msg;
	size_t deploys;
	enum { K1 = 6, K2 = 4, K3 = 5, K4 = 3, K5 = 2 };
	const int k = K1 + K2, k2 = k + K3 + K4, k3 = k2 + K5 + K5;

	orchestrator(d, LOSS_TIMEOUT_S);
	a = node(d, "a", ARGS("pool=edge"), false);
	b = node(d, "b", ARGS("pool=edge"), false);
	c = node(d, "c", NULL, false);
	wait_health(d, "a", "up");
	wait_health(d, "b", "up");
	wait_health(d, "c", "up");
	path = workflow_file(d, "rp.yaml", repl_wf);
	dj_free(start_workflow(d, path));
	free(path);

	/* f runs on one pool=edge node; its replica is the other one. */
	cr_assert(where_is(d, "rp", "f", &w0));
	dassert(strcmp(w0.node, "a") == 0 || strcmp(w0.node, "b") == 0,
	    "f is on '%s'", w0.node);
	from = by_name(d, w0.node);
	to = other(a, b, w0.node);
	dassert(w0.nreplicas == 1 && strcmp(w0.replicas[0], to->name) == 0,
	    "f on %s has %zu replicas (%s), want %s", w0.node, w0.nreplicas,
	    w0.nreplicas ? w0.replicas[0] : "-", to->name);

	/* K acknowledged casts, through c's link and straight to f. */
	feed(d, K1, K2);
	wait_n(d, "rp", "f", k);
	wait_n(d, "rp", "src", K1);
	want = xfmt("n=%d\n", k);
	wait_call(d, "rp", "f", want);

	/* kill -9: f goes to its replica, with the state of the last
	 * event: the first answer there is K, not 0, not more. */
	deploys = dom_log_count(c, "workflow rp deployed here");
	wait_in_sync(d, "rp", "f");
	failover(d, from, to->name, &w);
	cr_expect_gt(w.epoch, w0.epoch, "a moved part gets a new epoch");
	got = call_answer(d, "rp", "f");
	cr_expect_str_eq(got, want, "after the failover");
	free(got);
	free(want);
	cr_expect_eq(state_n(d, "rp", "f"), k);
	msg = xfmt("[rp/f] tally init n=%d", k);
	cr_expect_eq(
	    dom_log_count(to, msg), 1, "%s did not start f at %d", to->name, k);
	free(msg);
	cr_expect_str_eq(node_stat(d, from->name).health, "lost");

	/* It goes on from there, by both paths, exactly (once c knows
	 * where f is). */
	wait_deployed(c, "rp", (int)deploys + 1);
	feed(d, K3, K4);
	wait_n(d, "rp", "f", k2);
	wait_n(d, "rp", "src", K1 + K3);
	cr_expect_eq(dom_log_count(to, "[rp/f] tally cast"), K3 + K4);

	/* With only one pool=edge node left it has no replica; once a node
	 * that fits is up, it has one again. */
	cr_assert(where_is(d, "rp", "f", &w));
	cr_expect_eq(
	    w.nreplicas, 0, "replica on %s", w.nreplicas ? w.replicas[0] : "-");
	e = node(d, "e", ARGS("pool=edge"), false);
	wait_health(d, "e", "up");
	wait_replica(d, "rp", "f", to->name, "e");

	/* And that replica holds the state: lose the new primary too. */
	feed(d, K5, K5);
	wait_n(d, "rp", "f", k3);
	deploys = dom_log_count(c, "workflow rp deployed here");
	wait_in_sync(d, "rp", "f");
	failover(d, to, "e", &w);
	want = xfmt("n=%d\n", k3);
	got = call_answer(d, "rp", "f");
	cr_expect_str_eq(got, want, "after the second failover");
	free(got);
	free(want);
	msg = xfmt("[rp/f] tally init n=%d", k3);
	cr_expect_eq(dom_log_count(e, msg), 1, "e did not start f at %d", k3);
	free(msg);
	wait_deployed(c, "rp", (int)deploys + 1);
	feed(d, 1, 1);
	wait_n(d, "rp", "f", k3 + 2);
	wait_n(d, "rp", "src", K1 + K3 + K5 + 1);
	cr_expect_eq(dom_log_count(e, "[rp/f] tally cast"), 2);
}

/* ------------------------------------------------------------------ */
/* 9. ledge function move carries the state                            */

/*
 * f counts casts; src on n3 casts to it over a link.  `f_code` is tally,
 * or relay with `sleep_ms` (a busy f: events wait in its mailbox as it
 * moves).
 */
static const char *const move_wf = "workflow: mv\n"
                                   "functions:\n"
                                   "  f:\n"
                                   "    code: @F/%s\n"
                                   "    config: { sleep_ms: %d }\n"
                                   "    placement: { labels: { pool: edge } }\n"
                                   "  src:\n"
                                   "    code: @F/tally.so\n"
                                   "    outputs: { out: f }\n"
                                   "    placement: { node: n3 }\n";

/*
 * A thread that casts to `wf`, alternately to targets[0] and targets[1],
 * with `ledge invoke` until told to stop, then `after` more; it counts
 * what the domain accepted (exit 0) and what it refused, per target.  No
 * assertions there: the test checks the counts after casters_join().
 */
struct caster {
	struct domain *d;
	const char *wf, *targets[2];
	int after, max;
	pthread_t th;
	atomic_bool stop;
	atomic_int sent;
	int acked[2], refused[2];
	char first_refusal[512];
};

static struct caster *casters[2];
static size_t ncasters;

static void *
caster_main(void *arg)
{
	struct caster *c = arg;
	int extra = 0;
	for (int i = 0; extra < c->after && i < c->max; i++) {
		int t = i % 2, rc;
		char *out = NULL, *err = NULL;
		if (atomic_load(&c->stop)) {
			extra++;
		}
		rc = dom_cli(c->d, ARGS("invoke", c->wf, c->targets[t], "m"),
		    &out, &err);
		if (rc == 0) {
			c->acked[t]++;
		} else {
			c->refused[t]++;
			if (c->first_refusal[0] == '\0') {
				snprintf(c->first_refusal,
				    sizeof c->first_refusal,
				    "invoke %s: exit %d: %s", c->targets[t], rc,
				    err ? err : "");
			}
		}
		free(out);
		free(err);
		atomic_fetch_add(&c->sent, 1);
	}
	return NULL;
}

static struct caster *
caster_start(struct domain *d, const char *wf, const char *t0, const char *t1,
    int after, int max)
{
	struct caster *c = calloc(1, sizeof *c);
	cr_assert_not_null(c);
	cr_assert_lt(ncasters, sizeof casters / sizeof casters[0]);
	c->d = d;
	c->wf = wf;
	c->targets[0] = t0;
	c->targets[1] = t1;
	c->after = after;
	c->max = max;
	atomic_init(&c->stop, false);
	atomic_init(&c->sent, 0);
	cr_assert_eq(pthread_create(&c->th, NULL, caster_main, c), 0);
	casters[ncasters++] = c;
	return c;
}

/* Wait (bounded) until c has run `n` commands. */
static void
caster_wait(struct caster *c, int n)
{
	int64_t end = dom_now_ms() + WAIT_MS;
	while (atomic_load(&c->sent) < n && dom_now_ms() < end) {
		dom_nap_ms(5);
	}
	dassert(atomic_load(&c->sent) >= n, "the caster ran %d commands",
	    atomic_load(&c->sent));
}

/* Stop and join every caster (its counts stay readable until fini). */
static void
casters_join(void)
{
	for (size_t i = 0; i < ncasters; i++) {
		if (casters[i]->th) {
			atomic_store(&casters[i]->stop, true);
			pthread_join(casters[i]->th, NULL);
			casters[i]->th = 0;
		}
	}
}

static void
casters_stop(void)
{
	casters_join();
	for (size_t i = 0; i < ncasters; i++) {
		free(casters[i]);
	}
	ncasters = 0;
}

/*
 * Start n1, n2 (pool=edge, --http), n3 and workflow mv with f running
 * `f_code` (`sleep_ms` per cast for relay); K casts through src.  *from
 * gets f's node, *to the other pool=edge node.
 */
static struct domain *
move_domain(const char *tag, const char *f_code, int sleep_ms, int k,
    struct dom_proc **from, struct dom_proc **to)
{
	struct domain *d = domain(tag, NULL);
	struct dom_proc *n1, *n2;
	struct where w;
	char *yaml, *path;

	orchestrator(d, CALM_TIMEOUT_S);
	n1 = node(d, "n1", ARGS("pool=edge"), true);
	n2 = node(d, "n2", ARGS("pool=edge"), true);
	node(d, "n3", NULL, false);
	wait_health(d, "n1", "up");
	wait_health(d, "n2", "up");
	wait_health(d, "n3", "up");
	yaml = xfmt(move_wf, f_code, sleep_ms);
	path = workflow_file(d, "mv.yaml", yaml);
	free(yaml);
	dj_free(start_workflow(d, path));
	free(path);
	cr_assert(where_is(d, "mv", "f", &w));
	dassert(strcmp(w.node, "n1") == 0 || strcmp(w.node, "n2") == 0,
	    "f is on '%s'", w.node);
	*from = by_name(d, w.node);
	*to = other(n1, n2, w.node);
	for (int i = 0; i < k; i++) {
		cast(d, "mv", "src", "x");
	}
	wait_n(d, "mv", "f", k);
	return d;
}

/*
 * Move f (at count k) to `to` while a thread casts, alternately to src
 * (over n3's link) and straight to f from the CLI, from before the move
 * until after it; then every accepted cast must be counted exactly once.
 * Returns f's final count.
 */
static int
move_under_casts(struct domain *d, int k, struct dom_proc *to, int max)
{
	struct caster *cs = caster_start(d, "mv", "src", "f", 6, max);
	struct where w;
	struct dj *mv;
	char *want, *text, *m;
	int total;

	caster_wait(cs, 6);
	mv = ok_json(d, ARGS("function", "move", "mv", "f", to->name));
	cr_expect_str_eq(dj_gets(mv, "to") ? dj_gets(mv, "to") : "", to->name);
	dj_free(mv);
	casters_join();
	fprintf(stderr,
	    "casts around the move: src %d accepted, %d refused; f %d "
	    "accepted, %d refused%s%s\n",
	    cs->acked[0], cs->refused[0], cs->acked[1], cs->refused[1],
	    cs->first_refusal[0] ? "; first refusal: " : "", cs->first_refusal);
	/* src does not move: nothing to refuse there. */
	cr_expect_eq(cs->refused[0], 0, "%s", cs->first_refusal);
	cr_expect_gt(cs->acked[1], 0, "no cast reached f directly");
	total = k + cs->acked[0] + cs->acked[1];

	/* The count reaches the total, and a last cast on each path lands
	 * on exactly one more each: nothing lost, nothing twice. */
	wait_n(d, "mv", "src", k + cs->acked[0]);
	wait_n(d, "mv", "f", total);
	cast(d, "mv", "src", "last");
	cast(d, "mv", "f", "last");
	total += 2;
	wait_n(d, "mv", "f", total);
	want = xfmt("n=%d\n", total);
	wait_call(d, "mv", "f", want);
	free(want);
	cr_assert(where_is(d, "mv", "f", &w));
	cr_expect_str_eq(w.node, to->name);
	cr_expect_eq(w.copies, 1);

	/* How many events for f reached a node after f had left it and were
	 * passed on (for the record: it depends on timing). */
	for (size_t i = 0; i < 2; i++) {
		struct dom_proc *p = d->nodes[i];
		text = scrape(p->http_port);
		m = xfmt("ledge_link_forwarded_total{node=\"%s\"}", p->name);
		fprintf(stderr, "events forwarded by %s: %g\n", p->name,
		    metric(text, m));
		free(m);
		free(text);
	}
	return total;
}

/*
 * A quiet move of f (at count k) from `from` to `to`: the reply says
 * from, to and the new epoch; the state went along, and the instance
 * there starts from it.
 */
static void
quiet_move(struct domain *d, int k, struct dom_proc *from, struct dom_proc *to)
{
	struct where w0, w;
	struct dj *mv;
	char *want, *m;

	cr_assert(where_is(d, "mv", "f", &w0));
	mv = ok_json(d, ARGS("function", "move", "mv", "f", to->name));
	cr_expect_str_eq(
	    dj_gets(mv, "from") ? dj_gets(mv, "from") : "", from->name);
	cr_expect_str_eq(dj_gets(mv, "to") ? dj_gets(mv, "to") : "", to->name);
	cr_assert(where_is(d, "mv", "f", &w));
	cr_expect_str_eq(w.node, to->name);
	cr_expect_eq(w.copies, 1);
	cr_expect_gt(w.epoch, w0.epoch);
	cr_expect_eq((uint64_t)dj_int(dj_get(mv, "epoch"), -1), w.epoch,
	    "the reply's epoch is not the one `workflow show` gives");
	dj_free(mv);
	cr_expect_eq(state_n(d, "mv", "f"), k);
	want = xfmt("n=%d\n", k);
	wait_call(d, "mv", "f", want);
	free(want);
	m = xfmt("[mv/f] tally init n=%d", k);
	cr_expect_eq(dom_log_count(to, m), 1);
	free(m);
	cr_expect_eq(dom_log_count(to, "mv/f: state imported"), 1);
	cr_expect_eq(dom_log_count(from, "mv/f: state dropped here"), 1);
}

Test(domain, function_move_carries_state_and_refuses_misfits)
{
	struct dom_proc *from, *to;
	struct domain *d;
	struct where w;
	char *err, *m;
	enum { K = 8, K2 = 3, M2 = 4 };

	d = move_domain("dom-move", "tally.so", 0, K, &from, &to);
	quiet_move(d, K, from, to);

	/* It goes on there: over n3's link, and straight from the CLI. */
	for (int i = 0; i < K2; i++) {
		cast(d, "mv", "src", "y");
	}
	for (int i = 0; i < M2; i++) {
		cast(d, "mv", "f", "z");
	}
	wait_n(d, "mv", "src", K + K2);
	wait_n(d, "mv", "f", K + K2 + M2);
	cr_expect_eq(dom_log_count(to, "[mv/f] tally cast"), K2 + M2);
	cr_expect_eq(dom_log_count(from, "[mv/f] tally cast"), K);

	/* Where it does not fit: exit 1, and the reason names the
	 * constraint. */
	err = fails(d, ARGS("function", "move", "mv", "f", "n3"));
	fprintf(stderr, "move to n3: %s", err);
	cr_expect(strstr(err, "n3") != NULL && strstr(err, "pool=edge") != NULL,
	    "stderr: %s", err);
	free(err);
	/* A node the domain does not know. */
	err = fails(d, ARGS("function", "move", "mv", "f", "nx"));
	cr_expect(strstr(err, "'nx'") != NULL, "stderr: %s", err);
	free(err);
	/* Where it is already. */
	err = fails(d, ARGS("function", "move", "mv", "f", to->name));
	m = xfmt("already runs on %s", to->name);
	cr_expect(strstr(err, m) != NULL, "stderr: %s", err);
	free(m);
	free(err);
	/* None of that moved it or touched its state. */
	cr_assert(where_is(d, "mv", "f", &w));
	cr_expect_str_eq(w.node, to->name);
	cr_expect_eq(state_n(d, "mv", "f"), K + K2 + M2);
}

/*
 * A move back and forth while casts keep coming: every accepted cast is
 * counted exactly once.

 * An event that reaches the old node after f stopped there is refused
 * ("unknown-target"); its sender sends it where f runs now.
 */
Test(domain, function_move_carries_state_and_loses_nothing)
{
	struct dom_proc *from, *to;
	struct domain *d;
	int total;
	enum { K = 8 };

	d = move_domain("dom-move-casts", "tally.so", 0, K, &from, &to);
	quiet_move(d, K, from, to);
	total = move_under_casts(d, K, from, 1000);
	/* Each instance handled each event once. */
	cr_expect_eq(dom_log_count(from, "[mv/f] tally cast") +
	        dom_log_count(to, "[mv/f] tally cast"),
	    (size_t)total);
}

/*
 * The same with a busy f: relay sleeps 300 ms per cast, so the old node
 * takes seconds to stop it (NE_STOP queues behind the events in its
 * mailbox).  Meanwhile nodes rejoin (every 2 s) and requests wait long:
 * neither may start f on its new node before its state is there, or ask
 * for the export before f stopped.
 */
Test(domain, function_move_of_a_busy_function_loses_nothing)
{
	struct dom_proc *from, *to;
	struct domain *d;
	enum { K = 2 };

	d = move_domain("dom-move-busy", "relay.so", 300, K, &from, &to);
	(void)from;
	/* A bounded number of casts: f handles about three a second. */
	move_under_casts(d, K, to, 16);
}

/* ------------------------------------------------------------------ */
/* 10. ledge node drain                                                */

static const char *const drain_wf = "workflow: dr\n"
                                    "functions:\n"
                                    "  a:\n"
                                    "    code: @F/tally.so\n"
                                    "    outputs: { out: b }\n"
                                    "  b:\n"
                                    "    code: @F/tally.so\n"
                                    "  c:\n"
                                    "    code: @F/tally.so\n"
                                    "    outputs: { out: pin }\n"
                                    "  pin:\n"
                                    "    code: @F/tally.so\n"
                                    "    placement: { node: n1 }\n";

static const char *const drain2_wf = "workflow: dr2\n"
                                     "functions:\n"
                                     "  p:\n"
                                     "    code: @F/tally.so\n"
                                     "  q:\n"
                                     "    code: @F/tally.so\n"
                                     "  r:\n"
                                     "    code: @F/tally.so\n"
                                     "  s:\n"
                                     "    code: @F/tally.so\n";

Test(domain, drain_moves_everything_with_state)
{
	struct domain *d = domain("dom-drain", NULL);
	struct dom_proc *n1;
	static const char *const moving[] = { "a", "b", "c" };
	static const char *const fresh[] = { "p", "q", "r", "s" };
	const struct dj *moved, *stay, *it;
	struct where w;
	struct dj *st, *dr;
	char *path, *msg;
	enum { K = 5, M = 4, K2 = 3, M2 = 2 };

	/* Everything starts on n1, the only node; n2 and n3 come later
	 * (which moves nothing by itself). */
	orchestrator(d, CALM_TIMEOUT_S);
	n1 = node(d, "n1", NULL, false);
	wait_health(d, "n1", "up");
	path = workflow_file(d, "dr.yaml", drain_wf);
	st = start_workflow(d, path);
	free(path);
	for (size_t i = 0; i < 3; i++) {
		cr_assert_str_eq(placed_on(st, moving[i]), "n1");
	}
	cr_assert_str_eq(placed_on(st, "pin"), "n1");
	dj_free(st);
	node(d, "n2", NULL, false);
	node(d, "n3", NULL, false);
	wait_health(d, "n2", "up");
	wait_health(d, "n3", "up");
	for (int i = 0; i < K; i++) {
		cast(d, "dr", "a", "x");
	}
	for (int i = 0; i < M; i++) {
		cast(d, "dr", "c", "y");
	}
	wait_n(d, "dr", "b", K);
	wait_n(d, "dr", "pin", M);

	dr = ok_json(d, ARGS("node", "drain", "n1"));
	moved = dj_get(dr, "moved");
	stay = dj_get(dr, "stay");
	fprintf(stderr, "drain: %zu moved, %zu stay (%s: %s)\n", dj_len(moved),
	    dj_len(stay), dj_gets(dj_at(stay, 0), "part"),
	    dj_gets(dj_at(stay, 0), "why"));
	/* Each function off n1, listed with where it went, which is where
	 * `workflow show` has it. */
	cr_expect_eq(dj_len(moved), 3);
	for (size_t i = 0; i < 3; i++) {
		char *part = xfmt("dr/%s", moving[i]);
		const char *to;
		it = dj_find(moved, "part", part);
		cr_expect_not_null(it, "%s is not in `moved`", part);
		to = dj_gets(it, "to") ? dj_gets(it, "to") : "";
		cr_expect_str_eq(dj_gets(it, "from") ? dj_gets(it, "from") : "",
		    "n1", "%s", part);
		cr_expect(strcmp(to, "n2") == 0 || strcmp(to, "n3") == 0,
		    "%s went to '%s'", part, to);
		cr_assert(where_is(d, "dr", moving[i], &w));
		cr_expect_str_eq(w.node, to, "%s", part);
		free(part);
	}
	/* pin may only run on n1: it stays, and the reply says why. */
	cr_expect_eq(dj_len(stay), 1);
	it = dj_find(stay, "part", "dr/pin");
	cr_expect_not_null(it, "dr/pin is not in `stay`");
	cr_expect(dj_gets(it, "why") != NULL &&
	        strstr(dj_gets(it, "why"), "n1") != NULL,
	    "why: %s", dj_gets(it, "why"));
	cr_expect_null(dj_find(moved, "part", "dr/pin"));
	dj_free(dr);
	cr_assert(where_is(d, "dr", "pin", &w));
	cr_expect_str_eq(w.node, "n1");

	/* The state went along: exact counts where they run now, and each
	 * new instance started from it. */
	cr_expect_eq(state_n(d, "dr", "a"), K);
	cr_expect_eq(state_n(d, "dr", "b"), K);
	cr_expect_eq(state_n(d, "dr", "c"), M);
	cr_expect_eq(state_n(d, "dr", "pin"), M);
	for (size_t i = 0; i < 3; i++) {
		int n = i == 2 ? M : K;
		cr_assert(where_is(d, "dr", moving[i], &w));
		msg = xfmt("[dr/%s] tally init n=%d", moving[i], n);
		cr_expect_eq(dom_log_count(by_name(d, w.node), msg), 1,
		    "%s on %s", msg, w.node);
		free(msg);
	}

	/* They go on from there: a -> b between the new nodes, c -> pin
	 * back to n1. */
	for (int i = 0; i < K2; i++) {
		cast(d, "dr", "a", "x2");
	}
	for (int i = 0; i < M2; i++) {
		cast(d, "dr", "c", "y2");
	}
	wait_n(d, "dr", "b", K + K2);
	wait_n(d, "dr", "pin", M + M2);
	cr_expect_eq(state_n(d, "dr", "a"), K + K2);
	cr_expect_eq(state_n(d, "dr", "c"), M + M2);
	cr_expect_eq(dom_log_count(n1, "[dr/a] tally cast"), K);
	cr_expect_eq(dom_log_count(n1, "[dr/b] tally cast"), K);
	cr_expect_eq(dom_log_count(n1, "[dr/c] tally cast"), M);

	/* n1 is draining: nothing new goes there. */
	cr_expect_str_eq(node_stat(d, "n1").health, "draining");
	path = workflow_file(d, "dr2.yaml", drain2_wf);
	st = start_workflow(d, path);
	free(path);
	cr_expect_eq(dj_len(dj_get(st, "pending")), 0);
	for (size_t i = 0; i < 4; i++) {
		const char *on = placed_on(st, fresh[i]);
		cr_expect(strcmp(on, "n2") == 0 || strcmp(on, "n3") == 0,
		    "dr2/%s placed on '%s'", fresh[i], on);
	}
	dj_free(st);
	cr_expect_eq(dom_log_count(n1, "workflow dr2 deployed here"), 0);
	cr_expect_eq(dom_log_count(n1, "[dr2/"), 0);
	/* A second drain has nothing left to move. */
	dr = ok_json(d, ARGS("node", "drain", "n1"));
	cr_expect_eq(dj_len(dj_get(dr, "moved")), 0);
	cr_expect_eq(dj_len(dj_get(dr, "stay")), 1);
	dj_free(dr);

	/* Maintenance over: once its process restarts, n1 takes work
	 * again (pin runs there as before, with its state). */
	cr_assert_eq(dom_stop(n1, SIGTERM, WAIT_MS), 0);
	cr_assert_eq(dom_restart(n1), 0);
	wait_health(d, "n1", "up");
	wait_n(d, "dr", "pin", M + M2);
	cast(d, "dr", "c", "y3");
	wait_n(d, "dr", "pin", M + M2 + 1);
}

/* ------------------------------------------------------------------ */
/* 11. ledge function reload                                           */

/* counter on n2 or n3 (role=counter), its HTTP ingress on n1 (the node
 * with --http). */
static const char *const reload_wf =
    "workflow: rl\n"
    "functions:\n"
    "  counter:\n"
    "    code: @F/counter_step1.so\n"
    "    placement: { labels: { role: counter } }\n"
    "resources:\n"
    "  web:\n"
    "    type: http-ingress\n"
    "    config: { path: /counter, methods: [GET, POST] }\n"
    "    outputs: { request: counter }\n";

/* POST /counter on n1: the value it answers (asserted 200). */
static long
bump(struct dom_proc *n1)
{
	struct httpc_resp r;
	long v;
	cr_assert_eq(httpc_once("127.0.0.1", n1->http_port, 10000, "POST",
	                 "/counter", NULL, "", 0, &r),
	    HTTPC_OK);
	dassert(r.status == 200, "POST /counter: %d %s", r.status, r.body);
	v = strtol(r.body, NULL, 10);
	httpc_resp_free(&r);
	return v;
}

static char *
fixture(const char *name)
{
	return xfmt(
	    "%s/%s", test_path("LEDGE_FIXTURES", "build/tests/fixtures"), name);
}

/*
 * Start the reload domain: n1 (--http), n2 and n3 (role=counter); counter
 * counted to k through n1.  *n1 gets n1, *at the node running counter,
 * *spare the other role=counter node.
 */
static struct domain *
reload_domain(const char *tag, int k, struct dom_proc **n1,
    struct dom_proc **at, struct dom_proc **spare)
{
	struct domain *d = domain(tag, NULL);
	struct dom_proc *n2, *n3;
	char *path;
	struct dj *st;

	orchestrator(d, CALM_TIMEOUT_S);
	*n1 = node(d, "n1", NULL, true);
	n2 = node(d, "n2", ARGS("role=counter"), false);
	n3 = node(d, "n3", ARGS("role=counter"), false);
	wait_health(d, "n1", "up");
	wait_health(d, "n2", "up");
	wait_health(d, "n3", "up");
	path = workflow_file(d, "rl.yaml", reload_wf);
	st = start_workflow(d, path);
	free(path);
	dassert(strcmp(placed_on(st, "counter"), "n2") == 0 ||
	        strcmp(placed_on(st, "counter"), "n3") == 0,
	    "counter is on '%s'", placed_on(st, "counter"));
	cr_assert_str_eq(placed_on(st, "web"), "n1");
	*at = by_name(d, placed_on(st, "counter"));
	*spare = other(n2, n3, (*at)->name);
	dj_free(st);
	for (long i = 1; i <= k; i++) {
		cr_assert_eq(bump(*n1), i);
	}
	return d;
}

Test(domain, function_reload_across_the_domain)
{
	struct dom_proc *n1, *at, *spare;
	struct domain *d;
	char *step2 = fixture("counter_step2.so");
	char *bad = fixture("not_a_so.so"), *err, *msg, hash[65];
	const struct dj *nodes;
	struct dj *rl;
	enum { K = 4 };

	d = reload_domain("dom-reload", K, &n1, &at, &spare);
	file_hash(step2, hash);

	/* +1 code -> +2 code on the node where counter runs (not the one
	 * the HTTP request comes in); the reply names it, the count goes
	 * on from K. */
	rl = ok_json(d, ARGS("function", "reload", "rl", "counter", step2));
	nodes = dj_get(rl, "nodes");
	cr_expect_eq(dj_len(nodes), 1);
	cr_expect_str_eq(
	    dj_str(dj_at(nodes, 0)) ? dj_str(dj_at(nodes, 0)) : "", at->name);
	cr_expect_str_eq(dj_gets(rl, "hash") ? dj_gets(rl, "hash") : "", hash);
	dj_free(rl);
	msg = xfmt("[rl/counter] reloaded: now running code %.12s", hash);
	dassert(proc_wait_log(at->p, msg, WAIT_MS) == 0, "%s did not log '%s'",
	    at->name, msg);
	free(msg);
	cr_expect_eq(bump(n1), K + 2);
	cr_expect_eq(bump(n1), K + 4);
	cr_expect_eq(state_n(d, "rl", "counter"), K + 4);
	/* The same instance, switched in place. */
	cr_expect_eq(dom_log_count(at, "workflow rl stopped here"), 0);
	cr_expect_eq(dom_log_count(spare, "rl/counter"), 0);

	/* Not a shared object: exit 1, the node and the reason, and the +2
	 * code runs on with its state. */
	err = fails(d, ARGS("function", "reload", "rl", "counter", bad));
	fprintf(stderr, "reload of not_a_so.so: %s", err);
	cr_expect(strstr(err, at->name) != NULL &&
	        strstr(err, "not a shared object") != NULL &&
	        strstr(err, "still running the old code") != NULL,
	    "stderr: %s", err);
	free(err);
	cr_expect_eq(bump(n1), K + 6);
	cr_expect_eq(state_n(d, "rl", "counter"), K + 6);

	/* A function the workflow does not have. */
	err = fails(d, ARGS("function", "reload", "rl", "nope", step2));
	cr_expect(strstr(err, "'nope'") != NULL, "stderr: %s", err);
	free(err);
	cr_expect_eq(bump(n1), K + 8);
	free(step2);
	free(bad);
}

/*
 * Code a node refused in `function reload` is not remembered: a later
 * move ships the code the function really runs.
 */
Test(domain, failed_reload_keeps_the_old_code_for_later_deploys)
{
	struct dom_proc *n1, *at, *spare;
	struct domain *d;
	char *step2 = fixture("counter_step2.so");
	char *bad = fixture("not_a_so.so"), *got;
	enum { K = 3 };

	d = reload_domain("dom-reload-bad", K, &n1, &at, &spare);
	dj_free(ok_json(d, ARGS("function", "reload", "rl", "counter", step2)));
	cr_expect_eq(bump(n1), K + 2);
	free(fails(d, ARGS("function", "reload", "rl", "counter", bad)));
	cr_expect_eq(bump(n1), K + 4);

	/* Moved, it runs the last code that loaded, with its state. */
	dj_free(
	    ok_json(d, ARGS("function", "move", "rl", "counter", spare->name)));
	got = call_answer(d, "rl", "counter");
	cr_expect_eq(strtol(got, NULL, 10), K + 4, "answer: %s", got);
	free(got);
	cr_expect_eq(bump(n1), K + 6);
	cr_expect_eq(dom_log_count(spare, "not a shared object"), 0);
	free(step2);
	free(bad);
}

/* ------------------------------------------------------------------ */
/* 12. /metrics on nodes and the orchestrator                          */

static const char *const metrics_wf = "workflow: mx\n"
                                      "functions:\n"
                                      "  front:\n"
                                      "    code: @F/tally.so\n"
                                      "    outputs: { out: back }\n"
                                      "    placement: { node: n1 }\n"
                                      "  back:\n"
                                      "    code: @F/tally.so\n"
                                      "    placement: { node: n2 }\n";

/* The port of the orchestrator's /metrics, from its log line "metrics on
 * http://127.0.0.1:PORT/metrics". */
static int
orc_http_port(struct domain *d)
{
	const char *key = "metrics on http://127.0.0.1:";
	char *text = dom_log(d->orc), *at = strstr(text, key);
	int port = at ? atoi(at + strlen(key)) : -1;
	free(text);
	dassert(port > 0, "the orchestrator did not say its metrics port");
	return port;
}

/* Series `name{node="NODE",instance="INST"}` (its own labels appended:
 * `extra` is "" or ",le=\"+Inf\""). */
static double
inst_metric(const char *text, const char *name, const char *node,
    const char *inst, const char *extra)
{
	char *s =
	    xfmt("%s{node=\"%s\",instance=\"%s\"%s}", name, node, inst, extra);
	double v = metric(text, s);
	free(s);
	return v;
}

static double
peer_metric(
    const char *text, const char *name, const char *node, const char *peer)
{
	char *s = xfmt("%s{node=\"%s\",peer=\"%s\"}", name, node, peer);
	double v = metric(text, s);
	free(s);
	return v;
}

/* Poll /metrics on `port` until `series` is `want`; the last text. */
static char *
wait_metric(int port, const char *series, double want)
{
	int64_t end = dom_now_ms() + WAIT_MS;
	char *text = NULL;
	double v = NAN;
	for (;;) {
		free(text);
		text = scrape(port);
		v = metric(text, series);
		if (v == want || dom_now_ms() >= end) {
			break;
		}
		dom_nap_ms(POLL_MS);
	}
	dassert(v == want, "%s is %g, want %g", series, v, want);
	return text;
}

/* The histogram of an instance: buckets never decrease, +Inf and _count
 * are `events`. */
static void
expect_histogram(
    const char *text, const char *node, const char *inst, double events)
{
	char *head = xfmt("ledge_handler_seconds_bucket{node=\"%s\","
	                  "instance=\"%s\",le=\"",
	    node, inst);
	double last = 0;
	size_t n = 0;
	for (const char *l = strstr(text, head); l != NULL;
	     l = strstr(l + 1, head)) {
		const char *v = strchr(l, ' ');
		double x = v ? strtod(v + 1, NULL) : -1;
		cr_expect_geq(
		    x, last, "bucket %zu of %s: %g after %g", n, inst, x, last);
		last = x;
		n++;
	}
	cr_expect_geq(n, 2, "%s: %zu buckets", inst, n);
	cr_expect_eq(inst_metric(text, "ledge_handler_seconds_bucket", node,
	                 inst, ",le=\"+Inf\""),
	    events);
	cr_expect_eq(
	    inst_metric(text, "ledge_handler_seconds_count", node, inst, ""),
	    events);
	cr_expect_gt(
	    inst_metric(text, "ledge_handler_seconds_sum", node, inst, ""), 0);
	free(head);
}

Test(domain, metrics_on_nodes_and_orchestrator)
{
	struct domain *d = domain("dom-metrics", NULL);
	struct dom_proc *n1, *n2;
	char *path, *t1, *t2, *ot;
	int oport;
	enum { K = 7 };

	orchestrator_with(d, LOSS_TIMEOUT_S, ARGS("--http", "127.0.0.1:0"));
	oport = orc_http_port(d);
	n1 = node(d, "n1", NULL, true);
	n2 = node(d, "n2", NULL, true);
	wait_health(d, "n1", "up");
	wait_health(d, "n2", "up");
	path = workflow_file(d, "mx.yaml", metrics_wf);
	dj_free(start_workflow(d, path));
	free(path);
	for (int i = 0; i < K; i++) {
		cast(d, "mx", "front", "x");
	}
	wait_n(d, "mx", "back", K);

	/* n1: front ran its init and K casts, emitted K events, all
	 * acknowledged by n2 (the queue empties once the acks are in). */
	cr_assert_eq(dom_log_count(n1, "[mx/front] tally init"), 1);
	t1 = wait_metric(
	    n1->http_port, "ledge_link_queued{node=\"n1\",peer=\"n2\"}", 0);
	cr_expect_eq(inst_metric(t1, "ledge_instance_events_total", "n1",
	                 "mx/front", ""),
	    K + 1);
	cr_expect_eq(inst_metric(t1, "ledge_instance_emitted_total", "n1",
	                 "mx/front", ""),
	    K);
	cr_expect_eq(inst_metric(t1, "ledge_instance_errors_total", "n1",
	                 "mx/front", ""),
	    0);
	cr_expect_eq(
	    inst_metric(t1, "ledge_instance_mailbox", "n1", "mx/front", ""), 0);
	expect_histogram(t1, "n1", "mx/front", K + 1);
	cr_expect_gt(peer_metric(t1, "ledge_link_rtt_seconds", "n1", "n2"), 0);
	cr_expect_geq(
	    peer_metric(t1, "ledge_link_batches_total", "n1", "n2"), 1);
	cr_expect_eq(
	    peer_metric(t1, "ledge_link_retransmits_total", "n1", "n2"), 0);
	cr_expect_gt(metric(t1, "ledge_store_bytes{node=\"n1\"}"), 0);
	cr_expect_eq(metric(t1, "ledge_link_backlog{node=\"n1\"}"), 0);
	cr_expect(isnan(inst_metric(
	              t1, "ledge_instance_events_total", "n1", "mx/back", "")),
	    "n1 shows an instance it does not run");
	free(t1);

	/* n2: back got them (init + K), emitted nothing. */
	t2 = scrape(n2->http_port);
	cr_expect_eq(
	    inst_metric(t2, "ledge_instance_events_total", "n2", "mx/back", ""),
	    K + 1);
	cr_expect_eq(inst_metric(t2, "ledge_instance_emitted_total", "n2",
	                 "mx/back", ""),
	    0);
	expect_histogram(t2, "n2", "mx/back", K + 1);
	cr_expect_gt(metric(t2, "ledge_store_bytes{node=\"n2\"}"), 0);
	free(t2);

	/* The orchestrator: both up; after kill -9 of n2, 0 for n2. */
	ot = scrape(oport);
	cr_expect_eq(metric(ot, "ledge_node_up{node=\"n1\"}"), 1);
	cr_expect_eq(metric(ot, "ledge_node_up{node=\"n2\"}"), 1);
	cr_expect_eq(metric(ot, "ledge_parts{state=\"placed\"}"), 2);
	free(ot);
	cr_assert_eq(proc_kill(n2->p, SIGKILL), 0);
	ot = wait_metric(oport, "ledge_node_up{node=\"n2\"}", 0);
	cr_expect_eq(metric(ot, "ledge_node_up{node=\"n1\"}"), 1);
	cr_expect_geq(
	    metric(ot, "ledge_node_heartbeat_age_seconds{node=\"n2\"}"),
	    LOSS_TIMEOUT_S);
	free(ot);
}

/* ------------------------------------------------------------------ */
/* 13. `ledge run`: the orchestrator inside                            */

static const char *const run_wf = "workflow: solo\n"
                                  "functions:\n"
                                  "  front:\n"
                                  "    code: @F/tally.so\n"
                                  "    outputs: { out: back }\n"
                                  "  back:\n"
                                  "    code: @F/tally.so\n";

static const char *const run_more_wf = "workflow: more\n"
                                       "functions:\n"
                                       "  far:\n"
                                       "    code: @F/tally.so\n"
                                       "    placement: { node: n2 }\n";

/*
 * `ledge run FILE` answers the domain commands (workflow show, invoke,
 * state get, workflow start); another node can join it; what it was given
 * on its command line stays on it (no move), and a restart keeps both its
 * own workflows and those started through it.
 */
Test(domain, ledge_run_answers_the_domain_commands)
{
	struct domain *d = domain("dom-run", NULL);
	struct dom_proc *box;
	char *path, *more, *out = NULL, *err = NULL;
	struct where w;
	int rc;

	path = workflow_file(d, "solo.yaml", run_wf);
	box = dom_run(d, "box", ARGS(path), false);
	dassert(box != NULL, "ledge run did not start");
	wait_health(d, "box", "up");
	cr_assert(where_is(d, "solo", "front", &w));
	cr_expect_str_eq(w.node, "box");
	for (int i = 0; i < 5; i++) {
		cast(d, "solo", "front", "x");
	}
	wait_n(d, "solo", "back", 5);
	wait_n(d, "solo", "front", 5);

	/* A node joins; a workflow started through `ledge run` goes there. */
	node(d, "n2", NULL, false);
	wait_health(d, "n2", "up");
	more = workflow_file(d, "more.yaml", run_more_wf);
	dj_free(start_workflow(d, more));
	cast(d, "more", "far", "y");
	wait_n(d, "more", "far", 1);
	cr_assert(where_is(d, "more", "far", &w));
	cr_expect_str_eq(w.node, "n2");

	/* The parts `ledge run` was given stay on it. */
	rc = dom_cli(
	    d, ARGS("function", "move", "solo", "back", "n2"), &out, &err);
	cr_expect_neq(rc, 0, "moved a part of ledge run's own workflow");
	cr_expect_not_null(strstr(err ? err : "", "ledge run"), "%s", err);
	free(out);
	free(err);

	/* A restart: its own workflow and state, and the other, are kept;
	 * nothing ran twice. */
	cr_assert_neq(dom_stop(box, SIGTERM, 10000), -1);
	dassert(dom_restart(box) == 0, "ledge run did not start again");
	wait_health(d, "box", "up");
	cast(d, "solo", "front", "z");
	wait_n(d, "solo", "back", 6);
	cast(d, "more", "far", "y");
	wait_n(d, "more", "far", 2);
	cr_expect_eq(dom_log_count(box, "[solo/back] tally cast"), 6);
	free(path);
	free(more);
}

/* ------------------------------------------------------------------ */
/* 14. a rogue peer                                                    */

/* Request types of the orchestrator and of a node (docs/protocol.md). */
static const char *const rogue_types[] = { "join", "code.get", "code.put",
	"wf.start", "wf.stop", "wf.list", "wf.show", "node.list", "invoke",
	"state.get", "logs", "fn.move", "node.drain", "fn.reload", "ev", "call",
	"deploy", "undeploy", "fence", "reload", "export", "import", "forget",
	"fence.node", "ping", "hb", "no-such-type" };

/* Field names the handlers read. */
static const char *const rogue_keys[] = { "name", "wf", "fn", "target", "node",
	"nodes", "parts", "part", "events", "from", "to", "seq", "ack", "epoch",
	"boot", "url", "code", "hash", "yaml", "file", "data", "labels", "key",
	"arch", "cores", "mem", "resources", "call", "timeout_ms", "inc",
	"state", "entries", "stay", "placement", "replicas", "id", "source" };

/* {"t": type, every key: a value of the wrong kind (shape 0 int, 1 map,
 * 2 array of ints, 3 a string naming nothing, 4 nil, 5 huge int)}. */
static void
rogue_message(struct wire_w *w, const char *type, int shape)
{
	size_t nk = shape == 6 ? 0 : sizeof rogue_keys / sizeof rogue_keys[0];
	wire_map(w, 1 + nk);
	wire_str(w, "t");
	wire_str(w, type);
	for (size_t i = 0; i < nk; i++) {
		wire_str(w, rogue_keys[i]);
		switch (shape) {
		case 0:
			wire_i64(w, -7);
			break;
		case 1:
			wire_map(w, 1);
			wire_str(w, "x");
			wire_array(w, 0);
			break;
		case 2:
			wire_array(w, 3);
			wire_u64(w, 1);
			wire_u64(w, 2);
			wire_u64(w, 3);
			break;
		case 3:
			wire_str(w, "rogue-x");
			break;
		case 4:
			wire_nil(w);
			break;
		default:
			wire_u64(w, UINT64_MAX);
			break;
		}
	}
}

/* Send bytes as a request; a reply, if any, must be a msgpack map. */
static void
rogue_send(const char *url, const void *data, size_t len, const char *what)
{
	void *reply = NULL;
	size_t rlen = 0;
	char err[256];
	struct wire_r r;
	int64_t t0 = dom_now_ms();
	int rc = msg_call_sync(
	    url, NULL, data, len, 3000, &reply, &rlen, err, sizeof err);
	if (dom_now_ms() - t0 > 1000) {
		fprintf(stderr, "rogue: %s to %s: %s after %" PRId64 " ms\n",
		    what, url, rc == MSG_OK ? "answered" : err,
		    dom_now_ms() - t0);
	}
	if (rc == MSG_OK) {
		dassert(wire_parse(&r, reply, rlen) == 0 &&
		        wire_is_map(wire_root(&r)),
		    "%s to %s: the reply is not a message", what, url);
		wire_r_fini(&r);
	}
	free(reply);
}

/*
 * Over the 64 MiB message limit, on a plain TCP socket speaking nng's SP
 * framing (an 8-byte handshake each way, then an 8-byte big-endian
 * length before each message): the receiver must close the connection
 * at the length, without taking in the rest.  (Not with an nng client:
 * nng 1.5 hangs closing a socket whose large send was cut off.)
 */
static void
rogue_oversized(const char *url)
{
	static const unsigned char hello[8] = { 0, 'S', 'P', 0, 0, 0x30, 0, 0 };
	struct sockaddr_in sa = { .sin_family = AF_INET };
	uint64_t big = (uint64_t)MSG_MAX_BYTES + 1024;
	unsigned char head[8], buf[65536] = { 0 };
	struct timeval tv = { 5, 0 };
	int port = 0, fd;
	ssize_t n = 1;

	cr_assert_eq(sscanf(url, "tcp://127.0.0.1:%d", &port), 1, "%s", url);
	sa.sin_port = htons((uint16_t)port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	fd = socket(AF_INET, SOCK_STREAM, 0);
	cr_assert_geq(fd, 0);
	cr_assert_eq(connect(fd, (struct sockaddr *)&sa, sizeof sa), 0);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
	cr_assert_eq(send(fd, hello, sizeof hello, MSG_NOSIGNAL), 8);
	cr_assert_eq(recv(fd, head, sizeof head, MSG_WAITALL), 8,
	    "%s: no SP handshake", url);
	for (int i = 0; i < 8; i++) {
		head[i] = (unsigned char)(big >> (56 - 8 * i));
	}
	send(fd, head, sizeof head, MSG_NOSIGNAL);
	/* Keep sending the body: the server must cut us off long before
	 * 64 MiB went through. */
	for (size_t sent = 0; sent < big && n > 0; sent += (size_t)n) {
		n = send(fd, buf, sizeof buf, MSG_NOSIGNAL);
		if (n > 0 && sent > (size_t)16 << 20) {
			break;
		}
	}
	if (n > 0) {
		/* Not cut off yet: it must close within the receive timeout
		 * (EOF or a reset, not EAGAIN). */
		n = recv(fd, buf, sizeof buf, 0);
		dassert(n == 0 ||
		        (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK),
		    "%s took in more than 16 MiB of a message over the limit "
		    "and kept the connection",
		    url);
	}
	close(fd);
}

/*
 * Messages no member of the domain would send - truncated, random,
 * declaring sizes beyond what arrives, over the size limit, and every
 * request type with fields of the wrong kinds - reach the orchestrator,
 * a node and the orchestrator's heartbeat listener from a peer that is
 * not in the domain.  Each gets an error (or nothing); no process dies,
 * nothing they run changes, the domain works on.
 */
Test(domain, rogue_peer_messages_are_refused_and_nothing_breaks, .timeout = 240)
{
	struct domain *d = domain("dom-rogue", NULL);
	struct dom_proc *n1, *n2;
	const char *urls[2];
	unsigned char junk[256];
	unsigned seed = 7;
	char *path;
	struct wire_w w;
	const void *data;
	size_t len;

	orchestrator(d, CALM_TIMEOUT_S);
	n1 = node(d, "n1", NULL, false);
	n2 = node(d, "n2", NULL, false);
	wait_health(d, "n1", "up");
	wait_health(d, "n2", "up");
	path = workflow_file(d, "mx.yaml", metrics_wf);
	dj_free(start_workflow(d, path));
	cast(d, "mx", "front", "x");
	wait_n(d, "mx", "back", 1);
	urls[0] = d->url;
	urls[1] = n1->url;

	for (size_t u = 0; u < 2; u++) {
		const char *url = urls[u];
		/* Every request type, fields of every wrong kind. */
		for (size_t t = 0; t < sizeof rogue_types / sizeof *rogue_types;
		     t++) {
			for (int shape = 0; shape <= 6; shape++) {
				cr_assert_eq(wire_w_init(&w), 0);
				rogue_message(&w, rogue_types[t], shape);
				data = wire_data(&w, &len);
				cr_assert_not_null(data);
				rogue_send(url, data, len, rogue_types[t]);
				/* ... and cut short (some of them, at every
				 * seventh byte: each request dials anew). */
				for (size_t cut = 1;
				     cut < len && shape == 0 && t % 4 == 0;
				     cut += 7) {
					rogue_send(url, data, cut, "truncated");
				}
				wire_w_fini(&w);
			}
		}
		/* Random bytes. */
		for (int i = 0; i < 50; i++) {
			for (size_t k = 0; k < sizeof junk; k++) {
				junk[k] = (unsigned char)rand_r(&seed);
			}
			rogue_send(url, junk,
			    1 + (size_t)rand_r(&seed) % sizeof junk,
			    "random bytes");
		}
		/* A string declared 4 GiB long, an array of 2^32-1 entries,
		 * a map nested 10,000 deep: sizes beyond what arrives. */
		rogue_send(url,
		    "\xdb\xff\xff\xff\xff"
		    "abc",
		    8, "str32 4 GiB");
		rogue_send(url, "\xdd\xff\xff\xff\xff\x01", 6, "array32");
		memset(junk, 0x81, sizeof junk);
		rogue_send(url, junk, sizeof junk, "deep maps");
		rogue_oversized(url);
	}
	/* Garbage heartbeats (requests on the orchestrator's address, as
	 * the nodes send them), whole and cut short. */
	for (int i = 0; i < 40; i++) {
		cr_assert_eq(wire_w_init(&w), 0);
		rogue_message(&w, i % 2 ? "hb" : "heartbeat", i % 7);
		data = wire_data(&w, &len);
		rogue_send(d->url, data, i % 3 ? len : len / 2, "heartbeat");
		wire_w_fini(&w);
	}

	/* Everyone is alive, nothing moved, and the domain works on. */
	dassert(proc_running(d->orc->p), "the orchestrator died");
	dassert(proc_running(n1->p) && proc_running(n2->p), "a node died");
	wait_health(d, "n1", "up");
	wait_health(d, "n2", "up");
	cast(d, "mx", "front", "y");
	wait_n(d, "mx", "back", 2);
	wait_n(d, "mx", "front", 2);
	cr_expect_eq(dom_log_count(n1, "[mx/front] tally init"), 1,
	    "front was started again");
	cr_expect_eq(dom_log_count(n2, "[mx/back] tally init"), 1,
	    "back was started again");
	free(path);
}

/* ------------------------------------------------------------------ */
/* 13. no acknowledged write lost to kill -9 of the primary, under load */

/* counter (replicas: 1) on one of n2, n3 (role=counter); its HTTP
 * ingress on n1. */
static const char *const load_wf =
    "workflow: fl\n"
    "functions:\n"
    "  counter:\n"
    "    code: @F/counter_step1.so\n"
    "    state: { replicas: 1 }\n"
    "    placement: { labels: { role: counter } }\n"
    "resources:\n"
    "  web:\n"
    "    type: http-ingress\n"
    "    config: { path: /counter, methods: [GET, POST] }\n"
    "    outputs: { request: counter }\n";

/*
 * One client: POST /counter until told to stop (or a minute passed).
 * With `idem`, each increment carries an Idempotency-Key of its own and
 * is retried with it until answered 200 (also after the stop).
 */
struct loader {
	pthread_t th;
	int id;
	int port;
	bool idem;
	atomic_bool *stop;
	atomic_long *acked; /* answered 200, by all clients */
	long sent, ok;      /* this client's */
	long replayed;      /* answered 200 with Idempotent-Replayed */
};

static void *
loader_main(void *arg)
{
	struct loader *l = arg;
	int64_t end = dom_now_ms() + 60000;
	long n = 0;
	char hdr[64];
	const char *hdrs[] = { hdr, NULL };
	bool pending = false; /* an increment not answered 200 yet */

	while ((pending || !atomic_load(l->stop)) && dom_now_ms() < end) {
		struct httpc_resp r;
		int rc;
		if (!pending) {
			snprintf(hdr, sizeof hdr, "Idempotency-Key: c%d-%ld",
			    l->id, n++);
			pending = l->idem;
		}
		rc = httpc_once("127.0.0.1", l->port, 3000, "POST", "/counter",
		    l->idem ? hdrs : NULL, "", 0, &r);
		l->sent++;
		if (rc == HTTPC_OK && r.status == 200) {
			l->ok++;
			l->replayed +=
			    strstr(r.head, "Idempotent-Replayed: true") != NULL;
			atomic_fetch_add(l->acked, 1);
			pending = false;
		}
		if (rc == HTTPC_OK) {
			httpc_resp_free(&r);
		}
		if (rc != HTTPC_OK || r.status != 200) {
			dom_nap_ms(10); /* failing over: no busy loop */
		}
	}
	return NULL;
}

/* Wait until the clients have `more` acknowledgements more than now. */
static void
wait_acked(atomic_long *acked, long more, const char *when)
{
	long want = atomic_load(acked) + more;
	int64_t end = dom_now_ms() + 4 * WAIT_MS;
	while (atomic_load(acked) < want && dom_now_ms() < end) {
		dom_nap_ms(POLL_MS);
	}
	dassert(atomic_load(acked) >= want, "%s: %ld acknowledged, want %ld",
	    when, atomic_load(acked), want);
}

/* GET /counter on n1: the value (asserted 200). */
static long
counter_value(struct dom_proc *n1)
{
	struct httpc_resp r;
	long v;
	int64_t end = dom_now_ms() + WAIT_MS;
	int rc;
	while ((rc = httpc_once("127.0.0.1", n1->http_port, 3000, "GET",
	            "/counter", NULL, NULL, 0, &r)) == HTTPC_OK &&
	    r.status != 200 && dom_now_ms() < end) {
		httpc_resp_free(&r);
		dom_nap_ms(POLL_MS);
	}
	cr_assert_eq(rc, HTTPC_OK);
	dassert(r.status == 200, "GET /counter: %d %s", r.status, r.body);
	v = strtol(r.body, NULL, 10);
	httpc_resp_free(&r);
	return v;
}

/* What the primary `p` logs when it replicates `part` to `rep`, and how
 * many times it has (its log spans its restarts). */
static char *
replicating_msg(const char *part, const char *rep)
{
	return xfmt("[%s] replicas on %s: writes are acknowledged once they "
	            "hold them too",
	    part, rep);
}

static size_t
replicating_count(struct dom_proc *p, const char *part, const char *rep)
{
	char *msg = replicating_msg(part, rep);
	size_t n = dom_log_count(p, msg);
	free(msg);
	return n;
}

/* Wait until `p` logged that `part` is replicated to `rep`, `times`
 * times in all. */
static void
wait_replicating(
    struct dom_proc *p, const char *part, const char *rep, size_t times)
{
	char *msg = replicating_msg(part, rep);
	dassert(proc_wait_log_count(p->p, msg, (int)times, WAIT_MS) == 0,
	    "%s did not log '%s' %zu times", p->name, msg, times);
	free(msg);
}

/*
 * The fl domain: n1 (HTTP), n2 and n3 (role=counter), the orchestrator
 * with `node_timeout_s`, load_wf started; *at gets the counter's node,
 * *spare its replica, once the primary replicates to it (from then on
 * its writes are protected).
 */
static void
fl_domain(struct domain *d, double node_timeout_s, struct dom_proc **n1p,
    struct dom_proc **atp, struct dom_proc **sparep)
{
	struct dom_proc *n1, *n2, *n3, *at, *spare;
	char *path;
	struct dj *st;

	orchestrator(d, node_timeout_s);
	n1 = node(d, "n1", NULL, true);
	n2 = node(d, "n2", ARGS("role=counter"), false);
	n3 = node(d, "n3", ARGS("role=counter"), false);
	wait_health(d, "n1", "up");
	wait_health(d, "n2", "up");
	wait_health(d, "n3", "up");
	path = workflow_file(d, "fl.yaml", load_wf);
	st = start_workflow(d, path);
	free(path);
	at = by_name(d, placed_on(st, "counter"));
	spare = other(n2, n3, at->name);
	dj_free(st);
	wait_replicating(at, "fl/counter", spare->name, 1);
	*n1p = n1;
	*atp = at;
	*sparep = spare;
}

/*
 * Eight clients increment a counter with one synchronous replica while
 * its primary is killed with -9, twice (the killed node comes back as
 * the new replica in between).  Without Idempotency-Key: every increment
 * a client got 200 for is in the count afterwards; increments that failed
 * may or may not be (a client cannot know), but nothing is counted that
 * was never sent.  With one, retried until answered: the count is
 * exactly the increments answered, no more, no less.
 */
static void
load_failover(const char *tag, bool idem)
{
	struct domain *d = domain(tag, NULL);
	struct dom_proc *n1, *at, *spare, *t;
	struct loader cl[8];
	atomic_bool stop = false;
	atomic_long acked = 0;
	long sent = 0, replayed = 0, value;

	fl_domain(d, LOSS_TIMEOUT_S, &n1, &at, &spare);

	for (int i = 0; i < 8; i++) {
		cl[i] = (struct loader) { .id = i,
			.port = n1->http_port,
			.idem = idem,
			.stop = &stop,
			.acked = &acked };
		cr_assert_eq(
		    pthread_create(&cl[i].th, NULL, loader_main, &cl[i]), 0);
	}
	for (int round = 0; round < 2; round++) {
		wait_in_sync(d, "fl", "counter");
		wait_acked(&acked, 100, "before the kill");
		/* kill -9 of the primary in the middle of the load. */
		cr_assert_eq(proc_kill(at->p, SIGKILL), 0);
		wait_on(d, "fl", "counter", spare->name);
		wait_acked(&acked, 100, "after the failover");
		/* The killed node comes back, as the replica (the new
		 * primary may have replicated to it before, in round 0). */
		size_t before =
		    replicating_count(spare, "fl/counter", at->name);
		cr_assert_eq(dom_restart(at), 0);
		wait_replica(d, "fl", "counter", spare->name, at->name);
		wait_replicating(spare, "fl/counter", at->name, before + 1);
		t = at;
		at = spare;
		spare = t;
	}
	wait_acked(&acked, 100, "at the end");
	atomic_store(&stop, true);
	for (int i = 0; i < 8; i++) {
		pthread_join(cl[i].th, NULL);
		sent += cl[i].sent;
		replayed += cl[i].replayed;
	}
	value = counter_value(n1);
	fprintf(stderr,
	    "load over 2 kills -9%s: %ld POSTs, %ld acknowledged (%ld with a "
	    "replayed answer), count %ld (%ld applied without an answer)\n",
	    idem ? " with Idempotency-Key retries" : "", sent,
	    atomic_load(&acked), replayed, value, value - atomic_load(&acked));
	dassert(value >= atomic_load(&acked),
	    "count %ld < %ld acknowledged: acknowledged writes were lost",
	    value, atomic_load(&acked));
	cr_expect_leq(value, sent, "more increments than POSTs");
	if (idem) {
		cr_expect_eq(value, atomic_load(&acked),
		    "every increment retried with its key until answered: "
		    "the count must be exactly the answered ones");
	}
}

Test(domain, acknowledged_writes_survive_kill_9_of_the_primary_under_load,
    .timeout = 180)
{
	load_failover("dom-load", false);
}

Test(domain, retried_writes_count_exactly_once_across_kill_9_under_load,
    .timeout = 180)
{
	load_failover("dom-load-idem", true);
}

/* `workflow show`'s entry for `part`: degraded, and its note (copied). */
static bool
part_degraded(
    struct domain *d, const char *wf, const char *part, char *note, size_t len)
{
	int rc;
	bool degraded = false;
	struct dj *v = dom_json(d, ARGS("workflow", "show", wf), &rc, NULL);
	const struct dj *p = dj_find(dj_get(v, "parts"), "part", part);
	note[0] = '\0';
	if (rc == 0 && p != NULL) {
		const char *n = dj_gets(p, "note");
		degraded = dj_true(dj_get(p, "degraded"));
		snprintf(note, len, "%s", n ? n : "");
	}
	dj_free(v);
	return degraded;
}

/* `workflow show`'s entry for `part` of wf: waiting for its lost node;
 * its note (copied). */
static bool
part_waiting(
    struct domain *d, const char *wf, const char *part, char *note, size_t len)
{
	int rc;
	struct dj *v = dom_json(d, ARGS("workflow", "show", wf), &rc, NULL);
	const struct dj *p = dj_find(dj_get(v, "parts"), "part", part);
	bool waiting = dj_true(dj_get(p, "waiting"));
	const char *n = dj_gets(p, "note");
	snprintf(note, len, "%s", n ? n : "");
	dj_free(v);
	return waiting;
}

/* Poll until part's `degraded` is `want`; its note then. */
static void
wait_degraded(
    struct domain *d, const char *part, bool want, char *note, size_t len)
{
	int64_t end = dom_now_ms() + WAIT_MS;
	while (part_degraded(d, "fl", part, note, len) != want &&
	    dom_now_ms() < end) {
		dom_nap_ms(POLL_MS);
	}
	dassert(part_degraded(d, "fl", part, note, len) == want,
	    "%s is %sdegraded (note: %s)", part, want ? "not " : "", note);
}

/*
 * A replica that stops answering (SIGSTOP: alive, but silent) holds the
 * primary's acknowledgements for the replica timeout (2 s), then the
 * primary goes on without it - `workflow show` says the part runs with
 * fewer replicas in sync - until it answers again and catches up.  What
 * was acknowledged meanwhile reaches it: a failover afterwards keeps it.
 */
Test(domain, a_silent_replica_degrades_the_part_until_it_catches_up,
    .timeout = 120)
{
	struct domain *d = domain("dom-lag", NULL);
	struct dom_proc *n1, *at, *spare;
	char *msg, note[512];
	int64_t t0, dt;
	enum { K = 3, K2 = 4 };

	/* Long enough that the silent replica is not declared lost. */
	fl_domain(d, 8.0, &n1, &at, &spare);
	for (long i = 1; i <= K; i++) {
		cr_assert_eq(bump(n1), i);
	}
	wait_degraded(d, "counter", false, note, sizeof note);

	/* Silent replica: the next write waits the replica timeout, then
	 * is acknowledged without it. */
	cr_assert_eq(proc_kill(spare->p, SIGSTOP), 0);
	t0 = dom_now_ms();
	cr_expect_eq(bump(n1), K + 1);
	dt = dom_now_ms() - t0;
	fprintf(stderr,
	    "write with a silent replica answered after %" PRId64
	    " ms (replica timeout 2000 ms)\n",
	    dt);
	cr_expect_geq(dt, 1900, "acknowledged before the replica had it");
	msg = xfmt("replica node %s has not acknowledged writes for 2000 ms",
	    spare->name);
	cr_expect_geq(
	    dom_log_count(at, msg), 1, "%s did not log '%s'", at->name, msg);
	free(msg);
	wait_degraded(d, "counter", true, note, sizeof note);
	cr_expect(strstr(note, "0 of 1 state replicas in sync") != NULL,
	    "note: %s", note);
	/* Meanwhile writes are not held up. */
	for (long i = K + 2; i <= K + K2; i++) {
		cr_expect_eq(bump(n1), i);
	}

	/* It answers again: it gets what it missed and is in sync. */
	cr_assert_eq(proc_kill(spare->p, SIGCONT), 0);
	cr_expect_eq(bump(n1), K + K2 + 1);
	wait_degraded(d, "counter", false, note, sizeof note);
	msg = xfmt("replica node %s caught up", spare->name);
	cr_expect_geq(
	    dom_log_count(at, msg), 1, "%s did not log '%s'", at->name, msg);
	free(msg);
	cr_expect_eq(bump(n1), K + K2 + 2);

	/* And it holds everything: the primary's loss loses nothing. */
	cr_assert_eq(proc_kill(at->p, SIGKILL), 0);
	{
		struct where w;
		int64_t end = dom_now_ms() + 40000;
		while (!(where_is(d, "fl", "counter", &w) &&
		           strcmp(w.node, spare->name) == 0) &&
		    dom_now_ms() < end) {
			dom_nap_ms(100);
		}
		dassert(strcmp(w.node, spare->name) == 0,
		    "counter is on '%s', want %s", w.node, spare->name);
	}
	cr_expect_eq(counter_value(n1), K + K2 + 2);
}

/*
 * The primary is lost while its replica lags (it was silent, and writes
 * were acknowledged without it): the replica may not take over - it
 * lacks writes the primary acknowledged - so the counter waits for its
 * node, says so, and goes on there with every write once it is back.
 */
enum { LAG_K = 3 };

/* The counter with K writes its replica holds and two more it lacks; its
 * primary killed, it waits on that node. */
static void
lagging_then_lost(struct domain *d, struct dom_proc **n1p,
    struct dom_proc **atp, struct dom_proc **sparep)
{
	struct dom_proc *n1, *at, *spare;
	char note[512];
	struct where w;
	enum { K = LAG_K };
	int64_t end;

	/* Long enough that the silent replica is not declared lost. */
	fl_domain(d, 4.0, &n1, &at, &spare);
	for (long i = 1; i <= K; i++) {
		cr_assert_eq(bump(n1), i);
	}
	wait_in_sync(d, "fl", "counter");

	/* Silent replica: writes wait, then go on without it - once the
	 * orchestrator no longer counts it in sync. */
	cr_assert_eq(proc_kill(spare->p, SIGSTOP), 0);
	cr_expect_eq(bump(n1), K + 1);
	cr_expect_eq(bump(n1), K + 2);
	wait_degraded(d, "counter", true, note, sizeof note);

	/* The primary dies; the replica answers again, too late to have
	 * the writes: the counter must not start there. */
	cr_assert_eq(proc_kill(at->p, SIGKILL), 0);
	cr_assert_eq(proc_kill(spare->p, SIGCONT), 0);
	end = dom_now_ms() + 30000;
	while (!(where_is(d, "fl", "counter", &w) &&
	           part_waiting(d, "fl", "counter", note, sizeof note)) &&
	    dom_now_ms() < end) {
		dom_nap_ms(100);
	}
	dassert(strcmp(w.node, at->name) == 0 &&
	        part_waiting(d, "fl", "counter", note, sizeof note),
	    "counter is on '%s' (note: %s), want waiting on %s", w.node, note,
	    at->name);
	cr_expect(strstr(note, "waiting for node") != NULL, "note: %s", note);
	cr_expect_str_eq(node_stat(d, at->name).health, "lost");
	*n1p = n1;
	*atp = at;
	*sparep = spare;
}

Test(domain,
    a_primary_lost_while_its_replica_lags_waits_instead_of_losing_writes,
    .timeout = 120)
{
	struct domain *d = domain("dom-wait", NULL);
	struct dom_proc *n1, *at, *spare;
	char note[512];
	struct where w;
	enum { K = LAG_K };
	int64_t end;

	lagging_then_lost(d, &n1, &at, &spare);
	/* A write meanwhile fails (503), it is not counted elsewhere. */
	dom_nap_ms(1000);
	cr_assert(where_is(d, "fl", "counter", &w));
	cr_expect_str_eq(w.node, at->name, "it moved while waiting");

	/* Its node is back: it runs there, with every acknowledged write. */
	cr_assert_eq(dom_restart(at), 0);
	end = dom_now_ms() + 30000;
	while (part_waiting(d, "fl", "counter", note, sizeof note) &&
	    dom_now_ms() < end) {
		dom_nap_ms(100);
	}
	cr_expect(!part_waiting(d, "fl", "counter", note, sizeof note),
	    "still waiting: %s", note);
	end = dom_now_ms() + 30000;
	long v = -1;
	while ((v = counter_value(n1)) != K + 2 && dom_now_ms() < end) {
		dom_nap_ms(200);
	}
	cr_expect_eq(v, K + 2, "acknowledged writes lost");
	cr_expect_eq(bump(n1), K + 3);
}

/*
 * The node the counter waits for never comes back: the operator lets the
 * lagging replica take over with `function move --accept-loss`, which is
 * refused for a function that does not wait and toward a node without a
 * replica.  The counter goes on from what the replica held (the two
 * writes it lacked are lost, as the flag said), and the old node, back,
 * does not take it again.
 */
Test(domain, accept_loss_lets_a_waiting_function_fail_over_to_its_replica,
    .timeout = 120)
{
	struct domain *d = domain("dom-lossy", NULL);
	struct dom_proc *n1, *at, *spare;
	char note[512], *err;
	struct where w;
	enum { K = LAG_K };
	int64_t end;
	long v = -1;

	lagging_then_lost(d, &n1, &at, &spare);

	err = fails(d,
	    ARGS("function", "move", "fl", "counter", "n1", "--accept-loss"));
	cr_expect(strstr(err, "holds no replica") != NULL, "stderr: %s", err);
	free(err);
	cr_assert(part_waiting(d, "fl", "counter", note, sizeof note),
	    "a refused --accept-loss changed it: %s", note);

	struct dj *mv = ok_json(d,
	    ARGS("function", "move", "fl", "counter", spare->name,
	        "--accept-loss"));
	dj_free(mv);
	cr_assert(where_is(d, "fl", "counter", &w));
	cr_expect_str_eq(w.node, spare->name);
	cr_expect(!part_waiting(d, "fl", "counter", note, sizeof note),
	    "still waiting: %s", note);
	cr_expect_eq(dom_log_count(d->orc, "--accept-loss"), 1);
	end = dom_now_ms() + 30000;
	while ((v = counter_value(n1)) < 0 && dom_now_ms() < end) {
		dom_nap_ms(200);
	}
	/* It held the first K; the two after them only if they reached its
	 * socket before it stopped. */
	fprintf(stderr, "accept-loss: the replica went on from %ld\n", v);
	cr_expect(v >= K && v <= K + 2, "counter %ld after failing over", v);
	cr_expect_eq(bump(n1), v + 1);

	/* Not waiting any more: the flag is refused. */
	err = fails(d,
	    ARGS("function", "move", "fl", "counter", "n1", "--accept-loss"));
	cr_expect(strstr(err, "not waiting") != NULL, "stderr: %s", err);
	free(err);

	/* The old node comes back (fenced): the counter stays. */
	cr_assert_eq(dom_restart(at), 0);
	wait_health(d, at->name, "up");
	cr_expect_eq(bump(n1), v + 2);
	cr_assert(where_is(d, "fl", "counter", &w));
	cr_expect_str_eq(w.node, spare->name);
}

/* ------------------------------------------------------------------ */
/* an Idempotency-Key in flight on another node                        */

static const char *const idem_wf = "workflow: ik\n"
                                   "functions:\n"
                                   "  slow:\n"
                                   "    code: @F/slow.so\n"
                                   "    placement: { node: %s }\n"
                                   "resources:\n"
                                   "  web:\n"
                                   "    type: http-ingress\n"
                                   "    config: { path: /slow }\n"
                                   "    outputs: { request: slow }\n";

struct idem_req {
	pthread_t th;
	int port;
	const char *path;
	int status;
	bool replayed;
	char body[64];
	char ctype[64];
};

static void *
idem_req_main(void *arg)
{
	struct idem_req *q = arg;
	const char *hdrs[] = { "Idempotency-Key: once", NULL };
	struct httpc_resp r;
	const char *ct;
	q->status = -1;
	if (httpc_once("127.0.0.1", q->port, 20000, "GET", q->path, hdrs, NULL,
	        0, &r) == HTTPC_OK) {
		q->status = r.status;
		q->replayed =
		    strstr(r.head, "Idempotent-Replayed: true") != NULL;
		snprintf(q->body, sizeof q->body, "%s", r.body ? r.body : "");
		if ((ct = strstr(r.head, "Content-Type: ")) != NULL) {
			snprintf(q->ctype, sizeof q->ctype, "%.*s",
			    (int)strcspn(ct + 14, "\r\n"), ct + 14);
		}
		httpc_resp_free(&r);
	}
	return NULL;
}

/*
 * The ingress on n1, the function on `on` (n1 or n2).  A retry with the
 * key of a call that still runs is answered 409 (it must not run beside
 * the first: both would count), and once the first is answered, the key
 * gets the stored answer - the same status, type and body, not a second
 * run (the retry asks for another sleep and still reads the first one's
 * answer).
 */
static void
idem_in_flight(const char *tag, const char *on)
{
	struct domain *d = domain(tag, NULL);
	struct dom_proc *n1;
	struct idem_req first = { 0 }, retry = { 0 }, late = { 0 };
	char *path, *wf = xfmt(idem_wf, on);
	struct dj *st;

	orchestrator(d, 4.0);
	n1 = node(d, "n1", NULL, true);
	node(d, "n2", NULL, false);
	wait_health(d, "n1", "up");
	wait_health(d, "n2", "up");
	path = workflow_file(d, "ik.yaml", wf);
	st = start_workflow(d, path);
	free(path);
	free(wf);
	dj_free(st);

	first = (struct idem_req) { .port = n1->http_port,
		.path = "/slow?ms=3000" };
	cr_assert_eq(pthread_create(&first.th, NULL, idem_req_main, &first), 0);
	/* Well inside the first one's 3 s. */
	dom_nap_ms(1000);
	retry =
	    (struct idem_req) { .port = n1->http_port, .path = "/slow?ms=10" };
	idem_req_main(&retry);
	pthread_join(first.th, NULL);
	cr_expect_eq(
	    first.status, 200, "first: %d %s", first.status, first.body);
	cr_expect_str_eq(first.body, "slept 3000\n");
	cr_expect_eq(retry.status, 409, "retry while it ran: %d %s",
	    retry.status, retry.body);

	late =
	    (struct idem_req) { .port = n1->http_port, .path = "/slow?ms=10" };
	idem_req_main(&late);
	cr_expect_eq(late.status, 200, "late: %d %s", late.status, late.body);
	cr_expect(late.replayed, "no Idempotent-Replayed header");
	cr_expect_str_eq(
	    late.body, "slept 3000\n", "it ran again: '%s'", late.body);
	cr_expect_str_eq(late.ctype, first.ctype);
}

Test(domain, a_retry_while_its_key_runs_here_is_409_then_the_answer,
    .timeout = 90)
{
	idem_in_flight("dom-idem1", "n1");
}

Test(domain, a_retry_while_its_key_runs_elsewhere_is_409_then_the_answer,
    .timeout = 90)
{
	idem_in_flight("dom-idem2", "n2");
}

/* ------------------------------------------------------------------ */
/* --insecure                                                          */

/*
 * An orchestrator on all addresses without TLS starts only with
 * --insecure (the harness adds it for a host it is given), says so as a
 * warning, and works: a node joins and a workflow runs.
 */
Test(domain, insecure_listens_where_other_hosts_reach_and_says_so)
{
	struct domain *d = domain("dom-insecure", NULL);
	struct dom_proc *o = dom_orchestrator_at(d, 3.0, NULL, "0.0.0.0");

	cr_assert_not_null(o, "orchestrator");
	node(d, "n1", NULL, false);
	wait_health(d, "n1", "up");
	cr_expect_eq(dom_log_count(o,
	                 "without TLS (--insecure): anyone who can reach it "
	                 "can deploy code and run it here"),
	    1);
}
