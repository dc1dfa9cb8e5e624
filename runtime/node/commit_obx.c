/*
 * commit_obx.c - the committer's outbox numbering (commit_obx.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "node/commit.h"
#include "node/commit_obx.h"

#define OP_HDR COMMIT_OP_HDR

struct obx_peer {
	unsigned char key[4];
	uint64_t next;  /* last number handed out */
	uint64_t base;  /* `next` as committed (before this batch) */
	uint64_t saved; /* `next` before a record that may be undone */
	bool touched;   /* in this batch */
	/* The gap entry before this process's first entry (0: none), and
	 * the last number an earlier process made durable. */
	uint64_t gap_at, gap_prev;
	uint64_t handed; /* the last number given to the hook */
	/* obx_hand_early, per batch: its first number, whether some entry
	 * is not one to hand early */
	uint64_t first;
	bool late;
};

void
obx_init(struct commit_obx *x, struct store *store, uint64_t floor)
{
	memset(x, 0, sizeof *x);
	x->store = store;
	x->floor = floor;
	hmap_init(&x->peers);
}

void
obx_fini(struct commit_obx *x)
{
	struct hmap_slot *sl;
	size_t pos = 0;
	while ((sl = hmap_next(&x->peers, &pos)) != NULL) {
		free(sl->value);
	}
	hmap_fini(&x->peers);
}

/* The numbering state of a peer, loaded from meta on first use. */
static struct obx_peer *
obx_peer(struct commit_obx *x, const unsigned char *peer)
{
	struct obx_peer *o = hmap_get(&x->peers, peer, 4);
	if (o == NULL && (o = calloc(1, sizeof *o)) != NULL) {
		char name[16];
		memcpy(o->key, peer, 4);
		snprintf(name, sizeof name, "obx%08x", store_rd32(peer));
		o->next = store_meta_get_u64(x->store, name);
		if (x->floor != 0) {
			/* An earlier process may have handed numbers above
			 * the durable ones ahead of a commit that a crash
			 * undid: this one's start above them all. */
			o->gap_prev = o->next;
			o->gap_at =
			    (o->next > x->floor ? o->next : x->floor) + 1;
			o->next = o->gap_at - 1;
		}
		/* What is durable was handed by links_restore. */
		o->handed = o->next;
		o->base = o->saved = o->next;
		if (hmap_put(&x->peers, o->key, 4, o, NULL) != 0) {
			free(o);
			o = NULL;
		}
	}
	return o;
}

/* The gap entry before this process's first entry to peer o (its
 * number: ++o->next). */
static int
put_gap(struct store_batch *b, struct obx_peer *o)
{
	unsigned char key[12], val[COMMIT_GAP_LEN];
	memcpy(key, o->key, 4);
	store_be64(key + 4, ++o->next);
	commit_gap_make(val, o->gap_prev);
	return store_batch_put(
	    b, STORE_OUTBOX, key, sizeof key, val, sizeof val);
}

int
obx_number(struct commit_obx *x, struct store_batch *b, unsigned char *key,
    const void *val, size_t vlen)
{
	struct obx_peer *o = obx_peer(x, key);
	int rv = LEDGE_OK;
	if (o == NULL) {
		return LEDGE_ENOMEM;
	}
	if (o->next + 1 == o->gap_at) {
		rv = put_gap(b, o);
	}
	if (rv == LEDGE_OK) {
		store_be64(key + 4, ++o->next);
		o->touched = true;
		rv = store_batch_put(b, STORE_OUTBOX, key, 12, val, vlen);
	}
	return rv;
}

int
obx_save(struct commit_obx *x, struct store_batch *b)
{
	struct hmap_slot *sl;
	size_t pos = 0;
	int rv = LEDGE_OK;
	while (rv == LEDGE_OK && (sl = hmap_next(&x->peers, &pos)) != NULL) {
		struct obx_peer *o = sl->value;
		if (o->touched) {
			char name[16];
			snprintf(
			    name, sizeof name, "obx%08x", store_rd32(o->key));
			rv = store_meta_put_u64(b, name, o->next);
		}
	}
	return rv;
}

void
obx_mark(struct commit_obx *x, enum obx_mark how, bool committed)
{
	struct hmap_slot *sl;
	size_t pos = 0;
	while ((sl = hmap_next(&x->peers, &pos)) != NULL) {
		struct obx_peer *o = sl->value;
		if (how == OBX_SAVE) {
			o->saved = o->next;
		} else if (how == OBX_RESTORE) {
			o->next = o->saved;
		} else {
			if (!committed) {
				o->next = o->base;
			}
			o->base = o->saved = o->next;
			o->touched = false;
		}
	}
}

