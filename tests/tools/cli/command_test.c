/*
 * command_test.c - whole domain commands (tools/cli/cmd_*.c over
 * command.c and client.c) against a small fake orchestrator (a real msg
 * server on ipc://) that checks the requests they send: code uploads,
 * reloads, invoke, state get, logs -f.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/sha256.h"
#include "cli/cmd_function.h"
#include "cli/cmd_invoke.h"
#include "cli/cmd_logs.h"
#include "cli/cmd_node.h"
#include "cli/cmd_state.h"
#include "cli/cmd_workflow.h"
#include "cli/text.h"
#include "cli_helpers.h"
#include "code/code.h"
#include "net/msg.h"
#include "net/wire.h"
#include "platform/loop.h"

static struct loop *L;
static pthread_t T;
static struct msg_server *S;
static char URL[128];
static pthread_mutex_t M = PTHREAD_MUTEX_INITIALIZER;
static char seen[1024];  /* request types, comma-separated */
static char have[8][65]; /* code hashes received */
static int nhave;
static char last_start_code[512]; /* the code map of the last wf.start */
static char last_key[64];         /* state.get's key, escaped */
static int nlogs;

static void
reply_w(struct msg_req *req, struct wire_w *x)
{
	size_t n;
	const void *p = wire_data(x, &n);
	msg_reply(req, p, n);
	wire_w_fini(x);
}

static void
reply_ok(struct msg_req *req)
{
	struct wire_w x;
	wire_w_init(&x);
	wire_map(&x, 1);
	ok_true(&x);
	reply_w(req, &x);
}

static bool
known(const char *p, size_t n)
{
	for (int i = 0; i < nhave; i++) {
		if (strlen(have[i]) == n && memcmp(have[i], p, n) == 0) {
			return true;
		}
	}
	return false;
}

static void
fake_start(struct msg_req *req, wire_v root)
{
	wire_v code = wire_get(root, "code");
	const char *need[8];
	size_t needn[8], nneed = 0;
	struct wire_w x;

	last_start_code[0] = '\0';
	for (size_t i = 0; i < wire_len(code); i++) {
		const char *k, *h;
		size_t kn, hn;
		wire_as_str(wire_key_at(code, i), &k, &kn);
		wire_as_str(wire_val_at(code, i), &h, &hn);
		snprintf(last_start_code + strlen(last_start_code),
		    sizeof last_start_code - strlen(last_start_code),
		    "%.*s=%.8s;", (int)kn, k, h);
		if (!known(h, hn) && nneed < 8) {
			need[nneed] = h;
			needn[nneed++] = hn;
		}
	}
	wire_w_init(&x);
	if (nneed > 0) {
		wire_map(&x, 4);
		wire_str(&x, "ok");
		wire_bool(&x, false);
		kv_str(&x, "code", "need-code");
		kv_str(&x, "error", "code missing");
		wire_str(&x, "need");
		wire_array(&x, nneed);
		for (size_t i = 0; i < nneed; i++) {
			wire_strn(&x, need[i], needn[i]);
		}
	} else {
		wire_map(&x, 4);
		ok_true(&x);
		wire_str(&x, "placed");
		wire_array(&x, 1);
		placed_part(&x, "echo", "function", "function", "edge-1", 1);
		wire_str(&x, "pending");
		wire_array(&x, 0);
		wire_str(&x, "new");
		wire_bool(&x, true);
	}
	reply_w(req, &x);
}

static void
fake_code_put(struct msg_req *req, wire_v root)
{
	const void *p;
	const char *h;
	size_t n, hn;
	char hex[65];

	cr_assert(wire_as_bin(wire_get(root, "bytes"), &p, &n));
	cr_assert(wire_as_str(wire_get(root, "hash"), &h, &hn));
	sha256_hex(p, n, hex);
	cr_assert(hn == 64 && memcmp(hex, h, 64) == 0, "hash checked");
	if (nhave < 8) {
		memcpy(have[nhave++], hex, 65);
	}
	reply_ok(req);
}

