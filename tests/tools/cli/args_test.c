/*
 * args_test.c - the arguments of the domain commands (tools/cli/args.c,
 * command.c, usage.c), through whole commands: usage errors exit 2 with
 * a message, --help on every command, an unreachable orchestrator.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cmd_function.h"
#include "cli/cmd_help.h"
#include "cli/cmd_invoke.h"
#include "cli/cmd_logs.h"
#include "cli/cmd_node.h"
#include "cli/cmd_state.h"
#include "cli/cmd_workflow.h"
#include "cli_helpers.h"

static void
expect_usage_error(int rc, struct cap *c, const char *msg)
{
	cr_expect_eq(rc, 2, "exit %d for '%s'", rc, msg);
	cr_expect_not_null(
	    strstr(c->err, msg), "'%s' not in stderr:\n%s", msg, c->err);
	cr_expect_str_eq(c->out, "");
	cap_free(c);
}

Test(args, usage_errors_exit_2_with_a_message)
{
	struct cap c;
	unsetenv("LEDGE_ORCHESTRATOR");
	cr_assert_eq(cmd_workflow_main(0, NULL), 2);
	expect_usage_error(RUN(cmd_workflow_main, &c, "bogus"), &c,
	    "ledge workflow: unknown command 'bogus'");
	expect_usage_error(RUN(cmd_workflow_main, &c, "show"), &c,
	    "ledge workflow show: missing NAME\nusage: ledge workflow show");
	expect_usage_error(RUN(cmd_workflow_main, &c, "list", "extra"), &c,
	    "ledge workflow list: unexpected argument 'extra'");
	expect_usage_error(RUN(cmd_workflow_main, &c, "stop", "x", "--bogus"),
	    &c, "ledge workflow stop: unknown option '--bogus'");
	expect_usage_error(RUN(cmd_workflow_main, &c, "stop", "x", "-f"), &c,
	    "unknown option '-f'");
	expect_usage_error(RUN(cmd_node_main, &c, "drain"), &c,
	    "ledge node drain: missing NAME");
	expect_usage_error(RUN(cmd_function_main, &c, "move", "wf", "fn"), &c,
	    "ledge function move: missing NODE");
	expect_usage_error(RUN(cmd_function_main, &c, "reload", "wf"), &c,
	    "ledge function reload: missing FUNCTION");
	expect_usage_error(RUN(cmd_invoke_main, &c, "wf", "f"), &c,
	    "ledge invoke: missing DATA");
	expect_usage_error(RUN(cmd_invoke_main, &c, "wf", "f", "-5"), &c,
	    "unknown option '-5' (an argument that starts with '-' goes after "
	    "--)");
	expect_usage_error(RUN(cmd_state_main, &c, "get", "wf"), &c,
	    "ledge state get: missing FUNCTION");
	expect_usage_error(RUN(cmd_state_main, &c, "get", "wf", "f", "a\\q"),
	    &c, "ledge state get: KEY 'a\\q' has a bad escape");
	expect_usage_error(RUN(cmd_state_main, &c, "put", "wf", "f"), &c,
	    "ledge state: unknown command 'put'");
	expect_usage_error(RUN(cmd_logs_main, &c, "wf", "--timeout", "abc"), &c,
	    "ledge logs: --timeout must be a number of milliseconds");
	expect_usage_error(RUN(cmd_logs_main, &c, "wf", "--timeout=0"), &c,
	    "--timeout must be");
	expect_usage_error(RUN(cmd_logs_main, &c, "wf", "--timeout"), &c,
	    "ledge logs: --timeout needs a value");
	expect_usage_error(
	    RUN(cmd_logs_main, &c, "wf", "--orchestrator", "http://x"), &c,
	    "'http://x' is not an orchestrator address");
	expect_usage_error(
	    RUN(cmd_logs_main, &c, "wf", "--orchestrator=tls+tcp://h:7600",
	        "--tls-cert", "c.pem"),
	    &c, "tls+tcp://h:7600 needs --tls-cert, --tls-key and --tls-ca");
	setenv("LEDGE_ORCHESTRATOR", "udp://x", 1);
	expect_usage_error(RUN(cmd_logs_main, &c, "wf"), &c,
	    "'udp://x' is not an orchestrator address");
}

Test(args, help_on_every_command_and_subcommand)
{
	static const struct {
		cmd_fn fn;
		const char *sub, *want;
	} cases[] = {
		{ cmd_workflow_main, NULL, "usage: ledge workflow COMMAND" },
		{ cmd_workflow_main, "start", "usage: ledge workflow start" },
		{ cmd_workflow_main, "stop", "usage: ledge workflow stop" },
		{ cmd_workflow_main, "list", "usage: ledge workflow list" },
		{ cmd_workflow_main, "show", "empty state" },
		{ cmd_node_main, NULL, "usage: ledge node COMMAND" },
		{ cmd_node_main, "list", "usage: ledge node list" },
		{ cmd_node_main, "drain", "usage: ledge node drain" },
		{ cmd_function_main, NULL, "ledge function reload" },
		{ cmd_function_main, "move", "usage: ledge function move" },
		{ cmd_function_main, "reload", "usage: ledge function reload" },
		{ cmd_state_main, NULL, "usage: ledge state get" },
		{ cmd_state_main, "get", "base64" },
		{ cmd_invoke_main, NULL, "--call" },
		{ cmd_logs_main, NULL, "--follow" },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct cap c;
		int rc = cases[i].sub
		    ? RUN(cases[i].fn, &c, cases[i].sub, "--help")
		    : RUN(cases[i].fn, &c, "--help");
		cr_expect_eq(rc, 0, "case %zu", i);
		cr_expect_not_null(strstr(c.out, cases[i].want),
		    "case %zu: '%s' not in:\n%s", i, cases[i].want, c.out);
		cr_expect_not_null(strstr(c.out, "--orchestrator URL"));
		cr_expect_not_null(strstr(c.out, "exit status"));
		cr_expect_str_eq(c.err, "");
		cap_free(&c);
	}
	/* -h anywhere, even with arguments missing */
	struct cap c;
	cr_expect_eq(RUN(cmd_function_main, &c, "move", "-h"), 0);
	cr_expect_not_null(strstr(c.out, "usage: ledge function move"));
	cap_free(&c);
	for (const char *t = "workflow\0node\0function\0invoke\0state\0logs\0";
	     *t; t += strlen(t) + 1) {
		char *buf;
		size_t n;
		FILE *fp = open_memstream(&buf, &n);
		cr_expect_eq(cmd_help(t, fp), 0, "%s", t);
		fclose(fp);
		cr_expect_not_null(strstr(buf, "usage: ledge"));
		free(buf);
	}
	cr_expect_eq(cmd_help("run", stdout), -1);
}

