/*
 * code_sign_test.c - keys, signatures and trust sets (code/code_sign.h):
 * what verifies, and each way a signature can fail to.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/sha256.h"
#include "code/code_sign.h"
#include "proc.h"

static char *dir;

static void
setup(void)
{
	dir = tmpdir_make("sign");
	cr_assert_not_null(dir);
}

static void
teardown(void)
{
	tmpdir_remove(dir);
	free(dir);
}

TestSuite(code_sign, .init = setup, .fini = teardown);

static void
path(char *buf, size_t n, const char *name)
{
	snprintf(buf, n, "%s/%s", dir, name);
}

/* A key pair dir/NAME.key, .pub; its short name. */
static void
keypair(const char *name, char keyid[17])
{
	char p[4096], err[512];
	path(p, sizeof p, name);
	cr_assert_eq(
	    code_key_generate(p, keyid, err, sizeof err), LEDGE_OK, "%s", err);
}

static struct code_trust *
trusting(const char *name)
{
	struct code_trust *t;
	char p[4096], err[512];
	cr_assert_eq(code_trust_new(&t), LEDGE_OK);
	snprintf(p, sizeof p, "%s/%s.pub", dir, name);
	cr_assert_eq(
	    code_trust_add(t, p, err, sizeof err), LEDGE_OK, "%s", err);
	return t;
}

static void
sign_hash(const char *key, const char *hash, char sig[CODE_SIG_MAX])
{
	char p[4096], err[512];
	snprintf(p, sizeof p, "%s/%s.key", dir, key);
	cr_assert_eq(code_sign(p, hash, sig, CODE_SIG_MAX, err, sizeof err),
	    LEDGE_OK, "%s", err);
}

Test(code_sign, a_signature_verifies_for_its_hash_and_key_only)
{
	char id[17], id2[17], sig[CODE_SIG_MAX], err[256], got[17];
	char h1[65], h2[65];
	sha256_hex("one", 3, h1);
	sha256_hex("two", 3, h2);
	keypair("a", id);
	keypair("b", id2);
	cr_expect_str_neq(id, id2);
	sign_hash("a", h1, sig);

	cr_expect_eq(code_sig_valid(sig, strlen(sig), h1, got, err, sizeof err),
	    LEDGE_OK, "%s", err);
	cr_expect_str_eq(got, id);
	cr_expect_eq(
	    code_sig_valid(sig, strlen(sig), h2, NULL, err, sizeof err),
	    LEDGE_EINVAL);
	cr_expect_str_eq(err, "the signature does not match the code's bytes");

	struct code_trust *ta = trusting("a"), *tb = trusting("b");
	cr_expect_eq(code_trust_len(ta), 1);
	cr_expect_eq(
	    code_sig_trusted(ta, sig, strlen(sig), h1, err, sizeof err),
	    LEDGE_OK, "%s", err);
	cr_expect_eq(
	    code_sig_trusted(tb, sig, strlen(sig), h1, err, sizeof err),
	    LEDGE_EINVAL);
	cr_expect(
	    strstr(err, id) != NULL && strstr(err, "not trusted"), "%s", err);
	cr_expect_eq(
	    code_sig_trusted(ta, NULL, 0, h1, err, sizeof err), LEDGE_EINVAL);
	cr_expect_str_eq(err, "there is no signature");
	code_trust_free(ta);
	code_trust_free(tb);
}

Test(code_sign, a_damaged_signature_is_malformed_not_valid)
{
	char id[17], sig[CODE_SIG_MAX], bad[CODE_SIG_MAX + 8], err[256], h[65];
	sha256_hex("x", 1, h);
	keypair("a", id);
	sign_hash("a", h, sig);
	size_t n = strlen(sig);

	/* Cut short, a digit changed in the key or the signature, a
	 * wrong tag, something after it, a NUL inside. */
	cr_expect_eq(code_sig_valid(sig, n - 10, h, NULL, err, sizeof err),
	    LEDGE_EINVAL);
	cr_expect_str_eq(err, "malformed signature");
	for (size_t at = 25; at < n - 1; at += 37) {
		memcpy(bad, sig, n + 1);
		bad[at] = bad[at] == '0' ? '1' : '0';
		cr_expect_eq(code_sig_valid(bad, n, h, NULL, err, sizeof err),
		    LEDGE_EINVAL, "digit %zu changed", at);
	}
	memcpy(bad, sig, n + 1);
	bad[11] = '2'; /* ledge-sig-v2 */
	cr_expect_eq(
	    code_sig_valid(bad, n, h, NULL, err, sizeof err), LEDGE_EINVAL);
	snprintf(bad, sizeof bad, "%.*s more\n", (int)(n - 1), sig);
	cr_expect_eq(code_sig_valid(bad, strlen(bad), h, NULL, err, sizeof err),
	    LEDGE_EINVAL);
	memcpy(bad, sig, n + 1);
	bad[40] = '\0';
	cr_expect_eq(
	    code_sig_valid(bad, n, h, NULL, err, sizeof err), LEDGE_EINVAL);
	cr_expect_eq(
	    code_sig_valid(sig, n, "abc", NULL, err, sizeof err), LEDGE_EINVAL);
}

Test(code_sign, keys_are_never_overwritten_and_the_secret_is_private)
{
	char id[17], err[512], p[4096];
	struct stat st;
	keypair("a", id);
	path(p, sizeof p, "a.key");
	cr_assert_eq(stat(p, &st), 0);
	cr_expect_eq(st.st_mode & 0777, 0600);
	path(p, sizeof p, "a");
	cr_expect_eq(code_key_generate(p, id, err, sizeof err), LEDGE_EINVAL);
	cr_expect(strstr(err, "exists already") != NULL, "%s", err);
}

Test(code_sign, a_trust_set_takes_files_or_hex_and_refuses_the_rest)
{
	struct code_trust *t;
	char id[17], err[512], p[4096], line[256];
	keypair("a", id);
	cr_assert_eq(code_trust_new(&t), LEDGE_OK);
	/* The hex of a.pub, from the file. */
	path(p, sizeof p, "a.pub");
	FILE *fp = fopen(p, "r");
	cr_assert_not_null(fp);
	cr_assert_not_null(fgets(line, sizeof line, fp));
	fclose(fp);
	char *hex = strrchr(line, ' ') + 1;
	hex[64] = '\0';
	cr_expect_eq(
	    code_trust_add(t, hex, err, sizeof err), LEDGE_OK, "%s", err);
	cr_expect_eq(code_trust_add(t, p, err, sizeof err), LEDGE_OK);
	cr_expect_eq(code_trust_len(t), 1, "the same key twice is one");
	path(p, sizeof p, "a.key");
	cr_expect_eq(code_trust_add(t, p, err, sizeof err), LEDGE_EINVAL);
	cr_expect(strstr(err, "not a ledge public key") != NULL, "%s", err);
	path(p, sizeof p, "none.pub");
	cr_expect_eq(code_trust_add(t, p, err, sizeof err), LEDGE_ENOENT);
	cr_expect_eq(code_trust_add(t, "abcd", err, sizeof err), LEDGE_ENOENT);
	cr_expect_eq(code_trust_len(t), 1);
	code_trust_free(t);
	cr_expect_eq(code_trust_len(NULL), 0);
}
