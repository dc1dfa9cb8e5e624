/*
 * node_instance_test.c - mailboxes and the write-behind cache of an
 * instance (runtime/node_instance.h): FIFO order, the idle/scheduled
 * hand-off that keeps one worker per instance, reservations and limits,
 * and the dirty cache.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../../runtime/node_call.h"
#include "../../runtime/node_instance.h"

TestSuite(node_instance, .timeout = 60);

static struct node_event *
ev_n(uint32_t n)
{
	struct node_event *ev = node_event_new(NE_CAST, n, &n, sizeof n);
	cr_assert_not_null(ev);
	return ev;
}

static void
free_list(struct node_event *ev)
{
	while (ev != NULL) {
		struct node_event *next = ev->next;
		node_event_free(ev);
		ev = next;
	}
}

Test(node_instance, mailbox_is_fifo)
{
	struct node_mailbox mb;
	uint32_t want = 0;

	mb_init(&mb, 1000);
	for (uint32_t i = 0; i < 100; i++) {
		mb_push(&mb, ev_n(i));
	}
	cr_expect_eq(mb_depth(&mb), 100);
	for (;;) {
		struct node_event *list, *ev;
		size_t n = mb_take(&mb, &list, 7), seen = 0;
		if (n == 0) {
			cr_expect_null(list);
			break;
		}
		cr_expect_leq(n, 7);
		for (ev = list; ev != NULL; ev = ev->next) {
			cr_expect_eq(ev->target, want, "got %u, want %u",
			    ev->target, want);
			want++;
			seen++;
		}
		cr_expect_eq(seen, n, "the list holds exactly n events");
		free_list(list);
	}
	cr_expect_eq(want, 100);
	cr_expect_eq(mb_depth(&mb), 0);
	mb_fini(&mb);
}

Test(node_instance, push_reports_only_the_idle_to_scheduled_step)
{
	struct node_mailbox mb;
	struct node_event *list;

	mb_init(&mb, 10);
	cr_expect(mb_push(&mb, ev_n(1)), "idle -> scheduled: schedule it");
	cr_expect_not(mb_push(&mb, ev_n(2)), "already scheduled");
	cr_expect_not(mb_push(&mb, ev_n(3)));

	/* A worker runs it: takes a batch, more arrive meanwhile. */
	cr_expect_eq(mb_take(&mb, &list, 2), 2);
	free_list(list);
	cr_expect_not(mb_push(&mb, ev_n(4)), "being run counts as scheduled");
	cr_expect(mb_more(&mb), "events left: stays scheduled");
	cr_expect_not(mb_push(&mb, ev_n(5)));
	cr_expect_eq(mb_take(&mb, &list, 10), 3);
	free_list(list);
	cr_expect_not(mb_more(&mb), "empty: goes idle");
	cr_expect(mb_push(&mb, ev_n(6)), "idle again: schedule again");
	cr_expect_not(mb_push(&mb, ev_n(7)));

	/* A take that finds nothing also marks it idle. */
	cr_expect_eq(mb_take(&mb, &list, 10), 2);
	free_list(list);
	cr_expect_eq(mb_take(&mb, &list, 10), 0);
	cr_expect(mb_push(&mb, ev_n(8)));
	mb_fini(&mb); /* frees the queued event (leak check) */
}

Test(node_instance, take_on_an_empty_mailbox)
{
	struct node_mailbox mb;
	struct node_event *list = (struct node_event *)&mb;

	mb_init(&mb, 10);
	cr_expect_eq(mb_take(&mb, &list, 5), 0);
	cr_expect_null(list);
	cr_expect_not(mb_more(&mb));
	cr_expect_eq(mb_depth(&mb), 0);
	mb_fini(&mb);
}

Test(node_instance, reserve_up_to_the_limit)
{
	struct node_mailbox mb;

	mb_init(&mb, 3);
	cr_expect_eq(mb_reserve(&mb, 3), LEDGE_OK);
	cr_expect_eq(mb_reserve(&mb, 3), LEDGE_OK);
	cr_expect_eq(mb_reserve(&mb, 3), LEDGE_OK);
	cr_expect_eq(mb_reserve(&mb, 3), LEDGE_EFULL);
	cr_expect_eq(mb_depth(&mb), 3, "reserved slots count");
	cr_expect_eq(mb_reserve(&mb, 4), LEDGE_OK, "a higher limit");
	cr_expect_eq(mb_reserve(&mb, 4), LEDGE_EFULL);
	mb_unreserve(&mb);
	cr_expect_eq(mb_depth(&mb), 3);
	cr_expect_eq(mb_reserve(&mb, 4), LEDGE_OK, "unreserve frees a slot");
	cr_expect_eq(mb_reserve(&mb, 0), LEDGE_EFULL);
	mb_fini(&mb);
}

