/*
 * cli_test.c - the `ledge` command line as a user meets it: help texts,
 * exit codes, `validate` messages, `run` refusing bad input, `function
 * build`, and what a crashing function does to the node.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "itest.h"

TestSuite(cli, .fini = it_fini, .timeout = 90);

/* Run ledge with `args`; returns the exit status, output in *out. */
static int
ledge(const char *const *args, char **out)
{
	int rc = lrun_exec(args, out);
	cr_assert_neq(rc, -1, "ledge %s did not finish", args[0]);
	cr_assert_not_null(*out);
	return rc;
}

static void
assert_mentions(const char *text, const char *const *words)
{
	for (size_t i = 0; words[i] != NULL; i++) {
		cr_assert_not_null(strstr(text, words[i]),
		    "'%s' not mentioned in:\n%s", words[i], text);
	}
}

Test(cli, help_texts)
{
	static const char *const main_words[] = { "usage: ledge", "run",
		"validate", "function build", "help", NULL };
	static const char *const run_words[] = { "usage: ledge run", "--data",
		"--http", "--workers", "--log-level", "--no-watch", "--no-sync",
		"--store-size", "--name", "SIGHUP", NULL };
	const char *a1[] = { "--help", NULL };
	const char *a2[] = { "help", NULL };
	const char *a3[] = { "help", "run", NULL };
	const char *a4[] = { "run", "--help", NULL };
	const char *a5[] = { "validate", "--help", NULL };
	const char *a6[] = { "function", "build", "--help", NULL };
	char *out;

	cr_assert_eq(ledge(a1, &out), 0);
	assert_mentions(out, main_words);
	free(out);
	cr_assert_eq(ledge(a2, &out), 0);
	assert_mentions(out, main_words);
	free(out);
	cr_assert_eq(ledge(a3, &out), 0);
	assert_mentions(out, run_words);
	free(out);
	cr_assert_eq(ledge(a4, &out), 0);
	assert_mentions(out, run_words);
	free(out);
	cr_assert_eq(ledge(a5, &out), 0);
	cr_assert_not_null(strstr(out, "file:line:col"), "%s", out);
	free(out);
	cr_assert_eq(ledge(a6, &out), 0);
	cr_assert_not_null(strstr(out, "-o FILE"), "%s", out);
	free(out);
}

Test(cli, bad_commands_and_options_exit_2)
{
	const char *a1[] = { "frobnicate", NULL };
	const char *a2[] = { "help", "frobnicate", NULL };
	const char *a3[] = { "run", "--no-such-option", "x.yaml", NULL };
	const char *a4[] = { "run", NULL };
	const char *a5[] = { "run", "--workers", "0", "x.yaml", NULL };
	const char *a6[] = { "run", "--log-level", "loud", "x.yaml", NULL };
	const char *a7[] = { NULL };
	char *out;

	cr_assert_eq(ledge(a1, &out), 2);
	cr_assert_not_null(
	    strstr(out, "unknown command 'frobnicate'"), "%s", out);
	cr_assert_not_null(strstr(out, "usage: ledge"), "%s", out);
	free(out);
	cr_assert_eq(ledge(a2, &out), 2);
	cr_assert_not_null(strstr(out, "frobnicate"), "%s", out);
	free(out);
	cr_assert_eq(ledge(a3, &out), 2);
	cr_assert_not_null(strstr(out, "usage: ledge run"), "%s", out);
	free(out);
	cr_assert_eq(ledge(a4, &out), 2);
	cr_assert_not_null(strstr(out, "no workflow"), "%s", out);
	free(out);
	cr_assert_eq(ledge(a5, &out), 2);
	cr_assert_not_null(strstr(out, "--workers"), "%s", out);
	free(out);
	cr_assert_eq(ledge(a6, &out), 2);
	cr_assert_not_null(strstr(out, "loud"), "%s", out);
	free(out);
	cr_assert_eq(ledge(a7, &out), 2);
	cr_assert_not_null(strstr(out, "usage: ledge"), "%s", out);
	free(out);
}

