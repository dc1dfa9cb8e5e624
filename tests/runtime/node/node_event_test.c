/*
 * node_event_test.c - events (runtime/node/node_event.h): the durable encoding
 * round trip, a strict decoder that refuses every malformed input without
 * reading outside it, HTTP metadata, and freeing an event with a pending
 * call.
 */
#include <criterion/criterion.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "node/node_call.h"
#include "node/node_event.h"

TestSuite(node_event, .timeout = 60);

/*
 * Encode `ev` into an exactly sized buffer (ASan sees any overrun) and
 * check through a second, guarded buffer that the encoder writes exactly
 * node_event_encoded_size bytes.  The caller frees the result.
 */
static unsigned char *
encode(const struct node_event *ev, size_t *len)
{
	size_t n = node_event_encoded_size(ev);
	unsigned char *exact = malloc(n ? n : 1);
	unsigned char *guard = malloc(n + 64);

	cr_assert_not_null(exact);
	cr_assert_not_null(guard);
	memset(guard, 0xa5, n + 64);
	node_event_encode(ev, guard);
	for (size_t i = n; i < n + 64; i++) {
		cr_assert_eq(
		    guard[i], 0xa5, "encoder wrote past its size (%zu)", n);
	}
	node_event_encode(ev, exact);
	cr_assert(memcmp(exact, guard, n) == 0, "encoding is deterministic");
	free(guard);
	*len = n;
	return exact;
}

static struct node_http *
sample_http(size_t nheaders)
{
	ledge_header *hs = calloc(nheaders ? nheaders : 1, sizeof *hs);
	char(*names)[32] = calloc(nheaders ? nheaders : 1, sizeof *names);
	char(*values)[48] = calloc(nheaders ? nheaders : 1, sizeof *values);
	struct node_http *h;

	cr_assert(hs && names && values);
	for (size_t i = 0; i < nheaders; i++) {
		snprintf(names[i], sizeof names[i], "X-Header-%zu", i);
		snprintf(values[i], sizeof values[i], "value %zu", i * 7);
		hs[i].name = names[i];
		hs[i].value = values[i];
	}
	h = node_http_new(
	    "POST", "/orders/42", "a=1&b=%20", "http://x/y", hs, nheaders);
	cr_assert_not_null(h);
	h->timeout_ms = 1234;
	free(hs);
	free(names);
	free(values);
	return h;
}

static struct node_event *
sample_event(size_t len, size_t nheaders, bool http)
{
	struct node_event *ev = node_event_new(NE_CALL, 0xdeadbeef, NULL, len);

	cr_assert_not_null(ev);
	for (size_t i = 0; i < len; i++) {
		ev->data[i] = (unsigned char)(i * 13 + 5);
	}
	ev->flags = NEF_DURABLE | NEF_HTTPIN;
	ev->source = 0x01020304;
	ev->due_ms = 0x1122334455667788ull;
	if (http) {
		ev->http = sample_http(nheaders);
	}
	return ev;
}

static void
expect_same_http(const struct node_http *a, const struct node_http *b)
{
	cr_assert_not_null(a);
	cr_assert_not_null(b);
	cr_expect_str_eq(b->method, a->method);
	cr_expect_str_eq(b->path, a->path);
	cr_expect_str_eq(b->query, a->query);
	cr_expect_str_eq(b->url, a->url);
	cr_expect_eq(b->timeout_ms, a->timeout_ms);
	cr_assert_eq(b->nheaders, a->nheaders);
	for (size_t i = 0; i < a->nheaders; i++) {
		cr_expect_str_eq(b->headers[i].name, a->headers[i].name);
		cr_expect_str_eq(b->headers[i].value, a->headers[i].value);
	}
}

