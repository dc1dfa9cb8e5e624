/*
 * print_human.h - the replies of the orchestrator as text for people,
 * one printer per request (print.c picks one by kind).
 *
 * Each printer gets a reply r that said ok:true, the view of the command
 * (the names it was given) and the stream to write to.  It returns 0, or
 * -1 when out of memory (part of the text may have been written).  Values
 * from the reply are escaped (text.h) before they reach the terminal.
 * Printers only write to `out`; any thread, one stream each.
 */
#ifndef LEDGE_CLI_PRINT_HUMAN_H
#define LEDGE_CLI_PRINT_HUMAN_H

#include <stdio.h>

#include "net/wire.h"
#include "view.h"

/* wf.start: started/replaced/unchanged, the parts placed and pending, a
 * warning. */
int print_human_start(wire_v r, const struct view *v, FILE *out);
/* wf.stop: one sentence. */
int print_human_stop(wire_v r, const struct view *v, FILE *out);
/* wf.list: a table of the workflows and their counts. */
int print_human_wf_list(wire_v r, const struct view *v, FILE *out);
/* wf.show: a table of the parts, the pending ones and notes. */
int print_human_wf_show(wire_v r, const struct view *v, FILE *out);
/* node.list: a table of the nodes. */
int print_human_node_list(wire_v r, const struct view *v, FILE *out);
/* node.drain: what moved where, and what stays. */
int print_human_drain(wire_v r, const struct view *v, FILE *out);
/* fn.move: where from, where to, the epoch. */
int print_human_move(wire_v r, const struct view *v, FILE *out);
/* fn.reload: the code's hash and the nodes that switched. */
int print_human_reload(wire_v r, const struct view *v, FILE *out);
/* invoke: "cast ... accepted", or a call's reply bytes unchanged. */
int print_human_invoke(wire_v r, const struct view *v, FILE *out);
/* state.get: `key = value` lines (v->key: only that entry). */
int print_human_state(wire_v r, const struct view *v, FILE *out);
int print_human_keys(wire_v r, const struct view *v, FILE *out);
/* logs: TIME NODE LEVEL [WHO] LINE, one per log line. */
int print_human_logs(wire_v r, const struct view *v, FILE *out);

#endif
