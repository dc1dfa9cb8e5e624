/*
 * links.c - exactly-once, ordered event links between nodes, and
 * remote calls (see links.h).
 */
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "base/hmap.h"
#include "base/rlog.h"
#include "platform/loop.h"
#include "node/node.h"
#include "node/node_call.h"
#include "node/commit.h"
#include "node/enqueue.h"
#include "node/node_event.h"
#include "node/instance.h"
#include "domain/links.h"
#include "store/store.h"

/* Entries per batch, and bytes (roughly). */
#define BATCH_MAX   256
#define BATCH_BYTES (4u << 20)
/* Time a batch may wait for its acknowledgement before it is resent. */
#define ACK_TIMEOUT_MS   5000
#define RETRY_MIN_MS     50
#define RETRY_MAX_MS     2000
#define RETRY_NOT_YET_MS 50

struct out_entry {
	struct out_entry *next;
	uint64_t seq;
	size_t len;
	unsigned char data[];
};

struct peer {
	struct peer *next;
	struct links *l;
	char *name;
	uint32_t id;
	char *url;
	struct msg_client *client;
	/* outgoing, loop thread */
	struct out_entry *head, *tail;
	_Atomic size_t nq;
	uint64_t acked;
	bool inflight;
	struct loop_timer *retry;
	uint32_t backoff_ms;
	bool fenced_logged;
	/* statistics (loop thread; read under mu for metrics) */
	uint64_t sent_hi; /* highest seq sent so far */
	uint64_t sent_us; /* when the batch in flight left */
	uint64_t batches, retransmits, rtt_us;
	/* incoming */
	uint64_t max_epoch;
};

/* Applied watermark of one sender incarnation. */
struct in_state {
	unsigned char key[8];
	uint64_t applied;
};

struct links {
	struct node *n;
	char *self;
	uint64_t inc;
	_Atomic uint64_t epoch;
	struct msg_tls tls;
	bool have_tls;
	pthread_mutex_t mu; /* peers list (links_call runs on workers) */
	struct peer *peers;
	uint32_t next_peer_id;
	struct hmap in; /* loop thread */
	_Atomic size_t backlog;
	_Atomic uint64_t repl_applied, forwarded;
};

/* ------------------------------------------------------------------ */
/* entries                                                             */

size_t
link_entry_size(const char *target, const struct node_event *ev)
{
	return 2 + strlen(target) + node_event_encoded_size(ev);
}

void
link_entry_encode(
    unsigned char *out, const char *target, const struct node_event *ev)
{
	size_t n = strlen(target);
	out[0] = (unsigned char)(n >> 8);
	out[1] = (unsigned char)n;
	memcpy(out + 2, target, n);
	node_event_encode(ev, out + 2 + n);
}

int
link_entry_decode(
    const void *data, size_t len, char **target, struct node_event **ev)
{
	const unsigned char *p = data;
	size_t n;
	if (len < 2) {
		return -1;
	}
	n = (size_t)p[0] << 8 | p[1];
	if (n == 0 || n > len - 2 || memchr(p + 2, '\0', n) != NULL) {
		return -1;
	}
	if ((*ev = node_event_decode(p + 2 + n, len - 2 - n)) == NULL) {
		return -1;
	}
	if ((*target = malloc(n + 1)) == NULL) {
		node_event_free(*ev);
		return -1;
	}
	memcpy(*target, p + 2, n);
	(*target)[n] = '\0';
	return 0;
}

/*
 * A replication entry (REPL_MARK, commit.h): the writes of one
 * record of the primary to the part named in it, added to `rec` under
 * this node's id for that name.  Returns 0, or -1 for a malformed entry.
 * Entries for a part that runs here are stale (from a primary that was
 * replaced) and ignored.
 */
static int
apply_repl(
    struct links *l, struct commit_rec *rec, const unsigned char *p, size_t len)
{
	size_t n = (size_t)p[0] << 8 | p[1];
	char name[512];
	uint32_t id;
	struct node_target *t;
	unsigned char kbuf[4 + 1024];

