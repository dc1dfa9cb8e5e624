/*
 * wf_resource.c - the `resources:` section: each resource's type, its
 * config against the type's parameter table (workflow/resource.h), its
 * output names, and the type's own check.
 */
#include <stdio.h>
#include <stdlib.h>

#include <yaml.h>

#include "workflow/resource.h"
#include "workflow/wf_int.h"

#define MAX_PARAMS 64
#define MAX_TYPES  64

/* The resource type named by scalar `n`, or NULL after reporting. */
const struct res_type *
wf_find_type(struct wf_loader *ld, yaml_node_t *n)
{
	const struct res_type *const *all = ld->types;
	const struct res_type *rt = res_type_find(all, wf_text_of(n));
	const char *names[MAX_TYPES];
	char list[LIST_SIZE];
	char shown[SHOW_SIZE];
	const char *hint;
	size_t count = 0;

	if (rt != NULL) {
		return rt;
	}
	while (all != NULL && count < MAX_TYPES && all[count] != NULL) {
		names[count] = all[count]->name;
		count++;
	}
	hint = wf_suggest(ld, wf_text_of(n), names, count);
	if (hint != NULL) {
		wf_report(ld, wf_pos_of(n),
		    "unknown resource type '%s' (did you mean '%s'?)",
		    wf_clip(wf_text_of(n), shown, sizeof shown), hint);
	} else {
		wf_report(ld, wf_pos_of(n),
		    "unknown resource type '%s' (known types: %s)",
		    wf_clip(wf_text_of(n), shown, sizeof shown),
		    wf_join(names, count, list, sizeof list));
	}
	return NULL;
}

static const struct res_type *
load_type(struct wf_loader *ld, struct wf_resource *r, yaml_node_t *n)
{
	char found[SHOW_SIZE];

	if (n == NULL) {
		wf_report(ld, r->pos, "resource '%s' has no 'type'", r->name);
		return NULL;
	}
	if (!wf_is_scalar(n) || wf_is_null(n)) {
		wf_report(ld, wf_pos_of(n),
		    "'type' must name a resource type, found %s",
		    wf_describe(n, found, sizeof found));
		return NULL;
	}
	r->type_pos = wf_pos_of(n);
	if ((r->type = wf_dup(ld, wf_text_of(n))) == NULL) {
		return NULL;
	}
	return r->rtype = wf_find_type(ld, n);
}

static void
check_value(struct wf_loader *ld, const struct res_param *p, yaml_node_t *v)
{
	char found[SHOW_SIZE];
	char list[LIST_SIZE];
	long long n;

	if (p->kind == RP_INT) {
		wf_get_int(ld, v, p->name, p->min, p->max, &n);
	} else if (p->kind == RP_BOOL &&
	    !(wf_is_scalar(v) && wf_is_bool(wf_text_of(v)))) {
		wf_report(ld, wf_pos_of(v),
		    "'%s' must be true or false (or yes/no, on/off), found %s",
		    p->name, wf_describe(v, found, sizeof found));
	} else if (p->kind == RP_ENUM &&
	    !(wf_is_scalar(v) &&
	        wf_in_list(
	            wf_text_of(v), p->choices, wf_list_len(p->choices)))) {
		wf_report(ld, wf_pos_of(v), "'%s' must be one of %s, found %s",
		    p->name,
		    wf_join(
		        p->choices, wf_list_len(p->choices), list, sizeof list),
		    wf_describe(v, found, sizeof found));
	} else if (p->kind == RP_LIST && v->type == YAML_SEQUENCE_NODE) {
		for (size_t i = 0; i < wf_nitems(v); i++) {
			yaml_node_t *item =
			    wf_node_at(ld, v->data.sequence.items.start[i]);
			if (!wf_is_scalar(item)) {
				wf_report(ld, wf_pos_of(item),
				    "'%s': expected a scalar, found %s",
				    p->name,
				    wf_describe(item, found, sizeof found));
			}
		}
	} else if ((p->kind == RP_STR || p->kind == RP_LIST) &&
	    !wf_is_scalar(v) &&
	    !(p->kind == RP_LIST && v->type == YAML_SEQUENCE_NODE)) {
		wf_report(ld, wf_pos_of(v), "'%s': expected a scalar, found %s",
		    p->name, wf_describe(v, found, sizeof found));
	}
}

