/*
 * workflow_test.c - loading and validating workflow YAML: the fields of a
 * valid workflow, and the exact message (with line:col) of each error.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "resources/resources.h"
#include "workflow/workflow.h"

/*
 * The source tree's fixtures: meson sets LEDGE_SRC; a manual build runs
 * from the top of the checkout.
 */
static void
fixture_dir(char *buf, size_t size)
{
	const char *src = getenv("LEDGE_SRC");

	snprintf(
	    buf, size, "%s/tests/fixtures/workflows", src != NULL ? src : ".");
}

static struct diag d;

static void
setup(void)
{
	diag_init(&d);
}

static void
teardown(void)
{
	diag_fini(&d);
}

TestSuite(workflow, .init = setup, .fini = teardown);

/* Records the paths it was asked about; rejects those ending in bad.so. */
struct checks {
	int calls;
	char paths[8][4300];
};

static int
code_check(void *arg, const char *path, char *err, size_t errlen)
{
	struct checks *c = arg;
	size_t n = strlen(path);

	if (c != NULL) {
		if (c->calls < 8) {
			snprintf(
			    c->paths[c->calls], sizeof c->paths[0], "%s", path);
		}
		c->calls++;
	}
	if (n >= 6 && strcmp(path + n - 6, "bad.so") == 0) {
		snprintf(err, errlen, "not an ELF file");
		return 1;
	}
	return 0;
}

static struct workflow *
load(const char *text)
{
	return wf_load_mem(
	    "demo.yaml", text, strlen(text), res_types(), code_check, NULL, &d);
}

/* Assert that loading failed with exactly these messages, in order. */
static void
expect(struct workflow *wf, const char *const *msgs, size_t n)
{
	for (size_t i = 0; i < d.count && i < d.cap; i++) {
		cr_log_info("diag %zu: %s", i, d.items[i].text);
	}
	cr_assert_null(wf, "the workflow should have been refused");
	cr_assert_eq(d.count, n, "expected %zu messages, got %zu", n, d.count);
	for (size_t i = 0; i < n; i++) {
		cr_assert_str_eq(d.items[i].text, msgs[i], "message %zu", i);
	}
}

#define EXPECT(wf, ...)                                                        \
	do {                                                                   \
		static const char *const msgs_[] = { __VA_ARGS__ };            \
		expect((wf), msgs_, sizeof msgs_ / sizeof msgs_[0]);           \
	} while (0)

static const char *
machine(void)
{
	static struct utsname u;

	uname(&u);
	return u.machine;
}

/* ------------------------------------------------------------------ */
/* Valid workflows                                                     */

Test(workflow, design_example_from_file)
{
	struct checks c = { 0 };
	char dir[4096];
	char path[4200];
	char want[4300];
	struct workflow *wf;
	const struct wf_function *f;
	const struct wf_resource *r;

	fixture_dir(dir, sizeof dir);
	snprintf(path, sizeof path, "%s/sensors.yaml", dir);
	wf = wf_load(path, res_types(), code_check, &c, &d);
	cr_assert_not_null(wf, "%s", d.count ? d.items[0].text : "");
	cr_assert_eq(d.count, 0);
	cr_assert_str_eq(wf->name, "sensors");
	cr_assert_str_eq(wf->file, path);
	cr_assert_str_eq(wf->dir, dir);
	cr_assert_eq(wf->nfunctions, 2);
	cr_assert_eq(wf->nresources, 3);

	f = wf_find_function(wf, "filter");
	cr_assert_not_null(f);
	cr_assert_str_eq(f->code, "filter_in_range.so");
	snprintf(want, sizeof want, "%s/filter_in_range.so", dir);
	cr_assert_str_eq(f->code_path, want);
	cr_assert_eq(f->code_pos.line, 4);
	cr_assert_eq(f->code_pos.col, 11);
	cr_assert_str_eq(wf_config_get(&f->config, "min"), "0");
	cr_assert_str_eq(wf_config_get(&f->config, "max"), "100");
	cr_assert_eq(f->noutputs, 2);
	cr_assert_str_eq(f->outputs[1].name, "error");
	cr_assert_str_eq(f->outputs[1].targets[0], "errors");
	cr_assert_eq(f->placement.nlabels, 1);
	cr_assert_str_eq(f->placement.label_keys[0], "zone");
	cr_assert_str_eq(f->placement.label_values[0], "north");

	r = wf_find_resource(wf, "sensor");
	cr_assert_not_null(r);
	cr_assert_str_eq(r->type, "timer");
	cr_assert_eq(r->pos.line, 13);
	cr_assert_eq(r->pos.col, 3);
	cr_assert_str_eq(wf_config_get(&r->config, "period_ms"), "100");
	cr_assert_str_eq(r->outputs[0].targets[0], "filter");
	cr_assert_null(wf_find_resource(wf, "filter"));
	cr_assert_null(wf_find_function(wf, "sensor"));

	cr_assert_eq(c.calls, 2);
	cr_assert_str_eq(c.paths[0], want);
	snprintf(want, sizeof want, "%s/moving_avg.so", dir);
	cr_assert_str_eq(c.paths[1], want);
	wf_free(wf);
}

static const char full_fmt[] =
    "workflow: sensors\n"
    "functions:\n"
    "  filter:\n"
    "    code: filter_in_range.so\n"
    "    config:\n"
    "      min: 0\n"
    "      max: 100\n"
    "      bounds: {low: -5, high: 5}\n"
    "      tags: [a, b]\n"
    "      nested: [{x: 1}, [p, q]]\n"
    "    outputs:\n"
    "      out: average\n"
    "      error: [errors, alerts]\n"
    "    placement:\n"
    "      labels: {zone: north, tier: edge}\n"
    "      node: edge-1\n"
    "      arch: x86_64\n"
    "      resources: [http-egress, timer]\n"
    "    state: {replicas: 2}\n"
    "    mailbox: 64\n"
    "  average:\n"
    "    code: {%s: avg-%s.so, other-arch: /opt/avg-other.so}\n"
    "    config: {window: 10}\n"
    "    outputs: {out: alerts}\n"
    "resources:\n"
    "  sensor:\n"
    "    type: timer\n"
    "    config: {period_ms: 100, jitter_ms: 5}\n"
    "    outputs: {tick: filter}\n"
    "  errors:\n"
    "    type: file-log\n"
    "    config: {path: errors.log, timestamp: off}\n"
    "  alerts:\n"
    "    type: http-egress\n"
    "    config: {url: 'http://127.0.0.1:9/', method: PUT}\n"
    "  api:\n"
    "    type: http-ingress\n"
    "    config: {path: /avg, methods: [GET, POST], mode: call}\n"
    "    outputs: {request: average}\n";

