/*
 * cli_format_test.c - the domain commands of the CLI (tools/cli_domain.c)
 * and its JSON writer (tools/json_out.c): replies built with wire.h as
 * docs/protocol.md describes them, printed for people and as JSON; usage
 * errors; and whole commands against a small fake orchestrator (a real
 * msg server on ipc://) that checks the requests they send.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cli_domain.h"
#include "cli/json_out.h"
#include "platform/loop.h"
#include "net/msg.h"
#include "code/code.h"
#include "base/sha256.h"
#include "net/wire.h"

/* ------------------------------------------------------------------ */
/* helpers                                                             */

/* The JSON text of one string value. */
static char *
json_of_str(const char *s, size_t n)
{
	struct json_out j;
	char *out;
	json_init(&j);
	json_strn(&j, s, n);
	cr_assert_not_null(json_text(&j, NULL));
	out = strdup(json_text(&j, NULL));
	json_fini(&j);
	return out;
}

/* The reply being built (W) and its parsed form (R), which points into
 * W's buffer: both live until the next w() or the end of the test. */
static struct wire_w W;
static struct wire_r R;
static bool have_w, have_r;

static void
fini_reply(void)
{
	if (have_r) {
		wire_r_fini(&R);
		have_r = false;
	}
	if (have_w) {
		wire_w_fini(&W);
		have_w = false;
	}
}

/* Start building a reply; finish with parsed(). */
static struct wire_w *
w(void)
{
	fini_reply();
	cr_assert_eq(wire_w_init(&W), 0);
	have_w = true;
	return &W;
}

static wire_v
parsed(void)
{
	size_t n;
	const void *p = wire_data(&W, &n);
	cr_assert_not_null(p);
	cr_assert_eq(wire_parse(&R, p, n), 0);
	have_r = true;
	return wire_root(&R);
}

struct shown {
	int rc;
	char *out, *err;
};

static struct shown
show(enum cli_kind kind, wire_v r, struct cli_view v)
{
	struct shown s = { 0 };
	size_t no, ne;
	FILE *out = open_memstream(&s.out, &no);
	FILE *err = open_memstream(&s.err, &ne);
	cr_assert(out && err);
	if (v.prog == NULL) {
		v.prog = "ledge test";
	}
	s.rc = cli_show_reply(kind, r, &v, out, err);
	fclose(out);
	fclose(err);
	return s;
}

static void
shown_free(struct shown *s)
{
	free(s->out);
	free(s->err);
}

static void
kv_str(struct wire_w *x, const char *k, const char *v)
{
	wire_str(x, k);
	wire_str(x, v);
}

static void
kv_u64(struct wire_w *x, const char *k, uint64_t v)
{
	wire_str(x, k);
	wire_u64(x, v);
}

static void
ok_true(struct wire_w *x)
{
	wire_str(x, "ok");
	wire_bool(x, true);
}

TestSuite(json, .fini = fini_reply);
TestSuite(fmt, .fini = fini_reply);

/* ------------------------------------------------------------------ */
/* the JSON writer                                                     */

Test(json, escapes_quotes_backslashes_and_control_characters)
{
	const char in[] = "a\"b\\c/\n\t\r\b\f\x01\x1f\x7f";
	char *s = json_of_str(in, sizeof in - 1);
	cr_expect_str_eq(
	    s, "\"a\\\"b\\\\c/\\n\\t\\r\\b\\f\\u0001\\u001f\x7f\"");
	free(s);
	s = json_of_str("a\0b", 3);
	cr_expect_str_eq(s, "\"a\\u0000b\"", "an embedded NUL is kept");
	free(s);
}

Test(json, keeps_utf8_and_replaces_bytes_that_are_not)
{
	static const struct {
		const char *in, *out;
	} cases[] = {
		{ "h\xc3\xa9 \xf0\x9f\x98\x80 \xe2\x82\xac",
		    "\"h\xc3\xa9 \xf0\x9f\x98\x80 \xe2\x82\xac\"" },
		{ "\xff", "\"\\ufffd\"" },
		{ "a\xc3", "\"a\\ufffd\"" },          /* cut short */
		{ "\xc3(", "\"\\ufffd(\"" },          /* bad tail */
		{ "\xc0\x80", "\"\\ufffd\\ufffd\"" }, /* overlong NUL */
		{ "\xe0\x80\xaf", "\"\\ufffd\\ufffd\\ufffd\"" }, /* overlong */
		{ "\xed\xa0\x80", "\"\\ufffd\\ufffd\\ufffd\"" }, /* surrogate */
		{ "\xf4\x90\x80\x80",
		    "\"\\ufffd\\ufffd\\ufffd\\ufffd\"" }, /* > U+10FFFF */
		{ "\x80x", "\"\\ufffdx\"" },              /* lone tail */
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		char *s = json_of_str(cases[i].in, strlen(cases[i].in));
		cr_expect_str_eq(s, cases[i].out, "case %zu", i);
		free(s);
	}
}

Test(json, base64_vectors)
{
	/* RFC 4648, section 10 */
	static const char *const out[] = { "\"\"", "\"Zg==\"", "\"Zm8=\"",
		"\"Zm9v\"", "\"Zm9vYg==\"", "\"Zm9vYmE=\"", "\"Zm9vYmFy\"" };
	for (size_t n = 0; n <= 6; n++) {
		struct json_out j;
		json_init(&j);
		json_base64(&j, "foobar", n);
		cr_expect_str_eq(json_text(&j, NULL), out[n]);
		json_fini(&j);
	}
}

Test(json, nesting_commas_and_misuse)
{
	struct json_out j;
	json_init(&j);
	json_obj_begin(&j);
	json_key(&j, "a\"");
	json_arr_begin(&j);
	json_u64(&j, 18446744073709551615ull);
	json_i64(&j, -5);
	json_bool(&j, false);
	json_null(&j);
	json_obj_begin(&j);
	json_obj_end(&j);
	json_arr_begin(&j);
	json_arr_end(&j);
	json_arr_end(&j);
	json_key(&j, "b");
	json_str(&j, NULL);
	cr_expect_null(json_text(&j, NULL), "an open object is no document");
	json_obj_end(&j);
	cr_expect_str_eq(json_text(&j, NULL),
	    "{\"a\\\"\":[18446744073709551615,-5,false,null,{},[]],"
	    "\"b\":null}");
	json_fini(&j);

	json_init(&j);
	json_obj_begin(&j);
	json_u64(&j, 1); /* no key */
	json_obj_end(&j);
	cr_expect_null(json_text(&j, NULL));
	json_fini(&j);

	json_init(&j);
	json_arr_begin(&j);
	json_obj_end(&j); /* wrong closer */
	cr_expect_null(json_text(&j, NULL));
	json_fini(&j);

	json_init(&j);
	json_u64(&j, 1);
	json_u64(&j, 2); /* two documents */
	cr_expect_null(json_text(&j, NULL));
	json_fini(&j);
}

/* ------------------------------------------------------------------ */
/* escaping for people                                                 */

Test(fmt, escape_and_unescape)
{
	char *e = cli_escape("k\x00\xff\\ \xc3\xa9\n", 8, true);
	char *u;
	size_t n;
	cr_expect_str_eq(e, "k\\x00\\xff\\\\ \xc3\xa9\\x0a");
	cr_assert_eq(cli_unescape(e, &u, &n), 0);
	cr_expect_eq(n, 8);
	cr_expect_eq(memcmp(u, "k\x00\xff\\ \xc3\xa9\n", 8), 0);
	free(u);
	free(e);
	e = cli_escape("a\\b", 3, false);
	cr_expect_str_eq(e, "a\\b", "names keep their backslashes");
	free(e);
	cr_expect_eq(cli_unescape("a\\q", &u, &n), -1);
	cr_expect_null(u);
	cr_expect_eq(cli_unescape("a\\x4", &u, &n), -1);
	cr_expect_eq(cli_unescape("trailing\\", &u, &n), -1);
	cr_assert_eq(cli_unescape("\\x41\\x6a", &u, &n), 0);
	cr_expect_str_eq(u, "Aj");
	free(u);
}

