/*
 * host_confine.h - what a function host gives up before it loads code
 * (`isolation: process`): the first steps of a sandbox.
 *
 * After host_confine the process cannot gain privileges through execve
 * (PR_SET_NO_NEW_PRIVS: set-user-id binaries and file capabilities do
 * nothing), writes no core file (RLIMIT_CORE 0: a crash does not put
 * the function's state on disk), may hold at most HOST_MAX_FILES open
 * files, and works in `dir` (NULL: where it is), its private folder (the
 * node's data folder
 * and its relative paths are out of reach by name).  The environment is
 * the node's business: isolate.c starts the host with only the
 * variables in host_confine_env_allowed.
 *
 * Not yet a sandbox: system calls are not filtered and the host runs as
 * the node's user (see README, Security).
 *
 * Threads: call once, before any other thread starts.
 */
#ifndef LEDGE_ISOLATE_HOST_CONFINE_H
#define LEDGE_ISOLATE_HOST_CONFINE_H

#include <stdbool.h>
#include <stddef.h>

/* The most files a host may have open (its channel and the C library
 * need a few dozen). */
#define HOST_MAX_FILES 256

/*
 * Confine the calling process as above.  LEDGE_OK, or LEDGE_EFAIL with
 * the step that failed and why in why (n bytes); a host that cannot be
 * confined must not run the code.
 */
int host_confine(const char *dir, char *why, size_t n);

/*
 * Whether the environment entry `kv` ("NAME=value") is passed on to a
 * host: the dynamic loader's library path and the sanitizers' options;
 * nothing else of the node's environment (tokens, addresses, paths).
 */
bool host_confine_env_allowed(const char *kv);

#endif
