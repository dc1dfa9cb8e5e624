/*
 * host_sandbox.c - the function host's seccomp-bpf allow-list, with
 * libseccomp (host_sandbox.h).
 *
 * A call off the list traps (SIGSYS, the call not run).  The handler
 * writes the call's number to the report descriptor and takes SIGSYS's
 * default action back - a call the filter answers by killing the whole
 * process, so the host dies of SIGSYS whatever the code did to its
 * signal handling: changing SIGSYS's handler is itself fatal, and a
 * blocked or ignored SIGSYS is made deliverable by the kernel for a
 * trap.  Code that patches the handler could keep the process alive,
 * but not get the call run.
 *
 * Names are resolved for the machine the host runs on; a call this
 * machine does not have (open on aarch64) is skipped.
 */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <termios.h>
#include <unistd.h>

#include <seccomp.h>

#include <ledge.h>

#include "isolate/host_sandbox.h"

/* Where the handler reports: the only state a signal handler can reach
 * (one per process, set once before the filter is loaded). */
static volatile int report_to = -1;

static const char *const allow_names[] = { "socket", "fork", "exec", "write" };

/* Always allowed. */
static const char *const base_calls[] = {
	/* I/O on descriptors it holds */
	"read", "write", "readv", "writev", "pread64", "pwrite64", "preadv",
	"pwritev", "preadv2", "pwritev2", "close", "lseek", "fsync",
	"fdatasync", "fcntl", "dup", "dup2", "dup3", "sendmsg", "recvmsg",
	"sendto", "recvfrom", "sendmmsg", "recvmmsg", "shutdown", "getsockopt",
	"setsockopt", "getsockname", "getpeername",
	/* waiting */
	"epoll_create", "epoll_create1", "epoll_ctl", "epoll_wait",
	"epoll_pwait", "epoll_pwait2", "poll", "ppoll", "select", "pselect6",
	"eventfd", "eventfd2", "pipe", "pipe2",
	/* reading files and folders */
	"fstat", "newfstatat", "stat", "lstat", "statx", "fstatfs", "statfs",
	"access", "faccessat", "faccessat2", "readlink", "readlinkat",
	"getdents", "getdents64", "getcwd", "chdir", "fchdir",
	/* memory */
	"brk", "mmap", "munmap", "mprotect", "mremap", "madvise", "mincore",
	"msync", "mlock", "munlock",
	/* threads */
	"futex", "futex_waitv", "set_robust_list", "get_robust_list", "rseq",
	"set_tid_address", "membarrier", "arch_prctl", "prctl", "sched_yield",
	"sched_getaffinity", "sched_getparam", "sched_getscheduler",
	"getpriority",
	/* signals (rt_sigaction: below) */
	"rt_sigprocmask", "rt_sigreturn", "rt_sigsuspend", "rt_sigpending",
	"rt_sigtimedwait", "sigaltstack", "restart_syscall",
	/* time */
	"nanosleep", "clock_nanosleep", "clock_gettime", "clock_getres",
	"gettimeofday", "time", "times", "getrusage",
	/* who and where it is */
	"getpid", "getppid", "gettid", "getuid", "geteuid", "getgid", "getegid",
	"getgroups", "getresuid", "getresgid", "getpgrp", "getpgid", "getsid",
	"getrlimit", "setrlimit", "uname", "sysinfo", "getcpu", "getrandom",
	/* the end */
	"exit", "exit_group", NULL
};

static const char *const socket_calls[] = { "socket", "socketpair", "connect",
	"bind", "listen", "accept", "accept4", NULL };
static const char *const fork_calls[] = { "fork", "vfork", "clone3", "wait4",
	"waitid", "kill", "tkill", "setpgid", "setsid", NULL };
static const char *const exec_calls[] = { "execve", "execveat", NULL };
static const char *const write_calls[] = { "open", "openat", "creat", "unlink",
	"unlinkat", "rename", "renameat", "renameat2", "mkdir", "mkdirat",
	"rmdir", "truncate", "ftruncate", "fallocate", "link", "linkat",
	"symlink", "symlinkat", "fchmod", "fchmodat", "chmod", "utimensat",
	"futimesat", "utimes", "utime", "flock", "memfd_create", NULL };

const char *
host_sandbox_allow_name(unsigned bit)
{
	for (unsigned i = 0; i < sizeof allow_names / sizeof allow_names[0];
	     i++) {
		if (bit == 1u << i) {
			return allow_names[i];
		}
	}
	return NULL;
}

