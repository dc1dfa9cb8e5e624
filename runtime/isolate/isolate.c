/*
 * isolate.c - the node's end of `isolation: process`: starting, feeding
 * and supervising a function host (see isolate.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/clock.h"
#include "base/rlog.h"
#include "isolate/host_confine.h"
#include "isolate/host_sandbox.h"
#include "isolate/isolate.h"
#include "net/msg.h"
#include "net/wire.h"

extern char **environ;

/* Most headers a fetch answer carries over. */
#define FETCH_MAX_HEADERS 256

struct isolate {
	char *exe;
	char *name;
	char *user;
	const ledge_config *config;
	uint32_t timeout_ms, memory_mb;
	bool sandbox;
	unsigned allow;
	struct rlog *log;

	pid_t pid; /* 0: no host */
	struct msg_chan *ch;
	char dir[64];    /* the socket's folder, "" when none */
	char *code_path; /* code the host runs */

	atomic_uint_fast64_t starts;
	atomic_uint_fast64_t fails[ISO_NFAIL];
};

static const char *const fail_text[ISO_NFAIL] = {
	[ISO_OK] = "ok",
	[ISO_CRASHED] = "crashed",
	[ISO_TIMEOUT] = "timed out",
	[ISO_MEMORY] = "went over its memory limit",
	[ISO_BROKEN] = "failed",
	[ISO_SANDBOX] = "was stopped by its sandbox",
};

/* The files of a host's private folder the node makes or reads. */
#define SOCK_FILE "h"
#define CODE_FILE "code.so"

struct isolate *
isolate_new(const struct isolate_opts *o, struct rlog *log)
{
	struct isolate *iso = calloc(1, sizeof *iso);
	const char *user = o->user ? o->user : HOST_DEFAULT_USER;

	if (iso == NULL ||
	    (o->name != NULL && (iso->name = strdup(o->name)) == NULL) ||
	    (o->exe != NULL && (iso->exe = strdup(o->exe)) == NULL) ||
	    (iso->user = strdup(user)) == NULL) {
		isolate_free(iso);
		return NULL;
	}
	iso->config = o->config;
	iso->timeout_ms = o->timeout_ms;
	iso->memory_mb = o->memory_mb;
	iso->sandbox = o->sandbox;
	iso->allow = o->allow;
	iso->log = log;
	return iso;
}

/* Kill and reap the host, remove its socket. */
static void
stop_host(struct isolate *iso)
{
	char path[96];

	if (iso->pid > 0) {
		int st;
		kill(iso->pid, SIGKILL);
		while (waitpid(iso->pid, &st, 0) < 0 && errno == EINTR) { }
		iso->pid = 0;
	}
	msg_chan_free(iso->ch);
	iso->ch = NULL;
	if (iso->dir[0] != '\0') {
		static const char *const files[] = { SOCK_FILE, CODE_FILE,
			HOST_REPORT_FILE };
		for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
			snprintf(
			    path, sizeof path, "%s/%s", iso->dir, files[i]);
			unlink(path);
		}
		rmdir(iso->dir);
		iso->dir[0] = '\0';
	}
	free(iso->code_path);
	iso->code_path = NULL;
}

void
isolate_free(struct isolate *iso)
{
	if (iso == NULL) {
		return;
	}
	stop_host(iso);
	free(iso->exe);
	free(iso->name);
	free(iso->user);
	free(iso);
}

void
isolate_stats(const struct isolate *iso, struct isolate_stats *st)
{
	st->starts = atomic_load(&iso->starts);
	for (int i = 0; i < ISO_NFAIL; i++) {
		st->fails[i] = atomic_load(&iso->fails[i]);
	}
}

/* The system call a sandboxed host was stopped at, from its report
 * (-1 if it wrote none). */
static int
stopped_at(const struct isolate *iso)
{
	char path[96], buf[24] = "";
	int fd, nr = -1;
	ssize_t n;
	snprintf(path, sizeof path, "%s/%s", iso->dir, HOST_REPORT_FILE);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) >= 0) {
		if ((n = read(fd, buf, sizeof buf - 1)) > 0) {
			buf[n] = '\0';
			if (buf[0] >= '0' && buf[0] <= '9') {
				nr = atoi(buf);
			}
		}
		close(fd);
	}
	return nr;
}

/* The host ended by itself?  Describes how into why: ISO_OK if it runs,
 * else ISO_SANDBOX or ISO_CRASHED. */
