/*
 * node_event.h - events: bytes plus metadata, the unit that moves between
 * the outside world, resources and function instances.
 *
 * An event is owned by exactly one holder at a time (a mailbox, a worker,
 * a resource); passing it on passes ownership.  Durable events (emitted
 * by a committed handler, or an accepted HTTP cast) have a queue id and
 * sit in the store until the handler that consumes them commits; their
 * encoded form is what is stored, and what a restarted node replays.
 */
#ifndef LEDGE_NODE_NODE_EVENT_H
#define LEDGE_NODE_NODE_EVENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <ledge.h>

enum node_event_kind {
	NE_CAST = 1,
	NE_CALL = 2,
	/* control events, handled at an event boundary of an instance */
	NE_INIT = 16,
	NE_RELOAD = 17,
	NE_STOP = 18,
};

enum node_event_flags {
	NEF_DURABLE = 1,  /* has a queue id; consumption must be committed */
	NEF_RESERVED = 2, /* holds a mailbox slot reserved at emit time */
	NEF_HTTPIN = 4,   /* an HTTP request from http-ingress; `source` is
	                     the ingress resource (its route) */
	NEF_LINKED = 8    /* a call from another node (links.h): its
	                     Idempotency-Key answer is kept per target */
};

/* Flags that are part of the durable form. */
#define NEF_STORED (NEF_DURABLE | NEF_HTTPIN)

/* HTTP metadata of an event (a request in, or a request out). */
struct node_http {
	char *method;
	char *path;  /* decoded path of an incoming request */
	char *query; /* raw query string, "" if none */
	char *url;   /* target of an outgoing request */
	size_t nheaders;
	ledge_header *headers;
	uint32_t timeout_ms; /* outgoing: 0 = resource default */
	uint32_t idem_ttl_s; /* incoming: keep an Idempotency-Key answer */
	                     /* all strings live in this one allocation */
};

struct node_call;

struct node_event {
	struct node_event *next; /* link while in a mailbox or list */
	uint8_t kind;
	uint8_t flags;
	uint32_t target;        /* target id */
	uint32_t source;        /* sender's target id, 0 = outside */
	uint64_t qid;           /* queue id when NEF_DURABLE */
	uint64_t dep;           /* commit seq this event depends on */
	uint64_t due_ms;        /* wall clock ms for delayed casts, 0 = now */
	uint64_t enq_us;        /* monotonic time it entered the mailbox */
	struct node_http *http; /* owned, may be NULL */
	struct node_call *call; /* one reference, for NE_CALL */
	void *ctl;              /* control payload (NE_RELOAD: new code) */
	struct node_target *to; /* destination while being routed */
	unsigned char *key;     /* owned: a keyed target's key, or NULL */
	uint16_t klen;          /* 1..LEDGE_KEY_MAX when key is set */
	size_t len;
	unsigned char data[]; /* payload */
};

/* Largest payload an event may carry. */
#define NODE_EVENT_MAX (16u << 20)

/*
 * A new event with a copy of `len` bytes of `data`; with data NULL the
 * payload is left for the caller to fill.  NULL when out of memory or
 * when len exceeds NODE_EVENT_MAX.
 */
struct node_event *node_event_new(
    uint8_t kind, uint32_t target, const void *data, size_t len);

/*
 * Give ev a copy of `key` (1..LEDGE_KEY_MAX bytes), replacing any it had.
 * LEDGE_OK, LEDGE_EINVAL (a length out of range), LEDGE_ENOMEM.
 */
int node_event_set_key(struct node_event *ev, const void *key, size_t klen);

/*
 * Free an event and what it owns (its HTTP metadata, its key, the code
 * reference of a reload that did not run; a pending call is failed with
 * LEDGE_ECLOSED first, so a waiter never hangs).
 */
void node_event_free(struct node_event *ev);

/*
 * Build HTTP metadata from parts (copied).  headers may be NULL when
 * nheaders is 0.  Any string may be NULL (stored as "").
 */
struct node_http *node_http_new(const char *method, const char *path,
    const char *query, const char *url, const ledge_header *headers,
    size_t nheaders);
struct node_http *node_http_dup(const struct node_http *h);
void node_http_free(struct node_http *h);

/* Case-insensitive header lookup; NULL if absent. */
const char *node_http_header(const struct node_http *h, const char *name);

/*
 * Durable encoding of an event (kind, flags, target, source, due time,
 * HTTP metadata, payload, key).  node_event_encoded_size gives the exact size
 * node_event_encode writes.
 */
size_t node_event_encoded_size(const struct node_event *ev);
void node_event_encode(const struct node_event *ev, unsigned char *out);

/*
 * Decode a stored event.  Strict: any truncation, overrun or unknown
 * version gives NULL (and never reads outside [data, data+len)).
 */
struct node_event *node_event_decode(const void *data, size_t len);

#endif
