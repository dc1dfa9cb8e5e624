/*
 * usage.h - the help texts of the commands that talk to a domain's
 * orchestrator (`ledge workflow`, `node`, `function`, `invoke`, `state`,
 * `logs`).
 *
 * Each usage_* text is the synopsis (up to its first blank line, which
 * a usage error repeats) and the description of one command or command
 * group, without the common options; usage_print adds those.  The texts
 * are static and shared by any thread.
 */
#ifndef LEDGE_CLI_USAGE_H
#define LEDGE_CLI_USAGE_H

#include <stdint.h>
#include <stdio.h>

/* Command groups: their commands in a few words. */
extern const char usage_workflow[];
extern const char usage_node[];
extern const char usage_function[];
extern const char usage_state[];

/* Commands. */
extern const char usage_wf_start[];
extern const char usage_wf_stop[];
extern const char usage_wf_list[];
extern const char usage_wf_show[];
extern const char usage_node_list[];
extern const char usage_node_drain[];
extern const char usage_fn_move[];
extern const char usage_fn_reload[];
extern const char usage_invoke[];
extern const char usage_state_get[];
extern const char usage_state_keys[];
extern const char usage_logs[];

/*
 * Write `text`, a blank line and the common options to fp.  timeout_ms is
 * the command's default --timeout, which the options name; 0 (for a
 * group) says "per command".
 */
void usage_print(const char *text, uint32_t timeout_ms, FILE *fp);

#endif
