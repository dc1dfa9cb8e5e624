/*
 * keyed_test.c - keyed functions: one instance per key, over real HTTP.
 *
 * keyed.so counts per key (tests/fixtures/keyed.c) and logs its init and
 * stop with the key; routes take the key from the path, a header or a
 * query parameter.
 */
#include <criterion/criterion.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "itest.h"

TestSuite(keyed, .fini = it_fini, .timeout = 120);

static struct lrun *
start(const char *tag, const char *keyed)
{
	char *wf = it_fmt("workflow: kw\n"
	                  "functions:\n"
	                  "  k:\n"
	                  "    code: @F/keyed.so\n"
	                  "    keyed: %s\n"
	                  "    outputs: { out: k }\n"
	                  "resources:\n"
	                  "  by_path:\n"
	                  "    type: http-ingress\n"
	                  "    config: { prefix: /k/, key: path }\n"
	                  "    outputs: { request: k }\n"
	                  "  by_header:\n"
	                  "    type: http-ingress\n"
	                  "    config: { path: /h, key: \"header:X-User\" }\n"
	                  "    outputs: { request: k }\n"
	                  "  by_query:\n"
	                  "    type: http-ingress\n"
	                  "    config: { path: /q, key: \"query:user\" }\n"
	                  "    outputs: { request: k }\n",
	    keyed);
	struct lrun *r = it_run1(tag, wf, true);
	free(wf);
	return r;
}

/* keyed.so with `keyed: KEYED` (and `extra` lines), casts in at /c/KEY,
 * calls at /k/KEY. */
static struct lrun *
start_cast(const char *tag, const char *keyed, const char *extra)
{
	char *wf = it_fmt("workflow: kw\n"
	                  "functions:\n"
	                  "  k:\n"
	                  "    code: @F/keyed.so\n"
	                  "    keyed: %s\n"
	                  "%s"
	                  "resources:\n"
	                  "  in:\n"
	                  "    type: http-ingress\n"
	                  "    config: { prefix: /c/, key: path, mode: cast }\n"
	                  "    outputs: { request: k }\n"
	                  "  ask:\n"
	                  "    type: http-ingress\n"
	                  "    config: { prefix: /k/, key: path }\n"
	                  "    outputs: { request: k }\n",
	    keyed, extra);
	struct lrun *r = it_run1(tag, wf, true);
	free(wf);
	return r;
}

/* POST body to /k/<key>; asserts 200 and returns the body (malloc'd). */
static char *
post_key(struct lrun *r, const char *key, const char *body)
{
	char path[400];
	snprintf(path, sizeof path, "/k/%s", key);
	return it_body(r->port, "POST", path, body, 200);
}

static long
metric(struct lrun *r, const char *name)
{
	char *text = it_body(r->port, "GET", "/metrics", NULL, 200);
	char *series = it_fmt("\n%s{node=\"", name);
	char *at = strstr(text, series);
	long v = -1;
	/* name{node="...",instance="kw/k"} v */
	if (at != NULL && (at = strstr(at, "instance=\"kw/k\"} ")) != NULL) {
		v = strtol(at + strlen("instance=\"kw/k\"} "), NULL, 10);
	}
	free(series);
	free(text);
	return v;
}

Test(keyed, every_key_has_its_own_count)
{
	struct lrun *r = start("keyed-count", "true");
	char key[32], want[64];

	/* 2,000 keys once each, then 20 keys ten times: each count is
	 * its key's alone. */
	for (int i = 0; i < 2000; i++) {
		snprintf(key, sizeof key, "u%d", i);
		char *b = post_key(r, key, "inc");
		snprintf(want, sizeof want, "key=%s n=1\n", key);
		cr_assert_str_eq(b, want);
		free(b);
	}
	for (int round = 2; round <= 10; round++) {
		for (int i = 0; i < 20; i++) {
			snprintf(key, sizeof key, "u%d", i);
			char *b = post_key(r, key, "inc");
			snprintf(
			    want, sizeof want, "key=%s n=%d\n", key, round);
			cr_assert_str_eq(b, want);
			free(b);
		}
	}
	char *b = post_key(r, "u1999", "get");
	cr_expect_str_eq(b, "key=u1999 n=1\n");
	free(b);
	cr_expect_eq(metric(r, "ledge_key_activations_total"), 2000);
	cr_expect_eq(metric(r, "ledge_keys_active"), 2000);
}

