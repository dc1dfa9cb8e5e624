/*
 * code_sign.c - Ed25519 keys and signatures of function code, with
 * libsodium (code_sign.h).
 *
 * libsodium rather than mbedtls (which nng already links): its Ed25519
 * is one call each way with no parameters to get wrong, and Debian 12's
 * mbedtls 2.28 has no Ed25519 at all.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "base/path.h"
#include "code/code_sign.h"

#define PUB_LEN crypto_sign_PUBLICKEYBYTES /* 32 */
#define SEC_LEN crypto_sign_SECRETKEYBYTES /* 64 */
#define SIG_LEN crypto_sign_BYTES          /* 64 */

#define KEY_TAG "ledge-key-v1 ed25519 "
#define PUB_TAG "ledge-pub-v1 ed25519 "
#define SIG_TAG "ledge-sig-v1 ed25519 "
#define MSG_TAG "ledge-code-v1 "

/* A key file is one short line. */
#define KEY_FILE_MAX 512

struct code_trust {
	size_t n, cap;
	unsigned char (*keys)[PUB_LEN];
};

/* libsodium's own set-up; safe to call again and from threads. */
static int
sodium_ready(char *err, size_t errlen)
{
	if (sodium_init() < 0) {
		snprintf(err, errlen, "the crypto library cannot start");
		return -1;
	}
	return 0;
}

/* n hex digits at s (exactly, then a space, newline or the end) into
 * out[n/2].  0, or -1. */
static int
unhex(const char *s, size_t n, unsigned char *out)
{
	size_t got = 0;
	if (strlen(s) < n || (s[n] != '\0' && s[n] != ' ' && s[n] != '\n')) {
		return -1;
	}
	if (sodium_hex2bin(out, n / 2, s, n, NULL, &got, NULL) != 0 ||
	    got != n / 2) {
		return -1;
	}
	return 0;
}

static void
key_name(const unsigned char *pub, char keyid[17])
{
	sodium_bin2hex(keyid, 17, pub, 8);
}

/* What is signed for code `hash`. */
static int
message(const char *hash, char out[sizeof MSG_TAG + 64])
{
	if (hash == NULL || strlen(hash) != 64) {
		return -1;
	}
	memcpy(out, MSG_TAG, sizeof MSG_TAG - 1);
	memcpy(out + sizeof MSG_TAG - 1, hash, 65);
	return 0;
}

/* A small text file, NUL-terminated.  LEDGE_OK, LEDGE_ENOENT or
 * LEDGE_EINVAL (reason in err). */
static int
read_small(const char *path, const char *what, char **text, size_t *len,
    char *err, size_t errlen)
{
	int rv = path_read(path, KEY_FILE_MAX, text, len);
	if (rv == LEDGE_ENOENT) {
		snprintf(err, errlen, "cannot read %s %s: %s", what, path,
		    strerror(errno));
		return errno == ENOENT ? LEDGE_ENOENT : LEDGE_EINVAL;
	}
	if (rv != LEDGE_OK) {
		snprintf(err, errlen, "%s %s: %s", what, path,
		    rv == LEDGE_ETOOBIG ? "too large to be one"
		                        : strerror(errno));
		return LEDGE_EINVAL;
	}
	char *t = realloc(*text, *len + 1);
	if (t == NULL) {
		free(*text);
		snprintf(err, errlen, "out of memory");
		return LEDGE_EINVAL;
	}
	t[*len] = '\0';
	*text = t;
	return LEDGE_OK;
}

int
code_trust_new(struct code_trust **tp)
{
	*tp = calloc(1, sizeof **tp);
	return *tp != NULL ? LEDGE_OK : LEDGE_ENOMEM;
}

void
code_trust_free(struct code_trust *t)
{
	if (t != NULL) {
		free(t->keys);
		free(t);
	}
}

size_t
code_trust_len(const struct code_trust *t)
{
	return t != NULL ? t->n : 0;
}

int
code_trust_add(struct code_trust *t, const char *spec, char *err, size_t errlen)
{
	unsigned char pub[PUB_LEN];
	char *text = NULL;
	size_t len;
	int rv;

	if (sodium_ready(err, errlen) != 0) {
		return LEDGE_EINVAL;
	}
	if (strlen(spec) == 2 * PUB_LEN && unhex(spec, 2 * PUB_LEN, pub) == 0) {
		/* The key itself. */
	} else if ((rv = read_small(spec, "public key", &text, &len, err,
	                errlen)) != LEDGE_OK) {
		return rv;
	} else if (strncmp(text, PUB_TAG, sizeof PUB_TAG - 1) != 0 ||
	    unhex(text + sizeof PUB_TAG - 1, 2 * PUB_LEN, pub) != 0) {
		snprintf(err, errlen,
		    "%s is not a ledge public key (made by `ledge function "
		    "keygen`: a line '%s<64 hex digits>')",
		    spec, PUB_TAG);
		free(text);
		return LEDGE_EINVAL;
	}
	free(text);
	for (size_t i = 0; i < t->n; i++) {
		if (memcmp(t->keys[i], pub, PUB_LEN) == 0) {
			return LEDGE_OK;
		}
	}
	if (t->n == t->cap) {
		size_t cap = t->cap ? 2 * t->cap : 4;
		void *k = realloc(t->keys, cap * PUB_LEN);
		if (k == NULL) {
			snprintf(err, errlen, "out of memory");
			return LEDGE_ENOMEM;
		}
		t->keys = k;
		t->cap = cap;
	}
	memcpy(t->keys[t->n++], pub, PUB_LEN);
	return LEDGE_OK;
}