Test(workflow, full_workflow_fields)
{
	struct checks c = { 0 };
	char text[sizeof full_fmt + 200];
	char want[128];
	struct workflow *wf;
	const struct wf_function *f;
	const struct wf_function *avg;
	const struct wf_resource *api;
	const char *items[4];

	snprintf(text, sizeof text, full_fmt, machine(), machine());
	wf = wf_load_mem("/srv/flows/sensors.yaml", text, strlen(text),
	    res_types(), code_check, &c, &d);
	cr_assert_not_null(wf, "%s", d.count ? d.items[0].text : "");
	cr_assert_eq(d.count, 0);
	cr_assert_str_eq(wf->dir, "/srv/flows");
	cr_assert_eq(wf->name_pos.line, 1);
	cr_assert_eq(wf->name_pos.col, 11);

	f = &wf->functions[0];
	cr_assert_str_eq(f->name, "filter");
	cr_assert_eq(f->pos.line, 3);
	cr_assert_eq(f->pos.col, 3);
	cr_assert_str_eq(f->code_path, "/srv/flows/filter_in_range.so");
	cr_assert_eq(f->ncode_arch, 0);

	/* Flattened config, in document order, with positions. */
	cr_assert_eq(f->config.count, 9);
	cr_assert_str_eq(f->config.keys[2], "bounds.low");
	cr_assert_str_eq(f->config.values[2], "-5");
	cr_assert_eq(f->config.pos[2].line, 8);
	cr_assert_eq(f->config.pos[2].col, 21);
	cr_assert_str_eq(f->config.keys[4], "tags.0");
	cr_assert_str_eq(f->config.keys[5], "tags.1");
	cr_assert_str_eq(f->config.values[5], "b");
	cr_assert_str_eq(f->config.keys[6], "nested.0.x");
	cr_assert_str_eq(f->config.keys[8], "nested.1.1");
	cr_assert_str_eq(f->config.values[8], "q");
	cr_assert_eq(f->config.sdk.count, 9);
	cr_assert_eq(f->config.sdk.items, f->config.view);
	cr_assert_str_eq(f->config.view[3].key, "bounds.high");
	cr_assert_str_eq(f->config.view[3].value, "5");
	cr_assert_str_eq(wf_config_get(&f->config, "max"), "100");
	cr_assert_null(wf_config_get(&f->config, "bounds"));
	cr_assert_eq(wf_config_list(&f->config, "tags", items, 4), 2);
	cr_assert_str_eq(items[0], "a");
	cr_assert_str_eq(items[1], "b");
	cr_assert_eq(wf_config_list(&f->config, "tags", items, 1), 2);
	cr_assert_eq(wf_config_list(&f->config, "min", items, 4), 1);
	cr_assert_str_eq(items[0], "0");
	cr_assert_eq(wf_config_list(&f->config, "nested", items, 4), 0);
	cr_assert_eq(wf_config_list(&f->config, "absent", items, 4), 0);

	/* Outputs, one with several targets. */
	cr_assert_eq(f->noutputs, 2);
	cr_assert_str_eq(f->outputs[0].name, "out");
	cr_assert_eq(f->outputs[0].ntargets, 1);
	cr_assert_str_eq(f->outputs[0].targets[0], "average");
	cr_assert_eq(f->outputs[1].ntargets, 2);
	cr_assert_str_eq(f->outputs[1].targets[0], "errors");
	cr_assert_str_eq(f->outputs[1].targets[1], "alerts");
	cr_assert_eq(f->outputs[1].pos.line, 13);
	cr_assert_eq(f->outputs[1].pos.col, 7);
	cr_assert_eq(f->outputs[1].target_pos[1].line, 13);
	cr_assert_eq(f->outputs[1].target_pos[1].col, 23);

	/* Placement, state, mailbox. */
	cr_assert_eq(f->placement.nlabels, 2);
	cr_assert_str_eq(f->placement.label_keys[1], "tier");
	cr_assert_str_eq(f->placement.label_values[1], "edge");
	cr_assert_str_eq(f->placement.node, "edge-1");
	cr_assert_str_eq(f->placement.arch, "x86_64");
	cr_assert_eq(f->placement.nresources, 2);
	cr_assert_str_eq(f->placement.resources[1], "timer");
	cr_assert_eq(f->replicas, 2);
	cr_assert_eq(f->mailbox, 64);

	/* Code per architecture: this machine's is chosen, all are kept. */
	avg = wf_find_function(wf, "average");
	cr_assert_not_null(avg);
	snprintf(want, sizeof want, "avg-%s.so", machine());
	cr_assert_str_eq(avg->code, want);
	snprintf(want, sizeof want, "/srv/flows/avg-%s.so", machine());
	cr_assert_str_eq(avg->code_path, want);
	cr_assert_eq(avg->code_pos.line, 22);
	cr_assert_eq(avg->ncode_arch, 2);
	cr_assert_str_eq(avg->code_arch[0], machine());
	cr_assert_str_eq(avg->code_arch[1], "other-arch");
	cr_assert_str_eq(avg->code_arch_path[1], "/opt/avg-other.so");
	cr_assert_eq(avg->mailbox, 1024, "the default mailbox");
	cr_assert_eq(avg->replicas, 0);
	cr_assert_null(avg->placement.node);
	cr_assert_eq(avg->placement.nlabels, 0);

	/* Resources. */
	cr_assert_eq(wf->nresources, 4);
	cr_assert_str_eq(wf->resources[1].name, "errors");
	cr_assert_str_eq(
	    wf_config_get(&wf->resources[1].config, "timestamp"), "off");
	cr_assert_eq(wf->resources[0].type_pos.line, 27);
	cr_assert_eq(wf->resources[0].type_pos.col, 11);
	api = wf_find_resource(wf, "api");
	cr_assert_not_null(api);
	cr_assert_str_eq(api->type, "http-ingress");
	cr_assert_eq(wf_config_list(&api->config, "methods", items, 4), 2);
	cr_assert_str_eq(items[1], "POST");
	cr_assert_str_eq(api->outputs[0].targets[0], "average");
	cr_assert_eq(wf->resources[2].config.count, 2);

	/* One check per distinct path actually used on this machine. */
	cr_assert_eq(c.calls, 2);
	wf_free(wf);
}

Test(workflow, code_is_checked_once_per_path)
{
	struct checks c = { 0 };
	static const char text[] = "workflow: w\n"
	                           "functions:\n"
	                           "  a: {code: same.so}\n"
	                           "  b: {code: ./same.so}\n"
	                           "  c: {code: same.so}\n"
	                           "  d: {code: /abs/same.so}\n";
	struct workflow *wf = wf_load_mem(
	    "demo.yaml", text, strlen(text), res_types(), code_check, &c, &d);

	cr_assert_not_null(wf);
	cr_assert_str_eq(wf->functions[0].code_path, "./same.so");
	cr_assert_str_eq(wf->functions[1].code_path, "././same.so");
	cr_assert_str_eq(wf->functions[3].code_path, "/abs/same.so");
	cr_assert_eq(c.calls, 3);
	wf_free(wf);
}

Test(workflow, no_check_callback_and_only_resources)
{
	static const char text[] =
	    "workflow: w\n"
	    "resources:\n"
	    "  t: {type: timer, config: {period_ms: 5}}\n";
	struct workflow *wf = wf_load_mem(
	    "w.yaml", text, strlen(text), res_types(), NULL, NULL, &d);

	cr_assert_not_null(wf);
	cr_assert_eq(wf->nfunctions, 0);
	cr_assert_eq(wf->nresources, 1);
	cr_assert_eq(wf->resources[0].noutputs, 0);
	wf_free(wf);
}

