/*
 * usage.c - the help texts of the domain commands (see usage.h).
 */
#include <stdio.h>

#include "args.h"
#include "usage.h"

static const char common[] =
    "common options:\n"
    "      --orchestrator URL  the orchestrator (default: "
    "$LEDGE_ORCHESTRATOR,\n"
    "                          else the control socket of `ledge run` in\n"
    "                          the data folder if there is one, else\n"
    "                          " ARGS_DEFAULT_ORCHESTRATOR
    "); tcp://, ipc:// or\n"
    "                          tls+tcp:// (which needs the three --tls-*)\n"
    "      --data DIR          where to look for that socket (default\n"
    "                          $LEDGE_DATA, else " ARGS_DEFAULT_DATA ")\n"
    "      --tls-cert FILE     this client's certificate (PEM)\n"
    "      --tls-key FILE      its private key (PEM)\n"
    "      --tls-ca FILE       the CA that signed the domain's certificates\n"
    "      --timeout MS        how long to wait for the answer (default "
    "%s)\n"
    "      --json              one JSON document on stdout, for scripts\n"
    "  -h, --help              this text\n"
    "\n"
    "exit status: 0 success; 1 the operation failed or the orchestrator\n"
    "could not be reached (the reason is on stderr); 2 a usage error; 3\n"
    "the target is unavailable: its node was declared lost (a call may\n"
    "or may not have run there; it is not sent elsewhere).\n";

const char usage_workflow[] =
    "usage: ledge workflow COMMAND [OPTIONS] [ARGS]\n"
    "\n"
    "The workflows of a domain, through its orchestrator.\n"
    "\n"
    "commands:\n"
    "  start FILE.yaml   validate a workflow, upload its code and start it\n"
    "                    (a running workflow of the same name is replaced)\n"
    "  stop NAME         stop a workflow on every node\n"
    "  list              the workflows, with their parts placed and "
    "pending\n"
    "  show NAME         each part: node, state size, events, errors\n"
    "\n"
    "`ledge workflow COMMAND --help` describes each command.\n";

const char usage_wf_start[] =
    "usage: ledge workflow start [OPTIONS] FILE.yaml\n"
    "\n"
    "Validate the workflow as `ledge validate` does (every problem is\n"
    "printed as file:line:col: message, and then nothing is sent), and\n"
    "send it to the orchestrator, which places each function and resource\n"
    "on a node.  Code is content-addressed: only the .so files the domain\n"
    "does not have yet are uploaded.  A running workflow of the same name\n"
    "is replaced.  Prints where each part was placed, and each part still\n"
    "waiting for a node and why.\n";

const char usage_wf_stop[] =
    "usage: ledge workflow stop [OPTIONS] NAME\n"
    "\n"
    "Stop the workflow NAME: its parts stop on every node.\n";

const char usage_wf_list[] =
    "usage: ledge workflow list [OPTIONS]\n"
    "\n"
    "List the workflows of the domain: how many functions and resources\n"
    "each has, how many of its parts are placed and how many wait for a\n"
    "node.\n";

const char usage_wf_show[] =
    "usage: ledge workflow show [OPTIONS] NAME\n"
    "\n"
    "Show each function and resource of the workflow NAME: the node it\n"
    "runs on, its state size, events in and out, errors, and its state\n"
    "replicas.  A function without replicas keeps its state only on its\n"
    "node: if that node is lost, the function starts again elsewhere with\n"
    "empty state.  A keyed function (one instance per key) also shows its\n"
    "keys in memory and with state, activations and passivations.\n";

const char usage_node[] =
    "usage: ledge node COMMAND [OPTIONS] [ARGS]\n"
    "\n"
    "The nodes of a domain, as its orchestrator sees them.\n"
    "\n"
    "commands:\n"
    "  list         every node: labels, architecture, health, instances\n"
    "               and its last heartbeat\n"
    "  drain NAME   move every part off node NAME and place nothing new "
    "there\n"
    "\n"
    "`ledge node COMMAND --help` describes each command.\n";

const char usage_node_list[] =
    "usage: ledge node list [OPTIONS]\n"
    "\n"
    "List the nodes that joined the domain: name, labels, architecture,\n"
    "health (up, lost or draining), how many instances each runs, and how\n"
    "long ago its last heartbeat arrived.\n";

const char usage_node_drain[] =
    "usage: ledge node drain [OPTIONS] NAME\n"
    "\n"
    "Drain node NAME: the orchestrator moves each part it runs, with its\n"
    "state, to another feasible node and places nothing new on it.  A part\n"
    "that fits no other node (e.g. pinned with placement.node) stays and\n"
    "is listed with the reason.  The node takes work again once its\n"
    "`ledge node` process restarts (after the maintenance).  Prints what\n"
    "moved where.\n";

const char usage_function[] =
    "usage: ledge function move [OPTIONS] WORKFLOW FUNCTION NODE\n"
    "       ledge function reload [OPTIONS] WORKFLOW FUNCTION FILE.so\n"
    "       ledge function keygen NAME\n"
    "       ledge function sign --key NAME.key FILE.so...\n"
    "\n"
    "  move     move a function, with its state, to node NODE\n"
    "  reload   upload new code for a function and hot-reload it on every\n"
    "           node that runs it\n"
    "  keygen   make a key pair for signing code (NAME.key, NAME.pub)\n"
    "  sign     sign code files (FILE.so.sig beside each)\n"
    "\n"
    "`ledge function COMMAND --help` tells more.\n";

