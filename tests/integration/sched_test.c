/*
 * sched_test.c - the actor rules and the event path, seen from outside:
 * one event at a time per instance, calls that cannot deadlock the node,
 * all-or-nothing handlers along a chain of casts, delayed casts that
 * survive a crash, and exactly-once along a chain of casts across kill -9.
 */
#include <criterion/criterion.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ledge_run.h"

static void
sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };
	nanosleep(&ts, NULL);
}

/* GET/POST path; returns the body (malloc'd) of a 2xx, else NULL. */
static char *
http_body(struct lrun *r, const char *method, const char *path,
    const char *body, int *status)
{
	struct httpc_resp resp;
	char *out = NULL;
	if (lrun_http(r, method, path, body, &resp) != 0) {
		if (status) {
			*status = -1;
		}
		return NULL;
	}
	if (status) {
		*status = resp.status;
	}
	if (resp.status >= 200 && resp.status < 300) {
		out = strdup(resp.body);
	}
	httpc_resp_free(&resp);
	return out;
}

/* Poll a call route until its body equals want (or time runs out). */
static bool
wait_body(struct lrun *r, const char *path, const char *want, int ms)
{
	for (int i = 0; i < ms / 20; i++) {
		char *b = http_body(r, "GET", path, NULL, NULL);
		bool ok = b != NULL && strcmp(b, want) == 0;
		free(b);
		if (ok) {
			return true;
		}
		sleep_ms(20);
	}
	return false;
}

/* ------------------------------------------------------------------ */

struct hammer {
	int port;
	atomic_int concurrent, ok, other;
};

static void *
hammer_main(void *arg)
{
	struct hammer *h = arg;
	struct httpc *c = httpc_connect("127.0.0.1", h->port, 10000);
	for (int i = 0; c != NULL && i < 100; i++) {
		struct httpc_resp resp;
		if (httpc_request(c, "POST", "/x", NULL, NULL, 0, &resp) != 0) {
			atomic_fetch_add(&h->other, 1);
			continue;
		}
		if (strstr(resp.body, "CONCURRENT")) {
			atomic_fetch_add(&h->concurrent, 1);
		} else if (resp.status == 200) {
			atomic_fetch_add(&h->ok, 1);
		} else {
			atomic_fetch_add(&h->other, 1);
		}
		httpc_resp_free(&resp);
	}
	httpc_close(c);
	return NULL;
}

static void
one_at_a_time(const char *const *extra)
{
	struct lrun *r = lrun_new("sched-excl");
	struct hammer h = { 0 };
	pthread_t th[8];

	lrun_workflow(r, "wf.yaml",
	    "workflow: excl\n"
	    "functions:\n"
	    "  x: { code: @F/exclusive.so }\n"
	    "resources:\n"
	    "  http:\n"
	    "    type: http-ingress\n"
	    "    config: { path: /x }\n"
	    "    outputs: { request: x }\n");
	cr_assert_eq(lrun_start(r, extra), 0);
	h.port = r->port;
	for (int i = 0; i < 8; i++) {
		pthread_create(&th[i], NULL, hammer_main, &h);
	}
	for (int i = 0; i < 8; i++) {
		pthread_join(th[i], NULL);
	}
	cr_expect_eq(atomic_load(&h.concurrent), 0,
	    "two events of one instance ran at once (%d times)",
	    atomic_load(&h.concurrent));
	cr_expect_eq(atomic_load(&h.ok), 800, "ok %d, other %d",
	    atomic_load(&h.ok), atomic_load(&h.other));
	char *b = http_body(r, "POST", "/x", NULL, NULL);
	cr_expect_str_eq(b, "ok 801\n");
	free(b);
	lrun_free(r);
}

Test(sched, one_event_at_a_time_per_instance, .timeout = 120)
{
	one_at_a_time(NULL);
}

Test(sched, one_event_at_a_time_without_inline_runs, .timeout = 120)
{
	const char *extra[] = { "--no-inline", "--workers", "4", NULL };
	one_at_a_time(extra);
}

/* ------------------------------------------------------------------ */

