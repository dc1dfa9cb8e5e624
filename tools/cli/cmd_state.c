/*
 * cmd_state.c - `ledge state get` and `ledge state keys` (see
 * cmd_state.h).
 */
#include <errno.h>
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
/* --key's bytes into *out (malloc'd); 0, or 2 after a usage error. */
static int
instance_key(
    const struct command *c, const struct args *o, char **out, size_t *len)
{
	if (text_unescape(o->key, out, len) != 0 || *len == 0 ||
	    *len > LEDGE_KEY_MAX) {
		free(*out);
		*out = NULL;
		return args_usage_error(&c->spec,
		    "--key '%s' must be 1 to %d bytes (\\xNN is a byte, \\\\ "
		    "a backslash)",
		    o->key, LEDGE_KEY_MAX);
	}
	return 0;
}

static void
req_state_get(struct wire_w *w, const char *wf, const char *fn, const char *key,
    size_t keylen, const char *inst, size_t ilen)
{
	wire_map(w, 3 + (key != NULL) + (inst != NULL));
	if (inst != NULL) {
		wire_str(w, "inst");
		wire_strn(w, inst, ilen);
	}
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
	char *key = NULL, *inst = NULL;
	size_t keylen = 0, ilen = 0;
	int rc;

	v.name = o->pos[0];
	v.part = o->pos[1];
	if (o->key != NULL && (rc = instance_key(c, o, &inst, &ilen)) != 0) {
		return rc;
	}
	if (o->npos > 2 && text_unescape(o->pos[2], &key, &keylen) != 0) {
		free(inst);
		return args_usage_error(&c->spec,
		    "KEY '%s' has a bad escape (\\xNN is a byte, \\\\ a "
		    "backslash)",
		    o->pos[2]);
	}
	v.key = key;
	v.keylen = keylen;
	if (wire_w_init(&w) != 0) {
		free(key);
		free(inst);
		return print_fail(&v, stdout, stderr, "oom", "out of memory");
	}
	req_state_get(&w, o->pos[0], o->pos[1], key, keylen, inst, ilen);
	rc = client_call_show(o, &v, &w, PRINT_STATE_GET);
	wire_w_fini(&w);
	free(key);
	free(inst);
	return rc;
}

static int
run_state_keys(const struct command *c, const struct args *o)
{
	struct view v = command_view(c, o);
	struct wire_w w;
	char *prefix = NULL, *after = NULL, *end;
	size_t plen = 0, alen = 0;
	unsigned long limit = 100;
	int rc;

	v.name = o->pos[0];
	v.part = o->pos[1];
	if (o->limit != NULL) {
		errno = 0;
		limit = strtoul(o->limit, &end, 10);
		if (errno != 0 || end == o->limit || *end != '\0' ||
		    o->limit[0] == '-' || limit < 1 || limit > 10000) {
			return args_usage_error(&c->spec,
			    "--limit must be 1 to 10000, not '%s'", o->limit);
		}
	}
	if ((o->prefix != NULL &&
	        text_unescape(o->prefix, &prefix, &plen) != 0) ||
	    (o->after != NULL && text_unescape(o->after, &after, &alen) != 0)) {
		free(prefix);
		free(after);
		return args_usage_error(&c->spec,
		    "--prefix and --after take bytes as KEY does (\\xNN is a "
		    "byte, \\\\ a backslash)");
	}
	if (wire_w_init(&w) != 0) {
		free(prefix);
		free(after);
		return print_fail(&v, stdout, stderr, "oom", "out of memory");
	}
	wire_map(&w, 4 + (prefix != NULL) + (after != NULL));
	wire_str(&w, "t");
	wire_str(&w, "state.keys");
	wire_str(&w, "wf");
	wire_str(&w, o->pos[0]);
	wire_str(&w, "fn");
	wire_str(&w, o->pos[1]);
	wire_str(&w, "limit");
	wire_u64(&w, limit);
	if (prefix != NULL) {
		wire_str(&w, "prefix");
		wire_strn(&w, prefix, plen);
	}
	if (after != NULL) {
		wire_str(&w, "after");
		wire_strn(&w, after, alen);
	}
	rc = client_call_show(o, &v, &w, PRINT_STATE_KEYS);
	wire_w_fini(&w);
	free(prefix);
	free(after);
	return rc;
}

static const struct command state_cmds[] = {
	{ "get",
	    { "ledge state get", usage_state_get, ARGS_KEY, 2, 3,
	        { "WORKFLOW", "FUNCTION", "KEY" }, 10000 },
	    run_state_get },
	{ "keys",
	    { "ledge state keys", usage_state_keys, ARGS_PAGE, 2, 2,
	        { "WORKFLOW", "FUNCTION" }, 10000 },
	    run_state_keys },
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