Test(cli, version)
{
	const char *a[] = { "version", NULL };
	char *out;
	cr_assert_eq(ledge(a, &out), 0);
	cr_assert_eq(strncmp(out, "ledge ", 6), 0, "%s", out);
	cr_assert_not_null(strstr(out, "ABI 1"), "%s", out);
	free(out);
}

Test(cli, validate_accepts_a_valid_workflow)
{
	struct lrun *r = it_lrun("cli-valid");
	const char *path = it_workflow(r, "good.yaml",
	    "workflow: good\n"
	    "functions:\n"
	    "  echo: { code: @F/echo.so }\n"
	    "resources:\n"
	    "  api:\n"
	    "    type: http-ingress\n"
	    "    config: { path: /x }\n"
	    "    outputs: { request: echo }\n");
	const char *a[] = { "validate", path, NULL };
	char *out;

	cr_assert_eq(ledge(a, &out), 0, "%s", out);
	cr_assert_not_null(strstr(out, "ok"), "%s", out);
	cr_assert_not_null(strstr(out, "good"), "%s", out);
	free(out);
}

/* Line 5 has an unknown key, line 7 a file that is not a shared object,
 * line 12 a resource type with a typo, line 17 an output to nowhere. */
static const char bad_wf[] = "workflow: bad\n"
                             "functions:\n"
                             "  echo:\n"
                             "    code: @F/echo.so\n"
                             "    ouputs: { out: echo }\n"
                             "  broken:\n"
                             "    code: @F/not_a_so.so\n"
                             "  magic:\n"
                             "    code: @F/bad_magic.so\n"
                             "resources:\n"
                             "  api:\n"
                             "    type: http-ingres\n"
                             "    config: { path: /x }\n"
                             "  web:\n"
                             "    type: http-ingress\n"
                             "    config: { path: /y }\n"
                             "    outputs: { request: ehco }\n";

Test(cli, validate_reports_every_error_with_file_line_col)
{
	struct lrun *r = it_lrun("cli-invalid");
	const char *path = it_workflow(r, "bad.yaml", bad_wf);
	const char *a[] = { "validate", path, NULL };
	char *out, *want;

	cr_assert_eq(ledge(a, &out), 1, "%s", out);
	want = it_fmt("%s:5:5: unknown key 'ouputs'", path);
	cr_assert_not_null(strstr(out, want), "no '%s' in:\n%s", want, out);
	cr_assert_not_null(strstr(out, "(did you mean 'outputs'?)"), "%s", out);
	free(want);
	want = it_fmt("%s:7:11: code '", path);
	cr_assert_not_null(strstr(out, want), "no '%s' in:\n%s", want, out);
	cr_assert_not_null(strstr(out, "not a shared object"), "%s", out);
	free(want);
	want = it_fmt("%s:9:11: code '", path);
	cr_assert_not_null(strstr(out, want), "no '%s' in:\n%s", want, out);
	cr_assert_not_null(strstr(out, "magic"), "%s", out);
	free(want);
	want = it_fmt("%s:12:", path);
	cr_assert_not_null(strstr(out, want), "no '%s' in:\n%s", want, out);
	cr_assert_not_null(
	    strstr(out, "did you mean 'http-ingress'"), "%s", out);
	free(want);
	want = it_fmt("%s:17:", path);
	cr_assert_not_null(strstr(out, want), "no '%s' in:\n%s", want, out);
	cr_assert_not_null(strstr(out, "ehco"), "%s", out);
	free(want);
	cr_assert_null(strstr(out, ": ok"), "%s", out);
	free(out);
}

Test(cli, run_with_an_invalid_workflow_starts_nothing)
{
	struct lrun *r = it_lrun("cli-run-invalid");
	int status = 0;
	char *log;

	it_workflow(r, "bad.yaml", bad_wf);
	cr_assert_neq(lrun_start(r, NULL), 0, "started an invalid workflow");
	cr_assert_eq(proc_wait(r->p, 10000, &status), 0, "still running");
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) != 0, "status %#x",
	    status);
	log = lrun_logtext(r);
	cr_assert_not_null(strstr(log, "bad.yaml:5:5:"), "%s", log);
	cr_assert_not_null(strstr(log, "nothing started"), "%s", log);
	cr_assert_null(strstr(log, "ready; "), "%s", log);
	cr_assert_null(strstr(log, "listening on"), "%s", log);
	free(log);
}

