/*
 * http_ingress_test.c - HTTP requests into `ledge run`: routing, limits,
 * timeouts, failures, casts, Idempotency-Key, and several workflows on
 * one listener.  Every test starts the real binary and talks to it over
 * loopback with the test client.
 */
#include <criterion/criterion.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "itest.h"

TestSuite(http_ingress, .fini = it_fini, .timeout = 60);

/* The echo fixture behind a prefix route. */
static const char echo_wf[] = "workflow: web\n"
                              "functions:\n"
                              "  echo:\n"
                              "    code: @F/echo.so\n"
                              "    config: { ctype: application/x-echo }\n"
                              "resources:\n"
                              "  api:\n"
                              "    type: http-ingress\n"
                              "    config: { prefix: /e/ }\n"
                              "    outputs: { request: echo }\n";

Test(http_ingress, call_sees_request_and_sets_response)
{
	struct lrun *r = it_run1("ingress-echo", echo_wf, true);
	const char *hs[] = { "X-Test: hi there", NULL };
	struct httpc_resp resp;
	char buf[128];

	it_req(r->port, "POST", "/e/a%20b?q=x%26y%20z&other=1", hs,
	    "hello body", &resp);
	cr_assert_eq(resp.status, 200, "body: %s", resp.body);
	cr_assert_str_eq(resp.body,
	    "POST /e/a b\n"
	    "query q=x&y z\n"
	    "header x-test=hi there\n"
	    "body hello body\n");
	cr_assert_not_null(httpc_resp_header(&resp, "X-Echo", buf, sizeof buf),
	    "no X-Echo header in:\n%s", resp.head);
	cr_assert_str_eq(buf, "yes");
	cr_assert_not_null(
	    httpc_resp_header(&resp, "Content-Type", buf, sizeof buf));
	cr_assert_str_eq(buf, "application/x-echo");
	httpc_resp_free(&resp);

	/* No query, no header, no body. */
	it_expect(r->port, "GET", "/e/plain", NULL, 200,
	    "GET /e/plain\nquery q=-\nheader x-test=-\nbody \n");
}

Test(http_ingress, unknown_path_is_404)
{
	struct lrun *r = it_run1("ingress-404", echo_wf, true);
	struct httpc_resp resp;

	it_req(r->port, "GET", "/nothing/here", NULL, NULL, &resp);
	cr_assert_eq(resp.status, 404);
	cr_assert_null(strstr(resp.body, "echo"));
	httpc_resp_free(&resp);
	/* The prefix is /e/: "/e" and "/ex" are other paths. */
	free(it_body(r->port, "GET", "/e", NULL, 404));
	free(it_body(r->port, "GET", "/ex", NULL, 404));
	/* The route still works. */
	free(it_body(r->port, "GET", "/e/", NULL, 200));
}

Test(http_ingress, method_not_in_methods_is_405_with_allow)
{
	struct lrun *r = it_run1("ingress-405",
	    "workflow: web\n"
	    "functions:\n"
	    "  echo: { code: @F/echo.so }\n"
	    "resources:\n"
	    "  api:\n"
	    "    type: http-ingress\n"
	    "    config: { path: /only, methods: [GET, PUT] }\n"
	    "    outputs: { request: echo }\n",
	    true);
	struct httpc_resp resp;
	char allow[128];

	for (int i = 0; i < 2; i++) {
		const char *m = i ? "DELETE" : "POST";
		it_req(r->port, m, "/only", NULL, i ? NULL : "x", &resp);
		cr_assert_eq(resp.status, 405, "%s: %d", m, resp.status);
		cr_assert_not_null(
		    httpc_resp_header(&resp, "Allow", allow, sizeof allow),
		    "%s: no Allow header in:\n%s", m, resp.head);
		cr_assert_not_null(strstr(allow, "GET"), "Allow: %s", allow);
		cr_assert_not_null(strstr(allow, "PUT"), "Allow: %s", allow);
		cr_assert_null(strstr(allow, "POST"), "Allow: %s", allow);
		cr_assert_null(strstr(allow, "DELETE"), "Allow: %s", allow);
		httpc_resp_free(&resp);
	}
	free(it_body(r->port, "GET", "/only", NULL, 200));
	free(it_body(r->port, "PUT", "/only", "x", 200));
	/* A path that no route has is 404, not 405. */
	free(it_body(r->port, "POST", "/other", "x", 404));
}

/* Which of the three echo instances answered: its content type. */
static void
expect_served_by(int port, const char *path, const char *ctype)
{
	struct httpc_resp resp;
	char buf[64];
	it_req(port, "GET", path, NULL, NULL, &resp);
	cr_assert_eq(resp.status, 200, "GET %s: %d", path, resp.status);
	cr_assert_not_null(
	    httpc_resp_header(&resp, "Content-Type", buf, sizeof buf));
	cr_assert_str_eq(buf, ctype, "GET %s served by the wrong route", path);
	httpc_resp_free(&resp);
}

