/*
 * keylist.c - a page of instance keys in store order (keylist.h).
 */
#include <stdlib.h>
#include <string.h>

#include "base/keylist.h"

void
keylist_add(struct keylist *kl, const void *p, size_t len)
{
	unsigned char *c;

	if (kl->oom) {
		return;
	}
	if (kl->n == kl->cap) {
		size_t cap = kl->cap ? kl->cap * 2 : 64;
		struct keylist_ent *v = realloc(kl->v, cap * sizeof *v);
		if (v == NULL) {
			kl->oom = true;
			return;
		}
		kl->v = v;
		kl->cap = cap;
	}
	if ((c = malloc(len ? len : 1)) == NULL) {
		kl->oom = true;
		return;
	}
	memcpy(c, p, len);
	kl->v[kl->n].p = c;
	kl->v[kl->n++].len = len;
}

int
keylist_cmp(const void *a, size_t alen, const void *b, size_t blen)
{
	if (alen != blen) {
		return alen < blen ? -1 : 1;
	}
	return alen ? memcmp(a, b, alen) : 0;
}

static int
cmp_ent(const void *x, const void *y)
{
	const struct keylist_ent *a = x, *b = y;
	return keylist_cmp(a->p, a->len, b->p, b->len);
}

void
keylist_sort(struct keylist *kl)
{
	size_t k = 0;

	if (kl->n == 0) {
		return;
	}
	qsort(kl->v, kl->n, sizeof *kl->v, cmp_ent);
	for (size_t i = 1; i < kl->n; i++) {
		if (cmp_ent(&kl->v[k], &kl->v[i]) == 0) {
			free(kl->v[i].p);
		} else {
			kl->v[++k] = kl->v[i];
		}
	}
	kl->n = k + 1;
}

void
keylist_fini(struct keylist *kl)
{
	for (size_t i = 0; i < kl->n; i++) {
		free(kl->v[i].p);
	}
	free(kl->v);
	memset(kl, 0, sizeof *kl);
}
