/*
 * json_out_test.c - the CLI's JSON writer (tools/cli/json_out.c):
 * escaping, UTF-8 kept or replaced, base64, nesting and misuse.
 */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "cli/json_out.h"

/* The JSON text of one string value. */
static char *
json_of_str(const char *s, size_t n)
{
	struct json_out j;
	char *out;
	json_init(&j);
	json_strn(&j, s, n);
	cr_assert_not_null(json_text(&j, NULL));
	out = strdup(json_text(&j, NULL));
	json_fini(&j);
	return out;
}

TestSuite(json);

Test(json, escapes_quotes_backslashes_and_control_characters)
{
	const char in[] = "a\"b\\c/\n\t\r\b\f\x01\x1f\x7f";
	char *s = json_of_str(in, sizeof in - 1);
	cr_expect_str_eq(
	    s, "\"a\\\"b\\\\c/\\n\\t\\r\\b\\f\\u0001\\u001f\x7f\"");
	free(s);
	s = json_of_str("a\0b", 3);
	cr_expect_str_eq(s, "\"a\\u0000b\"", "an embedded NUL is kept");
	free(s);
}

Test(json, keeps_utf8_and_replaces_bytes_that_are_not)
{
	static const struct {
		const char *in, *out;
	} cases[] = {
		{ "h\xc3\xa9 \xf0\x9f\x98\x80 \xe2\x82\xac",
		    "\"h\xc3\xa9 \xf0\x9f\x98\x80 \xe2\x82\xac\"" },
		{ "\xff", "\"\\ufffd\"" },
		{ "a\xc3", "\"a\\ufffd\"" },          /* cut short */
		{ "\xc3(", "\"\\ufffd(\"" },          /* bad tail */
		{ "\xc0\x80", "\"\\ufffd\\ufffd\"" }, /* overlong NUL */
		{ "\xe0\x80\xaf", "\"\\ufffd\\ufffd\\ufffd\"" }, /* overlong */
		{ "\xed\xa0\x80", "\"\\ufffd\\ufffd\\ufffd\"" }, /* surrogate */
		{ "\xf4\x90\x80\x80",
		    "\"\\ufffd\\ufffd\\ufffd\\ufffd\"" }, /* > U+10FFFF */
		{ "\x80x", "\"\\ufffdx\"" },              /* lone tail */
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		char *s = json_of_str(cases[i].in, strlen(cases[i].in));
		cr_expect_str_eq(s, cases[i].out, "case %zu", i);
		free(s);
	}
}

Test(json, base64_vectors)
{
	/* RFC 4648, section 10 */
	static const char *const out[] = { "\"\"", "\"Zg==\"", "\"Zm8=\"",
		"\"Zm9v\"", "\"Zm9vYg==\"", "\"Zm9vYmE=\"", "\"Zm9vYmFy\"" };
	for (size_t n = 0; n <= 6; n++) {
		struct json_out j;
		json_init(&j);
		json_base64(&j, "foobar", n);
		cr_expect_str_eq(json_text(&j, NULL), out[n]);
		json_fini(&j);
	}
}

Test(json, nesting_commas_and_misuse)
{
	struct json_out j;
	json_init(&j);
	json_obj_begin(&j);
	json_key(&j, "a\"");
	json_arr_begin(&j);
	json_u64(&j, 18446744073709551615ull);
	json_i64(&j, -5);
	json_bool(&j, false);
	json_null(&j);
	json_obj_begin(&j);
	json_obj_end(&j);
	json_arr_begin(&j);
	json_arr_end(&j);
	json_arr_end(&j);
	json_key(&j, "b");
	json_str(&j, NULL);
	cr_expect_null(json_text(&j, NULL), "an open object is no document");
	json_obj_end(&j);
	cr_expect_str_eq(json_text(&j, NULL),
	    "{\"a\\\"\":[18446744073709551615,-5,false,null,{},[]],"
	    "\"b\":null}");
	json_fini(&j);

	json_init(&j);
	json_obj_begin(&j);
	json_u64(&j, 1); /* no key */
	json_obj_end(&j);
	cr_expect_null(json_text(&j, NULL));
	json_fini(&j);

	json_init(&j);
	json_arr_begin(&j);
	json_obj_end(&j); /* wrong closer */
	cr_expect_null(json_text(&j, NULL));
	json_fini(&j);

	json_init(&j);
	json_u64(&j, 1);
	json_u64(&j, 2); /* two documents */
	cr_expect_null(json_text(&j, NULL));
	json_fini(&j);
}
