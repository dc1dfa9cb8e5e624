/*
 * http_egress_test.c - HTTP requests out of `ledge run` through an
 * http-egress resource, to a real echo_server on loopback: calls from
 * fetch.so (ledge_http_fetch) with their statuses and errors, and casts
 * that POST an event.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "itest.h"

TestSuite(http_egress, .fini = it_fini, .timeout = 60);

/*
 * fetch.so behind GET/POST /fetch, wired to an http-egress whose url is
 * `url`; relay.so behind POST /in (cast) sends each event to a second
 * http-egress `post` with url `post_url`.
 */
static struct lrun *
start_fetch_cfg(const char *web_cfg, const char *post_url)
{
	char *wf = it_fmt("workflow: out\n"
	                  "functions:\n"
	                  "  fetch:\n"
	                  "    code: @F/fetch.so\n"
	                  "    outputs: { web: web }\n"
	                  "  relay:\n"
	                  "    code: @F/relay.so\n"
	                  "    outputs: { out: post }\n"
	                  "resources:\n"
	                  "  web:\n"
	                  "    type: http-egress\n"
	                  "    config: { %s }\n"
	                  "  post:\n"
	                  "    type: http-egress\n"
	                  "    config: { url: '%s', content_type: text/x-ev }\n"
	                  "  api:\n"
	                  "    type: http-ingress\n"
	                  "    config: { path: /fetch }\n"
	                  "    outputs: { request: fetch }\n"
	                  "  in:\n"
	                  "    type: http-ingress\n"
	                  "    config: { path: /in, mode: cast }\n"
	                  "    outputs: { request: relay }\n"
	                  "  n:\n"
	                  "    type: http-ingress\n"
	                  "    config: { path: /n, methods: [GET] }\n"
	                  "    outputs: { request: relay }\n",
	    web_cfg, post_url);
	struct lrun *r = it_run1("egress", wf, true);
	free(wf);
	return r;
}

static struct lrun *
start_fetch(const char *url, const char *post_url)
{
	char *cfg = it_fmt("url: '%s'", url);
	struct lrun *r = start_fetch_cfg(cfg, post_url);
	free(cfg);
	return r;
}

/* The answer of fetch.so: "status S\nerr E\nbody B". */
static char *
fetch(struct lrun *r, const char *method, const char *query, const char *body)
{
	char *path = it_fmt("/fetch?%s", query);
	char *out = it_body(r->port, method, path, body, 200);
	free(path);
	return out;
}

Test(http_egress, get_through_the_resource_reaches_the_server)
{
	int port = it_echo_server();
	char *url = it_fmt("http://127.0.0.1:%d", port);
	struct lrun *r = start_fetch(url, url);
	char *out = fetch(r, "GET", "url=/echo%3Fa%3D1", NULL);

	cr_assert_eq(
	    strncmp(out, "status 200\nerr ok\nbody GET /echo?a=1\n", 37), 0,
	    "%s", out);
	cr_assert_not_null(strstr(out, "\nX-From: ledge\n"), "%s", out);
	free(out);

	/* An absolute URL works as well. */
	free(url);
	url = it_fmt("url=http%%3A%%2F%%2F127.0.0.1%%3A%d%%2Fecho", port);
	out = fetch(r, "GET", url, NULL);
	cr_assert_eq(strncmp(out, "status 200\nerr ok\nbody GET /echo\n", 32),
	    0, "%s", out);
	free(out);
	free(url);
}

Test(http_egress, post_body_reaches_the_server_and_comes_back)
{
	int port = it_echo_server();
	char *url = it_fmt("http://127.0.0.1:%d", port);
	struct lrun *r = start_fetch(url, url);
	char *out = fetch(r, "POST", "m=POST&url=/echo", "the request body");
	const char *body;

	free(url);
	cr_assert_eq(strncmp(out, "status 200\nerr ok\nbody POST /echo\n", 33),
	    0, "%s", out);
	cr_assert_not_null(strstr(out, "\nX-From: ledge\n"), "%s", out);
	/* echo_server ends its answer with the body it got, verbatim. */
	body = strstr(out, "\n\n");
	cr_assert_not_null(body, "%s", out);
	cr_assert_str_eq(body + 2, "the request body");
	free(out);

	out = fetch(r, "POST", "m=PUT&url=/echo", "put-it");
	cr_assert_eq(strncmp(out, "status 200\nerr ok\nbody PUT /echo\n", 32),
	    0, "%s", out);
	cr_assert_not_null(strstr(out, "\n\nput-it"), "%s", out);
	free(out);
}