Test(node_instance, reserved_pushes_do_not_count_twice)
{
	struct node_mailbox mb;
	struct node_event *list, *ev;

	mb_init(&mb, 2);
	cr_assert_eq(mb_reserve(&mb, 2), LEDGE_OK);
	cr_assert_eq(mb_reserve(&mb, 2), LEDGE_OK);
	for (int i = 0; i < 2; i++) {
		ev = ev_n((uint32_t)i);
		ev->flags |= NEF_RESERVED | NEF_DURABLE;
		mb_push(&mb, ev);
	}
	cr_expect_eq(mb_depth(&mb), 2, "pushes into reserved slots");
	cr_expect_eq(mb_reserve(&mb, 2), LEDGE_EFULL);

	/* An unreserved push (control events, events from inside the node)
	 * takes a slot beyond any limit. */
	mb_push(&mb, ev_n(2));
	cr_expect_eq(mb_depth(&mb), 3);

	cr_expect_eq(mb_take(&mb, &list, 10), 3);
	for (ev = list; ev != NULL; ev = ev->next) {
		cr_expect_eq(ev->flags & NEF_RESERVED, 0,
		    "the slot is used up: the flag is cleared");
	}
	cr_expect_eq(
	    list->flags & NEF_DURABLE, NEF_DURABLE, "other flags are kept");
	free_list(list);
	cr_expect_eq(mb_depth(&mb), 0, "taking frees the slots");
	cr_expect_eq(mb_reserve(&mb, 2), LEDGE_OK);
	mb_unreserve(&mb);
	mb_fini(&mb);
}

Test(node_instance, closed_mailbox_refuses_reservations_but_queues)
{
	struct node_mailbox mb;
	struct node_event *list;

	mb_init(&mb, 10);
	pthread_mutex_lock(&mb.mu);
	mb.closed = true; /* what stopping an instance does */
	pthread_mutex_unlock(&mb.mu);
	cr_expect_eq(mb_reserve(&mb, 10), LEDGE_ECLOSED);
	cr_expect_eq(mb_depth(&mb), 0);
	cr_expect(mb_push(&mb, ev_n(1)), "a closed mailbox still queues");
	cr_expect_eq(mb_take(&mb, &list, 10), 1);
	free_list(list);
	mb_fini(&mb);
}

Test(node_instance, fini_frees_queued_events_and_fails_calls)
{
	struct node_mailbox mb;
	struct node_event *ev = node_event_new(NE_CALL, 1, "x", 1);
	struct node_call *c = node_call_new(false, NULL, NULL);

	cr_assert_not_null(ev);
	cr_assert_not_null(c);
	mb_init(&mb, 10);
	ev->call = c;
	mb_push(&mb, ev_n(1));
	mb_push(&mb, ev);
	mb_push(&mb, ev_n(2));
	mb_fini(&mb);
	cr_expect_eq(node_call_wait(c, 1000), LEDGE_OK,
	    "a call left in a mailbox is answered");
	cr_expect_eq(c->reply.err, LEDGE_ECLOSED);
	node_call_unref(c);
}

/*
 * Producers on several threads, one worker that runs only when handed
 * the instance (a semaphore post per mb_push that returned true), as the
 * scheduler does.  Every event arrives, in order per producer, and the
 * instance is never handed out twice at once.
 */
#define PRODUCERS    4
#define PER_PRODUCER 20000

struct mb_race {
	struct node_mailbox mb;
	sem_t runnable;
	atomic_int wakes;
};

struct producer {
	struct mb_race *r;
	uint32_t id;
};

static void *
produce(void *p)
{
	struct producer *pr = p;

	for (uint32_t i = 0; i < PER_PRODUCER; i++) {
		struct node_event *ev =
		    node_event_new(NE_CAST, pr->id, &i, sizeof i);
		if (ev == NULL) {
			abort();
		}
		if (mb_push(&pr->r->mb, ev)) {
			atomic_fetch_add(&pr->r->wakes, 1);
			sem_post(&pr->r->runnable);
		}
	}
	return NULL;
}

