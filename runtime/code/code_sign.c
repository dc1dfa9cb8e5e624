/*
 * code_sign.c - Ed25519 keys and signatures of function code, their
 * files and the trust set (code_sign.h); the signing itself is
 * base/sign.c's.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/path.h"
#include "base/sign.h"
#include "code/code_sign.h"

#define PUB_LEN SIGN_PUB_LEN
#define SEC_LEN SIGN_SEC_LEN
#define SIG_LEN SIGN_SIG_LEN

#define KEY_TAG SIGN_SEC_TAG
#define PUB_TAG SIGN_PUB_TAG
#define SIG_TAG "ledge-sig-v1 ed25519 "
#define MSG_TAG "ledge-code-v1 "

/* A key file is one short line. */
#define KEY_FILE_MAX 512

struct code_trust {
	size_t n, cap;
	unsigned char (*keys)[PUB_LEN];
};

static void
key_name(const unsigned char *pub, char keyid[17])
{
	sign_hex(keyid, pub, 8);
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

	if (strlen(spec) == 2 * PUB_LEN &&
	    sign_unhex(spec, 2 * PUB_LEN, pub) == 0) {
		/* The key itself. */
	} else if (sign_read_pub(spec, pub, err, errlen) != 0) {
		return errno == ENOENT ? LEDGE_ENOENT : LEDGE_EINVAL;
	}
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
	if (sign_unhex(p, 2 * PUB_LEN, pub) != 0 || p[2 * PUB_LEN] != ' ') {
		return -1;
	}
	p += 2 * PUB_LEN + 1;
	if (sign_unhex(p, 2 * SIG_LEN, s) != 0) {
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

	if (parse_sig(sig, len, pub, s) != 0 || message(hash, m) != 0) {
		snprintf(err, errlen, "malformed signature");
		return LEDGE_EINVAL;
	}
	if (keyid != NULL) {
		key_name(pub, keyid);
	}
	if (!sign_verify(s, m, strlen(m), pub)) {
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

	if (message(hash, m) != 0) {
		snprintf(err, errlen, "not a code hash");
		return LEDGE_EINVAL;
	}
	if (sign_read_sec(keyfile, sec, err, errlen) != 0) {
		return errno == ENOENT ? LEDGE_ENOENT : LEDGE_EINVAL;
	}
	if (sign_detached(s, m, strlen(m), sec) != 0) {
		sign_wipe(sec, sizeof sec);
		snprintf(err, errlen, "the crypto library cannot start");
		return LEDGE_EINVAL;
	}
	/* The public key is the secret key's second half. */
	sign_hex(pubhex, sec + SEC_LEN - PUB_LEN, PUB_LEN);
	sign_wipe(sec, sizeof sec);
	sign_hex(sighex, s, SIG_LEN);
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
	if (sign_keypair(pub, sec) != 0) {
		snprintf(err, errlen, "the crypto library cannot start");
		return LEDGE_EINVAL;
	}
	sign_hex(hex, sec, SEC_LEN);
	snprintf(line, sizeof line, KEY_TAG "%s\n", hex);
	sign_wipe(hex, sizeof hex);
	sign_wipe(sec, sizeof sec);
	if (write_new(keyp, line, 0600) != 0) {
		snprintf(
		    err, errlen, "cannot write %s: %s", keyp, strerror(errno));
		sign_wipe(line, sizeof line);
		return LEDGE_EINVAL;
	}
	sign_wipe(line, sizeof line);
	sign_hex(hex, pub, PUB_LEN);
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
