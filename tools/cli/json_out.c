/*
 * json_out.c - the JSON writer of the command line (see json_out.h).
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "json_out.h"

void
json_init(struct json_out *j)
{
	memset(j, 0, sizeof *j);
}

void
json_fini(struct json_out *j)
{
	strbuf_free(&j->buf);
	memset(j, 0, sizeof *j);
}

static void
put(struct json_out *j, const char *s, size_t n)
{
	if (j->failed) {
		return;
	}
	strbuf_put(&j->buf, s, n);
	j->failed = j->buf.oom;
}

static void
puts_(struct json_out *j, const char *s)
{
	put(j, s, strlen(s));
}

/* Before a value: the separator it needs, or a failure if it has no place
 * (a second top-level value, or an object member without a key). */
static void
before_value(struct json_out *j)
{
	if (j->failed) {
		return;
	}
	if (j->depth == 0) {
		if (j->done) {
			j->failed = true;
		}
		return;
	}
	if (j->open[j->depth - 1] == '{') {
		if (!j->keyed) {
			j->failed = true;
		}
		j->keyed = false;
		return;
	}
	if (!j->first[j->depth - 1]) {
		put(j, ",", 1);
	}
	j->first[j->depth - 1] = false;
}

/* After a scalar or a closed container: is the document complete? */
static void
after_value(struct json_out *j)
{
	if (j->depth == 0) {
		j->done = true;
	}
}

static void
begin(struct json_out *j, char c)
{
	before_value(j);
	if (j->failed) {
		return;
	}
	if (j->depth == JSON_MAX_DEPTH) {
		j->failed = true;
		return;
	}
	j->open[j->depth] = c;
	j->first[j->depth] = true;
	j->depth++;
	put(j, &c, 1);
}

static void
end(struct json_out *j, char open, const char *close)
{
	if (j->failed) {
		return;
	}
	if (j->depth == 0 || j->open[j->depth - 1] != open || j->keyed) {
		j->failed = true;
		return;
	}
	j->depth--;
	puts_(j, close);
	after_value(j);
}

void
json_obj_begin(struct json_out *j)
{
	begin(j, '{');
}

void
json_obj_end(struct json_out *j)
{
	end(j, '{', "}");
}

void
json_arr_begin(struct json_out *j)
{
	begin(j, '[');
}

void
json_arr_end(struct json_out *j)
{
	end(j, '[', "]");
}

size_t
json_utf8_len(const unsigned char *p, size_t n)
{
	unsigned char c = p[0];
	size_t len;
	unsigned char lo = 0x80, hi = 0xbf;

	if (c < 0x80) {
		return 1;
	}
	if (c >= 0xc2 && c <= 0xdf) {
		len = 2;
	} else if (c >= 0xe0 && c <= 0xef) {
		len = 3;
		lo = c == 0xe0 ? 0xa0 : 0x80; /* overlong */
		hi = c == 0xed ? 0x9f : 0xbf; /* surrogates */
	} else if (c >= 0xf0 && c <= 0xf4) {
		len = 4;
		lo = c == 0xf0 ? 0x90 : 0x80; /* overlong */
		hi = c == 0xf4 ? 0x8f : 0xbf; /* > U+10FFFF */
	} else {
		return 0;
	}
	if (n < len || p[1] < lo || p[1] > hi) {
		return 0;
	}
	for (size_t i = 2; i < len; i++) {
		if (p[i] < 0x80 || p[i] > 0xbf) {
			return 0;
		}
	}
	return len;
}

