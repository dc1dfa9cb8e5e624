/*
 * store_full_test.c - a full store is a failed request, not a dead node
 * (guarantee 5 of DESIGN.md), with a real `ledge run`: a function that
 * fills a 16 MiB store gets 507 while another workflow on the node keeps
 * answering; deleting frees room; a node restarted on a full store comes
 * up and serves; a function's `limits: {state_mb}` refuses its writes
 * only, in-process and isolated.
 */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "itest.h"
#include "ledge_run.h"

TestSuite(store_full, .fini = it_fini);

static const char *const fill_wf = "workflow: fill\n"
                                   "functions:\n"
                                   "  filler:\n"
                                   "    code: @F/filler.so\n"
                                   "    config: { kib: 64 }\n"
                                   "  sink:\n"
                                   "    code: @F/echo.so\n"
                                   "resources:\n"
                                   "  http:\n"
                                   "    type: http-ingress\n"
                                   "    config: { path: /fill }\n"
                                   "    outputs: { request: filler }\n"
                                   "  casts:\n"
                                   "    type: http-ingress\n"
                                   "    config: { path: /cast, mode: cast }\n"
                                   "    outputs: { request: sink }\n";

static const char *const other_wf =
    "workflow: other\n"
    "functions:\n"
    "  counter:\n"
    "    code: @F/counter_step1.so\n"
    "resources:\n"
    "  http:\n"
    "    type: http-ingress\n"
    "    config: { path: /counter, methods: [GET, POST] }\n"
    "    outputs: { request: counter }\n";

static const char *const size16[] = { "--store-size", "16", NULL };

/* POST body to path; the status. */
static int
post(struct lrun *r, const char *path, const char *body, char *out, size_t n)
{
	struct httpc_resp resp;
	int status;
	cr_assert_eq(lrun_http(r, "POST", path, body, &resp), 0,
	    "POST %s: no answer (the node is gone?)", path);
	status = resp.status;
	if (out != NULL) {
		snprintf(out, n, "%s", resp.body);
	}
	httpc_resp_free(&resp);
	return status;
}

/* Put until the first 507; returns the number of 200s before it. */
static int
fill(struct lrun *r, const char *path, int most)
{
	char body[256];
	for (int i = 0; i < most; i++) {
		int st = post(r, path, "put", body, sizeof body);
		if (st == 507) {
			cr_expect(strstr(body, "insufficient storage") != NULL,
			    "507 body: %s", body);
			return i;
		}
		cr_assert_eq(st, 200, "put %d on %s: %d %s", i, path, st, body);
	}
	cr_assert_fail("%s never got 507 in %d puts", path, most);
	return most;
}

/* The value of the metric line that starts with `name` and holds
 * `label` (may be ""); -1 if none. */
static long long
metric(struct lrun *r, const char *name, const char *label)
{
	struct httpc_resp resp;
	long long v = -1;
	cr_assert_eq(lrun_http(r, "GET", "/metrics", NULL, &resp), 0);
	for (char *p = resp.body; p != NULL && *p;) {
		char *nl = strchr(p, '\n');
		size_t ll = nl ? (size_t)(nl - p) : strlen(p);
		char line[512];
		snprintf(line, sizeof line, "%.*s", (int)ll, p);
		if (strncmp(line, name, strlen(name)) == 0 &&
		    line[strlen(name)] == '{' && strstr(line, label) != NULL) {
			char *sp = strrchr(line, ' ');
			v = sp ? strtoll(sp + 1, NULL, 10) : -1;
			break;
		}
		p = nl ? nl + 1 : NULL;
	}
	httpc_resp_free(&resp);
	return v;
}

static int
count_of(const char *hay, const char *needle)
{
	int n = 0;
	for (const char *p = hay; (p = strstr(p, needle)) != NULL; p++) {
		n++;
	}
	return n;
}

