/*
 * itest.h - small helpers shared by the integration tests.
 *
 * Each integration program is one Criterion binary that starts the real
 * `ledge` (through ledge_run.h) and real HTTP peers (echo_server), and
 * talks to them over loopback.  Everything a test starts is registered
 * here and torn down by it_fini(), the .fini fixture of every suite, so a
 * failed assertion (which leaves the test early) still stops the
 * processes and removes the scratch folders.
 *
 * All helpers are static inline: a program includes this header once and
 * gets no warnings for the helpers it does not use.  Every wait is bounded.
 */
#ifndef LEDGE_ITEST_H
#define LEDGE_ITEST_H

#include <criterion/criterion.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "httpc.h"
#include "ledge_run.h"
#include "proc.h"

#define IT_HOST "127.0.0.1"
/* Per-request timeout of the test client: far above any expected answer. */
#define IT_HTTP_MS 10000

/* What a test started; released by it_fini(). */
static struct lrun *it_runs[8];
static size_t it_nruns;
static struct proc *it_procs[8];
static char *it_dirs[8];
static size_t it_nprocs, it_ndirs;

static inline int64_t
it_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static inline void
it_sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR) { }
}

/* Stop everything the test started and remove its scratch folders. */
static inline void
it_fini(void)
{
	for (size_t i = 0; i < it_nruns; i++) {
		lrun_free(it_runs[i]);
	}
	it_nruns = 0;
	for (size_t i = 0; i < it_nprocs; i++) {
		proc_free(it_procs[i]);
	}
	it_nprocs = 0;
	for (size_t i = 0; i < it_ndirs; i++) {
		tmpdir_remove(it_dirs[i]);
		free(it_dirs[i]);
	}
	it_ndirs = 0;
}

/* A new scratch ledge run, freed by it_fini(). */
static inline struct lrun *
it_lrun(const char *tag)
{
	struct lrun *r = lrun_new(tag);
	cr_assert_not_null(r, "cannot make a scratch folder");
	cr_assert_lt(it_nruns, sizeof it_runs / sizeof it_runs[0]);
	it_runs[it_nruns++] = r;
	return r;
}

/* Add a workflow text (with @F/ and @B/) to `r`; asserts it was written. */
static inline const char *
it_workflow(struct lrun *r, const char *name, const char *yaml)
{
	const char *path = lrun_workflow(r, name, yaml);
	cr_assert_not_null(path, "cannot write workflow %s", name);
	return path;
}

/* Add an existing workflow file to what `r` starts (not copied). */
static inline void
it_workflow_file(struct lrun *r, const char *path)
{
	cr_assert_lt(r->nfiles, sizeof r->files / sizeof r->files[0]);
	r->files[r->nfiles] = strdup(path);
	cr_assert_not_null(r->files[r->nfiles]);
	r->nfiles++;
}

/* Start `r` and assert that it became ready with an HTTP port. */
static inline void
it_start(struct lrun *r, bool http)
{
	cr_assert_eq(lrun_start(r, NULL), 0, "ledge run did not become ready");
	if (http) {
		cr_assert_gt(r->port, 0, "no HTTP port in the log");
	}
}

/* A one-workflow node, started and ready. */
static inline struct lrun *
it_run1(const char *tag, const char *yaml, bool http)
{
	struct lrun *r = it_lrun(tag);
	it_workflow(r, "wf.yaml", yaml);
	it_start(r, http);
	return r;
}

/* A scratch folder removed by it_fini(). */
static inline const char *
it_tmpdir(const char *tag)
{
	char *d = tmpdir_make(tag);
	cr_assert_not_null(d, "cannot make a scratch folder");
	cr_assert_lt(it_ndirs, sizeof it_dirs / sizeof it_dirs[0]);
	it_dirs[it_ndirs++] = d;
	return d;
}

/* printf into a malloc'd string. */
static inline char *
it_fmt(const char *fmt, ...)
{
	va_list ap;
	char *s;
	int n;
	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	cr_assert_geq(n, 0);
	s = malloc((size_t)n + 1);
	cr_assert_not_null(s);
	va_start(ap, fmt);
	vsnprintf(s, (size_t)n + 1, fmt, ap);
	va_end(ap);
	return s;
}

/*
 * One request on a fresh connection to the node; asserts the exchange
 * itself worked (any HTTP status is fine).  `headers` may be NULL, `body`
 * is a string or NULL.
 */
static inline void
it_req(int port, const char *method, const char *path,
    const char *const *headers, const char *body, struct httpc_resp *resp)
{
	int rv = httpc_once(IT_HOST, port, IT_HTTP_MS, method, path, headers,
	    body, body ? strlen(body) : 0, resp);
	cr_assert_eq(
	    rv, HTTPC_OK, "%s %s: %s", method, path, httpc_strerror(rv));
}

/* Request, assert the status, return the body (malloc'd). */
static inline char *
it_body(
    int port, const char *method, const char *path, const char *body, int want)
{
	struct httpc_resp resp;
	char *out;
	it_req(port, method, path, NULL, body, &resp);
	cr_assert_eq(resp.status, want, "%s %s: status %d, want %d; body: %s",
	    method, path, resp.status, want, resp.body);
	out = strdup(resp.body);
	httpc_resp_free(&resp);
	cr_assert_not_null(out);
	return out;
}

