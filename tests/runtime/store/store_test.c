/*
 * store_test.c - the node store on LMDB (runtime/store/store.h): persistence
 * across reopen, per-instance state and its key limits, snapshot
 * isolation of readers, batch abort, scans, registry ids (also from
 * several threads) and meta counters; space: a map that grows on demand
 * up to its limit, a full map that fails the write and not the store
 * (reads, child transactions, deletes, room again), bytes per target.
 */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "proc.h"
#include "store/store.h"

static char *dir;       /* this test's folder, removed after it */
static char path[4200]; /* the store folder inside it */

static void
setup(void)
{
	dir = tmpdir_make("store");
	cr_assert_not_null(dir, "tmpdir_make");
	snprintf(path, sizeof path, "%s/nested/store", dir);
}

static void
teardown(void)
{
	tmpdir_remove(dir);
	free(dir);
	dir = NULL;
}

TestSuite(store, .init = setup, .fini = teardown, .timeout = 60);

static struct store *
open_store(void)
{
	struct store_opts o = { .map_mb = 64, .nosync = true };
	struct store *s = NULL;
	char err[512] = "";
	int rv = store_open(&s, path, &o, err, sizeof err);

	cr_assert_eq(
	    rv, LEDGE_OK, "store_open: %s (%s)", ledge_strerror(rv), err);
	cr_assert_not_null(s);
	return s;
}

/* A state key: instance id (big-endian) and the user's key. */
static size_t
state_key(unsigned char *buf, uint32_t inst, const void *key, size_t klen)
{
	store_be32(buf, inst);
	memcpy(buf + 4, key, klen);
	return 4 + klen;
}

static void
put_state(struct store *s, uint32_t inst, const char *key, const char *val)
{
	unsigned char k[4 + LEDGE_STATE_MAX_KEY];
	struct store_batch *b;
	size_t klen = state_key(k, inst, key, strlen(key));

	cr_assert_eq(store_batch_begin(s, &b), LEDGE_OK);
	cr_assert_eq(store_batch_put(b, STORE_STATE, k, klen, val, strlen(val)),
	    LEDGE_OK);
	cr_assert_eq(store_batch_commit(b), LEDGE_OK);
}

static void
del_state(struct store *s, uint32_t inst, const char *key)
{
	unsigned char k[4 + LEDGE_STATE_MAX_KEY];
	struct store_batch *b;
	size_t klen = state_key(k, inst, key, strlen(key));

	cr_assert_eq(store_batch_begin(s, &b), LEDGE_OK);
	cr_assert_eq(store_batch_del(b, STORE_STATE, k, klen), LEDGE_OK);
	cr_assert_eq(store_batch_commit(b), LEDGE_OK);
}

/* Assert that `key` of `inst` reads `want` (NULL: absent) in a fresh
 * snapshot of a new reader. */
static void
expect_state(struct store *s, uint32_t inst, const char *key, const char *want)
{
	struct store_reader *r;
	ledge_bytes v = { NULL, 0 };
	int rv;

	cr_assert_eq(store_reader_open(s, &r), LEDGE_OK);
	cr_assert_eq(store_reader_begin(r), LEDGE_OK);
	rv = store_state_get(r, inst, key, strlen(key), &v);
	if (want == NULL) {
		cr_expect_eq(rv, LEDGE_ENOENT, "inst %u key '%s': %s", inst,
		    key, ledge_strerror(rv));
	} else {
		cr_expect_eq(rv, LEDGE_OK, "inst %u key '%s': %s", inst, key,
		    ledge_strerror(rv));
		if (rv == LEDGE_OK) {
			cr_expect_eq(v.len, strlen(want));
			cr_expect(v.len == strlen(want) &&
			        memcmp(v.data, want, v.len) == 0,
			    "inst %u key '%s': got '%.*s', want '%s'", inst,
			    key, (int)v.len, (const char *)v.data, want);
		}
	}
	store_reader_end(r);
	store_reader_close(r);
}

Test(store, open_creates_nested_folders)
{
	struct store *s = open_store();
	struct stat st;

	cr_assert_eq(stat(path, &st), 0, "store folder created");
	cr_assert(S_ISDIR(st.st_mode));
	cr_expect_gt(store_size(s), 0);
	store_close(s);
}

Test(store, reopen_keeps_committed_state)
{
	struct store *s = open_store();

	put_state(s, 7, "greeting", "hello");
	put_state(s, 7, "gone", "soon");
	del_state(s, 7, "gone");
	store_close(s);

	s = open_store();
	expect_state(s, 7, "greeting", "hello");
	expect_state(s, 7, "gone", NULL);
	store_close(s);
}

Test(store, default_options_work)
{
	struct store *s = NULL;
	char err[512] = "";

	cr_assert_eq(
	    store_open(&s, path, NULL, err, sizeof err), LEDGE_OK, "%s", err);
	put_state(s, 1, "k", "v");
	expect_state(s, 1, "k", "v");
	store_close(s);
}

