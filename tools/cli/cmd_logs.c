/*
 * cmd_logs.c - `ledge logs` (see cmd_logs.h).
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "client.h"
#include "cmd_logs.h"
#include "command.h"
#include "usage.h"
#include "value.h"

/* How often `logs -f` asks for new lines. */
#define FOLLOW_MS 300

static void
req_logs(struct wire_w *w, const char *wf, uint64_t after)
{
	wire_map(w, 3);
	wire_str(w, "t");
	wire_str(w, "logs");
	wire_str(w, "wf");
	wire_str(w, wf);
	wire_str(w, "after");
	wire_u64(w, after);
}

static volatile sig_atomic_t stop_follow;

static void
on_stop(int sig)
{
	(void)sig;
	stop_follow = 1;
}

/* Sleep ms unless a signal asks to stop. */
static void
nap(unsigned ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };
	while (!stop_follow && nanosleep(&ts, &ts) != 0 && errno == EINTR) { }
}

/* One `logs` request; *next gets the cursor to continue from.  Returns 0,
 * 1 (reported failure), or with `quiet` -1 when the orchestrator did not
 * answer (why in why, not reported). */
static int
logs_once(const struct args *o, const struct view *v, uint64_t *next,
    bool quiet, char *why, size_t whylen)
{
	struct wire_w w;
	struct client_reply rep;
	const char *code;
	wire_v r, lines;
	int rc;

	if (wire_w_init(&w) != 0) {
		return print_fail(v, stdout, stderr, "oom", "out of memory");
	}
	req_logs(&w, v->name, *next);
	code = client_call_raw(o, &w, o->timeout_ms, &rep, why, whylen);
	wire_w_fini(&w);
	if (code != NULL) {
		return quiet ? -1
		             : print_fail(v, stdout, stderr, code, "%s", why);
	}
	r = wire_root(&rep.r);
	rc = print_reply(PRINT_LOGS, r, v, stdout, stderr);
	if (rc == 0) {
		lines = wire_get(r, "lines");
		if (value_is_u64(wire_get(r, "next"))) {
			*next = wire_as_u64(wire_get(r, "next"), *next);
		} else if (wire_len(lines) > 0) {
			*next = wire_as_u64(
			    wire_get(
			        wire_at(lines, wire_len(lines) - 1), "seq"),
			    *next);
		}
	}
	client_reply_free(&rep);
	return rc;
}

static int
run_logs(const struct command *c, const struct args *o)
{
	struct view v = command_view(c, o);
	struct sigaction sa, old_int, old_term;
	uint64_t next = 0;
	bool lost = false;
	char why[1024];
	int rc;

	v.name = o->pos[0];
	v.stream = o->follow;
	if ((rc = logs_once(o, &v, &next, false, why, sizeof why)) != 0 ||
	    !o->follow) {
		return rc;
	}
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_stop;
	sigemptyset(&sa.sa_mask);
	stop_follow = 0;
	sigaction(SIGINT, &sa, &old_int);
	sigaction(SIGTERM, &sa, &old_term);
	while (!stop_follow) {
		nap(FOLLOW_MS);
		if (stop_follow) {
			break;
		}
		rc = logs_once(o, &v, &next, true, why, sizeof why);
		if (rc > 0) {
			break; /* the orchestrator refused: reported */
		}
		if (rc < 0 && !lost) {
			fprintf(
			    stderr, "%s: %s; retrying\n", c->spec.prog, why);
		} else if (rc == 0 && lost) {
			fprintf(stderr,
			    "%s: the orchestrator at %s answers "
			    "again\n",
			    c->spec.prog, o->url);
		}
		lost = rc < 0;
		rc = 0;
	}
	sigaction(SIGINT, &old_int, NULL);
	sigaction(SIGTERM, &old_term, NULL);
	return rc;
}

static const struct command logs_cmd = { NULL,
	{ "ledge logs", usage_logs, ARGS_FOLLOW, 1, 1, { "WORKFLOW" }, 10000 },
	run_logs };

int
cmd_logs_main(int argc, char **argv)
{
	return command_run(&logs_cmd, argc, argv);
}

void
cmd_logs_help(FILE *fp)
{
	usage_print(usage_logs, logs_cmd.spec.timeout_ms, fp);
}
