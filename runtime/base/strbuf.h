/*
 * strbuf.h - a growing string, for building messages and texts.
 *
 * A strbuf starts zeroed (`struct strbuf b = { 0 };`) and grows on
 * demand.  An allocation failure does not fail each call: the buffer
 * records `oom`, ignores what follows, and strbuf_take then returns NULL,
 * so a builder checks once at the end.  The contents are always
 * NUL-terminated once something was added.
 *
 * Not thread-safe: a strbuf belongs to one thread at a time.
 */
#ifndef LEDGE_BASE_STRBUF_H
#define LEDGE_BASE_STRBUF_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

#include "base/diag.h"

struct strbuf {
	char *p;    /* owned; NULL until something is added */
	size_t len; /* bytes used, without the terminating NUL */
	size_t cap; /* bytes allocated */
	bool oom;   /* an allocation failed: contents incomplete */
};

/* Append `n` bytes of `s` (which may hold NULs). */
void strbuf_put(struct strbuf *b, const void *s, size_t n);

/* Append the NUL-terminated string `s`. */
void strbuf_str(struct strbuf *b, const char *s);

/* Append printf-style formatted text (any length). */
void strbuf_fmt(struct strbuf *b, const char *fmt, ...) DIAG_PRINTF(2, 3);
void strbuf_vfmt(struct strbuf *b, const char *fmt, va_list ap);

/* Append the `n` strings of `items`, separated by `sep`. */
void strbuf_join(
    struct strbuf *b, const char *const *items, size_t n, const char *sep);

/*
 * Hand the string over: the caller owns it and frees it with free().
 * Returns "" (allocated) when nothing was added, NULL when an allocation
 * failed.  The buffer is empty and reusable afterwards.
 */
char *strbuf_take(struct strbuf *b);

/* Free the contents; the buffer is empty and reusable afterwards. */
void strbuf_free(struct strbuf *b);

#endif
