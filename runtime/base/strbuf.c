/*
 * strbuf.c - a growing string (strbuf.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/strbuf.h"

/* Make room for `more` bytes and the NUL; false (and oom) on failure. */
static bool
reserve(struct strbuf *b, size_t more)
{
	size_t need, cap;
	char *p;

	if (b->oom) {
		return false;
	}
	if (more > (size_t)-1 - b->len - 1) {
		b->oom = true;
		return false;
	}
	need = b->len + more + 1;
	if (need <= b->cap) {
		return true;
	}
	cap = b->cap < 64 ? 64 : b->cap;
	while (cap < need) {
		cap = cap > (size_t)-1 / 2 ? need : cap * 2;
	}
	if ((p = realloc(b->p, cap)) == NULL) {
		b->oom = true;
		return false;
	}
	b->p = p;
	b->cap = cap;
	return true;
}

void
strbuf_put(struct strbuf *b, const void *s, size_t n)
{
	if (!reserve(b, n)) {
		return;
	}
	if (n > 0) {
		memcpy(b->p + b->len, s, n);
	}
	b->len += n;
	b->p[b->len] = '\0';
}

void
strbuf_str(struct strbuf *b, const char *s)
{
	strbuf_put(b, s, strlen(s));
}

void
strbuf_vfmt(struct strbuf *b, const char *fmt, va_list ap)
{
	va_list again;
	int n;

	va_copy(again, ap);
	n = vsnprintf(NULL, 0, fmt, ap);
	if (n < 0) {
		b->oom = true;
	} else if (reserve(b, (size_t)n)) {
		vsnprintf(b->p + b->len, b->cap - b->len, fmt, again);
		b->len += (size_t)n;
	}
	va_end(again);
}

void
strbuf_fmt(struct strbuf *b, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	strbuf_vfmt(b, fmt, ap);
	va_end(ap);
}

void
strbuf_join(
    struct strbuf *b, const char *const *items, size_t n, const char *sep)
{
	for (size_t i = 0; i < n; i++) {
		if (i > 0) {
			strbuf_str(b, sep);
		}
		strbuf_str(b, items[i]);
	}
}

char *
strbuf_take(struct strbuf *b)
{
	char *p = NULL;

	if (!b->oom) {
		p = b->p != NULL ? b->p : strdup("");
	} else {
		free(b->p);
	}
	memset(b, 0, sizeof *b);
	return p;
}

void
strbuf_free(struct strbuf *b)
{
	free(b->p);
	memset(b, 0, sizeof *b);
}
