/*
 * cli_domain.c - the commands that talk to a domain's orchestrator (see
 * cli_domain.h and docs/protocol.md).
 *
 * Each command is four small steps kept apart: parse the arguments
 * (parse_args, from a table of commands), build the request (req_*),
 * send it (call), and print the reply (cli_show_reply, human or JSON).
 */
#include <errno.h>
#include <ftw.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "base/diag.h"
#include "net/msg.h"
#include "code/code.h"
#include "base/sha256.h"
#include "workflow/workflow.h"
#include "cli_domain.h"
#include "json_out.h"

/* Rounds of need-code -> code.put -> wf.start before giving up. */
#define UPLOAD_ROUNDS 3
/* How often `logs -f` asks for new lines. */
#define FOLLOW_MS 300
/* Room left in a message for the keys around the bytes of a code.put. */
#define ENVELOPE 4096

/* ------------------------------------------------------------------ */
/* usage texts                                                         */

static const char usage_common[] =
    "common options:\n"
    "      --orchestrator URL  the orchestrator (default: "
    "$LEDGE_ORCHESTRATOR,\n"
    "                          else " CLI_DEFAULT_ORCHESTRATOR "); tcp://, "
    "ipc:// or\n"
    "                          tls+tcp:// (which needs the three --tls-*)\n"
    "      --tls-cert FILE     this client's certificate (PEM)\n"
    "      --tls-key FILE      its private key (PEM)\n"
    "      --tls-ca FILE       the CA that signed the domain's certificates\n"
    "      --timeout MS        how long to wait for the answer (default "
    "%s)\n"
    "      --json              one JSON document on stdout, for scripts\n"
    "  -h, --help              this text\n"
    "\n"
    "exit status: 0 success; 1 the operation failed or the orchestrator\n"
    "could not be reached (the reason is on stderr); 2 a usage error.\n";

static const char usage_workflow[] =
    "usage: ledge workflow COMMAND [OPTIONS] [ARGS]\n"
    "\n"
    "The workflows of a domain, through its orchestrator.\n"
    "\n"
    "commands:\n"
    "  start FILE.yaml   validate a workflow, upload its code and start it\n"
    "                    (a running workflow of the same name is replaced)\n"
    "  stop NAME         stop a workflow on every node\n"
    "  list              the workflows, with their parts placed and "
    "pending\n"
    "  show NAME         each part: node, state size, events, errors\n"
    "\n"
    "`ledge workflow COMMAND --help` describes each command.\n";

static const char usage_wf_start[] =
    "usage: ledge workflow start [OPTIONS] FILE.yaml\n"
    "\n"
    "Validate the workflow as `ledge validate` does (every problem is\n"
    "printed as file:line:col: message, and then nothing is sent), and\n"
    "send it to the orchestrator, which places each function and resource\n"
    "on a node.  Code is content-addressed: only the .so files the domain\n"
    "does not have yet are uploaded.  A running workflow of the same name\n"
    "is replaced.  Prints where each part was placed, and each part still\n"
    "waiting for a node and why.\n";

static const char usage_wf_stop[] =
    "usage: ledge workflow stop [OPTIONS] NAME\n"
    "\n"
    "Stop the workflow NAME: its parts stop on every node.\n";

static const char usage_wf_list[] =
    "usage: ledge workflow list [OPTIONS]\n"
    "\n"
    "List the workflows of the domain: how many functions and resources\n"
    "each has, how many of its parts are placed and how many wait for a\n"
    "node.\n";

static const char usage_wf_show[] =
    "usage: ledge workflow show [OPTIONS] NAME\n"
    "\n"
    "Show each function and resource of the workflow NAME: the node it\n"
    "runs on, its state size, events in and out, errors, and its state\n"
    "replicas.  A function without replicas keeps its state only on its\n"
    "node: if that node is lost, the function starts again elsewhere with\n"
    "empty state.\n";

static const char usage_node[] =
    "usage: ledge node COMMAND [OPTIONS] [ARGS]\n"
    "\n"
    "The nodes of a domain, as its orchestrator sees them.\n"
    "\n"
    "commands:\n"
    "  list         every node: labels, architecture, health, instances\n"
    "               and its last heartbeat\n"
    "  drain NAME   move every part off node NAME and place nothing new "
    "there\n"
    "\n"
    "`ledge node COMMAND --help` describes each command.\n";

static const char usage_node_list[] =
    "usage: ledge node list [OPTIONS]\n"
    "\n"
    "List the nodes that joined the domain: name, labels, architecture,\n"
    "health (up, lost or draining), how many instances each runs, and how\n"
    "long ago its last heartbeat arrived.\n";

static const char usage_node_drain[] =
    "usage: ledge node drain [OPTIONS] NAME\n"
    "\n"
    "Drain node NAME: the orchestrator moves each part it runs, with its\n"
    "state, to another feasible node and places nothing new on it.  A part\n"
    "that fits no other node (e.g. pinned with placement.node) stays and\n"
    "is listed with the reason.  The node takes work again once its\n"
    "`ledge node` process restarts (after the maintenance).  Prints what\n"
    "moved where.\n";

static const char usage_function[] =
    "usage: ledge function move [OPTIONS] WORKFLOW FUNCTION NODE\n"
    "       ledge function reload [OPTIONS] WORKFLOW FUNCTION FILE.so\n"
    "\n"
    "  move     move a function, with its state, to node NODE\n"
    "  reload   upload new code for a function and hot-reload it on every\n"
    "           node that runs it\n"
    "\n"
    "`ledge function move --help` and `ledge function reload --help` tell "
    "more.\n";

static const char usage_fn_move[] =
    "usage: ledge function move [OPTIONS] WORKFLOW FUNCTION NODE\n"
    "\n"
    "Move the function FUNCTION of WORKFLOW to node NODE; its state goes\n"
    "with it.  Prints where it came from and its new placement epoch.\n";

static const char usage_fn_reload[] =
    "usage: ledge function reload [OPTIONS] WORKFLOW FUNCTION FILE.so\n"
    "\n"
    "Upload FILE.so (content-addressed: its SHA-256 names it) and switch\n"
    "the function FUNCTION of WORKFLOW to it on every node that runs it.\n"
    "Each instance switches between two events, keeps its state and runs\n"
    "the new init; if that fails, it stays on the old code and the reason\n"
    "is printed.\n";

static const char usage_invoke[] =
    "usage: ledge invoke [OPTIONS] WORKFLOW TARGET DATA\n"
    "\n"
    "Send DATA to TARGET, a function or resource of WORKFLOW: as a cast\n"
    "(one way; exit status 0 once the domain accepted it) or, with --call,\n"
    "as a call whose reply bytes are written to stdout unchanged.  DATA is\n"
    "the argument's bytes, or with - everything read from stdin; put --\n"
    "before a DATA that starts with '-'.  --timeout is also the call's own\n"
    "time limit (the command waits 2 s longer for the answer).\n"
    "\n"
    "options:\n"
    "  -c, --call              wait for the reply and print it\n";

static const char usage_state[] =
    "usage: ledge state get [OPTIONS] WORKFLOW FUNCTION [KEY]\n"
    "\n"
    "The state of a function (`ledge state get --help` tells more).\n";

static const char usage_state_get[] =
    "usage: ledge state get [OPTIONS] WORKFLOW FUNCTION [KEY]\n"
    "\n"
    "Print the state of the function FUNCTION of WORKFLOW, or only KEY, as\n"
    "`key = value` lines.  Bytes that are not printable text are shown as\n"
    "\\xNN and a backslash as \\\\; KEY may be written the same way (e.g.\n"
    "'user\\x00id').  With --json, keys and values are base64 (RFC 4648):\n"
    "{\"ok\":true,\"entries\":[{\"key\":\"bg==\",\"value\":\"AQ==\"}]}.\n"
    "Exit status 1 if KEY is not there.\n";

static const char usage_logs[] =
    "usage: ledge logs [OPTIONS] WORKFLOW\n"
    "\n"
    "Print the log lines of WORKFLOW's functions that the orchestrator\n"
    "keeps, one per line: TIME NODE LEVEL [WHO] LINE (TIME in UTC; control\n"
    "characters shown as \\xNN).  With --json, one document\n"
    "{\"ok\":true,\"lines\":[...],\"next\":N}, each line an object with\n"
    "seq, ms, time, node, who, level and line; with -f, one such object\n"
    "per output line (JSON Lines).\n"
    "\n"
    "options:\n"
    "  -f, --follow            keep printing new lines (asking every 300 "
    "ms)\n"
    "                          until Ctrl-C\n";

/* ------------------------------------------------------------------ */
/* a growing string                                                    */

struct sbuf {
	char *p;
	size_t len, cap;
	bool oom;
};

