/*
 * text.c - values made into words for people (see text.h).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "json_out.h"
#include "text.h"
#include "value.h"

void
text_put_escaped(struct strbuf *b, const void *data, size_t n, bool backslash)
{
	const unsigned char *p = data;
	size_t i = 0;

	while (i < n && !b->oom) {
		size_t k = json_utf8_len(p + i, n - i);
		if (k > 1 ||
		    (k == 1 && p[i] >= 0x20 && p[i] < 0x7f &&
		        !(backslash && p[i] == '\\'))) {
			strbuf_put(b, p + i, k);
			i += k;
		} else if (k == 1 && p[i] == '\\') {
			strbuf_str(b, "\\\\");
			i++;
		} else {
			strbuf_fmt(b, "\\x%02x", p[i]);
			i++;
		}
	}
}

char *
text_escape(const void *p, size_t n, bool backslash)
{
	struct strbuf b = { 0 };
	text_put_escaped(&b, p, n, backslash);
	return strbuf_take(&b);
}

static int
hexval(char c)
{
	if (c >= '0' && c <= '9') {
		return c - '0';
	}
	if (c >= 'a' && c <= 'f') {
		return c - 'a' + 10;
	}
	if (c >= 'A' && c <= 'F') {
		return c - 'A' + 10;
	}
	return -1;
}

int
text_unescape(const char *s, char **out, size_t *len)
{
	size_t n = strlen(s), k = 0;
	char *b = malloc(n + 1);

	*out = NULL;
	*len = 0;
	if (b == NULL) {
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		if (s[i] != '\\') {
			b[k++] = s[i];
		} else if (s[i + 1] == '\\') {
			b[k++] = '\\';
			i++;
		} else if (s[i + 1] == 'x' && hexval(s[i + 2]) >= 0 &&
		    hexval(s[i + 3]) >= 0) {
			b[k++] =
			    (char)(hexval(s[i + 2]) * 16 + hexval(s[i + 3]));
			i += 3;
		} else {
			free(b);
			return -1;
		}
	}
	b[k] = '\0';
	*out = b;
	*len = k;
	return 0;
}

/* A value as text for a table cell or a sentence: strings and bytes
 * escaped, numbers in decimal, lists joined with ",", maps as k=v, and
 * "-" for nothing. */
void
text_put_wire(struct strbuf *b, wire_v v)
{
	const char *s;
	const void *p;
	size_t n;

	if (!wire_ok(v) || wire_is_nil(v) ||
	    ((wire_is_array(v) || wire_is_map(v)) && wire_len(v) == 0)) {
		strbuf_str(b, "-");
	} else if (wire_as_str(v, &s, &n)) {
		text_put_escaped(b, s, n, false);
	} else if (wire_as_bin(v, &p, &n)) {
		text_put_escaped(b, p, n, false);
	} else if (value_is_u64(v)) {
		strbuf_fmt(b, "%" PRIu64, wire_as_u64(v, 0));
	} else if (value_is_i64(v)) {
		strbuf_fmt(b, "%" PRId64, wire_as_i64(v, 0));
	} else if (value_is_bool(v)) {
		strbuf_str(b, wire_as_bool(v, false) ? "yes" : "no");
	} else if (wire_is_array(v)) {
		for (size_t i = 0; i < wire_len(v); i++) {
			strbuf_str(b, i ? "," : "");
			text_put_wire(b, wire_at(v, i));
		}
	} else if (wire_is_map(v)) {
		for (size_t i = 0; i < wire_len(v); i++) {
			strbuf_str(b, i ? "," : "");
			text_put_wire(b, wire_key_at(v, i));
			strbuf_str(b, "=");
			text_put_wire(b, wire_val_at(v, i));
		}
	} else {
		strbuf_str(b, "?");
	}
}

/* The same as a malloc'd string (NULL when out of memory). */
char *
text_wire(wire_v v)
{
	struct strbuf b = { 0 };
	text_put_wire(&b, v);
	return strbuf_take(&b);
}

void
text_size(char *b, size_t n, uint64_t v)
{
	if (v < 1024) {
		snprintf(b, n, "%" PRIu64 " B", v);
	} else if (v < 1024 * 1024) {
		snprintf(b, n, "%.1f KiB", (double)v / 1024);
	} else if (v < 1024ull * 1024 * 1024) {
		snprintf(b, n, "%.1f MiB", (double)v / (1024 * 1024));
	} else {
		snprintf(b, n, "%.1f GiB", (double)v / (1024 * 1024 * 1024));
	}
}

void
text_ago(char *b, size_t n, wire_v v)
{
	uint64_t ms = wire_as_u64(v, 0);
	if (!value_is_u64(v) || ms == UINT64_MAX) {
		snprintf(b, n, "never"); /* UINT64_MAX: no heartbeat yet */
	} else if (ms < 1000) {
		snprintf(b, n, "%" PRIu64 " ms ago", ms);
	} else if (ms < 60000) {
		snprintf(b, n, "%.1f s ago", (double)ms / 1000);
	} else if (ms < 3600000) {
		snprintf(b, n, "%" PRIu64 " min ago", ms / 60000);
	} else {
		snprintf(b, n, "%" PRIu64 " h ago", ms / 3600000);
	}
}

/* Milliseconds since the epoch as 2026-11-27T11:12:03.123Z (the format of
 * the runtime's own log). */
void
text_time(char *b, size_t n, uint64_t ms)
{
	time_t s = (time_t)(ms / 1000);
	struct tm tm;
	char day[32];
	if (gmtime_r(&s, &tm) == NULL ||
	    strftime(day, sizeof day, "%Y-%m-%dT%H:%M:%S", &tm) == 0) {
		snprintf(day, sizeof day, "?");
	}
	snprintf(b, n, "%s.%03uZ", day, (unsigned)(ms % 1000));
}

/* A log level as a word: the protocol's string, or a runtime level. */
char *
text_level(wire_v v)
{
	static const char *const names[] = { "ERROR", "WARN", "INFO", "DEBUG" };
	struct strbuf b = { 0 };
	const char *s;
	size_t n;

	if (value_is_u64(v) && wire_as_u64(v, 0) < 4) {
		strbuf_str(&b, names[wire_as_u64(v, 0)]);
	} else if (wire_as_str(v, &s, &n)) {
		for (size_t i = 0; i < n; i++) {
			char c = s[i];
			strbuf_put(&b,
			    &(char) { c >= 'a' && c <= 'z' ? c - 32 : c }, 1);
		}
		char *raw = strbuf_take(&b);
		char *esc = raw ? text_escape(raw, strlen(raw), false) : NULL;
		free(raw);
		return esc;
	} else {
		text_put_wire(&b, v);
	}
	return strbuf_take(&b);
}
