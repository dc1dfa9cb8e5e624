/*
 * wire_msgpack.c - wire.h on msgpack-c.  The only file that includes
 * msgpack.h.
 */
#include <msgpack.h>
#include <stdlib.h>
#include <string.h>

#include <ledge.h>

#include "net/wire.h"

struct writer {
	msgpack_sbuffer buf;
	msgpack_packer pk;
};

int
wire_w_init(struct wire_w *w)
{
	struct writer *x = malloc(sizeof *x);
	w->oom = false;
	w->impl = x;
	if (x == NULL) {
		w->oom = true;
		return LEDGE_ENOMEM;
	}
	msgpack_sbuffer_init(&x->buf);
	msgpack_packer_init(&x->pk, &x->buf, msgpack_sbuffer_write);
	return LEDGE_OK;
}

void
wire_w_fini(struct wire_w *w)
{
	struct writer *x = w->impl;
	if (x != NULL) {
		msgpack_sbuffer_destroy(&x->buf);
		free(x);
		w->impl = NULL;
	}
}

#define PK(w, call)                                                            \
	do {                                                                   \
		struct writer *x_ = (w)->impl;                                 \
		if (x_ == NULL || (call) != 0) {                               \
			(w)->oom = true;                                       \
		}                                                              \
	} while (0)

void
wire_map(struct wire_w *w, size_t n)
{
	PK(w, msgpack_pack_map(&x_->pk, n));
}

void
wire_array(struct wire_w *w, size_t n)
{
	PK(w, msgpack_pack_array(&x_->pk, n));
}

void
wire_strn(struct wire_w *w, const char *s, size_t n)
{
	PK(w, msgpack_pack_str(&x_->pk, n));
	PK(w, msgpack_pack_str_body(&x_->pk, s, n));
}

void
wire_str(struct wire_w *w, const char *s)
{
	if (s == NULL) {
		wire_nil(w);
	} else {
		wire_strn(w, s, strlen(s));
	}
}

void
wire_u64(struct wire_w *w, uint64_t v)
{
	PK(w, msgpack_pack_uint64(&x_->pk, v));
}

void
wire_i64(struct wire_w *w, int64_t v)
{
	PK(w, msgpack_pack_int64(&x_->pk, v));
}

void
wire_bool(struct wire_w *w, bool v)
{
	PK(w, v ? msgpack_pack_true(&x_->pk) : msgpack_pack_false(&x_->pk));
}

void
wire_bin(struct wire_w *w, const void *p, size_t n)
{
	PK(w, msgpack_pack_bin(&x_->pk, n));
	PK(w, msgpack_pack_bin_body(&x_->pk, p, n));
}

void
wire_nil(struct wire_w *w)
{
	PK(w, msgpack_pack_nil(&x_->pk));
}

void
wire_raw(struct wire_w *w, const void *p, size_t n)
{
	if (n > 0) {
		PK(w, msgpack_sbuffer_write(&x_->buf, p, n));
	}
}

const void *
wire_data(struct wire_w *w, size_t *len)
{
	struct writer *x = w->impl;
	if (x == NULL || w->oom) {
		*len = 0;
		return NULL;
	}
	*len = x->buf.size;
	return x->buf.data;
}

/* --- reading ------------------------------------------------------- */

/*
 * Check the framing of one value before msgpack-c sees it: every declared
 * length must fit in the bytes that are there (a container entry takes at
 * least one byte), so that declared sizes cannot make the unpacker
 * allocate more than the message could hold.  Returns the end of the
 * value, or NULL.
 */
