/*
 * mailbox.c - an instance's queue of events (mailbox.h).
 */
#include <stdlib.h>
#include <string.h>

#include "node/mailbox.h"
#include "node/node_event.h"

void
mb_init(struct node_mailbox *mb, uint32_t cap)
{
	memset(mb, 0, sizeof *mb);
	pthread_mutex_init(&mb->mu, NULL);
	mb->cap = cap;
}

void
mb_fini(struct node_mailbox *mb)
{
	struct node_event *ev = mb->head;
	while (ev != NULL) {
		struct node_event *next = ev->next;
		node_event_free(ev);
		ev = next;
	}
	mb->head = mb->tail = NULL;
	pthread_mutex_destroy(&mb->mu);
}

int
mb_reserve(struct node_mailbox *mb, uint32_t limit)
{
	int rv = LEDGE_OK;
	pthread_mutex_lock(&mb->mu);
	if (mb->closed) {
		rv = LEDGE_ECLOSED;
	} else if (mb->depth >= limit) {
		rv = LEDGE_EFULL;
	} else {
		mb->depth++;
	}
	pthread_mutex_unlock(&mb->mu);
	return rv;
}

void
mb_unreserve(struct node_mailbox *mb)
{
	pthread_mutex_lock(&mb->mu);
	mb->depth--;
	pthread_mutex_unlock(&mb->mu);
}

bool
mb_push(struct node_mailbox *mb, struct node_event *ev)
{
	bool wake;
	ev->next = NULL;
	pthread_mutex_lock(&mb->mu);
	if (!(ev->flags & NEF_RESERVED)) {
		mb->depth++;
	}
	ev->flags &= (uint8_t)~NEF_RESERVED;
	if (mb->tail != NULL) {
		mb->tail->next = ev;
	} else {
		mb->head = ev;
	}
	mb->tail = ev;
	wake = !mb->scheduled;
	mb->scheduled = true;
	pthread_mutex_unlock(&mb->mu);
	return wake;
}

bool
mb_try_claim(struct node_mailbox *mb)
{
	bool ok;
	pthread_mutex_lock(&mb->mu);
	ok = !mb->scheduled && mb->head == NULL && !mb->closed;
	if (ok) {
		mb->scheduled = true;
	}
	pthread_mutex_unlock(&mb->mu);
	return ok;
}

void
mb_push_front(struct node_mailbox *mb, struct node_event *ev)
{
	pthread_mutex_lock(&mb->mu);
	if (!(ev->flags & NEF_RESERVED)) {
		mb->depth++;
	}
	ev->flags &= (uint8_t)~NEF_RESERVED;
	ev->next = mb->head;
	mb->head = ev;
	if (mb->tail == NULL) {
		mb->tail = ev;
	}
	pthread_mutex_unlock(&mb->mu);
}

size_t
mb_take(struct node_mailbox *mb, struct node_event **list, size_t max)
{
	size_t n = 0;
	struct node_event *ev, *last = NULL;

	pthread_mutex_lock(&mb->mu);
	ev = mb->head;
	while (ev != NULL && n < max) {
		last = ev;
		ev = ev->next;
		n++;
	}
	if (n == 0) {
		mb->scheduled = false;
		*list = NULL;
	} else {
		*list = mb->head;
		last->next = NULL;
		mb->head = ev;
		if (ev == NULL) {
			mb->tail = NULL;
		}
		mb->depth -= (uint32_t)n;
	}
	pthread_mutex_unlock(&mb->mu);
	return n;
}

bool
mb_more(struct node_mailbox *mb)
{
	bool more;
	pthread_mutex_lock(&mb->mu);
	more = mb->head != NULL;
	if (!more) {
		mb->scheduled = false;
	}
	pthread_mutex_unlock(&mb->mu);
	return more;
}

uint32_t
mb_depth(struct node_mailbox *mb)
{
	uint32_t d;
	pthread_mutex_lock(&mb->mu);
	d = mb->depth;
	pthread_mutex_unlock(&mb->mu);
	return d;
}

void
mb_push_front_list(struct node_mailbox *mb, struct node_event *list)
{
	struct node_event *last = list;
	size_t n = 0;
	if (list == NULL) {
		return;
	}
	for (struct node_event *e = list; e != NULL; e = e->next) {
		last = e;
		n++;
	}
	pthread_mutex_lock(&mb->mu);
	last->next = mb->head;
	mb->head = list;
	if (mb->tail == NULL) {
		mb->tail = last;
	}
	mb->depth += (uint32_t)n;
	pthread_mutex_unlock(&mb->mu);
}

struct node_event *
mb_drain(struct node_mailbox *mb, size_t *n)
{
	struct node_event *list;
	size_t count = 0;
	pthread_mutex_lock(&mb->mu);
	list = mb->head;
	for (struct node_event *e = list; e != NULL; e = e->next) {
		count++;
	}
	mb->head = mb->tail = NULL;
	mb->depth -= (uint32_t)count;
	pthread_mutex_unlock(&mb->mu);
	*n = count;
	return list;
}