/* Parse a signature's text: its key and signature.  0, or -1. */
static int
parse_sig(const char *sig, size_t len, unsigned char pub[PUB_LEN],
    unsigned char s[SIG_LEN])
{
	char buf[CODE_SIG_MAX + 1];
	const char *p;
	if (sig == NULL || len == 0 || len > CODE_SIG_MAX ||
	    memchr(sig, '\0', len) != NULL) {
		return -1;
	}
	memcpy(buf, sig, len);
	buf[len] = '\0';
	if (strncmp(buf, SIG_TAG, sizeof SIG_TAG - 1) != 0) {
		return -1;
	}
	p = buf + sizeof SIG_TAG - 1;
	if (unhex(p, 2 * PUB_LEN, pub) != 0 || p[2 * PUB_LEN] != ' ') {
		return -1;
	}
	p += 2 * PUB_LEN + 1;
	if (unhex(p, 2 * SIG_LEN, s) != 0) {
		return -1;
	}
	p += 2 * SIG_LEN;
	/* Nothing after it but a newline. */
	return (*p == '\0' || (p[0] == '\n' && p[1] == '\0')) ? 0 : -1;
}

int
code_sig_valid(const char *sig, size_t len, const char *hash, char keyid[17],
    char *err, size_t errlen)
{
	unsigned char pub[PUB_LEN], s[SIG_LEN];
	char m[sizeof MSG_TAG + 64];

	if (sodium_ready(err, errlen) != 0) {
		return LEDGE_EINVAL;
	}
	if (parse_sig(sig, len, pub, s) != 0 || message(hash, m) != 0) {
		snprintf(err, errlen, "malformed signature");
		return LEDGE_EINVAL;
	}
	if (keyid != NULL) {
		key_name(pub, keyid);
	}
	if (crypto_sign_verify_detached(
	        s, (const unsigned char *)m, strlen(m), pub) != 0) {
		snprintf(err, errlen,
		    "the signature does not match the code's "
		    "bytes");
		return LEDGE_EINVAL;
	}
	return LEDGE_OK;
}

int
code_sig_trusted(const struct code_trust *t, const char *sig, size_t len,
    const char *hash, char *err, size_t errlen)
{
	unsigned char pub[PUB_LEN], s[SIG_LEN];
	char keyid[17];
	int rv;

	if (sig == NULL || len == 0) {
		snprintf(err, errlen, "there is no signature");
		return LEDGE_EINVAL;
	}
	if ((rv = code_sig_valid(sig, len, hash, keyid, err, errlen)) !=
	    LEDGE_OK) {
		return rv;
	}
	(void)parse_sig(sig, len, pub, s);
	for (size_t i = 0; t != NULL && i < t->n; i++) {
		if (memcmp(t->keys[i], pub, PUB_LEN) == 0) {
			return LEDGE_OK;
		}
	}
	snprintf(err, errlen,
	    "it is signed by key %s, which is not trusted here", keyid);
	return LEDGE_EINVAL;
}

int
code_sig_read(
    const char *path, char **text, size_t *len, char *err, size_t errlen)
{
	int rv = path_read(path, CODE_SIG_MAX, text, len);
	if (rv == LEDGE_ENOENT && errno == ENOENT) {
		return LEDGE_ENOENT;
	}
	if (rv != LEDGE_OK) {
		snprintf(err, errlen, "cannot read signature %s: %s", path,
		    rv == LEDGE_ETOOBIG ? "larger than a signature can be"
		                        : strerror(errno));
		return LEDGE_EINVAL;
	}
	char *t = realloc(*text, *len + 1);
	if (t == NULL) {
		free(*text);
		snprintf(err, errlen, "out of memory");
		return LEDGE_EINVAL;
	}
	t[*len] = '\0';
	*text = t;
	return LEDGE_OK;
}

