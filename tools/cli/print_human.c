/*
 * print_human.c - replies of the orchestrator as text for people (see
 * print_human.h): sentences and aligned tables, every value escaped.
 */
#include <inttypes.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "print_human.h"
#include "table.h"
#include "text.h"
#include "value.h"

int
print_human_start(wire_v r, const struct view *v, FILE *out)
{
	static const char *const head[] = { "PART", "KIND", "TYPE", "NODE",
		NULL };
	wire_v placed = wire_get(r, "placed"), pending = wire_get(r, "pending");
	struct table t = { 0 }, p = { .ncols = 2 };
	int rc = 0;

	fprintf(out, "workflow %s %s: %zu part%s placed, %zu pending\n",
	    v->name,
	    wire_as_bool(wire_get(r, "unchanged"), false)
	        ? "unchanged (already "
	          "running)"
	        : wire_as_bool(wire_get(r, "new"), true) ? "started"
	                                                 : "replaced",
	    wire_len(placed), wire_len(placed) == 1 ? "" : "s",
	    wire_len(pending));
	if (wire_len(placed) > 0) {
		table_header(&t, head);
		for (size_t i = 0; i < wire_len(placed); i++) {
			wire_v it = wire_at(placed, i);
			table_val(&t, wire_get(it, "part"));
			table_val(&t, wire_get(it, "kind"));
			table_val(&t, wire_get(it, "type"));
			table_val(&t, wire_get(it, "node"));
		}
		rc |= table_print(&t, out, "  ");
	}
	if (wire_len(pending) > 0) {
		fputs("pending (waiting for a node):\n", out);
		for (size_t i = 0; i < wire_len(pending); i++) {
			wire_v it = wire_at(pending, i);
			table_val(&p, wire_get(it, "part"));
			table_val(&p, wire_get(it, "why"));
		}
		rc |= table_print(&p, out, "  ");
	}
	if (wire_ok(wire_get(r, "warning"))) {
		char *warn = text_wire(wire_get(r, "warning"));
		if (warn != NULL) {
			fprintf(out, "warning: %s\n", warn);
		}
		rc |= warn == NULL ? -1 : 0;
		free(warn);
	}
	table_free(&t);
	table_free(&p);
	return rc;
}

int
print_human_stop(wire_v r, const struct view *v, FILE *out)
{
	(void)r;
	fprintf(out, "workflow %s stopped\n", v->name);
	return 0;
}

int
print_human_wf_list(wire_v r, const struct view *v, FILE *out)
{
	static const char *const head[] = { "NAME", "FUNCTIONS", "RESOURCES",
		"PLACED", "PENDING", NULL };
	wire_v wfs = wire_get(r, "workflows");
	struct table t = { 0 };
	int rc;

	(void)v;
	if (wire_len(wfs) == 0) {
		fputs("no workflows\n", out);
		return 0;
	}
	table_header(&t, head);
	for (size_t i = 0; i < wire_len(wfs); i++) {
		wire_v it = wire_at(wfs, i);
		table_val(&t, wire_get(it, "name"));
		table_fmt(
		    &t, "%" PRIu64, value_count(wire_get(it, "functions")));
		table_fmt(
		    &t, "%" PRIu64, value_count(wire_get(it, "resources")));
		table_fmt(&t, "%" PRIu64, value_count(wire_get(it, "placed")));
		table_fmt(&t, "%" PRIu64, value_count(wire_get(it, "pending")));
	}
	rc = table_print(&t, out, "");
	table_free(&t);
	return rc;
}

/* The length of the group name of a slot part "NAME#3", 0 if not a
 * slot (function names have no '#'). */
static size_t
slot_group(wire_v part, const char **name)
{
	size_t n;
	if (!wire_as_str(part, name, &n)) {
		return 0;
	}
	const char *h = memchr(*name, '#', n);
	return h ? (size_t)(h - *name) : 0;
}

static bool
same_str(wire_v a, wire_v b)
{
	const char *x, *y;
	size_t nx, ny;
	return wire_as_str(a, &x, &nx) && wire_as_str(b, &y, &ny) && nx == ny &&
	    memcmp(x, y, nx) == 0;
}

/* Whether part i is a slot whose note its group's slot 0 already says
 * for every slot (then it is said once, under the group's name). */
