/*
 * orc_place_test.c - placing a workflow's parts on the nodes of a domain
 * (runtime/orc/orc_place.h): every constraint with the exact reason a user
 * reads when no node fits, parts kept where they are unless their node
 * stops fitting, spreading by load per core, code per architecture,
 * resources beside their function, state replicas, determinism.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>

#include "orc/orc_place.h"
#include "resources/resources.h"

#define MAXN 8

/* A domain built test by test; the strings are literals. */
static struct orc_place_node nodes[MAXN];
static const char *keys[MAXN][4], *vals[MAXN][4], *offered[MAXN][4];
static size_t nnodes;

static struct diag d;
static struct workflow *wf;
static struct orc_place_choice *out;
static size_t nout;

static void
setup(void)
{
	diag_init(&d);
	memset(nodes, 0, sizeof nodes);
	nnodes = 0;
	wf = NULL;
	out = NULL;
	nout = 0;
}

static void
teardown(void)
{
	orc_place_choices_free(out, nout);
	free(out);
	wf_free(wf);
	diag_fini(&d);
}

TestSuite(orc_place, .init = setup, .fini = teardown);

/* Add an up node with no labels; returns its index. */
static size_t
node(const char *name, const char *arch, int cores, unsigned instances)
{
	size_t i = nnodes++;

	cr_assert_lt(i, MAXN);
	nodes[i] = (struct orc_place_node) { .name = name,
		.arch = arch,
		.cores = cores,
		.instances = instances,
		.up = true,
		.label_keys = keys[i],
		.label_values = vals[i],
		.resources = offered[i] };
	return i;
}

static void
label(size_t i, const char *k, const char *v)
{
	cr_assert_lt(nodes[i].nlabels, 4);
	keys[i][nodes[i].nlabels] = k;
	vals[i][nodes[i].nlabels++] = v;
}

static void
offer(size_t i, const char *type)
{
	cr_assert_lt(nodes[i].nresources, 4);
	offered[i][nodes[i].nresources++] = type;
}

static const char *
machine(void)
{
	static struct utsname u;

	uname(&u);
	return u.machine;
}

static void
load(const char *text)
{
	wf_free(wf);
	wf = wf_load_mem(
	    "t.yaml", text, strlen(text), res_types(), NULL, NULL, &d);
	cr_assert_not_null(wf, "%s", d.count ? d.items[0].text : "");
}

/* Replace the architectures of a per-arch function's code. */
static void
set_code_arch(const char *fn, const char *a0, const char *a1)
{
	struct wf_function *f = (struct wf_function *)wf_find_function(wf, fn);

	cr_assert_not_null(f);
	cr_assert_eq(f->ncode_arch, 2);
	free(f->code_arch[0]);
	free(f->code_arch[1]);
	f->code_arch[0] = strdup(a0);
	f->code_arch[1] = strdup(a1);
	cr_assert(f->code_arch[0] != NULL && f->code_arch[1] != NULL);
}

/* Place the loaded workflow on the domain; asserts success. */
static void
place(const struct orc_place_current *current)
{
	orc_place_choices_free(out, nout);
	free(out);
	nout = orc_place_nparts(wf);
	out = calloc(nout + 1, sizeof *out);
	cr_assert_not_null(out);
	cr_assert_eq(
	    orc_place_workflow(wf, nodes, nnodes, current, out), LEDGE_OK);
}

/* Index of a part by name: functions first, then resources. */
static size_t
part(const char *name)
{
	for (size_t i = 0; i < wf->nfunctions; i++) {
		if (strcmp(wf->functions[i].name, name) == 0) {
			return i;
		}
	}
	for (size_t i = 0; i < wf->nresources; i++) {
		if (strcmp(wf->resources[i].name, name) == 0) {
			return wf->nfunctions + i;
		}
	}
	cr_assert_fail("no part '%s'", name);
	return 0;
}

/* The node name chosen for a part, or "-" when unplaced. */
static const char *
where(const char *name)
{
	int n = out[part(name)].node;

	return n >= 0 ? nodes[n].name : "-";
}

static const char *
why(const char *name)
{
	const char *w = out[part(name)].why;

	return w != NULL ? w : "(none)";
}

/* Assert the part is unplaced with exactly this reason. */
static void
expect_why(const char *name, const char *text)
{
	cr_assert_str_eq(where(name), "-", "%s placed", name);
	cr_assert_str_eq(why(name), text);
}

/* Assert the part is on `node`, with no note. */
static void
expect_on(const char *name, const char *node_name)
{
	cr_assert_str_eq(where(name), node_name, "%s: %s", name, why(name));
	cr_assert_null(out[part(name)].why, "%s", why(name));
}

/* The replicas of a part as "b,c". */
static const char *
replicas(const char *name)
{
	static char buf[256];
	const struct orc_place_choice *c = &out[part(name)];
	size_t len = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < c->nreplicas; i++) {
		len += (size_t)snprintf(buf + len, sizeof buf - len, "%s%s",
		    i > 0 ? "," : "", nodes[c->replicas[i]].name);
	}
	return buf;
}

static const char one_fn[] = "workflow: w\n"
                             "functions:\n"
                             "  f: {code: /x.so}\n";

/* ------------------------------------------------------------------ */
/* Basics                                                              */

Test(orc_place, one_function_one_node)
{
	node("a", "x86_64", 2, 0);
	load(one_fn);
	cr_assert_eq(orc_place_nparts(wf), 1);
	place(NULL);
	expect_on("f", "a");
	cr_assert_eq(out[0].nreplicas, 0);
	cr_assert_null(out[0].replicas);
}

