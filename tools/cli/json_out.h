/*
 * json_out.h - a small JSON writer for the command line's --json output.
 *
 * Values are appended to a growing buffer in document order; commas and
 * colons are placed by the writer.  Strings are escaped as RFC 8259 asks
 * (quote, backslash, control characters as \n, \t, ... or \u00XX), and
 * the output is always valid UTF-8: a byte that is not part of a
 * well-formed UTF-8 sequence (a stray continuation byte, a truncated or
 * overlong sequence, a surrogate, a code point over U+10FFFF) is written
 * as U+FFFD, "\ufffd".  Bytes meant to round-trip exactly go through
 * json_base64() instead.
 *
 * Errors are sticky: after an allocation failure or a misuse (a value in
 * an object without a key, an unbalanced end, nesting deeper than
 * JSON_MAX_DEPTH), every call does nothing and json_text() returns NULL.
 *
 * Threads: a writer belongs to one thread.
 */
#ifndef LEDGE_JSON_OUT_H
#define LEDGE_JSON_OUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "base/strbuf.h"

#define JSON_MAX_DEPTH 32

struct json_out {
	struct strbuf buf; /* the text so far (owned) */
	bool failed;       /* out of memory or misuse: the text is unusable */
	int depth;
	char open[JSON_MAX_DEPTH];  /* '{' or '[' per open container */
	bool first[JSON_MAX_DEPTH]; /* no entry written yet at that level */
	bool keyed;                 /* a key was written; its value is next */
	bool done;                  /* the top-level value is complete */
};

/* An empty writer (never fails; the buffer grows on first use). */
void json_init(struct json_out *j);

/* Free the buffer; the writer may be initialised again. */
void json_fini(struct json_out *j);

/* Open and close an object or an array. */
void json_obj_begin(struct json_out *j);
void json_obj_end(struct json_out *j);
void json_arr_begin(struct json_out *j);
void json_arr_end(struct json_out *j);

/* The key of the next object member (escaped like a string).  NUL ends
 * it; json_keyn takes a length and may hold any bytes. */
void json_key(struct json_out *j, const char *k);
void json_keyn(struct json_out *j, const char *k, size_t n);

/* A string; json_str(NULL) writes null.  json_strn takes any bytes. */
void json_str(struct json_out *j, const char *s);
void json_strn(struct json_out *j, const char *s, size_t n);

/* An object member: the key k and the string s (null when s is NULL). */
void json_kstr(struct json_out *j, const char *k, const char *s);

/* Bytes as a base64 string (RFC 4648 alphabet, with '=' padding). */
void json_base64(struct json_out *j, const void *p, size_t n);

/*
 * The length of the well-formed UTF-8 sequence at p (1 to 4 bytes; n > 0
 * bytes are readable), or 0 if the byte there does not start one
 * (RFC 3629: no overlong forms, no surrogates, nothing above U+10FFFF).
 * An ASCII byte, control characters included, is a sequence of 1.
 */
size_t json_utf8_len(const unsigned char *p, size_t n);

/* Numbers, booleans and null. */
void json_u64(struct json_out *j, uint64_t v);
void json_i64(struct json_out *j, int64_t v);
void json_bool(struct json_out *j, bool v);
void json_null(struct json_out *j);

/*
 * The document: NUL-terminated, owned by the writer and valid until the
 * next call on it.  NULL if the writer failed or a container is still
 * open.  *len (may be NULL) gets its length.
 */
const char *json_text(const struct json_out *j, size_t *len);

/*
 * Write the document and a newline to fp.  Returns 0, or -1 if the
 * writer failed (nothing is written then) or the stream reports an error.
 */
int json_write(const struct json_out *j, FILE *fp);

#endif
