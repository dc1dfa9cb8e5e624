/*
 * msg_token.c - role tokens (msg_token.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "net/msg_token.h"

#define TOKEN_TAG "ledge-token-v1 "

static const char *const role_names[] = { "orchestrator", "node", "admin",
	"viewer" };

const char *
msg_role_name(unsigned role)
{
	if (role == MSG_ROLE_ANY) {
		return "anyone";
	}
	for (unsigned i = 0; i < 4; i++) {
		if (role == 1u << i) {
			return role_names[i];
		}
	}
	return "nobody";
}

unsigned
msg_role_bit(const char *name)
{
	for (unsigned i = 0; i < 4; i++) {
		if (strcmp(name, role_names[i]) == 0) {
			return 1u << i;
		}
	}
	return 0;
}

static bool
name_ok(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > 64) {
		return false;
	}
	for (; *s; s++) {
		if (*s <= ' ' || *s > '~') {
			return false;
		}
	}
	return true;
}

int
msg_token_make(const char *keyfile, unsigned role, const char *name,
    uint64_t expiry, char *out, size_t outlen, char *err, size_t errlen)
{
	unsigned char sec[SIGN_SEC_LEN], sig[SIGN_SIG_LEN];
	char body[160], hex[2 * SIGN_SIG_LEN + 1];
	int n;

	if (msg_role_bit(msg_role_name(role)) != role || role == 0 ||
	    !name_ok(name)) {
		snprintf(err, errlen, "a token needs one role and a name");
		return -1;
	}
	n = snprintf(body, sizeof body, TOKEN_TAG "%s %s %llu",
	    msg_role_name(role), name, (unsigned long long)expiry);
	if (n < 0 || (size_t)n >= sizeof body) {
		snprintf(err, errlen, "name too long for a token");
		return -1;
	}
	if (sign_read_sec(keyfile, sec, err, errlen) != 0) {
		return -1;
	}
	if (sign_detached(sig, body, (size_t)n, sec) != 0) {
		sign_wipe(sec, sizeof sec);
		snprintf(err, errlen, "the crypto library cannot start");
		return -1;
	}
	sign_wipe(sec, sizeof sec);
	sign_hex(hex, sig, SIGN_SIG_LEN);
	if ((size_t)snprintf(out, outlen, "%s %s\n", body, hex) >= outlen) {
		snprintf(err, errlen, "no room for the token");
		return -1;
	}
	return 0;
}

unsigned
msg_token_role(const unsigned char key[SIGN_PUB_LEN], const char *tok,
    size_t len, uint64_t now, char *name, size_t n)
{
	char buf[MSG_TOKEN_MAX + 1], role[16], who[72];
	unsigned char sig[SIGN_SIG_LEN];
	unsigned long long expiry;
	char *sp;
	unsigned bit;

	if (tok == NULL || len == 0 || len > MSG_TOKEN_MAX ||
	    memchr(tok, '\0', len) != NULL) {
		return 0;
	}
	memcpy(buf, tok, len);
	buf[len] = '\0';
	if (buf[len - 1] == '\n') {
		buf[--len] = '\0';
	}
	/* The signature is the last word; what it signs comes before. */
	if ((sp = strrchr(buf, ' ')) == NULL ||
	    strlen(sp + 1) != 2 * SIGN_SIG_LEN ||
	    sign_unhex(sp + 1, 2 * SIGN_SIG_LEN, sig) != 0) {
		return 0;
	}
	*sp = '\0';
	if (strncmp(buf, TOKEN_TAG, sizeof TOKEN_TAG - 1) != 0 ||
	    sscanf(buf + sizeof TOKEN_TAG - 1, "%15s %71s %llu", role, who,
	        &expiry) != 3 ||
	    (bit = msg_role_bit(role)) == 0 || !name_ok(who)) {
		return 0;
	}
	if (!sign_verify(sig, buf, strlen(buf), key)) {
		return 0;
	}
	if (expiry != 0 && now > expiry) {
		return 0;
	}
	if (name != NULL && n > 0) {
		snprintf(name, n, "%s", who);
	}
	return bit;
}
