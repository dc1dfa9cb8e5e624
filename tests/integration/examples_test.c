/*
 * examples_test.c - the shipped examples in functions/ work as their
 * READMEs say, run from the build tree (build/functions/NAME/) the way a
 * user runs them.  Examples that write files next to their workflow are
 * copied into a scratch folder first, so tests never write into the build
 * tree.
 */
#include <criterion/criterion.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "itest.h"

TestSuite(examples, .fini = it_fini, .timeout = 90);

/* build/functions/NAME/FILE (malloc'd). */
static char *
example(const char *name, const char *file)
{
	return it_fmt("%s/functions/%s/%s", test_path("LEDGE_BUILD", "build"),
	    name, file);
}

/* Copy build/functions/NAME/FILE into the scratch folder of `r`. */
static char *
copy_example(struct lrun *r, const char *name, const char *file)
{
	char *from = example(name, file);
	char *to = it_fmt("%s/%s", r->dir, file);
	cr_assert_eq(
	    copy_file(from, to), 0, "copy %s: %s", from, strerror(errno));
	free(from);
	return to;
}

Test(examples, hello_and_counter_served_together_and_counter_persists)
{
	struct lrun *r = it_lrun("ex-hello");
	char *hello = example("hello", "workflow.yaml");
	char *counter = example("counter", "workflow.yaml");
	struct httpc_resp resp;
	int status;

	it_workflow_file(r, hello);
	it_workflow_file(r, counter);
	free(hello);
	free(counter);
	it_start(r, true);

	it_expect(r->port, "GET", "/hello", NULL, 200, "hello\n");
	/* hello takes GET only. */
	it_req(r->port, "POST", "/hello", NULL, "x", &resp);
	cr_assert_eq(resp.status, 405);
	httpc_resp_free(&resp);

	it_expect(r->port, "GET", "/counter", NULL, 200, "0\n");
	it_expect(r->port, "POST", "/counter", NULL, 200, "1\n");
	it_expect(r->port, "POST", "/counter", NULL, 200, "2\n");
	it_expect(r->port, "GET", "/counter", NULL, 200, "2\n");

	/* A clean stop (Ctrl-C) and a start on the same data folder. */
	status = lrun_stop(r, SIGINT, 10000);
	cr_assert(status != -1 && WIFEXITED(status) && WEXITSTATUS(status) == 0,
	    "status %#x", status);
	it_start(r, true);
	it_expect(r->port, "GET", "/counter", NULL, 200, "2\n");
	it_expect(r->port, "POST", "/counter", NULL, 200, "3\n");
	it_expect(r->port, "GET", "/hello", NULL, 200, "hello\n");
}

Test(examples, counter_idempotency_key_as_in_the_readme)
{
	struct lrun *r = it_lrun("ex-counter-idem");
	char *counter = example("counter", "workflow.yaml");
	const char *hs[] = { "Idempotency-Key: order-17", NULL };
	struct httpc_resp resp;

	it_workflow_file(r, counter);
	free(counter);
	it_start(r, true);
	for (int i = 0; i < 2; i++) {
		it_req(r->port, "POST", "/counter", hs, NULL, &resp);
		cr_assert_eq(resp.status, 200);
		cr_assert_str_eq(resp.body, "1\n", "try %d", i);
		httpc_resp_free(&resp);
	}
	it_expect(r->port, "GET", "/counter", NULL, 200, "1\n");
}

Test(examples, pipeline_writes_readings_and_errors)
{
	struct lrun *r = it_lrun("ex-pipeline");
	static const char *const files[] = { "sensor.so", "filter.so",
		"average.so" };
	char *wf = copy_example(r, "pipeline", "workflow.yaml");
	char *readings = it_fmt("%s/readings.log", r->dir);
	char *errors = it_fmt("%s/errors.log", r->dir);
	char *text;

	for (size_t i = 0; i < 3; i++) {
		free(copy_example(r, "pipeline", files[i]));
	}
	it_workflow_file(r, wf);
	free(wf);
	it_start(r, false);

	/* Ten readings a second, every 7th out of range: after ~1.5 s
	 * both logs have lines. */
	text = it_wait_lines(readings, 5, 5000);
	cr_assert_geq(it_lines(text), 5, "readings.log:\n%s", text);
	cr_assert_not_null(strstr(text, "pipeline/average "), "%s", text);
	cr_assert_not_null(strstr(text, " avg="), "%s", text);
	cr_assert_not_null(strstr(text, " n="), "%s", text);
	cr_assert_null(strstr(text, "outside"), "%s", text);
	cr_assert_eq(it_count(text, " avg="), it_lines(text), "%s", text);
	free(text);
	text = it_wait_lines(errors, 1, 5000);
	cr_assert_geq(it_lines(text), 1, "errors.log:\n%s", text);
	cr_assert_not_null(strstr(text, "pipeline/filter "), "%s", text);
	cr_assert_not_null(strstr(text, "outside [0, 100]"), "%s", text);
	cr_assert_null(strstr(text, "avg="), "%s", text);
	free(text);
	/* Nothing was written into the build tree. */
	text = example("pipeline", "readings.log");
	cr_assert(!it_exists(text), "%s written in the build tree", text);
	free(text);
	free(readings);
	free(errors);
}

