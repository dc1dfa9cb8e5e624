/*
 * wf_config.c - a `config:` section flattened to key=value pairs
 * ({a: {b: 1}, c: [x, y]} -> a.b=1, c.0=x, c.1=y), and reading them
 * (wf_config_get, wf_config_list).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yaml.h>

#include "workflow/wf_int.h"

#define MAX_CONFIG 10000

struct flat {
	struct wf_loader *ld;
	struct wf_config *c;
	size_t cap;
	char *key; /* the key being built */
	size_t keycap;
	bool full;
	struct wf_pos at; /* of the config, for the size limit */
};

/* Append ".part" (or "part" at the top) to the key; new length or -1. */
static long
key_push(struct flat *fl, size_t klen, bool top, const char *part)
{
	size_t plen = strlen(part);
	size_t need = klen + 1 + plen + 1;

	if (need > fl->keycap) {
		size_t ncap = fl->keycap * 2 > need ? fl->keycap * 2 : need;
		char *k = realloc(fl->key, ncap < 64 ? 64 : ncap);
		if (k == NULL) {
			wf_oom(fl->ld);
			return -1;
		}
		fl->key = k;
		fl->keycap = ncap < 64 ? 64 : ncap;
	}
	if (!top) {
		fl->key[klen++] = '.';
	}
	memcpy(fl->key + klen, part, plen + 1);
	return (long)(klen + plen);
}

/* Room for more entries: LEDGE_OK or LEDGE_ENOMEM. */
static int
flat_grow(struct flat *fl)
{
	struct wf_config *c = fl->c;
	size_t ncap = fl->cap != 0 ? fl->cap * 2 : 8;
	char **k;
	char **v;
	struct wf_pos *p;

	/* Each array keeps its new size even if a later one fails. */
	if ((k = realloc(c->keys, ncap * sizeof *k)) == NULL) {
		return LEDGE_ENOMEM;
	}
	c->keys = k;
	if ((v = realloc(c->values, ncap * sizeof *v)) == NULL) {
		return LEDGE_ENOMEM;
	}
	c->values = v;
	if ((p = realloc(c->pos, ncap * sizeof *p)) == NULL) {
		return LEDGE_ENOMEM;
	}
	c->pos = p;
	fl->cap = ncap;
	return LEDGE_OK;
}

static void
flat_add(struct flat *fl, size_t klen, const yaml_node_t *v)
{
	struct wf_config *c = fl->c;
	char *key;
	char *value;

	if (c->count == MAX_CONFIG) {
		wf_report(fl->ld, fl->at, "'config' has more than %d entries",
		    MAX_CONFIG);
		fl->full = true;
		return;
	}
	if (c->count == fl->cap && flat_grow(fl) != 0) {
		wf_oom(fl->ld);
		return;
	}
	key = strndup(fl->key, klen);
	value = strdup(wf_text_of(v));
	if (key == NULL || value == NULL) {
		free(key);
		free(value);
		wf_oom(fl->ld);
		return;
	}
	c->keys[c->count] = key;
	c->values[c->count] = value;
	c->pos[c->count] = wf_pos_of(v);
	c->count++;
}

static void
flat_node(struct flat *fl, struct wf_loader *ld, const yaml_node_t *n,
    size_t klen, bool top)
{
	char index[24];
	long len;

	if (fl->full || ld->oom) {
		return;
	}
	if (n->type == YAML_SCALAR_NODE) {
		flat_add(fl, klen, n);
	} else if (n->type == YAML_SEQUENCE_NODE) {
		for (size_t i = 0; i < wf_nitems(n); i++) {
			snprintf(index, sizeof index, "%zu", i);
			if ((len = key_push(fl, klen, top, index)) < 0) {
				return;
			}
			flat_node(fl, ld,
			    wf_node_at(ld, n->data.sequence.items.start[i]),
			    (size_t)len, false);
		}
	} else if (n->type == YAML_MAPPING_NODE) {
		for (yaml_node_pair_t *p = n->data.mapping.pairs.start;
		     p < n->data.mapping.pairs.top; p++) {
			yaml_node_t *k = wf_node_at(ld, p->key);
			if (!wf_is_scalar(k)) {
				continue; /* reported by check_map_keys */
			}
			if ((len = key_push(fl, klen, top, wf_text_of(k))) <
			    0) {
				return;
			}
			flat_node(fl, ld, wf_node_at(ld, p->value), (size_t)len,
			    false);
		}
	}
}

/* Fill `c` from an optional `config:` node. */
void
wf_load_config(struct wf_loader *ld, yaml_node_t *n, struct wf_config *c)
{
	struct flat fl = { .ld = ld, .c = c, .at = wf_pos_of(n) };

	if ((n = wf_opt_map(ld, n, "config", NULL)) == NULL) {
		return;
	}
	flat_node(&fl, ld, n, 0, true);
	free(fl.key);
	if (c->count == 0 || ld->oom) {
		return;
	}
	if ((c->view = malloc(c->count * sizeof *c->view)) == NULL) {
		wf_oom(ld);
		return;
	}
	for (size_t i = 0; i < c->count; i++) {
		c->view[i] = (ledge_kv) { c->keys[i], c->values[i] };
	}
	c->sdk = (ledge_config) { c->count, c->view };
}

/* ------------------------------------------------------------------ */
/* Reading                                                             */

const char *
wf_config_get(const struct wf_config *c, const char *key)
{
	for (size_t i = 0; i < c->count; i++) {
		if (strcmp(c->keys[i], key) == 0) {
			return c->values[i];
		}
	}
	return NULL;
}

/* "methods.0", "methods.1", ...: `key`, a dot, and only digits. */
static bool
is_item_of(const char *k, const char *key, size_t klen)
{
	if (strncmp(k, key, klen) != 0 || k[klen] != '.' ||
	    k[klen + 1] == '\0') {
		return false;
	}
	return strspn(k + klen + 1, "0123456789") == strlen(k + klen + 1);
}

size_t
wf_config_list(
    const struct wf_config *c, const char *key, const char **out, size_t max)
{
	const char *one = wf_config_get(c, key);
	size_t klen = strlen(key);
	size_t n = 0;

	if (one != NULL) {
		if (max > 0) {
			out[0] = one;
		}
		return 1;
	}
	/* Flattening stores a sequence's items in order. */
	for (size_t i = 0; i < c->count; i++) {
		if (is_item_of(c->keys[i], key, klen)) {
			if (n < max) {
				out[n] = c->values[i];
			}
			n++;
		}
	}
	return n;
}
