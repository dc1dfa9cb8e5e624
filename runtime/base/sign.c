/*
 * sign.c - Ed25519 with libsodium (sign.h).
 *
 * libsodium rather than mbedtls (which nng already links): its Ed25519
 * is one call each way with no parameters to get wrong, and Debian 12's
 * mbedtls 2.28 has no Ed25519 at all.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include <sodium.h>

#include "base/sign.h"

/* libsodium's own set-up; safe to call again and from threads. */
static int
ready(void)
{
	return sodium_init() < 0 ? -1 : 0;
}

int
sign_keypair(unsigned char pub[SIGN_PUB_LEN], unsigned char sec[SIGN_SEC_LEN])
{
	return ready() == 0 && crypto_sign_keypair(pub, sec) == 0 ? 0 : -1;
}

int
sign_detached(unsigned char sig[SIGN_SIG_LEN], const void *msg, size_t n,
    const unsigned char sec[SIGN_SEC_LEN])
{
	return ready() == 0 && crypto_sign_detached(sig, NULL, msg, n, sec) == 0
	    ? 0
	    : -1;
}

bool
sign_verify(const unsigned char sig[SIGN_SIG_LEN], const void *msg, size_t n,
    const unsigned char pub[SIGN_PUB_LEN])
{
	return ready() == 0 &&
	    crypto_sign_verify_detached(sig, msg, n, pub) == 0;
}

int
sign_unhex(const char *s, size_t n, unsigned char *out)
{
	size_t got = 0;
	if (strnlen(s, n + 1) < n ||
	    (s[n] != '\0' && s[n] != ' ' && s[n] != '\n')) {
		return -1;
	}
	if (sodium_hex2bin(out, n / 2, s, n, NULL, &got, NULL) != 0 ||
	    got != n / 2) {
		return -1;
	}
	return 0;
}

void
sign_hex(char *hex, const unsigned char *bin, size_t n)
{
	sodium_bin2hex(hex, 2 * n + 1, bin, n);
}

void
sign_wipe(void *p, size_t n)
{
	sodium_memzero(p, n);
}

/* A key file's line: its tag and n hex digits into out.  0, or -1. */
static int
read_key(const char *path, const char *tag, unsigned char *out, size_t n,
    const char *what, char *err, size_t errlen)
{
	char line[512];
	size_t tl = strlen(tag);
	FILE *fp = fopen(path, "re");
	int e;

	if (fp == NULL) {
		e = errno;
		snprintf(err, errlen, "cannot read %s %s: %s", what, path,
		    strerror(e));
		errno = e;
		return -1;
	}
	if (fgets(line, sizeof line, fp) == NULL ||
	    strncmp(line, tag, tl) != 0 ||
	    sign_unhex(line + tl, 2 * n, out) != 0) {
		fclose(fp);
		sign_wipe(line, sizeof line);
		snprintf(err, errlen,
		    "%s is not a ledge %s (a line '%s<%zu hex digits>')", path,
		    what, tag, 2 * n);
		errno = EINVAL;
		return -1;
	}
	sign_wipe(line, sizeof line);
	fclose(fp);
	return 0;
}

int
sign_read_pub(
    const char *path, unsigned char pub[SIGN_PUB_LEN], char *err, size_t errlen)
{
	return read_key(
	    path, SIGN_PUB_TAG, pub, SIGN_PUB_LEN, "public key", err, errlen);
}

int
sign_read_sec(
    const char *path, unsigned char sec[SIGN_SEC_LEN], char *err, size_t errlen)
{
	struct stat st;
	if (read_key(path, SIGN_SEC_TAG, sec, SIGN_SEC_LEN, "secret key", err,
	        errlen) != 0) {
		return -1;
	}
	if (stat(path, &st) == 0 && (st.st_mode & 077) != 0) {
		sign_wipe(sec, SIGN_SEC_LEN);
		snprintf(err, errlen,
		    "%s can be read by others than its owner (mode %03o); "
		    "`chmod 600 %s` if it is still secret",
		    path, (unsigned)(st.st_mode & 0777), path);
		return -1;
	}
	return 0;
}