static const unsigned char *
prescan(const unsigned char *p, const unsigned char *end, int depth)
{
	uint64_t n = 0, items = 0;
	unsigned char c;

	if (p >= end || depth > WIRE_MAX_DEPTH) {
		return NULL;
	}
	c = *p++;
#define NEED(k)                                                                \
	do {                                                                   \
		if ((uint64_t)(end - p) < (uint64_t)(k)) {                     \
			return NULL;                                           \
		}                                                              \
	} while (0)
#define BE(k)                                                                  \
	(k == 1          ? p[0]                                                \
	        : k == 2 ? (uint64_t)p[0] << 8 | p[1]                          \
	                 : (uint64_t)p[0] << 24 | (uint64_t)p[1] << 16 |       \
	            (uint64_t)p[2] << 8 | p[3])
	if (c <= 0x7f || c >= 0xe0 || c == 0xc0 || c == 0xc2 || c == 0xc3) {
		return p; /* fixint, nil, bool */
	}
	if ((c & 0xe0) == 0xa0) { /* fixstr */
		n = c & 0x1f;
		NEED(n);
		return p + n;
	}
	if ((c & 0xf0) == 0x90 || (c & 0xf0) == 0x80) { /* fixarray/fixmap */
		items = (uint64_t)(c & 0x0f) * ((c & 0xf0) == 0x80 ? 2 : 1);
	} else {
		switch (c) {
		case 0xcc:
		case 0xd0:
			NEED(1);
			return p + 1;
		case 0xcd:
		case 0xd1:
			NEED(2);
			return p + 2;
		case 0xca:
		case 0xce:
		case 0xd2:
			NEED(4);
			return p + 4;
		case 0xcb:
		case 0xcf:
		case 0xd3:
			NEED(8);
			return p + 8;
		case 0xd9:
		case 0xc4:
			NEED(1);
			n = BE(1);
			p += 1;
			NEED(n);
			return p + n;
		case 0xda:
		case 0xc5:
			NEED(2);
			n = BE(2);
			p += 2;
			NEED(n);
			return p + n;
		case 0xdb:
		case 0xc6:
			NEED(4);
			n = BE(4);
			p += 4;
			NEED(n);
			return p + n;
		case 0xdc:
			NEED(2);
			items = BE(2);
			p += 2;
			break;
		case 0xdd:
			NEED(4);
			items = BE(4);
			p += 4;
			break;
		case 0xde:
			NEED(2);
			items = BE(2) * 2;
			p += 2;
			break;
		case 0xdf:
			NEED(4);
			items = BE(4) * 2;
			p += 4;
			break;
		default:
			return NULL; /* ext types, reserved */
		}
	}
	NEED(items); /* at least a byte each */
	for (uint64_t i = 0; i < items && p != NULL; i++) {
		p = prescan(p, end, depth + 1);
	}
	return p;
#undef NEED
#undef BE
}

static int
depth_ok(const msgpack_object *o, int depth)
{
	if (depth > WIRE_MAX_DEPTH) {
		return 0;
	}
	if (o->type == MSGPACK_OBJECT_ARRAY) {
		for (uint32_t i = 0; i < o->via.array.size; i++) {
			if (!depth_ok(&o->via.array.ptr[i], depth + 1)) {
				return 0;
			}
		}
	} else if (o->type == MSGPACK_OBJECT_MAP) {
		for (uint32_t i = 0; i < o->via.map.size; i++) {
			if (!depth_ok(&o->via.map.ptr[i].key, depth + 1) ||
			    !depth_ok(&o->via.map.ptr[i].val, depth + 1)) {
				return 0;
			}
		}
	} else if (o->type == MSGPACK_OBJECT_EXT) {
		return 0; /* not part of the protocol */
	}
	return 1;
}

int
wire_parse(struct wire_r *r, const void *data, size_t len)
{
	msgpack_unpacked *u;
	size_t off = 0;

	msgpack_unpack_return rv;

	r->impl = NULL;
	if (len > WIRE_MAX_BYTES) {
		return LEDGE_ETOOBIG;
	}
	if (data == NULL || len == 0 ||
	    prescan(data, (const unsigned char *)data + len, 1) !=
	        (const unsigned char *)data + len) {
		return LEDGE_EPROTO;
	}
	if ((u = malloc(sizeof *u)) == NULL) {
		return LEDGE_ENOMEM;
	}
	msgpack_unpacked_init(u);
	rv = msgpack_unpack_next(u, data, len, &off);
	if (rv != MSGPACK_UNPACK_SUCCESS || off != len ||
	    !depth_ok(&u->data, 1)) {
		msgpack_unpacked_destroy(u);
		free(u);
		return rv == MSGPACK_UNPACK_NOMEM_ERROR ? LEDGE_ENOMEM
		                                        : LEDGE_EPROTO;
	}
	r->impl = u;
	return LEDGE_OK;
}

void
wire_r_fini(struct wire_r *r)
{
	msgpack_unpacked *u = r->impl;
	if (u != NULL) {
		msgpack_unpacked_destroy(u);
		free(u);
		r->impl = NULL;
	}
}

static const msgpack_object *
O(wire_v v)
{
	return v.p;
}

wire_v
wire_root(const struct wire_r *r)
{
	msgpack_unpacked *u = r->impl;
	return (wire_v) { u ? &u->data : NULL };
}

bool
wire_is_map(wire_v v)
{
	return v.p && O(v)->type == MSGPACK_OBJECT_MAP;
}

