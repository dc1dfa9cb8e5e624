#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "ledge_run.h"

static const char *
bin(void)
{
	return test_ledge_bin();
}

static char *
dup_printf(const char *fmt, const char *a, const char *b)
{
	size_t n = strlen(fmt) + strlen(a) + (b ? strlen(b) : 0) + 1;
	char *s = malloc(n);
	if (s != NULL) {
		snprintf(s, n, fmt, a, b ? b : "");
	}
	return s;
}

struct lrun *
lrun_new(const char *tag)
{
	struct lrun *r = calloc(1, sizeof *r);
	if (r == NULL || (r->dir = tmpdir_make(tag)) == NULL) {
		free(r);
		return NULL;
	}
	r->data = dup_printf("%s/data%s", r->dir, NULL);
	r->log = dup_printf("%s/ledge.log%s", r->dir, NULL);
	r->port = -1;
	return r;
}

char *
lrun_fixture(const char *name)
{
	return dup_printf(
	    "%s/%s", test_path("LEDGE_FIXTURES", "build/tests/fixtures"), name);
}

/* Replace every `from` in s by `to` (malloc'd). */
static char *
replace(const char *s, const char *from, const char *to)
{
	size_t n = 0, fl = strlen(from), tl = strlen(to);
	const char *p;
	char *out, *o;
	for (p = s; (p = strstr(p, from)) != NULL; p += fl) {
		n++;
	}
	if ((out = malloc(strlen(s) + n * (tl + 1) + 1)) == NULL) {
		return NULL;
	}
	for (o = out, p = s;;) {
		const char *hit = strstr(p, from);
		size_t k = hit ? (size_t)(hit - p) : strlen(p);
		memcpy(o, p, k);
		o += k;
		if (hit == NULL) {
			break;
		}
		memcpy(o, to, tl);
		o += tl;
		p = hit + fl;
	}
	*o = '\0';
	return out;
}

const char *
lrun_workflow(struct lrun *r, const char *name, const char *yaml)
{
	char fx[4096], bd[4096];
	char *a, *b, *path;
	FILE *fp;

	if (r->nfiles == sizeof r->files / sizeof r->files[0]) {
		return NULL;
	}
	snprintf(fx, sizeof fx, "%s/",
	    test_path("LEDGE_FIXTURES", "build/tests/fixtures"));
	snprintf(bd, sizeof bd, "%s/", test_path("LEDGE_BUILD", "build"));
	a = replace(yaml, "@F/", fx);
	b = a ? replace(a, "@B/", bd) : NULL;
	path = dup_printf("%s/%s", r->dir, name);
	free(a);
	if (b == NULL || path == NULL || (fp = fopen(path, "w")) == NULL) {
		free(b);
		free(path);
		return NULL;
	}
	fputs(b, fp);
	fclose(fp);
	free(b);
	r->files[r->nfiles++] = path;
	return path;
}

int
lrun_start(struct lrun *r, const char *const *extra)
{
	const char *argv[64];
	size_t n = 0;
	char needle[32];

	argv[n++] = bin();
	argv[n++] = "run";
	argv[n++] = "-H";
	argv[n++] = "127.0.0.1:0";
	argv[n++] = "-d";
	argv[n++] = r->data;
	for (size_t i = 0; extra != NULL && extra[i] != NULL && n < 48; i++) {
		argv[n++] = extra[i];
	}
	for (size_t i = 0; i < r->nfiles; i++) {
		argv[n++] = r->files[i];
	}
	argv[n] = NULL;
	proc_free(r->p);
	r->port = -1;
	if ((r->p = proc_start(argv, r->log)) == NULL) {
		return -1;
	}
	r->starts++;
	snprintf(needle, sizeof needle, "ready; Ctrl-C");
	if (proc_wait_log_count(r->p, needle, r->starts, 15000) != 0) {
		char *text = proc_log(r->p);
		fprintf(stderr, "ledge did not become ready; its log:\n%s\n",
		    text ? text : "(none)");
		free(text);
		return -1;
	}
	r->port = proc_http_port(r->p, 100);
	return 0;
}

int
lrun_exec(const char *const *args, char **out)
{
	const char *argv[64];
	char *dir = tmpdir_make("exec"), *log;
	struct proc *p;
	size_t n = 0;
	int status = -1;

	if (dir == NULL) {
		return -1;
	}
	log = dup_printf("%s/out.txt", dir, NULL);
	argv[n++] = bin();
	for (size_t i = 0; args[i] != NULL && n < 62; i++) {
		argv[n++] = args[i];
	}
	argv[n] = NULL;
	if (log != NULL && (p = proc_start(argv, log)) != NULL) {
		if (proc_wait(p, 30000, &status) != 0) {
			status = -1;
		}
		if (out != NULL) {
			*out = proc_log(p);
		}
		proc_free(p);
	}
	free(log);
	tmpdir_remove(dir);
	free(dir);
	if (status == -1) {
		return -1;
	}
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

int
lrun_stop(struct lrun *r, int sig, int timeout_ms)
{
	int status;
	if (r->p == NULL) {
		return -1;
	}
	proc_kill(r->p, sig);
	if (proc_wait(r->p, timeout_ms, &status) != 0) {
		return -1;
	}
	return status;
}

char *
lrun_logtext(struct lrun *r)
{
	FILE *fp = fopen(r->log, "r");
	char *buf;
	long n;
	if (fp == NULL) {
		return strdup("");
	}
	fseek(fp, 0, SEEK_END);
	n = ftell(fp);
	fseek(fp, 0, SEEK_SET);
	if ((buf = malloc((size_t)n + 1)) == NULL) {
		fclose(fp);
		return NULL;
	}
	n = (long)fread(buf, 1, (size_t)n, fp);
	buf[n] = '\0';
	fclose(fp);
	return buf;
}

int
lrun_http(struct lrun *r, const char *method, const char *path,
    const char *body, struct httpc_resp *resp)
{
	return httpc_once("127.0.0.1", r->port, 10000, method, path, NULL, body,
	    body ? strlen(body) : 0, resp);
}

void
lrun_free(struct lrun *r)
{
	const char *keep = getenv("LEDGE_KEEP_TMP");
	if (r == NULL) {
		return;
	}
	proc_free(r->p);
	if (keep == NULL || strcmp(keep, "1") != 0) {
		tmpdir_remove(r->dir);
	} else {
		fprintf(stderr, "kept %s\n", r->dir);
	}
	for (size_t i = 0; i < r->nfiles; i++) {
		free(r->files[i]);
	}
	free(r->dir);
	free(r->data);
	free(r->log);
	free(r);
}
