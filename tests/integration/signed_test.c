/*
 * signed_test.c - signed code (issue 11) with real processes: keys made
 * and code signed by `ledge function keygen|sign`, then `ledge run`,
 * `ledge orchestrator` and `ledge node` started with --trust, each shown
 * code that is unsigned, signed by a key it does not trust, or changed by
 * one byte after it was signed - and signed code, which must run.
 *
 * Functions: echo.so (a call answers with its argument) and tally.so
 * from tests/fixtures, copied into the test's folder so that a signature
 * can sit beside each copy.
 */
#include <criterion/criterion.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "domain.h"
#include "proc.h"

#define ARGS(...) ((const char *const[]) { __VA_ARGS__, NULL })
#define WAIT_MS   10000

static struct domain *dom;

static void
fini(void)
{
	dom_free(dom);
	dom = NULL;
}

TestSuite(signed, .fini = fini, .timeout = 60);

/* `ledge ARGS...` (no orchestrator options): its exit status; stdout and
 * stderr (malloc'd) to *out and *err. */
static int
ledge(const char *const *args, char **out, char **err)
{
	const char *argv[24] = { test_ledge_bin() };
	size_t n = 1;
	for (size_t i = 0; args[i] != NULL && n < 23; i++) {
		argv[n++] = args[i];
	}
	argv[n] = NULL;
	return dom_exec(argv, 30000, out, err);
}

static void
ledge_ok(const char *const *args)
{
	char *out = NULL, *err = NULL;
	int rc = ledge(args, &out, &err);
	cr_assert_eq(rc, 0, "ledge %s: exit %d: %s", args[0], rc, err);
	free(out);
	free(err);
}

/* Copy fixture `name` (e.g. "echo.so") into the domain's folder; the
 * copy's path (malloc'd). */
static char *
fixture_copy(const char *name, const char *as)
{
	char *src = dom_fmt(
	    "%s/%s", test_path("LEDGE_FIXTURES", "build/tests/fixtures"), name);
	char *dst = dom_fmt("%s/%s", dom->dir, as);
	char *out = NULL, *err = NULL;
	cr_assert_eq(dom_exec(ARGS("/bin/cp", src, dst), 10000, &out, &err), 0,
	    "cp %s %s: %s", src, dst, err);
	free(out);
	free(err);
	free(src);
	return dst;
}

/* Flip one byte in the middle of a file. */
static void
flip_byte(const char *path)
{
	FILE *fp = fopen(path, "r+b");
	long n;
	int c;
	cr_assert_not_null(fp, "%s", path);
	fseek(fp, 0, SEEK_END);
	n = ftell(fp);
	fseek(fp, n / 2, SEEK_SET);
	c = fgetc(fp);
	fseek(fp, n / 2, SEEK_SET);
	fputc(c ^ 0x01, fp);
	fclose(fp);
}

/* A key pair DIR/NAME.key, DIR/NAME.pub; the public key's path. */
static char *
keygen(const char *name)
{
	char *prefix = dom_fmt("%s/%s", dom->dir, name);
	char *pub = dom_fmt("%s.pub", prefix);
	ledge_ok(ARGS("function", "keygen", prefix));
	free(prefix);
	return pub;
}

static void
sign(const char *key, const char *file)
{
	char *k = dom_fmt("%s/%s.key", dom->dir, key);
	ledge_ok(ARGS("function", "sign", "--key", k, file));
	free(k);
}

/* `ledge ARGS` through the domain: demands exit status `want`; what it
 * printed, stdout then stderr (malloc'd). */
static char *
cli_expect(int want, const char *const *args)
{
	char *out = NULL, *err = NULL;
	int rc = dom_cli(dom, args, &out, &err);
	if (rc != want) {
		dom_dump(dom, stderr, 30);
	}
	cr_assert_eq(rc, want,
	    "%s ...: exit %d, want %d\nstdout: %s\nstderr: %s", args[0], rc,
	    want, out, err);
	char *both = dom_fmt("%s%s", out ? out : "", err ? err : "");
	free(out);
	free(err);
	return both;
}

