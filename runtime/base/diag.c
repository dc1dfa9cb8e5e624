/*
 * diag.c - a list of messages for people, and "did you mean" hints.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ledge.h>

#include "base/diag.h"

#define DEFAULT_LIMIT 200

/* Words longer than this get no suggestion; it bounds the cost of hostile
 * input to a fixed amount of work per candidate. */
#define SUGGEST_MAX_LEN 128

void
diag_init(struct diag *d)
{
	memset(d, 0, sizeof *d);
}

void
diag_fini(struct diag *d)
{
	size_t n = d->count < d->cap ? d->count : d->cap;

	for (size_t i = 0; i < n; i++) {
		free(d->items[i].text);
	}
	free(d->items);
	d->items = NULL;
	d->count = 0;
	d->cap = 0;
}

/*
 * Make room for one more entry.  The array never grows past the limit, so
 * entries are stored exactly while count < cap: once one message is
 * dropped (limit reached or no memory), count exceeds cap for good and
 * items[0 .. min(count, cap)) stay the recorded ones.  LEDGE_OK,
 * LEDGE_EFULL at the limit, LEDGE_ENOMEM.
 */
static int
grow(struct diag *d)
{
	size_t limit = d->limit != 0 ? d->limit : DEFAULT_LIMIT;
	size_t ncap = d->cap != 0 ? d->cap * 2 : 8;
	struct diag_entry *n;

	if (d->cap >= limit) {
		return LEDGE_EFULL;
	}
	if (ncap > limit) {
		ncap = limit;
	}
	n = realloc(d->items, ncap * sizeof *n);
	if (n == NULL) {
		return LEDGE_ENOMEM;
	}
	d->items = n;
	d->cap = ncap;
	return LEDGE_OK;
}

static char *
format(const char *file, int line, int col, const char *fmt, va_list ap)
{
	char *msg = NULL;
	char *text = NULL;
	int rv;

	if (vasprintf(&msg, fmt, ap) < 0) {
		return NULL;
	}
	if (file == NULL) {
		return msg;
	}
	if (line > 0) {
		rv = asprintf(&text, "%s:%d:%d: %s", file, line, col, msg);
	} else {
		rv = asprintf(&text, "%s: %s", file, msg);
	}
	free(msg);
	return rv < 0 ? NULL : text;
}

void
diag_add(
    struct diag *d, const char *file, int line, int col, const char *fmt, ...)
{
	va_list ap;

	if (d->count < d->cap || (d->count == d->cap && grow(d) == LEDGE_OK)) {
		va_start(ap, fmt);
		d->items[d->count].text = format(file, line, col, fmt, ap);
		va_end(ap);
	}
	d->count++;
}

void
diag_print(const struct diag *d, void *fp)
{
	FILE *out = fp;
	size_t n = d->count < d->cap ? d->count : d->cap;

	for (size_t i = 0; i < n; i++) {
		const char *t = d->items[i].text;
		fprintf(out, "%s\n",
		    t != NULL ? t : "(message lost: out of memory)");
	}
	if (d->count > n) {
		fprintf(out, "(%zu more not shown)\n", d->count - n);
	}
}

static size_t
min3(size_t a, size_t b, size_t c)
{
	size_t m = a < b ? a : b;
	return m < c ? m : c;
}

/*
 * Edit distance between a and b counting a swap of two neighbouring
 * letters as one edit ('ehco' is 1 from 'echo'; optimal string alignment),
 * or `bound + 1` as soon as it is known to exceed `bound`.  Both lengths
 * are at most SUGGEST_MAX_LEN; `row` has room for lb + 1 entries.
 */
static size_t
distance(const char *a, size_t la, const char *b, size_t lb, size_t bound,
    size_t *row)
{
	size_t prev2[SUGGEST_MAX_LEN + 1], prev[SUGGEST_MAX_LEN + 1];

	for (size_t j = 0; j <= lb; j++) {
		prev[j] = j;
	}
	for (size_t i = 1; i <= la; i++) {
		size_t best;

		row[0] = i;
		best = row[0];
		for (size_t j = 1; j <= lb; j++) {
			size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;

			row[j] = min3(
			    prev[j] + 1, row[j - 1] + 1, prev[j - 1] + cost);
			if (i > 1 && j > 1 && a[i - 1] == b[j - 2] &&
			    a[i - 2] == b[j - 1] && prev2[j - 2] + 1 < row[j]) {
				row[j] = prev2[j - 2] + 1;
			}
			if (row[j] < best) {
				best = row[j];
			}
		}
		if (best > bound) {
			return bound + 1;
		}
		memcpy(prev2, prev, (lb + 1) * sizeof prev[0]);
		memcpy(prev, row, (lb + 1) * sizeof row[0]);
	}
	return la == 0 ? lb : row[lb];
}

const char *
diag_suggest(const char *word, const char *const *candidates, size_t n)
{
	size_t row[SUGGEST_MAX_LEN + 1];
	size_t lw = strlen(word);
	size_t bound = lw / 3 > 1 ? lw / 3 : 1;
	const char *best = NULL;
	size_t best_dist = bound + 1;

	if (lw > SUGGEST_MAX_LEN) {
		return NULL;
	}
	for (size_t i = 0; i < n; i++) {
		const char *c = candidates[i];
		size_t lc;
		size_t dist;

		if (c == NULL) {
			continue;
		}
		lc = strlen(c);
		if (lc > SUGGEST_MAX_LEN ||
		    (lc > lw ? lc - lw : lw - lc) >= best_dist) {
			continue;
		}
		dist = distance(word, lw, c, lc, best_dist - 1, row);
		if (dist < best_dist) {
			best = c;
			best_dist = dist;
		}
	}
	return best;
}
