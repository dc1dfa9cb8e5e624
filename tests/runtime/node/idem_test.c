/*
 * idem_test.c - stored answers for Idempotency-Key requests
 * (runtime/node/idem.h): added through a commit record, read back before and
 * after expiry, a corrupt entry, and pruning of expired entries only.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "node/commit.h"
#include "node/idem.h"
#include "proc.h"

static char *dir;
static struct store *store;
static struct rlog rlog;
static struct commit *committer;
static struct store_reader *reader;

static void
on_fatal(void *arg, const char *why)
{
	(void)arg;
	cr_log_error("commit failed: %s", why);
}

static void
setup(void)
{
	struct store_opts o = { .map_mb = 64, .nosync = true };
	char err[512] = "";

	dir = tmpdir_make("idem");
	cr_assert_not_null(dir);
	cr_assert_eq(
	    store_open(&store, dir, &o, err, sizeof err), LEDGE_OK, "%s", err);
	rlog_init(&rlog, stderr, RLOG_ERROR);
	cr_assert_eq(
	    commit_start(&committer, store, &rlog, on_fatal, NULL), LEDGE_OK);
	cr_assert_eq(store_reader_open(store, &reader), LEDGE_OK);
}

static void
teardown(void)
{
	store_reader_close(reader);
	commit_stop(committer);
	commit_free(committer);
	store_close(store);
	rlog_fini(&rlog);
	tmpdir_remove(dir);
	free(dir);
}

TestSuite(idem, .init = setup, .fini = teardown, .timeout = 60);

static void
commit(struct commit_rec *r)
{
	commit_submit(committer, r);
	commit_flush(committer);
}

static void
add(uint32_t route, const char *key, uint64_t expires, int status,
    const char *ctype, const char *body)
{
	struct commit_rec *r = commit_rec_new();
	struct idem_answer a = { 0 };

	cr_assert_not_null(r);
	a.expires_ms = expires;
	a.status = status;
	a.ctype = ctype;
	a.body = body;
	a.len = body ? strlen(body) : 0;
	cr_assert_eq(idem_add(r, route, key, &a), LEDGE_OK);
	commit(r);
}

/* idem_get in a fresh snapshot; the answer's pointers stay valid until
 * the next call. */
static int
get(uint32_t route, const char *key, uint64_t now, struct idem_answer *a)
{
	store_reader_end(reader);
	cr_assert_eq(store_reader_begin(reader), LEDGE_OK);
	memset(a, 0, sizeof *a);
	return idem_get(reader, route, key, now, a);
}

static bool
answer_is(const struct idem_answer *a, int status, const char *ctype,
    const char *body)
{
	return a->status == status && a->ctype_len == strlen(ctype) &&
	    memcmp(a->ctype, ctype, a->ctype_len) == 0 &&
	    a->len == strlen(body) && memcmp(a->body, body, a->len) == 0;
}

Test(idem, stored_answer_until_expiry)
{
	struct idem_answer a;

	add(1, "order-17", 5000, 201, "application/json", "{\"id\":17}");
	cr_assert_eq(get(1, "order-17", 1000, &a), LEDGE_OK);
	cr_expect(answer_is(&a, 201, "application/json", "{\"id\":17}"));
	cr_expect_eq(a.expires_ms, 5000);
	cr_expect_eq(get(1, "order-17", 4999, &a), LEDGE_OK);
	cr_expect_eq(get(1, "order-17", 5000, &a), LEDGE_OK,
	    "valid up to its expiry time");
	cr_expect_eq(get(1, "order-17", 5001, &a), LEDGE_ENOENT,
	    "an expired entry reads as absent");
	cr_expect_eq(get(1, "order-17", UINT64_MAX, &a), LEDGE_ENOENT);
}

Test(idem, keys_are_per_route)
{
	struct idem_answer a;

	add(1, "k", 9000, 200, "text/plain", "route one");
	add(2, "k", 9000, 202, "text/plain", "route two");
	cr_assert_eq(get(1, "k", 0, &a), LEDGE_OK);
	cr_expect(answer_is(&a, 200, "text/plain", "route one"));
	cr_assert_eq(get(2, "k", 0, &a), LEDGE_OK);
	cr_expect(answer_is(&a, 202, "text/plain", "route two"));
	cr_expect_eq(get(3, "k", 0, &a), LEDGE_ENOENT);
	cr_expect_eq(get(1, "K", 0, &a), LEDGE_ENOENT, "keys are exact");
	cr_expect_eq(get(1, "k2", 0, &a), LEDGE_ENOENT);
	cr_expect_eq(get(0x01000000, "k", 0, &a), LEDGE_ENOENT);
}

Test(idem, empty_body_and_no_content_type)
{
	struct idem_answer a;

	add(4, "empty", 100, 204, NULL, NULL);
	cr_assert_eq(get(4, "empty", 0, &a), LEDGE_OK);
	cr_expect_eq(a.status, 204);
	cr_expect_eq(a.ctype_len, 0, "no content type stored");
	cr_expect_eq(a.len, 0);
}