Test(cli, run_stops_when_an_init_fails_and_names_the_function)
{
	struct lrun *r = it_lrun("cli-init");
	int status = 0;
	char *log;

	it_workflow(r, "wf.yaml",
	    "workflow: wfi\n"
	    "functions:\n"
	    "  starter: { code: @F/init_fails.so }\n"
	    "  fine: { code: @F/echo.so }\n"
	    "resources:\n"
	    "  api:\n"
	    "    type: http-ingress\n"
	    "    config: { path: /x }\n"
	    "    outputs: { request: fine }\n");
	cr_assert_neq(lrun_start(r, NULL), 0, "started with a failed init");
	cr_assert_eq(proc_wait(r->p, 10000, &status), 0, "still running");
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) != 0, "status %#x",
	    status);
	log = lrun_logtext(r);
	cr_assert_not_null(strstr(log, "wfi/starter"), "%s", log);
	cr_assert_not_null(strstr(log, "init failed"), "%s", log);
	cr_assert_null(strstr(log, "ready; "), "%s", log);
	free(log);
}

Test(cli, function_build_makes_a_loadable_function)
{
	const char *dir = it_tmpdir("cli-build");
	char *src =
	    it_fmt("%s/tests/fixtures/echo.c", test_path("LEDGE_SRC", "."));
	char *so = it_fmt("%s/my_echo.so", dir);
	const char *a[] = { "function", "build", src, "-o", so, NULL };
	struct lrun *r;
	char *out, *wf;

	cr_assert_eq(ledge(a, &out), 0, "%s", out);
	free(out);
	cr_assert(it_exists(so), "no %s", so);

	r = it_lrun("cli-build-run");
	wf = it_fmt("workflow: built\n"
	            "functions:\n"
	            "  echo:\n"
	            "    code: %s\n"
	            "    config: { ctype: text/built }\n"
	            "resources:\n"
	            "  api:\n"
	            "    type: http-ingress\n"
	            "    config: { prefix: /b/ }\n"
	            "    outputs: { request: echo }\n",
	    so);
	it_workflow(r, "wf.yaml", wf);
	it_start(r, true);
	it_expect(r->port, "GET", "/b/it?q=1", NULL, 200,
	    "GET /b/it\nquery q=1\nheader x-test=-\nbody \n");
	free(wf);
	free(src);
	free(so);
}

Test(cli, function_build_with_extra_flags)
{
	const char *dir = it_tmpdir("cli-build2");
	char *src = it_fmt(
	    "%s/functions/counter/counter.c", test_path("LEDGE_SRC", "."));
	char *so = it_fmt("%s/c5.so", dir);
	const char *a[] = { "function", "build", src, "-o", so, "--",
		"-DSTEP=5", NULL };
	struct lrun *r;
	char *out, *wf;

	cr_assert_eq(ledge(a, &out), 0, "%s", out);
	free(out);
	r = it_lrun("cli-build2-run");
	wf = it_fmt("workflow: c5\n"
	            "functions:\n"
	            "  counter: { code: %s }\n"
	            "resources:\n"
	            "  api:\n"
	            "    type: http-ingress\n"
	            "    config: { path: /c }\n"
	            "    outputs: { request: counter }\n",
	    so);
	it_workflow(r, "wf.yaml", wf);
	it_start(r, true);
	it_expect(r->port, "POST", "/c", NULL, 200, "5\n");
	it_expect(r->port, "POST", "/c", NULL, 200, "10\n");
	free(wf);
	free(src);
	free(so);
}

