/*
 * commit_rec.c - building commit records (commit.h): the packed list of
 * operations a handler's effects become, appended to by the executor,
 * enqueue, http-ingress and replication, and read by the committer
 * (commit.c).  Nothing here touches the store.
 */
#include <stdlib.h>
#include <string.h>

#include "node/commit.h"

#define OP_HDR COMMIT_OP_HDR

struct commit_rec *
commit_rec_new(void)
{
	return calloc(1, sizeof(struct commit_rec));
}

void
commit_rec_free(struct commit_rec *r)
{
	if (r != NULL) {
		free(r->ops);
		free(r);
	}
}

static unsigned char *
rec_append(struct commit_rec *r, enum store_db db, int op, const void *key,
    size_t klen, size_t vlen)
{
	size_t need = OP_HDR + klen + vlen;
	unsigned char *p;

	if (klen > UINT32_MAX || vlen > UINT32_MAX) {
		return NULL;
	}
	if (r->cap - r->len < need) {
		size_t ncap = r->cap ? r->cap * 2 : 256;
		while (ncap - r->len < need) {
			ncap *= 2;
		}
		if ((p = realloc(r->ops, ncap)) == NULL) {
			return NULL;
		}
		r->ops = p;
		r->cap = ncap;
	}
	p = r->ops + r->len;
	p[0] = (unsigned char)db;
	p[1] = (unsigned char)op;
	store_be32(p + 2, (uint32_t)klen);
	store_be32(p + 6, (uint32_t)vlen);
	memcpy(p + OP_HDR, key, klen);
	r->len += need;
	if (db == STORE_QUEUE && op == REC_PUT && klen >= 8) {
		uint64_t q = store_rd64((const unsigned char *)key + klen - 8);
		if (q > r->max_qid) {
			r->max_qid = q;
		}
	}
	return p + OP_HDR + klen;
}

int
commit_rec_put(struct commit_rec *r, enum store_db db, const void *key,
    size_t klen, const void *val, size_t vlen)
{
	unsigned char *p = rec_append(r, db, REC_PUT, key, klen, vlen);
	if (p == NULL) {
		return LEDGE_ENOMEM;
	}
	if (vlen) {
		memcpy(p, val, vlen);
	}
	return LEDGE_OK;
}

unsigned char *
commit_rec_put_reserve(struct commit_rec *r, enum store_db db, const void *key,
    size_t klen, size_t vlen)
{
	return rec_append(r, db, REC_PUT, key, klen, vlen);
}

int
commit_rec_del_if(struct commit_rec *r, enum store_db db, const void *key,
    size_t klen, const void *prefix, size_t plen)
{
	unsigned char *p = rec_append(r, db, REC_DELIF, key, klen, plen);
	if (p == NULL) {
		return LEDGE_ENOMEM;
	}
	if (plen) {
		memcpy(p, prefix, plen);
	}
	return LEDGE_OK;
}

static int
outbox_op(
    struct commit_rec *r, int op, uint32_t peer, const void *data, size_t len)
{
	unsigned char key[12] = { 0 };
	unsigned char *p;
	store_be32(key, peer);
	/* The committer writes the sequence into the last 8 key bytes. */
	p = rec_append(r, STORE_OUTBOX, op, key, sizeof key, len);
	if (p == NULL) {
		return LEDGE_ENOMEM;
	}
	if (len) {
		memcpy(p, data, len);
	}
	return LEDGE_OK;
}

int
commit_rec_outbox(
    struct commit_rec *r, uint32_t peer, const void *data, size_t len)
{
	return outbox_op(r, REC_OUTBOX, peer, data, len);
}

int
commit_rec_outbox_sync(
    struct commit_rec *r, uint32_t peer, const void *data, size_t len)
{
	return outbox_op(r, REC_OUTBOX_SYNC, peer, data, len);
}

int
commit_rec_del_prefix(
    struct commit_rec *r, enum store_db db, const void *prefix, size_t plen)
{
	return rec_append(r, db, REC_DELPREFIX, prefix, plen, 0) ? LEDGE_OK
	                                                         : LEDGE_ENOMEM;
}

int
commit_rec_snapshot(struct commit_rec *r, uint32_t id)
{
	unsigned char key[4];
	store_be32(key, id);
	return rec_append(r, STORE_STATE, REC_SNAPSHOT, key, 4, 0)
	    ? LEDGE_OK
	    : LEDGE_ENOMEM;
}

int
commit_rec_del(
    struct commit_rec *r, enum store_db db, const void *key, size_t klen)
{
	return rec_append(r, db, REC_DEL, key, klen, 0) ? LEDGE_OK
	                                                : LEDGE_ENOMEM;
}
