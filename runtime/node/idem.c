#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "base/sha256.h"
#include "node/commit.h"
#include "node/idem.h"
#include "platform/loop.h"
#include "store/store.h"

/* value: u64 expires, u16 status, u16 ctype length, ctype, body */

static size_t
make_key(unsigned char *buf, uint32_t route, const char *key, size_t klen)
{
	store_be32(buf, route);
	memcpy(buf + 4, key, klen);
	return 4 + klen;
}

int
idem_add(struct commit_rec *rec, uint32_t route, const char *key,
    const struct idem_answer *a)
{
	unsigned char k[4 + IDEM_MAX_KEY], tk[12 + IDEM_MAX_KEY];
	size_t klen = strlen(key), clen = a->ctype ? strlen(a->ctype) : 0;
	unsigned char *v;

	if (klen == 0 || klen > IDEM_MAX_KEY || clen > 0xffff) {
		return LEDGE_EINVAL;
	}
	make_key(k, route, key, klen);
	if ((v = commit_rec_put_reserve(
	         rec, STORE_IDEM, k, 4 + klen, 12 + clen + a->len)) == NULL) {
		return LEDGE_ENOMEM;
	}
	store_be64(v, a->expires_ms);
	v[8] = (unsigned char)(a->status >> 8);
	v[9] = (unsigned char)a->status;
	v[10] = (unsigned char)(clen >> 8);
	v[11] = (unsigned char)clen;
	if (clen) {
		memcpy(v + 12, a->ctype, clen);
	}
	if (a->len) {
		memcpy(v + 12 + clen, a->body, a->len);
	}
	store_be64(tk, a->expires_ms);
	make_key(tk + 8, route, key, klen);
	return commit_rec_put(rec, STORE_IDEMTIME, tk, 12 + klen, "", 0);
}

int
idem_get(struct store_reader *r, uint32_t route, const char *key,
    uint64_t now_ms, struct idem_answer *a)
{
	unsigned char k[4 + IDEM_MAX_KEY];
	size_t klen = strlen(key);
	const unsigned char *v;
	ledge_bytes val;
	size_t clen;
	int rv;

	if (klen == 0 || klen > IDEM_MAX_KEY) {
		return LEDGE_ENOENT;
	}
	make_key(k, route, key, klen);
	if ((rv = store_get(r, STORE_IDEM, k, 4 + klen, &val)) != LEDGE_OK) {
		return rv;
	}
	v = val.data;
	if (val.len < 12) {
		return LEDGE_EPROTO;
	}
	clen = (size_t)v[10] << 8 | v[11];
	if (12 + clen > val.len) {
		return LEDGE_EPROTO;
	}
	a->expires_ms = store_rd64(v);
	if (a->expires_ms < now_ms) {
		return LEDGE_ENOENT;
	}
	a->status = v[8] << 8 | v[9];
	a->ctype = (const char *)v + 12;
	a->ctype_len = clen;
	a->body = v + 12 + clen;
	a->len = val.len - 12 - clen;
	return LEDGE_OK;
}

struct prune {
	struct commit_rec *rec;
	uint64_t now;
	size_t max, n;
};

static int
prune_one(void *arg, ledge_bytes key, ledge_bytes val)
{
	struct prune *p = arg;
	const unsigned char *k = key.data;
	(void)val;
	if (key.len < 12 || store_rd64(k) >= p->now || p->n >= p->max) {
		return 1;
	}
	/* The answer goes only if it still carries this expiry: the key may
	 * have been used again since, with a fresh answer.  Checked at commit
	 * time, so a fresh answer committed meanwhile is safe too. */
	if (commit_rec_del(p->rec, STORE_IDEMTIME, k, key.len) != LEDGE_OK ||
	    commit_rec_del_if(p->rec, STORE_IDEM, k + 8, key.len - 8, k, 8) !=
	        LEDGE_OK) {
		return 1;
	}
	p->n++;
	return 0;
}

size_t
idem_prune(
    struct store_reader *r, struct commit_rec *rec, uint64_t now_ms, size_t max)
{
	struct prune p = { rec, now_ms, max, 0 };
	store_scan_reader(r, STORE_IDEMTIME, prune_one, &p);
	return p.n;
}

struct idem_pruner {
	struct loop_timer *timer;
	struct store_reader *reader;
	struct commit *commit;
};

static void
on_prune(void *arg)
{
	struct idem_pruner *p = arg;
	struct commit_rec *rec = commit_rec_new();
	if (rec != NULL && store_reader_begin(p->reader) == LEDGE_OK) {
		size_t n = idem_prune(p->reader, rec, clock_wall_ms(), 1000);
		store_reader_end(p->reader);
		if (n > 0) {
			commit_submit(p->commit, rec);
			rec = NULL;
		}
	}
	commit_rec_free(rec);
	loop_timer_start(p->timer, IDEM_PRUNE_MS);
}

int
idem_pruner_new(struct idem_pruner **pp, struct loop *l, struct store *store,
    struct commit *commit)
{
	struct idem_pruner *p = calloc(1, sizeof *p);
	if (p == NULL || store_reader_open(store, &p->reader) != LEDGE_OK ||
	    (p->timer = loop_timer_new(l, on_prune, p)) == NULL) {
		if (p != NULL) {
			store_reader_close(p->reader);
		}
		free(p);
		return LEDGE_ENOMEM;
	}
	p->commit = commit;
	loop_timer_start(p->timer, IDEM_PRUNE_MS);
	*pp = p;
	return LEDGE_OK;
}

void
idem_pruner_free(struct idem_pruner *p)
{
	if (p != NULL) {
		loop_timer_free(p->timer);
		store_reader_close(p->reader);
		free(p);
	}
}

char *
idem_key_for(char *out, const char *key, const void *inst, size_t inst_len)
{
	static const char hex[] = "0123456789abcdef";
	struct sha256 h;
	unsigned char d[32];
	size_t n = strnlen(key, IDEM_HEADER_MAX);

	sha256_init(&h);
	sha256_update(&h, inst, inst_len);
	sha256_final(&h, d);
	memcpy(out, key, n);
	out[n++] = 0x1f;
	for (int i = 0; i < 16; i++) {
		out[n++] = hex[d[i] >> 4];
		out[n++] = hex[d[i] & 15];
	}
	out[n] = '\0';
	return out;
}
