/*
 * hmap_test.c - the byte-string hash map (runtime/base/hmap.h): put, get,
 * replace and delete; a long random run checked against a plain
 * reference; iteration with deletion; keys holding NUL bytes.
 */
#include <criterion/criterion.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/hmap.h"

static struct hmap m;

static void
setup(void)
{
	hmap_init(&m);
}

static void
teardown(void)
{
	hmap_fini(&m);
}

TestSuite(hmap, .init = setup, .fini = teardown, .timeout = 60);

static int values[16];

Test(hmap, empty_map)
{
	size_t pos = 0;

	cr_expect_null(hmap_get(&m, "a", 1));
	cr_expect_null(hmap_del(&m, "a", 1));
	cr_expect_null(hmap_next(&m, &pos));
	cr_expect_eq(m.count, 0);
	hmap_clear(&m);
	cr_expect_null(hmap_get(&m, "a", 1));
}

Test(hmap, put_get_replace_del)
{
	void *old = &values[9];

	cr_assert_eq(hmap_put(&m, "alpha", 5, &values[0], &old), 0);
	cr_expect_null(old, "no previous value");
	cr_assert_eq(hmap_put(&m, "beta", 4, &values[1], NULL), 0);
	cr_expect_eq(hmap_get(&m, "alpha", 5), &values[0]);
	cr_expect_eq(hmap_get(&m, "beta", 4), &values[1]);
	cr_expect_null(hmap_get(&m, "gamma", 5));
	cr_expect_null(hmap_get(&m, "alph", 4), "a prefix is another key");
	cr_expect_null(hmap_get(&m, "alphab", 6));
	cr_expect_eq(m.count, 2);

	cr_assert_eq(hmap_put(&m, "alpha", 5, &values[2], &old), 0);
	cr_expect_eq(old, &values[0], "replace returns the previous value");
	cr_expect_eq(hmap_get(&m, "alpha", 5), &values[2]);
	cr_expect_eq(m.count, 2, "a replace does not add");

	cr_expect_eq(hmap_del(&m, "alpha", 5), &values[2]);
	cr_expect_null(hmap_get(&m, "alpha", 5));
	cr_expect_null(hmap_del(&m, "alpha", 5), "deleting twice");
	cr_expect_eq(hmap_get(&m, "beta", 4), &values[1]);
	cr_expect_eq(m.count, 1);

	cr_assert_eq(hmap_put(&m, "alpha", 5, &values[3], &old), 0);
	cr_expect_null(old, "re-added after delete");
	cr_expect_eq(hmap_get(&m, "alpha", 5), &values[3]);
}

Test(hmap, borrowed_key_is_updated_on_replace)
{
	/* Keys are borrowed: after a replace, the map must use the new key
	 * bytes, so the old ones may be freed. */
	char *k1 = strdup("key"), *k2 = strdup("key");

	cr_assert(k1 && k2);
	cr_assert_eq(hmap_put(&m, k1, 3, &values[0], NULL), 0);
	cr_assert_eq(hmap_put(&m, k2, 3, &values[1], NULL), 0);
	free(k1); /* ASan flags any later read of it */
	cr_expect_eq(hmap_get(&m, "key", 3), &values[1]);
	cr_expect_eq(hmap_del(&m, "key", 3), &values[1]);
	free(k2);
}

Test(hmap, keys_with_nul_bytes)
{
	const char a[] = { 'a', 0, 'b' }, b[] = { 'a', 0, 'c' };
	const char z1[] = { 0 }, z2[] = { 0, 0 };

	cr_assert_eq(hmap_put(&m, a, 3, &values[0], NULL), 0);
	cr_assert_eq(hmap_put(&m, b, 3, &values[1], NULL), 0);
	cr_assert_eq(hmap_put(&m, "a", 1, &values[2], NULL), 0);
	cr_assert_eq(hmap_put(&m, z1, 1, &values[3], NULL), 0);
	cr_assert_eq(hmap_put(&m, z2, 2, &values[4], NULL), 0);
	cr_assert_eq(hmap_put(&m, "", 0, &values[5], NULL), 0);
	cr_expect_eq(m.count, 6);
	cr_expect_eq(hmap_get(&m, a, 3), &values[0]);
	cr_expect_eq(hmap_get(&m, b, 3), &values[1]);
	cr_expect_eq(hmap_get(&m, "a", 1), &values[2]);
	cr_expect_eq(hmap_get(&m, a, 2), NULL, "\"a\\0\" is another key");
	cr_expect_eq(hmap_get(&m, z1, 1), &values[3]);
	cr_expect_eq(hmap_get(&m, z2, 2), &values[4]);
	cr_expect_eq(hmap_get(&m, "", 0), &values[5], "the empty key");
	cr_expect_eq(hmap_del(&m, z1, 1), &values[3]);
	cr_expect_eq(hmap_get(&m, z2, 2), &values[4]);
}

