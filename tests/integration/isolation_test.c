/*
 * isolation_test.c - misbehaving functions (issue 5): `isolation: process`
 * with `limits:`, against the real `ledge run`.
 *
 * tests/fixtures/misbehave.c does what it is told (segfault, abort, exit,
 * spin, leak) after counting in its state.  Each failure must fail only
 * the event in flight - 500 for HTTP, 504 for a timeout, an error for a
 * caller - drop that event's state writes, be logged with the function's
 * name and counted in /metrics, while a workflow beside it answers all
 * along and the function's next event runs in a new host process.
 */
#include <pthread.h>
#include <pwd.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/resource.h>

#include "itest.h"

TestSuite(isolation, .fini = it_fini, .timeout = 120);

/* m's timeout_ms: 400 ms times $LEDGE_TEST_TIME_SCALE (`make tsan` runs
 * every process many times slower: a 32 MiB memset of "leak" then takes
 * about that long by itself). */
static int
timeout_ms(void)
{
	const char *v = getenv("LEDGE_TEST_TIME_SCALE");
	double s = v ? atof(v) : 1.0;
	return (int)(400 * (s >= 1.0 ? s : 1.0));
}

static const char *const iso_wf =
    "workflow: iso\n"
    "functions:\n"
    "  m:\n"
    "    code: @F/misbehave.so\n"
    "    isolation: process\n"
    "    limits: { timeout_ms: %d, memory_mb: 400 }\n"
    "  c:\n"
    "    code: @F/caller.so\n"
    "    outputs: { peer: m }\n"
    "resources:\n"
    "  m_in:\n"
    "    type: http-ingress\n"
    "    config: { path: /m, methods: [POST] }\n"
    "    outputs: { request: m }\n"
    "  c_in:\n"
    "    type: http-ingress\n"
    "    config: { path: /c, methods: [POST] }\n"
    "    outputs: { request: c }\n";

/* Another workflow, in the node's own process. */
static const char *const other_wf = "workflow: other\n"
                                    "functions:\n"
                                    "  e:\n"
                                    "    code: @F/echo.so\n"
                                    "resources:\n"
                                    "  in:\n"
                                    "    type: http-ingress\n"
                                    "    config: { path: /e }\n"
                                    "    outputs: { request: e }\n";

/*
 * The hosts crash on purpose: under AddressSanitizer or ThreadSanitizer
 * let the signal kill them (as it would without one) instead of a SEGV
 * report.
 */
static void
no_segv_reports(void)
{
	static const char *const vars[] = { "ASAN_OPTIONS", "TSAN_OPTIONS" };
	for (size_t i = 0; i < 2; i++) {
		const char *old = getenv(vars[i]);
		char *opts = it_fmt("%s%shandle_segv=0:handle_abort=0",
		    old ? old : "", old && *old ? ":" : "");
		setenv(vars[i], opts, 1);
		free(opts);
	}
}

static struct lrun *
start(const char *tag)
{
	struct lrun *r;
	no_segv_reports();
	r = it_lrun(tag);
	char *wf = it_fmt(iso_wf, timeout_ms());
	it_workflow(r, "iso.yaml", wf);
	free(wf);
	it_workflow(r, "other.yaml", other_wf);
	cr_assert_eq(
	    lrun_start(
	        r, (const char *const[]) { "-n", "t", "-L", "none", NULL }),
	    0, "ledge run did not become ready");
	cr_assert_gt(r->port, 0);
	return r;
}

/* The other workflow answers POST /e (echo: "... body <body>\n"). */
static void
other_answers(struct lrun *r)
{
	char *body = it_body(r->port, "POST", "/e", "still here", 200);
	cr_expect_not_null(strstr(body, "body still here\n"), "%s", body);
	free(body);
}

/* POST /m with `what`; the status; *n and *pid from a 200 answer. */
static int
misbehave(struct lrun *r, const char *what, long *n, long *pid)
{
	struct httpc_resp resp;
	int status;
	it_req(r->port, "POST", "/m", NULL, what, &resp);
	status = resp.status;
	if (status == 200) {
		cr_assert_eq(sscanf(resp.body, "n=%ld pid=%ld", n, pid), 2,
		    "answer: %s", resp.body);
	}
	httpc_resp_free(&resp);
	return status;
}