	if (n < 2 || n > len - 2 || n > sizeof name) {
		return -1;
	}
	memcpy(name, p + 3, n - 1);
	name[n - 1] = '\0';
	if (memchr(name, '\0', n - 1) != NULL) {
		return -1;
	}
	if ((t = node_find_target(l->n, name)) != NULL &&
	    t->kind == NT_INSTANCE) {
		return 0;
	}
	if (node_registry_id(l->n, name, &id) != LEDGE_OK) {
		return -1;
	}
	store_be32(kbuf, id);
	for (size_t off = 2 + n; off < len;) {
		const unsigned char *o = p + off;
		uint32_t klen, vlen;
		unsigned char *key;
		int rv;
		if (len - off < 10) {
			return -1;
		}
		klen = store_rd32(o + 2);
		vlen = store_rd32(o + 6);
		if (klen > len - off - 10 || vlen > len - off - 10 - klen ||
		    (o[0] != STORE_STATE && o[0] != STORE_QUEUE)) {
			return -1;
		}
		key = klen <= sizeof kbuf - 4 ? kbuf : malloc(4 + klen);
		if (key == NULL) {
			return -1;
		}
		memcpy(key, kbuf, 4);
		memcpy(key + 4, o + 10, klen);
		switch (o[1]) {
		case REC_PUT:
			rv = commit_rec_put(
			    rec, o[0], key, 4 + klen, o + 10 + klen, vlen);
			if (o[0] == STORE_QUEUE && klen == 8) {
				/* Its queue ids must not collide with ours. */
				node_qid_above(l->n, store_rd64(o + 10));
			}
			break;
		case REC_DEL:
			rv = commit_rec_del(rec, o[0], key, 4 + klen);
			break;
		case REC_DELIF:
			rv = commit_rec_del_if(
			    rec, o[0], key, 4 + klen, o + 10 + klen, vlen);
			break;
		case REC_DELPREFIX:
			rv = commit_rec_del_prefix(rec, o[0], key, 4 + klen);
			break;
		default:
			rv = LEDGE_EINVAL;
		}
		if (key != kbuf) {
			free(key);
		}
		if (rv != LEDGE_OK) {
			return -1;
		}
		off += 10 + klen + vlen;
	}
	atomic_fetch_add(&l->repl_applied, 1);
	return 0;
}

/* ------------------------------------------------------------------ */
/* peers                                                               */

static struct peer *
find_peer_locked(struct links *l, const char *name, uint32_t id)
{
	for (struct peer *p = l->peers; p != NULL; p = p->next) {
		if ((name && strcmp(p->name, name) == 0) ||
		    (!name && p->id == id)) {
			return p;
		}
	}
	return NULL;
}

static void on_retry(void *arg);

static struct peer *
add_peer_locked(struct links *l, const char *name, uint32_t id)
{
	struct peer *p = calloc(1, sizeof *p);
	if (p == NULL || (p->name = strdup(name)) == NULL) {
		free(p);
		return NULL;
	}
	p->l = l;
	p->id = id;
	p->backoff_ms = RETRY_MIN_MS;
	p->retry = loop_timer_new(node_loop(l->n), on_retry, p);
	p->next = l->peers;
	l->peers = p;
	if (id >= l->next_peer_id) {
		l->next_peer_id = id + 1;
	}
	return p;
}

/* Ids persist in meta as "peer:NAME" -> u32. */
static int
load_peer(void *arg, ledge_bytes key, ledge_bytes val)
{
	struct links *l = arg;
	char name[256];
	size_t n = key.len - 5;
	if (key.len <= 5 || n >= sizeof name || val.len != 4) {
		return 0;
	}
	memcpy(name, (const char *)key.data + 5, n);
	name[n] = '\0';
	add_peer_locked(l, name, store_rd32(val.data));
	return 0;
}

uint32_t
links_peer(struct links *l, const char *name)
{
	struct peer *p;
	uint32_t id;
	pthread_mutex_lock(&l->mu);
	if ((p = find_peer_locked(l, name, 0)) == NULL &&
	    (p = add_peer_locked(l, name, l->next_peer_id)) != NULL) {
		/* Committed like any record; an entry that uses the id
		 * commits after it. */
		struct commit_rec *rec = commit_rec_new();
		char key[300];
		unsigned char idb[4];
		int kn = snprintf(key, sizeof key, "peer:%s", name);
		store_be32(idb, p->id);
		if (rec != NULL &&
		    commit_rec_put(rec, STORE_META, key, (size_t)kn, idb, 4) ==
		        LEDGE_OK) {
			commit_submit(node_commit(l->n), rec);
		} else {
			commit_rec_free(rec);
		}
	}
	id = p ? p->id : 0;
	pthread_mutex_unlock(&l->mu);
	return id;
}

int
links_new(struct links **lp, struct node *n, const char *self,
    uint64_t incarnation, const struct msg_tls *tls)
{
	struct links *l = calloc(1, sizeof *l);
	if (l == NULL || (l->self = strdup(self)) == NULL) {
		free(l);
		return LEDGE_ENOMEM;
	}
	l->n = n;
	l->inc = incarnation;
	l->next_peer_id = 1;
	if (tls != NULL && tls->cert) {
		l->tls.cert = strdup(tls->cert);
		l->tls.key = strdup(tls->key);
		l->tls.ca = strdup(tls->ca);
		l->have_tls = true;
	}
	pthread_mutex_init(&l->mu, NULL);
	hmap_init(&l->in);
	store_scan_prefix(node_store(n), STORE_META, "peer:", 5, load_peer, l);
	*lp = l;
	return LEDGE_OK;
}