Test(store, open_on_a_file_fails_with_reason)
{
	char file[4300];
	struct store *s = NULL;
	char err[512] = "";
	FILE *fp;
	int rv;

	snprintf(file, sizeof file, "%s/plainfile", dir);
	fp = fopen(file, "w");
	cr_assert_not_null(fp);
	fputs("not a folder\n", fp);
	fclose(fp);
	rv = store_open(&s, file, NULL, err, sizeof err);
	cr_expect_neq(rv, LEDGE_OK);
	cr_expect_neq(err[0], '\0', "a reason is given");
	cr_expect(
	    strstr(err, file) != NULL, "the reason names the folder: %s", err);
}

Test(store, missing_key_is_enoent)
{
	struct store *s = open_store();

	expect_state(s, 1, "nothing", NULL);
	store_close(s);
}

Test(store, put_overwrite_del)
{
	struct store *s = open_store();

	put_state(s, 3, "k", "one");
	expect_state(s, 3, "k", "one");
	put_state(s, 3, "k", "two, longer");
	expect_state(s, 3, "k", "two, longer");
	del_state(s, 3, "k");
	expect_state(s, 3, "k", NULL);
	/* Deleting a missing key is not an error. */
	del_state(s, 3, "k");
	del_state(s, 3, "never-there");
	store_close(s);
}

Test(store, instances_are_isolated)
{
	struct store *s = open_store();

	put_state(s, 1, "k", "of one");
	put_state(s, 2, "k", "of two");
	put_state(s, 256, "k", "of 256");
	expect_state(s, 1, "k", "of one");
	expect_state(s, 2, "k", "of two");
	expect_state(s, 256, "k", "of 256");
	expect_state(s, 3, "k", NULL);
	expect_state(s, 0, "k", NULL);

	del_state(s, 1, "k");
	expect_state(s, 1, "k", NULL);
	expect_state(s, 2, "k", "of two");
	expect_state(s, 256, "k", "of 256");
	store_close(s);
}

Test(store, binary_keys_and_prefixes_are_distinct)
{
	struct store *s = open_store();
	unsigned char k[16];
	const unsigned char bin[3] = { 0, 1, 0 };
	struct store_batch *b;
	struct store_reader *r;
	ledge_bytes v;

	cr_assert_eq(store_batch_begin(s, &b), LEDGE_OK);
	cr_assert_eq(store_batch_put(b, STORE_STATE, k, state_key(k, 9, bin, 3),
	                 "three", 5),
	    LEDGE_OK);
	cr_assert_eq(store_batch_commit(b), LEDGE_OK);

	cr_assert_eq(store_reader_open(s, &r), LEDGE_OK);
	cr_assert_eq(store_reader_begin(r), LEDGE_OK);
	cr_expect_eq(store_state_get(r, 9, bin, 3, &v), LEDGE_OK);
	cr_expect_eq(v.len, 5);
	cr_expect_eq(store_state_get(r, 9, bin, 2, &v), LEDGE_ENOENT,
	    "a prefix of a key is another key");
	cr_expect_eq(store_state_get(r, 9, bin, 1, &v), LEDGE_ENOENT);
	store_reader_end(r);
	store_reader_close(r);
	store_close(s);
}

Test(store, key_limits)
{
	struct store *s = open_store();
	char big[LEDGE_STATE_MAX_KEY + 1];
	unsigned char k[4 + LEDGE_STATE_MAX_KEY + 1];
	struct store_reader *r;
	struct store_batch *b;
	ledge_bytes v = { NULL, 0 };

	memset(big, 'k', sizeof big);
	/* The longest key works end to end. */
	cr_assert_eq(store_batch_begin(s, &b), LEDGE_OK);
	cr_assert_eq(store_batch_put(b, STORE_STATE, k,
	                 state_key(k, 1, big, LEDGE_STATE_MAX_KEY), "max", 3),
	    LEDGE_OK);
	cr_expect_eq(store_batch_put(b, STORE_STATE, k, 0, "x", 1),
	    LEDGE_EINVAL, "an empty raw key is refused");
	cr_assert_eq(store_batch_commit(b), LEDGE_OK);

	cr_assert_eq(store_reader_open(s, &r), LEDGE_OK);
	cr_assert_eq(store_reader_begin(r), LEDGE_OK);
	cr_expect_eq(
	    store_state_get(r, 1, big, LEDGE_STATE_MAX_KEY, &v), LEDGE_OK);
	cr_expect_eq(v.len, 3);
	cr_expect_eq(store_state_get(r, 1, big, LEDGE_STATE_MAX_KEY + 1, &v),
	    LEDGE_ETOOBIG);
	cr_expect_eq(store_state_get(r, 1, big, 100000, &v), LEDGE_ETOOBIG);
	cr_expect_eq(store_state_get(r, 1, big, 0, &v), LEDGE_EINVAL);
	store_reader_end(r);
	store_reader_close(r);
	store_close(s);
}

