/*
 * json_wire.h - wire values (the orchestrator's replies) as JSON, for
 * --json: any value as it is, and the members of a reply map around the
 * ones a printer writes itself.
 *
 * All write into a json_out writer (errors are sticky there, see
 * json_out.h); the values are only read.  A writer belongs to one thread.
 */
#ifndef LEDGE_CLI_JSON_WIRE_H
#define LEDGE_CLI_JSON_WIRE_H

#include "json_out.h"
#include "net/wire.h"

/* Any wire value as JSON: maps as objects (a key that is not a string as
 * its text), bytes as base64, nothing (or a float) as null. */
void json_wire(struct json_out *j, wire_v v);

/* The members of map m that are neither "ok" nor named in skip
 * (NULL-terminated, or NULL), as they are: keys this client does not
 * know yet still reach scripts. */
void json_wire_rest(struct json_out *j, wire_v m, const char *const *skip);

/* The member "name": the value of `name` in map m (null when absent). */
void json_wire_field(struct json_out *j, wire_v m, const char *name);

/* The member "key": an array of objects with the listed fields
 * (NULL-terminated) of each map in arr (null for the absent ones, so
 * scripts see a fixed shape), then each map's other members. */
void json_wire_items(
    struct json_out *j, const char *key, wire_v arr, const char *const *fields);

#endif