static void
expect_same_event(const struct node_event *a, const struct node_event *b)
{
	cr_assert_not_null(b, "decoded");
	cr_expect_eq(b->kind, a->kind);
	cr_expect_eq(b->flags, a->flags & NEF_STORED);
	cr_expect_eq(b->target, a->target);
	cr_expect_eq(b->source, a->source);
	cr_expect_eq(b->due_ms, a->due_ms);
	cr_assert_eq(b->len, a->len);
	cr_expect(a->len == 0 || memcmp(a->data, b->data, a->len) == 0,
	    "payload intact");
	cr_expect_null(b->call);
	cr_assert_eq(b->klen, a->klen);
	cr_expect((a->key == NULL) == (b->key == NULL), "key kept");
	cr_expect(a->key == NULL || memcmp(a->key, b->key, a->klen) == 0,
	    "key intact");
	if (a->http == NULL) {
		cr_expect_null(b->http);
	} else {
		expect_same_http(a->http, b->http);
	}
}

static void
round_trip(struct node_event *ev)
{
	size_t len;
	unsigned char *buf = encode(ev, &len);
	struct node_event *back = node_event_decode(buf, len);

	expect_same_event(ev, back);
	node_event_free(back);
	free(buf);
}

Test(node_event, round_trip_without_http)
{
	struct node_event *ev = sample_event(100, 0, false);

	ev->kind = NE_CAST;
	round_trip(ev);
	node_event_free(ev);
}

Test(node_event, round_trip_with_http)
{
	struct node_event *ev = sample_event(64, 5, true);

	round_trip(ev);
	node_event_free(ev);
}

Test(node_event, round_trip_empty_payload)
{
	struct node_event *ev = node_event_new(NE_CAST, 1, NULL, 0);

	cr_assert_not_null(ev);
	round_trip(ev);
	ev->http = node_http_new(NULL, NULL, NULL, NULL, NULL, 0);
	cr_assert_not_null(ev->http);
	round_trip(ev);
	node_event_free(ev);
}

Test(node_event, round_trip_one_mib_payload)
{
	struct node_event *ev = sample_event(1u << 20, 3, true);

	round_trip(ev);
	node_event_free(ev);
}

Test(node_event, round_trip_many_headers)
{
	struct node_event *ev = sample_event(10, 2000, true);

	round_trip(ev);
	node_event_free(ev);
}

Test(node_event, only_stored_flags_are_kept)
{
	struct node_event *ev = sample_event(4, 0, false);
	struct node_event *back;
	unsigned char *buf;
	size_t len;

	ev->flags = NEF_DURABLE | NEF_RESERVED;
	ev->qid = 99;
	ev->dep = 12;
	ev->enq_us = 77;
	buf = encode(ev, &len);
	back = node_event_decode(buf, len);
	cr_assert_not_null(back);
	cr_expect_eq(back->flags, NEF_DURABLE,
	    "a mailbox reservation is not part of the durable form");
	node_event_free(back);
	free(buf);
	node_event_free(ev);
}

Test(node_event, null_strings_read_as_empty)
{
	ledge_header hs[2] = { { "A", NULL }, { NULL, "b" } };
	struct node_http *h = node_http_new(NULL, "/p", NULL, NULL, hs, 2);

	cr_assert_not_null(h);
	cr_expect_str_eq(h->method, "");
	cr_expect_str_eq(h->path, "/p");
	cr_expect_str_eq(h->query, "");
	cr_expect_str_eq(h->url, "");
	cr_expect_str_eq(h->headers[0].value, "");
	cr_expect_str_eq(h->headers[1].name, "");
	node_http_free(h);
}

Test(node_event, new_copies_and_limits_payload)
{
	char src[] = "payload";
	struct node_event *ev = node_event_new(NE_CAST, 5, src, 7);

	cr_assert_not_null(ev);
	src[0] = 'X';
	cr_expect(memcmp(ev->data, "payload", 7) == 0, "the payload is a copy");
	cr_expect_eq(ev->len, 7);
	cr_expect_eq(ev->target, 5);
	cr_expect_null(ev->http);
	cr_expect_null(ev->call);
	node_event_free(ev);

	cr_expect_null(node_event_new(NE_CAST, 1, NULL, NODE_EVENT_MAX + 1));
	ev = node_event_new(NE_CAST, 1, NULL, NODE_EVENT_MAX);
	cr_expect_not_null(ev, "exactly the limit is fine");
	node_event_free(ev);
	node_event_free(NULL);
}

