/*
 * node_call_test.c - the reply channel of a call (runtime/node/node_call.h):
 * waiting with a deadline, completion from another thread, the callback
 * form, staged replies, double completion and reference counts.  Leaks
 * show up in the sanitizer tree.
 */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "node/node_call.h"

TestSuite(node_call, .timeout = 60);

static uint64_t
now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void
sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
	nanosleep(&ts, NULL);
}

/* A reply owning a body (a copy of `text`), a content type and headers. */
static struct node_reply
make_reply(const char *text)
{
	struct node_reply r;

	memset(&r, 0, sizeof r);
	r.status = 201;
	r.len = strlen(text);
	r.body = malloc(r.len + 1);
	cr_assert_not_null(r.body);
	memcpy(r.body, text, r.len + 1);
	r.content_type = strdup("text/plain");
	r.nheaders = 2;
	r.headers = calloc(2, sizeof *r.headers);
	cr_assert(r.content_type && r.headers);
	r.headers[0].name = strdup("X-A");
	r.headers[0].value = strdup("1");
	r.headers[1].name = strdup("X-B");
	r.headers[1].value = strdup(text);
	return r;
}

static bool
reply_is(const struct node_reply *r, const char *text)
{
	return r->len == strlen(text) && r->body != NULL &&
	    memcmp(r->body, text, r->len) == 0;
}

static bool
all_zero(const void *p, size_t n)
{
	const unsigned char *b = p;
	for (size_t i = 0; i < n; i++) {
		if (b[i] != 0) {
			return false;
		}
	}
	return true;
}

Test(node_call, wait_times_out_and_late_reply_is_dropped)
{
	struct node_call *c = node_call_new(false, NULL, NULL);
	struct node_reply r;
	uint64_t t0, took;

	cr_assert_not_null(c);
	t0 = now_ms();
	cr_expect_eq(node_call_wait(c, 80), LEDGE_ETIMEDOUT);
	took = now_ms() - t0;
	cr_expect_geq(took, 70, "returned after %llu ms, before the deadline",
	    (unsigned long long)took);
	cr_expect_lt(
	    took, 2000, "returned after %llu ms", (unsigned long long)took);
	node_call_unref(c); /* the caller gives up */

	/* The callee completes late: the reply goes nowhere, and is freed
	 * with the channel (ASan's leak check). */
	r = make_reply("too late");
	node_call_complete(c, &r);
	cr_expect(all_zero(&r, sizeof r), "the reply was moved out");
	node_call_unref(c);
}

Test(node_call, zero_timeout_returns_at_once)
{
	struct node_call *c = node_call_new(false, NULL, NULL);
	uint64_t t0 = now_ms();

	cr_assert_not_null(c);
	cr_expect_eq(node_call_wait(c, 0), LEDGE_ETIMEDOUT);
	cr_expect_lt(now_ms() - t0, 1000);
	node_call_unref(c);
	node_call_fail(c, LEDGE_EFAIL);
	node_call_unref(c);
}

Test(node_call, wait_after_completion_returns_the_reply)
{
	struct node_call *c = node_call_new(false, NULL, NULL);
	struct node_reply r = make_reply("early");

	cr_assert_not_null(c);
	node_call_complete(c, &r);
	node_call_unref(c); /* callee done */
	cr_expect_eq(node_call_wait(c, 0), LEDGE_OK);
	cr_expect(reply_is(&c->reply, "early"));
	cr_expect_eq(c->reply.status, 201);
	cr_expect_str_eq(c->reply.content_type, "text/plain");
	cr_assert_eq(c->reply.nheaders, 2);
	cr_expect_str_eq(c->reply.headers[1].value, "early");
	node_call_unref(c);
}

struct completer {
	struct node_call *c;
	long delay_ms;
	const char *text;
};

static void *
complete_later(void *p)
{
	struct completer *a = p;
	struct node_reply r = make_reply(a->text);

	sleep_ms(a->delay_ms);
	node_call_complete(a->c, &r);
	node_call_unref(a->c);
	return NULL;
}

Test(node_call, completion_from_another_thread_wakes_the_waiter)
{
	struct completer a = { NULL, 50, "from afar" };
	pthread_t th;
	uint64_t t0, took;

	a.c = node_call_new(false, NULL, NULL);
	cr_assert_not_null(a.c);
	t0 = now_ms();
	cr_assert_eq(pthread_create(&th, NULL, complete_later, &a), 0);
	cr_expect_eq(node_call_wait(a.c, 10000), LEDGE_OK);
	took = now_ms() - t0;
	cr_expect_lt(took, 5000, "woken after %llu ms, not at the deadline",
	    (unsigned long long)took);
	cr_expect(reply_is(&a.c->reply, "from afar"));
	cr_expect_eq(a.c->reply.err, LEDGE_OK);
	pthread_join(th, NULL);
	node_call_unref(a.c);
}

struct cb_state {
	atomic_int calls;
	struct node_call *seen;
	void *arg_seen;
	int err_seen;
	bool body_ok;
	pthread_t thread;
};