Test(store, reader_snapshot_is_isolated_from_later_commits)
{
	struct store *s = open_store();
	struct store_reader *r;
	ledge_bytes v;

	put_state(s, 1, "a", "old");
	cr_assert_eq(store_reader_open(s, &r), LEDGE_OK);
	cr_assert_eq(store_reader_begin(r), LEDGE_OK);

	/* Commit a batch after the snapshot began. */
	{
		unsigned char k[8];
		struct store_batch *b;
		cr_assert_eq(store_batch_begin(s, &b), LEDGE_OK);
		cr_assert_eq(store_batch_put(b, STORE_STATE, k,
		                 state_key(k, 1, "a", 1), "new", 3),
		    LEDGE_OK);
		cr_assert_eq(store_batch_put(b, STORE_STATE, k,
		                 state_key(k, 1, "b", 1), "bee", 3),
		    LEDGE_OK);
		cr_assert_eq(store_batch_commit(b), LEDGE_OK);
	}

	cr_assert_eq(store_state_get(r, 1, "a", 1, &v), LEDGE_OK);
	cr_expect(v.len == 3 && memcmp(v.data, "old", 3) == 0,
	    "the snapshot still sees the old value");
	cr_expect_eq(store_state_get(r, 1, "b", 1, &v), LEDGE_ENOENT,
	    "the snapshot does not see a later insert");

	/* A new snapshot sees the batch (begin without end also works). */
	cr_assert_eq(store_reader_begin(r), LEDGE_OK);
	cr_assert_eq(store_state_get(r, 1, "a", 1, &v), LEDGE_OK);
	cr_expect(v.len == 3 && memcmp(v.data, "new", 3) == 0);
	cr_expect_eq(store_state_get(r, 1, "b", 1, &v), LEDGE_OK);
	store_reader_end(r);

	/* And after end + begin. */
	cr_assert_eq(store_reader_begin(r), LEDGE_OK);
	cr_expect_eq(store_state_get(r, 1, "b", 1, &v), LEDGE_OK);
	store_reader_end(r);
	store_reader_close(r);
	store_close(s);
}

/* Readers move between threads between uses (MDB_NOTLS). */
struct reader_arg {
	struct store_reader *r;
	int rv;
	char val[16];
};

static void *
read_on_thread(void *p)
{
	struct reader_arg *a = p;
	ledge_bytes v;

	a->rv = store_reader_begin(a->r);
	if (a->rv == LEDGE_OK) {
		a->rv = store_state_get(a->r, 1, "k", 1, &v);
		if (a->rv == LEDGE_OK && v.len < sizeof a->val) {
			memcpy(a->val, v.data, v.len);
		}
		store_reader_end(a->r);
	}
	return NULL;
}

Test(store, reader_moves_between_threads)
{
	struct store *s = open_store();
	struct reader_arg a = { 0 };
	pthread_t th;

	put_state(s, 1, "k", "v1");
	cr_assert_eq(store_reader_open(s, &a.r), LEDGE_OK);
	for (int i = 0; i < 3; i++) {
		char want[16];
		snprintf(want, sizeof want, "v%d", i + 1);
		put_state(s, 1, "k", want);
		memset(a.val, 0, sizeof a.val);
		cr_assert_eq(pthread_create(&th, NULL, read_on_thread, &a), 0);
		pthread_join(th, NULL);
		cr_expect_eq(a.rv, LEDGE_OK);
		cr_expect_str_eq(a.val, want);
	}
	store_reader_close(a.r);
	store_close(s);
}

Test(store, batch_abort_leaves_nothing)
{
	struct store *s = open_store();
	struct store_batch *b;
	unsigned char k[8];

	put_state(s, 1, "keep", "kept");
	cr_assert_eq(store_batch_begin(s, &b), LEDGE_OK);
	cr_assert_eq(store_batch_put(
	                 b, STORE_STATE, k, state_key(k, 1, "new", 3), "x", 1),
	    LEDGE_OK);
	cr_assert_eq(
	    store_batch_del(b, STORE_STATE, k, state_key(k, 1, "keep", 4)),
	    LEDGE_OK);
	cr_assert_eq(store_meta_put_u64(b, "counter", 42), LEDGE_OK);
	store_batch_abort(b);

	expect_state(s, 1, "new", NULL);
	expect_state(s, 1, "keep", "kept");
	cr_expect_eq(store_meta_get_u64(s, "counter"), 0);

	/* The store still takes batches after an abort. */
	put_state(s, 1, "after", "yes");
	expect_state(s, 1, "after", "yes");
	store_close(s);
}

/* Collects keys and values of a scan as "key=value;" text. */
struct collect {
	char text[4096];
	size_t n;
	int stop_after; /* return 7 after this many (0: never) */
};

