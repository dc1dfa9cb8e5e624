/*
 * keytab.c - a keyed part's table of key instances (keytab.h).
 */
#include <stdlib.h>
#include <string.h>

#include "base/hmap.h"
#include "node/instance.h"
#include "node/keytab.h"

void
keytab_init(struct keytab *t)
{
	memset(t, 0, sizeof *t);
}

void
keytab_fini(struct keytab *t)
{
	free(t->slots);
	keytab_init(t);
}

static size_t
home(const struct keytab *t, const void *key, size_t klen)
{
	return (size_t)hmap_hash(key, klen) & (t->cap - 1);
}

static bool
is(const struct node_instance *k, const void *key, size_t klen)
{
	return k->klen == klen && memcmp(k->key, key, klen) == 0;
}

struct node_instance *
keytab_get(const struct keytab *t, const void *key, size_t klen)
{
	if (t->count == 0) {
		return NULL;
	}
	for (size_t i = home(t, key, klen);; i = (i + 1) & (t->cap - 1)) {
		struct node_instance *k = t->slots[i];
		if (k == NULL) {
			return NULL;
		}
		if (is(k, key, klen)) {
			return k;
		}
	}
}

/* Put k in the first free slot from its home (there is one). */
static void
place(struct keytab *t, struct node_instance *k)
{
	size_t i = home(t, k->key, k->klen);
	while (t->slots[i] != NULL) {
		i = (i + 1) & (t->cap - 1);
	}
	t->slots[i] = k;
}

static int
resize(struct keytab *t, size_t ncap)
{
	struct node_instance **old = t->slots;
	size_t ocap = t->cap;

	if ((t->slots = calloc(ncap, sizeof *t->slots)) == NULL) {
		t->slots = old;
		return LEDGE_ENOMEM;
	}
	t->cap = ncap;
	for (size_t i = 0; i < ocap; i++) {
		if (old[i] != NULL) {
			place(t, old[i]);
		}
	}
	free(old);
	return LEDGE_OK;
}

int
keytab_put(struct keytab *t, struct node_instance *k)
{
	if ((t->count + 1) * 4 > t->cap * 3 &&
	    resize(t, t->cap ? t->cap * 2 : 16) != LEDGE_OK) {
		return LEDGE_ENOMEM;
	}
	place(t, k);
	t->count++;
	return LEDGE_OK;
}

void
keytab_del(struct keytab *t, struct node_instance *k)
{
	size_t mask = t->cap - 1, i = home(t, k->key, k->klen);

	while (t->slots[i] != k) {
		i = (i + 1) & mask;
	}
	/* Shift back the entries after it that would no longer be found. */
	for (size_t j = (i + 1) & mask; t->slots[j] != NULL;
	     j = (j + 1) & mask) {
		size_t h = home(t, t->slots[j]->key, t->slots[j]->klen);
		/* j's entry may move to i if its home is not in (i, j]. */
		if (((j - h) & mask) >= ((j - i) & mask)) {
			t->slots[i] = t->slots[j];
			i = j;
		}
	}
	t->slots[i] = NULL;
	t->count--;
}

void
keytab_shrink(struct keytab *t)
{
	size_t ncap = 16;

	if (t->count == 0) {
		keytab_fini(t);
		return;
	}
	while (ncap * 3 / 8 < t->count) {
		ncap *= 2; /* about half full after */
	}
	if (ncap < t->cap) {
		resize(t, ncap);
	}
}
