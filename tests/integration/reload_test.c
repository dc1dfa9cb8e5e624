/*
 * reload_test.c - hot reload of a running function under a steady stream
 * of requests: the state carries over, the switch happens between two
 * events, no event is lost or handled twice.
 *
 * The counter is built twice (counter_step1.so adds 1, counter_step2.so
 * adds 2).  Clients POST all the time; midway the .so file the workflow
 * names is replaced.  Every answer is the counter after one increment, so
 * the sorted answers must climb by 1, then by 2, switching once, and the
 * total must be n1 + 2 * n2.
 */
#include <criterion/criterion.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>

#include "ledge_run.h"

#define CLIENTS     3
#define MAX_ANSWERS 20000

static const char *const wf_text =
    "workflow: reload\n"
    "functions:\n"
    "  counter:\n"
    "    code: counter.so\n"
    "resources:\n"
    "  http:\n"
    "    type: http-ingress\n"
    "    config: { path: /counter, methods: [GET, POST] }\n"
    "    outputs: { request: counter }\n";

struct stream {
	int port;
	atomic_bool stop;
	atomic_int n;
	atomic_int errors;
	long answers[MAX_ANSWERS];
};

static void
sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };
	nanosleep(&ts, NULL);
}

static void *
client_main(void *arg)
{
	struct stream *s = arg;
	struct httpc *c = httpc_connect("127.0.0.1", s->port, 5000);
	if (c == NULL) {
		atomic_fetch_add(&s->errors, 1);
		return NULL;
	}
	while (!atomic_load(&s->stop)) {
		struct httpc_resp resp;
		if (httpc_request(
		        c, "POST", "/counter", NULL, NULL, 0, &resp) != 0 ||
		    resp.status != 200) {
			atomic_fetch_add(&s->errors, 1);
			if (resp.status) {
				httpc_resp_free(&resp);
			}
			continue;
		}
		int i = atomic_fetch_add(&s->n, 1);
		if (i < MAX_ANSWERS) {
			s->answers[i] = strtol(resp.body, NULL, 10);
		}
		httpc_resp_free(&resp);
	}
	httpc_close(c);
	return NULL;
}

static int
cmp_long(const void *a, const void *b)
{
	long x = *(const long *)a, y = *(const long *)b;
	return (x > y) - (x < y);
}

static void
wait_answers(struct stream *s, int n)
{
	for (int i = 0; i < 4000 && atomic_load(&s->n) < n; i++) {
		sleep_ms(5);
	}
}

static char *
so_path(struct lrun *r)
{
	char *p = malloc(strlen(r->dir) + 16);
	sprintf(p, "%s/counter.so", r->dir);
	return p;
}

static void
install(struct lrun *r, const char *fixture)
{
	char *from = lrun_fixture(fixture), *to = so_path(r);
	cr_assert_eq(copy_file(from, to), 0, "copy %s", from);
	free(from);
	free(to);
}

static long
read_counter(struct lrun *r)
{
	struct httpc_resp resp;
	long v = -1;
	if (lrun_http(r, "GET", "/counter", NULL, &resp) == 0) {
		v = strtol(resp.body, NULL, 10);
		httpc_resp_free(&resp);
	}
	return v;
}

