#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "code/code.h"
#include "node/node_call.h"
#include "node/node_event.h"
#include "store/store.h"

#define ENC_VERSION 1

struct node_event *
node_event_new(uint8_t kind, uint32_t target, const void *data, size_t len)
{
	struct node_event *ev;
	if (len > NODE_EVENT_MAX) {
		return NULL;
	}
	if ((ev = malloc(sizeof *ev + len)) == NULL) {
		return NULL;
	}
	memset(ev, 0, sizeof *ev);
	ev->kind = kind;
	ev->target = target;
	ev->len = len;
	if (len > 0 && data != NULL) {
		memcpy(ev->data, data, len);
	}
	return ev;
}

int
node_event_set_key(struct node_event *ev, const void *key, size_t klen)
{
	unsigned char *k;
	if (klen == 0 || klen > LEDGE_KEY_MAX || key == NULL) {
		return LEDGE_EINVAL;
	}
	if ((k = malloc(klen)) == NULL) {
		return LEDGE_ENOMEM;
	}
	memcpy(k, key, klen);
	free(ev->key);
	ev->key = k;
	ev->klen = (uint16_t)klen;
	return LEDGE_OK;
}

void
node_event_free(struct node_event *ev)
{
	if (ev == NULL) {
		return;
	}
	if (ev->call != NULL) {
		node_call_fail(ev->call, LEDGE_ECLOSED);
		node_call_unref(ev->call);
	}
	if (ev->kind == NE_RELOAD && ev->ctl != NULL) {
		code_release(ev->ctl); /* a reload that never ran */
	}
	node_http_free(ev->http);
	free(ev->key);
	free(ev);
}

static size_t
slen(const char *s)
{
	return s ? strlen(s) : 0;
}

static char *
put_str(char **p, const char *s)
{
	char *start = *p;
	size_t n = slen(s);
	if (n) {
		memcpy(*p, s, n);
	}
	(*p)[n] = '\0';
	*p += n + 1;
	return start;
}

struct node_http *
node_http_new(const char *method, const char *path, const char *query,
    const char *url, const ledge_header *headers, size_t nheaders)
{
	size_t size = sizeof(struct node_http) +
	    nheaders * sizeof(ledge_header) + slen(method) + slen(path) +
	    slen(query) + slen(url) + 4;
	struct node_http *h;
	char *p;

	for (size_t i = 0; i < nheaders; i++) {
		size += slen(headers[i].name) + slen(headers[i].value) + 2;
	}
	if ((h = malloc(size)) == NULL) {
		return NULL;
	}
	memset(h, 0, sizeof *h);
	h->headers = (ledge_header *)(h + 1);
	p = (char *)(h->headers + nheaders);
	h->method = put_str(&p, method);
	h->path = put_str(&p, path);
	h->query = put_str(&p, query);
	h->url = put_str(&p, url);
	for (size_t i = 0; i < nheaders; i++) {
		h->headers[i].name = put_str(&p, headers[i].name);
		h->headers[i].value = put_str(&p, headers[i].value);
	}
	h->nheaders = nheaders;
	return h;
}

struct node_http *
node_http_dup(const struct node_http *h)
{
	struct node_http *d;
	if (h == NULL) {
		return NULL;
	}
	d = node_http_new(
	    h->method, h->path, h->query, h->url, h->headers, h->nheaders);
	if (d != NULL) {
		d->timeout_ms = h->timeout_ms;
		d->idem_ttl_s = h->idem_ttl_s;
	}
	return d;
}

void
node_http_free(struct node_http *h)
{
	free(h);
}

const char *
node_http_header(const struct node_http *h, const char *name)
{
	if (h == NULL) {
		return NULL;
	}
	for (size_t i = 0; i < h->nheaders; i++) {
		if (strcasecmp(h->headers[i].name, name) == 0) {
			return h->headers[i].value;
		}
	}
	return NULL;
}

/*
 * Layout (integers big-endian):
 *   u8 version, u8 kind, u8 flags, u8 has_http, u32 target, u32 source,
 *   u64 due_ms, u32 len, payload,
 *   if has_http: u32 timeout_ms, 4 strings, u32 nheaders, 2*n strings,
 *   each string as u32 length + bytes;
 *   if has_http & HAS_KEY: u16 key length + the key (of a keyed target).
 * has_http's low bits: 0 none, 1 HTTP metadata, 2 with the
 * Idempotency-Key answer's lifetime.
 */
#define HAS_KEY 4

static size_t
str_size(const char *s)
{
	return 4 + slen(s);
}

size_t
node_event_encoded_size(const struct node_event *ev)
{
	size_t n = 4 + 4 + 4 + 8 + 4 + ev->len + (ev->key ? 2u + ev->klen : 0);
	const struct node_http *h = ev->http;
	if (h != NULL) {
		n += 4 + (h->idem_ttl_s ? 4 : 0) + str_size(h->method) +
		    str_size(h->path) + str_size(h->query) + str_size(h->url) +
		    4;
		for (size_t i = 0; i < h->nheaders; i++) {
			n += str_size(h->headers[i].name) +
			    str_size(h->headers[i].value);
		}
	}
	return n;
}

static unsigned char *
enc_str(unsigned char *p, const char *s)
{
	size_t n = slen(s);
	store_be32(p, (uint32_t)n);
	if (n) {
		memcpy(p + 4, s, n);
	}
	return p + 4 + n;
}