Test(orc_place, parts_in_order_functions_then_resources)
{
	node("a", "x86_64", 1, 0);
	load("workflow: w\n"
	     "functions:\n"
	     "  f: {code: /x.so}\n"
	     "  g: {code: /x.so}\n"
	     "resources:\n"
	     "  t: {type: timer, config: {period_ms: 10}, outputs: {tick: "
	     "g}}\n");
	cr_assert_eq(orc_place_nparts(wf), 3);
	cr_assert_eq(part("t"), 2);
	place(NULL);
	for (size_t i = 0; i < 3; i++) {
		cr_assert_eq(out[i].node, 0);
	}
}

/* ------------------------------------------------------------------ */
/* Labels                                                              */

Test(orc_place, missing_label)
{
	size_t a = node("a", "x86_64", 1, 0);

	node("b", "x86_64", 1, 0);
	label(a, "zone", "south");
	load("workflow: w\n"
	     "functions:\n"
	     "  filter:\n"
	     "    code: /x.so\n"
	     "    placement: {labels: {zone: north}}\n");
	place(NULL);
	expect_why("filter",
	    "filter: no node has label zone=north; nodes: a (zone=south), b "
	    "(no labels)");
}

Test(orc_place, several_labels_and_a_lost_node)
{
	size_t a = node("a", "x86_64", 1, 0);
	size_t b = node("b", "x86_64", 1, 0);
	size_t c = node("c", "x86_64", 1, 0);

	label(a, "zone", "north");
	label(b, "tier", "edge");
	label(c, "zone", "north");
	label(c, "tier", "edge");
	nodes[c].up = false;
	load("workflow: w\n"
	     "functions:\n"
	     "  filter:\n"
	     "    code: /x.so\n"
	     "    placement: {labels: {zone: north, tier: edge}}\n");
	place(NULL);
	expect_why("filter",
	    "filter: no node has labels zone=north, tier=edge; nodes: a "
	    "(zone=north), b (tier=edge); c is lost");

	/* Back up: the only node with both labels takes it, loaded or not. */
	nodes[c].up = true;
	nodes[c].instances = 50;
	place(NULL);
	expect_on("filter", "c");
}

Test(orc_place, label_value_must_match)
{
	size_t a = node("a", "x86_64", 1, 0);
	size_t b = node("b", "x86_64", 1, 9);

	label(a, "zone", "south");
	label(b, "zone", "north");
	label(b, "gpu", "yes");
	load("workflow: w\n"
	     "functions:\n"
	     "  filter:\n"
	     "    code: /x.so\n"
	     "    placement: {labels: {zone: north}}\n");
	place(NULL);
	expect_on("filter", "b");
}

/* ------------------------------------------------------------------ */
/* A named node                                                        */

static const char named_c[] = "workflow: w\n"
                              "functions:\n"
                              "  filter:\n"
                              "    code: /x.so\n"
                              "    placement: {node: c}\n";

Test(orc_place, named_node_absent)
{
	node("a", "x86_64", 1, 0);
	node("b", "x86_64", 1, 0);
	load(named_c);
	place(NULL);
	expect_why(
	    "filter", "filter: node 'c' is not in the domain (nodes: a, b)");
}

Test(orc_place, named_node_lost_or_draining)
{
	size_t c;

	node("a", "x86_64", 1, 0);
	c = node("c", "x86_64", 1, 0);
	nodes[c].up = false;
	load(named_c);
	place(NULL);
	expect_why("filter", "filter: node 'c' is lost");

	nodes[c].up = true;
	nodes[c].draining = true;
	place(NULL);
	expect_why("filter", "filter: node 'c' is draining");

	/* A lost node that was also draining is reported lost. */
	nodes[c].up = false;
	place(NULL);
	expect_why("filter", "filter: node 'c' is lost");
}

Test(orc_place, named_node_taken_even_if_loaded)
{
	node("a", "x86_64", 8, 0);
	node("c", "x86_64", 1, 40);
	load(named_c);
	place(NULL);
	expect_on("filter", "c");
}

Test(orc_place, named_node_that_does_not_fit)
{
	size_t c;

	node("a", "x86_64", 1, 0);
	c = node("c", "x86_64", 1, 0);
	label(c, "zone", "south");
	load("workflow: w\n"
	     "functions:\n"
	     "  filter:\n"
	     "    code: /x.so\n"
	     "    placement: {node: c, labels: {zone: north}}\n"
	     "  arm:\n"
	     "    code: /x.so\n"
	     "    placement: {node: c, arch: aarch64}\n"
	     "  api:\n"
	     "    code: /x.so\n"
	     "    placement: {node: c, resources: [http-ingress]}\n"
	     "  all:\n"
	     "    code: /x.so\n"
	     "    placement:\n"
	     "      node: c\n"
	     "      labels: {zone: north}\n"
	     "      arch: aarch64\n"
	     "      resources: [http-ingress]\n");
	place(NULL);
	expect_why("filter", "filter: node 'c' lacks zone=north");
	expect_why("arm", "arm: node 'c' is x86_64, not aarch64");
	expect_why("api",
	    "api: node 'c' lacks http-ingress (not started with --http)");
	expect_why("all",
	    "all: node 'c' lacks zone=north, http-ingress (not started with "
	    "--http) and is x86_64, not aarch64");
}

/* ------------------------------------------------------------------ */
/* Architecture and code per architecture                              */

