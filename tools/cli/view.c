/*
 * view.c - which entries of a reply a command shows (see view.h).
 */
#include <string.h>

#include "view.h"

bool
view_entry_wanted(wire_v it, const struct view *v)
{
	const void *p;
	size_t n;
	if (v->key == NULL) {
		return true;
	}
	return wire_as_bin(wire_get(it, "key"), &p, &n) && n == v->keylen &&
	    memcmp(p, v->key, n) == 0;
}

size_t
view_entries_wanted(wire_v r, const struct view *v)
{
	wire_v es = wire_get(r, "entries");
	size_t n = 0;
	for (size_t i = 0; i < wire_len(es); i++) {
		n += view_entry_wanted(wire_at(es, i), v);
	}
	return n;
}
