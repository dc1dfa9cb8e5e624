/*
 * cmd_invoke.c - `ledge invoke` (see cmd_invoke.h).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "base/path.h"
#include "client.h"
#include "cmd_invoke.h"
#include "command.h"
#include "text.h"
#include "usage.h"

static void
req_invoke(struct wire_w *w, const char *wf, const char *target, bool is_call,
    const void *data, size_t n, uint32_t timeout_ms, const char *key,
    size_t klen)
{
	wire_map(w, key != NULL ? 7 : 6);
	if (key != NULL) {
		wire_str(w, "key");
		wire_bin(w, key, klen);
	}
	wire_str(w, "t");
	wire_str(w, "invoke");
	wire_str(w, "wf");
	wire_str(w, wf);
	wire_str(w, "target");
	wire_str(w, target);
	wire_str(w, "call");
	wire_bool(w, is_call);
	wire_str(w, "data");
	wire_bin(w, data, n);
	wire_str(w, "timeout_ms");
	wire_u64(w, timeout_ms);
}

static int
run_invoke(const struct command *c, const struct args *o)
{
	struct view v = command_view(c, o);
	struct wire_w w;
	struct client_reply rep;
	const char *data = o->pos[2];
	char *in = NULL, *key = NULL;
	size_t n = strlen(data), klen = 0;
	int rc;

	if (o->key != NULL &&
	    (text_unescape(o->key, &key, &klen) != 0 || klen == 0 ||
	        klen > LEDGE_KEY_MAX)) {
		free(key);
		return args_usage_error(&c->spec,
		    "--key '%s' must be 1 to %d bytes (\\xNN is a byte, \\\\ "
		    "a backslash)",
		    o->key, LEDGE_KEY_MAX);
	}
	v.name = o->pos[0];
	v.part = o->pos[1];
	if (strcmp(data, "-") == 0) {
		if (path_read_stream(stdin, WIRE_MAX_BYTES - CLIENT_ENVELOPE,
		        &in, &n) != LEDGE_OK) {
			free(key);
			return print_fail(&v, stdout, stderr, "local",
			    "cannot read DATA from stdin: %s",
			    errno == EFBIG ? "more than a message can carry"
			                   : strerror(errno));
		}
		data = in;
	}
	if (wire_w_init(&w) != 0) {
		free(in);
		free(key);
		return print_fail(&v, stdout, stderr, "oom", "out of memory");
	}
	req_invoke(&w, o->pos[0], o->pos[1], o->call, data, n, o->timeout_ms,
	    key, klen);
	free(in);
	free(key);
	/* The orchestrator gets the call's whole time; give it room to say
	 * that the call timed out. */
	rc = client_call(o, &v, &w, o->timeout_ms + 2000, &rep);
	wire_w_fini(&w);
	if (rc != 0) {
		return 1;
	}
	rc = print_reply(PRINT_INVOKE, wire_root(&rep.r), &v, stdout, stderr);
	client_reply_free(&rep);
	return rc;
}

static const struct command invoke_cmd = { NULL,
	{ "ledge invoke", usage_invoke, ARGS_CALL | ARGS_KEY, 3, 3,
	    { "WORKFLOW", "TARGET", "DATA" }, 5000 },
	run_invoke };

int
cmd_invoke_main(int argc, char **argv)
{
	return command_run(&invoke_cmd, argc, argv);
}

void
cmd_invoke_help(FILE *fp)
{
	usage_print(usage_invoke, invoke_cmd.spec.timeout_ms, fp);
}