Test(http_ingress, longest_prefix_wins_and_exact_beats_prefix)
{
	/* Each order of declaration, so neither the first nor the last
	 * route declared wins by accident. */
	static const char *const orders[] = {
		"  short:\n"
		"    type: http-ingress\n"
		"    config: { prefix: /api/ }\n"
		"    outputs: { request: a }\n"
		"  long:\n"
		"    type: http-ingress\n"
		"    config: { prefix: /api/v2/ }\n"
		"    outputs: { request: b }\n"
		"  exact:\n"
		"    type: http-ingress\n"
		"    config: { path: /api/v2/status }\n"
		"    outputs: { request: c }\n",
		"  exact:\n"
		"    type: http-ingress\n"
		"    config: { path: /api/v2/status }\n"
		"    outputs: { request: c }\n"
		"  long:\n"
		"    type: http-ingress\n"
		"    config: { prefix: /api/v2/ }\n"
		"    outputs: { request: b }\n"
		"  short:\n"
		"    type: http-ingress\n"
		"    config: { prefix: /api/ }\n"
		"    outputs: { request: a }\n",
	};
	for (size_t i = 0; i < 2; i++) {
		char *wf = it_fmt("workflow: routes\n"
		                  "functions:\n"
		                  "  a:\n"
		                  "    code: @F/echo.so\n"
		                  "    config: { ctype: text/a }\n"
		                  "  b:\n"
		                  "    code: @F/echo.so\n"
		                  "    config: { ctype: text/b }\n"
		                  "  c:\n"
		                  "    code: @F/echo.so\n"
		                  "    config: { ctype: text/c }\n"
		                  "resources:\n%s",
		    orders[i]);
		struct lrun *r = it_run1("ingress-prefix", wf, true);
		free(wf);
		expect_served_by(r->port, "/api/x", "text/a");
		expect_served_by(r->port, "/api/", "text/a");
		expect_served_by(r->port, "/api/v2x", "text/a");
		expect_served_by(r->port, "/api/v2/x", "text/b");
		expect_served_by(r->port, "/api/v2/", "text/b");
		expect_served_by(r->port, "/api/v2/status", "text/c");
		expect_served_by(r->port, "/api/v2/status/more", "text/b");
		expect_served_by(r->port, "/api/v2/statusx", "text/b");
		free(it_body(r->port, "GET", "/apix", NULL, 404));
		lrun_stop(r, SIGTERM, 10000);
	}
}

Test(http_ingress, body_over_max_body_is_413)
{
	struct lrun *r = it_run1("ingress-413",
	    "workflow: web\n"
	    "functions:\n"
	    "  echo: { code: @F/echo.so }\n"
	    "resources:\n"
	    "  small:\n"
	    "    type: http-ingress\n"
	    "    config: { path: /small, max_body: 64 }\n"
	    "    outputs: { request: echo }\n"
	    "  large:\n"
	    "    type: http-ingress\n"
	    "    config: { path: /large, max_body: 1000 }\n"
	    "    outputs: { request: echo }\n",
	    true);
	char body[200];
	struct httpc_resp resp;

	memset(body, 'b', sizeof body);
	body[64] = '\0';
	free(it_body(r->port, "POST", "/small", body, 200));
	body[64] = 'b';
	body[65] = '\0';
	it_req(r->port, "POST", "/small", NULL, body, &resp);
	cr_assert_eq(
	    resp.status, 413, "65 bytes to max_body 64: %d", resp.status);
	httpc_resp_free(&resp);
	/* The other route's larger limit does not apply to /small. */
	body[150] = '\0';
	free(it_body(r->port, "POST", "/small", body, 413));
	free(it_body(r->port, "POST", "/large", body, 200));

	/* A chunked body is held to the same limit. */
	{
		const char *te[] = { "Transfer-Encoding: chunked", NULL };
		char chunked[400];
		int n = snprintf(chunked, sizeof chunked,
		    "%x\r\n%s\r\n0\r\n\r\n", (unsigned)strlen(body), body);
		int rv = httpc_once(IT_HOST, r->port, IT_HTTP_MS, "POST",
		    "/small", te, chunked, (size_t)n, &resp);
		cr_assert_eq(rv, HTTPC_OK, "%s", httpc_strerror(rv));
		cr_assert_eq(
		    resp.status, 413, "chunked 150 bytes: %d", resp.status);
		httpc_resp_free(&resp);
	}
}