/* ------------------------------------------------------------------ */
/* replies                                                             */

static void
placed_part(struct wire_w *x, const char *part, const char *kind,
    const char *type, const char *node, uint64_t epoch)
{
	wire_map(x, 5);
	kv_str(x, "part", part);
	kv_str(x, "kind", kind);
	kv_str(x, "type", type);
	kv_str(x, "node", node);
	kv_u64(x, "epoch", epoch);
}

static wire_v
start_reply(bool isnew)
{
	struct wire_w *x = w();
	wire_map(x, 4);
	ok_true(x);
	wire_str(x, "placed");
	wire_array(x, 2);
	placed_part(x, "filter", "function", "function", "edge-1", 3);
	placed_part(x, "sensor", "resource", "timer", "edge-north-2", 3);
	wire_str(x, "pending");
	wire_array(x, 1);
	wire_map(x, 2);
	kv_str(x, "part", "average");
	kv_str(x, "why", "no node has the labels zone=south");
	wire_str(x, "new");
	wire_bool(x, isnew);
	return parsed();
}

Test(fmt, workflow_start)
{
	struct cli_upload up = { "./f.so", "ab12", 2048 };
	struct cli_view v = { .name = "sensors" };
	struct shown s = show(CLI_WF_START, start_reply(false), v);

	cr_expect_eq(s.rc, 0);
	cr_expect_str_eq(s.out,
	    "workflow sensors replaced: 2 parts placed, 1 pending\n"
	    "  PART    KIND      TYPE      NODE\n"
	    "  filter  function  function  edge-1\n"
	    "  sensor  resource  timer     edge-north-2\n"
	    "pending (waiting for a node):\n"
	    "  average  no node has the labels zone=south\n");
	cr_expect_str_eq(s.err, "");
	shown_free(&s);

	v.json = true;
	v.uploads = &up;
	v.nuploads = 1;
	s = show(CLI_WF_START, start_reply(true), v);
	cr_expect_eq(s.rc, 0);
	cr_expect_str_eq(s.out,
	    "{\"ok\":true,\"workflow\":\"sensors\",\"new\":true,"
	    "\"placed\":[{\"part\":\"filter\",\"kind\":\"function\","
	    "\"type\":\"function\",\"node\":\"edge-1\",\"epoch\":3},"
	    "{\"part\":\"sensor\",\"kind\":\"resource\",\"type\":\"timer\","
	    "\"node\":\"edge-north-2\",\"epoch\":3}],"
	    "\"pending\":[{\"part\":\"average\",\"why\":\"no node has the "
	    "labels zone=south\"}],"
	    "\"uploaded\":[{\"path\":\"./f.so\",\"hash\":\"ab12\","
	    "\"bytes\":2048}]}\n");
	shown_free(&s);
}

Test(fmt, unknown_keys_reach_json_and_warnings_people)
{
	struct cli_view v = { .name = "t" };
	struct wire_w *x = w();
	struct shown s;

	wire_map(x, 7);
	ok_true(x);
	wire_str(x, "placed");
	wire_array(x, 1);
	wire_map(x, 6);
	kv_str(x, "part", "f");
	kv_str(x, "kind", "function");
	kv_str(x, "type", "function");
	kv_str(x, "node", "n1");
	kv_u64(x, "epoch", 1);
	kv_u64(x, "mailbox", 3);
	wire_str(x, "pending");
	wire_array(x, 0);
	wire_str(x, "new");
	wire_bool(x, true);
	kv_str(x, "warning", "http-ingress on n1: port busy");
	kv_u64(x, "later", 5);
	wire_u64(x, 7); /* a key that is not a string: dropped */
	wire_u64(x, 8);
	s = show(CLI_WF_START, parsed(), v);
	cr_expect_str_eq(s.out,
	    "workflow t started: 1 part placed, 0 pending\n"
	    "  PART  KIND      TYPE      NODE\n"
	    "  f     function  function  n1\n"
	    "warning: http-ingress on n1: port busy\n");
	shown_free(&s);
	v.json = true;
	s = show(CLI_WF_START, wire_root(&R), v);
	cr_expect_str_eq(s.out,
	    "{\"ok\":true,\"workflow\":\"t\",\"new\":true,\"placed\":[{"
	    "\"part\":\"f\",\"kind\":\"function\",\"type\":\"function\","
	    "\"node\":\"n1\",\"epoch\":1,\"mailbox\":3}],\"pending\":[],"
	    "\"uploaded\":[],\"warning\":\"http-ingress on n1: port busy\","
	    "\"later\":5}\n");
	shown_free(&s);
}

Test(fmt, workflow_stop_and_list)
{
	struct cli_view v = { .name = "sensors" };
	struct wire_w *x = w();
	struct shown s;

	wire_map(x, 1);
	ok_true(x);
	s = show(CLI_WF_STOP, parsed(), v);
	cr_expect_str_eq(s.out, "workflow sensors stopped\n");
	shown_free(&s);
	s = show(CLI_WF_LIST, wire_root(&R), v);
	cr_expect_str_eq(s.out, "no workflows\n");
	shown_free(&s);
	v.json = true;
	s = show(CLI_WF_STOP, wire_root(&R), v);
	cr_expect_str_eq(s.out, "{\"ok\":true,\"workflow\":\"sensors\"}\n");
	shown_free(&s);
	fini_reply();

	/* Counts as numbers, or (as the protocol could be read) lists. */
	x = w();
	wire_map(x, 2);
	ok_true(x);
	wire_str(x, "workflows");
	wire_array(x, 2);
	wire_map(x, 5);
	kv_str(x, "name", "sensors");
	kv_u64(x, "functions", 2);
	kv_u64(x, "resources", 3);
	kv_u64(x, "placed", 4);
	kv_u64(x, "pending", 1);
	wire_map(x, 5);
	kv_str(x, "name", "a\tb");
	wire_str(x, "functions");
	wire_array(x, 1);
	wire_str(x, "f");
	kv_u64(x, "resources", 0);
	kv_u64(x, "placed", 1);
	wire_str(x, "pending");
	wire_array(x, 0);
	v.json = false;
	s = show(CLI_WF_LIST, parsed(), v);
	cr_expect_str_eq(s.out,
	    "NAME     FUNCTIONS  RESOURCES  PLACED  PENDING\n"
	    "sensors  2          3          4       1\n"
	    "a\\x09b   1          0          1       0\n");
	shown_free(&s);
	v.json = true;
	s = show(CLI_WF_LIST, wire_root(&R), v);
	cr_expect_str_eq(s.out,
	    "{\"ok\":true,\"workflows\":[{\"name\":\"sensors\",\"functions\":2,"
	    "\"resources\":3,\"placed\":4,\"pending\":1},{\"name\":\"a\\tb\","
	    "\"functions\":1,\"resources\":0,\"placed\":1,\"pending\":0}]}\n");
	shown_free(&s);
}

static void
show_part(struct wire_w *x, const char *part, const char *kind,
    const char *type, const char *node, uint64_t state, uint64_t replicas,
    const char *replica, const char *note)
{
	wire_map(x, 12);
	kv_str(x, "part", part);
	kv_str(x, "kind", kind);
	kv_str(x, "type", type);
	kv_str(x, "node", node); /* NULL: nil, not placed */
	kv_u64(x, "epoch", 2);
	kv_u64(x, "state_bytes", state);
	kv_u64(x, "events_in", 120);
	kv_u64(x, "events_out", 118);
	kv_u64(x, "errors", 2);
	kv_u64(x, "replicas", replicas);
	wire_str(x, "replica_nodes");
	wire_array(x, replica ? 1 : 0);
	if (replica) {
		wire_str(x, replica);
	}
	kv_str(x, "note", note);
}

