/*
 * command.c - running a domain command from a table (see command.h).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "client.h"
#include "command.h"
#include "usage.h"

struct view
command_view(const struct command *c, const struct args *o)
{
	return (struct view) { .prog = c->spec.prog,
		.json = o->json,
		.url = o->url,
		.call = o->call };
}

/* The certificate files of a tls+tcp:// address must be readable (nng
 * alone would only say "Entry not found"). */
static int
check_tls_files(const struct command *c, const struct args *o)
{
	const char *names[] = { "--tls-cert", "--tls-key", "--tls-ca" };
	const char *files[] = { o->tls.cert, o->tls.key, o->tls.ca };
	struct view v = command_view(c, o);

	if (strncmp(o->url, "tls+tcp://", 10) != 0) {
		return 0;
	}
	for (size_t i = 0; i < 3; i++) {
		if (access(files[i], R_OK) != 0) {
			return print_fail(&v, stdout, stderr, "local",
			    "cannot read %s %s: %s", names[i], files[i],
			    strerror(errno));
		}
	}
	return 0;
}

int
command_run(const struct command *c, int argc, char **argv)
{
	struct args o;
	int rc = args_parse(&c->spec, argc, argv, &o);
	if (rc == ARGS_HELP) {
		return 0;
	}
	if (rc != 0) {
		return rc;
	}
	if ((rc = check_tls_files(c, &o)) != 0) {
		return rc;
	}
	return c->run(c, &o);
}

int
command_group(const char *prog, const char *usage, const struct command *cmds,
    size_t n, int argc, char **argv)
{
	if (argc < 1) {
		fprintf(stderr, "%s: no command given\n\n%s", prog, usage);
		return 2;
	}
	if (args_is_help(argv[0])) {
		usage_print(usage, 0, stdout);
		return 0;
	}
	for (size_t i = 0; i < n; i++) {
		if (strcmp(argv[0], cmds[i].name) == 0) {
			return command_run(&cmds[i], argc - 1, argv + 1);
		}
	}
	fprintf(stderr, "%s: unknown command '%s'\n\n%s", prog, argv[0], usage);
	return 2;
}

/* {t}: wf.list, node.list. */
static void
req_plain(struct wire_w *w, const char *t)
{
	wire_map(w, 1);
	wire_str(w, "t");
	wire_str(w, t);
}

/* wf.stop, wf.show, node.drain: {t, name}. */
static void
req_named(struct wire_w *w, const char *t, const char *name)
{
	wire_map(w, 2);
	wire_str(w, "t");
	wire_str(w, t);
	wire_str(w, "name");
	wire_str(w, name);
}

/* Commands made of one request {t, name} (or {t}) and its reply. */
int
command_named(const struct command *c, const struct args *o, const char *t,
    enum print_kind kind)
{
	struct view v = command_view(c, o);
	struct wire_w w;
	int rc;

	v.name = o->npos > 0 ? o->pos[0] : NULL;
	if (wire_w_init(&w) != 0) {
		return print_fail(&v, stdout, stderr, "oom", "out of memory");
	}
	if (v.name != NULL) {
		req_named(&w, t, v.name);
	} else {
		req_plain(&w, t);
	}
	rc = client_call_show(o, &v, &w, kind);
	wire_w_fini(&w);
	return rc;
}
