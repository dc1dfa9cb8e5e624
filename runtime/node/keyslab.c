/*
 * keyslab.c - slabs for key instances (keyslab.h).
 */
#include <string.h>
#include <sys/mman.h>

#include "node/keyslab.h"

/* LeakSanitizer looks for pointers in the heap, stacks and globals, not
 * in memory a program maps itself: a slab's instances point at heap
 * memory (caches, code), so under ASan each slab is a root region. */
#if defined(__SANITIZE_ADDRESS__)
#define KS_LSAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define KS_LSAN 1
#endif
#endif
#ifdef KS_LSAN
#include <sanitizer/lsan_interface.h>
#define ROOT_ADD(p, n) __lsan_register_root_region((p), (n))
#define ROOT_DEL(p, n) __lsan_unregister_root_region((p), (n))
#else
#define ROOT_ADD(p, n) ((void)(p), (void)(n))
#define ROOT_DEL(p, n) ((void)(p), (void)(n))
#endif

/* A slab: this header, then `per` slots. */
#define SLAB_BYTES (128u << 10)

struct kslab {
	struct kslab *prev, *next; /* on avail while it has a free slot */
	void *free;                /* free slots, linked through themselves */
	size_t used;               /* slots given out */
	size_t fresh;              /* slots never given out yet: from here */
	unsigned char *slots;
};

void
keyslab_init(struct keyslab *s, size_t size)
{
	memset(s, 0, sizeof *s);
	s->size = (size + 15) & ~(size_t)15;
	s->per = (SLAB_BYTES - sizeof(struct kslab) - 16) / s->size;
}

static void
avail_unlink(struct keyslab *s, struct kslab *b)
{
	if (b->prev != NULL) {
		b->prev->next = b->next;
	} else {
		s->avail = b->next;
	}
	if (b->next != NULL) {
		b->next->prev = b->prev;
	}
	b->prev = b->next = NULL;
}

static void
avail_push(struct keyslab *s, struct kslab *b)
{
	b->prev = NULL;
	b->next = s->avail;
	if (s->avail != NULL) {
		s->avail->prev = b;
	}
	s->avail = b;
}

void *
keyslab_alloc(struct keyslab *s, struct kslab **slab)
{
	struct kslab *b = s->avail;
	void *p;

	if (b == NULL) {
		void *m = mmap(NULL, SLAB_BYTES, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (m == MAP_FAILED) {
			return NULL;
		}
		ROOT_ADD(m, SLAB_BYTES);
		b = m; /* zeroed by the system */
		b->slots =
		    (unsigned char *)m + ((sizeof *b + 15) & ~(size_t)15);
		avail_push(s, b);
		s->slabs++;
	}
	if (b->free != NULL) {
		p = b->free;
		memcpy(&b->free, p, sizeof b->free);
		memset(p, 0, s->size);
	} else {
		p = b->slots + b->fresh++ * s->size; /* still zero */
	}
	if (++b->used == s->per) {
		avail_unlink(s, b);
	}
	*slab = b;
	return p;
}

void
keyslab_free(struct keyslab *s, struct kslab *b, void *p)
{
	if (b->used-- == s->per) {
		avail_push(s, b); /* it was full */
	}
	if (b->used == 0 && s->slabs > 1) {
		/* Empty: back to the system - but the last one stays, so that
		 * one key coming and going does not map a slab each time. */
		avail_unlink(s, b);
		ROOT_DEL(b, SLAB_BYTES);
		munmap(b, SLAB_BYTES);
		s->slabs--;
		return;
	}
	memcpy(p, &b->free, sizeof b->free);
	b->free = p;
}

void
keyslab_fini(struct keyslab *s)
{
	while (s->avail != NULL) {
		struct kslab *b = s->avail;
		avail_unlink(s, b);
		ROOT_DEL(b, SLAB_BYTES);
		munmap(b, SLAB_BYTES);
	}
	s->slabs = 0;
}

size_t
keyslab_bytes(const struct keyslab *s)
{
	return s->slabs * SLAB_BYTES;
}