static bool
note_of_group(wire_v parts, size_t i, bool *whole)
{
	const char *s, *s0;
	size_t g = slot_group(wire_get(wire_at(parts, i), "part"), &s);
	size_t first = i;
	*whole = false;
	if (g == 0) {
		return false;
	}
	while (first > 0) {
		size_t g0 = slot_group(
		    wire_get(wire_at(parts, first - 1), "part"), &s0);
		if (g0 != g || memcmp(s0, s, g) != 0) {
			break;
		}
		first--;
	}
	wire_v note0 = wire_get(wire_at(parts, first), "note");
	*whole = true;
	for (size_t j = first + 1; j < wire_len(parts); j++) {
		wire_v it = wire_at(parts, j);
		size_t gj = slot_group(wire_get(it, "part"), &s0);
		if (gj != g || memcmp(s0, s, g) != 0) {
			break;
		}
		*whole = *whole && same_str(wire_get(it, "note"), note0);
	}
	return first != i && *whole;
}

/* The keyed functions' lines under `workflow show`: per function and
 * node, its slots there and their keys. */
static void
show_keyed(wire_v keyed, struct table *notes)
{
	for (size_t i = 0; i < wire_len(keyed); i++) {
		wire_v it = wire_at(keyed, i);
		char *fn = text_wire(wire_get(it, "function"));
		char *node = text_wire(wire_get(it, "node"));
		uint64_t slots = wire_as_u64(wire_get(it, "slots"), 0);
		table_fmt(notes, "%s on %s", fn ? fn : "?", node ? node : "?");
		table_fmt(notes,
		    "keyed: %llu keys active, %llu with state; %llu "
		    "activations, %llu passivations (%llu slot%s)",
		    (unsigned long long)wire_as_u64(
		        wire_get(it, "keys_active"), 0),
		    (unsigned long long)wire_as_u64(
		        wire_get(it, "keys_stored"), 0),
		    (unsigned long long)wire_as_u64(
		        wire_get(it, "key_activations"), 0),
		    (unsigned long long)wire_as_u64(
		        wire_get(it, "key_passivations"), 0),
		    (unsigned long long)slots, slots == 1 ? "" : "s");
		free(fn);
		free(node);
	}
}

/* The sentences under `workflow show`: the orchestrator's note on a part,
 * or if it has none, what a node loss does to a function without
 * replicas.  A note every slot of a keyed function has is said once. */
static void
show_notes(wire_v parts, struct table *notes)
{
	for (size_t i = 0; i < wire_len(parts); i++) {
		wire_v it = wire_at(parts, i);
		wire_v node = wire_get(it, "node");
		wire_v note = wire_get(it, "note");
		const char *s, *pn;
		size_t n;
		bool whole;

		if (note_of_group(parts, i, &whole)) {
			continue;
		}
		size_t g = slot_group(wire_get(it, "part"), &pn);
		if (wire_as_str(note, &s, &n) && n > 0) {
			if (g > 0 && whole) {
				table_fmt(notes, "%.*s", (int)g, pn);
			} else {
				table_val(notes, wire_get(it, "part"));
			}
			table_val(notes, note);
		} else if (value_is_function(it) &&
		    wire_as_u64(wire_get(it, "replicas"), 0) == 0) {
			table_val(notes, wire_get(it, "part"));
			if (wire_as_str(node, &s, &n) && n > 0) {
				char *nd = text_wire(node);
				table_fmt(notes,
				    "no state replicas: if %s is lost, this "
				    "function restarts elsewhere with empty "
				    "state",
				    nd ? nd : "?");
				free(nd);
			} else {
				table_text(notes,
				    "no state replicas: after a node loss this "
				    "function restarts with empty state");
			}
		}
	}
}

