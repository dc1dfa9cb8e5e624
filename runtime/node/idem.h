/*
 * idem.h - stored answers for requests that carry an Idempotency-Key.
 *
 * When an HTTP request with an Idempotency-Key header is accepted, its
 * answer is committed in the same transaction as the handler's effects
 * (by the host for calls, by http-ingress for casts).  A retry with the
 * same key then gets the stored answer instead of running again: a client
 * that lost a response (a crash, a dropped connection) can retry until it
 * gets one and the effect still happens exactly once.
 *
 * Entries live in STORE_IDEM under (route id, key) and are indexed by
 * expiry time in STORE_IDEMTIME for pruning.  The route is the
 * http-ingress resource for requests that came in on this node, and the
 * called part's own target id for calls from another node: those are
 * replicated with the part's state (node/replica.h), so a retry after a
 * failover finds the answer on the part's new node.
 */
#ifndef LEDGE_NODE_IDEM_H
#define LEDGE_NODE_IDEM_H

#include <stddef.h>
#include <stdint.h>

#include <ledge.h>

struct commit_rec;
struct store_reader;

/* Longest Idempotency-Key accepted (longer ones get 400). */
#define IDEM_HEADER_MAX 200

/* Longest key stored: a header's, with a key instance's suffix
 * (idem_key_for). */
#define IDEM_MAX_KEY (IDEM_HEADER_MAX + 33)

struct idem_answer {
	uint64_t expires_ms; /* wall clock */
	int status;
	const char *ctype; /* idem_add: a C string or NULL; idem_get:
	                      ctype_len bytes, not NUL-terminated */
	size_t ctype_len;  /* set by idem_get */
	const void *body;
	size_t len;
};

/*
 * The key under which the answer to Idempotency-Key `key` (at most
 * IDEM_HEADER_MAX) sent to the instance of key `inst` (inst_len bytes)
 * of a keyed function is kept: `key`, a 0x1f, and 32 hex digits of the
 * SHA-256 of the instance key.  Written to out (IDEM_MAX_KEY + 1
 * bytes); returns out.
 */
char *idem_key_for(
    char *out, const char *key, const void *inst, size_t inst_len);

/*
 * Add the entry and its expiry index to a record.
 * Returns LEDGE_OK, LEDGE_EINVAL (empty key or one over IDEM_MAX_KEY, a
 * content type over 65535 bytes) or LEDGE_ENOMEM.
 */
int idem_add(struct commit_rec *rec, uint32_t route, const char *key,
    const struct idem_answer *a);

/*
 * Look an answer up in a reader's snapshot.  Pointers in *a are valid
 * until the snapshot ends.  Returns LEDGE_OK, LEDGE_ENOENT (also for an
 * expired entry) or LEDGE_EPROTO (a corrupt entry).
 */
int idem_get(struct store_reader *r, uint32_t route, const char *key,
    uint64_t now_ms, struct idem_answer *a);

/*
 * Add deletes of up to `max` entries that expired before now_ms to rec,
 * reading the index from the reader's snapshot.  An answer stored again
 * under the same key with a later expiry is kept.  Returns how many.
 */
size_t idem_prune(struct store_reader *r, struct commit_rec *rec,
    uint64_t now_ms, size_t max);

/* How often a node prunes expired answers (idem_pruner). */
#define IDEM_PRUNE_MS 60000

/*
 * A node's pruning of expired answers: every IDEM_PRUNE_MS on loop l, up
 * to 1000 at a time, read from `store` and deleted through committer
 * `commit` (all borrowed; they outlive the pruner).  Every node prunes,
 * also one without http-ingress: calls from other nodes and replicated
 * parts keep answers too.  LEDGE_OK or LEDGE_ENOMEM.  Loop thread.
 */
struct idem_pruner;
struct loop;
struct store;
struct commit;
int idem_pruner_new(struct idem_pruner **pp, struct loop *l,
    struct store *store, struct commit *commit);
void idem_pruner_free(struct idem_pruner *p);

#endif