static wire_v
wf_show_reply(void)
{
	struct wire_w *x = w();
	wire_map(x, 5);
	ok_true(x);
	kv_str(x, "name", "sensors");
	kv_str(x, "file", "sensors.yaml");
	wire_str(x, "parts");
	wire_array(x, 4);
	show_part(
	    x, "filter", "function", "function", "edge-1", 1536, 0, NULL, NULL);
	show_part(x, "average", "function", "function", "edge-2", 10, 1,
	    "edge-3", "replica catching up");
	show_part(x, "sensor", "resource", "timer", "edge-1", 0, 0, NULL, NULL);
	show_part(x, "late", "function", "function", NULL, 0, 0, NULL,
	    "no state replicas: if its node is lost, the state restarts "
	    "empty");
	wire_str(x, "pending");
	wire_array(x, 1);
	wire_map(x, 2);
	kv_str(x, "part", "late");
	kv_str(x, "why", "no node offers http-ingress");
	return parsed();
}

Test(fmt, workflow_show_says_what_a_node_loss_does)
{
	struct cli_view v = { .name = "sensors" };
	struct shown s = show(CLI_WF_SHOW, wf_show_reply(), v);

	cr_expect_eq(s.rc, 0);
	cr_expect_str_eq(s.out,
	    "workflow sensors (from sensors.yaml)\n"
	    "  PART     KIND      TYPE      NODE    STATE    EVENTS IN  "
	    "EVENTS OUT  ERRORS  REPLICAS\n"
	    "  filter   function  function  edge-1  1.5 KiB  120        118"
	    "         2       none\n"
	    "  average  function  function  edge-2  10 B     120        118"
	    "         2       edge-3\n"
	    "  sensor   resource  timer     edge-1  -        120        118"
	    "         2       -\n"
	    "  late     function  function  -       0 B      120        118"
	    "         2       none\n"
	    "pending (waiting for a node):\n"
	    "  late  no node offers http-ingress\n"
	    "notes:\n"
	    "  filter   no state replicas: if edge-1 is lost, this function "
	    "restarts elsewhere with empty state\n"
	    "  average  replica catching up\n"
	    "  late     no state replicas: if its node is lost, the state "
	    "restarts empty\n");
	shown_free(&s);

	v.json = true;
	s = show(CLI_WF_SHOW, wire_root(&R), v);
	cr_expect_str_eq(s.out,
	    "{\"ok\":true,\"name\":\"sensors\",\"file\":\"sensors.yaml\","
	    "\"parts\":[{\"part\":\"filter\",\"kind\":\"function\","
	    "\"type\":\"function\",\"node\":\"edge-1\",\"epoch\":2,"
	    "\"state_bytes\":1536,\"events_in\":120,\"events_out\":118,"
	    "\"errors\":2,\"replicas\":0,\"replica_nodes\":[],\"note\":null,"
	    "\"state_lost_on_node_loss\":true},"
	    "{\"part\":\"average\",\"kind\":\"function\","
	    "\"type\":\"function\",\"node\":\"edge-2\",\"epoch\":2,"
	    "\"state_bytes\":10,\"events_in\":120,\"events_out\":118,"
	    "\"errors\":2,\"replicas\":1,\"replica_nodes\":[\"edge-3\"],"
	    "\"note\":\"replica catching up\","
	    "\"state_lost_on_node_loss\":false},"
	    "{\"part\":\"sensor\",\"kind\":\"resource\",\"type\":\"timer\","
	    "\"node\":\"edge-1\",\"epoch\":2,\"state_bytes\":0,"
	    "\"events_in\":120,\"events_out\":118,\"errors\":2,"
	    "\"replicas\":0,\"replica_nodes\":[],\"note\":null,"
	    "\"state_lost_on_node_loss\":false},"
	    "{\"part\":\"late\",\"kind\":\"function\",\"type\":\"function\","
	    "\"node\":null,\"epoch\":2,\"state_bytes\":0,\"events_in\":120,"
	    "\"events_out\":118,\"errors\":2,\"replicas\":0,"
	    "\"replica_nodes\":[],\"note\":\"no state replicas: if its node "
	    "is lost, the state restarts empty\","
	    "\"state_lost_on_node_loss\":true}],"
	    "\"pending\":[{\"part\":\"late\",\"why\":\"no node offers "
	    "http-ingress\"}]}\n");
	shown_free(&s);
}

static void
node_entry(struct wire_w *x, const char *name, const char *health, uint64_t hb,
    bool labels)
{
	wire_map(x, 11);
	kv_str(x, "name", name);
	kv_str(x, "url", "tcp://10.0.0.1:7601");
	wire_str(x, "labels");
	wire_map(x, labels ? 2 : 0);
	if (labels) {
		kv_str(x, "zone", "north");
		kv_str(x, "gpu", "no");
	}
	kv_str(x, "arch", "x86_64");
	kv_u64(x, "cores", 4);
	kv_u64(x, "mem_mb", 2048);
	wire_str(x, "resources");
	wire_array(x, 1);
	wire_str(x, "timer");
	kv_str(x, "health", health);
	kv_u64(x, "instances", 3);
	kv_u64(x, "last_heartbeat_ms", hb);
	kv_u64(x, "epoch", 7);
}

Test(fmt, node_list)
{
	struct cli_view v = { 0 };
	struct wire_w *x = w();
	struct shown s;

	wire_map(x, 2);
	ok_true(x);
	wire_str(x, "nodes");
	wire_array(x, 4);
	node_entry(x, "edge-1", "up", 120, true);
	node_entry(x, "edge-2", "lost", 93500, false);
	node_entry(x, "cloud", "draining", 2500, false);
	node_entry(x, "new", "up", UINT64_MAX, false);
	s = show(CLI_NODE_LIST, parsed(), v);
	cr_expect_eq(s.rc, 0);
	cr_expect_str_eq(s.out,
	    "NAME    LABELS             ARCH    HEALTH    INSTANCES  LAST "
	    "HEARTBEAT\n"
	    "edge-1  zone=north,gpu=no  x86_64  up        3          120 ms "
	    "ago\n"
	    "edge-2  -                  x86_64  lost      3          1 min "
	    "ago\n"
	    "cloud   -                  x86_64  draining  3          2.5 s "
	    "ago\n"
	    "new     -                  x86_64  up        3          never\n");
	shown_free(&s);
	v.json = true;
	s = show(CLI_NODE_LIST, wire_root(&R), v);
	cr_expect(strncmp(s.out,
	              "{\"ok\":true,\"nodes\":[{\"name\":\"edge-1\",\"url\":"
	              "\"tcp://10.0.0.1:7601\",\"labels\":{\"zone\":\"north\","
	              "\"gpu\":\"no\"},\"arch\":\"x86_64\",\"cores\":4,"
	              "\"mem_mb\":2048,\"resources\":[\"timer\"],\"health\":"
	              "\"up\",\"instances\":3,\"last_heartbeat_ms\":120,"
	              "\"epoch\":7},",
	              strlen("{\"ok\":true,\"nodes\":[{\"name\":\"edge-1\","
	                     "\"url\":\"tcp://10.0.0.1:7601\",\"labels\":{"
	                     "\"zone\":\"north\",\"gpu\":\"no\"},\"arch\":"
	                     "\"x86_64\",\"cores\":4,\"mem_mb\":2048,"
	                     "\"resources\":[\"timer\"],\"health\":\"up\","
	                     "\"instances\":3,\"last_heartbeat_ms\":120,"
	                     "\"epoch\":7},")) == 0,
	    "%s", s.out);
	cr_expect_not_null(strstr(s.out,
	    "{\"name\":\"new\",\"url\":\"tcp://10.0.0.1:7601\",\"labels\":{},"
	    "\"arch\":\"x86_64\",\"cores\":4,\"mem_mb\":2048,\"resources\":"
	    "[\"timer\"],\"health\":\"up\",\"instances\":3,"
	    "\"last_heartbeat_ms\":null,\"epoch\":7}]}\n"));
	shown_free(&s);
	fini_reply();

	x = w();
	wire_map(x, 2);
	ok_true(x);
	wire_str(x, "nodes");
	wire_array(x, 0);
	v.json = false;
	s = show(CLI_NODE_LIST, parsed(), v);
	cr_expect_str_eq(s.out, "no nodes have joined the domain\n");
	shown_free(&s);
}