int
print_human_wf_show(wire_v r, const struct view *v, FILE *out)
{
	static const char *const head[] = { "PART", "KIND", "TYPE", "NODE",
		"STATE", "EVENTS IN", "EVENTS OUT", "ERRORS", "REPLICAS",
		NULL };
	wire_v parts = wire_get(r, "parts"), pending = wire_get(r, "pending");
	struct table t = { 0 }, p = { .ncols = 2 }, notes = { .ncols = 2 };
	char *name = text_wire(wire_get(r, "name"));
	char *file = text_wire(wire_get(r, "file"));
	int rc = 0;

	if (name == NULL || file == NULL) {
		rc = -1;
		goto out;
	}
	fprintf(out, "workflow %s", strcmp(name, "-") ? name : v->name);
	fprintf(out, strcmp(file, "-") ? " (from %s)\n" : "\n", file);
	table_header(&t, head);
	for (size_t i = 0; i < wire_len(parts); i++) {
		wire_v it = wire_at(parts, i);
		char size[32];
		table_val(&t, wire_get(it, "part"));
		table_val(&t, wire_get(it, "kind"));
		table_val(&t, wire_get(it, "type"));
		table_val(&t, wire_get(it, "node"));
		if (value_is_function(it)) {
			text_size(size, sizeof size,
			    wire_as_u64(wire_get(it, "state_bytes"), 0));
			table_text(&t, size);
		} else {
			table_text(&t, "-");
		}
		table_val(&t, wire_get(it, "events_in"));
		table_val(&t, wire_get(it, "events_out"));
		table_val(&t, wire_get(it, "errors"));
		if (!value_is_function(it)) {
			table_text(&t, "-");
		} else if (wire_as_u64(wire_get(it, "replicas"), 0) == 0) {
			table_text(&t, "none");
		} else if (wire_len(wire_get(it, "replica_nodes")) > 0) {
			table_val(&t, wire_get(it, "replica_nodes"));
		} else {
			/* Wanted, but no node can keep one now. */
			table_fmt(&t, "none of %llu",
			    (unsigned long long)wire_as_u64(
			        wire_get(it, "replicas"), 0));
		}
	}
	rc |= table_print(&t, out, "  ");
	if (wire_len(pending) > 0) {
		fputs("pending (waiting for a node):\n", out);
		for (size_t i = 0; i < wire_len(pending); i++) {
			table_val(&p, wire_get(wire_at(pending, i), "part"));
			table_val(&p, wire_get(wire_at(pending, i), "why"));
		}
		rc |= table_print(&p, out, "  ");
	}
	show_keyed(wire_get(r, "keyed"), &notes);
	show_notes(parts, &notes);
	if (notes.n > 0) {
		fputs("notes:\n", out);
		rc |= table_print(&notes, out, "  ");
	}
out:
	free(name);
	free(file);
	table_free(&t);
	table_free(&p);
	table_free(&notes);
	return rc;
}

int
print_human_node_list(wire_v r, const struct view *v, FILE *out)
{
	static const char *const head[] = { "NAME", "LABELS", "ARCH", "HEALTH",
		"INSTANCES", "LAST HEARTBEAT", NULL };
	wire_v nodes = wire_get(r, "nodes");
	struct table t = { 0 };
	int rc;

	(void)v;
	if (wire_len(nodes) == 0) {
		fputs("no nodes have joined the domain\n", out);
		return 0;
	}
	table_header(&t, head);
	for (size_t i = 0; i < wire_len(nodes); i++) {
		wire_v it = wire_at(nodes, i);
		char ago[32];
		table_val(&t, wire_get(it, "name"));
		table_val(&t, wire_get(it, "labels"));
		table_val(&t, wire_get(it, "arch"));
		table_val(&t, wire_get(it, "health"));
		table_val(&t, wire_get(it, "instances"));
		text_ago(ago, sizeof ago, wire_get(it, "last_heartbeat_ms"));
		table_text(&t, ago);
	}
	rc = table_print(&t, out, "");
	table_free(&t);
	return rc;
}

int
print_human_drain(wire_v r, const struct view *v, FILE *out)
{
	static const char *const head[] = { "PART", "FROM", "TO", NULL };
	wire_v moved = wire_get(r, "moved");
	wire_v stay = wire_get(r, "stay");
	struct table t = { 0 };
	int rc = 0;

	if (wire_len(moved) == 0) {
		fprintf(
		    out, "node %s is draining: no part had to move\n", v->name);
	} else {
		fprintf(out, "node %s is draining: %zu part%s moved\n", v->name,
		    wire_len(moved), wire_len(moved) == 1 ? "" : "s");
		table_header(&t, head);
		for (size_t i = 0; i < wire_len(moved); i++) {
			wire_v it = wire_at(moved, i);
			table_val(&t, wire_get(it, "part"));
			table_val(&t, wire_get(it, "from"));
			table_val(&t, wire_get(it, "to"));
		}
		rc = table_print(&t, out, "  ");
		table_free(&t);
	}
	/* Parts that fit no other node keep running where they are. */
	for (size_t i = 0; rc == 0 && i < wire_len(stay); i++) {
		char *part = text_wire(wire_get(wire_at(stay, i), "part"));
		char *why = text_wire(wire_get(wire_at(stay, i), "why"));
		if (part != NULL && why != NULL) {
			fprintf(out, "stays: %s (%s)\n", part, why);
		}
		free(part);
		free(why);
	}
	return rc;
}

