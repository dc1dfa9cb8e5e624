/*
 * diag.h - error messages for people, collected before anything runs.
 *
 * A diag list gathers every problem found in a pass (validation reports
 * all errors, not only the first), each as "file:line:col: message".
 * Not thread-safe: one list belongs to one pass on one thread.
 */
#ifndef LEDGE_BASE_DIAG_H
#define LEDGE_BASE_DIAG_H

#include <stddef.h>

#if defined(__GNUC__)
#define DIAG_PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define DIAG_PRINTF(f, a)
#endif

struct diag_entry {
	char *text; /* owned, "file:line:col: message" or "file: message" */
};

struct diag {
	struct diag_entry *items; /* owned; only items[0 .. min(count, cap))
	                             are valid */
	size_t count;             /* problems reported, stored or not */
	size_t cap;
	size_t limit; /* stop storing after this many (0: 200); diag_print
	                 then ends with "(N more not shown)" */
};

/* Initialise an empty list; never fails. */
void diag_init(struct diag *d);

/* Free all entries; the list is empty and reusable afterwards. */
void diag_fini(struct diag *d);

/*
 * Record one message.  `file` may be NULL (then no location), `line` and
 * `col` are 1-based; 0 omits them.  Allocation failures drop the message
 * but still count it, so `count` never under-reports.
 */
void diag_add(struct diag *d, const char *file, int line, int col,
    const char *fmt, ...) DIAG_PRINTF(5, 6);

/* Write every message, one per line, to `fp` (a FILE *). */
void diag_print(const struct diag *d, void *fp);

/*
 * The closest candidate to `word` among `n` strings, for "did you mean"
 * hints; NULL if none is close enough (edit distance <= max(1, len/3)).
 */
const char *diag_suggest(
    const char *word, const char *const *candidates, size_t n);

#endif