void
links_free(struct links *l)
{
	struct hmap_slot *sl;
	size_t pos = 0;
	if (l == NULL) {
		return;
	}
	while (l->peers != NULL) {
		struct peer *p = l->peers;
		l->peers = p->next;
		msg_client_free(p->client);
		loop_timer_free(p->retry);
		while (p->head != NULL) {
			struct out_entry *e = p->head;
			p->head = e->next;
			free(e);
		}
		free(p->name);
		free(p->url);
		free(p);
	}
	while ((sl = hmap_next(&l->in, &pos)) != NULL) {
		free(sl->value);
	}
	hmap_fini(&l->in);
	pthread_mutex_destroy(&l->mu);
	free((char *)l->tls.cert);
	free((char *)l->tls.key);
	free((char *)l->tls.ca);
	free(l->self);
	free(l);
}

bool
links_full(struct links *l, uint32_t peer)
{
	struct peer *p;
	bool full = false;
	pthread_mutex_lock(&l->mu);
	if ((p = find_peer_locked(l, NULL, peer)) != NULL) {
		full = atomic_load(&p->nq) >= LINK_QUEUE_MAX;
	}
	pthread_mutex_unlock(&l->mu);
	return full;
}

void
links_fence(struct links *l, const char *name, uint64_t min_epoch)
{
	struct peer *p;
	links_peer(l, name);
	pthread_mutex_lock(&l->mu);
	if ((p = find_peer_locked(l, name, 0)) != NULL &&
	    p->max_epoch < min_epoch) {
		p->max_epoch = min_epoch;
	}
	pthread_mutex_unlock(&l->mu);
}

void
links_set_epoch(struct links *l, uint64_t epoch)
{
	atomic_store(&l->epoch, epoch);
}

size_t
links_backlog(struct links *l)
{
	return atomic_load(&l->backlog);
}

void
links_stats(struct links *l, struct links_totals *tot,
    void (*fn)(void *arg, const struct link_stats *st), void *arg)
{
	tot->repl_applied = atomic_load(&l->repl_applied);
	tot->forwarded = atomic_load(&l->forwarded);
	tot->backlog = atomic_load(&l->backlog);
	pthread_mutex_lock(&l->mu);
	for (struct peer *p = l->peers; fn != NULL && p != NULL; p = p->next) {
		struct link_stats st = {
			.peer = p->name,
			.queued = atomic_load(&p->nq),
			.acked = p->acked,
			.batches = p->batches,
			.retransmits = p->retransmits,
			.rtt_us = p->rtt_us,
		};
		fn(arg, &st);
	}
	pthread_mutex_unlock(&l->mu);
}

static void kick(struct peer *p);

void
links_set_url(struct links *l, const char *name, const char *url)
{
	struct peer *p;
	char err[256];
	links_peer(l, name);
	pthread_mutex_lock(&l->mu);
	p = find_peer_locked(l, name, 0);
	if (p != NULL && (p->url == NULL || strcmp(p->url, url) != 0)) {
		struct msg_client *old = p->client, *c = NULL;
		if (msg_client_new(node_loop(l->n), url,
		        l->have_tls ? &l->tls : NULL, &c, err,
		        sizeof err) != 0) {
			rlog_write(node_log(l->n), RLOG_ERROR, l->self,
			    "link to %s: %s", name, err);
		} else {
			free(p->url);
			p->url = strdup(url);
			p->client = c;
			p->inflight = false;
		}
		pthread_mutex_unlock(&l->mu);
		msg_client_free(old);
		if (p->client != NULL) {
			kick(p);
		}
		return;
	}
	pthread_mutex_unlock(&l->mu);
}

/* ------------------------------------------------------------------ */
/* sending                                                             */

static void
append_entry(struct peer *p, uint64_t seq, const void *data, size_t len)
{
	struct out_entry *e;
	if (seq <= p->acked || (p->tail && seq <= p->tail->seq)) {
		return; /* known already */
	}
	if ((e = malloc(sizeof *e + len)) == NULL) {
		/* It stays in the durable outbox; a restart sends it. */
		return;
	}
	e->next = NULL;
	e->seq = seq;
	e->len = len;
	memcpy(e->data, data, len);
	if (p->tail) {
		p->tail->next = e;
	} else {
		p->head = e;
	}
	p->tail = e;
	p->nq++;
	atomic_fetch_add(&p->l->backlog, 1);
}

struct out_item {
	struct links *l;
	uint32_t peer;
	uint64_t seq;
	size_t len;
	unsigned char data[];
};

static void
deliver_out(void *arg)
{
	struct out_item *it = arg;
	struct peer *p;
	pthread_mutex_lock(&it->l->mu);
	p = find_peer_locked(it->l, NULL, it->peer);
	pthread_mutex_unlock(&it->l->mu);
	if (p != NULL) {
		append_entry(p, it->seq, it->data, it->len);
		kick(p);
	}
	free(it);
}

void
links_on_outbox(
    void *arg, uint32_t peer, uint64_t seq, const void *data, size_t len)
{
	struct links *l = arg;
	struct out_item *it = malloc(sizeof *it + len);
	if (it == NULL) {
		return; /* durable: sent after a restart */
	}
	it->l = l;
	it->peer = peer;
	it->seq = seq;
	it->len = len;
	memcpy(it->data, data, len);
	if (loop_post(node_loop(l->n), deliver_out, it) != 0) {
		free(it);
	}
}