Test(http_ingress, huge_content_length_is_413_at_once)
{
	struct lrun *r = it_run1("ingress-1g", echo_wf, true);
	static const char req[] = "POST /e/x HTTP/1.1\r\n"
	                          "Host: 127.0.0.1\r\n"
	                          "Content-Length: 1073741824\r\n"
	                          "\r\n"
	                          "only a few bytes";
	struct httpc *c = httpc_connect(IT_HOST, r->port, 3000);
	struct httpc_resp resp;
	int64_t t0;
	int rv;

	cr_assert_not_null(c);
	t0 = it_now_ms();
	rv = httpc_send_raw(c, req, sizeof req - 1);
	cr_assert(rv == HTTPC_OK || rv == HTTPC_ECLOSED, "send: %s",
	    httpc_strerror(rv));
	rv = httpc_read_response(c, &resp);
	cr_assert_eq(rv, HTTPC_OK, "no answer: %s", httpc_strerror(rv));
	cr_assert_eq(resp.status, 413);
	cr_assert_lt(it_now_ms() - t0, 2000, "413 took %lld ms",
	    (long long)(it_now_ms() - t0));
	httpc_resp_free(&resp);
	httpc_close(c);

	cr_assert(proc_running(r->p), "the node died");
	it_expect(r->port, "GET", "/e/after", NULL, 200,
	    "GET /e/after\nquery q=-\nheader x-test=-\nbody \n");
}

/* One request from a thread, for the mailbox test. */
struct shot {
	pthread_t th;
	pthread_barrier_t *go;
	int port;
	int status; /* HTTP status, or -rv on a client error */
};

static void *
shoot(void *arg)
{
	struct shot *s = arg;
	struct httpc_resp resp;
	int rv;
	pthread_barrier_wait(s->go);
	rv = httpc_once(IT_HOST, s->port, IT_HTTP_MS, "GET", "/slow?ms=400",
	    NULL, NULL, 0, &resp);
	s->status = rv == HTTPC_OK ? resp.status : -rv;
	httpc_resp_free(&resp);
	return NULL;
}

Test(http_ingress, full_mailbox_is_503_and_node_recovers)
{
	enum { N = 8 };
	struct lrun *r = it_run1("ingress-503",
	    "workflow: web\n"
	    "functions:\n"
	    "  slow:\n"
	    "    code: @F/slow.so\n"
	    "    mailbox: 1\n"
	    "resources:\n"
	    "  api:\n"
	    "    type: http-ingress\n"
	    "    config: { path: /slow }\n"
	    "    outputs: { request: slow }\n",
	    true);
	struct shot shots[N];
	pthread_barrier_t go;
	int ok = 0, busy = 0;

	pthread_barrier_init(&go, NULL, N);
	for (int i = 0; i < N; i++) {
		shots[i].go = &go;
		shots[i].port = r->port;
		shots[i].status = 0;
		cr_assert_eq(
		    pthread_create(&shots[i].th, NULL, shoot, &shots[i]), 0);
	}
	for (int i = 0; i < N; i++) {
		pthread_join(shots[i].th, NULL);
		if (shots[i].status == 200) {
			ok++;
		} else if (shots[i].status == 503) {
			busy++;
		} else {
			cr_assert_fail(
			    "request %d: status %d", i, shots[i].status);
		}
	}
	pthread_barrier_destroy(&go);
	cr_assert_geq(ok, 1, "no request was served");
	cr_assert_geq(busy, 1, "no request was refused (ok %d)", ok);

	/* Once the slow ones are done, the function answers again. */
	cr_assert(
	    it_poll_body(r->port, "GET", "/slow?ms=1", "slept 1\n", 5000, NULL),
	    "the function did not recover");
}

Test(http_ingress, reply_after_timeout_ms_is_504_and_node_goes_on)
{
	struct lrun *r = it_run1("ingress-504",
	    "workflow: web\n"
	    "functions:\n"
	    "  slow: { code: @F/slow.so }\n"
	    "  echo: { code: @F/echo.so }\n"
	    "resources:\n"
	    "  api:\n"
	    "    type: http-ingress\n"
	    "    config: { path: /slow, timeout_ms: 200 }\n"
	    "    outputs: { request: slow }\n"
	    "  other:\n"
	    "    type: http-ingress\n"
	    "    config: { prefix: /e/ }\n"
	    "    outputs: { request: echo }\n",
	    true);
	int64_t t0 = it_now_ms(), dt;
	struct httpc_resp resp;

	it_req(r->port, "GET", "/slow?ms=1500", NULL, NULL, &resp);
	dt = it_now_ms() - t0;
	cr_assert_eq(
	    resp.status, 504, "status %d, body %s", resp.status, resp.body);
	cr_assert_null(strstr(resp.body, "slept"));
	httpc_resp_free(&resp);
	cr_assert_geq(dt, 150, "504 after %lld ms", (long long)dt);
	cr_assert_lt(dt, 1200, "504 after %lld ms", (long long)dt);

	/* While the slow call still runs, other functions answer. */
	t0 = it_now_ms();
	free(it_body(r->port, "GET", "/e/x", NULL, 200));
	cr_assert_lt(it_now_ms() - t0, 500);
	/* And the slow function itself answers once it is free. */
	cr_assert(
	    it_poll_body(r->port, "GET", "/slow?ms=1", "slept 1\n", 5000, NULL),
	    "the slow function never answered again");
	cr_assert(proc_running(r->p));
}