static enum iso_fail
host_died(struct isolate *iso, char *why, size_t len)
{
	int st;
	pid_t r = waitpid(iso->pid, &st, WNOHANG);

	if (r == 0 || (r < 0 && errno == EINTR)) {
		return ISO_OK;
	}
	if (r == iso->pid && WIFSIGNALED(st) && WTERMSIG(st) == SIGSYS &&
	    iso->sandbox) {
		char name[64];
		int nr = stopped_at(iso);
		if (nr >= 0) {
			snprintf(why, len,
			    "it called %s, which its sandbox does not allow "
			    "(killed by SIGSYS)",
			    host_sandbox_call_name(nr, name, sizeof name));
		} else {
			snprintf(why, len,
			    "it made a system call its sandbox does not "
			    "allow (killed by SIGSYS)");
		}
		iso->pid = 0;
		return ISO_SANDBOX;
	}
	if (r == iso->pid && WIFSIGNALED(st)) {
		snprintf(why, len, "killed by signal %d (%s)", WTERMSIG(st),
		    strsignal(WTERMSIG(st)));
	} else if (r == iso->pid && WIFEXITED(st)) {
		snprintf(why, len, "exited with status %d", WEXITSTATUS(st));
	} else {
		snprintf(why, len, "is gone");
	}
	iso->pid = 0; /* reaped */
	return ISO_CRASHED;
}

/* Resident size of the host in MiB, or 0 if unknown. */
static uint64_t
host_rss_mb(pid_t pid)
{
	char path[64];
	unsigned long size, res;
	FILE *fp;
	int n;

	snprintf(path, sizeof path, "/proc/%d/statm", (int)pid);
	if ((fp = fopen(path, "r")) == NULL) {
		return 0;
	}
	n = fscanf(fp, "%lu %lu", &size, &res);
	fclose(fp);
	if (n != 2) {
		return 0;
	}
	return (uint64_t)res * (uint64_t)sysconf(_SC_PAGESIZE) >> 20;
}

static void
fail_log(struct isolate *iso, enum iso_fail f, const char *detail)
{
	atomic_fetch_add(&iso->fails[f], 1);
	rlog_write(iso->log, RLOG_ERROR, iso->name,
	    "host process %s%s%s; the event in flight failed, the next one "
	    "starts a new host",
	    fail_text[f], detail[0] ? ": " : "", detail);
}

/*
 * The host's private folder is its own: owned by the user it will be
 * (when the node is root), with a copy of its code in it - the node's
 * data folder may be out of that user's reach, and the host needs no
 * other file of the node's.  0, or -1 with why.
 */
static int
prepare_dir(struct isolate *iso, const char *code, char *copy, size_t clen,
    char *why, size_t n)
{
	char buf[65536];
	int in, out;
	ssize_t got = 0;

	if (geteuid() == 0) {
		struct passwd pw, *p = NULL;
		char pwbuf[4096];
		if (getpwnam_r(iso->user, &pw, pwbuf, sizeof pwbuf, &p) != 0 ||
		    p == NULL) {
			snprintf(why, n,
			    "no user '%s' to run the host as (the node runs as "
			    "root; --host-user names another)",
			    iso->user);
			return -1;
		}
		if (chown(iso->dir, p->pw_uid, p->pw_gid) != 0) {
			snprintf(
			    why, n, "chown %s: %s", iso->dir, strerror(errno));
			return -1;
		}
	}
	snprintf(copy, clen, "%s/%s", iso->dir, CODE_FILE);
	if ((in = open(code, O_RDONLY | O_CLOEXEC)) < 0) {
		snprintf(why, n, "cannot read %s: %s", code, strerror(errno));
		return -1;
	}
	if ((out = open(copy, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644)) <
	    0) {
		snprintf(why, n, "cannot write %s: %s", copy, strerror(errno));
		close(in);
		return -1;
	}
	/* Readable by the host's user whatever the node's umask. */
	(void)fchmod(out, 0644);
	while ((got = read(in, buf, sizeof buf)) > 0) {
		if (write(out, buf, (size_t)got) != got) {
			got = -1;
			break;
		}
	}
	close(in);
	if (close(out) != 0 || got < 0) {
		snprintf(why, n, "cannot copy the code to %s: %s", copy,
		    strerror(errno));
		return -1;
	}
	return 0;
}

