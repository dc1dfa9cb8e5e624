/*
 * strbuf_test.c - the growing string (runtime/base/strbuf.h): appends of
 * every kind, long formatted text, joins, and what take hands over.
 */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "base/strbuf.h"

TestSuite(strbuf, .timeout = 30);

Test(strbuf, appends_in_order_and_stays_terminated)
{
	struct strbuf b = { 0 };
	strbuf_str(&b, "ab");
	strbuf_put(&b, "c\0d", 3);
	strbuf_fmt(&b, "-%d-%s", 42, "x");
	cr_assert_eq(b.len, 10);
	cr_assert_eq(memcmp(b.p, "abc\0d-42-x", 10), 0);
	cr_assert_eq(b.p[b.len], '\0');
	strbuf_free(&b);
	cr_assert_null(b.p);
	cr_assert_eq(b.len, 0);
}

Test(strbuf, formats_text_longer_than_any_buffer)
{
	struct strbuf b = { 0 };
	char *big = malloc(100001);
	cr_assert_not_null(big);
	memset(big, 'y', 100000);
	big[100000] = '\0';
	strbuf_fmt(&b, "<%s>", big);
	cr_assert_eq(b.len, 100002);
	cr_assert_eq(b.p[0], '<');
	cr_assert_eq(b.p[100001], '>');
	cr_assert(b.cap > b.len);
	free(big);
	strbuf_free(&b);
}

Test(strbuf, joins_with_a_separator)
{
	struct strbuf b = { 0 };
	const char *items[] = { "a", "bb", "ccc" };
	strbuf_join(&b, items, 3, ", ");
	char *s = strbuf_take(&b);
	cr_assert_str_eq(s, "a, bb, ccc");
	free(s);
	strbuf_join(&b, items, 0, ", ");
	s = strbuf_take(&b);
	cr_assert_str_eq(s, "");
	free(s);
}

Test(strbuf, take_hands_over_and_empties)
{
	struct strbuf b = { 0 };
	char *s = strbuf_take(&b);
	cr_assert_not_null(s, "nothing added is an empty string, not NULL");
	cr_assert_str_eq(s, "");
	free(s);
	strbuf_str(&b, "kept");
	s = strbuf_take(&b);
	cr_assert_str_eq(s, "kept");
	cr_assert_null(b.p);
	cr_assert_eq(b.len, 0);
	free(s);
	strbuf_str(&b, "again");
	s = strbuf_take(&b);
	cr_assert_str_eq(s, "again", "reusable after take");
	free(s);
}

Test(strbuf, after_a_failed_allocation_take_is_null)
{
	struct strbuf b = { 0 };
	strbuf_str(&b, "part");
	b.oom = true; /* as after a realloc that failed */
	strbuf_str(&b, "ignored");
	cr_assert_eq(b.len, 4, "nothing is added once oom");
	cr_assert_null(strbuf_take(&b));
	cr_assert_null(b.p);
	cr_assert(!b.oom, "empty and reusable");
}
