/*
 * keylist.h - a page of instance keys gathered from several places (the
 * slots of a keyed function, on one node or many), put in the store's
 * order so that the caller can cut it to a page.
 *
 * Store order is the order `ledge state keys` pages in: shorter keys
 * first, then bytewise.  A keylist starts zeroed; keylist_add copies the
 * bytes; keylist_sort orders them and drops duplicates.  An allocation
 * failure is remembered (`oom`) and the keys added after it are lost, so
 * a caller checks once at the end.
 *
 * Not thread-safe: a keylist belongs to one thread at a time.
 */
#ifndef LEDGE_BASE_KEYLIST_H
#define LEDGE_BASE_KEYLIST_H

#include <stdbool.h>
#include <stddef.h>

struct keylist_ent {
	unsigned char *p; /* owned */
	size_t len;
};

struct keylist {
	struct keylist_ent *v; /* owned */
	size_t n, cap;
	bool more; /* a source had keys past the ones it gave */
	bool oom;
};

/* Append a copy of the `len` bytes at p. */
void keylist_add(struct keylist *kl, const void *p, size_t len);

/* Put the keys in store order, each once. */
void keylist_sort(struct keylist *kl);

/* Compare two keys in store order (<0, 0, >0). */
int keylist_cmp(const void *a, size_t alen, const void *b, size_t blen);

/* Free the keys (the keylist is zeroed again). */
void keylist_fini(struct keylist *kl);

#endif