/* Start a host for the code at path; LEDGE_OK or a failure (logged). */
static int
start_host(struct isolate *iso, const char *path)
{
	char url[96], why[512], pid_s[24], copy[128];
	posix_spawn_file_actions_t fa;
	struct wire_w w;
	struct wire_r r;
	const void *data;
	size_t len, n = 0;
	void *msg = NULL;
	int64_t end;
	int rv;

	if (iso->exe == NULL) {
		fail_log(iso, ISO_BROKEN,
		    "isolation: process needs the ledge binary to run as the "
		    "host, and this node was not given one");
		return LEDGE_ENOTSUP;
	}
	snprintf(iso->dir, sizeof iso->dir, "/tmp/ledge-host-XXXXXX");
	if (mkdtemp(iso->dir) == NULL) {
		snprintf(why, sizeof why, "mkdtemp %s: %s", iso->dir,
		    strerror(errno));
		iso->dir[0] = '\0';
		fail_log(iso, ISO_BROKEN, why);
		return LEDGE_EFAIL;
	}
	if (prepare_dir(iso, path, copy, sizeof copy, why, sizeof why) != 0) {
		fail_log(iso, ISO_BROKEN, why);
		stop_host(iso);
		return LEDGE_EFAIL;
	}
	snprintf(url, sizeof url, "ipc://%s/" SOCK_FILE, iso->dir);
	if (msg_chan_listen(url, &iso->ch, why, sizeof why) != 0) {
		fail_log(iso, ISO_BROKEN, why);
		stop_host(iso);
		return LEDGE_EFAIL;
	}
	snprintf(pid_s, sizeof pid_s, "%d", (int)getpid());
	{
		/* Of the node's environment, only what host_confine allows. */
		char *envp[8];
		size_t ne = 0;
		for (char **e = environ; *e != NULL && ne < 7; e++) {
			if (host_confine_env_allowed(*e)) {
				envp[ne++] = *e;
			}
		}
		envp[ne] = NULL;
		char *argv[32] = { "ledge", "host", "--connect", url, "--code",
			copy, "--name", iso->name ? iso->name : "?", "--parent",
			pid_s, "--dir", iso->dir, "--user", iso->user, NULL };
		size_t na = 14;
		if (iso->sandbox) {
			argv[na++] = "--sandbox";
			for (unsigned b = 1; b <= HOST_ALLOW_ALL; b <<= 1) {
				if ((iso->allow & b) &&
				    host_sandbox_allow_name(b) != NULL) {
					argv[na++] = "--allow";
					argv[na++] =
					    (char *)host_sandbox_allow_name(b);
				}
			}
		}
		argv[na] = NULL;
		posix_spawn_file_actions_init(&fa);
		posix_spawn_file_actions_addopen(
		    &fa, 0, "/dev/null", O_RDONLY, 0);
		rv = posix_spawn(&iso->pid, iso->exe, &fa, NULL, argv, envp);
		posix_spawn_file_actions_destroy(&fa);
	}
	if (rv != 0) {
		snprintf(why, sizeof why, "cannot start %s: %s", iso->exe,
		    strerror(rv));
		iso->pid = 0;
		fail_log(iso, ISO_BROKEN, why);
		stop_host(iso);
		return LEDGE_EFAIL;
	}
	atomic_fetch_add(&iso->starts, 1);
	if ((iso->code_path = strdup(path)) == NULL) {
		stop_host(iso);
		return LEDGE_ENOMEM;
	}

	/* setup: who it is and its config. */
	if (wire_w_init(&w) != 0) {
		stop_host(iso);
		return LEDGE_ENOMEM;
	}
	wire_map(&w, 3);
	wire_str(&w, "op");
	wire_str(&w, "setup");
	wire_str(&w, "self");
	wire_str(&w, iso->name ? iso->name : "");
	wire_str(&w, "config");
	wire_array(&w, iso->config ? iso->config->count * 2 : 0);
	for (size_t i = 0; iso->config && i < iso->config->count; i++) {
		wire_str(&w, iso->config->items[i].key);
		wire_str(&w, iso->config->items[i].value);
	}
	data = wire_data(&w, &len);
	rv = w.oom || msg_chan_send(iso->ch, data, len) != 0;
	wire_w_fini(&w);
	if (rv) {
		fail_log(iso, ISO_BROKEN, "cannot send the setup");
		stop_host(iso);
		return LEDGE_EFAIL;
	}

	/* hello, or why not. */
	end = (int64_t)clock_mono_ms() + ISOLATE_START_MS;
	for (;;) {
		rv = msg_chan_recv(iso->ch, ISOLATE_TICK_MS * 10, &msg, &n);
		if (rv == 0) {
			break;
		}
		if (rv != LEDGE_ETIMEDOUT ||
		    host_died(iso, why, sizeof why) != ISO_OK) {
			if (rv != LEDGE_ETIMEDOUT) {
				snprintf(why, sizeof why, "its channel broke");
			}
			char d[600];
			snprintf(d, sizeof d, "at start: %s", why);
			fail_log(iso, ISO_BROKEN, d);
			stop_host(iso);
			return LEDGE_EFAIL;
		}
		if ((int64_t)clock_mono_ms() > end) {
			fail_log(iso, ISO_BROKEN, "no hello within 10 s");
			stop_host(iso);
			return LEDGE_EFAIL;
		}
	}
	/* The parsed tree points into msg: free msg after it. */
	rv = wire_parse(&r, msg, n);
	if (rv != 0 || !wire_str_eq(wire_get(wire_root(&r), "op"), "hello")) {
		if (rv == 0) {
			wire_r_fini(&r);
		}
		free(msg);
		fail_log(iso, ISO_BROKEN, "its first message was not a hello");
		stop_host(iso);
		return LEDGE_EFAIL;
	}
	{
		const char *e;
		size_t elen;
		if (wire_as_str(wire_get(wire_root(&r), "err"), &e, &elen)) {
			snprintf(why, sizeof why, "cannot load its code: %.*s",
			    (int)elen, e);
			wire_r_fini(&r);
			free(msg);
			fail_log(iso, ISO_BROKEN, why);
			stop_host(iso);
			return LEDGE_EFAIL;
		}
	}
	wire_r_fini(&r);
	free(msg);
	return LEDGE_OK;
}