Test(fmt, node_drain_and_function_move)
{
	struct cli_view v = { .name = "edge-1" };
	struct wire_w *x = w();
	struct shown s;

	wire_map(x, 3);
	ok_true(x);
	wire_str(x, "moved");
	wire_array(x, 2);
	wire_map(x, 3);
	kv_str(x, "part", "sensors/filter");
	kv_str(x, "from", "edge-1");
	kv_str(x, "to", "edge-2");
	wire_map(x, 3);
	kv_str(x, "part", "sensors/sensor");
	kv_str(x, "from", "edge-1");
	kv_str(x, "to", "cloud");
	wire_str(x, "stay");
	wire_array(x, 1);
	wire_map(x, 2);
	kv_str(x, "part", "sensors/pinned");
	kv_str(x, "why", "pinned: node 'edge-1' is draining");
	s = show(CLI_NODE_DRAIN, parsed(), v);
	cr_expect_str_eq(s.out,
	    "node edge-1 is draining: 2 parts moved\n"
	    "  PART            FROM    TO\n"
	    "  sensors/filter  edge-1  edge-2\n"
	    "  sensors/sensor  edge-1  cloud\n"
	    "stays: sensors/pinned (pinned: node 'edge-1' is draining)\n");
	shown_free(&s);
	v.json = true;
	s = show(CLI_NODE_DRAIN, wire_root(&R), v);
	cr_expect_str_eq(s.out,
	    "{\"ok\":true,\"node\":\"edge-1\",\"moved\":[{\"part\":"
	    "\"sensors/filter\",\"from\":\"edge-1\",\"to\":\"edge-2\"},"
	    "{\"part\":\"sensors/sensor\",\"from\":\"edge-1\",\"to\":"
	    "\"cloud\"}],\"stay\":[{\"part\":\"sensors/pinned\",\"why\":"
	    "\"pinned: node 'edge-1' is draining\"}]}\n");
	shown_free(&s);
	fini_reply();

	x = w();
	wire_map(x, 4);
	ok_true(x);
	kv_str(x, "from", "edge-1");
	kv_str(x, "to", "edge-2");
	kv_u64(x, "epoch", 9);
	v = (struct cli_view) { .name = "sensors", .part = "filter" };
	s = show(CLI_FN_MOVE, parsed(), v);
	cr_expect_str_eq(
	    s.out, "moved sensors/filter from edge-1 to edge-2 (epoch 9)\n");
	shown_free(&s);
	v.json = true;
	s = show(CLI_FN_MOVE, wire_root(&R), v);
	cr_expect_str_eq(s.out,
	    "{\"ok\":true,\"workflow\":\"sensors\",\"function\":\"filter\","
	    "\"from\":\"edge-1\",\"to\":\"edge-2\",\"epoch\":9}\n");
	shown_free(&s);
}

Test(fmt, function_reload)
{
	const char *hash = "0123456789abcdef0123456789abcdef0123456789abcdef"
	                   "0123456789abcdef";
	struct cli_view v = {
		.name = "sensors", .part = "filter", .hash = hash
	};
	struct wire_w *x = w();
	struct shown s;

	wire_map(x, 2);
	ok_true(x);
	wire_str(x, "nodes");
	wire_array(x, 2);
	wire_str(x, "edge-1");
	wire_str(x, "edge-2");
	s = show(CLI_FN_RELOAD, parsed(), v);
	cr_expect_str_eq(s.out,
	    "reloaded sensors/filter with code 0123456789ab on "
	    "edge-1,edge-2\n");
	shown_free(&s);
	v.json = true;
	s = show(CLI_FN_RELOAD, wire_root(&R), v);
	cr_expect_str_eq(s.out,
	    "{\"ok\":true,\"workflow\":\"sensors\",\"function\":\"filter\","
	    "\"hash\":\"0123456789abcdef0123456789abcdef0123456789abcdef"
	    "0123456789abcdef\",\"nodes\":[\"edge-1\",\"edge-2\"]}\n");
	shown_free(&s);
}

Test(fmt, invoke_reply_bytes_go_out_unchanged)
{
	struct cli_view v = { .name = "wf", .part = "echo", .call = true };
	struct wire_w *x = w();
	struct shown s;

	wire_map(x, 2);
	ok_true(x);
	wire_str(x, "reply");
	wire_bin(x, "a\0\xff\n", 4);
	s = show(CLI_INVOKE, parsed(), v);
	cr_expect_eq(s.rc, 0);
	cr_expect_eq(memcmp(s.out, "a\0\xff\n", 4), 0);
	shown_free(&s);
	v.json = true;
	s = show(CLI_INVOKE, wire_root(&R), v);
	cr_expect_str_eq(s.out, "{\"ok\":true,\"reply\":\"YQD/Cg==\"}\n");
	shown_free(&s);
	v.call = false;
	v.json = false;
	s = show(CLI_INVOKE, wire_root(&R), v);
	cr_expect_str_eq(s.out, "cast to wf/echo accepted\n");
	shown_free(&s);
	v.json = true;
	s = show(CLI_INVOKE, wire_root(&R), v);
	cr_expect_str_eq(s.out, "{\"ok\":true,\"reply\":null}\n");
	shown_free(&s);
}

static wire_v
state_reply(bool empty)
{
	struct wire_w *x = w();
	wire_map(x, 2);
	ok_true(x);
	wire_str(x, "entries");
	wire_array(x, empty ? 0 : 3);
	if (!empty) {
		wire_map(x, 2);
		wire_str(x, "key");
		wire_bin(x, "n", 1);
		wire_str(x, "value");
		wire_bin(x, "\x02\0\0\0\0\0\0\0", 8);
		wire_map(x, 2);
		wire_str(x, "key");
		wire_bin(x, "user\0id", 7);
		wire_str(x, "value");
		wire_bin(x, "Zo\xc3\xab \"x\\y\"", 10);
		wire_map(x, 2);
		wire_str(x, "key");
		wire_bin(x, "empty", 5);
		wire_str(x, "value");
		wire_bin(x, "", 0);
	}
	return parsed();
}