static void
put_escaped(struct json_out *j, const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0;

	put(j, "\"", 1);
	while (i < n && !j->failed) {
		size_t run = i;
		/* Copy runs of characters that need no escape at once. */
		while (run < n && p[run] >= 0x20 && p[run] != '"' &&
		    p[run] != '\\') {
			size_t k = json_utf8_len(p + run, n - run);
			if (k == 0) {
				break;
			}
			run += k;
		}
		put(j, s + i, run - i);
		if (run == n) {
			break;
		}
		i = run;
		char esc[8];
		switch (p[i]) {
		case '"':
			puts_(j, "\\\"");
			break;
		case '\\':
			puts_(j, "\\\\");
			break;
		case '\b':
			puts_(j, "\\b");
			break;
		case '\f':
			puts_(j, "\\f");
			break;
		case '\n':
			puts_(j, "\\n");
			break;
		case '\r':
			puts_(j, "\\r");
			break;
		case '\t':
			puts_(j, "\\t");
			break;
		default:
			if (p[i] < 0x20) {
				snprintf(esc, sizeof esc, "\\u%04x", p[i]);
				puts_(j, esc);
			} else {
				puts_(j, "\\ufffd"); /* not UTF-8 */
			}
			break;
		}
		i++;
	}
	put(j, "\"", 1);
}

void
json_keyn(struct json_out *j, const char *k, size_t n)
{
	if (j->failed) {
		return;
	}
	if (j->depth == 0 || j->open[j->depth - 1] != '{' || j->keyed) {
		j->failed = true;
		return;
	}
	if (!j->first[j->depth - 1]) {
		put(j, ",", 1);
	}
	j->first[j->depth - 1] = false;
	put_escaped(j, k, n);
	put(j, ":", 1);
	j->keyed = true;
}

void
json_key(struct json_out *j, const char *k)
{
	json_keyn(j, k, strlen(k));
}

void
json_strn(struct json_out *j, const char *s, size_t n)
{
	before_value(j);
	put_escaped(j, s, n);
	after_value(j);
}

void
json_str(struct json_out *j, const char *s)
{
	if (s == NULL) {
		json_null(j);
	} else {
		json_strn(j, s, strlen(s));
	}
}

void
json_kstr(struct json_out *j, const char *k, const char *s)
{
	json_key(j, k);
	json_str(j, s);
}

void
json_base64(struct json_out *j, const void *data, size_t n)
{
	static const char abc[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	                          "abcdefghijklmnopqrstuvwxyz0123456789+/";
	const unsigned char *p = data;
	char out[4];

	before_value(j);
	put(j, "\"", 1);
	for (size_t i = 0; i < n && !j->failed; i += 3) {
		uint32_t v = (uint32_t)p[i] << 16;
		if (i + 1 < n) {
			v |= (uint32_t)p[i + 1] << 8;
		}
		if (i + 2 < n) {
			v |= p[i + 2];
		}
		out[0] = abc[v >> 18 & 63];
		out[1] = abc[v >> 12 & 63];
		out[2] = i + 1 < n ? abc[v >> 6 & 63] : '=';
		out[3] = i + 2 < n ? abc[v & 63] : '=';
		put(j, out, 4);
	}
	put(j, "\"", 1);
	after_value(j);
}

void
json_u64(struct json_out *j, uint64_t v)
{
	char b[24];
	before_value(j);
	snprintf(b, sizeof b, "%" PRIu64, v);
	puts_(j, b);
	after_value(j);
}

void
json_i64(struct json_out *j, int64_t v)
{
	char b[24];
	before_value(j);
	snprintf(b, sizeof b, "%" PRId64, v);
	puts_(j, b);
	after_value(j);
}

void
json_bool(struct json_out *j, bool v)
{
	before_value(j);
	puts_(j, v ? "true" : "false");
	after_value(j);
}

void
json_null(struct json_out *j)
{
	before_value(j);
	puts_(j, "null");
	after_value(j);
}

const char *
json_text(const struct json_out *j, size_t *len)
{
	if (j->failed || j->depth != 0 || !j->done || j->buf.p == NULL) {
		return NULL;
	}
	if (len != NULL) {
		*len = j->buf.len;
	}
	return j->buf.p;
}

int
json_write(const struct json_out *j, FILE *fp)
{
	size_t n;
	const char *t = json_text(j, &n);
	if (t == NULL) {
		return -1;
	}
	if (fwrite(t, 1, n, fp) != n || fputc('\n', fp) == EOF) {
		return -1;
	}
	return 0;
}