/* The numbers in "ping: S shots, H hits received; the other side received
 * P of my shots\n". */
struct score {
	uint64_t shots, hits, peer_hits;
};

static struct score
get_score(struct lrun *r)
{
	struct score s = { 0, 0, 0 };
	struct httpc_resp resp;
	int64_t t0 = it_now_ms();
	int rv = httpc_once(
	    IT_HOST, r->port, 3000, "GET", "/ping-pong", NULL, NULL, 0, &resp);

	cr_assert_eq(rv, HTTPC_OK, "GET /ping-pong: %s (the node is stuck?)",
	    httpc_strerror(rv));
	cr_assert_eq(resp.status, 200, "%d %s", resp.status, resp.body);
	cr_assert_lt(it_now_ms() - t0, 2000, "the score took %lld ms",
	    (long long)(it_now_ms() - t0));
	cr_assert_eq(sscanf(resp.body,
	                 "ping: %" SCNu64 " shots, %" SCNu64
	                 " hits received; the other side received %" SCNu64
	                 " of my shots",
	                 &s.shots, &s.hits, &s.peer_hits),
	    3, "unexpected score: %s", resp.body);
	httpc_resp_free(&resp);
	return s;
}

Test(examples, ping_pong_keeps_playing_without_deadlock)
{
	struct lrun *r = it_lrun("ex-ping-pong");
	char *wf = example("ping-pong", "workflow.yaml");
	struct score first, last;
	int64_t end;

	it_workflow_file(r, wf);
	free(wf);
	it_start(r, true);
	first = get_score(r);
	/* Ask for the score often for about 2 s: every answer must come
	 * quickly, while both paddles keep shooting. */
	end = it_now_ms() + 2000;
	do {
		it_sleep_ms(100);
		last = get_score(r);
	} while (it_now_ms() < end);
	cr_assert(proc_running(r->p));
	/* ping shoots every 200 ms, pong every 300 ms; a few shots may be
	 * missed when both shoot at once. */
	cr_assert_geq(last.shots, first.shots + 4,
	    "ping shots %" PRIu64 " -> %" PRIu64, first.shots, last.shots);
	cr_assert_geq(last.hits, first.hits + 3,
	    "hits from pong %" PRIu64 " -> %" PRIu64, first.hits, last.hits);
	/* pong counted every shot of ping that was answered. */
	cr_assert_eq(last.peer_hits, last.shots,
	    "pong got %" PRIu64 " of %" PRIu64 " shots", last.peer_hits,
	    last.shots);
}

Test(examples, sessions_keeps_a_cart_per_user_as_in_its_readme)
{
	struct lrun *r = it_lrun("ex-sessions");
	char *wf = example("sessions", "workflow.yaml");
	struct httpc_resp resp;

	it_workflow_file(r, wf);
	free(wf);
	it_start(r, true);
	it_expect(r->port, "POST", "/cart/ann", "apple 3", 200, "3\n");
	it_expect(r->port, "POST", "/cart/ann", "pear", 200, "1\n");
	it_expect(r->port, "POST", "/cart/ann", "apple 2", 200, "5\n");
	it_expect(r->port, "GET", "/cart/ann", NULL, 200, "pear 1\napple 5\n");
	/* bob's cart is his own. */
	it_expect(r->port, "GET", "/cart/bob", NULL, 200, "");
	it_expect(r->port, "POST", "/visits/ann", NULL, 200, "1\n");
	it_expect(r->port, "POST", "/visits/bob", NULL, 200, "1\n");
	it_expect(r->port, "POST", "/visits/ann", NULL, 200, "2\n");
	/* No user: 400. */
	it_req(r->port, "GET", "/cart/", NULL, NULL, &resp);
	cr_expect_eq(resp.status, 400);
	httpc_resp_free(&resp);
	/* Across a clean restart. */
	cr_assert_neq(lrun_stop(r, SIGINT, 10000), -1);
	it_start(r, true);
	it_expect(r->port, "GET", "/cart/ann", NULL, 200, "pear 1\napple 5\n");
	it_expect(r->port, "DELETE", "/cart/ann", NULL, 200, "emptied\n");
	it_expect(r->port, "GET", "/cart/ann", NULL, 200, "");
	it_expect(r->port, "GET", "/visits/ann", NULL, 200, "2\n");
}