Test(fmt, state_get)
{
	struct cli_view v = { .name = "wf", .part = "counter" };
	struct shown s = show(CLI_STATE_GET, state_reply(false), v);

	cr_expect_eq(s.rc, 0);
	cr_expect_str_eq(s.out,
	    "n = \\x02\\x00\\x00\\x00\\x00\\x00\\x00\\x00\n"
	    "user\\x00id = Zo\xc3\xab \"x\\\\y\"\n"
	    "empty = \n");
	shown_free(&s);
	v.json = true;
	s = show(CLI_STATE_GET, wire_root(&R), v);
	cr_expect_str_eq(s.out,
	    "{\"ok\":true,\"entries\":[{\"key\":\"bg==\",\"value\":"
	    "\"AgAAAAAAAAA=\"},{\"key\":\"dXNlcgBpZA==\",\"value\":"
	    "\"Wm/DqyAieFx5Ig==\"},{\"key\":\"ZW1wdHk=\",\"value\":\"\"}]}\n");
	shown_free(&s);
	fini_reply();

	/* A KEY that is not there fails; no KEY and no state is fine. */
	v = (struct cli_view) { .prog = "ledge state get",
		.name = "wf",
		.part = "counter",
		.key = "a\0b",
		.keylen = 3 };
	s = show(CLI_STATE_GET, state_reply(true), v);
	cr_expect_eq(s.rc, 1);
	cr_expect_str_eq(s.out, "");
	cr_expect_str_eq(
	    s.err, "ledge state get: no key 'a\\x00b' in wf/counter\n");
	shown_free(&s);
	v.json = true;
	s = show(CLI_STATE_GET, wire_root(&R), v);
	cr_expect_eq(s.rc, 1);
	cr_expect_str_eq(s.out,
	    "{\"ok\":false,\"error\":\"no key 'a\\\\x00b' in wf/counter\","
	    "\"code\":\"not-found\"}\n");
	shown_free(&s);
	v.key = NULL;
	v.json = false;
	s = show(CLI_STATE_GET, wire_root(&R), v);
	cr_expect_eq(s.rc, 0);
	cr_expect_str_eq(s.out, "");
	shown_free(&s);

	/* Only KEY is shown, even if the node sends more. */
	v.key = "user\0id";
	v.keylen = 7;
	s = show(CLI_STATE_GET, state_reply(false), v);
	cr_expect_eq(s.rc, 0);
	cr_expect_str_eq(s.out, "user\\x00id = Zo\xc3\xab \"x\\\\y\"\n");
	shown_free(&s);
}

static void
log_line(struct wire_w *x, uint64_t seq, const char *who, const char *level,
    const char *line)
{
	wire_map(x, 6);
	kv_u64(x, "seq", seq);
	kv_u64(x, "ms", 1795778523123ull + seq); /* 2026-11-27T... */
	kv_str(x, "node", "edge-1");
	kv_str(x, "who", who);
	kv_str(x, "level", level);
	kv_str(x, "line", line);
}

Test(fmt, logs)
{
	struct cli_view v = { .name = "wf" };
	struct wire_w *x = w();
	struct shown s;

	wire_map(x, 3);
	ok_true(x);
	wire_str(x, "lines");
	wire_array(x, 2);
	log_line(x, 1, "wf/filter", "info", "hello \x1b[31mred\n");
	log_line(x, 2, NULL, "error", "bad \xff byte");
	kv_u64(x, "next", 3);
	s = show(CLI_LOGS, parsed(), v);
	cr_expect_eq(s.rc, 0);
	cr_expect_str_eq(s.out,
	    "2026-11-27T11:22:03.124Z edge-1 INFO  [wf/filter] hello "
	    "\\x1b[31mred\\x0a\n"
	    "2026-11-27T11:22:03.125Z edge-1 ERROR bad \\xff byte\n");
	shown_free(&s);
	v.json = true;
	s = show(CLI_LOGS, wire_root(&R), v);
	cr_expect_str_eq(s.out,
	    "{\"ok\":true,\"lines\":[{\"seq\":1,\"ms\":1795778523124,"
	    "\"time\":\"2026-11-27T11:22:03.124Z\",\"node\":\"edge-1\","
	    "\"who\":\"wf/filter\",\"level\":\"INFO\",\"line\":\"hello "
	    "\\u001b[31mred\\n\"},{\"seq\":2,\"ms\":1795778523125,"
	    "\"time\":\"2026-11-27T11:22:03.125Z\",\"node\":\"edge-1\","
	    "\"who\":null,\"level\":\"ERROR\",\"line\":\"bad \\ufffd "
	    "byte\"}],\"next\":3}\n");
	shown_free(&s);
	v.stream = true;
	s = show(CLI_LOGS, wire_root(&R), v);
	cr_expect_str_eq(s.out,
	    "{\"seq\":1,\"ms\":1795778523124,\"time\":"
	    "\"2026-11-27T11:22:03.124Z\",\"node\":\"edge-1\",\"who\":"
	    "\"wf/filter\",\"level\":\"INFO\",\"line\":\"hello "
	    "\\u001b[31mred\\n\"}\n"
	    "{\"seq\":2,\"ms\":1795778523125,\"time\":"
	    "\"2026-11-27T11:22:03.125Z\",\"node\":\"edge-1\",\"who\":null,"
	    "\"level\":\"ERROR\",\"line\":\"bad \\ufffd byte\"}\n");
	shown_free(&s);
}

Test(fmt, failures_are_reported_with_exit_status_1)
{
	struct cli_view v = { .prog = "ledge workflow start", .name = "x" };
	struct wire_w *x = w();
	struct shown s;

	wire_map(x, 4);
	wire_str(x, "ok");
	wire_bool(x, false);
	kv_str(x, "error", "workflow 'x' is \"not\" valid\x01");
	kv_str(x, "code", "invalid");
	wire_str(x, "errors");
	wire_array(x, 2);
	wire_str(x, "x.yaml:3:5: unknown key 'cde' (did you mean 'code'?)");
	wire_str(x, "x.yaml:7:1: function 'f' has no 'code'");
	s = show(CLI_WF_START, parsed(), v);
	cr_expect_eq(s.rc, 1);
	cr_expect_str_eq(s.out, "");
	cr_expect_str_eq(s.err,
	    "ledge workflow start: workflow 'x' is \"not\" valid\\x01\n"
	    "x.yaml:3:5: unknown key 'cde' (did you mean 'code'?)\n"
	    "x.yaml:7:1: function 'f' has no 'code'\n");
	shown_free(&s);
	v.json = true;
	s = show(CLI_WF_START, wire_root(&R), v);
	cr_expect_eq(s.rc, 1);
	cr_expect_str_eq(s.out,
	    "{\"ok\":false,\"error\":\"workflow 'x' is \\\"not\\\" "
	    "valid\\u0001\",\"code\":\"invalid\",\"errors\":[\"x.yaml:3:5: "
	    "unknown key 'cde' (did you mean 'code'?)\",\"x.yaml:7:1: "
	    "function 'f' has no 'code'\"]}\n");
	shown_free(&s);
	fini_reply();

	/* No reason at all, and a reply that is not a map. */
	x = w();
	wire_map(x, 2);
	wire_str(x, "ok");
	wire_bool(x, false);
	kv_str(x, "code", "not-found");
	v = (struct cli_view) { .prog = "ledge workflow stop" };
	s = show(CLI_WF_STOP, parsed(), v);
	cr_expect_eq(s.rc, 1);
	cr_expect_str_eq(s.err,
	    "ledge workflow stop: the orchestrator refused (not-found)\n");
	shown_free(&s);
	fini_reply();
	x = w();
	wire_array(x, 0);
	v.url = "tcp://h:1";
	s = show(CLI_WF_STOP, parsed(), v);
	cr_expect_eq(s.rc, 1);
	cr_expect_str_eq(s.err,
	    "ledge workflow stop: the orchestrator at tcp://h:1 sent a reply "
	    "that is not a map\n");
	shown_free(&s);
}

/* ------------------------------------------------------------------ */
/* whole commands: output captured from fds 1 and 2                   */

struct cap {
	int fd[2], saved[2];
	char path[2][64];
	char *out, *err;
};

static void
cap_begin(struct cap *c)
{
	fflush(stdout);
	fflush(stderr);
	for (int i = 0; i < 2; i++) {
		snprintf(c->path[i], sizeof c->path[i], "/tmp/cli-cap-XXXXXX");
		c->fd[i] = mkstemp(c->path[i]);
		cr_assert_geq(c->fd[i], 0);
		c->saved[i] = dup(i + 1);
		dup2(c->fd[i], i + 1);
	}
}

static char *
slurp(const char *path)
{
	FILE *fp = fopen(path, "rb");
	char *b = calloc(1, 1 << 20);
	size_t n;
	cr_assert(fp && b);
	n = fread(b, 1, (1 << 20) - 1, fp);
	b[n] = '\0';
	fclose(fp);
	return b;
}

