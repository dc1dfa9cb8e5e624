#include <stdalign.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/arena.h"

struct arena_block {
	struct arena_block *next;
	size_t size; /* usable bytes in data */
	size_t used;
	alignas(max_align_t) unsigned char data[];
};

void
arena_init(struct arena *a, size_t block_size)
{
	a->head = NULL;
	a->block_size = block_size ? block_size : 16384;
}

static void
free_blocks(struct arena_block *b)
{
	while (b != NULL) {
		struct arena_block *next = b->next;
		free(b);
		b = next;
	}
}

void
arena_fini(struct arena *a)
{
	free_blocks(a->head);
	a->head = NULL;
}

void
arena_reset(struct arena *a)
{
	struct arena_block *keep;

	if (a->head == NULL) {
		return;
	}
	/* Keep the last (oldest) ordinary-sized block. */
	keep = a->head;
	while (keep->next != NULL) {
		keep = keep->next;
	}
	if (keep->size != a->block_size) {
		keep = NULL;
	}
	for (struct arena_block *b = a->head; b != NULL;) {
		struct arena_block *next = b->next;
		if (b != keep) {
			free(b);
		}
		b = next;
	}
	a->head = keep;
	if (keep != NULL) {
		keep->used = 0;
		keep->next = NULL;
	}
}

void *
arena_alloc(struct arena *a, size_t n)
{
	const size_t align = alignof(max_align_t);
	struct arena_block *b = a->head;
	size_t need = (n + align - 1) & ~(align - 1);

	if (need < n) {
		return NULL;
	}
	if (b == NULL || b->size - b->used < need) {
		size_t size = need > a->block_size ? need : a->block_size;
		if (size > SIZE_MAX - sizeof *b) {
			return NULL;
		}
		b = malloc(sizeof *b + size);
		if (b == NULL) {
			return NULL;
		}
		b->size = size;
		b->used = 0;
		b->next = a->head;
		a->head = b;
	}
	void *p = b->data + b->used;
	b->used += need;
	return p;
}

void *
arena_dup(struct arena *a, const void *p, size_t n)
{
	unsigned char *q;
	if (n == SIZE_MAX || (q = arena_alloc(a, n + 1)) == NULL) {
		return NULL;
	}
	if (n > 0) {
		memcpy(q, p, n);
	}
	q[n] = '\0';
	return q;
}

char *
arena_strdup(struct arena *a, const char *s)
{
	return arena_dup(a, s, strlen(s));
}