Test(workflow, success_leaves_diag_untouched)
{
	static const char text[] = "workflow: w\n"
	                           "functions: {f: {code: f.so}}\n";
	struct workflow *wf;

	diag_add(&d, "earlier.yaml", 1, 1, "an earlier problem");
	wf = load(text);
	cr_assert_not_null(wf);
	cr_assert_eq(d.count, 1);
	cr_assert_str_eq(
	    d.items[0].text, "earlier.yaml:1:1: an earlier problem");
	wf_free(wf);
}

Test(workflow, nulls_are_empty_sections)
{
	static const char text[] = "workflow: w\n"
	                           "functions:\n"
	                           "  f:\n"
	                           "    code: f.so\n"
	                           "    config:\n"
	                           "    outputs: ~\n"
	                           "    placement:\n"
	                           "resources:\n";
	struct workflow *wf = load(text);

	cr_assert_not_null(wf, "%s", d.count ? d.items[0].text : "");
	cr_assert_eq(wf->functions[0].config.count, 0);
	cr_assert_null(wf->functions[0].config.sdk.items);
	cr_assert_eq(wf->functions[0].noutputs, 0);
	wf_free(wf);
}

/* ------------------------------------------------------------------ */
/* Unknown keys, names, types                                          */

Test(workflow, unknown_top_level_key)
{
	EXPECT(load("workflow: demo\n"
	            "resources: {t: {type: timer, config: {period_ms: 1}}}\n"
	            "fuctions:\n"
	            "  f: {code: f.so}\n"
	            "extra: 1\n"),
	    "demo.yaml:3:1: unknown key 'fuctions' (did you mean "
	    "'functions'?)",
	    "demo.yaml:5:1: unknown key 'extra' (known keys: workflow, "
	    "functions, resources, isolation, limits)");
}

Test(workflow, isolation_and_limits)
{
	struct workflow *wf = load("workflow: demo\n"
	                           "isolation: process\n"
	                           "limits: {timeout_ms: 250}\n"
	                           "functions:\n"
	                           "  a: {code: a.so}\n"
	                           "  b:\n"
	                           "    code: b.so\n"
	                           "    limits: {memory_mb: 64}\n"
	                           "  c: {code: c.so, isolation: node, "
	                           "limits: ~}\n");
	cr_assert_not_null(wf);
	cr_expect(wf->functions[0].isolated);
	cr_expect_eq(wf->functions[0].timeout_ms, 250);
	cr_expect_eq(wf->functions[0].memory_mb, 0);
	/* A function's own limits replace the workflow's. */
	cr_expect(wf->functions[1].isolated);
	cr_expect_eq(wf->functions[1].timeout_ms, 0);
	cr_expect_eq(wf->functions[1].memory_mb, 64);
	/* In the node's own process: no limits (the workflow's do not
	 * reach it, since `limits: ~` says none). */
	cr_expect(!wf->functions[2].isolated);
	wf_free(wf);

	wf = load("workflow: demo\n"
	          "functions:\n"
	          "  a: {code: a.so}\n");
	cr_assert_not_null(wf);
	cr_expect(!wf->functions[0].isolated, "the default is in-node");
	wf_free(wf);
}

Test(workflow, bad_isolation_and_limits)
{
	EXPECT(load("workflow: demo\n"
	            "limits: {timeout_ms: 10}\n"
	            "functions:\n"
	            "  a: {code: a.so}\n"
	            "  b: {code: b.so, isolation: vm}\n"
	            "  c:\n"
	            "    code: c.so\n"
	            "    isolation: process\n"
	            "    limits: {timeout_ms: 0, memory: 5, memory_mb: x}\n"),
	    "demo.yaml:2:9: function 'a': 'limits: {timeout_ms, memory_mb}' "
	    "need 'isolation: process' (code in the node's own process "
	    "cannot be stopped or measured on its own; state_mb works with "
	    "either)",
	    "demo.yaml:5:30: 'isolation' must be node (in the node's own "
	    "process, the default) or process (a supervised host process), "
	    "found 'vm'",
	    "demo.yaml:2:9: function 'b': 'limits: {timeout_ms, memory_mb}' "
	    "need 'isolation: process' (code in the node's own process "
	    "cannot be stopped or measured on its own; state_mb works with "
	    "either)",
	    "demo.yaml:9:29: unknown key 'memory' in the limits of function "
	    "'c' (known keys: timeout_ms, memory_mb, state_mb)",
	    "demo.yaml:9:26: 'timeout_ms' must be an integer between 1 and "
	    "3600000, found '0'",
	    "demo.yaml:9:51: 'memory_mb' must be an integer between 1 and "
	    "1048576, found 'x'");
}

Test(workflow, state_quota_with_either_isolation)
{
	struct workflow *wf =
	    load("workflow: demo\n"
	         "limits: {state_mb: 8}\n"
	         "functions:\n"
	         "  a: {code: a.so}\n"
	         "  b:\n"
	         "    code: b.so\n"
	         "    isolation: process\n"
	         "    limits: {state_mb: 2, timeout_ms: 50}\n");
	cr_assert_not_null(wf);
	cr_expect_eq(wf->functions[0].state_mb, 8, "the workflow's default");
	cr_expect(!wf->functions[0].isolated);
	cr_expect_eq(wf->functions[1].state_mb, 2, "its own");
	cr_expect_eq(wf->functions[1].timeout_ms, 50);
	wf_free(wf);
	EXPECT(load("workflow: demo\n"
	            "functions:\n"
	            "  a: {code: a.so, limits: {state_mb: 0}}\n"),
	    "demo.yaml:3:38: 'state_mb' must be an integer between 1 and "
	    "1048576, found '0'");
}

Test(workflow, sandbox_allows_by_name_for_isolated_functions_only)
{
	struct workflow *wf =
	    load("workflow: demo\n"
	         "functions:\n"
	         "  a: {code: a.so, isolation: process}\n"
	         "  b:\n"
	         "    code: b.so\n"
	         "    isolation: process\n"
	         "    sandbox: {allow: [socket, write]}\n"
	         "  c: {code: c.so, isolation: process, sandbox: off}\n");
	cr_assert_not_null(wf);
	cr_expect_eq(wf->functions[0].sandbox_allow, 0);
	cr_expect(!wf->functions[0].sandbox_off, "sandboxed by default");
	cr_expect_eq(wf->functions[1].sandbox_allow,
	    WF_SANDBOX_SOCKET | WF_SANDBOX_WRITE);
	cr_expect(wf->functions[2].sandbox_off);
	wf_free(wf);
	EXPECT(
	    load(
	        "workflow: demo\n"
	        "functions:\n"
	        "  a: {code: a.so, sandbox: {allow: [socket]}}\n"
	        "  b:\n"
	        "    code: b.so\n"
	        "    isolation: process\n"
	        "    sandbox: {allow: [socket, ptrace], deny: [x]}\n"
	        "  c: {code: c.so, isolation: process, sandbox: yes}\n"
	        "  d: {code: d.so, isolation: process, sandbox: {allow: x}}\n"),
	    "demo.yaml:3:28: function 'a': 'sandbox' needs 'isolation: "
	    "process' (code in the node's own process is as trusted as the "
	    "node, and not sandboxed)",
	    "demo.yaml:7:40: unknown key 'deny' in the sandbox of function 'b' "
	    "(known keys: allow)",
	    "demo.yaml:7:31: function 'b': 'sandbox.allow' takes socket (new "
	    "sockets), fork (processes), exec (running programs) or write "
	    "(writing files), found 'ptrace'",
	    "demo.yaml:8:48: 'sandbox' must be off or a mapping such as "
	    "{allow: [socket]}, found 'yes'",
	    "demo.yaml:9:56: 'sandbox.allow' must be a list of what the "
	    "function may do besides the default (socket, fork, exec, "
	    "write), found 'x'");
}