Test(http_ingress, failed_function_is_500_and_leaves_no_effect)
{
	struct lrun *r = it_run1("ingress-500",
	    "workflow: web\n"
	    "functions:\n"
	    "  fail:\n"
	    "    code: @F/fail.so\n"
	    "    outputs: { out: sink }\n"
	    "  sink: { code: @F/relay.so }\n"
	    "resources:\n"
	    "  api:\n"
	    "    type: http-ingress\n"
	    "    config: { path: /fail }\n"
	    "    outputs: { request: fail }\n"
	    "  peek:\n"
	    "    type: http-ingress\n"
	    "    config: { path: /sink }\n"
	    "    outputs: { request: sink }\n",
	    true);
	struct httpc_resp resp;

	for (int i = 0; i < 3; i++) {
		it_req(r->port, "POST", "/fail", NULL, "data", &resp);
		cr_assert_eq(resp.status, 500, "status %d", resp.status);
		cr_assert_gt(resp.body_len, 0);
		cr_assert_null(strstr(resp.body, "should"), "%s", resp.body);
		cr_assert_null(strstr(resp.body, "fail"), "%s", resp.body);
		cr_assert_null(strstr(resp.body, "web/"), "%s", resp.body);
		cr_assert_null(strstr(resp.body, ".so"), "%s", resp.body);
		cr_assert_null(strstr(resp.head, "should"), "%s", resp.head);
		httpc_resp_free(&resp);
	}
	/* Neither the state write nor the emitted event became visible. */
	it_expect(r->port, "GET", "/fail", NULL, 200, "n=0\n");
	it_sleep_ms(200);
	it_expect(r->port, "GET", "/sink", NULL, 200, "n=0\n");
	cr_assert(proc_running(r->p));
}

Test(http_ingress, cast_mode_answers_202_and_event_is_processed)
{
	struct lrun *r = it_run1("ingress-cast",
	    "workflow: web\n"
	    "functions:\n"
	    "  relay:\n"
	    "    code: @F/relay.so\n"
	    "    outputs: { out: log }\n"
	    "resources:\n"
	    "  in:\n"
	    "    type: http-ingress\n"
	    "    config: { path: /in, mode: cast, methods: [POST] }\n"
	    "    outputs: { request: relay }\n"
	    "  read:\n"
	    "    type: http-ingress\n"
	    "    config: { path: /n, methods: [GET] }\n"
	    "    outputs: { request: relay }\n"
	    "  log:\n"
	    "    type: file-log\n"
	    "    config: { path: out.log, timestamp: false, source: false }\n",
	    true);
	char *path = it_fmt("%s/out.log", r->dir), *text;

	it_expect(r->port, "POST", "/in", "first-cast", 202, "accepted\n");
	cr_assert_eq(it_wait_n(r->port, "/n", 1, 5000), 1);
	it_expect(r->port, "POST", "/in", "second-cast", 202, "accepted\n");
	cr_assert_eq(it_wait_n(r->port, "/n", 2, 5000), 2);
	text = it_wait_lines(path, 2, 5000);
	cr_assert_str_eq(text, "first-cast\nsecond-cast\n");
	free(text);
	free(path);
}

static void
post_key(int port, const char *key, int want, const char *text, bool replayed)
{
	char hdr[512], buf[32];
	const char *hs[] = { hdr, NULL };
	struct httpc_resp resp;

	snprintf(hdr, sizeof hdr, "Idempotency-Key: %s", key);
	it_req(port, "POST", "/counter", hs, NULL, &resp);
	cr_assert_eq(resp.status, want, "key %.20s...: status %d, body %s", key,
	    resp.status, resp.body);
	if (text != NULL) {
		cr_assert_str_eq(resp.body, text, "key %.20s", key);
	}
	if (replayed) {
		cr_assert_not_null(httpc_resp_header(&resp,
		                       "Idempotent-Replayed", buf, sizeof buf),
		    "a replay without Idempotent-Replayed:\n%s", resp.head);
		cr_assert_str_eq(buf, "true");
	} else {
		cr_assert_null(httpc_resp_header(&resp, "Idempotent-Replayed",
		                   buf, sizeof buf),
		    "a first answer marked as replayed:\n%s", resp.head);
	}
	httpc_resp_free(&resp);
}

