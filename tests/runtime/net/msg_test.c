/* msg_test.c - request/reply and channels over real nng sockets, with the
 * loop running on its own thread. */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "domain.h"
#include "net/msg.h"
#include "platform/loop.h"

static struct loop *L;
static pthread_t T;

static void *
run_loop(void *arg)
{
	(void)arg;
	loop_run(L);
	return NULL;
}

static void
stop_cb(void *arg)
{
	(void)arg;
	loop_exit(L);
}

static void
setup(void)
{
	cr_assert_eq(loop_new(&L), 0);
}

static void
start(void)
{
	pthread_create(&T, NULL, run_loop, NULL);
}

static void
teardown(void)
{
	loop_post(L, stop_cb, NULL);
	pthread_join(T, NULL);
	loop_free(L);
}

/* The server echoes with a prefix. */
static void
echo(void *arg, struct msg_req *req)
{
	size_t n;
	const char *d = msg_req_data(req, &n);
	char out[256];
	int len = snprintf(out, sizeof out, "echo:%.*s", (int)n, d);
	(void)arg;
	msg_reply(req, out, (size_t)len);
}

struct got {
	atomic_int done;
	int err;
	char body[256];
};

static void
on_reply(void *arg, int err, const void *data, size_t len)
{
	struct got *g = arg;
	g->err = err;
	if (data) {
		memcpy(g->body, data, len < 255 ? len : 255);
		g->body[len < 255 ? len : 255] = '\0';
	}
	atomic_store(&g->done, 1);
}

static void
wait_done(struct got *g)
{
	for (int i = 0; i < 1000 && !atomic_load(&g->done); i++) {
		usleep(5000);
	}
	cr_assert(atomic_load(&g->done), "no callback");
}

struct mk {
	const char *url;
	struct msg_server *s;
	struct msg_client *c;
	int rv;
	char err[256];
	atomic_int ready;
};

static void
make_both(void *arg)
{
	struct mk *m = arg;
	m->rv = msg_server_new(
	    L, m->url, NULL, echo, NULL, &m->s, m->err, sizeof m->err);
	if (m->rv == 0) {
		m->rv = msg_client_new(
		    L, m->url, NULL, &m->c, m->err, sizeof m->err);
	}
	atomic_store(&m->ready, 1);
}

static void
free_both(void *arg)
{
	struct mk *m = arg;
	msg_client_free(m->c);
	msg_server_free(m->s);
	atomic_store(&m->ready, 2);
}

static void
round_trips(const char *url)
{
	struct mk m = { .url = url };
	loop_post(L, make_both, &m);
	while (atomic_load(&m.ready) != 1) {
		usleep(1000);
	}
	cr_assert_eq(m.rv, 0);
	for (int i = 0; i < 50; i++) {
		struct got g = { 0 };
		char msg[32];
		snprintf(msg, sizeof msg, "m%d", i);
		msg_call(m.c, msg, strlen(msg), 2000, on_reply, &g);
		wait_done(&g);
		cr_expect_eq(g.err, MSG_OK);
		char want[64];
		snprintf(want, sizeof want, "echo:%s", msg);
		cr_expect_str_eq(g.body, want);
	}
	loop_post(L, free_both, &m);
	while (atomic_load(&m.ready) != 2) {
		usleep(1000);
	}
}

Test(msg, inproc_round_trips, .init = setup, .fini = teardown)
{
	start();
	round_trips("inproc://msgtest");
}

Test(msg, tcp_round_trips, .init = setup, .fini = teardown)
{
	start();
	char url[64];
	/* A free port below the kernel's range for outgoing connections
	 * (a fixed one may be taken by any connection's local end). */
	snprintf(url, sizeof url, "tcp://127.0.0.1:%d", dom_port());
	round_trips(url);
}

Test(msg, sync_call_and_timeout, .init = setup, .fini = teardown)
{
	char url[64];
	snprintf(url, sizeof url, "tcp://127.0.0.1:%d", dom_port());
	struct mk m = { .url = url };
	void *reply;
	size_t n;
	char err[256];
	start();
	loop_post(L, make_both, &m);
	while (atomic_load(&m.ready) != 1) {
		usleep(1000);
	}
	cr_assert_eq(m.rv, 0, "%s", m.err);
	cr_assert_eq(msg_call_sync(
	                 url, NULL, "hi", 2, 2000, &reply, &n, err, sizeof err),
	    MSG_OK, "%s", err);
	cr_expect_eq(n, 7);
	cr_expect_eq(memcmp(reply, "echo:hi", 7), 0);
	free(reply);
	/* Nobody listens here. */
	int none = dom_port();
	char none_url[64], none_port[16];
	snprintf(none_url, sizeof none_url, "tcp://127.0.0.1:%d", none);
	snprintf(none_port, sizeof none_port, "%d", none);
	cr_expect_neq(msg_call_sync(none_url, NULL, "hi", 2, 300, &reply, &n,
	                  err, sizeof err),
	    MSG_OK);
	cr_expect(strstr(err, none_port) != NULL,
	    "the error names the address: %s", err);
	loop_post(L, free_both, &m);
	while (atomic_load(&m.ready) != 2) {
		usleep(1000);
	}
}

Test(msg, async_call_times_out_without_server, .init = setup, .fini = teardown)
{
	struct msg_client *c;
	char err[256];
	struct got g = { 0 };
	char url[64];
	snprintf(url, sizeof url, "tcp://127.0.0.1:%d", dom_port());
	cr_assert_eq(msg_client_new(L, url, NULL, &c, err, sizeof err), 0);
	start();
	msg_call(c, "x", 1, 200, on_reply, &g);
	wait_done(&g);
	cr_expect_eq(g.err, MSG_ETIMEDOUT);
	msg_client_free(c);
}