static int
collect_fn(void *arg, ledge_bytes key, ledge_bytes value)
{
	struct collect *c = arg;
	size_t used = strlen(c->text);

	snprintf(c->text + used, sizeof c->text - used, "%.*s=%.*s;",
	    (int)key.len, (const char *)key.data, (int)value.len,
	    (const char *)value.data);
	c->n++;
	if (c->stop_after && (int)c->n >= c->stop_after) {
		return 7;
	}
	return 0;
}

Test(store, state_scan_in_key_order_per_instance)
{
	struct store *s = open_store();
	const char *keys[] = { "m", "b", "zz", "a", "ab", "z" };
	struct store_reader *r;
	struct collect c;

	for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
		put_state(s, 5, keys[i], keys[i]);
	}
	/* Neighbours on both sides must not leak into the scan. */
	put_state(s, 4, "a", "four");
	put_state(s, 4, "zzz", "four");
	put_state(s, 6, "a", "six");
	put_state(s, 0x05000000, "a", "big");

	cr_assert_eq(store_reader_open(s, &r), LEDGE_OK);
	cr_assert_eq(store_reader_begin(r), LEDGE_OK);
	memset(&c, 0, sizeof c);
	cr_assert_eq(store_state_scan(r, 5, collect_fn, &c), LEDGE_OK);
	cr_expect_str_eq(c.text, "a=a;ab=ab;b=b;m=m;z=z;zz=zz;");
	cr_expect_eq(c.n, 6);

	memset(&c, 0, sizeof c);
	cr_assert_eq(store_state_scan(r, 77, collect_fn, &c), LEDGE_OK);
	cr_expect_eq(c.n, 0, "an instance without state scans empty");

	memset(&c, 0, sizeof c);
	c.stop_after = 2;
	cr_expect_eq(store_state_scan(r, 5, collect_fn, &c), 7,
	    "the callback's non-zero return stops and is returned");
	cr_expect_eq(c.n, 2);
	cr_expect_str_eq(c.text, "a=a;ab=ab;");
	store_reader_end(r);
	store_reader_close(r);
	store_close(s);
}

static int
count_fn(void *arg, ledge_bytes key, ledge_bytes value)
{
	(void)key;
	(void)value;
	(*(size_t *)arg)++;
	return 0;
}

/* Checks that queue keys arrive in ascending order. */
struct order {
	uint64_t last;
	size_t n;
	bool ok;
};

static int
order_fn(void *arg, ledge_bytes key, ledge_bytes value)
{
	struct order *o = arg;
	uint64_t q;

	if (key.len != 8 || value.len != 8) {
		o->ok = false;
		return 1;
	}
	q = store_rd64(key.data);
	if ((o->n > 0 && q <= o->last) || store_rd64(value.data) != q * 3) {
		o->ok = false;
	}
	o->last = q;
	o->n++;
	return 0;
}

Test(store, scan_whole_database_in_key_order)
{
	struct store *s = open_store();
	struct store_batch *b;
	struct order o = { 0, 0, true };
	size_t n = 0;

	cr_assert_eq(store_batch_begin(s, &b), LEDGE_OK);
	/* Insert out of order, with ids that straddle byte boundaries. */
	for (uint64_t i = 0; i < 600; i++) {
		uint64_t q = (i * 7919) % 600 + 250;
		unsigned char k[8], v[8];
		store_be64(k, q);
		store_be64(v, q * 3);
		cr_assert_eq(
		    store_batch_put(b, STORE_QUEUE, k, 8, v, 8), LEDGE_OK);
	}
	cr_assert_eq(store_batch_commit(b), LEDGE_OK);
	put_state(s, 1, "unrelated", "x");

	cr_assert_eq(store_scan(s, STORE_QUEUE, order_fn, &o), LEDGE_OK);
	cr_expect(o.ok, "keys ascending and values intact");
	cr_expect_eq(o.n, 600);
	cr_assert_eq(store_scan(s, STORE_IDEM, count_fn, &n), LEDGE_OK);
	cr_expect_eq(n, 0, "other databases are separate");

	/* The same through a reader's snapshot. */
	{
		struct store_reader *r;
		struct order o2 = { 0, 0, true };
		cr_assert_eq(store_reader_open(s, &r), LEDGE_OK);
		cr_assert_eq(store_reader_begin(r), LEDGE_OK);
		cr_assert_eq(
		    store_scan_reader(r, STORE_QUEUE, order_fn, &o2), LEDGE_OK);
		cr_expect(o2.ok);
		cr_expect_eq(o2.n, 600);
		store_reader_end(r);
		store_reader_close(r);
	}
	store_close(s);
}

/* Deletes every entry it is shown, inside the batch. */
static int
del_fn(void *arg, ledge_bytes key, ledge_bytes value)
{
	struct store_batch *b = arg;
	(void)value;
	return store_batch_del(b, STORE_META, key.data, key.len);
}