/* Assert that METHOD path answers `want` with exactly the body `text`. */
static inline void
it_expect(int port, const char *method, const char *path, const char *body,
    int want, const char *text)
{
	char *got = it_body(port, method, path, body, want);
	cr_assert_str_eq(got, text, "%s %s", method, path);
	free(got);
}

/*
 * Poll `method path` until it answers 200 with exactly `text`, for at most
 * `timeout_ms`.  Returns true if it did; the last body is left in *last
 * (malloc'd) when `last` is not NULL.
 */
static inline bool
it_poll_body(int port, const char *method, const char *path, const char *text,
    int timeout_ms, char **last)
{
	int64_t end = it_now_ms() + timeout_ms;
	bool ok = false;
	char *body = NULL;
	for (;;) {
		struct httpc_resp resp;
		if (httpc_once(IT_HOST, port, IT_HTTP_MS, method, path, NULL,
		        NULL, 0, &resp) == HTTPC_OK) {
			free(body);
			body = strdup(resp.body);
			ok = resp.status == 200 && strcmp(resp.body, text) == 0;
			httpc_resp_free(&resp);
		}
		if (ok || it_now_ms() >= end) {
			break;
		}
		it_sleep_ms(10);
	}
	if (last != NULL) {
		*last = body;
	} else {
		free(body);
	}
	return ok;
}

/* The value of "n=<n>\n" answered by relay.so, fail.so; -1 if not one. */
static inline long
it_n(int port, const char *path)
{
	char *body = it_body(port, "GET", path, NULL, 200);
	long n = -1;
	if (strncmp(body, "n=", 2) == 0) {
		char *end;
		n = strtol(body + 2, &end, 10);
		if (strcmp(end, "\n") != 0) {
			n = -1;
		}
	}
	free(body);
	return n;
}

/* Poll relay's "n=" until it is at least `want`; returns the last n. */
static inline long
it_wait_n(int port, const char *path, long want, int timeout_ms)
{
	int64_t end = it_now_ms() + timeout_ms;
	long n;
	while ((n = it_n(port, path)) < want && it_now_ms() < end) {
		it_sleep_ms(10);
	}
	return n;
}

/* A whole file, NUL-terminated (malloc'd), or NULL if it cannot be read. */
static inline char *
it_slurp(const char *path)
{
	FILE *fp = fopen(path, "rb");
	char *buf = NULL;
	size_t len = 0, cap = 0, n;
	if (fp == NULL) {
		return NULL;
	}
	do {
		if (cap - len < 4096) {
			char *nb = realloc(buf, cap + 65536);
			cr_assert_not_null(nb);
			buf = nb;
			cap += 65536;
		}
		n = fread(buf + len, 1, cap - len - 1, fp);
		len += n;
	} while (n > 0);
	fclose(fp);
	buf[len] = '\0';
	return buf;
}

/* How many '\n' in s. */
static inline size_t
it_lines(const char *s)
{
	size_t n = 0;
	for (; s != NULL && *s; s++) {
		n += *s == '\n';
	}
	return n;
}

/* How many times `needle` occurs in `s` (not overlapping). */
static inline size_t
it_count(const char *s, const char *needle)
{
	size_t n = 0, k = strlen(needle);
	while (s != NULL && (s = strstr(s, needle)) != NULL) {
		n++;
		s += k;
	}
	return n;
}

/*
 * Poll the file `path` until it holds at least `lines` lines, for at most
 * `timeout_ms`.  Returns its text (malloc'd; "" if it does not exist).
 */
static inline char *
it_wait_lines(const char *path, size_t lines, int timeout_ms)
{
	int64_t end = it_now_ms() + timeout_ms;
	for (;;) {
		char *text = it_slurp(path);
		if (text == NULL) {
			text = strdup("");
			cr_assert_not_null(text);
		}
		if (it_lines(text) >= lines || it_now_ms() >= end) {
			return text;
		}
		free(text);
		it_sleep_ms(10);
	}
}

/* Poll the node's log until it contains `needle`. */
static inline bool
it_wait_log(struct lrun *r, const char *needle, int timeout_ms)
{
	return proc_wait_log(r->p, needle, timeout_ms) == 0;
}

/*
 * Start an echo_server on a free port; returns its port.  The process is
 * stopped by it_fini().
 */
static inline int
it_echo_server(void)
{
	const char *dir = it_tmpdir("echo");
	char *log = it_fmt("%s/echo.log", dir);
	const char *argv[] = { test_path("ECHO_SERVER", "tests/echo_server"),
		"0", NULL };
	struct proc *p = proc_start(argv, log);
	int port;
	free(log);
	cr_assert_not_null(p, "cannot start echo_server: %s", strerror(errno));
	cr_assert_lt(it_nprocs, sizeof it_procs / sizeof it_procs[0]);
	it_procs[it_nprocs++] = p;
	port = proc_http_port(p, 10000);
	cr_assert_gt(port, 0, "echo_server did not say its port");
	return port;
}

/* A loopback port that nothing listens on (bound, then closed). */
static inline int
it_closed_port(void)
{
	struct sockaddr_in a;
	socklen_t len = sizeof a;
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	cr_assert_geq(fd, 0);
	memset(&a, 0, sizeof a);
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	cr_assert_eq(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
	cr_assert_eq(getsockname(fd, (struct sockaddr *)&a, &len), 0);
	close(fd);
	return ntohs(a.sin_port);
}

/* Whether `path` exists. */
static inline bool
it_exists(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0;
}

#endif
