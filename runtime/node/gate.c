/*
 * gate.c - the gate of synchronous replication (gate.h).
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <ledge.h>

#include "base/hmap.h"
#include "node/commit.h"
#include "node/gate.h"

#define OP_HDR COMMIT_OP_HDR

/* What the gate knows of one peer (under mu). */
struct gate_peer {
	unsigned char key[4];
	uint64_t acked;   /* highest outbox number it acknowledged */
	uint64_t need;    /* highest synchronous entry that became durable */
	uint64_t mark;    /* GATE_LAGGING: waited for again once acked >= */
	uint64_t catchup; /* GATE_SYNC: in sync once acked >= (0: it is) */
	uint64_t gen;     /* of the last drop */
	enum gate_state state;
	bool told; /* the hook knows the current state */
};

struct gate {
	pthread_mutex_t mu;
	struct hmap peers; /* peer (4 bytes) -> struct gate_peer */
	struct commit_rec *head, *tail;
	size_t nwaiting;
	size_t nunordered; /* of those, `unordered` (commit.h) */
	uint32_t timeout_ms;
	bool arbitrated;
	bool untold; /* a peer's `told` is false */
	uint64_t last_gen;
	uint64_t waits, lagged;
	void (*fn)(void *, const struct gate_news *);
	void *arg;
};

int
gate_new(struct gate **gp, uint32_t timeout_ms,
    void (*fn)(void *, const struct gate_news *), void *arg)
{
	struct gate *g = calloc(1, sizeof *g);
	if (g == NULL) {
		return LEDGE_ENOMEM;
	}
	pthread_mutex_init(&g->mu, NULL);
	hmap_init(&g->peers);
	g->timeout_ms = timeout_ms;
	g->fn = fn;
	g->arg = arg;
	*gp = g;
	return LEDGE_OK;
}

void
gate_free(struct gate *g)
{
	struct hmap_slot *sl;
	size_t pos = 0;
	if (g == NULL) {
		return;
	}
	while ((sl = hmap_next(&g->peers, &pos)) != NULL) {
		free(sl->value);
	}
	hmap_fini(&g->peers);
	pthread_mutex_destroy(&g->mu);
	free(g);
}

void
gate_set_base(struct gate *g, uint64_t base)
{
	pthread_mutex_lock(&g->mu);
	if (base > g->last_gen) {
		g->last_gen = base;
	}
	pthread_mutex_unlock(&g->mu);
}

void
gate_set_arbitrated(struct gate *g, bool on)
{
	pthread_mutex_lock(&g->mu);
	g->arbitrated = on;
	pthread_mutex_unlock(&g->mu);
}

/* The record of peer key (4 bytes), created on first use; mu. */
static struct gate_peer *
peer_of(struct gate *g, const unsigned char *key)
{
	struct gate_peer *p = hmap_get(&g->peers, key, 4);
	if (p == NULL && (p = calloc(1, sizeof *p)) != NULL) {
		memcpy(p->key, key, 4);
		p->told = true;
		p->gen = g->last_gen;
		if (hmap_put(&g->peers, p->key, 4, p, NULL) != 0) {
			free(p);
			p = NULL;
		}
	}
	return p;
}

static struct gate_peer *
peer_by_id(struct gate *g, uint32_t peer)
{
	unsigned char key[4];
	store_be32(key, peer);
	return peer_of(g, key);
}

static void
untell(struct gate *g, struct gate_peer *p)
{
	p->told = false;
	g->untold = true;
}

/* Stop waiting for p (mu). */
static void
lag(struct gate *g, struct gate_peer *p)
{
	p->state = GATE_LAGGING;
	p->mark = p->need;
	p->catchup = 0;
	g->lagged++;
	untell(g, p);
}

/* p kept a record waiting too long (mu). */
static void
drop(struct gate *g, struct gate_peer *p)
{
	if (!g->arbitrated) {
		lag(g, p);
		return;
	}
	p->gen = ++g->last_gen;
	p->state = GATE_DROPPING;
	untell(g, p);
}

/*
 * May r be released: is each synchronous entry acknowledged, or its peer
 * lagging?  With `expire`, the peers in sync that keep it waiting are
 * dropped; *timed: some peer that keeps it waiting can still time out.
 * mu held.
 */