unsigned
host_sandbox_allow_bit(const char *name)
{
	for (unsigned i = 0; i < sizeof allow_names / sizeof allow_names[0];
	     i++) {
		if (strcmp(name, allow_names[i]) == 0) {
			return 1u << i;
		}
	}
	return 0;
}

const char *
host_sandbox_allow_names(void)
{
	return "socket, fork, exec, write";
}

const char *
host_sandbox_call_name(int nr, char *buf, size_t n)
{
	char *s = seccomp_syscall_resolve_num_arch(SCMP_ARCH_NATIVE, nr);
	if (s != NULL) {
		snprintf(buf, n, "%s", s);
		free(s);
	} else {
		snprintf(buf, n, "system call %d", nr);
	}
	return buf;
}

static void
on_sigsys(int sig, siginfo_t *si, void *uc)
{
	char num[24];
	size_t i = sizeof num;
	int nr = si->si_syscall;
	struct sigaction dfl;

	(void)sig;
	(void)uc;
	if (report_to >= 0) {
		unsigned v = nr < 0 ? 0u : (unsigned)nr;
		num[--i] = '\n';
		do {
			num[--i] = (char)('0' + v % 10);
			v /= 10;
		} while (v > 0 && i > 0);
		(void)!write(report_to, num + i, sizeof num - i);
	}
	/* Fatal by the filter's own rule: the process dies of SIGSYS. */
	memset(&dfl, 0, sizeof dfl);
	dfl.sa_handler = SIG_DFL;
	syscall(SYS_rt_sigaction, SIGSYS, &dfl, NULL, _NSIG / 8);
	_exit(128 + SIGSYS); /* not reached */
}

/* Allow each call of a NULL-terminated list that this machine has. */
static int
allow_all(scmp_filter_ctx f, const char *const *calls, char *why, size_t n)
{
	for (size_t i = 0; calls[i] != NULL; i++) {
		int nr = seccomp_syscall_resolve_name(calls[i]);
		int rc;
		if (nr == __NR_SCMP_ERROR || nr < 0) {
			continue;
		}
		if ((rc = seccomp_rule_add(f, SCMP_ACT_ALLOW, nr, 0)) != 0) {
			snprintf(why, n, "seccomp rule for %s: %s", calls[i],
			    strerror(-rc));
			return -1;
		}
	}
	return 0;
}

/* A rule with conditions on a call this machine may not have. */
static int
rule(scmp_filter_ctx f, uint32_t action, const char *call, unsigned argc,
    const struct scmp_arg_cmp *args, char *why, size_t n)
{
	int nr = seccomp_syscall_resolve_name(call);
	int rc;
	if (nr == __NR_SCMP_ERROR || nr < 0) {
		return 0;
	}
	if ((rc = seccomp_rule_add_array(f, action, nr, argc, args)) != 0) {
		snprintf(
		    why, n, "seccomp rule for %s: %s", call, strerror(-rc));
		return -1;
	}
	return 0;
}