Test(node_event, header_lookup_is_case_insensitive)
{
	ledge_header hs[] = { { "Content-Type", "text/plain" },
		{ "x-request-id", "abc" }, { "Idempotency-Key", "k1" } };
	struct node_http *h = node_http_new("GET", "/", "", "", hs, 3);

	cr_assert_not_null(h);
	cr_expect_str_eq(node_http_header(h, "content-type"), "text/plain");
	cr_expect_str_eq(node_http_header(h, "CONTENT-TYPE"), "text/plain");
	cr_expect_str_eq(node_http_header(h, "Content-Type"), "text/plain");
	cr_expect_str_eq(node_http_header(h, "X-Request-ID"), "abc");
	cr_expect_str_eq(node_http_header(h, "idempotency-key"), "k1");
	cr_expect_null(node_http_header(h, "content-typ"));
	cr_expect_null(node_http_header(h, "content-type-x"));
	cr_expect_null(node_http_header(h, "Accept"));
	cr_expect_null(node_http_header(NULL, "Accept"));
	node_http_free(h);
}

Test(node_event, http_dup_is_independent)
{
	struct node_http *h = sample_http(4);
	struct node_http *d;

	h->idem_ttl_s = 3600;
	d = node_http_dup(h);
	cr_assert_not_null(d);
	cr_expect_neq(d, h);
	expect_same_http(h, d);
	cr_expect_eq(d->idem_ttl_s, 3600);
	node_http_free(h);
	/* d must not point into h's memory (ASan would catch it). */
	cr_expect_str_eq(d->path, "/orders/42");
	cr_expect_str_eq(d->headers[3].value, "value 21");
	node_http_free(d);
	cr_expect_null(node_http_dup(NULL));
}

Test(node_event, decode_rejects_every_truncation)
{
	struct node_event *ev = sample_event(40, 6, true);
	size_t len;
	unsigned char *buf = encode(ev, &len);

	for (size_t n = 0; n < len; n++) {
		/* A fresh exactly sized copy, so ASan sees an overread. */
		unsigned char *cut = malloc(n ? n : 1);
		struct node_event *back;
		cr_assert_not_null(cut);
		memcpy(cut, buf, n);
		back = node_event_decode(cut, n);
		cr_expect_null(
		    back, "a %zu-byte prefix of %zu decoded", n, len);
		node_event_free(back);
		free(cut);
	}
	free(buf);
	node_event_free(ev);
}

Test(node_event, decode_rejects_every_truncation_without_http)
{
	struct node_event *ev = sample_event(10, 0, false);
	size_t len;
	unsigned char *buf = encode(ev, &len);

	for (size_t n = 0; n < len; n++) {
		unsigned char *cut = malloc(n ? n : 1);
		struct node_event *back;
		cr_assert_not_null(cut);
		memcpy(cut, buf, n);
		back = node_event_decode(cut, n);
		cr_expect_null(
		    back, "a %zu-byte prefix of %zu decoded", n, len);
		node_event_free(back);
		free(cut);
	}
	free(buf);
	node_event_free(ev);
}

Test(node_event, decode_rejects_wrong_version)
{
	struct node_event *ev = sample_event(8, 1, true);
	size_t len;
	unsigned char *buf = encode(ev, &len);
	struct node_event *back = node_event_decode(buf, len);

	cr_assert_not_null(back, "the unmodified encoding decodes");
	node_event_free(back);
	for (int v = 0; v < 256; v++) {
		if (v == buf[0]) {
			continue;
		}
		unsigned char save = buf[0];
		buf[0] = (unsigned char)v;
		back = node_event_decode(buf, len);
		cr_expect_null(back, "version byte %d accepted", v);
		node_event_free(back);
		buf[0] = save;
	}
	free(buf);
	node_event_free(ev);
}

