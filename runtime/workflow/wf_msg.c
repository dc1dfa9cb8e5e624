/*
 * wf_msg.c - reporting problems as "file:line:col: message", and the
 * pieces messages are made of (clipped quotes, lists, hints).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yaml.h>

#include "workflow/wf_int.h"

void
wf_report(struct wf_loader *ld, struct wf_pos p, const char *fmt, ...)
{
	va_list ap;
	char *msg;

	va_start(ap, fmt);
	if (vasprintf(&msg, fmt, ap) < 0) {
		msg = NULL;
	}
	va_end(ap);
	diag_add(ld->d, ld->file, p.line, p.col, "%s",
	    msg != NULL ? msg : "(message lost: out of memory)");
	free(msg);
}

void
wf_oom(struct wf_loader *ld)
{
	if (!ld->oom) {
		ld->oom = true;
		wf_report(ld, (struct wf_pos) { 0, 0 }, "out of memory");
	}
}

bool
wf_failed(const struct wf_loader *ld)
{
	return ld->d->count != ld->start;
}

/*
 * Hints cost an edit distance per candidate; once the diag list is full
 * they would not be shown, so hostile input with thousands of bad names
 * stops paying for them.
 */
const char *
wf_suggest(
    struct wf_loader *ld, const char *word, const char *const *cands, size_t n)
{
	size_t limit = ld->d->limit != 0 ? ld->d->limit : DIAG_DEFAULT_MAX;

	if (ld->d->count >= limit) {
		return NULL;
	}
	return diag_suggest(word, cands, n);
}

/* `s`, or its first SHOW_MAX bytes and "..." if it is longer. */
const char *
wf_clip(const char *s, char *buf, size_t size)
{
	size_t cut = SHOW_MAX;

	if (strlen(s) <= SHOW_MAX) {
		return s;
	}
	while (cut > 0 && ((unsigned char)s[cut] & 0xc0) == 0x80) {
		cut--; /* do not split a UTF-8 sequence */
	}
	snprintf(buf, size, "%.*s...", (int)cut, s);
	return buf;
}

/* "a, b, c" from n strings, cut with "..." if it does not fit. */
const char *
wf_join(const char *const *items, size_t n, char *buf, size_t size)
{
	size_t used = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < n; i++) {
		int w = snprintf(buf + used, size - used, "%s%s",
		    i > 0 ? ", " : "", items[i]);
		if (w < 0 || (size_t)w >= size - used) {
			memcpy(buf + size - 4, "...", 4);
			break;
		}
		used += (size_t)w;
	}
	return buf;
}

size_t
wf_list_len(const char *const *list)
{
	size_t n = 0;

	while (list != NULL && list[n] != NULL) {
		n++;
	}
	return n;
}

bool
wf_in_list(const char *s, const char *const *list, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (strcmp(s, list[i]) == 0) {
			return true;
		}
	}
	return false;
}

const char *
wf_article(const char *word)
{
	bool vowel = word[0] != '\0' && strchr("aeiou", word[0]) != NULL;

	return vowel || strncmp(word, "http", 4) == 0 ? "an" : "a";
}