Test(orc_place, architecture)
{
	node("a", "x86_64", 1, 0);
	node("b", "x86_64", 1, 0);
	load("workflow: w\n"
	     "functions:\n"
	     "  filter:\n"
	     "    code: /x.so\n"
	     "    placement: {arch: aarch64}\n");
	place(NULL);
	expect_why("filter",
	    "filter: no node runs aarch64 (nodes: a x86_64, b x86_64)");

	node("c", "aarch64", 1, 7);
	node("d", NULL, 4, 0);
	place(NULL);
	expect_on("filter", "c");
}

Test(orc_place, code_per_architecture)
{
	char text[512];

	node("a", "x86_64", 1, 0);
	snprintf(text, sizeof text,
	    "workflow: w\n"
	    "functions:\n"
	    "  filter:\n"
	    "    code: {%s: /x.so, riscv: /y.so}\n",
	    machine());
	load(text);
	set_code_arch("filter", "aarch64", "riscv");
	place(NULL);
	expect_why("filter",
	    "filter: code exists for aarch64, riscv only (nodes: a x86_64)");

	/* A node of one of the code's architectures fits, however loaded;
	 * one of unknown architecture never does. */
	node("b", "riscv", 1, 9);
	node("c", NULL, 1, 0);
	place(NULL);
	expect_on("filter", "b");
}

Test(orc_place, code_per_architecture_spreads_among_its_archs)
{
	char text[512];

	node("a", "aarch64", 1, 1);
	node("b", "x86_64", 1, 0);
	node("c", "mips", 1, 0);
	snprintf(text, sizeof text,
	    "workflow: w\n"
	    "functions:\n"
	    "  f: {code: {%s: /x.so, other: /y.so}}\n"
	    "  g: {code: {%s: /x.so, other: /y.so}}\n",
	    machine(), machine());
	load(text);
	set_code_arch("f", "x86_64", "aarch64");
	set_code_arch("g", "x86_64", "aarch64");
	place(NULL);
	expect_on("f", "b");
	expect_on("g", "a"); /* a 1 vs b 1: tie by name */
}

Test(orc_place, arch_the_code_does_not_have)
{
	char text[512];

	node("a", "riscv", 1, 0);
	snprintf(text, sizeof text,
	    "workflow: w\n"
	    "functions:\n"
	    "  filter:\n"
	    "    code: {%s: /x.so, other: /y.so}\n"
	    "    placement: {arch: riscv}\n",
	    machine());
	load(text);
	set_code_arch("filter", "x86_64", "aarch64");
	place(NULL);
	expect_why("filter",
	    "filter: placement asks for riscv but code exists for x86_64, "
	    "aarch64 only");
}

/* ------------------------------------------------------------------ */
/* Resource types a function needs                                     */

static const char needs_ingress[] = "workflow: w\n"
                                    "functions:\n"
                                    "  api:\n"
                                    "    code: /x.so\n"
                                    "    placement: {resources: "
                                    "[http-ingress]}\n";

Test(orc_place, needed_resource_type)
{
	size_t c;

	node("a", "x86_64", 1, 0);
	load(needs_ingress);
	place(NULL);
	expect_why("api",
	    "api: http-ingress needs a node started with --http (nodes: a has "
	    "none)");

	node("b", "x86_64", 1, 0);
	place(NULL);
	expect_why("api",
	    "api: http-ingress needs a node started with --http (nodes: a, b "
	    "have none)");

	c = node("c", "x86_64", 1, 5);
	offer(c, "http-ingress");
	place(NULL);
	expect_on("api", "c");
}

Test(orc_place, types_every_node_offers)
{
	node("a", "x86_64", 1, 0);
	load("workflow: w\n"
	     "functions:\n"
	     "  f:\n"
	     "    code: /x.so\n"
	     "    placement: {resources: [timer, file-log, http-egress]}\n");
	place(NULL);
	expect_on("f", "a");
}

Test(orc_place, lost_node_named_beside_the_nodes_without_the_type)
{
	size_t c;

	node("a", "x86_64", 1, 0);
	node("b", "x86_64", 1, 0);
	c = node("c", "x86_64", 1, 0);
	offer(c, "http-ingress");
	nodes[c].up = false;
	load(needs_ingress);
	place(NULL);
	expect_why("api",
	    "api: http-ingress needs a node started with --http (nodes: a, b "
	    "have none; c is lost)");
}

/* ------------------------------------------------------------------ */
/* Nothing up                                                          */

Test(orc_place, empty_domain)
{
	load("workflow: w\n"
	     "functions:\n"
	     "  filter: {code: /x.so}\n"
	     "resources:\n"
	     "  t: {type: timer, config: {period_ms: 10}}\n");
	place(NULL);
	expect_why("filter", "filter: no node is up");
	expect_why("t", "t: no node is up");
}

Test(orc_place, all_lost_or_draining)
{
	size_t a = node("a", "x86_64", 1, 0);
	size_t b = node("b", "x86_64", 1, 0);

	nodes[a].up = false;
	nodes[b].draining = true;
	load("workflow: w\n"
	     "functions:\n"
	     "  filter: {code: /x.so}\n"
	     "resources:\n"
	     "  t: {type: timer, config: {period_ms: 10}}\n");
	place(NULL);
	expect_why("filter",
	    "filter: no node is up (nodes: a is lost, b is draining)");
	expect_why("t", "t: no node is up (nodes: a is lost, b is draining)");
}

