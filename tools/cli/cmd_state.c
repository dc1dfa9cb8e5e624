/*
 * cmd_state.c - `ledge state get` (see cmd_state.h).
 */
#include <stdlib.h>

#include "client.h"
#include "cmd_state.h"
#include "command.h"
#include "text.h"
#include "usage.h"

/*
 * key: NULL for the whole state.  State keys are bytes; the key goes as a
 * msgpack str, which carries any bytes, because that is what the node
 * reads (the entries come back as bin).
 */
static void
req_state_get(struct wire_w *w, const char *wf, const char *fn, const char *key,
    size_t keylen)
{
	wire_map(w, key != NULL ? 4 : 3);
	wire_str(w, "t");
	wire_str(w, "state.get");
	wire_str(w, "wf");
	wire_str(w, wf);
	wire_str(w, "fn");
	wire_str(w, fn);
	if (key != NULL) {
		wire_str(w, "key");
		wire_strn(w, key, keylen);
	}
}

static int
run_state_get(const struct command *c, const struct args *o)
{
	struct view v = command_view(c, o);
	struct wire_w w;
	char *key = NULL;
	size_t keylen = 0;
	int rc;

	v.name = o->pos[0];
	v.part = o->pos[1];
	if (o->npos > 2 && text_unescape(o->pos[2], &key, &keylen) != 0) {
		return args_usage_error(&c->spec,
		    "KEY '%s' has a bad escape (\\xNN is a byte, \\\\ a "
		    "backslash)",
		    o->pos[2]);
	}
	v.key = key;
	v.keylen = keylen;
	if (wire_w_init(&w) != 0) {
		free(key);
		return print_fail(&v, stdout, stderr, "oom", "out of memory");
	}
	req_state_get(&w, o->pos[0], o->pos[1], key, keylen);
	rc = client_call_show(o, &v, &w, PRINT_STATE_GET);
	wire_w_fini(&w);
	free(key);
	return rc;
}

static const struct command state_cmds[] = {
	{ "get",
	    { "ledge state get", usage_state_get, 0, 2, 3,
	        { "WORKFLOW", "FUNCTION", "KEY" }, 10000 },
	    run_state_get },
};

int
cmd_state_main(int argc, char **argv)
{
	return command_group("ledge state", usage_state, state_cmds,
	    sizeof state_cmds / sizeof state_cmds[0], argc, argv);
}

void
cmd_state_help(FILE *fp)
{
	usage_print(usage_state_get, state_cmds[0].spec.timeout_ms, fp);
}
