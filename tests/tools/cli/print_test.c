/*
 * print_test.c - the replies of the orchestrator as the CLI prints them
 * (tools/cli/print.c, print_human.c, print_json.c): replies built with
 * wire.h as docs/protocol.md describes them, printed for people and as
 * JSON, and failures.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/print.h"
#include "cli_helpers.h"
#include "net/wire.h"

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
show(enum print_kind kind, wire_v r, struct view v)
{
	struct shown s = { 0 };
	size_t no, ne;
	FILE *out = open_memstream(&s.out, &no);
	FILE *err = open_memstream(&s.err, &ne);
	cr_assert(out && err);
	if (v.prog == NULL) {
		v.prog = "ledge test";
	}
	s.rc = print_reply(kind, r, &v, out, err);
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

TestSuite(fmt, .fini = fini_reply);

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
	struct view_upload up = { "./f.so", "ab12", 2048 };
	struct view v = { .name = "sensors" };
	struct shown s = show(PRINT_WF_START, start_reply(false), v);

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
	s = show(PRINT_WF_START, start_reply(true), v);
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
	struct view v = { .name = "t" };
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
	s = show(PRINT_WF_START, parsed(), v);
	cr_expect_str_eq(s.out,
	    "workflow t started: 1 part placed, 0 pending\n"
	    "  PART  KIND      TYPE      NODE\n"
	    "  f     function  function  n1\n"
	    "warning: http-ingress on n1: port busy\n");
	shown_free(&s);
	v.json = true;
	s = show(PRINT_WF_START, wire_root(&R), v);
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
	struct view v = { .name = "sensors" };
	struct wire_w *x = w();
	struct shown s;

	wire_map(x, 1);
	ok_true(x);
	s = show(PRINT_WF_STOP, parsed(), v);
	cr_expect_str_eq(s.out, "workflow sensors stopped\n");
	shown_free(&s);
	s = show(PRINT_WF_LIST, wire_root(&R), v);
	cr_expect_str_eq(s.out, "no workflows\n");
	shown_free(&s);
	v.json = true;
	s = show(PRINT_WF_STOP, wire_root(&R), v);
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
	s = show(PRINT_WF_LIST, parsed(), v);
	cr_expect_str_eq(s.out,
	    "NAME     FUNCTIONS  RESOURCES  PLACED  PENDING\n"
	    "sensors  2          3          4       1\n"
	    "a\\x09b   1          0          1       0\n");
	shown_free(&s);
	v.json = true;
	s = show(PRINT_WF_LIST, wire_root(&R), v);
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
	struct view v = { .name = "sensors" };
	struct shown s = show(PRINT_WF_SHOW, wf_show_reply(), v);

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
	s = show(PRINT_WF_SHOW, wire_root(&R), v);
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
	struct view v = { 0 };
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
	s = show(PRINT_NODE_LIST, parsed(), v);
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
	s = show(PRINT_NODE_LIST, wire_root(&R), v);
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
	s = show(PRINT_NODE_LIST, parsed(), v);
	cr_expect_str_eq(s.out, "no nodes have joined the domain\n");
	shown_free(&s);
}

Test(fmt, node_drain_and_function_move)
{
	struct view v = { .name = "edge-1" };
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
	s = show(PRINT_NODE_DRAIN, parsed(), v);
	cr_expect_str_eq(s.out,
	    "node edge-1 is draining: 2 parts moved\n"
	    "  PART            FROM    TO\n"
	    "  sensors/filter  edge-1  edge-2\n"
	    "  sensors/sensor  edge-1  cloud\n"
	    "stays: sensors/pinned (pinned: node 'edge-1' is draining)\n");
	shown_free(&s);
	v.json = true;
	s = show(PRINT_NODE_DRAIN, wire_root(&R), v);
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
	v = (struct view) { .name = "sensors", .part = "filter" };
	s = show(PRINT_FN_MOVE, parsed(), v);
	cr_expect_str_eq(
	    s.out, "moved sensors/filter from edge-1 to edge-2 (epoch 9)\n");
	shown_free(&s);
	v.json = true;
	s = show(PRINT_FN_MOVE, wire_root(&R), v);
	cr_expect_str_eq(s.out,
	    "{\"ok\":true,\"workflow\":\"sensors\",\"function\":\"filter\","
	    "\"from\":\"edge-1\",\"to\":\"edge-2\",\"epoch\":9}\n");
	shown_free(&s);
}

Test(fmt, function_reload)
{
	const char *hash = "0123456789abcdef0123456789abcdef0123456789abcdef"
	                   "0123456789abcdef";
	struct view v = { .name = "sensors", .part = "filter", .hash = hash };
	struct wire_w *x = w();
	struct shown s;

	wire_map(x, 2);
	ok_true(x);
	wire_str(x, "nodes");
	wire_array(x, 2);
	wire_str(x, "edge-1");
	wire_str(x, "edge-2");
	s = show(PRINT_FN_RELOAD, parsed(), v);
	cr_expect_str_eq(s.out,
	    "reloaded sensors/filter with code 0123456789ab on "
	    "edge-1,edge-2\n");
	shown_free(&s);
	v.json = true;
	s = show(PRINT_FN_RELOAD, wire_root(&R), v);
	cr_expect_str_eq(s.out,
	    "{\"ok\":true,\"workflow\":\"sensors\",\"function\":\"filter\","
	    "\"hash\":\"0123456789abcdef0123456789abcdef0123456789abcdef"
	    "0123456789abcdef\",\"nodes\":[\"edge-1\",\"edge-2\"]}\n");
	shown_free(&s);
}

Test(fmt, invoke_reply_bytes_go_out_unchanged)
{
	struct view v = { .name = "wf", .part = "echo", .call = true };
	struct wire_w *x = w();
	struct shown s;

	wire_map(x, 2);
	ok_true(x);
	wire_str(x, "reply");
	wire_bin(x, "a\0\xff\n", 4);
	s = show(PRINT_INVOKE, parsed(), v);
	cr_expect_eq(s.rc, 0);
	cr_expect_eq(memcmp(s.out, "a\0\xff\n", 4), 0);
	shown_free(&s);
	v.json = true;
	s = show(PRINT_INVOKE, wire_root(&R), v);
	cr_expect_str_eq(s.out, "{\"ok\":true,\"reply\":\"YQD/Cg==\"}\n");
	shown_free(&s);
	v.call = false;
	v.json = false;
	s = show(PRINT_INVOKE, wire_root(&R), v);
	cr_expect_str_eq(s.out, "cast to wf/echo accepted\n");
	shown_free(&s);
	v.json = true;
	s = show(PRINT_INVOKE, wire_root(&R), v);
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
	struct view v = { .name = "wf", .part = "counter" };
	struct shown s = show(PRINT_STATE_GET, state_reply(false), v);

	cr_expect_eq(s.rc, 0);
	cr_expect_str_eq(s.out,
	    "n = \\x02\\x00\\x00\\x00\\x00\\x00\\x00\\x00\n"
	    "user\\x00id = Zo\xc3\xab \"x\\\\y\"\n"
	    "empty = \n");
	shown_free(&s);
	v.json = true;
	s = show(PRINT_STATE_GET, wire_root(&R), v);
	cr_expect_str_eq(s.out,
	    "{\"ok\":true,\"entries\":[{\"key\":\"bg==\",\"value\":"
	    "\"AgAAAAAAAAA=\"},{\"key\":\"dXNlcgBpZA==\",\"value\":"
	    "\"Wm/DqyAieFx5Ig==\"},{\"key\":\"ZW1wdHk=\",\"value\":\"\"}]}\n");
	shown_free(&s);
	fini_reply();

	/* A KEY that is not there fails; no KEY and no state is fine. */
	v = (struct view) { .prog = "ledge state get",
		.name = "wf",
		.part = "counter",
		.key = "a\0b",
		.keylen = 3 };
	s = show(PRINT_STATE_GET, state_reply(true), v);
	cr_expect_eq(s.rc, 1);
	cr_expect_str_eq(s.out, "");
	cr_expect_str_eq(
	    s.err, "ledge state get: no key 'a\\x00b' in wf/counter\n");
	shown_free(&s);
	v.json = true;
	s = show(PRINT_STATE_GET, wire_root(&R), v);
	cr_expect_eq(s.rc, 1);
	cr_expect_str_eq(s.out,
	    "{\"ok\":false,\"error\":\"no key 'a\\\\x00b' in wf/counter\","
	    "\"code\":\"not-found\"}\n");
	shown_free(&s);
	v.key = NULL;
	v.json = false;
	s = show(PRINT_STATE_GET, wire_root(&R), v);
	cr_expect_eq(s.rc, 0);
	cr_expect_str_eq(s.out, "");
	shown_free(&s);

	/* Only KEY is shown, even if the node sends more. */
	v.key = "user\0id";
	v.keylen = 7;
	s = show(PRINT_STATE_GET, state_reply(false), v);
	cr_expect_eq(s.rc, 0);
	cr_expect_str_eq(s.out, "user\\x00id = Zo\xc3\xab \"x\\\\y\"\n");
	shown_free(&s);
}

