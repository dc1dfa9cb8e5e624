/*
 * view.h - what a command was about, for the words around a reply: the
 * names it was given, whether it prints JSON, and for `state get KEY`
 * which entries of a reply it shows.
 *
 * A view borrows every pointer it holds for as long as it is used
 * (usually one command).  Pure functions; any thread.
 */
#ifndef LEDGE_CLI_VIEW_H
#define LEDGE_CLI_VIEW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "net/wire.h"

/* A code file uploaded by `workflow start` (for its report). */
struct view_upload {
	const char *path; /* as opened */
	const char *hash; /* hex SHA-256 */
	uint64_t bytes;
};

struct view {
	const char *prog; /* message prefix, e.g. "ledge workflow stop" */
	bool json;        /* one JSON document instead of text */
	bool stream;      /* logs -f: one JSON document per log line */
	const char *name; /* the workflow (or node, for node drain) */
	const char *part; /* the function or target */
	const char *key;  /* state get KEY (bytes, keylen long), or NULL */
	size_t keylen;
	const char *hash; /* function reload: the code's hash */
	const char *url;  /* the orchestrator, for messages */
	bool call;        /* invoke: a call (reply bytes) or a cast */
	const struct view_upload *uploads; /* workflow start */
	size_t nuploads;
};

/* Whether the state entry `it` (a map with key and value) is one to
 * show: every one, or the one whose key is v->key (the node should send
 * only that one; this holds even if it sends more). */
bool view_entry_wanted(wire_v it, const struct view *v);

/* How many of the `entries` of a state.get reply r are to be shown. */
size_t view_entries_wanted(wire_v r, const struct view *v);

#endif
