#include <stdlib.h>
#include <string.h>

#include <ledge.h>

#include "base/hmap.h"

#define EMPTY   0
#define DELETED 1

void
hmap_init(struct hmap *m)
{
	memset(m, 0, sizeof *m);
}

void
hmap_fini(struct hmap *m)
{
	free(m->slots);
	memset(m, 0, sizeof *m);
}

uint64_t
hmap_hash(const void *key, size_t klen)
{
	const unsigned char *p = key;
	uint64_t h = 0xcbf29ce484222325ull;
	for (size_t i = 0; i < klen; i++) {
		h ^= p[i];
		h *= 0x100000001b3ull;
	}
	/* Mix the high bits down, since the table uses the low ones. */
	h ^= h >> 29;
	return h < 2 ? h + 2 : h;
}

static struct hmap_slot *
find(const struct hmap *m, uint64_t h, const void *key, size_t klen)
{
	size_t mask = m->cap - 1;
	for (size_t i = h & mask;; i = (i + 1) & mask) {
		struct hmap_slot *s = &m->slots[i];
		if (s->hash == EMPTY) {
			return NULL;
		}
		if (s->hash == h && s->klen == klen &&
		    memcmp(s->key, key, klen) == 0) {
			return s;
		}
	}
}

void *
hmap_get(const struct hmap *m, const void *key, size_t klen)
{
	struct hmap_slot *s;
	if (m->count == 0) {
		return NULL;
	}
	s = find(m, hmap_hash(key, klen), key, klen);
	return s ? s->value : NULL;
}

/* Move every entry into a table of ncap slots: LEDGE_OK, or
 * LEDGE_ENOMEM (map unchanged). */
static int
rehash(struct hmap *m, size_t ncap)
{
	struct hmap_slot *old = m->slots;
	size_t ocap = m->cap;

	m->slots = calloc(ncap, sizeof *m->slots);
	if (m->slots == NULL) {
		m->slots = old;
		return LEDGE_ENOMEM;
	}
	m->cap = ncap;
	m->used = m->count;
	for (size_t i = 0; i < ocap; i++) {
		if (old[i].hash > DELETED) {
			size_t j = old[i].hash & (ncap - 1);
			while (m->slots[j].hash != EMPTY) {
				j = (j + 1) & (ncap - 1);
			}
			m->slots[j] = old[i];
		}
	}
	free(old);
	return LEDGE_OK;
}

/* Room for one more entry: LEDGE_OK, or LEDGE_ENOMEM (map unchanged). */
static int
grow(struct hmap *m)
{
	size_t ncap = m->cap ? m->cap : 8;

	while (ncap * 3 / 4 <= m->count + 1) {
		ncap *= 2;
	}
	if (ncap == m->cap && m->used * 4 < m->cap * 3) {
		return LEDGE_OK;
	}
	return rehash(m, ncap);
}

void
hmap_shrink(struct hmap *m)
{
	size_t ncap = 8;

	if (m->count == 0) {
		hmap_fini(m);
		return;
	}
	while (ncap * 3 / 4 <= m->count + 1) {
		ncap *= 2;
	}
	if (ncap < m->cap) {
		rehash(m, ncap); /* out of memory: it stays as it was */
	}
}

int
hmap_put(struct hmap *m, const void *key, size_t klen, void *value, void **old)
{
	uint64_t h = hmap_hash(key, klen);
	struct hmap_slot *s;

	if (old != NULL) {
		*old = NULL;
	}
	if (m->count > 0 && (s = find(m, h, key, klen)) != NULL) {
		if (old != NULL) {
			*old = s->value;
		}
		s->key = key;
		s->value = value;
		return LEDGE_OK;
	}
	if ((m->used + 1) * 4 >= m->cap * 3 && grow(m) != 0) {
		return LEDGE_ENOMEM;
	}
	size_t mask = m->cap - 1;
	size_t i = h & mask;
	while (m->slots[i].hash > DELETED) {
		i = (i + 1) & mask;
	}
	if (m->slots[i].hash == EMPTY) {
		m->used++;
	}
	m->slots[i] = (struct hmap_slot) { h, key, klen, value };
	m->count++;
	return LEDGE_OK;
}

void *
hmap_del(struct hmap *m, const void *key, size_t klen)
{
	struct hmap_slot *s;
	void *v;
	if (m->count == 0 ||
	    (s = find(m, hmap_hash(key, klen), key, klen)) == NULL) {
		return NULL;
	}
	v = s->value;
	s->hash = DELETED;
	s->key = NULL;
	s->value = NULL;
	m->count--;
	if (m->count == 0) {
		hmap_clear(m);
	}
	return v;
}

void
hmap_clear(struct hmap *m)
{
	if (m->slots != NULL) {
		memset(m->slots, 0, m->cap * sizeof *m->slots);
	}
	m->count = 0;
	m->used = 0;
}

struct hmap_slot *
hmap_next(struct hmap *m, size_t *pos)
{
	while (*pos < m->cap) {
		struct hmap_slot *s = &m->slots[(*pos)++];
		if (s->hash > DELETED) {
			return s;
		}
	}
	return NULL;
}
