/*
 * isolate.h - `isolation: process`: an instance's callbacks run in a
 * supervised host process instead of the node's own.
 *
 * The host is the `ledge` binary itself (`ledge host`, see host_proc.h),
 * started by the node with posix_spawn; it loads the instance's code (the
 * node's private, already checked copy) with dlopen, and the two talk
 * over an nng pair channel on an ipc:// socket in a folder of the node's
 * (mode 0700).  The node runs a callback by sending it to the host and
 * then serving the host's requests - every ledge_* call the function
 * makes - through the in-node host API of the event being handled,
 * until the host says the callback returned.  So everything the node
 * guarantees about a callback (its state writes and emitted events
 * become visible together, only if it returns LEDGE_OK; replies wait for
 * the commit) holds unchanged: nothing of a callback is kept by the host.
 *
 * Supervision: while it waits, the node checks every ISOLATE_TICK_MS that
 * the host is alive, within `limits: {timeout_ms}` and, with
 * `limits: {memory_mb}`, that its resident size is within the limit (also
 * after each callback).  A host that dies (a segfault, an abort, an exit)
 * or breaks a limit is killed and reaped; the callback in flight fails
 * (LEDGE_EFAIL, or LEDGE_ETIMEDOUT for a timeout - HTTP 500 and 504 at
 * http-ingress, an error for a caller), the failure is logged with the
 * function's name and counted, and the next event starts a new host.
 * The host also ends by itself when the node process is gone.
 *
 * Protocol (wire.h maps, each with "op"):
 *   node -> host  {op:"setup", self, config:[k, v, ...]}   first message
 *   host -> node  {op:"hello", err?}                       code loaded
 *   node -> host  {op:"run", kind: ISO_CAST..ISO_STOP, msg: bin}
 *   host -> node  {op:"api", f: NAME, args...}  ->  {ret, v?, ...}
 *   host -> node  {op:"log", lv, text}                     no answer
 *   host -> node  {op:"done", rc}
 * (isolate.c and host_proc.c are the two ends; docs/protocol.md.)
 *
 * Threads: an isolate belongs to its instance; only the worker running
 * that instance uses it (one callback at a time).  The counters may be
 * read from any thread.
 */
#ifndef LEDGE_ISOLATE_ISOLATE_H
#define LEDGE_ISOLATE_ISOLATE_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include <ledge.h>

struct rlog;

/* Callbacks a host runs. */
enum iso_kind { ISO_CAST = 0, ISO_CALL = 1, ISO_INIT = 2, ISO_STOP = 3 };

/* How often a waiting node checks on its host. */
#define ISOLATE_TICK_MS 10
/* How long a new host may take to load its code and say hello. */
#define ISOLATE_START_MS 10000

/* Why a host was killed (counted per reason). */
enum iso_fail {
	ISO_OK = 0,
	ISO_CRASHED, /* died: a signal, or exited */
	ISO_TIMEOUT, /* a callback ran past timeout_ms */
	ISO_MEMORY,  /* resident size past memory_mb */
	ISO_BROKEN,  /* could not start, or spoke nonsense */
	ISO_SANDBOX, /* made a system call its sandbox does not allow */
	ISO_NFAIL
};

struct isolate_stats {
	uint64_t starts;           /* hosts started */
	uint64_t fails[ISO_NFAIL]; /* hosts killed, by reason */
};

struct isolate;

/* How an instance's hosts run. */
struct isolate_opts {
	const char *exe;  /* the ledge binary to run as the host (NULL:
	                     every run fails with LEDGE_ENOTSUP, logged) */
	const char *name; /* "workflow/function" */
	const ledge_config *config;     /* borrowed, must outlive the isolate */
	uint32_t timeout_ms, memory_mb; /* 0: no limit */
	bool sandbox;   /* filter its system calls (host_sandbox.h) */
	unsigned allow; /* HOST_ALLOW_*: what it may do besides */
	/* The user a host becomes when the node runs as root (NULL:
	 * HOST_DEFAULT_USER); a node that is not root runs hosts as
	 * itself. */
	const char *user;
};

/*
 * An isolate for one instance: nothing starts until the first callback.
 * The strings of o are copied; `log` gets the failures.  NULL when out of
 * memory.
 */
struct isolate *isolate_new(const struct isolate_opts *o, struct rlog *log);

/* Kill the host, if any, and free. */
void isolate_free(struct isolate *iso);

/*
 * Run one callback of the code at `code_path` in the host (a host running
 * other code is replaced first).  Every ledge_* call the function makes is
 * served through `ctx`, the in-node context of the event.  Returns what
 * the callback returned, or - with *fail set - LEDGE_ETIMEDOUT (timeout)
 * or LEDGE_EFAIL (the host died, broke the memory limit or could not
 * start).  Blocks the calling thread for as long as the callback runs.
 */
int isolate_run(struct isolate *iso, const char *code_path, ledge_ctx *ctx,
    enum iso_kind kind, const void *msg, size_t len, enum iso_fail *fail);

/* Counters so far (any thread). */
void isolate_stats(const struct isolate *iso, struct isolate_stats *st);

#endif