Test(node_instance, concurrent_producers_and_one_worker)
{
	struct mb_race r;
	struct producer prs[PRODUCERS];
	pthread_t th[PRODUCERS];
	uint32_t next[PRODUCERS] = { 0 };
	size_t got = 0;
	int runs = 0, double_handoff = 0, out_of_order = 0;

	mb_init(&r.mb, 100);
	sem_init(&r.runnable, 0, 0);
	atomic_init(&r.wakes, 0);
	for (int i = 0; i < PRODUCERS; i++) {
		prs[i].r = &r;
		prs[i].id = (uint32_t)i;
		cr_assert_eq(pthread_create(&th[i], NULL, produce, &prs[i]), 0);
	}
	while (got < (size_t)PRODUCERS * PER_PRODUCER) {
		struct timespec deadline;
		int sv;
		clock_gettime(CLOCK_REALTIME, &deadline);
		deadline.tv_sec += 10;
		if (sem_timedwait(&r.runnable, &deadline) != 0) {
			cr_assert_fail("events waiting but the instance was "
			               "never handed out (got %zu)",
			    got);
		}
		runs++;
		sem_getvalue(&r.runnable, &sv);
		if (sv > 0) {
			double_handoff++;
		}
		for (;;) {
			struct node_event *list;
			size_t n = mb_take(&r.mb, &list, 32);
			cr_assert_gt(n, 0, "handed out with nothing to run");
			for (struct node_event *ev = list; ev; ev = ev->next) {
				uint32_t seq;
				memcpy(&seq, ev->data, sizeof seq);
				if (seq != next[ev->target]) {
					out_of_order++;
				}
				next[ev->target] = seq + 1;
				got++;
			}
			free_list(list);
			if (!mb_more(&r.mb)) {
				break;
			}
		}
	}
	for (int i = 0; i < PRODUCERS; i++) {
		pthread_join(th[i], NULL);
	}
	cr_expect_eq(out_of_order, 0);
	cr_expect_eq(
	    double_handoff, 0, "the instance was handed out while running");
	cr_expect_eq(atomic_load(&r.wakes), runs);
	cr_expect_eq(mb_depth(&r.mb), 0);
	cr_log_info("%d runs for %zu events", runs, got);
	sem_destroy(&r.runnable);
	mb_fini(&r.mb);
}

/* --- outputs ----------------------------------------------------------- */

Test(node_instance, output_by_name)
{
	struct node_instance inst;
	struct node_output outs[2] = { { "out", 0, NULL }, { "err", 0, NULL } };

	memset(&inst, 0, sizeof inst);
	inst.outputs = outs;
	inst.noutputs = 2;
	cr_expect_eq(instance_output(&inst, "out"), &outs[0]);
	cr_expect_eq(instance_output(&inst, "err"), &outs[1]);
	cr_expect_null(instance_output(&inst, "ou"));
	cr_expect_null(instance_output(&inst, "outs"));
	inst.noutputs = 0;
	cr_expect_null(instance_output(&inst, "out"));
}

/* --- the write-behind cache ----------------------------------------- */

static struct node_instance inst;

static void
inst_setup(void)
{
	memset(&inst, 0, sizeof inst);
	hmap_init(&inst.dirty);
}

static void
inst_teardown(void)
{
	instance_dirty_clear(&inst);
	hmap_fini(&inst.dirty);
}

/* A write made by record `seq`, as the host records it: the cache entry
 * and the instance's last record. */
static void
dirty_put(uint64_t seq, const char *key, const char *val, bool del)
{
	cr_assert_eq(instance_dirty_put(&inst, seq, key, strlen(key), val,
	                 val ? strlen(val) : 0, del),
	    LEDGE_OK);
	if (seq > inst.last_seq) {
		inst.last_seq = seq;
	}
}

static bool
dirty_is(const char *key, const char *val)
{
	const struct node_dirty *d =
	    instance_dirty_get(&inst, key, strlen(key));
	if (d == NULL) {
		return false;
	}
	if (val == NULL) {
		return d->del;
	}
	return !d->del && d->vlen == strlen(val) &&
	    memcmp(d->bytes + d->klen, val, d->vlen) == 0;
}

Test(node_instance, dirty_put_get, .init = inst_setup, .fini = inst_teardown)
{
	const struct node_dirty *d;

	cr_expect_null(instance_dirty_get(&inst, "a", 1));
	dirty_put(1, "a", "one", false);
	dirty_put(2, "b", "two", false);
	dirty_put(3, "c", NULL, true);
	cr_expect(dirty_is("a", "one"));
	cr_expect(dirty_is("b", "two"));
	cr_expect(dirty_is("c", NULL), "a cached delete");
	cr_expect_null(instance_dirty_get(&inst, "d", 1));
	cr_expect_null(instance_dirty_get(&inst, "ab", 2));

	d = instance_dirty_get(&inst, "a", 1);
	cr_assert_not_null(d);
	cr_expect_eq(d->seq, 1);
	cr_expect_eq(d->klen, 1);
	cr_expect(memcmp(d->bytes, "a", 1) == 0);

	/* A later write replaces the entry. */
	dirty_put(4, "a", "uno, again", false);
	cr_expect(dirty_is("a", "uno, again"));
	cr_expect_eq(instance_dirty_get(&inst, "a", 1)->seq, 4);
	dirty_put(5, "a", NULL, true);
	cr_expect(dirty_is("a", NULL));
	dirty_put(6, "c", "back", false);
	cr_expect(dirty_is("c", "back"));
}

