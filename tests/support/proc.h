/*
 * proc.h - child processes, temporary directories and files for tests.
 *
 * A struct proc is one child started with fork+execv: its own process
 * group, stdin from /dev/null, stdout and stderr appended to a log file
 * that tests poll to learn what the child is doing ("listening on ...").
 * Every wait is bounded and polls about every 10 ms; nothing here hangs.
 *
 * Threads: a struct proc belongs to one thread at a time.  The functions
 * share no state, except that the process's child table is shared: do not
 * reap these children elsewhere (waitpid(-1, ...), SIGCHLD set to
 * SIG_IGN), or their exit statuses are lost.
 */
#ifndef LEDGE_TEST_PROC_H
#define LEDGE_TEST_PROC_H

#include <stdbool.h>
#include <sys/types.h>

struct proc;

/*
 * Start argv[0] (a path; PATH is not searched) with arguments `argv`
 * (NULL-terminated) and the caller's environment.  The child runs in its
 * own process group, with stdin from /dev/null, stdout and stderr appended
 * to `log_path` (created if missing, 0644), no other inherited file
 * descriptors, default signal dispositions and an empty signal mask.
 *
 * The child gets SIGKILL when the thread that called proc_start() ends
 * (PR_SET_PDEATHSIG), so a test that crashes or aborts leaves no server
 * behind; call it from a thread that outlives the child.
 *
 * `argv` and `log_path` are only read during the call.  Returns the child,
 * owned by the caller until proc_free(), or NULL with errno set (EINVAL,
 * ENOMEM, an error opening the log, or the error of execv(), e.g. ENOENT or
 * EACCES; a child that could not exec is reaped before returning).
 */
struct proc *proc_start(const char *const argv[], const char *log_path);

/*
 * Wait until the log contains `needle`, searching the whole file (also
 * what was there before the child started).  Returns 0 when found, -1 when
 * `timeout_ms` passed or the child exited without the needle in the log.
 */
int proc_wait_log(struct proc *p, const char *needle, int timeout_ms);

/*
 * Like proc_wait_log(), until the whole log holds `count` non-overlapping
 * occurrences of `needle`.  Returns 0 at once if `count` <= 0.
 */
int proc_wait_log_count(
    struct proc *p, const char *needle, int count, int timeout_ms);

/*
 * Wait for a complete line containing "listening on http://127.0.0.1:" in
 * what this child wrote (output of earlier processes appended to the same
 * log is ignored, so a restarted server reports its new port), and return
 * the port number that follows.  Returns -1 on timeout, if the child
 * exited first, or if the number is not a port.
 */
int proc_http_port(struct proc *p, int timeout_ms);

/*
 * The whole log, NUL-terminated, in a buffer the caller must free(); NULL
 * with errno set if it cannot be read.  A snapshot: the child may be
 * writing.
 */
char *proc_log(const struct proc *p);

/*
 * Send `sig` to the child's whole process group.  Returns 0, or -1 with
 * errno set (ESRCH once the child has been reaped by proc_wait(),
 * proc_running() or the wait functions).
 */
int proc_kill(struct proc *p, int sig);

/*
 * Wait up to `timeout_ms` for the child to exit and reap it.  Returns 0
 * with its waitpid(2) status in *status (if `status` is not NULL), also
 * when it had been reaped before; -1 on timeout.  A status that was lost
 * to another reaper reads as 0.
 */
int proc_wait(struct proc *p, int timeout_ms, int *status);

/* Whether the child is still running; reaps it if it has exited. */
bool proc_running(struct proc *p);

/* The child's pid, which is also its process group id. */
pid_t proc_pid(const struct proc *p);

/*
 * Send SIGKILL to the child's process group if the child is still running,
 * reap it (waiting at most 10 s) and free `p`.  `p` may be NULL.
 */
void proc_free(struct proc *p);

/*
 * Create a fresh directory "$TMPDIR/ledge-test-TAG-XXXXXX" (TMPDIR unset
 * or empty: /tmp) with mkdtemp(3), mode 0700.  `tag` may be NULL ("tmp").
 * Returns its path, which the caller must free(), or NULL with errno set.
 */
char *tmpdir_make(const char *tag);

/*
 * Remove `path` and everything below it, like rm -rf: symbolic links are
 * removed, never followed, and directories without write or search
 * permission are made accessible first.  Errors are ignored; a missing
 * path is not an error.  Refuses "" and "/".
 */
void tmpdir_remove(const char *path);

/*
 * getenv(var) if it is set and not empty, else `fallback`.  The result is
 * owned by the environment or the caller and valid until the environment
 * changes.
 */
const char *test_path(const char *var, const char *fallback);

/*
 * The ledge binary tests start: $LEDGE_TEST_BIN when set (`make tsan`
 * runs the suite against a ThreadSanitizer build with it; meson's own
 * test environment cannot be overridden from outside), else $LEDGE_BIN,
 * else build/ledge.
 */
const char *test_ledge_bin(void);

/*
 * The ledge binary a domain test runs its CLI commands with: $LEDGE_BIN
 * (the build under test), never $LEDGE_TEST_BIN - the CLI is a short
 * client the other builds test, and under ThreadSanitizer each command
 * takes long enough to outlast the node timeouts a test races against.
 */
const char *test_cli_bin(void);

/*
 * Copy the file `from` to `to` atomically: write "<to>.tmp" with the mode
 * bits of `from`, then rename(2) it over `to`, so a process watching `to`
 * sees either the old or the complete new file.  Two copies to the same
 * `to` at once collide on the temporary name.  Returns 0, or -1 with errno
 * set and `to` untouched.
 */
int copy_file(const char *from, const char *to);

/* How many times `needle` occurs in `s` (NULL: 0), without overlaps. */
size_t str_count(const char *s, const char *needle);

#endif