const char usage_fn_move[] =
    "usage: ledge function move [OPTIONS] WORKFLOW FUNCTION NODE\n"
    "\n"
    "Move the function FUNCTION of WORKFLOW to node NODE; its state goes\n"
    "with it.  Prints where it came from and its new placement epoch.\n"
    "\n"
    "A function with `state: {replicas: N}` whose node is lost while no\n"
    "replica held every write it acknowledged waits for that node to come\n"
    "back (`workflow show` says so).  If it never will, --accept-loss\n"
    "starts the function on NODE, which must hold a replica of its state,\n"
    "from what that replica has: acknowledged writes it had not received\n"
    "are lost for good.  Refused for a function that is not waiting.\n"
    "\n"
    "options:\n"
    "      --accept-loss       fail over to NODE's replica, losing what it\n"
    "                          lacks (only for a function that waits)\n";

const char usage_fn_reload[] =
    "usage: ledge function reload [OPTIONS] WORKFLOW FUNCTION FILE.so\n"
    "\n"
    "Upload FILE.so (content-addressed: its SHA-256 names it) and switch\n"
    "the function FUNCTION of WORKFLOW to it on every node that runs it.\n"
    "Each instance switches between two events, keeps its state and runs\n"
    "the new init; if that fails, it stays on the old code and the reason\n"
    "is printed.  FILE.so.sig, if there, goes with it: a domain started\n"
    "with --trust takes only code signed by a key it trusts.\n";

const char usage_invoke[] =
    "usage: ledge invoke [OPTIONS] WORKFLOW TARGET DATA\n"
    "\n"
    "Send DATA to TARGET, a function or resource of WORKFLOW: as a cast\n"
    "(one way; exit status 0 once the domain accepted it) or, with --call,\n"
    "as a call whose reply bytes are written to stdout unchanged.  DATA is\n"
    "the argument's bytes, or with - everything read from stdin; put --\n"
    "before a DATA that starts with '-'.  --timeout is also the call's own\n"
    "time limit (the command waits 2 s longer for the answer).  A call\n"
    "toward a node the orchestrator declares lost fails at once (exit\n"
    "status 3), also one already waiting; one to a part placed but not\n"
    "yet deployed on its node says \"not deployed yet\" (try again).\n"
    "\n"
    "A keyed function (`keyed:` in its workflow) has an instance per key:\n"
    "--key names the one DATA goes to (bytes as for `ledge state get`).\n"
    "\n"
    "options:\n"
    "  -c, --call              wait for the reply and print it\n"
    "  --key K                 the instance of a keyed function\n";

const char usage_state[] =
    "usage: ledge state get [OPTIONS] WORKFLOW FUNCTION [KEY]\n"
    "       ledge state keys [OPTIONS] WORKFLOW FUNCTION\n"
    "\n"
    "The state of a function, and the keys of a keyed one (`ledge state\n"
    "get --help`, `ledge state keys --help` tell more).\n";

const char usage_state_keys[] =
    "usage: ledge state keys [OPTIONS] WORKFLOW FUNCTION\n"
    "\n"
    "Print the keys of the keyed function FUNCTION of WORKFLOW that have\n"
    "state, one per line (escaped as `ledge state get` shows keys), in the\n"
    "store's order: shorter keys first, then by bytes.  At most --limit of\n"
    "them (default 100, at most 10000); when more follow, stderr says so\n"
    "and --after LAST gives the next page.  With --json:\n"
    "{\"ok\":true,\"keys\":[\"base64\",...],\"more\":false}.\n"
    "\n"
    "options:\n"
    "  --prefix P              only keys that start with P\n"
    "  --limit N               at most N keys\n"
    "  --after K               the keys after K (the last of a page)\n";

const char usage_state_get[] =
    "usage: ledge state get [OPTIONS] WORKFLOW FUNCTION [KEY]\n"
    "\n"
    "Print the state of the function FUNCTION of WORKFLOW, or only KEY, as\n"
    "`key = value` lines.  Bytes that are not printable text are shown as\n"
    "\\xNN and a backslash as \\\\; KEY may be written the same way (e.g.\n"
    "'user\\x00id').  With --json, keys and values are base64 (RFC 4648):\n"
    "{\"ok\":true,\"entries\":[{\"key\":\"bg==\",\"value\":\"AQ==\"}]}.\n"
    "Exit status 1 if KEY is not there.  A keyed function's state is per\n"
    "key: --key K names whose (`ledge state keys` lists them).\n"
    "\n"
    "options:\n"
    "  --key K                 the instance of a keyed function\n";

const char usage_logs[] =
    "usage: ledge logs [OPTIONS] WORKFLOW\n"
    "\n"
    "Print the log lines of WORKFLOW's functions that the orchestrator\n"
    "keeps, one per line: TIME NODE LEVEL [WHO] LINE (TIME in UTC; control\n"
    "characters shown as \\xNN).  With --json, one document\n"
    "{\"ok\":true,\"lines\":[...],\"next\":N}, each line an object with\n"
    "seq, ms, time, node, who, level and line; with -f, one such object\n"
    "per output line (JSON Lines).\n"
    "\n"
    "options:\n"
    "  -f, --follow            keep printing new lines (asking every 300 "
    "ms)\n"
    "                          until Ctrl-C\n";

void
usage_print(const char *text, uint32_t timeout_ms, FILE *fp)
{
	char dflt[32] = "per command";
	if (timeout_ms != 0) {
		snprintf(dflt, sizeof dflt, "%u", (unsigned)timeout_ms);
	}
	fputs(text, fp);
	fputc('\n', fp);
	fprintf(fp, common, dflt);
}
