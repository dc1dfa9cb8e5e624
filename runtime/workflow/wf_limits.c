/*
 * wf_limits.c - the first pass: limits against hostile input (depth,
 * alias expansion), NUL bytes, and keys that are not scalars or repeat.
 * The only pass that may stop the load early.
 */
#include <stdlib.h>
#include <string.h>

#include <yaml.h>

#include "workflow/wf_int.h"

#define MAX_DEPTH        32
#define MAX_ALIAS_VISITS 1000

struct key_ref {
	const char *s;
	size_t len;
	size_t order;
	bool dup;
};

static int
cmp_key_text(const void *a, const void *b)
{
	const struct key_ref *x = a;
	const struct key_ref *y = b;
	int c = memcmp(x->s, y->s, x->len < y->len ? x->len : y->len);

	if (c != 0) {
		return c;
	}
	if (x->len != y->len) {
		return x->len < y->len ? -1 : 1;
	}
	return x->order < y->order ? -1 : x->order > y->order;
}

static int
cmp_key_order(const void *a, const void *b)
{
	const struct key_ref *x = a;
	const struct key_ref *y = b;

	return x->order < y->order ? -1 : x->order > y->order;
}

/*
 * Report keys that are not scalars and keys given twice, the later ones
 * in document order.  Sorting keeps a mapping with many keys linear-log.
 */
static void
check_map_keys(struct wf_loader *ld, const yaml_node_t *map)
{
	size_t n = wf_npairs(map);
	size_t m = 0;
	struct key_ref *refs = malloc((n > 0 ? n : 1) * sizeof *refs);
	char found[SHOW_SIZE];

	if (refs == NULL) {
		wf_oom(ld);
		return;
	}
	for (size_t i = 0; i < n; i++) {
		yaml_node_t *k =
		    wf_node_at(ld, map->data.mapping.pairs.start[i].key);
		if (!wf_is_scalar(k)) {
			wf_report(ld, wf_pos_of(k),
			    "a key must be a scalar, found %s",
			    wf_describe(k, found, sizeof found));
			continue;
		}
		refs[m++] = (struct key_ref) { wf_text_of(k),
			k->data.scalar.length, i, false };
	}
	qsort(refs, m, sizeof *refs, cmp_key_text);
	for (size_t i = 1; i < m; i++) {
		refs[i].dup = refs[i].len == refs[i - 1].len &&
		    memcmp(refs[i].s, refs[i - 1].s, refs[i].len) == 0;
	}
	qsort(refs, m, sizeof *refs, cmp_key_order);
	for (size_t i = 0; i < m; i++) {
		if (refs[i].dup) {
			yaml_node_t *k = wf_node_at(ld,
			    map->data.mapping.pairs.start[refs[i].order].key);
			wf_report(ld, wf_pos_of(k), "duplicate key '%s'",
			    wf_clip(refs[i].s, found, sizeof found));
		}
	}
	free(refs);
}

static int
walk_children(struct wf_loader *ld, const yaml_node_t *n, int depth,
    const yaml_node_t *owner)
{
	int rv;

	if (n->type == YAML_SEQUENCE_NODE) {
		for (yaml_node_item_t *i = n->data.sequence.items.start;
		     i < n->data.sequence.items.top; i++) {
			if ((rv = wf_walk_limits(ld, *i, depth + 1, owner)) !=
			    0) {
				return rv;
			}
		}
		return LEDGE_OK;
	}
	for (yaml_node_pair_t *p = n->data.mapping.pairs.start;
	     p < n->data.mapping.pairs.top; p++) {
		if ((rv = wf_walk_limits(ld, p->key, depth + 1, owner)) != 0 ||
		    (rv = wf_walk_limits(ld, p->value, depth + 1, owner)) !=
		        0) {
			return rv;
		}
	}
	return LEDGE_OK;
}

/*
 * libyaml keeps an alias as a second reference to its anchor's node, so
 * the document is a graph whose tree form can be exponentially larger
 * than the file ("billion laughs") or infinite (an alias inside its own
 * anchor).  This walk visits the tree form once, as every later pass
 * will, and stops after MAX_ALIAS_VISITS repeated visits or MAX_DEPTH
 * levels; so the later passes do bounded work and recursion stays
 * shallow.  Node-level checks run on the first visit only.  `owner` is
 * the innermost node seen for the first time: the one written in the
 * file whose aliases expand, which is where a message should point.
 */
int
wf_walk_limits(
    struct wf_loader *ld, int idx, int depth, const yaml_node_t *owner)
{
	yaml_node_t *n = wf_node_at(ld, idx);
	bool again = ld->seen[idx - 1] != 0;

	if (again && ++ld->alias_visits > MAX_ALIAS_VISITS) {
		wf_report(ld, wf_pos_of(owner),
		    "aliases expand to too much (more than %d repeated nodes)",
		    MAX_ALIAS_VISITS);
		return LEDGE_ETOOBIG;
	}
	ld->seen[idx - 1] = 1;
	if (n->type == YAML_SCALAR_NODE) {
		if (!again && strlen(wf_text_of(n)) != n->data.scalar.length) {
			wf_report(
			    ld, wf_pos_of(n), "a NUL character is not allowed");
		}
		return LEDGE_OK;
	}
	if (n->type != YAML_MAPPING_NODE && n->type != YAML_SEQUENCE_NODE) {
		return LEDGE_OK;
	}
	if (depth > MAX_DEPTH) {
		wf_report(ld, wf_pos_of(n), "nesting deeper than %d levels",
		    MAX_DEPTH);
		return LEDGE_ETOOBIG;
	}
	if (!again && n->type == YAML_MAPPING_NODE) {
		check_map_keys(ld, n);
	}
	return walk_children(ld, n, depth, again ? owner : n);
}
