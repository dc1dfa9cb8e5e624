/*
 * mailbox_test.c - an instance's mailbox (runtime/node/mailbox.h): FIFO
 * order, the idle/scheduled hand-off that keeps one worker per instance,
 * reservations and limits, and freeing what is queued.
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

#include "node/mailbox.h"
#include "node/node_call.h"
#include "node/node_event.h"

TestSuite(mailbox, .timeout = 60);

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

Test(mailbox, mailbox_is_fifo)
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

Test(mailbox, push_reports_only_the_idle_to_scheduled_step)
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

Test(mailbox, take_on_an_empty_mailbox)
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

Test(mailbox, reserve_up_to_the_limit)
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

Test(mailbox, reserved_pushes_do_not_count_twice)
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

Test(mailbox, closed_mailbox_refuses_reservations_but_queues)
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

Test(mailbox, fini_frees_queued_events_and_fails_calls)
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

Test(mailbox, concurrent_producers_and_one_worker)
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
