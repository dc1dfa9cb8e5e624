/*
 * timer_test.c - the timer resource: its rate, `count`, and `payload`.
 *
 * Ticks go to relay.so, which counts them (GET /n reads the count over an
 * http-ingress) and passes each on to a file-log without time or source,
 * so the file shows each tick's bytes.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "itest.h"

TestSuite(timer, .fini = it_fini, .timeout = 60);

/* timer (with `timer_cfg`) -> relay -> file-log ticks.log */
static struct lrun *
start_timer(const char *timer_cfg)
{
	char *wf = it_fmt("workflow: clock\n"
	                  "functions:\n"
	                  "  relay:\n"
	                  "    code: @F/relay.so\n"
	                  "    outputs: { out: log }\n"
	                  "resources:\n"
	                  "  clock:\n"
	                  "    type: timer\n"
	                  "    config: { %s }\n"
	                  "    outputs: { tick: relay }\n"
	                  "  n:\n"
	                  "    type: http-ingress\n"
	                  "    config: { path: /n, methods: [GET] }\n"
	                  "    outputs: { request: relay }\n"
	                  "  log:\n"
	                  "    type: file-log\n"
	                  "    config: { path: ticks.log, timestamp: false, "
	                  "source: false }\n",
	    timer_cfg);
	struct lrun *r = it_run1("timer", wf, true);
	free(wf);
	return r;
}

Test(timer, ticks_at_about_the_period)
{
	struct lrun *r = start_timer("period_ms: 50");
	int64_t t0 = it_now_ms(), dt;
	long n;

	it_sleep_ms(1000);
	n = it_n(r->port, "/n");
	dt = it_now_ms() - t0;
	/* About 20 in 1 s; generous bounds for a loaded machine, but a
	 * timer that does not run, runs once, or bursts fails. */
	cr_assert_geq(n, 10, "%ld ticks in %lld ms", n, (long long)dt);
	cr_assert_leq(
	    n, 25 + (dt - 1000) / 50, "%ld ticks in %lld ms", n, (long long)dt);
	/* And it keeps ticking. */
	cr_assert_gt(it_wait_n(r->port, "/n", n + 3, 2000), n);
}

Test(timer, count_stops_after_exactly_that_many)
{
	struct lrun *r = start_timer("period_ms: 20, count: 5");
	char *path = it_fmt("%s/ticks.log", r->dir), *text;

	cr_assert_eq(it_wait_n(r->port, "/n", 5, 5000), 5);
	/* Ten more periods: nothing more comes. */
	it_sleep_ms(200);
	cr_assert_eq(it_n(r->port, "/n"), 5);
	/* Without a payload, each tick is its number. */
	text = it_wait_lines(path, 5, 5000);
	cr_assert_str_eq(text, "1\n2\n3\n4\n5\n");
	free(text);
	free(path);
}

Test(timer, payload_is_delivered_as_given)
{
	struct lrun *r =
	    start_timer("period_ms: 20, count: 3, payload: 'hello tick 42'");
	char *path = it_fmt("%s/ticks.log", r->dir), *text;

	cr_assert_eq(it_wait_n(r->port, "/n", 3, 5000), 3);
	text = it_wait_lines(path, 3, 5000);
	cr_assert_str_eq(text, "hello tick 42\nhello tick 42\nhello tick 42\n");
	free(text);
	free(path);
}