Test(args, an_unreachable_orchestrator_is_named)
{
	struct cap c;
	int rc;

	unsetenv("LEDGE_ORCHESTRATOR");
	rc = RUN(cmd_workflow_main, &c, "list", "--orchestrator",
	    "tcp://127.0.0.1:1");
	cr_expect_eq(rc, 1);
	cr_expect_str_eq(c.err,
	    "ledge workflow list: cannot reach the orchestrator at "
	    "tcp://127.0.0.1:1: connection refused (set --orchestrator or "
	    "LEDGE_ORCHESTRATOR)\n");
	cr_expect_str_eq(c.out, "");
	cap_free(&c);

	rc = RUN(cmd_workflow_main, &c, "list", "--orchestrator",
	    "tls+tcp://127.0.0.1:1", "--tls-cert", "/nonexistent/c.pem",
	    "--tls-key", "k.pem", "--tls-ca", "ca.pem");
	cr_expect_eq(rc, 1);
	cr_expect_str_eq(c.err,
	    "ledge workflow list: cannot read --tls-cert /nonexistent/c.pem: "
	    "No such file or directory\n");
	cap_free(&c);

	setenv("LEDGE_ORCHESTRATOR", "tcp://127.0.0.1:1", 1);
	rc = RUN(cmd_node_main, &c, "list", "--json");
	cr_expect_eq(rc, 1);
	cr_expect_str_eq(c.out,
	    "{\"ok\":false,\"error\":\"cannot reach the orchestrator at "
	    "tcp://127.0.0.1:1: connection refused (set --orchestrator or "
	    "LEDGE_ORCHESTRATOR)\",\"code\":\"no-orchestrator\"}\n");
	cap_free(&c);
}