struct restore {
	struct links *l;
};

static int
restore_one(void *arg, ledge_bytes key, ledge_bytes val)
{
	struct restore *r = arg;
	struct peer *p;
	if (key.len != 12) {
		return 0;
	}
	pthread_mutex_lock(&r->l->mu);
	p = find_peer_locked(r->l, NULL, store_rd32(key.data));
	pthread_mutex_unlock(&r->l->mu);
	if (p != NULL) {
		append_entry(p, store_rd64((const unsigned char *)key.data + 4),
		    val.data, val.len);
	}
	return 0;
}

void
links_restore(struct links *l)
{
	struct restore r = { l };
	store_scan(node_store(l->n), STORE_OUTBOX, restore_one, &r);
	pthread_mutex_lock(&l->mu);
	for (struct peer *p = l->peers; p != NULL; p = p->next) {
		/* What is left in the outbox is all unacknowledged. */
		if (p->head != NULL) {
			p->acked = p->head->seq - 1;
		}
	}
	pthread_mutex_unlock(&l->mu);
}

static void
schedule_retry(struct peer *p)
{
	loop_timer_start(p->retry, p->backoff_ms);
	p->backoff_ms =
	    p->backoff_ms * 2 > RETRY_MAX_MS ? RETRY_MAX_MS : p->backoff_ms * 2;
}

static void
on_retry(void *arg)
{
	kick(arg);
}

/* Delete acknowledged entries from the durable outbox and the queue. */
static void
drop_acked(struct peer *p, uint64_t acked)
{
	struct commit_rec *rec = NULL;
	while (p->head != NULL && p->head->seq <= acked) {
		struct out_entry *e = p->head;
		unsigned char key[12];
		store_be32(key, p->id);
		store_be64(key + 4, e->seq);
		if (rec == NULL) {
			rec = commit_rec_new();
		}
		if (rec != NULL) {
			commit_rec_del(rec, STORE_OUTBOX, key, sizeof key);
		}
		p->head = e->next;
		if (p->head == NULL) {
			p->tail = NULL;
		}
		p->nq--;
		atomic_fetch_sub(&p->l->backlog, 1);
		free(e);
	}
	if (rec != NULL) {
		commit_submit(node_commit(p->l->n), rec);
	}
	if (acked > p->acked) {
		p->acked = acked;
	}
}

static void
on_ack(void *arg, int err, const void *data, size_t len)
{
	struct peer *p = arg;
	struct wire_r r;
	p->inflight = false;
	if (err != MSG_OK || wire_parse(&r, data, len) != 0) {
		schedule_retry(p);
		return;
	}
	wire_v root = wire_root(&r);
	if (!wire_as_bool(wire_get(root, "ok"), false)) {
		if (!p->fenced_logged) {
			char *why = wire_str_dup(wire_get(root, "error"));
			rlog_write(node_log(p->l->n), RLOG_WARN, p->l->self,
			    "link to %s refused: %s", p->name,
			    why ? why : "no reason given");
			free(why);
			p->fenced_logged = true;
		}
		wire_r_fini(&r);
		schedule_retry(p);
		return;
	}
	p->fenced_logged = false;
	uint64_t acked = wire_as_u64(wire_get(root, "acked"), 0);
	bool progress = p->head == NULL || acked >= p->head->seq;
	bool unknown = wire_str_eq(wire_get(root, "code"), "unknown-target");
	{
		uint64_t us = clock_mono_us() - p->sent_us;
		pthread_mutex_lock(&p->l->mu);
		p->rtt_us = p->rtt_us ? (p->rtt_us * 7 + us) / 8 : us;
		pthread_mutex_unlock(&p->l->mu);
	}
	drop_acked(p, acked);
	wire_r_fini(&r);
	if (!progress) {
		/* The peer took none of the batch: its target is not
		 * deployed there (yet, e.g. during a move; or any more: then
		 * this node may know where it runs now).  Try again soon. */
		if (unknown && links_readdress(p->l, p->name, false) > 0) {
			kick(p);
			return;
		}
		loop_timer_start(p->retry, RETRY_NOT_YET_MS);
		return;
	}
	p->backoff_ms = RETRY_MIN_MS;
	kick(p);
}

