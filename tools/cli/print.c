/*
 * print.c - a reply of the orchestrator, or a failure found here, for
 * people or as JSON (see print.h).
 */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "json_wire.h"
#include "print.h"
#include "print_human.h"
#include "print_json.h"
#include "text.h"

typedef int (*human_fn)(wire_v r, const struct view *v, FILE *out);
typedef void (*json_fn)(struct json_out *j, wire_v r, const struct view *v);

#define NAMES(...) ((const char *const[]) { __VA_ARGS__, NULL })

/* Each kind: its two printers, and the JSON members they write (the
 * reply's other keys are passed on after them). */
static const struct {
	human_fn human;
	json_fn json;
	const char *const *members;
} formats[] = {
	[PRINT_WF_START] = { print_human_start, print_json_start,
	    NAMES("workflow", "new", "placed", "pending", "uploaded") },
	[PRINT_WF_STOP] = { print_human_stop, print_json_stop,
	    NAMES("workflow") },
	[PRINT_WF_LIST] = { print_human_wf_list, print_json_wf_list,
	    NAMES("workflows") },
	[PRINT_WF_SHOW] = { print_human_wf_show, print_json_wf_show,
	    NAMES("name", "file", "parts", "pending") },
	[PRINT_NODE_LIST] = { print_human_node_list, print_json_node_list,
	    NAMES("nodes") },
	[PRINT_NODE_DRAIN] = { print_human_drain, print_json_drain,
	    NAMES("node", "moved", "stay") },
	[PRINT_FN_MOVE] = { print_human_move, print_json_move,
	    NAMES("workflow", "function", "from", "to", "epoch") },
	[PRINT_FN_RELOAD] = { print_human_reload, print_json_reload,
	    NAMES("workflow", "function", "hash", "nodes") },
	[PRINT_INVOKE] = { print_human_invoke, print_json_invoke,
	    NAMES("reply") },
	[PRINT_STATE_GET] = { print_human_state, print_json_state,
	    NAMES("entries") },
	[PRINT_STATE_KEYS] = { print_human_keys, print_json_keys,
	    NAMES("keys", "more") },
	[PRINT_LOGS] = { print_human_logs, print_json_logs,
	    NAMES("lines", "next") },
};

int
print_fail(const struct view *v, FILE *out, FILE *err, const char *code,
    const char *fmt, ...)
{
	char msg[2048];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	fprintf(err, "%s: %s\n", v->prog, msg);
	if (v->json) {
		struct json_out j;
		json_init(&j);
		json_obj_begin(&j);
		json_key(&j, "ok");
		json_bool(&j, false);
		json_kstr(&j, "error", msg);
		json_kstr(&j, "code", code);
		json_obj_end(&j);
		json_write(&j, out);
		json_fini(&j);
	}
	return 1;
}

int
print_refusal(wire_v r, const struct view *v, FILE *out, FILE *err)
{
	wire_v error = wire_get(r, "error"), code = wire_get(r, "code");
	wire_v errors = wire_get(r, "errors"), pending = wire_get(r, "pending");
	char *e = text_wire(error), *c = text_wire(code);

	if (e == NULL || c == NULL) {
		fprintf(err, "%s: out of memory\n", v->prog);
	} else if (strcmp(e, "-") != 0) {
		fprintf(err, "%s: %s\n", v->prog, e);
	} else if (strcmp(c, "-") != 0) {
		fprintf(err, "%s: the orchestrator refused (%s)\n", v->prog, c);
	} else {
		fprintf(err,
		    "%s: the orchestrator refused without saying why\n",
		    v->prog);
	}
	for (size_t i = 0; i < wire_len(errors); i++) {
		char *line = text_wire(wire_at(errors, i));
		if (line != NULL) {
			fprintf(err, "%s\n", line);
		}
		free(line);
	}
	for (size_t i = 0; i < wire_len(pending); i++) {
		char *part = text_wire(wire_get(wire_at(pending, i), "part"));
		char *why = text_wire(wire_get(wire_at(pending, i), "why"));
		if (part != NULL && why != NULL) {
			fprintf(err, "  pending: %s: %s\n", part, why);
		}
		free(part);
		free(why);
	}
	/* Its node was declared lost: the one refusal with an exit status
	 * of its own (trying again once the part is placed elsewhere may
	 * succeed; a call may or may not have run). */
	int rc = c != NULL && strcmp(c, "unavailable") == 0
	    ? PRINT_EXIT_UNAVAILABLE
	    : 1;
	free(e);
	free(c);
	if (v->json) {
		struct json_out j;
		json_init(&j);
		json_wire(&j, r);
		json_write(&j, out);
		json_fini(&j);
	}
	return rc;
}

int
print_reply(
    enum print_kind kind, wire_v r, const struct view *v, FILE *out, FILE *err)
{
	int rc;

	if ((size_t)kind >= sizeof formats / sizeof formats[0]) {
		return print_fail(
		    v, out, err, "bad-reply", "no format for reply");
	}
	if (!wire_is_map(r)) {
		return print_fail(v, out, err, "bad-reply",
		    "the orchestrator at %s sent a reply that is not a map",
		    v->url ? v->url : "?");
	}
	if (!wire_as_bool(wire_get(r, "ok"), false)) {
		return print_refusal(r, v, out, err);
	}
	if (kind == PRINT_STATE_GET && v->key != NULL &&
	    view_entries_wanted(r, v) == 0) {
		char *k = text_escape(v->key, v->keylen, true);
		rc = print_fail(v, out, err, "not-found",
		    "no key '%s' in %s/%s", k ? k : "?", v->name, v->part);
		free(k);
		return rc;
	}
	if (!v->json) {
		rc = formats[kind].human(r, v, out);
	} else if (kind == PRINT_LOGS && v->stream) {
		rc = print_json_log_stream(r, out);
	} else {
		struct json_out j;
		json_init(&j);
		json_obj_begin(&j);
		json_key(&j, "ok");
		json_bool(&j, true);
		formats[kind].json(&j, r, v);
		json_wire_rest(&j, r, formats[kind].members);
		json_obj_end(&j);
		rc = json_write(&j, out);
		json_fini(&j);
	}
	if (rc != 0) {
		fprintf(err, "%s: out of memory (or cannot write the output)\n",
		    v->prog);
		return 1;
	}
	fflush(out);
	return 0;
}