/* The rules on calls that are allowed with some arguments only. */
static int
conditional(scmp_filter_ctx f, unsigned allow, char *why, size_t n)
{
	const scmp_datum_t writing = O_ACCMODE | O_CREAT | O_TRUNC;
	const scmp_datum_t self = (scmp_datum_t)getpid();
	struct scmp_arg_cmp a[1];
	int bad = 0;

	/* Files open for reading only (with `write`, any way). */
	if (!(allow & HOST_ALLOW_WRITE)) {
		a[0] = SCMP_A2(SCMP_CMP_MASKED_EQ, writing, 0);
		bad |= rule(f, SCMP_ACT_ALLOW, "openat", 1, a, why, n);
		a[0] = SCMP_A1(SCMP_CMP_MASKED_EQ, writing, 0);
		bad |= rule(f, SCMP_ACT_ALLOW, "open", 1, a, why, n);
	}
	/* openat2's flags are behind a pointer: the C library falls back
	 * to openat when told it does not exist. */
	bad |= rule(f, SCMP_ACT_ERRNO(ENOSYS), "openat2", 0, NULL, why, n);
	/* Threads, not processes.  clone3's flags are behind a pointer
	 * too: the C library falls back to clone. */
	if (!(allow & HOST_ALLOW_FORK)) {
		a[0] = SCMP_A0(SCMP_CMP_MASKED_EQ, CLONE_THREAD, CLONE_THREAD);
		bad |= rule(f, SCMP_ACT_ALLOW, "clone", 1, a, why, n);
		bad |=
		    rule(f, SCMP_ACT_ERRNO(ENOSYS), "clone3", 0, NULL, why, n);
		/* Signals to itself only (raise, abort). */
		a[0] = SCMP_A0(SCMP_CMP_EQ, self);
		bad |= rule(f, SCMP_ACT_ALLOW, "kill", 1, a, why, n);
	} else {
		bad |= rule(f, SCMP_ACT_ALLOW, "clone", 0, NULL, why, n);
	}
	a[0] = SCMP_A0(SCMP_CMP_EQ, self);
	bad |= rule(f, SCMP_ACT_ALLOW, "tgkill", 1, a, why, n);
	/* Its own limits, not another process's. */
	a[0] = SCMP_A0(SCMP_CMP_EQ, 0);
	bad |= rule(f, SCMP_ACT_ALLOW, "prlimit64", 1, a, why, n);
	/* Any signal's handler but SIGSYS's: taking that over is fatal. */
	a[0] = SCMP_A0(SCMP_CMP_NE, SIGSYS);
	bad |= rule(f, SCMP_ACT_ALLOW, "rt_sigaction", 1, a, why, n);
	a[0] = SCMP_A0(SCMP_CMP_EQ, SIGSYS);
	bad |= rule(f, SCMP_ACT_KILL_PROCESS, "rt_sigaction", 1, a, why, n);
	/* ioctl: the few the C library and nng make; never TIOCSTI (typing
	 * into the node's terminal). */
	static const unsigned long ioctls[] = { FIONBIO, FIONREAD, TCGETS,
		TIOCGWINSZ };
	for (size_t i = 0; i < sizeof ioctls / sizeof ioctls[0]; i++) {
		a[0] = SCMP_A1(SCMP_CMP_EQ, ioctls[i]);
		bad |= rule(f, SCMP_ACT_ALLOW, "ioctl", 1, a, why, n);
	}
	return bad ? -1 : 0;
}

int
host_sandbox_enter(unsigned allow, int report_fd, char *why, size_t n)
{
	struct sigaction sa;
	scmp_filter_ctx f;
	int rc;

	memset(&sa, 0, sizeof sa);
	sa.sa_sigaction = on_sigsys;
	sa.sa_flags = SA_SIGINFO;
	sigemptyset(&sa.sa_mask);
	report_to = report_fd;
	if (sigaction(SIGSYS, &sa, NULL) != 0) {
		snprintf(why, n, "sigaction SIGSYS: %s", strerror(errno));
		return LEDGE_EFAIL;
	}
	if ((f = seccomp_init(SCMP_ACT_TRAP)) == NULL) {
		snprintf(why, n, "seccomp_init failed");
		return LEDGE_EFAIL;
	}
	/* For every thread: the channel's are running already. */
	if ((rc = seccomp_attr_set(f, SCMP_FLTATR_CTL_TSYNC, 1)) != 0) {
		snprintf(why, n, "seccomp TSYNC: %s", strerror(-rc));
		seccomp_release(f);
		return LEDGE_EFAIL;
	}
	if (allow_all(f, base_calls, why, n) != 0 ||
	    ((allow & HOST_ALLOW_SOCKET) &&
	        allow_all(f, socket_calls, why, n) != 0) ||
	    ((allow & HOST_ALLOW_FORK) &&
	        allow_all(f, fork_calls, why, n) != 0) ||
	    ((allow & HOST_ALLOW_EXEC) &&
	        allow_all(f, exec_calls, why, n) != 0) ||
	    ((allow & HOST_ALLOW_WRITE) &&
	        allow_all(f, write_calls, why, n) != 0) ||
	    conditional(f, allow, why, n) != 0) {
		seccomp_release(f);
		return LEDGE_EFAIL;
	}
	/* PR_SET_NO_NEW_PRIVS is set already (host_confine): the filter
	 * needs no privilege to load. */
	if ((rc = seccomp_load(f)) != 0) {
		snprintf(why, n, "cannot load the seccomp filter: %s",
		    strerror(-rc));
		seccomp_release(f);
		return LEDGE_EFAIL;
	}
	seccomp_release(f);
	return LEDGE_OK;
}