Test(orc_place, lost_and_draining_nodes_excluded)
{
	size_t a = node("a", "x86_64", 4, 0);
	size_t b = node("b", "x86_64", 4, 0);

	node("c", "x86_64", 1, 3);
	nodes[a].up = false;
	nodes[b].draining = true;
	load("workflow: w\n"
	     "functions:\n"
	     "  f: {code: /x.so}\n"
	     "  g: {code: /x.so}\n"
	     "resources:\n"
	     "  t: {type: timer, config: {period_ms: 10}}\n");
	place(NULL);
	expect_on("f", "c");
	expect_on("g", "c");
	expect_on("t", "c");
}

/* ------------------------------------------------------------------ */
/* Several constraints failing on different nodes                      */

Test(orc_place, each_node_says_what_it_lacks)
{
	size_t a = node("a", "aarch64", 1, 0);
	size_t b = node("b", "x86_64", 1, 0);
	size_t c;

	label(a, "tier", "edge");
	label(b, "zone", "north");
	load("workflow: w\n"
	     "functions:\n"
	     "  filter:\n"
	     "    code: /x.so\n"
	     "    placement: {labels: {zone: north}, arch: aarch64}\n");
	place(NULL);
	expect_why("filter",
	    "filter: no node has label zone=north and runs aarch64 (nodes: a "
	    "lacks zone=north, b is x86_64)");

	c = node("c", "aarch64", 1, 0);
	label(c, "zone", "north");
	nodes[c].draining = true;
	place(NULL);
	expect_why("filter",
	    "filter: no node has label zone=north and runs aarch64 (nodes: a "
	    "lacks zone=north, b is x86_64; c is draining)");
}

Test(orc_place, labels_types_and_arch_together)
{
	size_t a = node("a", "x86_64", 1, 0);
	size_t b = node("b", "x86_64", 1, 0);

	offer(a, "http-ingress");
	label(b, "zone", "north");
	load("workflow: w\n"
	     "functions:\n"
	     "  api:\n"
	     "    code: /x.so\n"
	     "    placement:\n"
	     "      labels: {zone: north}\n"
	     "      arch: x86_64\n"
	     "      resources: [http-ingress]\n"
	     "  arm:\n"
	     "    code: /x.so\n"
	     "    placement:\n"
	     "      labels: {zone: north}\n"
	     "      arch: aarch64\n"
	     "      resources: [http-ingress]\n");
	place(NULL);
	expect_why("api",
	    "api: no node has label zone=north and offers http-ingress (nodes: "
	    "a lacks zone=north, b lacks http-ingress)");
	expect_why("arm",
	    "arm: no node has label zone=north and runs aarch64 and offers "
	    "http-ingress (nodes: a lacks zone=north and is x86_64, b lacks "
	    "http-ingress and is x86_64)");
}

Test(orc_place, no_node_offers_every_type)
{
	size_t a = node("a", "x86_64", 1, 0);
	size_t b = node("b", "x86_64", 1, 0);

	offer(a, "http-ingress");
	offer(b, "mqtt");
	load(needs_ingress);
	/* Types are checked when loading; ask for a second one here. */
	{
		struct wf_placement *pl =
		    &((struct wf_function *)wf_find_function(wf, "api"))
		         ->placement;
		char **r = realloc(pl->resources, 3 * sizeof *r);

		cr_assert_not_null(r);
		pl->resources = r;
		r[1] = strdup("mqtt");
		r[2] = NULL;
		cr_assert_not_null(r[1]);
		pl->nresources = 2;
	}
	place(NULL);
	expect_why("api",
	    "api: no node offers http-ingress, mqtt (nodes: a lacks mqtt, b "
	    "lacks http-ingress)");
}

/* ------------------------------------------------------------------ */
/* One failure does not stop the rest                                  */

Test(orc_place, others_placed_despite_a_failure)
{
	node("a", "x86_64", 1, 0);
	node("b", "x86_64", 1, 0);
	load("workflow: w\n"
	     "functions:\n"
	     "  bad:\n"
	     "    code: /x.so\n"
	     "    placement: {labels: {zone: north}}\n"
	     "    outputs: {out: log}\n"
	     "  good: {code: /x.so}\n"
	     "resources:\n"
	     "  t: {type: timer, config: {period_ms: 10}, outputs: {tick: "
	     "bad}}\n"
	     "  log: {type: file-log, config: {path: /tmp/l}}\n");
	place(NULL);
	cr_assert_str_eq(where("bad"), "-");
	expect_on("good", "a");
	/* The resources of the unplaced function go where load is least. */
	expect_on("t", "b");
	expect_on("log", "a");
}

/* ------------------------------------------------------------------ */
/* Stability                                                           */

static const char three_fns[] = "workflow: w\n"
                                "functions:\n"
                                "  f: {code: /x.so}\n"
                                "  g: {code: /x.so}\n"
                                "  h: {code: /x.so}\n";

Test(orc_place, kept_where_it_is)
{
	struct orc_place_current cur[3] = { { .node = "a" }, { .node = "a" },
		{ .node = "c" } };

	node("a", "x86_64", 1, 9);
	node("b", "x86_64", 1, 0);
	node("c", "x86_64", 1, 4);
	load(three_fns);
	place(cur);
	expect_on("f", "a");
	expect_on("g", "a");
	expect_on("h", "c");
}

