/*
 * arena.h - a bump allocator for memory that lives exactly as long as one
 * handler invocation (the write set, replies, strings handed to a
 * function).  arena_reset() frees everything at once and keeps the first
 * block for reuse, so a steady stream of small events allocates nothing.
 * Not thread-safe: an arena belongs to one worker.
 */
#ifndef LEDGE_BASE_ARENA_H
#define LEDGE_BASE_ARENA_H

#include <stddef.h>

struct arena_block;

struct arena {
	struct arena_block *head; /* current block; older ones follow */
	size_t block_size;        /* size of ordinary blocks */
};

void arena_init(struct arena *a, size_t block_size);
void arena_fini(struct arena *a);

/* Free everything allocated since the last reset, keep one block. */
void arena_reset(struct arena *a);

/* `n` bytes aligned for any type, or NULL when out of memory. */
void *arena_alloc(struct arena *a, size_t n);

/* A copy of `n` bytes (plus a NUL after them), or NULL. */
void *arena_dup(struct arena *a, const void *p, size_t n);

/* A copy of a C string, or NULL. */
char *arena_strdup(struct arena *a, const char *s);

#endif
