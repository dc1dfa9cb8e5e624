/*
 * file_log_test.c - the file-log resource behind relay.so: one line per
 * event, the time and source prefixes and their switches, escaping, log
 * rotation with SIGHUP, and no line for a failed event.
 *
 * Events come in through an http-ingress in cast mode (POST /in, 202),
 * go through relay.so (which counts them; GET /n reads the count) and on
 * to the file-log.
 */
#include <criterion/criterion.h>
#include <regex.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "itest.h"

TestSuite(file_log, .fini = it_fini, .timeout = 60);

/* relay -> file-log with `log_cfg` as the extra config of the log. */
static struct lrun *
start_log(const char *log_cfg)
{
	char *wf =
	    it_fmt("workflow: logs\n"
	           "functions:\n"
	           "  relay:\n"
	           "    code: @F/relay.so\n"
	           "    outputs: { out: log }\n"
	           "resources:\n"
	           "  in:\n"
	           "    type: http-ingress\n"
	           "    config: { path: /in, mode: cast, methods: [POST] }\n"
	           "    outputs: { request: relay }\n"
	           "  n:\n"
	           "    type: http-ingress\n"
	           "    config: { path: /n, methods: [GET] }\n"
	           "    outputs: { request: relay }\n"
	           "  log:\n"
	           "    type: file-log\n"
	           "    config: { path: out.log%s }\n",
	        log_cfg);
	struct lrun *r = it_run1("flog", wf, true);
	free(wf);
	return r;
}

static void
post(struct lrun *r, const char *body, size_t len)
{
	struct httpc_resp resp;
	int rv = httpc_once(IT_HOST, r->port, IT_HTTP_MS, "POST", "/in", NULL,
	    body, len, &resp);
	cr_assert_eq(rv, HTTPC_OK, "%s", httpc_strerror(rv));
	cr_assert_eq(resp.status, 202, "status %d", resp.status);
	httpc_resp_free(&resp);
}

static void
post_str(struct lrun *r, const char *body)
{
	post(r, body, strlen(body));
}

/* Whether every line of `text` matches the extended regex `re`. */
static void
assert_lines_match(const char *text, const char *re)
{
	regex_t rx;
	char *copy = strdup(text), *save = NULL;
	cr_assert_eq(regcomp(&rx, re, REG_EXTENDED | REG_NOSUB), 0);
	for (char *line = strtok_r(copy, "\n", &save); line != NULL;
	     line = strtok_r(NULL, "\n", &save)) {
		cr_assert_eq(regexec(&rx, line, 0, NULL, 0), 0,
		    "line '%s' does not match %s", line, re);
	}
	regfree(&rx);
	free(copy);
}

Test(file_log, one_line_per_event_with_time_and_source)
{
	struct lrun *r = start_log("");
	char *path = it_fmt("%s/out.log", r->dir), *text;

	post_str(r, "first event");
	post_str(r, "second");
	post_str(r, "third one");
	text = it_wait_lines(path, 3, 5000);
	cr_assert_eq(it_lines(text), 3, "log:\n%s", text);
	assert_lines_match(text,
	    "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{3}"
	    "Z "
	    "logs/relay (first event|second|third one)$");
	/* In order. */
	cr_assert_lt(strstr(text, "first event"), strstr(text, "second"));
	cr_assert_lt(strstr(text, "second"), strstr(text, "third one"));
	free(text);
	free(path);
}

Test(file_log, timestamp_and_source_can_be_switched_off)
{
	struct lrun *r = start_log(", timestamp: false, source: false");
	char *path = it_fmt("%s/out.log", r->dir), *text;

	post_str(r, "alpha");
	post_str(r, "beta");
	text = it_wait_lines(path, 2, 5000);
	cr_assert_str_eq(text, "alpha\nbeta\n");
	free(text);
	free(path);
}

Test(file_log, only_the_timestamp_switched_off)
{
	struct lrun *r = start_log(", timestamp: false");
	char *path = it_fmt("%s/out.log", r->dir), *text;

	post_str(r, "gamma");
	text = it_wait_lines(path, 1, 5000);
	cr_assert_str_eq(text, "logs/relay gamma\n");
	free(text);
	free(path);
}

Test(file_log, only_the_source_switched_off)
{
	struct lrun *r = start_log(", source: false");
	char *path = it_fmt("%s/out.log", r->dir), *text;

	post_str(r, "delta");
	text = it_wait_lines(path, 1, 5000);
	assert_lines_match(text, "^[0-9-]{10}T[0-9:.]{12}Z delta$");
	free(text);
	free(path);
}