Test(keyed, the_key_comes_from_path_header_or_query)
{
	struct lrun *r = start("keyed-where", "true");
	const char *hs[] = { "X-User: ann", NULL };
	struct httpc_resp resp;

	char *b = post_key(r, "ann", "inc");
	cr_expect_str_eq(b, "key=ann n=1\n");
	free(b);
	it_req(r->port, "POST", "/h", hs, "inc", &resp);
	cr_expect_eq(resp.status, 200);
	cr_expect_str_eq(resp.body, "key=ann n=2\n");
	httpc_resp_free(&resp);
	b = it_body(r->port, "POST", "/q?x=1&user=ann", "inc", 200);
	cr_expect_str_eq(b, "key=ann n=3\n");
	free(b);
	/* URL-decoded, in the path and in the query. */
	b = post_key(r, "b%20o", "inc");
	cr_expect_str_eq(b, "key=b o n=1\n");
	free(b);
	b = it_body(r->port, "POST", "/q?user=b+o", "get", 200);
	cr_expect_str_eq(b, "key=b o n=1\n");
	free(b);
}

Test(keyed, a_request_without_its_key_is_400_and_changes_nothing)
{
	struct lrun *r = start("keyed-nokey", "true");
	struct httpc_resp resp;
	char big[400];

	it_req(r->port, "POST", "/k/", NULL, "inc", &resp);
	cr_expect_eq(resp.status, 400);
	cr_expect(strstr(resp.body, "no key") != NULL, "%s", resp.body);
	httpc_resp_free(&resp);
	it_req(r->port, "POST", "/h", NULL, "inc", &resp);
	cr_expect_eq(resp.status, 400);
	cr_expect(strstr(resp.body, "X-User") != NULL, "%s", resp.body);
	httpc_resp_free(&resp);
	it_req(r->port, "POST", "/q?other=1", NULL, "inc", &resp);
	cr_expect_eq(resp.status, 400);
	cr_expect(strstr(resp.body, "user") != NULL, "%s", resp.body);
	httpc_resp_free(&resp);
	/* Longer than LEDGE_KEY_MAX (256). */
	memset(big, 'a', 300);
	big[300] = '\0';
	char *path = it_fmt("/k/%s", big);
	it_req(r->port, "POST", path, NULL, "inc", &resp);
	free(path);
	cr_expect_eq(resp.status, 400);
	httpc_resp_free(&resp);
	cr_expect_eq(metric(r, "ledge_key_activations_total"), 0);
}

/* Ask key `key` "get" until it answers `text` (5 s). */
static bool
poll_key(struct lrun *r, const char *key, const char *text)
{
	for (int i = 0; i < 500; i++) {
		char *b = post_key(r, key, "get");
		bool ok = strcmp(b, text) == 0;
		free(b);
		if (ok) {
			return true;
		}
		it_sleep_ms(10);
	}
	return false;
}

/* Poll a metric until it is at least `want` (10 s). */
static long
wait_metric(struct lrun *r, const char *name, long want)
{
	long v = -1;
	for (int i = 0; i < 200 && (v = metric(r, name)) < want; i++) {
		it_sleep_ms(50);
	}
	return v;
}

Test(keyed, a_key_sends_to_another_key_and_keeps_its_own_by_default)
{
	struct lrun *r = start("keyed-send", "true");

	/* a casts to b: b counts once, a not at all. */
	char *b = post_key(r, "a", "to:b");
	cr_expect_str_eq(b, "sent\n");
	free(b);
	cr_assert(poll_key(r, "b", "key=b n=1\n"));
	/* A plain cast from a keyed sender keeps its key. */
	b = post_key(r, "c", "fwd");
	cr_expect_str_eq(b, "sent\n");
	free(b);
	cr_assert(poll_key(r, "c", "key=c n=1\n"));
	/* A call to another key answers with that key's state. */
	b = post_key(r, "a", "ask:b");
	cr_expect_str_eq(b, "key=b n=1\n");
	free(b);
	b = post_key(r, "a", "get");
	cr_expect_str_eq(b, "key=a n=0\n");
	free(b);
}