static void
sb_put(struct sbuf *b, const void *s, size_t n)
{
	if (b->oom) {
		return;
	}
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 64;
		char *p;
		while (cap < b->len + n + 1) {
			cap *= 2;
		}
		if ((p = realloc(b->p, cap)) == NULL) {
			b->oom = true;
			return;
		}
		b->p = p;
		b->cap = cap;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

static void
sb_str(struct sbuf *b, const char *s)
{
	sb_put(b, s, strlen(s));
}

static void sb_fmt(struct sbuf *b, const char *fmt, ...) DIAG_PRINTF(2, 3);

static void
sb_fmt(struct sbuf *b, const char *fmt, ...)
{
	char tmp[256];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(tmp, sizeof tmp, fmt, ap);
	va_end(ap);
	if (n < 0) {
		b->oom = true;
	} else {
		sb_put(b, tmp,
		    (size_t)n < sizeof tmp ? (size_t)n : sizeof tmp - 1);
	}
}

/* The string (owned by the caller; "" if nothing was added), or NULL when
 * out of memory. */
static char *
sb_take(struct sbuf *b)
{
	char *p;
	if (b->oom) {
		free(b->p);
		p = NULL;
	} else {
		p = b->p != NULL ? b->p : strdup("");
	}
	memset(b, 0, sizeof *b);
	return p;
}

/* ------------------------------------------------------------------ */
/* escaping for people                                                 */

static void
sb_escape(struct sbuf *b, const void *data, size_t n, bool backslash)
{
	const unsigned char *p = data;
	size_t i = 0;

	while (i < n && !b->oom) {
		size_t k = json_utf8_len(p + i, n - i);
		if (k > 1 ||
		    (k == 1 && p[i] >= 0x20 && p[i] < 0x7f &&
		        !(backslash && p[i] == '\\'))) {
			sb_put(b, p + i, k);
			i += k;
		} else if (k == 1 && p[i] == '\\') {
			sb_str(b, "\\\\");
			i++;
		} else {
			sb_fmt(b, "\\x%02x", p[i]);
			i++;
		}
	}
}

char *
cli_escape(const void *p, size_t n, bool backslash)
{
	struct sbuf b = { 0 };
	sb_escape(&b, p, n, backslash);
	return sb_take(&b);
}

static int
hexval(char c)
{
	if (c >= '0' && c <= '9') {
		return c - '0';
	}
	if (c >= 'a' && c <= 'f') {
		return c - 'a' + 10;
	}
	if (c >= 'A' && c <= 'F') {
		return c - 'A' + 10;
	}
	return -1;
}

int
cli_unescape(const char *s, char **out, size_t *len)
{
	size_t n = strlen(s), k = 0;
	char *b = malloc(n + 1);

	*out = NULL;
	*len = 0;
	if (b == NULL) {
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		if (s[i] != '\\') {
			b[k++] = s[i];
		} else if (s[i + 1] == '\\') {
			b[k++] = '\\';
			i++;
		} else if (s[i + 1] == 'x' && hexval(s[i + 2]) >= 0 &&
		    hexval(s[i + 3]) >= 0) {
			b[k++] =
			    (char)(hexval(s[i + 2]) * 16 + hexval(s[i + 3]));
			i += 3;
		} else {
			free(b);
			return -1;
		}
	}
	b[k] = '\0';
	*out = b;
	*len = k;
	return 0;
}

/* ------------------------------------------------------------------ */
/* reading wire values                                                 */

static bool
is_u64(wire_v v)
{
	return wire_as_u64(v, 0) == wire_as_u64(v, 1);
}

static bool
is_i64(wire_v v)
{
	return wire_as_i64(v, 0) == wire_as_i64(v, 1);
}

static bool
is_bool(wire_v v)
{
	return wire_as_bool(v, false) == wire_as_bool(v, true);
}

/* A count that the protocol may send as a number or as a list. */
static uint64_t
count_of(wire_v v)
{
	return wire_is_array(v) ? wire_len(v) : wire_as_u64(v, 0);
}

/* A value as text for a table cell or a sentence: strings and bytes
 * escaped, numbers in decimal, lists joined with ",", maps as k=v, and
 * "-" for nothing. */
static void
sb_wire(struct sbuf *b, wire_v v)
{
	const char *s;
	const void *p;
	size_t n;

	if (!wire_ok(v) || wire_is_nil(v) ||
	    ((wire_is_array(v) || wire_is_map(v)) && wire_len(v) == 0)) {
		sb_str(b, "-");
	} else if (wire_as_str(v, &s, &n)) {
		sb_escape(b, s, n, false);
	} else if (wire_as_bin(v, &p, &n)) {
		sb_escape(b, p, n, false);
	} else if (is_u64(v)) {
		sb_fmt(b, "%" PRIu64, wire_as_u64(v, 0));
	} else if (is_i64(v)) {
		sb_fmt(b, "%" PRId64, wire_as_i64(v, 0));
	} else if (is_bool(v)) {
		sb_str(b, wire_as_bool(v, false) ? "yes" : "no");
	} else if (wire_is_array(v)) {
		for (size_t i = 0; i < wire_len(v); i++) {
			sb_str(b, i ? "," : "");
			sb_wire(b, wire_at(v, i));
		}
	} else if (wire_is_map(v)) {
		for (size_t i = 0; i < wire_len(v); i++) {
			sb_str(b, i ? "," : "");
			sb_wire(b, wire_key_at(v, i));
			sb_str(b, "=");
			sb_wire(b, wire_val_at(v, i));
		}
	} else {
		sb_str(b, "?");
	}
}

/* The same as a malloc'd string (NULL when out of memory). */
static char *
text_of(wire_v v)
{
	struct sbuf b = { 0 };
	sb_wire(&b, v);
	return sb_take(&b);
}

/* Any wire value as JSON: bytes as base64, nothing as null. */
static void
json_wire(struct json_out *j, wire_v v)
{
	const char *s;
	const void *p;
	size_t n;

	if (!wire_ok(v) || wire_is_nil(v)) {
		json_null(j);
	} else if (wire_is_map(v)) {
		json_obj_begin(j);
		for (size_t i = 0; i < wire_len(v); i++) {
			wire_v k = wire_key_at(v, i);
			if (wire_as_str(k, &s, &n)) {
				json_keyn(j, s, n);
			} else {
				char *t = text_of(k);
				json_key(j, t != NULL ? t : "?");
				free(t);
			}
			json_wire(j, wire_val_at(v, i));
		}
		json_obj_end(j);
	} else if (wire_is_array(v)) {
		json_arr_begin(j);
		for (size_t i = 0; i < wire_len(v); i++) {
			json_wire(j, wire_at(v, i));
		}
		json_arr_end(j);
	} else if (wire_as_str(v, &s, &n)) {
		json_strn(j, s, n);
	} else if (wire_as_bin(v, &p, &n)) {
		json_base64(j, p, n);
	} else if (is_u64(v)) {
		json_u64(j, wire_as_u64(v, 0));
	} else if (is_i64(v)) {
		json_i64(j, wire_as_i64(v, 0));
	} else if (is_bool(v)) {
		json_bool(j, wire_as_bool(v, false));
	} else {
		json_null(j); /* a float: not part of the protocol */
	}
}

static bool
listed(const char *const *names, const char *s, size_t n)
{
	for (; names != NULL && *names != NULL; names++) {
		if (strlen(*names) == n && memcmp(*names, s, n) == 0) {
			return true;
		}
	}
	return false;
}

/* The members of map m that are neither "ok" nor in skip, as they are:
 * keys this client does not know yet still reach scripts. */
static void
json_rest(struct json_out *j, wire_v m, const char *const *skip)
{
	for (size_t i = 0; i < wire_len(m); i++) {
		const char *k;
		size_t n;
		if (!wire_as_str(wire_key_at(m, i), &k, &n) ||
		    (n == 2 && memcmp(k, "ok", 2) == 0) || listed(skip, k, n)) {
			continue;
		}
		json_keyn(j, k, n);
		json_wire(j, wire_val_at(m, i));
	}
}

/* key: the value of `name` in map m (null when absent). */
static void
json_field(struct json_out *j, wire_v m, const char *name)
{
	json_key(j, name);
	json_wire(j, wire_get(m, name));
}

/* An array of objects with the listed fields of each item (null for the
 * absent ones, so scripts see a fixed shape), then its other fields. */
static void
json_items(
    struct json_out *j, const char *key, wire_v arr, const char *const *fields)
{
	json_key(j, key);
	json_arr_begin(j);
	for (size_t i = 0; i < wire_len(arr); i++) {
		wire_v it = wire_at(arr, i);
		json_obj_begin(j);
		for (size_t f = 0; fields[f] != NULL; f++) {
			json_field(j, it, fields[f]);
		}
		json_rest(j, it, fields);
		json_obj_end(j);
	}
	json_arr_end(j);
}

static void
json_kstr(struct json_out *j, const char *key, const char *s)
{
	json_key(j, key);
	json_str(j, s);
}

/* ------------------------------------------------------------------ */
/* tables                                                              */

struct table {
	size_t ncols;
	char **cells; /* owned, row by row */
	size_t n, cap;
	bool oom;
};

static void
tb_take(struct table *t, char *s)
{
	if (s == NULL) {
		t->oom = true;
		return;
	}
	if (t->n == t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 32;
		char **c = realloc(t->cells, cap * sizeof *c);
		if (c == NULL) {
			free(s);
			t->oom = true;
			return;
		}
		t->cells = c;
		t->cap = cap;
	}
	t->cells[t->n++] = s;
}

/* Cells of plain text (header titles and our own words). */
static void
tb_text(struct table *t, const char *s)
{
	tb_take(t, cli_escape(s, strlen(s), false));
}

static void
tb_val(struct table *t, wire_v v)
{
	tb_take(t, text_of(v));
}

static void tb_fmt(struct table *t, const char *fmt, ...) DIAG_PRINTF(2, 3);

static void
tb_fmt(struct table *t, const char *fmt, ...)
{
	char *s;
	va_list ap;
	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) < 0) {
		s = NULL;
	}
	va_end(ap);
	tb_take(t, s);
}

/* Columns on a terminal: escaped text is UTF-8, one column per code
 * point (wide characters are rare in names). */
static size_t
width(const char *s)
{
	size_t w = 0;
	for (; *s; s++) {
		w += ((unsigned char)*s & 0xc0) != 0x80;
	}
	return w;
}

/* Print aligned columns (two spaces apart; the last one unpadded).
 * Returns 0, or -1 if a cell could not be made. */
static int
tb_print(const struct table *t, FILE *fp, const char *indent)
{
	size_t w[16] = { 0 };

	if (t->oom || t->ncols == 0 || t->ncols > 16 || t->n % t->ncols) {
		return -1;
	}
	for (size_t i = 0; i < t->n; i++) {
		size_t c = i % t->ncols, cw = width(t->cells[i]);
		w[c] = cw > w[c] ? cw : w[c];
	}
	for (size_t i = 0; i < t->n; i++) {
		size_t c = i % t->ncols;
		if (c == 0) {
			fputs(indent, fp);
		}
		fputs(t->cells[i], fp);
		if (c + 1 == t->ncols) {
			fputc('\n', fp);
		} else {
			fprintf(fp, "%*s", (int)(w[c] - width(t->cells[i]) + 2),
			    "");
		}
	}
	return 0;
}

static void
tb_free(struct table *t)
{
	for (size_t i = 0; i < t->n; i++) {
		free(t->cells[i]);
	}
	free(t->cells);
	memset(t, 0, sizeof *t);
}

