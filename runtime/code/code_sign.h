/*
 * code_sign.h - signed function code: Ed25519 keys, detached signatures
 * and the set of keys a process trusts.
 *
 * A signature is over the code's SHA-256 (the hash everything else names
 * code by), so a party that has hashed the bytes it holds can check it
 * without reading them again.  What is signed is the text
 * "ledge-code-v1 " followed by the 64 hex digits of the hash.
 *
 * The files are one line of text each:
 *
 *     NAME.key   ledge-key-v1 ed25519 <128 hex: secret key>   (mode 0600)
 *     NAME.pub   ledge-pub-v1 ed25519 <64 hex: public key>
 *     F.so.sig   ledge-sig-v1 ed25519 <64 hex: public key> <128 hex: sig>
 *
 * A signature names its key, so it can be checked on its own (is it a
 * signature of these bytes at all?) and against a trust set (by a key
 * trusted here?).  A key is named to people by its first 16 hex digits.
 *
 * The signing itself is base/sign.c's (libsodium).
 *
 * Threads: every function is safe from any thread; a trust set is
 * read-only once made, so one may be shared by threads that only check.
 */
#ifndef LEDGE_CODE_CODE_SIGN_H
#define LEDGE_CODE_CODE_SIGN_H

#include <stddef.h>

#include <ledge.h>

/* The longest signature text accepted (a valid one is 218 bytes). */
#define CODE_SIG_MAX 512

/* The suffix of a code file's signature: F.so is signed in F.so.sig. */
#define CODE_SIG_SUFFIX ".sig"

struct code_trust;

/*
 * An empty trust set.  LEDGE_OK or LEDGE_ENOMEM.  Free with
 * code_trust_free.
 */
int code_trust_new(struct code_trust **tp);

/* Free a set (NULL is fine). */
void code_trust_free(struct code_trust *t);

/*
 * Trust one more key: `spec` is a public key file (NAME.pub) or the key's
 * 64 hex digits.  LEDGE_OK; LEDGE_ENOENT (the file cannot be read),
 * LEDGE_EINVAL (not a public key) or LEDGE_ENOMEM, with a reason naming
 * spec in err.
 */
int code_trust_add(
    struct code_trust *t, const char *spec, char *err, size_t errlen);

/* How many keys t holds (0 for NULL). */
size_t code_trust_len(const struct code_trust *t);

/*
 * Whether sig[0..len) is a valid signature of the code whose hash is
 * `hash` (64 hex digits), by the key it names.  LEDGE_OK, with that key's
 * short name (16 hex digits and a NUL) in keyid if not NULL; LEDGE_EINVAL
 * with the reason in err ("malformed signature", "the signature does not
 * match the code's bytes").
 */
int code_sig_valid(const char *sig, size_t len, const char *hash,
    char keyid[17], char *err, size_t errlen);

/*
 * Whether sig (NULL or len 0: none) is a valid signature of the code
 * `hash` by a key in t.  LEDGE_OK, or LEDGE_EINVAL with the reason in err,
 * worded to follow "not signed by a trusted key: " ("there is no
 * signature", "the signature does not match the code's bytes", "it is
 * signed by key 1f2e3d4c5b6a7988, which is not trusted here").
 */
int code_sig_trusted(const struct code_trust *t, const char *sig, size_t len,
    const char *hash, char *err, size_t errlen);

/*
 * Read a signature file: *text (malloc'd, NUL-terminated, the caller
 * frees) and its length.  LEDGE_OK; LEDGE_ENOENT if there is no such
 * file; LEDGE_EINVAL if it cannot be read or is larger than CODE_SIG_MAX,
 * with a reason in err.
 */
int code_sig_read(
    const char *path, char **text, size_t *len, char *err, size_t errlen);

/*
 * Sign the code `hash` with the secret key in file `keyfile`: the
 * signature's text (with its newline) into out (at least CODE_SIG_MAX
 * bytes).  LEDGE_OK; LEDGE_ENOENT, LEDGE_EINVAL (not a secret key, or
 * readable by others than its owner) with a reason in err.
 */
int code_sign(const char *keyfile, const char *hash, char *out, size_t outlen,
    char *err, size_t errlen);

/*
 * Make a new key pair: PREFIX.key (mode 0600) and PREFIX.pub.  Neither
 * may exist.  LEDGE_OK, with the key's short name in keyid; LEDGE_EINVAL
 * with a reason in err (a file exists, cannot be written).
 */
int code_key_generate(
    const char *prefix, char keyid[17], char *err, size_t errlen);

#endif
