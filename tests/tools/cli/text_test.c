/*
 * text_test.c - words for people (tools/cli/text.c): bytes escaped for a
 * terminal and back.
 */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "cli/text.h"

Test(text, escape_and_unescape)
{
	char *e = text_escape("k\x00\xff\\ \xc3\xa9\n", 8, true);
	char *u;
	size_t n;
	cr_expect_str_eq(e, "k\\x00\\xff\\\\ \xc3\xa9\\x0a");
	cr_assert_eq(text_unescape(e, &u, &n), 0);
	cr_expect_eq(n, 8);
	cr_expect_eq(memcmp(u, "k\x00\xff\\ \xc3\xa9\n", 8), 0);
	free(u);
	free(e);
	e = text_escape("a\\b", 3, false);
	cr_expect_str_eq(e, "a\\b", "names keep their backslashes");
	free(e);
	cr_expect_eq(text_unescape("a\\q", &u, &n), -1);
	cr_expect_null(u);
	cr_expect_eq(text_unescape("a\\x4", &u, &n), -1);
	cr_expect_eq(text_unescape("trailing\\", &u, &n), -1);
	cr_assert_eq(text_unescape("\\x41\\x6a", &u, &n), 0);
	cr_expect_str_eq(u, "Aj");
	free(u);
}