Test(store, batch_scan_by_prefix_may_delete)
{
	struct store *s = open_store();
	struct store_batch *b;
	struct collect c;
	size_t n = 0;

	cr_assert_eq(store_batch_begin(s, &b), LEDGE_OK);
	cr_assert_eq(store_batch_put(b, STORE_META, "p/1", 3, "a", 1), 0);
	cr_assert_eq(store_batch_put(b, STORE_META, "p/2", 3, "b", 1), 0);
	cr_assert_eq(store_batch_put(b, STORE_META, "p", 1, "c", 1), 0);
	cr_assert_eq(store_batch_put(b, STORE_META, "q/1", 3, "d", 1), 0);
	cr_assert_eq(store_batch_put(b, STORE_META, "o/9", 3, "e", 1), 0);
	/* A scan inside the batch sees its own uncommitted writes. */
	memset(&c, 0, sizeof c);
	cr_assert_eq(
	    store_batch_scan(b, STORE_META, "p/", 2, collect_fn, &c), 0);
	cr_expect_str_eq(c.text, "p/1=a;p/2=b;");
	cr_assert_eq(store_batch_scan(b, STORE_META, "p/", 2, del_fn, b), 0);
	cr_assert_eq(store_batch_commit(b), LEDGE_OK);

	memset(&c, 0, sizeof c);
	cr_assert_eq(store_scan(s, STORE_META, collect_fn, &c), LEDGE_OK);
	cr_expect_str_eq(c.text, "o/9=e;p=c;q/1=d;");

	/* With no prefix, a batch scan sees everything. */
	cr_assert_eq(store_batch_begin(s, &b), LEDGE_OK);
	cr_assert_eq(store_batch_scan(b, STORE_META, NULL, 0, count_fn, &n), 0);
	store_batch_abort(b);
	cr_expect_eq(n, 3);
	store_close(s);
}

Test(store, registry_ids_distinct_and_stable_across_reopen)
{
	struct store *s = open_store();
	uint32_t a, b, a2, c;

	cr_assert_eq(store_registry_id(s, "wf/alpha", &a), LEDGE_OK);
	cr_assert_eq(store_registry_id(s, "wf/beta", &b), LEDGE_OK);
	cr_assert_eq(store_registry_id(s, "wf/alpha", &a2), LEDGE_OK);
	cr_expect_neq(a, 0, "0 means 'outside' for event sources");
	cr_expect_neq(b, 0);
	cr_expect_neq(a, b);
	cr_expect_eq(a, a2, "asking again gives the same id");
	store_close(s);

	s = open_store();
	cr_assert_eq(store_registry_id(s, "wf/alpha", &a2), LEDGE_OK);
	cr_expect_eq(a2, a, "the id survives a reopen");
	cr_assert_eq(store_registry_id(s, "wf/beta", &a2), LEDGE_OK);
	cr_expect_eq(a2, b);
	cr_assert_eq(store_registry_id(s, "wf/gamma", &c), LEDGE_OK);
	cr_expect(c != a && c != b, "a new name after reopen gets a new id");
	store_close(s);
}

Test(store, registry_ids_unaffected_by_meta_writes)
{
	struct store *s = open_store();
	struct store_batch *b;
	uint32_t ids[20];

	for (int i = 0; i < 10; i++) {
		char name[32];
		snprintf(name, sizeof name, "wf/f%d", i);
		cr_assert_eq(store_registry_id(s, name, &ids[i]), LEDGE_OK);
	}
	/* Unrelated counters in the meta database. */
	cr_assert_eq(store_batch_begin(s, &b), LEDGE_OK);
	cr_assert_eq(store_meta_put_u64(b, "next_qid", 5), LEDGE_OK);
	cr_assert_eq(store_meta_put_u64(b, "x", 1), LEDGE_OK);
	cr_assert_eq(store_batch_commit(b), LEDGE_OK);
	for (int i = 10; i < 20; i++) {
		char name[32];
		snprintf(name, sizeof name, "wf/f%d", i);
		cr_assert_eq(store_registry_id(s, name, &ids[i]), LEDGE_OK);
	}
	for (int i = 0; i < 20; i++) {
		for (int j = 0; j < i; j++) {
			cr_expect_neq(ids[i], ids[j], "f%d and f%d share id %u",
			    i, j, ids[i]);
		}
	}
	store_close(s);
}

#define REG_THREADS 8
#define REG_NAMES   40

struct reg_arg {
	struct store *s;
	int offset;
	uint32_t ids[REG_NAMES];
	int rv;
};

static void *
reg_thread(void *p)
{
	struct reg_arg *a = p;

	for (int i = 0; i < REG_NAMES; i++) {
		int n = (i + a->offset) % REG_NAMES;
		char name[32];
		int rv;
		snprintf(name, sizeof name, "wf/name%d", n);
		if ((rv = store_registry_id(a->s, name, &a->ids[n])) != 0) {
			a->rv = rv;
		}
	}
	return NULL;
}