/* ------------------------------------------------------------------ */
/* Serving the host's ledge_* calls                                    */

/* A string argument as a NUL-terminated copy in buf (NULL if absent). */
static const char *
arg_str(wire_v m, const char *key, char *buf, size_t size)
{
	const char *s;
	size_t n;

	if (!wire_as_str(wire_get(m, key), &s, &n) || n >= size) {
		return NULL;
	}
	memcpy(buf, s, n);
	buf[n] = '\0';
	return buf;
}

static ledge_bytes
arg_bin(wire_v m, const char *key)
{
	ledge_bytes b = { NULL, 0 };
	if (!wire_as_bin(wire_get(m, key), &b.data, &b.len)) {
		b.data = NULL;
		b.len = 0;
	}
	return b;
}

/* A nullable string value. */
static void
put_opt_str(struct wire_w *w, const char *s)
{
	if (s != NULL) {
		wire_str(w, s);
	} else {
		wire_nil(w);
	}
}

static void
log_str(ledge_ctx *ctx, int level, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	ctx->api->logv(ctx, level, fmt, ap);
	va_end(ap);
}

/* {ret} or {ret, v}: the answer to most requests. */
static int
answer(struct wire_w *w, int ret, const ledge_bytes *v)
{
	wire_map(w, v != NULL ? 2 : 1);
	wire_str(w, "ret");
	wire_i64(w, ret);
	if (v != NULL) {
		wire_str(w, "v");
		wire_bin(w, v->data, ret == LEDGE_OK ? v->len : 0);
	}
	return ret;
}

/* Answer one {op:"api"} request into w (a map {ret, ...}); returns
 * ret. */
