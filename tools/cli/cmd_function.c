/*
 * cmd_function.c - `ledge function move|reload` (see cmd_function.h);
 * `keygen` and `sign` are cmd_sign.c's.
 */
#include <string.h>

#include "client.h"
#include "cmd_function.h"
#include "cmd_sign.h"
#include "code/code.h"
#include "command.h"
#include "usage.h"

static void
req_fn_move(struct wire_w *w, const char *wf, const char *fn, const char *node,
    bool accept_loss)
{
	wire_map(w, 5);
	wire_str(w, "accept_loss");
	wire_bool(w, accept_loss);
	wire_str(w, "t");
	wire_str(w, "fn.move");
	wire_str(w, "wf");
	wire_str(w, wf);
	wire_str(w, "fn");
	wire_str(w, fn);
	wire_str(w, "node");
	wire_str(w, node);
}

static void
req_fn_reload(struct wire_w *w, const char *wf, const char *fn,
    const char *hash, const char *sig, size_t siglen)
{
	wire_map(w, sig ? 5 : 4);
	if (sig != NULL) {
		wire_str(w, "sig");
		wire_strn(w, sig, siglen);
	}
	wire_str(w, "t");
	wire_str(w, "fn.reload");
	wire_str(w, "wf");
	wire_str(w, wf);
	wire_str(w, "fn");
	wire_str(w, fn);
	wire_str(w, "hash");
	wire_str(w, hash);
}

static int
run_fn_move(const struct command *c, const struct args *o)
{
	struct view v = command_view(c, o);
	struct wire_w w;
	int rc;

	v.name = o->pos[0];
	v.part = o->pos[1];
	if (wire_w_init(&w) != 0) {
		return print_fail(&v, stdout, stderr, "oom", "out of memory");
	}
	req_fn_move(&w, o->pos[0], o->pos[1], o->pos[2], o->accept_loss);
	rc = client_call_show(o, &v, &w, PRINT_FN_MOVE);
	wire_w_fini(&w);
	return rc;
}

static int
run_fn_reload(const struct command *c, const struct args *o)
{
	struct view v = command_view(c, o);
	struct wire_w w;
	char hash[65], err[512];
	char *sig = NULL;
	size_t siglen = 0;
	uint64_t bytes;
	int rc;

	v.name = o->pos[0];
	v.part = o->pos[1];
	v.hash = hash;
	if (code_hash_file(o->pos[2], hash, err, sizeof err) != LEDGE_OK) {
		return print_fail(
		    &v, stdout, stderr, "local", "%s: %s", o->pos[2], err);
	}
	if (client_read_sig(o->pos[2], &sig, &siglen, err, sizeof err) != 0) {
		return print_fail(&v, stdout, stderr, "local", "%s", err);
	}
	if (client_upload(o, &v, o->pos[2], hash, &bytes) != 0) {
		free(sig);
		return 1;
	}
	if (wire_w_init(&w) != 0) {
		free(sig);
		return print_fail(&v, stdout, stderr, "oom", "out of memory");
	}
	req_fn_reload(&w, o->pos[0], o->pos[1], hash, sig, siglen);
	free(sig);
	rc = client_call_show(o, &v, &w, PRINT_FN_RELOAD);
	wire_w_fini(&w);
	return rc;
}

static const struct command fn_cmds[] = {
	{ "move",
	    { "ledge function move", usage_fn_move, ARGS_LOSSY, 3, 3,
	        { "WORKFLOW", "FUNCTION", "NODE" }, 30000 },
	    run_fn_move },
	{ "reload",
	    { "ledge function reload", usage_fn_reload, 0, 3, 3,
	        { "WORKFLOW", "FUNCTION", "FILE.so" }, 30000 },
	    run_fn_reload },
};

int
cmd_function_main(int argc, char **argv)
{
	/* Local commands, with options of their own. */
	if (argc >= 1 &&
	    (strcmp(argv[0], "sign") == 0 || strcmp(argv[0], "keygen") == 0)) {
		return cmd_sign_main(argc, argv);
	}
	return command_group("ledge function", usage_function, fn_cmds,
	    sizeof fn_cmds / sizeof fn_cmds[0], argc, argv);
}

void
cmd_function_help(FILE *fp)
{
	usage_print(usage_function, 0, fp);
}
