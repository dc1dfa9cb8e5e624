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

#include <stddef.h>

/* argv[0] is the command word ("orchestrator" or "node"), as for
 * getopt_long.  argv is permuted by getopt. */
int cmd_orchestrator(int argc, char **argv);
int cmd_node(int argc, char **argv);

/* `ledge host` (started by a node for isolation: process, not by hand). */
int cmd_host(int argc, char **argv);

/* The path of the running ledge binary (the host of isolated functions),
 * or NULL if it cannot be found. */
const char *cli_self_exe(void);

/*
 * The orchestrator inside `ledge run` (over `listen`, default
 * tcp://127.0.0.1:7600): it adopts the workflows the process runs, so the
 * domain commands (workflow list/show, invoke, state get, logs, function
 * reload, workflow start of more workflows) reach a `ledge run` too.
 *
 * run_domain_prepare copies what adoption needs from the loaded
 * workflows (before node_deploy takes them): 0, or -1 when out of memory
 * or a workflow file cannot be read again (*rdp is then still set, to be
 * freed).  run_domain_start, after node_start and before node_run,
 * starts the orchestrator on the node's loop and joins the node to it
 * over inproc://; when the address is taken it logs a warning and the
 * process runs without it.  run_domain_free after node_run returns,
 * before node_free.  Main thread.
 */
struct run_domain;
struct node;
struct rlog;
struct workflow;
int run_domain_prepare(
    struct run_domain **rdp, struct workflow *const *wfs, size_t nwf);
void run_domain_start(struct run_domain *rd, struct node *node,
    const char *listen, const char *data_dir, const char *http,
    struct rlog *log);
void run_domain_free(struct run_domain *rd);

/* The --help texts (static strings). */
const char *cli_serve_usage_orchestrator(void);
const char *cli_serve_usage_node(void);

#endif
