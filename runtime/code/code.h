/*
 * code.h - loading function code.
 *
 * Code is content-addressed: a .so is hashed (SHA-256), copied to
 * CODE_DIR/<hash>.so and that private copy is dlopen'd with
 * RTLD_NOW | RTLD_LOCAL.  A file replaced on disk therefore never aliases
 * a mapping already in use, and loading the same bytes twice shares one
 * mapping.  Before dlopen the ELF header is checked (class, machine,
 * type) so that a wrong file gets a clear reason instead of a dlerror.
 *
 * A struct node_code is reference counted; dlclose happens when the last
 * instance using it lets go (never while a handler may run its code).
 *
 * Threads: all functions are safe to call from any thread.
 */
#ifndef LEDGE_CODE_CODE_H
#define LEDGE_CODE_CODE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

#include <ledge.h>

struct node_code {
	atomic_int refs;
	char hash[65];            /* SHA-256 of the file, hex */
	char *path;               /* the private copy that was dlopen'd */
	char *name;               /* descriptor name (copied) */
	void *dl;                 /* dlopen handle */
	const ledge_function *fn; /* descriptor, inside the mapping */
	struct code_cache *cache;
};

struct code_cache;
struct code_trust;

/*
 * A cache keeping private copies in folder `dir` (created if needed).
 * Returns LEDGE_OK or an error with a reason in err.
 */
int code_cache_open(
    struct code_cache **cp, const char *dir, char *err, size_t errlen);

/*
 * Load only code signed by a key in t (code_sign.h) from now on: a file
 * F is loaded only if F.sig is a valid signature of the bytes read, by a
 * trusted key; else code_load fails with LEDGE_EINVAL and "not signed by
 * a trusted key: <why>".  t is borrowed until the cache is closed; NULL
 * or an empty set loads any code.  Call it before the first code_load
 * (code loaded before is not checked again).
 */
void code_cache_trust(struct code_cache *c, const struct code_trust *t);

/* Whether the cache checks signatures (it was given a trust set). */
bool code_cache_checks(const struct code_cache *c);

/* Close; every code must have been released. */
void code_cache_close(struct code_cache *c);

/*
 * Load the function in the file at `path` (or share it if these bytes are
 * loaded already).  On success *out holds a new reference.  On failure
 * returns LEDGE_EINVAL (not a valid ledge function; reason in err, e.g.
 * "not a shared object (no ELF header)", "built for ledge ABI 0, this host
 * speaks ABI 1 ..."), LEDGE_ENOENT (cannot read: reason in err) or
 * LEDGE_ENOMEM.
 */
int code_load(struct code_cache *c, const char *path, struct node_code **out,
    char *err, size_t errlen);

/*
 * dlopen `path` (RTLD_NOW | RTLD_LOCAL) and check the descriptor it
 * exports, without the cache: for a function host process, which loads
 * the private copy the node made and checked.  LEDGE_OK with the handle
 * and the descriptor (inside the mapping), or LEDGE_EINVAL with a reason
 * in err.
 */
int code_dlopen(const char *path, void **dl, const ledge_function **fn,
    char *err, size_t errlen);

/*
 * Read a whole code file (a regular file of at most 256 MiB) into a
 * malloc'd buffer the caller frees.  LEDGE_OK, or LEDGE_ENOENT (cannot
 * read), LEDGE_EINVAL (not a regular file, too large), LEDGE_ENOMEM, with
 * a reason in err.
 */
int code_read_file(const char *path, unsigned char **data, size_t *len,
    char *err, size_t errlen);

/* Hash the file at `path` without loading it (hex into hash). */
int code_hash_file(const char *path, char hash[65], char *err, size_t errlen);

/* Another reference. */
struct node_code *code_ref(struct node_code *code);

/* Drop a reference; the last one unloads the code. */
void code_release(struct node_code *code);

#endif
