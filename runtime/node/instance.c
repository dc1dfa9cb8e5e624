#include <stdlib.h>
#include <string.h>

#include "node/instance.h"

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
		if (inst->part != NULL) {
			/* A key instance holds no table while idle: there
			 * may be a million of them. */
			hmap_shrink(&inst->dirty);
		}
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
