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

/*
 * Run the host: dial `url`, load `code` (the node's private copy), serve
 * until the node goes.  `name` ("workflow/function") is for messages;
 * `parent` the node's process id (0: do not watch).  Returns the process
 * exit status: 0 when the node went away, 1 on a failure (reported on
 * stderr and, if the channel works, to the node).
 */
int host_proc_main(
    const char *url, const char *code, const char *name, int parent);

#endif