Test(cli, function_build_fails_on_a_syntax_error)
{
	const char *dir = it_tmpdir("cli-build-bad");
	char *src = it_fmt("%s/broken.c", dir);
	char *so = it_fmt("%s/broken.so", dir);
	const char *a[] = { "function", "build", src, "-o", so, NULL };
	const char *b[] = { "function", "build", "/nonexistent/x.c", "-o", so,
		NULL };
	const char *c[] = { "function", "build", src, NULL };
	FILE *fp = fopen(src, "w");
	char *out;

	cr_assert_not_null(fp);
	fputs("#include <ledge.h>\nstatic int call(ledge_ctx *ctx, "
	      "ledge_bytes m) { return ledge_reply(ctx, m.data m.len) }\n"
	      "LEDGE_FUNCTION(.name = \"broken\", .call = call);\n",
	    fp);
	fclose(fp);
	cr_assert_neq(ledge(a, &out), 0, "%s", out);
	cr_assert_not_null(
	    strstr(out, "broken.c"), "no compiler message:\n%s", out);
	cr_assert_not_null(strstr(out, "compiler failed"), "%s", out);
	cr_assert(!it_exists(so), "a .so was left behind");
	free(out);
	cr_assert_neq(ledge(b, &out), 0, "%s", out);
	cr_assert_not_null(strstr(out, "/nonexistent/x.c"), "%s", out);
	free(out);
	cr_assert_eq(ledge(c, &out), 2, "%s", out);
	cr_assert_not_null(strstr(out, "-o"), "%s", out);
	free(out);
	free(src);
	free(so);
}

Test(cli, a_crashing_function_stops_the_node_naming_it)
{
	struct lrun *r = it_run1("cli-crash",
	    "workflow: wc\n"
	    "functions:\n"
	    "  boom: { code: @F/crash.so }\n"
	    "resources:\n"
	    "  api:\n"
	    "    type: http-ingress\n"
	    "    config: { path: /boom }\n"
	    "    outputs: { request: boom }\n",
	    true);
	struct httpc_resp resp;
	int status = 0, rv;
	char *log;

	rv = httpc_once(
	    IT_HOST, r->port, 5000, "GET", "/boom", NULL, NULL, 0, &resp);
	/* The node dies with the request: no answer. */
	cr_assert_neq(rv, HTTPC_OK, "answered %d", resp.status);
	cr_assert_eq(proc_wait(r->p, 10000, &status), 0, "still running");
	cr_assert(WIFSIGNALED(status) ||
	        (WIFEXITED(status) && WEXITSTATUS(status) != 0),
	    "status %#x", status);
	log = lrun_logtext(r);
	cr_assert_not_null(strstr(log, "in function wc/boom"), "%s", log);
	free(log);
}

Test(cli, validate_names_a_missing_file)
{
	const char *a[] = { "validate", "/nonexistent/wf.yaml", NULL };
	char *out;
	cr_assert_eq(ledge(a, &out), 1, "%s", out);
	cr_assert_not_null(strstr(out, "/nonexistent/wf.yaml"), "%s", out);
	free(out);
}

static const char small_wf[] = "workflow: small\n"
                               "functions:\n"
                               "  echo: { code: @F/echo.so }\n"
                               "resources:\n"
                               "  api:\n"
                               "    type: http-ingress\n"
                               "    config: { path: /x }\n"
                               "    outputs: { request: echo }\n";

Test(cli, run_refuses_the_same_workflow_twice)
{
	struct lrun *r = it_lrun("cli-twice");
	int status = 0;
	char *log;

	it_workflow(r, "a.yaml", small_wf);
	it_workflow(r, "b.yaml", small_wf);
	cr_assert_neq(lrun_start(r, NULL), 0, "started twice");
	cr_assert_eq(proc_wait(r->p, 10000, &status), 0, "still running");
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) != 0, "status %#x",
	    status);
	log = lrun_logtext(r);
	cr_assert_not_null(strstr(log, "'small'"), "%s", log);
	cr_assert_null(strstr(log, "ready; "), "%s", log);
	free(log);
}