bool
wire_is_array(wire_v v)
{
	return v.p && O(v)->type == MSGPACK_OBJECT_ARRAY;
}

bool
wire_is_nil(wire_v v)
{
	return v.p && O(v)->type == MSGPACK_OBJECT_NIL;
}

wire_v
wire_get(wire_v map, const char *key)
{
	size_t n = strlen(key);
	if (!wire_is_map(map)) {
		return (wire_v) { NULL };
	}
	for (uint32_t i = 0; i < O(map)->via.map.size; i++) {
		const msgpack_object *k = &O(map)->via.map.ptr[i].key;
		if (k->type == MSGPACK_OBJECT_STR && k->via.str.size == n &&
		    (n == 0 || memcmp(k->via.str.ptr, key, n) == 0)) {
			return (wire_v) { &O(map)->via.map.ptr[i].val };
		}
	}
	return (wire_v) { NULL };
}

size_t
wire_len(wire_v v)
{
	if (wire_is_map(v)) {
		return O(v)->via.map.size;
	}
	if (wire_is_array(v)) {
		return O(v)->via.array.size;
	}
	return 0;
}

wire_v
wire_at(wire_v a, size_t i)
{
	if (!wire_is_array(a) || i >= O(a)->via.array.size) {
		return (wire_v) { NULL };
	}
	return (wire_v) { &O(a)->via.array.ptr[i] };
}

wire_v
wire_key_at(wire_v m, size_t i)
{
	if (!wire_is_map(m) || i >= O(m)->via.map.size) {
		return (wire_v) { NULL };
	}
	return (wire_v) { &O(m)->via.map.ptr[i].key };
}

wire_v
wire_val_at(wire_v m, size_t i)
{
	if (!wire_is_map(m) || i >= O(m)->via.map.size) {
		return (wire_v) { NULL };
	}
	return (wire_v) { &O(m)->via.map.ptr[i].val };
}

bool
wire_as_str(wire_v v, const char **p, size_t *n)
{
	if (!v.p || O(v)->type != MSGPACK_OBJECT_STR) {
		return false;
	}
	/* msgpack-c leaves an empty string's pointer NULL; callers get a
	 * valid one (memcmp, memchr and memcpy need it even for 0 bytes). */
	*p = O(v)->via.str.size ? O(v)->via.str.ptr : "";
	*n = O(v)->via.str.size;
	return true;
}

char *
wire_str_dup(wire_v v)
{
	const char *p;
	size_t n;
	char *s;
	if (!wire_as_str(v, &p, &n) || memchr(p, '\0', n) != NULL ||
	    (s = malloc(n + 1)) == NULL) {
		return NULL;
	}
	memcpy(s, p, n);
	s[n] = '\0';
	return s;
}

bool
wire_str_eq(wire_v v, const char *s)
{
	const char *p;
	size_t n;
	return wire_as_str(v, &p, &n) && n == strlen(s) && memcmp(p, s, n) == 0;
}

bool
wire_as_bin(wire_v v, const void **p, size_t *n)
{
	if (!v.p) {
		return false;
	}
	if (O(v)->type == MSGPACK_OBJECT_BIN) {
		*p = O(v)->via.bin.size ? O(v)->via.bin.ptr : "";
		*n = O(v)->via.bin.size;
		return true;
	}
	if (O(v)->type == MSGPACK_OBJECT_STR) {
		*p = O(v)->via.str.size ? O(v)->via.str.ptr : "";
		*n = O(v)->via.str.size;
		return true;
	}
	return false;
}

uint64_t
wire_as_u64(wire_v v, uint64_t dflt)
{
	if (!v.p) {
		return dflt;
	}
	if (O(v)->type == MSGPACK_OBJECT_POSITIVE_INTEGER) {
		return O(v)->via.u64;
	}
	return dflt;
}

int64_t
wire_as_i64(wire_v v, int64_t dflt)
{
	if (!v.p) {
		return dflt;
	}
	if (O(v)->type == MSGPACK_OBJECT_POSITIVE_INTEGER &&
	    O(v)->via.u64 <= INT64_MAX) {
		return (int64_t)O(v)->via.u64;
	}
	if (O(v)->type == MSGPACK_OBJECT_NEGATIVE_INTEGER) {
		return O(v)->via.i64;
	}
	return dflt;
}

bool
wire_as_bool(wire_v v, bool dflt)
{
	if (!v.p || O(v)->type != MSGPACK_OBJECT_BOOLEAN) {
		return dflt;
	}
	return O(v)->via.boolean;
}