Test(node_event, decode_rejects_trailing_garbage)
{
	struct node_event *ev = sample_event(8, 2, true);
	size_t len;
	unsigned char *buf = encode(ev, &len);
	unsigned char *more = malloc(len + 16);

	cr_assert_not_null(more);
	memcpy(more, buf, len);
	memset(more + len, 0, 16);
	for (size_t extra = 1; extra <= 16; extra++) {
		struct node_event *back = node_event_decode(more, len + extra);
		cr_expect_null(back, "%zu trailing bytes accepted", extra);
		node_event_free(back);
	}
	/* The same without HTTP metadata. */
	node_http_free(ev->http);
	ev->http = NULL;
	free(buf);
	buf = encode(ev, &len);
	memcpy(more, buf, len);
	more[len] = 'x';
	cr_expect_null(node_event_decode(more, len + 1));
	free(more);
	free(buf);
	node_event_free(ev);
}

/* Offsets of the length fields in an encoding with HTTP metadata. */
static void
patch32(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)(v >> 24);
	p[1] = (unsigned char)(v >> 16);
	p[2] = (unsigned char)(v >> 8);
	p[3] = (unsigned char)v;
}

static uint32_t
read32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	    (uint32_t)p[2] << 8 | p[3];
}

/* Decode a copy of buf with the u32 at `off` set to `v`: must fail. */
static void
expect_refused(const unsigned char *buf, size_t len, size_t off, uint32_t v)
{
	unsigned char *copy = malloc(len);
	struct node_event *back;

	cr_assert_not_null(copy);
	memcpy(copy, buf, len);
	patch32(copy + off, v);
	back = node_event_decode(copy, len);
	cr_expect_null(
	    back, "u32 at offset %zu set to %u was accepted", off, v);
	node_event_free(back);
	free(copy);
}

Test(node_event, decode_rejects_lengths_past_the_end)
{
	/* Layout (documented in node_event.c): 24-byte head whose last u32
	 * is the payload length, payload, then u32 timeout, 4 strings
	 * (u32 length + bytes), u32 header count, 2 strings per header. */
	struct node_event *ev = sample_event(16, 2, true);
	size_t len, off;
	unsigned char *buf = encode(ev, &len);
	size_t str_offs[4 + 4];
	size_t nstr = 0, count_off;

	expect_refused(buf, len, 20, 17);
	expect_refused(buf, len, 20, (uint32_t)len);
	expect_refused(buf, len, 20, UINT32_MAX);
	expect_refused(buf, len, 20, NODE_EVENT_MAX + 1);

	off = 24 + 16 + 4; /* first string */
	for (int i = 0; i < 4; i++) {
		str_offs[nstr++] = off;
		off += 4 + read32(buf + off);
	}
	count_off = off;
	off += 4;
	for (int i = 0; i < 4; i++) {
		str_offs[nstr++] = off;
		off += 4 + read32(buf + off);
	}
	cr_assert_eq(off, len, "the layout is as documented");
	cr_assert_eq(read32(buf + count_off), 2);

	for (size_t i = 0; i < nstr; i++) {
		uint32_t was = read32(buf + str_offs[i]);
		size_t left = len - str_offs[i] - 4;
		expect_refused(buf, len, str_offs[i], (uint32_t)left + 1);
		expect_refused(buf, len, str_offs[i], UINT32_MAX);
		expect_refused(buf, len, str_offs[i], UINT32_MAX - 3);
		if (was > 0) {
			/* Shorter is also wrong: the rest no longer parses
			 * to exactly the end. */
			expect_refused(buf, len, str_offs[i], was - 1);
		}
	}
	expect_refused(buf, len, count_off, 3);
	expect_refused(buf, len, count_off, 1);
	expect_refused(buf, len, count_off, UINT32_MAX);
	expect_refused(buf, len, count_off, UINT32_MAX / 8);
	free(buf);
	node_event_free(ev);
}

Test(node_event, decode_refuses_unknown_kinds)
{
	const uint8_t kinds[] = { 0, 3, 15, 255 };
	struct node_event *ev = sample_event(3, 0, false);

	for (size_t i = 0; i < sizeof kinds; i++) {
		size_t len;
		unsigned char *buf;
		ev->kind = kinds[i];
		buf = encode(ev, &len);
		cr_expect_null(
		    node_event_decode(buf, len), "kind %u decoded", kinds[i]);
		free(buf);
	}
	node_event_free(ev);
}

