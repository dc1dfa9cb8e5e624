/*
 * hmap.h - an open-addressing hash map from byte strings to pointers.
 *
 * Keys are borrowed: the caller keeps each key's bytes alive (typically
 * inside the value) until it is removed.  Not thread-safe.
 */
#ifndef LEDGE_BASE_HMAP_H
#define LEDGE_BASE_HMAP_H

#include <stddef.h>
#include <stdint.h>

#include <ledge.h>

struct hmap_slot {
	uint64_t hash; /* 0: empty; 1: deleted */
	const void *key;
	size_t klen;
	void *value;
};

struct hmap {
	struct hmap_slot *slots;
	size_t cap;   /* power of two, or 0 */
	size_t count; /* live entries */
	size_t used;  /* live + deleted */
};

void hmap_init(struct hmap *m);
void hmap_fini(struct hmap *m);

/* 64-bit FNV-1a, never 0 or 1 (those mark empty and deleted slots). */
uint64_t hmap_hash(const void *key, size_t klen);

/* The value for a key, or NULL. */
void *hmap_get(const struct hmap *m, const void *key, size_t klen);

/*
 * Insert or replace.  Returns the previous value (NULL if none) in *old
 * when old is not NULL.  Returns LEDGE_OK, or LEDGE_ENOMEM (the map is
 * unchanged then).
 */
int hmap_put(
    struct hmap *m, const void *key, size_t klen, void *value, void **old);

/* Remove a key; returns its value or NULL. */
void *hmap_del(struct hmap *m, const void *key, size_t klen);

/* Remove everything (keeps the table). */
void hmap_clear(struct hmap *m);

/* Give back the room the entries do not need: the smallest table that
 * holds them (none when empty).  Out of memory leaves it as it was. */
void hmap_shrink(struct hmap *m);

/*
 * Iterate: `*pos` starts at 0; returns the next live slot or NULL at the
 * end.  Removing the returned entry during iteration is allowed.
 */
struct hmap_slot *hmap_next(struct hmap *m, size_t *pos);

#endif
