/*
 * cmd_invoke.h - `ledge invoke`: send bytes to a function or resource, as a
 * cast or a call.
 *
 * Talks to the orchestrator (--orchestrator URL, else
 * $LEDGE_ORCHESTRATOR, else ARGS_DEFAULT_ORCHESTRATOR) and prints its
 * reply: text for people, or with --json one JSON document on stdout.
 * Meant for the CLI's main thread.
 */
#ifndef LEDGE_CLI_CMD_INVOKE_H
#define LEDGE_CLI_CMD_INVOKE_H

#include <stdio.h>

/*
 * For `ledge invoke wf f data`, argv is {"wf", "f", "data"}.  argv holds the
 * words after the command word and is not modified.  Returns the exit code: 0
 * success; 1 the operation failed (the orchestrator said ok:false, could not be
 * reached, or a local file was unusable; the reason is on stderr); 2 a
 * usage error (the message and the usage are on stderr).
 */
int cmd_invoke_main(int argc, char **argv);

/* The help text of `ledge invoke` (with the common options) to fp. */
void cmd_invoke_help(FILE *fp);

#endif