static int
serve_api(ledge_ctx *ctx, wire_v m, struct wire_w *w)
{
	const ledge_host_api *api = ctx->api;
	char a[1024], b[1024];
	const char *f = arg_str(m, "f", a, sizeof a);
	ledge_bytes d = arg_bin(m, "d"), k = arg_bin(m, "k");
	ledge_bytes v = { NULL, 0 };
	const char *s;
	int ret;

	if (f == NULL) {
		return answer(w, LEDGE_EPROTO, NULL);
	}
	if (strcmp(f, "cast") == 0 || strcmp(f, "call") == 0) {
		const char *out = arg_str(m, "o", b, sizeof b);
		uint32_t ms = (uint32_t)wire_as_u64(wire_get(m, "ms"), 0);
		if (out == NULL) {
			ret = LEDGE_EINVAL;
		} else if (strcmp(f, "cast") == 0) {
			ret = api->cast(ctx, out, d.data, d.len, ms);
		} else {
			ret = api->call(ctx, out, d.data, d.len, ms, &v);
		}
		return answer(w, ret, &v);
	}
	if (strcmp(f, "reply") == 0) {
		return answer(w, api->reply(ctx, d.data, d.len), NULL);
	}
	if (strcmp(f, "put") == 0) {
		return answer(
		    w, api->state_put(ctx, k.data, k.len, d.data, d.len), NULL);
	}
	if (strcmp(f, "del") == 0) {
		return answer(w, api->state_del(ctx, k.data, k.len), NULL);
	}
	if (strcmp(f, "get") == 0) {
		ret = api->state_get(ctx, k.data, k.len, &v);
		return answer(w, ret, &v);
	}
	/* (Method, path and query travel with the run message.) */
	if (strcmp(f, "hh") == 0) {
		const char *name = arg_str(m, "n", b, sizeof b);
		s = name != NULL ? api->http_header(ctx, name) : NULL;
		wire_map(w, 2);
		wire_str(w, "ret");
		wire_i64(w, s != NULL ? LEDGE_OK : LEDGE_ENOENT);
		wire_str(w, "v");
		put_opt_str(w, s);
		return s != NULL ? LEDGE_OK : LEDGE_ENOENT;
	}
	if (strcmp(f, "qp") == 0) {
		const char *name = arg_str(m, "n", b, sizeof b);
		s = NULL;
		ret =
		    name ? api->http_query_param(ctx, name, &s) : LEDGE_EINVAL;
		wire_map(w, 2);
		wire_str(w, "ret");
		wire_i64(w, ret);
		wire_str(w, "v");
		put_opt_str(w, ret == LEDGE_OK ? s : NULL);
		return ret;
	}
	if (strcmp(f, "sh") == 0) {
		char val[4096];
		const char *name = arg_str(m, "n", b, sizeof b);
		const char *value = arg_str(m, "v", val, sizeof val);
		ret = name && value ? api->http_set_header(ctx, name, value)
		                    : LEDGE_EINVAL;
		return answer(w, ret, NULL);
	}
	if (strcmp(f, "resp") == 0) {
		const char *ct = arg_str(m, "ct", b, sizeof b);
		ret = api->http_respond(ctx,
		    (int)wire_as_i64(wire_get(m, "st"), 200), ct, d.data,
		    d.len);
		return answer(w, ret, NULL);
	}
	if (strcmp(f, "fetch") == 0) {
		char meth[32], *url = NULL;
		const char *out = arg_str(m, "o", b, sizeof b);
		wire_v hv = wire_get(m, "h");
		size_t nh = wire_is_array(hv) ? wire_len(hv) / 2 : 0;
		ledge_header hs[FETCH_MAX_HEADERS];
		char *hbuf[2 * FETCH_MAX_HEADERS];
		ledge_http_request req = { 0 };
		ledge_http_response resp = { 0 };
		size_t got = 0;

		if (nh > FETCH_MAX_HEADERS) {
			nh = FETCH_MAX_HEADERS;
		}
		for (size_t i = 0; i < 2 * nh; i++) {
			if ((hbuf[i] = wire_str_dup(wire_at(hv, i))) == NULL) {
				break;
			}
			got++;
		}
		for (size_t i = 0; i < got / 2; i++) {
			hs[i].name = hbuf[2 * i];
			hs[i].value = hbuf[2 * i + 1];
		}
		url = wire_str_dup(wire_get(m, "u"));
		req.method = arg_str(m, "m", meth, sizeof meth);
		req.url = url;
		req.headers = hs;
		req.nheaders = got / 2;
		req.body = d.data;
		req.body_len = d.len;
		req.timeout_ms = (uint32_t)wire_as_u64(wire_get(m, "ms"), 0);
		ret = out && url && got == 2 * nh
		    ? api->http_fetch(ctx, out, &req, &resp)
		    : LEDGE_EINVAL;
		for (size_t i = 0; i < got; i++) {
			free(hbuf[i]);
		}
		free(url);
		wire_map(w, 4);
		wire_str(w, "ret");
		wire_i64(w, ret);
		wire_str(w, "st");
		wire_i64(w, ret == LEDGE_OK ? resp.status : 0);
		wire_str(w, "h");
		wire_array(w, ret == LEDGE_OK ? resp.nheaders * 2 : 0);
		for (size_t i = 0; ret == LEDGE_OK && i < resp.nheaders; i++) {
			wire_str(w, resp.headers[i].name);
			wire_str(w, resp.headers[i].value);
		}
		wire_str(w, "v");
		wire_bin(
		    w, resp.body.data, ret == LEDGE_OK ? resp.body.len : 0);
		return ret;
	}
	return answer(w, LEDGE_ENOTSUP, NULL);
}

