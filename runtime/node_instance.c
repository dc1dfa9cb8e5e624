#include <stdlib.h>
#include <string.h>

#include "node_instance.h"

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

/* Longest chain of parked instances followed when looking for a cycle. */
#define PARK_DEPTH 64

bool
instance_park(struct node_instance *producer, struct node_instance *target)
{
	bool parked = false;
	struct node_instance *t = target;

	/* Publish first, then look (as for call cycles): of two instances
	 * parking on each other at once, at least one sees the other. */
	atomic_store(&producer->parked_on, target);
	for (int i = 0; t != NULL && i < PARK_DEPTH; i++) {
		if (t == producer) {
			atomic_store(&producer->parked_on, NULL);
			return false;
		}
		t = atomic_load(&t->parked_on);
	}
	pthread_mutex_lock(&target->mb.mu);
	if (target->mb.depth > target->mb.cap) {
		producer->wait_next = atomic_load(&target->waiters);
		atomic_store(&target->waiters, producer);
		parked = true;
	}
	pthread_mutex_unlock(&target->mb.mu);
	if (!parked) {
		atomic_store(&producer->parked_on, NULL);
	}
	return parked;
}

struct node_instance *
instance_drained(struct node_instance *target)
{
	struct node_instance *list = NULL;
	if (atomic_load_explicit(&target->waiters, memory_order_relaxed) ==
	    NULL) {
		return NULL; /* a peek without the lock; the lock decides */
	}
	pthread_mutex_lock(&target->mb.mu);
	if (target->mb.depth <= target->mb.cap / 2) {
		list = atomic_exchange(&target->waiters, NULL);
	}
	pthread_mutex_unlock(&target->mb.mu);
	return list;
}

const struct node_output *
instance_output(const struct node_instance *inst, const char *name)
{
	for (size_t i = 0; i < inst->noutputs; i++) {
		if (strcmp(inst->outputs[i].name, name) == 0) {
			return &inst->outputs[i];
		}
	}
	return NULL;
}

const struct node_dirty *
instance_dirty_get(struct node_instance *inst, const void *key, size_t klen)
{
	return hmap_get(&inst->dirty, key, klen);
}

int
instance_dirty_put(struct node_instance *inst, uint64_t seq, const void *key,
    size_t klen, const void *val, size_t vlen, bool del)
{
	struct node_dirty *d = malloc(sizeof *d + klen + vlen);
	void *old;
	if (d == NULL) {
		return LEDGE_ENOMEM;
	}
	d->seq = seq;
	d->klen = (uint32_t)klen;
	d->vlen = (uint32_t)vlen;
	d->del = del;
	memcpy(d->bytes, key, klen);
	if (vlen) {
		memcpy(d->bytes + klen, val, vlen);
	}
	if (hmap_put(&inst->dirty, d->bytes, klen, d, &old) != 0) {
		free(d);
		return LEDGE_ENOMEM;
	}
	free(old);
	return LEDGE_OK;
}

void
instance_dirty_evict(struct node_instance *inst, uint64_t durable)
{
	struct hmap_slot *s;
	size_t pos = 0;
	if (inst->dirty.count == 0) {
		return;
	}
	if (inst->last_seq <= durable) {
		instance_dirty_clear(inst);
		return;
	}
	while ((s = hmap_next(&inst->dirty, &pos)) != NULL) {
		struct node_dirty *d = s->value;
		if (d->seq <= durable) {
			hmap_del(&inst->dirty, d->bytes, d->klen);
			free(d);
		}
	}
}

void
instance_dirty_clear(struct node_instance *inst)
{
	struct hmap_slot *s;
	size_t pos = 0;
	while ((s = hmap_next(&inst->dirty, &pos)) != NULL) {
		free(s->value);
	}
	hmap_clear(&inst->dirty);
}
