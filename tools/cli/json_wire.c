/*
 * json_wire.c - wire values as JSON (see json_wire.h).
 */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "json_wire.h"
#include "text.h"
#include "value.h"

void
json_wire(struct json_out *j, wire_v v)
{
	const char *s;
	const void *p;
	size_t n;

	if (!wire_ok(v) || wire_is_nil(v)) {
		json_null(j);
	} else if (wire_is_map(v)) {
		json_obj_begin(j);
		for (size_t i = 0; i < wire_len(v); i++) {
			wire_v k = wire_key_at(v, i);
			if (wire_as_str(k, &s, &n)) {
				json_keyn(j, s, n);
			} else {
				char *t = text_wire(k);
				json_key(j, t != NULL ? t : "?");
				free(t);
			}
			json_wire(j, wire_val_at(v, i));
		}
		json_obj_end(j);
	} else if (wire_is_array(v)) {
		json_arr_begin(j);
		for (size_t i = 0; i < wire_len(v); i++) {
			json_wire(j, wire_at(v, i));
		}
		json_arr_end(j);
	} else if (wire_as_str(v, &s, &n)) {
		json_strn(j, s, n);
	} else if (wire_as_bin(v, &p, &n)) {
		json_base64(j, p, n);
	} else if (value_is_u64(v)) {
		json_u64(j, wire_as_u64(v, 0));
	} else if (value_is_i64(v)) {
		json_i64(j, wire_as_i64(v, 0));
	} else if (value_is_bool(v)) {
		json_bool(j, wire_as_bool(v, false));
	} else {
		json_null(j); /* a float: not part of the protocol */
	}
}

static bool
listed(const char *const *names, const char *s, size_t n)
{
	for (; names != NULL && *names != NULL; names++) {
		if (strlen(*names) == n && memcmp(*names, s, n) == 0) {
			return true;
		}
	}
	return false;
}

/* The members of map m that are neither "ok" nor in skip, as they are:
 * keys this client does not know yet still reach scripts. */
void
json_wire_rest(struct json_out *j, wire_v m, const char *const *skip)
{
	for (size_t i = 0; i < wire_len(m); i++) {
		const char *k;
		size_t n;
		if (!wire_as_str(wire_key_at(m, i), &k, &n) ||
		    (n == 2 && memcmp(k, "ok", 2) == 0) || listed(skip, k, n)) {
			continue;
		}
		json_keyn(j, k, n);
		json_wire(j, wire_val_at(m, i));
	}
}

/* key: the value of `name` in map m (null when absent). */
void
json_wire_field(struct json_out *j, wire_v m, const char *name)
{
	json_key(j, name);
	json_wire(j, wire_get(m, name));
}

/* An array of objects with the listed fields of each item (null for the
 * absent ones, so scripts see a fixed shape), then its other fields. */
void
json_wire_items(
    struct json_out *j, const char *key, wire_v arr, const char *const *fields)
{
	json_key(j, key);
	json_arr_begin(j);
	for (size_t i = 0; i < wire_len(arr); i++) {
		wire_v it = wire_at(arr, i);
		json_obj_begin(j);
		for (size_t f = 0; fields[f] != NULL; f++) {
			json_wire_field(j, it, fields[f]);
		}
		json_wire_rest(j, it, fields);
		json_obj_end(j);
	}
	json_arr_end(j);
}