Test(keyed, a_passivated_key_keeps_its_state_and_runs_init_and_stop_in_order)
{
	struct lrun *r = start("keyed-idle", "{ idle_s: 1 }");

	for (int i = 1; i <= 3; i++) {
		char *b = post_key(r, "p", "inc");
		free(b);
	}
	cr_assert(it_wait_log(r, "keyed stop key=p", 10000),
	    "the idle key was not passivated");
	cr_assert_geq(wait_metric(r, "ledge_key_passivations_total", 1), 1);
	cr_expect_eq(metric(r, "ledge_keys_active"), 0);
	/* Back: init again, from the count it had. */
	char *b = post_key(r, "p", "inc");
	cr_expect_str_eq(b, "key=p n=4\n");
	free(b);
	char *log = lrun_logtext(r);
	const char *i1 = strstr(log, "keyed init key=p n=0");
	const char *s1 = strstr(log, "keyed stop key=p");
	const char *i2 = strstr(log, "keyed init key=p n=3");
	cr_expect(i1 != NULL && s1 != NULL && i2 != NULL, "%s", log);
	cr_expect(i1 < s1 && s1 < i2, "init, stop, init out of order");
	free(log);
	cr_expect_eq(metric(r, "ledge_key_activations_total"), 2);
}

Test(keyed, max_active_passivates_the_least_recently_used)
{
	struct lrun *r = start("keyed-lru", "{ idle_s: 3600, max_active: 10 }");
	char key[32], want[64];

	for (int i = 0; i < 50; i++) {
		snprintf(key, sizeof key, "m%d", i);
		free(post_key(r, key, "inc"));
	}
	/* The timer brings it down to 10; the most recent ones stay. */
	long pass = wait_metric(r, "ledge_key_passivations_total", 40);
	cr_expect_geq(pass, 40);
	cr_expect_leq(metric(r, "ledge_keys_active"), 10);
	char *log = lrun_logtext(r);
	cr_expect_eq(it_count(log, "keyed stop key=m49\n"), 0);
	free(log);
	/* Every key still has its count. */
	for (int i = 0; i < 50; i++) {
		snprintf(key, sizeof key, "m%d", i);
		char *b = post_key(r, key, "inc");
		snprintf(want, sizeof want, "key=%s n=2\n", key);
		cr_expect_str_eq(b, want);
		free(b);
	}
}

/* --- kill -9 under keyed load ---------------------------------------- */

#define KC_CLIENTS 4
#define KC_KEYS    25 /* per client */
#define KC_PER_KEY 8

struct kc_shared {
	atomic_int port; /* 0 while the node is down */
	atomic_int acked;
	atomic_int retried;
};

struct kc_client {
	struct kc_shared *sh;
	int id;
};

/* Each client casts KC_PER_KEY increments to each of its keys, round
 * robin, each with its own Idempotency-Key, retried until answered. */
static void *
kc_main(void *arg)
{
	struct kc_client *c = arg;
	struct kc_shared *sh = c->sh;

	for (int round = 0; round < KC_PER_KEY; round++) {
		for (int k = 0; k < KC_KEYS; k++) {
			char path[64], hdr[96];
			const char *hs[] = { hdr, NULL };
			snprintf(path, sizeof path, "/c/c%d-k%d", c->id, k);
			snprintf(hdr, sizeof hdr,
			    "Idempotency-Key: c%d-k%d-r%d", c->id, k, round);
			for (int attempt = 0; attempt < 4000; attempt++) {
				struct httpc_resp resp;
				int port = atomic_load(&sh->port);
				if (port == 0) {
					it_sleep_ms(5);
					continue;
				}
				int rv = httpc_once(IT_HOST, port, 5000, "POST",
				    path, hs, "inc", 3, &resp);
				bool ok = rv == HTTPC_OK && resp.status == 202;
				if (rv == HTTPC_OK) {
					httpc_resp_free(&resp);
				}
				if (ok) {
					atomic_fetch_add(&sh->acked, 1);
					break;
				}
				atomic_fetch_add(&sh->retried, 1);
				it_sleep_ms(5);
			}
		}
	}
	return NULL;
}