Test(http_ingress, idempotency_key_answers_a_retry_from_the_store)
{
	struct lrun *r = it_run1("ingress-idem",
	    "workflow: web\n"
	    "functions:\n"
	    "  counter: { code: @F/counter_step1.so }\n"
	    "resources:\n"
	    "  api:\n"
	    "    type: http-ingress\n"
	    "    config: { path: /counter, methods: [GET, POST] }\n"
	    "    outputs: { request: counter }\n",
	    true);
	char key[256];

	post_key(r->port, "order-17", 200, "1\n", false);
	post_key(r->port, "order-17", 200, "1\n", true);
	post_key(r->port, "order-17", 200, "1\n", true);
	it_expect(r->port, "GET", "/counter", NULL, 200, "1\n");
	post_key(r->port, "order-18", 200, "2\n", false);
	it_expect(r->port, "POST", "/counter", NULL, 200, "3\n");

	memset(key, 'k', sizeof key);
	key[201] = '\0';
	post_key(r->port, key, 400, NULL, false);
	it_expect(r->port, "GET", "/counter", NULL, 200, "3\n");
	key[200] = '\0';
	post_key(r->port, key, 200, "4\n", false);
	post_key(r->port, key, 200, "4\n", true);
	it_expect(r->port, "GET", "/counter", NULL, 200, "4\n");
}

Test(http_ingress, state_is_kept_between_events)
{
	struct lrun *r = it_run1("ingress-state",
	    "workflow: web\n"
	    "functions:\n"
	    "  ops: { code: @F/stateops.so }\n"
	    "resources:\n"
	    "  api:\n"
	    "    type: http-ingress\n"
	    "    config: { path: /ops }\n"
	    "    outputs: { request: ops }\n",
	    true);
	it_expect(r->port, "GET", "/ops", NULL, 200, "ok 1\n");
	it_expect(r->port, "POST", "/ops", "x", 200, "ok 2\n");
	it_expect(r->port, "GET", "/ops", NULL, 200, "ok 3\n");
}

Test(http_ingress, two_workflows_serve_their_own_routes)
{
	struct lrun *r = it_lrun("ingress-two");
	it_workflow(r, "one.yaml",
	    "workflow: one\n"
	    "functions:\n"
	    "  echo:\n"
	    "    code: @F/echo.so\n"
	    "resources:\n"
	    "  api:\n"
	    "    type: http-ingress\n"
	    "    config: { prefix: /one/ }\n"
	    "    outputs: { request: echo }\n");
	it_workflow(r, "two.yaml",
	    "workflow: two\n"
	    "functions:\n"
	    "  ops: { code: @F/stateops.so }\n"
	    "resources:\n"
	    "  api:\n"
	    "    type: http-ingress\n"
	    "    config: { path: /two }\n"
	    "    outputs: { request: ops }\n");
	it_start(r, true);
	it_expect(r->port, "GET", "/one/x", NULL, 200,
	    "GET /one/x\nquery q=-\nheader x-test=-\nbody \n");
	it_expect(r->port, "GET", "/two", NULL, 200, "ok 1\n");
	free(it_body(r->port, "GET", "/three", NULL, 404));
}

Test(http_ingress, two_workflows_on_one_route_refuse_to_start)
{
	struct lrun *r = it_lrun("ingress-clash");
	char *log;
	int status = 0;

	for (int i = 0; i < 2; i++) {
		char *wf = it_fmt("workflow: w%d\n"
		                  "functions:\n"
		                  "  echo: { code: @F/echo.so }\n"
		                  "resources:\n"
		                  "  api:\n"
		                  "    type: http-ingress\n"
		                  "    config: { path: /same-route }\n"
		                  "    outputs: { request: echo }\n",
		    i);
		char name[16];
		snprintf(name, sizeof name, "w%d.yaml", i);
		it_workflow(r, name, wf);
		free(wf);
	}
	cr_assert_neq(lrun_start(r, NULL), 0, "started with a clash");
	cr_assert_eq(proc_wait(r->p, 10000, &status), 0, "still running");
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) != 0, "status %#x",
	    status);
	log = lrun_logtext(r);
	cr_assert_not_null(strstr(log, "/same-route"), "log:\n%s", log);
	cr_assert_null(strstr(log, "ready; "), "log:\n%s", log);
	free(log);
}

