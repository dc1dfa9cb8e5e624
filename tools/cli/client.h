/*
 * client.h - the transport to the orchestrator: one request, one reply
 * (msg_call_sync over the address and TLS files of the arguments), and
 * the upload of a code file (code.put, docs/protocol.md).
 *
 * The commands build their requests with wire.h; these functions send
 * them.  Failures are either returned as a code and a sentence
 * (client_call_raw) or reported by print_fail on stdout/stderr (the
 * others).  Blocking; meant for the CLI's main thread.
 */
#ifndef LEDGE_CLI_CLIENT_H
#define LEDGE_CLI_CLIENT_H

#include <stddef.h>
#include <stdint.h>

#include "args.h"
#include "net/wire.h"
#include "print.h"
#include "view.h"

/* Room left in a message for the keys around the bytes of a request
 * (code.put, invoke). */
#define CLIENT_ENVELOPE 4096

/* A reply: its bytes and the parsed tree, which points into them. */
struct client_reply {
	void *buf; /* owned */
	size_t len;
	struct wire_r r;
};

/* Free a reply's tree and bytes (after a successful call). */
void client_reply_free(struct client_reply *rep);

/*
 * Send the request in w to o->url and parse the reply into rep (free it
 * with client_reply_free).  Returns NULL, or the code of the failure
 * (for --json: "oom", "no-orchestrator", "bad-reply") with a sentence
 * for people in why (whylen bytes) that names the orchestrator; rep then
 * holds nothing.
 */
const char *client_call_raw(const struct args *o, struct wire_w *w,
    uint32_t timeout_ms, struct client_reply *rep, char *why, size_t whylen);

/* The same, reporting a failure (print_fail, under v->prog).  Returns 0,
 * or 1 with nothing in rep. */
int client_call(const struct args *o, const struct view *v, struct wire_w *w,
    uint32_t timeout_ms, struct client_reply *rep);

/* Send a request within o->timeout_ms and print its reply as a reply of
 * `kind` (print_reply).  Returns the exit code (0 or 1). */
int client_call_show(const struct args *o, const struct view *v,
    struct wire_w *w, enum print_kind kind);

/*
 * The signature beside code file `path` (path.sig, code_sign.h), if there
 * is one: *sig malloc'd (the caller frees) with its length, or NULL and 0
 * when there is none.  0, or -1 with a reason in err (it is there but
 * cannot be read, or is too large to be a signature).
 */
int client_read_sig(
    const char *path, char **sig, size_t *len, char *err, size_t errlen);

/*
 * Upload the code file at path, checking that it still has the hex
 * SHA-256 `hash` that was sent; its size goes to *bytes.  Says so on
 * stderr (unless v->json) before it sends.  Returns 0, or 1 after
 * reporting why (unreadable, too large, changed, or refused).
 */
int client_upload(const struct args *o, const struct view *v, const char *path,
    const char *hash, uint64_t *bytes);

#endif