Test(store_full, a_full_store_fails_the_request_not_the_node, .timeout = 300)
{
	struct lrun *r = lrun_new("store-full");
	char body[256];
	int puts, again;

	cr_assert_not_null(r);
	lrun_workflow(r, "fill.yaml", fill_wf);
	lrun_workflow(r, "other.yaml", other_wf);
	cr_assert_eq(lrun_start(r, size16), 0);

	puts = fill(r, "/fill", 400);
	/* 16 MiB less the reserve (2 MiB) in 64 KiB values. */
	cr_expect(puts > 150 && puts < 230, "%d puts fitted", puts);
	/* The other workflow goes on, and so do more refused requests. */
	for (int i = 0; i < 5; i++) {
		cr_expect_eq(post(r, "/counter", NULL, body, sizeof body), 200);
		cr_expect_eq(post(r, "/fill", "put", NULL, 0), 507);
	}
	cr_expect_eq(post(r, "/counter", NULL, body, sizeof body), 200);
	cr_expect_str_eq(body, "6\n");
	/* A durable cast that does not fit is refused before it is queued
	 * (a small one still fits: the room is short of a 64 KiB value). */
	char *event = malloc(100 * 1024 + 1);
	cr_assert_not_null(event);
	memset(event, 'e', 100 * 1024);
	event[100 * 1024] = '\0';
	cr_expect_eq(post(r, "/cast", event, body, sizeof body), 507);
	cr_expect(strstr(body, "store is full") != NULL, "%s", body);
	/* Reads work. */
	cr_expect_eq(post(r, "/fill", "count", body, sizeof body), 200);
	cr_expect_eq(atoi(body), puts);

	cr_expect_eq(metric(r, "ledge_store_limit_bytes", ""), 16ll << 20);
	cr_expect_gt(metric(r, "ledge_store_used_bytes", ""), 12ll << 20);
	cr_expect_geq(
	    metric(r, "ledge_store_refused_total", "reason=\"full\""), 6);
	char *log = lrun_logtext(r);
	cr_expect_eq(count_of(log, "the store is full"), 1,
	    "logged once a minute:\n%s", log);
	cr_expect(strstr(log, "stopping at once") == NULL, "%s", log);
	free(log);

	/* Deleting frees room. */
	cr_expect_eq(post(r, "/fill", "del", body, sizeof body), 200);
	cr_expect_eq(post(r, "/fill", "put", body, sizeof body), 200);
	cr_expect_str_eq(body, "1\n");
	cr_expect_eq(post(r, "/cast", event, NULL, 0), 202);
	free(event);
	/* Room that a delete freed is LMDB's free list: reused, though a
	 * 64 KiB value needs 17 pages in a row, so a little less fits. */
	again = fill(r, "/fill", 400);
	cr_expect(
	    again + 1 >= puts * 3 / 4, "refilled %d of %d", again + 1, puts);

	/* A node killed on a full store comes up and serves. */
	lrun_stop(r, SIGKILL, 10000);
	cr_assert_eq(lrun_start(r, size16), 0, "restart on a full store");
	cr_expect_eq(post(r, "/fill", "count", body, sizeof body), 200);
	cr_expect_eq(atoi(body), again + 1);
	cr_expect_eq(post(r, "/counter", NULL, body, sizeof body), 200);
	cr_expect_str_eq(body, "7\n");
	/* Full again at once (a few more may fit: the refill may have
	 * ended on a commit that met pages not yet free). */
	int more = fill(r, "/fill", 50);
	cr_expect_lt(more, 20, "%d more fitted after the restart", more);
	cr_expect_eq(post(r, "/fill", "del", body, sizeof body), 200);
	cr_expect_eq(post(r, "/fill", "put", body, sizeof body), 200);
	int status = lrun_stop(r, SIGINT, 15000);
	cr_expect(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	    "a clean stop after all that");
	lrun_free(r);
}

static const char *const quota_wf = "workflow: quota\n"
                                    "functions:\n"
                                    "  small:\n"
                                    "    code: @F/filler.so\n"
                                    "    limits: { state_mb: 1 }\n"
                                    "  small_iso:\n"
                                    "    code: @F/filler.so\n"
                                    "    isolation: process\n"
                                    "    limits: { state_mb: 1 }\n"
                                    "  big:\n"
                                    "    code: @F/filler.so\n"
                                    "resources:\n"
                                    "  a:\n"
                                    "    type: http-ingress\n"
                                    "    config: { path: /small }\n"
                                    "    outputs: { request: small }\n"
                                    "  b:\n"
                                    "    type: http-ingress\n"
                                    "    config: { path: /iso }\n"
                                    "    outputs: { request: small_iso }\n"
                                    "  c:\n"
                                    "    type: http-ingress\n"
                                    "    config: { path: /big }\n"
                                    "    outputs: { request: big }\n";

Test(store_full, a_quota_refuses_one_function_only, .timeout = 300)
{
	struct lrun *r = lrun_new("store-quota");
	char body[256];

	cr_assert_not_null(r);
	lrun_workflow(r, "quota.yaml", quota_wf);
	cr_assert_eq(lrun_start(r, NULL), 0);
	/* 1 MiB in 64 KiB values: 15 (the counter key takes a little). */
	int n = fill(r, "/small", 40);
	cr_expect(n >= 14 && n <= 16, "%d puts under a 1 MiB quota", n);
	int m = fill(r, "/iso", 40);
	cr_expect(m >= 14 && m <= 16, "%d isolated puts under 1 MiB", m);
	for (int i = 0; i < 30; i++) {
		cr_assert_eq(post(r, "/big", "put", body, sizeof body), 200,
		    "the function without a quota is unaffected (%d)", i);
	}
	cr_expect_geq(
	    metric(r, "ledge_store_refused_total", "reason=\"quota\""), 2);
	char *log = lrun_logtext(r);
	cr_expect(strstr(log, "quota (limits: {state_mb: 1}) is used") != NULL,
	    "%s", log);
	free(log);
	/* Deleting makes room within the quota again. */
	cr_expect_eq(post(r, "/small", "del", body, sizeof body), 200);
	cr_expect_eq(post(r, "/small", "put", body, sizeof body), 200);
	lrun_free(r);
}
