/*
 * link_int.h - what the files of the links (links.h) share: the peer
 * record, the links themselves, and the few functions one file offers
 * the ones above it.
 *
 * The files, from the bottom up (each calls only the ones before it;
 * the outbox entry's encoding is node/link_entry.c, below them all):
 *   link_send.c   the outgoing queue per peer: sending in batches,
 *                 acknowledgements, retransmission, re-addressing;
 *   links.c       the table of peers, their ids, urls and epochs
 *                 (fencing), statistics, creation and teardown;
 *   link_recv.c   incoming batches: the watermark per sender
 *                 incarnation, forwarding; replication entries go to
 *                 replica.c (replica.h), which calls none of these;
 *   link_call.c   remote calls, both ends.
 *
 * Not a public header: only runtime/node/link*.c include it.
 */
#ifndef LEDGE_NODE_LINK_INT_H
#define LEDGE_NODE_LINK_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "base/hmap.h"
#include "net/msg.h"
#include "node/links.h"
#include "platform/loop.h"

/* Entries per batch, and bytes (roughly). */
#define BATCH_MAX   256
#define BATCH_BYTES (4u << 20)
/* Time a batch may wait for its acknowledgement before it is resent. */
#define ACK_TIMEOUT_MS   5000
#define RETRY_MIN_MS     50
#define RETRY_MAX_MS     2000
#define RETRY_NOT_YET_MS 50
/* Batches a peer may have in flight at once, and their bytes (a first
 * batch is always allowed).  More than one: while the peer commits a
 * batch, the next is on its way, and its commit makes the one before
 * durable (commit.c's held batches), so one link carries more than one
 * batch per round trip and fsync. */
#define LINK_INFLIGHT       2
#define LINK_INFLIGHT_BYTES BATCH_BYTES

struct out_entry {
	struct out_entry *next;
	uint64_t seq;
	size_t len;
	unsigned char data[];
};

/* A batch sent to a peer, waiting for its acknowledgement (link_send.c);
 * the argument of its msg_call. */
struct batch_out {
	struct batch_out *next;
	struct peer *p;       /* NULL: orphaned (the client was replaced, or the
	                         links freed): its answer is ignored */
	uint64_t first, last; /* the sequence numbers it carries */
	size_t bytes;
	uint64_t sent_us;
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
	/* Batches in flight, in the order sent, and the first entry not
	 * sent yet (NULL: all are).  Once a batch is not taken whole (an
	 * error, a refusal, a gap), the link is stalled: nothing more is
	 * sent until every batch in flight has answered, then sending
	 * starts again from the first entry not acknowledged. */
	struct batch_out *sent;
	unsigned inflight;
	size_t inflight_bytes;
	struct out_entry *unsent;
	bool stalled;
	bool stall_failed;     /* an answer of the stall was an error */
	bool stall_progressed; /* one acknowledged something */
	bool stall_unknown;    /* one named a target not deployed there */
	uint64_t stall_ahead;  /* lowest first seq of a batch that arrived
	                          before the one ahead of it, or 0 */
	struct loop_timer *retry;
	uint32_t backoff_ms;
	bool fenced_logged;
	/* statistics (loop thread; read under mu for metrics) */
	uint64_t sent_hi; /* highest seq sent so far */
	uint64_t batches, retransmits, rtt_us;
	bool lagging; /* a replica the commit gate does not wait for (mu) */
	/* incoming */
	uint64_t max_epoch;
	/* Declared lost by the orchestrator (under mu): calls to it fail at
	 * once with LEDGE_EUNAVAIL (link_call.c). */
	bool lost;
};

/* A call sent to a peer, waiting for its reply (link_call.c). */
struct call_out;

struct links {
	struct links_env env;
	char *self;
	uint64_t inc;
	_Atomic uint64_t epoch;
	struct msg_tls tls;
	bool have_tls;
	pthread_mutex_t mu; /* peers list (links_call runs on workers) */
	struct peer *peers;
	uint32_t next_peer_id;
	struct call_out *calls; /* calls waiting for a reply, under mu */
	struct hmap in;         /* loop thread */
	struct hmap flights;    /* calls with a key running here (link_call.c),
	                           loop thread */
	_Atomic size_t backlog;
	_Atomic uint64_t forwarded;
	struct replica *rep; /* state replication (replica.h), owned */
	/* who confirms a replica's drop (links_set_arbiter; loop thread),
	 * and the drops the gate wants confirmed (under mu) */
	void (*arbiter)(void *, const char *, uint64_t);
	void *arbiter_arg;
	bool arbitrated;
	struct drop_wanted *drops;
	bool drops_posted;
};

/* A replica the gate wants to stop waiting for (links.c). */
struct drop_wanted {
	struct drop_wanted *next;
	char peer[128];
	uint64_t gen;
};

/* The peer named `name`, or (name NULL) with id `id`; NULL if none.
 * Under l->mu. */
static inline struct peer *
link_find_peer_locked(struct links *l, const char *name, uint32_t id)
{
	for (struct peer *p = l->peers; p != NULL; p = p->next) {
		if ((name && strcmp(p->name, name) == 0) ||
		    (!name && p->id == id)) {
			return p;
		}
	}
	return NULL;
}

/* link_send.c: send what p's queue holds (up to LINK_INFLIGHT batches in
 * flight), if it can.  Loop thread. */
void link_send_kick(struct peer *p);

/* link_send.c: forget p's batches in flight (their answers, if they come,
 * are ignored) and send again from the first entry not acknowledged, on
 * the next kick: when its client is replaced or freed.  Loop thread. */
void link_send_orphan(struct peer *p);

/* link_send.c: the callback of a peer's retry timer (arg: the peer). */
void link_send_on_retry(void *arg);

/* links.c: whether a request from node `from` sent at `epoch` may be
 * taken (not below the newest epoch seen from it, nor below its fence);
 * raises the newest seen.  Any thread. */
bool links_epoch_ok(struct links *l, const char *from, uint64_t epoch);

#endif