static bool
rec_open(struct gate *g, struct commit_rec *r, bool expire, bool *timed)
{
	bool open = true;
	for (size_t off = 0; off < r->len && r->gated;) {
		unsigned char *o = r->ops + off;
		uint32_t klen = store_rd32(o + 2);
		uint32_t vlen = store_rd32(o + 6);
		if (o[1] == REC_OUTBOX_SYNC) {
			struct gate_peer *p = peer_of(g, o + OP_HDR);
			uint64_t seq = store_rd64(o + OP_HDR + 4);
			if (p != NULL && p->state != GATE_LAGGING &&
			    p->acked < seq) {
				if (expire && p->state == GATE_SYNC) {
					drop(g, p);
				}
				if (p->state != GATE_LAGGING) {
					open = false;
					*timed |= p->state == GATE_SYNC;
				}
			}
		}
		off += OP_HDR + klen + vlen;
	}
	return open;
}

void
gate_enter(struct gate *g, struct commit_rec *list, uint64_t now_ms)
{
	pthread_mutex_lock(&g->mu);
	if (g->tail != NULL) {
		g->tail->next = list;
	} else {
		g->head = list;
	}
	for (struct commit_rec *r = list; r != NULL; r = r->next) {
		r->durable_ms = now_ms;
		for (size_t off = 0; off < r->len && r->gated;) {
			unsigned char *o = r->ops + off;
			uint32_t klen = store_rd32(o + 2);
			uint32_t vlen = store_rd32(o + 6);
			struct gate_peer *p;
			if (o[1] == REC_OUTBOX_SYNC &&
			    (p = peer_of(g, o + OP_HDR)) != NULL) {
				uint64_t seq = store_rd64(o + OP_HDR + 4);
				p->need = seq > p->need ? seq : p->need;
			}
			off += OP_HDR + klen + vlen;
		}
		g->waits += r->gated;
		g->tail = r;
		g->nwaiting++;
		g->nunordered += r->unordered;
	}
	pthread_mutex_unlock(&g->mu);
}

/* Tell the hook of the peers whose state changed; mu held (the hook runs
 * with it released). */
static void
tell(struct gate *g)
{
	struct hmap_slot *sl;
	size_t pos = 0;
	if (!g->untold) {
		return;
	}
	g->untold = false;
	while ((sl = hmap_next(&g->peers, &pos)) != NULL) {
		struct gate_peer *p = sl->value;
		if (p->told) {
			continue;
		}
		struct gate_news n = {
			.peer = store_rd32(p->key),
			.state = p->state,
			.in_sync = p->state == GATE_SYNC && p->catchup == 0,
			.behind = p->need > p->acked ? p->need - p->acked : 0,
			.gen = p->gen,
		};
		p->told = true;
		if (g->fn != NULL) {
			pthread_mutex_unlock(&g->mu);
			g->fn(g->arg, &n);
			pthread_mutex_lock(&g->mu);
			pos = 0; /* the table may have changed */
		}
	}
}

/*
 * Behind a head that waits: take the unordered records that may go, in
 * order among themselves - up to the first that may not (a later one may
 * acknowledge what that one applied).  Their peers time out only as the
 * head's do.  mu held.
 */
static void
take_unordered(struct gate *g, uint64_t now_ms, struct commit_rec ***tail)
{
	struct commit_rec **rp = &g->head->next, *prev = g->head;
	bool timed = false;
	(void)now_ms;
	while (*rp != NULL && g->nunordered > 0) {
		struct commit_rec *r = *rp;
		if (!r->unordered) {
			prev = r;
			rp = &r->next;
			continue;
		}
		if (!rec_open(g, r, false, &timed)) {
			break;
		}
		*rp = r->next;
		if (g->tail == r) {
			g->tail = prev;
		}
		g->nwaiting--;
		g->nunordered--;
		r->next = NULL;
		r->ahead = true;
		**tail = r;
		*tail = &r->next;
	}
}