/* ------------------------------------------------------------------ */
/* Running a callback                                                  */

/* The callback to run; for an HTTP request also its method, path and
 * query, which nearly every HTTP handler asks for (one round trip
 * less).  LEDGE_OK, LEDGE_ENOMEM, or msg_chan_send's code. */
static int
send_run(struct isolate *iso, ledge_ctx *ctx, enum iso_kind kind,
    const void *msg, size_t len)
{
	const char *method =
	    kind == ISO_CALL ? ctx->api->http_method(ctx) : NULL;
	struct wire_w w;
	const void *data;
	size_t n;
	int rv;

	if (wire_w_init(&w) != 0) {
		return LEDGE_ENOMEM;
	}
	wire_map(&w, method ? 6 : 3);
	wire_str(&w, "op");
	wire_str(&w, "run");
	wire_str(&w, "kind");
	wire_u64(&w, (uint64_t)kind);
	wire_str(&w, "msg");
	wire_bin(&w, msg, len);
	if (method != NULL) {
		wire_str(&w, "hm");
		wire_str(&w, method);
		wire_str(&w, "hp");
		put_opt_str(&w, ctx->api->http_path(ctx));
		wire_str(&w, "hq");
		put_opt_str(&w, ctx->api->http_query(ctx));
	}
	data = wire_data(&w, &n);
	rv = w.oom ? LEDGE_ENOMEM : msg_chan_send(iso->ch, data, n);
	wire_w_fini(&w);
	return rv;
}

/* A limit broken, or the host gone?  Sets *fail and a detail. */
static bool
check_host(struct isolate *iso, int64_t deadline, char *why, size_t len,
    enum iso_fail *fail)
{
	uint64_t mb;

	if ((*fail = host_died(iso, why, len)) != ISO_OK) {
		return true;
	}
	if (deadline > 0 && (int64_t)clock_mono_ms() >= deadline) {
		snprintf(why, len, "the callback ran past timeout_ms %u",
		    iso->timeout_ms);
		*fail = ISO_TIMEOUT;
		return true;
	}
	if (iso->memory_mb > 0 &&
	    (mb = host_rss_mb(iso->pid)) > iso->memory_mb) {
		snprintf(why, len, "resident size %llu MiB, memory_mb %u",
		    (unsigned long long)mb, iso->memory_mb);
		*fail = ISO_MEMORY;
		return true;
	}
	return false;
}

static const char *const kind_text[] = { "cast", "call", "init", "stop" };

int
isolate_run(struct isolate *iso, const char *code_path, ledge_ctx *ctx,
    enum iso_kind kind, const void *msg, size_t len, enum iso_fail *fail)
{
	int64_t deadline = 0;
	char why[512];
	int rc = LEDGE_EFAIL;
	int deferred = LEDGE_OK; /* first failure of a write not waited for */

