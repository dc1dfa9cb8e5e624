/*
 * cmd_help.h - the help of the domain commands by topic, for `ledge help
 * TOPIC` and `ledge TOPIC --help`.
 */
#ifndef LEDGE_CLI_CMD_HELP_H
#define LEDGE_CLI_CMD_HELP_H

#include <stdio.h>

/*
 * The help text of a command ("workflow", "node", "function" (move and
 * reload only), "invoke", "state", "logs") to fp.  Returns 0, or -1 if
 * the topic is not one of these (nothing is written).
 */
int cmd_help(const char *topic, FILE *fp);

#endif