/* The value of a metrics series (by its full name with labels), or -1. */
static long
metric(struct lrun *r, const char *series)
{
	char *text = it_body(r->port, "GET", "/metrics", NULL, 200);
	char *at = strstr(text, series);
	long v = at ? strtol(at + strlen(series), NULL, 10) : -1;
	free(text);
	return v;
}

static size_t
log_count(struct lrun *r, const char *needle)
{
	char *text = lrun_logtext(r);
	size_t n = str_count(text, needle);
	free(text);
	return n;
}

#define FAILS(reason)                                                          \
	"ledge_host_failures_total{node=\"t\",instance=\"iso/m\","             \
	"reason=\"" reason "\"} "

Test(isolation, crashes_fail_only_their_event_and_the_host_restarts)
{
	struct lrun *r = start("iso-crash");
	static const char *const crashes[] = { "segv", "abort", "exit" };
	long n = 0, pid = 0, n2 = 0, pid2 = 0;

	cr_assert_eq(misbehave(r, "ok", &n, &pid), 200);
	cr_expect_eq(n, 1);
	cr_expect_neq(pid, (long)proc_pid(r->p),
	    "the function ran in the node's own process");
	for (size_t i = 0; i < 3; i++) {
		long x, y;
		cr_expect_eq(misbehave(r, crashes[i], &x, &y), 500,
		    "a host that did '%s' must fail the request with 500",
		    crashes[i]);
		/* The workflow beside it answers, from the same node. */
		other_answers(r);
	}
	cr_assert_eq(misbehave(r, "ok", &n2, &pid2), 200);
	cr_expect_eq(
	    n2, 2, "the writes of the failed events were kept: n=%ld", n2);
	cr_expect_neq(pid2, pid, "the host was not restarted");
	cr_expect_eq(log_count(r, "[iso/m] host process crashed"), 3,
	    "each crash is logged with the function's name");
	cr_expect_eq(metric(r, FAILS("crash")), 3);
	cr_expect_eq(metric(r,
	                 "ledge_host_starts_total{node=\"t\",instance=\"iso/"
	                 "m\"} "),
	    4);
}

struct slow_req {
	struct lrun *r;
	int status;
	int64_t ms;
};

static void *
loop_req(void *arg)
{
	struct slow_req *s = arg;
	struct httpc_resp resp;
	int64_t t0 = it_now_ms();
	if (httpc_once(IT_HOST, s->r->port, IT_HTTP_MS, "POST", "/m", NULL,
	        "loop", 4, &resp) == HTTPC_OK) {
		s->status = resp.status;
		httpc_resp_free(&resp);
	}
	s->ms = it_now_ms() - t0;
	return NULL;
}

Test(isolation, a_function_past_its_timeout_gets_504_and_others_carry_on)
{
	struct lrun *r = start("iso-loop");
	struct slow_req s = { r, 0, 0 };
	pthread_t th;
	long n = 0, pid = 0, n2 = 0, pid2 = 0;
	int answered = 0;

	cr_assert_eq(misbehave(r, "ok", &n, &pid), 200);
	cr_assert_eq(pthread_create(&th, NULL, loop_req, &s), 0);
	/* While m spins, the other workflow answers at once. */
	for (int i = 0; i < 5; i++) {
		int64_t t0 = it_now_ms();
		other_answers(r);
		if (it_now_ms() - t0 < 300) {
			answered++;
		}
		it_sleep_ms(20);
	}
	pthread_join(th, NULL);
	cr_expect_eq(s.status, 504, "a spinning function: status %d", s.status);
	cr_expect_geq(s.ms, timeout_ms() - 50,
	    "answered after %lld ms, before timeout_ms", (long long)s.ms);
	cr_expect_geq(answered, 3, "the other workflow was held up");
	cr_assert_eq(misbehave(r, "ok", &n2, &pid2), 200);
	cr_expect_eq(n2, 2);
	cr_expect_neq(pid2, pid);
	cr_expect_eq(log_count(r, "[iso/m] host process timed out"), 1);
	cr_expect_eq(metric(r, FAILS("timeout")), 1);
}