static void
kick(struct peer *p)
{
	struct wire_w w;
	size_t n = 0, bytes = 0, len;
	const void *data;

	if (p->inflight || p->client == NULL || p->head == NULL) {
		return;
	}
	for (struct out_entry *e = p->head;
	     e != NULL && n < BATCH_MAX && bytes < BATCH_BYTES; e = e->next) {
		n++;
		bytes += e->len;
	}
	if (wire_w_init(&w) != 0) {
		schedule_retry(p);
		return;
	}
	wire_map(&w, 7);
	wire_str(&w, "t");
	wire_str(&w, "ev");
	wire_str(&w, "from");
	wire_str(&w, p->l->self);
	wire_str(&w, "inc");
	wire_u64(&w, p->l->inc);
	wire_str(&w, "epoch");
	wire_u64(&w, atomic_load(&p->l->epoch));
	wire_str(&w, "seq");
	wire_u64(&w, p->head->seq);
	wire_str(&w, "n");
	wire_u64(&w, n);
	wire_str(&w, "events");
	wire_array(&w, n);
	size_t k = 0;
	for (struct out_entry *e = p->head; e != NULL && k < n;
	     e = e->next, k++) {
		wire_bin(&w, e->data, e->len);
	}
	if ((data = wire_data(&w, &len)) == NULL) {
		wire_w_fini(&w);
		schedule_retry(p);
		return;
	}
	pthread_mutex_lock(&p->l->mu);
	p->batches++;
	if (p->head->seq <= p->sent_hi) {
		uint64_t last = p->head->seq + n - 1;
		p->retransmits +=
		    (last < p->sent_hi ? last : p->sent_hi) - p->head->seq + 1;
	}
	if (p->head->seq + n - 1 > p->sent_hi) {
		p->sent_hi = p->head->seq + n - 1;
	}
	pthread_mutex_unlock(&p->l->mu);
	p->sent_us = clock_mono_us();
	p->inflight = true;
	msg_call(p->client, data, len, ACK_TIMEOUT_MS, on_ack, p);
	wire_w_fini(&w);
}

/* ------------------------------------------------------------------ */
/* receiving                                                           */

static void
reply_simple(struct msg_req *req, bool ok, const char *code, const char *why,
    uint64_t acked, bool with_acked)
{
	struct wire_w w;
	const void *d;
	size_t n;
	if (wire_w_init(&w) != 0) {
		msg_reply(req, NULL, 0);
		return;
	}
	wire_map(&w, 1 + (code ? 1 : 0) + (why ? 1 : 0) + (with_acked ? 1 : 0));
	wire_str(&w, "ok");
	wire_bool(&w, ok);
	if (code) {
		wire_str(&w, "code");
		wire_str(&w, code);
	}
	if (why) {
		wire_str(&w, "error");
		wire_str(&w, why);
	}
	if (with_acked) {
		wire_str(&w, "acked");
		wire_u64(&w, acked);
	}
	d = wire_data(&w, &n);
	msg_reply(req, d, d ? n : 0);
	wire_w_fini(&w);
}

/* The sender's peer record, and whether its epoch is current. */
static bool
epoch_ok(struct links *l, const char *from, uint64_t epoch)
{
	struct peer *p;
	bool ok = true;
	pthread_mutex_lock(&l->mu);
	if ((p = find_peer_locked(l, from, 0)) == NULL) {
		pthread_mutex_unlock(&l->mu);
		links_peer(l, from);
		pthread_mutex_lock(&l->mu);
		p = find_peer_locked(l, from, 0);
	}
	if (p != NULL) {
		if (epoch < p->max_epoch) {
			ok = false;
		} else {
			p->max_epoch = epoch;
		}
	}
	pthread_mutex_unlock(&l->mu);
	return ok;
}

static struct in_state *
in_state(struct links *l, uint64_t inc)
{
	unsigned char key[8];
	struct in_state *s;
	store_be64(key, inc);
	if ((s = hmap_get(&l->in, key, 8)) == NULL &&
	    (s = calloc(1, sizeof *s)) != NULL) {
		char name[32];
		memcpy(s->key, key, 8);
		snprintf(name, sizeof name, "lin%016" PRIx64, inc);
		s->applied = store_meta_get_u64(node_store(l->n), name);
		if (hmap_put(&l->in, s->key, 8, s, NULL) != 0) {
			free(s);
			s = NULL;
		}
	}
	return s;
}

struct ack_wait {
	struct links *l;
	struct msg_req *req;
	uint64_t acked;
	char *unknown; /* the target of the first event not taken, if any */
};

static void
ack_on_loop(void *arg)
{
	struct ack_wait *a = arg;
	/* ok, with the watermark; and if an event was not taken because
	 * its target is not here, which one (the sender may know where it
	 * went: links_readdress). */
	reply_simple(a->req, true, a->unknown ? "unknown-target" : NULL,
	    a->unknown, a->acked, true);
	free(a->unknown);
	free(a);
}

/* Committer thread: the batch's record is durable. */
static void
ack_durable(void *arg, int err)
{
	struct ack_wait *a = arg;
	(void)err; /* on a failed commit the node exits; nothing to ack */
	loop_post(node_loop(a->l->n), ack_on_loop, a);
}