Test(workflow, keyed_functions_and_where_their_keys_come_from)
{
	struct workflow *wf =
	    load("workflow: demo\n"
	         "functions:\n"
	         "  a: {code: a.so, keyed: true}\n"
	         "  b: {code: b.so, keyed: {idle_s: 5, max_active: 7}}\n"
	         "  c: {code: c.so, keyed: false}\n"
	         "resources:\n"
	         "  in:\n"
	         "    type: http-ingress\n"
	         "    config: {prefix: /a/, key: path}\n"
	         "    outputs: {request: a}\n"
	         "  h:\n"
	         "    type: http-ingress\n"
	         "    config: {path: /b, key: \"header:X-User\"}\n"
	         "    outputs: {request: b}\n");
	cr_assert_not_null(wf);
	size_t ns;
	const struct wf_function *fa = wf_find_slots(wf, "a", &ns);
	cr_assert_not_null(fa);
	cr_expect_eq(ns, WF_SLOTS_DEFAULT, "split into the default slots");
	cr_expect(fa->keyed);
	cr_expect_eq(fa->idle_s, 300, "the default");
	cr_expect_eq(fa->max_active, 100000, "the default");
	const struct wf_function *fb = wf_find_slots(wf, "b", &ns);
	cr_assert_not_null(fb);
	cr_expect(fb->keyed);
	cr_expect_eq(fb->idle_s, 5);
	cr_expect_eq(fb->max_active, 7);
	cr_expect(!wf_find_function(wf, "c")->keyed);
	cr_expect_eq(ns, 7, "no more slots than max_active");
	cr_expect_eq(wf->nfunctions, WF_SLOTS_DEFAULT + 7 + 1);
	wf_free(wf);
	EXPECT(load("workflow: demo\n"
	            "functions:\n"
	            "  a: {code: a.so, keyed: maybe}\n"
	            "  b: {code: b.so, keyed: {idle_s: 0, max: 3}}\n"
	            "  c: {code: c.so, keyed: true, isolation: process}\n"
	            "  d: {code: d.so, keyed: true}\n"
	            "resources:\n"
	            "  in:\n"
	            "    type: http-ingress\n"
	            "    config: {path: /d}\n"
	            "    outputs: {request: d}\n"
	            "  p:\n"
	            "    type: http-ingress\n"
	            "    config: {path: /p, key: path}\n"
	            "    outputs: {request: d}\n"
	            "  q:\n"
	            "    type: http-ingress\n"
	            "    config: {prefix: /q/, key: \"cookie:x\"}\n"
	            "    outputs: {request: d}\n"
	            "  t:\n"
	            "    type: timer\n"
	            "    config: {period_ms: 10}\n"
	            "    outputs: {tick: d}\n"),
	    "demo.yaml:3:26: 'keyed' must be true, false or a mapping "
	    "{idle_s, max_active, slots}, found 'maybe'",
	    "demo.yaml:4:38: unknown key 'max' in 'keyed' of function 'b' "
	    "(known keys: idle_s, max_active, slots)",
	    "demo.yaml:4:35: 'idle_s' must be an integer between 1 and 604800, "
	    "found '0'",
	    "demo.yaml:5:26: function 'c': 'keyed' cannot be combined with "
	    "'isolation: process' yet",
	    "demo.yaml:11:24: http-ingress 'in' sends to 'd', which is keyed: "
	    "say where its key comes from with 'key: path', 'key: "
	    "header:NAME' or 'key: query:NAME' in the config",
	    "demo.yaml:14:29: http-ingress 'p': 'key: path' takes the rest of "
	    "the path after 'prefix', and this route has an exact 'path'",
	    "demo.yaml:18:32: http-ingress 'q': 'key' must be path, "
	    "header:NAME or query:NAME, found 'cookie:x'",
	    "demo.yaml:23:21: timer 't' ticks to 'd', which is keyed: say "
	    "which key's instance with 'key: K' in the config");
}

Test(workflow, unknown_function_and_resource_keys)
{
	EXPECT(load("workflow: demo\n"
	            "functions:\n"
	            "  f:\n"
	            "    code: f.so\n"
	            "    mailbx: 10\n"
	            "    placement: {label: {a: b}}\n"
	            "    state: {replica: 1}\n"
	            "resources:\n"
	            "  t:\n"
	            "    type: timer\n"
	            "    config: {perod_ms: 1, period: 10, period_ms: 10}\n"
	            "    output: {tick: f}\n"),
	    "demo.yaml:5:5: unknown key 'mailbx' in function 'f' (did you "
	    "mean 'mailbox'?)",
	    "demo.yaml:6:17: unknown key 'label' in the placement of "
	    "function 'f' (did you mean 'labels'?)",
	    "demo.yaml:7:13: unknown key 'replica' in the state of function "
	    "'f' (did you mean 'replicas'?)",
	    "demo.yaml:12:5: unknown key 'output' in resource 't' (did you "
	    "mean 'outputs'?)",
	    "demo.yaml:11:14: unknown key 'perod_ms' in the config of timer "
	    "'t' (did you mean 'period_ms'?)",
	    "demo.yaml:11:27: unknown key 'period' in the config of timer "
	    "'t' (known keys: period_ms, payload, jitter_ms, count, key)");
}

Test(workflow, unknown_resource_type)
{
	EXPECT(load("workflow: demo\n"
	            "resources:\n"
	            "  sensor: {type: timr, config: {period_ms: 5}}\n"
	            "  other:\n"
	            "    type: kafka\n"
	            "functions:\n"
	            "  f:\n"
	            "    code: f.so\n"
	            "    placement: {resources: [http-egres]}\n"),
	    "demo.yaml:9:29: unknown resource type 'http-egres' (did you mean "
	    "'http-egress'?)",
	    "demo.yaml:3:18: unknown resource type 'timr' (did you mean "
	    "'timer'?)",
	    "demo.yaml:5:11: unknown resource type 'kafka' (known types: "
	    "http-ingress, http-egress, file-log, timer)");
}

