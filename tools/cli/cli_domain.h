/*
 * cli_domain.h - the commands of `ledge` that talk to a domain's
 * orchestrator: workflow, node, function move/reload, invoke, state, logs.
 *
 * Each command builds one request (docs/protocol.md), sends it with
 * msg_call_sync to the orchestrator (--orchestrator URL, else
 * $LEDGE_ORCHESTRATOR, else tcp://127.0.0.1:7600) and prints the reply:
 * aligned tables for people, or with --json one JSON document on stdout.
 *
 * Exit codes: 0 success; 1 the operation failed (the orchestrator said
 * ok:false, could not be reached, or a local file was unusable; the
 * reason is on stderr); 2 a usage error (the message and the usage are on
 * stderr).  Commands only write to stdout and stderr and never exit.
 *
 * Threads: the commands use process-wide state (signal handlers while
 * `logs -f` runs) and are meant for the main thread of the CLI.
 */
#ifndef LEDGE_CLI_DOMAIN_H
#define LEDGE_CLI_DOMAIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "net/wire.h"

/* The default orchestrator address. */
#define CLI_DEFAULT_ORCHESTRATOR "tcp://127.0.0.1:7600"

/*
 * The commands.  Each gets the arguments after its command word, like
 * cmd_validate in ledge.c: for `ledge workflow start f.yaml`,
 * cli_workflow gets {"start", "f.yaml"}; for `ledge invoke wf f data`,
 * cli_invoke gets {"wf", "f", "data"}.  argv is not modified.  Returns the
 * exit code.
 */
int cli_workflow(int argc, char **argv);        /* start, stop, list, show */
int cli_node(int argc, char **argv);            /* list, drain */
int cli_function_domain(int argc, char **argv); /* move, reload */
int cli_invoke(int argc, char **argv);
int cli_state(int argc, char **argv); /* get */

/*
 * Read the file at `path` (at most max bytes) into a malloc'd buffer, not
 * NUL-terminated.  0, or -1 with errno set (*out is then NULL).
 */
int cli_read_file(const char *path, size_t max, char **out, size_t *len);
int cli_logs(int argc, char **argv);

/*
 * The help text of a command ("workflow", "node", "function" (move and
 * reload only), "invoke", "state", "logs") to fp.  Returns 0, or -1 if
 * the topic is not one of these (nothing is written).
 */
int cli_help(const char *topic, FILE *fp);

/* ------------------------------------------------------------------ */
/* Reply formatting (exposed for tests)                                */

/* Which request a reply answers. */
enum cli_kind {
	CLI_WF_START,
	CLI_WF_STOP,
	CLI_WF_LIST,
	CLI_WF_SHOW,
	CLI_NODE_LIST,
	CLI_NODE_DRAIN,
	CLI_FN_MOVE,
	CLI_FN_RELOAD,
	CLI_INVOKE,
	CLI_STATE_GET,
	CLI_LOGS,
};

/* A code file uploaded by `workflow start` (for its report). */
struct cli_upload {
	const char *path; /* as opened */
	const char *hash; /* hex SHA-256 */
	uint64_t bytes;
};

/* What a command was about, for the words around a reply.  All pointers
 * are borrowed for the duration of cli_show_reply. */
struct cli_view {
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
	const struct cli_upload *uploads; /* workflow start */
	size_t nuploads;
};

/*
 * Print the reply `r` to a request of `kind`.  When the reply says
 * ok:false (or is not a map), writes "PROG: error" (and the `errors` of
 * an `invalid` reply, one per line) to err and, with v->json, the reply
 * as a JSON document to out; returns 1.  Otherwise writes the text or the
 * JSON document to out and returns 0 (1 for a state get of a KEY that is
 * not there).  A call's reply bytes go to out unchanged.
 */
int cli_show_reply(enum cli_kind kind, wire_v r, const struct cli_view *v,
    FILE *out, FILE *err);

/*
 * Bytes made fit for a terminal: printable ASCII and well-formed UTF-8
 * are kept; control characters, DEL and bytes that are not UTF-8 become
 * \xNN; with `backslash`, a backslash becomes \\ (so cli_unescape gives
 * the bytes back).  Returns a malloc'd string, or NULL when out of
 * memory.
 */
char *cli_escape(const void *p, size_t n, bool backslash);

/*
 * The reverse for arguments (a state KEY): \xNN is a byte, \\ a
 * backslash; any other backslash is an error.  On success *out is a
 * malloc'd buffer of *len bytes (NUL-terminated too) and 0 is returned;
 * -1 for a bad escape or when out of memory (*out is then NULL).
 */
int cli_unescape(const char *s, char **out, size_t *len);

#endif
