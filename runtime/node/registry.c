/*
 * registry.c - persistent ids of target names and queue ids of durable
 * events (registry.h).
 */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "node/commit.h"
#include "node/node_impl.h"
#include "node/registry.h"
#include "store/store.h"

uint64_t
node_next_qid(struct node *n)
{
	return atomic_fetch_add(&n->next_qid, 1);
}

void
node_qid_above(struct node *n, uint64_t qid)
{
	uint64_t cur = atomic_load(&n->next_qid);
	while (cur <= qid &&
	    !atomic_compare_exchange_weak(&n->next_qid, &cur, qid + 1)) { }
}

struct reg_entry {
	uint32_t id;
	char name[];
};

static int
load_one(void *arg, ledge_bytes key, ledge_bytes val)
{
	struct node *n = arg;
	struct reg_entry *e;
	if (val.len != 4 || (e = malloc(sizeof *e + key.len + 1)) == NULL) {
		return val.len != 4 ? 0 : LEDGE_ENOMEM;
	}
	e->id = store_rd32(val.data);
	memcpy(e->name, key.data, key.len);
	e->name[key.len] = '\0';
	if (hmap_put(&n->registry, e->name, key.len, e, NULL) != 0) {
		free(e);
		return LEDGE_ENOMEM;
	}
	if (e->id >= n->next_id) {
		n->next_id = e->id + 1;
	}
	return 0;
}

int
registry_load(struct node *n)
{
	uint32_t stored;
	int rv;

	atomic_init(&n->next_qid, store_meta_get_u64(n->store, "next_qid"));
	if (atomic_load(&n->next_qid) == 0) {
		atomic_store(&n->next_qid, 1);
	}
	hmap_init(&n->registry);
	n->next_id = 1;
	rv = store_scan(n->store, STORE_REGISTRY, load_one, n);
	stored = (uint32_t)store_meta_get_u32(n->store, "next_id");
	if (stored > n->next_id) {
		n->next_id = stored;
	}
	return rv;
}

void
registry_free(struct node *n)
{
	struct hmap_slot *sl;
	size_t pos = 0;
	while ((sl = hmap_next(&n->registry, &pos)) != NULL) {
		free(sl->value);
	}
	hmap_fini(&n->registry);
}

/*
 * The persistent id of a name: from the registry, or a new one.  New ids
 * go into `rec`, which the caller commits; nothing needs to wait for it,
 * because anything durable that uses the id commits after it.
 */
int
registry_id(
    struct node *n, const char *name, struct commit_rec **rec, uint32_t *id)
{
	size_t len = strlen(name);
	struct reg_entry *e = hmap_get(&n->registry, name, len);
	unsigned char idb[4];

	if (e != NULL) {
		*id = e->id;
		return LEDGE_OK;
	}
	if ((*rec == NULL && (*rec = commit_rec_new()) == NULL) ||
	    (e = malloc(sizeof *e + len + 1)) == NULL) {
		return LEDGE_ENOMEM;
	}
	e->id = n->next_id;
	memcpy(e->name, name, len + 1);
	store_be32(idb, e->id);
	if (commit_rec_put(*rec, STORE_REGISTRY, name, len, idb, 4) !=
	        LEDGE_OK ||
	    hmap_put(&n->registry, e->name, len, e, NULL) != 0) {
		free(e);
		return LEDGE_ENOMEM;
	}
	n->next_id++;
	*id = e->id;
	return LEDGE_OK;
}

int
registry_submit(struct node *n, struct commit_rec *rec, int rv)
{
	if (rec != NULL) {
		unsigned char nb[4];
		store_be32(nb, n->next_id);
		if (rv == LEDGE_OK) {
			rv = commit_rec_put(
			    rec, STORE_META, "next_id", 7, nb, 4);
		}
		/* Even on failure: the ids handed out stay taken. */
		commit_submit(n->commit, rec);
	}
	return rv;
}

int
node_registry_id(struct node *n, const char *name, uint32_t *id)
{
	struct commit_rec *rec = NULL;
	int rv = registry_id(n, name, &rec, id);
	return registry_submit(n, rec, rv);
}

bool
node_registry_lookup(struct node *n, const char *name, uint32_t *id)
{
	struct reg_entry *e = hmap_get(&n->registry, name, strlen(name));
	if (e != NULL) {
		*id = e->id;
	}
	return e != NULL;
}