Test(http_ingress, route_without_a_function_is_503)
{
	struct lrun *r = it_run1("ingress-unwired",
	    "workflow: web\n"
	    "functions:\n"
	    "  echo: { code: @F/echo.so }\n"
	    "resources:\n"
	    "  bare:\n"
	    "    type: http-ingress\n"
	    "    config: { path: /bare }\n"
	    "  api:\n"
	    "    type: http-ingress\n"
	    "    config: { prefix: /e/ }\n"
	    "    outputs: { request: echo }\n",
	    true);
	char *body = it_body(r->port, "GET", "/bare", NULL, 503);
	cr_assert_not_null(strstr(body, "no function"), "body: %s", body);
	free(body);
	free(it_body(r->port, "GET", "/e/x", NULL, 200));
	cr_assert(proc_running(r->p));
}

Test(http_ingress, keep_alive_and_chunked_request_bodies)
{
	struct lrun *r = it_run1("ingress-chunked", echo_wf, true);
	struct httpc *c = httpc_connect(IT_HOST, r->port, IT_HTTP_MS);
	const char *te[] = { "Transfer-Encoding: chunked", NULL };
	static const char chunked[] = "5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n";
	struct httpc_resp resp;

	cr_assert_not_null(c);
	for (int i = 0; i < 3; i++) {
		cr_assert_eq(
		    httpc_request(c, "POST", "/e/k", NULL, "abc", 3, &resp),
		    HTTPC_OK);
		cr_assert_eq(resp.status, 200);
		cr_assert_str_eq(resp.body,
		    "POST /e/k\nquery q=-\nheader x-test=-\nbody abc\n");
		httpc_resp_free(&resp);
	}
	cr_assert_eq(httpc_connections(c), 1, "keep-alive was not kept");
	cr_assert_eq(httpc_request(c, "POST", "/e/c", te, chunked,
	                 sizeof chunked - 1, &resp),
	    HTTPC_OK);
	cr_assert_eq(
	    resp.status, 200, "chunked body: %d %s", resp.status, resp.body);
	cr_assert_str_eq(resp.body,
	    "POST /e/c\nquery q=-\nheader x-test=-\nbody hello world\n");
	httpc_resp_free(&resp);
	httpc_close(c);
}

Test(http_ingress, garbage_request_is_400_and_node_stays_up)
{
	struct lrun *r = it_run1("ingress-garbage", echo_wf, true);
	static const char junk[] = "THIS IS NOT HTTP\r\n\r\n";
	struct httpc *c = httpc_connect(IT_HOST, r->port, 3000);
	struct httpc_resp resp;
	int rv;

	cr_assert_not_null(c);
	rv = httpc_send_raw(c, junk, sizeof junk - 1);
	cr_assert(rv == HTTPC_OK || rv == HTTPC_ECLOSED);
	rv = httpc_read_response(c, &resp);
	/* A 400, or at least a closed connection, never a hang. */
	cr_assert(
	    rv == HTTPC_OK || rv == HTTPC_ECLOSED, "%s", httpc_strerror(rv));
	if (rv == HTTPC_OK) {
		cr_assert_eq(resp.status, 400, "status %d", resp.status);
	}
	httpc_resp_free(&resp);
	httpc_close(c);
	cr_assert(proc_running(r->p));
	free(it_body(r->port, "GET", "/e/ok", NULL, 200));
}

/* A request with an Idempotency-Key from a thread. */
struct keyed {
	pthread_t th;
	int port;
	int status;
	char body[64];
};

static void *
keyed_slow(void *arg)
{
	struct keyed *k = arg;
	const char *hs[] = { "Idempotency-Key: slow-1", NULL };
	struct httpc_resp resp;
	if (httpc_once(IT_HOST, k->port, IT_HTTP_MS, "GET", "/slow?ms=800", hs,
	        NULL, 0, &resp) == HTTPC_OK) {
		k->status = resp.status;
		snprintf(k->body, sizeof k->body, "%s", resp.body);
	}
	httpc_resp_free(&resp);
	return NULL;
}

Test(http_ingress, idempotency_key_in_progress_is_409)
{
	struct lrun *r = it_run1("ingress-409",
	    "workflow: web\n"
	    "functions:\n"
	    "  slow: { code: @F/slow.so }\n"
	    "resources:\n"
	    "  api:\n"
	    "    type: http-ingress\n"
	    "    config: { path: /slow }\n"
	    "    outputs: { request: slow }\n",
	    true);
	const char *hs[] = { "Idempotency-Key: slow-1", NULL };
	struct keyed first = { .port = r->port };
	struct httpc_resp resp;

	cr_assert_eq(pthread_create(&first.th, NULL, keyed_slow, &first), 0);
	it_sleep_ms(250);
	it_req(r->port, "GET", "/slow?ms=1", hs, NULL, &resp);
	cr_assert_eq(
	    resp.status, 409, "status %d, body %s", resp.status, resp.body);
	httpc_resp_free(&resp);
	pthread_join(first.th, NULL);
	cr_assert_eq(first.status, 200);
	cr_assert_str_eq(first.body, "slept 800\n");
	/* Once done, a retry gets the first answer, not a new run. */
	it_req(r->port, "GET", "/slow?ms=1", hs, NULL, &resp);
	cr_assert_eq(resp.status, 200);
	cr_assert_str_eq(resp.body, "slept 800\n");
	httpc_resp_free(&resp);
}