Test(fmt, logs)
{
	struct view v = { .name = "wf" };
	struct wire_w *x = w();
	struct shown s;

	wire_map(x, 3);
	ok_true(x);
	wire_str(x, "lines");
	wire_array(x, 2);
	log_line(x, 1, "wf/filter", "info", "hello \x1b[31mred\n");
	log_line(x, 2, NULL, "error", "bad \xff byte");
	kv_u64(x, "next", 3);
	s = show(PRINT_LOGS, parsed(), v);
	cr_expect_eq(s.rc, 0);
	cr_expect_str_eq(s.out,
	    "2026-11-27T11:22:03.124Z edge-1 INFO  [wf/filter] hello "
	    "\\x1b[31mred\\x0a\n"
	    "2026-11-27T11:22:03.125Z edge-1 ERROR bad \\xff byte\n");
	shown_free(&s);
	v.json = true;
	s = show(PRINT_LOGS, wire_root(&R), v);
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
	s = show(PRINT_LOGS, wire_root(&R), v);
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
	struct view v = { .prog = "ledge workflow start", .name = "x" };
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
	s = show(PRINT_WF_START, parsed(), v);
	cr_expect_eq(s.rc, 1);
	cr_expect_str_eq(s.out, "");
	cr_expect_str_eq(s.err,
	    "ledge workflow start: workflow 'x' is \"not\" valid\\x01\n"
	    "x.yaml:3:5: unknown key 'cde' (did you mean 'code'?)\n"
	    "x.yaml:7:1: function 'f' has no 'code'\n");
	shown_free(&s);
	v.json = true;
	s = show(PRINT_WF_START, wire_root(&R), v);
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
	v = (struct view) { .prog = "ledge workflow stop" };
	s = show(PRINT_WF_STOP, parsed(), v);
	cr_expect_eq(s.rc, 1);
	cr_expect_str_eq(s.err,
	    "ledge workflow stop: the orchestrator refused (not-found)\n");
	shown_free(&s);
	fini_reply();
	x = w();
	wire_array(x, 0);
	v.url = "tcp://h:1";
	s = show(PRINT_WF_STOP, parsed(), v);
	cr_expect_eq(s.rc, 1);
	cr_expect_str_eq(s.err,
	    "ledge workflow stop: the orchestrator at tcp://h:1 sent a reply "
	    "that is not a map\n");
	shown_free(&s);
}