Test(isolation, a_leaking_function_is_restarted_at_its_memory_limit)
{
	struct lrun *r = start("iso-leak");
	long n = 0, pid = 0, first = 0, n2 = 0;
	int status = 200, tries = 0;

	cr_assert_eq(misbehave(r, "ok", &n, &first), 200);
	/* 32 MiB a request: past 400 MiB within about 13. */
	while (status == 200 && tries++ < 40) {
		status = misbehave(r, "leak", &n, &pid);
	}
	cr_expect_eq(status, 500, "no 500 after %d leaking requests", tries);
	cr_expect_leq(tries, 20);
	cr_assert_eq(misbehave(r, "ok", &n2, &pid), 200);
	cr_expect_neq(pid, first);
	cr_expect_eq(n2, n + 1, "the event that broke the limit was kept");
	cr_expect_eq(metric(r, FAILS("memory")), 1);
	cr_expect_eq(log_count(r,
	                 "[iso/m] host process went over its memory "
	                 "limit"),
	    1);
}

Test(isolation, a_caller_gets_an_error_from_a_failing_isolated_function)
{
	struct lrun *r = start("iso-call");

	char *body = it_body(r->port, "POST", "/c", "ok", 200);
	cr_expect_eq(
	    strncmp(body, "rv=success reply=n=1 pid=", 25), 0, "%s", body);
	free(body);
	it_expect(
	    r->port, "POST", "/c", "segv", 200, "rv=function failed reply=\n");
	it_expect(r->port, "POST", "/c", "loop", 200, "rv=timed out reply=\n");
}

Test(isolation, limits_need_process_isolation)
{
	const char *dir = it_tmpdir("iso-validate");
	char *path = it_fmt("%s/wf.yaml", dir), *fixture, *yaml, *out = NULL;
	FILE *fp;
	int rc;

	fixture = lrun_fixture("misbehave.so");
	yaml = it_fmt("workflow: w\n"
	              "functions:\n"
	              "  f:\n"
	              "    code: %s\n"
	              "    limits: { timeout_ms: 100 }\n"
	              "  g:\n"
	              "    code: %s\n"
	              "    isolation: container\n",
	    fixture, fixture);
	cr_assert_not_null(fp = fopen(path, "w"));
	fputs(yaml, fp);
	fclose(fp);
	rc = lrun_exec((const char *const[]) { "validate", path, NULL }, &out);
	cr_expect_eq(rc, 1);
	cr_expect_not_null(strstr(out,
	                       "wf.yaml:5:13: function 'f': 'limits: "
	                       "{timeout_ms, memory_mb}' need 'isolation: "
	                       "process'"),
	    "%s", out);
	cr_expect_not_null(strstr(out,
	                       "wf.yaml:8:16: 'isolation' must be "
	                       "node"),
	    "%s", out);
	free(out);
	free(yaml);
	free(fixture);
	free(path);
}

/* Hot reload of an isolated function: a new host runs the new code, the
 * state goes on. */
Test(isolation, hot_reload_starts_a_host_with_the_new_code)
{
	struct lrun *r = it_lrun("iso-reload");
	char *from = lrun_fixture("counter_step1.so");
	char *to = it_fmt("%s/counter.so", r->dir);
	char *body;

	cr_assert_eq(copy_file(from, to), 0);
	free(from);
	it_workflow(r, "c.yaml",
	    "workflow: r\n"
	    "functions:\n"
	    "  counter: { code: counter.so, isolation: process }\n"
	    "resources:\n"
	    "  http:\n"
	    "    type: http-ingress\n"
	    "    config: { path: /counter, methods: [GET, POST] }\n"
	    "    outputs: { request: counter }\n");
	cr_assert_eq(
	    lrun_start(
	        r, (const char *const[]) { "-n", "t", "-L", "none", NULL }),
	    0);
	for (int i = 1; i <= 3; i++) {
		body = it_body(r->port, "POST", "/counter", NULL, 200);
		cr_expect_eq(atoi(body), i);
		free(body);
	}
	from = lrun_fixture("counter_step2.so");
	cr_assert_eq(copy_file(from, to), 0); /* a new file, renamed over */
	free(from);
	cr_assert_eq(proc_wait_log(r->p, "[r/counter] reloaded", 15000), 0,
	    "no reload in the log");
	body = it_body(r->port, "POST", "/counter", NULL, 200);
	cr_expect_eq(atoi(body), 5, "step 2 adds 2 to 3: %s", body);
	free(body);
	cr_expect_eq(metric(r,
	                 "ledge_host_starts_total{node=\"t\",instance=\"r/"
	                 "counter\"} "),
	    2);
	free(to);
}

