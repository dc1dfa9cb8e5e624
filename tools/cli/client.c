/*
 * client.c - the transport to the orchestrator (see client.h).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/path.h"
#include "base/sha256.h"
#include "client.h"
#include "code/code_sign.h"
#include "text.h"

void
client_reply_free(struct client_reply *rep)
{
	wire_r_fini(&rep->r);
	free(rep->buf);
	rep->buf = NULL;
}

/* msg_call_sync's reason, rephrased to name the orchestrator and how to
 * point at another one. */
static void
transport_why(const struct args *o, int rc, const char *err, uint32_t tmo,
    char *why, size_t n)
{
	const char *at = strstr(err, o->url);
	size_t ul = strlen(o->url);
	char hint[128] = "";

	if (rc == MSG_ETIMEDOUT) {
		snprintf(hint, sizeof hint,
		    " (no answer within %u ms; --timeout waits longer)", tmo);
	} else if (strncmp(o->url, "tls+", 4) == 0 &&
	    (strstr(err, "ryptographic") || strstr(err, "uthentication") ||
	        strstr(err, "TLS"))) {
		snprintf(hint, sizeof hint,
		    " (the TLS handshake failed: --tls-cert must be signed by "
		    "the domain's CA, --tls-ca)");
	} else if (strncmp(err, "cannot reach", 12) == 0) {
		snprintf(hint, sizeof hint,
		    " (set --orchestrator or LEDGE_ORCHESTRATOR)");
	}
	if (at != NULL && strncmp(at + ul, ": ", 2) == 0) {
		const char *reason = at + ul + 2;
		char first = reason[0];
		/* "Connection refused" -> "connection refused"; "TLS" stays */
		if (first >= 'A' && first <= 'Z' && reason[1] >= 'a' &&
		    reason[1] <= 'z') {
			first = (char)(first + 32);
		}
		snprintf(why, n, "%.*sthe orchestrator at %s: %c%s%s",
		    (int)(at - err), err, o->url, first ? first : '?',
		    first ? reason + 1 : "", hint);
	} else {
		snprintf(why, n, "cannot talk to the orchestrator at %s: %s%s",
		    o->url, err, hint);
	}
}

/*
 * Send the request in w and parse the reply into rep.  Returns NULL, or
 * the code of the failure (for --json) with a sentence in why.
 */
const char *
client_call_raw(const struct args *o, struct wire_w *w, uint32_t timeout_ms,
    struct client_reply *rep, char *why, size_t whylen)
{
	const void *data;
	size_t len;
	char err[512];
	int rc;

	memset(rep, 0, sizeof *rep);
	if ((data = wire_data(w, &len)) == NULL) {
		snprintf(why, whylen, "out of memory");
		return "oom";
	}
	rc = msg_call_sync(o->url,
	    strncmp(o->url, "tls+tcp://", 10) == 0 ? &o->tls : NULL, data, len,
	    timeout_ms, &rep->buf, &rep->len, err, sizeof err);
	if (rc != MSG_OK) {
		transport_why(o, rc, err, timeout_ms, why, whylen);
		return "no-orchestrator";
	}
	if (wire_parse(&rep->r, rep->buf, rep->len) != 0) {
		free(rep->buf);
		rep->buf = NULL;
		snprintf(why, whylen,
		    "the orchestrator at %s sent a reply that is not a valid "
		    "message (%zu bytes)",
		    o->url, rep->len);
		return "bad-reply";
	}
	return NULL;
}

/* The same, reporting a failure; returns 0 or 1. */
int
client_call(const struct args *o, const struct view *v, struct wire_w *w,
    uint32_t timeout_ms, struct client_reply *rep)
{
	char why[1024];
	const char *code =
	    client_call_raw(o, w, timeout_ms, rep, why, sizeof why);
	if (code != NULL) {
		return print_fail(v, stdout, stderr, code, "%s", why);
	}
	return 0;
}

/* Send a request and show the reply of `kind`. */
int
client_call_show(const struct args *o, const struct view *v, struct wire_w *w,
    enum print_kind kind)
{
	struct client_reply rep;
	int rc;

	if (client_call(o, v, w, o->timeout_ms, &rep) != 0) {
		return 1;
	}
	rc = print_reply(kind, wire_root(&rep.r), v, stdout, stderr);
	client_reply_free(&rep);
	return rc;
}

static void
req_code_put(struct wire_w *w, const char *hash, const void *p, size_t n)
{
	wire_map(w, 3);
	wire_str(w, "t");
	wire_str(w, "code.put");
	wire_str(w, "hash");
	wire_str(w, hash);
	wire_str(w, "bytes");
	wire_bin(w, p, n);
}

int
client_read_sig(
    const char *path, char **sig, size_t *len, char *err, size_t errlen)
{
	char p[4200];
	snprintf(p, sizeof p, "%s" CODE_SIG_SUFFIX, path);
	*sig = NULL;
	*len = 0;
	switch (code_sig_read(p, sig, len, err, errlen)) {
	case LEDGE_OK:
	case LEDGE_ENOENT:
		return 0;
	default:
		return -1;
	}
}

/* Upload one code file (checking that it still has the hash that was
 * sent); its size goes to *bytes.  0 or 1 (reported). */
int
client_upload(const struct args *o, const struct view *v, const char *path,
    const char *hash, uint64_t *bytes)
{
	struct wire_w w;
	struct client_reply rep;
	struct view uv = *v;
	char prog[1024], got[65], size[32];
	char *data;
	size_t n;
	int rc;

	if (path_read(path, WIRE_MAX_BYTES - CLIENT_ENVELOPE, &data, &n) !=
	    LEDGE_OK) {
		if (errno == EFBIG) {
			return print_fail(v, stdout, stderr, "local",
			    "%s is larger than the %u MiB a message can carry",
			    path, WIRE_MAX_BYTES >> 20);
		}
		return print_fail(v, stdout, stderr, "local",
		    "cannot read %s: %s", path, strerror(errno));
	}
	sha256_hex(data, n, got);
	if (strcmp(got, hash) != 0) {
		free(data);
		return print_fail(v, stdout, stderr, "local",
		    "%s changed while it was being uploaded; run the command "
		    "again",
		    path);
	}
	if (!v->json) {
		text_size(size, sizeof size, n);
		fprintf(stderr, "%s: uploading %s (%s)\n", v->prog, path, size);
	}
	snprintf(prog, sizeof prog, "%s: uploading %s", v->prog, path);
	uv.prog = prog;
	if (wire_w_init(&w) != 0) {
		free(data);
		return print_fail(v, stdout, stderr, "oom", "out of memory");
	}
	req_code_put(&w, hash, data, n);
	free(data);
	rc = client_call(o, &uv, &w, o->timeout_ms, &rep);
	wire_w_fini(&w);
	if (rc != 0) {
		return 1;
	}
	if (!wire_as_bool(wire_get(wire_root(&rep.r), "ok"), false)) {
		rc = print_refusal(wire_root(&rep.r), &uv, stdout, stderr);
	}
	client_reply_free(&rep);
	*bytes = n;
	return rc;
}