static void
cap_end(struct cap *c)
{
	fflush(stdout);
	fflush(stderr);
	for (int i = 0; i < 2; i++) {
		dup2(c->saved[i], i + 1);
		close(c->saved[i]);
		close(c->fd[i]);
	}
	c->out = slurp(c->path[0]);
	c->err = slurp(c->path[1]);
	unlink(c->path[0]);
	unlink(c->path[1]);
}

static void
cap_free(struct cap *c)
{
	free(c->out);
	free(c->err);
}

typedef int (*cmd_fn)(int argc, char **argv);

/* Run a command on a NULL-terminated list of words, capturing output. */
static int
run(cmd_fn fn, struct cap *c, const char *const *words)
{
	int argc = 0, rc;
	while (words[argc] != NULL) {
		argc++;
	}
	cap_begin(c);
	rc = fn(argc, (char **)words);
	cap_end(c);
	return rc;
}

#define RUN(fn, c, ...) run(fn, c, (const char *const[]) { __VA_ARGS__, NULL })

static void
expect_usage_error(int rc, struct cap *c, const char *msg)
{
	cr_expect_eq(rc, 2, "exit %d for '%s'", rc, msg);
	cr_expect_not_null(
	    strstr(c->err, msg), "'%s' not in stderr:\n%s", msg, c->err);
	cr_expect_str_eq(c->out, "");
	cap_free(c);
}

Test(args, usage_errors_exit_2_with_a_message)
{
	struct cap c;
	unsetenv("LEDGE_ORCHESTRATOR");
	cr_assert_eq(cli_workflow(0, NULL), 2);
	expect_usage_error(RUN(cli_workflow, &c, "bogus"), &c,
	    "ledge workflow: unknown command 'bogus'");
	expect_usage_error(RUN(cli_workflow, &c, "show"), &c,
	    "ledge workflow show: missing NAME\nusage: ledge workflow show");
	expect_usage_error(RUN(cli_workflow, &c, "list", "extra"), &c,
	    "ledge workflow list: unexpected argument 'extra'");
	expect_usage_error(RUN(cli_workflow, &c, "stop", "x", "--bogus"), &c,
	    "ledge workflow stop: unknown option '--bogus'");
	expect_usage_error(RUN(cli_workflow, &c, "stop", "x", "-f"), &c,
	    "unknown option '-f'");
	expect_usage_error(
	    RUN(cli_node, &c, "drain"), &c, "ledge node drain: missing NAME");
	expect_usage_error(RUN(cli_function_domain, &c, "move", "wf", "fn"), &c,
	    "ledge function move: missing NODE");
	expect_usage_error(RUN(cli_function_domain, &c, "reload", "wf"), &c,
	    "ledge function reload: missing FUNCTION");
	expect_usage_error(
	    RUN(cli_invoke, &c, "wf", "f"), &c, "ledge invoke: missing DATA");
	expect_usage_error(RUN(cli_invoke, &c, "wf", "f", "-5"), &c,
	    "unknown option '-5' (an argument that starts with '-' goes after "
	    "--)");
	expect_usage_error(RUN(cli_state, &c, "get", "wf"), &c,
	    "ledge state get: missing FUNCTION");
	expect_usage_error(RUN(cli_state, &c, "get", "wf", "f", "a\\q"), &c,
	    "ledge state get: KEY 'a\\q' has a bad escape");
	expect_usage_error(RUN(cli_state, &c, "put", "wf", "f"), &c,
	    "ledge state: unknown command 'put'");
	expect_usage_error(RUN(cli_logs, &c, "wf", "--timeout", "abc"), &c,
	    "ledge logs: --timeout must be a number of milliseconds");
	expect_usage_error(
	    RUN(cli_logs, &c, "wf", "--timeout=0"), &c, "--timeout must be");
	expect_usage_error(RUN(cli_logs, &c, "wf", "--timeout"), &c,
	    "ledge logs: --timeout needs a value");
	expect_usage_error(
	    RUN(cli_logs, &c, "wf", "--orchestrator", "http://x"), &c,
	    "'http://x' is not an orchestrator address");
	expect_usage_error(
	    RUN(cli_logs, &c, "wf", "--orchestrator=tls+tcp://h:7600",
	        "--tls-cert", "c.pem"),
	    &c, "tls+tcp://h:7600 needs --tls-cert, --tls-key and --tls-ca");
	setenv("LEDGE_ORCHESTRATOR", "udp://x", 1);
	expect_usage_error(RUN(cli_logs, &c, "wf"), &c,
	    "'udp://x' is not an orchestrator address");
}

Test(args, help_on_every_command_and_subcommand)
{
	static const struct {
		cmd_fn fn;
		const char *sub, *want;
	} cases[] = {
		{ cli_workflow, NULL, "usage: ledge workflow COMMAND" },
		{ cli_workflow, "start", "usage: ledge workflow start" },
		{ cli_workflow, "stop", "usage: ledge workflow stop" },
		{ cli_workflow, "list", "usage: ledge workflow list" },
		{ cli_workflow, "show", "empty state" },
		{ cli_node, NULL, "usage: ledge node COMMAND" },
		{ cli_node, "list", "usage: ledge node list" },
		{ cli_node, "drain", "usage: ledge node drain" },
		{ cli_function_domain, NULL, "ledge function reload" },
		{ cli_function_domain, "move", "usage: ledge function move" },
		{ cli_function_domain, "reload",
		    "usage: ledge function reload" },
		{ cli_state, NULL, "usage: ledge state get" },
		{ cli_state, "get", "base64" },
		{ cli_invoke, NULL, "--call" },
		{ cli_logs, NULL, "--follow" },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct cap c;
		int rc = cases[i].sub
		    ? RUN(cases[i].fn, &c, cases[i].sub, "--help")
		    : RUN(cases[i].fn, &c, "--help");
		cr_expect_eq(rc, 0, "case %zu", i);
		cr_expect_not_null(strstr(c.out, cases[i].want),
		    "case %zu: '%s' not in:\n%s", i, cases[i].want, c.out);
		cr_expect_not_null(strstr(c.out, "--orchestrator URL"));
		cr_expect_not_null(strstr(c.out, "exit status"));
		cr_expect_str_eq(c.err, "");
		cap_free(&c);
	}
	/* -h anywhere, even with arguments missing */
	struct cap c;
	cr_expect_eq(RUN(cli_function_domain, &c, "move", "-h"), 0);
	cr_expect_not_null(strstr(c.out, "usage: ledge function move"));
	cap_free(&c);
	for (const char *t = "workflow\0node\0function\0invoke\0state\0logs\0";
	     *t; t += strlen(t) + 1) {
		char *buf;
		size_t n;
		FILE *fp = open_memstream(&buf, &n);
		cr_expect_eq(cli_help(t, fp), 0, "%s", t);
		fclose(fp);
		cr_expect_not_null(strstr(buf, "usage: ledge"));
		free(buf);
	}
	cr_expect_eq(cli_help("run", stdout), -1);
}

Test(args, an_unreachable_orchestrator_is_named)
{
	struct cap c;
	int rc;

	unsetenv("LEDGE_ORCHESTRATOR");
	rc = RUN(
	    cli_workflow, &c, "list", "--orchestrator", "tcp://127.0.0.1:1");
	cr_expect_eq(rc, 1);
	cr_expect_str_eq(c.err,
	    "ledge workflow list: cannot reach the orchestrator at "
	    "tcp://127.0.0.1:1: connection refused (set --orchestrator or "
	    "LEDGE_ORCHESTRATOR)\n");
	cr_expect_str_eq(c.out, "");
	cap_free(&c);

	rc = RUN(cli_workflow, &c, "list", "--orchestrator",
	    "tls+tcp://127.0.0.1:1", "--tls-cert", "/nonexistent/c.pem",
	    "--tls-key", "k.pem", "--tls-ca", "ca.pem");
	cr_expect_eq(rc, 1);
	cr_expect_str_eq(c.err,
	    "ledge workflow list: cannot read --tls-cert /nonexistent/c.pem: "
	    "No such file or directory\n");
	cap_free(&c);

	setenv("LEDGE_ORCHESTRATOR", "tcp://127.0.0.1:1", 1);
	rc = RUN(cli_node, &c, "list", "--json");
	cr_expect_eq(rc, 1);
	cr_expect_str_eq(c.out,
	    "{\"ok\":false,\"error\":\"cannot reach the orchestrator at "
	    "tcp://127.0.0.1:1: connection refused (set --orchestrator or "
	    "LEDGE_ORCHESTRATOR)\",\"code\":\"no-orchestrator\"}\n");
	cap_free(&c);
}