Test(reload, counter_plus1_to_plus2_under_load, .timeout = 120)
{
	struct lrun *r = lrun_new("reload");
	struct stream *s = calloc(1, sizeof *s);
	pthread_t th[CLIENTS];
	int n, ones = 0, twos = 0, switches = 0, before;

	cr_assert_not_null(r);
	install(r, "counter_step1.so");
	lrun_workflow(r, "wf.yaml", wf_text);
	cr_assert_eq(lrun_start(r, NULL), 0);
	s->port = r->port;
	for (int i = 0; i < CLIENTS; i++) {
		pthread_create(&th[i], NULL, client_main, s);
	}
	wait_answers(s, 500);
	before = atomic_load(&s->n);
	install(r, "counter_step2.so");
	cr_assert_eq(proc_wait_log(r->p, "reloaded: now running", 10000), 0,
	    "no reload within 10 s");
	wait_answers(s, atomic_load(&s->n) + 500);
	atomic_store(&s->stop, true);
	for (int i = 0; i < CLIENTS; i++) {
		pthread_join(th[i], NULL);
	}
	n = atomic_load(&s->n);
	cr_assert_lt(n, MAX_ANSWERS);
	cr_expect_eq(atomic_load(&s->errors), 0, "failed requests: %d",
	    atomic_load(&s->errors));
	cr_assert_gt(before, 0);

	qsort(s->answers, (size_t)n, sizeof s->answers[0], cmp_long);
	cr_expect_eq(s->answers[0], 1, "first answer %ld", s->answers[0]);
	ones = 1; /* the first increment, from 0 to 1 */
	for (int i = 1; i < n; i++) {
		long d = s->answers[i] - s->answers[i - 1];
		cr_assert(d == 1 || d == 2,
		    "answers %ld then %ld: an increment lost or doubled",
		    s->answers[i - 1], s->answers[i]);
		if (d == 1) {
			cr_assert_eq(
			    twos, 0, "+1 after +2 at %ld", s->answers[i]);
			ones++;
		} else {
			if (twos == 0) {
				switches++;
			}
			twos++;
		}
	}
	cr_expect_eq(switches, 1);
	cr_expect_gt(ones, 400);
	cr_expect_gt(twos, 400);
	cr_expect_eq(read_counter(r), (long)ones + 2L * twos,
	    "state not continuous: %ld != %d + 2 * %d", read_counter(r), ones,
	    twos);
	fprintf(stderr, "reload under load: %d answers, %d at +1, %d at +2\n",
	    n, ones, twos);
	free(s);
	lrun_free(r);
}

Test(reload, failed_init_keeps_the_old_code, .timeout = 60)
{
	struct lrun *r = lrun_new("reload-fail");
	struct httpc_resp resp;

	cr_assert_not_null(r);
	install(r, "counter_step2.so");
	lrun_workflow(r, "wf.yaml", wf_text);
	cr_assert_eq(lrun_start(r, NULL), 0);
	cr_assert_eq(lrun_http(r, "POST", "/counter", NULL, &resp), 0);
	cr_expect_str_eq(resp.body, "2\n");
	httpc_resp_free(&resp);

	install(r, "init_fails.so");
	cr_assert_eq(proc_wait_log(r->p, "reload failed", 10000), 0);
	cr_assert_eq(lrun_http(r, "POST", "/counter", NULL, &resp), 0);
	cr_expect_str_eq(resp.body, "4\n", "still the old code and state");
	httpc_resp_free(&resp);

	install(r, "not_a_so.so");
	cr_assert_eq(proc_wait_log_count(r->p, "reload failed", 2, 10000), 0);
	char *log = lrun_logtext(r);
	cr_expect(
	    strstr(log, "not a shared object") != NULL, "the reason is logged");
	free(log);
	cr_assert_eq(lrun_http(r, "POST", "/counter", NULL, &resp), 0);
	cr_expect_str_eq(resp.body, "6\n");
	httpc_resp_free(&resp);
	lrun_free(r);
}

Test(reload, sighup_reloads_changed_code, .timeout = 60)
{
	struct lrun *r = lrun_new("reload-hup");
	const char *no_watch[] = { "--no-watch", NULL };
	struct httpc_resp resp;

	cr_assert_not_null(r);
	install(r, "counter_step1.so");
	lrun_workflow(r, "wf.yaml", wf_text);
	cr_assert_eq(lrun_start(r, no_watch), 0);
	install(r, "counter_step2.so");
	sleep_ms(400);
	cr_assert_eq(lrun_http(r, "POST", "/counter", NULL, &resp), 0);
	cr_expect_str_eq(resp.body, "1\n", "--no-watch: no reload by itself");
	httpc_resp_free(&resp);
	proc_kill(r->p, SIGHUP);
	cr_assert_eq(proc_wait_log(r->p, "reloaded: now running", 10000), 0);
	cr_assert_eq(lrun_http(r, "POST", "/counter", NULL, &resp), 0);
	cr_expect_str_eq(resp.body, "3\n");
	httpc_resp_free(&resp);
	lrun_free(r);
}
