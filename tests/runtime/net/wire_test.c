/* wire_test.c - the message codec: round trips, and strict refusal of
 * anything malformed. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "net/wire.h"

static void
build(struct wire_w *w)
{
	cr_assert_eq(wire_w_init(w), 0);
	wire_map(w, 6);
	wire_str(w, "t");
	wire_str(w, "join");
	wire_str(w, "n");
	wire_u64(w, 1ull << 40);
	wire_str(w, "neg");
	wire_i64(w, -5);
	wire_str(w, "ok");
	wire_bool(w, true);
	wire_str(w, "bin");
	wire_bin(w, "a\0b", 3);
	wire_str(w, "list");
	wire_array(w, 2);
	wire_str(w, "x");
	wire_nil(w);
}

Test(wire, round_trip)
{
	struct wire_w w;
	struct wire_r r;
	const void *p;
	size_t n;
	build(&w);
	p = wire_data(&w, &n);
	cr_assert_not_null(p);
	cr_assert_eq(wire_parse(&r, p, n), 0);
	wire_v root = wire_root(&r);
	cr_expect(wire_is_map(root));
	cr_expect(wire_str_eq(wire_get(root, "t"), "join"));
	cr_expect_eq(wire_as_u64(wire_get(root, "n"), 0), 1ull << 40);
	cr_expect_eq(wire_as_i64(wire_get(root, "neg"), 0), -5);
	cr_expect(wire_as_bool(wire_get(root, "ok"), false));
	const void *b;
	size_t bn;
	cr_expect(wire_as_bin(wire_get(root, "bin"), &b, &bn));
	cr_expect_eq(bn, 3);
	cr_expect_eq(memcmp(b, "a\0b", 3), 0);
	wire_v list = wire_get(root, "list");
	cr_expect_eq(wire_len(list), 2);
	char *x = wire_str_dup(wire_at(list, 0));
	cr_expect_str_eq(x, "x");
	free(x);
	cr_expect(wire_is_nil(wire_at(list, 1)));
	cr_expect(!wire_ok(wire_at(list, 2)));
	cr_expect(!wire_ok(wire_get(root, "absent")));
	cr_expect_eq(wire_as_u64(wire_get(root, "t"), 7), 7, "wrong type");
	cr_expect_null(wire_str_dup(wire_get(root, "bin")) == NULL ? NULL : "",
	    "a string with a NUL inside is refused by _dup");
	wire_r_fini(&r);
	wire_w_fini(&w);
}

Test(wire, every_truncation_and_trailing_garbage_is_refused)
{
	struct wire_w w;
	struct wire_r r;
	size_t n;
	build(&w);
	const unsigned char *p = wire_data(&w, &n);
	for (size_t i = 0; i < n; i++) {
		cr_expect_neq(
		    wire_parse(&r, p, i), 0, "prefix %zu accepted", i);
	}
	unsigned char *more = malloc(n + 1);
	memcpy(more, p, n);
	more[n] = 0xc0;
	cr_expect_neq(wire_parse(&r, more, n + 1), 0, "two values accepted");
	free(more);
	wire_w_fini(&w);
}

Test(wire, deep_nesting_is_refused)
{
	unsigned char buf[64];
	struct wire_r r;
	for (size_t i = 0; i < sizeof buf - 1; i++) {
		buf[i] = 0x91; /* array of one */
	}
	buf[sizeof buf - 1] = 0xc0;
	cr_expect_neq(wire_parse(&r, buf, sizeof buf), 0);
}

Test(wire, random_bytes_never_crash)
{
	unsigned char buf[256];
	unsigned seed = 7;
	for (int k = 0; k < 20000; k++) {
		struct wire_r r;
		size_t n = (size_t)(rand_r(&seed) % (int)sizeof buf) + 1;
		for (size_t i = 0; i < n; i++) {
			buf[i] = (unsigned char)rand_r(&seed);
		}
		if (wire_parse(&r, buf, n) == 0) {
			wire_v v = wire_root(&r);
			(void)wire_len(v);
			(void)wire_get(v, "t");
			wire_r_fini(&r);
		}
	}
}

Test(wire, declared_sizes_beyond_the_message_are_refused)
{
	/* A 6-byte message declaring 16 million entries, or a 4 GB string. */
	const unsigned char arr[] = { 0xdd, 0x00, 0xff, 0xff, 0xff, 0xc0 };
	const unsigned char str[] = { 0xdb, 0xff, 0xff, 0xff, 0xff, 'x' };
	const unsigned char map[] = { 0xdf, 0x00, 0x01, 0x00, 0x00, 0x01,
		0x02 };
	struct wire_r r;
	cr_expect_neq(wire_parse(&r, arr, sizeof arr), 0);
	cr_expect_neq(wire_parse(&r, str, sizeof str), 0);
	cr_expect_neq(wire_parse(&r, map, sizeof map), 0);
}

Test(wire, parse_errors_are_ledge_codes)
{
	const unsigned char two[] = { 0xc0, 0xc0 };
	unsigned char one = 0xc0;
	struct wire_r r;
	cr_expect_eq(wire_parse(&r, two, sizeof two), LEDGE_EPROTO);
	cr_expect_eq(wire_parse(&r, NULL, 0), LEDGE_EPROTO);
	cr_expect_eq(wire_parse(&r, &one, WIRE_MAX_BYTES + 1), LEDGE_ETOOBIG);
	cr_assert_eq(wire_parse(&r, &one, 1), LEDGE_OK);
	wire_r_fini(&r);
}
