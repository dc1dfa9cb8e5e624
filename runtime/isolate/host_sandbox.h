/*
 * host_sandbox.h - the system calls a function host may make
 * (`isolation: process`): a seccomp-bpf allow-list, made with
 * libseccomp (used from host_sandbox.c only).
 *
 * The list covers what the host's own loop, its nng channel (already
 * connected), the C library, the dynamic loader and the sanitizers need:
 * memory, threads (clone with CLONE_THREAD only), futexes, signals
 * (except taking over SIGSYS), time, reading files, and I/O on the
 * descriptors it holds.  Everything else - execve, fork and clone of
 * processes, ptrace, new sockets, opening a file for writing, creating,
 * removing or renaming files, setuid and friends, mount, modules, bpf,
 * namespaces, keyrings, io_uring, signals to other processes - stops
 * the process: the call does not run, the host writes the call's number
 * to its report descriptor and dies of SIGSYS.
 *
 * A function may be let do more, by name (`sandbox: {allow: [...]}`):
 * HOST_ALLOW_* below.
 *
 * Threads: host_sandbox_enter once; the filter holds for every thread of
 * the process, those running already included (TSYNC).  The other
 * functions are pure.
 */
#ifndef LEDGE_ISOLATE_HOST_SANDBOX_H
#define LEDGE_ISOLATE_HOST_SANDBOX_H

#include <stdbool.h>
#include <stddef.h>

/* The file in the host's private folder where a stopped call's number
 * goes (the node reads it when the host died of SIGSYS). */
#define HOST_REPORT_FILE "sandbox"

/* What a function may be allowed besides the list, as bits. */
enum {
	HOST_ALLOW_SOCKET = 1 << 0, /* socket, connect, bind, listen, accept */
	HOST_ALLOW_FORK = 1 << 1,   /* fork, vfork, clone, wait, kill */
	HOST_ALLOW_EXEC = 1 << 2,   /* execve, execveat */
	HOST_ALLOW_WRITE = 1 << 3,  /* open for writing; create, remove and
	                               rename files and folders */
	HOST_ALLOW_ALL = (1 << 4) - 1
};

/* The name of one HOST_ALLOW_* bit ("socket", ...), or NULL. */
const char *host_sandbox_allow_name(unsigned bit);

/* The bit of an allow name, or 0 if it names none. */
unsigned host_sandbox_allow_bit(const char *name);

/* "socket, fork, exec, write": the names, for messages (static). */
const char *host_sandbox_allow_names(void);

/*
 * Enter the sandbox: from now on the calling process may make only the
 * system calls above and those `allow` (HOST_ALLOW_* bits) adds.
 * report_fd (>= 0) is where a stopped call's number goes, as decimal
 * text; -1 for nowhere.  LEDGE_OK, or LEDGE_EFAIL with why (n bytes): a
 * host that cannot be sandboxed must not run the code.
 */
int host_sandbox_enter(unsigned allow, int report_fd, char *why, size_t n);

/*
 * The name of system call `nr` of this machine ("execve"), into buf (n
 * bytes); "system call <nr>" if it has none.  Returns buf.
 */
const char *host_sandbox_call_name(int nr, char *buf, size_t n);

#endif