/* A host killed from outside between two events: the next event runs in
 * a new host and succeeds; the death is logged and counted. */
Test(isolation, a_host_killed_between_events_is_replaced)
{
	struct lrun *r = start("iso-kill");
	long n = 0, pid = 0, n2 = 0, pid2 = 0;

	cr_assert_eq(misbehave(r, "ok", &n, &pid), 200);
	cr_assert_eq(kill((pid_t)pid, SIGKILL), 0);
	it_sleep_ms(100);
	cr_assert_eq(misbehave(r, "ok", &n2, &pid2), 200);
	cr_expect_eq(n2, 2);
	cr_expect_neq(pid2, pid);
	cr_expect_eq(
	    log_count(r, "[iso/m] host process crashed between two events"), 1);
	cr_expect_eq(metric(r, FAILS("crash")), 1);
}

/*
 * An isolated function's process gave up what it must not have before its
 * code was loaded: no new privileges through execve, no core files, a
 * bounded number of open files, none of the node's environment but the
 * loader's and sanitizers' settings, and its own private folder to work
 * in - while the node's process keeps all of its own.
 */
Test(isolation, the_host_is_confined_before_it_loads_code)
{
	struct lrun *r;
	char *body, cwd[256] = "";
	int nnp = -1, env = -1;
	unsigned long long core = 1, files = 0;

	int uid = -1, seccomp = -1;
	long long tasks = 0;
	setenv("LEDGE_SECRET_TOKEN", "not for functions", 1);
	r = start("iso-where");
	body = it_body(r->port, "POST", "/m", "where", 200);
	cr_assert_eq(
	    sscanf(body,
	        "nnp=%d core=%llu files=%llu env=%d cwd=%255s uid=%d "
	        "seccomp=%d tasks=%lld",
	        &nnp, &core, &files, &env, cwd, &uid, &seccomp, &tasks),
	    8, "answer: %s", body);
	/* A filter of its own (2: SECCOMP_MODE_FILTER). */
	cr_expect_eq(seccomp, 2, "%s", body);
	if (getuid() == 0) {
		/* Started by root, it runs as nobody, at most 4096 tasks. */
		struct passwd *pw = getpwnam("nobody");
		cr_assert_not_null(pw);
		cr_expect_eq(uid, (int)pw->pw_uid, "%s", body);
		cr_expect(tasks > 0 && tasks <= 4096, "%s", body);
	} else {
		cr_expect_eq(uid, (int)getuid(), "%s", body);
	}
	cr_expect_eq(nnp, 1, "%s", body);
	cr_expect_eq(core, 0, "%s", body);
	cr_expect(files > 0 && files <= 256, "%s", body);
	/* LD_LIBRARY_PATH and the sanitizers' options at most. */
	cr_expect_leq(env, 5, "%s", body);
	cr_expect(strncmp(cwd, "/tmp/ledge-host-", 16) == 0, "%s", body);
	free(body);
	other_answers(r);
	unsetenv("LEDGE_SECRET_TOKEN");
}

/* ------------------------------------------------------------------ */
/* the sandbox                                                         */

/* What each hostile act of misbehave.so is stopped at. */
static const struct {
	const char *act, *call;
} hostile[] = {
	{ "execve", "execve" },
	{ "fork", "clone" }, /* the C library's fork */
	{ "socket", "socket" },
	{ "write", "openat" },
	{ "setuid", "setuid" },
	{ "ptrace", "ptrace" },
};