static void
fake_logs(struct msg_req *req, wire_v root)
{
	uint64_t after = wire_as_u64(wire_get(root, "after"), 99);
	struct wire_w x;
	char line[32];

	snprintf(
	    line, sizeof line, "line after %llu", (unsigned long long)after);
	wire_w_init(&x);
	wire_map(&x, 3);
	ok_true(&x);
	wire_str(&x, "lines");
	wire_array(&x, 1);
	log_line(&x, after + 1, "wf/f", "info", line);
	kv_u64(&x, "next", after + 1);
	reply_w(req, &x);
	if (++nlogs == 3) {
		kill(getpid(), SIGINT); /* Ctrl-C for `logs -f` */
	}
}

static void
fake(void *arg, struct msg_req *req)
{
	size_t n;
	const void *d = msg_req_data(req, &n);
	struct wire_r r;
	wire_v root;
	const char *t;
	size_t tn;

	(void)arg;
	cr_assert_eq(wire_parse(&r, d, n), 0);
	root = wire_root(&r);
	cr_assert(wire_as_str(wire_get(root, "t"), &t, &tn));
	pthread_mutex_lock(&M);
	snprintf(seen + strlen(seen), sizeof seen - strlen(seen), "%s%.*s",
	    seen[0] ? "," : "", (int)tn, t);
	if (wire_str_eq(wire_get(root, "t"), "wf.start")) {
		cr_assert(wire_str_eq(wire_get(root, "name"), "t1"));
		fake_start(req, root);
	} else if (wire_str_eq(wire_get(root, "t"), "code.put")) {
		fake_code_put(req, root);
	} else if (wire_str_eq(wire_get(root, "t"), "fn.reload")) {
		struct wire_w x;
		cr_assert(nhave > 0, "code.put came first");
		wire_w_init(&x);
		wire_map(&x, 2);
		ok_true(&x);
		wire_str(&x, "nodes");
		wire_array(&x, 1);
		wire_str(&x, "edge-1");
		reply_w(req, &x);
	} else if (wire_str_eq(wire_get(root, "t"), "invoke")) {
		struct wire_w x;
		const void *p;
		size_t pn;
		cr_assert(wire_as_bool(wire_get(root, "call"), false));
		cr_assert(wire_as_bin(wire_get(root, "data"), &p, &pn));
		cr_assert_eq(wire_as_u64(wire_get(root, "timeout_ms"), 0), 700);
		wire_w_init(&x);
		wire_map(&x, 2);
		ok_true(&x);
		wire_str(&x, "reply");
		wire_bin(&x, p, pn);
		reply_w(req, &x);
	} else if (wire_str_eq(wire_get(root, "t"), "state.get")) {
		const void *p;
		size_t pn;
		cr_assert(wire_as_bin(wire_get(root, "key"), &p, &pn));
		char *e = text_escape(p, pn, true);
		snprintf(last_key, sizeof last_key, "%s", e);
		free(e);
		struct wire_w x;
		wire_w_init(&x);
		wire_map(&x, 2);
		ok_true(&x);
		wire_str(&x, "entries");
		wire_array(&x, 1);
		wire_map(&x, 2);
		wire_str(&x, "key");
		wire_bin(&x, p, pn);
		wire_str(&x, "value");
		wire_bin(&x, "v", 1);
		reply_w(req, &x);
	} else if (wire_str_eq(wire_get(root, "t"), "logs")) {
		fake_logs(req, root);
	} else {
		reply_ok(req);
	}
	pthread_mutex_unlock(&M);
	wire_r_fini(&r);
}

static void *
loop_main(void *arg)
{
	(void)arg;
	loop_run(L);
	return NULL;
}

static void
stop_loop(void *arg)
{
	(void)arg;
	msg_server_free(S);
	loop_exit(L);
}

