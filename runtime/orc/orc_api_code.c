/*
 * orc_api_code.c - the requests on code kept by its SHA-256: code.put
 * (from the CLI), code.get (from nodes) (docs/protocol.md; orc_api.h);
 * the signatures kept with it and their check against --trust.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ledge.h>

#include "base/diag.h"
#include "base/rlog.h"
#include "base/sha256.h"
#include "code/code_sign.h"
#include "net/msg.h"
#include "net/msg_token.h"
#include "net/reply.h"
#include "net/wire.h"
#include "orc/orc_api.h"
#include "orc/orc_model.h"
#include "orc/orc_store.h"
#include "workflow/workflow.h"

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

struct code_get {
	struct msg_req *req;
	char *sig; /* its signature, or NULL */
	size_t siglen;
};

/* The answer to code.get: the bytes of the code, and its signature. */
static void
send_code(void *arg, const void *bytes, size_t len)
{
	struct code_get *g = arg;
	struct wire_w m;
	if (wire_w_init(&m) == 0) {
		wire_map(&m, g->sig ? 3 : 2);
		wire_str(&m, "ok");
		wire_bool(&m, true);
		wire_str(&m, "bytes");
		wire_bin(&m, bytes, len);
		if (g->sig != NULL) {
			wire_str(&m, "sig");
			wire_strn(&m, g->sig, g->siglen);
		}
		reply_wire(g->req, &m);
	}
}

static void
code_get(void *ctx, struct msg_req *req, wire_v root)
{
	struct orc *o = ctx;
	char *hash = wire_str_dup(wire_get(root, "hash"));
	struct code_get g = { req, NULL, 0 };
	int rv;
	if (hash != NULL) {
		g.sig = orc_store_get_sig(o, hash, &g.siglen);
	}
	rv = hash != NULL ? orc_store_read_code(o, hash, send_code, &g)
	                  : LEDGE_ESTORE;
	free(g.sig);
	if (rv == LEDGE_ESTORE) {
		reply_err(req, REPLY_INVALID, "code.get needs a hash");
	} else if (rv != LEDGE_OK) {
		reply_err(req, REPLY_NOT_FOUND, "no code %.12s here", hash);
	}
	free(hash);
}

static const struct reply_route routes[] = {
	{ "code.put", code_put, MSG_ROLES_ADMIN },
	{ "code.get", code_get, MSG_ROLE_NODE | MSG_ROLES_ADMIN },
};

const struct reply_route *
orc_api_code_routes(size_t *n)
{
	*n = sizeof routes / sizeof routes[0];
	return routes;
}

/* ------------------------------------------------------------------ */
/* signatures                                                          */

/* Keep sig as the signature of code `hash` if it is a valid one. */
static void
keep_sig(struct orc *o, const char *hash, const char *sig, size_t n)
{
	char err[256];
	if (sig != NULL && n > 0 &&
	    code_sig_valid(sig, n, hash, NULL, err, sizeof err) == LEDGE_OK &&
	    orc_store_put_sig(o, hash, sig, n) != LEDGE_OK) {
		rlog_write(o->log, RLOG_WARN, "orchestrator",
		    "cannot keep the signature of code %.12s", hash);
	}
}

int
orc_code_check_one(struct orc *o, const char *hash, const char *sig,
    size_t siglen, char *err, size_t errlen)
{
	char *kept;
	size_t n = 0;
	int rv;

	keep_sig(o, hash, sig, siglen);
	if (o->trust == NULL) {
		return LEDGE_OK;
	}
	if (sig != NULL && siglen > 0) {
		return code_sig_trusted(
		    o->trust, sig, siglen, hash, err, errlen);
	}
	kept = orc_store_get_sig(o, hash, &n);
	rv = code_sig_trusted(o->trust, kept, n, hash, err, errlen);
	free(kept);
	return rv;
}

/* Whether `key` of a wf.start's code map ("f.so", "f.so@arch") names the
 * code of function f; its position then goes to *pos. */
static bool
names_code_of(const char *key, const struct wf_function *f, struct wf_pos *pos)
{
	const char *at = strrchr(key, '@');
	*pos = f->code_pos;
	if (f->code != NULL && strcmp(key, f->code) == 0) {
		return true;
	}
	for (size_t a = 0; at != NULL && a < f->ncode_arch; a++) {
		const char *path = f->code_arch_path[a];
		size_t pl = strlen(path), kl = (size_t)(at - key);
		if (strcmp(at + 1, f->code_arch[a]) == 0 && pl >= kl &&
		    strncmp(path + pl - kl, key, kl) == 0 &&
		    (pl == kl || path[pl - kl - 1] == '/')) {
			return true;
		}
	}
	return false;
}

size_t
orc_code_check_signed(
    struct orc *o, const struct owf *w, wire_v sigs, struct diag *d)
{
	const struct workflow *wf = w->wf;
	size_t bad = 0;

	for (size_t i = 0; i < w->ncode; i++) {
		const char *sig = NULL;
		size_t n = 0;
		char err[256];
		bool placed = false;

		if (w->cv[i] == NULL) {
			continue;
		}
		(void)wire_as_str(wire_get(sigs, w->cv[i]), &sig, &n);
		if (orc_code_check_one(o, w->cv[i], sig, n, err, sizeof err) ==
		    LEDGE_OK) {
			continue;
		}
		bad++;
		for (size_t k = 0; k < wf->nfunctions; k++) {
			struct wf_pos p;
			if (wf->functions[k].slot == 0 &&
			    names_code_of(w->ck[i], &wf->functions[k], &p)) {
				diag_add(d, wf->file, p.line, p.col,
				    "code '%s' is not signed by a trusted key: "
				    "%s",
				    w->ck[i], err);
				placed = true;
			}
		}
		if (!placed) {
			diag_add(d, wf->file, 0, 0,
			    "code '%s' is not signed by a trusted key: %s",
			    w->ck[i], err);
		}
	}
	return bad;
}
