/*
 * keytab_test.c - the table of key instances (runtime/node/keytab.h):
 * lookups after many puts and deletes in any order, against a plain
 * array; shrinking keeps every key.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "node/instance.h"
#include "node/keytab.h"

TestSuite(keytab, .timeout = 60);

#define N 5000

static struct node_instance ks[N];
static char names[N][16];
static bool in[N];

static void
setup_keys(void)
{
	for (int i = 0; i < N; i++) {
		int n = snprintf(names[i], sizeof names[i], "key-%d", i);
		ks[i].key = (unsigned char *)names[i];
		ks[i].klen = (uint16_t)n;
		in[i] = false;
	}
}

static void
check_all(const struct keytab *t)
{
	size_t count = 0;
	for (int i = 0; i < N; i++) {
		struct node_instance *k =
		    keytab_get(t, names[i], strlen(names[i]));
		cr_assert_eq(k, in[i] ? &ks[i] : NULL, "key %s", names[i]);
		count += in[i];
	}
	cr_assert_eq(t->count, count);
}

Test(keytab, puts_and_deletes_in_any_order_keep_every_key_findable)
{
	struct keytab t;
	unsigned seed = 12345;

	setup_keys();
	keytab_init(&t);
	cr_expect_null(keytab_get(&t, "x", 1), "an empty table finds nothing");
	for (int round = 0; round < 20000; round++) {
		seed = seed * 1103515245u + 12345u;
		int i = (int)((seed >> 8) % N);
		if (in[i]) {
			keytab_del(&t, &ks[i]);
			in[i] = false;
		} else {
			cr_assert_eq(keytab_put(&t, &ks[i]), LEDGE_OK);
			in[i] = true;
		}
		if (round % 2500 == 0) {
			check_all(&t);
		}
	}
	check_all(&t);
	cr_expect_leq(t.count * 4, t.cap * 3, "at most three quarters full");
	/* Keys that share a prefix or differ only in length. */
	cr_expect_null(keytab_get(&t, "key-1", 4));
	cr_expect_null(keytab_get(&t, "key-10000", 9));
	keytab_fini(&t);
}

Test(keytab, shrink_keeps_the_keys_left_and_frees_an_empty_table)
{
	struct keytab t;

	setup_keys();
	keytab_init(&t);
	for (int i = 0; i < N; i++) {
		cr_assert_eq(keytab_put(&t, &ks[i]), LEDGE_OK);
		in[i] = true;
	}
	size_t big = t.cap;
	for (int i = 10; i < N; i++) {
		keytab_del(&t, &ks[i]);
		in[i] = false;
	}
	keytab_shrink(&t);
	cr_expect_lt(t.cap, big / 8);
	check_all(&t);
	for (int i = 0; i < 10; i++) {
		keytab_del(&t, &ks[i]);
		in[i] = false;
	}
	keytab_shrink(&t);
	cr_expect_null(t.slots);
	check_all(&t);
	cr_assert_eq(keytab_put(&t, &ks[7]), LEDGE_OK, "usable again");
	cr_expect_eq(keytab_get(&t, names[7], strlen(names[7])), &ks[7]);
	keytab_fini(&t);
}