static void
fake_up(void)
{
	char err[256];
	snprintf(URL, sizeof URL, "ipc:///tmp/ledge-cli-test-%ld.sock",
	    (long)getpid());
	cr_assert_eq(loop_new(&L), 0);
	cr_assert_eq(
	    msg_server_new(L, URL, NULL, fake, NULL, &S, err, sizeof err), 0,
	    "%s", err);
	pthread_create(&T, NULL, loop_main, NULL);
	setenv("LEDGE_ORCHESTRATOR", URL, 1);
}

static void
fake_down(void)
{
	loop_post(L, stop_loop, NULL);
	pthread_join(T, NULL);
	loop_free(L);
}

static const char *
seen_now(void)
{
	static char copy[1024];
	pthread_mutex_lock(&M);
	snprintf(copy, sizeof copy, "%s", seen);
	seen[0] = '\0';
	pthread_mutex_unlock(&M);
	return copy;
}

TestSuite(fake, .init = fake_up, .fini = fake_down, .timeout = 60);

/* A scratch folder with echo.so and a workflow naming it. */
static void
scratch(char *dir, size_t n, const char *yaml)
{
	const char *fx = getenv("LEDGE_FIXTURES");
	char cmd[1024], path[512];
	FILE *fp;

	cr_assert_not_null(fx, "LEDGE_FIXTURES is set by meson");
	snprintf(dir, n, "/tmp/ledge-cli-wf-XXXXXX");
	cr_assert_not_null(mkdtemp(dir));
	snprintf(cmd, sizeof cmd, "cp '%s/echo.so' '%s/echo.so'", fx, dir);
	cr_assert_eq(system(cmd), 0);
	snprintf(path, sizeof path, "%s/t1.yaml", dir);
	cr_assert_not_null(fp = fopen(path, "w"));
	fputs(yaml, fp);
	fclose(fp);
}

static void
scratch_rm(const char *dir)
{
	char cmd[600];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	cr_expect_eq(system(cmd), 0);
}

Test(fake, workflow_start_uploads_only_missing_code)
{
	char dir[64], path[128], hash[65], err[256];
	struct cap c;
	int rc;

	scratch(dir, sizeof dir,
	    "workflow: t1\nfunctions:\n  echo:\n    code: echo.so\n"
	    "  again:\n    code: ./echo.so\n");
	snprintf(path, sizeof path, "%s/t1.yaml", dir);

	rc = RUN(cmd_workflow_main, &c, "start", path);
	cr_expect_eq(rc, 0, "stderr: %s", c.err);
	cr_expect_str_eq(seen_now(), "wf.start,code.put,wf.start");
	cr_expect_str_eq(c.out,
	    "workflow t1 started: 1 part placed, 0 pending\n"
	    "  PART  KIND      TYPE      NODE\n"
	    "  echo  function  function  edge-1\n");
	cr_expect_not_null(strstr(c.err, "uploading "), "%s", c.err);
	cap_free(&c);

	/* Both keys, as written, name the same hash, sent once. */
	snprintf(path, sizeof path, "%s/echo.so", dir);
	cr_assert_eq(code_hash_file(path, hash, err, sizeof err), 0);
	char want[256];
	snprintf(want, sizeof want, "echo.so=%.8s;./echo.so=%.8s;", hash, hash);
	cr_expect_str_eq(last_start_code, want);

	/* The domain has the code now: nothing is sent again. */
	snprintf(path, sizeof path, "%s/t1.yaml", dir);
	rc = RUN(cmd_workflow_main, &c, "start", path, "--json");
	cr_expect_eq(rc, 0);
	cr_expect_str_eq(seen_now(), "wf.start");
	cr_expect_not_null(strstr(c.out, "\"uploaded\":[]"), "%s", c.out);
	cr_expect_str_eq(c.err, "");
	cap_free(&c);
	scratch_rm(dir);
}