	*fail = ISO_OK;
	if (iso->pid > 0 &&
	    (iso->code_path == NULL ||
	        strcmp(iso->code_path, code_path) != 0)) {
		stop_host(iso); /* new code: a new host */
	}
	enum iso_fail died;
	if (iso->pid > 0 &&
	    (died = host_died(iso, why, sizeof why)) != ISO_OK) {
		/* Between two events (killed from outside, or a thread of
		 * its own): this event runs in a new host, nothing was in
		 * flight. */
		atomic_fetch_add(&iso->fails[died], 1);
		rlog_write(iso->log, RLOG_ERROR, iso->name,
		    "host process %s between two events: %s; a new one "
		    "takes the next event",
		    fail_text[died], why);
		stop_host(iso);
	}
	if (iso->pid == 0) {
		stop_host(iso); /* what a dead host left */
		int rv = start_host(iso, code_path);
		if (rv != LEDGE_OK) {
			*fail = ISO_BROKEN;
			return rv == LEDGE_ENOMEM ? rv : LEDGE_EFAIL;
		}
	}
	if (send_run(iso, ctx, kind, msg, len) != 0) {
		if ((*fail = host_died(iso, why, sizeof why)) == ISO_OK) {
			snprintf(why, sizeof why, "cannot hand it the event");
			*fail = ISO_CRASHED;
		}
		goto failed;
	}
	if (iso->timeout_ms > 0) {
		deadline = (int64_t)clock_mono_ms() + iso->timeout_ms;
	}
	for (;;) {
		void *data = NULL;
		size_t n = 0;
		int r = msg_chan_recv(iso->ch, ISOLATE_TICK_MS, &data, &n);
		struct wire_r req;
		wire_v root;

		if (r != 0) {
			if (r != LEDGE_ETIMEDOUT) {
				snprintf(why, sizeof why, "its channel broke");
				*fail = ISO_BROKEN;
				goto failed;
			}
			if (check_host(iso, deadline, why, sizeof why, fail)) {
				goto failed;
			}
			continue;
		}
		/* The parsed tree points into data: both go together. */
		r = wire_parse(&req, data, n);
		if (r != 0) {
			free(data);
			snprintf(
			    why, sizeof why, "it sent a malformed message");
			*fail = ISO_BROKEN;
			goto failed;
		}
		root = wire_root(&req);
		if (wire_str_eq(wire_get(root, "op"), "done")) {
			rc =
			    (int)wire_as_i64(wire_get(root, "rc"), LEDGE_EFAIL);
			wire_r_fini(&req);
			free(data);
			if (rc == LEDGE_OK && deferred != LEDGE_OK) {
				/* The function went on past a write the node
				 * then could not do: none of it may count. */
				log_str(ctx, LEDGE_LOG_WARN,
				    "a state write or reply failed after the "
				    "function went on (%s); the callback fails",
				    ledge_strerror(deferred));
				rc = deferred;
			}
			break;
		}
		if (wire_str_eq(wire_get(root, "op"), "log")) {
			const char *t;
			size_t tl;
			if (wire_as_str(wire_get(root, "text"), &t, &tl)) {
				log_str(ctx,
				    (int)wire_as_u64(
				        wire_get(root, "lv"), LEDGE_LOG_INFO),
				    "%.*s", (int)tl, t);
			}
			wire_r_fini(&req);
			free(data);
			continue;
		}
		if (wire_str_eq(wire_get(root, "op"), "api")) {
			struct wire_w w;
			const void *out;
			size_t olen;
			if (wire_w_init(&w) != 0) {
				wire_r_fini(&req);
				free(data);
				snprintf(why, sizeof why, "out of memory");
				*fail = ISO_BROKEN;
				goto failed;
			}
			/* "nr": a write the host did not wait for (it
			 * checked the rules itself): no answer. */
			bool nr = wire_as_bool(wire_get(root, "nr"), false);
			int ret = serve_api(ctx, root, &w);
			wire_r_fini(&req);
			free(data);
			if (nr) {
				if (ret != LEDGE_OK && deferred == LEDGE_OK) {
					deferred = ret;
				}
				r = 0;
			} else {
				out = wire_data(&w, &olen);
				r = w.oom ? -1
				          : msg_chan_send(iso->ch, out, olen);
			}
			wire_w_fini(&w);
			if (r != 0) {
				snprintf(why, sizeof why,
				    "cannot answer its request");
				*fail = ISO_BROKEN;
				goto failed;
			}
			/* A slow call through the node counts in the time
			 * too; the limit is on the whole callback. */
			if (check_host(iso, deadline, why, sizeof why, fail)) {
				goto failed;
			}
			continue;
		}
		wire_r_fini(&req);
		free(data);
		snprintf(why, sizeof why, "it sent an unknown message");
		*fail = ISO_BROKEN;
		goto failed;
	}
	/* After the callback: a leak shows here. */
	if (iso->memory_mb > 0 && check_host(iso, 0, why, sizeof why, fail)) {
		goto failed;
	}
	if (kind == ISO_STOP) {
		stop_host(iso); /* the instance is done with it */
	}
	return rc;

failed : {
	char d[700];
	snprintf(d, sizeof d, "during a %s: %s", kind_text[kind], why);
	fail_log(iso, *fail, d);
	stop_host(iso);
	return *fail == ISO_TIMEOUT ? LEDGE_ETIMEDOUT : LEDGE_EFAIL;
}
}