Test(sched, call_cycle_fails_fast_instead_of_deadlocking, .timeout = 60)
{
	struct lrun *r = lrun_new("sched-cycle");
	struct timespec t0, t1;
	char *b;

	lrun_workflow(r, "wf.yaml",
	    "workflow: cycle\n"
	    "functions:\n"
	    "  a: { code: @F/caller.so, outputs: { peer: b } }\n"
	    "  b:\n"
	    "    code: @F/caller.so\n"
	    "    config: { call_back: true }\n"
	    "    outputs: { peer: a }\n"
	    "resources:\n"
	    "  http:\n"
	    "    type: http-ingress\n"
	    "    config: { path: /a }\n"
	    "    outputs: { request: a }\n");
	cr_assert_eq(lrun_start(r, NULL), 0);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	b = http_body(r, "POST", "/a", "hi", NULL);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	cr_assert_not_null(b);
	/* a calls b; b calls back a, which is waiting on b: refused. */
	cr_expect(strstr(b, "rv=success reply=inner rv=call cycle") != NULL,
	    "got: %s", b);
	double secs = (double)(t1.tv_sec - t0.tv_sec) +
	    (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	cr_expect_lt(secs, 1.0, "the cycle took %.2f s (a timeout?)", secs);
	free(b);
	lrun_free(r);
}

Test(sched, blocked_callers_do_not_starve_the_pool, .timeout = 60)
{
	struct lrun *r = lrun_new("sched-pool");
	const char *one_worker[] = { "--workers", "1", NULL };
	char *b;

	/* One worker: a blocks it waiting on s, and s still runs. */
	lrun_workflow(r, "wf.yaml",
	    "workflow: pool\n"
	    "functions:\n"
	    "  a: { code: @F/caller.so, outputs: { peer: s } }\n"
	    "  s: { code: @F/slow.so, config: { ms: 100 } }\n"
	    "resources:\n"
	    "  http:\n"
	    "    type: http-ingress\n"
	    "    config: { path: /a }\n"
	    "    outputs: { request: a }\n");
	cr_assert_eq(lrun_start(r, one_worker), 0);
	b = http_body(r, "POST", "/a", "x", NULL);
	cr_assert_not_null(b);
	cr_expect_str_eq(b, "rv=success reply=slept 100\n\n");
	free(b);
	lrun_free(r);
}

/* ------------------------------------------------------------------ */

static const char *const chain_wf =
    "workflow: chain\n"
    "functions:\n"
    "  r1: { code: @F/relay.so, outputs: { out: r2 } }\n"
    "  r2: { code: @F/relay.so }\n"
    "resources:\n"
    "  in:\n"
    "    type: http-ingress\n"
    "    config: { path: /in, mode: cast, methods: [POST] }\n"
    "    outputs: { request: r1 }\n"
    "  r1-read:\n"
    "    type: http-ingress\n"
    "    config: { path: /r1, methods: [GET] }\n"
    "    outputs: { request: r1 }\n"
    "  r2-read:\n"
    "    type: http-ingress\n"
    "    config: { path: /r2, methods: [GET] }\n"
    "    outputs: { request: r2 }\n";

Test(sched, failed_handlers_leave_no_trace_along_a_chain, .timeout = 60)
{
	struct lrun *r = lrun_new("sched-chain");
	int status;

	lrun_workflow(r, "wf.yaml", chain_wf);
	cr_assert_eq(lrun_start(r, NULL), 0);
	for (int i = 0; i < 30; i++) {
		/* Every third one fails in r1 after writing and casting. */
		free(http_body(
		    r, "POST", "/in", i % 3 == 0 ? "fail" : "ok", &status));
		cr_assert_eq(status, 202);
	}
	cr_expect(wait_body(r, "/r2", "n=20\n", 5000),
	    "r2 saw events of failed handlers, or lost some");
	cr_expect(wait_body(r, "/r1", "n=20\n", 1000));
	lrun_free(r);
}

Test(sched, delayed_cast_survives_kill9, .timeout = 60)
{
	struct lrun *r = lrun_new("sched-delay");
	int status;

	lrun_workflow(r, "wf.yaml",
	    "workflow: later\n"
	    "functions:\n"
	    "  d: { code: @F/delay.so, outputs: { out: e } }\n"
	    "  e: { code: @F/relay.so }\n"
	    "resources:\n"
	    "  in:\n"
	    "    type: http-ingress\n"
	    "    config: { path: /in, methods: [POST] }\n"
	    "    outputs: { request: d }\n"
	    "  read:\n"
	    "    type: http-ingress\n"
	    "    config: { path: /e, methods: [GET] }\n"
	    "    outputs: { request: e }\n");
	cr_assert_eq(lrun_start(r, NULL), 0);
	struct timespec t0, now;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	char *b = http_body(r, "POST", "/in?ms=1500", "later", &status);
	cr_assert_str_eq(b, "queued\n");
	free(b);
	b = http_body(r, "POST", "/in?ms=100", "soon", &status);
	free(b);
	cr_expect(wait_body(r, "/e", "n=1\n", 2000), "the short delay");
	/* Not due yet: kill the node, start it again, it still arrives. */
	cr_assert_neq(lrun_stop(r, SIGKILL, 5000), -1);
	cr_assert_eq(lrun_start(r, NULL), 0);
	cr_expect(wait_body(r, "/e", "n=2\n", 4000),
	    "a delayed cast was lost in the crash");
	/* Well past every due time: still two, none replayed again. */
	clock_gettime(CLOCK_MONOTONIC, &now);
	long elapsed = (now.tv_sec - t0.tv_sec) * 1000 +
	    (now.tv_nsec - t0.tv_nsec) / 1000000;
	if (elapsed < 2500) {
		sleep_ms((int)(2500 - elapsed));
	}
	cr_expect(wait_body(r, "/e", "n=2\n", 100), "delivered twice");
	lrun_free(r);
}

/* ------------------------------------------------------------------ */

struct caster {
	atomic_int port;
	atomic_int accepted;
	int per;
	int id;
};

static void *
caster_main(void *arg)
{
	struct caster *c = arg;
	for (int i = 0; i < c->per; i++) {
		char hdr[64];
		const char *h[] = { hdr, NULL };
		snprintf(hdr, sizeof hdr, "Idempotency-Key: k%d-%d", c->id, i);
		for (int a = 0; a < 3000; a++) {
			struct httpc_resp resp;
			int port = atomic_load(&c->port);
			if (port == 0) {
				sleep_ms(5);
				continue;
			}
			if (httpc_once("127.0.0.1", port, 5000, "POST", "/in",
			        h, "ok", 2, &resp) == 0) {
				int st = resp.status;
				httpc_resp_free(&resp);
				if (st == 202) {
					atomic_fetch_add(&c->accepted, 1);
					break;
				}
			}
			sleep_ms(5);
		}
	}
	return NULL;
}

Test(sched, cast_chain_exactly_once_across_kill9, .timeout = 180)
{
	struct lrun *r = lrun_new("sched-chain-crash");
	struct caster cs[3];
	pthread_t th[3];
	int total = 0;

	lrun_workflow(r, "wf.yaml", chain_wf);
	cr_assert_eq(lrun_start(r, NULL), 0);
	for (int i = 0; i < 3; i++) {
		cs[i] = (struct caster) { .per = 200, .id = i };
		atomic_init(&cs[i].port, r->port);
		atomic_init(&cs[i].accepted, 0);
		pthread_create(&th[i], NULL, caster_main, &cs[i]);
	}
	for (int k = 0; k < 2; k++) {
		for (int w = 0; w < 2000; w++) {
			int acc = 0;
			for (int i = 0; i < 3; i++) {
				acc += atomic_load(&cs[i].accepted);
			}
			if (acc >= 200 * (k + 1)) {
				break;
			}
			sleep_ms(5);
		}
		for (int i = 0; i < 3; i++) {
			atomic_store(&cs[i].port, 0);
		}
		cr_assert_neq(lrun_stop(r, SIGKILL, 5000), -1);
		cr_assert_eq(lrun_start(r, NULL), 0);
		for (int i = 0; i < 3; i++) {
			atomic_store(&cs[i].port, r->port);
		}
	}
	for (int i = 0; i < 3; i++) {
		pthread_join(th[i], NULL);
		total += atomic_load(&cs[i].accepted);
	}
	cr_assert_eq(total, 600);
	/* Each accepted cast reached the end of the chain exactly once. */
	cr_expect(
	    wait_body(r, "/r2", "n=600\n", 10000), "r2 did not end at 600");
	cr_expect(
	    wait_body(r, "/r1", "n=600\n", 1000), "r1 did not end at 600");
	lrun_free(r);
}

/* A fast producer feeding a slow consumer with a tiny mailbox: the
 * producer is held back (parked), nothing is dropped. */
Test(sched, backpressure_loses_nothing, .timeout = 60)
{
	struct lrun *r = lrun_new("sched-bp");
	int status, accepted = 0;

	lrun_workflow(r, "wf.yaml",
	    "workflow: bp\n"
	    "functions:\n"
	    "  fast: { code: @F/relay.so, outputs: { out: slow } }\n"
	    "  slow:\n"
	    "    code: @F/relay.so\n"
	    "    config: { sleep_ms: 2 }\n"
	    "    mailbox: 4\n"
	    "resources:\n"
	    "  in:\n"
	    "    type: http-ingress\n"
	    "    config: { path: /in, mode: cast, methods: [POST] }\n"
	    "    outputs: { request: fast }\n"
	    "  read:\n"
	    "    type: http-ingress\n"
	    "    config: { path: /slow, methods: [GET] }\n"
	    "    outputs: { request: slow }\n");
	cr_assert_eq(lrun_start(r, NULL), 0);
	for (int i = 0; i < 200; i++) {
		free(http_body(r, "POST", "/in", "x", &status));
		accepted += status == 202;
	}
	cr_assert_eq(accepted, 200);
	cr_expect(wait_body(r, "/slow", "n=200\n", 10000),
	    "events lost between a fast and a slow function");
	char *log = lrun_logtext(r);
	cr_expect(
	    strstr(log, "mailbox full") == NULL, "a cast failed: %s", log);
	free(log);
	lrun_free(r);
}
