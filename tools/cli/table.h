/*
 * table.h - aligned columns for people: cells are added row by row
 * (each one escaped text), then printed two spaces apart with the last
 * column unpadded.
 *
 * A table starts zeroed with its column count set (`struct table t = {
 * .ncols = 2 }`), or zeroed and given its titles by table_header.  A cell
 * that cannot be made (out of memory) marks the table `oom`, and
 * table_print then fails, so a printer checks once.  A table belongs to
 * one thread.
 */
#ifndef LEDGE_CLI_TABLE_H
#define LEDGE_CLI_TABLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "base/diag.h"
#include "net/wire.h"

struct table {
	size_t ncols;
	char **cells; /* owned, row by row */
	size_t n, cap;
	bool oom;
};

/* Set the column count to the number of titles (NULL-terminated) and
 * add them as the first row. */
void table_header(struct table *t, const char *const *titles);

/* Add a cell: s (malloc'd; the table owns it from now on; NULL marks the
 * table oom), plain text (escaped), a wire value (as text_wire shows
 * it), or printf-style text (not escaped: for our own words). */
void table_take(struct table *t, char *s);
void table_text(struct table *t, const char *s);
void table_val(struct table *t, wire_v v);
void table_fmt(struct table *t, const char *fmt, ...) DIAG_PRINTF(2, 3);

/* Print the rows to fp, each after `indent`.  Returns 0, or -1 (nothing
 * written) if a cell could not be made, the cells do not fill whole rows
 * or there are more than 16 columns. */
int table_print(const struct table *t, FILE *fp, const char *indent);

/* Free the cells; the table is zeroed. */
void table_free(struct table *t);

#endif
