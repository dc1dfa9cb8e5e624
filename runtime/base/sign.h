/*
 * sign.h - Ed25519 signatures and the hex text they are written as: the
 * one place libsodium is used (sign.c).  Signed code (code/code_sign.h)
 * and the role tokens of a domain (net/msg_token.h) are built on it.
 *
 * Threads: every function is safe from any thread.
 */
#ifndef LEDGE_BASE_SIGN_H
#define LEDGE_BASE_SIGN_H

#include <stdbool.h>
#include <stddef.h>

#define SIGN_PUB_LEN 32 /* public key */
#define SIGN_SEC_LEN 64 /* secret key (its second half is the public key) */
#define SIGN_SIG_LEN 64 /* signature */

/* A new key pair.  0, or -1 if the library cannot start. */
int sign_keypair(
    unsigned char pub[SIGN_PUB_LEN], unsigned char sec[SIGN_SEC_LEN]);

/* The signature of msg[0..n) by sec.  0, or -1. */
int sign_detached(unsigned char sig[SIGN_SIG_LEN], const void *msg, size_t n,
    const unsigned char sec[SIGN_SEC_LEN]);

/* Whether sig is pub's signature of msg[0..n). */
bool sign_verify(const unsigned char sig[SIGN_SIG_LEN], const void *msg,
    size_t n, const unsigned char pub[SIGN_PUB_LEN]);

/* Exactly n hex digits at s, followed by the end, a space or a newline,
 * into out[n/2].  0, or -1. */
int sign_unhex(const char *s, size_t n, unsigned char *out);

/* n bytes as 2n lowercase hex digits and a NUL into hex. */
void sign_hex(char *hex, const unsigned char *bin, size_t n);

/* Overwrite n bytes at p in a way the compiler keeps. */
void sign_wipe(void *p, size_t n);

/* The key files: one line each, "<tag><hex>\n". */
#define SIGN_SEC_TAG "ledge-key-v1 ed25519 "
#define SIGN_PUB_TAG "ledge-pub-v1 ed25519 "

/*
 * Read a public key file.  0, or -1 with a reason naming path in err
 * (errno ENOENT when there is no such file).
 */
int sign_read_pub(const char *path, unsigned char pub[SIGN_PUB_LEN], char *err,
    size_t errlen);

/*
 * Read a secret key file, which only its owner may read.  0, or -1 with
 * a reason naming path in err.  The caller wipes sec after use.
 */
int sign_read_sec(const char *path, unsigned char sec[SIGN_SEC_LEN], char *err,
    size_t errlen);

#endif
