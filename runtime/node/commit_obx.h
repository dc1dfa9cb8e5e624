/*
 * commit_obx.h - the committer's outbox numbering (commit.h): per peer,
 * numbers in commit order within this process's block, the gap entry
 * before a process's first entry to a peer, and handing entries to the
 * outbox hook in order - ahead of their commit (replication entries of
 * a batch that holds nothing else for the links) or once durable.
 *
 * Not a public header: only commit.c uses it.  Everything runs on the
 * committer thread.
 */
#ifndef LEDGE_NODE_COMMIT_OBX_H
#define LEDGE_NODE_COMMIT_OBX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/hmap.h"

struct commit_rec;
struct store;
struct store_batch;

/* The numbers each process may use, from its floor up: a block no
 * process fills. */
#define OBX_BLOCK ((uint64_t)1 << 40)

struct commit_obx {
	struct store *store;
	struct hmap peers; /* peer (4 bytes) -> struct obx_peer */
	uint64_t floor;    /* this process's block (0: the first ever) */
	void (*hook)(void *, uint32_t, uint64_t, const void *, size_t);
	void *hook_arg;
};

/* Numbering on `store` from `floor` (0: the first process ever on it,
 * which needs no gap entries). */
void obx_init(struct commit_obx *x, struct store *store, uint64_t floor);
void obx_fini(struct commit_obx *x);

/*
 * Number the outbox operation whose 12-byte key (peer, then 8 bytes for
 * the number) is `key` and put it in b: after this process's gap entry
 * if it is the first for that peer.  LEDGE_OK, LEDGE_ENOMEM or the
 * store's error.
 */
int obx_number(struct commit_obx *x, struct store_batch *b, unsigned char *key,
    const void *val, size_t vlen);

/* The last numbers of the peers the batch touched, into meta. */
int obx_save(struct commit_obx *x, struct store_batch *b);

/* Keep the numbers before a record that may be undone (SAVE), take back
 * what it took (RESTORE), or settle once the batch is committed or given
 * up (SETTLE: back to the base if it was not committed). */
enum obx_mark { OBX_SAVE, OBX_RESTORE, OBX_SETTLE };
void obx_mark(struct commit_obx *x, enum obx_mark how, bool committed);

/*
 * Before the commit of an applied batch: hand its synchronous
 * replication entries to the hook if every outbox entry of the batch is
 * one, of a record marked repl_whole, each peer's follow what was handed
 * before, and the store and its disk have room for the commit
 * (store_has_room).  Returns how many went.
 */
uint64_t obx_hand_early(struct commit_obx *x, const struct commit_rec *batch);

/* Hand the outbox entries of durable records, in order, but those that
 * went ahead. */
void obx_hand(struct commit_obx *x, const struct commit_rec *list);

#endif
