/*
 * print_json.h - the replies of the orchestrator as JSON for --json, one
 * printer per request (print.c picks one by kind).
 *
 * Each printer gets a reply r that said ok:true and the view of the
 * command, and writes the members of the document after "ok": true into
 * the open object of j; print.c then adds the reply's other members
 * (json_wire_rest) and closes it.  Names the command was given come from
 * the view; bytes go as base64.  Errors are sticky in j (json_out.h).
 * One writer per thread.
 */
#ifndef LEDGE_CLI_PRINT_JSON_H
#define LEDGE_CLI_PRINT_JSON_H

#include <stdio.h>

#include "json_out.h"
#include "net/wire.h"
#include "view.h"

/* wf.start: workflow, new, placed, pending, uploaded. */
void print_json_start(struct json_out *j, wire_v r, const struct view *v);
/* wf.stop: workflow. */
void print_json_stop(struct json_out *j, wire_v r, const struct view *v);
/* wf.list: workflows (name and counts). */
void print_json_wf_list(struct json_out *j, wire_v r, const struct view *v);
/* wf.show: name, file, parts (with state_lost_on_node_loss), pending. */
void print_json_wf_show(struct json_out *j, wire_v r, const struct view *v);
/* node.list: nodes (last_heartbeat_ms null before the first one). */
void print_json_node_list(struct json_out *j, wire_v r, const struct view *v);
/* node.drain: node, moved, stay. */
void print_json_drain(struct json_out *j, wire_v r, const struct view *v);
/* fn.move: workflow, function, from, to, epoch. */
void print_json_move(struct json_out *j, wire_v r, const struct view *v);
/* fn.reload: workflow, function, hash, nodes. */
void print_json_reload(struct json_out *j, wire_v r, const struct view *v);
/* invoke: reply (a call's bytes, else null). */
void print_json_invoke(struct json_out *j, wire_v r, const struct view *v);
/* state.get: entries (key and value as base64). */
void print_json_state(struct json_out *j, wire_v r, const struct view *v);
void print_json_keys(struct json_out *j, wire_v r, const struct view *v);
/* logs: lines (seq, ms, time, node, who, level, line) and next. */
void print_json_logs(struct json_out *j, wire_v r, const struct view *v);

/*
 * `logs -f --json`: each log line of r as a document of its own on out
 * (JSON Lines).  Returns 0, or -1 when out of memory or the stream
 * failed.
 */
int print_json_log_stream(wire_v r, FILE *out);

#endif
