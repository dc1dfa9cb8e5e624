/*
 * embed_test.c - a node of a domain composed in one process
 * (runtime/domain/embed.h): with its own orchestrator, which answers the
 * domain commands and sees the node join; an orchestrator address that
 * cannot be served leaves the node running alone, with a warning; a node
 * joining the orchestrator of another; the options that cannot go
 * together.  Real nng over inproc://, a real
 * store in a temporary folder.
 */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/rlog.h"
#include "domain/embed.h"
#include "net/msg.h"
#include "net/wire.h"
#include "proc.h"

static char *dir;
static char *logtext;
static size_t loglen;
static FILE *logfp;
static struct rlog log_;

static void
setup(void)
{
	cr_assert_not_null(dir = tmpdir_make("embed"));
	cr_assert_not_null(logfp = open_memstream(&logtext, &loglen));
	rlog_init(&log_, logfp, RLOG_INFO);
}

static void
teardown(void)
{
	rlog_fini(&log_);
	fclose(logfp);
	free(logtext);
	tmpdir_remove(dir);
	free(dir);
}

TestSuite(embed, .init = setup, .fini = teardown, .timeout = 60);

static struct embed_opts
opts(const char *listen, const struct agent_opts *join)
{
	return (struct embed_opts) { .node = { .data_dir = dir,
		                         .workers = 2,
		                         .name = "embed-1",
		                         .store = { .nosync = true } },
		.listen = listen,
		.join = join };
}

static void *
run_main(void *arg)
{
	return (void *)(intptr_t)embed_run(arg);
}

/* Ask the orchestrator at url for {t}; true if it said ok, with how
 * many `key` entries it listed in *n. */
static bool
ask(const char *url, const char *t, const char *key, size_t *n)
{
	struct wire_w w;
	struct wire_r r;
	const void *data;
	void *reply;
	size_t len, rlen;
	char err[256];
	bool ok = false;

	cr_assert_eq(wire_w_init(&w), 0);
	wire_map(&w, 1);
	wire_str(&w, "t");
	wire_str(&w, t);
	cr_assert_not_null(data = wire_data(&w, &len));
	if (msg_call_sync(url, NULL, data, len, 2000, &reply, &rlen, err,
	        sizeof err) == MSG_OK) {
		if (wire_parse(&r, reply, rlen) == 0) {
			ok = wire_as_bool(wire_get(wire_root(&r), "ok"), false);
			*n = wire_len(wire_get(wire_root(&r), key));
			wire_r_fini(&r);
		}
		free(reply);
	}
	wire_w_fini(&w);
	return ok;
}

static void
nap_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
	nanosleep(&ts, NULL);
}

Test(embed, own_orchestrator_answers_and_sees_the_node_join)
{
	const char *url = "inproc://embed-test-orc";
	struct embed_opts o = opts(url, NULL);
	struct embed *e;
	pthread_t t;
	void *rc;
	char err[512];
	size_t n = 0;
	bool joined = false;

	cr_assert_eq(embed_new(&e, &o, NULL, 0, &log_, err, sizeof err),
	    LEDGE_OK, "%s", err);
	cr_assert_not_null(embed_node(e));
	cr_assert_eq(embed_start(e, err, sizeof err), LEDGE_OK, "%s", err);
	cr_assert_eq(pthread_create(&t, NULL, run_main, e), 0);
	cr_expect(ask(url, "wf.list", "workflows", &n));
	cr_expect_eq(n, 0);
	for (int i = 0; i < 100 && !joined; i++) {
		joined = ask(url, "node.list", "nodes", &n) && n == 1;
		if (!joined) {
			nap_ms(50);
		}
	}
	cr_expect(joined, "the node did not join its own orchestrator");
	embed_stop(e);
	cr_assert_eq(pthread_join(t, &rc), 0);
	cr_expect_eq((intptr_t)rc, 0);
	embed_free(e);
}

Test(embed, an_address_that_cannot_be_served_leaves_the_node_alone)
{
	struct embed_opts o = opts("tcp://256.1.1.1:7600", NULL);
	struct embed *e;
	pthread_t t;
	void *rc;
	char err[512];

	cr_assert_eq(embed_new(&e, &o, NULL, 0, &log_, err, sizeof err),
	    LEDGE_OK, "%s", err);
	cr_assert_eq(embed_start(e, err, sizeof err), LEDGE_OK, "%s", err);
	cr_assert_eq(pthread_create(&t, NULL, run_main, e), 0);
	embed_stop(e);
	cr_assert_eq(pthread_join(t, &rc), 0);
	cr_expect_eq((intptr_t)rc, 0);
	embed_free(e);
	fflush(logfp);
	cr_expect_not_null(
	    strstr(logtext, "no orchestrator here"), "log: %s", logtext);
}

Test(embed, joins_a_remote_orchestrator)
{
	const char *url = "inproc://embed-test-orc-a";
	struct agent_opts join = { .orchestrator = url,
		.listen = "inproc://embed-test-node-b" };
	struct embed_opts oa = opts(url, NULL), ob = opts(NULL, &join);
	struct embed *a, *b;
	pthread_t ta, tb;
	void *rc;
	char err[512], *dir_b;
	size_t n = 0;
	bool joined = false;

	cr_assert_not_null(dir_b = tmpdir_make("embed-b"));
	ob.node.data_dir = dir_b;
	ob.node.name = "embed-2";
	cr_assert_eq(embed_new(&a, &oa, NULL, 0, &log_, err, sizeof err),
	    LEDGE_OK, "%s", err);
	cr_assert_eq(embed_start(a, err, sizeof err), LEDGE_OK, "%s", err);
	cr_assert_eq(pthread_create(&ta, NULL, run_main, a), 0);
	cr_assert_eq(embed_new(&b, &ob, NULL, 0, &log_, err, sizeof err),
	    LEDGE_OK, "%s", err);
	cr_assert_eq(embed_start(b, err, sizeof err), LEDGE_OK, "%s", err);
	cr_assert_eq(pthread_create(&tb, NULL, run_main, b), 0);
	for (int i = 0; i < 100 && !joined; i++) {
		joined = ask(url, "node.list", "nodes", &n) && n == 2;
		if (!joined) {
			nap_ms(50);
		}
	}
	cr_expect(joined, "%zu nodes joined, not 2", n);
	embed_stop(b);
	cr_assert_eq(pthread_join(tb, &rc), 0);
	cr_expect_eq((intptr_t)rc, 0);
	embed_free(b);
	embed_stop(a);
	cr_assert_eq(pthread_join(ta, &rc), 0);
	cr_expect_eq((intptr_t)rc, 0);
	embed_free(a);
	tmpdir_remove(dir_b);
	free(dir_b);
}

Test(embed, an_own_and_a_remote_orchestrator_are_refused)
{
	struct agent_opts join = { .orchestrator = "inproc://x",
		.listen = "inproc://y" };
	struct embed_opts o = opts("inproc://z", &join);
	struct embed *e = (struct embed *)&join;
	char err[512];

	cr_expect_eq(
	    embed_new(&e, &o, NULL, 0, &log_, err, sizeof err), LEDGE_EINVAL);
	cr_expect_null(e);
	embed_free(NULL);
}
