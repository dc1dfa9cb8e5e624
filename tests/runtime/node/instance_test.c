/*
 * instance_test.c - an instance's outputs and its write-behind cache
 * (runtime/node/instance.h).
 */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "node/instance.h"

TestSuite(instance, .timeout = 60);

Test(instance, output_by_name)
{
	struct node_instance inst;
	struct node_output outs[2] = { { "out", 0, NULL }, { "err", 0, NULL } };

	memset(&inst, 0, sizeof inst);
	inst.outputs = outs;
	inst.noutputs = 2;
	cr_expect_eq(instance_output(&inst, "out"), &outs[0]);
	cr_expect_eq(instance_output(&inst, "err"), &outs[1]);
	cr_expect_null(instance_output(&inst, "ou"));
	cr_expect_null(instance_output(&inst, "outs"));
	inst.noutputs = 0;
	cr_expect_null(instance_output(&inst, "out"));
}

/* --- the write-behind cache ----------------------------------------- */

static struct node_instance inst;

static void
inst_setup(void)
{
	memset(&inst, 0, sizeof inst);
	hmap_init(&inst.dirty);
}

static void
inst_teardown(void)
{
	instance_dirty_clear(&inst);
	hmap_fini(&inst.dirty);
}

/* A write made by record `seq`, as the host records it: the cache entry
 * and the instance's last record. */
static void
dirty_put(uint64_t seq, const char *key, const char *val, bool del)
{
	cr_assert_eq(instance_dirty_put(&inst, seq, key, strlen(key), val,
	                 val ? strlen(val) : 0, del),
	    LEDGE_OK);
	if (seq > inst.last_seq) {
		inst.last_seq = seq;
	}
}

static bool
dirty_is(const char *key, const char *val)
{
	const struct node_dirty *d =
	    instance_dirty_get(&inst, key, strlen(key));
	if (d == NULL) {
		return false;
	}
	if (val == NULL) {
		return d->del;
	}
	return !d->del && d->vlen == strlen(val) &&
	    memcmp(d->bytes + d->klen, val, d->vlen) == 0;
}

Test(instance, dirty_put_get, .init = inst_setup, .fini = inst_teardown)
{
	const struct node_dirty *d;

	cr_expect_null(instance_dirty_get(&inst, "a", 1));
	dirty_put(1, "a", "one", false);
	dirty_put(2, "b", "two", false);
	dirty_put(3, "c", NULL, true);
	cr_expect(dirty_is("a", "one"));
	cr_expect(dirty_is("b", "two"));
	cr_expect(dirty_is("c", NULL), "a cached delete");
	cr_expect_null(instance_dirty_get(&inst, "d", 1));
	cr_expect_null(instance_dirty_get(&inst, "ab", 2));

	d = instance_dirty_get(&inst, "a", 1);
	cr_assert_not_null(d);
	cr_expect_eq(d->seq, 1);
	cr_expect_eq(d->klen, 1);
	cr_expect(memcmp(d->bytes, "a", 1) == 0);

	/* A later write replaces the entry. */
	dirty_put(4, "a", "uno, again", false);
	cr_expect(dirty_is("a", "uno, again"));
	cr_expect_eq(instance_dirty_get(&inst, "a", 1)->seq, 4);
	dirty_put(5, "a", NULL, true);
	cr_expect(dirty_is("a", NULL));
	dirty_put(6, "c", "back", false);
	cr_expect(dirty_is("c", "back"));
}

Test(instance, dirty_binary_keys, .init = inst_setup, .fini = inst_teardown)
{
	const unsigned char k1[3] = { 0, 1, 0 }, k2[2] = { 0, 1 };

	cr_assert_eq(instance_dirty_put(&inst, 1, k1, 3, "x", 1, false), 0);
	cr_assert_eq(instance_dirty_put(&inst, 1, k2, 2, "", 0, false), 0);
	inst.last_seq = 1;
	cr_assert_not_null(instance_dirty_get(&inst, k1, 3));
	cr_expect_eq(instance_dirty_get(&inst, k1, 3)->vlen, 1);
	cr_assert_not_null(instance_dirty_get(&inst, k2, 2));
	cr_expect_eq(instance_dirty_get(&inst, k2, 2)->vlen, 0,
	    "an empty value is a value");
	cr_expect_not(instance_dirty_get(&inst, k2, 2)->del);
	cr_expect_null(instance_dirty_get(&inst, k1, 1));
}

Test(instance, dirty_evict_by_seq, .init = inst_setup, .fini = inst_teardown)
{
	dirty_put(1, "a", "1", false);
	dirty_put(2, "b", "2", false);
	dirty_put(3, "c", NULL, true);
	dirty_put(4, "d", "4", false);
	dirty_put(5, "a", "5", false); /* rewritten by a later record */

	instance_dirty_evict(&inst, 0);
	cr_expect(dirty_is("a", "5") && dirty_is("b", "2") &&
	    dirty_is("c", NULL) && dirty_is("d", "4"));
	instance_dirty_evict(&inst, 2);
	cr_expect(dirty_is("a", "5"), "a's latest write (5) is not durable");
	cr_expect_null(instance_dirty_get(&inst, "b", 1), "b (2) is durable");
	cr_expect(dirty_is("c", NULL));
	cr_expect(dirty_is("d", "4"));
	instance_dirty_evict(&inst, 3);
	cr_expect_null(instance_dirty_get(&inst, "c", 1));
	cr_expect(dirty_is("d", "4"));
	instance_dirty_evict(&inst, 4);
	cr_expect_null(instance_dirty_get(&inst, "d", 1));
	cr_expect(dirty_is("a", "5"));
	cr_expect_eq(inst.dirty.count, 1);
	instance_dirty_evict(&inst, 5);
	cr_expect_null(instance_dirty_get(&inst, "a", 1));
	cr_expect_eq(inst.dirty.count, 0);

	/* The cache keeps working after emptying. */
	dirty_put(6, "e", "6", false);
	cr_expect(dirty_is("e", "6"));
	instance_dirty_evict(&inst, 100);
	cr_expect_null(instance_dirty_get(&inst, "e", 1));
}

Test(instance, dirty_evict_many, .init = inst_setup, .fini = inst_teardown)
{
	char key[16];

	for (int i = 1; i <= 2000; i++) {
		snprintf(key, sizeof key, "k%d", i);
		dirty_put((uint64_t)i, key, key, false);
	}
	instance_dirty_evict(&inst, 1000);
	cr_expect_eq(inst.dirty.count, 1000);
	for (int i = 1; i <= 2000; i++) {
		snprintf(key, sizeof key, "k%d", i);
		if (i <= 1000) {
			cr_expect_null(
			    instance_dirty_get(&inst, key, strlen(key)));
		} else {
			cr_expect(dirty_is(key, key), "%s lost", key);
		}
	}
}

Test(instance, dirty_clear, .init = inst_setup, .fini = inst_teardown)
{
	for (int i = 0; i < 100; i++) {
		char key[16];
		snprintf(key, sizeof key, "k%d", i);
		dirty_put(7, key, "v", i % 2);
	}
	instance_dirty_clear(&inst);
	cr_expect_eq(inst.dirty.count, 0);
	cr_expect_null(instance_dirty_get(&inst, "k1", 2));
	dirty_put(8, "k1", "again", false);
	cr_expect(dirty_is("k1", "again"));
}
