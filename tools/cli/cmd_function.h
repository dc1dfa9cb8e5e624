/*
 * cmd_function.h - `ledge function move|reload`: one function of a running
 * workflow.
 *
 * Talks to the orchestrator (--orchestrator URL, else
 * $LEDGE_ORCHESTRATOR, else ARGS_DEFAULT_ORCHESTRATOR) and prints its
 * reply: text for people, or with --json one JSON document on stdout.
 * Meant for the CLI's main thread.
 */
#ifndef LEDGE_CLI_CMD_FUNCTION_H
#define LEDGE_CLI_CMD_FUNCTION_H

#include <stdio.h>

/*
 * For `ledge function move wf f n2`, argv is {"move", "wf", "f", "n2"}.  argv
 * holds the words after the command word and is not modified.  Returns the exit
 * code: 0 success; 1 the operation failed (the orchestrator said ok:false,
 * could not be reached, or a local file was unusable; the reason is on stderr);
 * 2 a usage error (the message and the usage are on stderr).
 */
int cmd_function_main(int argc, char **argv);

/* The help text of `ledge function` (with the common options) to fp. */
void cmd_function_help(FILE *fp);

#endif