/*
 * The encoder writes C strings, which never hold a NUL.  A stored string
 * with a NUL inside is corrupt; decoding it into a shorter string would
 * silently change the event (a header value, a path), so a strict decoder
 * refuses it.
 */
Test(node_event, decode_rejects_nul_inside_strings)
{
	ledge_header hs[1] = { { "Name", "value" } };
	struct node_event *ev = node_event_new(NE_CAST, 1, "x", 1);
	struct node_event *back;
	unsigned char *buf;
	size_t len;

	cr_assert_not_null(ev);
	ev->http = node_http_new("GET", "/path", "q=1", "", hs, 1);
	cr_assert_not_null(ev->http);
	buf = encode(ev, &len);
	/* "value" is the last 5 bytes: put a NUL in its middle. */
	buf[len - 3] = '\0';
	back = node_event_decode(buf, len);
	if (back != NULL) {
		cr_expect_null(back,
		    "decoded a header value with a NUL inside "
		    "as '%s'",
		    back->http ? back->http->headers[0].value : "?");
		node_event_free(back);
	}
	free(buf);
	node_event_free(ev);
}

static uint64_t rng = 0x9e3779b97f4a7c15ull;

static uint64_t
next_rand(void)
{
	/* xorshift64* */
	rng ^= rng >> 12;
	rng ^= rng << 25;
	rng ^= rng >> 27;
	return rng * 0x2545f4914f6cdd1dull;
}

Test(node_event, random_mutations_never_crash)
{
	struct node_event *ev = sample_event(24, 3, true);
	size_t len, decoded = 0;
	unsigned char *buf = encode(ev, &len);

	for (int iter = 0; iter < 20000; iter++) {
		size_t n = len;
		unsigned char *m;
		struct node_event *back;
		int kind = (int)(next_rand() % 4);

		if (kind == 3) { /* truncate or extend */
			n = (size_t)(next_rand() % (len + 8));
		}
		m = malloc(n ? n : 1);
		cr_assert_not_null(m);
		memcpy(m, buf, n < len ? n : len);
		for (size_t i = len; i < n; i++) {
			m[i] = (unsigned char)next_rand();
		}
		if (n > 0) {
			int flips = 1 + (int)(next_rand() % 4);
			for (int f = 0; f < flips; f++) {
				size_t at = (size_t)(next_rand() % n);
				if (kind == 0) {
					m[at] ^= (unsigned char)(1u
					    << (next_rand() % 8));
				} else {
					m[at] = (unsigned char)next_rand();
				}
			}
		}
		back = node_event_decode(m, n);
		if (back != NULL) {
			/* What decodes came from its input alone (strings
			 * with a NUL inside may read shorter: see
			 * decode_rejects_nul_inside_strings). */
			decoded++;
			cr_assert_leq(node_event_encoded_size(back), n,
			    "iteration %d: decoded %zu bytes into an event "
			    "of encoded size %zu",
			    iter, n, node_event_encoded_size(back));
			cr_assert_leq(back->len, n);
			node_event_free(back);
		}
		free(m);
	}
	cr_log_info("%zu of 20000 mutations still decoded", decoded);
	free(buf);
	node_event_free(ev);
}

static void
count_done(struct node_call *c, void *arg)
{
	(void)c;
	(*(int *)arg)++;
}

Test(node_event, free_fails_a_pending_call)
{
	struct node_event *ev = node_event_new(NE_CALL, 1, "q", 1);
	struct node_call *c = node_call_new(false, NULL, NULL);

	cr_assert_not_null(ev);
	cr_assert_not_null(c);
	ev->call = c; /* the callee's reference */
	node_event_free(ev);
	cr_expect_eq(node_call_wait(c, 2000), LEDGE_OK,
	    "the waiter is released, not left to time out");
	cr_expect_eq(c->reply.err, LEDGE_ECLOSED);
	cr_expect_null(c->reply.body);
	node_call_unref(c);
}