void
links_handle_ev(struct links *l, struct msg_req *req, wire_v msg)
{
	char *from = wire_str_dup(wire_get(msg, "from"));
	uint64_t inc = wire_as_u64(wire_get(msg, "inc"), 0);
	uint64_t epoch = wire_as_u64(wire_get(msg, "epoch"), 0);
	uint64_t seq = wire_as_u64(wire_get(msg, "seq"), 0);
	wire_v events = wire_get(msg, "events");
	struct in_state *st;
	struct commit_rec *rec;
	struct ack_wait *a;
	struct node_event *ready = NULL, **tail = &ready;
	size_t n = wire_len(events);
	char *unknown = NULL, *target_dup = NULL;

	if (from == NULL || inc == 0 || seq == 0 || !wire_is_array(events)) {
		reply_simple(
		    req, false, "invalid", "malformed event batch", 0, false);
		free(from);
		return;
	}
	if (!epoch_ok(l, from, epoch)) {
		reply_simple(req, false, "fenced",
		    "this node was declared lost; it must rejoin first", 0,
		    false);
		free(from);
		return;
	}
	free(from);
	if ((st = in_state(l, inc)) == NULL ||
	    (rec = commit_rec_new()) == NULL ||
	    (a = malloc(sizeof *a)) == NULL) {
		reply_simple(req, false, "busy", "out of memory", 0, false);
		return;
	}
	uint64_t next = st->applied + 1;
	if (st->applied == 0 && seq > 1) {
		/* Nothing from this sender was ever applied here, yet its
		 * stream starts later: the earlier events were acknowledged
		 * by an earlier store of this node (its data folder was
		 * replaced).  Start where the sender is. */
		next = seq;
	}
	for (size_t i = 0; i < n; i++) {
		uint64_t s = seq + i;
		const void *p;
		size_t len;
		char *target;
		struct node_event *ev;
		struct node_target *t;

		if (s < next) {
			continue; /* a resend of what is applied */
		}
		if (s > next || !wire_as_bin(wire_at(events, i), &p, &len)) {
			break;
		}
		if (len == 2 && ((const unsigned char *)p)[0] == 0 &&
		    ((const unsigned char *)p)[1] == 0) {
			next++; /* withdrawn by the sender (links_readdress) */
			continue;
		}
		if (len > 2 && ((const unsigned char *)p)[2] == REPL_MARK) {
			if (apply_repl(l, rec, p, len) != 0) {
				break;
			}
			next++;
			continue;
		}
		if (link_entry_decode(p, len, &target, &ev) != 0) {
			break;
		}
		t = node_find_target(l->n, target);
		free(target_dup);
		target_dup = t == NULL ? target : NULL;
		if (t != NULL) {
			free(target);
		}
		if (t != NULL && t->kind == NT_REMOTE) {
			/* It moved on: forward it, in this same commit. */
			node_event_free(ev);
			if (commit_rec_outbox(rec, t->rem->peer, p, len) !=
			    LEDGE_OK) {
				break;
			}
			atomic_fetch_add(&l->forwarded, 1);
			next++;
			continue;
		}
		if (t == NULL) {
			/* Not deployed here (yet, or any more): stop; the
			 * sender resends, or sends it where it runs now. */
			unknown = target_dup;
			target_dup = NULL;
			node_event_free(ev);
			break;
		}
		if (enqueue_durable(l->n, rec, t, ev) != LEDGE_OK) {
			node_event_free(ev);
			break;
		}
		*tail = ev;
		tail = &ev->next;
		next++;
	}
	if (next - 1 > st->applied) {
		char name[32];
		snprintf(name, sizeof name, "lin%016" PRIx64, inc);
		unsigned char vb[8];
		store_be64(vb, next - 1);
		commit_rec_put(rec, STORE_META, name, strlen(name), vb, 8);
		st->applied = next - 1;
	}
	/* Acknowledged once durable - also for a batch that was all resent
	 * events: the record is then empty and completes after whatever
	 * earlier record applied them. */
	free(target_dup);
	a->l = l;
	a->req = req;
	a->acked = st->applied;
	a->unknown = unknown;
	rec->done = ack_durable;
	rec->arg = a;
	commit_submit(node_commit(l->n), rec);
	while (ready != NULL) {
		struct node_event *ev = ready;
		ready = ev->next;
		ev->next = NULL;
		node_send(l->n, ev->to, ev);
	}
}

/* --- re-addressing ------------------------------------------------- */

