/*
 * keyslab.h - the memory of a keyed part's key instances: slabs of
 * equal slots taken straight from the system (mmap), a slab given back
 * (munmap) as soon as its last key is passivated.
 *
 * Key instances live long and come in waves of thousands; the small
 * allocations each of their events makes and frees (caches, events)
 * would otherwise be interleaved with them in the heap, and the holes
 * they leave keep whole pages resident after the instances go.  In
 * slabs, instances sit together and leave nothing behind.
 *
 * A slot is `size` bytes (an instance and room for a short key).  Not
 * thread-safe: its part's mutex (keyed.c) guards it.
 */
#ifndef LEDGE_NODE_KEYSLAB_H
#define LEDGE_NODE_KEYSLAB_H

#include <stddef.h>

struct kslab;

struct keyslab {
	size_t size;         /* bytes a slot */
	size_t per;          /* slots a slab */
	struct kslab *avail; /* slabs with a free slot */
	size_t slabs;        /* slabs held */
};

/* Slots of `size` bytes (rounded up to 16). */
void keyslab_init(struct keyslab *s, size_t size);

/* A zeroed slot, or NULL when the system has no memory.  *slab is set
 * to what keyslab_free needs back. */
void *keyslab_alloc(struct keyslab *s, struct kslab **slab);

/* Give slot p (from slab) back; an empty slab goes back to the system
 * (but for the last one, kept until keyslab_fini). */
void keyslab_free(struct keyslab *s, struct kslab *slab, void *p);

/* Give back the slab kept empty (every slot must be free). */
void keyslab_fini(struct keyslab *s);

/* Bytes held from the system. */
size_t keyslab_bytes(const struct keyslab *s);

#endif