Test(http_ingress, idempotency_key_on_a_cast_route_queues_once)
{
	struct lrun *r = it_run1("ingress-idem-cast",
	    "workflow: web\n"
	    "functions:\n"
	    "  relay: { code: @F/relay.so }\n"
	    "resources:\n"
	    "  in:\n"
	    "    type: http-ingress\n"
	    "    config: { path: /in, mode: cast, methods: [POST] }\n"
	    "    outputs: { request: relay }\n"
	    "  read:\n"
	    "    type: http-ingress\n"
	    "    config: { path: /n, methods: [GET] }\n"
	    "    outputs: { request: relay }\n",
	    true);
	const char *hs[] = { "Idempotency-Key: ev-1", NULL };
	struct httpc_resp resp;
	char buf[16];

	for (int i = 0; i < 3; i++) {
		it_req(r->port, "POST", "/in", hs, "payload", &resp);
		cr_assert_eq(resp.status, 202, "try %d: %d", i, resp.status);
		cr_assert_eq(httpc_resp_header(&resp, "Idempotent-Replayed",
		                 buf, sizeof buf) != NULL,
		    i > 0, "try %d:\n%s", i, resp.head);
		httpc_resp_free(&resp);
	}
	cr_assert_eq(it_wait_n(r->port, "/n", 1, 5000), 1);
	it_sleep_ms(200);
	cr_assert_eq(it_n(r->port, "/n"), 1, "a replayed cast ran again");
}

Test(http_ingress, full_mailbox_on_a_cast_route_is_503)
{
	struct lrun *r = it_run1("ingress-cast-503",
	    "workflow: web\n"
	    "functions:\n"
	    "  slow:\n"
	    "    code: @F/slow.so\n"
	    "    mailbox: 1\n"
	    "  relay:\n"
	    "    code: @F/relay.so\n"
	    "    mailbox: 2\n"
	    "    outputs: { out: slow }\n"
	    "resources:\n"
	    "  in:\n"
	    "    type: http-ingress\n"
	    "    config: { path: /in, mode: cast, methods: [POST] }\n"
	    "    outputs: { request: relay }\n",
	    true);
	int accepted = 0, busy = 0;
	/* relay casts to slow, which has no cast handler; what matters is
	 * that http-ingress stops accepting once relay's mailbox is full,
	 * instead of queueing without bound. */
	for (int i = 0; i < 200 && busy == 0; i++) {
		struct httpc_resp resp;
		it_req(r->port, "POST", "/in", NULL, "x", &resp);
		cr_assert(resp.status == 202 || resp.status == 503, "%d",
		    resp.status);
		accepted += resp.status == 202;
		busy += resp.status == 503;
		httpc_resp_free(&resp);
	}
	cr_assert_geq(accepted, 1);
	cr_assert(proc_running(r->p));
}

/* A request from a thread, for the test below. */
struct bg {
	pthread_t th;
	int port;
	const char *path;
	int status;
};

static void *
bg_get(void *arg)
{
	struct bg *b = arg;
	struct httpc_resp resp;
	if (httpc_once(IT_HOST, b->port, IT_HTTP_MS, "GET", b->path, NULL, NULL,
	        0, &resp) == HTTPC_OK) {
		b->status = resp.status;
	}
	httpc_resp_free(&resp);
	return NULL;
}

Test(http_ingress, a_slow_handler_does_not_stall_other_routes)
{
	struct lrun *r = it_run1("ingress-stall",
	    "workflow: web\n"
	    "functions:\n"
	    "  slow: { code: @F/slow.so }\n"
	    "  echo: { code: @F/echo.so }\n"
	    "resources:\n"
	    "  api:\n"
	    "    type: http-ingress\n"
	    "    config: { path: /slow }\n"
	    "    outputs: { request: slow }\n"
	    "  other:\n"
	    "    type: http-ingress\n"
	    "    config: { prefix: /e/ }\n"
	    "    outputs: { request: echo }\n",
	    true);
	struct bg b = { .port = r->port, .path = "/slow?ms=1500" };
	int64_t t0, dt;

	/* The very first event of `slow` sleeps 1.5 s. */
	cr_assert_eq(pthread_create(&b.th, NULL, bg_get, &b), 0);
	it_sleep_ms(200);
	t0 = it_now_ms();
	free(it_body(r->port, "GET", "/e/x", NULL, 200));
	dt = it_now_ms() - t0;
	pthread_join(b.th, NULL);
	cr_assert_eq(b.status, 200);
	cr_assert_lt(dt, 500,
	    "GET /e/x waited %lld ms while another function slept: the "
	    "node stalled",
	    (long long)dt);
}

