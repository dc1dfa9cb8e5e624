/*
 * msg_token.h - who a request comes from: the role tokens of a domain.
 *
 * nng gives a server no access to its peer's certificate, so the role
 * a certificate is issued for travels beside it: `ledge certs issue`
 * writes NAME.token next to NAME.crt, a line signed with the domain's
 * signing key (ca.sign.key, made with the CA):
 *
 *     ledge-token-v1 ROLE NAME EXPIRY <128 hex: Ed25519 signature>
 *
 * over "ledge-token-v1 ROLE NAME EXPIRY" (EXPIRY: Unix seconds; 0 for
 * none).  A client sends its token with every request; a server that
 * knows the domain's public key (ca.sign.pub beside its --tls-ca file)
 * takes the role of a valid token, and none otherwise.  Over TLS only a
 * peer of the domain's CA gets that far, and the token cannot be read on
 * the way.  A token is a bearer credential: it is as secret as the key
 * beside it.
 *
 * Threads: the functions are pure (msg_token_make reads a file).
 */
#ifndef LEDGE_NET_MSG_TOKEN_H
#define LEDGE_NET_MSG_TOKEN_H

#include <stddef.h>
#include <stdint.h>

#include "base/sign.h"

/* The roles, as bits (a route names the roles it serves). */
enum {
	MSG_ROLE_ORCHESTRATOR = 1 << 0,
	MSG_ROLE_NODE = 1 << 1,
	MSG_ROLE_ADMIN = 1 << 2,
	MSG_ROLE_VIEWER = 1 << 3,
	/* A server that does not check roles (no domain key) serves all. */
	MSG_ROLE_ANY = (1 << 4) - 1
};

/* Who may do what an admin may (the orchestrator's own certificate is
 * the domain's strongest), and who may read. */
#define MSG_ROLES_ADMIN (MSG_ROLE_ORCHESTRATOR | MSG_ROLE_ADMIN)
#define MSG_ROLES_READ  (MSG_ROLES_ADMIN | MSG_ROLE_VIEWER)

/* The longest token text. */
#define MSG_TOKEN_MAX 400

/* The name of one role bit ("node"), "anyone" for MSG_ROLE_ANY, "nobody"
 * for 0. */
const char *msg_role_name(unsigned role);

/* The bit of a role name, or 0. */
unsigned msg_role_bit(const char *name);

/*
 * A token for `name` with `role` (one bit) until `expiry` (0: none),
 * signed with the secret key in keyfile: its text (with a newline) into
 * out.  0, or -1 with a reason in err.
 */
int msg_token_make(const char *keyfile, unsigned role, const char *name,
    uint64_t expiry, char *out, size_t outlen, char *err, size_t errlen);

/*
 * The role of token tok[0..len) if it is signed by `key` and not expired
 * at Unix time `now`; else 0.  The token's NAME goes to name (n bytes)
 * when it is valid.
 */
unsigned msg_token_role(const unsigned char key[SIGN_PUB_LEN], const char *tok,
    size_t len, uint64_t now, char *name, size_t n);

#endif
