/*
 * wf_function.c - the `functions:` section: each function's keys, its
 * `code` (one path or one per architecture, resolved against the
 * workflow's folder) and `mailbox`; the other options in wf_options.c.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yaml.h>

#include "workflow/wf_int.h"

#define MAILBOX_DEFAULT 1024
#define MAILBOX_MAX     1000000

static char *
resolve(struct wf_loader *ld, const char *path)
{
	const char *dir = ld->wf->dir;
	char *out;

	/* "./f.so" rather than "f.so": dlopen() searches the library path
	 * for a name without a slash. */
	if (path[0] == '/') {
		out = strdup(path);
	} else if (asprintf(&out, "%s%s%s", dir,
	               dir[strlen(dir) - 1] == '/' ? "" : "/", path) < 0) {
		out = NULL;
	}
	if (out == NULL) {
		wf_oom(ld);
	}
	return out;
}

static bool
is_path(const yaml_node_t *n)
{
	return wf_is_scalar(n) && !wf_is_null(n) && wf_text_of(n)[0] != '\0';
}

static void
set_code(struct wf_loader *ld, struct wf_function *f, const yaml_node_t *v)
{
	f->code_pos = wf_pos_of(v);
	if ((f->code = wf_dup(ld, wf_text_of(v))) != NULL) {
		f->code_path = resolve(ld, f->code);
	}
}

/* `code: {x86_64: a.so, aarch64: b.so}`: keep all, use this machine's. */
static void
load_code_map(struct wf_loader *ld, struct wf_function *f, yaml_node_t *v)
{
	const char *machine = ld->uts.machine;
	const yaml_node_t *mine = NULL;
	bool listed = false;
	char found[SHOW_SIZE];
	char shown[SHOW_SIZE];
	char list[LIST_SIZE];

	f->code_arch = calloc(wf_npairs(v) + 1, sizeof *f->code_arch);
	f->code_arch_path = calloc(wf_npairs(v) + 1, sizeof *f->code_arch_path);
	if (f->code_arch == NULL || f->code_arch_path == NULL) {
		wf_oom(ld);
		return;
	}
	for (yaml_node_pair_t *p = v->data.mapping.pairs.start;
	     p < v->data.mapping.pairs.top; p++) {
		yaml_node_t *arch = wf_node_at(ld, p->key);
		yaml_node_t *path = wf_node_at(ld, p->value);
		size_t i;

		if (!wf_is_scalar(arch)) {
			continue;
		}
		listed = listed || strcmp(wf_text_of(arch), machine) == 0;
		if (!is_path(path)) {
			wf_report(ld, wf_pos_of(path),
			    "'%s' must be a path to a shared object, found %s",
			    wf_clip(wf_text_of(arch), shown, sizeof shown),
			    wf_describe(path, found, sizeof found));
			continue;
		}
		i = f->ncode_arch++;
		if ((f->code_arch[i] = wf_dup(ld, wf_text_of(arch))) == NULL ||
		    (f->code_arch_path[i] = resolve(ld, wf_text_of(path))) ==
		        NULL) {
			return;
		}
		if (mine == NULL && strcmp(wf_text_of(arch), machine) == 0) {
			mine = path;
		}
	}
	if (mine != NULL) {
		set_code(ld, f, mine);
	} else if (!listed) {
		wf_report(ld, wf_pos_of(v),
		    "no code for this machine's architecture '%s' (have: %s)",
		    machine,
		    wf_join((const char *const *)f->code_arch, f->ncode_arch,
		        list, sizeof list));
	}
}

static void
load_code(struct wf_loader *ld, struct wf_function *f, yaml_node_t *fn)
{
	yaml_node_t *v = wf_map_value(ld, fn, "code");
	char found[SHOW_SIZE];

	if (v == NULL) {
		wf_report(ld, f->pos, "function '%s' has no 'code'", f->name);
	} else if (wf_is_map(v) && wf_npairs(v) > 0) {
		load_code_map(ld, f, v);
	} else if (is_path(v)) {
		set_code(ld, f, v);
	} else {
		wf_report(ld, wf_pos_of(v),
		    "'code' must be a path or a mapping of architecture to "
		    "path, found %s",
		    wf_is_map(v) ? "an empty mapping"
		                 : wf_describe(v, found, sizeof found));
	}
}

static void
load_function(
    struct wf_loader *ld, struct wf_function *f, yaml_node_t *k, yaml_node_t *v)
{
	static const char *const keys[] = { "code", "config", "outputs",
		"placement", "state", "mailbox", "isolation", "limits",
		"sandbox", "keyed" };
	struct wf_isolation own = { 0 };
	char found[SHOW_SIZE];
	yaml_node_t *mb;
	long long n;

	f->mailbox = MAILBOX_DEFAULT;
	f->pos = wf_pos_of(k);
	if ((f->name = wf_dup(ld, wf_text_of(k))) == NULL) {
		return;
	}
	wf_check_name(ld, k, "a function name");
	if (!wf_is_map(v)) {
		wf_report(ld, wf_pos_of(v),
		    "function '%s' must be a mapping with at least 'code', "
		    "found %s",
		    f->name, wf_describe(v, found, sizeof found));
		return;
	}
	wf_check_keys(
	    ld, v, keys, sizeof keys / sizeof keys[0], "function", f->name);
	load_code(ld, f, v);
	wf_load_config(ld, wf_map_value(ld, v, "config"), &f->config);
	wf_load_outputs(ld, wf_map_value(ld, v, "outputs"), &f->outputs,
	    &f->noutputs, f->name);
	wf_load_placement(ld, wf_map_value(ld, v, "placement"), f);
	wf_load_state(ld, wf_map_value(ld, v, "state"), f);
	mb = wf_map_value(ld, v, "mailbox");
	if (mb != NULL && wf_get_int(ld, mb, "mailbox", 1, MAILBOX_MAX, &n)) {
		f->mailbox = (uint32_t)n;
	}
	wf_load_isolation(ld, v, &own, "the limits of function", f->name);
	wf_apply_isolation(ld, f, &own);
	wf_load_sandbox(ld, wf_map_value(ld, v, "sandbox"), f);
	wf_load_keyed(ld, wf_map_value(ld, v, "keyed"), f);
}

void
wf_load_functions(struct wf_loader *ld, yaml_node_t *map)
{
	struct workflow *wf = ld->wf;

	if ((wf->functions = calloc(
	         wf_npairs(map) + 1, sizeof *wf->functions)) == NULL) {
		wf_oom(ld);
		return;
	}
	for (yaml_node_pair_t *p = map->data.mapping.pairs.start;
	     p < map->data.mapping.pairs.top && !ld->oom; p++) {
		yaml_node_t *k = wf_node_at(ld, p->key);
		if (wf_is_scalar(k)) {
			load_function(ld, &wf->functions[wf->nfunctions++], k,
			    wf_node_at(ld, p->value));
		}
	}
}