Test(workflow, missing_type_and_code)
{
	EXPECT(load("workflow: demo\n"
	            "functions:\n"
	            "  f: {config: {a: 1}}\n"
	            "  g: f.so\n"
	            "resources:\n"
	            "  r: {config: {a: 1}}\n"),
	    "demo.yaml:3:3: function 'f' has no 'code'",
	    "demo.yaml:4:6: function 'g' must be a mapping with at least "
	    "'code', found 'f.so'",
	    "demo.yaml:6:3: resource 'r' has no 'type'");
}

Test(workflow, invalid_names)
{
	EXPECT(load("workflow: my flow\n"
	            "functions:\n"
	            "  a.b: {code: f.so, outputs: {'x y': c}}\n"
	            "  c: {code: f.so}\n"
	            "resources:\n"
	            "  "
	            "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	            "aaaaaaa"
	            ": {type: file-log, config: {path: x}}\n"),
	    "demo.yaml:1:11: the workflow name must be 1 to 64 letters, "
	    "digits, '_' or '-', found 'my flow'",
	    "demo.yaml:3:3: a function name must be 1 to 64 letters, digits, "
	    "'_' or '-', found 'a.b'",
	    "demo.yaml:3:31: an output name must be 1 to 64 letters, digits, "
	    "'_' or '-', found 'x y'",
	    "demo.yaml:6:3: a resource name must be 1 to 64 letters, digits, "
	    "'_' or '-', found 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa...'");
}

Test(workflow, missing_workflow_name)
{
	EXPECT(load("functions:\n"
	            "  f: {code: f.so}\n"),
	    "demo.yaml:1:1: missing 'workflow' (the workflow's name)");
}

Test(workflow, no_functions_and_no_resources)
{
	EXPECT(load("workflow: demo\n"
	            "functions: {}\n"),
	    "demo.yaml:1:1: the workflow has no functions and no resources");
}

/* ------------------------------------------------------------------ */
/* Wrong value types and resource config                               */

Test(workflow, wrong_value_types)
{
	EXPECT(load("workflow: demo\n"
	            "functions:\n"
	            "  f:\n"
	            "    code: [f.so]\n"
	            "    config: 5\n"
	            "    outputs: [a, b]\n"
	            "    mailbox: lots\n"
	            "    state: {replicas: 17}\n"
	            "    placement:\n"
	            "      labels: [zone]\n"
	            "      node: {name: x}\n"
	            "  g:\n"
	            "    code: g.so\n"
	            "    mailbox: 0\n"
	            "    outputs: {out: {f: 1}, err: [], bad: [f, [x]]}\n"
	            "resources: [x]\n"),
	    "demo.yaml:16:12: 'resources' must be a mapping, found a sequence",
	    "demo.yaml:4:11: 'code' must be a path or a mapping of "
	    "architecture to path, found a sequence",
	    "demo.yaml:5:13: 'config' must be a mapping, found '5'",
	    "demo.yaml:6:14: 'outputs' must be a mapping, found a sequence",
	    "demo.yaml:10:15: 'labels' must be a mapping, found a sequence",
	    "demo.yaml:11:13: 'node': expected a scalar, found a mapping",
	    "demo.yaml:8:23: 'replicas' must be an integer between 0 and 16, "
	    "found '17'",
	    "demo.yaml:7:14: 'mailbox' must be an integer between 1 and "
	    "1000000, found 'lots'",
	    "demo.yaml:15:20: output 'out' of 'g' must name a function or a "
	    "resource, or list them, found a mapping",
	    "demo.yaml:15:33: output 'err' of 'g' has no targets",
	    "demo.yaml:15:46: output 'bad' of 'g' must name a function or a "
	    "resource, found a sequence",
	    "demo.yaml:14:14: 'mailbox' must be an integer between 1 and "
	    "1000000, found '0'");
}

Test(workflow, resource_config_values)
{
	EXPECT(load("workflow: demo\n"
	            "resources:\n"
	            "  t:\n"
	            "    type: timer\n"
	            "    config: {period_ms: 0, count: -1, payload: [a]}\n"
	            "  e:\n"
	            "    type: http-egress\n"
	            "    config:\n"
	            "      method: FETCH\n"
	            "      timeout_ms: 1.5\n"
	            "      url: {host: x}\n"
	            "  l:\n"
	            "    type: file-log\n"
	            "    config: {path: a.log, timestamp: maybe}\n"
	            "  i:\n"
	            "    type: http-ingress\n"
	            "    config: {path: /x, methods: [GET, {m: POST}]}\n"),
	    "demo.yaml:5:25: 'period_ms' must be an integer between 1 and "
	    "86400000, found '0'",
	    "demo.yaml:5:48: 'payload': expected a scalar, found a sequence",
	    "demo.yaml:5:35: 'count' must be an integer between 0 and "
	    "1099511627776, found '-1'",
	    "demo.yaml:11:12: 'url': expected a scalar, found a mapping",
	    "demo.yaml:9:15: 'method' must be one of GET, POST, PUT, DELETE, "
	    "PATCH, found 'FETCH'",
	    "demo.yaml:10:19: 'timeout_ms' must be an integer between 1 and "
	    "3600000, found '1.5'",
	    "demo.yaml:14:38: 'timestamp' must be true or false (or yes/no, "
	    "on/off), found 'maybe'",
	    "demo.yaml:17:39: 'methods': expected a scalar, found a mapping");
}

Test(workflow, missing_required_config)
{
	EXPECT(load("workflow: demo\n"
	            "resources:\n"
	            "  sensor:\n"
	            "    type: timer\n"
	            "  errors:\n"
	            "    type: file-log\n"
	            "    config: {timestamp: true}\n"),
	    "demo.yaml:3:3: timer 'sensor' is missing required config "
	    "'period_ms' (time between ticks)",
	    "demo.yaml:5:3: file-log 'errors' is missing required config "
	    "'path' (file to append to, relative to the workflow's folder)");
}

Test(workflow, type_check_runs_after_the_schema)
{
	EXPECT(load("workflow: demo\n"
	            "resources:\n"
	            "  api:\n"
	            "    type: http-ingress\n"
	            "    config: {path: hello, methods: [GET, FETCH]}\n"
	            "  both:\n"
	            "    type: http-ingress\n"
	            "    config: {path: /a, prefix: /b}\n"
	            "  typo:\n"
	            "    type: http-ingress\n"
	            "    config: {pth: /a}\n"),
	    "demo.yaml:11:14: unknown key 'pth' in the config of "
	    "http-ingress 'typo' (did you mean 'path'?)",
	    "demo.yaml:5:20: path 'hello' must start with '/'",
	    "demo.yaml:3:3: http-ingress 'api': unknown method 'FETCH'",
	    "demo.yaml:6:3: http-ingress 'both' needs exactly one of 'path' "
	    "and 'prefix' in its config");
}

/* ------------------------------------------------------------------ */
/* Outputs and wiring                                                  */