Test(keyed, kill9_under_keyed_load_keeps_every_key_exact, .timeout = 240)
{
	struct lrun *r = start_cast("keyed-kill9", "{ idle_s: 1 }", "");
	struct kc_shared sh = { 0 };
	struct kc_client cl[KC_CLIENTS];
	pthread_t th[KC_CLIENTS];
	int total = KC_CLIENTS * KC_KEYS * KC_PER_KEY;

	atomic_store(&sh.port, r->port);
	for (int i = 0; i < KC_CLIENTS; i++) {
		cl[i] = (struct kc_client) { &sh, i };
		cr_assert_eq(pthread_create(&th[i], NULL, kc_main, &cl[i]), 0);
	}
	for (int kill = 1; kill <= 2; kill++) {
		int target = total * kill / 3;
		for (int w = 0; w < 4000 && atomic_load(&sh.acked) < target;
		     w++) {
			it_sleep_ms(5);
		}
		cr_assert_neq(lrun_stop(r, SIGKILL, 5000), -1);
		atomic_store(&sh.port, 0);
		cr_assert_eq(lrun_start(r, NULL), 0, "restart %d failed", kill);
		atomic_store(&sh.port, r->port);
	}
	for (int i = 0; i < KC_CLIENTS; i++) {
		pthread_join(th[i], NULL);
	}
	cr_assert_eq(atomic_load(&sh.acked), total);
	/* Every key counted each of its casts once: none lost in the
	 * queue across the kills, none applied twice. */
	for (int c = 0; c < KC_CLIENTS; c++) {
		for (int k = 0; k < KC_KEYS; k++) {
			char key[32], want[64];
			snprintf(key, sizeof key, "c%d-k%d", c, k);
			snprintf(want, sizeof want, "key=%s n=%d\n", key,
			    KC_PER_KEY);
			cr_expect(poll_key(r, key, want),
			    "key %s did not reach %d", key, KC_PER_KEY);
		}
	}
	fprintf(stderr, "keyed kill -9: %d acked, %d attempts retried\n",
	    atomic_load(&sh.acked), atomic_load(&sh.retried));
}

/* --- the command line ------------------------------------------------ */

/* `ledge ARGS... --data DATA`; its status, and its output in *out. */
static int
cli(struct lrun *r, const char *const *args, char **out)
{
	const char *argv[32];
	size_t n = 0;
	for (; args[n] != NULL && n < 28; n++) {
		argv[n] = args[n];
	}
	argv[n++] = "--data";
	argv[n++] = r->data;
	argv[n] = NULL;
	return lrun_exec(argv, out);
}

#define ARGS(...) ((const char *const[]) { __VA_ARGS__, NULL })