/* A call of WF/FN with `data` answers `want` (polled while it is being
 * placed, or reloaded). */
static void
answers_with(const char *wf, const char *fn, const char *data, const char *want)
{
	int64_t end = dom_now_ms() + WAIT_MS;
	char *out = NULL, *err = NULL;
	int rc;
	for (;;) {
		rc = dom_cli(
		    dom, ARGS("invoke", "--call", wf, fn, data), &out, &err);
		if ((rc == 0 && out != NULL && strcmp(out, want) == 0) ||
		    dom_now_ms() > end) {
			break;
		}
		free(out);
		free(err);
		out = err = NULL;
		dom_nap_ms(50);
	}
	if (rc != 0) {
		dom_dump(dom, stderr, 30);
	}
	cr_assert_eq(rc, 0, "invoke %s/%s: exit %d: %s", wf, fn, rc, err);
	cr_assert_str_eq(out, want);
	free(out);
	free(err);
}

/* A call of WF/FN answers with its argument (echo.so). */
static void
answers(const char *wf, const char *fn, const char *data)
{
	answers_with(wf, fn, data, data);
}

/* A call of WF/FN fails: it does not run. */
static void
refused(const char *wf, const char *fn)
{
	char *out = NULL, *err = NULL;
	int rc =
	    dom_cli(dom, ARGS("invoke", "--call", wf, fn, "x"), &out, &err);
	cr_expect_neq(rc, 0, "%s/%s answered: %s", wf, fn, out);
	free(out);
	free(err);
}

/* Poll `node list` until `name` is up. */
static void
wait_up(const char *name)
{
	cr_assert_eq(dom_wait_health(dom, name, "up", WAIT_MS), 0,
	    "node %s never came up", name);
}

static char *
wf_file(const char *name, const char *wf, const char *code)
{
	char *text = dom_fmt("workflow: %s\n"
	                     "functions:\n"
	                     "  e:\n"
	                     "    code: %s\n",
	    wf, code);
	char *p = dom_file(dom, name, text);
	cr_assert_not_null(p);
	free(text);
	return p;
}

static void
expect_in(const char *text, const char *needle)
{
	cr_expect(text != NULL && strstr(text, needle) != NULL,
	    "want '%s' in:\n%s", needle, text ? text : "(nothing)");
}

/* ------------------------------------------------------------------ */

Test(signed, sign_writes_a_signature_that_names_its_key)
{
	char *out = NULL, *err = NULL, *key, *code;
	int rc;

	dom = dom_new("signed-cli", NULL);
	cr_assert_not_null(dom);
	free(keygen("k"));
	key = dom_fmt("%s/k.key", dom->dir);
	struct stat st;
	cr_assert_eq(stat(key, &st), 0);
	cr_expect_eq(st.st_mode & 0777, 0600, "k.key is mode %o",
	    (unsigned)(st.st_mode & 0777));
	/* Never overwritten. */
	char *prefix = dom_fmt("%s/k", dom->dir);
	rc = ledge(ARGS("function", "keygen", prefix), &out, &err);
	cr_expect_eq(rc, 1);
	expect_in(err, "exists already");
	free(out);
	free(err);

	code = fixture_copy("echo.so", "echo.so");
	rc = ledge(ARGS("function", "sign", "--key", key, code), &out, &err);
	cr_assert_eq(rc, 0, "%s", err);
	expect_in(out, "signed by key");
	free(out);
	free(err);
	char *sig = dom_fmt("%s.sig", code);
	cr_expect_eq(access(sig, R_OK), 0);

	/* A key others can read is not used. */
	chmod(key, 0644);
	rc = ledge(ARGS("function", "sign", "--key", key, code), &out, &err);
	cr_expect_eq(rc, 1);
	expect_in(err, "can be read by others");
	free(out);
	free(err);
	/* A public key is not a secret key. */
	chmod(key, 0600);
	char *pub = dom_fmt("%s/k.pub", dom->dir);
	rc = ledge(ARGS("function", "sign", "--key", pub, code), &out, &err);
	cr_expect_eq(rc, 1);
	expect_in(err, "is not a ledge secret key");
	free(out);
	free(err);
	rc = ledge(ARGS("function", "sign", code), &out, &err);
	cr_expect_eq(rc, 2);
	expect_in(err, "missing --key");
	free(out);
	free(err);
	free(pub);
	free(sig);
	free(prefix);
	free(key);
	free(code);
}

