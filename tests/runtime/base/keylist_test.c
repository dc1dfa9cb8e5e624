/*
 * keylist_test.c - keys gathered from several slots (runtime/base/keylist.h):
 * store order (shorter first, then bytes, NULs included), duplicates
 * dropped, copies owned.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "base/keylist.h"

TestSuite(keylist, .timeout = 30);

Test(keylist, keys_from_several_sources_come_out_in_store_order_once)
{
	struct keylist kl = { 0 };
	char buf[8];

	/* as two slots would answer: each in order, interleaved overall */
	keylist_add(&kl, "b", 1);
	keylist_add(&kl, "aa", 2);
	keylist_add(&kl, "a\0c", 3);
	keylist_add(&kl, "a", 1);
	keylist_add(&kl, "ab", 2);
	keylist_add(&kl, "b", 1); /* from a replica and its old primary */
	memcpy(buf, "zz", 2);
	keylist_add(&kl, buf, 2);
	memcpy(buf, "xx", 2); /* the keylist has its own copy */
	keylist_sort(&kl);
	cr_assert_not(kl.oom);
	cr_assert_eq(kl.n, 6);
	static const struct {
		const char *p;
		size_t len;
	} want[] = { { "a", 1 }, { "b", 1 }, { "aa", 2 }, { "ab", 2 },
		{ "zz", 2 }, { "a\0c", 3 } };
	for (size_t i = 0; i < 6; i++) {
		cr_expect_eq(kl.v[i].len, want[i].len, "key %zu", i);
		cr_expect_eq(
		    memcmp(kl.v[i].p, want[i].p, want[i].len), 0, "key %zu", i);
	}
	keylist_fini(&kl);
	cr_assert_eq(kl.n, 0);
	cr_assert_null(kl.v);
	keylist_sort(&kl); /* empty: nothing to do */
	keylist_fini(&kl);
}

Test(keylist, compare_is_length_then_bytes)
{
	cr_expect_lt(keylist_cmp("z", 1, "aa", 2), 0);
	cr_expect_gt(keylist_cmp("ab", 2, "aa", 2), 0);
	cr_expect_eq(keylist_cmp("ab", 2, "ab", 2), 0);
	cr_expect_eq(keylist_cmp(NULL, 0, NULL, 0), 0);
	cr_expect_lt(keylist_cmp("\x01", 1, "\xff", 1), 0, "bytes unsigned");
}

Test(keylist, many_keys_grow_the_list)
{
	struct keylist kl = { 0 };
	char k[16];

	for (int i = 999; i >= 0; i--) {
		int n = snprintf(k, sizeof k, "%04d", i);
		keylist_add(&kl, k, (size_t)n);
		keylist_add(&kl, k, (size_t)n);
	}
	keylist_sort(&kl);
	cr_assert_eq(kl.n, 1000);
	cr_expect_eq(memcmp(kl.v[0].p, "0000", 4), 0);
	cr_expect_eq(memcmp(kl.v[999].p, "0999", 4), 0);
	keylist_fini(&kl);
}