Test(
    node_instance, dirty_binary_keys, .init = inst_setup, .fini = inst_teardown)
{
	const unsigned char k1[3] = { 0, 1, 0 }, k2[2] = { 0, 1 };

	cr_assert_eq(instance_dirty_put(&inst, 1, k1, 3, "x", 1, false), 0);
	cr_assert_eq(instance_dirty_put(&inst, 1, k2, 2, "", 0, false), 0);
	inst.last_seq = 1;
	cr_assert_not_null(instance_dirty_get(&inst, k1, 3));
	cr_expect_eq(instance_dirty_get(&inst, k1, 3)->vlen, 1);
	cr_assert_not_null(instance_dirty_get(&inst, k2, 2));
	cr_expect_eq(instance_dirty_get(&inst, k2, 2)->vlen, 0,
	    "an empty value is a value");
	cr_expect_not(instance_dirty_get(&inst, k2, 2)->del);
	cr_expect_null(instance_dirty_get(&inst, k1, 1));
}

Test(node_instance, dirty_evict_by_seq, .init = inst_setup,
    .fini = inst_teardown)
{
	dirty_put(1, "a", "1", false);
	dirty_put(2, "b", "2", false);
	dirty_put(3, "c", NULL, true);
	dirty_put(4, "d", "4", false);
	dirty_put(5, "a", "5", false); /* rewritten by a later record */

	instance_dirty_evict(&inst, 0);
	cr_expect(dirty_is("a", "5") && dirty_is("b", "2") &&
	    dirty_is("c", NULL) && dirty_is("d", "4"));
	instance_dirty_evict(&inst, 2);
	cr_expect(dirty_is("a", "5"), "a's latest write (5) is not durable");
	cr_expect_null(instance_dirty_get(&inst, "b", 1), "b (2) is durable");
	cr_expect(dirty_is("c", NULL));
	cr_expect(dirty_is("d", "4"));
	instance_dirty_evict(&inst, 3);
	cr_expect_null(instance_dirty_get(&inst, "c", 1));
	cr_expect(dirty_is("d", "4"));
	instance_dirty_evict(&inst, 4);
	cr_expect_null(instance_dirty_get(&inst, "d", 1));
	cr_expect(dirty_is("a", "5"));
	cr_expect_eq(inst.dirty.count, 1);
	instance_dirty_evict(&inst, 5);
	cr_expect_null(instance_dirty_get(&inst, "a", 1));
	cr_expect_eq(inst.dirty.count, 0);

	/* The cache keeps working after emptying. */
	dirty_put(6, "e", "6", false);
	cr_expect(dirty_is("e", "6"));
	instance_dirty_evict(&inst, 100);
	cr_expect_null(instance_dirty_get(&inst, "e", 1));
}

Test(node_instance, dirty_evict_many, .init = inst_setup, .fini = inst_teardown)
{
	char key[16];

	for (int i = 1; i <= 2000; i++) {
		snprintf(key, sizeof key, "k%d", i);
		dirty_put((uint64_t)i, key, key, false);
	}
	instance_dirty_evict(&inst, 1000);
	cr_expect_eq(inst.dirty.count, 1000);
	for (int i = 1; i <= 2000; i++) {
		snprintf(key, sizeof key, "k%d", i);
		if (i <= 1000) {
			cr_expect_null(
			    instance_dirty_get(&inst, key, strlen(key)));
		} else {
			cr_expect(dirty_is(key, key), "%s lost", key);
		}
	}
}

Test(node_instance, dirty_clear, .init = inst_setup, .fini = inst_teardown)
{
	for (int i = 0; i < 100; i++) {
		char key[16];
		snprintf(key, sizeof key, "k%d", i);
		dirty_put(7, key, "v", i % 2);
	}
	instance_dirty_clear(&inst);
	cr_expect_eq(inst.dirty.count, 0);
	cr_expect_null(instance_dirty_get(&inst, "k1", 2));
	dirty_put(8, "k1", "again", false);
	cr_expect(dirty_is("k1", "again"));
}
