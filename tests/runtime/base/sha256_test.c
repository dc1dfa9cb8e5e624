/*
 * sha256_test.c - SHA-256 (runtime/base/sha256.h) against the FIPS 180-4
 * example messages and lengths around the padding boundaries, and
 * incremental updates in odd chunk sizes against one-shot hashing.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/sha256.h"

TestSuite(sha256, .timeout = 60);

static void
hex(const unsigned char d[32], char out[65])
{
	for (int i = 0; i < 32; i++) {
		snprintf(out + 2 * i, 3, "%02x", d[i]);
	}
}

static void
expect_hash(const void *data, size_t len, const char *want)
{
	char got[65];
	unsigned char d[32];
	struct sha256 s;

	memset(got, 'x', sizeof got);
	sha256_hex(data, len, got);
	cr_expect_eq(got[64], '\0', "sha256_hex terminates the string");
	cr_expect_str_eq(got, want, "sha256_hex of %zu bytes", len);

	sha256_init(&s);
	sha256_update(&s, data, len);
	sha256_final(&s, d);
	hex(d, got);
	cr_expect_str_eq(got, want, "init/update/final of %zu bytes", len);
}

Test(sha256, empty)
{
	expect_hash("", 0,
	    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

Test(sha256, abc)
{
	expect_hash("abc", 3,
	    "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

Test(sha256, message_448_bits)
{
	const char *m =
	    "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
	cr_assert_eq(strlen(m) * 8, 448);
	expect_hash(m, strlen(m),
	    "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
}

Test(sha256, message_896_bits)
{
	const char *m =
	    "abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmn"
	    "hijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu";
	cr_assert_eq(strlen(m) * 8, 896);
	expect_hash(m, strlen(m),
	    "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1");
}

Test(sha256, one_million_a)
{
	size_t n = 1000000;
	char *m = malloc(n);
	struct sha256 s;
	unsigned char d[32];
	char got[65];
	const char *want =
	    "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0";

	cr_assert_not_null(m);
	memset(m, 'a', n);
	expect_hash(m, n, want);
	/* And as FIPS 180-4 presents it: one 'a' at a time. */
	sha256_init(&s);
	for (size_t i = 0; i < n; i++) {
		sha256_update(&s, "a", 1);
	}
	sha256_final(&s, d);
	hex(d, got);
	cr_expect_str_eq(got, want);
	free(m);
}

/* Lengths around the 55/56/64-byte padding boundaries (from Python's
 * hashlib). */
Test(sha256, padding_boundaries)
{
	static const struct {
		size_t n;
		const char *hash;
	} v[] = {
		{ 55,
		    "9f4390f8d30c2dd92ec9f095b65e2b9ae9b0a925a5258e241c9f1e910f"
		    "734318" },
		{ 56,
		    "b35439a4ac6f0948b6d6f9e3c6af0f5f590ce20f1bde7090ef7970686e"
		    "c6738a" },
		{ 63,
		    "7d3e74a05d7db15bce4ad9ec0658ea98e3f06eeecf16b4c6fff2da457d"
		    "dc2f34" },
		{ 64,
		    "ffe054fe7ae0cb6dc65c3af9b61d5209f439851db43d0ba5997337df15"
		    "4668eb" },
		{ 65,
		    "635361c48bb9eab14198e76ea8ab7f1a41685d6ad62aa9146d301d4f17"
		    "eb0ae0" },
		{ 119,
		    "31eba51c313a5c08226adf18d4a359cfdfd8d2e816b13f4af952f7ea65"
		    "84dcfb" },
		{ 120,
		    "2f3d335432c70b580af0e8e1b3674a7c020d683aa5f73aaaedfdc55af9"
		    "04c21c" },
		{ 128,
		    "6836cf13bac400e9105071cd6af47084dfacad4e5e302c94bfed24e013"
		    "afb73e" },
	};
	char a[128];

	memset(a, 'a', sizeof a);
	for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
		expect_hash(a, v[i].n, v[i].hash);
	}
}

Test(sha256, all_byte_values)
{
	unsigned char m[1024];

	for (size_t i = 0; i < sizeof m; i++) {
		m[i] = (unsigned char)i;
	}
	expect_hash(m, sizeof m,
	    "785b0751fc2c53dc14a4ce3d800e69ef9ce1009eb327ccf458afe09c242c26c9");
}

Test(sha256, incremental_equals_one_shot)
{
	static const size_t chunks[] = { 1, 2, 3, 7, 13, 31, 55, 56, 63, 64, 65,
		127, 129, 1000 };
	unsigned char m[3000];
	unsigned int x = 12345;

	for (size_t i = 0; i < sizeof m; i++) {
		x = x * 1103515245u + 12345u;
		m[i] = (unsigned char)(x >> 16);
	}
	for (size_t len = 0; len <= sizeof m; len += (len < 300 ? 1 : 97)) {
		char want[65];
		sha256_hex(m, len, want);
		for (size_t c = 0; c < sizeof chunks / sizeof chunks[0]; c++) {
			struct sha256 s;
			unsigned char d[32];
			char got[65];
			size_t off = 0;
			sha256_init(&s);
			while (off < len) {
				size_t n = chunks[c] < len - off ? chunks[c]
				                                 : len - off;
				sha256_update(&s, m + off, n);
				/* Empty updates in between change nothing. */
				sha256_update(&s, m, 0);
				off += n;
			}
			sha256_final(&s, d);
			hex(d, got);
			cr_assert_str_eq(got, want,
			    "%zu bytes in chunks of %zu", len, chunks[c]);
		}
	}
}

Test(sha256, init_resets)
{
	struct sha256 s;
	unsigned char d[32];
	char got[65];

	sha256_init(&s);
	sha256_update(&s, "garbage that is thrown away", 27);
	sha256_init(&s);
	sha256_update(&s, "abc", 3);
	sha256_final(&s, d);
	hex(d, got);
	cr_expect_str_eq(got,
	    "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}