Test(store, registry_ids_from_several_threads)
{
	struct store *s = open_store();
	struct reg_arg args[REG_THREADS];
	pthread_t th[REG_THREADS];

	for (int t = 0; t < REG_THREADS; t++) {
		memset(&args[t], 0, sizeof args[t]);
		args[t].s = s;
		args[t].offset = t * 5;
		cr_assert_eq(
		    pthread_create(&th[t], NULL, reg_thread, &args[t]), 0);
	}
	for (int t = 0; t < REG_THREADS; t++) {
		pthread_join(th[t], NULL);
		cr_expect_eq(args[t].rv, LEDGE_OK);
	}
	for (int n = 0; n < REG_NAMES; n++) {
		for (int t = 1; t < REG_THREADS; t++) {
			cr_expect_eq(args[t].ids[n], args[0].ids[n],
			    "threads disagree on the id of name%d", n);
		}
		for (int m = 0; m < n; m++) {
			cr_expect_neq(args[0].ids[n], args[0].ids[m],
			    "name%d and name%d share an id", n, m);
		}
	}
	store_close(s);
}

Test(store, meta_u64)
{
	struct store *s = open_store();
	struct store_batch *b;

	cr_expect_eq(store_meta_get_u64(s, "absent"), 0);
	cr_assert_eq(store_batch_begin(s, &b), LEDGE_OK);
	cr_assert_eq(store_meta_put_u64(b, "small", 1), LEDGE_OK);
	cr_assert_eq(store_meta_put_u64(b, "big", UINT64_MAX), LEDGE_OK);
	cr_assert_eq(
	    store_meta_put_u64(b, "mixed", 0x0102030405060708ull), LEDGE_OK);
	cr_assert_eq(store_batch_commit(b), LEDGE_OK);
	cr_expect_eq(store_meta_get_u64(s, "small"), 1);
	cr_expect_eq(store_meta_get_u64(s, "big"), UINT64_MAX);
	cr_expect_eq(store_meta_get_u64(s, "mixed"), 0x0102030405060708ull);

	cr_assert_eq(store_batch_begin(s, &b), LEDGE_OK);
	cr_assert_eq(store_meta_put_u64(b, "small", 2), LEDGE_OK);
	cr_assert_eq(store_batch_commit(b), LEDGE_OK);
	store_close(s);

	s = open_store();
	cr_expect_eq(store_meta_get_u64(s, "small"), 2);
	cr_expect_eq(store_meta_get_u64(s, "big"), UINT64_MAX);
	store_close(s);
}

Test(store, batch_with_many_puts)
{
	struct store *s = open_store();
	struct store_batch *b;
	struct store_reader *r;
	uint64_t size0 = store_size(s);
	size_t n = 0;
	const int count = 20000;

	cr_assert_eq(store_batch_begin(s, &b), LEDGE_OK);
	for (int i = 0; i < count; i++) {
		unsigned char k[32];
		char key[24], val[64];
		int kl = snprintf(key, sizeof key, "key-%06d", i);
		int vl = snprintf(val, sizeof val, "value of key %d", i);
		cr_assert_eq(
		    store_batch_put(b, STORE_STATE, k,
		        state_key(k, 11, key, (size_t)kl), val, (size_t)vl),
		    LEDGE_OK);
	}
	cr_assert_eq(store_batch_commit(b), LEDGE_OK);
	cr_expect_gt(store_size(s), size0, "the data file grew");

	cr_assert_eq(store_reader_open(s, &r), LEDGE_OK);
	cr_assert_eq(store_reader_begin(r), LEDGE_OK);
	cr_assert_eq(store_state_scan(r, 11, count_fn, &n), LEDGE_OK);
	cr_expect_eq(n, (size_t)count);
	for (int i = 0; i < count; i += 997) {
		char key[24], want[64];
		ledge_bytes v;
		int kl = snprintf(key, sizeof key, "key-%06d", i);
		int wl = snprintf(want, sizeof want, "value of key %d", i);
		cr_assert_eq(
		    store_state_get(r, 11, key, (size_t)kl, &v), LEDGE_OK);
		cr_expect(
		    v.len == (size_t)wl && memcmp(v.data, want, v.len) == 0);
	}
	store_reader_end(r);
	store_reader_close(r);
	store_close(s);
}

