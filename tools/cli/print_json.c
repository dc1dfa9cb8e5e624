/*
 * print_json.c - the replies of the orchestrator as JSON members, for
 * --json (see print_json.h).
 */
#include <stdlib.h>
#include <string.h>

#include "json_wire.h"
#include "print_json.h"
#include "text.h"
#include "value.h"

static const char *const f_placed[] = { "part", "kind", "type", "node", "epoch",
	NULL };
static const char *const f_pending[] = { "part", "why", NULL };

void
print_json_start(struct json_out *j, wire_v r, const struct view *v)
{
	json_kstr(j, "workflow", v->name);
	json_key(j, "new");
	json_bool(j, wire_as_bool(wire_get(r, "new"), true));
	json_wire_items(j, "placed", wire_get(r, "placed"), f_placed);
	json_wire_items(j, "pending", wire_get(r, "pending"), f_pending);
	json_key(j, "uploaded");
	json_arr_begin(j);
	for (size_t i = 0; i < v->nuploads; i++) {
		json_obj_begin(j);
		json_kstr(j, "path", v->uploads[i].path);
		json_kstr(j, "hash", v->uploads[i].hash);
		json_key(j, "bytes");
		json_u64(j, v->uploads[i].bytes);
		json_obj_end(j);
	}
	json_arr_end(j);
}

void
print_json_stop(struct json_out *j, wire_v r, const struct view *v)
{
	(void)r;
	json_kstr(j, "workflow", v->name);
}

void
print_json_wf_list(struct json_out *j, wire_v r, const struct view *v)
{
	static const char *const counts[] = { "functions", "resources",
		"placed", "pending", NULL };
	wire_v wfs = wire_get(r, "workflows");
	(void)v;
	json_key(j, "workflows");
	json_arr_begin(j);
	for (size_t i = 0; i < wire_len(wfs); i++) {
		wire_v it = wire_at(wfs, i);
		json_obj_begin(j);
		json_wire_field(j, it, "name");
		for (size_t c = 0; counts[c] != NULL; c++) {
			json_key(j, counts[c]);
			json_u64(j, value_count(wire_get(it, counts[c])));
		}
		json_obj_end(j);
	}
	json_arr_end(j);
}

void
print_json_wf_show(struct json_out *j, wire_v r, const struct view *v)
{
	static const char *const fields[] = { "part", "kind", "type", "node",
		"epoch", "state_bytes", "events_in", "events_out", "errors",
		"replicas", "replica_nodes", "note", NULL };
	static const char *const ours[] = { "part", "kind", "type", "node",
		"epoch", "state_bytes", "events_in", "events_out", "errors",
		"replicas", "replica_nodes", "note", "state_lost_on_node_loss",
		NULL };
	wire_v parts = wire_get(r, "parts");

	json_key(j, "name");
	if (wire_ok(wire_get(r, "name"))) {
		json_wire(j, wire_get(r, "name"));
	} else {
		json_str(j, v->name);
	}
	json_wire_field(j, r, "file");
	json_key(j, "parts");
	json_arr_begin(j);
	for (size_t i = 0; i < wire_len(parts); i++) {
		wire_v it = wire_at(parts, i);
		json_obj_begin(j);
		for (size_t f = 0; fields[f] != NULL; f++) {
			json_wire_field(j, it, fields[f]);
		}
		/* What `show` tells people about replicas, for scripts. */
		json_key(j, "state_lost_on_node_loss");
		json_bool(j,
		    value_is_function(it) &&
		        wire_as_u64(wire_get(it, "replicas"), 0) == 0);
		json_wire_rest(j, it, ours);
		json_obj_end(j);
	}
	json_arr_end(j);
	json_wire_items(j, "pending", wire_get(r, "pending"), f_pending);
}

void
print_json_node_list(struct json_out *j, wire_v r, const struct view *v)
{
	static const char *const fields[] = { "name", "url", "labels", "arch",
		"cores", "mem_mb", "resources", "health", "instances",
		"last_heartbeat_ms", "epoch", NULL };
	wire_v nodes = wire_get(r, "nodes");
	(void)v;
	json_key(j, "nodes");
	json_arr_begin(j);
	for (size_t i = 0; i < wire_len(nodes); i++) {
		wire_v it = wire_at(nodes, i);
		json_obj_begin(j);
		for (size_t f = 0; fields[f] != NULL; f++) {
			wire_v x = wire_get(it, fields[f]);
			json_key(j, fields[f]);
			/* The orchestrator says UINT64_MAX for "no heartbeat
			 * yet"; a script reads null more easily. */
			if (strcmp(fields[f], "last_heartbeat_ms") == 0 &&
			    wire_as_u64(x, 0) == UINT64_MAX) {
				json_null(j);
			} else {
				json_wire(j, x);
			}
		}
		json_wire_rest(j, it, fields);
		json_obj_end(j);
	}
	json_arr_end(j);
}