Test(idem, large_body_and_status)
{
	struct idem_answer a;
	size_t n = 200000;
	char *body = malloc(n + 1);

	cr_assert_not_null(body);
	for (size_t i = 0; i < n; i++) {
		body[i] = (char)('a' + i % 26);
	}
	body[n] = '\0';
	add(5, "big", 100, 599, "application/octet-stream", body);
	cr_assert_eq(get(5, "big", 0, &a), LEDGE_OK);
	cr_expect(answer_is(&a, 599, "application/octet-stream", body));
	free(body);
}

Test(idem, key_limits)
{
	struct commit_rec *r = commit_rec_new();
	struct idem_answer a = { 100, 200, "text/plain", 0, "x", 1 };
	char key[IDEM_MAX_KEY + 2];

	cr_assert_not_null(r);
	memset(key, 'k', sizeof key);
	key[IDEM_MAX_KEY] = '\0';
	cr_expect_eq(idem_add(r, 6, key, &a), LEDGE_OK, "the longest key");
	key[IDEM_MAX_KEY] = 'k';
	key[IDEM_MAX_KEY + 1] = '\0';
	cr_expect_neq(idem_add(r, 6, key, &a), LEDGE_OK, "one byte longer");
	cr_expect_neq(idem_add(r, 6, "", &a), LEDGE_OK, "an empty key");
	commit(r);

	cr_expect_eq(get(6, key, 0, &a), LEDGE_ENOENT);
	key[IDEM_MAX_KEY] = '\0';
	cr_expect_eq(get(6, key, 0, &a), LEDGE_OK);
	cr_expect_eq(get(6, "", 0, &a), LEDGE_ENOENT);
}

/* An entry added through a store batch directly (as recovery or a tool
 * would) reads the same way. */
static int
apply_ops(struct store_batch *b, const struct commit_rec *r)
{
	for (size_t off = 0; off < r->len;) {
		const unsigned char *p = r->ops + off;
		uint32_t kl = store_rd32(p + 2), vl = store_rd32(p + 6);
		int rv = p[1] == REC_PUT
		    ? store_batch_put(b, p[0], p + 10, kl, p + 10 + kl, vl)
		    : store_batch_del(b, p[0], p + 10, kl);
		if (rv != LEDGE_OK) {
			return rv;
		}
		off += 10 + kl + vl;
	}
	return LEDGE_OK;
}

Test(idem, add_through_a_store_batch)
{
	struct commit_rec *r = commit_rec_new();
	struct idem_answer a = { 7000, 200, "text/html", 0, "<p>hi</p>", 9 };
	struct store_batch *b;

	cr_assert_not_null(r);
	cr_assert_eq(idem_add(r, 8, "via-batch", &a), LEDGE_OK);
	cr_assert_eq(store_batch_begin(store, &b), LEDGE_OK);
	cr_assert_eq(apply_ops(b, r), LEDGE_OK);
	cr_assert_eq(store_batch_commit(b), LEDGE_OK);
	commit_rec_free(r);
	cr_assert_eq(get(8, "via-batch", 6999, &a), LEDGE_OK);
	cr_expect(answer_is(&a, 200, "text/html", "<p>hi</p>"));
}

static void
put_raw(uint32_t route, const char *key, const void *val, size_t vlen)
{
	struct commit_rec *r = commit_rec_new();
	unsigned char k[4 + IDEM_MAX_KEY];
	size_t kl = strlen(key);

	cr_assert_not_null(r);
	store_be32(k, route);
	memcpy(k + 4, key, kl);
	cr_assert_eq(commit_rec_put(r, STORE_IDEM, k, 4 + kl, val, vlen), 0);
	commit(r);
}

Test(idem, corrupt_entries_are_eproto)
{
	struct idem_answer a;
	unsigned char v[16];

	put_raw(9, "short", "abc", 3);
	cr_expect_eq(get(9, "short", 0, &a), LEDGE_EPROTO);
	put_raw(9, "none", "", 0);
	cr_expect_eq(get(9, "none", 0, &a), LEDGE_EPROTO);

	/* A content-type length running past the value. */
	memset(v, 0, sizeof v);
	store_be64(v, 1000);
	v[8] = 0;
	v[9] = 200;
	v[10] = 0;
	v[11] = 5; /* but only 4 bytes follow */
	memcpy(v + 12, "text", 4);
	put_raw(9, "ctype", v, 16);
	cr_expect_eq(get(9, "ctype", 0, &a), LEDGE_EPROTO);
	v[11] = 4; /* exactly right: an empty body */
	put_raw(9, "ctype", v, 16);
	cr_expect_eq(get(9, "ctype", 0, &a), LEDGE_OK);
	cr_expect(answer_is(&a, 200, "text", ""));
}

static int
count_fn(void *arg, ledge_bytes key, ledge_bytes value)
{
	(void)key;
	(void)value;
	(*(size_t *)arg)++;
	return 0;
}