struct commit_rec *
gate_take(struct gate *g, int err, uint64_t now_ms, int64_t *wait_ms)
{
	struct commit_rec *out = NULL, **tail = &out;
	*wait_ms = -1;
	pthread_mutex_lock(&g->mu);
	while (g->head != NULL) {
		struct commit_rec *r = g->head;
		uint64_t end = r->durable_ms + g->timeout_ms;
		bool timed = false;
		if (err == LEDGE_OK && !rec_open(g, r, now_ms >= end, &timed)) {
			if (timed) {
				*wait_ms =
				    end > now_ms ? (int64_t)(end - now_ms) : 0;
			}
			break;
		}
		g->head = r->next;
		if (g->head == NULL) {
			g->tail = NULL;
		}
		g->nwaiting--;
		g->nunordered -= r->unordered;
		r->next = NULL;
		*tail = r;
		tail = &r->next;
	}
	if (err == LEDGE_OK && g->head != NULL && g->nunordered > 0) {
		take_unordered(g, now_ms, &tail);
	}
	/* A peer dropped or lagging is told before the answers it lets
	 * out. */
	tell(g);
	pthread_mutex_unlock(&g->mu);
	return out;
}

bool
gate_acked(struct gate *g, uint32_t peer, uint64_t acked)
{
	struct gate_peer *p;
	bool kick = false;
	pthread_mutex_lock(&g->mu);
	if ((p = peer_by_id(g, peer)) != NULL && acked > p->acked) {
		p->acked = acked;
		kick = true;
		if (p->state == GATE_LAGGING) {
			/* Caught up with what was outstanding at its last
			 * acknowledgement: waited for again, and in sync once
			 * it holds what was let out without it. */
			if (acked >= p->mark) {
				p->state = GATE_SYNC;
				p->catchup = p->need > acked ? p->need : 0;
				untell(g, p);
			} else {
				p->mark = p->need;
			}
		} else if (p->state == GATE_DROPPING && acked >= p->need) {
			p->state = GATE_SYNC; /* it kept up after all */
			untell(g, p);
		} else if (p->state == GATE_SYNC && p->catchup != 0 &&
		    acked >= p->catchup) {
			p->catchup = 0;
			untell(g, p);
		}
	}
	pthread_mutex_unlock(&g->mu);
	return kick;
}

bool
gate_lost(struct gate *g, uint32_t peer)
{
	struct gate_peer *p;
	bool kick = false;
	pthread_mutex_lock(&g->mu);
	if ((p = peer_by_id(g, peer)) != NULL && p->state != GATE_LAGGING) {
		lag(g, p);
		kick = true;
	}
	pthread_mutex_unlock(&g->mu);
	return kick;
}

bool
gate_dropped(struct gate *g, uint32_t peer, uint64_t gen)
{
	struct gate_peer *p;
	bool kick = false;
	pthread_mutex_lock(&g->mu);
	if ((p = peer_by_id(g, peer)) != NULL && p->state == GATE_DROPPING &&
	    p->gen == gen) {
		lag(g, p);
		kick = true;
	}
	pthread_mutex_unlock(&g->mu);
	return kick;
}

bool
gate_peer_in_sync(struct gate *g, uint32_t peer, uint64_t *gen, uint64_t *acked,
    uint64_t *need)
{
	struct gate_peer *p;
	bool in = false;
	pthread_mutex_lock(&g->mu);
	if ((p = peer_by_id(g, peer)) != NULL) {
		in = p->state == GATE_SYNC && p->catchup == 0;
		*gen = p->gen;
		if (acked != NULL) {
			*acked = p->acked;
		}
		if (need != NULL) {
			*need = p->need;
		}
	}
	pthread_mutex_unlock(&g->mu);
	return in;
}

bool
gate_dropping(struct gate *g, uint32_t peer, uint64_t gen)
{
	struct gate_peer *p;
	bool d = false;
	pthread_mutex_lock(&g->mu);
	if ((p = peer_by_id(g, peer)) != NULL) {
		d = p->state == GATE_DROPPING && p->gen == gen;
	}
	pthread_mutex_unlock(&g->mu);
	return d;
}

void
gate_stats(struct gate *g, uint64_t *waits, uint64_t *lagged, size_t *waiting)
{
	pthread_mutex_lock(&g->mu);
	*waits = g->waits;
	*lagged = g->lagged;
	*waiting = g->nwaiting;
	pthread_mutex_unlock(&g->mu);
}