Test(http_egress, error_status_is_a_response_not_an_error)
{
	int port = it_echo_server();
	char *url = it_fmt("http://127.0.0.1:%d", port);
	struct lrun *r = start_fetch(url, url);
	char *out;

	free(url);
	out = fetch(r, "GET", "url=/status/503", NULL);
	cr_assert_str_eq(out, "status 503\nerr ok\nbody status 503");
	free(out);
	out = fetch(r, "GET", "url=/status/404", NULL);
	cr_assert_str_eq(out, "status 404\nerr ok\nbody status 404");
	free(out);
	out = fetch(r, "GET", "url=/status/201", NULL);
	cr_assert_str_eq(out, "status 201\nerr ok\nbody status 201");
	free(out);
}

Test(http_egress, closed_port_is_connection_failed)
{
	int port = it_closed_port();
	char *url = it_fmt("http://127.0.0.1:%d", port);
	struct lrun *r = start_fetch(url, url);
	int64_t t0 = it_now_ms();
	char *out = fetch(r, "GET", "url=/echo", NULL);

	free(url);
	cr_assert_str_eq(out, "status 0\nerr connection failed\nbody ");
	cr_assert_lt(it_now_ms() - t0, 3000);
	free(out);
	/* The node is fine and answers the next request too. */
	out = fetch(r, "GET", "url=/echo", NULL);
	cr_assert_str_eq(out, "status 0\nerr connection failed\nbody ");
	free(out);
	cr_assert(proc_running(r->p));
}

Test(http_egress, slow_server_times_out_at_the_request_timeout)
{
	int port = it_echo_server();
	char *url = it_fmt("http://127.0.0.1:%d", port);
	struct lrun *r = start_fetch(url, url);
	int64_t t0 = it_now_ms(), dt;
	char *out = fetch(r, "GET", "url=%2Fslow%3Fms%3D3000&t=300", NULL);

	dt = it_now_ms() - t0;
	free(url);
	cr_assert_str_eq(out, "status 0\nerr timed out\nbody ");
	cr_assert_geq(dt, 250, "timed out after %lld ms", (long long)dt);
	cr_assert_lt(dt, 2000, "timed out after %lld ms", (long long)dt);
	free(out);
	/* A quick one right after works. */
	out = fetch(r, "GET", "url=%2Fslow%3Fms%3D10&t=2000", NULL);
	cr_assert_str_eq(out, "status 200\nerr ok\nbody slow");
	free(out);
}

Test(http_egress, relative_url_resolves_against_the_configured_url)
{
	int port = it_echo_server();
	char *url = it_fmt("http://127.0.0.1:%d/status/201", port);
	struct lrun *r = start_fetch(url, url);
	char *out = fetch(r, "GET", "url=/echo", NULL);

	/* "/echo" replaces the configured path, as a browser resolves it. */
	cr_assert_eq(strncmp(out, "status 200\nerr ok\nbody GET /echo\n", 32),
	    0, "%s", out);
	free(url);
	free(out);
}

Test(http_egress, host_header_names_the_port_of_the_url)
{
	int port = it_echo_server();
	char *url = it_fmt("http://127.0.0.1:%d", port);
	struct lrun *r = start_fetch(url, url);
	char *out = fetch(r, "GET", "url=/echo", NULL);
	char *want = it_fmt("\nHost: 127.0.0.1:%d\n", port);

	/* RFC 9110 7.2: the Host header carries the port of a URL with a
	 * port other than the scheme's default. */
	cr_assert_not_null(strstr(out, want), "no '%s' in:\n%s", want + 1, out);
	free(want);
	free(url);
	free(out);
}

/* The number of requests echo_server served before this /count one. */
static long
served(int port)
{
	char *body = it_body(port, "GET", "/count", NULL, 200);
	long n = strtol(body, NULL, 10);
	free(body);
	return n;
}