Test(fake, workflow_start_sends_nothing_for_an_invalid_workflow)
{
	char dir[64], path[128];
	struct cap c;
	int rc;

	scratch(dir, sizeof dir,
	    "workflow: t1\nfunctions:\n  echo:\n    cde: echo.so\n");
	snprintf(path, sizeof path, "%s/t1.yaml", dir);
	rc = RUN(cmd_workflow_main, &c, "start", path);
	cr_expect_eq(rc, 1);
	cr_expect_str_eq(seen_now(), "");
	cr_expect_not_null(
	    strstr(c.err, "t1.yaml:4:5: unknown key 'cde'"), "%s", c.err);
	cap_free(&c);

	rc = RUN(cmd_workflow_main, &c, "start", "/nonexistent/x.yaml");
	cr_expect_eq(rc, 1);
	cr_expect_str_eq(seen_now(), "");
	cr_expect_not_null(strstr(c.err, "/nonexistent/x.yaml"), "%s", c.err);
	cap_free(&c);
	scratch_rm(dir);
}

Test(fake, function_reload_puts_code_first)
{
	char dir[64], path[128];
	struct cap c;
	int rc;

	scratch(dir, sizeof dir, "workflow: t1\n");
	snprintf(path, sizeof path, "%s/echo.so", dir);
	rc = RUN(cmd_function_main, &c, "reload", "t1", "echo", path);
	cr_expect_eq(rc, 0, "%s", c.err);
	cr_expect_str_eq(seen_now(), "code.put,fn.reload");
	cr_expect_not_null(strstr(c.out, "reloaded t1/echo with code "));
	cr_expect_not_null(strstr(c.out, " on edge-1\n"));
	cap_free(&c);

	rc = RUN(
	    cmd_function_main, &c, "reload", "t1", "echo", "/nonexistent.so");
	cr_expect_eq(rc, 1);
	cr_expect_str_eq(seen_now(), "");
	cr_expect_str_eq(c.err,
	    "ledge function reload: /nonexistent.so: cannot read: No such "
	    "file or directory\n");
	cap_free(&c);
	scratch_rm(dir);
}

Test(fake, invoke_call_state_get_and_simple_commands)
{
	struct cap c;
	int rc;

	rc = RUN(cmd_invoke_main, &c, "wf", "echo", "--call", "--timeout",
	    "700", "--", "-payload");
	cr_expect_eq(rc, 0, "%s", c.err);
	cr_expect_str_eq(c.out, "-payload");
	cr_expect_str_eq(seen_now(), "invoke");
	cap_free(&c);

	rc = RUN(cmd_state_main, &c, "get", "wf", "f", "k\\x00\\\\");
	cr_expect_eq(rc, 0, "%s", c.err);
	cr_expect_str_eq(last_key, "k\\x00\\\\");
	cr_expect_str_eq(c.out, "k\\x00\\\\ = v\n");
	cap_free(&c);

	rc = RUN(cmd_workflow_main, &c, "stop", "t1");
	cr_expect_eq(rc, 0);
	cr_expect_str_eq(c.out, "workflow t1 stopped\n");
	cap_free(&c);
	rc = RUN(cmd_node_main, &c, "drain", "edge-1", "--json");
	cr_expect_eq(rc, 0);
	cr_expect_str_eq(c.out,
	    "{\"ok\":true,\"node\":\"edge-1\",\"moved\":[],"
	    "\"stay\":[]}\n");
	cap_free(&c);
	cr_expect_str_eq(seen_now(), "state.get,wf.stop,node.drain");
}

Test(fake, logs_follow_polls_with_the_cursor_until_ctrl_c)
{
	struct cap c;
	int rc = RUN(cmd_logs_main, &c, "wf", "-f", "--json");

	cr_expect_eq(rc, 0, "%s", c.err);
	cr_expect_str_eq(seen_now(), "logs,logs,logs");
	cr_expect_not_null(strstr(c.out, "\"seq\":1,"), "%s", c.out);
	cr_expect_not_null(strstr(c.out, "\"line\":\"line after 0\"}\n"));
	cr_expect_not_null(strstr(c.out, "\"line\":\"line after 1\"}\n"));
	cr_expect_not_null(strstr(c.out, "\"line\":\"line after 2\"}\n"));
	cap_free(&c);
}