static void
tb_header(struct table *t, const char *const *titles)
{
	for (t->ncols = 0; titles[t->ncols] != NULL; t->ncols++) {
		tb_text(t, titles[t->ncols]);
	}
}

/* ------------------------------------------------------------------ */
/* words for numbers                                                   */

static void
fmt_size(char *b, size_t n, uint64_t v)
{
	if (v < 1024) {
		snprintf(b, n, "%" PRIu64 " B", v);
	} else if (v < 1024 * 1024) {
		snprintf(b, n, "%.1f KiB", (double)v / 1024);
	} else if (v < 1024ull * 1024 * 1024) {
		snprintf(b, n, "%.1f MiB", (double)v / (1024 * 1024));
	} else {
		snprintf(b, n, "%.1f GiB", (double)v / (1024 * 1024 * 1024));
	}
}

static void
fmt_ago(char *b, size_t n, wire_v v)
{
	uint64_t ms = wire_as_u64(v, 0);
	if (!is_u64(v) || ms == UINT64_MAX) {
		snprintf(b, n, "never"); /* UINT64_MAX: no heartbeat yet */
	} else if (ms < 1000) {
		snprintf(b, n, "%" PRIu64 " ms ago", ms);
	} else if (ms < 60000) {
		snprintf(b, n, "%.1f s ago", (double)ms / 1000);
	} else if (ms < 3600000) {
		snprintf(b, n, "%" PRIu64 " min ago", ms / 60000);
	} else {
		snprintf(b, n, "%" PRIu64 " h ago", ms / 3600000);
	}
}

/* Milliseconds since the epoch as 2026-11-27T11:12:03.123Z (the format of
 * the runtime's own log). */
static void
fmt_time(char *b, size_t n, uint64_t ms)
{
	time_t s = (time_t)(ms / 1000);
	struct tm tm;
	char day[32];
	if (gmtime_r(&s, &tm) == NULL ||
	    strftime(day, sizeof day, "%Y-%m-%dT%H:%M:%S", &tm) == 0) {
		snprintf(day, sizeof day, "?");
	}
	snprintf(b, n, "%s.%03uZ", day, (unsigned)(ms % 1000));
}

/* A log level as a word: the protocol's string, or a runtime level. */
static char *
level_of(wire_v v)
{
	static const char *const names[] = { "ERROR", "WARN", "INFO", "DEBUG" };
	struct sbuf b = { 0 };
	const char *s;
	size_t n;

	if (is_u64(v) && wire_as_u64(v, 0) < 4) {
		sb_str(&b, names[wire_as_u64(v, 0)]);
	} else if (wire_as_str(v, &s, &n)) {
		for (size_t i = 0; i < n; i++) {
			char c = s[i];
			sb_put(&b,
			    &(char) { c >= 'a' && c <= 'z' ? c - 32 : c }, 1);
		}
		char *raw = sb_take(&b);
		char *esc = raw ? cli_escape(raw, strlen(raw), false) : NULL;
		free(raw);
		return esc;
	} else {
		sb_wire(&b, v);
	}
	return sb_take(&b);
}

/* ------------------------------------------------------------------ */
/* human replies                                                       */

static int
human_start(wire_v r, const struct cli_view *v, FILE *out)
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
		tb_header(&t, head);
		for (size_t i = 0; i < wire_len(placed); i++) {
			wire_v it = wire_at(placed, i);
			tb_val(&t, wire_get(it, "part"));
			tb_val(&t, wire_get(it, "kind"));
			tb_val(&t, wire_get(it, "type"));
			tb_val(&t, wire_get(it, "node"));
		}
		rc |= tb_print(&t, out, "  ");
	}
	if (wire_len(pending) > 0) {
		fputs("pending (waiting for a node):\n", out);
		for (size_t i = 0; i < wire_len(pending); i++) {
			wire_v it = wire_at(pending, i);
			tb_val(&p, wire_get(it, "part"));
			tb_val(&p, wire_get(it, "why"));
		}
		rc |= tb_print(&p, out, "  ");
	}
	if (wire_ok(wire_get(r, "warning"))) {
		char *warn = text_of(wire_get(r, "warning"));
		if (warn != NULL) {
			fprintf(out, "warning: %s\n", warn);
		}
		rc |= warn == NULL ? -1 : 0;
		free(warn);
	}
	tb_free(&t);
	tb_free(&p);
	return rc;
}

static int
human_stop(wire_v r, const struct cli_view *v, FILE *out)
{
	(void)r;
	fprintf(out, "workflow %s stopped\n", v->name);
	return 0;
}

static int
human_wf_list(wire_v r, const struct cli_view *v, FILE *out)
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
	tb_header(&t, head);
	for (size_t i = 0; i < wire_len(wfs); i++) {
		wire_v it = wire_at(wfs, i);
		tb_val(&t, wire_get(it, "name"));
		tb_fmt(&t, "%" PRIu64, count_of(wire_get(it, "functions")));
		tb_fmt(&t, "%" PRIu64, count_of(wire_get(it, "resources")));
		tb_fmt(&t, "%" PRIu64, count_of(wire_get(it, "placed")));
		tb_fmt(&t, "%" PRIu64, count_of(wire_get(it, "pending")));
	}
	rc = tb_print(&t, out, "");
	tb_free(&t);
	return rc;
}

static bool
is_function(wire_v part)
{
	return wire_str_eq(wire_get(part, "kind"), "function");
}

/* The sentences under `workflow show`: the orchestrator's note on a part,
 * or if it has none, what a node loss does to a function without
 * replicas. */
static void
show_notes(wire_v parts, struct table *notes)
{
	for (size_t i = 0; i < wire_len(parts); i++) {
		wire_v it = wire_at(parts, i);
		wire_v node = wire_get(it, "node");
		wire_v note = wire_get(it, "note");
		const char *s;
		size_t n;

		if (wire_as_str(note, &s, &n) && n > 0) {
			tb_val(notes, wire_get(it, "part"));
			tb_val(notes, note);
		} else if (is_function(it) &&
		    wire_as_u64(wire_get(it, "replicas"), 0) == 0) {
			tb_val(notes, wire_get(it, "part"));
			if (wire_as_str(node, &s, &n) && n > 0) {
				char *nd = text_of(node);
				tb_fmt(notes,
				    "no state replicas: if %s is lost, this "
				    "function restarts elsewhere with empty "
				    "state",
				    nd ? nd : "?");
				free(nd);
			} else {
				tb_text(notes,
				    "no state replicas: after a node loss this "
				    "function restarts with empty state");
			}
		}
	}
}

static int
human_wf_show(wire_v r, const struct cli_view *v, FILE *out)
{
	static const char *const head[] = { "PART", "KIND", "TYPE", "NODE",
		"STATE", "EVENTS IN", "EVENTS OUT", "ERRORS", "REPLICAS",
		NULL };
	wire_v parts = wire_get(r, "parts"), pending = wire_get(r, "pending");
	struct table t = { 0 }, p = { .ncols = 2 }, notes = { .ncols = 2 };
	char *name = text_of(wire_get(r, "name"));
	char *file = text_of(wire_get(r, "file"));
	int rc = 0;

	if (name == NULL || file == NULL) {
		rc = -1;
		goto out;
	}
	fprintf(out, "workflow %s", strcmp(name, "-") ? name : v->name);
	fprintf(out, strcmp(file, "-") ? " (from %s)\n" : "\n", file);
	tb_header(&t, head);
	for (size_t i = 0; i < wire_len(parts); i++) {
		wire_v it = wire_at(parts, i);
		char size[32];
		tb_val(&t, wire_get(it, "part"));
		tb_val(&t, wire_get(it, "kind"));
		tb_val(&t, wire_get(it, "type"));
		tb_val(&t, wire_get(it, "node"));
		if (is_function(it)) {
			fmt_size(size, sizeof size,
			    wire_as_u64(wire_get(it, "state_bytes"), 0));
			tb_text(&t, size);
		} else {
			tb_text(&t, "-");
		}
		tb_val(&t, wire_get(it, "events_in"));
		tb_val(&t, wire_get(it, "events_out"));
		tb_val(&t, wire_get(it, "errors"));
		if (!is_function(it)) {
			tb_text(&t, "-");
		} else if (wire_as_u64(wire_get(it, "replicas"), 0) == 0) {
			tb_text(&t, "none");
		} else if (wire_len(wire_get(it, "replica_nodes")) > 0) {
			tb_val(&t, wire_get(it, "replica_nodes"));
		} else {
			/* Wanted, but no node can keep one now. */
			tb_fmt(&t, "none of %llu",
			    (unsigned long long)wire_as_u64(
			        wire_get(it, "replicas"), 0));
		}
	}
	rc |= tb_print(&t, out, "  ");
	if (wire_len(pending) > 0) {
		fputs("pending (waiting for a node):\n", out);
		for (size_t i = 0; i < wire_len(pending); i++) {
			tb_val(&p, wire_get(wire_at(pending, i), "part"));
			tb_val(&p, wire_get(wire_at(pending, i), "why"));
		}
		rc |= tb_print(&p, out, "  ");
	}
	show_notes(parts, &notes);
	if (notes.n > 0) {
		fputs("notes:\n", out);
		rc |= tb_print(&notes, out, "  ");
	}
out:
	free(name);
	free(file);
	tb_free(&t);
	tb_free(&p);
	tb_free(&notes);
	return rc;
}

static int
human_node_list(wire_v r, const struct cli_view *v, FILE *out)
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
	tb_header(&t, head);
	for (size_t i = 0; i < wire_len(nodes); i++) {
		wire_v it = wire_at(nodes, i);
		char ago[32];
		tb_val(&t, wire_get(it, "name"));
		tb_val(&t, wire_get(it, "labels"));
		tb_val(&t, wire_get(it, "arch"));
		tb_val(&t, wire_get(it, "health"));
		tb_val(&t, wire_get(it, "instances"));
		fmt_ago(ago, sizeof ago, wire_get(it, "last_heartbeat_ms"));
		tb_text(&t, ago);
	}
	rc = tb_print(&t, out, "");
	tb_free(&t);
	return rc;
}

