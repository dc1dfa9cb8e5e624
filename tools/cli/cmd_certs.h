/*
 * cmd_certs.h - `ledge certs init|issue`: the certificates of a TLS
 * domain, made with the `openssl` command.
 *
 * `init DIR` makes the domain's CA (DIR/ca.key, mode 0600, and
 * DIR/ca.crt); `issue --dir DIR --role ROLE NAME [--host H]...` makes
 * DIR/NAME.key (0600) and DIR/NAME.crt, signed by that CA, for the
 * role (orchestrator, node, admin or viewer; kept in the subject as
 * OU=ledge-ROLE) and valid for client and server use on each --host (IP
 * address or DNS name; default 127.0.0.1 and localhost).  Nothing is
 * overwritten: a file that exists already is an error.  Meant for the
 * CLI's main thread.
 */
#ifndef LEDGE_CLI_CMD_CERTS_H
#define LEDGE_CLI_CMD_CERTS_H

#include <stdio.h>

/* argv: the words after `certs`.  Returns 0, 1 (openssl failed or a file
 * could not be written: the reason is on stderr) or 2 (usage). */
int cmd_certs_main(int argc, char **argv);

/* The help text of `ledge certs` to fp. */
void cmd_certs_help(FILE *fp);

#endif