/* Check a resource's `config:` against its type's parameter table. */
static void
check_params(struct wf_loader *ld, const struct wf_resource *r,
    const struct res_type *rt, yaml_node_t *cfg)
{
	const struct res_param *params = rt->params;
	const char *names[MAX_PARAMS];
	char kind[LIST_SIZE];
	size_t n = 0;

	if (cfg != NULL && !wf_is_null(cfg) && !wf_is_map(cfg)) {
		return; /* reported by load_config */
	}
	cfg = wf_is_map(cfg) ? cfg : NULL;
	while (params != NULL && n < MAX_PARAMS && params[n].name != NULL) {
		names[n] = params[n].name;
		n++;
	}
	if (cfg != NULL) {
		snprintf(kind, sizeof kind, "the config of %s", rt->name);
		wf_check_keys(ld, cfg, names, n, kind, r->name);
	}
	for (size_t i = 0; i < n; i++) {
		yaml_node_t *v =
		    cfg != NULL ? wf_map_value(ld, cfg, names[i]) : NULL;
		if (v != NULL) {
			check_value(ld, &params[i], v);
		} else if (params[i].required) {
			wf_report(ld, r->pos,
			    "%s '%s' is missing required config '%s'%s%s%s",
			    rt->name, r->name, names[i],
			    params[i].help != NULL ? " (" : "",
			    params[i].help != NULL ? params[i].help : "",
			    params[i].help != NULL ? ")" : "");
		}
	}
}

static void
check_output_names(struct wf_loader *ld, const struct wf_resource *r,
    const struct res_type *rt, struct wf_pos at)
{
	size_t n = wf_list_len(rt->outputs);
	char list[LIST_SIZE];

	if (r->noutputs > 0 && n == 0) {
		wf_report(ld, at, "%s '%s' has no outputs", rt->name, r->name);
		return;
	}
	for (size_t i = 0; i < r->noutputs; i++) {
		const struct wf_output *o = &r->outputs[i];
		if (!wf_in_list(o->name, rt->outputs, n)) {
			wf_report(ld, o->pos,
			    "%s '%s' has no output '%s' (it has: %s)", rt->name,
			    r->name, o->name,
			    wf_join(rt->outputs, n, list, sizeof list));
		}
	}
}

static void
load_resource(struct wf_loader *ld, size_t idx, yaml_node_t *k, yaml_node_t *v)
{
	static const char *const keys[] = { "type", "config", "outputs" };
	struct wf_resource *r = &ld->wf->resources[idx];
	size_t before = ld->d->count;
	const struct res_type *rt;
	const yaml_node_pair_t *outs;
	char found[SHOW_SIZE];

	r->pos = wf_pos_of(k);
	if ((r->name = wf_dup(ld, wf_text_of(k))) == NULL) {
		return;
	}
	wf_check_name(ld, k, "a resource name");
	if (!wf_is_map(v)) {
		wf_report(ld, wf_pos_of(v),
		    "resource '%s' must be a mapping with at least 'type', "
		    "found %s",
		    r->name, wf_describe(v, found, sizeof found));
		return;
	}
	wf_check_keys(
	    ld, v, keys, sizeof keys / sizeof keys[0], "resource", r->name);
	rt = load_type(ld, r, wf_map_value(ld, v, "type"));
	wf_load_config(ld, wf_map_value(ld, v, "config"), &r->config);
	if (rt != NULL) {
		check_params(ld, r, rt, wf_map_value(ld, v, "config"));
	}
	outs = wf_map_find(ld, v, "outputs");
	wf_load_outputs(ld, outs != NULL ? wf_node_at(ld, outs->value) : NULL,
	    &r->outputs, &r->noutputs, r->name);
	if (rt != NULL && outs != NULL && !ld->oom) {
		check_output_names(
		    ld, r, rt, wf_pos_of(wf_node_at(ld, outs->key)));
	}
	ld->res_clean[idx] = rt != NULL && ld->d->count == before;
}

void
wf_load_resources(struct wf_loader *ld, yaml_node_t *map)
{
	struct workflow *wf = ld->wf;
	size_t n = wf_npairs(map) + 1;

	wf->resources = calloc(n, sizeof *wf->resources);
	ld->res_clean = calloc(n, sizeof *ld->res_clean);
	if (wf->resources == NULL || ld->res_clean == NULL) {
		wf_oom(ld);
		return;
	}
	for (yaml_node_pair_t *p = map->data.mapping.pairs.start;
	     p < map->data.mapping.pairs.top && !ld->oom; p++) {
		yaml_node_t *k = wf_node_at(ld, p->key);
		if (wf_is_scalar(k)) {
			load_resource(
			    ld, wf->nresources++, k, wf_node_at(ld, p->value));
		}
	}
}

/* Each resource type's own checks, on resources that passed the schema. */
void
wf_run_type_checks(struct wf_loader *ld)
{
	for (size_t i = 0; i < ld->wf->nresources; i++) {
		const struct wf_resource *r = &ld->wf->resources[i];
		const struct res_type *rt;

		if (!ld->res_clean[i]) {
			continue;
		}
		rt = r->rtype;
		if (rt != NULL && rt->check != NULL) {
			rt->check(ld->wf, r, ld->d);
		}
	}
}