static int
human_drain(wire_v r, const struct cli_view *v, FILE *out)
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
		tb_header(&t, head);
		for (size_t i = 0; i < wire_len(moved); i++) {
			wire_v it = wire_at(moved, i);
			tb_val(&t, wire_get(it, "part"));
			tb_val(&t, wire_get(it, "from"));
			tb_val(&t, wire_get(it, "to"));
		}
		rc = tb_print(&t, out, "  ");
		tb_free(&t);
	}
	/* Parts that fit no other node keep running where they are. */
	for (size_t i = 0; rc == 0 && i < wire_len(stay); i++) {
		char *part = text_of(wire_get(wire_at(stay, i), "part"));
		char *why = text_of(wire_get(wire_at(stay, i), "why"));
		if (part != NULL && why != NULL) {
			fprintf(out, "stays: %s (%s)\n", part, why);
		}
		free(part);
		free(why);
	}
	return rc;
}

static int
human_move(wire_v r, const struct cli_view *v, FILE *out)
{
	char *from = text_of(wire_get(r, "from"));
	char *to = text_of(wire_get(r, "to"));
	char *epoch = text_of(wire_get(r, "epoch"));
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

static int
human_reload(wire_v r, const struct cli_view *v, FILE *out)
{
	wire_v nodes = wire_get(r, "nodes");
	char *list = text_of(nodes);

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

static int
human_invoke(wire_v r, const struct cli_view *v, FILE *out)
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

/* An entry to show: every one, or the one whose key is v->key (the node
 * should send only that one; this holds even if it sends more). */
static bool
entry_wanted(wire_v it, const struct cli_view *v)
{
	const void *p;
	size_t n;
	if (v->key == NULL) {
		return true;
	}
	return wire_as_bin(wire_get(it, "key"), &p, &n) && n == v->keylen &&
	    memcmp(p, v->key, n) == 0;
}

static size_t
entries_wanted(wire_v r, const struct cli_view *v)
{
	wire_v es = wire_get(r, "entries");
	size_t n = 0;
	for (size_t i = 0; i < wire_len(es); i++) {
		n += entry_wanted(wire_at(es, i), v);
	}
	return n;
}

static int
human_state(wire_v r, const struct cli_view *v, FILE *out)
{
	wire_v es = wire_get(r, "entries");
	struct sbuf b = { 0 };
	char *line;

	for (size_t i = 0; i < wire_len(es); i++) {
		wire_v it = wire_at(es, i);
		const void *p;
		size_t n;
		if (!entry_wanted(it, v)) {
			continue;
		}
		if (!wire_as_bin(wire_get(it, "key"), &p, &n)) {
			p = "";
			n = 0;
		}
		sb_escape(&b, p, n, true);
		sb_str(&b, " = ");
		if (!wire_as_bin(wire_get(it, "value"), &p, &n)) {
			p = "";
			n = 0;
		}
		sb_escape(&b, p, n, true);
		sb_str(&b, "\n");
	}
	if ((line = sb_take(&b)) == NULL) {
		return -1;
	}
	fputs(line, out);
	free(line);
	return 0;
}

/* One log line: TIME NODE LEVEL [WHO] LINE. */
static int
human_log_line(wire_v it, FILE *out)
{
	char when[48];
	char *node = text_of(wire_get(it, "node"));
	char *level = level_of(wire_get(it, "level"));
	char *who = text_of(wire_get(it, "who"));
	char *line = text_of(wire_get(it, "line"));
	int rc = -1;

	if (node != NULL && level != NULL && who != NULL && line != NULL) {
		fmt_time(when, sizeof when, wire_as_u64(wire_get(it, "ms"), 0));
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

static int
human_logs(wire_v r, const struct cli_view *v, FILE *out)
{
	wire_v lines = wire_get(r, "lines");
	(void)v;
	for (size_t i = 0; i < wire_len(lines); i++) {
		if (human_log_line(wire_at(lines, i), out) != 0) {
			return -1;
		}
	}
	return 0;
}

/* ------------------------------------------------------------------ */
/* JSON replies (members after "ok": true)                             */

static const char *const f_placed[] = { "part", "kind", "type", "node", "epoch",
	NULL };
static const char *const f_pending[] = { "part", "why", NULL };

static void
json_start(struct json_out *j, wire_v r, const struct cli_view *v)
{
	json_kstr(j, "workflow", v->name);
	json_key(j, "new");
	json_bool(j, wire_as_bool(wire_get(r, "new"), true));
	json_items(j, "placed", wire_get(r, "placed"), f_placed);
	json_items(j, "pending", wire_get(r, "pending"), f_pending);
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

static void
json_stop(struct json_out *j, wire_v r, const struct cli_view *v)
{
	(void)r;
	json_kstr(j, "workflow", v->name);
}

static void
json_wf_list(struct json_out *j, wire_v r, const struct cli_view *v)
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
		json_field(j, it, "name");
		for (size_t c = 0; counts[c] != NULL; c++) {
			json_key(j, counts[c]);
			json_u64(j, count_of(wire_get(it, counts[c])));
		}
		json_obj_end(j);
	}
	json_arr_end(j);
}

static void
json_wf_show(struct json_out *j, wire_v r, const struct cli_view *v)
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
	json_field(j, r, "file");
	json_key(j, "parts");
	json_arr_begin(j);
	for (size_t i = 0; i < wire_len(parts); i++) {
		wire_v it = wire_at(parts, i);
		json_obj_begin(j);
		for (size_t f = 0; fields[f] != NULL; f++) {
			json_field(j, it, fields[f]);
		}
		/* What `show` tells people about replicas, for scripts. */
		json_key(j, "state_lost_on_node_loss");
		json_bool(j,
		    is_function(it) &&
		        wire_as_u64(wire_get(it, "replicas"), 0) == 0);
		json_rest(j, it, ours);
		json_obj_end(j);
	}
	json_arr_end(j);
	json_items(j, "pending", wire_get(r, "pending"), f_pending);
}

static void
json_node_list(struct json_out *j, wire_v r, const struct cli_view *v)
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
		json_rest(j, it, fields);
		json_obj_end(j);
	}
	json_arr_end(j);
}

static void
json_drain(struct json_out *j, wire_v r, const struct cli_view *v)
{
	static const char *const fields[] = { "part", "from", "to", NULL };
	static const char *const sfields[] = { "part", "why", NULL };
	json_kstr(j, "node", v->name);
	json_items(j, "moved", wire_get(r, "moved"), fields);
	json_items(j, "stay", wire_get(r, "stay"), sfields);
}

static void
json_move(struct json_out *j, wire_v r, const struct cli_view *v)
{
	json_kstr(j, "workflow", v->name);
	json_kstr(j, "function", v->part);
	json_field(j, r, "from");
	json_field(j, r, "to");
	json_field(j, r, "epoch");
}

static void
json_reload(struct json_out *j, wire_v r, const struct cli_view *v)
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

static void
json_invoke(struct json_out *j, wire_v r, const struct cli_view *v)
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