static void
on_done(struct node_call *c, void *arg)
{
	struct cb_state *s = arg;

	atomic_fetch_add(&s->calls, 1);
	s->seen = c;
	s->arg_seen = arg;
	s->err_seen = c->reply.err;
	s->body_ok = reply_is(&c->reply, "cb");
	s->thread = pthread_self();
	/* The callback may take the lock itself: mu is not held. */
	pthread_mutex_lock(&c->mu);
	pthread_mutex_unlock(&c->mu);
}

Test(node_call, callback_form)
{
	struct cb_state s = { 0 };
	struct node_call *c = node_call_new(true, on_done, &s);
	struct node_reply r = make_reply("cb");

	cr_assert_not_null(c);
	cr_expect(c->external);
	node_call_complete(c, &r);
	cr_expect_eq(atomic_load(&s.calls), 1);
	cr_expect_eq(s.seen, c);
	cr_expect_eq(s.arg_seen, &s);
	cr_expect_eq(s.err_seen, LEDGE_OK);
	cr_expect(s.body_ok, "the reply is in place when on_done runs");
	cr_expect(pthread_equal(s.thread, pthread_self()),
	    "on_done runs on the completing thread");
	node_call_unref(c);
	node_call_unref(c);
}

static void *
complete_cb(void *p)
{
	struct node_call *c = p;
	struct node_reply r = make_reply("cb");
	node_call_complete(c, &r);
	node_call_unref(c);
	return NULL;
}

Test(node_call, callback_runs_on_the_completing_thread)
{
	struct cb_state s = { 0 };
	struct node_call *c = node_call_new(false, on_done, &s);
	pthread_t th;

	cr_assert_not_null(c);
	cr_assert_eq(pthread_create(&th, NULL, complete_cb, c), 0);
	pthread_join(th, NULL);
	cr_expect_eq(atomic_load(&s.calls), 1);
	cr_expect(pthread_equal(s.thread, th));
	cr_expect(s.body_ok);
	node_call_unref(c);
}

Test(node_call, stage_then_notify_ok_keeps_the_reply)
{
	struct cb_state s = { 0 };
	struct node_call *c = node_call_new(true, on_done, &s);
	struct node_reply r = make_reply("cb");

	cr_assert_not_null(c);
	cr_expect(node_call_stage(c, &r));
	cr_expect(all_zero(&r, sizeof r), "the staged reply was moved");
	cr_expect_eq(atomic_load(&s.calls), 0, "not told before notify");
	node_call_notify(c, LEDGE_OK);
	cr_expect_eq(atomic_load(&s.calls), 1);
	cr_expect(s.body_ok);
	cr_expect_eq(s.err_seen, LEDGE_OK);
	node_call_unref(c);
	node_call_unref(c);
}

Test(node_call, stage_then_notify_error_replaces_the_reply)
{
	struct cb_state s = { 0 };
	struct node_call *c = node_call_new(true, on_done, &s);
	struct node_reply r = make_reply("must not be seen");

	cr_assert_not_null(c);
	cr_expect(node_call_stage(c, &r));
	node_call_notify(c, LEDGE_ESTORE);
	cr_expect_eq(atomic_load(&s.calls), 1);
	cr_expect_eq(s.err_seen, LEDGE_ESTORE);
	cr_expect_eq(c->reply.err, LEDGE_ESTORE);
	cr_expect_null(c->reply.body, "the staged body is gone");
	cr_expect_eq(c->reply.len, 0);
	cr_expect_eq(c->reply.nheaders, 0);
	cr_expect_null(c->reply.content_type);
	cr_expect_eq(c->reply.status, 0);
	node_call_unref(c);
	node_call_unref(c);
}

Test(node_call, staged_reply_reaches_a_waiter_after_notify)
{
	struct node_call *c = node_call_new(true, NULL, NULL);
	struct node_reply r = make_reply("staged");

	cr_assert_not_null(c);
	cr_expect(node_call_stage(c, &r));
	node_call_notify(c, LEDGE_OK);
	cr_expect_eq(node_call_wait(c, 1000), LEDGE_OK);
	cr_expect(reply_is(&c->reply, "staged"));
	node_call_unref(c);
	node_call_unref(c);
}

/*
 * An external call's reply is staged until its effects are durable; the
 * caller must not see it before node_call_notify, whether it waits in
 * node_call_wait or is told through on_done.
 */
Test(node_call, staged_reply_is_not_seen_by_a_waiter_before_notify)
{
	struct node_call *c = node_call_new(true, NULL, NULL);
	struct node_reply r = make_reply("not yet");

	cr_assert_not_null(c);
	cr_expect(node_call_stage(c, &r));
	cr_expect_eq(node_call_wait(c, 50), LEDGE_ETIMEDOUT,
	    "node_call_wait returned a staged reply before notify");
	node_call_notify(c, LEDGE_OK);
	node_call_unref(c);
	node_call_unref(c);
}

struct notifier {
	struct node_call *c;
	int err;
};

static void *
notify_later(void *p)
{
	struct notifier *n = p;
	sleep_ms(50);
	node_call_notify(n->c, n->err);
	node_call_unref(n->c);
	return NULL;
}

