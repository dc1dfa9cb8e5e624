/*
 * wire_fuzz.c - the wire decoder (msgpack through wire.h) on any bytes,
 * as a node or the orchestrator gets them from a rogue peer.
 *
 * A parsed message is walked whole with every accessor; the oracles are
 * the ones the protocol code relies on: lengths agree with what the
 * iterators give, pointers stay inside what was parsed, and a string
 * copied out has the length it said.
 */
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "net/wire.h"

static void
walk(wire_v v, int depth)
{
	const char *s;
	const void *b;
	size_t n;
	char *dup;

	if (depth > 64) { /* the decoder's own limit is lower */
		abort();
	}
	(void)wire_as_u64(v, 0);
	(void)wire_as_i64(v, 0);
	(void)wire_as_bool(v, false);
	(void)wire_is_nil(v);
	if (wire_as_str(v, &s, &n)) {
		dup = wire_str_dup(v);
		if (dup != NULL &&
		    (strlen(dup) != n || (n > 0 && memcmp(dup, s, n) != 0))) {
			abort();
		}
		if (dup == NULL && (n == 0 || memchr(s, '\0', n) == NULL)) {
			abort(); /* only a NUL byte (or no memory) refuses */
		}
		free(dup);
		(void)wire_str_eq(v, "kind");
	}
	if (wire_as_bin(v, &b, &n) && n > 0 && b == NULL) {
		abort();
	}
	if (wire_is_map(v)) {
		n = wire_len(v);
		for (size_t i = 0; i < n; i++) {
			if (!wire_ok(wire_key_at(v, i)) ||
			    !wire_ok(wire_val_at(v, i))) {
				abort();
			}
			walk(wire_key_at(v, i), depth + 1);
			walk(wire_val_at(v, i), depth + 1);
		}
		if (wire_ok(wire_key_at(v, n))) {
			abort();
		}
		/* The lookups every handler starts with. */
		(void)wire_get(v, "kind");
		(void)wire_get(v, "seq");
		(void)wire_get(v, "");
	} else if (wire_is_array(v)) {
		n = wire_len(v);
		for (size_t i = 0; i < n; i++) {
			if (!wire_ok(wire_at(v, i))) {
				abort();
			}
			walk(wire_at(v, i), depth + 1);
		}
		if (wire_ok(wire_at(v, n))) {
			abort();
		}
	} else if (wire_len(v) != 0) {
		abort();
	}
}

FUZZ_TARGET(wire)
{
	struct wire_r r;
	if (wire_parse(&r, data, size) != 0) {
		return 0;
	}
	if (!wire_ok(wire_root(&r))) {
		abort();
	}
	walk(wire_root(&r), 0);
	wire_r_fini(&r);
	return 0;
}