int
code_sign(const char *keyfile, const char *hash, char *out, size_t outlen,
    char *err, size_t errlen)
{
	unsigned char sec[SEC_LEN], s[SIG_LEN];
	char m[sizeof MSG_TAG + 64];
	char pubhex[2 * PUB_LEN + 1], sighex[2 * SIG_LEN + 1];
	char *text = NULL;
	struct stat st;
	size_t len;
	int rv;

	if (sodium_ready(err, errlen) != 0) {
		return LEDGE_EINVAL;
	}
	if (message(hash, m) != 0) {
		snprintf(err, errlen, "not a code hash");
		return LEDGE_EINVAL;
	}
	if ((rv = read_small(keyfile, "key", &text, &len, err, errlen)) !=
	    LEDGE_OK) {
		return rv;
	}
	if (strncmp(text, KEY_TAG, sizeof KEY_TAG - 1) != 0 ||
	    unhex(text + sizeof KEY_TAG - 1, 2 * SEC_LEN, sec) != 0) {
		sodium_memzero(text, len);
		free(text);
		snprintf(err, errlen,
		    "%s is not a ledge secret key (made by `ledge function "
		    "keygen`)",
		    keyfile);
		return LEDGE_EINVAL;
	}
	sodium_memzero(text, len);
	free(text);
	if (stat(keyfile, &st) == 0 && (st.st_mode & 077) != 0) {
		sodium_memzero(sec, sizeof sec);
		snprintf(err, errlen,
		    "%s can be read by others than its owner (mode %03o); "
		    "`chmod 600 %s` if it is still secret",
		    keyfile, (unsigned)(st.st_mode & 0777), keyfile);
		return LEDGE_EINVAL;
	}
	crypto_sign_detached(s, NULL, (const unsigned char *)m, strlen(m), sec);
	/* The public key is the secret key's second half. */
	sodium_bin2hex(pubhex, sizeof pubhex, sec + SEC_LEN - PUB_LEN, PUB_LEN);
	sodium_memzero(sec, sizeof sec);
	sodium_bin2hex(sighex, sizeof sighex, s, SIG_LEN);
	if ((size_t)snprintf(out, outlen, SIG_TAG "%s %s\n", pubhex, sighex) >=
	    outlen) {
		snprintf(err, errlen, "no room for the signature");
		return LEDGE_EINVAL;
	}
	return LEDGE_OK;
}

/* Write text to a new file (O_EXCL) of this mode.  0, or -1 (errno). */
static int
write_new(const char *path, const char *text, mode_t mode)
{
	size_t n = strlen(text);
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
	if (fd < 0) {
		return -1;
	}
	if (fchmod(fd, mode) != 0 || write(fd, text, n) != (ssize_t)n ||
	    fsync(fd) != 0) {
		int e = errno;
		close(fd);
		unlink(path);
		errno = e;
		return -1;
	}
	return close(fd);
}

int
code_key_generate(const char *prefix, char keyid[17], char *err, size_t errlen)
{
	unsigned char pub[PUB_LEN], sec[SEC_LEN];
	char hex[2 * SEC_LEN + 1];
	char line[KEY_FILE_MAX];
	char keyp[4096], pubp[4096];

	if (sodium_ready(err, errlen) != 0) {
		return LEDGE_EINVAL;
	}
	if ((size_t)snprintf(keyp, sizeof keyp, "%s.key", prefix) >=
	        sizeof keyp ||
	    (size_t)snprintf(pubp, sizeof pubp, "%s.pub", prefix) >=
	        sizeof pubp) {
		snprintf(err, errlen, "%s: name too long", prefix);
		return LEDGE_EINVAL;
	}
	if (access(keyp, F_OK) == 0 || access(pubp, F_OK) == 0) {
		snprintf(err, errlen, "%s exists already; not overwriting it",
		    access(keyp, F_OK) == 0 ? keyp : pubp);
		return LEDGE_EINVAL;
	}
	crypto_sign_keypair(pub, sec);
	sodium_bin2hex(hex, sizeof hex, sec, SEC_LEN);
	snprintf(line, sizeof line, KEY_TAG "%s\n", hex);
	sodium_memzero(hex, sizeof hex);
	sodium_memzero(sec, sizeof sec);
	if (write_new(keyp, line, 0600) != 0) {
		snprintf(
		    err, errlen, "cannot write %s: %s", keyp, strerror(errno));
		sodium_memzero(line, sizeof line);
		return LEDGE_EINVAL;
	}
	sodium_memzero(line, sizeof line);
	sodium_bin2hex(hex, sizeof hex, pub, PUB_LEN);
	snprintf(line, sizeof line, PUB_TAG "%s\n", hex);
	if (write_new(pubp, line, 0644) != 0) {
		snprintf(
		    err, errlen, "cannot write %s: %s", pubp, strerror(errno));
		unlink(keyp);
		return LEDGE_EINVAL;
	}
	key_name(pub, keyid);
	return LEDGE_OK;
}