void
node_event_encode(const struct node_event *ev, unsigned char *p)
{
	const struct node_http *h = ev->http;
	p[0] = ENC_VERSION;
	p[1] = ev->kind;
	p[2] = ev->flags & NEF_STORED;
	/* 1: HTTP metadata; 2: with the Idempotency-Key answer's lifetime */
	p[3] = (unsigned char)((h == NULL              ? 0
	                               : h->idem_ttl_s ? 2
	                                               : 1) |
	    (ev->key ? HAS_KEY : 0));
	store_be32(p + 4, ev->target);
	store_be32(p + 8, ev->source);
	store_be64(p + 12, ev->due_ms);
	store_be32(p + 20, (uint32_t)ev->len);
	p += 24;
	if (ev->len) {
		memcpy(p, ev->data, ev->len);
	}
	p += ev->len;
	if (h != NULL) {
		store_be32(p, h->timeout_ms);
		p += 4;
		if (h->idem_ttl_s) {
			store_be32(p, h->idem_ttl_s);
			p += 4;
		}
		p = enc_str(p, h->method);
		p = enc_str(p, h->path);
		p = enc_str(p, h->query);
		p = enc_str(p, h->url);
		store_be32(p, (uint32_t)h->nheaders);
		p += 4;
		for (size_t i = 0; i < h->nheaders; i++) {
			p = enc_str(p, h->headers[i].name);
			p = enc_str(p, h->headers[i].value);
		}
	}
	if (ev->key != NULL) {
		p[0] = (unsigned char)(ev->klen >> 8);
		p[1] = (unsigned char)ev->klen;
		memcpy(p + 2, ev->key, ev->klen);
	}
}

struct rd {
	const unsigned char *p, *end;
	bool bad;
};

static uint32_t
rd32(struct rd *r)
{
	uint32_t v;
	if (r->bad || r->end - r->p < 4) {
		r->bad = true;
		return 0;
	}
	v = store_rd32(r->p);
	r->p += 4;
	return v;
}

/* A string as a malloc'd NUL-terminated copy; NULL (and bad) on error. */
static char *
rdstr(struct rd *r)
{
	uint32_t n = rd32(r);
	char *s;
	if (r->bad || (size_t)(r->end - r->p) < n ||
	    memchr(r->p, '\0', n) != NULL ||
	    (s = malloc((size_t)n + 1)) == NULL) {
		r->bad = true;
		return NULL;
	}
	memcpy(s, r->p, n);
	s[n] = '\0';
	r->p += n;
	return s;
}

static struct node_http *
decode_http(struct rd *r, bool with_ttl)
{
	char *s[4] = { NULL, NULL, NULL, NULL };
	ledge_header *hs = NULL;
	struct node_http *h = NULL;
	uint32_t timeout = rd32(r), n = 0, done = 0;
	uint32_t ttl = with_ttl ? rd32(r) : 0;

	for (int i = 0; i < 4; i++) {
		s[i] = rdstr(r);
	}
	n = rd32(r);
	/* Each header needs at least 8 bytes: bound n before allocating. */
	if (!r->bad && n <= (size_t)(r->end - r->p) / 8 &&
	    (hs = calloc(n ? n : 1, sizeof *hs)) != NULL) {
		for (; done < n && !r->bad; done++) {
			hs[done].name = rdstr(r);
			hs[done].value = rdstr(r);
		}
		if (!r->bad) {
			h = node_http_new(s[0], s[1], s[2], s[3], hs, n);
			if (h != NULL) {
				h->timeout_ms = timeout;
				h->idem_ttl_s = ttl;
			}
		}
	} else {
		r->bad = true;
	}
	for (uint32_t i = 0; hs != NULL && i < done; i++) {
		free((char *)hs[i].name);
		free((char *)hs[i].value);
	}
	free(hs);
	for (int i = 0; i < 4; i++) {
		free(s[i]);
	}
	if (h == NULL) {
		r->bad = true;
	}
	return h;
}

struct node_event *
node_event_decode(const void *data, size_t len)
{
	struct rd r = { data, (const unsigned char *)data + len, false };
	const unsigned char *p = data;
	struct node_event *ev;
	uint32_t plen;

	if (len < 24 || p[0] != ENC_VERSION) {
		return NULL;
	}
	plen = store_rd32(p + 20);
	if (plen > len - 24 || plen > NODE_EVENT_MAX) {
		return NULL;
	}
	if ((ev = node_event_new(p[1], store_rd32(p + 4), p + 24, plen)) ==
	    NULL) {
		return NULL;
	}
	ev->flags = p[2] & NEF_STORED;
	ev->source = store_rd32(p + 8);
	ev->due_ms = store_rd64(p + 12);
	r.p = p + 24 + plen;
	if ((p[3] & ~HAS_KEY) > 2) {
		r.bad = true;
	} else if (p[3] & ~HAS_KEY) {
		ev->http = decode_http(&r, (p[3] & ~HAS_KEY) == 2);
	}
	if (!r.bad && (p[3] & HAS_KEY)) {
		size_t kl = r.end - r.p >= 2 ? (size_t)r.p[0] << 8 | r.p[1] : 0;
		if (kl == 0 || kl > (size_t)(r.end - r.p) - 2 ||
		    node_event_set_key(ev, r.p + 2, kl) != LEDGE_OK) {
			r.bad = true;
		} else {
			r.p += 2 + kl;
		}
	}
	if (r.bad || r.p != r.end ||
	    (ev->kind != NE_CAST && ev->kind != NE_CALL)) {
		node_event_free(ev);
		return NULL;
	}
	return ev;
}
