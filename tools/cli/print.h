/*
 * print.h - what a command prints about the orchestrator's reply, or
 * about a failure found before or instead of one.
 *
 * For people, a reply is text on `out` (print_human.h) and a failure a
 * line "PROG: reason" on `err`; with the view's json set, `out` gets one
 * JSON document in either case (print_json.h) so that a script reads
 * stdout alone: {"ok":true, ...} or {"ok":false,"error":...,"code":...}.
 *
 * Only writes to the two streams; any thread, one pair of streams each.
 */
#ifndef LEDGE_CLI_PRINT_H
#define LEDGE_CLI_PRINT_H

#include <stdio.h>

#include "base/diag.h"
#include "net/wire.h"
#include "view.h"

/* Which request a reply answers. */
enum print_kind {
	PRINT_WF_START,
	PRINT_WF_STOP,
	PRINT_WF_LIST,
	PRINT_WF_SHOW,
	PRINT_NODE_LIST,
	PRINT_NODE_DRAIN,
	PRINT_FN_MOVE,
	PRINT_FN_RELOAD,
	PRINT_INVOKE,
	PRINT_STATE_GET,
	PRINT_STATE_KEYS,
	PRINT_LOGS,
};

/*
 * Print the reply `r` to a request of `kind`.  When the reply says
 * ok:false (or is not a map), writes "PROG: error" (and the `errors` of
 * an `invalid` reply, one per line) to err and, with v->json, the reply
 * as a JSON document to out; returns 1.  Otherwise writes the text or the
 * JSON document to out and returns 0 (1 for a state get of a KEY that is
 * not there).  A call's reply bytes go to out unchanged.
 */
int print_reply(
    enum print_kind kind, wire_v r, const struct view *v, FILE *out, FILE *err);

/*
 * A failure found here (not sent by the orchestrator): "PROG: message"
 * on err, and with v->json {"ok":false,"error":message,"code":code} on
 * out.  The message is printf-style (at most 2 KiB).  Returns 1, the
 * exit code of a failed operation.
 */
int print_fail(const struct view *v, FILE *out, FILE *err, const char *code,
    const char *fmt, ...) DIAG_PRINTF(5, 6);

/* The exit status of a request refused with code `unavailable`: its
 * target's node was declared lost (LEDGE_EUNAVAIL). */
#define PRINT_EXIT_UNAVAILABLE 3

/*
 * An ok:false reply r: its error (or code), the lines of an `invalid`
 * one and the parts still pending on err, and with v->json the whole
 * reply on out.  Returns 1, or PRINT_EXIT_UNAVAILABLE for the code
 * `unavailable`.
 */
int print_refusal(wire_v r, const struct view *v, FILE *out, FILE *err);

#endif