size_t
links_readdress(struct links *l, const char *lost, bool is_lost)
{
	struct peer *p;
	struct commit_rec *rec;
	struct node_event *ready = NULL, **tail = &ready;
	size_t moved = 0, dropped = 0;
	static const unsigned char nop[2] = { 0, 0 };

	pthread_mutex_lock(&l->mu);
	p = find_peer_locked(l, lost, 0);
	pthread_mutex_unlock(&l->mu);
	if (p == NULL || p->head == NULL || (rec = commit_rec_new()) == NULL) {
		return 0;
	}
	for (struct out_entry *e = p->head; e != NULL; e = e->next) {
		size_t n;
		char *target;
		struct node_event *ev;
		struct node_target *t;
		unsigned char key[12];
		int rv = LEDGE_OK;

		if (e->len <= 2) {
			continue; /* withdrawn before */
		}
		n = (size_t)e->data[0] << 8 | e->data[1];
		if (n + 2 > e->len) {
			continue;
		}
		if (e->data[2] == REPL_MARK) {
			if (!is_lost) {
				continue; /* it applies them */
			}
			/* A lost replica: the new one starts from a snapshot.
			 */
			dropped++;
		} else {
			if (link_entry_decode(e->data, e->len, &target, &ev) !=
			    0) {
				continue;
			}
			t = node_find_target(l->n, target);
			free(target);
			if (t != NULL && t->kind == NT_REMOTE &&
			    t->rem->peer != p->id) {
				node_event_free(ev);
				rv = commit_rec_outbox(
				    rec, t->rem->peer, e->data, e->len);
			} else if (t != NULL && t->kind != NT_REMOTE) {
				/* It runs here now. */
				rv = enqueue_durable(l->n, rec, t, ev);
				if (rv != LEDGE_OK) {
					node_event_free(ev);
				} else {
					*tail = ev;
					tail = &ev->next;
				}
			} else {
				node_event_free(ev);
				continue; /* still meant for that node */
			}
			if (rv != LEDGE_OK) {
				break;
			}
			moved++;
		}
		/* A tombstone keeps the numbering of the link without gaps. */
		store_be32(key, p->id);
		store_be64(key + 4, e->seq);
		if (commit_rec_put(rec, STORE_OUTBOX, key, sizeof key, nop,
		        2) != LEDGE_OK) {
			break;
		}
		e->len = 2;
		e->data[0] = e->data[1] = 0;
	}
	if (commit_rec_empty(rec)) {
		commit_rec_free(rec);
		return 0;
	}
	commit_submit(node_commit(l->n), rec);
	while (ready != NULL) {
		struct node_event *ev = ready;
		ready = ev->next;
		ev->next = NULL;
		node_send(l->n, ev->to, ev);
	}
	if (moved > 0) {
		rlog_write(node_log(l->n), RLOG_INFO, l->self,
		    "%zu events waiting for node %s go to where their targets "
		    "run now",
		    moved, lost);
	}
	return moved + dropped;
}

/* --- calls ---------------------------------------------------------- */

struct call_in {
	struct links *l;
	struct msg_req *req;
	struct node_call *call;
};

static void
reply_call_on_loop(void *arg)
{
	struct call_in *ci = arg;
	struct node_reply *r = &ci->call->reply;
	struct wire_w w;
	const void *d;
	size_t n;

	if (wire_w_init(&w) == 0) {
		wire_map(&w, 6);
		wire_str(&w, "ok");
		wire_bool(&w, true);
		wire_str(&w, "err");
		wire_u64(&w, (uint64_t)r->err);
		wire_str(&w, "reply");
		wire_bin(&w, r->body ? (const void *)r->body : "", r->len);
		wire_str(&w, "status");
		wire_u64(&w, (uint64_t)r->status);
		wire_str(&w, "ctype");
		wire_str(&w, r->content_type);
		wire_str(&w, "headers");
		wire_array(&w, r->nheaders);
		for (size_t i = 0; i < r->nheaders; i++) {
			wire_array(&w, 2);
			wire_str(&w, r->headers[i].name);
			wire_str(&w, r->headers[i].value);
		}
		d = wire_data(&w, &n);
		msg_reply(ci->req, d, d ? n : 0);
		wire_w_fini(&w);
	} else {
		msg_reply(ci->req, NULL, 0);
	}
	node_call_unref(ci->call);
	free(ci);
}

static void
call_done(struct node_call *call, void *arg)
{
	struct call_in *ci = arg;
	(void)call;
	if (loop_on_thread(node_loop(ci->l->n))) {
		reply_call_on_loop(ci);
	} else {
		loop_post(node_loop(ci->l->n), reply_call_on_loop, ci);
	}
}

void
links_handle_call(struct links *l, struct msg_req *req, wire_v msg)
{
	char *from = wire_str_dup(wire_get(msg, "from"));
	uint64_t epoch = wire_as_u64(wire_get(msg, "epoch"), 0);
	const void *p;
	size_t len;
	char *target = NULL;
	struct node_event *ev = NULL;
	struct node_target *t;
	struct call_in *ci;

	if (from == NULL || !wire_as_bin(wire_get(msg, "event"), &p, &len) ||
	    link_entry_decode(p, len, &target, &ev) != 0) {
		free(from);
		reply_simple(req, false, "invalid", "malformed call", 0, false);
		return;
	}
	if (!epoch_ok(l, from, epoch)) {
		free(from);
		free(target);
		node_event_free(ev);
		reply_simple(req, false, "fenced",
		    "this node was declared lost; it must rejoin first", 0,
		    false);
		return;
	}
	free(from);
	t = node_find_target(l->n, target);
	free(target);
	if (t == NULL || t->kind == NT_REMOTE ||
	    (ci = calloc(1, sizeof *ci)) == NULL) {
		node_event_free(ev);
		reply_simple(req, false, "not-found",
		    "no such part on this node", 0, false);
		return;
	}
	ci->l = l;
	ci->req = req;
	/* The reply leaves this node once its effects are durable here. */
	if ((ci->call = node_call_new(true, call_done, ci)) == NULL) {
		free(ci);
		node_event_free(ev);
		reply_simple(req, false, "busy", "out of memory", 0, false);
		return;
	}
	if (node_admit(t) != LEDGE_OK) {
		node_call_unref(ci->call);
		node_call_fail(ci->call, LEDGE_EFULL);
		node_event_free(ev);
		return;
	}
	node_admitted(t, ev);
	ev->kind = NE_CALL;
	ev->flags &= (uint8_t)~NEF_DURABLE;
	ev->call = ci->call; /* the event's reference */
	node_send_inline(l->n, t, ev);
}