Test(cli, run_says_when_its_http_address_is_taken)
{
	struct lrun *r = it_lrun("cli-port");
	struct sockaddr_in a;
	socklen_t len = sizeof a;
	int fd = socket(AF_INET, SOCK_STREAM, 0), status = 0;
	char addr[32], *log;
	const char *extra[] = { "-H", addr, NULL };

	cr_assert_geq(fd, 0);
	memset(&a, 0, sizeof a);
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	cr_assert_eq(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
	cr_assert_eq(listen(fd, 1), 0);
	cr_assert_eq(getsockname(fd, (struct sockaddr *)&a, &len), 0);
	snprintf(addr, sizeof addr, "127.0.0.1:%d", ntohs(a.sin_port));
	it_workflow(r, "wf.yaml", small_wf);
	cr_assert_neq(lrun_start(r, extra), 0, "started on a taken port");
	cr_assert_eq(proc_wait(r->p, 10000, &status), 0, "still running");
	close(fd);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) != 0, "status %#x",
	    status);
	log = lrun_logtext(r);
	cr_assert_not_null(strstr(log, addr), "%s", log);
	free(log);
}

/*
 * A control listener other hosts could reach without TLS is refused at
 * start, by `ledge run`, `ledge orchestrator` and `ledge node` alike,
 * with what to do instead, and nothing is started or created.
 */
Test(cli, plain_tcp_that_other_hosts_could_reach_is_refused)
{
	struct lrun *r = it_lrun("cli-exposed");
	const char *run_extra[] = { "-L", "tcp://0.0.0.0:7699", NULL };
	char dir[512], *out, *log;
	const char *orc[] = { "orchestrator", "--listen", "tcp://0.0.0.0:7699",
		"-d", dir, NULL };
	const char *node[] = { "node", "--listen", "tcp://192.0.2.1:7699", "-d",
		dir, NULL };
	const char *star[] = { "orchestrator", "-l", "tcp://*:7699", "-d", dir,
		NULL };
	int status = 0;

	it_workflow(r, "wf.yaml", small_wf);
	cr_assert_neq(lrun_start(r, run_extra), 0, "started exposed");
	cr_assert_eq(proc_wait(r->p, 10000, &status), 0, "still running");
	cr_expect(WIFEXITED(status) && WEXITSTATUS(status) == 2, "status %#x",
	    status);
	log = lrun_logtext(r);
	cr_expect_not_null(
	    strstr(log, "ledge run: refusing to listen on tcp://0.0.0.0:7699"),
	    "%s", log);
	cr_expect_not_null(strstr(log, "--insecure"), "%s", log);
	cr_expect_null(strstr(log, "ready; "), "%s", log);
	free(log);

	snprintf(dir, sizeof dir, "%s/never", r->data);
	cr_expect_eq(ledge(orc, &out), 2, "%s", out);
	cr_expect_not_null(strstr(out,
	                       "ledge orchestrator: refusing to listen on "
	                       "tcp://0.0.0.0:7699: other hosts could reach "
	                       "it without TLS"),
	    "%s", out);
	free(out);
	cr_expect_eq(ledge(star, &out), 2, "%s", out);
	free(out);
	cr_expect_eq(ledge(node, &out), 2, "%s", out);
	cr_expect_not_null(
	    strstr(out, "ledge node: refusing to listen on tcp://192.0.2.1"),
	    "%s", out);
	free(out);
	cr_expect_neq(access(dir, F_OK), 0, "%s was created", dir);
}

/*
 * `ledge run` without -L listens for the domain commands on a socket in
 * its data folder, for its user only: the commands find it by --data,
 * and another local user is told "permission denied" naming it.
 */
