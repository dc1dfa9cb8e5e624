/*
 * arena_test.c - the per-handler bump allocator (runtime/base/arena.h):
 * alignment of every allocation, allocations larger than a block, reset
 * and reuse, and the copying helpers.  Overruns and leaks show up in the
 * sanitizer tree.
 */
#include <criterion/criterion.h>
#include <stdalign.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/arena.h"

TestSuite(arena, .timeout = 60);

struct span {
	unsigned char *p;
	size_t n;
	unsigned char fill;
};

static bool
aligned(const void *p)
{
	return (uintptr_t)p % alignof(max_align_t) == 0;
}

/* Allocate `count` blocks of varying sizes, fill each with its own byte,
 * then check none was overwritten by another. */
static void
alloc_and_check(struct arena *a, int count, size_t max)
{
	struct span *s = calloc((size_t)count, sizeof *s);
	unsigned int x = 7;

	cr_assert_not_null(s);
	for (int i = 0; i < count; i++) {
		x = x * 1103515245u + 12345u;
		s[i].n = (x >> 8) % max + 1;
		s[i].fill = (unsigned char)(i * 37 + 1);
		s[i].p = arena_alloc(a, s[i].n);
		cr_assert_not_null(
		    s[i].p, "allocation %d of %zu bytes", i, s[i].n);
		cr_assert(aligned(s[i].p),
		    "allocation %d (%zu bytes) at %p "
		    "is not aligned to %zu",
		    i, s[i].n, (void *)s[i].p, alignof(max_align_t));
		memset(s[i].p, s[i].fill, s[i].n);
	}
	for (int i = 0; i < count; i++) {
		for (size_t j = 0; j < s[i].n; j++) {
			cr_assert_eq(s[i].p[j], s[i].fill,
			    "allocation %d overwritten at byte %zu", i, j);
		}
	}
	free(s);
}

Test(arena, every_allocation_is_aligned)
{
	struct arena a;

	arena_init(&a, 1024);
	for (size_t n = 0; n <= 300; n++) {
		void *p = arena_alloc(&a, n);
		cr_assert_not_null(p, "%zu bytes", n);
		cr_assert(aligned(p), "%zu bytes at %p", n, p);
		if (n > 0) {
			memset(p, 0xee, n);
		}
		/* A max_align_t-typed object must fit at p. */
		if (n >= sizeof(max_align_t)) {
			max_align_t v;
			memset(&v, 0, sizeof v);
			memcpy(p, &v, sizeof v);
		}
	}
	arena_fini(&a);
}

Test(arena, allocations_do_not_overlap)
{
	struct arena a;

	arena_init(&a, 4096);
	alloc_and_check(&a, 2000, 200);
	arena_fini(&a);
}

Test(arena, larger_than_a_block)
{
	struct arena a;
	unsigned char *small1, *big, *small2, *huge;

	arena_init(&a, 256);
	small1 = arena_alloc(&a, 100);
	big = arena_alloc(&a, 100000);
	small2 = arena_alloc(&a, 100);
	huge = arena_alloc(&a, 8u << 20);
	cr_assert(small1 && big && small2 && huge);
	cr_expect(aligned(big) && aligned(huge) && aligned(small2));
	memset(small1, 1, 100);
	memset(big, 2, 100000);
	memset(small2, 3, 100);
	memset(huge, 4, 8u << 20);
	cr_expect_eq(small1[99], 1);
	cr_expect_eq(big[0], 2);
	cr_expect_eq(big[99999], 2);
	cr_expect_eq(small2[0], 3);
	cr_expect_eq(huge[(8u << 20) - 1], 4);
	alloc_and_check(&a, 200, 1000);
	arena_fini(&a);
}

Test(arena, reset_keeps_working)
{
	struct arena a;

	arena_init(&a, 512);
	for (int round = 0; round < 200; round++) {
		alloc_and_check(&a, 50, round % 2 ? 100 : 2000);
		if (round % 7 == 0) {
			unsigned char *big = arena_alloc(&a, 50000);
			cr_assert_not_null(big);
			memset(big, 9, 50000);
		}
		arena_reset(&a);
	}
	arena_reset(&a);
	arena_reset(&a); /* twice in a row */
	alloc_and_check(&a, 10, 10);
	arena_fini(&a);
}

Test(arena, reset_after_only_a_large_allocation)
{
	struct arena a;
	void *p;

	arena_init(&a, 128);
	cr_assert_not_null(arena_alloc(&a, 10000));
	arena_reset(&a);
	p = arena_alloc(&a, 16);
	cr_assert_not_null(p);
	cr_expect(aligned(p));
	alloc_and_check(&a, 100, 300);
	arena_fini(&a);
}

Test(arena, reset_on_a_fresh_arena_and_fini_twice)
{
	struct arena a;

	arena_init(&a, 0); /* the default block size */
	cr_expect_gt(a.block_size, 0);
	arena_reset(&a);
	alloc_and_check(&a, 100, 500);
	arena_fini(&a);
	arena_fini(&a);
}

Test(arena, impossible_sizes_fail_cleanly)
{
	struct arena a;

	arena_init(&a, 1024);
	cr_expect_null(arena_alloc(&a, SIZE_MAX));
	cr_expect_null(arena_alloc(&a, SIZE_MAX - 1));
	cr_expect_null(arena_alloc(&a, SIZE_MAX - alignof(max_align_t)));
	cr_expect_null(arena_dup(&a, "x", SIZE_MAX));
	/* The arena is still usable. */
	alloc_and_check(&a, 20, 100);
	arena_fini(&a);
}

Test(arena, dup_copies_and_terminates)
{
	struct arena a;
	const unsigned char bin[5] = { 'a', 0, 'b', 0, 'c' };
	unsigned char *d;
	char *s;

	arena_init(&a, 64);
	d = arena_dup(&a, bin, sizeof bin);
	cr_assert_not_null(d);
	cr_expect(memcmp(d, bin, sizeof bin) == 0, "NUL bytes inside are kept");
	cr_expect_eq(d[5], 0, "a NUL follows the copy");
	cr_expect(aligned(d));

	d = arena_dup(&a, "", 0);
	cr_assert_not_null(d);
	cr_expect_eq(d[0], 0);

	s = arena_strdup(&a, "hello, arena");
	cr_assert_not_null(s);
	cr_expect_str_eq(s, "hello, arena");
	s = arena_strdup(&a, "");
	cr_assert_not_null(s);
	cr_expect_str_eq(s, "");

	/* Longer than a block. */
	{
		char big[1000];
		memset(big, 'z', sizeof big - 1);
		big[sizeof big - 1] = '\0';
		s = arena_strdup(&a, big);
		cr_assert_not_null(s);
		cr_expect_str_eq(s, big);
		cr_expect_neq(s, big);
	}
	arena_fini(&a);
}