struct call_out {
	struct links *l;
	struct node_event *ev;
	char target[256], peer[128];
};

static void
on_call_reply(void *arg, int err, const void *data, size_t len)
{
	struct call_out *co = arg;
	struct node_reply r;
	struct wire_r rd;

	memset(&r, 0, sizeof r);
	if (err != MSG_OK) {
		r.err = err == MSG_ETIMEDOUT ? LEDGE_ETIMEDOUT : LEDGE_ECONN;
		rlog_write(node_log(co->l->n), RLOG_WARN, co->l->self,
		    "call to %s on node %s failed: %s", co->target, co->peer,
		    err == MSG_ETIMEDOUT
		        ? "no answer in time (is the link down?)"
		        : "the node cannot be reached");
	} else if (wire_parse(&rd, data, len) != 0) {
		r.err = LEDGE_EPROTO;
	} else {
		wire_v root = wire_root(&rd);
		if (!wire_as_bool(wire_get(root, "ok"), false)) {
			r.err = wire_str_eq(wire_get(root, "code"), "not-found")
			    ? LEDGE_ENOENT
			    : LEDGE_ECONN;
		} else {
			const void *b;
			size_t bn;
			wire_v hs = wire_get(root, "headers");
			r.err = (int)wire_as_u64(
			    wire_get(root, "err"), LEDGE_EPROTO);
			r.status =
			    (int)wire_as_u64(wire_get(root, "status"), 0);
			r.content_type = wire_str_dup(wire_get(root, "ctype"));
			if (wire_as_bin(wire_get(root, "reply"), &b, &bn) &&
			    bn > 0 && (r.body = malloc(bn)) != NULL) {
				memcpy(r.body, b, bn);
				r.len = bn;
			}
			if (wire_len(hs) > 0 &&
			    (r.headers = calloc(
			         wire_len(hs), sizeof *r.headers)) != NULL) {
				for (size_t i = 0; i < wire_len(hs); i++) {
					wire_v h = wire_at(hs, i);
					r.headers[i].name =
					    wire_str_dup(wire_at(h, 0));
					r.headers[i].value =
					    wire_str_dup(wire_at(h, 1));
					r.nheaders = i + 1;
					if (!r.headers[i].name ||
					    !r.headers[i].value) {
						break;
					}
				}
			}
		}
		wire_r_fini(&rd);
	}
	if (co->ev->call != NULL) {
		node_call_complete(co->ev->call, &r);
		node_call_unref(co->ev->call);
		co->ev->call = NULL;
	} else {
		node_reply_free(&r);
	}
	node_event_free(co->ev);
	free(co);
}

void
links_call(struct links *l, const char *peer, const char *target,
    struct node_event *ev, uint32_t timeout_ms)
{
	struct peer *p;
	struct msg_client *c = NULL;
	struct call_out *co;
	struct wire_w w;
	unsigned char *entry;
	size_t elen, len;
	const void *data;

	pthread_mutex_lock(&l->mu);
	if ((p = find_peer_locked(l, peer, 0)) != NULL) {
		c = p->client;
	}
	pthread_mutex_unlock(&l->mu);
	elen = link_entry_size(target, ev);
	if (c == NULL || (co = malloc(sizeof *co)) == NULL ||
	    (entry = malloc(elen)) == NULL || wire_w_init(&w) != 0) {
		if (ev->call != NULL) {
			node_call_fail(
			    ev->call, c == NULL ? LEDGE_ECONN : LEDGE_ENOMEM);
		}
		node_event_free(ev);
		return;
	}
	link_entry_encode(entry, target, ev);
	wire_map(&w, 5);
	wire_str(&w, "t");
	wire_str(&w, "call");
	wire_str(&w, "from");
	wire_str(&w, l->self);
	wire_str(&w, "epoch");
	wire_u64(&w, atomic_load(&l->epoch));
	wire_str(&w, "timeout_ms");
	wire_u64(&w, timeout_ms);
	wire_str(&w, "event");
	wire_bin(&w, entry, elen);
	free(entry);
	co->l = l;
	co->ev = ev;
	snprintf(co->target, sizeof co->target, "%s", target);
	snprintf(co->peer, sizeof co->peer, "%s", peer);
	if ((data = wire_data(&w, &len)) == NULL) {
		wire_w_fini(&w);
		on_call_reply(co, MSG_ENOMEM, NULL, 0);
		return;
	}
	msg_call(c, data, len, timeout_ms, on_call_reply, co);
	wire_w_fini(&w);
}
