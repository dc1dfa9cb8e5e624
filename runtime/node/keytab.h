/*
 * keytab.h - a keyed part's table of key instances: key bytes to the
 * instance, open addressing with one pointer per slot.
 *
 * The key lives in the instance (k->key, k->klen), so a slot is 8 bytes
 * where a general map's is 32: with a million keys in memory that is the
 * difference between 16 and 64 bytes a key.  Linear probing, deletion by
 * shifting back (no tombstones), at most three quarters full.
 *
 * Not thread-safe: its part's mutex (keyed.c) guards it.
 */
#ifndef LEDGE_NODE_KEYTAB_H
#define LEDGE_NODE_KEYTAB_H

#include <stddef.h>

struct node_instance;

struct keytab {
	struct node_instance **slots; /* NULL: empty */
	size_t cap;                   /* a power of two, or 0 */
	size_t count;
};

void keytab_init(struct keytab *t);

/* Free the table (not the instances). */
void keytab_fini(struct keytab *t);

/* The instance of key `key` (klen bytes), or NULL. */
struct node_instance *keytab_get(
    const struct keytab *t, const void *key, size_t klen);

/* Add k under k->key, which is not in the table.  LEDGE_OK or
 * LEDGE_ENOMEM (the table is unchanged then). */
int keytab_put(struct keytab *t, struct node_instance *k);

/* Remove k (in the table). */
void keytab_del(struct keytab *t, struct node_instance *k);

/* A smaller table when few keys are left (none when empty); out of
 * memory leaves it as it was. */
void keytab_shrink(struct keytab *t);

#endif
