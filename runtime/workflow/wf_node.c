/*
 * wf_node.c - the YAML node tree of libyaml's document API: kinds, text,
 * line:column positions, mapping lookups, and what a node is in words.
 */
#include <string.h>

#include <yaml.h>

#include "workflow/wf_int.h"

yaml_node_t *
wf_node_at(struct wf_loader *ld, int idx)
{
	return yaml_document_get_node(&ld->doc, idx);
}

struct wf_pos
wf_pos_of(const yaml_node_t *n)
{
	struct wf_pos p = { 0, 0 };

	if (n != NULL) {
		p.line = (int)n->start_mark.line + 1;
		p.col = (int)n->start_mark.column + 1;
	}
	return p;
}

size_t
wf_npairs(const yaml_node_t *n)
{
	return (
	    size_t)(n->data.mapping.pairs.top - n->data.mapping.pairs.start);
}

size_t
wf_nitems(const yaml_node_t *n)
{
	return (
	    size_t)(n->data.sequence.items.top - n->data.sequence.items.start);
}

bool
wf_is_scalar(const yaml_node_t *n)
{
	return n != NULL && n->type == YAML_SCALAR_NODE;
}

bool
wf_is_map(const yaml_node_t *n)
{
	return n != NULL && n->type == YAML_MAPPING_NODE;
}

const char *
wf_text_of(const yaml_node_t *n)
{
	return (const char *)n->data.scalar.value;
}

/* A plain scalar that YAML reads as null: `key:`, `~`, `null`. */
bool
wf_is_null(const yaml_node_t *n)
{
	const char *s;

	if (!wf_is_scalar(n) ||
	    n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE) {
		return false;
	}
	s = wf_text_of(n);
	return s[0] == '\0' || strcmp(s, "~") == 0 || strcmp(s, "null") == 0 ||
	    strcmp(s, "Null") == 0 || strcmp(s, "NULL") == 0;
}

/* What a node is, for "found ..." in messages. */
const char *
wf_describe(const yaml_node_t *n, char *buf, size_t size)
{
	char clipped[SHOW_SIZE];

	if (n->type == YAML_MAPPING_NODE) {
		return "a mapping";
	}
	if (n->type == YAML_SEQUENCE_NODE) {
		return "a sequence";
	}
	if (wf_is_null(n)) {
		return "nothing";
	}
	const char *t = wf_clip(wf_text_of(n), clipped, sizeof clipped);
	size_t len = strlen(t);
	if (size < 3) {
		return "a value";
	}
	if (len > size - 3) {
		len = size - 3;
	}
	buf[0] = '\'';
	memcpy(buf + 1, t, len);
	buf[len + 1] = '\'';
	buf[len + 2] = '\0';
	return buf;
}

const yaml_node_pair_t *
wf_map_find(struct wf_loader *ld, const yaml_node_t *map, const char *key)
{
	for (yaml_node_pair_t *p = map->data.mapping.pairs.start;
	     p < map->data.mapping.pairs.top; p++) {
		yaml_node_t *k = wf_node_at(ld, p->key);
		if (wf_is_scalar(k) && strcmp(wf_text_of(k), key) == 0) {
			return p;
		}
	}
	return NULL;
}

yaml_node_t *
wf_map_value(struct wf_loader *ld, const yaml_node_t *map, const char *key)
{
	const yaml_node_pair_t *p = wf_map_find(ld, map, key);

	return p != NULL ? wf_node_at(ld, p->value) : NULL;
}