Test(orc_place, moved_only_when_its_node_stops_fitting)
{
	struct orc_place_current cur[3] = { { .node = "a" }, { .node = "b" },
		{ .node = "c" } };
	size_t a = node("a", "x86_64", 1, 1);
	size_t b = node("b", "x86_64", 1, 1);
	size_t c = node("c", "x86_64", 1, 1);

	node("d", "x86_64", 1, 2);
	node("e", "x86_64", 1, 3);
	load(three_fns);

	nodes[a].up = false;
	place(cur);
	expect_on("f", "b"); /* b 1 (g), c 1 (h), d 2, e 3 */
	expect_on("g", "b");
	expect_on("h", "c");

	nodes[a].up = true;
	nodes[b].draining = true;
	place(cur);
	expect_on("f", "a");
	expect_on("g", "a"); /* a 1 (f), c 1 (h), d 2, e 3 */
	expect_on("h", "c");

	/* A node the domain no longer has counts as lost. */
	nodes[b].draining = false;
	cur[2].node = "gone";
	nodes[c].instances = 0;
	place(cur);
	expect_on("f", "a");
	expect_on("g", "b");
	expect_on("h", "c");
}

Test(orc_place, moved_when_the_workflow_changed)
{
	struct orc_place_current cur[1] = { { .node = "a" } };
	size_t b;

	node("a", "x86_64", 1, 1);
	b = node("b", "x86_64", 1, 6);
	label(b, "zone", "north");
	load("workflow: w\n"
	     "functions:\n"
	     "  f:\n"
	     "    code: /x.so\n"
	     "    placement: {labels: {zone: north}}\n");
	place(cur);
	expect_on("f", "b");
}

Test(orc_place, its_own_parts_not_counted_twice)
{
	/* a's 2 instances are f and g of this workflow; b runs 3 others. */
	struct orc_place_current cur[3] = { { .node = "a" }, { .node = "a" },
		{ .node = NULL } };

	node("a", "x86_64", 1, 2);
	node("b", "x86_64", 1, 3);
	load(three_fns);
	place(cur);
	expect_on("f", "a");
	expect_on("g", "a");
	expect_on("h", "a");
}

/* ------------------------------------------------------------------ */
/* Spreading by load                                                   */

static const char six_fns[] = "workflow: w\n"
                              "functions:\n"
                              "  f1: {code: /x.so}\n"
                              "  f2: {code: /x.so}\n"
                              "  f3: {code: /x.so}\n"
                              "  f4: {code: /x.so}\n"
                              "  f5: {code: /x.so}\n"
                              "  f6: {code: /x.so}\n";

Test(orc_place, spread_across_three_nodes)
{
	node("c", "x86_64", 1, 0);
	node("a", "x86_64", 1, 0);
	node("b", "x86_64", 1, 0);
	load(six_fns);
	place(NULL);
	expect_on("f1", "a");
	expect_on("f2", "b");
	expect_on("f3", "c");
	expect_on("f4", "a");
	expect_on("f5", "b");
	expect_on("f6", "c");
}

Test(orc_place, spread_counts_other_workflows)
{
	node("a", "x86_64", 1, 2);
	node("b", "x86_64", 1, 0);
	node("c", "x86_64", 1, 1);
	load(three_fns);
	place(NULL);
	expect_on("f", "b"); /* a 2, b 0, c 1 */
	expect_on("g", "b"); /* a 2, b 1, c 1: b by name */
	expect_on("h", "c"); /* a 2, b 2, c 1 */
}

Test(orc_place, spread_by_cores)
{
	node("a", "x86_64", 4, 0);
	node("b", "x86_64", 1, 0);
	node("c", "x86_64", 0, 0); /* unknown: one core */
	load(six_fns);
	place(NULL);
	expect_on("f1", "a");
	expect_on("f2", "b");
	expect_on("f3", "c");
	expect_on("f4", "a"); /* 1/4 < 1 */
	expect_on("f5", "a"); /* 2/4 */
	expect_on("f6", "a"); /* 3/4 */
}

Test(orc_place, kept_parts_count_before_new_ones)
{
	/* h stays on b, so the new f and g go to a and c. */
	struct orc_place_current cur[3] = { { .node = NULL }, { .node = NULL },
		{ .node = "b" } };

	node("a", "x86_64", 1, 0);
	node("b", "x86_64", 1, 1);
	node("c", "x86_64", 1, 0);
	load(three_fns);
	place(cur);
	expect_on("f", "a");
	expect_on("g", "c");
	expect_on("h", "b");
}

/* ------------------------------------------------------------------ */
/* Resources                                                           */

Test(orc_place, ingress_beside_its_function)
{
	size_t a = node("a", "x86_64", 1, 0);
	size_t c = node("c", "x86_64", 1, 5);

	node("b", "x86_64", 1, 0);
	offer(a, "http-ingress");
	offer(c, "http-ingress");
	load("workflow: w\n"
	     "functions:\n"
	     "  f:\n"
	     "    code: /x.so\n"
	     "    placement: {node: c}\n"
	     "  g:\n"
	     "    code: /x.so\n"
	     "    placement: {node: b}\n"
	     "resources:\n"
	     "  api: {type: http-ingress, config: {path: /f}, outputs: "
	     "{request: f}}\n"
	     "  api2: {type: http-ingress, config: {path: /g}, outputs: "
	     "{request: g}}\n");
	place(NULL);
	expect_on("f", "c");
	expect_on("api", "c");
	/* b has no --http: the least loaded node that has. */
	expect_on("g", "b");
	expect_on("api2", "a");
}

