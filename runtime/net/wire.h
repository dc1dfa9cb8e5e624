/*
 * wire.h - the codec of messages between processes (orchestrator, nodes,
 * the CLI): self-describing maps of strings, integers, bytes, arrays.
 * msgpack underneath (wire_msgpack.c is the only file that includes
 * msgpack.h); nothing here exposes its types.
 *
 * Decoding is strict and bounded: a message is exactly one value, at most
 * WIRE_MAX_BYTES long, nested at most WIRE_MAX_DEPTH; anything else is
 * refused, so a rogue peer's bytes can only ever produce an error.
 *
 * Threads: a writer or a reader belongs to one thread.
 */
#ifndef LEDGE_NET_WIRE_H
#define LEDGE_NET_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <ledge.h>

#define WIRE_MAX_BYTES (64u << 20)
#define WIRE_MAX_DEPTH 16

/* --- writing -------------------------------------------------------- */

struct wire_w {
	void *impl; /* the packer and its buffer */
	bool oom;   /* an allocation failed: the message is unusable */
};

/* Start a message; returns LEDGE_OK or LEDGE_ENOMEM. */
int wire_w_init(struct wire_w *w);
void wire_w_fini(struct wire_w *w);

/* Containers: say how many entries follow (a map entry is key, value). */
void wire_map(struct wire_w *w, size_t n);
void wire_array(struct wire_w *w, size_t n);
/* Scalars.  wire_str(NULL) writes nil. */
void wire_str(struct wire_w *w, const char *s);
void wire_strn(struct wire_w *w, const char *s, size_t n);
void wire_u64(struct wire_w *w, uint64_t v);
void wire_i64(struct wire_w *w, int64_t v);
void wire_bool(struct wire_w *w, bool v);
void wire_bin(struct wire_w *w, const void *p, size_t n);
void wire_nil(struct wire_w *w);
/* Bytes that are already msgpack (e.g. items written with another
 * wire_w), appended as they are; the caller keeps the counts right. */
void wire_raw(struct wire_w *w, const void *p, size_t n);

/* The encoded bytes (valid until the next write or fini); NULL if oom. */
const void *wire_data(struct wire_w *w, size_t *len);

/* --- reading -------------------------------------------------------- */

/* A value inside a parsed message; `p` is NULL for "absent". */
typedef struct wire_v {
	const void *p;
} wire_v;

struct wire_r {
	void *impl; /* the unpacked tree; owns every value */
};

/* Parse `len` bytes: LEDGE_OK; LEDGE_EPROTO if malformed or nested over
 * WIRE_MAX_DEPTH; LEDGE_ETOOBIG over WIRE_MAX_BYTES; LEDGE_ENOMEM. */
int wire_parse(struct wire_r *r, const void *data, size_t len);
void wire_r_fini(struct wire_r *r);

wire_v wire_root(const struct wire_r *r);
static inline bool
wire_ok(wire_v v)
{
	return v.p != NULL;
}
bool wire_is_map(wire_v v);
bool wire_is_array(wire_v v);
bool wire_is_nil(wire_v v);

/* The value under `key` in a map; absent if v is not a map. */
wire_v wire_get(wire_v map, const char *key);
/* Entries of a map or array (0 for anything else). */
size_t wire_len(wire_v v);
wire_v wire_at(wire_v array, size_t i);
wire_v wire_key_at(wire_v map, size_t i);
wire_v wire_val_at(wire_v map, size_t i);

/*
 * Scalars.  The pointer forms point into the parsed message (valid until
 * wire_r_fini) and are not NUL-terminated; the _dup forms return a
 * malloc'd NUL-terminated copy (NULL if absent, not a string, contains a
 * NUL byte, or out of memory).
 */
bool wire_as_str(wire_v v, const char **p, size_t *n);
char *wire_str_dup(wire_v v);
bool wire_as_bin(wire_v v, const void **p, size_t *n);
uint64_t wire_as_u64(wire_v v, uint64_t dflt);
int64_t wire_as_i64(wire_v v, int64_t dflt);
bool wire_as_bool(wire_v v, bool dflt);
/* A string value equal to s. */
bool wire_str_eq(wire_v v, const char *s);

#endif
