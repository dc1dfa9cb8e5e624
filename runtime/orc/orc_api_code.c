/*
 * orc_api_code.c - the requests on code kept by its SHA-256: code.put
 * (from the CLI), code.get (from nodes) (docs/protocol.md; orc_api.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ledge.h>

#include "base/sha256.h"
#include "net/msg.h"
#include "net/reply.h"
#include "net/wire.h"
#include "orc/orc_api.h"
#include "orc/orc_model.h"
#include "orc/orc_store.h"

static void
code_put(void *ctx, struct msg_req *req, wire_v root)
{
	struct orc *o = ctx;
	char *hash = wire_str_dup(wire_get(root, "hash"));
	const void *bytes;
	size_t n;
	char hex[65];

	if (hash == NULL || !wire_as_bin(wire_get(root, "bytes"), &bytes, &n)) {
		reply_err(req, REPLY_INVALID, "code.put needs hash and bytes");
		free(hash);
		return;
	}
	sha256_hex(bytes, n, hex);
	if (strcmp(hex, hash) != 0) {
		reply_err(req, REPLY_INVALID,
		    "code %.12s arrived damaged (its hash is %.12s)", hash,
		    hex);
		free(hash);
		return;
	}
	if (orc_store_put_code(o, hex, bytes, n) != LEDGE_OK) {
		reply_err(req, REPLY_BUSY, "cannot store the code");
		free(hash);
		return;
	}
	free(hash);
	reply_ok(req);
}

/* The answer to code.get: the bytes of the code. */
static void
send_code(void *arg, const void *bytes, size_t len)
{
	struct msg_req *req = arg;
	struct wire_w m;
	if (wire_w_init(&m) == 0) {
		wire_map(&m, 2);
		wire_str(&m, "ok");
		wire_bool(&m, true);
		wire_str(&m, "bytes");
		wire_bin(&m, bytes, len);
		reply_wire(req, &m);
	}
}

static void
code_get(void *ctx, struct msg_req *req, wire_v root)
{
	struct orc *o = ctx;
	char *hash = wire_str_dup(wire_get(root, "hash"));
	int rv = hash != NULL ? orc_store_read_code(o, hash, send_code, req)
	                      : LEDGE_ESTORE;
	if (rv == LEDGE_ESTORE) {
		reply_err(req, REPLY_INVALID, "code.get needs a hash");
	} else if (rv != LEDGE_OK) {
		reply_err(req, REPLY_NOT_FOUND, "no code %.12s here", hash);
	}
	free(hash);
}

static const struct reply_route routes[] = {
	{ "code.put", code_put },
	{ "code.get", code_get },
};

const struct reply_route *
orc_api_code_routes(size_t *n)
{
	*n = sizeof routes / sizeof routes[0];
	return routes;
}