Test(orc_place, ingress_without_any_http_node)
{
	node("a", "x86_64", 1, 0);
	node("b", "x86_64", 1, 0);
	load("workflow: w\n"
	     "functions:\n"
	     "  f: {code: /x.so}\n"
	     "resources:\n"
	     "  api: {type: http-ingress, config: {path: /f}, outputs: "
	     "{request: f}}\n");
	place(NULL);
	expect_on("f", "a");
	expect_why("api",
	    "api: http-ingress needs a node started with --http (nodes: a, b "
	    "have none)");
}

Test(orc_place, timer_and_sinks_follow_their_functions)
{
	node("a", "x86_64", 1, 0);
	node("b", "x86_64", 1, 0);
	node("c", "x86_64", 1, 0);
	load("workflow: w\n"
	     "functions:\n"
	     "  f:\n"
	     "    code: /x.so\n"
	     "    placement: {node: c}\n"
	     "  g:\n"
	     "    code: /x.so\n"
	     "    placement: {node: b}\n"
	     "    outputs: {out: log, err: egress}\n"
	     "  h:\n"
	     "    code: /x.so\n"
	     "    placement: {node: c}\n"
	     "    outputs: {out: [log, egress]}\n"
	     "resources:\n"
	     "  tick: {type: timer, config: {period_ms: 10}, outputs: {tick: "
	     "f}}\n"
	     "  log: {type: file-log, config: {path: /tmp/l}}\n"
	     "  egress: {type: http-egress, config: {url: "
	     "'http://127.0.0.1:9/'}}\n"
	     "  lone: {type: timer, config: {period_ms: 10}}\n");
	place(NULL);
	expect_on("tick", "c");
	expect_on("log", "b");    /* g is the first to name it */
	expect_on("egress", "b"); /* likewise */
	/* Wired to nothing: the least loaded (a 0, b 3, c 3). */
	expect_on("lone", "a");
}

Test(orc_place, resource_kept_or_moved)
{
	struct orc_place_current cur[3] = { { .node = "c" }, { .node = "a" },
		{ .node = "b" } };
	size_t b;

	node("a", "x86_64", 1, 0);
	b = node("b", "x86_64", 1, 0);
	node("c", "x86_64", 1, 0);
	load("workflow: w\n"
	     "functions:\n"
	     "  f: {code: /x.so}\n"
	     "resources:\n"
	     "  t: {type: timer, config: {period_ms: 10}, outputs: {tick: "
	     "f}}\n"
	     "  u: {type: timer, config: {period_ms: 10}, outputs: {tick: "
	     "f}}\n");
	place(cur);
	expect_on("f", "c");
	expect_on("t", "a"); /* still fits where it is */
	expect_on("u", "b");

	nodes[b].up = false;
	place(cur);
	expect_on("u", "c"); /* moves to its function */
}

/* ------------------------------------------------------------------ */
/* State replicas                                                      */

Test(orc_place, replicas_enough)
{
	node("a", "x86_64", 1, 0);
	node("b", "x86_64", 1, 3);
	node("c", "x86_64", 1, 1);
	node("d", "x86_64", 1, 2);
	load("workflow: w\n"
	     "functions:\n"
	     "  f:\n"
	     "    code: /x.so\n"
	     "    state: {replicas: 2}\n");
	place(NULL);
	expect_on("f", "a");
	cr_assert_eq(out[0].nreplicas, 2);
	cr_assert_str_eq(replicas("f"), "c,d");
}

Test(orc_place, replicas_too_few)
{
	size_t a = node("a", "x86_64", 1, 0);
	size_t b = node("b", "x86_64", 1, 0);
	size_t c = node("c", "x86_64", 1, 0);
	size_t dn = node("d", "x86_64", 1, 0);

	label(a, "zone", "north");
	label(b, "zone", "north");
	label(c, "zone", "south");
	label(dn, "zone", "north");
	nodes[dn].up = false;
	load("workflow: w\n"
	     "functions:\n"
	     "  f:\n"
	     "    code: /x.so\n"
	     "    placement: {labels: {zone: north}}\n"
	     "    state: {replicas: 2}\n");
	place(NULL);
	cr_assert_str_eq(where("f"), "a");
	cr_assert_str_eq(replicas("f"), "b");
	cr_assert_str_eq(why("f"),
	    "f: 1 of 2 state replicas placed (no other node fits: c lacks "
	    "zone=north; d is lost)");
}

Test(orc_place, replicas_on_a_single_node)
{
	node("a", "x86_64", 1, 0);
	load("workflow: w\n"
	     "functions:\n"
	     "  f:\n"
	     "    code: /x.so\n"
	     "    state: {replicas: 1}\n");
	place(NULL);
	cr_assert_str_eq(where("f"), "a");
	cr_assert_eq(out[0].nreplicas, 0);
	cr_assert_null(out[0].replicas);
	cr_assert_str_eq(why("f"),
	    "f: 0 of 1 state replica placed (the domain has no other node)");
}

Test(orc_place, replicas_of_a_pinned_function)
{
	node("a", "x86_64", 1, 0);
	node("b", "x86_64", 1, 0);
	load("workflow: w\n"
	     "functions:\n"
	     "  f:\n"
	     "    code: /x.so\n"
	     "    placement: {node: b}\n"
	     "    state: {replicas: 1}\n");
	place(NULL);
	expect_on("f", "b");
	cr_assert_str_eq(replicas("f"), "a");
}