static const char counter_wf[] = "workflow: web\n"
                                 "functions:\n"
                                 "  counter: { code: @F/counter_step1.so }\n"
                                 "resources:\n"
                                 "  api:\n"
                                 "    type: http-ingress\n"
                                 "    config: { path: /counter%s }\n"
                                 "    outputs: { request: counter }\n";

Test(http_ingress, idempotent_answers_survive_a_restart)
{
	char *wf = it_fmt(counter_wf, "");
	struct lrun *r = it_run1("ingress-idem-restart", wf, true);
	int status;

	free(wf);
	post_key(r->port, "before-restart", 200, "1\n", false);
	status = lrun_stop(r, SIGINT, 10000);
	cr_assert(status != -1 && WIFEXITED(status) && WEXITSTATUS(status) == 0,
	    "status %#x", status);
	it_start(r, true);
	post_key(r->port, "before-restart", 200, "1\n", true);
	it_expect(r->port, "GET", "/counter", NULL, 200, "1\n");
}

Test(http_ingress, idempotency_ttl_limits_how_long_answers_are_kept)
{
	char *wf = it_fmt(counter_wf, ", idempotency_ttl_s: 1");
	struct lrun *r = it_run1("ingress-idem-ttl", wf, true);

	free(wf);
	post_key(r->port, "short-lived", 200, "1\n", false);
	post_key(r->port, "short-lived", 200, "1\n", true);
	it_sleep_ms(2100);
	post_key(r->port, "short-lived", 200, "2\n", false);
}

Test(http_ingress, idempotency_ttl_0_turns_keys_off)
{
	char *wf = it_fmt(counter_wf, ", idempotency_ttl_s: 0");
	struct lrun *r = it_run1("ingress-idem-off", wf, true);

	free(wf);
	post_key(r->port, "ignored", 200, "1\n", false);
	post_key(r->port, "ignored", 200, "2\n", false);
}

Test(http_ingress, too_many_headers_is_431)
{
	struct lrun *r = it_run1("ingress-431", echo_wf, true);
	char *hs[130];
	struct httpc_resp resp;

	for (int i = 0; i < 129; i++) {
		hs[i] = it_fmt("X-H%d: %d", i, i);
	}
	hs[129] = NULL;
	it_req(r->port, "GET", "/e/x", (const char *const *)hs, NULL, &resp);
	cr_assert_eq(resp.status, 431, "status %d", resp.status);
	httpc_resp_free(&resp);
	for (int i = 0; i < 129; i++) {
		free(hs[i]);
	}
	free(it_body(r->port, "GET", "/e/x", NULL, 200));
}

Test(http_ingress, accepted_casts_take_effect_once_across_a_clean_restart)
{
	struct lrun *r = it_run1("ingress-cast-restart",
	    "workflow: web\n"
	    "functions:\n"
	    "  relay: { code: @F/relay.so }\n"
	    "resources:\n"
	    "  in:\n"
	    "    type: http-ingress\n"
	    "    config: { path: /in, mode: cast, methods: [POST] }\n"
	    "    outputs: { request: relay }\n"
	    "  read:\n"
	    "    type: http-ingress\n"
	    "    config: { path: /n, methods: [GET] }\n"
	    "    outputs: { request: relay }\n",
	    true);
	int status;

	for (int i = 0; i < 3; i++) {
		it_expect(r->port, "POST", "/in", "x", 202, "accepted\n");
	}
	cr_assert_eq(it_wait_n(r->port, "/n", 3, 5000), 3);
	status = lrun_stop(r, SIGINT, 10000);
	cr_assert(status != -1 && WIFEXITED(status) && WEXITSTATUS(status) == 0,
	    "status %#x", status);
	it_start(r, true);
	/* Give a wrongly replayed event time to run. */
	it_sleep_ms(300);
	cr_assert_eq(it_n(r->port, "/n"), 3, "handled events ran again");
	it_expect(r->port, "POST", "/in", "x", 202, "accepted\n");
	cr_assert_eq(it_wait_n(r->port, "/n", 4, 5000), 4);
}