Test(workflow, output_to_undefined_name)
{
	EXPECT(load("workflow: sensors\n"
	            "functions:\n"
	            "  filter:\n"
	            "    code: f.so\n"
	            "    outputs: {out: averge, error: [average, nowhere]}\n"
	            "  average:\n"
	            "    code: a.so\n"),
	    "demo.yaml:5:20: output 'out' of 'filter' goes to 'averge', which "
	    "is not defined (did you mean 'average'?)",
	    "demo.yaml:5:45: output 'error' of 'filter' goes to 'nowhere', "
	    "which is not defined");
}

Test(workflow, output_to_a_resource_that_takes_no_events)
{
	EXPECT(load("workflow: demo\n"
	            "functions:\n"
	            "  f: {code: f.so, outputs: {out: [log, api]}}\n"
	            "resources:\n"
	            "  log: {type: file-log, config: {path: x.log}}\n"
	            "  api: {type: http-ingress, config: {path: /x}}\n"
	            "  sensor:\n"
	            "    type: timer\n"
	            "    config: {period_ms: 10}\n"
	            "    outputs: {tick: clock}\n"
	            "  clock: {type: timer, config: {period_ms: 10}}\n"),
	    "demo.yaml:3:40: output 'out' of 'f' goes to 'api', an "
	    "http-ingress, which takes no events",
	    "demo.yaml:10:21: output 'tick' of 'sensor' goes to 'clock', a "
	    "timer, which takes no events");
}

Test(workflow, resource_output_names)
{
	EXPECT(load("workflow: demo\n"
	            "functions:\n"
	            "  f: {code: f.so}\n"
	            "resources:\n"
	            "  sensor:\n"
	            "    type: timer\n"
	            "    config: {period_ms: 10}\n"
	            "    outputs: {tik: f}\n"
	            "  errors:\n"
	            "    type: file-log\n"
	            "    config: {path: e.log}\n"
	            "    outputs: {out: f, more: f}\n"),
	    "demo.yaml:8:15: timer 'sensor' has no output 'tik' (it has: "
	    "tick)",
	    "demo.yaml:12:5: file-log 'errors' has no outputs");
}

/* ------------------------------------------------------------------ */
/* Duplicates                                                          */

Test(workflow, duplicate_names)
{
	EXPECT(load("workflow: demo\n"
	            "functions:\n"
	            "  sensor: {code: f.so}\n"
	            "resources:\n"
	            "  sensor: {type: timer, config: {period_ms: 10}}\n"),
	    "demo.yaml:5:3: duplicate name 'sensor' (already a function at "
	    "line 3)");
}

Test(workflow, duplicate_keys)
{
	EXPECT(load("workflow: demo\n"
	            "functions:\n"
	            "  f:\n"
	            "    code: f.so\n"
	            "    config: {a: 1, b: 2, a: 3}\n"
	            "    code: g.so\n"
	            "  f: {code: h.so}\n"
	            "workflow: again\n"),
	    "demo.yaml:8:1: duplicate key 'workflow'",
	    "demo.yaml:7:3: duplicate key 'f'",
	    "demo.yaml:6:5: duplicate key 'code'",
	    "demo.yaml:5:26: duplicate key 'a'");
}

/* ------------------------------------------------------------------ */
/* Code                                                                */

Test(workflow, code_check_failure_at_the_code_value)
{
	struct checks c = { 0 };
	static const char text[] = "workflow: demo\n"
	                           "functions:\n"
	                           "  f:\n"
	                           "    code:   bad.so\n"
	                           "  g: {code: ok.so}\n"
	                           "  h: {code: bad.so}\n";
	struct workflow *wf = wf_load_mem("/w/demo.yaml", text, strlen(text),
	    res_types(), code_check, &c, &d);

	cr_assert_eq(c.calls, 2);
	cr_assert_str_eq(c.paths[0], "/w/bad.so");
	EXPECT(wf, "/w/demo.yaml:4:13: code 'bad.so': not an ELF file",
	    "/w/demo.yaml:6:13: code 'bad.so': not an ELF file");
}

Test(workflow, no_code_for_this_machine)
{
	char text[256];
	char want[256];
	const char *other =
	    strcmp(machine(), "aarch64") == 0 ? "x86_64" : "aarch64";
	struct workflow *wf;

	snprintf(text, sizeof text,
	    "workflow: demo\n"
	    "functions:\n"
	    "  f:\n"
	    "    code: {%s: f-%s.so, riscv-9: f-r.so}\n",
	    other, other);
	wf = load(text);
	snprintf(want, sizeof want,
	    "demo.yaml:4:11: no code for this machine's architecture '%s' "
	    "(have: %s, riscv-9)",
	    machine(), other);
	cr_assert_null(wf);
	cr_assert_eq(d.count, 1);
	cr_assert_str_eq(d.items[0].text, want);
}

Test(workflow, empty_code)
{
	EXPECT(load("workflow: demo\n"
	            "functions:\n"
	            "  f: {code: ''}\n"
	            "  g: {code: {}}\n"
	            "  h: {code: {x86_64: [a], aarch64: }}\n"),
	    "demo.yaml:3:13: 'code' must be a path or a mapping of "
	    "architecture to path, found ''",
	    "demo.yaml:4:13: 'code' must be a path or a mapping of "
	    "architecture to path, found an empty mapping",
	    "demo.yaml:5:22: 'x86_64' must be a path to a shared object, "
	    "found a sequence",
	    "demo.yaml:5:36: 'aarch64' must be a path to a shared object, "
	    "found nothing");
}

/* ------------------------------------------------------------------ */
/* Many errors at once                                                 */

Test(workflow, every_error_is_reported)
{
	struct workflow *wf = load("workflow: demo\n"
	                           "functions:\n"
	                           "  filter:\n"
	                           "    code: f.so\n"
	                           "    outputs: {out: averge}\n"
	                           "    mailbox: -3\n"
	                           "  average:\n"
	                           "    cod: a.so\n"
	                           "resources:\n"
	                           "  sensor:\n"
	                           "    type: timer\n"
	                           "    config: {period_ms: fast}\n"
	                           "    outputs: {tick: filtr}\n"
	                           "  log: {type: file-lg}\n");

	cr_assert_null(wf);
	cr_assert_eq(d.count, 7);
	cr_assert_str_eq(d.items[0].text,
	    "demo.yaml:6:14: 'mailbox' must be an integer between 1 and "
	    "1000000, found '-3'");
	cr_assert_str_eq(d.items[1].text,
	    "demo.yaml:8:5: unknown key 'cod' in function 'average' (did you "
	    "mean 'code'?)");
	cr_assert_str_eq(
	    d.items[2].text, "demo.yaml:7:3: function 'average' has no 'code'");
	cr_assert_str_eq(d.items[3].text,
	    "demo.yaml:12:25: 'period_ms' must be an integer between 1 and "
	    "86400000, found 'fast'");
	cr_assert_str_eq(d.items[4].text,
	    "demo.yaml:14:15: unknown resource type 'file-lg' (did you mean "
	    "'file-log'?)");
	cr_assert_str_eq(d.items[5].text,
	    "demo.yaml:5:20: output 'out' of 'filter' goes to 'averge', which "
	    "is not defined (did you mean 'average'?)");
	cr_assert_str_eq(d.items[6].text,
	    "demo.yaml:13:21: output 'tick' of 'sensor' goes to 'filtr', which "
	    "is not defined (did you mean 'filter'?)");
}