/* Give entry `seq` of peer o to the hook, after the gap entry before it
 * if that is still to go; nothing if it went already. */
static void
hand_entry(struct commit_obx *x, struct obx_peer *o, uint64_t seq,
    const void *data, size_t len)
{
	uint32_t peer = store_rd32(o->key);
	if (seq <= o->handed) {
		return;
	}
	if (o->gap_at != 0 && o->handed < o->gap_at) {
		unsigned char gap[COMMIT_GAP_LEN];
		commit_gap_make(gap, o->gap_prev);
		x->hook(x->hook_arg, peer, o->gap_at, gap, sizeof gap);
	}
	x->hook(x->hook_arg, peer, seq, data, len);
	o->handed = seq;
}

/* The outbox operation at p, if it is one: its peer's numbering, its
 * number, its entry. */
static struct obx_peer *
outbox_op(struct commit_obx *x, const unsigned char *p, uint64_t *seq,
    const unsigned char **data, uint32_t *len)
{
	uint32_t klen = store_rd32(p + 2);
	if (p[1] != REC_OUTBOX && p[1] != REC_OUTBOX_SYNC) {
		return NULL;
	}
	*seq = store_rd64(p + OP_HDR + 4);
	*data = p + OP_HDR + klen;
	*len = store_rd32(p + 6);
	return hmap_get(&x->peers, p + OP_HDR, 4);
}

/* The next operation of a record after the one at off. */
static size_t
op_next(const unsigned char *ops, size_t off)
{
	const unsigned char *p = ops + off;
	return off + OP_HDR + store_rd32(p + 2) + store_rd32(p + 6);
}

/* Hand every outbox entry of the records of list (but those handed
 * already); returns how many it looked at. */
static uint64_t
hand_all(struct commit_obx *x, const struct commit_rec *list)
{
	const unsigned char *data;
	uint64_t seq, n = 0;
	uint32_t len;
	for (const struct commit_rec *r = list; r != NULL; r = r->next) {
		for (size_t off = 0; off < r->len; off = op_next(r->ops, off)) {
			struct obx_peer *o =
			    outbox_op(x, r->ops + off, &seq, &data, &len);
			if (o != NULL) {
				hand_entry(x, o, seq, data, len);
				n++;
			}
		}
	}
	return n;
}

uint64_t
obx_hand_early(struct commit_obx *x, const struct commit_rec *batch)
{
	struct hmap_slot *sl;
	size_t pos = 0, bytes = 0;
	bool some = false, any = false, all;
	const unsigned char *data;
	uint64_t seq;
	uint32_t len;

	/* Most batches have no record that may go ahead: nothing to look
	 * at in their operations. */
	for (const struct commit_rec *r = batch; r != NULL && !some;
	     r = r->next) {
		some = r->repl_whole;
	}
	if (x->hook == NULL || !some) {
		return 0;
	}
	/* Which peers get only such entries, in order after the last. */
	for (const struct commit_rec *r = batch; r != NULL; r = r->next) {
		bytes += r->len;
		for (size_t off = 0; off < r->len; off = op_next(r->ops, off)) {
			const unsigned char *p = r->ops + off;
			struct obx_peer *o = outbox_op(x, p, &seq, &data, &len);
			if (o == NULL) {
				continue;
			}
			if (o->first == 0) {
				o->first = seq;
			}
			o->late |= p[1] != REC_OUTBOX_SYNC || !r->repl_whole;
			any = true;
		}
	}
	/* All of them or none: a record's entries to each of its replicas
	 * go ahead together, or it could be half on a replica.  And only
	 * while the commit cannot run out of room. */
	all = any && store_has_room(x->store, 2 * (uint64_t)bytes);
	while ((sl = hmap_next(&x->peers, &pos)) != NULL) {
		struct obx_peer *o = sl->value;
		uint64_t after = o->gap_at != 0 && o->handed < o->gap_at
		    ? o->gap_at
		    : o->handed;
		all &= o->first == 0 || (!o->late && o->first == after + 1);
		o->first = 0;
		o->late = false;
	}
	return all ? hand_all(x, batch) : 0;
}

void
obx_hand(struct commit_obx *x, const struct commit_rec *list)
{
	if (x->hook != NULL) {
		hand_all(x, list);
	}
}