Test(node_call, notify_from_another_thread_wakes_the_waiter)
{
	struct notifier n = { NULL, LEDGE_ECLOSED };
	struct node_reply r = make_reply("x");
	pthread_t th;

	n.c = node_call_new(true, NULL, NULL);
	cr_assert_not_null(n.c);
	cr_expect(node_call_stage(n.c, &r));
	cr_assert_eq(pthread_create(&th, NULL, notify_later, &n), 0);
	cr_expect_eq(node_call_wait(n.c, 10000), LEDGE_OK);
	pthread_join(th, NULL);
	cr_expect_eq(n.c->reply.err, LEDGE_ECLOSED);
	cr_expect_null(n.c->reply.body);
	node_call_unref(n.c);
}

Test(node_call, second_completion_is_ignored)
{
	struct cb_state s = { 0 };
	struct node_call *c = node_call_new(false, on_done, &s);
	struct node_reply first = make_reply("cb");
	struct node_reply second = make_reply("second");

	cr_assert_not_null(c);
	node_call_complete(c, &first);
	node_call_complete(c, &second);
	cr_expect(all_zero(&second, sizeof second),
	    "the ignored reply is freed and zeroed");
	node_call_fail(c, LEDGE_EFAIL);
	cr_expect_eq(atomic_load(&s.calls), 1, "on_done ran once");
	cr_expect(reply_is(&c->reply, "cb"), "the first reply stands");
	cr_expect_eq(c->reply.err, LEDGE_OK);

	second = make_reply("staged late");
	cr_expect_not(
	    node_call_stage(c, &second), "staging after completion is refused");
	cr_expect(all_zero(&second, sizeof second));
	cr_expect(reply_is(&c->reply, "cb"));
	node_call_unref(c);
	node_call_unref(c);
}

Test(node_call, fail_completes_with_the_error)
{
	struct node_call *c = node_call_new(false, NULL, NULL);

	cr_assert_not_null(c);
	node_call_fail(c, LEDGE_ECYCLE);
	cr_expect_eq(node_call_wait(c, 1000), LEDGE_OK);
	cr_expect_eq(c->reply.err, LEDGE_ECYCLE);
	cr_expect_null(c->reply.body);
	cr_expect_eq(c->reply.len, 0);
	node_call_unref(c);
	node_call_unref(c);
}

Test(node_call, references_keep_the_channel_alive)
{
	struct node_call *c = node_call_new(false, NULL, NULL);
	struct node_reply r = make_reply("alive");

	cr_assert_not_null(c);
	cr_expect_eq(atomic_load(&c->refs), 2, "caller and callee");
	node_call_ref(c);
	node_call_ref(c);
	cr_expect_eq(atomic_load(&c->refs), 4);
	node_call_unref(c);
	node_call_unref(c);
	node_call_unref(c);
	/* One reference left: the call is still usable (ASan would flag a
	 * use after free). */
	node_call_complete(c, &r);
	cr_expect_eq(node_call_wait(c, 0), LEDGE_OK);
	cr_expect(reply_is(&c->reply, "alive"));
	node_call_unref(c);
	node_call_unref(NULL);
}

Test(node_call, reply_free_zeroes)
{
	struct node_reply r = make_reply("bye");

	r.err = LEDGE_EFAIL;
	r.dep = 9;
	node_reply_free(&r);
	cr_expect(all_zero(&r, sizeof r));
	node_reply_free(&r); /* twice is harmless */
}

/* Waiters with short deadlines racing completers: every outcome is either
 * a reply or a timeout, and nothing leaks either way. */
struct race {
	struct node_call *c;
	long delay_ms;
};

static void *
race_complete(void *p)
{
	struct race *a = p;
	struct node_reply r = make_reply("race");
	sleep_ms(a->delay_ms);
	node_call_complete(a->c, &r);
	node_call_unref(a->c);
	return NULL;
}

Test(node_call, racing_timeouts_and_replies)
{
	enum { N = 60 };
	struct race a[N];
	pthread_t th[N];
	int ok = 0, timedout = 0;

	for (int i = 0; i < N; i++) {
		a[i].c = node_call_new(false, NULL, NULL);
		a[i].delay_ms = i % 3 == 0 ? 0 : (i % 3 == 1 ? 5 : 40);
		cr_assert_not_null(a[i].c);
		cr_assert_eq(
		    pthread_create(&th[i], NULL, race_complete, &a[i]), 0);
	}
	for (int i = 0; i < N; i++) {
		int rv = node_call_wait(a[i].c, i % 3 == 2 ? 1 : 5000);
		if (rv == LEDGE_OK) {
			ok++;
			cr_expect(reply_is(&a[i].c->reply, "race"));
		} else {
			cr_expect_eq(rv, LEDGE_ETIMEDOUT);
			timedout++;
		}
		node_call_unref(a[i].c);
	}
	for (int i = 0; i < N; i++) {
		pthread_join(th[i], NULL);
	}
	cr_expect_geq(ok, 2 * N / 3, "the long-deadline waits all got replies");
	cr_expect_eq(ok + timedout, N);
}