static void
json_state(struct json_out *j, wire_v r, const struct cli_view *v)
{
	wire_v es = wire_get(r, "entries");
	json_key(j, "entries");
	json_arr_begin(j);
	for (size_t i = 0; i < wire_len(es); i++) {
		wire_v it = wire_at(es, i);
		const void *p;
		size_t n;
		if (!entry_wanted(it, v)) {
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
	char *level = level_of(wire_get(it, "level"));

	fmt_time(when, sizeof when, wire_as_u64(wire_get(it, "ms"), 0));
	json_obj_begin(j);
	json_field(j, it, "seq");
	json_field(j, it, "ms");
	json_kstr(j, "time", wire_ok(wire_get(it, "ms")) ? when : NULL);
	json_field(j, it, "node");
	json_field(j, it, "who");
	json_kstr(j, "level", level);
	json_field(j, it, "line");
	json_obj_end(j);
	if (level == NULL) {
		j->failed = true;
	}
	free(level);
}

static void
json_logs(struct json_out *j, wire_v r, const struct cli_view *v)
{
	wire_v lines = wire_get(r, "lines");
	(void)v;
	json_key(j, "lines");
	json_arr_begin(j);
	for (size_t i = 0; i < wire_len(lines); i++) {
		json_log_line(j, wire_at(lines, i));
	}
	json_arr_end(j);
	json_field(j, r, "next");
}

/* `logs -f --json`: one document per log line (JSON Lines). */
static int
json_log_stream(wire_v r, FILE *out)
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

/* ------------------------------------------------------------------ */
/* showing a reply                                                     */

typedef int (*human_fn)(wire_v r, const struct cli_view *v, FILE *out);
typedef void (*json_fn)(struct json_out *j, wire_v r, const struct cli_view *v);

#define NAMES(...) ((const char *const[]) { __VA_ARGS__, NULL })

/* Each kind: its two printers, and the JSON members they write (the
 * reply's other keys are passed on after them). */
static const struct {
	human_fn human;
	json_fn json;
	const char *const *members;
} formats[] = {
	[CLI_WF_START] = { human_start, json_start,
	    NAMES("workflow", "new", "placed", "pending", "uploaded") },
	[CLI_WF_STOP] = { human_stop, json_stop, NAMES("workflow") },
	[CLI_WF_LIST] = { human_wf_list, json_wf_list, NAMES("workflows") },
	[CLI_WF_SHOW] = { human_wf_show, json_wf_show,
	    NAMES("name", "file", "parts", "pending") },
	[CLI_NODE_LIST] = { human_node_list, json_node_list, NAMES("nodes") },
	[CLI_NODE_DRAIN] = { human_drain, json_drain,
	    NAMES("node", "moved", "stay") },
	[CLI_FN_MOVE] = { human_move, json_move,
	    NAMES("workflow", "function", "from", "to", "epoch") },
	[CLI_FN_RELOAD] = { human_reload, json_reload,
	    NAMES("workflow", "function", "hash", "nodes") },
	[CLI_INVOKE] = { human_invoke, json_invoke, NAMES("reply") },
	[CLI_STATE_GET] = { human_state, json_state, NAMES("entries") },
	[CLI_LOGS] = { human_logs, json_logs, NAMES("lines", "next") },
};

/* A failure found here (not sent by the orchestrator): the message on
 * err, and with --json {"ok":false,"error":...,"code":...} on out. */
static int fail(const struct cli_view *v, FILE *out, FILE *err,
    const char *code, const char *fmt, ...) DIAG_PRINTF(5, 6);

static int
fail(const struct cli_view *v, FILE *out, FILE *err, const char *code,
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

/* An ok:false reply: its error (and the list of an `invalid` one) on err,
 * and with --json the whole reply on out. */
static int
show_failure(wire_v r, const struct cli_view *v, FILE *out, FILE *err)
{
	wire_v error = wire_get(r, "error"), code = wire_get(r, "code");
	wire_v errors = wire_get(r, "errors"), pending = wire_get(r, "pending");
	char *e = text_of(error), *c = text_of(code);

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
		char *line = text_of(wire_at(errors, i));
		if (line != NULL) {
			fprintf(err, "%s\n", line);
		}
		free(line);
	}
	for (size_t i = 0; i < wire_len(pending); i++) {
		char *part = text_of(wire_get(wire_at(pending, i), "part"));
		char *why = text_of(wire_get(wire_at(pending, i), "why"));
		if (part != NULL && why != NULL) {
			fprintf(err, "  pending: %s: %s\n", part, why);
		}
		free(part);
		free(why);
	}
	free(e);
	free(c);
	if (v->json) {
		struct json_out j;
		json_init(&j);
		json_wire(&j, r);
		json_write(&j, out);
		json_fini(&j);
	}
	return 1;
}

int
cli_show_reply(enum cli_kind kind, wire_v r, const struct cli_view *v,
    FILE *out, FILE *err)
{
	int rc;

	if ((size_t)kind >= sizeof formats / sizeof formats[0]) {
		return fail(v, out, err, "bad-reply", "no format for reply");
	}
	if (!wire_is_map(r)) {
		return fail(v, out, err, "bad-reply",
		    "the orchestrator at %s sent a reply that is not a map",
		    v->url ? v->url : "?");
	}
	if (!wire_as_bool(wire_get(r, "ok"), false)) {
		return show_failure(r, v, out, err);
	}
	if (kind == CLI_STATE_GET && v->key != NULL &&
	    entries_wanted(r, v) == 0) {
		char *k = cli_escape(v->key, v->keylen, true);
		rc = fail(v, out, err, "not-found", "no key '%s' in %s/%s",
		    k ? k : "?", v->name, v->part);
		free(k);
		return rc;
	}
	if (!v->json) {
		rc = formats[kind].human(r, v, out);
	} else if (kind == CLI_LOGS && v->stream) {
		rc = json_log_stream(r, out);
	} else {
		struct json_out j;
		json_init(&j);
		json_obj_begin(&j);
		json_key(&j, "ok");
		json_bool(&j, true);
		formats[kind].json(&j, r, v);
		json_rest(&j, r, formats[kind].members);
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

/* ------------------------------------------------------------------ */
/* arguments                                                           */

/* Options besides the common ones. */
enum {
	OPT_CALL = 1 << 0,
	OPT_FOLLOW = 1 << 1,
};

#define MAX_POS 4

struct opts {
	const char *url;
	struct msg_tls tls;
	bool json, call, follow;
	uint32_t timeout_ms;
	const char *pos[MAX_POS];
	int npos;
};

struct cmd;
typedef int (*run_fn)(const struct cmd *c, const struct opts *o);

/* One command: its words, its arguments, what runs it. */
struct cmd {
	const char *name;  /* the subcommand, or NULL */
	const char *prog;  /* "ledge workflow start", for messages */
	const char *usage; /* without the common options */
	unsigned flags;    /* OPT_* it accepts */
	int min_pos, max_pos;
	const char *pos_names[MAX_POS]; /* for "missing NAME" */
	uint32_t timeout_ms;            /* default --timeout */
	run_fn run;
};

static void
print_usage(const struct cmd *c, const char *usage, FILE *fp)
{
	char dflt[32] = "per command";
	if (c != NULL) {
		snprintf(dflt, sizeof dflt, "%u", (unsigned)c->timeout_ms);
	}
	fputs(usage, fp);
	fputc('\n', fp);
	fprintf(fp, usage_common, dflt);
}

static bool
is_help(const char *a)
{
	return strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0 ||
	    strcmp(a, "help") == 0;
}

static int usage_error(const struct cmd *c, const char *fmt, ...)
    DIAG_PRINTF(2, 3);

static int
usage_error(const struct cmd *c, const char *fmt, ...)
{
	const char *end = strstr(c->usage, "\n\n");
	va_list ap;

	fprintf(stderr, "%s: ", c->prog);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	/* The synopsis (up to the first blank line), not the whole text. */
	fprintf(stderr, "\n%.*s\n(`%s --help` tells more)\n",
	    (int)(end ? (size_t)(end - c->usage) : strlen(c->usage)), c->usage,
	    c->prog);
	return 2;
}

static bool
url_ok(const char *u)
{
	static const char *const schemes[] = { "tcp://", "tls+tcp://", "ipc://",
		"inproc://", NULL };
	for (size_t i = 0; schemes[i] != NULL; i++) {
		if (strncmp(u, schemes[i], strlen(schemes[i])) == 0 &&
		    u[strlen(schemes[i])] != '\0') {
			return true;
		}
	}
	return false;
}

#define PARSED_HELP (-1)

/* Long options with a value, and where the value goes. */
static const char **
valued(struct opts *o, const char *name, const char **tbuf)
{
	if (strcmp(name, "orchestrator") == 0) {
		return &o->url;
	}
	if (strcmp(name, "tls-cert") == 0) {
		return &o->tls.cert;
	}
	if (strcmp(name, "tls-key") == 0) {
		return &o->tls.key;
	}
	if (strcmp(name, "tls-ca") == 0) {
		return &o->tls.ca;
	}
	if (strcmp(name, "timeout") == 0) {
		return tbuf;
	}
	return NULL;
}

/*
 * Parse argv (the words after the command) into o.  Returns 0, 2 after
 * printing a usage error, or PARSED_HELP after printing the help.
 */
static int
parse_args(const struct cmd *c, int argc, char **argv, struct opts *o)
{
	const char *timeout = NULL, *env;
	bool dashdash = false;

	memset(o, 0, sizeof *o);
	o->timeout_ms = c->timeout_ms;
	for (int i = 0; i < argc; i++) {
		const char *a = argv[i], *val, **slot;
		char name[64];

		if (dashdash || a[0] != '-' || a[1] == '\0') {
			if (o->npos == c->max_pos) {
				return usage_error(
				    c, "unexpected argument '%s'", a);
			}
			o->pos[o->npos++] = a;
			continue;
		}
		if (strcmp(a, "--") == 0) {
			dashdash = true;
			continue;
		}
		if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
			print_usage(c, c->usage, stdout);
			return PARSED_HELP;
		}
		if (strcmp(a, "--json") == 0) {
			o->json = true;
			continue;
		}
		if ((c->flags & OPT_CALL) &&
		    (strcmp(a, "-c") == 0 || strcmp(a, "--call") == 0)) {
			o->call = true;
			continue;
		}
		if ((c->flags & OPT_FOLLOW) &&
		    (strcmp(a, "-f") == 0 || strcmp(a, "--follow") == 0)) {
			o->follow = true;
			continue;
		}
		/* --name VALUE or --name=VALUE */
		val = a[1] == '-' ? strchr(a, '=') : NULL;
		snprintf(name, sizeof name, "%.*s",
		    (int)(val ? (size_t)(val - a - 2) : strlen(a + 2)),
		    a[1] == '-' ? a + 2 : "");
		slot = a[1] == '-' ? valued(o, name, &timeout) : NULL;
		if (slot == NULL) {
			return usage_error(c,
			    "unknown option '%s' (an argument that starts "
			    "with '-' goes after --)",
			    a);
		}
		if (val != NULL) {
			val++;
		} else if (i + 1 < argc) {
			val = argv[++i];
		} else {
			return usage_error(c, "--%s needs a value", name);
		}
		*slot = val;
	}
	if (o->npos < c->min_pos) {
		return usage_error(c, "missing %s", c->pos_names[o->npos]);
	}
	if (timeout != NULL) {
		char *end;
		unsigned long t;
		errno = 0;
		t = strtoul(timeout, &end, 10);
		if (errno != 0 || end == timeout || *end != '\0' || t < 1 ||
		    t > 3600000 || timeout[0] == '-') {
			return usage_error(c,
			    "--timeout must be a number of milliseconds "
			    "(1 to 3600000), not '%s'",
			    timeout);
		}
		o->timeout_ms = (uint32_t)t;
	}
	if (o->url == NULL && (env = getenv("LEDGE_ORCHESTRATOR")) != NULL &&
	    *env != '\0') {
		o->url = env;
	}
	if (o->url == NULL) {
		o->url = CLI_DEFAULT_ORCHESTRATOR;
	}
	if (!url_ok(o->url)) {
		return usage_error(c,
		    "'%s' is not an orchestrator address (tcp://HOST:PORT, "
		    "tls+tcp://HOST:PORT or ipc:///PATH)",
		    o->url);
	}
	if (strncmp(o->url, "tls+tcp://", 10) == 0 &&
	    (o->tls.cert == NULL || o->tls.key == NULL || o->tls.ca == NULL)) {
		return usage_error(
		    c, "%s needs --tls-cert, --tls-key and --tls-ca", o->url);
	}
	return 0;
}

/* ------------------------------------------------------------------ */
/* talking to the orchestrator                                         */

struct reply {
	void *buf; /* the bytes, which the parsed tree points into */
	size_t len;
	struct wire_r r;
};

static void
reply_free(struct reply *rep)
{
	wire_r_fini(&rep->r);
	free(rep->buf);
	rep->buf = NULL;
}

/* msg_call_sync's reason, rephrased to name the orchestrator and how to
 * point at another one. */
static void
transport_why(const struct opts *o, int rc, const char *err, uint32_t tmo,
    char *why, size_t n)
{
	const char *at = strstr(err, o->url);
	size_t ul = strlen(o->url);
	char hint[128] = "";

	if (rc == MSG_ETIMEDOUT) {
		snprintf(hint, sizeof hint,
		    " (no answer within %u ms; --timeout waits longer)", tmo);
	} else if (strncmp(o->url, "tls+", 4) == 0 &&
	    (strstr(err, "ryptographic") || strstr(err, "uthentication") ||
	        strstr(err, "TLS"))) {
		snprintf(hint, sizeof hint,
		    " (the TLS handshake failed: --tls-cert must be signed by "
		    "the domain's CA, --tls-ca)");
	} else if (strncmp(err, "cannot reach", 12) == 0) {
		snprintf(hint, sizeof hint,
		    " (set --orchestrator or LEDGE_ORCHESTRATOR)");
	}
	if (at != NULL && strncmp(at + ul, ": ", 2) == 0) {
		const char *reason = at + ul + 2;
		char first = reason[0];
		/* "Connection refused" -> "connection refused"; "TLS" stays */
		if (first >= 'A' && first <= 'Z' && reason[1] >= 'a' &&
		    reason[1] <= 'z') {
			first = (char)(first + 32);
		}
		snprintf(why, n, "%.*sthe orchestrator at %s: %c%s%s",
		    (int)(at - err), err, o->url, first ? first : '?',
		    first ? reason + 1 : "", hint);
	} else {
		snprintf(why, n, "cannot talk to the orchestrator at %s: %s%s",
		    o->url, err, hint);
	}
}

/*
 * Send the request in w and parse the reply into rep.  Returns NULL, or
 * the code of the failure (for --json) with a sentence in why.
 */
static const char *
call_raw(const struct opts *o, struct wire_w *w, uint32_t timeout_ms,
    struct reply *rep, char *why, size_t whylen)
{
	const void *data;
	size_t len;
	char err[512];
	int rc;

	memset(rep, 0, sizeof *rep);
	if ((data = wire_data(w, &len)) == NULL) {
		snprintf(why, whylen, "out of memory");
		return "oom";
	}
	rc = msg_call_sync(o->url,
	    strncmp(o->url, "tls+tcp://", 10) == 0 ? &o->tls : NULL, data, len,
	    timeout_ms, &rep->buf, &rep->len, err, sizeof err);
	if (rc != MSG_OK) {
		transport_why(o, rc, err, timeout_ms, why, whylen);
		return "no-orchestrator";
	}
	if (wire_parse(&rep->r, rep->buf, rep->len) != 0) {
		free(rep->buf);
		rep->buf = NULL;
		snprintf(why, whylen,
		    "the orchestrator at %s sent a reply that is not a valid "
		    "message (%zu bytes)",
		    o->url, rep->len);
		return "bad-reply";
	}
	return NULL;
}

/* The same, reporting a failure; returns 0 or 1. */
static int
call(const struct opts *o, const struct cli_view *v, struct wire_w *w,
    uint32_t timeout_ms, struct reply *rep)
{
	char why[1024];
	const char *code = call_raw(o, w, timeout_ms, rep, why, sizeof why);
	if (code != NULL) {
		return fail(v, stdout, stderr, code, "%s", why);
	}
	return 0;
}

/* A view with the command's words. */
static struct cli_view
view_of(const struct cmd *c, const struct opts *o)
{
	return (struct cli_view) {
		.prog = c->prog, .json = o->json, .url = o->url, .call = o->call
	};
}

/* Send a request and show the reply of `kind`. */
static int
call_show(const struct opts *o, const struct cli_view *v, struct wire_w *w,
    enum cli_kind kind)
{
	struct reply rep;
	int rc;

	if (call(o, v, w, o->timeout_ms, &rep) != 0) {
		return 1;
	}
	rc = cli_show_reply(kind, wire_root(&rep.r), v, stdout, stderr);
	reply_free(&rep);
	return rc;
}

/* ------------------------------------------------------------------ */
/* requests (docs/protocol.md, CLI -> orchestrator)                     */

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

/* Code files named by a workflow: the key of the `code` map (path as
 * written, or path@arch), the file, its hash. */
struct code_file {
	char *key;
	char *path;
	char hash[65];
};

struct codeset {
	struct code_file *f;
	size_t n, cap;
};

static void
req_wf_start(struct wire_w *w, const struct workflow *wf, const char *file,
    const char *yaml, size_t ylen, const struct codeset *cs)
{
	wire_map(w, 5);
	wire_str(w, "t");
	wire_str(w, "wf.start");
	wire_str(w, "name");
	wire_str(w, wf->name);
	wire_str(w, "file");
	wire_str(w, file);
	wire_str(w, "yaml");
	wire_strn(w, yaml, ylen);
	wire_str(w, "code");
	wire_map(w, cs->n);
	for (size_t i = 0; i < cs->n; i++) {
		wire_str(w, cs->f[i].key);
		wire_str(w, cs->f[i].hash);
	}
}

static void
req_code_put(struct wire_w *w, const char *hash, const void *p, size_t n)
{
	wire_map(w, 3);
	wire_str(w, "t");
	wire_str(w, "code.put");
	wire_str(w, "hash");
	wire_str(w, hash);
	wire_str(w, "bytes");
	wire_bin(w, p, n);
}

static void
req_fn_move(struct wire_w *w, const char *wf, const char *fn, const char *node)
{
	wire_map(w, 4);
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
req_fn_reload(
    struct wire_w *w, const char *wf, const char *fn, const char *hash)
{
	wire_map(w, 4);
	wire_str(w, "t");
	wire_str(w, "fn.reload");
	wire_str(w, "wf");
	wire_str(w, wf);
	wire_str(w, "fn");
	wire_str(w, fn);
	wire_str(w, "hash");
	wire_str(w, hash);
}

static void
req_invoke(struct wire_w *w, const char *wf, const char *target, bool is_call,
    const void *data, size_t n, uint32_t timeout_ms)
{
	wire_map(w, 6);
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

/* ------------------------------------------------------------------ */
/* local files                                                         */

/* Read a whole file (at most max bytes) into a malloc'd buffer. */
static int
read_all(FILE *fp, size_t max, char **out, size_t *len)
{
	size_t cap = 4096, n = 0;
	char *b = malloc(cap);

	*out = NULL;
	*len = 0;
	if (b == NULL) {
		errno = ENOMEM;
		return -1;
	}
	for (;;) {
		size_t got;
		if (n == cap) {
			char *nb;
			if (cap > max) {
				free(b);
				errno = EFBIG;
				return -1;
			}
			if ((nb = realloc(b, cap * 2)) == NULL) {
				free(b);
				errno = ENOMEM;
				return -1;
			}
			b = nb;
			cap *= 2;
		}
		got = fread(b + n, 1, cap - n, fp);
		n += got;
		if (got == 0) {
			break;
		}
	}
	if (ferror(fp) || n > max) {
		int e = ferror(fp) ? EIO : EFBIG;
		free(b);
		errno = e;
		return -1;
	}
	*out = b;
	*len = n;
	return 0;
}

int
cli_read_file(const char *path, size_t max, char **out, size_t *len)
{
	FILE *fp = fopen(path, "rb");
	int rc, e;
	if (fp == NULL) {
		*out = NULL;
		return -1;
	}
	rc = read_all(fp, max, out, len);
	e = errno;
	fclose(fp);
	errno = e;
	return rc;
}

static int
check_loadable(void *arg, const char *path, char *err, size_t errlen)
{
	struct node_code *code;
	if (code_load(arg, path, &code, err, errlen) != LEDGE_OK) {
		return -1;
	}
	code_release(code);
	return 0;
}

static int
rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	return flag == FTW_DP ? rmdir(path) : unlink(path);
}

/* Validate like `ledge validate` (code loaded in a scratch cache); every
 * problem goes to stderr.  NULL if the workflow is unusable. */
static struct workflow *
load_checked(const struct cli_view *v, const char *path)
{
	char tmpl[] = "/tmp/ledge-cli-XXXXXX";
	char err[512];
	struct code_cache *cache = NULL;
	struct workflow *wf;
	struct diag d;

	if (mkdtemp(tmpl) == NULL) {
		fail(v, stdout, stderr, "local",
		    "cannot make a scratch folder in /tmp: %s",
		    strerror(errno));
		return NULL;
	}
	if (code_cache_open(&cache, tmpl, err, sizeof err) != LEDGE_OK) {
		fail(v, stdout, stderr, "local", "%s", err);
		rmdir(tmpl);
		return NULL;
	}
	diag_init(&d);
	wf = wf_load(path, check_loadable, cache, &d);
	if (wf == NULL) {
		diag_print(&d, stderr);
		if (v->json) {
			/* The same lines, for scripts. */
			struct json_out j;
			json_init(&j);
			json_obj_begin(&j);
			json_key(&j, "ok");
			json_bool(&j, false);
			json_kstr(&j, "error", "the workflow is not valid");
			json_kstr(&j, "code", "invalid");
			json_key(&j, "errors");
			json_arr_begin(&j);
			for (size_t i = 0; i < d.count && i < d.cap; i++) {
				json_str(&j, d.items[i].text);
			}
			json_arr_end(&j);
			json_obj_end(&j);
			json_write(&j, stdout);
			json_fini(&j);
		}
	}
	diag_fini(&d);
	code_cache_close(cache);
	nftw(tmpl, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	return wf;
}

static void
codes_free(struct codeset *cs)
{
	for (size_t i = 0; i < cs->n; i++) {
		free(cs->f[i].key);
		free(cs->f[i].path);
	}
	free(cs->f);
	memset(cs, 0, sizeof *cs);
}

/* Add key -> hash of path (once per key).  0, or -1 with a reason. */
static int
codes_add(
    struct codeset *cs, const char *key, const char *path, char *why, size_t n)
{
	struct code_file *f;
	char err[512];

	for (size_t i = 0; i < cs->n; i++) {
		if (strcmp(cs->f[i].key, key) == 0) {
			return 0;
		}
	}
	if (cs->n == cs->cap) {
		size_t cap = cs->cap ? cs->cap * 2 : 8;
		struct code_file *nf = realloc(cs->f, cap * sizeof *nf);
		if (nf == NULL) {
			snprintf(why, n, "out of memory");
			return -1;
		}
		cs->f = nf;
		cs->cap = cap;
	}
	f = &cs->f[cs->n];
	if (code_hash_file(path, f->hash, err, sizeof err) != LEDGE_OK) {
		snprintf(why, n, "code '%s' (%s): %s", key, path, err);
		return -1;
	}
	f->key = strdup(key);
	f->path = strdup(path);
	if (f->key == NULL || f->path == NULL) {
		free(f->key);
		free(f->path);
		snprintf(why, n, "out of memory");
		return -1;
	}
	cs->n++;
	return 0;
}

/* A path as the workflow wrote it: the resolved path without the
 * workflow's folder (wf_load keeps only resolved paths for the
 * per-architecture variants). */
static const char *
as_written(const struct workflow *wf, const char *resolved)
{
	size_t dl = strlen(wf->dir);
	if (strncmp(resolved, wf->dir, dl) == 0) {
		if (dl > 0 && wf->dir[dl - 1] == '/') {
			return resolved + dl;
		}
		if (resolved[dl] == '/') {
			return resolved + dl + 1;
		}
	}
	return resolved;
}

/* Every code file of the workflow, hashed: `code: f.so` under its path as
 * written, `code: {arch: f.so}` as f.so@arch. */
static int
codes_collect(
    const struct workflow *wf, struct codeset *cs, char *why, size_t n)
{
	for (size_t i = 0; i < wf->nfunctions; i++) {
		const struct wf_function *f = &wf->functions[i];
		if (f->ncode_arch == 0) {
			if (f->code != NULL &&
			    codes_add(cs, f->code, f->code_path, why, n) != 0) {
				return -1;
			}
			continue;
		}
		for (size_t a = 0; a < f->ncode_arch; a++) {
			char *key;
			int rc;
			if (asprintf(&key, "%s@%s",
			        as_written(wf, f->code_arch_path[a]),
			        f->code_arch[a]) < 0) {
				snprintf(why, n, "out of memory");
				return -1;
			}
			rc = codes_add(cs, key, f->code_arch_path[a], why, n);
			free(key);
			if (rc != 0) {
				return -1;
			}
		}
	}
	return 0;
}

/* Upload one code file (checking that it still has the hash that was
 * sent); its size goes to *bytes.  0 or 1 (reported). */
static int
upload(const struct opts *o, const struct cli_view *v, const char *path,
    const char *hash, uint64_t *bytes)
{
	struct wire_w w;
	struct reply rep;
	struct cli_view uv = *v;
	char prog[1024], got[65], size[32];
	char *data;
	size_t n;
	int rc;

	if (cli_read_file(path, WIRE_MAX_BYTES - ENVELOPE, &data, &n) != 0) {
		if (errno == EFBIG) {
			return fail(v, stdout, stderr, "local",
			    "%s is larger than the %u MiB a message can carry",
			    path, WIRE_MAX_BYTES >> 20);
		}
		return fail(v, stdout, stderr, "local", "cannot read %s: %s",
		    path, strerror(errno));
	}
	sha256_hex(data, n, got);
	if (strcmp(got, hash) != 0) {
		free(data);
		return fail(v, stdout, stderr, "local",
		    "%s changed while it was being uploaded; run the command "
		    "again",
		    path);
	}
	if (!v->json) {
		fmt_size(size, sizeof size, n);
		fprintf(stderr, "%s: uploading %s (%s)\n", v->prog, path, size);
	}
	snprintf(prog, sizeof prog, "%s: uploading %s", v->prog, path);
	uv.prog = prog;
	if (wire_w_init(&w) != 0) {
		free(data);
		return fail(v, stdout, stderr, "oom", "out of memory");
	}
	req_code_put(&w, hash, data, n);
	free(data);
	rc = call(o, &uv, &w, o->timeout_ms, &rep);
	wire_w_fini(&w);
	if (rc != 0) {
		return 1;
	}
	if (!wire_as_bool(wire_get(wire_root(&rep.r), "ok"), false)) {
		rc = show_failure(wire_root(&rep.r), &uv, stdout, stderr);
	}
	reply_free(&rep);
	*bytes = n;
	return rc;
}

/* ------------------------------------------------------------------ */
/* the commands                                                        */

struct start_state {
	struct workflow *wf;
	char *yaml;
	size_t ylen;
	struct codeset cs;
	struct cli_upload *ups; /* one per code file at most */
	size_t nups;
};

/* Upload what the orchestrator said it needs (`need`: hashes). */
static int
upload_needed(const struct opts *o, const struct cli_view *v,
    struct start_state *s, wire_v need)
{
	for (size_t i = 0; i < wire_len(need); i++) {
		const struct code_file *f = NULL;
		bool done = false;
		uint64_t bytes = 0;

		for (size_t k = 0; k < s->cs.n; k++) {
			if (wire_str_eq(wire_at(need, i), s->cs.f[k].hash)) {
				f = &s->cs.f[k];
				break;
			}
		}
		if (f == NULL) {
			char *h = text_of(wire_at(need, i));
			int rc = fail(v, stdout, stderr, "bad-reply",
			    "the orchestrator asked for code %s, which the "
			    "workflow does not name",
			    h ? h : "?");
			free(h);
			return rc;
		}
		for (size_t k = 0; k < s->nups; k++) {
			done = done || strcmp(s->ups[k].hash, f->hash) == 0;
		}
		if (done) {
			continue;
		}
		if (upload(o, v, f->path, f->hash, &bytes) != 0) {
			return 1;
		}
		s->ups[s->nups++] =
		    (struct cli_upload) { f->path, f->hash, bytes };
	}
	return 0;
}

static int
start_rounds(const struct opts *o, struct cli_view *v, struct start_state *s,
    const char *file)
{
	for (int round = 0;; round++) {
		struct wire_w w;
		struct reply rep;
		wire_v r;
		int rc;

		if (wire_w_init(&w) != 0) {
			return fail(v, stdout, stderr, "oom", "out of memory");
		}
		req_wf_start(&w, s->wf, file, s->yaml, s->ylen, &s->cs);
		rc = call(o, v, &w, o->timeout_ms, &rep);
		wire_w_fini(&w);
		if (rc != 0) {
			return 1;
		}
		r = wire_root(&rep.r);
		if (wire_as_bool(wire_get(r, "ok"), false) ||
		    !wire_str_eq(wire_get(r, "code"), "need-code") ||
		    round == UPLOAD_ROUNDS) {
			v->uploads = s->ups;
			v->nuploads = s->nups;
			rc = cli_show_reply(CLI_WF_START, r, v, stdout, stderr);
			reply_free(&rep);
			return rc;
		}
		rc = upload_needed(o, v, s, wire_get(r, "need"));
		reply_free(&rep);
		if (rc != 0) {
			return rc;
		}
	}
}

static int
run_wf_start(const struct cmd *c, const struct opts *o)
{
	const char *file = o->pos[0];
	struct cli_view v = view_of(c, o);
	struct start_state s = { 0 };
	char why[1024];
	int rc = 1;

	if ((s.wf = load_checked(&v, file)) == NULL) {
		return 1;
	}
	v.name = s.wf->name;
	if (cli_read_file(file, 1u << 20, &s.yaml, &s.ylen) != 0) {
		fail(&v, stdout, stderr, "local", "cannot read %s: %s", file,
		    strerror(errno));
		goto out;
	}
	if (codes_collect(s.wf, &s.cs, why, sizeof why) != 0) {
		fail(&v, stdout, stderr, "local", "%s: %s", file, why);
		goto out;
	}
	if ((s.ups = calloc(s.cs.n + 1, sizeof *s.ups)) == NULL) {
		fail(&v, stdout, stderr, "oom", "out of memory");
		goto out;
	}
	rc = start_rounds(o, &v, &s, file);
out:
	free(s.ups);
	codes_free(&s.cs);
	free(s.yaml);
	wf_free(s.wf);
	return rc;
}

/* Commands made of one request {t, name} (or {t}) and its reply. */
static int
run_named(const struct cmd *c, const struct opts *o, const char *t,
    enum cli_kind kind)
{
	struct cli_view v = view_of(c, o);
	struct wire_w w;
	int rc;

	v.name = o->npos > 0 ? o->pos[0] : NULL;
	if (wire_w_init(&w) != 0) {
		return fail(&v, stdout, stderr, "oom", "out of memory");
	}
	if (v.name != NULL) {
		req_named(&w, t, v.name);
	} else {
		req_plain(&w, t);
	}
	rc = call_show(o, &v, &w, kind);
	wire_w_fini(&w);
	return rc;
}

static int
run_wf_stop(const struct cmd *c, const struct opts *o)
{
	return run_named(c, o, "wf.stop", CLI_WF_STOP);
}

static int
run_wf_list(const struct cmd *c, const struct opts *o)
{
	return run_named(c, o, "wf.list", CLI_WF_LIST);
}

static int
run_wf_show(const struct cmd *c, const struct opts *o)
{
	return run_named(c, o, "wf.show", CLI_WF_SHOW);
}

static int
run_node_list(const struct cmd *c, const struct opts *o)
{
	return run_named(c, o, "node.list", CLI_NODE_LIST);
}

static int
run_node_drain(const struct cmd *c, const struct opts *o)
{
	return run_named(c, o, "node.drain", CLI_NODE_DRAIN);
}

static int
run_fn_move(const struct cmd *c, const struct opts *o)
{
	struct cli_view v = view_of(c, o);
	struct wire_w w;
	int rc;

	v.name = o->pos[0];
	v.part = o->pos[1];
	if (wire_w_init(&w) != 0) {
		return fail(&v, stdout, stderr, "oom", "out of memory");
	}
	req_fn_move(&w, o->pos[0], o->pos[1], o->pos[2]);
	rc = call_show(o, &v, &w, CLI_FN_MOVE);
	wire_w_fini(&w);
	return rc;
}

static int
run_fn_reload(const struct cmd *c, const struct opts *o)
{
	struct cli_view v = view_of(c, o);
	struct wire_w w;
	char hash[65], err[512];
	uint64_t bytes;
	int rc;

	v.name = o->pos[0];
	v.part = o->pos[1];
	v.hash = hash;
	if (code_hash_file(o->pos[2], hash, err, sizeof err) != LEDGE_OK) {
		return fail(
		    &v, stdout, stderr, "local", "%s: %s", o->pos[2], err);
	}
	if (upload(o, &v, o->pos[2], hash, &bytes) != 0) {
		return 1;
	}
	if (wire_w_init(&w) != 0) {
		return fail(&v, stdout, stderr, "oom", "out of memory");
	}
	req_fn_reload(&w, o->pos[0], o->pos[1], hash);
	rc = call_show(o, &v, &w, CLI_FN_RELOAD);
	wire_w_fini(&w);
	return rc;
}

static int
run_invoke(const struct cmd *c, const struct opts *o)
{
	struct cli_view v = view_of(c, o);
	struct wire_w w;
	struct reply rep;
	const char *data = o->pos[2];
	char *in = NULL;
	size_t n = strlen(data);
	int rc;

	v.name = o->pos[0];
	v.part = o->pos[1];
	if (strcmp(data, "-") == 0) {
		if (read_all(stdin, WIRE_MAX_BYTES - ENVELOPE, &in, &n) != 0) {
			return fail(&v, stdout, stderr, "local",
			    "cannot read DATA from stdin: %s",
			    errno == EFBIG ? "more than a message can carry"
			                   : strerror(errno));
		}
		data = in;
	}
	if (wire_w_init(&w) != 0) {
		free(in);
		return fail(&v, stdout, stderr, "oom", "out of memory");
	}
	req_invoke(&w, o->pos[0], o->pos[1], o->call, data, n, o->timeout_ms);
	free(in);
	/* The orchestrator gets the call's whole time; give it room to say
	 * that the call timed out. */
	rc = call(o, &v, &w, o->timeout_ms + 2000, &rep);
	wire_w_fini(&w);
	if (rc != 0) {
		return 1;
	}
	rc = cli_show_reply(CLI_INVOKE, wire_root(&rep.r), &v, stdout, stderr);
	reply_free(&rep);
	return rc;
}

static int
run_state_get(const struct cmd *c, const struct opts *o)
{
	struct cli_view v = view_of(c, o);
	struct wire_w w;
	char *key = NULL;
	size_t keylen = 0;
	int rc;

	v.name = o->pos[0];
	v.part = o->pos[1];
	if (o->npos > 2 && cli_unescape(o->pos[2], &key, &keylen) != 0) {
		return usage_error(c,
		    "KEY '%s' has a bad escape (\\xNN is a byte, \\\\ a "
		    "backslash)",
		    o->pos[2]);
	}
	v.key = key;
	v.keylen = keylen;
	if (wire_w_init(&w) != 0) {
		free(key);
		return fail(&v, stdout, stderr, "oom", "out of memory");
	}
	req_state_get(&w, o->pos[0], o->pos[1], key, keylen);
	rc = call_show(o, &v, &w, CLI_STATE_GET);
	wire_w_fini(&w);
	free(key);
	return rc;
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
logs_once(const struct opts *o, const struct cli_view *v, uint64_t *next,
    bool quiet, char *why, size_t whylen)
{
	struct wire_w w;
	struct reply rep;
	const char *code;
	wire_v r, lines;
	int rc;

	if (wire_w_init(&w) != 0) {
		return fail(v, stdout, stderr, "oom", "out of memory");
	}
	req_logs(&w, v->name, *next);
	code = call_raw(o, &w, o->timeout_ms, &rep, why, whylen);
	wire_w_fini(&w);
	if (code != NULL) {
		return quiet ? -1 : fail(v, stdout, stderr, code, "%s", why);
	}
	r = wire_root(&rep.r);
	rc = cli_show_reply(CLI_LOGS, r, v, stdout, stderr);
	if (rc == 0) {
		lines = wire_get(r, "lines");
		if (is_u64(wire_get(r, "next"))) {
			*next = wire_as_u64(wire_get(r, "next"), *next);
		} else if (wire_len(lines) > 0) {
			*next = wire_as_u64(
			    wire_get(
			        wire_at(lines, wire_len(lines) - 1), "seq"),
			    *next);
		}
	}
	reply_free(&rep);
	return rc;
}

static int
run_logs(const struct cmd *c, const struct opts *o)
{
	struct cli_view v = view_of(c, o);
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
			fprintf(stderr, "%s: %s; retrying\n", c->prog, why);
		} else if (rc == 0 && lost) {
			fprintf(stderr,
			    "%s: the orchestrator at %s answers "
			    "again\n",
			    c->prog, o->url);
		}
		lost = rc < 0;
		rc = 0;
	}
	sigaction(SIGINT, &old_int, NULL);
	sigaction(SIGTERM, &old_term, NULL);
	return rc;
}

/* ------------------------------------------------------------------ */
/* command tables                                                      */

static const struct cmd wf_cmds[] = {
	{ "start", "ledge workflow start", usage_wf_start, 0, 1, 1,
	    { "FILE.yaml" }, 30000, run_wf_start },
	{ "stop", "ledge workflow stop", usage_wf_stop, 0, 1, 1, { "NAME" },
	    30000, run_wf_stop },
	{ "list", "ledge workflow list", usage_wf_list, 0, 0, 0, { NULL },
	    10000, run_wf_list },
	{ "show", "ledge workflow show", usage_wf_show, 0, 1, 1, { "NAME" },
	    10000, run_wf_show },
};

static const struct cmd node_cmds[] = {
	{ "list", "ledge node list", usage_node_list, 0, 0, 0, { NULL }, 10000,
	    run_node_list },
	{ "drain", "ledge node drain", usage_node_drain, 0, 1, 1, { "NAME" },
	    60000, run_node_drain },
};

static const struct cmd fn_cmds[] = {
	{ "move", "ledge function move", usage_fn_move, 0, 3, 3,
	    { "WORKFLOW", "FUNCTION", "NODE" }, 30000, run_fn_move },
	{ "reload", "ledge function reload", usage_fn_reload, 0, 3, 3,
	    { "WORKFLOW", "FUNCTION", "FILE.so" }, 30000, run_fn_reload },
};

static const struct cmd state_cmds[] = {
	{ "get", "ledge state get", usage_state_get, 0, 2, 3,
	    { "WORKFLOW", "FUNCTION", "KEY" }, 10000, run_state_get },
};

static const struct cmd invoke_cmd = { NULL, "ledge invoke", usage_invoke,
	OPT_CALL, 3, 3, { "WORKFLOW", "TARGET", "DATA" }, 5000, run_invoke };

static const struct cmd logs_cmd = { NULL, "ledge logs", usage_logs, OPT_FOLLOW,
	1, 1, { "WORKFLOW" }, 10000, run_logs };

/* The certificate files of a tls+tcp:// address must be readable (nng
 * alone would only say "Entry not found"). */
static int
check_tls_files(const struct cmd *c, const struct opts *o)
{
	const char *names[] = { "--tls-cert", "--tls-key", "--tls-ca" };
	const char *files[] = { o->tls.cert, o->tls.key, o->tls.ca };
	struct cli_view v = view_of(c, o);

	if (strncmp(o->url, "tls+tcp://", 10) != 0) {
		return 0;
	}
	for (size_t i = 0; i < 3; i++) {
		if (access(files[i], R_OK) != 0) {
			return fail(&v, stdout, stderr, "local",
			    "cannot read %s %s: %s", names[i], files[i],
			    strerror(errno));
		}
	}
	return 0;
}

static int
run_cmd(const struct cmd *c, int argc, char **argv)
{
	struct opts o;
	int rc = parse_args(c, argc, argv, &o);
	if (rc == PARSED_HELP) {
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

static int
run_group(const char *prog, const char *usage, const struct cmd *cmds, size_t n,
    int argc, char **argv)
{
	if (argc < 1) {
		fprintf(stderr, "%s: no command given\n\n%s", prog, usage);
		return 2;
	}
	if (is_help(argv[0])) {
		print_usage(NULL, usage, stdout);
		return 0;
	}
	for (size_t i = 0; i < n; i++) {
		if (strcmp(argv[0], cmds[i].name) == 0) {
			return run_cmd(&cmds[i], argc - 1, argv + 1);
		}
	}
	fprintf(stderr, "%s: unknown command '%s'\n\n%s", prog, argv[0], usage);
	return 2;
}

#define COUNT(a) (sizeof(a) / sizeof(a)[0])

int
cli_workflow(int argc, char **argv)
{
	return run_group("ledge workflow", usage_workflow, wf_cmds,
	    COUNT(wf_cmds), argc, argv);
}

int
cli_node(int argc, char **argv)
{
	return run_group(
	    "ledge node", usage_node, node_cmds, COUNT(node_cmds), argc, argv);
}

int
cli_function_domain(int argc, char **argv)
{
	return run_group("ledge function", usage_function, fn_cmds,
	    COUNT(fn_cmds), argc, argv);
}

int
cli_state(int argc, char **argv)
{
	return run_group("ledge state", usage_state, state_cmds,
	    COUNT(state_cmds), argc, argv);
}

int
cli_invoke(int argc, char **argv)
{
	return run_cmd(&invoke_cmd, argc, argv);
}

int
cli_logs(int argc, char **argv)
{
	return run_cmd(&logs_cmd, argc, argv);
}

int
cli_help(const char *topic, FILE *fp)
{
	static const struct {
		const char *topic, *usage;
		const struct cmd *cmd;
	} topics[] = {
		{ "workflow", usage_workflow, NULL },
		{ "node", usage_node, NULL },
		{ "function", usage_function, NULL },
		{ "invoke", usage_invoke, &invoke_cmd },
		{ "state", usage_state_get, &state_cmds[0] },
		{ "logs", usage_logs, &logs_cmd },
	};
	for (size_t i = 0; i < COUNT(topics); i++) {
		if (strcmp(topic, topics[i].topic) == 0) {
			print_usage(topics[i].cmd, topics[i].usage, fp);
			return 0;
		}
	}
	return -1;
}