Test(keyed, invoke_state_get_and_state_keys_name_the_key)
{
	struct lrun *r = start("keyed-cli", "true");
	char *out = NULL;

	/* invoke --key: a cast, then a call, to one key's instance. */
	cr_assert_eq(
	    cli(r, ARGS("invoke", "kw", "k", "--key", "zed", "x"), &out), 0,
	    "%s", out);
	free(out);
	cr_assert(poll_key(r, "zed", "key=zed n=1\n"));
	cr_assert_eq(
	    cli(r, ARGS("invoke", "kw", "k", "--key", "zed", "--call", "inc"),
	        &out),
	    0, "%s", out);
	cr_expect_str_eq(out, "key=zed n=2\n");
	free(out);
	/* A keyed function without --key: a clear refusal. */
	cr_expect_eq(cli(r, ARGS("invoke", "kw", "k", "x"), &out), 1);
	cr_expect(strstr(out, "keyed") != NULL, "%s", out);
	free(out);
	cr_expect_eq(cli(r, ARGS("state", "get", "kw", "k"), &out), 1);
	cr_expect(strstr(out, "--key") != NULL, "%s", out);
	free(out);
	/* state get --key: that key's state, by its own names. */
	cr_assert_eq(
	    cli(r, ARGS("state", "get", "kw", "k", "--key", "zed", "n"), &out),
	    0, "%s", out);
	cr_expect_str_eq(out, "n = \\x02\\x00\\x00\\x00\\x00\\x00\\x00\\x00\n");
	free(out);
	/* state keys: those with state, paged, by prefix. */
	for (int i = 0; i < 5; i++) {
		char key[16];
		snprintf(key, sizeof key, "a%d", i);
		free(post_key(r, key, "inc"));
	}
	cr_assert_eq(
	    cli(r, ARGS("state", "keys", "kw", "k"), &out), 0, "%s", out);
	cr_expect_str_eq(out, "a0\na1\na2\na3\na4\nzed\n");
	free(out);
	cr_assert_eq(cli(r,
	                 ARGS("state", "keys", "kw", "k", "--prefix", "a",
	                     "--limit", "2"),
	                 &out),
	    0, "%s", out);
	cr_expect_str_eq(out, "a0\na1\nmore keys follow: --after 'a1'\n");
	free(out);
	cr_assert_eq(cli(r,
	                 ARGS("state", "keys", "kw", "k", "--prefix", "a",
	                     "--after", "a3"),
	                 &out),
	    0, "%s", out);
	cr_expect_str_eq(out, "a4\n");
	free(out);
	cr_expect_eq(
	    cli(r, ARGS("state", "keys", "kw", "k", "--limit", "0"), &out), 2);
	free(out);
}

Test(keyed, a_timer_ticks_to_the_key_it_names)
{
	static const char *const wf =
	    "workflow: kw\n"
	    "functions:\n"
	    "  k:\n"
	    "    code: @F/keyed.so\n"
	    "    keyed: true\n"
	    "resources:\n"
	    "  clock:\n"
	    "    type: timer\n"
	    "    config: { period_ms: 20, count: 5, key: dev1 }\n"
	    "    outputs: { tick: k }\n"
	    "  ask:\n"
	    "    type: http-ingress\n"
	    "    config: { prefix: /k/, key: path }\n"
	    "    outputs: { request: k }\n";
	struct lrun *r = it_run1("keyed-timer", wf, true);

	cr_assert(poll_key(r, "dev1", "key=dev1 n=5\n"));
	it_sleep_ms(100);
	char *b = post_key(r, "dev1", "get");
	cr_expect_str_eq(b, "key=dev1 n=5\n", "exactly count ticks");
	free(b);
}

Test(keyed, an_idempotency_key_is_per_key)
{
	struct lrun *r = start("keyed-idem", "true");
	const char *hs[] = { "Idempotency-Key: same-one", NULL };
	struct httpc_resp resp;
	char b[8];

	/* The same Idempotency-Key to two keys: two requests. */
	it_req(r->port, "POST", "/k/a", hs, "inc", &resp);
	cr_expect_str_eq(resp.body, "key=a n=1\n");
	httpc_resp_free(&resp);
	it_req(r->port, "POST", "/k/b", hs, "inc", &resp);
	cr_expect_str_eq(resp.body, "key=b n=1\n");
	cr_expect(!httpc_resp_header(&resp, "Idempotent-Replayed", b, sizeof b),
	    "b was answered with a's answer");
	httpc_resp_free(&resp);
	/* A retry to the same key: its stored answer, not a second count. */
	it_req(r->port, "POST", "/k/a", hs, "inc", &resp);
	cr_expect_str_eq(resp.body, "key=a n=1\n");
	cr_expect(httpc_resp_header(&resp, "Idempotent-Replayed", b, sizeof b));
	httpc_resp_free(&resp);
	char *body = post_key(r, "a", "get");
	cr_expect_str_eq(body, "key=a n=1\n");
	free(body);
}

