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
 * A host started by root then becomes an unprivileged user
 * (host_confine_user), and its system calls are filtered
 * (host_sandbox.h).
 *
 * Threads: host_confine once, before any other thread starts;
 * host_confine_user once, at any time (glibc applies a change of user
 * to every thread).
 */
#ifndef LEDGE_ISOLATE_HOST_CONFINE_H
#define LEDGE_ISOLATE_HOST_CONFINE_H

#include <stdbool.h>
#include <stddef.h>

/* The most files a host may have open (its channel and the C library
 * need a few dozen). */
#define HOST_MAX_FILES 256

/* The most processes and threads the hosts' user may have (RLIMIT_NPROC:
 * counted for the user, over every host running as it). */
#define HOST_MAX_TASKS 4096

/* The user a host started by root becomes unless told otherwise. */
#define HOST_DEFAULT_USER "nobody"

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

/*
 * If the process runs as root: become `user` (a name in the user
 * database), with its group and no supplementary groups, hence no
 * capabilities, and at most HOST_MAX_TASKS processes for that user.
 * Not root: nothing changes (the host stays the node's user).  LEDGE_OK,
 * or LEDGE_EFAIL with why (no such user, the user is root, a step
 * failed).
 */
int host_confine_user(const char *user, char *why, size_t n);

#endif
