/*
 * table.c - aligned columns for people (see table.h).
 */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "table.h"
#include "text.h"

void
table_take(struct table *t, char *s)
{
	if (s == NULL) {
		t->oom = true;
		return;
	}
	if (t->n == t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 32;
		char **c = realloc(t->cells, cap * sizeof *c);
		if (c == NULL) {
			free(s);
			t->oom = true;
			return;
		}
		t->cells = c;
		t->cap = cap;
	}
	t->cells[t->n++] = s;
}

void
table_text(struct table *t, const char *s)
{
	table_take(t, text_escape(s, strlen(s), false));
}

void
table_val(struct table *t, wire_v v)
{
	table_take(t, text_wire(v));
}

void
table_fmt(struct table *t, const char *fmt, ...)
{
	char *s;
	va_list ap;
	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) < 0) {
		s = NULL;
	}
	va_end(ap);
	table_take(t, s);
}

/* Columns on a terminal: escaped text is UTF-8, one column per code
 * point (wide characters are rare in names). */
static size_t
width(const char *s)
{
	size_t w = 0;
	for (; *s; s++) {
		w += ((unsigned char)*s & 0xc0) != 0x80;
	}
	return w;
}

/* Print aligned columns (two spaces apart; the last one unpadded).
 * Returns 0, or -1 if a cell could not be made. */
int
table_print(const struct table *t, FILE *fp, const char *indent)
{
	size_t w[16] = { 0 };

	if (t->oom || t->ncols == 0 || t->ncols > 16 || t->n % t->ncols) {
		return -1;
	}
	for (size_t i = 0; i < t->n; i++) {
		size_t c = i % t->ncols, cw = width(t->cells[i]);
		w[c] = cw > w[c] ? cw : w[c];
	}
	for (size_t i = 0; i < t->n; i++) {
		size_t c = i % t->ncols;
		if (c == 0) {
			fputs(indent, fp);
		}
		fputs(t->cells[i], fp);
		if (c + 1 == t->ncols) {
			fputc('\n', fp);
		} else {
			fprintf(fp, "%*s", (int)(w[c] - width(t->cells[i]) + 2),
			    "");
		}
	}
	return 0;
}

void
table_free(struct table *t)
{
	for (size_t i = 0; i < t->n; i++) {
		free(t->cells[i]);
	}
	free(t->cells);
	memset(t, 0, sizeof *t);
}

void
table_header(struct table *t, const char *const *titles)
{
	for (t->ncols = 0; titles[t->ncols] != NULL; t->ncols++) {
		table_text(t, titles[t->ncols]);
	}
}
