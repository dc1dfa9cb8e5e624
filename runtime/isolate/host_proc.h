/*
 * host_proc.h - the function host process of `isolation: process`: the
 * other end of isolate.h.
 *
 * `ledge host` (started by a node, never by hand) dials the node's
 * channel, loads one function's code with dlopen and runs the callbacks
 * the node sends, one at a time.  Each ledge_* call of the function
 * becomes a request to the node and waits for its answer, except logging
 * (sent, not answered), the configuration (sent once at setup) and
 * ledge_self.  Values the node answers with live in an arena that is
 * emptied when the next callback starts, which is what the SDK promises
 * (borrowed until the callback returns).  The host exits when the
 * channel breaks or the node process (`parent`) is gone.
 *
 * Threads: one.
 */
#ifndef LEDGE_ISOLATE_HOST_PROC_H
#define LEDGE_ISOLATE_HOST_PROC_H

#include <stdbool.h>

/* How a host is started (`ledge host`'s options). */
struct host_args {
	const char *url;  /* the node's channel (ipc://) */
	const char *code; /* the code to load: an absolute path */
	const char *name; /* "workflow/function", for messages */
	int parent;       /* the node's process id (0: do not watch) */
	const char *user; /* whom to become if started by root */
	bool sandbox;     /* enter the seccomp sandbox before loading code */
	unsigned allow;   /* what else it may do (host_sandbox.h) */
	/* Where a sandbox violation is reported (a file the node reads when
	 * the host died of SIGSYS), or NULL. */
	const char *report;
};

/*
 * Run the host: dial the channel, become the unprivileged user
 * (host_confine_user), enter the sandbox, load the code, serve until the
 * node goes.  host_confine must have run.  Returns the process exit
 * status: 0 when the node went away, 1 on a failure (reported on stderr
 * and, if the channel works, to the node).
 */
int host_proc_main(const struct host_args *a);

#endif