/* ------------------------------------------------------------------ */
/* a fake orchestrator                                                 */

static struct loop *L;
static pthread_t T;
static struct msg_server *S;
static char URL[128];
static pthread_mutex_t M = PTHREAD_MUTEX_INITIALIZER;
static char seen[1024];  /* request types, comma-separated */
static char have[8][65]; /* code hashes received */
static int nhave;
static char last_start_code[512]; /* the code map of the last wf.start */
static char last_key[64];         /* state.get's key, escaped */
static int nlogs;

static void
reply_w(struct msg_req *req, struct wire_w *x)
{
	size_t n;
	const void *p = wire_data(x, &n);
	msg_reply(req, p, n);
	wire_w_fini(x);
}

static void
reply_ok(struct msg_req *req)
{
	struct wire_w x;
	wire_w_init(&x);
	wire_map(&x, 1);
	ok_true(&x);
	reply_w(req, &x);
}

static bool
known(const char *p, size_t n)
{
	for (int i = 0; i < nhave; i++) {
		if (strlen(have[i]) == n && memcmp(have[i], p, n) == 0) {
			return true;
		}
	}
	return false;
}

static void
fake_start(struct msg_req *req, wire_v root)
{
	wire_v code = wire_get(root, "code");
	const char *need[8];
	size_t needn[8], nneed = 0;
	struct wire_w x;

	last_start_code[0] = '\0';
	for (size_t i = 0; i < wire_len(code); i++) {
		const char *k, *h;
		size_t kn, hn;
		wire_as_str(wire_key_at(code, i), &k, &kn);
		wire_as_str(wire_val_at(code, i), &h, &hn);
		snprintf(last_start_code + strlen(last_start_code),
		    sizeof last_start_code - strlen(last_start_code),
		    "%.*s=%.8s;", (int)kn, k, h);
		if (!known(h, hn) && nneed < 8) {
			need[nneed] = h;
			needn[nneed++] = hn;
		}
	}
	wire_w_init(&x);
	if (nneed > 0) {
		wire_map(&x, 4);
		wire_str(&x, "ok");
		wire_bool(&x, false);
		kv_str(&x, "code", "need-code");
		kv_str(&x, "error", "code missing");
		wire_str(&x, "need");
		wire_array(&x, nneed);
		for (size_t i = 0; i < nneed; i++) {
			wire_strn(&x, need[i], needn[i]);
		}
	} else {
		wire_map(&x, 4);
		ok_true(&x);
		wire_str(&x, "placed");
		wire_array(&x, 1);
		placed_part(&x, "echo", "function", "function", "edge-1", 1);
		wire_str(&x, "pending");
		wire_array(&x, 0);
		wire_str(&x, "new");
		wire_bool(&x, true);
	}
	reply_w(req, &x);
}

static void
fake_code_put(struct msg_req *req, wire_v root)
{
	const void *p;
	const char *h;
	size_t n, hn;
	char hex[65];

	cr_assert(wire_as_bin(wire_get(root, "bytes"), &p, &n));
	cr_assert(wire_as_str(wire_get(root, "hash"), &h, &hn));
	sha256_hex(p, n, hex);
	cr_assert(hn == 64 && memcmp(hex, h, 64) == 0, "hash checked");
	if (nhave < 8) {
		memcpy(have[nhave++], hex, 65);
	}
	reply_ok(req);
}

static void
fake_logs(struct msg_req *req, wire_v root)
{
	uint64_t after = wire_as_u64(wire_get(root, "after"), 99);
	struct wire_w x;
	char line[32];

	snprintf(
	    line, sizeof line, "line after %llu", (unsigned long long)after);
	wire_w_init(&x);
	wire_map(&x, 3);
	ok_true(&x);
	wire_str(&x, "lines");
	wire_array(&x, 1);
	log_line(&x, after + 1, "wf/f", "info", line);
	kv_u64(&x, "next", after + 1);
	reply_w(req, &x);
	if (++nlogs == 3) {
		kill(getpid(), SIGINT); /* Ctrl-C for `logs -f` */
	}
}

static void
fake(void *arg, struct msg_req *req)
{
	size_t n;
	const void *d = msg_req_data(req, &n);
	struct wire_r r;
	wire_v root;
	const char *t;
	size_t tn;

	(void)arg;
	cr_assert_eq(wire_parse(&r, d, n), 0);
	root = wire_root(&r);
	cr_assert(wire_as_str(wire_get(root, "t"), &t, &tn));
	pthread_mutex_lock(&M);
	snprintf(seen + strlen(seen), sizeof seen - strlen(seen), "%s%.*s",
	    seen[0] ? "," : "", (int)tn, t);
	if (wire_str_eq(wire_get(root, "t"), "wf.start")) {
		cr_assert(wire_str_eq(wire_get(root, "name"), "t1"));
		fake_start(req, root);
	} else if (wire_str_eq(wire_get(root, "t"), "code.put")) {
		fake_code_put(req, root);
	} else if (wire_str_eq(wire_get(root, "t"), "fn.reload")) {
		struct wire_w x;
		cr_assert(nhave > 0, "code.put came first");
		wire_w_init(&x);
		wire_map(&x, 2);
		ok_true(&x);
		wire_str(&x, "nodes");
		wire_array(&x, 1);
		wire_str(&x, "edge-1");
		reply_w(req, &x);
	} else if (wire_str_eq(wire_get(root, "t"), "invoke")) {
		struct wire_w x;
		const void *p;
		size_t pn;
		cr_assert(wire_as_bool(wire_get(root, "call"), false));
		cr_assert(wire_as_bin(wire_get(root, "data"), &p, &pn));
		cr_assert_eq(wire_as_u64(wire_get(root, "timeout_ms"), 0), 700);
		wire_w_init(&x);
		wire_map(&x, 2);
		ok_true(&x);
		wire_str(&x, "reply");
		wire_bin(&x, p, pn);
		reply_w(req, &x);
	} else if (wire_str_eq(wire_get(root, "t"), "state.get")) {
		const void *p;
		size_t pn;
		cr_assert(wire_as_bin(wire_get(root, "key"), &p, &pn));
		char *e = cli_escape(p, pn, true);
		snprintf(last_key, sizeof last_key, "%s", e);
		free(e);
		struct wire_w x;
		wire_w_init(&x);
		wire_map(&x, 2);
		ok_true(&x);
		wire_str(&x, "entries");
		wire_array(&x, 1);
		wire_map(&x, 2);
		wire_str(&x, "key");
		wire_bin(&x, p, pn);
		wire_str(&x, "value");
		wire_bin(&x, "v", 1);
		reply_w(req, &x);
	} else if (wire_str_eq(wire_get(root, "t"), "logs")) {
		fake_logs(req, root);
	} else {
		reply_ok(req);
	}
	pthread_mutex_unlock(&M);
	wire_r_fini(&r);
}

static void *
loop_main(void *arg)
{
	(void)arg;
	loop_run(L);
	return NULL;
}

static void
stop_loop(void *arg)
{
	(void)arg;
	msg_server_free(S);
	loop_exit(L);
}