void
print_json_drain(struct json_out *j, wire_v r, const struct view *v)
{
	static const char *const fields[] = { "part", "from", "to", NULL };
	static const char *const sfields[] = { "part", "why", NULL };
	json_kstr(j, "node", v->name);
	json_wire_items(j, "moved", wire_get(r, "moved"), fields);
	json_wire_items(j, "stay", wire_get(r, "stay"), sfields);
}

void
print_json_move(struct json_out *j, wire_v r, const struct view *v)
{
	json_kstr(j, "workflow", v->name);
	json_kstr(j, "function", v->part);
	json_wire_field(j, r, "from");
	json_wire_field(j, r, "to");
	json_wire_field(j, r, "epoch");
}

void
print_json_reload(struct json_out *j, wire_v r, const struct view *v)
{
	json_kstr(j, "workflow", v->name);
	json_kstr(j, "function", v->part);
	json_kstr(j, "hash", v->hash);
	json_key(j, "nodes");
	if (wire_is_array(wire_get(r, "nodes"))) {
		json_wire(j, wire_get(r, "nodes"));
	} else {
		json_arr_begin(j);
		json_arr_end(j);
	}
}

void
print_json_invoke(struct json_out *j, wire_v r, const struct view *v)
{
	const void *p;
	size_t n;
	json_key(j, "reply");
	if (v->call && wire_as_bin(wire_get(r, "reply"), &p, &n)) {
		json_base64(j, p, n);
	} else {
		json_null(j);
	}
}

void
print_json_state(struct json_out *j, wire_v r, const struct view *v)
{
	wire_v es = wire_get(r, "entries");
	json_key(j, "entries");
	json_arr_begin(j);
	for (size_t i = 0; i < wire_len(es); i++) {
		wire_v it = wire_at(es, i);
		const void *p;
		size_t n;
		if (!view_entry_wanted(it, v)) {
			continue;
		}
		json_obj_begin(j);
		json_key(j, "key");
		if (wire_as_bin(wire_get(it, "key"), &p, &n)) {
			json_base64(j, p, n);
		} else {
			json_null(j);
		}
		json_key(j, "value");
		if (wire_as_bin(wire_get(it, "value"), &p, &n)) {
			json_base64(j, p, n);
		} else {
			json_null(j);
		}
		json_obj_end(j);
	}
	json_arr_end(j);
}

static void
json_log_line(struct json_out *j, wire_v it)
{
	char when[48];
	char *level = text_level(wire_get(it, "level"));

	text_time(when, sizeof when, wire_as_u64(wire_get(it, "ms"), 0));
	json_obj_begin(j);
	json_wire_field(j, it, "seq");
	json_wire_field(j, it, "ms");
	json_kstr(j, "time", wire_ok(wire_get(it, "ms")) ? when : NULL);
	json_wire_field(j, it, "node");
	json_wire_field(j, it, "who");
	json_kstr(j, "level", level);
	json_wire_field(j, it, "line");
	json_obj_end(j);
	if (level == NULL) {
		j->failed = true;
	}
	free(level);
}

void
print_json_keys(struct json_out *j, wire_v r, const struct view *v)
{
	wire_v ks = wire_get(r, "keys");
	(void)v;
	json_key(j, "keys");
	json_arr_begin(j);
	for (size_t i = 0; i < wire_len(ks); i++) {
		const void *p;
		size_t n;
		if (wire_as_bin(wire_at(ks, i), &p, &n)) {
			json_base64(j, p, n);
		}
	}
	json_arr_end(j);
	json_key(j, "more");
	json_bool(j, wire_as_bool(wire_get(r, "more"), false));
}

void
print_json_logs(struct json_out *j, wire_v r, const struct view *v)
{
	wire_v lines = wire_get(r, "lines");
	(void)v;
	json_key(j, "lines");
	json_arr_begin(j);
	for (size_t i = 0; i < wire_len(lines); i++) {
		json_log_line(j, wire_at(lines, i));
	}
	json_arr_end(j);
	json_wire_field(j, r, "next");
}

/* `logs -f --json`: one document per log line (JSON Lines). */
int
print_json_log_stream(wire_v r, FILE *out)
{
	wire_v lines = wire_get(r, "lines");
	for (size_t i = 0; i < wire_len(lines); i++) {
		struct json_out j;
		int rc;
		json_init(&j);
		json_log_line(&j, wire_at(lines, i));
		rc = json_write(&j, out);
		json_fini(&j);
		if (rc != 0) {
			return -1;
		}
	}
	return 0;
}
