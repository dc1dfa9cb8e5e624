/*
 * orc_store.h - the orchestrator's desired state in its LMDB store:
 * workflows (STORE_ORC_WF), their parts' placements (STORE_ORC_PLACE,
 * keyed wf/part), nodes (STORE_ORC_NODE), code by its SHA-256
 * (STORE_ORC_CODE) and the epoch counter (meta next_epoch).  Private to
 * the orchestrator (orc_model.h).
 *
 * A write that fails leaves the store as it was; the records in memory
 * stay as they are, and the next save writes them again.
 *
 * Threads: loop thread.
 */
#ifndef LEDGE_ORC_ORC_STORE_H
#define LEDGE_ORC_ORC_STORE_H

#include <stdbool.h>
#include <stddef.h>

struct onode;
struct orc;
struct owf;

/* Read the records in o->store into o (nodes up, heard from now; a
 * workflow that no longer parses is logged and left out), and take this
 * process's block of deploy numbers (o->deploy_gen). */
void orc_store_load(struct orc *o);

/* Write node n (and whether it is draining). */
void orc_store_save_node(struct orc *o, struct onode *n);

/* Write w, its placements and the epoch counter, in one commit. */
void orc_store_save_wf(struct orc *o, struct owf *w);

/* Delete workflow `name` and its placements. */
void orc_store_forget_wf(struct orc *o, const char *name);

/* Whether the code of SHA-256 `hash` (hex) is kept. */
bool orc_store_has_code(struct orc *o, const char *hash);

/*
 * Keep code `bytes` (n of them) under their SHA-256 `hex` (once).
 * LEDGE_OK, or the store's error.
 */
int orc_store_put_code(
    struct orc *o, const char *hex, const void *bytes, size_t n);

/*
 * Keep sig (n bytes of a code_sign.h signature, checked by the caller)
 * as the signature of code `hex`, replacing the one kept before.
 * LEDGE_OK, or the store's error.
 */
int orc_store_put_sig(
    struct orc *o, const char *hex, const char *sig, size_t n);

/* The signature kept for code `hash` (malloc'd, NUL-terminated, length
 * in *n; the caller frees it), or NULL if none. */
char *orc_store_get_sig(struct orc *o, const char *hash, size_t *n);

/*
 * Call fn(arg, bytes, len) with the code of `hash`, valid during the
 * call.  LEDGE_OK; LEDGE_ENOENT if it is not kept; LEDGE_ESTORE if the
 * store cannot be read (fn not called).
 */
int orc_store_read_code(struct orc *o, const char *hash,
    void (*fn)(void *arg, const void *bytes, size_t len), void *arg);

#endif