Test(store, large_value)
{
	struct store *s = open_store();
	size_t len = 4u << 20;
	unsigned char *big = malloc(len);
	unsigned char k[8];
	struct store_batch *b;
	struct store_reader *r;
	ledge_bytes v;

	cr_assert_not_null(big);
	for (size_t i = 0; i < len; i++) {
		big[i] = (unsigned char)(i * 31 + 7);
	}
	cr_assert_eq(store_batch_begin(s, &b), LEDGE_OK);
	cr_assert_eq(store_batch_put(b, STORE_STATE, k,
	                 state_key(k, 2, "big", 3), big, len),
	    LEDGE_OK);
	cr_assert_eq(store_batch_commit(b), LEDGE_OK);
	cr_assert_eq(store_reader_open(s, &r), LEDGE_OK);
	cr_assert_eq(store_reader_begin(r), LEDGE_OK);
	cr_assert_eq(store_state_get(r, 2, "big", 3, &v), LEDGE_OK);
	cr_expect_eq(v.len, len);
	cr_expect(v.len == len && memcmp(v.data, big, len) == 0);
	store_reader_end(r);
	store_reader_close(r);
	store_close(s);
	free(big);
}

/* --- space: growth, a full map, child transactions, state bytes ---- */

static struct store *
open_small(size_t map_mb)
{
	struct store_opts o = {
		.map_mb = map_mb, .nosync = true, .grow = true
	};
	struct store *s = NULL;
	char err[512] = "";
	int rv = store_open(&s, path, &o, err, sizeof err);
	cr_assert_eq(rv, LEDGE_OK, "store_open: %s", err);
	return s;
}

/* One batch putting `len` bytes under state key (inst, "k<i>"). */
static int
put_one(struct store *s, uint32_t inst, int i, size_t len)
{
	static char val[1 << 20];
	unsigned char k[32];
	char name[16];
	struct store_batch *b;
	int rv;

	memset(val, 'v', sizeof val);
	snprintf(name, sizeof name, "k%d", i);
	size_t kl = state_key(k, inst, name, strlen(name));
	if ((rv = store_batch_begin(s, &b)) != LEDGE_OK) {
		return rv;
	}
	if ((rv = store_batch_put(b, STORE_STATE, k, kl, val, len)) !=
	    LEDGE_OK) {
		store_batch_abort(b);
		return rv;
	}
	return store_batch_commit(b);
}

Test(store, the_map_grows_on_demand_up_to_the_limit)
{
	struct store *s = open_small(64);
	struct store_space sp;

	store_space(s, &sp);
	cr_expect_eq(sp.map, (uint64_t)STORE_MAP_START_MB << 20,
	    "starts small: %llu", (unsigned long long)sp.map);
	cr_expect_eq(sp.limit, 64u << 20);
	for (int i = 0; i < 40; i++) {
		cr_assert_eq(
		    put_one(s, 1, i, 256 * 1024), LEDGE_OK, "put %d", i);
	}
	store_space(s, &sp);
	cr_expect(sp.map > (10u << 20) && sp.map <= (64u << 20), "map %llu",
	    (unsigned long long)sp.map);
	cr_expect_geq(sp.used, 10u << 20);
	cr_expect_eq(
	    store_state_bytes(s, 1), (10 * 2 + 30 * 3 + 40 * 256 * 1024));
	store_close(s);

	/* Reopened: the data is there, the count too. */
	s = open_small(64);
	cr_expect_eq(
	    store_state_bytes(s, 1), (10 * 2 + 30 * 3 + 40 * 256 * 1024));
	cr_expect_eq(put_one(s, 1, 40, 1024), LEDGE_OK);
	store_close(s);
}

static int
count_state(void *arg, ledge_bytes k, ledge_bytes v)
{
	(void)k;
	(void)v;
	(*(int *)arg)++;
	return 0;
}