Test(http_egress, cast_posts_the_event_once)
{
	int port = it_echo_server();
	char *web = it_fmt("http://127.0.0.1:%d", port);
	char *post = it_fmt("http://127.0.0.1:%d/echo", port);
	struct lrun *r = start_fetch(web, post);
	long mine = 0, seen = 0;
	int64_t end;

	free(web);
	free(post);
	cr_assert_eq(served(port), 0);
	mine++;
	it_expect(r->port, "POST", "/in", "event-1", 202, "accepted\n");
	/* Every /count of ours is one more request served. */
	end = it_now_ms() + 5000;
	while (it_now_ms() < end) {
		seen = served(port) - mine;
		mine++;
		if (seen >= 1) {
			break;
		}
		it_sleep_ms(10);
	}
	cr_assert_eq(seen, 1, "echo_server saw %ld POSTs", seen);
	cr_assert_eq(it_n(r->port, "/n"), 1);
	it_sleep_ms(200);
	cr_assert_eq(served(port) - mine, 1, "the event was POSTed again");
}

Test(http_egress, cast_to_an_error_status_is_logged)
{
	int port = it_echo_server();
	char *web = it_fmt("http://127.0.0.1:%d", port);
	char *post = it_fmt("http://127.0.0.1:%d/status/500", port);
	struct lrun *r = start_fetch(web, post);

	free(web);
	free(post);
	it_expect(r->port, "POST", "/in", "event-1", 202, "accepted\n");
	cr_assert(it_wait_log(r, "POST answered 500", 5000),
	    "no warning about the 500 in the log");
	cr_assert(proc_running(r->p));
}

Test(http_egress, configured_timeout_applies_by_default)
{
	int port = it_echo_server();
	char *cfg = it_fmt("url: 'http://127.0.0.1:%d', timeout_ms: 300", port);
	char *post = it_fmt("http://127.0.0.1:%d/echo", port);
	struct lrun *r = start_fetch_cfg(cfg, post);
	int64_t t0 = it_now_ms(), dt;
	char *out = fetch(r, "GET", "url=%2Fslow%3Fms%3D3000", NULL);

	dt = it_now_ms() - t0;
	free(cfg);
	free(post);
	cr_assert_str_eq(out, "status 0\nerr timed out\nbody ");
	cr_assert_lt(dt, 2000, "timed out after %lld ms", (long long)dt);
	free(out);
	/* A per-request timeout overrides it. */
	out = fetch(r, "GET", "url=%2Fslow%3Fms%3D600&t=3000", NULL);
	cr_assert_str_eq(out, "status 200\nerr ok\nbody slow");
	free(out);
}

Test(http_egress, large_and_chunked_responses)
{
	int port = it_echo_server();
	char *cfg =
	    it_fmt("url: 'http://127.0.0.1:%d', max_response: 100000", port);
	char *post = it_fmt("http://127.0.0.1:%d/echo", port);
	struct lrun *r = start_fetch_cfg(cfg, post);
	char want[7000];
	size_t k = strlen("status 200\nerr ok\nbody ");
	char *out;

	free(cfg);
	free(post);
	/* fetch.so shows the first 6000 bytes of a body. */
	memcpy(want, "status 200\nerr ok\nbody ", k);
	memset(want + k, 'x', 6000);
	want[k + 6000] = '\0';
	out = fetch(r, "GET", "url=%2Fbig%3Fbytes%3D90000", NULL);
	cr_assert_str_eq(out, want);
	free(out);
	out = fetch(r, "GET", "url=%2Fbig%3Fbytes%3D90000%26chunked%3D1", NULL);
	cr_assert_str_eq(out, want);
	free(out);
	/* Over max_response: an error, not a truncated body. */
	out = fetch(r, "GET", "url=%2Fbig%3Fbytes%3D100001", NULL);
	cr_assert_str_eq(out, "status 0\nerr too large\nbody ");
	free(out);
	out =
	    fetch(r, "GET", "url=%2Fbig%3Fbytes%3D200000%26chunked%3D1", NULL);
	cr_assert_str_eq(out, "status 0\nerr too large\nbody ");
	free(out);
	cr_assert(proc_running(r->p));
}