int
print_human_move(wire_v r, const struct view *v, FILE *out)
{
	char *from = text_wire(wire_get(r, "from"));
	char *to = text_wire(wire_get(r, "to"));
	char *epoch = text_wire(wire_get(r, "epoch"));
	int rc = -1;

	if (from != NULL && to != NULL && epoch != NULL) {
		fprintf(out, "moved %s/%s from %s to %s (epoch %s)\n", v->name,
		    v->part, from, to, epoch);
		rc = 0;
	}
	free(from);
	free(to);
	free(epoch);
	return rc;
}

int
print_human_reload(wire_v r, const struct view *v, FILE *out)
{
	wire_v nodes = wire_get(r, "nodes");
	char *list = text_wire(nodes);

	if (list == NULL) {
		return -1;
	}
	fprintf(out, "reloaded %s/%s with code %.12s ", v->name, v->part,
	    v->hash ? v->hash : "?");
	if (wire_len(nodes) > 0) {
		fprintf(out, "on %s\n", list);
	} else {
		fputs("(no node runs it now; it starts with this code)\n", out);
	}
	free(list);
	return 0;
}

int
print_human_invoke(wire_v r, const struct view *v, FILE *out)
{
	const void *p;
	size_t n;

	if (!v->call) {
		fprintf(out, "cast to %s/%s accepted\n", v->name, v->part);
	} else if (wire_as_bin(wire_get(r, "reply"), &p, &n) && n > 0) {
		fwrite(p, 1, n, out);
	}
	return 0;
}
int
print_human_state(wire_v r, const struct view *v, FILE *out)
{
	wire_v es = wire_get(r, "entries");
	struct strbuf b = { 0 };
	char *line;

	for (size_t i = 0; i < wire_len(es); i++) {
		wire_v it = wire_at(es, i);
		const void *p;
		size_t n;
		if (!view_entry_wanted(it, v)) {
			continue;
		}
		if (!wire_as_bin(wire_get(it, "key"), &p, &n)) {
			p = "";
			n = 0;
		}
		text_put_escaped(&b, p, n, true);
		strbuf_str(&b, " = ");
		if (!wire_as_bin(wire_get(it, "value"), &p, &n)) {
			p = "";
			n = 0;
		}
		text_put_escaped(&b, p, n, true);
		strbuf_str(&b, "\n");
	}
	if ((line = strbuf_take(&b)) == NULL) {
		return -1;
	}
	fputs(line, out);
	free(line);
	return 0;
}

/* `state keys`: a key per line; when more follow, stderr says how to
 * get them. */
int
print_human_keys(wire_v r, const struct view *v, FILE *out)
{
	wire_v ks = wire_get(r, "keys");
	struct strbuf b = { 0 };
	char *text, *last = NULL;

	(void)v;
	for (size_t i = 0; i < wire_len(ks); i++) {
		const void *p;
		size_t n;
		if (!wire_as_bin(wire_at(ks, i), &p, &n)) {
			continue;
		}
		text_put_escaped(&b, p, n, true);
		strbuf_str(&b, "\n");
		if (i + 1 == wire_len(ks)) {
			free(last);
			last = text_escape(p, n, true);
		}
	}
	if ((text = strbuf_take(&b)) == NULL) {
		free(last);
		return -1;
	}
	fputs(text, out);
	free(text);
	if (wire_as_bool(wire_get(r, "more"), false) && last != NULL) {
		fflush(out); /* the keys, then the note */
		fprintf(stderr, "more keys follow: --after '%s'\n", last);
	}
	free(last);
	return 0;
}

/* One log line: TIME NODE LEVEL [WHO] LINE. */
static int
log_line(wire_v it, FILE *out)
{
	char when[48];
	char *node = text_wire(wire_get(it, "node"));
	char *level = text_level(wire_get(it, "level"));
	char *who = text_wire(wire_get(it, "who"));
	char *line = text_wire(wire_get(it, "line"));
	int rc = -1;

	if (node != NULL && level != NULL && who != NULL && line != NULL) {
		text_time(
		    when, sizeof when, wire_as_u64(wire_get(it, "ms"), 0));
		fprintf(out, "%s %s %-5s ", when, node, level);
		if (strcmp(who, "-") != 0) {
			fprintf(out, "[%s] ", who);
		}
		fprintf(out, "%s\n", strcmp(line, "-") ? line : "");
		rc = 0;
	}
	free(node);
	free(level);
	free(who);
	free(line);
	return rc;
}

int
print_human_logs(wire_v r, const struct view *v, FILE *out)
{
	wire_v lines = wire_get(r, "lines");
	(void)v;
	for (size_t i = 0; i < wire_len(lines); i++) {
		if (log_line(wire_at(lines, i), out) != 0) {
			return -1;
		}
	}
	return 0;
}
