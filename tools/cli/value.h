/*
 * value.h - questions about a wire value that the protocol leaves open:
 * is it a number (of either sign) or a boolean, and counts that may come
 * as a number or as a list, the kind of a workflow part.  Pure
 * functions of the value.
 */
#ifndef LEDGE_CLI_VALUE_H
#define LEDGE_CLI_VALUE_H

#include <stdbool.h>
#include <stdint.h>

#include "net/wire.h"

/* v is an unsigned integer (reads the same whatever the fallback). */
static inline bool
value_is_u64(wire_v v)
{
	return wire_as_u64(v, 0) == wire_as_u64(v, 1);
}

/* v is a signed integer. */
static inline bool
value_is_i64(wire_v v)
{
	return wire_as_i64(v, 0) == wire_as_i64(v, 1);
}

/* v is a boolean. */
static inline bool
value_is_bool(wire_v v)
{
	return wire_as_bool(v, false) == wire_as_bool(v, true);
}

/* A count that the protocol may send as a number or as a list. */
static inline uint64_t
value_count(wire_v v)
{
	return wire_is_array(v) ? wire_len(v) : wire_as_u64(v, 0);
}

/* A part of a workflow (a map with "kind") that is a function. */
static inline bool
value_is_function(wire_v part)
{
	return wire_str_eq(wire_get(part, "kind"), "function");
}

#endif