Test(http_egress, server_closing_without_answer_is_an_error)
{
	int port = it_echo_server();
	char *url = it_fmt("http://127.0.0.1:%d", port);
	struct lrun *r = start_fetch(url, url);
	char *out = fetch(r, "GET", "url=/close", NULL);

	free(url);
	cr_assert_str_eq(out, "status 0\nerr connection failed\nbody ");
	free(out);
	out = fetch(r, "GET", "url=/status/200", NULL);
	cr_assert_str_eq(out, "status 200\nerr ok\nbody status 200");
	free(out);
}

Test(http_egress, relative_url_without_a_configured_url_is_refused)
{
	int port = it_echo_server();
	char *post = it_fmt("http://127.0.0.1:%d/echo", port);
	struct lrun *r = start_fetch_cfg("timeout_ms: 1000", post);
	char *out = fetch(r, "GET", "url=/echo", NULL);
	char *abs;

	free(post);
	cr_assert_str_eq(out, "status 0\nerr invalid argument\nbody ");
	free(out);
	abs = it_fmt(
	    "url=http%%3A%%2F%%2F127.0.0.1%%3A%d%%2Fstatus%%2F202", port);
	out = fetch(r, "GET", abs, NULL);
	cr_assert_str_eq(out, "status 202\nerr ok\nbody status 202");
	free(out);
	free(abs);
}

Test(http_egress, cast_body_and_method_reach_another_node_verbatim)
{
	/* The receiving end is a second ledge: PUT /in (cast) -> relay ->
	 * file-log, so its log shows exactly the bytes that arrived. */
	struct lrun *b = it_run1("egress-sink",
	    "workflow: sink\n"
	    "functions:\n"
	    "  relay:\n"
	    "    code: @F/relay.so\n"
	    "    outputs: { out: log }\n"
	    "resources:\n"
	    "  in:\n"
	    "    type: http-ingress\n"
	    "    config: { path: /in, mode: cast, methods: [PUT] }\n"
	    "    outputs: { request: relay }\n"
	    "  log:\n"
	    "    type: file-log\n"
	    "    config: { path: got.log, timestamp: false, source: false }\n",
	    true);
	char *wf = it_fmt("workflow: src\n"
	                  "functions:\n"
	                  "  relay:\n"
	                  "    code: @F/relay.so\n"
	                  "    outputs: { out: post }\n"
	                  "resources:\n"
	                  "  post:\n"
	                  "    type: http-egress\n"
	                  "    config: { url: 'http://127.0.0.1:%d/in', "
	                  "method: PUT }\n"
	                  "  in:\n"
	                  "    type: http-ingress\n"
	                  "    config: { path: /in, mode: cast }\n"
	                  "    outputs: { request: relay }\n",
	    b->port);
	struct lrun *a = it_run1("egress-src", wf, true);
	char *got = it_fmt("%s/got.log", b->dir), *text;

	free(wf);
	it_expect(a->port, "POST", "/in", "event one", 202, "accepted\n");
	it_expect(a->port, "POST", "/in", "event two", 202, "accepted\n");
	text = it_wait_lines(got, 2, 5000);
	cr_assert_str_eq(text, "event one\nevent two\n");
	free(text);
	free(got);
}

Test(http_egress, cast_to_a_closed_port_is_logged_and_the_node_goes_on)
{
	char *post = it_fmt("http://127.0.0.1:%d/echo", it_closed_port());
	int port = it_echo_server();
	char *web = it_fmt("http://127.0.0.1:%d", port);
	struct lrun *r = start_fetch(web, post);
	char *out;

	free(web);
	free(post);
	it_expect(r->port, "POST", "/in", "lost", 202, "accepted\n");
	cr_assert(it_wait_log(r, "connection failed", 5000),
	    "the failed POST was not logged");
	cr_assert_eq(it_wait_n(r->port, "/n", 1, 5000), 1);
	out = fetch(r, "GET", "url=/status/200", NULL);
	cr_assert_str_eq(out, "status 200\nerr ok\nbody status 200");
	free(out);
}
