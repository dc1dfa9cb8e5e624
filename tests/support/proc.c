/*
 * proc.c - child processes, temporary directories and files for tests.
 */
#include "proc.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define POLL_MS      10
#define FREE_WAIT_MS 10000
#define PORT_NEEDLE  "listening on http://127.0.0.1:"

struct proc {
	pid_t pid;
	char *log_path;
	off_t log_start; /* size of the log when the child started */
	bool reaped;
	int status;
};

static int64_t
now_ms(void)
{
	struct timespec ts;

	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void
nap(void)
{
	struct timespec ts = { .tv_sec = 0, .tv_nsec = POLL_MS * 1000000L };

	/* An interrupted nap only makes the poll loop turn sooner. */
	(void)nanosleep(&ts, NULL);
}

/*
 * The child side of proc_start(); only async-signal-safe calls, since the
 * parent may have other threads.  Never returns.
 */
static void
child_exec(const char *const argv[], int logfd, int nullfd, int errfd,
    pid_t parent, int maxfd)
{
	struct sigaction sa;
	sigset_t none;
	int e;

	(void)setpgid(0, 0);
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0) {
		e = errno;
		goto fail;
	}
	if (getppid() != parent) {
		/* The parent thread ended before the death signal was armed. */
		e = ESRCH;
		goto fail;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_DFL;
	for (int sig = 1; sig < NSIG; sig++) {
		/* SIGKILL, SIGSTOP and reserved signals fail; no matter. */
		(void)sigaction(sig, &sa, NULL);
	}
	sigemptyset(&none);
	if (sigprocmask(SIG_SETMASK, &none, NULL) != 0 ||
	    dup2(nullfd, STDIN_FILENO) < 0 || dup2(logfd, STDOUT_FILENO) < 0 ||
	    dup2(logfd, STDERR_FILENO) < 0) {
		e = errno;
		goto fail;
	}
	/*
	 * Let no inherited descriptor (the test runner's sockets and pipes)
	 * survive the exec; errfd is close-on-exec already and must stay
	 * open until then.
	 */
	if (close_range(3, ~0U, CLOSE_RANGE_CLOEXEC) != 0) {
		for (int fd = 3; fd < maxfd; fd++) {
			(void)fcntl(fd, F_SETFD, FD_CLOEXEC);
		}
	}
	execv(argv[0], (char *const *)argv);
	e = errno;
fail:
	(void)!write(errfd, &e, sizeof(e));
	_exit(127);
}

struct proc *
proc_start(const char *const argv[], const char *log_path)
{
	struct proc *p;
	struct rlimit rl;
	struct stat st;
	int logfd = -1, nullfd = -1, pipefd[2] = { -1, -1 }, maxfd = 65536;
	int e, childerr;
	ssize_t n;
	pid_t pid, parent = getpid();

	if (argv == NULL || argv[0] == NULL || log_path == NULL) {
		errno = EINVAL;
		return NULL;
	}
	if ((p = calloc(1, sizeof(*p))) == NULL) {
		return NULL;
	}
	if ((p->log_path = strdup(log_path)) == NULL) {
		goto fail;
	}
	logfd = open(log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	if (logfd < 0 || fstat(logfd, &st) != 0) {
		goto fail;
	}
	p->log_start = st.st_size;
	if ((nullfd = open("/dev/null", O_RDONLY | O_CLOEXEC)) < 0) {
		goto fail;
	}
	if (pipe2(pipefd, O_CLOEXEC) != 0) {
		goto fail;
	}
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < 65536) {
		maxfd = (int)rl.rlim_cur;
	}
	if ((pid = fork()) < 0) {
		goto fail;
	}
	if (pid == 0) {
		child_exec(argv, logfd, nullfd, pipefd[1], parent, maxfd);
	}
	p->pid = pid;
	/*
	 * Also set the group here, so proc_kill() reaches the group even if
	 * the child has not run yet; EACCES means it has already exec'd,
	 * after setting the group itself.
	 */
	(void)setpgid(pid, pid);
	(void)close(pipefd[1]);
	pipefd[1] = -1;
	do {
		n = read(pipefd[0], &childerr, sizeof(childerr));
	} while (n < 0 && errno == EINTR);
	if (n == (ssize_t)sizeof(childerr)) {
		/* The exec failed; reap the child and report its error. */
		while (waitpid(pid, NULL, 0) < 0 && errno == EINTR) { }
		errno = childerr;
		goto fail;
	}
	(void)close(pipefd[0]);
	(void)close(nullfd);
	(void)close(logfd);
	return p;

fail:
	e = errno;
	if (pipefd[0] >= 0) {
		(void)close(pipefd[0]);
	}
	if (pipefd[1] >= 0) {
		(void)close(pipefd[1]);
	}
	if (nullfd >= 0) {
		(void)close(nullfd);
	}
	if (logfd >= 0) {
		(void)close(logfd);
	}
	free(p->log_path);
	free(p);
	errno = e;
	return NULL;
}

/* Reap the child if it has exited (or wait for it); true once reaped. */
static bool
reap(struct proc *p, bool block)
{
	pid_t r;
	int st;

	if (p->reaped) {
		return true;
	}
	do {
		r = waitpid(p->pid, &st, block ? 0 : WNOHANG);
	} while (r < 0 && errno == EINTR);
	if (r == p->pid) {
		p->reaped = true;
		p->status = st;
	} else if (r < 0 && errno == ECHILD) {
		/* Someone else reaped it; its status is lost. */
		p->reaped = true;
		p->status = 0;
	}
	return p->reaped;
}

/* Read the log from offset `from`; NUL-terminated, length in *len. */
static char *
read_log(const struct proc *p, off_t from, size_t *len)
{
	size_t cap = 4096, n = 0;
	char *buf, *nb;
	int fd, e;

	if ((fd = open(p->log_path, O_RDONLY | O_CLOEXEC)) < 0) {
		return NULL;
	}
	if (from > 0 && lseek(fd, from, SEEK_SET) < 0) {
		goto fail_fd;
	}
	if ((buf = malloc(cap)) == NULL) {
		goto fail_fd;
	}
	for (;;) {
		ssize_t r;

		if (cap - n < 2048) {
			if (cap > SIZE_MAX / 2 ||
			    (nb = realloc(buf, cap * 2)) == NULL) {
				errno = ENOMEM;
				goto fail_buf;
			}
			buf = nb;
			cap *= 2;
		}
		r = read(fd, buf + n, cap - n - 1);
		if (r < 0) {
			if (errno == EINTR) {
				continue;
			}
			goto fail_buf;
		}
		if (r == 0) {
			break;
		}
		n += (size_t)r;
	}
	(void)close(fd);
	buf[n] = '\0';
	if (len != NULL) {
		*len = n;
	}
	return buf;

fail_buf:
	e = errno;
	free(buf);
	errno = e;
fail_fd:
	e = errno;
	(void)close(fd);
	errno = e;
	return NULL;
}

char *
proc_log(const struct proc *p)
{
	if (p == NULL) {
		errno = EINVAL;
		return NULL;
	}
	return read_log(p, 0, NULL);
}

static int
count_in(const char *hay, size_t hlen, const char *needle, size_t nlen)
{
	int count = 0;

	while (hlen >= nlen) {
		const char *at = memmem(hay, hlen, needle, nlen);

		if (at == NULL) {
			break;
		}
		count++;
		hlen -= (size_t)(at - hay) + nlen;
		hay = at + nlen;
	}
	return count;
}

int
proc_wait_log_count(
    struct proc *p, const char *needle, int count, int timeout_ms)
{
	int64_t deadline = now_ms() + (timeout_ms > 0 ? timeout_ms : 0);
	size_t nlen;

	if (p == NULL || needle == NULL || *needle == '\0') {
		errno = EINVAL;
		return -1;
	}
	if (count <= 0) {
		return 0;
	}
	nlen = strlen(needle);
	for (;;) {
		/* Look at the exit first, so output written before it counts.
		 */
		bool exited = !proc_running(p);
		size_t len;
		char *log = read_log(p, 0, &len);
		int found = 0;

		if (log != NULL) {
			found = count_in(log, len, needle, nlen);
			free(log);
		}
		if (found >= count) {
			return 0;
		}
		if (exited || now_ms() >= deadline) {
			return -1;
		}
		nap();
	}
}

int
proc_wait_log(struct proc *p, const char *needle, int timeout_ms)
{
	return proc_wait_log_count(p, needle, 1, timeout_ms);
}

/* The port after the first complete PORT_NEEDLE in `log`; 0: none yet. */
static long
find_port(const char *log, size_t len)
{
	const char *at = memmem(log, len, PORT_NEEDLE, strlen(PORT_NEEDLE));
	const char *p, *end = log + len;
	long port = 0;

	if (at == NULL) {
		return 0;
	}
	for (p = at + strlen(PORT_NEEDLE); p < end && *p >= '0' && *p <= '9';
	     p++) {
		if (port > 65535) {
			return -1;
		}
		port = port * 10 + (*p - '0');
	}
	if (p == end) {
		return 0; /* the line is not complete yet */
	}
	return port >= 1 && port <= 65535 ? port : -1;
}

int
proc_http_port(struct proc *p, int timeout_ms)
{
	int64_t deadline = now_ms() + (timeout_ms > 0 ? timeout_ms : 0);

	if (p == NULL) {
		errno = EINVAL;
		return -1;
	}
	for (;;) {
		bool exited = !proc_running(p);
		size_t len;
		char *log = read_log(p, p->log_start, &len);
		long port = 0;

		if (log != NULL) {
			port = find_port(log, len);
			free(log);
		}
		if (port != 0) {
			return port > 0 ? (int)port : -1;
		}
		if (exited || now_ms() >= deadline) {
			return -1;
		}
		nap();
	}
}

int
proc_kill(struct proc *p, int sig)
{
	if (p == NULL) {
		errno = EINVAL;
		return -1;
	}
	if (p->reaped) {
		/* The pid may belong to someone else by now. */
		errno = ESRCH;
		return -1;
	}
	if (kill(-p->pid, sig) == 0) {
		return 0;
	}
	/* The group may not exist if setpgid lost a race; try the pid. */
	return kill(p->pid, sig);
}

int
proc_wait(struct proc *p, int timeout_ms, int *status)
{
	int64_t deadline = now_ms() + (timeout_ms > 0 ? timeout_ms : 0);

	if (p == NULL) {
		errno = EINVAL;
		return -1;
	}
	while (!reap(p, false)) {
		if (now_ms() >= deadline) {
			return -1;
		}
		nap();
	}
	if (status != NULL) {
		*status = p->status;
	}
	return 0;
}

bool
proc_running(struct proc *p)
{
	return p != NULL && !reap(p, false);
}

pid_t
proc_pid(const struct proc *p)
{
	return p != NULL ? p->pid : -1;
}

void
proc_free(struct proc *p)
{
	if (p == NULL) {
		return;
	}
	if (!reap(p, false)) {
		(void)proc_kill(p, SIGKILL);
		(void)proc_wait(p, FREE_WAIT_MS, NULL);
	}
	free(p->log_path);
	free(p);
}

char *
tmpdir_make(const char *tag)
{
	const char *base = getenv("TMPDIR");
	size_t blen, size;
	char *path;

	if (base == NULL || *base == '\0') {
		base = "/tmp";
	}
	if (tag == NULL || *tag == '\0') {
		tag = "tmp";
	}
	blen = strlen(base);
	while (blen > 1 && base[blen - 1] == '/') {
		blen--;
	}
	size =
	    blen + strlen("/ledge-test-") + strlen(tag) + strlen("-XXXXXX") + 1;
	if ((path = malloc(size)) == NULL) {
		return NULL;
	}
	(void)snprintf(
	    path, size, "%.*s/ledge-test-%s-XXXXXX", (int)blen, base, tag);
	if (mkdtemp(path) == NULL) {
		int e = errno;

		free(path);
		errno = e;
		return NULL;
	}
	return path;
}

static int
unlock_cb(const char *path, const struct stat *sb, int type, struct FTW *ftw)
{
	(void)ftw;
	if (type == FTW_D || type == FTW_DNR) {
		(void)chmod(path, (sb->st_mode & 07777) | S_IRWXU);
	}
	return 0;
}

static int
remove_cb(const char *path, const struct stat *sb, int type, struct FTW *ftw)
{
	(void)sb;
	(void)type;
	(void)ftw;
	(void)remove(path);
	return 0;
}

void
tmpdir_remove(const char *path)
{
	if (path == NULL || *path == '\0' || strcmp(path, "/") == 0) {
		return;
	}
	/*
	 * First pass top-down, so a directory is made accessible before it
	 * is entered; second pass bottom-up, so a directory is empty when it
	 * is removed.
	 */
	(void)nftw(path, unlock_cb, 16, FTW_PHYS);
	(void)nftw(path, remove_cb, 16, FTW_PHYS | FTW_DEPTH);
}

const char *
test_path(const char *var, const char *fallback)
{
	const char *v = var != NULL ? getenv(var) : NULL;

	return v != NULL && *v != '\0' ? v : fallback;
}

const char *
test_ledge_bin(void)
{
	const char *v = getenv("LEDGE_TEST_BIN");
	return v != NULL && *v != '\0' ? v
	                               : test_path("LEDGE_BIN", "build/ledge");
}

const char *
test_cli_bin(void)
{
	return test_path("LEDGE_BIN", "build/ledge");
}

int
copy_file(const char *from, const char *to)
{
	struct stat st;
	char *tmp = NULL, buf[65536];
	int in = -1, out = -1, e;
	size_t size;

	if (from == NULL || to == NULL) {
		errno = EINVAL;
		return -1;
	}
	if ((in = open(from, O_RDONLY | O_CLOEXEC)) < 0 ||
	    fstat(in, &st) != 0) {
		goto fail;
	}
	size = strlen(to) + sizeof(".tmp");
	if ((tmp = malloc(size)) == NULL) {
		goto fail;
	}
	(void)snprintf(tmp, size, "%s.tmp", to);
	out = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (out < 0) {
		goto fail;
	}
	for (;;) {
		ssize_t r = read(in, buf, sizeof(buf)), w;
		size_t off = 0;

		if (r < 0) {
			if (errno == EINTR) {
				continue;
			}
			goto fail_tmp;
		}
		if (r == 0) {
			break;
		}
		while (off < (size_t)r) {
			w = write(out, buf + off, (size_t)r - off);
			if (w < 0) {
				if (errno == EINTR) {
					continue;
				}
				goto fail_tmp;
			}
			off += (size_t)w;
		}
	}
	if (fchmod(out, st.st_mode & 07777) != 0) {
		goto fail_tmp;
	}
	e = close(out);
	out = -1;
	if (e != 0 || rename(tmp, to) != 0) {
		goto fail_tmp;
	}
	(void)close(in);
	free(tmp);
	return 0;

fail_tmp:
	e = errno;
	if (out >= 0) {
		(void)close(out);
	}
	(void)unlink(tmp);
	errno = e;
fail:
	e = errno;
	if (in >= 0) {
		(void)close(in);
	}
	free(tmp);
	errno = e;
	return -1;
}

size_t
str_count(const char *s, const char *needle)
{
	size_t n = 0, k = strlen(needle);
	while (s != NULL && (s = strstr(s, needle)) != NULL) {
		n++;
		s += k;
	}
	return n;
}