static void
fake_up(void)
{
	char err[256];
	snprintf(URL, sizeof URL, "ipc:///tmp/ledge-cli-test-%ld.sock",
	    (long)getpid());
	cr_assert_eq(loop_new(&L), 0);
	cr_assert_eq(
	    msg_server_new(L, URL, NULL, fake, NULL, &S, err, sizeof err), 0,
	    "%s", err);
	pthread_create(&T, NULL, loop_main, NULL);
	setenv("LEDGE_ORCHESTRATOR", URL, 1);
}

static void
fake_down(void)
{
	loop_post(L, stop_loop, NULL);
	pthread_join(T, NULL);
	loop_free(L);
}

static const char *
seen_now(void)
{
	static char copy[1024];
	pthread_mutex_lock(&M);
	snprintf(copy, sizeof copy, "%s", seen);
	seen[0] = '\0';
	pthread_mutex_unlock(&M);
	return copy;
}

TestSuite(fake, .init = fake_up, .fini = fake_down, .timeout = 60);

/* A scratch folder with echo.so and a workflow naming it. */
static void
scratch(char *dir, size_t n, const char *yaml)
{
	const char *fx = getenv("LEDGE_FIXTURES");
	char cmd[1024], path[512];
	FILE *fp;

	cr_assert_not_null(fx, "LEDGE_FIXTURES is set by meson");
	snprintf(dir, n, "/tmp/ledge-cli-wf-XXXXXX");
	cr_assert_not_null(mkdtemp(dir));
	snprintf(cmd, sizeof cmd, "cp '%s/echo.so' '%s/echo.so'", fx, dir);
	cr_assert_eq(system(cmd), 0);
	snprintf(path, sizeof path, "%s/t1.yaml", dir);
	cr_assert_not_null(fp = fopen(path, "w"));
	fputs(yaml, fp);
	fclose(fp);
}

static void
scratch_rm(const char *dir)
{
	char cmd[600];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	cr_expect_eq(system(cmd), 0);
}

Test(fake, workflow_start_uploads_only_missing_code)
{
	char dir[64], path[128], hash[65], err[256];
	struct cap c;
	int rc;

	scratch(dir, sizeof dir,
	    "workflow: t1\nfunctions:\n  echo:\n    code: echo.so\n"
	    "  again:\n    code: ./echo.so\n");
	snprintf(path, sizeof path, "%s/t1.yaml", dir);

	rc = RUN(cli_workflow, &c, "start", path);
	cr_expect_eq(rc, 0, "stderr: %s", c.err);
	cr_expect_str_eq(seen_now(), "wf.start,code.put,wf.start");
	cr_expect_str_eq(c.out,
	    "workflow t1 started: 1 part placed, 0 pending\n"
	    "  PART  KIND      TYPE      NODE\n"
	    "  echo  function  function  edge-1\n");
	cr_expect_not_null(strstr(c.err, "uploading "), "%s", c.err);
	cap_free(&c);

	/* Both keys, as written, name the same hash, sent once. */
	snprintf(path, sizeof path, "%s/echo.so", dir);
	cr_assert_eq(code_hash_file(path, hash, err, sizeof err), 0);
	char want[256];
	snprintf(want, sizeof want, "echo.so=%.8s;./echo.so=%.8s;", hash, hash);
	cr_expect_str_eq(last_start_code, want);

	/* The domain has the code now: nothing is sent again. */
	snprintf(path, sizeof path, "%s/t1.yaml", dir);
	rc = RUN(cli_workflow, &c, "start", path, "--json");
	cr_expect_eq(rc, 0);
	cr_expect_str_eq(seen_now(), "wf.start");
	cr_expect_not_null(strstr(c.out, "\"uploaded\":[]"), "%s", c.out);
	cr_expect_str_eq(c.err, "");
	cap_free(&c);
	scratch_rm(dir);
}

Test(fake, workflow_start_sends_nothing_for_an_invalid_workflow)
{
	char dir[64], path[128];
	struct cap c;
	int rc;

	scratch(dir, sizeof dir,
	    "workflow: t1\nfunctions:\n  echo:\n    cde: echo.so\n");
	snprintf(path, sizeof path, "%s/t1.yaml", dir);
	rc = RUN(cli_workflow, &c, "start", path);
	cr_expect_eq(rc, 1);
	cr_expect_str_eq(seen_now(), "");
	cr_expect_not_null(
	    strstr(c.err, "t1.yaml:4:5: unknown key 'cde'"), "%s", c.err);
	cap_free(&c);

	rc = RUN(cli_workflow, &c, "start", "/nonexistent/x.yaml");
	cr_expect_eq(rc, 1);
	cr_expect_str_eq(seen_now(), "");
	cr_expect_not_null(strstr(c.err, "/nonexistent/x.yaml"), "%s", c.err);
	cap_free(&c);
	scratch_rm(dir);
}

Test(fake, function_reload_puts_code_first)
{
	char dir[64], path[128];
	struct cap c;
	int rc;

	scratch(dir, sizeof dir, "workflow: t1\n");
	snprintf(path, sizeof path, "%s/echo.so", dir);
	rc = RUN(cli_function_domain, &c, "reload", "t1", "echo", path);
	cr_expect_eq(rc, 0, "%s", c.err);
	cr_expect_str_eq(seen_now(), "code.put,fn.reload");
	cr_expect_not_null(strstr(c.out, "reloaded t1/echo with code "));
	cr_expect_not_null(strstr(c.out, " on edge-1\n"));
	cap_free(&c);

	rc = RUN(
	    cli_function_domain, &c, "reload", "t1", "echo", "/nonexistent.so");
	cr_expect_eq(rc, 1);
	cr_expect_str_eq(seen_now(), "");
	cr_expect_str_eq(c.err,
	    "ledge function reload: /nonexistent.so: cannot read: No such "
	    "file or directory\n");
	cap_free(&c);
	scratch_rm(dir);
}

Test(fake, invoke_call_state_get_and_simple_commands)
{
	struct cap c;
	int rc;

	rc = RUN(cli_invoke, &c, "wf", "echo", "--call", "--timeout", "700",
	    "--", "-payload");
	cr_expect_eq(rc, 0, "%s", c.err);
	cr_expect_str_eq(c.out, "-payload");
	cr_expect_str_eq(seen_now(), "invoke");
	cap_free(&c);

	rc = RUN(cli_state, &c, "get", "wf", "f", "k\\x00\\\\");
	cr_expect_eq(rc, 0, "%s", c.err);
	cr_expect_str_eq(last_key, "k\\x00\\\\");
	cr_expect_str_eq(c.out, "k\\x00\\\\ = v\n");
	cap_free(&c);

	rc = RUN(cli_workflow, &c, "stop", "t1");
	cr_expect_eq(rc, 0);
	cr_expect_str_eq(c.out, "workflow t1 stopped\n");
	cap_free(&c);
	rc = RUN(cli_node, &c, "drain", "edge-1", "--json");
	cr_expect_eq(rc, 0);
	cr_expect_str_eq(c.out,
	    "{\"ok\":true,\"node\":\"edge-1\",\"moved\":[],"
	    "\"stay\":[]}\n");
	cap_free(&c);
	cr_expect_str_eq(seen_now(), "state.get,wf.stop,node.drain");
}

Test(fake, logs_follow_polls_with_the_cursor_until_ctrl_c)
{
	struct cap c;
	int rc = RUN(cli_logs, &c, "wf", "-f", "--json");

	cr_expect_eq(rc, 0, "%s", c.err);
	cr_expect_str_eq(seen_now(), "logs,logs,logs");
	cr_expect_not_null(strstr(c.out, "\"seq\":1,"), "%s", c.out);
	cr_expect_not_null(strstr(c.out, "\"line\":\"line after 0\"}\n"));
	cr_expect_not_null(strstr(c.out, "\"line\":\"line after 1\"}\n"));
	cr_expect_not_null(strstr(c.out, "\"line\":\"line after 2\"}\n"));
	cap_free(&c);
}