Test(store, a_full_map_fails_the_write_not_the_store)
{
	struct store *s = open_small(16);
	struct store_reader *r;
	struct store_batch *b, *child;
	struct store_space sp;
	unsigned char k[32];
	ledge_bytes v;
	int n = 0, rv, seen = 0;

	while ((rv = put_one(s, 2, n, 64 * 1024)) == LEDGE_OK) {
		n++;
		cr_assert_lt(n, 1000, "never full");
	}
	cr_expect_eq(rv, LEDGE_ENOSPC, "%s", ledge_strerror(rv));
	cr_expect_gt(n, 200, "%d values of 64 KiB in 16 MiB", n);
	store_space(s, &sp);
	cr_expect_eq(sp.map, 16u << 20, "grew to the limit");
	cr_expect(!store_fits(s, 64 * 1024), "no room for more");

	/* Reads go on. */
	cr_assert_eq(store_reader_open(s, &r), LEDGE_OK);
	cr_assert_eq(store_reader_begin(r), LEDGE_OK);
	cr_expect_eq(store_state_get(r, 2, "k0", 2, &v), LEDGE_OK);
	cr_expect_eq(v.len, 64 * 1024);
	cr_expect_eq(store_state_scan(r, 2, count_state, &seen), LEDGE_OK);
	cr_expect_eq(seen, n);
	store_reader_end(r);

	/* A child that does not fit is aborted alone; its parent commits. */
	cr_assert_eq(store_batch_begin(s, &b), LEDGE_OK);
	cr_assert_eq(store_batch_child(b, &child), LEDGE_OK);
	static char big[1 << 20];
	size_t kl = state_key(k, 3, "big", 3);
	rv = store_batch_put(child, STORE_STATE, k, kl, big, sizeof big);
	if (rv == LEDGE_OK) {
		rv = store_batch_commit(child);
	} else {
		store_batch_abort(child);
	}
	cr_expect_eq(rv, LEDGE_ENOSPC);
	cr_assert_eq(store_batch_child(b, &child), LEDGE_OK);
	kl = state_key(k, 2, "k0", 2);
	cr_expect_eq(store_batch_del(child, STORE_STATE, k, kl), LEDGE_OK);
	cr_expect_eq(store_batch_commit(child), LEDGE_OK);
	cr_expect_eq(store_batch_commit(b), LEDGE_OK, "a delete fits");
	cr_expect_eq(store_state_bytes(s, 3), 0, "the aborted child's count");
	uint64_t want = 0;
	for (int i = 1; i < n; i++) {
		char name[16];
		want += (uint64_t)snprintf(name, sizeof name, "k%d", i) + 65536;
	}
	cr_expect_eq(store_state_bytes(s, 2), want);

	/* Deleting everything makes room again (after one more commit,
	 * store_touch: LMDB reuses freed pages two commits on). */
	for (int i = 1; i < n; i++) {
		char name[16];
		snprintf(name, sizeof name, "k%d", i);
		kl = state_key(k, 2, name, strlen(name));
		cr_assert_eq(store_batch_begin(s, &b), LEDGE_OK);
		cr_assert_eq(store_batch_del(b, STORE_STATE, k, kl), LEDGE_OK);
		cr_assert_eq(store_batch_commit(b), LEDGE_OK, "del %d", i);
	}
	cr_expect_eq(store_state_bytes(s, 2), 0);
	cr_expect_eq(store_touch(s), LEDGE_OK);
	cr_expect(store_fits(s, 64 * 1024));
	cr_expect_eq(put_one(s, 2, 0, 64 * 1024), LEDGE_OK);
	store_reader_close(r);
	store_close(s);
}

/* Readers on other threads while the map grows under them. */
struct grow_reader {
	struct store *s;
	atomic_bool *stop;
	int reads, errors;
};

static void *
grow_reader_main(void *arg)
{
	struct grow_reader *g = arg;
	struct store_reader *r;
	ledge_bytes v;
	if (store_reader_open(g->s, &r) != LEDGE_OK) {
		g->errors++;
		return NULL;
	}
	while (!atomic_load(g->stop)) {
		if (store_reader_begin(r) != LEDGE_OK) {
			g->errors++;
			continue;
		}
		int rv = store_state_get(r, 1, "k0", 2, &v);
		if (rv != LEDGE_OK || v.len != 256 * 1024 ||
		    ((const char *)v.data)[v.len - 1] != 'v') {
			g->errors++;
		}
		g->reads++;
		store_reader_end(r);
	}
	store_reader_close(r);
	return NULL;
}

Test(store, the_map_grows_under_readers_on_other_threads)
{
	struct store *s = open_small(64);
	struct store_reader *r;
	struct store_space sp;
	atomic_bool stop = false;
	struct grow_reader g[2];
	pthread_t th[2];

	cr_assert_eq(put_one(s, 1, 0, 256 * 1024), LEDGE_OK);
	/* A snapshot held open: the map cannot be remapped meanwhile. */
	cr_assert_eq(store_reader_open(s, &r), LEDGE_OK);
	cr_assert_eq(store_reader_begin(r), LEDGE_OK);
	cr_expect_eq(store_grow(s), LEDGE_ETIMEDOUT);
	store_reader_end(r);
	store_reader_close(r);

	for (int i = 0; i < 2; i++) {
		g[i] = (struct grow_reader) { s, &stop, 0, 0 };
		cr_assert_eq(
		    pthread_create(&th[i], NULL, grow_reader_main, &g[i]), 0);
	}
	/* As the committer does: a batch that met a full map below the
	 * limit (growing ahead gave up on a busy reader) grows and retries. */
	int failed = 0;
	for (int i = 1; i < 200 && failed == 0; i++) {
		int rv = put_one(s, 1, i, 256 * 1024);
		for (int t = 0; rv == LEDGE_ENOSPC && t < 10; t++) {
			store_grow(s);
			rv = put_one(s, 1, i, 256 * 1024);
		}
		failed = rv != LEDGE_OK ? i : 0;
	}
	atomic_store(&stop, true);
	for (int i = 0; i < 2; i++) {
		pthread_join(th[i], NULL);
		cr_expect_eq(g[i].errors, 0, "reader %d: %d errors in %d reads",
		    i, g[i].errors, g[i].reads);
	}
	cr_expect_eq(failed, 0, "put %d failed", failed);
	store_space(s, &sp);
	cr_expect_gt(
	    sp.map, 32u << 20, "grew to %llu", (unsigned long long)sp.map);
	store_close(s);
}