Test(keyed, a_busy_keyed_function_answers_503_and_counts_what_it_took)
{
	struct lrun *r = start_cast("keyed-busy", "true", "    mailbox: 3\n");
	int accepted = 0, busy = 0;

	/* Casts are answered once queued, far faster than a key that
	 * sleeps 100 ms per event takes them: the function's mailbox (3,
	 * over all its keys) fills, and the rest get 503. */
	for (int i = 0; i < 20; i++) {
		struct httpc_resp resp;
		char path[32];
		snprintf(path, sizeof path, "/c/s%d", i % 2);
		it_req(r->port, "POST", path, NULL, "sleep:100", &resp);
		accepted += resp.status == 202;
		busy += resp.status == 503;
		httpc_resp_free(&resp);
	}
	cr_expect_eq(accepted + busy, 20);
	cr_expect_gt(busy, 0, "nothing was refused");
	cr_expect_geq(accepted, 3);
	/* Every accepted one counts, once (asking may be refused too
	 * while the queue is full). */
	long n[2] = { -1, -1 };
	for (int i = 0; i < 500 && n[0] + n[1] != accepted; i++) {
		for (int k = 0; k < 2; k++) {
			struct httpc_resp resp;
			char path[16];
			snprintf(path, sizeof path, "/k/s%d", k);
			it_req(r->port, "POST", path, NULL, "get", &resp);
			if (resp.status == 200) {
				n[k] = strtol(
				    strstr(resp.body, "n=") + 2, NULL, 10);
			}
			httpc_resp_free(&resp);
		}
		it_sleep_ms(20);
	}
	cr_expect_eq(n[0] + n[1], accepted, "counted %ld + %ld, accepted %d",
	    n[0], n[1], accepted);
}

Test(keyed, workflow_show_counts_the_keys)
{
	struct lrun *r = start("keyed-show", "true");
	char *out = NULL;
	bool seen = false;

	free(post_key(r, "x1", "inc"));
	free(post_key(r, "x2", "inc"));
	free(post_key(r, "x3", "get")); /* active, no state */
	/* The orchestrator hears it with the next heartbeats. */
	for (int i = 0; i < 100 && !seen; i++) {
		free(out);
		out = NULL;
		cr_assert_eq(
		    cli(r, ARGS("workflow", "show", "kw"), &out), 0, "%s", out);
		seen = strstr(out,
		           "keyed: 3 keys active, 2 with state; 3 "
		           "activations, 0 passivations") != NULL;
		if (!seen) {
			it_sleep_ms(100);
		}
	}
	cr_expect(seen, "%s", out);
	free(out);
	cr_assert_eq(cli(r, ARGS("workflow", "show", "kw", "--json"), &out), 0,
	    "%s", out);
	cr_expect(strstr(out, "\"keys_active\":3") != NULL, "%s", out);
	cr_expect(strstr(out, "\"keys_stored\":2") != NULL, "%s", out);
	free(out);
}

Test(keyed, a_clean_stop_runs_every_active_keys_stop_and_a_restart_keeps_counts)
{
	struct lrun *r = start("keyed-stop", "true");
	char key[16], want[64], *out = NULL;

	for (int i = 0; i < 50; i++) {
		snprintf(key, sizeof key, "s%d", i);
		free(post_key(r, key, "inc"));
	}
	int status = lrun_stop(r, SIGINT, 20000);
	cr_assert(status != -1 && WIFEXITED(status) && WEXITSTATUS(status) == 0,
	    "status %#x", status);
	char *log = lrun_logtext(r);
	cr_expect_eq(it_count(log, "keyed stop key=s"), 50, "%s", log);
	free(log);
	it_start(r, true);
	for (int i = 0; i < 50; i += 7) {
		snprintf(key, sizeof key, "s%d", i);
		char *b = post_key(r, key, "inc");
		snprintf(want, sizeof want, "key=%s n=2\n", key);
		cr_expect_str_eq(b, want);
		free(b);
	}
	/* Undeployed with keys active, deployed again: the same counts. */
	cr_assert_eq(
	    cli(r, ARGS("workflow", "stop", "kw"), &out), 0, "%s", out);
	free(out);
	char *wf = it_fmt("%s/wf.yaml", r->dir);
	cr_assert_eq(cli(r, ARGS("workflow", "start", wf), &out), 0, "%s", out);
	free(out);
	free(wf);
	cr_assert(poll_key(r, "s0", "key=s0 n=2\n"));
	char *b = post_key(r, "s1", "inc");
	cr_expect_str_eq(b, "key=s1 n=2\n");
	free(b);
}