Test(hmap, hash_never_marks_a_slot)
{
	for (int i = 0; i < 100000; i++) {
		uint32_t k = (uint32_t)i;
		cr_assert_geq(hmap_hash(&k, sizeof k), 2);
	}
	cr_expect_geq(hmap_hash("", 0), 2);
	cr_expect_eq(hmap_hash("abc", 3), hmap_hash("abc", 3));
}

/* The random run: keys are "key-<n>" for n below KEYS. */
#define KEYS 1500
#define OPS  100000

static char keybuf[KEYS][16];
static size_t keylen[KEYS];
static int vals[KEYS][2]; /* two distinct addresses per key */

static unsigned long long rng = 88172645463325252ull;

static unsigned
rnd(unsigned n)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (unsigned)(rng % n);
}

static void
check_all(void *const *ref, size_t live)
{
	size_t pos = 0, seen = 0;
	struct hmap_slot *s;

	cr_assert_eq(m.count, live);
	for (int k = 0; k < KEYS; k++) {
		cr_assert_eq(
		    hmap_get(&m, keybuf[k], keylen[k]), ref[k], "key %d", k);
	}
	while ((s = hmap_next(&m, &pos)) != NULL) {
		int k = atoi((const char *)s->key + 4);
		cr_assert_eq(s->klen, keylen[k]);
		cr_assert_eq(s->value, ref[k], "iteration value of key %d", k);
		seen++;
	}
	cr_assert_eq(seen, live, "iteration visits every live entry once");
}

Test(hmap, random_ops_match_a_reference)
{
	void **ref = calloc(KEYS, sizeof *ref);
	size_t live = 0;

	cr_assert_not_null(ref);
	for (int k = 0; k < KEYS; k++) {
		keylen[k] =
		    (size_t)snprintf(keybuf[k], sizeof keybuf[k], "key-%d", k);
	}
	for (int op = 0; op < OPS; op++) {
		unsigned k = rnd(op < OPS / 2 ? KEYS : KEYS / 10);
		unsigned what = rnd(10);
		if (what < 5) {
			void *v = &vals[k][rnd(2)], *old = (void *)1;
			cr_assert_eq(
			    hmap_put(&m, keybuf[k], keylen[k], v, &old), 0);
			cr_assert_eq(old, ref[k], "op %d: put %u old", op, k);
			live += ref[k] == NULL;
			ref[k] = v;
		} else if (what < 8) {
			void *v = hmap_del(&m, keybuf[k], keylen[k]);
			cr_assert_eq(v, ref[k], "op %d: del %u", op, k);
			live -= ref[k] != NULL;
			ref[k] = NULL;
		} else if (what < 9) {
			cr_assert_eq(hmap_get(&m, keybuf[k], keylen[k]), ref[k],
			    "op %d: get %u", op, k);
		} else if (rnd(2000) == 0) {
			hmap_clear(&m);
			memset(ref, 0, KEYS * sizeof *ref);
			live = 0;
		}
		cr_assert_eq(m.count, live, "op %d", op);
		if (op % 10000 == 0) {
			check_all(ref, live);
		}
	}
	check_all(ref, live);
	free(ref);
}

Test(hmap, churn_leaves_no_dead_end)
{
	/* Many inserts and deletes of fresh keys around a few permanent
	 * ones: tombstones must not fill the table (a lookup of a missing
	 * key would never end). */
	static char keys[20000][16];
	size_t pos = 0;

	for (int i = 0; i < 3; i++) {
		snprintf(keys[i], sizeof keys[i], "perm%d", i);
		cr_assert_eq(
		    hmap_put(&m, keys[i], strlen(keys[i]), &values[i], NULL),
		    0);
	}
	for (int i = 3; i < 20000; i++) {
		snprintf(keys[i], sizeof keys[i], "tmp%d", i);
		cr_assert_eq(
		    hmap_put(&m, keys[i], strlen(keys[i]), &values[3], NULL),
		    0);
		cr_assert_eq(
		    hmap_del(&m, keys[i], strlen(keys[i])), &values[3]);
		cr_assert_null(hmap_get(&m, "missing", 7));
	}
	cr_expect_eq(m.count, 3);
	cr_expect_leq(m.cap, 64, "the table did not grow without bound");
	for (int i = 0; i < 3; i++) {
		cr_expect_eq(
		    hmap_get(&m, keys[i], strlen(keys[i])), &values[i]);
	}
	while (hmap_next(&m, &pos) != NULL) { }
}