/* ------------------------------------------------------------------ */
/* Bad YAML and hostile input                                          */

Test(workflow, yaml_syntax_error)
{
	EXPECT(load("workflow: demo\n"
	            "functions:\n"
	            "  f: {code: f.so\n"
	            "resources: {}\n"),
	    "demo.yaml:4:10: YAML syntax error: did not find expected ',' or "
	    "'}' (while parsing a flow mapping)");
}

Test(workflow, yaml_syntax_error_in_a_quoted_scalar)
{
	EXPECT(load("workflow: demo\n"
	            "functions:\n"
	            "  f: {code: \"f.so}\n"),
	    "demo.yaml:4:1: YAML syntax error: found unexpected end of stream "
	    "(while scanning a quoted scalar)");
}

Test(workflow, undefined_alias)
{
	EXPECT(load("workflow: *name\n"),
	    "demo.yaml:1:11: YAML syntax error: found undefined alias");
}

Test(workflow, invalid_utf8)
{
	EXPECT(load("workflow: demo\n"
	            "functions:\n"
	            "  f: {code: \xff.so}\n"),
	    "demo.yaml:3:13: YAML syntax error: invalid leading UTF-8 octet");
}

Test(workflow, empty_documents)
{
	EXPECT(load(""),
	    "demo.yaml: empty document (expected a mapping with 'workflow', "
	    "'functions' and 'resources')");
	diag_fini(&d);
	EXPECT(load("# only a comment\n\n"),
	    "demo.yaml: empty document (expected a mapping with 'workflow', "
	    "'functions' and 'resources')");
	diag_fini(&d);
	EXPECT(load("---\n"),
	    "demo.yaml:2:1: the top level must be a mapping, found nothing");
	diag_fini(&d);
	EXPECT(load("- workflow\n"),
	    "demo.yaml:1:1: the top level must be a mapping, found a "
	    "sequence");
}

Test(workflow, second_document)
{
	EXPECT(load("workflow: a\n"
	            "functions: {f: {code: f.so}}\n"
	            "---\n"
	            "workflow: b\n"),
	    "demo.yaml:3:1: a second YAML document; a workflow file holds one");
}

Test(workflow, nul_in_a_scalar)
{
	static const char text[] = "workflow: \"de\\0mo\"\n"
	                           "functions: {f: {code: f.so}}\n";

	EXPECT(load(text), "demo.yaml:1:11: a NUL character is not allowed");
}

Test(workflow, non_scalar_key)
{
	EXPECT(load("workflow: demo\n"
	            "functions:\n"
	            "  f:\n"
	            "    code: f.so\n"
	            "    config: {[a, b]: 1}\n"),
	    "demo.yaml:5:14: a key must be a scalar, found a sequence");
}

/* Nine levels of nine aliases: 387 million nodes if expanded. */
static const char laughs[] =
    "workflow: lol\n"
    "functions:\n"
    "  f:\n"
    "    code: f.so\n"
    "    config:\n"
    "      a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n"
    "      b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
    "      c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]\n"
    "      d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]\n"
    "      e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d]\n"
    "      f: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e]\n"
    "      g: &g [*f, *f, *f, *f, *f, *f, *f, *f, *f]\n"
    "      h: &h [*g, *g, *g, *g, *g, *g, *g, *g, *g]\n"
    "      i: &i [*h, *h, *h, *h, *h, *h, *h, *h, *h]\n";

Test(workflow, billion_laughs, .timeout = 5)
{
	struct timespec t0, t1;
	struct workflow *wf;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	wf = load(laughs);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	EXPECT(wf,
	    "demo.yaml:9:10: aliases expand to too much (more than 1000 "
	    "repeated nodes)");
	cr_assert_lt((t1.tv_sec - t0.tv_sec) * 1000 +
	        (t1.tv_nsec - t0.tv_nsec) / 1000000,
	    500, "rejected fast");
}

Test(workflow, moderate_aliases_are_fine)
{
	struct workflow *wf = load("workflow: demo\n"
	                           "functions:\n"
	                           "  f:\n"
	                           "    code: &code f.so\n"
	                           "    config: &cfg {a: 1, b: [x, y]}\n"
	                           "  g:\n"
	                           "    code: *code\n"
	                           "    config: *cfg\n");

	cr_assert_not_null(wf);
	cr_assert_eq(wf->functions[1].config.count, 3);
	cr_assert_str_eq(wf->functions[1].config.keys[2], "b.1");
	cr_assert_str_eq(wf->functions[1].code, "f.so");
	wf_free(wf);
}

Test(workflow, alias_cycle, .timeout = 5)
{
	EXPECT(load("workflow: demo\n"
	            "functions:\n"
	            "  f:\n"
	            "    code: f.so\n"
	            "    config: &loop {self: *loop}\n"),
	    "demo.yaml:5:13: nesting deeper than 32 levels");
}

/* `config: {a: [[[ ... ]]]}` with `levels` brackets. */
static char *
nested(int levels)
{
	static const char head[] = "workflow: demo\n"
	                           "functions:\n"
	                           "  f:\n"
	                           "    code: f.so\n"
	                           "    config: {a: ";
	char *text = malloc(sizeof head + 2 * (size_t)levels + 8);
	size_t n = sizeof head - 1;

	cr_assert_not_null(text);
	memcpy(text, head, n);
	for (int i = 0; i < levels; i++) {
		text[n++] = '[';
	}
	for (int i = 0; i < levels; i++) {
		text[n++] = ']';
	}
	memcpy(text + n, "}\n", 3);
	return text;
}

Test(workflow, deep_nesting)
{
	/* The top level, `functions`, `f` and `config` take four levels. */
	char *ok = nested(28);
	char *deep = nested(29);
	char *huge = nested(100000);
	struct workflow *wf = load(ok);

	cr_assert_not_null(wf, "%s", d.count ? d.items[0].text : "");
	wf_free(wf);
	EXPECT(load(deep), "demo.yaml:5:45: nesting deeper than 32 levels");
	diag_fini(&d);
	EXPECT(load(huge), "demo.yaml:5:45: nesting deeper than 32 levels");
	free(ok);
	free(deep);
	free(huge);
}

static char *
config_list(size_t items)
{
	static const char head[] = "workflow: demo\n"
	                           "functions:\n"
	                           "  f:\n"
	                           "    code: f.so\n"
	                           "    config:\n"
	                           "      list: [";
	char *text = malloc(sizeof head + 2 * items + 8);
	size_t n = sizeof head - 1;

	cr_assert_not_null(text);
	memcpy(text, head, n);
	for (size_t i = 0; i < items; i++) {
		text[n++] = '1';
		text[n++] = ',';
	}
	memcpy(text + n - 1, "]\n", 3);
	return text;
}