Test(orc_place, replicas_kept_and_promoted)
{
	const char *const was[] = { "c" };
	struct orc_place_current cur[1] = { { .node = "a",
	    .nreplicas = 1,
	    .replicas = was,
	    .nsync = 1,
	    .sync = was } };
	size_t a = node("a", "x86_64", 1, 1);

	node("b", "x86_64", 1, 0);
	node("c", "x86_64", 1, 2);
	load("workflow: w\n"
	     "functions:\n"
	     "  f:\n"
	     "    code: /x.so\n"
	     "    state: {replicas: 1}\n");
	place(cur);
	expect_on("f", "a");
	cr_assert_str_eq(replicas("f"), "c"); /* not b, though lighter */

	/* a is lost: f starts where its state is, and b takes the copy. */
	nodes[a].up = false;
	place(cur);
	expect_on("f", "c");
	cr_assert_str_eq(replicas("f"), "b");
}

Test(orc_place, a_lost_function_waits_for_its_node_when_no_replica_is_in_sync)
{
	const char *const was[] = { "c" };
	struct orc_place_current cur[1] = {
		{ .node = "a", .nreplicas = 1, .replicas = was }
	};
	size_t a = node("a", "x86_64", 1, 1);

	node("b", "x86_64", 1, 0);
	node("c", "x86_64", 1, 2);
	load("workflow: w\n"
	     "functions:\n"
	     "  f:\n"
	     "    code: /x.so\n"
	     "    state: {replicas: 1}\n");
	/* c has a copy, but not every acknowledged write: f waits for a
	 * (neither c nor b, which has nothing). */
	nodes[a].up = false;
	place(cur);
	cr_assert_eq(out[part("f")].node, -1);
	cr_assert(out[part("f")].wait);
	cr_assert_str_eq(why("f"),
	    "f: waiting for node a to come back: no replica holds every "
	    "write it acknowledged, so starting it elsewhere would lose some");

	/* With ack: primary a lost write is the price asked for: any
	 * replica takes over. */
	load("workflow: w\n"
	     "functions:\n"
	     "  f:\n"
	     "    code: /x.so\n"
	     "    state: {replicas: 1, ack: primary}\n");
	place(cur);
	expect_on("f", "c");
	cr_assert(!out[part("f")].wait);

	/* Without replicas the state was only on a: it restarts elsewhere
	 * (as documented: replicas: 0). */
	load(one_fn);
	place(cur);
	cr_assert_neq(out[part("f")].node, -1);
	cr_assert(!out[part("f")].wait);
}

/* ------------------------------------------------------------------ */
/* Determinism and errors                                              */

Test(orc_place, same_answer_whatever_the_node_order)
{
	static const char *const order[2][4] = { { "a", "b", "c", "d" },
		{ "d", "c", "b", "a" } };
	char first[256] = "";

	load("workflow: w\n"
	     "functions:\n"
	     "  f1: {code: /x.so, state: {replicas: 2}}\n"
	     "  f2: {code: /x.so}\n"
	     "  f3: {code: /x.so}\n"
	     "  f4: {code: /x.so}\n"
	     "  f5: {code: /x.so, state: {replicas: 1}}\n"
	     "resources:\n"
	     "  t: {type: timer, config: {period_ms: 10}}\n");
	for (int round = 0; round < 3; round++) {
		char got[256] = "";
		size_t len = 0;

		nnodes = 0;
		for (size_t i = 0; i < 4; i++) {
			node(order[round % 2][i], "x86_64", 1, 0);
		}
		place(NULL);
		for (size_t p = 0; p < nout; p++) {
			len += (size_t)snprintf(got + len, sizeof got - len,
			    "%s[", nodes[out[p].node].name);
			for (size_t r = 0; r < out[p].nreplicas; r++) {
				len += (size_t)snprintf(got + len,
				    sizeof got - len, "%s",
				    nodes[out[p].replicas[r]].name);
			}
			len +=
			    (size_t)snprintf(got + len, sizeof got - len, "] ");
		}
		if (round == 0) {
			memcpy(first, got, sizeof first);
		}
		cr_assert_str_eq(got, first);
	}
	cr_assert_str_eq(first, "a[bc] b[] c[] d[] a[b] b[] ");
}

Test(orc_place, invalid_arguments)
{
	struct orc_place_choice c[1] = { { .node = 7 } };

	node("a", "x86_64", 1, 0);
	node("a", "x86_64", 1, 0);
	load(one_fn);
	cr_assert_eq(orc_place_workflow(wf, nodes, 2, NULL, c), LEDGE_EINVAL);
	cr_assert_eq(c[0].node, -1);
	cr_assert_null(c[0].why);
	cr_assert_eq(orc_place_workflow(NULL, nodes, 1, NULL, c), LEDGE_EINVAL);
	cr_assert_eq(orc_place_workflow(wf, NULL, 1, NULL, c), LEDGE_EINVAL);
	cr_assert_eq(
	    orc_place_workflow(wf, nodes, 1, NULL, NULL), LEDGE_EINVAL);
	nodes[1].name = NULL;
	cr_assert_eq(orc_place_workflow(wf, nodes, 2, NULL, c), LEDGE_EINVAL);
	cr_assert_eq(orc_place_workflow(wf, nodes, 1, NULL, c), LEDGE_OK);
	cr_assert_eq(c[0].node, 0);
	orc_place_choices_free(c, 1);
	orc_place_choices_free(c, 1);
	orc_place_choices_free(NULL, 0);
	cr_assert_eq(c[0].node, -1);
}

/* How many slots of the keyed function `k` (the workflow's only
 * function) are on node i. */
static unsigned
slots_on(int i)
{
	unsigned n = 0;
	for (size_t s = 0; s < wf->nfunctions; s++) {
		n += out[s].node == i;
	}
	return n;
}

