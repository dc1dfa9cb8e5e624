/*
 * text.h - values made into words for people: bytes escaped for a
 * terminal, wire values as table cells, sizes, ages, times and log
 * levels.
 *
 * Functions that return char * give a malloc'd string the caller frees,
 * or NULL when out of memory.  The fixed-buffer ones (text_size,
 * text_ago, text_time) truncate to n bytes, always NUL-terminated.  No
 * state: any thread.
 */
#ifndef LEDGE_CLI_TEXT_H
#define LEDGE_CLI_TEXT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/strbuf.h"
#include "net/wire.h"

/*
 * Bytes made fit for a terminal: printable ASCII and well-formed UTF-8
 * are kept; control characters, DEL and bytes that are not UTF-8 become
 * \xNN; with `backslash`, a backslash becomes \\ (so text_unescape gives
 * the bytes back).  Returns a malloc'd string, or NULL when out of
 * memory.
 */
char *text_escape(const void *p, size_t n, bool backslash);

/* The same, appended to b. */
void text_put_escaped(
    struct strbuf *b, const void *p, size_t n, bool backslash);

/*
 * The reverse for arguments (a state KEY): \xNN is a byte, \\ a
 * backslash; any other backslash is an error.  On success *out is a
 * malloc'd buffer of *len bytes (NUL-terminated too) and 0 is returned;
 * -1 for a bad escape or when out of memory (*out is then NULL).
 */
int text_unescape(const char *s, char **out, size_t *len);

/*
 * A value as text for a table cell or a sentence: strings and bytes
 * escaped, numbers in decimal, booleans as yes/no, lists joined with
 * ",", maps as k=v, and "-" for nothing.  text_put_wire appends it to b;
 * text_wire returns it malloc'd (NULL when out of memory).
 */
void text_put_wire(struct strbuf *b, wire_v v);
char *text_wire(wire_v v);

/* A size in bytes as "512 B", "1.5 KiB", "2.0 MiB" or "1.1 GiB". */
void text_size(char *b, size_t n, uint64_t v);

/* Milliseconds since a heartbeat as "12 ms ago", "1.5 s ago", "3 min
 * ago", "2 h ago", or "never" when v is not a number or UINT64_MAX. */
void text_ago(char *b, size_t n, wire_v v);

/* Milliseconds since the epoch as 2026-11-27T11:12:03.123Z (the format
 * of the runtime's own log). */
void text_time(char *b, size_t n, uint64_t ms);

/* A log level as a word: the protocol's string in capitals (escaped), or
 * a runtime level number (0 ERROR to 3 DEBUG).  Malloc'd, or NULL. */
char *text_level(wire_v v);

#endif
