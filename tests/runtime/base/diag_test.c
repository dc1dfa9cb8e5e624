/*
 * diag_test.c - message formatting, the recording limit, and "did you
 * mean" suggestions.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>

#include "base/diag.h"

static struct diag d;

static void
setup(void)
{
	diag_init(&d);
}

static void
teardown(void)
{
	diag_fini(&d);
}

TestSuite(diag, .init = setup, .fini = teardown);

/* What diag_print writes, as one malloc'd string. */
static char *
printed(const struct diag *list)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *fp = open_memstream(&buf, &len);

	cr_assert_not_null(fp);
	diag_print(list, fp);
	fclose(fp);
	return buf;
}

Test(diag, message_with_position)
{
	diag_add(&d, "demo.yaml", 3, 1, "unknown key '%s'", "fuctions");
	cr_assert_eq(d.count, 1);
	cr_assert_str_eq(
	    d.items[0].text, "demo.yaml:3:1: unknown key 'fuctions'");
}

Test(diag, message_without_position_or_file)
{
	diag_add(&d, "demo.yaml", 0, 0, "cannot read: %s", "No such file");
	diag_add(&d, NULL, 4, 2, "%d problems", 2);
	cr_assert_eq(d.count, 2);
	cr_assert_str_eq(
	    d.items[0].text, "demo.yaml: cannot read: No such file");
	cr_assert_str_eq(d.items[1].text, "2 problems");
}

Test(diag, print_one_per_line)
{
	char *out;

	diag_add(&d, "a.yaml", 1, 2, "first");
	diag_add(&d, "a.yaml", 3, 4, "second");
	out = printed(&d);
	cr_assert_str_eq(out, "a.yaml:1:2: first\na.yaml:3:4: second\n");
	free(out);
}

Test(diag, limit_keeps_counting)
{
	char *out;

	d.limit = 3;
	for (int i = 0; i < 5; i++) {
		diag_add(&d, "a.yaml", i + 1, 1, "error %d", i);
	}
	cr_assert_eq(d.count, 5, "count never under-reports");
	cr_assert_str_eq(d.items[2].text, "a.yaml:3:1: error 2");
	out = printed(&d);
	cr_assert_str_eq(out,
	    "a.yaml:1:1: error 0\na.yaml:2:1: error 1\na.yaml:3:1: error 2\n"
	    "(2 more not shown)\n");
	free(out);
}

Test(diag, default_limit_is_200)
{
	for (int i = 0; i < 250; i++) {
		diag_add(&d, "a.yaml", i + 1, 1, "error");
	}
	cr_assert_eq(d.count, 250);
	cr_assert_eq(d.cap, 200);
}

Test(diag, fini_leaves_a_reusable_list)
{
	diag_add(&d, "a.yaml", 1, 1, "one");
	diag_fini(&d);
	cr_assert_eq(d.count, 0);
	diag_add(&d, "b.yaml", 2, 2, "two");
	cr_assert_eq(d.count, 1);
	cr_assert_str_eq(d.items[0].text, "b.yaml:2:2: two");
}

Test(diag, long_messages_are_kept_whole)
{
	char big[5000];

	memset(big, 'x', sizeof big - 1);
	big[sizeof big - 1] = '\0';
	diag_add(&d, "a.yaml", 1, 1, "%s", big);
	cr_assert_eq(strlen(d.items[0].text), strlen("a.yaml:1:1: ") + 4999);
}

static const char *const top[] = { "workflow", "functions", "resources" };

Test(diag, suggest_close_words)
{
	cr_assert_str_eq(diag_suggest("fuctions", top, 3), "functions");
	cr_assert_str_eq(diag_suggest("workflw", top, 3), "workflow");
	cr_assert_str_eq(diag_suggest("resource", top, 3), "resources");
	cr_assert_str_eq(diag_suggest("Functions", top, 3), "functions");
}

Test(diag, suggest_nothing_for_far_words)
{
	cr_assert_null(diag_suggest("outputs", top, 3));
	cr_assert_null(diag_suggest("fncts", top, 3));
	cr_assert_null(diag_suggest("x", top, 3));
	cr_assert_null(diag_suggest("functions", top, 0));
}

Test(diag, threshold_is_a_third_of_the_length_but_at_least_one)
{
	static const char *const types[] = { "timer", "file-log" };
	static const char *const ab[] = { "ab" };

	/* "timr": 4 letters allow 1 edit. */
	cr_assert_str_eq(diag_suggest("timr", types, 2), "timer");
	/* "tmr": 3 letters allow 1 edit, and "timer" is 2 away. */
	cr_assert_null(diag_suggest("tmr", types, 2));
	/* "fil-lg": 6 letters allow 2 edits. */
	cr_assert_str_eq(diag_suggest("fil-lg", types, 2), "file-log");
	/* "fl-lg": 5 letters allow 1 edit; it is 3 away. */
	cr_assert_null(diag_suggest("fl-lg", types, 2));
	/* Even a one-letter word gets one edit. */
	cr_assert_str_eq(diag_suggest("b", ab, 1), "ab");
}

Test(diag, suggest_picks_the_closest)
{
	static const char *const names[] = { "average", "averages", "avg" };

	cr_assert_str_eq(diag_suggest("averge", names, 3), "average");
	cr_assert_str_eq(diag_suggest("averagess", names, 3), "averages");
}

Test(diag, suggest_skips_null_and_very_long_words)
{
	static const char *const names[] = { NULL, "timer" };
	char big[300];

	cr_assert_str_eq(diag_suggest("timer", names, 2), "timer");
	memset(big, 'a', sizeof big - 1);
	big[sizeof big - 1] = '\0';
	cr_assert_null(diag_suggest(big, names, 2));
}