Test(file_log, binary_bytes_and_newlines_are_escaped)
{
	struct lrun *r = start_log(", timestamp: false, source: false");
	char *path = it_fmt("%s/out.log", r->dir), *text;
	static const char ev[] = "a\nb\r\x01\xff\\c\td\x7f"
	                         "e";

	post(r, ev, sizeof ev - 1);
	post_str(r, "after");
	text = it_wait_lines(path, 2, 5000);
	cr_assert_str_eq(
	    text, "a\\nb\\x0d\\x01\\xff\\\\c\\x09d\\x7fe\nafter\n");
	free(text);
	free(path);
}

Test(file_log, sighup_reopens_the_file_after_rotation)
{
	struct lrun *r = start_log(", timestamp: false, source: false");
	char *path = it_fmt("%s/out.log", r->dir);
	char *old = it_fmt("%s/out.log.1", r->dir), *text;

	post_str(r, "before rotation");
	text = it_wait_lines(path, 1, 5000);
	cr_assert_str_eq(text, "before rotation\n");
	free(text);

	cr_assert_eq(rename(path, old), 0);
	cr_assert_eq(proc_kill(r->p, SIGHUP), 0);
	cr_assert(it_wait_log(r, "SIGHUP", 5000), "SIGHUP not acknowledged");
	/* The new file appears once the log is reopened. */
	for (int64_t end = it_now_ms() + 5000;
	     !it_exists(path) && it_now_ms() < end;) {
		it_sleep_ms(10);
	}
	cr_assert(it_exists(path), "no new out.log after SIGHUP");

	post_str(r, "after rotation");
	text = it_wait_lines(path, 1, 5000);
	cr_assert_str_eq(text, "after rotation\n");
	free(text);
	text = it_slurp(old);
	cr_assert_str_eq(text, "before rotation\n");
	free(text);
	cr_assert(proc_running(r->p), "SIGHUP stopped the node");
	free(path);
	free(old);
}

Test(file_log, failed_event_writes_no_line)
{
	struct lrun *r = start_log(", timestamp: false, source: false");
	char *path = it_fmt("%s/out.log", r->dir), *text;

	post_str(r, "ok-1");
	post_str(r, "fail-this-one");
	post_str(r, "ok-2");
	/* relay handles its events in order: once ok-2 is written, the
	 * failed one was handled too. */
	text = it_wait_lines(path, 2, 5000);
	cr_assert_str_eq(text, "ok-1\nok-2\n");
	free(text);
	cr_assert_eq(it_n(r->port, "/n"), 2, "the failed event was counted");
	it_sleep_ms(200);
	text = it_slurp(path);
	cr_assert_str_eq(text, "ok-1\nok-2\n");
	free(text);
	free(path);
}

Test(file_log, lines_are_appended_across_a_restart)
{
	struct lrun *r = start_log(", timestamp: false, source: false");
	char *path = it_fmt("%s/out.log", r->dir), *text;
	int status;

	post_str(r, "run-1");
	text = it_wait_lines(path, 1, 5000);
	free(text);
	status = lrun_stop(r, SIGINT, 10000);
	cr_assert(status != -1 && WIFEXITED(status) && WEXITSTATUS(status) == 0,
	    "status %#x", status);
	it_start(r, true);
	post_str(r, "run-2");
	text = it_wait_lines(path, 2, 5000);
	cr_assert_str_eq(text, "run-1\nrun-2\n");
	free(text);
	cr_assert_eq(it_n(r->port, "/n"), 2);
	free(path);
}

Test(file_log, a_file_that_cannot_be_opened_stops_the_start)
{
	struct lrun *r = it_lrun("flog-bad");
	int status = 0;
	char *log;

	it_workflow(r, "wf.yaml",
	    "workflow: logs\n"
	    "functions:\n"
	    "  relay:\n"
	    "    code: @F/relay.so\n"
	    "    outputs: { out: log }\n"
	    "resources:\n"
	    "  log:\n"
	    "    type: file-log\n"
	    "    config: { path: no/such/folder/out.log }\n");
	cr_assert_neq(lrun_start(r, NULL), 0, "started without its log");
	cr_assert_eq(proc_wait(r->p, 10000, &status), 0, "still running");
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) != 0, "status %#x",
	    status);
	log = lrun_logtext(r);
	cr_assert_not_null(strstr(log, "no/such/folder/out.log"), "%s", log);
	cr_assert_not_null(strstr(log, "logs/log"), "%s", log);
	cr_assert_null(strstr(log, "ready; "), "%s", log);
	free(log);
}