static size_t
count(enum store_db db)
{
	size_t n = 0;
	cr_assert_eq(store_scan(store, db, count_fn, &n), LEDGE_OK);
	return n;
}

/* Prune in a fresh snapshot and commit the deletes; returns how many. */
static size_t
prune(uint64_t now, size_t max)
{
	struct commit_rec *r = commit_rec_new();
	size_t n;

	cr_assert_not_null(r);
	store_reader_end(reader);
	cr_assert_eq(store_reader_begin(reader), LEDGE_OK);
	n = idem_prune(reader, r, now, max);
	store_reader_end(reader);
	commit(r);
	return n;
}

Test(idem, prune_removes_only_expired_entries)
{
	struct idem_answer a;

	add(1, "a", 1000, 200, "t", "a");
	add(1, "b", 2000, 200, "t", "b");
	add(2, "c", 2500, 200, "t", "c");
	add(1, "d", 5000, 200, "t", "d");
	add(3, "e", 9000, 200, "t", "e");
	cr_expect_eq(count(STORE_IDEM), 5);
	cr_expect_eq(count(STORE_IDEMTIME), 5);

	cr_expect_eq(prune(500, 100), 0, "nothing expired yet");
	cr_expect_eq(count(STORE_IDEM), 5);

	cr_expect_eq(prune(3000, 100), 3);
	cr_expect_eq(count(STORE_IDEM), 2);
	cr_expect_eq(count(STORE_IDEMTIME), 2, "the index is pruned too");
	cr_expect_eq(get(1, "a", 0, &a), LEDGE_ENOENT);
	cr_expect_eq(get(1, "b", 0, &a), LEDGE_ENOENT);
	cr_expect_eq(get(2, "c", 0, &a), LEDGE_ENOENT);
	cr_expect_eq(get(1, "d", 3000, &a), LEDGE_OK);
	cr_expect_eq(get(3, "e", 3000, &a), LEDGE_OK);

	cr_expect_eq(prune(3000, 100), 0, "pruning again finds nothing");
	cr_expect_eq(prune(UINT64_MAX, 100), 2);
	cr_expect_eq(count(STORE_IDEM), 0);
	cr_expect_eq(count(STORE_IDEMTIME), 0);
}

Test(idem, prune_keeps_an_entry_at_its_expiry_time)
{
	struct idem_answer a;

	add(1, "edge", 4000, 200, "t", "x");
	cr_expect_eq(prune(4000, 10), 0,
	    "an entry is valid at its expiry time, so it stays");
	cr_expect_eq(get(1, "edge", 4000, &a), LEDGE_OK);
	cr_expect_eq(prune(4001, 10), 1);
}

Test(idem, prune_honours_max)
{
	char key[16];

	for (int i = 0; i < 25; i++) {
		snprintf(key, sizeof key, "k%02d", i);
		add(1, key, (uint64_t)(100 + i), 200, "t", key);
	}
	cr_expect_eq(prune(1000, 10), 10);
	cr_expect_eq(count(STORE_IDEM), 15);
	cr_expect_eq(prune(1000, 10), 10);
	cr_expect_eq(prune(1000, 10), 5);
	cr_expect_eq(count(STORE_IDEM), 0);
	cr_expect_eq(prune(1000, 0), 0);
}

Test(idem, prune_oldest_first)
{
	struct idem_answer a;

	/* Added newest first: pruning with a small max takes the oldest. */
	add(1, "late", 300, 200, "t", "x");
	add(1, "mid", 200, 200, "t", "x");
	add(1, "early", 100, 200, "t", "x");
	cr_expect_eq(prune(1000, 1), 1);
	cr_expect_eq(get(1, "early", 0, &a), LEDGE_ENOENT);
	cr_expect_eq(get(1, "mid", 0, &a), LEDGE_OK);
	cr_expect_eq(get(1, "late", 0, &a), LEDGE_OK);
}

/*
 * A key whose first answer expired may be used again: the retry runs the
 * request anew and stores a fresh answer under the same (route, key).
 * Pruning the old, expired entry must not delete the new one.
 */
Test(idem, prune_spares_a_key_stored_again_after_expiry)
{
	struct idem_answer a;

	add(1, "reused", 1000, 200, "t", "first answer");
	cr_expect_eq(get(1, "reused", 1500, &a), LEDGE_ENOENT, "expired");
	add(1, "reused", 90000, 201, "t", "second answer");
	cr_assert_eq(get(1, "reused", 1500, &a), LEDGE_OK);
	cr_expect(answer_is(&a, 201, "t", "second answer"));

	prune(2000, 100);
	cr_expect_eq(get(1, "reused", 2000, &a), LEDGE_OK,
	    "pruning the expired first answer deleted the live second one");
	if (get(1, "reused", 2000, &a) == LEDGE_OK) {
		cr_expect(answer_is(&a, 201, "t", "second answer"));
	}
	/* Its own expiry still prunes it later. */
	prune(100000, 100);
	cr_expect_eq(count(STORE_IDEM), 0);
	cr_expect_eq(count(STORE_IDEMTIME), 0);
}