Test(signed, run_with_trust_starts_only_code_signed_by_a_trusted_key)
{
	char *out = NULL, *err = NULL;
	int rc;

	dom = dom_new("signed-run", NULL);
	cr_assert_not_null(dom);
	char *pub = keygen("k");
	free(keygen("other"));
	char *code = fixture_copy("echo.so", "echo.so");
	char *wf = wf_file("w.yaml", "w", "echo.so");
	char *data = dom_fmt("%s/d", dom->dir);
	const char *const run[] = { test_ledge_bin(), "run", "-L", "none", "-d",
		data, "--trust", pub, wf, NULL };

	/* Unsigned: nothing starts; the message points at `code:`. */
	rc = dom_exec(run, 20000, &out, &err);
	cr_expect_eq(rc, 1, "exit %d: %s", rc, err);
	expect_in(err,
	    "w.yaml:4:11: code 'echo.so': not signed by a trusted "
	    "key: there is no signature");
	expect_in(err, "nothing started");
	free(out);
	free(err);

	/* Signed by a key it does not trust. */
	sign("other", code);
	rc = dom_exec(run, 20000, &out, &err);
	cr_expect_eq(rc, 1, "exit %d: %s", rc, err);
	expect_in(err, "which is not trusted here");
	free(out);
	free(err);

	/* Signed, then one byte changed. */
	sign("k", code);
	flip_byte(code);
	rc = dom_exec(run, 20000, &out, &err);
	cr_expect_eq(rc, 1, "exit %d: %s", rc, err);
	expect_in(err, "the signature does not match the code's bytes");
	free(out);
	free(err);

	/* Signed as it is: it runs, and the domain commands reaching it
	 * are held to the same rule. */
	free(code);
	code = fixture_copy("echo.so", "echo.so");
	sign("k", code);
	const char *const args[] = { "--trust", pub, NULL };
	dom->node_args = args;
	cr_assert_not_null(dom_run(dom, "vm", ARGS(wf), false));
	answers("w", "e", "hello");
	char *log = dom_log(dom->orc);
	expect_in(log, "running only code signed by 1 trusted");
	free(log);

	char *code2 = fixture_copy("echo.so", "echo2.so");
	char *wf2 = wf_file("w2.yaml", "w2", "echo2.so");
	err = cli_expect(1, ARGS("workflow", "start", wf2));
	expect_in(err,
	    "w2.yaml:4:11: code 'echo2.so' is not signed by a "
	    "trusted key: there is no signature");
	free(err);
	err = cli_expect(1, ARGS("function", "reload", "w", "e", code2));
	expect_in(err, "is not signed by a trusted key");
	free(err);
	answers("w", "e", "still");
	sign("k", code2);
	free(cli_expect(0, ARGS("workflow", "start", wf2)));
	answers("w2", "e", "signed");
	free(data);
	free(wf2);
	free(code2);
	free(wf);
	free(code);
	free(pub);
}