Test(cli, run_listens_on_a_socket_for_its_user_only)
{
	struct lrun *r = it_lrun("cli-sock");
	char *sock = it_fmt("%s/control.sock", r->data), *out, *url;
	const char *list[] = { "workflow", "list", "--data", r->data, NULL };
	struct stat st;

	unsetenv("LEDGE_ORCHESTRATOR");
	it_workflow(r, "wf.yaml", small_wf);
	cr_assert_eq(lrun_start(r, NULL), 0, "ledge run did not start");
	cr_assert_eq(stat(sock, &st), 0, "%s: %s", sock, strerror(errno));
	cr_expect(S_ISSOCK(st.st_mode));
	cr_expect_eq(st.st_mode & 0777, 0600, "mode %o", st.st_mode & 0777);
	cr_expect_eq(ledge(list, &out), 0, "%s", out);
	cr_expect_not_null(strstr(out, "small"), "%s", out);
	free(out);

	if (geteuid() != 0 || access("/usr/bin/setpriv", X_OK) != 0) {
		cr_log_warn("another user's view skipped: needs root and "
		            "setpriv");
	} else {
		/* The folders on the way may be searched, as a home's are. */
		cr_assert_eq(chmod(r->dir, 0711), 0);
		url = it_fmt("%s/nobody.txt", r->dir);
		const char *argv[] = { "/usr/bin/setpriv", "--reuid=65534",
			"--regid=65534", "--clear-groups", test_ledge_bin(),
			"workflow", "list", "--data", r->data, NULL };
		struct proc *p = proc_start(argv, url);
		int status = -1;
		cr_assert_not_null(p);
		cr_assert_eq(proc_wait(p, 30000, &status), 0);
		out = proc_log(p);
		proc_free(p);
		cr_expect(WIFEXITED(status) && WEXITSTATUS(status) == 1,
		    "status %#x: %s", status, out);
		cr_expect_not_null(strstr(out, "permission denied"), "%s", out);
		cr_expect_not_null(strstr(out, sock), "%s", out);
		cr_expect_null(strstr(out, "small"), "%s", out);
		free(out);
		free(url);
	}
	free(sock);
}

Test(cli, orchestrator_and_node_without_listen_stay_on_this_machine)
{
	const char *dir = it_tmpdir("cli-orcsock");
	char *orclog = it_fmt("%s/orc.log", dir), *nodelog;
	char *sock = it_fmt("%s/.ledge-orc/control.sock", dir), *out;
	const char *orc[] = { test_ledge_bin(), "orchestrator", NULL };
	const char *node[] = { test_ledge_bin(), "node", "--name", "solo",
		"--data", ".ledge-solo", NULL };
	const char *list[] = { "node", "list", NULL };
	struct proc *o, *n;
	struct stat st;

	unsetenv("LEDGE_ORCHESTRATOR");
	unsetenv("LEDGE_DATA");
	/* Both started in dir, as an operator would in a folder of theirs;
	 * the CLI run from there finds the orchestrator. */
	cr_assert_eq(chdir(dir), 0);
	o = proc_start(orc, orclog);
	cr_assert_not_null(o);
	it_procs[it_nprocs++] = o;
	cr_assert_eq(proc_wait_log(o, "ready", 15000), 0, "orchestrator");
	cr_assert_eq(stat(sock, &st), 0, "%s: %s", sock, strerror(errno));
	cr_expect(S_ISSOCK(st.st_mode));
	cr_expect_eq(st.st_mode & 0777, 0600, "mode %o", st.st_mode & 0777);
	nodelog = it_fmt("%s/node.log", dir);
	n = proc_start(node, nodelog);
	cr_assert_not_null(n);
	it_procs[it_nprocs++] = n;
	cr_assert_eq(proc_wait_log(n, "joined the domain", 15000), 0, "node");
	out = proc_log(n);
	cr_expect_not_null(strstr(out, "/.ledge-solo/node.sock"), "%s", out);
	free(out);
	cr_expect_eq(ledge(list, &out), 0, "%s", out);
	cr_expect_not_null(strstr(out, "solo"), "%s", out);
	free(out);
	/* Nothing listens on the network. */
	out = proc_log(o);
	cr_expect_not_null(strstr(out, "listening on ipc://"), "%s", out);
	cr_expect_null(strstr(out, "tcp://"), "%s", out);
	free(out);
	free(nodelog);
	free(sock);
	free(orclog);
}