static const char keyed16[] = "workflow: w\n"
                              "functions:\n"
                              "  k: {code: /x.so, keyed: {slots: 16}}\n";

Test(orc_place, the_slots_of_a_keyed_function_are_spread)
{
	node("a", "x86_64", 1, 0);
	node("b", "x86_64", 1, 0);
	node("c", "x86_64", 1, 0);
	load(keyed16);
	cr_assert_eq(wf->nfunctions, 16);
	place(NULL);
	for (int i = 0; i < 3; i++) {
		cr_expect_leq(
		    slots_on(i), 6, "%s has %u", nodes[i].name, slots_on(i));
		cr_expect_geq(
		    slots_on(i), 5, "%s has %u", nodes[i].name, slots_on(i));
	}
}

Test(orc_place, a_node_joining_takes_about_its_share_of_slots_from_the_others)
{
	struct orc_place_current cur[16];
	int before[16];

	node("a", "x86_64", 1, 0);
	node("b", "x86_64", 1, 0);
	node("c", "x86_64", 1, 0);
	load(keyed16);
	place(NULL);
	for (size_t s = 0; s < 16; s++) {
		before[s] = out[s].node;
		cur[s] =
		    (struct orc_place_current) { .node =
			                             nodes[out[s].node].name };
	}
	/* Each node counts the slots it runs as load, as a real one does. */
	for (int i = 0; i < 3; i++) {
		nodes[i].instances = slots_on(i);
	}
	node("d", "x86_64", 1, 0);
	place(cur);
	unsigned moved = 0;
	for (size_t s = 0; s < 16; s++) {
		if (out[s].node != before[s]) {
			moved++;
			cr_expect_str_eq(nodes[out[s].node].name, "d",
			    "slot %zu moved between old nodes", s);
		}
	}
	for (int i = 0; i < 4; i++) {
		cr_expect_leq(
		    slots_on(i), 4, "%s has %u", nodes[i].name, slots_on(i));
	}
	cr_expect_eq(moved, 4, "16 slots over 4 nodes: 4 move to the new one");
	cr_expect_eq(slots_on(3), 4);
}

Test(orc_place, slots_stay_put_when_the_domain_does_not_change)
{
	struct orc_place_current cur[16];
	int before[16];

	node("a", "x86_64", 1, 0);
	node("b", "x86_64", 1, 0);
	load(keyed16);
	place(NULL);
	for (size_t s = 0; s < 16; s++) {
		before[s] = out[s].node;
		cur[s] =
		    (struct orc_place_current) { .node =
			                             nodes[out[s].node].name };
	}
	nodes[0].instances = slots_on(0);
	nodes[1].instances = slots_on(1);
	place(cur);
	for (size_t s = 0; s < 16; s++) {
		cr_expect_eq(out[s].node, before[s], "slot %zu moved", s);
	}
}

Test(orc_place, a_drained_node_gives_its_slots_to_the_others)
{
	struct orc_place_current cur[16];

	node("a", "x86_64", 1, 0);
	node("b", "x86_64", 1, 0);
	node("c", "x86_64", 1, 0);
	load(keyed16);
	place(NULL);
	for (size_t s = 0; s < 16; s++) {
		cur[s] =
		    (struct orc_place_current) { .node =
			                             nodes[out[s].node].name };
	}
	for (int i = 0; i < 3; i++) {
		nodes[i].instances = slots_on(i);
	}
	nodes[2].draining = true;
	place(cur);
	cr_expect_eq(slots_on(2), 0);
	cr_expect_eq(slots_on(0), 8);
	cr_expect_eq(slots_on(1), 8);
}

/* A drained node's slots go to their replicas' node by rule 4; they are
 * then spread, since their state can go anywhere from the drained node.
 * A lost node's slots stay with their replicas (their state is there). */
Test(orc_place, a_drained_nodes_slots_are_spread_a_lost_nodes_stay_with_state)
{
	static const char yaml[] = "workflow: w\n"
	                           "functions:\n"
	                           "  k:\n"
	                           "    code: /x.so\n"
	                           "    keyed: {slots: 12}\n"
	                           "    state: {replicas: 1}\n";
	struct orc_place_current cur[12];
	const char *rep[12][1];

	for (int round = 0; round < 2; round++) {
		nnodes = 0;
		node("a", "x86_64", 1, 3);
		node("b", "x86_64", 1, 3);
		node("c", "x86_64", 1, 3);
		node("d", "x86_64", 1, 3);
		load(yaml);
		/* 3 slots each; every slot of a has its replica on b */
		for (size_t s = 0; s < 12; s++) {
			static const char *const on[4] = { "a", "b", "c", "d" };
			rep[s][0] = s < 3 ? "b" : on[(s / 3 + 1) % 4];
			cur[s] = (struct orc_place_current) { .node = on[s / 3],
				.nreplicas = 1,
				.replicas = rep[s],
				.nsync = 1,
				.sync = rep[s] };
		}
		if (round == 0) {
			nodes[0].draining = true;
		} else {
			nodes[0].up = false;
		}
		place(cur);
		cr_expect_eq(slots_on(0), 0);
		if (round == 0) {
			for (int i = 1; i < 4; i++) {
				cr_expect_eq(slots_on(i), 4, "drain: %s has %u",
				    nodes[i].name, slots_on(i));
			}
		} else {
			cr_expect_eq(slots_on(1), 6,
			    "lost: a's slots go where their state is");
		}
	}
}