Test(signed, hot_reload_waits_for_a_trusted_signature)
{
	dom = dom_new("signed-hot", NULL);
	cr_assert_not_null(dom);
	char *pub = keygen("k");
	char *code = fixture_copy("echo.so", "f.so");
	char *wf = wf_file("w.yaml", "w", "f.so");
	sign("k", code);
	const char *const args[] = { "--trust", pub, NULL };
	dom->node_args = args;
	cr_assert_not_null(dom_run(dom, "vm", ARGS(wf), false));
	answers("w", "e", "one");

	/* New bytes without a signature for them: not loaded. */
	char *tmp = fixture_copy("tally.so", "f.so.new");
	cr_assert_eq(rename(tmp, code), 0);
	int64_t end = dom_now_ms() + WAIT_MS;
	while (dom_log_count(dom->orc, "not signed by a trusted key") == 0 &&
	    dom_now_ms() < end) {
		dom_nap_ms(50);
	}
	char *log = dom_log(dom->orc);
	expect_in(log, "reload failed: code '");
	expect_in(log, "the signature does not match the code's bytes");
	free(log);
	answers("w", "e", "two");

	/* Signed: the signature's arrival loads it (tally.so answers a
	 * call with its count, not with its argument). */
	sign("k", code);
	answers_with("w", "e", "three", "n=0\n");
	free(tmp);
	free(wf);
	free(code);
	free(pub);
}

Test(signed, a_node_with_trust_refuses_code_its_orchestrator_took)
{
	dom = dom_new("signed-node", NULL);
	cr_assert_not_null(dom);
	char *pub = keygen("k");
	char *code = fixture_copy("echo.so", "echo.so");
	char *wf = wf_file("w.yaml", "w", "echo.so");
	cr_assert_not_null(dom_orchestrator(dom, 5.0, NULL));
	const char *const args[] = { "--trust", pub, NULL };
	dom->node_args = args;
	cr_assert_not_null(dom_node(dom, "n1", NULL, false, NULL));
	wait_up("n1");

	/* The orchestrator takes anything; the node loads nothing it
	 * cannot verify, and says why. */
	char *err = cli_expect(0, ARGS("workflow", "start", wf));
	expect_in(err, "warning: n1: ");
	expect_in(err,
	    "w.yaml:4:11: code 'echo.so': not signed by a "
	    "trusted key: there is no signature");
	free(err);
	refused("w", "e");

	/* Changed after signing: the orchestrator keeps no signature that
	 * does not match, and the node still refuses. */
	sign("k", code);
	flip_byte(code);
	err = cli_expect(0, ARGS("workflow", "start", wf));
	expect_in(err, "not signed by a trusted key: there is no signature");
	free(err);
	refused("w", "e");

	free(code);
	code = fixture_copy("echo.so", "echo.so");
	sign("k", code);
	free(cli_expect(0, ARGS("workflow", "start", wf)));
	answers("w", "e", "verified");
	free(wf);
	free(code);
	free(pub);
}

Test(signed, an_orchestrator_with_trust_refuses_unsigned_code_at_its_line)
{
	dom = dom_new("signed-orc", NULL);
	cr_assert_not_null(dom);
	char *pub = keygen("k");
	char *code = fixture_copy("echo.so", "echo.so");
	char *wf = wf_file("w.yaml", "w", "echo.so");
	cr_assert_not_null(dom_orchestrator(dom, 5.0, ARGS("--trust", pub)));
	cr_assert_not_null(dom_node(dom, "n1", NULL, false, NULL));
	wait_up("n1");

	char *err = cli_expect(1, ARGS("workflow", "start", wf));
	expect_in(err,
	    "w.yaml:4:11: code 'echo.so' is not signed by a trusted "
	    "key: there is no signature");
	free(err);
	sign("k", code);
	flip_byte(code);
	err = cli_expect(1, ARGS("workflow", "start", wf));
	expect_in(err,
	    "w.yaml:4:11: code 'echo.so' is not signed by a trusted "
	    "key: the signature does not match the code's bytes");
	free(err);
	/* Nothing of it was kept. */
	int rc;
	struct dj *v = dom_json(dom, ARGS("workflow", "list"), &rc, NULL);
	cr_expect_eq(rc, 0);
	cr_expect_eq(dj_len(dj_get(v, "workflows")), 0);
	dj_free(v);

	free(code);
	code = fixture_copy("echo.so", "echo.so");
	sign("k", code);
	free(cli_expect(0, ARGS("workflow", "start", wf)));
	answers("w", "e", "ok");
	free(wf);
	free(code);
	free(pub);
}