Test(node_event, free_fails_a_pending_callback_call)
{
	int done = 0;
	struct node_event *ev = node_event_new(NE_CALL, 1, "q", 1);
	struct node_call *c = node_call_new(true, count_done, &done);

	cr_assert_not_null(ev);
	cr_assert_not_null(c);
	ev->call = c;
	ev->http = sample_http(1);
	node_event_free(ev);
	cr_expect_eq(done, 1, "on_done ran once");
	cr_expect_eq(c->reply.err, LEDGE_ECLOSED);
	node_call_unref(c);
}

Test(node_event, free_after_reply_keeps_the_reply)
{
	struct node_event *ev = node_event_new(NE_CALL, 1, "q", 1);
	struct node_call *c = node_call_new(false, NULL, NULL);
	struct node_reply r = { 0 };

	cr_assert_not_null(ev);
	cr_assert_not_null(c);
	ev->call = c;
	r.body = malloc(2);
	cr_assert_not_null(r.body);
	memcpy(r.body, "ok", 2);
	r.len = 2;
	node_call_complete(c, &r);
	node_event_free(ev);
	cr_expect_eq(node_call_wait(c, 0), LEDGE_OK);
	cr_expect_eq(c->reply.err, LEDGE_OK, "a reply already given stands");
	cr_expect_eq(c->reply.len, 2);
	node_call_unref(c);
}

Test(node_event, round_trip_with_a_key)
{
	struct node_event *ev = sample_event(10, 2, true);
	unsigned char k[LEDGE_KEY_MAX];

	for (size_t i = 0; i < sizeof k; i++) {
		k[i] = (unsigned char)i; /* bytes, NUL included */
	}
	cr_assert_eq(node_event_set_key(ev, "user-1", 6), LEDGE_OK);
	round_trip(ev);
	/* The longest key, and a key without HTTP metadata. */
	cr_assert_eq(node_event_set_key(ev, k, sizeof k), LEDGE_OK);
	round_trip(ev);
	node_http_free(ev->http);
	ev->http = NULL;
	round_trip(ev);
	node_event_free(ev);
}

Test(node_event, set_key_refuses_empty_and_oversized_keys)
{
	struct node_event *ev = node_event_new(NE_CAST, 1, "x", 1);
	unsigned char big[LEDGE_KEY_MAX + 1] = { 0 };

	cr_assert_not_null(ev);
	cr_expect_eq(node_event_set_key(ev, "a", 0), LEDGE_EINVAL);
	cr_expect_eq(node_event_set_key(ev, big, sizeof big), LEDGE_EINVAL);
	cr_expect_null(ev->key);
	cr_expect_eq(node_event_set_key(ev, "a", 1), LEDGE_OK);
	cr_expect_eq(node_event_set_key(ev, big, sizeof big), LEDGE_EINVAL);
	cr_expect_eq(ev->klen, 1, "a refused key changes nothing");
	node_event_free(ev);
}

Test(node_event, decode_rejects_a_bad_key)
{
	struct node_event *ev = node_event_new(NE_CAST, 1, "pay", 3);
	size_t len;
	unsigned char *buf;

	cr_assert_eq(node_event_set_key(ev, "abc", 3), LEDGE_OK);
	buf = encode(ev, &len);
	/* Every truncation fails. */
	for (size_t n = 0; n < len; n++) {
		struct node_event *back = node_event_decode(buf, n);
		cr_expect_null(back, "truncated to %zu of %zu", n, len);
		node_event_free(back);
	}
	/* A key length past the end, and a zero length. */
	buf[len - 5] = 0;
	buf[len - 4] = 4;
	cr_expect_null(node_event_decode(buf, len));
	buf[len - 4] = 0;
	cr_expect_null(node_event_decode(buf, len));
	/* Unknown bits in the flags byte beside the key's. */
	buf[len - 4] = 3;
	buf[3] |= 8;
	cr_expect_null(node_event_decode(buf, len));
	free(buf);
	node_event_free(ev);
}
