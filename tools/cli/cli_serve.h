/*
 * cli_serve.h - the long-running commands of a domain: `ledge
 * orchestrator` and `ledge node` (serving; `ledge node list|drain` are in
 * cmd_node.h).
 *
 * Both run until SIGINT or SIGTERM on the calling (main) thread and
 * return the process exit code: 0 after a clean stop, 1 when the process
 * could not start (the reason is on stderr), 2 for a usage error.
 */
#ifndef LEDGE_CLI_SERVE_H
#define LEDGE_CLI_SERVE_H

#include <stdbool.h>
#include <stddef.h>

struct rlog;

/* argv[0] is the command word ("orchestrator" or "node"), as for
 * getopt_long.  argv is permuted by getopt. */
int cli_serve_orchestrator(int argc, char **argv);
int cli_serve_node(int argc, char **argv);

/* `ledge host` (started by a node for isolation: process, not by hand). */
int cli_serve_host(int argc, char **argv);

/* The path of the running ledge binary (the host of isolated functions),
 * or NULL if it cannot be found. */
const char *cli_serve_self_exe(void);

/*
 * The rule for a control listener (net/msg_addr.h): 0 if `url` may be
 * listened on - this host only, or tls+tcp://.  Reachable from the
 * network without TLS: with `insecure` (--insecure) 0 after logging a
 * warning to `log` (at every start); without, 2 after printing to stderr
 * "PROG: ..." what to do instead.
 */
int cli_serve_check_listen(
    const char *prog, const char *url, bool insecure, struct rlog *log);

struct code_trust;

/*
 * --trust SPEC: add the public key SPEC (a file or its hex) to *t, made
 * on first use.  0, or 2 after "PROG: ..." on stderr.
 */
int cli_serve_trust_add(
    const char *prog, struct code_trust **t, const char *spec);

/*
 * Say once, at start, what code this process runs: only code signed by
 * the keys of t, or (t NULL) any code, with a WARN saying how to change
 * that.
 */
void cli_serve_trust_note(struct rlog *log, const struct code_trust *t);

/* The --help texts (static strings). */
const char *cli_serve_usage_orchestrator(void);
const char *cli_serve_usage_node(void);

#endif