Test(isolation, a_hostile_function_is_stopped_at_each_forbidden_call)
{
	struct lrun *r = start("iso-hostile");
	char probe[64], msg[128];
	long n, pid;

	for (size_t i = 0; i < sizeof hostile / sizeof hostile[0]; i++) {
		struct httpc_resp resp;
		it_req(r->port, "POST", "/m", NULL, hostile[i].act, &resp);
		cr_expect_eq(resp.status, 500, "%s: %d %s", hostile[i].act,
		    resp.status, resp.body ? resp.body : "");
		httpc_resp_free(&resp);
		snprintf(msg, sizeof msg,
		    "host process was stopped by its sandbox: during a call: "
		    "it called %s, which its sandbox does not allow",
		    hostile[i].call);
		cr_expect_eq(log_count(r, msg), 1, "%s: want '%s' in the log",
		    hostile[i].act, msg);
		/* Its neighbours carry on, and so does it, in a new host. */
		other_answers(r);
		cr_expect_eq(misbehave(r, "ok", &n, &pid), 200);
	}
	cr_expect_eq(metric(r, FAILS("sandbox")),
	    (long)(sizeof hostile / sizeof hostile[0]));
	cr_expect_eq(metric(r, FAILS("crash")), 0);
	/* Nothing it tried happened: no file was written. */
	snprintf(probe, sizeof probe, "/tmp/ledge-probe-%ld", pid);
	cr_expect_neq(access(probe, F_OK), 0, "%s exists", probe);
}

static const char *const allowed_wf =
    "workflow: allowed\n"
    "functions:\n"
    "  m:\n"
    "    code: @F/misbehave.so\n"
    "    isolation: process\n"
    "    sandbox: { allow: [socket, fork] }\n"
    "  off:\n"
    "    code: @F/misbehave.so\n"
    "    isolation: process\n"
    "    sandbox: off\n"
    "resources:\n"
    "  m_in:\n"
    "    type: http-ingress\n"
    "    config: { path: /m, methods: [POST] }\n"
    "    outputs: { request: m }\n"
    "  off_in:\n"
    "    type: http-ingress\n"
    "    config: { path: /off, methods: [POST] }\n"
    "    outputs: { request: off }\n";

Test(isolation, sandbox_allow_lets_a_function_do_only_what_it_names)
{
	struct lrun *r;
	no_segv_reports();
	r = it_lrun("iso-allow");
	it_workflow(r, "allowed.yaml", allowed_wf);
	cr_assert_eq(
	    lrun_start(
	        r, (const char *const[]) { "-n", "t", "-L", "none", NULL }),
	    0, "ledge run did not become ready");

	char *body = it_body(r->port, "POST", "/m", "socket", 200);
	cr_expect_str_eq(body, "did socket\n");
	free(body);
	body = it_body(r->port, "POST", "/m", "fork", 200);
	cr_expect_str_eq(body, "did fork\n");
	free(body);
	/* Not named: still stopped. */
	struct httpc_resp resp;
	it_req(r->port, "POST", "/m", NULL, "execve", &resp);
	if (resp.status != 500) {
		/* Say what happened instead, with the node's log. */
		char *text = lrun_logtext(r);
		cr_expect_eq(resp.status, 500, "status %d, body '%s'; log:\n%s",
		    resp.status, resp.body, text);
		free(text);
	}
	httpc_resp_free(&resp);
	cr_expect_eq(log_count(r,
	                 "it called execve, which its sandbox does "
	                 "not allow"),
	    1);
	/* sandbox: off: no filter; still no privileges (as nobody, or the
	 * node's user, setuid(0) is refused by the kernel, not by a
	 * filter). */
	body = it_body(r->port, "POST", "/off", "where", 200);
	cr_expect(strstr(body, "seccomp=0") != NULL, "%s", body);
	free(body);
	if (getuid() == 0) {
		body = it_body(r->port, "POST", "/off", "setuid", 200);
		cr_expect_str_eq(
		    body, "failed setuid: Operation not permitted\n");
		free(body);
	}
}