Test(workflow, config_entry_limit)
{
	char *ok = config_list(10000);
	char *big = config_list(10001);
	struct workflow *wf = load(ok);

	cr_assert_not_null(wf, "%s", d.count ? d.items[0].text : "");
	cr_assert_eq(wf->functions[0].config.count, 10000);
	cr_assert_str_eq(wf->functions[0].config.keys[9999], "list.9999");
	wf_free(wf);
	EXPECT(
	    load(big), "demo.yaml:6:7: 'config' has more than 10000 entries");
	free(ok);
	free(big);
}

Test(workflow, file_too_large)
{
	size_t len = 1024 * 1024 + 1;
	char *text = malloc(len);

	cr_assert_not_null(text);
	memset(text, ' ', len);
	EXPECT(wf_load_mem("big.yaml", text, len, res_types(), NULL, NULL, &d),
	    "big.yaml: too large: 1048577 bytes (the limit is 1048576)");
	free(text);
}

Test(workflow, file_too_large_on_disk)
{
	char path[] = "/tmp/wf_test_big_XXXXXX";
	int fd = mkstemp(path);
	char want[128];

	cr_assert_geq(fd, 0);
	cr_assert_eq(ftruncate(fd, 2 * 1024 * 1024), 0);
	close(fd);
	snprintf(want, sizeof want,
	    "%s: too large: 2097152 bytes (the limit is 1048576)", path);
	cr_assert_null(wf_load(path, res_types(), NULL, NULL, &d));
	unlink(path);
	cr_assert_eq(d.count, 1);
	cr_assert_str_eq(d.items[0].text, want);
}

Test(workflow, unreadable_file)
{
	EXPECT(wf_load("/nonexistent/flow.yaml", res_types(), NULL, NULL, &d),
	    "/nonexistent/flow.yaml: cannot read: No such file or directory");
	diag_fini(&d);
	EXPECT(wf_load("/", res_types(), NULL, NULL, &d),
	    "/: cannot read: Is a directory");
}

/* state: {ack}: replicas (the default) or primary; anything else is an
 * error at its place. */
Test(workflow, state_ack_is_replicas_or_primary)
{
	struct workflow *wf = load("workflow: demo\n"
	                           "functions:\n"
	                           "  a: { code: a.so, state: {replicas: 1} }\n"
	                           "  b:\n"
	                           "    code: b.so\n"
	                           "    state: {replicas: 1, ack: primary}\n"
	                           "  c:\n"
	                           "    code: c.so\n"
	                           "    state: {replicas: 1, ack: replicas}\n");
	cr_assert_not_null(wf);
	cr_expect(!wf_find_function(wf, "a")->ack_primary);
	cr_expect(wf_find_function(wf, "b")->ack_primary);
	cr_expect(!wf_find_function(wf, "c")->ack_primary);
	wf_free(wf);
	diag_fini(&d);
	diag_init(&d);
	EXPECT(load("workflow: demo\n"
	            "functions:\n"
	            "  a:\n"
	            "    code: a.so\n"
	            "    state: {replicas: 1, ack: maybe}\n"),
	    "demo.yaml:5:31: 'ack' must be replicas (an effect is "
	    "acknowledged once its replicas hold it, the default) or primary "
	    "(once this node holds it: a failover may lose the last ones), "
	    "found 'maybe'");
}

Test(workflow, a_keyed_function_is_split_into_its_slots)
{
	struct workflow *wf = load("workflow: demo\n"
	                           "functions:\n"
	                           "  pre: {code: a.so}\n"
	                           "  k:\n"
	                           "    code: a.so\n"
	                           "    keyed: {slots: 3, idle_s: 9}\n"
	                           "    state: {replicas: 1}\n"
	                           "    outputs: {out: post}\n"
	                           "  one: {code: a.so, keyed: {slots: 1}}\n"
	                           "  post: {code: a.so}\n");
	cr_assert_not_null(wf);
	cr_assert_eq(wf->nfunctions, 6, "pre, k#0..k#2, one, post");
	cr_expect_str_eq(wf->functions[0].name, "pre");
	for (int i = 0; i < 3; i++) {
		const struct wf_function *f = &wf->functions[1 + i];
		char name[16];
		snprintf(name, sizeof name, "k#%d", i);
		cr_expect_str_eq(f->name, name);
		cr_expect_str_eq(f->group, "k");
		cr_expect_eq(f->slot, (uint32_t)i);
		cr_expect_eq(f->nslots, 3);
		cr_expect_eq(f->idle_s, 9);
		cr_expect_eq(f->replicas, 1, "replicas per slot");
		cr_expect_eq(f->noutputs, 1);
		cr_expect_str_eq(f->outputs[0].targets[0], "post");
		cr_expect_str_eq(wf_function_name(f), "k");
	}
	cr_expect_str_eq(wf->functions[4].name, "one", "slots: 1 is whole");
	cr_expect_null(wf->functions[4].group);
	cr_expect_str_eq(wf->functions[5].name, "post");
	size_t n;
	cr_expect_eq(wf_find_slots(wf, "k", &n), &wf->functions[1]);
	cr_expect_eq(n, 3);
	cr_expect_eq(wf_find_slots(wf, "one", &n), &wf->functions[4]);
	cr_expect_eq(n, 1);
	cr_expect_null(wf_find_slots(wf, "nope", &n));
	cr_expect_eq(n, 0);
	cr_expect_null(wf_find_function(wf, "k"), "a slot has its own name");
	cr_expect_not_null(wf_find_function(wf, "k#2"));
	wf_free(wf);
	EXPECT(load("workflow: demo\n"
	            "functions:\n"
	            "  k: {code: a.so, keyed: {slots: 0}}\n"),
	    "demo.yaml:3:34: 'slots' must be an integer between 1 and 1024, "
	    "found '0'");
	diag_fini(&d);
	EXPECT(load("workflow: demo\n"
	            "functions:\n"
	            "  k: {code: a.so, keyed: {slots: 5000}}\n"),
	    "demo.yaml:3:34: 'slots' must be an integer between 1 and 1024, "
	    "found '5000'");
}

Test(workflow, a_key_has_the_same_slot_everywhere_and_keys_spread)
{
	unsigned count[16] = { 0 };
	char key[32];
	cr_expect_eq(wf_key_slot("x", 1, 1), 0);
	cr_expect_eq(wf_key_slot("x", 1, 0), 0);
	for (int i = 0; i < 16000; i++) {
		int len = snprintf(key, sizeof key, "user-%d", i);
		uint32_t s = wf_key_slot(key, (size_t)len, 16);
		cr_assert_lt(s, 16);
		cr_expect_eq(s, wf_key_slot(key, (size_t)len, 16));
		count[s]++;
	}
	for (int s = 0; s < 16; s++) {
		/* 1,000 expected per slot; a fair hash stays well within. */
		cr_expect(count[s] > 800 && count[s] < 1200,
		    "slot %d has %u of 16,000 keys", s, count[s]);
	}
	/* Fixed for good: nodes and restarts must agree. */
	cr_expect_eq(wf_key_slot("ann", 3, 16), wf_key_slot("ann", 3, 16));
}