Test(hmap, iterate_while_deleting)
{
	static char keys[1000][16];
	static int v[1000];
	struct hmap_slot *s;
	size_t pos = 0, visited = 0;
	bool seen[1000] = { false };

	for (int i = 0; i < 1000; i++) {
		snprintf(keys[i], sizeof keys[i], "%d", i);
		cr_assert_eq(
		    hmap_put(&m, keys[i], strlen(keys[i]), &v[i], NULL), 0);
	}
	/* Delete the even ones while iterating. */
	while ((s = hmap_next(&m, &pos)) != NULL) {
		int i = (int)((int *)s->value - v);
		cr_assert(!seen[i], "entry %d visited twice", i);
		seen[i] = true;
		visited++;
		if (i % 2 == 0) {
			cr_assert_eq(hmap_del(&m, s->key, s->klen), &v[i]);
		}
	}
	cr_expect_eq(visited, 1000);
	cr_expect_eq(m.count, 500);
	for (int i = 0; i < 1000; i++) {
		void *got = hmap_get(&m, keys[i], strlen(keys[i]));
		cr_expect_eq(got, i % 2 ? &v[i] : NULL, "key %d", i);
	}

	/* Delete everything while iterating. */
	pos = 0;
	visited = 0;
	while ((s = hmap_next(&m, &pos)) != NULL) {
		cr_assert_not_null(hmap_del(&m, s->key, s->klen));
		visited++;
	}
	cr_expect_eq(visited, 500);
	cr_expect_eq(m.count, 0);
	pos = 0;
	cr_expect_null(hmap_next(&m, &pos));

	/* And the map works after that. */
	cr_assert_eq(hmap_put(&m, keys[5], 1, &v[5], NULL), 0);
	cr_expect_eq(hmap_get(&m, keys[5], 1), &v[5]);
}

Test(hmap, clear_keeps_working)
{
	char keys[200][8];

	for (int round = 0; round < 5; round++) {
		for (int i = 0; i < 200; i++) {
			snprintf(keys[i], sizeof keys[i], "%d", i);
			cr_assert_eq(hmap_put(&m, keys[i], strlen(keys[i]),
			                 &values[i % 16], NULL),
			    0);
		}
		cr_expect_eq(m.count, 200);
		hmap_clear(&m);
		cr_expect_eq(m.count, 0);
		cr_expect_null(hmap_get(&m, "7", 1));
	}
}

Test(hmap, shrink_keeps_every_entry_in_a_smaller_table)
{
	struct hmap m;
	static char keys[1000][8];
	hmap_init(&m);
	for (int i = 0; i < 1000; i++) {
		snprintf(keys[i], sizeof keys[i], "k%d", i);
		cr_assert_eq(hmap_put(&m, keys[i], strlen(keys[i]),
		                 (void *)(intptr_t)(i + 1), NULL),
		    LEDGE_OK);
	}
	size_t big = m.cap;
	for (int i = 10; i < 1000; i++) {
		cr_assert_not_null(hmap_del(&m, keys[i], strlen(keys[i])));
	}
	hmap_shrink(&m);
	cr_expect_lt(
	    m.cap, big / 8, "cap %zu after shrinking from %zu", m.cap, big);
	cr_expect_eq(m.count, 10);
	for (int i = 0; i < 10; i++) {
		cr_expect_eq(hmap_get(&m, keys[i], strlen(keys[i])),
		    (void *)(intptr_t)(i + 1));
	}
	cr_expect_null(hmap_get(&m, keys[500], strlen(keys[500])));
	/* Empty: no table at all, and it works as before after. */
	for (int i = 0; i < 10; i++) {
		hmap_del(&m, keys[i], strlen(keys[i]));
	}
	hmap_shrink(&m);
	cr_expect_null(m.slots);
	cr_expect_eq(hmap_put(&m, "x", 1, &m, NULL), LEDGE_OK);
	cr_expect_eq(hmap_get(&m, "x", 1), &m);
	hmap_fini(&m);
}
